"""Maintenance mode in the kiosk window: the hidden corner, the PIN screen, the staff
screens, the session time-out and the way back to the customers.

:class:`StaffMode` belongs to the :class:`~kioskapp.ui.window.KioskWindow`. Until
:meth:`StaffMode.attach` hands it the :class:`~kioskapp.staff.service.StaffService`
(once the kiosk has started) the corner does nothing. Then:

* corner held :data:`~kioskapp.ui.staff.gesture.HOLD_S` s and released, while the
  flow is idle (``service.can_enter()``) → the PIN screen replaces the customer
  screens. During a customer's sale the gesture is ignored (logged at info).
* PIN accepted (``service.login``: the flow is now out of service) → the staff menu.
* "Log out", or no touch or key for ``staff.session_timeout_s`` (on the kiosk's
  clock) → ``service.leave`` and the customer screens again. The PIN screen left
  alone closes after :data:`PIN_IDLE_S`.
* Restart / quit the app → the staff actions still running finish,
  ``service.record_app_exit`` and ``service.leave`` (the kiosk stays out of
  service until the app exits), then :attr:`StaffMode.exit_requested` with
  ``"restart"`` or ``"quit"`` (the app stops the kiosk in order and exits with the
  matching status).
* The app stops for another reason (SIGTERM, the watchdog, a crash):
  :meth:`StaffMode.shutdown` lets the running staff actions finish and, if staff
  were in maintenance mode, leaves it with reason "shutdown" (audited).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Literal

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QHBoxLayout,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from kioskapp.ui.staff.common import StaffPage, Tasks
from kioskapp.ui.staff.gesture import StaffCorner
from kioskapp.ui.staff.style import staff_stylesheet
from kioskapp.ui.widgets import button, label, set_text, show

if TYPE_CHECKING:
    from kioskapp.core.clock import TimerHandle
    from kioskapp.staff.service import LeaveReason, StaffService
    from kioskapp.ui.staff.pages import AppExit, MenuPage
    from kioskapp.ui.staff.pin import PinPage

# The PIN screen and the staff pages (and the staff service's modules under them)
# are imported and built the first time staff use them: a kiosk that is never
# serviced does not start slower or hold them in memory.

log = logging.getLogger(__name__)

#: Seconds (kiosk clock) the PIN screen stays up without a touch.
PIN_IDLE_S = 60.0
#: Seconds a stopping app waits for running staff actions before cancelling them.
STOP_WAIT_S = 30.0

Phase = Literal["closed", "pin", "maintenance", "leaving"]

_INPUT_EVENTS = frozenset({
    QEvent.Type.MouseButtonPress,
    QEvent.Type.TouchBegin,
    QEvent.Type.KeyPress,
    QEvent.Type.Wheel,
})  # fmt: skip


class StaffBar(QFrame):
    """The staff screens' top bar: back to the menu, where you are, log out."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("StaffBar")
        self.menu = button(None, "staff:menu")
        set_text(self.menu, "◀ Menu")
        self.menu.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.title = label(None, center=False)
        self.title.setObjectName("staff:title")
        self.logout = button(None, "staff:logout")
        set_text(self.logout, "Log out")
        self.logout.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(88)
        row = QHBoxLayout()
        row.setContentsMargins(56, 8, 16, 8)  # the left edge stays clear of the corner
        row.setSpacing(24)
        row.addWidget(self.menu)
        row.addWidget(self.title, 1)
        row.addWidget(self.logout)
        self.setLayout(row)


