"""A faithful simulator of a Cashflows Kinetic Go 2 terminal (Kinetic Connect REST API v2).

Mounted at ``/kinetic/api/v2`` (the real terminal serves ``/api/v2`` on port
8080); control routes at ``/_sim/kinetic/``. The vendor's contract and our
assumptions are listed once, in :mod:`kioskapp.devices.kinetic`; this module
implements the same, plus these simulator choices (all ASSUMED):

* HTTP Basic ``kinetic`` / ``kinetic-secret`` (the config defaults) on every
  endpoint but ``ping.json``; a bad or missing credential → 401
  ``{"success": false, "error": "Unauthorized"}`` with ``WWW-Authenticate``.
* Errors: ``{"success": false, "error": "<text>"}``: 400 for a bad body, an
  unknown transaction type, a refused reversal or receipt; 404 "Transaction
  not found" / "No transaction in progress" (current.json) / "No
  transactions" (latest.json); 409 "Transaction in progress" for any new
  transaction while one is active, "Transaction id already exists" for a
  reused id.
* ``POST transactions/sale.json`` and ``refund.json`` take exactly
  ``{"amount": <integer minor units > 0>, "id": <optional string>}``
  (a missing id → a UUID). The transaction starts active, waiting for a card,
  with ``timeout_ms`` 150 000 of simulated time; when it passes before the
  card data is complete (waiting, card read, PIN entry — not processing) the
  transaction ends ``cancelled`` with ``status_details: "timeout"``.
* Lifecycle (``status``): ``waiting_for_card`` → ``card_read`` (or
  ``pin_entry``) → ``processing`` → ``complete``; screens
  ``app.views.layouts.present_card`` | ``card_read`` | ``pin_entry`` |
  ``processing``, then ``app.views.layouts.transaction_result`` for 3 s of
  simulated time, then ``app.views.layouts.idle``. A new transaction may start
  as soon as ``is_active`` is false.
* The customer is played through the control API: present a card, approve,
  decline, host error, press Cancel on the terminal's keypad (before
  processing only). The REST API itself has NO cancel endpoint, as documented.
* Reversal ``{"reference_txn_id", "id"?}``: needs no card, answers finished
  (``approved`` by default; control ``/reversals`` makes them decline or
  error). Only an approved, unreversed sale/refund of the current batch can be
  reversed (else 400); it is marked ``is_reversed`` and a ``reversal``
  transaction (amount = the original's) is created.
* Reconciliation ``{"id"?}``: answers finished, approved, ``amount`` = net
  total of the batch (approved, unreversed sales minus refunds) with an extra
  ``reconciliation`` object of counts and totals; it closes the batch
  (``session_number`` + 1).
* Receipts are print instructions as the doc shows them, quirks included: the
  merchant copy scrolls with ``"amount": 100``, the cardholder copy with
  ``"amount": "100"`` (a string), the reconciliation receipt with the doc's
  misspelt ``"mount": 100``. Receipts of an active transaction → 400.
* ``print.json`` records every accepted job (``/_sim/kinetic/printed``); no
  printer → 400, paper out → 409; unknown commands → 400.
* ``offline``: the terminal is off the LAN — every API connection is dropped.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hmac
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from aiohttp import web
from aiohttp.typedefs import Handler

from kioskapp.core.clock import Clock, TimerHandle
from kioskapp.simulator.framework import (
    CallbackDispatcher,
    JsonObject,
    SimError,
    SimService,
    body_bool,
    body_int,
    body_seconds,
    body_str,
    json_response,
    read_json_object,
    reject_unknown,
    sim_time,
)

IDLE_SCENE: Final = "app.views.layouts.idle"
SCENES: Final = {
    "waiting_card": "app.views.layouts.present_card",
    "card_read": "app.views.layouts.card_read",
    "pin": "app.views.layouts.pin_entry",
    "processing": "app.views.layouts.processing",
    "result": "app.views.layouts.transaction_result",
}
STATUSES: Final = {
    "waiting_card": ("waiting_for_card", "present_card"),
    "card_read": ("card_read", "card_read"),
    "pin": ("pin_entry", "enter_pin"),
    "processing": ("processing", "online_authorisation"),
}
#: Stages the terminal's timeout_ms applies to (the customer still owes card data).
TIMEOUT_STAGES: Final = frozenset({"waiting_card", "card_read", "pin"})
AUTO_OUTCOMES: Final = ("approve", "decline", "error", "cancel")
REVERSAL_OUTCOMES: Final = ("approve", "decline", "error")
BRANDS: Final = {
    "visa": ("4", "visa-qvsdc", "VISA CREDIT"),
    "mastercard": ("5", "paypass-mchip", "MASTERCARD"),
    "maestro": ("6", "paypass-mchip", "MAESTRO"),
    "amex": ("3", "amex-emv", "AMERICAN EXPRESS"),
    "jcb": ("3", "jcb-emv", "JCB"),
    "discover": ("6", "discover-dpas", "DISCOVER"),
}
SOURCES: Final = ("contactless", "contact_emv", "keypad", "mag_stripe")


@dataclass(frozen=True)
class KineticConfig:
    """The simulated terminal; defaults match the app's default config."""

    username: str = "kinetic"
    password: str = "kinetic-secret"  # noqa: S105 - a simulator's well-known default
    timeout_ms: int = 150_000
    result_screen_s: float = 3.0
    currency: str = "EUR"
    manufacturer: str = "PAX"
    family: str = "A920"
    serial_number: str = "1850123456"
    device_name: str = "Kiosk terminal"
    host: str = "dummy"
    terminal_id: str = "12345678"
    merchant_id: str = "87654321"

    def to_json(self) -> JsonObject:
        return {
            "timeout_ms": self.timeout_ms,
            "result_screen_s": self.result_screen_s,
            "currency": self.currency,
            "host": self.host,
            "terminal_id": self.terminal_id,
            "merchant_id": self.merchant_id,
        }


