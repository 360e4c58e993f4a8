"""The running kiosk without its screens: journal, devices, recovery, flow.

:func:`open_kiosk` is the start-up order every front end shares (the customer UI,
and any headless runner): open the journal (its checks refuse a damaged or newer
file), open every device and service client, let recovery finish or compensate
what a previous run left open, and only then build the customer flow. Nothing
is sold before recovery ran.

:func:`simulation_overrides` points a config at the built-in simulators
(``kioskapp --simulate``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kioskapp.app import Devices, open_devices
from kioskapp.config import Config, load_config
from kioskapp.core.clock import Clock, SystemClock
from kioskapp.core.flow import Flow, FlowServices
from kioskapp.core.journal import Journal
from kioskapp.core.recovery import RecoveryReport, RecoveryServices, recover_all

log = logging.getLogger(__name__)


@dataclass
class Kiosk:
    """One running kiosk; ``await kiosk.aclose()`` stops the flow, devices and journal."""

    config: Config
    clock: Clock
    journal: Journal
    devices: Devices
    flow: Flow
    recovery: RecoveryReport
    _flow_task: asyncio.Task[None] | None = field(default=None, repr=False)

    def start_flow(self) -> asyncio.Task[None]:
        """Run the customer flow as a task (once)."""
        if self._flow_task is None:
            self._flow_task = asyncio.get_running_loop().create_task(
                self.flow.run(), name="kiosk-flow"
            )
        return self._flow_task

    @property
    def flow_task(self) -> asyncio.Task[None] | None:
        return self._flow_task

    async def aclose(self) -> None:
        """Stop in reverse order of start. The journal is closed last, after every
        writer stopped, so what it holds is consistent for the next start's recovery."""
        try:
            await self.flow.stop()
            task = self._flow_task
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        finally:
            try:
                await self.devices.aclose()
            finally:
                await self.journal.aclose()


async def open_kiosk(config: Config, *, clock: Clock | None = None) -> Kiosk:
    """Open the journal and devices, run recovery, build the flow (not yet running)."""
    clock = clock or SystemClock()
    config.kiosk.state_dir.mkdir(parents=True, exist_ok=True)
    config.journal.path.parent.mkdir(parents=True, exist_ok=True)
    journal = await asyncio.to_thread(Journal, config.journal.path, clock=clock)
    try:
        devices = await open_devices(config, clock=clock, state_dir=config.kiosk.state_dir)
    except BaseException:
        await journal.aclose()
        raise
    try:
        report = await recover_all(RecoveryServices.from_devices(devices, journal, clock=clock))
        if report.changed:
            log.warning(
                "recovery: %d unfinished sale(s) handled, %d receipt(s) reprinted",
                len(report.sales),
                len(report.receipts_printed),
            )
        flow = Flow(FlowServices.from_devices(devices, journal, clock=clock))
    except BaseException:
        try:
            await devices.aclose()
        finally:
            await journal.aclose()
        raise
    return Kiosk(config, clock, journal, devices, flow, report)


def default_simulation_state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where ``--simulate`` keeps its journal: the user's state directory, never the
    installed kiosk's /var/lib/kioskapp."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or str(
        Path(env.get("HOME", "~")).expanduser() / ".local/state"
    )
    return Path(base) / "kioskapp-simulate"


def simulation_overrides(sim_base_url: str, state_dir: Path) -> dict[str, str]:
    """Environment overrides that point every endpoint of a config at the simulators
    and keep the state (journal, session token) in ``state_dir``."""
    base = sim_base_url
    return {
        "KIOSKAPP_TECALIS__BASE_URL": f"{base}/tecalis",
        "KIOSKAPP_CARDAPI__BASE_URL": f"{base}/cardapi",
        "KIOSKAPP_KINETIC__BASE_URL": f"{base}/kinetic/api/v2",
        "KIOSKAPP_KOMOJU__BASE_URL": f"{base}/komoju",
        "KIOSKAPP_PAYJUNCTION__BASE_URL": f"{base}/payjunction",
        "KIOSKAPP_KIOSK__STATE_DIR": str(state_dir),
        "KIOSKAPP_JOURNAL__PATH": str(state_dir / "journal.sqlite3"),
    }


def simulation_config(
    path: Path | None, env: Mapping[str, str], sim_base_url: str, state_dir: Path
) -> Config:
    """The config of ``kioskapp --simulate``: the file's settings (or the defaults) with
    every endpoint on the simulators."""
    merged = dict(env)
    merged.update(simulation_overrides(sim_base_url, state_dir))
    return load_config(path, env=merged)
