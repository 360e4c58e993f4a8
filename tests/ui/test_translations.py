"""The customer screens' translations (es, fr, ja): complete, with the source's
placeholders, compiled, loaded by the screens, up to date with ``texts.py``; and
every message key the flow can emit has a text."""

from __future__ import annotations

import ast
import importlib.util
import logging
import re
import shutil
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import get_args, get_type_hints

import pytest

from kioskapp.core.flow import engine
from kioskapp.core.flow import errors as flow_errors
from kioskapp.core.flow import model as flow_model
from kioskapp.core.money import Money
from kioskapp.devices import tecalis_models
from kioskapp.payments import base as payments_base
from kioskapp.ui.i18n import (
    PSEUDO,
    TRANSLATIONS_DIR,
    placeholders,
    pseudo_translate,
    qm_path,
    texts_for,
)
from kioskapp.ui.texts import CONTEXT, TEXTS

ROOT = Path(__file__).resolve().parents[2]
LANGUAGES = ("es", "fr", "ja")
#: Sources whose translation may be the English text itself.
SAME_AS_SOURCE = {"OK"}
AMOUNT = Money(123456, "EUR")
NNBSP = "\u202f"


@cache
def script() -> ModuleType:
    """``scripts/translations.py`` (not a package: loaded from its file)."""
    path = ROOT / "scripts" / "translations.py"
    spec = importlib.util.spec_from_file_location("kiosk_translations_script", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Message:
    context: str
    source: str
    translation: str
    type: str | None  # "unfinished", "vanished", "obsolete" or None (finished)


@cache
def ts_messages(language: str) -> tuple[Message, ...]:
    root = ET.parse(TRANSLATIONS_DIR / f"kiosk_{language}.ts").getroot()  # noqa: S314 (ours)
    found = []
    for context in root.iter("context"):
        for message in context.iter("message"):
            translation = message.find("translation")
            assert translation is not None
            found.append(
                Message(
                    context=context.findtext("name") or "",
                    source=message.findtext("source") or "",
                    translation=translation.text or "",
                    type=translation.get("type"),
                )
            )
    return tuple(found)


def translations(language: str) -> dict[str, str]:
    return {m.source: m.translation for m in ts_messages(language)}


def dummy_fields(text: str) -> dict[str, object]:
    """A value for each placeholder: an amount for ``amount``, a marker otherwise."""
    return {name: AMOUNT if name == "amount" else f"<{name}>" for name in placeholders(text)}


# -- the .ts files --------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_has_a_finished_translation(language: str) -> None:
    messages = ts_messages(language)
    assert {m.context for m in messages} == {CONTEXT}
    not_finished = [(m.source, m.type) for m in messages if m.type is not None]
    assert not_finished == []  # no unfinished, vanished or obsolete entry
    empty = [m.source for m in messages if not m.translation.strip()]
    assert empty == []
    sources = [m.source for m in messages]
    assert len(sources) == len(set(sources))
    assert sorted(set(TEXTS.values()) - set(sources)) == []  # untranslated texts
    assert sorted(set(sources) - set(TEXTS.values())) == []  # stale entries


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_the_placeholders(language: str) -> None:
    wrong = {
        m.source: m.translation
        for m in ts_messages(language)
        if placeholders(m.translation) != placeholders(m.source)
    }
    assert wrong == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_nothing_is_left_in_english(language: str) -> None:
    same = [m.source for m in ts_messages(language) if m.translation == m.source]
    assert set(same) <= SAME_AS_SOURCE


def test_french_typography() -> None:
    """A narrow no-break space before ? ! : ; (and never another space); curly apostrophes."""
    for source, text in translations("fr").items():
        assert "'" not in text, source
        for mark in "?!:;":
            for at in (i for i, c in enumerate(text) if c == mark):
                assert text[at - 1 : at] == NNBSP, (source, text)
        assert not re.search(r"[ \u00a0]\u202f|\u202f[ \u00a0]", text), source


def test_spanish_opening_marks() -> None:
    """Every question and exclamation opens with ¿ ¡ and closes before the next one opens."""
    for source, text in translations("es").items():
        open_mark: str | None = None
        for c in text:
            if c in "¿¡":
                assert open_mark is None, (source, text)
                open_mark = c
            elif c in "?!":
                assert open_mark == {"?": "¿", "!": "¡"}[c], (source, text)
                open_mark = None
        assert open_mark is None, (source, text)


def test_japanese_punctuation_is_full_width() -> None:
    for source, text in translations("ja").items():
        bare = re.sub(r"\{[a-z_]+\}", "", text)
        assert not re.search(r"[?!:;,.()]", bare), (source, text)
        if source.endswith("."):
            assert text.endswith("。"), (source, text)


# -- the compiled files ---------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_screens_show_the_translations(language: str, caplog: pytest.LogCaptureFixture) -> None:
    assert qm_path(language).is_file()
    texts = texts_for(language)
    expected = translations(language)
    for key in ("chrome.cancel", "attract.title", "pay.title", "identify.ask", "thanks.title"):
        assert texts(key) == expected[TEXTS[key]]
        assert texts(key) != TEXTS[key]
    with caplog.at_level(logging.WARNING, logger="kioskapp.ui.i18n"):
        for key, source in TEXTS.items():
            assert texts.raw(key) == expected[source], key
            fields = dummy_fields(source)
            shown = texts(key, **fields)
            for value in fields.values():
                wanted = texts.money(value) if isinstance(value, Money) else str(value)
                assert wanted in shown, (key, shown)
            assert not re.search(r"[{}]", shown), (key, shown)
    assert caplog.records == []
    assert texts.missing == set()


def test_amounts_use_the_language_number_format() -> None:
    assert texts_for("fr")("pay.due", amount=AMOUNT) == f"À payer{NNBSP}: 1{NNBSP}234,56 €"
    assert texts_for("es")("pay.due", amount=AMOUNT) == "A pagar: 1234,56 €"
    assert texts_for("ja")("pay.due", amount=Money(1000, "JPY")) == "お支払い金額：¥1,000"


def test_compiled_files_are_up_to_date() -> None:
    assert script().check() == []


@pytest.fixture
def translation_tree(tmp_path: Path) -> Path:
    """A copy of ``texts.py`` and the translation files, laid out as in the repository."""
    source = tmp_path / script().SOURCE
    source.parent.mkdir(parents=True)
    shutil.copyfile(ROOT / script().SOURCE, source)
    shutil.copytree(ROOT / script().TRANSLATIONS, tmp_path / script().TRANSLATIONS)
    return tmp_path


def test_check_finds_a_stale_ts_and_qm(translation_tree: Path) -> None:
    tool = script()
    assert tool.check(translation_tree) == []
    # A translation edited but not compiled: the .qm is stale.
    ts = tool.ts_path("fr", translation_tree)
    ts.write_text(
        ts.read_text(encoding="utf-8").replace(">Annuler<", ">Abandonner<"), encoding="utf-8"
    )
    problems = tool.check(translation_tree)
    assert len(problems) == 1
    assert "kiosk_fr.qm: out of date" in problems[0]
    # A new text in texts.py, not merged: every .ts is stale.
    source = translation_tree / tool.SOURCE
    text = source.read_text(encoding="utf-8")
    opening = "_TEXTS: dict[str, str] = {\n"
    assert text.count(opening) == 1
    new = '    "test.new": QT_TRANSLATE_NOOP("kiosk", "A brand new text"),\n'
    source.write_text(text.replace(opening, opening + new), encoding="utf-8")
    problems = tool.check(translation_tree)
    assert sorted(p.split(":")[0] for p in problems) == [
        "kioskapp/ui/translations/kiosk_es.ts",
        "kioskapp/ui/translations/kiosk_fr.qm",
        "kioskapp/ui/translations/kiosk_fr.ts",
        "kioskapp/ui/translations/kiosk_ja.ts",
    ]
    # update merges it (unfinished) with relative locations only; compile then passes.
    tool.lupdate("es", translation_tree)
    merged = tool.ts_path("es", translation_tree).read_text(encoding="utf-8")
    assert '<translation type="unfinished"></translation>' in merged
    assert str(translation_tree) not in merged
    assert 'filename="../texts.py"' in merged


def test_check_finds_a_missing_qm(translation_tree: Path) -> None:
    tool = script()
    tool.qm_path("ja", translation_tree).unlink()
    assert [p.split(":")[0] for p in tool.check(translation_tree)] == [
        "kioskapp/ui/translations/kiosk_ja.qm"
    ]
    tool.lrelease(tool.ts_path("ja", translation_tree), tool.qm_path("ja", translation_tree))
    assert tool.check(translation_tree) == []


def test_check_accepts_an_equivalent_qm_laid_out_differently(translation_tree: Path) -> None:
    """Another lrelease may write different bytes for the same messages: not stale."""
    tool = script()
    ts, qm = tool.ts_path("es", translation_tree), tool.qm_path("es", translation_tree)
    tool._run([tool.find_tool("pyside6-lrelease"), "-silent", "-compress", str(ts), "-qm", str(qm)],
              cwd=translation_tree)  # fmt: skip
    assert qm.read_bytes() != (TRANSLATIONS_DIR / "kiosk_es.qm").read_bytes()
    assert tool.check(translation_tree) == []


# -- the pseudo-locale ----------------------------------------------------------------------


def test_pseudo_locale_keeps_placeholders_and_is_longer() -> None:
    pseudo = texts_for(PSEUDO)
    for key, source in TEXTS.items():
        stretched = pseudo_translate(source)
        assert placeholders(stretched) == placeholders(source), key
        assert len(stretched) > len(source), key
        assert pseudo.raw(key) == stretched
        fields = dummy_fields(source)
        shown = pseudo(key, **fields)
        assert "{" not in shown, key
        for value in fields.values():
            assert (pseudo.money(value) if isinstance(value, Money) else str(value)) in shown, key


# -- every key the flow can emit has a text -------------------------------------------------


def _tree(module: ModuleType) -> ast.Module:
    assert module.__file__ is not None
    return ast.parse(Path(module.__file__).read_text(encoding="utf-8"))


def _call_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _first_str_arg(node: ast.Call) -> str | None:
    if node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def _return_reasons() -> set[str]:
    return set(get_args(tecalis_models.ReturnReason))


def engine_keys() -> dict[str, set[str]]:
    """The message keys written as literals in the flow engine, by where they were found."""
    found: dict[str, set[str]] = {
        "ErrorInfo": set(),
        "out_of_service": set(),
        "notices": set(),
        "NoteMessage": set(),
        "faults": set(),
    }
    for node in ast.walk(_tree(engine)):
        if isinstance(node, ast.Call) and _call_name(node) in ("ErrorInfo", "NoteMessage"):
            name = _call_name(node)
            assert name is not None
            key = _first_str_arg(node)
            if key is not None:
                found[name].add(key)
            elif node.args and isinstance(node.args[0], ast.JoinedStr):
                # f"note_returned.{status.note_reason or 'unknown'}": every reason
                head = node.args[0].values[0]
                assert isinstance(head, ast.Constant), ast.unparse(node)
                assert head.value == "note_returned.", ast.unparse(node)
                found[name] |= {f"note_returned.{r}" for r in _return_reasons() | {"unknown"}}
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value.startswith("out_of_service."):
                found["out_of_service"].add(node.value)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Dict)
            and any(isinstance(t, ast.Name) and t.id == "notices" for t in node.targets)
        ):
            for value in node.value.values:
                assert isinstance(value, ast.Constant), ast.unparse(value)
                assert isinstance(value.value, str), ast.unparse(value)
                found["notices"].add(value.value)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            for target in node.targets:
                if (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.value, ast.Attribute)
                    and target.value.attr == "_faults"
                    and isinstance(node.value.value, str)
                ):
                    found["faults"].add(node.value.value)
    return found


