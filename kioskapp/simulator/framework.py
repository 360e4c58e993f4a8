"""The simulator framework: one loopback HTTP server hosting every vendor simulator.

Each simulated vendor is a :class:`SimService` mounted under its own path prefix
(``/tecalis``, later ``/cardapi``...) of one aiohttp server, with its own control
routes under ``/_sim/<name>/``. The framework adds what every vendor needs:

* a JSON codec that keeps money exact (:func:`json_dumps` writes
  :class:`~decimal.Decimal` as a plain JSON number; :func:`parse_json_object`
  reads numbers with a fraction as ``Decimal``);
* request-body validation helpers that answer ``422 invalid_request``;
* HTTP fault injection (:class:`FaultInjector`): malformed JSON, an nginx 502
  page, a real-time delay, any status, or a dropped connection, per service,
  method and path;
* outgoing device callbacks (:class:`CallbackDispatcher`): ordered per URL,
  with drop / duplicate / delay / hold modes and an event log of every
  callback's fate;
* the global control API (``/_sim/``): services, clock, reset, faults,
  callback modes.

All simulated time comes from the injected :class:`~kioskapp.core.clock.Clock`;
only the ``delay`` HTTP fault waits in real time (it simulates a slow network).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import ipaddress
import itertools
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Final, TypeVar

import httpx
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler, Middleware

from kioskapp.core.clock import Clock, ControlledClock, TimerHandle
from kioskapp.core.money import dumps_json, loads_json

log = logging.getLogger(__name__)
access_log = logging.getLogger("kioskapp.simulator.http")

JsonObject = dict[str, Any]

# ---------------------------------------------------------------------------
# JSON that keeps money exact
# ---------------------------------------------------------------------------

_CENT: Final = Decimal("0.01")


def format_amount(value: Decimal) -> str:
    """A Decimal as exact JSON number text: ``20``, ``10.5``, ``0.05`` (never rounded).

    Money in the simulators has at most 2 decimals (request bodies are checked).
    """
    if not value.is_finite():
        raise ValueError(f"not a finite amount: {value!r}")
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def sim_time(clock: Clock) -> Decimal:
    """The simulated time as an exact JSON number (epoch seconds, millisecond precision)."""
    return Decimal(repr(round(clock.time(), 3)))


def json_dumps(value: object) -> str:
    """The project's exact JSON codec; simulator state may carry non-money floats (durations)."""
    return dumps_json(value, allow_float=True)


parse_json = loads_json


def new_request_id() -> str:
    """An opaque request id like the vendor's samples: 31 hex characters."""
    return secrets.token_hex(16)[:31]


# ---------------------------------------------------------------------------
# Errors and request helpers
# ---------------------------------------------------------------------------


