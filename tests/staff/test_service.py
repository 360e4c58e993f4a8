"""Every staff action against the simulators, each with its audit entry."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kioskapp import __version__
from kioskapp.core.flow import Start, State
from kioskapp.core.money import Money
from kioskapp.staff.service import (
    STAFF_OOS_REASON,
    AlreadyResolved,
    NoSuchRecord,
    StaffError,
    StaffService,
    cash_box_view,
    cash_check,
    flagged_without_incident,
    out_of_service_toggle,
    unresolved_flagged_sales,
)

from .conftest import STAFF_PIN, Staff, record_out_of_service, with_time

EUR = "EUR"


def eur(major: int) -> Money:
    return Money(major * 100, EUR)


async def seed_cash_sale(staff: Staff, sale_id: str, notes: list[int], **data: Any) -> None:
    """A sale paid with these notes (major units), journalled as the flow does."""
    k = staff.kiosk
    db, call = k.db, k.journal.call
    total = sum(notes)
    await call(
        db.create_sale,
        sale_id,
        state="thank_you",
        price=eur(total),
        product_sku="GIFT-20",
        product_name="Gift card",
    )
    key, taken = f"{sale_id}/cash/1", 0
    for note in notes:
        taken += note
        await call(
            db.save_payment,
            key=key,
            sale_id=sale_id,
            method="cash",
            attempt=1,
            amount=eur(total),
            taken=eur(taken),
        )
    await call(db.finish_payment, key, outcome="approved", taken=eur(taken))
    await call(
        db.update_sale, sale_id, status="completed", data={"delivered_minor": total * 100, **data}
    )


async def seed_card_sale(staff: Staff, sale_id: str, *, status: str = "completed") -> None:
    k = staff.kiosk
    db, call = k.db, k.journal.call
    await call(db.create_sale, sale_id, state="thank_you", price=eur(50), product_sku="PREMIUM-50")
    key = f"{sale_id}/tpv/1"
    await call(
        db.save_payment,
        key=key,
        sale_id=sale_id,
        method="tpv",
        attempt=1,
        amount=eur(50),
        taken=eur(50),
    )
    await call(
        db.finish_payment,
        key,
        outcome="approved",
        taken=eur(50),
        auth_code="A12345",
        card_brand="visa",
        card_last4="4242",
    )
    effect = await call(db.begin_effect, sale_id, "dispenser.dispense", {"card": "x"})
    await call(db.end_effect, effect, "done", {"ok": True})
    await call(db.update_sale, sale_id, status=status)  # type: ignore[arg-type]


# -- entering and leaving ---------------------------------------------------------------


async def test_login_enters_maintenance_and_leaving_returns_to_attract(staff: Staff) -> None:
    service, watcher = staff.service, staff.watcher
    assert service.can_enter()
    wrong = await service.login("000000")
    assert wrong.reason == "wrong"
    assert not service.in_maintenance
    right = await service.login(STAFF_PIN)
    assert right.ok
    assert service.in_maintenance
    snap = staff.runtime.flow.snapshot
    assert (snap.state, snap.out_of_service_reason) == (
        State.OUT_OF_SERVICE,
        "out_of_service.staff",
    )
    await watcher.until_state(State.OUT_OF_SERVICE)
    # While staff are in, a customer's tap starts nothing.
    staff.runtime.flow.submit(Start())
    await service.leave(reason="timeout")
    assert not service.in_maintenance
    await watcher.until_state(State.ATTRACT)
    assert staff.runtime.flow.state is State.ATTRACT
    actions = await staff.audit_actions()
    assert actions == ["staff.pin_wrong", "staff.login", "staff.enter", "staff.leave"]
    assert (await staff.audit("staff.leave")) == [{"reason": "timeout"}]
    assert all(s.state in (State.ATTRACT, State.OUT_OF_SERVICE) for s in watcher.seen)


async def test_no_entry_during_a_sale(staff: Staff) -> None:
    flow = staff.runtime.flow
    flow.submit(Start())
    await staff.watcher.until_state(State.CHOOSING)
    assert not staff.service.can_enter()
    with pytest.raises(StaffError, match="customer"):
        await staff.service.enter()
    assert not staff.service.in_maintenance
    assert "staff.enter" not in await staff.audit_actions()


async def test_a_right_pin_mid_sale_enters_nothing(staff: Staff) -> None:
    staff.runtime.flow.submit(Start())
    await staff.watcher.until_state(State.CHOOSING)
    with pytest.raises(StaffError):
        await staff.service.login(STAFF_PIN)
    assert not staff.service.in_maintenance
    assert staff.runtime.flow.state is State.CHOOSING


async def test_out_of_service_toggle_persists_and_applies_after_leaving(staff: Staff) -> None:
    service, watcher = staff.service, staff.watcher
    await service.set_out_of_service(True)
    oos = await watcher.until_state(State.OUT_OF_SERVICE)
    assert oos.out_of_service_reason == "out_of_service.staff"
    assert service.can_enter()  # out of service is idle
    await service.enter()
    await service.leave(reason="logout")
    await asyncio.sleep(0)
    assert staff.runtime.flow.state is State.OUT_OF_SERVICE  # the toggle is still on
    # A restarted app reads the toggle from the journal.
    again = StaffService(staff.runtime, config_path=None)
    await again.start()
    assert again.out_of_service()
    await service.enter()
    await service.set_out_of_service(False)
    assert staff.runtime.flow.state is State.OUT_OF_SERVICE  # staff are still in
    await service.leave(reason="logout")
    await watcher.until_state(State.ATTRACT)
    assert await staff.audit("kiosk.out_of_service") == [{"on": True}, {"on": False}]
    fresh = StaffService(staff.runtime, config_path=None)
    await fresh.start()
    assert not fresh.out_of_service()


# -- dashboard ----------------------------------------------------------------------------


async def test_dashboard_shows_every_device_with_its_last_error(staff: Staff) -> None:
    rows = {r.name: r for r in await staff.service.dashboard()}
    assert set(rows) >= {
        "kiosk_api",
        "bill_reader",
        "tpv",
        "dispenser",
        "printer",
        "scanner",
        "cardapi",
    }
    assert rows["printer"].ok is True
    assert rows["kiosk_api"].ok is True
    await staff.kiosk.control.set_printer(paper="out")
    await staff.kiosk.control.set_device_offline("scanner")
    staff.kiosk.clock.advance(10.0)
    rows = {r.name: r for r in await staff.service.dashboard()}
    printer = rows["printer"]
    assert (printer.ok, printer.summary, printer.last_error) == (False, "Paper out", "Paper out")
    assert printer.last_error_at == staff.kiosk.clock.time()
    assert rows["scanner"].ok is False
    assert rows["bill_reader"].ok is True
    await staff.kiosk.control.set_printer(paper="ok")
    rows = {r.name: r for r in await staff.service.dashboard()}
    assert rows["printer"].ok is True
    assert rows["printer"].last_error == "Paper out"  # the last error stays visible


async def test_dashboard_when_the_kiosk_api_is_down(staff: Staff) -> None:
    await staff.service.dashboard()
    await staff.kiosk.control.set_fault("tecalis", "/api/kiosk/*", "status", status=503)
    rows = {r.name: r for r in await with_time(staff.kiosk.clock, staff.service.dashboard())}
    assert rows["kiosk_api"].ok is False
    assert "not answering" in rows["kiosk_api"].summary
    assert rows["printer"].ok is None
    assert "unknown" in rows["printer"].summary


# -- cash box -----------------------------------------------------------------------------


async def test_cash_box_by_denomination(staff: Staff) -> None:
    await seed_cash_sale(staff, "s1", [20, 20, 10])
    await seed_cash_sale(staff, "s2", [50, 5])
    box = await staff.service.cash_box()
    assert [(n.value, n.count, n.total) for n in box.notes] == [
        (eur(50), 1, eur(50)),
        (eur(20), 2, eur(40)),
        (eur(10), 1, eur(10)),
        (eur(5), 1, eur(5)),
    ]
    assert (box.total, box.note_count, box.since) == (eur(105), 5, None)
    check = await staff.kiosk.journal.call(cash_check, staff.kiosk.db, EUR)
    assert check.balanced
    assert check.taken == eur(105)


async def test_collect_records_and_prints_the_slip(staff: Staff) -> None:
    await seed_cash_sale(staff, "s1", [20, 10])
    before = len(await staff.kiosk.control.printed())
    result = await staff.service.collect()
    assert result.slip_printed
    assert result.printer_error is None
    assert result.box.total == eur(30)
    assert result.slip_pdf.startswith(b"%PDF")
    assert any("30.00" in line for line in result.slip_lines)
    printed = await staff.kiosk.control.printed()
    assert len(printed) == before + 1
    assert await staff.kiosk.control.printed_pdf(printed[-1]["index"]) == result.slip_pdf
    after = await staff.service.cash_box()
    assert (after.total, after.since) == (eur(0), result.at)
    assert await staff.audit("cash.collect") == [
        {"collection_id": result.collection_id, "total_minor": 3000}
    ]
    assert await staff.audit("cash.collection_slip") == [
        {"collection_id": result.collection_id, "printed": True, "printer_error": None}
    ]
    assert (await staff.kiosk.journal.call(cash_check, staff.kiosk.db, EUR)).balanced


async def test_collect_with_the_printer_out_of_paper_is_still_recorded(staff: Staff) -> None:
    await seed_cash_sale(staff, "s1", [50])
    await staff.kiosk.control.set_printer(paper="out")
    result = await staff.service.collect()
    assert not result.slip_printed
    assert result.printer_error
    assert "not printed" in result.message
    assert result.slip_pdf.startswith(b"%PDF")
    assert result.box.total == eur(50)
    box = await staff.kiosk.journal.call(cash_box_view, staff.kiosk.db, EUR)
    assert box.total == eur(0)
    slip = await staff.audit("cash.collection_slip")
    assert slip[0]["printed"] is False


# -- card hopper --------------------------------------------------------------------------


async def test_hopper_level_and_refill(staff: Staff) -> None:
    await staff.kiosk.control.set_dispenser(hopper=7)
    view = await staff.service.hopper()
    assert (view.count, view.empty, view.error, view.last_refill) == (7, False, None, None)
    staff.kiosk.clock.advance(5)
    await staff.service.record_refill(50)
    view = await staff.service.hopper()
    assert view.last_refill is not None
    assert (view.last_refill.cards, view.last_refill.at) == (50, staff.kiosk.clock.time())
    assert await staff.audit("hopper.refill") == [{"cards": 50}]


@pytest.mark.parametrize("cards", [0, -3, 10_001, True, 2.5])
async def test_a_refill_needs_a_sensible_count(staff: Staff, cards: Any) -> None:
    with pytest.raises(StaffError):
        await staff.service.record_refill(cards)
    assert await staff.audit("hopper.refill") == []


async def test_test_dispense_puts_one_card_in_the_reject_bin(staff: Staff) -> None:
    await staff.kiosk.control.set_dispenser(hopper=5)
    before = (await staff.kiosk.sim())["dispenser"]
    result = await staff.service.test_dispense()
    assert result.ok, result.message
    after = (await staff.kiosk.sim())["dispenser"]
    assert after["hopper"]["count"] == before["hopper"]["count"] - 1
    assert after["reject_bin"] == before["reject_bin"] + 1
    audit = await staff.audit("hopper.test_dispense")
    assert audit[0]["ok"] is True


async def test_test_dispense_with_an_empty_hopper_says_so(staff: Staff) -> None:
    await staff.kiosk.control.set_dispenser(hopper=0)
    result = await staff.service.test_dispense()
    assert not result.ok
    assert "prepare" in result.message
    assert (await staff.audit("hopper.test_dispense"))[0]["ok"] is False


# -- printer, scanner -----------------------------------------------------------------------


async def test_printer_status_and_test_page(staff: Staff) -> None:
    view = await staff.service.printer()
    assert (view.online, view.paper, view.can_print) == (True, "ok", True)
    before = len(await staff.kiosk.control.printed())
    result = await staff.service.test_print()
    assert result.ok
    assert len(await staff.kiosk.control.printed()) == before + 1
    await staff.kiosk.control.set_printer(paper="out")
    view = await staff.service.printer()
    assert (view.paper, view.can_print) == ("out", False)
    failed = await staff.service.test_print()
    assert not failed.ok
    assert "did not print" in failed.message
    assert [a["ok"] for a in await staff.audit("printer.test_page")] == [True, False]


async def test_test_scan_returns_the_image(staff: Staff) -> None:
    result = await staff.service.test_scan()
    assert result.ok
    assert result.mime == "image/jpeg"
    assert result.image is not None
    assert result.image.startswith(b"\xff\xd8")
    await staff.kiosk.control.set_scanner(offline=True)
    failed = await staff.service.test_scan()
    assert (failed.ok, failed.image) == (False, None)
    assert failed.error
    assert [a["ok"] for a in await staff.audit("scanner.test_scan")] == [True, False]


# -- card terminal --------------------------------------------------------------------------


async def test_tpv_ping_and_no_end_of_day(staff: Staff) -> None:
    ok = await staff.service.terminal_ping()
    assert ok.ok
    await staff.kiosk.control.set_device_offline("tpv")
    down = await staff.service.terminal_ping()
    assert not down.ok
    assert not staff.service.end_of_day_supported()
    eod = await staff.service.end_of_day()
    assert (eod.supported, eod.ok) == (False, False)
    assert eod.message == "End-of-day reconciliation is not supported by the TPV PIN pad."
    assert [a["ok"] for a in await staff.audit("terminal.ping")] == [True, False]


@pytest.mark.parametrize("kiosk", ["kinetic"], indirect=True)
async def test_kinetic_ping_and_end_of_day(staff: Staff) -> None:
    assert (await staff.service.terminal_ping()).ok
    assert staff.service.end_of_day_supported()
    before = len(await staff.kiosk.control.printed())
    eod = await staff.service.end_of_day()
    assert (eod.supported, eod.ok, eod.printed) == (True, True, True), eod.message
    assert eod.receipt_lines
    assert eod.slip_pdf is not None
    assert eod.slip_pdf.startswith(b"%PDF")
    assert len(await staff.kiosk.control.printed()) == before + 1
    audit = await staff.audit("terminal.end_of_day")
    assert (audit[0]["ok"], audit[0]["printed"]) == (True, True)


@pytest.mark.parametrize("kiosk", ["komoju"], indirect=True)
async def test_providers_without_reconciliation_say_so(staff: Staff) -> None:
    eod = await staff.service.end_of_day()
    assert not eod.supported
    assert eod.message.endswith("not supported by KOMOJU.")
    ping = await staff.service.terminal_ping()
    assert "KOMOJU has no ping" in ping.message


# -- incidents, sales ------------------------------------------------------------------------


async def test_incidents_carry_what_staff_need_and_resolve_with_a_note(staff: Staff) -> None:
    await seed_card_sale(staff, "sale-card", status="flagged")
    db, call = staff.kiosk.db, staff.kiosk.journal.call
    first = await call(
        db.open_incident,
        "refund_failed",
        "the refund failed",
        sale_id="sale-card",
        amount=eur(50),
        details={"voucher_code": "V-1"},
    )
    staff.kiosk.clock.advance(1)
    await call(db.open_incident, "printer", "no paper")
    rows = await staff.service.incidents()
    assert [r.kind for r in rows] == ["printer", "refund_failed"]
    inc = rows[1]
    assert (inc.id, inc.sale_id, inc.amount, inc.voucher_code) == (
        first,
        "sale-card",
        eur(50),
        "V-1",
    )
    assert (inc.auth_code, inc.card_last4, inc.payment_method) == ("A12345", "4242", "tpv")
    with pytest.raises(StaffError, match="note"):
        await staff.service.resolve(first, "   ")
    with pytest.raises(NoSuchRecord):
        await staff.service.resolve(999, "done")
    resolved = await staff.service.resolve(first, "voucher paid in cash")
    assert (resolved.status, resolved.resolved_by) == ("resolved", "staff@screen")
    with pytest.raises(AlreadyResolved, match="staff@screen"):
        await staff.service.resolve(first, "again")
    assert [r.kind for r in await staff.service.incidents()] == ["printer"]
    assert len(await staff.service.incidents(open_only=False)) == 2
    assert await staff.audit("incident.resolve") == [
        {"incident_id": first, "note": "voucher paid in cash"}
    ]


async def test_sales_search_and_detail(staff: Staff) -> None:
    await seed_cash_sale(staff, "abc-1", [20])
    staff.kiosk.clock.advance(1)
    await seed_card_sale(staff, "abd-2")
    staff.kiosk.clock.advance(1)
    await seed_card_sale(staff, "xyz-3")
    assert [s.sale_id for s in await staff.service.sales()] == ["xyz-3", "abd-2", "abc-1"]
    assert [s.sale_id for s in await staff.service.sales("ab")] == ["abd-2", "abc-1"]
    assert [s.sale_id for s in await staff.service.sales("abc")] == ["abc-1"]
    assert [s.sale_id for s in await staff.service.sales(limit=1)] == ["xyz-3"]
    with pytest.raises(StaffError):
        await staff.service.sales("a%")
    detail = await staff.service.sale_detail("abd-2")
    assert detail.sale.paid == eur(50)
    assert detail.sale.methods == ("tpv",)
    assert [(p.method, p.card_last4, p.auth_code) for p in detail.payments] == [
        ("tpv", "4242", "A12345")
    ]
    assert [(e.kind, e.status) for e in detail.effects] == [("dispenser.dispense", "done")]
    with pytest.raises(NoSuchRecord):
        await staff.service.sale_detail("nope")


# -- restarts, about -----------------------------------------------------------------------------


async def test_restart_a_device(staff: Staff) -> None:
    assert staff.service.restartable_devices() == ["printer", "dispenser", "scanner"]
    await staff.kiosk.control.set_device_offline("printer")
    result = await staff.service.restart_device("printer")
    assert result.ok, result.message
    assert not (await staff.kiosk.sim())["printer"]["offline"]
    with pytest.raises(StaffError):
        await staff.service.restart_device("bill_reader")
    assert await staff.audit("device.restart") == [{"device": "printer", "ok": True}]


async def test_a_failed_restart_is_a_result_not_an_exception(staff: Staff) -> None:
    path = f"/api/kiosk/{staff.kiosk.config.kiosk.id}/scanner/restart"
    await staff.kiosk.control.set_fault("tecalis", path, "status", status=500)
    result = await with_time(staff.kiosk.clock, staff.service.restart_device("scanner"))
    assert not result.ok
    assert "restart failed" in result.message
    assert (await staff.audit("device.restart"))[0]["ok"] is False


async def test_about_and_audit_log(staff: Staff) -> None:
    about = staff.service.about()
    assert about.version == __version__
    assert about.kiosk_id == staff.kiosk.config.kiosk.id
    assert about.journal_path == staff.kiosk.config.journal.path
    assert about.config_path is None
    await staff.service.record_app_exit("restart")
    log = await staff.service.audit_log()
    assert log[0].action == "app.restart"
    assert log[0].actor == "staff@screen"


# -- entering and leaving again, the dashboard, flagged sales, cashback -------------------


async def test_a_cancelled_entry_puts_the_kiosk_back_as_it_was(
    staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The PIN screen closed (timed out, the kiosk stops) while the flow was being
    taken out of service: nobody is logged in, so customers can buy again."""
    service, watcher = staff.service, staff.watcher
    waiting = asyncio.Event()

    async def flow_not_answering() -> bool:
        waiting.set()
        await asyncio.Event().wait()  # until cancelled
        return True

    monkeypatch.setattr(service, "_flow_took_it", flow_not_answering)
    entering = asyncio.ensure_future(service.login(STAFF_PIN))
    await waiting.wait()
    await watcher.until(
        lambda s: s.out_of_service_reason == STAFF_OOS_REASON, "out of service for staff"
    )
    entering.cancel()
    with pytest.raises(asyncio.CancelledError):
        await entering
    assert not service.in_maintenance
    await watcher.until_state(State.ATTRACT)
    assert "staff.enter" not in await staff.audit_actions()


