"""The Kinetic client's parsers on the payloads the vendor documents.

tests/fixtures/kinetic/ holds the seed's response bodies (device, ping,
settings, transactions, screen, print, the three receipts, a text
instruction) copied as they are written, minus the ``//`` comments JSON
cannot carry. The seed gives the transaction document only as a schema (type
names as values): ``transaction_schema.json`` is that schema made valid JSON,
and the ``transaction_*.json`` files are instances of it (every documented
field, plus ``success: "true"`` and unknown extra fields where named).
``error_in_progress.json`` is our assumed error shape (see kioskapp/devices/kinetic.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kioskapp.core.money import Money, loads_json
from kioskapp.devices.errors import AuthError, ProtocolError, ServerError
from kioskapp.devices.kinetic import (
    DeviceInfo,
    DuplicateTransaction,
    NoActiveTransaction,
    PrinterUnavailable,
    PrintFlush,
    PrintOther,
    PrintScroll,
    PrintText,
    Receipt,
    ReceiptNotAvailable,
    Screen,
    TerminalSettings,
    Transaction,
    TransactionInProgress,
    TransactionNotFound,
    TransactionNotReversible,
    api_error,
    brand_of,
    last4_of,
    parse_answer,
    parse_instruction,
    parse_transaction_list,
    receipt_lines,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "kinetic"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def answer(name: str, path: str = "/x.json") -> Any:
    """A fixture through the same answer check the client applies (HTTP 200)."""
    return parse_answer(200, raw(name), what=name, path=path)


def test_device() -> None:
    assert DeviceInfo.parse(answer("device.json")) == DeviceInfo(
        manufacturer="Device manufacturer name",
        family="Device hardware family",
        serial_number="Device serial number",
    )


def test_ping() -> None:
    assert answer("ping.json") == {"success": True, "ping": True}


def test_settings() -> None:
    settings = TerminalSettings.parse(answer("settings.json"))
    assert settings.host_module == "dummy"
    assert settings.terminal_id == "12345678"
    assert settings.merchant_id == "87654321"
    assert settings.raw["dummy"]["deferred_auth"] == {"enabled": False}


def test_screen_idle() -> None:
    screen = Screen.parse(answer("screen.json"))
    assert screen == Screen("app.views.layouts.idle", "Tap Green To Start\nDevice Name\n\n\n\n")
    assert screen.is_idle


def test_print_answer() -> None:
    assert answer("print_response.json") == {"success": True}


def test_transactions_list_as_documented() -> None:
    # The doc shows one bare object with the alternatives spelled into the values.
    (txn,) = parse_transaction_list(answer("transactions.json"), "EUR")
    assert txn.id == "transaction id"
    assert txn.amount == Money(100, "EUR")
    assert txn.result == "unknown"
    assert txn.raw_result == "approved|declined|cancelled|error"
    assert txn.type == "sale|refund|reversal|reconciliation"
    assert txn.card_last4 == "1111"
    assert txn.is_reversed is False
    assert txn.is_active is False  # it has a result
    assert (txn.started_at, txn.ended_at) == (1.0, 1.0)
    assert txn.host == "dummy"


def test_transactions_list_shapes() -> None:
    one = {"id": "a", "amount": 5, "result": "approved"}
    assert [
        t.id for t in parse_transaction_list({"success": True, "transactions": [one]}, "GBP")
    ] == ["a"]
    assert [t.id for t in parse_transaction_list([one, {**one, "id": "b"}], "GBP")] == ["a", "b"]
    assert parse_transaction_list({"success": True, "transactions": []}, "GBP") == ()
    with pytest.raises(ProtocolError):
        parse_transaction_list({"success": True, "transactions": {"id": "a"}}, "GBP")


def test_the_documented_schema_is_not_a_transaction() -> None:
    """The schema's type names are not values: a clear ProtocolError, never a crash."""
    with pytest.raises(ProtocolError, match=r"schema\.transaction: field .* should be"):
        Transaction.from_answer(answer("transaction_schema.json"), "EUR", what="schema")


