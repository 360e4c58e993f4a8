"""Exact money: integer minor units, ISO 4217 exponents, and every vendor's amount format.

Design
------
* An amount is a :class:`Money`: an ``int`` count of the currency's minor units
  (cents, pence, yen) plus an upper-case ISO 4217 code. Nothing here ever
  touches a ``float`` — not for arithmetic and not as a conversion — because
  ``0.1 + 0.2 != 0.3`` is not a rounding policy a till can have. Decimal input
  is accepted where humans or vendors write decimals, and it must be *exactly*
  representable in minor units: ``"10.005"`` EUR or ``"10.5"`` JPY are errors,
  never silently rounded. (Trailing zeros are not extra precision:
  ``Decimal("10.500")`` EUR is exactly 10.50 and is accepted.)
* Arithmetic is closed over one currency: ``+``/``-``/ordering across
  currencies raise :class:`MoneyError`; ``==`` across currencies is simply
  ``False``. Money can only be multiplied by an ``int`` (quantities); anything
  that would need rounding must be done explicitly by the caller, with Decimal.
* Amounts are bounded to :data:`MAX_MINOR_UNITS` (18 digits of minor units):
  far beyond any kiosk sale, it keeps every amount inside the vendors' 64-bit
  integers and inside :mod:`decimal`'s default 28-digit precision, so Decimal
  arithmetic a caller does on ``to_major()`` stays exact.
* Every vendor's amount format lives in exactly one pair of functions below
  (``to_<vendor>`` / ``from_<vendor>``), per each vendor's API; adapting to a
  vendor's real behaviour is a change in that pair only. ``from_*`` functions
  take untrusted, parsed input and raise :class:`MoneyError` (a
  ``ValueError``) for anything they do not recognise.
* :func:`loads_json` / :func:`dumps_json` are the project's money-safe JSON:
  numbers with a fraction or exponent are read as :class:`~decimal.Decimal`
  (never float), NaN/Infinity are refused both ways, and Decimals are written
  in exact plain notation. A :class:`Money` is deliberately *not* JSON
  serialisable: the caller must pick the vendor format.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any, Final, NoReturn

__all__ = [
    "CURRENCY_EXPONENTS",
    "MAX_MINOR_UNITS",
    "Money",
    "MoneyError",
    "currency_exponent",
    "dumps_json",
    "from_cardapi",
    "from_kinetic",
    "from_komoju",
    "from_payjunction",
    "from_tecalis",
    "loads_json",
    "to_cardapi",
    "to_kinetic",
    "to_komoju",
    "to_payjunction",
    "to_tecalis",
]


class MoneyError(ValueError):
    """An invalid amount, currency or amount format."""


# ISO 4217 minor-unit exponents ("E" column). Only currencies listed here can be
# used; adding one is a one-line change. Exponents checked against ISO 4217
# (note HUF, CZK, TWD and IDR are 2 in ISO even where cash has no coins).
CURRENCY_EXPONENTS: Final[Mapping[str, int]] = MappingProxyType(
    {
        # Two decimals.
        "AED": 2,
        "AUD": 2,
        "BGN": 2,
        "BRL": 2,
        "CAD": 2,
        "CHF": 2,
        "CNY": 2,
        "CZK": 2,
        "DKK": 2,
        "EUR": 2,
        "GBP": 2,
        "HKD": 2,
        "HUF": 2,
        "IDR": 2,
        "ILS": 2,
        "INR": 2,
        "MAD": 2,
        "MXN": 2,
        "MYR": 2,
        "NOK": 2,
        "NZD": 2,
        "PHP": 2,
        "PLN": 2,
        "RON": 2,
        "RSD": 2,
        "SAR": 2,
        "SEK": 2,
        "SGD": 2,
        "THB": 2,
        "TRY": 2,
        "TWD": 2,
        "UAH": 2,
        "USD": 2,
        "ZAR": 2,
        # No decimals.
        "CLP": 0,
        "ISK": 0,
        "JPY": 0,
        "KRW": 0,
        "PYG": 0,
        "UGX": 0,
        "VND": 0,
        "XAF": 0,
        "XOF": 0,
        # Three decimals.
        "BHD": 3,
        "IQD": 3,
        "JOD": 3,
        "KWD": 3,
        "LYD": 3,
        "OMR": 3,
        "TND": 3,
    }
)

#: Largest magnitude of :attr:`Money.minor` (18 decimal digits).
MAX_MINOR_UNITS: Final[int] = 10**18 - 1
_MAX_DIGITS: Final[int] = 18

_CODE_RE: Final = re.compile(r"[A-Za-z]{3}", re.ASCII)
# A plain decimal: optional minus, digits, optional fraction. No "+", no
# exponent, no thousands separators, no whitespace, ASCII digits only.
_DECIMAL_RE: Final = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?", re.ASCII)
_PAYJUNCTION_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?", re.ASCII)


def _pow10(n: int) -> int:
    """``10**n`` for ``n >= 0``, typed as int (``int ** int`` is Any to mypy)."""
    return int(10**n)


def currency_exponent(code: str) -> int:
    """The ISO 4217 minor-unit exponent of ``code`` (``"EUR"`` → 2, ``"JPY"`` → 0).

    Raises :class:`MoneyError` for a non-string, a malformed or lower-case code,
    or a currency not in :data:`CURRENCY_EXPONENTS`.
    """
    if not isinstance(code, str):
        raise MoneyError(
            f"currency must be an ISO 4217 code string like 'EUR', got {code!r} "
            f"({type(code).__name__})"
        )
    exponent = CURRENCY_EXPONENTS.get(code)
    if exponent is not None:
        return exponent
    if _CODE_RE.fullmatch(code) is None:
        raise MoneyError(f"malformed currency code {code!r}: expected three letters like 'EUR'")
    if code != code.upper():
        raise MoneyError(
            f"currency code {code!r} must be upper-case ISO 4217 (did you mean {code.upper()!r}?)"
        )
    raise MoneyError(
        f"unknown currency {code!r}: expected one of {', '.join(sorted(CURRENCY_EXPONENTS))}"
    )


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Number)


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount: ``minor`` units (cents, yen…) of ``currency``.

    Negative amounts are valid (refunds, receipt rows). Build from major units
    with :meth:`from_major`, never by multiplying a float.
    """

    minor: int
    currency: str

    def __post_init__(self) -> None:
        minor: object = self.minor
        if isinstance(minor, bool) or not isinstance(minor, int):
            raise MoneyError(
                f"Money.minor must be an int count of minor units, got {minor!r} "
                f"({type(minor).__name__}); use Money.from_major() for major-unit values"
            )
        currency_exponent(self.currency)
        if abs(minor) > MAX_MINOR_UNITS:
            raise MoneyError(
                f"amount {minor!r} minor units is out of range: at most {_MAX_DIGITS} digits"
            )
        # Normalise subclasses (IntEnum, str subclasses) to the plain types.
        if type(minor) is not int:
            object.__setattr__(self, "minor", int(minor))
        if type(self.currency) is not str:
            object.__setattr__(self, "currency", str(self.currency))

    # -- construction ---------------------------------------------------------

    @classmethod
    def zero(cls, cur: str) -> Money:
        """Zero in currency ``cur``."""
        return cls(0, cur)

    @classmethod
    def from_major(cls, value: int | Decimal | str, cur: str) -> Money:
        """An amount from major units: ``10``, ``Decimal("10.50")`` or ``"-2.50"``.

        Strings must be plain decimals (``-?digits(.digits)?``): no exponent,
        sign ``+``, whitespace or thousands separators. The value must be exact
        in ``cur``'s minor units. Floats are refused: pass a Decimal or a str.
        """
        exponent = currency_exponent(cur)
        if isinstance(value, str):
            return cls(_str_to_minor(value, exponent, cur), cur)
        return cls(_number_to_minor(value, exponent, cur, "major-unit amount"), cur)

    # -- inspection -----------------------------------------------------------

    @property
    def exponent(self) -> int:
        """The currency's minor-unit exponent (2 for EUR, 0 for JPY)."""
        return CURRENCY_EXPONENTS[self.currency]

    @property
    def is_zero(self) -> bool:
        return self.minor == 0

    @property
    def is_negative(self) -> bool:
        return self.minor < 0

    @property
    def is_positive(self) -> bool:
        return self.minor > 0

    def to_major(self) -> Decimal:
        """Exact major-unit value with the currency's exponent: ``Decimal("10.50")``."""
        return Decimal(self.format_plain())

    def format_plain(self) -> str:
        """``"10.50"``, ``"-2.50"``, ``"1000"`` (JPY): no symbol, no grouping."""
        exponent = self.exponent
        sign = "-" if self.minor < 0 else ""
        if exponent == 0:
            return f"{sign}{abs(self.minor)}"
        whole, frac = divmod(abs(self.minor), _pow10(exponent))
        return f"{sign}{whole}.{frac:0{exponent}d}"

    def __str__(self) -> str:
        return f"{self.format_plain()} {self.currency}"

    # -- arithmetic -----------------------------------------------------------

    def _same_currency(self, other: Money, op: str) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"cannot {op} {self} and {other}: currencies differ")

    def _not_money(self, other: object, op: str) -> NoReturn:
        raise MoneyError(
            f"cannot {op} {self} and {other!r} ({type(other).__name__}): "
            f"both operands must be Money; build one with Money.from_major()"
        )

    def __add__(self, other: Money) -> Money:
        if isinstance(other, Money):
            self._same_currency(other, "add")
            return Money(self.minor + other.minor, self.currency)
        if _is_number(other):
            self._not_money(other, "add")
        return NotImplemented

    def __sub__(self, other: Money) -> Money:
        if isinstance(other, Money):
            self._same_currency(other, "subtract")
            return Money(self.minor - other.minor, self.currency)
        if _is_number(other):
            self._not_money(other, "subtract")
        return NotImplemented

    def __neg__(self) -> Money:
        return Money(-self.minor, self.currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return Money(abs(self.minor), self.currency)

    def __mul__(self, other: int) -> Money:
        factor: object = other
        if isinstance(factor, int) and not isinstance(factor, bool):
            return Money(self.minor * factor, self.currency)
        if _is_number(factor) or isinstance(factor, Money):
            raise MoneyError(
                f"Money can only be multiplied by an int, got {factor!r} "
                f"({type(factor).__name__}); compute fractional amounts with Decimal "
                f"and an explicit rounding rule"
            )
        return NotImplemented

    __rmul__ = __mul__

    # -- ordering (same currency only) ----------------------------------------

    def _cmp_key(self, other: object, op: str) -> int | None:
        if isinstance(other, Money):
            if other.currency != self.currency:
                raise MoneyError(f"cannot compare {self} {op} {other}: currencies differ")
            return other.minor
        if _is_number(other):
            raise MoneyError(
                f"cannot compare {self} {op} {other!r} ({type(other).__name__}): "
                f"compare Money with Money"
            )
        return None

    def __lt__(self, other: Money) -> bool:
        key = self._cmp_key(other, "<")
        return NotImplemented if key is None else self.minor < key

    def __le__(self, other: Money) -> bool:
        key = self._cmp_key(other, "<=")
        return NotImplemented if key is None else self.minor <= key

    def __gt__(self, other: Money) -> bool:
        key = self._cmp_key(other, ">")
        return NotImplemented if key is None else self.minor > key

    def __ge__(self, other: Money) -> bool:
        key = self._cmp_key(other, ">=")
        return NotImplemented if key is None else self.minor >= key


# -- parsing helpers ------------------------------------------------------------


def _too_large(value: object, cur: str) -> MoneyError:
    return MoneyError(
        f"amount {value!r} {cur} is out of range: at most {_MAX_DIGITS} digits of minor units"
    )


def _str_to_minor(text: str, exponent: int, cur: str) -> int:
    match = _DECIMAL_RE.fullmatch(text)
    if match is None:
        raise MoneyError(
            f"invalid amount string {text!r}: expected a plain decimal like '10', '10.50' "
            f"or '-2.50' (no exponent, '+', spaces or thousands separators)"
        )
    sign, whole, frac = match.group(1), match.group(2).lstrip("0"), match.group(3) or ""
    kept = frac.rstrip("0")
    if len(kept) > exponent:
        raise MoneyError(
            f"amount {text!r} has more decimals than {cur} allows ({exponent}): "
            f"it cannot be represented exactly"
        )
    if len(whole) + exponent > _MAX_DIGITS:
        raise _too_large(text, cur)
    minor = int(whole or "0") * _pow10(exponent) + int(kept.ljust(exponent, "0") or "0")
    return -minor if sign else minor


def _decimal_to_minor(value: Decimal, exponent: int, cur: str) -> int:
    if not value.is_finite():
        raise MoneyError(f"amount must be a finite number, got {value!r}")
    sign, digits, dec_exp = value.as_tuple()
    assert isinstance(dec_exp, int)  # finite, checked above
    if not any(digits):
        return 0
    shift = dec_exp + exponent  # power of ten applied to the coefficient in minor units
    if shift >= 0:
        if len(digits) + shift > _MAX_DIGITS:
            raise _too_large(value, cur)
        coefficient = int("".join(map(str, digits)))
        minor = coefficient * _pow10(shift)
    else:
        if any(digits[shift:]):
            raise MoneyError(
                f"amount {value!r} has more decimals than {cur} allows ({exponent}): "
                f"it cannot be represented exactly"
            )
        kept = digits[:shift]
        if len(kept) > _MAX_DIGITS:
            raise _too_large(value, cur)
        minor = int("".join(map(str, kept)) or "0")
    return -minor if sign else minor


def _number_to_minor(value: object, exponent: int, cur: str, what: str) -> int:
    """Major-unit int or Decimal → minor units; refuses every other type."""
    if isinstance(value, bool):
        raise MoneyError(f"{what} must be a number, got the bool {value!r}")
    if isinstance(value, int):
        if abs(value) > MAX_MINOR_UNITS // _pow10(exponent):
            raise _too_large(value, cur)
        return int(value) * _pow10(exponent)
    if isinstance(value, Decimal):
        return _decimal_to_minor(value, exponent, cur)
    if isinstance(value, float):
        raise MoneyError(
            f"{what} {value!r} is a float: pass a Decimal or a str (floats are not exact)"
        )
    raise MoneyError(f"{what} must be an int or a Decimal, got {value!r} ({type(value).__name__})")


def _integral_minor(value: object, vendor: str) -> int:
    """An integer count of minor units: an int, or a Decimal with an integral value."""
    what = f"{vendor} amount (integer minor units)"
    if isinstance(value, bool):
        raise MoneyError(f"{what} must be an integer, got the bool {value!r}")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Decimal):
        # Exponent 0: the Decimal itself must be a whole number of minor units.
        return _decimal_to_minor(value, 0, vendor)
    if isinstance(value, float):
        raise MoneyError(f"{what} must be an integer, got the float {value!r}")
    raise MoneyError(f"{what} must be an integer, got {value!r} ({type(value).__name__})")


