"""The crash matrix: a real kiosk process SIGKILLed at every journal state of a journey,
restarted, recovered, and checked to end in a defined state with exact reconciliation.

How one case runs
-----------------
The simulators run in this process on a loopback port (:func:`build_simulators`;
their clock runs at real speed, so rate limits and polls behave, and no device
timer is short enough to fire within a case), so they outlive the kiosk: the
Tecalis session stays open, a note stays in escrow, a terminal keeps its
payment. The kiosk is ``tests/recovery/crash_child.py``: a process of its own
(forked by its fork server, ``crash_child.serve``) that opens the devices and
the journal on a fresh state directory, runs the real flow and plays the
customer. A first run without a crash enumerates the journey's crash points:

- right after each journal write (``after`` points): the kiosk SIGKILLs itself
  once the N-th write committed, before the flow sees its result (what it was
  about to send is not sent);
- right before each write that records an outcome (``before`` points: an
  effect's end, a payment's progress or result): the kiosk SIGKILLs itself
  with the request sent and answered, or the note stacked, and nothing of it
  journalled (an intent without an outcome);
- each customer moment (``moment`` points: the bill reader open and ready for
  a note, the card terminal showing the amount), between two writes: the kiosk
  says where it is and waits, and this process SIGKILLs it from outside. Each
  moment runs twice: the customer walks away, or does it anyway (inserts the
  note, pays on the terminal) with nobody alive to see it. A write point that
  leaves the terminal waiting for the card runs a second time likewise.

After the death a restarted kiosk (fresh devices from the same config, the
same journal file and session token) runs ``recover_all`` here, then the case
is checked (:func:`check_case`):

- no sale left open, every sale final, no effect pending; a payment, debit,
  dispense or compensation whose outcome is unknown is an open incident;
- per sale and overall: taken = delivered + compensated + flagged, exactly;
  money flagged (or a sale ``flagged``) has an open incident for staff;
- the bill reader's cash box equals the journal's, note by note, and no note
  is left in escrow; no card is left in the dispenser's reader position, and
  the cards handed out are those the journal delivered;
- CardAPI debited at most once per ticket, and exactly what the journal says;
- the card terminal keeps exactly the card money the journal kept (a voucher
  refund is paid out by staff, not at the terminal), or an incident covers it,
  and it is not left busy;
- a second ``recover_all`` changes nothing, in the journal or on the devices,
  and the next customer's kiosk session opens.

Coverage: every crash point of the cash journey, of each card provider's
journey (tpv, kinetic, komoju; payjunction in US dollars, on a product that
hands out no card, since the CardAPI simulator's blank cards are euro passes),
of a mixed one (a note, then the card for the rest) and of a cashback one (the
customer's card debited, a new card dispensed): see ``crash_child.JOURNEYS``.
The whole matrix runs in the suite (well under two minutes on two cores);
``bench/crash_matrix.py`` runs it standalone, repeatedly, with a table. The
test prints one line::

    CRASH MATRIX points=<crash points run> paths=<journeys> defined=<points defined>
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, suppress
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import pytest

from kioskapp.app import open_devices
from kioskapp.core.clock import ControlledClock, SystemClock
from kioskapp.core.journal import Journal, JournalDB
from kioskapp.core.money import Money
from kioskapp.core.recovery import RecoveryReport, RecoveryServices, recover_all
from kioskapp.devices.errors import ServiceError
from kioskapp.simulator.control import SimControl
from kioskapp.simulator.framework import SimServer, build_simulators
from tests.recovery.crash_child import (
    JOURNEYS,
    Journey,
    pay_on_terminal,
    read_config,
    shared_tls_context,
    write_config,
)

ROOT = Path(__file__).resolve().parents[2]
SIM_EPOCH = 1_800_000_000.0
#: Real seconds one kiosk life, or one recovery, may take; safety nets (each takes well
#: under a second).
CHILD_S = 60.0
RECOVERY_S = 60.0

FINAL_STATUSES = frozenset({"completed", "cancelled", "compensated", "flagged"})
#: Incidents that ask staff to decide (a refund voucher issued is information only).
UNDECIDED = frozenset(
    {
        "payment_unknown",
        "note_uncertain",
        "compensation_failed",
        "compensation_unknown",
        "debit_unknown",
        "dispense_unknown",
        "cashback_not_delivered",
        "recovery_failed",
        "sale_unfinished",
    }
)
#: An effect whose outcome stays unknown needs this incident on its sale (printer and
#: discard effects move no money: an unknown print is not an incident).
UNKNOWN_EFFECT_INCIDENT = {
    "cardapi.debit": "debit_unknown",
    "dispenser.dispense": "dispense_unknown",
    "payment.compensate": "compensation_unknown",
}
#: Compensations the provider pays back itself (a voucher is paid out by staff).
PROVIDER_REFUNDS = frozenset({"reversed", "voided", "refunded"})

Kind = Literal["after", "before", "moment"]
#: Writes that record what a device or provider did since the previous write: dying just
#: before one leaves that done and not journalled (a state of its own). A payment record
#: without a reference is journalled before its method sends anything: dying before it is
#: dying after the previous write.
OUTCOME_WRITES = ("end_effect", "save_payment", "finish_payment")
BEFORE_NOTHING = "noref"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- one case -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """A crash point: right after or right before the n-th journal write, or at the n-th
    customer moment."""

    kind: Kind
    n: int

    def __str__(self) -> str:
        return f"moment {self.n}" if self.kind == "moment" else f"{self.kind} write {self.n}"


@dataclass(frozen=True)
class Enumeration:
    """A journey's crash points, from its clean run."""

    writes: tuple[str, ...]  # the label of each journal write, in order
    moments: tuple[str, ...]  # the customer's moments, in order

    def points(self) -> list[Point]:
        """After each write; before each write that records an outcome; each moment."""
        return [
            *(Point("after", n) for n in range(1, len(self.writes) + 1)),
            *(Point("before", n) for n, label in enumerate(self.writes, 1)
              if label.startswith(OUTCOME_WRITES) and not label.endswith(BEFORE_NOTHING)),
            *(Point("moment", n) for n in range(1, len(self.moments) + 1)),
        ]  # fmt: skip

    def label(self, point: Point) -> str | None:
        labels = self.moments if point.kind == "moment" else self.writes
        return labels[point.n - 1] if 0 < point.n <= len(labels) else None


