"""`kioskapp admin`: reading and acting on the journal from a shell, and set-pin."""

from __future__ import annotations

import csv
import io
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kioskapp.cli import main
from kioskapp.core.clock import ControlledClock
from kioskapp.core.journal import JournalDB
from kioskapp.core.money import Money
from kioskapp.staff import admin as admin_module
from kioskapp.staff.admin import EXPORT_COLUMNS, set_pin_hash_in_toml
from kioskapp.staff.pin import verify_pin

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC
EUR = "EUR"


def eur(major: float) -> Money:
    return Money(round(major * 100), EUR)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KIOSKAPP_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("TZ", "UTC")


@pytest.fixture
def paths(tmp_path: Path) -> tuple[Path, Path]:
    """(config file, journal path) — the config names the journal."""
    journal = tmp_path / "state" / "journal.sqlite3"
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[journal]\npath = "{journal}"\n')
    return config, journal


@pytest.fixture
def db(paths: tuple[Path, Path]) -> Iterator[JournalDB]:
    clock = ControlledClock(start=T0, speed=None)
    journal = JournalDB(paths[1], clock=clock)
    seed(journal, clock)
    try:
        yield journal
    finally:
        journal.close()


def seed(db: JournalDB, clock: ControlledClock) -> None:
    """Three sales: cash (20+10), card, and a flagged cash one with an incident."""
    db.create_sale(
        "aaa-cash",
        state="thank_you",
        price=eur(30),
        product_sku="GIFT-20",
        product_name="=cmd|' /C calc'!A0",
    )
    db.save_payment(
        key="aaa/cash", sale_id="aaa-cash", method="cash", attempt=1, amount=eur(30), taken=eur(20)
    )
    db.save_payment(
        key="aaa/cash", sale_id="aaa-cash", method="cash", attempt=1, amount=eur(30), taken=eur(30)
    )
    db.finish_payment("aaa/cash", outcome="approved", taken=eur(30))
    db.update_sale("aaa-cash", status="completed", data={"delivered_minor": 3000})
    clock.advance(3600)
    db.create_sale("bbb-card", state="thank_you", price=eur(50), product_sku="PREMIUM-50")
    db.save_payment(
        key="bbb/tpv", sale_id="bbb-card", method="tpv", attempt=1, amount=eur(50), taken=eur(50)
    )
    db.finish_payment(
        "bbb/tpv",
        outcome="approved",
        taken=eur(50),
        auth_code="A1",
        card_brand="visa",
        card_last4="4242",
    )
    db.update_sale("bbb-card", status="completed", data={"delivered_minor": 5000})
    clock.advance(3600)
    db.create_sale("ccc-flag", state="cancelling", price=eur(20), product_sku="GIFT-20")
    db.save_payment(
        key="ccc/cash", sale_id="ccc-flag", method="cash", attempt=1, amount=eur(20), taken=eur(5)
    )
    db.finish_payment("ccc/cash", outcome="cancelled", taken=eur(5))
    db.update_sale("ccc-flag", status="flagged", data={"flagged_minor": 500})
    db.open_incident(
        "refund_voucher",
        "refund voucher V-9 for 5.00 EUR",
        sale_id="ccc-flag",
        amount=eur(5),
        details={"voucher_code": "V-9", "method": "cash"},
    )


