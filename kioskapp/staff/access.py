"""Who may enter maintenance mode: the staff PIN check with its lockout.

After ``lockout_attempts`` wrong PINs in a row PIN entry is locked for
``lockout_s`` seconds. The count and the lock are kept in the journal
(``kiosk_state`` key ``staff.pin``), so restarting the app does not reset them.
Times are wall-clock (``clock.time()``) because they must survive a restart; a
lock that lies further ahead than ``lockout_s`` (the clock went backwards) is
cut to ``lockout_s`` from now.

Every attempt is audit-logged (``staff.login``, ``staff.pin_wrong``,
``staff.pin_locked_out``, ``staff.login_refused``), never with the PIN.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal

from kioskapp.config import StaffSettings
from kioskapp.core.clock import Clock
from kioskapp.core.journal import Journal
from kioskapp.staff.pin import pin_hash_problem, verify_pin

log = logging.getLogger(__name__)

PIN_STATE_KEY = "staff.pin"

PinRefusal = Literal["wrong", "locked", "no_pin_set", "bad_pin_hash"]


@dataclass(frozen=True)
class PinCheck:
    """The answer to one PIN entry.

    ``reason`` when not ok: "wrong" (``attempts_left`` more before the lock),
    "locked" (``locked_until``: wall-clock time the lock ends; also set on the
    wrong PIN that caused the lock), "no_pin_set" (the config has no
    ``[staff] pin_hash``: maintenance mode is locked until one is set with
    ``kioskapp admin set-pin``), "bad_pin_hash" (the configured hash is unusable:
    set a new one the same way).
    """

    ok: bool
    attempts_left: int
    locked_until: float | None
    reason: PinRefusal | None

    def message(self, now: float) -> str:
        """Plain English for the staff screen."""
        if self.ok:
            return "PIN accepted."
        if self.reason == "no_pin_set":
            return "No staff PIN is set: run `kioskapp admin set-pin` on the kiosk."
        if self.reason == "bad_pin_hash":
            return "The configured staff PIN is unusable: run `kioskapp admin set-pin`."
        if self.reason == "locked":
            left = max(0, int((self.locked_until or now) - now + 0.999))
            return f"Too many wrong PINs: locked for {left // 60}:{left % 60:02d}."
        return f"Wrong PIN, {self.attempts_left} attempt(s) left."


class StaffAccess:
    """PIN check and lockout for one kiosk (one instance per app)."""

    def __init__(self, journal: Journal, settings: StaffSettings, clock: Clock) -> None:
        self._journal = journal
        self._settings = settings
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def pin_set(self) -> bool:
        """Is a staff PIN configured at all (an empty hash = maintenance mode locked)?"""
        return bool(self._settings.pin_hash)

    async def _state(self) -> tuple[int, float | None]:
        """(wrong PINs in a row, lock end or None), with an expired lock cleared."""
        value = await self._journal.call(self._journal.db.get_state, PIN_STATE_KEY) or {}
        failures = _int(value.get("failures"))
        until = value.get("locked_until")
        locked_until = float(until) if isinstance(until, int | float) else None
        now = self._clock.time()
        if locked_until is not None:
            if locked_until <= now:
                return 0, None
            locked_until = min(locked_until, now + self._settings.lockout_s)
        return failures, locked_until

    async def locked_until(self) -> float | None:
        """Wall-clock time PIN entry is locked until, or None when it is not locked."""
        return (await self._state())[1]

    async def attempts_left(self) -> int:
        """Wrong PINs still allowed before the lock (0 while locked)."""
        failures, until = await self._state()
        if until is not None:
            return 0
        return max(0, self._settings.lockout_attempts - failures)

    async def check(self, pin: str, *, actor: str) -> PinCheck:
        """Check one PIN entry, count it, audit it. Never raises for a wrong or odd PIN."""
        async with self._lock:
            return await self._check(pin, actor)

    async def _check(self, pin: str, actor: str) -> PinCheck:
        limit = self._settings.lockout_attempts
        stored = self._settings.pin_hash.reveal()
        failures, until = await self._state()
        if until is not None:
            await self._audit(
                actor, "staff.login_refused", {"reason": "locked", "locked_until": until}
            )
            return PinCheck(False, 0, until, "locked")
        problem = pin_hash_problem(stored)
        if problem is not None:
            reason: PinRefusal = "no_pin_set" if not stored else "bad_pin_hash"
            if reason == "bad_pin_hash":
                log.error(
                    "staff: the configured staff PIN hash is unusable (%s); maintenance mode "
                    "is locked until a new one is set with `kioskapp admin set-pin`",
                    problem,
                )
            await self._audit(actor, "staff.login_refused", {"reason": reason})
            return PinCheck(False, limit - failures, None, reason)
        ok = await asyncio.to_thread(verify_pin, pin, stored)
        db = self._journal.db
        if ok:
            await self._journal.call(
                db.set_state,
                PIN_STATE_KEY,
                {"failures": 0, "locked_until": None},
                audit=(actor, "staff.login", {}),
            )
            return PinCheck(True, limit, None, None)
        failures += 1
        if failures >= limit:
            locked_until = self._clock.time() + self._settings.lockout_s
            log.warning(
                "staff: %d wrong PINs in a row; PIN entry locked for %.0f s",
                failures,
                self._settings.lockout_s,
            )
            await self._journal.call(
                db.set_state,
                PIN_STATE_KEY,
                {"failures": 0, "locked_until": locked_until},
                audit=(
                    actor,
                    "staff.pin_locked_out",
                    {"attempts": failures, "locked_until": locked_until},
                ),
            )
            return PinCheck(False, 0, locked_until, "locked")
        left = limit - failures
        await self._journal.call(
            db.set_state,
            PIN_STATE_KEY,
            {"failures": failures, "locked_until": None},
            audit=(actor, "staff.pin_wrong", {"attempts_left": left}),
        )
        return PinCheck(False, left, None, "wrong")

    async def _audit(self, actor: str, action: str, details: dict[str, Any]) -> None:
        await self._journal.call(self._journal.db.add_audit, actor, action, details)


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


__all__ = ["PIN_STATE_KEY", "PinCheck", "PinRefusal", "StaffAccess"]
