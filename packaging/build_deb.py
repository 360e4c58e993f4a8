"""Build the kioskapp Debian package.

    .venv/bin/python packaging/build_deb.py [--out DIR]

prints the path of the .deb it wrote (default ``dist/``) and one ``BUILD <step> <s>``
line per step. What the package holds:

/opt/kioskapp/                       a Python virtual environment for Debian's
  pyvenv.cfg, bin/python3.11         /usr/bin/python3.11 (a symlink: nothing of this
                                     build machine's Python is shipped)
  lib/python3.11/site-packages/      kioskapp and its dependencies, at exactly the
                                     versions the tests ran with (.venv); PySide6
                                     trimmed to the Qt modules, plugins and libraries
                                     the kiosk loads
  bin/kioskapp, bin/kioskapp-sim     the commands
  bin/kiosk-session                  what kiosk.service runs: the app under cage
/usr/bin/kioskapp                    -> ../../opt/kioskapp/bin/kioskapp
/lib/systemd/system/kiosk.service
/usr/lib/sysusers.d/kioskapp.conf    the kioskapp system user
/usr/lib/modules-load.d/kioskapp.conf  the USB serial drivers, loaded at boot
/etc/pam.d/kioskapp                  the login session kiosk.service opens on tty1
/usr/share/doc/kioskapp/             operations.md, simulator.md, kiosk.toml.example

/etc/kioskapp/kiosk.toml, /etc/kioskapp/secrets/ and /var/lib/kioskapp are made by
the maintainer scripts (packaging/debian/), never shipped, so no upgrade or removal
touches them.

Nothing of the build machine is shipped: no byte code, no path of its Python or of
this build tree (pip's ``direct_url.json``, which records where the kioskapp wheel
was installed from, is left out).

Speed: the dependencies (about 100 MB once PySide6 is trimmed) are installed once
per set of pinned versions into .cache/packaging/ and hard-linked into the staging
tree on every build; only kioskapp itself is rebuilt each time. zstd level 3 with
every core compresses in a few seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent
CACHE = PROJECT / ".cache" / "packaging"
PREFIX = "opt/kioskapp"
SITE = f"{PREFIX}/lib/python3.11/site-packages"
TARGET_PYTHON = "/usr/bin/python3.11"
#: Bump when the trimming rules change: the cached dependencies are rebuilt.
TRIM_VERSION = "5"

#: Debian packages the kiosk needs on the target. The Qt libraries come from
#: PySide6 (in the package); what they load from the system is below, checked by
#: tests/packaging (every library a shipped binary needs is in this closure).
DEPENDS = [
    "python3.11 (>= 3.11.2)",
    "systemd",
    "libpam-systemd",
    "cage",
    # cage 0.1.4 (bookworm) refuses to start without Xwayland.
    "xwayland",
    "fonts-noto-cjk",
    "fonts-dejavu-core",
    "libegl1",
    "libgl1",
    "libfontconfig1",
    "libfreetype6",
    "libglib2.0-0",
    "libdbus-1-3",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libwayland-client0",
    "libwayland-cursor0",
    "libwayland-egl1",
    "libxcb-cursor0",
    "libxcb-icccm4",
    "libxcb-image0",
    "libxcb-keysyms1",
    "libxcb-randr0",
    "libxcb-render-util0",
    "libxcb-shape0",
    "libxcb-xinerama0",
    "libxcb-xkb1",
    "libpulse0",
]
#: Speech output: Qt's speechd plugin loads libspeechd, which comes with
#: speech-dispatcher; speech-dispatcher-espeak-ng is its voice (espeak-ng's library
#: and voices), speaking through ALSA (operations.md).
RECOMMENDS = ["speech-dispatcher", "speech-dispatcher-espeak-ng"]
#: Libraries only optional plugins load (they fail alone when missing), by package.
OPTIONAL_LIBRARIES = {"libspeechd.so.2": "libspeechd2"}

# -- PySide6 trimming -------------------------------------------------------------------
#: Qt plugin folders the kiosk may load, and per folder the plugins kept (None: all).
#: platforms: wayland (cage), xcb (an X session), offscreen/minimal (headless checks),
#: vnc (a remote look at a kiosk with no screen attached).
KEEP_PLUGINS: dict[str, tuple[str, ...] | None] = {
    "platforms": ("libqwayland", "libqxcb", "libqoffscreen", "libqminimal.", "libqvnc"),
    "wayland-shell-integration": None,
    "wayland-decoration-client": None,
    "wayland-graphics-integration-client": None,
    "xcbglintegrations": None,
    "platforminputcontexts": ("libcomposeplatforminputcontextplugin",),
    "imageformats": ("libqgif", "libqico", "libqjpeg", "libqsvg", "libqwebp"),
    "iconengines": None,
    "texttospeech": ("libqtexttospeech_speechd",),
    "platformthemes": ("libqxdgdesktopportal",),
}
#: Top-level PySide6 entries that are development tools or build-time data.
DROP_PYSIDE = ("include", "typesystems", "glue", "scripts", "doc", "examples")
DROP_QT = ("qml", "libexec", "translations", "metatypes", "mkspecs", "resources", "lib/cmake")


#: pip's lines about this machine's own pip configuration, not about the build: an
#: index or find-links location (pip.conf, PIP_* variables) that does not hold the
#: package being looked up, once per package.
PIP_NOISE = re.compile(r"^(WARNING: )?Location '[^']*' is ignored: ")


def log_step(name: str, started: float) -> None:
    print(f"BUILD {name} {time.monotonic() - started:.1f}", flush=True)


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], check=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]  # noqa: S603


def without_pip_noise(stderr: str) -> str:
    """pip's stderr without the :data:`PIP_NOISE` lines."""
    return "".join(line for line in stderr.splitlines(True) if not PIP_NOISE.match(line))


