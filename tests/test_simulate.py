"""`kioskapp simulate-sales`: whole journeys against the simulators, reconciled."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kioskapp import cli, simulate
from kioskapp.core.clock import ControlledClock
from kioskapp.core.journal import JournalDB
from kioskapp.core.money import Money
from kioskapp.simulate import (
    FAULT_KINDS,
    SimulationError,
    SimulationOptions,
    audit_sales,
    recovery_entry,
    simulate_sales,
)

LINE = re.compile(
    r"^RECONCILIATION taken=(\d+) delivered=(\d+) compensated=(\d+) flagged=(\d+) "
    r"unhandled=(\d+)$"
)


def test_a_reduced_run_with_faults_reconciles(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["simulate-sales", "30", "--faults", "0.3", "--seed", "11"])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1, out  # exactly one line on stdout
    match = LINE.match(lines[0])
    assert match is not None, lines[0]
    taken, delivered, compensated, flagged, unhandled = (int(g) for g in match.groups())
    assert taken == delivered + compensated + flagged, err
    assert unhandled == 0, err
    assert delivered > 0  # customers really bought something
    assert code == 0
    assert "simulate-sales: 30 journeys" in err
    assert "faults: none" not in err  # at this rate some journeys had a fault


async def test_the_seed_decides_the_behaviour() -> None:
    def options(seed: int) -> SimulationOptions:
        # Faults whose outcome does not depend on real time (no late answers).
        kinds = ("callbacks.drop", "device.paper_out", "card.decline", "tecalis.bill_open.503")
        return SimulationOptions(8, fault_rate=0.5, seed=seed, fault_kinds=kinds)

    first = await simulate_sales(options(1))
    again = await simulate_sales(options(1))
    other = await simulate_sales(options(2))
    for report in (first, again, other):
        assert report.ok, report.summary()
    assert first.fingerprint == again.fingerprint
    assert first.line() == again.line()
    assert other.fingerprint != first.fingerprint
    assert other.outcomes != first.outcomes or other.taken != first.taken


@pytest.mark.skipif(recovery_entry() is None, reason="kioskapp.core.recovery is not importable")
async def test_a_crash_mid_journey_is_recovered_and_reconciles() -> None:
    kinds = (
        "crash.bill_accept.after",
        "crash.debit.after",
        "crash.dispense.before",
        "crash.dispense.after",
        "crash.idle",
    )
    report = await simulate_sales(SimulationOptions(10, fault_rate=1.0, seed=5, fault_kinds=kinds))
    assert sum(report.faults.values()) == 10
    assert report.ok, report.summary()
    assert report.balanced


def _journal(tmp_path: Path) -> JournalDB:
    return JournalDB(tmp_path / "journal.sqlite3", clock=ControlledClock(start=1.8e9))


def test_the_audit_counts_what_the_journal_leaves_unhandled(tmp_path: Path) -> None:
    db = _journal(tmp_path)
    eur = Money(500, "EUR")
    try:
        for sale_id in ("open", "unbalanced", "unknown", "clean", "flagged"):
            db.create_sale(sale_id, state="paying", price=eur)
            db.save_payment(
                key=f"k-{sale_id}", sale_id=sale_id, method="tpv", attempt=1, amount=eur, taken=eur
            )
        # Left open: never closed.
        # Closed, but 5.00 taken and only 4.00 accounted for.
        db.finish_payment("k-unbalanced", outcome="approved", taken=eur)
        db.update_sale("unbalanced", status="completed", data={"delivered_minor": 400})
        # Closed and balanced (flagged), but the payment's outcome is unknown and no
        # incident tells staff.
        db.finish_payment("k-unknown", outcome="unknown", taken=eur)
        db.update_sale("unknown", status="flagged", data={"flagged_minor": 500})
        # Delivered: fine.
        db.finish_payment("k-clean", outcome="approved", taken=eur)
        db.update_sale("clean", status="completed", data={"delivered_minor": 500})
        # Unknown, but flagged with an incident naming the payment: handled.
        db.finish_payment("k-flagged", outcome="unknown", taken=eur)
        db.update_sale("flagged", status="flagged", data={"flagged_minor": 500})
        db.open_incident(
            "payment_unknown", "check", sale_id="flagged", amount=eur,
            details={"payment_key": "k-flagged"},
        )  # fmt: skip
        problems = audit_sales(db, ["open", "unbalanced", "unknown", "clean", "flagged"])
    finally:
        db.close()
    assert len(problems) == 3, problems
    assert "sale open: not closed" in problems[0]
    assert "sale unbalanced: its money does not balance" in problems[1]
    assert "sale unknown: tpv payment attempt 1 has outcome unknown" in problems[2]


def test_the_fault_kinds_can_be_listed_and_must_exist(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["simulate-sales", "1", "--fault-kinds", "list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == len(FAULT_KINDS)
    assert any(line.startswith("tecalis.dispense.drop\t") for line in listed)
    assert cli.main(["simulate-sales", "1", "--fault-kinds", "no.such.fault"]) == 2
    assert "no.such.fault" in capsys.readouterr().err
    assert cli.main(["simulate-sales", "1", "--faults", "1.5"]) == 2
    with pytest.raises(SimulationError):
        SimulationOptions(-1)


async def test_a_journey_that_does_not_get_back_in_time_counts_as_unhandled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(simulate, "JOURNEY_STEPS", 3)  # no journey can finish in 3 steps
    report = await simulate_sales(SimulationOptions(2, seed=3))
    assert not report.ok
    assert report.unhandled >= 2
    assert sum("did not return to attract in time" in p for p in report.problems) == 2
    assert report.line().endswith(f"unhandled={report.unhandled}")
