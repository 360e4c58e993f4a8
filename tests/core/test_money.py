"""Tests for kioskapp.core.money: exact amounts, vendor formats, money-safe JSON."""

from __future__ import annotations

import ast
import enum
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kioskapp.core import money
from kioskapp.core.money import (
    CURRENCY_EXPONENTS,
    MAX_MINOR_UNITS,
    Money,
    MoneyError,
    currency_exponent,
    dumps_json,
    from_cardapi,
    from_kinetic,
    from_komoju,
    from_payjunction,
    from_tecalis,
    loads_json,
    to_cardapi,
    to_kinetic,
    to_komoju,
    to_payjunction,
    to_tecalis,
)

EUR = "EUR"
D = Decimal

# --------------------------------------------------------------------------------------
# Hypothesis strategies

currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))
minors = st.integers(min_value=-MAX_MINOR_UNITS, max_value=MAX_MINOR_UNITS)
moneys = st.builds(Money, minors, currencies)


@st.composite
def same_currency_pair(draw: st.DrawFn) -> tuple[Money, Money]:
    cur = draw(currencies)
    half = MAX_MINOR_UNITS // 2
    a = draw(st.integers(min_value=-half, max_value=half))
    b = draw(st.integers(min_value=-half, max_value=half))
    return Money(a, cur), Money(b, cur)


# --------------------------------------------------------------------------------------
# The module itself


def test_module_never_uses_float() -> None:
    """No float() conversions and no float literals anywhere in money.py."""
    source = Path(money.__file__).read_text(encoding="utf-8")
    tree = ast.parse(source)
    float_calls = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "float"
    ]
    float_literals = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, float)
    ]
    assert float_calls == []
    assert float_literals == []


def test_money_error_is_value_error() -> None:
    assert issubclass(MoneyError, ValueError)


def test_currency_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        CURRENCY_EXPONENTS["XXX"] = 2  # type: ignore[index]


# --------------------------------------------------------------------------------------
# currency_exponent


@pytest.mark.parametrize(
    ("code", "exponent"),
    [
        ("EUR", 2),
        ("USD", 2),
        ("GBP", 2),
        ("JPY", 0),
        ("CHF", 2),
        ("SEK", 2),
        ("NOK", 2),
        ("DKK", 2),
        ("PLN", 2),
        ("CZK", 2),
        ("HUF", 2),
        ("CAD", 2),
        ("AUD", 2),
        ("KRW", 0),
        ("ISK", 0),
        ("CLP", 0),
        ("KWD", 3),
        ("BHD", 3),
        ("OMR", 3),
        ("JOD", 3),
    ],
)
def test_currency_exponent_known(code: str, exponent: int) -> None:
    assert currency_exponent(code) == exponent
    assert CURRENCY_EXPONENTS[code] == exponent


@pytest.mark.parametrize(
    ("code", "message_part"),
    [
        ("eur", "upper-case"),
        ("Eur", "upper-case"),
        ("XYZ", "unknown currency"),
        ("EU", "malformed"),
        ("EURO", "malformed"),
        ("", "malformed"),
        (" EUR", "malformed"),
        ("EUR ", "malformed"),
        ("E1R", "malformed"),
        ("ÉUR", "malformed"),
        (None, "ISO 4217 code string"),
        (978, "ISO 4217 code string"),
        (b"EUR", "ISO 4217 code string"),
    ],
)
def test_currency_exponent_rejects(code: Any, message_part: str) -> None:
    with pytest.raises(MoneyError) as info:
        currency_exponent(code)
    assert message_part in str(info.value)
    assert repr(code) in str(info.value)


def test_currency_exponent_lowercase_suggests_upper() -> None:
    with pytest.raises(MoneyError, match="did you mean 'EUR'"):
        currency_exponent("eur")


# --------------------------------------------------------------------------------------
# Money construction and inspection


def test_money_fields_and_repr() -> None:
    m = Money(1050, EUR)
    assert m.minor == 1050
    assert m.currency == "EUR"
    assert m.exponent == 2
    assert repr(m) == "Money(minor=1050, currency='EUR')"


