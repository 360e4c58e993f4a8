"""The PIN pad never passes an earlier sale's approval off as this sale's payment."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money
from kioskapp.devices.callbacks import CallbackReceiver
from kioskapp.devices.tecalis import MemoryTokenStore
from kioskapp.payments.base import Outcome
from kioskapp.payments.tpv import TpvPayment
from kioskapp.simulator.control import SimControl

from .drivers.base import SimEnv
from .drivers.tecalis_common import tecalis_client, timer_armed


@pytest.fixture
async def env(sim: Any, sim_control: SimControl, clock: ControlledClock) -> AsyncIterator[SimEnv]:
    async with CallbackReceiver(port=0) as receiver:
        yield SimEnv(sim=sim, control=sim_control, clock=clock, receiver=receiver)


async def test_a_lost_prepare_answer_never_takes_an_earlier_approval(env: SimEnv) -> None:
    method = TpvPayment(tecalis_client(env, MemoryTokenStore()), clock=env.clock)
    try:
        await env.control.tpv_auto("approve")
        earlier = await (await method.start(Money(1000, "EUR"), "sale-A")).result()
        assert earlier.outcome is Outcome.APPROVED
        await env.control.tpv_auto(None)
        # Sale B's prepare never reaches the PIN pad (its answer is a 502), which still
        # shows A's approval of the same amount.
        await env.control.set_fault("tecalis", "/api/session/tpv/prepare", "html_502", count=1)
        attempt = await method.start(Money(1000, "EUR"), "sale-B")
        await timer_armed(env.clock, method.window_s + method.grace_s)
        env.clock.advance(method.window_s + method.grace_s)
        result = await attempt.result()
        assert result.outcome is Outcome.UNKNOWN
        assert result.amount_taken == Money(0, "EUR")
    finally:
        await method.tecalis.aclose()
