"""A kiosk that crashes: the real flow on the simulators, stopped dead at a chosen journal
write, then restarted on fresh devices over the same journal file for recovery to run.

The crash instant is a journal call: ``crash_after(match)`` lets the matching write
commit and then nothing else reaches the journal; ``crash_before(match)`` stops at the
matching write without committing it. The flow and its payment are then cancelled
without cleanup and the Tecalis client detached (its session stays open on the
device), as a killed process leaves them.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest_asyncio

from kioskapp.app import Devices, open_devices
from kioskapp.config import Config
from kioskapp.core.clock import ControlledClock
from kioskapp.core.flow import (
    ChooseProduct,
    EnterCardNumber,
    Flow,
    FlowServices,
    FlowSettings,
    FlowSnapshot,
    PayWith,
    SkipCard,
    Start,
    State,
    UseCashback,
)
from kioskapp.core.journal import Journal, JournalDB, SaleRow
from kioskapp.core.money import Money
from kioskapp.core.recovery import RecoveryPolicy, RecoveryReport, RecoveryServices, recover_all
from kioskapp.simulator.control import SimControl
from kioskapp.simulator.framework import SimServer
from tests.flow.conftest import WAIT_S, Watcher, config_for

Match = Callable[[str, tuple[Any, ...], dict[str, Any]], bool]

#: The customer's cashback card in the CardAPI simulator (balance 6.54 EUR).
CUSTOMER_CARD = "7001000000654"


def eur(major: int | str) -> Money:
    return Money.from_major(str(major), "EUR")


class CrashableJournal(Journal):
    """The dying process's journal: after the crash instant, no call ever returns."""

    def __init__(self, path: Path, *, clock: ControlledClock) -> None:
        super().__init__(path, clock=clock)
        self.crashed = asyncio.Event()
        self._after: Match | None = None
        self._before: Match | None = None
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any], Any]] = []

    def crash_after(self, match: Match) -> None:
        self._after = match

    def crash_before(self, match: Match) -> None:
        self._before = match

    def effect_id(self, kind: str) -> int | None:
        """The id ``begin_effect`` gave the last effect of ``kind`` (for matches)."""
        ids = [r for n, a, _, r in self.calls if n == "begin_effect" and a[1] == kind]
        return ids[-1] if ids else None

    async def _die(self) -> Any:
        self.crashed.set()
        await asyncio.get_running_loop().create_future()  # never resolved: the process is gone

    async def call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(fn, "__name__", "")
        if self.crashed.is_set() or (self._before is not None and self._before(name, args, kwargs)):
            return await self._die()
        result = await super().call(fn, *args, **kwargs)
        self.calls.append((name, args, kwargs, result))
        if self._after is not None and self._after(name, args, kwargs):
            return await self._die()
        return result

    async def close_dead(self) -> None:
        await super().call(self.db.close)
        self._executor.shutdown(wait=True)


def ANY(value: object) -> bool:
    """Matches any argument."""
    return True


def write(name: str, *args: Any, **kwargs: Any) -> Match:
    """A journal call ``name`` whose leading positional args and given kwargs match
    (a callable value is a test on that argument)."""

    def same(expected: Any, actual: Any) -> bool:
        return bool(expected(actual)) if callable(expected) else expected == actual

    def match(n: str, a: tuple[Any, ...], k: dict[str, Any]) -> bool:
        if n != name or len(a) < len(args):
            return False
        if not all(same(e, v) for e, v in zip(args, a, strict=False)):
            return False
        return all(key in k and same(e, k[key]) for key, e in kwargs.items())

    return match


