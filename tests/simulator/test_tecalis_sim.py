"""The Tecalis simulator, driven over real loopback HTTP with plain httpx."""

from __future__ import annotations

import base64
import io
import re
from decimal import Decimal

import jwt
import pytest
from PIL import Image

from kioskapp.core.clock import ControlledClock
from kioskapp.simulator.control import SimControl, SimControlError

from .helpers import CallbackReceiver, Tecalis

T0 = 1_800_000_000
REQUEST_ID = re.compile(r"^[0-9a-f]{31}$")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def pdf_data_url(data: bytes = PDF) -> str:
    return "data:application/pdf;base64," + base64.b64encode(data).decode()


# -- auth and tokens -----------------------------------------------------------


async def test_auth_returns_an_integrator_jwt(tecalis: Tecalis) -> None:
    reply = await tecalis.call(
        "POST", "/api/auth", body={"username": "integrator", "password": "integrator-secret"}
    )
    assert reply.status == 200
    assert reply.body["success"] is True
    assert REQUEST_ID.match(reply.body["request_id"])
    claims = jwt.decode(reply.body["token"], options={"verify_signature": False})
    assert claims["sub"] == "integrator"
    assert claims["lvl"] == "integrator"
    assert claims["iat"] == T0
    assert claims["exp"] == T0 + 3600
    assert claims["jti"]


async def test_auth_refuses_bad_credentials_and_bad_bodies(tecalis: Tecalis) -> None:
    bad = await tecalis.call("POST", "/api/auth", body={"username": "integrator", "password": "x"})
    assert (bad.status, bad.error) == (401, "invalid_credentials")
    assert bad.body["success"] is False
    assert REQUEST_ID.match(bad.body["request_id"])
    missing = await tecalis.call("POST", "/api/auth", body={"username": "integrator"})
    assert (missing.status, missing.error) == (422, "invalid_request")
    assert "password" in missing.body["message"]
    garbage = await tecalis.call("POST", "/api/auth", content="{not json")
    assert (garbage.status, garbage.error) == (400, "invalid_json")
    array = await tecalis.call("POST", "/api/auth", content="[1, 2]")
    assert (array.status, array.error) == (400, "invalid_json")


async def test_token_errors(tecalis: Tecalis, clock: ControlledClock) -> None:
    integrator = await tecalis.integrator_token()
    session = await tecalis.open_session()
    status = "/api/session/bill-reader/status"

    missing = await tecalis.call("GET", status)
    assert (missing.status, missing.error) == (401, "token_missing")
    garbage = await tecalis.call("GET", status, "not-a-jwt")
    assert (garbage.status, garbage.error) == (401, "token_invalid")
    forged_token = jwt.encode(
        {
            "sub": "KIOSK-001",
            "lvl": "session",
            "sid": tecalis.session_id,
            "iat": T0,
            "exp": T0 + 900,
        },
        "another-secret-at-least-32-bytes-long!",
        algorithm="HS256",
    )
    forged = await tecalis.call("GET", status, forged_token)
    assert (forged.status, forged.error) == (401, "token_invalid")

    wrong = await tecalis.call("GET", status, integrator)
    assert (wrong.status, wrong.error) == (403, "wrong_token_level")
    wrong = await tecalis.call("GET", "/api/kiosk/KIOSK-001/status", session)
    assert (wrong.status, wrong.error) == (403, "wrong_token_level")
    wrong = await tecalis.call(
        "POST", "/api/session/start", session, body={"kiosk_id": "KIOSK-001"}
    )
    assert (wrong.status, wrong.error) == (403, "wrong_token_level")

    clock.advance(3600)
    expired = await tecalis.call("GET", "/api/kiosk/KIOSK-001/status", integrator)
    assert (expired.status, expired.error) == (401, "token_expired")


# -- sessions ------------------------------------------------------------------