@dataclass
class Life:
    """What one kiosk process did before it ended."""

    writes: list[str]  # the label of each write it committed, in order
    moments: list[str]  # the customer moments it reached, in order
    died_at: str | None  # where it was SIGKILLed (None: it was not)
    exit: str  # "signal 9", "code 0", ...
    log: Path


@dataclass
class Case:
    journey: str
    point: Point | None  # None: the clean run
    died_at: str | None  # the write (or moment) the kiosk died right after (or at)
    exit: str
    expected: str | None = None  # the clean run's label of that point
    waiting: bool = False  # the card terminal was waiting for the card when it died
    late: bool = False  # ...or the customer's moment: they did it anyway, after the death
    sale_state: str | None = None  # the sale's journal state and status when it died
    sale_status: str | None = None
    pending: tuple[str, ...] = ()  # effects without an outcome when it died
    outcome: str = ""  # what recovery made of it: statuses and incidents
    seconds: float = 0.0  # real time of the case (kiosk life, recovery, checks)
    problems: list[str] = field(default_factory=list)

    @property
    def died(self) -> bool:
        return self.died_at is not None

    @property
    def defined(self) -> bool:
        return not self.problems

    def describe(self) -> str:
        where = "clean run" if self.point is None else str(self.point)
        if self.point is not None and self.died_at != self.expected:
            where += f" (the clean run's {self.point} was [{self.expected}])"
        if self.late:
            where += ", the customer acted on the device after the death"
        when = "the end" if self.point is None else "the crash"
        text = (
            f"{self.journey} {where} [{self.died_at or 'no crash'}] exit {self.exit}; "
            f"journal at {when}: sale state={self.sale_state} status={self.sale_status} "
            f"pending={list(self.pending)}; recovery: {self.outcome}"
        )
        if self.problems:
            text += "\n    - " + "\n    - ".join(self.problems)
        return text


