"""CardAPI payloads as the vendor documents them (the API reference and our assumed shapes), parsed exactly.

The fixtures in tests/fixtures/cardapi/ are the documented samples verbatim,
plus variants a real service may send (extra fields, numbers as strings, ids as
numbers, nulls). Whatever else arrives, only the client's typed errors come out.
"""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kioskapp.core.money import Money, dumps_json, loads_json
from kioskapp.devices.cardapi import (
    CARD_ERRORS,
    CardApiInternalError,
    CardTokenError,
    Consumer,
    CurrencyMismatch,
    DebitRequest,
    InsufficientBalance,
    InvalidParameter,
    InvalidPath,
    InvalidToken,
    InvalidTokenSignature,
    MissingToken,
    NotCashbackPass,
    PassExpired,
    PassNotFound,
    TicketConflict,
    TokenExpired,
    UnauthorizedAccess,
    api_error,
    canonical_ticket_id,
    parse_answer,
    parse_debit,
    parse_search,
)
from kioskapp.devices.errors import (
    ApiError,
    AuthError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    ServiceError,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cardapi"
EUR = "EUR"
SEED_TICKET = "9ffa8d1d-0765-11f1-88b3-0cc47a065898"
NOW = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


def fixture(name: str) -> Any:
    return loads_json((FIXTURES / name).read_bytes())


def eur(text: str) -> Money:
    return Money.from_major(text, EUR)


# -- search ----------------------------------------------------------------------------


def test_documented_search_answer() -> None:
    p = parse_search(fixture("search_doc.json"))
    assert p.type == "CASHBACK"
    assert p.is_cashback
    assert p.service_id == 3
    assert p.payment_method_id == 2
    assert p.balance == Money(654, EUR)  # 6.54 exactly, never a float
    assert p.currency == EUR
    assert p.expiration_date == datetime(2050, 8, 24, 14, 15, 22, tzinfo=UTC)
    assert p.expiration_date.tzinfo is not None
    assert (p.id, p.serial_number, p.number, p.nfc_number) == ("...", "...", "...", "...")
    assert p.consumer == Consumer(id=7, given_name="...", family_name="...")
    assert p.can_debit(NOW)
    assert p.can_debit(NOW.timestamp())


def test_search_answer_with_unknown_extra_fields() -> None:
    p = parse_search(fixture("search_extra_fields.json"))
    assert p.id == "5f0c6a3e-7d1b-4b8e-9a51-0cb1b6c2e001"
    assert p.balance == Money(654, EUR)
    assert p.number == "7001000000654"
    assert p.nfc_number == "04A1B2C3D40654"
    assert p.serial_number == "SN-000654"
    assert p.last4 == "0654"
    assert p.consumer is not None
    assert (p.consumer.id, p.consumer.given_name, p.consumer.family_name) == (
        7,
        "Ada",
        "Lovelace",
    )


def test_tolerated_variants() -> None:
    p = parse_search(fixture("search_tolerated.json"))
    assert p.type == "cashback"  # taken from the top level, kept as sent
    assert p.is_cashback  # letter case does not matter
    assert p.service_id is None
    assert p.balance == Money(10, EUR)  # "0.10" as a string
    assert p.id == "123456"  # a numeric id kept as its digits
    assert p.number == "7001000000654"
    assert p.serial_number is None
    assert p.nfc_number is None
    assert p.consumer is None
    # +02:00 offset: the same instant as 14:15:22Z.
    assert p.expiration_date == datetime(2050, 8, 24, 14, 15, 22, tzinfo=UTC)


def test_non_cashback_and_expired_pass() -> None:
    p = parse_search(fixture("search_loyalty_expired.json"))
    assert p.type == "LOYALTY"
    assert not p.is_cashback
    assert p.balance == Money(4200, EUR)
    # No offset: read as UTC (assumed).
    assert p.expiration_date == datetime(2024, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert p.is_expired(NOW)
    assert not p.can_debit(NOW)
    assert p.consumer is not None
    assert p.consumer.id == "c-12"


def test_expiry_is_the_exact_instant() -> None:
    p = parse_search(fixture("search_doc.json"))
    expiry = datetime(2050, 8, 24, 14, 15, 22, tzinfo=UTC)
    assert not p.is_expired(expiry - timedelta(microseconds=1))
    assert p.is_expired(expiry)
    assert not p.can_debit(expiry.timestamp())
    assert p.is_expired(expiry.astimezone(timezone(timedelta(hours=-5))))
    with pytest.raises(ValueError, match="aware"):
        p.is_expired(datetime(2030, 1, 1))  # a naive time is refused


def test_card_numbers_stay_out_of_repr() -> None:
    p = parse_search(fixture("search_extra_fields.json"))
    shown = repr(p)
    for secret in ("7001000000654", "04A1B2C3D40654", "SN-000654", "Ada", "Lovelace"):
        assert secret not in shown


def test_pass_null_is_not_found() -> None:
    with pytest.raises(PassNotFound):
        parse_search({"type": "CASHBACK", "pass": None})


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"balance": 6.545}, "balance"),
        ({"balance": "6,54"}, "balance"),
        ({"balance": None}, "balance"),
        ({"balance": True}, "balance"),
        ({"currency": "eur"}, "currency"),
        ({"currency": "XXX"}, "currency"),
        ({"currency": None}, "currency"),
        ({"expiration_date": "24/08/2050"}, "ISO 8601"),
        ({"id": None}, "'id'"),
        ({"payment_method_id": "2"}, "payment_method_id"),
        ({"consumer": "Ada"}, "consumer"),
    ],
)
def test_malformed_pass_is_a_protocol_error(patch: dict[str, Any], message: str) -> None:
    body = fixture("search_doc.json")
    body["pass"].update(patch)
    with pytest.raises(ProtocolError, match=message):
        parse_search(body)


