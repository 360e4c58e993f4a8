"""Run the kiosk with its screens: Qt and asyncio on one loop (qasync).

Start-up order: the window is shown first (the attract screen is painted before
anything slow happens), then the kiosk opens in the background (journal checks,
devices, recovery) and the flow is attached. If the kiosk cannot start (a service
down, a damaged journal) the window says "out of service" and the start is retried.

Stopping: SIGTERM or SIGINT (also while Qt is inside its own loop, through a wakeup
socket), closing the window, or a crash. A crash anywhere (an exception in a Qt slot,
an asyncio task, or the flow) is logged with its traceback, then the kiosk stops the
same orderly way: the flow stops, devices close, the journal closes last, so the next
start's recovery finds a consistent journal. The process then exits with status 70
so that a service manager restarts it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSocketNotifier, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from kioskapp.config import Config
from kioskapp.ui.speech import Speaker
from kioskapp.ui.window import WINDOWED_SIZE, KioskWindow

if TYPE_CHECKING:
    from kioskapp.runtime import Kiosk
    from kioskapp.simulator.background import SimulatorProcess

log = logging.getLogger(__name__)

#: Exit status after a crash (EX_SOFTWARE): the service manager restarts the kiosk.
EXIT_CRASHED = 70
#: Seconds between attempts to start a kiosk that could not start.
START_RETRY_S = 30.0


@dataclass
class RunOptions:
    windowed: bool = False
    simulate: bool = False
    sim_panel: bool = True  # with simulate: the simulator control panel window
    pseudo_locale: bool = False
    #: Called with the window once the first attract frame is painted (benches).
    on_first_paint: Callable[[KioskWindow], None] | None = None
    #: Called with the running kiosk once the flow runs (tests, benches).
    on_ready: Callable[[Kiosk, KioskWindow], None] | None = None


class KioskApp:
    """The customer app: window, kiosk runtime, signals and the crash handler."""

    def __init__(
        self,
        config: Config,
        options: RunOptions,
        sims: SimulatorProcess | None,
    ):
        self.config = config
        self.options = options
        self.sims = sims
        self.exit_code = 0
        self.stop_requested = asyncio.Event()
        self.kiosk: Kiosk | None = None
        # Speech loads Qt Multimedia: it is set up after the first frame is on screen.
        self.window = KioskWindow(config, pseudo_locale=options.pseudo_locale)
        self.first_paint: asyncio.Future[None] | None = None
        self.panel: Any = None

    # -- stopping ---------------------------------------------------------------------
    def request_stop(self, code: int = 0) -> None:
        if code and not self.exit_code:
            self.exit_code = code
        self.stop_requested.set()

    def crashed(self, where: str, exc: BaseException) -> None:
        """The top-level crash handler: log, then stop in order (journal last)."""
        log.critical(
            "kioskapp crashed in %s; stopping so that it restarts",
            where,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        self.request_stop(EXIT_CRASHED)

    # -- running ----------------------------------------------------------------------
    def show(self) -> None:
        w = self.window
        fullscreen = self.config.ui.fullscreen and not self.options.windowed
        if fullscreen:
            w.setCursor(Qt.CursorShape.BlankCursor)
            w.showFullScreen()
        else:
            w.resize(*WINDOWED_SIZE)
            w.show()
        if self.sims is not None and self.options.sim_panel:
            from kioskapp.ui.simpanel import SimulatorPanel

            self.panel = SimulatorPanel(
                self.sims.base_url,
                currency=self.config.kiosk.currency,
                card_provider=self.config.payments.card_provider,
            )
            if not fullscreen:  # beside the kiosk's window, not on top of it
                self.panel.move(w.x() + w.frameGeometry().width() + 8, w.y())
            self.panel.show()

    async def main(self) -> int:
        flow_task: asyncio.Task[None] | None = None
        stop_wait = asyncio.ensure_future(self.stop_requested.wait())
        try:
            # The attract frame first, then the rest. Polled: the paint is reported
            # from a Qt callback, and a future completed there was seen to wake this
            # coroutine only at its time-out under qasync.
            loop = asyncio.get_running_loop()
            give_up = loop.time() + 5.0
            while (  # noqa: ASYNC110 (see above)
                self.first_paint is not None
                and not self.first_paint.done()
                and not self.stop_requested.is_set()
                and loop.time() < give_up
            ):
                await asyncio.sleep(0.01)
            from kioskapp.runtime import open_kiosk

            self.window.speaker = Speaker(
                enabled=self.config.ui.speech, engine=self.config.ui.speech_engine
            )
            while self.kiosk is None and not self.stop_requested.is_set():
                try:
                    self.kiosk = await open_kiosk(self.config)
                except Exception as exc:  # noqa: BLE001 (whatever stops the start, retry)
                    log.error(
                        "kioskapp: cannot start the kiosk (%s: %s); retrying in %g s",
                        type(exc).__name__,
                        exc,
                        START_RETRY_S,
                    )
                    self.window.show_out_of_service("out_of_service.kiosk_unreachable")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stop_wait), START_RETRY_S)
            if self.kiosk is not None:
                self.window.attach(self.kiosk.flow)
                flow_task = self.kiosk.start_flow()
                flow_task.add_done_callback(self._flow_ended)
                if self.options.on_ready is not None:
                    self.options.on_ready(self.kiosk, self.window)
            await stop_wait
        finally:
            stop_wait.cancel()
            await self.shutdown()
        return self.exit_code

    def _flow_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.crashed("the customer flow", exc)
        elif not self.stop_requested.is_set():
            self.crashed("the customer flow", RuntimeError("the flow ended by itself"))

    async def shutdown(self) -> None:
        kiosk, self.kiosk = self.kiosk, None
        self.window.detach()
        if kiosk is not None:
            try:
                await kiosk.aclose()
            except Exception:
                log.exception("kioskapp: error while stopping")
        if self.panel is not None:
            with contextlib.suppress(Exception):
                await self.panel.aclose()
        log.info("kioskapp: stopped")


class _SignalWakeup:
    """SIGTERM/SIGINT while Qt runs its loop: Python's handler sets the stop flag, and
    the wakeup socket makes Qt return to Python at once to run it."""

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        self._read, self._write = socket.socketpair()
        self._read.setblocking(False)
        self._write.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._write.fileno())
        self._notifier = QSocketNotifier(self._read.fileno(), QSocketNotifier.Type.Read)
        self._notifier.activated.connect(self._drain)
        self._old = {
            sig: signal.signal(sig, lambda s, _f: on_signal(s))
            for sig in (signal.SIGTERM, signal.SIGINT)
        }

    def _drain(self) -> None:
        with contextlib.suppress(OSError):
            while self._read.recv(64):
                pass

    def close(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        signal.set_wakeup_fd(self._old_fd)
        self._notifier.setEnabled(False)
        self._read.close()
        self._write.close()


def run(
    config: Config,
    options: RunOptions,
    *,
    sims: SimulatorProcess | None = None,
    argv: list[str] | None = None,
) -> int:
    """Run the customer app until it is stopped; returns the exit status."""
    import qasync

    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    assert isinstance(app, QApplication)
    QGuiApplication.setApplicationDisplayName("kioskapp")
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    kiosk_app = KioskApp(config, options, sims)

    def on_signal(sig: int) -> None:
        log.info("kioskapp: %s received, stopping", signal.Signals(sig).name)
        loop.call_soon_threadsafe(kiosk_app.request_stop)

    def excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        kiosk_app.crashed("a Qt handler", exc.with_traceback(tb))

    def loop_exception(loop_: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, Exception):
            kiosk_app.crashed(f"an asyncio task ({context.get('message', '')})", exc)
        else:
            log.error("asyncio: %s", context.get("message"))

    wakeup = _SignalWakeup(on_signal)
    old_hook = sys.excepthook
    sys.excepthook = excepthook
    loop.set_exception_handler(loop_exception)
    app.setQuitOnLastWindowClosed(False)
    app.lastWindowClosed.connect(kiosk_app.request_stop)
    kiosk_app.first_paint = loop.create_future()

    def painted(window: KioskWindow) -> None:
        fut = kiosk_app.first_paint
        if fut is not None and not fut.done():
            fut.set_result(None)
        if options.on_first_paint is not None:
            options.on_first_paint(window)

    _notify_first_paint(kiosk_app.window, painted)
    try:
        kiosk_app.show()
        with loop:
            code: int = loop.run_until_complete(kiosk_app.main())
    finally:
        sys.excepthook = old_hook
        wakeup.close()
        asyncio.set_event_loop(None)
    return code


def _notify_first_paint(window: KioskWindow, callback: Callable[[KioskWindow], None]) -> None:
    from PySide6.QtCore import QEvent, QObject

    class _FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                window.removeEventFilter(self)
                from PySide6.QtCore import QTimer

                QTimer.singleShot(0, lambda: callback(window))  # after the paint finished
            return False

    window._first_paint = _FirstPaint(window)  # type: ignore[attr-defined]
    window.installEventFilter(window._first_paint)  # type: ignore[attr-defined]


def main_simulate(config: Config, config_path: Path | None, options: RunOptions) -> int:
    """``kioskapp --simulate``: the app, the simulators in a child process, the panel.
    ``config`` (already checked) gives the simulators' address and speed; the kiosk
    runs on the same file's settings with every endpoint on the simulators."""
    from kioskapp.runtime import default_simulation_state_dir, simulation_config
    from kioskapp.simulator.background import SimulatorProcess, SimulatorStartError

    sim = config.simulator
    sims = SimulatorProcess(sim.host, sim.port, sim.speed)
    try:
        base = sims.start()
    except SimulatorStartError as exc:
        print(f"kioskapp: {exc}", file=sys.stderr)
        return 1
    try:
        kiosk_config = simulation_config(
            config_path, os.environ, base, default_simulation_state_dir()
        )
        print(
            f"kioskapp: simulators on {base} (control API {base}/_sim/); "
            f"journal in {kiosk_config.journal.path}",
            flush=True,
        )
        return run(kiosk_config, options, sims=sims)
    finally:
        sims.stop()


__all__ = ["EXIT_CRASHED", "KioskApp", "RunOptions", "main_simulate", "run"]
