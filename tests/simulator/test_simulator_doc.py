"""docs/simulator.md's curl sessions work exactly as written against kioskapp-sim.

Every ```bash block of the document is one session for one simulator. Each runs
under ``bash -e`` against a freshly started ``kioskapp-sim`` on a free port
(its ``SIM=`` line is pointed at that port), and its output is checked.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from .simproc import REPO, start_sim

DOC = REPO / "docs" / "simulator.md"
SIM_LINE = "SIM=http://127.0.0.1:8710"
SERVICES = ("tecalis", "cardapi", "kinetic", "komoju", "payjunction")
SERVICE_PATH = re.compile(r"\$SIM/(" + "|".join(SERVICES) + r")/")
TERMINAL_PATH = re.compile(r"^TERMINAL=\"\$SIM/(\w+)/", re.M)


def bash_blocks() -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return [str(b) for b in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)]


def service_of(block: str) -> str:
    """The one simulator whose vendor API a block calls (control paths aside)."""
    used = set(SERVICE_PATH.findall(block)) | set(TERMINAL_PATH.findall(block))
    assert len(used) == 1, f"a ```bash block must use exactly one simulator, uses {used}"
    return str(used.pop())


def session_for(service: str) -> str:
    blocks = [b for b in bash_blocks() if service_of(b) == service]
    assert len(blocks) == 1, f"docs/simulator.md needs one ```bash block for {service}"
    return blocks[0]


def json_lines(output: str) -> list[Any]:
    return [json.loads(line, parse_float=Decimal) for line in output.splitlines() if line.strip()]


async def run_session(script: str) -> list[Any]:
    """Run the block against a fresh kioskapp-sim on a free port; its output, as JSON lines."""
    assert script.startswith(SIM_LINE + "\n")
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
    assert err.decode() == "", err.decode()
    assert code == 0
    return json_lines(out.decode())


# -- what each session must print ------------------------------------------------------


def check_tecalis(lines: list[Any]) -> None:
    reset, opened, inserted, events, escrow, accepted, final = lines
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


def check_cardapi(lines: list[Any]) -> None:
    reset, found, debit, ledger = lines
    assert reset["success"] is True
    assert found["type"] == "CASHBACK"
    assert found["pass"]["id"] == "P-CB-0654"
    assert found["pass"]["number"] == "7001000000654"
    assert found["pass"]["balance"] == Decimal("6.54")
    assert "barcode" not in found["pass"]  # a simulator-only field, never sent
    assert debit["payment_row"] == {
        "pass_id": "P-CB-0654",
        "payment_method_id": 2,
        "amount": "2.50",
        "currency": "EUR",
    }
    assert debit["receipt_row"] == {"label": "Cashback", "amount": "-2.50", "balance": "4.04"}
    [entry] = ledger["ledger"]
    assert entry["ticket_id"] == debit["ticket_id"]
    assert entry["device_id"] == "KIOSK-001"
    assert (entry["balance_before"], entry["balance_after"]) == ("6.54", "4.04")
    assert entry["replays"] == 0


def check_kinetic(lines: list[Any]) -> None:
    reset, started, screen, presented, approved, read = lines
    assert reset["success"] is True
    assert started == {
        "id": "sale-0001",
        "amount": 1250,
        "status": "waiting_for_card",
        "result": None,
        "auth_code": None,
        "account_number": None,
    }
    assert screen["scene"] == {
        "path": "app.views.layouts.present_card",
        "text": "Present card\nEUR 12.50",
    }
    assert presented["status"] == "card_read"
    assert presented["result"] is None
    assert presented["account_number"] == "5***********4444"
    assert approved["status"] == "complete"
    assert approved["result"] == "approved"
    assert re.fullmatch(r"\d{6}", approved["auth_code"])
    assert read == approved


def check_komoju(lines: list[Any]) -> None:
    reset, pushed, approved, read, events = lines
    assert reset["success"] is True
    assert pushed == {"status": "success"}
    assert approved == {
        "status": "completed",
        "amount": 1500,
        "currency": "JPY",
        "payment": {"status": "captured", "last4": "4444"},
    }
    assert read == approved
    assert events == [{"event": "payment.captured", "fate": "no_url"}]


def check_payjunction(lines: list[Any]) -> None:
    reset, waiting, presented, complete, voided = lines
    assert reset["success"] is True
    request_id = waiting["requestId"]
    assert waiting == {"requestId": request_id, "status": "IN_PROGRESS"}
    assert presented["request"]["requestId"] == request_id
    assert presented["request"]["status"] == "COMPLETE"
    assert presented["transaction"]["status"] == "CAPTURE"
    assert presented["transaction"]["response"]["approved"] is True
    assert complete["requestId"] == request_id
    assert complete["status"] == "COMPLETE"
    assert complete["transactionId"] == 10001
    result = complete["result"]
    assert result["status"] == "APPROVED"
    assert (result["transactionId"], result["amount"]) == (10001, "12.50")
    assert (result["cardBrand"], result["last4"]) == ("MASTERCARD", "4444")
    assert voided["transactionId"] == 10001
    assert voided["status"] == "VOID"
    assert voided["vault"]["lastFour"] == "4444"


CHECKS: dict[str, Callable[[list[Any]], None]] = {
    "tecalis": check_tecalis,
    "cardapi": check_cardapi,
    "kinetic": check_kinetic,
    "komoju": check_komoju,
    "payjunction": check_payjunction,
}


def test_every_bash_block_is_a_checked_session() -> None:
    blocks = bash_blocks()
    for block in blocks:
        assert block.startswith(SIM_LINE + "\n"), block.splitlines()[0]
        assert "jq" not in block
    assert sorted(service_of(b) for b in blocks) == sorted(CHECKS)


@pytest.mark.parametrize("service", SERVICES)
async def test_the_documented_curl_session_runs(service: str) -> None:
    CHECKS[service](await run_session(session_for(service)))
