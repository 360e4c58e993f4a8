"""Tests for kioskapp.core.receipts and receipt_text: the printed slips.

The PDFs are read back with poppler (``pdftoppm``, Debian poppler-utils) at the
printer's 8 dots/mm; Japanese needs a CJK font (Debian fonts-noto-cjk).
"""

from __future__ import annotations

import itertools
import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from kioskapp.core import receipts as R
from kioskapp.core.money import Money, loads_json
from kioskapp.core.receipt_text import (
    LABELS,
    LANGUAGES,
    format_date,
    format_datetime,
    format_money,
    label,
    placeholders,
)

EUR = "EUR"
PAN = "4111111111111111"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "kinetic"
AT = datetime(2026, 5, 9, 14, 3)
SALE = "8ef454b3-0317-4973-863a-ae8fdc836304"
MERCHANT = R.Merchant("kioskapp demo shop", ("Calle Mayor 1, 28013 Madrid", "NIF B12345678"))

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftoppm") is None, reason="pdftoppm missing: apt-get install poppler-utils"
)


def eur(minor: int) -> Money:
    return Money(minor, EUR)


def kinetic(*texts: tuple[str, int, int], amount: object = "100") -> tuple[dict[str, object], ...]:
    out: list[dict[str, object]] = [{"command": "scroll", "amount": amount}]
    out += [{"command": "text", "text": t, "x": x, "y": y, "font_size": 24} for t, x, y in texts]
    out.append({"command": "flush"})
    return tuple(out)


def receipt(language: str = "en", **changes: object) -> R.Receipt:
    base = R.Receipt(
        merchant=MERCHANT,
        kiosk_id="KIOSK-0042",
        sale_id=SALE,
        at=AT,
        language=language,
        items=(
            R.ReceiptItem.of("Cashback card", 1, eur(1000)),
            R.ReceiptItem.of("Gift wrap", 2, eur(250)),
            R.ReceiptItem.of("Top-up", 1, eur(2000)),
        ),
        total=eur(3500),
        cash=R.CashPayment((R.NoteCount(eur(1000), 1), R.NoteCount(eur(500), 2)), eur(2000)),
        card=R.CardPayment(
            eur(1250),
            "VISA",
            "1111",
            "123456",
            print_instructions=kinetic(("SALE", 0, 32), ("AMOUNT", 0, 62), ("EUR 12.50", 250, 62)),
        ),
        cashback=R.CashbackMovement("Cashback", eur(-250), eur(404)),
        cashback_card_number="CB7700012345",
    )
    return replace(base, **changes)


def voucher(language: str = "en") -> R.RefundVoucher:
    return R.RefundVoucher(
        MERCHANT,
        "KIOSK-0042",
        AT,
        language,
        "V7K3-M9QX-2B4D",
        SALE,
        eur(2000),
        "The card dispenser failed after your notes were stacked.",
        valid_until=date(2026, 8, 9),
    )


def incident(language: str = "en") -> R.IncidentSlip:
    return R.IncidentSlip(
        MERCHANT,
        "KIOSK-0042",
        AT,
        language,
        "INC-2026-0511",
        SALE,
        "The card terminal did not confirm the payment.",
        (R.SlipAmount("Paid in cash", eur(2000)), R.SlipAmount("Card (unconfirmed)", eur(1350))),
        "Keep this slip and call us with the incident number.",
    )


def cash_collection(language: str = "en") -> R.CashCollectionSlip:
    return R.CashCollectionSlip(
        MERCHANT,
        "KIOSK-0042",
        AT,
        language,
        "staff 0007",
        (R.NoteCount(eur(500), 12), R.NoteCount(eur(2000), 3)),
        eur(12000),
        since=datetime(2026, 5, 2, 9, 30),
    )


def end_of_day(language: str = "en") -> R.EndOfDaySlip:
    return R.EndOfDaySlip(
        MERCHANT,
        "KIOSK-0042",
        AT,
        language,
        date(2026, 5, 9),
        (R.MethodTotal("cash", 41, eur(52000)), R.MethodTotal("card", 17, eur(23950))),
        sales_completed=55,
        sales_cancelled=6,
        vouchers_issued=1,
        vouchers_total=eur(2000),
        reconciliation_instructions=kinetic(("RECONCILIATION", 0, 32), ("BATCH 12", 0, 62)),
    )


