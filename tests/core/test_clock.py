"""The controlled clock: time moves only when told, timers fire in order."""

from __future__ import annotations

import asyncio

import pytest

from kioskapp.core.clock import ControlledClock, SystemClock


def test_time_stands_still_until_advanced() -> None:
    clock = ControlledClock(start=1000.0)
    assert clock.time() == 1000.0
    clock.advance(90)
    assert clock.time() == 1090.0
    assert clock.monotonic() == 90.0
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)


def test_timers_fire_in_deadline_order_when_due() -> None:
    clock = ControlledClock(start=0.0)
    fired: list[str] = []
    clock.call_later(90, lambda: fired.append("escrow"))
    clock.call_later(30, lambda: fired.append("idle"))
    cancelled = clock.call_later(10, lambda: fired.append("cancelled"))
    cancelled.cancel()
    clock.advance(29)
    assert fired == []
    clock.advance(61)
    assert fired == ["idle", "escrow"]
    assert clock.pending_timers() == 0


def test_a_timer_set_by_a_timer_fires_in_the_same_advance() -> None:
    clock = ControlledClock(start=0.0)
    fired: list[float] = []
    clock.call_later(1, lambda: clock.call_later(1, lambda: fired.append(clock.monotonic())))
    clock.advance(5)
    assert fired == [2.0]  # armed at t=1 for 1 s
    assert clock.monotonic() == 5.0


async def test_sleep_returns_when_time_is_advanced() -> None:
    clock = ControlledClock(start=0.0)
    sleeper = asyncio.ensure_future(clock.sleep(120))
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(119)
    await asyncio.sleep(0)
    assert not sleeper.done()
    clock.advance(1)
    await asyncio.wait_for(sleeper, 1)


async def test_cancelled_sleep_leaves_no_timer() -> None:
    clock = ControlledClock(start=0.0)
    sleeper = asyncio.ensure_future(clock.sleep(5))
    await asyncio.sleep(0)
    sleeper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await sleeper
    assert clock.pending_timers() == 0


async def test_speed_makes_time_flow_and_fires_timers() -> None:
    clock = ControlledClock(start=0.0, speed=1000.0)
    fired = asyncio.Event()
    clock.call_later(50, fired.set)  # 50 simulated seconds = 50 ms real
    await asyncio.wait_for(fired.wait(), 5)
    assert clock.monotonic() >= 50
    await clock.aclose()


def test_speed_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        ControlledClock(speed=0)


async def test_system_clock_sleeps_and_schedules() -> None:
    clock = SystemClock()
    fired = asyncio.Event()
    clock.call_later(0, fired.set)
    await clock.sleep(0)
    await asyncio.wait_for(fired.wait(), 1)
    assert clock.time() > 1_600_000_000
