"""The customer window: the top bar, one screen per flow state and the idle warning.

:class:`KioskWindow` observes the flow (``flow.on_change``) and renders the newest
snapshot once per event-loop turn, however many changes arrived in between; the
buttons send intents with ``flow.submit``. Until the flow is attached (the kiosk is
still starting: journal, devices, recovery) the window shows the attract screen
and ignores touches.

Keyboard and keypad: Tab / arrow keys move the focus, Enter or Space presses the
focused button, Escape goes back or cancels (where the screen allows), digits type
on the card keypad. The focus ring is drawn in the theme's focus colour.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QFrame,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kioskapp.config import Config
from kioskapp.core.flow.model import (
    CatalogueItem,
    FlowSnapshot,
    Intent,
    MoreTime,
    SetHighContrast,
    SetLanguage,
    SetLargeText,
    State,
)
from kioskapp.core.money import Money
from kioskapp.ui import theme
from kioskapp.ui.i18n import PSEUDO, Texts, texts_for
from kioskapp.ui.screens import Screen, build_screens
from kioskapp.ui.speech import Speaker
from kioskapp.ui.staff import StaffMode
from kioskapp.ui.texts import LANGUAGE_NAMES
from kioskapp.ui.widgets import button, column, label, set_text, show

if TYPE_CHECKING:
    from kioskapp.core.flow.engine import Flow
    from kioskapp.staff.service import StaffService

log = logging.getLogger(__name__)

#: Window size with --windowed (a landscape kiosk screen scaled for a laptop).
WINDOWED_SIZE = (1280, 860)


def initial_snapshot(config: Config) -> FlowSnapshot:
    """The attract screen as the flow will show it, drawn before the kiosk has started."""
    currency = config.kiosk.currency
    return FlowSnapshot(
        state=State.ATTRACT,
        language=config.kiosk.default_language,
        languages=tuple(config.kiosk.languages),
        high_contrast=config.ui.high_contrast,
        large_text=config.ui.large_text,
        catalogue=tuple(
            CatalogueItem(
                p.sku, p.name, Money(p.price_minor, currency), p.needs_id_scan, p.dispenses_card
            )
            for p in config.products
        ),
    )


class TopBar(QFrame):
    """Language buttons and the two accessibility switches, on every customer screen.

    The buttons are as wide as their words. When the row is wider than the screen
    (long words in large text), the switches' words go on two lines: the bar grows a
    little taller, every button keeps the same height, and no word is cut or shrunk."""

    def __init__(self, submit: Callable[[Intent], None]) -> None:
        super().__init__()
        self.setObjectName("TopBar")
        # as tall as its buttons need (the screen below stretches, the bar does not)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.submit = submit
        self.languages: dict[str, QPushButton] = {}
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.row = QHBoxLayout()
        self.row.setContentsMargins(16, 8, 16, 8)
        self.row.setSpacing(12)
        self.lang_row = QHBoxLayout()
        self.lang_row.setSpacing(12)
        self.row.addLayout(self.lang_row)
        self.row.addStretch(1)
        self.contrast = button(None, "high_contrast")
        self.contrast.setCheckable(True)
        self.contrast.clicked.connect(lambda on: self.submit(SetHighContrast(bool(on))))
        self.large = button(None, "large_text")
        self.large.setCheckable(True)
        self.large.clicked.connect(lambda on: self.submit(SetLargeText(bool(on))))
        for b in (self.contrast, self.large):
            b.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
            self.row.addWidget(b)
        self.setLayout(self.row)
        self._toggle_texts: dict[QPushButton, str] = {}

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        for lang in snap.languages:
            if lang not in self.languages:
                b = button(None, f"lang:{lang}")
                b.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
                b.setCheckable(True)
                b.setText(LANGUAGE_NAMES.get(lang, lang))
                b.setAccessibleName(LANGUAGE_NAMES.get(lang, lang))
                b.clicked.connect(lambda _=False, code=lang: self.submit(SetLanguage(code)))
                self.group.addButton(b)
                self.lang_row.addWidget(b)
                self.languages[lang] = b
        for lang, b in self.languages.items():
            show(b, lang in snap.languages)
            b.setChecked(lang == snap.language)
        self.contrast.setChecked(snap.high_contrast)
        self.large.setChecked(snap.large_text)
        self._toggle_texts = {
            self.contrast: t("chrome.high_contrast"),
            self.large: t("chrome.large_text"),
        }
        self.fit()

    def fit(self) -> None:
        """Put the switches' words on one line if the row fits the bar, else on two."""
        need = self.row.sizeHint().width()
        for b, text in self._toggle_texts.items():  # as if each were on one line
            fm = b.fontMetrics()
            now = max(fm.horizontalAdvance(line) for line in b.text().split("\n"))
            need += fm.horizontalAdvance(text) - now
        lines = 1 if need <= self.width() else 2
        if lines == 1 and self.contrast.property("lines") == 2 and need > self.width() - 8:
            lines = 2  # just at the edge: stay (never flip back and forth)
        for b, text in self._toggle_texts.items():
            _set_lines(b, text, lines)

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:  # a font or a word changed
            self.fit()
        return handled

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.fit()


