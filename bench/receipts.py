"""Receipt rendering speed and PDF size.

Renders a typical receipt (3 items, cash + card with the Kinetic terminal's
cardholder receipt as print instructions, a cashback movement, the dispensed
card, the QR code of the sale id) N times, each with a new sale id, time and
amounts as in real use, after one warm-up render (fonts opened, common glyphs
cached, as `receipts.warm_up()` does at start-up). Prints:

    BENCH receipt_render_ms <median>
    BENCH receipt_pdf_kb <size>

Target: median <= 20 ms.

    .venv/bin/python bench/receipts.py [--count 200] [--language en] [--out receipt.pdf]

`--samples DIR` also writes the README's sample slips (an English receipt, a
refund voucher, a Japanese receipt in yen) as PNGs, read back from the PDFs
with poppler's pdftoppm at the printer's 8 dots/mm.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

from PIL import Image

from kioskapp.core.money import Money
from kioskapp.core.receipts import (
    CardPayment,
    CashbackMovement,
    CashPayment,
    Merchant,
    NoteCount,
    Receipt,
    ReceiptItem,
    RefundVoucher,
    render_receipt,
    render_voucher,
    warm_up,
)

NAMES = {
    "en": ("Cashback card", "Gift wrap", "Top-up"),
    "es": ("Tarjeta cashback", "Envoltorio regalo", "Recarga"),
    "fr": ("Carte cashback", "Papier cadeau", "Recharge"),
    "ja": ("キャッシュバックカード", "ギフト包装", "チャージ"),
}


def kinetic_cardholder_receipt(amount: Money, auth_code: str) -> tuple[dict[str, object], ...]:
    """What the Kinetic simulator returns as the cardholder copy (doc quirks included)."""
    rows: list[tuple[str, str | None]] = [
        ("Kinetic Go 2", None),
        ("TID 12345678", "MID 000123456789"),
        ("SALE", None),
        ("VISA CONTACTLESS", None),
        ("************1111", None),
        ("AMOUNT", f"EUR {amount.format_plain()}"),
        ("AUTH CODE", auth_code),
        ("APPROVED", None),
        ("CARDHOLDER COPY", None),
        ("PLEASE RETAIN FOR YOUR RECORDS", None),
    ]
    out: list[dict[str, object]] = [{"command": "scroll", "amount": "100"}]
    for i, (left, right) in enumerate(rows):
        y = 32 + i * 30
        out.append({"command": "text", "text": left, "x": 0, "y": y, "font_size": 24})
        if right is not None:
            out.append({"command": "text", "text": right, "x": 250, "y": y, "font_size": 24})
    out.append({"command": "flush"})
    return tuple(out)


def typical_receipt(i: int, language: str = "en") -> Receipt:
    eur = "EUR"
    card_price = Money(1000 + (i % 7) * 50, eur)
    items = (
        ReceiptItem.of(NAMES[language][0], 1, card_price),
        ReceiptItem.of(NAMES[language][1], 2, Money(250, eur)),
        ReceiptItem.of(NAMES[language][2], 1, Money(2000, eur)),
    )
    total = items[0].total + items[1].total + items[2].total
    cashback = Money(250, eur)
    cash = Money(2000, eur)
    card_amount = total - cashback - cash
    auth = f"{(123457 + i * 7919) % 1000000:06d}"
    return Receipt(
        merchant=Merchant("kioskapp demo shop", ("Calle Mayor 1, 28013 Madrid", "NIF B12345678")),
        kiosk_id="KIOSK-0042",
        sale_id=str(
            uuid.UUID(int=(i + 1) * 0x9E3779B97F4A7C15F39CC0605CEDC835 % 2**128, version=4)
        ),
        at=datetime(2026, 5, 9, 14, 3) + timedelta(minutes=i),
        language=language,
        items=items,
        total=total,
        cash=CashPayment((NoteCount(Money(1000, eur), 1), NoteCount(Money(500, eur), 2)), cash),
        card=CardPayment(
            amount=card_amount,
            brand="VISA",
            last4="1111",
            auth_code=auth,
            print_instructions=kinetic_cardholder_receipt(card_amount, auth),
        ),
        cashback=CashbackMovement("Cashback", -cashback, Money(404, eur)),
        cashback_card_number="CB7700012345",
    )


def japanese_receipt() -> Receipt:
    yen = "JPY"
    return Receipt(
        merchant=Merchant("キオスク・デモ店", ("東京都千代田区丸の内1-1-1", "TEL 03-1234-5678")),
        kiosk_id="KIOSK-0042",
        sale_id="5f0c2f4e-3d1b-4c55-9a57-0f7b1b7a9e21",
        at=datetime(2026, 5, 9, 14, 3),
        language="ja",
        items=(
            ReceiptItem.of("キャッシュバックカード（ゴールド）", 1, Money(3000, yen)),
            ReceiptItem.of("ギフト包装・メッセージカード付き", 2, Money(500, yen)),
            ReceiptItem.of("チャージ", 1, Money(10000, yen)),
        ),
        total=Money(14000, yen),
        cash=CashPayment((NoteCount(Money(10000, yen), 1),), Money(10000, yen)),
        card=CardPayment(
            amount=Money(3500, yen),
            brand="JCB",
            last4="0000",
            auth_code="A1B2C3",
            receipt_lines=(
                "KOMOJU Cloud Terminal",
                "ご利用日時 2026/05/09 14:03",
                "カード番号 ************0000",
                "金額                ¥3,500",
                "承認番号            A1B2C3",
                "お客様控え",
            ),
        ),
        cashback=CashbackMovement("キャッシュバック", Money(-500, yen), Money(1200, yen)),
        cashback_card_number="CB-7700-0123-4567",
        footer_lines=("またのご利用をお待ちしております",),
    )


def refund_voucher() -> RefundVoucher:
    return RefundVoucher(
        merchant=Merchant("kioskapp demo shop", ("Calle Mayor 1, 28013 Madrid", "NIF B12345678")),
        kiosk_id="KIOSK-0042",
        at=datetime(2026, 5, 9, 14, 3),
        language="en",
        voucher_code="V7K3-M9QX-2B4D",
        sale_id="8ef454b3-0317-4973-863a-ae8fdc836304",
        amount=Money(2000, "EUR"),
        reason="The card dispenser failed after your notes were stacked; "
        "they cannot be handed back.",
        valid_until=date(2026, 8, 9),
    )


def write_samples(directory: Path) -> None:
    if shutil.which("pdftoppm") is None:
        raise SystemExit("--samples needs pdftoppm (apt-get install poppler-utils)")
    directory.mkdir(parents=True, exist_ok=True)
    samples = {
        "receipt_en": render_receipt(typical_receipt(0, "en")),
        "voucher_en": render_voucher(refund_voucher()),
        "receipt_ja": render_receipt(japanese_receipt()),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, pdf in samples.items():
            source = Path(tmp) / f"{name}.pdf"
            source.write_bytes(pdf)
            subprocess.run(
                ["pdftoppm", "-png", "-r", "203.2", "-singlefile", str(source), f"{tmp}/{name}"],
                check=True,
            )
            with Image.open(f"{tmp}/{name}.png") as page:
                page.convert("1", dither=Image.Dither.NONE).save(
                    directory / f"{name}.png", optimize=True
                )
            print(f"wrote {directory / name}.png")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--language", choices=sorted(NAMES), default="en")
    parser.add_argument("--out", type=Path, help="also write the last PDF here")
    parser.add_argument("--samples", type=Path, help="write the README's sample PNGs here")
    args = parser.parse_args()
    if args.samples is not None:
        write_samples(args.samples)

    warm_up()
    pdf = render_receipt(typical_receipt(0, args.language))  # the first render of a process
    samples: list[float] = []
    for i in range(1, args.count + 1):
        receipt = typical_receipt(i, args.language)
        start = time.perf_counter()
        pdf = render_receipt(receipt)
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    if args.out is not None:
        args.out.write_bytes(pdf)
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    print(
        f"receipts {len(samples)} min {samples[0]:.2f} ms p95 {p95:.2f} ms max {samples[-1]:.2f} ms"
    )
    print(f"BENCH receipt_render_ms {statistics.median(samples):.2f}")
    print(f"BENCH receipt_pdf_kb {len(pdf) / 1024:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
