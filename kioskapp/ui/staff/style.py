"""What the maintenance screens add to the customer style sheet: the same palettes and
type scale (:mod:`kioskapp.ui.theme`), for the staff bar, menu tiles, list rows,
status badges, the on-screen keyboard and slips shown on screen. Only colour pairs
the theme's contrast test already checks are used."""

from __future__ import annotations

from kioskapp.ui.theme import MIN_TOUCH_PX, TypeScale, palette


def staff_stylesheet(high_contrast: bool, large_text: bool) -> str:
    p = palette(high_contrast)
    t = TypeScale.of(large_text)
    border_w = 3 if high_contrast else 2
    return f"""
QWidget#StaffView {{ background: {p.window}; }}
QFrame#StaffBar {{ background: {p.bar}; }}
QFrame#StaffBar QLabel {{ color: {p.bar_text}; font-size: {t.button}px; font-weight: 700; }}
QFrame#StaffBar QPushButton {{ background: {p.bar}; color: {p.bar_text};
    border: {border_w}px solid {p.bar_text}; }}
QFrame#StaffBar QPushButton:focus {{ border: 5px solid {p.focus}; }}
QLabel[role="heading"] {{ font-size: {t.button}px; font-weight: 700; color: {p.title}; }}
QLabel[role="good"] {{ background: {p.ok_bg}; color: {p.ok_text}; font-weight: 700;
    border: {border_w}px solid {p.ok_text}; border-radius: 6px; padding: 2px 10px; }}
QLabel[role="bad"] {{ background: {p.notice_bg}; color: {p.notice_text}; font-weight: 700;
    border: {border_w}px solid {p.notice_text}; border-radius: 6px; padding: 2px 10px; }}
QLabel[role="unknown"] {{ background: {p.disabled_bg}; color: {p.disabled_text};
    font-weight: 700; border: {border_w}px solid {p.disabled_text}; border-radius: 6px;
    padding: 2px 10px; }}
QLabel[role="mono"] {{ font-family: "DejaVu Sans Mono", monospace; font-size: {t.small}px;
    background: {p.panel}; color: {p.panel_text}; border: {border_w}px solid {p.border};
    border-radius: 8px; padding: 16px; }}
QPushButton[role="tile"] {{ min-height: 112px; padding: 0px; }}
QPushButton[role="tile"] QLabel[role="heading"] {{ color: {p.secondary_text}; }}
QPushButton[role="key_primary"] {{ min-width: 96px; padding: 0px 8px; background: {p.primary};
    color: {p.primary_text}; border-color: {p.primary}; }}
QPushButton[role="key_primary"]:disabled {{ background: {p.disabled_bg};
    color: {p.disabled_text}; border-color: {p.disabled_text}; }}
QPushButton[role="row"] {{ min-height: {MIN_TOUCH_PX}px; text-align: left;
    padding: 8px 20px; font-weight: 400; font-size: {t.small}px; }}
QPushButton[role="kbkey"] {{ min-width: 64px; min-height: 64px; padding: 0px 4px; }}
QPushButton[role="key"]:checked, QPushButton[role="kbkey"]:checked {{
    background: {p.primary}; color: {p.primary_text}; }}
QPushButton[role="toggle"]:checked {{ background: {p.primary}; color: {p.primary_text};
    border-color: {p.primary}; }}
QWidget#StaffConfirmBackdrop {{ background: rgba(0, 0, 0, 110); }}
QFrame#StaffConfirm {{ background: {p.panel}; border: 4px solid {p.focus};
    border-radius: 16px; }}
QFrame#StaffConfirm QLabel {{ color: {p.panel_text}; }}
QScrollArea {{ background: transparent; border: none; }}
QScrollArea > QWidget > QWidget {{ background: transparent; }}
"""


__all__ = ["staff_stylesheet"]
