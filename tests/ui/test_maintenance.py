"""Getting into maintenance mode and out again: the hidden corner, the staff PIN (wrong,
right, lockout, none set), the session time-out, log out, the out-of-service toggle as
customers see it, and restart / quit of the app. Timers run on the controlled clock."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint

from kioskapp import runtime
from kioskapp.config import Config, load_config
from kioskapp.core.flow import FlowSnapshot, Start, State
from kioskapp.core.journal import JournalDB
from kioskapp.runtime import Kiosk as RunningKiosk
from kioskapp.simulator.framework import SimServer
from kioskapp.staff.service import (
    OOS_STATE_KEY,
    STAFF_OOS_REASON,
    StaffService,
    out_of_service_toggle,
)
from kioskapp.ui.app import (
    EXIT_RESTART,
    EXIT_STAFF_QUIT,
    KioskApp,
    RunOptions,
    restart_if_asked,
)
from kioskapp.ui.i18n import texts_for
from kioskapp.ui.staff.gesture import CORNER_PX, HOLD_S, StaffCorner
from kioskapp.ui.staff.mode import PIN_IDLE_S
from tests.flow.conftest import WAIT_S, Kiosk, config_for
from tests.staff.conftest import record_out_of_service
from tests.ui.staff_helpers import PIN, StaffSession

EN = texts_for("en")


# -- the corner -------------------------------------------------------------------------
async def test_a_short_press_on_the_corner_does_nothing(staff_ui: StaffSession) -> None:
    async with staff_ui() as (u, staff):
        assert isinstance(u.window.childAt(QPoint(3, 3)), StaffCorner)
        staff.hold_corner(HOLD_S - 0.5)
        assert staff.phase == "closed"
        assert not staff.mode.view.isVisible()
        assert u.window.current_screen.isVisible()
        assert u.drawn is not None
        assert u.drawn.state is State.ATTRACT
        assert await staff.audit() == []


async def test_sliding_out_of_the_corner_cancels_the_hold(staff_ui: StaffSession) -> None:
    async with staff_ui() as (u, staff):
        staff.press_corner()
        u.kiosk.clock.advance(HOLD_S + 1)
        staff.release_corner(QPoint(CORNER_PX + 200, CORNER_PX + 200))
        assert staff.phase == "closed"
        # and the next press starts a new hold
        staff.press_corner()
        u.kiosk.clock.advance(1)
        staff.release_corner()
        assert staff.phase == "closed"


async def test_a_tap_on_the_corner_reaches_the_button_below(staff_ui: StaffSession) -> None:
    async with staff_ui() as (u, staff):
        first = u.find(f"lang:{u.flow.snapshot.languages[0]}")
        other = u.flow.snapshot.languages[1]
        at = first.mapTo(u.window, first.rect().topLeft()) + QPoint(4, 4)
        assert at.x() < CORNER_PX, "the corner overlaps that button"
        assert at.y() < CORNER_PX, "the corner overlaps that button"
        u.click(f"lang:{other}")
        await u.until_drawn(lambda s: s.language == other, f"language {other}")
        staff.press_corner(at)
        u.kiosk.clock.advance(0.2)
        staff.release_corner(at)
        first_lang = u.flow.snapshot.languages[0]
        await u.until_drawn(lambda s: s.language == first_lang, f"language {first_lang}")
        assert staff.phase == "closed"


async def test_holding_the_corner_shows_the_pin_screen(staff_ui: StaffSession) -> None:
    async with staff_ui() as (u, staff):
        staff.hold_corner()
        assert staff.phase == "pin"
        await staff.settle()
        assert staff.mode.view.isVisible()
        assert not u.window.current_screen.isVisible()
        assert not u.window.top.isVisible()
        assert staff.visible("pin:cancel")
        assert staff.text("pin:prompt") == "Enter the staff PIN."
        # the flow goes on underneath: nothing changes for it until the PIN is right
        assert u.flow.state is State.ATTRACT


async def test_the_corner_is_ignored_during_a_sale(
    staff_ui: StaffSession, caplog: pytest.LogCaptureFixture
) -> None:
    async with staff_ui() as (u, staff):
        u.click("start")
        await u.until_state(State.CHOOSING)
        with caplog.at_level(logging.INFO, logger="kioskapp.ui.staff"):
            staff.hold_corner()
        assert staff.phase == "closed"
        assert u.window.current_screen.isVisible()
        assert any(
            r.levelno == logging.INFO and "during a customer's sale" in r.getMessage()
            for r in caplog.records
        )


# -- the PIN ----------------------------------------------------------------------------
async def test_a_wrong_pin_says_how_many_attempts_are_left(staff_ui: StaffSession) -> None:
    async with staff_ui() as (u, staff):
        staff.hold_corner()
        await staff.settle()
        await staff.enter_pin("1111")
        assert staff.phase == "pin"
        assert staff.text("pin:status") == "Wrong PIN, 4 attempts left."
        assert staff.widget("pin:digits").property("text") == ""
        await staff.enter_pin("2222")
        assert staff.text("pin:status") == "Wrong PIN, 3 attempts left."
        wrong = await staff.audit("staff.pin_wrong")
        assert [r.details["attempts_left"] for r in wrong] == [4, 3]
        assert all(PIN not in str(r.details) and "1111" not in str(r.details) for r in wrong)
        assert u.flow.state is State.ATTRACT


async def test_the_right_pin_opens_maintenance_mode_and_stops_sales(
    staff_ui: StaffSession,
) -> None:
    async with staff_ui() as (u, staff):
        await staff.login()
        assert staff.visible("menu:cash")
        assert staff.visible("staff:logout")
        assert [r.action for r in await staff.audit()] == ["staff.login", "staff.enter"]
        assert u.flow.state is State.OUT_OF_SERVICE
        assert u.flow.snapshot.out_of_service_reason == STAFF_OOS_REASON


async def test_pin_digits_can_be_typed_on_a_keyboard(staff_ui: StaffSession) -> None:
    from PySide6.QtCore import Qt

    async with staff_ui() as (u, staff):
        staff.hold_corner()
        await staff.settle()
        for digit in PIN:
            u.key(Qt.Key(Qt.Key.Key_0.value + int(digit)), digit)
        assert len(staff.widget("pin:digits").property("text")) == len(PIN)
        u.key(Qt.Key.Key_Return)  # Enter sends the PIN typed (not a click on a digit key)
        await staff.settle()
        assert staff.phase == "maintenance"


async def test_five_wrong_pins_lock_pin_entry_until_the_lock_ends(
    staff_ui: StaffSession, kiosk: Kiosk
) -> None:
    lockout_s = 45.0  # shorter than the PIN screen's idle limit: the lock ends on screen
    async with staff_ui(lockout_s=lockout_s) as (u, staff):
        staff.hold_corner()
        await staff.settle()
        for _ in range(kiosk.config.staff.lockout_attempts):
            await staff.enter_pin("9999")
        assert staff.text("pin:status") == "Too many wrong PINs: locked for 0:45."
        assert not staff.find("pin:1").isEnabled()
        assert not staff.find("pin:ok").isEnabled()
        assert staff.find("pin:cancel").isEnabled()
        assert len(await staff.audit("staff.pin_locked_out")) == 1
        # the countdown runs on the kiosk's clock
        u.kiosk.clock.advance(1)
        assert staff.text("pin:status") == "Too many wrong PINs: locked for 0:44."
        # still locked when the screen is opened again
        staff.click("pin:cancel")
        assert staff.phase == "closed"
        staff.hold_corner()  # 3 s
        await staff.settle()
        assert staff.text("pin:status") == "Too many wrong PINs: locked for 0:41."
        assert not staff.find("pin:1").isEnabled()
        # the lock ends: the keypad is back and the right PIN lets staff in
        u.kiosk.clock.advance(41)
        assert not staff.widget("pin:status").isVisible()
        assert staff.find("pin:1").isEnabled()
        await staff.enter_pin(PIN)
        assert staff.phase == "maintenance"


async def test_the_lockout_outlives_the_pin_screen(staff_ui: StaffSession, kiosk: Kiosk) -> None:
    lockout_s = kiosk.config.staff.lockout_s
    async with staff_ui() as (u, staff):
        staff.hold_corner()
        await staff.settle()
        for _ in range(kiosk.config.staff.lockout_attempts):
            await staff.enter_pin("9999")
        minutes, seconds = divmod(int(lockout_s), 60)
        assert staff.text("pin:status").endswith(f"locked for {minutes}:{seconds:02d}.")
        u.kiosk.clock.advance(lockout_s - 10)  # the PIN screen closed meanwhile
        assert staff.phase == "closed"
        staff.hold_corner()
        await staff.settle()
        assert staff.text("pin:status") == "Too many wrong PINs: locked for 0:07."
        u.kiosk.clock.advance(7)
        assert staff.find("pin:1").isEnabled()
        await staff.enter_pin(PIN)
        assert staff.phase == "maintenance"


async def test_no_pin_set_says_how_to_set_one(staff_ui: StaffSession) -> None:
    async with staff_ui(stored_pin="") as (_u, staff):
        staff.hold_corner()
        await staff.settle()
        assert staff.text("pin:status") == (
            "No staff PIN is set: run `kioskapp admin set-pin` on the kiosk to set one."
        )
        assert not staff.find("pin:ok").isEnabled()
        staff.click("pin:cancel")
        assert staff.phase == "closed"


async def test_cancel_goes_back_to_the_customers(staff_ui: StaffSession) -> None:
    async with staff_ui() as (u, staff):
        staff.hold_corner()
        await staff.settle()
        staff.click("pin:1")
        staff.click("pin:cancel")
        assert staff.phase == "closed"
        assert u.window.current_screen.isVisible()
        assert u.window.top.isVisible()
        u.click("start")  # customers can use the kiosk at once
        await u.until_state(State.CHOOSING)
        assert await staff.audit() == []


async def test_the_pin_screen_left_alone_goes_back_to_the_customers(
    staff_ui: StaffSession,
) -> None:
    async with staff_ui() as (u, staff):
        staff.hold_corner()
        await staff.settle()
        u.kiosk.clock.advance(PIN_IDLE_S - 1)
        assert staff.phase == "pin"
        u.kiosk.clock.advance(1)
        assert staff.phase == "closed"
        assert u.window.current_screen.isVisible()


async def test_escape_cancels_the_pin_and_goes_back_to_the_menu(staff_ui: StaffSession) -> None:
    from PySide6.QtCore import Qt

    async with staff_ui() as (u, staff):
        staff.hold_corner()
        await staff.settle()
        u.key(Qt.Key.Key_Escape)
        assert staff.phase == "closed"
        assert u.window.current_screen.isVisible()
        await staff.login()
        await staff.open("cash")
        staff.click("cash:collect")
        u.key(Qt.Key.Key_Escape)  # closes the question, stays on the page
        assert not staff.visible("confirm:yes")
        assert staff.mode.page is staff.mode.pages["cash"]
        u.key(Qt.Key.Key_Escape)  # back to the menu
        assert staff.visible("menu:cash")
        u.key(Qt.Key.Key_Escape)  # the menu stays: leaving needs Log out
        assert staff.phase == "maintenance"
        await staff.settle()


# -- leaving ----------------------------------------------------------------------------
async def test_log_out_returns_to_the_customers(staff_ui: StaffSession) -> None:
    async with staff_ui() as (u, staff):
        await staff.login()
        await staff.logout()
        await u.until_state(State.ATTRACT)
        assert u.window.current_screen.isVisible()
        [leave] = await staff.audit("staff.leave")
        assert leave.details == {"reason": "logout"}


async def test_the_session_times_out_without_input(staff_ui: StaffSession, kiosk: Kiosk) -> None:
    timeout = kiosk.config.staff.session_timeout_s
    async with staff_ui() as (u, staff):
        await staff.login()
        await staff.open("about")
        u.kiosk.clock.advance(timeout - 10)
        assert staff.phase == "maintenance"
        staff.click("staff:menu")  # input: the time-out starts again
        await staff.settle()
        u.kiosk.clock.advance(timeout - 10)
        assert staff.phase == "maintenance"
        u.kiosk.clock.advance(10)
        await staff.settle()
        assert staff.phase == "closed"
        await u.until_state(State.ATTRACT)
        assert u.window.current_screen.isVisible()
        [leave] = await staff.audit("staff.leave")
        assert leave.details == {"reason": "timeout"}


async def test_out_of_service_reaches_the_customer_screen(staff_ui: StaffSession) -> None:
    async with staff_ui() as (u, staff):
        await staff.login()
        await staff.open("service")
        assert staff.text("service:state") == "The kiosk is in service."
        staff.click("service:toggle")
        await staff.settle()
        assert staff.text("service:state") == "The kiosk is OUT OF SERVICE."
        [toggle] = await staff.audit("kiosk.out_of_service")
        await staff.logout()
        snap = await u.until_drawn(
            lambda s: (
                s.state is State.OUT_OF_SERVICE and s.out_of_service_reason == STAFF_OOS_REASON
            ),
            "out of service by staff",
        )
        assert snap.out_of_service_reason == STAFF_OOS_REASON
        assert EN("out_of_service.staff") in u.screen_text()
        # back in service
        await staff.login()
        await staff.open("service")
        staff.click("service:toggle")
        await staff.settle()
        assert len(await staff.audit("kiosk.out_of_service")) == 2
        assert toggle.details != (await staff.audit("kiosk.out_of_service"))[1].details
        await staff.logout()
        await u.until_state(State.ATTRACT)


# -- restart and quit -------------------------------------------------------------------
@pytest.mark.parametrize(("kind", "code"), [("restart", EXIT_RESTART), ("quit", EXIT_STAFF_QUIT)])
async def test_restart_and_quit_ask_the_app_to_exit(
    staff_ui: StaffSession, kind: str, code: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with staff_ui() as (u, staff):
        asked: list[str] = []
        u.window.exit_requested.connect(asked.append)
        await staff.login()
        await staff.open("app")
        staff.click(f"app:{kind}")
        assert staff.visible("confirm:no")
        staff.click("confirm:no")  # changed their mind: nothing happens
        await staff.settle()
        assert asked == []
        flow_asked = record_out_of_service(u.flow, monkeypatch)
        staff.click(f"app:{kind}")
        await staff.confirm()
        assert asked == [kind]
        actions = [r.action for r in await staff.audit()]
        assert actions[-1] == "staff.leave"
        assert (await staff.audit("staff.leave"))[-1].details == {"reason": kind}
        assert any(kind in a for a in actions[:-1])
        # Until the app exits no customer can start a sale, and the staff toggle kept
        # in the journal is unchanged (the next start applies it).
        assert flow_asked == []
        assert u.flow.snapshot.out_of_service_reason == STAFF_OOS_REASON
        assert not await staff.db(out_of_service_toggle, u.kiosk.db)
        # the app turns the request into its exit status
        app = KioskApp(load_config(None, env={}), RunOptions(windowed=True), None)
        try:
            app.window.exit_requested.emit(kind)
            assert app.stop_requested.is_set()
            assert app.exit_code == code
        finally:
            app.window.close()
            app.window.deleteLater()


def test_restart_reexecutes_only_outside_systemd(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr("os.execv", lambda path, argv: calls.append((path, list(argv))))
    restart_if_asked(EXIT_RESTART, {"INVOCATION_ID": "abc"})
    restart_if_asked(EXIT_STAFF_QUIT, {})
    restart_if_asked(0, {})
    assert calls == []
    restart_if_asked(EXIT_RESTART, {})
    import sys

    assert calls == [(sys.executable, list(sys.orig_argv))]


async def test_restart_waits_for_the_staff_actions_still_running(
    staff_ui: StaffSession,
) -> None:
    async with staff_ui() as (u, staff):
        await staff.login()
        order: list[str] = []
        u.window.exit_requested.connect(order.append)
        release = asyncio.Event()

        async def refill_when_released() -> None:
            await release.wait()
            await staff.service.record_refill(5)
            order.append("refill")

        staff.mode.tasks.start(refill_when_released(), "refill")
        exiting = asyncio.ensure_future(staff.mode.exit_app("restart"))
        for _ in range(20):  # journal round trips: the exit goes as far as it may
            await staff.db(lambda: None)
        assert order == []
        assert not exiting.done()
        release.set()
        await exiting
        assert order == ["refill", "restart"]
        actions = [r.action for r in await staff.audit()]
        assert actions[-3:] == ["hopper.refill", "app.restart", "staff.leave"]


def app_config(sim: SimServer, tmp_path: Path) -> Config:
    """The kiosk's config on the simulators, its journal in ``tmp_path``, no speech."""
    config = config_for(sim, tmp_path)
    return replace(config, ui=replace(config.ui, speech=False))


