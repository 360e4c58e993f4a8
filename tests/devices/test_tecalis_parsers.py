"""Tecalis answer parsing: documented payloads, tolerated oddities, and arbitrary junk.

Whatever the device sends, only the client's typed errors come out.
"""

from __future__ import annotations

import base64
import contextlib
import io
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from kioskapp.core.money import Money, dumps_json
from kioskapp.devices.errors import (
    ApiError,
    AuthError,
    ProtocolError,
    ServerError,
    ServiceError,
)
from kioskapp.devices.tecalis import (
    BillReaderJammed,
    PaperOut,
    SessionAlreadyOpen,
    parse_answer,
    token_expiry,
)
from kioskapp.devices.tecalis_models import (
    BillReaderStatus,
    DispenserStatus,
    KioskStatus,
    PrinterStatus,
    TpvStatus,
    parse_scan,
)

EUR = "EUR"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
KEYS = [
    "success", "state", "escrow", "amount", "since", "stacked_total", "auth_code", "card",
    "brand", "last4", "data", "hopper", "count", "empty", "low", "paper", "online", "errors",
    "card_position", "reject_bin", "jammed", "image", "token", "message", "request_id",
]  # fmt: skip
# Objects shaped like real answers (known keys, nested one level) but with arbitrary values.
shaped = st.dictionaries(
    st.sampled_from(KEYS),
    json_values | st.dictionaries(st.sampled_from(KEYS), json_values, max_size=6),
    max_size=10,
)

PARSERS = [
    lambda d: BillReaderStatus.parse(d, EUR),
    lambda d: TpvStatus.parse(d, EUR),
    KioskStatus.parse,
    PrinterStatus.parse,
    DispenserStatus.parse,
    parse_scan,
]


@pytest.mark.parametrize("parse", PARSERS)
@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=json_values | shaped)
def test_parsers_raise_only_protocol_errors(parse: Any, data: Any) -> None:
    with contextlib.suppress(ProtocolError):
        parse(data)


@settings(max_examples=300)
@given(
    status=st.integers(min_value=100, max_value=599),
    body=st.binary(max_size=64) | shaped.map(lambda d: dumps_json(d).encode()),
)
def test_parse_answer_raises_only_service_errors(status: int, body: bytes) -> None:
    with contextlib.suppress(ServiceError):
        parse_answer(status, body, what="anything")


def test_documented_answers_parse_exactly() -> None:
    status = BillReaderStatus.parse(
        {"success": True, "state": "escrow", "escrow": {"amount": 20, "since": 1700000000},
         "stacked_total": Decimal("30.50")},
        EUR,
    )  # fmt: skip
    assert status.state == "escrow"
    assert status.escrow is not None
    assert status.escrow.amount == Money(2000, EUR)
    assert status.stacked_total == Money(3050, EUR)
    tpv = TpvStatus.parse(
        {"success": True, "state": "approved", "amount": 10, "auth_code": "123456",
         "card": {"brand": "visa", "last4": "0010"}},
        EUR,
    )  # fmt: skip
    assert tpv.is_final
    assert tpv.card is not None
    assert tpv.card.last4 == "0010"
    kiosk = KioskStatus.parse(
        {"success": True, "data": {"cpu": "Normal", "printer": "Online", "tpv": "Ready",
                                   "scanner": "Online", "bill_reader": "Ready"}}
    )  # fmt: skip
    assert kiosk.devices["bill_reader"] == "Ready"


def test_unknown_states_and_extra_fields_are_tolerated() -> None:
    status = BillReaderStatus.parse(
        {"success": "true", "state": "recalibrating", "escrow": None, "stacked_total": 0,
         "firmware": "9.1"},
        EUR,
    )  # fmt: skip
    assert status.state == "unknown"
    assert status.raw_state == "recalibrating"


def test_card_number_is_cut_to_last_four_digits() -> None:
    tpv = TpvStatus.parse(
        {"state": "approved", "card": {"brand": "visa", "last4": "4111111111111111"}}, EUR
    )
    assert tpv.card is not None
    assert tpv.card.last4 == "1111"


