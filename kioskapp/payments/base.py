"""One interface for taking money, whatever takes it: cash or a card terminal.

    attempt = await method.start(amount, sale_id, journal=journal.record_payment)
    async for status in attempt.statuses():     # live, for the screen
        ...
    result = await attempt.result()              # final, exactly once
    await attempt.cancel()                       # any time; the result still comes

    await method.compensate(result)              # undo money taken (reverse/void/refund/voucher)
    await method.recover(record)                 # after a crash: what really happened

Money safety rests on three rules every implementation follows:

1. Before anything is sent that could take money, the :class:`PaymentRecord`
   (with its idempotency ``key``) goes to the ``journal`` hook and is awaited:
   it is durable before the first byte leaves. When the provider's own id
   (``reference``) becomes known, or money is taken (cash, note by note), the
   hook is called again with the updated record, before the next step.
2. A result says :attr:`Outcome.UNKNOWN` rather than guess: staff resolve it.
3. ``recover(record)`` asks the provider with the journalled key/reference,
   finishes or cancels what is still running, and reports the truth.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, ClassVar, Literal, TypeVar

from kioskapp.core.clock import Clock
from kioskapp.core.money import Money
from kioskapp.devices.health import ServiceHealth

log = logging.getLogger(__name__)

T = TypeVar("T")

_KEY_NAMESPACE = uuid.UUID("6d2b8f4e-4a51-4c1e-9a55-2b0e4f0c7a31")


def payment_key(method: str, sale_id: str, attempt: int) -> str:
    """The idempotency key of one payment attempt: the same inputs always give the same UUID.

    Derived, not random, so the journal's (method, sale_id, attempt) is enough
    to find the payment at the provider again after a crash.
    """
    return str(uuid.uuid5(_KEY_NAMESPACE, f"{method}:{sale_id}:{attempt}"))


class Outcome(StrEnum):
    APPROVED = "approved"  # the full amount is taken
    DECLINED = "declined"  # the card/bank said no; nothing taken
    CANCELLED = "cancelled"  # stopped by the customer or the kiosk (cash: see amount_taken)
    TIMED_OUT = "timed_out"  # nobody finished in time (cash: see amount_taken)
    FAILED = "failed"  # a device or service fault; what was taken is in amount_taken
    NOT_STARTED = "not_started"  # recover: the provider never saw this payment
    UNKNOWN = "unknown"  # money may or may not be taken: staff must decide


#: Outcomes after which no money of this attempt can move any more.
FINAL_AND_KNOWN: frozenset[Outcome] = frozenset(set(Outcome) - {Outcome.UNKNOWN})

Phase = Literal[
    "starting",
    "waiting_for_customer",  # insert notes / present card
    "card_presented",
    "pin_entry",
    "processing",  # authorising with the bank: not cancellable
    "note_in_escrow",
    "note_accepted",
    "note_returned",
    "cancelling",
    "finished",
]


@dataclass(frozen=True)
class PaymentRecord:
    """What the journal keeps about one payment attempt, before any money can move."""

    method: str
    sale_id: str
    attempt: int
    amount: Money
    key: str
    reference: str | None = None  # the provider's id once known (session, transaction, request)
    amount_taken: Money | None = None  # cash: the running stacked total
    uncertain: Money | None = None  # cash: a note whose fate the device could not tell

    @classmethod
    def new(cls, method: str, sale_id: str, attempt: int, amount: Money) -> PaymentRecord:
        return cls(
            method=method,
            sale_id=sale_id,
            attempt=attempt,
            amount=amount,
            key=payment_key(method, sale_id, attempt),
            amount_taken=Money.zero(amount.currency),
        )

    @property
    def taken(self) -> Money:
        return self.amount_taken or Money.zero(self.amount.currency)


JournalHook = Callable[[PaymentRecord], Awaitable[None]]


async def no_journal(record: PaymentRecord) -> None:
    """The default hook: nothing durable (tests and benchmarks only)."""


@dataclass(frozen=True)
class PaymentStatus:
    """A live status for the screen. ``message`` is English for logs; the UI maps ``phase``."""

    phase: Phase
    message: str
    cancellable: bool
    amount_taken: Money
    note: Money | None = None  # cash: the note this status is about
    note_reason: str | None = None  # cash: why it was returned, e.g. "exceeds_amount_due"


@dataclass(frozen=True)
class PaymentResult:
    record: PaymentRecord
    outcome: Outcome
    amount_taken: Money
    auth_code: str | None = None
    card_brand: str | None = None
    card_last4: str | None = None  # never more than the last four digits
    receipt_lines: tuple[str, ...] = ()  # the terminal's cardholder receipt, if it gives one
    detail: str | None = None  # why (decline reason, fault), English, safe to log

    @property
    def needs_compensation(self) -> bool:
        """Money was taken but the sale will not be delivered: the caller decides."""
        return self.amount_taken.minor > 0


CompensationKind = Literal["reversed", "voided", "refunded", "voucher", "not_needed", "failed"]


@dataclass(frozen=True)
class Compensation:
    record: PaymentRecord
    kind: CompensationKind
    amount: Money
    reference: str | None = None
    detail: str | None = None

    @property
    def done(self) -> bool:
        return self.kind != "failed"


class PaymentAttempt(ABC):
    """One running payment: live statuses, one final result, cancel."""

    record: PaymentRecord

    @abstractmethod
    def statuses(self) -> AsyncIterator[PaymentStatus]:
        """Live statuses; the iteration ends after the final one."""

    @abstractmethod
    async def result(self) -> PaymentResult:
        """The final result (waits for it)."""

    @abstractmethod
    async def cancel(self) -> None:
        """Ask to stop. Harmless when already finished or not cancellable; the result tells."""


class PaymentMethod(ABC):
    """Cash or one card terminal. One attempt runs at a time per method."""

    name: ClassVar[str]

    @abstractmethod
    async def start(
        self,
        amount: Money,
        sale_id: str,
        *,
        attempt: int = 1,
        journal: JournalHook = no_journal,
    ) -> PaymentAttempt:
        """Begin taking ``amount``. Raises a ServiceError if it could not even start
        (and then no money moved)."""

    @abstractmethod
    async def compensate(self, result: PaymentResult) -> Compensation:
        """Give back what ``result`` took (reversal, void, refund; cash: a voucher)."""

    @abstractmethod
    async def recover(self, record: PaymentRecord) -> PaymentResult:
        """After a crash: find the payment by its key/reference, stop it if it still
        runs, and say what really happened (UNKNOWN when the provider cannot tell)."""

    @abstractmethod
    def health(self) -> ServiceHealth:
        """Is the method usable now (only healthy methods are offered to customers)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most methods own nothing
        """Release what the method owns (not injected clients)."""


