"""Kiosk configuration: one TOML file per kiosk.

Every setting is declared exactly once, as a field of a frozen section
dataclass, with its type (the annotation), default, description and
constraints (:func:`setting`). The loader, the validator, the environment
overrides and the example generator (:func:`example_toml`) all read those
declarations; nothing is listed twice.

Where values come from, strongest first:

1. environment variables ``KIOSKAPP_<SECTION>__<KEY>`` (e.g.
   ``KIOSKAPP_TECALIS__BASE_URL``), parsed from text per type;
2. the TOML file (``--config``, else ``$KIOSKAPP_CONFIG``, else
   ``/etc/kioskapp/kiosk.toml``);
3. the declared defaults, which point at the built-in simulators on loopback.

A secret setting ``password`` may instead be read from a file named by
``password_file`` (or ``KIOSKAPP_<SECTION>__PASSWORD_FILE``); one trailing
newline is removed. Secrets are :class:`Secret` objects whose ``repr`` and
``str`` never show the value; call :meth:`Secret.reveal` where the value is
sent.

Types are strict: a string is not an integer, ``1`` is not a boolean. Every
problem in a file is collected and reported together, each as one line naming
the key, the bad value and what is expected (:class:`ConfigError`).
"""

# Every setting is declared by calling setting() as a dataclass field default; it
# returns dataclasses.field() (immutable defaults only), which RUF009 cannot see.
# ruff: noqa: RUF009

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import enum
import hmac
import json
import math
import os
import re
import textwrap
import tomllib
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints
from urllib.parse import urlsplit

__all__ = [
    "CONFIG_ENV_VAR",
    "DEFAULT_CONFIG_PATH",
    "ENV_PREFIX",
    "CallbacksSettings",
    "CardApiSettings",
    "CardProvider",
    "CodeKind",
    "Config",
    "ConfigError",
    "ConfigProblem",
    "JournalSettings",
    "KineticSettings",
    "KioskSettings",
    "KomojuSettings",
    "Language",
    "LogLevel",
    "LoggingSettings",
    "PayJunctionSettings",
    "PaymentsSettings",
    "Product",
    "Secret",
    "SerialReaderSettings",
    "SimulatorSettings",
    "StaffSettings",
    "TecalisSettings",
    "UiSettings",
    "check_file",
    "env_var_name",
    "example_toml",
    "load_config",
    "resolve_config_path",
]

DEFAULT_CONFIG_PATH = Path("/etc/kioskapp/kiosk.toml")
CONFIG_ENV_VAR = "KIOSKAPP_CONFIG"
ENV_PREFIX = "KIOSKAPP_"

Language = Literal["en", "es", "fr", "ja"]
CardProvider = Literal["tpv", "kinetic", "komoju", "payjunction", "none"]
CodeKind = Literal["barcode", "nfc"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

# Currencies a kiosk may be configured for, with their ISO 4217 exponent
# (number of minor-unit digits). Kept deliberately small and local: the money
# module owns arithmetic; this only validates the configured prices.
_CURRENCY_EXPONENTS: Mapping[str, int] = {
    "EUR": 2,
    "USD": 2,
    "GBP": 2,
    "JPY": 0,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "PLN": 2,
    "CZK": 2,
    "CAD": 2,
    "AUD": 2,
}


# --------------------------------------------------------------------------
# Secret
# --------------------------------------------------------------------------


class Secret:
    """A credential. Printing it (repr, str, f-strings, logs) shows ``Secret('****')``.

    ``reveal()`` returns the value; call it only where the value is sent.
    ``bool(secret)`` is False for an empty secret (e.g. no staff PIN set).
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            raise TypeError(f"Secret value must be a str, not {type(value).__name__}")
        self._value = value

    def reveal(self) -> str:
        """The secret value itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))


# --------------------------------------------------------------------------
# Declaring settings
# --------------------------------------------------------------------------


class Kind(enum.Enum):
    """How a setting is parsed and validated (derived from its annotation)."""

    STR = "str"
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    URL = "url"
    PATH = "path"
    CHOICE = "choice"
    STR_LIST = "list of str"
    SECRET = "secret"  # noqa: S105 - a kind name, not a password
    OPTIONAL_INT = "optional int"
    PRICE = "price"


_META = "kioskapp.config.setting"
_SECTION_META = "kioskapp.config.section"
_PRODUCTS_META = "kioskapp.config.products"

_T = TypeVar("_T")


@dataclass(frozen=True)
class _Declared:
    """What :func:`setting` stores in a field's metadata."""

    description: str
    kind: Kind | None
    ge: float | None
    gt: float | None
    le: float | None
    nonempty: bool
    note: str | None
    check: Callable[[Any], str | None] | None
    key: str | None
    expect: str | None


def setting(
    default: _T,
    description: str,
    *,
    kind: Kind | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    nonempty: bool = False,
    note: str | None = None,
    check: Callable[[Any], str | None] | None = None,
    expect: str | None = None,
) -> _T:
    """Declare one setting: default, description and constraints.

    The type comes from the field's annotation (``str``, ``int``, ``float``,
    ``bool``, ``Path``, ``Secret``, ``int | None``, a ``Literal`` of choices,
    ``tuple[str, ...]`` or a tuple of a ``Literal``); ``kind=Kind.URL`` marks a
    ``str`` as a URL. ``ge``/``gt``/``le`` bound numbers, ``nonempty`` forbids
    an empty string or list, ``note`` is appended to range errors (the reason
    for the bound), ``check`` returns an error message for a bad value and
    ``expect`` then describes the accepted values (for the example file).
    """
    meta = _Declared(description, kind, ge, gt, le, nonempty, note, check, None, expect)
    return field(default=default, metadata={_META: meta})


def _required(description: str, *, kind: Kind | None = None, key: str | None = None) -> Any:
    """Declare a required setting (no default); ``key`` is its name in TOML."""
    meta = _Declared(description, kind, None, None, None, True, None, None, key, None)
    return field(metadata={_META: meta})


def _section(cls: Callable[[], _T], description: str) -> _T:
    return field(default_factory=cls, metadata={_SECTION_META: (cls, description)})


@dataclass(frozen=True)
class _Setting:
    """A declared setting, resolved: what every consumer of declarations uses."""

    name: str  # attribute name
    key: str  # name in TOML
    kind: Kind
    description: str
    default: Any  # dataclasses.MISSING when required
    choices: tuple[str, ...]
    ge: float | None
    gt: float | None
    le: float | None
    nonempty: bool
    note: str | None
    check: Callable[[Any], str | None] | None
    expect: str | None

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING


