"""Python's cyclic garbage collector, run on the Qt thread only.

CPython runs an automatic collection in whichever thread happens to allocate when
a threshold is passed: the journal thread, a receipt being rendered in an executor
thread, a thread of Qt's. Garbage cycles can hold Qt objects (a closed dialog, a
timer, the wrappers of widgets, signal connections through lambdas), and a
collection off the Qt thread then destroys Qt objects from the wrong thread,
which crashes Qt. And a full collection of everything the app builds at start-up
(~85,000 tracked objects) holds the GIL for tens of milliseconds, whichever thread
runs it: the screen stalls.

So, while the app runs (:class:`QtThreadCollector`):

- automatic collection is off (``gc.disable()``);
- a QTimer on the Qt thread checks the collector's counts every
  :data:`CHECK_INTERVAL_MS` and collects the generations whose thresholds were
  passed, the same choice CPython would make (``gc.get_threshold()``);
- once the kiosk has started, what start-up built (modules, the window, device
  clients...) is frozen (``gc.freeze()``): it lives as long as the process, so no
  collection needs to scan it again, and a full collection only looks at what
  came since (a few thousand objects: ~1 ms).

Between two checks cyclic garbage just waits (at most a tenth of a second);
reference counting still frees everything else at once.
"""

from __future__ import annotations

import gc
import logging
import threading
import time

from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

#: Milliseconds between two looks at the collector's counts.
CHECK_INTERVAL_MS = 100


class QtThreadCollector(QObject):
    """Runs the cyclic garbage collector from a QTimer on the Qt thread; see the module
    docstring. ``start()`` on the Qt thread, ``freeze()`` after start-up, ``stop()``."""

    def __init__(self, interval_ms: int = CHECK_INTERVAL_MS) -> None:
        super().__init__()
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.collect_due)
        self._was_enabled: bool | None = None
        self._frozen = False
        self._thread: int | None = None
        #: Collections run, per generation (tests, diagnostics).
        self.collections = [0, 0, 0]
        #: The longest collection so far, in seconds.
        self.longest_s = 0.0

    @property
    def running(self) -> bool:
        return self._was_enabled is not None

    def start(self) -> None:
        """Automatic collection off; the Qt thread collects from now on."""
        if self.running:
            return
        self._thread = threading.get_ident()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def freeze(self) -> None:
        """After start-up: collect once, then freeze what is left (it stays for good)."""
        if not self.running or self._frozen:
            return
        started = time.perf_counter()
        gc.collect()
        gc.freeze()
        self._frozen = True
        log.debug(
            "gc: %d start-up objects frozen (collected in %.1f ms)",
            gc.get_freeze_count(),
            (time.perf_counter() - started) * 1000,
        )

    def stop(self) -> None:
        """Back to how the collector was before :meth:`start` (frozen objects thawed)."""
        if not self.running:
            return
        self._timer.stop()
        if self._frozen:
            gc.unfreeze()
            self._frozen = False
        if self._was_enabled:
            gc.enable()
        self._was_enabled = None

    def due(self) -> int | None:
        """The generation CPython would collect now, or None (nothing due)."""
        counts = gc.get_count()
        thresholds = gc.get_threshold()
        if not thresholds[0] or counts[0] <= thresholds[0]:
            return None
        for generation in (2, 1):
            if counts[generation] > thresholds[generation]:
                return generation
        return 0

    def collect_due(self) -> int | None:
        """Collect the generation that is due, if any (called by the timer)."""
        if self._thread is not None and threading.get_ident() != self._thread:
            raise RuntimeError("the Qt-thread collector was called from another thread")
        generation = self.due()
        if generation is None:
            return None
        started = time.perf_counter()
        gc.collect(generation)
        self.longest_s = max(self.longest_s, time.perf_counter() - started)
        self.collections[generation] += 1
        return generation


__all__ = ["CHECK_INTERVAL_MS", "QtThreadCollector"]
