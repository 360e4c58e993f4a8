"""Translations of the customer screens: one :class:`Texts` per language.

Translations come from Qt Linguist files compiled to ``translations/kiosk_<lang>.qm``
(sources ``kiosk_<lang>.ts``; ``python scripts/translations.py`` updates and compiles
them). English is the source language and needs no file. The pseudo-locale
``PSEUDO`` stretches every string by about 40 % and brackets it, so that a label too
small for a longer language shows up as clipped on screen (the screenshot script
renders it; a test checks nothing is clipped).

Amounts use :func:`kioskapp.core.receipt_text.format_money`, the same exact
formatting the receipts print, per language.
"""

from __future__ import annotations

import logging
import re
import string
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Final

from PySide6.QtCore import QTranslator

from kioskapp.core import receipt_text
from kioskapp.core.money import Money
from kioskapp.ui.speech import join_phrases, join_sentences
from kioskapp.ui.texts import CONTEXT, TEXTS

log = logging.getLogger(__name__)

TRANSLATIONS_DIR: Final = Path(__file__).parent / "translations"
#: The pseudo-locale's code (not a real language; for finding clipped labels).
PSEUDO: Final = "qps"
SOURCE_LANGUAGE: Final = "en"


def placeholders(text: str) -> frozenset[str]:
    """The ``{name}`` fields of a text."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(text) if name)


_ACCENTED = str.maketrans("aeiouyAEIOUYcnCN", "àéîõüÿÅÉÎÕÜŸçñÇÑ")
_FIELD = re.compile(r"(\{[a-z_]+\})")


def pseudo_translate(text: str) -> str:
    """``Cancel`` → ``⟦Çàñçéł·····⟧``-like: accented, ~40 % longer, bracketed; keeps fields."""
    parts = _FIELD.split(text)
    out = "".join(p if _FIELD.fullmatch(p) else p.translate(_ACCENTED) for p in parts)
    pad = "·" * max(2, round(len(text) * 0.4))
    return f"⟦{out}{pad}⟧"


class Texts:
    """The screens' words in one language: ``texts("pay.due", amount=...)``."""

    def __init__(self, language: str, translator: QTranslator | None = None) -> None:
        self.language = language
        self._translator = translator
        self.missing: set[str] = set()

    @property
    def number_language(self) -> str:
        """The language whose number format amounts use."""
        return SOURCE_LANGUAGE if self.language == PSEUDO else self.language

    def has(self, key: str) -> bool:
        return key in TEXTS

    def raw(self, key: str) -> str:
        """The text of ``key`` in this language, fields not filled."""
        source = TEXTS.get(key)
        if source is None:
            if key not in self.missing:
                self.missing.add(key)
                log.warning("ui: no text for message key %r", key)
            return key
        if self.language == PSEUDO:
            return pseudo_translate(source)
        if self._translator is None:
            return source
        translated = self._translator.translate(CONTEXT, source)
        return translated or source

    def __call__(self, key: str, **fields: object) -> str:
        text = self.raw(key)
        if not fields:
            return text
        values = {k: self.money(v) if isinstance(v, Money) else v for k, v in fields.items()}
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            log.warning("ui: text %r (%s) does not fit its fields", key, self.language)
            return text

    def money(self, amount: Money) -> str:
        return receipt_text.format_money(amount, self.number_language)

    def sentences(self, parts: Iterable[str]) -> str:
        """``parts`` as one text to read aloud, joined as this language joins sentences."""
        return join_sentences(parts, self.number_language)

    def phrases(self, parts: Iterable[str]) -> str:
        """``parts`` of one sentence, listed with this language's comma."""
        return join_phrases(parts, self.number_language)


def qm_path(language: str) -> Path:
    return TRANSLATIONS_DIR / f"kiosk_{language}.qm"


@cache
def texts_for(language: str) -> Texts:
    """The (cached) texts of ``language``; a language without a file falls back to
    English, with one warning."""
    if language in (SOURCE_LANGUAGE, PSEUDO):
        return Texts(language)
    translator = QTranslator()
    path = qm_path(language)
    if not translator.load(str(path)):
        log.warning("ui: no translations for %r (%s); showing English", language, path)
        return Texts(language)
    return Texts(language, translator)


__all__ = [
    "PSEUDO",
    "SOURCE_LANGUAGE",
    "TRANSLATIONS_DIR",
    "Texts",
    "placeholders",
    "pseudo_translate",
    "qm_path",
    "texts_for",
]