class ForkServer:
    """``python -m tests.recovery.crash_child --serve``: kiosk processes on request."""

    def __init__(self) -> None:
        self.proc: asyncio.subprocess.Process | None = None
        self.child: int | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.recovery.crash_child", "--serve",
            cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip

    async def life(self, config: Path, journey: str, sim: str, point: Point | None) -> Life:
        """One kiosk process, to its end: its own SIGKILL after a write, ours at a moment
        (sent as soon as it says it holds there), or the journey's end."""
        proc = self.proc
        assert proc is not None
        assert proc.stdin is not None
        assert proc.stdout is not None
        log = config.parent / "kiosk.log"
        request = {
            "config": str(config), "journey": journey, "sim": sim, "log": str(log),
            "crash_at": point.n if point is not None and point.kind == "after" else None,
            "crash_before": point.n if point is not None and point.kind == "before" else None,
            "hold_at": point.n if point is not None and point.kind == "moment" else None,
        }  # fmt: skip
        proc.stdin.write((json.dumps(request) + "\n").encode())
        await proc.stdin.drain()
        writes: list[str] = []
        moments: list[str] = []
        died_at: str | None = None
        try:
            async with asyncio.timeout(CHILD_S):
                while True:
                    raw = await proc.stdout.readline()
                    if not raw:
                        raise RuntimeError(f"the fork server ended; see {log}")
                    word, _, rest = raw.decode().rstrip("\n").partition(" ")
                    label = rest.partition(" ")[2]
                    if word == "PID":
                        self.child = int(rest)
                    elif word in ("WRITE", "POINT"):
                        writes.append(label)
                        if word == "POINT":
                            died_at = label
                    elif word == "BEFORE":
                        died_at = label
                    elif word in ("MOMENT", "HOLD"):
                        moments.append(label)
                        if word == "HOLD":
                            died_at = label
                            self.kill_child()  # from outside, right there
                    elif word == "EXIT":
                        self.child = None
                        return Life(writes, moments, died_at, rest, log)
        except TimeoutError:
            self.kill_child()
            raise RuntimeError(f"{journey} {point}: no end in {CHILD_S} s; see {log}") from None

    def kill_child(self) -> None:
        if self.child is not None:
            with suppress(ProcessLookupError):
                os.kill(self.child, signal.SIGKILL)
            self.child = None

    async def aclose(self) -> None:
        self.kill_child()
        proc = self.proc
        if proc is None:
            return
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            async with asyncio.timeout(CHILD_S):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()


# -- what the journal and the devices hold ------------------------------------------------------


def journal_facts(db: JournalDB, currency: str) -> dict[str, Any]:
    """Everything the journal holds (runs on the journal thread)."""
    sales = db.sales(limit=100_000)
    return {
        "sales": sales,
        "effects": {s.sale_id: db.effects(s.sale_id) for s in sales},
        "payments": {s.sale_id: db.payments(s.sale_id) for s in sales},
        "incidents": db.incidents(limit=100_000),
        "audit": db.audit(limit=100_000),
        "cash_box": db.cash_box(currency),
        "reconciliation": db.reconciliation(currency),
    }


def terminal_kept(sim: SimServer, provider: str, currency: str) -> int:
    """Card money the provider's simulator shows as taken and not given back (minor units)."""
    if provider == "tpv":
        # The PIN pad keeps only its last payment: add up the results it announced.
        return sum(
            Money.from_major(r.payload["amount"], currency).minor
            for r in sim.callbacks.records()
            if r.service == "tecalis"
            and r.event == "tpv.result"
            and r.payload.get("state") == "approved"
        )
    state = sim.services[provider].snapshot()
    if provider == "kinetic":
        return sum(
            int(t["amount"])
            for t in state["transactions"]
            if t["type"] == "sale" and t["result"] == "approved" and not t["is_reversed"]
        )
    if provider == "komoju":
        return sum(
            int(p["amount"]) - int(p["amount_refunded"] or 0)
            for p in state["payments"]
            if p["status"] in ("captured", "refunded")
        )
    return sum(
        Money.from_major(t["amountTotal"], currency).minor
        for t in state["transactions"]
        if t["status"] == "CAPTURE"
    )


def terminal_busy(sim: SimServer, provider: str) -> str | None:
    """What the card terminal is still doing for a customer who has left (None: free)."""
    if provider == "tpv":
        state = sim.services["tecalis"].snapshot()["tpv"]["state"]
        return f"PIN pad {state}" if state in ("waiting_card", "pin", "processing") else None
    snap = sim.services[provider].snapshot()
    if provider == "kinetic":
        return None if snap["current"] is None else f"transaction {snap['current']} active"
    if provider == "komoju":
        busy = [t["phase"] for t in snap["terminals"] if t["phase"] != "idle"]
        return f"terminal {busy}" if busy else None
    current = snap["terminal"]["current"]
    return None if current is None else f"request {current} running"


