"""The Tecalis client against the Tecalis simulator, over real loopback HTTP.

Callbacks travel simulator → callback receiver → client, as on a kiosk.
Time is the simulator's ControlledClock, shared with the client: nothing waits
for real seconds; tests wait on events.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from kioskapp.core.clock import ControlledClock, SystemClock
from kioskapp.core.money import Money
from kioskapp.devices.callbacks import CallbackReceiver, InboundCallback
from kioskapp.devices.errors import (
    ProtocolError,
    ServerError,
    ServiceTimeout,
    ServiceUnavailable,
)
from kioskapp.devices.http import RetryPolicy
from kioskapp.devices.tecalis import (
    BarcodeUnreadable,
    BillReaderJammed,
    CashBoxFull,
    DeviceOffline,
    DispenserJammed,
    FileTokenStore,
    HopperEmpty,
    NoNoteInEscrow,
    PaperOut,
    SessionAlreadyOpen,
    TecalisClient,
    TecalisTimeouts,
    TpvNotCancellable,
)
from kioskapp.devices.tecalis_models import (
    BillReaderChanged,
    DeviceEvent,
    NoteEscrowed,
    NoteReturned,
    NoteStacked,
    SessionRenewed,
    TpvFinished,
    TpvStateChanged,
)
from kioskapp.simulator.control import SimControl

E = TypeVar("E", bound=DeviceEvent)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def eur(major: int) -> Money:
    return Money(major * 100, "EUR")


def make_client(sim: Any, clock: Any, **kwargs: Any) -> TecalisClient:
    options: dict[str, Any] = {
        "username": "integrator",
        "password": "integrator-secret",
        "kiosk_id": "KIOSK-001",
        "clock": clock,
        "poll_interval_s": 1.0,
        "retry": RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0),
    }
    options.update(kwargs)
    return TecalisClient(sim.url_for("tecalis"), **options)


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    async with CallbackReceiver(port=0, max_body_bytes=4096) as rx:
        yield rx


@pytest.fixture
async def client(
    sim: Any, clock: ControlledClock, receiver: CallbackReceiver
) -> AsyncIterator[TecalisClient]:
    c = make_client(sim, clock, callback_url=receiver.url_for("/tecalis"))

    async def deliver(cb: InboundCallback) -> str:
        return await c.handle_callback(cb.json)

    receiver.add_route("/tecalis", deliver)
    async with c:
        yield c


async def next_of(client: TecalisClient, kind: type[E], timeout: float = 5.0) -> E:
    """Wait for the next event of ``kind``; fail on anything unexpected in between."""

    async def wait() -> E:
        while True:
            event = await client.next_event()
            if isinstance(event, kind):
                return event
            if not isinstance(event, TpvStateChanged | SessionRenewed):
                raise AssertionError(f"unexpected event {event} while waiting for {kind.__name__}")

    return await asyncio.wait_for(wait(), timeout)


async def settle(client: TecalisClient, control: SimControl) -> list[DeviceEvent]:
    """Let every callback in flight arrive, poll once more, return what was left queued."""
    await control.drain_callbacks()
    await client.poll_now()
    return client.pending_events()


# -- session ---------------------------------------------------------------------


async def test_session_start_and_close(client: TecalisClient, sim_control: SimControl) -> None:
    info = await client.start_session()
    assert info.kiosk_id == "KIOSK-001"
    assert info.expires_at > 0
    state = await sim_control.tecalis_state()
    assert state["session"]["session_id"] == info.session_id
    await client.close_session()
    assert client.session is None
    assert (await sim_control.tecalis_state())["session"] is None


async def test_second_session_is_refused_with_a_clear_error(
    sim: Any, clock: ControlledClock
) -> None:
    async with make_client(sim, clock) as first, make_client(sim, clock) as second:
        await first.start_session()
        with pytest.raises(SessionAlreadyOpen, match="still open") as info:
            await second.start_session()
        assert info.value.status == 409
        assert info.value.code == "session_already_open"


async def test_leftover_session_is_closed_first(
    sim: Any, clock: ControlledClock, tmp_path: Path
) -> None:
    store = FileTokenStore(tmp_path / "session.jwt")
    crashed = make_client(sim, clock, token_store=store)
    old = await crashed.start_session()
    assert (tmp_path / "session.jwt").stat().st_mode & 0o777 == 0o600
    # The process dies without closing: a new one with the same store starts cleanly.
    async with make_client(sim, clock, token_store=store) as restarted:
        new = await restarted.start_session()
        assert new.session_id != old.session_id
    await crashed._http.aclose()


async def test_expired_session_is_refreshed_before_use(
    client: TecalisClient, clock: ControlledClock
) -> None:
    first = await client.start_session()
    clock.advance(first.expires_at - clock.time() - client.refresh_margin_s + 1)
    await client.bill_reader_status()
    assert client.session is not None
    assert client.session.session_id != first.session_id
    renewed = await next_of(client, SessionRenewed)
    assert renewed.reason == "refresh"


async def test_token_expired_at_the_device_is_renewed_and_the_call_repeated(
    sim: Any, clock: ControlledClock, sim_control: SimControl
) -> None:
    # This client's own clock says the token is fresh; the device's says expired.
    async with make_client(sim, SystemClock()) as c:
        first = await c.start_session()
        clock.advance(10_000)
        status = await c.bill_reader_status()
        assert status.state in ("idle", "closed")
        assert c.session is not None
        assert c.session.session_id != first.session_id
        event = await asyncio.wait_for(c.next_event(), 5)
        assert isinstance(event, SessionRenewed)
        assert event.reason == "token_expired"


async def test_no_refresh_while_the_bill_reader_is_open(
    client: TecalisClient, clock: ControlledClock
) -> None:
    first = await client.start_session()
    await client.open_bill_reader(eur(30))
    clock.advance(first.expires_at - clock.time() - client.refresh_margin_s + 1)
    await client.bill_reader_status()
    assert client.session is not None
    assert client.session.session_id == first.session_id


# -- bill reader and escrow ---------------------------------------------------------


async def test_note_escrow_accept_stack(client: TecalisClient, sim_control: SimControl) -> None:
    await client.open_bill_reader(eur(30))
    await sim_control.insert_note(20)
    escrowed = await next_of(client, NoteEscrowed)
    assert escrowed.amount == eur(20)
    await client.accept_note()
    stacked = await next_of(client, NoteStacked)
    assert stacked.amount == eur(20)
    assert stacked.stacked_total == eur(20)
    status = await client.bill_reader_status()
    assert status.stacked_total == eur(20)
    assert status.escrow is None
    assert await settle(client, sim_control) == []


async def test_reject_returns_the_note(client: TecalisClient, sim_control: SimControl) -> None:
    await client.open_bill_reader(eur(10))
    await sim_control.insert_note(50)
    await next_of(client, NoteEscrowed)
    await client.reject_note()
    returned = await next_of(client, NoteReturned)
    assert (returned.amount, returned.reason) == (eur(50), "rejected")
    assert (await client.bill_reader_status()).stacked_total == eur(0)


async def test_escrow_timeout_returns_the_note(
    client: TecalisClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    await client.open_bill_reader(eur(10))
    await sim_control.insert_note(20)
    await next_of(client, NoteEscrowed)
    clock.advance(90)
    returned = await next_of(client, NoteReturned)
    assert (returned.amount, returned.reason) == (eur(20), "timeout")
    with pytest.raises(NoNoteInEscrow):
        await client.accept_note()


async def test_lost_callbacks_are_recovered_by_polling(
    client: TecalisClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    await client.open_bill_reader(eur(30))
    await sim_control.set_callback_mode("drop")
    await sim_control.insert_note(20)
    await sim_control.drain_callbacks()
    assert client.pending_events() == []
    clock.advance(client.poll_interval_s)  # the periodic poll
    escrowed = await next_of(client, NoteEscrowed)
    assert escrowed.source == "poll"
    assert escrowed.amount == eur(20)
    fates = [e["fate"] for e in await sim_control.events()]
    assert "dropped" in fates


async def test_duplicated_callbacks_change_nothing(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await client.open_bill_reader(eur(30))
    await sim_control.set_callback_mode("duplicate")
    await sim_control.insert_note(20)
    await next_of(client, NoteEscrowed)
    await client.accept_note()
    await next_of(client, NoteStacked)
    assert await settle(client, sim_control) == []
    assert (await client.bill_reader_status()).stacked_total == eur(20)


async def test_late_callbacks_change_nothing(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await client.open_bill_reader(eur(30))
    await sim_control.set_callback_mode("hold")
    await sim_control.insert_note(10)
    await client.poll_now()
    await next_of(client, NoteEscrowed)
    await client.accept_note()
    await next_of(client, NoteStacked)
    assert await sim_control.release_callbacks() >= 2
    assert await settle(client, sim_control) == []


async def test_unrecognised_note_is_reported(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await client.open_bill_reader(eur(30))
    await sim_control.insert_unrecognised()
    returned = await next_of(client, NoteReturned)
    assert returned.reason == "unrecognised"


async def test_jam_on_accept(client: TecalisClient, sim_control: SimControl) -> None:
    await client.open_bill_reader(eur(30))
    await sim_control.jam_bill_reader("on_accept")
    await sim_control.insert_note(20)
    await next_of(client, NoteEscrowed)
    with pytest.raises(BillReaderJammed):
        await client.accept_note()
    jam = await next_of(client, BillReaderChanged)
    assert jam.state == "jammed"
    assert jam.stuck_note == eur(20)
    with pytest.raises(BillReaderJammed):
        await client.open_bill_reader(eur(30))


async def test_cash_box_full(client: TecalisClient, sim_control: SimControl) -> None:
    await sim_control.configure_tecalis(cash_box_capacity=10)
    await sim_control.set_cash_box(count_total=9)
    await client.open_bill_reader(eur(30))
    await sim_control.insert_note(5)
    await next_of(client, NoteEscrowed)
    await client.accept_note()
    await next_of(client, NoteStacked)
    full = await next_of(client, BillReaderChanged)
    assert full.state == "full"
    await client.close_bill_reader()
    with pytest.raises(CashBoxFull):
        await client.open_bill_reader(eur(30))


# -- PIN pad ------------------------------------------------------------------------


async def test_tpv_approved(client: TecalisClient, sim_control: SimControl) -> None:
    await client.tpv_prepare(eur(10))
    assert (await next_of(client, TpvStateChanged)).state == "waiting_card"
    await sim_control.tpv_present(brand="visa", last4="0010")
    await sim_control.tpv_pin()
    await sim_control.tpv_approve()
    done = await next_of(client, TpvFinished)
    assert done.status.state == "approved"
    assert done.status.amount == eur(10)
    assert done.status.auth_code
    assert done.status.card is not None
    assert done.status.card.last4 == "0010"
    assert await settle(client, sim_control) == []


async def test_tpv_declined(client: TecalisClient, sim_control: SimControl) -> None:
    await sim_control.tpv_auto("decline")
    await client.tpv_prepare(eur(10))
    assert (await next_of(client, TpvFinished)).status.state == "declined"


async def test_tpv_cancel(client: TecalisClient, sim_control: SimControl) -> None:
    await client.tpv_prepare(eur(10))
    await client.tpv_cancel()
    assert (await next_of(client, TpvFinished)).status.state == "cancelled"


async def test_tpv_not_cancellable_while_processing(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await client.tpv_prepare(eur(10))
    await sim_control.tpv_present()
    await sim_control.tpv_pin()
    with pytest.raises(TpvNotCancellable):
        await client.tpv_cancel()


async def test_tpv_times_out_after_two_minutes(
    client: TecalisClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    await client.tpv_prepare(eur(10))
    clock.advance(119)
    await client.poll_now()
    assert (await client.tpv_status()).state == "waiting_card"
    clock.advance(1)
    assert (await next_of(client, TpvFinished)).status.state == "timeout"


# -- dispenser, printer, scanner ----------------------------------------------------


async def test_card_prepare_read_dispense_and_discard(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await sim_control.set_dispenser(hopper=5, barcodes=["8412345678901", "8412345678902"])
    await client.prepare_card()
    assert await client.read_barcode() == "8412345678901"
    await client.dispense_card()
    await client.prepare_card()
    assert await client.read_barcode() == "8412345678902"
    await client.discard_card()
    status = await client.dispenser_status()
    assert status.hopper_count == 3
    assert status.card_position == "none"
    assert status.reject_bin == 1


async def test_empty_hopper(client: TecalisClient, sim_control: SimControl) -> None:
    await sim_control.set_dispenser(hopper=0)
    with pytest.raises(HopperEmpty):
        await client.prepare_card()
    assert (await client.dispenser_status()).hopper_empty


async def test_dispenser_jam_and_restart(client: TecalisClient, sim_control: SimControl) -> None:
    await sim_control.set_dispenser(jam_next=True)
    with pytest.raises(DispenserJammed):
        await client.prepare_card()
    assert (await client.dispenser_status()).jammed
    await client.restart_device("dispenser")
    assert not (await client.dispenser_status()).jammed
    await client.prepare_card()


async def test_unreadable_barcode(client: TecalisClient, sim_control: SimControl) -> None:
    await sim_control.set_dispenser(unreadable_next=1)
    await client.prepare_card()
    with pytest.raises(BarcodeUnreadable):
        await client.read_barcode()
    assert await client.read_barcode()  # readable on the next try


async def test_print_pdf_keeps_the_document(client: TecalisClient, sim_control: SimControl) -> None:
    await client.print_pdf(PDF)
    printed = await sim_control.printed()
    assert len(printed) == 1
    assert await sim_control.printed_pdf(printed[0]["index"]) == PDF
    with pytest.raises(ValueError, match="PDF"):
        await client.print_pdf(b"plain text")


async def test_paper_out(client: TecalisClient, sim_control: SimControl) -> None:
    await sim_control.set_printer(paper="out")
    with pytest.raises(PaperOut):
        await client.print_pdf(PDF)
    status = await client.printer_status()
    assert status.paper == "out"
    assert not status.can_print
    assert (await client.kiosk_status()).devices["printer"] == "Paper out"
    assert await sim_control.printed() == []


async def test_scan_returns_a_real_jpeg(client: TecalisClient, sim_control: SimControl) -> None:
    image = await client.scan()
    assert image.jpeg[:2] == b"\xff\xd8"
    assert image.width > 100
    assert image.height > 100
    await sim_control.set_scanner(offline=True)
    with pytest.raises(DeviceOffline):
        await client.scan()


async def test_kiosk_status_and_restarts(client: TecalisClient) -> None:
    status = await client.kiosk_status()
    assert status.devices["bill_reader"] == "Ready"
    for device in ("printer", "dispenser", "scanner"):
        await client.restart_device(device)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="cannot restart"):
        await client.restart_device("bill_reader")  # type: ignore[arg-type]


# -- transport and protocol faults --------------------------------------------------


async def test_malformed_json_is_a_protocol_error(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await client.start_session()
    await sim_control.set_fault(
        "tecalis", "/api/session/bill-reader/status", "malformed_json", count=1
    )
    with pytest.raises(ProtocolError, match="not valid JSON"):
        await client.bill_reader_status()
    assert client.health.ok is False
    await client.bill_reader_status()
    assert client.health.ok is True


async def test_non_json_502_is_retried_on_safe_calls(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await client.start_session()
    await sim_control.set_fault("tecalis", "/api/session/bill-reader/status", "html_502", count=1)
    status = await client.bill_reader_status()
    assert status.state in ("idle", "closed")


async def test_non_json_502_is_not_retried_on_accept(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await client.open_bill_reader(eur(30))
    await sim_control.insert_note(20)
    await next_of(client, NoteEscrowed)
    await sim_control.set_fault("tecalis", "/api/session/bill-reader/accept", "html_502", count=2)
    with pytest.raises(ServerError) as info:
        await client.accept_note()
    assert info.value.status == 502
    remaining = [f for f in await sim_control.faults() if f["path"].endswith("/accept")]
    assert remaining, "accept was sent again although its first answer was lost"
    # The note is still in escrow: the caller decides, with the status in hand.
    assert (await client.bill_reader_status()).escrow is not None


async def test_slow_answer_times_out(
    sim: Any, clock: ControlledClock, sim_control: SimControl
) -> None:
    async with make_client(sim, clock, timeouts=TecalisTimeouts(default=0.2, connect=0.2)) as c:
        await c.start_session()
        await sim_control.set_fault(
            "tecalis", "/api/session/dispenser/prepare", "delay", seconds=1, count=1
        )
        with pytest.raises(ServiceTimeout):
            await c.prepare_card()


async def test_dropped_connection_is_unavailable(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await client.start_session()
    await sim_control.set_fault(
        "tecalis", "/api/session/dispenser/prepare", "drop_connection", count=1
    )
    with pytest.raises(ServiceUnavailable):
        await client.prepare_card()


async def test_nothing_listening_is_unavailable(clock: ControlledClock) -> None:
    c = TecalisClient(
        "http://127.0.0.1:9/tecalis",
        username="u",
        password="p",
        kiosk_id="K",
        clock=clock,
        retry=RetryPolicy(attempts=1),
    )
    async with c:
        with pytest.raises(ServiceUnavailable):
            await c.kiosk_status()


async def test_oversize_callback_is_refused_and_changes_nothing(
    client: TecalisClient, receiver: CallbackReceiver, sim_control: SimControl
) -> None:
    await client.open_bill_reader(eur(30))
    session = client.session
    assert session is not None
    body = {"event": "bill.escrow", "session_id": session.session_id, "pad": "x" * 10_000}
    async with httpx.AsyncClient() as http:
        resp = await http.post(receiver.url_for("/tecalis"), json=body)
    assert resp.status_code == 413
    assert client.pending_events() == []


async def test_invalid_and_foreign_callbacks(
    client: TecalisClient, receiver: CallbackReceiver
) -> None:
    await client.open_bill_reader(eur(30))
    async with httpx.AsyncClient() as http:
        bad = await http.post(receiver.url_for("/tecalis"), json={"no_event": 1})
        foreign = await http.post(
            receiver.url_for("/tecalis"),
            json={
                "event": "bill.escrow",
                "session_id": "someone-else",
                "request_id": "r",
                "timestamp": 1,
            },
        )
    assert bad.status_code == 400
    assert foreign.status_code == 200
    assert "other session" in foreign.json()["result"]
    assert client.pending_events() == []


async def test_logs_hold_no_tokens_or_passwords(
    client: TecalisClient, sim_control: SimControl, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await client.open_bill_reader(eur(30))
    await sim_control.insert_note(20)
    await next_of(client, NoteEscrowed)
    await client.accept_note()
    token = client._session_token
    assert token
    assert token not in caplog.text
    assert "integrator-secret" not in caplog.text


# -- regressions: money stays visible across jams, expiry and closes -------------


async def test_jammed_note_at_session_close_is_unknown_not_returned(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await client.open_bill_reader(eur(30))
    await sim_control.jam_bill_reader("on_accept")
    await sim_control.insert_note(20)
    await next_of(client, NoteEscrowed)
    with pytest.raises(BillReaderJammed):
        await client.accept_note()
    await next_of(client, BillReaderChanged)
    await client.close_session()
    events = client.pending_events()
    assert [type(e).__name__ for e in events] == ["NoteOutcomeUnknown"]
    assert events[0].amount == eur(20)  # type: ignore[attr-defined]


async def test_card_payment_followed_across_a_session_renewal(
    sim: Any, clock: ControlledClock, sim_control: SimControl
) -> None:
    async with make_client(sim, SystemClock(), poll_interval_s=3600) as c:
        await c.tpv_prepare(eur(10))
        await sim_control.tpv_present()
        await sim_control.tpv_pin()  # processing: the PIN pad outlives the session
        clock.advance(10_000)  # the device ends the session
        await sim_control.tpv_approve()
        await c.poll_now()  # 401 → renewal → the payment is still followed
        done = None
        for event in c.pending_events():
            if isinstance(event, TpvFinished):
                done = event
        assert done is not None, "the approved payment was lost in the renewal"
        assert done.status.state == "approved"


async def test_poll_racing_a_close_does_not_open_a_session(
    client: TecalisClient, sim_control: SimControl
) -> None:
    await client.open_bill_reader(eur(30))
    await asyncio.gather(client.close_session(), client.poll_now(), return_exceptions=True)
    await client.poll_now()
    assert client.session is None
    assert (await sim_control.tecalis_state())["session"] is None
