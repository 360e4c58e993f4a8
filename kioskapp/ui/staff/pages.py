"""The maintenance screens, one :class:`StaffPage` each (English only for now).

Each page reads what it shows from the :class:`~kioskapp.staff.service.StaffService`
when it opens, and runs its actions through :meth:`StaffPage.run` (progress shown,
no double submit, the outcome in plain words). Button object names are
``<page>:<action>`` (``cash:collect``, ``hopper:test_dispense``...), used by the
tests and the screenshot script.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QScroller,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kioskapp.staff.service import (
    MAX_NOTE_CHARS,
    CashBoxView,
    DeviceHealthRow,
    IncidentView,
    SaleDetail,
    SaleView,
    StaffError,
)
from kioskapp.ui.staff.common import (
    NumberPad,
    Outcome,
    PagedList,
    StaffPage,
    Tasks,
    TextKeyboard,
    fill_grid,
    heading,
    tile,
    when,
)
from kioskapp.ui.texts import TEXTS
from kioskapp.ui.widgets import button, label, set_text, show

if TYPE_CHECKING:
    from kioskapp.core.clock import TimerHandle
    from kioskapp.core.money import Money
    from kioskapp.staff.service import StaffService

AppExit = Literal["restart", "quit"]


def _page_layout(*, margins: int = 24, spacing: int = 16) -> QVBoxLayout:
    lay = QVBoxLayout()
    lay.setContentsMargins(margins, margins, margins, margins)
    lay.setSpacing(spacing)
    return lay


def _grid() -> QGridLayout:
    grid = QGridLayout()
    grid.setContentsMargins(0, 0, 0, 0)
    grid.setHorizontalSpacing(24)
    grid.setVerticalSpacing(8)
    return grid


def _grid_widget(name: str) -> tuple[QWidget, QGridLayout]:
    w = QWidget()
    w.setObjectName(name)
    grid = _grid()
    w.setLayout(grid)
    return w, grid


def _mono(name: str) -> QLabel:
    """A slip or receipt shown on screen, line for line."""
    w = label("mono", center=False)
    w.setObjectName(name)
    w.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
    w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    w.hide()
    return w


def _scrolled(content: QWidget) -> QScrollArea:
    """``content`` in a scroll area that a finger drags (kinetic touch scrolling)."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(content)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    QScroller.grabGesture(area.viewport(), QScroller.ScrollerGestureType.LeftMouseButtonGesture)
    return area


def _badge(ok: bool | None) -> tuple[str, str]:
    if ok is None:
        return "unknown", "UNKNOWN"
    return ("good", "OK") if ok else ("bad", "FAILING")


def _set_role(w: QLabel, role: str) -> None:
    if w.property("role") != role:
        w.setProperty("role", role)
        w.style().unpolish(w)
        w.style().polish(w)


def _clock(at: float) -> str:
    """A time of day (the date is on the line already)."""
    return dt.datetime.fromtimestamp(at).strftime("%H:%M:%S")


def _money(m: Money | None) -> str:
    return "—" if m is None else str(m)


def _details(details: dict[str, Any]) -> str:
    if not details:
        return "—"
    lines = []
    for k in sorted(details):
        v = details[k]
        if v is None:
            continue
        text = v if isinstance(v, str) else json.dumps(v, sort_keys=True, default=str)
        lines.append(f"{k}: {text}")
    return "\n".join(lines) or "—"


