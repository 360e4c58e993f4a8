"""Start-up time of the customer app: process start to the first painted attract frame.

Spawns the app N times (the real `kioskapp` start path: config, Qt, the window,
then the kiosk opening in the background) and times each from the spawn to the
moment the window's first paint has finished. The kiosk's services are not
needed for that frame: the config points at a port where nothing listens.
Prints:

    BENCH startup_s <median>

Target: median <= 0.6 s on a 2-core machine. Uses the X display if there is one
(run under `xvfb-run -a`), else Qt's offscreen platform.

    .venv/bin/python bench/ui_startup.py [--runs 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import os, sys
from kioskapp.config import load_config
from kioskapp.ui.app import RunOptions, run

def painted(window):
    sys.stdout.write("PAINTED\n")
    sys.stdout.flush()
    os._exit(0)

config = load_config(None, env=os.environ)
sys.exit(run(config, RunOptions(windowed=True, on_first_paint=painted)))
"""


def one_run(env: dict[str, str]) -> float:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - started
    proc.wait(timeout=30)
    if line.strip() != "PAINTED":
        raise SystemExit(f"the app did not paint (exit {proc.returncode})")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description="customer app start-up time")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        env = dict(os.environ)
        if not env.get("DISPLAY"):
            env["QT_QPA_PLATFORM"] = "offscreen"
        env.update({
            "KIOSKAPP_KIOSK__STATE_DIR": state,
            "KIOSKAPP_JOURNAL__PATH": os.path.join(state, "journal.sqlite3"),
            "KIOSKAPP_TECALIS__BASE_URL": "http://127.0.0.1:9/tecalis",
            "KIOSKAPP_UI__SPEECH": "false",
            "KIOSKAPP_LOGGING__LEVEL": "ERROR",
        })  # fmt: skip
        one_run(env)  # warm the disk cache: a kiosk boots from a warm cache too
        times = [one_run(env) for _ in range(args.runs)]
    print(f"runs {len(times)}: min {min(times):.3f} s, max {max(times):.3f} s")
    print(f"BENCH startup_s {statistics.median(times):.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
