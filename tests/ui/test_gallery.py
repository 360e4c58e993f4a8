"""Every sample screen in every language, and in the stretching pseudo-locale: no
text is clipped and nothing sticks out of the screen at the windowed size."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pytestqt.qtbot import QtBot

from kioskapp.config import load_config
from kioskapp.core.flow import State
from kioskapp.ui.gallery import clipped, sample_snapshots, settle
from kioskapp.ui.window import WINDOWED_SIZE, KioskWindow

CONFIG = load_config(None, env={})
SAMPLES = sample_snapshots(CONFIG)


def _draw_all(qtbot: QtBot, lang: str, *, pseudo: bool = False, **modes: bool) -> list[str]:
    window = KioskWindow(CONFIG, pseudo_locale=pseudo)
    qtbot.addWidget(window)
    window.resize(*WINDOWED_SIZE)
    window.show()
    problems = []
    for name, snap in SAMPLES:
        window.show_snapshot(replace(snap, language=lang, **modes))
        settle(window)
        assert window.snap.state is snap.state
        assert (window.width(), window.height()) == WINDOWED_SIZE, name
        problems += [f"{name}: {p}" for p in clipped(window)]
    return problems


def test_the_samples_cover_every_state() -> None:
    assert {snap.state for _, snap in SAMPLES} == set(State)


@pytest.mark.parametrize("lang", ["en", "es", "fr", "ja"])
def test_nothing_is_clipped(qtbot: QtBot, lang: str) -> None:
    assert _draw_all(qtbot, lang) == []


def test_nothing_is_clipped_in_the_pseudo_locale(qtbot: QtBot) -> None:
    assert _draw_all(qtbot, "en", pseudo=True) == []


@pytest.mark.parametrize("mode", ["high_contrast", "large_text"])
def test_nothing_is_clipped_in_the_accessibility_modes(qtbot: QtBot, mode: str) -> None:
    assert _draw_all(qtbot, "en", **{mode: True}) == []


def test_the_clipping_check_finds_a_clipped_label(qtbot: QtBot) -> None:
    window = KioskWindow(CONFIG)
    qtbot.addWidget(window)
    window.resize(*WINDOWED_SIZE)
    window.show()
    settle(window)
    title = window.current_screen.title  # type: ignore[attr-defined]
    title.setWordWrap(False)
    title.setText("W" * 200)
    assert any("does not fit" in p for p in clipped(window))
