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
3. Notifications and the watchdog. The unit opens a logind session
   (``PAMName=``) so that cage gets the seat; pam_systemd moves the service's
   processes into that session's scope (``session-N.scope``), and systemd
   attributes a notification to the unit of the cgroup it comes from: READY=1 and
   WATCHDOG=1 sent by the app straight to systemd would go to the session scope,
   never to kiosk.service. So this process, the unit's main process
   (``NotifyAccess=main``), relays: the app's ``NOTIFY_SOCKET`` is a datagram
   socket of this process's in the runtime directory, and each message that
   arrives there *from the app's pid* is sent on to systemd's socket, as this
   process's own. Only what arrives is relayed: nothing is ever made up, so an
   app that stops pinging stops the pings systemd sees, and systemd's watchdog
   fires as it should. Lines that would change who systemd takes the service
   for (``MAINPID=``, file descriptor store, ...) are dropped. systemd sets
   ``WATCHDOG_PID`` to this process; the inner part sets it to the app's own pid
   for the app (the one that must ping). The watchdog's SIGABRT is passed to the
   app, whose fault handler then writes where each of its threads was stuck to
   the journal.

Only the standard library: it runs before, and around, everything else.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import FrameType

HERE = Path(__file__).resolve().parent
DEFAULT_APP = HERE.parent / "bin" / "kioskapp"
DEFAULT_CAGE = "/usr/bin/cage"
SESSION_DIR_VAR = "KIOSK_SESSION_DIR"
STATUS_FILE = "app-exit-status"
PID_FILE = "app.pid"
#: The app's NOTIFY_SOCKET, in the session directory (see :class:`NotifyRelay`).
NOTIFY_FILE = "notify"
#: What the app may tell systemd (sd_notify(3)). Anything else is dropped: MAINPID=
#: would hand the service to the app's pid, FDSTORE=/BARRIER= need file descriptors
#: that are not relayed, NOTIFYACCESS= would change whom systemd listens to.
RELAYED_KEYS = frozenset({
    "READY", "RELOADING", "STOPPING", "STATUS", "ERRNO", "BUSERROR",
    "WATCHDOG", "WATCHDOG_USEC", "EXTEND_TIMEOUT_USEC",
})  # fmt: skip
#: systemd reads no more of a notification than this (bytes).
MAX_NOTIFICATION = 4096
#: The app's status when it could not report one (it never started, or cage died).
EXIT_CRASHED = 70
MEANINGS = {
    0: "stopped",
    3: "staff asked to quit: not restarted",
    70: "crashed: restarted",
    75: "staff asked for a restart",
}
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
#: Seconds the app has to stop after a stop signal before it and cage are killed.
#: Below kiosk.service's TimeoutStopSec=45: systemd's own SIGKILL at the time-out
#: reaches only this process (cage and the app live in the logind session's scope),
#: so this process must end them itself. ``KIOSK_SESSION_STOP_GRACE_S`` overrides it.
STOP_GRACE_S = 40.0
STOP_GRACE_VAR = "KIOSK_SESSION_STOP_GRACE_S"
#: Seconds cage has to end once its client is gone, before it is killed.
CAGE_GRACE_S = 3.0


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


def notify_address(value: str) -> str | bytes | None:
    """The socket address of a NOTIFY_SOCKET value: a path, or the abstract name
    (bytes starting with NUL) for ``@name``; None for anything else."""
    if value.startswith("/") and len(value) > 1:
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    return None


