"""The kiosk's own PIN pad (Tecalis TPV), played through the simulator's control API."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from kioskapp.core.money import Money
from kioskapp.devices.tecalis import MemoryTokenStore, TecalisClient
from kioskapp.payments.base import (
    Compensation,
    Outcome,
    PaymentAttempt,
    PaymentMethod,
    PaymentResult,
)
from kioskapp.payments.tpv import PREPARED, TpvPayment

from .base import Expect, SimEnv
from .tecalis_common import sim_state, tecalis_client, until

CRASH_STEPS = ("journalled", "waiting_card", "approved_unseen", "declined_unseen")


def eur(major: int) -> Money:
    return Money(major * 100, "EUR")


class TpvDriver:
    name = "tpv"
    amount = eur(10)

    def __init__(self, env: SimEnv) -> None:
        self.env = env
        self.store = MemoryTokenStore()
        self.clients: list[TecalisClient] = []
        self.method: PaymentMethod = self._method()

    def _method(self) -> TpvPayment:
        client = tecalis_client(self.env, self.store)
        self.clients.append(client)
        return TpvPayment(client, clock=self.env.clock)

    async def new_method(self) -> PaymentMethod:
        await self.clients[-1].detach()
        return self._method()

    async def _tpv(self, state: str) -> None:
        async def ok() -> bool:
            return (await sim_state(self.env.control))["tpv"]["state"] == state

        await until(ok, f"the PIN pad is {state}")

    async def approve(self, attempt: PaymentAttempt) -> None:
        await self._tpv("waiting_card")
        await self.env.control.tpv_present(brand="visa", last4="0010")
        await self.env.control.tpv_pin()
        await self.env.control.tpv_approve()

    async def decline(self, attempt: PaymentAttempt) -> Expect:
        await self._tpv("waiting_card")
        await self.env.control.tpv_decline()
        return Expect(Outcome.DECLINED, eur(0))

    async def begin(self, attempt: PaymentAttempt) -> Expect:
        await self._tpv("waiting_card")
        await self.env.control.tpv_present()
        await self._tpv("pin")
        return Expect(Outcome.CANCELLED, eur(0))

    async def time_out(self, attempt: PaymentAttempt) -> Expect:
        await self._tpv("waiting_card")
        self.env.clock.advance(120)
        return Expect(Outcome.TIMED_OUT, eur(0))

    async def reach(self, step: str, attempt: PaymentAttempt) -> Expect:
        if step == "journalled":
            return Expect(Outcome.NOT_STARTED, eur(0))
        await self._tpv("waiting_card")

        async def confirmed() -> bool:
            return attempt.record.reference == PREPARED

        await until(confirmed, "the prepare is journalled as confirmed")
        if step == "waiting_card":
            return Expect(Outcome.CANCELLED, eur(0))
        # The result happens while the app does not hear of it (callbacks lost).
        await self.env.control.set_callback_mode("drop")
        if step == "approved_unseen":
            await self.approve(attempt)
            return Expect(Outcome.APPROVED, eur(10))
        if step == "declined_unseen":
            await self.env.control.tpv_decline()
            return Expect(Outcome.DECLINED, eur(0))
        raise AssertionError(step)

    async def check_compensated(self, result: PaymentResult, compensation: Compensation) -> None:
        # The PIN pad has no refund: staff refund the card from the voucher's details.
        assert compensation.kind == "voucher"
        assert result.auth_code is not None
        assert compensation.detail is not None
        assert result.auth_code in compensation.detail
        assert (await sim_state(self.env.control))["tpv"]["state"] == "approved"


@contextlib.asynccontextmanager
async def make_driver(env: SimEnv) -> AsyncIterator[TpvDriver]:
    driver = TpvDriver(env)
    try:
        yield driver
    finally:
        for client in driver.clients:
            await client.aclose()
