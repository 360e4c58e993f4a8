"""Typed answers and events of the Tecalis kiosk API, and their parsers.

Parsers take decoded JSON (``Any``) and return frozen dataclasses or raise
:class:`~kioskapp.devices.errors.ProtocolError`; nothing else escapes them,
whatever the device sends (a property test feeds them arbitrary JSON).
Unknown states are kept as ``"unknown"`` with the raw value, not rejected:
a firmware update that adds a state must not stop the kiosk.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from dataclasses import dataclass, field
from typing import Any, Literal

from kioskapp.core.money import Money, MoneyError, from_tecalis
from kioskapp.devices.errors import ProtocolError
from kioskapp.devices.http import Fields

SERVICE = "tecalis"

BillReaderState = Literal[
    "idle", "ready", "escrow", "stacking", "jammed", "full", "closed", "unknown"
]
BILL_READER_STATES: frozenset[str] = frozenset(
    ("idle", "ready", "escrow", "stacking", "jammed", "full", "closed")
)
TpvState = Literal[
    "idle",
    "waiting_card",
    "pin",
    "processing",
    "approved",
    "declined",
    "cancelled",
    "timeout",
    "error",
    "unknown",
]
TPV_STATES: frozenset[str] = frozenset(
    (
        "idle",
        "waiting_card",
        "pin",
        "processing",
        "approved",
        "declined",
        "cancelled",
        "timeout",
        "error",
    )
)
TPV_FINAL_STATES: frozenset[str] = frozenset(
    ("approved", "declined", "cancelled", "timeout", "error")
)
ReturnReason = Literal["rejected", "timeout", "unrecognised", "session_ended", "unknown"]
RETURN_REASONS: frozenset[str] = frozenset(("rejected", "timeout", "unrecognised"))


def parse_amount(fields: Fields, key: str, currency: str, *, positive: bool = False) -> Money:
    """A Tecalis major-unit amount field as exact :class:`Money` (never negative)."""
    value = fields.number(key)
    try:
        amount = from_tecalis(value, currency)
    except MoneyError as exc:
        raise ProtocolError(
            f"{fields.what}: field {key!r} is not a valid {currency} amount: {exc}",
            service=SERVICE,
        ) from exc
    if amount.is_negative or (positive and amount.is_zero):
        raise ProtocolError(
            f"{fields.what}: field {key!r} should be a {'positive' if positive else 'non-negative'}"
            f" amount, got {value}",
            service=SERVICE,
        )
    return amount


def _state(value: str, known: frozenset[str]) -> str:
    return value if value in known else "unknown"


@dataclass(frozen=True)
class SessionInfo:
    session_id: str
    kiosk_id: str
    expires_at: float
    request_id: str | None


@dataclass(frozen=True)
class EscrowNote:
    amount: Money
    since: float


@dataclass(frozen=True)
class BillReaderStatus:
    state: BillReaderState
    raw_state: str
    escrow: EscrowNote | None
    stacked_total: Money

    @classmethod
    def parse(cls, data: Any, currency: str) -> BillReaderStatus:
        f = Fields(data, service=SERVICE, what="bill-reader status")
        raw = f.text("state")
        escrow_f = f.opt_obj("escrow")
        escrow = None
        if escrow_f is not None:
            escrow = EscrowNote(
                amount=parse_amount(escrow_f, "amount", currency, positive=True),
                since=escrow_f.timestamp("since"),
            )
        stacked = (
            parse_amount(f, "stacked_total", currency)
            if f.has("stacked_total")
            else Money.zero(currency)
        )
        state: Any = _state(raw, BILL_READER_STATES)
        return cls(state=state, raw_state=raw, escrow=escrow, stacked_total=stacked)


@dataclass(frozen=True)
class CardInfo:
    brand: str | None
    last4: str | None

    @classmethod
    def parse(cls, f: Fields) -> CardInfo:
        last4 = f.opt_text("last4")
        if last4 is not None:
            # Never keep more than the last four digits, whatever the device sends.
            digits = "".join(ch for ch in last4 if ch.isdigit())
            last4 = digits[-4:] or None
        return cls(brand=f.opt_text("brand"), last4=last4)


@dataclass(frozen=True)
class TpvStatus:
    state: TpvState
    raw_state: str
    amount: Money | None
    auth_code: str | None
    card: CardInfo | None

    @property
    def is_final(self) -> bool:
        return self.state in TPV_FINAL_STATES

    @classmethod
    def parse(cls, data: Any, currency: str) -> TpvStatus:
        f = Fields(data, service=SERVICE, what="tpv status")
        raw = f.text("state")
        card_f = f.opt_obj("card")
        state: Any = _state(raw, TPV_STATES)
        return cls(
            state=state,
            raw_state=raw,
            amount=parse_amount(f, "amount", currency) if f.has("amount") else None,
            auth_code=f.opt_text("auth_code"),
            card=CardInfo.parse(card_f) if card_f is not None else None,
        )


@dataclass(frozen=True)
class KioskStatus:
    """Integrator kiosk status: one human-readable word per device, as the kiosk reports it."""

    devices: dict[str, str]

    @classmethod
    def parse(cls, data: Any) -> KioskStatus:
        f = Fields(data, service=SERVICE, what="kiosk status")
        return cls(devices=f.str_map("data"))


@dataclass(frozen=True)
class PrinterStatus:
    online: bool
    paper: str  # "ok" | "low" | "out" | "unknown"
    errors: tuple[str, ...]

    @property
    def can_print(self) -> bool:
        return self.online and self.paper in ("ok", "low")

    @classmethod
    def parse(cls, data: Any) -> PrinterStatus:
        d = Fields(data, service=SERVICE, what="printer status").obj("data")
        paper = d.opt_text("paper") or "unknown"
        return cls(
            online=d.flag("online", default=True),
            paper=paper if paper in ("ok", "low", "out") else "unknown",
            errors=_str_list(d, "errors"),
        )


@dataclass(frozen=True)
class DispenserStatus:
    hopper_count: int | None
    hopper_empty: bool
    hopper_low: bool
    card_position: str  # "none" | "reader" | "unknown"
    reject_bin: int | None
    jammed: bool
    errors: tuple[str, ...]

    @classmethod
    def parse(cls, data: Any) -> DispenserStatus:
        d = Fields(data, service=SERVICE, what="dispenser status").obj("data")
        hopper = d.obj("hopper")
        count = hopper.opt_integer("count")
        if count is not None and count < 0:
            raise ProtocolError("dispenser status: negative hopper count", service=SERVICE)
        position = d.opt_text("card_position") or "unknown"
        return cls(
            hopper_count=count,
            hopper_empty=hopper.flag("empty", default=count == 0),
            hopper_low=hopper.flag("low", default=False),
            card_position=position if position in ("none", "reader") else "unknown",
            reject_bin=d.opt_integer("reject_bin"),
            jammed=d.flag("jammed", default=False),
            errors=_str_list(d, "errors"),
        )


def _str_list(f: Fields, key: str) -> tuple[str, ...]:
    value = f.data.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ProtocolError(f"{f.what}: field {key!r} should be a list of strings", service=SERVICE)
    return tuple(value)


@dataclass(frozen=True)
class ScannedImage:
    jpeg: bytes = field(repr=False)
    width: int
    height: int


JPEG_PREFIX = "data:image/jpeg;base64,"
PDF_PREFIX = "data:application/pdf;base64,"


def parse_scan(data: Any) -> ScannedImage:
    """Decode the scanner's JPEG data URL and check with Pillow that it is a real JPEG."""
    from PIL import Image, UnidentifiedImageError

    f = Fields(data, service=SERVICE, what="scan")
    url = f.text("image")
    if not url.startswith(JPEG_PREFIX):
        raise ProtocolError("scan: image is not a JPEG data URL", service=SERVICE)
    try:
        raw = base64.b64decode(url[len(JPEG_PREFIX) :], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtocolError("scan: image is not valid base64", service=SERVICE) from exc
    try:
        with warnings.catch_warnings():
            # A header claiming a giant image is refused, not decoded.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(raw)) as img:
                img.verify()
                if img.format != "JPEG":
                    raise ProtocolError(f"scan: image is {img.format}, not JPEG", service=SERVICE)
                width, height = img.size
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        SyntaxError,
        ValueError,
    ) as exc:
        raise ProtocolError(f"scan: image does not decode: {exc}", service=SERVICE) from exc
    return ScannedImage(jpeg=raw, width=width, height=height)


