"""Async client for the CISS CardAPI: cashback cards ("passes"), searched and debited.

Contract: the CISS CardAPI reference. What the vendor documents and what we
assume where it is silent, all in this one module:

- (doc) Bearer JWT on every request. Error codes and their HTTP statuses:
  CARD-1, CARD-4, CARD-10, CARD-11 → 500 (internal); CARD-2 invalid path 404;
  CARD-3 missing/invalid parameter 422; CARD-5 missing token 401; CARD-6
  invalid signature, CARD-7 expired, CARD-8 invalid token → 400; CARD-9
  unauthorized 403; CARD-14 pass not found 404.
- (assumed) Error body ``{"code":"CARD-14","message":"Pass not found"}``
  (``error`` is read when ``code`` is missing; ``request_id`` when present).
  A code we do not know is typed by its HTTP status alone.
- (assumed) The token is configured (``cardapi.token``); "refreshing" it means
  asking the injected ``token_provider`` once more (by default: re-reading the
  configured value), so a credential endpoint can be plugged in later. After a
  token error (CARD-5..8) the token is refreshed ONCE per operation and the
  request repeated; a second token error is a clear failure. A token error
  proves the request did nothing (auth is checked first).
- (doc) Search: ``GET /cards`` with ``search_mode`` + ``q`` + ``group_id``, or
  ``search_mode`` + ``q`` + ``store_id`` + ``point_of_sale_id``. (assumed)
  ``search_mode`` is ``nfc`` | ``barcode`` | ``manual``.
- (doc) Search answer ``{"type":"CASHBACK","pass":{"type","service_id",
  "payment_method_id","balance":6.54,"currency":"EUR","expiration_date":
  "2050-08-24T14:15:22Z","id","serial_number","number","nfc_number",
  "consumer":{"id","given_name","family_name"}}}``; ``balance`` is a decimal
  number in major units. Only ``CASHBACK`` passes can be debited; expired
  passes cannot.
- (assumed) Tolerated: extra fields anywhere; ``balance`` as a decimal string;
  ids and card numbers as JSON numbers (kept as strings); a missing
  ``pass.type`` (the top-level ``type`` is used); ``type`` in any letter case;
  ``expiration_date`` null (never expires) or without an offset (UTC);
  ``consumer`` null; ``"pass": null`` on a 2xx answer means "not found".
- (doc) Debit: ``POST /cards/cashback/debit`` (path assumed) with
  ``ticket_id`` (uuid, required: the sale's lifetime-unique id, any version),
  ``ticket_number`` (string), ``point_of_sale_id`` (integer, required),
  ``device_id`` (string, required), ``payment_row`` (object, required) →
  ``{"ticket_id","payment_row","receipt_row"}``.
- (assumed) ``payment_row`` = ``{"pass_id","payment_method_id","amount":"2.50",
  "currency"}``: a decimal string with the currency's decimals, 0 allowed (it
  registers the sale on a new card). ``receipt_row`` = ``{"label":"Cashback",
  "amount":"-2.50","balance":"4.04"}``; a missing ``receipt_row`` (or field)
  is tolerated: label "Cashback", amount = minus the debited amount, balance
  unknown. The answer's ``ticket_id``, ``payment_row.pass_id`` and
  ``payment_row.amount`` must match what we sent, else the answer is not ours
  (:class:`~kioskapp.devices.errors.ProtocolError`).
- (assumed) The same ``ticket_id`` posted again returns the first result and
  debits once; insufficient balance → 422 CARD-3.

Retries: searches repeat on timeouts, connection errors and 5xx. A debit is
idempotent by its ``ticket_id``, so it repeats — always with the same
payload — on timeouts, connection errors, 409, 429, 5xx and unreadable answers,
with capped backoff. When a debit finally fails after an attempt that may have
debited (no answer, a 5xx, an unreadable answer), :class:`DebitOutcomeUnknown`
is raised: send the same :class:`DebitRequest` again later (recovery), never a
new ticket. Any other error proves nothing was debited.

A debit is refused before anything is sent when the pass cannot pay
(:class:`PassNotDebitable`: not CASHBACK, expired, other currency, amount above
the balance).

Never logged: the token, full card numbers (at most the last 4 digits),
consumer names.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, get_args

import httpx

from kioskapp.core.clock import Clock, SystemClock
from kioskapp.core.money import Money, MoneyError, dumps_json, from_cardapi, to_cardapi
from kioskapp.devices.errors import (
    ApiError,
    AuthError,
    ConflictError,
    InvalidRequest,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    ServiceError,
    ServiceUnavailable,
    error_class_for_status,
)
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.http import (
    Fields,
    RetryPolicy,
    decode_json,
    transport_error,
    with_retries,
)

if TYPE_CHECKING:
    from kioskapp.config import Config, Secret

log = logging.getLogger(__name__)

SERVICE: Final = "cardapi"
SEARCH_PATH: Final = "/cards"
DEBIT_PATH: Final = "/cards/cashback/debit"
CASHBACK: Final = "CASHBACK"
DEFAULT_RECEIPT_LABEL: Final = "Cashback"

SearchMode = Literal["nfc", "barcode", "manual"]
SEARCH_MODES: Final[tuple[str, ...]] = get_args(SearchMode)

#: Gives the current bearer token; called again (once) to refresh after a token error.
TokenProvider = Callable[[], Awaitable[str]]

#: Debits are idempotent by ticket_id: worth a few more tries than a search.
DEFAULT_DEBIT_RETRY: Final = RetryPolicy(attempts=5, base_delay_s=0.5, max_delay_s=4.0)


# -- errors callers branch on ----------------------------------------------------


class CardApiError(ApiError):
    """An error CardAPI answered with one of its documented codes."""

    #: The HTTP status the vendor documents for this code (``status`` is what came).
    documented_status: ClassVar[int | None] = None


class CardApiInternalError(ServerError, CardApiError):
    """CARD-1, -4, -10, -11: CardAPI failed internally (HTTP 500). Retryable."""

    documented_status = 500


class InvalidPath(NotFound, CardApiError):
    """CARD-2: the path does not exist (404): a wrong ``cardapi.base_url`` or a bug."""

    documented_status = 404


class InvalidParameter(InvalidRequest, CardApiError):
    """CARD-3: a parameter is missing or invalid (422); also an insufficient balance."""

    documented_status = 422


class CardTokenError(AuthError, CardApiError):
    """CARD-5..8: the bearer token was refused. Refreshed once, then a clear failure."""


class MissingToken(CardTokenError):
    """CARD-5 (401)."""

    documented_status = 401


class InvalidTokenSignature(CardTokenError):
    """CARD-6 (400)."""

    documented_status = 400


class TokenExpired(CardTokenError):
    """CARD-7 (400)."""

    documented_status = 400


class InvalidToken(CardTokenError):
    """CARD-8 (400)."""

    documented_status = 400


class UnauthorizedAccess(AuthError, CardApiError):
    """CARD-9 (403): the token is valid but may not use this service, group, store or POS."""

    documented_status = 403


class PassNotFound(NotFound, CardApiError):
    """CARD-14 (404): no pass for that number. The customer's to act on: "card not found"."""

    documented_status = 404


