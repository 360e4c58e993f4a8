"""Tests for kioskapp.config: loading, validation messages, env overrides, secrets."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import pytest

from kioskapp import config
from kioskapp.config import (
    Config,
    ConfigError,
    ConfigProblem,
    Secret,
    check_file,
    example_toml,
    load_config,
    resolve_config_path,
)


def write(tmp_path: Path, text: str, name: str = "kiosk.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list[str]:
    """The one-line problems check_file reports for a config file with this text."""
    return [str(p) for p in check_file(write(tmp_path, text), env or {})]


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Config:
    return load_config(write(tmp_path, text), env or {})


# --------------------------------------------------------------------------
# Defaults and the example
# --------------------------------------------------------------------------


def test_defaults_load_without_a_file() -> None:
    cfg = load_config(None, {})
    assert cfg == Config()
    assert cfg.source is None
    assert cfg.kiosk.id == "KIOSK-001"
    assert cfg.kiosk.currency == "EUR"
    assert cfg.kiosk.languages == ("en", "es", "fr", "ja")
    assert cfg.tecalis.base_url == "http://127.0.0.1:8710/tecalis"
    assert cfg.tecalis.password.reveal() == "integrator-secret"
    assert cfg.tecalis.kiosk_token.reveal() == ""
    assert not cfg.tecalis.kiosk_token
    assert cfg.cardapi.group_id is None
    assert cfg.cardapi.point_of_sale_id == 65
    assert cfg.payjunction.poll_interval_s == 0.5
    assert cfg.journal.path == Path("/var/lib/kioskapp/journal.sqlite3")
    assert [(p.sku, p.price_minor, p.needs_id_scan, p.dispenses_card) for p in cfg.products] == [
        ("CASHBACK-CARD", 500, False, True),
        ("GIFT-20", 2000, False, True),
        ("PREMIUM-50", 5000, True, True),
    ]
    assert cfg.product("GIFT-20").name == "Gift card 20"
    with pytest.raises(KeyError):
        cfg.product("NOPE")


def test_missing_default_file_means_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = tmp_path / "etc" / "kiosk.toml"
    monkeypatch.setattr(config, "DEFAULT_CONFIG_PATH", absent)
    cfg = load_config(absent, {})
    assert cfg == Config()
    assert cfg.source is None
    # ... but check_file is always explicit about the file it was given.
    assert [str(p) for p in check_file(absent, {})] == [f"{absent}: config file not found"]


def test_explicitly_given_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing, {})
    assert [str(p) for p in info.value.problems] == [f"{missing}: config file not found"]


def test_empty_file_is_all_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    cfg = load_config(path, {})
    assert cfg == Config()
    assert cfg.source == path.absolute()


def test_example_loads_without_problems_and_equals_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, example_toml())
    assert check_file(path, {}) == []
    cfg = load_config(path, {})
    assert cfg == Config()
    assert cfg.source == path.absolute()


def test_example_documents_every_section_and_key() -> None:
    text = example_toml()
    for name, cls, _ in config._sections():
        assert f"\n[{name}]\n" in text
        for s in config._settings(cls):
            assert re.search(rf"^{s.key} = ", text, re.MULTILINE), f"{name}.{s.key}"
            assert config.env_var_name(name, s.key) in text
            if s.kind is config.Kind.SECRET:
                assert f"{s.key}_file = " in text
    assert text.count("[[products]]") >= 3
    for s in config._settings(config.Product):
        assert f"#   {s.key}" in text
    assert 'price = "5.00"' in text
    assert "one of 'tpv', 'kinetic', 'komoju', 'payjunction', 'none'" in text
    assert "an integer from 1 to 65535; default 8711." in text


def test_every_setting_is_described_and_has_a_unique_env_var() -> None:
    seen: set[str] = set()
    for name, cls, description in config._sections():
        assert description
        for s in config._settings(cls):
            assert len(s.description) > 15, f"{name}.{s.key}"
            var = config.env_var_name(name, s.key)
            assert var not in seen
            seen.add(var)
    assert "KIOSKAPP_SERIAL_READER__CODE_KIND" in seen


def test_config_is_frozen() -> None:
    cfg = Config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.tecalis.timeout_s = 1.0  # type: ignore[misc]


# --------------------------------------------------------------------------
# One bad value per kind: one line naming key, value and expectation
# --------------------------------------------------------------------------

BAD_VALUES = [
    ("[kiosk]\nmerchant_name = 5", "kiosk.merchant_name: expected a string, got the integer 5"),
    (
        '[kiosk]\nid = "  "',
        "kiosk.id: expected a non-empty string, got the string '  '",
    ),
    (
        '[callbacks]\nlisten_port = "5"',
        "callbacks.listen_port: expected an integer, got the string '5'",
    ),
    (
        "[callbacks]\nlisten_port = 8711.0",
        "callbacks.listen_port: expected an integer, got the number 8711.0",
    ),
    (
        "[callbacks]\nlisten_port = 70000",
        "callbacks.listen_port: expected an integer from 1 to 65535, got 70000",
    ),
    (
        '[tecalis]\ntimeout_s = "fast"',
        "tecalis.timeout_s: expected a number, got the string 'fast'",
    ),
    (
        "[tecalis]\ntimeout_s = 0",
        "tecalis.timeout_s: expected a number greater than 0, got 0",
    ),
    (
        "[tecalis]\ntimeout_s = nan",
        "tecalis.timeout_s: expected a finite number, got the number nan",
    ),
    (
        "[tecalis]\ntimeout_s = true",
        "tecalis.timeout_s: expected a number, got the boolean true",
    ),
    ("[ui]\nfullscreen = 1", "ui.fullscreen: expected true or false, got the integer 1"),
    ('[ui]\nfullscreen = "yes"', "ui.fullscreen: expected true or false, got the string 'yes'"),
    (
        "[ui]\nidle_timeout_s = 5",
        "ui.idle_timeout_s: expected a number of at least 10, got 5",
    ),
    (
        '[tecalis]\nbase_url = "ftp://tecalis.example"',
        "tecalis.base_url: expected an http:// or https:// URL with a host, "
        "got the string 'ftp://tecalis.example'",
    ),
    (
        '[callbacks]\npublic_url = "http://"',
        "callbacks.public_url: expected an http:// or https:// URL with a host, "
        "got the string 'http://'",
    ),
    (
        '[callbacks]\npublic_url = "kiosk.local:8711"',
        "callbacks.public_url: expected an http:// or https:// URL with a host, "
        "got the string 'kiosk.local:8711'",
    ),
    ("[journal]\npath = 5", "journal.path: expected a path (a string), got the integer 5"),
    ('[journal]\npath = ""', "journal.path: expected a non-empty path, got an empty string"),
    (
        '[payments]\ncard_provider = "visa"',
        "payments.card_provider: expected one of 'tpv', 'kinetic', 'komoju', 'payjunction', "
        "'none', got the string 'visa'",
    ),
    (
        '[logging]\nlevel = "info"',
        "logging.level: expected one of 'DEBUG', 'INFO', 'WARNING', 'ERROR', got the string 'info'",
    ),
    (
        '[kiosk]\nmerchant_lines = "Main St 1"',
        "kiosk.merchant_lines: expected an array of strings, got the string 'Main St 1'",
    ),
    (
        '[kiosk]\nmerchant_lines = ["Main St 1", 2]',
        "kiosk.merchant_lines[1]: expected a string, got the integer 2",
    ),
    (
        '[kiosk]\nlanguages = ["en", "de"]',
        "kiosk.languages[1]: expected one of 'en', 'es', 'fr', 'ja', got the string 'de'",
    ),
    (
        '[kiosk]\nlanguages = ["en", "en"]',
        "kiosk.languages[1]: 'en' is listed more than once",
    ),
    (
        "[kiosk]\nlanguages = []",
        "kiosk.languages: expected at least one entry, got an empty array",
    ),
    # A secret's bad value is never echoed.
    ("[tecalis]\npassword = 1234", "tecalis.password: expected a string, got an integer"),
    (
        '[cardapi]\ngroup_id = "seven"',
        "cardapi.group_id: expected an integer, or \"\" for not set, got the string 'seven'",
    ),
    (
        "[cardapi]\ngroup_id = -1",
        'cardapi.group_id: expected an integer of at least 0, or "" for not set, got -1',
    ),
    (
        '[kiosk]\ncurrency = "eur"',
        "kiosk.currency: expected an ISO 4217 currency code (3 uppercase letters, e.g. 'EUR'), "
        "got the string 'eur'",
    ),
    (
        '[kiosk]\ncurrency = "XYZ"',
        "kiosk.currency: unsupported currency 'XYZ'; expected one of EUR, USD, GBP, JPY, CHF, "
        "SEK, NOK, DKK, PLN, CZK, CAD, AUD",
    ),
    (
        "[payjunction]\npoll_interval_s = 0.2",
        "payjunction.poll_interval_s: expected a number of at least 0.5, got 0.2 "
        "(PayJunction allows polling a request at most every 0.5 s)",
    ),
    ("tecalis = 5", "tecalis: expected a table [tecalis], got the integer 5"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_VALUES)
def test_bad_value_gives_one_clear_line(tmp_path: Path, text: str, expected: str) -> None:
    assert problems(tmp_path, text) == [expected]


def test_secret_values_are_not_echoed_in_messages(tmp_path: Path) -> None:
    found = problems(tmp_path, '[staff]\npin_hash = ["scrypt$hunter2"]')
    assert found == ["staff.pin_hash: expected a string, got an array"]
    assert "hunter2" not in "".join(found)


def test_load_config_raises_with_all_problems(tmp_path: Path) -> None:
    path = write(tmp_path, '[tecalis]\ntimeout_s = "fast"\n[ui]\nfullscreen = 1\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, {})
    assert info.value.problems == [
        ConfigProblem("tecalis.timeout_s", "expected a number, got the string 'fast'"),
        ConfigProblem("ui.fullscreen", "expected true or false, got the integer 1"),
    ]
    text = str(info.value)
    assert text.splitlines() == [
        f"invalid configuration in {path.absolute()} (2 problems):",
        "  tecalis.timeout_s: expected a number, got the string 'fast'",
        "  ui.fullscreen: expected true or false, got the integer 1",
    ]


# --------------------------------------------------------------------------
# Good values
# --------------------------------------------------------------------------


def test_values_of_every_kind_are_loaded(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        """
[kiosk]
id = "K-42"
currency = "GBP"
merchant_lines = ["1 High St", "VAT GB123"]
default_language = "fr"
languages = ["fr", "en"]
state_dir = "state"

