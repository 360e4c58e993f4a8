#!/usr/bin/env bash
# kioskapp developer entry point: the README's two commands.
#   bash dev.sh run    set up, then run the kiosk against the built-in simulators
#   bash dev.sh test   set up, then run every check and the whole test suite
set -euo pipefail
cd "$(dirname "$0")"

VENV=${KIOSKAPP_VENV:-.venv}
PY=${PYTHON:-python3.11}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    # Install Debian packages that are missing; quiet when all are present.
    local missing=()
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if ((${#missing[@]})); then
        echo "dev.sh: installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# Fonts for receipts and screens: Noto Sans CJK covers Latin and Japanese,
# DejaVu fills the few glyphs it lacks. The libraries Qt's window system
# plugins load (X11/xcb, Wayland, EGL/GL, fontconfig, D-Bus), and PulseAudio's
# client library, which Qt's text-to-speech loads. (packaging/build_deb.py's
# DEPENDS lists the same for the kiosk.)
RUNTIME_DEBS=(fonts-noto-cjk fonts-dejavu-core
    libegl1 libgl1 libfontconfig1 libdbus-1-3 libxkbcommon0 libxkbcommon-x11-0
    libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
    libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libpulse0
    libwayland-client0 libwayland-cursor0 libwayland-egl1)
# pdftoppm/pdfinfo: the tests read the receipts back as a printer would.
# xvfb, imagemagick: scripts/screenshots.py and the benches on a virtual screen.
# cage, xwayland, grim, systemd (systemd-analyze): the Debian package's tests run
# kiosk.service's command line under cage and check the unit.
TEST_DEBS=(poppler-utils xvfb xauth imagemagick cage xwayland grim systemd)

setup() {
    apt_install "${RUNTIME_DEBS[@]}" "$@"
    if ! command -v "$PY" >/dev/null; then
        echo "dev.sh: $PY not found; install Python 3.11 (Debian: apt-get install python3.11 python3.11-venv)" >&2
        exit 1
    fi
    if [ ! -x "$VENV/bin/python" ]; then
        if ! "$PY" -m venv "$VENV" 2>/dev/null; then
            apt_install python3-venv
            rm -rf "$VENV"; "$PY" -m venv "$VENV"
        fi
    fi
    # Re-install only when the project's declared dependencies changed.
    local stamp="$VENV/.kioskapp-installed" want
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        "$VENV/bin/python" -m pip install -q --upgrade pip
        "$VENV/bin/python" -m pip install -q -e ".[test,dev]"
        echo "$want" > "$stamp"
    fi
}

cmd_run() {
    setup
    if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [ -z "${QT_QPA_PLATFORM:-}" ]; then
        # No screen (a server, a container): Qt's VNC platform serves the windows.
        echo "dev.sh: no display found; the kiosk's screens are served over VNC:"
        echo "dev.sh: connect a VNC viewer to localhost:5900 (e.g. 'vncviewer localhost:5900')"
        export QT_QPA_PLATFORM="vnc:size=1920x1000:port=5900"
    fi
    exec "$VENV/bin/kioskapp" --simulate --windowed "$@"
}

cmd_test() {
    setup "${TEST_DEBS[@]}"
    local bin="$VENV/bin"
    echo "== ruff";          "$bin/ruff" check kioskapp tests bench
    echo "== ruff format";   "$bin/ruff" format --check kioskapp tests bench
    echo "== mypy";          "$bin/mypy"
    echo "== import contracts"; "$bin/lint-imports"
    echo "== Debian package"; KIOSKAPP_VENV="$VENV" bash packaging/ci.sh
    # tests/packaging installs this .deb instead of building their own.
    local debs=(dist/kioskapp_*.deb)
    export KIOSKAPP_DEB="$PWD/${debs[0]}"
    echo "== pytest"
    local rc=0
    QT_QPA_PLATFORM=offscreen "$bin/python" -m pytest "$@" || rc=$?
    if [ "$rc" = 5 ]; then echo "dev.sh: pytest collected no tests: that is a failure" >&2; exit 1; fi
    exit "$rc"
}

case "${1:-}" in
    run)  shift; cmd_run "$@" ;;
    test) shift; cmd_test "$@" ;;
    *) echo "usage: bash dev.sh run|test [args]" >&2; exit 2 ;;
esac
