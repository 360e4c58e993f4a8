"""Async client for the KOMOJU Cloud Terminal: payment sessions pushed to a card terminal.

Contract: KOMOJU's Cloud Terminal API page. What KOMOJU documents and what we
assume where it is silent, all in this one module:

- (doc) HTTP Basic with the secret key as user name and an empty password;
  JSON bodies. Base URL ``https://komoju.com``; every path is ``/api/v1/...``.
- (doc) ``POST /api/v1/sessions`` with ``mode: "payment"``, ``amount``,
  ``currency``, ``default_locale``, ``payment_types: ["credit_card_terminal"]``
  and ``payment_data: {"capture": "auto", "external_order_num"}`` → a session
  ``{"id", "status": "pending", "expired": false, "payment": null, ...}``.
  We send our payment key (:func:`kioskapp.payments.base.payment_key`) as
  ``external_order_num``: unique per attempt, derivable from the journal.
- (doc) ``GET /api/v1/sessions/{id}``: ``status`` pending | completed |
  cancelled, the separate ``expired`` flag, ``payment`` (null until the
  terminal made one) whose ``status`` is ``captured`` for a sale and
  ``authorized`` for an auth-only payment; ``payment_details`` carries
  ``brand`` and ``last_four_digits``; ``metadata`` the terminal's EMV data.
- (doc) ``POST /api/v1/terminals/{terminal_id}/sessions/{id}/push`` | ``/print``
  | ``/cancel`` answer ``{"status": "success"}`` or ``{"error": {"code",
  "message", "param"}}``. A cancelled session can never be paid.
- (doc, KOMOJU "Errors" page) Error bodies ``{"error": {"code", "message",
  "param"}}``; 401 ``unauthorized``, 403 ``forbidden``, 404 ``not_found``,
  422 for missing or invalid parameters, 5xx on KOMOJU's or an upstream side.
- (doc, KOMOJU "Idempotent requests" page) POSTs accept
  ``X-KOMOJU-IDEMPOTENCY`` (<= 100 ASCII characters): a repeated key returns
  the first answer without acting again; a repeat while the first is still
  running answers 409.
- (doc, KOMOJU "Webhooks" page) Webhooks are POSTed with ``X-Komoju-Signature``
  (hex HMAC-SHA256 of the raw body with the webhook secret), ``X-Komoju-Event``
  (e.g. ``payment.captured``) and ``X-Komoju-ID``; the body is an event
  ``{"id", "type", "resource": "event", "data": <payment>, "created_at"}``.
  Types we act on: ``payment.updated``, ``payment.authorized``,
  ``payment.captured``, ``payment.failed``, ``payment.cancelled``,
  ``payment.expired``, ``payment.refunded``, ``payment.refund.created``.
- (assumed) Push, print and cancel refusals come as HTTP 422 (any 4xx other
  than 401/403/404/429 is read the same way) with code ``"error"``; a push of
  a session that is not pending says "Session must be pending ..."
  (:class:`SessionNotPending`).
- (assumed) Pushing the same pending session again is harmless, and so is
  cancelling an already cancelled session: both are repeated on timeouts.
  Whatever happens, a session is paid at most once, so repeating them can
  never take money twice.
- (assumed) A declined card leaves the session ``pending`` with its
  ``payment`` in status ``failed`` (webhook ``payment.failed``): the terminal
  would let the customer try again, so the kiosk cancels the session.
  A card being read shows as a ``payment`` in status ``pending``.
- (assumed) An expired session keeps its status with ``expired: true``.
- (assumed) Compensation: ``POST /api/v1/payments/{id}/refund`` with
  ``amount`` refunds a captured payment (errors ``not_refundable``);
  ``POST /api/v1/payments/{id}/cancel`` voids an authorized one (error
  ``not_cancellable``); both answer the payment. Both carry an idempotency key.
- (assumed) Amounts are integers in KOMOJU's smallest unit of the currency
  (:func:`kioskapp.core.money.to_komoju`: JPY has no decimals, EUR cents).

Status: the session read by polling is the truth; a webhook (authenticated by
its signature) wakes whoever follows that session at once, and a final
payment status it carries may be acted on without waiting for the poll.
Duplicated webhooks are recognised by their event id and change nothing; a
lost one is caught by the next poll (every ``poll_interval_s``).

Retries: reads, session creation and refunds/cancels (idempotency key),
pushes and terminal cancels (harmless) are repeated on timeouts, connection
errors, 429 and 5xx with capped backoff. Printing is never repeated blindly.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal

import httpx

from kioskapp.config import Config, Secret
from kioskapp.core.clock import Clock, SystemClock
from kioskapp.core.money import Money, MoneyError, dumps_json, from_komoju, to_komoju
from kioskapp.devices.callbacks import (
    CallbackReceiver,
    CallbackRejected,
    InboundCallback,
    hmac_sha256_hex,
    verify_hmac_sha256_hex,
)
from kioskapp.devices.errors import (
    ApiError,
    AuthError,
    ConflictError,
    InvalidRequest,
    NotFound,
    ProtocolError,
    ServiceError,
    error_class_for_status,
)
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.http import (
    NO_RETRY,
    Fields,
    OwnedHttpClient,
    RetryPolicy,
    decode_json,
    transport_error,
    with_retries,
)

log = logging.getLogger(__name__)

SERVICE: Final = "komoju"
API: Final = "/api/v1"
PAYMENT_TYPE: Final = "credit_card_terminal"
#: Where the kiosk's callback receiver takes KOMOJU webhooks (register this URL at KOMOJU).
WEBHOOK_PATH: Final = "/webhooks/komoju"
SIGNATURE_HEADER: Final = "X-Komoju-Signature"
EVENT_HEADER: Final = "X-Komoju-Event"
IDEMPOTENCY_HEADER: Final = "X-KOMOJU-IDEMPOTENCY"
MAX_IDEMPOTENCY_KEY: Final = 100
#: KOMOJU locales we can ask for; the kiosk's other languages fall back to English.
LOCALES: Final = frozenset({"ja", "en", "ko", "zh"})

SessionStatus = Literal["pending", "completed", "cancelled"]
#: Payment statuses after which the money is definitely taken (sale / auth-only).
TAKEN_STATUSES: Final = frozenset({"captured", "authorized"})


# -- errors callers branch on --------------------------------------------------------


class TerminalRequestRefused(ApiError):
    """A push, print or cancel on the terminal answered ``{"error": ...}``."""


class PushRefused(TerminalRequestRefused):
    """The session could not be pushed (terminal offline or busy, session not payable)."""


class SessionNotPending(PushRefused):
    """Push of a session that is completed, cancelled or expired."""


class CancelRefused(TerminalRequestRefused):
    """The session could not be cancelled (already paid, or the payment is being authorised)."""


class PrintFailed(TerminalRequestRefused):
    """The terminal could not print the receipt."""


class PaymentNotRefundable(ConflictError):
    """A refund of a payment that is not captured (or already fully refunded)."""


class PaymentNotCancellable(ConflictError):
    """A cancel of a payment that is not pending or authorized."""


class IdempotencyConflict(ConflictError):
    """409: a request with the same idempotency key is still being processed: ask again."""

    retryable = True


_CODE_ERRORS: dict[str, type[ApiError]] = {
    "unauthorized": AuthError,
    "forbidden": AuthError,
    "not_found": NotFound,
    "bad_request": InvalidRequest,
    "missing_parameter": InvalidRequest,
    "invalid_parameter": InvalidRequest,
    "unprocessable_entity": InvalidRequest,
    "not_refundable": PaymentNotRefundable,
    "not_cancellable": PaymentNotCancellable,
}

TerminalAction = Literal["push", "print", "cancel"]
_TERMINAL_ERRORS: dict[TerminalAction, type[TerminalRequestRefused]] = {
    "push": PushRefused,
    "print": PrintFailed,
    "cancel": CancelRefused,
}


def api_error(
    status: int,
    body: object,
    *,
    what: str,
    terminal: TerminalAction | None = None,
    idempotent: bool = False,
    request_id: str | None = None,
) -> ApiError:
    """The typed error for a KOMOJU error answer (``body``: decoded JSON or None)."""
    code: str | None = None
    message = f"HTTP {status}"
    param: str | None = None
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        if isinstance(error.get("code"), str):
            code = error["code"]
        if isinstance(error.get("message"), str) and error["message"]:
            message = error["message"]
        if isinstance(error.get("param"), str) and error["param"]:
            param = error["param"]
    elif isinstance(body, Mapping):
        message = f"HTTP {status} without an error object"
    else:
        message = f"HTTP {status} with a non-JSON body"
    cls: type[ApiError]
    if status == 409 and idempotent:
        cls = IdempotencyConflict
    elif terminal is not None and 400 <= status < 500 and status not in (401, 403, 404, 429):
        cls = _TERMINAL_ERRORS[terminal]
        if terminal == "push" and "must be pending" in message.lower():
            cls = SessionNotPending
    else:
        cls = _CODE_ERRORS.get(code or "") or error_class_for_status(status)
    text = f"{what}: {message}" + (f" (param {param})" if param else "")
    return cls(text, service=SERVICE, status=status, code=code, request_id=request_id)


def parse_answer(
    status: int,
    body: bytes,
    *,
    what: str,
    terminal: TerminalAction | None = None,
    idempotent: bool = False,
    request_id: str | None = None,
) -> Mapping[str, Any]:
    """One HTTP answer → its JSON object, or the typed error it stands for."""
    if status >= 400:
        try:
            decoded: object = decode_json(body, service=SERVICE, what=what, status=status)
        except ProtocolError:
            decoded = None
        raise api_error(
            status,
            decoded,
            what=what,
            terminal=terminal,
            idempotent=idempotent,
            request_id=request_id,
        )
    if not 200 <= status < 300:
        raise ProtocolError(f"{what}: unexpected HTTP {status}", service=SERVICE, status=status)
    data = decode_json(body, service=SERVICE, what=what, status=status)
    f = Fields(data, service=SERVICE, what=what)
    if isinstance(f.data.get("error"), Mapping):
        # An error object in a 2xx answer: still a refusal.
        raise api_error(422, f.data, what=what, terminal=terminal, request_id=request_id)
    return f.data


# -- models (pure parsing, tested against the vendor's own payloads) ----------------------


def _money(f: Fields, key: str, currency: str) -> Money:
    value = f.number(key)
    try:
        return from_komoju(value, currency)
    except MoneyError as exc:
        raise ProtocolError(f"{f.what}: field {key!r}: {exc}", service=SERVICE) from exc


def _currency(f: Fields) -> str:
    code = f.text("currency")
    try:
        Money.zero(code)
    except MoneyError as exc:
        raise ProtocolError(f"{f.what}: field 'currency': {exc}", service=SERVICE) from exc
    return code


def _scalars(f: Fields, key: str) -> dict[str, str]:
    """An object of scalar values (strings kept, numbers and booleans as text); else empty."""
    value = f.data.get(key)
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, str] = {}
    for name, item in value.items():
        if isinstance(item, bool):
            out[str(name)] = "true" if item else "false"
        elif isinstance(item, str | int | Decimal):
            out[str(name)] = str(item)
    return out


def _last4(value: object) -> str | None:
    """At most the last four digits, whatever the vendor sent; None when it is not digits."""
    if not isinstance(value, str):
        return None
    digits = value.strip()
    if len(digits) < 4 or not digits.isdigit():
        return None
    return digits[-4:]


@dataclass(frozen=True)
class KomojuPaymentInfo:
    """A KOMOJU payment (in a session, a webhook, or a refund/cancel answer)."""

    id: str
    status: str  # pending | authorized | captured | refunded | cancelled | expired | failed | ...
    amount: Money
    session_id: str | None = None
    external_order_num: str | None = None
    brand: str | None = None
    last4: str | None = None
    amount_refunded: Money | None = None
    captured_at: str | None = None
    refund_ids: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def taken(self) -> bool:
        """Money is taken (captured) or held (authorized)."""
        return self.status in TAKEN_STATUSES

    @property
    def refunded(self) -> Money:
        return self.amount_refunded or Money.zero(self.amount.currency)

    def receipt_lines(self) -> tuple[str, ...]:
        """The terminal's EMV data worth printing (never the cardholder's name)."""
        m = self.metadata
        lines: list[str] = []
        if m.get("application_label"):
            lines.append(m["application_label"])
        for label, key in (
            ("AID", "aid"),
            ("ENTRY", "method"),
            ("ATC", "atc"),
            ("ARC", "arc"),
            ("TVR", "tvr"),
            ("TSI", "tsi"),
        ):
            if m.get(key):
                lines.append(f"{label}: {m[key]}")
        return tuple(lines)

    @classmethod
    def parse(cls, value: object, *, what: str = "payment") -> KomojuPaymentInfo:
        f = Fields(value, service=SERVICE, what=what)
        currency = _currency(f)
        details = f.data.get("payment_details")
        brand = last4 = None
        if isinstance(details, Mapping):
            raw_brand = details.get("brand")
            brand = raw_brand if isinstance(raw_brand, str) and raw_brand else None
            last4 = _last4(details.get("last_four_digits"))
        refunded = _money(f, "amount_refunded", currency) if f.has("amount_refunded") else None
        refunds = f.data.get("refunds")
        refund_ids: tuple[str, ...] = ()
        if isinstance(refunds, list):
            refund_ids = tuple(
                r["id"] for r in refunds if isinstance(r, Mapping) and isinstance(r.get("id"), str)
            )
        session = f.data.get("session")
        return cls(
            id=f.text("id"),
            status=f.text("status"),
            amount=_money(f, "amount", currency),
            session_id=session if isinstance(session, str) and session else None,
            external_order_num=f.opt_text("external_order_num"),
            brand=brand,
            last4=last4,
            amount_refunded=refunded,
            captured_at=f.opt_text("captured_at"),
            refund_ids=refund_ids,
            metadata=_scalars(f, "metadata"),
        )


@dataclass(frozen=True)
class KomojuSession:
    """A KOMOJU payment session as read from the API."""

    id: str
    status: str  # pending | completed | cancelled (others kept as sent)
    expired: bool
    amount: Money
    external_order_num: str | None = None
    capture: str | None = None
    payment: KomojuPaymentInfo | None = None
    created_at: str | None = None
    completed_at: str | None = None
    cancelled_at: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_pending(self) -> bool:
        return self.status == "pending" and not self.expired

    @property
    def is_completed(self) -> bool:
        return self.status == "completed"

    @property
    def is_cancelled(self) -> bool:
        return self.status == "cancelled"

    @classmethod
    def parse(cls, value: object, *, what: str = "session") -> KomojuSession:
        f = Fields(value, service=SERVICE, what=what)
        currency = _currency(f)
        payment_data = f.opt_obj("payment_data")
        payment = None
        if f.has("payment"):
            payment = KomojuPaymentInfo.parse(f.data["payment"], what=f"{what}.payment")
        return cls(
            id=f.text("id"),
            status=f.text("status"),
            expired=f.flag("expired", default=False),
            amount=_money(f, "amount", currency),
            external_order_num=None
            if payment_data is None
            else payment_data.opt_text("external_order_num"),
            capture=None if payment_data is None else payment_data.opt_text("capture"),
            payment=payment,
            created_at=f.opt_text("created_at"),
            completed_at=f.opt_text("completed_at"),
            cancelled_at=f.opt_text("cancelled_at"),
            metadata=_scalars(f, "metadata"),
        )


@dataclass(frozen=True)
class WebhookEvent:
    """One verified webhook delivery."""

    id: str
    type: str
    payment: KomojuPaymentInfo | None  # for payment.* events
    created_at: str | None = None

    @classmethod
    def parse(cls, value: object) -> WebhookEvent:
        f = Fields(value, service=SERVICE, what="webhook")
        kind = f.text("type")
        payment = None
        if kind.startswith("payment.") and f.has("data"):
            payment = KomojuPaymentInfo.parse(f.data["data"], what=f"webhook {kind}.data")
        return cls(id=f.text("id"), type=kind, payment=payment, created_at=f.opt_text("created_at"))


# Signatures: hex HMAC-SHA256 of the raw body (one implementation for every webhook).
sign_webhook = hmac_sha256_hex
verify_webhook = verify_hmac_sha256_hex


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


# -- following one session -------------------------------------------------------------


class SessionWatch:
    """What webhooks say about one session, for the one payment attempt following it.

    :attr:`hint` is set when a webhook for the session arrived; :meth:`take`
    hands over the payments those webhooks carried (and clears the hint).
    """

    def __init__(self, session_id: str, external_order_num: str | None) -> None:
        self.session_id = session_id
        self.external_order_num = external_order_num
        self.hint = asyncio.Event()
        self._payments: list[KomojuPaymentInfo] = []

    def deliver(self, payment: KomojuPaymentInfo) -> None:
        self._payments.append(payment)
        self.hint.set()

    def take(self) -> list[KomojuPaymentInfo]:
        payments, self._payments = self._payments, []
        self.hint.clear()
        return payments


# -- the client ---------------------------------------------------------------------------


class KomojuClient(OwnedHttpClient):
    """All traffic to KOMOJU for one merchant account and one cloud terminal.

    Closes only what it created (not an injected ``http`` client).
    """

    def __init__(
        self,
        base_url: str,
        *,
        secret_key: str,
        terminal_id: str,
        webhook_secret: str = "",
        locale: str = "ja",
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 5.0,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        poll_interval_s: float = 2.0,
    ) -> None:
        if poll_interval_s <= 0:
            raise ValueError("poll_interval_s must be positive")
        self.base_url = base_url.rstrip("/")
        # Kept wrapped: printing the client never shows the (merely base64-encoded) key.
        self._auth = Secret("Basic " + base64.b64encode(f"{secret_key}:".encode()).decode("ascii"))
        self.terminal_id = terminal_id
        self._webhook_secret = Secret(webhook_secret)
        self.locale = locale if locale in LOCALES else "en"
        self.timeout_s = timeout_s
        self.connect_timeout_s = min(connect_timeout_s, timeout_s)
        self._retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.poll_interval_s = poll_interval_s
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=self.connect_timeout_s)
        )
        self.health = ServiceHealth(SERVICE)
        self._watches: dict[str, SessionWatch] = {}
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        self._closed = False

    # -- low level ---------------------------------------------------------------------
    async def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        terminal: TerminalAction | None = None,
    ) -> Mapping[str, Any]:
        headers = {"Accept": "application/json", "Authorization": self._auth.reveal()}
        content = None
        if body is not None:
            content = dumps_json(body).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        try:
            resp = await self._http.request(
                method,
                self.base_url + API + path,
                content=content,
                headers=headers,
                timeout=httpx.Timeout(self.timeout_s, connect=self.connect_timeout_s),
            )
        except httpx.RequestError as exc:
            err = transport_error(exc, service=SERVICE, what=what)
            self.health.record_error(err, self.clock.time())
            raise err from exc
        try:
            data = parse_answer(
                resp.status_code,
                resp.content,
                what=what,
                terminal=terminal,
                idempotent=idempotency_key is not None,
                request_id=resp.headers.get("X-Request-Id"),
            )
        except ServiceError as err:
            self.health.record_error(err, self.clock.time())
            raise
        self.health.record_ok(self.clock.time())
        return data

    async def _call(
        self,
        method: str,
        path: str,
        *,
        what: str,
        safe: bool,
        body: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        terminal: TerminalAction | None = None,
    ) -> Mapping[str, Any]:
        return await with_retries(
            lambda: self._send(
                method,
                path,
                what=what,
                body=body,
                idempotency_key=idempotency_key,
                terminal=terminal,
            ),
            policy=self._retry if safe else NO_RETRY,
            clock=self.clock,
            what=what,
        )

    @staticmethod
    def _check_key(key: str) -> str:
        if not key or len(key) > MAX_IDEMPOTENCY_KEY or not key.isascii():
            raise ValueError(f"idempotency key must be 1-{MAX_IDEMPOTENCY_KEY} ASCII characters")
        return key

    async def _terminal_action(
        self, action: TerminalAction, session_id: str, *, safe: bool
    ) -> None:
        what = f"terminal {action}"
        data = await self._call(
            "POST",
            f"/terminals/{self.terminal_id}/sessions/{session_id}/{action}",
            what=what,
            safe=safe,
            terminal=action,
        )
        status = data.get("status")
        if status != "success":
            raise ProtocolError(
                f"{what}: expected status 'success', got {status!r}", service=SERVICE
            )

    # -- sessions ------------------------------------------------------------------------
    async def create_session(
        self,
        amount: Money,
        *,
        external_order_num: str,
        idempotency_key: str | None = None,
        capture: Literal["auto", "manual"] = "auto",
        locale: str | None = None,
    ) -> KomojuSession:
        """Create a terminal payment session. With an idempotency key it is repeated on
        timeouts and answers the same session; without one it is never repeated."""
        if amount.minor <= 0:
            raise ValueError(f"amount must be positive, got {amount}")
        body: dict[str, Any] = {
            "mode": "payment",
            "amount": to_komoju(amount),
            "currency": amount.currency,
            "default_locale": locale or self.locale,
            "payment_types": [PAYMENT_TYPE],
            "payment_data": {"capture": capture, "external_order_num": external_order_num},
        }
        key = None if idempotency_key is None else self._check_key(idempotency_key)
        data = await self._call(
            "POST", "/sessions", what="session create", safe=key is not None, body=body,
            idempotency_key=key,
        )  # fmt: skip
        session = KomojuSession.parse(data, what="session create")
        if session.amount != amount:
            raise ProtocolError(
                f"session create: KOMOJU answered {session.amount} for {amount}",
                service=SERVICE,
            )
        log.info("KOMOJU session %s created for %s", session.id, amount)
        return session

    async def get_session(self, session_id: str) -> KomojuSession:
        data = await self._call("GET", f"/sessions/{session_id}", what="session read", safe=True)
        session = KomojuSession.parse(data, what="session")
        if session.id != session_id:
            raise ProtocolError(
                f"session read: asked for {session_id}, got {session.id}", service=SERVICE
            )
        return session

    async def push_session(self, session_id: str) -> None:
        """Show the session on the terminal: the customer can pay from now on."""
        await self._terminal_action("push", session_id, safe=True)
        log.info("KOMOJU session %s pushed to terminal %s", session_id, self.terminal_id)

    async def cancel_session(self, session_id: str) -> None:
        """Abort the session on the terminal; once cancelled it can never be paid.

        Raises :class:`CancelRefused` when KOMOJU could not cancel it (paid, or
        being authorised): read the session to learn which.
        """
        await self._terminal_action("cancel", session_id, safe=True)
        log.info("KOMOJU session %s cancelled", session_id)

    async def print_receipt(self, session_id: str) -> None:
        """Print the receipt of a completed session on the terminal. Never repeated blindly."""
        await self._terminal_action("print", session_id, safe=False)

    # -- payments (compensation) -------------------------------------------------------------
    async def get_payment(self, payment_id: str) -> KomojuPaymentInfo:
        data = await self._call("GET", f"/payments/{payment_id}", what="payment read", safe=True)
        return KomojuPaymentInfo.parse(data)

    async def refund_payment(
        self, payment_id: str, amount: Money, *, idempotency_key: str
    ) -> KomojuPaymentInfo:
        """Refund ``amount`` of a captured payment (assumed path, see the module doc)."""
        if amount.minor <= 0:
            raise ValueError(f"refund amount must be positive, got {amount}")
        data = await self._call(
            "POST", f"/payments/{payment_id}/refund", what="payment refund", safe=True,
            body={"amount": to_komoju(amount)}, idempotency_key=self._check_key(idempotency_key),
        )  # fmt: skip
        payment = KomojuPaymentInfo.parse(data, what="payment refund")
        log.info("KOMOJU payment %s refunded %s (status %s)", payment_id, amount, payment.status)
        return payment

    async def cancel_payment(self, payment_id: str, *, idempotency_key: str) -> KomojuPaymentInfo:
        """Void an authorized (not yet captured) payment (assumed path, see the module doc)."""
        data = await self._call(
            "POST", f"/payments/{payment_id}/cancel", what="payment cancel", safe=True,
            body={}, idempotency_key=self._check_key(idempotency_key),
        )  # fmt: skip
        payment = KomojuPaymentInfo.parse(data, what="payment cancel")
        log.info("KOMOJU payment %s cancelled (status %s)", payment_id, payment.status)
        return payment

    # -- webhooks -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def watch(
        self, session_id: str, external_order_num: str | None = None
    ) -> Iterator[SessionWatch]:
        """Follow one session's webhooks for the duration of the block."""
        watch = SessionWatch(session_id, external_order_num)
        self._watches[session_id] = watch
        try:
            yield watch
        finally:
            if self._watches.get(session_id) is watch:
                del self._watches[session_id]

    def attach(self, receiver: CallbackReceiver, path: str = WEBHOOK_PATH) -> None:
        """Take KOMOJU webhooks on ``path`` of the kiosk's callback receiver."""
        receiver.add_route(path, self.handle_webhook, parse_json=False)

    async def handle_webhook(self, inbound: InboundCallback) -> str:
        """A webhook from the callback receiver. Returns what was done, for its log line.

        Raises :class:`CallbackRejected` (401) for a missing or wrong signature
        and :class:`ProtocolError` (400) for a body that is not a KOMOJU event.
        Duplicates (same event id) change nothing.
        """
        signature = _header(inbound.headers, SIGNATURE_HEADER)
        secret = self._webhook_secret.reveal()
        if not secret:
            raise CallbackRejected(401, "no webhook secret configured")
        if not verify_webhook(inbound.body, signature, secret):
            log.warning("KOMOJU webhook refused: %s signature", "bad" if signature else "no")
            raise CallbackRejected(401, "bad signature")
        payload = decode_json(inbound.body, service=SERVICE, what="webhook", preview=False)
        event = WebhookEvent.parse(payload)
        if event.id in self._seen_events:
            return f"duplicate {event.type} {event.id}"
        self._seen_events[event.id] = None
        while len(self._seen_events) > 1024:
            self._seen_events.popitem(last=False)
        header_type = _header(inbound.headers, EVENT_HEADER)
        if header_type and header_type != event.type:
            log.info("KOMOJU webhook %s: header says %s", event.type, header_type)
        if event.type == "ping":
            return "ping"
        payment = event.payment
        if payment is None:
            return f"ignored {event.type}"
        watch = self._watch_for(payment)
        if watch is None:
            return f"{event.type} {payment.status}: no attempt follows it (polling covers it)"
        watch.deliver(payment)
        return f"{event.type} {payment.status} for session {watch.session_id}"

    def _watch_for(self, payment: KomojuPaymentInfo) -> SessionWatch | None:
        if payment.session_id is not None:
            return self._watches.get(payment.session_id)
        if payment.external_order_num is not None:
            for watch in self._watches.values():
                if watch.external_order_num == payment.external_order_num:
                    return watch
        return None


def from_config(
    config: Config,
    *,
    http: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> KomojuClient:
    """The client for ``config.komoju`` (locale from the kiosk's default language)."""
    settings = config.komoju
    return KomojuClient(
        settings.base_url,
        secret_key=settings.secret_key.reveal(),
        terminal_id=settings.terminal_id,
        webhook_secret=settings.webhook_secret.reveal(),
        locale=config.kiosk.default_language,
        timeout_s=settings.timeout_s,
        poll_interval_s=settings.poll_interval_s,
        http=http,
        clock=clock,
        retry=retry,
    )


__all__ = [
    "SERVICE",
    "WEBHOOK_PATH",
    "CancelRefused",
    "IdempotencyConflict",
    "KomojuClient",
    "KomojuPaymentInfo",
    "KomojuSession",
    "PaymentNotCancellable",
    "PaymentNotRefundable",
    "PrintFailed",
    "PushRefused",
    "SessionNotPending",
    "SessionWatch",
    "TerminalRequestRefused",
    "WebhookEvent",
    "api_error",
    "from_config",
    "parse_answer",
    "sign_webhook",
    "verify_webhook",
]
