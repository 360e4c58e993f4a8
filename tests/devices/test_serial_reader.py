"""The serial customer card reader against a virtual reader on a real pty (and loop://).

Reconnect backoff runs on the ControlledClock: a test advances the clock to
the next retry and then waits for the health change, so nothing waits real
seconds. Every wait is bounded by ``asyncio.wait_for``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

from kioskapp.config import Config, SerialReaderSettings
from kioskapp.core.clock import ControlledClock
from kioskapp.devices.serial_reader import (
    DroppedLine,
    LineFramer,
    ReaderHealth,
    ReaderStopped,
    ScannedCode,
    SerialCardReader,
    SerialPort,
    from_config,
    mask_code,
    open_serial_port,
)
from kioskapp.simulator.serial_reader import ReaderUnplugged, VirtualSerialReader

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX ptys")

WAIT = 5.0  # upper bound for anything the port thread does; normally milliseconds
MIN_S = 0.05
MAX_S = 0.4


# -- helpers ---------------------------------------------------------------------


async def next_code(reader: SerialCardReader) -> ScannedCode:
    return await asyncio.wait_for(reader.next_code(), WAIT)


async def health(
    reader: SerialCardReader, predicate: Callable[[ReaderHealth], bool]
) -> ReaderHealth:
    return await asyncio.wait_for(reader.wait_health(predicate), WAIT)


def connected(h: ReaderHealth) -> bool:
    return h.state == "connected"


def disconnected(h: ReaderHealth) -> bool:
    return h.state == "disconnected"


def make_reader(url: str, clock: ControlledClock, **kwargs: Any) -> SerialCardReader:
    kwargs.setdefault("reconnect_min_s", MIN_S)
    kwargs.setdefault("reconnect_max_s", MAX_S)
    return SerialCardReader(url, clock=clock, **kwargs)


@pytest.fixture
def virtual() -> Iterator[VirtualSerialReader]:
    with VirtualSerialReader() as device:
        yield device


@pytest_asyncio.fixture
async def reader(
    virtual: VirtualSerialReader, clock: ControlledClock
) -> AsyncIterator[SerialCardReader]:
    card_reader = make_reader(virtual.path, clock)
    await card_reader.start()
    try:
        await health(card_reader, connected)
        yield card_reader
    finally:
        await card_reader.stop()
    assert not card_reader.running
    assert clock.pending_timers() == 0


class LoopPorts:
    """An opener for loop:// that keeps each port so the test can feed it bytes."""

    def __init__(self) -> None:
        self.ports: list[Any] = []
        self.fail_next: BaseException | None = None
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def __call__(self, url: str, baudrate: int, timeout: float) -> SerialPort:
        self.entered.set()
        self.release.wait()
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error
        port = open_serial_port(url, baudrate, timeout)
        self.ports.append(port)
        return port

    def send(self, data: bytes) -> None:
        self.ports[-1].write(data)


# -- framing on a real pty ----------------------------------------------------------


async def test_codes_ended_by_cr_lf_or_crlf(
    reader: SerialCardReader, virtual: VirtualSerialReader, clock: ControlledClock
) -> None:
    virtual.scan("CR1", "\r")
    virtual.scan("LF2", "\n")
    virtual.scan("CRLF3", "\r\n")
    virtual.scan("LFCR4", "\n\r")
    codes = [await next_code(reader) for _ in range(4)]
    assert [c.value for c in codes] == ["CR1", "LF2", "CRLF3", "LFCR4"]
    assert {c.kind for c in codes} == {"barcode"}
    assert {c.at for c in codes} == {clock.time()}
    h = reader.health
    assert (h.state, h.codes_read, h.garbage_dropped) == ("connected", 4, 0)


