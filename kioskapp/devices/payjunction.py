"""Async client for PayJunction Smart Terminals: card payments and magnetic-stripe reads.

Contract: PayJunction's Smart Terminals API reference. What PayJunction
documents and what we assume where it is silent, all in this one module:

- (doc) Base ``https://api.payjunctionlabs.com`` (test) /
  ``https://api.payjunction.com``. HTTP Basic ``login:password``, header
  ``X-PJ-Application-Key``, ``Accept: application/json``; bodies are
  form-encoded.
- (doc) ``POST /smartterminals/{smartTerminalId}/request-payment``
  (``terminalId``, ``amountBase`` like ``10.00``: no currency symbol, no
  thousands separator, at most 2 decimals) → ``{"requestPaymentId": "..."}``.
  Also documented and sent: ``showReceiptPrompt=false`` (the kiosk prints its
  own receipt, so the terminal frees itself right after the transaction) and
  ``interruptBusyTerminal=false`` (a busy terminal answers BUSY instead of
  losing the request it is running).
- (doc) ``POST /smartterminals/{smartTerminalId}/request-read``
  (``terminalId``) → ``{"requestId": "..."}``; non-financial cards only.
  Result track data in format 1 (``;7090112233654321?``) or format 2
  (``%B924696827707852^?;924696827707852=?``), parsed by
  :mod:`kioskapp.devices.tracks`. The customer's red X completes the request
  without a result.
- (doc, PayJunction's "Testing for Busy or Offline Smart Terminal" article and
  its API listing) ``POST
  /smartterminals/{smartTerminalId}/main`` returns the terminal to its main
  screen, ending the request it runs. Once the customer has inserted or
  swiped the card the transaction is processed anyway ("too late to cancel
  ... void instead"). This is the only way to stop a request from the API;
  there is no cancel by request id. (assumed) It answers 2xx with an empty
  or JSON body, and cannot reach an offline terminal.
- (doc) Request statuses ``CONNECTING`` | ``BUSY`` (the terminal runs another
  request; end state) | ``NO_CONNECTION`` | ``IN_PROGRESS`` (may carry a
  ``transactionId``: the card was processed, details by
  ``GET /transactions/{transactionId}``) | ``COMPLETE`` (with
  ``transactionId`` when a transaction was processed, without when it was
  cancelled or timed out).
- (doc) Webhook ``SMARTTERMINAL_REQUEST``:
  ``{"created", "data": {"requestId", "status", "transactionId"?}, "id", "type"}``;
  the data always names the request ``requestId``, also for payments. A
  ``COMPLETE`` without ``transactionId`` means no transaction was processed
  (cancelled, timed out); webhooks carry no ``result``: a read's track data
  is fetched by a poll.
- (doc) Errors ``{"errors": [{"message", "parameter", "type"}]}`` with HTTP
  400 (``type`` ``invalid`` | ``required``); 401 for bad credentials.
- (doc) Sandbox trigger amounts by cents: .01 call issuer, .05 do not honor,
  .08 insufficient funds, .91 no reply: declined.
- (doc) ``PUT /transactions/{id}`` with ``status=VOID`` voids a transaction;
  ``GET /transactions/{id}`` reads it.
- (assumed) Polling
  ``GET /smartterminals/{smartTerminalId}/requests/{requestId}`` at most every
  0.5 s per request, else 429. PayJunction's public pages name the polling
  endpoint ``GET /smartterminals/requests/{requestPaymentId}`` and an older
  listing limits it to one call per 2 s: the path is one function below
  (:func:`_request_path`) and the pace is ``poll_interval_s``. The answer
  is ``{"requestId", "status", "transactionId"?, "result"?}``. A read's
  result is ``{"track": "..."}``; a payment's result is ``{"transactionId",
  "status": "APPROVED"|"DECLINED", "amount": "10.00", "approvalCode",
  "cardBrand", "last4", "message"}``.
- (assumed) ``NO_CONNECTION`` is an end state too: the API gave up reaching
  the terminal and the request never ran.
- (assumed) A transaction is ``{"transactionId", "terminalId", "action",
  "amountBase", "amountTotal", "status": "CAPTURE"|"HOLD"|"VOID"|"DECLINED",
  "response": {"approved", "code", "message", "processor": {"approvalCode"}},
  "vault": {"type", "accountType", "lastFour"}}``; voiding a declined or
  settled transaction is refused with 400.
- (assumed) ``X-Pj-Signature`` is the hex HMAC-SHA256 of the raw webhook body
  with the webhook secret. 401/404/429/5xx bodies may be anything.
- (assumed) Unknown request statuses are kept as ``UNKNOWN`` (with the raw
  value) and change nothing; extra fields are ignored; ids may be numbers or
  strings.

Following a request (:meth:`PayJunctionClient.wait_update`): a signed
webhook updates the request's :class:`RequestTracker` at once; polls happen
when due (every ``poll_interval_s``, never faster than 0.5 s per request, on
the injected clock), so a lost webhook is caught by the next poll. States
never go back (a late ``IN_PROGRESS`` after ``COMPLETE`` changes nothing), a
``transactionId`` once seen is kept, and duplicated webhooks (same event id)
do nothing.

Retries: status reads, transaction reads, voids (setting VOID twice is
harmless) and returns to the main screen are repeated on timeouts,
connection errors, 429 and 5xx with capped backoff; ``request-payment`` and
``request-read`` never are (a repeat would start a second request). A
request that provably never left (the connection was not established) raises
:class:`NotSent`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, cast

import httpx

from kioskapp.core.clock import Clock, SystemClock
from kioskapp.core.money import Money, MoneyError, from_payjunction, to_payjunction
from kioskapp.devices.callbacks import (
    CallbackRejected,
    InboundCallback,
    hmac_sha256_hex,
    verify_hmac_sha256_hex,
)
from kioskapp.devices.errors import (
    ApiError,
    ConflictError,
    InvalidRequest,
    ProtocolError,
    ServiceError,
    ServiceTimeout,
    ServiceUnavailable,
    error_class_for_status,
)
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.http import (
    Fields,
    OwnedHttpClient,
    RetryPolicy,
    decode_json,
    transport_error,
    with_retries,
)
from kioskapp.devices.tracks import CardRead, parse_tracks

if TYPE_CHECKING:
    from kioskapp.config import Config

log = logging.getLogger(__name__)

SERVICE: Final = "payjunction"
#: PayJunction allows polling one request at most this often.
MIN_POLL_INTERVAL_S: Final = 0.5
WEBHOOK_TYPE: Final = "SMARTTERMINAL_REQUEST"
SIGNATURE_HEADER: Final = "X-Pj-Signature"
#: Where the kiosk's callback receiver takes PayJunction webhooks.
WEBHOOK_PATH: Final = "/webhooks/payjunction"

RequestState = Literal["CONNECTING", "BUSY", "NO_CONNECTION", "IN_PROGRESS", "COMPLETE", "UNKNOWN"]
REQUEST_STATES: Final = frozenset(
    {"CONNECTING", "BUSY", "NO_CONNECTION", "IN_PROGRESS", "COMPLETE"}
)
FINAL_STATES: Final = frozenset({"BUSY", "NO_CONNECTION", "COMPLETE"})
#: Clock arithmetic slack: a deadline this close counts as reached.
_EPSILON_S: Final = 1e-6
_RANK: Final = {"CONNECTING": 0, "IN_PROGRESS": 1, "BUSY": 2, "NO_CONNECTION": 2, "COMPLETE": 2}


def _request_path(smart_terminal_id: str, request_id: str) -> str:
    """The polling path (assumed): the one place to change if PayJunction's differs."""
    return f"/smartterminals/{smart_terminal_id}/requests/{request_id}"


