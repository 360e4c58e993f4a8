"""A Kinetic sale whose answer was lost is followed, not written off."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money
from kioskapp.devices.http import RetryPolicy
from kioskapp.devices.kinetic import KineticClient
from kioskapp.payments.base import Outcome
from kioskapp.payments.kinetic import KineticPayment
from kioskapp.simulator.control import SimControl


def payment(sim: Any, clock: ControlledClock, timeout_s: float = 5.0) -> KineticPayment:
    client = KineticClient(
        sim.url_for("kinetic"), username="kinetic", password="kinetic-secret",
        clock=clock, retry=RetryPolicy(attempts=1), timeout_s=timeout_s, poll_interval_s=0.5,
    )  # fmt: skip
    return KineticPayment(client, clock=clock, own_client=True)


async def advance_until_done(clock: ControlledClock, task: asyncio.Future[Any]) -> None:
    """Let the payment's own waits pass, one poll interval at a time, each step acted on."""
    for _ in range(1000):
        if task.done():
            return
        clock.advance(0.5)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), 0.005)
    raise AssertionError("the payment never ended")


async def terminal_has_a_sale(control: SimControl) -> None:
    for _ in range(500):
        state = await control.call("GET", "/kinetic/state")
        if state.get("transactions"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the slow terminal never created the sale")


async def test_a_slow_terminal_that_took_the_sale_late_is_followed(
    sim: Any, clock: ControlledClock, sim_control: SimControl
) -> None:
    method = payment(sim, clock, timeout_s=0.2)
    try:
        # The terminal is slow: our POST times out, then it creates the sale anyway.
        await sim_control.set_fault("kinetic", "/transactions/sale.json", "delay",
                                    seconds=0.5, count=1)  # fmt: skip
        await sim_control.call("POST", "/kinetic/auto", {"outcome": "approve"})
        attempt = await method.start(Money(1000, "EUR"), "sale-1")
        result = asyncio.ensure_future(attempt.result())
        await terminal_has_a_sale(sim_control)  # after our POST gave up
        await advance_until_done(clock, result)
        assert result.result().outcome is Outcome.APPROVED
        assert result.result().amount_taken == Money(1000, "EUR")
    finally:
        await method.aclose()


async def test_a_sale_the_terminal_never_took_fails_only_after_its_own_timeout(
    sim: Any, clock: ControlledClock, sim_control: SimControl
) -> None:
    method = payment(sim, clock)
    try:
        await sim_control.set_fault("kinetic", "/transactions/sale.json", "html_502", count=1)
        started = clock.monotonic()
        attempt = await method.start(Money(1000, "EUR"), "sale-2")
        result = asyncio.ensure_future(attempt.result())
        await advance_until_done(clock, result)
        assert result.result().outcome is Outcome.FAILED
        assert result.result().amount_taken == Money(0, "EUR")
        assert clock.monotonic() - started >= 150  # the terminal's own sale timeout
    finally:
        await method.aclose()
