"""The kiosk's line to systemd: READY, STATUS, STOPPING and the watchdog.

``READY=1`` is sent once the first frame is on screen *and* the first attempt to
open the kiosk (journal checks, devices, recovery) has ended: either the kiosk
sells, or it shows "out of service" and retries by itself every 30 s. So
"started" means the journal passed its checks and recovery ran, and start-up
work (recovery may wait on slow devices) falls under ``TimeoutStartSec=``, not
the watchdog. A kiosk waiting for a service that is down is started, not
failed: restarting it would not bring the service back.

The watchdog (``WatchdogSec=`` in kiosk.service) is fed from a QTimer on the Qt
thread, checked every sixth of the time-out (5 s of 30 s), from READY=1 on
(systemd ignores the watchdog until then), and only while everything that must
keep turning turns:

- the Qt loop itself (a frozen loop fires no timer: nothing is sent);
- the asyncio side: a heartbeat callback on the loop ran within half the
  time-out (device clients, the callback receiver and the flow all run there);
- the customer flow's task is alive;
- the journal thread answers: a no-op through ``Journal.call`` finished within
  half the time-out; a stuck fsync or a deadlock shows here;
- the serial card reader's thread is alive, when a reader is configured.

When a check fails, no ``WATCHDOG=1`` is sent, the reason is logged and shown in
``STATUS=``, and systemd restarts the service once a whole time-out has passed
without a ping (the kiosk's recovery then finishes what was open). Checking often
keeps one failed check from costing the kiosk: after a withheld ping the next
check comes a sixth of the time-out later, and if all is well again its ping
lands well before the deadline. faulthandler is enabled so that the watchdog's
SIGABRT writes every thread's Python stack to the journal.

Fire drill: with ``KIOSKAPP_WATCHDOG_DRILL_S=<seconds>`` in the environment, a
SIGUSR1 freezes the Qt loop for that long (announced in ``STATUS=``), to show the
watchdog at work. Without the variable SIGUSR1 keeps its default action.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import os
import signal
import time
from collections.abc import Callable, Mapping, MutableMapping
from types import FrameType
from typing import TYPE_CHECKING

from PySide6.QtCore import QTimer

from kioskapp.sdnotify import Notifier

if TYPE_CHECKING:
    from kioskapp.runtime import Kiosk

__all__ = ["DRILL_ENV_VAR", "ServiceLink"]

log = logging.getLogger(__name__)

DRILL_ENV_VAR = "KIOSKAPP_WATCHDOG_DRILL_S"
#: Longest pause between two heartbeats of the asyncio side.
MAX_HEARTBEAT_PERIOD_S = 1.0
#: Watchdog checks per time-out (WatchdogSec=30: one every 5 s).
CHECKS_PER_TIMEOUT = 6


def _pong() -> None:
    """Runs on the journal thread: that thread answers."""


class ServiceLink:
    """READY/STATUS/STOPPING for systemd, and the watchdog fed from the Qt loop.

    ``kiosk`` returns the running kiosk (None while it is not open). ``clock`` is a
    monotonic clock in seconds (tests pass a fake one); the heartbeat runs every
    ``heartbeat_period_s`` of the event loop's time (default: a quarter of the
    heartbeat's age limit, at most 1 s)."""

    def __init__(
        self,
        notifier: Notifier,
        kiosk: Callable[[], Kiosk | None],
        *,
        clock: Callable[[], float] = time.monotonic,
        drill_s: float | None = None,
        heartbeat_period_s: float | None = None,
    ) -> None:
        self.notifier = notifier
        self._kiosk = kiosk
        self._clock = clock
        self._drill_s = drill_s
        timeout = notifier.watchdog_timeout_s
        #: Seconds between two watchdog checks (None: no watchdog).
        self.interval_s = None if timeout is None else timeout / CHECKS_PER_TIMEOUT
        limit = (timeout or 0.0) / 2
        #: A heartbeat older than this, or a journal call outstanding longer, fails.
        self.heartbeat_max_age_s = limit
        self.journal_deadline_s = limit
        self.heartbeat_period_s = heartbeat_period_s or min(MAX_HEARTBEAT_PERIOD_S, limit / 4)
        self.ready_sent = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: QTimer | None = None
        self._beat_handle: asyncio.TimerHandle | None = None
        self._last_beat: float | None = None
        self._ping: asyncio.Task[None] | None = None
        self._ping_started = 0.0
        self._ping_error: str | None = None
        self._reported: tuple[str, ...] = ()
        self._old_usr1: Callable[[int, FrameType | None], object] | int | None = None

    @classmethod
    def from_environ(
        cls, kiosk: Callable[[], Kiosk | None], env: MutableMapping[str, str] | None = None
    ) -> ServiceLink:
        """The link systemd set up for this process (none outside systemd). The
        notify variables are taken out of the environment: children never notify."""
        env = os.environ if env is None else env
        notifier = Notifier.from_environ(env, unset=True)
        return cls(notifier, kiosk, drill_s=_drill_seconds(env))

    @classmethod
    def disabled(cls, kiosk: Callable[[], Kiosk | None]) -> ServiceLink:
        """A link that sends nothing (not under systemd, or in tests)."""
        return cls(Notifier(None), kiosk)

    @property
    def last_beat(self) -> float | None:
        """When (``clock``) the asyncio side last ran the heartbeat."""
        return self._last_beat

    @property
    def watchdog_enabled(self) -> bool:
        return self.interval_s is not None

    # -- life cycle -------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start the watchdog timer on the Qt loop and the heartbeat on ``loop``."""
        self._loop = loop
        if self._drill_s is not None:
            self._old_usr1 = signal.signal(signal.SIGUSR1, self._drill)
        if self.interval_s is None:
            return
        if not faulthandler.is_enabled():
            faulthandler.enable(all_threads=True)
        self._beat()
        timer = QTimer()
        timer.setInterval(max(1, round(self.interval_s * 1000)))
        timer.timeout.connect(self.tick)
        timer.start()
        self._timer = timer
        log.info("watchdog: checking every %.3g s", self.interval_s)

    def started(self, error: str | None = None) -> None:
        """The first frame is painted and an attempt to open the kiosk has ended
        (``error`` says why it failed). The first call sends READY=1."""
        if error is None:
            status = "running"
        else:
            status = f"out of service: cannot start the kiosk ({error}); retrying"
        if self.ready_sent:
            self.notifier.status(status)
        else:
            self.ready_sent = True
            self.notifier.ready(status)

    def stopping(self) -> None:
        """An orderly stop began: STOPPING=1, and the watchdog stops checking."""
        self.notifier.stopping("stopping")
        self.close()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._beat_handle is not None:
            self._beat_handle.cancel()
            self._beat_handle = None
        if self._ping is not None:
            self._ping.cancel()
            self._ping = None
        if self._old_usr1 is not None:
            with contextlib.suppress(ValueError):  # not on the main thread
                signal.signal(signal.SIGUSR1, self._old_usr1)
            self._old_usr1 = None
        self.notifier.close()

    # -- the checks -------------------------------------------------------------------
    def _beat(self) -> None:
        self._last_beat = self._clock()
        if self._loop is not None and not self._loop.is_closed():
            self._beat_handle = self._loop.call_later(self.heartbeat_period_s, self._beat)

    def check(self) -> list[str]:
        """What keeps the watchdog from being fed now (empty: healthy)."""
        now = self._clock()
        found: list[str] = []
        if self._last_beat is not None and now - self._last_beat > self.heartbeat_max_age_s:
            found.append(f"the asyncio loop has not turned for {now - self._last_beat:.0f} s")
        kiosk = self._kiosk()
        if kiosk is None:
            return found
        task = kiosk.flow_task
        if task is not None and task.done():
            found.append("the customer flow has ended")
        reader = kiosk.devices.serial
        if reader is not None and not reader.running:
            found.append("the serial card reader's thread has stopped")
        found.extend(self._check_journal(kiosk, now))
        return found

    def _check_journal(self, kiosk: Kiosk, now: float) -> list[str]:
        """The journal thread's answers: the last ping must have succeeded and the one
        outstanding must not be late. Starts the next ping once the last is back."""
        ping = self._ping
        if ping is not None and ping.done():
            self._ping = None
            exc = None if ping.cancelled() else ping.exception()
            self._ping_error = None if exc is None else f"{type(exc).__name__}: {exc}"
        found = []
        if self._ping_error is not None:
            found.append(f"the journal thread failed a call ({self._ping_error})")
        if self._ping is not None:
            waited = now - self._ping_started
            if waited > self.journal_deadline_s:
                found.append(f"the journal thread has not answered for {waited:.0f} s")
        elif self._loop is not None:
            self._ping_started = now
            self._ping = self._loop.create_task(kiosk.journal.call(_pong), name="watchdog-ping")
        return found

    def tick(self) -> bool:
        """One watchdog check (the QTimer calls it); True if WATCHDOG=1 was sent. None
        is sent before READY=1: systemd ignores the watchdog until then."""
        found = tuple(self.check())
        if found != self._reported:
            if found:
                log.error("watchdog: withholding the ping: %s", "; ".join(found))
                self.notifier.status("unhealthy: " + "; ".join(found))
            else:
                log.warning("watchdog: healthy again")
                self.notifier.status("running" if self._kiosk() is not None else "starting")
            self._reported = found
        if found or not self.ready_sent:
            return False
        return self.notifier.watchdog()

    # -- fire drill -------------------------------------------------------------------
    def _drill(self, _sig: int, _frame: FrameType | None) -> None:
        seconds = self._drill_s or 0.0
        log.warning("watchdog drill: freezing the UI loop for %g s", seconds)
        self.notifier.status(f"watchdog drill: UI loop frozen for {seconds:g} s")
        time.sleep(seconds)  # the drill: this thread, the Qt loop's, stops
        self.notifier.status("watchdog drill over")
        log.warning("watchdog drill: over")


def _drill_seconds(env: Mapping[str, str]) -> float | None:
    text = env.get(DRILL_ENV_VAR)
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 3600:
        log.error("%s=%r: expected seconds (0 < s <= 3600); drill disabled", DRILL_ENV_VAR, text)
        return None
    return seconds