class TicketConflict(ConflictError):
    """A 409 without a known code: the ticket may be in progress; repeating it is safe."""

    retryable = True


#: Every documented CARD code → its error class (the class knows the documented status).
CARD_ERRORS: Final[Mapping[str, type[CardApiError]]] = {
    "CARD-1": CardApiInternalError,
    "CARD-2": InvalidPath,
    "CARD-3": InvalidParameter,
    "CARD-4": CardApiInternalError,
    "CARD-5": MissingToken,
    "CARD-6": InvalidTokenSignature,
    "CARD-7": TokenExpired,
    "CARD-8": InvalidToken,
    "CARD-9": UnauthorizedAccess,
    "CARD-10": CardApiInternalError,
    "CARD-11": CardApiInternalError,
    "CARD-14": PassNotFound,
}


class PassNotDebitable(ServiceError):
    """Refused before sending: this pass cannot pay this amount. Nothing was sent."""

    def __init__(self, message: str, *, pass_id: str) -> None:
        super().__init__(message, service=SERVICE)
        self.pass_id = pass_id


class NotCashbackPass(PassNotDebitable):
    """Only passes of type CASHBACK can be debited."""


class PassExpired(PassNotDebitable):
    """The pass's expiration date has passed."""


class CurrencyMismatch(PassNotDebitable):
    """The pass holds another currency than the amount to debit."""


