"""Small building blocks of the customer screens."""

from __future__ import annotations

import io

import segno
from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)


def label(role: str | None = None, *, wrap: bool = True, center: bool = True) -> QLabel:
    """A text label with a theme role (``title``, ``huge``, ``muted``, ``amount``,
    ``notice``, ``ok``)."""
    w = QLabel()
    if role:
        w.setProperty("role", role)
    w.setWordWrap(wrap)
    if center:
        w.setAlignment(Qt.AlignmentFlag.AlignCenter)
    w.setTextFormat(Qt.TextFormat.PlainText)
    return w


def button(role: str | None = None, name: str | None = None) -> QPushButton:
    """A touch button (≥ the theme's minimum size). ``name`` is its objectName, used by
    tests and the screenshot script to find it."""
    b = QPushButton()
    if role:
        b.setProperty("role", role)
    if name:
        b.setObjectName(name)
    b.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    b.setAutoDefault(False)
    b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return b


def busy_bar(name: str = "busy") -> QProgressBar:
    """The visible progress indicator of every wait (an indeterminate, moving bar)."""
    bar = QProgressBar()
    bar.setObjectName(name)
    bar.setRange(0, 0)
    bar.setTextVisible(False)
    bar.setMinimumWidth(360)
    bar.setMaximumWidth(520)
    bar.setAccessibleName("busy")
    return bar


def panel() -> QFrame:
    f = QFrame()
    f.setProperty("role", "panel")
    return f


def row(*widgets: QWidget, spacing: int = 16) -> QHBoxLayout:
    lay = QHBoxLayout()
    lay.setSpacing(spacing)
    for w in widgets:
        lay.addWidget(w)
    return lay


def column(*items: QWidget | QLayout, spacing: int = 20, margins: int = 32) -> QVBoxLayout:
    lay = QVBoxLayout()
    lay.setSpacing(spacing)
    lay.setContentsMargins(margins, margins, margins, margins)
    for item in items:
        if isinstance(item, QLayout):
            lay.addLayout(item)
        else:
            lay.addWidget(item)
    return lay


def qr_pixmap(payload: str, scale: int = 6) -> QPixmap:
    """A QR code as a pixmap (the slip shown on screen when the printer fails)."""
    buf = io.BytesIO()
    segno.make(payload, error="m").save(buf, kind="png", scale=scale, border=2)
    pix = QPixmap()
    pix.loadFromData(buf.getvalue(), "PNG")
    return pix


def set_text(widget: QLabel | QPushButton, text: str) -> None:
    """Set a text and its accessible name (screen readers read the latter)."""
    if widget.text() != text:
        widget.setText(text)
    widget.setAccessibleName(text)


def show(widget: QWidget, visible: bool) -> None:
    """Show or hide ``widget`` (only when that changes: no needless relayout)."""
    if widget.isHidden() == visible:
        widget.setVisible(visible)


__all__ = [
    "busy_bar",
    "button",
    "column",
    "label",
    "panel",
    "qr_pixmap",
    "row",
    "set_text",
    "show",
]
