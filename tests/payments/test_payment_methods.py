"""One suite, every PaymentMethod: cash, tpv, kinetic, komoju, payjunction.

Each scenario runs against the provider's simulator over loopback HTTP,
through the provider's driver (tests/payments/drivers/<name>.py).
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator
from types import ModuleType
from typing import Any

import pytest

from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money
from kioskapp.devices.callbacks import CallbackReceiver
from kioskapp.payments.base import (
    Outcome,
    PaymentAttempt,
    PaymentRecord,
    PaymentResult,
    PaymentStatus,
)
from kioskapp.simulator.control import SimControl

from .drivers.base import Driver, Expect, SimEnv

PROVIDERS = ("cash", "tpv", "kinetic", "komoju", "payjunction")


def driver_module(name: str) -> ModuleType:
    return importlib.import_module(f"tests.payments.drivers.{name}")


def available(name: str) -> bool:
    try:
        driver_module(name)
    except ModuleNotFoundError:
        return False
    return True


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "provider" in metafunc.fixturenames and "step" in metafunc.fixturenames:
        cases = [
            pytest.param(name, step, id=f"{name}-{step}")
            for name in PROVIDERS
            if available(name)
            for step in driver_module(name).CRASH_STEPS
        ]
        metafunc.parametrize(("provider", "step"), cases)
    elif "provider" in metafunc.fixturenames:
        metafunc.parametrize("provider", [p for p in PROVIDERS if available(p)])


@pytest.fixture
async def env(sim: Any, sim_control: SimControl, clock: ControlledClock) -> AsyncIterator[SimEnv]:
    async with CallbackReceiver(port=0) as receiver:
        yield SimEnv(sim=sim, control=sim_control, clock=clock, receiver=receiver)


@pytest.fixture
async def driver(provider: str, env: SimEnv) -> AsyncIterator[Driver]:
    async with driver_module(provider).make_driver(env) as drv:
        yield drv


class Journal:
    """Stands in for the durable journal: keeps every record it is given, in order.

    ``crash_after_first``: the first save is recorded, then never returns, as
    if the process died right after the journal write and before any send.
    """

    def __init__(self, *, crash_after_first: bool = False) -> None:
        self.records: list[PaymentRecord] = []
        self.crash_after_first = crash_after_first
        self.crashed = asyncio.Event()
        self.saved = asyncio.Event()

    async def __call__(self, record: PaymentRecord) -> None:
        self.records.append(record)
        self.saved.set()
        if self.crash_after_first:
            self.crashed.set()
            await asyncio.Event().wait()

    @property
    def last(self) -> PaymentRecord:
        return self.records[-1]


async def start(driver: Driver, journal: Journal | None = None) -> PaymentAttempt:
    journal = journal or Journal()
    attempt = await driver.method.start(driver.amount, "sale-0001", journal=journal)
    if not journal.crash_after_first:
        await asyncio.wait_for(journal.saved.wait(), 10)
    return attempt


async def final(attempt: PaymentAttempt) -> tuple[PaymentResult, list[PaymentStatus]]:
    """The result and every status, collected until the stream ends."""
    statuses: list[PaymentStatus] = []

    async def collect() -> None:
        async for status in attempt.statuses():
            statuses.append(status)

    await asyncio.wait_for(collect(), 10)
    return await asyncio.wait_for(attempt.result(), 10), statuses


def check(result: PaymentResult, expect: Expect) -> None:
    assert (result.outcome, result.amount_taken) == (expect.outcome, expect.taken), result


async def test_approve(driver: Driver) -> None:
    journal = Journal()
    attempt = await start(driver, journal)
    assert journal.records[0].key == attempt.record.key
    assert journal.records[0].reference is None
    await driver.approve(attempt)
    result, statuses = await final(attempt)
    check(result, Expect(Outcome.APPROVED, driver.amount))
    assert statuses, "no live status was shown"
    if result.card_last4 is not None:
        assert len(result.card_last4) == 4
        assert result.card_last4.isdigit()


async def test_decline(driver: Driver) -> None:
    attempt = await start(driver)
    expect = await driver.decline(attempt)
    result, _ = await final(attempt)
    check(result, expect)


async def test_cancel_before_the_customer_acts(driver: Driver) -> None:
    attempt = await start(driver)
    await attempt.cancel()
    result, _ = await final(attempt)
    check(result, Expect(Outcome.CANCELLED, Money.zero(driver.amount.currency)))


async def test_cancel_during(driver: Driver) -> None:
    attempt = await start(driver)
    expect = await driver.begin(attempt)
    await attempt.cancel()
    result, _ = await final(attempt)
    check(result, expect)


async def test_timeout(driver: Driver) -> None:
    attempt = await start(driver)
    expect = await driver.time_out(attempt)
    result, _ = await final(attempt)
    check(result, expect)


async def test_compensate_after_approval(driver: Driver) -> None:
    attempt = await start(driver)
    await driver.approve(attempt)
    result, _ = await final(attempt)
    assert result.outcome is Outcome.APPROVED
    compensation = await driver.method.compensate(result)
    assert compensation.done, compensation
    assert compensation.amount == result.amount_taken
    await driver.check_compensated(result, compensation)


async def test_compensating_nothing_is_not_needed(driver: Driver) -> None:
    attempt = await start(driver)
    await attempt.cancel()
    result, _ = await final(attempt)
    compensation = await driver.method.compensate(result)
    assert compensation.kind == "not_needed"


async def test_recover_after_a_crash(driver: Driver, step: str) -> None:
    journal = Journal(crash_after_first=step == "journalled")
    attempt = await start(driver, journal)
    if journal.crash_after_first:
        await asyncio.wait_for(journal.crashed.wait(), 10)
    expect = await driver.reach(step, attempt)
    # The app dies right here: the task is gone, nothing is cleaned up.
    await attempt.abandon()  # type: ignore[attr-defined]
    restarted = await driver.new_method()
    try:
        result = await asyncio.wait_for(restarted.recover(journal.last), 10)
    finally:
        await restarted.aclose()
    check(result, expect)


async def test_a_journal_that_cannot_write_stops_the_payment_before_anything_is_sent(
    driver: Driver,
) -> None:
    async def broken(record: PaymentRecord) -> None:
        raise OSError("disk full")

    attempt = await driver.method.start(driver.amount, "sale-0001", journal=broken)
    result, _ = await final(attempt)
    check(result, Expect(Outcome.FAILED, Money.zero(driver.amount.currency)))
    assert result.detail is not None
    assert "nothing was sent" in result.detail