def test_money_is_frozen() -> None:
    m = Money(1, EUR)
    with pytest.raises(AttributeError):
        m.minor = 2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("minor", "currency"),
    [
        (True, EUR),
        (False, EUR),
        (10.0, EUR),
        (D("10"), EUR),
        ("10", EUR),
        (None, EUR),
        (10, "eur"),
        (10, "XYZ"),
        (10, None),
        (MAX_MINOR_UNITS + 1, EUR),
        (-MAX_MINOR_UNITS - 1, EUR),
        (10**40, EUR),
    ],
)
def test_money_rejects_invalid(minor: Any, currency: Any) -> None:
    with pytest.raises(MoneyError):
        Money(minor, currency)


def test_money_bool_minor_message_names_value() -> None:
    with pytest.raises(MoneyError, match=r"got True \(bool\)"):
        Money(True, EUR)


def test_money_bounds_are_inclusive() -> None:
    assert Money(MAX_MINOR_UNITS, EUR).minor == MAX_MINOR_UNITS
    assert Money(-MAX_MINOR_UNITS, EUR).minor == -MAX_MINOR_UNITS


def test_money_normalises_int_subclass() -> None:
    class Qty(enum.IntEnum):
        TEN = 10

    m = Money(Qty.TEN, EUR)
    assert type(m.minor) is int
    assert m == Money(10, EUR)
    assert str(m) == "0.10 EUR"


@pytest.mark.parametrize(
    ("minor", "zero", "negative", "positive"),
    [(0, True, False, False), (-1, False, True, False), (1, False, False, True)],
)
def test_predicates(minor: int, zero: bool, negative: bool, positive: bool) -> None:
    m = Money(minor, EUR)
    assert m.is_zero is zero
    assert m.is_negative is negative
    assert m.is_positive is positive


@pytest.mark.parametrize("cur", ["EUR", "JPY", "KWD"])
def test_zero(cur: str) -> None:
    z = Money.zero(cur)
    assert z == Money(0, cur)
    assert z.is_zero


def test_zero_rejects_unknown_currency() -> None:
    with pytest.raises(MoneyError):
        Money.zero("ZZZ")


# --------------------------------------------------------------------------------------
# Arithmetic and comparisons


def test_add_sub_neg_abs() -> None:
    a, b = Money(1050, EUR), Money(250, EUR)
    assert a + b == Money(1300, EUR)
    assert a - b == Money(800, EUR)
    assert b - a == Money(-800, EUR)
    assert -a == Money(-1050, EUR)
    assert +a == a
    assert abs(Money(-5, EUR)) == Money(5, EUR)


@pytest.mark.parametrize("op", ["+", "-", "<", "<=", ">", ">="])
def test_cross_currency_operations_raise(op: str) -> None:
    a, b = Money(100, "EUR"), Money(100, "USD")
    ops = {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "<": lambda: a < b,
        "<=": lambda: a <= b,
        ">": lambda: a > b,
        ">=": lambda: a >= b,
    }
    with pytest.raises(MoneyError, match="currencies differ"):
        ops[op]()


@pytest.mark.parametrize("other", [1, 0, D("1.00"), 1.5, True])
@pytest.mark.parametrize("op", ["+", "-", "<", ">="])
def test_operations_with_plain_numbers_raise(op: str, other: Any) -> None:
    a = Money(100, EUR)
    ops = {
        "+": lambda: a + other,
        "-": lambda: a - other,
        "<": lambda: a < other,
        ">=": lambda: a >= other,
    }
    with pytest.raises(MoneyError):
        ops[op]()


def test_operations_with_unrelated_types_are_type_errors() -> None:
    a = Money(100, EUR)
    with pytest.raises(TypeError):
        _ = a + "1"  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = a < "1"  # type: ignore[operator]
    with pytest.raises(TypeError):
        _ = a * "2"  # type: ignore[operator]


def test_sum_needs_explicit_start() -> None:
    items = [Money(100, EUR), Money(250, EUR), Money(-50, EUR)]
    assert sum(items, Money.zero(EUR)) == Money(300, EUR)


def test_comparisons_same_currency() -> None:
    small, big = Money(100, EUR), Money(200, EUR)
    assert small < big
    assert small <= big
    assert small <= Money(100, EUR)
    assert big > small
    assert big >= small
    assert not big < small
    assert not small > big
    assert max(small, big) is big
    assert sorted([big, Money(-1, EUR), small]) == [Money(-1, EUR), small, big]


