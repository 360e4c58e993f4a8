"""The durable journal: every sale, every side effect's intent and outcome, the cash
box, incidents, cash collections and the staff audit log, in one SQLite file.

Durability: WAL with ``synchronous=FULL`` (each commit is on disk before the
call returns), both read back and checked at open, with ``integrity_check``.
A side effect is written as an *intent* (with its idempotency key) before it
is sent and gets its *outcome* after; an intent without an outcome after a
crash is exactly what recovery must resolve.

Threads: :class:`JournalDB` is plain synchronous SQLite, used from one thread
(the admin command uses it directly). :class:`Journal` is the asyncio facade
the kiosk uses: every call runs on one dedicated thread, so a slow fsync never
stalls the UI loop.

Amounts are stored as integer minor units with their currency.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

from kioskapp.core.clock import Clock, SystemClock
from kioskapp.core.money import Money

P = ParamSpec("P")
T = TypeVar("T")

SaleStatus = Literal["open", "completed", "cancelled", "compensated", "flagged"]
EffectStatus = Literal["pending", "done", "failed", "unknown"]
IncidentStatus = Literal["open", "resolved"]


class JournalError(Exception):
    """The journal cannot be used (corrupt, wrong settings, newer schema)."""


# -- schema ----------------------------------------------------------------------

_MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE sales (
        sale_id      TEXT PRIMARY KEY,
        created_at   REAL NOT NULL,
        updated_at   REAL NOT NULL,
        state        TEXT NOT NULL,
        status       TEXT NOT NULL,
        currency     TEXT NOT NULL,
        product_sku  TEXT,
        product_name TEXT,
        price_minor  INTEGER NOT NULL DEFAULT 0,
        data         TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX sales_status ON sales(status, created_at);
    CREATE TABLE effects (
        id          INTEGER PRIMARY KEY,
        sale_id     TEXT NOT NULL REFERENCES sales(sale_id),
        kind        TEXT NOT NULL,
        key         TEXT,
        intent      TEXT NOT NULL,
        intent_at   REAL NOT NULL,
        status      TEXT NOT NULL,
        outcome     TEXT,
        outcome_at  REAL
    );
    CREATE INDEX effects_sale ON effects(sale_id, id);
    CREATE UNIQUE INDEX effects_key ON effects(kind, key) WHERE key IS NOT NULL;
    CREATE TABLE payments (
        key                TEXT PRIMARY KEY,
        sale_id            TEXT NOT NULL REFERENCES sales(sale_id),
        method             TEXT NOT NULL,
        attempt            INTEGER NOT NULL,
        currency           TEXT NOT NULL,
        amount_minor       INTEGER NOT NULL,
        taken_minor        INTEGER NOT NULL DEFAULT 0,
        uncertain_minor    INTEGER NOT NULL DEFAULT 0,
        reference          TEXT,
        outcome            TEXT,
        auth_code          TEXT,
        card_brand         TEXT,
        card_last4         TEXT,
        detail             TEXT,
        compensation       TEXT,
        compensated_minor  INTEGER NOT NULL DEFAULT 0,
        updated_at         REAL NOT NULL,
        UNIQUE (sale_id, method, attempt)
    );
    CREATE TABLE notes (
        id             INTEGER PRIMARY KEY,
        sale_id        TEXT NOT NULL,
        payment_key    TEXT NOT NULL,
        currency       TEXT NOT NULL,
        amount_minor   INTEGER NOT NULL,
        at             REAL NOT NULL,
        collection_id  INTEGER REFERENCES collections(id)
    );
    CREATE INDEX notes_uncollected ON notes(collection_id);
    CREATE TABLE collections (
        id            INTEGER PRIMARY KEY,
        at            REAL NOT NULL,
        actor         TEXT NOT NULL,
        currency      TEXT NOT NULL,
        total_minor   INTEGER NOT NULL,
        by_note       TEXT NOT NULL
    );
    CREATE TABLE incidents (
        id              INTEGER PRIMARY KEY,
        sale_id         TEXT,
        kind            TEXT NOT NULL,
        created_at      REAL NOT NULL,
        summary         TEXT NOT NULL,
        details         TEXT NOT NULL DEFAULT '{}',
        currency        TEXT,
        amount_minor    INTEGER NOT NULL DEFAULT 0,
        status          TEXT NOT NULL DEFAULT 'open',
        resolved_at     REAL,
        resolved_by     TEXT,
        resolution_note TEXT
    );
    CREATE INDEX incidents_status ON incidents(status, created_at);
    CREATE TABLE audit (
        id       INTEGER PRIMARY KEY,
        at       REAL NOT NULL,
        actor    TEXT NOT NULL,
        action   TEXT NOT NULL,
        details  TEXT NOT NULL DEFAULT '{}'
    );
    """,
    # 2: small named state that must survive a restart (staff PIN lockout, the staff
    # out-of-service toggle, the card hopper's last refill); an index for the audit
    # log's newest-first reads and the sales export's time range
    """
    CREATE TABLE kiosk_state (
        key         TEXT PRIMARY KEY,
        value       TEXT NOT NULL,
        updated_at  REAL NOT NULL
    );
    CREATE INDEX sales_created ON sales(created_at);
    """,
)

