"""Every paper slip the kiosk prints, as PDF bytes for its 80 mm thermal printer.

Slips: the customer's :class:`Receipt`, a :class:`RefundVoucher`, an
:class:`IncidentSlip`, and for staff a :class:`CashCollectionSlip` and an
:class:`EndOfDaySlip`. ``render_<slip>(...)`` returns PDF bytes for the Tecalis
client's ``print_pdf``; ``compose_<slip>(...)`` returns the :class:`Slip` (the
blocks of text, rules and QR codes that get drawn), which the UI can show on
screen when the printer is out of paper (``Slip.text_lines()``,
``Slip.qr_payloads()``, :func:`render_image`).

Printing
--------
* The printer prints 576 dots a line at 8 dots/mm (203.2 dpi) on 80 mm paper:
  72 mm of print inside 4 mm margins. The PDF page is 80 mm wide with the
  576-dot image centred on it at exactly 8 dots/mm, so a driver that prints
  the page 1:1 puts every dot on a printer dot and one that clips to the
  printable area clips only white. :class:`PrinterFormat` describes other
  printers (58 mm / 384 dots): layout follows its width.
* Rendered with Pillow (core must not import Qt) into a 1-bit image: the
  printer prints 1 bit, so we choose the bits. Glyphs are anti-aliased by
  FreeType and thresholded at 40 % coverage (slightly bolder than 50 %: thin
  strokes fade on thermal paper), which drew cleaner shapes than FreeType's
  own monochrome mode. Measured against a grey ("L") anti-aliased page: the
  same drawing time, but Pillow saves "L" as JPEG (136 kB for a page that is
  12 kB here) and leaves grey fringes to the printer driver's dithering.
* The PDF is written here (one page, one 1-bit Flate image): ~2 ms and a few
  kB, against ~5 ms and ~3x the size for Pillow's PDF writer (CCITT G4), and
  it places the image on the 80 mm page at 8 dots/mm without baking margins.
* Speed: glyphs are rendered once per (font, size, character) and cached;
  a FreeType face is only needed for a glyph not drawn yet, so at most two
  are open at a time (Pillow opens one face per file and size, and a Noto
  CJK face costs ~2 MB of memory; reopening one takes < 1 ms). A typical
  receipt renders in ~9 ms on a desktop CPU (``bench/receipts.py``); the
  first one of a process takes longer unless :func:`warm_up` ran. Rendering
  holds a lock, so callers may render in an executor thread (recommended on
  the UI loop).

Fonts
-----
Noto Sans CJK JP (Debian ``fonts-noto-cjk``) covers Latin, accents, €, ¥ and
Japanese, so one font prints every language; DejaVu Sans (``fonts-dejavu-core``)
follows it for glyphs it lacks; IPAGothic is tried too. Each character is drawn
with the first font that has a glyph for it (a glyph differing from the font's
"notdef" box). With none of these installed, Pillow's built-in font is used
and a warning is logged: a receipt always prints (Japanese then prints as
boxes). Terminal receipts print in the monospaced faces of the same families.

Card numbers
------------
A customer never sees more than the last 4 digits of a card: bank cards are
given as their last 4 digits (anything longer is cut to them), cashback card
numbers are masked to their last 4 characters, and every third-party or free
text (terminal receipts, product names, reasons...) is scrubbed of anything
that looks like a card number: 13–19 digits (single spaces or dashes between)
passing the Luhn check print as ``*`` except the last 4 (assumed: PANs always
pass Luhn; a reference number that happens to pass is masked too, the safe
side). Identifiers we generate (sale id, voucher code, incident id, kiosk id,
auth code) print verbatim.

Kinetic print instructions (the Kinetic API's "Printer Instructions")
-------------------------------------------------------------------------------
- (doc) ``text`` with ``text, x, y, font_size`` and optional ``line_width``,
  ``skew_x``, ``underline``, ``strikethru``, ``reverse``, ``family``; ``x`` is
  dots from the left, ``y`` dots down from the top of the current buffer;
  within a buffer, lower ``y`` prints first whatever the order. ``flush`` ends
  the buffer; ``scroll`` (``amount`` dots) flushes, then feeds white space.
- (assumed) ``font_size`` is the text height in dots (the doc's samples use 12
  and 24), drawn at 14–96 dots (smaller is unreadable on paper); missing → 24.
  ``y`` is the top of the text line. ``line_width``'s meaning is not
  documented: we take it as the weight of underline/strike-through, drawn
  ``max(1, line_width // 5)`` dots thick (default 10 → 2 dots). ``skew_x`` is
  ignored. A ``family`` naming a mono/courier font prints monospaced.
- (assumed) Tolerance: numbers may come as strings (``"amount": "100"``, as in
  the doc's cardholder sample) or as the doc's misspelt ``"mount"``; negative
  or absurd positions are clamped; items that are not objects, texts without
  text and unknown commands (a future ``image``) are skipped. Leading and
  trailing scrolls (the terminal's paper feed) are dropped; scrolls in between
  keep their height (at most 400 dots).
- The block keeps the terminal's layout, centred on our paper; if its text is
  wider than our line it is scaled down to fit.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import threading
import unicodedata
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Final, Literal

import segno
from PIL import Image, ImageDraw, ImageFont

from kioskapp.core.money import Money
from kioskapp.core.receipt_text import (
    format_date,
    format_datetime,
    format_money,
    label,
    resolve_language,
)

__all__ = [
    "DEFAULT_FONT_CANDIDATES",
    "THERMAL_58MM",
    "THERMAL_80MM",
    "Block",
    "CardPayment",
    "CashCollectionSlip",
    "CashPayment",
    "CashbackMovement",
    "EndOfDaySlip",
    "FontFace",
    "FontSet",
    "IncidentSlip",
    "Merchant",
    "MethodTotal",
    "MonoBlock",
    "NoteCount",
    "PrintedFeed",
    "PrintedFlush",
    "PrintedText",
    "PrinterFormat",
    "PrintoutBlock",
    "QrBlock",
    "Receipt",
    "ReceiptItem",
    "RefundVoucher",
    "RowBlock",
    "RuleBlock",
    "Slip",
    "SlipAmount",
    "SpaceBlock",
    "TextBlock",
    "compose",
    "compose_cash_collection",
    "compose_end_of_day",
    "compose_incident",
    "compose_receipt",
    "compose_voucher",
    "default_fonts",
    "mask_card_number",
    "parse_print_instructions",
    "render_cash_collection",
    "render_end_of_day",
    "render_image",
    "render_incident",
    "render_pdf",
    "render_receipt",
    "render_voucher",
    "scrub_card_numbers",
    "warm_up",
]

logger = logging.getLogger(__name__)

Role = Literal["regular", "bold", "mono"]
Align = Literal["left", "center", "right"]


# -- the printer ------------------------------------------------------------------------


@dataclass(frozen=True)
class PrinterFormat:
    """A thermal printer: paper width, printable dots per line, dots per millimetre."""

    paper_mm: int
    print_dots: int
    dots_per_mm: int = 8

    @property
    def dpi(self) -> float:
        return self.dots_per_mm * 25.4

    @property
    def paper_dots(self) -> int:
        return self.paper_mm * self.dots_per_mm


THERMAL_80MM: Final = PrinterFormat(paper_mm=80, print_dots=576)
THERMAL_58MM: Final = PrinterFormat(paper_mm=58, print_dots=384)

# Text sizes in dots (8 dots = 1 mm). BODY is the size of a thermal printer's
# standard 12x24 font; nothing a customer must read is smaller than SMALL.
TITLE: Final = 44
HEADING: Final = 32
TOTAL: Final = 36
BODY: Final = 26
SMALL: Final = 22
INDENT: Final = 28


# -- card numbers -----------------------------------------------------------------------

_PAN_RE: Final = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){12,18}(?![0-9])")
_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _mask_match(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = [c for c in text if c.isdigit()]
    if not 13 <= len(digits) <= 19 or not _luhn_ok("".join(digits)):
        return text
    keep = len(digits) - 4
    out: list[str] = []
    seen = 0
    for char in text:
        if char.isdigit():
            out.append("*" if seen < keep else char)
            seen += 1
        else:
            out.append(char)
    return "".join(out)


def scrub_card_numbers(text: str) -> str:
    """``text`` with every card-number-like run masked to its last 4 digits.

    13–19 digits, optionally separated by single spaces or dashes, passing the
    Luhn check: ``"4111 1111 1111 1111"`` → ``"**** **** **** 1111"``.
    """
    if sum(c.isdigit() for c in text) < 13:
        return text
    return _PAN_RE.sub(_mask_match, text)


def mask_card_number(number: str, *, digits_only: bool = False) -> str:
    """``"**** 1234"``: the last 4 characters of a card number, whatever came in.

    ``digits_only`` keeps only digits first (bank cards: a brand prefix or a
    masked ``4***********1111`` still gives ``**** 1111``); otherwise the last 4
    letters or digits are kept (cashback card numbers may be alphanumeric).
    """
    kept = [c for c in number if (c.isdigit() if digits_only else c.isalnum())]
    last = "".join(kept[-4:])
    return f"**** {last}" if last else "****"


def _clean(text: object) -> str:
    """One printable line: no control characters, tabs as spaces, stripped."""
    value = text if isinstance(text, str) else str(text)
    value = value.expandtabs(4).replace("\r\n", "\n").replace("\r", "\n").replace("\n", " ")
    return _CONTROL_RE.sub("", value).strip()


def _safe(text: object) -> str:
    """A third-party or free text: cleaned and scrubbed of card numbers."""
    return scrub_card_numbers(_clean(text))


def _safe_lines(text: object) -> list[str]:
    """A free text that may hold several lines, each cleaned and scrubbed."""
    value = text if isinstance(text, str) else str(text)
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return [_safe(line) for line in lines]


# -- the slips' data ------------------------------------------------------------------


@dataclass(frozen=True)
class Merchant:
    """Printed at the top of every slip: the name, then the header lines (address, tax id)."""

    name: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class ReceiptItem:
    name: str
    quantity: int
    unit_price: Money
    total: Money

    @classmethod
    def of(cls, name: str, quantity: int, unit_price: Money) -> ReceiptItem:
        """An item whose total is ``quantity × unit_price``."""
        return cls(name, quantity, unit_price, unit_price * quantity)


@dataclass(frozen=True)
class NoteCount:
    """``count`` notes of ``value`` (a denomination)."""

    value: Money
    count: int

    @property
    def total(self) -> Money:
        return self.value * self.count


@dataclass(frozen=True)
class CashPayment:
    notes: tuple[NoteCount, ...]
    total: Money


@dataclass(frozen=True)
class CardPayment:
    """A bank-card payment. Only the last 4 digits of the card are ever printed.

    The terminal's cardholder receipt comes either as text lines
    (``receipt_lines``: TPV, KOMOJU, PayJunction) or as Kinetic print
    instructions (``print_instructions``: ``Receipt.to_json()`` of the Kinetic
    client, or the raw JSON objects).
    """

    amount: Money
    brand: str
    last4: str
    auth_code: str | None = None
    receipt_lines: tuple[str, ...] = ()
    print_instructions: tuple[Mapping[str, object], ...] = ()


@dataclass(frozen=True)
class CashbackMovement:
    """The CardAPI ``receipt_row``: what the debit did to the pass. ``balance``: after it."""

    label: str
    amount: Money
    balance: Money | None = None


@dataclass(frozen=True)
class Receipt:
    """The customer's receipt for one sale."""

    merchant: Merchant
    kiosk_id: str
    sale_id: str
    at: datetime
    language: str
    items: tuple[ReceiptItem, ...]
    total: Money
    cash: CashPayment | None = None
    card: CardPayment | None = None
    cashback: CashbackMovement | None = None
    cashback_card_number: str | None = None  # the dispensed card; printed masked
    footer_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class RefundVoucher:
    """Money the kiosk owes the customer (stacked notes it cannot hand back)."""

    merchant: Merchant
    kiosk_id: str
    at: datetime
    language: str
    voucher_code: str
    sale_id: str
    amount: Money
    reason: str
    how_to_redeem: str | None = None  # None: the standard text in the slip's language
    valid_until: date | None = None