@dataclass
class _Card:
    brand: str
    last4: str
    source: str

    @property
    def account_number(self) -> str:
        first = BRANDS.get(self.brand, ("4", "", ""))[0]
        length = 15 if self.brand == "amex" else 16
        return first + "*" * (length - 5) + self.last4

    @property
    def scheme(self) -> str:
        return BRANDS.get(self.brand, ("", "unknown (0)", ""))[1]

    @property
    def label(self) -> str:
        return BRANDS.get(self.brand, ("", "", self.brand.upper()))[2]


@dataclass
class _Txn:
    id: str
    type: str
    amount: int
    started_at: int
    started_mono: float
    stan: int
    session_number: int
    timeout_ms: int
    host: str
    stage: str = "waiting_card"  # waiting_card | card_read | pin | processing | done
    result: str | None = None
    details: str | None = None
    card: _Card | None = None
    pin: bool = False
    auth_code: str | None = None
    reference_number: str | None = None
    reference_txn_id: str | None = None
    is_reversed: bool = False
    reversed_by: str | None = None
    ended_at: int | None = None
    duration: Decimal | None = None
    attempted_sources: list[str] = field(default_factory=list)
    reconciliation: JsonObject | None = None
    timer: TimerHandle | None = None

    @property
    def is_active(self) -> bool:
        return self.stage != "done"

    def summary_json(self) -> JsonObject:
        """The common fields transactions.json lists (doc)."""
        return {
            "id": self.id,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "result": self.result,
            "amount": self.amount,
            "host": self.host,
            "type": self.type,
            "account_number": self.card.account_number if self.card else None,
            "is_reversed": self.is_reversed,
        }

    def to_json(self) -> JsonObject:
        card = self.card
        status, details = STATUSES.get(self.stage, ("complete", self.details))
        online = self.stage == "processing" or (
            self.stage == "done" and self.type in ("sale", "refund") and card is not None
        )
        out: JsonObject = {
            "account_number": card.account_number if card else None,
            "amount": self.amount,
            "amount_other": 0,
            "app_confirmation_required": False,
            "app_label": card.label if card else None,
            "attempted_sources": list(self.attempted_sources),
            "attempts_remaining": 3,
            "auth_code": self.auth_code,
            "card_details": (
                {"scheme": card.scheme, "track2": f"{'*' * 12}{card.last4}=****"} if card else None
            ),
            "card_expiry": "2812" if card else None,
            "cvm_mode": "offline_pin" if self.pin else None,
            "duration": self.duration,
            "ended_at": self.ended_at,
            "cvm_result": "ok" if self.pin and self.result == "approved" else None,
            "host": self.host,
            "id": self.id,
            "input_source": card.source if card else None,
            "is_active": self.is_active,
            "is_contactless": bool(card and card.source == "contactless"),
            "is_contactless_transaction_limit_exceeded": False,
            "is_deferred_auth": False,
            "is_emv": bool(card and card.source in ("contactless", "contact_emv")),
            "is_fallback": False,
            "is_force_online": False,
            "is_keyed": bool(card and card.source == "keypad"),
            "is_online": online,
            "is_online_pin": False,
            "is_offline_pin": self.pin,
            "is_reversed": self.is_reversed,
            "is_sca_single_tap": False,
            "is_signature_required": False,
            "issuer_id": None,
            "ksn": None,
            "last_deferred_auth_attempted_at": None,
            "message_number": self.stan,
            "num_attempts": len(self.attempted_sources),
            "num_deferred_auth_attempts": None,
            "online_request": {},
            "online_response": {},
            "online_result": self.result if online and self.stage == "done" else None,
            "pin_block": None,
            "reference_number": self.reference_number,
            "reference_txn_id": self.reference_txn_id,
            "result": self.result,
            "session_number": self.session_number,
            "should_fallback": False,
            "should_retry": False,
            "stan": self.stan,
            "started_at": self.started_at,
            "status": status,
            "status_details": details,
            "tags": {},
            "terminal_online_decision": "go_online" if card else "unknown",
            "timeout_ms": self.timeout_ms,
            "tip_amount": 0,
            "total_amount": self.amount,
            "type": self.type,
        }
        if self.reconciliation is not None:
            out["reconciliation"] = self.reconciliation
        return out