def test_equality_and_hash() -> None:
    assert Money(100, "EUR") == Money(100, "EUR")
    assert Money(100, "EUR") != Money(100, "USD")
    assert Money(100, "EUR") != Money(101, "EUR")
    assert Money(100, "EUR") != 100  # type: ignore[comparison-overlap]
    assert hash(Money(100, "EUR")) == hash(Money(100, "EUR"))
    assert len({Money(100, "EUR"), Money(100, "EUR"), Money(100, "USD")}) == 2


def test_multiply_by_int() -> None:
    m = Money(250, EUR)
    assert m * 3 == Money(750, EUR)
    assert 3 * m == Money(750, EUR)
    assert m * 0 == Money(0, EUR)
    assert m * -2 == Money(-500, EUR)


@pytest.mark.parametrize("factor", [1.5, D("2"), True, False, Money(2, EUR)])
def test_multiply_rejects_non_int(factor: Any) -> None:
    m = Money(250, EUR)
    with pytest.raises(MoneyError, match="multiplied by an int"):
        _ = m * factor
    with pytest.raises(MoneyError, match="multiplied by an int"):
        _ = factor * m


def test_overflow_is_an_error() -> None:
    with pytest.raises(MoneyError, match="out of range"):
        _ = Money(MAX_MINOR_UNITS, EUR) + Money(1, EUR)
    with pytest.raises(MoneyError, match="out of range"):
        _ = Money(MAX_MINOR_UNITS, EUR) * 2


@given(same_currency_pair())
def test_add_sub_inverse_property(pair: tuple[Money, Money]) -> None:
    a, b = pair
    assert (a + b) - b == a
    assert a - b == a + (-b)
    assert (a < b) == (a.minor < b.minor)
    assert (a >= b) == (a.minor >= b.minor)


# --------------------------------------------------------------------------------------
# from_major / to_major / formatting


@pytest.mark.parametrize(
    ("value", "cur", "minor"),
    [
        (10, "EUR", 1000),
        (0, "EUR", 0),
        (-3, "EUR", -300),
        (1000, "JPY", 1000),
        (2, "KWD", 2000),
        (D("10.5"), "EUR", 1050),
        (D("10.50"), "EUR", 1050),
        (D("10.500"), "EUR", 1050),  # trailing zeros are not extra precision
        (D("-2.50"), "EUR", -250),
        (D("1E+3"), "JPY", 1000),
        (D("1000.0"), "JPY", 1000),
        (D("0.001"), "KWD", 1),
        (D("-0"), "EUR", 0),
        (D("0E-10"), "EUR", 0),
        ("10", "EUR", 1000),
        ("10.5", "EUR", 1050),
        ("10.50", "EUR", 1050),
        ("-2.50", "EUR", -250),
        ("0.01", "EUR", 1),
        ("-0", "EUR", 0),
        ("007.50", "EUR", 750),
        ("1000", "JPY", 1000),
        ("1.234", "KWD", 1234),
        ("9999999999999999.99", "EUR", MAX_MINOR_UNITS),
    ],
)
def test_from_major_accepts(value: Any, cur: str, minor: int) -> None:
    m = Money.from_major(value, cur)
    assert m == Money(minor, cur)
    assert type(m.minor) is int


