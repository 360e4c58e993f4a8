"""Shared by the cash and tpv drivers: a Tecalis client on the simulator, and waits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from kioskapp.core.clock import ControlledClock
from kioskapp.devices.callbacks import InboundCallback
from kioskapp.devices.http import RetryPolicy
from kioskapp.devices.tecalis import MemoryTokenStore, TecalisClient
from kioskapp.simulator.control import SimControl

from .base import SimEnv


def tecalis_client(env: SimEnv, store: MemoryTokenStore) -> TecalisClient:
    """A client as the app builds it; ``store`` survives a 'restart' (it is the file)."""
    client = TecalisClient(
        env.sim.url_for("tecalis"),
        username="integrator",
        password="integrator-secret",
        kiosk_id="KIOSK-001",
        clock=env.clock,
        poll_interval_s=1.0,
        retry=RetryPolicy(attempts=2, base_delay_s=0.0, max_delay_s=0.0),
        callback_url=env.receiver.url_for("/tecalis"),
        token_store=store,
    )

    async def deliver(cb: InboundCallback) -> str:
        return await client.handle_callback(cb.json)

    env.receiver.add_route("/tecalis", deliver)  # the newest client takes the callbacks
    return client


async def until(check: Callable[[], Awaitable[bool]], what: str, tries: int = 500) -> None:
    """Wait for a condition that another task brings about, yielding to it in between."""
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"timed out waiting until {what}")


async def sim_state(control: SimControl) -> dict[str, Any]:
    return await control.tecalis_state()


async def timer_armed(clock: ControlledClock, seconds: float) -> None:
    """Wait until some task armed a timer ``seconds`` ahead (then advancing fires it)."""

    async def armed() -> bool:
        return any(abs(d - seconds) < 1e-6 for d in clock.pending_deadlines())

    await until(armed, f"a {seconds}s timer is armed")
