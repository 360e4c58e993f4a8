"""The journal on real SQLite files."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from kioskapp.core.clock import ControlledClock
from kioskapp.core.journal import SCHEMA_VERSION, Journal, JournalDB, JournalError
from kioskapp.core.money import Money


def eur(major: int) -> Money:
    return Money(major * 100, "EUR")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[JournalDB]:
    journal = JournalDB(tmp_path / "journal.sqlite3", clock=ControlledClock(start=1000.0))
    yield journal
    journal.close()


def test_opens_in_wal_with_full_sync(db: JournalDB) -> None:
    assert db.settings == {"journal_mode": "wal", "synchronous": 2, "user_version": SCHEMA_VERSION}


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    first = JournalDB(path)
    first.create_sale("s1", state="choosing", price=eur(5), product_sku="CARD")
    first.close()
    again = JournalDB(path)
    sale = again.sale("s1")
    assert sale is not None
    assert (sale.state, sale.status, sale.price) == ("choosing", "open", eur(5))
    again.close()


def test_corrupt_file_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    path.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    with pytest.raises(JournalError, match=r"unusable|integrity"):
        JournalDB(path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite3"
    JournalDB(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(JournalError, match="newer"):
        JournalDB(path)


def test_sale_lifecycle_and_data_merge(db: JournalDB) -> None:
    db.create_sale("s1", state="choosing", price=eur(5), data={"lang": "es"})
    db.update_sale("s1", state="paying", data={"pass_id": "p1"})
    db.update_sale("s1", status="completed", data={"delivered_minor": 500})
    sale = db.sale("s1")
    assert sale is not None
    assert sale.status == "completed"
    assert sale.data == {"lang": "es", "pass_id": "p1", "delivered_minor": 500}
    assert db.unfinished_sales() == []
    with pytest.raises(KeyError):
        db.update_sale("nope", state="x")


def test_effect_intent_then_outcome_and_idempotent_keys(db: JournalDB) -> None:
    db.create_sale("s1", state="debiting", price=eur(5))
    first = db.begin_effect("s1", "debit", {"amount": "2.50"}, key="ticket-1")
    again = db.begin_effect("s1", "debit", {"amount": "2.50"}, key="ticket-1")
    assert first == again, "a retry with the same key is the same effect"
    (effect,) = db.effects("s1")
    assert (effect.status, effect.outcome) == ("pending", None)
    db.end_effect(first, "done", {"balance": "4.04"})
    (effect,) = db.effects("s1")
    assert effect.status == "done"
    assert effect.outcome == {"balance": "4.04"}


def test_cash_payments_fill_the_cash_box_by_denomination(db: JournalDB) -> None:
    db.create_sale("s1", state="paying", price=eur(30))
    common = {"key": "k1", "sale_id": "s1", "method": "cash", "attempt": 1, "amount": eur(30)}
    db.save_payment(**common, taken=eur(0))
    db.save_payment(**common, taken=eur(20))
    db.save_payment(**common, taken=eur(20))  # saved twice: still one note
    db.save_payment(**common, taken=eur(30))
    box = db.cash_box("EUR")
    assert box.by_note == {1000: 1, 2000: 1}
    assert box.total == eur(30)
    collection, collected = db.record_collection(actor="staff-1", currency="EUR")
    assert collected.total == eur(30)
    assert db.cash_box("EUR").total == eur(0)
    assert db.audit()[0].action == "cash.collect"
    assert db.audit()[0].details["collection_id"] == collection


def test_payment_taken_never_goes_down_on_upsert(db: JournalDB) -> None:
    db.create_sale("s1", state="paying", price=eur(30))
    common = {"key": "k1", "sale_id": "s1", "method": "cash", "attempt": 1, "amount": eur(30)}
    db.save_payment(**common, taken=eur(20))
    db.save_payment(**common, taken=eur(0), reference="late")
    (row,) = db.payments("s1")
    assert row.taken == eur(20)
    assert row.reference == "late"


def test_incidents_need_a_note_to_resolve(db: JournalDB) -> None:
    incident = db.open_incident("refund_voucher", "voucher printed", sale_id="s1", amount=eur(20))
    assert [i.id for i in db.incidents(open_only=True)] == [incident]
    with pytest.raises(ValueError, match="note"):
        db.resolve_incident(incident, actor="staff-1", note="  ")
    db.resolve_incident(incident, actor="staff-1", note="paid out in cash")
    assert db.incidents(open_only=True) == []
    resolved = db.incident(incident)
    assert resolved is not None
    assert (resolved.status, resolved.resolved_by) == ("resolved", "staff-1")
    with pytest.raises(KeyError):
        db.resolve_incident(incident, actor="staff-1", note="again")


def test_reconciliation_balances(db: JournalDB) -> None:
    db.create_sale("s1", state="done", price=eur(30))
    db.save_payment(key="k1", sale_id="s1", method="cash", attempt=1, amount=eur(30), taken=eur(30))
    db.update_sale("s1", status="completed", data={"delivered_minor": 3000})
    db.create_sale("s2", state="done", price=eur(10))
    db.save_payment(key="k2", sale_id="s2", method="cash", attempt=1, amount=eur(10), taken=eur(5))
    db.update_sale("s2", status="compensated", data={"compensated_minor": 500})
    rec = db.reconciliation("EUR")
    assert rec.taken == eur(35)
    assert rec.balanced
    db.create_sale("s3", state="paying", price=eur(10))
    db.save_payment(key="k3", sale_id="s3", method="cash", attempt=1, amount=eur(10), taken=eur(10))
    rec = db.reconciliation("EUR")
    assert not rec.balanced
    assert rec.open_sales == 1


def test_search_sales(db: JournalDB) -> None:
    db.create_sale("abc-123", state="x", price=eur(5), product_name="Gift card 20")
    db.create_sale("def-456", state="x", price=eur(5), product_name="Cashback card")
    assert [s.sale_id for s in db.sales(search="abc")] == ["abc-123"]
    assert [s.sale_id for s in db.sales(search="Cashback")] == ["def-456"]


async def test_async_facade_runs_on_its_own_thread(tmp_path: Path) -> None:
    import threading

    journal = Journal(tmp_path / "j.sqlite3")
    try:
        await journal.call(journal.db.create_sale, "s1", state="choosing", price=eur(5))
        sale = await journal.call(journal.db.sale, "s1")
        assert sale is not None
        thread = await journal.call(lambda: threading.current_thread().name)
        assert thread.startswith("journal")
        assert thread != threading.current_thread().name
    finally:
        await journal.aclose()
