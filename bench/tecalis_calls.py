"""Per-call overhead of the Tecalis client against the simulator on loopback.

Starts `kioskapp-sim` in its own process (so the server does not share this
process's event loop), opens a session, then times N calls of each kind:
a session status read (GET) and an integrator status read. Prints:

    BENCH tecalis_call_median_ms <value>
    BENCH tecalis_call_p99_ms <value>

Target: median <= 2 ms on loopback.

    .venv/bin/python bench/tecalis_calls.py [--calls 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time

from kioskapp.app import tecalis_client
from kioskapp.config import load_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_simulator(port: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kioskapp.simulator.main", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "/tecalis" in line:
            return proc
    raise SystemExit("the simulator did not start")


async def measure(base_url: str, calls: int) -> list[float]:
    config = load_config(None, env={"KIOSKAPP_TECALIS__BASE_URL": base_url})
    async with tecalis_client(config) as client:
        await client.start_session()
        for _ in range(50):  # warm up connections and code paths
            await client.bill_reader_status()
        samples: list[float] = []
        for i in range(calls):
            start = time.perf_counter()
            if i % 10 == 9:
                await client.kiosk_status()
            else:
                await client.bill_reader_status()
            samples.append((time.perf_counter() - start) * 1000)
        return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    port = free_port()
    proc = start_simulator(port)
    try:
        samples = asyncio.run(measure(f"http://127.0.0.1:{port}/tecalis", args.calls))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    samples.sort()
    median = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    print(f"calls {len(samples)} min {samples[0]:.3f} ms max {samples[-1]:.3f} ms")
    print(f"BENCH tecalis_call_median_ms {median:.3f}")
    print(f"BENCH tecalis_call_p99_ms {p99:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