# -- menu -------------------------------------------------------------------------------
class MenuPage(StaffPage):
    """The maintenance home: a tile per screen and what needs attention."""

    name = "menu"
    title = "Maintenance"

    def __init__(self, service: StaffService, tasks: Tasks, pages: Sequence[StaffPage]) -> None:
        super().__init__(service, tasks)
        self.summary = label(None, center=False)
        self.summary.setObjectName("menu:summary")
        self.tiles: dict[str, QPushButton] = {}
        grid = QGridLayout()
        grid.setSpacing(16)
        for i, page in enumerate(pages):
            b = tile(page.title, page.blurb, f"menu:{page.name}")
            grid.addWidget(b, i // 3, i % 3)
            self.tiles[page.name] = b
        lay = _page_layout()
        lay.addWidget(self.summary)
        lay.addLayout(self.status_area())
        lay.addLayout(grid)
        lay.addStretch(1)
        self.setLayout(lay)

    async def load(self) -> Outcome:
        incidents = await self.service.incidents(open_only=True)
        oos = self.service.out_of_service()
        faults = self.service.flow_faults()
        parts = [
            "Out of service (staff toggle): ON — customers will see “being serviced”."
            if oos
            else "Out of service (staff toggle): off — customers can buy after you log out.",
            f"Open incidents: {len(incidents)}." if incidents else "No open incidents.",
        ]
        if faults:
            parts.append(f"Devices stopped by the kiosk: {', '.join(sorted(faults))}.")
        set_text(self.summary, "\n".join(parts))
        return None


# -- device dashboard -------------------------------------------------------------------
class DashboardPage(StaffPage):
    name = "dashboard"
    title = "Device dashboard"
    blurb = "Health of every device and service"
    #: Seconds (kiosk clock) between two refreshes while the page shows.
    REFRESH_S = 5.0

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.table, self.grid = _grid_widget("dashboard:table")
        self.grid.setVerticalSpacing(10)
        for c, text in enumerate(("Device", "Status", "Now", "Last error", "Last OK")):
            self.grid.addWidget(heading(text), 0, c)
        self.grid.setColumnStretch(3, 1)
        self.rows: dict[str, tuple[QLabel, ...]] = {}
        self.faults_title = heading("Stopped by the kiosk until you mark them fixed")
        self.faults_box = QVBoxLayout()
        self.faults_box.setSpacing(8)
        self.fault_rows: dict[str, QWidget] = {}
        self.updated = label("muted", center=False)
        self.updated.setObjectName("dashboard:updated")
        self.help = label("muted", center=False)
        self.help.setObjectName("dashboard:help")
        self.help.setText(
            "Last error: the latest problem the device's answers, a staff action or a "
            "customer's sale met, and when (kept across restarts of the app)."
        )
        self.refresh = self.action("Refresh now", "refresh")
        self.refresh.clicked.connect(lambda: self.run(self.load, "Asking every device…"))
        lay = _page_layout()
        lay.addWidget(self.table)
        lay.addWidget(self.help)
        lay.addWidget(self.faults_title)
        lay.addLayout(self.faults_box)
        lay.addStretch(1)
        lay.addLayout(self.status_area())
        bottom = QHBoxLayout()
        bottom.addWidget(self.updated, 1)
        bottom.addWidget(self.refresh)
        lay.addLayout(bottom)
        self.setLayout(lay)
        self._timer: TimerHandle | None = None
        self._open = False
        self.refreshes = 0

    def opened(self) -> None:
        self._open = True
        super().opened()
        self._arm()

    def closed(self) -> None:
        self._open = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().closed()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.service.kiosk.clock.call_later(self.REFRESH_S, self._tick)

    def _tick(self) -> None:
        self._timer = None
        if not self._open:
            return
        if not self.working:  # a quiet refresh: no progress bar every few seconds
            self.tasks.start(self._quiet_refresh(), "dashboard-refresh")
        self._arm()

    async def _quiet_refresh(self) -> None:
        await self.load()
        self.settled.emit()

    async def load(self) -> Outcome:
        rows = await self.service.dashboard()
        faults = self.service.flow_faults()
        if not self._open and self.isHidden():
            return None
        self._draw(rows, faults)
        self.refreshes += 1
        return None

    def _draw(self, rows: list[DeviceHealthRow], faults: dict[str, str]) -> None:
        now = self.service.kiosk.clock.time()
        for r, row in enumerate(rows, start=1):
            cells = self.rows.get(row.name)
            if cells is None:
                cells = tuple(label(None, center=False) for _ in range(5))
                for c, w in enumerate(cells):
                    w.setObjectName(f"dashboard:{row.name}:{c}")
                    self.grid.addWidget(w, r, c, Qt.AlignmentFlag.AlignTop)
                cells[1].setAlignment(Qt.AlignmentFlag.AlignCenter)
                self.rows[row.name] = cells
            device, badge, summary, error, good = cells
            set_text(device, row.label)
            role, text = _badge(row.ok)
            _set_role(badge, role)
            set_text(badge, text)
            set_text(summary, row.summary)
            if row.last_error:
                # The device's words, or one of the flow's message keys.
                text = TEXTS.get(row.last_error, row.last_error)
                set_text(error, f"{text}\n{when(row.last_error_at, now)}")
            else:
                set_text(error, "none")
            set_text(good, when(row.last_ok_at, now) if row.last_ok_at else "—")
        for gone in [d for d in self.fault_rows if d not in faults]:
            self.fault_rows.pop(gone).deleteLater()
        for stopped, key in sorted(faults.items()):
            if stopped in self.fault_rows:
                continue
            fault_row = QWidget()
            row_lay = QHBoxLayout()
            row_lay.setContentsMargins(0, 0, 0, 0)
            what = label("notice", center=False)
            set_text(what, f"{stopped}: {TEXTS.get(key, key)}")
            fix = button(None, f"dashboard:clear:{stopped}")
            set_text(fix, "Mark fixed")
            fix.clicked.connect(lambda _=False, d=stopped: self._clear(d))
            row_lay.addWidget(what, 1)
            row_lay.addWidget(fix)
            fault_row.setLayout(row_lay)
            self.faults_box.addWidget(fault_row)
            self.fault_rows[stopped] = fault_row
        show(self.faults_title, bool(faults))
        set_text(self.updated, f"Updated {when(now, now)}; refreshes every {self.REFRESH_S:g} s.")

    def _clear(self, device: str) -> None:
        async def work() -> Outcome:
            result = await self.service.clear_fault(device)
            await self.load()
            return result.ok, result.message

        self.run(work, f"Marking {device} fixed…")


# -- cash box ---------------------------------------------------------------------------
class CashPage(StaffPage):
    name = "cash"
    title = "Cash box"
    blurb = "Notes since the last collection; collect"

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.box: CashBoxView | None = None
        self.table, self.grid = _grid_widget("cash:table")
        self.total = label("amount", center=False)
        self.total.setObjectName("cash:total")
        self.since = label("muted", center=False)
        self.since.setObjectName("cash:since")
        self.collect = self.action("Collect the cash…", "collect", "primary")
        self.collect.clicked.connect(self._ask_collect)
        self.slip_title = heading("Collection slip (not printed: keep a copy of it)")
        self.slip_title.hide()
        self.slip = _mono("cash:slip")
        left = QVBoxLayout()
        left.setSpacing(16)
        left.addWidget(self.table)
        left.addWidget(self.total)
        left.addWidget(self.since)
        left.addStretch(1)
        left.addLayout(self.status_area())
        left.addWidget(self.collect)
        right = QVBoxLayout()
        right.addWidget(self.slip_title)
        right.addWidget(self.slip, 1)
        right.addStretch(0)
        lay = QHBoxLayout()
        lay.setContentsMargins(24, 24, 24, 24)
        lay.setSpacing(32)
        lay.addLayout(left, 3)
        lay.addLayout(right, 2)
        self.setLayout(lay)

    def opened(self) -> None:
        show(self.slip, False)
        show(self.slip_title, False)
        super().opened()

    async def load(self) -> Outcome:
        self._draw(await self.service.cash_box())
        return None

    def _draw(self, box: CashBoxView) -> None:
        self.box = box
        rows: list[tuple[str, str, str]] = [("Note", "Count", "Value")]
        rows += [(str(n.value), str(n.count), str(n.total)) for n in box.notes]
        grid = self.grid
        while grid.count():
            item = grid.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                w = heading(text) if r == 0 else label(None, center=False)
                w.setText(text)
                w.setObjectName(f"cash:cell:{r}:{c}")
                align = Qt.AlignmentFlag.AlignRight if c else Qt.AlignmentFlag.AlignLeft
                w.setAlignment(align | Qt.AlignmentFlag.AlignVCenter)
                grid.addWidget(w, r, c)
        if not box.notes:
            empty = label("muted", center=False)
            empty.setText("The cash box is empty.")
            grid.addWidget(empty, 1, 0, 1, 3)
        set_text(self.total, f"Total: {box.total} in {box.note_count} notes")
        set_text(
            self.since,
            "Since the last collection: " + (when(box.since, self.service.kiosk.clock.time())
                                              if box.since else "never collected"),
        )  # fmt: skip

    def _ask_collect(self) -> None:
        box = self.box
        what = f"{box.total} ({box.note_count} notes)" if box is not None else "the cash"
        self.ask(
            f"Collect {what}? Take every note out of the cash box, then confirm.",
            "Yes, collect",
            lambda: self.run(self._collect, "Recording the collection and printing the slip…"),
        )

    async def _collect(self) -> Outcome:
        result = await self.service.collect()
        show(self.slip_title, not result.slip_printed)
        set_text(self.slip, "\n".join(result.slip_lines))
        show(self.slip, not result.slip_printed)
        self._draw(await self.service.cash_box())
        return result.slip_printed, result.message


# -- card hopper ------------------------------------------------------------------------
class HopperPage(StaffPage):
    name = "hopper"
    title = "Card hopper"
    blurb = "Level, refill, test dispense"

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.info, self.grid = _grid_widget("hopper:info")
        self.read_error = label("notice", center=False)
        self.read_error.setObjectName("hopper:read_error")
        self.read_error.hide()
        self.test = self.action("Test dispense (card to the reject bin)", "test_dispense")
        self.test.clicked.connect(
            lambda: self.run(self._test, "Preparing a card, reading it, discarding it…")
        )
        self.refresh = self.action("Refresh", "refresh")
        self.refresh.clicked.connect(lambda: self.run(self.load, "Asking the dispenser…"))
        self.count = QLineEdit()
        self.count.setObjectName("hopper:count")
        self.count.setReadOnly(True)
        self.count.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.count.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.count.setPlaceholderText("cards")
        self.pad = NumberPad(self.count, "refill", max_digits=5, ok_text="Record")
        self.pad.entered.connect(self._refill)
        self.action_buttons += self.pad.buttons()
        left = QVBoxLayout()
        left.setSpacing(16)
        left.addWidget(self.info)
        left.addWidget(self.read_error)
        left.addStretch(1)
        left.addLayout(self.status_area())
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh)
        buttons.addWidget(self.test)
        left.addLayout(buttons)
        right = QVBoxLayout()
        right.setSpacing(12)
        right.addWidget(heading("Record a refill: cards put in"))
        right.addWidget(self.count)
        right.addWidget(self.pad)
        right.addStretch(1)
        lay = QHBoxLayout()
        lay.setContentsMargins(24, 24, 24, 24)
        lay.setSpacing(40)
        lay.addLayout(left, 3)
        lay.addLayout(right, 2)
        self.setLayout(lay)

    async def load(self) -> Outcome:
        view = await self.service.hopper()
        now = self.service.kiosk.clock.time()
        if view.error:
            set_text(self.read_error, f"Could not read the dispenser: {view.error}")
        show(self.read_error, bool(view.error))
        if view.jammed:
            state = "JAMMED"
        elif view.empty:
            state = "EMPTY"
        elif view.low:
            state = "low"
        else:
            state = "ok"
        refill = view.last_refill
        rows = [
            ("Cards in the hopper", "not counted" if view.count is None else str(view.count)),
            ("State", "unknown" if view.error else state),
            ("Card in the reader", view.card_position),
            ("Reject bin", "—" if view.reject_bin is None else f"{view.reject_bin} cards"),
            ("Errors", ", ".join(view.errors) or "none"),
            (
                "Last refill",
                "none recorded"
                if refill is None
                else f"{refill.cards} cards, {when(refill.at, now)}, by {refill.actor}",
            ),
        ]
        fill_grid(self.grid, rows)
        return None

    async def _test(self) -> Outcome:
        result = await self.service.test_dispense()
        await self.load()
        return result.ok, result.message

    def _refill(self, text: str) -> None:
        async def work() -> Outcome:
            try:
                await self.service.record_refill(int(text))
            except StaffError as exc:
                return False, str(exc)
            self.count.clear()
            await self.load()
            return f"Refill of {int(text)} cards recorded."

        self.run(work, "Recording the refill…")


