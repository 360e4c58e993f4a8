"""The customer flow as a Hypothesis state machine: customers, faults and crashes at random.

Hypothesis plays the customer (start, choose a product, identify a cashback card
or skip, use its cashback, confirm the ID scan, pay cash / card / cash then card,
insert notes that fit, are too large or are not recognised, approve, decline or
cancel at the card terminal, cancel, dawdle and ask for more time, walk away,
finish), what goes wrong (device faults, service errors, slow and dropped
answers, lost, duplicated, delayed and held callbacks, declined cards) and the
power cord: the kiosk dies around a device request, at a journal write or at
once, and is started again on fresh clients over the same journal, where
recovery runs before the flow.

The kiosk is :class:`kioskapp.simulate.Simulation` (simulate-sales' kiosk): the
real flow, clients and journal on the in-process simulators and one
ControlledClock, driven without sleeping: simulated time moves to the next armed
timer only when the kiosk is at rest. Each example owns its event loop (an
:class:`asyncio.Runner`); every step runs its async work on it, nothing moves
between steps, and the kiosk works on after each customer action until it waits
for the customer again.

Invariants, after every step (those that only hold between sales, once no sale
is open), and at teardown once staff restored the kiosk and it is back on the
attract screen with every sale closed:

1. money is conserved: every closed sale balances (taken = delivered +
   compensated + flagged) and nothing it took stays unknown without an incident;
   the journal's reconciliation balances; the card terminal and the bill
   reader's cash box agree with the journal, up to what incidents tell staff;
2. at most one CardAPI debit per sale: one per ticket, and every ticket is a
   sale's id;
3. no card payment is kept (not reversed, voided, refunded or given back by
   voucher) without the product handed out or an incident for staff;
4. no note stacked in the cash box without a journal record (or an incident).

Where the search goes. Hypothesis turns rules off at random per example (swarm
testing), so the customer is one rule that does what the current screen offers,
the screen's own actions weighing more than Cancel, More time, dawdling and
walking away: with a rule per action, most examples would never get past a
disabled one to the money. A fault is drawn for each journey as the customer
arrives (group first, the money-moving steps weighing double), more come
mid-journey from the ``inject`` rule, and staff restore the kiosk when Hypothesis
says so (or when a customer finds it out of service). Long examples (50 steps: a
few journeys, the faults of one meeting the next) find more per second than
many short ones; about 40 s for the four card providers.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import tempfile
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any, Literal, TypeVar

import httpx._transports.default as httpx_transports
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from kioskapp.app import open_devices
from kioskapp.core.clock import Clock
from kioskapp.core.flow import (
    Cancel,
    ChooseProduct,
    ConfirmId,
    EnterCardNumber,
    Finish,
    FlowSnapshot,
    HaveCard,
    Intent,
    MoreTime,
    PayWith,
    ReadCardOnTerminal,
    SkipCard,
    Start,
    State,
    UseCashback,
)
from kioskapp.core.journal import JournalDB, JournalError
from kioskapp.core.money import Money
from kioskapp.simulate import (
    DENOMINATIONS,
    EXPIRED_CARD,
    LOYALTY_CARD,
    UNKNOWN_CARD,
    Activity,
    ErrorLog,
    FaultKind,
    Simulation,
    SimulationOptions,
    TrackedJournal,
    applicable_faults,
    audit_sales,
    card_money,
    uncertain_amount,
)
from kioskapp.simulator.control import SimControl, SimControlError

T = TypeVar("T")

#: Simulated seconds the kiosk may take to come back to a screen that waits for the
#: customer (a card terminal's window, a payment watchdog, debit retries...).
SETTLE_BUDGET_S = 3 * 3600.0
#: The customer's own cashback card (a pass created in the CardAPI simulator per example).
CUSTOMER_CARD = "7009000000001"
#: Faults injected mid-journey before staff restore the kiosk.
MAX_ARMED = 2
#: The customer's next action weighs this much against each of Cancel, More time,
#: dawdling and walking away.
SCREEN_WEIGHT = 12
#: Journal methods that write (a crash "at a journal write" stops at one of these).
JOURNAL_WRITES = frozenset(
    {
        "create_sale",
        "update_sale",
        "begin_effect",
        "end_effect",
        "save_payment",
        "finish_payment",
        "record_compensation",
        "record_collection",
        "open_incident",
        "resolve_incident",
        "add_audit",
    }
)
#: Compensations after which the customer has the payment's money back.
GIVEN_BACK = frozenset({"reversed", "voided", "refunded", "voucher", "not_needed"})
#: Screens on which the customer's idle timer runs.
IDLE_STATES = frozenset(
    {State.CHOOSING, State.IDENTIFYING, State.ID_CONFIRM, State.PAYMENT_CHOICE, State.PAYING}
)
AT_REST = frozenset({State.ATTRACT, State.OUT_OF_SERVICE})
CardAction = Literal["approve", "decline", "cancel_terminal"]


# -- what goes wrong ------------------------------------------------------------------------


def _debit_answers_lost(count: int) -> FaultKind:
    """CardAPI debits (and replays of the same ticket) take effect and lose their
    answer, ``count`` times in a row: more than the client's own attempts, so the flow
    sends the same ticket again (7), or gives up and flags the debit (40)."""

    async def arm(sim: Simulation, rng: random.Random) -> None:
        body = {"code": "CARD-1", "route": "debit", "when": "after", "count": count}
        await sim.control.call("POST", "/cardapi/next-error", body)

    return FaultKind(f"cardapi.debit.answer_lost_x{count}", arm)


#: Debit faults beyond simulate-sales' (its answers are lost at most 3 times in a row,
#: which the CardAPI client's own retries absorb).
EXTRA_FAULTS = (_debit_answers_lost(7), _debit_answers_lost(40))
#: simulate-sales' kinds left out: they behave as another kind of the same group does.
SIMILAR_FAULTS = frozenset(
    {"cardapi.debit.answer_lost_x3", "cardapi.debit.malformed", "cardapi.debit.invalid"}
)


def fault_group(kind: FaultKind) -> str:
    """Which step of the journey a fault hits. A fault is drawn group first, so that
    each money-moving step gets its share whatever the number of kinds it has."""
    name = kind.name
    if name.startswith("callbacks."):
        return "callbacks"
    if name.startswith("cardapi.debit"):
        return "debit"
    if "tpv" in name or name.startswith(("card.", "kinetic.", "komoju.", "payjunction.")):
        return "card terminal"
    if "bill" in name or "cash_box" in name:
        return "bill reader"
    if any(part in name for part in ("dispense", "discard", "print", "paper")):
        return "delivery"
    if any(part in name for part in ("prepare", "barcode", "hopper")):
        return "card staging"
    return "session and lookups"


#: The steps where money moves weigh double.
GROUP_WEIGHTS = {"bill reader": 2, "card terminal": 2, "debit": 2, "delivery": 2}


def faults_for(provider: str) -> dict[str, list[FaultKind]]:
    groups: dict[str, list[FaultKind]] = {}
    for kind in [*applicable_faults(provider, recovery=True), *EXTRA_FAULTS]:
        if not kind.crash and kind.name not in SIMILAR_FAULTS:
            groups.setdefault(fault_group(kind), []).append(kind)
    return groups


def crash_points_for(provider: str) -> list[FaultKind]:
    return [k for k in applicable_faults(provider, recovery=True) if k.crash_point is not None]


async def _nothing(sim: Simulation, rng: random.Random) -> None:
    return None


#: Placeholders in the list of what was injected since staff last restored the kiosk.
CRASH_AT_WRITE = FaultKind("crash at a journal write", _nothing)
CRASH_NOW = FaultKind("crash now", _nothing)


# -- what the screen shows --------------------------------------------------------------------


def _phase(snap: FlowSnapshot) -> str | None:
    return snap.payment_status.phase if snap.payment_status is not None else None


def _paying_cash(snap: FlowSnapshot) -> bool:
    return snap.state is State.PAYING and snap.payment_method == "cash"


def _paying_card(snap: FlowSnapshot) -> bool:
    return snap.state is State.PAYING and snap.payment_method not in (None, "cash")


def _screen(snap: FlowSnapshot) -> tuple[object, ...]:
    return (snap.state, snap.identify_phase, snap.payment_method, _phase(snap))


def waits_for_customer(snap: FlowSnapshot) -> bool:
    """The kiosk shows a screen where only the customer (or time) moves things on."""
    state = snap.state
    if state is State.IDENTIFYING:
        return snap.identify_phase in ("ask", "enter", "reading", "found")
    if state is State.PAYMENT_CHOICE:
        return bool(snap.methods_offered)
    if _paying_cash(snap):
        return _phase(snap) in ("waiting_for_customer", "note_accepted", "note_returned")
    if _paying_card(snap):
        # Kinetic has no remote cancel: while cancelling it waits for the customer's key.
        return _phase(snap) == "waiting_for_customer" or (
            snap.payment_method == "kinetic" and _phase(snap) == "cancelling"
        )
    return state in (
        State.ATTRACT,
        State.OUT_OF_SERVICE,
        State.CHOOSING,
        State.ID_CONFIRM,
        State.THANK_YOU,
        State.ERROR,
    )


# -- the kiosk: simulate-sales' Simulation, whose journal can die at a write -----------------


class CrashingJournal(TrackedJournal):
    """The journal of a kiosk told to die at its ``crash_in``-th write from now:
    ``before`` the write commits, or right ``after``. From that instant nothing more
    reaches the journal or a device (the process is gone)."""

    def __init__(
        self, path: Path, *, clock: Clock, activity: Activity, on_crash: Callable[[], None]
    ) -> None:
        super().__init__(path, clock=clock, activity=activity)
        self._on_crash = on_crash
        self.crash_in: int | None = None
        self.crash_when: Literal["before", "after"] = "before"

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        name = getattr(fn, "__name__", "")
        if not self.dead and self.crash_in is not None and name in JOURNAL_WRITES:
            self.crash_in -= 1
            if self.crash_in <= 0:
                self.crash_in = None
                if self.crash_when == "after":
                    await super().call(fn, *args, **kwargs)
                self._on_crash()
                raise JournalError("the kiosk process crashed (simulated) at a journal write")
        return await super().call(fn, *args, **kwargs)


class FlowSim(Simulation):
    """simulate-sales' kiosk, with a :class:`CrashingJournal`."""

    async def _open_kiosk(self) -> None:
        self._devices = await open_devices(self.cfg, clock=self.clock, state_dir=self.state_dir)
        self._devices_open = True
        self._journal = CrashingJournal(
            self.cfg.journal.path, clock=self.clock, activity=self.activity, on_crash=self.die
        )

    @property
    def crashing_journal(self) -> CrashingJournal:
        journal = self.journal
        assert isinstance(journal, CrashingJournal)
        return journal

    def die(self) -> None:
        """The crash instant: no more journal writes, no more requests reach a device."""
        self.faults.dead = True
        self._crashed()


