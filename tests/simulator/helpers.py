"""Test helpers: a callback receiver and a thin raw-HTTP Tecalis caller.

Deliberately NOT the kioskapp Tecalis client: these tests pin the simulator's
wire behaviour with plain httpx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
from aiohttp import web

from kioskapp.simulator.framework import json_dumps

Json = dict[str, Any]


def parse(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


class CallbackReceiver:
    """An aiohttp server on 127.0.0.1:0 recording every callback POSTed to it."""

    def __init__(self) -> None:
        self.received: list[Json] = []
        self.status = 200
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/callback", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/callback"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _handle(self, request: web.Request) -> web.Response:
        payload = parse(await request.text())
        async with self._changed:
            self.received.append(payload)
            self._changed.notify_all()
        return web.Response(status=self.status)

    async def wait_for(
        self, predicate: Callable[[list[Json]], bool], timeout: float = 5.0
    ) -> list[Json]:
        async def until() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self.received))

        await asyncio.wait_for(until(), timeout)
        return list(self.received)

    async def wait_count(self, count: int, timeout: float = 5.0) -> list[Json]:
        return await self.wait_for(lambda got: len(got) >= count, timeout)

    async def wait_event(self, event: str, timeout: float = 5.0, **fields: Any) -> Json:
        """The first received callback named ``event`` whose fields match."""

        def match(payload: Json) -> bool:
            return payload.get("event") == event and all(
                payload.get(k) == v for k, v in fields.items()
            )

        got = await self.wait_for(lambda got: any(match(p) for p in got), timeout)
        return next(p for p in got if match(p))

    def names(self) -> list[str]:
        return [str(p.get("event")) for p in self.received]


class Reply:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.text = response.text
        try:
            body = parse(response.text)
        except ValueError:  # an injected fault's HTML page or broken JSON
            body = None
        self.body: Json = body if isinstance(body, dict) else {}

    @property
    def error(self) -> str | None:
        return self.body.get("error")

    def __repr__(self) -> str:
        return f"<Reply {self.status} {self.text[:300]}>"


class Tecalis:
    """Raw HTTP calls to the simulated Tecalis API."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.session_token: str | None = None
        self.session_id: str | None = None

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Json | None = None,
        content: str | None = None,
    ) -> Reply:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        if body is not None:
            content = json_dumps(body)  # Decimal amounts as exact JSON numbers
            headers["Content-Type"] = "application/json"
        response = await self.http.request(method, path, headers=headers, content=content)
        return Reply(response)

    async def integrator_token(self) -> str:
        reply = await self.call(
            "POST", "/api/auth", body={"username": "integrator", "password": "integrator-secret"}
        )
        assert reply.status == 200, reply
        return str(reply.body["token"])

    async def start_session(self, integrator: str | None = None, **body: Any) -> Reply:
        token = integrator or await self.integrator_token()
        return await self.call(
            "POST",
            "/api/session/start",
            token,
            body=body or {"kiosk_id": "KIOSK-001", "record": False},
        )

    async def open_session(self) -> str:
        reply = await self.start_session()
        assert reply.status == 200, reply
        self.session_token = str(reply.body["token"])
        self.session_id = str(reply.body["session_id"])
        return self.session_token

    async def s(
        self, method: str, path: str, body: Json | None = None, content: str | None = None
    ) -> Reply:
        """A session-level call with the current session token."""
        assert self.session_token is not None
        return await self.call(method, "/api/session/" + path, self.session_token, body, content)