[tecalis]
base_url = "https://tecalis.example/kiosk/"
timeout_s = 7
record = true
password = "p"

[callbacks]
listen_port = 9000

[payments]
card_provider = "komoju"

[cardapi]
group_id = 12
store_id = ""
point_of_sale_id = 3

[journal]
path = "/srv/journal.db"
""",
    )
    assert cfg.kiosk.id == "K-42"
    assert cfg.kiosk.currency == "GBP"
    assert cfg.kiosk.merchant_lines == ("1 High St", "VAT GB123")
    assert cfg.kiosk.languages == ("fr", "en")
    assert cfg.kiosk.default_language == "fr"
    assert cfg.kiosk.state_dir == tmp_path / "state"  # relative to the config file
    assert cfg.tecalis.base_url == "https://tecalis.example/kiosk"  # trailing slash removed
    assert cfg.tecalis.timeout_s == 7.0
    assert isinstance(cfg.tecalis.timeout_s, float)
    assert cfg.tecalis.record is True
    assert cfg.tecalis.password == Secret("p")
    assert cfg.callbacks.listen_port == 9000
    assert cfg.payments.card_provider == "komoju"
    assert (cfg.cardapi.group_id, cfg.cardapi.store_id, cfg.cardapi.point_of_sale_id) == (
        12,
        None,
        3,
    )
    assert cfg.journal.path == Path("/srv/journal.db")
    # untouched settings keep their defaults
    assert cfg.tecalis.username == "integrator"
    assert cfg.ui == Config().ui
    assert [p.price_minor for p in cfg.products] == [500, 2000, 5000]


# --------------------------------------------------------------------------
# Environment overrides
# --------------------------------------------------------------------------

ENV_CASES: list[tuple[str, str, str, Any]] = [
    ("KIOSKAPP_TECALIS__BASE_URL", "https://tecalis.example", "tecalis.base_url", None),
    ("KIOSKAPP_KIOSK__MERCHANT_NAME", "Corner shop", "kiosk.merchant_name", None),
    ("KIOSKAPP_CALLBACKS__LISTEN_PORT", "9000", "callbacks.listen_port", 9000),
    ("KIOSKAPP_TECALIS__TIMEOUT_S", "2.5", "tecalis.timeout_s", 2.5),
    ("KIOSKAPP_TECALIS__TIMEOUT_S", "3", "tecalis.timeout_s", 3.0),
    ("KIOSKAPP_UI__FULLSCREEN", "no", "ui.fullscreen", False),
    ("KIOSKAPP_UI__FULLSCREEN", "0", "ui.fullscreen", False),
    ("KIOSKAPP_TECALIS__RECORD", "TRUE", "tecalis.record", True),
    ("KIOSKAPP_TECALIS__RECORD", "yes", "tecalis.record", True),
    ("KIOSKAPP_TECALIS__RECORD", "1", "tecalis.record", True),
    ("KIOSKAPP_KIOSK__LANGUAGES", "ja, en", "kiosk.languages", ("ja", "en")),
    (
        "KIOSKAPP_KIOSK__MERCHANT_LINES",
        "1 Main St,VAT 42",
        "kiosk.merchant_lines",
        ("1 Main St", "VAT 42"),
    ),
    ("KIOSKAPP_JOURNAL__PATH", "/tmp/j.sqlite3", "journal.path", Path("/tmp/j.sqlite3")),
    ("KIOSKAPP_PAYMENTS__CARD_PROVIDER", "payjunction", "payments.card_provider", None),
    ("KIOSKAPP_CARDAPI__GROUP_ID", "7", "cardapi.group_id", 7),
    ("KIOSKAPP_CARDAPI__DEVICE_ID", "kiosk-7", "cardapi.device_id", None),
    ("KIOSKAPP_TECALIS__PASSWORD", "from-env", "tecalis.password", Secret("from-env")),
]


def attr(cfg: Config, dotted: str) -> Any:
    section, key = dotted.split(".")
    return getattr(getattr(cfg, section), key)


@pytest.mark.parametrize(("var", "value", "dotted", "expected"), ENV_CASES)
def test_env_override_per_kind(var: str, value: str, dotted: str, expected: Any) -> None:
    cfg = load_config(None, {var: value})
    assert attr(cfg, dotted) == (value if expected is None else expected)
    assert attr(cfg, dotted) != attr(Config(), dotted)


def test_env_clears_an_optional_int(tmp_path: Path) -> None:
    cfg = load(
        tmp_path, "[cardapi]\ngroup_id = 4\nstore_id = 2\n", {"KIOSKAPP_CARDAPI__STORE_ID": ""}
    )
    assert (cfg.cardapi.group_id, cfg.cardapi.store_id) == (4, None)


def test_env_wins_over_the_file(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        '[tecalis]\nbase_url = "https://from-file.example"\ntimeout_s = 9.0\n',
        {"KIOSKAPP_TECALIS__BASE_URL": "https://from-env.example"},
    )
    assert cfg.tecalis.base_url == "https://from-env.example"
    assert cfg.tecalis.timeout_s == 9.0


def test_env_relative_path_is_not_moved_to_the_config_dir(tmp_path: Path) -> None:
    cfg = load(tmp_path, "", {"KIOSKAPP_JOURNAL__PATH": "j.sqlite3"})
    assert cfg.journal.path == Path("j.sqlite3")


BAD_ENV = [
    (
        "KIOSKAPP_TECALIS__TIMEOUT_S",
        "fast",
        "tecalis.timeout_s: expected a number, got 'fast' "
        "(from environment variable KIOSKAPP_TECALIS__TIMEOUT_S)",
    ),
    (
        "KIOSKAPP_TECALIS__TIMEOUT_S",
        "nan",
        "tecalis.timeout_s: expected a number, got 'nan' "
        "(from environment variable KIOSKAPP_TECALIS__TIMEOUT_S)",
    ),
    (
        "KIOSKAPP_CALLBACKS__LISTEN_PORT",
        "80x",
        "callbacks.listen_port: expected an integer, got '80x' "
        "(from environment variable KIOSKAPP_CALLBACKS__LISTEN_PORT)",
    ),
    (
        "KIOSKAPP_CALLBACKS__LISTEN_PORT",
        "0",
        "callbacks.listen_port: expected an integer from 1 to 65535, got 0 "
        "(from environment variable KIOSKAPP_CALLBACKS__LISTEN_PORT)",
    ),
    (
        "KIOSKAPP_UI__FULLSCREEN",
        "maybe",
        "ui.fullscreen: expected true/false, yes/no or 1/0, got 'maybe' "
        "(from environment variable KIOSKAPP_UI__FULLSCREEN)",
    ),
    (
        "KIOSKAPP_PAYMENTS__CARD_PROVIDER",
        "visa",
        "payments.card_provider: expected one of 'tpv', 'kinetic', 'komoju', 'payjunction', "
        "'none', got the string 'visa' (from environment variable "
        "KIOSKAPP_PAYMENTS__CARD_PROVIDER)",
    ),
    (
        "KIOSKAPP_KIOSK__LANGUAGES",
        "en,de",
        "kiosk.languages[1]: expected one of 'en', 'es', 'fr', 'ja', got the string 'de' "
        "(from environment variable KIOSKAPP_KIOSK__LANGUAGES)",
    ),
    (
        "KIOSKAPP_CARDAPI__BASE_URL",
        "localhost:8710",
        "cardapi.base_url: expected an http:// or https:// URL with a host, got the string "
        "'localhost:8710' (from environment variable KIOSKAPP_CARDAPI__BASE_URL)",
    ),
    (
        "KIOSKAPP_TECALIS__PASWORD",
        "x",
        "KIOSKAPP_TECALIS__PASWORD: unknown environment variable KIOSKAPP_TECALIS__PASWORD "
        "(did you mean KIOSKAPP_TECALIS__PASSWORD?)",
    ),
    (
        "KIOSKAPP_PRODUCTS__SKU",
        "x",
        "KIOSKAPP_PRODUCTS__SKU: products can only be set in the config file ([[products]] tables)",
    ),
]


@pytest.mark.parametrize(("var", "value", "expected"), BAD_ENV)
def test_bad_env_value_names_the_variable(
    tmp_path: Path, var: str, value: str, expected: str
) -> None:
    assert problems(tmp_path, "", {var: value}) == [expected]


def test_unrelated_env_vars_are_ignored() -> None:
    env = {"KIOSKAPP_CONFIG": "/x.toml", "KIOSKAPP_DEBUG": "1", "PATH": "/bin", "HOME": "/"}
    assert load_config(None, env) == Config()


def test_env_none_means_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KIOSKAPP_SIMULATOR__PORT", "9999")
    assert load_config(None).simulator.port == 9999


# --------------------------------------------------------------------------
# Secrets from files
# --------------------------------------------------------------------------


def test_secret_from_file_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "tecalis").write_text("hunter2\n", encoding="utf-8")
    (tmp_path / "token").write_text("tok\r\n", encoding="utf-8")
    (tmp_path / "two-lines").write_text("abc\n\n", encoding="utf-8")
    cfg = load(
        tmp_path,
        f"""
