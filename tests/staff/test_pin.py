"""The staff PIN hash: format rule, salted scrypt, constant-time check, bad stored hashes."""

from __future__ import annotations

import base64
import logging

import pytest

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
