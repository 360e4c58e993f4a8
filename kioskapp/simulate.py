"""Headless sales simulation: whole customer journeys against the built-in simulators.

    kioskapp simulate-sales N [--faults RATE] [--seed S] [--provider P] [--config FILE]
                            [--state-dir DIR] [--fault-kinds K1,K2] [--verbose]

runs ``N`` customer journeys, from the attract screen back to the attract
screen, with random customer behaviour and random faults, then prints exactly
one line on stdout::

    RECONCILIATION taken=<minor> delivered=<minor> compensated=<minor> flagged=<minor> unhandled=<n>

and exits 0 only when taken = delivered + compensated + flagged and nothing
was left unhandled. A summary (outcomes, faults, what was unhandled, with the
journey numbers that reproduce it) goes to stderr.

How it works
------------
**The kiosk.** Every vendor simulator runs in-process
(:func:`~kioskapp.simulator.framework.build_simulators`) on a free loopback
port, on one :class:`~kioskapp.core.clock.ControlledClock` with no speed:
simulated time moves only when this driver advances it, so a 90 s escrow or
the PIN pad's 2 minute window costs no real time. The devices are wired by
:func:`kioskapp.app.open_devices` from a config whose endpoints point at the
simulators, with a fresh journal in a temporary directory (or
``--state-dir``), and the real :class:`~kioskapp.core.flow.Flow` runs on them.
When :mod:`kioskapp.core.recovery` is importable, its ``recover_all`` runs
before the first journey (and after every simulated crash).

**Time.** The driver never sleeps to wait for something. It waits until the
kiosk is at rest: no HTTP request of the kiosk to a simulator in progress
(counted in ``httpx.AsyncHTTPTransport`` for the duration of the run, since
the kiosk's clients build their own httpx clients; see :func:`counted_http`),
no journal call and no worker thread (receipt rendering) in progress, and the
event loop with nothing ready to run for a few rounds. Then either the
customer (or staff) acts on what the flow's snapshot shows, or, when nobody
acts, the clock advances exactly to the next armed timer (a status poll, an
idle warning, a terminal's window, a delayed callback). This is a
discrete-event simulation of the real kiosk: what happens, and in which
order, depends on the seed, not on the machine's speed.

**The customer** (:class:`Customer`), drawn per journey from the seed: which
product, whether they identify a cashback card they own (typed on the
keypad, or swiped on the PayJunction terminal; some cards are unknown,
expired or not usable) and use its cashback, cash / card / mixed payment,
notes that are too big or unrecognised, a declined card then a retry or
cash, Cancel at a random step, walking away at a random step (the idle
timeout fires), dawdling until the idle warning and pressing More time,
pressing Finish or letting the last screen time out, and think time before
each action.

**Faults** (:data:`FAULT_KINDS`), one per journey with probability RATE,
armed before the journey through the simulators' control API: HTTP faults
(5xx, malformed JSON, nginx 502 pages, dropped connections, answers later
than the client's timeout) on any device or service route, lost, duplicated,
delayed, held or badly signed callbacks and webhooks, CardAPI errors before
or after the debit took effect, bill reader jams, a full cash box, card
dispenser jams, unreadable barcodes, an empty hopper, paper out, devices
offline, declined cards, terminal errors and refused reversals.

**Staff** restore the kiosk between journeys: faults disarmed, held callbacks
released, jams cleared (a stuck note is handed back), hopper refilled, paper
loaded, devices back online, the flow's device faults cleared, the cash box
emptied (and the collection journalled) before it fills.

**Checks.** ``taken``, ``delivered``, ``compensated`` and ``flagged`` come
from :meth:`JournalDB.reconciliation`. ``unhandled`` counts, per journey: a
sale not closed; a sale whose own money does not balance (its payments'
taken against its delivered + compensated + flagged); a payment whose
outcome stayed unknown (or was never recorded) without an incident for
staff; a CardAPI debit or a dispense whose outcome stayed unknown without an
incident; notes the bill reader stacked that the journal does not know and
no incident covers; and a journey that did not get back to the attract
screen in time (simulated-time and step budgets).

**Crash.** The ``crash.*`` faults (offered only when recovery is importable)
kill the kiosk process mid-journey: at a quiet moment (``crash.idle``), or
when it sends a given request, before the device gets it (the intent is
journalled, nothing was sent) or after the device acted on it and before the
answer arrived (:class:`CrashPoint`: bill reader accept, CardAPI debit,
dispense, print, terminal requests, reversals...). From that instant the
journal takes no more writes and no request of the dead process reaches a
device; then the clients and the flow are dropped, new ones open on the same
journal and simulators, recovery runs and a new flow starts
(:meth:`Simulation.restart`). The customer has left.

Determinism: the customer, the faults and (seeded) retry jitter come from the
seed; sale ids and vendor ids are random but never change behaviour. Faults
that wait in real time (an answer later than the client's timeout) cost that
time; with the built-in config the simulation shortens the HTTP timeouts to
one second so that they stay cheap (a ``--config`` file keeps its own).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib
import importlib.util
import logging
import random
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, ParamSpec, TextIO, TypeVar

import httpx
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from kioskapp.app import Devices, open_devices
from kioskapp.config import Config, load_config
from kioskapp.core.clock import Clock, ControlledClock
from kioskapp.core.flow import (
    Cancel,
    ChooseProduct,
    ConfirmId,
    EnterCardNumber,
    Finish,
    Flow,
    FlowServices,
    FlowSettings,
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
from kioskapp.core.journal import Journal, JournalDB, JournalError
from kioskapp.core.money import Money
from kioskapp.devices import komoju, payjunction
from kioskapp.runtime import simulation_overrides
from kioskapp.simulator.control import SimControl, SimControlError
from kioskapp.simulator.framework import (
    MAX_FAULT_DELAY_S,
    FaultInjector,
    SimServer,
    SimService,
    build_simulators,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

PROVIDERS: tuple[str, ...] = ("tpv", "kinetic", "komoju", "payjunction")
SIM_EPOCH = 1_800_000_000.0

#: Simulated seconds a journey may take from Start back to the attract screen (the
#: slowest legitimate one: ten More time presses, a card terminal's own timeout, a
#: payment watchdog, a slip on screen, stays well under an hour).
JOURNEY_BUDGET_S = 3 * 3600.0
#: Driver steps (acts or clock moves) a journey may take; a flow that loops without
#: moving time would exceed it.
JOURNEY_STEPS = 20_000
#: Simulated seconds staff may need to bring the kiosk back to the attract screen.
RESTORE_BUDGET_S = 600.0
#: Real seconds the kiosk may stay busy (HTTP, journal, threads) without coming to rest.
SETTLE_LIMIT_S = 60.0
#: Rounds of the event loop with nothing ready before the kiosk counts as at rest.
CALM_ROUNDS = 3
#: Same, when the loop does not show what is ready (not CPython's asyncio loop).
CALM_ROUNDS_BLIND = 30
#: A callback on its way to the kiosk while the loop is idle: real seconds to let the
#: network deliver it, and how many times (after that its handler waits on the clock).
SOFT_GRACE_S = 0.001
SOFT_GRACE_ROUNDS = 3
#: Notes the Tecalis simulator accepts, in major units (its default denominations).
DENOMINATIONS: tuple[int, ...] = (5, 10, 20, 50, 100, 200, 500)
#: HTTP timeouts of the built-in simulation config (a --config file keeps its own).
FAST_TIMEOUT_S = 1.0
#: How much later than the client's timeout a "timeout" fault answers (real seconds).
TIMEOUT_MARGIN_S = 0.3
#: Card stock of the simulated hopper: 13-digit barcodes with the CardAPI simulator's
#: blank-card prefix (each one a new, empty pass there).
BLANK_CARD_PREFIX = "841234567"
HOPPER_FILL = 30
#: Empty the cash box (and journal the collection) once it holds this many notes.
CASH_BOX_EMPTY_AT = 400


# -- options and report ------------------------------------------------------------------


class SimulationError(Exception):
    """The simulation cannot run as asked (bad options, a state directory in use)."""


@dataclass(frozen=True)
class SimulationOptions:
    """What ``kioskapp simulate-sales`` was asked to run."""

    journeys: int
    fault_rate: float = 0.0
    seed: int = 0
    provider: str | None = None  # None: the config's card provider
    config_path: Path | None = None
    state_dir: Path | None = None
    fault_kinds: tuple[str, ...] | None = None  # None: every kind that applies
    env: Mapping[str, str] = field(default_factory=dict)  # KIOSKAPP_* overrides of the config
    verbose: bool = False
    progress_every: int = 100

    def __post_init__(self) -> None:
        if self.journeys < 0:
            raise SimulationError("the number of journeys cannot be negative")
        if not 0.0 <= self.fault_rate <= 1.0:
            raise SimulationError("the fault rate is a probability between 0 and 1")
        if self.provider is not None and self.provider not in PROVIDERS:
            raise SimulationError(f"unknown card provider {self.provider!r}; one of {PROVIDERS}")
        if self.fault_kinds is not None:
            unknown = set(self.fault_kinds) - set(FAULT_KINDS)
            if unknown:
                raise SimulationError(f"unknown fault kind(s): {', '.join(sorted(unknown))}")


@dataclass
class SimulationReport:
    """The figures of a run: the journal's reconciliation and what was left unhandled."""

    currency: str
    taken: Money
    delivered: Money
    compensated: Money
    flagged: Money
    unhandled: int
    problems: list[str]
    journeys: int
    outcomes: Counter[str]
    faults: Counter[str]
    payments: Counter[str]
    warnings: list[str]
    logged_errors: Counter[str]
    log_samples: list[str]
    crashes: list[str]
    recovery: str
    restarts: int  # simulated crashes (and hung kiosks) restarted
    recovered: Counter[str]  # recovery's decisions over all restarts
    wall_s: float
    sim_s: float
    fingerprint: str

    @property
    def balanced(self) -> bool:
        return self.taken == self.delivered + self.compensated + self.flagged

    @property
    def ok(self) -> bool:
        return self.balanced and self.unhandled == 0

    def line(self) -> str:
        return (
            f"RECONCILIATION taken={self.taken.minor} delivered={self.delivered.minor} "
            f"compensated={self.compensated.minor} flagged={self.flagged.minor} "
            f"unhandled={self.unhandled}"
        )

    def summary(self) -> str:
        """The human part, for stderr."""
        out = [
            f"simulate-sales: {self.journeys} journeys in {self.wall_s:.1f} s "
            f"({self.sim_s / 3600:.1f} h simulated), currency {self.currency}",
            f"  recovery at start: {self.recovery}",
            f"  crashes and restarts: {self.restarts}; recovery decided: "
            + (_counts(self.recovered) or "nothing"),
            "  outcomes: " + _counts(self.outcomes),
            "  faults: " + (_counts(self.faults) or "none"),
            "  payments: " + (_counts(self.payments) or "none"),
        ]
        out += [f"  warning: {w}" for w in self.warnings]
        for message, n in sorted(self.logged_errors.items()):
            out.append(f"  logged by the kiosk at ERROR: {n} x {message}")
        for sample in self.log_samples[:10]:
            out.append(f"    e.g. {sample}")
        for crash in self.crashes[:10]:
            out.append(f"  exception logged by the kiosk: {crash}")
        if not self.balanced:
            out.append("  the reconciliation does NOT balance")
        for problem in self.problems[:50]:
            out.append(f"  unhandled: {problem}")
        if len(self.problems) > 50:
            out.append(f"  ... and {len(self.problems) - 50} more")
        out.append(f"  fingerprint {self.fingerprint}")
        return "\n".join(out)


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counter.items()))


