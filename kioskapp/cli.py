"""The ``kioskapp`` command.

kioskapp [--config FILE] [--simulate]   run the kiosk
kioskapp config check FILE              validate a config file
kioskapp config example                 print a fully commented example config
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from kioskapp import __version__
from kioskapp.config import ConfigError, check_file, example_toml, load_config, resolve_config_path

log = logging.getLogger("kioskapp")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kioskapp",
        description="Unattended self-service kiosk: cash, cards, cashback cards, receipts.",
    )
    parser.add_argument("--version", action="version", version=f"kioskapp {__version__}")
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="config file (default: $KIOSKAPP_CONFIG, else /etc/kioskapp/kiosk.toml)",
    )
    parser.add_argument(
        "--simulate",
        action="store_true",
        help="run against the built-in simulators of every device and service",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    config = sub.add_parser("config", help="check or create a config file")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_sub.add_parser("check", help="validate FILE; one line per problem")
    check.add_argument("file", metavar="FILE", type=Path)
    config_sub.add_parser("example", help="print a fully commented example config")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "config":
        if args.config_command == "example":
            sys.stdout.write(example_toml())
            return 0
        return _config_check(args.file)
    return _run(args)


def _config_check(path: Path) -> int:
    problems = check_file(path, env=os.environ)
    if not problems:
        print(f"{path}: OK")
        return 0
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
    return 1


def _run(args: argparse.Namespace) -> int:
    try:
        path = resolve_config_path(args.config, os.environ)
        config = load_config(path if (args.config or path.exists()) else None, env=os.environ)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.logging.level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not args.simulate:
        print(
            "kioskapp: the customer screens are not part of this version yet; "
            "run with --simulate to start the built-in simulators.",
            file=sys.stderr,
        )
        return 2
    from kioskapp.simulator.main import serve

    print(
        "kioskapp: the customer screens are not built yet; starting the built-in simulators so\n"
        "the device APIs can be tried already (docs/simulator.md shows a curl session).",
        flush=True,
    )
    sim = config.simulator
    return asyncio.run(serve(sim.host, sim.port, sim.speed))