def pip(*args: str | Path, errors_only: bool = False) -> None:
    """``python -m pip ARGS``; its stderr is passed on without :data:`PIP_NOISE` (none
    of it with ``errors_only``), or all of it if pip fails (a missing package shows
    where pip looked)."""
    done = subprocess.run(  # noqa: S603 (pip, with our own arguments)
        [sys.executable, "-m", "pip", *map(str, args)], stderr=subprocess.PIPE, text=True
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"build_deb: pip {args[0]} failed (exit status {done.returncode})")
    if not errors_only:
        sys.stderr.write(without_pip_noise(done.stderr))


# -- ELF: which shared libraries a binary needs -------------------------------------------
def elf_needed(path: Path) -> list[str] | None:
    """DT_NEEDED entries of a 64-bit little-endian ELF file (None: not one)."""
    with path.open("rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    needed: list[str] = []
    for _name, sh_type, _fl, _addr, offset, size, link, _info, _align, _entsize in sections:
        if sh_type != 6:  # SHT_DYNAMIC
            continue
        strtab_offset = sections[link][4]
        for pos in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, pos)
            if tag == 0:
                break
            if tag == 1:  # DT_NEEDED
                end = data.index(b"\0", strtab_offset + value)
                needed.append(data[strtab_offset + value : end].decode())
    return needed


def qt_modules_used(source: Path) -> set[str]:
    """The PySide6 modules kioskapp imports, from its source."""
    found: set[str] = set()
    for py in source.rglob("*.py"):
        found.update(re.findall(r"PySide6\.(Qt\w+)", py.read_text(encoding="utf-8")))
    return found


