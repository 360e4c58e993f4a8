"""The whole journey with a keyboard (or a keypad) only: Tab and the arrow keys move
the focus, Enter or Space presses the focused button, digits type on the card keypad,
Escape goes back. The focus is always on a visible widget of the window, drawn with
the theme's focus ring."""

from __future__ import annotations

import re

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton, QWidget

from kioskapp.core.flow import State
from kioskapp.core.money import Money
from kioskapp.ui import theme
from kioskapp.ui.i18n import texts_for
from tests.flow.conftest import Kiosk
from tests.ui.conftest import Ui, UiSession

EN = texts_for("en")
#: Presses allowed to reach a button by moving the focus (the window has ~40 buttons).
MAX_MOVES = 80

DIGIT_KEYS = {str(d): getattr(Qt.Key, f"Key_{d}") for d in range(10)}


def eur(major: int | str) -> Money:
    return Money.from_major(str(major), "EUR")


def focused(u: Ui) -> QWidget:
    """The widget with the keyboard focus: there is one, visible, in the window."""
    w = QApplication.focusWidget()
    assert w is not None, "nothing has the keyboard focus"
    assert w.isVisible(), f"the focus is on a hidden widget {w.objectName()!r}"
    assert w.window() is u.window, f"the focus left the window: {w!r}"
    assert w.isEnabled()
    return w


def move_focus_to(u: Ui, name: str, key: Qt.Key = Qt.Key.Key_Tab) -> QPushButton:
    """Press ``key`` until the button ``name`` has the focus; every stop is visible."""
    stops = []
    for _ in range(MAX_MOVES):
        w = focused(u)
        stops.append(w.objectName())
        if w.objectName() == name:
            assert isinstance(w, QPushButton)
            return w
        u.key(key)
    raise AssertionError(f"{name!r} never got the focus with {key.name}; stops: {stops}")


def press(u: Ui, key: Qt.Key = Qt.Key.Key_Return) -> None:
    text = {Qt.Key.Key_Return: "\r", Qt.Key.Key_Enter: "\r", Qt.Key.Key_Space: " "}.get(key, "")
    u.key(key, text)


def type_digits(u: Ui, digits: str) -> None:
    for d in digits:
        u.key(DIGIT_KEYS[d], d)


def test_the_style_sheet_draws_a_focus_ring_in_every_mode() -> None:
    for high_contrast in (False, True):
        for large_text in (False, True):
            qss = theme.stylesheet(high_contrast, large_text)
            focus = theme.palette(high_contrast).focus
            rings = re.findall(r"QPushButton:focus\s*\{([^}]*)\}", qss)
            assert rings, "no :focus rule for buttons"
            for ring in rings:
                assert re.search(rf"border:\s*\d+px solid {focus}", ring), ring


