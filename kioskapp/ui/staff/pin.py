"""The staff PIN screen: its own keypad, masked digits, Cancel back to the customers.

What it says: "Wrong PIN, N attempts left", "Too many wrong PINs: locked for m:ss"
(counting down on the kiosk's clock, and the keypad off until the lock ends), "No
staff PIN is set: run `kioskapp admin set-pin`". The PIN is checked (and counted,
and audited) by :meth:`StaffService.login`; this screen only collects the digits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLineEdit, QVBoxLayout, QWidget

from kioskapp.staff.pin import PIN_MAX_DIGITS
from kioskapp.staff.service import StaffError
from kioskapp.ui.staff.common import NumberPad, Tasks, countdown
from kioskapp.ui.widgets import busy_bar, button, label, panel, set_text, show

if TYPE_CHECKING:
    from kioskapp.core.clock import TimerHandle
    from kioskapp.staff.access import PinCheck
    from kioskapp.staff.service import StaffService

log = logging.getLogger(__name__)

NO_PIN_TEXT = "No staff PIN is set: run `kioskapp admin set-pin` on the kiosk to set one."
BAD_PIN_TEXT = "The configured staff PIN is unusable: run `kioskapp admin set-pin` to set it."
ENTER_TEXT = "Enter the staff PIN."


def wrong_text(attempts_left: int) -> str:
    plural = "attempt" if attempts_left == 1 else "attempts"
    return f"Wrong PIN, {attempts_left} {plural} left."


def locked_text(seconds_left: float) -> str:
    return f"Too many wrong PINs: locked for {countdown(seconds_left)}."


class PinPage(QWidget):
    """Collects the staff PIN; ``accepted`` once the service let staff in, ``cancelled``
    when staff pressed Cancel."""

    accepted = Signal()
    cancelled = Signal()
    #: Emitted after each PIN check finished (tests wait on it).
    settled = Signal()

    def __init__(self, tasks: Tasks) -> None:
        super().__init__()
        self.setObjectName("staff_pin")
        self.tasks = tasks
        self.service: StaffService | None = None
        self.locked_until: float | None = None
        self._tick: TimerHandle | None = None
        self._checking: asyncio.Task[None] | None = None
        self.prompt = label("heading")
        self.prompt.setObjectName("pin:prompt")
        self.status = label("notice")
        self.status.setObjectName("pin:status")
        self.status.hide()
        self.digits = QLineEdit()
        self.digits.setObjectName("pin:digits")
        self.digits.setReadOnly(True)
        self.digits.setEchoMode(QLineEdit.EchoMode.Password)
        self.digits.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.digits.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.digits.setMaxLength(PIN_MAX_DIGITS)
        self.digits.setAccessibleName("PIN")
        self.pad = NumberPad(self.digits, "pin", max_digits=PIN_MAX_DIGITS, ok_text="Enter")
        self.pad.entered.connect(self._submit)
        self.busy = busy_bar("pin:busy")
        self.busy.hide()
        self.cancel = button("danger", "pin:cancel")
        set_text(self.cancel, "Cancel")
        self.cancel.clicked.connect(self.cancelled.emit)
        box = panel()
        box.setObjectName("pin_box")
        inner = QVBoxLayout()
        inner.setContentsMargins(40, 24, 40, 24)
        inner.setSpacing(16)
        inner.addWidget(self.prompt)
        inner.addWidget(self.digits)
        inner.addWidget(self.status)
        inner.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignHCenter)
        inner.addWidget(self.pad)
        inner.addWidget(self.cancel)
        box.setLayout(inner)
        box.setFixedWidth(560)
        outer = QHBoxLayout()
        outer.addStretch(1)
        outer.addWidget(box)
        outer.addStretch(1)
        lay = QVBoxLayout()
        lay.addStretch(1)
        lay.addLayout(outer)
        lay.addStretch(1)
        self.setLayout(lay)

    # -- showing -----------------------------------------------------------------------
    def open(self, service: StaffService) -> None:
        """Shown: a fresh entry, and the lock or missing PIN said at once."""
        self.service = service
        self.digits.clear()
        self._set_locked(None)
        set_text(self.prompt, ENTER_TEXT)
        self._say(None)
        self.pad.setEnabled(True)
        if not service.access.pin_set:
            self._say(NO_PIN_TEXT)
            self.pad.setEnabled(False)
            return
        self._start(self._read_lock(service), "pin-lock")

    def close_page(self) -> None:
        """Hidden (cancelled, accepted or timed out): forget the digits, stop the clock."""
        self.digits.clear()
        self._set_locked(None)
        if self._checking is not None:
            self._checking.cancel()
            self._checking = None

    def first_focus(self) -> QWidget:
        return self.pad.keys["1"]

    # -- checking ----------------------------------------------------------------------
    def _start(self, work: object, name: str) -> None:
        self._checking = self.tasks.start(work, name)  # type: ignore[arg-type]

    async def _read_lock(self, service: StaffService) -> None:
        until = await service.access.locked_until()
        if until is not None:
            self._set_locked(until)
        self.settled.emit()

    def _submit(self, pin: str) -> None:
        if self.service is None or (self._checking is not None and not self._checking.done()):
            return  # one check at a time: a second Enter while checking is dropped
        self._start(self._check(self.service, pin), "pin-check")

    async def _check(self, service: StaffService, pin: str) -> None:
        self.digits.clear()
        self.pad.setEnabled(False)
        self.cancel.setEnabled(False)
        show(self.busy, True)
        try:
            result = await service.login(pin)
        except StaffError as exc:  # right PIN, but a customer started a sale meanwhile
            self._after_check(None, str(exc))
            return
        except Exception:  # the staff screens' top-level handler: say so, keep going
            log.exception("maintenance: the PIN check failed")
            self._after_check(None, "The PIN could not be checked (an error; see the log).")
            return
        finally:
            show(self.busy, False)
            self.cancel.setEnabled(True)
        self._after_check(result, None)

    def _after_check(self, result: PinCheck | None, error: str | None) -> None:
        self.pad.setEnabled(True)
        if result is not None and result.ok:
            self._say(None)
            self.settled.emit()
            self.accepted.emit()
            return
        if result is None:
            self._say(error)
        elif result.reason == "locked":
            self._set_locked(result.locked_until)
        elif result.reason == "no_pin_set":
            self._say(NO_PIN_TEXT)
            self.pad.setEnabled(False)
        elif result.reason == "bad_pin_hash":
            self._say(BAD_PIN_TEXT)
            self.pad.setEnabled(False)
        else:
            self._say(wrong_text(result.attempts_left))
        self.settled.emit()

    # -- the lock ------------------------------------------------------------------------
    def _set_locked(self, until: float | None) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self.locked_until = until
        if until is None:
            return
        self._show_lock()

    def _show_lock(self) -> None:
        self._tick = None
        service, until = self.service, self.locked_until
        if service is None or until is None:
            return
        clock = service.kiosk.clock
        left = until - clock.time()
        if left <= 0:
            self.locked_until = None
            self.pad.setEnabled(True)
            self._say(None)
            set_text(self.prompt, ENTER_TEXT)
            return
        self.pad.setEnabled(False)
        self.digits.clear()
        self._say(locked_text(left))
        # The next whole second of the countdown (on the kiosk's clock).
        step = left - int(left) or 1.0
        self._tick = clock.call_later(step, self._show_lock)

    # -- text --------------------------------------------------------------------------
    def _say(self, text: str | None) -> None:
        set_text(self.status, text or "")
        show(self.status, bool(text))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if not self.pad.key(event):
            super().keyPressEvent(event)

    def escape(self) -> bool:
        self.cancelled.emit()
        return True


__all__ = ["BAD_PIN_TEXT", "ENTER_TEXT", "NO_PIN_TEXT", "PinPage", "locked_text", "wrong_text"]