# -- Tecalis kiosk API: major units as a JSON number ------------------------------


def to_tecalis(m: Money) -> int | Decimal:
    """Major units as a JSON number: ``10`` when whole, else the shortest exact Decimal.

    EUR 10.00 → ``10``; EUR 12.50 → ``Decimal("12.5")``; EUR 12.34 →
    ``Decimal("12.34")``. Serialise with :func:`dumps_json`.
    """
    exponent = m.exponent
    whole, frac = divmod(abs(m.minor), _pow10(exponent))
    sign = -1 if m.minor < 0 else 1
    if frac == 0:
        return sign * whole
    digits = f"{frac:0{exponent}d}".rstrip("0")
    return Decimal(f"{'-' if sign < 0 else ''}{whole}.{digits}")


def from_tecalis(value: object, cur: str) -> Money:
    """A Tecalis major-unit JSON number (int, or Decimal from :func:`loads_json`)."""
    exponent = currency_exponent(cur)
    return Money(_number_to_minor(value, exponent, cur, "Tecalis amount"), cur)


# -- Cashflows Kinetic: integer minor units ---------------------------------------


def to_kinetic(m: Money) -> int:
    """Integer minor units (pence/cents): EUR 10.00 → ``1000``."""
    return m.minor


def from_kinetic(value: object, cur: str) -> Money:
    """Integer minor units; an integral Decimal (``Decimal("1000")``) is accepted too."""
    currency_exponent(cur)
    return Money(_integral_minor(value, "Kinetic"), cur)


