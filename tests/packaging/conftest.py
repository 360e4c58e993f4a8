"""The Debian package, built once per session (or taken from $KIOSKAPP_DEB, which
``bash dev.sh test`` sets after its packaging step), installed into scratch roots
by dpkg itself: ``dpkg --root=DIR --force-script-chrootless`` unpacks the package
and runs its real maintainer scripts with DPKG_ROOT=DIR.

Scratch roots live in world-readable temporary directories: the tests run the
installed kiosk as ``nobody`` (cage refuses to run as root).

Without root or a tool these tests skip on a developer's machine; in CI (``CI`` set
to ``true``, as CI services set it) they fail instead: the package's checks must
not pass there by not running.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

PROJECT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = PROJECT / "packaging" / "build_deb.py"
NOBODY = 65534
AS_NOBODY = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


def build_module() -> ModuleType:
    """packaging/build_deb.py (a script, not a package: loaded by path)."""
    spec = importlib.util.spec_from_file_location("kioskapp_build_deb", BUILD_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def cannot_run(reason: str) -> NoReturn:
    """Skip the test here; fail it in CI, where every packaging check must run."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set: not skipped)", pytrace=False)
    pytest.skip(reason)


def require_root() -> None:
    if os.geteuid() != 0:
        cannot_run("dpkg --root sets file owners and setpriv switches users: needs root")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        cannot_run(f"{name} is not installed (bash dev.sh test installs it)")
    return path


def shared_dir(prefix: str, owner: int | None = None) -> Path:
    """A temporary directory every user may enter (``owner``: who may write in it)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755 if owner is None else 0o700)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


@dataclass
class Root:
    """A scratch root with the package installed by dpkg."""

    path: Path

    def __truediv__(self, rel: str) -> Path:
        return self.path / rel.lstrip("/")

    def dpkg(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        command = [
            "dpkg", f"--root={self.path}", "--force-script-chrootless", "--force-depends",
            "--log=/dev/null", *map(str, args),
        ]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout}\n{done.stderr}"
        return done

    def account_id(self, table: str, name: str) -> int:
        """uid (table ``passwd``) or gid (``group``) of ``name`` in this root."""
        for line in (self / f"etc/{table}").read_text().splitlines():
            fields = line.split(":")
            if fields[0] == name:
                return int(fields[2])
        raise AssertionError(f"no {name} in {self / f'etc/{table}'}")

    @classmethod
    def empty(cls) -> Root:
        root = cls(shared_dir("kioskapp-root-"))
        for sub in ("var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "etc"):
            (root / sub).mkdir(parents=True)
        (root / "var/lib/dpkg/status").touch()
        return root

    def with_host_units(self) -> Root:
        """This machine's systemd units (targets, getty@) beside the package's, as on a
        kiosk, for systemd-analyze --root."""
        units = self / "usr/lib/systemd/system"
        units.mkdir(parents=True, exist_ok=True)
        for host in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system")):
            if host.is_dir():
                subprocess.run(["cp", "-an", f"{host}/.", str(units)], check=True)
        return self


@pytest.fixture(scope="session")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("KIOSKAPP_DEB")
    if given:
        path = Path(given)
        assert path.is_file(), f"KIOSKAPP_DEB={given}: no such file"
        return path
    out = tmp_path_factory.mktemp("deb")
    done = subprocess.run(
        [sys.executable, str(BUILD_SCRIPT), "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def installed(deb: Path) -> Iterator[Root]:
    """The package installed once for the session's read-only checks."""
    require_root()
    root = Root.empty()
    try:
        root.dpkg("--install", deb)
        yield root
    finally:
        shutil.rmtree(root.path, ignore_errors=True)


@pytest.fixture
def fresh_root() -> Iterator[Root]:
    """An empty scratch root for one test to install, upgrade and remove in."""
    require_root()
    root = Root.empty()
    try:
        yield root
    finally:
        shutil.rmtree(root.path, ignore_errors=True)
