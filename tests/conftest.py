"""Fixtures shared by the whole suite: a controlled clock and the simulators."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kioskapp.core.clock import ControlledClock
from kioskapp.simulator.control import SimControl
from kioskapp.simulator.framework import SimServer, build_simulators

SIM_EPOCH = 1_800_000_000.0
#: The installed kiosk's state: no test may create or change anything there.
HOST_STATE = Path("/var/lib/kioskapp")


@pytest.fixture(autouse=True)
def _host_state_untouched(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that runs the app on the default config would write the host's journal."""
    before = sorted(HOST_STATE.iterdir()) if HOST_STATE.is_dir() else None
    yield
    after = sorted(HOST_STATE.iterdir()) if HOST_STATE.is_dir() else None
    assert after == before, f"{request.node.nodeid} wrote into {HOST_STATE}: {after}"


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
