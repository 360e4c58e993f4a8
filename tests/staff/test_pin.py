"""The staff PIN hash: format rule, salted scrypt, constant-time check, bad stored hashes."""

from __future__ import annotations

import base64
import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest

from kioskapp.config import check_file, load_config
from kioskapp.staff import pin as pin_module
from kioskapp.staff.pin import hash_pin, parse_pin_hash, pin_hash_problem, pin_problem, verify_pin


def test_a_hash_verifies_its_pin_and_no_other() -> None:
    stored = hash_pin("4321")
    assert stored.startswith("scrypt$n=16384,r=8,p=1$")
    assert "4321" not in stored
    assert verify_pin("4321", stored)
    assert not verify_pin("4322", stored)
    assert not verify_pin("43210", stored)
    assert not verify_pin("", stored)


def test_every_hash_has_its_own_salt() -> None:
    first, second = hash_pin("123456"), hash_pin("123456")
    assert first != second
    assert parse_pin_hash(first)[3] != parse_pin_hash(second)[3]
    assert verify_pin("123456", first)
    assert verify_pin("123456", second)


def test_a_given_salt_gives_the_same_hash() -> None:
    salt = bytes(range(16))
    assert hash_pin("987654", salt=salt) == hash_pin("987654", salt=salt)
    assert hash_pin("987654", salt=salt) != hash_pin("987655", salt=salt)


@pytest.mark.parametrize(
    ("pin", "problem"),
    [
        ("", "empty"),
        ("123", "4 to 12 digits"),
        ("1234567890123", "4 to 12 digits"),
        ("12a4", "digits only"),
        ("12 34", "digits only"),
        ("١٢٣٤", "digits only"),  # Arabic-Indic digits are not 0-9
    ],
)
def test_pin_format_rule(pin: str, problem: str) -> None:
    message = pin_problem(pin)
    assert message is not None
    assert problem in message
    with pytest.raises(ValueError, match=problem):
        hash_pin(pin)


@pytest.mark.parametrize("pin", ["0000", "123456789012", "0042"])
def test_acceptable_pins(pin: str) -> None:
    assert pin_problem(pin) is None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


GOOD_SALT, GOOD_HASH = _b64(b"s" * 16), _b64(b"h" * 32)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "1234",
        "plain-text-pin",
        f"bcrypt$n=16384,r=8,p=1${GOOD_SALT}${GOOD_HASH}",
        f"scrypt$n=16384,r=8${GOOD_SALT}${GOOD_HASH}",
        f"scrypt$n=16384,r=8,p=1,x=2${GOOD_SALT}${GOOD_HASH}",
        f"scrypt$n=1000,r=8,p=1${GOOD_SALT}${GOOD_HASH}",  # not a power of two
        f"scrypt$n=1073741824,r=8,p=1${GOOD_SALT}${GOOD_HASH}",  # would stall the kiosk
        f"scrypt$n=16384,r=8,p=1$not base64!${GOOD_HASH}",
        f"scrypt$n=16384,r=8,p=1${_b64(b'short')}${GOOD_HASH}",
        f"scrypt$n=16384,r=8,p=1${GOOD_SALT}${_b64(b'x')}",
        f"scrypt$n=16384,r=8,p=1${GOOD_SALT}",
    ],
)
def test_a_malformed_stored_hash_never_verifies(stored: str) -> None:
    assert not verify_pin("1234", stored)
    assert pin_hash_problem(stored) is not None


def test_a_malformed_hash_is_logged_once_without_its_content(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pin_module, "_warned_malformed", False)
    secretish = f"scrypt$n=3,r=8,p=1${GOOD_SALT}${GOOD_HASH}"
    with caplog.at_level(logging.ERROR, logger="kioskapp.staff.pin"):
        assert not verify_pin("5555", secretish)
        assert not verify_pin("5555", secretish)
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1
    assert "set-pin" in messages[0]
    assert GOOD_SALT not in messages[0]
    assert "5555" not in messages[0]


