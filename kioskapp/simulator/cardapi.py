"""A faithful simulator of the CISS CardAPI: cashback passes, searched and debited.

Mounted at ``/cardapi``; control routes at ``/_sim/cardapi/``. Passes come from
``kioskapp/simulator/data/passes.json`` (CASHBACK passes with balances, one
expired, one with zero balance, one LOYALTY pass, and the Tecalis simulator's
dispenser cards 8412345678901..8412345678910 as new, empty, anonymous passes).
Every other card of the kiosk's own stock (13-digit barcodes starting with
``blank_card_prefix``, as the Tecalis simulator's hopper hands them out) is
pre-registered too: looked up by barcode, it appears as a new, empty pass, as
a card programme's printed cards do.

Documented by the vendor: ``GET /cards`` with
``search_mode`` + ``q`` + ``group_id`` or + ``store_id`` + ``point_of_sale_id``;
the search answer's shape; the debit's fields (``ticket_id`` uuid,
``ticket_number``, ``point_of_sale_id`` integer, ``device_id``,
``payment_row``); the error codes and their HTTP statuses.

Everything else here is ASSUMED, and lives only in this module:

* Errors: ``{"code":"CARD-14","message":"Pass not found"}`` with the code's
  documented status: unknown path → 404 CARD-2; a missing/invalid parameter,
  a body that is not JSON, an unknown field → 422 CARD-3; no
  ``Authorization`` → 401 CARD-5; a JWT-looking token that is not ours → 400
  CARD-6; an expired (expired or rotated-out) token → 400 CARD-7; any other
  wrong token → 400 CARD-8; a group, store or point of sale other than the
  configured one → 403 CARD-9; no such pass → 404 CARD-14. Injected HTTP
  status faults get CARD-1 for 5xx.
* The token is an opaque string, ``sim-cardapi-token`` by default (the app
  config's default). ``/_sim/cardapi/token/expire`` expires the current one;
  ``/_sim/cardapi/token/rotate`` makes a new one valid (the old one expires).
* Search modes ``nfc`` (matches ``nfc_number``), ``barcode`` (matches the
  pass's printed barcode, a simulator-only field) and ``manual`` (matches
  ``number`` or ``serial_number``, ignoring spaces and letter case). Exactly
  one scope: ``group_id`` alone, or ``store_id`` + ``point_of_sale_id``
  (integers); both, or neither → 422 CARD-3. Expired passes are still found.
* ``balance`` is written as a JSON number with the currency's decimals
  (``6.54``, ``0.00``); ``expiration_date`` as given in the fixture (UTC ``Z``).
  A pass is expired once the simulated clock reaches its expiration date.
* Debit ``POST /cards/cashback/debit``: ``payment_row`` = ``{"pass_id",
  "payment_method_id","amount":"2.50","currency"}``, ``amount`` a decimal
  string (0 allowed) exact in the pass's currency; the payment method and
  currency must be the pass's. Unknown fields → 422 CARD-3. Refused with 422
  CARD-3: not a CASHBACK pass, expired, insufficient balance. Unknown pass →
  404 CARD-14. Answer ``{"ticket_id","payment_row":{...as sent},
  "receipt_row":{"label":"Cashback","amount":"-2.50","balance":"4.04"}}``.
* Idempotency: a ``ticket_id`` seen before with the same payload answers the
  first result again and debits nothing (counted as a replay in the ledger);
  with a different payload → 422 CARD-3. The replay check comes before every
  pass check (a replay after the pass expired or ran dry still succeeds).
* Error injection (control ``next-error``): the next request(s) answer a given
  CARD code with its documented status, ``before`` the request acts (nothing
  happens) or ``after`` (the debit is applied and its answer lost).
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler

from kioskapp.config import CardApiSettings
from kioskapp.core.clock import Clock
from kioskapp.core.money import Money, MoneyError, from_cardapi, to_cardapi
from kioskapp.simulator.framework import (
    CallbackDispatcher,
    JsonObject,
    SimError,
    SimService,
    body_int,
    body_str,
    json_response,
    parse_json,
    read_json_object,
    reject_unknown,
    sim_time,
)

_APP_DEFAULTS: Final = CardApiSettings()

SEARCH_MODES: Final = ("nfc", "barcode", "manual")
CASHBACK: Final = "CASHBACK"

#: Every documented code and its HTTP status.
CARD_CODES: Final[Mapping[str, int]] = {
    "CARD-1": 500,
    "CARD-2": 404,
    "CARD-3": 422,
    "CARD-4": 500,
    "CARD-5": 401,
    "CARD-6": 400,
    "CARD-7": 400,
    "CARD-8": 400,
    "CARD-9": 403,
    "CARD-10": 500,
    "CARD-11": 500,
    "CARD-14": 404,
}
CARD_MESSAGES: Final[Mapping[str, str]] = {
    "CARD-1": "Internal error",
    "CARD-2": "Invalid path",
    "CARD-3": "A parameter is missing or invalid",
    "CARD-4": "Internal error",
    "CARD-5": "Missing token",
    "CARD-6": "Invalid token signature",
    "CARD-7": "Token expired",
    "CARD-8": "Invalid token",
    "CARD-9": "Unauthorized access to the service",
    "CARD-10": "Internal error",
    "CARD-11": "Internal error",
    "CARD-14": "Pass not found",
}
ROUTES: Final = ("search", "debit")
PASS_FIELDS: Final = frozenset(
    {
        "id", "type", "service_id", "payment_method_id", "balance", "currency",
        "expiration_date", "serial_number", "number", "nfc_number", "barcode", "consumer",
    }
)  # fmt: skip


def _default_passes_json() -> str:
    return resources.files("kioskapp.simulator").joinpath("data/passes.json").read_text("utf-8")


@dataclass(frozen=True)
class CardApiConfig:
    """The simulated CardAPI account; defaults match the app's default config."""

    token: str = _APP_DEFAULTS.token.reveal()
    group_id: int = 1
    store_id: int = _APP_DEFAULTS.store_id or 1
    point_of_sale_id: int = _APP_DEFAULTS.point_of_sale_id or 65
    receipt_label: str = "Cashback"
    # The passes as JSON text (the passes.json shape); None = the packaged fixture.
    passes_json: str | None = None
    # The kiosk's blank card stock: unknown barcodes with this prefix are new, empty
    # passes (None: only the passes of the fixture exist).
    blank_card_prefix: str | None = "841234567"

    def to_json(self) -> JsonObject:
        return {
            "group_id": self.group_id,
            "store_id": self.store_id,
            "point_of_sale_id": self.point_of_sale_id,
            "receipt_label": self.receipt_label,
        }