class InsufficientBalance(PassNotDebitable):
    """The amount is above the pass's balance."""

    def __init__(self, message: str, *, pass_id: str, balance: Money, amount: Money) -> None:
        super().__init__(message, pass_id=pass_id)
        self.balance = balance
        self.amount = amount


class DebitOutcomeUnknown(ServiceError):
    """A debit failed after an attempt that may have debited the pass.

    Send the same :class:`DebitRequest` again (same ``ticket_id``): CardAPI
    answers the first result if it was debited, or debits it now. ``last_error``
    is the final attempt's error (also ``__cause__``).
    """

    retryable = True

    def __init__(self, message: str, *, last_error: ServiceError, ticket_id: str) -> None:
        super().__init__(
            message,
            service=SERVICE,
            status=last_error.status,
            code=last_error.code,
            request_id=last_error.request_id,
        )
        self.last_error = last_error
        self.ticket_id = ticket_id


class DebitAnswerUnreadable(ProtocolError):
    """A debit's answer could not be read; the debit may have happened. Repeating is safe."""

    retryable = True


# -- parsing (pure: no I/O, tested against recorded payloads) ---------------------


def api_error(status: int, body: object) -> ApiError:
    """The typed error for an HTTP error answer (body: decoded JSON, or None)."""
    message = f"HTTP {status}"
    code = request_id = None
    if isinstance(body, Mapping):
        raw_code = body.get("code")
        if not isinstance(raw_code, str):
            raw_code = body.get("error")
        if isinstance(raw_code, str) and raw_code.strip():
            code = raw_code.strip().upper()
        if isinstance(body.get("message"), str) and body["message"]:
            message = body["message"]
        if isinstance(body.get("request_id"), str):
            request_id = body["request_id"]
    else:
        message = f"HTTP {status} with a non-JSON body"
    cls: type[ApiError] | None = CARD_ERRORS.get(code or "")
    if cls is None:
        cls = TicketConflict if status == 409 else error_class_for_status(status)
    return cls(message, service=SERVICE, status=status, code=code, request_id=request_id)


def parse_answer(status: int, body: bytes, *, what: str) -> Mapping[str, Any]:
    """One HTTP answer → its JSON object, or the typed error it stands for."""
    if status >= 400:
        try:
            decoded: object = decode_json(body, service=SERVICE, what=what, status=status)
        except ProtocolError:
            decoded = None
        raise api_error(status, decoded)
    if not 200 <= status < 300:
        raise ProtocolError(f"{what}: unexpected HTTP {status}", service=SERVICE, status=status)
    data = decode_json(body, service=SERVICE, what=what, status=status)
    return Fields(data, service=SERVICE, what=what).data


def _ident(f: Fields, key: str) -> str:
    """An id or card number: a non-empty string, or a JSON integer (kept as its digits)."""
    value = f.data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f.text(key)


def _opt_ident(f: Fields, key: str) -> str | None:
    return None if f.data.get(key) is None else _ident(f, key)


def _money(f: Fields, key: str, currency: str) -> Money:
    value = f.data.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        raise ProtocolError(
            f"{f.what}: field {key!r} should be a decimal amount, got {type(value).__name__}",
            service=SERVICE,
        )
    try:
        return from_cardapi(value, currency)
    except MoneyError as exc:
        raise ProtocolError(f"{f.what}: field {key!r}: {exc}", service=SERVICE) from exc


def _currency(f: Fields, key: str = "currency") -> str:
    code = f.text(key)
    try:
        Money.zero(code)
    except MoneyError as exc:
        raise ProtocolError(f"{f.what}: field {key!r}: {exc}", service=SERVICE) from exc
    return code