def admin(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> tuple[int, str, str]:
    try:
        code = main(["admin", "--config", str(config), *args])
    except SystemExit as exc:  # argparse refused the arguments
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


# -- reading --------------------------------------------------------------------------------


def test_sales_newest_first_and_by_prefix(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = admin(capsys, paths[0], "sales")
    assert code == 0
    ids = [line.split()[2] for line in out.splitlines()[1:-1]]
    assert ids == ["ccc-flag", "bbb-card", "aaa-cash"]
    assert "3 sale(s)" in out
    code, out, _ = admin(capsys, paths[0], "sales", "--search", "bbb", "--limit", "5")
    assert code == 0
    assert "bbb-card" in out
    assert "aaa-cash" not in out
    assert "50.00 EUR" in out
    code, _, err = admin(capsys, paths[0], "sales", "--limit", "0")
    assert code == 2
    assert "between 1 and 10000" in err


def test_one_sale_in_detail(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = admin(capsys, paths[0], "sale", "bbb-card")
    assert code == 0
    assert "payment tpv #1: approved taken 50.00 EUR of 50.00 EUR visa …4242 auth A1" in out
    code, _, err = admin(capsys, paths[0], "sale", "nope")
    assert code == 1
    assert "There is no sale 'nope'" in err


def test_incidents_show_what_staff_need(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = admin(capsys, paths[0], "incidents")
    assert code == 0
    assert "#1  open  2027-01-15 10:00:00  refund_voucher" in out
    assert "sale ccc-flag, amount 5.00 EUR, method cash, voucher V-9" in out
    assert "1 open incident(s); 1 flagged sale(s)" in out
    assert "WARNING" not in err


def test_a_flagged_sale_without_an_incident_is_reported(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db.create_sale("ddd-lost", state="error", price=eur(5))
    db.update_sale("ddd-lost", status="flagged")
    _, _, err = admin(capsys, paths[0], "incidents")
    assert "flagged sale ddd-lost has no incident" in err


def test_resolve_needs_a_note_and_an_open_incident(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config = paths[0]
    code, _, err = admin(capsys, config, "resolve", "1", "--note", "  ")
    assert (code, "note is empty" in err) == (2, True)
    code, _, err = admin(capsys, config, "resolve", "7", "--note", "paid")
    assert (code, "There is no incident #7." in err) == (1, True)
    code, _, err = admin(capsys, config, "resolve", "x", "--note", "paid")
    assert code == 2
    code, out, _ = admin(capsys, config, "resolve", "#1", "--note", "voucher paid in cash")
    assert code == 0
    assert "incident #1 resolved by" in out
    code, _, err = admin(capsys, config, "resolve", "1", "--note", "again")
    assert code == 1
    assert "already resolved by" in err
    code, out, _ = admin(capsys, config, "incidents")
    assert "0 open incident(s)" in out
    code, out, _ = admin(capsys, config, "incidents", "--all")
    assert "voucher paid in cash" in out
    actor = db.incident(1).resolved_by  # type: ignore[union-attr]
    assert actor is not None
    assert actor.endswith("@admin")
    assert [(a.actor, a.action) for a in db.audit()] == [(actor, "incident.resolve")]


def test_cash_box_matches_the_payments(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = admin(capsys, paths[0], "cash")
    assert code == 0
    lines = out.splitlines()
    assert lines[2:5] == [
        "20.00 EUR  1      20.00 EUR",
        "10.00 EUR  1      10.00 EUR",
        "5.00 EUR   1      5.00 EUR",
    ]
    assert "total 35.00 EUR in 3 note(s)" in out
    assert "cash taken 35.00 EUR - collected 0.00 EUR = 35.00 EUR: matches" in out
    db.record_collection(actor="someone@admin", currency=EUR)
    code, out, _ = admin(capsys, paths[0], "cash")
    assert (code, "total 0.00 EUR in 0 note(s)" in out) == (0, True)
    assert "cash taken 35.00 EUR - collected 35.00 EUR = 0.00 EUR: matches" in out


def test_cash_box_that_disagrees_with_the_payments_fails(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    # A payment whose total grew without its note reaching the box (a bug to catch).
    db.finish_payment("ccc/cash", outcome="cancelled", taken=eur(15))
    code, out, _ = admin(capsys, paths[0], "cash")
    assert code == 1
    assert "cash taken 45.00 EUR - collected 0.00 EUR = 45.00 EUR: DOES NOT MATCH" in out


def test_audit_log(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db.add_audit("staff@screen", "printer.test_page", {"ok": True})
    db.add_audit("staff@screen", "staff.leave", {"reason": "logout"})
    code, out, _ = admin(capsys, paths[0], "audit", "--limit", "1")
    assert code == 0
    assert out.splitlines() == [
        "2027-01-15 10:00:00  staff@screen  staff.leave  reason=logout",
        "1 entry",
    ]


# -- export -----------------------------------------------------------------------------------


def test_export_csv_one_row_per_sale(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = admin(capsys, paths[0], "export", "--csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert tuple(rows[0]) == EXPORT_COLUMNS
    assert [r["sale_id"] for r in rows] == ["aaa-cash", "bbb-card", "ccc-flag"]
    cash, card, flagged = rows
    assert (cash["price"], cash["paid"], cash["cash_taken"], cash["currency"]) == (
        "30.00",
        "30.00",
        "30.00",
        "EUR",
    )
    assert cash["product_name"].startswith("'=")  # no formula in a spreadsheet
    assert cash["created_at"] == "2027-01-15T08:00:00+00:00"
    assert (card["card_taken"], card["card_last4"], card["auth_code"]) == ("50.00", "4242", "A1")
    assert (flagged["status"], flagged["flagged"], flagged["incidents"]) == ("flagged", "5.00", "1")


def test_export_a_time_range_to_a_file(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "out" / "sales.csv"
    target.parent.mkdir()
    code, _, err = admin(
        capsys,
        paths[0],
        "export",
        "--csv",
        "--output",
        str(target),
        "--since",
        "2027-01-15T08:30+00:00",
        "--until",
        "2027-01-15T10:00",
    )
    assert code == 0
    assert "1 sale(s) written" in err
    rows = list(csv.DictReader(io.StringIO(target.read_text(), newline="")))
    assert [r["sale_id"] for r in rows] == ["bbb-card"]
    code, _, err = admin(
        capsys, paths[0], "export", "--csv", "--since", "2027-01-16", "--until", "2027-01-15"
    )
    assert (code, "--until must be after --since" in err) == (2, True)
    code, _, err = admin(capsys, paths[0], "export", "--csv", "--since", "yesterday")
    assert code == 2


# -- no journal, busy journal ---------------------------------------------------------------


def test_admin_never_creates_a_journal(
    paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, journal = paths
    for action in (
        ["sales"],
        ["incidents"],
        ["cash"],
        ["audit"],
        ["export", "--csv"],
        ["resolve", "1", "--note", "x"],
    ):
        code, _, err = admin(capsys, config, *action)
        assert code == 1
        assert f"no journal at {journal}" in err
    assert not journal.exists()
    assert not journal.parent.exists()


def test_env_overrides_name_the_journal(
    db: JournalDB,
    paths: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("KIOSKAPP_CONFIG", str(paths[0]))
    assert main(["admin", "cash"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("KIOSKAPP_JOURNAL__PATH", str(tmp_path / "other.sqlite3"))
    assert main(["admin", "cash"]) == 1
    assert "other.sqlite3" in capsys.readouterr().err


def test_a_bad_config_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text("[journal]\npath = 3\n")
    code, _, err = admin(capsys, config, "sales")
    assert code == 2
    assert err.startswith("config: ")


def test_works_while_the_app_holds_a_write_transaction(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    app = sqlite3.connect(paths[1], isolation_level=None)
    try:
        app.execute("BEGIN IMMEDIATE")
        app.execute("UPDATE sales SET state='x' WHERE sale_id='aaa-cash'")
        code, out, _ = admin(capsys, paths[0], "sales")
        assert code == 0
        assert "aaa-cash" in out
        app.execute("COMMIT")
    finally:
        app.close()
    code, _, _ = admin(capsys, paths[0], "resolve", "1", "--note", "done after the app")
    assert code == 0


# -- set-pin --------------------------------------------------------------------------------

CONFIG_TEXT = """# kiosk 12, hall B
[kiosk]
id = "KIOSK-012"   # from Tecalis

[staff]
# who may service it
lockout_attempts = 3
pin_hash = "old"

[journal]
path = "{journal}"
"""


def set_pin(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    config: Path,
    pin: str,
    *extra: str,
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(pin + "\n"))
    return admin(capsys, config, "set-pin", "--pin-stdin", *extra)


def staff_pin_hash(config: Path) -> str:
    import tomllib

    value = tomllib.loads(config.read_text())["staff"]["pin_hash"]
    assert isinstance(value, str)
    return value


def test_set_pin_rewrites_only_the_hash(
    db: JournalDB,
    paths: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config, journal = paths
    original = CONFIG_TEXT.format(journal=journal)
    config.write_text(original)
    config.chmod(0o640)
    code, _, err = set_pin(capsys, monkeypatch, config, "482916")
    assert code == 0, err
    new_hash = staff_pin_hash(config)
    assert verify_pin("482916", new_hash)
    assert config.read_text() == original.replace('pin_hash = "old"', f'pin_hash = "{new_hash}"')
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert "482916" not in err
    assert main(["config", "check", str(config)]) == 0
    assert [a.action for a in db.audit()] == ["staff.set_pin"]


@pytest.mark.parametrize(
    ("text", "expected_tail"),
    [
        ('[kiosk]\nid = "K"\n', '[kiosk]\nid = "K"\n\n[staff]\npin_hash = "{h}"\n'),
        ('[kiosk]\nid = "K"', '[kiosk]\nid = "K"\n\n[staff]\npin_hash = "{h}"\n'),
        ("[staff]\nlockout_s = 60.0\n", '[staff]\npin_hash = "{h}"\nlockout_s = 60.0\n'),
        ("[staff] # x\r\npin_hash=''\r\n", '[staff] # x\r\npin_hash = "{h}"\r\n'),
        ("", '\n[staff]\npin_hash = "{h}"\n'),
    ],
)
def test_set_pin_hash_in_various_files(text: str, expected_tail: str) -> None:
    result = set_pin_hash_in_toml(text.encode(), "scrypt$x").decode()
    assert result == expected_tail.format(h="scrypt$x")


@pytest.mark.parametrize(
    "text",
    [
        'staff = { pin_hash = "x" }\n',
        'staff.pin_hash = "x"\n',
        '[staff]\npin_hash_file = "/etc/kioskapp/pin"\n',
        "[staff\n",
    ],
)
def test_set_pin_refuses_files_it_cannot_edit_safely(text: str) -> None:
    with pytest.raises(admin_module.AdminError):
        set_pin_hash_in_toml(text.encode(), "scrypt$x")


@pytest.mark.parametrize("pin", ["123", "12ab", "", "1234567890123"])
def test_set_pin_refuses_a_bad_pin_and_changes_nothing(
    paths: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    pin: str,
) -> None:
    config = paths[0]
    before = config.read_bytes()
    code, _, err = set_pin(capsys, monkeypatch, config, pin)
    assert code == 2
    assert "nothing changed" in err
    assert config.read_bytes() == before


def test_set_pin_asks_twice(
    paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = paths[0]
    answers = iter(["5555", "5556"])
    monkeypatch.setattr(admin_module.getpass, "getpass", lambda prompt: next(answers))
    code, _, err = admin(capsys, config, "set-pin")
    assert (code, "differ" in err) == (2, True)
    answers = iter(["5555", "5555"])
    code, _, _ = admin(capsys, config, "set-pin")
    assert code == 0
    assert verify_pin("5555", staff_pin_hash(config))


def test_print_hash_touches_nothing(
    paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = paths[0]
    before = config.read_bytes()
    code, out, _ = set_pin(capsys, monkeypatch, config, "0246", "--print-hash")
    assert code == 0
    assert verify_pin("0246", out.strip())
    assert config.read_bytes() == before


def test_set_pin_without_a_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = set_pin(capsys, monkeypatch, tmp_path / "missing.toml", "1234")
    assert code == 1
    assert "--print-hash" in err
    assert not (tmp_path / "missing.toml").exists()


def test_the_installed_command_end_to_end(tmp_path: Path) -> None:
    config = tmp_path / "kiosk.toml"
    config.write_text(CONFIG_TEXT.format(journal=tmp_path / "journal.sqlite3"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSKAPP_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "kioskapp",
            "admin",
            "--config",
            str(config),
            "set-pin",
            "--pin-stdin",
        ],
        input="97531\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert verify_pin("97531", staff_pin_hash(config))
    check = subprocess.run(
        [sys.executable, "-m", "kioskapp", "config", "check", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stderr


# -- what `admin` opens ---------------------------------------------------------------------


def tables(path: Path) -> set[str]:
    raw = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    try:
        return {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        raw.close()


ALL_ACTIONS = (
    ["sales"],
    ["sale", "aaa-cash"],
    ["incidents"],
    ["cash"],
    ["audit"],
    ["export", "--csv"],
    ["resolve", "1", "--note", "x"],
)


def test_an_empty_file_is_not_a_journal_and_stays_empty(
    paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, journal = paths
    journal.parent.mkdir()
    journal.write_bytes(b"")
    for action in ALL_ACTIONS:
        code, out, err = admin(capsys, config, *action)
        assert (code, out) == (1, "")
        assert "is not a kioskapp journal" in err, err
    assert journal.read_bytes() == b""


def test_another_programs_sqlite_file_gets_none_of_our_tables(
    paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, journal = paths
    journal.parent.mkdir()
    raw = sqlite3.connect(journal)
    raw.execute("CREATE TABLE settings (k TEXT, v TEXT)")
    raw.commit()
    raw.close()
    for action in ALL_ACTIONS:
        code, _, err = admin(capsys, config, *action)
        assert code == 1
        assert "is not a kioskapp journal" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO("4826\n"))
    code, _, err = admin(capsys, config, "set-pin", "--pin-stdin")
    assert code == 0  # the PIN is set; the audit is not written into that file
    assert "not audited" in err
    assert tables(journal) == {"settings"}


@pytest.mark.parametrize(("version", "advice"), [(1, "start the kiosk app"), (3, "upgrade")])
def test_a_journal_of_another_schema_is_refused_not_migrated(
    paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], version: int, advice: str
) -> None:
    from kioskapp.core import journal as journal_module

    config, journal = paths
    journal.parent.mkdir()
    raw = sqlite3.connect(journal, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.executescript(journal_module._MIGRATIONS[0])
    raw.execute(f"PRAGMA user_version={version}")
    raw.close()
    for action in ALL_ACTIONS:
        code, _, err = admin(capsys, config, *action)
        assert code == 1
        assert f"is schema {version}, this kioskapp reads 2: " in err
        assert advice in err
    raw = sqlite3.connect(journal)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == version
    finally:
        raw.close()
    assert "kiosk_state" not in tables(journal)


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["99999999999999999999999", "9223372036854775808", "0", "-1"])
def test_an_incident_number_out_of_range_is_a_usage_error(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], number: str
) -> None:
    code, _, err = admin(capsys, paths[0], "resolve", number, "--note", "x")
    assert code == 2
    assert "not an incident number" in err
    assert db.audit() == []


def test_the_largest_incident_number_is_just_not_found(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = admin(capsys, paths[0], "resolve", "9223372036854775807", "--note", "x")
    assert code == 1
    assert "There is no incident #9223372036854775807." in err


def test_a_note_too_long_is_a_usage_error(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = admin(capsys, paths[0], "resolve", "1", "--note", "x" * 2001)
    assert code == 2
    assert "too long" in err
    assert db.incident(1).status == "open"  # type: ignore[union-attr]


def test_an_output_that_cannot_be_written_is_named(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "missing-dir" / "sales.csv"
    code, out, err = admin(capsys, paths[0], "export", "--csv", "--output", str(target))
    assert code == 1
    assert f"cannot write {target}: No such file or directory" in err
    assert ".sales.csv." not in err  # not the temporary file beside it
    assert out == ""


def test_the_config_may_follow_the_action(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["admin", "cash", "--config", str(paths[0])]) == 0
    assert "total 35.00 EUR in 3 note(s)" in capsys.readouterr().out
    assert main(["--config", str(paths[0]), "admin", "sales"]) == 0
    assert "3 sale(s)" in capsys.readouterr().out


# -- flagged sales, cashback, the export's audit ---------------------------------------------


def test_a_flagged_sale_without_an_incident_is_resolved_by_sale(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    db.create_sale("ddd-lost", state="error", price=eur(5))
    db.update_sale("ddd-lost", status="flagged", data={"flagged_minor": 500})
    code, out, err = admin(capsys, paths[0], "incidents")
    assert code == 0
    assert "#—  open" in out
    assert "sale ddd-lost, amount 5.00 EUR" in out
    assert "2 open incident(s); 2 flagged sale(s) unresolved" in out
    assert "admin resolve --sale ddd-lost" in err
    code, _, err = admin(capsys, paths[0], "resolve", "1", "--sale", "ddd-lost", "--note", "x")
    assert (code, "one of them" in err) == (2, True)
    code, _, err = admin(capsys, paths[0], "resolve", "--sale", "aaa-cash", "--note", "x")
    assert (code, "not flagged" in err) == (2, True)
    code, out, _ = admin(capsys, paths[0], "resolve", "--sale", "ddd-lost", "--note", "refunded")
    assert code == 0
    assert "incident #2 resolved by" in out
    code, _, err = admin(capsys, paths[0], "resolve", "--sale", "ddd-lost", "--note", "again")
    assert (code, "has incident(s) #2" in err) == (1, True)
    code, out, err = admin(capsys, paths[0], "incidents")
    assert "1 open incident(s); 1 flagged sale(s) unresolved" in out
    assert "WARNING" not in err
    code, out, _ = admin(capsys, paths[0], "resolve", "1", "--note", "voucher paid")
    code, out, _ = admin(capsys, paths[0], "incidents")
    assert "0 open incident(s); 0 flagged sale(s) unresolved" in out
    resolved = [a for a in db.audit() if a.action == "incident.resolve"]
    assert [a.details["incident_id"] for a in resolved] == [1, 2]
    assert db.sale("ddd-lost").status == "flagged"  # type: ignore[union-attr]


def seed_cashback_sale(db: JournalDB) -> None:
    """A sale paid in full from a cashback card: no payment row, the debit in its data."""
    db.create_sale("eee-cashback", state="thank_you", price=eur(20), product_sku="GIFT-20")
    db.update_sale("eee-cashback", data={"pass_id": "P-1", "cashback_minor": 2000})
    db.update_sale("eee-cashback", data={"debit": "done", "debit_minor": 2000})
    db.update_sale("eee-cashback", status="completed", data={"delivered_minor": 0})


def test_a_sale_paid_by_cashback_shows_the_debit(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    seed_cashback_sale(db)
    code, out, _ = admin(capsys, paths[0], "sales", "--search", "eee")
    assert code == 0
    assert out.splitlines()[0].split() == [
        "created", "sale", "status", "product", "price", "paid", "cashback", "paid", "by",
    ]  # fmt: skip
    assert out.splitlines()[1].split()[2:] == [
        "eee-cashback", "completed", "GIFT-20", "20.00", "EUR", "0.00", "EUR", "20.00", "EUR",
        "cashback",
    ]  # fmt: skip
    code, out, _ = admin(capsys, paths[0], "sale", "eee-cashback")
    assert "price 20.00 EUR, paid 0.00 EUR, cashback 20.00 EUR" in out
    code, out, _ = admin(capsys, paths[0], "export", "--csv")
    rows = {r["sale_id"]: r for r in csv.DictReader(io.StringIO(out))}
    assert (rows["eee-cashback"]["paid"], rows["eee-cashback"]["cashback_debited"]) == (
        "0.00",
        "20.00",
    )
    assert rows["eee-cashback"]["payment_methods"] == "cashback"
    assert rows["bbb-card"]["cashback_debited"] == "0.00"


def test_an_export_is_audited(
    db: JournalDB, paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, _ = admin(capsys, paths[0], "export", "--csv", "--since", "2027-01-15T09:00")
    assert code == 0
    target = tmp_path / "sales.csv"
    code, _, _ = admin(capsys, paths[0], "export", "--csv", "--output", str(target))
    assert code == 0
    exports = [a for a in reversed(db.audit()) if a.action == "sales.export"]
    assert [a.details for a in exports] == [
        {
            "format": "csv",
            "since": "2027-01-15T09:00:00+00:00",
            "until": None,
            "sales": 2,
            "output": "stdout",
        },
        {"format": "csv", "since": None, "until": None, "sales": 3, "output": str(target)},
    ]
    assert all(a.actor.endswith("@admin") for a in exports)


# -- set-pin and the config file -------------------------------------------------------------


def test_set_pin_edits_the_target_of_a_symlinked_config(
    db: JournalDB,
    paths: tuple[Path, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    _, journal = paths
    real = tmp_path / "managed" / "kiosk-012.toml"
    real.parent.mkdir()
    real.write_text(CONFIG_TEXT.format(journal=journal))
    real.chmod(0o640)
    link = tmp_path / "kiosk-link.toml"
    link.symlink_to(real)
    code, _, err = set_pin(capsys, monkeypatch, link, "482916")
    assert code == 0, err
    assert link.is_symlink()
    assert link.resolve() == real
    assert verify_pin("482916", staff_pin_hash(real))
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert sorted(p.name for p in real.parent.iterdir()) == ["kiosk-012.toml"]


def test_set_pin_reads_the_config_after_the_prompt(
    paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = paths[0]

    def prompt(text: str) -> str:
        if text.startswith("New"):  # someone edits the file while the PIN is typed
            with config.open("a") as f:
                f.write('\n[kiosk]\nid = "KIOSK-777"\n')
        return "5555"

    monkeypatch.setattr(admin_module.getpass, "getpass", prompt)
    code, _, err = admin(capsys, config, "set-pin")
    assert code == 0, err
    assert 'id = "KIOSK-777"' in config.read_text()
    assert verify_pin("5555", staff_pin_hash(config))


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_pin_stdin_from_a_terminal_is_asked_without_echo(
    paths: tuple[Path, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = paths[0]
    prompts: list[str] = []

    def prompt(text: str) -> str:
        prompts.append(text)
        return "2580"

    monkeypatch.setattr(sys, "stdin", _Terminal("not read this way\n"))
    monkeypatch.setattr(admin_module.getpass, "getpass", prompt)
    code, _, err = admin(capsys, config, "set-pin", "--pin-stdin")
    assert code == 0, err
    assert prompts == ["Staff PIN (4-12 digits): "]
    assert sys.stdin.read() == "not read this way\n"
    assert verify_pin("2580", staff_pin_hash(config))


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can create files of another user")
def test_as_root_the_journals_side_files_keep_the_kiosks_owner(
    paths: tuple[Path, Path], db: JournalDB, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sudo kioskapp admin ...`` while the kiosk is stopped: a -wal/-shm left behind
    owned by root would keep the kiosk (its own user) from opening its journal."""
    from kioskapp.staff.admin import keep_owner

    journal = paths[1]
    db.close()
    kiosk_user = 65534  # nobody
    os.chown(journal, kiosk_user, kiosk_user)
    for suffix in ("-wal", "-shm"):
        side = journal.with_name(journal.name + suffix)
        side.write_bytes(b"")  # as this process (root) creates them
        assert side.stat().st_uid == 0
    keep_owner(journal)
    for suffix in ("-wal", "-shm"):
        side = journal.with_name(journal.name + suffix)
        assert (side.stat().st_uid, side.stat().st_gid) == (kiosk_user, kiosk_user)
