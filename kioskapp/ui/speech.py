"""Speech output: screen titles, amounts and errors read aloud (QtTextToSpeech).

Where the system has no speech engine (or ``ui.speech`` is off) :class:`Speaker`
does nothing and says so once in the log; the screens never depend on it. The
tests use Qt's ``mock`` engine, which speaks instantly and silently.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import QLocale, QLoggingCategory

log = logging.getLogger(__name__)

_LOCALES = {"en": "en_GB", "es": "es_ES", "fr": "fr_FR", "ja": "ja_JP"}


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


__all__ = ["Speaker"]