@pytest.mark.parametrize(
    ("value", "cur", "message_part"),
    [
        (10.5, "EUR", "pass a Decimal or a str"),
        (10.0, "EUR", "pass a Decimal or a str"),
        (True, "EUR", "bool"),
        (False, "EUR", "bool"),
        (None, "EUR", "int or a Decimal"),
        ([10], "EUR", "int or a Decimal"),
        (D("NaN"), "EUR", "finite"),
        (D("sNaN"), "EUR", "finite"),
        (D("Infinity"), "EUR", "finite"),
        (D("-Infinity"), "EUR", "finite"),
        (D("10.005"), "EUR", "more decimals than EUR"),
        (D("10.5"), "JPY", "more decimals than JPY"),
        (D("0.0001"), "KWD", "more decimals than KWD"),
        (D("1E-30"), "EUR", "more decimals"),
        (D("1E+30"), "EUR", "out of range"),
        (D("1E+999999999"), "EUR", "out of range"),
        (10**17, "EUR", "out of range"),
        ("10.005", "EUR", "more decimals than EUR"),
        ("10.5", "JPY", "more decimals than JPY"),
        ("1e3", "EUR", "plain decimal"),
        ("1E3", "EUR", "plain decimal"),
        ("1.5e2", "EUR", "plain decimal"),
        ("1,000", "EUR", "plain decimal"),
        ("1,000.00", "EUR", "plain decimal"),
        ("1 000", "EUR", "plain decimal"),
        ("1_000", "EUR", "plain decimal"),
        ("10,50", "EUR", "plain decimal"),
        ("", "EUR", "plain decimal"),
        (" 10", "EUR", "plain decimal"),
        ("10 ", "EUR", "plain decimal"),
        ("10\n", "EUR", "plain decimal"),
        ("+10", "EUR", "plain decimal"),
        ("--10", "EUR", "plain decimal"),
        ("10.", "EUR", "plain decimal"),
        (".5", "EUR", "plain decimal"),
        ("1.2.3", "EUR", "plain decimal"),
        ("NaN", "EUR", "plain decimal"),
        ("Infinity", "EUR", "plain decimal"),
        ("€10", "EUR", "plain decimal"),
        ("10 EUR", "EUR", "plain decimal"),
        ("١٠", "EUR", "plain decimal"),  # Arabic-Indic digits
        ("0x10", "EUR", "plain decimal"),
        ("1" * 30, "EUR", "out of range"),
        ("10", "eur", "upper-case"),
        ("10", "XYZ", "unknown currency"),
    ],
)
def test_from_major_rejects(value: Any, cur: str, message_part: str) -> None:
    with pytest.raises(MoneyError) as info:
        Money.from_major(value, cur)
    assert message_part in str(info.value)


@pytest.mark.parametrize("value", [10.5, "1e3", D("10.005"), "1,000"])
def test_from_major_error_names_the_value(value: Any) -> None:
    with pytest.raises(MoneyError) as info:
        Money.from_major(value, EUR)
    assert repr(value) in str(info.value)


def test_from_major_huge_decimal_is_fast() -> None:
    # Must not try to build a 10**999999999 integer.
    with pytest.raises(MoneyError):
        Money.from_major(D("9E+999999999"), "JPY")
    with pytest.raises(MoneyError):
        Money.from_major("1" + "0" * 100_000, "JPY")


@pytest.mark.parametrize(
    ("minor", "cur", "major", "plain"),
    [
        (1050, "EUR", D("10.50"), "10.50"),
        (1000, "EUR", D("10.00"), "10.00"),
        (5, "EUR", D("0.05"), "0.05"),
        (0, "EUR", D("0.00"), "0.00"),
        (-250, "EUR", D("-2.50"), "-2.50"),
        (-5, "EUR", D("-0.05"), "-0.05"),
        (1000, "JPY", D("1000"), "1000"),
        (0, "JPY", D("0"), "0"),
        (-7, "JPY", D("-7"), "-7"),
        (1234, "KWD", D("1.234"), "1.234"),
        (1, "KWD", D("0.001"), "0.001"),
        (123456789012345678, "EUR", D("1234567890123456.78"), "1234567890123456.78"),
    ],
)
def test_to_major_and_format_plain(minor: int, cur: str, major: Decimal, plain: str) -> None:
    m = Money(minor, cur)
    result = m.to_major()
    assert result == major
    # Quantized to the currency's exponent, not merely numerically equal.
    assert result.as_tuple().exponent == -CURRENCY_EXPONENTS[cur]
    assert str(result) == plain
    assert m.format_plain() == plain
    assert str(m) == f"{plain} {cur}"


def test_str_examples() -> None:
    assert str(Money(1050, "EUR")) == "10.50 EUR"
    assert str(Money(1000, "JPY")) == "1000 JPY"
    assert str(Money(-250, "USD")) == "-2.50 USD"


@given(moneys)
def test_from_major_round_trips(m: Money) -> None:
    assert Money.from_major(m.to_major(), m.currency) == m
    assert Money.from_major(m.format_plain(), m.currency) == m
    assert m.to_major().as_tuple().exponent == -m.exponent


