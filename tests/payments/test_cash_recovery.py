"""Cash recovery never counts another payment's notes, and never misses an accepted one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money
from kioskapp.devices.callbacks import CallbackReceiver
from kioskapp.devices.tecalis import MemoryTokenStore
from kioskapp.payments.base import Outcome, PaymentRecord
from kioskapp.payments.cash import READER_OPEN, READER_OPENING, CashPayment
from kioskapp.simulator.control import SimControl

from .drivers.base import SimEnv
from .drivers.tecalis_common import sim_state, tecalis_client, until


def eur(major: int) -> Money:
    return Money(major * 100, "EUR")


@pytest.fixture
async def env(sim: Any, sim_control: SimControl, clock: ControlledClock) -> AsyncIterator[SimEnv]:
    async with CallbackReceiver(port=0) as receiver:
        yield SimEnv(sim=sim, control=sim_control, clock=clock, receiver=receiver)


async def paid_sale(env: SimEnv, store: MemoryTokenStore) -> CashPayment:
    """Sale A pays 30 in cash; its reader is closed and keeps its total of 30."""
    method = CashPayment(tecalis_client(env, store), clock=env.clock)
    attempt = await method.start(eur(30), "sale-A")

    async def ready() -> bool:
        reader = (await sim_state(env.control))["bill_reader"]
        return bool(reader["state"] == "ready" and reader["escrow"] is None)

    await until(ready, "the reader is ready")
    await env.control.insert_note(20)
    await until(lambda: _total(env, 20), "20 stacked")
    await until(ready, "the reader is ready again")
    await env.control.insert_note(10)
    result = await attempt.result()
    assert result.outcome is Outcome.APPROVED
    state = (await sim_state(env.control))["bill_reader"]
    assert (state["state"], state["stacked_total"]) == ("closed", 30)
    return method


async def _total(env: SimEnv, total: int) -> bool:
    return bool((await sim_state(env.control))["bill_reader"]["stacked_total"] == total)


async def test_an_earlier_sales_notes_are_not_this_sales(env: SimEnv) -> None:
    store = MemoryTokenStore()
    method = await paid_sale(env, store)
    record = PaymentRecord.new("cash", "sale-B", 1, eur(30))
    # B crashed after journalling "opening" but before the open reached the device.
    opening = replace(record, reference=READER_OPENING)
    try:
        result = await method.recover(opening)
        assert (result.outcome, result.amount_taken) == (Outcome.NOT_STARTED, eur(0))
        # And with nothing sent at all.
        result = await method.recover(record)
        assert (result.outcome, result.amount_taken) == (Outcome.NOT_STARTED, eur(0))
    finally:
        await method.tecalis.aclose()


async def test_an_accept_that_may_have_gone_out_is_unknown_when_the_device_cannot_tell(
    env: SimEnv,
) -> None:
    # The accept was sent (the note journalled as uncertain first), then the app died
    # and its session is gone: the device cannot say, so staff must.
    method = CashPayment(tecalis_client(env, MemoryTokenStore()), clock=env.clock)
    record = replace(
        PaymentRecord.new("cash", "sale-C", 1, eur(30)), reference=READER_OPEN, uncertain=eur(20)
    )
    try:
        result = await method.recover(record)
        assert result.outcome is Outcome.UNKNOWN
        assert result.amount_taken == eur(0)
    finally:
        await method.tecalis.aclose()