def card_error(code: str, message: str | None = None) -> SimError:
    """A documented CardAPI error with its documented status."""
    return SimError(CARD_CODES[code], code, message or CARD_MESSAGES[code])


def _invalid(message: str) -> SimError:
    return card_error("CARD-3", message)


def _ctl_invalid(message: str) -> SimError:
    return SimError(422, "invalid_request", message)


# ---------------------------------------------------------------------------
# State
# ---------------------------------------------------------------------------


@dataclass
class _Pass:
    id: str
    type: str
    service_id: int | None
    payment_method_id: int
    balance: Money
    expiration_date: str | None
    serial_number: str | None
    number: str | None
    nfc_number: str | None
    barcode: str | None
    consumer: JsonObject | None
    expires_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.expiration_date is not None:
            try:
                moment = datetime.fromisoformat(self.expiration_date)
            except ValueError as exc:
                raise ValueError(f"expiration_date {self.expiration_date!r}: {exc}") from exc
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            self.expires_at = moment.timestamp()

    @property
    def currency(self) -> str:
        return self.balance.currency

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def wire(self) -> JsonObject:
        """The pass as CardAPI sends it (no simulator-only fields)."""
        return {
            "type": self.type,
            "service_id": self.service_id,
            "payment_method_id": self.payment_method_id,
            "balance": self.balance.to_major(),
            "currency": self.currency,
            "expiration_date": self.expiration_date,
            "id": self.id,
            "serial_number": self.serial_number,
            "number": self.number,
            "nfc_number": self.nfc_number,
            "consumer": None if self.consumer is None else dict(self.consumer),
        }

    def to_json(self, now: float) -> JsonObject:
        return {**self.wire(), "barcode": self.barcode, "expired": self.expired(now)}


def _opt_code(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str) or not value:
        raise ValueError(f"'{name}' must be a non-empty string or null")
    return value


def _opt_int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"'{name}' must be an integer")
    return value