# --------------------------------------------------------------------------------------
# Tecalis: major-unit JSON numbers


@pytest.mark.parametrize(
    ("money_", "expected"),
    [
        (Money(1000, "EUR"), 10),
        (Money(1050, "EUR"), D("10.5")),
        (Money(1250, "EUR"), D("12.5")),
        (Money(1234, "EUR"), D("12.34")),
        (Money(5, "EUR"), D("0.05")),
        (Money(0, "EUR"), 0),
        (Money(-250, "EUR"), D("-2.5")),
        (Money(-200, "EUR"), -2),
        (Money(1000, "JPY"), 1000),
        (Money(1500, "KWD"), D("1.5")),
    ],
)
def test_to_tecalis(money_: Money, expected: int | Decimal) -> None:
    result = to_tecalis(money_)
    assert type(result) is type(expected)
    assert result == expected
    if isinstance(result, Decimal):
        # Shortest exact form: same digits as the expected literal, no trailing zeros.
        assert result.as_tuple() == expected.as_tuple()  # type: ignore[union-attr]
        assert not str(result).endswith("0")


def test_to_tecalis_json_body() -> None:
    assert dumps_json({"amount": to_tecalis(Money(1000, "EUR"))}) == '{"amount":10}'
    assert dumps_json({"amount": to_tecalis(Money(1250, "EUR"))}) == '{"amount":12.5}'
    assert dumps_json({"amount": to_tecalis(Money(1234, "EUR"))}) == '{"amount":12.34}'


@pytest.mark.parametrize(
    ("value", "cur", "minor"),
    [
        (10, "EUR", 1000),
        (D("10.5"), "EUR", 1050),
        (D("10.50"), "EUR", 1050),
        (D("6.54"), "EUR", 654),
        (D("20"), "EUR", 2000),
        (1000, "JPY", 1000),
        (0, "EUR", 0),
    ],
)
def test_from_tecalis_accepts(value: Any, cur: str, minor: int) -> None:
    assert from_tecalis(value, cur) == Money(minor, cur)


@pytest.mark.parametrize(
    "value",
    [10.5, 10.0, True, False, "10", "10.50", None, D("NaN"), D("Infinity"), D("10.005"), [10]],
)
def test_from_tecalis_rejects(value: Any) -> None:
    with pytest.raises(MoneyError):
        from_tecalis(value, EUR)


def test_from_tecalis_float_message() -> None:
    with pytest.raises(MoneyError, match=r"10\.5 is a float"):
        from_tecalis(10.5, EUR)


def test_tecalis_round_trip_example() -> None:
    m = Money.from_major("10.50", EUR)
    wire = to_tecalis(m)
    assert wire == D("10.5")
    assert from_tecalis(wire, EUR) == m
    parsed = loads_json(dumps_json({"amount": wire}))
    assert from_tecalis(parsed["amount"], EUR) == m


@given(moneys)
def test_tecalis_round_trip_property(m: Money) -> None:
    wire = to_tecalis(m)
    assert from_tecalis(wire, m.currency) == m
    if m.minor % 10**m.exponent == 0:
        assert type(wire) is int
    else:
        assert isinstance(wire, Decimal)
        assert not str(wire).endswith("0")
        assert "E" not in str(wire)
    # Through the wire, as JSON.
    parsed = loads_json(dumps_json({"amount": wire}))["amount"]
    assert from_tecalis(parsed, m.currency) == m


# --------------------------------------------------------------------------------------
# Kinetic and KOMOJU: integer minor units

INTEGER_FORMATS = [
    pytest.param(to_kinetic, from_kinetic, id="kinetic"),
    pytest.param(to_komoju, from_komoju, id="komoju"),
]


@pytest.mark.parametrize(("to_fn", "from_fn"), INTEGER_FORMATS)
@pytest.mark.parametrize(
    ("money_", "wire"),
    [
        (Money(1000, "JPY"), 1000),
        (Money(1050, "EUR"), 1050),
        (Money(1000, "GBP"), 1000),
        (Money(0, "USD"), 0),
        (Money(1234, "KWD"), 1234),
        (Money(-50, "EUR"), -50),
    ],
)
def test_integer_formats(to_fn: Any, from_fn: Any, money_: Money, wire: int) -> None:
    assert to_fn(money_) == wire
    assert type(to_fn(money_)) is int
    assert from_fn(wire, money_.currency) == money_