def pdf_data_url(pdf: bytes) -> str:
    if not pdf.startswith(b"%PDF-"):
        raise ValueError("print_pdf needs PDF bytes (starting with %PDF-)")
    return PDF_PREFIX + base64.b64encode(pdf).decode("ascii")


# -- events -------------------------------------------------------------------
# One stream per client; ``seq`` orders them; ``source`` says whether a
# callback or a status poll revealed them first (for logs; callers must not care).

EventSource = Literal["callback", "poll", "client"]


@dataclass(frozen=True, kw_only=True)
class DeviceEvent:
    seq: int
    at: float
    source: EventSource


@dataclass(frozen=True, kw_only=True)
class NoteEscrowed(DeviceEvent):
    """A note is held in escrow: accept or reject it (the device returns it after 90 s)."""

    amount: Money
    since: float


@dataclass(frozen=True, kw_only=True)
class NoteStacked(DeviceEvent):
    """A note went into the cash box: this money is taken and cannot be handed back."""

    amount: Money
    stacked_total: Money


@dataclass(frozen=True, kw_only=True)
class NoteReturned(DeviceEvent):
    """A note went back to the customer (rejected by us, timed out, or unrecognised)."""

    amount: Money | None
    reason: ReturnReason


@dataclass(frozen=True, kw_only=True)
class BillReaderChanged(DeviceEvent):
    """The bill reader's state changed in a way the flow must know (jam, full, back to ready)."""

    state: BillReaderState
    stuck_note: Money | None = None


@dataclass(frozen=True, kw_only=True)
class TpvStateChanged(DeviceEvent):
    state: TpvState


@dataclass(frozen=True, kw_only=True)
class TpvFinished(DeviceEvent):
    """The PIN-pad payment ended: approved, declined, cancelled, timed out or failed."""

    status: TpvStatus


@dataclass(frozen=True, kw_only=True)
class SessionRenewed(DeviceEvent):
    """The session was replaced (planned refresh or expiry): device state of the old one is gone."""

    session_id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class NoteOutcomeUnknown(DeviceEvent):
    """A note left our sight without a settled answer (accept answer lost, jam, session end).

    It may be in the cash box or back with the customer: staff must check.
    """

    amount: Money
    reason: str
