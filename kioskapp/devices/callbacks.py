"""The kiosk's local HTTP receiver for device callbacks and payment webhooks.

Devices (Tecalis) and services (KOMOJU, PayJunction webhooks) POST to it.
It listens on loopback unless configured otherwise, refuses bodies over a
size limit before reading them whole, checks JSON where the route wants
JSON, and hands the raw body and headers to the route's handler (webhook
routes verify signatures over the raw bytes). One log line per request says
what came and what was done with it; bodies are never logged.

Answers: 200 ``{"ok":true,"result":...}``; 400 not JSON / not a valid
callback; 401 a handler refused it (bad signature); 404 unknown path; 405
not POST; 413 body too large.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from kioskapp.core.money import loads_json
from kioskapp.devices.errors import ProtocolError

log = logging.getLogger(__name__)


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
    """A small aiohttp server owned by the app: ``add_route`` then ``start``."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, max_body_bytes: int = 64 * 1024
    ) -> None:
        if max_body_bytes < 1:
            raise ValueError("max_body_bytes must be positive")
        self.host = host
        self.port = port
        self.max_body_bytes = max_body_bytes
        self._routes: dict[str, _Route] = {}
        self._runner: web.AppRunner | None = None
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
        if not is_loopback(self.host):
            log.warning(
                "callback receiver listens on %s, not loopback: anything that reaches this "
                "address can post callbacks; restrict it with a firewall",
                self.host,
            )
        app = web.Application(client_max_size=self.max_body_bytes)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise OSError(
                exc.errno, f"callback receiver cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        self._runner = runner
        addresses = runner.addresses
        self._bound_port = int(addresses[0][1]) if addresses else self.port
        log.info("callback receiver listening on %s", self.url)

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> CallbackReceiver:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def _answer(
        self, request: web.Request, status: int, outcome: str, **body: object
    ) -> web.Response:
        log.info(
            "callback %s %s from %s: %d %s",
            request.method,
            request.path,
            request.remote,
            status,
            outcome,
        )
        return web.json_response({"ok": status == 200, **body}, status=status)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        route = self._routes.get(path)
        if route is None:
            return self._answer(request, 404, "unknown path", error="unknown callback path")
        if request.method != "POST":
            return self._answer(request, 405, "not POST", error="callbacks must be POSTed")
        length = request.content_length
        if length is not None and length > self.max_body_bytes:
            return self._answer(
                request, 413, f"body of {length} bytes refused", error="body too large"
            )
        body = bytearray()
        while chunk := await request.content.readany():
            body += chunk
            if len(body) > self.max_body_bytes:
                return self._answer(request, 413, "body too large", error="body too large")
        payload: Any = None
        if route.parse_json:
            try:
                payload = loads_json(bytes(body))
            except (ValueError, UnicodeDecodeError, RecursionError):
                return self._answer(request, 400, "not JSON", error="body is not valid JSON")
            if not isinstance(payload, dict):
                return self._answer(
                    request, 400, "not a JSON object", error="body must be a JSON object"
                )
        inbound = InboundCallback(
            path=path,
            headers=dict(request.headers),
            body=bytes(body),
            json=payload,
            remote=request.remote,
        )
        try:
            result = await route.handler(inbound)
        except ProtocolError as exc:
            return self._answer(request, 400, f"invalid: {exc.message}", error=exc.message)
        except CallbackRejected as exc:
            return self._answer(request, exc.status, f"refused: {exc.reason}", error=exc.reason)
        return self._answer(request, 200, result, result=result)