def test_search_answer_not_an_object() -> None:
    with pytest.raises(ProtocolError):
        parse_search([fixture("search_doc.json")])
    with pytest.raises(ProtocolError):
        parse_search({"type": "CASHBACK", "pass": "P-1"})


# -- debit -----------------------------------------------------------------------------


def seed_request() -> DebitRequest:
    return DebitRequest(
        ticket_id=SEED_TICKET,
        ticket_number="string",
        point_of_sale_id=65,
        device_id="string",
        pass_id="...",
        payment_method_id=2,
        amount=eur("2.50"),
    )


def test_debit_request_is_the_documented_payload_exactly() -> None:
    expected = fixture("debit_request_doc.json")
    payload = seed_request().to_payload()
    assert payload == expected
    assert list(payload) == list(expected)  # same field order as the sample
    assert dumps_json(payload) == (FIXTURES / "debit_request_doc.json").read_text().strip()
    # A journalled payload gives back the same request.
    assert DebitRequest.from_payload(loads_json(dumps_json(payload))) == seed_request()


def test_debit_request_amounts() -> None:
    def wire(amount: Money) -> Any:
        request = DebitRequest(
            ticket_id=uuid.uuid4(),  # type: ignore[arg-type]  # canonicalised
            pass_id="P",
            payment_method_id=2,
            amount=amount,
            point_of_sale_id=65,
            device_id="K",
        )
        return request.to_payload()["payment_row"]["amount"]

    assert wire(Money(0, EUR)) == "0.00"
    assert wire(Money(654, EUR)) == "6.54"
    assert wire(Money(1000, EUR)) == "10.00"
    assert wire(Money(500, "JPY")) == "500"
    with pytest.raises(ValueError, match="negative"):
        wire(Money(-1, EUR))


def test_debit_request_without_ticket_number_omits_it() -> None:
    request = DebitRequest(
        ticket_id=SEED_TICKET.upper(),
        pass_id="P",
        payment_method_id=2,
        amount=Money(0, EUR),
        point_of_sale_id=65,
        device_id="K",
    )
    assert request.ticket_id == SEED_TICKET  # canonical form
    assert "ticket_number" not in request.to_payload()


@pytest.mark.parametrize("bad", ["", "not-a-uuid", "9ffa8d1d-0765-11f1-88b3", 42])
def test_ticket_id_must_be_a_uuid(bad: Any) -> None:
    with pytest.raises(ValueError, match="UUID"):
        canonical_ticket_id(bad)


def test_any_uuid_version_is_a_ticket_id() -> None:
    assert canonical_ticket_id(SEED_TICKET) == SEED_TICKET  # version 1, as in the seed
    v4 = uuid.uuid4()
    assert canonical_ticket_id(v4) == str(v4)