# -- printer ----------------------------------------------------------------------------
class PrinterPage(StaffPage):
    name = "printer"
    title = "Printer"
    blurb = "Status, test page"

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.info, self.grid = _grid_widget("printer:info")
        self.refresh = self.action("Refresh", "refresh")
        self.refresh.clicked.connect(lambda: self.run(self.load, "Asking the printer…"))
        self.test = self.action("Print a test page", "test_print", "primary")
        self.test.clicked.connect(lambda: self.run(self._test, "Printing a test page…"))
        lay = _page_layout()
        lay.addWidget(self.info)
        lay.addStretch(1)
        lay.addLayout(self.status_area())
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh)
        buttons.addWidget(self.test)
        lay.addLayout(buttons)
        self.setLayout(lay)

    async def load(self) -> Outcome:
        view = await self.service.printer()
        if view.error:
            fill_grid(self.grid, [("Status", f"could not be read: {view.error}")])
            return None
        online = "unknown" if view.online is None else ("yes" if view.online else "NO")
        fill_grid(
            self.grid,
            [
                ("Online", online),
                ("Paper", view.paper),
                ("Can print", "yes" if view.can_print else "NO"),
                ("Errors", ", ".join(view.errors) or "none"),
            ],
        )
        return None

    async def _test(self) -> Outcome:
        result = await self.service.test_print()
        await self.load()
        return result.ok, result.message


