"""A faithful simulator of the KOMOJU Cloud Terminal API (sessions, terminals, payments).

Mounted at ``/komoju`` (so the API is at ``/komoju/api/v1/...``); control
routes at ``/_sim/komoju/``. One merchant account with one or more cloud
terminals (default ``sim-terminal-1``).

Documented by the vendor (the Cloud Terminal API page and KOMOJU's
Errors, Idempotent requests and Webhooks pages): HTTP Basic with the secret
key as user name; ``POST /api/v1/sessions`` and its session object;
``GET /api/v1/sessions/{id}``; ``POST /api/v1/terminals/{terminal_id}/sessions/
{session_id}/push|print|cancel`` answering ``{"status":"success"}`` or
``{"error":{"code":"error","message"}}`` with the documented messages; a
cancelled session cannot be paid; error bodies ``{"error":{"code","message",
"param"}}``; ``X-KOMOJU-IDEMPOTENCY`` replays the first answer; webhooks
``{"id","type","resource":"event","data":<payment>,"created_at","reason"}``
signed with ``X-Komoju-Signature`` = hex HMAC-SHA256 of the raw body, with
``X-Komoju-Event`` and ``X-Komoju-ID`` headers. The session and payment JSON
have exactly the seed's fields.

Everything else here is ASSUMED, and lives only in this module (and in the
client's module docstring):

* Terminal requests that fail answer HTTP 422 with code ``"error"``: push of
  a session that is not pending (completed, cancelled, or expired) →
  "Session must be pending to be pushed to the device."; terminal offline →
  "Terminal is offline."; terminal busy with another session's card →
  "Terminal is busy with another session."; cancel of a completed session,
  or of one whose payment is being authorised (``processing``) → "Could not
  cancel session."; print of a session that is not completed, or printer
  fault → "Could not print session on device.". Unknown terminal or session
  → 404 ``not_found``.
* Pushing the session the terminal already shows succeeds and changes
  nothing; cancelling a cancelled session succeeds; cancelling works on any
  pending or expired session, pushed or not.
* Terminal phases ``idle`` → ``waiting`` (pushed, "present card") →
  ``card_presented`` (a ``payment`` in status ``pending`` appears, webhook
  ``payment.updated``; still cancellable) → ``processing`` (authorising: not
  cancellable) → the outcome. Approve: payment ``captured`` (``authorized``
  when the session's capture is ``manual``), session ``completed``; webhook
  ``payment.captured`` / ``payment.authorized``. Decline: payment
  ``failed`` (webhook ``payment.failed``); the session stays ``pending`` and
  the terminal waits for another card. The customer can also cancel on the
  terminal (session ``cancelled``).
* Sessions expire ``session_ttl_s`` (default 600 s of simulated time) after
  creation unless completed or cancelled: ``expired: true``, status kept, a
  pending payment becomes ``expired`` (webhook ``payment.expired``). A payment
  being authorised finishes first; the session expires right after.
* Refund: ``POST /api/v1/payments/{id}/refund`` ``{"amount"?, "description"?}``
  (default: what is left) on a ``captured`` payment; full → status
  ``refunded`` (webhook ``payment.refunded``), partial → stays captured
  (webhook ``payment.refund.created``); otherwise 422 ``not_refundable``; an
  amount over what is left → 422 ``invalid_parameter`` (param ``amount``).
  Cancel: ``POST /api/v1/payments/{id}/cancel`` on a ``pending`` or
  ``authorized`` payment → ``cancelled`` (webhook ``payment.cancelled``);
  otherwise 422 ``not_cancellable``. Both answer the payment object.
* Idempotency keys are kept for the simulator's lifetime; a key reused for a
  different request → 422 ``bad_request``.
* Ids are 25 lower-case base-36 characters; session times are JST
  (``+09:00`` with milliseconds), payment and event times UTC (``Z``).
* Webhooks go to the URL registered through the control route ``webhook``
  (KOMOJU's dashboard setting); with none registered they are logged with fate
  ``no_url``. The secret defaults to the app's default ``whsec_sim``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import hmac
import logging
import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler

from kioskapp.core.clock import Clock, TimerHandle
from kioskapp.core.money import CURRENCY_EXPONENTS
from kioskapp.devices.callbacks import hmac_sha256_hex
from kioskapp.simulator.framework import (
    CallbackDispatcher,
    JsonObject,
    SimError,
    SimService,
    body_bool,
    body_callback_url,
    body_int,
    body_seconds,
    body_str,
    json_response,
    parse_json_object,
    read_json_object,
    reject_unknown,
)

log = logging.getLogger(__name__)

PAYMENT_TYPE: Final = "credit_card_terminal"
LOCALES: Final = ("ja", "en", "ko", "zh")
PHASES: Final = ("idle", "waiting", "card_presented", "processing")
DEFAULT_CARD: Final = {"brand": "visa", "last4": "0010", "month": 11, "year": 2030}
MAX_WAIT_S: Final = 10.0
JST: Final = timezone(timedelta(hours=9))
_ID_CHARS: Final = string.ascii_lowercase + string.digits

MSG_NOT_PENDING: Final = "Session must be pending to be pushed to the device."
MSG_PRINT: Final = "Could not print session on device."
MSG_CANCEL: Final = "Could not cancel session."


def new_id() -> str:
    """An id like KOMOJU's: 25 lower-case base-36 characters."""
    return "".join(secrets.choice(_ID_CHARS) for _ in range(25))