@dataclass(frozen=True)
class SlipAmount:
    label: str
    amount: Money


@dataclass(frozen=True)
class IncidentSlip:
    """What went wrong in a sale and what the customer should do now."""

    merchant: Merchant
    kiosk_id: str
    at: datetime
    language: str
    incident_id: str
    sale_id: str | None
    what_happened: str
    amounts: tuple[SlipAmount, ...]
    what_to_do: str


@dataclass(frozen=True)
class CashCollectionSlip:
    """Staff emptied the cash box: notes by denomination since the last collection."""

    merchant: Merchant
    kiosk_id: str
    at: datetime
    language: str
    collected_by: str
    notes: tuple[NoteCount, ...]
    total: Money
    since: datetime | None = None


@dataclass(frozen=True)
class MethodTotal:
    """Takings of one payment method: ``method`` is cash, card, cashback or a free label."""

    method: str
    count: int
    total: Money


@dataclass(frozen=True)
class EndOfDaySlip:
    """The day's totals, and the card terminal's reconciliation receipt when it gives one."""

    merchant: Merchant
    kiosk_id: str
    at: datetime
    language: str
    business_date: date
    totals: tuple[MethodTotal, ...]
    sales_completed: int
    sales_cancelled: int = 0
    sales_flagged: int = 0
    vouchers_issued: int = 0
    vouchers_total: Money | None = None
    card_refunds: int = 0
    card_refunds_total: Money | None = None
    reconciliation_lines: tuple[str, ...] = ()
    reconciliation_instructions: tuple[Mapping[str, object], ...] = ()


# -- the slip's blocks -----------------------------------------------------------------


@dataclass(frozen=True)
class TextBlock:
    """A paragraph, wrapped to the line width."""

    text: str
    size: int = BODY
    role: Role = "regular"
    align: Align = "left"
    indent: int = 0
    reverse: bool = False  # white on a black bar


@dataclass(frozen=True)
class RowBlock:
    """A label on the left (wrapped) and an amount or value aligned right."""

    left: str
    right: str
    size: int = BODY
    role: Role = "regular"
    indent: int = 0


@dataclass(frozen=True)
class RuleBlock:
    dashed: bool = True
    thickness: int = 2


@dataclass(frozen=True)
class SpaceBlock:
    dots: int


@dataclass(frozen=True)
class QrBlock:
    data: str