SCHEMA_VERSION = len(_MIGRATIONS)


# -- rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class SaleRow:
    sale_id: str
    created_at: float
    updated_at: float
    state: str
    status: SaleStatus
    currency: str
    product_sku: str | None
    product_name: str | None
    price: Money
    data: dict[str, Any]


@dataclass(frozen=True)
class EffectRow:
    id: int
    sale_id: str
    kind: str
    key: str | None
    intent: dict[str, Any]
    intent_at: float
    status: EffectStatus
    outcome: dict[str, Any] | None
    outcome_at: float | None


@dataclass(frozen=True)
class PaymentRow:
    key: str
    sale_id: str
    method: str
    attempt: int
    amount: Money
    taken: Money
    uncertain: Money
    reference: str | None
    outcome: str | None
    auth_code: str | None
    card_brand: str | None
    card_last4: str | None
    detail: str | None
    compensation: str | None
    compensated: Money
    updated_at: float


@dataclass(frozen=True)
class IncidentRow:
    id: int
    sale_id: str | None
    kind: str
    created_at: float
    summary: str
    details: dict[str, Any]
    amount: Money | None
    status: IncidentStatus
    resolved_at: float | None
    resolved_by: str | None
    resolution_note: str | None


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: float
    actor: str
    action: str
    details: dict[str, Any]


@dataclass(frozen=True)
class CashBox:
    """Notes in the cash box since the last collection."""

    currency: str
    by_note: dict[int, int]  # denomination in minor units -> count
    total: Money
    since: float | None  # the last collection's time