def _two_lines(text: str) -> str:
    """``text`` broken at the space nearest its middle (unchanged if it has none)."""
    spaces = [i for i, c in enumerate(text) if c == " "]
    if not spaces:
        return text
    cut = min(spaces, key=lambda i: abs(len(text) - 2 * i))
    return f"{text[:cut]}\n{text[cut + 1 :]}"


def _set_lines(b: QPushButton, text: str, lines: int) -> None:
    shown = _two_lines(text) if lines == 2 else text
    if b.property("lines") != lines:
        b.setProperty("lines", lines)
        b.style().unpolish(b)
        b.style().polish(b)
        b.updateGeometry()
    if b.text() != shown:
        b.setText(shown)
    b.setAccessibleName(text)


class IdleWarningView(QWidget):
    """The time-out warning over the current screen: countdown and More time."""

    def __init__(self, parent: QWidget, submit: Callable[[Intent], None]) -> None:
        super().__init__(parent)
        self.setObjectName("IdleBackdrop")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.box = QFrame()
        self.box.setObjectName("IdleWarning")
        self.title = label("title")
        self.body = label()
        self.body.setObjectName("idle_countdown")
        self.more = button("primary", "more_time")
        self.more.clicked.connect(lambda: submit(MoreTime()))
        self.box.setLayout(column(self.title, self.body, self.more, margins=40))
        outer = QVBoxLayout()
        outer.addStretch(1)
        outer.addWidget(self.box, 0, Qt.AlignmentFlag.AlignHCenter)
        outer.addStretch(1)
        self.setLayout(outer)
        self.hide()

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        warning = snap.idle_warning
        if warning is None:
            show(self, False)
            return
        set_text(self.title, t("idle.title"))
        set_text(self.body, t("idle.body", seconds=warning.seconds_left))
        set_text(self.more, t("idle.more_time"))
        self.more.setEnabled(warning.extensions_left > 0)
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        if self.isHidden():
            self.show()
            self.raise_()
            self.more.setFocus()


