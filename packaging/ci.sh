#!/usr/bin/env bash
# The packaging step of CI (bash dev.sh test runs it before pytest):
#   1. build the .deb (dist/kioskapp_<version>_<arch>.deb) and time it;
#   2. list what it holds (dpkg-deb --info, --contents);
#   3. unpack it into a scratch root that also holds this machine's systemd units,
#      then `systemd-analyze verify` kiosk.service there (which checks that
#      ExecStart exists and is executable in the package) and
#      `systemd-analyze security --offline=yes`, which must rate it 5.0 or lower.
# The maintainer scripts, the installed app and the unit's command line under cage
# are tested by tests/packaging/ (which reuse this .deb through $KIOSKAPP_DEB).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${KIOSKAPP_VENV:-.venv}/bin/python
MAX_EXPOSURE=5.0

echo "-- ruff, mypy: the packaging scripts"
"${KIOSKAPP_VENV:-.venv}/bin/ruff" check packaging
"${KIOSKAPP_VENV:-.venv}/bin/ruff" format --check packaging
"${KIOSKAPP_VENV:-.venv}/bin/mypy" --strict --no-warn-unused-configs packaging/build_deb.py packaging/kiosk_session.py

echo "-- build"
start=$(date +%s.%N)
deb=$("$PY" packaging/build_deb.py --out dist | tee /dev/stderr | tail -1)
end=$(date +%s.%N)
awk -v d="$deb" -v b="$(stat -c %s "$deb")" -v s="$start" -v e="$end" \
    'BEGIN { printf "packaging: built %s (%.1f MB) in %.1f s\n", d, b / 1e6, e - s }'

echo "-- dpkg-deb --info"
dpkg-deb --info "$deb"
echo "-- dpkg-deb --contents (the Python packages under site-packages summarised)"
site=./opt/kioskapp/lib/python3.11/site-packages/
dpkg-deb --contents "$deb" | awk -v site="$site" '
    { path = $6; for (i = 7; i <= NF; i++) path = path " " $i }
    index(path, site) == 1 {
        rest = substr(path, length(site) + 1)
        n = split(rest, part, "/")
        if (part[1] != "") {
            top = part[1] (n > 1 ? "/" : "")
            files[top]++; bytes[top] += $3
        }
        next
    }
    { print }
    END {
        for (p in files) printf "%s%s (%d entries, %.1f MB)\n", site, p, files[p], bytes[p] / 1e6 | "sort"
    }'

echo "-- systemd-analyze"
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
dpkg-deb --extract "$deb" "$root"
# The units kiosk.service refers to (targets, getty@), as on the kiosk.
mkdir -p "$root/usr/lib/systemd"
cp -a /usr/lib/systemd/system "$root/usr/lib/systemd/"
if [ -d /lib/systemd/system ] && [ "$(readlink -f /lib)" != /usr/lib ]; then
    cp -an /lib/systemd/system/. "$root/usr/lib/systemd/system/"
fi
verify=$(systemd-analyze verify --man=no --root="$root" kiosk.service 2>&1) || {
    echo "$verify" >&2; echo "packaging: systemd-analyze verify failed" >&2; exit 1; }
if [ -n "$verify" ]; then
    echo "$verify" >&2; echo "packaging: systemd-analyze verify complained" >&2; exit 1
fi
echo "systemd-analyze verify kiosk.service: OK"
security=$(systemd-analyze security --offline=yes --root="$root" kiosk.service 2>&1) || true
exposure=$(echo "$security" | sed -n 's/.*Overall exposure level for kiosk.service: \([0-9.]*\).*/\1/p')
echo "$security" | tail -1
if [ -z "$exposure" ] || awk -v x="$exposure" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(x > m) }'; then
    echo "$security" >&2
    echo "packaging: exposure ${exposure:-unknown} is above $MAX_EXPOSURE" >&2
    exit 1
fi
echo "packaging: OK ($deb, exposure $exposure)"