def terminal_waiting(sim: SimServer, provider: str) -> bool:
    """Is the card terminal showing the amount, waiting for the customer's card?"""
    if provider == "tpv":
        return bool(sim.services["tecalis"].snapshot()["tpv"]["state"] == "waiting_card")
    snap = sim.services[provider].snapshot()
    if provider == "kinetic":
        return snap["current"] is not None
    if provider == "komoju":
        return any(t["phase"] == "waiting" for t in snap["terminals"])
    current = snap["terminal"]["current"]
    return any(r["requestId"] == current and r["stage"] == "waiting" for r in snap["requests"])


def device_facts(sim: SimServer, journey: Journey) -> dict[str, Any]:
    """What the simulators hold that money or cards depend on."""
    tecalis = sim.services["tecalis"].snapshot()
    cardapi = sim.services["cardapi"].snapshot()
    return {
        "cash_box": tecalis["cash_box"]["by_denomination"],
        "escrow": tecalis["bill_reader"]["escrow"],
        "card_position": tecalis["dispenser"]["card_position"],
        "dispensed": tecalis["dispenser"]["dispensed"],
        "discarded": tecalis["dispenser"]["discarded"],
        "printed": len(tecalis["printer"]["printed"]),
        "tpv": tecalis["tpv"]["state"],
        "ledger": cardapi["ledger"],
        "terminal_kept": terminal_kept(sim, journey.provider, journey.currency),
        "terminal_busy": terminal_busy(sim, journey.provider),
    }


# -- the checks -----------------------------------------------------------------------------------


