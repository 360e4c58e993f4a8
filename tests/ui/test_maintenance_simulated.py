"""After a simulated run of many sales with faults, the maintenance screens show the
journal's own figures: the cash box by denomination equals `kioskapp admin cash`
(notes in the box = cash taken by every cash payment − every collection), and the
menu counts every open incident.

The shown total is also checked sale by sale: the export's ``cash_taken`` over every
sale, less what was collected, and the export's ``paid`` adds up to the ``taken`` of
the run's RECONCILIATION."""

from __future__ import annotations

import asyncio
import csv
import io
from decimal import Decimal
from pathlib import Path

from PySide6.QtWidgets import QLabel

from kioskapp.core.journal import Journal
from kioskapp.core.money import Money
from kioskapp.simulate import SimulationOptions, simulate_sales
from kioskapp.staff.admin import write_export
from kioskapp.staff.service import cash_check, incident_views
from tests.flow.conftest import Kiosk
from tests.ui.staff_helpers import StaffSession

JOURNEYS = 30


async def test_the_cash_screen_agrees_with_the_journal_after_many_sales(
    staff_ui: StaffSession, kiosk: Kiosk, tmp_path: Path
) -> None:
    state_dir = tmp_path / "simulated"
    options = SimulationOptions(journeys=JOURNEYS, fault_rate=0.3, seed=11, state_dir=state_dir)
    # On its own asyncio loop: the simulation's "kiosk at rest" check is made for one.
    report = await asyncio.to_thread(asyncio.run, simulate_sales(options))
    assert report.balanced, report.summary()
    assert report.unhandled == 0, report.summary()
    journal = Journal(state_dir / "journal.sqlite3", clock=kiosk.clock)
    try:
        check = await journal.call(cash_check, journal.db, "EUR")
        incidents = await journal.call(incident_views, journal.db, open_only=True)
        export = io.StringIO(newline="")
        await journal.call(write_export, journal.db, export, None, None)
        rows = list(csv.DictReader(io.StringIO(export.getvalue())))

        def column(name: str) -> Money:
            return Money(sum(int(Decimal(r[name]) * 100) for r in rows), "EUR")

        assert check.balanced
        assert check.box.note_count > 0, "the run should leave notes in the box"
        kiosk.journal = journal  # the kiosk on the simulated run's journal
        async with staff_ui() as (_u, staff):
            await staff.login()
            summary = staff.text("menu:summary")
            if incidents:
                assert f"Open incidents: {len(incidents)}." in summary
            else:
                assert "No open incidents." in summary
            await staff.open("cash")
            shown = []
            for r in range(1, len(check.box.notes) + 2):
                cells = [staff.mode.view.findChild(QLabel, f"cash:cell:{r}:{c}") for c in range(3)]
                if any(w is None for w in cells):
                    break
                shown.append(tuple(w.text() for w in cells if w is not None))
            assert shown == [
                (str(line.value), str(line.count), str(line.total)) for line in check.box.notes
            ]
            assert staff.text("cash:total") == (
                f"Total: {check.box.total} in {check.box.note_count} notes"
            )
            assert staff.text("cash:total").startswith(
                f"Total: {column('cash_taken') - check.collected} in "
            )
        assert column("paid") == report.taken
    finally:
        await journal.aclose()