def test_approved_sale() -> None:
    txn = Transaction.from_answer(answer("transaction_sale_approved.json"), "GBP", what="sale")
    assert txn.id == "6f1c8a52-3d5e-5b59-9c1e-1d2b9d3b7a10"
    assert txn.type == "sale"
    assert txn.amount == txn.total_amount == txn.taken == Money(1000, "GBP")
    assert txn.result == "approved"
    assert txn.is_active is False
    assert txn.stage == "finished"
    assert txn.is_reversed is False
    assert txn.auth_code == "A1B2C3"
    assert txn.card_last4 == "1111"
    assert txn.card_scheme == "visa-qvsdc"
    assert txn.card_brand == "visa"
    assert (txn.started_at, txn.ended_at, txn.duration_s) == (1700000000.0, 1700000014.0, 14.0)
    assert txn.timeout_ms == 150000
    assert txn.input_source == "contactless"
    assert txn.is_online is True
    assert txn.reference_number == "000123456789"
    assert txn.ran_out is False
    # Only the last 4 digits of the card survive parsing.
    assert "4***" not in repr(txn)
    assert "2512" not in repr(txn)


def test_in_progress_with_string_success_and_unknown_fields() -> None:
    data = answer("transaction_current_string_success.json", "/transactions/current.json")
    txn = Transaction.from_answer(data, "EUR", what="current")
    assert txn.is_active is True
    assert txn.result is None
    assert txn.stage == "waiting_card"
    assert txn.card_last4 is None
    assert txn.card_brand is None
    assert txn.amount == Money(1000, "EUR")


def test_a_cancel_that_lasted_the_timeout_ran_out() -> None:
    txn = Transaction.from_answer(answer("transaction_cancelled_timeout.json"), "EUR", what="t")
    assert txn.result == "cancelled"
    assert txn.ran_out is True
    quick = Transaction.parse(
        {"id": "x", "result": "cancelled", "is_active": False, "started_at": 10, "ended_at": 40},
        "EUR",
    )
    assert quick.ran_out is False  # pressed Cancel after 30 s
    said = Transaction.parse(
        {"id": "x", "result": "cancelled", "status_details": "timeout", "duration": 3}, "EUR"
    )
    assert said.ran_out is True


def test_reversal() -> None:
    txn = Transaction.from_answer(answer("transaction_reversal.json"), "EUR", what="reversal")
    assert txn.type == "reversal"
    assert txn.reference_txn_id == "6f1c8a52-3d5e-5b59-9c1e-1d2b9d3b7a10"
    assert txn.card_brand == "mastercard"
    assert txn.card_last4 == "4444"
    assert txn.auth_code is None


def test_receipt_merchant() -> None:
    receipt = Receipt.parse(answer("receipt_merchant.json"))
    assert receipt.instructions == (
        PrintScroll(100),
        PrintText("Hello, world!", x=32, y=32, font_size=12),
    )
    assert receipt.lines == ("Hello, world!",)


def test_receipt_cardholder_scroll_amount_as_a_string() -> None:
    receipt = Receipt.parse(answer("receipt_cardholder.json"))
    assert receipt.instructions[0] == PrintScroll(100)
    assert receipt.lines == ("Hello, world!",)


def test_receipt_reconciliation_with_the_docs_mount_spelling() -> None:
    receipt = Receipt.parse(answer("receipt_reconciliation.json"))
    assert receipt.instructions[0] == PrintScroll(100)
    # Sent back to print.json in the documented spelling.
    assert receipt.to_json()[0] == {"command": "scroll", "amount": 100}


def test_text_instruction_keeps_its_options() -> None:
    doc = loads_json(raw("print_text_instruction.json"))
    ins = parse_instruction(doc, what="doc")
    assert isinstance(ins, PrintText)
    assert (ins.text, ins.x, ins.y, ins.font_size) == ("Hello, world!", 100, 100, 24)
    assert ins.options["family"] == "Arial"
    assert ins.to_json() == doc