def pass_from_json(body: Mapping[str, Any], base: _Pass | None = None) -> _Pass:
    """A pass from the fixture or a control request; with ``base``, only the given fields change.

    Raises ValueError naming the bad field.
    """
    unknown = sorted(set(body) - PASS_FIELDS)
    if unknown:
        raise ValueError(f"unknown pass field(s): {', '.join(unknown)}")
    if base is not None and "id" in body and body["id"] != base.id:
        raise ValueError("a pass's 'id' cannot change")

    def pick(name: str, default: Any) -> Any:
        return body.get(name, default)

    pass_id = _opt_code(body, "id") if base is None else base.id
    if not pass_id:
        raise ValueError("'id' is required")
    kind = pick("type", base.type if base else CASHBACK)
    if not isinstance(kind, str) or not kind:
        raise ValueError("'type' must be a non-empty string")
    currency = pick("currency", base.currency if base else "EUR")
    raw_balance = pick("balance", base.balance.format_plain() if base else "0")
    try:
        if isinstance(raw_balance, float):
            raise MoneyError("floats are not exact")
        balance = from_cardapi(raw_balance, currency)
    except MoneyError as exc:
        raise ValueError(f"'balance'/'currency': {exc}") from exc
    payment_method_id = (
        _opt_int(body, "payment_method_id")
        if "payment_method_id" in body
        else (base.payment_method_id if base else 2)
    )
    if payment_method_id is None:
        raise ValueError("'payment_method_id' must be an integer")
    service_id = (
        _opt_int(body, "service_id") if "service_id" in body else (base.service_id if base else 3)
    )
    expiration = pick("expiration_date", base.expiration_date if base else "2050-12-31T23:59:59Z")
    if expiration is not None and not isinstance(expiration, str):
        raise ValueError("'expiration_date' must be an ISO 8601 string or null")
    consumer = pick("consumer", base.consumer if base else None)
    if consumer is not None and not isinstance(consumer, dict):
        raise ValueError("'consumer' must be an object or null")
    codes = {
        name: (_opt_code(body, name) if name in body else (getattr(base, name) if base else None))
        for name in ("serial_number", "number", "nfc_number", "barcode")
    }
    return _Pass(
        id=pass_id,
        type=kind,
        service_id=service_id,
        payment_method_id=payment_method_id,
        balance=balance,
        expiration_date=expiration,
        consumer=consumer,
        **codes,
    )


def load_passes(text: str) -> list[_Pass]:
    """The passes of a passes.json document."""
    doc = parse_json(text)
    items = doc.get("passes") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise ValueError("passes.json must be an object with a list 'passes'")
    passes: list[_Pass] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ValueError(f"passes[{index}] is not an object")
        try:
            p = pass_from_json(item)
        except ValueError as exc:
            raise ValueError(f"passes[{index}]: {exc}") from exc
        if p.id in seen:
            raise ValueError(f"passes[{index}]: duplicate id {p.id!r}")
        seen.add(p.id)
        passes.append(p)
    return passes


@dataclass(frozen=True)
class _DebitKey:
    """What must be equal for a repeated ticket to be a replay."""

    ticket_number: str | None
    point_of_sale_id: int
    device_id: str
    pass_id: str
    payment_method_id: int
    amount: Money


@dataclass
class _Debit:
    ticket_id: str
    key: _DebitKey
    balance_before: Money
    balance_after: Money
    at: Decimal
    response: JsonObject
    replays: int = 0

    def to_json(self) -> JsonObject:
        return {
            "ticket_id": self.ticket_id,
            "ticket_number": self.key.ticket_number,
            "point_of_sale_id": self.key.point_of_sale_id,
            "device_id": self.key.device_id,
            "pass_id": self.key.pass_id,
            "payment_method_id": self.key.payment_method_id,
            "amount": to_cardapi(self.key.amount),
            "currency": self.key.amount.currency,
            "balance_before": to_cardapi(self.balance_before),
            "balance_after": to_cardapi(self.balance_after),
            "at": self.at,
            "replays": self.replays,
        }


@dataclass
class _Injected:
    code: str
    status: int
    message: str
    route: str | None  # search | debit | None (any)
    when: str  # before | after
    remaining: int
    fired: int = 0

    def to_json(self) -> JsonObject:
        return {
            "code": self.code,
            "status": self.status,
            "message": self.message,
            "route": self.route,
            "when": self.when,
            "remaining": self.remaining,
            "fired": self.fired,
        }


@dataclass
class _Tokens:
    valid: str | None
    expired: set[str] = field(default_factory=set)
    rotations: int = 0