# -- the app's notifications, relayed to systemd -------------------------------------------
class NotifyRelay:
    """A datagram socket at ``path`` for the app's notifications; each one that comes
    from the app's pid (``app_pid()``: None while it is not known) is sent on to
    ``upstream`` (systemd's socket) from this process, with the lines of
    :data:`RELAYED_KEYS` only. Never blocks: a message systemd's socket does not take
    at once is dropped (each kind of failure said once in the log)."""

    def __init__(self, path: Path, upstream: str | bytes, app_pid: Callable[[], int | None]):
        self.path = path
        self.upstream = upstream
        self._app_pid = app_pid
        self._said: set[str] = set()
        kind = socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK
        self.sock = socket.socket(socket.AF_UNIX, kind)
        self.out = socket.socket(socket.AF_UNIX, kind)
        try:
            # The kernel then tells each message's sender (SCM_CREDENTIALS).
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            path.unlink(missing_ok=True)
            self.sock.bind(str(path))
            path.chmod(0o600)  # the app runs as this process's user
        except OSError:
            self.close()
            raise

    def close(self) -> None:
        self.sock.close()
        self.out.close()
        with contextlib.suppress(OSError):
            self.path.unlink(missing_ok=True)

    def _say_once(self, text: str) -> None:
        if text not in self._said:
            self._said.add(text)
            say(text)

    def pump(self) -> int:
        """Relay every message waiting on the socket; returns how many were relayed."""
        relayed = 0
        ucred_size = struct.calcsize("3i")
        while True:
            try:
                data, ancillary, flags, _ = self.sock.recvmsg(
                    MAX_NOTIFICATION + 1, socket.CMSG_SPACE(ucred_size)
                )
            except BlockingIOError:
                return relayed
            sender = None
            for level, kind, value in ancillary:
                if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                    sender = struct.unpack("3i", value[:ucred_size])[0]
            if self._relay(data, flags, sender):
                relayed += 1

    def _relay(self, data: bytes, flags: int, sender: int | None) -> bool:
        app = self._app_pid()
        if sender is None or sender != app:
            self._say_once(f"ignored a notification from pid {sender} (the app is pid {app})")
            return False
        if flags & socket.MSG_TRUNC or len(data) > MAX_NOTIFICATION:
            self._say_once(f"dropped a notification longer than {MAX_NOTIFICATION} bytes")
            return False
        lines = []
        for line in filter(None, data.split(b"\n")):
            key, equals, _value = line.partition(b"=")
            name = key.decode("ascii", "replace")
            if equals and name in RELAYED_KEYS:
                lines.append(line)
            else:
                what = f"{name[:40]}=" if equals else "a line that is not KEY=value"
                self._say_once(f"dropped {what} from the app's notifications (not relayed)")
        if not lines:
            return False
        try:
            self.out.sendto(b"\n".join(lines) + b"\n", self.upstream)
        except OSError as exc:
            self._say_once(f"cannot notify systemd ({exc.strerror or exc}); message dropped")
            return False
        return True

    def serve(self, proc: subprocess.Popen[bytes]) -> int:
        """Relay until ``proc`` (cage) has ended, then what is still waiting; its status."""
        try:
            pidfd: int | None = os.pidfd_open(proc.pid)
        except OSError:  # (a kernel older than 5.3) look at cage once a second instead
            pidfd = None
        try:
            while proc.poll() is None:
                waits: list[int] = [self.sock.fileno()] + ([] if pidfd is None else [pidfd])
                ready, _, _ = select.select(waits, [], [], None if pidfd is not None else 1.0)
                if self.sock.fileno() in ready:
                    self.pump()
        finally:
            if pidfd is not None:
                os.close(pidfd)
        self.pump()  # the app's last words (STOPPING=1) may still be waiting
        return proc.returncode


# -- outside cage: the service's main process -----------------------------------------------
def outer(cage: str, app: str, app_args: list[str]) -> int:
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    own_dir = None if runtime else tempfile.mkdtemp(prefix="kiosk-session-")
    session_dir = Path(runtime or own_dir or "")
    try:
        return _outer(session_dir, cage, app, app_args)
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)