async def test_code_split_across_writes_is_buffered_until_its_terminator(
    reader: SerialCardReader, virtual: VirtualSerialReader
) -> None:
    for part in (b"84", b"1234", b"5678", b"901\r"):
        virtual.write_raw(part)
    virtual.write_raw(b"\n")  # the LF of a CRLF split off: no empty code, no garbage
    virtual.write_raw(b"  42  \r\n")  # spaces around a code are stripped
    virtual.write_raw(b"\r\n\n\r")  # empty lines are ignored
    virtual.scan("NEXT")
    assert [(await next_code(reader)).value for _ in range(3)] == ["8412345678901", "42", "NEXT"]
    assert reader.health.garbage_dropped == 0
    assert reader.health.codes_read == 3


async def test_garbage_and_invalid_utf8_between_codes_are_dropped_and_counted(
    reader: SerialCardReader, virtual: VirtualSerialReader
) -> None:
    virtual.scan("111")
    virtual.write_raw(b"\x00\x01\x1b[2J\r\n")  # control bytes
    virtual.write_raw(b"\xc3\x28\xff\xfe\n")  # invalid UTF-8
    virtual.write_raw("café\r\n".encode())  # valid UTF-8, but not ASCII
    virtual.write_raw(b"12-34\r\n")  # printable, but not a code by the default pattern
    virtual.scan("222")
    assert (await next_code(reader)).value == "111"
    assert (await next_code(reader)).value == "222"
    h = reader.health
    assert (h.codes_read, h.garbage_dropped, h.state) == (2, 4, "connected")


async def test_garbage_glued_to_a_code_drops_that_whole_line(
    reader: SerialCardReader, virtual: VirtualSerialReader
) -> None:
    # A line with a bad byte is never "cleaned" into a code: it may be a
    # corrupted card number. The customer scans again.
    virtual.write_raw(b"\xff\xfe" + b"333\r\n")
    virtual.write_raw(b"33\x003\r\n")
    virtual.scan("444")
    assert (await next_code(reader)).value == "444"
    assert reader.health.garbage_dropped == 2


async def test_over_long_line_is_dropped_up_to_its_terminator(
    reader: SerialCardReader, virtual: VirtualSerialReader
) -> None:
    virtual.write_raw(b"9" * 130)  # over 128 bytes without a terminator
    virtual.write_raw(b"TAIL\r\n")  # the rest of that line is not a code either
    virtual.scan("7" * 128)  # exactly the limit is fine
    virtual.write_raw(b"8" * 400 + b"\n")
    virtual.scan("555")
    assert (await next_code(reader)).value == "7" * 128
    assert (await next_code(reader)).value == "555"
    assert reader.health.garbage_dropped == 2


# -- unplug / replug ----------------------------------------------------------------


async def test_unplug_then_replug_reconnects_and_reads_the_next_code(
    reader: SerialCardReader, virtual: VirtualSerialReader, clock: ControlledClock
) -> None:
    virtual.scan("BEFORE")
    assert (await next_code(reader)).value == "BEFORE"

    virtual.unplug()
    h = await health(reader, disconnected)
    assert h.last_error
    assert h.last_error_at == clock.time()
    assert h.since == clock.time()
    assert clock.next_deadline_in() == pytest.approx(MIN_S)  # the first retry is armed
    with pytest.raises(ReaderUnplugged):
        virtual.scan("NOWHERE")

    virtual.replug()  # a new pty behind the same symlink (the kernel may reuse the number)
    assert virtual.plugs == 2
    clock.advance(MIN_S)
    h = await health(reader, connected)
    assert h.reconnect_attempts == 0
    assert h.last_error  # the outage stays visible on the dashboard
    virtual.scan("AFTER")
    assert (await next_code(reader)).value == "AFTER"
    assert reader.health.codes_read == 2


