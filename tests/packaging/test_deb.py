"""The Debian package: what it holds, what its maintainer scripts do in a scratch root
(install, upgrade, remove, purge), the installed app and kiosk.service."""

from __future__ import annotations

import re
import stat
import subprocess
from pathlib import Path

import pytest

from kioskapp.config import load_config
from tests.packaging.conftest import PROJECT, Root, build_module, require_tool

pytestmark = pytest.mark.slow

SITE = "opt/kioskapp/lib/python3.11/site-packages"
CONF = "etc/kioskapp/kiosk.toml"


def deb_field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "--field", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


def contents(deb: Path) -> dict[str, str]:
    """Path (without the leading ./) -> its dpkg-deb --contents line."""
    listing = subprocess.run(
        ["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True
    ).stdout
    entries = {}
    for line in listing.splitlines():
        path = line.split(None, 5)[5].split(" -> ")[0]
        entries[path.removeprefix("./").rstrip("/")] = line
    return entries


def test_the_package_holds_the_app_and_nothing_of_the_build(deb: Path) -> None:
    assert deb_field(deb, "Package") == "kioskapp"
    depends = {d.split()[0] for d in deb_field(deb, "Depends").split(", ")}
    assert {"python3.11", "cage", "xwayland", "libpam-systemd", "fonts-noto-cjk"} <= depends
    entries = contents(deb)
    for path in (
        "opt/kioskapp/bin/kioskapp",
        "opt/kioskapp/bin/kiosk-session",
        "opt/kioskapp/libexec/kiosk_session.py",
        "opt/kioskapp/pyvenv.cfg",
        f"{SITE}/kioskapp/cli.py",
        f"{SITE}/kioskapp/ui/translations/kiosk_ja.qm",
        f"{SITE}/kioskapp/simulator/data/passes.json",
        f"{SITE}/PySide6/QtWidgets.abi3.so",
        f"{SITE}/PySide6/Qt/plugins/platforms/libqwayland.so",
        "lib/systemd/system/kiosk.service",
        "usr/lib/sysusers.d/kioskapp.conf",
        "usr/lib/modules-load.d/kioskapp.conf",
        "etc/pam.d/kioskapp",
        "usr/share/doc/kioskapp/operations.md",
        "usr/share/doc/kioskapp/kiosk.toml.example",
    ):
        assert path in entries, f"{path} is not in the package"
    # The interpreter is the target's; the command is on PATH through a relative link.
    assert entries["opt/kioskapp/bin/python3.11"].endswith("-> /usr/bin/python3.11")
    assert entries["usr/bin/kioskapp"].endswith("-> ../../opt/kioskapp/bin/kioskapp")
    # Config and state are made by postinst, never shipped (dpkg would own them).
    assert not any(p.startswith(("etc/kioskapp", "var/")) for p in entries)
    assert all(" root/root " in line for line in entries.values())
    # Nothing of this build machine: no byte code, no tests or tools, no console
    # scripts made for its Python, no unused Qt.
    assert not [p for p in entries if "__pycache__" in p or p.endswith(".pyc")]
    tops = {p.split("/")[5] for p in entries if p.startswith(SITE + "/") and p.count("/") > 4}
    assert not tops & {"pytest", "_pytest", "mypy", "ruff", "hypothesis", "pip", "bin", "tests"}
    assert not [p for p in entries if re.search(r"QtWebEngine|QtQuick|Qt3D|/Qt/qml/|designer", p)]
    tarball = subprocess.run(
        ["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True
    ).stdout
    assert b".pyenv" not in tarball, "a path of the build machine's Python is in the package"
    assert str(PROJECT).encode() not in tarball, "a path of the build tree is in the package"
    assert not [p for p in entries if p.endswith("/direct_url.json")]


def test_every_shared_library_comes_from_a_dependency(installed: Root) -> None:
    """Each library a shipped binary needs is in the package or in a Debian package
    that Depends names (directly or through their own dependencies)."""
    build = build_module()
    shipped = {p.name for p in installed.path.rglob("*.so*") if p.is_file()}
    needed: set[str] = set()
    for path in (installed / "opt/kioskapp").rglob("*"):
        if path.is_file() and not path.is_symlink() and (".so" in path.name or path.suffix == ""):
            needed.update(build.elf_needed(path) or [])
    system = sorted(needed - shipped)
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    where = {}
    for line in cache.splitlines():
        m = re.match(r"\s*(\S+) \(libc6,x86-64[^)]*\) => (\S+)", line)
        if m and m[1] not in where:
            where[m[1]] = m[2]
    optional = {lib for lib in system if lib not in where and lib in build.OPTIONAL_LIBRARIES}
    if optional:  # (speech) not installed here: its package must come with Recommends
        recommended = subprocess.run(
            ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
             *build.RECOMMENDS],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        for lib in optional:
            assert f"Depends: {build.OPTIONAL_LIBRARIES[lib]}" in recommended, lib
    missing = [lib for lib in system if lib not in where and lib not in optional]
    assert not missing, (
        f"not on this machine (add the package to Depends and RUNTIME_DEBS): {missing}"
    )
    owners = subprocess.run(
        ["dpkg", "--search", *(where[lib] for lib in system if lib in where)],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    packages = {line.split(":")[0] for line in owners.splitlines()}
    closure = subprocess.run(
        [
            "apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
            "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
            "--no-enhances", "--no-pre-depends", *(d.split()[0] for d in build.DEPENDS),
        ],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    reachable = {line.strip() for line in closure.splitlines() if not line.startswith(" ")}
    reachable |= {
        line.split(":", 1)[1].strip().strip("<>")
        for line in closure.splitlines()
        if line.strip().startswith("Depends:")
    }
    unreachable = sorted(p for p in packages if p not in reachable)
    assert not unreachable, f"libraries from packages Depends does not bring: {unreachable}"


def test_the_installed_config_checks_out_and_is_private(installed: Root) -> None:
    conf = installed / CONF
    done = subprocess.run(
        [str(installed / "usr/bin/kioskapp"), "config", "check", str(conf)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{conf}: OK"
    uid = installed.account_id("passwd", "kioskapp")
    gid = installed.account_id("group", "kioskapp")
    assert 0 < uid < 1000  # a system user
    info = conf.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o640, 0, gid)
    info = conf.parent.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o750, 0, gid)
    # Where the config's *_file examples point: made, readable by the kiosk only.
    secrets = installed / "etc/kioskapp/secrets"
    info = secrets.stat()
    assert (stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid) == (0o750, 0, gid)
    examples = re.findall(r'^# Or from a file: \w+_file = "([^"]+)"', conf.read_text(), re.M)
    assert examples, "the config shows no *_file example"
    assert {str(Path(path).parent) for path in examples} == {"/etc/kioskapp/secrets"}
    state = (installed / "var/lib/kioskapp").stat()
    assert (stat.S_IMODE(state.st_mode), state.st_uid, state.st_gid) == (0o750, uid, gid)
    # The defaults of the generated config keep the journal where the package put it.
    config = load_config(conf, env={})
    assert config.kiosk.state_dir == Path("/var/lib/kioskapp")
    assert config.journal.path.parent == Path("/var/lib/kioskapp")
    assert conf.read_text() == (installed / "usr/share/doc/kioskapp/kiosk.toml.example").read_text()
    wants = installed / "etc/systemd/system/graphical.target.wants/kiosk.service"
    assert wants.is_symlink()
    assert str(wants.readlink()) == "/lib/systemd/system/kiosk.service"


def test_the_installed_app_runs_on_debians_python(installed: Root) -> None:
    probe = (
        "import os, sys, kioskapp, PySide6.QtWidgets, PySide6.QtTextToSpeech; "
        "print(os.path.realpath(sys.executable), sys.prefix, kioskapp.__file__, sep='\\n')"
    )
    done = subprocess.run(
        [str(installed / "opt/kioskapp/bin/python3.11"), "-I", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"},
    )
    executable, prefix, module = done.stdout.splitlines()
    assert executable == "/usr/bin/python3.11"
    assert prefix == str(installed / "opt/kioskapp")
    assert module == str(installed / SITE / "kioskapp/__init__.py")
    # postinst byte-compiled it for this interpreter.
    assert list((installed / SITE / "kioskapp").glob("__pycache__/cli.cpython-311.pyc"))


def test_the_serial_drivers_are_loaded_at_boot(installed: Root) -> None:
    """kiosk.service's DeviceAllow=char-ttyUSB/char-ttyACM only count once the drivers
    registered those device classes: systemd-modules-load loads them at boot."""
    conf = (installed / "usr/lib/modules-load.d/kioskapp.conf").read_text()
    modules = {line.strip() for line in conf.splitlines()} - {""}
    assert {m for m in modules if not m.startswith("#")} == {"usbserial", "cdc_acm"}


def unit_settings(root: Root) -> dict[str, list[str]]:
    """Each setting of the installed kiosk.service, with every value it is given."""
    settings: dict[str, list[str]] = {}
    for line in (root / "lib/systemd/system/kiosk.service").read_text().splitlines():
        key, equals, value = line.partition("=")
        if equals and not line.startswith(("#", "[")):
            settings.setdefault(key.strip(), []).extend(value.split())
    return settings


def test_the_unit_starts_without_a_network_and_hears_the_main_process_only(
    installed: Root,
) -> None:
    unit = unit_settings(installed)
    # A kiosk with no network at boot shows its screen (the app handles offline).
    assert not [
        v for k in ("After", "Wants", "Requires") for v in unit.get(k, []) if "network" in v
    ]
    assert "systemd-logind.service" in unit["After"]  # the PAM session registers there
    # The app is in the logind session's scope: its messages come through kiosk-session.
    assert unit["NotifyAccess"] == ["main"]
    assert unit["PAMName"] == ["kioskapp"]
    # Speech: ALSA devices and the audio group.
    assert "char-alsa" in unit["DeviceAllow"]
    assert "audio" in unit["SupplementaryGroups"]
    # cage's Wayland socket is in /run/user/UID: not hidden by ProtectHome=.
    assert unit["ProtectHome"] == ["tmpfs"]
    assert unit["BindPaths"] == ["-/run/user:/run/user:rbind"]


def test_the_unit_verifies_and_its_exposure_is_at_most_5(installed: Root) -> None:
    require_tool("systemd-analyze")
    root = installed.with_host_units()
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", f"--root={root.path}", "kiosk.service"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (verify.returncode, verify.stdout + verify.stderr) == (0, "")
    security = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", f"--root={root.path}", "kiosk.service"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    m = re.search(r"Overall exposure level for kiosk\.service: ([0-9.]+)", security)
    assert m is not None, security
    assert float(m[1]) <= 5.0, security


def test_the_unit_check_would_see_a_missing_command(installed: Root, tmp_path: Path) -> None:
    """systemd-analyze verify --root really looks at the package's ExecStart."""
    require_tool("systemd-analyze")
    root = installed.with_host_units()
    unit = root / "lib/systemd/system/kiosk.service"
    broken = root / "etc/systemd/system/kiosk.service"  # overrides the package's unit
    broken.parent.mkdir(parents=True, exist_ok=True)
    broken.write_text(unit.read_text().replace("bin/kiosk-session", "bin/no-such-command"))
    try:
        verify = subprocess.run(
            ["systemd-analyze", "verify", "--man=no", f"--root={root.path}", "kiosk.service"],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        broken.unlink()
    assert verify.returncode != 0
    assert "/opt/kioskapp/bin/no-such-command" in verify.stderr


def test_upgrade_and_removal_keep_config_and_journal(fresh_root: Root, deb: Path) -> None:
    root = fresh_root
    first = root.dpkg("--install", deb)
    assert f"wrote {root / CONF}" in first.stdout
    conf = root / CONF
    edited = conf.read_text() + '\n[tecalis]\nbase_url = "https://tecalis.example/api"\n'
    conf.write_text(edited)
    journal = root / "var/lib/kioskapp/journal.sqlite3"
    journal.write_bytes(b"the sales journal")
    # Upgrade (the same version again runs the same scripts with the old version).
    again = root.dpkg("--install", deb)
    assert "wrote" not in again.stdout
    assert conf.read_text() == edited
    assert journal.read_bytes() == b"the sales journal"
    # Remove: the app goes (with the byte code postinst made), config and journal stay.
    root.dpkg("--remove", "kioskapp")
    assert not (root / "opt/kioskapp").exists()
    assert not (root / "usr/bin/kioskapp").exists()
    assert conf.read_text() == edited
    assert journal.read_bytes() == b"the sales journal"
    # Install again over the kept files, then purge: the config goes, the journal stays.
    root.dpkg("--install", deb)
    assert conf.read_text() == edited
    purge = root.dpkg("--purge", "kioskapp")
    assert not conf.exists()
    assert not (root / "etc/kioskapp").exists()
    assert journal.read_bytes() == b"the sales journal"
    assert "kept" in purge.stdout
    assert "var/lib/kioskapp" in purge.stdout
    assert not (root / "etc/systemd/system/graphical.target.wants/kiosk.service").exists()
