"""Async client for the Cashflows Kinetic Go 2 card terminal (Kinetic Connect REST API v2).

Contract: the Kinetic Connect REST API v2 reference. What the vendor documents
and what we assume where it is silent, all in this one module:

- (doc) JSON over HTTP on the LAN, base ``http://<terminal>:8080/api/v2``.
  ``ping.json`` is open; every other endpoint is "authorized": (assumed) HTTP
  Basic with the user name and password configured on the terminal.
- (doc) ``GET device.json`` → ``{"success", "device": {"manufacturer",
  "family", "serial_number"}}``; ``GET ping.json`` → ``{"success", "ping"}``;
  ``GET settings.json`` → ``{"success", "settings": {...}}`` (host module
  ``settings.host.module``, its ``terminal_id``/``merchant_id``).
- (doc) ``GET transactions.json`` lists transactions with the common fields
  (``id, started_at, ended_at, result, amount, host, type, account_number,
  is_reversed``). The doc shows one bare object; (assumed) the terminal sends
  ``{"success", "transactions": [...]}``; a bare list or a single bare object
  (as in the doc) are read too.
- (doc) ``GET transactions/<id>.json``, ``transactions/(latest|last).json``,
  ``transactions/current.json`` (an error result and error status when no
  transaction is in progress), ``POST transactions/<type>.json`` with type
  sale|refund|reversal|reconciliation all answer ``{"success", "transaction":
  {...}}``. ``id`` may be chosen by the client (we send our payment key, so a
  sale whose answer was lost is found again by ``GET transactions/<key>.json``).
- (doc) Transaction fields we read: ``id``, ``type``, ``amount`` and
  ``total_amount`` (integer minor units, via :func:`~kioskapp.core.money.from_kinetic`),
  ``is_active``, ``result`` approved|declined|cancelled|error, ``is_reversed``,
  ``auth_code``, ``account_number`` (masked PAN ``4***********1111``: only the
  last 4 digits are kept), ``card_details.scheme``, ``started_at``/``ended_at``
  (epoch seconds), ``duration``, ``timeout_ms`` (default 150 000: the time the
  customer has to present a card before the terminal cancels), ``status``,
  ``status_details``, ``input_source``, ``reference_txn_id``,
  ``reference_number``, ``host``. Everything else is ignored (track 2, PIN
  block, EMV tags are never read or kept).
- (assumed) A transaction without ``is_active`` (list entries) is active while
  it has no ``result``. An unknown ``result`` string is kept as ``"unknown"``.
  Amounts may come as integral decimals or digit strings.
- (assumed) The terminal does not say whether a ``cancelled`` transaction was
  cancelled on its keypad or ran out of time. We call it a timeout
  (:attr:`Transaction.ran_out`) when ``status_details`` says so, or when it
  lasted at least ``timeout_ms`` (1 s tolerance: whole-second timestamps).
- (assumed) ``status`` vocabulary, used only for live screens
  (:attr:`Transaction.stage`): ``waiting_for_card`` | ``card_read`` |
  ``pin_entry`` | ``processing`` | ``complete``; unknown statuses fall back on
  the documented facts (card read once ``input_source``/``account_number``
  appear, processing once ``is_online``).
- (doc) ``GET screens/current.json`` → ``{"scene": {"path", "text"},
  "success"}``; ``app.views.layouts.idle`` means the terminal is free.
- (doc) Reversal undoes a transaction: ``POST transactions/reversal.json`` with
  ``reference_txn_id``; (assumed) it needs no card and answers finished, and
  the original then shows ``is_reversed: true``. Reconciliation (end of day):
  ``POST transactions/reconciliation.json``.
- (doc) Receipts ``GET transactions/<id>/receipts/{merchant,cardholder,
  reconciliation}.json`` → ``{"success", "receipt": [<print instruction>...]}``;
  cardholder fails with 400 for a reconciliation, reconciliation fails with
  400 for anything else. Print instructions ``text`` (``text, x, y,
  font_size`` + optional ``line_width, skew_x, underline, strikethru,
  reverse, family``), ``scroll`` (``amount`` in dots: sent as a number, or as
  the string ``"100"`` in the doc's cardholder sample, or misspelt ``"mount"``
  in its reconciliation sample; all read), ``flush``; unknown commands are
  kept as they came. ``POST print.json {"instructions": [...]}`` prints (400
  when the device has no printer).
- (doc) ``success`` is ``true`` — (assumed) or the string ``"true"``; an answer
  without ``success`` and without ``error`` is accepted.
- (assumed) Errors: HTTP 4xx/5xx with ``{"success": false, "error": "<text>"}``
  (``message`` read too). Callers branch on the typed errors below, found
  from the text (e.g. "Transaction in progress") and the endpoint, then the
  HTTP status. 401 = bad credentials.

Retries: only GETs repeat (timeouts, connection errors, 5xx, 429) with capped
backoff. POSTs (sale, refund, reversal, reconciliation, print) are never
repeated: a lost answer is resolved by reading the transaction by its id.
Polling honours ``poll_interval_s`` (at least :data:`MIN_POLL_INTERVAL_S`: the
terminal is on the LAN and documents no rate limit).

Never logged: the password, full card numbers (at most the last 4 digits).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal
from urllib.parse import quote

import httpx

from kioskapp.core.clock import Clock, SystemClock
from kioskapp.core.money import Money, MoneyError, dumps_json, from_kinetic, to_kinetic
from kioskapp.devices.errors import (
    ApiError,
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
    is_true,
    transport_error,
    with_retries,
)

if TYPE_CHECKING:
    from kioskapp.config import Config

log = logging.getLogger(__name__)

SERVICE: Final = "kinetic"
IDLE_SCENE: Final = "app.views.layouts.idle"
DEFAULT_TIMEOUT_MS: Final = 150_000
MIN_POLL_INTERVAL_S: Final = 0.5

Result = Literal["approved", "declined", "cancelled", "error", "unknown"]
RESULTS: Final = frozenset({"approved", "declined", "cancelled", "error"})
TransactionType = Literal["sale", "refund", "reversal", "reconciliation"]
ReceiptKind = Literal["merchant", "cardholder", "reconciliation"]
RECEIPT_KINDS: Final = ("merchant", "cardholder", "reconciliation")
Stage = Literal["waiting_card", "card_read", "pin", "processing", "finished"]

# card_details.scheme prefix → brand shown to the customer.
_SCHEME_BRANDS: Final = (
    ("visa", "visa"),
    ("paypass", "mastercard"),
    ("mastercard", "mastercard"),
    ("maestro", "maestro"),
    ("amex", "amex"),
    ("jcb", "jcb"),
    ("discover", "discover"),
    ("interac", "interac"),
    ("cup", "unionpay"),
    ("meps", "meps"),
)


# -- errors callers branch on --------------------------------------------------


class TransactionInProgress(ConflictError):
    """The terminal runs another transaction: a new one cannot start now."""


class NoActiveTransaction(NotFound):
    """``transactions/current.json``: no transaction is in progress."""


class TransactionNotFound(NotFound):
    """No transaction with this id on the terminal."""


class DuplicateTransaction(ConflictError):
    """A transaction with this id exists already (a repeated POST): read it instead."""


class TransactionNotReversible(InvalidRequest):
    """The reversal was refused: not approved, already reversed, or past its batch."""


class ReceiptNotAvailable(InvalidRequest):
    """No such receipt for this transaction (e.g. cardholder copy of a reconciliation)."""


class PrinterUnavailable(InvalidRequest):
    """print.json: the device has no printer (400)."""


class PrinterError(ApiError):
    """print.json failed otherwise (e.g. out of paper)."""


def _error_text(body: object) -> str | None:
    if not isinstance(body, Mapping):
        return None
    for key in ("error", "message", "error_message"):
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        if isinstance(value, Mapping):
            inner = value.get("message")
            if isinstance(inner, str) and inner.strip():
                return inner.strip()
    return None


def api_error(status: int, body: object, *, path: str) -> ApiError:
    """The typed error for an error answer to ``path`` (body: decoded JSON or None).

    The body's error text decides first, then the endpoint, then the HTTP
    status: the terminal documents texts, not codes.
    """
    text = _error_text(body)
    message = text or (f"HTTP {status}" if body is not None else f"HTTP {status}, non-JSON body")
    low = (text or "").lower()
    cls: type[ApiError] | None = None
    client_error = 400 <= status < 500 and status not in (401, 403, 429)
    if status in (401, 403):
        cls = None  # credentials: whatever the text says
    elif path.endswith("/current.json") and client_error:
        cls = NoActiveTransaction
    elif "/receipts/" in path and client_error and status != 404:
        cls = ReceiptNotAvailable
    elif path == "/print.json" and status == 400:
        cls = PrinterUnavailable
    elif path == "/print.json" and (client_error or "paper" in low or "printer" in low):
        cls = PrinterError
    elif any(s in low for s in ("no transaction in progress", "no active", "no current")):
        cls = NoActiveTransaction
    elif "in progress" in low:
        cls = TransactionInProgress
    elif "already exists" in low or "duplicate" in low:
        cls = DuplicateTransaction
    elif "revers" in low and client_error:
        cls = TransactionNotReversible
    elif any(s in low for s in ("not found", "no such transaction", "unknown transaction")) or (
        status == 404 and path.startswith("/transactions/")
    ):
        cls = TransactionNotFound
    cls = cls or error_class_for_status(status)
    return cls(message, service=SERVICE, status=status)


def parse_answer(status: int, body: bytes, *, what: str, path: str) -> Any:
    """One HTTP answer → its decoded JSON (object or list), or the typed error."""
    if status >= 400:
        try:
            decoded: object = decode_json(body, service=SERVICE, what=what, status=status)
        except ProtocolError:
            decoded = None
        raise api_error(status, decoded, path=path)
    if not 200 <= status < 300:
        raise ProtocolError(f"{what}: unexpected HTTP {status}", service=SERVICE, status=status)
    data = decode_json(body, service=SERVICE, what=what, status=status)
    if isinstance(data, list):
        return data
    f = Fields(data, service=SERVICE, what=what)
    success = f.data.get("success")
    failed = not is_true(success) if success is not None else f.data.get("error") is not None
    if failed:
        err = api_error(status, f.data, path=path)
        err.message = f"{what}: success is not true: {err.message}"
        raise err
    return f.data


# -- typed answers ----------------------------------------------------------------


@dataclass(frozen=True)
class DeviceInfo:
    manufacturer: str | None
    family: str | None
    serial_number: str | None

    @classmethod
    def parse(cls, data: object) -> DeviceInfo:
        f = Fields(data, service=SERVICE, what="device").obj("device")
        return cls(f.opt_text("manufacturer"), f.opt_text("family"), f.opt_text("serial_number"))


@dataclass(frozen=True)
class TerminalSettings:
    """What we read of settings.json; ``raw`` is the whole document (kept in memory only)."""

    host_module: str | None
    terminal_id: str | None
    merchant_id: str | None
    raw: Mapping[str, Any] = field(repr=False)

    @classmethod
    def parse(cls, data: object) -> TerminalSettings:
        f = Fields(data, service=SERVICE, what="settings").obj("settings")
        host = f.opt_obj("host")
        module = host.opt_text("module") if host is not None else None
        terminal_id = merchant_id = None
        if module:
            section = f.data.get(module)
            if isinstance(section, Mapping):
                hf = Fields(section, service=SERVICE, what=f"settings.{module}")
                terminal_id = _opt_ident(hf, "terminal_id")
                merchant_id = _opt_ident(hf, "merchant_id")
        return cls(module, terminal_id, merchant_id, f.data)


@dataclass(frozen=True)
class Screen:
    path: str
    text: str

    @property
    def is_idle(self) -> bool:
        """The terminal is free: the last transaction is over and a new one can start."""
        return self.path == IDLE_SCENE

    @classmethod
    def parse(cls, data: object) -> Screen:
        f = Fields(data, service=SERVICE, what="screen").obj("scene")
        return cls(f.text("path"), f.opt_text("text") or "")


def _opt_ident(f: Fields, key: str) -> str | None:
    value = f.data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f.opt_text(key)


def _int_like(f: Fields, key: str) -> int | None:
    """An integer field that may come as an integral decimal or a digit string."""
    value = f.data.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        return int(value)
    return f.integer(key)


def _money(f: Fields, key: str, currency: str) -> Money | None:
    value = f.data.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ProtocolError(
            f"{f.what}: field {key!r} should be an integer amount in minor units, "
            f"got {type(value).__name__}",
            service=SERVICE,
        )
    try:
        amount = from_kinetic(value, currency)
    except MoneyError as exc:
        raise ProtocolError(f"{f.what}: field {key!r}: {exc}", service=SERVICE) from exc
    if amount.is_negative:
        raise ProtocolError(f"{f.what}: field {key!r} is negative", service=SERVICE)
    return amount


def _opt_time(f: Fields, key: str) -> float | None:
    return f.timestamp(key) if f.has(key) else None


def last4_of(account_number: str | None) -> str | None:
    """The last 4 digits of a (masked) card number, or None. Nothing more is ever kept."""
    if not account_number:
        return None
    tail = account_number.strip()[-4:]
    return tail if len(tail) == 4 and tail.isdigit() else None


def brand_of(scheme: str | None) -> str | None:
    """``visa-qvsdc`` → ``visa``, ``paypass-mchip`` → ``mastercard``; None when unknown."""
    if not scheme:
        return None
    low = scheme.strip().lower()
    for prefix, brand in _SCHEME_BRANDS:
        if low.startswith(prefix):
            return brand
    return None


@dataclass(frozen=True)
class Transaction:
    """One terminal transaction, as far as the kiosk needs it (no card data beyond last 4)."""

    id: str
    type: str
    amount: Money | None
    is_active: bool
    result: Result | None
    is_reversed: bool = False
    total_amount: Money | None = None
    auth_code: str | None = None
    card_last4: str | None = None
    card_scheme: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    duration_s: float | None = None
    timeout_ms: int | None = None
    status: str | None = None
    status_details: str | None = None
    input_source: str | None = None
    is_online: bool = False
    reference_txn_id: str | None = None
    reference_number: str | None = None
    host: str | None = None
    raw_result: str | None = None

    @property
    def card_brand(self) -> str | None:
        return brand_of(self.card_scheme)

    @property
    def taken(self) -> Money | None:
        """What an approved transaction authorised: ``total_amount`` (amount + tip + other)."""
        return self.total_amount if self.total_amount is not None else self.amount

    @property
    def ran_out(self) -> bool:
        """(assumed) A cancelled transaction that ended because its ``timeout_ms`` passed."""
        if self.result != "cancelled":
            return False
        details = f"{self.status_details or ''} {self.status or ''}".lower()
        if "timeout" in details or "timed out" in details or "timed_out" in details:
            return True
        lasted = self.duration_s
        if lasted is None and self.started_at is not None and self.ended_at is not None:
            lasted = self.ended_at - self.started_at
        limit = (self.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000
        return lasted is not None and lasted >= limit - 1.0

    @property
    def stage(self) -> Stage:
        """(assumed vocabulary) Where the customer is, for live screens only."""
        if not self.is_active:
            return "finished"
        status = f"{self.status or ''} {self.status_details or ''}".lower()
        if "pin" in status:
            return "pin"
        if self.is_online or any(s in status for s in ("processing", "online", "authoris")):
            return "processing"
        if "waiting" in status or "present" in status:
            return "waiting_card"
        if self.input_source or self.card_last4 or "card_read" in status or "read" in status:
            return "card_read"
        return "waiting_card"

    @classmethod
    def parse(cls, data: object, currency: str, *, what: str = "transaction") -> Transaction:
        f = Fields(data, service=SERVICE, what=what)
        raw_result = f.opt_text("result")
        result: Result | None = None
        if raw_result is not None and raw_result.strip():
            low = raw_result.strip().lower()
            result = low if low in RESULTS else "unknown"  # type: ignore[assignment]
        is_active = f.flag("is_active") if f.has("is_active") else result is None
        card = f.opt_obj("card_details")
        scheme = card.opt_text("scheme") if card is not None else None
        account = f.opt_text("account_number")
        last4 = last4_of(account)
        if account and account.strip().isdigit() and len(account.strip()) > 4:
            log.warning(
                "Kinetic sent an unmasked card number (ending %s); only that is kept", last4
            )
        duration = f.data.get("duration")
        return cls(
            id=_ident(f, "id"),
            type=(f.opt_text("type") or "unknown").strip().lower(),
            amount=_money(f, "amount", currency),
            total_amount=_money(f, "total_amount", currency),
            is_active=is_active,
            result=result,
            raw_result=raw_result,
            is_reversed=f.flag("is_reversed", default=False),
            auth_code=_opt_ident(f, "auth_code") or None,
            card_last4=last4,
            card_scheme=scheme or None,
            started_at=_opt_time(f, "started_at"),
            ended_at=_opt_time(f, "ended_at"),
            duration_s=f.timestamp("duration") if duration is not None else None,
            timeout_ms=_int_like(f, "timeout_ms"),
            status=f.opt_text("status"),
            status_details=f.opt_text("status_details"),
            input_source=f.opt_text("input_source") or None,
            is_online=f.flag("is_online", default=False),
            reference_txn_id=_opt_ident(f, "reference_txn_id") or None,
            reference_number=_opt_ident(f, "reference_number") or None,
            host=f.opt_text("host"),
        )

    @classmethod
    def from_answer(cls, data: object, currency: str, *, what: str) -> Transaction:
        """``{"success", "transaction": {...}}`` (a bare transaction object is read too)."""
        f = Fields(data, service=SERVICE, what=what)
        inner = f.data.get("transaction")
        if inner is None and f.has("id"):
            inner = f.data
        return cls.parse(inner, currency, what=f"{what}.transaction")


def _ident(f: Fields, key: str) -> str:
    value = f.data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return f.text(key)


def parse_transaction_list(data: object, currency: str) -> tuple[Transaction, ...]:
    """transactions.json: ``{"transactions": [...]}``, a bare list, or one bare object."""
    items: object
    if isinstance(data, list):
        items = data
    else:
        f = Fields(data, service=SERVICE, what="transactions")
        if "transactions" in f.data:
            items = f.data["transactions"]
        elif f.has("id"):
            items = [f.data]
        else:
            items = []
    if not isinstance(items, list):
        raise ProtocolError("transactions: 'transactions' should be a list", service=SERVICE)
    return tuple(
        Transaction.parse(item, currency, what=f"transactions[{i}]") for i, item in enumerate(items)
    )


# -- print instructions -----------------------------------------------------------


@dataclass(frozen=True)
class PrintText:
    text: str
    x: int = 0
    y: int = 0
    font_size: int | None = None
    options: Mapping[str, Any] = field(default_factory=dict)  # line_width, underline, family...

    command: Literal["text"] = "text"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"command": "text", "text": self.text, "x": self.x, "y": self.y}
        if self.font_size is not None:
            out["font_size"] = self.font_size
        out.update(self.options)
        return out


@dataclass(frozen=True)
class PrintScroll:
    amount: int
    command: Literal["scroll"] = "scroll"

    def to_json(self) -> dict[str, Any]:
        return {"command": "scroll", "amount": self.amount}


@dataclass(frozen=True)
class PrintFlush:
    command: Literal["flush"] = "flush"

    def to_json(self) -> dict[str, Any]:
        return {"command": "flush"}


@dataclass(frozen=True)
class PrintOther:
    """A command this client does not know (e.g. a future ``image``): kept as it came."""

    command: str
    raw: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return dict(self.raw)


PrintInstruction = PrintText | PrintScroll | PrintFlush | PrintOther
_TEXT_KEYS: Final = frozenset({"command", "text", "x", "y", "font_size"})


def parse_instruction(value: object, *, what: str) -> PrintInstruction:
    f = Fields(value, service=SERVICE, what=what)
    command = f.text("command").strip().lower()
    if command == "text":
        text = f.data.get("text")
        return PrintText(
            text=text if isinstance(text, str) else f.text("text"),
            x=_int_like(f, "x") or 0,
            y=_int_like(f, "y") or 0,
            font_size=_int_like(f, "font_size"),
            options={k: v for k, v in f.data.items() if k not in _TEXT_KEYS},
        )
    if command == "scroll":
        key = "amount" if f.has("amount") else "mount"  # the doc's own misspelling
        amount = _int_like(f, key)
        if amount is None or amount < 0:
            raise ProtocolError(f"{what}: scroll without a usable 'amount'", service=SERVICE)
        return PrintScroll(amount)
    if command == "flush":
        return PrintFlush()
    return PrintOther(f.text("command"), dict(f.data))


@dataclass(frozen=True)
class Receipt:
    """A receipt as print instructions, ready for print.json or to be read as lines."""

    instructions: tuple[PrintInstruction, ...]

    @classmethod
    def parse(cls, data: object, *, what: str = "receipt") -> Receipt:
        if isinstance(data, list):
            items: object = data
        else:
            items = Fields(data, service=SERVICE, what=what).data.get("receipt")
        if not isinstance(items, list):
            raise ProtocolError(f"{what}: 'receipt' should be a list", service=SERVICE)
        return cls(tuple(parse_instruction(v, what=f"{what}[{i}]") for i, v in enumerate(items)))

    def to_json(self) -> list[dict[str, Any]]:
        return [i.to_json() for i in self.instructions]

    @property
    def lines(self) -> tuple[str, ...]:
        return receipt_lines(self.instructions)


def receipt_lines(instructions: Iterable[PrintInstruction]) -> tuple[str, ...]:
    """The receipt as text lines, in print order.

    Within one buffer (between scrolls/flushes) text prints by ``y`` (doc), so
    texts are sorted by ``y`` then ``x``; texts on the same ``y`` share a line.
    A scroll leaves a blank line.
    """
    lines: list[str] = []
    buffer: list[tuple[int, int, int, str]] = []

    def flush() -> None:
        rows: dict[int, list[tuple[int, int, str]]] = {}
        for y, x, order, text in buffer:
            rows.setdefault(y, []).append((x, order, text))
        for y in sorted(rows):
            parts = [t for _, _, t in sorted(rows[y])]
            for line in "  ".join(p.strip() for p in parts).split("\n"):
                lines.append(line.rstrip())
        buffer.clear()

    for order, ins in enumerate(instructions):
        if isinstance(ins, PrintText):
            buffer.append((ins.y, ins.x, order, ins.text))
        elif isinstance(ins, PrintScroll):
            flush()
            if lines and lines[-1] != "":
                lines.append("")
        elif isinstance(ins, PrintFlush):
            flush()
    flush()
    while lines and lines[-1] == "":
        lines.pop()
    while lines and lines[0] == "":
        lines.pop(0)
    return tuple(lines)


@dataclass(frozen=True)
class Reconciliation:
    """End of day: the reconciliation transaction and its (merchant) receipt."""

    transaction: Transaction
    receipt: Receipt


# -- the client -------------------------------------------------------------------


class KineticClient(OwnedHttpClient):
    """One owner for all traffic to one Kinetic Go 2 terminal.

    ``http`` may be injected (then it is not closed here). Every call raises
    the :mod:`kioskapp.devices.errors` tree, typed as above.
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        currency: str = "EUR",
        http: httpx.AsyncClient | None = None,
        timeout_s: float = 5.0,
        connect_timeout_s: float = 2.0,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        poll_interval_s: float = MIN_POLL_INTERVAL_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.currency = currency
        self._auth = httpx.BasicAuth(username, password)
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self._retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        if poll_interval_s < MIN_POLL_INTERVAL_S:
            log.warning(
                "kinetic poll interval %.2fs raised to %.1fs", poll_interval_s, MIN_POLL_INTERVAL_S
            )
        self.poll_interval_s = max(MIN_POLL_INTERVAL_S, poll_interval_s)
        self._own_http = http is None
        self._http = http or httpx.AsyncClient()
        self.health = ServiceHealth(SERVICE)
        self._closed = False

    # -- low level ------------------------------------------------------------
    async def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        auth: bool = True,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        headers = {"Accept": "application/json"}
        content = None
        if body is not None:
            content = dumps_json(body).encode()
            headers["Content-Type"] = "application/json"
        t = self.timeout_s
        try:
            resp = await self._http.request(
                method,
                self.base_url + path,
                content=content,
                headers=headers,
                auth=self._auth if auth else None,
                timeout=httpx.Timeout(t, connect=min(t, self.connect_timeout_s)),
            )
        except httpx.RequestError as exc:
            err = transport_error(exc, service=SERVICE, what=what)
            self.health.record_error(err, self.clock.time())
            raise err from exc
        try:
            data = parse_answer(resp.status_code, resp.content, what=what, path=path)
        except ServiceError as err:
            self.health.record_error(err, self.clock.time())
            raise
        self.health.record_ok(self.clock.time())
        return data

    async def _get(self, path: str, *, what: str, auth: bool = True) -> Any:
        return await with_retries(
            lambda: self._send("GET", path, what=what, auth=auth),
            policy=self._retry,
            clock=self.clock,
            what=what,
        )

    async def _post(self, path: str, body: Mapping[str, Any], *, what: str) -> Any:
        return await with_retries(
            lambda: self._send("POST", path, what=what, body=body),
            policy=NO_RETRY,
            clock=self.clock,
            what=what,
        )

    @staticmethod
    def _txn_path(transaction_id: str, suffix: str = ".json") -> str:
        if not transaction_id:
            raise ValueError("a transaction id is required")
        return f"/transactions/{quote(transaction_id, safe='')}{suffix}"

    def _txn(self, data: object, what: str) -> Transaction:
        return Transaction.from_answer(data, self.currency, what=what)

    # -- terminal ---------------------------------------------------------------
    async def ping(self) -> bool:
        """True when the terminal's software answers (no credentials needed)."""
        data = await self._get("/ping.json", what="ping", auth=False)
        return is_true(Fields(data, service=SERVICE, what="ping").data.get("ping"))

    async def check_health(self) -> bool:
        """Ping and the credentials (device.json); the result is also in :attr:`health`."""
        try:
            await self.device()
        except ServiceError:
            return False
        return True

    async def device(self) -> DeviceInfo:
        return DeviceInfo.parse(await self._get("/device.json", what="device"))

    async def settings(self) -> TerminalSettings:
        return TerminalSettings.parse(await self._get("/settings.json", what="settings"))

    async def screen(self) -> Screen:
        return Screen.parse(await self._get("/screens/current.json", what="screen"))

    # -- transactions -------------------------------------------------------------
    async def transactions(self) -> tuple[Transaction, ...]:
        data = await self._get("/transactions.json", what="transactions")
        return parse_transaction_list(data, self.currency)

    async def transaction(self, transaction_id: str) -> Transaction:
        """The transaction with this id (:class:`TransactionNotFound` if none)."""
        path = self._txn_path(transaction_id)
        data = await self._get(path, what="transaction")
        txn = self._txn(data, "transaction")
        if txn.id != transaction_id:
            raise ProtocolError(
                f"transaction: asked for {transaction_id!r}, got {txn.id!r}", service=SERVICE
            )
        return txn

    async def find_transaction(self, transaction_id: str) -> Transaction | None:
        """The transaction with this id, or None when the terminal has none."""
        try:
            return await self.transaction(transaction_id)
        except TransactionNotFound:
            return None

    async def latest(self) -> Transaction | None:
        """The most recent transaction, or None when the terminal has none."""
        try:
            return self._txn(await self._get("/transactions/latest.json", what="latest"), "latest")
        except TransactionNotFound:
            return None

    async def current(self) -> Transaction:
        """The transaction in progress (:class:`NoActiveTransaction` when none)."""
        data = await self._get("/transactions/current.json", what="current transaction")
        return self._txn(data, "current transaction")

    async def current_or_none(self) -> Transaction | None:
        try:
            return await self.current()
        except NoActiveTransaction:
            return None

    async def start_sale(self, amount: Money, transaction_id: str) -> Transaction:
        """Begin a sale with our id (:class:`TransactionInProgress` if one runs). Never repeated."""
        self._check_amount(amount)
        body = {"amount": to_kinetic(amount), "id": transaction_id}
        return self._txn(await self._post("/transactions/sale.json", body, what="sale"), "sale")

    async def start_refund(self, amount: Money, transaction_id: str) -> Transaction:
        """Begin a (card-present) refund: the customer presents the card to be credited."""
        self._check_amount(amount)
        body = {"amount": to_kinetic(amount), "id": transaction_id}
        data = await self._post("/transactions/refund.json", body, what="refund")
        return self._txn(data, "refund")

    async def reverse(
        self, reference_txn_id: str, transaction_id: str | None = None
    ) -> Transaction:
        """Reverse (void) the transaction ``reference_txn_id``; returns the reversal."""
        body: dict[str, Any] = {"reference_txn_id": reference_txn_id}
        if transaction_id is not None:
            body["id"] = transaction_id
        return self._txn(
            await self._post("/transactions/reversal.json", body, what="reversal"), "reversal"
        )

    async def start_reconciliation(self, transaction_id: str | None = None) -> Transaction:
        body: dict[str, Any] = {} if transaction_id is None else {"id": transaction_id}
        data = await self._post("/transactions/reconciliation.json", body, what="reconciliation")
        return self._txn(data, "reconciliation")

    async def reconcile(
        self, transaction_id: str | None = None, *, max_wait_s: float = 120.0
    ) -> Reconciliation:
        """End of day: run a reconciliation, wait for it, fetch its receipt."""
        transaction_id = transaction_id or str(uuid.uuid4())
        txn = await self.start_reconciliation(transaction_id)
        if txn.is_active:
            txn = await self.wait_finished(txn.id, max_wait_s=max_wait_s)
        receipt = await self.receipt(txn.id, "reconciliation")
        return Reconciliation(txn, receipt)

    async def wait_finished(self, transaction_id: str, *, max_wait_s: float) -> Transaction:
        """Poll the transaction every ``poll_interval_s`` until it is no longer active.

        Transient read failures are waited out; after ``max_wait_s`` of clock
        time the last read error, or :class:`StillActive`, is raised.
        """
        deadline = self.clock.monotonic() + max_wait_s
        while True:
            last: ServiceError | None = None
            try:
                txn = await self.transaction(transaction_id)
                if not txn.is_active:
                    return txn
            except TransactionNotFound:
                raise
            except ServiceError as exc:
                last = exc
            if self.clock.monotonic() >= deadline:
                if last is not None:
                    raise last
                raise StillActive(
                    f"transaction {transaction_id} still active after {max_wait_s:.0f}s",
                    service=SERVICE,
                )
            await self.clock.sleep(self.poll_interval_s)

    # -- receipts and printer -------------------------------------------------------
    async def receipt(self, transaction_id: str, kind: ReceiptKind) -> Receipt:
        if kind not in RECEIPT_KINDS:
            raise ValueError(f"receipt kind must be one of {', '.join(RECEIPT_KINDS)}")
        path = self._txn_path(transaction_id, f"/receipts/{kind}.json")
        data = await self._get(path, what=f"{kind} receipt")
        return Receipt.parse(data, what=f"{kind} receipt")

    async def print(self, instructions: Receipt | Sequence[PrintInstruction]) -> None:
        """Print on the terminal's printer. Never repeated (no double receipts)."""
        items = instructions.instructions if isinstance(instructions, Receipt) else instructions
        body = {"instructions": [i.to_json() for i in items]}
        await self._post("/print.json", body, what="print")

    def _check_amount(self, amount: Money) -> None:
        if amount.currency != self.currency:
            raise ValueError(f"this terminal works in {self.currency}, not {amount.currency}")
        if amount.minor <= 0:
            raise ValueError(f"amount must be positive, got {amount}")