# -- scanner ----------------------------------------------------------------------------
class ScannerPage(StaffPage):
    name = "scanner"
    title = "Scanner"
    blurb = "Test scan"

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.hint = label(None, center=False)
        self.hint.setText("Put a document on the scanner, then press Test scan.")
        self.image = QLabel()
        self.image.setObjectName("scanner:image")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumHeight(360)
        self.image.hide()
        self.test = self.action("Test scan", "test_scan", "primary")
        self.test.clicked.connect(lambda: self.run(self._scan, "Scanning…"))
        lay = _page_layout()
        lay.addWidget(self.hint)
        lay.addWidget(self.image, 1)
        lay.addStretch(0)
        lay.addLayout(self.status_area())
        lay.addWidget(self.test)
        self.setLayout(lay)

    def opened(self) -> None:
        self.image.clear()
        show(self.image, False)
        super().opened()

    async def _scan(self) -> Outcome:
        result = await self.service.test_scan()
        pixmap = QPixmap()
        if result.ok and result.image and pixmap.loadFromData(result.image):
            box = self.image.contentsRect().size()
            w, h = max(box.width(), 640), max(box.height(), 360)
            self.image.setPixmap(
                pixmap.scaled(
                    w, h, Qt.AspectRatioMode.KeepAspectRatio,
                    Qt.TransformationMode.SmoothTransformation,
                )
            )  # fmt: skip
            show(self.image, True)
            return True, result.message
        show(self.image, False)
        if result.ok:
            return False, "The scanner answered, but its image could not be shown."
        return False, result.message


# -- card terminal ----------------------------------------------------------------------
class TerminalPage(StaffPage):
    name = "terminal"
    title = "Card terminal"
    blurb = "Ping, end-of-day reconciliation"

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.provider = label(None, center=False)
        self.provider.setObjectName("terminal:provider")
        self.eod_note = label("muted", center=False)
        self.eod_note.setObjectName("terminal:eod_note")
        self.ping = self.action("Ping the terminal", "ping")
        self.ping.clicked.connect(lambda: self.run(self._ping, "Asking the terminal…"))
        self.eod = self.action("End-of-day reconciliation…", "end_of_day", "primary")
        self.eod.clicked.connect(self._ask_eod)
        self.receipt_title = heading("Reconciliation receipt")
        self.receipt_title.hide()
        self.receipt = _mono("terminal:receipt")
        left = QVBoxLayout()
        left.setSpacing(16)
        left.addWidget(self.provider)
        left.addWidget(self.eod_note)
        left.addStretch(1)
        left.addLayout(self.status_area())
        left.addWidget(self.ping)
        left.addWidget(self.eod)
        right = QVBoxLayout()
        right.addWidget(self.receipt_title)
        right.addWidget(_scrolled(self.receipt), 1)
        lay = QHBoxLayout()
        lay.setContentsMargins(24, 24, 24, 24)
        lay.setSpacing(32)
        lay.addLayout(left, 1)
        lay.addLayout(right, 1)
        self.setLayout(lay)

    def action_enabled(self, b: QPushButton) -> bool:
        return b is not self.eod or self.service.end_of_day_supported()

    def opened(self) -> None:
        provider = self.service.card_provider
        set_text(self.provider, f"Card terminal: {provider}")
        if self.service.end_of_day_supported():
            set_text(self.eod_note, "End-of-day closes the terminal's batch; its receipt prints.")
        else:
            set_text(self.eod_note, f"End-of-day reconciliation is not supported by {provider}.")
        self.refresh_actions()
        show(self.receipt, False)
        show(self.receipt_title, False)
        super().opened()

    async def _ping(self) -> Outcome:
        result = await self.service.terminal_ping()
        return result.ok, result.message

    def _ask_eod(self) -> None:
        self.ask(
            "Run the end-of-day reconciliation now? The terminal closes its batch.",
            "Yes, reconcile",
            lambda: self.run(self._eod, "Reconciling with the terminal…"),
        )

    async def _eod(self) -> Outcome:
        result = await self.service.end_of_day()
        lines = result.receipt_lines or result.slip_lines
        set_text(self.receipt, "\n".join(lines))
        show(self.receipt, bool(lines))
        show(self.receipt_title, bool(lines))
        return result.ok, result.message


