"""A faithful simulator of the PayJunction Smart Terminal API (docs/simulator.md).

Mounted at ``/payjunction``; control routes at ``/_sim/payjunction/``. One
merchant account (HTTP Basic ``pj-sim``/``pj-sim-password``, application key
``pj-sim-app-key``) with one Smart Terminal ``sim-smart-terminal-1`` on
``terminalId`` 1: the defaults of the app's ``[payjunction]`` config.

Documented by the vendor: Basic auth plus
``X-PJ-Application-Key``, form-encoded bodies, ``request-payment``
(``terminalId``, ``amountBase``, optional ``showReceiptPrompt`` and
``interruptBusyTerminal``) → ``{"requestPaymentId"}``, ``request-read``
(``terminalId``) → ``{"requestId"}`` with track data in format 1 or 2, the red
X completing a request without a result, ``POST /smartterminals/{id}/main``,
the request statuses, the ``SMARTTERMINAL_REQUEST`` webhook
``{"created","data":{"requestId","status","transactionId"?},"id","type"}``,
errors ``{"errors":[{"message","parameter","type"}]}`` (400; the seed's
"Terminal does not exist ..." message for an unknown ``terminalId``), 401 for
bad credentials, the sandbox trigger amounts, and ``PUT /transactions/{id}``
``status=VOID``.

Everything else here is ASSUMED, and lives only in this module:

* ``GET /smartterminals/{id}/requests/{requestId}`` →
  ``{"requestId","status","transactionId"?,"result"?}``; polling one request
  faster than every 0.5 s (simulated clock) → 429. A payment's ``result``:
  ``{"transactionId","status":"APPROVED"|"DECLINED","amount","approvalCode"?,
  "cardBrand","last4","message"}``; a read's: ``{"track"}``. ``result`` is
  present only on ``COMPLETE`` with something to report.
* The terminal runs one request at a time. A request arriving while it runs
  another (or while control ``busy`` is set: someone uses it from PayJunction's
  Virtual Terminal) ends ``BUSY`` at once, unless ``interruptBusyTerminal=true``
  (the running request is then ended as by ``main``). An offline terminal
  leaves a request ``CONNECTING`` for ``connect_timeout_s`` (10 s), then
  ``NO_CONNECTION`` (an end state); coming back online meanwhile connects it.
* A connected payment request is ``IN_PROGRESS`` (waiting for a card). The
  customer (control ``present``) inserts a card: it is read, then authorised
  at once (or on control ``authorise`` when presented with
  ``authorise: false``, the "processing" moment); a transaction is created,
  ``APPROVED`` unless the cents of the amount are a sandbox trigger (.01 call
  issuer, .05 do not honor, .08 insufficient funds, .91 no reply) or the
  control says ``outcome: decline``. The request shows ``IN_PROGRESS`` with
  the ``transactionId``; with ``showReceiptPrompt=false`` it completes at
  once, else after the receipt prompt (control ``receipt``, the red X, ``main``
  or ``receipt_timeout_s``, 30 s).
* ``main`` ends the running request: before a card it completes without a
  result; after a card was read the transaction is processed anyway ("too
  late to cancel") and the request completes with it. The red X works only
  before a card is read (and at the receipt prompt). A request waiting for a
  card longer than ``request_timeout_s`` (300 s) completes without a result.
* Reads: control ``swipe`` with ``format`` ``format1`` | ``format2`` | ``iso``
  (full ISO/IEC 7813 tracks 1 and 2 with LRCs) | ``garbage`` (``%E?;E?``, a
  reader's misread) | ``red_x``, or an explicit ``track`` string.
* Transactions: ids from 10001; ``{"transactionId","terminalId","action":
  "CHARGE","amountBase","amountTotal","status":"CAPTURE"|"DECLINED"|"VOID",
  "created","response":{"approved","code","message","processor":
  {"approvalCode"?}},"vault":{"type":"CARD","accountType","lastFour"}}``.
  Voiding: ``VOID`` again is harmless; a declined or settled (control
  ``settle``) transaction → 400.
* ``main`` answers 200 ``{}``. Errors without a field: ``{"errors":
  [{"message","type"}]}`` (401 ``unauthorized``, 404 ``not_found``, 429
  ``rate_limited``).
* Webhooks: one per status change (``CONNECTING``, ``IN_PROGRESS``,
  ``IN_PROGRESS`` with ``transactionId``, the end state with its
  ``transactionId`` if any) to the URL set through control ``webhook``,
  signed ``X-Pj-Signature`` = hex HMAC-SHA256 of the body with the webhook
  secret (``pj-sim-webhook``). The dispatcher's drop/duplicate/delay/hold/
  bad_signature modes apply.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import re
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, Literal

from aiohttp import web
from aiohttp.typedefs import Handler

from kioskapp.core.clock import Clock, TimerHandle
from kioskapp.devices.callbacks import hmac_sha256_hex
from kioskapp.simulator.framework import (
    CallbackDispatcher,
    JsonObject,
    SimError,
    SimService,
    body_bool,
    body_callback_url,
    body_seconds,
    body_str,
    json_response,
    read_json_object,
    reject_unknown,
)

log = logging.getLogger(__name__)

WEBHOOK_TYPE: Final = "SMARTTERMINAL_REQUEST"
UNKNOWN_TERMINAL: Final = "Terminal does not exist or you do not have permission to access it."
AMOUNT_RE: Final = re.compile(r"^\d+(\.\d{1,2})?$")
#: Sandbox trigger amounts: cents → (response code, message).
DECLINE_TRIGGERS: Final[Mapping[int, tuple[str, str]]] = {
    1: ("01", "Call Issuer"),
    5: ("05", "Do Not Honor"),
    8: ("51", "Insufficient Funds"),
    91: ("91", "No Reply"),
}
SWIPE_FORMATS: Final = ("format1", "format2", "iso", "garbage", "red_x")
FORMAT1_TRACK: Final = ";7090112233654321?"
FORMAT2_TRACK: Final = "%B924696827707852^?;924696827707852=?"
GARBAGE_TRACK: Final = "%E?;E?"
DEFAULT_CARD: Final = {"brand": "VISA", "last4": "1111"}

Stage = Literal["connecting", "waiting", "card_read", "receipt", "done"]


def track1_lrc(track: str) -> str:
    """ISO/IEC 7811 track 1 LRC: XOR of the 6-bit values from '%' to '?'."""
    acc = 0
    for ch in track:
        acc ^= ord(ch) - 0x20
    return chr(0x20 + acc)


def track2_lrc(track: str) -> str:
    """ISO/IEC 7811 track 2 LRC: XOR of the 4-bit values from ';' to '?'."""
    acc = 0
    for ch in track:
        acc ^= ord(ch) - 0x30
    return chr(0x30 + acc)


def iso_tracks(number: str = "6035710000123456", name: str = "SIM/CARDHOLDER") -> str:
    """Full ISO/IEC 7813 tracks 1 and 2 of a made-up card, each with its LRC."""
    track1 = f"%B{number}^{name}^3012120000000000000?"
    track2 = f";{number}=30121200000000000?"
    return track1 + track1_lrc(track1) + track2 + track2_lrc(track2)


@dataclass(frozen=True)
class PayJunctionConfig:
    """The simulated account's settings; defaults match the app's default config."""

    login: str = "pj-sim"
    password: str = "pj-sim-password"  # noqa: S105 - a simulator's well-known default
    application_key: str = "pj-sim-app-key"
    smart_terminal_id: str = "sim-smart-terminal-1"
    terminal_ids: tuple[int, ...] = (1,)
    webhook_secret: str = "pj-sim-webhook"  # noqa: S105
    webhook_url: str | None = None
    min_poll_interval_s: float = 0.5
    connect_timeout_s: float = 10.0
    request_timeout_s: float = 300.0
    receipt_timeout_s: float = 30.0
    first_transaction_id: int = 10001

    def to_json(self) -> JsonObject:
        return {
            "smart_terminal_id": self.smart_terminal_id,
            "terminal_ids": list(self.terminal_ids),
            "min_poll_interval_s": self.min_poll_interval_s,
            "connect_timeout_s": self.connect_timeout_s,
            "request_timeout_s": self.request_timeout_s,
            "receipt_timeout_s": self.receipt_timeout_s,
        }


@dataclass
class _Transaction:
    transaction_id: int
    terminal_id: int
    amount: Decimal
    approved: bool
    code: str
    message: str
    approval_code: str | None
    brand: str
    last4: str
    request_id: str
    created: str
    status: str = "CAPTURE"  # CAPTURE | DECLINED | VOID
    settled: bool = False

    def to_json(self) -> JsonObject:
        processor: JsonObject = {"authorized": self.approved}
        if self.approval_code:
            processor["approvalCode"] = self.approval_code
        return {
            "transactionId": self.transaction_id,
            "terminalId": self.terminal_id,
            "action": "CHARGE",
            "amountBase": f"{self.amount:.2f}",
            "amountTotal": f"{self.amount:.2f}",
            "status": self.status,
            "created": self.created,
            "response": {
                "approved": self.approved,
                "code": self.code,
                "message": self.message,
                "processor": processor,
            },
            "settlement": {"settled": self.settled},
            "vault": {"type": "CARD", "accountType": self.brand, "lastFour": self.last4},
        }

    def result(self) -> JsonObject:
        out: JsonObject = {
            "transactionId": self.transaction_id,
            "status": "APPROVED" if self.approved else "DECLINED",
            "amount": f"{self.amount:.2f}",
            "cardBrand": self.brand,
            "last4": self.last4,
            "message": self.message,
        }
        if self.approval_code:
            out["approvalCode"] = self.approval_code
        return out


@dataclass
class _Request:
    request_id: str
    kind: Literal["payment", "read"]
    terminal_id: int
    amount: Decimal | None
    show_receipt_prompt: bool
    created: str
    status: str = "CONNECTING"
    stage: Stage = "connecting"
    transaction_id: int | None = None
    track: str | None = None
    card: dict[str, str] | None = None
    outcome: str | None = None  # control override: approve | decline
    ended_by: str | None = None
    last_poll: float | None = None
    polls: int = 0
    timer: TimerHandle | None = None

    def cancel_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def to_json(self) -> JsonObject:
        return {
            "requestId": self.request_id,
            "kind": self.kind,
            "terminalId": self.terminal_id,
            "amount": None if self.amount is None else f"{self.amount:.2f}",
            "showReceiptPrompt": self.show_receipt_prompt,
            "status": self.status,
            "stage": self.stage,
            "transactionId": self.transaction_id,
            "ended_by": self.ended_by,
            "polls": self.polls,
            "created": self.created,
        }


@dataclass
class _Terminal:
    online: bool = True
    busy: bool = False  # running something the API did not start
    current: str | None = None  # the request it runs


class _FieldErrors(Exception):
    """A PayJunction validation error: HTTP status and ``errors`` entries."""

    def __init__(self, status: int, *errors: JsonObject) -> None:
        super().__init__(errors[0].get("message") if errors else "error")
        self.status = status
        self.errors = errors


def _field_error(parameter: str, message: str, kind: str = "invalid") -> _FieldErrors:
    return _FieldErrors(400, {"message": message, "parameter": parameter, "type": kind})


class PayJunctionSim(SimService):
    """The PayJunction Smart Terminal API and its control routes."""

    name = "payjunction"
    prefix = "/payjunction"

    def __init__(
        self,
        clock: Clock,
        callbacks: CallbackDispatcher,
        config: PayJunctionConfig | None = None,
    ) -> None:
        self._clock = clock
        self._callbacks = callbacks
        self._initial = config or PayJunctionConfig()
        self._init_state()

    def _init_state(self) -> None:
        self.config = self._initial
        self._webhook_url = self.config.webhook_url
        self._webhook_secret = self.config.webhook_secret
        self._terminal = _Terminal()
        self._requests: dict[str, _Request] = {}
        self._transactions: dict[int, _Transaction] = {}
        self._next_transaction = self.config.first_transaction_id

    # -- SimService -----------------------------------------------------------
    def reset(self) -> None:
        self._cancel_timers()
        self._init_state()

    async def aclose(self) -> None:
        self._cancel_timers()

    def _cancel_timers(self) -> None:
        for request in self._requests.values():
            request.cancel_timer()

    def error_response(self, status: int, error: str, message: str) -> web.Response:
        return json_response({"errors": [{"message": message, "type": error}]}, status=status)

    def snapshot(self) -> JsonObject:
        return {
            "config": self.config.to_json(),
            "webhook_url": self._webhook_url,
            "terminal": {
                "online": self._terminal.online,
                "busy": self._terminal.busy,
                "current": self._terminal.current,
            },
            "requests": [r.to_json() for r in self._requests.values()],
            "transactions": [t.to_json() for t in self._transactions.values()],
        }

    # -- helpers --------------------------------------------------------------
    def _iso_now(self) -> str:
        stamp = datetime.fromtimestamp(round(self._clock.time(), 3), tz=UTC)
        return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"

    def _sign(self, body: bytes) -> Mapping[str, str]:
        digest = hmac_sha256_hex(body, self._webhook_secret)
        return {"X-Pj-Signature": digest}

    def _status_json(self, request: _Request, *, with_result: bool) -> JsonObject:
        out: JsonObject = {"requestId": request.request_id, "status": request.status}
        if request.transaction_id is not None:
            out["transactionId"] = request.transaction_id
        if with_result and request.status == "COMPLETE":
            if request.kind == "read" and request.track is not None:
                out["result"] = {"track": request.track}
            elif request.transaction_id is not None:
                out["result"] = self._transactions[request.transaction_id].result()
        return out

    def _set_status(self, request: _Request, status: str) -> None:
        request.status = status
        payload: JsonObject = {
            "created": self._iso_now(),
            "data": self._status_json(request, with_result=False),
            "id": str(uuid.uuid4()),
            "type": WEBHOOK_TYPE,
        }
        self._callbacks.send(
            self.name, self._webhook_url, payload, event=WEBHOOK_TYPE, signer=self._sign
        )

    def _running(self) -> _Request | None:
        current = self._terminal.current
        return None if current is None else self._requests.get(current)

    # -- request life cycle ---------------------------------------------------
    def _start(self, request: _Request, *, interrupt: bool) -> None:
        self._requests[request.request_id] = request
        running = self._running()
        if self._terminal.busy or (running is not None and not interrupt):
            request.stage = "done"
            request.ended_by = "busy"
            self._set_status(request, "BUSY")
            return
        if running is not None:
            self._end_from_main(running, reason="interrupted")
        self._set_status(request, "CONNECTING")
        if self._terminal.online:
            self._connect(request)
        else:
            request.timer = self._clock.call_later(
                self.config.connect_timeout_s, lambda: self._no_connection(request)
            )

    def _connect(self, request: _Request) -> None:
        request.cancel_timer()
        if self._terminal.busy or self._running() is not None:
            request.stage = "done"
            request.ended_by = "busy"
            self._set_status(request, "BUSY")
            return
        self._terminal.current = request.request_id
        request.stage = "waiting"
        request.timer = self._clock.call_later(
            self.config.request_timeout_s, lambda: self._complete(request, "timeout")
        )
        self._set_status(request, "IN_PROGRESS")

    def _no_connection(self, request: _Request) -> None:
        request.timer = None
        if request.stage != "connecting":
            return
        request.stage = "done"
        request.ended_by = "no_connection"
        self._set_status(request, "NO_CONNECTION")

    def _complete(self, request: _Request, reason: str) -> None:
        if request.stage == "done":
            return
        request.cancel_timer()
        request.stage = "done"
        request.ended_by = reason
        if self._terminal.current == request.request_id:
            self._terminal.current = None
        self._set_status(request, "COMPLETE")

    def _read_card(self, request: _Request, card: dict[str, str], outcome: str | None) -> None:
        request.cancel_timer()
        request.card = card
        request.outcome = outcome
        request.stage = "card_read"

    def _authorise(self, request: _Request) -> _Transaction:
        assert request.amount is not None
        assert request.card is not None
        cents = int((request.amount * 100) % 100)
        trigger = DECLINE_TRIGGERS.get(cents)
        if request.outcome == "approve":
            trigger = None
        elif request.outcome == "decline" and trigger is None:
            trigger = DECLINE_TRIGGERS[5]
        approved = trigger is None
        code, message = trigger or ("00", "Approved")
        tx = _Transaction(
            transaction_id=self._next_transaction,
            terminal_id=request.terminal_id,
            amount=request.amount,
            approved=approved,
            code=code,
            message=message,
            approval_code=("PJ" + f"{secrets.randbelow(10_000):04d}") if approved else None,
            brand=request.card["brand"],
            last4=request.card["last4"],
            request_id=request.request_id,
            created=self._iso_now(),
            status="CAPTURE" if approved else "DECLINED",
        )
        self._next_transaction += 1
        self._transactions[tx.transaction_id] = tx
        request.transaction_id = tx.transaction_id
        self._set_status(request, "IN_PROGRESS")
        if request.show_receipt_prompt:
            request.stage = "receipt"
            request.timer = self._clock.call_later(
                self.config.receipt_timeout_s, lambda: self._complete(request, "receipt_timeout")
            )
        else:
            self._complete(request, "customer")
        return tx

    def _end_from_main(self, request: _Request, *, reason: str) -> None:
        """``main`` (or an interrupting request): too late to cancel once a card was read."""
        if request.stage == "card_read":
            self._authorise(request)
        self._complete(request, reason)

    # -- auth and parsing -------------------------------------------------------
    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        login = password = ""
        if scheme.lower() == "basic":
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            login, _, password = decoded.partition(":")
        key = request.headers.get("X-PJ-Application-Key", "")
        ok = (
            secrets.compare_digest(login.encode(), self.config.login.encode())
            & secrets.compare_digest(password.encode(), self.config.password.encode())
            & secrets.compare_digest(key.encode(), self.config.application_key.encode())
        )
        if not ok:
            raise _FieldErrors(
                401,
                {
                    "message": "Invalid login, password or application key.",
                    "type": "unauthorized",
                },
            )

    def _smart_terminal(self, request: web.Request) -> None:
        if request.match_info.get("smart_terminal_id") != self.config.smart_terminal_id:
            raise _FieldErrors(
                404,
                {
                    "message": "Smart Terminal not found.",
                    "parameter": "smartTerminalId",
                    "type": "invalid",
                },
            )

    async def _form(self, request: web.Request) -> Mapping[str, str]:
        form = await request.post()
        return {k: v for k, v in form.items() if isinstance(v, str)}

    def _terminal_id(self, form: Mapping[str, str]) -> int:
        raw = form.get("terminalId", "").strip()
        if not raw:
            raise _field_error("terminalId", "This field is required.", "required")
        if not raw.isascii() or not raw.isdigit() or int(raw) not in self.config.terminal_ids:
            raise _field_error("terminalId", UNKNOWN_TERMINAL)
        return int(raw)

    @staticmethod
    def _flag(form: Mapping[str, str], name: str, default: bool) -> bool:
        raw = form.get(name)
        if raw is None or raw == "":
            return default
        if raw.lower() not in ("true", "false"):
            raise _field_error(name, "Must be true or false.")
        return raw.lower() == "true"

    # -- API --------------------------------------------------------------------
    async def request_payment(self, request: web.Request) -> web.Response:
        self._smart_terminal(request)
        form = await self._form(request)
        terminal_id = self._terminal_id(form)
        raw = form.get("amountBase", "").strip()
        if not raw:
            raise _field_error("amountBase", "This field is required.", "required")
        if not AMOUNT_RE.fullmatch(raw) or not raw.isascii():
            raise _field_error("amountBase", "Invalid amount: use digits with up to 2 decimals.")
        amount = Decimal(raw)
        if amount <= 0:
            raise _field_error("amountBase", "Amount must be greater than zero.")
        show_receipt = self._flag(form, "showReceiptPrompt", True)
        interrupt = self._flag(form, "interruptBusyTerminal", False)
        pj_request = _Request(
            request_id=str(uuid.uuid4()),
            kind="payment",
            terminal_id=terminal_id,
            amount=amount,
            show_receipt_prompt=show_receipt,
            created=self._iso_now(),
        )
        self._start(pj_request, interrupt=interrupt)
        return json_response({"requestPaymentId": pj_request.request_id})

    async def request_read(self, request: web.Request) -> web.Response:
        self._smart_terminal(request)
        form = await self._form(request)
        terminal_id = self._terminal_id(form)
        interrupt = self._flag(form, "interruptBusyTerminal", False)
        pj_request = _Request(
            request_id=str(uuid.uuid4()),
            kind="read",
            terminal_id=terminal_id,
            amount=None,
            show_receipt_prompt=False,
            created=self._iso_now(),
        )
        self._start(pj_request, interrupt=interrupt)
        return json_response({"requestId": pj_request.request_id})

    async def request_status(self, request: web.Request) -> web.Response:
        self._smart_terminal(request)
        pj_request = self._requests.get(request.match_info["request_id"])
        if pj_request is None:
            raise _FieldErrors(404, {"message": "Request not found.", "type": "not_found"})
        now = self._clock.monotonic()
        if (
            pj_request.last_poll is not None
            and now - pj_request.last_poll < self.config.min_poll_interval_s - 1e-6
        ):
            raise _FieldErrors(
                429,
                {
                    "message": "Too many requests: poll a request at most every "
                    f"{self.config.min_poll_interval_s:g} s.",
                    "type": "rate_limited",
                },
            )
        pj_request.last_poll = now
        pj_request.polls += 1
        return json_response(self._status_json(pj_request, with_result=True))

    async def main(self, request: web.Request) -> web.Response:
        self._smart_terminal(request)
        running = self._running()
        if running is not None:
            self._end_from_main(running, reason="main")
        return json_response({})

    def _transaction(self, request: web.Request) -> _Transaction:
        raw = request.match_info["transaction_id"]
        tx = self._transactions.get(int(raw)) if raw.isascii() and raw.isdigit() else None
        if tx is None:
            raise _FieldErrors(404, {"message": "Transaction not found.", "type": "not_found"})
        return tx

    async def get_transaction(self, request: web.Request) -> web.Response:
        return json_response(self._transaction(request).to_json())

    async def update_transaction(self, request: web.Request) -> web.Response:
        tx = self._transaction(request)
        form = await self._form(request)
        status = form.get("status", "").strip().upper()
        if not status:
            raise _field_error("status", "This field is required.", "required")
        if status != "VOID":
            raise _field_error("status", "Only VOID is supported here.")
        if tx.status == "DECLINED":
            raise _field_error("status", "A declined transaction cannot be voided.")
        if tx.settled and tx.status != "VOID":
            raise _field_error("status", "A settled transaction cannot be voided; refund it.")
        tx.status = "VOID"
        return json_response(tx.to_json())

    def build_app(self) -> web.Application:
        @web.middleware
        async def pj_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
            try:
                self._authenticate(request)
                return await handler(request)
            except _FieldErrors as exc:
                return json_response({"errors": list(exc.errors)}, status=exc.status)

        app = web.Application(middlewares=[pj_errors])
        r = app.router
        base = "/smartterminals/{smart_terminal_id}"
        r.add_post(f"{base}/request-payment", self.request_payment)
        r.add_post(f"{base}/request-read", self.request_read)
        r.add_get(f"{base}/requests/{{request_id}}", self.request_status)
        r.add_post(f"{base}/main", self.main)
        r.add_get("/transactions/{transaction_id}", self.get_transaction)
        r.add_put("/transactions/{transaction_id}", self.update_transaction)
        return app

    # -- control API ------------------------------------------------------------
    def build_control_app(self) -> web.Application:
        app = web.Application()
        routes: list[tuple[str, str, Handler]] = [
            ("GET", "/state", self.ctl_state),
            ("GET", "/events", self.ctl_events),
            ("POST", "/reset", self.ctl_reset),
            ("POST", "/config", self.ctl_config),
            ("POST", "/webhook", self.ctl_webhook),
            ("POST", "/terminal", self.ctl_terminal),
            ("POST", "/terminal/present", self.ctl_present),
            ("POST", "/terminal/authorise", self.ctl_authorise),
            ("POST", "/terminal/red-x", self.ctl_red_x),
            ("POST", "/terminal/receipt", self.ctl_receipt),
            ("POST", "/terminal/swipe", self.ctl_swipe),
            ("POST", "/transactions/{transaction_id}/settle", self.ctl_settle),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        return app

    def _ctl_ok(self, **fields: Any) -> web.Response:
        return json_response({"success": True, **fields})

    def _ctl_running(self, kind: str, stages: tuple[Stage, ...], action: str) -> _Request:
        running = self._running()
        if running is None or running.kind != kind or running.stage not in stages:
            what = "nothing" if running is None else f"a {running.kind} request ({running.stage})"
            raise SimError(
                409, "terminal_wrong_state", f"Cannot {action}: the terminal runs {what}"
            )
        return running

    async def ctl_state(self, request: web.Request) -> web.Response:
        return self._ctl_ok(**self.snapshot())

    async def ctl_events(self, request: web.Request) -> web.Response:
        return self._ctl_ok(events=self._callbacks.events(self.name))

    async def ctl_reset(self, request: web.Request) -> web.Response:
        self.reset()
        return self._ctl_ok(message="PayJunction simulator reset")

    async def ctl_config(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        names = (
            "min_poll_interval_s",
            "connect_timeout_s",
            "request_timeout_s",
            "receipt_timeout_s",
        )
        reject_unknown(body, set(names))
        changes: dict[str, Any] = {}
        for name in names:
            seconds = body_seconds(body, name, positive=name != "min_poll_interval_s")
            if seconds is not None:
                changes[name] = seconds
        self.config = dataclasses.replace(self.config, **changes)
        return self._ctl_ok(config=self.config.to_json())

    async def ctl_webhook(self, request: web.Request) -> web.Response:
        """Set (``url: null`` removes) the SMARTTERMINAL_REQUEST webhook URL and its secret."""
        body = await read_json_object(request)
        reject_unknown(body, {"url", "secret"})
        self._webhook_url = body_callback_url(body, "url")
        secret = body_str(body, "secret")
        if secret:
            self._webhook_secret = secret
        return self._ctl_ok(webhook_url=self._webhook_url)

    async def ctl_terminal(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"online", "busy"})
        busy = body_bool(body, "busy")
        if busy is not None:
            self._terminal.busy = busy
        online = body_bool(body, "online")
        if online is not None:
            self._terminal.online = online
            if online:
                for pending in list(self._requests.values()):
                    if pending.stage == "connecting":
                        self._connect(pending)
        return self._ctl_ok(terminal=self.snapshot()["terminal"])

    async def ctl_present(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"brand", "last4", "outcome", "authorise"})
        brand = body_str(body, "brand") or DEFAULT_CARD["brand"]
        last4 = body_str(body, "last4") or DEFAULT_CARD["last4"]
        if len(last4) != 4 or not last4.isascii() or not last4.isdigit():
            raise SimError(422, "invalid_request", "'last4' must be 4 digits")
        outcome = body.get("outcome")
        if outcome not in (None, "approve", "decline"):
            raise SimError(422, "invalid_request", "'outcome' must be 'approve', 'decline' or null")
        authorise = body_bool(body, "authorise")
        running = self._ctl_running("payment", ("waiting",), "present a card")
        self._read_card(running, {"brand": brand, "last4": last4}, outcome)
        tx = None if authorise is False else self._authorise(running)
        return self._ctl_ok(
            request=running.to_json(), transaction=None if tx is None else tx.to_json()
        )

    async def ctl_authorise(self, request: web.Request) -> web.Response:
        running = self._ctl_running("payment", ("card_read",), "authorise")
        tx = self._authorise(running)
        return self._ctl_ok(request=running.to_json(), transaction=tx.to_json())

    async def ctl_red_x(self, request: web.Request) -> web.Response:
        running = self._running()
        if running is None or running.stage not in ("waiting", "receipt"):
            raise SimError(
                409, "terminal_wrong_state", "The red X does nothing now (no card prompt shown)"
            )
        self._complete(running, "red_x")
        return self._ctl_ok(request=running.to_json())

    async def ctl_receipt(self, request: web.Request) -> web.Response:
        running = self._ctl_running("payment", ("receipt",), "answer the receipt prompt")
        self._complete(running, "customer")
        return self._ctl_ok(request=running.to_json())

    async def ctl_swipe(self, request: web.Request) -> web.Response:
        body = await read_json_object(request, empty_ok=True)
        reject_unknown(body, {"format", "track"})
        track = body_str(body, "track")
        fmt = body_str(body, "format")
        if (track is None) == (fmt is None):
            raise SimError(422, "invalid_request", "give either 'format' or 'track'")
        if fmt is not None and fmt not in SWIPE_FORMATS:
            raise SimError(422, "invalid_request", f"'format' must be one of {SWIPE_FORMATS}")
        running = self._ctl_running("read", ("waiting",), "swipe a card")
        if fmt == "red_x":
            self._complete(running, "red_x")
        else:
            running.track = track if track is not None else self._track_for(fmt or "")
            self._complete(running, "customer")
        return self._ctl_ok(request=running.to_json())

    @staticmethod
    def _track_for(fmt: str) -> str:
        if fmt == "format1":
            return FORMAT1_TRACK
        if fmt == "format2":
            return FORMAT2_TRACK
        if fmt == "iso":
            return iso_tracks()
        return GARBAGE_TRACK

    async def ctl_settle(self, request: web.Request) -> web.Response:
        try:
            tx = self._transaction(request)
        except _FieldErrors as exc:
            raise SimError(404, "not_found", "No such transaction") from exc
        tx.settled = True
        return self._ctl_ok(transaction=tx.to_json())


def build(clock: Clock, callbacks: CallbackDispatcher) -> SimService:
    return PayJunctionSim(clock, callbacks)


__all__ = [
    "DECLINE_TRIGGERS",
    "FORMAT1_TRACK",
    "FORMAT2_TRACK",
    "GARBAGE_TRACK",
    "PayJunctionConfig",
    "PayJunctionSim",
    "build",
    "iso_tracks",
]
