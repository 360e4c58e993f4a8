"""The link to systemd (kioskapp.ui.watchdog): READY, STATUS, STOPPING and the watchdog.

In-process: a ServiceLink on the Qt loop over a fake kiosk with a real journal, a
monotonic clock the test moves, and a real datagram socket standing in for
systemd's; the app's start-up (READY only once a frame is on screen) with its
kiosk opening replaced. One test runs the whole app in a process of its own, as
systemd would, and stalls its Qt loop with the watchdog drill.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from kioskapp import runtime
from kioskapp.config import Config, load_config
from kioskapp.core.journal import Journal
from kioskapp.sdnotify import Notifier
from kioskapp.ui import app as ui_app
from kioskapp.ui.app import KioskApp, RunOptions
from kioskapp.ui.watchdog import DRILL_ENV_VAR, ServiceLink
from tests.flow.conftest import free_port
from tests.notify_socket import NotifySocket, is_ready, is_watchdog, status_starts

WAIT_S = 15.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeReader:
    running: bool = True


@dataclass
class FakeDevices:
    serial: FakeReader | None = None


@dataclass
class FakeKiosk:
    journal: Journal
    devices: FakeDevices = field(default_factory=FakeDevices)
    flow_task: asyncio.Task[None] | None = None


@pytest.fixture
def listener() -> Iterator[NotifySocket]:
    with NotifySocket() as sock:
        yield sock


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite3")
    yield j
    j._executor.shutdown(wait=True)
    j.db.close()


async def until(check: Callable[[], bool], what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def make_link(
    listener: NotifySocket,
    kiosk: Any,
    clock: FakeClock,
    *,
    watchdog_s: float = 3600.0,
    heartbeat_period_s: float = 0.01,
) -> ServiceLink:
    """A link whose QTimer would fire only after ``watchdog_s / 6`` (the tests call
    tick()) and whose heartbeat runs every ``heartbeat_period_s`` real seconds."""
    notifier = Notifier(listener.address, watchdog_usec=int(watchdog_s * 1_000_000))
    return ServiceLink(notifier, lambda: kiosk, clock=clock, heartbeat_period_s=heartbeat_period_s)


async def advance(link: ServiceLink, clock: FakeClock, seconds: float) -> None:
    """Move the clock, then let the asyncio side beat at the new time."""
    clock.now += seconds
    await until(lambda: link.last_beat == clock.now, "a heartbeat")


async def test_a_healthy_kiosk_feeds_the_watchdog(listener: NotifySocket, journal: Journal) -> None:
    kiosk = FakeKiosk(journal, FakeDevices(FakeReader()))
    clock = FakeClock()
    link = make_link(listener, kiosk, clock, watchdog_s=30.0)
    link.start(asyncio.get_running_loop())
    try:
        assert link._timer is not None
        assert link._timer.interval() == 5_000  # a sixth of 30 s
        assert (link.heartbeat_max_age_s, link.journal_deadline_s) == (15.0, 15.0)
        link.started()
        assert link.tick()
        listener.until(is_watchdog, "WATCHDOG=1")
    finally:
        link.stopping()
    listener.until(lambda m: "STOPPING" in m, "STOPPING=1")
    assert listener.messages == [
        {"READY": "1", "STATUS": "running"},
        {"WATCHDOG": "1"},
        {"STOPPING": "1", "STATUS": "stopping"},
    ]
    assert link._timer is None


async def test_a_stuck_journal_thread_withholds_the_watchdog(
    listener: NotifySocket, journal: Journal
) -> None:
    kiosk = FakeKiosk(journal)
    clock = FakeClock()
    link = make_link(listener, kiosk, clock, watchdog_s=20.0)
    link.start(asyncio.get_running_loop())
    link.started()
    release = threading.Event()
    stuck = asyncio.ensure_future(journal.call(release.wait))  # the journal thread blocks
    try:
        assert link.tick()  # a ping is sent to the journal thread: not late yet
        await advance(link, clock, 9.0)
        assert link.check() == []  # within the deadline (half of 20 s)
        await advance(link, clock, 2.0)
        assert link.check() == ["the journal thread has not answered for 11 s"]
        assert not link.tick()
        listener.until(status_starts("unhealthy: the journal thread"), "the unhealthy STATUS")
        assert listener.count("WATCHDOG") == 1
        release.set()
        await stuck
        await until(lambda: link._ping is not None and link._ping.done(), "the ping answered")
        assert link.tick()
        listener.until(status_starts("running"), "healthy again")
        listener.until(is_watchdog, "WATCHDOG=1 again", start=2)
    finally:
        release.set()
        link.close()


async def test_a_failing_journal_withholds_the_watchdog(
    listener: NotifySocket, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    kiosk = FakeKiosk(journal)
    link = make_link(listener, kiosk, FakeClock())
    link.start(asyncio.get_running_loop())
    try:
        await journal.aclose()  # every call now fails
        assert link.check() == []  # starts a ping
        await until(lambda: link._ping is not None and link._ping.done(), "the ping failed")
        problems = link.check()
        assert len(problems) == 1
        assert problems[0].startswith("the journal thread failed a call (RuntimeError")
        assert not link.tick()
    finally:
        link.close()


async def test_an_ended_flow_withholds_the_watchdog(
    listener: NotifySocket, journal: Journal
) -> None:
    async def flow() -> None:
        return None

    task = asyncio.ensure_future(flow())
    kiosk = FakeKiosk(journal, flow_task=task)
    link = make_link(listener, kiosk, FakeClock())
    link.start(asyncio.get_running_loop())
    try:
        await task
        assert "the customer flow has ended" in link.check()
        assert not link.tick()
    finally:
        link.close()


async def test_a_stopped_serial_reader_withholds_the_watchdog(
    listener: NotifySocket, journal: Journal
) -> None:
    reader = FakeReader(running=False)
    kiosk = FakeKiosk(journal, FakeDevices(reader))
    link = make_link(listener, kiosk, FakeClock())
    link.start(asyncio.get_running_loop())
    link.started()
    try:
        assert link.check() == ["the serial card reader's thread has stopped"]
        assert not link.tick()
        reader.running = True
        assert link.tick()
    finally:
        link.close()


async def test_a_silent_asyncio_side_withholds_the_watchdog(listener: NotifySocket) -> None:
    clock = FakeClock()
    link = make_link(listener, None, clock, watchdog_s=8.0)
    link.start(asyncio.get_running_loop())
    link.started("ServiceUnavailable: tecalis: connection refused")
    try:
        assert link.tick()  # the kiosk is not open yet: only the loops count
        clock.now += 5.0  # longer than the 4 s limit (half of 8 s), and no heartbeat ran
        assert link.check() == ["the asyncio loop has not turned for 5 s"]
        assert not link.tick()
        await until(lambda: link.last_beat == clock.now, "the next heartbeat")
        assert link.tick()
        listener.until(status_starts("starting"), "healthy again")
    finally:
        link.close()


async def test_ready_is_sent_once_then_status_follows_the_start(listener: NotifySocket) -> None:
    link = make_link(listener, None, FakeClock())
    link.started("ServiceUnavailable: tecalis: connection refused")
    link.started()
    link.close()
    listener.until(status_starts("running"), "STATUS=running")
    assert listener.messages == [
        {
            "READY": "1",
            "STATUS": "out of service: cannot start the kiosk "
            "(ServiceUnavailable: tecalis: connection refused); retrying",
        },
        {"STATUS": "running"},
    ]


def test_from_environ_takes_the_variables_out(listener: NotifySocket) -> None:
    env = {
        "NOTIFY_SOCKET": listener.address,
        "WATCHDOG_USEC": "2000000",
        "WATCHDOG_PID": str(os.getpid()),
        DRILL_ENV_VAR: "2.5",
    }
    link = ServiceLink.from_environ(lambda: None, env)
    assert link.watchdog_enabled
    assert link.interval_s == pytest.approx(2 / 6)  # checked six times per time-out
    assert link.heartbeat_max_age_s == link.journal_deadline_s == 1.0  # half of it
    assert link._drill_s == 2.5
    assert env == {DRILL_ENV_VAR: "2.5"}
    assert not ServiceLink.from_environ(lambda: None, {}).watchdog_enabled


async def test_no_ping_before_ready(listener: NotifySocket, journal: Journal) -> None:
    """systemd ignores the watchdog until READY=1; the link says nothing of it either,
    however healthy (the timer runs from start-up on)."""
    link = make_link(listener, FakeKiosk(journal), FakeClock())
    link.start(asyncio.get_running_loop())
    try:
        assert link.check() == []
        assert not link.tick()
        assert not link.tick()
        link.started()
        assert link.tick()
        listener.until(is_watchdog, "WATCHDOG=1")
    finally:
        link.close()
    assert listener.messages == [{"READY": "1", "STATUS": "running"}, {"WATCHDOG": "1"}]


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


async def test_ready_waits_for_the_first_painted_frame(
    listener: NotifySocket, app_config: Config, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first paint slower than the start-up's wait for it: the kiosk's start is tried
    (and fails, here) meanwhile, but READY=1 goes out only once a frame is on screen."""
    loop = asyncio.get_running_loop()
    kiosk_app = KioskApp(app_config, RunOptions(windowed=True), None)
    qtbot.addWidget(kiosk_app.window)
    first_paint: asyncio.Future[None] = loop.create_future()
    kiosk_app.first_paint = first_paint
    kiosk_app.systemd = ServiceLink(Notifier(listener.address), lambda: kiosk_app.kiosk)
    attempts: list[bool] = []

    async def open_kiosk(config: Config) -> None:
        attempts.append(first_paint.done())
        raise RuntimeError("the journal is on a disk that is not there")

    monkeypatch.setattr(runtime, "open_kiosk", open_kiosk)
    monkeypatch.setattr(ui_app, "FIRST_PAINT_WAIT_S", 0.01)  # the paint is late
    main = asyncio.ensure_future(kiosk_app.main())
    try:
        await until(lambda: bool(attempts), "the first attempt to open the kiosk")
        # The attempt failed and the window says "out of service": still no READY=1,
        # no frame is on screen yet.
        assert listener.poll() == 0
        assert not kiosk_app.systemd.ready_sent
        first_paint.set_result(None)
        await until(lambda: kiosk_app.systemd.ready_sent, "READY=1 after the first paint")
        ready = listener.until(is_ready, "READY=1")
        assert listener.messages[ready]["STATUS"].startswith("out of service: cannot start")
    finally:
        kiosk_app.request_stop()
        assert await asyncio.wait_for(main, WAIT_S) == 0
    assert attempts == [False]  # the start itself did not wait for the paint