def _kind_of(annotation: Any, declared: Kind | None, where: str) -> tuple[Kind, tuple[str, ...]]:
    origin = get_origin(annotation)
    args = get_args(annotation)
    if declared is Kind.URL and annotation is str:
        return Kind.URL, ()
    if declared is Kind.PRICE and annotation is int:
        return Kind.PRICE, ()
    if declared is None:
        simple = {
            str: Kind.STR,
            int: Kind.INT,
            float: Kind.FLOAT,
            bool: Kind.BOOL,
            Path: Kind.PATH,
            Secret: Kind.SECRET,
        }
        if annotation in simple:
            return simple[annotation], ()
        if origin is Literal:
            return Kind.CHOICE, tuple(str(a) for a in args)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            if args[0] is str:
                return Kind.STR_LIST, ()
            if get_origin(args[0]) is Literal:
                return Kind.STR_LIST, tuple(str(a) for a in get_args(args[0]))
        if origin is types.UnionType and set(args) == {int, type(None)}:
            return Kind.OPTIONAL_INT, ()
    raise TypeError(f"{where}: unsupported setting annotation {annotation!r} (kind={declared})")


_SETTINGS_CACHE: dict[type, tuple[_Setting, ...]] = {}


def _settings(cls: type) -> tuple[_Setting, ...]:
    """The resolved settings declared on a section (or Product) dataclass."""
    cached = _SETTINGS_CACHE.get(cls)
    if cached is not None:
        return cached
    hints = get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        declared = f.metadata.get(_META)
        if not isinstance(declared, _Declared):
            continue
        where = f"{cls.__name__}.{f.name}"
        kind, choices = _kind_of(hints[f.name], declared.kind, where)
        out.append(
            _Setting(
                name=f.name,
                key=declared.key or f.name,
                kind=kind,
                description=declared.description,
                default=f.default,
                choices=choices,
                ge=declared.ge,
                gt=declared.gt,
                le=declared.le,
                nonempty=declared.nonempty,
                note=declared.note,
                check=declared.check,
                expect=declared.expect,
            )
        )
    _SETTINGS_CACHE[cls] = result = tuple(out)
    return result


def _sections() -> list[tuple[str, type, str]]:
    """(name, dataclass, description) of every [section], in Config order."""
    out = []
    for f in dataclasses.fields(Config):
        meta = f.metadata.get(_SECTION_META)
        if meta is not None:
            cls, description = meta
            out.append((f.name, cls, description))
    return out


def _allowed_keys(cls: type) -> list[str]:
    keys = []
    for s in _settings(cls):
        keys.append(s.key)
        if s.kind is Kind.SECRET:
            keys.append(s.key + "_file")
    return keys


def env_var_name(section: str, key: str) -> str:
    """The environment variable overriding ``section.key``: KIOSKAPP_<SECTION>__<KEY>."""
    return f"{ENV_PREFIX}{section.upper()}__{key.upper()}"


# --------------------------------------------------------------------------
# Value checks used in declarations
# --------------------------------------------------------------------------


def _check_currency(value: Any) -> str | None:
    if not re.fullmatch(r"[A-Z]{3}", value):
        return (
            "expected an ISO 4217 currency code (3 uppercase letters, e.g. 'EUR'), "
            f"got {_describe(value)}"
        )
    if value not in _CURRENCY_EXPONENTS:
        known = ", ".join(_CURRENCY_EXPONENTS)
        return f"unsupported currency {value!r}; expected one of {known}"
    return None


# --------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class KioskSettings:
    id: str = setting(
        "KIOSK-001",
        "Kiosk id assigned by Tecalis: sent when opening a hardware session (unless "
        "tecalis.kiosk_token is set) and printed on every receipt.",
        nonempty=True,
    )
    currency: str = setting(
        "EUR",
        "Currency of every price and payment, as an ISO 4217 code. Supported: "
        + ", ".join(_CURRENCY_EXPONENTS)
        + ".",
        check=_check_currency,
        expect="an ISO 4217 currency code (3 uppercase letters) from the list above",
    )
    merchant_name: str = setting(
        "kioskapp demo shop", "Merchant name printed at the top of every receipt.", nonempty=True
    )
    merchant_lines: tuple[str, ...] = setting(
        (),
        "Extra receipt header lines printed under the merchant name, in order "
        "(address, tax id, phone number).",
    )
    default_language: Language = setting(
        "en",
        "Language of the attract screen and of every new customer session; must be "
        "one of kiosk.languages.",
    )
    languages: tuple[Language, ...] = setting(
        ("en", "es", "fr", "ja"),
        "Languages the customer can choose from, in the order their buttons are shown.",
        nonempty=True,
    )
    state_dir: Path = setting(
        Path("/var/lib/kioskapp"),
        "Directory for the kiosk's own state (cash box counters, cached device state). "
        "Must be writable by the kioskapp user.",
    )


@dataclass(frozen=True)
class TecalisSettings:
    base_url: str = setting(
        "http://127.0.0.1:8710/tecalis",
        "Base URL of the Tecalis kiosk API; request paths such as /api/auth are "
        "appended to it. The default is the built-in simulator.",
        kind=Kind.URL,
    )
    username: str = setting(
        "integrator",
        "Integrator account name, exchanged for an integrator token at POST /api/auth.",
        nonempty=True,
    )
    password: Secret = setting(Secret("integrator-secret"), "Integrator account password.")
    kiosk_token: Secret = setting(
        Secret(""),
        "Kiosk token to open hardware sessions with instead of kiosk.id. Leave empty "
        "to use kiosk.id.",
    )
    record: bool = setting(
        False, "Ask Tecalis to record hardware sessions (the record flag of session/start)."
    )
    timeout_s: float = setting(
        5.0, "Seconds to wait for the answer to an ordinary Tecalis API call.", gt=0
    )
    connect_timeout_s: float = setting(
        2.0, "Seconds to wait for a connection to the Tecalis API.", gt=0
    )
    print_timeout_s: float = setting(
        30.0, "Seconds to wait for printer/print-pdf to answer (printing takes a while).", gt=0
    )
    scan_timeout_s: float = setting(
        20.0, "Seconds to wait for scanner/scan to return the ID document image.", gt=0
    )
    poll_interval_s: float = setting(
        1.0,
        "Seconds between status polls of the bill reader and PIN pad. Device callbacks "
        "can be lost, so the kiosk polls as well.",
        gt=0,
    )
    session_refresh_margin_s: float = setting(
        300.0,
        "Renew the hardware session (close, then start) this many seconds before its "
        "token expires; never done in the middle of an escrow.",
        ge=0,
    )