def test_the_key_collection_finds_every_kind_of_key() -> None:
    """The AST walk still matches how the engine is written (else the next test is empty)."""
    found = engine_keys()
    assert all(found.values()), found
    assert "payment.declined" in found["notices"]
    assert "out_of_service.dispenser_empty" in found["out_of_service"]
    assert {"note_in_escrow", "note_accepted", "note_returned.timeout"} <= found["NoteMessage"]
    assert "card.number_invalid" in found["ErrorInfo"]


def test_every_message_key_of_the_flow_has_a_text() -> None:
    keys: set[str] = set()
    # errors.describe(): the tables and its own literals
    keys |= {key for key, _who in flow_errors._BY_CLASS.values()}
    keys |= set(flow_errors._OFFLINE_CODES.values())
    error_literals = {
        key
        for node in ast.walk(_tree(flow_errors))
        if isinstance(node, ast.Call) and _call_name(node) == "ErrorInfo"
        for key in [_first_str_arg(node)]
        if key is not None
    }
    assert {"device.offline", "internal_error"} <= error_literals
    keys |= error_literals
    # the engine's literals
    for found in engine_keys().values():
        keys |= found
    # every reason a note can come back for, including the cash payment's own
    keys |= {f"note_returned.{reason}" for reason in _return_reasons() | {"unknown"}}
    for path in Path(payments_base.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.keyword)
                and node.arg == "note_reason"
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
            ):
                keys.add(f"note_returned.{node.value.value}")
    assert "note_returned.exceeds_amount_due" in keys
    # the payment phases the card screen shows
    keys |= {f"phase.{phase}" for phase in get_args(payments_base.Phase)}
    # keys the screens build from the flow's values
    keys |= {f"error.{who}" for who in get_args(flow_model.WhoActs)}
    slip_kind = get_type_hints(flow_model.OnScreenSlip)["kind"]
    keys |= {f"slip.{kind}" for kind in get_args(slip_kind)}
    missing = sorted(keys - set(TEXTS))
    assert missing == []
