"""The staff PIN: format rule, salted scrypt hash, constant-time check.

The config holds only the hash (``[staff] pin_hash``), self-describing so its
parameters can change later without breaking stored hashes::

    scrypt$n=16384,r=8,p=1$<salt, base64>$<hash, base64>

A PIN is 4 to 12 digits. Nothing here ever logs a PIN or a hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re

log = logging.getLogger(__name__)

PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 12

SCHEME = "scrypt"
# n=2**14, r=8: ~16 MiB and tens of milliseconds per check; enough against an offline
# guess of a short PIN for the time it takes to notice a stolen config, and cheap
# enough for a kiosk CPU. The lockout is what protects against guessing at the screen.
DEFAULT_N = 16384
DEFAULT_R = 8
DEFAULT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# Limits a stored hash may ask for (a hand-edited config must not stall the kiosk):
# scrypt's big table is 128·n·r bytes, and its work grows with n·r·p.
MAX_MEMORY_BYTES = 64 << 20
MAX_WORK = 4 * DEFAULT_N * DEFAULT_R * DEFAULT_P

_DIGITS = re.compile(r"[0-9]+")
_warned_malformed = False


class MalformedPinHash(ValueError):
    """The stored hash is not one this module wrote (say why, never what it holds)."""


def pin_problem(pin: str) -> str | None:
    """Why ``pin`` is not acceptable as a staff PIN, or None when it is."""
    if not pin:
        return "the PIN is empty"
    if not _DIGITS.fullmatch(pin):
        return "the PIN must be digits only (0-9)"
    if not PIN_MIN_DIGITS <= len(pin) <= PIN_MAX_DIGITS:
        return f"the PIN must have {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits"
    return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    # maxmem: what OpenSSL allocates (its table 128·r·(n+2) and p blocks of 128·r)
    # plus slack; its default (32 MiB) is too small for larger n·r.
    maxmem = 128 * r * (n + 2) + 128 * r * p + (1 << 20)
    return hashlib.scrypt(
        pin.encode("ascii"), salt=salt, n=n, r=r, p=p, dklen=length, maxmem=maxmem
    )


def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """The self-describing hash of ``pin`` (a fresh random salt unless given).

    Raises ValueError when the PIN itself is not acceptable (see :func:`pin_problem`).
    """
    problem = pin_problem(pin)
    if problem is not None:
        raise ValueError(problem)
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    if len(salt) < 8:
        raise ValueError("the salt must have at least 8 bytes")
    digest = _scrypt(pin, salt, DEFAULT_N, DEFAULT_R, DEFAULT_P, HASH_BYTES)
    return f"{SCHEME}$n={DEFAULT_N},r={DEFAULT_R},p={DEFAULT_P}${_b64(salt)}${_b64(digest)}"


def parse_pin_hash(stored: str) -> tuple[int, int, int, bytes, bytes]:
    """(n, r, p, salt, hash) of a stored hash; MalformedPinHash says what is wrong."""
    parts = stored.strip().split("$")
    if len(parts) != 4 or parts[0] != SCHEME:
        raise MalformedPinHash("not a 'scrypt$n=..,r=..,p=..$salt$hash' PIN hash")
    params: dict[str, int] = {}
    for item in parts[1].split(","):
        name, _, value = item.partition("=")
        if name not in ("n", "r", "p") or not value.isdigit() or len(value) > 12 or name in params:
            raise MalformedPinHash("the PIN hash parameters are not n=..,r=..,p=..")
        params[name] = int(value)
    if set(params) != {"n", "r", "p"}:
        raise MalformedPinHash("the PIN hash parameters need n, r and p")
    n, r, p = params["n"], params["r"], params["p"]
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        raise MalformedPinHash("the PIN hash parameters are out of range")
    if 128 * n * r > MAX_MEMORY_BYTES:
        raise MalformedPinHash(
            f"the PIN hash would need {128 * n * r >> 20} MiB per check "
            f"(at most {MAX_MEMORY_BYTES >> 20} MiB)"
        )
    if n * r * p > MAX_WORK:
        raise MalformedPinHash(
            f"the PIN hash would cost {n * r * p / (DEFAULT_N * DEFAULT_R * DEFAULT_P):g} "
            "times a default check (at most 4)"
        )
    try:
        salt = base64.b64decode(parts[2], validate=True)
        digest = base64.b64decode(parts[3], validate=True)
    except (binascii.Error, ValueError):
        raise MalformedPinHash("the PIN hash salt or hash is not base64") from None
    if len(salt) < 8 or not 16 <= len(digest) <= 64:
        raise MalformedPinHash("the PIN hash salt or hash has the wrong length")
    return n, r, p, salt, digest


def pin_hash_problem(stored: str) -> str | None:
    """Why a stored hash cannot be used, or None (an empty one means "no PIN set")."""
    if not stored:
        return "no staff PIN is set"
    try:
        parse_pin_hash(stored)
    except MalformedPinHash as exc:
        return str(exc)
    return None


def verify_pin(pin: str, stored: str) -> bool:
    """Does ``pin`` match ``stored``? Constant-time on the hash; False for a malformed
    stored hash (logged once per process, without the hash) or a PIN that breaks the
    format rule."""
    global _warned_malformed
    try:
        n, r, p, salt, digest = parse_pin_hash(stored)
    except MalformedPinHash as exc:
        if not _warned_malformed:
            _warned_malformed = True
            log.error(
                "staff: the configured staff PIN hash is unusable (%s); "
                "set a new one with `kioskapp admin set-pin`",
                exc,
            )
        return False
    if pin_problem(pin) is not None:
        # Still spend the time of a check: the answer must not hint at the format.
        _scrypt("0000", salt, n, r, p, len(digest))
        return False
    return hmac.compare_digest(_scrypt(pin, salt, n, r, p, len(digest)), digest)


__all__ = [
    "PIN_MAX_DIGITS",
    "PIN_MIN_DIGITS",
    "MalformedPinHash",
    "hash_pin",
    "parse_pin_hash",
    "pin_hash_problem",
    "pin_problem",
    "verify_pin",
]
