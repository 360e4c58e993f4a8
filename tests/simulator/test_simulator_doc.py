"""docs/simulator.md's curl session works exactly as written against kioskapp-sim."""

from __future__ import annotations

import asyncio
import json
import re
import signal
from decimal import Decimal
from typing import Any

from .simproc import REPO, start_sim

DOC = REPO / "docs" / "simulator.md"
SIM_LINE = "SIM=http://127.0.0.1:8710"


def curl_session() -> str:
    text = DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    sessions = [b for b in blocks if b.startswith(SIM_LINE + "\n")]
    assert len(sessions) == 1, "docs/simulator.md needs one ```bash block starting with SIM="
    return str(sessions[0])


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line, parse_float=Decimal) for line in output.splitlines() if line.strip()]


async def test_the_documented_curl_session_runs() -> None:
    script = curl_session()
    assert "jq" not in script
    sim = await start_sim("--port", "0")
    try:
        base = sim.urls["control"].removesuffix("/_sim/")
        port_script = script.replace(SIM_LINE, f"SIM={base}", 1)
        bash = await asyncio.create_subprocess_exec(
            "bash",
            "-e",
            "-c",
            port_script,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(bash.communicate(), 60)
    finally:
        if sim.process.returncode is None:
            sim.process.send_signal(signal.SIGTERM)
        code, _, sim_err = await sim.finish()
    assert bash.returncode == 0, (out.decode(), err.decode(), sim_err)
    assert code == 0

    reset, opened, inserted, events, escrow, accepted, final = json_lines(out.decode())
    assert reset["success"] is True
    assert opened["state"] == "ready"
    assert inserted["result"] == "escrow"
    assert [e["event"] for e in events["events"]] == ["bill.escrow"]
    assert escrow["state"] == "escrow"
    assert escrow["escrow"]["amount"] == 20
    assert escrow["escrow"]["since"] == events["events"][0]["payload"]["timestamp"]
    assert accepted["message"] == "Note stacked"
    assert final["state"] == "ready"
    assert final["stacked_total"] == 20
    assert final["escrow"] is None
