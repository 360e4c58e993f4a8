"""Cash on the Tecalis bill reader, played through the simulator's control API."""

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
from kioskapp.payments.cash import CashPayment

from .base import Expect, SimEnv
from .tecalis_common import sim_state, tecalis_client, timer_armed, until

CRASH_STEPS = ("journalled", "reader_open", "note_stacked", "paid")
INACTIVITY_S = 60.0


def eur(major: int) -> Money:
    return Money(major * 100, "EUR")


class CashDriver:
    name = "cash"
    amount = eur(30)

    def __init__(self, env: SimEnv) -> None:
        self.env = env
        self.store = MemoryTokenStore()
        self.clients: list[TecalisClient] = []
        self.method: PaymentMethod = self._method()

    def _method(self) -> CashPayment:
        client = tecalis_client(self.env, self.store)
        self.clients.append(client)
        return CashPayment(client, clock=self.env.clock, inactivity_timeout_s=INACTIVITY_S)

    async def new_method(self) -> PaymentMethod:
        await self.clients[-1].detach()  # the old process is gone
        return self._method()

    async def _reader(self, **want: object) -> None:
        async def ok() -> bool:
            reader = (await sim_state(self.env.control))["bill_reader"]
            return all(reader.get(k) == v for k, v in want.items())

        await until(ok, f"bill reader {want}")

    async def _insert_stacked(self, major: int, total: int) -> None:
        await self._reader(state="ready", escrow=None)
        await self.env.control.insert_note(major)
        await self._reader(stacked_total=total, escrow=None)

    async def approve(self, attempt: PaymentAttempt) -> None:
        await self._insert_stacked(20, 20)
        await self._insert_stacked(10, 30)

    async def decline(self, attempt: PaymentAttempt) -> Expect:
        # The cash box fills up under the customer's first note: no more cash.
        await self._reader(state="ready")
        await self.env.control.configure_tecalis(cash_box_capacity=1)
        await self.env.control.insert_note(5)
        return Expect(Outcome.FAILED, eur(5))

    async def begin(self, attempt: PaymentAttempt) -> Expect:
        await self._insert_stacked(20, 20)
        return Expect(Outcome.CANCELLED, eur(20))

    async def time_out(self, attempt: PaymentAttempt) -> Expect:
        await self._reader(state="ready")
        await timer_armed(self.env.clock, INACTIVITY_S)
        self.env.clock.advance(INACTIVITY_S)
        return Expect(Outcome.TIMED_OUT, eur(0))

    async def reach(self, step: str, attempt: PaymentAttempt) -> Expect:
        if step == "journalled":
            return Expect(Outcome.NOT_STARTED, eur(0))
        if step == "reader_open":
            await self._reader(state="ready")
            return Expect(Outcome.CANCELLED, eur(0))
        if step == "note_stacked":
            await self._insert_stacked(20, 20)
            return Expect(Outcome.CANCELLED, eur(20))
        if step == "paid":
            await self.approve(attempt)
            return Expect(Outcome.APPROVED, eur(30))
        raise AssertionError(step)

    async def check_compensated(self, result: PaymentResult, compensation: Compensation) -> None:
        # Stacked notes stay in the cash box: the customer is refunded by voucher.
        assert compensation.kind == "voucher"
        assert compensation.reference == result.record.key
        state = await sim_state(self.env.control)
        assert state["cash_box"]["count_total"] == 2


@contextlib.asynccontextmanager
async def make_driver(env: SimEnv) -> AsyncIterator[CashDriver]:
    driver = CashDriver(env)
    try:
        yield driver
    finally:
        for client in driver.clients:
            await client.aclose()
