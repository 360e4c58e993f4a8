"""The PayJunction Smart Terminal driver for the shared PaymentMethod suite.

Webhooks travel simulator → the suite's callback receiver → the newest
client, as on a kiosk after a restart. The driver sees when the payment
waits (its clock is watched), and ``request-payment`` waits in the HTTP
transport until the driver has been told what the customer does (or the
attempt is cancelled), so that a crash while that request is on its way can
be staged: every crash step is reached without racing the payment task.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx

from kioskapp.core.clock import ControlledClock, TimerHandle
from kioskapp.core.money import Money
from kioskapp.devices.callbacks import InboundCallback
from kioskapp.devices.http import RetryPolicy
from kioskapp.devices.payjunction import WEBHOOK_PATH, PayJunctionClient
from kioskapp.payments.base import (
    Compensation,
    JournalHook,
    Outcome,
    PaymentAttempt,
    PaymentMethod,
    PaymentResult,
    TaskAttempt,
    no_journal,
)
from kioskapp.payments.payjunction import PayJunctionPayment

from .base import Expect, SimEnv

CRASH_STEPS: tuple[str, ...] = (
    "journalled",  # journalled at start, nothing sent
    "sending",  # request-payment is on its way, its id not journalled (the known window)
    "waiting",  # the terminal shows the amount, the request id is journalled
    "card_read",  # the customer's card is read, not yet authorised
    "approved_unseen",  # approved, but the webhooks were lost and no poll ran yet
    "declined",  # declined, and the app never heard of it
)

USD10 = Money(1000, "USD")
ZERO = Money(0, "USD")
TIMEOUT_S = 180.0
WEBHOOK_SECRET = "pj-sim-webhook"  # the simulator's and the config's default


class WatchedClock:
    """The shared ControlledClock as the payment sees it; tells when the payment waits."""

    def __init__(self, inner: ControlledClock) -> None:
        self.inner = inner
        self.active = 0
        self._changed = asyncio.Event()

    def time(self) -> float:
        return self.inner.time()

    def monotonic(self) -> float:
        return self.inner.monotonic()

    def call_later(self, seconds: float, callback: Callable[[], object]) -> TimerHandle:
        return self.inner.call_later(seconds, callback)

    async def sleep(self, seconds: float) -> None:
        self.active += 1
        self._changed.set()
        try:
            await self.inner.sleep(seconds)
        finally:
            self.active -= 1

    async def waiting(self, timeout: float = 5.0) -> None:
        """Return once the payment waits on the clock (between polls, for a webhook)."""

        async def wait() -> None:
            while self.active == 0:
                self._changed.clear()
                await self._changed.wait()

        await asyncio.wait_for(wait(), timeout)


class GatedTransport(httpx.AsyncBaseTransport):
    """Real HTTP, except that ``request-payment`` first passes ``gate``."""

    def __init__(self, gate: Callable[[], Awaitable[None]]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.gate = gate

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/request-payment"):
            await self.gate()
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class PayJunctionDriver:
    name = "payjunction"
    amount = USD10

    def __init__(self, env: SimEnv) -> None:
        self.env = env
        self.clock = WatchedClock(env.clock)
        self.transport = GatedTransport(self._gate)
        self._decided = asyncio.Event()
        self._hold_sending = False
        self.sending = asyncio.Event()  # request-payment is held on its way
        self.attempts: list[PaymentAttempt] = []
        self._https: list[httpx.AsyncClient] = []
        self._clients: list[PayJunctionClient] = []
        self._current: PayJunctionClient | None = None
        self.method: PaymentMethod = self._make_method(self.transport)

    # -- plumbing ---------------------------------------------------------------
    def _make_method(self, transport: httpx.AsyncBaseTransport | None = None) -> PayJunctionPayment:
        http = httpx.AsyncClient(transport=transport or httpx.AsyncHTTPTransport(), timeout=5.0)
        self._https.append(http)
        client = PayJunctionClient(
            self.env.sim.url_for("payjunction"),
            login="pj-sim",
            password="pj-sim-password",
            application_key="pj-sim-app-key",
            smart_terminal_id="sim-smart-terminal-1",
            terminal_id=1,
            webhook_secret=WEBHOOK_SECRET,
            http=http,
            clock=self.clock,
            retry=RetryPolicy(attempts=2, base_delay_s=0.0, max_delay_s=0.0),
        )
        self._clients.append(client)
        self._current = client
        return WatchedPayment(self, client)

    async def _gate(self) -> None:
        """Let request-payment go once the driver knows the step, or the attempt is cancelled."""
        waits = [asyncio.ensure_future(self._decided.wait())]
        for attempt in self.attempts[-1:]:
            if isinstance(attempt, TaskAttempt):
                waits.append(asyncio.ensure_future(attempt.cancel_requested.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
            await asyncio.gather(*waits, return_exceptions=True)
        if self._hold_sending:
            self.sending.set()
            await asyncio.Event().wait()  # the app dies before the answer comes

    def _decide(self, *, hold_sending: bool = False) -> None:
        self._hold_sending = hold_sending
        self._decided.set()

    async def webhook(self, inbound: InboundCallback) -> str:
        """The receiver's route: webhooks go to the newest client, as after a restart."""
        assert self._current is not None
        return await self._current.handle_webhook(inbound)

    async def setup(self) -> None:
        self.env.receiver.add_route(WEBHOOK_PATH, self.webhook, parse_json=False)
        await self.ctl("POST", "/webhook", {"url": self.env.receiver.url_for(WEBHOOK_PATH)})

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()
        for http in self._https:
            await http.aclose()

    async def ctl(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        return await self.env.control.call(method, f"/payjunction{path}", body)

    async def new_method(self) -> PaymentMethod:
        return self._make_method()

    async def _shown(self) -> None:
        """The request runs on the terminal, its id journalled, the payment waiting."""
        await self.clock.waiting()

    # -- the customer -----------------------------------------------------------
    async def approve(self, attempt: PaymentAttempt) -> None:
        self._decide()
        await self._shown()
        await self.ctl("POST", "/terminal/present", {"brand": "VISA", "last4": "4242"})

    async def decline(self, attempt: PaymentAttempt) -> Expect:
        self._decide()
        await self._shown()
        await self.ctl("POST", "/terminal/present", {"outcome": "decline"})
        return Expect(Outcome.DECLINED, ZERO)

    async def begin(self, attempt: PaymentAttempt) -> Expect:
        # The card is read: too late to cancel, the terminal processes it anyway.
        self._decide()
        await self._shown()
        await self.ctl("POST", "/terminal/present", {"authorise": False})
        return Expect(Outcome.APPROVED, USD10)

    async def time_out(self, attempt: PaymentAttempt) -> Expect:
        self._decide()
        await self._shown()
        await self.env.control.advance(TIMEOUT_S + 1)
        return Expect(Outcome.TIMED_OUT, ZERO)

    async def reach(self, step: str, attempt: PaymentAttempt) -> Expect:
        self._decide(hold_sending=step == "sending")
        if step == "journalled":
            # No await before the crash: the payment task never got to run.
            assert attempt.record.reference is None
            return Expect(Outcome.NOT_STARTED, ZERO)
        if step == "sending":
            await asyncio.wait_for(self.sending.wait(), 5)
            return Expect(Outcome.UNKNOWN, ZERO)
        if step in ("approved_unseen", "declined"):
            await self.env.control.set_callback_mode("drop")
        await self._shown()
        if step == "waiting":
            return Expect(Outcome.CANCELLED, ZERO)
        if step == "card_read":
            await self.ctl("POST", "/terminal/present", {"authorise": False})
            return Expect(Outcome.APPROVED, USD10)
        if step == "approved_unseen":
            await self.ctl("POST", "/terminal/present")
            await self.env.control.set_callback_mode("normal")
            return Expect(Outcome.APPROVED, USD10)
        if step == "declined":
            await self.ctl("POST", "/terminal/present", {"outcome": "decline"})
            await self.env.control.set_callback_mode("normal")
            return Expect(Outcome.DECLINED, ZERO)
        raise AssertionError(f"unknown crash step {step!r}")

    async def check_compensated(self, result: PaymentResult, compensation: Compensation) -> None:
        assert compensation.kind == "voided"
        state = await self.ctl("GET", "/state")
        voided = [
            t for t in state["transactions"] if str(t["transactionId"]) == compensation.reference
        ]
        assert len(voided) == 1, state["transactions"]
        assert voided[0]["status"] == "VOID"
        assert voided[0]["amountTotal"] == "10.00"
        requests = [r for r in state["requests"] if r["requestId"] == result.record.reference]
        assert requests, "the voided transaction is not this payment's"
        assert str(requests[0]["transactionId"]) == compensation.reference


class WatchedPayment(PayJunctionPayment):
    """PayJunctionPayment as the app uses it; the driver sees each attempt it starts."""

    def __init__(self, driver: PayJunctionDriver, client: PayJunctionClient) -> None:
        super().__init__(client, clock=driver.clock, timeout_s=TIMEOUT_S)
        self.driver = driver

    async def start(
        self,
        amount: Money,
        sale_id: str,
        *,
        attempt: int = 1,
        journal: JournalHook = no_journal,
    ) -> PaymentAttempt:
        started = await super().start(amount, sale_id, attempt=attempt, journal=journal)
        self.driver.attempts.append(started)
        return started


@contextlib.asynccontextmanager
async def make_driver(env: SimEnv) -> AsyncIterator[PayJunctionDriver]:
    driver = PayJunctionDriver(env)
    try:
        await driver.setup()
        yield driver
    finally:
        await driver.aclose()