# -- the machine ---------------------------------------------------------------------------


class KioskFlowMachine(RuleBasedStateMachine):
    """One kiosk per example; ``PROVIDER`` is its card terminal (see :func:`machine_for`)."""

    PROVIDER = "tpv"

    def __init__(self) -> None:
        super().__init__()
        self.runner = asyncio.Runner()
        self._tmp = tempfile.TemporaryDirectory(prefix="kioskapp-flow-machine-")
        self.sim = FlowSim(
            SimulationOptions(journeys=0, provider=self.PROVIDER), Path(self._tmp.name), ErrorLog()
        )
        self.opened = False
        self.balance = 0
        self.broken = False  # a step failed: teardown only cleans up
        self.faults = faults_for(self.PROVIDER)
        self.crash_points = crash_points_for(self.PROVIDER)
        self.armed: list[FaultKind] = []  # since staff last restored the kiosk
        self.snap = FlowSnapshot(state=State.ATTRACT)

    # -- plumbing --------------------------------------------------------------------
    def run(self, work: Callable[[], Coroutine[Any, Any, T]]) -> T:
        """Run a step's async work on this example's loop; a failure marks the machine."""
        try:
            return self.runner.run(work())
        except BaseException:
            self.broken = True
            raise

    @property
    def control(self) -> SimControl:
        return self.sim.control

    async def _advance(self, until: Callable[[FlowSnapshot], bool] = waits_for_customer) -> None:
        """Let the kiosk work, moving the clock timer by timer, until ``until(snapshot)``;
        a crash on the way restarts it (recovery first)."""
        sim = self.sim
        started = sim.clock.monotonic()
        while True:
            await sim.settle()
            if sim.crash_pending:
                await sim.restart(crash=True)
                if not sim.crash_pending:  # (a crash point may also fire in recovery)
                    outcome = sim.recoveries[-1]
                    assert not outcome.startswith(("recover_all failed", "not available")), outcome
                continue
            snap = sim.flow.snapshot
            if until(snap):
                self.snap = snap
                return
            waited = sim.clock.monotonic() - started
            assert waited <= SETTLE_BUDGET_S, (
                f"the kiosk is stuck in {snap.state.value} ({_phase(snap)}) after {waited:.0f} s"
            )
            assert sim.tick(), f"nothing can happen any more: no timer armed in {snap.state}"

    def act(self, intent: Intent) -> None:
        """The customer touches the screen; the kiosk works until it waits again."""

        async def go() -> None:
            self.sim.flow.submit(intent)
            await self._advance()

        self.run(go)

    def at_device(self, work: Callable[[], Awaitable[object]]) -> None:
        """The customer at a device (bill reader, terminal); then the kiosk works."""

        async def go() -> None:
            with contextlib.suppress(SimControlError):
                await work()  # refused: the device was not ready for it, nothing happened
            await self._advance()

        self.run(go)

    def _arm(self, kind: FaultKind) -> None:
        self.armed.append(kind)

        async def go() -> None:
            await kind.arm(self.sim, random.Random(0))  # (the kinds used draw nothing)

        self.run(go)

    def _draw_fault(self, data: st.DataObject) -> FaultKind:
        groups = [g for g in sorted(self.faults) for _ in range(GROUP_WEIGHTS.get(g, 1))]
        group = data.draw(st.sampled_from(groups), label="fault on")
        return data.draw(st.sampled_from(self.faults[group]), label="fault")

    # -- start -----------------------------------------------------------------------
    @initialize(balance=st.sampled_from([0, 250, 654, 2000, 6000]))
    def cashback_card(self, balance: int) -> None:
        """The customer's cashback card holds ``balance`` (minor units)."""
        self.balance = balance

    def _open(self) -> None:
        """The kiosk starts (recovery on an empty journal, then the flow), at the first
        step: an example Hypothesis drops before its first step costs nothing."""
        if self.opened:
            return

        async def go() -> None:
            sim = self.sim
            await sim.open()
            self.opened = True
            await sim._new_pass(CUSTOMER_CARD, self.balance)
            await self.control.set_dispenser(barcodes=sim._fresh_barcodes(30))
            await self._advance()

        self.run(go)

    # -- the customer ------------------------------------------------------------------
    @precondition(lambda self: waits_for_customer(self.snap))
    @rule(think=st.sampled_from([0.0, 0.0, 0.0, 2.0, 12.0]), data=st.data())
    def customer_acts(self, think: float, data: st.DataObject) -> None:
        """The customer, after thinking ``think`` seconds, does one thing the screen
        offers (Hypothesis draws which; each draw is labelled with the screen):

        - attract: a customer arrives. Before they touch Start, Hypothesis draws what
          will go wrong in their journey: nothing, a fault, or a crash point (the kiosk
          dies when it sends a given request). Out of service: they call staff;
        - choose: a product;
        - identify: I have a card / skip; type my card, an unknown, expired or loyalty
          card, or read it on the terminal (PayJunction) and swipe it; use the
          cashback or not;
        - ID confirm: the image is fine, or scan again;
        - payment choice: cash or card;
        - paying cash: a note no larger than what is due, the smallest, the smallest that is
          too large (500 is more than any price), any denomination, an unrecognised
          one, or the card for the rest (mixed payment);
        - paying by card: approve, decline, or cancel on the terminal;
        - thank you / error: Finish;
        - and on most screens: Cancel, More time (when the idle warning shows), dawdle
          until the idle warning shows, or walk away (the timeouts must bring the kiosk
          back to the attract screen).
        """
        self._open()
        snap = self.snap
        if think and snap.state not in AT_REST:
            self.run(lambda: self.sim.pass_time(think))
            self.run(self._advance)
            if _screen(self.snap) != _screen(snap):
                return  # the screen changed while they thought: they look again
        state = snap.state
        extra: list[str] = []
        if state not in AT_REST:
            extra.append("walk away")
        if snap.idle_warning is not None:
            extra.append("more time")
        elif state in IDLE_STATES:
            extra.append("dawdle")
        if snap.can_cancel or state in (State.CHOOSING, State.IDENTIFYING, State.ID_CONFIRM):
            extra.append("cancel")

        def pick(label: str, options: list[str]) -> str:
            weighted = options * -(-SCREEN_WEIGHT // len(options))
            return data.draw(st.sampled_from(weighted + extra), label=label)

        if state is State.OUT_OF_SERVICE:
            self.run(self._restore)
        elif state is State.ATTRACT:
            self._customer_arrives(data)
        elif state is State.CHOOSING:
            choice = pick("choose", ["product"])
            available = [item for item in snap.catalogue if item.available]
            if choice == "product" and available:
                item = data.draw(st.sampled_from(available), label="product")
                self.act(ChooseProduct(item.sku))
            else:
                self._other(choice if choice != "product" else "cancel")  # nothing to sell
        elif state is State.IDENTIFYING:
            self._identify(snap, pick, data)
        elif state is State.ID_CONFIRM:
            choice = pick("id image", ["ok", "ok", "scan again"])
            if choice in ("ok", "scan again"):
                self.act(ConfirmId(choice == "ok"))
            else:
                self._other(choice)
        elif state is State.PAYMENT_CHOICE:
            choice = pick("pay with", list(snap.methods_offered))
            if choice in snap.methods_offered:
                self.act(PayWith(choice))
            else:
                self._other(choice)
        elif _paying_cash(snap):
            self._pay_cash(snap, pick, data)
        elif _paying_card(snap):
            choice = pick("at the terminal", ["approve", "approve", "decline", "cancel_terminal"])
            if choice in ("approve", "decline", "cancel_terminal"):
                action: CardAction = choice  # type: ignore[assignment]
                self.at_device(lambda: self.sim.terminal(action))
            else:
                self._other(choice)
        else:  # THANK_YOU, ERROR
            choice = pick("done", ["finish"])
            if choice == "finish":
                self.act(Finish())
            else:
                self._other(choice)

    def _customer_arrives(self, data: st.DataObject) -> None:
        what = data.draw(
            st.sampled_from(["nothing", "fault", "fault", "crash point"]),
            label="goes wrong in this journey",
        )
        if what == "fault":
            self._arm(self._draw_fault(data))
        elif what == "crash point":
            self._arm(data.draw(st.sampled_from(self.crash_points), label="crash point"))
        self.act(Start())

    def _other(self, choice: str) -> None:
        if choice == "more time":
            self.act(MoreTime())
        elif choice == "cancel":
            self.act(Cancel())
        elif choice == "walk away":
            self.run(lambda: self._advance(lambda snap: snap.state in AT_REST))
        else:
            assert choice == "dawdle", choice
            before = self.snap

            def warned_or_moved(snap: FlowSnapshot) -> bool:
                if snap.idle_warning is not None:
                    return True
                return _screen(snap) != _screen(before) and waits_for_customer(snap)

            self.run(lambda: self._advance(warned_or_moved))

    def _identify(
        self, snap: FlowSnapshot, pick: Callable[[str, list[str]], str], data: st.DataObject
    ) -> None:
        phase = snap.identify_phase
        if phase == "ask":
            choice = pick("a cashback card?", ["have a card", "skip"])
            if choice == "have a card":
                self.act(HaveCard())
            elif choice == "skip":
                self.act(SkipCard())
            else:
                self._other(choice)
        elif phase == "enter":
            ways = ["type", "type", "skip"]
            if "terminal" in snap.identify_modes:
                ways.append("read on terminal")
            choice = pick("identify", ways)
            if choice == "type":
                cards = [CUSTOMER_CARD] * 3 + [UNKNOWN_CARD, EXPIRED_CARD, LOYALTY_CARD]
                self.act(EnterCardNumber(data.draw(st.sampled_from(cards), label="card")))
            elif choice == "skip":
                self.act(SkipCard())
            elif choice == "read on terminal":
                self.act(ReadCardOnTerminal())
            else:
                self._other(choice)
        elif phase == "reading":
            choice = pick("card read on the terminal", ["swipe"])
            if choice == "swipe":
                body = {"track": f";{CUSTOMER_CARD}?"}
                self.at_device(
                    lambda: self.control.call("POST", "/payjunction/terminal/swipe", body)
                )
            else:
                self._other(choice)
        else:  # found
            choice = pick("cashback", ["use", "use", "keep"])
            if choice in ("use", "keep"):
                self.act(UseCashback(choice == "use"))
            else:
                self._other(choice)

    def _pay_cash(
        self, snap: FlowSnapshot, pick: Callable[[str, list[str]], str], data: st.DataObject
    ) -> None:
        remaining = snap.amount_remaining
        due = remaining.to_major() if remaining is not None else 0
        cards = [m for m in self.sim.card_methods_offered() if m != "cash"]
        ways = ["fits", "fits", "fits", "smallest", "too large", "any", "unrecognised"]
        if cards:
            ways.append("card for the rest")
        choice = pick("note", ways)
        fits = [d for d in DENOMINATIONS if d <= due]
        if choice == "fits" and not fits:
            choice = "card for the rest" if cards else "smallest"
        note: int | None
        if choice == "fits":
            note = data.draw(st.sampled_from(fits), label="denomination")
        elif choice == "smallest":
            note = DENOMINATIONS[0]
        elif choice == "too large":
            note = min([d for d in DENOMINATIONS if d > due], default=DENOMINATIONS[-1])
        elif choice == "any":
            note = data.draw(st.sampled_from(DENOMINATIONS), label="denomination")
        elif choice == "unrecognised":
            note = None
        elif choice == "card for the rest":
            self.act(PayWith(cards[0]))
            return
        else:
            self._other(choice)
            return
        if note is None:
            self.at_device(self.control.insert_unrecognised)
        else:
            self.at_device(lambda: self.control.insert_note(note))

    # -- the environment -----------------------------------------------------------------
    @precondition(
        lambda self: self.opened and self.snap.state not in AT_REST and len(self.armed) < MAX_ARMED
    )
    @rule(
        what=st.sampled_from(
            ["fault", "fault", "crash at a request", "crash at a journal write", "crash now"]
        ),
        data=st.data(),
    )
    def inject(self, what: str, data: st.DataObject) -> None:
        """Mid-journey: a fault (device faults, service errors, slow or dropped answers,
        lost, duplicated, delayed or held callbacks, a declined card...), or a crash:
        when the kiosk sends a given request (before the device gets it, or after the
        device acted and before the answer came), at its n-th journal write from now
        (the write lost, or committed just before), or at once."""
        if what == "fault":
            self._arm(self._draw_fault(data))
        elif what == "crash at a request":
            self._arm(data.draw(st.sampled_from(self.crash_points), label="crash point"))
        elif what == "crash at a journal write":
            journal = self.sim.crashing_journal
            journal.crash_in = data.draw(st.integers(1, 12), label="writes from now")
            journal.crash_when = data.draw(st.sampled_from(["before", "after"]), label="when")
            self.armed.append(CRASH_AT_WRITE)
        else:
            self.armed.append(CRASH_NOW)

            async def go() -> None:
                self.sim.die()
                await self._advance()

            self.run(go)

    @precondition(lambda self: self.opened and self.snap.state in AT_REST and bool(self.armed))
    @rule()
    def staff_restore(self) -> None:
        """Staff disarm the faults, clear jams, refill and bring the kiosk back."""
        self.run(self._restore)

    async def _restore(self) -> None:
        sim = self.sim
        armed, self.armed = self.armed, []
        sim.faults.crash_point = None
        sim.crashing_journal.crash_in = None
        await self.control.clear_faults()
        await self.control.call("DELETE", "/cardapi/next-error")
        await self.control.set_callback_mode("normal")
        await self.control.release_callbacks()
        for kind in armed:
            if kind.restore is not None:
                await kind.restore(sim, random.Random(0))
        await self._advance(lambda snap: snap.state in AT_REST)
        problems = await sim.staff_restore()
        assert not problems, problems
        await self._advance()

    # -- invariants --------------------------------------------------------------------
    @invariant()
    def money_is_accounted_for(self) -> None:
        if self.opened and not self.broken:
            self.run(self._check)

    async def _check(self, *, final: bool = False) -> None:
        sim = self.sim
        journal = sim.journal
        db = journal.db
        await sim.settle()
        sales = await journal.call(db.sales, limit=100_000)
        sale_ids = [s.sale_id for s in sales]
        open_ids = [s.sale_id for s in sales if s.status == "open"]
        closed_ids = [s.sale_id for s in sales if s.status != "open"]

        # 1. Every closed sale balances; nothing it took stays unknown (a payment, the
        # debit, the dispense) without an incident for staff.
        problems = await journal.call(audit_sales, db, closed_ids)
        assert not problems, problems

        # 2. At most one CardAPI debit per sale: the ticket is the sale's id (CardAPI
        # debits a ticket once; a sale sending another ticket could be debited twice).
        ledger = sim.sim_state("cardapi")["ledger"]
        tickets = Counter(str(entry["ticket_id"]) for entry in ledger)
        twice = {ticket: n for ticket, n in tickets.items() if n > 1}
        assert not twice, f"CardAPI debited a ticket more than once: {twice}"
        strangers = set(tickets) - set(sale_ids)
        assert not strangers, f"CardAPI debits whose ticket is no sale: {sorted(strangers)}"

        # 3. No card payment kept without the product handed out or an incident.
        kept = await journal.call(card_kept_unexplained, db, closed_ids)
        assert not kept, kept

        if final:
            assert not open_ids, f"sales left open: {open_ids}"
        if open_ids or sim.flow.snapshot.state not in AT_REST:
            return  # the rest holds between sales
        rec = await journal.call(db.reconciliation, sim.currency)
        assert rec.open_sales == 0, rec
        assert rec.balanced, (
            f"taken {rec.taken} != delivered {rec.delivered} + compensated "
            f"{rec.compensated} + flagged {rec.flagged}"
        )
        # 1 and 3. What the card terminal kept is what the journal kept, or staff know.
        provider = sim.provider
        net, flagged = await journal.call(card_money, db, sale_ids, provider)
        terminal = await sim._terminal_money(provider)
        assert net <= terminal, (
            f"the journal kept {net} of card money, the {provider} terminal took {terminal}"
        )
        assert terminal - net <= flagged, (
            f"the {provider} terminal kept {terminal}, the journal {net}, and incidents "
            f"cover {flagged} (minor units)"
        )
        # 4. Every note in the cash box is in the journal (or staff were told to look).
        box = sim.sim_state("tecalis")["cash_box"]
        stacked = Money.from_major(box["total_amount"], sim.currency).minor
        journalled = (await journal.call(db.cash_box, sim.currency)).total.minor
        uncertain = await journal.call(uncertain_amount, db, sale_ids)
        assert journalled <= stacked, (
            f"the journal has {journalled} in the cash box, the bill reader {stacked}"
        )
        assert stacked - journalled <= uncertain, (
            f"the cash box holds {stacked}, the journal {journalled}, and incidents cover "
            f"{uncertain} (minor units)"
        )

    # -- the end -----------------------------------------------------------------------
    def teardown(self) -> None:
        try:
            if self.opened and not self.broken:
                self.run(self._settle_for_good)
        finally:
            try:
                if self.opened:
                    self.runner.run(self.sim.aclose())
            finally:
                self.runner.close()
                self._tmp.cleanup()

    async def _settle_for_good(self) -> None:
        """Staff restore the kiosk and everyone leaves; then every invariant must hold."""
        await self._advance(lambda snap: snap.state in AT_REST)
        await self._restore()
        await self._check(final=True)
        # A restart now finds nothing to recover, and changes nothing.
        await self.sim.restart(crash=True)
        assert self.sim.recoveries[-1].startswith("ran: 0 open sale(s)"), self.sim.recoveries
        await self._advance()
        await self._check(final=True)


def card_kept_unexplained(db: JournalDB, sale_ids: list[str]) -> list[str]:
    """Card money a closed sale kept with nothing handed out and no incident (runs on the
    journal thread)."""
    with_incident = {i.sale_id for i in db.incidents(limit=100_000)}
    problems = []
    for sale_id in sale_ids:
        sale = db.sale(sale_id)
        assert sale is not None
        if int(sale.data.get("delivered_minor", 0)) > 0 or sale_id in with_incident:
            continue
        for p in db.payments(sale_id):
            if p.method == "cash":
                continue
            given_back = p.compensated.minor if p.compensation in GIVEN_BACK else 0
            if p.taken.minor - given_back > 0:
                problems.append(
                    f"sale {sale_id} ({sale.status}): {p.method} payment {p.attempt} kept "
                    f"{p.taken} (compensation {p.compensation}, {p.compensated}), nothing "
                    "handed out and no incident"
                )
    return problems


def machine_for(provider: str) -> type[KioskFlowMachine]:
    return type(f"KioskFlow_{provider}", (KioskFlowMachine,), {"PROVIDER": provider})


#: Examples per card provider: the PIN pad most, the three others fewer each.
EXAMPLES = {"tpv": 40, "kinetic": 10, "komoju": 10, "payjunction": 10}


@pytest.fixture
def shared_tls_context(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every httpx client (the kiosk's, restarted at each crash, the simulators' and the
    control's) loads the CA bundle for a TLS context (~25 ms) that loopback HTTP never
    uses: they share one."""
    original = httpx_transports.create_ssl_context
    shared: dict[bool, Any] = {}

    def create_ssl_context(verify: Any = True, cert: Any = None, trust_env: bool = True) -> Any:
        if verify is not True or cert is not None:
            return original(verify=verify, cert=cert, trust_env=trust_env)
        if trust_env not in shared:
            shared[trust_env] = original(verify=verify, cert=cert, trust_env=trust_env)
        return shared[trust_env]

    monkeypatch.setattr(httpx_transports, "create_ssl_context", create_ssl_context)


@pytest.mark.usefixtures("shared_tls_context")
@pytest.mark.parametrize("provider", list(EXAMPLES))
def test_customer_flow_with_faults_and_crashes(provider: str) -> None:
    run_state_machine_as_test(
        machine_for(provider),
        settings=settings(
            max_examples=EXAMPLES[provider],
            stateful_step_count=50,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