class SimError(Exception):
    """Raised inside a handler: answered as the service's JSON error body."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message


def json_response(payload: Mapping[str, Any], status: int = 200) -> web.Response:
    return web.Response(
        status=status, text=json_dumps(payload), content_type="application/json", charset="utf-8"
    )


def tecalis_error_body(error: str, message: str) -> JsonObject:
    """The Tecalis error body (assumed): success false, message, error code, request id."""
    return {"success": False, "message": message, "error": error, "request_id": new_request_id()}


def parse_json_object(text: str, *, empty_ok: bool = False) -> JsonObject:
    """A request body that must be a JSON object, else ``SimError(400, invalid_json)``."""
    if empty_ok and not text.strip():
        return {}
    try:
        value = parse_json(text)
    except ValueError as exc:
        raise SimError(400, "invalid_json", f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise SimError(400, "invalid_json", "Request body must be a JSON object")
    return value


async def read_json_object(request: web.Request, *, empty_ok: bool = False) -> JsonObject:
    """Read and parse the request body (content type is not checked, like many devices)."""
    try:
        text = await request.text()
    except UnicodeDecodeError as exc:
        raise SimError(400, "invalid_json", "Request body is not UTF-8") from exc
    return parse_json_object(text, empty_ok=empty_ok)


def _invalid(message: str) -> SimError:
    return SimError(422, "invalid_request", message)


def is_number(value: object) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)


def body_amount(body: Mapping[str, Any], name: str, *, required: bool = True) -> Decimal | None:
    """A money amount: a JSON number > 0 with at most 2 decimals."""
    if name not in body or body[name] is None:
        if required:
            raise _invalid(f"'{name}' is required")
        return None
    value = body[name]
    if not is_number(value):
        raise _invalid(f"'{name}' must be a number")
    amount = Decimal(value)
    try:
        two_places = amount == amount.quantize(_CENT)
    except InvalidOperation:
        two_places = False
    if not amount.is_finite() or not two_places:
        raise _invalid(f"'{name}' must have at most 2 decimals")
    if amount <= 0:
        raise _invalid(f"'{name}' must be greater than 0")
    return amount


def body_str(body: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _invalid(f"'{name}' is required")
        return None
    if not isinstance(value, str) or (required and not value):
        raise _invalid(f"'{name}' must be a non-empty string")
    return value


def body_bool(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise _invalid(f"'{name}' must be true or false")
    return value


def body_int(
    body: Mapping[str, Any], name: str, *, minimum: int = 0, required: bool = False
) -> int | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _invalid(f"'{name}' is required")
        return None
    if isinstance(value, Decimal) and value == value.to_integral_value():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _invalid(f"'{name}' must be an integer >= {minimum}")
    return value


def body_seconds(
    body: Mapping[str, Any], name: str, *, required: bool = False, positive: bool = False
) -> float | None:
    value = body.get(name)
    if value is None:
        if required:
            raise _invalid(f"'{name}' is required")
        return None
    if not is_number(value) or not Decimal(value).is_finite():
        raise _invalid(f"'{name}' must be a number of seconds")
    seconds = float(value)
    if seconds < 0 or (positive and seconds == 0):
        raise _invalid(f"'{name}' must be {'> 0' if positive else '>= 0'}")
    return seconds


def body_callback_url(body: Mapping[str, Any], name: str = "callback") -> str | None:
    """An optional callback URL: absolute http(s)."""
    value = body_str(body, name)
    if value is None or value == "":
        return None
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise _invalid(f"'{name}' is not a valid URL") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise _invalid(f"'{name}' must be an absolute http(s) URL")
    return value


def reject_unknown(body: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise _invalid(f"unknown field(s): {', '.join(unknown)}")


# ---------------------------------------------------------------------------
# Services
# ---------------------------------------------------------------------------


class SimService:
    """One simulated vendor API. Subclasses set ``name`` and ``prefix``."""

    name: str = ""
    prefix: str = ""

    def build_app(self) -> web.Application:
        """The vendor API, mounted with ``add_subapp`` at :attr:`prefix`."""
        raise NotImplementedError

    def build_control_app(self) -> web.Application:
        """Control routes, mounted at ``/_sim/<name>``."""
        return web.Application()

    def reset(self) -> None:
        """Back to the state it started in."""

    def snapshot(self) -> JsonObject:
        """The whole simulated state, JSON-able."""
        return {}

    def error_response(self, status: int, error: str, message: str) -> web.Response:
        """The vendor's error body (default: the Tecalis shape)."""
        return json_response(tecalis_error_body(error, message), status=status)

    async def aclose(self) -> None:
        """Cancel timers; called when the server stops."""


def error_middleware(
    respond: Callable[[int, str, str], web.Response],
) -> Middleware:
    """Turn SimError, 404, 405 and bad bodies into the service's JSON error body."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except SimError as exc:
            return respond(exc.status, exc.error, exc.message)
        except web.HTTPNotFound:
            return respond(404, "not_found", f"No such endpoint: {request.method} {request.path}")
        except web.HTTPMethodNotAllowed as exc:
            response = respond(
                405, "method_not_allowed", f"Method {request.method} not allowed on {request.path}"
            )
            response.headers["Allow"] = ",".join(sorted(exc.allowed_methods))
            return response
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return respond(exc.status, f"http_{exc.status}", exc.reason)

    return middleware


class SimAccessLogger(AbstractAccessLogger):
    """One INFO line per request: method, path (no query), status. Never headers."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info("%s %s %s", request.method, request.path, response.status)


# ---------------------------------------------------------------------------
# HTTP fault injection
# ---------------------------------------------------------------------------

