"""The KOMOJU client against KOMOJU's own payloads (tests/fixtures/komoju, from the seed).

Parsing is checked field by field on the vendor's examples, on the same
payloads with fields KOMOJU may add one day, and on broken variants; the
request the client sends is compared with the vendor's example request.
"""

from __future__ import annotations

import base64
import copy
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money, loads_json
from kioskapp.devices.errors import InvalidRequest, ProtocolError
from kioskapp.devices.komoju import (
    CancelRefused,
    KomojuClient,
    KomojuPaymentInfo,
    KomojuSession,
    PrintFailed,
    PushRefused,
    SessionNotPending,
    WebhookEvent,
    parse_answer,
    sign_webhook,
    verify_webhook,
)
from kioskapp.payments.komoju import read_payment, read_session

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "komoju"


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture(name: str) -> Any:
    return loads_json(raw(name))


def completed_session() -> dict[str, Any]:
    """The seed's session, completed and paid with the seed's webhook payment."""
    session = fixture("session_pending.json")
    payment = fixture("webhook_payment_updated.json")["data"]
    payment["session"] = session["id"]
    session.update(
        status="completed", completed_at="2023-12-12T12:07:29.000+09:00", payment=payment
    )
    return dict(session)


# -- sessions -----------------------------------------------------------------------------


def test_the_seed_session_parses_field_by_field() -> None:
    session = KomojuSession.parse(fixture("session_pending.json"))
    assert session.id == "6k4xs4rah6k8bt4ebnufqwhcb"
    assert session.status == "pending"
    assert session.expired is False
    assert session.is_pending
    assert not session.is_completed
    assert not session.is_cancelled
    assert session.amount == Money(1000, "JPY")
    assert session.external_order_num == "12345678"
    assert session.capture == "auto"
    assert session.payment is None
    assert session.created_at == "2023-12-12T11:55:46.000+09:00"
    assert session.completed_at is None
    assert session.cancelled_at is None
    assert session.metadata == {}
    assert read_session(session, Money(1000, "JPY")).verdict == "waiting"


def test_a_completed_session_with_the_seed_payment_is_approved() -> None:
    session = KomojuSession.parse(completed_session())
    assert session.is_completed
    assert session.payment is not None
    assert session.payment.status == "captured"
    reading = read_session(session, Money(1000, "JPY"))
    assert reading.verdict == "approved"
    assert reading.payment is session.payment
    # The same payment for another amount is not an approval of that amount.
    assert read_session(session, Money(2000, "JPY")).verdict == "wrong_amount"


def test_extra_fields_the_vendor_may_add_are_ignored() -> None:
    data = completed_session()
    data["terminal"] = {"id": "tm_1", "model": "S1F2"}
    data["payment_methods"][0]["brands"] = ["visa", "master"]
    data["payment_data"]["extra"] = True
    data["payment"]["risk"] = {"score": Decimal("0.1")}
    data["payment"]["payment_details"]["fingerprint"] = "abc"
    data["payment"]["metadata"]["nested"] = {"ignored": True}
    plain = KomojuSession.parse(completed_session())
    extended = KomojuSession.parse(data)
    assert extended.payment is not None
    assert plain.payment is not None
    assert extended.payment.metadata == plain.payment.metadata
    assert extended == plain


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"id": None}, "'id'"),
        ({"status": 3}, "'status'"),
        ({"amount": Decimal("1000.5")}, "'amount'"),
        ({"amount": "1000"}, "'amount'"),
        ({"currency": "yen"}, "'currency'"),
        ({"expired": "maybe"}, "'expired'"),
    ],
)
def test_broken_sessions_are_protocol_errors(change: dict[str, Any], field: str) -> None:
    data = fixture("session_pending.json")
    data.update(change)
    with pytest.raises(ProtocolError, match=field):
        KomojuSession.parse(data)


def test_a_session_that_is_not_an_object_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="expected a JSON object"):
        KomojuSession.parse(["not", "a", "session"])


