"""A whole kiosk for flow tests: the real simulators over loopback, the wired devices,
a real journal in tmp_path, and the flow on the test's controlled clock."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kioskapp.app import Devices, open_devices
from kioskapp.config import Config, load_config
from kioskapp.core.clock import ControlledClock
from kioskapp.core.flow import Flow, FlowServices, FlowSettings, FlowSnapshot, State
from kioskapp.core.journal import Journal, JournalDB
from kioskapp.runtime import simulation_overrides
from kioskapp.simulator.control import SimControl
from kioskapp.simulator.framework import SimServer

WAIT_S = 15.0  # real seconds a condition may take (loopback HTTP only)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_for(sim: SimServer, tmp_path: Path, provider: str = "tpv") -> Config:
    port = free_port()
    base = sim.base_url
    env = simulation_overrides(base, tmp_path)
    env.update({
        "KIOSKAPP_CALLBACKS__LISTEN_PORT": str(port),
        "KIOSKAPP_CALLBACKS__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "KIOSKAPP_PAYMENTS__CARD_PROVIDER": provider,
    })  # fmt: skip
    return load_config(None, env=env)


class Watcher:
    """Every snapshot the flow published, in order; waits scan forward from a cursor, so a
    state that came and went is still seen."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.sub = flow.subscribe()
        self.seen: list[FlowSnapshot] = []
        self.pos = 0

    async def until(
        self, check: Callable[[FlowSnapshot], bool], what: str, timeout: float = WAIT_S
    ) -> FlowSnapshot:
        async def scan() -> FlowSnapshot:
            while True:
                while self.pos < len(self.seen):
                    snap = self.seen[self.pos]
                    self.pos += 1
                    if check(snap):
                        return snap
                self.seen.append(await anext(self.sub))

        try:
            return await asyncio.wait_for(scan(), timeout)
        except TimeoutError:
            last = self.seen[-1] if self.seen else None
            raise AssertionError(f"timed out waiting for {what}; last snapshot: {last}") from None

    async def until_state(self, state: State, timeout: float = WAIT_S) -> FlowSnapshot:
        return await self.until(lambda s: s.state is state, f"state {state}", timeout)

    def states(self) -> list[State]:
        """The states seen so far, each run of equal states once."""
        out: list[State] = []
        for snap in self.seen:
            if not out or out[-1] is not snap.state:
                out.append(snap.state)
        return out


@dataclass
class Kiosk:
    config: Config
    devices: Devices
    journal: Journal
    clock: ControlledClock
    control: SimControl
    flows: list[tuple[Flow, asyncio.Task[None], Watcher]] = field(default_factory=list)

    @property
    def db(self) -> JournalDB:
        return self.journal.db

    def start(self, settings: FlowSettings | None = None, **services: Any) -> tuple[Flow, Watcher]:
        """A running flow on this kiosk (stopped by the fixture)."""
        base = FlowServices.from_devices(
            self.devices, self.journal, clock=self.clock, settings=settings
        )
        flow = Flow(replace(base, **services))
        watcher = Watcher(flow)
        task = asyncio.create_task(flow.run(), name="flow-under-test")
        self.flows.append((flow, task, watcher))
        return flow, watcher

    async def sim(self) -> dict[str, Any]:
        return await self.control.tecalis_state()

    async def insert_note(self, major: int) -> None:
        """Insert a note once the bill reader is ready for one (no note in escrow)."""
        for _ in range(500):
            reader = (await self.sim())["bill_reader"]
            if reader["state"] == "ready" and reader["escrow"] is None:
                break
        else:
            raise AssertionError("the bill reader never became ready")
        await self.control.insert_note(major)

    async def ledger(self) -> list[dict[str, Any]]:
        answer = await self.control.call("GET", "/cardapi/ledger")
        ledger = answer["ledger"]
        assert isinstance(ledger, list)
        return ledger

    async def shutdown(self) -> None:
        for flow, task, watcher in self.flows:
            await flow.stop()
            await task
            watcher.sub.close()


@pytest_asyncio.fixture
async def kiosk(
    request: pytest.FixtureRequest,
    sim: SimServer,
    sim_control: SimControl,
    clock: ControlledClock,
    tmp_path: Path,
) -> AsyncIterator[Kiosk]:
    """The kiosk with the TPV as its card terminal (parametrize indirectly for another)."""
    config = config_for(sim, tmp_path, getattr(request, "param", "tpv"))
    devices = await open_devices(config, clock=clock)
    journal = Journal(tmp_path / "journal.sqlite3", clock=clock)
    k = Kiosk(config, devices, journal, clock, sim_control)
    try:
        yield k
    finally:
        try:
            await k.shutdown()
        finally:
            await devices.aclose()
            await journal.aclose()
