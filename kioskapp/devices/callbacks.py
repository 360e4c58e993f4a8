"""The kiosk's local HTTP receiver for device callbacks and payment webhooks.

Devices (Tecalis) and services (KOMOJU, PayJunction webhooks) POST to it.
It listens on loopback unless configured otherwise, refuses bodies over a
size limit before reading them whole, checks JSON where the route wants
JSON, and hands the raw body and headers to the route's handler (webhook
routes verify signatures over the raw bytes). One log line per request says
what came and what was done with it; bodies are never logged.

Answers: 200 ``{"ok":true,"result":...}``; 400 not JSON / not a valid
callback / not HTTP; 401 a handler refused it (bad signature); 404 unknown
path; 405 not POST; 413 body too large; 500 the handler failed.

HTTP/1.1 is spoken by h11 (the protocol state machine under httpx, so already
in the process) over asyncio streams: the receiver needs a few routes and POST
bodies, and aiohttp's server would bring the whole of aiohttp (its client,
cookie jar, TLS contexts: ~12 MB of resident memory) into the kiosk for that.
Requests are read with time limits (:data:`REQUEST_TIMEOUT_S` once a request
has started, :data:`KEEPALIVE_S` for an idle kept-alive connection); headers
are limited to :data:`MAX_HEADER_BYTES`. Answers to refused requests close the
connection without reading the rest of the body.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import unquote, urlsplit

import h11

from kioskapp.core.money import loads_json
from kioskapp.devices.errors import ProtocolError

log = logging.getLogger(__name__)

#: Seconds a client may take to send the rest of a request it has started.
REQUEST_TIMEOUT_S: Final = 30.0
#: Seconds an idle kept-alive connection stays open.
KEEPALIVE_S: Final = 75.0
#: Largest request line plus headers.
MAX_HEADER_BYTES: Final = 16 * 1024
_READ_BYTES: Final = 64 * 1024


@dataclass(frozen=True)
class InboundCallback:
    path: str
    headers: Mapping[str, str]
    body: bytes = field(repr=False)
    json: Any = field(repr=False)  # decoded JSON for JSON routes, None otherwise
    remote: str | None


class CallbackRejected(Exception):
    """Raised by a handler to refuse a callback with an HTTP status (e.g. bad signature)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


#: A handler returns a short description of what it did, for the log line.
CallbackHandler = Callable[[InboundCallback], Awaitable[str]]


@dataclass
class _Route:
    handler: CallbackHandler
    parse_json: bool


