"""Fixtures shared by the whole suite: a controlled clock and the simulators."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from kioskapp.core.clock import ControlledClock
from kioskapp.simulator.control import SimControl
from kioskapp.simulator.framework import SimServer, build_simulators

SIM_EPOCH = 1_800_000_000.0


@pytest.fixture
def clock() -> ControlledClock:
    """Simulated time that stands still until a test advances it."""
    return ControlledClock(start=SIM_EPOCH, speed=None)


@pytest_asyncio.fixture
async def sim(clock: ControlledClock) -> AsyncIterator[SimServer]:
    """Every vendor simulator on a free loopback port, on the test's clock."""
    server = build_simulators(clock)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest_asyncio.fixture
async def sim_control(sim: SimServer) -> AsyncIterator[SimControl]:
    """The control API client for :func:`sim`."""
    async with SimControl(sim.base_url) as control:
        yield control
