"""The slips staff print: cash collection, printer test page, end of day.

Drawn by :mod:`kioskapp.core.receipts` like every customer receipt (same fonts,
same 1-bit PDF for the thermal printer). Staff slips are in English.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime

from kioskapp import __version__
from kioskapp.core import receipts
from kioskapp.core.money import Money
from kioskapp.core.receipts import (
    CashCollectionSlip,
    EndOfDaySlip,
    Merchant,
    MethodTotal,
    NoteCount,
    RowBlock,
    RuleBlock,
    Slip,
    SpaceBlock,
    TextBlock,
)

STAFF_LANGUAGE = "en"


@dataclass(frozen=True)
class RenderedSlip:
    """A slip ready to print (``pdf``) and to show on screen (``lines``)."""

    pdf: bytes
    lines: tuple[str, ...]


def local_time(at: float) -> datetime:
    """A wall-clock time as the kiosk's local time (what slips print)."""
    return datetime.fromtimestamp(at, UTC).astimezone()


def _render(slip: Slip) -> RenderedSlip:
    return RenderedSlip(receipts.render_pdf(slip), slip.text_lines())


def collection_slip(
    *,
    merchant: Merchant,
    kiosk_id: str,
    at: float,
    collected_by: str,
    notes: Mapping[int, int],
    currency: str,
    since: float | None,
    collection_id: int,
) -> RenderedSlip:
    """The cash collection slip: notes by denomination (minor units → count) and total."""
    counts = tuple(
        NoteCount(Money(value, currency), count) for value, count in sorted(notes.items()) if count
    )
    total = Money(sum(value * count for value, count in notes.items()), currency)
    data = CashCollectionSlip(
        merchant=merchant,
        kiosk_id=kiosk_id,
        at=local_time(at),
        language=STAFF_LANGUAGE,
        collected_by=f"{collected_by} (#{collection_id})",
        notes=counts,
        total=total,
        since=None if since is None else local_time(since),
    )
    return _render(receipts.compose_cash_collection(data))


def test_page(*, merchant: Merchant, kiosk_id: str, at: float) -> RenderedSlip:
    """A printer test page: who, when, the line width, every kind of character."""
    when = local_time(at).strftime("%Y-%m-%d %H:%M:%S")
    blocks = (
        TextBlock(merchant.name, 34, "bold", "center"),
        SpaceBlock(10),
        TextBlock("PRINTER TEST", 32, "bold", "center", reverse=True),
        SpaceBlock(8),
        RowBlock("Kiosk", kiosk_id, 22),
        RowBlock("Printed", when, 22),
        RowBlock("Software", f"kioskapp {__version__}", 22),
        RuleBlock(),
        TextBlock("ABCDEFGHIJKLMNOPQRSTUVWXYZ", 26),
        TextBlock("abcdefghijklmnopqrstuvwxyz 0123456789", 26),
        TextBlock("€ £ ¥ $ % & @ # ¿? ¡! àéîõü ñ ç ß", 26),
        TextBlock("日本語 テスト", 26),
        RuleBlock(dashed=False),
        TextBlock("Regular", 26),
        TextBlock("Bold", 26, "bold"),
        TextBlock("Mono 0123456789", 26, "mono"),
        RuleBlock(dashed=False, thickness=4),
        TextBlock("If every line above is sharp and complete, the printer is fine.", 22),
    )
    return _render(Slip("test_page", blocks, title=f"printer test {kiosk_id}"))


def end_of_day_slip(
    *,
    merchant: Merchant,
    kiosk_id: str,
    at: float,
    business_date: date,
    totals: tuple[MethodTotal, ...],
    sales_completed: int,
    sales_cancelled: int,
    sales_flagged: int,
    reconciliation_lines: tuple[str, ...] = (),
    reconciliation_instructions: tuple[Mapping[str, object], ...] = (),
) -> RenderedSlip:
    """The day's totals with the card terminal's reconciliation receipt."""
    data = EndOfDaySlip(
        merchant=merchant,
        kiosk_id=kiosk_id,
        at=local_time(at),
        language=STAFF_LANGUAGE,
        business_date=business_date,
        totals=totals,
        sales_completed=sales_completed,
        sales_cancelled=sales_cancelled,
        sales_flagged=sales_flagged,
        reconciliation_lines=reconciliation_lines,
        reconciliation_instructions=reconciliation_instructions,
    )
    return _render(receipts.compose_end_of_day(data))


__all__ = ["RenderedSlip", "collection_slip", "end_of_day_slip", "local_time", "test_page"]
