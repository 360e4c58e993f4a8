"""systemd's service notification protocol (sd_notify(3)), without libsystemd.

A service that systemd starts with ``Type=notify`` finds ``NOTIFY_SOCKET`` in its
environment: the address of a datagram socket (a path, or ``@name`` for Linux's
abstract namespace). Each message is one datagram of ``KEY=value`` lines:
``READY=1`` (start-up finished), ``STATUS=...`` (one line for humans, shown by
``systemctl status``), ``WATCHDOG=1`` (still healthy), ``STOPPING=1``. With
``WatchdogSec=`` set, systemd also passes ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``,
the process it expects pings from) and restarts the service when no ping
arrives within that time.

Sending never blocks and never raises: the socket is non-blocking, and a
message that cannot be sent (no manager listening, a full queue) is dropped
with one log line; a service must never stall on its supervisor. Outside
systemd (no ``NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping, MutableMapping

__all__ = ["NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC", "Notifier", "parse_address"]

log = logging.getLogger(__name__)

NOTIFY_SOCKET = "NOTIFY_SOCKET"
WATCHDOG_USEC = "WATCHDOG_USEC"
WATCHDOG_PID = "WATCHDOG_PID"
#: A STATUS= line longer than this is cut (systemctl shows one line).
MAX_STATUS_CHARS = 200


def parse_address(value: str) -> str | bytes | None:
    """The socket address of a NOTIFY_SOCKET value: a path, or the abstract name
    (bytes starting with NUL) for ``@name``; None for anything else."""
    if value.startswith("/") and len(value) > 1:
        return value
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    return None


def _positive_int(text: str | None) -> int | None:
    if text is None or not text.strip().isdigit():
        return None
    value = int(text)
    return value if value > 0 else None


class Notifier:
    """Messages to the service manager; every method is a no-op when not under one."""

    def __init__(self, socket_name: str | None, *, watchdog_usec: int | None = None) -> None:
        """``socket_name`` as in NOTIFY_SOCKET (None: not under a service manager)."""
        self.address = parse_address(socket_name) if socket_name else None
        if socket_name and self.address is None:
            log.warning(
                "sd_notify: unsupported %s=%r; not notifying systemd", NOTIFY_SOCKET, socket_name
            )
        #: The watchdog time-out systemd enforces (None: no watchdog for this process).
        self.watchdog_usec = watchdog_usec if self.address is not None else None
        self._sock: socket.socket | None = None
        self._last_error: str | None = None

    @classmethod
    def from_environ(
        cls,
        env: Mapping[str, str],
        *,
        pid: int | None = None,
        unset: bool = False,
    ) -> Notifier:
        """The notifier systemd set up for this process (``pid``, default: this one).

        With ``unset``, the variables are removed from ``env`` (which must then be
        mutable, e.g. ``os.environ``) so that no child process (the simulators, a
        speech daemon) ever speaks to systemd in this service's name."""
        raw = env.get(NOTIFY_SOCKET)
        usec_text, pid_text = env.get(WATCHDOG_USEC), env.get(WATCHDOG_PID)
        if unset and isinstance(env, MutableMapping):
            for name in (NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID):
                env.pop(name, None)
        usec = _positive_int(usec_text)
        if usec_text is not None and usec is None:
            log.warning(
                "sd_notify: ignoring %s=%r (not a positive integer)", WATCHDOG_USEC, usec_text
            )
        if pid_text is not None:
            expected = _positive_int(pid_text)
            if expected != (os.getpid() if pid is None else pid):
                usec = None  # the watchdog is another process's duty
        return cls(raw, watchdog_usec=usec)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_timeout_s(self) -> float | None:
        """Seconds without WATCHDOG=1 after which systemd acts (None: no watchdog here).
        sd_watchdog_enabled(3) advises pinging at least every half of it."""
        if self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 1_000_000

    # -- messages ------------------------------------------------------------------------
    def ready(self, status: str | None = None) -> bool:
        return self.send("READY=1", *self._status(status))

    def status(self, text: str) -> bool:
        return self.send(*self._status(text))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *self._status(status))

    @staticmethod
    def _status(text: str | None) -> list[str]:
        if text is None:
            return []
        line = " ".join(text.split())
        if len(line) > MAX_STATUS_CHARS:
            line = line[: MAX_STATUS_CHARS - 1] + "…"
        return [f"STATUS={line}"]

    def send(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines as one datagram; True if it left this process."""
        if self.address is None or not assignments:
            return False
        for item in assignments:
            if "=" not in item or "\n" in item:
                raise ValueError(f"not a KEY=value line: {item!r}")
        payload = ("\n".join(assignments) + "\n").encode()
        try:
            if self._sock is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                sock.setblocking(False)
                self._sock = sock
            self._sock.sendto(payload, self.address)
        except OSError as exc:
            error = exc.strerror or type(exc).__name__
            if error != self._last_error:
                log.warning("sd_notify: cannot notify systemd (%s); message dropped", error)
            self._last_error = error
            return False
        if self._last_error is not None:
            log.info("sd_notify: notifying systemd again")
            self._last_error = None
        return True

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
