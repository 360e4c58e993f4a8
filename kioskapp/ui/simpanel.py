"""The simulator control panel of ``kioskapp --simulate``.

A small desktop window beside the kiosk that plays the customer and the hardware:
it inserts notes, answers the card terminal, breaks the dispenser, the printer and
the scanner, takes services down, loses callbacks and moves simulated time, so that
every journey and every fault can be shown on a laptop. It talks only to the
simulators' control API (``/_sim/``, docs/simulator.md) through
:class:`~kioskapp.simulator.control.SimControl`, as a test does. (One exception:
"Clear" on the dispenser restarts it through the Tecalis integrator API, as staff
would; the control API cannot clear a jam that happened.)

Every button starts one asyncio task on the running (qasync) loop and returns at
once: the window never blocks. Actions run one after the other, in click order.
Whatever an action ends with (done, refused by the simulator, simulator unreachable,
a bug) is written in the status line at the bottom, never raised into Qt. After
each action, and every ``refresh_interval_s`` while the window is shown, the panel
reads the simulators' state and shows it beside the buttons.

Each button has an objectName ``sim:<section>:<what>`` (``sim:note:20``,
``sim:tpv:approve``, ``sim:dispenser:empty``, ``sim:service:cardapi:down``...) by
which tests find it; the status line is ``sim:status``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any, Final, NamedTuple, Protocol

import httpx
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLayout,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kioskapp.simulator.control import SimControl, SimControlError
from kioskapp.simulator.tecalis import TecalisConfig

log = logging.getLogger(__name__)

JsonObject = dict[str, Any]
#: What a button does: a coroutine that does it and says how it went (for the status line).
Action = Callable[[], Awaitable[str]]

WINDOW_TITLE: Final = "kioskapp simulators"
PANEL_SIZE: Final = (480, 900)

#: Notes shown until the Tecalis simulator's accepted denominations have been read.
DEFAULT_NOTES: Final[dict[str, tuple[int, ...]]] = {
    "EUR": (5, 10, 20, 50, 100, 200),
    "USD": (1, 2, 5, 10, 20, 50, 100),
    "GBP": (5, 10, 20, 50),
    "JPY": (1000, 2000, 5000, 10000),
    "CHF": (10, 20, 50, 100, 200, 1000),
}
#: The HTTP services the panel can take down (``/_sim/faults`` service names).
SERVICES: Final = ("tecalis", "cardapi", "kinetic", "komoju", "payjunction")
#: Card terminal providers (``[payments] card_provider``), in the panel's default order.
PROVIDERS: Final = ("tpv", "kinetic", "komoju", "payjunction")
PROVIDER_TITLES: Final = {
    "tpv": "PIN pad",
    "kinetic": "Kinetic",
    "komoju": "KOMOJU",
    "payjunction": "PayJunction",
}
#: Simulated seconds the clock buttons move time forward.
CLOCK_STEPS: Final = (10, 90, 300)
#: A full hopper (the Tecalis simulator's load).
HOPPER_FULL: Final = TecalisConfig().hopper_count
#: A service "down": every request to it has its connection dropped.
DOWN_PATH: Final = "/*"
DOWN_FAULT: Final = "drop_connection"
#: The periodic refresh reads the cashback cards' balances once in this many times.
CARDS_EVERY: Final = 5
#: Button grid widths.
COLUMNS: Final = 4

#: What a demo user should know when the simulator refuses an action (by error code).
HINTS: Final = {
    "bill_reader_not_open": "the kiosk is not taking cash right now",
    "bill_reader_offline": "the bill reader is offline",
    "note_in_escrow": "the kiosk has not taken the last note yet",
    "bill_reader_jammed": "clear the jam first",
    "not_jammed": "the bill reader is not jammed",
    "cash_box_full": "empty the cash box first",
    "tpv_wrong_state": "the PIN pad is not waiting for this",
    "no_transaction": "no card payment is running on the terminal",
    "wrong_stage": "the terminal is not waiting for this",
    "terminal_wrong_phase": "the terminal is not waiting for this",
    "terminal_wrong_state": "the terminal is not waiting for this",
}


class CardReader(Protocol):
    """A customer card reader that can be made to scan a code
    (:class:`~kioskapp.simulator.serial_reader.VirtualSerialReader`)."""

    def scan(self, code: str) -> None: ...


class NotDone(Exception):
    """An action that could not be done, for a reason the status line states."""


class Button(NamedTuple):
    name: str  # objectName: sim:<section>:<what>
    text: str  # on the button
    title: str  # in the status line
    action: Action
    tip: str = ""


def amount_text(value: object) -> str:
    """``20``, ``0.50``, ``12.50``: a JSON amount as a person writes it (a note's value,
    a payment); whole amounts without decimals."""
    amount = Decimal(str(value))
    if amount == amount.to_integral_value():
        return str(int(amount))
    if amount.as_tuple().exponent in (-1, -2):
        return f"{amount:.2f}"
    return str(amount)


def describe_error(exc: BaseException, base_url: str) -> str:
    """The status line's text for a failed action: what to know, then the details."""
    if isinstance(exc, SimControlError):
        code = f"HTTP {exc.status}" + (f" {exc.error}" if exc.error else "")
        hint = HINTS.get(exc.error or "")
        if hint:
            return f"{hint} ({exc.message}; {code})"
        return f"{exc.message} ({code})"
    if isinstance(exc, httpx.HTTPError):
        return f"simulators unreachable at {base_url} ({str(exc) or type(exc).__name__})"
    if isinstance(exc, NotDone):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def packaged_passes() -> list[JsonObject]:
    """The CardAPI simulator's passes as it starts (``simulator/data/passes.json``)."""
    text = resources.files("kioskapp.simulator").joinpath("data/passes.json").read_text("utf-8")
    passes = json.loads(text).get("passes", [])
    return [p for p in passes if isinstance(p, dict)]


