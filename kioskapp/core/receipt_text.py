"""The printed slips' words and number formats in the kiosk's four languages.

Every label a slip prints is looked up here by key, in the slip's language
(``en``, ``es``, ``fr``, ``ja``); a test checks that each key exists in every
language with the same ``{placeholders}``. Amounts are formatted from
:meth:`Money.format_plain` (exact, never a float) with the language's decimal
and grouping separators and the currency's symbol (or its ISO code when it has
no well-known symbol).

These are printed-paper strings, not Qt UI strings: the core cannot import
Qt, and a receipt must print identically whether or not a UI is running.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Final, Literal

from kioskapp.core.money import Money

__all__ = [
    "CURRENCY_SYMBOLS",
    "LABELS",
    "LANGUAGES",
    "NUMBER_FORMATS",
    "Language",
    "NumberFormat",
    "format_date",
    "format_datetime",
    "format_money",
    "label",
    "placeholders",
    "resolve_language",
]

Language = Literal["en", "es", "fr", "ja"]
LANGUAGES: Final[tuple[Language, ...]] = ("en", "es", "fr", "ja")

# Symbols printed instead of the ISO code. Every one is in both fonts the
# receipts use (Noto Sans CJK and DejaVu Sans); other currencies print their code.
CURRENCY_SYMBOLS: Final[Mapping[str, str]] = MappingProxyType(
    {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}
)


@dataclass(frozen=True)
class NumberFormat:
    """How one language writes an amount.

    ``pattern`` places the sign-less amount and the currency symbol; a minus
    sign goes in front of the whole. ``group_from`` is the smallest number of
    integer digits that gets grouping separators (Spanish does not group
    four-digit numbers).
    """

    decimal: str
    group: str
    group_from: int
    pattern: str  # with {amount} and {symbol}


NUMBER_FORMATS: Final[Mapping[Language, NumberFormat]] = MappingProxyType(
    {
        "en": NumberFormat(".", ",", 4, "{symbol}{amount}"),
        "es": NumberFormat(",", ".", 5, "{amount} {symbol}"),
        "fr": NumberFormat(",", "\u202f", 4, "{amount} {symbol}"),  # narrow no-break space
        "ja": NumberFormat(".", ",", 4, "{symbol}{amount}"),
    }
)

_EN: Final[dict[str, str]] = {
    # dates: {year} {month} {day} are zero-padded numbers; {date} {hour} {minute}
    "date_format": "{year}-{month}-{day}",
    "datetime_format": "{date} {hour}:{minute}",
    # every slip
    "date": "Date",
    "kiosk": "Kiosk",
    "sale": "Sale",
    # receipt
    "receipt_title": "Receipt",
    "item_quantity": "{quantity} × {unit_price}",
    "total": "TOTAL",
    "payments": "Payment",
    "cash": "Cash",
    "note_count": "{count} × {value}",
    "card": "Card",
    "auth_code": "Auth code {code}",
    "terminal_receipt": "Card terminal receipt",
    "cashback_balance": "New balance",
    "cashback_card": "Your cashback card",
    "sale_reference": "Sale reference",
    "keep_receipt": "Please keep this receipt.",
    "thank_you": "Thank you!",
    # refund voucher
    "voucher_title": "REFUND VOUCHER",
    "voucher_code": "Voucher code",
    "amount": "Amount",
    "reason": "Reason",
    "how_to_redeem": "How to redeem",
    "redeem_default": "Show this voucher to our staff or scan it at the kiosk to get "
    "your money back.",
    "valid_until": "Valid until {date}",
    # incident
    "incident_title": "INCIDENT",
    "incident": "Incident",
    "what_happened": "What happened",
    "what_to_do": "What to do",
    "keep_slip": "Keep this slip: our staff need it to help you.",
    # cash collection
    "collection_title": "CASH COLLECTION",
    "since": "Since",
    "collected_at": "Collected",
    "collected_by": "Collected by",
    "notes": "Notes",
    "notes_count": "{count} notes",
    "signature": "Signature",
    # end of day
    "end_of_day_title": "END OF DAY",
    "business_day": "Business day",
    "printed_at": "Printed",
    "by_method": "Payments by method",
    "method_cash": "Cash",
    "method_card": "Card",
    "method_cashback": "Cashback",
    "with_count": "{label} ({count})",
    "sales": "Sales",
    "sales_completed": "Completed",
    "sales_cancelled": "Cancelled",
    "sales_flagged": "Flagged for staff",
    "refunds": "Refunds",
    "vouchers_issued": "Refund vouchers",
    "card_refunds": "Card refunds",
    "reconciliation": "Card terminal reconciliation",
}

_ES: Final[dict[str, str]] = {
    "date_format": "{day}/{month}/{year}",
    "datetime_format": "{date} {hour}:{minute}",
    "date": "Fecha",
    "kiosk": "Quiosco",
    "sale": "Venta",
    "receipt_title": "Recibo",
    "item_quantity": "{quantity} × {unit_price}",
    "total": "TOTAL",
    "payments": "Pago",
    "cash": "Efectivo",
    "note_count": "{count} × {value}",
    "card": "Tarjeta",
    "auth_code": "Autorización {code}",
    "terminal_receipt": "Comprobante del datáfono",
    "cashback_balance": "Nuevo saldo",
    "cashback_card": "Tu tarjeta cashback",
    "sale_reference": "Referencia de la venta",
    "keep_receipt": "Conserva este recibo.",
    "thank_you": "¡Gracias!",
    "voucher_title": "VALE DE REEMBOLSO",
    "voucher_code": "Código del vale",
    "amount": "Importe",
    "reason": "Motivo",
    "how_to_redeem": "Cómo canjearlo",
    "redeem_default": "Muestra este vale a nuestro personal o escanéalo en el quiosco "
    "para recuperar tu dinero.",
    "valid_until": "Válido hasta el {date}",
    "incident_title": "INCIDENCIA",
    "incident": "Incidencia",
    "what_happened": "Qué ha pasado",
    "what_to_do": "Qué hacer",
    "keep_slip": "Conserva este justificante: nuestro personal lo necesita para ayudarte.",
    "collection_title": "RETIRADA DE EFECTIVO",
    "since": "Desde",
    "collected_at": "Retirada",
    "collected_by": "Retirado por",
    "notes": "Billetes",
    "notes_count": "{count} billetes",
    "signature": "Firma",
    "end_of_day_title": "CIERRE DEL DÍA",
    "business_day": "Día",
    "printed_at": "Impreso",
    "by_method": "Cobros por medio de pago",
    "method_cash": "Efectivo",
    "method_card": "Tarjeta",
    "method_cashback": "Cashback",
    "with_count": "{label} ({count})",
    "sales": "Ventas",
    "sales_completed": "Completadas",
    "sales_cancelled": "Canceladas",
    "sales_flagged": "Pendientes de revisión",
    "refunds": "Devoluciones",
    "vouchers_issued": "Vales de reembolso",
    "card_refunds": "Devoluciones con tarjeta",
    "reconciliation": "Cierre del datáfono",
}

_FR: Final[dict[str, str]] = {
    "date_format": "{day}/{month}/{year}",
    "datetime_format": "{date} {hour}:{minute}",
    "date": "Date",
    "kiosk": "Borne",
    "sale": "Vente",
    "receipt_title": "Ticket",
    "item_quantity": "{quantity} × {unit_price}",
    "total": "TOTAL",
    "payments": "Paiement",
    "cash": "Espèces",
    "note_count": "{count} × {value}",
    "card": "Carte",
    "auth_code": "Autorisation {code}",
    "terminal_receipt": "Ticket du terminal de paiement",
    "cashback_balance": "Nouveau solde",
    "cashback_card": "Votre carte cashback",
    "sale_reference": "Référence de la vente",
    "keep_receipt": "Merci de conserver ce ticket.",
    "thank_you": "Merci !",
    "voucher_title": "BON DE REMBOURSEMENT",
    "voucher_code": "Code du bon",
    "amount": "Montant",
    "reason": "Motif",
    "how_to_redeem": "Comment l’utiliser",
    "redeem_default": "Présentez ce bon à notre personnel ou scannez-le à la borne pour "
    "être remboursé.",
    "valid_until": "Valable jusqu’au {date}",
    "incident_title": "INCIDENT",
    "incident": "Incident",
    "what_happened": "Ce qui s’est passé",
    "what_to_do": "Que faire",
    "keep_slip": "Gardez ce ticket : notre personnel en a besoin pour vous aider.",
    "collection_title": "COLLECTE DES ESPÈCES",
    "since": "Depuis",
    "collected_at": "Collecte",
    "collected_by": "Collecté par",
    "notes": "Billets",
    "notes_count": "{count} billets",
    "signature": "Signature",
    "end_of_day_title": "CLÔTURE DU JOUR",
    "business_day": "Journée",
    "printed_at": "Imprimé",
    "by_method": "Encaissements par moyen de paiement",
    "method_cash": "Espèces",
    "method_card": "Carte",
    "method_cashback": "Cashback",
    "with_count": "{label} ({count})",
    "sales": "Ventes",
    "sales_completed": "Terminées",
    "sales_cancelled": "Annulées",
    "sales_flagged": "À vérifier par le personnel",
    "refunds": "Remboursements",
    "vouchers_issued": "Bons de remboursement",
    "card_refunds": "Remboursements carte",
    "reconciliation": "Télécollecte du terminal de paiement",
}

_JA: Final[dict[str, str]] = {
    "date_format": "{year}年{month}月{day}日",
    "datetime_format": "{date} {hour}:{minute}",
    "date": "日時",
    "kiosk": "端末",
    "sale": "取引番号",
    "receipt_title": "レシート",
    "item_quantity": "{quantity} × {unit_price}",
    "total": "合計",
    "payments": "お支払い",
    "cash": "現金",
    "note_count": "{count} × {value}",
    "card": "カード",
    "auth_code": "承認番号 {code}",
    "terminal_receipt": "カード端末控え",
    "cashback_balance": "ご利用後残高",
    "cashback_card": "キャッシュバックカード",
    "sale_reference": "取引番号",
    "keep_receipt": "このレシートは大切に保管してください。",
    "thank_you": "ありがとうございました",
    "voucher_title": "返金引換券",
    "voucher_code": "引換番号",
    "amount": "金額",
    "reason": "理由",
    "how_to_redeem": "ご利用方法",
    "redeem_default": "この引換券を係員にお見せいただくか、端末で読み取ってください。"
    "返金いたします。",
    "valid_until": "有効期限 {date}",
    "incident_title": "障害受付票",
    "incident": "受付番号",
    "what_happened": "発生した内容",
    "what_to_do": "お客様へのお願い",
    "keep_slip": "この控えは係員が対応する際に必要です。大切に保管してください。",
    "collection_title": "現金回収",
    "since": "前回回収",
    "collected_at": "回収日時",
    "collected_by": "回収者",
    "notes": "紙幣",
    "notes_count": "{count}枚",
    "signature": "署名",
    "end_of_day_title": "日次締め",
    "business_day": "営業日",
    "printed_at": "印刷日時",
    "by_method": "支払方法別",
    "method_cash": "現金",
    "method_card": "カード",
    "method_cashback": "キャッシュバック",
    "with_count": "{label}（{count}件）",
    "sales": "取引",
    "sales_completed": "完了",
    "sales_cancelled": "取消",
    "sales_flagged": "要確認",
    "refunds": "返金",
    "vouchers_issued": "返金引換券",
    "card_refunds": "カード返金",
    "reconciliation": "カード端末日計",
}

LABELS: Final[Mapping[Language, Mapping[str, str]]] = MappingProxyType(
    {
        "en": MappingProxyType(_EN),
        "es": MappingProxyType(_ES),
        "fr": MappingProxyType(_FR),
        "ja": MappingProxyType(_JA),
    }
)


def resolve_language(language: str) -> Language:
    """``language`` if the slips speak it, else English (a slip always prints)."""
    for known in LANGUAGES:
        if language == known:
            return known
    return "en"


def label(language: str, key: str, **values: object) -> str:
    """The label ``key`` in ``language`` (English if missing), formatted with ``values``.

    An unknown key is a programming error (KeyError); a label in another
    language than English is never missing (the label test checks it).
    """
    table = LABELS[resolve_language(language)]
    text = table.get(key)
    if text is None:
        text = LABELS["en"][key]
    return text.format(**values) if values else text


def placeholders(text: str) -> frozenset[str]:
    """The ``{names}`` a label expects."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name is not None)