class KioskWindow(QWidget):
    """The customer window. ``attach(flow)`` once the kiosk has started."""

    #: Emitted after each render with the snapshot drawn (tests and the benches wait on it).
    rendered = Signal(object)
    #: Staff asked the app to "restart" or "quit" (maintenance mode, confirmed).
    exit_requested = Signal(str)

    def __init__(
        self,
        config: Config,
        *,
        speaker: Speaker | None = None,
        pseudo_locale: bool = False,
    ) -> None:
        super().__init__()
        self.setObjectName("KioskRoot")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setWindowTitle("kioskapp")
        self.config = config
        self.speaker = speaker or Speaker(enabled=False)
        self.pseudo_locale = pseudo_locale
        self.flow: Flow | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.snap = initial_snapshot(config)
        self._drawn: FlowSnapshot | None = None
        self._pending = False
        self._style_key: tuple[bool, bool] | None = None
        self._spoken: tuple[State, str] | None = None
        self.top = TopBar(self.submit)
        self.stack = QStackedWidget()
        # The screen is as big as the display, whatever one page would like: a page
        # that needs more is clipped (the gallery's check finds it), never the window.
        self.stack.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.screens: dict[State, Screen] = build_screens(self.submit)
        for state, screen in self.screens.items():
            screen.setProperty("state", state.value)
            self.stack.addWidget(screen)
        lay = QVBoxLayout()
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.top)
        lay.addWidget(self.stack, 1)
        self.setLayout(lay)
        self.idle = IdleWarningView(self, self.submit)
        # Maintenance mode: the hidden corner, the PIN screen and the staff screens.
        self.staff = StaffMode(self, lay, (self.top, self.stack))
        self.staff.exit_requested.connect(self.exit_requested)
        self.staff.phase_changed.connect(self._staff_phase)
        self._keys = _KeyboardFilter(self)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self._keys)
        self._render_now()

    # -- the flow ---------------------------------------------------------------------
    def attach(self, flow: Flow) -> None:
        """Observe ``flow`` and send it this window's intents."""
        self.detach()
        self.flow = flow
        self._unsubscribe = flow.on_change(self.show_snapshot)
        self.show_snapshot(flow.snapshot)

    def attach_staff(self, service: StaffService) -> None:
        """Let staff into maintenance mode through ``service`` (once the kiosk runs)."""
        self.staff.attach(service)

    def _staff_phase(self, phase: str) -> None:
        if phase == "closed":  # the customer screens are back: so is the keyboard focus
            target = self.current_screen.first_focus()
            if target is not None:
                target.setFocus(Qt.FocusReason.OtherFocusReason)

    def detach(self) -> None:
        self.staff.detach()
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._unsubscribe = None
        self.flow = None

    def submit(self, intent: Intent) -> None:
        if self.flow is None:
            log.debug("ui: %s before the kiosk started; ignored", type(intent).__name__)
            return
        self.flow.submit(intent)

    def show_snapshot(self, snap: FlowSnapshot) -> None:
        """Draw ``snap`` at the next turn of the event loop (the newest one wins)."""
        self.snap = snap
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self._render_now)

    def show_out_of_service(self, reason: str) -> None:
        """The kiosk could not start (shown until it does)."""
        self.show_snapshot(
            replace(self.snap, state=State.OUT_OF_SERVICE, out_of_service_reason=reason)
        )

    # -- drawing ----------------------------------------------------------------------
    @property
    def texts(self) -> Texts:
        return texts_for(PSEUDO if self.pseudo_locale else self.snap.language)

    @property
    def current_screen(self) -> Screen:
        return self.screens[self.snap.state]

    def _render_now(self) -> None:
        self._pending = False
        snap = self.snap
        if snap is self._drawn:
            return
        t = self.texts
        style_key = (snap.high_contrast, snap.large_text)
        if style_key != self._style_key:
            self._style_key = style_key
            self.setStyleSheet(theme.stylesheet(*style_key))
            self.staff.style_key = style_key
        self.top.draw(snap, t)
        screen = self.screens[snap.state]
        screen.draw(snap, t)
        changed_screen = self.stack.currentWidget() is not screen
        if changed_screen:
            self.stack.setCurrentWidget(screen)
        self.idle.draw(snap, t)
        focus = QApplication.focusWidget()
        if not self.staff.active and (changed_screen or focus is None or not focus.isVisible()):
            target = screen.first_focus()
            if target is not None and snap.idle_warning is None:
                target.setFocus(Qt.FocusReason.OtherFocusReason)
        self._speak(snap, t, screen)
        self._drawn = snap
        self.rendered.emit(snap)

    @property
    def drawn(self) -> FlowSnapshot | None:
        """The snapshot on screen now (None before the first draw)."""
        return self._drawn

    async def until_drawn(
        self, check: Callable[[FlowSnapshot], bool], timeout: float
    ) -> FlowSnapshot:
        """Wait until the window has drawn a snapshot that passes ``check``; raises
        :class:`TimeoutError` after ``timeout`` seconds (for tests and benchmarks)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            snap = self._drawn
            if snap is not None and check(snap):
                return snap
            fut: asyncio.Future[None] = loop.create_future()

            def wake(_snap: object, fut: asyncio.Future[None] = fut) -> None:
                if not fut.done():
                    fut.set_result(None)

            self.rendered.connect(wake)
            try:
                await asyncio.wait_for(fut, max(0.0, deadline - loop.time()))
            finally:
                self.rendered.disconnect(wake)

    def _speak(self, snap: FlowSnapshot, t: Texts, screen: Screen) -> None:
        if snap.idle_warning is not None:
            seconds = snap.idle_warning.seconds_left
            text = t.sentences([t("idle.title"), t("idle.body", seconds=seconds)])
        else:
            text = screen.speech(snap, t)
        key = (snap.state, text)
        if text and key != self._spoken:
            self._spoken = key
            self.speaker.say(text, t.number_language)

    def resizeEvent(self, event: object) -> None:
        super().resizeEvent(event)  # type: ignore[arg-type]
        self.idle.setGeometry(self.rect())


class _KeyboardFilter(QObject):
    """Keyboard/keypad operation of the whole journey (see the module docstring)."""

    def __init__(self, window: KioskWindow) -> None:
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        if not isinstance(watched, QWidget) or watched.window() is not self.window:
            return False  # another window (e.g. the simulator panel)
        return self.window_key(event)

    def window_key(self, event: QKeyEvent) -> bool:
        w = self.window
        key = event.key()
        focus = QApplication.focusWidget()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            if isinstance(focus, QPushButton) and focus.isEnabled() and focus.isVisible():
                focus.click()
                return True
            return False
        if key in (Qt.Key.Key_Down, Qt.Key.Key_Right):
            w.focusNextChild()
            return True
        if key in (Qt.Key.Key_Up, Qt.Key.Key_Left):
            w.focusPreviousChild()
            return True
        if key == Qt.Key.Key_Escape:
            if w.staff.active:
                w.staff.escape()
            else:
                w.current_screen.escape()
            return True
        return False


__all__ = [
    "WINDOWED_SIZE",
    "IdleWarningView",
    "KioskWindow",
    "TopBar",
    "initial_snapshot",
]