@dataclass(frozen=True)
class CallbacksSettings:
    listen_host: str = setting(
        "127.0.0.1",
        "Address the callback and webhook receiver listens on. Use 0.0.0.0 to accept "
        "callbacks from the LAN or webhooks from the internet.",
        nonempty=True,
    )
    listen_port: int = setting(
        8711, "TCP port the callback and webhook receiver listens on.", ge=1, le=65535
    )
    public_url: str = setting(
        "http://127.0.0.1:8711",
        "The address devices and webhook senders use to reach this kiosk's receiver "
        "(sent as the callback URL). Differs from listen_host/listen_port behind NAT "
        "or a reverse proxy.",
        kind=Kind.URL,
    )
    max_body_bytes: int = setting(
        65536,
        "Largest callback or webhook body accepted, in bytes; larger requests are refused.",
        ge=1024,
        le=10485760,
    )


@dataclass(frozen=True)
class PaymentsSettings:
    card_provider: CardProvider = setting(
        "tpv",
        "Card payment terminal: tpv = the PIN pad built into the Tecalis kiosk, "
        "kinetic = Cashflows Kinetic Go 2 on the LAN, komoju = KOMOJU Cloud Terminal, "
        "payjunction = PayJunction Smart Terminal, none = no card payments.",
    )
    cash_enabled: bool = setting(True, "Offer cash payment through the Tecalis bill reader.")


@dataclass(frozen=True)
class CardApiSettings:
    base_url: str = setting(
        "http://127.0.0.1:8710/cardapi",
        "Base URL of the CISS CardAPI (cashback cards); /cards... is appended.",
        kind=Kind.URL,
    )
    token: Secret = setting(Secret("sim-cardapi-token"), "Bearer token (JWT) for CardAPI.")
    group_id: int | None = setting(
        None,
        "Card group to search passes in. Set either group_id, or both store_id and "
        "point_of_sale_id.",
        ge=0,
    )
    store_id: int | None = setting(
        1, "Store to search passes in (together with point_of_sale_id).", ge=0
    )
    point_of_sale_id: int | None = setting(
        65,
        "This kiosk's point of sale in CardAPI: used in searches without group_id and "
        "sent with every debit.",
        ge=0,
    )
    device_id: str = setting("", "Device id sent with every debit; empty = use kiosk.id.")
    timeout_s: float = setting(5.0, "Seconds to wait for a CardAPI answer.", gt=0)


@dataclass(frozen=True)
class KineticSettings:
    base_url: str = setting(
        "http://127.0.0.1:8710/kinetic/api/v2",
        "Base URL of the Kinetic Go 2 terminal's REST API v2, e.g. "
        "http://<terminal>:8080/api/v2. Used when payments.card_provider = 'kinetic'.",
        kind=Kind.URL,
    )
    username: str = setting("kinetic", "HTTP Basic user name configured on the terminal.")
    password: Secret = setting(
        Secret("kinetic-secret"), "HTTP Basic password configured on the terminal."
    )
    timeout_s: float = setting(5.0, "Seconds to wait for the terminal's answer.", gt=0)
    poll_interval_s: float = setting(
        0.5, "Seconds between polls of the current transaction during a sale.", gt=0
    )


@dataclass(frozen=True)
class KomojuSettings:
    base_url: str = setting(
        "http://127.0.0.1:8710/komoju",
        "Base URL of the KOMOJU API (production: https://komoju.com); /api/v1/... is "
        "appended. Used when payments.card_provider = 'komoju'.",
        kind=Kind.URL,
    )
    secret_key: Secret = setting(
        Secret("sk_test_sim"), "KOMOJU secret API key (sent as the HTTP Basic user name)."
    )
    terminal_id: str = setting(
        "sim-terminal-1", "Id of the cloud terminal payment sessions are pushed to.", nonempty=True
    )
    webhook_secret: Secret = setting(
        Secret("whsec_sim"),
        "Secret that verifies the X-Komoju-Signature of incoming webhooks.",
    )
    timeout_s: float = setting(10.0, "Seconds to wait for a KOMOJU API answer.", gt=0)
    poll_interval_s: float = setting(
        2.0, "Seconds between polls of a payment session's status.", gt=0
    )


@dataclass(frozen=True)
class PayJunctionSettings:
    base_url: str = setting(
        "http://127.0.0.1:8710/payjunction",
        "Base URL of the PayJunction API: https://api.payjunctionlabs.com (test) or "
        "https://api.payjunction.com (production). Used when payments.card_provider = "
        "'payjunction'.",
        kind=Kind.URL,
    )
    login: str = setting("pj-sim", "API login (HTTP Basic user name).", nonempty=True)
    password: Secret = setting(Secret("pj-sim-password"), "API password (HTTP Basic password).")
    application_key: Secret = setting(
        Secret("pj-sim-app-key"), "Application key, sent as the X-PJ-Application-Key header."
    )
    terminal_id: int = setting(1, "terminalId sent with request-payment and request-read.", ge=0)
    smart_terminal_id: str = setting(
        "sim-smart-terminal-1",
        "Smart Terminal id used in the /smartterminals/{id}/... paths.",
        nonempty=True,
    )
    webhook_secret: Secret = setting(
        Secret("pj-sim-webhook"),
        "Secret that verifies the X-Pj-Signature of incoming webhooks.",
    )
    timeout_s: float = setting(10.0, "Seconds to wait for a PayJunction API answer.", gt=0)
    poll_interval_s: float = setting(
        0.5,
        "Seconds between polls of a terminal request's status.",
        ge=0.5,
        note="PayJunction allows polling a request at most every 0.5 s",
    )


@dataclass(frozen=True)
class SerialReaderSettings:
    enabled: bool = setting(
        False, "Use a USB-serial reader for customers' cashback cards (one code per line)."
    )
    url: str = setting(
        "/dev/ttyACM0",
        "Serial device path or pyserial URL, e.g. /dev/ttyACM0 or rfc2217://host:port.",
        nonempty=True,
    )
    baudrate: int = setting(9600, "Line speed in baud (8 data bits, no parity, 1 stop bit).", ge=1)
    code_kind: CodeKind = setting(
        "barcode",
        "What the reader sends: barcode = the card's printed barcode, nfc = its NFC "
        "number (decides the CardAPI search mode).",
    )


