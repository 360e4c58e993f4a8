"""The magnetic-stripe track parser: PayJunction's formats 1 and 2, ISO/IEC 7813, LRC, garbage."""

from __future__ import annotations

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from kioskapp.devices.tracks import (
    MIN_NUMBER_DIGITS,
    CardRead,
    TrackParseError,
    parse_tracks,
    track1_lrc,
    track2_lrc,
)

# PayJunction's own samples (seed: POST /smartterminals/{id}/request-read).
FORMAT1 = ";7090112233654321?"
FORMAT2 = "%B924696827707852^?;924696827707852=?"

# An ISO/IEC 7813 card (the common Visa test number), tracks without their LRC.
ISO_T1 = "%B4111111111111111^DOE/JOHN^2512101123456789?"
ISO_T2 = ";4111111111111111=25121011234567?"


def with_lrc1(track: str) -> str:
    return track + track1_lrc(track)


def with_lrc2(track: str) -> str:
    return track + track2_lrc(track)


# -- PayJunction formats ------------------------------------------------------------


def test_format_1_is_track_2_digits_only() -> None:
    card = parse_tracks(FORMAT1)
    assert card == CardRead(number="7090112233654321", track2=FORMAT1)
    assert card.track1 is None
    assert (card.name, card.expiry, card.service_code) == (None, None, None)


def test_format_2_is_track_1_and_track_2() -> None:
    card = parse_tracks(FORMAT2)
    assert card.number == "924696827707852"
    assert card.track1 == "%B924696827707852^?"
    assert card.track2 == ";924696827707852=?"
    assert (card.name, card.expiry, card.service_code) == (None, None, None)


def test_format_2_tracks_alone() -> None:
    assert parse_tracks("%B924696827707852^?").number == "924696827707852"
    assert parse_tracks(";924696827707852=?").number == "924696827707852"


def test_line_breaks_around_and_between_tracks_are_tolerated() -> None:
    assert parse_tracks("\r\n" + FORMAT1 + "\r\n").number == "7090112233654321"
    card = parse_tracks("%B924696827707852^?\r\n;924696827707852=?\n")
    assert (card.track1, card.track2) == ("%B924696827707852^?", ";924696827707852=?")


def test_bytes_are_read_as_ascii() -> None:
    assert parse_tracks(FORMAT1.encode()).number == "7090112233654321"
    with pytest.raises(TrackParseError, match="ASCII"):
        parse_tracks(b";70901122\xff33654321?")


# -- ISO/IEC 7813 ---------------------------------------------------------------------


def test_iso_track_1_fields() -> None:
    card = parse_tracks(ISO_T1)
    assert card.number == "4111111111111111"
    assert card.name == "DOE/JOHN"
    assert card.expiry == "2512"
    assert card.service_code == "101"
    assert card.track1 == ISO_T1
    assert card.track2 is None


def test_iso_track_2_fields() -> None:
    card = parse_tracks(ISO_T2)
    assert (card.number, card.expiry, card.service_code) == ("4111111111111111", "2512", "101")
    assert card.name is None


def test_iso_both_tracks_with_lrc() -> None:
    card = parse_tracks(with_lrc1(ISO_T1) + with_lrc2(ISO_T2))
    assert card.number == "4111111111111111"
    assert card.name == "DOE/JOHN"
    assert (card.track1, card.track2) == (ISO_T1, ISO_T2)  # the LRCs are not part of the tracks


def test_name_padding_is_removed() -> None:
    track = "%B4111111111111111^DOE/JOHN            ^2512101?"
    assert parse_tracks(track).name == "DOE/JOHN"


def test_lrc_values_computed_by_hand() -> None:
    # Track 2: 0xB ^ (1^2^3^4^5^6 = 7) ^ 0xD ^ (2^5^1^2^1^0^1 = 4) ^ 0xF = 0xA -> ':'
    assert track2_lrc(";123456=2512101?") == ":"
    assert parse_tracks(";123456=2512101?:").number == "123456"
    # Track 1 6-bit values XORed from '%' to '?' inclusive.
    expected = 0
    for ch in ISO_T1:
        expected ^= ord(ch) - 0x20
    assert track1_lrc(ISO_T1) == chr(0x20 + expected)