class TaskAttempt(PaymentAttempt):
    """A :class:`PaymentAttempt` run by one owned task: implementations write ``run``.

    The record is journalled before ``run`` is called (and :attr:`journalled`
    set). ``run(attempt)`` pushes statuses with :meth:`publish`, journals
    changes (reference, money taken) through :meth:`save`, watches
    :attr:`cancel_requested`, and returns the final :class:`PaymentResult`.
    A crash inside ``run`` (a bug) becomes an UNKNOWN result carrying the
    record, never a lost payment.
    """

    def __init__(
        self,
        record: PaymentRecord,
        run: Callable[[TaskAttempt], Awaitable[PaymentResult]],
        *,
        journal: JournalHook,
        clock: Clock,
    ) -> None:
        self.record = record
        self.clock = clock
        self._journal = journal
        self._queue: asyncio.Queue[PaymentStatus | None] = asyncio.Queue()
        self.cancel_requested = asyncio.Event()
        self.journalled = asyncio.Event()  # the first save is done
        self._result: asyncio.Future[PaymentResult] = asyncio.get_running_loop().create_future()
        self._task = asyncio.get_running_loop().create_task(
            self._main(run), name=f"payment-{record.method}-{record.sale_id}"
        )

    async def save(self, **changes: object) -> PaymentRecord:
        """Update the record and make it durable (awaits the journal) before going on."""
        if changes:
            self.record = replace(self.record, **changes)  # type: ignore[arg-type]
        await self._journal(self.record)
        return self.record

    def publish(
        self,
        phase: Phase,
        message: str,
        *,
        cancellable: bool,
        note: Money | None = None,
        note_reason: str | None = None,
    ) -> None:
        self._queue.put_nowait(
            PaymentStatus(
                phase=phase,
                message=message,
                cancellable=cancellable,
                amount_taken=self.record.taken,
                note=note,
                note_reason=note_reason,
            )
        )

    def finish(self, outcome: Outcome, **fields: object) -> PaymentResult:
        """Build the final result from the current record."""
        fields.setdefault("amount_taken", self.record.taken)
        return PaymentResult(record=self.record, outcome=outcome, **fields)  # type: ignore[arg-type]

    async def _main(self, run: Callable[[TaskAttempt], Awaitable[PaymentResult]]) -> None:
        try:
            # Rule 1, kept here for every provider: durable before anything is sent.
            try:
                await self._journal(self.record)
            except Exception as exc:  # the journal is down: refuse to take money unrecorded
                log.exception("payment %s/%s: journal write failed", self.record.method,
                              self.record.sale_id)  # fmt: skip
                result = self.finish(
                    Outcome.FAILED,
                    detail=f"the journal could not record the payment ({type(exc).__name__}); "
                    "nothing was sent",
                )
            else:
                self.journalled.set()
                result = await run(self)
        except asyncio.CancelledError:
            self._result.set_result(
                self.finish(Outcome.UNKNOWN, detail="the payment task was stopped")
            )
            raise
        except Exception as exc:  # the boundary of an owned task: a bug must not lose money
            log.exception("payment %s/%s crashed", self.record.method, self.record.sale_id)
            result = self.finish(Outcome.UNKNOWN, detail=f"internal error: {type(exc).__name__}")
        finally:
            self._queue.put_nowait(None)
        if not self._result.done():
            log.info(
                "payment %s/%s attempt %d: %s, taken %s",
                result.record.method,
                result.record.sale_id,
                result.record.attempt,
                result.outcome,
                result.amount_taken,
            )
            self._result.set_result(result)

    async def statuses(self) -> AsyncIterator[PaymentStatus]:
        while True:
            status = await self._queue.get()
            if status is None:
                return
            yield status

    async def result(self) -> PaymentResult:
        return await asyncio.shield(self._result)

    async def cancel(self) -> None:
        self.cancel_requested.set()

    async def abandon(self) -> None:
        """Stop the task without any cleanup (tests: a crash at this instant)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def next_of(
        self,
        source: Callable[[], Awaitable[T]],
        timeout_s: float | None,
        *,
        watch_cancel: bool = True,
    ) -> T | None:
        """Await ``source()`` (e.g. the next device event); None if ``timeout_s`` of clock
        time passed first or, with ``watch_cancel``, a cancel was requested."""
        if watch_cancel and self.cancel_requested.is_set():
            return None
        item: asyncio.Future[T] = asyncio.ensure_future(source())
        others: list[asyncio.Future[object]] = []
        if watch_cancel:
            others.append(asyncio.ensure_future(self.cancel_requested.wait()))
        if timeout_s is not None:
            others.append(asyncio.ensure_future(self.clock.sleep(timeout_s)))
        every: list[asyncio.Future[Any]] = [item, *others]
        try:
            await asyncio.wait(every, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for fut in every:
                if not fut.done():
                    fut.cancel()
            await asyncio.gather(*every, return_exceptions=True)
        if item.done() and not item.cancelled() and item.exception() is None:
            return item.result()
        if item.done() and not item.cancelled():
            raise item.exception()  # type: ignore[misc]
        return None

    async def wait_cancel_or(self, seconds: float) -> bool:
        """Wait up to ``seconds`` of clock time; True if a cancel was requested meanwhile."""
        if self.cancel_requested.is_set():
            return True
        sleeper = asyncio.ensure_future(self.clock.sleep(seconds))
        waiter = asyncio.ensure_future(self.cancel_requested.wait())
        try:
            await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waiter):
                task.cancel()
            await asyncio.gather(sleeper, waiter, return_exceptions=True)
        return self.cancel_requested.is_set()