@dataclass(frozen=True)
class JournalSettings:
    path: Path = setting(
        Path("/var/lib/kioskapp/journal.sqlite3"),
        "SQLite file of the transaction journal: the intent and outcome of every "
        "side effect of every sale. Back it up; never delete it while sales are unfinished.",
    )


@dataclass(frozen=True)
class UiSettings:
    fullscreen: bool = setting(True, "Run fullscreen (false gives a window, for development).")
    idle_timeout_s: float = setting(
        60.0,
        "Seconds without input on a customer screen before the time-out warning appears.",
        ge=10,
    )
    idle_warning_s: float = setting(
        20.0,
        "Length in seconds of the time-out warning's visible and audible countdown; "
        "when it ends the session is cancelled safely.",
        ge=5,
    )
    max_extensions: int = setting(
        10,
        "How many times a customer may press 'More time' in one session.",
        ge=10,
        note="accessibility rules ask for at least 10 extensions",
    )
    high_contrast: bool = setting(
        False, "Start every session in high-contrast mode (customers can always toggle it)."
    )
    large_text: bool = setting(
        False, "Start every session in large-text mode (customers can always toggle it)."
    )
    speech: bool = setting(
        True,
        "Read screen titles, amounts and errors aloud (text to speech) where the system "
        "has a speech engine; without one the screens work the same, silently.",
    )
    speech_engine: str = setting(
        "",
        "Text-to-speech engine to use (e.g. 'speechd'); empty: the system's default.",
    )


@dataclass(frozen=True)
class StaffSettings:
    pin_hash: Secret = setting(
        Secret(""),
        "Salted scrypt hash of the staff PIN. Set it with `kioskapp admin set-pin`; "
        "never write a PIN here. Empty = maintenance mode is locked.",
    )
    lockout_attempts: int = setting(5, "Wrong PINs in a row after which PIN entry is locked.", ge=1)
    lockout_s: float = setting(
        300.0, "Seconds PIN entry stays locked after too many wrong PINs.", gt=0
    )
    session_timeout_s: float = setting(
        300.0, "Seconds without input after which maintenance mode logs staff out.", gt=0
    )


@dataclass(frozen=True)
class SimulatorSettings:
    host: str = setting("127.0.0.1", "Address the built-in simulators listen on.", nonempty=True)
    port: int = setting(8710, "TCP port of the built-in simulators.", ge=1, le=65535)
    speed: float = setting(1.0, "Simulated time runs this many times faster than real time.", gt=0)


@dataclass(frozen=True)
class LoggingSettings:
    level: LogLevel = setting(
        "INFO",
        "Lowest level of message written to the log (the systemd journal when run as a service).",
    )


@dataclass(frozen=True)
class Product:
    """One product of the catalogue; ``price_minor`` is in kiosk.currency's minor units."""

    sku: str = _required("Stock keeping unit: unique id of the product (journal, receipts).")
    name: str = _required("Name shown on screen and printed on the receipt.")
    price_minor: int = _required(
        "Price in kiosk.currency, greater than zero, with no more decimal places than "
        "the currency has (JPY: none). Loaded as price_minor, in minor units.",
        kind=Kind.PRICE,
        key="price",
    )
    needs_id_scan: bool = setting(
        False, "The customer's ID document must be scanned before this product is sold."
    )
    dispenses_card: bool = setting(
        True, "Selling this product hands out a cashback card from the dispenser."
    )


# The built-in demo catalogue, as it would be written in TOML (prices are
# converted with the configured currency when the config is loaded).
_DEFAULT_PRODUCT_TABLES: tuple[Mapping[str, Any], ...] = (
    {"sku": "CASHBACK-CARD", "name": "Cashback card", "price": "5.00"},
    {"sku": "GIFT-20", "name": "Gift card 20", "price": "20.00", "dispenses_card": True},
    {
        "sku": "PREMIUM-50",
        "name": "Premium card 50 (ID required)",
        "price": "50.00",
        "needs_id_scan": True,
    },
)

_PRODUCTS_DESCRIPTION = (
    "The product catalogue: one [[products]] table per product, shown on the choose "
    "screen in this order. At least one product; skus must be unique. Without any "
    "[[products]] table the demo catalogue below is used."
)


def _default_products() -> tuple[Product, ...]:
    ctx = _Ctx(env={}, base_dir=None)
    products = _load_products(ctx, list(_DEFAULT_PRODUCT_TABLES), KioskSettings().currency)
    if ctx.problems:  # pragma: no cover - a broken built-in catalogue is a programming error
        raise ConfigError(ctx.problems)
    return products


@dataclass(frozen=True)
class Config:
    """The whole configuration of one kiosk. ``source`` is the file it came from."""

    kiosk: KioskSettings = _section(KioskSettings, "This kiosk: identity, money, languages.")
    products: tuple[Product, ...] = field(
        default_factory=lambda: _DEFAULT_PRODUCTS, metadata={_PRODUCTS_META: True}
    )
    tecalis: TecalisSettings = _section(
        TecalisSettings,
        "Tecalis kiosk hardware API: session, bill reader, PIN pad (TPV), card "
        "dispenser, printer, scanner.",
    )
    callbacks: CallbacksSettings = _section(
        CallbacksSettings, "Local HTTP receiver for device callbacks and payment webhooks."
    )
    payments: PaymentsSettings = _section(
        PaymentsSettings,
        "How customers pay. Cash always goes through the Tecalis bill reader; one card "
        "terminal is configured per kiosk.",
    )
    cardapi: CardApiSettings = _section(
        CardApiSettings, "CISS CardAPI: cashback cards (passes), searched and debited."
    )
    kinetic: KineticSettings = _section(
        KineticSettings, "Cashflows Kinetic Go 2 card terminal on the LAN."
    )
    komoju: KomojuSettings = _section(KomojuSettings, "KOMOJU Cloud Terminal.")
    payjunction: PayJunctionSettings = _section(
        PayJunctionSettings,
        "PayJunction Smart Terminal: card payments, and reading gift/loyalty magnetic "
        "stripe cards.",
    )
    serial_reader: SerialReaderSettings = _section(
        SerialReaderSettings, "Optional USB-serial reader for customers' cashback cards."
    )
    journal: JournalSettings = _section(JournalSettings, "Durable transaction journal.")
    ui: UiSettings = _section(UiSettings, "Touchscreen behaviour and accessibility defaults.")
    staff: StaffSettings = _section(StaffSettings, "Maintenance mode access.")
    simulator: SimulatorSettings = _section(
        SimulatorSettings,
        "Built-in simulators of every device API (kioskapp --simulate, kioskapp-sim).",
    )
    logging: LoggingSettings = _section(LoggingSettings, "Logging.")
    source: Path | None = field(default=None, compare=False)

    def product(self, sku: str) -> Product:
        """The product with this sku (KeyError if there is none)."""
        for p in self.products:
            if p.sku == sku:
                return p
        raise KeyError(sku)