[tecalis]
password_file = "secrets/tecalis"
[cardapi]
token_file = "{tmp_path / "token"}"
[komoju]
secret_key_file = "two-lines"
""",
    )
    assert cfg.tecalis.password.reveal() == "hunter2"
    assert cfg.cardapi.token.reveal() == "tok"
    assert cfg.komoju.secret_key.reveal() == "abc\n"  # only ONE trailing newline is removed


def test_secret_file_from_env_overrides_the_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("from-env-file\n", encoding="utf-8")
    cfg = load(
        tmp_path,
        '[tecalis]\npassword = "from-toml"\n',
        {"KIOSKAPP_TECALIS__PASSWORD_FILE": str(secret)},
    )
    assert cfg.tecalis.password.reveal() == "from-env-file"


def test_missing_secret_file_names_key_and_path(tmp_path: Path) -> None:
    found = problems(tmp_path, '[tecalis]\npassword_file = "/nonexistent/tecalis-password"\n')
    assert found == [
        "tecalis.password_file: cannot read secret file '/nonexistent/tecalis-password': "
        "file not found"
    ]


def test_missing_secret_file_from_env(tmp_path: Path) -> None:
    missing = tmp_path / "absent"
    found = problems(tmp_path, "", {"KIOSKAPP_KOMOJU__WEBHOOK_SECRET_FILE": str(missing)})
    assert found == [
        f"komoju.webhook_secret_file: cannot read secret file '{missing}': file not found "
        "(from environment variable KIOSKAPP_KOMOJU__WEBHOOK_SECRET_FILE)"
    ]


def test_secret_file_that_is_a_directory(tmp_path: Path) -> None:
    found = problems(tmp_path, f'[staff]\npin_hash_file = "{tmp_path}"\n')
    assert found == [
        f"staff.pin_hash_file: cannot read secret file '{tmp_path}': it is a directory"
    ]


def test_secret_value_and_file_both_set(tmp_path: Path) -> None:
    found = problems(tmp_path, '[tecalis]\npassword = "x"\npassword_file = "/run/pw"\n')
    assert found == ["tecalis.password: set either 'password' or 'password_file', not both"]


def test_secret_env_value_and_env_file_both_set(tmp_path: Path) -> None:
    env = {"KIOSKAPP_TECALIS__PASSWORD": "x", "KIOSKAPP_TECALIS__PASSWORD_FILE": "/run/pw"}
    assert problems(tmp_path, "", env) == [
        "tecalis.password: set either environment variable KIOSKAPP_TECALIS__PASSWORD or "
        "KIOSKAPP_TECALIS__PASSWORD_FILE, not both"
    ]


def test_secret_file_key_must_be_a_path(tmp_path: Path) -> None:
    assert problems(tmp_path, "[tecalis]\npassword_file = 5\n") == [
        "tecalis.password_file: expected the path of a file holding the secret, got the integer 5"
    ]


def test_secrets_never_appear_in_repr(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("file-secret-value\n", encoding="utf-8")
    cfg = load(
        tmp_path,
        f'[tecalis]\npassword_file = "{pw}"\n[staff]\npin_hash = "toml-secret-value"\n',
        {"KIOSKAPP_CARDAPI__TOKEN": "env-secret-value"},
    )
    for text in (repr(cfg), str(cfg), f"{cfg}", repr(cfg.tecalis), str(cfg.cardapi.token)):
        for value in ("file-secret-value", "toml-secret-value", "env-secret-value"):
            assert value not in text
        # defaults are secrets too
        assert "integrator-secret" not in text
    assert "Secret('****')" in repr(cfg)
    assert repr(Secret("x")) == str(Secret("x")) == f"{Secret('x')}" == "Secret('****')"
    assert cfg.staff.pin_hash.reveal() == "toml-secret-value"
    assert cfg.cardapi.token.reveal() == "env-secret-value"


def test_secret_equality_and_truth() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert hash(Secret("a")) == hash(Secret("a"))
    assert bool(Secret("a"))
    assert not bool(Secret(""))


# --------------------------------------------------------------------------
# Unknown keys and sections, TOML syntax
# --------------------------------------------------------------------------


def test_unknown_key_with_suggestion(tmp_path: Path) -> None:
    assert problems(tmp_path, '[tecalis]\npasword = "x"\n') == [
        "tecalis.pasword: unknown key 'tecalis.pasword' (did you mean 'tecalis.password'?)"
    ]


def test_unknown_key_suggests_secret_file_variant(tmp_path: Path) -> None:
    assert problems(tmp_path, '[tecalis]\npassword_fil = "x"\n') == [
        "tecalis.password_fil: unknown key 'tecalis.password_fil' "
        "(did you mean 'tecalis.password_file'?)"
    ]


def test_unknown_key_without_suggestion(tmp_path: Path) -> None:
    assert problems(tmp_path, "[ui]\nzzz = 1\n") == ["ui.zzz: unknown key 'ui.zzz'"]


def test_unknown_section(tmp_path: Path) -> None:
    assert problems(tmp_path, '[tecalsi]\nbase_url = "http://x"\n') == [
        "tecalsi: unknown section [tecalsi] (did you mean [tecalis]?)"
    ]
    assert problems(tmp_path, "[printer]\nx = 1\n") == ["printer: unknown section [printer]"]


def test_top_level_key_points_to_its_section(tmp_path: Path) -> None:
    assert problems(tmp_path, 'currency = "EUR"\n') == [
        "currency: unknown key 'currency' (did you mean 'kiosk.currency'? settings go under "
        "their [kiosk] header)"
    ]


def test_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, '[kiosk]\nid = "K1"\nmerchant_name = \n')
    found = check_file(path, {})
    assert len(found) == 1
    assert found[0].key == str(path)
    assert re.fullmatch(r"invalid TOML at line 3, column \d+: .+", found[0].message), found[
        0
    ].message
    with pytest.raises(ConfigError):
        load_config(path, {})


def test_toml_duplicate_key_is_a_syntax_problem(tmp_path: Path) -> None:
    found = problems(tmp_path, "[ui]\nfullscreen = true\nfullscreen = false\n")
    assert len(found) == 1
    assert "invalid TOML at line 3" in found[0]


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "kiosk.toml"
    path.write_bytes(b'[kiosk]\nid = "\xff"\n')
    assert [str(p) for p in check_file(path, {})] == [
        f"{path}: not UTF-8 text (bad byte at offset 14)"
    ]


def test_three_different_problems_are_all_reported(tmp_path: Path) -> None:
    text = """
