"""After many simulated sales with faults, `kioskapp admin` agrees with the journal.

"The cash box total equals the journal" means: the notes the journal holds as in the
box (stacked, not yet collected), by denomination, add up to the cash every cash
payment took minus every collection's total, and each of them is a real note of the
currency (the box is counted note by note, not as one sum). "Every flagged sale
appears as an incident" means: each sale with status flagged, or with money flagged
for staff, has an incident naming it in `kioskapp admin incidents`.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest

from kioskapp.cli import main
from kioskapp.core.journal import JournalDB
from kioskapp.simulate import SimulationOptions, run_simulation
from kioskapp.staff.service import cash_check

EUR_NOTES = {500, 1000, 2000, 5000, 10000, 20000, 50000}


@pytest.mark.slow
def test_admin_figures_after_200_sales_with_faults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if name.startswith("KIOSKAPP_"):
            monkeypatch.delenv(name)
    state = tmp_path / "state"
    options = SimulationOptions(journeys=200, fault_rate=0.2, seed=0, state_dir=state)
    out = io.StringIO()
    assert run_simulation(options, out=out, err=io.StringIO()) == 0, out.getvalue()
    journal = state / "journal.sqlite3"
    monkeypatch.setenv("KIOSKAPP_JOURNAL__PATH", str(journal))
    capsys.readouterr()

    assert main(["admin", "cash"]) == 0
    cash_out = capsys.readouterr().out
    db = JournalDB(journal)
    try:
        check = cash_check(db, "EUR")
        flagged = [s.sale_id for s in db.flagged_sales()]
        box = db.cash_box("EUR")
        taken, collected = db.cash_ledger("EUR")
    finally:
        db.close()
    assert check.balanced
    assert box.total.minor == taken - collected
    assert box.total.minor > 0  # the run took cash
    assert set(box.by_note) <= EUR_NOTES
    assert f"total {check.box.total} in {check.box.note_count} note(s)" in cash_out
    assert ": matches" in cash_out
    for note in check.box.notes:
        assert re.search(rf"^{re.escape(str(note.value))}\s+{note.count}\s", cash_out, re.M)

    assert main(["admin", "incidents", "--all", "--limit", "10000"]) == 0
    listed = capsys.readouterr()
    assert flagged, "a run with faults flags some sales"
    for sale_id in flagged:
        assert f"sale {sale_id}" in listed.out
    assert "WARNING" not in listed.err
