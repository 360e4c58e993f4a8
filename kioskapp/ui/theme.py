"""The look of the customer screens: two palettes, a type scale and the Qt style sheet.

Colours are named by role. :data:`TEXT_PAIRS` and :data:`CONTROL_PAIRS` list every
foreground/background combination the style sheet uses, so a test can check the
WCAG contrast ratios (text ≥ 4.5:1, control boundaries and icons ≥ 3:1) in both
the normal and the high-contrast palette. Sizes: every touch target is at least
:data:`MIN_TOUCH_PX` high and wide; large text scales every font by
:data:`LARGE_TEXT_SCALE`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

MIN_TOUCH_PX: Final = 72  # ≥ 64 px targets, with room to spare
FOCUS_RING_PX: Final = 5  # the keyboard focus ring replaces a button's border
#: Padding (vertical, horizontal) of the top bar's buttons: one line of text, two lines.
BAR_PADDING: Final = (8, 16)
BAR_PADDING_TWO_LINES: Final = (3, 16)
SCROLL_BAR_PX: Final = 24  # the slip's lines scroll by dragging them; the bar shows where
LARGE_TEXT_SCALE: Final = 1.35
FONT_FAMILIES: Final = ("Noto Sans CJK JP", "Noto Sans", "DejaVu Sans")


@dataclass(frozen=True)
class Palette:
    window: str  # screen background
    text: str  # body text on window
    muted: str  # secondary text on window
    title: str  # titles on window
    panel: str  # cards/panels background
    panel_text: str
    primary: str  # main action button background
    primary_text: str
    secondary: str  # other buttons background
    secondary_text: str
    border: str  # button/panel boundary against window
    focus: str  # keyboard focus ring against window
    danger: str  # cancel button background
    danger_text: str
    notice_bg: str  # messages (declined, returned note)
    notice_text: str
    ok_bg: str  # positive messages (note accepted)
    ok_text: str
    disabled_bg: str
    disabled_text: str
    bar: str  # top bar background
    bar_text: str


NORMAL: Final = Palette(
    window="#F4F6F9",
    text="#1B2330",
    muted="#4A5568",
    title="#0B3D91",
    panel="#FFFFFF",
    panel_text="#1B2330",
    primary="#0B5CD5",
    primary_text="#FFFFFF",
    secondary="#FFFFFF",
    secondary_text="#0B3D91",
    border="#5A6B85",
    focus="#B3470B",
    danger="#B42318",
    danger_text="#FFFFFF",
    notice_bg="#FFF4E5",
    notice_text="#7A2E0B",
    ok_bg="#E7F6EC",
    ok_text="#14532D",
    disabled_bg="#E2E6EC",
    disabled_text="#4A5568",
    bar="#0B3D91",
    bar_text="#FFFFFF",
)

HIGH_CONTRAST: Final = Palette(
    window="#000000",
    text="#FFFFFF",
    muted="#E6E6E6",
    title="#FFFF00",
    panel="#000000",
    panel_text="#FFFFFF",
    primary="#FFFF00",
    primary_text="#000000",
    secondary="#000000",
    secondary_text="#FFFFFF",
    border="#FFFFFF",
    focus="#00FFFF",
    danger="#FFFFFF",
    danger_text="#000000",
    notice_bg="#000000",
    notice_text="#FFFF00",
    ok_bg="#000000",
    ok_text="#7CFC00",
    disabled_bg="#000000",
    disabled_text="#BDBDBD",
    bar="#000000",
    bar_text="#FFFFFF",
)

#: (foreground, background) roles of every text the style sheet draws.
TEXT_PAIRS: Final = (
    ("text", "window"),
    ("muted", "window"),
    ("title", "window"),
    ("panel_text", "panel"),
    ("primary_text", "primary"),
    ("secondary_text", "secondary"),
    ("danger_text", "danger"),
    ("notice_text", "notice_bg"),
    ("ok_text", "ok_bg"),
    ("disabled_text", "disabled_bg"),
    ("bar_text", "bar"),
)
#: (control colour, what it stands against): boundaries, focus rings, fills.
CONTROL_PAIRS: Final = (
    ("border", "window"),
    ("focus", "window"),
    ("primary", "window"),
    ("danger", "window"),
    ("bar_text", "bar"),
    ("border", "panel"),  # the slip's scroll bar
)


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of ``#RRGGBB``."""
    value = colour.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"not a #RRGGBB colour: {colour!r}")
    channels = []
    for i in (0, 2, 4):
        c = int(value[i : i + 2], 16) / 255
        channels.append(c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4)
    r, g, b = channels
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: str, b: str) -> float:
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


