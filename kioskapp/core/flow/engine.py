"""The customer journey as one explicit state machine, pure asyncio.

    flow = Flow(FlowServices.from_devices(devices, journal, clock=clock))
    runner = asyncio.create_task(flow.run())
    flow.submit(Start())                      # never blocks
    async for snapshot in flow.subscribe():   # or flow.on_change(callback)
        ...
    await flow.stop()

Shape
-----
One handler per :class:`~kioskapp.core.flow.model.State` (``_s_<state>``),
returning the next state. The engine enters a state by persisting it
(``journal.update_sale(state=...)`` when a sale exists), publishing the
snapshot, then running the handler. Each state has exactly one timeout:

===============  ===========================================  ============================
state            timeout                                       on timeout
===============  ===========================================  ============================
ATTRACT          ``attract_recheck_s``: re-check the devices   OUT_OF_SERVICE or stay
OUT_OF_SERVICE   ``out_of_service_recheck_s``: re-check        ATTRACT once sellable
CHOOSING,        idle: ``idle_timeout_s`` + a warning of       CANCELLING (safe cancel)
IDENTIFYING,     ``idle_warning_s`` (More time: at least
ID_CONFIRM,      ``max_extensions``)
PAYMENT_CHOICE
PAYING           cash: idle as above, suspended while a note   cancel the payment, wait for
                 is in escrow; card: the terminal's own        its result, CANCELLING
                 window; any method: ``payment_timeout_s``
STARTING,        watchdog ``step_timeout_s`` (each device      CANCELLING (error for staff)
ID_SCAN,         call has its own, shorter, HTTP timeout)
STAGING_CARD,
DISPENSING,
PRINTING
DEBITING         watchdog ``debit_timeout_s`` (bounded         CANCELLING (incident)
                 retries of the same ticket inside)
CANCELLING       watchdog ``step_timeout_s``                   ERROR (the rest flagged)
THANK_YOU        ``thank_you_s`` (``slip_on_screen_s`` when    ATTRACT
                 the receipt is on screen) or Finish
ERROR            ``error_s`` (or ``slip_on_screen_s``) or      ATTRACT
                 Finish
===============  ===========================================  ============================

Every fault leads to CANCELLING, which gives back what was taken
(``PaymentMethod.compensate``: reversal/void/refund, or a refund voucher printed
and shown to staff as an incident), discards a staged card, flags for staff
what cannot be given back, and records ``delivered_minor`` /
``compensated_minor`` / ``flagged_minor`` on the sale so that
``JournalDB.reconciliation()`` balances. Then ERROR says what happened and
who must act (:func:`~kioskapp.core.flow.errors.describe`), then ATTRACT.

Inputs
------
Intents (from the UI, and codes from the serial reader) and internal events
(payment statuses, background results, timers) go through one inbox. An
intent is tagged with the screen (state) shown when it was sent; one that
arrives after the flow moved to another screen, or that the current state
does not take, is ignored with a debug log. Language and accessibility
toggles are applied at once in any state. ``submit`` must be called on the
flow's event loop.

Money order
-----------
Card staged (prepare → barcode → CardAPI lookup, up to 3 cards) before any
money is taken; payments (cash first, card for the rest); CardAPI debit
exactly once per sale (``ticket_id`` = the sale id, journalled before the
first send, the same request repeated on an unknown outcome); dispense only
after the debit succeeded; print last. Every device side effect is a journal
effect (intent before, outcome after: ``done``, ``failed`` when the device
definitely refused, ``unknown`` when it may have acted).

Decisions
---------
- The one debit of a sale goes to the customer's card when cashback is used
  (the amount used), else to the new card (0: registers the sale), else to
  the identified card (0); a product without either posts no debit.
- A debit whose outcome stays unknown after ``debit_retries`` repeats of the
  same request: nothing is handed out, the money is given back, and an
  incident carries the journalled request (repeating it is safe).
- A dispense refused by the device (a definite error) gives the money back;
  one without an answer (the card may be in the customer's hand) is flagged
  for staff instead, never refunded automatically.
- Debited cashback of a sale not delivered is an incident (CardAPI has no
  credit call): staff credit it back.
- A cancel asked while a payment could not stop any more (card processing,
  a note being stacked) is honoured: what the payment took is given back.
- The printer never takes the kiosk out of service: receipts and vouchers
  go on screen and the printer is flagged (cleared when its status is fine).
  Three unusable cards in a row flag the dispenser until :meth:`Flow.clear_fault`.
- A sale is ``completed`` (``delivered_minor``) once delivered, before the
  receipt prints; a cancelled one ends ``cancelled``, ``compensated`` or
  ``flagged`` (undecided incidents open).

What the journal holds for recovery (core/recovery.py): the sale's ``state``
(the last screen entered) and ``data`` (``language``, ``pass_id``,
``cashback_minor``, ``id_checked``, ``card_pass_id``, ``card_last4``,
``debit``/``debit_minor``, and at the end ``delivered_minor``,
``compensated_minor``, ``flagged_minor``); the effects ``dispenser.prepare``,
``dispenser.discard``, ``dispenser.dispense``, ``cardapi.debit`` (key = sale
id, intent = ``DebitRequest.to_payload()``), ``printer.receipt``,
``printer.voucher``; the payments (via the methods' journal hook).

Stopping
--------
:meth:`Flow.stop` cancels the journey where it is: a running payment is asked
to cancel and its result journalled (bounded wait); an open sale stays
``open`` in the journal for recovery (core/recovery.py) to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from kioskapp.config import Config, Product
from kioskapp.core import receipts
from kioskapp.core.clock import Clock
from kioskapp.core.flow.errors import describe
from kioskapp.core.flow.model import (
    INTENT_TYPES,
    Back,
    Cancel,
    CardCodeScanned,
    CatalogueItem,
    ChooseProduct,
    ConfirmId,
    EnterCardNumber,
    ErrorInfo,
    Finish,
    FlowSnapshot,
    HaveCard,
    IdentifyMode,
    IdentifyPhase,
    IdleWarning,
    Intent,
    MoreTime,
    NoteMessage,
    OnScreenSlip,
    PassView,
    PayWith,
    ReadCardOnTerminal,
    RefundSummary,
    SetHighContrast,
    SetLanguage,
    SetLargeText,
    SkipCard,
    Start,
    State,
    UseCashback,
)
from kioskapp.core.journal import EffectStatus, Journal, JournalDB, SaleStatus
from kioskapp.core.money import Money, to_cardapi
from kioskapp.devices import cardapi
from kioskapp.devices.cardapi import (
    DebitOutcomeUnknown,
    DebitRequest,
    DebitResult,
    Pass,
    PassNotFound,
    SearchMode,
)
from kioskapp.devices.errors import ApiError, ServiceError
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.serial_reader import ReaderStopped, ScannedCode
from kioskapp.devices.tecalis import (
    BarcodeUnreadable,
    CardAlreadyPrepared,
    NoCardPrepared,
)
from kioskapp.devices.tecalis_models import (
    DispenserStatus,
    KioskStatus,
    PrinterStatus,
    ScannedImage,
)
from kioskapp.devices.tracks import CardRead
from kioskapp.payments.base import (
    Compensation,
    Outcome,
    PaymentAttempt,
    PaymentMethod,
    PaymentRecord,
    PaymentResult,
    PaymentStatus,
)

if TYPE_CHECKING:
    from kioskapp.app import Devices

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")


# -- what the flow needs from the outside (satisfied by the real clients; fakes in tests) --


class KioskHardware(Protocol):
    """The Tecalis client's methods the flow uses (one owner of the hardware)."""

    @property
    def health(self) -> ServiceHealth: ...

    async def start_session(self) -> object: ...

    async def close_session(self) -> None: ...

    def hold_session(self) -> contextlib.AbstractAsyncContextManager[None]: ...

    async def kiosk_status(self) -> KioskStatus: ...

    async def dispenser_status(self) -> DispenserStatus: ...

    async def printer_status(self) -> PrinterStatus: ...

    async def prepare_card(self) -> None: ...

    async def read_barcode(self) -> str: ...

    async def dispense_card(self) -> None: ...

    async def discard_card(self) -> None: ...

    async def print_pdf(self, pdf: bytes) -> None: ...

    async def scan(self) -> ScannedImage: ...


class CardService(Protocol):
    """The CardAPI client's methods the flow uses."""

    async def search(self, mode: SearchMode, q: str) -> Pass: ...

    def debit_request(
        self,
        pass_: Pass,
        amount: Money,
        *,
        ticket_id: uuid.UUID | str,
        ticket_number: str | None = None,
    ) -> DebitRequest: ...

    async def send_debit(self, request: DebitRequest) -> DebitResult: ...


class CodeReader(Protocol):
    """The optional serial card reader."""

    def discard_pending(self) -> int: ...

    async def next_code(self) -> ScannedCode: ...


#: Reads a card on the payment terminal (PayJunction magnetic stripe); None: no card
#: read (red X, cancelled, timed out). The event cancels the read.
TerminalCardRead = Callable[[asyncio.Event], Awaitable[CardRead | None]]