def trim_pyside(site: Path, modules: set[str]) -> None:
    """Keep the Qt modules kioskapp imports, the plugins it may load and the libraries
    both need (DT_NEEDED closure); drop the rest of Qt (QML, WebEngine, 3D, tools...)."""
    pyside = site / "PySide6"
    qt = pyside / "Qt"
    for name in DROP_PYSIDE:
        shutil.rmtree(pyside / name, ignore_errors=True)
    for name in DROP_QT:
        shutil.rmtree(qt / name, ignore_errors=True)
    roots: list[Path] = []
    for entry in list(pyside.iterdir()):
        if entry.is_dir():
            continue
        stem = entry.name.split(".", 1)[0]
        if entry.name.endswith(".abi3.so") and stem.startswith("Qt"):
            if stem in modules:
                roots.append(entry)
            else:
                entry.unlink()
        elif entry.suffix == ".pyi" and stem.startswith("Qt") and stem not in modules:
            entry.unlink()
        elif (
            os.access(entry, os.X_OK) and elf_needed(entry) is not None and ".so" not in entry.name
        ):
            entry.unlink()  # designer, linguist, lupdate, qmlls...: developer tools
        elif ".so" in entry.name:
            roots.append(entry)  # libpyside6, libpysideqml...
    plugins = qt / "plugins"
    for folder in list(plugins.iterdir()):
        keep = KEEP_PLUGINS.get(folder.name, ())
        if keep == ():
            shutil.rmtree(folder)
            continue
        for plugin in list(folder.iterdir()):
            if keep is None or plugin.name.startswith(keep):
                roots.append(plugin)
            else:
                plugin.unlink()
    roots.extend((site / "shiboken6").glob("*.so*"))
    libs = {p.name: p for p in (qt / "lib").iterdir() if p.is_file()}
    libs.update({p.name: p for p in pyside.glob("*.so*")})
    keep_libs: set[str] = set()
    todo = list(roots)
    while todo:
        needed = elf_needed(todo.pop()) or []
        for name in needed:
            if name in libs and name not in keep_libs:
                keep_libs.add(name)
                todo.append(libs[name])
    for name, path in libs.items():
        if path.parent == qt / "lib" and name not in keep_libs:
            path.unlink()
    if modules - {p.name.split(".", 1)[0] for p in pyside.glob("Qt*.abi3.so")}:
        raise SystemExit(f"build_deb: PySide6 lacks modules {sorted(modules)}")


# -- dependencies, cached ------------------------------------------------------------------
def pinned_versions() -> list[str]:
    """``name==version`` of every distribution in this environment but kioskapp: the
    package ships what the tests ran with."""
    pins = set()
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() != "kioskapp":
            pins.add(f"{name}=={dist.version}")
    return sorted(pins, key=str.lower)


def wheel_requirements(wheel: Path) -> list[str]:
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        text = zf.read(meta).decode()
    return sorted(line for line in text.splitlines() if line.startswith("Requires-Dist:"))


def dependencies(wheel: Path, modules: set[str]) -> Path:
    """site-packages with kioskapp's dependencies (not kioskapp), from the cache."""
    pins = pinned_versions()
    key_text = "\n".join(
        [TRIM_VERSION, repr(sorted(modules)), repr(KEEP_PLUGINS), *wheel_requirements(wheel), *pins]
    )
    key = hashlib.sha256(key_text.encode()).hexdigest()[:16]
    cached = CACHE / f"deps-{key}"
    if (cached / ".complete").exists():
        return cached
    CACHE.mkdir(parents=True, exist_ok=True)
    for old in CACHE.glob("deps-*"):
        shutil.rmtree(old)  # for other versions: one set of dependencies is kept
    work = Path(tempfile.mkdtemp(prefix="tmp-", dir=CACHE))
    constraints = work / "constraints.txt"
    constraints.write_text("\n".join(pins) + "\n")
    site = work / "site-packages"
    pip(
        "install", "--quiet", "--target", site, "--only-binary=:all:", "--no-compile",
        "--no-warn-script-location", "--constraint", constraints, wheel,
    )  # fmt: skip
    shutil.rmtree(site / "bin", ignore_errors=True)  # console scripts for this machine
    shutil.rmtree(site / "share", ignore_errors=True)  # man pages of the libraries
    for cache in list(site.rglob("__pycache__")):  # some wheels ship byte code (3.12's)
        shutil.rmtree(cache)
    shutil.rmtree(site / "kioskapp")
    for info in site.glob("kioskapp-*.dist-info"):
        shutil.rmtree(info)
    trim_pyside(site, modules)
    constraints.unlink()
    (work / ".complete").write_text(key_text)
    try:
        work.rename(cached)
    except OSError:  # a build beside this one got there first
        shutil.rmtree(work)
        if not (cached / ".complete").exists():
            raise
    return cached