# -- incidents --------------------------------------------------------------------------
#: Notes staff can pick instead of typing.
RESOLUTION_NOTES = (
    "Refund given to the customer in cash.",
    "Note returned to the customer.",
    "Checked with the provider: nothing to do.",
)


def _number(i: IncidentView) -> str:
    """``#12``; ``#—`` for a flagged sale that has no incident recorded."""
    return "#—" if i.id is None else f"#{i.id}"


def incident_row(i: IncidentView, now: float) -> str:
    where = f" · sale {i.sale_id[:8]}" if i.sale_id else ""
    return (
        f"{_number(i)} · {i.kind} · {_money(i.amount)} · {i.status}{where}\n"
        f"{when(i.created_at, now)} · {i.summary}"
    )


class IncidentsPage(StaffPage):
    """The list (open or all), one incident with everything recorded about it, and
    resolving it with a note (typed on the on-screen keyboard or picked)."""

    name = "incidents"
    title = "Incidents"
    blurb = "Vouchers, unknown outcomes, stuck notes"
    LIST, DETAIL, RESOLVE = range(3)

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.open_only = True
        self.current: IncidentView | None = None
        self.inner = QStackedWidget()
        # list
        self.show_open = self.action("Open", "show_open", "toggle")
        self.show_all = self.action("All", "show_all", "toggle")
        for b, only in ((self.show_open, True), (self.show_all, False)):
            b.setCheckable(True)
            b.clicked.connect(lambda _=False, o=only: self._filter(o))
        self.list = PagedList("incidents", per_page=5)
        self.list.chosen.connect(self._open)
        list_page = QWidget()
        list_lay = QVBoxLayout()
        list_lay.setContentsMargins(0, 0, 0, 0)
        filters = QHBoxLayout()
        filters.addWidget(self.show_open)
        filters.addWidget(self.show_all)
        filters.addStretch(1)
        list_lay.addLayout(filters)
        list_lay.addWidget(self.list, 1)
        list_page.setLayout(list_lay)
        # detail
        self.detail, self.detail_grid = _grid_widget("incidents:detail")
        self.back = self.action("◀ Back to the list", "back")
        self.back.clicked.connect(self.to_list)
        self.to_resolve = self.action("Resolve…", "to_resolve", "primary")
        self.to_resolve.clicked.connect(self._start_resolving)
        detail_page = QWidget()
        detail_lay = QVBoxLayout()
        detail_lay.setContentsMargins(0, 0, 0, 0)
        detail_lay.addWidget(_scrolled(self.detail), 1)
        detail_buttons = QHBoxLayout()
        detail_buttons.setSpacing(16)
        detail_buttons.addWidget(self.back)
        detail_buttons.addWidget(self.to_resolve)
        detail_lay.addLayout(detail_buttons)
        detail_page.setLayout(detail_lay)
        # resolve
        self.resolving = heading("", "incidents:resolving")
        self.note = QLineEdit()
        self.note.setObjectName("incidents:note")
        self.note.setMaxLength(MAX_NOTE_CHARS)
        self.note.setPlaceholderText("What was done")
        self.keyboard = TextKeyboard(self.note, "kb")
        self.presets = [self.action(text, f"preset{i}") for i, text in enumerate(RESOLUTION_NOTES)]
        for b, text in zip(self.presets, RESOLUTION_NOTES, strict=True):
            b.setProperty("role", "row")
            b.clicked.connect(lambda _=False, t=text: self.note.setText(t))
        self.resolve = self.action("Resolve with this note", "resolve", "primary")
        self.resolve.clicked.connect(self._resolve)
        self.back_to_detail = self.action("◀ Back", "back_to_detail")
        self.back_to_detail.clicked.connect(lambda: self.inner.setCurrentIndex(self.DETAIL))
        presets = QVBoxLayout()
        presets.setSpacing(8)
        pick = label("muted", center=False)
        pick.setText("Or pick one:")
        presets.addWidget(pick)
        for b in self.presets:
            presets.addWidget(b)
        presets.addStretch(1)
        typing = QHBoxLayout()
        typing.setSpacing(24)
        typing.addWidget(self.keyboard, 3, Qt.AlignmentFlag.AlignTop)
        typing.addLayout(presets, 2)
        resolve_buttons = QHBoxLayout()
        resolve_buttons.setSpacing(16)
        resolve_buttons.addWidget(self.back_to_detail)
        resolve_buttons.addWidget(self.resolve)
        resolve_page = QWidget()
        resolve_lay = QVBoxLayout()
        resolve_lay.setContentsMargins(0, 0, 0, 0)
        resolve_lay.setSpacing(12)
        resolve_lay.addWidget(self.resolving)
        resolve_lay.addWidget(self.note)
        resolve_lay.addLayout(typing, 1)
        resolve_lay.addLayout(resolve_buttons)
        resolve_page.setLayout(resolve_lay)
        for w in (list_page, detail_page, resolve_page):
            self.inner.addWidget(w)
        lay = _page_layout(margins=16, spacing=8)
        lay.addLayout(self.status_area())
        lay.addWidget(self.inner, 1)
        self.setLayout(lay)

    def action_enabled(self, b: QPushButton) -> bool:
        if b is self.to_resolve:
            return self.current is not None and self.current.status == "open"
        return True

    def opened(self) -> None:
        self.to_list()
        super().opened()

    def to_list(self) -> None:
        self.current = None
        self.inner.setCurrentIndex(self.LIST)

    def escape(self) -> bool:
        if super().escape():
            return True
        if self.inner.currentIndex() == self.RESOLVE:
            self.inner.setCurrentIndex(self.DETAIL)
            return True
        if self.inner.currentIndex() == self.DETAIL:
            self.to_list()
            return True
        return False

    def _filter(self, open_only: bool) -> None:
        self.open_only = open_only
        self.run(self.load, "Reading the incidents…", report=False)

    async def load(self) -> Outcome:
        items = await self.service.incidents(open_only=self.open_only)
        now = self.service.kiosk.clock.time()
        self.show_open.setChecked(self.open_only)
        self.show_all.setChecked(not self.open_only)
        self.list.set_items(
            [(i, incident_row(i, now)) for i in items],
            "No open incidents." if self.open_only else "No incidents recorded.",
        )
        return None

    def _open(self, item: object) -> None:
        assert isinstance(item, IncidentView)
        self.clear_message()
        self._show(item)
        self.inner.setCurrentIndex(self.DETAIL)

    def _show(self, i: IncidentView) -> None:
        self.current = i
        now = self.service.kiosk.clock.time()
        number = "none recorded (a flagged sale)" if i.id is None else f"#{i.id}"
        rows = [
            ("Incident", f"{number} ({i.kind})"),
            ("Status", i.status),
            ("Opened", when(i.created_at, now)),
            ("What happened", i.summary),
            ("Sale", i.sale_id or "—"),
            ("Amount", _money(i.amount)),
            ("Payment", i.payment_method or "—"),
            ("Voucher code", i.voucher_code or "—"),
            ("Auth code", i.auth_code or "—"),
            ("Card", f"•••• {i.card_last4}" if i.card_last4 else "—"),
            ("Details", _details(i.details)),
        ]
        if i.status == "resolved":
            rows += [
                ("Resolved", when(i.resolved_at, now)),
                ("Resolved by", i.resolved_by or "—"),
                ("Note", i.resolution_note or "—"),
            ]
        fill_grid(self.detail_grid, rows)
        show(self.to_resolve, i.status == "open")
        self.refresh_actions()

    def _start_resolving(self) -> None:
        i = self.current
        if i is None:
            return
        what = f"incident #{i.id}" if i.id is not None else f"flagged sale {i.sale_id}"
        set_text(self.resolving, f"Resolve {what} ({i.kind}, {_money(i.amount)}):"
                                 " say what was done")  # fmt: skip
        self.note.clear()
        self.clear_message()
        self.inner.setCurrentIndex(self.RESOLVE)

    def _resolve(self) -> None:
        incident = self.current
        if incident is None:
            return
        note = self.note.text()

        async def work() -> Outcome:
            try:
                if incident.id is not None:
                    resolved = await self.service.resolve(incident.id, note)
                else:  # a flagged sale without an incident: recorded as one, resolved
                    assert incident.sale_id is not None
                    resolved = await self.service.resolve_flagged_sale(incident.sale_id, note)
            except StaffError as exc:
                return False, str(exc)
            self._show(resolved)
            self.note.clear()
            self.inner.setCurrentIndex(self.DETAIL)
            await self.load()
            return f"Incident #{resolved.id} resolved."

        self.run(work, "Resolving…")


