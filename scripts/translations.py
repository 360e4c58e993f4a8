"""Update, compile and check the customer screens' translations (Qt Linguist files).

    python scripts/translations.py update    # texts.py -> kiosk_<lang>.ts (new texts unfinished)
    python scripts/translations.py compile   # kiosk_<lang>.ts -> kiosk_<lang>.qm
    python scripts/translations.py check     # exit 1 if a .ts or a .qm is out of date

The source is ``kioskapp/ui/texts.py`` (every text marked with ``QT_TRANSLATE_NOOP``);
the files live in ``kioskapp/ui/translations/``. After ``update``, translate the
unfinished messages (Qt Linguist: ``pyside6-linguist kioskapp/ui/translations/kiosk_fr.ts``,
or any editor), then ``compile``. Both the ``.ts`` and the ``.qm`` files are committed.

``.ts`` files keep source locations relative (file relative to the ``.ts``, line
relative to the previous message), so they hold no absolute path and a change in
``texts.py`` changes only the lines around it. Texts removed from ``texts.py`` are
dropped (``-no-obsolete``); a changed text comes back unfinished, with the old
translation as a suggestion.

``check`` runs ``pyside6-lupdate`` on copies in a temporary directory and compares
the result with the committed ``.ts`` byte for byte; it compiles each ``.ts`` to a
temporary ``.qm`` and compares it with the committed one: byte for byte (``lrelease``
output is deterministic), or else (another Qt version may lay the file out
differently) message by message, loading both with ``QTranslator``.

The tools are looked up next to the running Python (the virtualenv's ``bin``) first,
then on ``PATH``.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parent.parent
#: The source of every customer-visible text, relative to ROOT.
SOURCE: Final = Path("kioskapp/ui/texts.py")
#: Where the .ts and .qm files live, relative to ROOT.
TRANSLATIONS: Final = Path("kioskapp/ui/translations")
#: The languages translated from English (the source language needs no file).
LANGUAGES: Final = ("es", "fr", "ja")
SOURCE_LANGUAGE: Final = "en"


class ToolError(RuntimeError):
    """A Qt Linguist tool is missing or failed."""


def ts_path(language: str, root: Path = ROOT) -> Path:
    return root / TRANSLATIONS / f"kiosk_{language}.ts"


def qm_path(language: str, root: Path = ROOT) -> Path:
    return root / TRANSLATIONS / f"kiosk_{language}.qm"


def find_tool(name: str) -> str:
    """``pyside6-lupdate`` or ``pyside6-lrelease``: next to ``sys.executable``, else on PATH."""
    bindir = Path(sys.executable).parent
    for candidate in (bindir / name, bindir / f"{name}.exe"):
        if candidate.is_file():
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise ToolError(f"{name} not found next to {sys.executable} nor on PATH")
    return found


def _run(args: Sequence[str], cwd: Path) -> None:
    proc = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        raise ToolError(
            f"{Path(args[0]).name} failed (exit {proc.returncode}):\n{proc.stdout}{proc.stderr}"
        )


def lupdate(language: str, root: Path = ROOT) -> None:
    """Merge the texts of ``root/SOURCE`` into ``root``'s ``kiosk_<language>.ts``.

    Paths are passed relative to ``root`` so that nothing absolute reaches the file.
    """
    ts = ts_path(language, root)
    ts.parent.mkdir(parents=True, exist_ok=True)
    args = [find_tool("pyside6-lupdate"), str(SOURCE), "-locations", "relative", "-no-obsolete"]
    args += ["-source-language", SOURCE_LANGUAGE, "-target-language", language]
    _run([*args, "-ts", str(ts.relative_to(root))], cwd=root)


def lrelease(ts: Path, qm: Path) -> None:
    """Compile ``ts`` to ``qm``."""
    _run([find_tool("pyside6-lrelease"), "-silent", str(ts), "-qm", str(qm)], cwd=ts.parent)


def update() -> None:
    for language in LANGUAGES:
        lupdate(language)
        print(f"updated {ts_path(language).relative_to(ROOT)}")


def compile_all() -> None:
    for language in LANGUAGES:
        lrelease(ts_path(language), qm_path(language))
        print(f"compiled {qm_path(language).relative_to(ROOT)}")


def _messages(ts: Path) -> list[tuple[str, str, str]]:
    """(context, source, disambiguation) of every message of a .ts file."""
    found = []
    for context in ET.parse(ts).getroot().iter("context"):  # noqa: S314 (our own file)
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            source = message.findtext("source") or ""
            found.append((name, source, message.findtext("comment") or ""))
    return found


def same_translations(ts: Path, qm_a: Path, qm_b: Path) -> bool:
    """Do two .qm files translate every message of ``ts`` alike?"""
    from PySide6.QtCore import QTranslator  # only here: update and compile need no Qt

    translators = []
    for qm in (qm_a, qm_b):
        translator = QTranslator()
        if not translator.load(str(qm)):
            return False
        translators.append(translator)
    first, second = translators
    return all(
        first.translate(context, source, comment or None)
        == second.translate(context, source, comment or None)
        for context, source, comment in _messages(ts)
    )


def check(root: Path = ROOT) -> list[str]:
    """What is out of date under ``root``, one line per file (empty: all up to date)."""
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="kiosk-translations-") as tmp:
        mirror = Path(tmp)
        # The same layout as the repository, so relative locations come out the same.
        (mirror / SOURCE).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(root / SOURCE, mirror / SOURCE)
        (mirror / TRANSLATIONS).mkdir(parents=True, exist_ok=True)
        for language in LANGUAGES:
            ts, qm = ts_path(language, root), qm_path(language, root)
            ts_name, qm_name = ts.relative_to(root), qm.relative_to(root)
            if not ts.is_file():
                problems.append(f"{ts_name}: missing (run: python scripts/translations.py update)")
                continue
            shutil.copyfile(ts, ts_path(language, mirror))
            lupdate(language, mirror)
            if ts_path(language, mirror).read_bytes() != ts.read_bytes():
                problems.append(
                    f"{ts_name}: out of date with {SOURCE}"
                    " (run: python scripts/translations.py update)"
                )
            fresh = mirror / f"kiosk_{language}.qm"
            lrelease(ts, fresh)
            if not qm.is_file():
                problems.append(f"{qm_name}: missing (run: python scripts/translations.py compile)")
            elif qm.read_bytes() != fresh.read_bytes() and not same_translations(ts, qm, fresh):
                problems.append(
                    f"{qm_name}: out of date with {ts_name}"
                    " (run: python scripts/translations.py compile)"
                )
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=("update", "compile", "check"))
    args = parser.parse_args(argv)
    try:
        if args.command == "update":
            update()
        elif args.command == "compile":
            compile_all()
        else:
            problems = check()
            for problem in problems:
                print(problem, file=sys.stderr)
            if problems:
                return 1
            print("translations are up to date")
    except ToolError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
