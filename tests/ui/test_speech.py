"""Spoken texts: a screen's parts joined into sentences the way each language writes
them (no doubled full stops, Japanese joined with "。" and no spaces)."""

from __future__ import annotations

import re

import pytest

from kioskapp.core.flow import State
from kioskapp.core.money import Money
from kioskapp.ui.i18n import PSEUDO, texts_for
from kioskapp.ui.speech import join_phrases, join_sentences
from tests.flow.conftest import Kiosk
from tests.ui.conftest import UiSession


def eur(major: int) -> Money:
    return Money.from_major(str(major), "EUR")


@pytest.mark.parametrize(
    ("language", "parts", "spoken"),
    [
        # a part that already ends a sentence gets no second full stop
        ("en", ["€10.00 accepted. Thank you.", "Remaining: €10.00"],
         "€10.00 accepted. Thank you. Remaining: €10.00"),
        ("en", ["What would you like?", "Gift card, €20.00", "Top-up, €10.00"],
         "What would you like? Gift card, €20.00. Top-up, €10.00"),
        ("en", ["Please wait…", "Printing"], "Please wait… Printing"),
        ("en", ["Welcome", "Touch the screen to start"], "Welcome. Touch the screen to start"),
        # the last part is left as it is; empty parts and blank lines are dropped
        ("en", ["", "Sorry", "  ", "Ask staff."], "Sorry. Ask staff."),
        # each line of a part is a sentence of its own
        ("en", ["Given back: €10.00\nKeep your voucher.", "Bye"],
         "Given back: €10.00. Keep your voucher. Bye"),
        ("es", ["¿Sigues ahí?", "Esto terminará en 20 segundos."],
         "¿Sigues ahí? Esto terminará en 20 segundos."),
        ("es", ["¡Gracias!", "Quedan: 10,00 €"], "¡Gracias! Quedan: 10,00 €"),
        ("fr", ["Bienvenue", "Touchez l’écran"], "Bienvenue. Touchez l’écran"),
        # Japanese: "。" between sentences, no space, none added after 。！？
        ("ja", ["ようこそ", "画面に触れてください"], "ようこそ。画面に触れてください"),
        ("ja", ["10,00 €を受け付けました。ありがとうございます。", "残り金額：10,00 €"],
         "10,00 €を受け付けました。ありがとうございます。残り金額：10,00 €"),
        ("ja", ["まだいらっしゃいますか？", "あと20秒で終了します。"],
         "まだいらっしゃいますか？あと20秒で終了します。"),
        ("ja", ["ご確認ください！", "OK"], "ご確認ください！OK"),
        ("en", [], ""),
    ],
)  # fmt: skip
def test_parts_join_into_sentences_per_language(
    language: str, parts: list[str], spoken: str
) -> None:
    assert join_sentences(parts, language) == spoken


def test_the_parts_of_one_sentence_are_listed_with_the_languages_comma() -> None:
    assert join_phrases(["Gift card", "€20.00"], "en") == "Gift card, €20.00"
    assert join_phrases(["Tarjeta regalo", "20,00 €"], "es") == "Tarjeta regalo, 20,00 €"
    assert join_phrases(["ギフトカード", "20,00 €"], "ja") == "ギフトカード、20,00 €"
    assert join_phrases(["", "x", " "], "en") == "x"


def test_texts_join_in_their_own_language() -> None:
    assert texts_for("en").sentences(["Done", "Bye"]) == "Done. Bye"
    assert texts_for("ja").sentences(["完了", "さようなら"]) == "完了。さようなら"
    assert texts_for(PSEUDO).sentences(["[Ďöñé]", "[Ɓýé]"]) == "[Ďöñé]. [Ɓýé]"


def badly_joined(text: str, language: str) -> list[str]:
    """The joins that are wrong in ``text``: doubled stops, a stop after ?/!, and in
    Japanese a Latin full stop between sentences or a space after 。"""
    patterns = [r"\.\.(?!\.)", r"[?!？！]\.", r"。。", r"[。.]\s+\.", r"…\."]
    if language == "ja":
        patterns += [r"[。！？] ", r"[^\x00-\x7f]\. "]
    return [m.group(0) for p in patterns for m in re.finditer(p, text)]


@pytest.mark.parametrize("language", ["en", "es", "fr", "ja"])
async def test_a_cash_journey_is_read_aloud_without_bad_joins(
    ui: UiSession, kiosk: Kiosk, language: str
) -> None:
    t = texts_for(language)
    async with ui() as u:
        if language != "en":
            u.click(f"lang:{language}")
            await u.until_drawn(lambda s: s.language == language, language)
        await u.to_payment_choice("GIFT-20")
        u.click("pay:cash")
        await u.until_bill_reader_open()
        await kiosk.insert_note(10)
        paid = await u.until_drawn(lambda s: s.amount_paid == eur(10), "10 paid")
        assert paid.note is not None
        accepted = t(paid.note.key, amount=eur(10))
        remaining = t("speech.remaining", amount=eur(10))
        said = u.spoken[-1]
        assert said.startswith(accepted)
        assert said.endswith(remaining)
        if language == "ja":  # joined without a space or a second 。
            assert accepted.endswith("。")
            assert said == accepted + remaining
        else:
            assert said == f"{accepted} {remaining}"
        u.click("cancel")
        await u.until_state(State.ERROR)
        wrong = {text: badly_joined(text, language) for text in u.spoken}
        assert not any(wrong.values()), wrong
        error = u.spoken[-1]
        assert t("error.returned", amount=eur(10)) in error
        assert "\n" not in error  # the refund's lines are read as sentences


async def test_the_catalogue_is_read_in_japanese_sentences(ui: UiSession) -> None:
    ja = texts_for("ja")
    async with ui() as u:
        u.click("lang:ja")
        await u.until_drawn(lambda s: s.language == "ja", "Japanese")
        u.click("start")
        choosing = await u.until_state(State.CHOOSING)
        first = choosing.catalogue[0]
        said = u.spoken[-1]
        assert said.startswith(ja("choosing.title"))
        assert f"{first.name}、{ja.money(first.price)}" in said
        assert not badly_joined(said, "ja"), said
        assert ", " not in said