@dataclass(frozen=True)
class MonoBlock:
    """A terminal's receipt as text lines, monospaced, sized to fit the line."""

    lines: tuple[str, ...]


@dataclass(frozen=True)
class PrintedText:
    text: str
    x: int
    y: int
    size: int
    role: Role = "regular"
    underline: bool = False
    strikethru: bool = False
    reverse: bool = False
    rule_dots: int = 2


@dataclass(frozen=True)
class PrintedFeed:
    dots: int


@dataclass(frozen=True)
class PrintedFlush:
    pass


PrintedOp = PrintedText | PrintedFeed | PrintedFlush


@dataclass(frozen=True)
class PrintoutBlock:
    """Kinetic print instructions, normalised by :func:`parse_print_instructions`."""

    ops: tuple[PrintedOp, ...]


Block = TextBlock | RowBlock | RuleBlock | SpaceBlock | QrBlock | MonoBlock | PrintoutBlock


def _printout_buffers(ops: Iterable[PrintedOp]) -> Iterator[list[PrintedText] | int]:
    """Buffers of texts, and feeds (ints) between them, in print order."""
    buffer: list[PrintedText] = []
    for op in ops:
        if isinstance(op, PrintedText):
            buffer.append(op)
            continue
        if buffer:
            yield buffer
            buffer = []
        if isinstance(op, PrintedFeed):
            yield op.dots
    if buffer:
        yield buffer


@dataclass(frozen=True)
class Slip:
    """What gets drawn, in order: the only input of the renderer.

    ``kind``: receipt, voucher, incident, cash_collection or end_of_day.
    """

    kind: str
    blocks: tuple[Block, ...]
    title: str = ""  # the PDF's title (print queues show it): no secrets

    def text_lines(self) -> tuple[str, ...]:
        """Every text the slip prints, in order (an on-screen summary; tests)."""
        out: list[str] = []
        for block in self.blocks:
            if isinstance(block, TextBlock):
                out.append(block.text)
            elif isinstance(block, RowBlock):
                out.append(f"{block.left}  {block.right}")
            elif isinstance(block, MonoBlock):
                out.extend(block.lines)
            elif isinstance(block, PrintoutBlock):
                for part in _printout_buffers(block.ops):
                    if isinstance(part, list):
                        rows: dict[int, list[PrintedText]] = {}
                        for text in part:
                            rows.setdefault(text.y, []).append(text)
                        for y in sorted(rows):
                            out.append("  ".join(t.text for t in sorted(rows[y], key=_x_of)))
        return tuple(out)

    def qr_payloads(self) -> tuple[str, ...]:
        return tuple(b.data for b in self.blocks if isinstance(b, QrBlock))


def _x_of(text: PrintedText) -> int:
    return text.x


# -- Kinetic print instructions ----------------------------------------------------------

_MAX_POSITION: Final = 4000
_MAX_FEED: Final = 400
_MAX_INSTRUCTIONS: Final = 2000
_NUMBER_RE: Final = re.compile(r"\s*-?[0-9]{1,12}(?:\.[0-9]{1,12})?\s*")