# -- KOMOJU: integer in the currency's smallest unit --------------------------------
# KOMOJU's smallest unit matches ISO 4217 for every currency we support (JPY 0
# decimals, USD/EUR cents); if it ever differs, this pair is the place to scale.


def to_komoju(m: Money) -> int:
    """Integer in KOMOJU's smallest unit: JPY 1000 → ``1000``, USD 10.00 → ``1000``."""
    return m.minor


def from_komoju(value: object, cur: str) -> Money:
    """Integer in KOMOJU's smallest unit; an integral Decimal is accepted too."""
    currency_exponent(cur)
    return Money(_integral_minor(value, "KOMOJU"), cur)


# -- PayJunction: "10.00" (USD, two decimals, no sign) ----------------------------------


def _payjunction_currency(cur: str) -> None:
    exponent = currency_exponent(cur)
    if exponent != 2:
        raise MoneyError(f"PayJunction amounts have exactly 2 decimals (USD); {cur} has {exponent}")


def to_payjunction(m: Money) -> str:
    """``amountBase``: ``"10.00"`` — exactly 2 decimals, no symbol, no grouping, not negative."""
    _payjunction_currency(m.currency)
    if m.is_negative:
        raise MoneyError(f"PayJunction amounts cannot be negative, got {m}")
    return m.format_plain()


