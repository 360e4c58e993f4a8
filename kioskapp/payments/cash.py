"""Cash through the Tecalis bill reader, with the kiosk's escrow policy.

Policy (the customer journey's "pay the rest" step):

- Every note is held in escrow and decided at once: accepted if it does not
  exceed the amount still due, returned otherwise ("exceeds_amount_due": the
  kiosk gives no change). A note is never left to the device's 90 s timeout;
  if a decision could not be sent, it is sent again once the device still
  shows that same note in escrow (well within ``decision_timeout_s``).
- Cancel (or the inactivity timeout) closes the reader: a note in escrow goes
  back to the customer. Notes already stacked cannot be handed back: the
  result carries ``amount_taken`` and the caller finishes by card or gives a
  refund voucher (:meth:`CashPayment.compensate` says "voucher").
- Each stacked note is journalled (``amount_taken``) before the next decision,
  and a note is journalled as ``uncertain`` before its accept is sent, until
  the device says where it went. A note whose fate the device cannot tell (a
  jam, an accept whose answer was lost at a session end) stays ``uncertain``
  and ends the payment as UNKNOWN, for staff.
- The record's reference says how far the bill reader got: READER_OPENING is
  journalled before ``bill-reader/open`` is sent, READER_OPEN once it opened.
  Recovery trusts the device's stacked total only for a reader this payment
  opened (the device keeps an earlier payment's total until the next open).
"""

from __future__ import annotations

import contextlib
import logging
from typing import ClassVar

from kioskapp.core.clock import Clock, SystemClock
from kioskapp.core.money import Money
from kioskapp.devices.errors import ApiError, ServiceError
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.tecalis import TecalisClient
from kioskapp.devices.tecalis_models import (
    BillReaderChanged,
    DeviceEvent,
    NoteEscrowed,
    NoteOutcomeUnknown,
    NoteReturned,
    NoteStacked,
    SessionRenewed,
)
from kioskapp.payments.base import (
    Compensation,
    JournalHook,
    Outcome,
    PaymentAttempt,
    PaymentMethod,
    PaymentRecord,
    PaymentResult,
    TaskAttempt,
    no_journal,
)

log = logging.getLogger(__name__)

READER_OPENING = "cash-reader-opening"
READER_OPEN = "cash-reader-open"