def _number(value: object) -> int | None:
    """An int from an int, an integral-ish Decimal/float or a numeric string; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        try:
            number = Decimal(value)
        except (InvalidOperation, ValueError):
            return None
        if not number.is_finite():
            return None
        if number.adjusted() > 12:  # absurd: clamped by the caller, never a huge int
            return -(10**12) if number < 0 else 10**12
        return int(number.to_integral_value())
    if isinstance(value, str) and _NUMBER_RE.fullmatch(value):
        return int(Decimal(value.strip()).to_integral_value())
    return None


def _flag(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return value is True or (isinstance(value, int) and value == 1)


def _clamp(value: int | None, low: int, high: int, default: int) -> int:
    if value is None:
        return default
    return max(low, min(high, value))


def parse_print_instructions(items: Iterable[object]) -> tuple[PrintedOp, ...]:
    """Kinetic ``text`` / ``scroll`` / ``flush`` instructions → normalised ops.

    Tolerant (see the module docstring): never raises for what a terminal
    sends. Texts are scrubbed of card numbers here, so nothing downstream can
    print one.
    """
    ops: list[PrintedOp] = []
    for count, item in enumerate(items):
        if count >= _MAX_INSTRUCTIONS:
            logger.warning("print instructions: only the first %d are printed", count)
            break
        if not isinstance(item, Mapping):
            continue
        command = item.get("command")
        if not isinstance(command, str):
            continue
        command = command.strip().lower()
        if command == "flush":
            ops.append(PrintedFlush())
        elif command == "scroll":
            amount = _number(item["amount"] if "amount" in item else item.get("mount"))
            if amount is not None and amount > 0:
                ops.append(PrintedFeed(min(amount, _MAX_FEED)))
        elif command == "text":
            raw = item.get("text")
            if not isinstance(raw, str | int | Decimal) or isinstance(raw, bool):
                continue
            family = item.get("family")
            mono = isinstance(family, str) and any(
                word in family.lower() for word in ("mono", "courier", "console", "fixed")
            )
            size = _clamp(_number(item.get("font_size")), 14, 96, 24)
            x = _clamp(_number(item.get("x")), 0, _MAX_POSITION, 0)
            y = _clamp(_number(item.get("y")), 0, _MAX_POSITION, 0)
            line_width = _clamp(_number(item.get("line_width")), 1, 100, 10)
            for offset, line in enumerate(_safe_lines(raw)):
                if not line:
                    continue
                ops.append(
                    PrintedText(
                        text=line,
                        x=x,
                        y=y + offset * _line_height(size),
                        size=size,
                        role="mono" if mono else "regular",
                        underline=_flag(item.get("underline")),
                        strikethru=_flag(item.get("strikethru")),
                        reverse=_flag(item.get("reverse")),
                        rule_dots=max(1, line_width // 5),
                    )
                )
        # anything else (a future "image", garbage): skipped
    # The terminal's own paper feed before and after its receipt is not ours to print.
    while ops and isinstance(ops[0], PrintedFeed | PrintedFlush):
        ops.pop(0)
    while ops and isinstance(ops[-1], PrintedFeed | PrintedFlush):
        ops.pop()
    # ... nor is the white space at the top of its first buffer.
    first = 0
    while first < len(ops) and isinstance(ops[first], PrintedText):
        first += 1
    head = [op for op in ops[:first] if isinstance(op, PrintedText)]
    if head:
        lift = min(op.y for op in head)
        ops[:first] = [replace(op, y=op.y - lift) for op in head]
    return tuple(ops)


# -- composing slips ---------------------------------------------------------------------


def _header(merchant: Merchant) -> list[Block]:
    blocks: list[Block] = [TextBlock(_safe(merchant.name), TITLE, "bold", "center")]
    blocks += [TextBlock(_safe(line), SMALL, align="center") for line in merchant.lines]
    blocks.append(SpaceBlock(10))
    return blocks


def _meta(rows: Iterable[tuple[str, str | None]]) -> list[Block]:
    return [RowBlock(key, value, SMALL) for key, value in rows if value]


def _terminal_receipt(
    lines: Sequence[str], instructions: Sequence[Mapping[str, object]], caption: str
) -> list[Block]:
    ops = parse_print_instructions(instructions)
    if ops:
        body: Block = PrintoutBlock(ops)
    else:
        if isinstance(lines, str):  # one text instead of lines: still print it
            lines = (lines,)
        parts = [
            part
            for line in lines
            for part in str(line).replace("\r\n", "\n").replace("\r", "\n").split("\n")
        ]
        # Leading spaces stay: terminals align their columns with them.
        cleaned = [
            scrub_card_numbers(_CONTROL_RE.sub("", part.expandtabs(4)).rstrip()) for part in parts
        ]
        while cleaned and not cleaned[-1]:
            cleaned.pop()
        while cleaned and not cleaned[0]:
            cleaned.pop(0)
        if not cleaned:
            return []
        body = MonoBlock(tuple(cleaned))
    return [
        RuleBlock(),
        TextBlock(caption, SMALL, "bold", "center"),
        SpaceBlock(6),
        body,
        SpaceBlock(6),
    ]


def _money_text(amount: Money | None, lang: str) -> str:
    return "" if amount is None else format_money(amount, lang)


def compose_receipt(r: Receipt) -> Slip:
    lang = resolve_language(r.language)
    blocks = _header(r.merchant)
    blocks += [TextBlock(label(lang, "receipt_title"), HEADING, "bold", "center"), SpaceBlock(4)]
    blocks += _meta(
        [
            (label(lang, "date"), format_datetime(r.at, lang)),
            (label(lang, "kiosk"), _clean(r.kiosk_id)),
            (label(lang, "sale"), _clean(r.sale_id)),
        ]
    )
    blocks.append(RuleBlock())
    for item in r.items:
        blocks.append(RowBlock(_safe(item.name), format_money(item.total, lang)))
        if item.quantity != 1:
            qty = label(
                lang,
                "item_quantity",
                quantity=item.quantity,
                unit_price=format_money(item.unit_price, lang),
            )
            blocks.append(TextBlock(qty, SMALL, indent=INDENT))
    blocks += [
        RuleBlock(dashed=False),
        RowBlock(label(lang, "total"), format_money(r.total, lang), TOTAL, "bold"),
        RuleBlock(dashed=False),
        SpaceBlock(4),
    ]
    paid: list[Block] = []
    if r.cash is not None:
        paid.append(RowBlock(label(lang, "cash"), format_money(r.cash.total, lang)))
        for note in r.cash.notes:
            text = label(lang, "note_count", count=note.count, value=format_money(note.value, lang))
            paid.append(RowBlock(text, format_money(note.total, lang), SMALL, indent=INDENT))
    if r.card is not None:
        card = r.card
        name = " ".join(
            part
            for part in (
                label(lang, "card"),
                _safe(card.brand),
                mask_card_number(card.last4, digits_only=True),
            )
            if part
        )
        paid.append(RowBlock(name, format_money(card.amount, lang)))
        if card.auth_code:
            code = label(lang, "auth_code", code=_safe(card.auth_code))
            paid.append(TextBlock(code, SMALL, indent=INDENT))
    if r.cashback is not None:
        movement = r.cashback
        paid.append(
            RowBlock(_safe(movement.label) or "Cashback", format_money(movement.amount, lang))
        )
        if movement.balance is not None:
            paid.append(
                RowBlock(
                    label(lang, "cashback_balance"),
                    format_money(movement.balance, lang),
                    SMALL,
                    indent=INDENT,
                )
            )
    if paid:
        blocks += [TextBlock(label(lang, "payments"), BODY, "bold"), *paid]
    if r.cashback_card_number:
        blocks += [
            RuleBlock(),
            RowBlock(label(lang, "cashback_card"), mask_card_number(r.cashback_card_number)),
        ]
    if r.card is not None:
        blocks += _terminal_receipt(
            r.card.receipt_lines, r.card.print_instructions, label(lang, "terminal_receipt")
        )
    blocks += [RuleBlock(), SpaceBlock(8), QrBlock(_clean(r.sale_id))]
    blocks.append(TextBlock(label(lang, "sale_reference"), SMALL, align="center"))
    blocks.append(SpaceBlock(12))
    blocks += [TextBlock(_safe(line), SMALL, align="center") for line in r.footer_lines]
    blocks += [
        TextBlock(label(lang, "thank_you"), HEADING, "bold", "center"),
        TextBlock(label(lang, "keep_receipt"), SMALL, align="center"),
    ]
    return Slip("receipt", tuple(blocks), title=f"receipt {r.sale_id}")


def compose_voucher(v: RefundVoucher) -> Slip:
    lang = resolve_language(v.language)
    blocks = _header(v.merchant)
    blocks += [TextBlock(label(lang, "voucher_title"), HEADING, "bold", "center", reverse=True)]
    blocks += [
        SpaceBlock(12),
        TextBlock(format_money(v.amount, lang), TITLE + 12, "bold", "center"),
        SpaceBlock(4),
        TextBlock(label(lang, "voucher_code"), SMALL, align="center"),
        TextBlock(_clean(v.voucher_code), HEADING, "mono", "center"),
        SpaceBlock(8),
        QrBlock(_clean(v.voucher_code)),
    ]
    if v.valid_until is not None:
        until = label(lang, "valid_until", date=format_date(v.valid_until, lang))
        blocks.append(TextBlock(until, BODY, "bold", "center"))
    blocks += [SpaceBlock(8), RuleBlock()]
    blocks += _meta(
        [
            (label(lang, "date"), format_datetime(v.at, lang)),
            (label(lang, "kiosk"), _clean(v.kiosk_id)),
            (label(lang, "sale"), _clean(v.sale_id)),
        ]
    )
    blocks += [RuleBlock(), TextBlock(label(lang, "reason"), BODY, "bold")]
    blocks += [TextBlock(line, BODY) for line in _safe_lines(v.reason) if line]
    blocks += [SpaceBlock(8), TextBlock(label(lang, "how_to_redeem"), BODY, "bold")]
    how = v.how_to_redeem if v.how_to_redeem else label(lang, "redeem_default")
    blocks += [TextBlock(line, BODY) for line in _safe_lines(how) if line]
    # Not the code in the title: it is worth money and titles end up in print logs.
    return Slip("voucher", tuple(blocks), title=f"refund voucher for sale {v.sale_id}")


def compose_incident(s: IncidentSlip) -> Slip:
    lang = resolve_language(s.language)
    blocks = _header(s.merchant)
    blocks += [
        TextBlock(label(lang, "incident_title"), HEADING, "bold", "center", reverse=True),
        SpaceBlock(8),
    ]
    blocks += _meta(
        [
            (label(lang, "incident"), _clean(s.incident_id)),
            (label(lang, "date"), format_datetime(s.at, lang)),
            (label(lang, "kiosk"), _clean(s.kiosk_id)),
            (label(lang, "sale"), _clean(s.sale_id) if s.sale_id else None),
        ]
    )
    blocks += [RuleBlock(), TextBlock(label(lang, "what_happened"), BODY, "bold")]
    blocks += [TextBlock(line, BODY) for line in _safe_lines(s.what_happened) if line]
    if s.amounts:
        blocks.append(SpaceBlock(6))
        blocks += [RowBlock(_safe(a.label), format_money(a.amount, lang)) for a in s.amounts]
    blocks += [RuleBlock(), TextBlock(label(lang, "what_to_do"), BODY, "bold")]
    blocks += [TextBlock(line, BODY) for line in _safe_lines(s.what_to_do) if line]
    blocks += [
        RuleBlock(),
        SpaceBlock(8),
        QrBlock(_clean(s.incident_id)),
        TextBlock(label(lang, "keep_slip"), SMALL, "bold", "center"),
    ]
    return Slip("incident", tuple(blocks), title=f"incident {s.incident_id}")


def compose_cash_collection(s: CashCollectionSlip) -> Slip:
    lang = resolve_language(s.language)
    blocks = _header(s.merchant)
    blocks += [
        TextBlock(label(lang, "collection_title"), HEADING, "bold", "center", reverse=True),
        SpaceBlock(8),
    ]
    blocks += _meta(
        [
            (label(lang, "kiosk"), _clean(s.kiosk_id)),
            (label(lang, "since"), format_datetime(s.since, lang) if s.since else None),
            (label(lang, "collected_at"), format_datetime(s.at, lang)),
            (label(lang, "collected_by"), _safe(s.collected_by)),
        ]
    )
    blocks += [RuleBlock(), TextBlock(label(lang, "notes"), BODY, "bold")]
    for note in sorted(s.notes, key=lambda n: n.value.minor, reverse=True):
        text = label(lang, "note_count", count=note.count, value=format_money(note.value, lang))
        blocks.append(RowBlock(text, format_money(note.total, lang)))
    count = sum(note.count for note in s.notes)
    blocks += [
        RuleBlock(dashed=False),
        RowBlock(label(lang, "total"), format_money(s.total, lang), TOTAL, "bold"),
        TextBlock(label(lang, "notes_count", count=count), SMALL, align="right"),
        RuleBlock(dashed=False),
        SpaceBlock(48),
        TextBlock(f"{label(lang, 'signature')}: ____________________", BODY),
    ]
    return Slip("cash_collection", tuple(blocks), title=f"cash collection {s.kiosk_id}")


def _method_label(method: str, lang: str) -> str:
    key = f"method_{method.strip().lower()}"
    try:
        return label(lang, key)
    except KeyError:
        return _safe(method)


def compose_end_of_day(s: EndOfDaySlip) -> Slip:
    lang = resolve_language(s.language)
    blocks = _header(s.merchant)
    blocks += [
        TextBlock(label(lang, "end_of_day_title"), HEADING, "bold", "center", reverse=True),
        SpaceBlock(8),
    ]
    blocks += _meta(
        [
            (label(lang, "business_day"), format_date(s.business_date, lang)),
            (label(lang, "kiosk"), _clean(s.kiosk_id)),
            (label(lang, "printed_at"), format_datetime(s.at, lang)),
        ]
    )
    blocks += [RuleBlock(), TextBlock(label(lang, "by_method"), BODY, "bold")]
    for method in s.totals:
        name = label(
            lang, "with_count", label=_method_label(method.method, lang), count=method.count
        )
        blocks.append(RowBlock(name, format_money(method.total, lang)))
    if s.totals and len({m.total.currency for m in s.totals}) == 1:
        total = s.totals[0].total
        for method in s.totals[1:]:
            total = total + method.total
        blocks += [
            RuleBlock(dashed=False),
            RowBlock(label(lang, "total"), format_money(total, lang), TOTAL, "bold"),
        ]
    blocks += [RuleBlock(), TextBlock(label(lang, "sales"), BODY, "bold")]
    blocks += [
        RowBlock(label(lang, "sales_completed"), str(s.sales_completed)),
        RowBlock(label(lang, "sales_cancelled"), str(s.sales_cancelled)),
        RowBlock(label(lang, "sales_flagged"), str(s.sales_flagged)),
        RuleBlock(),
        TextBlock(label(lang, "refunds"), BODY, "bold"),
        RowBlock(
            label(
                lang, "with_count", label=label(lang, "vouchers_issued"), count=s.vouchers_issued
            ),
            _money_text(s.vouchers_total, lang) or "—",
        ),
        RowBlock(
            label(lang, "with_count", label=label(lang, "card_refunds"), count=s.card_refunds),
            _money_text(s.card_refunds_total, lang) or "—",
        ),
    ]
    blocks += _terminal_receipt(
        s.reconciliation_lines, s.reconciliation_instructions, label(lang, "reconciliation")
    )
    return Slip("end_of_day", tuple(blocks), title=f"end of day {s.business_date.isoformat()}")


SlipData = Receipt | RefundVoucher | IncidentSlip | CashCollectionSlip | EndOfDaySlip


def compose(data: SlipData) -> Slip:
    """The :class:`Slip` of any slip's data."""
    if isinstance(data, Receipt):
        return compose_receipt(data)
    if isinstance(data, RefundVoucher):
        return compose_voucher(data)
    if isinstance(data, IncidentSlip):
        return compose_incident(data)
    if isinstance(data, CashCollectionSlip):
        return compose_cash_collection(data)
    return compose_end_of_day(data)