# --------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with a configuration. ``str()`` is one line: ``key: message``."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class ConfigError(Exception):
    """The configuration is not valid; ``problems`` lists everything wrong with it."""

    def __init__(self, problems: Sequence[ConfigProblem], source: Path | None = None) -> None:
        self.problems: list[ConfigProblem] = list(problems)
        self.source = source
        super().__init__(self.problems)

    def __str__(self) -> str:
        where = f" in {self.source}" if self.source is not None else ""
        n = len(self.problems)
        head = f"invalid configuration{where} ({n} problem{'s' if n != 1 else ''}):"
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


# --------------------------------------------------------------------------
# Parsing and validation
# --------------------------------------------------------------------------


class _Bad(Exception):
    def __init__(self, message: str, suffix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.suffix = suffix  # appended to the key, e.g. "[2]"


_UNSET: Any = object()

_TYPE_PHRASE = {
    Kind.STR: "a string",
    Kind.INT: "an integer",
    Kind.FLOAT: "a number",
    Kind.BOOL: "true or false",
    Kind.URL: "an http:// or https:// URL with a host",
    Kind.PATH: "a path (a string)",
    Kind.STR_LIST: "an array of strings",
    Kind.SECRET: "a string",
    Kind.OPTIONAL_INT: 'an integer, or "" for not set',
}

_INT_RE = re.compile(r"[+-]?\d+")
_FLOAT_RE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_PRICE_RE = re.compile(r"\d+(\.\d+)?")
_TRUE = frozenset({"true", "yes", "1", "on"})
_FALSE = frozenset({"false", "no", "0", "off"})


def _quote(text: str) -> str:
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text)


def _describe(value: Any, *, hide: bool = False) -> str:
    """'the string 'x'', 'the integer 5', ... (``hide``: the type only, for secrets)."""
    if isinstance(value, bool):
        return "a boolean" if hide else f"the boolean {'true' if value else 'false'}"
    if isinstance(value, int):
        return "an integer" if hide else f"the integer {value}"
    if isinstance(value, float):
        return "a number" if hide else f"the number {value!r}"
    if isinstance(value, str):
        if hide:
            return "a string"
        return "an empty string" if value == "" else f"the string {_quote(value)}"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, dt.datetime):
        return "a date-time" if hide else f"the date-time {value.isoformat()}"
    if isinstance(value, dt.date):
        return "a date" if hide else f"the date {value.isoformat()}"
    if isinstance(value, dt.time):
        return "a time" if hide else f"the time {value.isoformat()}"
    return f"a {type(value).__name__}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _range_phrase(s: _Setting) -> str | None:
    if s.ge is not None and s.le is not None:
        return f"from {_num(s.ge)} to {_num(s.le)}"
    if s.gt is not None:
        return f"greater than {_num(s.gt)}"
    if s.ge is not None:
        return f"of at least {_num(s.ge)}"
    if s.le is not None:
        return f"of at most {_num(s.le)}"
    return None


def _choices_phrase(choices: Sequence[str]) -> str:
    return "one of " + ", ".join(repr(c) for c in choices)


def _expectation(s: _Setting) -> str:
    """What a setting accepts, in full (type, choices, range), for messages and the example."""
    if s.expect:
        return s.expect
    if s.kind is Kind.CHOICE:
        return _choices_phrase(s.choices)
    if s.kind is Kind.STR_LIST and s.choices:
        least = " (at least one)" if s.nonempty else ""
        return f"an array of strings, each {_choices_phrase(s.choices)}{least}"
    if s.kind is Kind.PRICE:
        return 'a decimal string such as "5.00", or a whole number such as 5 (no floats)'
    phrase = _TYPE_PHRASE[s.kind]
    rng = _range_phrase(s)
    if rng and s.kind is Kind.OPTIONAL_INT:
        return f'an integer {rng}, or "" for not set'
    if rng:
        return f"{phrase} {rng}"
    if s.nonempty and s.kind is Kind.STR:
        return "a non-empty string"
    if s.kind is Kind.SECRET:
        return "a string (secret)"
    return phrase


def _check_range(s: _Setting, value: float) -> None:
    ok = (
        (s.ge is None or value >= s.ge)
        and (s.gt is None or value > s.gt)
        and (s.le is None or value <= s.le)
    )
    if not ok:
        note = f" ({s.note})" if s.note else ""
        raise _Bad(f"expected {_expectation(s)}, got {_num(value)}{note}")


def _check_url(value: str) -> str:
    bad = _Bad(f"expected {_TYPE_PHRASE[Kind.URL]}, got {_describe(value)}")
    if any(c.isspace() for c in value):
        raise bad
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad
    try:
        _ = parts.port
    except ValueError:
        raise bad from None
    return value.rstrip("/")


def _validate(s: _Setting, value: Any, base_dir: Path | None) -> Any:
    """Check a TOML-typed value against a setting; return the typed value or raise _Bad."""
    kind = s.kind
    result: Any
    if kind is Kind.BOOL:
        if not isinstance(value, bool):
            raise _Bad(f"expected true or false, got {_describe(value)}")
        result = value
    elif kind in (Kind.INT, Kind.OPTIONAL_INT):
        if kind is Kind.OPTIONAL_INT and value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"expected {_TYPE_PHRASE[kind]}, got {_describe(value)}")
        _check_range(s, value)
        result = value
    elif kind is Kind.FLOAT:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _Bad(f"expected a number, got {_describe(value)}")
        result = float(value)
        if not math.isfinite(result):
            raise _Bad(f"expected a finite number, got {_describe(value)}")
        _check_range(s, result)
    elif kind is Kind.STR_LIST:
        if not isinstance(value, list | tuple):
            raise _Bad(f"expected {_TYPE_PHRASE[kind]}, got {_describe(value)}")
        seen: set[str] = set()
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise _Bad(f"expected a string, got {_describe(item)}", f"[{i}]")
            if s.choices:
                if item not in s.choices:
                    raise _Bad(
                        f"expected {_choices_phrase(s.choices)}, got {_describe(item)}", f"[{i}]"
                    )
                if item in seen:
                    raise _Bad(f"{item!r} is listed more than once", f"[{i}]")
                seen.add(item)
        if s.nonempty and not value:
            raise _Bad("expected at least one entry, got an empty array")
        result = tuple(value)
    else:
        if not isinstance(value, str):
            expected = _choices_phrase(s.choices) if kind is Kind.CHOICE else _TYPE_PHRASE[kind]
            raise _Bad(f"expected {expected}, got {_describe(value, hide=kind is Kind.SECRET)}")
        if kind is Kind.CHOICE:
            if value not in s.choices:
                raise _Bad(f"expected {_choices_phrase(s.choices)}, got {_describe(value)}")
            result = value
        elif kind is Kind.URL:
            result = _check_url(value)
        elif kind is Kind.PATH:
            if not value:
                raise _Bad("expected a non-empty path, got an empty string")
            path = Path(value)
            result = base_dir / path if base_dir is not None and not path.is_absolute() else path
        elif kind is Kind.SECRET:
            result = Secret(value)
        else:
            if s.nonempty and not value.strip():
                raise _Bad(f"expected a non-empty string, got {_describe(value)}")
            result = value
    if s.check is not None:
        message = s.check(result)
        if message:
            raise _Bad(message)
    return result


