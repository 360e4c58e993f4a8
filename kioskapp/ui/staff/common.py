"""Building blocks of the maintenance screens: pages, long actions, keypads, confirmations.

Every page is a :class:`StaffPage`. A page never talks to a device, a service or
the journal: it calls the :class:`~kioskapp.staff.service.StaffService` methods
(async, on the qasync loop) through :meth:`StaffPage.run`, which shows the
progress bar, refuses a second press while the first runs (every action button
of the page is disabled), and puts the outcome into the page's message line in
plain words. Every task a page starts is owned by the :class:`Tasks` of the
maintenance view, which cancels them when staff leave.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from kioskapp.ui.widgets import busy_bar, button, label, set_text, show

if TYPE_CHECKING:
    from kioskapp.staff.service import StaffService

log = logging.getLogger(__name__)

#: What an action says when done: a message (good news), ``(ok, message)``, or nothing.
Outcome = tuple[bool, str] | str | None


# -- tasks ------------------------------------------------------------------------------
class Tasks:
    """Owner of every task the maintenance screens start: none is left running
    unobserved; staff leave after :meth:`wait_idle`; :meth:`cancel_all` when the
    kiosk stops."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def start(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(work, name=f"staff:{name}")
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            assert exc is not None
            log.error("maintenance: %s failed", task.get_name(), exc_info=(type(exc), exc, None))

    @property
    def running(self) -> int:
        return len(self._tasks)

    def cancel_all(self, *, keep: asyncio.Task[Any] | None = None) -> None:
        for task in list(self._tasks):
            if task is not keep:
                task.cancel()

    async def wait_idle(self) -> None:
        """Until no task of the maintenance screens runs (tests, shutdown)."""
        current = asyncio.current_task()
        while pending := [t for t in self._tasks if t is not current]:
            await asyncio.wait(pending)


# -- formatting -------------------------------------------------------------------------
def when(at: float | None, now: float) -> str:
    """A time for staff: ``2024-05-01 14:03:12 (3 min ago)``; ``never`` for None."""
    if at is None:
        return "never"
    stamp = dt.datetime.fromtimestamp(at).strftime("%Y-%m-%d %H:%M:%S")
    return f"{stamp} ({ago(now - at)})"


def ago(seconds: float) -> str:
    s = int(seconds)
    if s < 5:
        return "just now"
    if s < 60:
        return f"{s} s ago"
    if s < 3600:
        return f"{s // 60} min ago"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min ago"
    return f"{s // 86400} days ago"


def countdown(seconds: float) -> str:
    """``m:ss``, rounded up (a lock that ends in 0.2 s still shows 0:01)."""
    left = max(0, int(seconds + 0.999))
    return f"{left // 60}:{left % 60:02d}"


