"""The ``kioskapp`` command.

kioskapp [--config FILE] [--simulate] [--windowed]
                                        run the kiosk (with --simulate: against the
                                        built-in simulators, with their control panel)
kioskapp config check FILE              validate a config file
kioskapp config example                 print a fully commented example config
kioskapp simulate-sales N [--faults RATE] [--seed S] [--provider P]
                                        N whole customer journeys against the built-in
                                        simulators; prints one RECONCILIATION line
kioskapp admin ACTION ...               sales, incidents, resolve, cash, export, set-pin,
                                        audit (see kioskapp admin --help)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
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
    parser.add_argument(
        "--windowed",
        action="store_true",
        help="run in a window instead of fullscreen (development, demos)",
    )
    parser.add_argument(
        "--no-panel",
        action="store_true",
        help="with --simulate: do not open the simulator control panel",
    )
    parser.add_argument(
        "--pseudo-locale",
        action="store_true",
        help="show every text stretched and accented, to find clipped labels",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    config = sub.add_parser("config", help="check or create a config file")
    config_sub = config.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = config_sub.add_parser("check", help="validate FILE; one line per problem")
    check.add_argument("file", metavar="FILE", type=Path)
    config_sub.add_parser("example", help="print a fully commented example config")
    _add_simulate_parser(sub)
    from kioskapp.staff.admin import add_admin_parser

    add_admin_parser(sub)
    return parser


def _add_simulate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sim = sub.add_parser(
        "simulate-sales",
        help="run N customer journeys against the built-in simulators, with random faults",
        description=(
            "Run N whole customer journeys (random customers, random faults) against the "
            "built-in simulators on simulated time, then print one line: RECONCILIATION "
            "taken=... delivered=... compensated=... flagged=... unhandled=... (minor units). "
            "Exit status 0 only when taken = delivered + compensated + flagged and nothing "
            "was left unhandled; the details go to stderr."
        ),
    )
    sim.add_argument("journeys", metavar="N", type=int, help="number of customer journeys")
    sim.add_argument(
        "--faults",
        metavar="RATE",
        type=float,
        default=0.0,
        help="probability (0..1) that a journey gets one random fault (default 0)",
    )
    sim.add_argument("--seed", metavar="S", type=int, default=0, help="random seed (default 0)")
    sim.add_argument(
        "--provider",
        choices=("tpv", "kinetic", "komoju", "payjunction"),
        help="card terminal to simulate (default: the config's payments.card_provider)",
    )
    sim.add_argument(
        "--config",
        dest="simulate_config",
        metavar="FILE",
        type=Path,
        help="kiosk config to start from (endpoints are pointed at the simulators)",
    )
    sim.add_argument(
        "--state-dir",
        metavar="DIR",
        type=Path,
        help="keep the journal here (an empty directory; default: a temporary one)",
    )
    sim.add_argument(
        "--fault-kinds",
        metavar="K1,K2",
        help="only these fault kinds ('list' prints every kind and exits)",
    )
    sim.add_argument("--verbose", action="store_true", help="one line per journey on stderr")
    sim.add_argument(
        "--log-level",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="also write the kiosk's log to stderr at this level",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "config":
        if args.config_command == "example":
            sys.stdout.write(example_toml())
            return 0
        return _config_check(args.file)
    if args.command == "simulate-sales":
        return _simulate(args)
    if args.command == "admin":
        from kioskapp.staff.admin import run_admin

        return run_admin(args)
    return _run(args)


#: Python logging level -> syslog priority (what journald files each line under).
_SYSLOG_PRIORITY = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


class JournalFormatter(logging.Formatter):
    """Log lines for journald's stream: ``<priority>name: message`` (journald adds the
    time and strips the prefix), so ``journalctl -p err`` finds errors. Every line of a
    multi-line record (a traceback) carries the prefix."""

    def __init__(self) -> None:
        super().__init__("%(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        priority = _SYSLOG_PRIORITY.get(record.levelno)
        if priority is None:  # a custom level: the nearest standard one below it
            priority = next((p for lvl, p in sorted(_SYSLOG_PRIORITY.items(), reverse=True)
                             if record.levelno >= lvl), 7)  # fmt: skip
        return "\n".join(f"<{priority}>{line}" for line in super().format(record).splitlines())


def stderr_is_journal(env: Mapping[str, str], fd: int = 2) -> bool:
    """Is ``fd`` systemd's journal stream (``JOURNAL_STREAM`` = "device:inode" of it)?"""
    try:
        dev, ino = (int(part) for part in env.get("JOURNAL_STREAM", "").split(":"))
        st = os.fstat(fd)
    except (ValueError, OSError):
        return False
    return (st.st_dev, st.st_ino) == (dev, ino)


def log_formatter(env: Mapping[str, str]) -> logging.Formatter:
    """journald's priorities under systemd; time and level on a terminal."""
    if stderr_is_journal(env):
        return JournalFormatter()
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")


def _config_check(path: Path) -> int:
    problems = check_file(path, env=os.environ)
    if not problems:
        print(f"{path}: OK")
        return 0
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    print(f"{path}: {len(problems)} problem(s)", file=sys.stderr)
    return 1


def _simulate(args: argparse.Namespace) -> int:
    from kioskapp.simulate import FAULT_KINDS, SimulationError, SimulationOptions, run_simulation

    if args.fault_kinds == "list":
        for name, kind in FAULT_KINDS.items():
            providers = ", ".join(sorted(kind.providers)) if kind.providers else "any"
            print(f"{name}\t{providers}")
        return 0
    if args.log_level:
        logging.basicConfig(
            level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    kinds = None
    if args.fault_kinds:
        kinds = tuple(k.strip() for k in args.fault_kinds.split(",") if k.strip())
    config_path = args.simulate_config or (Path(args.config) if args.config else None)
    try:
        options = SimulationOptions(
            journeys=args.journeys,
            fault_rate=args.faults,
            seed=args.seed,
            provider=args.provider,
            config_path=config_path,
            state_dir=args.state_dir,
            fault_kinds=kinds,
            env=dict(os.environ),
            verbose=args.verbose,
        )
        return run_simulation(options, err=sys.stderr)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config: {problem}", file=sys.stderr)
        return 2
    except SimulationError as exc:
        print(f"simulate-sales: {exc}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    path = resolve_config_path(args.config, os.environ)
    config_path = path if (args.config or path.exists()) else None
    try:
        config = load_config(config_path, env=os.environ)
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"config: {problem}", file=sys.stderr)
        return 2
    handler = logging.StreamHandler()
    handler.setFormatter(log_formatter(os.environ))
    logging.basicConfig(level=config.logging.level, handlers=[handler])
    # One line per HTTP request is for debugging, not for a kiosk's journal.
    if config.logging.level != "DEBUG":
        logging.getLogger("httpx").setLevel(logging.WARNING)
    from kioskapp.ui.app import RunOptions, main_simulate, run

    options = RunOptions(
        windowed=args.windowed,
        simulate=args.simulate,
        sim_panel=not args.no_panel,
        pseudo_locale=args.pseudo_locale,
        config_path=config_path,
    )
    if args.simulate:
        return main_simulate(config, config_path, options)
    return run(config, options)
