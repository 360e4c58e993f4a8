"""``kioskapp-sim`` as a process: banner, serving, clean stop, port in use."""

from __future__ import annotations

import signal
import socket

import httpx
import pytest

from kioskapp.simulator.framework import VENDOR_SIMULATORS

from .simproc import start_sim


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
async def test_kioskapp_sim_prints_its_urls_and_stops_cleanly(stop_signal: int) -> None:
    sim = await start_sim("--port", "0", "--speed", "2")
    try:
        assert sim.banner[0] == "kioskapp simulators running (simulated time x2.0)"
        assert sim.banner[-1] == "Press Ctrl+C to stop."
        urls = sim.urls
        assert set(urls) == {"tecalis", "control", *VENDOR_SIMULATORS}
        assert urls["tecalis"].startswith("http://127.0.0.1:")
        assert urls["tecalis"].endswith("/tecalis")
        assert urls["control"] == urls["tecalis"].removesuffix("tecalis") + "_sim/"
        async with httpx.AsyncClient() as http:
            auth = await http.post(
                urls["tecalis"] + "/api/auth",
                json={"username": "integrator", "password": "integrator-secret"},
            )
            token = auth.json()["token"]
            start = await http.post(
                urls["tecalis"] + "/api/session/start",
                headers={"Authorization": f"Bearer {token}"},
                json={"kiosk_id": "KIOSK-001"},
            )
            assert start.status_code == 200
            index = (await http.get(urls["control"])).json()
            assert index["clock"]["speed"] == 2.0
    finally:
        if sim.process.returncode is None:
            sim.process.send_signal(stop_signal)
        code, out, err = await sim.finish()
    assert code == 0, err
    assert "stopped" in out
    assert "POST /tecalis/api/auth 200" in err
    assert "POST /tecalis/api/session/start 200" in err
    assert token not in err
    assert start.json()["token"] not in err


async def test_kioskapp_sim_reports_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sim = await start_sim("--port", str(port))
        code, _, err = await sim.finish()
    assert code == 1
    assert sim.banner == []
    lines = err.strip().splitlines()
    assert lines == [f"kioskapp-sim: cannot listen on 127.0.0.1:{port}: address already in use"]


def test_simulators_started_by_the_app_end_when_the_app_is_killed() -> None:
    """``kioskapp --simulate`` runs the simulators as a child process: killed (or
    aborted) without its orderly stop, the app must not leave them running."""
    import os
    import select
    import subprocess
    import sys

    with subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys\n"
            "from kioskapp.simulator.background import SimulatorProcess\n"
            "sims = SimulatorProcess()\n"
            "sims.start()\n"
            "print(sims._proc.pid, flush=True)\n"
            "sys.stdin.read()\n",  # until the test kills this process
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as parent:
        assert parent.stdout is not None
        sim_pid = int(parent.stdout.readline())
        sim = os.pidfd_open(sim_pid)
        try:
            ready, _, _ = select.select([sim], [], [], 0)
            assert not ready, "the simulators stopped before their parent was killed"
            parent.kill()
            parent.wait()
            ready, _, _ = select.select([sim], [], [], 30)  # readable once it has ended
            assert ready, "the simulators outlived the app that started them"
        finally:
            os.close(sim)
            parent.kill()
