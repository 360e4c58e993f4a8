"""A faithful simulator of the Tecalis kiosk-hardware API (docs/simulator.md).

Mounted at ``/tecalis``; control routes at ``/_sim/tecalis/``. One kiosk with a
bill reader (cash in, escrow), a TPV card terminal, a card dispenser with
barcode reader, a thermal printer and a document scanner.

Documented by the vendor: the two token levels, the
``session/start`` and ``session/close`` shapes, bill-reader ``open`` with
``amount``/``callback`` and the 90 s escrow window, ``tpv/prepare`` with a
2 minute window, dispenser ``prepare``, ``barcode-reader/read``,
``printer/print-pdf`` with the mandatory data-URL prefix, ``scanner/scan``, the
integrator kiosk methods and ``data`` of the kiosk status.

Everything else here is ASSUMED, and lives only in this module:

* Auth: ``POST /api/auth {"username","password"}`` -> ``{"success":true,"token"}``.
  Tokens are HS256 JWTs signed with a random per-simulator secret. Integrator
  claims ``{"sub": username, "lvl": "integrator", "iat", "exp", "jti"}``
  (TTL 3600 s); session claims ``{"sub": kiosk_id, "lvl": "session", "sid",
  "iat", "exp", "jti"}`` (TTL 900 s). ``iat``/``exp`` are whole seconds of the
  simulated clock; expiry is checked against the simulated clock.
* Errors: ``{"success":false,"message","error":<code>,"request_id"}`` with
  401 ``token_missing`` | ``token_invalid`` | ``token_expired`` |
  ``session_closed``; 403 ``wrong_token_level``; 401 ``invalid_credentials``;
  400 ``invalid_json`` (body not a JSON object); 422 ``invalid_request`` (a
  field missing or of the wrong type; the message names it); 404
  ``not_found`` | ``unknown_kiosk`` | ``unknown_device``; 405
  ``method_not_allowed``; 409 for device states (codes below); 503
  ``<device>_offline`` when a device is offline.
* ``request_id``: 31 hex characters; ``session_id``: ``"ses_"`` + 24 hex.
* One session per kiosk: a second ``session/start`` -> 409
  ``session_already_open``. A session ends when closed or when its token
  expires (the device ends it then: a note in escrow is returned with reason
  ``timeout``, a TPV payment not yet processing is cancelled, a prepared card
  stays in the reader position).
* ``session/close`` closes the bill reader (a note in escrow is returned,
  reason ``rejected``) and cancels a TPV payment unless it is processing (a
  processing payment still completes and calls back).
* Bill reader states ``idle`` (not opened this session) | ``ready`` |
  ``escrow`` | ``stacking`` (never reported: accept is synchronous) |
  ``jammed`` | ``full`` (cash box at capacity, reader not closed) | ``closed``.
  ``open`` ``amount`` is informational (the reader does not stop at it);
  re-open while open updates amount/callback only; a fresh open resets
  ``stacked_total``. ``escrow.since`` is sim epoch seconds rounded to ms and
  EQUALS the ``timestamp`` of that note's ``bill.escrow`` callback.
  Codes: ``bill_reader_closed``, ``bill_reader_jammed``, ``no_note_in_escrow``,
  ``cash_box_full``. A jammed reader keeps the note stuck in ``escrow`` with no
  timeout until staff clear it (control ``clear-jam``: the note is then either
  ``stacked`` -> ``bill.stacked``, or ``returned`` -> ``bill.returned`` reason
  ``rejected``).
* Accepted denominations (EUR): 5 10 20 50 100 200 500. A note of another
  value, or unrecognised, is returned at once with ``bill.returned`` reason
  ``unrecognised`` and ``"amount": null`` (the device cannot tell its value);
  it never enters escrow. Cash box: 500 notes.
* Callbacks: POST JSON ``{"event","session_id","request_id","timestamp", ...}``:
  ``bill.escrow {amount}``, ``bill.stacked {amount}``, ``bill.returned {amount,
  reason}``, ``bill.jam {amount}`` (amount only when a note is stuck),
  ``bill.full``, ``tpv.status {state}``, ``tpv.result {state, amount,
  auth_code, card}``. No retries; the client must also poll.
* TPV states ``idle`` | ``waiting_card`` | ``pin`` | ``processing`` |
  ``approved`` | ``declined`` | ``cancelled`` | ``timeout`` | ``error``; every
  change -> ``tpv.status``, a final state -> ``tpv.result`` too. The 120 s
  window times out ``waiting_card`` and ``pin`` only (a processing payment
  waits for the bank). Codes: ``tpv_busy``, ``tpv_not_cancellable``,
  ``no_tpv_payment``. ``auth_code`` is 6 random digits; ``card`` is
  ``{"brand","last4"}`` (default visa/0010), null until a card is presented.
* Dispenser: 50 cards; barcodes 8412345678901, 8412345678902, ... returned as
  read (not validated). Codes ``hopper_empty``, ``card_already_prepared``,
  ``dispenser_jammed``, ``no_card_prepared``; unreadable -> 422
  ``barcode_unreadable``. ``dispense`` and ``discard`` answer
  ``{"success":true,"message"}``. Hopper "low" when <= 5 cards.
* Printer: ``pdf`` must start ``data:application/pdf;base64,``, decode as
  base64 (whitespace ignored) and start with ``%PDF-``, else 400
  ``invalid_pdf``; paper out -> 409 ``paper_out``; answers ``"Printed"``.
* Scanner: a real JPEG (640x400 ID-card picture); offline -> 503
  ``scanner_offline``.
* Integrator: kiosk status values printer Online|Paper low|Paper out|Offline,
  tpv Ready|Busy|Offline, scanner Online|Offline, bill_reader
  Ready|Jammed|Full|Offline, dispenser Ready|Empty|Low|Jammed|Offline (the
  vendor's documented status has no ``dispenser``: control ``config``
  ``status_reports_dispenser: false`` leaves it out, as the real API does);
  ``restart`` of printer|dispenser|scanner is instant and clears that
  device's jam/offline faults (not paper).
* Across sessions the kiosk keeps its hardware state: jams, paper level,
  offline devices, the cash box, the hopper and a card in the reader position.
  A new session resets the bill reader to ``idle`` (``stacked_total`` 0).
  The PIN pad is one device whatever the session: ``tpv/status`` reports the
  current or last payment (state, amount, auth code, card) until the next
  ``tpv/prepare``, so a payment that outlived its session, or the app, can
  still be found out.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import io
import logging
import random
import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import jwt
from aiohttp import web
from aiohttp.typedefs import Handler
from PIL import Image, ImageDraw, ImageFont

from kioskapp.core.clock import Clock, TimerHandle
from kioskapp.simulator.framework import (
    CallbackDispatcher,
    JsonObject,
    SimError,
    SimService,
    body_amount,
    body_bool,
    body_callback_url,
    body_int,
    body_seconds,
    body_str,
    format_amount,
    json_response,
    new_request_id,
    read_json_object,
    reject_unknown,
    sim_time,
)

log = logging.getLogger(__name__)

DEFAULT_DENOMINATIONS: Final = tuple(Decimal(d) for d in (5, 10, 20, 50, 100, 200, 500))
PDF_PREFIX: Final = "data:application/pdf;base64,"
TPV_ACTIVE: Final = frozenset({"waiting_card", "pin", "processing"})
TPV_FINAL: Final = frozenset({"approved", "declined", "cancelled", "timeout", "error"})
TPV_AUTO_OUTCOMES: Final = ("approve", "decline", "timeout", "error")
DEVICES: Final = ("bill_reader", "tpv", "dispenser", "printer", "scanner")
RESTARTABLE: Final = ("printer", "dispenser", "scanner")
PAPER_LEVELS: Final = ("ok", "low", "out")
HOPPER_LOW: Final = 5
DEFAULT_CARD: Final = {"brand": "visa", "last4": "0010"}


@dataclass(frozen=True)
class TecalisConfig:
    """The simulated kiosk's settings; defaults match the app's default config."""

    username: str = "integrator"
    password: str = "integrator-secret"  # noqa: S105 - a simulator's well-known default
    kiosk_id: str = "KIOSK-001"
    kiosk_token: str = "sim-kiosk-token"  # noqa: S105
    integrator_ttl_s: float = 3600.0
    session_ttl_s: float = 900.0
    denominations: tuple[Decimal, ...] = DEFAULT_DENOMINATIONS
    escrow_timeout_s: float = 90.0
    tpv_window_s: float = 120.0
    cash_box_capacity: int = 500
    hopper_count: int = 50
    # Cards loaded in the hopper, first out first; None = a generated sequence of
    # ``hopper_count`` 13-digit barcodes starting at ``first_barcode``.
    barcodes: tuple[str, ...] | None = None
    first_barcode: str = "8412345678901"
    printer_paper: str = "ok"
    # The kiosk status's ``dispenser`` key: not in the vendor's documented status (the
    # real API has none); False leaves it out, as the real API does.
    status_reports_dispenser: bool = True

    def to_json(self) -> JsonObject:
        return {
            "kiosk_id": self.kiosk_id,
            "integrator_ttl_s": self.integrator_ttl_s,
            "session_ttl_s": self.session_ttl_s,
            "denominations": list(self.denominations),
            "escrow_timeout_s": self.escrow_timeout_s,
            "tpv_window_s": self.tpv_window_s,
            "cash_box_capacity": self.cash_box_capacity,
            "status_reports_dispenser": self.status_reports_dispenser,
        }


# ---------------------------------------------------------------------------
# Device state
# ---------------------------------------------------------------------------


@dataclass
class _Session:
    session_id: str
    kiosk_id: str
    record: bool
    opened_at: Decimal
    expires_at: float
    ended: str | None = None  # closed | expired
    ended_at: Decimal | None = None
    timer: TimerHandle | None = None

    def to_json(self) -> JsonObject:
        return {
            "session_id": self.session_id,
            "kiosk_id": self.kiosk_id,
            "record": self.record,
            "opened_at": self.opened_at,
            "expires_at": self.expires_at,
            "ended": self.ended,
            "ended_at": self.ended_at,
        }


@dataclass
class _Escrow:
    amount: Decimal
    since: Decimal
    session_id: str | None
    timer: TimerHandle | None = None


@dataclass
class _BillReader:
    phase: str = "idle"  # idle | ready | closed
    amount: Decimal | None = None
    callback: str | None = None
    session_id: str | None = None
    stacked_total: Decimal = Decimal(0)
    escrow: _Escrow | None = None
    jammed: bool = False
    jam_on_accept: bool = False
    offline: bool = False


@dataclass
class _CashBox:
    capacity: int
    by_denomination: dict[Decimal, int] = field(default_factory=dict)
    preloaded: int = 0  # notes of unknown value set through the control API

    @property
    def count(self) -> int:
        return self.preloaded + sum(self.by_denomination.values())

    @property
    def full(self) -> bool:
        return self.count >= self.capacity

    def to_json(self) -> JsonObject:
        return {
            "count_total": self.count,
            "capacity": self.capacity,
            "full": self.full,
            "by_denomination": {
                format_amount(d): n for d, n in sorted(self.by_denomination.items())
            },
            "preloaded": self.preloaded,
            "total_amount": sum((d * n for d, n in self.by_denomination.items()), start=Decimal(0)),
        }


@dataclass
class _Tpv:
    state: str = "idle"
    amount: Decimal | None = None
    callback: str | None = None
    session_id: str | None = None
    auth_code: str | None = None
    card: dict[str, str] | None = None
    window: TimerHandle | None = None
    window_ends_at: Decimal | None = None
    auto: str | None = None
    offline: bool = False

    @property
    def active(self) -> bool:
        return self.state in TPV_ACTIVE


@dataclass
class _Dispenser:
    hopper: list[str] = field(default_factory=list)
    position: str | None = None
    reject_bin: int = 0
    jammed: bool = False
    jam_next: bool = False
    unreadable_next: int = 0
    offline: bool = False
    next_generated: int = 0
    dispensed: list[JsonObject] = field(default_factory=list)
    discarded: list[JsonObject] = field(default_factory=list)


@dataclass
class _Printed:
    index: int
    pdf: bytes
    session_id: str | None
    at: Decimal

    def to_json(self) -> JsonObject:
        return {
            "index": self.index,
            "bytes": len(self.pdf),
            "session_id": self.session_id,
            "at": self.at,
        }


@dataclass
class _Printer:
    paper: str = "ok"
    offline: bool = False
    printed: list[_Printed] = field(default_factory=list)


@dataclass
class _Scanner:
    offline: bool = False
    scans: int = 0


# ---------------------------------------------------------------------------
# The scanned picture
# ---------------------------------------------------------------------------


@functools.cache
def scanned_id_card_jpeg() -> bytes:
    """A JPEG of a made-up ID card, 640x400, drawn once."""
    image = Image.new("RGB", (640, 400), (228, 232, 236))
    draw = ImageDraw.Draw(image)
    try:
        font: Any = ImageFont.load_default(size=20)
        small: Any = ImageFont.load_default(size=16)
    except TypeError:  # Pillow < 10.1: the fixed bitmap font
        font = small = ImageFont.load_default()
    draw.rounded_rectangle(
        (14, 14, 626, 386), radius=26, fill=(206, 224, 238), outline=(70, 96, 130), width=3
    )
    draw.rounded_rectangle((14, 14, 626, 70), radius=26, fill=(52, 86, 140))
    draw.rectangle((14, 50, 626, 70), fill=(52, 86, 140))
    draw.text((36, 28), "IDENTITY CARD  -  SIMULATED", fill=(255, 255, 255), font=font)
    draw.rectangle((36, 92, 196, 292), fill=(180, 190, 200), outline=(90, 100, 110), width=2)
    draw.ellipse((81, 112, 151, 192), fill=(150, 120, 100))
    draw.pieslice((56, 196, 176, 316), 180, 360, fill=(80, 90, 110))
    lines = [
        ("SURNAME", "SAMPLE"),
        ("GIVEN NAMES", "ALEX"),
        ("DATE OF BIRTH", "01 01 1990"),
        ("DOCUMENT NO", "SIM000000"),
        ("EXPIRES", "31 12 2035"),
    ]
    for row, (label, value) in enumerate(lines):
        y = 92 + row * 40
        draw.text((224, y), label, fill=(80, 90, 110), font=small)
        draw.text((224, y + 16), value, fill=(10, 20, 40), font=font)
    draw.rectangle((14, 316, 626, 386), fill=(236, 238, 240))
    draw.text((30, 326), "IDSIMSIM000000<<<<<<<<<<<<<<<", fill=(20, 20, 20), font=font)
    draw.text((30, 352), "9001011M3512315SIM<<<<<<<<<<<6", fill=(20, 20, 20), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


# ---------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------


def _device_name(raw: str) -> str:
    name = raw.replace("-", "_")
    if name not in DEVICES:
        raise SimError(
            404, "unknown_device", f"Unknown device {raw!r}; known: {', '.join(DEVICES)}"
        )
    return name


class TecalisSim(SimService):
    """The Tecalis kiosk API and its control routes."""

    name = "tecalis"
    prefix = "/tecalis"

    def __init__(
        self, clock: Clock, callbacks: CallbackDispatcher, config: TecalisConfig | None = None
    ) -> None:
        self._clock = clock
        self._callbacks = callbacks
        self._initial = config or TecalisConfig()
        self._secret = secrets.token_bytes(32)
        self._init_state()

    def _init_state(self) -> None:
        self.config = self._initial
        self._sessions: dict[str, _Session] = {}
        self._current: _Session | None = None
        self._bill = _BillReader()
        self._cash_box = _CashBox(capacity=self.config.cash_box_capacity)
        self._tpv = _Tpv()
        self._dispenser = _Dispenser()
        self._fill_hopper_initial()
        self._printer = _Printer(paper=self.config.printer_paper)
        self._scanner = _Scanner()

    def _fill_hopper_initial(self) -> None:
        if self.config.barcodes is not None:
            self._dispenser.hopper = list(self.config.barcodes)
        else:
            self._dispenser.hopper = [
                self._generate_barcode() for _ in range(self.config.hopper_count)
            ]

    def _generate_barcode(self) -> str:
        number = int(self.config.first_barcode) + self._dispenser.next_generated
        self._dispenser.next_generated += 1
        return f"{number:013d}"

    # -- SimService ---------------------------------------------------------
    def reset(self) -> None:
        self._cancel_timers()
        self._init_state()

    async def aclose(self) -> None:
        self._cancel_timers()

    def _cancel_timers(self) -> None:
        for session in self._sessions.values():
            if session.timer is not None:
                session.timer.cancel()
        if self._bill.escrow is not None and self._bill.escrow.timer is not None:
            self._bill.escrow.timer.cancel()
        if self._tpv.window is not None:
            self._tpv.window.cancel()

    def snapshot(self) -> JsonObject:
        self._expire_due()
        bill, tpv, dispenser = self._bill, self._tpv, self._dispenser
        return {
            "config": self.config.to_json(),
            "kiosk": {"kiosk_id": self.config.kiosk_id},
            "tokens": {
                "integrator_ttl_s": self.config.integrator_ttl_s,
                "session_ttl_s": self.config.session_ttl_s,
            },
            "session": None if self._current is None else self._current.to_json(),
            "sessions": [s.to_json() for s in self._sessions.values()],
            "bill_reader": {
                "state": self._bill_state(),
                "amount": bill.amount,
                "callback": bill.callback,
                "session_id": bill.session_id,
                "stacked_total": bill.stacked_total,
                "escrow": self._escrow_json(),
                "jammed": bill.jammed,
                "jam_on_accept": bill.jam_on_accept,
                "offline": bill.offline,
            },
            "cash_box": self._cash_box.to_json(),
            "tpv": {
                "state": tpv.state,
                "amount": tpv.amount,
                "callback": tpv.callback,
                "session_id": tpv.session_id,
                "auth_code": tpv.auth_code,
                "card": tpv.card,
                "window_ends_at": tpv.window_ends_at,
                "auto": tpv.auto,
                "offline": tpv.offline,
            },
            "dispenser": {
                "hopper": {
                    "count": len(dispenser.hopper),
                    "empty": not dispenser.hopper,
                    "low": len(dispenser.hopper) <= HOPPER_LOW,
                    "next_barcodes": dispenser.hopper[:5],
                },
                "card_position": "reader" if dispenser.position else "none",
                "prepared_barcode": dispenser.position,
                "reject_bin": dispenser.reject_bin,
                "jammed": dispenser.jammed,
                "jam_next": dispenser.jam_next,
                "unreadable_next": dispenser.unreadable_next,
                "offline": dispenser.offline,
                "dispensed": list(dispenser.dispensed),
                "discarded": list(dispenser.discarded),
            },
            "printer": {
                "paper": self._printer.paper,
                "offline": self._printer.offline,
                "printed": [p.to_json() for p in self._printer.printed],
            },
            "scanner": {"offline": self._scanner.offline, "scans": self._scanner.scans},
        }

    # -- helpers ------------------------------------------------------------
    def _now(self) -> Decimal:
        return sim_time(self._clock)

    def _ok(self, message: str | None = None, **fields: Any) -> web.Response:
        payload: JsonObject = {"success": True}
        if message is not None:
            payload["message"] = message
        payload.update(fields)
        payload["request_id"] = new_request_id()
        return json_response(payload)

    def _notify(
        self,
        url: str | None,
        session_id: str | None,
        event: str,
        timestamp: Decimal | None = None,
        **fields: Any,
    ) -> None:
        payload: JsonObject = {
            "event": event,
            "session_id": session_id,
            "request_id": new_request_id(),
            "timestamp": self._now() if timestamp is None else timestamp,
            **fields,
        }
        self._callbacks.send(self.name, url, payload)

    # -- tokens ---------------------------------------------------------------
    def _issue(self, claims: JsonObject, ttl: float) -> tuple[str, int]:
        iat = int(self._clock.time())
        exp = iat + max(1, round(ttl))
        token = jwt.encode(
            {**claims, "iat": iat, "exp": exp, "jti": secrets.token_hex(8)},
            self._secret,
            algorithm="HS256",
        )
        return token, exp

    def _claims(self, request: web.Request) -> JsonObject:
        header = request.headers.get("Authorization", "").strip()
        if not header:
            raise SimError(401, "token_missing", "Missing Authorization: Bearer <token>")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise SimError(401, "token_invalid", "Authorization must be 'Bearer <token>'")
        try:
            claims: JsonObject = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["exp", "iat", "lvl", "sub"],
                },
            )
        except jwt.PyJWTError as exc:
            raise SimError(401, "token_invalid", "Invalid token") from exc
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or isinstance(exp, bool):
            raise SimError(401, "token_invalid", "Invalid token")
        if self._clock.time() >= exp:
            raise SimError(401, "token_expired", "Token expired")
        return claims

    def _integrator(self, request: web.Request) -> JsonObject:
        claims = self._claims(request)
        if claims.get("lvl") != "integrator":
            raise SimError(403, "wrong_token_level", "This method needs an integrator token")
        return claims

    def _session(self, request: web.Request) -> _Session:
        self._expire_due()
        claims = self._claims(request)
        if claims.get("lvl") != "session":
            raise SimError(403, "wrong_token_level", "This method needs a session token")
        session = self._sessions.get(str(claims.get("sid")))
        if session is None or session.ended is not None:
            raise SimError(401, "session_closed", "The session of this token is closed")
        return session

    def _kiosk(self, kiosk_id: str) -> None:
        if kiosk_id != self.config.kiosk_id:
            raise SimError(404, "unknown_kiosk", f"Unknown kiosk {kiosk_id!r}")

    # -- sessions -------------------------------------------------------------
    def _expire_due(self) -> None:
        session = self._current
        if session is not None and self._clock.time() >= session.expires_at:
            self._end_session(session, "expired")

    def _end_session(self, session: _Session, reason: str) -> None:
        if session.ended is not None:
            return
        session.ended, session.ended_at = reason, self._now()
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None
        if self._current is session:
            self._current = None
        note_reason = "timeout" if reason == "expired" else "rejected"
        if self._bill.phase != "idle" or self._bill.escrow is not None:
            self._close_bill_reader(note_reason)
        if self._tpv.state in ("waiting_card", "pin"):
            self._tpv_set("cancelled")
        log.info("session %s %s", session.session_id, reason)

    async def auth(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        username = body_str(body, "username", required=True)
        password = body_str(body, "password", required=True)
        ok_user = secrets.compare_digest(str(username), self.config.username)
        ok_password = secrets.compare_digest(str(password), self.config.password)
        if not (ok_user and ok_password):
            raise SimError(401, "invalid_credentials", "Invalid username or password")
        token, _ = self._issue({"sub": username, "lvl": "integrator"}, self.config.integrator_ttl_s)
        return self._ok(token=token)

    async def session_start(self, request: web.Request) -> web.Response:
        self._integrator(request)
        body = await read_json_object(request)
        kiosk_id = body_str(body, "kiosk_id")
        kiosk_token = body_str(body, "kiosk_token")
        record = body_bool(body, "record") or False
        if kiosk_id is None and kiosk_token is None:
            raise SimError(422, "invalid_request", "'kiosk_id' or 'kiosk_token' is required")
        if kiosk_token is not None:
            if not secrets.compare_digest(kiosk_token, self.config.kiosk_token):
                raise SimError(404, "unknown_kiosk", "Unknown kiosk token")
            if kiosk_id is not None and kiosk_id != self.config.kiosk_id:
                raise SimError(422, "invalid_request", "'kiosk_id' does not match 'kiosk_token'")
            kiosk_id = self.config.kiosk_id
        assert kiosk_id is not None
        self._kiosk(kiosk_id)
        self._expire_due()
        if self._current is not None:
            raise SimError(
                409,
                "session_already_open",
                "A session is already open on this kiosk; close it first",
            )
        session_id = "ses_" + secrets.token_hex(12)
        token, exp = self._issue(
            {"sub": kiosk_id, "lvl": "session", "sid": session_id}, self.config.session_ttl_s
        )
        session = _Session(session_id, kiosk_id, record, opened_at=self._now(), expires_at=exp)
        session.timer = self._clock.call_later(
            exp - self._clock.time(), lambda: self._end_session(session, "expired")
        )
        self._sessions[session_id] = session
        self._current = session
        self._new_session_devices(session_id)
        return self._ok("Session open", kiosk_id=kiosk_id, session_id=session_id, token=token)

    def _new_session_devices(self, session_id: str) -> None:
        bill = self._bill
        bill.phase, bill.amount, bill.callback = "idle", None, None
        bill.stacked_total = Decimal(0)
        bill.session_id = session_id

    async def session_close(self, request: web.Request) -> web.Response:
        session = self._session(request)
        self._end_session(session, "closed")
        return self._ok("Session closed")

    # -- bill reader ------------------------------------------------------------
    def _bill_state(self) -> str:
        bill = self._bill
        if bill.jammed:
            return "jammed"
        if bill.escrow is not None:
            return "escrow"
        if self._cash_box.full and bill.phase != "closed":
            return "full"
        return bill.phase

    def _escrow_json(self) -> JsonObject | None:
        escrow = self._bill.escrow
        return None if escrow is None else {"amount": escrow.amount, "since": escrow.since}

    def _bill_notify(self, event: str, timestamp: Decimal | None = None, **fields: Any) -> None:
        self._notify(self._bill.callback, self._bill.session_id, event, timestamp, **fields)

    def _bill_online(self) -> None:
        if self._bill.offline:
            raise SimError(503, "bill_reader_offline", "The bill reader is offline")

    def _bill_open_check(self) -> None:
        self._bill_online()
        if self._bill.jammed:
            raise SimError(409, "bill_reader_jammed", "The bill reader is jammed")
        if self._bill.phase != "ready":
            raise SimError(409, "bill_reader_closed", "The bill reader is not open")

    def _return_note(self, reason: str) -> None:
        escrow = self._bill.escrow
        if escrow is None:
            return
        if escrow.timer is not None:
            escrow.timer.cancel()
        self._bill.escrow = None
        self._bill_notify("bill.returned", amount=escrow.amount, reason=reason)

    def _stack_note(self) -> Decimal:
        escrow = self._bill.escrow
        assert escrow is not None
        if escrow.timer is not None:
            escrow.timer.cancel()
        self._bill.escrow = None
        box = self._cash_box
        box.by_denomination[escrow.amount] = box.by_denomination.get(escrow.amount, 0) + 1
        self._bill.stacked_total += escrow.amount
        self._bill_notify("bill.stacked", amount=escrow.amount)
        if box.full:
            self._bill_notify("bill.full")
        return escrow.amount

    def _close_bill_reader(self, note_reason: str) -> None:
        if not self._bill.jammed:
            self._return_note(note_reason)
        self._bill.phase = "closed"

    def _escrow_timeout(self, escrow: _Escrow) -> None:
        if self._bill.escrow is escrow and not self._bill.jammed:
            self._return_note("timeout")

    async def bill_open(self, request: web.Request) -> web.Response:
        session = self._session(request)
        body = await read_json_object(request)
        amount = body_amount(body, "amount")
        callback = body_callback_url(body)
        self._bill_online()
        bill = self._bill
        if bill.jammed:
            raise SimError(409, "bill_reader_jammed", "The bill reader is jammed")
        if self._cash_box.full:
            raise SimError(409, "cash_box_full", "The cash box is full")
        if bill.phase != "ready":
            bill.stacked_total = Decimal(0)
        bill.phase, bill.amount, bill.callback = "ready", amount, callback
        bill.session_id = session.session_id
        return self._ok("Bill reader open", state=self._bill_state(), amount=amount)

    async def bill_status(self, request: web.Request) -> web.Response:
        self._session(request)
        self._bill_online()
        bill = self._bill
        return self._ok(
            state=self._bill_state(),
            escrow=self._escrow_json(),
            stacked_total=bill.stacked_total,
            amount=bill.amount,
        )

    async def bill_accept(self, request: web.Request) -> web.Response:
        self._session(request)
        self._bill_open_check()
        escrow = self._bill.escrow
        if escrow is None:
            raise SimError(409, "no_note_in_escrow", "There is no note in escrow")
        if self._bill.jam_on_accept:
            self._bill.jam_on_accept = False
            self._jam_bill_reader()
            raise SimError(409, "bill_reader_jammed", "The bill reader jammed stacking the note")
        amount = self._stack_note()
        return self._ok("Note stacked", amount=amount, stacked_total=self._bill.stacked_total)

    async def bill_reject(self, request: web.Request) -> web.Response:
        self._session(request)
        self._bill_open_check()
        escrow = self._bill.escrow
        if escrow is None:
            raise SimError(409, "no_note_in_escrow", "There is no note in escrow")
        self._return_note("rejected")
        return self._ok("Note returned", amount=escrow.amount)

    async def bill_close(self, request: web.Request) -> web.Response:
        self._session(request)
        self._bill_online()
        self._close_bill_reader("rejected")
        return self._ok(
            "Bill reader closed", state=self._bill_state(), stacked_total=self._bill.stacked_total
        )

    def _jam_bill_reader(self) -> None:
        bill = self._bill
        bill.jammed = True
        fields: JsonObject = {}
        if bill.escrow is not None:
            if bill.escrow.timer is not None:
                bill.escrow.timer.cancel()
                bill.escrow.timer = None
            fields["amount"] = bill.escrow.amount
        self._bill_notify("bill.jam", **fields)

    # -- TPV ------------------------------------------------------------------
    def _tpv_set(self, state: str) -> None:
        tpv = self._tpv
        tpv.state = state
        self._notify(tpv.callback, tpv.session_id, "tpv.status", state=state)
        if state in TPV_FINAL:
            if tpv.window is not None:
                tpv.window.cancel()
                tpv.window = None
            tpv.window_ends_at = None
            self._notify(
                tpv.callback,
                tpv.session_id,
                "tpv.result",
                state=state,
                amount=tpv.amount,
                auth_code=tpv.auth_code,
                card=tpv.card,
            )

    def _tpv_window_over(self) -> None:
        self._tpv.window = None
        if self._tpv.state in ("waiting_card", "pin"):
            self._tpv_set("timeout")

    def _tpv_present(self, card: dict[str, str] | None = None) -> None:
        self._tpv.card = dict(card or DEFAULT_CARD)
        self._tpv_set("pin")

    def _tpv_to_processing(self) -> None:
        if self._tpv.state == "waiting_card":
            self._tpv_present()
        if self._tpv.state == "pin":
            self._tpv_set("processing")

    def _tpv_finish(self, outcome: str) -> None:
        """approve / decline walk the remaining states; error and timeout jump."""
        if outcome == "approve":
            self._tpv_to_processing()
            self._tpv.auth_code = f"{random.randrange(1_000_000):06d}"
            self._tpv_set("approved")
        elif outcome == "decline":
            self._tpv_to_processing()
            self._tpv_set("declined")
        elif outcome == "timeout":
            self._tpv_set("timeout")
        else:
            self._tpv_set("error")

    async def tpv_prepare(self, request: web.Request) -> web.Response:
        session = self._session(request)
        body = await read_json_object(request)
        amount = body_amount(body, "amount")
        callback = body_callback_url(body)
        tpv = self._tpv
        if tpv.offline:
            raise SimError(503, "tpv_offline", "The card terminal is offline")
        if tpv.active:
            raise SimError(409, "tpv_busy", "A card payment is already in progress")
        tpv.amount, tpv.callback, tpv.session_id = amount, callback, session.session_id
        tpv.auth_code, tpv.card = None, None
        tpv.window_ends_at = self._now() + Decimal(repr(self.config.tpv_window_s))
        tpv.window = self._clock.call_later(self.config.tpv_window_s, self._tpv_window_over)
        self._tpv_set("waiting_card")
        if tpv.auto is not None:
            self._tpv_finish(tpv.auto)
        return self._ok("Payment prepared", state=tpv.state, amount=amount)

    async def tpv_status(self, request: web.Request) -> web.Response:
        self._session(request)
        tpv = self._tpv
        return self._ok(state=tpv.state, amount=tpv.amount, auth_code=tpv.auth_code, card=tpv.card)

    async def tpv_cancel(self, request: web.Request) -> web.Response:
        self._session(request)
        tpv = self._tpv
        if tpv.state == "processing":
            raise SimError(
                409, "tpv_not_cancellable", "The payment is processing; it cannot be cancelled"
            )
        if not tpv.active:
            raise SimError(409, "no_tpv_payment", "There is no card payment to cancel")
        self._tpv_set("cancelled")
        return self._ok("Payment cancelled", state=tpv.state)

    # -- dispenser ------------------------------------------------------------
    def _dispenser_online(self) -> None:
        if self._dispenser.offline:
            raise SimError(503, "dispenser_offline", "The card dispenser is offline")

    def _dispenser_ready(self) -> None:
        self._dispenser_online()
        if self._dispenser.jammed:
            raise SimError(409, "dispenser_jammed", "The card dispenser is jammed")

    def _card_in_position(self) -> str:
        if self._dispenser.position is None:
            raise SimError(409, "no_card_prepared", "No card in the reader position")
        return self._dispenser.position

    async def dispenser_prepare(self, request: web.Request) -> web.Response:
        self._session(request)
        self._dispenser_ready()
        dispenser = self._dispenser
        if dispenser.position is not None:
            raise SimError(409, "card_already_prepared", "A card is already in the reader position")
        if not dispenser.hopper:
            raise SimError(409, "hopper_empty", "The card hopper is empty")
        if dispenser.jam_next:
            dispenser.jam_next, dispenser.jammed = False, True
            raise SimError(409, "dispenser_jammed", "The card dispenser jammed")
        dispenser.position = dispenser.hopper.pop(0)
        return self._ok("Card prepared")

    async def dispenser_dispense(self, request: web.Request) -> web.Response:
        session = self._session(request)
        self._dispenser_ready()
        barcode = self._card_in_position()
        self._dispenser.position = None
        self._dispenser.dispensed.append(
            {"barcode": barcode, "session_id": session.session_id, "at": self._now()}
        )
        return self._ok("Card dispensed")

    async def dispenser_discard(self, request: web.Request) -> web.Response:
        session = self._session(request)
        self._dispenser_ready()
        barcode = self._card_in_position()
        self._dispenser.position = None
        self._dispenser.reject_bin += 1
        self._dispenser.discarded.append(
            {"barcode": barcode, "session_id": session.session_id, "at": self._now()}
        )
        return self._ok("Card discarded")

    async def barcode_read(self, request: web.Request) -> web.Response:
        self._session(request)
        self._dispenser_online()
        barcode = self._card_in_position()
        if self._dispenser.unreadable_next > 0:
            self._dispenser.unreadable_next -= 1
            raise SimError(422, "barcode_unreadable", "The barcode could not be read")
        return self._ok(barcode=barcode)

    # -- printer and scanner ----------------------------------------------------
    async def print_pdf(self, request: web.Request) -> web.Response:
        session = self._session(request)
        body = await read_json_object(request)
        data = body_str(body, "pdf", required=True)
        assert data is not None
        if not data.startswith(PDF_PREFIX):
            raise SimError(400, "invalid_pdf", f"'pdf' must start with {PDF_PREFIX}")
        try:
            pdf = base64.b64decode("".join(data[len(PDF_PREFIX) :].split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise SimError(400, "invalid_pdf", "'pdf' is not valid base64") from exc
        if not pdf.startswith(b"%PDF-"):
            raise SimError(400, "invalid_pdf", "'pdf' is not a PDF document")
        if self._printer.offline:
            raise SimError(503, "printer_offline", "The printer is offline")
        if self._printer.paper == "out":
            raise SimError(409, "paper_out", "The printer is out of paper")
        printed = self._printer.printed
        printed.append(_Printed(len(printed), pdf, session.session_id, self._now()))
        return self._ok("Printed")

    async def scan(self, request: web.Request) -> web.Response:
        self._session(request)
        if self._scanner.offline:
            raise SimError(503, "scanner_offline", "The scanner is offline")
        self._scanner.scans += 1
        image = base64.b64encode(scanned_id_card_jpeg()).decode("ascii")
        return self._ok("Scan done", image="data:image/jpeg;base64," + image)

    # -- integrator kiosk methods -------------------------------------------------
    def _printer_status_text(self) -> str:
        if self._printer.offline:
            return "Offline"
        return {"ok": "Online", "low": "Paper low", "out": "Paper out"}[self._printer.paper]

    def _dispenser_status_text(self) -> str:
        dispenser = self._dispenser
        if dispenser.offline:
            return "Offline"
        if dispenser.jammed:
            return "Jammed"
        if not dispenser.hopper:
            return "Empty"
        return "Low" if len(dispenser.hopper) <= HOPPER_LOW else "Ready"

    def _bill_status_text(self) -> str:
        if self._bill.offline:
            return "Offline"
        if self._bill.jammed:
            return "Jammed"
        return "Full" if self._cash_box.full else "Ready"

    async def kiosk_status(self, request: web.Request) -> web.Response:
        self._integrator(request)
        self._kiosk(request.match_info["kiosk_id"])
        self._expire_due()
        tpv = "Offline" if self._tpv.offline else ("Busy" if self._tpv.active else "Ready")
        data = {
            "cpu": "Normal",
            "printer": self._printer_status_text(),
            "tpv": tpv,
            "scanner": "Offline" if self._scanner.offline else "Online",
            "bill_reader": self._bill_status_text(),
        }
        if self.config.status_reports_dispenser:
            data["dispenser"] = self._dispenser_status_text()
        return self._ok(data=data)

    async def kiosk_printer_status(self, request: web.Request) -> web.Response:
        self._integrator(request)
        self._kiosk(request.match_info["kiosk_id"])
        errors = []
        if self._printer.offline:
            errors.append("offline")
        if self._printer.paper == "out":
            errors.append("paper_out")
        data = {"online": not self._printer.offline, "paper": self._printer.paper, "errors": errors}
        return self._ok(data=data)

    async def kiosk_dispenser_status(self, request: web.Request) -> web.Response:
        self._integrator(request)
        self._kiosk(request.match_info["kiosk_id"])
        dispenser = self._dispenser
        errors = []
        if dispenser.offline:
            errors.append("offline")
        if dispenser.jammed:
            errors.append("jammed")
        if not dispenser.hopper:
            errors.append("hopper_empty")
        data = {
            "hopper": {
                "count": len(dispenser.hopper),
                "empty": not dispenser.hopper,
                "low": len(dispenser.hopper) <= HOPPER_LOW,
            },
            "card_position": "reader" if dispenser.position else "none",
            "reject_bin": dispenser.reject_bin,
            "jammed": dispenser.jammed,
            "errors": errors,
        }
        return self._ok(data=data)

    async def kiosk_restart(self, request: web.Request) -> web.Response:
        self._integrator(request)
        self._kiosk(request.match_info["kiosk_id"])
        device = request.match_info["device"]
        if device not in RESTARTABLE:
            raise SimError(404, "unknown_device", f"Unknown device {device!r}")
        if device == "printer":
            self._printer.offline = False
        elif device == "scanner":
            self._scanner.offline = False
        else:
            self._dispenser.offline = False
            self._dispenser.jammed = self._dispenser.jam_next = False
        return self._ok(f"Restarting {device}")

    def build_app(self) -> web.Application:
        app = web.Application()
        r = app.router
        r.add_post("/api/auth", self.auth)
        r.add_post("/api/session/start", self.session_start)
        r.add_post("/api/session/close", self.session_close)
        r.add_post("/api/session/bill-reader/open", self.bill_open)
        r.add_get("/api/session/bill-reader/status", self.bill_status)
        r.add_post("/api/session/bill-reader/accept", self.bill_accept)
        r.add_post("/api/session/bill-reader/reject", self.bill_reject)
        r.add_post("/api/session/bill-reader/close", self.bill_close)
        r.add_post("/api/session/tpv/prepare", self.tpv_prepare)
        r.add_get("/api/session/tpv/status", self.tpv_status)
        r.add_post("/api/session/tpv/cancel", self.tpv_cancel)
        r.add_post("/api/session/dispenser/prepare", self.dispenser_prepare)
        r.add_post("/api/session/dispenser/dispense", self.dispenser_dispense)
        r.add_post("/api/session/dispenser/discard", self.dispenser_discard)
        r.add_get("/api/session/barcode-reader/read", self.barcode_read)
        r.add_post("/api/session/printer/print-pdf", self.print_pdf)
        r.add_get("/api/session/scanner/scan", self.scan)
        r.add_get("/api/kiosk/{kiosk_id}/status", self.kiosk_status)
        r.add_get("/api/kiosk/{kiosk_id}/printer/status", self.kiosk_printer_status)
        r.add_get("/api/kiosk/{kiosk_id}/dispenser/status", self.kiosk_dispenser_status)
        r.add_post("/api/kiosk/{kiosk_id}/{device}/restart", self.kiosk_restart)
        return app

    # -- control API ------------------------------------------------------------
    def build_control_app(self) -> web.Application:
        app = web.Application()
        r = app.router
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/state", self.ctl_state),
            ("GET", "/events", self.ctl_events),
            ("POST", "/reset", self.ctl_reset),
            ("POST", "/config", self.ctl_config),
            ("POST", "/bill-reader/insert", self.ctl_insert),
            ("POST", "/bill-reader/jam", self.ctl_jam),
            ("POST", "/bill-reader/clear-jam", self.ctl_clear_jam),
            ("POST", "/bill-reader/cash-box", self.ctl_cash_box),
            ("POST", "/tpv/present", self.ctl_tpv_present),
            ("POST", "/tpv/pin", self.ctl_tpv_pin),
            ("POST", "/tpv/approve", self.ctl_tpv_approve),
            ("POST", "/tpv/decline", self.ctl_tpv_decline),
            ("POST", "/tpv/error", self.ctl_tpv_error),
            ("POST", "/tpv/auto", self.ctl_tpv_auto),
            ("POST", "/dispenser", self.ctl_dispenser),
            ("POST", "/printer", self.ctl_printer),
            ("GET", "/printer/printed", self.ctl_printed),
            ("GET", r"/printer/printed/{index:\d+}.pdf", self.ctl_printed_pdf),
            ("POST", "/scanner", self.ctl_scanner),
            ("POST", "/devices/{device}/offline", self.ctl_offline),
        ]
        for method, path, handler in routes:
            r.add_route(method, path, handler)
        return app

    def _ctl_ok(self, **fields: Any) -> web.Response:
        return json_response({"success": True, **fields})

    async def ctl_state(self, request: web.Request) -> web.Response:
        return self._ctl_ok(**self.snapshot())

    async def ctl_events(self, request: web.Request) -> web.Response:
        return self._ctl_ok(events=self._callbacks.events(self.name))

    async def ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return self._ctl_ok(message="Tecalis simulator reset")

    async def ctl_config(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(
            body,
            {
                "session_ttl_s",
                "integrator_ttl_s",
                "escrow_timeout_s",
                "tpv_window_s",
                "denominations",
                "cash_box_capacity",
                "status_reports_dispenser",
            },
        )
        changes: dict[str, Any] = {}
        for name in ("session_ttl_s", "integrator_ttl_s", "escrow_timeout_s", "tpv_window_s"):
            seconds = body_seconds(body, name, positive=True)
            if seconds is not None:
                changes[name] = seconds
        capacity = body_int(body, "cash_box_capacity", minimum=1)
        if capacity is not None:
            changes["cash_box_capacity"] = capacity
        reports_dispenser = body_bool(body, "status_reports_dispenser")
        if reports_dispenser is not None:
            changes["status_reports_dispenser"] = reports_dispenser
        if "denominations" in body:
            raw = body["denominations"]
            if not isinstance(raw, list) or not raw:
                raise SimError(422, "invalid_request", "'denominations' must be a list of amounts")
            changes["denominations"] = tuple(
                sorted(
                    {body_amount({"denomination": d}, "denomination") or Decimal(0) for d in raw}
                )
            )
        self.config = dataclasses.replace(self.config, **changes)
        self._cash_box.capacity = self.config.cash_box_capacity
        return self._ctl_ok(config=self.config.to_json())

    async def ctl_insert(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"amount", "unrecognised"})
        unrecognised = body_bool(body, "unrecognised") or False
        amount = None if unrecognised else body_amount(body, "amount")
        bill = self._bill
        if bill.offline:
            raise SimError(409, "bill_reader_offline", "The bill reader is offline")
        if bill.jammed:
            raise SimError(
                409, "bill_reader_jammed", "The bill reader is jammed; clear the jam first"
            )
        if bill.phase != "ready":
            raise SimError(
                409,
                "bill_reader_not_open",
                f"The bill reader is {self._bill_state()}: open it through the API first",
            )
        if bill.escrow is not None:
            raise SimError(
                409, "note_in_escrow", "A note is already in escrow; accept or reject it first"
            )
        if self._cash_box.full:
            raise SimError(409, "cash_box_full", "The cash box is full; empty it first")
        if amount is None or amount not in self.config.denominations:
            self._bill_notify("bill.returned", amount=None, reason="unrecognised")
            return self._ctl_ok(result="returned", reason="unrecognised", amount=amount)
        since = self._now()
        escrow = _Escrow(amount, since, bill.session_id)
        escrow.timer = self._clock.call_later(
            self.config.escrow_timeout_s, lambda: self._escrow_timeout(escrow)
        )
        bill.escrow = escrow
        self._bill_notify("bill.escrow", timestamp=since, amount=amount)
        return self._ctl_ok(result="escrow", amount=amount, since=since)

    async def ctl_jam(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"when"})
        when = body.get("when", "on_accept")
        if when == "now":
            if not self._bill.jammed:
                self._jam_bill_reader()
        elif when == "on_accept":
            self._bill.jam_on_accept = True
        elif when is None:
            self._bill.jam_on_accept = False
        else:
            raise SimError(422, "invalid_request", "'when' must be 'now', 'on_accept' or null")
        return self._ctl_ok(bill_reader=self.snapshot()["bill_reader"])

    async def ctl_clear_jam(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"note"})
        note = body.get("note", "returned")
        if note not in ("returned", "stacked"):
            raise SimError(422, "invalid_request", "'note' must be 'returned' or 'stacked'")
        if not self._bill.jammed:
            raise SimError(409, "not_jammed", "The bill reader is not jammed")
        self._bill.jammed = False
        self._bill.jam_on_accept = False
        if self._bill.escrow is not None:
            if note == "stacked":
                self._stack_note()
            else:
                self._return_note("rejected")
        return self._ctl_ok(bill_reader=self.snapshot()["bill_reader"])

    async def ctl_cash_box(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"count_total", "empty"})
        box = self._cash_box
        was_full = box.full
        if body_bool(body, "empty"):
            box.by_denomination.clear()
            box.preloaded = 0
        count = body_int(body, "count_total", minimum=0)
        if count is not None:
            box.by_denomination.clear()
            box.preloaded = count
        if box.full and not was_full and self._bill.phase == "ready":
            self._bill_notify("bill.full")
        return self._ctl_ok(cash_box=box.to_json(), state=self._bill_state())

    def _tpv_require(self, states: set[str] | frozenset[str], action: str) -> None:
        if self._tpv.state not in states:
            raise SimError(
                409,
                "tpv_wrong_state",
                f"Cannot {action}: the TPV is {self._tpv.state}",
            )

    async def ctl_tpv_present(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"brand", "last4"})
        brand = body_str(body, "brand") or DEFAULT_CARD["brand"]
        last4 = body_str(body, "last4") or DEFAULT_CARD["last4"]
        if len(last4) != 4 or not last4.isdigit():
            raise SimError(422, "invalid_request", "'last4' must be 4 digits")
        self._tpv_require({"waiting_card"}, "present a card")
        self._tpv_present({"brand": brand, "last4": last4})
        return self._ctl_ok(tpv=self.snapshot()["tpv"])

    async def ctl_tpv_pin(self, request: web.Request) -> web.Response:
        self._tpv_require({"pin"}, "enter a PIN")
        self._tpv_set("processing")
        return self._ctl_ok(tpv=self.snapshot()["tpv"])

    async def _ctl_tpv_outcome(self, outcome: str) -> web.Response:
        self._tpv_require(TPV_ACTIVE, outcome)
        self._tpv_finish(outcome)
        return self._ctl_ok(tpv=self.snapshot()["tpv"])

    async def ctl_tpv_approve(self, request: web.Request) -> web.Response:
        return await self._ctl_tpv_outcome("approve")

    async def ctl_tpv_decline(self, request: web.Request) -> web.Response:
        return await self._ctl_tpv_outcome("decline")

    async def ctl_tpv_error(self, request: web.Request) -> web.Response:
        return await self._ctl_tpv_outcome("error")

    async def ctl_tpv_auto(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"outcome"})
        outcome = body.get("outcome")
        if outcome is not None and outcome not in TPV_AUTO_OUTCOMES:
            raise SimError(
                422,
                "invalid_request",
                f"'outcome' must be one of {', '.join(TPV_AUTO_OUTCOMES)} or null",
            )
        self._tpv.auto = outcome
        return self._ctl_ok(auto=outcome)

    async def ctl_dispenser(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"hopper", "barcodes", "jam_next", "unreadable_next"})
        dispenser = self._dispenser
        if "barcodes" in body:
            barcodes = body["barcodes"]
            if not isinstance(barcodes, list) or not all(isinstance(b, str) for b in barcodes):
                raise SimError(422, "invalid_request", "'barcodes' must be a list of strings")
            dispenser.hopper = list(barcodes)
        hopper = body_int(body, "hopper", minimum=0)
        if hopper is not None:
            del dispenser.hopper[hopper:]
            while len(dispenser.hopper) < hopper:
                dispenser.hopper.append(self._generate_barcode())
        jam_next = body_bool(body, "jam_next")
        if jam_next is not None:
            dispenser.jam_next = jam_next
        unreadable = body_int(body, "unreadable_next", minimum=0)
        if unreadable is not None:
            dispenser.unreadable_next = unreadable
        return self._ctl_ok(dispenser=self.snapshot()["dispenser"])

    async def ctl_printer(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"paper", "offline"})
        paper = body.get("paper")
        if paper is not None:
            if paper not in PAPER_LEVELS:
                raise SimError(422, "invalid_request", "'paper' must be 'ok', 'low' or 'out'")
            self._printer.paper = paper
        offline = body_bool(body, "offline")
        if offline is not None:
            self._printer.offline = offline
        return self._ctl_ok(printer=self.snapshot()["printer"])

    async def ctl_printed(self, request: web.Request) -> web.Response:
        return self._ctl_ok(printed=[p.to_json() for p in self._printer.printed])

    async def ctl_printed_pdf(self, request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        if index >= len(self._printer.printed):
            raise SimError(404, "not_found", f"No printed document {index}")
        return web.Response(body=self._printer.printed[index].pdf, content_type="application/pdf")

    async def ctl_scanner(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"offline"})
        offline = body_bool(body, "offline")
        if offline is not None:
            self._scanner.offline = offline
        return self._ctl_ok(scanner=self.snapshot()["scanner"])

    async def ctl_offline(self, request: web.Request) -> web.Response:
        device = _device_name(request.match_info["device"])
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"offline"})
        offline = body.get("offline", True)
        if not isinstance(offline, bool):
            raise SimError(422, "invalid_request", "'offline' must be true or false")
        if device == "bill_reader":
            self._bill.offline = offline
        elif device == "tpv":
            self._tpv.offline = offline
        elif device == "dispenser":
            self._dispenser.offline = offline
        elif device == "printer":
            self._printer.offline = offline
        else:
            self._scanner.offline = offline
        return self._ctl_ok(device=device, offline=offline)


__all__ = ["DEFAULT_DENOMINATIONS", "TecalisConfig", "TecalisSim", "scanned_id_card_jpeg"]