def _expired(p: JsonObject) -> bool:
    if "expired" in p:  # the simulator's own verdict, on its clock
        return bool(p["expired"])
    raw = p.get("expiration_date")
    if not isinstance(raw, str):
        return False
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment <= datetime.now(UTC)


def _balance(p: JsonObject) -> str:
    """A pass's balance as the CardAPI gives it (``6.54 EUR``, ``25.00 EUR``)."""
    return f"{Decimal(str(p.get('balance', 0)))} {p.get('currency') or ''}".strip()


def pass_rows(passes: Iterable[JsonObject]) -> list[tuple[str, str, str, str]]:
    """The demo cards a user can type: (code, NFC number, balance, what it shows).

    The dispenser's new cards (``P-NEW-*``) are folded into one row."""
    rows: list[tuple[str, str, str, str]] = []
    new_cards: list[str] = []
    new_balance = ""
    for p in passes:
        code = str(p.get("barcode") or p.get("number") or "")
        if not code:
            continue
        if str(p.get("id", "")).startswith("P-NEW-"):
            new_cards.append(code)
            new_balance = _balance(p)
            continue
        balance = Decimal(str(p.get("balance", 0)))
        notes = []
        if p.get("type") != "CASHBACK":
            notes.append(f"{str(p.get('type', '?')).lower()} card")
        if _expired(p):
            notes.append("expired")
        if balance == 0:
            notes.append("empty")
        rows.append((code, str(p.get("nfc_number") or ""), _balance(p), ", ".join(notes)))
    if new_cards:
        span = new_cards[0] if len(new_cards) == 1 else f"{new_cards[0]}…{new_cards[-1][-2:]}"
        rows.append((span, "", new_balance, "new cards"))
    return rows


