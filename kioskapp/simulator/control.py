"""A typed async client for the simulators' control API (``/_sim/``).

Tests and the maintenance control panel drive the simulators through it::

    async with SimControl("http://127.0.0.1:8710") as sim:
        await sim.insert_note(20)
        await sim.advance(90)

Every method raises :class:`SimControlError` when the simulator answers an
error (it carries the HTTP status and the error code).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx

from kioskapp.simulator.framework import JsonObject, json_dumps, parse_json

Amount = int | Decimal | str


class SimControlError(Exception):
    """The simulator refused a control request."""

    def __init__(self, status: int, error: str | None, message: str, body: object) -> None:
        super().__init__(f"HTTP {status} {error or ''}: {message}".replace("  ", " "))
        self.status = status
        self.error = error
        self.message = message
        self.body = body


def _object(body: JsonObject, name: str) -> JsonObject:
    value = body.get(name)
    if not isinstance(value, dict):
        raise SimControlError(200, None, f"answer has no object {name!r}", body)
    return value


def _objects(body: JsonObject, name: str) -> list[JsonObject]:
    value = body.get(name)
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SimControlError(200, None, f"answer has no list of objects {name!r}", body)
    return value


def _amount(value: Amount) -> Decimal | int:
    if isinstance(value, int | Decimal):
        return value
    return Decimal(value)


class SimControl:
    """Wraps every control route of :class:`~kioskapp.simulator.framework.SimServer`."""

    def __init__(
        self, base_url: str, http: httpx.AsyncClient | None = None, *, timeout: float = 15.0
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = http if http is not None else httpx.AsyncClient(timeout=timeout)
        self._owns_http = http is None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> SimControl:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # -- transport ----------------------------------------------------------
    async def _request(
        self,
        method: str,
        path: str,
        body: JsonObject | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        content = None if body is None else json_dumps(body).encode()
        headers = {"Content-Type": "application/json"} if content is not None else {}
        response = await self._http.request(
            method, f"{self.base_url}/_sim{path}", content=content, headers=headers, params=params
        )
        if response.is_success:
            return response
        try:
            error_body: object = parse_json(response.text)
        except ValueError:
            error_body = response.text
        error = message = None
        if isinstance(error_body, dict):
            error = error_body.get("error")
            message = error_body.get("message")
        raise SimControlError(
            response.status_code, error, str(message or response.text[:200]), error_body
        )

    async def _json(
        self,
        method: str,
        path: str,
        body: JsonObject | None = None,
        params: dict[str, str] | None = None,
    ) -> JsonObject:
        response = await self._request(method, path, body, params)
        value = parse_json(response.text)
        if not isinstance(value, dict):
            raise SimControlError(response.status_code, None, "not a JSON object", value)
        return value

    @staticmethod
    def _drop_none(**fields: Any) -> JsonObject:
        return {k: v for k, v in fields.items() if v is not None}

    # -- global -------------------------------------------------------------
    async def index(self) -> JsonObject:
        """Services and their URLs, clock, callback mode, armed faults."""
        return await self._json("GET", "/")

    async def reset(self) -> JsonObject:
        """Reset every simulator, clear faults, normal callbacks, empty event log."""
        return await self._json("POST", "/reset")

    async def clock(self) -> JsonObject:
        return await self._json("GET", "/clock")

    async def advance(self, seconds: float | Decimal) -> JsonObject:
        """Move simulated time forward (a ControlledClock only); due timers fire."""
        return await self._json("POST", "/clock/advance", {"seconds": Decimal(str(seconds))})

    async def set_fault(
        self,
        service: str,
        path: str,
        fault: str,
        *,
        method: str | None = None,
        seconds: float | None = None,
        status: int | None = None,
        count: int | None = None,
    ) -> JsonObject:
        """Arm one HTTP fault (``malformed_json``, ``html_502``, ``delay``, ``status``,
        ``drop_connection``) on ``path`` (relative to the service prefix)."""
        body = self._drop_none(
            service=service,
            path=path,
            fault=fault,
            method=method,
            seconds=None if seconds is None else Decimal(str(seconds)),
            status=status,
            count=count,
        )
        return _object(await self._json("POST", "/faults", body), "fault")

    set_faults = set_fault  # the name used in the design notes

    async def faults(self) -> list[JsonObject]:
        return _objects(await self._json("GET", "/faults"), "faults")

    async def clear_faults(self, service: str | None = None) -> int:
        params = None if service is None else {"service": service}
        return int((await self._json("DELETE", "/faults", params=params))["cleared"])

    async def set_callback_mode(
        self, mode: str, count: int | None = None, seconds: float | None = None
    ) -> JsonObject:
        """``normal`` | ``drop`` | ``duplicate`` | ``delay`` (simulated ``seconds``) | ``hold``,
        for the next ``count`` callbacks (default: until changed)."""
        body = self._drop_none(
            mode=mode, count=count, seconds=None if seconds is None else Decimal(str(seconds))
        )
        return await self._json("POST", "/callbacks", body)

    async def release_callbacks(self) -> int:
        """Send the held callbacks, in order; returns how many."""
        return int((await self._json("POST", "/callbacks/release"))["released"])

    async def drain_callbacks(self) -> JsonObject:
        """Wait until every queued callback delivery has been attempted."""
        return await self._json("POST", "/callbacks/drain")

    async def callbacks(self) -> JsonObject:
        """Callback mode and every service's event log."""
        return await self._json("GET", "/callbacks")

    async def call(self, method: str, path: str, body: JsonObject | None = None) -> JsonObject:
        """Any control route by its path below ``/_sim``, e.g. ``call("POST", "/kinetic/x")``."""
        return await self._json(method, path, body)

    # -- Tecalis --------------------------------------------------------------
    async def tecalis_state(self) -> JsonObject:
        return await self._json("GET", "/tecalis/state")

    async def events(self, service: str = "tecalis") -> list[JsonObject]:
        """The service's callback/event log, each with its delivery ``fate``."""
        return _objects(await self._json("GET", f"/{service}/events"), "events")

    async def reset_tecalis(self) -> JsonObject:
        return await self._json("POST", "/tecalis/reset")

    async def configure_tecalis(
        self,
        *,
        session_ttl_s: float | None = None,
        integrator_ttl_s: float | None = None,
        escrow_timeout_s: float | None = None,
        tpv_window_s: float | None = None,
        denominations: list[Amount] | None = None,
        cash_box_capacity: int | None = None,
    ) -> JsonObject:
        def seconds(value: float | None) -> Decimal | None:
            return None if value is None else Decimal(str(value))

        body = self._drop_none(
            session_ttl_s=seconds(session_ttl_s),
            integrator_ttl_s=seconds(integrator_ttl_s),
            escrow_timeout_s=seconds(escrow_timeout_s),
            tpv_window_s=seconds(tpv_window_s),
            denominations=None if denominations is None else [_amount(d) for d in denominations],
            cash_box_capacity=cash_box_capacity,
        )
        return _object(await self._json("POST", "/tecalis/config", body), "config")

    async def insert_note(self, amount: Amount) -> JsonObject:
        """Insert a note: ``{"result": "escrow"|"returned", ...}``."""
        return await self._json("POST", "/tecalis/bill-reader/insert", {"amount": _amount(amount)})

    async def insert_unrecognised(self) -> JsonObject:
        return await self._json("POST", "/tecalis/bill-reader/insert", {"unrecognised": True})

    async def jam_bill_reader(self, when: str | None = "on_accept") -> JsonObject:
        """``"now"``, ``"on_accept"`` (the next accept jams), or None to disarm."""
        return await self._json("POST", "/tecalis/bill-reader/jam", {"when": when})

    async def clear_jam(self, note: str = "returned") -> JsonObject:
        """Staff clear the jam; the stuck note is ``"returned"`` or ``"stacked"``."""
        return await self._json("POST", "/tecalis/bill-reader/clear-jam", {"note": note})

    async def set_cash_box(
        self, *, count_total: int | None = None, empty: bool = False
    ) -> JsonObject:
        body = self._drop_none(count_total=count_total, empty=empty or None)
        return await self._json("POST", "/tecalis/bill-reader/cash-box", body)

    async def tpv_present(self, brand: str = "visa", last4: str = "0010") -> JsonObject:
        return await self._json("POST", "/tecalis/tpv/present", {"brand": brand, "last4": last4})

    async def tpv_pin(self) -> JsonObject:
        return await self._json("POST", "/tecalis/tpv/pin")

    async def tpv_approve(self) -> JsonObject:
        return await self._json("POST", "/tecalis/tpv/approve")

    async def tpv_decline(self) -> JsonObject:
        return await self._json("POST", "/tecalis/tpv/decline")

    async def tpv_error(self) -> JsonObject:
        return await self._json("POST", "/tecalis/tpv/error")

    async def tpv_auto(self, outcome: str | None) -> JsonObject:
        """Play ``approve`` | ``decline`` | ``timeout`` | ``error`` on every prepare; None: off."""
        return await self._json("POST", "/tecalis/tpv/auto", {"outcome": outcome})

    async def set_dispenser(
        self,
        *,
        hopper: int | None = None,
        barcodes: list[str] | None = None,
        jam_next: bool | None = None,
        unreadable_next: int | None = None,
    ) -> JsonObject:
        body = self._drop_none(
            hopper=hopper, barcodes=barcodes, jam_next=jam_next, unreadable_next=unreadable_next
        )
        return await self._json("POST", "/tecalis/dispenser", body)

    async def set_printer(
        self, *, paper: str | None = None, offline: bool | None = None
    ) -> JsonObject:
        return await self._json(
            "POST", "/tecalis/printer", self._drop_none(paper=paper, offline=offline)
        )

    async def printed(self) -> list[JsonObject]:
        """Printed documents: ``{"index", "bytes", "session_id", "at"}``."""
        return _objects(await self._json("GET", "/tecalis/printer/printed"), "printed")

    async def printed_pdf(self, index: int) -> bytes:
        return (await self._request("GET", f"/tecalis/printer/printed/{index}.pdf")).content

    async def set_scanner(self, offline: bool) -> JsonObject:
        return await self._json("POST", "/tecalis/scanner", {"offline": offline})

    async def set_device_offline(self, device: str, offline: bool = True) -> JsonObject:
        """``bill_reader`` | ``tpv`` | ``dispenser`` | ``printer`` | ``scanner``."""
        return await self._json("POST", f"/tecalis/devices/{device}/offline", {"offline": offline})


__all__ = ["SimControl", "SimControlError"]