def _outer(session_dir: Path, cage: str, app: str, app_args: list[str]) -> int:
    status_file, pid_file = session_dir / STATUS_FILE, session_dir / PID_FILE
    for stale in (status_file, pid_file):
        stale.unlink(missing_ok=True)
    command = [
        cage, "-d", "--", sys.executable, "-I", str(Path(__file__).resolve()),
        "--inner", "--app", app, "--", *app_args,
    ]  # fmt: skip
    env = dict(os.environ)
    env[SESSION_DIR_VAR] = str(session_dir)
    relay = None
    upstream_name = env.pop("NOTIFY_SOCKET", None)
    if upstream_name:
        upstream = notify_address(upstream_name)
        if upstream is None:
            say(f"NOTIFY_SOCKET={upstream_name!r} is not a socket address this can relay to")
            return EXIT_CRASHED
        known_pid: list[int] = []

        def app_pid() -> int | None:
            if not known_pid and (pid := read_int(pid_file)) is not None:
                known_pid.append(pid)
            return known_pid[0] if known_pid else None

        try:
            relay = NotifyRelay(session_dir / NOTIFY_FILE, upstream, app_pid)
        except OSError as exc:
            say(f"cannot make the app's notification socket {session_dir / NOTIFY_FILE}: {exc}")
            return EXIT_CRASHED
        env["NOTIFY_SOCKET"] = str(relay.path)
    try:
        try:
            proc = subprocess.Popen(command, env=env)  # noqa: S603 (our own command line)
        except OSError as exc:
            say(f"cannot run {cage}: {exc.strerror or exc}")
            return EXIT_CRASHED
        return _wait(proc, relay, status_file, pid_file)
    finally:
        if relay is not None:
            relay.close()


def _wait(
    proc: subprocess.Popen[bytes], relay: NotifyRelay | None, status_file: Path, pid_file: Path
) -> int:
    grace = stop_grace(os.environ)

    def forward(sig: int, _frame: FrameType | None) -> None:
        app_pid = None if status_file.exists() else read_int(pid_file)
        wanted = signal.SIGABRT if sig == signal.SIGABRT else signal.SIGTERM
        if sig != signal.SIGABRT and signal.getitimer(signal.ITIMER_REAL)[0] == 0:
            signal.setitimer(signal.ITIMER_REAL, grace)  # once: see STOP_GRACE_S
        if app_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(app_pid, wanted)
        elif proc.poll() is None:  # the app is not up yet: end the compositor
            proc.send_signal(signal.SIGTERM)

    killed_app: list[bool] = []

    def too_slow(_sig: int, _frame: FrameType | None) -> None:
        app_pid = None if status_file.exists() else read_int(pid_file)
        if app_pid is not None and not killed_app:
            say(f"the app did not stop within {grace:g} s of the stop signal: killing it")
            killed_app.append(True)
            with contextlib.suppress(ProcessLookupError):
                os.kill(app_pid, signal.SIGKILL)
            signal.setitimer(signal.ITIMER_REAL, CAGE_GRACE_S)  # then cage, if it stays
        elif proc.poll() is None:
            say("cage did not end after its client: killing it")
            proc.kill()

    signal.signal(signal.SIGALRM, too_slow)
    for sig in (*STOP_SIGNALS, signal.SIGABRT):
        signal.signal(sig, forward)
    cage_status = proc.wait() if relay is None else relay.serve(proc)
    status = read_int(status_file)
    if status is None:
        if cage_status < 0:  # killed by a signal: as a shell reports it
            cage_status = 128 - cage_status
        say(f"the app reported no exit status (cage exited with {cage_status})")
        return cage_status or EXIT_CRASHED
    say(f"the app exited with status {status} ({describe(status)})")
    return status


def stop_grace(env: dict[str, str] | os._Environ[str]) -> float:
    """:data:`STOP_GRACE_S`, or the override from the environment when it is valid."""
    try:
        value = float(env.get(STOP_GRACE_VAR, ""))
    except ValueError:
        return STOP_GRACE_S
    return value if 0 < value < 3600 else STOP_GRACE_S


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