def parse_datetime(value: str, *, what: str) -> datetime:
    """An ISO 8601 date-time as an aware datetime; without an offset it is UTC (assumed)."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ProtocolError(
            f"{what}: {value[:40]!r} is not an ISO 8601 date-time", service=SERVICE
        ) from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _as_datetime(now: datetime | float) -> datetime:
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime (or epoch seconds)")
        return now
    return datetime.fromtimestamp(now, UTC)


def mask(number: str | None) -> str:
    """A card number fit for logs and screens: its last 4 characters at most."""
    if not number:
        return "-"
    return "…" + number[-4:] if len(number) > 4 else "…"


@dataclass(frozen=True)
class Consumer:
    """The pass holder. Names are personal data: not in ``repr``, never logged."""

    id: int | str | None
    given_name: str | None = field(default=None, repr=False)
    family_name: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Pass:
    """A card as CardAPI knows it. Card numbers are kept out of ``repr`` (logs)."""

    type: str
    id: str
    service_id: int | None
    payment_method_id: int | None
    balance: Money
    expiration_date: datetime | None
    serial_number: str | None = field(default=None, repr=False)
    number: str | None = field(default=None, repr=False)
    nfc_number: str | None = field(default=None, repr=False)
    consumer: Consumer | None = None

    @property
    def currency(self) -> str:
        return self.balance.currency

    @property
    def is_cashback(self) -> bool:
        return self.type.upper() == CASHBACK

    @property
    def last4(self) -> str:
        """The last 4 characters of the card's number (for receipts and logs)."""
        number = self.number or self.nfc_number or self.serial_number or ""
        return number[-4:]

    def is_expired(self, now: datetime | float) -> bool:
        """Expired once ``now`` (aware datetime or epoch seconds) reaches the expiration date."""
        return self.expiration_date is not None and _as_datetime(now) >= self.expiration_date

    def can_debit(self, now: datetime | float) -> bool:
        """Whether this pass may be debited at all: type CASHBACK and not expired."""
        return self.is_cashback and not self.is_expired(now)

    def debit_refusal(self, amount: Money, now: datetime | float) -> PassNotDebitable | None:
        """Why debiting ``amount`` would be refused, or None when it may be sent."""
        if not self.is_cashback:
            return NotCashbackPass(
                f"pass {self.id} is of type {self.type}, only {CASHBACK} passes can be debited",
                pass_id=self.id,
            )
        if self.is_expired(now):
            return PassExpired(
                f"pass {self.id} expired on {self.expiration_date:%Y-%m-%d}", pass_id=self.id
            )
        if amount.currency != self.currency:
            return CurrencyMismatch(
                f"pass {self.id} holds {self.currency}, cannot pay {amount}", pass_id=self.id
            )
        if amount > self.balance:
            return InsufficientBalance(
                f"pass {self.id} has {self.balance}, cannot pay {amount}",
                pass_id=self.id,
                balance=self.balance,
                amount=amount,
            )
        return None


def parse_pass(value: object, *, fallback_type: str | None = None, what: str = "pass") -> Pass:
    """One ``pass`` object of a search answer."""
    f = Fields(value, service=SERVICE, what=what)
    kind = f.opt_text("type") or fallback_type
    if not kind:
        raise ProtocolError(f"{what}: no 'type'", service=SERVICE)
    currency = _currency(f)
    expiry_text = f.opt_text("expiration_date")
    consumer = None
    c = f.opt_obj("consumer")
    if c is not None:
        raw_id = c.data.get("id")
        consumer_id: int | str | None
        if raw_id is None or (isinstance(raw_id, int) and not isinstance(raw_id, bool)):
            consumer_id = raw_id
        else:
            consumer_id = c.text("id")
        consumer = Consumer(
            id=consumer_id,
            given_name=c.opt_text("given_name"),
            family_name=c.opt_text("family_name"),
        )
    return Pass(
        type=kind,
        id=_ident(f, "id"),
        service_id=f.opt_integer("service_id"),
        payment_method_id=f.opt_integer("payment_method_id"),
        balance=_money(f, "balance", currency),
        expiration_date=(
            None if not expiry_text else parse_datetime(expiry_text, what=f"{what}.expiration_date")
        ),
        serial_number=_opt_ident(f, "serial_number"),
        number=_opt_ident(f, "number"),
        nfc_number=_opt_ident(f, "nfc_number"),
        consumer=consumer,
    )