# -- the kiosk at rest: what simulated time must wait for ------------------------------


class Activity:
    """Work in progress that simulated time must not run ahead of: the kiosk's HTTP
    requests to the simulators, journal calls, worker threads. ``quiet()`` returns once
    none is. ``soft`` counts callbacks on their way to the kiosk: waited for only while
    the event loop still has something to do (a callback whose handler waits on the
    clock would otherwise never end)."""

    def __init__(self) -> None:
        self._busy = 0
        self.soft = 0
        self._quiet = asyncio.Event()
        self._quiet.set()

    @property
    def busy(self) -> bool:
        return self._busy > 0

    def begin(self) -> None:
        self._busy += 1
        self._quiet.clear()

    def end(self) -> None:
        self._busy = max(0, self._busy - 1)
        if self._busy == 0:
            self._quiet.set()

    async def quiet(self) -> None:
        await self._quiet.wait()


class _CountedStream(httpx.AsyncByteStream):
    """A response body; the request counts as activity until the body is closed."""

    def __init__(self, inner: httpx.AsyncByteStream, done: Callable[[], None]) -> None:
        self._inner = inner
        self._done: Callable[[], None] | None = done

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._inner:
            yield part

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            done, self._done = self._done, None
            if done is not None:
                done()


@contextlib.contextmanager
def counted_http(activity: Activity, sim_port: int) -> Iterator[None]:
    """Count every httpx request to the simulators (port ``sim_port``) as activity, and
    every other one (callbacks to the kiosk) as soft activity, while the block runs.

    The kiosk's clients build their own ``httpx.AsyncClient``s (app.open_devices), so
    the count sits in ``httpx.AsyncHTTPTransport`` itself; it is put back on exit.
    Counting at the client covers a request from its first byte, before the simulator
    has seen anything (a new connection's handshake, bytes not yet read).
    """
    original = httpx.AsyncHTTPTransport.handle_async_request

    async def handle(self: httpx.AsyncHTTPTransport, request: httpx.Request) -> httpx.Response:
        hard = request.url.port == sim_port

        def begin() -> None:
            if hard:
                activity.begin()
            else:
                activity.soft += 1

        def end() -> None:
            if hard:
                activity.end()
            else:
                activity.soft = max(0, activity.soft - 1)

        begin()
        try:
            response = await original(self, request)
        except BaseException:
            end()
            raise
        stream = response.stream
        if isinstance(stream, httpx.AsyncByteStream):
            response.stream = _CountedStream(stream, end)
        else:
            end()
        return response

    setattr(httpx.AsyncHTTPTransport, "handle_async_request", handle)  # noqa: B010
    try:
        yield
    finally:
        setattr(httpx.AsyncHTTPTransport, "handle_async_request", original)  # noqa: B010