def test_a_pin_breaking_the_format_never_matches_even_a_crafted_hash() -> None:
    # A hash made (by hand) of a non-digit PIN: the format rule still refuses it.
    salt = b"x" * 16
    crafted = pin_module._scrypt("abcd", salt, 16384, 8, 1, 32)
    stored = f"scrypt$n=16384,r=8,p=1${_b64(salt)}${_b64(crafted)}"
    assert pin_hash_problem(stored) is None
    assert not verify_pin("abcd", stored)


def _stored(n: int, r: int, p: int) -> str:
    return f"scrypt$n={n},r={r},p={p}${GOOD_SALT}${GOOD_HASH}"


@pytest.mark.parametrize(
    ("n", "r", "p", "why"),
    [
        (1 << 20, 32, 16, "4096 MiB"),  # ~4 GiB and 16x the CPU: a stalled kiosk
        (1 << 17, 8, 1, "128 MiB"),
        (1 << 16, 16, 1, "128 MiB"),
        (1 << 14, 8, 5, "5 times a default check"),
        (1 << 12, 8, 40, "10 times a default check"),
        (1 << 14, 8, 10**13, "parameters are not"),  # an absurd number is not parsed
    ],
)
def test_a_hash_beyond_the_bounds_is_refused(n: int, r: int, p: int, why: str) -> None:
    stored = _stored(n, r, p)
    problem = pin_hash_problem(stored)
    assert problem is not None
    assert why in problem
    assert GOOD_SALT not in problem
    assert not verify_pin("1234", stored)


@pytest.mark.parametrize(("n", "r", "p"), [(1 << 16, 8, 1), (1 << 14, 8, 4), (1 << 15, 16, 1)])
def test_a_hash_at_the_bounds_is_accepted(n: int, r: int, p: int) -> None:
    assert pin_hash_problem(_stored(n, r, p)) is None


def test_scrypt_is_allowed_what_it_needs_and_not_more(monkeypatch: pytest.MonkeyPatch) -> None:
    """OpenSSL allocates 128·r·(n+2) for its table and 128·r·p for its blocks: the limit
    given to it is that plus a little slack (not a multiple of it)."""
    limits: list[int] = []
    real = hashlib.scrypt

    def spy(password: bytes, **kwargs: Any) -> bytes:
        limits.append(kwargs["maxmem"])
        return real(password, **kwargs)

    monkeypatch.setattr(pin_module.hashlib, "scrypt", spy)
    n, r, p = 1 << 16, 8, 1  # the memory bound: 64 MiB
    salt = b"x" * 16
    digest = real(b"4321", salt=salt, n=n, r=r, p=p, dklen=32, maxmem=1 << 27)
    assert verify_pin("4321", f"scrypt$n={n},r={r},p={p}${_b64(salt)}${_b64(digest)}")
    need = 128 * r * (n + 2) + 128 * r * p
    assert need <= limits[0] <= need + (2 << 20)
    stored = _stored(1 << 14, 8, 4)
    verify_pin("1234", stored)
    need = 128 * 8 * ((1 << 14) + 2) + 128 * 8 * 4
    assert need <= limits[1] <= need + (2 << 20)


def test_config_check_reports_an_unusable_pin_hash(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[staff]\npin_hash = "{_stored(1 << 20, 32, 16)}"\n')
    problems = check_file(config, env={})
    assert [(p.key, "set-pin" in p.message) for p in problems] == [("staff.pin_hash", True)]
    assert GOOD_SALT not in str(problems)
    config.write_text(f'[staff]\npin_hash = "{hash_pin("4321")}"\n')
    assert check_file(config, env={}) == []
    config.write_text('[staff]\npin_hash = ""\n')  # none set: maintenance locked, not an error
    assert check_file(config, env={}) == []
    # The kiosk itself still starts with a bad hash (maintenance mode stays locked).
    config.write_text('[staff]\npin_hash = "plain-text-pin"\n')
    assert load_config(config, env={}).staff.pin_hash.reveal() == "plain-text-pin"