@pytest.mark.parametrize("bad", [None, [], {"ticket_id": SEED_TICKET}, {"payment_row": {}}])
def test_from_payload_refuses_what_is_not_a_request(bad: Any) -> None:
    with pytest.raises(ValueError, match="not a CardAPI debit request"):
        DebitRequest.from_payload(bad)


def test_documented_debit_answer() -> None:
    result = parse_debit(fixture("debit_response_doc.json"), seed_request())
    assert result.ticket_id == SEED_TICKET
    assert result.payment_row.pass_id == "..."
    assert result.payment_row.payment_method_id == 2
    assert result.payment_row.amount == eur("2.50")
    assert result.payment_row.currency == EUR
    assert result.amount == eur("2.50")
    assert result.receipt_row.label == "Cashback"
    assert result.receipt_row.amount == eur("-2.50")
    assert result.receipt_row.balance == eur("4.04")
    assert result.balance_after == eur("4.04")
    # Without the request (e.g. read back from a log) it parses the same.
    assert parse_debit(fixture("debit_response_doc.json")) == result


def test_debit_answer_with_extra_fields_and_numbers() -> None:
    result = parse_debit(fixture("debit_response_extra_fields.json"), seed_request())
    assert result.ticket_id == SEED_TICKET  # upper-case UUID, same ticket
    assert result.amount == eur("2.50")  # 2.5 as a JSON number
    assert result.receipt_row.amount == eur("-2.50")
    assert result.receipt_row.balance == eur("4.04")


def test_minimal_debit_answer_is_tolerated() -> None:
    result = parse_debit(fixture("debit_response_minimal.json"), seed_request())
    assert result.amount == eur("2.50")  # currency taken from the request
    assert result.receipt_row.label == "Cashback"
    assert result.receipt_row.amount == eur("-2.50")
    assert result.receipt_row.balance is None
    with pytest.raises(ProtocolError, match="currency"):
        parse_debit(fixture("debit_response_minimal.json"))


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"ticket_id": "0f6f2b8c-2f4e-4a35-9a77-6f0d9a3d1b11"}, "not for our request"),
        ({"ticket_id": "nope"}, "not a UUID"),
        ({"payment_row": {"pass_id": "other", "amount": "2.50", "currency": EUR}}, "pass_id"),
        ({"payment_row": {"pass_id": "...", "amount": "3.50", "currency": EUR}}, "amount"),
        ({"payment_row": {"pass_id": "...", "amount": "2.505", "currency": EUR}}, "amount"),
        ({"payment_row": None}, "payment_row"),
        ({"receipt_row": {"balance": "four"}}, "balance"),
    ],
)
def test_debit_answer_that_is_not_ours(patch: dict[str, Any], message: str) -> None:
    body = fixture("debit_response_doc.json")
    body.update(patch)
    with pytest.raises(ProtocolError, match=message):
        parse_debit(body, seed_request())


# -- refusals before sending -------------------------------------------------------------


def test_refusals() -> None:
    cashback = parse_search(fixture("search_doc.json"))
    assert cashback.debit_refusal(eur("6.54"), NOW) is None
    assert cashback.debit_refusal(eur("0"), NOW) is None
    too_much = cashback.debit_refusal(eur("6.55"), NOW)
    assert isinstance(too_much, InsufficientBalance)
    assert (too_much.balance, too_much.amount) == (eur("6.54"), eur("6.55"))
    assert isinstance(cashback.debit_refusal(Money(1, "USD"), NOW), CurrencyMismatch)
    expiry = cashback.expiration_date
    assert expiry is not None
    assert isinstance(cashback.debit_refusal(eur("1"), expiry), PassExpired)
    loyalty = parse_search(fixture("search_loyalty_expired.json"))
    assert isinstance(loyalty.debit_refusal(eur("1"), NOW), NotCashbackPass)


# -- errors ------------------------------------------------------------------------------


def test_documented_error_body() -> None:
    err = api_error(404, fixture("error_card14.json"))
    assert isinstance(err, PassNotFound)
    assert isinstance(err, NotFound)
    assert (err.status, err.code, err.message) == (404, "CARD-14", "Pass not found")


