"""What the app does to keep its memory down: PySide6's import hook reads the source
of each module imported after PySide6, and the app does not keep those sources."""

from __future__ import annotations

import linecache
import sys
from collections.abc import Iterator
from pathlib import Path

import PySide6.QtCore  # noqa: F401 (the import hook comes with PySide6)
import pytest

from kioskapp.ui.app import sources_not_kept


@pytest.fixture
def module_dir(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    try:
        yield tmp_path
    finally:
        sys.path.remove(str(tmp_path))


def new_module(where: Path, name: str) -> str:
    path = where / f"{name}.py"
    path.write_text("VALUE = 1\n" + "# a line of source\n" * 1000)
    return str(path)


def test_pysides_import_hook_keeps_sources_unless_told_not_to(module_dir: Path) -> None:
    kept = new_module(module_dir, "kioskapp_test_kept_source")
    dropped = new_module(module_dir, "kioskapp_test_dropped_source")
    try:
        __import__("kioskapp_test_kept_source")  # an import statement: through the hook
        assert kept in linecache.cache  # the premise: PySide6 read it, linecache kept it
        cache = linecache.cache
        with sources_not_kept():
            module = __import__("kioskapp_test_dropped_source")
        assert module.VALUE == 1
        assert linecache.cache is cache
        assert dropped not in linecache.cache
        assert kept in linecache.cache  # what was cached before stays
    finally:
        for name in ("kioskapp_test_kept_source", "kioskapp_test_dropped_source"):
            sys.modules.pop(name, None)
        linecache.checkcache()