def parse_search(data: object) -> Pass:
    """A ``GET /cards`` answer → the pass; ``"pass": null`` → :class:`PassNotFound`."""
    f = Fields(data, service=SERVICE, what="search")
    if f.data.get("pass") is None:
        raise PassNotFound("search: the answer holds no pass", service=SERVICE)
    return parse_pass(f.data["pass"], fallback_type=f.opt_text("type"), what="search.pass")


def canonical_ticket_id(ticket_id: uuid.UUID | str) -> str:
    """The sale's UUID in canonical form (any UUID version); ValueError if it is none."""
    if isinstance(ticket_id, uuid.UUID):
        return str(ticket_id)
    if not isinstance(ticket_id, str):
        raise ValueError(f"ticket_id must be a UUID, got {type(ticket_id).__name__}")
    try:
        return str(uuid.UUID(ticket_id))
    except ValueError:
        raise ValueError(f"ticket_id must be a UUID, got {ticket_id!r}") from None


@dataclass(frozen=True)
class DebitRequest:
    """Everything a debit sends. Journal :meth:`to_payload` before the first send;
    after a crash, :meth:`from_payload` gives back the same request to repeat."""

    ticket_id: str
    pass_id: str
    payment_method_id: int
    amount: Money
    point_of_sale_id: int
    device_id: str
    ticket_number: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ticket_id", canonical_ticket_id(self.ticket_id))
        if self.amount.is_negative:
            raise ValueError(f"a debit amount cannot be negative, got {self.amount}")
        if not self.pass_id:
            raise ValueError("pass_id is required")
        if not self.device_id:
            raise ValueError("device_id is required")

    @property
    def currency(self) -> str:
        return self.amount.currency

    def to_payload(self) -> dict[str, Any]:
        """The exact JSON body of ``POST /cards/cashback/debit``."""
        body: dict[str, Any] = {"ticket_id": self.ticket_id}
        if self.ticket_number is not None:
            body["ticket_number"] = self.ticket_number
        body["point_of_sale_id"] = self.point_of_sale_id
        body["device_id"] = self.device_id
        body["payment_row"] = {
            "pass_id": self.pass_id,
            "payment_method_id": self.payment_method_id,
            "amount": to_cardapi(self.amount),
            "currency": self.amount.currency,
        }
        return body

    @classmethod
    def from_payload(cls, data: object) -> DebitRequest:
        """A request back from a journalled :meth:`to_payload` (ValueError if it is not one)."""
        try:
            f = Fields(data, service=SERVICE, what="debit request")
            row = f.obj("payment_row")
            currency = _currency(row)
            return cls(
                ticket_id=f.text("ticket_id"),
                ticket_number=f.opt_text("ticket_number"),
                point_of_sale_id=f.integer("point_of_sale_id"),
                device_id=f.text("device_id"),
                pass_id=row.text("pass_id"),
                payment_method_id=row.integer("payment_method_id"),
                amount=_money(row, "amount", currency),
            )
        except ProtocolError as exc:
            raise ValueError(f"not a CardAPI debit request: {exc.message}") from exc


@dataclass(frozen=True)
class PaymentRow:
    """The payment movement CardAPI recorded for the ticket."""

    pass_id: str
    payment_method_id: int | None
    amount: Money

    @property
    def currency(self) -> str:
        return self.amount.currency


@dataclass(frozen=True)
class ReceiptRow:
    """What the receipt prints for the cashback movement. ``balance``: after the debit."""

    label: str
    amount: Money
    balance: Money | None


@dataclass(frozen=True)
class DebitResult:
    ticket_id: str
    payment_row: PaymentRow
    receipt_row: ReceiptRow

    @property
    def amount(self) -> Money:
        return self.payment_row.amount

    @property
    def balance_after(self) -> Money | None:
        return self.receipt_row.balance


