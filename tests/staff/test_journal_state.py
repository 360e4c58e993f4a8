"""The journal's additions for maintenance mode: named state, schema 2, the cash ledger."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from kioskapp.core import journal as journal_module
from kioskapp.core.clock import ControlledClock
from kioskapp.core.journal import SCHEMA_VERSION, JournalDB
from kioskapp.core.money import Money


def test_named_state_round_trips_and_audits_in_the_same_write(tmp_path: Path) -> None:
    db = JournalDB(tmp_path / "j.sqlite3", clock=ControlledClock(start=100.0, speed=None))
    try:
        assert db.get_state("staff.out_of_service") is None
        db.set_state("staff.out_of_service", {"on": True}, audit=("a@admin", "kiosk.oos", {}))
        db.set_state("staff.out_of_service", {"on": False})
        assert db.get_state("staff.out_of_service") == {"on": False}
        assert [(r.actor, r.action, r.at) for r in db.audit()] == [("a@admin", "kiosk.oos", 100.0)]
    finally:
        db.close()


def test_a_schema_1_journal_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA journal_mode=WAL")
    raw.executescript(journal_module._MIGRATIONS[0])
    raw.execute(
        "INSERT INTO sales (sale_id, created_at, updated_at, state, status, currency)"
        " VALUES ('s1', 1.0, 1.0, 'attract', 'completed', 'EUR')"
    )
    raw.execute("PRAGMA user_version=1")
    raw.close()
    db = JournalDB(path)
    try:
        assert db.settings["user_version"] == SCHEMA_VERSION == 2
        assert [s.sale_id for s in db.sales()] == ["s1"]
        db.set_state("k", {"v": 1})
        assert db.get_state("k") == {"v": 1}
    finally:
        db.close()


def test_sales_between_and_flagged_sales(tmp_path: Path) -> None:
    clock = ControlledClock(start=1000.0, speed=None)
    db = JournalDB(tmp_path / "j.sqlite3", clock=clock)
    try:
        for sale_id in ("a", "b", "c"):
            db.create_sale(sale_id, state="attract", price=Money(100, "EUR"))
            clock.advance(10)
        db.update_sale("a", status="flagged")
        db.update_sale("c", status="compensated", data={"flagged_minor": 50})
        assert [s.sale_id for s in db.sales_between(1005.0, 1020.0)] == ["b"]
        assert [s.sale_id for s in db.sales_between(None, 1010.0)] == ["a"]
        assert [s.sale_id for s in db.sales_between(1010.0, None)] == ["b", "c"]
        assert [s.sale_id for s in db.flagged_sales()] == ["a", "c"]
    finally:
        db.close()