async def test_reconnect_backoff_doubles_up_to_the_cap(
    reader: SerialCardReader, virtual: VirtualSerialReader, clock: ControlledClock
) -> None:
    virtual.unplug()
    await health(reader, disconnected)
    delays = []
    for attempt in range(1, 6):
        wait = clock.next_deadline_in()
        assert wait is not None
        delays.append(wait)
        clock.advance(wait)
        h = await health(reader, lambda h, n=attempt: h.reconnect_attempts == n)  # type: ignore[misc]
        assert h.state == "disconnected"
        assert h.last_error
    assert delays == pytest.approx([MIN_S, 2 * MIN_S, 4 * MIN_S, MAX_S, MAX_S])
    assert clock.next_deadline_in() == pytest.approx(MAX_S)
    assert clock.pending_timers() == 1  # one retry armed at a time, never a pile

    virtual.replug()
    clock.advance(MAX_S)
    h = await health(reader, connected)
    assert h.reconnect_attempts == 0
    assert clock.pending_timers() == 0
    virtual.scan("BACK")
    assert (await next_code(reader)).value == "BACK"


async def test_device_absent_at_start_is_retried_until_plugged_in(
    virtual: VirtualSerialReader, clock: ControlledClock
) -> None:
    virtual.unplug()
    card_reader = make_reader(virtual.path, clock)
    await card_reader.start()
    try:
        h = await health(card_reader, lambda h: h.reconnect_attempts == 1)
        assert h.state == "disconnected"
        assert h.last_error is not None
        assert "No such file" in h.last_error
        virtual.replug()
        wait = clock.next_deadline_in()
        assert wait is not None
        clock.advance(wait)
        await health(card_reader, connected)
        virtual.scan("BOOT")
        assert (await next_code(card_reader)).value == "BOOT"
    finally:
        await card_reader.stop()
    assert clock.pending_timers() == 0


# -- stopping -------------------------------------------------------------------------


async def test_stop_while_consumers_wait(
    virtual: VirtualSerialReader, clock: ControlledClock
) -> None:
    card_reader = make_reader(virtual.path, clock)
    await card_reader.start()
    await health(card_reader, connected)
    seen: list[ScannedCode] = []

    async def consume() -> None:
        async for code in card_reader.codes():
            seen.append(code)

    waiter = asyncio.create_task(card_reader.next_code())
    loop_consumer = asyncio.create_task(consume())
    await card_reader.stop()
    with pytest.raises(ReaderStopped):
        await asyncio.wait_for(waiter, WAIT)
    await asyncio.wait_for(loop_consumer, WAIT)  # the async for simply ends
    assert seen == []
    assert not card_reader.running
    assert card_reader.health.state == "disconnected"
    with pytest.raises(ReaderStopped):
        await card_reader.next_code()  # not running: immediately


async def test_stop_while_waiting_to_reconnect(
    reader: SerialCardReader, virtual: VirtualSerialReader, clock: ControlledClock
) -> None:
    virtual.unplug()
    await health(reader, disconnected)
    assert clock.pending_timers() == 1
    await asyncio.wait_for(reader.stop(), WAIT)
    assert not reader.running
    assert clock.pending_timers() == 0  # the retry timer is gone too


async def test_restart_after_stop(reader: SerialCardReader, virtual: VirtualSerialReader) -> None:
    await reader.stop()
    await reader.start()
    await health(reader, connected)
    virtual.scan("AGAIN")
    assert (await next_code(reader)).value == "AGAIN"


# -- consumers --------------------------------------------------------------------------


async def test_queue_keeps_the_newest_codes_and_can_be_emptied(
    virtual: VirtualSerialReader, clock: ControlledClock
) -> None:
    async with make_reader(virtual.path, clock, queue_size=2) as card_reader:
        await health(card_reader, connected)
        for code in ("A", "B", "C"):
            virtual.scan(code)
        await health(card_reader, lambda h: h.codes_read == 3)
        assert (await next_code(card_reader)).value == "B"  # A, the oldest, was dropped
        virtual.scan("D")
        virtual.scan("E")
        await health(card_reader, lambda h: h.codes_read == 5)
        assert card_reader.discard_pending() == 2
        virtual.scan("F")
        assert (await next_code(card_reader)).value == "F"