def hmac_sha256_hex(body: bytes, secret: str) -> str:
    """A webhook signature as KOMOJU and PayJunction send it: hex HMAC-SHA256 of the raw body."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hmac_sha256_hex(body: bytes, signature: str | None, secret: str) -> bool:
    """Constant-time check of a hex HMAC-SHA256 signature over the raw body.

    An empty secret or a missing signature never verifies.
    """
    if not secret or not signature:
        return False
    expected = hmac_sha256_hex(body, secret).encode()
    given = signature.strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected, given)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class CallbackReceiver:
    """A small HTTP/1.1 server owned by the app: ``add_route`` then ``start``."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, max_body_bytes: int = 64 * 1024
    ) -> None:
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self._routes: dict[str, _Route] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._bound_port: int | None = None

    def add_route(self, path: str, handler: CallbackHandler, *, parse_json: bool = True) -> None:
        if not path.startswith("/"):
            raise ValueError(f"callback path must start with '/': {path!r}")
        self._routes[path.rstrip("/") or "/"] = _Route(handler, parse_json)

    @property
    def url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("the callback receiver is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._bound_port}"

    def url_for(self, path: str) -> str:
        return self.url + path

    async def start(self) -> None:
        if self._server is not None:
            return
        if not is_loopback(self.host):
            log.warning(
                "callback receiver listens on %s, not loopback: anything that reaches this "
                "address can post callbacks; restrict it with a firewall",
                self.host,
            )
        try:
            server = await asyncio.start_server(
                self._connection, self.host, self.port, limit=_READ_BYTES
            )
        except OSError as exc:
            raise OSError(
                exc.errno, f"callback receiver cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        self._server = server
        sockets = server.sockets
        self._bound_port = int(sockets[0].getsockname()[1]) if sockets else self.port
        log.info("callback receiver listening on %s", self.url)

    async def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        connections = list(self._connections)
        for task in connections:
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> CallbackReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- one connection ----------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._connections.add(task)
        peer = writer.get_extra_info("peername")
        remote = str(peer[0]) if isinstance(peer, tuple) and peer else None
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEADER_BYTES)
        try:
            while await self._exchange(conn, reader, writer, remote):
                conn.start_next_cycle()
        except (TimeoutError, ConnectionError, h11.LocalProtocolError):
            pass  # the client went away, stalled or broke the protocol: just close
        except asyncio.CancelledError:
            pass  # stop(): the task ends here (asyncio's server would log a cancelled one)
        except Exception:
            log.exception("callback receiver: error on a connection from %s", remote)
        finally:
            if task is not None:
                self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _event(
        self, conn: h11.Connection, reader: asyncio.StreamReader, timeout: float
    ) -> h11.Event | None:
        """The client's next event; None when h11 pauses (a request already complete)."""
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Event):
                return event
            if event is h11.PAUSED:
                return None
            data = await asyncio.wait_for(reader.read(_READ_BYTES), timeout)
            conn.receive_data(data)  # b"": the client closed its side

    async def _exchange(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        remote: str | None,
    ) -> bool:
        """One request and its answer; True when the connection can take another."""
        try:
            event = await self._event(conn, reader, KEEPALIVE_S)
            if not isinstance(event, h11.Request):
                return False  # the client closed an idle connection
            request = _Request(event, remote)
            status, outcome, body, complete = await self._answer_to(conn, reader, writer, request)
        except h11.RemoteProtocolError as exc:
            if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
                return False
            request = _Request(None, remote)
            status, outcome, body = exc.error_status_hint, "not HTTP", {"error": "bad request"}
            complete = False
        log.info(
            "callback %s %s from %s: %d %s", request.method, request.path, remote, status, outcome
        )
        payload = json.dumps({"ok": status == 200, **body}).encode()
        headers = [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(payload))),
        ]
        if not complete:  # the rest of the request is not read: this connection ends here
            headers.append(("Connection", "close"))
        writer.write(conn.send(h11.Response(status_code=status, headers=headers)) or b"")
        writer.write(conn.send(h11.Data(data=payload)) or b"")
        writer.write(conn.send(h11.EndOfMessage()) or b"")
        await writer.drain()
        return conn.our_state is h11.DONE and conn.their_state is h11.DONE

    async def _answer_to(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: _Request,
    ) -> tuple[int, str, dict[str, object], bool]:
        """(status, what was done, answer fields, whether the whole request was read)."""
        if request.head_bytes > MAX_HEADER_BYTES:  # h11 limits only a head still arriving
            return 431, "headers too large", {"error": "headers too large"}, False
        route = self._routes.get(request.path)
        if route is None:
            return 404, "unknown path", {"error": "unknown callback path"}, False
        if request.method != "POST":
            return 405, "not POST", {"error": "callbacks must be POSTed"}, False
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return 413, f"body of {length} bytes refused", {"error": "body too large"}, False
        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
            await writer.drain()
        body = bytearray()
        while True:
            event = await self._event(conn, reader, REQUEST_TIMEOUT_S)
            if isinstance(event, h11.Data):
                body += event.data
                if len(body) > self.max_body_bytes:
                    return 413, "body too large", {"error": "body too large"}, False
            elif isinstance(event, h11.EndOfMessage):
                break
            else:  # the client closed the connection in the middle of its body
                raise ConnectionError("request body cut short")
        return (*await self._dispatch(route, request, bytes(body)), True)

    async def _dispatch(
        self, route: _Route, request: _Request, body: bytes
    ) -> tuple[int, str, dict[str, object]]:
        payload: Any = None
        if route.parse_json:
            try:
                payload = loads_json(body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                return 400, "not JSON", {"error": "body is not valid JSON"}
            if not isinstance(payload, dict):
                return 400, "not a JSON object", {"error": "body must be a JSON object"}
        inbound = InboundCallback(
            path=request.path,
            headers=request.headers,
            body=body,
            json=payload,
            remote=request.remote,
        )
        try:
            result = await route.handler(inbound)
        except ProtocolError as exc:
            return 400, f"invalid: {exc.message}", {"error": exc.message}
        except CallbackRejected as exc:
            return exc.status, f"refused: {exc.reason}", {"error": exc.reason}
        except Exception:
            log.exception("callback handler for %s failed", request.path)
            return 500, "handler failed", {"error": "internal error"}
        return 200, result, {"result": result}


class _Request:
    """What the receiver needs of a request line and its headers."""

    def __init__(self, event: h11.Request | None, remote: str | None) -> None:
        self.remote = remote
        if event is None:  # not parsed (not HTTP)
            self.method, self.path, self.headers = "?", "?", {}
            self.content_length: int | None = None
            self.head_bytes = 0
            return
        self.method = event.method.decode("ascii", "replace")
        target = event.target.decode("ascii", "replace")
        self.path = unquote(urlsplit(target).path).rstrip("/") or "/"
        headers: dict[str, str] = {}
        self.head_bytes = len(event.target)
        for name, value in event.headers.raw_items():
            headers.setdefault(name.decode("latin-1"), value.decode("latin-1"))
            self.head_bytes += len(name) + len(value) + 4
        self.headers = headers
        length = next(
            (v for k, v in event.headers if k == b"content-length"), None
        )  # h11 checked it is a number
        self.content_length = int(length) if length is not None else None
