"""The callback receiver's HTTP/1.1 handling, with a raw socket where a well-behaved
client (httpx) would not send what is tested: kept-alive connections, 100-continue,
broken, slow or oversized requests, and stopping with connections open."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from kioskapp.devices import callbacks
from kioskapp.devices.callbacks import CallbackReceiver, InboundCallback


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[CallbackReceiver, list[InboundCallback]]]:
    seen: list[InboundCallback] = []

    async def record(cb: InboundCallback) -> str:
        seen.append(cb)
        if cb.json is not None and cb.json.get("crash") is True:
            raise KeyError("a bug in the handler")
        return "recorded"

    rx = CallbackReceiver(port=0, max_body_bytes=1024)
    rx.add_route("/tecalis", record)
    async with rx:
        yield rx, seen


async def connect(rx: CallbackReceiver) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = rx.url.removeprefix("http://").rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


def post(body: bytes, *headers: str) -> bytes:
    head = [
        "POST /tecalis HTTP/1.1",
        "Host: kiosk",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10.0)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:-2])}
    body = b""
    if "content-length" in headers:
        body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), 10.0)
    return status, headers, body


async def closed(reader: asyncio.StreamReader) -> bool:
    """The server closed the connection (EOF, or a reset)."""
    try:
        return await asyncio.wait_for(reader.read(1), 10.0) == b""
    except ConnectionResetError:
        return True


async def test_a_kept_alive_connection_takes_several_callbacks(receiver) -> None:
    rx, seen = receiver
    reader, writer = await connect(rx)
    try:
        for n in range(3):
            writer.write(post(b'{"event": "poll", "n": %d}' % n))
            status, headers, body = await read_response(reader)
            assert (status, body) == (200, b'{"ok": true, "result": "recorded"}')
            assert headers["content-type"] == "application/json; charset=utf-8"
            assert "connection" not in headers
        assert [cb.json["n"] for cb in seen] == [0, 1, 2]
    finally:
        writer.close()


async def test_headers_keep_the_senders_spelling(receiver) -> None:
    rx, seen = receiver
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            rx.url_for("/tecalis/"), json={"event": "x"}, headers={"X-Komoju-Signature": "abc"}
        )
    assert resp.status_code == 200
    [cb] = seen
    assert cb.headers["X-Komoju-Signature"] == "abc"
    assert cb.path == "/tecalis"
    assert cb.remote == "127.0.0.1"


async def test_a_failing_handler_is_a_500_and_the_receiver_goes_on(receiver, caplog) -> None:
    rx, seen = receiver
    async with httpx.AsyncClient() as http:
        failed = await http.post(rx.url_for("/tecalis"), json={"crash": True})
        after = await http.post(rx.url_for("/tecalis"), json={"event": "next"})
    assert failed.status_code == 500
    assert failed.json() == {"ok": False, "error": "internal error"}
    assert "a bug in the handler" in caplog.text
    assert after.status_code == 200
    assert len(seen) == 2


async def test_a_client_waiting_for_100_continue_gets_it_then_sends_its_body(receiver) -> None:
    rx, seen = receiver
    reader, writer = await connect(rx)
    try:
        body = b'{"event": "late body"}'
        request = post(body, "Expect: 100-continue")
        writer.write(request[: -len(body)])
        status, _, _ = await read_response(reader)
        assert status == 100
        writer.write(body)
        status, _, _ = await read_response(reader)
        assert status == 200
        assert seen[0].json == {"event": "late body"}
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (b"NOT HTTP AT ALL\r\n\r\n", 400),
        (b"POST /tecalis HTTP/1.1\r\nHost: k\r\nContent-Length: nine\r\n\r\n", 400),
        (b"POST /tecalis HTTP/1.1\r\nHost: k\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n", 431),
    ],
)
async def test_a_broken_request_is_refused_and_the_connection_closed(
    receiver, request_bytes: bytes, status: int
) -> None:
    rx, seen = receiver
    reader, writer = await connect(rx)
    try:
        writer.write(request_bytes)
        answer, headers, _ = await read_response(reader)
        assert answer == status
        assert headers["connection"] == "close"
        assert await closed(reader)
    finally:
        writer.close()
    assert seen == []


async def test_a_body_cut_short_never_reaches_the_handler(receiver, caplog) -> None:
    rx, seen = receiver
    caplog.set_level(logging.DEBUG, logger="kioskapp.devices.callbacks")
    reader, writer = await connect(rx)
    writer.write(post(b'{"event": "x"}')[:-5])
    writer.write_eof()
    assert (await read_response(reader))[0] == 400
    assert await closed(reader)
    writer.close()
    async with httpx.AsyncClient() as http:  # the receiver still answers
        assert (await http.post(rx.url_for("/tecalis"), json={"event": "y"})).status_code == 200
    assert [cb.json for cb in seen] == [{"event": "y"}]
    assert "error on a connection" not in caplog.text


async def test_a_stalled_request_is_dropped(receiver, monkeypatch) -> None:
    rx, seen = receiver
    monkeypatch.setattr(callbacks, "REQUEST_TIMEOUT_S", 0.05)
    reader, writer = await connect(rx)
    try:
        writer.write(post(b'{"event": "x"}')[:-5])  # the rest never comes
        assert await closed(reader)
    finally:
        writer.close()
    assert seen == []


async def test_stopping_closes_idle_connections_and_refuses_new_ones(receiver) -> None:
    rx, _ = receiver
    url = rx.url
    reader, writer = await connect(rx)
    writer.write(post(b'{"event": "x"}'))
    assert (await read_response(reader))[0] == 200
    await asyncio.wait_for(rx.stop(), 10.0)  # with the kept-alive connection open
    assert await closed(reader)
    writer.close()
    async with httpx.AsyncClient() as http:
        with pytest.raises(httpx.ConnectError):
            await http.post(url + "/tecalis", json={})
    await rx.stop()  # twice is fine
