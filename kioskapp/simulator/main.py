"""``kioskapp-sim``: run every vendor simulator on one loopback port.

Usage: ``kioskapp-sim [--host 127.0.0.1] [--port 8710] [--speed 1.0] [-v]``.
Stops cleanly on Ctrl+C / SIGTERM (exit 0); a port already in use is one clear
error line and exit 1.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import signal
import sys

from kioskapp.core.clock import ControlledClock
from kioskapp.simulator.framework import build_simulators, is_loopback

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8710


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError("speed must be a positive number")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("port must be 0-65535 (0: any free port)")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kioskapp-sim",
        description="Run the kioskapp vendor simulators (Tecalis kiosk hardware, ...) "
        "and their control API on one HTTP port.",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default %(default)s; anything but loopback exposes "
        "the unauthenticated control API)",
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="port (default %(default)s; 0: any)"
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=1.0,
        help="simulated time runs this many times faster than real time (default 1.0)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument(
        "--stop-on-stdin-eof",
        action="store_true",
        help="stop when standard input closes (a parent process that dies takes the "
        "simulators with it)",
    )
    return parser


async def serve(host: str, port: int, speed: float, *, stop_on_stdin_eof: bool = False) -> int:
    clock = ControlledClock(speed=speed)
    server = build_simulators(clock, host=host, port=port)
    try:
        await server.start()
    except OSError as exc:
        await server.stop()
        await clock.aclose()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        print(f"kioskapp-sim: cannot listen on {host}:{port}: {reason or exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    stdin_fd = sys.stdin.fileno() if stop_on_stdin_eof and sys.stdin is not None else None
    if stdin_fd is not None:

        def stdin_readable() -> None:
            try:
                data = os.read(stdin_fd, 4096)
            except OSError:
                data = b""
            if not data:  # the parent closed the pipe, or died
                loop.remove_reader(stdin_fd)
                stop.set()

        loop.add_reader(stdin_fd, stdin_readable)
    try:
        width = max([len(name) for name in server.services] + [len("control")]) + 2
        print(f"kioskapp simulators running (simulated time x{speed})")
        for name in server.services:
            print(f"  {name:<{width}}{server.url_for(name)}")
        print(f"  {'control':<{width}}{server.control_url}")
        print("Press Ctrl+C to stop.", flush=True)
        await stop.wait()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if stdin_fd is not None:
            loop.remove_reader(stdin_fd)
        await server.stop()
        await clock.aclose()
    print("kioskapp simulators stopped.", flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not args.verbose:
        # aiohttp's own access logger is replaced by ours; keep its internals quiet.
        logging.getLogger("aiohttp").setLevel(logging.WARNING)
    if not is_loopback(args.host):
        print(
            f"WARNING: kioskapp-sim is listening on {args.host}, not loopback: anyone on the "
            "network can drive the simulators and their UNAUTHENTICATED control API "
            "(/_sim/). Use --host 127.0.0.1 unless you really mean it.",
            file=sys.stderr,
            flush=True,
        )
    try:
        return asyncio.run(
            serve(args.host, args.port, args.speed, stop_on_stdin_eof=args.stop_on_stdin_eof)
        )
    except KeyboardInterrupt:  # a second Ctrl+C before the handlers were installed
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