def from_payjunction(s: str, cur: str = "USD") -> Money:
    """Parse a PayJunction amount string: ``^\\d+(\\.\\d{1,2})?$``."""
    _payjunction_currency(cur)
    if not isinstance(s, str) or _PAYJUNCTION_RE.fullmatch(s) is None:
        raise MoneyError(
            f"invalid PayJunction amount {s!r}: expected digits with at most 2 decimals "
            f"like '10.00' (no sign, symbol or separators)"
        )
    return Money(_str_to_minor(s, 2, cur), cur)


# -- CISS CardAPI: decimal strings out, decimals (or strings) in -------------------------


def to_cardapi(m: Money) -> str:
    """Decimal string with the currency's exponent: ``"2.50"``, ``"-2.50"``, ``"0.00"``."""
    return m.format_plain()


def from_cardapi(value: object, cur: str) -> Money:
    """A CardAPI amount/balance: Decimal (JSON number), int, or decimal string."""
    exponent = currency_exponent(cur)
    if isinstance(value, str):
        return Money(_str_to_minor(value, exponent, cur), cur)
    return Money(_number_to_minor(value, exponent, cur, "CardAPI amount"), cur)


# -- money-safe JSON -----------------------------------------------------------------


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"JSON constant {name} is not allowed: amounts must be finite numbers")


