"""The crash matrix, standalone: a real kiosk process SIGKILLed at every crash point of
every journey (after and before its journal writes, at its customer moments), recovered,
and checked (see ``tests/recovery/test_crash_matrix.py``, which runs the same matrix).

    .venv/bin/python bench/crash_matrix.py [--journeys cash,card-tpv,...]
                                           [--points after:3,before:14,moment:1]
                                           [--rounds N] [--lanes N] [-v]

Prints the table (per journey: points run of points enumerated, defined, real time,
what recovery made of them), every case that is not defined (path, point, the journal
state at the crash, what was left), and last::

    CRASH MATRIX points=<n> paths=<m> defined=<n>
    BENCH crash_matrix_ms_per_point <value>

Exit status 0 only when every point of every round ended defined, the kiosk dying
(SIGKILL) at the very write or moment its clean run had there. ``--rounds`` repeats the
whole matrix (on fresh state) to shake out points whose outcome depends on timing;
``--points`` runs only those crash points (``after:N`` / ``before:N``: right after / right
before the N-th journal write; ``moment:K``: at the K-th customer moment; 1-based, as the
clean run counts them).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository's tests package

from tests.recovery.crash_child import JOURNEYS
from tests.recovery.test_crash_matrix import (
    LANES,
    Enumeration,
    MatrixReport,
    Point,
    every_point,
    run_matrix,
)


def _point_name(text: str) -> str:
    """``after:14`` → ``after write 14``, ``moment:1`` → ``moment 1`` (as Point prints)."""
    kind, _, n = text.partition(":")
    return f"moment {n}" if kind == "moment" else f"{kind} write {n}"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench/crash_matrix.py")
    parser.add_argument("--journeys", default=",".join(JOURNEYS),
                        help=f"comma-separated, from: {', '.join(JOURNEYS)}")  # fmt: skip
    parser.add_argument(
        "--points", default=None, help="only these crash points, e.g. after:3,moment:1"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--lanes", type=int, default=LANES, help="kiosks crashed at once")
    parser.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = parser.parse_args(argv)
    journeys = [j for j in args.journeys.split(",") if j]
    unknown = sorted(set(journeys) - set(JOURNEYS))
    if unknown:
        parser.error(f"unknown journey(s): {', '.join(unknown)}")
    only: set[str] | None = None
    if args.points is not None:
        only = {_point_name(p) for p in args.points.split(",") if p}

    def points(name: str, enumerated: Enumeration) -> list[Point]:
        chosen = every_point(name, enumerated)
        return chosen if only is None else [p for p in chosen if str(p) in only]

    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(name)s: %(message)s")
    ok = True
    total_points = 0
    started = time.monotonic()
    for round_ in range(1, args.rounds + 1):
        with tempfile.TemporaryDirectory(prefix="crash-matrix-") as root:
            report: MatrixReport = asyncio.run(
                run_matrix(Path(root), journeys, points, lanes=args.lanes)
            )
        if args.rounds > 1:
            print(f"round {round_}")
        print(report.table())
        for case in report.cases if args.verbose else report.problems:
            print(case.describe())
        diverged = [c for c in report.crashes if c.died_at != c.expected]
        for case in diverged:
            if case.defined:
                print(f"diverged from the clean run: {case.describe()}")
        ok = ok and not report.problems and not diverged
        planned = {(c.journey, c.point) for c in report.crashes}
        ok = ok and report.points == report.defined == len(planned)
        total_points += report.points
        print(report.line())
    elapsed = time.monotonic() - started
    print(f"BENCH crash_matrix_ms_per_point {1000 * elapsed / max(1, total_points):.0f}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