class TrackedExecutor(ThreadPoolExecutor):
    """The loop's default executor (``asyncio.to_thread``: receipt rendering, DNS), with
    every job counted as activity until its result is back on the loop."""

    def __init__(self, activity: Activity, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(max_workers=2, thread_name_prefix="simulate-worker")
        self._activity = activity
        self._loop = loop

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self._activity.begin()
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._activity.end()
            raise
        # Watch for the end only once run_in_executor has chained the asyncio future to
        # this one (right after submit returns): its result then reaches the loop before
        # the activity ends, so the loop never looks idle in between.
        self._loop.call_soon(future.add_done_callback, self._done)
        return future

    def _done(self, future: Future[Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed
            self._loop.call_soon_threadsafe(self._activity.end)


class TrackedJournal(Journal):
    """The kiosk's journal, counting each call as activity; ``dead`` after a simulated
    crash (the process is gone: nothing more is written)."""

    def __init__(self, path: Path, *, clock: Clock, activity: Activity) -> None:
        super().__init__(path, clock=clock)
        self._activity = activity
        self.dead = False

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self.dead:
            raise JournalError("the kiosk process crashed (simulated): no more writes")
        self._activity.begin()
        try:
            return await super().call(fn, *args, **kwargs)
        finally:
            self._activity.end()


@dataclass(frozen=True)
class CrashPoint:
    """The kiosk process dies when it sends a matching request: ``before`` the device
    gets it (the intent is journalled, nothing was sent), or ``after`` the device acted
    on it and before its answer reached the kiosk."""

    service: str
    path: str  # relative to the service's prefix; a trailing * matches a prefix
    when: Literal["before", "after"]
    method: str | None = None

    def matches(self, service: str, method: str, path: str) -> bool:
        if service != self.service or (self.method is not None and method != self.method):
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path


class TrackedFaults(FaultInjector):
    """The simulators' fault injector, whose middleware (the outermost of every vendor
    app) also counts each request in progress as activity, delayed answers included,
    and plays a crash of the kiosk process: from the crash point on, no request of the
    dead process reaches a device (each is dropped) until :meth:`revive`."""

    def __init__(self, activity: Activity) -> None:
        super().__init__()
        self._activity = activity
        self.crash_point: CrashPoint | None = None
        self.on_crash: Callable[[], None] = lambda: None
        self.dead = False

    def revive(self) -> None:
        self.dead = False

    def _kill(self) -> None:
        self.crash_point = None
        self.dead = True
        self.on_crash()

    def middleware(self, service: SimService) -> Middleware:
        inner = super().middleware(service)
        activity = self._activity

        def drop(request: web.Request) -> web.StreamResponse:
            transport = request.transport
            if transport is not None:
                transport.close()
            return web.Response(status=499)

        @web.middleware
        async def tracked(request: web.Request, handler: Handler) -> web.StreamResponse:
            activity.begin()
            try:
                if self.dead:
                    return drop(request)
                point = self.crash_point
                path = request.path[len(service.prefix) :] or "/"
                if point is not None and point.matches(service.name, request.method, path):
                    if point.when == "after":
                        await inner(request, handler)  # the device acts; the answer is lost
                    self._kill()
                    return drop(request)
                return await inner(request, handler)
            finally:
                activity.end()

        return tracked


class _Stuck(Exception):
    """The kiosk did not come to rest within SETTLE_LIMIT_S real seconds."""


# -- what the flow showed ------------------------------------------------------------------


class Recorder:
    """Every snapshot's gist, as the flow publishes it: screens entered, sales seen,
    payment attempts started (each entry of PAYING, or a switch of method in it)."""

    def __init__(self) -> None:
        self.states: list[State] = []
        self.sale_ids: list[str] = []
        self.pay_entries = 0
        self.errors: list[str] = []  # the ERROR screens' message keys
        self._last: FlowSnapshot | None = None

    def __call__(self, snap: FlowSnapshot) -> None:
        last = self._last
        if last is None or snap.state is not last.state:
            self.states.append(snap.state)
        if (
            snap.state is State.ERROR
            and snap.error is not None
            and (last is None or last.state is not State.ERROR)
        ):
            self.errors.append(snap.error.key)
        if snap.state is State.PAYING and (
            last is None
            or last.state is not State.PAYING
            or last.payment_method != snap.payment_method
        ):
            self.pay_entries += 1
        if snap.sale_id is not None and snap.sale_id not in self.sale_ids[-3:]:
            self.sale_ids.append(snap.sale_id)
        self._last = snap

    def mark(self) -> tuple[int, int]:
        return len(self.states), len(self.sale_ids)


# -- the customer --------------------------------------------------------------------------

Step = Literal[
    "choosing", "identifying", "id_confirm", "payment_choice", "paying_cash", "paying_card"
]
STEPS: tuple[Step, ...] = (
    "choosing",
    "identifying",
    "id_confirm",
    "payment_choice",
    "paying_cash",
    "paying_card",
)
CardAction = Literal["approve", "decline", "cancel_kiosk", "cancel_terminal", "walk_away"]

#: Cards of the CardAPI simulator's fixture a customer may hold that cannot pay.
UNKNOWN_CARD = "7001999999999"  # CARD-14: pass not found
EXPIRED_CARD = "7001000000999"
LOYALTY_CARD = "7002000000042"


@dataclass
class CustomerPlan:
    """One customer, drawn from the journey's seed."""

    product_pick: float
    identify: Literal["skip", "card", "bad_then_skip", "bad_then_card"]
    bad_card: str
    read_on_terminal: bool
    use_cashback: bool
    cashback_balance_minor: int
    rescan_id: bool
    pay: Literal["cash", "card", "mixed"]
    cancel_at: Step | None
    walk_away_at: Step | None
    dawdle_at: Step | None
    more_time: int
    notes_before_leaving: int
    press_finish: bool
    force_decline: bool = False

    @classmethod
    def draw(cls, rng: random.Random) -> CustomerPlan:
        identify = rng.choices(
            ("skip", "card", "bad_then_skip", "bad_then_card"), weights=(55, 30, 7, 8)
        )[0]
        balance = rng.choice((0, 50, 654, 1000, 2500, 5000, rng.randrange(1, 6000)))
        step_weights = (2, 2, 1, 2, 3, 2)
        cancel_at = rng.choices(STEPS, step_weights)[0] if rng.random() < 0.12 else None
        walk_away_at = rng.choices(STEPS, step_weights)[0] if rng.random() < 0.08 else None
        dawdle_at = rng.choices(STEPS[:5], (3, 2, 1, 2, 1))[0] if rng.random() < 0.1 else None
        return cls(
            product_pick=rng.random(),
            identify=identify,  # type: ignore[arg-type]
            bad_card=rng.choice((UNKNOWN_CARD, EXPIRED_CARD, LOYALTY_CARD)),
            read_on_terminal=rng.random() < 0.5,
            use_cashback=rng.random() < 0.7,
            cashback_balance_minor=balance,
            rescan_id=rng.random() < 0.2,
            pay=rng.choices(("cash", "card", "mixed"), weights=(45, 35, 20))[0],
            cancel_at=cancel_at,
            walk_away_at=walk_away_at,
            dawdle_at=dawdle_at,
            more_time=rng.randint(1, 3),
            notes_before_leaving=rng.randint(0, 2),
            press_finish=rng.random() < 0.5,
        )


@dataclass
class Decision:
    """What the customer is about to do; ``run`` returns False when it could not be done
    (the device was not ready): the customer tries again later."""

    what: str
    run: Callable[[], Awaitable[bool]]
    think_s: float = 0.0


class Customer:
    """Plays one customer at the kiosk: reads the flow's snapshot, decides, acts."""

    def __init__(self, sim: Simulation, rng: random.Random, plan: CustomerPlan, number: int):
        self.sim = sim
        self.rng = rng
        self.plan = plan
        self.card_number = f"7009{number:09d}"
        self.gone = False
        self.more_time_left = plan.more_time
        self.did_cancel = False
        self.bad_card_tried = False
        self.rescanned = False
        self.acted_attempt = -1
        self.acted_result: CardAction | None = None
        self.terminal_cancel_pressed = -1
        self.card_tries = 0
        self.failed_inserts = 0
        self.too_big_left = 2
        self.last_seq = -1
        self.actions: list[str] = []

    # -- helpers -------------------------------------------------------------------------
    def _think(self) -> float:
        r = self.rng.random()
        if r < 0.6:
            return self.rng.uniform(0.0, 3.0)
        if r < 0.95:
            return self.rng.uniform(3.0, 12.0)
        return self.rng.uniform(12.0, 35.0)

    def _submit(self, what: str, intent: Intent, think: bool = True) -> Decision:
        sim = self.sim

        async def run() -> bool:
            if isinstance(intent, PayWith) and intent.method != "cash":
                sim.card_chosen += 1
            sim.flow.submit(intent)
            return True

        return Decision(what, run, self._think() if think else 0.0)

    def _card_method(self, snap: FlowSnapshot) -> str | None:
        return next((m for m in snap.methods_offered if m != "cash"), None)

    def _step_of(self, snap: FlowSnapshot) -> Step | None:
        state = snap.state
        if state is State.CHOOSING:
            return "choosing"
        if state is State.IDENTIFYING:
            return "identifying"
        if state is State.ID_CONFIRM:
            return "id_confirm"
        if state is State.PAYMENT_CHOICE:
            return "payment_choice"
        if state is State.PAYING:
            return "paying_cash" if snap.payment_method == "cash" else "paying_card"
        return None

    # -- deciding ------------------------------------------------------------------------
    def decide(self, snap: FlowSnapshot) -> Decision | None:
        """The customer's next action on this screen, or None: they wait (time passes)."""
        if self.gone or snap.seq == self.last_seq:
            return None
        step = self._step_of(snap)
        plan = self.plan
        if step is not None and step == plan.dawdle_at and self.more_time_left > 0:
            if snap.idle_warning is None:
                return None  # dawdling until the warning shows
            self.more_time_left -= 1
            return self._submit("more_time", MoreTime())
        if step is not None and step == plan.walk_away_at and self._ready_to_leave(snap, step):
            self.gone = True
            self.actions.append(f"walk_away@{step}")
            return None
        if (
            step is not None
            and step == plan.cancel_at
            and not self.did_cancel
            and self._ready_to_leave(snap, step)
            and (snap.can_cancel or step == "paying_card")
        ):
            self.did_cancel = True
            if step == "paying_card" and not snap.can_cancel:
                return self._cancel_on_terminal(snap)
            return self._submit("cancel", Cancel())
        if snap.idle_warning is not None and self.rng.random() < 0.5:
            return self._submit("more_time", MoreTime())
        state = snap.state
        if state is State.CHOOSING:
            return self._choose(snap)
        if state is State.IDENTIFYING:
            return self._identify(snap)
        if state is State.ID_CONFIRM:
            ok = not (self.plan.rescan_id and not self.rescanned)
            self.rescanned = True
            return self._submit("confirm_id" if ok else "rescan_id", ConfirmId(ok))
        if state is State.PAYMENT_CHOICE:
            return self._choose_payment(snap)
        if state is State.PAYING:
            if snap.payment_method == "cash":
                return self._pay_cash(snap)
            return self._pay_card(snap)
        if state in (State.THANK_YOU, State.ERROR) and self.plan.press_finish:
            return self._submit("finish", Finish())
        return None

    def _ready_to_leave(self, snap: FlowSnapshot, step: Step) -> bool:
        """Leave once there is something to leave: a note or two in, the terminal waiting."""
        if step == "paying_cash":
            phase = snap.payment_status.phase if snap.payment_status else None
            paid = snap.amount_paid.minor if snap.amount_paid else 0
            smallest = self.sim.smallest_note
            target = self.plan.notes_before_leaving * smallest
            remaining = snap.amount_remaining.minor if snap.amount_remaining else 0
            return phase in ("waiting_for_customer", "note_accepted", "note_returned") and (
                paid >= target or remaining < smallest
            )
        if step == "paying_card":
            phase = snap.payment_status.phase if snap.payment_status else None
            return phase == "waiting_for_customer"
        return True

    def _choose(self, snap: FlowSnapshot) -> Decision:
        available = [c for c in snap.catalogue if c.available]
        if not available:
            return self._submit("cancel_nothing_to_buy", Cancel())
        item = available[int(self.plan.product_pick * len(available)) % len(available)]
        return self._submit(f"choose_{item.sku}", ChooseProduct(item.sku))

    def _identify(self, snap: FlowSnapshot) -> Decision | None:
        plan = self.plan
        phase = snap.identify_phase
        wants_card = plan.identify != "skip"
        if phase == "ask":
            if not wants_card:
                return self._submit("skip_card", SkipCard())
            return self._submit("have_card", HaveCard())
        if phase == "enter":
            if plan.identify in ("bad_then_skip", "bad_then_card") and not self.bad_card_tried:
                self.bad_card_tried = True
                return self._submit("bad_card", EnterCardNumber(plan.bad_card))
            if plan.identify == "bad_then_skip" or (
                snap.notice is not None and self.rng.random() < 0.3
            ):
                return self._submit("skip_card", SkipCard())
            if plan.read_on_terminal and "terminal" in snap.identify_modes:
                return self._submit("read_on_terminal", ReadCardOnTerminal())
            return self._submit("type_card", EnterCardNumber(self.card_number))
        if phase == "reading":
            return self._swipe()
        if phase == "found":
            return self._submit("use_cashback" if plan.use_cashback else "no_cashback",
                                UseCashback(plan.use_cashback))  # fmt: skip
        return None

    def _swipe(self) -> Decision:
        control = self.sim.control
        track = f";{self.card_number}?"

        async def run() -> bool:
            try:
                await control.call("POST", "/payjunction/terminal/swipe", {"track": track})
            except SimControlError:
                return False  # the terminal is not reading yet
            return True

        return Decision("swipe", run, self._think())

    def _choose_payment(self, snap: FlowSnapshot) -> Decision | None:
        offered = snap.methods_offered
        card = self._card_method(snap)
        if not offered:
            return None  # the flow ends the sale itself
        attempts = self.sim.recorder.pay_entries - self.sim.journey_pay_mark
        if attempts >= 4:
            return self._submit("cancel_after_tries", Cancel())
        if snap.notice is not None and snap.notice.key != "payment.cancelled":
            r = self.rng.random()
            if r < 0.2:
                return self._submit("cancel_after_failure", Cancel())
            if r < 0.55 and card is not None and self.card_tries < 3:
                return self._submit("retry_card", PayWith(card))
            if "cash" in offered:
                return self._submit("pay_cash", PayWith("cash"))
        plan = self.plan
        if plan.pay in ("cash", "mixed") and "cash" in offered:
            remaining = snap.amount_remaining
            if remaining is not None and remaining.minor < self.sim.smallest_note and card:
                return self._submit("pay_card_rest", PayWith(card))
            return self._submit("pay_cash", PayWith("cash"))
        if card is not None:
            return self._submit("pay_card", PayWith(card))
        if "cash" in offered:
            return self._submit("pay_cash", PayWith("cash"))
        return self._submit("cancel_no_method", Cancel())

    def _pay_cash(self, snap: FlowSnapshot) -> Decision | None:
        status = snap.payment_status
        if status is None or status.phase not in (
            "waiting_for_customer",
            "note_accepted",
            "note_returned",
        ):
            return None
        remaining = snap.amount_remaining.minor if snap.amount_remaining else 0
        if remaining <= 0:
            return None
        paid = snap.amount_paid.minor if snap.amount_paid else 0
        card = next((m for m in self.sim.card_methods_offered() if m != "cash"), None)
        notes = [d * self.sim.smallest_note // DENOMINATIONS[0] for d in DENOMINATIONS]
        fits = [n for n in notes if n <= remaining]
        if self.plan.pay == "mixed" and paid > 0 and card is not None and self.rng.random() < 0.5:
            return self._submit("switch_to_card", PayWith(card))
        if not fits:
            if card is not None and self.rng.random() < 0.8:
                return self._submit("card_for_the_rest", PayWith(card))
            if self.too_big_left > 0:
                self.too_big_left -= 1
                return self._insert(notes[0])  # more than is due: it comes back
            if status.cancellable and not self.did_cancel:
                self.did_cancel = True
                return self._submit("cancel_cannot_pay", Cancel())
            return None
        r = self.rng.random()
        if r < 0.04:
            return self._insert(None)
        if r < 0.16 and self.too_big_left > 0:
            bigger = [n for n in notes if n > remaining]
            if bigger:
                self.too_big_left -= 1
                return self._insert(bigger[0])
        note = max(fits) if self.rng.random() < 0.75 else self.rng.choice(fits)
        return self._insert(note)

    def _insert(self, minor: int | None) -> Decision:
        control = self.sim.control
        currency = self.sim.currency

        async def run() -> bool:
            try:
                if minor is None:
                    await control.insert_unrecognised()
                else:
                    await control.insert_note(Money(minor, currency).to_major())
            except SimControlError:
                self.failed_inserts += 1
                if self.failed_inserts > 30:
                    self.gone = True  # the bill reader never takes the note: they leave
                return False
            return True

        what = "insert_unrecognised" if minor is None else f"insert_{minor}"
        return Decision(what, run, self._think())

    def _pay_card(self, snap: FlowSnapshot) -> Decision | None:
        status = snap.payment_status
        phase = status.phase if status else None
        attempt = self.sim.recorder.pay_entries
        method = snap.payment_method
        if (
            phase == "cancelling"
            and method == "kinetic"
            and self.terminal_cancel_pressed != attempt
        ):
            # Kinetic has no remote cancel: the kiosk asks the customer to press Cancel.
            self.terminal_cancel_pressed = attempt
            if self.rng.random() < 0.75:
                return self._terminal("cancel_terminal", think=True)
            return None
        if phase != "waiting_for_customer" or self.acted_attempt == attempt:
            return None
        if self.acted_result is None:
            if self.plan.force_decline and self.card_tries == 0:
                action: CardAction = "decline"
            else:
                action = self.rng.choices(
                    ("approve", "decline", "cancel_kiosk", "cancel_terminal", "walk_away"),
                    weights=(82, 9, 4, 3, 2),
                )[0]
            self.acted_result = action
        action = self.acted_result
        if action == "walk_away":
            self.gone = True
            return None
        if action == "cancel_kiosk":
            if snap.can_cancel:
                self._acted(attempt)
                return self._submit("cancel_card", Cancel())
            action = "cancel_terminal"
        return self._terminal(action, attempt=attempt)

    def _acted(self, attempt: int) -> None:
        self.acted_attempt = attempt
        self.acted_result = None
        self.card_tries += 1

    def _cancel_on_terminal(self, snap: FlowSnapshot) -> Decision:
        return self._terminal("cancel_terminal", attempt=self.sim.recorder.pay_entries)

    def _terminal(self, action: CardAction, *, attempt: int | None = None, think: bool = True
                  ) -> Decision:  # fmt: skip
        sim = self.sim

        async def run() -> bool:
            done = await sim.terminal(action)
            if done and attempt is not None:
                self._acted(attempt)
            return done

        return Decision(f"card_{action}", run, self._think() if think else 0.0)


# -- faults ----------------------------------------------------------------------------------

Arm = Callable[["Simulation", random.Random], Awaitable[None]]


@dataclass(frozen=True)
class FaultKind:
    """One kind of fault: how to arm it, and how staff undo it after the journey (the
    Tecalis devices and HTTP faults are always checked). ``providers`` None: any."""

    name: str
    arm: Arm
    providers: frozenset[str] | None = None
    restore: Arm | None = None
    decline: bool = False  # the customer's first card is declined
    crash: bool = False  # the kiosk process dies mid-journey (needs recovery)
    crash_point: CrashPoint | None = None  # ... when it sends this request


def _http(service: str, path: str, fault: str, *, method: str | None = None, count: int = 1) -> Arm:
    """An HTTP fault on the next ``count`` matching requests; ``status-NNN`` answers that
    status, ``delay`` answers just after the kiosk client's own timeout."""

    async def arm(sim: Simulation, rng: random.Random) -> None:
        kind, status, seconds = fault, None, None
        if fault.startswith("status-"):
            kind, status = "status", int(fault.removeprefix("status-"))
        elif fault == "delay":
            seconds = min(MAX_FAULT_DELAY_S, sim.timeout_of(service, path) + TIMEOUT_MARGIN_S)
        await sim.control.set_fault(
            service, path, kind, method=method, seconds=seconds, status=status, count=count
        )

    return arm


def _post(path: str, body: dict[str, Any] | None = None) -> Arm:
    async def arm(sim: Simulation, rng: random.Random) -> None:
        await sim.control.call("POST", path, body)

    return arm


def _callbacks(mode: str, count: int | None = None, seconds: float | None = None) -> Arm:
    async def arm(sim: Simulation, rng: random.Random) -> None:
        await sim.control.set_callback_mode(mode, count=count, seconds=seconds)

    return arm


def _debit_error(code: str, when: str, count: int = 1) -> Arm:
    return _post(
        "/cardapi/next-error", {"code": code, "route": "debit", "when": when, "count": count}
    )


async def _nothing(sim: Simulation, rng: random.Random) -> None:
    return None


async def _cash_box_almost_full(sim: Simulation, rng: random.Random) -> None:
    state = sim.sim_state("tecalis")
    await sim.empty_cash_box()
    await sim.control.set_cash_box(count_total=int(state["cash_box"]["capacity"]) - 1)


async def _clear_debit_errors(sim: Simulation, rng: random.Random) -> None:
    await sim.control.call("DELETE", "/cardapi/next-error")


async def _callbacks_normal(sim: Simulation, rng: random.Random) -> None:
    await sim.control.set_callback_mode("normal")
    await sim.control.release_callbacks()  # late callbacks of the journey arrive now


#: (name, service, path relative to the service, fault, method, count) per provider set.
_S = "/api/session"
_HTTP_FAULTS: tuple[tuple[str, str, str, str, str | None, int], ...] = (
    ("tecalis.auth.5xx", "tecalis", "/api/auth", "status-500", None, 1),
    ("tecalis.session_start.5xx", "tecalis", f"{_S}/start", "status-500", None, 1),
    ("tecalis.session_start.drop", "tecalis", f"{_S}/start", "drop_connection", None, 1),
    ("tecalis.session_start.timeout", "tecalis", f"{_S}/start", "delay", None, 1),
    ("tecalis.session_close.5xx", "tecalis", f"{_S}/close", "status-500", None, 1),
    ("tecalis.kiosk_status.502", "tecalis", "/api/kiosk/*", "html_502", None, 1),
    ("tecalis.bill_open.503", "tecalis", f"{_S}/bill-reader/open", "status-503", None, 1),
    ("tecalis.bill_open.drop", "tecalis", f"{_S}/bill-reader/open", "drop_connection", None, 1),
    ("tecalis.bill_status.malformed", "tecalis", f"{_S}/bill-reader/status", "malformed_json",
     None, 3),
    ("tecalis.bill_accept.drop", "tecalis", f"{_S}/bill-reader/accept", "drop_connection",
     None, 1),
    ("tecalis.bill_accept.timeout", "tecalis", f"{_S}/bill-reader/accept", "delay", None, 1),
    ("tecalis.bill_accept.5xx", "tecalis", f"{_S}/bill-reader/accept", "status-500", None, 1),
    ("tecalis.bill_reject.5xx", "tecalis", f"{_S}/bill-reader/reject", "status-500", None, 1),
    ("tecalis.bill_close.5xx", "tecalis", f"{_S}/bill-reader/close", "status-500", None, 1),
    ("tecalis.bill_close.drop", "tecalis", f"{_S}/bill-reader/close", "drop_connection",
     None, 1),
    ("tecalis.prepare.5xx", "tecalis", f"{_S}/dispenser/prepare", "status-500", None, 1),
    ("tecalis.prepare.timeout", "tecalis", f"{_S}/dispenser/prepare", "delay", None, 1),
    ("tecalis.barcode.malformed", "tecalis", f"{_S}/barcode-reader/read", "malformed_json",
     None, 1),
    ("tecalis.dispense.drop", "tecalis", f"{_S}/dispenser/dispense", "drop_connection",
     None, 1),
    ("tecalis.dispense.timeout", "tecalis", f"{_S}/dispenser/dispense", "delay", None, 1),
    ("tecalis.dispense.409", "tecalis", f"{_S}/dispenser/dispense", "status-409", None, 1),
    ("tecalis.dispense.5xx", "tecalis", f"{_S}/dispenser/dispense", "status-500", None, 1),
    ("tecalis.discard.5xx", "tecalis", f"{_S}/dispenser/discard", "status-500", None, 1),
    ("tecalis.print.drop", "tecalis", f"{_S}/printer/print-pdf", "drop_connection", None, 1),
    ("tecalis.print.5xx", "tecalis", f"{_S}/printer/print-pdf", "status-500", None, 1),
    ("tecalis.print.timeout", "tecalis", f"{_S}/printer/print-pdf", "delay", None, 1),
    ("tecalis.scan.503", "tecalis", f"{_S}/scanner/scan", "status-503", None, 1),
    ("tecalis.scan.malformed", "tecalis", f"{_S}/scanner/scan", "malformed_json", None, 1),
    ("cardapi.search.5xx", "cardapi", "/cards", "status-500", None, 1),
    ("cardapi.search.malformed", "cardapi", "/cards", "malformed_json", None, 1),
    ("cardapi.search.drop", "cardapi", "/cards", "drop_connection", None, 1),
    ("cardapi.debit.drop", "cardapi", "/cards/cashback/debit", "drop_connection", None, 1),
    ("cardapi.debit.timeout", "cardapi", "/cards/cashback/debit", "delay", None, 1),
    ("cardapi.debit.malformed", "cardapi", "/cards/cashback/debit", "malformed_json", None, 1),
)  # fmt: skip
_TPV_HTTP_FAULTS: tuple[tuple[str, str, str, str, str | None, int], ...] = (
    ("tecalis.tpv_prepare.5xx", "tecalis", f"{_S}/tpv/prepare", "status-500", None, 1),
    ("tecalis.tpv_prepare.drop", "tecalis", f"{_S}/tpv/prepare", "drop_connection", None, 1),
    ("tecalis.tpv_prepare.timeout", "tecalis", f"{_S}/tpv/prepare", "delay", None, 1),
    ("tecalis.tpv_status.malformed", "tecalis", f"{_S}/tpv/status", "malformed_json", None, 2),
    ("tecalis.tpv_cancel.5xx", "tecalis", f"{_S}/tpv/cancel", "status-500", None, 1),
)  # fmt: skip
_TX = "/transactions"
_KINETIC_HTTP_FAULTS: tuple[tuple[str, str, str, str, str | None, int], ...] = (
    ("kinetic.sale.5xx", "kinetic", f"{_TX}/sale.json", "status-500", "POST", 1),
    ("kinetic.sale.drop", "kinetic", f"{_TX}/sale.json", "drop_connection", "POST", 1),
    ("kinetic.sale.timeout", "kinetic", f"{_TX}/sale.json", "delay", "POST", 1),
    ("kinetic.poll.malformed", "kinetic", f"{_TX}/*", "malformed_json", "GET", 2),
    ("kinetic.reversal.5xx", "kinetic", f"{_TX}/reversal.json", "status-500", "POST", 1),
)
_KOMOJU_HTTP_FAULTS: tuple[tuple[str, str, str, str, str | None, int], ...] = (
    ("komoju.create.5xx", "komoju", "/api/v1/sessions", "status-500", "POST", 1),
    ("komoju.create.drop", "komoju", "/api/v1/sessions", "drop_connection", "POST", 1),
    ("komoju.poll.malformed", "komoju", "/api/v1/sessions/*", "malformed_json", "GET", 2),
    ("komoju.push.5xx", "komoju", "/api/v1/terminals/*", "status-500", None, 1),
    ("komoju.push.timeout", "komoju", "/api/v1/terminals/*", "delay", None, 1),
    ("komoju.refund.5xx", "komoju", "/api/v1/payments/*", "status-500", None, 1),
)
_PJ_HTTP_FAULTS: tuple[tuple[str, str, str, str, str | None, int], ...] = (
    ("payjunction.request.5xx", "payjunction", "/smartterminals/*", "status-500", "POST", 1),
    ("payjunction.request.drop", "payjunction", "/smartterminals/*", "drop_connection", "POST",
     1),
    ("payjunction.poll.malformed", "payjunction", "/smartterminals/*", "malformed_json", "GET",
     2),
    ("payjunction.void.5xx", "payjunction", "/transactions/*", "status-500", "PUT", 1),
)  # fmt: skip


def _fault_kinds() -> list[FaultKind]:
    tpv = frozenset({"tpv"})
    kinetic = frozenset({"kinetic"})
    km = frozenset({"komoju"})
    pj = frozenset({"payjunction"})
    kinds: list[FaultKind] = []
    for table, providers in (
        (_HTTP_FAULTS, None),
        (_TPV_HTTP_FAULTS, tpv),
        (_KINETIC_HTTP_FAULTS, kinetic),
        (_KOMOJU_HTTP_FAULTS, km),
        (_PJ_HTTP_FAULTS, pj),
    ):
        for name, service, path, fault, method, count in table:
            arm = _http(service, path, fault, method=method, count=count)
            kinds.append(FaultKind(name, arm, providers))
    clear_debit_errors = _clear_debit_errors
    tpv_auto_off = _post("/tecalis/tpv/auto", {"outcome": None})
    kinetic_normal = _post("/kinetic/reversals", {"outcome": "approve"})
    kinds += [
        FaultKind("device.bill_jam_on_accept",
                  _post("/tecalis/bill-reader/jam", {"when": "on_accept"})),
        FaultKind("device.bill_jam_now", _post("/tecalis/bill-reader/jam", {"when": "now"})),
        FaultKind("device.bill_reader_offline",
                  _post("/tecalis/devices/bill_reader/offline", {"offline": True})),
        FaultKind("device.cash_box_almost_full", _cash_box_almost_full),
        FaultKind("device.dispenser_jam", _post("/tecalis/dispenser", {"jam_next": True})),
        FaultKind("device.barcode_unreadable",
                  _post("/tecalis/dispenser", {"unreadable_next": 1})),
        FaultKind("device.barcode_unreadable_x3",
                  _post("/tecalis/dispenser", {"unreadable_next": 3})),
        FaultKind("device.hopper_empty", _post("/tecalis/dispenser", {"hopper": 0})),
        FaultKind("device.hopper_runs_out",
                  _post("/tecalis/dispenser", {"hopper": 1, "unreadable_next": 1})),
        FaultKind("device.dispenser_offline",
                  _post("/tecalis/devices/dispenser/offline", {"offline": True})),
        FaultKind("device.paper_out", _post("/tecalis/printer", {"paper": "out"})),
        FaultKind("device.printer_offline", _post("/tecalis/printer", {"offline": True})),
        FaultKind("device.scanner_offline", _post("/tecalis/scanner", {"offline": True})),
        FaultKind("device.tpv_offline", _post("/tecalis/devices/tpv/offline", {"offline": True}),
                  tpv),
        FaultKind("card.tpv_error", _post("/tecalis/tpv/auto", {"outcome": "error"}), tpv,
                  restore=tpv_auto_off),
        FaultKind("card.tpv_timeout", _post("/tecalis/tpv/auto", {"outcome": "timeout"}), tpv,
                  restore=tpv_auto_off),
        FaultKind("card.decline", _nothing, decline=True),
        FaultKind("cardapi.debit.answer_lost", _debit_error("CARD-1", "after"),
                  restore=clear_debit_errors),
        FaultKind("cardapi.debit.answer_lost_x3", _debit_error("CARD-1", "after", 3),
                  restore=clear_debit_errors),
        FaultKind("cardapi.debit.refused", _debit_error("CARD-1", "before"),
                  restore=clear_debit_errors),
        FaultKind("cardapi.debit.down", _debit_error("CARD-1", "before", 100),
                  restore=clear_debit_errors),
        FaultKind("cardapi.debit.invalid", _debit_error("CARD-3", "before"),
                  restore=clear_debit_errors),
        FaultKind("callbacks.drop", _callbacks("drop", count=3), restore=_callbacks_normal),
        FaultKind("callbacks.drop_all", _callbacks("drop"), restore=_callbacks_normal),
        FaultKind("callbacks.duplicate", _callbacks("duplicate", count=6),
                  restore=_callbacks_normal),
        FaultKind("callbacks.delay", _callbacks("delay", count=4, seconds=7.0),
                  restore=_callbacks_normal),
        FaultKind("callbacks.hold", _callbacks("hold"), restore=_callbacks_normal),
        FaultKind("callbacks.bad_signature", _callbacks("bad_signature", count=3),
                  restore=_callbacks_normal),
        FaultKind("kinetic.reversal_declined", _post("/kinetic/reversals", {"outcome": "decline"}),
                  kinetic, restore=kinetic_normal),
        FaultKind("kinetic.terminal_error", _post("/kinetic/auto", {"outcome": "error"}), kinetic,
                  restore=_post("/kinetic/auto", {"outcome": None})),
        FaultKind("kinetic.offline", _post("/kinetic/offline", {"offline": True}), kinetic,
                  restore=_post("/kinetic/offline", {"offline": False})),
        FaultKind("komoju.terminal_offline", _post("/komoju/terminal", {"offline": True}), km,
                  restore=_post("/komoju/terminal", {"offline": False})),
        FaultKind("payjunction.terminal_busy", _post("/payjunction/terminal", {"busy": True}), pj,
                  restore=_post("/payjunction/terminal", {"busy": False})),
        FaultKind("payjunction.terminal_offline", _post("/payjunction/terminal",
                  {"online": False}), pj, restore=_post("/payjunction/terminal", {"online": True})),
        FaultKind("crash.idle", _nothing, crash=True),
    ]  # fmt: skip
    for name, service, path, when, method, providers in _CRASH_POINTS:
        point = CrashPoint(service, path, when, method)  # type: ignore[arg-type]
        kinds.append(FaultKind(f"crash.{name}.{when}", _arm_crash(point), providers,
                               restore=_disarm_crash, crash=True, crash_point=point))  # fmt: skip
    return kinds


def _arm_crash(point: CrashPoint) -> Arm:
    async def arm(sim: Simulation, rng: random.Random) -> None:
        sim.faults.crash_point = point

    return arm


async def _disarm_crash(sim: Simulation, rng: random.Random) -> None:
    sim.faults.crash_point = None


_ANY: frozenset[str] | None = None
#: (name, service, path, before/after, method, providers): where the kiosk may die.
_CRASH_POINTS: tuple[tuple[str, str, str, str, str | None, frozenset[str] | None], ...] = (
    ("session_start", "tecalis", f"{_S}/start", "after", None, _ANY),
    ("card_prepare", "tecalis", f"{_S}/dispenser/prepare", "after", None, _ANY),
    ("bill_open", "tecalis", f"{_S}/bill-reader/open", "after", None, _ANY),
    ("bill_accept", "tecalis", f"{_S}/bill-reader/accept", "before", None, _ANY),
    ("bill_accept", "tecalis", f"{_S}/bill-reader/accept", "after", None, _ANY),
    ("debit", "cardapi", "/cards/cashback/debit", "before", None, _ANY),
    ("debit", "cardapi", "/cards/cashback/debit", "after", None, _ANY),
    ("dispense", "tecalis", f"{_S}/dispenser/dispense", "before", None, _ANY),
    ("dispense", "tecalis", f"{_S}/dispenser/dispense", "after", None, _ANY),
    ("discard", "tecalis", f"{_S}/dispenser/discard", "after", None, _ANY),
    ("print", "tecalis", f"{_S}/printer/print-pdf", "after", None, _ANY),
    ("tpv_prepare", "tecalis", f"{_S}/tpv/prepare", "after", None, frozenset({"tpv"})),
    ("tpv_status", "tecalis", f"{_S}/tpv/status", "after", None, frozenset({"tpv"})),
    ("kinetic_sale", "kinetic", f"{_TX}/sale.json", "after", "POST", frozenset({"kinetic"})),
    ("kinetic_poll", "kinetic", f"{_TX}/*", "after", "GET", frozenset({"kinetic"})),
    ("kinetic_reversal", "kinetic", f"{_TX}/reversal.json", "after", "POST",
     frozenset({"kinetic"})),
    ("komoju_session", "komoju", "/api/v1/sessions", "after", "POST", frozenset({"komoju"})),
    ("komoju_push", "komoju", "/api/v1/terminals/*", "after", None, frozenset({"komoju"})),
    ("komoju_refund", "komoju", "/api/v1/payments/*", "after", None, frozenset({"komoju"})),
    ("pj_request", "payjunction", "/smartterminals/*", "after", "POST",
     frozenset({"payjunction"})),
    ("pj_void", "payjunction", "/transactions/*", "after", "PUT", frozenset({"payjunction"})),
)  # fmt: skip


#: Every fault kind the driver knows, by name.
FAULT_KINDS: dict[str, FaultKind] = {k.name: k for k in _fault_kinds()}


def applicable_faults(provider: str, recovery: bool) -> list[FaultKind]:
    """The kinds that apply to this card provider (``crash`` only with recovery)."""
    return [
        kind
        for kind in FAULT_KINDS.values()
        if (kind.providers is None or provider in kind.providers) and (recovery or not kind.crash)
    ]


# -- recovery (core/recovery.py, when it exists) -------------------------------------------


def recovery_entry() -> Callable[[Devices, Journal, Clock], Awaitable[object]] | None:
    """How to run ``kioskapp.core.recovery.recover_all`` on a kiosk, when that module can
    be imported: its services built by ``RecoveryServices.from_devices``."""
    if importlib.util.find_spec("kioskapp.core.recovery") is None:
        return None
    try:
        module = importlib.import_module("kioskapp.core.recovery")
    except Exception as exc:  # noqa: BLE001 - a broken module is reported, not fatal
        log.error("simulate: kioskapp.core.recovery does not import: %s", exc)
        return None
    recover_all = getattr(module, "recover_all", None)
    services = getattr(module, "RecoveryServices", None)
    from_devices = getattr(services, "from_devices", None)
    if not callable(recover_all) or not callable(from_devices):
        log.error("simulate: kioskapp.core.recovery has no recover_all/RecoveryServices")
        return None

    async def run(devices: Devices, journal: Journal, clock: Clock) -> object:
        return await recover_all(from_devices(devices, journal, clock=clock))

    return run


# -- the simulation ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def simulation_config(
    options: SimulationOptions, sim_base_url: str, state_dir: Path, listen_port: int
) -> Config:
    """The kiosk's config for a simulation: the file's (or the defaults), with every
    endpoint on the in-process simulators and the callback receiver on ``listen_port``."""
    base = sim_base_url
    env: dict[str, str] = {k: v for k, v in options.env.items() if k.startswith("KIOSKAPP_")}
    env.update(simulation_overrides(base, state_dir))
    env.update({
        "KIOSKAPP_CALLBACKS__LISTEN_HOST": "127.0.0.1",
        "KIOSKAPP_CALLBACKS__LISTEN_PORT": str(listen_port),
        "KIOSKAPP_CALLBACKS__PUBLIC_URL": f"http://127.0.0.1:{listen_port}",
        "KIOSKAPP_SERIAL_READER__ENABLED": "false",
    })  # fmt: skip
    if options.provider is not None:
        env["KIOSKAPP_PAYMENTS__CARD_PROVIDER"] = options.provider
    if options.config_path is None:
        fast = str(FAST_TIMEOUT_S)
        for key in (
            "TECALIS__TIMEOUT_S", "TECALIS__CONNECT_TIMEOUT_S", "CARDAPI__TIMEOUT_S",
            "KINETIC__TIMEOUT_S", "KOMOJU__TIMEOUT_S", "PAYJUNCTION__TIMEOUT_S",
        ):  # fmt: skip
            env.setdefault(f"KIOSKAPP_{key}", fast)
        env.setdefault("KIOSKAPP_TECALIS__PRINT_TIMEOUT_S", str(2 * FAST_TIMEOUT_S))
        env.setdefault("KIOSKAPP_TECALIS__SCAN_TIMEOUT_S", str(2 * FAST_TIMEOUT_S))
    return load_config(options.config_path, env=env)


class ErrorLog(logging.Handler):
    """Counts what the kiosk logs at ERROR and above; keeps the flow's crash reports."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.counts: Counter[str] = Counter()
        self.crashes: list[str] = []
        self.samples: list[str] = []
        self.journey = 0
        self.muted = False  # a simulated crash: what the dying kiosk logs is expected

    def emit(self, record: logging.LogRecord) -> None:
        if self.muted:
            return
        self.counts[f"{record.name}: {str(record.msg)[:70]}"] += 1
        if len(self.samples) < 20:
            self.samples.append(f"journey {self.journey}: {record.getMessage()[:200]}")
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            self.crashes.append(
                f"journey {self.journey}: {record.getMessage()}: {type(exc).__name__}: {exc}"
            )


@dataclass
class JourneyResult:
    number: int
    outcome: str
    fault: str | None
    problems: list[str]
    actions: list[str]
    states: list[State]
    errors: list[str]  # message keys of the ERROR screens shown
    sim_s: float


class Simulation:
    """One kiosk on the simulators, driven journey by journey. See the module docstring."""

    def __init__(self, options: SimulationOptions, state_dir: Path, errors: ErrorLog) -> None:
        self.options = options
        self.errors = errors
        self._devices_open = False
        self.state_dir = state_dir
        self.clock = ControlledClock(start=SIM_EPOCH, speed=None)
        self.activity = Activity()
        self.server: SimServer = build_simulators(self.clock)
        self.faults = TrackedFaults(self.activity)
        self.faults.on_crash = self._crashed
        self.server.faults = self.faults
        self.crash_pending = False
        self.recorder = Recorder()
        self.journey_pay_mark = 0
        self._stack = contextlib.AsyncExitStack()
        self._flow: Flow | None = None
        self._flow_task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._devices: Devices | None = None
        self._journal: TrackedJournal | None = None
        self._control: SimControl | None = None
        self.config: Config | None = None
        self.recovery = recovery_entry()
        self.recovery_report = "not run"
        self.recoveries: list[str] = []  # what recovery did after each restart
        self.recovered: Counter[str] = Counter()  # recovery's decisions, all restarts
        self._barcodes = 0
        self._armed: FaultKind | None = None
        self.payments: Counter[str] = Counter()  # "<method> <outcome>" of every payment
        self.card_chosen = 0  # times a customer chose to pay by card
        self._cash_base: tuple[int, int] | None = None
        # Card money, cumulative: as the terminal saw it, as the journal has it, and what
        # incidents told staff to check.
        self._terminal_net = 0
        self._journal_card_net = 0
        self._card_flagged = 0
        self._card_gap_reported = 0
        self._tpv_events_seen = 0

    # -- the parts --------------------------------------------------------------------
    @property
    def flow(self) -> Flow:
        assert self._flow is not None
        return self._flow

    @property
    def devices(self) -> Devices:
        assert self._devices is not None
        return self._devices

    @property
    def journal(self) -> TrackedJournal:
        assert self._journal is not None
        return self._journal

    @property
    def control(self) -> SimControl:
        assert self._control is not None
        return self._control

    @property
    def cfg(self) -> Config:
        assert self.config is not None
        return self.config

    @property
    def currency(self) -> str:
        return self.cfg.kiosk.currency

    @property
    def smallest_note(self) -> int:
        """The smallest banknote the bill reader takes, in minor units."""
        return Money.from_major(DENOMINATIONS[0], self.currency).minor

    @property
    def provider(self) -> str:
        return self.cfg.payments.card_provider

    def sim_state(self, service: str) -> dict[str, Any]:
        """A simulator's whole state, read in-process (what ``GET /_sim/<name>/state``
        answers, without the JSON round trip over an ever longer history)."""
        return self.server.services[service].snapshot()

    def card_methods_offered(self) -> tuple[str, ...]:
        return self.flow.snapshot.methods_offered or tuple(
            name for name, method in self.devices.payment_methods.items()
            if method.health().ok is not False
        )  # fmt: skip

    def timeout_of(self, service: str, path: str) -> float:
        """The kiosk client's HTTP timeout for a route (what a "timeout" fault must outlast)."""
        cfg = self.cfg
        if service == "tecalis":
            if path.endswith("print-pdf"):
                return cfg.tecalis.print_timeout_s
            if path.endswith("scan"):
                return cfg.tecalis.scan_timeout_s
            return cfg.tecalis.timeout_s
        timeouts = {
            "cardapi": cfg.cardapi.timeout_s,
            "kinetic": cfg.kinetic.timeout_s,
            "komoju": cfg.komoju.timeout_s,
            "payjunction": cfg.payjunction.timeout_s,
        }
        return timeouts[service]

    # -- lifecycle ----------------------------------------------------------------------
    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        executor = TrackedExecutor(self.activity, loop)
        loop.set_default_executor(executor)
        self._stack.callback(loop.set_default_executor, ThreadPoolExecutor())
        self._stack.callback(executor.shutdown, wait=False)
        await self.server.start()
        self._stack.push_async_callback(self.server.stop)
        port = httpx.URL(self.server.base_url).port
        assert port is not None
        self._stack.enter_context(counted_http(self.activity, port))
        self._control = SimControl(self.server.base_url)
        self._stack.push_async_callback(self._control.aclose)
        self.config = simulation_config(
            self.options, self.server.base_url, self.state_dir, _free_port()
        )
        await self._open_kiosk()
        await self._register_webhooks()
        self.recovery_report = await self._recover()
        self._start_flow()

    async def _open_kiosk(self) -> None:
        self._devices = await open_devices(self.cfg, clock=self.clock, state_dir=self.state_dir)
        self._devices_open = True
        self._journal = TrackedJournal(
            self.cfg.journal.path, clock=self.clock, activity=self.activity
        )

    async def _register_webhooks(self) -> None:
        receiver = self.devices.receiver
        await self.control.call(
            "POST", "/komoju/webhook", {"url": receiver.url_for(komoju.WEBHOOK_PATH)}
        )
        await self.control.call(
            "POST", "/payjunction/webhook", {"url": receiver.url_for(payjunction.WEBHOOK_PATH)}
        )

    def _start_flow(self) -> None:
        # stop_grace_s (real seconds) bounds a crash's teardown: the clock is driven meanwhile.
        settings = replace(FlowSettings.from_config(self.cfg), stop_grace_s=2.0)
        services = FlowServices.from_devices(
            self.devices, self.journal, clock=self.clock, settings=settings
        )
        flow = Flow(services)
        self._unsubscribe = flow.on_change(self.recorder)
        self.recorder(flow.snapshot)
        self._flow = flow
        self._flow_task = asyncio.create_task(flow.run(), name="simulate-flow")

    async def _stop_flow(self) -> None:
        flow, task = self._flow, self._flow_task
        if flow is None or task is None:
            return
        stopping = asyncio.ensure_future(flow.stop())
        with contextlib.suppress(Exception):
            await self.drive(stopping, budget_s=RESTORE_BUDGET_S)
        if not stopping.done():
            stopping.cancel()
        with contextlib.suppress(BaseException):
            await stopping
        with contextlib.suppress(BaseException):
            await task
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._flow_task = None

    async def _close_devices(self) -> None:
        devices, self._devices_open = self._devices, False
        if devices is not None:
            with contextlib.suppress(Exception):
                await self.drive(asyncio.ensure_future(devices.aclose()), RESTORE_BUDGET_S)

    async def _close_kiosk(self) -> None:
        if self._devices_open:
            await self._close_devices()
        self._devices = None
        if self._journal is not None:
            self._journal.dead = False
            await self._journal.aclose()
            self._journal = None

    async def aclose(self) -> None:
        try:
            await self._stop_flow()
            await self._close_kiosk()
        finally:
            await self._stack.aclose()

    def _crashed(self) -> None:
        """The crash instant (see TrackedFaults): nothing more is journalled from now on."""
        self.errors.muted = True
        self.crash_pending = True
        if self._journal is not None:
            self._journal.dead = True
        if self._unsubscribe is not None:  # what the dead flow shows is not on any screen
            self._unsubscribe()
            self._unsubscribe = None

    async def restart(self, *, crash: bool) -> None:
        """The kiosk process ends (a crash: nothing more reaches the journal) and starts
        again on the same journal and hardware: new clients, recovery, a new flow."""
        self.errors.muted = crash
        self.crash_pending = False
        try:
            if crash:
                # From this instant nothing more is written or sent by this process.
                self.journal.dead = True
                self.faults.dead = True
                if self._unsubscribe is not None:
                    self._unsubscribe()
                    self._unsubscribe = None
                # The device keeps its session. (A callback being handled may hold the
                # client until its retry's clock wait passes: drive the clock meanwhile.)
                await self.drive(
                    asyncio.ensure_future(self.devices.tecalis.detach()), RESTORE_BUDGET_S
                )
                await self._close_devices()
            await self._stop_flow()
            await self._close_kiosk()
        finally:
            self.errors.muted = False
            self.faults.revive()
        await self._open_kiosk()
        await self._register_webhooks()
        self.recoveries.append(await self._recover())
        self._start_flow()

    async def _recover(self) -> str:
        """Run crash recovery on the kiosk as it starts; what it did, in a few words."""
        entry = self.recovery
        if entry is None:
            return "not available (kioskapp.core.recovery is not importable)"
        work = asyncio.ensure_future(entry(self.devices, self.journal, self.clock))
        try:
            report = await self.drive(work, RESTORE_BUDGET_S)
        except Exception as exc:
            log.exception("simulate: recover_all failed")
            return f"recover_all failed: {type(exc).__name__}: {exc}"
        sales = getattr(report, "sales", None)
        if isinstance(sales, tuple | list):
            decided = Counter(str(getattr(s, "decision", "?")) for s in sales)
            self.recovered.update(decided)
            return f"ran: {len(sales)} open sale(s) {_counts(decided)}".rstrip()
        return "ran"

    # -- time ------------------------------------------------------------------------------
    async def settle(self) -> None:
        """Return once the kiosk is at rest (see the module docstring)."""
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        needed = CALM_ROUNDS if hasattr(loop, "_ready") else CALM_ROUNDS_BLIND
        grace = SOFT_GRACE_ROUNDS
        calm = 0
        while True:
            left = SETTLE_LIMIT_S - (time.monotonic() - started)
            if left <= 0:
                raise _Stuck("the kiosk did not come to rest")
            if self.activity.busy:
                calm = 0
                try:
                    await asyncio.wait_for(self.activity.quiet(), left)
                except TimeoutError:
                    raise _Stuck("requests, journal calls or threads never ended") from None
                continue
            if calm >= needed:
                if not self.activity.soft or grace <= 0:
                    return
                # A callback is on its way to the kiosk: give the network a moment.
                grace -= 1
                calm = 0
                await asyncio.sleep(SOFT_GRACE_S)
                continue
            await asyncio.sleep(0)
            ready = getattr(loop, "_ready", None)
            if (ready is None or len(ready) == 0) and not self.activity.busy:
                calm += 1
            else:
                calm = 0

    def tick(self) -> bool:
        """Move simulated time to the next armed timer; False when none is armed."""
        delay = self.clock.next_deadline_in()
        if delay is None:
            return False
        self.clock.advance(delay)
        return True

    async def pass_time(self, seconds: float) -> None:
        """Let ``seconds`` of simulated time pass, timer by timer, the kiosk at rest at each."""
        target = self.clock.monotonic() + seconds
        while True:
            await self.settle()
            now = self.clock.monotonic()
            if now >= target or self.crash_pending:
                return
            delay = self.clock.next_deadline_in()
            self.clock.advance(target - now if delay is None else min(delay, target - now))

    async def drive(self, work: asyncio.Future[T], budget_s: float) -> T:
        """Await ``work`` while moving simulated time whenever the kiosk is at rest."""
        started = self.clock.monotonic()
        while not work.done():
            await self.settle()
            if work.done():
                break
            if self.clock.monotonic() - started > budget_s or not self.tick():
                # Nothing more can happen in simulated time: give it real time to finish.
                await asyncio.wait_for(asyncio.shield(work), SETTLE_LIMIT_S)
        return work.result()

    # -- the customer's and staff's hands on the simulators ------------------------------------
    async def terminal(self, action: CardAction) -> bool:
        """The customer at the card terminal; False when the terminal was not ready.
        (A terminal without a cancel key in its simulator: the customer just waits.)"""
        steps = _TERMINAL_ACTIONS.get(self.provider, {}).get(action)
        if steps is None:
            return action == "cancel_terminal"
        try:
            for i, (path, body) in enumerate(steps):
                try:
                    await self.control.call("POST", path, body)
                except SimControlError:
                    if i == len(steps) - 1:
                        raise
                    # e.g. the card was presented already: go on with the next step
        except SimControlError:
            return False
        return True

    async def empty_cash_box(self) -> None:
        """Staff collect the cash: the simulator's box is emptied, the journal records it."""
        await self.control.set_cash_box(empty=True)
        db = self.journal.db
        await self.journal.call(db.record_collection, actor="simulate", currency=self.currency)
        self._cash_base = None

    async def _cash_totals(self) -> tuple[int, int, int]:
        """(simulator's cash box total, journal's uncollected notes total) in minor units,
        and the notes in the simulator's box."""
        state = self.sim_state("tecalis")
        box = state["cash_box"]
        sim_total = Money.from_major(box["total_amount"], self.currency).minor
        journal_box = await self.journal.call(self.journal.db.cash_box, self.currency)
        return sim_total, journal_box.total.minor, int(box["count_total"])

    async def staff_restore(self) -> list[str]:
        """Put the kiosk right between journeys; problems if it stays out of service."""
        control = self.control
        armed, self._armed = self._armed, None
        if armed is not None:
            await control.clear_faults()
            if armed.restore is not None:
                await armed.restore(self, random.Random(0))
        state = self.sim_state("tecalis")
        bill, dispenser, printer = state["bill_reader"], state["dispenser"], state["printer"]
        if bill["jammed"]:
            await control.clear_jam("returned")  # the stuck note goes back to its owner
        if bill["jam_on_accept"]:
            await control.jam_bill_reader(None)
        offline = {
            "bill_reader": bill["offline"],
            "tpv": state["tpv"]["offline"],
            "dispenser": dispenser["offline"],
        }
        for device, is_offline in offline.items():
            if is_offline:
                await control.set_device_offline(device, False)
        if dispenser["jammed"]:
            await self.devices.tecalis.restart_device("dispenser")
        if (
            dispenser["hopper"]["count"] < HOPPER_FILL // 3
            or dispenser["jam_next"]
            or dispenser["unreadable_next"]
        ):
            await control.set_dispenser(
                barcodes=self._fresh_barcodes(HOPPER_FILL), jam_next=False, unreadable_next=0
            )
        if printer["paper"] != "ok" or printer["offline"]:
            await control.set_printer(paper="ok", offline=False)
        if state["scanner"]["offline"]:
            await control.set_scanner(False)
        box = state["cash_box"]
        if int(box["count_total"]) >= CASH_BOX_EMPTY_AT or box["preloaded"]:
            await self.empty_cash_box()
        session = state["session"]
        known = self.devices.tecalis.session
        if session is not None and (known is None or known.session_id != session["session_id"]):
            # The kiosk lost track of a session it opened (its start answer never came):
            # no new one opens until the device ends it when its token expires. Staff
            # cannot close it from here, so they wait.
            await self.pass_time(max(0.0, float(session["expires_at"]) - self.clock.time()) + 1)
        await self.settle()
        for device in list(self.flow.faults):
            self.flow.clear_fault(device)
        return await self.until_attract(RESTORE_BUDGET_S)

    def _fresh_barcodes(self, count: int) -> list[str]:
        """Cards of the kiosk's own stock that were never in the hopper."""
        codes = []
        for _ in range(count):
            self._barcodes += 1
            codes.append(f"{BLANK_CARD_PREFIX}{(5000 + self._barcodes) % 10_000:04d}")
        return codes

    async def until_attract(self, budget_s: float) -> list[str]:
        started = self.clock.monotonic()
        while True:
            await self.settle()
            state = self.flow.state
            if state is State.ATTRACT and self.flow.snapshot.state is State.ATTRACT:
                return []
            if self.clock.monotonic() - started > budget_s or not self.tick():
                reason = self.flow.snapshot.out_of_service_reason
                return [f"the kiosk stayed {state.value} ({reason}) after staff restored it"]

    # -- one journey ----------------------------------------------------------------------------
    async def journey(
        self, number: int, rng: random.Random, fault: FaultKind | None
    ) -> JourneyResult:
        try:
            problems = await self.staff_restore()
        except _Stuck as exc:
            problems = [f"the kiosk never came to rest while staff restored it: {exc}"]
        plan = CustomerPlan.draw(rng)
        if fault is not None and fault.decline:
            plan.force_decline = True
        customer = Customer(self, rng, plan, number)
        if plan.identify != "skip":
            await self._new_pass(customer.card_number, plan.cashback_balance_minor)
        if fault is not None:
            self._armed = fault
            await fault.arm(self, rng)
        crash_at = None  # a crash at a quiet moment, after this many steps
        if fault is not None and fault.crash and fault.crash_point is None:
            crash_at = rng.randint(3, 25)
        if self._cash_base is None:
            sim_total, journal_total, _ = await self._cash_totals()
            self._cash_base = (sim_total, journal_total)
        started = self.clock.monotonic()
        state_mark, sale_mark = self.recorder.mark()
        error_mark = len(self.recorder.errors)
        self.journey_pay_mark = self.recorder.pay_entries
        try:
            outcome = await self._play(customer, crash_at, started, state_mark, problems)
        except _Stuck as exc:
            problems.append(f"the kiosk never came to rest: {exc}")
            outcome = "stuck"
        if outcome in ("timed_out", "stalled", "stuck"):
            # What a watchdog does with a kiosk that hangs: restart it (recovery runs).
            try:
                problems += await self._crash(customer)
            except _Stuck as exc:
                problems.append(f"the hung kiosk could not be restarted: {exc}")
        states = self.recorder.states[state_mark:]
        sale_ids = self.recorder.sale_ids[sale_mark:]

        problems += await self._audit(sale_ids)
        problems += await self._check_cash(sale_ids)
        problems += await self._check_card(sale_ids)
        final = await self._sale_outcome(sale_ids, outcome)
        return JourneyResult(
            number=number,
            outcome=final,
            fault=fault.name if fault is not None else None,
            problems=problems,
            actions=customer.actions,
            states=states,
            errors=self.recorder.errors[error_mark:],
            sim_s=self.clock.monotonic() - started,
        )

    async def _play(
        self,
        customer: Customer,
        crash_at: int | None,
        started: float,
        state_mark: int,
        problems: list[str],
    ) -> str:
        """Drive one journey until the kiosk is back on the attract screen (or gives up);
        how it ended."""
        steps = 0
        starts = 0
        while True:
            steps += 1
            await self.settle()
            if self.crash_pending:
                problems += await self._crash(customer)
                continue
            snap = self.flow.snapshot
            seen = self.recorder.states[state_mark:]
            departed = any(s not in (State.ATTRACT, State.OUT_OF_SERVICE) for s in seen)
            if departed and snap.state in (State.ATTRACT, State.OUT_OF_SERVICE):
                return "done"
            if not departed and snap.state is State.OUT_OF_SERVICE:
                return "out_of_service"
            if self.clock.monotonic() - started > JOURNEY_BUDGET_S or steps > JOURNEY_STEPS:
                problems.append(
                    f"did not return to attract in time (stuck in {snap.state.value}, "
                    f"{self.clock.monotonic() - started:.0f} s, {steps} steps)"
                )
                return "timed_out"
            if crash_at is not None and steps >= crash_at and departed:
                crash_at = None
                problems += await self._crash(customer)
                continue
            if not departed and snap.state is State.ATTRACT and starts < 5:
                starts += 1
                customer.last_seq = -1
                self.flow.submit(Start())
                continue
            decision = customer.decide(snap)
            if decision is not None:
                if decision.think_s > 0:
                    await self.pass_time(decision.think_s)
                    if _screen(self.flow.snapshot) != _screen(snap):
                        continue  # the screen changed meanwhile: look again
                if await decision.run():
                    customer.actions.append(decision.what)
                    customer.last_seq = snap.seq
                continue
            if not self.tick():
                problems.append(f"nothing more can happen: no timer armed in {snap.state.value}")
                return "stalled"

    async def _crash(self, customer: Customer) -> list[str]:
        """The kiosk dies now (or died at a crash point) and starts again with recovery."""
        customer.actions.append(f"crash@{self.flow.snapshot.state.value}")
        customer.gone = True  # the screen went dark: the customer walks off
        await self.restart(crash=True)
        outcome = self.recoveries[-1]
        customer.actions.append(f"recovery[{outcome}]")
        if outcome.startswith(("recover_all failed", "not available")):
            return [f"the kiosk crashed and recovery did not run: {outcome}"]
        return []

    async def _new_pass(self, number: str, balance_minor: int) -> None:
        balance = Money(balance_minor, self.currency).format_plain()
        await self.control.call("POST", "/cardapi/passes", {
            "id": f"P-SIM-{number[-9:]}", "type": "CASHBACK", "balance": balance,
            "currency": self.currency, "expiration_date": "2060-01-01T00:00:00Z",
            "number": number, "serial_number": f"SN-{number[-9:]}",
        })  # fmt: skip

    async def _sale_outcome(self, sale_ids: Sequence[str], outcome: str) -> str:
        if outcome != "done":
            return outcome
        if not sale_ids:
            return "no_sale"
        db = self.journal.db
        sale = await self.journal.call(db.sale, sale_ids[-1])
        return "missing_sale" if sale is None else sale.status

    async def _audit(self, sale_ids: Sequence[str]) -> list[str]:
        if not sale_ids:
            return []
        db = self.journal.db
        problems = await self.journal.call(audit_sales, db, list(sale_ids))
        self.payments.update(await self.journal.call(payment_outcomes, db, list(sale_ids)))
        return problems

    async def _check_card(self, sale_ids: Sequence[str]) -> list[str]:
        """Card money the terminal took (less what it gave back) must be what the journal
        has, or be covered by incidents that tell staff to check (cumulative, so that a
        result the kiosk learns late is still matched)."""
        provider = self.provider
        if provider not in _TERMINAL_ACTIONS:
            return []
        db = self.journal.db
        net, flagged = await self.journal.call(card_money, db, list(sale_ids), provider)
        self._journal_card_net += net
        self._card_flagged += flagged
        self._terminal_net = await self._terminal_money(provider)
        gap = self._terminal_net - self._journal_card_net
        excess = abs(gap) - self._card_flagged if gap > 0 else abs(gap)
        if excess <= self._card_gap_reported:
            return []
        self._card_gap_reported = excess
        where = "taken at the terminal" if gap > 0 else "in the journal"
        return [
            f"{provider}: {Money(excess, self.currency)} more card money {where} than the "
            f"other side has, and no incident covers it (terminal {self._terminal_net}, "
            f"journal {self._journal_card_net}, flagged {self._card_flagged} minor units)"
        ]

    async def _terminal_money(self, provider: str) -> int:
        """What the provider's simulator shows as taken and kept, in minor units."""
        cur = self.currency
        if provider == "tpv":
            # The PIN pad keeps only its last payment: add up the results it announced.
            fresh = []
            for record in reversed(self.server.callbacks.records()):
                if record.seq <= self._tpv_events_seen:
                    break
                fresh.append(record)
            for record in reversed(fresh):
                self._tpv_events_seen = record.seq
                payload = record.payload
                if record.event == "tpv.result" and payload.get("state") == "approved":
                    self._terminal_net += Money.from_major(payload["amount"], cur).minor
            return self._terminal_net
        if provider == "kinetic":
            state = self.sim_state("kinetic")
            return sum(
                int(t["amount"])
                for t in state["transactions"]
                if t["type"] == "sale" and t["result"] == "approved" and not t["is_reversed"]
            )
        if provider == "komoju":
            state = self.sim_state("komoju")
            return sum(
                int(p["amount"]) - int(p["amount_refunded"] or 0)
                for p in state["payments"]
                if p["status"] in ("captured", "refunded")
            )
        state = self.sim_state("payjunction")
        return sum(
            Money.from_major(t["amountTotal"], cur).minor
            for t in state["transactions"]
            if t["status"] == "CAPTURE"
        )

    async def _check_cash(self, sale_ids: Sequence[str]) -> list[str]:
        """Notes the bill reader stacked this journey must be in the journal (or flagged)."""
        assert self._cash_base is not None
        sim_total, journal_total, _ = await self._cash_totals()
        sim_delta = sim_total - self._cash_base[0]
        journal_delta = journal_total - self._cash_base[1]
        self._cash_base = (sim_total, journal_total)
        gap = sim_delta - journal_delta
        if gap == 0:
            return []
        covered = 0
        if sale_ids:
            covered = await self.journal.call(uncertain_amount, self.journal.db, list(sale_ids))
        if gap > 0 and gap <= covered:
            return []
        what = "stacked" if gap > 0 else "journalled as stacked"
        return [
            f"the bill reader's cash box and the journal differ by "
            f"{Money(abs(gap), self.currency)} (notes {what} that the other does not have; "
            f"sales {', '.join(sale_ids) or 'none'})"
        ]


def _screen(snap: FlowSnapshot) -> tuple[object, ...]:
    status = snap.payment_status
    return (
        snap.state,
        snap.identify_phase,
        snap.payment_method,
        status.phase if status else None,
        snap.idle_warning is None,
    )


_CARD = {"brand": "visa", "last4": "0010"}
#: What the customer does at each provider's terminal: control requests, in order.
_TERMINAL_ACTIONS: dict[str, dict[str, tuple[tuple[str, dict[str, Any] | None], ...]]] = {
    "tpv": {
        "approve": (("/tecalis/tpv/approve", None),),
        "decline": (("/tecalis/tpv/decline", None),),
    },
    "kinetic": {
        "approve": (("/kinetic/present", _CARD), ("/kinetic/approve", None)),
        "decline": (("/kinetic/present", _CARD), ("/kinetic/decline", None)),
        "cancel_terminal": (("/kinetic/cancel", None),),
    },
    "komoju": {
        "approve": (("/komoju/terminal/approve", None),),
        "decline": (("/komoju/terminal/decline", None),),
        "cancel_terminal": (("/komoju/terminal/cancel", None),),
    },
    "payjunction": {
        "approve": (("/payjunction/terminal/present", {"brand": "VISA", "last4": "4242"}),),
        "decline": (("/payjunction/terminal/present", {"outcome": "decline"}),),
        "cancel_terminal": (("/payjunction/terminal/red-x", None),),
    },
}

#: Incidents that mean "staff must decide" (a voucher issued is information only).
_UNDECIDED = frozenset(
    {
        "payment_unknown",
        "note_uncertain",
        "compensation_failed",
        "debit_unknown",
        "dispense_unknown",
        "sale_unfinished",
        "cashback_not_delivered",
    }
)


def audit_sales(db: JournalDB, sale_ids: list[str]) -> list[str]:
    """What the journal shows unhandled about these sales (runs on the journal thread)."""
    problems: list[str] = []
    incidents = db.incidents(limit=500)
    for sale_id in sale_ids:
        sale = db.sale(sale_id)
        if sale is None:
            problems.append(f"sale {sale_id}: shown on screen but not in the journal")
            continue
        own = [i for i in incidents if i.sale_id == sale_id]
        undecided = [i for i in own if i.kind in _UNDECIDED]
        if sale.status == "open":
            # Its payments and effects are unfinished by definition: one problem.
            problems.append(f"sale {sale_id}: not closed (still open in state {sale.state})")
            continue
        payments = db.payments(sale_id)
        taken = sum(p.taken.minor for p in payments)
        data = sale.data
        accounted = sum(
            int(data.get(k, 0)) for k in ("delivered_minor", "compensated_minor", "flagged_minor")
        )
        if taken != accounted:
            problems.append(
                f"sale {sale_id}: its money does not balance: taken {taken}, delivered "
                f"{data.get('delivered_minor')} + compensated {data.get('compensated_minor')} + "
                f"flagged {data.get('flagged_minor')} ({sale.status})"
            )
        for p in payments:
            if p.outcome not in (None, "unknown"):
                continue
            if any(i.details.get("payment_key") == p.key for i in undecided) or any(
                i.kind in ("sale_unfinished", "payment_unknown") for i in undecided
            ):
                continue
            problems.append(
                f"sale {sale_id}: {p.method} payment attempt {p.attempt} has outcome "
                f"{p.outcome or 'never recorded'} (taken {p.taken}, uncertain {p.uncertain}) "
                "and no incident for staff"
            )
        for e in db.effects(sale_id):
            if e.kind not in ("cardapi.debit", "dispenser.dispense"):
                continue
            if e.status not in ("pending", "unknown"):
                continue
            wanted = "debit_unknown" if e.kind == "cardapi.debit" else "dispense_unknown"
            if not any(i.kind in (wanted, "sale_unfinished") for i in own):
                problems.append(f"sale {sale_id}: {e.kind} is {e.status} and no incident for staff")
    return problems


#: Compensations that give the money back at the card terminal itself.
_AT_TERMINAL = frozenset({"reversed", "voided", "refunded"})
#: Incidents whose amount staff must check at the card terminal.
_CARD_INCIDENTS = frozenset(
    {"payment_unknown", "compensation_failed", "compensation_unknown", "sale_unfinished"}
)


def card_money(db: JournalDB, sale_ids: list[str], method: str) -> tuple[int, int]:
    """The journal's card money of these sales: (taken less given back at the terminal,
    amount of the incidents that ask staff to check the terminal) in minor units."""
    net = 0
    for sale_id in sale_ids:
        for p in db.payments(sale_id):
            if p.method == method:
                net += p.taken.minor
                if p.compensation in _AT_TERMINAL:
                    net -= p.compensated.minor
    wanted = set(sale_ids)
    flagged = sum(
        i.amount.minor
        for i in db.incidents(limit=500)
        if i.sale_id in wanted and i.kind in _CARD_INCIDENTS and i.amount is not None
    )
    return net, flagged


def payment_outcomes(db: JournalDB, sale_ids: list[str]) -> Counter[str]:
    """``"<method> <outcome>"`` of each payment of these sales (journal thread)."""
    return Counter(f"{p.method} {p.outcome or 'none'}" for s in sale_ids for p in db.payments(s))


def uncertain_amount(db: JournalDB, sale_ids: list[str]) -> int:
    """Money staff were told about for notes whose fate is unknown (minor units)."""
    wanted = set(sale_ids)
    total = 0
    for incident in db.incidents(limit=500):
        if incident.sale_id in wanted and incident.kind in ("note_uncertain", "sale_unfinished"):
            total += incident.amount.minor if incident.amount is not None else 0
    return total


# -- running it ---------------------------------------------------------------------------------


async def simulate_sales(
    options: SimulationOptions, *, err: TextIO | None = None
) -> SimulationReport:
    """Run the simulation; ``err`` gets progress lines (every ``progress_every`` journeys)."""
    wall = time.perf_counter()
    saved_random = random.getstate()
    random.seed(f"kioskapp-simulate/{options.seed}")  # the clients' retry jitter
    errors = ErrorLog()
    kiosk_log = logging.getLogger("kioskapp")
    kiosk_log.addHandler(errors)
    temp: tempfile.TemporaryDirectory[str] | None = None
    try:
        if options.state_dir is not None:
            state_dir = options.state_dir
            state_dir.mkdir(parents=True, exist_ok=True)
            if (state_dir / "journal.sqlite3").exists():
                raise SimulationError(f"{state_dir} already holds a journal; give an empty one")
        else:
            temp = tempfile.TemporaryDirectory(prefix="kioskapp-simulate-")
            state_dir = Path(temp.name)
        sim = Simulation(options, state_dir, errors)
        try:
            await sim.open()
            return await _run(sim, options, errors, err, wall)
        finally:
            await sim.aclose()
    finally:
        kiosk_log.removeHandler(errors)
        random.setstate(saved_random)
        if temp is not None:
            temp.cleanup()


async def _run(
    sim: Simulation,
    options: SimulationOptions,
    errors: ErrorLog,
    err: TextIO | None,
    wall: float,
) -> SimulationReport:
    kinds = applicable_faults(sim.provider, sim.recovery is not None)
    if options.fault_kinds is not None:
        wanted = set(options.fault_kinds)
        kinds = [k for k in kinds if k.name in wanted]
    outcomes: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    problems: list[str] = []
    fingerprint = hashlib.sha256()
    sim_start = sim.clock.monotonic()
    for number in range(1, options.journeys + 1):
        errors.journey = number
        rng = random.Random(f"{options.seed}/{number}")
        fault = None
        if kinds and rng.random() < options.fault_rate:
            fault = rng.choice(kinds)
            faults[fault.name] += 1
        result = await sim.journey(number, rng, fault)
        outcomes[result.outcome] += 1
        tag = f"journey {number} (seed {options.seed}, fault {result.fault or 'none'})"
        problems += [f"{tag}: {p}" for p in result.problems]
        fingerprint.update(
            f"{number}:{result.outcome}:{result.fault}:{','.join(result.actions)}:"
            f"{','.join(s.value for s in result.states)}\n".encode()
        )
        if options.verbose and err is not None:
            print(
                f"{tag}: {result.outcome} in {result.sim_s:.0f} s simulated; "
                f"{' '.join(result.actions)}; {' > '.join(s.value for s in result.states)}"
                + "".join(f"; error screen {key}" for key in result.errors)
                + "".join(f"\n    UNHANDLED {p}" for p in result.problems),
                file=err,
                flush=True,
            )
        if err is not None and options.progress_every and number % options.progress_every == 0:
            print(
                f"simulate-sales: {number}/{options.journeys} journeys, "
                f"{time.perf_counter() - wall:.1f} s, unhandled so far {len(problems)}",
                file=err,
                flush=True,
            )
    await sim.settle()
    db = sim.journal.db
    leftover = await sim.journal.call(db.unfinished_sales)
    for sale in leftover:
        if not any(sale.sale_id in p for p in problems):  # not counted by its journey yet
            problems.append(f"end of run: sale {sale.sale_id} still open in state {sale.state}")
    rec = await sim.journal.call(db.reconciliation, sim.currency)
    warnings = []
    card = sim.provider
    started = sum(n for k, n in sim.payments.items() if k.startswith(f"{card} "))
    if card != "none" and sim.card_chosen and not started:
        warnings.append(
            f"customers chose to pay by card {sim.card_chosen} times, but the {card} payment "
            "method never started a payment (see the kiosk's log: misconfigured?)"
        )
    return SimulationReport(
        currency=sim.currency,
        taken=rec.taken,
        delivered=rec.delivered,
        compensated=rec.compensated,
        flagged=rec.flagged,
        unhandled=len(problems),
        problems=problems,
        journeys=options.journeys,
        outcomes=outcomes,
        faults=faults,
        payments=sim.payments,
        warnings=warnings,
        logged_errors=Counter(errors.counts),
        log_samples=list(errors.samples),
        crashes=list(errors.crashes),
        recovery=sim.recovery_report,
        restarts=len(sim.recoveries),
        recovered=sim.recovered,
        wall_s=time.perf_counter() - wall,
        sim_s=sim.clock.monotonic() - sim_start,
        fingerprint=fingerprint.hexdigest()[:16],
    )


def run_simulation(
    options: SimulationOptions, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """The ``simulate-sales`` command: prints the RECONCILIATION line; 0 when it is clean."""
    out = out or sys.stdout
    report = asyncio.run(simulate_sales(options, err=err))
    if err is not None:
        print(report.summary(), file=err, flush=True)
    print(report.line(), file=out, flush=True)
    return 0 if report.ok else 1


__all__ = [
    "FAULT_KINDS",
    "Activity",
    "CrashPoint",
    "Customer",
    "CustomerPlan",
    "FaultKind",
    "Simulation",
    "SimulationError",
    "SimulationOptions",
    "SimulationReport",
    "applicable_faults",
    "audit_sales",
    "card_money",
    "counted_http",
    "recovery_entry",
    "run_simulation",
    "simulate_sales",
]