async def start_app(
    app: KioskApp, ready: asyncio.Event
) -> tuple[asyncio.Future[int], StaffService]:
    """KioskApp.main running until its flow runs (``ready``); its staff service."""
    main = asyncio.ensure_future(app.main())
    await asyncio.wait_for(ready.wait(), WAIT_S)
    service = app.window.staff.service
    assert service is not None
    assert service.kiosk is app.kiosk
    return main, service


async def test_a_stop_in_maintenance_mode_finishes_the_action_and_audits_the_leave(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM (or the watchdog) while staff are in maintenance mode: the staff action
    that runs finishes, and staff.leave (reason "shutdown") is audited, before the
    kiosk and its journal close."""
    config = app_config(sim, tmp_path)
    ready = asyncio.Event()
    options = RunOptions(windowed=True, on_ready=lambda _kiosk, _window: ready.set())
    app = KioskApp(config, options, None)
    try:
        main, service = await start_app(app, ready)
        await service.enter()
        release = asyncio.Event()

        async def refill_when_released() -> None:
            await release.wait()
            await service.record_refill(7)

        app.window.staff.tasks.start(refill_when_released(), "refill")
        stopping = app.systemd.stopping

        def stopping_then_release() -> None:
            stopping()
            release.set()  # the action goes on only once the app is stopping

        monkeypatch.setattr(app.systemd, "stopping", stopping_then_release)
        app.request_stop()  # what SIGTERM and SIGINT do
        assert await asyncio.wait_for(main, WAIT_S) == 0
    finally:
        app.window.close()
        app.window.deleteLater()
    db = JournalDB(config.journal.path, existing="read")
    try:
        audit = [(r.action, r.details) for r in reversed(db.audit())]
    finally:
        db.close()
    assert audit[-2:] == [("hopper.refill", {"cards": 7}), ("staff.leave", {"reason": "shutdown"})]


async def test_the_app_wires_maintenance_mode_and_exits_for_a_restart(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """KioskApp.main as `kioskapp` runs it: the staff service handed to the window, the
    staff toggle applied before the first customer, and staff's restart → status 75."""
    config = app_config(sim, tmp_path)
    db = JournalDB(config.journal.path)  # staff left the kiosk out of service, then it stopped
    try:
        db.set_state(OOS_STATE_KEY, {"on": True})
    finally:
        db.close()
    ready = asyncio.Event()
    shown = asyncio.Event()
    seen: list[FlowSnapshot] = []

    def watch(snap: FlowSnapshot) -> None:
        seen.append(snap)
        if snap.state is State.OUT_OF_SERVICE:
            shown.set()

    opened = runtime.open_kiosk

    async def open_and_watch(config: Config) -> RunningKiosk:
        kiosk = await opened(config)
        kiosk.flow.on_change(watch)  # before the flow runs: every screen it shows is seen
        kiosk.flow.submit(Start())  # a customer taps the attract screen at once
        return kiosk

    monkeypatch.setattr(runtime, "open_kiosk", open_and_watch)
    options = RunOptions(windowed=True, on_ready=lambda _kiosk, _window: ready.set())
    app = KioskApp(config, options, None)
    try:
        main, service = await start_app(app, ready)
        assert service.actor == "staff@screen"
        await asyncio.wait_for(shown.wait(), WAIT_S)
        assert service.out_of_service()
        # The flow's first check of the kiosk found it out of service for staff: the
        # customer's tap, waiting for it, started no sale.
        assert {s.state for s in seen} <= {State.ATTRACT, State.OUT_OF_SERVICE}
        reasons = [s.out_of_service_reason for s in seen if s.state is State.OUT_OF_SERVICE]
        assert reasons[0] == STAFF_OOS_REASON
        assert app.kiosk is not None
        assert app.kiosk.flow.state is State.OUT_OF_SERVICE
        app.window.exit_requested.emit("restart")
        assert await asyncio.wait_for(main, WAIT_S) == EXIT_RESTART
        assert app.window.staff.service is None  # detached when the kiosk stopped
    finally:
        app.window.close()
        app.window.deleteLater()