def test_amounts_keep_the_currency_smallest_unit() -> None:
    data = fixture("session_pending.json")
    data.update(amount=1050, currency="EUR")
    assert KomojuSession.parse(data).amount == Money(1050, "EUR")
    data.update(amount=Decimal("1050"))  # an integral JSON decimal is still an integer
    assert KomojuSession.parse(data).amount == Money(1050, "EUR")


# -- webhooks --------------------------------------------------------------------------------


def test_the_seed_webhook_parses_field_by_field() -> None:
    event = WebhookEvent.parse(fixture("webhook_payment_updated.json"))
    assert event.id == "4jo7t14vumnhu5cmretrugxiw"
    assert event.type == "payment.updated"
    assert event.created_at == "2023-12-12T03:07:30Z"
    payment = event.payment
    assert payment is not None
    assert payment.id == "28e3dhxc8gdr3zdnsdzea17qf"
    assert payment.status == "captured"
    assert payment.taken
    assert payment.amount == Money(1000, "JPY")
    assert payment.refunded == Money(0, "JPY")
    assert payment.brand == "visa"
    assert payment.last4 == "0010"
    assert payment.session_id == "ebjljw181tdwpybolb3jpthv6"
    assert payment.external_order_num == "91176632142"
    assert payment.captured_at == "2023-12-12T03:07:29Z"
    assert payment.refund_ids == ()
    assert payment.metadata["aid"] == "A0000000031010"
    assert payment.metadata["cardholderVerification"] == ""
    assert read_payment(payment, Money(1000, "JPY")).verdict == "approved"


def test_receipt_lines_carry_the_emv_data_but_not_the_cardholder_name() -> None:
    payment = WebhookEvent.parse(fixture("webhook_payment_updated.json")).payment
    assert payment is not None
    lines = payment.receipt_lines()
    assert lines == (
        "VISA CREDIT",
        "AID: A0000000031010",
        "ENTRY: CL",
        "ATC: 02D4",
        "ARC: 00",
        "TVR: 0000000000",
        "TSI: 0000",
    )
    assert not any("CARDHOLDER" in line for line in lines)


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("0010", "0010"), ("4111111111111111", "1111"), ("12", None), ("ab12", None), (None, None)],
)
def test_never_more_than_the_last_four_digits(sent: str | None, kept: str | None) -> None:
    data = fixture("webhook_payment_updated.json")["data"]
    data["payment_details"]["last_four_digits"] = sent
    assert KomojuPaymentInfo.parse(data).last4 == kept


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ("captured", "approved"),
        ("authorized", "approved"),
        ("failed", "declined"),
        ("pending", "card_presented"),
        ("cancelled", "waiting"),
        ("refunded", "waiting"),
    ],
)
def test_payment_statuses(status: str, verdict: str) -> None:
    data = fixture("webhook_payment_updated.json")["data"]
    data["status"] = status
    assert read_payment(KomojuPaymentInfo.parse(data), Money(1000, "JPY")).verdict == verdict


@pytest.mark.parametrize(
    ("status", "expired", "payment_status", "verdict"),
    [
        ("pending", False, None, "waiting"),
        ("pending", False, "pending", "card_presented"),
        ("pending", False, "failed", "declined"),
        ("pending", True, None, "expired"),
        ("pending", True, "expired", "expired"),
        ("cancelled", False, None, "cancelled"),
        ("cancelled", False, "cancelled", "cancelled"),
        ("cancelled", False, "failed", "declined"),
        ("completed", False, "captured", "approved"),
        ("completed", False, None, "unclear"),
        ("completed", True, "captured", "approved"),
        ("archived", False, None, "unclear"),
    ],
)
def test_session_verdicts(
    status: str, expired: bool, payment_status: str | None, verdict: str
) -> None:
    data = completed_session()
    data.update(status=status, expired=expired)
    if payment_status is None:
        data["payment"] = None
    else:
        data["payment"]["status"] = payment_status
    assert read_session(KomojuSession.parse(data), Money(1000, "JPY")).verdict == verdict


def test_an_unknown_event_type_without_a_payment_parses() -> None:
    event = WebhookEvent.parse({"id": "evt1", "type": "ping", "resource": "event", "data": {}})
    assert (event.type, event.payment) == ("ping", None)