# -- recent sales -----------------------------------------------------------------------
HEX_KEYS = "0123456789abcdef-"


def sale_row(s: SaleView, now: float) -> str:
    product = s.product_name or s.product_sku or "no product"
    methods = "+".join(s.methods) or "no payment"
    cashback = f" + cashback {s.cashback}" if s.cashback.minor else ""
    return (
        f"{s.sale_id[:8]} · {s.status} · {product} · {s.price}\n"
        f"{when(s.created_at, now)} · paid {s.paid}{cashback} ({methods})"
    )


class SalesPage(StaffPage):
    name = "sales"
    title = "Recent sales"
    blurb = "Search by sale id; details"

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.inner = QStackedWidget()
        # list: search keypad on the left, the sales on the right
        self.search = QLineEdit()
        self.search.setObjectName("sales:search")
        self.search.setMaxLength(36)
        self.search.setPlaceholderText("sale id")
        self.search.returnPressed.connect(self._search)
        hexpad = QGridLayout()
        hexpad.setSpacing(6)
        for i, ch in enumerate(HEX_KEYS):
            b = button("kbkey", f"sales:key:{ch}")
            b.setText(ch)
            b.clicked.connect(lambda _=False, c=ch: self._type(c))
            hexpad.addWidget(b, i // 4, i % 4)
        delete = button("kbkey", "sales:key:delete")
        set_text(delete, "⌫")
        delete.clicked.connect(lambda: self.search.setText(self.search.text()[:-1]))
        hexpad.addWidget(delete, 4, 1)
        clear = button("kbkey", "sales:key:clear")
        set_text(clear, "Clear")
        clear.clicked.connect(self._clear)
        hexpad.addWidget(clear, 4, 2, 1, 2)
        self.go = self.action("Search", "search", "primary")
        self.go.clicked.connect(self._search)
        self.list = PagedList("sales", per_page=6)
        self.list.chosen.connect(self._open)
        list_page = QWidget()
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.addWidget(self.search)
        left.addLayout(hexpad)
        left.addWidget(self.go)
        left.addStretch(1)
        list_lay = QHBoxLayout()
        list_lay.setContentsMargins(0, 0, 0, 0)
        list_lay.setSpacing(24)
        list_lay.addLayout(left, 2)
        list_lay.addWidget(self.list, 5)
        list_page.setLayout(list_lay)
        # detail
        self.detail = QWidget()
        self.detail.setObjectName("sales:detail")
        self.detail_lay = QVBoxLayout()
        self.detail_lay.setContentsMargins(0, 0, 16, 0)
        self.detail_lay.setSpacing(12)
        self.detail.setLayout(self.detail_lay)
        self.back = self.action("◀ Back to the list", "back")
        self.back.clicked.connect(self.to_list)
        detail_page = QWidget()
        detail_lay = QVBoxLayout()
        detail_lay.setContentsMargins(0, 0, 0, 0)
        detail_lay.addWidget(_scrolled(self.detail), 1)
        detail_lay.addWidget(self.back)
        detail_page.setLayout(detail_lay)
        self.inner.addWidget(list_page)
        self.inner.addWidget(detail_page)
        lay = _page_layout(margins=16, spacing=8)
        lay.addLayout(self.status_area())
        lay.addWidget(self.inner, 1)
        self.setLayout(lay)
        self.shown: SaleDetail | None = None

    def opened(self) -> None:
        self.to_list()
        super().opened()

    def to_list(self) -> None:
        self.shown = None
        self.inner.setCurrentIndex(0)

    def escape(self) -> bool:
        if super().escape():
            return True
        if self.inner.currentIndex() == 1:
            self.to_list()
            return True
        return False

    def _type(self, ch: str) -> None:
        if len(self.search.text()) < self.search.maxLength():
            self.search.setText(self.search.text() + ch)

    def _clear(self) -> None:
        self.search.clear()
        self._search()

    def _search(self) -> None:
        self.run(self.load, "Searching…", report=False)

    async def load(self) -> Outcome:
        search = self.search.text().strip() or None
        items = await self.service.sales(search=search)
        now = self.service.kiosk.clock.time()
        empty = f"No sale id starts with “{search}”." if search else "No sales yet."
        self.list.set_items([(s.sale_id, sale_row(s, now)) for s in items], empty)
        if search and items:
            return f"{len(items)} sale(s) found."
        return None

    def _open(self, sale_id: object) -> None:
        assert isinstance(sale_id, str)

        async def work() -> Outcome:
            try:
                detail = await self.service.sale_detail(sale_id)
            except StaffError as exc:
                return False, str(exc)
            self._draw(detail)
            self.inner.setCurrentIndex(1)
            return None

        self.run(work, "Reading the sale…", report=False)

    def _draw(self, d: SaleDetail) -> None:
        self.shown = d
        now = self.service.kiosk.clock.time()
        lay = self.detail_lay
        while lay.count():
            item = lay.takeAt(0)
            w = item.widget() if item is not None else None
            if w is not None:
                w.deleteLater()
        s = d.sale

        def section(title: str, rows: list[tuple[str, str]], name: str) -> None:
            lay.addWidget(heading(title))
            grid_w, grid = _grid_widget(name)
            fill_grid(grid, rows)
            lay.addWidget(grid_w)

        section(
            f"Sale {s.sale_id}",
            [
                ("Status", f"{s.status} (last step: {s.state})"),
                ("Product", f"{s.product_name or '—'} ({s.product_sku or '—'})"),
                ("Price", str(s.price)),
                ("Paid", str(s.paid)),
                ("Cashback debited", str(s.cashback) if s.cashback.minor else "—"),
                ("Started", when(s.created_at, now)),
                ("Last change", when(s.updated_at, now)),
            ],
            "sales:detail:sale",
        )
        for n, p in enumerate(d.payments, start=1):
            card = f"{p.card_brand or 'card'} •••• {p.card_last4}" if p.card_last4 else "—"
            rows = [
                ("Amount / taken", f"{p.amount} / {p.taken}"),
                ("Outcome", p.outcome or "pending"),
                ("Reference", p.reference or "—"),
                ("Auth code", p.auth_code or "—"),
                ("Card", card),
            ]
            if p.detail:
                rows.append(("Detail", p.detail))
            if p.compensation:
                rows.append(("Given back", f"{p.compensated} by {p.compensation}"))
            section(f"Payment {n}: {p.method} (attempt {p.attempt})", rows, f"sales:payment{n}")
        if d.effects:
            rows = []
            for e in d.effects:
                took = "" if e.outcome_at is None else f" → {_clock(e.outcome_at)}"
                rows.append((e.kind, f"{e.status}: {when(e.intent_at, now)}{took}"))
            section("Steps (intent → outcome)", rows, "sales:effects")
        for i in d.incidents:
            section(
                f"Incident #{i.id} ({i.status})",
                [("What happened", i.summary), ("Amount", _money(i.amount))],
                f"sales:incident{i.id}",
            )
        lay.addStretch(1)


# -- out of service ---------------------------------------------------------------------
class ServicePage(StaffPage):
    name = "service"
    title = "Out of service"
    blurb = "Take the kiosk out of service, or back"

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.state = label("title", center=False)
        self.state.setObjectName("service:state")
        self.explain = label(None, center=False)
        self.toggle = self.action("", "toggle", "primary")
        self.toggle.clicked.connect(self._toggle)
        lay = _page_layout()
        lay.addWidget(self.state)
        lay.addWidget(self.explain)
        lay.addStretch(1)
        lay.addLayout(self.status_area())
        lay.addWidget(self.toggle)
        self.setLayout(lay)

    async def load(self) -> Outcome:
        self._draw(self.service.out_of_service())
        return None

    def _draw(self, on: bool) -> None:
        if on:
            set_text(self.state, "The kiosk is OUT OF SERVICE.")
            set_text(
                self.explain,
                "After you log out customers see “The kiosk is being serviced” and cannot buy.",
            )
            set_text(self.toggle, "Put the kiosk back in service")
        else:
            set_text(self.state, "The kiosk is in service.")
            set_text(
                self.explain,
                "After you log out customers can buy again. (While you are in maintenance "
                "mode no sale can start.)",
            )
            set_text(self.toggle, "Take the kiosk out of service")

    def _toggle(self) -> None:
        on = not self.service.out_of_service()

        async def work() -> Outcome:
            await self.service.set_out_of_service(on)
            self._draw(self.service.out_of_service())
            return (
                "Out of service: customers will not be able to buy after you log out."
                if on
                else "Back in service: customers can buy after you log out."
            )

        self.run(work, "Saving…")


# -- device restarts --------------------------------------------------------------------
DEVICE_NAMES = {"printer": "receipt printer", "dispenser": "card dispenser", "scanner": "scanner"}


class RestartsPage(StaffPage):
    name = "restarts"
    title = "Device restarts"
    blurb = "Power-cycle a kiosk device"

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.explain = label(None, center=False)
        self.explain.setText(
            "A restart power-cycles the device: it is unavailable for up to a minute."
        )
        lay = _page_layout()
        lay.addWidget(self.explain)
        self.buttons: dict[str, QPushButton] = {}
        for device in service.restartable_devices():
            b = self.action(f"Restart the {DEVICE_NAMES.get(device, device)}…", device)
            b.clicked.connect(lambda _=False, d=device: self._ask(d))
            self.buttons[device] = b
            lay.addWidget(b)
        lay.addStretch(1)
        lay.addLayout(self.status_area())
        self.setLayout(lay)

    def _ask(self, device: str) -> None:
        what = DEVICE_NAMES.get(device, device)

        async def work() -> Outcome:
            try:
                result = await self.service.restart_device(device)
            except StaffError as exc:
                return False, str(exc)
            return result.ok, result.message

        self.ask(
            f"Restart the {what}? It is off for up to a minute.",
            "Yes, restart it",
            lambda: self.run(work, f"Restarting the {what}…"),
        )


# -- app --------------------------------------------------------------------------------
class AppPage(StaffPage):
    name = "app"
    title = "Restart or quit"
    blurb = "Restart the kiosk app, or stop it"

    def __init__(
        self,
        service: StaffService,
        tasks: Tasks,
        exit_app: Callable[[AppExit], Awaitable[None]],
    ) -> None:
        super().__init__(service, tasks)
        self.exit_app = exit_app
        explain = label(None, center=False)
        explain.setText(
            "Restart: the app stops in order (sales, devices, journal) and starts again.\n"
            "Quit: the app stops and stays stopped until someone starts it again "
            "(systemctl start kiosk)."
        )
        self.restart = self.action("Restart the app…", "restart", "primary")
        self.restart.clicked.connect(
            lambda: self.ask(
                "Restart the kiosk app now?", "Yes, restart", lambda: self._go("restart")
            )
        )
        self.quit = self.action("Quit the app…", "quit", "danger")
        self.quit.clicked.connect(
            lambda: self.ask(
                "Quit the kiosk app? The kiosk stays off until someone starts it again.",
                "Yes, quit",
                lambda: self._go("quit"),
            )
        )
        lay = _page_layout()
        lay.addWidget(explain)
        lay.addStretch(1)
        lay.addLayout(self.status_area())
        lay.addWidget(self.restart)
        lay.addWidget(self.quit)
        self.setLayout(lay)

    def _go(self, kind: AppExit) -> None:
        async def work() -> Outcome:
            await self.exit_app(kind)
            return "Restarting…" if kind == "restart" else "Stopping…"

        self.run(work, "Restarting the app…" if kind == "restart" else "Stopping the app…")


# -- about ------------------------------------------------------------------------------
class AboutPage(StaffPage):
    name = "about"
    title = "About"
    blurb = "Version, kiosk id, config file"

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__(service, tasks)
        self.info, self.grid = _grid_widget("about:info")
        lay = _page_layout()
        lay.addWidget(self.info)
        lay.addStretch(1)
        lay.addLayout(self.status_area())
        self.setLayout(lay)

    async def load(self) -> Outcome:
        a = self.service.about()
        fill_grid(
            self.grid,
            [
                ("Version", a.version),
                ("Kiosk id", a.kiosk_id),
                ("Config file", str(a.config_path) if a.config_path else "none (defaults)"),
                ("Journal", str(a.journal_path)),
                ("Journal schema", str(a.schema_version)),
                ("Card terminal", a.card_provider),
                ("Currency", a.currency),
            ],
        )
        return None


__all__ = [
    "AboutPage",
    "AppPage",
    "CashPage",
    "DashboardPage",
    "HopperPage",
    "IncidentsPage",
    "MenuPage",
    "PrinterPage",
    "RestartsPage",
    "SalesPage",
    "ScannerPage",
    "ServicePage",
    "TerminalPage",
]
