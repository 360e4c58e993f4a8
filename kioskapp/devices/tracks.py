"""Magnetic-stripe track data: PayJunction's two read formats and ISO/IEC 7813 tracks.

:func:`parse_tracks` turns the text a card reader (here: a PayJunction Smart
Terminal's ``request-read`` result) gives for one swipe into a
:class:`CardRead`, or raises :class:`TrackParseError`. It accepts:

- PayJunction format 1 (doc): track 2 only, digits only: ``;7090112233654321?``.
- PayJunction format 2 (doc): track 1 ``%B<digits>^?`` then track 2
  ``;<digits>=?``: ``%B924696827707852^?;924696827707852=?``.
- ISO/IEC 7813 track 1 (format code ``B``):
  ``%B<PAN>^<NAME>^<YYMM><service code><discretionary>?<LRC>``.
- ISO/IEC 7813 track 2: ``;<PAN>=<YYMM><service code><discretionary>?<LRC>``.
- Track 1 followed by track 2, or either alone; CR/LF around or between them.

What is checked, exactly:

- Sentinels: track 1 starts with ``%`` and ends at the first ``?``; track 2
  starts with ``;`` and ends at the first ``?``. Anything else around them
  (other than one LRC character per track and CR/LF) is an error.
- Character sets (ISO/IEC 7811): track 1 characters are the 6-bit set
  0x20-0x5F; the field separator is ``^``. Track 2 data is digits and the
  field separator ``=`` only. Capacities: track 1 at most 79 characters and
  track 2 at most 40, sentinels and LRC included.
- Track 1: format code ``B``; the card number is 1-19 digits in a full track,
  or any digit run that fits the track in PayJunction's format 2
  (``%B<digits>^?``, no name or expiry). The name is 2-26 characters (not
  ``^``), trailing padding spaces removed. The expiry is ``YYMM`` with month
  01-12, the service code 3 digits; the discretionary data may be anything of
  the character set but ``^``.
- Track 2: the card number is 1-19 digits when expiry data follows the
  ``=``; in PayJunction's formats (``;<digits>?`` or ``;<digits>=?``) any digit
  run that fits. Expiry ``YYMM`` (month 01-12), service code 3 digits,
  discretionary data digits only.
- A number has at least :data:`MIN_NUMBER_DIGITS` digits (assumed: a shorter
  digit run is a misread, not a card), and when both tracks are present they
  carry the same number.
- LRC, when present (a character right after a track's end sentinel): track 2
  — the XOR of the 4-bit values (character code - 0x30) of every character
  from ``;`` to ``?`` inclusive equals the LRC's 4-bit value; track 1 — the
  XOR of the 6-bit values (character code - 0x20) from ``%`` to ``?``
  inclusive equals the LRC's 6-bit value. The parity bits (odd parity on every
  character, the LRC's own parity bit) do not survive decoding to text: the
  reader checks them, this module cannot. A missing LRC is accepted (PayJunction
  returns none in its samples). Track 1's LRC may be ``;``: ``?;;...`` is an
  LRC then track 2, and ``?;`` + a valid track 2 is read as track 2 without LRC.

Not accepted: ISO's optional forms where a field separator stands in for an
absent expiry or service code, other track 1 format codes than ``B``, and a
third track.

Card numbers are never logged or put into error messages: :class:`CardRead`
shows only the last four digits in ``repr``/``str``, and
:class:`TrackParseError` messages name positions and rules, never content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "MIN_NUMBER_DIGITS",
    "CardRead",
    "TrackParseError",
    "parse_tracks",
    "track1_lrc",
    "track2_lrc",
]

#: Fewest digits taken as a card number (assumed: shorter runs are misreads).
MIN_NUMBER_DIGITS: Final = 6
#: ISO/IEC 7813: the primary account number has at most 19 digits.
MAX_PAN_DIGITS: Final = 19
#: ISO/IEC 7811 capacities, sentinels and LRC included.
TRACK1_MAX_CHARS: Final = 79
TRACK2_MAX_CHARS: Final = 40
NAME_MIN_CHARS: Final = 2
NAME_MAX_CHARS: Final = 26

_DIGITS: Final = frozenset("0123456789")
_LINE_BREAKS: Final = "\r\n"


class TrackParseError(ValueError):
    """Track data that is not a readable card. The message never contains card data."""


def _is_digits(text: str) -> bool:
    # str.isdigit() accepts other scripts' digits and superscripts: only ASCII counts here.
    return bool(text) and all(ch in _DIGITS for ch in text)


def _track1_char(ch: str) -> bool:
    return 0x20 <= ord(ch) <= 0x5F


def track1_lrc(track: str) -> str:
    """The LRC character of a track 1 given from ``%`` to ``?`` inclusive (6-bit XOR)."""
    acc = 0
    for ch in track:
        if not _track1_char(ch):
            raise TrackParseError("track 1 holds a character outside the 6-bit set")
        acc ^= ord(ch) - 0x20
    return chr(0x20 + acc)


def track2_lrc(track: str) -> str:
    """The LRC character of a track 2 given from ``;`` to ``?`` inclusive (4-bit XOR)."""
    acc = 0
    for ch in track:
        if not 0x30 <= ord(ch) <= 0x3F:
            raise TrackParseError("track 2 holds a character outside the 4-bit set")
        acc ^= ord(ch) - 0x30
    return chr(0x30 + acc)


@dataclass(frozen=True, repr=False)
class CardRead:
    """One swiped card. ``number`` is the card number (the digit run): never log it."""

    number: str
    track1: str | None = None  # as read, sentinels included, LRC removed
    track2: str | None = None
    name: str | None = None
    expiry: str | None = None  # YYMM
    service_code: str | None = None

    @property
    def last4(self) -> str:
        return self.number[-4:]

    @property
    def masked(self) -> str:
        """The number for logs and screens: only the last four digits."""
        return "****" + self.last4

    def __repr__(self) -> str:
        tracks = "+".join(
            name for name, value in (("track1", self.track1), ("track2", self.track2)) if value
        )
        return (
            f"CardRead(number={self.masked}, tracks={tracks}, "
            f"name={'<hidden>' if self.name else None}, expiry={self.expiry}, "
            f"service_code={self.service_code})"
        )

    __str__ = __repr__


@dataclass(frozen=True)
class _Track:
    raw: str = field(repr=False)
    number: str = field(repr=False)
    name: str | None = field(default=None, repr=False)
    expiry: str | None = None
    service_code: str | None = None


def _check_number(number: str, track: str, *, full: bool, capacity: int) -> None:
    if not _is_digits(number):
        raise TrackParseError(f"{track}: the card number is not a run of digits")
    if len(number) < MIN_NUMBER_DIGITS:
        raise TrackParseError(
            f"{track}: a card number of {len(number)} digits is too short "
            f"(at least {MIN_NUMBER_DIGITS})"
        )
    limit = MAX_PAN_DIGITS if full else capacity
    if len(number) > limit:
        raise TrackParseError(f"{track}: a card number of {len(number)} digits is too long")


def _expiry_and_service(data: str, track: str) -> tuple[str, str]:
    """``YYMM`` + 3-digit service code at the start of ``data`` (discretionary data follows)."""
    if len(data) < 7 or not _is_digits(data[:7]):
        raise TrackParseError(f"{track}: expiry (YYMM) and service code (3 digits) expected")
    expiry, service = data[:4], data[4:7]
    if not 1 <= int(expiry[2:]) <= 12:
        raise TrackParseError(f"{track}: the expiry month is not 01-12")
    return expiry, service


def _parse_track1(raw: str) -> _Track:
    """``raw`` from ``%`` to ``?`` inclusive."""
    if len(raw) > TRACK1_MAX_CHARS:
        raise TrackParseError(f"track 1 is longer than {TRACK1_MAX_CHARS} characters")
    body = raw[1:-1]
    for ch in body:
        if not _track1_char(ch) or ch == "%":
            raise TrackParseError("track 1 holds a character outside its character set")
    if not body.startswith("B"):
        raise TrackParseError("track 1 does not start with format code B")
    fields = body[1:].split("^")
    if len(fields) == 2 and fields[1] == "":
        # PayJunction format 2: %B<digits>^?
        _check_number(fields[0], "track 1", full=False, capacity=TRACK1_MAX_CHARS - 5)
        return _Track(raw, fields[0])
    if len(fields) != 3:
        raise TrackParseError(
            "track 1 must be B<number>^<name>^<expiry...> or PayJunction's B<number>^"
        )
    number, name, data = fields
    _check_number(number, "track 1", full=True, capacity=MAX_PAN_DIGITS)
    if not NAME_MIN_CHARS <= len(name) <= NAME_MAX_CHARS:
        raise TrackParseError(
            f"track 1: the name field has {len(name)} characters "
            f"({NAME_MIN_CHARS}-{NAME_MAX_CHARS} expected)"
        )
    expiry, service = _expiry_and_service(data, "track 1")
    return _Track(raw, number, name.rstrip(" ") or None, expiry, service)


def _parse_track2(raw: str) -> _Track:
    """``raw`` from ``;`` to ``?`` inclusive."""
    if len(raw) > TRACK2_MAX_CHARS:
        raise TrackParseError(f"track 2 is longer than {TRACK2_MAX_CHARS} characters")
    body = raw[1:-1]
    number, separator, data = body.partition("=")
    capacity = TRACK2_MAX_CHARS - 3
    if not separator or not data:
        # PayJunction format 1 (;<digits>?) or format 2's track 2 (;<digits>=?)
        _check_number(number, "track 2", full=False, capacity=capacity)
        return _Track(raw, number)
    _check_number(number, "track 2", full=True, capacity=capacity)
    if not _is_digits(data):
        raise TrackParseError("track 2: the data after '=' must be digits only")
    expiry, service = _expiry_and_service(data, "track 2")
    return _Track(raw, number, None, expiry, service)


def _segment(text: str, start: str) -> tuple[str, str]:
    """Split ``text`` (starting with ``start``) into the track up to its ``?`` and the rest."""
    end = text.find("?", 1)
    if end < 0:
        what = "track 1" if start == "%" else "track 2"
        raise TrackParseError(f"{what} has no end sentinel '?'")
    return text[: end + 1], text[end + 1 :]


def _check_lrc(track: str, lrc: str, *, which: int) -> None:
    expected = track1_lrc(track) if which == 1 else track2_lrc(track)
    if lrc != expected:
        raise TrackParseError(f"track {which}: the LRC does not match the data")


def _track2_with_lrc(text: str) -> _Track:
    """``text`` is exactly one track 2, optionally followed by its LRC."""
    raw, rest = _segment(text, ";")
    rest = rest.rstrip(_LINE_BREAKS)
    if len(rest) > 1:
        raise TrackParseError("unexpected data after track 2")
    track = _parse_track2(raw)
    if rest:
        _check_lrc(raw, rest, which=2)
    return track


def parse_tracks(data: str | bytes) -> CardRead:
    """Parse one swipe's track data; raises :class:`TrackParseError` if it is not a card."""
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("ascii")
        except UnicodeDecodeError:
            raise TrackParseError("track data is not ASCII") from None
    if not isinstance(data, str):
        raise TrackParseError("track data is not text")
    text = data.strip(_LINE_BREAKS)
    if not text:
        raise TrackParseError("no track data")
    if len(text) > TRACK1_MAX_CHARS + TRACK2_MAX_CHARS + 4:
        raise TrackParseError("track data is longer than two tracks")
    track1: _Track | None = None
    track2: _Track | None = None
    if text.startswith("%"):
        raw1, rest = _segment(text, "%")
        track1 = _parse_track1(raw1)
        if rest and rest[0] not in _LINE_BREAKS:
            if rest[0] == ";":
                try:
                    track2 = _track2_with_lrc(rest)
                except TrackParseError as not_track2:
                    # Then the ';' must be track 1's LRC (6-bit value 0x1B).
                    if track1_lrc(raw1) != ";":
                        raise not_track2 from None
                    rest = rest[1:]
            else:
                _check_lrc(raw1, rest[0], which=1)
                rest = rest[1:]
        if track2 is None:
            rest = rest.lstrip(_LINE_BREAKS)
            if rest:
                if not rest.startswith(";"):
                    raise TrackParseError("unexpected data after track 1")
                track2 = _track2_with_lrc(rest)
    elif text.startswith(";"):
        track2 = _track2_with_lrc(text)
    else:
        raise TrackParseError("track data must start with a start sentinel ('%' or ';')")
    return _card_read(track1, track2)


def _card_read(track1: _Track | None, track2: _Track | None) -> CardRead:
    expiry = service_code = None
    for track in (track1, track2):
        if track is None or track.expiry is None:
            continue
        if expiry is not None and (track.expiry, track.service_code) != (expiry, service_code):
            raise TrackParseError("track 1 and track 2 carry different expiry or service code")
        expiry, service_code = track.expiry, track.service_code
    if track1 is not None and track2 is not None and track1.number != track2.number:
        raise TrackParseError("track 1 and track 2 carry different card numbers")
    first = track1 or track2
    assert first is not None
    return CardRead(
        number=first.number,
        track1=track1.raw if track1 else None,
        track2=track2.raw if track2 else None,
        name=track1.name if track1 else None,
        expiry=expiry,
        service_code=service_code,
    )