async def test_full_code_is_never_logged(
    reader: SerialCardReader, virtual: VirtualSerialReader, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="kioskapp")
    virtual.scan("4000123412345678")
    code = await next_code(reader)
    assert code.value == "4000123412345678"
    assert "4000123412345678" not in caplog.text
    assert "…5678" in caplog.text
    assert "16 chars" in caplog.text
    assert "4000123412345678" not in repr(code)
    assert mask_code("1234") == "4 chars"


async def test_garbage_log_is_rate_limited_but_counted(
    reader: SerialCardReader,
    virtual: VirtualSerialReader,
    clock: ControlledClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="kioskapp.devices.serial_reader")

    def garbage_records() -> list[logging.LogRecord]:
        return [r for r in caplog.records if "garbage" in r.getMessage()]

    for _ in range(3):
        virtual.write_raw(b"\xff\r\n")
    virtual.scan("X1")
    await next_code(reader)
    assert len(garbage_records()) == 1  # the first drop is reported, the next two counted
    assert reader.health.garbage_dropped == 3

    clock.advance(60)
    virtual.write_raw(b"\x07\n")
    virtual.scan("X2")
    await next_code(reader)
    records = garbage_records()
    assert len(records) == 2
    assert "dropped 3 garbage line(s)" in records[1].getMessage()
    assert "4 in total" in records[1].getMessage()


# -- other URLs and the loop -------------------------------------------------------------


async def test_pyserial_loop_url(clock: ControlledClock) -> None:
    ports = LoopPorts()
    async with make_reader("loop://", clock, code_kind="nfc", open_port=ports) as card_reader:
        await health(card_reader, connected)
        ports.send(b"04A2B3C4D5E6F7\r")
        ports.send(b"\n0102")
        ports.send(b"0304\n")
        first, second = await next_code(card_reader), await next_code(card_reader)
    assert (first.value, first.kind) == ("04A2B3C4D5E6F7", "nfc")
    assert second.value == "01020304"


async def test_the_event_loop_runs_while_the_port_thread_blocks(clock: ControlledClock) -> None:
    ports = LoopPorts()
    ports.release.clear()  # the open hangs, like a USB device that does not answer
    card_reader = make_reader("loop://", clock, open_port=ports)
    await asyncio.wait_for(card_reader.start(), WAIT)  # returns although the port is not open
    try:
        assert await asyncio.to_thread(ports.entered.wait, WAIT)
        await heartbeat(200)  # the loop keeps turning while the thread is stuck in open()
        assert card_reader.health.state == "disconnected"

        ports.release.set()
        await health(card_reader, connected)
        waiting = asyncio.create_task(card_reader.next_code())
        await heartbeat(200)  # ... and while it sits in read() with nothing to read
        assert not waiting.done()
        ports.send(b"HB1\r\n")
        assert (await asyncio.wait_for(waiting, WAIT)).value == "HB1"
    finally:
        ports.release.set()
        await card_reader.stop()


async def heartbeat(ticks: int) -> None:
    """Run ``ticks`` loop callbacks in a chain; only completes if the loop is free."""
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    count = 0

    def tick() -> None:
        nonlocal count
        count += 1
        if count >= ticks:
            done.set()
        else:
            loop.call_soon(tick)

    loop.call_soon(tick)
    await asyncio.wait_for(done.wait(), WAIT)
    assert count == ticks


async def test_an_unexpected_error_in_the_port_thread_is_survived(
    clock: ControlledClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="kioskapp.devices.serial_reader")
    ports = LoopPorts()
    ports.fail_next = RuntimeError("driver bug")
    async with make_reader("loop://", clock, open_port=ports) as card_reader:
        h = await health(card_reader, lambda h: h.last_error is not None)
        assert h.state == "disconnected"
        assert h.last_error == "internal error: RuntimeError"
        assert "port thread failed" in caplog.text
        wait = clock.next_deadline_in()
        assert wait is not None
        clock.advance(wait)
        await health(card_reader, connected)
        ports.send(b"OK1\n")
        assert (await next_code(card_reader)).value == "OK1"