@dataclass
class _Printer:
    available: bool = True
    paper: bool = True
    printed: list[JsonObject] = field(default_factory=list)


def _kinetic_error(status: int, message: str) -> web.Response:
    return json_response({"success": False, "error": message}, status=status)


class KineticSim(SimService):
    """The Kinetic Go 2 REST API v2 and its control routes."""

    name = "kinetic"
    prefix = "/kinetic/api/v2"

    def __init__(
        self, clock: Clock, callbacks: CallbackDispatcher, config: KineticConfig | None = None
    ) -> None:
        self._clock = clock
        self._callbacks = callbacks  # the terminal has no callbacks: kept for symmetry
        self._initial = config or KineticConfig()
        self._init_state()

    def _init_state(self) -> None:
        self.config = self._initial
        self._txns: dict[str, _Txn] = {}
        self._order: list[str] = []
        self._stan = 0
        self._session_number = 1
        self._auto: str | None = None
        self._reversal_outcome = "approve"
        self._offline = False
        self._printer = _Printer()
        self._result_until: float | None = None
        self._screen_timer: TimerHandle | None = None

    # -- SimService ---------------------------------------------------------
    def reset(self) -> None:
        self._cancel_timers()
        self._init_state()

    async def aclose(self) -> None:
        self._cancel_timers()

    def _cancel_timers(self) -> None:
        for txn in self._txns.values():
            if txn.timer is not None:
                txn.timer.cancel()
                txn.timer = None
        if self._screen_timer is not None:
            self._screen_timer.cancel()
            self._screen_timer = None

    def error_response(self, status: int, error: str, message: str) -> web.Response:
        return _kinetic_error(status, message)

    def snapshot(self) -> JsonObject:
        active = self._active()
        return {
            "config": self.config.to_json(),
            "offline": self._offline,
            "auto": self._auto,
            "reversal_outcome": self._reversal_outcome,
            "session_number": self._session_number,
            "current": active.id if active else None,
            "screen": self._scene(),
            "transactions": [self._txns[i].to_json() for i in self._order],
            "printer": {
                "available": self._printer.available,
                "paper": self._printer.paper,
                "printed": list(self._printer.printed),
            },
        }

    # -- helpers ------------------------------------------------------------
    def _now(self) -> int:
        return int(self._clock.time())

    def _ok(self, **fields: Any) -> web.Response:
        return json_response({"success": True, **fields})

    def _active(self) -> _Txn | None:
        for txn_id in reversed(self._order):
            if self._txns[txn_id].is_active:
                return self._txns[txn_id]
        return None

    def _get(self, txn_id: str) -> _Txn:
        txn = self._txns.get(txn_id)
        if txn is None:
            raise SimError(404, "not_found", "Transaction not found")
        return txn

    def _scene(self) -> JsonObject:
        active = self._active()
        name = self.config.device_name
        if active is not None:
            amount = self._format(active.amount)
            texts = {
                "waiting_card": f"Present card\n{amount}",
                "card_read": f"Card read\n{amount}",
                "pin": f"Enter PIN\n{amount}",
                "processing": f"Processing\n{amount}",
            }
            return {"path": SCENES[active.stage], "text": texts[active.stage]}
        if self._result_until is not None and self._order:
            last = self._txns[self._order[-1]]
            return {"path": SCENES["result"], "text": f"{(last.result or '').upper()}\n{name}"}
        return {"path": IDLE_SCENE, "text": f"Tap Green To Start\n{name}\n\n\n\n"}

    def _format(self, minor: int) -> str:
        sign = "-" if minor < 0 else ""
        whole, cents = divmod(abs(minor), 100)
        return f"{self.config.currency} {sign}{whole}.{cents:02d}"

    def _new_txn(self, txn_type: str, amount: int, txn_id: str | None) -> _Txn:
        if self._active() is not None:
            raise SimError(409, "in_progress", "Transaction in progress")
        txn_id = txn_id or str(uuid.uuid4())
        if txn_id in self._txns:
            raise SimError(409, "duplicate", "Transaction id already exists")
        self._stan += 1
        txn = _Txn(
            id=txn_id,
            type=txn_type,
            amount=amount,
            started_at=self._now(),
            started_mono=self._clock.monotonic(),
            stan=self._stan,
            session_number=self._session_number,
            timeout_ms=self.config.timeout_ms,
            host=self.config.host,
        )
        self._txns[txn_id] = txn
        self._order.append(txn_id)
        self._clear_result_screen()
        return txn

    def _finish(self, txn: _Txn, result: str, details: str) -> None:
        if txn.timer is not None:
            txn.timer.cancel()
            txn.timer = None
        txn.stage = "done"
        txn.result = result
        txn.details = details
        txn.ended_at = self._now()
        txn.duration = Decimal(repr(round(self._clock.monotonic() - txn.started_mono, 3)))
        if result == "approved" and txn.type in ("sale", "refund"):
            txn.auth_code = f"{random.randrange(1_000_000):06d}"
        if result in ("approved", "declined"):
            txn.reference_number = f"{txn.session_number:04d}{txn.stan:06d}"
        self._show_result()

    def _show_result(self) -> None:
        self._clear_result_screen()
        self._result_until = self._clock.monotonic() + self.config.result_screen_s
        self._screen_timer = self._clock.call_later(
            self.config.result_screen_s, self._clear_result_screen
        )

    def _clear_result_screen(self) -> None:
        if self._screen_timer is not None:
            self._screen_timer.cancel()
            self._screen_timer = None
        self._result_until = None

    def _timed_out(self, txn: _Txn) -> None:
        txn.timer = None
        if txn.stage in TIMEOUT_STAGES:
            self._finish(txn, "cancelled", "timeout")

    def _present(self, txn: _Txn, card: _Card, pin: bool) -> None:
        txn.card = card
        txn.pin = pin
        txn.attempted_sources.append(card.source)
        txn.stage = "pin" if pin else "card_read"

    def _outcome(self, txn: _Txn, outcome: str) -> None:
        """approve / decline walk the remaining stages; error and cancel end at once."""
        if outcome in ("approve", "decline"):
            if txn.stage == "waiting_card":
                self._present(txn, _Card("visa", "0010", "contactless"), pin=False)
            txn.stage = "processing"
            self._finish(
                txn,
                "approved" if outcome == "approve" else "declined",
                "approved" if outcome == "approve" else "declined_by_host",
            )
        elif outcome == "error":
            self._finish(txn, "error", "host_error")
        else:
            self._finish(txn, "cancelled", "cancelled_by_user")

    # -- auth and offline ---------------------------------------------------------
    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return False
        user, sep, password = decoded.partition(":")
        expected = f"{self.config.username}:{self.config.password}".encode()
        return bool(sep) and hmac.compare_digest(f"{user}:{password}".encode(), expected)

    def _middleware(self) -> Any:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            if self._offline:
                transport = request.transport
                if transport is not None:
                    transport.close()
                return web.Response(status=499)
            path = request.path[len(self.prefix) :]
            if path != "/ping.json" and not self._authorized(request):
                response = _kinetic_error(401, "Unauthorized")
                response.headers["WWW-Authenticate"] = 'Basic realm="Kinetic"'
                return response
            return await handler(request)

        return middleware

    # -- API: terminal ------------------------------------------------------------
    async def ping(self, request: web.Request) -> web.Response:
        return self._ok(ping=True)

    async def device(self, request: web.Request) -> web.Response:
        return self._ok(
            device={
                "manufacturer": self.config.manufacturer,
                "family": self.config.family,
                "serial_number": self.config.serial_number,
            }
        )

    def _receipt_lines_settings(self) -> JsonObject:
        return {f"line{i}": "" for i in range(1, 6)}

    async def settings(self, request: web.Request) -> web.Response:
        c = self.config
        return self._ok(
            settings={
                "host": {"module": c.host},
                c.host: {
                    "address": "123.123.123.123",
                    "port": 23215,
                    "terminal_id": c.terminal_id,
                    "merchant_id": c.merchant_id,
                    "deferred_auth": {"enabled": False},
                    "receipt": {
                        "footer": self._receipt_lines_settings(),
                        "header": {**self._receipt_lines_settings(), "line1": c.device_name},
                    },
                },
                "receipt": {
                    "footer": self._receipt_lines_settings(),
                    "header": self._receipt_lines_settings(),
                },
                "webserver": {"http": {"enabled": True, "port": 8080}},
            }
        )

    async def screen(self, request: web.Request) -> web.Response:
        return self._ok(scene=self._scene())

    # -- API: transactions ----------------------------------------------------------
    async def list_transactions(self, request: web.Request) -> web.Response:
        return self._ok(transactions=[self._txns[i].summary_json() for i in self._order])

    async def get_transaction(self, request: web.Request) -> web.Response:
        txn_id = request.match_info["id"]
        if txn_id == "current":
            active = self._active()
            if active is None:
                raise SimError(404, "no_current", "No transaction in progress")
            return self._ok(transaction=active.to_json())
        if txn_id in ("latest", "last") and txn_id not in self._txns:
            if not self._order:
                raise SimError(404, "not_found", "No transactions")
            return self._ok(transaction=self._txns[self._order[-1]].to_json())
        return self._ok(transaction=self._get(txn_id).to_json())

    async def post_transaction(self, request: web.Request) -> web.Response:
        txn_type = request.match_info["id"]
        body = await self._body(request)
        if txn_type in ("sale", "refund"):
            reject_unknown_400(body, {"amount", "id"})
            amount = body.get("amount")
            if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
                raise SimError(400, "invalid", "'amount' must be a positive integer (minor units)")
            txn = self._new_txn(txn_type, amount, self._opt_id(body))
            txn.timer = self._clock.call_later(
                txn.timeout_ms / 1000, functools.partial(self._timed_out, txn)
            )
            if self._auto is not None:
                self._outcome(txn, self._auto)
            return self._ok(transaction=txn.to_json())
        if txn_type == "reversal":
            return self._reversal(body)
        if txn_type == "reconciliation":
            return self._reconciliation(body)
        raise SimError(400, "invalid_type", f"Unknown transaction type: {txn_type}")

    async def _body(self, request: web.Request) -> JsonObject:
        try:
            return await read_json_object(request, empty_ok=True)
        except SimError as exc:
            raise SimError(400, exc.error, exc.message) from exc

    @staticmethod
    def _opt_id(body: JsonObject) -> str | None:
        value = body.get("id")
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip() or "/" in value:
            raise SimError(400, "invalid", "'id' must be a non-empty string without '/'")
        return value

    def _reversal(self, body: JsonObject) -> web.Response:
        reject_unknown_400(body, {"reference_txn_id", "id"})
        ref = body.get("reference_txn_id")
        if not isinstance(ref, str) or not ref:
            raise SimError(400, "invalid", "'reference_txn_id' is required")
        if self._active() is not None:
            raise SimError(409, "in_progress", "Transaction in progress")
        original = self._get(ref)
        if original.type not in ("sale", "refund"):
            raise SimError(400, "not_reversible", f"A {original.type} cannot be reversed")
        if original.result != "approved":
            raise SimError(400, "not_reversible", "Only approved transactions can be reversed")
        if original.is_reversed:
            raise SimError(400, "not_reversible", "Transaction already reversed")
        if original.session_number != self._session_number:
            raise SimError(
                400, "not_reversible", "Transaction cannot be reversed after reconciliation"
            )
        txn = self._new_txn("reversal", original.amount, self._opt_id(body))
        txn.reference_txn_id = original.id
        txn.card = original.card
        txn.stage = "processing"
        outcome = self._reversal_outcome
        self._finish(
            txn,
            {"approve": "approved", "decline": "declined"}.get(outcome, "error"),
            {"approve": "reversed", "decline": "declined_by_host"}.get(outcome, "host_error"),
        )
        if txn.result == "approved":
            original.is_reversed = True
            original.reversed_by = txn.id
        return self._ok(transaction=txn.to_json())

    def _batch_totals(self) -> JsonObject:
        def total(kind: str, reversed_: bool) -> JsonObject:
            items = [
                t
                for t in self._txns.values()
                if t.type == kind
                and t.result == "approved"
                and t.session_number == self._session_number
                and t.is_reversed == reversed_
            ]
            return {"count": len(items), "amount": sum(t.amount for t in items)}

        sales, refunds = total("sale", False), total("refund", False)
        reversed_sales = total("sale", True)
        return {
            "session_number": self._session_number,
            "sales": sales,
            "refunds": refunds,
            "reversed": reversed_sales,
            "net_amount": sales["amount"] - refunds["amount"],
        }

    def _reconciliation(self, body: JsonObject) -> web.Response:
        reject_unknown_400(body, {"id"})
        if self._active() is not None:
            raise SimError(409, "in_progress", "Transaction in progress")
        totals = self._batch_totals()
        txn = self._new_txn("reconciliation", max(0, totals["net_amount"]), self._opt_id(body))
        txn.reconciliation = totals
        txn.stage = "processing"
        self._finish(txn, "approved", "reconciled")
        self._session_number += 1
        return self._ok(transaction=txn.to_json())

    # -- API: receipts and printer -------------------------------------------------
    def _receipt(self, txn: _Txn, kind: str) -> list[JsonObject]:
        scroll: JsonObject = {"command": "scroll", "amount": 100}
        if kind == "cardholder":
            scroll = {"command": "scroll", "amount": "100"}  # as in the doc's sample
        elif kind == "reconciliation":
            scroll = {"command": "scroll", "mount": 100}  # the doc's own spelling
        rows: list[tuple[str, str | None]] = [(self.config.device_name, None)]
        c = self.config
        rows.append((f"TID {c.terminal_id}", f"MID {c.merchant_id}"))
        if txn.type == "reconciliation":
            totals = txn.reconciliation or {}
            sales, refunds = totals.get("sales", {}), totals.get("refunds", {})
            rows += [
                ("RECONCILIATION", None),
                (f"BATCH {totals.get('session_number')}", None),
                (f"SALES {sales.get('count', 0)}", self._format(sales.get("amount", 0))),
                (f"REFUNDS {refunds.get('count', 0)}", self._format(refunds.get("amount", 0))),
                ("NET TOTAL", self._format(totals.get("net_amount", 0))),
            ]
        else:
            rows.append((txn.type.upper(), None))
            if txn.card is not None:
                rows.append((f"{txn.card.label} {txn.card.source.upper()}", None))
                rows.append(("*" * 12 + txn.card.last4, None))
            rows.append(("AMOUNT", self._format(txn.amount)))
            if txn.auth_code:
                rows.append(("AUTH CODE", txn.auth_code))
            rows.append(((txn.result or "").upper(), None))
        rows.append(("MERCHANT COPY" if kind != "cardholder" else "CARDHOLDER COPY", None))
        if kind == "cardholder":
            rows.append(("PLEASE RETAIN FOR YOUR RECORDS", None))
        out: list[JsonObject] = [scroll]
        for i, (left, right) in enumerate(rows):
            y = 32 + i * 30
            out.append({"command": "text", "text": left, "x": 0, "y": y, "font_size": 24})
            if right is not None:
                out.append({"command": "text", "text": right, "x": 250, "y": y, "font_size": 24})
        out.append({"command": "flush"})
        return out

    async def receipt(self, request: web.Request) -> web.Response:
        txn = self._get(request.match_info["id"])
        kind = request.match_info["kind"]
        if kind not in ("merchant", "cardholder", "reconciliation"):
            raise SimError(404, "not_found", f"No such receipt: {kind}")
        if txn.is_active:
            raise SimError(400, "active", "Transaction is not complete")
        if kind == "cardholder" and txn.type == "reconciliation":
            raise SimError(400, "no_receipt", "No cardholder receipt for a reconciliation")
        if kind == "reconciliation" and txn.type != "reconciliation":
            raise SimError(400, "no_receipt", "Not a reconciliation transaction")
        return self._ok(receipt=self._receipt(txn, kind))

    async def print_(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        reject_unknown_400(body, {"instructions"})
        instructions = body.get("instructions")
        if not isinstance(instructions, list):
            raise SimError(400, "invalid", "'instructions' must be a list")
        for i, ins in enumerate(instructions):
            if not isinstance(ins, dict) or not isinstance(ins.get("command"), str):
                raise SimError(400, "invalid", f"instruction {i} has no command")
            command = ins["command"]
            if command == "text" and not isinstance(ins.get("text"), str):
                raise SimError(400, "invalid", f"instruction {i}: text needs 'text'")
            if command not in ("text", "scroll", "flush"):
                raise SimError(400, "invalid", f"Unknown printer command: {command}")
        if not self._printer.available:
            raise SimError(400, "no_printer", "This device has no printer")
        if not self._printer.paper:
            raise SimError(409, "paper_out", "Printer out of paper")
        self._printer.printed.append({"at": sim_time(self._clock), "instructions": instructions})
        return self._ok()

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware()])
        r = app.router
        r.add_get("/ping.json", self.ping)
        r.add_get("/device.json", self.device)
        r.add_get("/settings.json", self.settings)
        r.add_get("/screens/current.json", self.screen)
        r.add_get("/transactions.json", self.list_transactions)
        r.add_get("/transactions/{id}.json", self.get_transaction)
        r.add_post("/transactions/{id}.json", self.post_transaction)
        r.add_get("/transactions/{id}/receipts/{kind}.json", self.receipt)
        r.add_post("/print.json", self.print_)
        return app

    # -- control API ------------------------------------------------------------
    def build_control_app(self) -> web.Application:
        app = web.Application()
        r = app.router
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/state", self.ctl_state),
            ("POST", "/reset", self.ctl_reset),
            ("POST", "/config", self.ctl_config),
            ("POST", "/present", self.ctl_present),
            ("POST", "/process", self.ctl_process),
            ("POST", "/approve", self.ctl_approve),
            ("POST", "/decline", self.ctl_decline),
            ("POST", "/error", self.ctl_error),
            ("POST", "/cancel", self.ctl_cancel),
            ("POST", "/auto", self.ctl_auto),
            ("POST", "/reversals", self.ctl_reversals),
            ("POST", "/offline", self.ctl_offline),
            ("POST", "/printer", self.ctl_printer),
            ("GET", "/printed", self.ctl_printed),
        ]
        for method, path, handler in routes:
            r.add_route(method, path, handler)
        return app

    def _ctl_ok(self, **fields: Any) -> web.Response:
        return json_response({"success": True, **fields})

    def _require_active(self, stages: frozenset[str] | set[str], action: str) -> _Txn:
        txn = self._active()
        if txn is None:
            raise SimError(409, "no_transaction", f"Cannot {action}: no transaction in progress")
        if txn.stage not in stages:
            raise SimError(409, "wrong_stage", f"Cannot {action}: the transaction is {txn.stage}")
        return txn

    async def ctl_state(self, request: web.Request) -> web.Response:
        return self._ctl_ok(**self.snapshot())

    async def ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return self._ctl_ok(message="Kinetic simulator reset")

    async def ctl_config(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"timeout_ms", "result_screen_s"})
        changes: dict[str, Any] = {}
        timeout_ms = body_int(body, "timeout_ms", minimum=1)
        if timeout_ms is not None:
            changes["timeout_ms"] = timeout_ms
        screen = body_seconds(body, "result_screen_s")
        if screen is not None:
            changes["result_screen_s"] = screen
        self.config = dataclasses.replace(self.config, **changes)
        return self._ctl_ok(config=self.config.to_json())

    async def ctl_present(self, request: web.Request) -> web.Response:
        """The customer taps/inserts a card (``pin``: the card asks for a PIN)."""
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"brand", "last4", "source", "pin"})
        brand = (body_str(body, "brand") or "visa").lower()
        last4 = body_str(body, "last4") or "0010"
        source = body_str(body, "source") or "contactless"
        if len(last4) != 4 or not last4.isdigit():
            raise SimError(422, "invalid_request", "'last4' must be 4 digits")
        if source not in SOURCES:
            raise SimError(422, "invalid_request", f"'source' must be one of {', '.join(SOURCES)}")
        txn = self._require_active({"waiting_card"}, "present a card")
        self._present(txn, _Card(brand, last4, source), pin=bool(body_bool(body, "pin")))
        return self._ctl_ok(transaction=txn.to_json())

    async def ctl_process(self, request: web.Request) -> web.Response:
        """Card data complete (PIN entered): the terminal goes online and waits for the host."""
        txn = self._require_active({"card_read", "pin"}, "process")
        txn.stage = "processing"
        return self._ctl_ok(transaction=txn.to_json())

    async def _ctl_outcome(self, outcome: str, stages: frozenset[str] | set[str]) -> web.Response:
        txn = self._require_active(stages, outcome)
        self._outcome(txn, outcome)
        return self._ctl_ok(transaction=txn.to_json())

    async def ctl_approve(self, request: web.Request) -> web.Response:
        return await self._ctl_outcome("approve", TIMEOUT_STAGES | {"processing"})

    async def ctl_decline(self, request: web.Request) -> web.Response:
        return await self._ctl_outcome("decline", TIMEOUT_STAGES | {"processing"})

    async def ctl_error(self, request: web.Request) -> web.Response:
        return await self._ctl_outcome("error", TIMEOUT_STAGES | {"processing"})

    async def ctl_cancel(self, request: web.Request) -> web.Response:
        """The customer presses Cancel on the terminal's keypad (not while processing)."""
        return await self._ctl_outcome("cancel", TIMEOUT_STAGES)

    async def ctl_auto(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"outcome"})
        outcome = body.get("outcome")
        if outcome is not None and outcome not in AUTO_OUTCOMES:
            raise SimError(
                422,
                "invalid_request",
                f"'outcome' must be one of {', '.join(AUTO_OUTCOMES)} or null",
            )
        self._auto = outcome
        return self._ctl_ok(auto=outcome)

    async def ctl_reversals(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"outcome"})
        outcome = body.get("outcome")
        if outcome not in REVERSAL_OUTCOMES:
            raise SimError(
                422, "invalid_request", f"'outcome' must be one of {', '.join(REVERSAL_OUTCOMES)}"
            )
        self._reversal_outcome = outcome
        return self._ctl_ok(reversal_outcome=outcome)

    async def ctl_offline(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"offline"})
        offline = body.get("offline", True)
        if not isinstance(offline, bool):
            raise SimError(422, "invalid_request", "'offline' must be true or false")
        self._offline = offline
        return self._ctl_ok(offline=offline)

    async def ctl_printer(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"available", "paper"})
        available = body_bool(body, "available")
        if available is not None:
            self._printer.available = available
        paper = body_bool(body, "paper")
        if paper is not None:
            self._printer.paper = paper
        return self._ctl_ok(printer=self.snapshot()["printer"])

    async def ctl_printed(self, request: web.Request) -> web.Response:
        return self._ctl_ok(printed=list(self._printer.printed))


def reject_unknown_400(body: JsonObject, allowed: set[str]) -> None:
    """The terminal answers 400 (not 422) to fields it does not take."""
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise SimError(400, "invalid", f"Unknown field(s): {', '.join(unknown)}")


def build(clock: Clock, callbacks: CallbackDispatcher) -> SimService:
    """Registration hook for :func:`~kioskapp.simulator.framework.build_simulators`."""
    return KineticSim(clock, callbacks)


__all__ = ["IDLE_SCENE", "KineticConfig", "KineticSim", "build"]