def check_case(journal: Mapping[str, Any], devices: Mapping[str, Any], journey: Journey
               ) -> list[str]:  # fmt: skip
    """Everything that makes the end state defined; each problem as one line."""
    problems: list[str] = []
    cur = journey.currency
    incidents = journal["incidents"]

    def incident_kinds(sale_id: str) -> set[str]:
        """The kinds of the sale's open incidents."""
        return {i.kind for i in incidents if i.sale_id == sale_id and i.status == "open"}

    delivered_cards = 0
    dispense_doubt = False
    for sale in journal["sales"]:
        sid = sale.sale_id
        effects = journal["effects"][sid]
        payments = journal["payments"][sid]
        kinds = incident_kinds(sid)
        if sale.status not in FINAL_STATUSES:
            problems.append(f"sale {sid} left {sale.status!r} (state {sale.state})")
        data = sale.data
        missing = [k for k in ("delivered_minor", "compensated_minor", "flagged_minor")
                   if k not in data]  # fmt: skip
        if missing:
            problems.append(f"sale {sid} ({sale.status}) has no {', '.join(missing)}")
        taken = sum(p.taken.minor for p in payments)
        accounted = sum(int(data.get(k, 0)) for k in
                        ("delivered_minor", "compensated_minor", "flagged_minor"))  # fmt: skip
        if taken != accounted:
            problems.append(f"sale {sid}: taken {taken} != delivered + compensated + flagged "
                            f"{accounted} ({data})")  # fmt: skip
        if sale.status == "completed" and int(data.get("delivered_minor", 0)) != taken - int(
            data.get("compensated_minor", 0)
        ):
            problems.append(f"sale {sid} completed but delivered {data.get('delivered_minor')} "
                            f"of {taken} taken")  # fmt: skip
        if (int(data.get("flagged_minor", 0)) > 0 or sale.status == "flagged") and not (
            kinds & UNDECIDED
        ):
            problems.append(f"sale {sid} ({sale.status}) flags {data.get('flagged_minor')} "
                            "with no open incident for staff")  # fmt: skip
        for e in effects:
            if e.status == "pending":
                problems.append(f"sale {sid}: effect {e.kind} left pending")
            needed = UNKNOWN_EFFECT_INCIDENT.get(e.kind)
            if e.status == "unknown" and needed is not None and needed not in kinds:
                problems.append(f"sale {sid}: {e.kind} unknown without a {needed} incident")
        for p in payments:
            if p.outcome is None:
                problems.append(f"sale {sid}: {p.method} payment {p.attempt} has no outcome")
            elif p.outcome == "unknown":
                covered = {
                    i.kind for i in incidents
                    if i.sale_id == sid and i.status == "open"
                    and i.details.get("payment_key") == p.key
                }  # fmt: skip
                if not covered & {"payment_unknown", "note_uncertain"}:
                    problems.append(f"sale {sid}: {p.method} payment {p.attempt} unknown "
                                    "without an incident")  # fmt: skip
        dispenses = [e for e in effects if e.kind == "dispenser.dispense"]
        if any(e.status == "done" for e in dispenses):
            delivered_cards += 1
        if any(e.status == "unknown" for e in dispenses):
            dispense_doubt = True
        if (
            journey.dispenses_card
            and sale.status == "completed"
            and not any(e.status == "done" for e in dispenses)
        ):
            problems.append(f"sale {sid} completed but its card was never handed out")
    for i in incidents:
        if i.kind == "recovery_failed":
            problems.append(f"recovery failed on sale {i.sale_id}: {i.summary}")

    rec = journal["reconciliation"]
    if rec.open_sales or not rec.balanced:
        problems.append(f"reconciliation: {rec}")

    # Cash: the bill reader's box, note by note, is the journal's; no note left in escrow.
    sim_box = {
        Money.from_major(Decimal(str(d)), cur).minor: int(n)
        for d, n in devices["cash_box"].items() if int(n)
    }  # fmt: skip
    journal_box = {k: v for k, v in journal["cash_box"].by_note.items() if v}
    if sim_box != journal_box:
        problems.append(f"cash box: bill reader {sim_box} != journal {journal_box}")
    if devices["escrow"] is not None:
        problems.append(f"a note is left in escrow: {devices['escrow']}")

    # Cards: none left staged; handed out = delivered by the journal (or in doubt, flagged).
    if devices["card_position"] == "reader":
        problems.append("a card is left in the dispenser's reader position")
    dispensed = len(devices["dispensed"])
    if dispensed != delivered_cards and not (dispense_doubt and dispensed == delivered_cards + 1):
        problems.append(f"{dispensed} card(s) handed out, the journal delivered {delivered_cards}")

    # CardAPI: at most one debit per ticket, and the journal knows each one.
    tickets = Counter(d["ticket_id"] for d in devices["ledger"])
    for ticket, n in tickets.items():
        if n > 1:
            problems.append(f"CardAPI debited ticket {ticket} {n} times")
    for sale in journal["sales"]:
        debits = [e for e in journal["effects"][sale.sale_id] if e.kind == "cardapi.debit"]
        in_ledger = tickets.get(sale.sale_id, 0) > 0
        done = any(e.status == "done" for e in debits)
        doubt = "debit_unknown" in incident_kinds(sale.sale_id)
        if in_ledger != done and not doubt:
            problems.append(f"sale {sale.sale_id}: CardAPI {'has' if in_ledger else 'has no'} "
                            f"the debit, the journal says {[e.status for e in debits]}")  # fmt: skip
    for entry in devices["ledger"]:
        if entry["ticket_id"] not in {s.sale_id for s in journal["sales"]}:
            problems.append(f"CardAPI debit for unknown ticket {entry['ticket_id']}")

    # Card money: the terminal keeps what the journal kept, or an incident covers the rest.
    kept = 0
    doubt_minor = 0
    for sale in journal["sales"]:
        for p in journal["payments"][sale.sale_id]:
            if p.method == "cash":
                continue
            kept += p.taken.minor
            if p.compensation in PROVIDER_REFUNDS:
                kept -= p.compensated.minor
        for i in incidents:
            if i.sale_id == sale.sale_id and i.status == "open" and i.kind in (
                "payment_unknown", "compensation_unknown", "compensation_failed"
            ):  # fmt: skip
                doubt_minor += i.amount.minor if i.amount is not None else 0
    if devices["terminal_busy"] is not None:
        problems.append(
            f"{journey.provider}: still busy after recovery ({devices['terminal_busy']})"
        )
    gap = devices["terminal_kept"] - kept
    if gap != 0 and not (0 < gap <= doubt_minor):
        problems.append(f"{journey.provider}: the terminal keeps {devices['terminal_kept']}, the "
                        f"journal kept {kept} (incidents cover {doubt_minor})")  # fmt: skip
    return problems


