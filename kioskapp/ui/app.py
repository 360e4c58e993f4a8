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
import linecache
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSocketNotifier, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication

from kioskapp.config import Config
from kioskapp.ui.collector import QtThreadCollector
from kioskapp.ui.speech import Speaker
from kioskapp.ui.watchdog import ServiceLink
from kioskapp.ui.window import WINDOWED_SIZE, KioskWindow

if TYPE_CHECKING:
    from kioskapp.runtime import Kiosk
    from kioskapp.simulator.background import SimulatorProcess

log = logging.getLogger(__name__)

#: Exit status after a crash (EX_SOFTWARE): the service manager restarts the kiosk.
EXIT_CRASHED = 70
#: Exit status when staff restart the app (EX_TEMPFAIL): the service manager starts it
#: again; outside a service manager the app re-executes itself.
EXIT_RESTART = 75
#: Exit status when staff quit the app: the service must not restart it
#: (``RestartPreventExitStatus=3``).
EXIT_STAFF_QUIT = 3
#: What staff asked for in maintenance mode → the exit status.
STAFF_EXIT_CODES = {"restart": EXIT_RESTART, "quit": EXIT_STAFF_QUIT}
#: The staff PIN of ``kioskapp --simulate`` when its config sets none (demos).
DEMO_STAFF_PIN = "1234"
#: Seconds between attempts to start a kiosk that could not start.
START_RETRY_S = 30.0
#: Seconds start-up waits for the first frame before opening the kiosk anyway.
#: (READY=1 always waits for it: see :meth:`KioskApp._announce_started`.)
FIRST_PAINT_WAIT_S = 5.0
#: Threads of the loop's default executor (``asyncio.to_thread``: receipts, DNS).
EXECUTOR_THREADS = 2