# -- pages ------------------------------------------------------------------------------
class StaffPage(QWidget):
    """One maintenance screen. Subclasses build their widgets, list their action
    buttons in ``self.action_buttons`` and implement :meth:`load` (what is shown on entry)."""

    #: Name of the page (object name ``page:<name>``, menu button ``menu:<name>``).
    name = ""
    title = ""
    #: One line under the page title, saying what the page is for.
    blurb = ""

    #: Emitted when a run of this page finished (tests wait on it).
    settled = Signal()

    def __init__(self, service: StaffService, tasks: Tasks) -> None:
        super().__init__()
        self.setObjectName(f"page:{self.name}")
        self.service = service
        self.tasks = tasks
        self.action_buttons: list[QPushButton] = []
        self.busy = busy_bar(f"{self.name}:busy")
        self.busy.hide()
        self.busy_text = label("muted")
        self.busy_text.setObjectName(f"{self.name}:busy_text")
        self.busy_text.hide()
        # The outcome line: one label per look (good news / a problem), the one that
        # applies shown (no restyling of a label: its size would not follow).
        self.messages = {ok: label("ok" if ok else "notice") for ok in (True, False)}
        for w in self.messages.values():
            w.setObjectName(f"{self.name}:message")
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            w.hide()
        self._running: asyncio.Task[Any] | None = None
        self.confirm = Confirm(self)

    # -- the page's frame --------------------------------------------------------------
    def status_area(self) -> QVBoxLayout:
        """Progress bar, its text and the message line, for the subclass's layout."""
        lay = QVBoxLayout()
        lay.setSpacing(8)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addWidget(self.busy_text)
        for w in self.messages.values():
            lay.addWidget(w)
        return lay

    def action(self, text: str, name: str, role: str | None = None) -> QPushButton:
        """An action button of this page (disabled while an action runs)."""
        b = button(role, f"{self.name}:{name}")
        set_text(b, text)
        self.action_buttons.append(b)
        return b

    # -- showing -----------------------------------------------------------------------
    def opened(self) -> None:
        """The page is shown: load what it displays."""
        self.clear_message()
        self.run(self.load, "Loading…", report=False)

    def closed(self) -> None:
        """The page is left (another page, or staff left maintenance mode)."""
        self.confirm.dismiss()

    async def load(self) -> Outcome:
        """Read what the page shows and draw it; a message to show, or None."""
        return None

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.confirm.fit()

    # -- running actions ---------------------------------------------------------------
    @property
    def working(self) -> bool:
        return self._running is not None and not self._running.done()

    def run(
        self,
        work: Callable[[], Awaitable[Outcome]],
        busy_text: str,
        *,
        report: bool = True,
    ) -> asyncio.Task[Any] | None:
        """Run one long action: progress shown, actions disabled, the outcome shown.

        ``work`` returns the message to show (``(ok, text)`` to say whether it is a
        good or a bad outcome; None to show nothing). A second action while one runs
        is refused (returns None)."""
        if self.working:
            log.debug("maintenance: %s busy; second press ignored", self.name)
            return None
        self._set_busy(busy_text)
        self._running = self.tasks.start(self._run(work, report), self.name)
        return self._running

    async def _run(self, work: Callable[[], Awaitable[Outcome]], report: bool) -> None:
        outcome: Outcome
        try:
            outcome = await work()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the staff screens' top-level handler
            # A bug behind one staff action must not take the kiosk down: it is logged
            # with its traceback and the staff member is told, in plain words.
            log.exception("maintenance: %s: unexpected error", self.name)
            outcome = (False, f"This did not work: an unexpected error ({type(exc).__name__}).")
        finally:
            self._set_busy(None)
        if outcome is not None:
            ok, text = (True, outcome) if isinstance(outcome, str) else outcome
            self.say(text, ok=ok)
        elif report:
            self.clear_message()
        self.settled.emit()

    def _set_busy(self, text: str | None) -> None:
        busy = text is not None
        show(self.busy, busy)
        set_text(self.busy_text, text or "")
        show(self.busy_text, busy)
        for b in self.action_buttons:
            b.setEnabled(not busy and self.action_enabled(b))
        if busy:
            self.clear_message()

    def action_enabled(self, b: QPushButton) -> bool:
        """Whether ``b`` may be pressed when no action runs (pages override)."""
        return True

    def refresh_actions(self) -> None:
        if not self.working:
            for b in self.action_buttons:
                b.setEnabled(self.action_enabled(b))

    def say(self, text: str, *, ok: bool = True) -> None:
        for good, w in self.messages.items():
            set_text(w, text if good == ok else "")
            show(w, good == ok and bool(text))

    def clear_message(self) -> None:
        for w in self.messages.values():
            set_text(w, "")
            show(w, False)

    def ask(self, question: str, yes: str, then: Callable[[], object]) -> None:
        """Ask before doing something that cannot be undone."""
        if not self.working:
            self.confirm.ask(question, yes, then)

    def escape(self) -> bool:
        """Escape on a keyboard: closes the question if one is open."""
        if self.confirm.isVisible():
            self.confirm.dismiss()
            return True
        return False


class Confirm(QWidget):
    """A question over the page: "Collect the cash now?" [Yes, collect] [No]."""

    def __init__(self, page: QWidget) -> None:
        super().__init__(page)
        self.setObjectName("StaffConfirmBackdrop")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.box = QFrame()
        self.box.setObjectName("StaffConfirm")
        self.question = label("title")
        self.question.setObjectName("confirm:question")
        self.yes = button("primary", "confirm:yes")
        self.no = button(None, "confirm:no")
        set_text(self.no, "No, go back")
        self.yes.clicked.connect(self._yes)
        self.no.clicked.connect(self.dismiss)
        buttons = QHBoxLayout()
        buttons.setSpacing(24)
        buttons.addWidget(self.no)
        buttons.addWidget(self.yes)
        inner = QVBoxLayout()
        inner.setContentsMargins(40, 40, 40, 40)
        inner.setSpacing(32)
        inner.addWidget(self.question)
        inner.addLayout(buttons)
        self.box.setLayout(inner)
        self.box.setMinimumWidth(640)
        outer = QVBoxLayout()
        outer.addStretch(1)
        outer.addWidget(self.box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)
        self.setLayout(outer)
        self._then: Callable[[], object] | None = None
        self.hide()

    def ask(self, question: str, yes: str, then: Callable[[], object]) -> None:
        set_text(self.question, question)
        set_text(self.yes, yes)
        self._then = then
        self.fit()
        self.show()
        self.raise_()
        self.no.setFocus(Qt.FocusReason.OtherFocusReason)

    def fit(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())

    def _yes(self) -> None:
        then, self._then = self._then, None
        self.hide()
        if then is not None:
            then()

    def dismiss(self) -> None:
        self._then = None
        self.hide()