@pytest.mark.parametrize(
    "data",
    [
        ISO_T1 + "!",
        with_lrc1(ISO_T1) + ISO_T2 + "0",
        ISO_T2 + chr(ord(track2_lrc(ISO_T2)) ^ 1),
        FORMAT1 + "0",
    ],
    ids=["track1", "track2-after-track1", "track2-bit-flip", "format1"],
)
def test_a_wrong_lrc_is_refused(data: str) -> None:
    assert track2_lrc(FORMAT1) != "0"
    with pytest.raises(TrackParseError, match="LRC"):
        parse_tracks(data)


def test_track_1_lrc_may_be_the_start_sentinel_of_track_2() -> None:
    # Find a track 1 whose LRC is ';' (6-bit value 0x1B): "?;;" is LRC then track 2.
    track1 = next(
        t
        for t in (f"%B4111111111111111^DOE/JOHN^2512101{i}?" for i in range(100_000))
        if track1_lrc(t) == ";"
    )
    card = parse_tracks(track1 + ";" + ISO_T2)
    assert (card.track1, card.track2) == (track1, ISO_T2)
    assert parse_tracks(track1 + ";").track2 is None  # an LRC ';' and nothing after it


# -- garbage ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("", "no track data"),
        ("\r\n", "no track data"),
        ("7090112233654321", "start sentinel"),
        (";7090112233654321", "end sentinel"),
        ("%E?;E?", "format code B"),  # a reader's misread
        (";E?", "digits"),
        (";?", "digits"),
        (";12345?", "too short"),
        (";12345678901234567890=2512101?", "too long"),
        (";7090112233654321=1313101?", "month"),
        (";7090112233654321=25121?", "service code"),
        (";7090112233654321=2512101A?", "digits only"),
        (";7090112233654321=2512101=1?", "digits only"),
        (";70901122336543\u0663?", "digits"),  # an Arabic-Indic digit
        ("%A4111111111111111^DOE/JOHN^2512101?", "format code B"),
        ("%B4111111111111111^D^2512101?", "name"),
        ("%B4111111111111111^" + "N" * 27 + "^2512101?", "name"),
        ("%B4111111111111111^DOE^2512101^X?", "must be"),
        ("%B41111111\u00e911111111^DOE/JOHN^2512101?", "character set"),
        ("%B924696827707852^?;924696827707853=?", "different card numbers"),
        (ISO_T1 + ";4111111111111111=26121011234567?", "different expiry"),
        (FORMAT1 + FORMAT1, "after track 2"),
        (with_lrc1("%B924696827707852^?") + "xx", "after track 1"),
        (";" + "1" * 39 + "?", "longer than 40"),
        ("%B" + "1" * 80 + "^?", "longer than 79"),
    ],
)
def test_garbage_is_refused_with_a_reason(data: str, why: str) -> None:
    with pytest.raises(TrackParseError, match=why):
        parse_tracks(data)


def test_errors_never_show_the_number() -> None:
    bad = [
        ";7090112233654321=1313101?",
        "%B924696827707852^?;924696827707853=?",
        FORMAT1 + "0",
        "%B7090112233654321^X^2512101?",
    ]
    for data in bad:
        with pytest.raises(TrackParseError) as info:
            parse_tracks(data)
        assert "7090112233654321" not in str(info.value)
        assert "924696827707852" not in str(info.value)
        assert "0112233" not in str(info.value)


def test_card_read_shows_only_the_last_four_digits() -> None:
    card = parse_tracks(with_lrc1(ISO_T1) + with_lrc2(ISO_T2))
    assert card.last4 == "1111"
    assert card.masked == "****1111"
    for text in (repr(card), str(card), f"{card}"):
        assert "4111111111111111" not in text
        assert "DOE/JOHN" not in text
        assert "****1111" in text


def test_track_parse_error_is_a_value_error() -> None:
    assert issubclass(TrackParseError, ValueError)


def test_not_text_is_refused() -> None:
    with pytest.raises(TrackParseError):
        parse_tracks(1234)  # type: ignore[arg-type]