# -- configuration ------------------------------------------------------------------------


async def test_from_config_disabled_by_default(clock: ControlledClock) -> None:
    card_reader = from_config(Config(), clock=clock)
    assert card_reader.health.state == "disabled"
    await card_reader.start()
    assert not card_reader.running
    assert card_reader.health.state == "disabled"
    with pytest.raises(ReaderStopped):
        await card_reader.next_code()
    await card_reader.stop()
    assert card_reader.health.state == "disabled"


async def test_from_config_enabled(virtual: VirtualSerialReader, clock: ControlledClock) -> None:
    settings = SerialReaderSettings(enabled=True, url=virtual.path, baudrate=19200, code_kind="nfc")
    config = dataclasses.replace(Config(), serial_reader=settings)
    async with from_config(config, clock=clock) as card_reader:
        assert (card_reader.url, card_reader.baudrate) == (virtual.path, 19200)
        await health(card_reader, connected)
        virtual.scan("A1B2C3D4")
        code = await next_code(card_reader)
    assert (code.value, code.kind) == ("A1B2C3D4", "nfc")


def test_invalid_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="code_kind"):
        SerialCardReader("loop://", code_kind="qr")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="reconnect"):
        SerialCardReader("loop://", reconnect_min_s=5, reconnect_max_s=1)


# -- the framer alone ----------------------------------------------------------------------


def feed_bytewise(framer: LineFramer, data: bytes) -> list[str | DroppedLine]:
    out: list[str | DroppedLine] = []
    for i in range(len(data)):
        out.extend(framer.feed(data[i : i + 1]))
    return out


def test_framer_byte_by_byte_gives_the_same_as_one_chunk() -> None:
    stream = b"A1\r\nB2\rC3\n\n\xff\r\n" + b"x" * 200 + b"\r\nD4\n\r"
    whole = LineFramer().feed(stream)
    assert feed_bytewise(LineFramer(), stream) == whole
    assert [i for i in whole if isinstance(i, str)] == ["A1", "B2", "C3", "D4"]
    assert [i.reason for i in whole if isinstance(i, DroppedLine)] == [
        "invalid UTF-8",
        "line longer than 128 bytes",
    ]


def test_framer_holds_a_partial_line() -> None:
    framer = LineFramer()
    assert framer.feed(b"1234") == []
    assert framer.pending == 4
    assert framer.feed(b"56\r") == ["123456"]
    assert framer.pending == 0
    framer.feed(b"78")
    dropped = framer.reset()
    assert dropped == DroppedLine("incomplete line cut by a disconnect", 2)
    assert framer.reset() is None


def test_framer_limits() -> None:
    framer = LineFramer(max_line_bytes=4)
    assert framer.feed(b"1234\n") == ["1234"]
    assert framer.feed(b"12345\n") == [DroppedLine("line longer than 4 bytes", 5)]
    # The limit counts raw bytes, before stripping: 5 here.
    assert framer.feed(b"\t 12 \r") == [DroppedLine("line longer than 4 bytes", 5)]
    assert LineFramer().feed(b"\t 12 \r") == ["12"]


def test_framer_reasons_and_custom_pattern() -> None:
    framer = LineFramer()
    assert framer.feed(b"ab\x00\n") == [DroppedLine("non-printable or non-ASCII bytes", 3)]
    assert framer.feed("é1\n".encode()) == [DroppedLine("non-printable or non-ASCII bytes", 3)]
    assert framer.feed(b"\xe9\n") == [DroppedLine("invalid UTF-8", 1)]
    assert framer.feed(b"04:A2:B3\n") == [DroppedLine("not a valid code", 8)]
    assert LineFramer(code_pattern=r"[0-9A-F]{2}(:[0-9A-F]{2})*").feed(b"04:A2:B3\n") == [
        "04:A2:B3"
    ]
