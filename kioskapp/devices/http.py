"""HTTP plumbing shared by every vendor client: JSON, typed field access, retries, health.

Vendor modules keep their contract (paths, payloads, codes); this module only
holds what is the same for all of them, so a vendor change stays a one-file
change.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Self, TypeVar

import httpx

from kioskapp.core.clock import Clock
from kioskapp.core.money import loads_json
from kioskapp.devices.errors import (
    ProtocolError,
    ServiceError,
    ServiceTimeout,
    ServiceUnavailable,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


def transport_error(exc: httpx.RequestError, *, service: str, what: str) -> ServiceError:
    """Translate an httpx request failure into our tree (to be raised ``from exc``).

    No answer in time → :class:`ServiceTimeout`; no connection or a dropped
    one → :class:`ServiceUnavailable`; an answer that came but cannot be read
    (a broken compressed body, endless redirects) → :class:`ProtocolError`.
    """
    if isinstance(exc, httpx.TimeoutException):
        return ServiceTimeout(f"{what}: no answer in time ({type(exc).__name__})", service=service)
    if isinstance(exc, httpx.TransportError):
        return ServiceUnavailable(f"{what}: {type(exc).__name__}: {exc}", service=service)
    return ProtocolError(f"{what}: the answer could not be read ({type(exc).__name__})",
                         service=service)  # fmt: skip


def decode_json(
    body: bytes, *, service: str, what: str, status: int | None = None, preview: bool = True
) -> Any:
    """Parse a response body as JSON with exact decimals, or raise :class:`ProtocolError`.

    The error quotes the body's first bytes unless ``preview`` is off (answers
    that may carry secrets).
    """
    try:
        return loads_json(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        shown = _preview(body) if preview else f"{len(body)} bytes"
        raise ProtocolError(
            f"{what}: answer is not valid JSON ({shown})", service=service, status=status
        ) from exc


def _preview(body: bytes, limit: int = 60) -> str:
    text = body[:limit].decode("utf-8", "replace").replace("\n", " ")
    return repr(text + ("…" if len(body) > limit else ""))


def is_true(value: object) -> bool:
    """Vendors send success as ``true`` or as the string ``"true"``: accept both."""
    if isinstance(value, bool):
        return value
    return isinstance(value, str) and value.strip().lower() == "true"


class Fields:
    """Typed, checked access to one JSON object of a vendor answer.

    Every failed expectation raises :class:`ProtocolError` naming the vendor,
    the object, the field, what was expected and what came, so a malformed
    answer is never a ``KeyError`` or ``TypeError`` deep in the flow.
    """

    def __init__(self, value: object, *, service: str, what: str) -> None:
        if not isinstance(value, Mapping):
            raise ProtocolError(
                f"{what}: expected a JSON object, got {_kind(value)}", service=service
            )
        self.data: Mapping[str, Any] = value
        self.service = service
        self.what = what

    def _fail(self, key: str, expected: str, value: object) -> ProtocolError:
        return ProtocolError(
            f"{self.what}: field {key!r} should be {expected}, got {_kind(value)}",
            service=self.service,
        )

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "a non-empty string", value)
        return value

    def opt_text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(key, "a string or null", value)
        return value

    def integer(self, key: str) -> int:
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer", value)
        return value

    def opt_integer(self, key: str) -> int | None:
        return None if self.data.get(key) is None else self.integer(key)

    def number(self, key: str) -> int | Decimal:
        """A JSON number, exact (JSON decimals are parsed as :class:`Decimal`)."""
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise self._fail(key, "a number", value)
        if isinstance(value, Decimal) and not value.is_finite():
            raise self._fail(key, "a finite number", value)
        return value

    def timestamp(self, key: str) -> float:
        """Epoch seconds. Timestamps are not money: a float is fine here."""
        return float(self.number(key))

    def flag(self, key: str, default: bool | None = None) -> bool:
        value = self.data.get(key)
        if value is None and default is not None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise self._fail(key, "a boolean", value)

    def obj(self, key: str) -> Fields:
        return Fields(self.data.get(key), service=self.service, what=f"{self.what}.{key}")

    def opt_obj(self, key: str) -> Fields | None:
        return None if self.data.get(key) is None else self.obj(key)

    def str_map(self, key: str) -> dict[str, str]:
        """An object whose values are strings (other scalar values are stringified)."""
        inner = self.obj(key)
        out: dict[str, str] = {}
        for name, value in inner.data.items():
            if isinstance(value, str | int | Decimal | bool):
                out[str(name)] = str(value)
            elif value is not None:
                raise inner._fail(str(name), "a scalar", value)
        return out


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:40] + "…"
        return f"the string {shown!r}"
    if isinstance(value, int | Decimal):
        return f"the number {value}"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, for requests whose repetition is harmless."""

    attempts: int = 3
    base_delay_s: float = 0.2
    max_delay_s: float = 2.0

    def delay(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based): full jitter, capped."""
        cap = min(self.max_delay_s, self.base_delay_s * (2 ** (attempt - 1)))
        return random.uniform(cap / 2, cap)


NO_RETRY = RetryPolicy(attempts=1)


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    clock: Clock,
    what: str,
) -> T:
    """Run ``call``; on a retryable :class:`ServiceError` try again per ``policy``.

    Only for requests whose repetition cannot do anything twice (status reads,
    closes, idempotent posts with a stored key). Never for accept, dispense or
    print: their callers pass :data:`NO_RETRY`.
    """
    attempt = 1
    while True:
        try:
            return await call()
        except ServiceError as exc:
            if not exc.retryable or attempt >= policy.attempts:
                raise
            delay = policy.delay(attempt)
            log.warning("%s failed (%s); retry %d in %.2fs", what, exc, attempt, delay)
            attempt += 1
            await clock.sleep(delay)


class OwnedHttpClient:
    """``async with`` and ``aclose()`` for a client that may own its httpx client.

    Subclasses set ``_http``, ``_own_http`` (True when they created it) and
    ``_closed``; an injected httpx client is left open for its owner.
    """

    _http: httpx.AsyncClient
    _own_http: bool
    _closed: bool

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._own_http:
            await self._http.aclose()