# -- properties -----------------------------------------------------------------------------

TRACKISH = st.text(alphabet="%;?^=B0123456789 /ANZ\r\n:<>", max_size=60)


@settings(max_examples=400)
@given(st.one_of(st.text(max_size=200), TRACKISH, st.binary(max_size=120)))
@example("%B^?")
@example(";=?")
@example("%B123456^NAME^?")
@example("?;")
def test_anything_parses_or_raises_track_parse_error_only(data: str | bytes) -> None:
    try:
        card = parse_tracks(data)
    except TrackParseError:
        return  # the only exception allowed out
    assert len(card.number) >= MIN_NUMBER_DIGITS
    assert card.number.isascii()
    assert card.number.isdigit()
    assert card.track1 is not None or card.track2 is not None


digits = st.text(alphabet="0123456789", min_size=1)
pans = st.text(alphabet="0123456789", min_size=MIN_NUMBER_DIGITS, max_size=19)
names = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ /.-'", min_size=2, max_size=26).filter(
    lambda n: n.rstrip(" ") != ""
)
expiries = st.builds(lambda yy, mm: f"{yy:02d}{mm:02d}", st.integers(0, 99), st.integers(1, 12))
services = st.text(alphabet="0123456789", min_size=3, max_size=3)
track1_extra = st.text(
    alphabet=[chr(c) for c in range(0x20, 0x60) if chr(c) not in "%?^"], max_size=10
)
track2_extra = st.text(alphabet="0123456789", max_size=8)


@settings(max_examples=300)
@given(
    number=pans,
    name=names,
    expiry=expiries,
    service=services,
    extra1=track1_extra,
    extra2=track2_extra,
    tracks=st.sampled_from(["1", "2", "12"]),
    lrc1=st.booleans(),
    lrc2=st.booleans(),
    newline=st.sampled_from(["", "\n", "\r\n"]),
)
def test_generated_iso_tracks_round_trip(
    number: str,
    name: str,
    expiry: str,
    service: str,
    extra1: str,
    extra2: str,
    tracks: str,
    lrc1: bool,
    lrc2: bool,
    newline: str,
) -> None:
    t1 = f"%B{number}^{name}^{expiry}{service}{extra1}?"
    t2 = f";{number}={expiry}{service}{extra2}?"
    assume(len(t1) + lrc1 <= 79 and len(t2) + lrc2 <= 40)
    data = ""
    if "1" in tracks:
        data += with_lrc1(t1) if lrc1 else t1
        data += newline
    if "2" in tracks:
        data += with_lrc2(t2) if lrc2 else t2
    card = parse_tracks(data)
    assert card.number == number
    assert card.expiry == expiry
    assert card.service_code == service
    assert card.track1 == (t1 if "1" in tracks else None)
    assert card.track2 == (t2 if "2" in tracks else None)
    assert card.name == (name.rstrip(" ") if "1" in tracks else None)


@settings(max_examples=200)
@given(number=st.text(alphabet="0123456789", min_size=MIN_NUMBER_DIGITS, max_size=37))
def test_generated_payjunction_tracks_round_trip(number: str) -> None:
    assert parse_tracks(f";{number}?").number == number
    if len(number) <= 36:
        assert parse_tracks(f";{number}=?").number == number
    if len(number) <= 19:
        both = parse_tracks(f"%B{number}^?;{number}=?")
        assert (both.track1, both.track2) == (f"%B{number}^?", f";{number}=?")


@settings(max_examples=200)
@given(
    number=pans,
    expiry=expiries,
    service=services,
    position=st.integers(min_value=1),
    digit=st.sampled_from("0123456789"),
)
def test_a_changed_digit_breaks_the_track_2_lrc(
    number: str, expiry: str, service: str, position: int, digit: str
) -> None:
    track = f";{number}={expiry}{service}?"
    index = 1 + position % (len(track) - 2)
    assume(track[index] != "=" and track[index] != digit)
    corrupted = track[:index] + digit + track[index + 1 :]
    try:
        parse_tracks(corrupted + track2_lrc(track))
    except TrackParseError:
        return
    raise AssertionError("a single changed digit went unnoticed by the LRC")