# -- fonts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FontFace:
    """A font file (and face index in a collection); ``path=None`` is Pillow's built-in font."""

    path: str | None
    index: int = 0


_NOTO = "/usr/share/fonts/opentype/noto/"
_DEJAVU = "/usr/share/fonts/truetype/dejavu/"
_IPA = "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf"  # proportional
_IPA_MONO = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"  # fixed width

#: Fonts tried for each role, in order (Debian paths). Index 0 of the Noto CJK
#: collections is "Noto Sans CJK JP", index 5 "Noto Sans Mono CJK JP".
DEFAULT_FONT_CANDIDATES: Final[Mapping[Role, tuple[FontFace, ...]]] = {
    "regular": (
        FontFace(_NOTO + "NotoSansCJK-Regular.ttc", 0),
        FontFace(_DEJAVU + "DejaVuSans.ttf"),
        FontFace(_IPA),
    ),
    "bold": (
        FontFace(_NOTO + "NotoSansCJK-Bold.ttc", 0),
        FontFace(_DEJAVU + "DejaVuSans-Bold.ttf"),
    ),
    "mono": (
        FontFace(_NOTO + "NotoSansCJK-Regular.ttc", 5),
        FontFace(_DEJAVU + "DejaVuSansMono.ttf"),
        FontFace(_IPA_MONO),
    ),
}

_BUILTIN: Final = FontFace(None)
_INK_THRESHOLD: Final = 102  # glyph coverage (0-255) from which a dot is printed: 40 %
_INK_LUT: Final = [255 if v >= _INK_THRESHOLD else 0 for v in range(256)]
_MISSING_PROBE: Final = "\U0010fffd"  # a private-use code point no font maps
_GLYPH_CACHE_LIMIT: Final = 20_000
_OPEN_FONTS_LIMIT: Final = 2


@dataclass(frozen=True)
class _Glyph:
    mask: Image.Image | None  # mode "1", white = ink; None for blank glyphs (spaces)
    dx: int  # from the pen position to the mask's left edge
    dy: int  # from the baseline to the mask's top edge (negative: above)
    advance: float


FreeTypeLike = ImageFont.FreeTypeFont | ImageFont.ImageFont