def test_a_webhook_with_a_broken_payment_is_a_protocol_error() -> None:
    data = fixture("webhook_payment_updated.json")
    data["data"]["amount"] = None
    with pytest.raises(ProtocolError, match="amount"):
        WebhookEvent.parse(data)


def test_the_signature_is_an_hmac_of_the_raw_body() -> None:
    body = raw("webhook_payment_updated.json")
    signature = sign_webhook(body, "whsec_test")
    assert len(signature) == 64
    assert int(signature, 16) >= 0
    assert verify_webhook(body, signature, "whsec_test")
    assert verify_webhook(body, signature.upper(), "whsec_test")
    assert not verify_webhook(body + b" ", signature, "whsec_test")
    assert not verify_webhook(body, signature, "whsec_other")
    # Re-serialising the JSON changes the bytes: only the raw body verifies.
    reformatted = json.dumps(json.loads(body)).encode()
    assert not verify_webhook(reformatted, signature, "whsec_test")
    assert not verify_webhook(body, None, "whsec_test")
    assert not verify_webhook(body, signature, "")


# -- terminal answers and errors ---------------------------------------------------------------


def test_terminal_success_parses() -> None:
    assert parse_answer(200, raw("terminal_success.json"), what="push") == {"status": "success"}


@pytest.mark.parametrize(
    ("name", "action", "error"),
    [
        ("push_error.json", "push", SessionNotPending),
        ("print_error.json", "print", PrintFailed),
        ("cancel_error.json", "cancel", CancelRefused),
    ],
)
def test_terminal_errors_are_typed(name: str, action: Any, error: type[Exception]) -> None:
    with pytest.raises(error) as info:
        parse_answer(422, raw(name), what=f"terminal {action}", terminal=action)
    assert info.value.code == "error"  # type: ignore[attr-defined]
    message = fixture(name)["error"]["message"]
    assert message in str(info.value)


def test_an_error_object_in_a_200_answer_is_still_a_refusal() -> None:
    with pytest.raises(SessionNotPending):
        parse_answer(200, raw("push_error.json"), what="terminal push", terminal="push")


def test_a_push_refused_for_another_reason_is_not_session_not_pending() -> None:
    body = b'{"error":{"code":"error","message":"Terminal is offline."}}'
    with pytest.raises(PushRefused) as info:
        parse_answer(422, body, what="terminal push", terminal="push")
    assert not isinstance(info.value, SessionNotPending)


def test_the_documented_error_object_names_its_param() -> None:
    with pytest.raises(InvalidRequest, match=r"amount\) is missing \(param amount\)") as info:
        parse_answer(422, raw("error_missing_parameter.json"), what="session create")
    assert (info.value.status, info.value.code) == (422, "missing_parameter")


# -- the request the client sends ------------------------------------------------------------------


async def test_the_create_request_is_the_vendors_example() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=raw("session_pending.json"))

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http,
        KomojuClient(
            "https://komoju.example/",
            secret_key="sk_test_golden",
            terminal_id="tm_1",
            http=http,
            clock=ControlledClock(start=0),
        ) as client,
    ):
        session = await client.create_session(
            Money(1000, "JPY"), external_order_num="12345678", idempotency_key="key-1"
        )
    assert session.id == "6k4xs4rah6k8bt4ebnufqwhcb"
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == "https://komoju.example/api/v1/sessions"
    assert loads_json(request.content) == fixture("session_create_request.json")
    expected_auth = "Basic " + base64.b64encode(b"sk_test_golden:").decode()
    assert request.headers["Authorization"] == expected_auth
    assert request.headers["X-KOMOJU-IDEMPOTENCY"] == "key-1"
    assert request.headers["Content-Type"] == "application/json"


async def test_a_session_for_another_amount_than_asked_is_refused() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        data = copy.deepcopy(fixture("session_pending.json"))
        data["amount"] = 100
        return httpx.Response(200, content=json.dumps(data, default=str).encode())

    async with (
        httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http,
        KomojuClient("https://k.example", secret_key="sk", terminal_id="t", http=http) as client,
    ):
        with pytest.raises(ProtocolError, match="answered 100 JPY for 1000 JPY"):
            await client.create_session(Money(1000, "JPY"), external_order_num="o")