@pytest.mark.parametrize(("to_fn", "from_fn"), INTEGER_FORMATS)
@pytest.mark.parametrize(
    ("value", "minor"),
    [(D("1000"), 1000), (D("1000.0"), 1000), (D("1E+3"), 1000), (D("-0"), 0)],
)
def test_integer_formats_accept_integral_decimal(
    to_fn: Any, from_fn: Any, value: Decimal, minor: int
) -> None:
    m = from_fn(value, "GBP")
    assert m == Money(minor, "GBP")
    assert type(m.minor) is int
    assert to_fn(m) == minor


@pytest.mark.parametrize("from_fn", [from_kinetic, from_komoju])
@pytest.mark.parametrize(
    "value",
    [
        D("10.5"),
        D("1000.01"),
        D("NaN"),
        D("Infinity"),
        1000.0,
        10.5,
        True,
        False,
        "1000",
        None,
        [1000],
        MAX_MINOR_UNITS + 1,
    ],
)
def test_integer_formats_reject(from_fn: Any, value: Any) -> None:
    with pytest.raises(MoneyError):
        from_fn(value, "JPY")


@pytest.mark.parametrize("from_fn", [from_kinetic, from_komoju])
def test_integer_formats_reject_unknown_currency(from_fn: Any) -> None:
    with pytest.raises(MoneyError, match="unknown currency"):
        from_fn(1000, "XYZ")


def test_komoju_jpy_example() -> None:
    m = Money.from_major(1000, "JPY")
    assert to_komoju(m) == 1000
    assert from_komoju(1000, "JPY") == m


def test_kinetic_pence_example() -> None:
    assert to_kinetic(Money.from_major("10.00", "GBP")) == 1000
    assert from_kinetic(1000, "GBP").to_major() == D("10.00")


@given(moneys)
def test_integer_formats_round_trip_property(m: Money) -> None:
    assert from_kinetic(to_kinetic(m), m.currency) == m
    assert from_komoju(to_komoju(m), m.currency) == m
    body = loads_json(dumps_json({"amount": to_kinetic(m)}))
    assert from_kinetic(body["amount"], m.currency) == m


# --------------------------------------------------------------------------------------
# PayJunction: "10.00"


@pytest.mark.parametrize(
    ("money_", "wire"),
    [
        (Money(1000, "USD"), "10.00"),
        (Money(1050, "USD"), "10.50"),
        (Money(1, "USD"), "0.01"),
        (Money(0, "USD"), "0.00"),
        (Money(123456789, "USD"), "1234567.89"),
    ],
)
def test_to_payjunction(money_: Money, wire: str) -> None:
    assert to_payjunction(money_) == wire


@pytest.mark.parametrize(
    ("money_", "message_part"),
    [
        (Money(-1, "USD"), "negative"),
        (Money(1000, "JPY"), "exactly 2 decimals"),
        (Money(1000, "KWD"), "exactly 2 decimals"),
    ],
)
def test_to_payjunction_rejects(money_: Money, message_part: str) -> None:
    with pytest.raises(MoneyError, match=message_part):
        to_payjunction(money_)


@pytest.mark.parametrize(
    ("text", "minor"),
    [
        ("10.00", 1000),
        ("10", 1000),
        ("10.5", 1050),
        ("0.01", 1),
        ("0", 0),
        ("1234567.89", 123456789),
    ],
)
def test_from_payjunction(text: str, minor: int) -> None:
    assert from_payjunction(text) == Money(minor, "USD")
    assert from_payjunction(text, "USD") == Money(minor, "USD")


@pytest.mark.parametrize(
    "text",
    [
        "-10.00",
        "+10.00",
        "10.001",
        "10.",
        ".50",
        "$10.00",
        "1,000.00",
        "1e3",
        " 10.00",
        "10.00\n",
        "",
        "NaN",
        "١٠.٠٠",
        10,
        D("10.00"),
        10.0,
        None,
    ],
)
def test_from_payjunction_rejects(text: Any) -> None:
    with pytest.raises(MoneyError):
        from_payjunction(text)