@dataclass(frozen=True)
class Reconciliation:
    """Money taken = delivered + compensated + flagged, over the sales asked for."""

    currency: str
    taken: Money
    delivered: Money
    compensated: Money
    flagged: Money
    open_sales: int

    @property
    def balanced(self) -> bool:
        return self.taken == self.delivered + self.compensated + self.flagged


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _loads(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    value = json.loads(text)
    return value if isinstance(value, dict) else {"value": value}


class JournalDB:
    """Synchronous journal; one thread only (see :class:`Journal` for asyncio).

    The kiosk opens it with ``existing=None``: the file is created if missing,
    checked in full and migrated. ``existing="read"`` / ``"write"`` open a journal
    that must already exist (the admin command): read-only / read-write, never
    created, migrated or checked in full; JournalError unless it is a kioskapp
    journal of exactly :data:`SCHEMA_VERSION`.
    """

    def __init__(
        self,
        path: Path,
        *,
        clock: Clock | None = None,
        existing: Literal["read", "write"] | None = None,
    ) -> None:
        self.path = path
        self.clock = clock or SystemClock()
        try:
            if existing is None:
                path.parent.mkdir(parents=True, exist_ok=True)
                target: str | Path = path
            else:  # mode=ro / mode=rw: SQLite never creates the file
                mode = "ro" if existing == "read" else "rw"
                target = f"{path.absolute().as_uri()}?mode={mode}"
            self._db = sqlite3.connect(
                target,
                isolation_level=None,
                check_same_thread=False,
                timeout=10.0,
                uri=existing is not None,
            )
        except sqlite3.Error as exc:
            raise JournalError(f"cannot open the journal at {path}: {exc}") from exc
        self._db.row_factory = sqlite3.Row
        try:
            if existing is None:
                self._configure()
                self._migrate()
            else:
                self._check_existing(write=existing == "write")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise JournalError(f"the journal at {path} is unusable: {exc}") from exc
        except JournalError:
            self._db.close()
            raise

    def _configure(self) -> None:
        db = self._db
        mode = db.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        sync = db.execute("PRAGMA synchronous").fetchone()[0]
        if str(mode).lower() != "wal":
            raise JournalError(f"the journal needs WAL mode, SQLite gave {mode!r}")
        if int(sync) != 2:
            raise JournalError(f"the journal needs synchronous=FULL (2), SQLite gave {sync}")
        check = [row[0] for row in db.execute("PRAGMA integrity_check")]
        if check != ["ok"]:
            raise JournalError(f"integrity check failed: {'; '.join(check[:5])}")

    def _check_existing(self, *, write: bool) -> None:
        """A kioskapp journal of this schema version, in WAL mode, or JournalError."""
        db = self._db
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "sales" not in tables:
            raise JournalError(f"{self.path} is not a kioskapp journal (it has no sales table)")
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version != SCHEMA_VERSION:
            how = (
                "upgrade kioskapp"
                if version > SCHEMA_VERSION
                else "start the kiosk app once to upgrade it (kioskapp admin never migrates)"
            )
            raise JournalError(
                f"the journal at {self.path} is schema {version}, this kioskapp reads "
                f"{SCHEMA_VERSION}: {how}"
            )
        mode = str(db.execute("PRAGMA journal_mode").fetchone()[0]).lower()
        if mode != "wal":
            raise JournalError(f"the journal at {self.path} is not in WAL mode ({mode})")
        if write:
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"the journal has schema version {version}, newer than this kioskapp "
                f"({SCHEMA_VERSION}); upgrade kioskapp"
            )
        for number in range(version, SCHEMA_VERSION):
            with self._tx():
                for statement in _split(_MIGRATIONS[number]):
                    self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version={number + 1}")

    @property
    def settings(self) -> dict[str, object]:
        """What the database really runs with (for the about screen and tests)."""
        return {
            "journal_mode": self._db.execute("PRAGMA journal_mode").fetchone()[0],
            "synchronous": self._db.execute("PRAGMA synchronous").fetchone()[0],
            "user_version": self._db.execute("PRAGMA user_version").fetchone()[0],
        }

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _now(self) -> float:
        return self.clock.time()

    # -- sales ---------------------------------------------------------------------
    def create_sale(
        self,
        sale_id: str,
        *,
        state: str,
        price: Money,
        product_sku: str | None = None,
        product_name: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        now = self._now()
        with self._tx():
            self._db.execute(
                "INSERT INTO sales (sale_id, created_at, updated_at, state, status, currency,"
                " product_sku, product_name, price_minor, data)"
                " VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?)",
                (sale_id, now, now, state, price.currency, product_sku, product_name,
                 price.minor, _dumps(data or {})),
            )  # fmt: skip

    def update_sale(
        self,
        sale_id: str,
        *,
        state: str | None = None,
        status: SaleStatus | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Move a sale on; ``data`` is merged into what the sale already holds."""
        with self._tx():
            row = self._db.execute("SELECT data FROM sales WHERE sale_id=?", (sale_id,)).fetchone()
            if row is None:
                raise KeyError(f"no sale {sale_id!r} in the journal")
            merged = {**_loads(row["data"]), **(data or {})}
            self._db.execute(
                "UPDATE sales SET updated_at=?, state=COALESCE(?, state),"
                " status=COALESCE(?, status), data=? WHERE sale_id=?",
                (self._now(), state, status, _dumps(merged), sale_id),
            )

    def sale(self, sale_id: str) -> SaleRow | None:
        row = self._db.execute("SELECT * FROM sales WHERE sale_id=?", (sale_id,)).fetchone()
        return None if row is None else _sale(row)

    def sales(self, *, limit: int = 50, search: str | None = None) -> list[SaleRow]:
        """Most recent first; ``search`` matches a sale id prefix or a product."""
        if search:
            like = f"{search}%"
            rows = self._db.execute(
                "SELECT * FROM sales WHERE sale_id LIKE ? OR product_sku LIKE ?"
                " OR product_name LIKE ? ORDER BY created_at DESC LIMIT ?",
                (like, like, f"%{search}%", limit),
            )
        else:
            rows = self._db.execute(
                "SELECT * FROM sales ORDER BY created_at DESC LIMIT ?", (limit,)
            )
        return [_sale(r) for r in rows]

    def sales_between(
        self, since: float | None = None, until: float | None = None, *, limit: int | None = None
    ) -> list[SaleRow]:
        """Sales created in [since, until), oldest first (None: no bound)."""
        rows = self._db.execute(
            "SELECT * FROM sales WHERE created_at >= COALESCE(?, created_at)"
            " AND created_at < COALESCE(?, created_at + 1) ORDER BY created_at, sale_id"
            " LIMIT COALESCE(?, -1)",
            (since, until, limit),
        )
        return [_sale(r) for r in rows]

    def flagged_sales(self) -> list[SaleRow]:
        """Sales left for staff: status flagged, or any money flagged in their data."""
        rows = self._db.execute(
            "SELECT * FROM sales WHERE status='flagged'"
            " OR COALESCE(json_extract(data, '$.flagged_minor'), 0) > 0 ORDER BY created_at"
        )
        return [_sale(r) for r in rows]

    def unfinished_sales(self) -> list[SaleRow]:
        rows = self._db.execute("SELECT * FROM sales WHERE status='open' ORDER BY created_at")
        return [_sale(r) for r in rows]

    # -- side effects: intent before, outcome after ---------------------------------
    def begin_effect(
        self, sale_id: str, kind: str, intent: dict[str, Any], *, key: str | None = None
    ) -> int:
        """Record what is about to be sent (durable when this returns). Returns its id.

        ``key`` is the idempotency key: a second intent with the same (kind, key)
        returns the first one's id instead of a new row (a retry, not a new effect).
        """
        with self._tx():
            if key is not None:
                row = self._db.execute(
                    "SELECT id FROM effects WHERE kind=? AND key=?", (kind, key)
                ).fetchone()
                if row is not None:
                    return int(row["id"])
            cur = self._db.execute(
                "INSERT INTO effects (sale_id, kind, key, intent, intent_at, status)"
                " VALUES (?, ?, ?, ?, ?, 'pending')",
                (sale_id, kind, key, _dumps(intent), self._now()),
            )
            return int(cur.lastrowid or 0)

    def end_effect(
        self, effect_id: int, status: EffectStatus, outcome: dict[str, Any] | None = None
    ) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE effects SET status=?, outcome=?, outcome_at=? WHERE id=?",
                (status, _dumps(outcome or {}), self._now(), effect_id),
            )

    def effects(self, sale_id: str) -> list[EffectRow]:
        rows = self._db.execute("SELECT * FROM effects WHERE sale_id=? ORDER BY id", (sale_id,))
        return [_effect(r) for r in rows]

    # -- payments --------------------------------------------------------------------
    def save_payment(
        self,
        *,
        key: str,
        sale_id: str,
        method: str,
        attempt: int,
        amount: Money,
        taken: Money,
        uncertain: Money | None = None,
        reference: str | None = None,
    ) -> None:
        """Upsert one payment attempt's record. A cash total that grew adds its notes
        (the difference) to the cash box, in the same transaction."""
        now = self._now()
        with self._tx():
            row = self._db.execute(
                "SELECT taken_minor FROM payments WHERE key=?", (key,)
            ).fetchone()
            before = 0 if row is None else int(row["taken_minor"])
            self._db.execute(
                "INSERT INTO payments (key, sale_id, method, attempt, currency, amount_minor,"
                " taken_minor, uncertain_minor, reference, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET"
                " taken_minor=MAX(taken_minor, excluded.taken_minor),"
                " uncertain_minor=excluded.uncertain_minor,"
                " reference=COALESCE(excluded.reference, reference),"
                " updated_at=excluded.updated_at",
                (key, sale_id, method, attempt, amount.currency, amount.minor, taken.minor,
                 0 if uncertain is None else uncertain.minor, reference, now),
            )  # fmt: skip
            if method == "cash" and taken.minor > before:
                self._db.execute(
                    "INSERT INTO notes (sale_id, payment_key, currency, amount_minor, at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (sale_id, key, taken.currency, taken.minor - before, now),
                )

    def finish_payment(
        self,
        key: str,
        *,
        outcome: str,
        taken: Money,
        auth_code: str | None = None,
        card_brand: str | None = None,
        card_last4: str | None = None,
        detail: str | None = None,
    ) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE payments SET outcome=?, taken_minor=?, auth_code=?, card_brand=?,"
                " card_last4=?, detail=?, updated_at=? WHERE key=?",
                (outcome, taken.minor, auth_code, card_brand, card_last4, detail,
                 self._now(), key),
            )  # fmt: skip

    def record_compensation(self, key: str, *, kind: str, amount: Money) -> None:
        with self._tx():
            self._db.execute(
                "UPDATE payments SET compensation=?, compensated_minor=?, updated_at=? WHERE key=?",
                (kind, amount.minor, self._now(), key),
            )

    def payments(self, sale_id: str) -> list[PaymentRow]:
        rows = self._db.execute("SELECT * FROM payments WHERE sale_id=? ORDER BY rowid", (sale_id,))
        return [_payment(r) for r in rows]

    # -- cash box --------------------------------------------------------------------
    def cash_box(self, currency: str) -> CashBox:
        rows = self._db.execute(
            "SELECT amount_minor, COUNT(*) AS n FROM notes WHERE collection_id IS NULL"
            " AND currency=? GROUP BY amount_minor ORDER BY amount_minor",
            (currency,),
        )
        by_note = {int(r["amount_minor"]): int(r["n"]) for r in rows}
        last = self._db.execute("SELECT MAX(at) FROM collections WHERE currency=?", (currency,))
        since = last.fetchone()[0]
        total = sum(amount * count for amount, count in by_note.items())
        return CashBox(currency, by_note, Money(total, currency), since)

    def cash_ledger(self, currency: str) -> tuple[int, int]:
        """(cash taken by every cash payment ever, total of every collection), minor units:
        their difference is what the cash box must hold."""
        taken = self._db.execute(
            "SELECT COALESCE(SUM(taken_minor), 0) FROM payments WHERE method='cash' AND currency=?",
            (currency,),
        ).fetchone()[0]
        collected = self._db.execute(
            "SELECT COALESCE(SUM(total_minor), 0) FROM collections WHERE currency=?", (currency,)
        ).fetchone()[0]
        return int(taken), int(collected)

    def record_collection(self, *, actor: str, currency: str) -> tuple[int, CashBox]:
        """Staff emptied the cash box: every uncollected note is now collected."""
        with self._tx():
            box = self.cash_box(currency)  # in the transaction: no note slips in between
            cur = self._db.execute(
                "INSERT INTO collections (at, actor, currency, total_minor, by_note)"
                " VALUES (?, ?, ?, ?, ?)",
                (self._now(), actor, currency, box.total.minor,
                 _dumps({str(k): v for k, v in box.by_note.items()})),
            )  # fmt: skip
            collection_id = int(cur.lastrowid or 0)
            self._db.execute(
                "UPDATE notes SET collection_id=? WHERE collection_id IS NULL AND currency=?",
                (collection_id, currency),
            )
            self._audit(actor, "cash.collect", {"collection_id": collection_id,
                                                "total_minor": box.total.minor})  # fmt: skip
        return collection_id, box

    # -- incidents -------------------------------------------------------------------
    def open_incident(
        self,
        kind: str,
        summary: str,
        *,
        sale_id: str | None = None,
        amount: Money | None = None,
        details: dict[str, Any] | None = None,
    ) -> int:
        with self._tx():
            cur = self._db.execute(
                "INSERT INTO incidents (sale_id, kind, created_at, summary, details, currency,"
                " amount_minor) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sale_id, kind, self._now(), summary, _dumps(details or {}),
                 None if amount is None else amount.currency,
                 0 if amount is None else amount.minor),
            )  # fmt: skip
            return int(cur.lastrowid or 0)

    def incidents(self, *, open_only: bool = False, limit: int = 200) -> list[IncidentRow]:
        where = "WHERE status='open'" if open_only else ""
        rows = self._db.execute(
            f"SELECT * FROM incidents {where} ORDER BY created_at DESC LIMIT ?",  # noqa: S608
            (limit,),
        )
        return [_incident(r) for r in rows]

    def sale_incidents(self, sale_id: str) -> list[IncidentRow]:
        rows = self._db.execute(
            "SELECT * FROM incidents WHERE sale_id=? ORDER BY created_at, id", (sale_id,)
        )
        return [_incident(r) for r in rows]

    def incident(self, incident_id: int) -> IncidentRow | None:
        row = self._db.execute("SELECT * FROM incidents WHERE id=?", (incident_id,)).fetchone()
        return None if row is None else _incident(row)

    def resolve_incident(self, incident_id: int, *, actor: str, note: str) -> None:
        if not note.strip():
            raise ValueError("resolving an incident needs a note saying what was done")
        with self._tx():
            cur = self._db.execute(
                "UPDATE incidents SET status='resolved', resolved_at=?, resolved_by=?,"
                " resolution_note=? WHERE id=? AND status='open'",
                (self._now(), actor, note.strip(), incident_id),
            )
            if cur.rowcount != 1:
                raise KeyError(f"no open incident {incident_id}")
            self._audit(actor, "incident.resolve", {"incident_id": incident_id, "note": note})

    # -- audit -----------------------------------------------------------------------
    def add_audit(self, actor: str, action: str, details: dict[str, Any] | None = None) -> None:
        with self._tx():
            self._audit(actor, action, details or {})

    def _audit(self, actor: str, action: str, details: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO audit (at, actor, action, details) VALUES (?, ?, ?, ?)",
            (self._now(), actor, action, _dumps(details)),
        )

    def audit(self, *, limit: int = 200) -> list[AuditRow]:
        rows = self._db.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
        return [
            AuditRow(int(r["id"]), float(r["at"]), r["actor"], r["action"], _loads(r["details"]))
            for r in rows
        ]

    # -- named state ------------------------------------------------------------------
    def get_state(self, key: str) -> dict[str, Any] | None:
        """The value last stored under ``key`` (see :meth:`set_state`), or None."""
        row = self._db.execute("SELECT value FROM kiosk_state WHERE key=?", (key,)).fetchone()
        return None if row is None else _loads(row["value"])

    def set_state(
        self,
        key: str,
        value: dict[str, Any],
        *,
        audit: tuple[str, str, dict[str, Any]] | None = None,
    ) -> None:
        """Store ``value`` under ``key`` (replacing it); ``audit`` = (actor, action,
        details) is written in the same transaction."""
        with self._tx():
            self._db.execute(
                "INSERT INTO kiosk_state (key, value, updated_at) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET value=excluded.value,"
                " updated_at=excluded.updated_at",
                (key, _dumps(value), self._now()),
            )
            if audit is not None:
                self._audit(*audit)

    # -- reconciliation --------------------------------------------------------------
    def reconciliation(self, currency: str) -> Reconciliation:
        """Per the ``data`` every finished sale carries: ``delivered_minor`` (value handed
        out), ``compensated_minor`` and ``flagged_minor``; taken = sum of payments."""
        taken = self._db.execute(
            "SELECT COALESCE(SUM(taken_minor), 0) FROM payments WHERE currency=?", (currency,)
        ).fetchone()[0]
        delivered = compensated = flagged = 0
        open_sales = 0
        for row in self._db.execute("SELECT status, data FROM sales WHERE currency=?",
                                    (currency,)):  # fmt: skip
            data = _loads(row["data"])
            delivered += int(data.get("delivered_minor", 0))
            compensated += int(data.get("compensated_minor", 0))
            flagged += int(data.get("flagged_minor", 0))
            open_sales += row["status"] == "open"
        return Reconciliation(
            currency,
            Money(int(taken), currency),
            Money(delivered, currency),
            Money(compensated, currency),
            Money(flagged, currency),
            open_sales,
        )


def _split(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _money(minor: object, currency: object) -> Money:
    return Money(int(minor), str(currency))  # type: ignore[call-overload]


def _sale(r: sqlite3.Row) -> SaleRow:
    return SaleRow(
        sale_id=r["sale_id"],
        created_at=float(r["created_at"]),
        updated_at=float(r["updated_at"]),
        state=r["state"],
        status=r["status"],
        currency=r["currency"],
        product_sku=r["product_sku"],
        product_name=r["product_name"],
        price=_money(r["price_minor"], r["currency"]),
        data=_loads(r["data"]),
    )


def _effect(r: sqlite3.Row) -> EffectRow:
    return EffectRow(
        id=int(r["id"]),
        sale_id=r["sale_id"],
        kind=r["kind"],
        key=r["key"],
        intent=_loads(r["intent"]),
        intent_at=float(r["intent_at"]),
        status=r["status"],
        outcome=None if r["outcome"] is None else _loads(r["outcome"]),
        outcome_at=None if r["outcome_at"] is None else float(r["outcome_at"]),
    )


def _payment(r: sqlite3.Row) -> PaymentRow:
    cur = r["currency"]
    return PaymentRow(
        key=r["key"],
        sale_id=r["sale_id"],
        method=r["method"],
        attempt=int(r["attempt"]),
        amount=_money(r["amount_minor"], cur),
        taken=_money(r["taken_minor"], cur),
        uncertain=_money(r["uncertain_minor"], cur),
        reference=r["reference"],
        outcome=r["outcome"],
        auth_code=r["auth_code"],
        card_brand=r["card_brand"],
        card_last4=r["card_last4"],
        detail=r["detail"],
        compensation=r["compensation"],
        compensated=_money(r["compensated_minor"], cur),
        updated_at=float(r["updated_at"]),
    )


def _incident(r: sqlite3.Row) -> IncidentRow:
    amount = None if r["currency"] is None else _money(r["amount_minor"], r["currency"])
    return IncidentRow(
        id=int(r["id"]),
        sale_id=r["sale_id"],
        kind=r["kind"],
        created_at=float(r["created_at"]),
        summary=r["summary"],
        details=_loads(r["details"]),
        amount=amount,
        status=r["status"],
        resolved_at=None if r["resolved_at"] is None else float(r["resolved_at"]),
        resolved_by=r["resolved_by"],
        resolution_note=r["resolution_note"],
    )


class Journal:
    """The asyncio face of :class:`JournalDB`: every call runs on one journal thread.

    await journal.call(journal.db.update_sale, sale_id, state="paying")
    """

    def __init__(self, path: Path, *, clock: Clock | None = None) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        try:
            self.db = self._executor.submit(JournalDB, path, clock=clock).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` (a JournalDB method) on the journal thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    async def aclose(self) -> None:
        await self.call(self.db.close)
        self._executor.shutdown(wait=True)