[tecalis]
timeout_s = "fast"
pasword = "typo"
password_file = "/nonexistent/secret"
"""
    assert problems(tmp_path, text) == [
        "tecalis.password_file: cannot read secret file '/nonexistent/secret': file not found",
        "tecalis.timeout_s: expected a number, got the string 'fast'",
        "tecalis.pasword: unknown key 'tecalis.pasword' (did you mean 'tecalis.password'?)",
    ]


# --------------------------------------------------------------------------
# Products and cross-field checks
# --------------------------------------------------------------------------


def products_toml(*tables: str, currency: str = "EUR") -> str:
    body = "".join(f"\n[[products]]\n{t}\n" for t in tables)
    return f'[kiosk]\ncurrency = "{currency}"\n{body}'


def test_products_replace_the_demo_catalogue(tmp_path: Path) -> None:
    cfg = load(
        tmp_path,
        products_toml(
            'sku = "A"\nname = "Card A"\nprice = "12.50"',
            'sku = "B"\nname = "Card B"\nprice = 3\nneeds_id_scan = true\ndispenses_card = false',
        ),
    )
    assert [
        (p.sku, p.name, p.price_minor, p.needs_id_scan, p.dispenses_card) for p in cfg.products
    ] == [
        ("A", "Card A", 1250, False, True),
        ("B", "Card B", 300, True, False),
    ]


def test_jpy_prices_have_no_minor_unit(tmp_path: Path) -> None:
    cfg = load(tmp_path, products_toml('sku = "A"\nname = "A"\nprice = "500"', currency="JPY"))
    assert cfg.products[0].price_minor == 500
    # the demo catalogue follows the configured currency
    assert [p.price_minor for p in load(tmp_path, '[kiosk]\ncurrency = "JPY"\n').products] == [
        5,
        20,
        50,
    ]


BAD_PRODUCTS = [
    (
        products_toml('sku = "A"\nname = "A"\nprice = 5.0'),
        'products[0].price: write prices as strings, e.g. "5.00" (got the number 5.0)',
    ),
    (
        products_toml('sku = "A"\nname = "A"\nprice = "5,00"'),
        'products[0].price: expected a price such as "5.00" (digits and an optional decimal '
        "point; no currency sign, sign or thousands separator), got the string '5,00'",
    ),
    (
        products_toml('sku = "A"\nname = "A"\nprice = "5.005"'),
        "products[0].price: expected at most 2 decimal places for EUR, got the string '5.005'",
    ),
    (
        products_toml('sku = "A"\nname = "A"\nprice = "5.50"', currency="JPY"),
        "products[0].price: expected a whole number of JPY (JPY has no minor unit), "
        "got the string '5.50'",
    ),
    (
        products_toml('sku = "A"\nname = "A"\nprice = "0.00"'),
        "products[0].price: expected a price greater than zero, got the string '0.00'",
    ),
    (
        products_toml('sku = "A"\nname = "A"\nprice = true'),
        'products[0].price: expected a price such as "5.00", got the boolean true',
    ),
    (
        products_toml('name = "A"\nprice = "1.00"'),
        "products[0].sku: missing required key",
    ),
    (
        products_toml('sku = "A"\nname = "A"\nprice = "1.00"\nneeds_id_scan = "no"'),
        "products[0].needs_id_scan: expected true or false, got the string 'no'",
    ),
    (
        products_toml('sku = "A"\nname = "A"\nprise = "1.00"'),
        "products[0].price: missing required key",
    ),
    (
        "products = []\n",
        "products: at least one product is required",
    ),
    (
        '[products]\nsku = "A"\n',
        "products: expected an array of tables [[products]], got a table",
    ),
    (
        "products = [1]\n",
        "products[0]: expected a table, got the integer 1",
    ),
]


@pytest.mark.parametrize(("text", "expected"), BAD_PRODUCTS)
def test_bad_product(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in problems(tmp_path, text)


def test_misspelt_product_key_is_reported_with_suggestion(tmp_path: Path) -> None:
    assert problems(tmp_path, products_toml('sku = "A"\nname = "A"\nprise = "1.00"')) == [
        "products[0].price: missing required key",
        "products[0].prise: unknown key 'products[0].prise' (did you mean 'products[0].price'?)",
    ]


def test_duplicate_skus(tmp_path: Path) -> None:
    text = products_toml(
        'sku = "A"\nname = "A"\nprice = "1.00"',
        'sku = "B"\nname = "B"\nprice = "1.00"',
        'sku = "A"\nname = "A again"\nprice = "2.00"',
    )
    assert problems(tmp_path, text) == [
        "products[2].sku: duplicate sku 'A' (already used by products[0])"
    ]


def test_bad_currency_does_not_cascade_into_price_errors(tmp_path: Path) -> None:
    text = products_toml('sku = "A"\nname = "A"\nprice = "1.00"', currency="XX")
    assert problems(tmp_path, text) == [
        "kiosk.currency: expected an ISO 4217 currency code (3 uppercase letters, e.g. 'EUR'), "
        "got the string 'XX'"
    ]


def test_default_language_must_be_offered(tmp_path: Path) -> None:
    assert problems(tmp_path, '[kiosk]\nlanguages = ["es", "fr"]\n') == [
        "kiosk.default_language: 'en' is not one of kiosk.languages ('es', 'fr')"
    ]
    assert load(tmp_path, '[kiosk]\nlanguages = ["es"]\ndefault_language = "es"\n')


def test_cardapi_needs_group_or_store_and_point_of_sale(tmp_path: Path) -> None:
    expected = [
        "cardapi: set either cardapi.group_id, or both cardapi.store_id and "
        "cardapi.point_of_sale_id (CardAPI searches need one of them)"
    ]
    assert problems(tmp_path, '[cardapi]\nstore_id = ""\n') == expected
    assert problems(tmp_path, "", {"KIOSKAPP_CARDAPI__STORE_ID": ""}) == expected
    cfg = load(tmp_path, '[cardapi]\ngroup_id = 9\nstore_id = ""\n')
    assert (cfg.cardapi.group_id, cfg.cardapi.store_id) == (9, None)
    # every debit sends point_of_sale_id, so it is needed even with a group
    assert problems(tmp_path, '[cardapi]\ngroup_id = 9\npoint_of_sale_id = ""\n') == [
        "cardapi.point_of_sale_id: must be set: every CardAPI debit sends the point_of_sale_id"
    ]


def test_payjunction_poll_interval_at_the_limit_is_fine(tmp_path: Path) -> None:
    assert (
        load(tmp_path, "[payjunction]\npoll_interval_s = 0.5\n").payjunction.poll_interval_s == 0.5
    )
    assert problems(tmp_path, "[payjunction]\npoll_interval_s = 0.49\n") != []


# --------------------------------------------------------------------------
# Which file
# --------------------------------------------------------------------------


def test_resolve_config_path_precedence() -> None:
    env = {"KIOSKAPP_CONFIG": "/env/kiosk.toml"}
    assert resolve_config_path("/cli/kiosk.toml", env) == Path("/cli/kiosk.toml")
    assert resolve_config_path(None, env) == Path("/env/kiosk.toml")
    assert resolve_config_path(None, {}) == Path("/etc/kioskapp/kiosk.toml")
    assert resolve_config_path("", {"KIOSKAPP_CONFIG": ""}) == Path("/etc/kioskapp/kiosk.toml")
    assert resolve_config_path(None, {"KIOSKAPP_CONFIG": ""}) == config.DEFAULT_CONFIG_PATH
