"""The simulator framework: callbacks and their loss modes, HTTP faults, global control."""

from __future__ import annotations

import asyncio
import logging
import time
from decimal import Decimal

import httpx
import pytest

from kioskapp.core.clock import ControlledClock, SystemClock
from kioskapp.simulator.control import SimControl, SimControlError
from kioskapp.simulator.framework import (
    MALFORMED_JSON_BODY,
    VENDOR_SIMULATORS,
    SimServer,
    build_simulators,
    format_amount,
    is_loopback,
    new_request_id,
)

from .helpers import CallbackReceiver, Tecalis, parse

T0 = 1_800_000_000
STATUS = "/api/session/bill-reader/status"


async def open_bill_reader(session: Tecalis, receiver: CallbackReceiver) -> None:
    reply = await session.s("POST", "bill-reader/open", {"amount": 10, "callback": receiver.url})
    assert reply.status == 200, reply


def fates(events: list[dict[str, object]]) -> list[tuple[object, object]]:
    return [(e["event"], e["fate"]) for e in events]


# -- JSON ----------------------------------------------------------------------


def test_amount_text_and_request_ids() -> None:
    # The JSON codec itself is kioskapp.core.money's (tested there).
    assert format_amount(Decimal("0.05")) == "0.05"
    assert format_amount(Decimal("2E+1")) == "20"
    assert len(new_request_id()) == 31


async def test_amounts_are_echoed_as_exact_numbers(session: Tecalis) -> None:
    reply = await session.s("POST", "bill-reader/open", content='{"amount": 10.50}')
    assert '"amount":10.50,' in reply.text
    reply = await session.s("POST", "bill-reader/open", content='{"amount": 20}')
    assert '"amount":20,' in reply.text


def test_is_loopback() -> None:
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback("0.0.0.0")  # noqa: S104
    assert not is_loopback("192.168.1.10")


# -- callbacks -----------------------------------------------------------------