async def test_a_whole_cash_journey_with_the_keyboard_only(ui: UiSession, kiosk: Kiosk) -> None:
    async with ui() as u:
        assert "QPushButton:focus" in u.window.styleSheet()
        await u.until_drawn(lambda s: s.seq > 0, "the flow's attract screen")
        assert focused(u).objectName() == "start"
        press(u)
        await u.until_state(State.CHOOSING)
        focused(u)
        move_focus_to(u, "product:GIFT-20", Qt.Key.Key_Tab)
        press(u, Qt.Key.Key_Space)
        ident = await u.until_state(State.IDENTIFYING)
        move_focus_to(u, "identify:yes", Qt.Key.Key_Down)
        press(u)
        await u.until_drawn(lambda s: s.identify_phase == "enter", "the keypad")
        focused(u)
        number = u.window.current_screen.findChild(QLineEdit, "card_number")
        assert number is not None
        type_digits(u, "7001000000655")
        assert number.text() == "7001000000655"
        u.key(Qt.Key.Key_Backspace)
        type_digits(u, "4")
        assert number.text() == "7001000000654"
        move_focus_to(u, "key:ok", Qt.Key.Key_Right)
        press(u)
        await u.until_drawn(lambda s: s.identify_phase == "found", "the card found")
        assert "Balance: €6.54" in u.screen_text()
        u.key(Qt.Key.Key_Escape)  # not this card after all: one step back
        await u.until_drawn(lambda s: s.identify_phase == "enter", "the keypad again")
        u.key(Qt.Key.Key_Escape)
        await u.until_drawn(lambda s: s.identify_phase == "ask", "the question again")
        move_focus_to(u, "identify:no", Qt.Key.Key_Up)
        press(u, Qt.Key.Key_Enter)
        choice = await u.until_state(State.PAYMENT_CHOICE)
        assert choice.cashback_used is None
        assert choice.amount_due == eur(20)
        move_focus_to(u, "pay:cash", Qt.Key.Key_Left)
        press(u)
        await u.until_bill_reader_open()
        focused(u)
        await kiosk.insert_note(20)
        done = await u.until_state(State.THANK_YOU)
        assert done.amount_paid == eur(20)
        move_focus_to(u, "finish")
        press(u)
        back = await u.until_state(State.ATTRACT)
        assert back.sale_id is None
        assert focused(u).objectName() == "start"
        [payment] = kiosk.db.payments(ident.sale_id or "")
        assert (payment.method, payment.outcome, payment.taken) == ("cash", "approved", eur(20))
        assert await kiosk.ledger() != []
        assert kiosk.db.reconciliation("EUR").balanced


async def test_escape_goes_back_or_cancels_where_the_screen_allows(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        await u.until_drawn(lambda s: s.seq > 0, "the flow's attract screen")
        u.key(Qt.Key.Key_Escape)  # nothing to go back to on the attract screen
        press(u)
        await u.until_state(State.CHOOSING)
        u.key(Qt.Key.Key_Escape)  # leave the catalogue: back to attract
        await u.until_state(State.ATTRACT)
        press(u)
        await u.until_state(State.CHOOSING)
        move_focus_to(u, "product:CASHBACK-CARD")
        press(u)
        await u.until_state(State.IDENTIFYING)
        u.key(Qt.Key.Key_Escape)  # the first step of identify: back to the catalogue
        await u.until_state(State.CHOOSING)
        move_focus_to(u, "product:CASHBACK-CARD")
        press(u)
        await u.until_state(State.IDENTIFYING)
        move_focus_to(u, "identify:no")
        press(u)
        await u.until_state(State.PAYMENT_CHOICE)
        move_focus_to(u, "pay:cash")
        press(u)
        await u.until_bill_reader_open()
        await kiosk.insert_note(10)  # more than due: returned, nothing taken
        await u.until_drawn(lambda s: s.note is not None, "the note returned")
        u.key(Qt.Key.Key_Escape)  # cancel the payment
        back = await u.until_state(State.ATTRACT)
        assert back.sale_id is None
        focused(u)
        assert kiosk.db.reconciliation("EUR").taken == eur(0)


async def test_escape_leaves_the_error_screen(ui: UiSession, kiosk: Kiosk) -> None:
    async with ui() as u:
        await u.pay_cash("GIFT-20", 10)
        u.key(Qt.Key.Key_Escape)  # cancel: the note stacked is given back by voucher
        await u.until_state(State.ERROR)
        assert focused(u).objectName() == "finish"
        u.key(Qt.Key.Key_Escape)
        await u.until_state(State.ATTRACT)
        focused(u)


async def test_the_idle_warning_takes_the_focus_and_enter_gives_more_time(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        await u.to_payment_choice("CASHBACK-CARD")
        kiosk.clock.advance(60)
        await u.until_drawn(lambda s: s.idle_warning is not None, "the idle warning")
        assert focused(u).objectName() == "more_time"
        press(u)
        await u.until_drawn(lambda s: s.idle_warning is None, "the warning gone")
        assert not u.window.idle.isVisible()
        focused(u)
        move_focus_to(u, "pay:cash")