@pytest.mark.parametrize(
    ("status", "body", "error", "code"),
    [
        (409, b'{"success":false,"message":"open","error":"session_already_open","request_id":"r1"}', SessionAlreadyOpen, "session_already_open"),
        (409, b'{"success":false,"message":"jam","error":"bill_reader_jammed"}', BillReaderJammed, "bill_reader_jammed"),
        (409, b'{"success":false,"message":"paper","error":"paper_out"}', PaperOut, "paper_out"),
        (401, b'{"success":false,"message":"expired","error":"token_expired"}', AuthError, "token_expired"),
        (502, b"<html><body>502 Bad Gateway</body></html>", ServerError, None),
        (200, b'{"success":false,"message":"nope","error":"weird"}', ApiError, "weird"),
    ],
)  # fmt: skip
def test_error_answers_map_to_typed_errors(status, body, error, code) -> None:
    with pytest.raises(error) as info:
        parse_answer(status, body, what="call")
    assert info.value.code == code
    assert info.value.status == status


def test_error_carries_request_id() -> None:
    with pytest.raises(SessionAlreadyOpen) as info:
        parse_answer(
            409, b'{"success":false,"error":"session_already_open","request_id":"abc"}', what="x"
        )
    assert info.value.request_id == "abc"
    assert "abc" in str(info.value)


@pytest.mark.parametrize(
    "body", [b'{"success": tru', b"", b"[]", b'"ok"', b'{"success":true,"x":NaN}']
)
def test_malformed_success_answers_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(ProtocolError):
        parse_answer(200, body, what="call")


def _jpeg(size: tuple[int, int] = (32, 20)) -> str:
    buf = io.BytesIO()
    Image.new("RGB", size, "white").save(buf, "JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def test_scan_decodes_and_verifies_jpeg() -> None:
    image = parse_scan({"success": True, "image": _jpeg()})
    assert (image.width, image.height) == (32, 20)
    assert image.jpeg.startswith(b"\xff\xd8")


@pytest.mark.parametrize(
    "url",
    [
        "data:image/png;base64,AAAA",
        "data:image/jpeg;base64,!!!notbase64",
        "data:image/jpeg;base64," + base64.b64encode(b"not a jpeg at all").decode(),
    ],
)
def test_bad_scans_are_protocol_errors(url: str) -> None:
    with pytest.raises(ProtocolError):
        parse_scan({"success": True, "image": url})


def test_png_dressed_as_jpeg_is_refused() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    url = "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()
    with pytest.raises(ProtocolError, match="PNG"):
        parse_scan({"image": url})


def test_token_expiry_reads_exp_and_refuses_junk() -> None:
    import jwt

    token = jwt.encode({"exp": 1_900_000_000, "lvl": "session"}, "k" * 32, algorithm="HS256")
    assert token_expiry(token, what="t") == 1_900_000_000
    with pytest.raises(ProtocolError):
        token_expiry("not.a.jwt", what="t")
    with pytest.raises(ProtocolError, match="exp"):
        token_expiry(jwt.encode({"sub": "x"}, "k" * 32, algorithm="HS256"), what="t")


@pytest.mark.parametrize("exp", [float("inf"), float("nan"), 10**400])
def test_token_expiry_refuses_non_finite_exp(exp: object) -> None:
    import base64 as b64
    import json

    def part(obj: dict[str, object]) -> str:
        raw = json.dumps(obj)  # Infinity / NaN / a 400-digit integer, as a device might send
        return b64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode()

    token = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'exp': exp})}.c2ln"
    with pytest.raises(ProtocolError):
        token_expiry(token, what="t")


def test_scan_header_claiming_a_giant_image_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(ProtocolError):
        parse_scan({"image": _jpeg((40, 40))})


@pytest.mark.parametrize(
    "data",
    [
        {"state": "escrow", "escrow": {"amount": -20, "since": 1}, "stacked_total": 0},
        {"state": "escrow", "escrow": {"amount": 0, "since": 1}, "stacked_total": 0},
        {"state": "ready", "escrow": None, "stacked_total": -5},
    ],
)
def test_negative_or_zero_note_amounts_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ProtocolError):
        BillReaderStatus.parse(data, EUR)


def test_answers_carrying_tokens_are_never_quoted() -> None:
    with pytest.raises(ProtocolError) as info:
        parse_answer(200, b"token=eyJhbGciOiJIUzI1NiJ9.secret", what="auth", sensitive=True)
    assert "secret" not in str(info.value)
    assert "eyJ" not in str(info.value)
