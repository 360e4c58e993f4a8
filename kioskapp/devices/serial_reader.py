"""The optional USB-serial reader for customers' cashback cards (barcode or NFC number).

Contract: a USB-serial reader sending one code per line. What that gives us and
what we assume where it is silent, all in this one module:

- (doc) A pyserial URL or device path (``/dev/ttyACM0``, ``rfc2217://host:port``,
  ``loop://``), 9600 baud 8N1 by default. One code per line, ended by CR or LF.
- (doc) The configuration says whether the codes are barcodes or NFC numbers
  (``[serial_reader] code_kind``); the reader does not tell.
- (doc) Partial lines, garbage bytes and unplug/replug must not crash the app:
  the reader reconnects and reports its health.
- (assumed) CRLF (and LFCR) is one terminator: any CR or LF ends a line and
  empty lines are ignored.
- (assumed) A code is printable ASCII. Spaces and tabs around it are stripped;
  by default letters and digits only (``DEFAULT_CODE_PATTERN``, configurable).
  A line with any other byte (control byte, non-ASCII, invalid UTF-8) is
  dropped whole and never "cleaned up": a corrupted card number could be
  another customer's card, and the customer can simply scan again.
- (assumed) More than 128 bytes without a terminator is noise: those bytes and
  the rest of that line, up to the next terminator, are dropped.
- (assumed) Bytes sent while the port is closed are lost (pyserial also
  flushes the input buffer on open): a scan during a reconnect is repeated by
  the customer.
- (assumed) Unplug shows as a read error (``SerialException``/``OSError``, or
  a hang-up: "readiness to read but no data") and the device file going away;
  replug as the same path opening again. Point ``url`` at a stable name
  (``/dev/serial/by-id/...``), not at ``/dev/ttyACM0``, which may change.

Threading: pyserial blocks, so one dedicated thread owns the port (opens,
reads, frames, closes it) and hands complete codes and connection changes to
the asyncio loop with ``loop.call_soon_threadsafe``. Everything else (health,
the code queue, logging of drops, reconnect timers) lives on the loop thread,
so nothing needs a lock and nothing blocking ever runs on the loop. Reconnect
attempts are driven by the injected :class:`~kioskapp.core.clock.Clock`: after
a failure the thread waits until a clock timer tells it to try again. The
first retry comes ``reconnect_min_s`` after a disconnect, then each failed
open doubles the wait, capped at ``reconnect_max_s`` (one timer at a time).
A read poll of 0.1 s bounds how long :meth:`SerialCardReader.stop` waits.

Privacy: a code is a customer's card number. It is never logged in full, at
any level: logs carry its length and last 4 characters (:func:`mask_code`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

import serial

from kioskapp.config import CodeKind, Config
from kioskapp.core.clock import Clock, SystemClock, TimerHandle
from kioskapp.devices.errors import ServiceUnavailable

log = logging.getLogger(__name__)

SERVICE: Final = "serial_reader"

ReaderState = Literal["connected", "disconnected", "disabled"]

#: Longest line (bytes, terminator excluded) the reader accepts.
MAX_LINE_BYTES: Final = 128

#: What a code may look like after stripping, by default: letters and digits.
DEFAULT_CODE_PATTERN: Final = r"[0-9A-Za-z]+"

#: Codes waiting for a consumer; beyond this the oldest is dropped.
DEFAULT_QUEUE_SIZE: Final = 16

#: How long one blocking read waits, which bounds how fast the thread sees stop().
_READ_POLL_S: Final = 0.1

#: stop() waits this long for the port thread before leaving it (daemon) behind.
_STOP_WAIT_S: Final = 5.0

_CODE_KINDS: Final = ("barcode", "nfc")


# -- public types ---------------------------------------------------------------


class ReaderStopped(ServiceUnavailable):
    """The reader is not running (never started, or stopped): no code will come."""

    retryable = False


def mask_code(value: str) -> str:
    """A code as it may appear in logs: its length and at most its last 4 characters."""
    tail = value[-4:] if len(value) > 4 else ""
    return f"{len(value)} chars, …{tail}" if tail else f"{len(value)} chars"


@dataclass(frozen=True)
class ScannedCode:
    """One code read from the card reader. ``at``: clock time it reached the app."""

    value: str = field(repr=False)
    kind: CodeKind
    at: float

    def __repr__(self) -> str:
        return f"ScannedCode(value=<{mask_code(self.value)}>, kind={self.kind!r}, at={self.at!r})"


@dataclass(frozen=True)
class ReaderHealth:
    """What the maintenance dashboard shows for the card reader (a snapshot).

    ``garbage_dropped`` counts dropped lines (garbage, over-long, invalid,
    cut by a disconnect), not bytes. ``reconnect_attempts`` counts failed
    opens since the port was last connected. ``since``: clock time of the
    last change of ``state``.
    """

    state: ReaderState
    last_error: str | None = None
    last_error_at: float | None = None
    codes_read: int = 0
    garbage_dropped: int = 0
    reconnect_attempts: int = 0
    since: float | None = None


class SerialPort(Protocol):
    """The part of a pyserial ``Serial`` the reader uses."""

    def read(self, size: int = 1) -> bytes: ...

    @property
    def in_waiting(self) -> int: ...

    def close(self) -> None: ...


#: Opens a port: ``(url, baudrate, read_timeout_s) -> port``; raises OSError
#: (pyserial's SerialException is one) or ValueError when it cannot.
PortOpener = Callable[[str, int, float], SerialPort]


def open_serial_port(url: str, baudrate: int, read_timeout_s: float) -> SerialPort:
    """Open ``url`` with pyserial, 8N1, exclusively (one owner per device)."""
    port: SerialPort = serial.serial_for_url(
        url,
        baudrate=baudrate,
        bytesize=serial.EIGHTBITS,
        parity=serial.PARITY_NONE,
        stopbits=serial.STOPBITS_ONE,
        timeout=read_timeout_s,
        exclusive=True,
    )
    return port


# -- framing (pure; runs on the port thread) -------------------------------------


@dataclass(frozen=True)
class DroppedLine:
    """A line (or a run of bytes) thrown away, and why. Never holds the bytes."""

    reason: str
    size: int


class LineFramer:
    """Turns a byte stream into codes: one per CR/LF-terminated line.

    Feed it whatever the port returned; it keeps a partial line until its
    terminator. :meth:`feed` returns, in stream order, each valid code (a
    ``str``) and each :class:`DroppedLine`. Empty lines give nothing.
    """

    def __init__(
        self,
        *,
        max_line_bytes: int = MAX_LINE_BYTES,
        code_pattern: str | re.Pattern[str] = DEFAULT_CODE_PATTERN,
    ) -> None:
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self._max = max_line_bytes
        self._pattern = re.compile(code_pattern) if isinstance(code_pattern, str) else code_pattern
        self._buffer = bytearray()
        self._discarding = False  # inside an over-long line, until its terminator

    @property
    def pending(self) -> int:
        """Bytes of the partial line held back."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[str | DroppedLine]:
        out: list[str | DroppedLine] = []
        for byte in data:
            if byte in (0x0D, 0x0A):
                if self._discarding:
                    self._discarding = False
                elif self._buffer:
                    item = self._parse(bytes(self._buffer))
                    if item is not None:
                        out.append(item)
                self._buffer.clear()
            elif not self._discarding:
                self._buffer.append(byte)
                if len(self._buffer) > self._max:
                    out.append(
                        DroppedLine(f"line longer than {self._max} bytes", len(self._buffer))
                    )
                    self._buffer.clear()
                    self._discarding = True
        return out

    def reset(self) -> DroppedLine | None:
        """Forget the partial line (the port closed); report it if there was one."""
        size = len(self._buffer)
        self._buffer.clear()
        self._discarding = False
        return DroppedLine("incomplete line cut by a disconnect", size) if size else None

    def _parse(self, raw: bytes) -> str | DroppedLine | None:
        line = raw.strip(b" \t")
        if not line:
            return None
        if any(b < 0x20 or b > 0x7E for b in line):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return DroppedLine("invalid UTF-8", len(raw))
            return DroppedLine("non-printable or non-ASCII bytes", len(raw))
        text = line.decode("ascii")
        if self._pattern.fullmatch(text) is None:
            return DroppedLine("not a valid code", len(raw))
        return text