SLIPS = {
    "receipt": (receipt, R.render_receipt),
    "voucher": (voucher, R.render_voucher),
    "incident": (incident, R.render_incident),
    "cash_collection": (cash_collection, R.render_cash_collection),
    "end_of_day": (end_of_day, R.render_end_of_day),
}


def ink_box(image: Image.Image) -> tuple[int, int, int, int] | None:
    """The bounding box of the black dots."""
    return ImageOps.invert(image.convert("L")).getbbox()


def ink_count(image: Image.Image) -> int:
    return sum(image.convert("L").histogram()[:128])


def ink_rows(image: Image.Image) -> list[int]:
    grey = image.convert("L")
    width = grey.width
    data = grey.tobytes()
    return [y for y in range(grey.height) if min(data[y * width : (y + 1) * width]) < 128]


def poppler_png(pdf: bytes, tmp_path: Path, dpi: str = "203.2") -> Image.Image:
    source = tmp_path / "slip.pdf"
    source.write_bytes(pdf)
    done = subprocess.run(
        ["pdftoppm", "-png", "-r", dpi, "-singlefile", str(source), str(tmp_path / "slip")],
        capture_output=True,
        check=True,
        timeout=30,
    )
    assert done.stderr == b"", done.stderr  # poppler complains about any malformed PDF
    with Image.open(tmp_path / "slip.png") as image:
        image.load()
        return image.copy()


