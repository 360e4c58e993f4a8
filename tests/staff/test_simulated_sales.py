"""After many simulated sales with faults, `kioskapp admin` agrees with the journal.

"The cash box total equals the journal" means: the notes the journal holds as in the
box (stacked, not yet collected), by denomination, add up to the cash every cash
payment took minus every collection's total, and each of them is a real note of the
currency (the box is counted note by note, not as one sum). "Every flagged sale
appears as an incident" means: each sale with status flagged, or with money flagged
for staff, has an incident naming it in `kioskapp admin incidents` (the flow and
recovery open one whenever they flag).

How the figures relate (all in minor units of the kiosk's currency):

* the RECONCILIATION line simulate-sales prints is the journal's
  ``reconciliation()`` over every sale: ``taken`` = what every payment took (cash
  and card; a cashback debit is not a payment), = delivered + compensated + flagged;
* ``taken`` = the export's ``cash_taken`` + ``card_taken`` summed over its rows (its
  ``paid`` column), and the cash part is the "cash taken" of `admin cash`;
* the cash box = cash taken − collected, where collected is the sum of what the box
  held at each collection (seen with `admin cash` just before it).
"""

from __future__ import annotations

import csv
import io
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from kioskapp import simulate
from kioskapp.cli import main
from kioskapp.core.journal import JournalDB
from kioskapp.simulate import SimulationOptions, run_simulation
from kioskapp.staff.service import flagged_without_incident

EUR_NOTES = {500, 1000, 2000, 5000, 10000, 20000, 50000}
LINE = re.compile(
    r"^RECONCILIATION taken=(\d+) delivered=(\d+) compensated=(\d+) flagged=(\d+) "
    r"unhandled=(\d+)$"
)
CASH = re.compile(
    r"^journal: cash taken (\S+) EUR - collected (\S+) EUR = (\S+) EUR: (matches|DOES NOT MATCH)$",
    re.M,
)
TOTAL = re.compile(r"^total (\S+) EUR in (\d+) note\(s\)$", re.M)
#: Staff empty the cash box at this many notes in this test (400 in a plain run), so
#: that collections happen between sales.
EMPTY_AT = 25


def minor(text: str) -> int:
    return int(Decimal(text) * 100)


def admin_cash(capsys: pytest.CaptureFixture[str]) -> tuple[int, int, int, int]:
    """`kioskapp admin cash`: (box total, cash taken, collected, notes), checked to match."""
    capsys.readouterr()
    code = main(["admin", "cash"])
    out, err = capsys.readouterr()
    cash, total = CASH.search(out), TOTAL.search(out)
    assert cash is not None, out + err
    assert total is not None, out
    assert (code, cash[4]) == (0, "matches"), out
    assert minor(cash[3]) == minor(total[1])
    return minor(total[1]), minor(cash[1]), minor(cash[2]), int(total[2])


@pytest.mark.slow
def test_admin_figures_after_200_sales_with_faults_and_collections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("KIOSKAPP_"):
            monkeypatch.delenv(name)
    state = tmp_path / "state"
    journal = state / "journal.sqlite3"
    monkeypatch.setenv("KIOSKAPP_JOURNAL__PATH", str(journal))
    config = tmp_path / "kiosk.toml"  # not the host's /etc/kioskapp/kiosk.toml
    config.write_text("")
    monkeypatch.setenv("KIOSKAPP_CONFIG", str(config))
    monkeypatch.setattr(simulate, "CASH_BOX_EMPTY_AT", EMPTY_AT)

    # Each collection: `admin cash` just before (what is collected) and just after.
    collections: list[tuple[tuple[int, int, int, int], tuple[int, int, int, int]]] = []
    empty_cash_box = simulate.Simulation.empty_cash_box

    async def collect_and_check(sim: simulate.Simulation) -> None:
        before = admin_cash(capsys)
        await empty_cash_box(sim)
        collections.append((before, admin_cash(capsys)))

    monkeypatch.setattr(simulate.Simulation, "empty_cash_box", collect_and_check)
    options = SimulationOptions(journeys=200, fault_rate=0.2, seed=0, state_dir=state)
    out = io.StringIO()
    assert run_simulation(options, out=out, err=io.StringIO()) == 0, out.getvalue()
    line = LINE.match(out.getvalue().strip())
    assert line is not None, out.getvalue()
    taken, delivered, compensated, flagged, unhandled = (int(g) for g in line.groups())

    # Collections between sales: each took what the box held, and left it empty; the
    # sales after it went on filling the box from zero.
    assert len(collections) >= 2, "the run should empty the cash box more than once"
    collected = 0
    for (box, cash_taken, before_collected, _notes), after in collections:
        assert before_collected == collected
        collected += box
        assert after == (0, cash_taken, collected, 0)

    # The cash box now, and the RECONCILIATION line, against the journal.
    box, cash_taken, total_collected, notes = admin_cash(capsys)
    assert total_collected == collected  # what the collections took, seen one by one
    assert box == cash_taken - collected
    assert box > 0, "sales after the last collection took cash"
    db = JournalDB(journal, existing="read")
    try:
        rec = db.reconciliation("EUR")
        by_note = db.cash_box("EUR").by_note
        missing = flagged_without_incident(db)
        flagged_sales = [s.sale_id for s in db.flagged_sales()]
        sales = len(db.sales_between())
    finally:
        db.close()
    assert (rec.taken.minor, rec.delivered.minor, rec.compensated.minor, rec.flagged.minor) == (
        taken,
        delivered,
        compensated,
        flagged,
    )
    assert unhandled == 0
    assert set(by_note) <= EUR_NOTES
    assert sum(by_note.values()) == notes

    # The export, sale by sale, adds up to the same figures.
    assert main(["admin", "export", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(rows) == sales > 100  # one row per sale

    def column(name: str) -> int:
        return sum(minor(r[name]) for r in rows)

    assert column("cash_taken") == cash_taken
    assert column("cash_taken") + column("card_taken") == column("paid") == taken
    assert (column("delivered"), column("compensated"), column("flagged")) == (
        delivered,
        compensated,
        flagged,
    )

    # Every flagged sale has an incident of its own (none is listed as "#—").
    assert flagged_sales, "a run with faults flags some sales"
    assert missing == []
    assert main(["admin", "incidents", "--all", "--limit", "10000"]) == 0
    listed = capsys.readouterr()
    for sale_id in flagged_sales:
        assert f"sale {sale_id}" in listed.out
    assert "#—" not in listed.out
    assert "WARNING" not in listed.err