async def test_session_start_and_close(tecalis: Tecalis) -> None:
    integrator = await tecalis.integrator_token()
    reply = await tecalis.start_session(integrator)
    assert reply.status == 200, reply
    body = reply.body
    assert body["success"] is True
    assert body["message"] == "Session open"
    assert body["kiosk_id"] == "KIOSK-001"
    assert body["session_id"].startswith("ses_")
    assert REQUEST_ID.match(body["request_id"])
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["lvl"] == "session"
    assert claims["sub"] == "KIOSK-001"
    assert claims["sid"] == body["session_id"]
    assert claims["exp"] - claims["iat"] == 900

    closed = await tecalis.call("POST", "/api/session/close", body["token"])
    assert closed.status == 200
    assert closed.body["message"] == "Session closed"
    after = await tecalis.call("GET", "/api/session/bill-reader/status", body["token"])
    assert (after.status, after.error) == (401, "session_closed")
    again = await tecalis.start_session(integrator)
    assert again.status == 200
    assert again.body["session_id"] != body["session_id"]


async def test_a_second_session_is_refused(tecalis: Tecalis) -> None:
    await tecalis.open_session()
    second = await tecalis.start_session()
    assert (second.status, second.error) == (409, "session_already_open")
    assert second.body["message"] == "A session is already open on this kiosk; close it first"


async def test_session_start_by_kiosk_token_and_unknown_kiosks(tecalis: Tecalis) -> None:
    integrator = await tecalis.integrator_token()
    unknown = await tecalis.start_session(integrator, kiosk_id="KIOSK-999")
    assert (unknown.status, unknown.error) == (404, "unknown_kiosk")
    bad_token = await tecalis.start_session(integrator, kiosk_token="nope")
    assert (bad_token.status, bad_token.error) == (404, "unknown_kiosk")
    neither = await tecalis.start_session(integrator, record=True)
    assert (neither.status, neither.error) == (422, "invalid_request")
    by_token = await tecalis.start_session(integrator, kiosk_token="sim-kiosk-token")
    assert by_token.status == 200
    assert by_token.body["kiosk_id"] == "KIOSK-001"