class _OpenFonts:
    """The FreeType faces open right now: at most ``limit``, least recently used closed.

    Pillow opens one FreeType face per font file and size, and each face of a Noto
    CJK collection costs ~2 MB (its own mapping of the 20 MB file, the CFF index
    tables). Glyphs are cached once drawn, so a face is only needed for a glyph not
    drawn yet: a few open faces serve every size, and reopening one costs < 1 ms.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._fonts: dict[tuple[FontFace, int], FreeTypeLike] = {}
        self.opened = 0  # faces opened so far (tests, benches)

    def get(self, face: FontFace, size: int) -> FreeTypeLike:
        key = (face, size)
        font = self._fonts.pop(key, None)
        if font is None:
            if face.path is None:
                font = ImageFont.load_default(size)
            else:
                font = ImageFont.truetype(
                    face.path, size, index=face.index, layout_engine=ImageFont.Layout.BASIC
                )
            self.opened += 1
            while len(self._fonts) >= self.limit:
                del self._fonts[next(iter(self._fonts))]
        self._fonts[key] = font  # the most recently used last
        return font

    def __len__(self) -> int:
        return len(self._fonts)


class _LoadedFace:
    """One font file: its faces at the sizes it is used at, and which characters it has."""

    def __init__(self, face: FontFace, fonts: _OpenFonts) -> None:
        self.face = face
        self._fonts = fonts
        self._notdef: dict[int, tuple[tuple[int, int, int, int], bytes]] = {}
        self.covers: dict[str, bool] = {}
        self.font(BODY)  # raises OSError now if the file is not a usable font

    def font(self, size: int) -> FreeTypeLike:
        return self._fonts.get(self.face, size)

    def render(self, char: str, size: int) -> tuple[_Glyph, bool]:
        """The glyph of ``char`` at ``size`` and whether the font really has it."""
        font = self.font(size)
        glyph, signature = _render_glyph(font, char)
        if char in self.covers:
            return glyph, self.covers[char]
        notdef = self._notdef.get(size)
        if notdef is None:
            notdef = _render_glyph(font, _MISSING_PROBE)[1]
            self._notdef[size] = notdef
        has = signature != notdef
        self.covers[char] = has
        return glyph, has


def _render_glyph(
    font: FreeTypeLike, char: str
) -> tuple[_Glyph, tuple[tuple[int, int, int, int], bytes]]:
    advance = float(font.getlength(char))
    freetype = isinstance(font, ImageFont.FreeTypeFont)
    # A bitmap font (Pillow without FreeType) has no baseline anchor.
    bbox = font.getbbox(char, anchor="ls") if freetype else font.getbbox(char)
    left, top, right, bottom = (int(v) for v in bbox)
    if right <= left or bottom <= top:
        return _Glyph(None, 0, 0, advance), ((left, top, right, bottom), b"")
    grey = Image.new("L", (right - left, bottom - top), 0)
    draw = ImageDraw.Draw(grey)
    if freetype:
        draw.text((-left, -top), char, font=font, fill=255, anchor="ls")
    else:
        draw.text((-left, -top), char, font=font, fill=255)
    mask = grey.point(_INK_LUT, "1")
    dy = top if freetype else top - round((bottom - top) * 0.8)
    glyph = _Glyph(mask, left, dy, advance)
    return glyph, ((left, top, right, bottom), mask.tobytes())


class FontSet:
    """The fonts slips are drawn with, and a cache of every glyph drawn so far.

    Build once (:func:`default_fonts`); font files are opened lazily, once.
    ``candidates`` maps each role to the fonts tried in order; missing files
    are skipped; with none left, Pillow's built-in font is used (warned).
    """

    def __init__(
        self, candidates: Mapping[Role, Sequence[FontFace]] = DEFAULT_FONT_CANDIDATES
    ) -> None:
        self._candidates = candidates
        self._chains: dict[Role, tuple[_LoadedFace, ...]] = {}
        self._loaded: dict[FontFace, _LoadedFace | None] = {}
        self._open = _OpenFonts(_OPEN_FONTS_LIMIT)
        self._glyphs: dict[tuple[Role, int, str], _Glyph] = {}
        self._metrics: dict[tuple[Role, int], float] = {}
        self.lock = threading.RLock()
        self.warnings: list[str] = []

    def _load(self, face: FontFace) -> _LoadedFace | None:
        if face not in self._loaded:
            loaded: _LoadedFace | None = None
            if face.path is None or os.path.exists(face.path):
                try:
                    loaded = _LoadedFace(face, self._open)
                except (OSError, ValueError) as exc:
                    logger.warning("receipts: cannot use font %s: %s", face.path, exc)
            self._loaded[face] = loaded
        return self._loaded[face]

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        logger.warning("receipts: %s", message)

    def chain(self, role: Role) -> tuple[_LoadedFace, ...]:
        """The fonts a ``role`` draws with, in order of preference."""
        chain = self._chains.get(role)
        if chain is not None:
            return chain
        faces = list(self._candidates.get(role, ()))
        if role != "regular":
            faces += [f for f in self._candidates.get("regular", ()) if f not in faces]
        found = [loaded for face in faces if (loaded := self._load(face)) is not None]
        if not found:
            tried = ", ".join(str(f.path) for f in faces) or "none configured"
            self._warn(
                f"no font found for {role} text (tried {tried}); printing with Pillow's "
                "built-in font, which has no Japanese: install fonts-noto-cjk"
            )
            builtin = self._load(_BUILTIN)
            if builtin is None:  # pragma: no cover - Pillow always has a default font
                raise RuntimeError("Pillow has no default font")
            found = [builtin]
        elif role == "regular" and not any(face.render("日", BODY)[1] for face in found):
            self._warn(
                "no font with Japanese glyphs found: Japanese prints as boxes; "
                "install fonts-noto-cjk"
            )
        chain = tuple(found)
        self._chains[role] = chain
        return chain

    def glyph(self, role: Role, size: int, char: str) -> _Glyph:
        key = (role, size, char)
        glyph = self._glyphs.get(key)
        if glyph is not None:
            return glyph
        chain = self.chain(role)
        first: _Glyph | None = None
        for face in chain:
            candidate, has = face.render(char, size)
            if has:
                glyph = candidate
                break
            if first is None:
                first = candidate
        if glyph is None:
            assert first is not None
            glyph = first  # no font has it: the first font's box, so it shows
        if len(self._glyphs) >= _GLYPH_CACHE_LIMIT:
            self._glyphs.clear()
        self._glyphs[key] = glyph
        return glyph

    def measure(self, role: Role, size: int, text: str) -> float:
        return sum(self.glyph(role, size, char).advance for char in text)

    def has_glyph(self, role: Role, char: str) -> bool:
        """Whether some font of ``role`` has a real glyph for ``char`` (not a box)."""
        with self.lock:
            return any(face.render(char, BODY)[1] for face in self.chain(role))


@functools.cache
def default_fonts() -> FontSet:
    """The process-wide font set (Debian font paths)."""
    return FontSet()


# -- drawing --------------------------------------------------------------------------------


def _line_height(size: int) -> int:
    return round(size * 1.3)


def _ascent(size: int) -> int:
    return round(size * 0.95)


_WIDE: Final = frozenset("WF")
_NO_LINE_START: Final = frozenset("、。，．・：；？！ー）」』】〕〉》’”,.!?:;)]}%")


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in _WIDE


def _tokens(text: str) -> list[str]:
    """The pieces a line may break between: words with their trailing spaces, and each
    wide (CJK) character with the punctuation that may not start a line after it."""
    tokens: list[str] = []
    current = ""
    for char in text:
        if char == " " or (current and char in _NO_LINE_START):
            current += char
            continue
        if current and (current[-1] == " " or _is_wide(char) or _is_wide(current[-1])):
            tokens.append(current)
            current = ""
        current += char
    if current:
        tokens.append(current)
    return tokens


class _Canvas:
    """A 1-bit image as wide as the print line that grows downwards as blocks are drawn."""

    def __init__(self, fonts: FontSet, width: int) -> None:
        self.fonts = fonts
        self.width = width
        self.image = Image.new("1", (width, 1024), 1)
        self.y = 0
        self._draw = ImageDraw.Draw(self.image)

    def ensure(self, bottom: int) -> None:
        height = self.image.height
        if bottom <= height:
            return
        while height < bottom:
            height *= 2
        bigger = Image.new("1", (self.width, height), 1)
        bigger.paste(self.image, (0, 0))
        self.image = bigger
        self._draw = ImageDraw.Draw(self.image)

    def measure(self, role: Role, size: int, text: str) -> float:
        return self.fonts.measure(role, size, text)

    def text(self, x: float, baseline: int, role: Role, size: int, text: str, ink: int = 0) -> int:
        """Draw ``text`` with its baseline at ``baseline``; returns the pen's end x."""
        fonts = self.fonts
        image = self.image
        pen = x
        for char in text:
            glyph = fonts.glyph(role, size, char)
            if glyph.mask is not None:
                left = round(pen) + glyph.dx
                top = baseline + glyph.dy
                image.paste(
                    ink, (left, top, left + glyph.mask.width, top + glyph.mask.height), glyph.mask
                )
            pen += glyph.advance
        return round(pen)

    def rect(self, left: int, top: int, right: int, bottom: int, ink: int = 0) -> None:
        self.ensure(bottom + 1)
        self._draw.rectangle((left, top, right, bottom), fill=ink)

    def wrap(self, role: Role, size: int, text: str, width: float) -> list[str]:
        if self.measure(role, size, text) <= width:
            return [text]
        lines: list[str] = []
        line = ""
        for token in _tokens(text):
            candidate = line + token
            if self.measure(role, size, candidate.rstrip()) <= width:
                line = candidate
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = token.lstrip()
            while line and self.measure(role, size, line) > width:  # one word too long
                cut = len(line) - 1
                while cut > 1 and self.measure(role, size, line[:cut]) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        if line.strip():
            lines.append(line.rstrip())
        return lines or [""]

    def line(self, x: float, role: Role, size: int, text: str, ink: int = 0) -> None:
        """One line of text at the current y; moves y down by the line's height."""
        height = _line_height(size)
        self.ensure(self.y + height + size)
        self.text(x, self.y + _ascent(size), role, size, text, ink)
        self.y += height


