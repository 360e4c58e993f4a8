"""The built-in simulators on their own thread and event loop.

``kioskapp --simulate`` runs the simulators beside the kiosk in one process. They
get a thread of their own so that what they do (HTTP handling, callbacks, timers)
never runs on the kiosk's UI loop: the kiosk talks to them over loopback HTTP
exactly as it talks to real devices, and a stall of one is not a stall of the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import subprocess
import sys
import threading
import time

from kioskapp.core.clock import ControlledClock
from kioskapp.simulator.framework import SimServer, build_simulators

log = logging.getLogger(__name__)


class SimulatorStartError(RuntimeError):
    """The simulators could not listen (port taken, bad address)."""


class BackgroundSimulators:
    """``start()`` returns once the simulators listen; ``stop()`` ends the thread."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, speed: float = 1.0) -> None:
        self.host = host
        self.port = port
        self.speed = speed
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self.server: SimServer | None = None

    @property
    def base_url(self) -> str:
        if self.server is None:
            raise RuntimeError("the simulators are not running")
        return self.server.base_url

    def start(self, timeout: float = 30.0) -> str:
        """Start the thread and wait until the simulators listen; returns their base URL."""
        if self._thread is not None:
            raise RuntimeError("already started")
        self._thread = threading.Thread(target=self._main, name="simulators", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise SimulatorStartError(f"the simulators did not start within {timeout:g} s")
        if self._error is not None:
            self._thread.join()
            raise SimulatorStartError(
                f"cannot start the simulators on {self.host}:{self.port}: {self._error}"
            ) from self._error
        return self.base_url

    def stop(self, timeout: float = 10.0) -> None:
        loop, stop, thread = self._loop, self._stop, self._thread
        if loop is not None and stop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        if thread is not None:
            thread.join(timeout)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # reported to start(); the thread ends
            if not self._ready.is_set():
                self._error = exc
                self._ready.set()
            else:
                log.exception("simulators: stopped on an error")

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        clock = ControlledClock(speed=self.speed)
        server = build_simulators(clock, host=self.host, port=self.port)
        try:
            await server.start()
            self.server = server
            self._ready.set()
            await self._stop.wait()
        finally:
            await server.stop()
            await clock.aclose()


class SimulatorProcess:
    """The simulators in a child process (``kioskapp-sim``), for ``kioskapp --simulate``.

    A process of their own keeps their work, and their garbage, away from the
    kiosk's Qt thread entirely. Same interface as :class:`BackgroundSimulators`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, speed: float = 1.0) -> None:
        self.host = host
        self.port = port
        self.speed = speed
        self._proc: subprocess.Popen[str] | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the simulators are not running")
        return self._base_url

    def start(self, timeout: float = 30.0) -> str:
        args = [
            sys.executable, "-m", "kioskapp.simulator.main",
            "--host", self.host, "--port", str(self.port), "--speed", repr(self.speed),
            "--stop-on-stdin-eof",
        ]  # fmt: skip
        # The child stops when its standard input closes: when this process ends in any
        # way (even killed, or aborted), so no simulator is left running behind it.
        proc = subprocess.Popen(  # noqa: S603 (our own module, fixed arguments)
            args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._proc = proc
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in proc.stdout:
            if line.strip().startswith("control") and "http" in line:
                url = line.split()[-1]
                self._base_url = url.rsplit("/_sim/", 1)[0]
            if line.startswith("Press Ctrl+C") or time.monotonic() > deadline:
                break
        if self._base_url is None:
            proc.kill()
            err = proc.stderr.read() if proc.stderr else ""
            proc.wait()
            raise SimulatorStartError(err.strip() or "the simulators did not start")
        # Keep the pipes flowing: a full pipe would block the simulators.
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                threading.Thread(target=stream.read, daemon=True).start()
        return self._base_url

    def stop(self, timeout: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