class StillActive(ServiceError):
    """A wait ended with the transaction still running on the terminal."""


def from_config(
    config: Config,
    *,
    http: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
    retry: RetryPolicy | None = None,
) -> KineticClient:
    """The client for ``config.kinetic`` in ``kiosk.currency``."""
    settings = config.kinetic
    return KineticClient(
        settings.base_url,
        username=settings.username,
        password=settings.password.reveal(),
        currency=config.kiosk.currency,
        http=http,
        timeout_s=settings.timeout_s,
        retry=retry,
        clock=clock,
        poll_interval_s=settings.poll_interval_s,
    )


__all__ = [
    "DEFAULT_TIMEOUT_MS",
    "IDLE_SCENE",
    "MIN_POLL_INTERVAL_S",
    "RECEIPT_KINDS",
    "SERVICE",
    "DeviceInfo",
    "DuplicateTransaction",
    "KineticClient",
    "NoActiveTransaction",
    "PrintFlush",
    "PrintInstruction",
    "PrintOther",
    "PrintScroll",
    "PrintText",
    "PrinterError",
    "PrinterUnavailable",
    "Receipt",
    "ReceiptKind",
    "ReceiptNotAvailable",
    "Reconciliation",
    "Result",
    "Screen",
    "Stage",
    "StillActive",
    "TerminalSettings",
    "Transaction",
    "TransactionInProgress",
    "TransactionNotFound",
    "TransactionNotReversible",
    "api_error",
    "brand_of",
    "from_config",
    "last4_of",
    "parse_answer",
    "parse_instruction",
    "parse_transaction_list",
    "receipt_lines",
]