class CashPayment(PaymentMethod):
    name: ClassVar[str] = "cash"

    def __init__(
        self,
        tecalis: TecalisClient,
        *,
        clock: Clock | None = None,
        inactivity_timeout_s: float | None = 180.0,
        decision_timeout_s: float = 5.0,
    ) -> None:
        self.tecalis = tecalis
        self.clock = clock or tecalis.clock or SystemClock()
        self.inactivity_timeout_s = inactivity_timeout_s
        self.decision_timeout_s = decision_timeout_s

    def health(self) -> ServiceHealth:
        return self.tecalis.health

    async def start(
        self,
        amount: Money,
        sale_id: str,
        *,
        attempt: int = 1,
        journal: JournalHook = no_journal,
    ) -> PaymentAttempt:
        if amount.minor <= 0:
            raise ValueError(f"cash payment of {amount}: the amount must be positive")
        record = PaymentRecord.new(self.name, sale_id, attempt, amount)
        return TaskAttempt(record, self._run, journal=journal, clock=self.clock)

    async def _run(self, att: TaskAttempt) -> PaymentResult:
        client = self.tecalis
        due = att.record.amount
        await att.save()
        client.pending_events()  # nothing from before this payment concerns it
        att.publish("starting", "opening the bill reader", cancellable=True)
        if att.cancel_requested.is_set():
            return att.finish(Outcome.CANCELLED, detail="cancelled before the reader opened")
        await att.save(reference=READER_OPENING)
        try:
            await client.open_bill_reader(due)
        except ServiceError as exc:
            if not (isinstance(exc, ApiError) and not exc.retryable):
                # It may have opened: close it so no note can be taken unseen.
                with contextlib.suppress(ServiceError):
                    await client.close_bill_reader()
            return att.finish(Outcome.FAILED, detail=f"bill reader: {exc.message}")
        await att.save(reference=READER_OPEN)
        att.publish("waiting_for_customer", f"insert notes: {due} due", cancellable=True)
        outcome: Outcome | None = None
        detail: str | None = None
        while outcome is None:
            event = await att.next_of(client.next_event, self.inactivity_timeout_s)
            if event is None:
                outcome = Outcome.CANCELLED if att.cancel_requested.is_set() else Outcome.TIMED_OUT
                break
            outcome, detail = await self._on_event(att, event)
        return await self._end(att, outcome, detail)

    async def _on_event(
        self, att: TaskAttempt, event: DeviceEvent
    ) -> tuple[Outcome | None, str | None]:
        """Act on one device event; an outcome when the payment must end."""
        due = att.record.amount
        if isinstance(event, NoteEscrowed):
            remaining = due - att.record.taken
            if event.amount <= remaining:
                att.publish("note_in_escrow", f"{event.amount} in escrow", cancellable=False,
                            note=event.amount)  # fmt: skip
                await self._decide(att, event, accept=True)
            else:
                att.publish(
                    "note_returned", f"{event.amount} is more than the {remaining} still due",
                    cancellable=True, note=event.amount, note_reason="exceeds_amount_due",
                )  # fmt: skip
                await self._decide(att, event, accept=False)
        elif isinstance(event, NoteStacked):
            await att.save(amount_taken=att.record.taken + event.amount, uncertain=None)
            att.publish("note_accepted", f"{event.amount} taken", cancellable=True,
                        note=event.amount)  # fmt: skip
            if att.record.taken >= due:
                return Outcome.APPROVED, None
        elif isinstance(event, NoteReturned):
            if att.record.uncertain is not None:
                await att.save(uncertain=None)
            if event.reason != "rejected":  # our own rejections were announced already
                att.publish("note_returned", "note returned", cancellable=True,
                            note=event.amount, note_reason=event.reason)  # fmt: skip
        elif isinstance(event, NoteOutcomeUnknown):
            await att.save(uncertain=event.amount)
            return Outcome.UNKNOWN, f"a {event.amount} note's fate is unknown ({event.reason})"
        elif isinstance(event, BillReaderChanged):
            if event.state == "jammed":
                if event.stuck_note is not None:
                    await att.save(uncertain=event.stuck_note)
                return Outcome.UNKNOWN, "the bill reader jammed"
            if event.state == "full":
                return Outcome.FAILED, "the cash box is full"
        elif isinstance(event, SessionRenewed):
            return Outcome.FAILED, "the kiosk session ended during the cash payment"
        return None, None

    async def _decide(self, att: TaskAttempt, note: NoteEscrowed, *, accept: bool) -> None:
        """Accept or return the note in escrow; once more if the first answer was lost and
        the device still shows this very note (so the decision cannot hit another note).
        If the device cannot be reached twice, its own 90 s timeout returns the note."""
        client = self.tecalis
        if accept:
            # Durable before the send: if we die now, recovery knows a note may be stacked.
            await att.save(uncertain=note.amount)
        for _ in range(2):
            try:
                await (client.accept_note() if accept else client.reject_note())
                return
            except ServiceError as exc:
                log.warning("cash: %s of %s failed: %s", "accept" if accept else "return",
                            note.amount, exc)  # fmt: skip
                if isinstance(exc, ApiError) and not exc.retryable:
                    return  # a definite answer (jam, no note): events tell the rest
                still = client.escrow_note
                if still is None or still.since != note.since:
                    return

    async def _end(self, att: TaskAttempt, outcome: Outcome, detail: str | None) -> PaymentResult:
        """Close the reader (a note in escrow goes back), take in the last events, finish."""
        client = self.tecalis
        att.publish("cancelling", "closing the bill reader", cancellable=False)
        try:
            await client.close_bill_reader()
        except ServiceError as exc:
            log.warning("cash: closing the bill reader failed: %s", exc)
            if outcome is not Outcome.APPROVED:
                outcome, detail = Outcome.UNKNOWN, f"the bill reader did not close: {exc.message}"
        for event in client.pending_events():
            # Anything settled while closing: a last stacked note still counts.
            if isinstance(event, NoteStacked):
                await att.save(amount_taken=att.record.taken + event.amount, uncertain=None)
            elif isinstance(event, NoteReturned) and att.record.uncertain is not None:
                await att.save(uncertain=None)
            elif isinstance(event, NoteOutcomeUnknown):
                await att.save(uncertain=event.amount)
            elif isinstance(event, BillReaderChanged) and event.state == "jammed":
                await att.save(uncertain=event.stuck_note or att.record.uncertain)
                outcome, detail = Outcome.UNKNOWN, "the bill reader jammed while closing"
        if att.record.uncertain is not None and att.record.uncertain.minor > 0:
            outcome = Outcome.UNKNOWN
            detail = detail or f"a {att.record.uncertain} note's fate is unknown"
        if outcome is not Outcome.UNKNOWN and att.record.taken >= att.record.amount:
            outcome = Outcome.APPROVED
        att.publish("finished", str(outcome), cancellable=False)
        return att.finish(outcome, detail=detail)

    async def compensate(self, result: PaymentResult) -> Compensation:
        """Stacked notes cannot be handed back: the customer gets a refund voucher."""
        taken = result.amount_taken
        if taken.minor <= 0:
            return Compensation(result.record, "not_needed", taken)
        return Compensation(
            result.record, "voucher", taken, reference=result.record.key,
            detail="stacked notes are refunded by voucher",
        )  # fmt: skip

    async def recover(self, record: PaymentRecord) -> PaymentResult:
        """What the bill reader this payment opened really took.

        Its session's bill reader, if still readable, gives the exact stacked
        total; otherwise the journal's count stands, and a note whose accept
        may have gone out makes the result UNKNOWN.
        """
        zero = Money.zero(record.amount.currency)
        if record.reference is None:
            # Nothing was sent: the reader was never asked to open.
            return PaymentResult(record, Outcome.NOT_STARTED, zero, detail="never opened")
        status = None
        try:
            status = await self.tecalis.leftover_bill_reader_status()
        except ServiceError as exc:
            log.warning("cash recover: bill reader status unavailable: %s", exc)
        if record.reference == READER_OPENING and (
            status is None or status.state in ("closed", "idle")
        ):
            # The open never took (a closed reader is an earlier payment's), and no
            # note can be accepted before the open succeeded.
            await self._close_leftover()
            return PaymentResult(record, Outcome.NOT_STARTED, zero,
                                 detail="the bill reader never opened")  # fmt: skip
        taken = record.taken
        uncertain = record.uncertain is not None and record.uncertain.minor > 0
        if status is not None:
            # A reader this payment opened: its total is exact (a note still in escrow
            # goes back when the session closes).
            taken = max(taken, status.stacked_total)
            uncertain = status.state in ("jammed", "stacking", "unknown")
        await self._close_leftover()
        if uncertain:
            outcome = Outcome.UNKNOWN
        elif taken >= record.amount:
            outcome = Outcome.APPROVED
        else:
            outcome = Outcome.CANCELLED
        source = "the bill reader" if status is not None else "the journal"
        return PaymentResult(record, outcome, taken, detail=f"recovered from {source}")

    async def _close_leftover(self) -> None:
        """Close the previous run's session: a note still in escrow goes back out."""
        with contextlib.suppress(ServiceError):
            await self.tecalis.start_session()
