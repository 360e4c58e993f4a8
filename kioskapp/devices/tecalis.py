"""Async client for the Tecalis kiosk hardware API: session, bill reader, PIN pad,
card dispenser, barcode reader, printer, scanner and the integrator methods.

Contract: the Tecalis kiosk API reference. What the vendor documents and what
we assume where it is silent, all in this one module:

- (doc) Two token levels: integrator JWT from ``POST /api/auth`` for
  ``session/start`` and ``/api/kiosk/{id}/...``; session JWT from
  ``session/start`` for ``/api/session/...``. A session must be closed before
  a new one opens.
- (assumed) Auth body ``{"username","password"}``; errors are HTTP 4xx/5xx
  with ``{"success":false,"message","error":<code>,"request_id"}``; 401 for a
  missing/invalid/expired token (codes ``token_missing``, ``token_invalid``,
  ``token_expired``, ``session_closed``), 403 ``wrong_token_level``, 409
  ``session_already_open`` for a second session.
- (assumed) A session whose token expired has been ended by the device (its
  escrow note returned). A 401 proves the request did nothing, so after a 401
  the client re-authenticates or opens a new session and repeats the request
  once, whatever it was, and reports :class:`SessionRenewed`.
- (assumed) ``success`` may come as ``true`` or ``"true"``; extra fields are
  ignored; unknown device states are reported as ``"unknown"``.
- (assumed) Bill-reader status ``{"state","escrow":{"amount","since"}|null,
  "stacked_total"}``, ``stacked_total`` counted since ``bill-reader/open``;
  the ``bill.escrow`` callback's ``timestamp`` equals that note's ``since``.
- (assumed) The PIN pad is one device whatever the session: ``tpv/status``
  reports the current or last payment until the next ``tpv/prepare``, and a
  payment already processing outlives the session that started it.
- (assumed) Callbacks ``{"event","session_id","request_id","timestamp",...}``
  with events ``bill.escrow|bill.stacked|bill.returned|bill.jam|bill.full|
  tpv.status|tpv.result``; they can be lost, doubled, late or out of order.

Events: callbacks and status polls feed one ordered stream
(:meth:`TecalisClient.events`). The device's status is the truth: a callback
is a hint to poll now (plus facts a poll cannot see, like why a note came
back); events are derived by comparing each status with the last one, so a
lost callback is caught by the next poll and a doubled or late one produces
nothing new.

Retries: status reads, barcode reads, scans, closes and auth are repeated on
timeouts, connection errors and 5xx with capped backoff. Accept, reject,
open, prepare, dispense, discard, print and restarts are never repeated
blindly: a timeout there surfaces to the caller, who asks the device's status.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx
import jwt

from kioskapp.core.clock import Clock, SystemClock
from kioskapp.core.money import Money, dumps_json, to_tecalis
from kioskapp.devices.errors import (
    ApiError,
    AuthError,
    ConflictError,
    ProtocolError,
    ServiceError,
    ServiceUnavailable,
    error_class_for_status,
)
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.http import (
    NO_RETRY,
    Fields,
    RetryPolicy,
    decode_json,
    is_true,
    transport_error,
    with_retries,
)
from kioskapp.devices.tecalis_models import (
    SERVICE,
    BillReaderChanged,
    BillReaderStatus,
    DeviceEvent,
    DispenserStatus,
    EscrowNote,
    EventSource,
    KioskStatus,
    NoteEscrowed,
    NoteOutcomeUnknown,
    NoteReturned,
    NoteStacked,
    PrinterStatus,
    ReturnReason,
    ScannedImage,
    SessionInfo,
    SessionRenewed,
    TpvFinished,
    TpvStateChanged,
    TpvStatus,
    parse_amount,
    parse_scan,
    pdf_data_url,
)

log = logging.getLogger(__name__)

TokenLevel = Literal["none", "integrator", "session"]
RestartableDevice = Literal["printer", "dispenser", "scanner"]

#: Where the kiosk's callback receiver takes this client's device callbacks.
CALLBACK_PATH = "/callbacks/tecalis"

#: Answers that carry tokens: never quoted in error messages.
_TOKEN_PATHS = frozenset({"/api/auth", "/api/session/start"})

#: 401 codes after which a fresh token and one repetition of the request are due.
_RENEWABLE_AUTH_CODES = frozenset({"token_expired", "session_closed", "token_invalid"})


# -- errors callers branch on --------------------------------------------------


class SessionAlreadyOpen(ConflictError):
    """A session this client cannot close is open on the kiosk."""


class BillReaderJammed(ConflictError):
    pass


class CashBoxFull(ConflictError):
    pass


class NoNoteInEscrow(ConflictError):
    pass


class BillReaderClosed(ConflictError):
    pass


class TpvBusy(ConflictError):
    pass


class TpvNotCancellable(ConflictError):
    pass


class HopperEmpty(ConflictError):
    pass


class DispenserJammed(ConflictError):
    pass


class NoCardPrepared(ConflictError):
    pass


class CardAlreadyPrepared(ConflictError):
    pass


class BarcodeUnreadable(ApiError):
    pass


class PaperOut(ConflictError):
    pass


class DeviceOffline(ApiError):
    retryable = False


class NoSession(ServiceError):
    """No session is open and this call may not open one (e.g. a poll racing a close)."""


_CODE_ERRORS: dict[str, type[ApiError]] = {
    "session_already_open": SessionAlreadyOpen,
    "bill_reader_jammed": BillReaderJammed,
    "cash_box_full": CashBoxFull,
    "no_note_in_escrow": NoNoteInEscrow,
    "bill_reader_closed": BillReaderClosed,
    "tpv_busy": TpvBusy,
    "tpv_not_cancellable": TpvNotCancellable,
    "hopper_empty": HopperEmpty,
    "dispenser_jammed": DispenserJammed,
    "no_card_prepared": NoCardPrepared,
    "card_already_prepared": CardAlreadyPrepared,
    "barcode_unreadable": BarcodeUnreadable,
    "paper_out": PaperOut,
    "scanner_offline": DeviceOffline,
    "printer_offline": DeviceOffline,
    "dispenser_offline": DeviceOffline,
    "bill_reader_offline": DeviceOffline,
    "tpv_offline": DeviceOffline,
    "device_offline": DeviceOffline,
}


def api_error(status: int, body: object) -> ApiError:
    """The typed error for an HTTP error answer (body: decoded JSON or None)."""
    message = f"HTTP {status}"
    code = request_id = None
    if isinstance(body, Mapping):
        if isinstance(body.get("message"), str):
            message = body["message"]
        if isinstance(body.get("error"), str):
            code = body["error"]
        if isinstance(body.get("request_id"), str):
            request_id = body["request_id"]
    else:
        message = f"HTTP {status} with a non-JSON body"
    cls = _CODE_ERRORS.get(code or "") or error_class_for_status(status)
    return cls(message, service=SERVICE, status=status, code=code, request_id=request_id)


def parse_answer(
    status: int, body: bytes, *, what: str, sensitive: bool = False
) -> Mapping[str, Any]:
    """Turn one HTTP answer into its JSON object or the typed error it stands for.

    ``sensitive`` answers (they carry tokens) are never quoted in errors.
    """
    if status >= 400:
        try:
            decoded: object = decode_json(body, service=SERVICE, what=what, status=status)
        except ProtocolError:
            decoded = None
        raise api_error(status, decoded)
    if not 200 <= status < 300:
        raise ProtocolError(f"{what}: unexpected HTTP {status}", service=SERVICE, status=status)
    data = decode_json(body, service=SERVICE, what=what, status=status, preview=not sensitive)
    f = Fields(data, service=SERVICE, what=what)
    if not is_true(f.data.get("success")):
        err = api_error(status, data)
        err.message = f"{what}: success is not true: {err.message}"
        raise err
    return f.data


# -- session token persistence --------------------------------------------------


class SessionTokenStore(Protocol):
    """Where the open session's token is kept, so a restarted app can close it."""

    def load(self) -> str | None: ...

    def save(self, token: str | None) -> None: ...