def outcome_of(journal: Mapping[str, Any], report: RecoveryReport) -> str:
    sales = ", ".join(f"{s.status}" for s in journal["sales"]) or "no sale"
    kinds = sorted({i.kind for i in journal["incidents"]})
    decided = ",".join(o.decision for o in report.sales) or "nothing to do"
    return f"{sales} (recovery: {decided}; incidents: {','.join(kinds) or 'none'})"


# -- the matrix -----------------------------------------------------------------------------------


@dataclass
class MatrixReport:
    cases: list[Case]
    enumerated: dict[str, Enumeration]  # each journey's crash points

    @property
    def crashes(self) -> list[Case]:
        return [c for c in self.cases if c.point is not None]

    def _points(
        self, cases: Iterable[Case]
    ) -> tuple[set[tuple[str, Point]], set[tuple[str, Point]]]:
        """(points the kiosk died at, points with a case not defined)."""
        run: set[tuple[str, Point]] = set()
        bad: set[tuple[str, Point]] = set()
        for c in cases:
            assert c.point is not None
            if c.died:
                run.add((c.journey, c.point))
            if not (c.died and c.defined):
                bad.add((c.journey, c.point))
        return run, bad

    @property
    def points(self) -> int:
        """Crash points run: the kiosk died right after that write, or at that moment."""
        return len(self._points(self.crashes)[0])

    @property
    def defined(self) -> int:
        """Crash points whose every case (the customer gone, or acting late) ended defined."""
        run, bad = self._points(self.crashes)
        return len(run - bad)

    @property
    def late(self) -> int:
        """Cases where the customer acted on a device after the kiosk died."""
        return sum(1 for c in self.crashes if c.late)

    @property
    def problems(self) -> list[Case]:
        return [c for c in self.cases if not c.defined]

    def line(self) -> str:
        return (f"CRASH MATRIX points={self.points} paths={len(self.enumerated)} "
                f"defined={self.defined}")  # fmt: skip

    def table(self) -> str:
        """Per journey: points run of points enumerated (writes + moments), defined, the
        late cases, real time, and what recovery made of them."""
        rows = []
        for name, kinds in self.enumerated.items():
            cases = [c for c in self.crashes if c.journey == name]
            run, bad = self._points(cases)
            total = len(kinds.points())
            befores = sum(p.kind == "before" for p in kinds.points())
            ends = Counter(c.outcome.split(" (")[0] for c in cases if c.died)
            seconds = sum(c.seconds for c in self.cases if c.journey == name)
            rows.append(
                f"  {name:<17} points {len(run):>3}/{total:<3} "
                f"(after {len(kinds.writes)}, before {befores}, moments {len(kinds.moments)})  "
                f"defined {len(run - bad):>3}  late {sum(c.late for c in cases)}  "
                f"{seconds:5.1f} s  " + ", ".join(f"{k}: {v}" for k, v in sorted(ends.items()))
            )
        return "\n".join(rows)


