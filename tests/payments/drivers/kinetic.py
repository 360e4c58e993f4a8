"""The Kinetic Go 2 terminal, with the customer at it, played through the simulator.

Two things differ from the other providers, both because of the terminal:

* It has no callbacks: the payment polls every ``poll_interval_s`` of clock
  time. The payment gets a :class:`PacedClock` over the suite's
  ControlledClock, so the driver knows when the payment is waiting between
  polls, acts on the terminal only then, and wakes it (or, once the
  terminal's outcome is settled, lets its waits pass at once).
* It has no remote cancel (Kinetic Connect v2 documents none). When the kiosk
  asks to cancel, its screen tells the customer to press Cancel on the
  terminal; the driver plays that customer (:meth:`KineticDriver.press_cancel`),
  so the cancel scenarios end CANCELLED by the terminal's own keypad, as on a
  real kiosk. Without the customer, the payment would run to the terminal's
  150 s timeout (TIMED_OUT; see test_timeout).

After a crash the terminal may still run the sale; ``recover`` waits for it.
The driver then plays what happens at the terminal meanwhile (the customer
walks away, or completes the payment).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any

from kioskapp.core.clock import ControlledClock, TimerHandle
from kioskapp.core.money import Money
from kioskapp.devices.http import RetryPolicy
from kioskapp.devices.kinetic import KineticClient
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
from kioskapp.payments.kinetic import KineticPayment
from kioskapp.simulator.control import SimControlError

from .base import Expect, SimEnv

CRASH_STEPS = (
    "journalled",
    "waiting_for_card",
    "card_presented",
    "approved_unseen",
    "declined_unseen",
)

EUR10 = Money(1000, "EUR")
ZERO = Money(0, "EUR")
TERMINAL_TIMEOUT_S = 150.0
RETRY = RetryPolicy(attempts=2, base_delay_s=0.0, max_delay_s=0.0)


class PacedClock:
    """The shared ControlledClock as one payment sees it, observable by the driver.

    ``waiting()`` returns once the payment waits between polls (a wait that
    started after ``after``); ``wake()`` moves time to the end of the current
    waits; after ``run_free()`` every wait passes at once (time advances by it).
    """

    def __init__(self, inner: ControlledClock) -> None:
        self.inner = inner
        self.free = False
        self.last_wait_s: float | None = None
        self._seq = 0
        self._waits: dict[int, float] = {}
        self._changed = asyncio.Event()

    def time(self) -> float:
        return self.inner.time()

    def monotonic(self) -> float:
        return self.inner.monotonic()

    def call_later(self, seconds: float, callback: Callable[[], object]) -> TimerHandle:
        return self.inner.call_later(seconds, callback)

    async def sleep(self, seconds: float) -> None:
        self.last_wait_s = seconds
        if self.free or seconds <= 0:
            if seconds > 0:
                self.inner.advance(seconds)
            await self.inner.sleep(0)
            return
        self._seq += 1
        seq = self._seq
        self._waits[seq] = self.inner.monotonic() + seconds
        self._changed.set()
        try:
            await self.inner.sleep(seconds)
        finally:
            self._waits.pop(seq, None)

    async def waiting(self, after: int = 0, timeout: float = 5.0) -> int:
        """Wait until the payment waits (a wait numbered above ``after``); its number."""

        async def wait() -> int:
            while True:
                fresh = [seq for seq in self._waits if seq > after]
                if fresh:
                    return max(fresh)
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(wait(), timeout)

    def remaining(self, seq: int) -> float:
        """Clock time left in wait ``seq``."""
        return self._waits[seq] - self.inner.monotonic()

    def wake(self) -> None:
        """End every current wait (time moves to the latest of their ends)."""
        if self._waits:
            self.inner.advance(max(0.0, max(self._waits.values()) - self.inner.monotonic()))

    def run_free(self) -> None:
        """The terminal's outcome is settled: let every wait pass at once from now on."""
        self.free = True
        self.wake()


class CustomerAtTerminal(KineticPayment):
    """KineticPayment as the app uses it; the driver watches each attempt for a cancel."""

    def __init__(self, client: KineticClient, clock: PacedClock, driver: KineticDriver) -> None:
        super().__init__(client, clock=clock)
        self.paced = clock
        self.driver = driver

    async def start(
        self,
        amount: Money,
        sale_id: str,
        *,
        attempt: int = 1,
        journal: JournalHook = no_journal,
    ) -> PaymentAttempt:
        att = await super().start(amount, sale_id, attempt=attempt, journal=journal)
        assert isinstance(att, TaskAttempt)
        self.driver.spawn(self.driver.press_cancel(att, self.paced))
        return att


