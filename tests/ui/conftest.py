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
import gc
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import qasync
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication, QLabel, QPushButton, QWidget
from pytestqt.qtbot import QtBot

from kioskapp.app import open_devices
from kioskapp.config import Product
from kioskapp.core.clock import ControlledClock
from kioskapp.core.flow import Flow, FlowSettings, FlowSnapshot, State
from kioskapp.core.journal import Journal
from kioskapp.core.money import Money
from kioskapp.simulator.control import SimControl
from kioskapp.simulator.framework import SimServer
from kioskapp.ui.speech import Speaker
from kioskapp.ui.window import KioskWindow
from tests.flow.conftest import WAIT_S, Kiosk, Watcher, config_for, kiosk  # noqa: F401 (fixture)


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
        return self.window.drawn

    async def until_drawn(
        self, check: Callable[[FlowSnapshot], bool], what: str, timeout: float = WAIT_S
    ) -> FlowSnapshot:
        """Wait until the window has drawn a snapshot that passes ``check``."""
        try:
            return await self.window.until_drawn(check, timeout)
        except TimeoutError:
            raise AssertionError(
                f"timed out waiting for the window to draw {what}; drawn: {self.drawn}"
            ) from None

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

    # -- more helpers -----------------------------------------------------------------
    @property
    def spoken(self) -> list[str]:
        """What the window's speaker said, oldest first."""
        return self.window.speaker.spoken

    def label(self, name: str) -> QLabel:
        """The visible label ``name`` on the current screen or the idle warning."""
        for root in (self.window.current_screen, self.window.idle):
            for w in root.findChildren(QLabel, name):
                if w.isVisible():
                    return w
        raise AssertionError(f"no visible label {name!r} on {self.window.snap.state}")

    def notices(self) -> list[str]:
        """The visible notices (role ``notice``) on the current screen."""
        screen = self.window.current_screen
        return [
            w.text()
            for w in screen.findChildren(QLabel)
            if w.isVisible() and w.property("role") == "notice" and w.text()
        ]

    def buttons(self) -> list[QPushButton]:
        """Every visible button the customer can see: top bar, screen, idle warning."""
        roots = (self.window.top, self.window.current_screen, self.window.idle)
        return [b for root in roots for b in root.findChildren(QPushButton) if b.isVisible()]

    def lay_out(self) -> None:
        """Apply pending layouts now (only layout requests: no other event is processed,
        so no asyncio task runs inside the test's coroutine)."""
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)

    async def until_drawn_ticking(
        self,
        check: Callable[[FlowSnapshot], bool],
        what: str,
        *,
        step: float = 0.5,
        max_steps: int = 240,
    ) -> FlowSnapshot:
        """Wait until the window has drawn a snapshot that passes ``check``, moving the
        controlled clock ``step`` seconds at a time: for work that waits on the kiosk's
        clock (a terminal polled every 0.5 s). Between steps, one round trip to the
        simulators lets the kiosk's requests and the window's drawing run."""
        for _ in range(max_steps):
            snap = self.drawn
            if snap is not None and check(snap):
                return snap
            self.kiosk.clock.advance(step)
            await self.kiosk.control.clock()
        raise AssertionError(
            f"{what} not drawn after {max_steps * step:.0f} simulated seconds; drawn: {self.drawn}"
        )

    # -- parts of a journey -----------------------------------------------------------
    async def start_sale(self, sku: str) -> FlowSnapshot:
        """From attract to the identify screen with ``sku`` chosen."""
        self.click("start")
        await self.until_state(State.CHOOSING)
        self.click(f"product:{sku}")
        return await self.until_state(State.IDENTIFYING)

    async def to_payment_choice(self, sku: str = "CASHBACK-CARD") -> FlowSnapshot:
        """From attract to the payment choice for ``sku``, without a cashback card."""
        await self.start_sale(sku)
        self.click("identify:no")
        return await self.until_state(State.PAYMENT_CHOICE)

    async def until_bill_reader_open(self) -> FlowSnapshot:
        return await self.until_drawn(
            lambda s: (
                s.state is State.PAYING
                and s.payment_method == "cash"
                and s.payment_status is not None
                and s.payment_status.phase == "waiting_for_customer"
            ),
            "the bill reader open",
        )

    async def pay_cash(self, sku: str, *notes: int) -> str:
        """From attract to ``notes`` paid in cash for ``sku``; returns the sale id."""
        choice = await self.to_payment_choice(sku)
        assert choice.sale_id is not None
        self.click("pay:cash")
        await self.until_bill_reader_open()
        currency = self.kiosk.config.kiosk.currency
        paid = Money(0, currency)
        for note in notes:
            await self.kiosk.insert_note(note)
            paid += Money.from_major(note, currency)

            def taken(snap: FlowSnapshot, paid: Money = paid) -> bool:
                return snap.amount_paid == paid

            await self.until_drawn(taken, f"{paid} paid")
        return choice.sale_id


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
    return _sessions(kiosk, qtbot)


def _sessions(kiosk: Kiosk, qtbot: QtBot) -> UiSession:  # noqa: F811
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


#: The dollar kiosk's one product: PayJunction takes only US dollars, and the CardAPI
#: simulator's blank cards are euro passes, so it hands out no card (and posts no debit).
TOPUP = Product(sku="TOPUP-10", name="Top-up 10", price_minor=1000, dispenses_card=False)


@pytest_asyncio.fixture
async def dollar_kiosk(
    sim: SimServer, sim_control: SimControl, clock: ControlledClock, tmp_path: Path
) -> AsyncIterator[Kiosk]:
    """A kiosk in US dollars with the PayJunction terminal, selling :data:`TOPUP`."""
    base = config_for(sim, tmp_path, "payjunction")
    config = replace(base, kiosk=replace(base.kiosk, currency="USD"), products=(TOPUP,))
    devices = await open_devices(config, clock=clock)
    journal = Journal(tmp_path / "journal.sqlite3", clock=clock)
    k = Kiosk(config, devices, journal, clock, sim_control)
    try:
        yield k
    finally:
        try:
            await k.shutdown()
        finally:
            await devices.aclose()
            await journal.aclose()


@pytest.fixture
def dollar_ui(dollar_kiosk: Kiosk, qtbot: QtBot) -> UiSession:
    """``ui`` on :func:`dollar_kiosk`."""
    return _sessions(dollar_kiosk, qtbot)


@pytest.fixture
def staff_ui(kiosk: Kiosk, qtbot: QtBot) -> Any:  # noqa: F811
    """``ui`` with maintenance mode wired as the app wires it: ``async with
    staff_ui() as (u, staff)`` (see tests/ui/staff_helpers.py)."""
    from tests.ui.staff_helpers import staff_sessions

    return staff_sessions(kiosk, qtbot)


@pytest.fixture(autouse=True)
def _collect_garbage_on_the_qt_thread() -> Iterator[None]:
    """Python's cyclic garbage collector runs in whichever thread allocates when it
    triggers: a journal or executor thread could then destroy Qt objects of an
    earlier test (windows, timers) off the Qt thread, which crashes Qt. During a UI
    test the collector is off; it runs here, on the Qt thread, between tests."""
    gc.collect()
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect()
