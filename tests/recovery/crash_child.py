"""A kiosk process that dies: the real flow, devices and journal, killed by SIGKILL.

    python -m tests.recovery.crash_child --config kiosk.toml --journey cash --sim URL
                                         [--crash-at N | --crash-before N | --hold-at K]
    python -m tests.recovery.crash_child --serve      (the fork server, see serve())

The child opens the kiosk exactly as the app does (``open_devices`` and a
:class:`~kioskapp.core.journal.Journal` on the config's state directory, the
system clock), runs the real :class:`~kioskapp.core.flow.Flow` and plays one
customer through one journey (:data:`JOURNEYS`) on the simulators, whose
control API it uses as the customer's hands (notes, cards on the terminal).
The simulators run in another process: they outlive the kiosk.

What it says on stdout, one line each (written unbuffered, before any kill)::

    WRITE <n> <label>    the n-th journal write committed (the run goes on)
    POINT <n> <label>    the n-th write committed, and the process SIGKILLs itself now
    BEFORE <n> <label>   the n-th write is asked for; the process SIGKILLs itself first
    MOMENT <k> <what>    the customer is about to act on a device that waits for it
    HOLD <k> <what>      ...and the process stops there, to be SIGKILLed from outside
    DONE <writes> <moments>  the journey ended back on the attract screen, no crash

Every journal write (a :class:`JournalDB` method that commits: :data:`WRITES`)
is counted on the journal thread. With ``--crash-at N`` the process sends
itself SIGKILL right after the N-th write committed, before the flow sees its
result: whatever was in flight (a note in escrow, a terminal waiting for a
card, a session open on the kiosk) stays as it is, as after a power cut. With
``--crash-before N`` it dies just before the N-th write: what the flow did
since the previous write is done (a request sent and answered, a note
stacked) and its outcome not journalled: the intent without an outcome that
recovery must resolve. With ``--hold-at K`` it stops at the K-th customer
moment (between two writes: the bill reader waiting for a note, the terminal
showing the amount) until it is killed from outside. Without any of them the
journey runs to its end: that run enumerates the crash points of the path.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import ssl
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import httpx._transports.default as httpx_transport

from kioskapp.app import open_devices
from kioskapp.config import Config, load_config
from kioskapp.core.clock import SystemClock
from kioskapp.core.flow import (
    ChooseProduct,
    EnterCardNumber,
    Finish,
    Flow,
    FlowServices,
    FlowSettings,
    FlowSnapshot,
    HaveCard,
    PayWith,
    SkipCard,
    Start,
    State,
    UseCashback,
)
from kioskapp.core.journal import Journal
from kioskapp.core.money import Money
from kioskapp.devices import komoju, payjunction
from kioskapp.payments import cash as cash_payment
from kioskapp.payments import payjunction as payjunction_payment
from kioskapp.payments import tpv as tpv_payment
from kioskapp.simulator.control import SimControl

P = ParamSpec("P")
T = TypeVar("T")

#: Real seconds one step of the journey may take (loopback HTTP only); a safety net.
STEP_S = 20.0
#: Real seconds a process held at a moment waits to be killed; a safety net.
HOLD_S = 120.0
#: The customer's cashback card in the CardAPI simulator (balance 6.54 EUR).
CUSTOMER_CARD = "7001000000654"

#: The JournalDB methods that write (each commits one transaction).
WRITES = frozenset(
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

#: The references payments journal before the provider's own id is known.
MARKERS = {
    m: f"ref={m}"
    for m in (
        cash_payment.READER_OPENING,
        cash_payment.READER_OPEN,
        tpv_payment.PREPARED,
        payjunction_payment.SENDING,
    )
}


# -- the journeys -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Journey:
    """One customer path through the kiosk."""

    name: str
    provider: str  # the kiosk's card terminal (payments.card_provider)
    sku: str
    currency: str = "EUR"
    notes: tuple[int, ...] = ()  # cash notes inserted, in major units
    card: bool = False  # a card pays (the rest, after the notes)
    customer_card: str | None = None  # a cashback card identified and its cashback used
    #: The catalogue, TOML tables as strings (None: the built-in demo catalogue).
    products: tuple[Mapping[str, Any], ...] | None = None

    @property
    def dispenses_card(self) -> bool:
        for product in self.products or ():
            if product["sku"] == self.sku:
                return bool(product.get("dispenses_card", True))
        return True


#: PayJunction works in US dollars; the CardAPI simulator's blank cards are euro passes,
#: so a dollar kiosk cannot stage one: its product hands out no card (no debit either).
USD_PRODUCTS: tuple[Mapping[str, Any], ...] = (
    {"sku": "TOPUP-10", "name": "Top-up 10", "price": "10.00", "dispenses_card": False},
)

JOURNEYS: dict[str, Journey] = {
    j.name: j
    for j in (
        # two notes for a card: escrow, stack, the cash box, a debit of 0 and a dispense
        Journey("cash", "tpv", "GIFT-20", notes=(10, 10)),
        Journey("card-tpv", "tpv", "CASHBACK-CARD", card=True),
        Journey("card-kinetic", "kinetic", "CASHBACK-CARD", card=True),
        Journey("card-komoju", "komoju", "CASHBACK-CARD", card=True),
        Journey(
            "card-payjunction",
            "payjunction",
            "TOPUP-10",
            currency="USD",
            card=True,
            products=USD_PRODUCTS,
        ),
        # a note, then the card for the rest (refundable provider: refund and voucher)
        Journey("mixed", "komoju", "GIFT-20", notes=(10,), card=True),
        # cashback debited from the customer's card, the rest by card, a card dispensed
        Journey("cashback", "kinetic", "GIFT-20", card=True, customer_card=CUSTOMER_CARD),
    )
}


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a TOML basic string (ASCII only here)


def write_config(journey: Journey, sim_url: str, state_dir: Path, listen_port: int) -> Path:
    """The kiosk's config file for ``journey`` on the simulators at ``sim_url``; its
    journal and session token live in ``state_dir``. Short HTTP timeouts and fast polls:
    the child runs on the system clock."""
    state_dir.mkdir(parents=True, exist_ok=True)
    sections: dict[str, dict[str, object]] = {
        "kiosk": {"currency": journey.currency, "state_dir": str(state_dir)},
        "journal": {"path": str(state_dir / "journal.sqlite3")},
        "payments": {"card_provider": journey.provider},
        "callbacks": {
            "listen_host": "127.0.0.1",
            "listen_port": listen_port,
            "public_url": f"http://127.0.0.1:{listen_port}",
        },
        "serial_reader": {"enabled": False},
        "tecalis": {
            "base_url": f"{sim_url}/tecalis",
            "timeout_s": 3.0,
            "connect_timeout_s": 2.0,
            "print_timeout_s": 5.0,
            "poll_interval_s": 0.2,
        },
        "cardapi": {"base_url": f"{sim_url}/cardapi", "timeout_s": 3.0},
        "kinetic": {
            "base_url": f"{sim_url}/kinetic/api/v2",
            "timeout_s": 3.0,
            "poll_interval_s": 0.5,
        },
        "komoju": {"base_url": f"{sim_url}/komoju", "timeout_s": 3.0, "poll_interval_s": 0.1},
        "payjunction": {"base_url": f"{sim_url}/payjunction", "timeout_s": 3.0},
    }
    lines: list[str] = []
    for name, table in sections.items():
        lines.append(f"[{name}]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in table.items())
        lines.append("")
    for product in journey.products or ():
        lines.append("[[products]]")
        lines.extend(f"{key} = {_toml(value)}" for key, value in product.items())
        lines.append("")
    path = state_dir / "kiosk.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def read_config(path: Path, *, listen_port: int | None = None) -> Config:
    """The config file as the kiosk loads it (no environment), optionally on another
    callback port (a restarted kiosk next to a dying one)."""
    env: dict[str, str] = {}
    if listen_port is not None:
        env["KIOSKAPP_CALLBACKS__LISTEN_PORT"] = str(listen_port)
        env["KIOSKAPP_CALLBACKS__PUBLIC_URL"] = f"http://127.0.0.1:{listen_port}"
    return load_config(path, env=env)


# -- speed ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def shared_tls_context() -> Iterator[None]:
    """Every httpx client made meanwhile in this process gets one shared TLS context.

    Each new client otherwise loads the whole CA bundle (about 50 ms), and a kiosk life
    or a recovery opens four of them: most of a crash case's time. The kiosk speaks
    plain HTTP to the simulators on loopback, so no client here ever uses the context;
    everything else about the clients (pools, timeouts, retries) is untouched."""
    original = httpx_transport.create_ssl_context
    shared = original()

    def create(verify: Any = True, cert: Any = None, trust_env: bool = True) -> ssl.SSLContext:
        if verify is True and cert is None:
            return shared
        return original(verify=verify, cert=cert, trust_env=trust_env)

    httpx_transport.create_ssl_context = create
    try:
        yield
    finally:
        httpx_transport.create_ssl_context = original


# -- the dying journal ---------------------------------------------------------------------------


def _emit(line: str) -> None:
    """One line on stdout, unbuffered: it must be out before a SIGKILL."""
    os.write(1, (line + "\n").encode())


def describe_write(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], kinds: dict[int, str],
                   result: object) -> str:  # fmt: skip
    """A short, stable label of one journal write (no ids, no card data)."""
    if name == "update_sale":
        parts = [f"{k}={kwargs[k]}" for k in ("state", "status") if kwargs.get(k)]
        data = kwargs.get("data")
        if data:
            parts.append("data=" + ",".join(sorted(data)))
        return f"update_sale {' '.join(parts)}"
    if name == "begin_effect":
        kind = str(args[1])
        if isinstance(result, int):
            kinds[result] = kind
        return f"begin_effect {kind}"
    if name == "end_effect":
        return f"end_effect {kinds.get(int(args[0]), '?')} {args[1]}"
    if name == "save_payment":
        taken, uncertain = kwargs.get("taken"), kwargs.get("uncertain")
        reference = kwargs.get("reference")
        ref = "noref" if reference is None else MARKERS.get(reference, "ref=<provider id>")
        text = f"save_payment {kwargs.get('method')} taken={getattr(taken, 'minor', taken)}"
        if uncertain is not None:
            text += f" uncertain={uncertain.minor}"
        return f"{text} {ref}"
    if name == "finish_payment":
        return f"finish_payment {kwargs.get('outcome')}"
    if name == "record_compensation":
        return f"record_compensation {kwargs.get('kind')}"
    if name == "open_incident":
        return f"open_incident {args[0]}"
    if name == "add_audit":
        return f"add_audit {args[1]}"
    return name


class DyingJournal(Journal):
    """The journal of a process that SIGKILLs itself right after its ``crash_at``-th write
    committed, or right before its ``crash_before``-th write (counted and killed on the
    journal thread: after, before the result is handed back to the event loop; before,
    with everything the flow did since the previous write done, the write not)."""

    def __init__(
        self, path: Path, *, crash_at: int | None, crash_before: int | None = None
    ) -> None:
        super().__init__(path, clock=SystemClock())
        self.crash_at = crash_at
        self.crash_before = crash_before
        self.writes = 0
        self._kinds: dict[int, str] = {}

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        name = getattr(fn, "__name__", "")
        if name not in WRITES:
            return await super().call(fn, *args, **kwargs)
        counted = functools.partial(self._write, fn, name, args, kwargs)
        return await super().call(counted)

    def _write(self, fn: Callable[..., T], name: str, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> T:  # fmt: skip
        if self.writes + 1 == self.crash_before:
            label = describe_write(name, args, kwargs, self._kinds, None)
            _emit(f"BEFORE {self.writes + 1} {label}")
            os.kill(os.getpid(), signal.SIGKILL)
        result = fn(*args, **kwargs)  # committed (synchronous=FULL) when this returns
        self.writes += 1
        label = describe_write(name, args, kwargs, self._kinds, result)
        if self.writes == self.crash_at:
            _emit(f"POINT {self.writes} {label}")
            os.kill(os.getpid(), signal.SIGKILL)
        _emit(f"WRITE {self.writes} {label}")
        return result


# -- the customer ---------------------------------------------------------------------------------


async def pay_on_terminal(control: SimControl, provider: str) -> None:
    """The customer presents the card on the terminal waiting for it, and it is approved."""
    card = {"brand": "visa", "last4": "4242"}
    if provider == "tpv":
        await control.tpv_approve()
    elif provider == "kinetic":
        await control.call("POST", "/kinetic/present", card)
        await control.call("POST", "/kinetic/approve")
    elif provider == "komoju":
        await control.call("POST", "/komoju/terminal/approve", card)
    else:
        await control.call("POST", "/payjunction/terminal/present", {**card, "brand": "VISA"})


class Customer:
    """Plays ``journey`` on the flow's snapshots and the simulators' control API.

    Before each thing the customer does on a device (a note into the bill reader, the
    card on the terminal), with the device ready and waiting for it, the customer says
    ``MOMENT <k> <what>`` on stdout; at ``hold_at`` it says ``HOLD <k> <what>`` instead
    and waits, for the parent to SIGKILL the process from outside right there (a state
    between two journal writes: the device waits, the kiosk journalled nothing more)."""

    def __init__(
        self, flow: Flow, control: SimControl, journey: Journey, hold_at: int | None
    ) -> None:
        self.flow = flow
        self.control = control
        self.journey = journey
        self.hold_at = hold_at
        self.moments = 0
        self.seen: list[FlowSnapshot] = []
        self.pos = 0
        self.changed = asyncio.Event()
        flow.on_change(self._on_change)
        self._on_change(flow.snapshot)

    def _on_change(self, snap: FlowSnapshot) -> None:
        self.seen.append(snap)
        self.changed.set()

    async def until(self, check: Callable[[FlowSnapshot], bool], what: str) -> FlowSnapshot:
        async def scan() -> FlowSnapshot:
            while True:
                while self.pos < len(self.seen):
                    snap = self.seen[self.pos]
                    self.pos += 1
                    if check(snap):
                        return snap
                self.changed.clear()
                await self.changed.wait()

        try:
            return await asyncio.wait_for(scan(), STEP_S)
        except TimeoutError:
            last = self.seen[-1] if self.seen else None
            raise RuntimeError(f"timed out waiting for {what}; last snapshot: {last}") from None

    async def state(self, state: State) -> FlowSnapshot:
        return await self.until(lambda s: s.state is state, f"state {state}")

    async def moment(self, what: str) -> None:
        self.moments += 1
        if self.moments == self.hold_at:
            _emit(f"HOLD {self.moments} {what}")
            with contextlib.suppress(TimeoutError):  # until the SIGKILL; a safety net
                await asyncio.wait_for(asyncio.Event().wait(), HOLD_S)
            raise RuntimeError(f"held at moment {self.moments} for {HOLD_S} s: nobody killed it")
        _emit(f"MOMENT {self.moments} {what}")

    async def play(self) -> None:
        j = self.journey
        flow = self.flow
        await self.state(State.ATTRACT)
        flow.submit(Start())
        await self.state(State.CHOOSING)
        flow.submit(ChooseProduct(j.sku))
        await self.state(State.IDENTIFYING)
        if j.customer_card is None:
            flow.submit(SkipCard())
        else:
            flow.submit(HaveCard())
            await self.until(lambda s: s.identify_phase == "enter", "the card number keypad")
            flow.submit(EnterCardNumber(j.customer_card))
            await self.until(lambda s: s.identify_phase == "found", "the card found")
            flow.submit(UseCashback(True))
        choice = await self.state(State.PAYMENT_CHOICE)
        assert choice.amount_due is not None
        if j.notes:
            flow.submit(PayWith("cash"))
            await self.waiting_for_customer()
            paid = Money.zero(choice.amount_due.currency)
            for n, note in enumerate(j.notes, 1):
                await self.reader_ready()
                await self.moment(f"insert {note} (note {n} of {len(j.notes)})")
                await self.control.insert_note(note)
                paid += Money.from_major(note, paid.currency)
                await self.until(self.paid(paid), f"{paid} paid")
        if j.card:
            if j.provider == "kinetic":
                # Kinetic has no remote cancel: a transaction left waiting is waited out by
                # recovery until the terminal's own timeout (150 s). Its customer pays at once.
                await self.control.call("POST", "/kinetic/auto", {"outcome": "approve"})
            flow.submit(PayWith(j.provider))
            if j.provider != "kinetic":
                await self.terminal_waiting()
                await self.moment(f"present the card on {j.provider}")
                await pay_on_terminal(self.control, j.provider)
        await self.state(State.THANK_YOU)
        flow.submit(Finish())
        await self.state(State.ATTRACT)

    @staticmethod
    def paid(amount: Money) -> Callable[[FlowSnapshot], bool]:
        return lambda s: s.amount_paid == amount

    async def waiting_for_customer(self) -> None:
        await self.until(
            lambda s: (
                s.payment_status is not None and s.payment_status.phase == "waiting_for_customer"
            ),
            "the payment waiting for the customer",
        )

    async def reader_ready(self) -> None:
        """The bill reader is open and ready for a note (bounded reads)."""
        for _ in range(500):
            reader = (await self.control.tecalis_state())["bill_reader"]
            if reader["state"] == "ready" and reader["escrow"] is None:
                return
        raise RuntimeError("the bill reader never became ready")

    async def terminal_waiting(self) -> None:
        """The card terminal shows the amount and waits for the card (bounded reads)."""
        provider = self.journey.provider
        await self.waiting_for_customer()
        if provider == "komoju":
            await self.control.call("POST", "/komoju/wait", {"phase": "waiting", "timeout_s": 10})
            return
        for _ in range(500):
            if provider == "tpv":
                if (await self.control.tecalis_state())["tpv"]["state"] == "waiting_card":
                    return
            else:
                state = await self.control.call("GET", "/payjunction/state")
                current = state["terminal"]["current"]
                if any(
                    r["requestId"] == current and r["stage"] == "waiting" for r in state["requests"]
                ):
                    return
        raise RuntimeError(f"the {provider} terminal never asked for the card")


# -- the process ---------------------------------------------------------------------------------


async def run(
    config_path: Path,
    journey: Journey,
    sim_url: str,
    crash_at: int | None,
    hold_at: int | None = None,
    crash_before: int | None = None,
) -> int:
    config = read_config(config_path)
    clock = SystemClock()
    devices = await open_devices(config, clock=clock)
    try:
        journal = DyingJournal(config.journal.path, crash_at=crash_at, crash_before=crash_before)
    except BaseException:
        await devices.aclose()
        raise
    control = SimControl(sim_url)
    flow: Flow | None = None
    task: asyncio.Task[None] | None = None
    try:
        receiver = devices.receiver
        if journey.provider == "komoju":
            url = receiver.url_for(komoju.WEBHOOK_PATH)
            await control.call("POST", "/komoju/webhook", {"url": url})
        if journey.provider == "payjunction":
            url = receiver.url_for(payjunction.WEBHOOK_PATH)
            await control.call("POST", "/payjunction/webhook", {"url": url})
        settings = replace(FlowSettings.from_config(config), stop_grace_s=1.0)
        flow = Flow(FlowServices.from_devices(devices, journal, clock=clock, settings=settings))
        customer = Customer(flow, control, journey, hold_at)
        task = asyncio.create_task(flow.run(), name="flow")
        play = asyncio.create_task(customer.play(), name="customer")
        await asyncio.wait({task, play}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # the flow ended on its own: a bug
            raise RuntimeError("the flow stopped by itself")
        play.result()
        _emit(f"DONE {journal.writes} {customer.moments}")
        return 0
    finally:
        if flow is not None:
            await flow.stop()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await control.aclose()
        await devices.aclose()
        await journal.aclose()


def serve() -> int:
    """The fork server: everything is imported once, then each request read on stdin (one
    JSON object per line: ``config``, ``journey``, ``sim``, ``log`` and one of ``crash_at``,
    ``crash_before``, ``hold_at``) runs in a
    forked child, a process of its own, and its end is told on stdout::

        PID <pid>                   the child runs
        EXIT signal <n> | code <n>  how it ended (after its own WRITE/POINT/DONE lines)

    Saves the interpreter start and the imports (most of a child's life) per crash point.
    Stdin closed: the server ends."""
    with shared_tls_context():
        return _serve()


def _serve() -> int:
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: a kiosk life
            code = 1
            try:
                log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(log, 2)
                os.close(log)
                code = asyncio.run(
                    run(
                        Path(request["config"]),
                        JOURNEYS[request["journey"]],
                        request["sim"],
                        request.get("crash_at"),
                        request.get("hold_at"),
                        request.get("crash_before"),
                    )
                )
            except BaseException:  # noqa: BLE001 - told through the exit status and the log
                traceback.print_exc()
            finally:
                os._exit(code)
        _emit(f"PID {pid}")
        _, status = os.waitpid(pid, 0)
        if os.WIFSIGNALED(status):
            _emit(f"EXIT signal {os.WTERMSIG(status)}")
        else:
            _emit(f"EXIT code {os.WEXITSTATUS(status)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.recovery.crash_child")
    parser.add_argument("--serve", action="store_true", help="run as a fork server (stdin)")
    parser.add_argument("--config", type=Path)
    parser.add_argument("--journey", choices=sorted(JOURNEYS))
    parser.add_argument("--sim", help="the simulators' base URL")
    parser.add_argument("--crash-at", type=int, default=None, help="SIGKILL after write N")
    parser.add_argument("--crash-before", type=int, default=None, help="SIGKILL before write N")
    parser.add_argument("--hold-at", type=int, default=None, help="stop at customer moment K")
    args = parser.parse_args(argv)
    if args.serve:
        return serve()
    if args.config is None or args.journey is None or args.sim is None:
        parser.error("--config, --journey and --sim are required (or --serve)")
    journey = JOURNEYS[args.journey]
    return asyncio.run(
        run(args.config, journey, args.sim, args.crash_at, args.hold_at, args.crash_before)
    )


if __name__ == "__main__":
    sys.exit(main())
