"""Memory and UI-loop stalls of the customer app over whole journeys.

Runs the real app (window, flow, devices, journal) against the simulators, which
run in their own process (`kioskapp-sim`) so that only the kiosk is measured, and
drives journeys by pressing the window's buttons as a customer would and inserting
notes / presenting a card through the simulators' control API:

1. a cash sale of a new cashback card (card staged and dispensed, receipt rendered
   and printed);
2. a card sale on the PIN pad.

A heartbeat timer on the Qt loop measures the longest gap between two of its ticks
beyond its interval: the longest time the UI could not react (layout, painting,
receipt rendering, journal writes, HTTP handling...). The peak RSS is the whole
process's, so this driver imports what the app imports in the app's order (the
window first, the kiosk's stack as KioskApp.main() imports it) and nothing the kiosk
would not load: the simulators' control API is called with httpx, not through
kioskapp.simulator. Prints:

    BENCH max_stall_ms <value>     (target <= 16)
    BENCH peak_rss_mb <value>      (target <= 150)

    xvfb-run -a .venv/bin/python bench/ui_journey.py [--journeys 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

if not os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Imported as the `kioskapp` command imports them (memory depends on it): the
# window first, then the kiosk's stack as KioskApp.main() imports it.
from kioskapp.ui.app import RunOptions, run, sources_not_kept  # isort: skip
from kioskapp.ui.window import KioskWindow  # isort: skip

with sources_not_kept():
    import httpx
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QPushButton

    from kioskapp.core.flow.model import FlowSnapshot, State
    from kioskapp.runtime import Kiosk, simulation_config

HEARTBEAT_MS = 2


def rss(when: str) -> None:
    if os.environ.get("BENCH_VERBOSE"):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS {peak:.1f} MB {when}", file=sys.stderr)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Heartbeat:
    def __init__(self) -> None:
        self.timer = QTimer()
        self.timer.setInterval(HEARTBEAT_MS)
        self.timer.timeout.connect(self.tick)
        self.last: float | None = None
        self.max_gap = 0.0
        self.measuring = False

    def start(self) -> None:
        self.last = None
        self.measuring = True
        self.timer.start()

    def tick(self) -> None:
        now = time.perf_counter()
        if self.last is not None and self.measuring:
            self.max_gap = max(self.max_gap, now - self.last - HEARTBEAT_MS / 1000)
        self.last = now


class Control:
    """The simulators' controls the journeys use, over their control API. Plain httpx:
    the measured process imports nothing of kioskapp.simulator (the kiosk never does,
    and its server side would count in the kiosk's memory)."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.AsyncClient(base_url=f"{base_url}/_sim", timeout=15.0)

    async def _post(self, path: str, body: dict[str, object]) -> None:
        response = await self.http.post(path, json=body)
        response.raise_for_status()

    async def insert_note(self, amount: int) -> None:
        await self._post("/tecalis/bill-reader/insert", {"amount": amount})

    async def tpv_auto(self, outcome: str | None) -> None:
        await self._post("/tecalis/tpv/auto", {"outcome": outcome})

    async def aclose(self) -> None:
        await self.http.aclose()


class Driver:
    def __init__(self, window: KioskWindow, control: Control) -> None:
        self.window = window
        self.control = control

    async def until(self, check: Callable[[FlowSnapshot], bool], timeout: float = 30.0) -> None:
        try:
            await self.window.until_drawn(check, timeout)
        except TimeoutError:
            raise RuntimeError(f"timed out; the window shows {self.window.snap.state}") from None

    async def state(self, state: State) -> None:
        await self.until(lambda s: s.state is state)

    def click(self, name: str) -> None:
        for b in self.window.findChildren(QPushButton, name):
            if b.isVisible() and b.isEnabled():
                b.click()
                return
        raise RuntimeError(f"no button {name} on {self.window.snap.state}")

    async def to_payment(self, sku: str) -> None:
        await self.state(State.ATTRACT)
        self.click("start")
        await self.state(State.CHOOSING)
        self.click(f"product:{sku}")
        await self.state(State.IDENTIFYING)
        self.click("identify:no")
        await self.state(State.PAYMENT_CHOICE)

    async def cash_sale(self) -> None:
        await self.to_payment("CASHBACK-CARD")
        self.click("pay:cash")
        await self.until(
            lambda s: (
                s.payment_status is not None and s.payment_status.phase == "waiting_for_customer"
            )
        )
        await self.control.insert_note(5)
        await self.state(State.THANK_YOU)
        self.click("finish")

    async def card_sale(self) -> None:
        await self.control.tpv_auto("approve")
        await self.to_payment("GIFT-20")
        self.click("pay:tpv")
        await self.state(State.THANK_YOU)
        self.click("finish")


def main() -> int:
    parser = argparse.ArgumentParser(description="UI stalls and memory over journeys")
    parser.add_argument("--journeys", type=int, default=3, help="cash + card pairs")
    args = parser.parse_args()
    port = free_port()
    sim = subprocess.Popen(
        [sys.executable, "-m", "kioskapp.simulator.main", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert sim.stdout is not None
        for line in sim.stdout:
            if line.startswith("Press Ctrl+C"):
                break
        base = f"http://127.0.0.1:{port}"
        with tempfile.TemporaryDirectory() as state:
            env = {
                "KIOSKAPP_CALLBACKS__LISTEN_PORT": str(free_port()),
                "KIOSKAPP_UI__SPEECH": "false",
                "KIOSKAPP_LOGGING__LEVEL": "ERROR",
            }
            env["KIOSKAPP_CALLBACKS__PUBLIC_URL"] = (
                f"http://127.0.0.1:{env['KIOSKAPP_CALLBACKS__LISTEN_PORT']}"
            )
            config = simulation_config(None, env, base, Path(state))
            heartbeat = Heartbeat()
            result: dict[str, object] = {}

            def ready(kiosk: Kiosk, window: KioskWindow) -> None:
                async def journeys() -> None:
                    control = Control(base)
                    try:
                        driver = Driver(window, control)
                        await driver.state(State.ATTRACT)
                        heartbeat.start()
                        rss("ready")
                        for _ in range(args.journeys):
                            await driver.cash_sale()
                            rss("after a cash sale")
                            await driver.card_sale()
                            rss("after a card sale")
                        await driver.state(State.ATTRACT)
                        heartbeat.measuring = False
                        result["ok"] = True
                    except Exception as exc:  # noqa: BLE001 (reported, then stop)
                        result["error"] = f"{type(exc).__name__}: {exc}"
                    finally:
                        await control.aclose()
                        window.close()  # the last window: the app stops

                result["task"] = asyncio.ensure_future(journeys())

            code = run(config, RunOptions(windowed=True, on_ready=ready))
            if "error" in result:
                print(f"journey failed: {result['error']}", file=sys.stderr)
                return 1
            if code != 0 or not result.get("ok"):
                print(f"the app exited with {code}", file=sys.stderr)
                return 1
    finally:
        sim.terminate()
        sim.wait(timeout=10)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"journeys: {args.journeys} cash + {args.journeys} card sales")
    print(f"BENCH max_stall_ms {heartbeat.max_gap * 1000:.1f}")
    print(f"BENCH peak_rss_mb {peak_mb:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