# -- keypads ----------------------------------------------------------------------------
class NumberPad(QWidget):
    """Ten digit keys, delete and OK, typing into ``field`` (at most ``max_digits``)."""

    entered = Signal(str)

    def __init__(
        self, field: QLineEdit, prefix: str, *, max_digits: int, ok_text: str = "OK"
    ) -> None:
        super().__init__()
        self.field = field
        self.max_digits = max_digits
        grid = QGridLayout()
        grid.setSpacing(12)
        grid.setContentsMargins(0, 0, 0, 0)
        self.keys: dict[str, QPushButton] = {}
        for i, key in enumerate("1234567890"):
            b = button("key", f"{prefix}:{key}")
            b.setText(key)
            b.setAccessibleName(key)
            b.clicked.connect(lambda _=False, k=key: self.type_digit(k))
            self.keys[key] = b
            if key == "0":
                grid.addWidget(b, 3, 1)
            else:
                grid.addWidget(b, i // 3, i % 3)
        self.delete = button("key", f"{prefix}:delete")
        set_text(self.delete, "⌫")
        self.delete.setAccessibleName("Delete")
        self.delete.clicked.connect(self.delete_digit)
        self.ok = button("key_primary", f"{prefix}:ok")
        set_text(self.ok, ok_text)
        self.ok.clicked.connect(self.send)
        grid.addWidget(self.delete, 3, 0)
        grid.addWidget(self.ok, 3, 2)
        self.setLayout(grid)

    def buttons(self) -> list[QPushButton]:
        return [*self.keys.values(), self.delete, self.ok]

    def type_digit(self, digit: str) -> None:
        if self.isEnabled() and len(self.field.text()) < self.max_digits:
            self.field.setText(self.field.text() + digit)

    def delete_digit(self) -> None:
        if self.isEnabled():
            self.field.setText(self.field.text()[:-1])

    def send(self) -> None:
        if self.isEnabled() and self.field.text():
            self.entered.emit(self.field.text())

    def key(self, event: QKeyEvent) -> bool:
        """A key typed on a keyboard: digits, Backspace, Enter."""
        text = event.text()
        if len(text) == 1 and text.isdigit():
            self.type_digit(text)
            # Enter next sends what was typed (Enter clicks the focused key).
            self.ok.setFocus(Qt.FocusReason.OtherFocusReason)
            return True
        if event.key() == Qt.Key.Key_Backspace:
            self.delete_digit()
            return True
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.send()
            return True
        return False


class TextKeyboard(QWidget):
    """An on-screen keyboard for short notes and searches (the kiosk has no keyboard)."""

    ROWS = ("1234567890", "qwertyuiop", "asdfghjkl'", "zxcvbnm,.-")

    def __init__(self, field: QLineEdit, prefix: str = "kb") -> None:
        super().__init__()
        self.field = field
        self.shift = False
        grid = QGridLayout()
        grid.setSpacing(6)
        grid.setContentsMargins(0, 0, 0, 0)
        self.keys: dict[str, QPushButton] = {}
        for r, chars in enumerate(self.ROWS):
            for c, ch in enumerate(chars):
                b = button("kbkey", f"{prefix}:{ch}")
                b.setText(ch)
                b.setAccessibleName(ch)
                b.clicked.connect(lambda _=False, k=ch: self.type(k))
                grid.addWidget(b, r, c)
                self.keys[ch] = b
        self.shift_key = button("kbkey", f"{prefix}:shift")
        set_text(self.shift_key, "⇧ Shift")
        self.shift_key.setCheckable(True)
        self.shift_key.clicked.connect(self._toggle_shift)
        self.space = button("kbkey", f"{prefix}:space")
        set_text(self.space, "Space")
        self.space.clicked.connect(lambda: self.type(" "))
        self.delete = button("kbkey", f"{prefix}:delete")
        set_text(self.delete, "⌫")
        self.delete.setAccessibleName("Delete")
        self.delete.clicked.connect(self.delete_char)
        row = len(self.ROWS)
        grid.addWidget(self.shift_key, row, 0, 1, 2)
        grid.addWidget(self.space, row, 2, 1, 6)
        grid.addWidget(self.delete, row, 8, 1, 2)
        self.setLayout(grid)

    def _toggle_shift(self, on: bool) -> None:
        self.shift = on
        for ch, b in self.keys.items():
            b.setText(ch.upper() if on else ch)

    def type(self, ch: str) -> None:
        if self.shift:
            ch = ch.upper()
            self.shift = False
            self.shift_key.setChecked(False)
            self._toggle_shift(False)
        if len(self.field.text()) < self.field.maxLength():
            self.field.setText(self.field.text() + ch)

    def delete_char(self) -> None:
        self.field.setText(self.field.text()[:-1])


def tile(title: str, blurb: str, name: str) -> QPushButton:
    """A menu tile: a big button with a title and a line saying what is behind it."""
    b = button("tile", name)
    b.setAccessibleName(title)
    b.setAccessibleDescription(blurb)
    head = label("heading", center=False)
    head.setText(title)
    head.setObjectName(f"{name}:title")
    text = label("muted", center=False)
    text.setText(blurb)
    text.setObjectName(f"{name}:blurb")
    lay = QVBoxLayout()
    lay.setContentsMargins(20, 12, 20, 12)
    lay.setSpacing(4)
    for w in (head, text):
        w.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        lay.addWidget(w)
    lay.addStretch(1)
    b.setLayout(lay)
    return b


# -- lists ------------------------------------------------------------------------------
class PagedList(QWidget):
    """Rows as big buttons, ``per_page`` at a time, with Previous / Next (touch screens
    page better than they scroll). ``chosen`` carries the row's key."""

    chosen = Signal(object)

    def __init__(self, prefix: str, per_page: int = 6) -> None:
        super().__init__()
        self.prefix = prefix
        self.per_page = per_page
        self.items: list[tuple[object, str]] = []
        self.page = 0
        self.rows: list[QPushButton] = []
        lay = QVBoxLayout()
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        for i in range(per_page):
            b = button("row", f"{prefix}:row{i}")
            b.clicked.connect(lambda _=False, i=i: self._choose(i))
            b.hide()
            self.rows.append(b)
            lay.addWidget(b)
        self.empty = label("muted")
        self.empty.setObjectName(f"{prefix}:empty")
        self.empty.hide()
        lay.addWidget(self.empty)
        lay.addStretch(1)
        nav = QHBoxLayout()
        nav.setSpacing(16)
        self.prev = button(None, f"{prefix}:prev")
        set_text(self.prev, "◀ Previous")
        self.prev.clicked.connect(lambda: self._turn(-1))
        self.where = label("muted")
        self.next = button(None, f"{prefix}:next")
        set_text(self.next, "Next ▶")
        self.next.clicked.connect(lambda: self._turn(1))
        nav.addWidget(self.prev)
        nav.addWidget(self.where)
        nav.addWidget(self.next)
        lay.addLayout(nav)
        self.setLayout(lay)

    def set_items(self, items: Sequence[tuple[object, str]], empty_text: str) -> None:
        self.items = list(items)
        set_text(self.empty, empty_text)
        self.page = min(self.page, max(0, (len(self.items) - 1) // self.per_page))
        self._draw()

    def _turn(self, step: int) -> None:
        self.page += step
        self._draw()

    def _draw(self) -> None:
        pages = max(1, (len(self.items) + self.per_page - 1) // self.per_page)
        self.page = max(0, min(self.page, pages - 1))
        start = self.page * self.per_page
        shown = self.items[start : start + self.per_page]
        for i, b in enumerate(self.rows):
            if i < len(shown):
                set_text(b, shown[i][1])
            show(b, i < len(shown))
        show(self.empty, not self.items)
        set_text(self.where, f"Page {self.page + 1} of {pages}" if self.items else "")
        show(self.prev, pages > 1)
        show(self.next, pages > 1)
        self.prev.setEnabled(self.page > 0)
        self.next.setEnabled(self.page < pages - 1)

    def _choose(self, i: int) -> None:
        index = self.page * self.per_page + i
        if index < len(self.items):
            self.chosen.emit(self.items[index][0])


def fill_grid(grid: QGridLayout, rows: Sequence[tuple[str, str]]) -> None:
    while grid.count():
        item = grid.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.deleteLater()
    for r, (key, value) in enumerate(rows):
        k = label("muted", center=False)
        k.setText(key)
        v = label(None, center=False)
        v.setText(value)
        v.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        grid.addWidget(k, r, 0, Qt.AlignmentFlag.AlignTop)
        grid.addWidget(v, r, 1, Qt.AlignmentFlag.AlignTop)
    grid.setColumnStretch(1, 1)


def heading(text: str, name: str = "") -> QLabel:
    w = label("heading", center=False)
    if name:
        w.setObjectName(name)
    w.setText(text)
    return w


__all__ = [
    "Confirm",
    "NumberPad",
    "Outcome",
    "PagedList",
    "StaffPage",
    "Tasks",
    "TextKeyboard",
    "ago",
    "countdown",
    "fill_grid",
    "heading",
    "tile",
    "when",
]
