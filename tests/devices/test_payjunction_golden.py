"""PayJunction payloads parsed exactly (tests/fixtures/payjunction/).

``*_doc.json`` are the seed's samples verbatim (the seed's text lost the outer
braces of each JSON object; they are restored, nothing else changed). The
webhook fixtures follow the shape of PayJunction's SMARTTERMINAL_REQUEST
page (CONNECTING, BUSY, IN_PROGRESS without and with a transactionId,
COMPLETE with a transactionId and cancelled without one). ``status_*`` and
``transaction_*`` are our assumed shapes (kioskapp/devices/payjunction.py),
with variants a real service may send: ids as strings, a masked card
number, extra fields, an unknown status.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kioskapp.core.money import Money, dumps_json, loads_json
from kioskapp.devices.errors import (
    AuthError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
)
from kioskapp.devices.payjunction import (
    FieldError,
    PaymentSummary,
    RequestStatus,
    RequestTracker,
    Transaction,
    ValidationFailed,
    WebhookEvent,
    parse_answer,
    parse_errors,
    sign_webhook,
    verify_webhook,
)
from kioskapp.devices.tracks import parse_tracks

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "payjunction"
REQUEST = "5d7a0b1e-6c1f-4a8e-9f43-2f3b8c1d9e70"
READ = "0c742fb0-91eb-4c66-a48b-14104e97e2db"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def load(name: str) -> Any:
    return loads_json(raw(name))


def usd(minor: int) -> Money:
    return Money(minor, "USD")


# -- the seed ----------------------------------------------------------------------


def test_request_read_answer_from_the_seed() -> None:
    data = parse_answer(200, raw("request_read_doc.json"), what="request-read")
    assert data == {"requestId": READ}


def test_validation_error_from_the_seed() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_answer(400, raw("error_terminal_invalid_doc.json"), what="request-read")
    err = info.value
    assert err.status == 400
    assert err.code == "invalid"
    assert err.errors == (
        FieldError(
            message="Terminal does not exist or you do not have permission to access it.",
            parameter="terminalId",
            type="invalid",
        ),
    )
    assert "terminalId: Terminal does not exist" in err.message


def test_the_seed_track_samples() -> None:
    assert parse_tracks(";7090112233654321?").number == "7090112233654321"
    both = parse_tracks("%B924696827707852^?;924696827707852=?")
    assert both.number == "924696827707852"


# -- errors --------------------------------------------------------------------------


def test_every_error_entry_is_kept_and_junk_entries_are_skipped() -> None:
    assert parse_errors(load("error_two_fields.json")) == (
        FieldError("This field is required.", "amountBase", "required"),
        FieldError(
            "Terminal does not exist or you do not have permission to access it.",
            "terminalId",
            "invalid",
        ),
        FieldError("invalid", None, "invalid"),
    )
    assert parse_errors({"errors": "nope"}) == ()
    assert parse_errors(["errors"]) == ()


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (401, b"", AuthError),
        (401, b'{"errors":[{"message":"Invalid credentials","type":"unauthorized"}]}', AuthError),
        (404, b'{"errors":[{"message":"Request not found.","type":"not_found"}]}', NotFound),
        (429, b"{}", RateLimited),
        (502, b"<html><body>502 Bad Gateway</body></html>", ServerError),
        (422, b'{"errors":[]}', ValidationFailed),
    ],
)
def test_error_statuses_map_to_the_error_tree(status: int, body: bytes, kind: type) -> None:
    with pytest.raises(kind) as info:
        parse_answer(status, body, what="call")
    assert info.value.status == status


def test_a_malformed_or_odd_success_answer_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not valid JSON"):
        parse_answer(200, b'{"requestId": tru', what="request-read")
    with pytest.raises(ProtocolError, match="expected a JSON object"):
        parse_answer(200, b"[1]", what="request-read")
    with pytest.raises(ProtocolError, match="unexpected HTTP 302"):
        parse_answer(302, b"", what="request-read")
    assert parse_answer(200, b"", what="main") == {}
    assert parse_answer(204, b"  ", what="main") == {}


# -- webhooks ----------------------------------------------------------------------------


def test_webhook_connecting() -> None:
    event = WebhookEvent.parse(load("webhook_connecting.json"))
    assert event == WebhookEvent(
        event_id="0e5c2b4a-1111-4d2f-8a7b-000000000001",
        type="SMARTTERMINAL_REQUEST",
        created="2027-03-01T10:00:01.250Z",
        status=RequestStatus(REQUEST, "CONNECTING", "CONNECTING", source="webhook"),
    )


@pytest.mark.parametrize(
    ("name", "state", "transaction_id", "final"),
    [
        ("webhook_busy.json", "BUSY", None, True),
        ("webhook_in_progress.json", "IN_PROGRESS", None, False),
        ("webhook_in_progress_transaction.json", "IN_PROGRESS", "10082", False),
        ("webhook_complete_transaction.json", "COMPLETE", "10082", True),
        ("webhook_complete_cancelled.json", "COMPLETE", None, True),
    ],
)
def test_webhook_statuses(name: str, state: str, transaction_id: str | None, final: bool) -> None:
    event = WebhookEvent.parse(load(name))
    assert event.status is not None
    assert event.status.request_id == REQUEST
    assert event.status.state == state
    assert event.status.transaction_id == transaction_id
    assert event.status.final is final
    assert event.status.has_result is False
    assert event.status.source == "webhook"


def test_other_webhook_types_carry_no_request_status() -> None:
    event = WebhookEvent.parse(load("webhook_other_type.json"))
    assert (event.type, event.status) == ("SMARTTERMINAL_TRANSACTION", None)


def test_webhook_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    body = raw("webhook_complete_transaction.json")
    signature = sign_webhook(body, "pj-sim-webhook")
    assert len(signature) == 64
    assert verify_webhook(body, signature, "pj-sim-webhook")
    assert verify_webhook(body, signature.upper(), "pj-sim-webhook")
    assert not verify_webhook(body + b" ", signature, "pj-sim-webhook")
    assert not verify_webhook(body, signature, "another-secret")
    assert not verify_webhook(body, None, "pj-sim-webhook")
    assert not verify_webhook(body, "ünïcode", "pj-sim-webhook")
    # The same document re-serialised is other bytes: only the raw body counts.
    assert not verify_webhook(dumps_json(load("webhook_complete_transaction.json")).encode(),
                              signature, "pj-sim-webhook")  # fmt: skip


# -- request statuses (assumed shapes) ----------------------------------------------------


def test_completed_payment_with_its_result() -> None:
    status = RequestStatus.parse(load("status_payment_approved.json"))
    assert status == RequestStatus(
        request_id=REQUEST,
        state="COMPLETE",
        raw_status="COMPLETE",
        transaction_id="10082",
        payment=PaymentSummary(
            transaction_id="10082",
            status="APPROVED",
            approved=True,
            amount=usd(1000),
            approval_code="PJ20AP",
            card_brand="VISA",
            card_last4="1111",
            message="Approved",
        ),
        has_result=True,
    )


def test_declined_payment_with_string_ids_a_masked_number_and_extra_fields() -> None:
    status = RequestStatus.parse(load("status_payment_declined.json"))
    assert status.transaction_id == "10083"
    assert status.payment == PaymentSummary(
        transaction_id="10083",
        status="DECLINED",
        approved=False,
        amount=usd(1005),
        approval_code=None,
        card_brand="MASTERCARD",
        card_last4="4444",
        message="Do Not Honor",
    )
    assert status.payment.declined


@pytest.mark.parametrize(
    ("name", "number"),
    [
        ("status_read_format1.json", "7090112233654321"),
        ("status_read_format2.json", "924696827707852"),
    ],
)
def test_completed_reads_carry_their_track(name: str, number: str) -> None:
    status = RequestStatus.parse(load(name))
    assert (status.request_id, status.state, status.has_result) == (READ, "COMPLETE", True)
    assert status.track is not None
    assert parse_tracks(status.track).number == number
    assert number not in repr(status)


def test_red_x_completes_without_a_result() -> None:
    status = RequestStatus.parse(load("status_read_red_x.json"))
    assert (status.state, status.has_result, status.track, status.payment) == (
        "COMPLETE", False, None, None,
    )  # fmt: skip


def test_an_unknown_status_is_kept_as_unknown_and_changes_nothing() -> None:
    status = RequestStatus.parse(load("status_unknown.json"))
    assert (status.state, status.raw_status, status.final) == (
        "UNKNOWN", "WAITING_FOR_SIGNATURE", False,
    )  # fmt: skip
    tracker = RequestTracker(READ, 0.0)
    assert tracker.apply(RequestStatus(READ, "IN_PROGRESS", "IN_PROGRESS"))
    assert not tracker.apply(status)
    assert tracker.latest is not None
    assert tracker.latest.state == "IN_PROGRESS"
    assert tracker.version == 1


def test_the_tracker_never_goes_back_and_keeps_the_transaction_id() -> None:
    tracker = RequestTracker(REQUEST, 0.0)
    events = [WebhookEvent.parse(load(n)).status for n in (
        "webhook_in_progress_transaction.json",
        "webhook_in_progress.json",  # late, without the transaction id
        "webhook_connecting.json",  # later still
        "webhook_complete_transaction.json",
        "webhook_in_progress.json",
        "webhook_complete_transaction.json",  # duplicate
    )]  # fmt: skip
    changes = [tracker.apply(s) for s in events if s is not None]
    assert changes == [True, False, False, True, False, False]
    assert tracker.latest is not None
    assert (tracker.latest.state, tracker.latest.transaction_id) == ("COMPLETE", "10082")
    # A poll may add the result the webhook lacked; nothing else.
    assert tracker.apply(RequestStatus.parse(load("status_payment_approved.json")))
    assert tracker.latest.payment is not None
    assert not tracker.apply(RequestStatus(REQUEST, "BUSY", "BUSY"))


# -- transactions (assumed shape) --------------------------------------------------------


def test_approved_transaction() -> None:
    tx = Transaction.parse(load("transaction_approved.json"), "USD")
    assert tx == Transaction(
        transaction_id="10082",
        status="CAPTURE",
        approved=True,
        amount=usd(1000),
        approval_code="PJ20AP",
        card_brand="VISA",
        card_last4="1111",
        response_code="00",
        message="Approved",
    )
    assert tx.summary().approved
    assert tx.summary().status == "APPROVED"


def test_declined_transaction() -> None:
    tx = Transaction.parse(load("transaction_declined.json"), "USD")
    assert (tx.status, tx.approved, tx.amount, tx.response_code) == (
        "DECLINED", False, usd(1005), "05",
    )  # fmt: skip
    assert tx.summary().declined


def test_voided_transaction_is_neither_approved_nor_declined() -> None:
    tx = Transaction.parse(load("transaction_void.json"), "USD")
    assert tx.voided
    summary = tx.summary()
    assert (summary.approved, summary.status) == (False, "VOID")


@pytest.mark.parametrize(
    "amount", ["$10.00", "1,000.00", "10.000", "-1.00", "ten", True, ["10.00"]]
)
def test_bad_amounts_are_protocol_errors(amount: object) -> None:
    data = load("transaction_approved.json")
    data["amountTotal"] = amount
    with pytest.raises(ProtocolError):
        Transaction.parse(data, "USD")


def test_numeric_amounts_are_read_exactly() -> None:
    data = load("transaction_approved.json")
    data["amountTotal"] = Decimal("10.5")
    assert Transaction.parse(data, "USD").amount == usd(1050)


# -- whatever else arrives ------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=20,
)
keys = st.sampled_from(
    ["requestId", "status", "transactionId", "result", "track", "amount", "last4", "type",
     "data", "id", "response", "approved", "vault", "amountTotal", "lastFour", "errors"]
)  # fmt: skip
shaped = st.recursive(
    json_values,
    lambda inner: st.dictionaries(keys, inner, max_size=6),
    max_leaves=25,
)


@settings(max_examples=300)
@given(shaped)
def test_parsers_raise_only_protocol_errors(value: object) -> None:
    for parse in (
        lambda v: RequestStatus.parse(v),
        lambda v: WebhookEvent.parse(v),
        lambda v: Transaction.parse(v, "USD"),
    ):
        with contextlib.suppress(ProtocolError):
            parse(value)
    assert isinstance(parse_errors(value), tuple)
