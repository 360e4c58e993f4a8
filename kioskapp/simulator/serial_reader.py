"""A virtual USB-serial customer card reader on a pseudo-terminal (Linux/POSIX).

The simulator plays the device: it opens a pty pair, keeps the master end and
publishes the slave end under a stable symlink (:attr:`VirtualSerialReader.path`)
that the app's ``[serial_reader] url`` points at. Tests and the control panel
"scan" codes (the code plus CR/LF, as the real reader sends them), write raw
bytes (garbage, partial lines), and unplug/replug the reader:

- ``unplug()`` closes the pty (the app's reader sees a read error / hang-up)
  and removes the symlink (the device file is gone, reopening fails);
- ``replug()`` opens a NEW pty (a new ``/dev/pts/N``) and points the symlink
  at it, like udev's ``/dev/serial/by-id/...`` link after a replug.

The slave end is put in raw mode (no echo, no CR→LF translation) so bytes
arrive exactly as written. Bytes written while no app has the port open are
discarded by the app's pyserial on open, like a real reader's.

No Qt, no asyncio: writes are small non-blocking-in-practice ``os.write`` calls.
Run alone for manual tests: ``python -m kioskapp.simulator.serial_reader``
prints the path, then sends each typed line as a scan (``!unplug``,
``!replug``, ``!garbage`` are commands).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import tty
from pathlib import Path
from types import TracebackType

DEFAULT_LINK_NAME = "card-reader"


class ReaderUnplugged(RuntimeError):
    """The virtual reader is unplugged (or not started): it cannot send anything."""


class VirtualSerialReader:
    """A card reader the app can open at :attr:`path`; see the module docstring.

    ``directory``: where the symlink lives (default: a fresh temporary
    directory, removed by :meth:`stop`).
    """

    def __init__(self, directory: Path | None = None, link_name: str = DEFAULT_LINK_NAME) -> None:
        self._given_directory = directory
        self._directory: Path | None = None
        self._link_name = link_name
        self._master: int | None = None
        self._slave: int | None = None
        self._slave_path: str | None = None
        self.plugs = 0  # how many times a pty was opened (start + replugs)

    # -- lifecycle ----------------------------------------------------------------
    def start(self) -> VirtualSerialReader:
        """Create the symlink directory and plug the reader in."""
        if self._directory is not None:
            raise RuntimeError("virtual serial reader already started")
        if self._given_directory is not None:
            self._given_directory.mkdir(parents=True, exist_ok=True)
            self._directory = self._given_directory
        else:
            self._directory = Path(tempfile.mkdtemp(prefix="kioskapp-serial-"))
        self._plug()
        return self

    def stop(self) -> None:
        """Unplug and remove the symlink (and the temporary directory if we made it)."""
        self._unplug()
        if self._directory is not None and self._given_directory is None:
            shutil.rmtree(self._directory, ignore_errors=True)
        self._directory = None

    def __enter__(self) -> VirtualSerialReader:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the app sees ------------------------------------------------------------
    @property
    def path(self) -> str:
        """The stable device path for the app's ``serial_reader.url`` (a symlink)."""
        if self._directory is None:
            raise RuntimeError("virtual serial reader not started")
        return str(self._directory / self._link_name)

    @property
    def slave_path(self) -> str | None:
        """The current pty slave (``/dev/pts/N``), None while unplugged."""
        return self._slave_path

    @property
    def plugged(self) -> bool:
        return self._master is not None

    # -- what the reader sends ----------------------------------------------------------
    def scan(self, code: str, terminator: str = "\r\n") -> None:
        """Send one code as the reader does: its ASCII bytes and a line terminator."""
        self.write_raw(code.encode("ascii") + terminator.encode("ascii"))

    def write_raw(self, data: bytes) -> None:
        """Send bytes exactly as given (garbage, a partial line, several lines)."""
        if self._master is None:
            raise ReaderUnplugged("the virtual card reader is unplugged")
        view = memoryview(data)
        while view:
            written = os.write(self._master, view)
            view = view[written:]

    # -- cable ------------------------------------------------------------------------
    def unplug(self) -> None:
        """Pull the cable: close the pty and remove the device file (symlink)."""
        if self._directory is None:
            raise RuntimeError("virtual serial reader not started")
        self._unplug()

    def replug(self) -> None:
        """Plug back in: a new pty, and the symlink now points at it."""
        if self._directory is None:
            raise RuntimeError("virtual serial reader not started")
        self._unplug()
        self._plug()

    # -- internals --------------------------------------------------------------------
    def _plug(self) -> None:
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            slave_path = os.ttyname(slave)
            link = Path(self.path)
            tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            tmp.symlink_to(slave_path)
            tmp.replace(link)  # atomic: the app never sees a half-made link
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        # Keep the slave open too, as the device itself would: the pty stays
        # usable whether or not the app has it open.
        self._master, self._slave, self._slave_path = master, slave, slave_path
        self.plugs += 1

    def _unplug(self) -> None:
        if self._directory is not None:
            with contextlib.suppress(FileNotFoundError):
                Path(self.path).unlink()
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        self._slave_path = None


def main(argv: list[str] | None = None) -> int:
    """Interactive virtual reader: each typed line is scanned; ``!unplug`` etc. are commands."""
    directory = Path(argv[0]) if argv else None
    with VirtualSerialReader(directory) as reader:
        print(f"virtual card reader at {reader.path} (set [serial_reader] url to it)")
        print("type a code to scan it; !unplug, !replug, !garbage, Ctrl+D to quit")
        for line in sys.stdin:
            text = line.strip()
            try:
                if text == "!unplug":
                    reader.unplug()
                elif text == "!replug":
                    reader.replug()
                    print(f"now {reader.slave_path}")
                elif text == "!garbage":
                    reader.write_raw(b"\x00\xff\xfe\x1b[\r\n")
                elif text:
                    reader.scan(text)
            except (ReaderUnplugged, UnicodeEncodeError) as exc:
                print(f"not sent: {exc}")
    return 0


__all__ = ["DEFAULT_LINK_NAME", "ReaderUnplugged", "VirtualSerialReader", "main"]


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