def parse_debit(data: object, request: DebitRequest | None = None) -> DebitResult:
    """A debit answer. With ``request``, the answer must be for it (ticket, pass, amount)."""
    f = Fields(data, service=SERVICE, what="debit")
    ticket_id = f.text("ticket_id")
    try:
        ticket = canonical_ticket_id(ticket_id)
    except ValueError as exc:
        raise ProtocolError(
            f"debit: ticket_id {ticket_id[:40]!r} is not a UUID", service=SERVICE
        ) from exc
    row = f.obj("payment_row")
    if row.has("currency"):
        currency = _currency(row)
    elif request is not None:
        currency = request.currency
    else:
        raise ProtocolError("debit.payment_row: no 'currency'", service=SERVICE)
    payment = PaymentRow(
        pass_id=_ident(row, "pass_id"),
        payment_method_id=row.opt_integer("payment_method_id"),
        amount=_money(row, "amount", currency),
    )
    if request is not None:
        problems = []
        if ticket != request.ticket_id:
            problems.append(f"ticket_id {ticket} (sent {request.ticket_id})")
        if payment.pass_id != request.pass_id:
            problems.append(f"pass_id {payment.pass_id} (sent {request.pass_id})")
        if payment.amount != request.amount:
            problems.append(f"amount {payment.amount} (sent {request.amount})")
        if problems:
            raise ProtocolError(
                "debit: the answer is not for our request: " + ", ".join(problems),
                service=SERVICE,
            )
    receipt = f.opt_obj("receipt_row")
    label = (receipt.opt_text("label") if receipt is not None else None) or DEFAULT_RECEIPT_LABEL
    receipt_amount = -payment.amount
    balance = None
    if receipt is not None:
        if receipt.has("amount"):
            receipt_amount = _money(receipt, "amount", currency)
        if receipt.has("balance"):
            balance = _money(receipt, "balance", currency)
    return DebitResult(
        ticket_id=ticket,
        payment_row=payment,
        receipt_row=ReceiptRow(label=label, amount=receipt_amount, balance=balance),
    )


# -- the client -------------------------------------------------------------------


def configured_token(token: Secret) -> TokenProvider:
    """The default token source: the configured ``cardapi.token``, read on every call."""

    async def provide() -> str:
        return token.reveal()

    return provide


@dataclass
class _Operation:
    """One search or debit across its retries: at most one token refresh."""

    refreshed: bool = False


def _may_have_acted(exc: ServiceError) -> bool:
    """Whether a debit attempt that failed with ``exc`` may still have debited the pass."""
    if isinstance(exc, ServiceUnavailable):
        # A connection never made carried no request.
        return not isinstance(exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout)
    if isinstance(exc, RateLimited):
        return False
    return isinstance(exc, ServerError | ProtocolError | ConflictError)


