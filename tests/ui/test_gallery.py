"""Every sample screen in every language, and in the stretching pseudo-locale, plain
and in each accessibility mode (high contrast, large text, both): no text is
clipped and nothing sticks out of the screen at the windowed size."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from kioskapp.config import load_config
from kioskapp.core.flow import State
from kioskapp.ui.gallery import clipped, sample_snapshots, settle
from kioskapp.ui.window import WINDOWED_SIZE, KioskWindow

CONFIG = load_config(None, env={})
SAMPLES = sample_snapshots(CONFIG)
LANGUAGES = ["en", "es", "fr", "ja"]
MODES = {
    "plain": {},
    "high_contrast": {"high_contrast": True},
    "large_text": {"large_text": True},
    "both_modes": {"high_contrast": True, "large_text": True},
}


def _window(qtbot: QtBot, *, pseudo: bool = False) -> KioskWindow:
    window = KioskWindow(CONFIG, pseudo_locale=pseudo)
    qtbot.addWidget(window)
    window.resize(*WINDOWED_SIZE)
    window.show()
    return window


def _draw_all(qtbot: QtBot, lang: str, *, pseudo: bool = False, **modes: bool) -> list[str]:
    window = _window(qtbot, pseudo=pseudo)
    problems = []
    for name, snap in SAMPLES:
        window.show_snapshot(replace(snap, language=lang, **modes))
        settle(window)
        assert window.snap.state is snap.state
        assert (window.snap.high_contrast, window.snap.large_text) == (
            modes.get("high_contrast", False),
            modes.get("large_text", False),
        )
        assert (window.width(), window.height()) == WINDOWED_SIZE, name
        problems += [f"{name}: {p}" for p in clipped(window)]
    return problems


def test_the_samples_cover_every_state() -> None:
    assert {snap.state for _, snap in SAMPLES} == set(State)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_nothing_is_clipped(qtbot: QtBot, lang: str, mode: str) -> None:
    assert _draw_all(qtbot, lang, **MODES[mode]) == []


@pytest.mark.parametrize("mode", ["plain", "high_contrast"])
def test_nothing_is_clipped_in_the_pseudo_locale(qtbot: QtBot, mode: str) -> None:
    # (Its words are ~40 % longer than English, and some are long unbreakable runs:
    # with large text as well, they are longer than any language the kiosk speaks.)
    assert _draw_all(qtbot, "en", pseudo=True, **MODES[mode]) == []


def test_the_top_bar_switches_go_on_two_lines_only_when_one_is_too_wide(
    qtbot: QtBot,
) -> None:
    window = _window(qtbot)
    attract = dict(SAMPLES)["attract"]
    top = window.top
    seen = {}
    for large_text in (False, True):
        for lang in LANGUAGES:
            window.show_snapshot(replace(attract, language=lang, large_text=large_text))
            settle(window)
            texts = (top.contrast.text(), top.large.text())
            seen[lang, large_text] = texts
            assert [t.replace("\n", " ") for t in texts] == [
                window.texts("chrome.high_contrast"),
                window.texts("chrome.large_text"),
            ]
            assert top.contrast.accessibleName() == window.texts("chrome.high_contrast")
            buttons = top.findChildren(QPushButton)
            assert len({b.height() for b in buttons}) == 1, "one height for the whole bar"
            assert clipped(window) == []
    wrapped = {key for key, texts in seen.items() if any("\n" in t for t in texts)}
    assert wrapped == {("fr", True)}  # "Contraste élevé", "Grands caractères"
    assert seen["fr", True] == ("Contraste\nélevé", "Grands\ncaractères")
    window.show_snapshot(replace(attract, language="fr", large_text=False))
    settle(window)
    assert "\n" not in top.large.text()  # back on one line when there is room again


def test_the_clipping_check_finds_a_clipped_label(qtbot: QtBot) -> None:
    window = _window(qtbot)
    settle(window)
    title = window.current_screen.title  # type: ignore[attr-defined]
    title.setWordWrap(False)
    title.setText("W" * 200)
    assert any("does not fit" in p for p in clipped(window))


def test_the_clipping_check_finds_a_clipped_button(qtbot: QtBot) -> None:
    window = _window(qtbot)
    settle(window)
    assert clipped(window) == []
    english = window.top.languages["en"]
    english.setFixedWidth(english.width() - 30)  # the text's room, less its padding
    settle(window)
    assert clipped(window) == [f"lang:en: 'English' does not fit ({english.width()}x92)"]


def test_the_clipping_check_knows_where_a_line_can_break(qtbot: QtBot) -> None:
    window = _window(qtbot)
    settle(window)
    subtitle = window.current_screen.subtitle  # type: ignore[attr-defined]
    subtitle.setFixedWidth(120)
    subtitle.setText("abcd-efgh-ijkl-mnop-qrst")  # a line can break after each hyphen
    settle(window)
    assert clipped(window) == []
    subtitle.setText("1234-5678-9012-3456")  # but not before a digit: one long word
    settle(window)
    assert clipped(window) == [
        f"QLabel: '1234-5678-9012-3456' does not fit (120x{subtitle.height()})"
    ]