DOCUMENTED = [
    ("CARD-1", 500, CardApiInternalError),
    ("CARD-2", 404, InvalidPath),
    ("CARD-3", 422, InvalidParameter),
    ("CARD-4", 500, CardApiInternalError),
    ("CARD-5", 401, MissingToken),
    ("CARD-6", 400, InvalidTokenSignature),
    ("CARD-7", 400, TokenExpired),
    ("CARD-8", 400, InvalidToken),
    ("CARD-9", 403, UnauthorizedAccess),
    ("CARD-10", 500, CardApiInternalError),
    ("CARD-11", 500, CardApiInternalError),
    ("CARD-14", 404, PassNotFound),
]


def test_every_documented_code_is_mapped() -> None:
    assert set(CARD_ERRORS) == {code for code, _, _ in DOCUMENTED}


@pytest.mark.parametrize(("code", "status", "cls"), DOCUMENTED)
def test_error_codes(code: str, status: int, cls: type[ApiError]) -> None:
    err = api_error(status, {"code": code, "message": "m"})
    assert type(err) is cls
    assert err.status == status
    assert err.code == code
    assert cls.documented_status == status  # type: ignore[attr-defined]
    assert err.retryable is (status == 500)
    if code in ("CARD-5", "CARD-6", "CARD-7", "CARD-8"):
        assert isinstance(err, CardTokenError)
    if code == "CARD-9":
        assert isinstance(err, AuthError)
        assert not isinstance(err, CardTokenError)  # no refresh: the token is fine


def test_code_wins_over_status_and_is_normalised() -> None:
    err = api_error(500, {"code": " card-14 ", "message": "m"})
    assert isinstance(err, PassNotFound)
    assert err.status == 500  # what came, not what is documented
    assert err.code == "CARD-14"
    assert isinstance(api_error(400, {"error": "CARD-7"}), TokenExpired)


def test_unknown_codes_and_bodies_are_typed_by_status() -> None:
    assert type(api_error(500, {"code": "CARD-99"})) is ServerError
    assert type(api_error(404, None)) is NotFound
    assert type(api_error(429, {})) is RateLimited
    assert type(api_error(409, {})) is TicketConflict
    assert api_error(409, {}).retryable
    html = parse_answer_error(502, b"<html>502 Bad Gateway</html>")
    assert type(html) is ServerError
    assert html.status == 502


def parse_answer_error(status: int, body: bytes) -> ServiceError:
    with pytest.raises(ServiceError) as info:
        parse_answer(status, body, what="search")
    return info.value


def test_answers_that_are_not_json() -> None:
    err = parse_answer_error(200, b'{"type": tru')
    assert isinstance(err, ProtocolError)
    err = parse_answer_error(200, b"[1, 2]")
    assert isinstance(err, ProtocolError)
    err = parse_answer_error(302, b"")
    assert isinstance(err, ProtocolError)
    body = parse_answer(200, (FIXTURES / "search_doc.json").read_bytes(), what="search")
    assert body["pass"]["balance"] == Decimal("6.54")


# -- junk in, typed errors out ---------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.text(max_size=12)
    | st.sampled_from(["EUR", "JPY", "CASHBACK", SEED_TICKET, "2.50", "2050-08-24T14:15:22Z"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=16,
)
PASS_KEYS = [
    "type", "service_id", "payment_method_id", "balance", "currency", "expiration_date",
    "id", "serial_number", "number", "nfc_number", "consumer",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(PASS_KEYS), json_values, max_size=11), json_values)
def test_search_junk_gives_only_typed_errors(fields: dict[str, Any], top: Any) -> None:
    body = {"type": top, "pass": {**fixture("search_doc.json")["pass"], **fields}}
    with contextlib.suppress(ServiceError):
        parse_search(body)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["ticket_id", "payment_row", "receipt_row"]), json_values, max_size=3
    ),
    st.dictionaries(
        st.sampled_from(["pass_id", "payment_method_id", "amount", "currency"]),
        json_values,
        max_size=4,
    ),
)
def test_debit_junk_gives_only_typed_errors(top: dict[str, Any], row: dict[str, Any]) -> None:
    body = fixture("debit_response_doc.json")
    body.update(top)
    if isinstance(body.get("payment_row"), dict):
        body["payment_row"].update(row)
    with contextlib.suppress(ServiceError):
        parse_debit(body, seed_request())


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=100, max_value=599), json_values)
def test_error_junk_gives_an_api_error(status: int, body: Any) -> None:
    err = api_error(status, body)
    assert isinstance(err, ApiError)
    assert err.status == status