def test_unknown_and_flush_instructions() -> None:
    image = {"command": "image", "data": "iVBOR...", "x": 0, "y": 0}
    assert parse_instruction(image, what="i") == PrintOther("image", image)
    assert parse_instruction(image, what="i").to_json() == image
    assert parse_instruction({"command": "flush"}, what="f") == PrintFlush()
    with pytest.raises(ProtocolError):
        parse_instruction({"command": "scroll"}, what="s")
    with pytest.raises(ProtocolError):
        parse_instruction({"text": "no command"}, what="t")
    with pytest.raises(ProtocolError):
        Receipt.parse({"success": True, "receipt": {"command": "flush"}})


def test_receipt_lines_follow_print_order() -> None:
    lines = receipt_lines(
        [
            PrintText("TOTAL", x=0, y=60),
            PrintText("EUR 10.00", x=250, y=60),
            PrintText("SHOP", x=0, y=0),
            PrintScroll(50),
            PrintText("THANK YOU\nBYE", x=0, y=0),
            PrintFlush(),
            PrintScroll(100),
        ]
    )
    assert lines == ("SHOP", "TOTAL  EUR 10.00", "", "THANK YOU", "BYE")


def test_card_helpers() -> None:
    assert last4_of("4***********1111") == "1111"
    assert last4_of("***") is None
    assert last4_of(None) is None
    assert brand_of("paypass-magstripe") == "mastercard"
    assert brand_of("amex-emv") == "amex"
    assert brand_of("cup-qpboc") == "unionpay"
    assert brand_of("unknown (1f)") is None


@pytest.mark.parametrize(
    ("status", "body", "path", "kind"),
    [
        (409, {"success": False, "error": "Transaction in progress"}, "/transactions/sale.json",
         TransactionInProgress),
        (400, {"success": False, "error": "Transaction in progress"}, "/transactions/sale.json",
         TransactionInProgress),
        (404, {"success": False, "error": "No transaction in progress"},
         "/transactions/current.json", NoActiveTransaction),
        (400, {"success": False, "error": "Nothing"}, "/transactions/current.json",
         NoActiveTransaction),
        (404, {"success": False, "error": "Transaction not found"}, "/transactions/x.json",
         TransactionNotFound),
        (404, None, "/transactions/x.json", TransactionNotFound),
        (409, {"success": False, "error": "Transaction id already exists"},
         "/transactions/sale.json", DuplicateTransaction),
        (400, {"success": False, "error": "Transaction already reversed"},
         "/transactions/reversal.json", TransactionNotReversible),
        (400, {"success": False, "error": "No cardholder receipt for a reconciliation"},
         "/transactions/x/receipts/cardholder.json", ReceiptNotAvailable),
        (400, {"success": False, "error": "No printer"}, "/print.json", PrinterUnavailable),
        (401, {"success": False, "error": "Transaction in progress"}, "/device.json", AuthError),
        (502, None, "/transactions/x.json", ServerError),
    ],
)  # fmt: skip
def test_error_texts(status: int, body: object, path: str, kind: type[Exception]) -> None:
    err = api_error(status, body, path=path)
    assert type(err) is kind
    assert err.status == status


def test_documented_error_body_through_parse_answer() -> None:
    with pytest.raises(TransactionInProgress, match="Transaction in progress"):
        parse_answer(
            409, raw("error_in_progress.json"), what="sale", path="/transactions/sale.json"
        )
    # success false on a 200 is an error too.
    with pytest.raises(TransactionInProgress):
        parse_answer(
            200, raw("error_in_progress.json"), what="sale", path="/transactions/sale.json"
        )
    with pytest.raises(ProtocolError, match="not valid JSON"):
        parse_answer(200, b"<html>", what="ping", path="/ping.json")
    with pytest.raises(ServerError):
        parse_answer(502, b"<html>502 Bad Gateway</html>", what="ping", path="/ping.json")
