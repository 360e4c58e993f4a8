"""The packaging helpers that need no build: pip's output in the build log, and the
packaging tests' own rule for a machine that cannot run them."""

from __future__ import annotations

import pytest

from tests.packaging import conftest
from tests.packaging.conftest import build_module


def test_the_build_log_keeps_pips_messages_but_not_its_noise_about_this_machine() -> None:
    build = build_module()
    stderr = (
        "WARNING: Location 'file:///opt/pypi/simple/pyside6/' is ignored: it is neither a "
        "file nor a directory.\n"
        "WARNING: Location 'file:///opt/pypi-more/simple/qasync/' is ignored: it is either "
        "a non-existing path or lacks a specific scheme.\n"
        "WARNING: pyside6 6.12.0 does not provide the extra 'dev'\n"
        "ERROR: a real problem\n"
    )
    assert build.without_pip_noise(stderr) == (
        "WARNING: pyside6 6.12.0 does not provide the extra 'dev'\nERROR: a real problem\n"
    )


@pytest.mark.parametrize("ci", ["true", "1", "TRUE"])
def test_in_ci_a_missing_tool_fails_instead_of_skipping(
    ci: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.fail.Exception, match="no-such-tool-here is not installed"):
        conftest.require_tool("no-such-tool-here")
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.fail.Exception, match="needs root"):
        conftest.require_root()


@pytest.mark.parametrize("ci", [None, "", "false"])
def test_outside_ci_a_missing_tool_skips(ci: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    if ci is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", ci)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-here is not installed"):
        conftest.require_tool("no-such-tool-here")
    monkeypatch.setattr(conftest.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception, match="needs root"):
        conftest.require_root()
