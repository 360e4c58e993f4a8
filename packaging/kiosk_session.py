"""kiosk-session: the kiosk app fullscreen under the cage compositor, for kiosk.service.

    kiosk-session [--cage PATH] [--app PATH] [-- APP-ARGUMENT...]

runs ``cage -d -- kiosk-session --inner ...``; inside the compositor the inner part
starts the app (``/opt/kioskapp/bin/kioskapp`` beside this file's folder) and
waits for it. Why not simply ``ExecStart=cage -- kioskapp``:

1. Exit status. cage exits 0 whatever its client's status, so systemd could not
   tell a crash (70) or a restart asked by staff (75) from a quit asked by staff
   (3), which must not be restarted (``RestartPreventExitStatus=3``). The inner
   part writes the app's status to a file in the service's runtime directory and
   this process exits with it.
2. Stopping. systemd sends SIGTERM to this process only (``KillMode=mixed``); it is
   passed to the app, which stops in order (flow, devices, journal last) while its
   window is still on screen; cage ends once the app has gone. A SIGTERM to cage
   first would take the display away from a kiosk in the middle of a sale.
3. The watchdog. systemd sets WATCHDOG_PID to this process; the app is its
   grandchild, so the inner part sets WATCHDOG_PID to the app's own pid
   (``NotifyAccess=all`` lets systemd accept the app's messages). The watchdog's
   SIGABRT is passed to the app as well, whose fault handler then writes where
   each of its threads was stuck to the journal.

Only the standard library: it runs before, and around, everything else.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
DEFAULT_APP = HERE.parent / "bin" / "kioskapp"
DEFAULT_CAGE = "/usr/bin/cage"
SESSION_DIR_VAR = "KIOSK_SESSION_DIR"
STATUS_FILE = "app-exit-status"
PID_FILE = "app.pid"
#: The app's status when it could not report one (it never started, or cage died).
EXIT_CRASHED = 70
MEANINGS = {
    0: "stopped",
    3: "staff asked to quit: not restarted",
    70: "crashed: restarted",
    75: "staff asked for a restart",
}
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def say(text: str) -> None:
    print(f"kiosk-session: {text}", file=sys.stderr, flush=True)


def write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def describe(code: int) -> str:
    if code > 128 and code - 128 < signal.NSIG:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(code - 128).name}"
    return MEANINGS.get(code, "unexpected status")


# -- outside cage: the service's main process -----------------------------------------------
def outer(cage: str, app: str, app_args: list[str]) -> int:
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    own_dir = None if runtime else tempfile.mkdtemp(prefix="kiosk-session-")
    session_dir = Path(runtime or own_dir or "")
    status_file, pid_file = session_dir / STATUS_FILE, session_dir / PID_FILE
    for stale in (status_file, pid_file):
        stale.unlink(missing_ok=True)
    command = [
        cage, "-d", "--", sys.executable, "-I", str(Path(__file__).resolve()),
        "--inner", "--app", app, "--", *app_args,
    ]  # fmt: skip
    env = dict(os.environ)
    env[SESSION_DIR_VAR] = str(session_dir)
    try:
        proc = subprocess.Popen(command, env=env)  # noqa: S603 (our own command line)
    except OSError as exc:
        say(f"cannot run {cage}: {exc.strerror or exc}")
        return EXIT_CRASHED

    def forward(sig: int, _frame: FrameType | None) -> None:
        app_pid = None if status_file.exists() else read_int(pid_file)
        wanted = signal.SIGABRT if sig == signal.SIGABRT else signal.SIGTERM
        if app_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(app_pid, wanted)
        elif proc.poll() is None:  # the app is not up yet: end the compositor
            proc.send_signal(signal.SIGTERM)

    for sig in (*STOP_SIGNALS, signal.SIGABRT):
        signal.signal(sig, forward)
    try:
        cage_status = proc.wait()
        status = read_int(status_file)
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
    if status is None:
        say(f"the app reported no exit status (cage exited with {cage_status})")
        return cage_status or EXIT_CRASHED
    say(f"the app exited with status {status} ({describe(status)})")
    return status


# -- inside cage: the compositor's client -------------------------------------------------
def inner(app: str, app_args: list[str]) -> int:
    session_dir = Path(os.environ[SESSION_DIR_VAR])
    env = dict(os.environ)
    del env[SESSION_DIR_VAR]
    pid = os.fork()
    if pid == 0:  # the app: exec keeps this pid, the one systemd's watchdog must know
        try:
            if "WATCHDOG_PID" in env:
                env["WATCHDOG_PID"] = str(os.getpid())
            os.execve(app, [app, *app_args], env)  # noqa: S606 (our own app)
        except OSError as exc:
            say(f"cannot run {app}: {exc.strerror or exc}")
        finally:
            os._exit(127)
    write_atomically(session_dir / PID_FILE, f"{pid}\n")

    def forward(sig: int, _frame: FrameType | None) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGABRT if sig == signal.SIGABRT else signal.SIGTERM)

    for sig in (*STOP_SIGNALS, signal.SIGABRT):
        signal.signal(sig, forward)
    _pid, wait_status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(wait_status)
    if code < 0:  # killed by a signal: as a shell reports it
        code = 128 - code
    write_atomically(session_dir / STATUS_FILE, f"{code}\n")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kiosk-session", description="The kiosk app fullscreen under cage."
    )
    parser.add_argument("--cage", default=DEFAULT_CAGE, help="the compositor (%(default)s)")
    parser.add_argument("--app", default=str(DEFAULT_APP), help="the app (%(default)s)")
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("app_args", nargs="*", metavar="APP-ARGUMENT")
    args = parser.parse_args(argv)
    if args.inner:
        return inner(args.app, args.app_args)
    return outer(args.cage, args.app, args.app_args)


if __name__ == "__main__":
    raise SystemExit(main())
