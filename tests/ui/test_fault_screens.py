"""What the customer sees when something goes wrong: out of service, notices on the
payment and identify screens, the receipt on screen, errors with what was given back,
the idle warning and walking away. Faults are injected with the simulators' control
API; long timers run on the controlled clock."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import QLabel, QLineEdit, QTextEdit, QWidget
from pytestqt.qtbot import QtBot

from kioskapp.config import load_config
from kioskapp.core.flow import FlowSettings, RefundSummary, State
from kioskapp.core.flow.model import ErrorInfo
from kioskapp.core.money import Money
from kioskapp.ui.gallery import clipped, sample_snapshots, settle
from kioskapp.ui.i18n import PSEUDO, texts_for
from kioskapp.ui.window import WINDOWED_SIZE, KioskWindow
from tests.flow.conftest import Kiosk
from tests.ui.conftest import Ui, UiSession

EN = texts_for("en")


def eur(major: int | str) -> Money:
    return Money.from_major(str(major), "EUR")


def slip_parts(u: Ui) -> tuple[str, str, QLabel]:
    """The slip shown on screen: its caption, its text and the label with the QR code."""
    slip = u.window.current_screen.findChild(QWidget, "slip")
    assert slip is not None
    assert slip.isVisible(), "no slip on screen"
    labels = slip.findChildren(QLabel)
    [qr] = [w for w in labels if not w.pixmap().isNull()]
    caption = next(w.text() for w in labels if w.property("role") == "notice")
    lines = slip.findChild(QTextEdit, "slip_text")
    assert lines is not None
    return caption, lines.toPlainText(), qr


async def test_an_empty_dispenser_puts_the_kiosk_out_of_service(
    ui: UiSession, kiosk: Kiosk
) -> None:
    await kiosk.control.set_dispenser(hopper=0)
    async with ui() as u:
        out = await u.until_state(State.OUT_OF_SERVICE)
        shown_at = kiosk.clock.monotonic()
        assert out.out_of_service_reason == "out_of_service.dispenser_empty"
        text = u.screen_text()
        assert "Out of service" in text
        assert EN("oos.subtitle") in text
        assert "The card dispenser is empty." in text
        assert not u.visible("start")
        assert u.spoken[-1] == f"Out of service. {EN('oos.subtitle')}"
        await kiosk.control.set_dispenser(hopper=10)  # staff refill it
        await u.until_drawn_ticking(
            lambda s: s.state is State.ATTRACT, "attract", step=1.0, max_steps=35
        )  # the out-of-service screen checks again every 30 s
        assert kiosk.clock.monotonic() - shown_at >= 30
        assert u.find("start").isEnabled()
        assert "Out of service" not in u.screen_text()


async def test_a_declined_card_is_a_notice_on_the_payment_choice(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        choice = await u.to_payment_choice("CASHBACK-CARD")
        assert u.notices() == []
        await kiosk.control.tpv_auto("decline")
        u.click("pay:tpv")
        await u.until_state(State.PAYING)
        again = await u.until_state(State.PAYMENT_CHOICE)
        assert again.notice is not None
        assert u.notices() == [EN("payment.declined")]
        assert u.find("pay:cash").isEnabled()
        assert u.find("pay:tpv").isEnabled()  # try again, pay another way, or cancel
        assert u.find("cancel").isEnabled()
        assert "To pay: €5.00" in u.screen_text()
        assert u.spoken[-1].startswith(EN("payment.declined"))
        await kiosk.control.tpv_auto(None)
        u.click("pay:cash")
        await u.until_bill_reader_open()
        await kiosk.insert_note(5)
        await u.until_state(State.THANK_YOU)
        sale_id = choice.sale_id or ""
        outcomes = [(p.method, p.outcome, p.taken) for p in kiosk.db.payments(sale_id)]
        assert outcomes == [("tpv", "declined", eur(0)), ("cash", "approved", eur(5))]


async def test_a_terminal_that_times_out_is_a_notice_on_the_payment_choice(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        choice = await u.to_payment_choice("CASHBACK-CARD")
        u.click("pay:tpv")
        await u.until_drawn(
            lambda s: (
                s.payment_status is not None and s.payment_status.phase == "waiting_for_customer"
            ),
            "the terminal waiting for a card",
        )
        assert EN("phase.waiting_for_customer") in u.label("status").text()
        kiosk.clock.advance(120)  # nobody presents a card: the PIN pad's window closes
        again = await u.until_state(State.PAYMENT_CHOICE)
        assert again.notice is not None
        assert again.notice.key == "payment.timed_out"
        assert u.notices() == [EN("payment.timed_out")]
        [payment] = kiosk.db.payments(choice.sale_id or "")
        assert (payment.method, payment.taken) == ("tpv", eur(0))
        u.click("cancel")
        await u.until_state(State.ATTRACT)


async def test_an_unknown_card_number_is_a_notice_on_the_identify_screen(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        await u.start_sale("GIFT-20")
        u.click("identify:yes")
        await u.until_drawn(lambda s: s.identify_phase == "enter", "the keypad")
        for digit in "7001999999999":
            u.click(f"key:{digit}")
        u.click("key:ok")
        missing = await u.until_drawn(lambda s: s.notice is not None, "a notice")
        assert missing.state is State.IDENTIFYING
        assert missing.identify_phase == "enter"
        assert u.notices() == [EN("card.not_found")]
        assert u.spoken[-1].startswith(EN("card.not_found"))
        number = u.window.current_screen.findChild(QLineEdit, "card_number")
        assert number is not None
        assert number.text() == ""  # cleared for another try
        assert u.find("key:ok").isEnabled()
        for digit in "7001000000654":  # the right number this time
            u.click(f"key:{digit}")
        u.click("key:ok")
        await u.until_drawn(lambda s: s.identify_phase == "found", "the card found")
        assert u.notices() == []
        assert "Balance: €6.54" in u.screen_text()
        u.click("back")  # one step back: another number
        await u.until_drawn(lambda s: s.identify_phase == "enter", "the keypad again")
        assert u.visible("key:ok")
        u.click("back")
        await u.until_drawn(lambda s: s.identify_phase == "ask", "the question again")
        assert u.visible("identify:yes")


async def test_no_paper_shows_the_receipt_on_screen_with_a_qr_code(
    ui: UiSession, kiosk: Kiosk
) -> None:
    await kiosk.control.set_printer(paper="out")
    async with ui() as u:
        sale_id = await u.pay_cash("CASHBACK-CARD", 5)
        done = await u.until_state(State.THANK_YOU)
        assert done.slip_on_screen is not None
        caption, text, qr = slip_parts(u)
        assert caption == EN("slip.receipt")
        assert sale_id in text
        assert "TOTAL" in text
        assert qr.pixmap().width() >= 100
        assert u.spoken[-1].endswith(EN("slip.receipt"))
        assert (await kiosk.sim())["printer"]["printed"] == []
        sale = kiosk.db.sale(sale_id)
        assert sale is not None
        assert sale.status == "completed"
        u.click("finish")
        await u.until_state(State.ATTRACT)


async def test_no_paper_on_a_cancel_shows_the_refund_voucher_on_screen(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        sale_id = await u.pay_cash("GIFT-20", 10)
        await kiosk.control.set_printer(paper="out")
        u.click("cancel")
        error = await u.until_state(State.ERROR)
        assert error.refund == RefundSummary(eur(10), 1, eur(0))
        caption, text, qr = slip_parts(u)
        assert caption == EN("slip.voucher")
        assert "10.00" in text
        assert not qr.pixmap().isNull()
        assert u.label("refund").text() == (
            "Given back: €10.00\nKeep your refund voucher: staff will pay it back."
        )
        [incident] = kiosk.db.incidents()
        assert (incident.kind, incident.sale_id) == ("refund_voucher", sale_id)
        assert incident.details["printed"] is False
        assert incident.details["voucher_code"] in text
        assert EN("slip.voucher") in u.spoken[-1]  # told, not only shown
        assert (await kiosk.sim())["printer"]["printed"] == []
        assert kiosk.db.reconciliation("EUR").balanced


async def test_a_refused_dispense_after_payment_asks_for_staff_and_gives_the_money_back(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        await kiosk.control.set_fault(
            "tecalis", "/api/session/dispenser/dispense", "status", status=409, count=1
        )
        sale_id = await u.pay_cash("CASHBACK-CARD", 5)
        error = await u.until_state(State.ERROR)
        assert error.error is not None
        assert error.error.who == "staff"
        assert u.label("error_what").text() == EN(error.error.key)
        assert u.label("error_todo").text() == EN("error.staff")
        assert u.label("refund").text() == (
            "Given back: €5.00\nKeep your refund voucher: staff will pay it back."
        )
        assert "Please ask a member of staff for help." in u.spoken[-1]
        [payment] = kiosk.db.payments(sale_id)
        assert (payment.taken, payment.compensation, payment.compensated) == (
            eur(5), "voucher", eur(5),
        )  # fmt: skip
        sim = await kiosk.sim()
        assert sim["dispenser"]["dispensed"] == []
        assert len(sim["printer"]["printed"]) == 1  # the voucher, no receipt
        assert kiosk.db.reconciliation("EUR").balanced
        u.click("finish")
        await u.until_state(State.ATTRACT)


async def _jam_the_bill_reader_mid_sale(u: Ui) -> str:
    """10 paid in cash for GIFT-20, then a 5 note jams the reader as it is stacked."""
    sale_id = await u.pay_cash("GIFT-20", 10)
    await u.kiosk.control.jam_bill_reader("on_accept")
    await u.kiosk.insert_note(5)
    await u.until_state(State.ERROR)
    return sale_id


async def test_a_bill_reader_jam_mid_sale_asks_for_staff_and_gives_back_what_was_stacked(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        sale_id = await _jam_the_bill_reader_mid_sale(u)
        error = u.drawn
        assert error is not None
        assert error.error is not None
        assert (error.error.key, error.error.who) == ("payment.cash_unknown", "staff")
        assert u.label("error_what").text() == EN("payment.cash_unknown")
        assert u.label("error_todo").text() == EN("error.staff")
        # The stacked 10 comes back as a voucher; the stuck 5 is kept for staff, under
        # the incident, with the reference the customer gives them.
        assert error.refund == RefundSummary(eur(10), 1, eur(5))
        assert u.label("refund").text() == (
            "Given back: €10.00\nKeep your refund voucher: staff will pay it back.\n"
            f"Staff will return €5.00 to you. Keep your reference: {sale_id[:8]}"
        )
        assert EN("error.staff") in u.spoken[-1]
        assert sale_id[:8] in u.spoken[-1]
        [payment] = kiosk.db.payments(sale_id)
        assert (payment.taken, payment.uncertain, payment.compensated) == (
            eur(10), eur(5), eur(10),
        )  # fmt: skip
        incidents = sorted((i.kind, i.amount, i.status) for i in kiosk.db.incidents())
        assert incidents == [
            ("note_uncertain", eur(5), "open"), ("refund_voucher", eur(10), "open"),
        ]  # fmt: skip
        # The books: taken = compensated (+ flagged 0); the stuck note is the incident's.
        assert kiosk.db.reconciliation("EUR").balanced
        assert (await kiosk.sim())["bill_reader"]["jammed"] is True
        u.click("finish")
        await u.until_drawn(lambda s: s.state is not State.ERROR, "the error screen left")


async def test_a_bill_reader_jam_is_not_called_a_card_payment(ui: UiSession) -> None:
    async with ui() as u:
        await _jam_the_bill_reader_mid_sale(u)
        what = u.label("error_what").text()
        assert what == (
            "We could not confirm all the notes you inserted. "
            "Staff will check the banknote reader and give back what is yours."
        )
        assert "card" not in what
        assert u.spoken[-1].startswith(what)


async def test_a_bill_reader_jam_is_explained_in_the_customers_language(ui: UiSession) -> None:
    async with ui() as u:
        u.click("lang:ja")
        await u.until_drawn(lambda s: s.language == "ja", "Japanese")
        sale_id = await _jam_the_bill_reader_mid_sale(u)
        ja = texts_for("ja")
        assert u.label("error_what").text() == ja("payment.cash_unknown")
        assert u.label("error_what").text() != EN("payment.cash_unknown")
        assert sale_id[:8] in u.label("refund").text()


@pytest.mark.parametrize(
    ("language", "large_text", "printer_out"),
    [
        ("en", False, True),
        ("es", False, True),
        ("fr", False, True),
        ("ja", False, True),
        (PSEUDO, False, True),
        ("en", True, False),
        ("ja", True, False),
        ("en", True, True),
        ("es", True, True),
        ("fr", True, True),
        ("ja", True, True),
    ],
)
def test_the_bill_reader_jam_error_fits_the_screen(
    qtbot: QtBot, language: str, large_text: bool, printer_out: bool
) -> None:
    """The longest error: what happened, the voucher given back (on screen when the
    printer is out of paper) and the stuck note kept for staff."""
    config = load_config(None, env={})
    samples = dict(sample_snapshots(config))
    note = Money.from_major("5", config.kiosk.currency)
    snap = replace(
        samples["error_kept"],
        language="en" if language == PSEUDO else language,
        error=ErrorInfo("payment.cash_unknown", "staff", "cash"),
        refund=RefundSummary(note * 2, 1, note),
        slip_on_screen=samples["error_staff"].slip_on_screen if printer_out else None,
        large_text=large_text,
    )
    window = KioskWindow(config, pseudo_locale=language == PSEUDO)
    qtbot.addWidget(window)
    window.resize(*WINDOWED_SIZE)
    window.show()
    window.show_snapshot(snap)
    settle(window)
    assert window.snap.state is State.ERROR
    screen = window.current_screen
    what = screen.findChild(QLabel, "error_what")
    assert what is not None
    assert what.isVisible()
    assert what.text() == window.texts("payment.cash_unknown")
    assert clipped(window) == []
    slip = screen.findChild(QWidget, "slip")
    assert slip is not None
    assert slip.isVisible() is printer_out
    refund = screen.findChild(QLabel, "refund")
    assert refund is not None
    if printer_out:  # beside the texts, its first lines readable, its QR code whole
        assert _on_screen(slip).left() > _on_screen(refund).right()
        lines = slip.findChild(QTextEdit, "slip_text")
        assert lines is not None
        assert lines.viewport().height() >= 3 * lines.fontMetrics().lineSpacing()
        assert lines.toPlainText().startswith(config.kiosk.merchant_name)
    else:  # the texts have the whole width
        assert _on_screen(refund).width() > window.width() * 0.8


def _on_screen(w: QWidget) -> QRect:
    return QRect(w.mapTo(w.window(), QPoint(0, 0)), w.size())


def test_a_long_slip_scrolls_and_keeps_its_qr_code_whole(qtbot: QtBot) -> None:
    """A card receipt carries the terminal's own receipt: longer than the screen."""
    config = load_config(None, env={})
    snap = dict(sample_snapshots(config))["thank_you_long_slip"]
    assert snap.slip_on_screen is not None
    for large_text in (False, True):
        window = KioskWindow(config)
        qtbot.addWidget(window)
        window.resize(*WINDOWED_SIZE)
        window.show()
        window.show_snapshot(replace(snap, large_text=large_text))
        settle(window)
        assert clipped(window) == []
        slip = window.current_screen.findChild(QWidget, "slip")
        assert slip is not None
        lines = slip.findChild(QTextEdit, "slip_text")
        assert lines is not None
        assert lines.toPlainText() == "\n".join(snap.slip_on_screen.lines)
        bar = lines.verticalScrollBar()
        assert bar.isVisible()
        assert bar.value() == 0  # from the top
        assert bar.maximum() > 0
        assert lines.viewport().height() >= 8 * lines.fontMetrics().lineSpacing()
        assert _on_screen(slip).bottom() < window.height()
        [qr] = [w for w in slip.findChildren(QLabel) if not w.pixmap().isNull()]
        assert qr.isVisible()
        assert qr.width() >= qr.pixmap().width()
        assert qr.height() >= qr.pixmap().height()
        bar.setValue(bar.maximum())  # the last line can be scrolled to
        cursor = lines.cursorForPosition(lines.viewport().rect().bottomLeft())
        assert cursor.block().text() == snap.slip_on_screen.lines[-1]


