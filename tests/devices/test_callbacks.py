"""The callback receiver over real loopback HTTP."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from kioskapp.devices.callbacks import (
    CallbackReceiver,
    CallbackRejected,
    InboundCallback,
    is_loopback,
)
from kioskapp.devices.errors import ProtocolError


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[CallbackReceiver, list[InboundCallback]]]:
    seen: list[InboundCallback] = []

    async def record(cb: InboundCallback) -> str:
        seen.append(cb)
        if cb.json is not None and cb.json.get("bad") is True:
            raise ProtocolError("field 'event' missing", service="test")
        return "recorded"

    async def signed(cb: InboundCallback) -> str:
        if cb.headers.get("X-Signature") != "good":
            raise CallbackRejected(401, "bad signature")
        seen.append(cb)
        return "verified"

    rx = CallbackReceiver(port=0, max_body_bytes=1024)
    rx.add_route("/tecalis", record)
    rx.add_route("/webhooks/raw", signed, parse_json=False)
    async with rx:
        yield rx, seen


async def test_valid_json_callback_reaches_handler(receiver) -> None:
    rx, seen = receiver
    async with httpx.AsyncClient() as http:
        resp = await http.post(
            rx.url_for("/tecalis"), json={"event": "bill.escrow", "amount": 20.5}
        )
    assert resp.status_code == 200
    assert resp.json() == {"ok": True, "result": "recorded"}
    assert len(seen) == 1
    # JSON decimals arrive exact, never as floats.
    assert str(seen[0].json["amount"]) == "20.5"
    assert type(seen[0].json["amount"]).__name__ == "Decimal"


async def test_listens_on_loopback_by_default(receiver) -> None:
    rx, _ = receiver
    assert rx.url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize(
    ("body", "why"),
    [(b"{not json", "not valid JSON"), (b"[1, 2]", "JSON object"), (b"\xff\xfe", "not valid JSON")],
)
async def test_malformed_bodies_get_400(receiver, body: bytes, why: str) -> None:
    rx, seen = receiver
    async with httpx.AsyncClient() as http:
        resp = await http.post(rx.url_for("/tecalis"), content=body)
    assert resp.status_code == 400
    assert why in resp.json()["error"]
    assert seen == []


async def test_handler_protocol_error_is_400(receiver) -> None:
    rx, _ = receiver
    async with httpx.AsyncClient() as http:
        resp = await http.post(rx.url_for("/tecalis"), json={"bad": True})
    assert resp.status_code == 400
    assert "event" in resp.json()["error"]


async def test_oversize_body_refused_before_handler(receiver) -> None:
    rx, seen = receiver
    async with httpx.AsyncClient() as http:
        resp = await http.post(rx.url_for("/tecalis"), content=b'{"x":"' + b"a" * 5000 + b'"}')
    assert resp.status_code == 413
    assert seen == []


async def test_oversize_chunked_body_refused(receiver) -> None:
    rx, seen = receiver

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b"a" * 300

    async with httpx.AsyncClient() as http:
        resp = await http.post(rx.url_for("/tecalis"), content=chunks())
    assert resp.status_code == 413
    assert seen == []


async def test_unknown_path_and_wrong_method(receiver) -> None:
    rx, _ = receiver
    async with httpx.AsyncClient() as http:
        assert (await http.post(rx.url_for("/nope"), json={})).status_code == 404
        assert (await http.get(rx.url_for("/tecalis"))).status_code == 405


async def test_raw_route_passes_bytes_and_can_refuse(receiver) -> None:
    rx, seen = receiver
    async with httpx.AsyncClient() as http:
        bad = await http.post(
            rx.url_for("/webhooks/raw"), content=b"a=1", headers={"X-Signature": "x"}
        )
        good = await http.post(
            rx.url_for("/webhooks/raw"), content=b"a=1", headers={"X-Signature": "good"}
        )
    assert bad.status_code == 401
    assert good.status_code == 200
    assert seen[-1].body == b"a=1"
    assert seen[-1].json is None


async def test_log_line_names_path_status_and_outcome(receiver, caplog) -> None:
    rx, _ = receiver
    caplog.set_level(logging.INFO, logger="kioskapp.devices.callbacks")
    async with httpx.AsyncClient() as http:
        await http.post(rx.url_for("/tecalis"), json={"event": "x", "secret": "s3cr3t"})
    line = next(r.getMessage() for r in caplog.records if "/tecalis" in r.getMessage())
    assert "POST /tecalis" in line
    assert "200 recorded" in line
    assert "s3cr3t" not in caplog.text


async def test_port_in_use_is_a_clear_error(receiver) -> None:
    rx, _ = receiver
    port = int(rx.url.rsplit(":", 1)[1])
    other = CallbackReceiver(port=port)
    with pytest.raises(OSError, match="cannot listen"):
        await other.start()


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")  # noqa: S104
    assert not is_loopback("192.168.1.10")


def test_hmac_signatures_verify_only_the_exact_body_and_secret() -> None:
    from kioskapp.devices.callbacks import hmac_sha256_hex, verify_hmac_sha256_hex

    body = b'{"type":"payment.updated"}'
    signature = hmac_sha256_hex(body, "s3cret")
    assert len(signature) == 64
    assert verify_hmac_sha256_hex(body, signature, "s3cret")
    assert verify_hmac_sha256_hex(body, f" {signature.upper()} ", "s3cret")
    assert not verify_hmac_sha256_hex(body + b" ", signature, "s3cret")
    assert not verify_hmac_sha256_hex(body, signature, "other")
    assert not verify_hmac_sha256_hex(body, None, "s3cret")
    assert not verify_hmac_sha256_hex(body, hmac_sha256_hex(body, ""), "")