def _from_env_text(s: _Setting, text: str) -> Any:
    """Turn an environment variable's text into the TOML-typed value for ``s``."""
    stripped = text.strip()
    kind = s.kind
    if kind is Kind.BOOL:
        low = stripped.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise _Bad(f"expected true/false, yes/no or 1/0, got {_quote(text)}")
    if kind in (Kind.INT, Kind.OPTIONAL_INT):
        if kind is Kind.OPTIONAL_INT and stripped == "":
            return ""
        if _INT_RE.fullmatch(stripped):
            return int(stripped)
        raise _Bad(f"expected {_TYPE_PHRASE[kind]}, got {_quote(text)}")
    if kind is Kind.FLOAT:
        if _FLOAT_RE.fullmatch(stripped):
            return float(stripped)
        raise _Bad(f"expected a number, got {_quote(text)}")
    if kind is Kind.STR_LIST:
        return [part.strip() for part in text.split(",") if part.strip()]
    return text


def _parse_price(value: Any, currency: str | None) -> int | None:
    """Minor units of a configured price; None when the currency is unknown (reported elsewhere)."""
    example = 'write prices as strings, e.g. "5.00"'
    if isinstance(value, float):
        raise _Bad(f"{example} (got the number {value!r})")
    if isinstance(value, bool):
        raise _Bad(f'expected a price such as "5.00", got {_describe(value)}')
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, str):
        if not _PRICE_RE.fullmatch(value):
            raise _Bad(
                'expected a price such as "5.00" (digits and an optional decimal point; no '
                f"currency sign, sign or thousands separator), got {_describe(value)}"
            )
        amount = Decimal(value)
    else:
        raise _Bad(f'expected a price such as "5.00", got {_describe(value)}')
    if amount <= 0:
        raise _Bad(f"expected a price greater than zero, got {_describe(value)}")
    if currency is None:
        return None
    exponent = _CURRENCY_EXPONENTS[currency]
    minor = amount.scaleb(exponent)
    if minor != minor.to_integral_value():
        if exponent == 0:
            raise _Bad(
                f"expected a whole number of {currency} ({currency} has no minor unit), "
                f"got {_describe(value)}"
            )
        raise _Bad(
            f"expected at most {exponent} decimal places for {currency}, got {_describe(value)}"
        )
    return int(minor)