class CardApiClient:
    """Searches and debits passes. Close with ``await client.aclose()`` (or ``async with``);
    an injected ``http`` client is left open."""

    def __init__(
        self,
        base_url: str,
        *,
        token_provider: TokenProvider,
        point_of_sale_id: int,
        device_id: str,
        group_id: int | None = None,
        store_id: int | None = None,
        timeout_s: float = 5.0,
        http: httpx.AsyncClient | None = None,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        debit_retry: RetryPolicy | None = None,
    ) -> None:
        if group_id is None and store_id is None:
            raise ValueError("CardAPI searches need a group_id, or a store_id (with the POS id)")
        if not device_id:
            raise ValueError("device_id is required (every debit sends it)")
        self.base_url = base_url.rstrip("/")
        self.group_id = group_id
        self.store_id = store_id
        self.point_of_sale_id = point_of_sale_id
        self.device_id = device_id
        self.timeout_s = timeout_s
        self.clock: Clock = clock or SystemClock()
        self._provider = token_provider
        self._retry = retry or RetryPolicy()
        self._debit_retry = debit_retry or DEFAULT_DEBIT_RETRY
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(timeout=httpx.Timeout(timeout_s))
        self._token: str | None = None
        self._token_lock = asyncio.Lock()
        self.health = ServiceHealth(SERVICE)

    async def __aenter__(self) -> CardApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self._http.aclose()

    # -- token ------------------------------------------------------------------
    async def _current_token(self) -> str:
        async with self._token_lock:
            if self._token is None:
                self._token = await self._provider()
            return self._token

    async def _refresh_token(self, stale: str) -> str:
        async with self._token_lock:
            if self._token is not None and self._token != stale:
                return self._token  # another call refreshed it meanwhile
            self._token = await self._provider()
            return self._token

    # -- low level --------------------------------------------------------------
    async def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        token: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        content = None
        if body is not None:
            content = dumps_json(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            resp = await self._http.request(
                method,
                self.base_url + path,
                params=dict(params) if params is not None else None,
                content=content,
                headers=headers,
                timeout=httpx.Timeout(self.timeout_s),
            )
        except httpx.RequestError as exc:
            err = transport_error(exc, service=SERVICE, what=what)
            self.health.record_error(err, self.clock.time())
            raise err from exc
        try:
            data = parse_answer(resp.status_code, resp.content, what=what)
        except ServiceError as err:
            self.health.record_error(err, self.clock.time())
            raise
        self.health.record_ok(self.clock.time())
        return data

    async def _authorized(
        self,
        method: str,
        path: str,
        *,
        what: str,
        op: _Operation,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Mapping[str, Any]:
        """One request with the bearer token; after a token error, one refresh per operation."""
        token = await self._current_token()
        try:
            return await self._send(method, path, what=what, token=token, params=params, body=body)
        except CardTokenError as exc:
            if op.refreshed:
                raise _token_failure(exc) from exc
            op.refreshed = True
            log.warning(
                "CardAPI refused the token (%s %s); refreshing it once", exc.code, exc.message
            )
            token = await self._refresh_token(stale=token)
        try:
            return await self._send(method, path, what=what, token=token, params=params, body=body)
        except CardTokenError as exc:
            raise _token_failure(exc) from exc

    # -- search -----------------------------------------------------------------
    def search_params(self, mode: SearchMode, q: str) -> dict[str, str]:
        """The query of ``GET /cards``: by group when configured, else by store and POS."""
        if mode not in SEARCH_MODES:
            raise ValueError(f"search mode must be one of {', '.join(SEARCH_MODES)}, got {mode!r}")
        q = q.strip() if isinstance(q, str) else ""
        if not q:
            raise ValueError("the card number to search for is empty")
        params = {"search_mode": mode, "q": q}
        if self.group_id is not None:
            params["group_id"] = str(self.group_id)
        else:
            params["store_id"] = str(self.store_id)
            params["point_of_sale_id"] = str(self.point_of_sale_id)
        return params

    async def search(self, mode: SearchMode, q: str) -> Pass:
        """The pass for an NFC number, a barcode or a typed number.

        Raises :class:`PassNotFound` when there is none ("card not found").
        """
        params = self.search_params(mode, q)
        op = _Operation()
        log.info("CardAPI search %s %s", mode, mask(params["q"]))
        data = await with_retries(
            lambda: self._authorized("GET", SEARCH_PATH, what="search", op=op, params=params),
            policy=self._retry,
            clock=self.clock,
            what="CardAPI search",
        )
        found = parse_search(data)
        log.info("CardAPI pass %s (%s, balance %s)", found.id, found.type, found.balance)
        return found

    # -- debit ------------------------------------------------------------------
    def debit_request(
        self,
        pass_: Pass,
        amount: Money,
        *,
        ticket_id: uuid.UUID | str,
        ticket_number: str | None = None,
    ) -> DebitRequest:
        """Check that ``pass_`` can pay ``amount`` now and build the request to journal.

        Raises :class:`PassNotDebitable` (nothing is sent) or ValueError (a bad
        ticket_id or a negative amount).
        """
        refusal = pass_.debit_refusal(amount, self.clock.time())
        if refusal is not None:
            raise refusal
        if pass_.payment_method_id is None:
            raise ProtocolError(f"pass {pass_.id} has no payment_method_id", service=SERVICE)
        return DebitRequest(
            ticket_id=canonical_ticket_id(ticket_id),
            ticket_number=ticket_number,
            pass_id=pass_.id,
            payment_method_id=pass_.payment_method_id,
            amount=amount,
            point_of_sale_id=self.point_of_sale_id,
            device_id=self.device_id,
        )

    async def debit(
        self,
        pass_: Pass,
        amount: Money,
        *,
        ticket_id: uuid.UUID | str,
        ticket_number: str | None = None,
    ) -> DebitResult:
        """Debit ``amount`` (0 allowed) from a CASHBACK pass for the sale ``ticket_id``.

        Callers that must survive a crash build the request with
        :meth:`debit_request`, journal it, then call :meth:`send_debit`.
        """
        request = self.debit_request(
            pass_, amount, ticket_id=ticket_id, ticket_number=ticket_number
        )
        return await self.send_debit(request)

    async def send_debit(self, request: DebitRequest) -> DebitResult:
        """Send a debit; repeated with the same payload until an answer or the retry cap.

        No pass checks here: a recovered request is repeated exactly as first
        sent (the pass's balance may already show the debit).
        """
        payload = request.to_payload()
        op = _Operation()
        uncertain = False

        async def attempt() -> DebitResult:
            nonlocal uncertain
            try:
                data = await self._authorized("POST", DEBIT_PATH, what="debit", op=op, body=payload)
                return parse_debit(data, request)
            except ServiceError as exc:
                if _may_have_acted(exc):
                    uncertain = True
                if isinstance(exc, ProtocolError) and not exc.retryable:
                    raise DebitAnswerUnreadable(
                        exc.message, service=SERVICE, status=exc.status
                    ) from exc
                raise

        log.info(
            "CardAPI debit %s of pass %s for ticket %s",
            request.amount, request.pass_id, request.ticket_id,
        )  # fmt: skip
        try:
            result = await with_retries(
                attempt, policy=self._debit_retry, clock=self.clock, what="CardAPI debit"
            )
        except ServiceError as exc:
            if not uncertain:
                raise
            raise DebitOutcomeUnknown(
                f"debit for ticket {request.ticket_id}: outcome unknown ({exc.message}); "
                "send the same request again",
                last_error=exc,
                ticket_id=request.ticket_id,
            ) from exc
        log.info(
            "CardAPI debited ticket %s: %s, balance %s",
            result.ticket_id, result.amount, result.balance_after,
        )  # fmt: skip
        return result


def _token_failure(exc: CardTokenError) -> CardTokenError:
    """The clear failure after the one refresh: same type, code and status, plain words."""
    return type(exc)(
        f"CardAPI refused the token again after refreshing it ({exc.code}: {exc.message}); "
        "check cardapi.token",
        service=SERVICE,
        status=exc.status,
        code=exc.code,
        request_id=exc.request_id,
    )


def from_config(
    config: Config,
    *,
    http: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
    token_provider: TokenProvider | None = None,
    retry: RetryPolicy | None = None,
    debit_retry: RetryPolicy | None = None,
) -> CardApiClient:
    """The client for ``config.cardapi`` (``device_id`` empty → ``kiosk.id``)."""
    settings = config.cardapi
    if settings.point_of_sale_id is None:
        raise ValueError("cardapi.point_of_sale_id must be set: every debit sends it")
    return CardApiClient(
        settings.base_url,
        token_provider=token_provider or configured_token(settings.token),
        point_of_sale_id=settings.point_of_sale_id,
        device_id=settings.device_id or config.kiosk.id,
        group_id=settings.group_id,
        store_id=settings.store_id,
        timeout_s=settings.timeout_s,
        http=http,
        clock=clock,
        retry=retry,
        debit_retry=debit_retry,
    )


__all__ = [
    "CARD_ERRORS",
    "DEBIT_PATH",
    "SEARCH_MODES",
    "SEARCH_PATH",
    "SERVICE",
    "CardApiClient",
    "CardApiError",
    "CardApiInternalError",
    "CardTokenError",
    "Consumer",
    "CurrencyMismatch",
    "DebitAnswerUnreadable",
    "DebitOutcomeUnknown",
    "DebitRequest",
    "DebitResult",
    "InsufficientBalance",
    "InvalidParameter",
    "InvalidPath",
    "InvalidToken",
    "InvalidTokenSignature",
    "MissingToken",
    "NotCashbackPass",
    "Pass",
    "PassExpired",
    "PassNotDebitable",
    "PassNotFound",
    "PaymentRow",
    "ReceiptRow",
    "SearchMode",
    "TicketConflict",
    "TokenExpired",
    "TokenProvider",
    "UnauthorizedAccess",
    "api_error",
    "canonical_ticket_id",
    "configured_token",
    "from_config",
    "mask",
    "parse_answer",
    "parse_datetime",
    "parse_debit",
    "parse_pass",
    "parse_search",
]
