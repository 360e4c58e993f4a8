"""kiosk-session's relay of the app's notifications to systemd, from the source tree.

Under kiosk.service the app (cage's child) lives in the logind session's scope:
systemd would file its messages under that scope, not under kiosk.service, so only
kiosk-session, the unit's main process (``NotifyAccess=main``), may speak to
systemd. A stand-in for cage (it runs its client, as ``cage -d -- CMD`` does) and a
scripted app stand in for the real ones; a datagram socket with SO_PASSCRED stands
in for systemd's and sees which pid sent each message, as systemd does.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.notify_socket import WAIT_S, NotifySocket, status_starts
from tests.packaging.conftest import PROJECT

SESSION = PROJECT / "packaging" / "kiosk_session.py"
FAKE_CAGE = """#!/bin/sh
# cage -d -- CMD...: runs CMD (the compositor's client) and exits 0 after it.
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
"$@"
exit 0
"""
#: The app. ``notify``: what it sends, in order; between the pings and STOPPING=1 it
#: stands still for three watchdog time-outs (a frozen UI loop), and a child of its
#: sends a message of its own. ``abort``: says it is up, then waits for SIGABRT.
FAKE_APP = """#!{python}
import os, signal, socket, sys, time
from pathlib import Path

signal.pthread_sigmask(signal.SIG_BLOCK, {{signal.SIGTERM, signal.SIGABRT}})
out = Path(os.environ["KIOSK_TEST_OUT"])
(out / "app").write_text(f"{{os.getpid()}} {{os.environ.get('WATCHDOG_PID', 'unset')}}")
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
address = os.environ["NOTIFY_SOCKET"]
if address.startswith("@"):  # an abstract socket, as sd_notify(3) reads it
    address = "\\0" + address[1:]

def send(text):
    sock.sendto(text.encode(), address)

if sys.argv[1] == "stubborn":  # says it is up, then ignores the stop signal
    send("STATUS=up")
    signal.sigwait({{signal.SIGUSR2}})  # never sent
if sys.argv[1] == "abort":
    send("STATUS=up")
    signal.sigwait({{signal.SIGABRT}})
    (out / "signal").write_text("ABRT")
    sys.exit(134)
send("READY=1\\nSTATUS=running")
send("WATCHDOG=1")
send("WATCHDOG=1")
send("MAINPID=1\\nSTATUS=pinged twice")
send("no key here")
child = os.fork()
if child == 0:  # another process of the session speaks for the service
    socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"WATCHDOG=1\\nSTATUS=not the app", address)
    os._exit(0)