async def _kill(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` until it is gone (a frozen journal may hold it in a finally)."""
    for _ in range(20):
        if task.done():
            break
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    assert task.done(), f"{task.get_name()} would not die"
    if not task.cancelled():
        task.exception()  # retrieved: whatever it died of is the crash


def dump(db: JournalDB) -> dict[str, Any]:
    """Everything the journal holds, through its public queries."""
    sales = db.sales(limit=100_000)
    return {
        "sales": sales,
        "effects": {s.sale_id: db.effects(s.sale_id) for s in sales},
        "payments": {s.sale_id: db.payments(s.sale_id) for s in sales},
        "incidents": db.incidents(limit=100_000),
        "audit": db.audit(limit=100_000),
        "cash_box": db.cash_box("EUR"),
    }


def closed_and_balanced(kiosk: CrashKiosk, sale_id: str, status: str) -> SaleRow:
    """The sale ended ``status``, nothing is open or pending, and the money adds up."""
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert sale.status == status
    assert kiosk.db.unfinished_sales() == []
    assert all(e.status != "pending" for e in kiosk.db.effects(sale_id))
    taken = sum(p.taken.minor for p in kiosk.db.payments(sale_id))
    data = sale.data
    assert taken == data["delivered_minor"] + data["compensated_minor"] + data["flagged_minor"]
    rec = kiosk.db.reconciliation("EUR")
    assert rec.balanced, rec
    assert rec.open_sales == 0
    return sale


async def printed_titles(kiosk: CrashKiosk) -> list[str]:
    """The title of every PDF the printer printed (it names the slip and the sale)."""
    titles = []
    for doc in await kiosk.control.printed():
        pdf = await kiosk.control.printed_pdf(int(doc["index"]))
        assert pdf.startswith(b"%PDF-")
        found = re.search(rb"/Title \((.*?)\) >>", pdf)
        assert found is not None
        titles.append(found.group(1).decode())
    return titles


@dataclass
class CrashKiosk:
    """One kiosk life: the flow until the crash, then recovery on a restarted kiosk."""

    config: Config
    sim: SimServer
    control: SimControl
    clock: ControlledClock
    path: Path
    devices: Devices
    journal: CrashableJournal
    flow: Flow | None = None
    watch: Watcher | None = None
    task: asyncio.Task[None] | None = None
    dead: bool = False
    after: tuple[Devices, Journal] | None = None
    _extra: list[Any] = field(default_factory=list)

    # -- before the crash ------------------------------------------------------------------
    @property
    def db(self) -> JournalDB:
        return self.after[1].db if self.after is not None else self.journal.db

    def start(self, **services: Any) -> tuple[Flow, Watcher]:
        settings = FlowSettings(stop_grace_s=0.0, debit_retry_delay_s=0.0)
        base = FlowServices.from_devices(
            self.devices, self.journal, clock=self.clock, settings=settings
        )
        self.flow = Flow(replace(base, **services))
        self.watch = Watcher(self.flow)
        self.task = asyncio.create_task(self.flow.run(), name="flow-under-test")
        return self.flow, self.watch

    async def choose(self, sku: str, *, card: str | None = None, cashback: bool = False) -> str:
        """From attract to the payment choice for ``sku``; returns the sale id."""
        flow = self.flow
        assert flow is not None
        await self.until(lambda s: s.state is State.ATTRACT, "attract")
        flow.submit(Start())
        await self.until(lambda s: s.state is State.CHOOSING, "choosing")
        flow.submit(ChooseProduct(sku))
        ident = await self.until(lambda s: s.state is State.IDENTIFYING, "identifying")
        assert ident is not None
        assert ident.sale_id is not None
        if card is None:
            flow.submit(SkipCard())
        else:
            flow.submit(EnterCardNumber(card))
            await self.until(lambda s: s.identify_phase == "found", "the card found")
            flow.submit(UseCashback(cashback))
        return ident.sale_id

    async def at_payment_choice(self) -> None:
        await self.until(lambda s: s.state is State.PAYMENT_CHOICE, "the payment choice")

    async def until(self, check: Callable[[FlowSnapshot], bool], what: str) -> FlowSnapshot | None:
        """Wait for a snapshot passing ``check``, or for the crash, whichever comes first:
        once the journal is frozen the flow cannot go on to show it."""
        assert self.watch is not None
        crashed = asyncio.ensure_future(self.journal.crashed.wait())
        seen = asyncio.ensure_future(self.watch.until(check, what))
        try:
            await asyncio.wait({crashed, seen}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in (crashed, seen):
                fut.cancel()
            await asyncio.gather(crashed, seen, return_exceptions=True)
        if seen.done() and not seen.cancelled() and seen.exception() is not None:
            raise seen.exception()  # type: ignore[misc]
        if seen.done() and not seen.cancelled():
            return seen.result()
        # The crash came first: what the customer does next, the app no longer sees.
        return None

    async def pay_cash(self, *notes: int) -> None:
        """Pay cash and insert ``notes``, each waited for until it is taken."""
        flow = self.flow
        assert flow is not None
        await self.at_payment_choice()
        flow.submit(PayWith("cash"))
        await self.until(
            lambda s: (
                s.payment_status is not None and s.payment_status.phase == "waiting_for_customer"
            ),
            "the bill reader is open",
        )
        paid = 0
        for note in notes:
            await self.insert_note(note)
            paid += note
            await self.until(lambda s, p=paid: s.amount_paid == eur(p), f"{paid} paid")

    async def pay_tpv(self, outcome: str | None = "approve") -> None:
        assert self.flow is not None
        await self.at_payment_choice()
        await self.control.tpv_auto(outcome)
        self.flow.submit(PayWith("tpv"))

    async def insert_note(self, major: int) -> None:
        """Insert a note once the bill reader is ready for one."""
        for _ in range(500):
            reader = (await self.control.tecalis_state())["bill_reader"]
            if reader["state"] == "ready" and reader["escrow"] is None:
                break
        else:
            raise AssertionError("the bill reader never became ready")
        await self.control.insert_note(major)

    async def crash(self) -> None:
        """Wait for the crash instant, die as a killed process does, and start again
        (fresh devices over the same journal file; recovery has not run yet)."""
        await asyncio.wait_for(self.journal.crashed.wait(), WAIT_S)
        await self._die()
        await self.restart()

    async def crash_now(self) -> None:
        """Die at once (for journal states written by hand) and start again."""
        await self._die()
        await self.restart()

    async def _die(self) -> None:
        if self.dead:
            return
        self.dead = True
        await self.devices.tecalis.detach()  # no more device traffic; the session stays open
        if self.task is not None:
            await _kill(self.task)
        for task in list(asyncio.all_tasks()):
            if task.get_name().startswith(("payment-", "flow-")):
                await _kill(task)
        if self.watch is not None:
            self.watch.sub.close()
        await self.devices.aclose()
        await self.journal.close_dead()

    # -- after the restart ---------------------------------------------------------------
    async def restart(self) -> tuple[Devices, Journal]:
        assert self.dead, "crash first"
        if self.after is None:
            devices = await open_devices(self.config, clock=self.clock)
            try:
                journal = Journal(self.path, clock=self.clock)
            except BaseException:
                await devices.aclose()
                raise
            self.after = (devices, journal)
        return self.after

    async def recover(
        self, policy: RecoveryPolicy | None = None, **services: Any
    ) -> RecoveryReport:
        devices, journal = await self.restart()
        base = RecoveryServices.from_devices(devices, journal, clock=self.clock, policy=policy)
        return await recover_all(replace(base, **services))

    async def sim_state(self) -> dict[str, Any]:
        return await self.control.tecalis_state()

    async def ledger(self) -> list[dict[str, Any]]:
        answer = await self.control.call("GET", "/cardapi/ledger")
        ledger = answer["ledger"]
        assert isinstance(ledger, list)
        return ledger

    async def world(self) -> dict[str, Any]:
        """The journal and the simulators' money-relevant state, for before/after checks."""
        tecalis = await self.sim_state()
        return {
            "journal": dump(self.db),
            "printed": len(tecalis["printer"]["printed"]),
            "dispensed": tecalis["dispenser"]["dispensed"],
            "discarded": tecalis["dispenser"]["discarded"],
            "card_position": tecalis["dispenser"]["card_position"],
            "tpv": tecalis["tpv"],
            "ledger": await self.ledger(),
        }

    async def recover_again_changes_nothing(self, **services: Any) -> None:
        before = await self.world()
        self.clock.advance(1.0)  # a rewrite would show in updated_at
        report = await self.recover(**services)
        assert not report.changed
        assert await self.world() == before

    async def close(self) -> None:
        try:
            await self._die()
        finally:
            if self.after is not None:
                devices, journal = self.after
                await devices.aclose()
                await journal.aclose()


@pytest_asyncio.fixture
async def kiosk(
    sim: SimServer, sim_control: SimControl, clock: ControlledClock, tmp_path: Path
) -> AsyncIterator[CrashKiosk]:
    """A TPV kiosk on the simulators whose flow can be killed at a journal write."""
    config = config_for(sim, tmp_path, "tpv")
    path = tmp_path / "journal.sqlite3"
    devices = await open_devices(config, clock=clock)
    try:
        journal = CrashableJournal(path, clock=clock)
    except BaseException:
        await devices.aclose()
        raise
    k = CrashKiosk(config, sim, sim_control, clock, path, devices, journal)
    try:
        yield k
    finally:
        await k.close()
