"""kiosk.service's command line under a real cage compositor, run as ``nobody`` from
the package installed in a scratch root (cage refuses to run as root).

cage 0.1.4 (Debian 12) on its headless backend starts, but its output never
finishes a frame after the client's first one (direct scan-out of the
client's buffer; wlroots logs "Basic output test failed for HEADLESS-1"), so no
frame callback ever reaches the app and the screen keeps Qt's first,
pre-configure buffer. The headless backend is therefore used only where nothing
is drawn (the exit status tests); the app itself runs under cage's X11 backend
inside Xvfb, with the pixman renderer, where frames are presented as on a kiosk.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from kioskapp.runtime import simulation_overrides
from tests.flow.conftest import free_port
from tests.notify_socket import NotifySocket, is_ready, is_watchdog
from tests.packaging.conftest import (
    AS_NOBODY,
    NOBODY,
    Root,
    require_root,
    require_tool,
    shared_dir,
)

pytestmark = pytest.mark.slow

WAIT_S = 60.0
FAKE_APP = """#!/bin/sh
echo "$$ ${WATCHDOG_PID:-unset}" > "$KIOSK_TEST_OUT/pids"
case "$1" in
exit) exit "$2" ;;
kill) kill -KILL $$ ;;
wait)
    trap 'echo TERM > "$KIOSK_TEST_OUT/signal"; exit 0' TERM
    echo up > "$KIOSK_TEST_OUT/up"
    while :; do sleep 1 & wait $!; done ;;
