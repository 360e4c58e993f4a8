"""The hidden way into maintenance mode: press and hold the top-left corner.

:class:`StaffCorner` is a small transparent square over the window's top-left
corner. It draws nothing and shows a customer nothing: a tap on it, or a press
shorter than :data:`HOLD_S`, reaches the button that lies below (the first
language button overlaps the square), as if the square were not there; a press
that slides out of the square does nothing. Only a press held for :data:`HOLD_S`
seconds and then released inside the square emits :attr:`StaffCorner.completed`
(touch screens deliver their touches as mouse presses to it). Time is read from
an injected monotonic clock, so tests hold the corner for 3 s by advancing a fake
clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QAbstractButton, QWidget

#: Seconds the corner must be held before the release counts.
HOLD_S = 3.0
#: Side of the square, in pixels, from the window's top-left corner.
CORNER_PX = 32


class StaffCorner(QWidget):
    """The transparent hot corner; ``completed`` after a long enough hold."""

    completed = Signal()

    def __init__(
        self,
        parent: QWidget,
        *,
        now: Callable[[], float] = time.monotonic,
        hold_s: float = HOLD_S,
        size: int = CORNER_PX,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("staff_corner")
        self.now = now
        self.hold_s = hold_s
        self._pressed_at: float | None = None
        self.setFixedSize(size, size)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setAccessibleName("")  # not announced: customers never use it
        self.move(0, 0)
        self.raise_()

    @property
    def holding(self) -> bool:
        return self._pressed_at is not None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._pressed_at = self.now()
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pressed_at is not None and not self.rect().contains(event.position().toPoint()):
            self._pressed_at = None  # slid out: a swipe, not a hold
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        pressed_at, self._pressed_at = self._pressed_at, None
        event.accept()
        at = event.position().toPoint()
        if (
            pressed_at is None
            or event.button() != Qt.MouseButton.LeftButton
            or not self.rect().contains(at)
        ):
            return
        if self.now() - pressed_at >= self.hold_s:
            self.completed.emit()
        else:
            self._pass_on(at)

    def _pass_on(self, at: QPoint) -> None:
        """A tap that was not the gesture: press the button below, if there is one."""
        parent = self.parentWidget()
        if parent is None:
            return
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)
        try:
            below = parent.childAt(self.mapToParent(at))
        finally:
            self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, False)
        while below is not None and below is not parent:
            if isinstance(below, QAbstractButton):
                if below.isEnabled() and below.isVisible():
                    below.click()
                return
            below = below.parentWidget()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        event.accept()  # a double tap is not passed to what lies below either


__all__ = ["CORNER_PX", "HOLD_S", "StaffCorner"]