# ---------------------------------------------------------------------------
# The service
# ---------------------------------------------------------------------------


def _card_code_for(status: int, error: str) -> tuple[str | None, int]:
    """The CARD code (and status) for an error raised outside the CardAPI handlers."""
    if error in CARD_CODES:
        return error, status
    if error == "not_found":
        return "CARD-2", 404
    if error == "method_not_allowed":
        return "CARD-2", status
    if error in ("invalid_json", "invalid_request"):
        return "CARD-3", 422
    by_status = {400: "CARD-3", 401: "CARD-5", 403: "CARD-9", 404: "CARD-2", 422: "CARD-3"}
    if status >= 500:
        return "CARD-1", status
    return by_status.get(status), status


class CardApiSim(SimService):
    """The CardAPI and its control routes."""

    name = "cardapi"
    prefix = "/cardapi"

    def __init__(self, clock: Clock, config: CardApiConfig | None = None) -> None:
        self._clock = clock
        self._initial = config or CardApiConfig()
        self._init_state()

    def _init_state(self) -> None:
        self.config = self._initial
        text = self.config.passes_json
        passes = load_passes(text if text is not None else _default_passes_json())
        self._passes: dict[str, _Pass] = {p.id: p for p in passes}
        self._ledger: list[_Debit] = []
        self._by_ticket: dict[str, _Debit] = {}
        self._injected: list[_Injected] = []
        self._tokens = _Tokens(valid=self.config.token)
        self._requests = {"search": 0, "debit": 0}
        self._refusals: list[JsonObject] = []

    # -- SimService -------------------------------------------------------------
    def reset(self) -> None:
        self._init_state()

    def snapshot(self) -> JsonObject:
        now = self._clock.time()
        return {
            "config": self.config.to_json(),
            "token": {
                "valid": self._tokens.valid is not None,
                "expired_count": len(self._tokens.expired),
                "rotations": self._tokens.rotations,
            },
            "passes": [p.to_json(now) for p in self._passes.values()],
            "ledger": [d.to_json() for d in self._ledger],
            "refusals": list(self._refusals),
            "injected_errors": [i.to_json() for i in self._injected],
            "requests": dict(self._requests),
        }

    def error_response(self, status: int, error: str, message: str) -> web.Response:
        code, status = _card_code_for(status, error)
        body: JsonObject = {"code": code, "message": message} if code else {"message": message}
        return json_response(body, status=status)

    # -- helpers ------------------------------------------------------------------
    def _authorize(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "").strip()
        if not header:
            raise card_error("CARD-5")
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise card_error("CARD-8", "Authorization must be 'Bearer <token>'")
        if self._tokens.valid is not None and secrets.compare_digest(
            token.encode(), self._tokens.valid.encode()
        ):
            return
        if token in self._tokens.expired:
            raise card_error("CARD-7")
        if token.count(".") == 2:
            raise card_error("CARD-6")
        raise card_error("CARD-8")

    def _take_injected(self, route: str) -> _Injected | None:
        for rule in self._injected:
            if rule.route is None or rule.route == route:
                rule.fired += 1
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self._injected.remove(rule)
                return rule
        return None

    def _refuse(self, route: str, error: SimError, **details: Any) -> SimError:
        self._refusals.append(
            {"route": route, "code": error.error, "message": error.message, "at": self._now(),
             **details}
        )  # fmt: skip
        return error

    def _now(self) -> Decimal:
        return sim_time(self._clock)

    @web.middleware
    async def _inject(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path[len(self.prefix) :]
        route = {"/cards": "search", "/cards/cashback/debit": "debit"}.get(path)
        if route is not None:
            self._requests[route] += 1
        rule = None if route is None else self._take_injected(route)
        if rule is None:
            return await handler(request)
        if rule.when == "after":
            # The request acts (a debit is applied); its answer is lost either way.
            with contextlib.suppress(SimError):
                await handler(request)
        raise SimError(rule.status, rule.code, rule.message)

    # -- search ---------------------------------------------------------------------
    def _query_int(self, request: web.Request, name: str) -> int | None:
        raw = request.query.get(name)
        if raw is None or raw == "":
            return None
        if not raw.isascii() or not raw.isdigit():
            raise _invalid(f"'{name}' must be an integer, got {raw[:20]!r}")
        return int(raw)

    def _check_scope(self, request: web.Request) -> None:
        group_id = self._query_int(request, "group_id")
        store_id = self._query_int(request, "store_id")
        pos_id = self._query_int(request, "point_of_sale_id")
        if group_id is not None:
            if store_id is not None or pos_id is not None:
                raise _invalid("send either group_id, or store_id and point_of_sale_id, not both")
            if group_id != self.config.group_id:
                raise card_error("CARD-9", f"No access to group {group_id}")
            return
        if store_id is None or pos_id is None:
            raise _invalid("group_id, or both store_id and point_of_sale_id, are required")
        if store_id != self.config.store_id or pos_id != self.config.point_of_sale_id:
            raise card_error("CARD-9", f"No access to store {store_id} / point of sale {pos_id}")

    def find(self, mode: str, q: str) -> _Pass | None:
        def norm(text: str | None) -> str:
            return "".join((text or "").split()).upper()

        for p in self._passes.values():
            if mode == "nfc" and p.nfc_number is not None and norm(p.nfc_number) == norm(q):
                return p
            if mode == "barcode" and p.barcode is not None and p.barcode == q.strip():
                return p
            if mode == "manual" and norm(q) in (norm(p.number), norm(p.serial_number)):
                return p
        return self._blank_card(mode, q.strip())

    def _blank_card(self, mode: str, barcode: str) -> _Pass | None:
        """A card of the kiosk's own stock seen for the first time: a new, empty pass."""
        prefix = self.config.blank_card_prefix
        if mode != "barcode" or prefix is None:
            return None
        if len(barcode) != 13 or not barcode.isdigit() or not barcode.startswith(prefix):
            return None
        card = _Pass(
            id=f"P-STOCK-{barcode[-6:]}",
            type="CASHBACK",
            service_id=3,
            payment_method_id=2,
            balance=Money(0, "EUR"),
            expiration_date="2050-12-31T23:59:59Z",
            serial_number=f"SN-{barcode[-6:]}",
            number=barcode,
            nfc_number=None,
            barcode=barcode,
            consumer=None,
        )
        self._passes[card.id] = card
        return card

    async def search(self, request: web.Request) -> web.Response:
        self._authorize(request)
        mode = request.query.get("search_mode")
        if mode not in SEARCH_MODES:
            raise _invalid(f"'search_mode' must be one of {', '.join(SEARCH_MODES)}")
        q = request.query.get("q", "")
        if not q.strip():
            raise _invalid("'q' is required")
        self._check_scope(request)
        found = self.find(mode, q)
        if found is None:
            raise card_error("CARD-14")
        return json_response({"type": found.type, "pass": found.wire()})

    # -- debit ----------------------------------------------------------------------
    def _debit_key(self, body: Mapping[str, Any]) -> tuple[str, _DebitKey, str]:
        """The validated request: (ticket_id, what a replay must repeat, currency)."""
        reject_unknown_card(
            body, {"ticket_id", "ticket_number", "point_of_sale_id", "device_id", "payment_row"}
        )
        ticket_raw = body.get("ticket_id")
        if not isinstance(ticket_raw, str):
            raise _invalid("'ticket_id' is required (a UUID string)")
        try:
            ticket_id = str(uuid.UUID(ticket_raw))
        except ValueError:
            raise _invalid("'ticket_id' must be a UUID") from None
        ticket_number = body.get("ticket_number")
        if ticket_number is not None and not isinstance(ticket_number, str):
            raise _invalid("'ticket_number' must be a string")
        pos_id = body.get("point_of_sale_id")
        if pos_id is None:
            raise _invalid("'point_of_sale_id' is required")
        if isinstance(pos_id, bool) or not isinstance(pos_id, int):
            raise _invalid("'point_of_sale_id' must be an integer")
        device_id = body.get("device_id")
        if not isinstance(device_id, str) or not device_id:
            raise _invalid("'device_id' is required (a non-empty string)")
        row = body.get("payment_row")
        if not isinstance(row, dict):
            raise _invalid("'payment_row' is required (an object)")
        reject_unknown_card(row, {"pass_id", "payment_method_id", "amount", "currency"})
        pass_id = row.get("pass_id")
        if not isinstance(pass_id, str) or not pass_id:
            raise _invalid("'payment_row.pass_id' is required (a string)")
        method = row.get("payment_method_id")
        if isinstance(method, bool) or not isinstance(method, int):
            raise _invalid("'payment_row.payment_method_id' must be an integer")
        currency = row.get("currency")
        if not isinstance(currency, str):
            raise _invalid("'payment_row.currency' is required")
        amount_text = row.get("amount")
        if not isinstance(amount_text, str):
            raise _invalid("'payment_row.amount' must be a decimal string like \"2.50\"")
        try:
            amount = from_cardapi(amount_text, currency)
        except MoneyError as exc:
            raise _invalid(f"'payment_row.amount': {exc}") from exc
        if amount.is_negative:
            raise _invalid("'payment_row.amount' cannot be negative")
        key = _DebitKey(ticket_number, pos_id, device_id, pass_id, method, amount)
        return ticket_id, key, currency

    async def debit(self, request: web.Request) -> web.Response:
        self._authorize(request)
        body = await read_json_object(request)
        ticket_id, key, currency = self._debit_key(body)
        if key.point_of_sale_id != self.config.point_of_sale_id:
            raise card_error("CARD-9", f"No access to point of sale {key.point_of_sale_id}")
        earlier = self._by_ticket.get(ticket_id)
        if earlier is not None:
            if earlier.key != key:
                raise self._refuse(
                    "debit",
                    _invalid(f"ticket_id {ticket_id} was already used with another payload"),
                    ticket_id=ticket_id,
                )
            earlier.replays += 1
            return json_response(earlier.response)
        p = self._passes.get(key.pass_id)
        if p is None:
            raise card_error("CARD-14")
        problem = None
        if key.payment_method_id != p.payment_method_id:
            problem = f"payment_method_id {key.payment_method_id} is not the pass's"
        elif currency != p.currency:
            problem = f"the pass holds {p.currency}, not {currency}"
        elif p.type != CASHBACK:
            problem = f"pass {p.id} is of type {p.type}: only CASHBACK passes can be debited"
        elif p.expired(self._clock.time()):
            problem = f"pass {p.id} is expired"
        elif key.amount > p.balance:
            problem = f"insufficient balance: {p.balance.format_plain()} < {to_cardapi(key.amount)}"
        if problem is not None:
            raise self._refuse("debit", _invalid(problem), ticket_id=ticket_id, pass_id=p.id)
        before = p.balance
        p.balance = before - key.amount
        response: JsonObject = {
            "ticket_id": body["ticket_id"],
            "payment_row": {
                "pass_id": p.id,
                "payment_method_id": p.payment_method_id,
                "amount": to_cardapi(key.amount),
                "currency": p.currency,
            },
            "receipt_row": {
                "label": self.config.receipt_label,
                "amount": to_cardapi(-key.amount),
                "balance": to_cardapi(p.balance),
            },
        }
        entry = _Debit(ticket_id, key, before, p.balance, self._now(), response)
        self._ledger.append(entry)
        self._by_ticket[ticket_id] = entry
        return json_response(response)

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._inject])
        app.router.add_get("/cards", self.search)
        app.router.add_post("/cards/cashback/debit", self.debit)
        return app

    # -- control API ----------------------------------------------------------------
    def build_control_app(self) -> web.Application:
        app = web.Application()
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/state", self.ctl_state),
            ("POST", "/reset", self.ctl_reset),
            ("POST", "/config", self.ctl_config),
            ("POST", "/next-error", self.ctl_next_error),
            ("DELETE", "/next-error", self.ctl_clear_errors),
            ("POST", "/token/expire", self.ctl_token_expire),
            ("POST", "/token/rotate", self.ctl_token_rotate),
            ("GET", "/passes", self.ctl_passes),
            ("POST", "/passes", self.ctl_add_pass),
            ("GET", "/passes/{pass_id}", self.ctl_get_pass),
            ("POST", "/passes/{pass_id}", self.ctl_modify_pass),
            ("GET", "/ledger", self.ctl_ledger),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        return app

    def _ctl_ok(self, **fields: Any) -> web.Response:
        return json_response({"success": True, **fields})

    async def ctl_state(self, request: web.Request) -> web.Response:
        return self._ctl_ok(**self.snapshot())

    async def ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return self._ctl_ok(message="CardAPI simulator reset")

    async def ctl_config(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"group_id", "store_id", "point_of_sale_id", "receipt_label"})
        changes: JsonObject = {}
        for name in ("group_id", "store_id", "point_of_sale_id"):
            value = body_int(body, name)
            if value is not None:
                changes[name] = value
        label = body_str(body, "receipt_label")
        if label is not None:
            changes["receipt_label"] = label
        self.config = replace(self.config, **changes)
        return self._ctl_ok(config=self.config.to_json())

    async def ctl_next_error(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"code", "count", "route", "when", "status", "message"})
        code = body_str(body, "code", required=True)
        assert code is not None
        status = body_int(body, "status", minimum=100)
        if code not in CARD_CODES and status is None:
            raise _ctl_invalid(
                f"'code' must be one of {', '.join(CARD_CODES)} (or give a 'status')"
            )
        route = body_str(body, "route")
        if route in ("", "any"):
            route = None
        if route is not None and route not in ROUTES:
            raise _ctl_invalid("'route' must be search, debit or any")
        when = body_str(body, "when") or "before"
        if when not in ("before", "after"):
            raise _ctl_invalid("'when' must be before or after")
        count = body_int(body, "count", minimum=1) or 1
        rule = _Injected(
            code=code,
            status=status if status is not None else CARD_CODES[code],
            message=body_str(body, "message") or CARD_MESSAGES.get(code, "Injected error"),
            route=route,
            when=when,
            remaining=count,
        )
        self._injected.append(rule)
        return self._ctl_ok(injected=rule.to_json())

    async def ctl_clear_errors(self, request: web.Request) -> web.Response:
        cleared, self._injected = len(self._injected), []
        return self._ctl_ok(cleared=cleared)

    async def ctl_token_expire(self, request: web.Request) -> web.Response:
        if self._tokens.valid is not None:
            self._tokens.expired.add(self._tokens.valid)
            self._tokens.valid = None
        return self._ctl_ok(token=self.snapshot()["token"])

    async def ctl_token_rotate(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"token"})
        new = body_str(body, "token") or f"sim-cardapi-token-{secrets.token_hex(8)}"
        if new in self._tokens.expired:
            raise _ctl_invalid("that token has expired; choose a new one")
        if self._tokens.valid is not None and self._tokens.valid != new:
            self._tokens.expired.add(self._tokens.valid)
        self._tokens.valid = new
        self._tokens.rotations += 1
        # The new token is returned: the control API is the simulator's operator console.
        return self._ctl_ok(token=new, state=self.snapshot()["token"])

    async def ctl_passes(self, request: web.Request) -> web.Response:
        now = self._clock.time()
        return self._ctl_ok(passes=[p.to_json(now) for p in self._passes.values()])

    def _pass(self, request: web.Request) -> _Pass:
        pass_id = request.match_info["pass_id"]
        found = self._passes.get(pass_id)
        if found is None:
            raise SimError(404, "unknown_pass", f"No pass {pass_id!r}")
        return found

    async def ctl_get_pass(self, request: web.Request) -> web.Response:
        return self._ctl_ok(**{"pass": self._pass(request).to_json(self._clock.time())})

    async def ctl_add_pass(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        try:
            new = pass_from_json(body)
        except ValueError as exc:
            raise _ctl_invalid(str(exc)) from exc
        if new.id in self._passes:
            raise SimError(409, "pass_exists", f"Pass {new.id!r} exists; POST /passes/{{id}}")
        self._passes[new.id] = new
        return self._ctl_ok(**{"pass": new.to_json(self._clock.time())})

    async def ctl_modify_pass(self, request: web.Request) -> web.Response:
        current = self._pass(request)
        body = await read_json_object(request)
        try:
            changed = pass_from_json(body, base=current)
        except ValueError as exc:
            raise _ctl_invalid(str(exc)) from exc
        self._passes[current.id] = changed
        return self._ctl_ok(**{"pass": changed.to_json(self._clock.time())})

    async def ctl_ledger(self, request: web.Request) -> web.Response:
        return self._ctl_ok(ledger=[d.to_json() for d in self._ledger])


def reject_unknown_card(body: Mapping[str, Any], allowed: set[str]) -> None:
    """Unknown request fields are a CARD-3 (so a client's typo is caught, not ignored)."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _invalid(f"unknown field(s): {', '.join(unknown)}")


def build(clock: Clock, callbacks: CallbackDispatcher) -> SimService:
    """Registered by :func:`~kioskapp.simulator.framework.build_simulators`."""
    return CardApiSim(clock)


__all__ = [
    "CARD_CODES",
    "CardApiConfig",
    "CardApiSim",
    "build",
    "card_error",
    "load_passes",
    "pass_from_json",
]
