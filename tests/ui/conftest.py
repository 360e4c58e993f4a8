"""The customer window on a real kiosk: the simulators over loopback, the wired
devices, a real journal and the flow on the test's controlled clock, with Qt and
asyncio on one qasync loop (every async test in tests/ui runs on it).

``ui`` is a :class:`Ui`: the window attached to a running flow, and helpers that
press buttons as a customer would (by object name, only when visible and enabled)
and wait until the window has drawn a state.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import qasync
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from kioskapp.core.flow import Flow, FlowSettings, FlowSnapshot, State
from kioskapp.ui.speech import Speaker
from kioskapp.ui.window import KioskWindow
from tests.flow.conftest import WAIT_S, Kiosk, Watcher, kiosk  # noqa: F401 (fixture)


def _qt_loop() -> asyncio.AbstractEventLoop:
    app = QApplication.instance() or QApplication([])
    return qasync.QEventLoop(app)


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> dict[str, Any]:
    """Async tests of the UI run on a Qt event loop (qasync)."""
    return {"qt": _qt_loop}


@dataclass
class Ui:
    kiosk: Kiosk
    flow: Flow
    watch: Watcher
    window: KioskWindow
    qtbot: QtBot

    @property
    def drawn(self) -> FlowSnapshot | None:
        return self.window._drawn

    async def until_drawn(
        self, check: Callable[[FlowSnapshot], bool], what: str, timeout: float = WAIT_S
    ) -> FlowSnapshot:
        """Wait until the window has drawn a snapshot that passes ``check``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            snap = self.drawn
            if snap is not None and check(snap):
                return snap
            fut: asyncio.Future[None] = loop.create_future()

            def wake(_snap: object, fut: asyncio.Future[None] = fut) -> None:
                if not fut.done():
                    fut.set_result(None)

            self.window.rendered.connect(wake)
            try:
                await asyncio.wait_for(fut, max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise AssertionError(
                    f"timed out waiting for the window to draw {what}; drawn: {self.drawn}"
                ) from None
            finally:
                self.window.rendered.disconnect(wake)

    async def until_state(self, state: State, timeout: float = WAIT_S) -> FlowSnapshot:
        return await self.until_drawn(lambda s: s.state is state, f"state {state}", timeout)

    def find(self, name: str) -> QPushButton:
        """The button ``name`` on the current screen or the top bar or idle warning."""
        for root in (self.window.current_screen, self.window.top, self.window.idle):
            for b in root.findChildren(QPushButton, name):
                if b.isVisible():
                    return b
        raise AssertionError(f"no visible button {name!r} on {self.window.snap.state}")

    def visible(self, name: str) -> bool:
        try:
            self.find(name)
        except AssertionError:
            return False
        return True

    def click(self, name: str) -> None:
        """Press a button. (``b.click()``: QTest's mouse clicks process Qt events inside
        the running test coroutine, which would run other asyncio tasks re-entrantly.)"""
        b = self.find(name)
        assert b.isEnabled(), f"button {name!r} is disabled"
        b.click()

    def key(self, key: Qt.Key, text: str = "") -> None:
        """Type one key where the keyboard focus is, as the keyboard would."""
        target = QApplication.focusWidget() or self.window
        press = QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier, text)
        QApplication.sendEvent(target, press)
        release = QKeyEvent(QEvent.Type.KeyRelease, key, Qt.KeyboardModifier.NoModifier, text)
        QApplication.sendEvent(target, release)

    def texts(self, root: QWidget | None = None) -> list[str]:
        """Every visible label's text on the current screen (or ``root``)."""
        root = root or self.window.current_screen
        return [w.text() for w in root.findChildren(QLabel) if w.isVisible() and w.text()]

    def screen_text(self) -> str:
        return "\n".join(self.texts())


#: ``ui`` fixture: ``async with ui() as u`` (optionally ``ui(FlowSettings(...))``).
UiSession = Callable[..., contextlib.AbstractAsyncContextManager[Ui]]


@pytest.fixture
def ui(kiosk: Kiosk, qtbot: QtBot) -> UiSession:  # noqa: F811
    """``async with ui() as u:`` the customer window attached to a running flow on the
    kiosk (TPV unless the ``kiosk`` fixture is parametrised).

    The flow starts inside the test's coroutine, never in a fixture: between a
    fixture and the test the loop is not running, and Qt events processed then
    (pytest-qt does) would step asyncio tasks with no running loop.
    """

    @contextlib.asynccontextmanager
    async def session(settings: FlowSettings | None = None) -> AsyncIterator[Ui]:
        flow, watch = kiosk.start(settings or FlowSettings.from_config(kiosk.config))
        window = KioskWindow(kiosk.config, speaker=Speaker(enabled=True, engine="mock"))
        qtbot.addWidget(window)
        window.resize(1280, 860)
        window.show()
        window.attach(flow)
        u = Ui(kiosk, flow, watch, window, qtbot)
        try:
            await u.until_state(State.ATTRACT)
            yield u
        finally:
            window.detach()
            await kiosk.shutdown()
            kiosk.flows.clear()

    return session