@dataclass
class RunOptions:
    windowed: bool = False
    simulate: bool = False
    sim_panel: bool = True  # with simulate: the simulator control panel window
    pseudo_locale: bool = False
    #: The config file the kiosk runs on (shown on the maintenance About screen).
    config_path: Path | None = None
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
        self.window.exit_requested.connect(self.staff_exit)
        self.first_paint: asyncio.Future[None] | None = None
        self.panel: Any = None
        #: The cyclic garbage collector, on the Qt thread only (see kioskapp.ui.collector).
        self.collector = QtThreadCollector()
        #: READY/STATUS/STOPPING and the watchdog for systemd (run() connects it).
        self.systemd = ServiceLink.disabled(lambda: self.kiosk)

    # -- stopping ---------------------------------------------------------------------
    def request_stop(self, code: int = 0) -> None:
        if code and not self.exit_code:
            self.exit_code = code
        self.stop_requested.set()

    def staff_exit(self, kind: str) -> None:
        """Staff asked (confirmed, audited) to "restart" or "quit" the app."""
        code = STAFF_EXIT_CODES.get(kind)
        if code is None:
            log.error("kioskapp: unknown staff exit %r; ignored", kind)
            return
        log.warning("kioskapp: staff asked to %s the app; stopping", kind)
        self.request_stop(code)

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
        warm_up: asyncio.Task[None] | None = None
        stop_wait = asyncio.ensure_future(self.stop_requested.wait())
        self.collector.start()
        try:
            if self.first_paint is not None:  # the attract frame first, then the rest
                waits: set[asyncio.Future[Any]] = {self.first_paint, stop_wait}
                await asyncio.wait(
                    waits, timeout=FIRST_PAINT_WAIT_S, return_when=asyncio.FIRST_COMPLETED
                )
            with sources_not_kept():
                from kioskapp.runtime import open_kiosk

            # The receipt fonts and common glyphs, while the kiosk opens: a cold first
            # receipt holds the GIL for tens of ms in its thread and stalls the screen.
            warm_up = asyncio.ensure_future(_warm_up_receipts())

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
                    await self._announce_started(stop_wait, f"{type(exc).__name__}: {exc}")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(stop_wait), START_RETRY_S)
            if self.kiosk is not None:
                self.window.attach(self.kiosk.flow)
                await self._start_staff(self.kiosk)
            if self.kiosk is not None and not self.stop_requested.is_set():
                await warm_up
                self.collector.freeze()  # what start-up built stays: never scanned again
                flow_task = self.kiosk.start_flow()
                flow_task.add_done_callback(self._flow_ended)
                if self.options.on_ready is not None:
                    self.options.on_ready(self.kiosk, self.window)
                await self._announce_started(stop_wait)
            await stop_wait
        finally:
            stop_wait.cancel()
            if warm_up is not None:
                warm_up.cancel()
            self.systemd.stopping()
            try:
                await self.shutdown()
            finally:
                self.collector.stop()
        return self.exit_code

    async def _announce_started(
        self, stop_wait: asyncio.Future[Any], error: str | None = None
    ) -> None:
        """READY=1 (or the STATUS= after it) for systemd, never before the first frame
        is on screen: a first paint slower than :data:`FIRST_PAINT_WAIT_S` is waited
        for, as long as systemd's start time-out allows. Nothing is sent if a stop
        comes first."""
        paint = self.first_paint
        if paint is not None and not paint.done():
            await asyncio.wait({paint, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not paint.done():
                return
        self.systemd.started(error)

    async def _start_staff(self, kiosk: Kiosk) -> None:
        """Maintenance mode: the staff service (it applies the persisted out-of-service
        toggle before the first customer) handed to the window."""
        from kioskapp.staff.service import SCREEN_ACTOR, StaffService

        service = StaffService(kiosk, config_path=self.options.config_path, actor=SCREEN_ACTOR)
        try:
            await service.start()
        except Exception as exc:  # noqa: BLE001 (the persisted toggle could not be applied)
            self.crashed("the start of maintenance mode", exc)
            return
        self.window.attach_staff(service)

    def _flow_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self.crashed("the customer flow", exc)
        elif not self.stop_requested.is_set():
            self.crashed("the customer flow", RuntimeError("the flow ended by itself"))

    async def shutdown(self) -> None:
        # Staff actions still running finish, and staff still in maintenance mode leave
        # it (audited), while the kiosk and its journal are still open.
        try:
            await self.window.staff.shutdown()
        except Exception:
            log.exception("kioskapp: error while stopping maintenance mode")
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


@contextlib.contextmanager
def sources_not_kept() -> Iterator[None]:
    """Imports whose modules' source text is not kept in memory.

    PySide6 replaces ``__import__`` (shiboken's ``__feature__`` support) and reads
    the source of every module imported after it (``inspect.getsource``) to see
    whether it uses PySide6; ``linecache`` then keeps each source for good: the
    window's and the kiosk's stack (httpx, Pillow, the devices, the flow...) held
    ~7 MB of resident memory that way. The sources read meanwhile go to a cache
    thrown away afterwards; a traceback reads a file again when it needs it.
    :func:`run` also drops the sources read before it started.
    """
    kept = linecache.cache
    linecache.cache = {}
    try:
        yield
    finally:
        linecache.cache = kept


async def _warm_up_receipts() -> None:
    """Open the receipt fonts and draw the common glyphs (in a worker thread)."""
    from kioskapp.core import receipts

    try:
        await asyncio.to_thread(receipts.warm_up)
    except Exception as exc:  # noqa: BLE001 (receipts still render, the first one slower)
        log.warning("kioskapp: receipt fonts not warmed up: %s: %s", type(exc).__name__, exc)


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
    with sources_not_kept():
        import qasync
    linecache.clearcache()  # the sources PySide6's import hook read (see sources_not_kept)

    app = QApplication.instance() or QApplication(argv or [sys.argv[0]])
    assert isinstance(app, QApplication)
    QGuiApplication.setApplicationDisplayName("kioskapp")
    loop = qasync.QEventLoop(app)
    # asyncio.to_thread (receipts, DNS) on a few plain threads, reused while idle.
    # qasync's default hands each call to one of ten threads in turn, and each thread
    # kept a receipt's worth of freed memory in its own malloc arena (RSS grew a MB
    # per sale until every arena had its share).
    loop.set_default_executor(
        ThreadPoolExecutor(max_workers=EXECUTOR_THREADS, thread_name_prefix="kioskapp-worker")
    )
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
    kiosk_app.systemd = ServiceLink.from_environ(lambda: kiosk_app.kiosk)
    try:
        kiosk_app.show()
        kiosk_app.systemd.start(loop)
        with loop:
            code: int = loop.run_until_complete(kiosk_app.main())
    finally:
        sys.excepthook = old_hook
        kiosk_app.systemd.close()
        wakeup.close()
        asyncio.set_event_loop(None)
    if sims is None:
        restart_if_asked(code)
    return code


def restart_if_asked(code: int, env: Mapping[str, str] | None = None) -> None:
    """After an orderly stop with :data:`EXIT_RESTART`: under systemd (``INVOCATION_ID``
    set) the service manager starts the app again, so just return; otherwise (e.g.
    ``kioskapp --simulate`` in a terminal) run the same command line again in this
    process."""
    env = os.environ if env is None else env
    if code != EXIT_RESTART or env.get("INVOCATION_ID"):
        return
    argv = list(sys.orig_argv)
    log.info("kioskapp: restarting: %s", " ".join(argv))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)  # noqa: S606 (the same command line, re-run)


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
        state_dir = default_simulation_state_dir()
        kiosk_config = simulation_config(config_path, os.environ, base, state_dir)
        print(
            f"kioskapp: simulators on {base} (control API {base}/_sim/); "
            f"journal in {kiosk_config.journal.path}",
            flush=True,
        )
        if not kiosk_config.staff.pin_hash:
            # A demo needs a way into maintenance mode: a known PIN, for simulation only
            # (the installed kiosk's config has none until `kioskapp admin set-pin`).
            from kioskapp.config import Secret
            from kioskapp.staff.pin import hash_pin

            staff = replace(kiosk_config.staff, pin_hash=Secret(hash_pin(DEMO_STAFF_PIN)))
            kiosk_config = replace(kiosk_config, staff=staff)
            print(
                f"kioskapp: maintenance mode: hold the top-left corner 3 s, staff PIN "
                f"{DEMO_STAFF_PIN} (simulation only; set one with `kioskapp admin set-pin`)",
                flush=True,
            )
        if options.config_path is None:
            options = replace(options, config_path=config_path)
        code = run(kiosk_config, options, sims=sims)
    finally:
        sims.stop()
    restart_if_asked(code)
    return code


__all__ = [
    "EXIT_CRASHED",
    "EXIT_RESTART",
    "EXIT_STAFF_QUIT",
    "KioskApp",
    "RunOptions",
    "main_simulate",
    "restart_if_asked",
    "run",
    "sources_not_kept",
]