async def test_callbacks_are_delivered_in_order(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await open_bill_reader(session, receiver)
    await sim_control.insert_note(20)
    await session.s("POST", "bill-reader/accept")
    await sim_control.insert_note(5)
    await session.s("POST", "bill-reader/reject")
    got = await receiver.wait_count(4)
    assert [p["event"] for p in got] == [
        "bill.escrow",
        "bill.stacked",
        "bill.escrow",
        "bill.returned",
    ]
    assert all(p["session_id"] == session.session_id for p in got)
    assert len({p["request_id"] for p in got}) == 4
    await sim_control.drain_callbacks()
    assert {e["fate"] for e in await sim_control.events()} == {"delivered"}


async def test_callbacks_without_a_url_are_logged(
    session: Tecalis, sim_control: SimControl
) -> None:
    await session.s("POST", "bill-reader/open", {"amount": 10})
    await sim_control.insert_note(20)
    events = await sim_control.events()
    assert fates(events) == [("bill.escrow", "no_url")]
    assert events[0]["payload"]["amount"] == 20


async def test_drop_mode_loses_the_next_callbacks(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await open_bill_reader(session, receiver)
    await sim_control.set_callback_mode("drop", count=1)
    await sim_control.insert_note(20)
    await session.s("POST", "bill-reader/accept")
    await receiver.wait_event("bill.stacked")
    await sim_control.drain_callbacks()
    # Deliveries to one URL are sequential: had bill.escrow been sent, it came first.
    assert receiver.names() == ["bill.stacked"]
    events = await sim_control.events()
    assert fates(events) == [("bill.escrow", "dropped"), ("bill.stacked", "delivered")]
    assert [e["mode"] for e in events] == ["drop", "normal"]


async def test_duplicate_mode_sends_twice(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await open_bill_reader(session, receiver)
    await sim_control.set_callback_mode("duplicate", count=1)
    await sim_control.insert_note(20)
    await session.s("POST", "bill-reader/reject")
    got = await receiver.wait_count(3)
    assert [p["event"] for p in got] == ["bill.escrow", "bill.escrow", "bill.returned"]
    assert got[0] == got[1]
    await sim_control.drain_callbacks()
    events = await sim_control.events()
    assert fates(events) == [("bill.escrow", "duplicated"), ("bill.returned", "delivered")]


async def test_delay_mode_waits_simulated_time_and_reorders(
    session: Tecalis,
    sim_control: SimControl,
    receiver: CallbackReceiver,
    clock: ControlledClock,
) -> None:
    await open_bill_reader(session, receiver)
    await sim_control.set_callback_mode("delay", count=1, seconds=30)
    await sim_control.insert_note(20)
    await session.s("POST", "bill-reader/reject")
    await receiver.wait_event("bill.returned")
    assert fates(await sim_control.events()) == [
        ("bill.escrow", "delayed"),
        ("bill.returned", "delivered"),
    ]
    clock.advance(29)
    assert (await sim_control.events())[0]["fate"] == "delayed"
    clock.advance(1)
    await receiver.wait_event("bill.escrow")
    assert receiver.names() == [
        "bill.returned",
        "bill.escrow",
    ]  # out of order, as on a real network
    await sim_control.drain_callbacks()
    assert (await sim_control.events())[0]["fate"] == "delivered"


async def test_hold_mode_keeps_callbacks_until_released(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await open_bill_reader(session, receiver)
    await sim_control.set_callback_mode("hold")
    await sim_control.insert_note(20)
    await session.s("POST", "bill-reader/accept")
    assert fates(await sim_control.events()) == [("bill.escrow", "held"), ("bill.stacked", "held")]
    assert (await sim_control.callbacks())["held"] == 2
    await sim_control.set_callback_mode("normal")
    assert await sim_control.release_callbacks() == 2
    got = await receiver.wait_count(2)
    assert [p["event"] for p in got] == ["bill.escrow", "bill.stacked"]
    await sim_control.drain_callbacks()
    assert fates(await sim_control.events()) == [
        ("bill.escrow", "delivered"),
        ("bill.stacked", "delivered"),
    ]


async def test_failed_deliveries_are_recorded_not_raised(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    receiver.status = 500
    await open_bill_reader(session, receiver)
    await sim_control.insert_note(20)
    await receiver.wait_event("bill.escrow")
    await sim_control.drain_callbacks()
    event = (await sim_control.events())[0]
    assert (event["fate"], event["status"], event["error"]) == ("failed", 500, "HTTP 500")

    await receiver.stop()  # nobody listens any more: connection refused
    await session.s("POST", "bill-reader/accept")
    await sim_control.drain_callbacks()
    event = (await sim_control.events())[1]
    assert event["event"] == "bill.stacked"
    assert event["fate"] == "failed"
    assert "ConnectError" in event["error"]
    assert (await session.s("GET", "bill-reader/status")).body["stacked_total"] == 20


async def test_callback_mode_validation(sim_control: SimControl) -> None:
    with pytest.raises(SimControlError) as bad:
        await sim_control.set_callback_mode("sometimes")
    assert (bad.value.status, bad.value.error) == (422, "invalid_request")
    with pytest.raises(SimControlError):
        await sim_control.set_callback_mode("delay")  # needs seconds


# -- HTTP faults ---------------------------------------------------------------


async def test_malformed_json_fault(session: Tecalis, sim_control: SimControl) -> None:
    await sim_control.set_fault("tecalis", STATUS, "malformed_json", method="GET", count=1)
    broken = await session.s("GET", "bill-reader/status")
    assert broken.status == 200
    assert broken.response.text == MALFORMED_JSON_BODY
    assert broken.response.headers["content-type"].startswith("application/json")
    assert (await session.s("GET", "bill-reader/status")).body["success"] is True
    assert await sim_control.faults() == []


async def test_html_502_and_status_faults(session: Tecalis, sim_control: SimControl) -> None:
    await sim_control.set_fault("tecalis", "/tecalis" + STATUS, "html_502", count=1)
    bad_gateway = (await session.s("GET", "bill-reader/status")).response
    assert bad_gateway.status_code == 502
    assert bad_gateway.headers["content-type"].startswith("text/html")
    assert "<center>nginx</center>" in bad_gateway.text

    await sim_control.set_fault("tecalis", STATUS, "status", status=503, count=2)
    for _ in range(2):
        unavailable = await session.s("GET", "bill-reader/status")
        assert (unavailable.status, unavailable.error) == (503, "injected_fault")
        assert unavailable.body["success"] is False
    assert (await session.s("GET", "bill-reader/status")).status == 200


async def test_fault_method_and_clear(session: Tecalis, sim_control: SimControl) -> None:
    await sim_control.set_fault("tecalis", STATUS, "status", method="POST", status=500)
    assert (await session.s("GET", "bill-reader/status")).status == 200  # GET not hit
    await sim_control.set_fault("tecalis", "/api/session/*", "status", status=500)
    assert (await session.s("GET", "tpv/status")).status == 500
    assert len(await sim_control.faults()) == 2
    assert await sim_control.clear_faults() == 2
    assert (await session.s("GET", "tpv/status")).status == 200
    with pytest.raises(SimControlError) as unknown:
        await sim_control.set_fault("nope", STATUS, "status")
    assert unknown.value.status == 422


async def test_delay_fault_waits_real_time(session: Tecalis, sim_control: SimControl) -> None:
    await sim_control.set_fault("tecalis", STATUS, "delay", seconds=0.2, count=1)
    started = time.monotonic()
    slow = await session.s("GET", "bill-reader/status")
    assert time.monotonic() - started >= 0.2
    assert slow.body["state"] == "idle"


async def test_drop_connection_fault(sim: SimServer, sim_control: SimControl) -> None:
    await sim_control.set_fault("tecalis", "/api/auth", "drop_connection", count=1)
    async with httpx.AsyncClient(base_url=sim.url_for("tecalis")) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post("/api/auth", json={"username": "integrator", "password": "x"})
        after = await http.post("/api/auth", json={"username": "integrator", "password": "x"})
        assert after.status_code == 401


# -- routing and global control --------------------------------------------------


async def test_unknown_paths_and_methods_answer_json(tecalis: Tecalis, sim: SimServer) -> None:
    missing = await tecalis.call("GET", "/api/nothing/here")
    assert (missing.status, missing.error) == (404, "not_found")
    wrong = await tecalis.call("GET", "/api/auth")
    assert (wrong.status, wrong.error) == (405, "method_not_allowed")
    assert wrong.response.headers["Allow"] == "POST"
    async with httpx.AsyncClient() as http:
        control_missing = await http.get(f"{sim.base_url}/_sim/tecalis/nothing")
        assert control_missing.status_code == 404
        assert parse(control_missing.text)["error"] == "not_found"


async def test_index_clock_and_reset(
    session: Tecalis, sim: SimServer, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    index = await sim_control.index()
    assert index["services"][0] == {
        "name": "tecalis",
        "url": f"{sim.base_url}/tecalis",
        "control_url": f"{sim.base_url}/_sim/tecalis/",
    }
    assert [s["name"] for s in index["services"]] == ["tecalis", *VENDOR_SIMULATORS]
    assert index["control_url"] == f"{sim.base_url}/_sim/"
    assert index["clock"]["time"] == T0
    assert index["clock"]["speed"] is None
    assert sim.url_for("tecalis") == f"{sim.base_url}/tecalis"

    advanced = await sim_control.advance(90)
    assert advanced["time"] == T0 + 90
    assert (await sim_control.clock())["time"] == T0 + 90

    await open_bill_reader(session, receiver)
    await sim_control.insert_note(20)
    await sim_control.set_fault("tecalis", STATUS, "status", method="PUT")
    await sim_control.set_callback_mode("hold")
    await sim_control.reset()
    state = await sim_control.tecalis_state()
    assert state["session"] is None
    assert state["bill_reader"]["state"] == "idle"
    assert state["bill_reader"]["escrow"] is None
    assert await sim_control.faults() == []
    assert await sim_control.events() == []
    assert (await sim_control.callbacks())["mode"] == "normal"
    closed = await session.s("GET", "bill-reader/status")
    assert (closed.status, closed.error) == (401, "session_closed")
    assert (await session.start_session()).status == 200


async def test_advance_needs_a_controlled_clock() -> None:
    server = build_simulators(SystemClock())
    await server.start()
    try:
        async with SimControl(server.base_url) as control:
            with pytest.raises(SimControlError) as refused:
                await control.advance(1)
            assert (refused.value.status, refused.value.error) == (409, "clock_not_controlled")
            assert (await control.clock())["speed"] == 1.0
    finally:
        await server.stop()


async def test_stop_cancels_every_timer(clock: ControlledClock) -> None:
    server = build_simulators(clock)
    await server.start()
    async with httpx.AsyncClient(base_url=server.url_for("tecalis")) as http:
        tecalis = Tecalis(http)
        await tecalis.open_session()
        await tecalis.s(
            "POST", "bill-reader/open", {"amount": 10, "callback": "http://127.0.0.1:9/"}
        )
        async with SimControl(server.base_url) as control:
            await control.set_callback_mode("delay", seconds=5)
            await control.insert_note(20)
    assert clock.pending_timers() == 3  # session expiry, escrow timeout, delayed callback
    await server.stop()
    assert clock.pending_timers() == 0


async def test_requests_are_logged_without_tokens(
    session: Tecalis, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="kioskapp.simulator.http"):
        await session.s("GET", "bill-reader/status")
        # The server logs a request after answering it; one connection is served in
        # order, so once the next answer is here the first line has been logged.
        await session.s("GET", "tpv/status")
    lines = [r.getMessage() for r in caplog.records if r.name == "kioskapp.simulator.http"]
    assert lines[0] == "GET /tecalis/api/session/bill-reader/status 200"
    assert session.session_token is not None
    assert all(session.session_token not in r.getMessage() for r in caplog.records)


async def test_signed_webhooks_duplicates_and_bad_signatures(clock: ControlledClock) -> None:
    """Webhook bodies are signed once; copies are byte-identical; bad_signature mode forges."""
    import hashlib
    import hmac

    from kioskapp.devices.callbacks import CallbackReceiver as KioskReceiver
    from kioskapp.devices.callbacks import InboundCallback
    from kioskapp.simulator.framework import CallbackDispatcher

    def sign(body: bytes) -> dict[str, str]:
        return {"X-Signature": hmac.new(b"secret", body, hashlib.sha256).hexdigest()}

    got: list[InboundCallback] = []
    arrived = asyncio.Event()

    async def record(cb: InboundCallback) -> str:
        got.append(cb)
        arrived.set()
        return "ok"

    dispatcher = CallbackDispatcher(clock)
    async with KioskReceiver(port=0) as rx:
        rx.add_route("/hook", record, parse_json=False)
        url = rx.url_for("/hook")
        dispatcher.set_mode("duplicate", count=1)
        dispatcher.send("komoju", url, {"type": "payment.updated", "amount": 1000}, signer=sign)
        dispatcher.set_mode("bad_signature", count=1)
        dispatcher.send("komoju", url, {"type": "payment.updated", "amount": 2000}, signer=sign)
        await dispatcher.drain()
        await dispatcher.aclose()
    assert len(got) == 3
    first, copy, forged = got
    assert first.body == copy.body
    assert first.headers["X-Signature"] == sign(first.body)["X-Signature"]
    assert copy.headers["X-Signature"] == first.headers["X-Signature"]
    assert forged.headers["X-Signature"] != sign(forged.body)["X-Signature"]
    assert [r.event for r in dispatcher.records()] == ["payment.updated", "payment.updated"]
