"""Speech output: screen titles, amounts and errors read aloud (QtTextToSpeech).

Where the system has no speech engine (or ``ui.speech`` is off) :class:`Speaker`
does nothing and says so once in the log; the screens never depend on it. The
tests use Qt's ``mock`` engine, which speaks instantly and silently.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Final

from PySide6.QtCore import QLocale, QLoggingCategory

log = logging.getLogger(__name__)

_LOCALES = {"en": "en_GB", "es": "es_ES", "fr": "fr_FR", "ja": "ja_JP"}

#: Characters that already end a sentence (Latin and full-width).
SENTENCE_ENDS: Final = frozenset(".!?…。！？．")
#: Languages written without spaces between sentences, and their full stop.
_NO_SPACE_FULL_STOPS: Final = {"ja": "。", "zh": "。"}
#: How the parts of one sentence are listed ("Gift card, €20.00"), where not ", ".
_COMMAS: Final = {"ja": "、", "zh": "，"}


def join_phrases(parts: Iterable[str], language: str) -> str:
    """The parts of one sentence, listed with the language's comma."""
    return _COMMAS.get(language, ", ").join(p.strip() for p in parts if p and p.strip())


def join_sentences(parts: Iterable[str], language: str) -> str:
    """The parts of a screen read aloud as one text: each part (each line of a part)
    a sentence, ended with a full stop unless it already ends one (``"Thank you."``,
    ``"¿Sigues ahí?"``, ``"ありがとうございました。"``); the last part is left as
    it is. Latin scripts join with a space; Japanese with "。" and no space."""
    sentences = [
        line.strip() for part in parts if part for line in part.splitlines() if line.strip()
    ]
    full_stop = _NO_SPACE_FULL_STOPS.get(language)
    joiner = "" if full_stop is not None else " "
    full_stop = full_stop or "."
    ended = [
        text if i == len(sentences) - 1 or text[-1] in SENTENCE_ENDS else text + full_stop
        for i, text in enumerate(sentences)
    ]
    return joiner.join(ended)


class Speaker:
    """Says one text at a time; a new text interrupts the previous one."""

    def __init__(self, *, enabled: bool = True, engine: str = "") -> None:
        self._tts: Any = None
        self._language: str | None = None
        self.spoken: list[str] = []  # what was said, newest last (bounded; for tests)
        if not enabled:
            return
        try:
            # Qt Multimedia looks for PipeWire at load time and warns when it is absent.
            QLoggingCategory.setFilterRules("qt.multimedia.symbolsresolver.warning=false")
            from PySide6.QtTextToSpeech import QTextToSpeech
        except ImportError as exc:
            log.info("speech: Qt text to speech is not available (%s); screens stay silent", exc)
            return
        engines = QTextToSpeech.availableEngines()
        wanted = engine or None
        if wanted is not None and wanted not in engines:
            log.warning(
                "speech: engine %r not found (have: %s); screens stay silent",
                wanted,
                ", ".join(engines) or "none",
            )
            return
        real = [e for e in engines if e != "mock"]
        if wanted is None and not real:
            log.info("speech: no speech engine on this system; screens stay silent")
            return
        name = wanted or real[0]
        tts = QTextToSpeech(name)
        if tts.state() == QTextToSpeech.State.Error:
            log.warning(
                "speech: engine %s does not work here (%s); screens stay silent",
                name,
                tts.errorString() or "no reason given",
            )
            tts.deleteLater()
            return
        self._tts = tts
        log.info("speech: using engine %s", name)

    @property
    def available(self) -> bool:
        return self._tts is not None

    def say(self, text: str, language: str) -> None:
        if not text:
            return
        self.spoken.append(text)
        del self.spoken[:-50]
        if self._tts is None:
            return
        if language != self._language:
            self._language = language
            self._tts.setLocale(QLocale(_LOCALES.get(language, language)))
        self._tts.stop()
        self._tts.say(text)

    def stop(self) -> None:
        if self._tts is not None:
            self._tts.stop()


__all__ = ["SENTENCE_ENDS", "Speaker", "join_phrases", "join_sentences"]