@dataclass(frozen=True)
class KomojuConfig:
    """The simulated account; defaults match the app's default config."""

    secret_key: str = "sk_test_sim"  # noqa: S105 - a simulator's well-known default
    webhook_secret: str = "whsec_sim"  # noqa: S105
    webhook_url: str | None = None
    terminals: tuple[str, ...] = ("sim-terminal-1",)
    session_ttl_s: float = 600.0
    public_url: str = "https://komoju.com"

    def to_json(self) -> JsonObject:
        return {
            "terminals": list(self.terminals),
            "session_ttl_s": self.session_ttl_s,
            "webhook_url": self.webhook_url,
        }


class KomojuSimError(SimError):
    """A KOMOJU error answer, with the ``param`` KOMOJU names for validation errors."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None) -> None:
        super().__init__(status, code, message)
        self.param = param


def komoju_error_body(code: str, message: str, param: str | None = None) -> JsonObject:
    return {"error": {"code": code, "message": message, "param": param}}


def _invalid(param: str, message: str) -> KomojuSimError:
    return KomojuSimError(422, "invalid_parameter", message, param)


def _terminal_error(message: str) -> KomojuSimError:
    return KomojuSimError(422, "error", message)


# ---------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------


@dataclass
class _Payment:
    id: str
    session_id: str
    amount: int
    currency: str
    capture: str
    external_order_num: str | None
    locale: str
    created_at: str
    status: str = "pending"
    card: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_CARD))
    captured_at: str | None = None
    amount_refunded: int = 0
    refunds: list[JsonObject] = field(default_factory=list)
    decline_reason: str | None = None


@dataclass
class _Session:
    id: str
    amount: int
    currency: str
    locale: str
    capture: str
    external_order_num: str | None
    metadata: JsonObject
    created_at: str
    return_url: str | None = None
    status: str = "pending"
    expired: bool = False
    expire_after_processing: bool = False
    completed_at: str | None = None
    cancelled_at: str | None = None
    payment: _Payment | None = None
    timer: TimerHandle | None = None
    hashed_gateway: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def payable(self) -> bool:
        return self.status == "pending" and not self.expired


@dataclass
class _Terminal:
    id: str
    phase: str = "idle"
    session_id: str | None = None
    card: dict[str, Any] | None = None
    offline: bool = False
    printer_fault: bool = False
    hold_pushes: bool = False
    held_push: str | None = None
    release: asyncio.Event | None = None
    pushes: int = 0
    cancels_refused: int = 0
    printed: list[JsonObject] = field(default_factory=list)

    def to_json(self) -> JsonObject:
        return {
            "terminal_id": self.id,
            "phase": self.phase,
            "session_id": self.session_id,
            "card": self.card,
            "offline": self.offline,
            "printer_fault": self.printer_fault,
            "hold_pushes": self.hold_pushes,
            "held_push": self.held_push,
            "pushes": self.pushes,
            "cancels_refused": self.cancels_refused,
            "printed": list(self.printed),
        }


# ---------------------------------------------------------------------------
# The simulator
# ---------------------------------------------------------------------------


class KomojuSim(SimService):
    """The KOMOJU API (sessions, cloud terminals, payments) and its control routes."""

    name = "komoju"
    prefix = "/komoju"

    def __init__(
        self, clock: Clock, callbacks: CallbackDispatcher, config: KomojuConfig | None = None
    ) -> None:
        self._clock = clock
        self._callbacks = callbacks
        self._initial = config or KomojuConfig()
        self._change = asyncio.Event()
        self._init_state()

    def _init_state(self) -> None:
        self.config = self._initial
        self._webhook_secret = self.config.webhook_secret
        self._webhook_url = self.config.webhook_url
        self._sessions: dict[str, _Session] = {}
        self._payments: dict[str, _Payment] = {}
        self._terminals = {tid: _Terminal(tid) for tid in self.config.terminals}
        self._idempotent: dict[str, tuple[str, int, JsonObject]] = {}

    # -- SimService -----------------------------------------------------------
    def reset(self) -> None:
        self._stop_all()
        self._init_state()
        self._changed()

    async def aclose(self) -> None:
        self._stop_all()

    def _stop_all(self) -> None:
        for session in self._sessions.values():
            if session.timer is not None:
                session.timer.cancel()
        for terminal in self._terminals.values():
            if terminal.release is not None:
                terminal.release.set()

    def error_response(self, status: int, error: str, message: str) -> web.Response:
        return json_response(komoju_error_body(error, message), status=status)

    def snapshot(self) -> JsonObject:
        return {
            "config": self.config.to_json(),
            "webhook_url": self._webhook_url,
            "terminals": [t.to_json() for t in self._terminals.values()],
            "sessions": [self._session_json(s) for s in self._sessions.values()],
            "payments": [self._payment_json(p) for p in self._payments.values()],
        }

    # -- helpers ------------------------------------------------------------------
    def _changed(self) -> None:
        """Wake every control ``wait`` so it re-checks its condition."""
        self._change.set()
        self._change = asyncio.Event()

    def _utc(self) -> str:
        return datetime.fromtimestamp(self._clock.time(), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _jst(self) -> str:
        moment = datetime.fromtimestamp(self._clock.time(), tz=JST)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+09:00"

    def _auth(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        user = None
        if scheme.lower() == "basic" and encoded.strip():
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            user = decoded.partition(":")[0]
        if not user or not hmac.compare_digest(user.encode(), self.config.secret_key.encode()):
            raise KomojuSimError(401, "unauthorized", "User authorization failed")

    def _session(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise KomojuSimError(
                404, "not_found", "The requested resource could not be found", "id"
            )
        return session

    def _payment(self, payment_id: str) -> _Payment:
        payment = self._payments.get(payment_id)
        if payment is None:
            raise KomojuSimError(
                404, "not_found", "The requested resource could not be found", "id"
            )
        return payment

    def _terminal(self, terminal_id: str | None) -> _Terminal:
        if terminal_id is None:
            return next(iter(self._terminals.values()))
        terminal = self._terminals.get(terminal_id)
        if terminal is None:
            raise KomojuSimError(
                404, "not_found", f"Terminal {terminal_id} not found", "terminal_id"
            )
        return terminal

    def _terminal_of(self, session: _Session) -> _Terminal | None:
        for terminal in self._terminals.values():
            if terminal.session_id == session.id and terminal.phase != "idle":
                return terminal
        return None

    @staticmethod
    async def _text(request: web.Request) -> str:
        try:
            return await request.text()
        except UnicodeDecodeError as exc:
            raise KomojuSimError(400, "bad_request", "Request body is not UTF-8") from exc

    @staticmethod
    def _body(text: str) -> JsonObject:
        try:
            return parse_json_object(text, empty_ok=True)
        except SimError as exc:
            raise KomojuSimError(400, "bad_request", exc.message) from exc

    def _replay(self, request: web.Request, text: str) -> web.Response | None:
        key = request.headers.get("X-KOMOJU-IDEMPOTENCY")
        if not key:
            return None
        if len(key) > 100 or not key.isascii():
            raise KomojuSimError(
                400, "bad_request", "Idempotency key must be at most 100 ASCII characters"
            )
        stored = self._idempotent.get(key)
        if stored is None:
            return None
        fingerprint, status, payload = stored
        if fingerprint != f"{request.method} {request.path} {text}":
            raise KomojuSimError(
                422, "bad_request", "Idempotency key already used for a different request"
            )
        return json_response(payload, status=status)

    def _remember(self, request: web.Request, text: str, payload: JsonObject) -> web.Response:
        key = request.headers.get("X-KOMOJU-IDEMPOTENCY")
        if key:
            self._idempotent[key] = (f"{request.method} {request.path} {text}", 200, payload)
        return json_response(payload)

    # -- JSON shapes (the seed's) ---------------------------------------------------
    def _payment_json(self, p: _Payment) -> JsonObject:
        return {
            "id": p.id,
            "resource": "payment",
            "status": p.status,
            "amount": p.amount,
            "tax": 0,
            "customer": None,
            "payment_deadline": None,
            "payment_details": {
                "type": PAYMENT_TYPE,
                "email": None,
                "brand": p.card["brand"],
                "last_four_digits": p.card["last4"],
                "month": p.card["month"],
                "year": p.card["year"],
            },
            "payment_method_fee": 0,
            "total": p.amount,
            "currency": p.currency,
            "description": None,
            "captured_at": p.captured_at,
            "external_order_num": p.external_order_num,
            "metadata": self._emv_metadata(p),
            "created_at": p.created_at,
            "amount_refunded": p.amount_refunded,
            "locale": p.locale,
            "session": p.session_id,
            "customer_family_name": None,
            "customer_given_name": None,
            "mcc": None,
            "statement_descriptor": None,
            "refunds": list(p.refunds),
            "refund_requests": [],
        }

    @staticmethod
    def _emv_metadata(p: _Payment) -> JsonObject:
        if p.status == "pending":
            return {}
        label = f"{str(p.card['brand']).upper()} CREDIT"
        return {
            "action": "sale" if p.capture == "auto" else "auth",
            "aid": "A0000000031010",
            "application_label": label,
            "arc": "00" if p.status != "failed" else "05",
            "atc": "02D4",
            "cardholderName": f"{label}/CARDHOLDER",
            "cardholderVerification": "",
            "cryptogramType": "ARQC",
            "cryptogramValue": "12067CDEAEC09F26",
            "method": "CL",
            "origin": "terminal",
            "terminalSeqCounter": "00000002",
            "tsi": "0000",
            "tvr": "0000000000",
        }

    def _session_json(self, s: _Session) -> JsonObject:
        return {
            "id": s.id,
            "resource": "session",
            "mode": "payment",
            "amount": s.amount,
            "currency": s.currency,
            "session_url": f"{self.config.public_url}/sessions/{s.id}",
            "return_url": s.return_url,
            "default_locale": s.locale,
            "payment_methods": [
                {
                    "type": PAYMENT_TYPE,
                    "amount": s.amount,
                    "currency": s.currency,
                    "exchange_rate": Decimal("1.0"),
                    "hashed_gateway": s.hashed_gateway,
                }
            ],
            "created_at": s.created_at,
            "cancelled_at": s.cancelled_at,
            "completed_at": s.completed_at,
            "status": s.status,
            "expired": s.expired,
            "metadata": s.metadata,
            "payment": None if s.payment is None else self._payment_json(s.payment),
            "secure_token": None,
            "payment_data": {"external_order_num": s.external_order_num, "capture": s.capture},
        }

    # -- webhooks ---------------------------------------------------------------
    def _sign(self, body: bytes) -> Mapping[str, str]:
        digest = hmac_sha256_hex(body, self._webhook_secret)
        return {"X-Komoju-Signature": digest}

    def _webhook(self, event_type: str, payment: _Payment) -> None:
        payload: JsonObject = {
            "id": new_id(),
            "type": event_type,
            "resource": "event",
            "data": self._payment_json(payment),
            "created_at": self._utc(),
            "reason": None,
        }
        self._callbacks.send(
            self.name,
            self._webhook_url,
            payload,
            event=event_type,
            signer=self._sign,
            headers={
                "X-Komoju-Event": event_type,
                "X-Komoju-ID": new_id(),
                "User-Agent": "Komoju-Webhook",
            },
        )

    # -- state changes ------------------------------------------------------------
    def _clear_terminal(self, session: _Session) -> None:
        for terminal in self._terminals.values():
            if terminal.session_id == session.id:
                terminal.phase, terminal.session_id, terminal.card = "idle", None, None
            if terminal.held_push == session.id and terminal.release is not None:
                terminal.release.set()

    def _expire(self, session: _Session) -> None:
        session.timer = None
        if session.status != "pending" or session.expired:
            return
        terminal = self._terminal_of(session)
        if terminal is not None and terminal.phase == "processing":
            session.expire_after_processing = True
            return
        session.expired = True
        payment = session.payment
        if payment is not None and payment.status == "pending":
            payment.status = "expired"
            self._webhook("payment.expired", payment)
        self._clear_terminal(session)
        log.info("KOMOJU session %s expired", session.id)
        self._changed()

    def _cancel(self, session: _Session) -> None:
        session.status = "cancelled"
        session.cancelled_at = self._jst()
        payment = session.payment
        if payment is not None and payment.status == "pending":
            payment.status = "cancelled"
            self._webhook("payment.cancelled", payment)
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None
        self._clear_terminal(session)
        self._changed()

    def _new_payment(self, session: _Session, card: dict[str, Any]) -> _Payment:
        payment = _Payment(
            id=new_id(),
            session_id=session.id,
            amount=session.amount,
            currency=session.currency,
            capture=session.capture,
            external_order_num=session.external_order_num,
            locale=session.locale,
            created_at=self._utc(),
            card=card,
        )
        self._payments[payment.id] = payment
        session.payment = payment
        return payment

    def _after_processing(self, session: _Session) -> None:
        if session.expire_after_processing and session.status == "pending":
            session.expire_after_processing = False
            self._expire(session)

    # -- API: sessions ------------------------------------------------------------
    async def create_session(self, request: web.Request) -> web.Response:
        self._auth(request)
        text = await self._text(request)
        replay = self._replay(request, text)
        if replay is not None:
            return replay
        body = self._body(text)
        mode = body.get("mode", "payment")
        if mode != "payment":
            raise _invalid("mode", "Only mode 'payment' is supported for terminal sessions")
        amount = body.get("amount")
        if isinstance(amount, Decimal) and amount == amount.to_integral_value():
            amount = int(amount)
        if amount is None:
            raise KomojuSimError(
                422, "missing_parameter", "A required parameter (amount) is missing", "amount"
            )
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise _invalid("amount", "amount must be a positive integer in the smallest unit")
        currency = body.get("currency")
        if not isinstance(currency, str) or currency not in CURRENCY_EXPONENTS:
            raise _invalid("currency", "currency is not supported")
        types = body.get("payment_types")
        if not isinstance(types, list) or PAYMENT_TYPE not in types:
            raise _invalid("payment_types", f"payment_types must include {PAYMENT_TYPE}")
        data = body.get("payment_data") or {}
        if not isinstance(data, dict):
            raise _invalid("payment_data", "payment_data must be an object")
        capture = data.get("capture", "auto")
        if capture not in ("auto", "manual"):
            raise _invalid("payment_data.capture", "capture must be auto or manual")
        order = data.get("external_order_num")
        if order is not None and (not isinstance(order, str) or not order or len(order) > 255):
            raise _invalid("payment_data.external_order_num", "external_order_num is invalid")
        locale = body.get("default_locale", "ja")
        if locale not in LOCALES:
            raise _invalid("default_locale", f"default_locale must be one of {', '.join(LOCALES)}")
        metadata = body.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise _invalid("metadata", "metadata must be an object")
        return_url = body.get("return_url")
        if return_url is not None and not isinstance(return_url, str):
            raise _invalid("return_url", "return_url must be a string")
        session = _Session(
            id=new_id(),
            amount=amount,
            currency=currency,
            locale=str(locale),
            capture=str(capture),
            external_order_num=order,
            metadata=metadata,
            created_at=self._jst(),
            return_url=return_url,
        )
        session.timer = self._clock.call_later(
            self.config.session_ttl_s, lambda: self._expire(session)
        )
        self._sessions[session.id] = session
        log.info("KOMOJU session %s created: %d %s", session.id, amount, currency)
        self._changed()
        return self._remember(request, text, self._session_json(session))

    async def get_session(self, request: web.Request) -> web.Response:
        self._auth(request)
        return json_response(self._session_json(self._session(request.match_info["id"])))

    # -- API: terminals ---------------------------------------------------------------
    async def push(self, request: web.Request) -> web.Response:
        self._auth(request)
        terminal = self._terminal(request.match_info["terminal_id"])
        session = self._session(request.match_info["session_id"])
        self._check_push(terminal, session)
        if terminal.session_id == session.id and terminal.phase != "idle":
            return json_response({"status": "success"})
        if terminal.hold_pushes:
            release = terminal.release = asyncio.Event()
            terminal.held_push = session.id
            self._changed()
            try:
                await release.wait()
            finally:
                if terminal.held_push == session.id:
                    terminal.held_push = None
                self._changed()
            self._check_push(terminal, session)
        terminal.phase, terminal.session_id, terminal.card = "waiting", session.id, None
        terminal.pushes += 1
        log.info("KOMOJU session %s pushed to %s", session.id, terminal.id)
        self._changed()
        return json_response({"status": "success"})

    def _check_push(self, terminal: _Terminal, session: _Session) -> None:
        if terminal.offline:
            raise _terminal_error("Terminal is offline.")
        if not session.payable:
            raise _terminal_error(MSG_NOT_PENDING)
        if terminal.session_id not in (None, session.id) and terminal.phase in (
            "card_presented",
            "processing",
        ):
            raise _terminal_error("Terminal is busy with another session.")

    async def cancel(self, request: web.Request) -> web.Response:
        self._auth(request)
        terminal = self._terminal(request.match_info["terminal_id"])
        session = self._session(request.match_info["session_id"])
        if session.status == "cancelled":
            return json_response({"status": "success"})
        showing = self._terminal_of(session)
        if session.status == "completed" or (showing is not None and showing.phase == "processing"):
            terminal.cancels_refused += 1
            self._changed()
            raise _terminal_error(MSG_CANCEL)
        self._cancel(session)
        log.info("KOMOJU session %s cancelled", session.id)
        return json_response({"status": "success"})

    async def print_receipt(self, request: web.Request) -> web.Response:
        self._auth(request)
        terminal = self._terminal(request.match_info["terminal_id"])
        session = self._session(request.match_info["session_id"])
        if terminal.offline or terminal.printer_fault or session.status != "completed":
            raise _terminal_error(MSG_PRINT)
        terminal.printed.append({"session_id": session.id, "at": self._utc()})
        self._changed()
        return json_response({"status": "success"})

    # -- API: payments ---------------------------------------------------------------
    async def get_payment(self, request: web.Request) -> web.Response:
        self._auth(request)
        return json_response(self._payment_json(self._payment(request.match_info["id"])))

    async def refund(self, request: web.Request) -> web.Response:
        self._auth(request)
        text = await self._text(request)
        replay = self._replay(request, text)
        if replay is not None:
            return replay
        payment = self._payment(request.match_info["id"])
        body = self._body(text)
        left = payment.amount - payment.amount_refunded
        if payment.status != "captured" or left <= 0:
            raise KomojuSimError(
                422, "not_refundable", f"A payment in status {payment.status} cannot be refunded"
            )
        amount = body.get("amount", left)
        if isinstance(amount, Decimal) and amount == amount.to_integral_value():
            amount = int(amount)
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise _invalid("amount", "amount must be a positive integer in the smallest unit")
        if amount > left:
            raise _invalid("amount", f"amount exceeds the refundable amount ({left})")
        description = body.get("description")
        payment.refunds.append(
            {
                "id": new_id(),
                "resource": "refund",
                "amount": amount,
                "currency": payment.currency,
                "payment": payment.id,
                "description": description if isinstance(description, str) else None,
                "created_at": self._utc(),
                "chargeback": False,
            }
        )
        payment.amount_refunded += amount
        if payment.amount_refunded >= payment.amount:
            payment.status = "refunded"
            self._webhook("payment.refunded", payment)
        else:
            self._webhook("payment.refund.created", payment)
        log.info("KOMOJU payment %s refunded %d %s", payment.id, amount, payment.currency)
        self._changed()
        return self._remember(request, text, self._payment_json(payment))

    async def cancel_payment(self, request: web.Request) -> web.Response:
        self._auth(request)
        text = await self._text(request)
        replay = self._replay(request, text)
        if replay is not None:
            return replay
        payment = self._payment(request.match_info["id"])
        self._body(text)
        if payment.status not in ("pending", "authorized"):
            raise KomojuSimError(
                422, "not_cancellable", f"A payment in status {payment.status} cannot be cancelled"
            )
        session = self._sessions.get(payment.session_id)
        if payment.status == "pending" and session is not None:
            showing = self._terminal_of(session)
            if showing is not None and showing.phase == "processing":
                raise KomojuSimError(422, "not_cancellable", "The payment is being authorised")
        payment.status = "cancelled"
        if session is not None and session.payment is payment and session.status == "pending":
            self._clear_terminal(session)
        self._webhook("payment.cancelled", payment)
        self._changed()
        return self._remember(request, text, self._payment_json(payment))

    @web.middleware
    async def _errors(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except KomojuSimError as exc:
            return json_response(
                komoju_error_body(exc.error, exc.message, exc.param), status=exc.status
            )

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._errors])
        r = app.router
        r.add_post("/api/v1/sessions", self.create_session)
        r.add_get("/api/v1/sessions/{id}", self.get_session)
        base = "/api/v1/terminals/{terminal_id}/sessions/{session_id}"
        r.add_post(f"{base}/push", self.push)
        r.add_post(f"{base}/cancel", self.cancel)
        r.add_post(f"{base}/print", self.print_receipt)
        r.add_get("/api/v1/payments/{id}", self.get_payment)
        r.add_post("/api/v1/payments/{id}/refund", self.refund)
        r.add_post("/api/v1/payments/{id}/cancel", self.cancel_payment)
        return app

    # -- control API ----------------------------------------------------------------------
    def build_control_app(self) -> web.Application:
        app = web.Application()
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/state", self.ctl_state),
            ("GET", "/events", self.ctl_events),
            ("POST", "/reset", self.ctl_reset),
            ("POST", "/config", self.ctl_config),
            ("POST", "/webhook", self.ctl_webhook),
            ("POST", "/wait", self.ctl_wait),
            ("POST", "/terminal", self.ctl_terminal),
            ("POST", "/terminal/present", self.ctl_present),
            ("POST", "/terminal/process", self.ctl_process),
            ("POST", "/terminal/approve", self.ctl_approve),
            ("POST", "/terminal/decline", self.ctl_decline),
            ("POST", "/terminal/cancel", self.ctl_customer_cancel),
            ("POST", "/terminal/expire", self.ctl_expire),
            ("POST", "/terminal/release", self.ctl_release),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        return app

    def _ctl_ok(self, **fields: Any) -> web.Response:
        return json_response({"success": True, **fields})

    async def ctl_state(self, request: web.Request) -> web.Response:
        return self._ctl_ok(**self.snapshot())

    async def ctl_events(self, request: web.Request) -> web.Response:
        return self._ctl_ok(events=self._callbacks.events(self.name))

    async def ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return self._ctl_ok(message="KOMOJU simulator reset")

    async def ctl_config(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"session_ttl_s"})
        ttl = body_seconds(body, "session_ttl_s", positive=True)
        if ttl is not None:
            self.config = dataclasses.replace(self.config, session_ttl_s=ttl)
        return self._ctl_ok(config=self.config.to_json())

    async def ctl_webhook(self, request: web.Request) -> web.Response:
        """Register (or with ``url: null`` remove) the webhook URL, as in the dashboard."""
        body = await read_json_object(request)
        reject_unknown(body, {"url", "secret"})
        self._webhook_url = body_callback_url(body, "url")
        secret = body_str(body, "secret")
        if secret is not None:
            if not secret:
                raise SimError(422, "invalid_request", "'secret' must not be empty")
            self._webhook_secret = secret
        return self._ctl_ok(webhook_url=self._webhook_url)

    async def ctl_wait(self, request: web.Request) -> web.Response:
        """Wait (real time, at most 10 s) until a terminal reaches a condition.

        ``{"terminal_id"?, "phase"?, "session_id"?, "push_held"?, "cancels_refused"?,
        "timeout_s"?}`` (``cancels_refused``: at least that many cancels refused).
        """
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(
            body,
            {"terminal_id", "phase", "session_id", "push_held", "cancels_refused", "timeout_s"},
        )
        terminal = self._control_terminal(body)
        phase = body_str(body, "phase")
        if phase is not None and phase not in PHASES:
            raise SimError(422, "invalid_request", f"'phase' must be one of {', '.join(PHASES)}")
        session_id = body_str(body, "session_id")
        push_held = body_bool(body, "push_held")
        refused = body_int(body, "cancels_refused", minimum=0) or 0
        timeout = min(MAX_WAIT_S, body_seconds(body, "timeout_s") or 5.0)

        def reached() -> bool:
            if phase is not None and terminal.phase != phase:
                return False
            if session_id is not None and terminal.session_id != session_id:
                return False
            if terminal.cancels_refused < refused:
                return False
            return push_held is None or (terminal.held_push is not None) == push_held

        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not reached():
            remaining = end - loop.time()
            if remaining <= 0:
                raise SimError(
                    504, "wait_timeout", f"terminal {terminal.id} is {terminal.phase}: not reached"
                )
            change = self._change
            try:
                await asyncio.wait_for(change.wait(), remaining)
            except TimeoutError:
                continue
        return self._ctl_ok(terminal=terminal.to_json())

    def _control_terminal(self, body: Mapping[str, Any]) -> _Terminal:
        terminal_id = body_str(body, "terminal_id")
        try:
            return self._terminal(terminal_id)
        except KomojuSimError as exc:
            raise SimError(404, "unknown_terminal", exc.message) from exc

    def _on_terminal(
        self, body: Mapping[str, Any], phases: tuple[str, ...], action: str
    ) -> tuple[_Terminal, _Session]:
        terminal = self._control_terminal(body)
        if terminal.phase not in phases or terminal.session_id is None:
            raise SimError(
                409, "terminal_wrong_phase", f"Cannot {action}: the terminal is {terminal.phase}"
            )
        return terminal, self._sessions[terminal.session_id]

    def _card(self, body: Mapping[str, Any]) -> dict[str, Any]:
        brand = body_str(body, "brand") or DEFAULT_CARD["brand"]
        last4 = body_str(body, "last4") or DEFAULT_CARD["last4"]
        if len(str(last4)) != 4 or not str(last4).isdigit():
            raise SimError(422, "invalid_request", "'last4' must be 4 digits")
        return {**DEFAULT_CARD, "brand": brand, "last4": last4}

    async def ctl_terminal(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"terminal_id", "offline", "printer_fault", "hold_pushes"})
        terminal = self._control_terminal(body)
        offline = body_bool(body, "offline")
        if offline is not None:
            terminal.offline = offline
        fault = body_bool(body, "printer_fault")
        if fault is not None:
            terminal.printer_fault = fault
        hold = body_bool(body, "hold_pushes")
        if hold is not None:
            terminal.hold_pushes = hold
            if not hold and terminal.release is not None:
                terminal.release.set()
        self._changed()
        return self._ctl_ok(terminal=terminal.to_json())

    async def ctl_release(self, request: web.Request) -> web.Response:
        """Let a held push through (it is then answered as usual)."""
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"terminal_id"})
        terminal = self._control_terminal(body)
        held = terminal.held_push
        if terminal.release is not None:
            terminal.release.set()
        return self._ctl_ok(released=held)

    async def ctl_present(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"terminal_id", "brand", "last4"})
        card = self._card(body)
        terminal, session = self._on_terminal(body, ("waiting",), "present a card")
        terminal.phase, terminal.card = "card_presented", card
        payment = self._new_payment(session, card)
        self._webhook("payment.updated", payment)
        self._changed()
        return self._ctl_ok(terminal=terminal.to_json(), payment=self._payment_json(payment))

    async def ctl_process(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"terminal_id"})
        terminal, _ = self._on_terminal(body, ("card_presented",), "authorise")
        terminal.phase = "processing"
        self._changed()
        return self._ctl_ok(terminal=terminal.to_json())

    def _payment_for(
        self, terminal: _Terminal, session: _Session, body: Mapping[str, Any]
    ) -> _Payment:
        payment = session.payment
        if terminal.phase == "waiting" or payment is None or payment.status != "pending":
            card = self._card(body)
            terminal.card = card
            payment = self._new_payment(session, card)
        return payment

    async def ctl_approve(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"terminal_id", "brand", "last4"})
        terminal, session = self._on_terminal(
            body, ("waiting", "card_presented", "processing"), "approve"
        )
        payment = self._payment_for(terminal, session, body)
        if session.capture == "auto":
            payment.status, payment.captured_at = "captured", self._utc()
        else:
            payment.status = "authorized"
        session.status, session.completed_at = "completed", self._jst()
        session.expire_after_processing = False
        if session.timer is not None:
            session.timer.cancel()
            session.timer = None
        terminal.phase, terminal.session_id, terminal.card = "idle", None, None
        self._webhook(f"payment.{payment.status}", payment)
        self._changed()
        return self._ctl_ok(session=self._session_json(session))

    async def ctl_decline(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"terminal_id", "brand", "last4", "reason"})
        reason = body_str(body, "reason") or "card_declined"
        terminal, session = self._on_terminal(
            body, ("waiting", "card_presented", "processing"), "decline"
        )
        payment = self._payment_for(terminal, session, body)
        payment.status, payment.decline_reason = "failed", reason
        terminal.phase, terminal.card = "waiting", None
        self._webhook("payment.failed", payment)
        self._after_processing(session)
        self._changed()
        return self._ctl_ok(session=self._session_json(session))

    async def ctl_customer_cancel(self, request: web.Request) -> web.Response:
        """The customer presses cancel on the terminal."""
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"terminal_id"})
        _, session = self._on_terminal(body, ("waiting", "card_presented"), "cancel")
        self._cancel(session)
        return self._ctl_ok(session=self._session_json(session))

    async def ctl_expire(self, request: web.Request) -> web.Response:
        """Expire a session now (``session_id``, default: the one on the terminal)."""
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"terminal_id", "session_id"})
        session_id = body_str(body, "session_id")
        if session_id is None:
            session_id = self._control_terminal(body).session_id
        session = self._sessions.get(session_id or "")
        if session is None:
            raise SimError(404, "not_found", "No such session")
        if session.timer is not None:
            session.timer.cancel()
        self._expire(session)
        return self._ctl_ok(session=self._session_json(session))


def build(clock: Clock, callbacks: CallbackDispatcher) -> SimService:
    """The KOMOJU simulator with the default account (found by ``build_simulators``)."""
    return KomojuSim(clock, callbacks)


__all__ = ["KomojuConfig", "KomojuSim", "KomojuSimError", "build", "komoju_error_body", "new_id"]
