"""Every customer screen as a sample snapshot, and a check for clipped text.

The screenshot script (``scripts/screenshots.py``) draws each sample in each language
(and the stretching pseudo-locale) into ``docs/screenshots/``; the tests draw the same
samples and call :func:`clipped` to find any text that does not fit its widget.
The samples are plain :class:`FlowSnapshot` values, as the flow publishes them, so
a screen looks here exactly as it does in a journey.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal

from PIL import Image, ImageDraw
from PySide6.QtCore import QPoint, QRect, Qt, QTextBoundaryFinder
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QLabel,
    QPushButton,
    QStyle,
    QStyleOptionButton,
    QWidget,
)

from kioskapp.config import Config
from kioskapp.core import receipts
from kioskapp.core.flow.model import (
    ErrorInfo,
    FlowSnapshot,
    IdleWarning,
    NoteMessage,
    OnScreenSlip,
    PassView,
    RefundSummary,
    State,
)
from kioskapp.core.money import Money
from kioskapp.payments.base import PaymentStatus
from kioskapp.ui.window import initial_snapshot

SALE_ID = "5f0c2a9e-8d3b-4c51-9a77-1e2f3b4c5d6e"
AT = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
#: A card terminal's cardholder receipt, as terminals send it (printed on the receipt).
TERMINAL_RECEIPT = (
    "      CARDHOLDER COPY",
    "MERCHANT 0012345678",
    "TERMINAL 87654321",
    "VISA              **** 0654",
    "AID A0000000031010",
    "SALE",
    "AMOUNT                EUR 5.00",
    "AUTH CODE A1B2C3",
    "ENTRY CONTACTLESS",
    "15/01/2027 08:00",
    "NO SIGNATURE REQUIRED",
    "    APPROVED",
)


def _on_screen(slip: receipts.Slip) -> OnScreenSlip:
    """A slip as the flow shows it when the printer cannot print it."""
    kind: Literal["receipt", "voucher"] = "voucher" if slip.kind == "voucher" else "receipt"
    return OnScreenSlip(kind, slip.text_lines(), slip.qr_payloads())


def _id_image() -> bytes:
    """A stand-in ID document (the simulator's scanner returns a similar JPEG)."""
    img = Image.new("RGB", (640, 400), "#dfe7f2")
    d = ImageDraw.Draw(img)
    d.rectangle((20, 20, 619, 379), outline="#0b3d91", width=6)
    d.rectangle((50, 80, 230, 320), fill="#9fb3cf")
    for y in (110, 170, 230, 290):
        d.rectangle((270, y, 580, y + 22), fill="#5a6b85")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


def sample_snapshots(config: Config) -> list[tuple[str, FlowSnapshot]]:
    """(name, snapshot) for every screen, phase and message the customer can see."""
    base = initial_snapshot(config)
    merchant = receipts.Merchant(config.kiosk.merchant_name, tuple(config.kiosk.merchant_lines))
    cur = config.kiosk.currency
    item = base.catalogue[0]
    price = item.price

    def money(minor: int) -> Money:
        return Money(minor, cur)

    def pay(status: PaymentStatus | None, method: str, **kw: object) -> FlowSnapshot:
        fields: dict[str, object] = {
            "state": State.PAYING,
            "sale_id": SALE_ID,
            "product": item,
            "amount_due": price,
            "amount_paid": money(0),
            "amount_remaining": price,
            "methods_offered": ("cash", "tpv"),
            "payment_method": method,
            "payment_status": status,
            "can_cancel": True,
        }
        fields.update(kw)
        return replace(base, **fields)  # type: ignore[arg-type]

    sale = replace(base, sale_id=SALE_ID, product=item, amount_due=price, amount_remaining=price)
    pass_view = PassView("•••• •••• 0654", money(654), min(money(654), price))
    receipt = _on_screen(
        receipts.compose_receipt(
            receipts.Receipt(
                merchant=merchant,
                kiosk_id=config.kiosk.id,
                sale_id=SALE_ID,
                at=AT,
                language="en",
                items=(receipts.ReceiptItem.of(item.name, 1, price),),
                total=price,
                cash=receipts.CashPayment((receipts.NoteCount(price, 1),), price),
                cashback_card_number="7001000000012345",
            )
        )
    )
    card_receipt = _on_screen(
        receipts.compose_receipt(
            receipts.Receipt(
                merchant=merchant,
                kiosk_id=config.kiosk.id,
                sale_id=SALE_ID,
                at=AT,
                language="en",
                items=(receipts.ReceiptItem.of(item.name, 1, price),),
                total=price,
                card=receipts.CardPayment(price, "VISA", "0654", "A1B2C3", TERMINAL_RECEIPT),
                cashback_card_number="7001000000012345",
            )
        )
    )
    voucher = _on_screen(
        receipts.compose_voucher(
            receipts.RefundVoucher(
                merchant=merchant,
                kiosk_id=config.kiosk.id,
                at=AT,
                language="en",
                voucher_code="66cae739-36a3-511e-a439-9829419b53ff",
                sale_id=SALE_ID,
                amount=price,
                reason="The sale was cancelled after the payment was taken.",
            )
        )
    )
    waiting = PaymentStatus("waiting_for_customer", "", True, money(0))
    half = money(price.minor // 2) if price.minor >= 2 else price
    samples: list[tuple[str, FlowSnapshot]] = [
        ("attract", base),
        (
            "out_of_service",
            replace(
                base,
                state=State.OUT_OF_SERVICE,
                out_of_service_reason="out_of_service.dispenser_empty",
            ),
        ),
        ("starting", replace(base, state=State.STARTING)),
        ("choosing", replace(base, state=State.CHOOSING)),
        (
            "identify_ask",
            replace(sale, state=State.IDENTIFYING, identify_phase="ask", identify_modes=()),
        ),
        (
            "identify_enter",
            replace(
                sale,
                state=State.IDENTIFYING,
                identify_phase="enter",
                identify_modes=("keypad", "reader", "terminal"),
                notice=ErrorInfo("card.not_found", "customer"),
            ),
        ),
        ("identify_searching", replace(sale, state=State.IDENTIFYING, identify_phase="searching")),
        ("identify_reading", replace(sale, state=State.IDENTIFYING, identify_phase="reading")),
        (
            "identify_found",
            replace(
                sale, state=State.IDENTIFYING, identify_phase="found", identified_pass=pass_view
            ),
        ),
        ("id_scan", replace(sale, state=State.ID_SCAN)),
        ("id_confirm", replace(sale, state=State.ID_CONFIRM, id_image=_id_image())),
        ("staging_card", replace(sale, state=State.STAGING_CARD)),
        (
            "payment_choice",
            replace(
                sale,
                state=State.PAYMENT_CHOICE,
                methods_offered=("cash", "tpv"),
                cashback_used=money(0),
            ),
        ),
        (
            "payment_declined",
            replace(
                sale,
                state=State.PAYMENT_CHOICE,
                methods_offered=("cash", "tpv"),
                notice=ErrorInfo("payment.declined", "customer"),
            ),
        ),
        ("cash_waiting", pay(waiting, "cash")),
        (
            "cash_note_accepted",
            pay(
                PaymentStatus("note_accepted", "", True, half, note=half),
                "cash",
                amount_paid=half,
                amount_remaining=price - half,
                note=NoteMessage("note_accepted", half),
            ),
        ),
        (
            "cash_note_returned",
            pay(
                PaymentStatus("note_returned", "", True, money(0), note=money(5000)),
                "cash",
                note=NoteMessage("note_returned.exceeds_amount_due", money(5000)),
            ),
        ),
        ("card_waiting", pay(waiting, "tpv")),
        ("card_pin", pay(PaymentStatus("pin_entry", "", True, money(0)), "tpv")),
        (
            "card_processing",
            pay(PaymentStatus("processing", "", False, money(0)), "tpv", can_cancel=False),
        ),
        ("debiting", replace(sale, state=State.DEBITING)),
        ("dispensing", replace(sale, state=State.DISPENSING)),
        ("printing", replace(sale, state=State.PRINTING)),
        ("thank_you", replace(sale, state=State.THANK_YOU, amount_paid=price)),
        (
            "thank_you_slip",
            replace(sale, state=State.THANK_YOU, amount_paid=price, slip_on_screen=receipt),
        ),
        (
            "thank_you_long_slip",
            replace(sale, state=State.THANK_YOU, amount_paid=price, slip_on_screen=card_receipt),
        ),
        ("cancelling", replace(sale, state=State.CANCELLING)),
        (
            "error_cancelled",
            replace(
                sale,
                state=State.ERROR,
                error=ErrorInfo("sale.cancelled", "customer"),
                refund=RefundSummary(half, 0, money(0)),
            ),
        ),
        (
            "error_staff",
            replace(
                sale,
                state=State.ERROR,
                error=ErrorInfo("dispenser.jammed", "staff", "tecalis"),
                refund=RefundSummary(money(0), 1, money(0)),
                slip_on_screen=voucher,
            ),
        ),
        (
            "error_kept",
            replace(
                sale,
                state=State.ERROR,
                error=ErrorInfo("refund.staff_will_help", "staff"),
                refund=RefundSummary(money(0), 0, price),
            ),
        ),
        (
            "idle_warning",
            replace(
                sale,
                state=State.CHOOSING,
                idle_warning=IdleWarning(seconds_left=17, extensions_left=9),
            ),
        ),
    ]
    return samples


def settle(window: QWidget) -> None:
    """Let a drawn window finish its layout (height-for-width labels take a few passes)."""
    for _ in range(6):
        QApplication.sendPostedEvents(None, 0)
        QApplication.processEvents()


def clipped(root: QWidget) -> list[str]:
    """Visible labels and buttons whose text (or picture) does not fit them, or that
    stick out of ``root`` (after layout)."""
    problems: list[str] = []
    area = root.rect()
    for w in (*root.findChildren(QLabel), *root.findChildren(QPushButton)):
        if w.isVisible() and w.window() is root.window() and not _scrolled(w):
            box = QRect(w.mapTo(root, QPoint(0, 0)), w.size())
            if not area.contains(box):
                problems.append(f"{w.objectName() or type(w).__name__}: outside the screen ({box})")
    for w in root.findChildren(QLabel):
        pixmap = w.pixmap()
        if w.isVisible() and not pixmap.isNull():
            shown = pixmap.deviceIndependentSize().toSize()
            if (
                w.contentsRect().width() < shown.width()
                or w.contentsRect().height() < shown.height()
            ):
                name = w.objectName() or type(w).__name__
                problems.append(f"{name}: its picture does not fit ({w.width()}x{w.height()})")
        if not w.isVisible() or not w.text():
            continue
        rect = w.contentsRect()
        fm = QFontMetrics(w.font())
        if w.wordWrap():
            flags = int(Qt.TextFlag.TextWordWrap) | int(w.alignment().value)
            need = fm.boundingRect(rect.adjusted(0, 0, 0, 10_000), flags, w.text())
            if need.height() > rect.height() + 1 or _longest_word(fm, w.text()) > rect.width() + 1:
                problems.append(_describe(w, w.text()))
        elif any(fm.horizontalAdvance(line) > rect.width() + 1 for line in w.text().split("\n")):
            problems.append(_describe(w, w.text()))
    for b in root.findChildren(QPushButton):
        if not b.isVisible() or not b.text():
            continue
        fm = QFontMetrics(b.font())
        room = _button_text_room(b)
        lines = b.text().split("\n")
        too_wide = any(fm.horizontalAdvance(line) > room.width() for line in lines)
        too_tall = _ink_height(fm, lines) > room.height() + 1
        if too_wide or too_tall:
            problems.append(_describe(b, b.text()))
    return problems


def _button_text_room(b: QPushButton) -> QRect:
    """Where the style draws a button's text: inside its border and padding."""
    opt = QStyleOptionButton()
    b.initStyleOption(opt)
    return b.style().subElementRect(QStyle.SubElement.SE_PushButtonContents, opt, b)


def _ink_height(fm: QFontMetrics, lines: list[str]) -> int:
    """The height a button needs to show the glyphs of ``lines``, centred as a button
    centres them (the empty space a font keeps above and below its letters may be
    cut unseen)."""
    block = fm.lineSpacing() * (len(lines) - 1) + fm.height()
    top = fm.ascent() + fm.tightBoundingRect(lines[0]).top()  # first ink below the block top
    bottom = fm.ascent() + fm.lineSpacing() * (len(lines) - 1)
    bottom += fm.tightBoundingRect(lines[-1]).bottom()  # last ink below the block top
    return max(block - 2 * top, 2 * bottom - block)


def _scrolled(w: QWidget) -> bool:
    """Inside a scroll area: below or beside its viewport is scrolled to, not cut."""
    parent = w.parentWidget()
    while parent is not None:
        if isinstance(parent, QAbstractScrollArea):
            return True
        parent = parent.parentWidget()
    return False


def _longest_word(fm: QFontMetrics, text: str) -> int:
    """The widest piece of ``text`` that a line cannot break (Unicode line breaking, as
    Qt wraps: at spaces, after some hyphens, between CJK characters)."""
    finder = QTextBoundaryFinder(QTextBoundaryFinder.BoundaryType.Line, text)
    widest = 0
    start = 0
    while (end := finder.toNextBoundary()) != -1:
        widest = max(widest, fm.horizontalAdvance(text[start:end].rstrip()))
        start = end
    return widest


def _describe(w: QWidget, text: str) -> str:
    name = w.objectName() or type(w).__name__
    return f"{name}: {text[:60]!r} does not fit ({w.width()}x{w.height()})"


__all__ = ["SALE_ID", "clipped", "sample_snapshots", "settle"]