FAULT_KINDS: Final = ("malformed_json", "html_502", "delay", "status", "drop_connection")
MAX_FAULT_DELAY_S: Final = 30.0
MALFORMED_JSON_BODY: Final = '{"success": tru'
NGINX_502_PAGE: Final = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class FaultRule:
    """One armed fault: which requests it hits, what it does, how many times."""

    id: int
    service: str
    path: str
    fault: str
    method: str | None = None
    seconds: float = 1.0
    status: int = 500
    error: str = "injected_fault"
    remaining: int | None = None
    fired: int = 0

    def matches(self, service: str, method: str, path: str) -> bool:
        if service != self.service:
            return False
        if self.method is not None and method.upper() != self.method:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path

    def to_json(self) -> JsonObject:
        return {
            "id": self.id,
            "service": self.service,
            "method": self.method,
            "path": self.path,
            "fault": self.fault,
            "seconds": self.seconds,
            "status": self.status,
            "error": self.error,
            "count": self.remaining,
            "fired": self.fired,
        }


class FaultInjector:
    """Armed HTTP faults, applied by a middleware on each service's app."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)

    def add_from_body(
        self, body: Mapping[str, Any], services: Mapping[str, SimService]
    ) -> FaultRule:
        reject_unknown(body, {"service", "method", "path", "fault", "seconds", "status", "count"})
        service_name = body_str(body, "service", required=True)
        assert service_name is not None
        service = services.get(service_name)
        if service is None:
            raise _invalid(f"unknown service {service_name!r}; known: {', '.join(services)}")
        path = body_str(body, "path", required=True)
        assert path is not None
        if path.startswith(service.prefix + "/"):
            path = path[len(service.prefix) :]
        if not path.startswith("/"):
            raise _invalid("'path' must start with '/' (relative to the service prefix)")
        fault = body_str(body, "fault", required=True)
        if fault not in FAULT_KINDS:
            raise _invalid(f"'fault' must be one of {', '.join(FAULT_KINDS)}")
        method = body_str(body, "method")
        seconds = body_seconds(body, "seconds")
        status = body_int(body, "status", minimum=100)
        if status is not None and status > 599:
            raise _invalid("'status' must be an HTTP status (100-599)")
        count = body_int(body, "count", minimum=1)
        rule = FaultRule(
            id=next(self._ids),
            service=service_name,
            path=path,
            fault=fault,
            method=method.upper() if method else None,
            seconds=min(MAX_FAULT_DELAY_S, 1.0 if seconds is None else seconds),
            status=500 if status is None else status,
            remaining=count,
        )
        self._rules.append(rule)
        return rule

    def clear(self, service: str | None = None) -> int:
        before = len(self._rules)
        self._rules = [r for r in self._rules if service is not None and r.service != service]
        return before - len(self._rules)

    def rules(self) -> list[JsonObject]:
        return [r.to_json() for r in self._rules]

    def take(self, service: str, method: str, path: str) -> FaultRule | None:
        """The first armed rule for this request, counted as fired."""
        for rule in self._rules:
            if rule.matches(service, method, path):
                rule.fired += 1
                if rule.remaining is not None:
                    rule.remaining -= 1
                    if rule.remaining <= 0:
                        self._rules.remove(rule)
                return rule
        return None

    def middleware(self, service: SimService) -> Middleware:
        @web.middleware
        async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
            path = request.path[len(service.prefix) :] or "/"
            rule = self.take(service.name, request.method, path)
            if rule is None:
                return await handler(request)
            log.info("fault %s on %s %s", rule.fault, request.method, request.path)
            if rule.fault == "malformed_json":
                return web.Response(
                    status=200, text=MALFORMED_JSON_BODY, content_type="application/json"
                )
            if rule.fault == "html_502":
                return web.Response(status=502, text=NGINX_502_PAGE, content_type="text/html")
            if rule.fault == "status":
                return service.error_response(
                    rule.status, rule.error, f"Injected fault: HTTP {rule.status}"
                )
            if rule.fault == "drop_connection":
                transport = request.transport
                if transport is not None:
                    transport.close()
                # aiohttp cannot write to the closed transport and just logs the access.
                return web.Response(status=499)
            # delay: a slow device, in real time (simulated time does not apply to sockets).
            # The request has arrived whole; only the answer is late, so a client that
            # gives up meanwhile still leaves a request that takes effect.
            await request.read()
            await asyncio.sleep(rule.seconds)
            return await handler(request)

        return middleware


# ---------------------------------------------------------------------------
# Outgoing device callbacks
# ---------------------------------------------------------------------------

# bad_signature: a signed webhook goes out with a wrong signature (the receiver must refuse it).
CALLBACK_MODES: Final = ("normal", "drop", "duplicate", "delay", "hold", "bad_signature")

#: Computes a webhook's signature headers from its exact body bytes.
Signer = Callable[[bytes], Mapping[str, str]]


@dataclass
class CallbackRecord:
    """One callback the simulator generated, and what became of it.

    ``fate``: ``pending`` (queued) | ``delayed`` | ``held`` while in the simulator;
    then ``delivered`` | ``duplicated`` (both copies delivered) | ``failed`` |
    ``dropped`` | ``no_url`` (the client gave no callback URL).
    """

    seq: int
    service: str
    event: str
    url: str | None
    payload: JsonObject
    created_at: Decimal
    mode: str
    fate: str
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    copies: int = 1
    delivered: int = 0
    status: int | None = None
    error: str | None = None

    def to_json(self) -> JsonObject:
        return {
            "seq": self.seq,
            "service": self.service,
            "event": self.event,
            "url": self.url,
            "payload": self.payload,
            "created_at": self.created_at,
            "mode": self.mode,
            "fate": self.fate,
            "delivered": self.delivered,
            "status": self.status,
            "error": self.error,
        }


class CallbackDispatcher:
    """POSTs device callbacks: in order per URL, with loss modes, never raising.

    One queue and one worker task per callback URL keep deliveries to a URL
    sequential and in order. Failures are logged and recorded on the event's
    :class:`CallbackRecord`. The ``httpx.AsyncClient`` is created on first use
    (unless injected) and closed by :meth:`aclose`, which also cancels the
    workers and any pending delay timers.
    """

    def __init__(
        self,
        clock: Clock,
        *,
        http: httpx.AsyncClient | None = None,
        timeout: float = 5.0,
        max_log: int = 2000,
    ) -> None:
        self._clock = clock
        self._http = http
        self._owns_http = http is None
        self._timeout = timeout
        self._max_log = max_log
        self._seq = itertools.count(1)
        self._records: list[CallbackRecord] = []
        self._queues: dict[str, asyncio.Queue[CallbackRecord]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._held: list[CallbackRecord] = []
        self._timers: set[TimerHandle] = set()
        self._unfinished = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False
        self._mode = "normal"
        self._mode_count: int | None = None
        self._delay_s = 0.0

    # -- modes --------------------------------------------------------------
    def set_mode(self, mode: str, count: int | None = None, seconds: float | None = None) -> None:
        if mode not in CALLBACK_MODES:
            raise ValueError(f"unknown callback mode {mode!r}")
        if mode == "delay" and seconds is None:
            raise ValueError("delay mode needs 'seconds'")
        self._mode = mode
        self._mode_count = None if mode == "normal" else count
        self._delay_s = seconds if seconds is not None else 0.0

    def mode_info(self) -> JsonObject:
        return {
            "mode": self._mode,
            "count": self._mode_count,
            "seconds": self._delay_s if self._mode == "delay" else None,
            "held": len(self._held),
            "in_flight": self._unfinished,
        }

    def _take_mode(self) -> str:
        mode = self._mode
        if self._mode_count is not None:
            self._mode_count -= 1
            if self._mode_count <= 0:
                self._mode, self._mode_count = "normal", None
        return mode

    # -- sending ------------------------------------------------------------
    def send(
        self,
        service: str,
        url: str | None,
        payload: JsonObject,
        *,
        event: str | None = None,
        signer: Signer | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> CallbackRecord:
        """Record a callback and deliver it according to the current mode.

        ``event`` names it in the log (default: the payload's ``event`` or ``type``).
        Webhooks pass a ``signer``: the body is serialised once, signed, and
        every copy (duplicates too) carries the same bytes and headers.
        """
        event = event or str(payload.get("event") or payload.get("type") or "")
        body = json_dumps(payload).encode()
        record = CallbackRecord(
            seq=next(self._seq),
            service=service,
            event=event,
            url=url,
            payload=payload,
            created_at=sim_time(self._clock),
            mode="normal",
            fate="pending",
            body=body,
            headers=dict(headers or {}),
        )
        self._records.append(record)
        if len(self._records) > self._max_log:
            del self._records[: len(self._records) - self._max_log]
        if url is None:
            record.fate = "no_url"
            return record
        if self._closed:
            record.fate, record.error = "failed", "simulator stopping"
            return record
        record.mode = self._take_mode()
        if signer is not None:
            signed = body + b"tampered" if record.mode == "bad_signature" else body
            record.headers = {**record.headers, **signer(signed)}
        if record.mode == "drop":
            record.fate = "dropped"
            log.info("callback %s #%d dropped (mode drop)", event, record.seq)
        elif record.mode == "hold":
            record.fate = "held"
            self._held.append(record)
        elif record.mode == "delay":
            record.fate = "delayed"
            self._delay(record, self._delay_s)
        else:
            if record.mode == "duplicate":
                record.copies = 2
            self._enqueue(record)
        return record

    def _delay(self, record: CallbackRecord, seconds: float) -> None:
        handle: TimerHandle | None = None

        def fire() -> None:
            if handle is not None:
                self._timers.discard(handle)
            if record.fate == "delayed" and not self._closed:
                self._enqueue(record)

        handle = self._clock.call_later(seconds, fire)
        self._timers.add(handle)

    def release(self) -> int:
        """Send every held callback, in the order generated."""
        held, self._held = self._held, []
        for record in held:
            self._enqueue(record)
        return len(held)

    def _enqueue(self, record: CallbackRecord) -> None:
        assert record.url is not None
        record.fate = "pending"
        queue = self._queues.get(record.url)
        if queue is None:
            queue = self._queues[record.url] = asyncio.Queue()
            self._workers[record.url] = asyncio.get_running_loop().create_task(
                self._worker(record.url, queue), name=f"sim-callbacks {record.url}"
            )
        for _ in range(record.copies):
            self._unfinished += 1
            self._idle.clear()
            queue.put_nowait(record)

    async def _worker(self, url: str, queue: asyncio.Queue[CallbackRecord]) -> None:
        while True:
            record = await queue.get()
            try:
                await self._deliver(url, record)
            finally:
                queue.task_done()
                self._unfinished -= 1
                if self._unfinished == 0:
                    self._idle.set()

    async def _deliver(self, url: str, record: CallbackRecord) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await self._http.post(
                url,
                content=record.body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": "kioskapp-sim",
                    **record.headers,
                },
            )
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            record.fate, record.error = "failed", f"{type(exc).__name__}: {exc}"
            log.warning("callback %s #%d to %s failed: %s", record.event, record.seq, url, exc)
            return
        record.status = response.status_code
        if response.is_success:
            record.delivered += 1
            if record.fate != "failed":
                done = record.delivered >= record.copies
                record.fate = (
                    ("duplicated" if record.copies > 1 else "delivered") if done else "pending"
                )
        else:
            record.fate, record.error = "failed", f"HTTP {response.status_code}"
            log.warning(
                "callback %s #%d to %s answered HTTP %d",
                record.event,
                record.seq,
                url,
                response.status_code,
            )

    # -- inspecting ---------------------------------------------------------
    def events(self, service: str | None = None) -> list[JsonObject]:
        return [r.to_json() for r in self._records if service is None or r.service == service]

    def records(self) -> list[CallbackRecord]:
        return list(self._records)

    async def drain(self) -> None:
        """Wait until every queued delivery has been attempted (not held or delayed ones)."""
        await self._idle.wait()

    # -- lifecycle ----------------------------------------------------------
    def reset(self) -> None:
        """Normal mode, nothing held or delayed, empty log (in-flight deliveries finish)."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self._held.clear()
        self._records.clear()
        self.set_mode("normal")

    async def aclose(self) -> None:
        self._closed = True
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        for task in workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._workers.clear()
        self._queues.clear()
        self._unfinished = 0
        self._idle.set()
        if self._http is not None and self._owns_http:
            await self._http.aclose()
            self._http = None


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------

S = TypeVar("S", bound=SimService)
MAX_REQUEST_BYTES: Final = 32 * 1024 * 1024


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SimServer:
    """One aiohttp server: every service under its prefix, control under ``/_sim/``."""

    def __init__(
        self,
        clock: Clock,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        callback_timeout: float = 5.0,
    ) -> None:
        self.clock = clock
        self.host = host
        self.port = port
        self.callbacks = CallbackDispatcher(clock, timeout=callback_timeout)
        self.faults = FaultInjector()
        self._services: dict[str, SimService] = {}
        self._runner: web.AppRunner | None = None
        self._bound_port: int | None = None

    # -- composition --------------------------------------------------------
    def add(self, service: S) -> S:
        if self._runner is not None:
            raise RuntimeError("add services before start()")
        if not service.name or not service.prefix.startswith("/"):
            raise ValueError(f"service needs a name and a '/prefix': {service!r}")
        if service.name in self._services:
            raise ValueError(f"service {service.name!r} already added")
        self._services[service.name] = service
        return service

    @property
    def services(self) -> Mapping[str, SimService]:
        return dict(self._services)

    # -- URLs ---------------------------------------------------------------
    @property
    def base_url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("server not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._bound_port}"

    @property
    def control_url(self) -> str:
        return f"{self.base_url}/_sim/"

    def url_for(self, name: str) -> str:
        return self.base_url + self._services[name].prefix

    # -- lifecycle ----------------------------------------------------------
    def _build_root(self) -> web.Application:
        # Request size is the root app's: room for multi-page PDFs to print.
        root = web.Application(client_max_size=MAX_REQUEST_BYTES)
        for service in self._services.values():
            app = service.build_app()
            app.middlewares.insert(0, self.faults.middleware(service))
            app.middlewares.insert(1, error_middleware(service.error_response))
            root.add_subapp(service.prefix, app)
        control = web.Application(middlewares=[error_middleware(self._control_error)])
        control.router.add_get("/", self._index)
        control.router.add_post("/reset", self._reset)
        control.router.add_get("/clock", self._clock)
        control.router.add_post("/clock/advance", self._advance)
        control.router.add_get("/faults", self._list_faults)
        control.router.add_post("/faults", self._add_fault)
        control.router.add_delete("/faults", self._clear_faults)
        control.router.add_get("/callbacks", self._callbacks)
        control.router.add_post("/callbacks", self._set_callback_mode)
        control.router.add_post("/callbacks/release", self._release_callbacks)
        control.router.add_post("/callbacks/drain", self._drain_callbacks)
        for service in self._services.values():
            # The /_sim app's error middleware also covers its sub-apps.
            control.add_subapp(f"/{service.name}", service.build_control_app())
        root.router.add_get("/", self._index)
        root.router.add_get("/_sim", self._index)
        root.add_subapp("/_sim", control)
        return root

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("already started")
        runner = web.AppRunner(
            self._build_root(),
            handle_signals=False,
            access_log_class=SimAccessLogger,
            access_log=access_log,
            shutdown_timeout=1.0,
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        addresses = runner.addresses
        self._bound_port = int(addresses[0][1]) if addresses else self.port

    async def stop(self) -> None:
        """Stop serving, then the callback workers and every service's timers."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        await self.callbacks.aclose()
        for service in self._services.values():
            await service.aclose()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # -- control routes -----------------------------------------------------
    def _control_error(self, status: int, error: str, message: str) -> web.Response:
        return json_response(tecalis_error_body(error, message), status=status)

    def clock_info(self) -> JsonObject:
        controlled = isinstance(self.clock, ControlledClock)
        speed = self.clock.speed if isinstance(self.clock, ControlledClock) else 1.0
        info: JsonObject = {"time": sim_time(self.clock), "speed": speed, "controlled": controlled}
        if isinstance(self.clock, ControlledClock):
            info["pending_timers"] = self.clock.pending_timers()
            info["next_deadline_in"] = self.clock.next_deadline_in()
        return info

    async def _index(self, request: web.Request) -> web.Response:
        return json_response(
            {
                "success": True,
                "services": [
                    {
                        "name": s.name,
                        "url": self.url_for(s.name),
                        "control_url": f"{self.base_url}/_sim/{s.name}/",
                    }
                    for s in self._services.values()
                ],
                "control_url": self.control_url,
                "clock": self.clock_info(),
                "callbacks": self.callbacks.mode_info(),
                "faults": self.faults.rules(),
            }
        )

    async def _reset(self, request: web.Request) -> web.Response:
        for service in self._services.values():
            service.reset()
        self.faults.clear()
        self.callbacks.reset()
        return json_response({"success": True, "message": "All simulators reset"})

    async def _clock(self, request: web.Request) -> web.Response:
        return json_response({"success": True, **self.clock_info()})

    async def _advance(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        seconds = body_seconds(body, "seconds", required=True)
        assert seconds is not None
        if not isinstance(self.clock, ControlledClock):
            raise SimError(409, "clock_not_controlled", "This simulator runs on the real clock")
        self.clock.advance(seconds)
        return json_response({"success": True, **self.clock_info()})

    async def _list_faults(self, request: web.Request) -> web.Response:
        return json_response({"success": True, "faults": self.faults.rules()})

    async def _add_fault(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        rule = self.faults.add_from_body(body, self._services)
        return json_response({"success": True, "fault": rule.to_json()})

    async def _clear_faults(self, request: web.Request) -> web.Response:
        cleared = self.faults.clear(request.query.get("service"))
        return json_response({"success": True, "cleared": cleared})

    async def _callbacks(self, request: web.Request) -> web.Response:
        return json_response(
            {"success": True, **self.callbacks.mode_info(), "events": self.callbacks.events()}
        )

    async def _set_callback_mode(self, request: web.Request) -> web.Response:
        body = await read_json_object(request)
        reject_unknown(body, {"mode", "count", "seconds"})
        mode = body_str(body, "mode", required=True)
        if mode not in CALLBACK_MODES:
            raise _invalid(f"'mode' must be one of {', '.join(CALLBACK_MODES)}")
        count = body_int(body, "count", minimum=1)
        seconds = body_seconds(body, "seconds")
        if mode == "delay" and seconds is None:
            raise _invalid("'seconds' is required for mode delay")
        self.callbacks.set_mode(mode, count=count, seconds=seconds)
        return json_response({"success": True, **self.callbacks.mode_info()})

    async def _release_callbacks(self, request: web.Request) -> web.Response:
        released = self.callbacks.release()
        return json_response({"success": True, "released": released})

    async def _drain_callbacks(self, request: web.Request) -> web.Response:
        try:
            await asyncio.wait_for(self.callbacks.drain(), timeout=10.0)
        except TimeoutError as exc:
            raise SimError(504, "drain_timeout", "Callbacks still in flight after 10 s") from exc
        return json_response({"success": True, **self.callbacks.mode_info()})


def build_simulators(
    clock: Clock, host: str = "127.0.0.1", port: int = 0, **options: Any
) -> SimServer:
    """A :class:`SimServer` with every simulator registered (not started).

    ``options``: ``tecalis`` (a :class:`~kioskapp.simulator.tecalis.TecalisConfig`),
    ``callback_timeout`` (seconds per callback POST, default 5).
    """
    from kioskapp.simulator.tecalis import TecalisConfig, TecalisSim

    tecalis_config = options.pop("tecalis", None) or TecalisConfig()
    callback_timeout = float(options.pop("callback_timeout", 5.0))
    if options:
        raise TypeError(f"unknown simulator option(s): {', '.join(sorted(options))}")
    if not isinstance(tecalis_config, TecalisConfig):
        raise TypeError("'tecalis' must be a TecalisConfig")
    server = SimServer(clock, host, port, callback_timeout=callback_timeout)
    server.add(TecalisSim(clock, server.callbacks, tecalis_config))
    for name in VENDOR_SIMULATORS:
        module = importlib.import_module(f"kioskapp.simulator.{name}")
        server.add(module.build(clock, server.callbacks))
    return server


#: The vendor simulators besides Tecalis: each module has
#: ``build(clock, callbacks) -> SimService``.
VENDOR_SIMULATORS: tuple[str, ...] = tuple(
    name
    for name in ("cardapi", "kinetic", "komoju", "payjunction")
    if importlib.util.find_spec(f"kioskapp.simulator.{name}") is not None
)


__all__ = [
    "CALLBACK_MODES",
    "FAULT_KINDS",
    "CallbackDispatcher",
    "CallbackRecord",
    "FaultInjector",
    "FaultRule",
    "JsonObject",
    "SimError",
    "SimServer",
    "SimService",
    "body_amount",
    "body_bool",
    "body_callback_url",
    "body_int",
    "body_seconds",
    "body_str",
    "build_simulators",
    "format_amount",
    "is_loopback",
    "json_dumps",
    "json_response",
    "new_request_id",
    "parse_json",
    "parse_json_object",
    "read_json_object",
    "reject_unknown",
    "tecalis_error_body",
]