class KineticDriver:
    name = "kinetic"
    amount = EUR10

    def __init__(self, env: SimEnv) -> None:
        self.env = env
        self.clients: list[KineticClient] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.after_restart: Callable[[], Awaitable[None]] | None = None
        self.clock = PacedClock(env.clock)
        self.method: PaymentMethod = self._method(self.clock)

    def _method(self, clock: PacedClock) -> CustomerAtTerminal:
        client = KineticClient(
            self.env.sim.url_for("kinetic"),
            username="kinetic",
            password="kinetic-secret",
            currency="EUR",
            clock=clock,
            retry=RETRY,
            poll_interval_s=0.5,
        )
        self.clients.append(client)
        return CustomerAtTerminal(client, clock, self)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(coro))

    async def new_method(self) -> PaymentMethod:
        clock = PacedClock(self.env.clock)
        method = self._method(clock)
        if self.after_restart is not None:
            self.spawn(self._meanwhile(clock, self.after_restart))
        return method

    async def _meanwhile(
        self, clock: PacedClock, at_terminal: Callable[[], Awaitable[None]]
    ) -> None:
        """While the restarted app waits for the terminal, this happens at the terminal."""
        await clock.waiting()
        await at_terminal()
        clock.run_free()

    async def terminal(self, action: str, body: dict[str, Any] | None = None) -> None:
        await self.env.control.call("POST", f"/kinetic/{action}", body)

    async def press_cancel(self, att: TaskAttempt, clock: PacedClock) -> None:
        """The kiosk asked to cancel: the customer presses Cancel on the terminal."""
        await att.cancel_requested.wait()
        done = asyncio.ensure_future(att.result())
        sale_running = asyncio.ensure_future(clock.waiting(timeout=30))
        try:
            await asyncio.wait({done, sale_running}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (done, sale_running):
                fut.cancel()
            await asyncio.gather(done, sale_running, return_exceptions=True)
        if done.done() and not done.cancelled():
            return  # stopped before the terminal was asked
        with contextlib.suppress(SimControlError):  # already over: the terminal decided
            await self.terminal("cancel")
        clock.run_free()

    # -- scenarios ----------------------------------------------------------------
    async def approve(self, attempt: PaymentAttempt) -> None:
        await self.clock.waiting()
        await self.terminal("present", {"brand": "visa", "last4": "0010"})
        await self.terminal("approve")
        self.clock.run_free()

    async def decline(self, attempt: PaymentAttempt) -> Expect:
        await self.clock.waiting()
        await self.terminal("present", {"brand": "mastercard", "last4": "4444"})
        await self.terminal("decline")
        self.clock.run_free()
        return Expect(Outcome.DECLINED, ZERO)

    async def _card_presented(self) -> None:
        seq = await self.clock.waiting()
        await self.terminal("present", {"brand": "visa", "last4": "0010", "pin": True})
        self.clock.wake()
        await self.clock.waiting(after=seq)  # the payment saw the card and polls on

    async def begin(self, attempt: PaymentAttempt) -> Expect:
        await self._card_presented()
        return Expect(Outcome.CANCELLED, ZERO)

    async def time_out(self, attempt: PaymentAttempt) -> Expect:
        await self.clock.waiting()
        self.env.clock.advance(TERMINAL_TIMEOUT_S)
        self.clock.run_free()
        return Expect(Outcome.TIMED_OUT, ZERO)

    async def reach(self, step: str, attempt: PaymentAttempt) -> Expect:
        if step == "journalled":
            return Expect(Outcome.NOT_STARTED, ZERO)
        await self.clock.waiting()  # the sale runs on the terminal
        if step == "waiting_for_card":

            async def walks_away() -> None:
                self.env.clock.advance(TERMINAL_TIMEOUT_S)

            self.after_restart = walks_away
            return Expect(Outcome.TIMED_OUT, ZERO)
        if step == "card_presented":
            await self._card_presented()

            async def pays() -> None:
                await self.terminal("process")  # PIN entered
                await self.terminal("approve")

            self.after_restart = pays
            return Expect(Outcome.APPROVED, EUR10)
        await self.terminal("present", {"brand": "visa", "last4": "0010"})
        if step == "approved_unseen":
            await self.terminal("approve")
            return Expect(Outcome.APPROVED, EUR10)
        if step == "declined_unseen":
            await self.terminal("decline")
            return Expect(Outcome.DECLINED, ZERO)
        raise AssertionError(step)

    async def check_compensated(self, result: PaymentResult, compensation: Compensation) -> None:
        assert compensation.kind == "reversed"
        state = await self.env.control.call("GET", "/kinetic/state")
        txns = {t["id"]: t for t in state["transactions"]}
        original = txns[result.record.key]
        assert original["is_reversed"] is True
        reversal = txns[compensation.reference or ""]
        assert reversal["type"] == "reversal"
        assert reversal["reference_txn_id"] == result.record.key
        assert reversal["result"] == "approved"
        assert reversal["amount"] == result.amount_taken.minor


@contextlib.asynccontextmanager
async def make_driver(env: SimEnv) -> AsyncIterator[KineticDriver]:
    driver = KineticDriver(env)
    try:
        yield driver
    finally:
        for task in driver.tasks:
            task.cancel()
        await asyncio.gather(*driver.tasks, return_exceptions=True)
        for client in driver.clients:
            await client.aclose()
