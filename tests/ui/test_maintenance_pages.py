"""Each maintenance screen against the simulators: what it shows, what its actions do,
and the audit entry each action leaves in the journal."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QLabel, QLineEdit

from kioskapp.core.flow import State
from kioskapp.core.money import Money
from kioskapp.ui.staff.common import when
from kioskapp.ui.staff.pages import DashboardPage
from tests.flow.conftest import Kiosk
from tests.ui.conftest import Ui
from tests.ui.staff_helpers import Staff, StaffSession


def eur(major: int | str) -> Money:
    return Money.from_major(str(major), "EUR")


async def cash_sale(u: Ui, sku: str = "GIFT-20", *notes: int) -> str:
    """A whole cash sale, from attract back to attract; returns its id."""
    notes = notes or (10, 10)
    sale_id = await u.pay_cash(sku, notes[0])
    for note in notes[1:]:
        await u.kiosk.insert_note(note)
    await u.until_state(State.THANK_YOU)
    u.click("finish")
    await u.until_state(State.ATTRACT)
    return sale_id


def cash_cells(staff: Staff) -> list[tuple[str, str, str]]:
    """The cash box table as shown: (note, count, value) rows under the heading."""
    rows: list[tuple[str, str, str]] = []
    r = 1
    while True:
        cells = [staff.mode.view.findChild(QLabel, f"cash:cell:{r}:{c}") for c in range(3)]
        if any(w is None for w in cells):
            return rows
        rows.append(tuple(w.text() for w in cells if w is not None))  # type: ignore[arg-type]
        r += 1


# -- device dashboard -------------------------------------------------------------------
async def test_the_dashboard_shows_every_device_and_refreshes_while_shown(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    async with staff_ui() as (u, staff):
        await staff.login()
        await staff.open("dashboard")
        page = staff.mode.pages["dashboard"]
        assert isinstance(page, DashboardPage)
        assert staff.text("dashboard:printer:0") == "Receipt printer"
        assert staff.text("dashboard:printer:1") == "OK"
        assert staff.text("dashboard:kiosk_api:1") == "OK"
        names = {staff.text(f"dashboard:{n}:0") for n in ("cardapi", "tpv", "dispenser")}
        assert len(names) == 3
        before = page.refreshes
        await kiosk.control.set_printer(offline=True)
        u.kiosk.clock.advance(DashboardPage.REFRESH_S)
        await staff.settle()
        assert page.refreshes == before + 1
        assert staff.text("dashboard:printer:1") == "FAILING"
        assert staff.text("dashboard:printer:3") != "none"  # the last error, and when
        # no refresh once the page is left
        staff.click("staff:menu")
        await staff.settle()
        u.kiosk.clock.advance(DashboardPage.REFRESH_S * 3)
        await staff.settle()
        assert page.refreshes == before + 1


# -- cash box ---------------------------------------------------------------------------
async def test_the_cash_box_shows_the_notes_and_collect_records_and_prints(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    async with staff_ui() as (u, staff):
        await cash_sale(u, "GIFT-20", 10, 10)
        await cash_sale(u, "GIFT-20", 20)
        printed_before = len(await kiosk.control.printed())
        await staff.login()
        await staff.open("cash")
        assert cash_cells(staff) == [
            ("20.00 EUR", "1", "20.00 EUR"),
            ("10.00 EUR", "2", "20.00 EUR"),
        ]
        assert staff.text("cash:total") == "Total: 40.00 EUR in 3 notes"
        assert staff.text("cash:since") == "Since the last collection: never collected"
        staff.click("cash:collect")
        assert "40.00 EUR (3 notes)" in staff.text("confirm:question")
        staff.click("confirm:no")
        await staff.settle()
        assert await staff.audit("cash.collect") == []
        staff.click("cash:collect")
        await staff.confirm()
        [collect] = await staff.audit("cash.collect")
        assert collect.details["total_minor"] == 4000
        assert collect.actor == "staff@screen"
        [slip] = await staff.audit("cash.collection_slip")
        assert slip.details["printed"] is True
        assert staff.text("cash:message").endswith("Slip printed.")
        assert not staff.widget("cash:slip").isVisible()
        assert len(await kiosk.control.printed()) == printed_before + 1
        assert cash_cells(staff) == []
        assert staff.text("cash:total") == "Total: 0.00 EUR in 0 notes"
        box = await staff.db(kiosk.db.cash_box, "EUR")
        assert box.total == eur(0)


async def test_collect_with_the_printer_out_of_paper_shows_the_slip(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    async with staff_ui() as (u, staff):
        await cash_sale(u, "GIFT-20", 20)
        await kiosk.control.set_printer(paper="out")
        await staff.login()
        await staff.open("cash")
        staff.click("cash:collect")
        await staff.confirm()
        message = staff.label("cash:message")
        assert message.property("role") == "notice"
        assert "recorded: 20.00 EUR" in message.text()
        assert "slip was not printed" in message.text()
        slip = staff.text("cash:slip")
        assert "20.00" in slip
        [collect] = await staff.audit("cash.collect")
        assert collect.details["total_minor"] == 2000
        [slip_audit] = await staff.audit("cash.collection_slip")
        assert slip_audit.details["printed"] is False
        assert (await staff.db(kiosk.db.cash_box, "EUR")).total == eur(0)


async def test_collect_cannot_be_submitted_twice(staff_ui: StaffSession, kiosk: Kiosk) -> None:
    async with staff_ui() as (u, staff):
        await cash_sale(u, "GIFT-20", 20)
        await staff.login()
        await staff.open("cash")
        staff.click("cash:collect")
        staff.click("confirm:yes")  # the collection runs...
        assert staff.mode.pages["cash"].working
        assert staff.label("cash:busy_text").text().startswith("Recording the collection")
        staff.press("cash:collect")  # ...and Collect is pressed again meanwhile
        if staff.visible("confirm:yes"):  # (were it asked again, staff would say yes)
            staff.click("confirm:yes")
        await staff.settle()
        assert [a.details["total_minor"] for a in await staff.audit("cash.collect")] == [2000]
        assert len(await staff.audit("cash.collection_slip")) == 1
        assert staff.find("cash:collect").isEnabled()


# -- card hopper ------------------------------------------------------------------------
async def test_the_hopper_shows_its_level_records_a_refill_and_test_dispenses(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    await kiosk.control.set_dispenser(hopper=37)
    async with staff_ui() as (_u, staff):
        await staff.login()
        await staff.open("hopper")
        assert "37" in staff.page_text()
        assert "none recorded" in staff.page_text()
        for digit in "250":
            staff.click(f"refill:{digit}")
        count = staff.widget("hopper:count")
        assert isinstance(count, QLineEdit)
        assert count.text() == "250"
        staff.click("refill:ok")
        await staff.settle()
        assert staff.text("hopper:message") == "Refill of 250 cards recorded."
        [refill] = await staff.audit("hopper.refill")
        assert refill.details == {"cards": 250}
        assert "250 cards" in staff.page_text()
        sim_before = (await kiosk.sim())["dispenser"]
        staff.click("hopper:test_dispense")
        await staff.settle()
        [test] = await staff.audit("hopper.test_dispense")
        assert test.details["ok"] is True
        assert staff.label("hopper:message").property("role") == "ok"
        sim_after = (await kiosk.sim())["dispenser"]
        assert sim_after["dispensed"] == sim_before["dispensed"]  # no card left the kiosk
        assert "36" in staff.page_text()


async def test_a_refill_of_zero_cards_is_refused(staff_ui: StaffSession) -> None:
    async with staff_ui() as (_u, staff):
        await staff.login()
        await staff.open("hopper")
        staff.click("refill:0")
        staff.click("refill:ok")
        await staff.settle()
        message = staff.label("hopper:message")
        assert message.property("role") == "notice"
        assert "between 1 and" in message.text()
        assert await staff.audit("hopper.refill") == []


# -- printer and scanner ----------------------------------------------------------------
async def test_the_printer_shows_its_status_and_prints_a_test_page(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    await kiosk.control.set_printer(paper="low")
    async with staff_ui() as (_u, staff):
        await staff.login()
        await staff.open("printer")
        assert "low" in staff.page_text()
        before = len(await kiosk.control.printed())
        staff.click("printer:test_print")
        await staff.settle()
        assert len(await kiosk.control.printed()) == before + 1
        [test] = await staff.audit("printer.test_page")
        assert test.actor == "staff@screen"
        assert staff.label("printer:message").property("role") == "ok"


async def test_a_test_page_on_an_offline_printer_says_why(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    async with staff_ui() as (_u, staff):
        await staff.login()
        await kiosk.control.set_printer(offline=True)
        await staff.open("printer")
        assert "NO" in staff.page_text() or "could not be read" in staff.page_text()
        staff.click("printer:test_print")
        await staff.settle()
        message = staff.label("printer:message")
        assert message.property("role") == "notice"
        assert "Traceback" not in message.text()
        assert len(await staff.audit("printer.test_page")) == 1


async def test_a_test_scan_shows_the_image(staff_ui: StaffSession, kiosk: Kiosk) -> None:
    async with staff_ui() as (_u, staff):
        await staff.login()
        await staff.open("scanner")
        staff.click("scanner:test_scan")
        await staff.settle()
        image = staff.widget("scanner:image")
        assert isinstance(image, QLabel)
        assert image.isVisible()
        assert not image.pixmap().isNull()
        assert len(await staff.audit("scanner.test_scan")) == 1
        await kiosk.control.set_scanner(offline=True)
        staff.click("scanner:test_scan")
        await staff.settle()
        assert not image.isVisible()
        assert staff.label("scanner:message").text().startswith("Scan failed")


# -- card terminal ----------------------------------------------------------------------
async def test_the_tpv_answers_a_ping_and_has_no_end_of_day(staff_ui: StaffSession) -> None:
    async with staff_ui() as (_u, staff):
        await staff.login()
        await staff.open("terminal")
        assert staff.text("terminal:eod_note") == (
            "End-of-day reconciliation is not supported by tpv."
        )
        assert not staff.find("terminal:end_of_day").isEnabled()
        staff.click("terminal:ping")
        await staff.settle()
        assert staff.label("terminal:message").property("role") == "ok"
        assert len(await staff.audit("terminal.ping")) == 1


@pytest.mark.parametrize("kiosk", ["kinetic"], indirect=True)
async def test_kinetic_end_of_day_shows_its_receipt(staff_ui: StaffSession) -> None:
    async with staff_ui() as (_u, staff):
        await staff.login()
        await staff.open("terminal")
        staff.click("terminal:end_of_day")
        await staff.confirm()
        [eod] = await staff.audit("terminal.end_of_day")
        assert eod.actor == "staff@screen"
        assert staff.label("terminal:message").text()
        assert staff.widget("terminal:receipt").isVisible()
        assert staff.text("terminal:receipt").strip()


# -- incidents --------------------------------------------------------------------------
async def test_an_incident_is_listed_and_resolved_with_a_note(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    incident_id = await kiosk.journal.call(
        kiosk.db.open_incident,
        "stuck_note",
        "A €20.00 note stayed in the bill reader.",
        sale_id="5f0c2a9e-0000-4000-8000-000000000001",
        amount=eur(20),
        details={"note_minor": 2000},
    )
    async with staff_ui() as (_u, staff):
        await staff.login()
        await staff.open("incidents")
        row = staff.find("incidents:row0")
        assert f"#{incident_id}" in row.text()
        assert "stuck_note" in row.text()
        assert "20.00 EUR" in row.text()
        staff.click("incidents:row0")
        await staff.settle()
        text = staff.page_text()
        assert "A €20.00 note stayed in the bill reader." in text
        assert "5f0c2a9e-0000-4000-8000-000000000001" in text
        assert "note_minor: 2000" in text
        staff.click("incidents:to_resolve")
        assert staff.text("incidents:resolving").startswith(f"Resolve incident #{incident_id}")
        # an empty note is refused
        staff.click("incidents:resolve")
        await staff.settle()
        assert staff.label("incidents:message").property("role") == "notice"
        assert "note" in staff.text("incidents:message")
        assert await staff.audit("incident.resolve") == []
        # typed on the on-screen keyboard
        for key in ("shift", "g", "a", "v", "e", "space", "b", "a", "c", "k"):
            staff.click(f"kb:{key}")
        note = staff.widget("incidents:note")
        assert isinstance(note, QLineEdit)
        assert note.text() == "Gave back"
        staff.click("incidents:resolve")
        await staff.settle()
        assert staff.text("incidents:message") == f"Incident #{incident_id} resolved."
        [resolve] = await staff.audit("incident.resolve")
        assert resolve.details["incident_id"] == incident_id
        assert "Gave back" in staff.page_text()  # the resolved incident with its note
        assert not staff.visible("incidents:to_resolve")
        staff.click("incidents:back")
        await staff.settle()
        assert staff.text("incidents:empty") == "No open incidents."
        staff.click("incidents:show_all")
        await staff.settle()
        assert "resolved" in staff.find("incidents:row0").text()


async def test_a_flagged_sale_without_an_incident_is_listed_and_resolved(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    sale_id = "7c1d0b2e-0000-4000-8000-000000000002"
    await kiosk.journal.call(kiosk.db.create_sale, sale_id, state="dispensing", price=eur(20))
    await kiosk.journal.call(
        kiosk.db.update_sale, sale_id, status="flagged", data={"flagged_minor": 2000}
    )
    async with staff_ui() as (_u, staff):
        await staff.login()
        assert "Open incidents: 1." in staff.text("menu:summary")
        await staff.open("incidents")
        row = staff.find("incidents:row0")
        assert row.text().startswith("#— · sale_flagged · 20.00 EUR · open · sale 7c1d0b2e")
        staff.click("incidents:row0")
        await staff.settle()
        assert "none recorded (a flagged sale)" in staff.page_text()
        staff.click("incidents:to_resolve")
        assert staff.text("incidents:resolving").startswith(f"Resolve flagged sale {sale_id}")
        staff.click("incidents:preset2")
        staff.click("incidents:resolve")
        await staff.settle()
        [resolve] = await staff.audit("incident.resolve")
        assert resolve.actor == "staff@screen"
        assert resolve.details["note"] == "Checked with the provider: nothing to do."
        number = resolve.details["incident_id"]
        assert staff.text("incidents:message") == f"Incident #{number} resolved."
        staff.click("incidents:back")
        await staff.settle()
        assert staff.text("incidents:empty") == "No open incidents."
        [incident] = await staff.db(kiosk.db.sale_incidents, sale_id)
        assert (incident.id, incident.status, incident.kind) == (number, "resolved", "sale_flagged")


async def test_the_dashboard_says_what_a_sale_met_while_nobody_watched(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    async with staff_ui() as (u, staff):
        await kiosk.control.set_printer(paper="out")
        await cash_sale(u, "GIFT-20", 20)  # its receipt did not print (shown on screen)
        met_at = u.kiosk.clock.time()
        await kiosk.control.set_printer(paper="ok")
        u.kiosk.clock.advance(90)
        await staff.login()
        await staff.open("dashboard")
        assert staff.text("dashboard:printer:3").splitlines() == [
            "The printer is out of paper.",
            when(met_at, u.kiosk.clock.time()),
        ]


# -- recent sales -----------------------------------------------------------------------
async def test_recent_sales_are_searched_by_id_and_shown_in_detail(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    async with staff_ui() as (u, staff):
        first = await cash_sale(u, "GIFT-20", 20)
        second = await cash_sale(u, "GIFT-20", 10, 10)
        await staff.login()
        await staff.open("sales")
        rows = [staff.find(f"sales:row{i}").text() for i in range(2)]
        assert rows[0].startswith(second[:8])
        assert rows[1].startswith(first[:8])
        for ch in first[:6]:
            staff.click(f"sales:key:{ch}")
        staff.click("sales:search")
        await staff.settle()
        assert staff.find("sales:row0").text().startswith(first[:8])
        assert not staff.visible("sales:row1")
        staff.click("sales:row0")
        await staff.settle()
        text = staff.page_text()
        assert f"Sale {first}" in text
        assert "Payment 1: cash" in text
        assert "20.00 EUR / 20.00 EUR" in text
        staff.click("sales:back")
        await staff.settle()
        staff.click("sales:key:clear")
        await staff.settle()
        assert staff.visible("sales:row1")


async def test_a_search_that_finds_nothing_says_so(staff_ui: StaffSession) -> None:
    async with staff_ui() as (_u, staff):
        await staff.login()
        await staff.open("sales")
        for ch in "fff":
            staff.click(f"sales:key:{ch}")
        staff.click("sales:search")
        await staff.settle()
        assert staff.text("sales:empty") == "No sale id starts with “fff”."


# -- device restarts and about ----------------------------------------------------------
async def test_a_device_restart_asks_first(staff_ui: StaffSession) -> None:
    async with staff_ui() as (_u, staff):
        await staff.login()
        await staff.open("restarts")
        for device in staff.service.restartable_devices():
            assert staff.visible(f"restarts:{device}")
        staff.click("restarts:printer")
        assert "printer" in staff.text("confirm:question")
        await staff.confirm()
        [restart] = await staff.audit("device.restart")
        assert restart.details["device"] == "printer"
        assert staff.label("restarts:message").property("role") == "ok"


async def test_about_shows_version_kiosk_and_config(staff_ui: StaffSession, kiosk: Kiosk) -> None:
    from kioskapp import __version__

    async with staff_ui() as (_u, staff):
        await staff.login()
        await staff.open("about")
        text = staff.page_text()
        assert __version__ in text
        assert kiosk.config.kiosk.id in text
        assert "none (defaults)" in text
        assert str(kiosk.config.journal.path) in text


async def test_the_menu_says_what_needs_attention(staff_ui: StaffSession, kiosk: Kiosk) -> None:
    await kiosk.journal.call(kiosk.db.open_incident, "refund_voucher", "A voucher.")
    async with staff_ui() as (_u, staff):
        await staff.login()
        summary = staff.text("menu:summary")
        assert "Open incidents: 1." in summary
        assert "customers can buy after you log out" in summary


async def test_every_staff_button_is_a_touch_target(staff_ui: StaffSession) -> None:
    """≥ 64 px both ways, and nothing sticks out of the window, on every screen."""
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QPushButton

    async with staff_ui() as (u, staff):
        problems: list[str] = []
        checked: list[str] = []

        def check(screen: str) -> None:
            u.lay_out()
            area = u.window.rect()
            buttons = [b for b in staff.mode.view.findChildren(QPushButton) if b.isVisible()]
            assert buttons, f"no button on {screen}"
            for b in buttons:
                if b.width() < 64 or b.height() < 64:
                    problems.append(f"{screen}: {b.objectName()} is {b.width()}x{b.height()}")
                box = QRect(b.mapTo(u.window, b.rect().topLeft()), b.size())
                if not area.contains(box):
                    problems.append(f"{screen}: {b.objectName()} sticks out at {box}")
            checked.append(screen)

        await staff.kiosk.journal.call(staff.kiosk.db.open_incident, "refund_voucher", "A note.")
        staff.hold_corner()
        await staff.settle()
        check("pin")
        await staff.enter_pin("2468")
        check("menu")
        pages = [name for name in staff.mode.pages if name != "menu"]
        for name in pages:
            await staff.open(name)
            check(name)
        await staff.open("incidents")
        staff.click("incidents:row0")
        check("incident")
        staff.click("incidents:to_resolve")
        check("incident:resolve")
        assert problems == []
        assert len(checked) == len(pages) + 4