os.waitpid(child, 0)
send("STATUS=frozen")
time.sleep(3 * int(os.environ["WATCHDOG_USEC"]) / 1e6)  # the frozen app: no pings
send("STATUS=thawed")
signal.sigwait({{signal.SIGTERM}})  # kiosk-session passes systemd's stop on
send("STOPPING=1")
"""


@pytest.fixture
def stand_ins(tmp_path: Path) -> dict[str, Path]:
    paths = {"cage": tmp_path / "cage", "app": tmp_path / "app", "out": tmp_path / "out"}
    paths["cage"].write_text(FAKE_CAGE)
    paths["app"].write_text(FAKE_APP.format(python=sys.executable))
    for exe in (paths["cage"], paths["app"]):
        exe.chmod(0o755)
    paths["out"].mkdir()
    (tmp_path / "run").mkdir()
    paths["run"] = tmp_path / "run"
    return paths


def session_command(paths: dict[str, Path], *app_args: str) -> list[str]:
    """kiosk-session as systemd starts it: WATCHDOG_PID is the main process (exec keeps
    the shell's pid into the session)."""
    session = [sys.executable, "-I", str(SESSION), "--cage", str(paths["cage"])]
    session += ["--app", str(paths["app"]), "--", *app_args]
    return ["sh", "-c", f"WATCHDOG_PID=$$; export WATCHDOG_PID; exec {shlex.join(session)}"]


def test_the_apps_messages_reach_systemd_only_through_the_main_process(
    stand_ins: dict[str, Path],
) -> None:
    env = dict(os.environ)
    env.update({
        "RUNTIME_DIRECTORY": str(stand_ins["run"]),
        "KIOSK_TEST_OUT": str(stand_ins["out"]),
        "WATCHDOG_USEC": "300000",
    })  # fmt: skip
    with NotifySocket() as systemd:
        env["NOTIFY_SOCKET"] = systemd.address
        main = subprocess.Popen(
            session_command(stand_ins, "notify"), env=env, stderr=subprocess.PIPE, text=True
        )
        try:

            def alive() -> bool:
                return main.poll() is None

            thawed = systemd.until(status_starts("thawed"), "STATUS=thawed", alive=alive)
            main.send_signal(signal.SIGTERM)  # as systemd stops the service
            systemd.until(lambda m: m.get("STOPPING") == "1", "STOPPING=1", start=thawed)
            _, err = main.communicate(timeout=WAIT_S)
        finally:
            if main.poll() is None:
                main.kill()
                main.communicate()
        systemd.poll()
    assert main.returncode == 0, err
    app_pid, watchdog_pid = (stand_ins["out"] / "app").read_text().split()
    assert watchdog_pid == app_pid != str(main.pid)  # the app is the one that must ping
    # Every message came from the main process, none straight from the app.
    assert systemd.senders == [main.pid] * len(systemd.messages)
    assert systemd.messages == [
        {"READY": "1", "STATUS": "running"},
        {"WATCHDOG": "1"},
        {"WATCHDOG": "1"},
        {"STATUS": "pinged twice"},  # MAINPID= would hand the service to the app
        {"STATUS": "frozen"},
        # three watchdog time-outs of a frozen app: no WATCHDOG=1 made up meanwhile
        {"STATUS": "thawed"},
        {"STOPPING": "1"},
    ]
    assert "dropped MAINPID= from the app's notifications" in err
    assert "dropped a line that is not KEY=value" in err
    assert f"(the app is pid {app_pid})" in err  # the app's child was not relayed
    assert not (stand_ins["run"] / "notify").exists()  # the relay cleaned up


def test_outside_systemd_the_app_gets_no_notify_socket(stand_ins: dict[str, Path]) -> None:
    app = stand_ins["app"]
    app.write_text(f'#!/bin/sh\necho "${{NOTIFY_SOCKET:-unset}}" > "{stand_ins["out"]}/env"\n')
    env = {k: v for k, v in os.environ.items() if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC")}
    env["RUNTIME_DIRECTORY"] = str(stand_ins["run"])
    done = subprocess.run(
        session_command(stand_ins), env=env, capture_output=True, text=True, timeout=WAIT_S
    )
    assert done.returncode == 0, done.stderr
    assert (stand_ins["out"] / "env").read_text() == "unset\n"
    assert not (stand_ins["run"] / "notify").exists()


def test_no_relay_socket_is_a_clear_failure_before_the_app_starts(
    stand_ins: dict[str, Path], tmp_path: Path
) -> None:
    # A runtime directory whose socket path is longer than a socket address may be.
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    env = dict(os.environ)
    env.update({"RUNTIME_DIRECTORY": str(deep), "KIOSK_TEST_OUT": str(stand_ins["out"])})
    with NotifySocket() as systemd:
        env["NOTIFY_SOCKET"] = systemd.address
        done = subprocess.run(
            session_command(stand_ins), env=env, capture_output=True, text=True, timeout=WAIT_S
        )
        assert systemd.poll() == 0
    assert done.returncode == 70
    assert f"cannot make the app's notification socket {deep}/notify" in done.stderr
    assert not (stand_ins["out"] / "app").exists()  # the app never ran


def test_a_watchdog_abort_reaches_the_app(stand_ins: dict[str, Path]) -> None:
    """systemd's watchdog sends SIGABRT to the main process; the app is the one that
    must end (its fault handler writes the stacks), and its status comes back."""
    env = dict(os.environ)
    env.update(
        {"RUNTIME_DIRECTORY": str(stand_ins["run"]), "KIOSK_TEST_OUT": str(stand_ins["out"])}
    )
    with NotifySocket() as systemd:
        env["NOTIFY_SOCKET"] = systemd.address
        main = subprocess.Popen(
            session_command(stand_ins, "abort"), env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            systemd.until(status_starts("up"), "STATUS=up", alive=lambda: main.poll() is None)
            main.send_signal(signal.SIGABRT)
            _, err = main.communicate(timeout=WAIT_S)
        finally:
            if main.poll() is None:
                main.kill()
                main.communicate()
    assert main.returncode == 134, err
    assert (stand_ins["out"] / "signal").read_text() == "ABRT"
    assert "the app exited with status 134 (killed by SIGABRT)" in err


def test_an_app_that_does_not_stop_is_killed_before_systemds_time_out(
    stand_ins: dict[str, Path],
) -> None:
    """systemd's SIGKILL at TimeoutStopSec reaches only the main process (cage and the
    app are in the session scope): kiosk-session kills them itself a little earlier."""
    unit = (PROJECT / "packaging" / "kiosk.service").read_text()
    timeout_stop = next(
        float(line.split("=", 1)[1].rstrip("s"))
        for line in unit.splitlines()
        if line.startswith("TimeoutStopSec=")
    )
    session = _load_session_module()
    assert 0 < session.STOP_GRACE_S < timeout_stop - 2
    env = dict(os.environ)
    env.update({
        "RUNTIME_DIRECTORY": str(stand_ins["run"]),
        "KIOSK_TEST_OUT": str(stand_ins["out"]),
        session.STOP_GRACE_VAR: "0.5",
    })  # fmt: skip
    with NotifySocket() as systemd:
        env["NOTIFY_SOCKET"] = systemd.address
        main = subprocess.Popen(
            session_command(stand_ins, "stubborn"), env=env, stderr=subprocess.PIPE, text=True
        )
        try:
            systemd.until(status_starts("up"), "STATUS=up", alive=lambda: main.poll() is None)
            main.send_signal(signal.SIGTERM)
            _, err = main.communicate(timeout=WAIT_S)
        finally:
            if main.poll() is None:
                main.kill()
                main.communicate()
    assert main.returncode == 137, err
    assert "did not stop within 0.5 s" in err
    assert "the app exited with status 137 (killed by SIGKILL)" in err


def _load_session_module():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("kiosk_session_under_test", SESSION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