def test_from_payjunction_rejects_non_two_decimal_currency() -> None:
    with pytest.raises(MoneyError, match="JPY has 0"):
        from_payjunction("10", "JPY")


@given(st.integers(min_value=0, max_value=MAX_MINOR_UNITS))
def test_payjunction_round_trip_property(minor: int) -> None:
    m = Money(minor, "USD")
    wire = to_payjunction(m)
    assert wire.count(".") == 1
    assert len(wire.split(".")[1]) == 2
    assert from_payjunction(wire) == m


# --------------------------------------------------------------------------------------
# CISS CardAPI


@pytest.mark.parametrize(
    ("money_", "wire"),
    [
        (Money(250, "EUR"), "2.50"),
        (Money(-250, "EUR"), "-2.50"),
        (Money(0, "EUR"), "0.00"),
        (Money(404, "EUR"), "4.04"),
        (Money(1000, "JPY"), "1000"),
    ],
)
def test_to_cardapi(money_: Money, wire: str) -> None:
    assert to_cardapi(money_) == wire


@pytest.mark.parametrize(
    ("value", "minor"),
    [
        (D("6.54"), 654),
        (D("6.5"), 650),
        (D("6.540"), 654),
        (6, 600),
        (0, 0),
        ("4.04", 404),
        ("-2.50", -250),
        ("0.00", 0),
        ("7", 700),
    ],
)
def test_from_cardapi_accepts(value: Any, minor: int) -> None:
    assert from_cardapi(value, EUR) == Money(minor, EUR)


@pytest.mark.parametrize(
    "value",
    [6.54, True, None, "6.545", D("6.545"), "6,54", "1e2", "", D("NaN"), "NaN", [654]],
)
def test_from_cardapi_rejects(value: Any) -> None:
    with pytest.raises(MoneyError):
        from_cardapi(value, EUR)


def test_cardapi_balance_from_json_document() -> None:
    body = loads_json(b'{"pass":{"type":"CASHBACK","balance":6.54,"currency":"EUR"}}')
    balance = from_cardapi(body["pass"]["balance"], body["pass"]["currency"])
    assert balance == Money(654, "EUR")


@given(moneys)
def test_cardapi_round_trip_property(m: Money) -> None:
    wire = to_cardapi(m)
    assert from_cardapi(wire, m.currency) == m
    assert from_cardapi(D(wire), m.currency) == m
    body = loads_json(dumps_json({"amount": wire}))
    assert from_cardapi(body["amount"], m.currency) == m


# --------------------------------------------------------------------------------------
# Money-safe JSON


def test_loads_json_uses_decimal() -> None:
    data = loads_json('{"a": 6.54, "b": 10, "c": 1e3, "d": [0.1, -0.00]}')
    assert data == {"a": D("6.54"), "b": 10, "c": D("1E+3"), "d": [D("0.1"), D("-0.00")]}
    assert type(data["a"]) is Decimal
    assert type(data["b"]) is int
    assert type(data["d"][0]) is Decimal


def test_loads_json_accepts_bytes() -> None:
    assert loads_json('{"name": "café"}'.encode()) == {"name": "café"}


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_loads_json_rejects_constants(text: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        loads_json(text)


def test_loads_json_rejects_invalid() -> None:
    with pytest.raises(json.JSONDecodeError, match="Expecting"):
        loads_json("{")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12, "-12"),
        (10**30, "1" + "0" * 30),
        ("x", '"x"'),
        ('quote " and \\ and \n', '"quote \\" and \\\\ and \\n"'),
        ("café", '"caf\\u00e9"'),
        (D("12.34"), "12.34"),
        (D("12.340"), "12.340"),
        (D("-2.50"), "-2.50"),
        (D("0.00"), "0.00"),
        (D("1E+3"), "1000"),
        (D("1.2E-10"), "0.00000000012"),
        (D("-0"), "-0"),
        ([], "[]"),
        ({}, "{}"),
        ((1, 2), "[1,2]"),
        ([1, [2, {"a": None}]], '[1,[2,{"a":null}]]'),
        ({"b": 1, "a": D("2.5")}, '{"b":1,"a":2.5}'),
        ({"k\u2028": True}, '{"k\\u2028":true}'),
    ],
)
def test_dumps_json(obj: object, expected: str) -> None:
    out = dumps_json(obj)
    assert out == expected
    json.loads(out, parse_float=Decimal)  # valid JSON for the standard parser


