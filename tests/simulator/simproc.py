"""Run ``kioskapp-sim`` as a subprocess and wait for its banner (never on sleeps)."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import kioskapp

REPO = Path(kioskapp.__file__).resolve().parents[1]
URL_LINE = re.compile(r"^\s+(\S+)\s+(http://\S+)$")


def sim_command() -> list[str]:
    """The installed console script, else the module."""
    script = Path(sys.executable).with_name("kioskapp-sim")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "kioskapp.simulator.main"]


def sim_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class SimProcess:
    process: asyncio.subprocess.Process
    banner: list[str] = field(default_factory=list)

    @property
    def urls(self) -> dict[str, str]:
        return {m[1]: m[2] for line in self.banner if (m := URL_LINE.match(line))}

    async def finish(self, timeout: float = 20.0) -> tuple[int, str, str]:
        """Wait for the exit; returns (code, rest of stdout, stderr)."""
        out, err = await asyncio.wait_for(self.process.communicate(), timeout)
        assert self.process.returncode is not None
        return self.process.returncode, out.decode(), err.decode()


async def start_sim(*args: str, timeout: float = 30.0) -> SimProcess:
    """Start kioskapp-sim and read stdout up to "Press Ctrl+C" (or until it exits)."""
    process = await asyncio.create_subprocess_exec(
        *sim_command(),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=sim_env(),
        cwd=str(REPO),
    )
    sim = SimProcess(process)
    assert process.stdout is not None
    try:
        while True:
            line = await asyncio.wait_for(process.stdout.readline(), timeout)
            if not line:
                break
            sim.banner.append(line.decode().rstrip("\n"))
            if line.startswith(b"Press Ctrl+C"):
                break
    except BaseException:
        process.kill()
        await process.communicate()
        raise
    return sim
