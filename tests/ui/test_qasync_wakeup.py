"""Coroutines on the Qt loop (qasync) wake up as soon as what they wait for happens:
a future completed from a Qt callback, a click that becomes an intent and a new
state, a result handed over from another thread, and the app's start-up, which
waits for the first painted frame before opening the kiosk.

(The app used to poll for the first paint, on the belief that a future completed
from a Qt callback woke its coroutine only at the time-out. The cause was elsewhere:
``asyncio.wait({first_paint, stop_wait}, timeout=5.0)`` waits for ALL of them by
default, so it returned at its time-out whatever the paint did.)

Each wait runs under a guard timer: a wake-up that only came when some later timer
ran the loop again would come after the guard, and the test fails.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import pytest
from PySide6.QtCore import QTimer
from pytestqt.qtbot import QtBot

from kioskapp import runtime
from kioskapp.config import Config, load_config
from kioskapp.core.flow import State
from kioskapp.ui.app import KioskApp, RunOptions, _notify_first_paint
from kioskapp.ui.window import KioskWindow
from tests.ui.conftest import UiSession

T = TypeVar("T")

#: Seconds before the guard fires: far longer than any prompt wake-up, and shorter
#: than the time-outs a wake-up could otherwise be waiting for (5 s at start-up).
GUARD_S = 2.5


async def promptly(awaitable: Awaitable[T]) -> T:
    """The result of ``awaitable``, which must come before the guard timer fires."""
    late = False

    def fired() -> None:
        nonlocal late
        late = True

    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(fired)
    guard.start(int(GUARD_S * 1000))
    try:
        result = await asyncio.wait_for(awaitable, GUARD_S * 4)
    finally:
        guard.stop()
    assert not late, "the coroutine woke only after the guard timer had fired"
    return result


async def test_a_future_completed_in_a_qt_callback_wakes_its_coroutine() -> None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[str] = loop.create_future()
    QTimer.singleShot(0, lambda: fut.set_result("painted"))
    assert await promptly(fut) == "painted"


async def test_waiting_for_the_first_of_two_wakes_on_the_one_done() -> None:
    loop = asyncio.get_running_loop()
    painted: asyncio.Future[None] = loop.create_future()
    stop: asyncio.Future[None] = loop.create_future()  # never done here
    QTimer.singleShot(0, lambda: painted.set_result(None))
    done, pending = await promptly(
        asyncio.wait({painted, stop}, timeout=GUARD_S * 2, return_when=asyncio.FIRST_COMPLETED)
    )
    assert (done, pending) == ({painted}, {stop})
    stop.cancel()


async def test_a_result_from_another_thread_wakes_the_loop() -> None:
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[int] = loop.create_future()
    worker = threading.Thread(target=lambda: loop.call_soon_threadsafe(fut.set_result, 42))
    worker.start()
    try:
        assert await promptly(fut) == 42
        # asyncio.to_thread (receipts are rendered so) hands its result back the same way
        name = await promptly(asyncio.to_thread(lambda: threading.current_thread().name))
        assert name != threading.current_thread().name
    finally:
        worker.join()


async def test_a_click_becomes_an_intent_and_the_new_state_is_drawn(ui: UiSession) -> None:
    async with ui() as u:
        u.click("start")
        drawn = await promptly(u.until_state(State.CHOOSING))
        assert drawn.state is State.CHOOSING
        u.click("product:GIFT-20")
        await promptly(u.until_state(State.IDENTIFYING))


@pytest.fixture
def app_config(tmp_path: Path) -> Config:
    """The defaults, with the state (journal) under the test's own directory: never the
    host's /var/lib/kioskapp."""
    env = {
        "KIOSKAPP_UI__SPEECH": "false",
        "KIOSKAPP_KIOSK__STATE_DIR": str(tmp_path / "state"),
        "KIOSKAPP_JOURNAL__PATH": str(tmp_path / "state" / "journal.sqlite3"),
    }
    return load_config(None, env=env)


async def test_the_app_opens_the_kiosk_as_soon_as_the_first_frame_is_painted(
    app_config: Config, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    kiosk_app = KioskApp(app_config, RunOptions(windowed=True), None)
    qtbot.addWidget(kiosk_app.window)
    first_paint: asyncio.Future[None] = loop.create_future()
    kiosk_app.first_paint = first_paint
    opened: list[bool] = []

    def painted(window: KioskWindow) -> None:
        assert window is kiosk_app.window
        first_paint.set_result(None)

    async def open_kiosk(config: Config) -> None:
        opened.append(first_paint.done())
        kiosk_app.request_stop()  # this test ends here: no kiosk is opened
        raise RuntimeError("no kiosk in this test")

    monkeypatch.setattr(runtime, "open_kiosk", open_kiosk)
    _notify_first_paint(kiosk_app.window, painted)
    kiosk_app.window.show()
    assert await promptly(kiosk_app.main()) == 0
    assert opened == [True]  # after the paint, not at the wait's time-out