def palette(high_contrast: bool) -> Palette:
    return HIGH_CONTRAST if high_contrast else NORMAL


def colours(p: Palette) -> dict[str, str]:
    return {f.name: getattr(p, f.name) for f in fields(p)}


@dataclass(frozen=True)
class TypeScale:
    body: int
    small: int
    title: int
    huge: int
    button: int

    @classmethod
    def of(cls, large_text: bool) -> TypeScale:
        k = LARGE_TEXT_SCALE if large_text else 1.0
        return cls(
            body=round(22 * k),
            small=round(18 * k),
            title=round(40 * k),
            huge=round(60 * k),
            button=round(24 * k),
        )


def _padding(padding: tuple[int, int], border_w: int | None = None) -> str:
    """``padding`` as CSS; with ``border_w``, for the focus ring: the thicker ring takes
    its room from the padding, so the text keeps its room (the top bar's buttons are
    only as wide as their text needs)."""
    less = 0 if border_w is None else FOCUS_RING_PX - border_w
    return " ".join(f"{max(0, x - less)}px" for x in padding)


def stylesheet(high_contrast: bool, large_text: bool) -> str:
    """The Qt style sheet of the customer window for these modes."""
    p = palette(high_contrast)
    t = TypeScale.of(large_text)
    border_w = 3 if high_contrast else 2
    families = ", ".join(f'"{f}"' for f in FONT_FAMILIES)
    return f"""
QWidget#KioskRoot {{ background: {p.window}; }}
QWidget {{ font-family: {families}; font-size: {t.body}px; color: {p.text}; }}
QLabel {{ background: transparent; }}
QLabel[role="title"] {{ font-size: {t.title}px; font-weight: 700; color: {p.title}; }}
QLabel[role="huge"] {{ font-size: {t.huge}px; font-weight: 700; color: {p.title}; }}
QLabel[role="muted"] {{ color: {p.muted}; font-size: {t.small}px; }}
QLabel[role="amount"] {{ font-size: {t.title}px; font-weight: 700; color: {p.text}; }}
QLabel[role="notice"] {{ background: {p.notice_bg}; color: {p.notice_text};
    border: {border_w}px solid {p.notice_text}; border-radius: 8px; padding: 12px; }}
QLabel[role="ok"] {{ background: {p.ok_bg}; color: {p.ok_text};
    border: {border_w}px solid {p.ok_text}; border-radius: 8px; padding: 12px; }}
QFrame[role="panel"] {{ background: {p.panel}; border: {border_w}px solid {p.border};
    border-radius: 12px; }}
QFrame[role="panel"] QLabel {{ color: {p.panel_text}; }}
QFrame#TopBar {{ background: {p.bar}; }}
QFrame#TopBar QLabel {{ color: {p.bar_text}; }}
QPushButton {{ min-height: {MIN_TOUCH_PX}px; min-width: {MIN_TOUCH_PX}px;
    font-size: {t.button}px; font-weight: 600; padding: 8px 24px; border-radius: 12px;
    background: {p.secondary}; color: {p.secondary_text};
    border: {border_w}px solid {p.border}; }}
QPushButton[role="primary"] {{ background: {p.primary}; color: {p.primary_text};
    border-color: {p.primary}; }}
QPushButton[role="danger"] {{ background: {p.danger}; color: {p.danger_text};
    border-color: {p.danger}; }}
QPushButton[role="product"] {{ min-height: 140px; text-align: left; padding: 16px 24px; }}
QPushButton[role="method"] {{ min-height: 160px; background: {p.primary}; color: {p.primary_text};
    border-color: {p.primary}; }}
QPushButton[role="start"] {{ min-height: 120px; background: {p.primary}; color: {p.primary_text};
    border-color: {p.primary}; font-size: {t.title}px; }}
QPushButton[role="key"] {{ min-width: 96px; font-size: {t.title}px; padding: 0px 8px; }}
QFrame#TopBar QPushButton {{ background: {p.bar}; color: {p.bar_text};
    border: {border_w}px solid {p.bar_text}; padding: {_padding(BAR_PADDING)}; }}
QFrame#TopBar QPushButton[lines="2"] {{ padding: {_padding(BAR_PADDING_TWO_LINES)}; }}
QFrame#TopBar QPushButton:checked {{ background: {p.bar_text}; color: {p.bar}; }}
QPushButton:focus {{ border: {FOCUS_RING_PX}px solid {p.focus}; }}
QFrame#TopBar QPushButton:focus {{ border: {FOCUS_RING_PX}px solid {p.focus};
    padding: {_padding(BAR_PADDING, border_w)}; }}
QFrame#TopBar QPushButton[lines="2"]:focus {{
    padding: {_padding(BAR_PADDING_TWO_LINES, border_w)}; }}
QPushButton:disabled {{ background: {p.disabled_bg}; color: {p.disabled_text};
    border-color: {p.disabled_text}; }}
QLineEdit {{ min-height: {MIN_TOUCH_PX}px; font-size: {t.title}px; padding: 4px 16px;
    background: {p.panel}; color: {p.panel_text}; border: {border_w}px solid {p.border};
    border-radius: 8px; }}
QProgressBar {{ min-height: 16px; max-height: 16px; border: {border_w}px solid {p.border};
    border-radius: 8px; background: {p.panel}; }}
QProgressBar::chunk {{ background: {p.primary}; border-radius: 6px; }}
QFrame[role="panel"] QTextEdit#slip_text {{ font-size: {t.small}px; color: {p.panel_text};
    background: transparent; border: none; }}
QFrame[role="panel"] QTextEdit#slip_text QScrollBar:vertical {{ width: {SCROLL_BAR_PX}px;
    margin: 0px; background: {p.panel}; border: {border_w}px solid {p.border};
    border-radius: 8px; }}
QFrame[role="panel"] QTextEdit#slip_text QScrollBar::handle:vertical {{
    background: {p.border}; min-height: 48px; margin: 3px; border-radius: 5px; }}
QFrame[role="panel"] QTextEdit#slip_text QScrollBar::add-line:vertical,
QFrame[role="panel"] QTextEdit#slip_text QScrollBar::sub-line:vertical {{
    height: 0px; border: none; }}
QFrame[role="panel"] QTextEdit#slip_text QScrollBar::add-page:vertical,
QFrame[role="panel"] QTextEdit#slip_text QScrollBar::sub-page:vertical {{ background: none; }}
QFrame#IdleWarning {{ background: {p.panel}; border: 4px solid {p.focus};
    border-radius: 16px; }}
QFrame#IdleWarning QLabel {{ color: {p.panel_text}; }}
"""


__all__ = [
    "BAR_PADDING",
    "BAR_PADDING_TWO_LINES",
    "CONTROL_PAIRS",
    "FOCUS_RING_PX",
    "FONT_FAMILIES",
    "HIGH_CONTRAST",
    "LARGE_TEXT_SCALE",
    "MIN_TOUCH_PX",
    "NORMAL",
    "SCROLL_BAR_PX",
    "TEXT_PAIRS",
    "Palette",
    "TypeScale",
    "colours",
    "contrast_ratio",
    "palette",
    "relative_luminance",
    "stylesheet",
]