def test_the_texts_take_the_whole_width_again_without_a_slip(qtbot: QtBot) -> None:
    config = load_config(None, env={})
    samples = dict(sample_snapshots(config))
    window = KioskWindow(config)
    qtbot.addWidget(window)
    window.resize(*WINDOWED_SIZE)
    window.show()
    widths = []
    for name in ("error_staff", "error_kept", "error_staff"):
        window.show_snapshot(replace(samples[name], large_text=True))
        settle(window)
        assert clipped(window) == []
        todo = window.current_screen.findChild(QLabel, "error_todo")
        slip = window.current_screen.findChild(QWidget, "slip")
        assert todo is not None
        assert slip is not None
        assert slip.isVisible() is (name == "error_staff")
        widths.append(todo.width())
    beside, alone, beside_again = widths
    assert beside < window.width() * 0.65 < window.width() * 0.9 < alone
    assert beside_again == beside


# -- the idle warning and walking away ---------------------------------------------------


async def test_the_idle_warning_counts_down_and_more_time_is_limited(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui(FlowSettings(max_extensions=1)) as u:
        choice = await u.to_payment_choice("CASHBACK-CARD")
        overlay = u.window.idle
        assert not overlay.isVisible()
        kiosk.clock.advance(60)
        warned = await u.until_drawn(lambda s: s.idle_warning is not None, "the idle warning")
        assert warned.state is State.PAYMENT_CHOICE
        assert overlay.isVisible()
        assert overlay.geometry() == u.window.rect()  # over the whole window
        assert u.label("idle_countdown").text() == "This will end in 20 seconds."
        more = u.find("more_time")
        assert more.text() == "More time"
        assert more.isEnabled()
        assert more.hasFocus()
        assert u.spoken[-1] == "Are you still there? This will end in 20 seconds."
        kiosk.clock.advance(5)
        await u.until_drawn(
            lambda s: s.idle_warning is not None and s.idle_warning.seconds_left == 15,
            "the countdown at 15",
        )
        assert u.label("idle_countdown").text() == "This will end in 15 seconds."
        assert u.spoken[-1] == "Are you still there? This will end in 15 seconds."
        u.click("more_time")
        await u.until_drawn(lambda s: s.idle_warning is None, "the warning gone")
        assert not overlay.isVisible()
        assert not u.visible("more_time")
        assert u.find("pay:cash").isEnabled()  # the screen underneath, as it was
        kiosk.clock.advance(60)
        last = await u.until_drawn(lambda s: s.idle_warning is not None, "the last warning")
        assert last.idle_warning is not None
        assert last.idle_warning.extensions_left == 0
        assert overlay.isVisible()
        assert not u.find("more_time").isEnabled()  # no more time to give
        kiosk.clock.advance(20)
        back = await u.until_state(State.ATTRACT)
        assert back.sale_id is None
        assert not overlay.isVisible()
        sale = kiosk.db.sale(choice.sale_id or "")
        assert sale is not None
        assert sale.status == "cancelled"
        assert len((await kiosk.sim())["dispenser"]["discarded"]) == 1  # the staged card


async def test_walking_away_while_paying_ends_with_a_voucher_and_back_to_attract(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        sale_id = await u.pay_cash("GIFT-20", 10)
        kiosk.clock.advance(60)
        await u.until_drawn(lambda s: s.idle_warning is not None, "the idle warning")
        assert u.window.idle.isVisible()
        assert u.visible("cancel")  # under the warning
        kiosk.clock.advance(20)
        error = await u.until_state(State.ERROR)
        assert error.error is not None
        assert error.error.key == "refund.voucher_issued"
        assert not u.window.idle.isVisible()
        assert "Given back: €10.00" in u.label("refund").text()
        shown_at = kiosk.clock.monotonic()
        back = await u.until_drawn_ticking(
            lambda s: s.state is State.ATTRACT, "attract", step=1.0, max_steps=25
        )
        assert kiosk.clock.monotonic() - shown_at >= 20  # nobody read it: shown for 20 s
        assert back.sale_id is None
        assert u.spoken[-1] == "Welcome. Touch the screen to start"
        [payment] = kiosk.db.payments(sale_id)
        assert (payment.taken, payment.compensated) == (eur(10), eur(10))
        assert kiosk.db.reconciliation("EUR").balanced


async def test_a_customer_who_leaves_the_thank_you_screen_is_not_waited_for(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        await u.pay_cash("CASHBACK-CARD", 5)
        await u.until_state(State.THANK_YOU)
        shown_at = kiosk.clock.monotonic()
        back = await u.until_drawn_ticking(
            lambda s: s.state is State.ATTRACT, "attract", step=1.0, max_steps=15
        )
        assert kiosk.clock.monotonic() - shown_at >= 10  # the thank-you screen shows 10 s
        assert back.amount_paid is None
        assert u.visible("start")