class RecordingCanvas:
    """Records every string handed to the glyph drawer (the only way text reaches paper)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.drawn: list[str] = []
        original = R._Canvas.text
        drawn = self.drawn

        def text(
            self: R._Canvas, x: float, baseline: int, role: R.Role, size: int, s: str, ink: int = 0
        ) -> int:
            drawn.append(s)
            return original(self, x, baseline, role, size, s, ink)

        monkeypatch.setattr(R._Canvas, "text", text)


# -- every slip prints -------------------------------------------------------------------


@needs_poppler
@pytest.mark.parametrize("kind", sorted(SLIPS))
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_slip_is_a_pdf_poppler_prints_on_80mm_paper(
    kind: str, language: str, tmp_path: Path
) -> None:
    make, render = SLIPS[kind]
    pdf = render(make(language))
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")

    page = poppler_png(pdf, tmp_path)
    # 80 mm of paper at 8 dots/mm is 640 dots; poppler may round up by one.
    assert 639 <= page.width <= 641
    assert page.height > 400
    box = ink_box(page)
    assert box is not None, "blank slip"
    # Everything prints inside the printer's 576 dots (72 mm), centred: 4 mm margins.
    margin = (page.width - 576) / 2
    assert box[0] >= margin - 1
    assert box[2] <= page.width - margin + 1
    assert box[2] - box[0] > 400  # uses the width: rules run across the line
    assert ink_count(page) > 5000

    # The same slip at poppler's 203 dpi (the printer's own) is the same size to a dot.
    assert abs(poppler_png(pdf, tmp_path, "203").width - 640) <= 1


def test_pdf_page_is_80mm_wide_with_the_image_at_8_dots_per_mm() -> None:
    pdf = R.render_receipt(receipt())
    media = re.search(rb"/MediaBox \[0 0 ([0-9.]+) ([0-9.]+)\]", pdf)
    assert media is not None
    width_mm = float(media.group(1)) / 72 * 25.4
    assert width_mm == pytest.approx(80.0, abs=0.01)
    image = R.render_image(R.compose_receipt(receipt()))
    assert image.mode == "1"
    assert image.width == 576
    height_mm = float(media.group(2)) / 72 * 25.4
    assert height_mm == pytest.approx(image.height / 8, abs=0.01)
    assert b"/BitsPerComponent 1" in pdf
    assert b"/FlateDecode" in pdf


@needs_poppler
def test_pdf_title_names_the_slip_but_never_a_voucher_code(tmp_path: Path) -> None:
    def title(pdf: bytes) -> str:
        source = tmp_path / "t.pdf"
        source.write_bytes(pdf)
        info = subprocess.run(
            ["pdfinfo", str(source)], capture_output=True, check=True, text=True, timeout=30
        ).stdout
        return next(line for line in info.splitlines() if line.startswith("Title:"))

    assert SALE in title(R.render_receipt(receipt()))
    voucher_title = title(R.render_voucher(voucher()))
    assert SALE in voucher_title
    assert "V7K3" not in voucher_title
    odd = R.Slip("t", (R.TextBlock("x"),), title="a (b) \\ é")
    assert title(R.render_pdf(odd)).endswith("a (b) \\ ?")


def test_rendering_is_deterministic_and_the_slip_grows_with_its_content() -> None:
    assert R.render_receipt(receipt()) == R.render_receipt(receipt())
    short = R.render_image(R.compose_receipt(receipt(items=receipt().items[:1])))
    many = tuple(R.ReceiptItem.of(f"Item {i}", 1, eur(100)) for i in range(40))
    long = R.render_image(R.compose_receipt(receipt(items=many)))
    assert long.height > short.height + 40 * 26


def test_a_58mm_printer_gets_a_384_dot_slip() -> None:
    image = R.render_image(R.compose_receipt(receipt()), printer=R.THERMAL_58MM)
    assert image.width == 384
    pdf = R.render_receipt(receipt(), printer=R.THERMAL_58MM)
    media = re.search(rb"/MediaBox \[0 0 ([0-9.]+) ", pdf)
    assert media is not None
    assert float(media.group(1)) / 72 * 25.4 == pytest.approx(58.0, abs=0.01)


def test_receipt_prints_everything_the_product_asks_for() -> None:
    lines = "\n".join(R.compose_receipt(receipt()).text_lines())
    for expected in (
        "kioskapp demo shop",
        "Calle Mayor 1, 28013 Madrid",
        "2026-05-09 14:03",
        "KIOSK-0042",
        SALE,
        "Gift wrap  €5.00",
        "2 × €2.50",
        "TOTAL  €35.00",
        "Cash  €20.00",
        "1 × €10.00  €10.00",
        "2 × €5.00  €10.00",
        "Card VISA **** 1111  €12.50",
        "Auth code 123456",
        "Cashback  -€2.50",
        "New balance  €4.04",
        "Your cashback card  **** 2345",
        "Card terminal receipt",
        "AMOUNT  EUR 12.50",
    ):
        assert expected in lines
    assert R.compose_receipt(receipt()).qr_payloads() == (SALE,)


def test_slips_speak_the_customers_language() -> None:
    es = "\n".join(R.compose_receipt(receipt("es")).text_lines())
    assert "Efectivo  20,00 €" in es
    assert "TOTAL  35,00 €" in es
    assert "09/05/2026 14:03" in es
    ja = "\n".join(R.compose_receipt(receipt("ja")).text_lines())
    assert "合計  €35.00" in ja
    assert "2026年05月09日 14:03" in ja
    unknown = "\n".join(R.compose_receipt(receipt("de")).text_lines())
    assert "TOTAL  €35.00" in unknown  # an unknown language prints in English


def test_voucher_incident_and_staff_slips_carry_their_facts() -> None:
    v = R.compose_voucher(voucher())
    assert v.qr_payloads() == ("V7K3-M9QX-2B4D",)
    text = "\n".join(v.text_lines())
    for expected in (
        "REFUND VOUCHER",
        "€20.00",
        "V7K3-M9QX-2B4D",
        SALE,
        "Valid until 2026-08-09",
        "notes were stacked",
        "How to redeem",
        "Show this voucher",
    ):
        assert expected in text
    text = "\n".join(R.compose_incident(incident()).text_lines())
    for expected in (
        "INCIDENT",
        "INC-2026-0511",
        SALE,
        "did not confirm",
        "Card (unconfirmed)  €13.50",
        "call us",
    ):
        assert expected in text
    text = "\n".join(R.compose_cash_collection(cash_collection()).text_lines())
    # Largest denomination first; counts, subtotals, total, who and since when.
    assert text.index("3 × €20.00  €60.00") < text.index("12 × €5.00  €60.00")
    for expected in ("TOTAL  €120.00", "15 notes", "staff 0007", "2026-05-02 09:30", "KIOSK-0042"):
        assert expected in text
    text = "\n".join(R.compose_end_of_day(end_of_day()).text_lines())
    for expected in (
        "2026-05-09",
        "Cash (41)  €520.00",
        "Card (17)  €239.50",
        "TOTAL  €759.50",
        "Completed  55",
        "Cancelled  6",
        "Refund vouchers (1)  €20.00",
        "Card refunds (0)  —",
        "Card terminal reconciliation",
        "BATCH 12",
    ):
        assert expected in text


def test_terminal_text_lines_keep_their_columns_and_lose_control_characters() -> None:
    card = R.CardPayment(
        eur(1250),
        "VISA",
        "1111",
        receipt_lines=("", "  SALE\tEUR 12.50", "AUTH\x07 123456\r\nTHANK YOU", ""),
    )
    blocks = R.compose_receipt(receipt(card=card)).blocks
    mono = [b for b in blocks if isinstance(b, R.MonoBlock)]
    assert mono == [R.MonoBlock(("  SALE  EUR 12.50", "AUTH 123456", "THANK YOU"))]
    # A single string instead of lines still prints, line by line.
    card = replace(card, receipt_lines="A\nB")  # type: ignore[arg-type]
    mono = [b for b in R.compose_receipt(receipt(card=card)).blocks if isinstance(b, R.MonoBlock)]
    assert mono == [R.MonoBlock(("A", "B"))]


def test_absurd_kinetic_numbers_are_clamped_quickly() -> None:
    from decimal import Decimal

    ops = R.parse_print_instructions(
        [
            {"command": "text", "text": "A", "x": Decimal("1E+999999"), "y": "9" * 5000},
            {"command": "text", "text": "B", "x": float("nan"), "y": Decimal("-Infinity")},
            {"command": "text", "text": Decimal("12.5"), "x": 1.6, "y": "2.4", "font_size": 30.2},
        ]
    )
    a, b, c = (op for op in ops if isinstance(op, R.PrintedText))
    assert (a.x, a.y) == (4000, 0)  # x clamped; y unreadable → 0 (then lifted)
    assert (b.x, b.y) == (0, 0)
    assert (c.text, c.x, c.size) == ("12.5", 2, 30)


def test_end_of_day_without_a_terminal_receipt_prints_no_terminal_section() -> None:
    slip = R.compose_end_of_day(replace(end_of_day(), reconciliation_instructions=()))
    assert "Card terminal reconciliation" not in slip.text_lines()
    assert not any(isinstance(b, R.PrintoutBlock | R.MonoBlock) for b in slip.blocks)


# -- card numbers ----------------------------------------------------------------------------


def test_a_full_pan_anywhere_never_reaches_the_paper(monkeypatch: pytest.MonkeyPatch) -> None:
    spaced = "4111 1111 1111 1111"
    r = receipt(
        items=(R.ReceiptItem.of(f"Gift for card {PAN}", 1, eur(3500)),),
        card=R.CardPayment(
            eur(1250),
            "VISA",
            PAN,  # a full PAN where only the last 4 belong
            "123456",
            receipt_lines=(f"CARD {PAN}", f"PAN {spaced}", "4111-1111-1111-1111"),
        ),
        cashback_card_number="7700123412341234",
    )
    recorder = RecordingCanvas(monkeypatch)
    image = R.render_image(R.compose_receipt(r))
    assert image.height > 0
    drawn = "".join(recorder.drawn)
    text = "\n".join(R.compose_receipt(r).text_lines())
    for printed in (drawn, text):
        assert "1111" in printed  # the last 4 digits are there...
        digits = re.sub(r"[^0-9*]", "", printed)
        assert "41111111" not in digits  # ...but never the rest
        assert "1234123412" not in printed
    assert "Card VISA **** 1111" in text
    assert "**** 1234" in text

    # Kinetic instructions and the end-of-day reconciliation are scrubbed too.
    instructions = ({"command": "text", "text": f"PAN {PAN}", "x": 0, "y": 0},)
    card = R.CardPayment(eur(1250), "VISA", "1111", print_instructions=instructions)
    recorder.drawn.clear()
    R.render_image(R.compose_receipt(receipt(card=card)))
    eod = replace(end_of_day(), reconciliation_lines=(PAN,), reconciliation_instructions=())
    R.render_image(R.compose_end_of_day(eod))
    assert PAN not in "".join(recorder.drawn)
    assert "************1111" in recorder.drawn


def test_mask_card_number_keeps_only_the_last_four() -> None:
    assert R.mask_card_number(PAN, digits_only=True) == "**** 1111"
    assert R.mask_card_number("4***********1111", digits_only=True) == "**** 1111"
    assert R.mask_card_number("VISA 1111", digits_only=True) == "**** 1111"
    assert R.mask_card_number("CB-7700-0123-45AB") == "**** 45AB"
    assert R.mask_card_number("12") == "**** 12"
    assert R.mask_card_number("") == "****"


def test_scrub_masks_card_numbers_but_not_other_numbers() -> None:
    assert R.scrub_card_numbers(f"card {PAN} ok") == "card ************1111 ok"
    assert R.scrub_card_numbers("4111 1111 1111 1111") == "**** **** **** 1111"
    assert R.scrub_card_numbers("5555-5555-5555-4444") == "****-****-****-4444"
    assert R.scrub_card_numbers("378282246310005") == "***********0005"  # Amex, 15 digits
    # Not card numbers: too short, fails Luhn, a date, a terminal id.
    for text in ("REF 123456789012", "4111111111111112", "2026-05-09 14:03", "TID 12345678"):
        assert R.scrub_card_numbers(text) == text


# -- Kinetic print instructions ----------------------------------------------------------------


def test_kinetic_instructions_are_read_tolerantly() -> None:
    ops = R.parse_print_instructions(
        [
            {"command": "scroll", "amount": "100"},  # leading paper feed: dropped
            {"command": "text", "text": "LOW", "x": "32", "y": "90", "font_size": "24"},
            {"command": "TEXT", "text": "HIGH", "x": 0, "y": 60},
            "not an instruction",
            {"text": "no command"},
            {"command": "text", "x": 0, "y": 0},  # no text
            {"command": "image", "data": "iVBOR..."},  # unknown: skipped
            {"command": "scroll", "mount": 40},  # the doc's misspelling
            {
                "command": "text",
                "text": "NEXT",
                "x": -5,
                "y": -9,
                "font_size": 2,
                "reverse": "true",
                "underline": True,
                "line_width": "20",
                "family": "Courier New",
            },
            {"command": "scroll", "amount": "lots"},
            {"command": "flush"},
            {"command": "text", "text": "LAST", "x": 10**9, "y": True},
            {"command": "scroll", "amount": 500},  # trailing paper feed: dropped
        ]
    )
    texts = [op for op in ops if isinstance(op, R.PrintedText)]
    assert [t.text for t in texts] == ["LOW", "HIGH", "NEXT", "LAST"]
    low, high, nxt, last = texts
    assert (low.x, low.y, low.size) == (32, 30, 24)  # the buffer's top white space is lifted
    assert (high.x, high.y, high.size) == (0, 0, 24)  # default size
    assert (nxt.x, nxt.y, nxt.size) == (0, 0, 14)  # clamped
    assert nxt.reverse
    assert nxt.underline
    assert nxt.role == "mono"
    assert nxt.rule_dots == 4
    assert (last.x, last.y) == (4000, 0)
    assert R.PrintedFeed(40) in ops
    assert R.PrintedFlush() in ops
    assert not isinstance(ops[0], R.PrintedFeed | R.PrintedFlush)
    assert not isinstance(ops[-1], R.PrintedFeed | R.PrintedFlush)
    # Within a buffer, lower y prints first (doc), whatever the order they came in.
    lines = R.Slip("t", (R.PrintoutBlock(ops),)).text_lines()
    assert lines == ("HIGH", "LOW", "NEXT", "LAST")


def test_kinetic_fixture_receipts_render_into_the_receipt() -> None:
    for name in ("receipt_cardholder.json", "receipt_merchant.json", "receipt_reconciliation.json"):
        data = loads_json((FIXTURES / name).read_text())
        items = data["receipt"] if isinstance(data, Mapping) else data
        card = R.CardPayment(eur(1250), "VISA", "1111", print_instructions=tuple(items))
        slip = R.compose_receipt(receipt(card=card))
        assert "Hello, world!" in slip.text_lines(), name


def test_kinetic_scroll_leaves_white_space_and_flush_does_not(tmp_path: Path) -> None:
    def gap(between: dict[str, object]) -> int:
        ops = R.parse_print_instructions(
            [
                {"command": "text", "text": "AAAA", "x": 0, "y": 0, "font_size": 24},
                between,
                {"command": "text", "text": "BBBB", "x": 0, "y": 0, "font_size": 24},
            ]
        )
        image = R.render_image(R.Slip("t", (R.PrintoutBlock(ops),)))
        rows = ink_rows(image)
        jumps = [b - a for a, b in itertools.pairwise(rows) if b - a > 1]
        assert len(jumps) == 1
        return jumps[0]

    flushed = gap({"command": "flush"})
    scrolled = gap({"command": "scroll", "amount": "100"})
    assert scrolled - flushed == 100


def test_kinetic_text_draws_reverse_underline_and_fits_the_line() -> None:
    plain = R.render_image(
        R.Slip(
            "t",
            (
                R.PrintoutBlock(
                    R.parse_print_instructions(
                        [{"command": "text", "text": "MERCHANT COPY", "x": 0, "y": 0}]
                    )
                ),
            ),
        )
    )
    reverse = R.render_image(
        R.Slip(
            "t",
            (
                R.PrintoutBlock(
                    R.parse_print_instructions(
                        [
                            {
                                "command": "text",
                                "text": "MERCHANT COPY",
                                "x": 0,
                                "y": 0,
                                "reverse": True,
                            }
                        ]
                    )
                ),
            ),
        )
    )
    assert ink_count(reverse) > 3 * ink_count(plain)
    # Text running past our 576 dots is scaled down to fit, not cut off.
    wide = R.parse_print_instructions(
        [{"command": "text", "text": "W" * 40, "x": 300, "y": 0, "font_size": 30}]
    )
    image = R.render_image(R.Slip("t", (R.PrintoutBlock(wide),)))
    box = ink_box(image)
    assert box is not None
    assert 100 < box[0] < 200  # x=300 scaled by 576/extent
    assert 560 < box[2] <= 576  # the last W is on the paper


# -- fonts and Japanese ---------------------------------------------------------------------------

# Japanese fonts the kiosk's Debian package depends on (or may): when one is on disk,
# the receipts must find it and print real glyphs.
CJK_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/ipafont-gothic/ipagp.ttf",
)
needs_cjk_font = pytest.mark.skipif(
    not any(Path(path).exists() for path in CJK_FONTS),
    reason="no Japanese font: apt-get install fonts-noto-cjk",
)


def glyph_image(fonts: R.FontSet, role: R.Role, char: str) -> Image.Image:
    image = R.render_image(R.Slip("t", (R.TextBlock(char * 3, R.TITLE, role),)), fonts=fonts)
    box = ink_box(image)
    assert box is not None
    return image.crop(box)


@needs_cjk_font
@pytest.mark.parametrize("role", ["regular", "bold", "mono"])
def test_japanese_prints_real_glyphs_not_boxes(role: R.Role) -> None:
    fonts = R.FontSet()
    box = glyph_image(fonts, role, "\U0010fffd")  # no font has it: the notdef box
    for char in "日本語カード円":
        image = glyph_image(fonts, role, char)
        assert image.tobytes() != box.tobytes(), char
    for language_label in LABELS["ja"].values():
        for char in language_label:
            if not char.isspace():
                assert fonts.has_glyph(role, char), (role, char)
    assert fonts.warnings == []


def test_without_fonts_slips_still_print_with_a_warning(
    caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    fonts = R.FontSet({"regular": (R.FontFace(str(tmp_path / "missing.ttf")),)})
    with caplog.at_level(logging.WARNING, logger="kioskapp.core.receipts"):
        pdf = R.render_pdf(R.compose_receipt(receipt("ja")), fonts=fonts)
    assert pdf.startswith(b"%PDF-")
    assert any("built-in font" in message for message in fonts.warnings)
    assert "built-in font" in caplog.text
    image = R.render_image(R.compose_receipt(receipt()), fonts=fonts)
    assert ink_count(image) > 5000


def test_a_broken_font_file_is_skipped(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "broken.ttf"
    broken.write_bytes(b"not a font")
    fonts = R.FontSet({"regular": (R.FontFace(str(broken)), *R.DEFAULT_FONT_CANDIDATES["regular"])})
    with caplog.at_level(logging.WARNING, logger="kioskapp.core.receipts"):
        image = R.render_image(R.compose_receipt(receipt()), fonts=fonts)
    assert "cannot use font" in caplog.text
    assert ink_count(image) > 5000


# -- layout ---------------------------------------------------------------------------------------


def test_long_names_wrap_inside_the_line_and_amounts_stay_right() -> None:
    name = "Extremely long product name that cannot possibly fit on one line of the receipt"
    ja = "ギフト包装・メッセージカード付き特別セット・キャッシュバックカードゴールド"
    blob = "X" * 120  # no place to break: cut
    for text in (name, ja, blob):
        slip = R.Slip("t", (R.RowBlock(text, "€1,000.00"),))
        image = R.render_image(slip)
        box = ink_box(image)
        assert box is not None
        assert box[2] <= 576
        assert image.height > 3 * R.BODY  # wrapped onto several lines
    fonts = R.default_fonts()
    canvas = R._Canvas(fonts, 576)
    lines = canvas.wrap("regular", R.BODY, ja, 300)
    assert "".join(lines) == ja
    assert all(canvas.measure("regular", R.BODY, line) <= 300 for line in lines)
    assert not any(line.startswith(("・", "ー")) for line in lines[1:])


def test_rendering_from_two_threads_gives_the_same_pdf() -> None:
    results: list[bytes] = []

    def work() -> None:
        results.append(R.render_receipt(receipt("ja")))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 4
    assert len(set(results)) == 1


def test_two_open_font_faces_draw_every_slip_as_all_faces_open_would() -> None:
    """A FreeType face per file and size costs ~2 MB (Noto CJK): only a few stay open,
    and the slips come out byte for byte as when every face stays open."""
    every_face_open = R.FontSet()
    every_face_open._open.limit = 1000
    few = R.FontSet()
    makers = (receipt, voucher, incident, cash_collection, end_of_day)
    for language in LANGUAGES:
        for make in makers:
            slip = R.compose(make(language))
            assert R.render_pdf(slip, fonts=few) == R.render_pdf(slip, fonts=every_face_open)
            assert len(few._open) <= R._OPEN_FONTS_LIMIT
    # the same faces were needed; with few open, some were opened again
    assert few._open.opened > every_face_open._open.opened
    assert len(every_face_open._open) > R._OPEN_FONTS_LIMIT


def test_warm_up_draws_the_common_glyphs_so_a_receipt_needs_no_new_face() -> None:
    fonts = R.FontSet()
    R.warm_up(fonts)
    opened = fonts._open.opened
    assert len(fonts._open) <= R._OPEN_FONTS_LIMIT
    plain = receipt("en", card=None)  # Latin text only (no terminal receipt)
    R.render_receipt(plain, fonts=fonts)
    assert fonts._open.opened == opened


# -- labels -----------------------------------------------------------------------------------------


def test_every_label_exists_in_every_language_with_the_same_placeholders() -> None:
    keys = set(LABELS["en"])
    for language in LANGUAGES:
        assert set(LABELS[language]) == keys, language
        for key in keys:
            text = LABELS[language][key]
            assert text.strip(), (language, key)
            assert placeholders(text) == placeholders(LABELS["en"][key]), (language, key)
            values = dict.fromkeys(placeholders(text), "X")
            assert "{" not in label(language, key, **values)


def test_every_label_the_slips_use_exists() -> None:
    source = (Path(R.__file__)).read_text()
    used = set(re.findall(r'label\(\s*lang,\s*"([a-z_]+)"', source))
    assert used, "no labels found"
    assert used <= set(LABELS["en"])
    assert {f"method_{m}" for m in ("cash", "card", "cashback")} <= set(LABELS["en"])


def test_money_is_formatted_exactly_in_each_language() -> None:
    assert format_money(eur(1250), "en") == "€12.50"
    assert format_money(eur(1250), "es") == "12,50 €"
    assert format_money(eur(1250), "fr") == "12,50 €"
    assert format_money(eur(-250), "en") == "-€2.50"
    assert format_money(eur(-250), "fr") == "-2,50 €"
    assert format_money(eur(123456789), "en") == "€1,234,567.89"
    assert format_money(eur(123456), "es") == "1234,56 €"  # Spanish groups from 5 digits
    assert format_money(eur(1234567), "es") == "12.345,67 €"
    assert format_money(eur(123456), "fr") == "1\u202f234,56 €"
    assert format_money(Money(1000, "JPY"), "ja") == "¥1,000"
    assert format_money(Money(1000, "JPY"), "en") == "¥1,000"
    assert format_money(Money(1250, "CHF"), "en") == "12.50 CHF"
    assert format_money(Money(1, "KWD"), "en") == "0.001 KWD"


def test_dates_are_formatted_per_language() -> None:
    assert format_datetime(datetime(2026, 1, 2, 3, 4), "en") == "2026-01-02 03:04"
    assert format_datetime(datetime(2026, 1, 2, 3, 4), "fr") == "02/01/2026 03:04"
    assert format_date(date(2026, 1, 2), "ja") == "2026年01月02日"