@dataclass(frozen=True)
class FlowSettings:
    """Timeouts and limits of the flow (the idle ones come from ``[ui]``)."""

    idle_timeout_s: float = 60.0
    idle_warning_s: float = 20.0
    max_extensions: int = 10
    attract_recheck_s: float = 60.0
    out_of_service_recheck_s: float = 30.0
    thank_you_s: float = 10.0
    error_s: float = 20.0
    slip_on_screen_s: float = 60.0  # a receipt or voucher shown because the printer failed
    staging_tries: int = 3
    debit_retries: int = 3  # extra sends of the same debit after an unknown outcome
    debit_retry_delay_s: float = 5.0
    step_timeout_s: float = 180.0
    debit_timeout_s: float = 600.0
    payment_timeout_s: float = 900.0  # no result by then: cancel, then UNKNOWN after settle
    payment_settle_s: float = 60.0
    stop_grace_s: float = 10.0  # real seconds stop() waits for a running payment's result

    @classmethod
    def from_config(cls, config: Config) -> FlowSettings:
        ui = config.ui
        return cls(
            idle_timeout_s=ui.idle_timeout_s,
            idle_warning_s=ui.idle_warning_s,
            max_extensions=ui.max_extensions,
        )


@dataclass
class FlowServices:
    """Everything the flow talks to, injected (tests pass fakes or real simulator clients)."""

    config: Config
    journal: Journal
    clock: Clock
    hardware: KioskHardware
    cards: CardService
    payment_methods: Mapping[str, PaymentMethod]
    code_reader: CodeReader | None = None
    terminal_read: TerminalCardRead | None = None
    settings: FlowSettings = field(default_factory=FlowSettings)
    render_receipt: Callable[[receipts.Receipt], bytes] = receipts.render_receipt
    render_voucher: Callable[[receipts.RefundVoucher], bytes] = receipts.render_voucher

    @classmethod
    def from_devices(
        cls,
        devices: Devices,
        journal: Journal,
        *,
        clock: Clock,
        settings: FlowSettings | None = None,
    ) -> FlowServices:
        """The services of a kiosk wired by :func:`kioskapp.app.open_devices`."""
        from kioskapp.payments.payjunction import PayJunctionPayment

        terminal_read: TerminalCardRead | None = None
        card = devices.card
        if isinstance(card, PayJunctionPayment):
            client = card.client

            async def read(cancel: asyncio.Event) -> CardRead | None:
                return await client.read_card(cancel=cancel)

            terminal_read = read
        return cls(
            config=devices.config,
            journal=journal,
            clock=clock,
            hardware=devices.tecalis,
            cards=devices.cardapi,
            payment_methods=devices.payment_methods,
            code_reader=devices.serial,
            terminal_read=terminal_read,
            settings=settings or FlowSettings.from_config(devices.config),
        )


# -- internal events ---------------------------------------------------------------------


class _Sentinel:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_TIMEOUT = _Sentinel("TIMEOUT")  # the state's own timeout passed
_IDLE_EXPIRED = _Sentinel("IDLE_EXPIRED")  # the idle warning ran out
_ANY = -1  # generation of items valid in any state (timers, rechecks)

#: Screens with a Cancel button (PAYING: while the payment says it is cancellable).
_CANCELLABLE_STATES = frozenset(
    {State.CHOOSING, State.IDENTIFYING, State.ID_SCAN, State.ID_CONFIRM, State.PAYMENT_CHOICE}
)


@dataclass(frozen=True)
class _TimerFired:
    token: object


@dataclass(frozen=True)
class _Recheck:
    """Staff changed something: re-check whether the kiosk can sell."""


@dataclass(frozen=True)
class _PayStatus:
    status: PaymentStatus


@dataclass(frozen=True)
class _PayDone:
    result: PaymentResult


@dataclass(frozen=True)
class _Done:
    """A background operation of the current state ended."""

    tag: str
    value: object
    error: BaseException | None


class _StepTimedOut(Exception):
    pass


#: Voucher reasons printed on the slip, in the slip's language.
_VOUCHER_REASON: dict[str, str] = {
    "en": "The sale was cancelled after the payment was taken.",
    "es": "La venta se canceló después de cobrar el pago.",
    "fr": "La vente a été annulée après l'encaissement du paiement.",
    "ja": "お支払い後に販売が取り消されました。",
}


@dataclass
class _Sale:
    """One customer's sale, as the flow knows it (the journal holds the durable part)."""

    sale_id: str
    product: Product
    item: CatalogueItem
    price: Money
    identify_done: bool = False
    pass_: Pass | None = None
    cashback: Money | None = None
    id_confirmed: bool = False
    id_image: bytes | None = None
    card_pass: Pass | None = None
    card_number: str | None = None
    card_in_reader: bool = False
    payments: list[PaymentResult] = field(default_factory=list)
    notes: list[Money] = field(default_factory=list)
    attempts: dict[str, int] = field(default_factory=dict)
    failed_methods: set[str] = field(default_factory=set)
    current_method: str | None = None
    debit: DebitResult | None = None
    debit_unknown: bool = False
    debit_flagged: bool = False  # an incident about the debit is open
    delivered: bool = False
    delivery_unknown: bool = False
    delivery_flagged: bool = False  # an incident about the dispense is open
    compensated: Money = field(init=False)
    flagged: Money = field(init=False)
    incidents: int = 0  # undecided incidents opened for this sale

    def __post_init__(self) -> None:
        self.compensated = self.zero
        self.flagged = self.zero

    @property
    def zero(self) -> Money:
        return Money.zero(self.price.currency)

    @property
    def cashback_used(self) -> Money:
        return self.cashback or self.zero

    @property
    def due(self) -> Money:
        """What must be paid in money: the price less the cashback used."""
        return self.price - self.cashback_used

    @property
    def paid(self) -> Money:
        return sum((p.amount_taken for p in self.payments), start=self.zero)

    @property
    def remaining(self) -> Money:
        left = self.due - self.paid
        return left if left.minor > 0 else self.zero


class Subscription:
    """Snapshots as they change, starting with the current one (``async for``)."""

    _LIMIT = 1000

    def __init__(self, flow: Flow) -> None:
        self._flow = flow
        self._queue: asyncio.Queue[FlowSnapshot | None] = asyncio.Queue()
        self._closed = False
        self._queue.put_nowait(flow.snapshot)
        flow._subscriptions.add(self)

    def _push(self, snapshot: FlowSnapshot | None) -> None:
        if self._queue.qsize() >= self._LIMIT:
            self._queue.get_nowait()  # a consumer this far behind only needs the latest
        self._queue.put_nowait(snapshot)

    def __aiter__(self) -> AsyncIterator[FlowSnapshot]:
        return self

    async def __anext__(self) -> FlowSnapshot:
        if self._closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is None:
            self._closed = True
            raise StopAsyncIteration
        return item

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._flow._subscriptions.discard(self)
            self._queue.put_nowait(None)