# -- errors callers branch on ------------------------------------------------------


@dataclass(frozen=True)
class FieldError:
    """One entry of PayJunction's ``errors`` list."""

    message: str
    parameter: str | None = None
    type: str | None = None

    def __str__(self) -> str:
        return f"{self.parameter}: {self.message}" if self.parameter else self.message


class ValidationFailed(InvalidRequest):
    """HTTP 400: PayJunction refused a field (``errors`` says which and why)."""

    def __init__(self, message: str, *, errors: tuple[FieldError, ...], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.errors = errors


class NotSent(ServiceUnavailable):
    """The connection was never established: the request did nothing at PayJunction."""


class TerminalBusy(ConflictError):
    """The request ended BUSY: the terminal runs another request."""


class TerminalNotConnected(ServiceUnavailable):
    """The request ended NO_CONNECTION: PayJunction could not reach the terminal."""

    retryable = False


class ReadUnfinished(ServiceTimeout):
    """A card read did not end, even after the terminal was sent to its main screen."""


def parse_errors(body: object) -> tuple[FieldError, ...]:
    """The ``errors`` of an error body; entries that are not objects are skipped."""
    if not isinstance(body, Mapping):
        return ()
    items = body.get("errors")
    if not isinstance(items, list):
        return ()
    out: list[FieldError] = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        message = item.get("message")
        parameter = item.get("parameter")
        kind = item.get("type")
        out.append(
            FieldError(
                message=message if isinstance(message, str) and message else "invalid",
                parameter=parameter if isinstance(parameter, str) and parameter else None,
                type=kind if isinstance(kind, str) and kind else None,
            )
        )
    return tuple(out)


def api_error(status: int, body: object, *, what: str) -> ApiError:
    """The typed error for an HTTP error answer (``body``: decoded JSON or None)."""
    errors = parse_errors(body)
    if errors:
        detail = "; ".join(str(e) for e in errors)
    elif body is None:
        detail = f"HTTP {status} with a non-JSON body"
    else:
        detail = f"HTTP {status}"
    message = f"{what}: {detail}"
    code = errors[0].type if errors else None
    if status in (400, 422):
        return ValidationFailed(message, errors=errors, service=SERVICE, status=status, code=code)
    cls = error_class_for_status(status)
    return cls(message, service=SERVICE, status=status, code=code)


def parse_answer(status: int, body: bytes, *, what: str) -> Mapping[str, Any]:
    """One HTTP answer as its JSON object (``{}`` for an empty 2xx), or the typed error."""
    if status >= 400:
        try:
            decoded: object = decode_json(body, service=SERVICE, what=what, status=status)
        except ProtocolError:
            decoded = None
        raise api_error(status, decoded, what=what)
    if not 200 <= status < 300:
        raise ProtocolError(f"{what}: unexpected HTTP {status}", service=SERVICE, status=status)
    if not body.strip():
        return {}
    data = decode_json(body, service=SERVICE, what=what, status=status)
    return Fields(data, service=SERVICE, what=what).data


# -- typed answers --------------------------------------------------------------------


def _id(f: Fields, key: str) -> str | None:
    """An id PayJunction sends as a number (``10082``) or a string."""
    value = f.data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise f._fail(key, "an id (number or string)", value)
    text = str(value).strip()
    if not text or (isinstance(value, Decimal) and value != value.to_integral_value()):
        raise f._fail(key, "an id (number or string)", value)
    return text


def _last4(value: str | None) -> str | None:
    """At most the last four digits, or nothing if the field is not digits."""
    if value is None:
        return None
    digits = value.strip()[-4:]
    return digits if len(digits) == 4 and all(c in "0123456789" for c in digits) else None


def _amount(f: Fields, key: str, currency: str) -> Money | None:
    value = f.data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise f._fail(key, "an amount like '10.00'", value)
    try:
        return from_payjunction(str(value), currency)
    except MoneyError as exc:
        raise ProtocolError(f"{f.what}: field {key!r}: {exc}", service=SERVICE) from exc


@dataclass(frozen=True)
class PaymentSummary:
    """What a processed payment came to: from a request's ``result`` or its transaction."""

    transaction_id: str
    status: str  # APPROVED | DECLINED as sent; anything else is neither
    approved: bool
    amount: Money | None = None
    approval_code: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    message: str | None = None

    @property
    def declined(self) -> bool:
        return self.status == "DECLINED"

    @classmethod
    def parse(cls, f: Fields, currency: str) -> PaymentSummary:
        transaction_id = _id(f, "transactionId")
        if transaction_id is None:
            raise f._fail("transactionId", "an id", None)
        status = f.text("status").upper()
        return cls(
            transaction_id=transaction_id,
            status=status,
            approved=status == "APPROVED",
            amount=_amount(f, "amount", currency),
            approval_code=f.opt_text("approvalCode") or None,
            card_brand=f.opt_text("cardBrand") or None,
            card_last4=_last4(f.opt_text("last4")),
            message=f.opt_text("message") or None,
        )


@dataclass(frozen=True)
class Transaction:
    """A PayJunction transaction (``GET /transactions/{id}``; shape assumed)."""

    transaction_id: str
    status: str  # CAPTURE | HOLD | VOID | DECLINED | ...
    approved: bool
    amount: Money | None
    approval_code: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None
    response_code: str | None = None
    message: str | None = None

    @property
    def voided(self) -> bool:
        return self.status == "VOID"

    @classmethod
    def parse(cls, data: object, currency: str) -> Transaction:
        f = Fields(data, service=SERVICE, what="transaction")
        transaction_id = _id(f, "transactionId")
        if transaction_id is None:
            raise f._fail("transactionId", "an id", None)
        response = f.opt_obj("response")
        approved = response.flag("approved") if response is not None else False
        processor = response.opt_obj("processor") if response is not None else None
        vault = f.opt_obj("vault")
        amount = _amount(f, "amountTotal", currency) or _amount(f, "amountBase", currency)
        return cls(
            transaction_id=transaction_id,
            status=f.text("status").upper(),
            approved=approved,
            amount=amount,
            approval_code=(processor.opt_text("approvalCode") or None) if processor else None,
            card_brand=(vault.opt_text("accountType") or None) if vault else None,
            card_last4=_last4(vault.opt_text("lastFour")) if vault else None,
            response_code=(response.opt_text("code") or None) if response else None,
            message=(response.opt_text("message") or None) if response else None,
        )

    def summary(self) -> PaymentSummary:
        approved = self.approved and self.status in ("CAPTURE", "HOLD")
        if approved:
            status = "APPROVED"
        elif self.status == "DECLINED" or (not self.approved and self.status != "VOID"):
            status = "DECLINED"
        else:
            status = self.status
        return PaymentSummary(
            transaction_id=self.transaction_id,
            status=status,
            approved=approved,
            amount=self.amount,
            approval_code=self.approval_code,
            card_brand=self.card_brand,
            card_last4=self.card_last4,
            message=self.message,
        )


@dataclass(frozen=True)
class RequestStatus:
    """One known state of a Smart Terminal request, from a poll or a webhook."""

    request_id: str
    state: RequestState
    raw_status: str
    transaction_id: str | None = None
    payment: PaymentSummary | None = None
    track: str | None = field(default=None, repr=False)  # a read's track data: never log
    has_result: bool = False
    source: Literal["poll", "webhook"] = "poll"

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES

    @classmethod
    def parse(
        cls,
        data: object,
        *,
        currency: str = "USD",
        source: Literal["poll", "webhook"] = "poll",
        request_id: str | None = None,
        what: str = "request status",
    ) -> RequestStatus:
        f = Fields(data, service=SERVICE, what=what)
        rid = _id(f, "requestId") or _id(f, "requestPaymentId") or request_id
        if rid is None:
            raise f._fail("requestId", "an id", None)
        raw = f.text("status")
        upper = raw.upper()
        state = cast(RequestState, upper if upper in REQUEST_STATES else "UNKNOWN")
        transaction_id = _id(f, "transactionId")
        result = f.opt_obj("result")
        payment = None
        track = None
        if result is not None:
            if "track" in result.data:
                value = result.data.get("track")
                if value is not None and not isinstance(value, str):
                    raise result._fail("track", "a string", value)
                track = value
            if result.has("transactionId") or result.has("status"):
                payment = PaymentSummary.parse(result, currency)
                transaction_id = transaction_id or payment.transaction_id
        return cls(
            request_id=rid,
            state=state,
            raw_status=raw,
            transaction_id=transaction_id,
            payment=payment,
            track=track,
            has_result=result is not None,
            source=source,
        )


@dataclass(frozen=True)
class WebhookEvent:
    event_id: str | None
    type: str
    created: str | None
    status: RequestStatus | None  # for SMARTTERMINAL_REQUEST

    @classmethod
    def parse(cls, payload: object, *, currency: str = "USD") -> WebhookEvent:
        f = Fields(payload, service=SERVICE, what="webhook")
        kind = f.text("type")
        status = None
        if kind == WEBHOOK_TYPE:
            status = RequestStatus.parse(
                f.data.get("data"), currency=currency, source="webhook", what="webhook data"
            )
        return cls(event_id=_id(f, "id"), type=kind, created=f.opt_text("created"), status=status)


# Signatures: hex HMAC-SHA256 of the raw body (one implementation for every webhook).
sign_webhook = hmac_sha256_hex
verify_webhook = verify_hmac_sha256_hex


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


# -- following one request ----------------------------------------------------------


class RequestTracker:
    """The best-known state of one request, merged from polls and webhooks.

    States only move forward (``CONNECTING`` → ``IN_PROGRESS`` → an end
    state); an end state is never replaced (a later answer may only add the
    result or transaction id it lacked); unknown statuses are logged and
    change nothing. ``version`` grows with every change; waiters wake on it.
    """

    def __init__(self, request_id: str, created_at: float) -> None:
        self.request_id = request_id
        self.created_at = created_at  # clock monotonic: scheduled polls count from here
        self.latest: RequestStatus | None = None
        self.last_polled: RequestStatus | None = None  # the latest poll's own answer
        self.version = 0
        self.last_poll_at: float | None = None
        self.poll_failures = 0
        self.last_error: ServiceError | None = None
        self.poll_lock = asyncio.Lock()
        self._changed = asyncio.Event()

    @property
    def changed(self) -> asyncio.Event:
        """Set at the next change (a fresh event after each change)."""
        return self._changed

    def apply(self, status: RequestStatus) -> bool:
        """Merge one status; True when it told something new."""
        if status.state == "UNKNOWN":
            log.info(
                "PayJunction request %s: unknown status %r ignored",
                self.request_id,
                status.raw_status[:40],
            )
            return False
        old = self.latest
        merged = status
        if old is not None:
            transaction_id = old.transaction_id or status.transaction_id
            if old.final:
                if status.state != old.state:
                    return False
                merged = replace(
                    old,
                    transaction_id=transaction_id,
                    payment=old.payment or status.payment,
                    track=old.track if old.track is not None else status.track,
                    has_result=old.has_result or status.has_result,
                )
            elif _RANK[status.state] < _RANK[old.state]:
                if transaction_id == old.transaction_id:
                    return False
                merged = replace(old, transaction_id=transaction_id)
            else:
                merged = replace(status, transaction_id=transaction_id)
            if replace(merged, source=old.source) == old:
                return False
        self.latest = merged
        self.version += 1
        event, self._changed = self._changed, asyncio.Event()
        event.set()
        return True


# -- the client -----------------------------------------------------------------------


@dataclass(frozen=True)
class PayJunctionTimeouts:
    default: float = 10.0
    connect: float = 3.0


class PayJunctionClient(OwnedHttpClient):
    """One owner for all traffic to PayJunction for one Smart Terminal.

    Wire :meth:`handle_webhook` to the callback receiver (``WEBHOOK_PATH``)
    for fast updates; without webhooks everything still works by polling.
    Close with :meth:`aclose` (it closes only an ``http`` client it created).
    """

    def __init__(
        self,
        base_url: str,
        *,
        login: str,
        password: str,
        application_key: str,
        smart_terminal_id: str,
        terminal_id: int,
        webhook_secret: str | None = None,
        currency: str = "USD",
        http: httpx.AsyncClient | None = None,
        timeouts: PayJunctionTimeouts | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        poll_interval_s: float = MIN_POLL_INTERVAL_S,
        show_receipt_prompt: bool = False,
        max_tracked: int = 256,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._auth = httpx.BasicAuth(login, password)
        self._app_key = application_key
        self.smart_terminal_id = smart_terminal_id
        self.terminal_id = terminal_id
        self._webhook_secret = webhook_secret or None
        self.currency = currency
        self.timeouts = timeouts or PayJunctionTimeouts()
        self._retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.poll_interval_s = max(MIN_POLL_INTERVAL_S, poll_interval_s)
        self.show_receipt_prompt = show_receipt_prompt
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeouts.default, connect=self.timeouts.connect)
        )
        self.health = ServiceHealth(SERVICE)
        self._trackers: OrderedDict[str, RequestTracker] = OrderedDict()
        self._max_tracked = max_tracked
        self._seen_events: OrderedDict[str, None] = OrderedDict()
        self._closed = False

    # -- low level --------------------------------------------------------------
    async def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        form: Mapping[str, str] | None = None,
    ) -> Mapping[str, Any]:
        headers = {"Accept": "application/json", "X-PJ-Application-Key": self._app_key}
        try:
            resp = await self._http.request(
                method,
                self.base_url + path,
                data=dict(form) if form is not None else None,
                headers=headers,
                auth=self._auth,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            err: ServiceError = NotSent(
                f"{what}: no connection ({type(exc).__name__}); nothing was sent",
                service=SERVICE,
            )
            self.health.record_error(err, self.clock.time())
            raise err from exc
        except httpx.RequestError as exc:
            err = transport_error(exc, service=SERVICE, what=what)
            self.health.record_error(err, self.clock.time())
            raise err from exc
        try:
            data = parse_answer(resp.status_code, resp.content, what=what)
        except ServiceError as error:
            self.health.record_error(error, self.clock.time())
            raise
        self.health.record_ok(self.clock.time())
        return data

    async def _safe(
        self, method: str, path: str, *, what: str, form: Mapping[str, str] | None = None
    ) -> Mapping[str, Any]:
        """A request whose repetition is harmless: retried on transient failures."""
        return await with_retries(
            lambda: self._send(method, path, what=what, form=form),
            policy=self._retry,
            clock=self.clock,
            what=what,
        )

    def _terminal_path(self, suffix: str) -> str:
        return f"/smartterminals/{self.smart_terminal_id}/{suffix}"

    # -- requests ------------------------------------------------------------------
    async def request_payment(self, amount: Money) -> str:
        """Show ``amount`` on the terminal; returns the ``requestPaymentId``. Never repeated."""
        if amount.currency != self.currency:
            raise ValueError(f"PayJunction takes {self.currency}, not {amount.currency}")
        if amount.minor <= 0:
            raise ValueError(f"amount must be positive, got {amount}")
        form = {
            "terminalId": str(self.terminal_id),
            "amountBase": to_payjunction(amount),
            "showReceiptPrompt": "true" if self.show_receipt_prompt else "false",
            "interruptBusyTerminal": "false",
        }
        data = await self._send(
            "POST", self._terminal_path("request-payment"), what="request-payment", form=form
        )
        request_id = _id(Fields(data, service=SERVICE, what="request-payment"), "requestPaymentId")
        if request_id is None:
            raise ProtocolError("request-payment: no requestPaymentId", service=SERVICE)
        self.track(request_id)
        log.info("PayJunction payment request %s for %s", request_id, amount)
        return request_id

    async def request_read(self) -> str:
        """Ask the customer to swipe a (non-financial) card; returns the ``requestId``."""
        data = await self._send(
            "POST",
            self._terminal_path("request-read"),
            what="request-read",
            form={"terminalId": str(self.terminal_id), "interruptBusyTerminal": "false"},
        )
        request_id = _id(Fields(data, service=SERVICE, what="request-read"), "requestId")
        if request_id is None:
            raise ProtocolError("request-read: no requestId", service=SERVICE)
        self.track(request_id)
        log.info("PayJunction read request %s", request_id)
        return request_id

    async def return_to_main(self) -> None:
        """Send the terminal to its main screen, ending the request it runs (if any)."""
        await self._safe("POST", self._terminal_path("main"), what="return to main screen")

    async def request_status(self, request_id: str) -> RequestStatus:
        """Poll one request (waits on the clock so as never to poll it faster than 0.5 s)."""
        tracker = self.track(request_id)
        async with tracker.poll_lock:
            if tracker.last_poll_at is not None:
                wait = tracker.last_poll_at + MIN_POLL_INTERVAL_S - self.clock.monotonic()
                if wait > _EPSILON_S:
                    await self.clock.sleep(wait)
            tracker.last_poll_at = self.clock.monotonic()
            data = await self._send(
                "GET", _request_path(self.smart_terminal_id, request_id), what="request status"
            )
        status = RequestStatus.parse(data, currency=self.currency, request_id=request_id)
        if status.request_id != request_id:
            raise ProtocolError(
                "request status: the answer is about another request", service=SERVICE
            )
        if status.state != "UNKNOWN":
            tracker.last_polled = status
        tracker.apply(status)
        return status

    # -- transactions ----------------------------------------------------------------
    async def transaction(self, transaction_id: str) -> Transaction:
        data = await self._safe("GET", f"/transactions/{transaction_id}", what="transaction")
        return self._transaction(data, transaction_id)

    async def void(self, transaction_id: str) -> Transaction:
        """Void a transaction (``status=VOID``); returns it as PayJunction answers."""
        data = await self._safe(
            "PUT", f"/transactions/{transaction_id}", what="void", form={"status": "VOID"}
        )
        return self._transaction(data, transaction_id)

    def _transaction(self, data: Mapping[str, Any], transaction_id: str) -> Transaction:
        tx = Transaction.parse(data, self.currency)
        if tx.transaction_id != transaction_id:
            raise ProtocolError("transaction: the answer is about another one", service=SERVICE)
        return tx

    # -- following -------------------------------------------------------------------
    def reached(self, moment: float) -> bool:
        """Whether the clock (monotonic) reached ``moment``, with float slack."""
        return self.clock.monotonic() >= moment - _EPSILON_S

    def track(self, request_id: str) -> RequestTracker:
        """The tracker of one request (created on first use; the oldest are forgotten)."""
        tracker = self._trackers.get(request_id)
        if tracker is None:
            tracker = RequestTracker(request_id, self.clock.monotonic())
            self._trackers[request_id] = tracker
            while len(self._trackers) > self._max_tracked:
                self._trackers.popitem(last=False)
        else:
            self._trackers.move_to_end(request_id)
        return tracker

    async def poll_into(self, tracker: RequestTracker) -> None:
        """Poll ``tracker``'s request now; a failure is recorded on it, not raised."""
        try:
            await self.request_status(tracker.request_id)
        except ServiceError as exc:
            tracker.poll_failures += 1
            tracker.last_error = exc
            if tracker.poll_failures == 1 or tracker.poll_failures % 20 == 0:
                log.warning(
                    "PayJunction request %s: poll failed %d time(s): %s",
                    tracker.request_id,
                    tracker.poll_failures,
                    exc,
                )
        else:
            tracker.poll_failures = 0
            tracker.last_error = None

    async def wait_update(
        self,
        tracker: RequestTracker,
        *,
        since: int,
        until: float,
        stop: asyncio.Event | None = None,
    ) -> None:
        """Return when ``tracker`` moved past version ``since``, at ``until`` (clock
        monotonic), or when ``stop`` is set; polls whenever a poll is due meanwhile.

        Polls are due every ``poll_interval_s`` counted from the last poll (or
        from the request's creation): webhooks usually tell first.
        """
        while tracker.version == since:
            now = self.clock.monotonic()
            if now >= until - _EPSILON_S or (stop is not None and stop.is_set()):
                return
            anchor = (
                tracker.last_poll_at if tracker.last_poll_at is not None else tracker.created_at
            )
            due = anchor + self.poll_interval_s
            if due <= now + _EPSILON_S:
                await self.poll_into(tracker)
                continue
            await self._wait_any(tracker.changed, stop, min(due, until) - now)

    async def _wait_any(
        self, changed: asyncio.Event, stop: asyncio.Event | None, seconds: float
    ) -> None:
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(changed.wait()),
            asyncio.ensure_future(self.clock.sleep(seconds)),
        ]
        if stop is not None:
            waiters.append(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    # -- webhooks ----------------------------------------------------------------------
    async def handle_webhook(self, callback: InboundCallback) -> str:
        """Take one webhook from the callback receiver (route with ``parse_json=False``).

        A missing or wrong signature → :class:`CallbackRejected` (401); a body
        that is not a webhook → :class:`ProtocolError` (400). Duplicates (same
        event id) and webhooks that tell nothing new change nothing.
        """
        secret = self._webhook_secret
        if secret is None:
            raise CallbackRejected(401, "webhooks are not configured (no secret)")
        if not verify_webhook(callback.body, _header(callback.headers, SIGNATURE_HEADER), secret):
            log.warning("PayJunction webhook with a bad signature refused")
            raise CallbackRejected(401, "bad signature")
        payload = decode_json(callback.body, service=SERVICE, what="webhook", preview=False)
        event = WebhookEvent.parse(payload, currency=self.currency)
        if event.event_id is not None:
            if event.event_id in self._seen_events:
                return "duplicate"
            self._seen_events[event.event_id] = None
            while len(self._seen_events) > 1024:
                self._seen_events.popitem(last=False)
        if event.status is None:
            return f"ignored ({event.type[:40]})"
        status = event.status
        changed = self.track(status.request_id).apply(status)
        return f"{status.raw_status[:20]} {'accepted' if changed else 'no change'}"

    # -- card reads --------------------------------------------------------------------
    async def read_card(
        self,
        *,
        timeout_s: float = 60.0,
        settle_s: float = 15.0,
        cancel: asyncio.Event | None = None,
    ) -> CardRead | None:
        """Ask the customer to swipe a card and parse its tracks.

        Returns None when no card was read: the customer pressed the red X,
        ``cancel`` was set, or ``timeout_s`` passed (the terminal is then sent
        to its main screen). Raises :class:`~kioskapp.devices.tracks.TrackParseError`
        for unreadable track data, :class:`TerminalBusy`,
        :class:`TerminalNotConnected`, or :class:`ReadUnfinished` if the
        request would not end.
        """
        request_id = await self.request_read()
        tracker = self.track(request_id)
        deadline = self.clock.monotonic() + timeout_s
        stopped = False
        while True:
            status = tracker.latest
            seen = tracker.version
            if status is not None and status.final:
                if status.state == "COMPLETE" and status.source == "webhook":
                    # A webhook said COMPLETE; only a poll carries the track (or shows none).
                    polled = tracker.last_polled
                    if polled is None or not polled.final:
                        until = max(deadline, self.clock.monotonic() + settle_s)
                        polled = await self._poll_until_final(tracker, until=until)
                    if polled is None:
                        raise ReadUnfinished(
                            f"card read {request_id}: its result could not be fetched",
                            service=SERVICE,
                        )
                    status = polled
                return self._read_result(status)
            if not stopped and (self.reached(deadline) or (cancel is not None and cancel.is_set())):
                stopped = True
                try:
                    await self.return_to_main()
                except ServiceError as exc:
                    log.warning("PayJunction read %s: could not stop it: %s", request_id, exc)
                deadline = self.clock.monotonic() + settle_s
                continue
            if stopped and self.reached(deadline):
                raise ReadUnfinished(
                    f"card read {request_id} did not end after the terminal was sent to "
                    "its main screen",
                    service=SERVICE,
                )
            await self.wait_update(
                tracker, since=seen, until=deadline, stop=None if stopped else cancel
            )

    async def _poll_until_final(
        self, tracker: RequestTracker, *, until: float
    ) -> RequestStatus | None:
        """Poll (at the allowed pace) until a poll itself shows an end state, or ``until``."""
        while True:
            try:
                status = await self.request_status(tracker.request_id)
            except ServiceError as exc:
                log.warning("PayJunction request %s: poll failed: %s", tracker.request_id, exc)
            else:
                if status.final:
                    return status
            if self.reached(until):
                return None
            await self.clock.sleep(self.poll_interval_s)

    def _read_result(self, status: RequestStatus) -> CardRead | None:
        if status.state == "BUSY":
            raise TerminalBusy(
                "the terminal is busy with another request", service=SERVICE, code="BUSY"
            )
        if status.state == "NO_CONNECTION":
            raise TerminalNotConnected(
                "PayJunction cannot reach the terminal", service=SERVICE, code="NO_CONNECTION"
            )
        if status.track is None:
            log.info("PayJunction read %s ended without a card", status.request_id)
            return None
        card = parse_tracks(status.track)
        log.info("PayJunction read %s: card %s", status.request_id, card.masked)
        return card


def from_config(
    config: Config,
    *,
    http: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> PayJunctionClient:
    """The client for ``config.payjunction``."""
    settings = config.payjunction
    return PayJunctionClient(
        settings.base_url,
        login=settings.login,
        password=settings.password.reveal(),
        application_key=settings.application_key.reveal(),
        smart_terminal_id=settings.smart_terminal_id,
        terminal_id=settings.terminal_id,
        webhook_secret=settings.webhook_secret.reveal(),
        timeouts=PayJunctionTimeouts(default=settings.timeout_s),
        poll_interval_s=settings.poll_interval_s,
        http=http,
        clock=clock,
        retry=retry,
    )


__all__ = [
    "FINAL_STATES",
    "MIN_POLL_INTERVAL_S",
    "REQUEST_STATES",
    "SERVICE",
    "SIGNATURE_HEADER",
    "WEBHOOK_PATH",
    "WEBHOOK_TYPE",
    "FieldError",
    "NotSent",
    "PayJunctionClient",
    "PayJunctionTimeouts",
    "PaymentSummary",
    "ReadUnfinished",
    "RequestState",
    "RequestStatus",
    "RequestTracker",
    "TerminalBusy",
    "TerminalNotConnected",
    "Transaction",
    "ValidationFailed",
    "WebhookEvent",
    "api_error",
    "from_config",
    "parse_answer",
    "parse_errors",
    "sign_webhook",
    "verify_webhook",
]
