"""Time, injectable: the real clock, and a controllable one for tests and simulators.

Everything that waits or reads the time (escrow deadlines, token expiry, idle
timeouts, the simulators' 90 s / 2 min device timers) takes a :class:`Clock`.
Production uses :class:`SystemClock`; tests and simulators use
:class:`ControlledClock`, whose time only moves when advanced (or, with a
``speed``, runs that many times faster than real time), so a 90 s timer is
tested without waiting 90 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Clock(Protocol):
    """The time source every timer in kioskapp goes through."""

    def time(self) -> float:
        """Seconds since the Unix epoch (the clock JWT ``exp`` and device timestamps use)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards, for measuring intervals."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...

    def call_later(self, seconds: float, callback: Callable[[], object]) -> TimerHandle:
        """Run ``callback`` once after ``seconds`` of this clock's time."""
        ...


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class SystemClock:
    """The real clock: asyncio's loop time and the system's wall clock."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, seconds: float, callback: Callable[[], object]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, seconds), callback)


class _Timer:
    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], object]) -> None:
        self.deadline = deadline
        self.callback: Callable[[], object] | None = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True
        self.callback = None


class ControlledClock:
    """A clock whose time moves by :meth:`advance`, and optionally also by itself.

    ``speed=None`` (tests): time stands still until advanced; nothing happens on
    its own. ``speed=10.0`` (a demo or an integrator trying long timeouts):
    time runs ten times faster than real time, and can still be advanced.
    Due timers and sleepers run in deadline order when time reaches them.
    """

    def __init__(self, start: float | None = None, speed: float | None = None) -> None:
        if speed is not None and speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed!r}")
        self._base = time.time() if start is None else start
        self._offset = 0.0
        self._speed = speed
        self._real_start = time.monotonic()
        self._timers: list[tuple[float, int, _Timer]] = []
        self._seq = itertools.count()
        self._wake: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None

    @property
    def speed(self) -> float | None:
        return self._speed

    # -- reading ----------------------------------------------------------
    def _elapsed(self) -> float:
        flowing = 0.0
        if self._speed is not None:
            flowing = (time.monotonic() - self._real_start) * self._speed
        return flowing + self._offset

    def time(self) -> float:
        return self._base + self._elapsed()

    def monotonic(self) -> float:
        return self._elapsed()

    # -- moving -----------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move time forward and run every timer that became due, in order."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        target = self.monotonic() + seconds
        # Step through each deadline so a timer armed by a timer sees the time
        # its parent fired at, exactly as it would in real time.
        while self._timers and self._timers[0][0] <= target:
            deadline = self._timers[0][0]
            if deadline > self.monotonic():
                self._offset += deadline - self.monotonic()
            self._run_due()
        self._offset += max(0.0, target - self.monotonic())
        self._run_due()

    def _run_due(self) -> None:
        now = self.monotonic()
        while self._timers and self._timers[0][0] <= now:
            _, _, timer = heapq.heappop(self._timers)
            callback = timer.callback
            if callback is not None and not timer.cancelled:
                timer.cancel()
                callback()

    # -- waiting ----------------------------------------------------------
    def call_later(self, seconds: float, callback: Callable[[], object]) -> TimerHandle:
        timer = _Timer(self.monotonic() + max(0.0, seconds), callback)
        heapq.heappush(self._timers, (timer.deadline, next(self._seq), timer))
        self._ensure_runner()
        return timer

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        handle = self.call_later(seconds, wake)
        if seconds <= 0:
            self._run_due()
        try:
            await future
        finally:
            handle.cancel()

    def pending_timers(self) -> int:
        """How many timers are waiting (for tests that check nothing is left armed)."""
        return sum(1 for _, _, t in self._timers if not t.cancelled)

    def pending_deadlines(self) -> list[float]:
        """Seconds of clock time until each live timer, soonest first."""
        now = self.monotonic()
        return sorted(max(0.0, d - now) for d, _, t in self._timers if not t.cancelled)

    def next_deadline_in(self) -> float | None:
        """Seconds of clock time until the next live timer, or None."""
        live = [d for d, _, t in self._timers if not t.cancelled]
        return None if not live else max(0.0, min(live) - self.monotonic())

    def _ensure_runner(self) -> None:
        """With a speed, a background task fires timers as real time passes."""
        if self._speed is None:
            return
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(
                self._run(), name="controlled-clock"
            )

    async def _run(self) -> None:
        assert self._wake is not None
        assert self._speed is not None
        while True:
            self._wake.clear()
            self._run_due()
            wait = self.next_deadline_in()
            if wait is None:
                await self._wake.wait()
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait / self._speed)

    async def aclose(self) -> None:
        """Stop the background timer task (speed mode); pending timers are dropped."""
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
            self._runner = None
        self._timers.clear()