async def test_an_expired_session_ends_and_a_new_one_can_start(
    tecalis: Tecalis, clock: ControlledClock, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await tecalis.open_session()
    await tecalis.s("POST", "bill-reader/open", {"amount": 10, "callback": receiver.url})
    await tecalis.s("POST", "dispenser/prepare")
    clock.advance(850)
    await tecalis.s("POST", "tpv/prepare", {"amount": 5, "callback": receiver.url})
    await sim_control.insert_note(20)
    clock.advance(50)  # the token expires before the 90 s escrow timeout

    expired = await tecalis.s("GET", "bill-reader/status")
    assert (expired.status, expired.error) == (401, "token_expired")
    returned = await receiver.wait_event("bill.returned")
    assert returned["reason"] == "timeout"
    assert returned["amount"] == 20
    await receiver.wait_event("tpv.result", state="cancelled")

    state = await sim_control.tecalis_state()
    assert state["session"] is None
    assert state["sessions"][0]["ended"] == "expired"
    assert state["dispenser"]["card_position"] == "reader"  # a prepared card stays
    assert (await tecalis.start_session()).status == 200


async def test_closing_the_session_returns_the_note_in_escrow(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await session.s("POST", "bill-reader/open", {"amount": 10, "callback": receiver.url})
    await sim_control.insert_note(50)
    assert (await session.call("POST", "/api/session/close", session.session_token)).status == 200
    returned = await receiver.wait_event("bill.returned")
    assert returned["reason"] == "rejected"
    state = await sim_control.tecalis_state()
    assert state["bill_reader"]["state"] == "closed"
    assert state["bill_reader"]["escrow"] is None


# -- bill reader ---------------------------------------------------------------


async def test_escrow_then_accept(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver, clock: ControlledClock
) -> None:
    opened = await session.s("POST", "bill-reader/open", {"amount": 10, "callback": receiver.url})
    assert opened.status == 200
    status = await session.s("GET", "bill-reader/status")
    assert status.body["state"] == "ready"
    assert status.body["escrow"] is None
    assert status.body["stacked_total"] == 0

    clock.advance(1.2345)
    inserted = await sim_control.insert_note(20)
    assert inserted["result"] == "escrow"
    escrow_cb = await receiver.wait_event("bill.escrow")
    status = await session.s("GET", "bill-reader/status")
    assert status.body["state"] == "escrow"
    assert status.body["escrow"]["amount"] == 20
    assert status.body["escrow"]["since"] == escrow_cb["timestamp"] == Decimal("1800000001.234")
    assert escrow_cb["session_id"] == session.session_id
    assert REQUEST_ID.match(escrow_cb["request_id"])

    accepted = await session.s("POST", "bill-reader/accept")
    assert accepted.status == 200
    assert accepted.body["message"] == "Note stacked"
    assert accepted.body["amount"] == 20
    assert accepted.body["stacked_total"] == 20
    stacked = await receiver.wait_event("bill.stacked")
    assert stacked["amount"] == 20

    await sim_control.insert_note(10)
    await session.s("POST", "bill-reader/accept")
    status = await session.s("GET", "bill-reader/status")
    assert status.body["state"] == "ready"
    assert status.body["stacked_total"] == 30
    assert status.body["amount"] == 10
    cash_box = (await sim_control.tecalis_state())["cash_box"]
    assert cash_box["by_denomination"]["20"] == 1
    assert cash_box["by_denomination"]["10"] == 1
    assert cash_box["count_total"] == 2


async def test_reject_and_accept_without_a_note(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await session.s("POST", "bill-reader/open", {"amount": 10, "callback": receiver.url})
    nothing = await session.s("POST", "bill-reader/accept")
    assert (nothing.status, nothing.error) == (409, "no_note_in_escrow")
    nothing = await session.s("POST", "bill-reader/reject")
    assert (nothing.status, nothing.error) == (409, "no_note_in_escrow")
    await sim_control.insert_note(5)
    rejected = await session.s("POST", "bill-reader/reject")
    assert rejected.status == 200
    returned = await receiver.wait_event("bill.returned")
    assert returned == {**returned, "amount": 5, "reason": "rejected"}
    status = await session.s("GET", "bill-reader/status")
    assert (status.body["state"], status.body["stacked_total"]) == ("ready", 0)


async def test_escrow_times_out_after_90_simulated_seconds(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver, clock: ControlledClock
) -> None:
    await session.s("POST", "bill-reader/open", {"amount": 10, "callback": receiver.url})
    await sim_control.insert_note(20)
    clock.advance(89.9)
    assert (await session.s("GET", "bill-reader/status")).body["state"] == "escrow"
    clock.advance(0.1)
    returned = await receiver.wait_event("bill.returned")
    assert returned["reason"] == "timeout"
    assert returned["amount"] == 20
    status = await session.s("GET", "bill-reader/status")
    assert status.body["state"] == "ready"
    assert status.body["escrow"] is None
    late = await session.s("POST", "bill-reader/accept")
    assert (late.status, late.error) == (409, "no_note_in_escrow")


async def test_unrecognised_notes_never_enter_escrow(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await session.s("POST", "bill-reader/open", {"amount": 10, "callback": receiver.url})
    assert (await sim_control.insert_unrecognised())["result"] == "returned"
    assert (await sim_control.insert_note(7))["result"] == "returned"  # not a configured value
    got = await receiver.wait_count(2)
    assert [(p["event"], p["reason"], p["amount"]) for p in got] == [
        ("bill.returned", "unrecognised", None),
        ("bill.returned", "unrecognised", None),
    ]
    status = await session.s("GET", "bill-reader/status")
    assert (status.body["state"], status.body["escrow"]) == ("ready", None)


async def test_bill_reader_open_validation_and_closed_states(
    session: Tecalis, sim_control: SimControl
) -> None:
    for amount, word in (("10", "number"), (Decimal("10.123"), "decimals"), (0, "greater")):
        reply = await session.s("POST", "bill-reader/open", {"amount": amount})
        assert (reply.status, reply.error) == (422, "invalid_request"), reply
        assert "amount" in reply.body["message"]
        assert word in reply.body["message"]
    bad_url = await session.s("POST", "bill-reader/open", {"amount": 10, "callback": "nope"})
    assert (bad_url.status, bad_url.error) == (422, "invalid_request")
    no_body = await session.s("POST", "bill-reader/open")
    assert (no_body.status, no_body.error) == (400, "invalid_json")

    assert (await session.s("GET", "bill-reader/status")).body["state"] == "idle"
    closed = await session.s("POST", "bill-reader/accept")
    assert (closed.status, closed.error) == (409, "bill_reader_closed")
    with pytest.raises(SimControlError) as refused:
        await sim_control.insert_note(20)
    assert refused.value.status == 409
    assert "open it" in refused.value.message

    opened = await session.s("POST", "bill-reader/open", {"amount": Decimal("12.50")})
    assert opened.body["amount"] == Decimal("12.5")
    await session.s("POST", "bill-reader/close")
    assert (await session.s("GET", "bill-reader/status")).body["state"] == "closed"


async def test_reopen_keeps_the_total_and_a_new_session_resets_it(
    session: Tecalis, sim_control: SimControl
) -> None:
    await session.s("POST", "bill-reader/open", {"amount": 10})
    await sim_control.insert_note(20)
    await session.s("POST", "bill-reader/accept")
    await session.s("POST", "bill-reader/open", {"amount": 40})
    status = await session.s("GET", "bill-reader/status")
    assert (status.body["amount"], status.body["stacked_total"]) == (40, 20)
    await session.s("POST", "bill-reader/close")
    await session.s("POST", "bill-reader/open", {"amount": 5})
    assert (await session.s("GET", "bill-reader/status")).body["stacked_total"] == 0
    await session.call("POST", "/api/session/close", session.session_token)
    await session.open_session()
    status = await session.s("GET", "bill-reader/status")
    assert (status.body["state"], status.body["stacked_total"]) == ("idle", 0)


async def test_jam_on_accept_keeps_the_note_until_cleared(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver, clock: ControlledClock
) -> None:
    await session.s("POST", "bill-reader/open", {"amount": 10, "callback": receiver.url})
    await sim_control.jam_bill_reader("on_accept")
    await sim_control.insert_note(50)
    jammed = await session.s("POST", "bill-reader/accept")
    assert (jammed.status, jammed.error) == (409, "bill_reader_jammed")
    jam = await receiver.wait_event("bill.jam")
    assert jam["amount"] == 50
    clock.advance(600)  # no escrow timeout while jammed
    status = await session.s("GET", "bill-reader/status")
    assert status.body["state"] == "jammed"
    assert status.body["escrow"]["amount"] == 50
    for action in ("accept", "reject"):
        reply = await session.s("POST", f"bill-reader/{action}")
        assert (reply.status, reply.error) == (409, "bill_reader_jammed")
    reopen = await session.s("POST", "bill-reader/open", {"amount": 10})
    assert (reopen.status, reopen.error) == (409, "bill_reader_jammed")

    await sim_control.clear_jam("stacked")
    stacked = await receiver.wait_event("bill.stacked")
    assert stacked["amount"] == 50
    status = await session.s("GET", "bill-reader/status")
    assert (status.body["state"], status.body["stacked_total"]) == ("ready", 50)
    assert "bill.returned" not in receiver.names()


async def test_jam_now_and_clear_with_the_note_returned(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await session.s("POST", "bill-reader/open", {"amount": 10, "callback": receiver.url})
    await sim_control.insert_note(20)
    await sim_control.jam_bill_reader("now")
    assert (await session.s("GET", "bill-reader/status")).body["state"] == "jammed"
    await session.s("POST", "bill-reader/close")
    await sim_control.clear_jam("returned")
    returned = await receiver.wait_event("bill.returned")
    assert (returned["amount"], returned["reason"]) == (20, "rejected")
    assert (await session.s("GET", "bill-reader/status")).body["state"] == "closed"
    assert receiver.names() == ["bill.escrow", "bill.jam", "bill.returned"]


async def test_cash_box_full(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await sim_control.set_cash_box(count_total=499)
    await session.s("POST", "bill-reader/open", {"amount": 10, "callback": receiver.url})
    await sim_control.insert_note(20)
    await session.s("POST", "bill-reader/accept")
    await receiver.wait_event("bill.full")
    assert receiver.names() == ["bill.escrow", "bill.stacked", "bill.full"]
    assert (await session.s("GET", "bill-reader/status")).body["state"] == "full"
    with pytest.raises(SimControlError) as refused:
        await sim_control.insert_note(20)
    assert refused.value.error == "cash_box_full"
    await session.s("POST", "bill-reader/close")
    reopen = await session.s("POST", "bill-reader/open", {"amount": 10})
    assert (reopen.status, reopen.error) == (409, "cash_box_full")
    await sim_control.set_cash_box(empty=True)
    assert (await session.s("POST", "bill-reader/open", {"amount": 10})).status == 200
    assert (await session.s("GET", "bill-reader/status")).body["state"] == "ready"


# -- TPV -----------------------------------------------------------------------


async def test_tpv_approved_step_by_step(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    prepared = await session.s(
        "POST", "tpv/prepare", {"amount": Decimal("12.30"), "callback": receiver.url}
    )
    assert prepared.status == 200
    status = await session.s("GET", "tpv/status")
    assert status.body == {
        **status.body,
        "state": "waiting_card",
        "amount": Decimal("12.3"),
        "auth_code": None,
        "card": None,
    }
    await sim_control.tpv_present("mastercard", "4444")
    assert (await session.s("GET", "tpv/status")).body["state"] == "pin"
    await sim_control.tpv_pin()
    assert (await session.s("GET", "tpv/status")).body["state"] == "processing"
    await sim_control.tpv_approve()
    result = await receiver.wait_event("tpv.result")
    status = await session.s("GET", "tpv/status")
    assert status.body["state"] == "approved"
    assert re.fullmatch(r"\d{6}", status.body["auth_code"])
    assert status.body["card"] == {"brand": "mastercard", "last4": "4444"}
    assert result["state"] == "approved"
    assert result["amount"] == Decimal("12.3")
    assert result["auth_code"] == status.body["auth_code"]
    assert result["card"] == {"brand": "mastercard", "last4": "4444"}
    states = [p["state"] for p in receiver.received if p["event"] == "tpv.status"]
    assert states == ["waiting_card", "pin", "processing", "approved"]
    assert receiver.names()[-1] == "tpv.result"


async def test_tpv_declined_and_busy(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await session.s("POST", "tpv/prepare", {"amount": 10, "callback": receiver.url})
    busy = await session.s("POST", "tpv/prepare", {"amount": 10})
    assert (busy.status, busy.error) == (409, "tpv_busy")
    await sim_control.tpv_decline()
    result = await receiver.wait_event("tpv.result")
    assert (result["state"], result["auth_code"]) == ("declined", None)
    assert result["card"] == {"brand": "visa", "last4": "0010"}
    assert (await session.s("POST", "tpv/prepare", {"amount": 10})).status == 200


async def test_tpv_cancel(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    none = await session.s("POST", "tpv/cancel")
    assert (none.status, none.error) == (409, "no_tpv_payment")
    await session.s("POST", "tpv/prepare", {"amount": 10, "callback": receiver.url})
    cancelled = await session.s("POST", "tpv/cancel")
    assert cancelled.status == 200
    result = await receiver.wait_event("tpv.result")
    assert result["state"] == "cancelled"
    again = await session.s("POST", "tpv/cancel")
    assert (again.status, again.error) == (409, "no_tpv_payment")

    await session.s("POST", "tpv/prepare", {"amount": 10})
    await sim_control.tpv_present()
    await sim_control.tpv_pin()
    processing = await session.s("POST", "tpv/cancel")
    assert (processing.status, processing.error) == (409, "tpv_not_cancellable")
    await sim_control.tpv_approve()
    assert (await session.s("GET", "tpv/status")).body["state"] == "approved"


async def test_tpv_times_out_after_120_simulated_seconds(
    session: Tecalis, receiver: CallbackReceiver, clock: ControlledClock
) -> None:
    await session.s("POST", "tpv/prepare", {"amount": 10, "callback": receiver.url})
    clock.advance(119)
    assert (await session.s("GET", "tpv/status")).body["state"] == "waiting_card"
    clock.advance(1)
    result = await receiver.wait_event("tpv.result")
    assert result["state"] == "timeout"
    assert (await session.s("GET", "tpv/status")).body["state"] == "timeout"


async def test_tpv_auto_outcomes(
    session: Tecalis, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    await sim_control.tpv_auto("approve")
    prepared = await session.s("POST", "tpv/prepare", {"amount": 10, "callback": receiver.url})
    assert prepared.body["state"] == "approved"
    await receiver.wait_event("tpv.result", state="approved")
    assert [p.get("state") for p in receiver.received] == [
        "waiting_card",
        "pin",
        "processing",
        "approved",
        "approved",
    ]
    await sim_control.tpv_auto("error")
    await session.s("POST", "tpv/prepare", {"amount": 10, "callback": receiver.url})
    await receiver.wait_event("tpv.result", state="error")
    await sim_control.tpv_auto(None)
    prepared = await session.s("POST", "tpv/prepare", {"amount": 10})
    assert prepared.body["state"] == "waiting_card"


# -- dispenser -----------------------------------------------------------------


async def test_dispenser_prepare_read_dispense_discard(
    session: Tecalis, sim_control: SimControl
) -> None:
    no_card = await session.s("GET", "barcode-reader/read")
    assert (no_card.status, no_card.error) == (409, "no_card_prepared")
    assert (await session.s("POST", "dispenser/dispense")).error == "no_card_prepared"

    assert (await session.s("POST", "dispenser/prepare")).status == 200
    twice = await session.s("POST", "dispenser/prepare")
    assert (twice.status, twice.error) == (409, "card_already_prepared")
    read = await session.s("GET", "barcode-reader/read")
    assert read.body["barcode"] == "8412345678901"
    assert (await session.s("POST", "dispenser/dispense")).status == 200

    await session.s("POST", "dispenser/prepare")
    assert (await session.s("GET", "barcode-reader/read")).body["barcode"] == "8412345678902"
    assert (await session.s("POST", "dispenser/discard")).status == 200

    state = (await sim_control.tecalis_state())["dispenser"]
    assert [c["barcode"] for c in state["dispensed"]] == ["8412345678901"]
    assert [c["barcode"] for c in state["discarded"]] == ["8412345678902"]
    assert state["dispensed"][0]["session_id"] == session.session_id
    assert state["reject_bin"] == 1
    assert state["hopper"]["count"] == 48


async def test_dispenser_empty_hopper_and_custom_barcodes(
    session: Tecalis, sim_control: SimControl
) -> None:
    await sim_control.set_dispenser(barcodes=["1234567890128", "0000000000000"])
    await session.s("POST", "dispenser/prepare")
    assert (await session.s("GET", "barcode-reader/read")).body["barcode"] == "1234567890128"
    await session.s("POST", "dispenser/dispense")
    await session.s("POST", "dispenser/prepare")
    await session.s("POST", "dispenser/dispense")
    empty = await session.s("POST", "dispenser/prepare")
    assert (empty.status, empty.error) == (409, "hopper_empty")
    await sim_control.set_dispenser(hopper=3)
    assert (await sim_control.tecalis_state())["dispenser"]["hopper"]["count"] == 3


async def test_dispenser_jam_until_restart(session: Tecalis, sim_control: SimControl) -> None:
    integrator = await session.integrator_token()
    await sim_control.set_dispenser(jam_next=True)
    jammed = await session.s("POST", "dispenser/prepare")
    assert (jammed.status, jammed.error) == (409, "dispenser_jammed")
    still = await session.s("POST", "dispenser/prepare")
    assert still.error == "dispenser_jammed"
    status = await session.call("GET", "/api/kiosk/KIOSK-001/dispenser/status", integrator)
    assert status.body["data"]["jammed"] is True
    assert "jammed" in status.body["data"]["errors"]
    restart = await session.call("POST", "/api/kiosk/KIOSK-001/dispenser/restart", integrator)
    assert restart.body["message"] == "Restarting dispenser"
    assert (await session.s("POST", "dispenser/prepare")).status == 200
    assert (await session.s("GET", "barcode-reader/read")).body["barcode"] == "8412345678901"


async def test_unreadable_barcode(session: Tecalis, sim_control: SimControl) -> None:
    await sim_control.set_dispenser(unreadable_next=2)
    await session.s("POST", "dispenser/prepare")
    for _ in range(2):
        reply = await session.s("GET", "barcode-reader/read")
        assert (reply.status, reply.error) == (422, "barcode_unreadable")
    assert (await session.s("GET", "barcode-reader/read")).body["barcode"] == "8412345678901"


# -- printer and scanner -------------------------------------------------------


async def test_printed_pdfs_are_kept(
    session: Tecalis, sim_control: SimControl, clock: ControlledClock
) -> None:
    clock.advance(5)
    printed = await session.s("POST", "printer/print-pdf", {"pdf": pdf_data_url()})
    assert printed.status == 200
    assert printed.body["message"] == "Printed"
    second = PDF.replace(b"1.4", b"1.7")
    await session.s("POST", "printer/print-pdf", {"pdf": pdf_data_url(second)})
    listing = await sim_control.printed()
    assert listing == [
        {"index": 0, "bytes": len(PDF), "session_id": session.session_id, "at": T0 + 5},
        {"index": 1, "bytes": len(second), "session_id": session.session_id, "at": T0 + 5},
    ]
    assert await sim_control.printed_pdf(0) == PDF
    assert await sim_control.printed_pdf(1) == second
    with pytest.raises(SimControlError) as missing:
        await sim_control.printed_pdf(2)
    assert missing.value.status == 404


async def test_print_pdf_refusals(session: Tecalis, sim_control: SimControl) -> None:
    b64 = base64.b64encode(PDF).decode()
    for pdf in (b64, "data:application/pdf;base64,%%%notbase64", pdf_data_url(b"GIF89a...")):
        reply = await session.s("POST", "printer/print-pdf", {"pdf": pdf})
        assert (reply.status, reply.error) == (400, "invalid_pdf"), reply
    missing = await session.s("POST", "printer/print-pdf", {})
    assert (missing.status, missing.error) == (422, "invalid_request")
    await sim_control.set_printer(paper="out")
    out = await session.s("POST", "printer/print-pdf", {"pdf": pdf_data_url()})
    assert (out.status, out.error) == (409, "paper_out")
    integrator = await session.integrator_token()
    await session.call("POST", "/api/kiosk/KIOSK-001/printer/restart", integrator)
    still = await session.s("POST", "printer/print-pdf", {"pdf": pdf_data_url()})
    assert still.error == "paper_out"  # a restart does not add paper
    await sim_control.set_printer(paper="ok")
    assert (await session.s("POST", "printer/print-pdf", {"pdf": pdf_data_url()})).status == 200
    assert await sim_control.printed() != []


async def test_scanner_returns_a_real_jpeg(session: Tecalis, sim_control: SimControl) -> None:
    scan = await session.s("GET", "scanner/scan")
    assert scan.status == 200
    assert scan.body["message"] == "Scan done"
    prefix = "data:image/jpeg;base64,"
    assert scan.body["image"].startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(scan.body["image"][len(prefix) :]))) as image:
        assert image.format == "JPEG"
        assert image.size == (640, 400)
    await sim_control.set_scanner(offline=True)
    offline = await session.s("GET", "scanner/scan")
    assert (offline.status, offline.error) == (503, "scanner_offline")
    integrator = await session.integrator_token()
    await session.call("POST", "/api/kiosk/KIOSK-001/scanner/restart", integrator)
    assert (await session.s("GET", "scanner/scan")).status == 200


# -- integrator kiosk methods --------------------------------------------------


async def test_kiosk_status_follows_the_devices(session: Tecalis, sim_control: SimControl) -> None:
    integrator = await session.integrator_token()

    async def data(path: str = "status") -> dict[str, object]:
        reply = await session.call("GET", f"/api/kiosk/KIOSK-001/{path}", integrator)
        assert reply.status == 200, reply
        assert REQUEST_ID.match(reply.body["request_id"])
        return reply.body["data"]  # type: ignore[no-any-return]

    assert await data() == {
        "cpu": "Normal",
        "printer": "Online",
        "tpv": "Ready",
        "scanner": "Online",
        "bill_reader": "Ready",
        "dispenser": "Ready",
    }
    assert await data("printer/status") == {"online": True, "paper": "ok", "errors": []}
    assert await data("dispenser/status") == {
        "hopper": {"count": 50, "empty": False, "low": False},
        "card_position": "none",
        "reject_bin": 0,
        "jammed": False,
        "errors": [],
    }
    await sim_control.set_printer(paper="low")
    await sim_control.set_dispenser(hopper=5)
    await sim_control.set_scanner(offline=True)
    await sim_control.jam_bill_reader("now")
    await session.s("POST", "tpv/prepare", {"amount": 1})
    await session.s("POST", "dispenser/prepare")
    status = await data()
    assert status == {
        "cpu": "Normal",
        "printer": "Paper low",
        "tpv": "Busy",
        "scanner": "Offline",
        "bill_reader": "Jammed",
        "dispenser": "Low",
    }
    dispenser = await data("dispenser/status")
    assert dispenser["hopper"] == {"count": 4, "empty": False, "low": True}
    assert dispenser["card_position"] == "reader"
    await sim_control.set_printer(paper="out")
    assert (await data("printer/status"))["errors"] == ["paper_out"]
    await sim_control.set_device_offline("printer")
    assert (await data())["printer"] == "Offline"
    await session.call("POST", "/api/kiosk/KIOSK-001/printer/restart", integrator)
    assert (await data())["printer"] == "Paper out"
    await sim_control.set_dispenser(hopper=0)
    assert (await data())["dispenser"] == "Empty"


async def test_kiosk_methods_refuse_unknown_kiosks_and_devices(tecalis: Tecalis) -> None:
    integrator = await tecalis.integrator_token()
    unknown = await tecalis.call("GET", "/api/kiosk/KIOSK-404/status", integrator)
    assert (unknown.status, unknown.error) == (404, "unknown_kiosk")
    device = await tecalis.call("POST", "/api/kiosk/KIOSK-001/toaster/restart", integrator)
    assert (device.status, device.error) == (404, "unknown_device")
    no_route = await tecalis.call("GET", "/api/kiosk/KIOSK-001/toaster/status", integrator)
    assert (no_route.status, no_route.error) == (404, "not_found")
    no_token = await tecalis.call("GET", "/api/kiosk/KIOSK-001/status")
    assert (no_token.status, no_token.error) == (401, "token_missing")


async def test_control_state_and_config(
    session: Tecalis, sim_control: SimControl, clock: ControlledClock
) -> None:
    config = await sim_control.configure_tecalis(
        escrow_timeout_s=10, denominations=[5, Decimal("2.50")], session_ttl_s=60
    )
    assert config["escrow_timeout_s"] == 10
    assert config["denominations"] == [Decimal("2.5"), 5]
    await session.s("POST", "bill-reader/open", {"amount": 10})
    assert (await sim_control.insert_note(Decimal("2.50")))["result"] == "escrow"
    clock.advance(10)
    state = await sim_control.tecalis_state()
    assert state["bill_reader"]["escrow"] is None
    assert state["tokens"]["session_ttl_s"] == 60
    with pytest.raises(SimControlError) as bad:
        await sim_control.configure_tecalis(cash_box_capacity=0)
    assert bad.value.status == 422


async def test_large_pdfs_are_accepted(session: Tecalis, sim_control: SimControl) -> None:
    big = PDF + b"%" + b"x" * (3 * 1024 * 1024) + b"\n"
    printed = await session.s("POST", "printer/print-pdf", {"pdf": pdf_data_url(big)})
    assert printed.status == 200, printed
    assert (await sim_control.printed())[0]["bytes"] == len(big)