class _Colour(enum.IntEnum):
    RED = 1


def test_dumps_json_int_enum_as_number() -> None:
    assert dumps_json({"c": _Colour.RED}) == '{"c":1}'


@pytest.mark.parametrize(
    "obj",
    [
        1.5,
        0.0,
        [1.5],
        {"a": {"b": 2.0}},
        Money(100, EUR),
        {1, 2},
        b"bytes",
        object(),
        {1: "int key"},
        {("t",): "tuple key"},
        {"a": D("1")}.keys(),
    ],
)
def test_dumps_json_type_errors(obj: object) -> None:
    with pytest.raises(TypeError):
        dumps_json(obj)


def test_dumps_json_money_message_points_to_vendor_functions() -> None:
    with pytest.raises(TypeError, match="vendor's to_"):
        dumps_json({"amount": Money(100, EUR)})


@pytest.mark.parametrize("value", [D("NaN"), D("sNaN"), D("Infinity"), D("-Infinity")])
def test_dumps_json_rejects_non_finite_decimal(value: Decimal) -> None:
    with pytest.raises(ValueError, match="non-finite"):
        dumps_json({"a": [value]})


def test_dumps_json_rejects_circular() -> None:
    data: list[object] = []
    data.append(data)
    with pytest.raises(ValueError, match="circular"):
        dumps_json(data)


def test_dumps_json_allows_shared_non_circular() -> None:
    shared = [1]
    assert dumps_json([shared, shared]) == "[[1],[1]]"


# Round-trip properties --------------------------------------------------------------

finite_decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.builds(
        lambda coefficient, exponent: Decimal(coefficient).scaleb(exponent),
        st.integers(min_value=-(10**6), max_value=10**6),
        st.integers(min_value=-30, max_value=30),
    ),
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(), finite_decimals)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.lists(children, max_size=5).map(tuple),
        st.dictionaries(st.text(), children, max_size=5),
    ),
    max_leaves=25,
)


def _canon(value: object) -> object:
    """What JSON preserves: types (bool vs number), exact decimals, structure.

    An integral Decimal with exponent >= 0 is written as a JSON integer and so
    reads back as an int; every other Decimal keeps its exact digits and exponent.
    """
    if value is None or isinstance(value, bool | str):
        return (type(value).__name__, value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, Decimal):
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)
        if exponent >= 0:
            return ("int", int(value))
        return ("decimal", value.as_tuple())
    if isinstance(value, list | tuple):
        return ("list", [_canon(item) for item in value])
    if isinstance(value, dict):
        return ("dict", [(key, _canon(item)) for key, item in value.items()])
    raise AssertionError(f"unexpected {value!r}")


@given(json_values)
def test_json_round_trip_property(value: object) -> None:
    text = dumps_json(value)
    parsed = loads_json(text)
    assert _canon(parsed) == _canon(value)
    assert loads_json(text.encode("utf-8")) == parsed


def _has_decimal(value: object) -> bool:
    if isinstance(value, Decimal):
        return True
    if isinstance(value, list | tuple):
        return any(_has_decimal(item) for item in value)
    if isinstance(value, dict):
        return any(_has_decimal(item) for item in value.values())
    return False


@given(json_values.filter(lambda v: not _has_decimal(v)))
def test_dumps_matches_stdlib_without_decimals(value: object) -> None:
    assert dumps_json(value) == json.dumps(value, separators=(",", ":"))


@given(finite_decimals)
def test_decimal_written_in_plain_notation(value: Decimal) -> None:
    text = dumps_json(value)
    assert "e" not in text.lower()
    assert Decimal(text) == value


def test_dumps_json_writes_floats_only_when_allowed() -> None:
    with pytest.raises(TypeError, match="float"):
        dumps_json({"ttl_s": 90.5})
    assert dumps_json({"ttl_s": 90.5, "amount": Decimal("10.50")}, allow_float=True) == (
        '{"ttl_s":90.5,"amount":10.50}'
    )
    with pytest.raises(TypeError):
        dumps_json({"x": float("nan")}, allow_float=True)