@pytest.mark.parametrize("reason", ["restart", "quit", "shutdown"])
async def test_leaving_because_the_app_stops_keeps_the_kiosk_out_of_service(
    staff: Staff, monkeypatch: pytest.MonkeyPatch, reason: Any
) -> None:
    service, flow = staff.service, staff.runtime.flow
    await service.enter()
    asked = record_out_of_service(flow, monkeypatch)
    await service.leave(reason=reason)
    assert not service.in_maintenance
    assert asked == []  # the flow is never told to take customers again
    assert flow.snapshot.out_of_service_reason == STAFF_OOS_REASON
    assert await staff.audit("staff.leave") == [{"reason": reason}]
    # The persisted toggle is untouched: the next start puts the kiosk in service.
    assert await staff.audit("kiosk.out_of_service") == []
    assert not await staff.kiosk.journal.call(out_of_service_toggle, staff.kiosk.db)


async def test_the_dashboard_asks_the_dispenser_when_the_kiosk_status_has_none(
    staff: Staff,
) -> None:
    control = staff.kiosk.control
    await control.call("POST", "/tecalis/config", {"status_reports_dispenser": False})
    status = await staff.kiosk.devices.tecalis.kiosk_status()
    assert "dispenser" not in {k.lower() for k in status.devices}  # as the real API
    await control.set_dispenser(hopper=3)
    rows = {r.name: r for r in await staff.service.dashboard()}
    assert (rows["dispenser"].ok, rows["dispenser"].summary) == (True, "low")
    await control.set_dispenser(hopper=0)
    rows = {r.name: r for r in await staff.service.dashboard()}
    assert (rows["dispenser"].ok, rows["dispenser"].summary) == (False, "empty")
    assert rows["dispenser"].last_error == "empty"
    await control.call("POST", "/tecalis/config", {"status_reports_dispenser": True})
    await control.set_dispenser(hopper=20)
    rows = {r.name: r for r in await staff.service.dashboard()}
    assert (rows["dispenser"].ok, rows["dispenser"].summary) == (True, "Ready")