class SimulatorPanel(QWidget):
    """The control panel window; see the module docstring.

    ``currency`` labels the notes; ``card_provider`` puts that provider's card
    terminal first; ``card_reader`` (optional) lets the panel scan typed card codes;
    ``refresh_interval_s`` (None: only after actions) paces the state display while
    the window is shown. Close it with ``await panel.aclose()``.
    """

    #: After every reading of the simulators' state (whether it worked or not).
    refreshed = Signal()

    def __init__(
        self,
        base_url: str,
        *,
        currency: str = "EUR",
        card_provider: str = "tpv",
        card_reader: CardReader | None = None,
        refresh_interval_s: float | None = 1.0,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.base_url = base_url.rstrip("/")
        self.currency = currency
        self.card_provider = card_provider
        self.card_reader = card_reader
        self._http = httpx.AsyncClient(timeout=10.0)
        self.control = SimControl(self.base_url, http=self._http)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None
        self._closed = False
        self._ticks = 0
        self._notes: tuple[Decimal, ...] = ()
        self._passes_shown: list[tuple[str, str, str, str]] | None = None
        #: The task of the last action started (tests await it).
        self.last_action: asyncio.Task[bool] | None = None

        self.setWindowTitle(WINDOW_TITLE)
        self.setObjectName("SimulatorPanel")
        self._build()
        default = DEFAULT_NOTES.get(currency, DEFAULT_NOTES["EUR"])
        self._show_notes(tuple(Decimal(n) for n in default))
        self._show_passes(packaged_passes())
        self.resize(*PANEL_SIZE)

        # The state is refreshed while the window is shown (showEvent starts the timer).
        self._interval_ms = (
            None if refresh_interval_s is None else max(100, int(refresh_interval_s * 1000))
        )
        self._timer = QTimer(self)
        self._timer.timeout.connect(self._tick)

    # -- running actions ----------------------------------------------------------------
    def run_action(self, title: str, action: Action) -> asyncio.Task[bool] | None:
        """Start ``action`` on the running loop; how it went goes to the status line.

        Returns its task (result True: it worked), or None if nothing was started."""
        if self._closed:
            return None
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._set_status(f"{title}: not done, no asyncio loop is running", ok=False)
            return None
        task = asyncio.ensure_future(self._perform(title, action), loop=loop)
        self._track(task)
        self.last_action = task
        return task

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _perform(self, title: str, action: Action) -> bool:
        async with self._lock:
            self._set_status(f"{title}…", ok=None)
            try:
                detail = await action()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # shown, never raised into Qt or the loop
                if not isinstance(exc, SimControlError | httpx.HTTPError | NotDone):
                    log.exception("simulator panel: %s failed", title)
                self._set_status(f"{title}: {describe_error(exc, self.base_url)}", ok=False)
                ok = False
            else:
                self._set_status(f"{title}: {detail}", ok=True)
                ok = True
            await self._refresh_quietly()
            return ok

    async def idle(self) -> None:
        """Wait until every action and refresh started so far has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def aclose(self) -> None:
        """Stop refreshing, cancel what still runs, close the HTTP client."""
        self._closed = True
        self._timer.stop()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        await self.control.aclose()
        await self._http.aclose()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._interval_ms is not None and not self._closed:
            self._timer.start(self._interval_ms)
            self._tick()

    def hideEvent(self, event: QHideEvent) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def _set_status(self, text: str, *, ok: bool | None) -> None:
        """The status line: the last action's result (ok), its error (not ok), or busy."""
        self.status.setText(text)
        self._set_ok(self.status, ok)

    # -- showing the simulators' state ------------------------------------------------
    def _tick(self) -> None:
        if self._closed or not self.isVisible():
            return
        if self._refreshing is not None and not self._refreshing.done():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # Qt runs without the asyncio loop (never in the app)
            return
        self._ticks += 1
        cards = self._ticks % CARDS_EVERY == 1  # the balances change seldom
        self._refreshing = asyncio.ensure_future(self._refresh_quietly(cards=cards), loop=loop)
        self._track(self._refreshing)

    async def _refresh_quietly(self, *, cards: bool = True) -> None:
        try:
            await self.refresh(cards=cards)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - shown in the window, never raised
            self.connection.setText(describe_error(exc, self.base_url))
            self._set_ok(self.connection, False)
        else:
            self.connection.setText(f"simulators at {self.base_url}")
            self._set_ok(self.connection, True)
        self.refreshed.emit()

    async def refresh(self, *, cards: bool = True) -> None:
        """Read the simulators' state and show it (raises what the reads raise);
        ``cards``: the cashback cards' balances too."""
        index = await self.control.index()
        tecalis = await self.control.tecalis_state()
        provider = self._current_provider()
        vendor = None
        if provider != "tpv":
            vendor = await self.control.call("GET", f"/{provider}/state")
        passes = None
        if cards:
            passes = (await self.control.call("GET", "/cardapi/passes")).get("passes")
        self._show_index(index)
        self._show_tecalis(tecalis)
        if vendor is not None:
            self._show_vendor(provider, vendor)
        if isinstance(passes, list):
            self._show_passes([p for p in passes if isinstance(p, dict)])

    def _show_index(self, index: JsonObject) -> None:
        faults = [f for f in index.get("faults") or [] if isinstance(f, dict)]
        for name, label in self.service_state.items():
            mine = [f for f in faults if f.get("service") == name]
            if any(f.get("path") == DOWN_PATH and f.get("fault") == DOWN_FAULT for f in mine):
                label.setText("down")
            else:
                label.setText("faults" if mine else "up")
            self._set_ok(label, not mine)
        callbacks = index.get("callbacks") or {}
        mode = str(callbacks.get("mode", "?"))
        self.service_state["callbacks"].setText("lost" if mode == "drop" else mode)
        self._set_ok(self.service_state["callbacks"], mode == "normal")
        clock = index.get("clock") or {}
        if "time" in clock:
            moment = datetime.fromtimestamp(float(clock["time"]))
            speed = clock.get("speed")
            pace = f" (×{amount_text(speed)})" if speed is not None else ""
            self.clock_state.setText(f"simulated time {moment:%H:%M:%S}{pace}")

    def _show_tecalis(self, state: JsonObject) -> None:
        denominations = (state.get("config") or {}).get("denominations")
        if isinstance(denominations, list) and denominations:
            notes = tuple(Decimal(str(d)) for d in denominations)
            if notes != self._notes:
                self._show_notes(notes)

        bill = state.get("bill_reader") or {}
        parts = [f"bill reader {bill.get('state', '?')}"]
        escrow = bill.get("escrow")
        if isinstance(escrow, dict):
            parts.append(f"{amount_text(escrow.get('amount', 0))} {self.currency} in escrow")
        if bill.get("jam_on_accept"):
            parts.append("next note jams")
        if bill.get("offline"):
            parts.append("offline")
        box = state.get("cash_box") or {}
        parts.append(f"cash box {box.get('count_total', '?')}/{box.get('capacity', '?')}")
        self.bill_state.setText(" · ".join(parts))

        tpv = state.get("tpv") or {}
        parts = [str(tpv.get("state", "?"))]
        if tpv.get("amount") is not None:
            parts.append(f"{amount_text(tpv['amount'])} {self.currency}")
        if tpv.get("auto"):
            parts.append(f"auto {tpv['auto']}")
        if tpv.get("offline"):
            parts.append("offline")
        self.provider_state["tpv"].setText(" · ".join(parts))

        d = state.get("dispenser") or {}
        parts = [f"{(d.get('hopper') or {}).get('count', '?')} cards in the hopper"]
        if d.get("jammed"):
            parts.append("JAMMED")
        if d.get("jam_next"):
            parts.append("next card jams")
        if d.get("unreadable_next"):
            parts.append(f"next {d['unreadable_next']} unreadable")
        if d.get("offline"):
            parts.append("offline")
        self.dispenser_state.setText(" · ".join(parts))

        printer = state.get("printer") or {}
        printed = printer.get("printed") or []
        parts = [f"paper {printer.get('paper', '?')}", f"{len(printed)} printed"]
        if printer.get("offline"):
            parts.append("offline")
        self.printer_state.setText(" · ".join(parts))
        scanner = state.get("scanner") or {}
        self.scanner_state.setText("offline" if scanner.get("offline") else "online")

    def _show_vendor(self, provider: str, state: JsonObject) -> None:
        parts: list[str] = []
        if provider == "kinetic":
            screen = str((state.get("screen") or {}).get("path", "?"))
            parts.append(f"screen {screen.rsplit('.', 1)[-1]}")
            if state.get("auto"):
                parts.append(f"auto {state['auto']}")
            if state.get("offline"):
                parts.append("off the LAN")
        elif provider == "komoju":
            terminals = [t for t in state.get("terminals") or [] if isinstance(t, dict)]
            terminal = terminals[0] if terminals else {}
            parts.append(str(terminal.get("phase", "?")))
            if terminal.get("offline"):
                parts.append("offline")
        else:
            terminal = state.get("terminal") or {}
            current = terminal.get("current")
            stages = {
                r.get("requestId"): r.get("stage")
                for r in state.get("requests") or []
                if isinstance(r, dict)
            }
            parts.append(f"request {stages.get(current, '?')}" if current else "idle")
            if not terminal.get("online", True):
                parts.append("offline")
            if terminal.get("busy"):
                parts.append("busy")
        self.provider_state[provider].setText(" · ".join(parts))

    # -- building the window ------------------------------------------------------------
    def _build(self) -> None:
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(4)
        self.connection = QLabel(f"simulators at {self.base_url}")
        self.connection.setObjectName("sim:connection")
        self.connection.setWordWrap(True)
        outer.addWidget(self.connection)

        body = QWidget()
        column = QVBoxLayout(body)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(4)
        for section in (
            self._banknotes(),
            self._card_terminal(),
            self._cashback_cards(),
            self._dispenser(),
            self._printer_scanner(),
            self._services(),
        ):
            column.addWidget(section)
        column.addStretch(1)
        scroll = QScrollArea()  # on a smaller screen
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(body)
        outer.addWidget(scroll, 1)

        self.status = QLabel("Ready.")
        self.status.setObjectName("sim:status")
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.status.setMinimumHeight(self.status.fontMetrics().lineSpacing() * 3 + 8)
        outer.addWidget(self.status)
        self.setStyleSheet(
            "QGroupBox { font-weight: bold; margin-top: 1.1em; padding-top: 2px; }"
            "QGroupBox::title { subcontrol-origin: margin; left: 4px; }"
            "QGroupBox * { font-weight: normal; }"
            "QPushButton { padding: 2px 4px; }"
            "QLabel[role='state'] { color: #555; }"
            "QLabel[ok='true'] { color: #1b6e20; }"
            "QLabel[ok='false'] { color: #b00020; }"
            "QLabel#sim\\:status { border-top: 1px solid #aaa; padding-top: 3px; }"
        )

    def _button(self, spec: Button) -> QPushButton:
        b = QPushButton(spec.text)
        b.setObjectName(spec.name)
        b.setToolTip(spec.tip or spec.title)
        b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        b.clicked.connect(lambda *_: self.run_action(spec.title, spec.action))
        return b

    def _grid(self, specs: Sequence[Button], columns: int = COLUMNS) -> QGridLayout:
        grid = QGridLayout()
        grid.setSpacing(3)
        for i, spec in enumerate(specs):
            grid.addWidget(self._button(spec), i // columns, i % columns)
        return grid

    @staticmethod
    def _group(title: str, *parts: QWidget | QLayout) -> QGroupBox:
        box = QGroupBox(title)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.setSpacing(3)
        for part in parts:
            if isinstance(part, QLayout):
                layout.addLayout(part)
            else:
                layout.addWidget(part)
        return box

    @staticmethod
    def _state_label(name: str) -> QLabel:
        label = QLabel("…")
        label.setObjectName(name)
        label.setProperty("role", "state")
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        return label

    @staticmethod
    def _set_ok(label: QLabel, ok: bool | None) -> None:
        label.setProperty("ok", ok)
        style = label.style()
        style.unpolish(label)
        style.polish(label)

    # -- banknotes ---------------------------------------------------------------------
    def _banknotes(self) -> QGroupBox:
        c = self.control

        async def jam(when: str) -> str:
            await c.jam_bill_reader(when)
            return "jammed" if when == "now" else "the next note it stacks will jam"

        async def clear(note: str) -> str:
            await c.clear_jam(note)
            return f"cleared (a stuck note is {note})"

        async def cash_box(full: bool) -> str:
            if full:
                capacity = int((await c.tecalis_state())["cash_box"]["capacity"])
                answer = await c.set_cash_box(count_total=capacity)
            else:
                answer = await c.set_cash_box(empty=True)
            box = answer.get("cash_box") or {}
            return f"{box.get('count_total', '?')} of {box.get('capacity', '?')} notes"

        self.notes_grid = QGridLayout()
        self.notes_grid.setSpacing(3)
        self.bill_state = self._state_label("sim:bill:state")
        return self._group(
            "Banknotes",
            self.notes_grid,
            self._grid(
                [
                    Button("sim:bill:jam", "Jam", "Bill reader jam", lambda: jam("now")),
                    Button(
                        "sim:bill:jam-next",
                        "Jam next",
                        "Bill reader jam",
                        lambda: jam("on_accept"),
                        "The bill reader jams stacking the next note",
                    ),
                    Button(
                        "sim:bill:clear-jam",
                        "Clear jam",
                        "Bill reader jam",
                        lambda: clear("returned"),
                        "Staff clear the jam; a stuck note comes back out",
                    ),
                    Button(
                        "sim:bill:clear-jam-stacked",
                        "Clear, keep",
                        "Bill reader jam",
                        lambda: clear("stacked"),
                        "Staff clear the jam; a stuck note ends in the cash box",
                    ),
                    Button("sim:cashbox:full", "Box full", "Cash box", lambda: cash_box(True)),
                    Button("sim:cashbox:empty", "Box emptied", "Cash box", lambda: cash_box(False)),
                ]
            ),
            self.bill_state,
        )

    def _show_notes(self, notes: tuple[Decimal, ...]) -> None:
        """One button per note the bill reader accepts, and the unrecognised note."""
        self._notes = notes
        while self.notes_grid.count():
            item = self.notes_grid.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.setParent(None)  # gone at once (findChild), deleted later
                widget.deleteLater()
        specs = [
            Button(
                f"sim:note:{amount_text(note)}",
                f"{amount_text(note)} {self.currency}",
                f"Insert {amount_text(note)} {self.currency}",
                self._insert(note),
            )
            for note in notes
        ]

        async def unrecognised() -> str:
            answer = await self.control.insert_unrecognised()
            return f"note {answer.get('result', '?')}"

        specs.append(
            Button("sim:note:unrecognised", "Unrecognised", "Insert a false note", unrecognised)
        )
        for i, spec in enumerate(specs):
            self.notes_grid.addWidget(self._button(spec), i // COLUMNS, i % COLUMNS)

    def _insert(self, note: Decimal) -> Action:
        async def insert() -> str:
            answer = await self.control.insert_note(note)
            if answer.get("result") == "escrow":
                return "in escrow"
            return f"returned ({answer.get('reason', '?')})"

        return insert

    # -- card terminal -----------------------------------------------------------------
    def _card_terminal(self) -> QGroupBox:
        self.card_tabs = QTabWidget()
        self.card_tabs.setObjectName("sim:card-tabs")
        self.card_tabs.setDocumentMode(True)
        self.provider_state: dict[str, QLabel] = {}
        self._tab_provider: list[str] = []
        actions = {
            "tpv": self._tpv_buttons,
            "kinetic": self._kinetic_buttons,
            "komoju": self._komoju_buttons,
            "payjunction": self._payjunction_buttons,
        }
        for provider in sorted(PROVIDERS, key=lambda p: p != self.card_provider):
            page = QWidget()
            layout = QVBoxLayout(page)
            layout.setContentsMargins(0, 4, 0, 0)
            layout.setSpacing(3)
            layout.addLayout(self._grid(actions[provider]()))
            state = self._state_label(f"sim:{provider}:state")
            self.provider_state[provider] = state
            layout.addWidget(state)
            title = PROVIDER_TITLES[provider]
            if provider == self.card_provider:
                title += " (in use)"
            self.card_tabs.addTab(page, title)
            self._tab_provider.append(provider)
        self.card_tabs.currentChanged.connect(lambda *_: self._tick())
        parts: list[QWidget] = []
        if self.card_provider not in PROVIDERS:
            off = QLabel(f"The kiosk takes no cards (card_provider = {self.card_provider}).")
            off.setProperty("role", "state")
            parts.append(off)
        return self._group("Card terminal", *parts, self.card_tabs)

    def _current_provider(self) -> str:
        return self._tab_provider[max(0, self.card_tabs.currentIndex())]

    def _tpv_buttons(self) -> list[Button]:
        c = self.control

        def said(answer: JsonObject) -> str:
            return f"PIN pad {(answer.get('tpv') or {}).get('state', '?')}"

        async def present() -> str:
            return said(await c.tpv_present())

        async def pin() -> str:
            return said(await c.tpv_pin())

        async def approve() -> str:
            return said(await c.tpv_approve())

        async def decline() -> str:
            return said(await c.tpv_decline())

        async def error() -> str:
            return said(await c.tpv_error())

        async def auto(outcome: str | None) -> str:
            await c.tpv_auto(outcome)
            return "every payment is approved at once" if outcome else "off"

        return [
            Button("sim:tpv:present", "Present card", "PIN pad: card", present),
            Button("sim:tpv:pin", "PIN entered", "PIN pad: PIN", pin),
            Button("sim:tpv:approve", "Approve", "PIN pad: approve", approve),
            Button("sim:tpv:decline", "Decline", "PIN pad: decline", decline),
            Button("sim:tpv:error", "Error", "PIN pad: error", error),
            Button(
                "sim:tpv:auto-on", "Auto-approve", "PIN pad: auto-approve", lambda: auto("approve")
            ),
            Button("sim:tpv:auto-off", "Auto off", "PIN pad: auto-approve", lambda: auto(None)),
        ]

    def _vendor(self, path: str, body: JsonObject | None = None) -> Action:
        """POST a vendor simulator's control route; say what state it answered with."""

        async def act() -> str:
            answer = await self.control.call("POST", path, {} if body is None else body)
            for key in ("transaction", "session", "request", "terminal"):
                value = answer.get(key)
                if isinstance(value, dict):
                    for field in ("result", "status", "phase", "online"):
                        if value.get(field) is not None:
                            return f"{key} {field} {value[field]}"
            return "done"

        return act

    def _kinetic_buttons(self) -> list[Button]:
        v = self._vendor
        return [
            Button("sim:kinetic:present", "Present card", "Kinetic: card", v("/kinetic/present")),
            Button("sim:kinetic:approve", "Approve", "Kinetic: approve", v("/kinetic/approve")),
            Button("sim:kinetic:decline", "Decline", "Kinetic: decline", v("/kinetic/decline")),
            Button("sim:kinetic:error", "Error", "Kinetic: host error", v("/kinetic/error")),
            Button(
                "sim:kinetic:cancel",
                "Cancel",
                "Kinetic: customer cancels",
                v("/kinetic/cancel"),
                "The customer presses Cancel on the terminal",
            ),
            Button(
                "sim:kinetic:auto-on",
                "Auto-approve",
                "Kinetic: auto-approve",
                v("/kinetic/auto", {"outcome": "approve"}),
            ),
            Button(
                "sim:kinetic:auto-off",
                "Auto off",
                "Kinetic: auto-approve off",
                v("/kinetic/auto", {"outcome": None}),
            ),
        ]

    def _komoju_buttons(self) -> list[Button]:
        v = self._vendor
        t = "/komoju/terminal"
        return [
            Button("sim:komoju:present", "Present card", "KOMOJU: card", v(f"{t}/present")),
            Button("sim:komoju:approve", "Approve", "KOMOJU: approve", v(f"{t}/approve")),
            Button("sim:komoju:decline", "Decline", "KOMOJU: decline", v(f"{t}/decline")),
            Button(
                "sim:komoju:cancel",
                "Cancel",
                "KOMOJU: customer cancels",
                v(f"{t}/cancel"),
                "The customer cancels on the terminal",
            ),
            Button("sim:komoju:expire", "Expire", "KOMOJU: session expires", v(f"{t}/expire")),
            Button("sim:komoju:offline", "Offline", "KOMOJU: terminal", v(t, {"offline": True})),
            Button("sim:komoju:online", "Online", "KOMOJU: terminal", v(t, {"offline": False})),
        ]

    def _payjunction_buttons(self) -> list[Button]:
        v = self._vendor
        t = "/payjunction/terminal"
        return [
            Button(
                "sim:payjunction:approve",
                "Card: approve",
                "PayJunction: card approved",
                v(f"{t}/present", {"outcome": "approve"}),
                "The customer inserts a card; it is approved",
            ),
            Button(
                "sim:payjunction:decline",
                "Card: decline",
                "PayJunction: card declined",
                v(f"{t}/present", {"outcome": "decline"}),
                "The customer inserts a card; it is declined",
            ),
            Button(
                "sim:payjunction:red-x",
                "Red X",
                "PayJunction: red X",
                v(f"{t}/red-x"),
                "The customer presses the red X",
            ),
            Button(
                "sim:payjunction:receipt",
                "Receipt: no",
                "PayJunction: receipt prompt",
                v(f"{t}/receipt"),
                "The customer answers the receipt prompt",
            ),
            Button(
                "sim:payjunction:offline",
                "Offline",
                "PayJunction: terminal",
                v(t, {"online": False}),
            ),
            Button(
                "sim:payjunction:online", "Online", "PayJunction: terminal", v(t, {"online": True})
            ),
        ]

    # -- cashback cards ----------------------------------------------------------------
    def _cashback_cards(self) -> QGroupBox:
        self.passes = QTableWidget(0, 4)
        self.passes.setObjectName("sim:cards")
        self.passes.setHorizontalHeaderLabels(["Card code", "NFC number", "Balance", ""])
        self.passes.verticalHeader().setVisible(False)
        self.passes.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.passes.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.passes.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.passes.setWordWrap(False)
        self.passes.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.passes.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        header = self.passes.horizontalHeader()
        for column in range(3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.passes.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 4)
        self.passes.itemSelectionChanged.connect(self._pass_selected)
        parts: list[QWidget | QLayout] = [self.passes]

        self.scan_code = QLineEdit()
        self.scan_code.setObjectName("sim:cardreader:code")
        self.scan_code.setPlaceholderText("a card code")
        if self.card_reader is not None:
            scan = self._button(Button("sim:cardreader:scan", "Scan", "Card reader", self._scan))
            scan.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            self.scan_code.returnPressed.connect(scan.click)
            row = QHBoxLayout()
            row.setSpacing(3)
            row.addWidget(self.scan_code)
            row.addWidget(scan)
            parts.append(row)
            title = "Cashback cards (scan one, or type its code on the kiosk)"
        else:
            title = "Cashback cards (type a code on the kiosk)"
        return self._group(title, *parts)

    def _show_passes(self, passes: list[JsonObject]) -> None:
        rows = pass_rows(passes)
        if rows == self._passes_shown:
            return
        self._passes_shown = rows
        self.passes.setRowCount(len(rows))
        for r, values in enumerate(rows):
            for column, value in enumerate(values):
                item = QTableWidgetItem(value)
                if column == 2:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.passes.setItem(r, column, item)
        height = self.passes.horizontalHeader().sizeHint().height()
        height += sum(self.passes.rowHeight(r) for r in range(len(rows)))
        self.passes.setFixedHeight(height + 2 * self.passes.frameWidth())

    def _pass_selected(self) -> None:
        items = self.passes.selectedItems()
        code = self.passes.item(items[0].row(), 0) if items else None
        if code is not None and "…" not in code.text():
            self.scan_code.setText(code.text())

    async def _scan(self) -> str:
        code = self.scan_code.text().strip()
        if self.card_reader is None:
            raise NotDone("no virtual card reader is running")
        if not code:
            raise NotDone("type a card code first")
        try:
            self.card_reader.scan(code)
        except (OSError, RuntimeError, ValueError) as exc:  # unplugged, pty gone, not ASCII
            raise NotDone(f"the reader did not send it ({exc})") from exc
        return f"scanned {code}"

    # -- dispenser, printer, scanner ----------------------------------------------------
    def _dispenser(self) -> QGroupBox:
        c = self.control

        async def hopper(count: int) -> str:
            answer = await c.set_dispenser(hopper=count)
            left = ((answer.get("dispenser") or {}).get("hopper") or {}).get("count", "?")
            return f"{left} cards in the hopper"

        async def jam() -> str:
            await c.set_dispenser(jam_next=True)
            return "the next card jams"

        async def unreadable() -> str:
            await c.set_dispenser(unreadable_next=1)
            return "the next card's barcode cannot be read"

        async def clear() -> str:
            await c.set_dispenser(jam_next=False, unreadable_next=0)
            await self._restart_dispenser()
            return "restarted, no fault armed"

        self.dispenser_state = self._state_label("sim:dispenser:state")
        return self._group(
            "Card dispenser",
            self._grid(
                [
                    Button("sim:dispenser:empty", "Empty", "Dispenser: empty", lambda: hopper(0)),
                    Button("sim:dispenser:jam", "Jam", "Dispenser: jam", jam),
                    Button(
                        "sim:dispenser:unreadable",
                        "Bad barcode",
                        "Dispenser: barcode",
                        unreadable,
                        "The next card's barcode cannot be read",
                    ),
                    Button(
                        "sim:dispenser:refill",
                        "Refill",
                        "Dispenser: refilled",
                        lambda: hopper(HOPPER_FULL),
                        f"{HOPPER_FULL} cards in the hopper",
                    ),
                    Button(
                        "sim:dispenser:clear",
                        "Clear",
                        "Dispenser: cleared",
                        clear,
                        "Staff clear a jam (restart) and disarm the faults",
                    ),
                ],
                columns=5,
            ),
            self.dispenser_state,
        )

    async def _restart_dispenser(self) -> None:
        """What staff do about a jammed dispenser: the integrator ``restart``."""
        defaults = TecalisConfig()
        state = await self.control.tecalis_state()
        kiosk_id = (state.get("config") or {}).get("kiosk_id") or defaults.kiosk_id
        api = f"{self.base_url}/tecalis/api"
        try:
            auth = await self._http.post(
                f"{api}/auth", json={"username": defaults.username, "password": defaults.password}
            )
            auth.raise_for_status()
            restart = await self._http.post(
                f"{api}/kiosk/{kiosk_id}/dispenser/restart",
                headers={"Authorization": f"Bearer {auth.json()['token']}"},
            )
            restart.raise_for_status()
        except httpx.HTTPError as exc:  # the Tecalis API itself is down, or refused
            raise NotDone(f"faults disarmed, but the restart failed ({exc})") from exc

    def _printer_scanner(self) -> QGroupBox:
        c = self.control

        async def paper(level: str) -> str:
            answer = await c.set_printer(paper=level)
            return f"paper {(answer.get('printer') or {}).get('paper', level)}"

        async def scanner(offline: bool) -> str:
            answer = await c.set_scanner(offline)
            return "offline" if (answer.get("scanner") or {}).get("offline") else "online"

        self.printer_state = self._state_label("sim:printer:state")
        self.scanner_state = self._state_label("sim:scanner:state")
        grid = QGridLayout()
        grid.setSpacing(3)
        buttons = [
            Button("sim:printer:paper-out", "Paper out", "Printer", lambda: paper("out")),
            Button("sim:printer:paper-low", "Paper low", "Printer", lambda: paper("low")),
            Button("sim:printer:paper-in", "Paper in", "Printer", lambda: paper("ok")),
            Button("sim:scanner:offline", "Offline", "Scanner", lambda: scanner(True)),
            Button("sim:scanner:online", "Online", "Scanner", lambda: scanner(False)),
        ]
        grid.addWidget(QLabel("Printer"), 0, 0)
        for i, spec in enumerate(buttons[:3]):
            grid.addWidget(self._button(spec), 0, 1 + i)
        grid.addWidget(self.printer_state, 1, 1, 1, 3)
        grid.addWidget(QLabel("Scanner"), 2, 0)
        for i, spec in enumerate(buttons[3:]):
            grid.addWidget(self._button(spec), 2, 1 + i)
        grid.addWidget(self.scanner_state, 2, 3)
        return self._group("Printer and scanner", grid)

    # -- services, callbacks, time ------------------------------------------------------
    def _services(self) -> QGroupBox:
        c = self.control

        def down(name: str) -> Action:
            async def act() -> str:
                await c.clear_faults(name)
                await c.set_fault(name, DOWN_PATH, DOWN_FAULT)
                return "every request to it is dropped"

            return act

        def up(name: str) -> Action:
            async def act() -> str:
                await c.clear_faults(name)
                return "answering again"

            return act

        async def callbacks(mode: str) -> str:
            await c.set_callback_mode(mode)
            return "callbacks and webhooks are lost" if mode == "drop" else "delivered again"

        rows: list[tuple[str, Button, Button]] = [
            (
                name,
                Button(f"sim:service:{name}:down", "Down", f"{name} down", down(name)),
                Button(f"sim:service:{name}:up", "Up", f"{name} up", up(name)),
            )
            for name in SERVICES
        ]
        rows.append(
            (
                "callbacks",
                Button("sim:callbacks:lose", "Lose", "Callbacks", lambda: callbacks("drop")),
                Button("sim:callbacks:normal", "Deliver", "Callbacks", lambda: callbacks("normal")),
            )
        )
        grid = QGridLayout()
        grid.setHorizontalSpacing(3)
        grid.setVerticalSpacing(3)
        self.service_state: dict[str, QLabel] = {}
        for i, (name, off, on) in enumerate(rows):
            r, col = i // 2, (i % 2) * 5
            state = self._state_label(f"sim:service:{name}:state")
            state.setWordWrap(False)
            state.setContentsMargins(4, 0, 4, 0)
            self.service_state[name] = state
            grid.addWidget(QLabel(name), r, col)
            grid.addWidget(state, r, col + 1)
            for j, spec in enumerate((off, on)):
                b = self._button(spec)
                b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
                b.setFixedWidth(b.fontMetrics().horizontalAdvance("Deliver") + 20)
                grid.addWidget(b, r, col + 2 + j)
        grid.setColumnMinimumWidth(4, 8)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(6, 1)

        def advance(seconds: int) -> Action:
            async def act() -> str:
                await c.advance(seconds)
                return "due timers fired"

            return act

        self.clock_state = self._state_label("sim:clock:state")
        clock_row = QHBoxLayout()
        clock_row.setSpacing(3)
        clock_row.addWidget(self.clock_state, 1)
        for seconds in CLOCK_STEPS:
            text = f"+{seconds} s" if seconds < 120 else f"+{seconds // 60} min"
            b = self._button(
                Button(f"sim:clock:{seconds}", text, f"Simulated time {text}", advance(seconds))
            )
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            clock_row.addWidget(b)
        return self._group("Services and time", grid, clock_row)


__all__ = [
    "CardReader",
    "SimulatorPanel",
    "amount_text",
    "describe_error",
    "pass_rows",
]