class CrashMatrix:
    """The simulators, the fork server, and a scratch directory for the kiosks' state."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.clock = ControlledClock(start=SIM_EPOCH, speed=1.0)
        self.sim = build_simulators(self.clock)
        self._control: SimControl | None = None
        self.server = ForkServer()
        self.cases: list[Case] = []
        self.enumerated: dict[str, Enumeration] = {}

    async def start(self) -> None:
        await self.sim.start()
        self._control = SimControl(self.sim.base_url)
        await self.server.start()

    async def aclose(self) -> None:
        try:
            await self.server.aclose()
        finally:
            if self._control is not None:
                await self._control.aclose()
            await self.sim.stop()
            await self.clock.aclose()

    @property
    def control(self) -> SimControl:
        assert self._control is not None
        return self._control

    def report(self) -> MatrixReport:
        return MatrixReport(list(self.cases), dict(self.enumerated))

    async def enumerate(self, name: str) -> Enumeration:
        """The journey's crash points, from a run without a crash (itself a case)."""
        case = await self.case(name, None)
        if case.exit != "code 0" or not case.defined:
            raise RuntimeError(f"the clean {name} journey failed:\n{case.describe()}")
        return self.enumerated[name]

    async def case(
        self, name: str, point: Point | None, *, late: bool = False, recover: bool = True
    ) -> Case:
        """Run the journey, killed at ``point`` (None: not killed), then recover and check.
        ``late``: the customer does what they were about to at that moment, or pays on the
        terminal left waiting for the card, after the death. ``recover=False``: check the
        state the dead kiosk left, without recovery."""
        journey = JOURNEYS[name]
        started = time.monotonic()
        await self.control.reset()
        tag = "clean" if point is None else f"{point.kind}-{point.n:03d}{'-late' * late}"
        state = self.root / f"{name}-{tag}"
        shutil.rmtree(state, ignore_errors=True)
        config_path = write_config(journey, self.sim.base_url, state, free_port())
        life = await self.server.life(config_path, name, self.sim.base_url, point)
        case = Case(name, point, life.died_at, life.exit)
        if point is None:
            self.enumerated[name] = Enumeration(tuple(life.writes), tuple(life.moments))
        elif name in self.enumerated:
            case.expected = self.enumerated[name].label(point)
        expected_exit = "signal 9" if life.died_at is not None else "code 0"
        if life.exit != expected_exit:
            tail = life.log.read_text(errors="replace")[-2000:]
            case.problems.append(
                f"the kiosk ended with {life.exit}, expected {expected_exit}:\n{tail}"
            )
        case.waiting = case.died and terminal_waiting(self.sim, journey.provider)
        if late and case.died:
            case.late = await self._customer_acts(journey, point, case)
        self._at_crash(case, config_path)
        await self._recover(case, journey, config_path, recover=recover)
        case.seconds = time.monotonic() - started
        self.cases.append(case)
        return case

    async def _customer_acts(self, journey: Journey, point: Point | None, case: Case) -> bool:
        """What the customer was about to do, done with the kiosk dead. False: nothing to do."""
        if point is not None and point.kind == "moment" and case.died_at is not None:
            what = case.died_at.split()
            if what[0] == "insert":
                await self.control.insert_note(int(what[1]))
                return True
        if case.waiting:
            await pay_on_terminal(self.control, journey.provider)
            return True
        return False

    def _at_crash(self, case: Case, config_path: Path) -> None:
        """The journal as the dead kiosk left it (for the report)."""
        path = read_config(config_path).journal.path
        db = JournalDB(path, clock=SystemClock())
        try:
            sales = db.sales(limit=10)
            if sales:
                case.sale_state, case.sale_status = sales[0].state, sales[0].status
                case.pending = tuple(e.kind for e in db.effects(sales[0].sale_id)
                                     if e.status == "pending")  # fmt: skip
        finally:
            db.close()

    async def _recover(
        self, case: Case, journey: Journey, config_path: Path, *, recover: bool
    ) -> None:
        """The restarted kiosk: fresh devices, the same journal; recover twice."""
        config = read_config(config_path, listen_port=free_port())
        clock = SystemClock()
        async with AsyncExitStack() as stack:
            devices = await open_devices(config, clock=clock)
            stack.push_async_callback(devices.aclose)
            journal = Journal(config.journal.path, clock=clock)
            stack.push_async_callback(journal.aclose)
            services = RecoveryServices.from_devices(devices, journal, clock=clock)
            report = RecoveryReport()
            try:
                if recover:
                    async with asyncio.timeout(RECOVERY_S):
                        report = await recover_all(services)
            except TimeoutError:
                case.problems.append(f"recover_all did not end within {RECOVERY_S:.0f} s")
                return
            except Exception as exc:  # noqa: BLE001 - recovery crashing is a finding
                case.problems.append(f"recover_all raised {type(exc).__name__}: {exc}")
                return
            facts = await journal.call(journal_facts, journal.db, journey.currency)
            world = device_facts(self.sim, journey)
            case.outcome = outcome_of(facts, report)
            case.problems.extend(check_case(facts, world, journey))
            if not recover:
                return
            async with asyncio.timeout(RECOVERY_S):
                again = await recover_all(services)
            if again.changed:
                case.problems.append(f"a second recover_all changed something: {again}")
            if await journal.call(journal_facts, journal.db, journey.currency) != facts:
                case.problems.append("a second recover_all changed the journal")
            if device_facts(self.sim, journey) != world:
                case.problems.append("a second recover_all changed the devices")
            try:  # the next customer's session can open: nothing left blocks the kiosk
                await devices.tecalis.start_session()
                await devices.tecalis.close_session()
            except ServiceError as exc:
                case.problems.append(f"no new kiosk session after recovery: {exc}")