async def test_a_stop_before_the_first_paint_sends_no_ready(
    listener: NotifySocket, app_config: Config, qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()
    kiosk_app = KioskApp(app_config, RunOptions(windowed=True), None)
    qtbot.addWidget(kiosk_app.window)
    kiosk_app.first_paint = loop.create_future()  # never painted
    kiosk_app.systemd = ServiceLink(Notifier(listener.address), lambda: kiosk_app.kiosk)

    async def open_kiosk(config: Config) -> None:
        kiosk_app.request_stop()  # e.g. systemctl stop during start-up
        raise RuntimeError("no kiosk in this test")

    monkeypatch.setattr(runtime, "open_kiosk", open_kiosk)
    monkeypatch.setattr(ui_app, "FIRST_PAINT_WAIT_S", 0.01)
    assert await asyncio.wait_for(kiosk_app.main(), WAIT_S) == 0
    listener.until(lambda m: "STOPPING" in m, "STOPPING=1")
    assert listener.count("READY") == 0


@pytest.mark.parametrize("value", ["0", "-1", "forever", "7200"])
def test_a_bad_drill_duration_disables_the_drill(value: str) -> None:
    assert ServiceLink.from_environ(lambda: None, {DRILL_ENV_VAR: value})._drill_s is None


# -- the whole app, as systemd runs it -------------------------------------------------------
@pytest.mark.slow
def test_the_app_notifies_and_a_frozen_ui_loop_stops_the_watchdog(tmp_path: Path) -> None:
    callbacks = free_port()
    env = dict(os.environ)
    env.update({
        "QT_QPA_PLATFORM": "offscreen",
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "KIOSKAPP_CONFIG": str(tmp_path / "absent.toml"),
        "KIOSKAPP_SIMULATOR__PORT": str(free_port()),
        "KIOSKAPP_CALLBACKS__LISTEN_PORT": str(callbacks),
        "KIOSKAPP_CALLBACKS__PUBLIC_URL": f"http://127.0.0.1:{callbacks}",
        "WATCHDOG_USEC": "600000",  # a check every 0.1 s
        DRILL_ENV_VAR: "2",  # SIGUSR1 freezes the Qt loop for 2 s
    })  # fmt: skip
    env.pop("WATCHDOG_PID", None)
    with NotifySocket() as listener:
        env["NOTIFY_SOCKET"] = listener.address  # an abstract socket, as in containers
        app = subprocess.Popen(
            [sys.executable, "-m", "kioskapp", "--simulate", "--no-panel", "--windowed"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:

            def alive() -> bool:
                return app.poll() is None

            ready = listener.until(is_ready, "READY=1", alive=alive)
            assert listener.messages[ready]["STATUS"] == "running"
            assert listener.count("WATCHDOG", end=ready) == 0  # nothing before READY
            pos = ready
            for n in range(3):  # periodic pings
                pos = listener.until(
                    is_watchdog, f"WATCHDOG=1 #{n + 1}", start=pos + 1, alive=alive
                )
            app.send_signal(signal.SIGUSR1)
            frozen = listener.until(
                status_starts("watchdog drill: UI loop frozen"),
                "the drill",
                start=pos + 1,
                alive=alive,
            )
            thawed = listener.until(
                status_starts("watchdog drill over"), "the drill's end", start=frozen, alive=alive
            )
            # While the Qt loop stood still, no ping left the app.
            assert listener.count("WATCHDOG", start=frozen, end=thawed) == 0
            listener.until(is_watchdog, "WATCHDOG=1 after the drill", start=thawed, alive=alive)
            app.send_signal(signal.SIGTERM)
            listener.until(lambda m: m.get("STOPPING") == "1", "STOPPING=1", start=thawed)
            _, err = app.communicate(timeout=WAIT_S)
        finally:
            if app.poll() is None:
                app.kill()
                app.communicate()
    assert app.returncode == 0, err
    assert "watchdog drill: freezing the UI loop for 2 s" in err
