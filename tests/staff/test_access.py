"""The PIN check with its lockout, kept in the journal across restarts."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kioskapp.config import Secret, StaffSettings
from kioskapp.core.clock import ControlledClock
from kioskapp.core.journal import Journal
from kioskapp.staff.access import StaffAccess
from kioskapp.staff.pin import hash_pin

PIN = "5791"
STORED = hash_pin(PIN)
ACTOR = "staff@screen"


def settings(pin_hash: str = STORED, **changes: float) -> StaffSettings:
    values = {"lockout_attempts": 5, "lockout_s": 300.0, "session_timeout_s": 300.0, **changes}
    return StaffSettings(pin_hash=Secret(pin_hash), **values)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def journal(tmp_path: Path, clock: ControlledClock) -> AsyncIterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3", clock=clock)
    try:
        yield j
    finally:
        await j.aclose()


async def audit(journal: Journal) -> list[tuple[str, str, dict[str, object]]]:
    rows = await journal.call(journal.db.audit, limit=100)
    return [(r.actor, r.action, r.details) for r in reversed(rows)]


async def test_right_pin_is_accepted_and_audited(journal: Journal, clock: ControlledClock) -> None:
    access = StaffAccess(journal, settings(), clock)
    check = await access.check(PIN, actor=ACTOR)
    assert check.ok
    assert check.reason is None
    assert await audit(journal) == [(ACTOR, "staff.login", {})]


async def test_wrong_pins_count_down_then_lock(journal: Journal, clock: ControlledClock) -> None:
    access = StaffAccess(journal, settings(), clock)
    for left in (4, 3, 2, 1):
        check = await access.check("0000", actor=ACTOR)
        assert (check.ok, check.reason, check.attempts_left) == (False, "wrong", left)
        assert check.message(clock.time()) == f"Wrong PIN, {left} attempt(s) left."
    fifth = await access.check("0000", actor=ACTOR)
    assert fifth.reason == "locked"
    assert fifth.locked_until == pytest.approx(clock.time() + 300.0)
    assert fifth.message(clock.time()) == "Too many wrong PINs: locked for 5:00."
    # Locked: even the right PIN is refused, and not counted.
    locked = await access.check(PIN, actor=ACTOR)
    assert (locked.ok, locked.reason) == (False, "locked")
    assert await access.attempts_left() == 0
    clock.advance(299.0)
    assert (await access.check(PIN, actor=ACTOR)).reason == "locked"
    assert (await access.check(PIN, actor=ACTOR)).message(clock.time()).endswith("0:01.")
    clock.advance(1.0)
    assert await access.locked_until() is None
    assert (await access.check(PIN, actor=ACTOR)).ok
    actions = [action for _, action, _ in await audit(journal)]
    assert actions == ["staff.pin_wrong"] * 4 + ["staff.pin_locked_out"] + [
        "staff.login_refused"
    ] * 3 + ["staff.login"]


async def test_a_right_pin_resets_the_count(journal: Journal, clock: ControlledClock) -> None:
    access = StaffAccess(journal, settings(), clock)
    for _ in range(4):
        await access.check("1111", actor=ACTOR)
    assert (await access.check(PIN, actor=ACTOR)).ok
    assert await access.attempts_left() == 5
    check = await access.check("1111", actor=ACTOR)
    assert check.attempts_left == 4


async def test_the_lock_survives_a_restart(tmp_path: Path, clock: ControlledClock) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path, clock=clock)
    try:
        access = StaffAccess(journal, settings(), clock)
        for _ in range(5):
            await access.check("2222", actor=ACTOR)
        until = await access.locked_until()
        assert until is not None
    finally:
        await journal.aclose()
    clock.advance(60.0)
    reopened = Journal(path, clock=clock)
    try:
        again = StaffAccess(reopened, settings(), clock)
        assert await again.locked_until() == until
        assert (await again.check(PIN, actor=ACTOR)).reason == "locked"
        clock.advance(240.0)
        assert (await again.check(PIN, actor=ACTOR)).ok
    finally:
        await reopened.aclose()


async def test_wrong_pins_before_a_restart_still_count(
    tmp_path: Path, clock: ControlledClock
) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path, clock=clock)
    try:
        for _ in range(3):
            await StaffAccess(journal, settings(), clock).check("3333", actor=ACTOR)
    finally:
        await journal.aclose()
    reopened = Journal(path, clock=clock)
    try:
        access = StaffAccess(reopened, settings(), clock)
        assert (await access.check("3333", actor=ACTOR)).attempts_left == 1
    finally:
        await reopened.aclose()


async def test_a_lock_from_a_clock_that_went_back_is_cut(
    journal: Journal, clock: ControlledClock
) -> None:
    # The lock was written when the clock was a day ahead: it lasts lockout_s from now.
    await journal.call(
        journal.db.set_state, "staff.pin", {"failures": 0, "locked_until": clock.time() + 86_400}
    )
    access = StaffAccess(journal, settings(lockout_s=60.0), clock)
    assert await access.locked_until() == pytest.approx(clock.time() + 60.0)


async def test_garbage_in_the_stored_state_is_harmless(
    journal: Journal, clock: ControlledClock
) -> None:
    await journal.call(
        journal.db.set_state, "staff.pin", {"failures": "many", "locked_until": "soon"}
    )
    access = StaffAccess(journal, settings(), clock)
    assert await access.locked_until() is None
    assert (await access.check(PIN, actor=ACTOR)).ok


async def test_no_pin_set_means_maintenance_is_locked(
    journal: Journal, clock: ControlledClock
) -> None:
    access = StaffAccess(journal, settings(pin_hash=""), clock)
    assert not access.pin_set
    check = await access.check("1234", actor=ACTOR)
    assert (check.ok, check.reason) == (False, "no_pin_set")
    assert "kioskapp admin set-pin" in check.message(clock.time())
    assert await audit(journal) == [(ACTOR, "staff.login_refused", {"reason": "no_pin_set"})]


async def test_a_broken_hash_refuses_without_counting(
    journal: Journal, clock: ControlledClock
) -> None:
    access = StaffAccess(journal, settings(pin_hash="scrypt$garbage"), clock)
    for _ in range(6):
        check = await access.check(PIN, actor=ACTOR)
        assert check.reason == "bad_pin_hash"
    assert await access.locked_until() is None


async def test_no_pin_reaches_the_audit_log(journal: Journal, clock: ControlledClock) -> None:
    access = StaffAccess(journal, settings(), clock)
    for attempt in ("98765", "87654", "76543", "65432", "54321", PIN):
        await access.check(attempt, actor=ACTOR)
    text = json.dumps(await audit(journal))
    for attempt in ("98765", "87654", "76543", "65432", "54321", PIN):
        assert attempt not in text
    assert STORED not in text


async def test_a_hash_asking_too_much_is_refused_and_said_in_the_log(
    journal: Journal, clock: ControlledClock, caplog: pytest.LogCaptureFixture
) -> None:
    """128 MiB per check (n=2^17, r=8): beyond the 64 MiB bound, never computed."""
    salt, digest = base64.b64encode(b"s" * 16).decode(), base64.b64encode(b"h" * 32).decode()
    greedy = f"scrypt$n=131072,r=8,p=1${salt}${digest}"
    access = StaffAccess(journal, settings(pin_hash=greedy), clock)
    with caplog.at_level(logging.ERROR, logger="kioskapp.staff.access"):
        check = await access.check(PIN, actor=ACTOR)
    assert (check.ok, check.reason) == (False, "bad_pin_hash")
    [line] = [r.getMessage() for r in caplog.records]
    assert "128 MiB" in line
    assert "kioskapp admin set-pin" in line
    assert salt not in line
    assert digest not in line
    assert await audit(journal) == [(ACTOR, "staff.login_refused", {"reason": "bad_pin_hash"})]
