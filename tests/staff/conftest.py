"""A running kiosk for staff tests: the flow tests' kiosk (simulators, real journal, real
device clients, controlled clock) with its flow running, and a StaffService on it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass, replace
from typing import TypeVar

import pytest
import pytest_asyncio

from kioskapp.config import Secret
from kioskapp.core.clock import ControlledClock
from kioskapp.core.flow import Flow, State
from kioskapp.core.recovery import RecoveryReport
from kioskapp.runtime import Kiosk as RuntimeKiosk
from kioskapp.staff.pin import hash_pin
from kioskapp.staff.service import StaffService
from tests.flow.conftest import Kiosk, Watcher, kiosk  # noqa: F401 (fixture)

T = TypeVar("T")

STAFF_PIN = "246810"
_PIN_HASH = hash_pin(STAFF_PIN)  # once per test run: scrypt is deliberately slow


async def with_time(clock: ControlledClock, work: Awaitable[T]) -> T:
    """Await ``work`` while letting simulated time pass (client retry backoffs, polls):
    whenever it waits, the clock moves to the next timer (at most 1 s at a time)."""
    task = asyncio.ensure_future(work)
    for _ in range(500):
        with contextlib.suppress(TimeoutError):
            return await asyncio.wait_for(asyncio.shield(task), 0.02)
        step = clock.next_deadline_in()
        clock.advance(min(1.0, step) if step is not None and step > 0 else 0.05)
    task.cancel()
    raise AssertionError("the staff action never ended")


def record_out_of_service(flow: Flow, monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """Every out-of-service request made to ``flow`` from now on (it still gets them)."""
    asked: list[str | None] = []
    ask = flow.set_out_of_service

    def spy(reason: str | None) -> None:
        asked.append(reason)
        ask(reason)

    monkeypatch.setattr(flow, "set_out_of_service", spy)
    return asked


@dataclass
class Staff:
    """The kiosk under test, its flow's watcher and the staff service on it."""

    kiosk: Kiosk
    runtime: RuntimeKiosk
    watcher: Watcher
    service: StaffService

    async def audit(self, action: str) -> list[dict[str, object]]:
        """Details of every audit entry ``action``, oldest first."""
        db = self.kiosk.db
        rows = await self.kiosk.journal.call(db.audit, limit=1000)
        return [r.details for r in reversed(rows) if r.action == action]

    async def audit_actions(self) -> list[str]:
        rows = await self.kiosk.journal.call(self.kiosk.db.audit, limit=1000)
        return [r.action for r in reversed(rows)]


@pytest_asyncio.fixture
async def staff(kiosk: Kiosk) -> AsyncIterator[Staff]:  # noqa: F811 (the imported fixture)
    """The kiosk at the attract screen, a staff PIN configured, the service started."""
    config = replace(kiosk.config, staff=replace(kiosk.config.staff, pin_hash=Secret(_PIN_HASH)))
    kiosk.config = config
    flow, watcher = kiosk.start()
    task = kiosk.flows[-1][1]
    runtime = RuntimeKiosk(
        config, kiosk.clock, kiosk.journal, kiosk.devices, flow, RecoveryReport(), _flow_task=task
    )
    await watcher.until_state(State.ATTRACT)
    service = StaffService(runtime, config_path=None)
    await service.start()
    yield Staff(kiosk, runtime, watcher, service)
    await service.stop()