class MemoryTokenStore:
    def __init__(self) -> None:
        self._token: str | None = None

    def load(self) -> str | None:
        return self._token

    def save(self, token: str | None) -> None:
        self._token = token


class FileTokenStore:
    """Keeps the session token in a file readable by the kiosk user only (0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> str | None:
        try:
            token = self.path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("cannot read the saved Tecalis session token at %s: %s", self.path, exc)
            return None
        return token or None

    def save(self, token: str | None) -> None:
        if token is None:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(token)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)


def token_expiry(token: str, *, what: str) -> float:
    """The ``exp`` claim of a JWT (read, not verified: the device holds the key)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError as exc:
        raise ProtocolError(f"{what}: token is not a readable JWT", service=SERVICE) from exc
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        raise ProtocolError(f"{what}: token has no numeric 'exp' claim", service=SERVICE)
    try:
        value = float(exp)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise ProtocolError(f"{what}: token 'exp' claim is not a finite time", service=SERVICE)
    return value


# -- event derivation (pure: no I/O, tested directly) ---------------------------


#: Bill-reader states in which a note that left escrow is settled: stacked or back out.
_SETTLED_STATES = frozenset({"ready", "closed", "idle", "full"})


class BillReaderTracker:
    """Derives bill-reader events from successive status snapshots.

    A note is identified by its escrow ``since`` time, so the same snapshot
    seen twice, or a callback for something a poll already revealed, yields
    nothing new. A note that left escrow while the reader is stacking, jammed
    or in an unknown state stays pending until a later snapshot settles it:
    it is never guessed to be returned.
    """

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.reset()

    def reset(self) -> None:
        self.escrow: EscrowNote | None = None
        self.stacked_total = Money.zero(self.currency)
        self.state: str = "idle"
        self.rejecting = False
        self.accepting = False
        self.return_hint: ReturnReason | None = None

    def apply(self, status: BillReaderStatus) -> list[dict[str, Any]]:
        """Compare ``status`` with what is known; return the new events as kwargs."""
        events: list[dict[str, Any]] = []
        old, new, total = self.escrow, status.escrow, status.stacked_total
        if total < self.stacked_total:
            # The device counts from zero again (a fresh bill-reader open).
            self.stacked_total = Money.zero(self.currency)
        stacked_delta = total - self.stacked_total
        pending: EscrowNote | None = None
        if old is not None and (new is None or new.since != old.since):
            if stacked_delta >= old.amount:
                events.append({"type": NoteStacked, "amount": old.amount, "stacked_total": total})
                stacked_delta -= old.amount
                self._settled()
            elif status.state in _SETTLED_STATES or new is not None:
                events.append(
                    {"type": NoteReturned, "amount": old.amount, "reason": self._return_reason()}
                )
                self._settled()
            else:
                pending = old  # stacking, jammed or unknown: not decided yet
        if stacked_delta.minor > 0:
            # Stacked without us seeing the escrow (e.g. after a restart): still money taken.
            events.append({"type": NoteStacked, "amount": stacked_delta, "stacked_total": total})
        if new is not None and (old is None or new.since != old.since) and status.state != "jammed":
            events.append({"type": NoteEscrowed, "amount": new.amount, "since": new.since})
        faults = ("jammed", "full")
        if status.state != self.state and (status.state in faults or self.state in faults):
            # Into or out of a fault: the flow must stop or may resume taking notes.
            inside = new or pending
            stuck = inside.amount if (status.state == "jammed" and inside is not None) else None
            events.append({"type": BillReaderChanged, "state": status.state, "stuck_note": stuck})
        self.escrow = new if new is not None else pending
        self.stacked_total = total
        self.state = status.state
        return events

    def accepted(self, answer: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The device answered an accept with success: the note in escrow is stacked."""
        self.accepting = False
        note = self.escrow
        if note is None:
            return []  # a poll already reported it
        total = self.stacked_total + note.amount
        with contextlib.suppress(ProtocolError):
            fields = Fields(answer, service=SERVICE, what="bill-reader accept")
            if fields.has("stacked_total"):
                total = parse_amount(fields, "stacked_total", self.currency)
        self.escrow = None
        self.stacked_total = total
        self._settled()
        return [{"type": NoteStacked, "amount": note.amount, "stacked_total": total}]

    def session_ended(self) -> list[dict[str, Any]]:
        """The session is gone; say what became of a note that was in escrow."""
        note, self.escrow = self.escrow, None
        if note is None:
            return []
        if self.accepting or self.state not in _SETTLED_STATES | {"escrow"}:
            # An accept whose answer was lost, or a jam: only staff can tell.
            event = {"type": NoteOutcomeUnknown, "amount": note.amount, "reason": "session_ended"}
        else:
            event = {"type": NoteReturned, "amount": note.amount, "reason": "session_ended"}
        self.reset()
        return [event]

    def _return_reason(self) -> ReturnReason:
        if self.rejecting:
            return "rejected"
        if self.return_hint is not None:
            return self.return_hint
        return "unknown" if self.state == "jammed" else "timeout"

    def _settled(self) -> None:
        self.rejecting = False
        self.accepting = False
        self.return_hint = None


class TpvTracker:
    """Derives PIN-pad events from successive status snapshots of one payment.

    Until the device confirms the prepare (its answer, or an active state in a
    status), a final or idle state may belong to an earlier payment and is not
    taken as this payment's result.
    """

    def __init__(self) -> None:
        self.active = False
        self.confirmed = False
        self.state: str | None = None

    def start(self) -> None:
        self.active = True
        self.confirmed = False
        self.state = None

    def confirm(self) -> None:
        """The device accepted the prepare: whatever a poll concluded meanwhile, follow it."""
        self.active = True
        self.confirmed = True

    def apply(self, status: TpvStatus) -> list[dict[str, Any]]:
        if not self.active:
            return []
        if not self.confirmed:
            if status.is_final or status.state in ("idle", "unknown"):
                self.active = False  # the prepare never took: nothing of ours runs
                return []
            self.confirmed = True
        events: list[dict[str, Any]] = []
        if status.state != self.state:
            self.state = status.state
            events.append({"type": TpvStateChanged, "state": status.state})
        if status.is_final:
            self.active = False
            events.append({"type": TpvFinished, "status": status})
        return events


# -- the client -----------------------------------------------------------------


@dataclass(frozen=True)
class TecalisTimeouts:
    """Seconds per call; printing and scanning are slow mechanical operations."""

    default: float = 5.0
    connect: float = 2.0
    print: float = 30.0
    scan: float = 20.0


EventKind = type[DeviceEvent]


class TecalisClient:
    """One owner for all traffic to the kiosk hardware.

    Create it, ``await client.start_session()`` (or let the first session call
    do it), use the device methods, read :meth:`events`, and ``await
    client.aclose()`` at the end (it closes the session and anything it
    created, not an injected ``http`` client).
    """

    def __init__(
        self,
        base_url: str,
        *,
        username: str,
        password: str,
        kiosk_id: str,
        currency: str = "EUR",
        kiosk_token: str | None = None,
        record: bool = False,
        http: httpx.AsyncClient | None = None,
        timeouts: TecalisTimeouts | None = None,
        retry: RetryPolicy | None = None,
        clock: Clock | None = None,
        callback_url: str | None = None,
        poll_interval_s: float = 1.0,
        refresh_margin_s: float = 300.0,
        token_store: SessionTokenStore | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._username = username
        self._password = password
        self.kiosk_id = kiosk_id
        self.currency = currency
        self._kiosk_token = kiosk_token or None
        self._record = record
        self.timeouts = timeouts or TecalisTimeouts()
        self._retry = retry or RetryPolicy()
        self.clock: Clock = clock or SystemClock()
        self.callback_url = callback_url
        self.poll_interval_s = poll_interval_s
        self.refresh_margin_s = refresh_margin_s
        self._store: SessionTokenStore = token_store or MemoryTokenStore()
        self._own_http = http is None
        self._http = http or httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeouts.default, connect=self.timeouts.connect)
        )
        self.health = ServiceHealth(SERVICE)

        self._integrator_token: str | None = None
        self._integrator_exp = 0.0
        self._session: SessionInfo | None = None
        self._session_token: str | None = None
        self._auth_lock = asyncio.Lock()
        self._session_lock = asyncio.Lock()
        self._holds = 0

        self._bill = BillReaderTracker(currency)
        self._bill_open = False
        self._tpv = TpvTracker()
        self._poll_lock = asyncio.Lock()
        self._watch_task: asyncio.Task[None] | None = None
        self._events: asyncio.Queue[DeviceEvent] = asyncio.Queue()
        self._seq = 0
        self._seen_callbacks: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        # Sessions this client opened: a late callback of an earlier one still counts.
        self._session_ids: deque[str] = deque(maxlen=8)
        self._callback_lock = asyncio.Lock()
        self._closed = False

    # -- lifecycle ------------------------------------------------------------
    async def __aenter__(self) -> TecalisClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop polling, close the session if one is open, release what we created."""
        if self._closed:
            return
        self._closed = True
        async with self._callback_lock:  # let a callback being handled finish
            pass
        await self._stop_watch()
        if self._session_token is not None:
            try:
                await self.close_session()
            except ServiceError as exc:
                log.warning("could not close the Tecalis session on shutdown: %s", exc)
        if self._own_http:
            await self._http.aclose()

    async def detach(self) -> None:
        """Stop background work and drop connections, leaving the session open on the
        device: exactly what a crash leaves behind (for crash tests)."""
        self._closed = True
        async with self._callback_lock:  # let a callback being handled finish
            pass
        await self._stop_watch()
        if self._own_http:
            await self._http.aclose()

    # -- low level ------------------------------------------------------------
    async def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        token: str | None,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> Mapping[str, Any]:
        headers = {"Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        content = None
        if body is not None:
            content = dumps_json(body).encode()
            headers["Content-Type"] = "application/json"
        t = timeout or self.timeouts.default
        try:
            resp = await self._http.request(
                method,
                self.base_url + path,
                content=content,
                headers=headers,
                timeout=httpx.Timeout(t, connect=min(t, self.timeouts.connect)),
            )
        except httpx.RequestError as exc:
            err = transport_error(exc, service=SERVICE, what=what)
            self.health.record_error(err, self.clock.time())
            raise err from exc
        try:
            data = parse_answer(
                resp.status_code, resp.content, what=what, sensitive=path in _TOKEN_PATHS
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
        level: TokenLevel,
        what: str,
        body: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        safe: bool,
        may_open: bool = True,
    ) -> Mapping[str, Any]:
        """One API call with the right token; renews an expired token once; retries if safe.

        ``may_open=False`` (status polls): never open a session for this call.
        """

        async def attempt() -> Mapping[str, Any]:
            token = await self._token_for(level, may_open=may_open)
            try:
                return await self._send(
                    method, path, what=what, token=token, body=body, timeout=timeout
                )
            except AuthError as exc:
                if exc.status != 401 or exc.code not in _RENEWABLE_AUTH_CODES or level == "none":
                    raise
                # A 401 proves the request did nothing: renew, then repeat it once.
                log.info("Tecalis %s token refused (%s); renewing", level, exc.code)
                token = await self._renew(level, reason=exc.code or "401", stale=token)
                return await self._send(
                    method, path, what=what, token=token, body=body, timeout=timeout
                )

        return await with_retries(
            attempt, policy=self._retry if safe else NO_RETRY, clock=self.clock, what=what
        )

    async def _token_for(self, level: TokenLevel, *, may_open: bool = True) -> str | None:
        if level == "none":
            return None
        if level == "integrator":
            return await self._integrator()
        return await self._session_bearer(may_open=may_open)

    async def _renew(self, level: TokenLevel, *, reason: str, stale: str | None) -> str:
        if level == "integrator":
            async with self._auth_lock:
                if self._integrator_token == stale:
                    self._integrator_token = None
            return await self._integrator()
        async with self._session_lock:
            if self._session_token == stale and self._session_token is not None:
                # The device ended that session (expired): forget it, keep
                # following a card payment (the PIN pad outlives the session).
                self._forget_session(keep_payment=True)
                await self._open_session(reason=reason)
        token = self._session_token
        if token is None:
            raise NoSession("the session was closed meanwhile", service=SERVICE)
        return token

    # -- auth and session -----------------------------------------------------
    async def authenticate(self) -> None:
        """Get a fresh integrator token (also done on demand)."""
        async with self._auth_lock:
            self._integrator_token = None
        await self._integrator()

    async def _integrator(self) -> str:
        async with self._auth_lock:
            now = self.clock.time()
            if self._integrator_token is not None and self._integrator_exp - now > 30:
                return self._integrator_token
            data = await with_retries(
                lambda: self._send(
                    "POST",
                    "/api/auth",
                    what="auth",
                    token=None,
                    body={"username": self._username, "password": self._password},
                ),
                policy=self._retry,
                clock=self.clock,
                what="auth",
            )
            token = Fields(data, service=SERVICE, what="auth").text("token")
            self._integrator_exp = token_expiry(token, what="auth")
            self._integrator_token = token
            log.info("Tecalis integrator authenticated")
            return token

    @property
    def session(self) -> SessionInfo | None:
        return self._session

    @property
    def busy(self) -> bool:
        """True while a refresh would break something: bill reader open, card payment, or a hold."""
        return self._holds > 0 or self._bill_open or self._tpv.active

    @contextlib.asynccontextmanager
    async def hold_session(self) -> AsyncIterator[None]:
        """Keep the current session (no planned refresh) for the duration of the block."""
        self._holds += 1
        try:
            yield
        finally:
            self._holds -= 1

    async def start_session(self) -> SessionInfo:
        """Open a session, closing any leftover one this client knows of first."""
        async with self._session_lock:
            await self._close_leftover()
            return await self._open_session(reason="start")

    async def ensure_session(self, *, min_valid_s: float | None = None) -> SessionInfo:
        """A session that stays valid for ``min_valid_s`` (default: the refresh margin).

        Refreshes (close + start) when due, unless :attr:`busy`: a refresh
        never happens while a note may be in escrow or a card payment runs.
        """
        margin = self.refresh_margin_s if min_valid_s is None else min_valid_s
        async with self._session_lock:
            session = self._session
            if session is None:
                await self._close_leftover()
                return await self._open_session(reason="start")
            remaining = session.expires_at - self.clock.time()
            if remaining > margin:
                return session
            if self.busy:
                log.warning(
                    "Tecalis session expires in %.0fs but a payment is running; refresh deferred",
                    remaining,
                )
                return session
            log.info("Tecalis session expires in %.0fs: refreshing", remaining)
            await self._close_leftover()
            return await self._open_session(reason="refresh")

    async def _session_bearer(self, *, may_open: bool = True) -> str:
        if not may_open and self._session is None:
            raise NoSession("no session is open", service=SERVICE)
        await self.ensure_session()
        token = self._session_token
        if token is None:
            raise NoSession("the session was closed meanwhile", service=SERVICE)
        return token

    async def _close_leftover(self) -> None:
        token = self._session_token or self._store.load()
        if token is None:
            return
        try:
            await self._send("POST", "/api/session/close", what="session close", token=token)
            log.info("closed the previous Tecalis session")
        except AuthError as exc:
            # Expired or already closed: the device has ended it already.
            log.info("previous Tecalis session already ended (%s)", exc.code)
        self._forget_session()

    def _forget_session(self, *, keep_payment: bool = False) -> None:
        for event in self._bill.session_ended():
            self._emit(event.pop("type"), "client", **event)
        self._session = None
        self._session_token = None
        self._store.save(None)
        self._bill_open = False
        if not keep_payment:
            self._tpv.active = False

    async def _open_session(self, *, reason: str) -> SessionInfo:
        body: dict[str, Any] = {"record": self._record}
        if self._kiosk_token:
            body["kiosk_token"] = self._kiosk_token
        else:
            body["kiosk_id"] = self.kiosk_id

        async def start() -> Mapping[str, Any]:
            token = await self._integrator()
            try:
                return await self._send(
                    "POST", "/api/session/start", what="session start", token=token, body=body
                )
            except AuthError as exc:
                if exc.status != 401:
                    raise
                token = await self._renew("integrator", reason=exc.code or "401", stale=token)
                return await self._send(
                    "POST", "/api/session/start", what="session start", token=token, body=body
                )

        try:
            data = await start()
        except SessionAlreadyOpen as exc:
            raise SessionAlreadyOpen(
                "a session this kiosk did not open (or lost track of) is still open; it ends "
                "when its token expires, or close it from the kiosk's own console",
                service=SERVICE,
                status=exc.status,
                code=exc.code,
                request_id=exc.request_id,
            ) from exc
        f = Fields(data, service=SERVICE, what="session start")
        token = f.text("token")
        info = SessionInfo(
            session_id=f.text("session_id"),
            kiosk_id=f.opt_text("kiosk_id") or self.kiosk_id,
            expires_at=token_expiry(token, what="session start"),
            request_id=f.opt_text("request_id"),
        )
        self._store.save(token)
        self._session_ids.append(info.session_id)
        had_session = reason != "start"
        self._session, self._session_token = info, token
        log.info("Tecalis session %s open (%s)", info.session_id, reason)
        if had_session:
            self._emit(SessionRenewed, "client", session_id=info.session_id, reason=reason)
        return info

    async def close_session(self) -> None:
        """Close the session (the device returns a note in escrow and stops the PIN pad)."""
        if self._bill_open and self._session_token is not None:
            with contextlib.suppress(ServiceError):
                await self.close_bill_reader()
        async with self._session_lock:
            token = self._session_token
            if token is None:
                return
            try:
                await with_retries(
                    lambda: self._send(
                        "POST", "/api/session/close", what="session close", token=token
                    ),
                    policy=self._retry,
                    clock=self.clock,
                    what="session close",
                )
            except AuthError as exc:
                log.info("Tecalis session already ended (%s)", exc.code)
            self._forget_session()
        await self._stop_watch()

    # -- bill reader ----------------------------------------------------------
    async def open_bill_reader(self, amount_due: Money) -> None:
        """Start taking notes for ``amount_due``; events follow on :meth:`events`."""
        self._check_currency(amount_due)
        body: dict[str, Any] = {"amount": to_tecalis(amount_due)}
        if self.callback_url:
            body["callback"] = self.callback_url
        await self._call(
            "POST", "/api/session/bill-reader/open", level="session", what="bill-reader open",
            body=body, safe=False,
        )  # fmt: skip
        self._bill_open = True
        self._ensure_watch()
        await self._poll_quietly()

    @property
    def escrow_note(self) -> EscrowNote | None:
        """The note this client last saw in escrow (not yet stacked or returned)."""
        return self._bill.escrow

    async def leftover_bill_reader_status(self) -> BillReaderStatus | None:
        """After a restart: the bill reader of the session the previous run left open.

        Read with that session's saved token, without opening a session; None
        when there is no such session any more (closed or expired).
        """
        token = self._session_token or self._store.load()
        if token is None:
            return None
        try:
            data = await self._send(
                "GET", "/api/session/bill-reader/status", what="bill-reader status", token=token
            )
        except AuthError:
            return None
        return BillReaderStatus.parse(data, self.currency)

    async def bill_reader_status(self) -> BillReaderStatus:
        data = await self._call(
            "GET", "/api/session/bill-reader/status", level="session",
            what="bill-reader status", safe=True,
        )  # fmt: skip
        return BillReaderStatus.parse(data, self.currency)

    async def accept_note(self) -> None:
        """Stack the note in escrow. Never repeated blindly: on a timeout, ask the status.

        A success answer is reported as :class:`NoteStacked` at once; after an
        answer that never came, the note's fate stays open until a status
        settles it (or :class:`NoteOutcomeUnknown` if the session ends first).
        """
        self._bill.accepting = True
        try:
            answer = await self._call(
                "POST", "/api/session/bill-reader/accept", level="session",
                what="bill-reader accept", safe=False,
            )  # fmt: skip
        except ServiceError as exc:
            if isinstance(exc, ApiError) and not exc.retryable:
                self._bill.accepting = False  # a definite refusal: nothing was stacked
            await self._poll_quietly()
            raise
        async with self._poll_lock:
            for ev in self._bill.accepted(answer):
                self._emit(ev.pop("type"), "client", **ev)
        await self._poll_quietly()

    async def reject_note(self) -> None:
        """Give the note in escrow back to the customer."""
        self._bill.rejecting = True
        try:
            await self._call(
                "POST", "/api/session/bill-reader/reject", level="session",
                what="bill-reader reject", safe=False,
            )  # fmt: skip
        except ServiceError:
            self._bill.rejecting = False
            raise
        finally:
            await self._poll_quietly()

    async def close_bill_reader(self) -> None:
        """Stop taking notes (a note still in escrow is returned by the device)."""
        self._bill.rejecting = True
        try:
            await self._call(
                "POST", "/api/session/bill-reader/close", level="session",
                what="bill-reader close", safe=True,
            )  # fmt: skip
            await self._poll_quietly()
        finally:
            self._bill.rejecting = False
        # Only once the device confirmed: until then the reader may still take notes.
        self._bill_open = False
        await self._maybe_stop_watch()

    # -- PIN pad (TPV) --------------------------------------------------------
    async def tpv_prepare(self, amount: Money) -> None:
        """Activate the PIN pad for ``amount`` (the device gives it 2 minutes).

        If the answer is lost, the payment is still followed: a status showing
        the PIN pad active makes it ours, one showing it idle means it never took.
        """
        self._check_currency(amount)
        body: dict[str, Any] = {"amount": to_tecalis(amount)}
        if self.callback_url:
            body["callback"] = self.callback_url
        self._tpv.start()
        self._ensure_watch()
        try:
            await self._call(
                "POST", "/api/session/tpv/prepare", level="session", what="tpv prepare",
                body=body, safe=False,
            )  # fmt: skip
        except ServiceError as exc:
            if isinstance(exc, ApiError) and not exc.retryable:
                self._tpv.active = False  # refused: no payment runs
            raise
        self._tpv.confirm()
        self._ensure_watch()
        await self._poll_quietly()

    async def tpv_status(self) -> TpvStatus:
        data = await self._call(
            "GET", "/api/session/tpv/status", level="session", what="tpv status", safe=True
        )
        return TpvStatus.parse(data, self.currency)

    async def tpv_cancel(self) -> None:
        """Cancel the card payment (refused by the device once it is processing)."""
        try:
            await self._call(
                "POST", "/api/session/tpv/cancel", level="session", what="tpv cancel", safe=False
            )
        finally:
            await self._poll_quietly()

    # -- dispenser, barcode, printer, scanner -----------------------------------
    async def prepare_card(self) -> None:
        """Move a card from the hopper to the reader position."""
        await self._call(
            "POST", "/api/session/dispenser/prepare", level="session",
            what="dispenser prepare", safe=False,
        )  # fmt: skip

    async def read_barcode(self) -> str:
        """The barcode of the prepared card, as read (not validated)."""
        data = await self._call(
            "GET", "/api/session/barcode-reader/read", level="session",
            what="barcode read", safe=True,
        )  # fmt: skip
        return Fields(data, service=SERVICE, what="barcode read").text("barcode")

    async def dispense_card(self) -> None:
        """Hand the prepared card to the customer. Never repeated blindly."""
        await self._call(
            "POST", "/api/session/dispenser/dispense", level="session",
            what="dispenser dispense", safe=False,
        )  # fmt: skip

    async def discard_card(self) -> None:
        """Drop the prepared card into the reject bin."""
        await self._call(
            "POST", "/api/session/dispenser/discard", level="session",
            what="dispenser discard", safe=False,
        )  # fmt: skip

    async def print_pdf(self, pdf: bytes) -> None:
        """Print a PDF on the thermal printer. Never repeated blindly (no double receipts)."""
        await self._call(
            "POST", "/api/session/printer/print-pdf", level="session", what="print",
            body={"pdf": pdf_data_url(pdf)}, timeout=self.timeouts.print, safe=False,
        )  # fmt: skip

    async def scan(self) -> ScannedImage:
        """Scan the document on the scanner; the JPEG is decoded and checked."""
        data = await self._call(
            "GET", "/api/session/scanner/scan", level="session", what="scan",
            timeout=self.timeouts.scan, safe=True,
        )  # fmt: skip
        return await asyncio.to_thread(parse_scan, data)

    # -- integrator methods -----------------------------------------------------
    def _kiosk_path(self, suffix: str) -> str:
        return f"/api/kiosk/{self.kiosk_id}/{suffix}"

    async def kiosk_status(self) -> KioskStatus:
        data = await self._call(
            "GET", self._kiosk_path("status"), level="integrator", what="kiosk status", safe=True
        )
        return KioskStatus.parse(data)

    async def printer_status(self) -> PrinterStatus:
        data = await self._call(
            "GET", self._kiosk_path("printer/status"), level="integrator",
            what="printer status", safe=True,
        )  # fmt: skip
        return PrinterStatus.parse(data)

    async def dispenser_status(self) -> DispenserStatus:
        data = await self._call(
            "GET", self._kiosk_path("dispenser/status"), level="integrator",
            what="dispenser status", safe=True,
        )  # fmt: skip
        return DispenserStatus.parse(data)

    async def restart_device(self, device: RestartableDevice) -> None:
        """Power-cycle a device (only when it is unresponsive). Never repeated blindly."""
        if device not in ("printer", "dispenser", "scanner"):
            raise ValueError(f"cannot restart {device!r}: only printer, dispenser or scanner")
        await self._call(
            "POST", self._kiosk_path(f"{device}/restart"), level="integrator",
            what=f"{device} restart", safe=False,
        )  # fmt: skip

    # -- events -----------------------------------------------------------------
    async def events(self) -> AsyncIterator[DeviceEvent]:
        """The merged, de-duplicated, ordered device events (one consumer)."""
        while True:
            yield await self._events.get()

    async def next_event(self) -> DeviceEvent:
        return await self._events.get()

    def pending_events(self) -> list[DeviceEvent]:
        """Take every event already queued, without waiting."""
        out: list[DeviceEvent] = []
        while not self._events.empty():
            out.append(self._events.get_nowait())
        return out

    def _emit(self, kind: EventKind, source: EventSource, **fields: Any) -> None:
        self._seq += 1
        event = kind(seq=self._seq, at=self.clock.time(), source=source, **fields)
        log.info("Tecalis event %s", event)
        self._events.put_nowait(event)

    async def handle_callback(self, payload: object) -> str:
        """Take one device callback (from the callback receiver). Returns what was done.

        Raises :class:`ProtocolError` for a payload that is not a callback.
        Duplicates and callbacks of other sessions change nothing.
        """
        if self._closed:
            return "ignored (client closed)"
        async with self._callback_lock:
            return await self._handle_callback(payload)

    async def _handle_callback(self, payload: object) -> str:
        f = Fields(payload, service=SERVICE, what="callback")
        event = f.text("event")
        request_id = f.opt_text("request_id") or ""
        stamp = str(f.data.get("timestamp"))
        key = (event, request_id, stamp)
        if key in self._seen_callbacks:
            return "duplicate"
        self._seen_callbacks[key] = None
        while len(self._seen_callbacks) > 512:
            self._seen_callbacks.popitem(last=False)
        if f.opt_text("session_id") not in self._session_ids:
            return "stale (other session)"
        if event == "bill.returned":
            reason = f.opt_text("reason")
            if reason == "unrecognised":
                # Never in escrow, so no poll can show it: report it from the callback.
                amount = None
                if f.has("amount"):
                    with contextlib.suppress(ProtocolError):
                        amount = parse_amount(f, "amount", self.currency)
                self._emit(NoteReturned, "callback", amount=amount, reason="unrecognised")
                return "accepted"
            if reason in ("rejected", "timeout") and not self._bill.rejecting:
                self._bill.return_hint = reason  # type: ignore[assignment]
        elif not event.startswith(("bill.", "tpv.")):
            return "ignored (unknown event)"
        await self._poll_quietly(source="callback")
        return "accepted"

    # -- polling ------------------------------------------------------------------
    async def poll_now(self, *, source: EventSource = "poll") -> None:
        """Read the status of every active device and emit what changed."""
        async with self._poll_lock:
            if self._bill_open:
                data = await self._call(
                    "GET", "/api/session/bill-reader/status", level="session",
                    what="bill-reader status", safe=True, may_open=False,
                )  # fmt: skip
                status = BillReaderStatus.parse(data, self.currency)
                for ev in self._bill.apply(status):
                    self._emit(ev.pop("type"), source, **ev)
            if self._tpv.active:
                data = await self._call(
                    "GET", "/api/session/tpv/status", level="session", what="tpv status",
                    safe=True, may_open=False,
                )  # fmt: skip
                tpv = TpvStatus.parse(data, self.currency)
                for ev in self._tpv.apply(tpv):
                    self._emit(ev.pop("type"), source, **ev)

    async def _poll_quietly(self, *, source: EventSource = "poll") -> None:
        try:
            await self.poll_now(source=source)
        except ServiceError as exc:
            log.warning("Tecalis status poll failed: %s", exc)

    def _ensure_watch(self) -> None:
        if self._watch_task is None or self._watch_task.done():
            self._watch_task = asyncio.get_running_loop().create_task(
                self._watch(), name="tecalis-watch"
            )

    async def _watch(self) -> None:
        """Poll while the bill reader is open or a card payment runs: lost callbacks are caught."""
        failures = 0
        while self._bill_open or self._tpv.active:
            await self.clock.sleep(self.poll_interval_s)
            try:
                await self.poll_now()
                failures = 0
            except ServiceUnavailable as exc:
                failures += 1
                if failures == 1 or failures % 30 == 0:
                    log.warning("Tecalis status poll failed %d time(s): %s", failures, exc)
            except ServiceError as exc:
                log.warning("Tecalis status poll: %s", exc)

    async def _maybe_stop_watch(self) -> None:
        if not (self._bill_open or self._tpv.active):
            await self._stop_watch()

    async def _stop_watch(self) -> None:
        task, self._watch_task = self._watch_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _check_currency(self, amount: Money) -> None:
        if amount.currency != self.currency:
            raise ValueError(f"this kiosk works in {self.currency}, not {amount.currency}")
        if amount.minor <= 0:
            raise ValueError(f"amount must be positive, got {amount}")


CallbackHandler = Callable[[object], Awaitable[str]]