def loads_json(text: str | bytes) -> Any:
    """Parse JSON with non-integer numbers as Decimal; NaN/Infinity are refused."""
    return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)


def dumps_json(obj: object, *, allow_float: bool = False) -> str:
    """Compact JSON for dict/list/tuple/str/int/bool/None/Decimal; anything else is a TypeError.

    Decimals are written in exact plain notation (``12.34``, ``0.00000001``,
    never ``1E+3``); non-finite Decimals raise ValueError. Money is refused:
    convert amounts with a vendor's ``to_*`` function first. Floats are refused
    too, unless ``allow_float`` says the payload carries non-money floats
    (durations, timestamps), as the simulators' state reports do.
    """
    parts: list[str] = []
    _encode(obj, parts, set(), allow_float)
    return "".join(parts)


def _encode(obj: object, out: list[str], active: set[int], allow_float: bool) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, str):
        out.append(json.dumps(obj))
    elif isinstance(obj, int):
        out.append(int.__repr__(obj))
    elif isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"cannot write non-finite Decimal {obj!r} as JSON")
        out.append(format(obj, "f"))
    elif isinstance(obj, dict | list | tuple):
        marker = id(obj)
        if marker in active:
            raise ValueError("circular reference in JSON data")
        active.add(marker)
        if isinstance(obj, dict):
            out.append("{")
            for index, (key, item) in enumerate(obj.items()):
                if not isinstance(key, str):
                    raise TypeError(
                        f"JSON object keys must be str, got {key!r} ({type(key).__name__})"
                    )
                if index:
                    out.append(",")
                out.append(json.dumps(key))
                out.append(":")
                _encode(item, out, active, allow_float)
            out.append("}")
        else:
            out.append("[")
            for index, item in enumerate(obj):
                if index:
                    out.append(",")
                _encode(item, out, active, allow_float)
            out.append("]")
        active.discard(marker)
    elif isinstance(obj, float) and allow_float and math.isfinite(obj):
        out.append(float.__repr__(obj))
    elif isinstance(obj, float):
        raise TypeError(f"float {obj!r} is not allowed in money-safe JSON: use Decimal or int")
    else:
        raise TypeError(
            f"{type(obj).__name__} {obj!r} is not JSON serialisable"
            + (": convert with a vendor's to_* function" if isinstance(obj, Money) else "")
        )