class Flow:
    """The customer flow. See the module docstring."""

    def __init__(self, services: FlowServices) -> None:
        self._svc = services
        self._cfg = services.config
        self._clock = services.clock
        self._hw = services.hardware
        self._cards = services.cards
        self._methods = dict(services.payment_methods)
        self._settings = services.settings
        self._currency = self._cfg.kiosk.currency
        self._inbox: asyncio.Queue[tuple[int, object]] = asyncio.Queue()
        self._generation = 0
        self._state = State.ATTRACT
        self._subscriptions: set[Subscription] = set()
        self._callbacks: list[Callable[[FlowSnapshot], None]] = []
        self._catalogue = self._catalogue_of(lambda p: True)
        self._snap = FlowSnapshot(
            state=State.ATTRACT,
            language=self._cfg.kiosk.default_language,
            languages=tuple(self._cfg.kiosk.languages),
            high_contrast=self._cfg.ui.high_contrast,
            large_text=self._cfg.ui.large_text,
            catalogue=self._catalogue,
        )
        self._sale: _Sale | None = None
        self._attempt: PaymentAttempt | None = None
        self._state_tasks: list[asyncio.Task[None]] = []
        self._task: asyncio.Task[Any] | None = None
        self._stopping = False
        self._in_session = False
        self._session_open = False
        # A sale keeps its session: no planned refresh mid-sale (a staged card must not
        # be lost to a session change).
        self._session_hold = contextlib.AsyncExitStack()
        self._error: ErrorInfo | None = None
        self._refund: RefundSummary | None = None
        self._next_notice: ErrorInfo | None = None
        self._oos_reason: str | None = None
        self._staff_reason: str | None = None
        self._faults: dict[str, str] = {}
        self._unavailable_methods: set[str] = set()
        self._last_input = self._clock.monotonic()
        self._warning_until: float | None = None
        self._extensions_used = 0
        self._handlers: dict[State, Callable[[], Awaitable[State]]] = {
            State.ATTRACT: self._s_attract,
            State.OUT_OF_SERVICE: self._s_out_of_service,
            State.STARTING: self._s_starting,
            State.CHOOSING: self._s_choosing,
            State.IDENTIFYING: self._s_identifying,
            State.ID_SCAN: self._s_id_scan,
            State.ID_CONFIRM: self._s_id_confirm,
            State.STAGING_CARD: self._s_staging_card,
            State.PAYMENT_CHOICE: self._s_payment_choice,
            State.PAYING: self._s_paying,
            State.DEBITING: self._s_debiting,
            State.DISPENSING: self._s_dispensing,
            State.PRINTING: self._s_printing,
            State.THANK_YOU: self._s_thank_you,
            State.CANCELLING: self._s_cancelling,
            State.ERROR: self._s_error,
        }
        s = self._settings
        self._watchdogs: dict[State, float] = {
            State.STARTING: s.step_timeout_s,
            State.ID_SCAN: s.step_timeout_s,
            State.STAGING_CARD: s.step_timeout_s,
            State.DEBITING: s.debit_timeout_s,
            State.DISPENSING: s.step_timeout_s,
            State.PRINTING: s.step_timeout_s,
            State.CANCELLING: s.step_timeout_s,
        }

    # -- public API ---------------------------------------------------------------------
    @property
    def snapshot(self) -> FlowSnapshot:
        return self._snap

    @property
    def state(self) -> State:
        return self._state

    @property
    def faults(self) -> Mapping[str, str]:
        """Devices the flow stopped using until staff clear them: device → message key."""
        return dict(self._faults)

    def subscribe(self) -> Subscription:
        """Every snapshot from now on (the current one first). ``close()`` it when done."""
        return Subscription(self)

    def on_change(self, callback: Callable[[FlowSnapshot], None]) -> Callable[[], None]:
        """Call ``callback(snapshot)`` on every change; returns the function that unsubscribes."""
        self._callbacks.append(callback)

        def remove() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return remove

    def submit(self, intent: Intent) -> None:
        """Hand one user action to the flow. Never blocks; invalid intents are ignored."""
        if not isinstance(intent, INTENT_TYPES):
            raise TypeError(f"not a flow intent: {intent!r}")
        if isinstance(intent, SetLanguage):
            if intent.lang in self._snap.languages:
                self._touch()
                self._publish(language=intent.lang)
            else:
                log.debug("flow: language %r is not offered; ignored", intent.lang)
            return
        if isinstance(intent, SetHighContrast):
            self._touch()
            self._publish(high_contrast=intent.on)
            return
        if isinstance(intent, SetLargeText):
            self._touch()
            self._publish(large_text=intent.on)
            return
        self._inbox.put_nowait((self._generation, intent))

    def set_out_of_service(self, reason: str | None) -> None:
        """Staff take the kiosk out of service (a message key), or back in (None).
        Takes effect on the attract screen, never in the middle of a sale."""
        self._staff_reason = reason
        self._inbox.put_nowait((_ANY, _Recheck()))

    def clear_fault(self, device: str) -> None:
        """Staff fixed ``device`` (e.g. "dispenser" after staging failures)."""
        if self._faults.pop(device, None) is not None:
            self._publish(faults=tuple(sorted(self._faults)))
        self._inbox.put_nowait((_ANY, _Recheck()))

    async def run(self) -> None:
        """Run the journey until :meth:`stop`."""
        if self._task is not None:
            raise RuntimeError("the flow is already running")
        self._task = asyncio.current_task()
        state = State.ATTRACT
        try:
            while True:
                state = await self._step(state)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        finally:
            await self._shutdown()

    async def stop(self) -> None:
        """Stop the journey (see the module docstring) and end :meth:`run`."""
        self._stopping = True
        task = self._task
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    # -- the machine ----------------------------------------------------------------------
    async def _step(self, state: State) -> State:
        """Enter ``state`` and run it; the crash boundary of the journey."""
        try:
            return await self._enter(state)
        except asyncio.CancelledError:
            raise
        except Exception:  # the flow's top-level crash handler: a bug must not lose money
            log.exception("flow: state %s crashed", state)
            sale = self._sale
            if state is State.CANCELLING:
                self._error = ErrorInfo("internal_error", "staff")
                await self._flag_rest("the cancellation crashed")
                return State.ERROR
            if state in (State.ATTRACT, State.OUT_OF_SERVICE, State.THANK_YOU, State.ERROR):
                await self._clock.sleep(5.0)  # nothing to undo; do not spin on a bug
                if state is State.ATTRACT:
                    self._oos_reason = "out_of_service.internal_error"
                    return State.OUT_OF_SERVICE
                return State.ATTRACT
            if sale is not None and sale.delivered:
                return State.THANK_YOU
            self._error = ErrorInfo("internal_error", "staff")
            return State.CANCELLING

    async def _enter(self, state: State) -> State:
        self._state = state
        if state is State.ATTRACT and self._in_session:
            self._end_session_view()
        sale = self._sale
        if sale is not None:
            await self._journal(self._db.update_sale, sale.sale_id, state=state.value)
        self._last_input = self._clock.monotonic()
        self._warning_until = None
        notice, self._next_notice = self._next_notice, None
        if state is not self._snap.state:
            # A new screen: what was sent on the previous one no longer applies.
            self._generation += 1
        self._publish(
            state=state,
            notice=notice,
            idle_warning=None,
            can_cancel=state in _CANCELLABLE_STATES,
            id_image=sale.id_image if sale is not None and state is State.ID_CONFIRM else None,
            **self._entry_view(state),
        )
        log.info("flow: %s%s", state, f" (sale {sale.sale_id})" if sale else "")
        handler = self._handlers[state]
        try:
            watchdog = self._watchdogs.get(state)
            if watchdog is None:
                return await handler()
            try:
                return await self._with_watchdog(handler(), watchdog)
            except _StepTimedOut:
                log.error("flow: %s did not end within %.0f s", state, watchdog)
                if self._sale is not None and self._sale.delivered:
                    return State.THANK_YOU  # e.g. a printer that never answers
                self._error = ErrorInfo("kiosk.step_timed_out", "staff")
                if state is State.CANCELLING:
                    await self._flag_rest(f"the cancellation did not end within {watchdog:.0f} s")
                    return State.ERROR
                return State.CANCELLING
        finally:
            await self._stop_state_tasks()

    def _entry_view(self, state: State) -> dict[str, Any]:
        """What a state's screen shows from its first snapshot on."""
        if state is State.OUT_OF_SERVICE:
            return {"out_of_service_reason": self._oos_reason, "catalogue": self._catalogue}
        if state in (State.ATTRACT, State.CHOOSING):
            return {"catalogue": self._catalogue, "out_of_service_reason": None}
        if state is State.IDENTIFYING:
            return {
                "identify_phase": "ask",
                "identify_modes": self._identify_modes(),
                "identified_pass": None,
            }
        if state is State.PAYMENT_CHOICE:
            return {
                "methods_offered": self._offered_methods(),
                "payment_method": None,
                "payment_status": None,
                "note": None,
                **self._money_view(),
            }
        if state is State.PAYING:
            sale = self._sale
            assert sale is not None
            return {"payment_method": sale.current_method, "payment_status": None, "note": None}
        if state is State.ERROR:
            return {
                "error": self._error or ErrorInfo("sale.cancelled", "customer"),
                "refund": self._refund,
            }
        return {}

    async def _with_watchdog(self, work: Awaitable[State], seconds: float) -> State:
        task = asyncio.ensure_future(work)
        expired = asyncio.Event()
        handle = self._clock.call_later(seconds, expired.set)
        waiter = asyncio.ensure_future(expired.wait())
        try:
            await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        finally:
            handle.cancel()
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
        if task.done():
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise _StepTimedOut

    # -- inbox, timers, idle ------------------------------------------------------------------
    def _post(self, payload: object, generation: int) -> None:
        self._inbox.put_nowait((generation, payload))

    def _now(self) -> float:
        return self._clock.monotonic()

    async def _receive(self, delay: float | None) -> tuple[int, object] | None:
        """The next inbox item, or None once ``delay`` seconds of clock time passed."""
        if not self._inbox.empty():
            item = self._inbox.get_nowait()
            if not isinstance(item[1], _TimerFired):
                return item
        token = object()
        handle = None
        if delay is not None:
            # Armed synchronously: by the time anyone sees this state, its timer runs.
            handle = self._clock.call_later(
                delay, lambda: self._inbox.put_nowait((_ANY, _TimerFired(token)))
            )
        try:
            while True:
                generation, payload = await self._inbox.get()
                if isinstance(payload, _TimerFired):
                    if payload.token is token:
                        return None
                    continue  # a timer of an earlier wait
                return generation, payload
        finally:
            if handle is not None:
                handle.cancel()

    async def _next(
        self, *, idle: bool, timeout_s: float | None = None, until: float | None = None
    ) -> object:
        """The next intent or event for the current state; ``_TIMEOUT`` when ``timeout_s``
        (or the ``until`` moment) passed; ``_IDLE_EXPIRED`` when ``idle`` and the
        customer did not answer the idle warning. Stale intents are dropped here."""
        deadline = until
        if timeout_s is not None:
            deadline = self._now() + timeout_s
        while True:
            now = self._now()
            if deadline is not None and now >= deadline:
                return _TIMEOUT
            wake = deadline
            if idle:
                idle_wake = self._idle_check(now)
                if idle_wake is None:
                    return _IDLE_EXPIRED
                wake = idle_wake if wake is None else min(wake, idle_wake)
            elif self._warning_until is not None:
                self._warning_until = None
                self._publish(idle_warning=None)
            item = await self._receive(None if wake is None else max(0.0, wake - now))
            if item is None:
                continue
            generation, payload = item
            if generation != _ANY and generation != self._generation:
                log.debug("flow: %r came for an earlier screen; ignored", payload)
                continue
            if isinstance(payload, MoreTime):
                self._more_time()
                continue
            if isinstance(payload, INTENT_TYPES):
                self._touch()
            return payload

    def _idle_check(self, now: float) -> float | None:
        """When to look again at the idle timer; None when the warning ran out."""
        s = self._settings
        if self._warning_until is None:
            at = self._last_input + s.idle_timeout_s
            if now < at:
                return at
            self._warning_until = now + s.idle_warning_s
        left = self._warning_until - now
        if left <= 1e-6:
            self._warning_until = None
            self._publish(idle_warning=None)
            return None
        seconds = max(1, math.ceil(left - 1e-6))
        warning = IdleWarning(seconds, s.max_extensions - self._extensions_used)
        if self._snap.idle_warning != warning:
            self._publish(idle_warning=warning)
        return self._warning_until - (seconds - 1)  # when the countdown shows one less

    def _touch(self) -> None:
        """The customer did something: the idle timer starts again."""
        self._last_input = self._now()
        if self._warning_until is not None:
            self._warning_until = None
            self._publish(idle_warning=None)

    def _more_time(self) -> None:
        if self._warning_until is None:
            log.debug("flow: More time without a warning; ignored")
            return
        if self._extensions_used >= self._settings.max_extensions:
            log.debug("flow: no extensions left; More time ignored")
            return
        self._extensions_used += 1
        self._touch()

    # -- state-owned background tasks -------------------------------------------------------
    def _spawn(self, tag: str, work: Callable[[], Awaitable[object]]) -> None:
        """Run ``work()`` for the current state; its end comes back as ``_Done(tag, ...)``.
        (A factory, so that nothing is created if the state ends before the task starts.)"""
        generation = self._generation

        async def run() -> None:
            try:
                value = await work()
            except Exception as exc:  # noqa: BLE001 - handed to the state's handler, which decides
                self._post(_Done(tag, None, exc), generation)
                return
            self._post(_Done(tag, value, None), generation)

        self._state_tasks.append(asyncio.create_task(run(), name=f"flow-{tag}"))

    def _spawn_task(self, name: str, work: Coroutine[Any, Any, None]) -> None:
        self._state_tasks.append(asyncio.create_task(work, name=f"flow-{name}"))

    async def _stop_state_tasks(self) -> None:
        tasks, self._state_tasks = self._state_tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- snapshot --------------------------------------------------------------------------------
    def _publish(self, **changes: Any) -> None:
        changes.setdefault("faults", tuple(sorted(self._faults)))
        self._snap = replace(self._snap, seq=self._snap.seq + 1, **changes)
        snapshot = self._snap
        for sub in list(self._subscriptions):
            sub._push(snapshot)
        for callback in list(self._callbacks):
            try:
                callback(snapshot)
            except Exception:  # a UI callback's bug must not stop the journey
                log.exception("flow: on_change callback failed")

    def _money_view(self, live_taken: Money | None = None) -> dict[str, Any]:
        sale = self._sale
        if sale is None:
            return {"amount_due": None, "amount_paid": None, "amount_remaining": None}
        paid = sale.paid + (live_taken or sale.zero)
        left = sale.due - paid
        return {
            "amount_due": sale.due,
            "amount_paid": paid,
            "amount_remaining": left if left.minor > 0 else sale.zero,
            "cashback_used": sale.cashback,
        }

    def _end_session_view(self) -> None:
        """Back to attract after a customer's session: forget everything about them."""
        self._sale = None
        self._in_session = False
        self._error = None
        self._refund = None
        self._next_notice = None
        self._extensions_used = 0
        self._snap = FlowSnapshot(
            state=self._snap.state,
            seq=self._snap.seq,
            language=self._cfg.kiosk.default_language,
            languages=self._snap.languages,
            high_contrast=self._cfg.ui.high_contrast,
            large_text=self._cfg.ui.large_text,
            catalogue=self._catalogue,
        )

    # -- journal helpers ------------------------------------------------------------------
    @property
    def _db(self) -> JournalDB:
        return self._svc.journal.db

    async def _journal(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self._svc.journal.call(fn, *args, **kwargs)

    async def _save_payment(self, record: PaymentRecord) -> None:
        """The payment methods' journal hook: durable before money can move."""
        await self._journal(
            self._db.save_payment,
            key=record.key,
            sale_id=record.sale_id,
            method=record.method,
            attempt=record.attempt,
            amount=record.amount,
            taken=record.taken,
            uncertain=record.uncertain,
            reference=record.reference,
        )

    async def _compensate(self, result: PaymentResult, taken: Money) -> Compensation:
        """Give back what ``result`` took, journalled as a ``payment.compensate`` effect
        (keyed by the payment) before it is sent: after a crash, recovery sees it and
        never gives the same money back twice."""
        sale = self._sale
        assert sale is not None
        record = result.record
        effect_id = await self._journal(
            self._db.begin_effect, sale.sale_id, "payment.compensate",
            {"payment_key": record.key, "method": record.method, "amount_minor": taken.minor},
            key=record.key,
        )  # fmt: skip
        status: EffectStatus = "done"
        method = self._methods.get(record.method)
        if method is None:
            compensation = Compensation(record, "failed", taken, detail=f"no {record.method!r}")
            status = "failed"
        else:
            try:
                compensation = await method.compensate(result)
            except ServiceError as exc:
                compensation = Compensation(record, "failed", taken, detail=type(exc).__name__)
                definite = isinstance(exc, ApiError) and not exc.retryable
                status = "failed" if definite else "unknown"
            else:
                if not compensation.done:
                    status = "failed"
        await self._journal(
            self._db.end_effect, effect_id, status,
            {"kind": compensation.kind, "amount_minor": compensation.amount.minor,
             "reference": compensation.reference, "detail": compensation.detail},
        )  # fmt: skip
        return compensation

    async def _effect(
        self,
        kind: str,
        intent: dict[str, Any],
        call: Callable[[], Awaitable[T]],
        *,
        key: str | None = None,
    ) -> T:
        """One device side effect: intent journalled before, outcome after."""
        sale = self._sale
        assert sale is not None
        effect_id = await self._journal(self._db.begin_effect, sale.sale_id, kind, intent, key=key)
        try:
            value = await call()
        except ServiceError as exc:
            definite = isinstance(exc, ApiError) and not exc.retryable
            await self._journal(
                self._db.end_effect,
                effect_id,
                "failed" if definite else "unknown",
                {"error": type(exc).__name__, "code": exc.code},
            )
            raise
        await self._journal(self._db.end_effect, effect_id, "done", {})
        return value

    async def _incident(
        self,
        kind: str,
        summary: str,
        *,
        amount: Money | None = None,
        settled: bool = False,
        **details: Any,
    ) -> None:
        """Open an incident for staff. ``settled``: informational (e.g. a voucher issued);
        otherwise something is undecided and the sale ends ``flagged``."""
        sale = self._sale
        if sale is not None and not settled:
            sale.incidents += 1
            details.setdefault("product", sale.product.sku)
            details.setdefault("state", self._state.value)
        log.warning("flow: incident %s: %s", kind, summary)
        await self._journal(
            self._db.open_incident,
            kind,
            summary,
            sale_id=sale.sale_id if sale is not None else None,
            amount=amount,
            details=details,
        )

    # -- service checks ---------------------------------------------------------------------------
    def _catalogue_of(self, available: Callable[[Product], bool]) -> tuple[CatalogueItem, ...]:
        return tuple(
            CatalogueItem(
                sku=p.sku,
                name=p.name,
                price=Money(p.price_minor, self._currency),
                needs_id_scan=p.needs_id_scan,
                dispenses_card=p.dispenses_card,
                available=available(p),
            )
            for p in self._cfg.products
        )

    def _healthy_methods(self) -> list[str]:
        return [
            name
            for name, method in self._methods.items()
            if method.health().ok is not False
            and name not in self._unavailable_methods
            and name not in self._faults
        ]

    async def _check_service(self) -> str | None:
        """Can the kiosk sell now? None, or the out-of-service reason (a message key)."""
        if self._staff_reason is not None:
            return self._staff_reason
        try:
            status = await self._hw.kiosk_status()
        except ServiceError as exc:
            log.warning("flow: kiosk status unavailable: %s", exc)
            return "out_of_service.kiosk_unreachable"
        devices = {k.lower(): v.strip().lower() for k, v in status.devices.items()}
        unavailable: set[str] = set()
        if devices.get("bill_reader") in ("jammed", "full", "offline"):
            unavailable.add("cash")
        if devices.get("tpv") == "offline":
            unavailable.add("tpv")
        self._unavailable_methods = unavailable
        await self._check_printer()
        if not self._healthy_methods():
            return "out_of_service.no_payment_method"
        dispenser_reason = None
        if any(p.dispenses_card for p in self._cfg.products):
            dispenser_reason = await self._dispenser_problem(devices.get("dispenser"))
        scanner_ok = devices.get("scanner") != "offline"
        self._catalogue = self._catalogue_of(
            lambda p: (
                (dispenser_reason is None or not p.dispenses_card)
                and (scanner_ok or not p.needs_id_scan)
            )
        )
        if not any(item.available for item in self._catalogue):
            return dispenser_reason or "out_of_service.nothing_to_sell"
        return None

    async def _dispenser_problem(self, reported: str | None) -> str | None:
        if "dispenser" in self._faults:
            return "out_of_service.dispenser_fault"
        if reported == "offline":
            return "out_of_service.dispenser_offline"
        try:
            status = await self._hw.dispenser_status()
        except ServiceError as exc:
            log.warning("flow: dispenser status unavailable: %s", exc)
            return "out_of_service.dispenser_offline"
        if status.hopper_empty:
            return "out_of_service.dispenser_empty"
        if status.jammed:
            return "out_of_service.dispenser_jammed"
        return None

    async def _check_printer(self) -> None:
        """The printer never stops sales (receipts go on screen), but staff see it flagged."""
        try:
            status = await self._hw.printer_status()
        except ServiceError as exc:
            log.warning("flow: printer status unavailable: %s", exc)
            return
        if status.can_print:
            self._faults.pop("printer", None)
        elif status.paper == "out":
            self._faults["printer"] = "printer.paper_out"
        else:
            self._faults["printer"] = "printer.offline"

    # -- sale helpers ------------------------------------------------------------------------
    def _fail(self, cause: BaseException | ErrorInfo) -> State:
        """A fault: say what happened (never str(exc)) and cancel safely."""
        if isinstance(cause, ErrorInfo):
            info = cause
        else:
            info = describe(cause)
            log.warning("flow: %s failed: %s", self._state, cause)
        self._error = info
        return State.CANCELLING

    def _next_step(self) -> State:
        """Where the sale goes next, from what it has done so far."""
        sale = self._sale
        assert sale is not None
        product = sale.product
        if not sale.identify_done:
            return State.IDENTIFYING
        if product.needs_id_scan and not sale.id_confirmed:
            return State.ID_SCAN
        if product.dispenses_card and sale.card_pass is None:
            return State.STAGING_CARD
        if sale.remaining.minor > 0:
            return State.PAYMENT_CHOICE
        if self._debit_target() is not None and sale.debit is None:
            return State.DEBITING
        if product.dispenses_card and not sale.delivered:
            return State.DISPENSING
        return State.PRINTING

    def _debit_target(self) -> tuple[Pass, Money] | None:
        """The one debit of the sale: the cashback used on the customer's card, else 0 on
        the new card (registers the sale), else 0 on the identified card; None: no debit."""
        sale = self._sale
        assert sale is not None
        if sale.pass_ is not None and sale.cashback_used.minor > 0:
            return sale.pass_, sale.cashback_used
        if sale.card_pass is not None:
            return sale.card_pass, sale.zero
        if sale.pass_ is not None:
            return sale.pass_, sale.zero
        return None

    async def _create_sale(self, item: CatalogueItem) -> None:
        product = self._cfg.product(item.sku)
        sale = _Sale(sale_id=str(uuid.uuid4()), product=product, item=item, price=item.price)
        await self._journal(
            self._db.create_sale,
            sale.sale_id,
            state=State.CHOOSING.value,
            price=sale.price,
            product_sku=product.sku,
            product_name=product.name,
            data={
                "language": self._snap.language,
                "needs_id_scan": product.needs_id_scan,
                "dispenses_card": product.dispenses_card,
            },
        )
        self._sale = sale
        log.info("flow: sale %s for %s (%s)", sale.sale_id, product.sku, sale.price)
        self._publish(sale_id=sale.sale_id, product=item, **self._money_view())

    async def _close_sale(self, status: SaleStatus) -> None:
        """A sale that ends with nothing taken (back to choosing)."""
        sale = self._sale
        assert sale is not None
        await self._journal(
            self._db.update_sale,
            sale.sale_id,
            status=status,
            data={"delivered_minor": 0, "compensated_minor": 0, "flagged_minor": 0},
        )
        self._sale = None
        self._publish(
            sale_id=None,
            product=None,
            identified_pass=None,
            identify_phase=None,
            cashback_used=None,
            amount_due=None,
            amount_paid=None,
            amount_remaining=None,
        )

    async def _mark_delivered(self) -> None:
        sale = self._sale
        assert sale is not None
        sale.delivered = True
        await self._journal(
            self._db.update_sale,
            sale.sale_id,
            status="completed",
            data={
                "delivered_minor": sale.paid.minor,
                "compensated_minor": 0,
                "flagged_minor": 0,
            },
        )

    async def _close_session(self) -> None:
        if not self._session_open:
            return
        self._session_open = False
        await self._session_hold.aclose()
        try:
            await self._hw.close_session()
        except ServiceError as exc:
            log.warning("flow: could not close the kiosk session: %s", exc)

    def _now_dt(self) -> datetime:
        return datetime.fromtimestamp(self._clock.time(), UTC).astimezone()

    def _merchant(self) -> receipts.Merchant:
        kiosk = self._cfg.kiosk
        return receipts.Merchant(kiosk.merchant_name, tuple(kiosk.merchant_lines))

    # -- states: idle and service ------------------------------------------------------------
    async def _s_attract(self) -> State:
        reason = await self._check_service()
        if reason is not None:
            self._oos_reason = reason
            return State.OUT_OF_SERVICE
        self._publish(catalogue=self._catalogue)
        while True:
            item = await self._next(idle=False, timeout_s=self._settings.attract_recheck_s)
            if isinstance(item, Start):
                return State.STARTING
            if item is _TIMEOUT or isinstance(item, _Recheck):
                reason = await self._check_service()
                if reason is not None:
                    self._oos_reason = reason
                    return State.OUT_OF_SERVICE
                self._publish(catalogue=self._catalogue)
            else:
                log.debug("flow: %r ignored on the attract screen", item)

    async def _s_out_of_service(self) -> State:
        log.warning("flow: out of service: %s", self._oos_reason)
        while True:
            item = await self._next(idle=False, timeout_s=self._settings.out_of_service_recheck_s)
            if item is _TIMEOUT or isinstance(item, _Recheck):
                reason = await self._check_service()
                if reason is None:
                    self._oos_reason = None
                    self._publish(out_of_service_reason=None)
                    return State.ATTRACT
                if reason != self._oos_reason:
                    self._oos_reason = reason
                    self._publish(out_of_service_reason=reason)
            else:
                log.debug("flow: %r ignored while out of service", item)

    async def _s_starting(self) -> State:
        self._in_session = True
        self._extensions_used = 0
        try:
            await self._hw.start_session()  # closes a leftover session first
        except ServiceError as exc:
            return self._fail(exc)
        self._session_open = True
        await self._session_hold.enter_async_context(self._hw.hold_session())
        return State.CHOOSING

    # -- states: the customer chooses --------------------------------------------------------
    async def _s_choosing(self) -> State:
        while True:
            item = await self._next(idle=True)
            if item is _IDLE_EXPIRED:
                return State.CANCELLING
            if isinstance(item, Cancel | Back):
                return State.CANCELLING
            if isinstance(item, ChooseProduct):
                chosen = next((c for c in self._catalogue if c.sku == item.sku), None)
                if chosen is None or not chosen.available:
                    self._publish(notice=ErrorInfo("product.unavailable", "customer"))
                    continue
                await self._create_sale(chosen)
                return State.IDENTIFYING
            log.debug("flow: %r ignored while choosing", item)

    def _identify_modes(self) -> tuple[IdentifyMode, ...]:
        modes: list[IdentifyMode] = ["keypad"]
        if self._svc.code_reader is not None:
            modes.append("reader")
        if self._svc.terminal_read is not None:
            modes.append("terminal")
        return tuple(modes)

    async def _pump_codes(self, reader: CodeReader, generation: int) -> None:
        while True:
            try:
                code = await reader.next_code()
            except ReaderStopped:
                return
            self._post(CardCodeScanned(code.value, code.kind), generation)

    async def _s_identifying(self) -> State:
        sale = self._sale
        assert sale is not None
        phase: IdentifyPhase = "ask"
        reader = self._svc.code_reader
        if reader is not None:
            reader.discard_pending()  # a code scanned before this screen is not this customer's
            self._spawn_task("codes", self._pump_codes(reader, self._generation))
        cancel_read: asyncio.Event | None = None
        leave: State | None = None  # where to go once the terminal read has stopped
        went_back = False  # Back during a terminal read: no "read cancelled" notice

        def set_phase(new: IdentifyPhase, **changes: Any) -> None:
            nonlocal phase
            phase = new
            self._publish(identify_phase=new, **changes)

        while True:
            item = await self._next(idle=phase != "reading" and leave is None)
            if phase == "reading":
                if isinstance(item, _Done) and item.tag == "terminal":
                    cancel_read = None
                    if leave is not None:
                        return leave
                    if item.error is not None:
                        set_phase("enter", notice=describe(item.error))
                        continue
                    card = item.value
                    if not isinstance(card, CardRead):
                        notice = None if went_back else ErrorInfo("card.read_cancelled", "customer")
                        set_phase("enter", notice=notice)
                        continue
                    phase = await self._lookup_pass("manual", card.number)
                elif isinstance(item, Cancel) and cancel_read is not None:
                    leave = State.CANCELLING  # once the terminal confirmed the stop
                    cancel_read.set()
                elif isinstance(item, Back) and cancel_read is not None:
                    went_back = True
                    cancel_read.set()  # the read ends without a card: back to "enter"
                else:
                    log.debug("flow: %r ignored while reading a card", item)
                continue
            if item is _IDLE_EXPIRED or isinstance(item, Cancel):
                return State.CANCELLING
            if isinstance(item, Back):
                if phase == "ask":
                    await self._close_sale("cancelled")
                    return State.CHOOSING
                sale.pass_ = None
                set_phase("ask" if phase == "enter" else "enter", identified_pass=None)
            elif isinstance(item, HaveCard) and phase == "ask":
                set_phase("enter")
            elif isinstance(item, SkipCard) and phase in ("ask", "enter"):
                sale.pass_ = None
                sale.identify_done = True
                return self._next_step()
            elif isinstance(item, EnterCardNumber) and phase in ("ask", "enter", "found"):
                digits = "".join(ch for ch in item.digits if ch.isascii() and ch.isalnum())
                if not digits:
                    set_phase("enter", notice=ErrorInfo("card.number_invalid", "customer"))
                    continue
                phase = await self._lookup_pass("manual", digits)
            elif isinstance(item, CardCodeScanned) and phase in ("ask", "enter", "found"):
                mode: SearchMode = "nfc" if item.kind == "nfc" else "barcode"
                phase = await self._lookup_pass(mode, item.code)
            elif isinstance(item, ReadCardOnTerminal) and phase in ("ask", "enter", "found"):
                read = self._svc.terminal_read
                if read is None:
                    log.debug("flow: no terminal to read cards on; ignored")
                    continue
                cancel_read = asyncio.Event()
                went_back = False
                self._spawn("terminal", functools.partial(read, cancel_read))
                set_phase("reading", notice=None, identified_pass=None)
            elif isinstance(item, UseCashback) and phase == "found" and sale.pass_ is not None:
                usable = min(sale.pass_.balance, sale.price)
                sale.cashback = usable if item.use else sale.zero
                sale.identify_done = True
                await self._journal(
                    self._db.update_sale,
                    sale.sale_id,
                    data={"pass_id": sale.pass_.id, "cashback_minor": sale.cashback_used.minor},
                )
                self._publish(**self._money_view())
                return self._next_step()
            else:
                log.debug("flow: %r ignored while identifying (%s)", item, phase)

    async def _lookup_pass(self, mode: SearchMode, q: str) -> IdentifyPhase:
        """Search the customer's card; its balance is shown when it can pay."""
        sale = self._sale
        assert sale is not None
        sale.pass_ = None
        self._publish(identify_phase="searching", notice=None, identified_pass=None)
        try:
            found = await self._cards.search(mode, q)
        except ServiceError as exc:
            if not isinstance(exc, PassNotFound):
                log.warning("flow: card search failed: %s", exc)
            self._publish(identify_phase="enter", notice=describe(exc))
            return "enter"
        refusal = None
        if found.currency != self._currency or not found.is_cashback:
            refusal = ErrorInfo("card.not_usable", "customer")
        elif found.is_expired(self._clock.time()):
            refusal = ErrorInfo("card.expired", "customer")
        if refusal is not None:
            log.info("flow: card %s cannot pay (%s)", found.id, refusal.key)
            self._publish(identify_phase="enter", notice=refusal)
            return "enter"
        sale.pass_ = found
        view = PassView(
            masked_number=cardapi.mask(found.number or found.nfc_number or found.serial_number),
            balance=found.balance,
            usable=min(found.balance, sale.price),
        )
        self._publish(identify_phase="found", identified_pass=view)
        return "found"

    async def _s_id_scan(self) -> State:
        sale = self._sale
        assert sale is not None
        sale.id_image = None
        self._spawn("scan", self._hw.scan)
        while True:
            item = await self._next(idle=False)
            if isinstance(item, _Done) and item.tag == "scan":
                if item.error is not None:
                    return self._fail(item.error)
                assert isinstance(item.value, ScannedImage)
                sale.id_image = item.value.jpeg  # memory only, until confirmed
                return State.ID_CONFIRM
            if isinstance(item, Cancel):
                return State.CANCELLING
            log.debug("flow: %r ignored while scanning", item)

    async def _s_id_confirm(self) -> State:
        sale = self._sale
        assert sale is not None
        while True:
            item = await self._next(idle=True)
            if item is _IDLE_EXPIRED or isinstance(item, Cancel):
                sale.id_image = None
                return State.CANCELLING
            if isinstance(item, ConfirmId) and item.ok:
                sale.id_confirmed = True
                sale.id_image = None
                self._publish(id_image=None)
                await self._journal(self._db.update_sale, sale.sale_id, data={"id_checked": True})
                return self._next_step()
            if isinstance(item, ConfirmId | Back):
                sale.id_image = None
                self._next_notice = ErrorInfo("id.scan_again", "customer")
                return State.ID_SCAN
            log.debug("flow: %r ignored while confirming the ID", item)

    # -- states: the card ------------------------------------------------------------------------
    async def _discard_card(self) -> bool:
        """Drop the card in the reader position into the reject bin. False: it failed."""
        sale = self._sale
        assert sale is not None
        try:
            await self._effect("dispenser.discard", {}, self._hw.discard_card)
        except NoCardPrepared:
            log.warning("flow: no card to discard")
        except ServiceError as exc:
            log.warning("flow: discarding the card failed: %s", exc)
            return False
        sale.card_in_reader = False
        return True

    def _dispenser_down(self, why: str) -> State:
        log.error("flow: card dispenser taken out of use: %s", why)
        self._faults["dispenser"] = "dispenser.out_of_service"
        self._publish()
        return self._fail(ErrorInfo("dispenser.out_of_service", "staff", "tecalis"))

    async def _s_staging_card(self) -> State:
        sale = self._sale
        assert sale is not None
        failures = 0
        leftover_cleared = False
        while failures < self._settings.staging_tries:
            try:
                await self._effect(
                    "dispenser.prepare", {"try": failures + 1}, self._hw.prepare_card
                )
            except CardAlreadyPrepared:
                # A card left in the reader (e.g. by a crash): discard it, once.
                sale.card_in_reader = True
                if leftover_cleared or not await self._discard_card():
                    return self._dispenser_down("a card is stuck in the reader position")
                leftover_cleared = True
                continue
            except ServiceError as exc:
                return self._fail(exc)
            sale.card_in_reader = True
            try:
                barcode = await self._hw.read_barcode()
                found = await self._cards.search("barcode", barcode)
            except (BarcodeUnreadable, PassNotFound) as exc:
                failures += 1
                log.warning("flow: staged card %d unusable: %s", failures, type(exc).__name__)
                if not await self._discard_card():
                    return self._dispenser_down("a bad card could not be discarded")
                continue
            except ServiceError as exc:
                # The reader or CardAPI does not answer: not this card's fault.
                return self._fail(exc)
            if (
                not found.is_cashback
                or found.is_expired(self._clock.time())
                or found.currency != self._currency
            ):
                failures += 1
                log.warning("flow: staged card %d is not a usable cashback card", failures)
                if not await self._discard_card():
                    return self._dispenser_down("a bad card could not be discarded")
                continue
            sale.card_pass = found
            sale.card_number = barcode
            await self._journal(
                self._db.update_sale,
                sale.sale_id,
                data={"card_pass_id": found.id, "card_last4": barcode[-4:]},
            )
            return self._next_step()
        return self._dispenser_down(f"{failures} cards in a row could not be read or found")

    # -- states: money ---------------------------------------------------------------------------
    def _offered_methods(self) -> tuple[str, ...]:
        sale = self._sale
        assert sale is not None
        return tuple(m for m in self._healthy_methods() if m not in sale.failed_methods)

    def _resolve_method(self, name: str) -> str | None:
        if name in self._methods:
            return name
        if name == "card":
            return next((m for m in self._methods if m != "cash"), None)
        return None

    async def _s_payment_choice(self) -> State:
        sale = self._sale
        assert sale is not None
        offered = self._snap.methods_offered
        if not offered:
            return self._fail(ErrorInfo("payment.no_method", "staff"))
        while True:
            item = await self._next(idle=True)
            if item is _IDLE_EXPIRED or isinstance(item, Cancel):
                return State.CANCELLING
            if isinstance(item, PayWith):
                method = self._resolve_method(item.method)
                if method is not None and method in offered:
                    sale.current_method = method
                    return State.PAYING
            log.debug("flow: %r ignored at the payment choice", item)

    async def _pump_payment(self, attempt: PaymentAttempt, generation: int) -> None:
        try:
            async for status in attempt.statuses():
                self._post(_PayStatus(status), generation)
        except Exception:  # a method's status stream broke: its result still decides
            log.exception("flow: payment statuses failed")
        self._post(_PayDone(await attempt.result()), generation)

    async def _s_paying(self) -> State:
        sale = self._sale
        assert sale is not None
        assert sale.current_method is not None
        name = sale.current_method
        method = self._methods[name]
        number = sale.attempts.get(name, 0) + 1
        sale.attempts[name] = number
        try:
            attempt = await method.start(
                sale.remaining, sale.sale_id, attempt=number, journal=self._save_payment
            )
        except (ServiceError, ValueError) as exc:  # nothing moved; ValueError: misconfigured
            sale.failed_methods.add(name)
            self._next_notice = (
                describe(exc)
                if isinstance(exc, ServiceError)
                else ErrorInfo("payment.failed", "customer")
            )
            log.warning("flow: %s could not start: %s", name, exc)
            return State.PAYMENT_CHOICE
        self._attempt = attempt
        is_cash = name == "cash"
        self._publish(can_cancel=True)
        self._spawn_task("payment", self._pump_payment(attempt, self._generation))
        stop_reason: str | None = None  # customer | timeout | watchdog
        switch_to: str | None = None
        cancellable = True
        deadline = self._now() + self._settings.payment_timeout_s
        result: PaymentResult | None = None
        while result is None:
            stopping = stop_reason is not None or switch_to is not None
            item = await self._next(idle=is_cash and cancellable and not stopping, until=deadline)
            if isinstance(item, _PayStatus):
                status = item.status
                cancellable = status.cancellable
                note = _note_message(status)
                if note is not None:
                    if note.key == "note_accepted" and note.amount is not None:
                        sale.notes.append(note.amount)
                    self._touch()  # a note inserted is the customer acting
                changes: dict[str, Any] = {"payment_status": status}
                if note is not None:
                    changes["note"] = note
                self._publish(
                    can_cancel=status.cancellable and not stopping,
                    **changes,
                    **self._money_view(status.amount_taken),
                )
            elif isinstance(item, _PayDone):
                result = item.result
            elif isinstance(item, Cancel) and not stopping:
                stop_reason = "customer"
                self._publish(can_cancel=False)
                await attempt.cancel()
            elif isinstance(item, PayWith) and is_cash and not stopping:
                other = self._resolve_method(item.method)
                if other is not None and other != name and other in self._offered_methods():
                    switch_to = other  # the notes taken stay; the card pays the rest
                    await attempt.cancel()
            elif item is _IDLE_EXPIRED:
                stop_reason = "timeout"
                await attempt.cancel()
            elif item is _TIMEOUT:
                if stop_reason != "watchdog":
                    log.error("flow: %s payment without a result after %.0f s; cancelling",
                              name, self._settings.payment_timeout_s)  # fmt: skip
                    stop_reason = "watchdog"
                    deadline = self._now() + self._settings.payment_settle_s
                    await attempt.cancel()
                else:
                    result = PaymentResult(
                        record=attempt.record,
                        outcome=Outcome.UNKNOWN,
                        amount_taken=attempt.record.taken,
                        detail="no result from the payment method",
                    )
            else:
                log.debug("flow: %r ignored while paying", item)
        self._attempt = None
        await self._record_result(result)
        self._publish(payment_status=None, can_cancel=False, **self._money_view())
        return self._after_payment(result, stop_reason, switch_to)

    async def _record_result(self, result: PaymentResult) -> None:
        sale = self._sale
        assert sale is not None
        await self._journal(
            self._db.finish_payment,
            result.record.key,
            outcome=result.outcome.value,
            taken=result.amount_taken,
            auth_code=result.auth_code,
            card_brand=result.card_brand,
            card_last4=result.card_last4,
            detail=result.detail,
        )
        sale.payments.append(result)

    def _after_payment(
        self, result: PaymentResult, stop_reason: str | None, switch_to: str | None
    ) -> State:
        sale = self._sale
        assert sale is not None
        outcome = result.outcome
        log.info("flow: %s payment %s, %s taken, %s left", result.record.method, outcome,
                 result.amount_taken, sale.remaining)  # fmt: skip
        if outcome is Outcome.UNKNOWN:
            # Cash: a note's fate is unknown (the reader jammed); otherwise a card payment.
            key = "payment.cash_unknown" if result.record.method == "cash" else "payment.unknown"
            return self._fail(ErrorInfo(key, "staff", result.record.method))
        if stop_reason == "watchdog":
            return self._fail(ErrorInfo("payment.timed_out", "staff", result.record.method))
        if stop_reason is not None:
            return State.CANCELLING  # the customer cancelled, or walked away
        if sale.remaining.minor == 0:
            return self._next_step()
        if switch_to is not None:
            sale.current_method = switch_to
            return State.PAYING
        notices = {
            Outcome.DECLINED: "payment.declined",
            Outcome.TIMED_OUT: "payment.timed_out",
            Outcome.CANCELLED: "payment.cancelled",
            Outcome.FAILED: "payment.failed",
            Outcome.NOT_STARTED: "payment.failed",
        }
        if outcome is Outcome.FAILED:
            sale.failed_methods.add(result.record.method)
        self._next_notice = ErrorInfo(notices.get(outcome, "payment.failed"), "customer")
        return State.PAYMENT_CHOICE

    async def _s_debiting(self) -> State:
        sale = self._sale
        assert sale is not None
        target = self._debit_target()
        assert target is not None
        pass_, amount = target
        try:
            request = self._cards.debit_request(pass_, amount, ticket_id=sale.sale_id)
        except ServiceError as exc:  # refused before sending: nothing was debited
            return self._fail(exc)
        payload = request.to_payload()
        effect_id = await self._journal(
            self._db.begin_effect, sale.sale_id, "cardapi.debit", payload, key=sale.sale_id
        )
        sale.debit_unknown = True
        last: DebitOutcomeUnknown | None = None
        for send in range(self._settings.debit_retries + 1):
            if send:
                log.warning("flow: debit %s outcome unknown; sending the same ticket again (%d)",
                            sale.sale_id, send)  # fmt: skip
                await self._clock.sleep(self._settings.debit_retry_delay_s)
            try:
                result = await self._cards.send_debit(request)
            except DebitOutcomeUnknown as exc:
                last = exc
                continue
            except ServiceError as exc:  # a definite refusal: nothing was debited
                sale.debit_unknown = False
                await self._journal(
                    self._db.end_effect,
                    effect_id,
                    "failed",
                    {"error": type(exc).__name__, "code": exc.code},
                )
                return self._fail(exc)
            sale.debit_unknown = False
            sale.debit = result
            balance = result.balance_after
            await self._journal(
                self._db.end_effect,
                effect_id,
                "done",
                {
                    "amount": to_cardapi(result.amount),
                    "balance_after": None if balance is None else to_cardapi(balance),
                },
            )
            await self._journal(
                self._db.update_sale,
                sale.sale_id,
                data={"debit": "done", "debit_minor": result.amount.minor},
            )
            return self._next_step()
        await self._journal(
            self._db.end_effect,
            effect_id,
            "unknown",
            {"error": type(last).__name__, "code": last.code if last else None},
        )
        sale.debit_flagged = True
        await self._incident(
            "debit_unknown",
            f"CardAPI debit of {amount} for ticket {sale.sale_id} has an unknown outcome; "
            "repeat the journalled request (same ticket_id) to find out",
            amount=amount,
            ticket_id=sale.sale_id,
            request=payload,
        )
        return self._fail(ErrorInfo("cashback.debit_unknown", "staff", "cardapi"))

    async def _s_dispensing(self) -> State:
        sale = self._sale
        assert sale is not None
        assert sale.card_pass is not None
        sale.delivery_unknown = True
        try:
            await self._effect(
                "dispenser.dispense",
                {"pass_id": sale.card_pass.id, "card_last4": (sale.card_number or "")[-4:]},
                self._hw.dispense_card,
            )
        except ServiceError as exc:
            if isinstance(exc, ApiError) and not exc.retryable:
                sale.delivery_unknown = False  # the device refused: the card was not handed out
                return self._fail(exc)
            sale.delivery_flagged = True
            await self._incident(
                "dispense_unknown",
                f"the card for sale {sale.sale_id} may or may not have been handed out",
                amount=sale.paid,
                pass_id=sale.card_pass.id,
                error=type(exc).__name__,
            )
            return self._fail(ErrorInfo("dispenser.unknown", "staff", "tecalis"))
        sale.delivery_unknown = False
        sale.card_in_reader = False
        await self._mark_delivered()
        return self._next_step()

    # -- states: receipt and the end ---------------------------------------------------------------
    def _receipt(self) -> receipts.Receipt:
        sale = self._sale
        assert sale is not None
        cash_taken = [p for p in sale.payments if p.record.method == "cash"]
        cash = None
        cash_total = sum((p.amount_taken for p in cash_taken), start=sale.zero)
        if cash_total.minor > 0:
            counts = Counter(note.minor for note in sale.notes)
            notes = tuple(
                receipts.NoteCount(Money(minor, self._currency), count)
                for minor, count in sorted(counts.items(), reverse=True)
            )
            cash = receipts.CashPayment(notes, cash_total)
        card = None
        for p in sale.payments:
            if p.record.method != "cash" and p.amount_taken.minor > 0:
                card = receipts.CardPayment(
                    amount=p.amount_taken,
                    brand=p.card_brand or "",
                    last4=p.card_last4 or "",
                    auth_code=p.auth_code,
                    receipt_lines=p.receipt_lines,
                )
        cashback = None
        if sale.debit is not None and sale.debit.amount.minor > 0:
            row = sale.debit.receipt_row
            cashback = receipts.CashbackMovement(row.label, row.amount, row.balance)
        number = sale.card_number
        if number is None and sale.pass_ is not None:
            number = sale.pass_.number
        return receipts.Receipt(
            merchant=self._merchant(),
            kiosk_id=self._cfg.kiosk.id,
            sale_id=sale.sale_id,
            at=self._now_dt(),
            language=self._snap.language,
            items=(receipts.ReceiptItem.of(sale.product.name, 1, sale.price),),
            total=sale.price,
            cash=cash,
            card=card,
            cashback=cashback,
            cashback_card_number=number,
        )

    async def _print(
        self, kind: str, pdf: bytes, compose: Callable[[], receipts.Slip], **intent: Any
    ) -> bool:
        """Print a slip; if the printer cannot, show it on screen and flag the printer."""
        try:
            await self._effect(f"printer.{kind}", intent, lambda: self._hw.print_pdf(pdf))
        except ServiceError as exc:
            info = describe(exc)
            log.warning("flow: printing the %s failed: %s", kind, exc)
            self._faults["printer"] = info.key
            slip = compose()
            shown = OnScreenSlip(
                "voucher" if kind == "voucher" else "receipt",
                slip.text_lines(),
                slip.qr_payloads(),
            )
            self._publish(slip_on_screen=shown)
            return False
        return True

    async def _s_printing(self) -> State:
        sale = self._sale
        assert sale is not None
        if not sale.delivered:
            await self._mark_delivered()
        receipt = self._receipt()
        pdf = await asyncio.to_thread(self._svc.render_receipt, receipt)
        await self._print("receipt", pdf, lambda: receipts.compose_receipt(receipt))
        return State.THANK_YOU

    async def _s_thank_you(self) -> State:
        await self._close_session()
        s = self._settings
        wait = s.slip_on_screen_s if self._snap.slip_on_screen is not None else s.thank_you_s
        deadline = self._now() + wait
        while True:
            item = await self._next(idle=False, until=deadline)
            if item is _TIMEOUT or isinstance(item, Finish):
                return State.ATTRACT

    async def _s_error(self) -> State:
        s = self._settings
        wait = s.slip_on_screen_s if self._snap.slip_on_screen is not None else s.error_s
        deadline = self._now() + wait
        while True:
            item = await self._next(idle=False, until=deadline)
            if item is _TIMEOUT or isinstance(item, Finish):
                return State.ATTRACT

    # -- cancelling: give back what was taken ----------------------------------------------------
    async def _s_cancelling(self) -> State:
        sale = self._sale
        speak = self._error is not None
        if sale is not None and not sale.delivered:
            speak = await self._undo_sale() or speak
        await self._close_session()
        return State.ERROR if speak else State.ATTRACT

    async def _undo_sale(self) -> bool:
        """Compensate every payment that took money; flag what cannot be. True when the
        customer must be told something (a voucher, money kept for staff)."""
        sale = self._sale
        assert sale is not None
        vouchers = 0
        # Notes whose fate is unknown: not taken (the journal's books leave them out),
        # but held under an open incident, so the customer is told staff will return them.
        uncertain = sale.zero
        for result in sale.payments:
            taken = result.amount_taken
            record = result.record
            if record.uncertain is not None and record.uncertain.minor > 0:
                await self._incident(
                    "note_uncertain",
                    f"a {record.uncertain} note's fate is unknown ({result.detail})",
                    amount=record.uncertain,
                    payment_key=record.key,
                )
                uncertain += record.uncertain
            if result.outcome is Outcome.UNKNOWN and record.method != "cash":
                await self._incident(
                    "payment_unknown",
                    f"{record.method} payment of {record.amount} has an unknown outcome: "
                    "check the terminal / provider and refund if it was taken",
                    amount=record.amount,
                    payment_key=record.key,
                    reference=record.reference,
                    detail=result.detail,
                )
                sale.flagged += taken
                continue
            if taken.minor <= 0:
                continue
            if sale.delivery_unknown:
                sale.flagged += taken  # the dispense incident holds the details
                continue
            compensation = await self._compensate(result, taken)
            if compensation.kind == "not_needed":
                continue
            if not compensation.done:
                await self._incident(
                    "compensation_failed",
                    f"{record.method} payment of {taken} could not be given back: refund it",
                    amount=taken,
                    payment_key=record.key,
                    reference=record.reference,
                    auth_code=result.auth_code,
                    card_last4=result.card_last4,
                    detail=compensation.detail,
                )
                sale.flagged += taken
                continue
            await self._journal(
                self._db.record_compensation,
                record.key,
                kind=compensation.kind,
                amount=compensation.amount,
            )
            sale.compensated += compensation.amount
            if compensation.amount < taken:
                short = taken - compensation.amount
                await self._incident(
                    "compensation_failed",
                    f"{record.method} payment of {taken}: only {compensation.amount} given "
                    f"back; refund the other {short}",
                    amount=short,
                    payment_key=record.key,
                    reference=record.reference,
                    auth_code=result.auth_code,
                    card_last4=result.card_last4,
                    detail=compensation.detail,
                )
                sale.flagged += short
            if compensation.kind == "voucher":
                vouchers += 1
                await self._issue_voucher(result, compensation)
        if sale.debit_unknown and not sale.debit_flagged:
            sale.debit_flagged = True
            await self._incident(
                "debit_unknown",
                f"the CardAPI debit for ticket {sale.sale_id} was interrupted; repeat the "
                "journalled request (same ticket_id) to find out",
                ticket_id=sale.sale_id,
            )
        if sale.delivery_unknown and not sale.delivery_flagged:
            sale.delivery_flagged = True
            await self._incident(
                "dispense_unknown",
                f"the card for sale {sale.sale_id} may or may not have been handed out",
                amount=sale.paid,
            )
        if sale.debit is not None and sale.debit.amount.minor > 0 and not sale.delivery_unknown:
            await self._incident(
                "cashback_not_delivered",
                f"{sale.debit.amount} cashback was debited for sale {sale.sale_id}, which was "
                "not delivered: credit it back to the card",
                amount=sale.debit.amount,
                pass_id=sale.debit.payment_row.pass_id,
            )
        if sale.card_in_reader and not sale.delivery_unknown:
            await self._discard_card()
        status: SaleStatus = "cancelled"
        if sale.flagged.minor > 0 or sale.incidents > 0:
            status = "flagged"
        elif sale.compensated.minor > 0:
            status = "compensated"
        await self._journal(
            self._db.update_sale,
            sale.sale_id,
            status=status,
            data={
                "delivered_minor": 0,
                "compensated_minor": sale.compensated.minor,
                "flagged_minor": sale.flagged.minor,
            },
        )
        log.info("flow: sale %s %s: compensated %s, flagged %s", sale.sale_id, status,
                 sale.compensated, sale.flagged)  # fmt: skip
        kept_for_staff = sale.flagged + uncertain
        if vouchers or sale.compensated.minor > 0 or kept_for_staff.minor > 0:
            self._refund = RefundSummary(sale.compensated, vouchers, kept_for_staff)
        if vouchers and self._error is None:
            self._error = ErrorInfo("refund.voucher_issued", "customer")
        if kept_for_staff.minor > 0 and self._error is None:
            self._error = ErrorInfo("refund.staff_will_help", "staff")
        return vouchers > 0 or kept_for_staff.minor > 0

    async def _issue_voucher(self, result: PaymentResult, compensation: Compensation) -> None:
        sale = self._sale
        assert sale is not None
        language = self._snap.language
        code = compensation.reference or result.record.key
        voucher = receipts.RefundVoucher(
            merchant=self._merchant(),
            kiosk_id=self._cfg.kiosk.id,
            at=self._now_dt(),
            language=language,
            voucher_code=code,
            sale_id=sale.sale_id,
            amount=compensation.amount,
            reason=_VOUCHER_REASON.get(language, _VOUCHER_REASON["en"]),
        )
        pdf = await asyncio.to_thread(self._svc.render_voucher, voucher)
        printed = await self._print(
            "voucher",
            pdf,
            lambda: receipts.compose_voucher(voucher),
            voucher_code=code,
            payment_key=result.record.key,
        )
        await self._incident(
            "refund_voucher",
            f"refund voucher {code} for {compensation.amount} ({result.record.method}); "
            f"{'printed' if printed else 'shown on screen: printer failed'}",
            amount=compensation.amount,
            settled=True,
            voucher_code=code,
            payment_key=result.record.key,
            method=result.record.method,
            printed=printed,
            auth_code=result.auth_code,
            card_last4=result.card_last4,
            detail=compensation.detail,
        )

    async def _flag_rest(self, why: str) -> None:
        """The cancellation itself failed: flag what was not given back (best effort)."""
        sale = self._sale
        if sale is None:
            return
        compensated = sale.compensated
        rest = sale.paid - compensated
        try:
            await self._incident(
                "sale_unfinished", f"sale {sale.sale_id}: {why}", amount=rest, paid=sale.paid.minor
            )
            await self._journal(
                self._db.update_sale,
                sale.sale_id,
                status="flagged",
                data={
                    "delivered_minor": 0,
                    "compensated_minor": compensated.minor,
                    "flagged_minor": rest.minor,
                },
            )
        except Exception:  # the crash path's last resort: recovery finds the open sale
            log.exception("flow: could not flag sale %s", sale.sale_id)

    # -- shutdown ---------------------------------------------------------------------------------
    async def _shutdown(self) -> None:
        await self._stop_state_tasks()
        attempt, self._attempt = self._attempt, None
        if attempt is not None:
            await attempt.cancel()
            try:
                result = await asyncio.wait_for(
                    attempt.result(), timeout=self._settings.stop_grace_s
                )
            except TimeoutError:
                log.error("flow stopped with a payment still running; recovery will finish it")
            else:
                await self._record_result(result)
        for sub in list(self._subscriptions):
            sub.close()


def _note_message(status: PaymentStatus) -> NoteMessage | None:
    if status.phase == "note_in_escrow":
        return NoteMessage("note_in_escrow", status.note)
    if status.phase == "note_accepted":
        return NoteMessage("note_accepted", status.note)
    if status.phase == "note_returned":
        return NoteMessage(f"note_returned.{status.note_reason or 'unknown'}", status.note)
    return None


__all__ = [
    "CardService",
    "CodeReader",
    "Flow",
    "FlowServices",
    "FlowSettings",
    "KioskHardware",
    "Subscription",
    "TerminalCardRead",
]