# -- the reader --------------------------------------------------------------------


class _Stop:
    """Queue marker: the reader stopped."""


_STOP: Final = _Stop()


@dataclass
class _Worker:
    """One run of the port thread (from start() to stop())."""

    stop: threading.Event = field(default_factory=threading.Event)
    retry: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    done: asyncio.Future[None] | None = None


class SerialCardReader:
    """Reads customers' card codes from a serial port, one thread owning the port.

    ``await start()`` starts the port thread and returns at once (the port
    may still be opening: watch :attr:`health`). ``await next_code()`` or
    ``async for code in codes()`` give each code once, in order; both end
    with :class:`ReaderStopped` (resp. the end of the iteration) on
    :meth:`stop`. A disabled reader starts nothing and never gives a code.
    """

    def __init__(
        self,
        url: str,
        baudrate: int = 9600,
        code_kind: CodeKind = "barcode",
        *,
        clock: Clock | None = None,
        enabled: bool = True,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 10.0,
        code_pattern: str | re.Pattern[str] = DEFAULT_CODE_PATTERN,
        max_line_bytes: int = MAX_LINE_BYTES,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        garbage_log_interval_s: float = 60.0,
        open_port: PortOpener = open_serial_port,
    ) -> None:
        if code_kind not in _CODE_KINDS:
            raise ValueError(f"code_kind must be 'barcode' or 'nfc', got {code_kind!r}")
        if baudrate < 1:
            raise ValueError("baudrate must be positive")
        if not 0 < reconnect_min_s <= reconnect_max_s:
            raise ValueError("need 0 < reconnect_min_s <= reconnect_max_s")
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        if max_line_bytes < 1:
            raise ValueError("max_line_bytes must be at least 1")
        self.url = url
        self.baudrate = baudrate
        self.code_kind: CodeKind = code_kind
        self.enabled = enabled
        self._clock: Clock = clock or SystemClock()
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._code_pattern = (
            re.compile(code_pattern) if isinstance(code_pattern, str) else code_pattern
        )
        self._max_line_bytes = max_line_bytes
        self._queue_size = queue_size
        self._garbage_log_interval_s = garbage_log_interval_s
        self._open_port = open_port

        self._queue: asyncio.Queue[ScannedCode | _Stop] = asyncio.Queue()
        self._worker: _Worker | None = None
        self._retry_timer: TimerHandle | None = None
        self._health_changed = asyncio.Event()
        # health (loop thread only)
        self._state: ReaderState = "disconnected" if enabled else "disabled"
        self._since: float | None = None
        self._last_error: str | None = None
        self._last_error_at: float | None = None
        self._codes_read = 0
        self._garbage_dropped = 0
        self._reconnect_attempts = 0
        self._garbage_unlogged = 0
        self._garbage_logged_at: float | None = None

    # -- state --------------------------------------------------------------------
    @property
    def health(self) -> ReaderHealth:
        return ReaderHealth(
            state=self._state,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            codes_read=self._codes_read,
            garbage_dropped=self._garbage_dropped,
            reconnect_attempts=self._reconnect_attempts,
            since=self._since,
        )

    @property
    def running(self) -> bool:
        """Whether the port thread is alive (for the watchdog; False when disabled)."""
        worker = self._worker
        return worker is not None and worker.thread is not None and worker.thread.is_alive()

    async def wait_health(self, predicate: Callable[[ReaderHealth], bool]) -> ReaderHealth:
        """Wait until ``predicate(health)`` holds; returns that health. Bound it with wait_for."""
        while True:
            health = self.health
            if predicate(health):
                return health
            await self._health_changed.wait()

    def _notify_health(self) -> None:
        self._health_changed.set()
        self._health_changed = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------
    async def start(self) -> None:
        """Start the port thread (no-op when disabled or already started)."""
        if not self.enabled or self._worker is not None:
            return
        loop = asyncio.get_running_loop()
        self._drain_queue()
        worker = _Worker(done=loop.create_future())
        worker.thread = threading.Thread(
            target=self._run_port, args=(worker, loop), name="serial-card-reader", daemon=True
        )
        self._worker = worker
        self._reconnect_attempts = 0
        worker.thread.start()

    async def stop(self) -> None:
        """Stop reading, close the port (on its thread) and join the thread.

        Waiting consumers get :class:`ReaderStopped`; ``codes()`` loops end.
        """
        worker, self._worker = self._worker, None
        self._cancel_retry_timer()
        self._put(_STOP)
        if worker is None:
            return
        worker.stop.set()
        worker.retry.set()
        assert worker.done is not None
        assert worker.thread is not None
        done, _ = await asyncio.wait({worker.done}, timeout=_STOP_WAIT_S)
        if done:
            # The thread's last act was to signal done: this join returns at once.
            worker.thread.join(timeout=_READ_POLL_S)
        else:
            log.error(
                "serial reader %s: port thread did not stop within %.0f s; left behind",
                self.url,
                _STOP_WAIT_S,
            )
        if self._state == "connected":
            self._set_state("disconnected")

    async def __aenter__(self) -> SerialCardReader:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- codes --------------------------------------------------------------------
    async def next_code(self) -> ScannedCode:
        """The next code read (oldest first). Raises ReaderStopped if not running."""
        if self._worker is None and self._queue.empty():
            raise ReaderStopped("card reader is not running", service=SERVICE)
        item = await self._queue.get()
        if isinstance(item, _Stop):
            self._queue.put_nowait(item)  # for every other waiter
            raise ReaderStopped("card reader stopped", service=SERVICE)
        return item

    async def codes(self) -> AsyncIterator[ScannedCode]:
        """Every code read, until the reader stops."""
        while True:
            try:
                code = await self.next_code()
            except ReaderStopped:
                return
            yield code

    def discard_pending(self) -> int:
        """Drop codes read but not yet taken (call on entering the step that wants one,
        so a card scanned earlier, perhaps by someone else, is not used). Returns how many."""
        dropped = 0
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, _Stop):
                self._queue.put_nowait(item)
                break
            dropped += 1
        return dropped

    def _drain_queue(self) -> None:
        while not self._queue.empty():
            self._queue.get_nowait()

    def _put(self, item: ScannedCode | _Stop) -> None:
        if self._queue.qsize() >= self._queue_size:
            oldest = self._queue.get_nowait()
            if isinstance(oldest, ScannedCode):
                log.warning(
                    "serial reader: %d codes waiting and nobody reading; dropped the oldest",
                    self._queue_size,
                )
        self._queue.put_nowait(item)

    # -- the port thread ------------------------------------------------------------
    def _run_port(self, worker: _Worker, loop: asyncio.AbstractEventLoop) -> None:
        """Thread body: the only code that touches the port."""

        def post(callback: Callable[..., object], *args: object) -> None:
            try:
                loop.call_soon_threadsafe(callback, worker, *args)
            except RuntimeError:  # the loop is closed: nobody left to tell
                worker.stop.set()

        try:
            while not worker.stop.is_set():
                try:
                    self._connect_and_read(worker, post)
                except Exception as exc:  # the port thread's crash handler (log.exception)
                    log.exception("serial reader %s: port thread failed", self.url)
                    post(self._on_disconnected, f"internal error: {type(exc).__name__}")
                if worker.stop.is_set():
                    break
                # Wait until the loop's clock timer (or stop()) says go.
                worker.retry.wait()
                worker.retry.clear()
        finally:
            done = worker.done
            if done is not None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(_resolve, done)

    def _connect_and_read(self, worker: _Worker, post: Callable[..., None]) -> None:
        try:
            port = self._open_port(self.url, self.baudrate, _READ_POLL_S)
        except (OSError, ValueError) as exc:
            post(self._on_open_failed, _describe(exc))
            return
        framer = LineFramer(max_line_bytes=self._max_line_bytes, code_pattern=self._code_pattern)
        post(self._on_connected)
        try:
            while not worker.stop.is_set():
                try:
                    data = port.read(max(1, port.in_waiting))
                except (OSError, ValueError, TypeError) as exc:
                    # OSError: SerialException, EIO; ValueError/TypeError: pyserial
                    # on an fd closed under it (seen on some USB drivers).
                    cut = framer.reset()
                    if cut is not None:
                        post(self._on_items, [cut])
                    post(self._on_disconnected, _describe(exc))
                    return
                if data:
                    items = framer.feed(data)
                    if items:
                        post(self._on_items, items)
        finally:
            with contextlib.suppress(OSError, ValueError, TypeError):
                port.close()

    # -- loop-thread callbacks (posted by the port thread) -----------------------------
    def _on_connected(self, worker: _Worker) -> None:
        if worker is not self._worker:
            return
        self._reconnect_attempts = 0
        self._cancel_retry_timer()
        log.info("serial reader %s: connected", self.url)
        self._set_state("connected")

    def _on_open_failed(self, worker: _Worker, error: str) -> None:
        if worker is not self._worker:
            return
        self._reconnect_attempts += 1
        # One warning per outage (or when the reason changes), then quiet retries.
        loud = self._reconnect_attempts == 1 or error != self._last_error
        (log.warning if loud else log.debug)(
            "serial reader %s: cannot open (attempt %d): %s",
            self.url,
            self._reconnect_attempts,
            error,
        )
        self._record_error(error)
        self._schedule_retry(worker)
        self._notify_health()

    def _on_disconnected(self, worker: _Worker, error: str) -> None:
        if worker is not self._worker:
            return
        log.warning("serial reader %s: disconnected: %s", self.url, error)
        self._reconnect_attempts = 0
        self._record_error(error)
        self._set_state("disconnected")
        self._schedule_retry(worker)

    def _on_items(self, worker: _Worker, items: list[str | DroppedLine]) -> None:
        if worker is not self._worker:
            return
        for item in items:
            if isinstance(item, DroppedLine):
                self._on_garbage(item)
                continue
            code = ScannedCode(item, self.code_kind, self._clock.time())
            self._codes_read += 1
            log.info("serial reader: %s code read (%s)", self.code_kind, mask_code(item))
            self._put(code)
        self._notify_health()

    def _on_garbage(self, dropped: DroppedLine) -> None:
        self._garbage_dropped += 1
        self._garbage_unlogged += 1
        now = self._clock.monotonic()
        last = self._garbage_logged_at
        if last is not None and now - last < self._garbage_log_interval_s:
            return
        log.warning(
            "serial reader %s: dropped %d garbage line(s) (latest: %s, %d bytes; %d in total)",
            self.url,
            self._garbage_unlogged,
            dropped.reason,
            dropped.size,
            self._garbage_dropped,
        )
        self._garbage_unlogged = 0
        self._garbage_logged_at = now

    # -- helpers -------------------------------------------------------------------
    def _record_error(self, error: str) -> None:
        self._last_error = error
        self._last_error_at = self._clock.time()

    def _set_state(self, state: ReaderState) -> None:
        if state != self._state:
            self._state = state
            self._since = self._clock.time()
        self._notify_health()

    def _backoff(self) -> float:
        exponent = min(self._reconnect_attempts, 30)
        return min(self._reconnect_max_s, self._reconnect_min_s * 2.0**exponent)

    def _schedule_retry(self, worker: _Worker) -> None:
        self._cancel_retry_timer()
        self._retry_timer = self._clock.call_later(self._backoff(), worker.retry.set)

    def _cancel_retry_timer(self) -> None:
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _describe(exc: BaseException) -> str:
    """A one-line, bounded description of a port error for logs and the dashboard."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def from_config(config: Config, *, clock: Clock | None = None) -> SerialCardReader:
    """The reader ``[serial_reader]`` describes; a disabled one when ``enabled = false``."""
    settings = config.serial_reader
    return SerialCardReader(
        settings.url,
        baudrate=settings.baudrate,
        code_kind=settings.code_kind,
        clock=clock,
        enabled=settings.enabled,
    )


__all__ = [
    "DEFAULT_CODE_PATTERN",
    "MAX_LINE_BYTES",
    "SERVICE",
    "DroppedLine",
    "LineFramer",
    "PortOpener",
    "ReaderHealth",
    "ReaderState",
    "ReaderStopped",
    "ScannedCode",
    "SerialCardReader",
    "SerialPort",
    "from_config",
    "mask_code",
    "open_serial_port",
]