async def test_the_dashboard_shows_what_the_flow_met_while_nobody_watched(staff: Staff) -> None:
    k, watcher, flow = staff.kiosk, staff.watcher, staff.runtime.flow
    await k.control.set_printer(paper="out")
    k.clock.advance(30)
    flow.set_out_of_service(None)  # in service, as it is: the flow re-checks its devices
    await watcher.until(lambda s: "printer" in s.faults, "the printer flagged by the flow")
    met_at = k.clock.time()
    await k.control.set_printer(paper="ok")
    k.clock.advance(30)
    flow.set_out_of_service(None)
    await watcher.until(lambda s: "printer" not in s.faults, "the printer in use again")
    rows = {r.name: r for r in await staff.service.dashboard()}
    printer = rows["printer"]
    assert printer.ok is True
    assert (printer.last_error, printer.last_error_at) == ("printer.paper_out", met_at)
    # Kept in the journal: the app restarted shows it too.
    await staff.service.stop()
    again = StaffService(staff.runtime, config_path=None)
    await again.start()
    try:
        rows = {r.name: r for r in await again.dashboard()}
    finally:
        await again.stop()
    assert (rows["printer"].last_error, rows["printer"].last_error_at) == (
        "printer.paper_out",
        met_at,
    )


async def test_a_flagged_sale_without_an_incident_is_listed_and_resolved(staff: Staff) -> None:
    db, call = staff.kiosk.db, staff.kiosk.journal.call
    await seed_card_sale(staff, "lost-1", status="flagged")
    await call(db.update_sale, "lost-1", data={"flagged_minor": 5000})
    [view] = await staff.service.incidents()
    assert (view.id, view.kind, view.status, view.sale_id, view.amount) == (
        None,
        "sale_flagged",
        "open",
        "lost-1",
        eur(50),
    )
    assert (view.card_last4, view.auth_code, view.payment_method) == ("4242", "A12345", "tpv")
    assert await call(unresolved_flagged_sales, db) == ["lost-1"]
    with pytest.raises(StaffError, match="note"):
        await staff.service.resolve_flagged_sale("lost-1", "  ")
    with pytest.raises(NoSuchRecord):
        await staff.service.resolve_flagged_sale("nope", "done")
    resolved = await staff.service.resolve_flagged_sale("lost-1", "refunded at the acquirer")
    assert resolved.id is not None
    assert (resolved.status, resolved.kind, resolved.sale_id, resolved.amount) == (
        "resolved",
        "sale_flagged",
        "lost-1",
        eur(50),
    )
    assert (resolved.resolved_by, resolved.resolution_note) == (
        "staff@screen",
        "refunded at the acquirer",
    )
    assert await staff.service.incidents() == []
    assert await call(flagged_without_incident, db) == []
    assert await call(unresolved_flagged_sales, db) == []
    assert await staff.audit("incident.resolve") == [
        {"incident_id": resolved.id, "note": "refunded at the acquirer"}
    ]
    with pytest.raises(AlreadyResolved, match=f"#{resolved.id}"):
        await staff.service.resolve_flagged_sale("lost-1", "again")


async def test_a_sale_paid_by_cashback_says_so(staff: Staff) -> None:
    db, call = staff.kiosk.db, staff.kiosk.journal.call
    await call(db.create_sale, "cb-1", state="thank_you", price=eur(20), product_sku="GIFT-20")
    await call(db.update_sale, "cb-1", data={"debit": "done", "debit_minor": 1500})
    await call(db.update_sale, "cb-1", status="completed")
    await seed_card_sale(staff, "card-1")
    sales = {s.sale_id: s for s in await staff.service.sales()}
    assert (sales["cb-1"].paid, sales["cb-1"].cashback, sales["cb-1"].methods) == (
        eur(0),
        Money(1500, EUR),
        ("cashback",),
    )
    assert (sales["card-1"].cashback, sales["card-1"].methods) == (eur(0), ("tpv",))
    detail = await staff.service.sale_detail("cb-1")
    assert detail.sale.cashback == Money(1500, EUR)