@functools.cache
def _dash(width: int, thickness: int) -> Image.Image:
    image = Image.new("1", (width, thickness), 1)
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 12):
        draw.rectangle((x, 0, x + 6, thickness - 1), fill=0)
    return image


def _draw_text_block(canvas: _Canvas, block: TextBlock) -> None:
    width = canvas.width - block.indent
    pad = 8 if block.reverse else 0
    lines = canvas.wrap(block.role, block.size, block.text, width - 2 * pad)
    if block.reverse:
        height = _line_height(block.size) * len(lines) + 2 * pad
        canvas.rect(0, canvas.y, canvas.width - 1, canvas.y + height - 1)
        canvas.y += pad
    ink = 1 if block.reverse else 0
    for line in lines:
        used = canvas.measure(block.role, block.size, line)
        if block.align == "center":
            x = block.indent + (width - used) / 2
        elif block.align == "right":
            x = canvas.width - used - pad
        else:
            x = block.indent + pad
        canvas.line(x, block.role, block.size, line, ink)
    canvas.y += pad
    if block.reverse:
        canvas.y += 6


def _draw_row(canvas: _Canvas, block: RowBlock) -> None:
    gap = max(16, block.size // 2)
    right_width = canvas.measure(block.role, block.size, block.right)
    room = canvas.width - block.indent - right_width - gap
    if room < canvas.width * 0.3 and canvas.measure(block.role, block.size, block.left) > room:
        # The value is too long to share a line with the label: each gets its own.
        for line in canvas.wrap(block.role, block.size, block.left, canvas.width - block.indent):
            canvas.line(block.indent, block.role, block.size, line)
        for line in canvas.wrap(block.role, block.size, block.right, canvas.width - block.indent):
            used = canvas.measure(block.role, block.size, line)
            canvas.line(canvas.width - used, block.role, block.size, line)
        return
    lines = canvas.wrap(block.role, block.size, block.left, room)
    top = canvas.y
    for line in lines:
        canvas.line(block.indent, block.role, block.size, line)
    canvas.text(
        canvas.width - right_width, top + _ascent(block.size), block.role, block.size, block.right
    )


def _draw_rule(canvas: _Canvas, block: RuleBlock) -> None:
    canvas.y += 8
    canvas.ensure(canvas.y + block.thickness + 8)
    if block.dashed:
        canvas.image.paste(_dash(canvas.width, block.thickness), (0, canvas.y))
    else:
        canvas.rect(0, canvas.y, canvas.width - 1, canvas.y + block.thickness - 1)
    canvas.y += block.thickness + 10


def _draw_qr(canvas: _Canvas, block: QrBlock) -> None:
    if not block.data:
        return
    qr = segno.make_qr(block.data, error="m")
    modules = len(qr.matrix)
    quiet = 4
    scale = max(3, min(8, 240 // (modules + 2 * quiet)))
    dark = bytes(0 if cell else 255 for row in qr.matrix for cell in row)
    small = Image.frombytes("L", (modules, modules), dark)
    image = small.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
    size = modules * scale
    top = canvas.y + quiet * scale
    canvas.ensure(top + size + quiet * scale)
    canvas.image.paste(
        image.convert("1", dither=Image.Dither.NONE), ((canvas.width - size) // 2, top)
    )
    canvas.y = top + size + scale * 2


def _draw_mono(canvas: _Canvas, block: MonoBlock) -> None:
    widest = max((canvas.measure("mono", 24, line) for line in block.lines), default=0.0)
    size = 24
    if widest > canvas.width:
        size = max(16, int(24 * canvas.width / widest))
    lines = [part for line in block.lines for part in canvas.wrap("mono", size, line, canvas.width)]
    used = max((canvas.measure("mono", size, line) for line in lines), default=0.0)
    left = max(0.0, (canvas.width - used) / 2)
    for line in lines:
        canvas.line(left, "mono", size, line)


def _printout_extent(canvas: _Canvas, ops: Sequence[PrintedOp]) -> int:
    right = 0
    for op in ops:
        if isinstance(op, PrintedText):
            right = max(right, op.x + round(canvas.measure(op.role, op.size, op.text)))
    return right


def _draw_printout_at(canvas: _Canvas, ops: Sequence[PrintedOp], left: int) -> None:
    for part in _printout_buffers(ops):
        if isinstance(part, int):
            canvas.y += part
            continue
        top = canvas.y
        bottom = max(text.y + _line_height(text.size) for text in part)
        canvas.ensure(top + bottom + 96)
        for text in sorted(part, key=lambda t: (t.y, t.x)):
            x = left + text.x
            line_top = top + text.y
            baseline = line_top + _ascent(text.size)
            width = round(canvas.measure(text.role, text.size, text.text))
            ink = 0
            if text.reverse:
                canvas.rect(x - 2, line_top, x + width + 2, line_top + _line_height(text.size) - 1)
                ink = 1
            canvas.text(x, baseline, text.role, text.size, text.text, ink)
            if text.underline:
                y = baseline + max(2, text.size // 10)
                canvas.rect(x, y, x + width, y + text.rule_dots - 1, ink)
            if text.strikethru:
                y = baseline - round(text.size * 0.3)
                canvas.rect(x, y, x + width, y + text.rule_dots - 1, ink)
        canvas.y = top + bottom


def _draw_printout(canvas: _Canvas, block: PrintoutBlock) -> None:
    extent = _printout_extent(canvas, block.ops)
    if extent <= canvas.width:
        _draw_printout_at(canvas, block.ops, (canvas.width - extent) // 2)
        return
    # Wider than our line: draw at the terminal's size, then scale down to fit.
    wide = _Canvas(canvas.fonts, extent)
    _draw_printout_at(wide, block.ops, 0)
    height = max(1, round(wide.y * canvas.width / extent))
    grey = wide.image.crop((0, 0, extent, max(1, wide.y))).convert("L")
    small = grey.resize((canvas.width, height), Image.Resampling.BOX)
    canvas.ensure(canvas.y + height)
    canvas.image.paste(small.point(_INK_LUT_DARK, "1"), (0, canvas.y))
    canvas.y += height


_INK_LUT_DARK: Final = [0 if v < 255 - _INK_THRESHOLD else 255 for v in range(256)]


def _draw_block(canvas: _Canvas, block: Block) -> None:
    if isinstance(block, TextBlock):
        _draw_text_block(canvas, block)
    elif isinstance(block, RowBlock):
        _draw_row(canvas, block)
    elif isinstance(block, RuleBlock):
        _draw_rule(canvas, block)
    elif isinstance(block, SpaceBlock):
        canvas.y += max(0, block.dots)
    elif isinstance(block, QrBlock):
        _draw_qr(canvas, block)
    elif isinstance(block, MonoBlock):
        _draw_mono(canvas, block)
    else:
        _draw_printout(canvas, block)


_TOP_MARGIN: Final = 16
_BOTTOM_MARGIN: Final = 48


def render_image(
    slip: Slip, *, printer: PrinterFormat = THERMAL_80MM, fonts: FontSet | None = None
) -> Image.Image:
    """The slip as a 1-bit image, ``printer.print_dots`` wide (also for on-screen previews)."""
    fonts = default_fonts() if fonts is None else fonts
    with fonts.lock:
        canvas = _Canvas(fonts, printer.print_dots)
        canvas.y = _TOP_MARGIN
        for block in slip.blocks:
            _draw_block(canvas, block)
        height = canvas.y + _BOTTOM_MARGIN
        canvas.ensure(height)
        return canvas.image.crop((0, 0, printer.print_dots, height))


# -- PDF --------------------------------------------------------------------------------------


def _pdf_number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _pdf_text(text: str) -> str:
    """A PDF literal string: printable ASCII, backslash and parentheses escaped."""
    safe = "".join(c if " " <= c <= "~" else "?" for c in text[:200])
    return "(" + safe.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def _pdf(image: Image.Image, printer: PrinterFormat, title: str = "") -> bytes:
    """One page ``printer.paper_mm`` wide with the 1-bit image centred at the printer's dpi."""
    if image.mode != "1":
        image = image.convert("1", dither=Image.Dither.NONE)
    width, height = image.size
    points_per_dot = 72 / printer.dpi
    page_width = printer.paper_mm / 25.4 * 72
    image_width = width * points_per_dot
    page_height = image_height = height * points_per_dot
    left = max(0.0, (page_width - image_width) / 2)
    pixels = zlib.compress(image.tobytes(), 6)  # rows padded to bytes; bit 1 = white
    content = (
        f"q {_pdf_number(image_width)} 0 0 {_pdf_number(image_height)} "
        f"{_pdf_number(left)} 0 cm /Im0 Do Q\n"
    ).encode()
    media_box = f"[0 0 {_pdf_number(max(page_width, image_width))} {_pdf_number(page_height)}]"
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        (
            f"<< /Type /Page /Parent 2 0 R /MediaBox {media_box} "
            "/Resources << /XObject << /Im0 4 0 R >> /ProcSet [/PDF /ImageB] >> "
            "/Contents 5 0 R >>"
        ).encode(),
        (
            f"<< /Type /XObject /Subtype /Image /Width {width} /Height {height} "
            "/ColorSpace /DeviceGray /BitsPerComponent 1 /Filter /FlateDecode "
            f"/Length {len(pixels)} >>\nstream\n"
        ).encode()
        + pixels
        + b"\nendstream",
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"endstream",
        f"<< /Producer (kioskapp receipts) /Title {_pdf_text(title)} >>".encode(),
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets: list[int] = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {len(objects)} 0 R >>\n"
        f"startxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


def render_pdf(
    slip: Slip, *, printer: PrinterFormat = THERMAL_80MM, fonts: FontSet | None = None
) -> bytes:
    """The slip as PDF bytes for ``print_pdf``."""
    return _pdf(render_image(slip, printer=printer, fonts=fonts), printer, slip.title)


def render_receipt(
    r: Receipt, *, printer: PrinterFormat = THERMAL_80MM, fonts: FontSet | None = None
) -> bytes:
    return render_pdf(compose_receipt(r), printer=printer, fonts=fonts)


def render_voucher(
    v: RefundVoucher, *, printer: PrinterFormat = THERMAL_80MM, fonts: FontSet | None = None
) -> bytes:
    return render_pdf(compose_voucher(v), printer=printer, fonts=fonts)


def render_incident(
    s: IncidentSlip, *, printer: PrinterFormat = THERMAL_80MM, fonts: FontSet | None = None
) -> bytes:
    return render_pdf(compose_incident(s), printer=printer, fonts=fonts)


def render_cash_collection(
    s: CashCollectionSlip, *, printer: PrinterFormat = THERMAL_80MM, fonts: FontSet | None = None
) -> bytes:
    return render_pdf(compose_cash_collection(s), printer=printer, fonts=fonts)


def render_end_of_day(
    s: EndOfDaySlip, *, printer: PrinterFormat = THERMAL_80MM, fonts: FontSet | None = None
) -> bytes:
    return render_pdf(compose_end_of_day(s), printer=printer, fonts=fonts)


_WARM_UP_TEXT: Final = (
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,:;-+*/()#%&'!?¡¿"
    "€$£¥×·—–_áéíóúñüàâçèêëîïôùûÁÉÍÓÚÑÇÀÈ’«»"
)


def warm_up(fonts: FontSet | None = None) -> None:
    """Open the fonts and render the common glyphs now (at start-up, in an executor).

    The first receipt then renders as fast as the next ones.
    """
    fonts = default_fonts() if fonts is None else fonts
    with fonts.lock:
        plan: tuple[tuple[Role, tuple[int, ...]], ...] = (
            ("regular", (SMALL, BODY, HEADING, TITLE)),
            ("bold", (BODY, TOTAL, HEADING, TITLE, TITLE + 12)),
            ("mono", (24, HEADING)),
        )
        for role, sizes in plan:
            for size in sizes:
                fonts.measure(role, size, _WARM_UP_TEXT)