@asynccontextmanager
async def crash_matrix(root: Path) -> AsyncIterator[CrashMatrix]:
    matrix = CrashMatrix(root)
    try:
        await matrix.start()
        yield matrix
    finally:
        await matrix.aclose()


PointPlan = Callable[[str, Enumeration], list[Point]]


def every_point(name: str, enumerated: Enumeration) -> list[Point]:
    """Every crash point of the journey's clean run."""
    return enumerated.points()


#: Kiosks crashed at once: two cores, each lane a simulator server and a fork server of
#: its own, taking the next journey when it is free.
LANES = 2


async def run_matrix(
    root: Path, journeys: Iterable[str], points: PointPlan = every_point, lanes: int = LANES
) -> MatrixReport:
    """Enumerate each journey with a clean run, then crash it at the ``points`` chosen. A
    moment runs twice (the customer walks away / acts anyway), and so does a write that
    left the card terminal waiting for the card (the customer walks away / pays on it)."""
    names = list(journeys)
    todo = list(names)
    reports: list[MatrixReport] = []

    async def lane(number: int) -> None:
        async with crash_matrix(root / f"lane-{number}") as matrix:
            while todo:
                name = todo.pop(0)
                enumerated = await matrix.enumerate(name)
                for point in points(name, enumerated):
                    case = await matrix.case(name, point)
                    if point.kind == "moment" or case.waiting:
                        await matrix.case(name, point, late=True)
            reports.append(matrix.report())

    with shared_tls_context():
        async with asyncio.TaskGroup() as group:
            for number in range(max(1, min(lanes, len(names)))):
                group.create_task(lane(number), name=f"crash-matrix-lane-{number}")
    cases = [c for r in reports for c in r.cases]
    enumerated = {k: v for r in reports for k, v in r.enumerated.items()}
    return MatrixReport(
        sorted(cases, key=lambda c: names.index(c.journey)),  # stable: each lane's order
        {name: enumerated[name] for name in names if name in enumerated},
    )


# -- the tests ------------------------------------------------------------------------------------


@pytest.mark.slow
async def test_every_crash_point_ends_defined_and_reconciled(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = await run_matrix(tmp_path, list(JOURNEYS))
    line = report.line()
    with capsys.disabled():  # the coverage line shows in every run of the suite
        print(f"\n{line}\n{report.table()}")
    bad = "\n".join(c.describe() for c in report.problems)
    assert not report.problems, f"{line}\n{bad}"
    assert set(report.enumerated) == set(JOURNEYS), line
    total = 0
    for name, enumerated in report.enumerated.items():
        run = [c.point for c in report.crashes if c.journey == name and not c.late]
        assert run == every_point(name, enumerated), line
        assert len(enumerated.writes) >= 10, f"{name}: only {enumerated.writes}?"
        total += len(run)
    # Each journey with cash or a terminal taking the card has its customer moments.
    assert all(report.enumerated[name].moments for name in ("cash", "card-tpv", "mixed")), line
    # The kiosk really died (SIGKILL) at each point, the one the clean run made there.
    assert all(c.exit == "signal 9" and c.died_at == c.expected for c in report.crashes), line
    assert report.points == report.defined == total, line
    assert report.late > 0, line


async def test_the_checks_see_a_crash_nobody_recovered(tmp_path: Path) -> None:
    """The same checks on a dead kiosk's state without recovery: a note stacked, the sale
    open, the card staged. They must find it undefined (so the matrix can fail)."""
    with shared_tls_context():
        async with crash_matrix(tmp_path) as matrix:
            writes = (await matrix.enumerate("cash")).writes
            stacked = next(n for n, w in enumerate(writes, 1)
                           if w.startswith("save_payment cash taken=1000 "))  # fmt: skip
            case = await matrix.case("cash", Point("after", stacked), recover=False)
    assert case.died
    assert case.exit == "signal 9"
    found = "\n".join(case.problems)
    assert "left 'open'" in found, found
    assert "taken 1000 != delivered + compensated + flagged 0" in found, found
    assert "reconciliation" in found, found
    assert "a card is left in the dispenser's reader position" in found, found