class StaffView(QWidget):
    """Everything staff see: the bar, then the PIN screen, the menu or one page."""

    def __init__(self, tasks: Tasks) -> None:
        super().__init__()
        self.setObjectName("StaffView")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.bar = StaffBar()
        self.stack = QStackedWidget()
        # As big as the display, whatever a page would like (as the customer screens).
        self.stack.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.tasks = tasks
        self._pin: PinPage | None = None
        lay = QVBoxLayout()
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.bar)
        lay.addWidget(self.stack, 1)
        self.setLayout(lay)
        self._style_key: tuple[bool, bool] | None = None

    @property
    def pin_built(self) -> bool:
        return self._pin is not None

    @property
    def pin(self) -> PinPage:
        """The PIN screen (built on first use)."""
        if self._pin is None:
            from kioskapp.ui.staff.pin import PinPage

            self._pin = PinPage(self.tasks)
            self.stack.addWidget(self._pin)
        return self._pin

    def restyle(self, high_contrast: bool, large_text: bool) -> None:
        key = (high_contrast, large_text)
        if key != self._style_key:
            self._style_key = key
            self.setStyleSheet(staff_stylesheet(*key))


class StaffMode(QObject):
    """Maintenance mode of one kiosk window (see the module docstring)."""

    #: "restart" or "quit": staff asked the app to stop (confirmed, audited).
    exit_requested = Signal(str)
    #: The phase changed ("closed", "pin", "maintenance", "leaving").
    phase_changed = Signal(str)

    def __init__(self, window: QWidget, layout: QVBoxLayout, customer: tuple[QWidget, ...]) -> None:
        super().__init__(window)
        self.window = window
        self.customer = customer
        self.service: StaffService | None = None
        self.tasks = Tasks()
        self.phase: Phase = "closed"
        self.view = StaffView(self.tasks)
        self.view.hide()
        layout.addWidget(self.view, 1)
        self.view.bar.menu.clicked.connect(self.to_menu)
        self.view.bar.logout.clicked.connect(lambda: self.leave("logout"))
        self.corner = StaffCorner(window)
        self.corner.completed.connect(self.gesture)
        self.pages: dict[str, StaffPage] = {}
        self.menu: MenuPage | None = None
        self.page: StaffPage | None = None
        self._last_input = 0.0
        self._timer: TimerHandle | None = None
        self._leaving: asyncio.Task[None] | None = None
        self._stopping = False
        self._input = _InputWatch(self)
        #: (high contrast, large text) of the customer window, for the staff style.
        self.style_key: tuple[bool, bool] = (False, False)

    # -- wiring ------------------------------------------------------------------------
    def attach(self, service: StaffService) -> None:
        """The kiosk has started: the corner now opens the PIN screen."""
        if service is not self.service:
            self._drop_pages()
        self.service = service
        self._stopping = False
        self.corner.now = service.kiosk.clock.monotonic

    def detach(self) -> None:
        """The kiosk stops: drop timers and tasks (the service goes with the kiosk).
        Await :meth:`shutdown` first: it lets running staff actions finish."""
        self._cancel_timer()
        self.tasks.cancel_all()
        self.service = None

    async def shutdown(self) -> None:
        """The app stops (before the kiosk closes): the staff actions still running
        finish (at most :data:`STOP_WAIT_S`, then they are cancelled); staff still in
        maintenance mode leave it with reason "shutdown" (audited; the kiosk stays
        out of service), and the service stops watching the flow."""
        service = self.service
        self._stopping = True
        self._cancel_timer()
        if self.page is not None:
            self.page.closed()  # no new refreshes
        try:
            async with asyncio.timeout(STOP_WAIT_S):
                await self.tasks.wait_idle()
        except TimeoutError:
            log.warning("maintenance: staff actions still running after %g s; cancelled",
                        STOP_WAIT_S)  # fmt: skip
            self.tasks.cancel_all()
        if service is None:
            return
        if service.in_maintenance:
            log.warning("maintenance: the app stops while staff are in maintenance mode")
            await service.leave(reason="shutdown")
        await service.stop()

    def _drop_pages(self) -> None:
        for page in self.pages.values():
            self.view.stack.removeWidget(page)
            page.deleteLater()
        self.pages = {}
        self.menu = None

    def _pin_page(self) -> PinPage:
        if not self.view.pin_built:
            pin = self.view.pin
            pin.accepted.connect(self._pin_accepted)
            pin.cancelled.connect(self._pin_cancelled)
        return self.view.pin

    def _build_pages(self, service: StaffService) -> None:
        """The staff pages, built at the first login with ``service``."""
        from kioskapp.ui.staff.pages import (
            AboutPage,
            AppPage,
            CashPage,
            DashboardPage,
            HopperPage,
            IncidentsPage,
            MenuPage,
            PrinterPage,
            RestartsPage,
            SalesPage,
            ScannerPage,
            ServicePage,
            TerminalPage,
        )

        self._drop_pages()
        pages: list[StaffPage] = [
            DashboardPage(service, self.tasks),
            CashPage(service, self.tasks),
            HopperPage(service, self.tasks),
            PrinterPage(service, self.tasks),
            ScannerPage(service, self.tasks),
            TerminalPage(service, self.tasks),
            IncidentsPage(service, self.tasks),
            SalesPage(service, self.tasks),
            ServicePage(service, self.tasks),
            RestartsPage(service, self.tasks),
            AppPage(service, self.tasks, self.exit_app),
            AboutPage(service, self.tasks),
        ]
        self.menu = MenuPage(service, self.tasks, pages)
        self.pages = {"menu": self.menu, **{p.name: p for p in pages}}
        for page in self.pages.values():
            self.view.stack.addWidget(page)
        for name, tile in self.menu.tiles.items():
            tile.clicked.connect(lambda _=False, n=name: self.open_page(n))

    @property
    def active(self) -> bool:
        """The staff view covers the customer screens."""
        return self.phase != "closed"

    # -- entering ----------------------------------------------------------------------
    def gesture(self) -> None:
        """The corner was held long enough."""
        service = self.service
        if service is None:
            log.info("maintenance: corner gesture before the kiosk started; ignored")
            return
        if self.active or self._stopping:
            return
        if not service.can_enter():
            log.info(
                "maintenance: corner gesture during a customer's sale (%s); ignored",
                service.kiosk.flow.state.value,
            )
            return
        log.info("maintenance: corner gesture; PIN screen shown")
        self._set_phase("pin")
        self.view.bar.menu.hide()
        self.view.bar.logout.hide()
        set_text(self.view.bar.title, "Maintenance mode · staff only")
        pin = self._pin_page()
        self.view.stack.setCurrentWidget(pin)
        self._show_view(True)
        pin.open(service)
        pin.first_focus().setFocus(Qt.FocusReason.OtherFocusReason)
        self._touch()

    def _pin_accepted(self) -> None:
        log.info("maintenance: staff logged in")
        self.view.pin.close_page()
        if not self.pages and self.service is not None:
            self._build_pages(self.service)
        self._set_phase("maintenance")
        show(self.view.bar.logout, True)
        self._touch()
        self.to_menu()

    def _pin_cancelled(self) -> None:
        if self.phase == "pin":
            self._close()

    # -- pages -------------------------------------------------------------------------
    def to_menu(self) -> None:
        self.open_page("menu")

    def open_page(self, name: str) -> None:
        if self.phase != "maintenance":
            return
        page = self.pages[name]
        if self.page is not None and self.page is not page:
            self.page.closed()
        self.page = page
        self.view.stack.setCurrentWidget(page)
        show(self.view.bar.menu, name != "menu")
        title = "Maintenance" if name == "menu" else f"Maintenance · {page.title}"
        set_text(self.view.bar.title, title)
        page.opened()
        if name != "menu":
            self.view.bar.menu.setFocus(Qt.FocusReason.OtherFocusReason)
        elif self.menu is not None and self.menu.tiles:
            next(iter(self.menu.tiles.values())).setFocus(Qt.FocusReason.OtherFocusReason)

    # -- leaving -----------------------------------------------------------------------
    def leave(self, reason: LeaveReason) -> asyncio.Task[None] | None:
        """Log out (or time out): the service leaves maintenance mode, then the
        customer screens return."""
        if self.phase != "maintenance" or self.service is None:
            return None
        self._set_phase("leaving")
        service = self.service
        self._leaving = self.tasks.start(self._leave(service, reason), f"leave-{reason}")
        return self._leaving

    async def _leave(self, service: StaffService, reason: LeaveReason) -> None:
        log.info("maintenance: staff leave (%s)", reason)
        if self.page is not None:
            self.page.closed()  # no new refreshes
        try:
            # An action already sent to a device or the journal (a collection, a
            # dispense) is never abandoned: it finishes before staff are let out.
            await self.tasks.wait_idle()
            await service.leave(reason=reason)
        finally:
            self._close()

    async def exit_app(self, kind: AppExit) -> None:
        """Restart or quit the app (already confirmed on the page): the other staff
        actions still running finish first (as when staff log out); the kiosk stays
        out of service until the app exits."""
        service = self.service
        if service is None:
            return
        log.warning("maintenance: staff asked to %s the app", kind)
        self._cancel_timer()
        await self.tasks.wait_idle()
        await service.record_app_exit(kind)
        await service.leave(reason=kind)
        self.exit_requested.emit(kind)

    def _close(self) -> None:
        if self.page is not None:
            self.page.closed()
            self.page = None
        if self.view.pin_built:
            self.view.pin.close_page()
        self._cancel_timer()
        self._set_phase("closed")
        self._show_view(False)

    def _show_view(self, on: bool) -> None:
        if on:
            self.view.restyle(*self.style_key)
            for w in self.customer:
                w.hide()
            self.view.show()
            self.corner.hide()
            app = QApplication.instance()
            if app is not None:
                app.installEventFilter(self._input)
        else:
            app = QApplication.instance()
            if app is not None:
                app.removeEventFilter(self._input)
            self.view.hide()
            for w in self.customer:
                w.show()
            self.corner.show()
            self.corner.raise_()

    def _set_phase(self, phase: Phase) -> None:
        self.phase = phase
        self.phase_changed.emit(phase)

    # -- the session time-out ----------------------------------------------------------
    @property
    def idle_limit_s(self) -> float:
        if self.service is None:
            return PIN_IDLE_S
        if self.phase == "pin":
            return min(PIN_IDLE_S, self.service.session_timeout_s)
        return self.service.session_timeout_s

    def _touch(self) -> None:
        """Staff touched the screen or typed: the time-out starts again."""
        if self.service is None:
            return
        self._last_input = self.service.kiosk.clock.monotonic()
        if self._timer is None:
            self._arm(self.idle_limit_s)

    def _arm(self, seconds: float) -> None:
        assert self.service is not None
        self._cancel_timer()
        self._timer = self.service.kiosk.clock.call_later(seconds, self._check_idle)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _check_idle(self) -> None:
        self._timer = None
        if self.service is None or self.phase not in ("pin", "maintenance"):
            return
        idle = self.service.kiosk.clock.monotonic() - self._last_input
        left = self.idle_limit_s - idle
        if left > 0:
            self._arm(left)
            return
        if self.phase == "pin":
            log.info("maintenance: PIN screen left alone; back to the customers")
            self._close()
        elif self.tasks.running and self.page is not None and self.page.working:
            self._arm(self.idle_limit_s)  # a long action still runs: wait for it
        else:
            log.info("maintenance: no input for %.0f s; staff logged out", self.idle_limit_s)
            self.leave("timeout")

    # -- keyboard ----------------------------------------------------------------------
    def escape(self) -> None:
        """Escape on a keyboard: close a question, go back, or cancel the PIN."""
        if self.phase == "pin":
            self.view.pin.escape()
        elif (
            self.phase == "maintenance"
            and self.page is not None
            and not self.page.escape()
            and self.page is not self.menu
        ):
            self.to_menu()


class _InputWatch(QObject):
    """Any touch, click or key in the kiosk window while staff use it."""

    def __init__(self, mode: StaffMode) -> None:
        super().__init__(mode)
        self.mode = mode

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            event.type() in _INPUT_EVENTS
            and isinstance(watched, QWidget)
            and watched.window() is self.mode.window
        ):
            self.mode._touch()
        return False


__all__ = ["PIN_IDLE_S", "StaffBar", "StaffMode", "StaffView"]