def _group(digits: str, separator: str, group_from: int) -> str:
    if len(digits) < group_from:
        return digits
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(parts)


def format_money(amount: Money, language: str) -> str:
    """``€12.50`` (en), ``12,50 €`` (es, fr), ``¥1,000`` (ja), ``12.50 CHF`` (no symbol).

    Built from :meth:`Money.format_plain`: exact digits, never a float.
    """
    fmt = NUMBER_FORMATS[resolve_language(language)]
    plain = amount.format_plain()
    negative = plain.startswith("-")
    whole, _, fraction = plain.lstrip("-").partition(".")
    number = _group(whole, fmt.group, fmt.group_from)
    if fraction:
        number = f"{number}{fmt.decimal}{fraction}"
    symbol = CURRENCY_SYMBOLS.get(amount.currency)
    text = (
        f"{number} {amount.currency}"
        if symbol is None
        else fmt.pattern.format(amount=number, symbol=symbol)
    )
    return f"-{text}" if negative else text


def format_date(day: date, language: str) -> str:
    """``2026-05-09`` (en), ``09/05/2026`` (es, fr), ``2026年05月09日`` (ja)."""
    return label(
        language,
        "date_format",
        year=f"{day.year:04d}",
        month=f"{day.month:02d}",
        day=f"{day.day:02d}",
    )


def format_datetime(moment: datetime, language: str) -> str:
    """The date as :func:`format_date` plus ``HH:MM`` (the kiosk's local time as given)."""
    return label(
        language,
        "datetime_format",
        date=format_date(moment.date(), language),
        hour=f"{moment.hour:02d}",
        minute=f"{moment.minute:02d}",
    )
