"""Maintenance mode on the kiosk window, for the tests: a staff PIN in the kiosk's
config, the :class:`StaffService` over the running kiosk, and a :class:`Staff` helper
that holds the hidden corner, types the PIN and presses staff buttons as staff would
(by object name, only when visible and enabled).

The ``staff_ui`` fixture (tests/ui/conftest.py) is the ``ui`` fixture with maintenance
mode wired as the app wires it::

    async with staff_ui() as (u, staff):
        await staff.login()
        await staff.open("cash")
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from typing import Any

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from kioskapp.config import Secret
from kioskapp.core.flow import FlowSettings
from kioskapp.core.journal import AuditRow
from kioskapp.core.recovery import RecoveryReport
from kioskapp.runtime import Kiosk as RuntimeKiosk
from kioskapp.staff.pin import hash_pin
from kioskapp.staff.service import StaffService
from kioskapp.ui.staff.gesture import HOLD_S
from kioskapp.ui.staff.mode import StaffMode
from tests.flow.conftest import Kiosk
from tests.ui.conftest import Ui, _sessions

PIN = "2468"
_PIN_HASH: list[str] = []


def pin_hash() -> str:
    """The hash of :data:`PIN` (scrypt: computed once per test run)."""
    if not _PIN_HASH:
        _PIN_HASH.append(hash_pin(PIN))
    return _PIN_HASH[0]


def with_pin(kiosk: Kiosk, stored: str | None = None, **staff_settings: Any) -> None:
    """Give the kiosk's config a staff PIN hash (``""``: none set) and other
    ``[staff]`` settings."""
    stored = pin_hash() if stored is None else stored
    config = kiosk.config
    staff = replace(config.staff, pin_hash=Secret(stored), **staff_settings)
    kiosk.config = replace(config, staff=staff)


@dataclass
class Staff:
    """Staff at the kiosk window (see the module docstring)."""

    u: Ui
    service: StaffService

    @property
    def kiosk(self) -> Kiosk:
        return self.u.kiosk

    @property
    def mode(self) -> StaffMode:
        return self.u.window.staff

    @property
    def phase(self) -> str:
        """One of closed, pin, maintenance, leaving."""
        return self.mode.phase

    # -- the corner --------------------------------------------------------------------
    def _mouse(self, kind: QEvent.Type, at: QPoint) -> None:
        window = self.u.window
        target = window.childAt(at)
        assert target is not None, f"nothing at {at} of the window"
        local = QPointF(target.mapFrom(window, at))
        glob = QPointF(window.mapToGlobal(at))
        buttons = (
            Qt.MouseButton.LeftButton
            if kind == QEvent.Type.MouseButtonPress
            else Qt.MouseButton.NoButton
        )
        event = QMouseEvent(
            kind, local, glob, Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier
        )
        QApplication.sendEvent(target, event)

    def press_corner(self, at: QPoint | None = None) -> None:
        self._mouse(QEvent.Type.MouseButtonPress, at or QPoint(6, 6))

    def release_corner(self, at: QPoint | None = None) -> None:
        self._mouse(QEvent.Type.MouseButtonRelease, at or QPoint(6, 6))

    def hold_corner(self, seconds: float = HOLD_S) -> None:
        """Press the top-left corner, hold it ``seconds`` (kiosk clock), release."""
        self.press_corner()
        self.kiosk.clock.advance(seconds)
        self.release_corner()

    # -- buttons and text --------------------------------------------------------------
    def find(self, name: str) -> QPushButton:
        for b in self.mode.view.findChildren(QPushButton, name):
            if b.isVisible():
                return b
        raise AssertionError(f"no visible staff button {name!r} (phase {self.mode.phase})")

    def visible(self, name: str) -> bool:
        try:
            self.find(name)
        except AssertionError:
            return False
        return True

    def click(self, name: str) -> None:
        """Tap a staff button: a mouse press and release sent to it (as a touch screen
        delivers them; the session time-out sees them), without processing events."""
        b = self.find(name)
        assert b.isEnabled(), f"staff button {name!r} is disabled"
        self._tap(b)

    def press(self, name: str) -> None:
        """Tap a visible staff button whether or not it is enabled (a second tap of an
        impatient hand): a disabled button ignores it."""
        self._tap(self.find(name))

    def _tap(self, b: QPushButton) -> None:
        centre = QPointF(b.rect().center())
        glob = QPointF(b.mapToGlobal(b.rect().center()))
        left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
        for kind, held in ((QEvent.Type.MouseButtonPress, left),
                           (QEvent.Type.MouseButtonRelease, none)):  # fmt: skip
            event = QMouseEvent(kind, centre, glob, left, held, Qt.KeyboardModifier.NoModifier)
            QApplication.sendEvent(b, event)

    def label(self, name: str) -> QLabel:
        for w in self.mode.view.findChildren(QLabel, name):
            if w.isVisible():
                return w
        raise AssertionError(f"no visible staff label {name!r} (phase {self.mode.phase})")

    def text(self, name: str) -> str:
        return self.label(name).text()

    def page_text(self) -> str:
        """Every visible label's text on the staff view."""
        return "\n".join(
            w.text() for w in self.mode.view.findChildren(QLabel) if w.isVisible() and w.text()
        )

    def widget(self, name: str) -> QWidget:
        w = self.mode.view.findChild(QWidget, name)
        assert w is not None, f"no staff widget {name!r}"
        return w

    async def settle(self) -> None:
        """Until every task of the staff screens has finished."""
        await self.mode.tasks.wait_idle()

    # -- getting in --------------------------------------------------------------------
    def type_pin(self, pin: str) -> None:
        for digit in pin:
            self.click(f"pin:{digit}")
        self.click("pin:ok")

    async def enter_pin(self, pin: str) -> None:
        self.type_pin(pin)
        await self.settle()

    async def login(self, pin: str = PIN) -> None:
        self.hold_corner()
        assert self.phase == "pin"
        await self.settle()
        await self.enter_pin(pin)
        assert self.phase == "maintenance", self.page_text()

    async def open(self, page: str) -> None:
        """From anywhere in maintenance mode to ``page``, loaded."""
        if self.mode.page is not None and self.mode.page.name != "menu":
            self.click("staff:menu")
        self.click(f"menu:{page}")
        await self.settle()

    async def confirm(self) -> None:
        self.click("confirm:yes")
        await self.settle()

    async def logout(self) -> None:
        self.click("staff:logout")
        await self.settle()
        assert self.phase == "closed"

    # -- the journal -------------------------------------------------------------------
    async def audit(self, action: str | None = None) -> list[AuditRow]:
        """Audit rows (oldest first), only ``action`` if given."""
        db = self.kiosk.journal.db
        rows = await self.kiosk.journal.call(db.audit, limit=1000)
        return [r for r in reversed(rows) if action is None or r.action == action]

    async def db(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run a journal query on the journal's thread."""
        return await self.kiosk.journal.call(fn, *args, **kwargs)


StaffSession = Callable[..., contextlib.AbstractAsyncContextManager[tuple[Ui, Staff]]]


def staff_sessions(kiosk: Kiosk, qtbot: QtBot) -> StaffSession:
    """``async with session() as (u, staff)``: the customer window on a running flow,
    with maintenance mode wired as :class:`kioskapp.ui.app.KioskApp` wires it."""
    sessions = _sessions(kiosk, qtbot)

    @contextlib.asynccontextmanager
    async def session(
        settings: FlowSettings | None = None,
        *,
        stored_pin: str | None = None,
        **staff_settings: Any,
    ) -> AsyncIterator[tuple[Ui, Staff]]:
        with_pin(kiosk, stored_pin, **staff_settings)
        async with sessions(settings) as u:
            flow, task, _watch = kiosk.flows[-1]
            running = RuntimeKiosk(
                kiosk.config,
                kiosk.clock,
                kiosk.journal,
                kiosk.devices,
                flow,
                RecoveryReport(),
                _flow_task=task,
            )
            service = StaffService(running, config_path=None, actor="staff@screen")
            await service.start()
            u.window.attach_staff(service)
            staff = Staff(u, service)
            try:
                yield u, staff
            finally:
                u.window.staff.tasks.cancel_all()
                await staff.settle()
                await service.stop()

    return session


__all__ = [
    "PIN",
    "Staff",
    "StaffSession",
    "pin_hash",
    "staff_sessions",
    "with_pin",
]