esac
"""
REFERENCE = """
import sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
app = QApplication(["reference"])
from kioskapp.config import load_config
from kioskapp.ui.window import KioskWindow
window = KioskWindow(load_config(Path(sys.argv[1]), env={}))
window.resize(int(sys.argv[2]), int(sys.argv[3]))
window.show()
app.processEvents()
window.grab().save(sys.argv[4])
"""


@pytest.fixture
def session_dirs() -> Iterator[dict[str, Path]]:
    """Directories the kiosk (as nobody) writes in: runtime, XDG runtime, home, output."""
    dirs = {
        "runtime": shared_dir("kiosk-run-", NOBODY),
        "xdg": shared_dir("kiosk-xdg-", NOBODY),
        "home": shared_dir("kiosk-home-", NOBODY),
        "out": shared_dir("kiosk-out-", NOBODY),
        "shared": shared_dir("kiosk-shared-"),
    }
    yield dirs
    for path in dirs.values():
        shutil.rmtree(path, ignore_errors=True)


def base_env(dirs: dict[str, Path]) -> dict[str, str]:
    return {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(dirs["home"]),
        "XDG_RUNTIME_DIR": str(dirs["xdg"]),
        "RUNTIME_DIRECTORY": str(dirs["runtime"]),
        "WLR_LIBINPUT_NO_DEVICES": "1",
        "WLR_RENDERER": "pixman",
    }


def as_service(command: list[str]) -> list[str]:
    """``command`` as systemd starts it: WATCHDOG_PID is the main process (exec keeps
    the shell's pid through setpriv into the command), run as nobody."""
    return [
        "sh",
        "-c",
        'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"',
        "sh",
        *AS_NOBODY,
        *command,
    ]


def until_file(path: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not path.exists():
        assert proc.poll() is None, f"ended ({proc.returncode}) before {path} appeared"
        assert time.monotonic() < deadline, f"timed out waiting for {path}"
        time.sleep(0.05)


@pytest.fixture
def cage_ready(installed: Root) -> Root:
    require_root()
    require_tool("cage")
    require_tool("setpriv")
    return installed


def fake_app(dirs: dict[str, Path]) -> Path:
    app = dirs["shared"] / "fake-app"
    app.write_text(FAKE_APP)
    app.chmod(0o755)
    return app


@pytest.mark.parametrize(
    ("args", "status"),
    [(["exit", "0"], 0), (["exit", "3"], 3), (["exit", "70"], 70), (["exit", "75"], 75),
     (["kill"], 128 + signal.SIGKILL)],
)  # fmt: skip
def test_the_app_exit_status_reaches_systemd_through_cage(
    cage_ready: Root, session_dirs: dict[str, Path], args: list[str], status: int
) -> None:
    """cage 0.1.4 itself exits 0 whatever its client did: kiosk-session makes 3 (quit,
    not restarted) distinguishable from 70 (crash) and 75 (restart)."""
    env = base_env(session_dirs) | {"WLR_BACKENDS": "headless"}
    env["KIOSK_TEST_OUT"] = str(session_dirs["out"])
    session = cage_ready / "opt/kioskapp/bin/kiosk-session"
    command = [str(session), "--app", str(fake_app(session_dirs)), "--", *args]
    done = subprocess.run(
        as_service(command), env=env, capture_output=True, text=True, timeout=WAIT_S, check=False
    )
    assert done.returncode == status, done.stderr
    app_pid, watchdog_pid = (session_dirs["out"] / "pids").read_text().split()
    assert watchdog_pid == app_pid  # the app may feed the watchdog
    assert f"the app exited with status {status}" in done.stderr


def test_a_stop_reaches_the_app_before_cage(
    cage_ready: Root, session_dirs: dict[str, Path]
) -> None:
    env = base_env(session_dirs) | {"WLR_BACKENDS": "headless"}
    env["KIOSK_TEST_OUT"] = str(session_dirs["out"])
    session = cage_ready / "opt/kioskapp/bin/kiosk-session"
    command = [str(session), "--app", str(fake_app(session_dirs)), "--", "wait"]
    proc = subprocess.Popen(
        as_service(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        until_file(session_dirs["out"] / "up", proc)
        proc.send_signal(signal.SIGTERM)  # as systemd does, to the main process only
        _, err = proc.communicate(timeout=WAIT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert (session_dirs["out"] / "signal").read_text() == "TERM\n"


def unit_command(root: Root) -> tuple[list[str], dict[str, str]]:
    """ExecStart (its program inside ``root``) and Environment= of the installed unit."""
    command: list[str] = []
    env: dict[str, str] = {}
    for line in (root / "lib/systemd/system/kiosk.service").read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "ExecStart":
            command = shlex.split(value)
        elif key == "Environment":
            env.update(item.split("=", 1) for item in shlex.split(value))
    assert command, "no ExecStart"
    return [str(root / command[0]), *command[1:]], env


@pytest.fixture
def simulators(cage_ready: Root) -> Iterator[str]:
    """The installed kioskapp-sim on a free port; yields its base URL."""
    sim = subprocess.Popen(
        [str(cage_ready / "opt/kioskapp/bin/kioskapp-sim"), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert sim.stdout is not None
    base = None
    for line in sim.stdout:
        if line.strip().startswith("control") and "http" in line:
            base = line.split()[-1].rsplit("/_sim/", 1)[0]
        if line.startswith("Press Ctrl+C"):
            break
    try:
        assert base is not None, "kioskapp-sim did not start"
        yield base
    finally:
        sim.terminate()
        sim.communicate(timeout=WAIT_S)


@pytest.fixture
def xvfb() -> Iterator[str]:
    """An X server on a display number it picks itself; yields DISPLAY."""
    require_tool("Xvfb")
    read, write = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    try:
        assert number.isdigit(), "Xvfb did not start"
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=WAIT_S)


def test_the_unit_command_line_shows_the_attract_screen_under_cage(
    cage_ready: Root, session_dirs: dict[str, Path], simulators: str, xvfb: str
) -> None:
    grim = require_tool("grim")
    root = cage_ready
    command, unit_env = unit_command(root)
    assert command == [str(root / "opt/kioskapp/bin/kiosk-session")]
    assert unit_env["QT_QPA_PLATFORM"] == "wayland"
    state = session_dirs["home"] / "state"
    # The config postinst made, readable by the test's kiosk user.
    config = session_dirs["shared"] / "kiosk.toml"
    shutil.copyfile(root / "etc/kioskapp/kiosk.toml", config)
    config.chmod(0o644)
    callbacks = free_port()
    env = base_env(session_dirs) | unit_env | simulation_overrides(simulators, state)
    env.update({
        "XDG_CACHE_HOME": str(session_dirs["home"] / "cache"),  # /var/cache/kioskapp
        "KIOSKAPP_CONFIG": str(config),
        "KIOSKAPP_CALLBACKS__LISTEN_PORT": str(callbacks),
        "KIOSKAPP_CALLBACKS__PUBLIC_URL": f"http://127.0.0.1:{callbacks}",
        "WATCHDOG_USEC": "2000000",
        "DISPLAY": xvfb,
        "WLR_BACKENDS": "x11",
    })  # fmt: skip
    with NotifySocket(session_dirs["shared"] / "notify") as listener:
        env["NOTIFY_SOCKET"] = listener.address
        kiosk = subprocess.Popen(
            as_service(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:

            def alive() -> bool:
                return kiosk.poll() is None

            ready = listener.until(is_ready, "READY=1", alive=alive)
            assert listener.messages[ready]["STATUS"] == "running"
            pos = listener.until(is_watchdog, "WATCHDOG=1", start=ready, alive=alive)
            listener.until(is_watchdog, "a second WATCHDOG=1", start=pos + 1, alive=alive)
            sockets = [p for p in session_dirs["xdg"].glob("wayland-*") if p.is_socket()]
            assert len(sockets) == 1
            shot = session_dirs["xdg"] / "screen.png"
            grab = subprocess.run(
                [*AS_NOBODY, grim, str(shot)],
                env={
                    "XDG_RUNTIME_DIR": str(session_dirs["xdg"]),
                    "WAYLAND_DISPLAY": sockets[0].name,
                },
                capture_output=True,
                text=True,
                timeout=WAIT_S,
                check=False,
            )
            assert grab.returncode == 0, grab.stderr
            kiosk.send_signal(signal.SIGTERM)
            listener.until(lambda m: m.get("STOPPING") == "1", "STOPPING=1", start=pos)
            _, err = kiosk.communicate(timeout=WAIT_S)
        finally:
            if kiosk.poll() is None:
                kiosk.kill()
                kiosk.communicate()
    assert kiosk.returncode == 0, err
    assert "the app exited with status 0 (stopped)" in err
    # Everything reached "systemd" from the main process (kiosk-session), the only
    # one kiosk.service hears (NotifyAccess=main); the app lives in a session scope.
    assert set(listener.senders) == {kiosk.pid}
    # The screen is the attract screen: compare with the same window drawn offscreen.
    screen = Image.open(shot).convert("RGB")
    reference_png = session_dirs["shared"] / "reference.png"
    subprocess.run(
        [str(root / "opt/kioskapp/bin/python3.11"), "-I", "-c", REFERENCE, str(config),
         str(screen.width), str(screen.height), str(reference_png)],
        env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "HOME": str(session_dirs["shared"])},
        capture_output=True, check=True, timeout=WAIT_S,
    )  # fmt: skip
    reference = Image.open(reference_png).convert("RGB")
    assert reference.size == screen.size
    darkest, lightest = screen.convert("L").getextrema()
    assert lightest - darkest > 128  # something is drawn (text on a background)
    diff = (
        ImageChops.difference(screen, reference).convert("L").point(lambda v: 255 if v > 48 else 0)
    )
    differing = diff.histogram()[255] / (screen.width * screen.height)
    assert differing < 0.02, f"{differing:.1%} of the screen differs from the attract screen"
