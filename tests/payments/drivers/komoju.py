"""The KOMOJU Cloud Terminal driver for the shared PaymentMethod suite.

The simulated terminal holds every push until the driver lets it through
(control ``terminal`` ``hold_pushes``), so the suite can stop the app at any
step without racing the payment task: after the session is created and its id
journalled, while it waits on the terminal, with a card being read, and after
an approval or a decline whose webhook never arrived.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from kioskapp.core.money import Money
from kioskapp.devices.callbacks import InboundCallback
from kioskapp.devices.http import RetryPolicy
from kioskapp.devices.komoju import WEBHOOK_PATH, KomojuClient
from kioskapp.payments.base import (
    Compensation,
    Outcome,
    PaymentAttempt,
    PaymentMethod,
    PaymentResult,
)
from kioskapp.payments.komoju import KomojuPayment

from .base import Expect, SimEnv

CRASH_STEPS: tuple[str, ...] = (
    "journalled",  # the record is journalled, nothing was sent
    "created",  # the session exists and is journalled, the push has not reached the terminal
    "pushed",  # the terminal shows it, waiting for the customer
    "card_presented",  # the customer's card is being read
    "approved_unseen",  # paid, but the webhook was lost and no poll ran yet
    "declined",  # declined, and the app never heard of it
)

SECRET_KEY = "sk_test_sim"  # the simulator's and the config's default
WEBHOOK_SECRET = "whsec_sim"
TERMINAL_ID = "sim-terminal-1"
TIMEOUT_S = 180.0
POLL_INTERVAL_S = 2.0


class KomojuDriver:
    name = "komoju"
    amount = Money(1000, "JPY")

    def __init__(self, env: SimEnv) -> None:
        self.env = env
        self._clients: list[KomojuClient] = []
        self._current: KomojuClient | None = None
        self.method: PaymentMethod = self._make_method()

    # -- plumbing ---------------------------------------------------------------
    def _make_method(self) -> KomojuPayment:
        client = KomojuClient(
            self.env.sim.url_for("komoju"),
            secret_key=SECRET_KEY,
            terminal_id=TERMINAL_ID,
            webhook_secret=WEBHOOK_SECRET,
            clock=self.env.clock,
            poll_interval_s=POLL_INTERVAL_S,
            retry=RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0),
        )
        self._clients.append(client)
        self._current = client
        return KomojuPayment(client, clock=self.env.clock, timeout_s=TIMEOUT_S, owns_client=True)

    async def webhook(self, inbound: InboundCallback) -> str:
        """The receiver's route: webhooks go to the newest client, as after a restart."""
        assert self._current is not None
        return await self._current.handle_webhook(inbound)

    async def setup(self) -> None:
        self.env.receiver.add_route(WEBHOOK_PATH, self.webhook, parse_json=False)
        await self.ctl("POST", "/webhook", {"url": self.env.receiver.url_for(WEBHOOK_PATH)})
        await self.ctl("POST", "/terminal", {"hold_pushes": True})

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def ctl(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.env.control.call(method, f"/komoju{path}", body)

    async def let_push_through(self) -> None:
        """Wait for the attempt's push, let the terminal take it, wait until it shows."""
        await self.ctl("POST", "/wait", {"push_held": True})
        await self.ctl("POST", "/terminal/release")
        await self.ctl("POST", "/wait", {"phase": "waiting"})

    async def new_method(self) -> PaymentMethod:
        return self._make_method()

    # -- the customer -----------------------------------------------------------
    async def approve(self, attempt: PaymentAttempt) -> None:
        await self.let_push_through()
        await self.ctl("POST", "/terminal/approve", {"brand": "visa", "last4": "4242"})

    async def decline(self, attempt: PaymentAttempt) -> Expect:
        await self.let_push_through()
        await self.ctl("POST", "/terminal/decline")
        return Expect(Outcome.DECLINED, Money.zero("JPY"))

    async def begin(self, attempt: PaymentAttempt) -> Expect:
        await self.let_push_through()
        await self.ctl("POST", "/terminal/present")
        return Expect(Outcome.CANCELLED, Money.zero("JPY"))

    async def time_out(self, attempt: PaymentAttempt) -> Expect:
        await self.let_push_through()
        await self.env.control.advance(TIMEOUT_S)
        return Expect(Outcome.TIMED_OUT, Money.zero("JPY"))

    async def reach(self, step: str, attempt: PaymentAttempt) -> Expect:
        zero = Money.zero("JPY")
        if step == "journalled":
            # Played by the suite: the journal never returns from the first save.
            return Expect(Outcome.NOT_STARTED, zero)
        if step == "created":
            await self.ctl("POST", "/wait", {"push_held": True})
            return Expect(Outcome.CANCELLED, zero)
        if step in ("approved_unseen", "declined"):
            await self.env.control.set_callback_mode("drop")
        await self.let_push_through()
        if step == "pushed":
            return Expect(Outcome.CANCELLED, zero)
        if step == "card_presented":
            await self.ctl("POST", "/terminal/present")
            return Expect(Outcome.CANCELLED, zero)
        if step == "approved_unseen":
            await self.ctl("POST", "/terminal/approve")
            return Expect(Outcome.APPROVED, self.amount)
        if step == "declined":
            await self.ctl("POST", "/terminal/decline")
            return Expect(Outcome.DECLINED, zero)
        raise AssertionError(f"unknown crash step {step!r}")

    async def check_compensated(self, result: PaymentResult, compensation: Compensation) -> None:
        state = await self.ctl("GET", "/state")
        payments = [p for p in state["payments"] if p["session"] == result.record.reference]
        assert len(payments) == 1, payments
        payment = payments[0]
        assert payment["status"] == "refunded", payment
        assert payment["amount_refunded"] == result.amount_taken.minor
        assert [r["amount"] for r in payment["refunds"]] == [1000]
        assert compensation.kind == "refunded"


@contextlib.asynccontextmanager
async def make_driver(env: SimEnv) -> AsyncIterator[KomojuDriver]:
    driver = KomojuDriver(env)
    try:
        await driver.setup()
        yield driver
    finally:
        await driver.aclose()