# -- the package tree ------------------------------------------------------------------
def project_version() -> str:
    meta = tomllib.loads((PROJECT / "pyproject.toml").read_text())
    return str(meta["project"]["version"])


def build_wheel(out: Path) -> Path:
    # The build backend's own chatter (setuptools' deprecation notices) only on failure.
    pip("wheel", "--quiet", "--no-deps", "--wheel-dir", out, PROJECT, errors_only=True)
    return next(out.glob("kioskapp-*.whl"))


def write(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def install_file(src: Path, dest: Path, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    dest.chmod(mode)


def drop_direct_url(site: Path) -> None:
    """Remove pip's ``direct_url.json`` (the file: URL of the wheel in this build tree)
    from every distribution in ``site``, and its line from the RECORD."""
    for info in site.glob("*.dist-info"):
        direct = info / "direct_url.json"
        if not direct.exists():
            continue
        direct.unlink()
        record = info / "RECORD"
        if record.exists():
            gone = f"{info.name}/direct_url.json,"
            lines = record.read_text().splitlines(True)
            record.write_text("".join(line for line in lines if not line.startswith(gone)))


def stage_tree(root: Path, wheel: Path, deps: Path) -> None:
    opt = root / PREFIX
    (root / SITE).parent.mkdir(parents=True)
    # The dependencies: hard links into the cache (nothing below is ever modified).
    run("cp", "-al", deps / "site-packages", root / SITE)
    pip(
        "install", "--quiet", "--no-deps", "--no-compile", "--no-index", "--target",
        root / SITE, wheel,
    )  # fmt: skip
    shutil.rmtree(root / SITE / "bin", ignore_errors=True)
    drop_direct_url(root / SITE)
    # A virtual environment whose interpreter is the target's /usr/bin/python3.11.
    write(
        opt / "pyvenv.cfg",
        "home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11\n",
    )
    bindir = opt / "bin"
    bindir.mkdir()
    for name in ("python3.11", "python3", "python"):
        (bindir / name).symlink_to(TARGET_PYTHON if name == "python3.11" else "python3.11")
    install_file(HERE / "bin" / "kioskapp", bindir / "kioskapp", 0o755)
    install_file(HERE / "bin" / "kioskapp-sim", bindir / "kioskapp-sim", 0o755)
    install_file(HERE / "bin" / "kiosk-session", bindir / "kiosk-session", 0o755)
    install_file(HERE / "kiosk_session.py", opt / "libexec" / "kiosk_session.py")
    usr_bin = root / "usr" / "bin"
    usr_bin.mkdir(parents=True)
    (usr_bin / "kioskapp").symlink_to(f"../../{PREFIX}/bin/kioskapp")
    install_file(HERE / "kiosk.service", root / "lib/systemd/system/kiosk.service")
    install_file(HERE / "kioskapp.sysusers", root / "usr/lib/sysusers.d/kioskapp.conf")
    install_file(HERE / "kioskapp.modules-load", root / "usr/lib/modules-load.d/kioskapp.conf")
    install_file(HERE / "kioskapp.pam", root / "etc/pam.d/kioskapp")
    doc = root / "usr/share/doc/kioskapp"
    for name in ("operations.md", "simulator.md"):
        install_file(PROJECT / "docs" / name, doc / name)
    example = run(
        sys.executable, "-m", "kioskapp", "config", "example", stdout=subprocess.PIPE
    ).stdout
    write(doc / "kiosk.toml.example", example)
    write(doc / "copyright", "kioskapp: proprietary. Bundled Python packages: see their\n"
          f"licence files under /{SITE}/*.dist-info/.\n")  # fmt: skip


def tree_size_kib(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            p = Path(dirpath, name)
            if not p.is_symlink():
                total += p.stat().st_size
    return total // 1024 + 1


def iter_files(root: Path) -> Iterator[Path]:
    for dirpath, _dirs, files in os.walk(root):
        for name in sorted(files):
            p = Path(dirpath, name)
            if not p.is_symlink():
                yield p


def md5sums(root: Path, skip: Iterable[str]) -> str:
    skipped = set(skip)
    lines = []
    for p in iter_files(root):
        rel = p.relative_to(root).as_posix()
        if rel.split("/", 1)[0] in skipped:
            continue
        lines.append(f"{hashlib.md5(p.read_bytes()).hexdigest()}  {rel}")  # noqa: S324 (dpkg's format)
    return "\n".join(sorted(lines, key=lambda s: s[34:])) + "\n"


def control_files(root: Path, version: str, arch: str) -> None:
    debian = root / "DEBIAN"
    debian.mkdir()
    control = (
        f"Package: kioskapp\n"
        f"Version: {version}\n"
        f"Architecture: {arch}\n"
        f"Maintainer: kioskapp maintainers <kioskapp@localhost>\n"
        f"Installed-Size: {tree_size_kib(root)}\n"
        f"Depends: {', '.join(DEPENDS)}\n"
        f"Recommends: {', '.join(RECOMMENDS)}\n"
        f"Section: misc\n"
        f"Priority: optional\n"
        f"Description: unattended self-service kiosk (cash, cards, cashback cards, receipts)\n"
        f" The kiosk app fullscreen under the cage Wayland compositor on tty1\n"
        f" (kiosk.service), with its Python environment in /opt/kioskapp, a kioskapp\n"
        f" system user, /etc/kioskapp/kiosk.toml and its journal in /var/lib/kioskapp.\n"
    )
    write(debian / "control", control)
    write(debian / "conffiles", "/etc/pam.d/kioskapp\n")
    for script in ("postinst", "prerm", "postrm"):
        install_file(HERE / "debian" / script, debian / script, 0o755)
    write(debian / "md5sums", md5sums(root, skip={"DEBIAN", "etc"}))


def build(out: Path) -> Path:
    started = time.monotonic()
    version = f"{project_version()}-1"
    arch = run("dpkg", "--print-architecture", stdout=subprocess.PIPE).stdout.strip()
    out.mkdir(parents=True, exist_ok=True)
    (PROJECT / "build").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="deb-", dir=PROJECT / "build"))
    try:
        return _build(out, work, version, arch, started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build(out: Path, work: Path, version: str, arch: str, started: float) -> Path:
    step = time.monotonic()
    wheel = build_wheel(work / "wheel")
    log_step("wheel", step)
    step = time.monotonic()
    deps = dependencies(wheel, qt_modules_used(PROJECT / "kioskapp"))
    log_step("dependencies", step)
    step = time.monotonic()
    root = work / "root"
    stage_tree(root, wheel, deps)
    control_files(root, version, arch)
    log_step("stage", step)
    step = time.monotonic()
    for older in out.glob("kioskapp_*.deb"):
        older.unlink()
    deb = out / f"kioskapp_{version}_{arch}.deb"
    run(
        "dpkg-deb", "--root-owner-group", "-Zzstd", "-z3", f"--threads-max={os.cpu_count() or 1}",
        "--build", root, deb, stdout=subprocess.DEVNULL,
    )  # fmt: skip
    log_step("dpkg-deb", step)
    log_step("total", started)
    return deb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the kioskapp Debian package.")
    parser.add_argument("--out", type=Path, default=PROJECT / "dist", help="output directory")
    args = parser.parse_args(argv)
    print(build(args.out.resolve()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