def _read_secret_file(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _Bad(f"cannot read secret file '{path}': file not found") from None
    except IsADirectoryError:
        raise _Bad(f"cannot read secret file '{path}': it is a directory") from None
    except PermissionError:
        raise _Bad(f"cannot read secret file '{path}': permission denied") from None
    except UnicodeDecodeError:
        raise _Bad(f"cannot read secret file '{path}': not UTF-8 text") from None
    except OSError as exc:
        raise _Bad(f"cannot read secret file '{path}': {exc.strerror or exc}") from None
    if text.endswith("\n"):
        text = text[:-1]
        if text.endswith("\r"):
            text = text[:-1]
    return text


class _Ctx:
    """State of one load: where relative paths start, the environment, the problems."""

    def __init__(self, env: Mapping[str, str], base_dir: Path | None) -> None:
        self.env = env
        self.base_dir = base_dir
        self.problems: list[ConfigProblem] = []

    def add(self, key: str, message: str) -> None:
        self.problems.append(ConfigProblem(key, message))

    def from_file(self, s: _Setting, key: str, value: Any) -> Any:
        try:
            return _validate(s, value, self.base_dir)
        except _Bad as bad:
            self.add(key + bad.suffix, bad.message)
            return _UNSET

    def from_env(self, s: _Setting, key: str, var: str) -> Any:
        try:
            return _validate(s, _from_env_text(s, self.env[var]), None)
        except _Bad as bad:
            self.add(key + bad.suffix, f"{bad.message} (from environment variable {var})")
            return _UNSET

    def secret_from_file(self, key: str, raw: Any, var: str | None) -> Any:
        via = f" (from environment variable {var})" if var else ""
        if not isinstance(raw, str) or not raw:
            self.add(key, f"expected the path of a file holding the secret, got {_describe(raw)}")
            return _UNSET
        path = Path(raw)
        if var is None and self.base_dir is not None and not path.is_absolute():
            path = self.base_dir / path
        try:
            return Secret(_read_secret_file(path))
        except _Bad as bad:
            self.add(key, bad.message + via)
            return _UNSET

    def unknown(self, prefix: str, name: str, allowed: Sequence[str]) -> None:
        full = prefix + name
        match = difflib.get_close_matches(name, allowed, n=1, cutoff=0.6)
        hint = f" (did you mean '{prefix}{match[0]}'?)" if match else ""
        self.add(full, f"unknown key '{full}'{hint}")


def _read_setting(ctx: _Ctx, section: str, s: _Setting, table: Mapping[str, Any]) -> Any:
    """The value of one setting from env or file (_UNSET: use the default / was bad)."""
    key = f"{section}.{s.key}"
    var = env_var_name(section, s.key)
    if s.kind is not Kind.SECRET:
        if var in ctx.env:
            return ctx.from_env(s, key, var)
        if s.key in table:
            return ctx.from_file(s, key, table[s.key])
        return _UNSET
    file_key = s.key + "_file"
    file_var = var + "_FILE"
    if var in ctx.env and file_var in ctx.env:
        ctx.add(key, f"set either environment variable {var} or {file_var}, not both")
        return _UNSET
    if var in ctx.env:
        return Secret(ctx.env[var])
    if file_var in ctx.env:
        return ctx.secret_from_file(f"{key}_file", ctx.env[file_var], file_var)
    if s.key in table and file_key in table:
        ctx.add(key, f"set either '{s.key}' or '{file_key}', not both")
        return _UNSET
    if s.key in table:
        return ctx.from_file(s, key, table[s.key])
    if file_key in table:
        return ctx.secret_from_file(f"{key}_file", table[file_key], None)
    return _UNSET


def _load_section(
    ctx: _Ctx, section: str, cls: type[_T], table: Mapping[str, Any]
) -> tuple[_T, set[str]]:
    """Build one section; also return the names of its settings that were invalid."""
    values: dict[str, Any] = {}
    bad: set[str] = set()
    for s in _settings(cls):
        before = len(ctx.problems)
        value = _read_setting(ctx, section, s, table)
        if len(ctx.problems) > before:
            bad.add(s.name)
        elif value is not _UNSET:
            values[s.name] = value
    allowed = _allowed_keys(cls)
    for name in table:
        if name not in allowed:
            ctx.unknown(f"{section}.", name, allowed)
    return cls(**values), bad


def _load_products(ctx: _Ctx, raw: Any, currency: str | None) -> tuple[Product, ...]:
    if not isinstance(raw, list):
        ctx.add("products", f"expected an array of tables [[products]], got {_describe(raw)}")
        return ()
    if not raw:
        ctx.add("products", "at least one product is required")
        return ()
    specs = _settings(Product)
    allowed = [s.key for s in specs]
    products: list[Product] = []
    first_use: dict[str, int] = {}
    for i, item in enumerate(raw):
        prefix = f"products[{i}]"
        if not isinstance(item, dict):
            ctx.add(prefix, f"expected a table, got {_describe(item)}")
            continue
        values: dict[str, Any] = {}
        complete = True
        for s in specs:
            key = f"{prefix}.{s.key}"
            if s.key not in item:
                if s.required:
                    ctx.add(key, "missing required key")
                    complete = False
                continue
            value: Any
            if s.kind is Kind.PRICE:
                try:
                    value = _parse_price(item[s.key], currency)
                except _Bad as bad:
                    ctx.add(key, bad.message)
                    value = _UNSET
                if value is None:
                    value = _UNSET
            else:
                value = ctx.from_file(s, key, item[s.key])
            if value is _UNSET:
                complete = False
            else:
                values[s.name] = value
        for name in item:
            if name not in allowed:
                ctx.unknown(f"{prefix}.", name, allowed)
        sku = item.get("sku")
        if isinstance(sku, str) and sku:
            if sku in first_use:
                ctx.add(
                    f"{prefix}.sku",
                    f"duplicate sku {sku!r} (already used by products[{first_use[sku]}])",
                )
            else:
                first_use[sku] = i
        if complete:
            products.append(Product(**values))
    return tuple(products)


def _check_env_names(ctx: _Ctx) -> None:
    """Report KIOSKAPP_<SECTION>__<KEY> variables that match no setting (typos)."""
    known: list[str] = []
    for name, cls, _ in _sections():
        known.extend(env_var_name(name, key) for key in _allowed_keys(cls))
    for var in ctx.env:
        if not var.startswith(ENV_PREFIX) or "__" not in var[len(ENV_PREFIX) :]:
            continue
        if var in known:
            continue
        if var.startswith(f"{ENV_PREFIX}PRODUCTS__"):
            ctx.add(var, "products can only be set in the config file ([[products]] tables)")
            continue
        match = difflib.get_close_matches(var, known, n=1, cutoff=0.8)
        hint = f" (did you mean {match[0]}?)" if match else ""
        ctx.add(var, f"unknown environment variable {var}{hint}")


def _build(ctx: _Ctx, data: Mapping[str, Any], source: Path | None) -> Config:
    sections = _sections()
    names = [name for name, _, _ in sections]
    for name, value in data.items():
        if name in names or name == "products":
            continue
        if isinstance(value, dict):
            match = difflib.get_close_matches(name, [*names, "products"], n=1, cutoff=0.6)
            hint = f" (did you mean [{match[0]}]?)" if match else ""
            ctx.add(name, f"unknown section [{name}]{hint}")
            continue
        owners = [sec for sec, cls, _ in sections if name in _allowed_keys(cls)]
        if len(owners) == 1:
            ctx.add(
                name,
                f"unknown key '{name}' (did you mean '{owners[0]}.{name}'? settings go "
                f"under their [{owners[0]}] header)",
            )
        else:
            ctx.add(name, f"unknown key '{name}' (settings go under a [section] header)")

    built: dict[str, Any] = {}
    invalid: dict[str, set[str]] = {}
    for name, cls, _ in sections:
        table = data.get(name, {})
        if not isinstance(table, dict):
            ctx.add(name, f"expected a table [{name}], got {_describe(table)}")
            table = {}
        built[name], invalid[name] = _load_section(ctx, name, cls, table)

    kiosk: KioskSettings = built["kiosk"]
    currency = None if "currency" in invalid["kiosk"] else kiosk.currency
    raw_products = data.get("products", _UNSET)
    if raw_products is _UNSET:
        raw_products = [dict(t) for t in _DEFAULT_PRODUCT_TABLES]
    products = _load_products(ctx, raw_products, currency)

    # Checks across settings, only where the settings involved are themselves valid.
    if not invalid["kiosk"] & {"default_language", "languages"} and (
        kiosk.default_language not in kiosk.languages
    ):
        ctx.add(
            "kiosk.default_language",
            f"{kiosk.default_language!r} is not one of kiosk.languages "
            f"({', '.join(repr(x) for x in kiosk.languages)})",
        )
    cardapi: CardApiSettings = built["cardapi"]
    if not invalid["cardapi"] & {"group_id", "store_id", "point_of_sale_id"}:
        if cardapi.group_id is None and (
            cardapi.store_id is None or cardapi.point_of_sale_id is None
        ):
            ctx.add(
                "cardapi",
                "set either cardapi.group_id, or both cardapi.store_id and "
                "cardapi.point_of_sale_id (CardAPI searches need one of them)",
            )
        elif cardapi.point_of_sale_id is None:
            ctx.add(
                "cardapi.point_of_sale_id",
                "must be set: every CardAPI debit sends the point_of_sale_id",
            )

    _check_env_names(ctx)
    return Config(products=products, source=source, **built)


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


def resolve_config_path(cli_path: str | None, env: Mapping[str, str]) -> Path:
    """Which file to load: ``--config``, else ``$KIOSKAPP_CONFIG``, else the default."""
    if cli_path:
        return Path(cli_path)
    from_env = env.get(CONFIG_ENV_VAR)
    if from_env:
        return Path(from_env)
    return DEFAULT_CONFIG_PATH


def _read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; raise ConfigError with one problem naming the file."""
    where = str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(where, "config file not found")], path) from None
    except IsADirectoryError:
        raise ConfigError([ConfigProblem(where, "is a directory, not a file")], path) from None
    except PermissionError:
        raise ConfigError([ConfigProblem(where, "cannot read: permission denied")], path) from None
    except OSError as exc:
        problem = ConfigProblem(where, f"cannot read: {exc.strerror or exc}")
        raise ConfigError([problem], path) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problem = ConfigProblem(where, f"not UTF-8 text (bad byte at offset {exc.start})")
        raise ConfigError([problem], path) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        m = re.fullmatch(r"(.*) \(at line (\d+), column (\d+)\)", message, re.DOTALL)
        if m:
            message = f"invalid TOML at line {m[2]}, column {m[3]}: {m[1]}"
        else:
            message = f"invalid TOML: {message}"
        raise ConfigError([ConfigProblem(where, message)], path) from None


def _load(path: Path | None, env: Mapping[str, str] | None, *, missing_default_ok: bool) -> Config:
    environ: Mapping[str, str] = os.environ if env is None else env
    data: dict[str, Any] = {}
    source: Path | None = None
    if path is not None:
        if missing_default_ok and path == DEFAULT_CONFIG_PATH and not path.exists():
            path = None
        else:
            data = _read_toml(path)
            source = path.absolute()
    ctx = _Ctx(environ, source.parent if source is not None else None)
    config = _build(ctx, data, source)
    if ctx.problems:
        raise ConfigError(ctx.problems, source)
    return config


def load_config(path: Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate the configuration; raise ConfigError listing every problem.

    ``path`` None, or the default path when that file does not exist: all
    defaults (the built-in simulators). Any other missing file is an error.
    ``env`` supplies the KIOSKAPP_<SECTION>__<KEY> overrides (None: os.environ).
    Relative paths in the file (including ``*_file`` secrets) are relative to
    the file's directory.
    """
    return _load(path, env, missing_default_ok=True)


def check_file(path: Path, env: Mapping[str, str] | None = None) -> list[ConfigProblem]:
    """Every problem with a config file (with env overrides; None: os.environ); [] = valid."""
    try:
        config = _load(path, env, missing_default_ok=False)
    except ConfigError as exc:
        return exc.problems
    # Not a load error (the kiosk runs; maintenance mode stays locked), but worth saying.
    from kioskapp.staff.pin import pin_hash_problem  # hashlib only: no Qt, nothing heavy

    stored = config.staff.pin_hash.reveal()
    problem = pin_hash_problem(stored) if stored else None
    if problem is not None:
        return [ConfigProblem("staff.pin_hash", f"{problem}; set it with `kioskapp admin set-pin`")]
    return []


def _toml_value(value: Any) -> str:
    if isinstance(value, Secret):
        value = value.reveal()
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return '""'
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a valid TOML basic string
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")  # pragma: no cover


def _comment(text: str, indent: str = "") -> list[str]:
    return [f"# {indent}{line}" for line in textwrap.wrap(text, width=76 - len(indent))]


_EXAMPLE_HEADER = """\
kioskapp configuration: one file per kiosk (default /etc/kioskapp/kiosk.toml;
choose another with --config FILE or KIOSKAPP_CONFIG=FILE).

Every key is optional and shows its default below: the defaults run the kiosk
against the built-in simulators on loopback. Check a file with
`kioskapp config check FILE`.

Types are strict: write numbers without quotes (timeout_s = 5.0, port = 8710),
true/false without quotes, and prices as strings (price = "5.00").
Relative paths are relative to the directory of this file.

Environment variables override this file: KIOSKAPP_<SECTION>__<KEY>, e.g.
KIOSKAPP_TECALIS__BASE_URL=https://... (lists are comma-separated, booleans
true/false/yes/no/1/0).

Secrets can be kept out of this file: instead of `password = "..."` write
`password_file = "/etc/kioskapp/secrets/..."` (the file's content, one trailing
newline removed), or set KIOSKAPP_<SECTION>__<KEY>_FILE."""


def _setting_lines(section: str, s: _Setting, value: Any) -> list[str]:
    lines = ["", *_comment(s.description)]
    default = "not set" if value is None else _toml_value(value)
    default = "required" if s.required else f"default {default}"
    lines += _comment(f"Type: {_expectation(s)}; {default}.")
    if section == "products":
        return lines
    var = env_var_name(section, s.key)
    if s.kind is Kind.SECRET:
        path = f"/etc/kioskapp/secrets/{section}-{s.key}".replace("_", "-")
        lines.append(f"# Or from a file: {s.key}_file = {_toml_value(path)}")
        lines.append(f"# Environment: {var} or {var}_FILE")
    else:
        lines.append(f"# Environment: {var}")
    lines.append(f"{s.key} = {_toml_value(value)}")
    return lines


def example_toml() -> str:
    """A complete, commented example config: every section and key at its default."""
    lines = [f"# {line}".rstrip() for line in _EXAMPLE_HEADER.splitlines()]
    for f in dataclasses.fields(Config):
        if _SECTION_META in f.metadata:
            cls, description = f.metadata[_SECTION_META]
            lines += ["", "", "#" * 78, *_comment(f"[{f.name}] {description}"), f"[{f.name}]"]
            instance = cls()
            for s in _settings(cls):
                lines += _setting_lines(f.name, s, getattr(instance, s.name))
        elif _PRODUCTS_META in f.metadata:
            lines += ["", "", "#" * 78, *_comment(f"[[products]] {_PRODUCTS_DESCRIPTION}")]
            lines.append("# Keys of each product:")
            for s in _settings(Product):
                lines.append(f"#   {s.key}{' (required)' if s.required else ''}:")
                lines += _comment(s.description, indent="    ")
                default = "" if s.required else f"; default {_toml_value(s.default)}"
                lines += _comment(f"Type: {_expectation(s)}{default}.", indent="    ")
            for table in _DEFAULT_PRODUCT_TABLES:
                lines += ["", "[[products]]"]
                for s in _settings(Product):
                    value = table.get(s.key, s.default)
                    lines.append(f"{s.key} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


_DEFAULT_PRODUCTS: tuple[Product, ...] = _default_products()
