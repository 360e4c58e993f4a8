"""A stand-in for systemd's notification socket: a datagram socket that records every
message a service sends, and who sent it (the kernel's SCM_CREDENTIALS, as systemd
reads them), and waits for the ones a test expects."""

from __future__ import annotations

import os
import select
import socket
import struct
import time
import uuid
from collections.abc import Callable
from pathlib import Path

#: Real seconds a test waits for a message (an app start under load included).
WAIT_S = 60.0


class NotifySocket:
    """Bound to ``path`` (a file) or, without one, to a random abstract name.

    ``address`` is what goes into NOTIFY_SOCKET. ``messages`` holds every message
    received so far, each as a dict of its ``KEY=value`` lines, in order;
    ``senders`` the pid that sent each one (None if the kernel did not say)."""

    def __init__(self, path: Path | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        if path is None:
            name = f"kioskapp-test-{uuid.uuid4().hex}"
            self.sock.bind(b"\0" + name.encode())
            self.address = "@" + name
        else:
            self.sock.bind(str(path))
            os.chmod(path, 0o666)  # noqa: S103 (a service running as another user sends too)
            self.address = str(path)
        self.messages: list[dict[str, str]] = []
        self.senders: list[int | None] = []

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> NotifySocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _receive(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
        if not ready:
            return False
        ucred = struct.calcsize("3i")
        raw, ancillary, _flags, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(ucred))
        sender = None
        for level, kind, value in ancillary:
            if (level, kind) == (socket.SOL_SOCKET, socket.SCM_CREDENTIALS):
                sender = struct.unpack("3i", value[:ucred])[0]
        data = raw.decode()
        fields = dict(line.split("=", 1) for line in data.splitlines() if "=" in line)
        self.messages.append(fields)
        self.senders.append(sender)
        return True

    def poll(self) -> int:
        """Record what has arrived so far, without waiting; how many messages that was."""
        count = 0
        while self._receive(0.0):
            count += 1
        return count

    def until(
        self,
        check: Callable[[dict[str, str]], bool],
        what: str,
        *,
        start: int = 0,
        timeout: float = WAIT_S,
        alive: Callable[[], bool] | None = None,
    ) -> int:
        """Index of the first message from ``start`` on that passes ``check``, waiting
        for it (``alive``: the sender still runs; a dead sender fails at once)."""
        deadline = time.monotonic() + timeout
        pos = start
        while True:
            while pos < len(self.messages):
                if check(self.messages[pos]):
                    return pos
                pos += 1
            if alive is not None and not alive():
                raise AssertionError(f"the service ended before {what}; got {self.messages}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; got {self.messages}")
            self._receive(min(1.0, deadline - time.monotonic()))

    def count(self, key: str, *, start: int = 0, end: int | None = None) -> int:
        return sum(1 for m in self.messages[start:end] if key in m)


def is_watchdog(message: dict[str, str]) -> bool:
    return message.get("WATCHDOG") == "1"


def is_ready(message: dict[str, str]) -> bool:
    return message.get("READY") == "1"


def status_starts(prefix: str) -> Callable[[dict[str, str]], bool]:
    return lambda m: m.get("STATUS", "").startswith(prefix)
