"""Card payments on a PayJunction Smart Terminal.

The API contract (what PayJunction documents, what we assume) lives in
:mod:`kioskapp.devices.payjunction`; this module is the payment logic on top.

Journal and reference. :class:`~kioskapp.payments.base.TaskAttempt`
journals the record (no reference) before the attempt runs; right before
``request-payment`` is sent the record is journalled again with the marker
reference :data:`SENDING`; PayJunction's ``requestPaymentId`` (the real reference)
only comes back in the answer to ``request-payment`` and is journalled at
once, before anything else happens. So a record without a reference was
provably never sent (``recover``: NOT_STARTED). The window the journal cannot
close is the marker's: PayJunction creates the request, and the terminal may
show the amount, before its answer reaches the kiosk. If the app dies there
(or the answer is lost), the journal holds only :data:`SENDING`, and
PayJunction offers no lookup by our key. Then:

- live: a request that provably never left (no connection:
  :class:`~kioskapp.devices.payjunction.NotSent`) or that PayJunction refused
  (4xx) → FAILED, nothing taken. Any other lost answer → the terminal is sent
  to its main screen (ending whatever request it runs) and the result is
  UNKNOWN: staff look the payment up in PayJunction.
- ``recover`` of a :data:`SENDING` record → the same: main screen, UNKNOWN.
  Nothing can prove that no request was created.

Statuses come from the request's tracker: signed ``SMARTTERMINAL_REQUEST``
webhooks when they arrive, polls every ``poll_interval_s`` otherwise. As
PayJunction advises, once a request carries a ``transactionId`` the
transaction is read (``GET /transactions/{id}``) and its outcome is the
payment's, without waiting for the terminal's ``COMPLETE``.

Cancel. PayJunction has no cancel by request id. The customer can press the
terminal's red X (the request then completes without a transaction), and the
API can send the terminal to its main screen (``POST /smartterminals/{id}/main``),
which ends the running request. :meth:`~PaymentAttempt.cancel` does the
latter while no card has been read. Once the customer inserted or swiped the
card the transaction is processed anyway (PayJunction: "too late to cancel,
void instead"): the attempt then reports what really happened (an APPROVED
result after a cancel is the caller's to compensate, with :meth:`compensate`,
a void). If the terminal does not confirm the end of the request within
``settle_s``, the result is UNKNOWN.

Timeout: the attempt's own ``timeout_s`` (default 180 s); then it stops the
terminal the same way and reports TIMED_OUT (nothing taken), or the
transaction if a card was processed meanwhile.

Compensation: void (``PUT /transactions/{id}`` ``status=VOID``), checked
with ``GET /transactions/{id}`` when the answer is lost or refused. A
transaction PayJunction will not void (declined, settled) is reported
``failed`` with what staff need to refund it.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import ClassVar, Literal

from kioskapp.core.clock import Clock
from kioskapp.core.money import Money
from kioskapp.devices.errors import ApiError, NotFound, ServiceError
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.payjunction import (
    NotSent,
    PayJunctionClient,
    PaymentSummary,
    RequestStatus,
    RequestTracker,
    Transaction,
    ValidationFailed,
)
from kioskapp.payments.base import (
    Compensation,
    JournalHook,
    Outcome,
    PaymentAttempt,
    PaymentMethod,
    PaymentRecord,
    PaymentResult,
    Phase,
    TaskAttempt,
    no_journal,
)

log = logging.getLogger(__name__)

StopReason = Literal["cancel", "timeout", "recover"]
Publisher = Callable[[Phase, str, bool], None]

#: The record's reference while ``request-payment`` is on its way (its id unknown yet).
SENDING = "payjunction-sending"

_STOPPING: tuple[Phase, str, bool] = ("cancelling", "stopping the card terminal", False)


class PayJunctionPayment(PaymentMethod):
    name: ClassVar[str] = "payjunction"

    def __init__(
        self,
        client: PayJunctionClient,
        *,
        clock: Clock | None = None,
        timeout_s: float = 180.0,
        settle_s: float = 30.0,
        own_client: bool = False,
    ) -> None:
        """``timeout_s``: the whole attempt; ``settle_s``: how long the terminal gets to
        confirm the end of a request it was told to stop. ``own_client``: close the
        client in :meth:`aclose`."""
        self.client = client
        self.clock = clock or client.clock
        self.timeout_s = timeout_s
        self.settle_s = settle_s
        self._own_client = own_client
        # Transaction ids by payment key, for compensation (recover fills it too).
        self._transactions: OrderedDict[str, str] = OrderedDict()

    def health(self) -> ServiceHealth:
        return self.client.health

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    async def start(
        self,
        amount: Money,
        sale_id: str,
        *,
        attempt: int = 1,
        journal: JournalHook = no_journal,
    ) -> PaymentAttempt:
        if amount.minor <= 0:
            raise ValueError(f"card payment of {amount}: the amount must be positive")
        if amount.currency != self.client.currency:
            raise ValueError(f"PayJunction takes {self.client.currency}, not {amount.currency}")
        record = PaymentRecord.new(self.name, sale_id, attempt, amount)
        return TaskAttempt(record, self._run, journal=journal, clock=self.clock)

    # -- the attempt -----------------------------------------------------------------
    async def _run(self, att: TaskAttempt) -> PaymentResult:
        deadline = self.clock.monotonic() + self.timeout_s
        # TaskAttempt journalled the record (no reference) before calling this.
        if att.cancel_requested.is_set():
            return att.finish(Outcome.CANCELLED, detail="cancelled before the terminal was asked")
        att.publish("starting", "asking the card terminal", cancellable=True)
        await att.save(reference=SENDING)  # from here a request may exist we cannot name
        try:
            request_id = await self.client.request_payment(att.record.amount)
        except NotSent as exc:
            return att.finish(Outcome.FAILED, detail=f"card terminal: {exc.message}")
        except ApiError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return att.finish(Outcome.FAILED, detail=f"card terminal refused: {exc.message}")
            return await self._lost_request(att.record, exc)
        except ServiceError as exc:
            return await self._lost_request(att.record, exc)
        await att.save(reference=request_id)

        def publish(phase: Phase, message: str, cancellable: bool) -> None:
            att.publish(phase, message, cancellable=cancellable)

        return await self._follow(
            att.record,
            self.client.track(request_id),
            deadline=deadline,
            cancel=att.cancel_requested,
            publish=publish,
        )

    async def _lost_request(self, record: PaymentRecord, exc: ServiceError) -> PaymentResult:
        """request-payment was sent but its answer is lost: a request may run unseen."""
        log.error(
            "payjunction %s/%s: request-payment answer lost (%s); stopping the terminal",
            record.sale_id,
            record.attempt,
            exc,
        )
        stopped = await self._return_to_main()
        return PaymentResult(
            record,
            Outcome.UNKNOWN,
            Money.zero(record.amount.currency),
            detail=(
                f"request-payment answer lost ({exc.message}); the terminal was "
                f"{'sent' if stopped else 'NOT sent'} to its main screen; check PayJunction's "
                "transactions for this amount and time"
            ),
        )

    async def _return_to_main(self) -> bool:
        try:
            await self.client.return_to_main()
        except ServiceError as exc:
            log.warning("payjunction: could not send the terminal to its main screen: %s", exc)
            return False
        return True

    async def _follow(
        self,
        record: PaymentRecord,
        tracker: RequestTracker,
        *,
        deadline: float,
        cancel: asyncio.Event | None = None,
        publish: Publisher | None = None,
        stop: StopReason | None = None,
    ) -> PaymentResult:
        """Follow one request to its end (or stop it) and say what it came to."""
        client = self.client
        stop_reason = stop
        stop_sent_at: float | None = None
        retry_at: float | None = None
        shown: tuple[Phase, str, bool] | None = None
        while True:
            status = tracker.latest
            seen = tracker.version
            if status is not None:
                if publish is not None and not status.final:
                    phase = _STOPPING if stop_sent_at is not None else _phase_of(status)
                    if phase != shown:
                        shown = phase
                        publish(*phase)
                if status.final:
                    return await self._final(record, status, stop_reason)
                if status.transaction_id is not None and (
                    retry_at is None or client.reached(retry_at)
                ):
                    result = await self._processed(record, status.transaction_id)
                    if result is not None:
                        return result
                    retry_at = self.clock.monotonic() + client.poll_interval_s
            processed = status is not None and status.transaction_id is not None
            if stop_reason is None:
                if cancel is not None and cancel.is_set() and not processed:
                    stop_reason = "cancel"
                elif client.reached(deadline):
                    stop_reason = "timeout"
            if stop_reason is not None and stop_sent_at is None:
                if publish is not None:
                    shown = _STOPPING
                    publish(*_STOPPING)
                log.info("payjunction request %s: stopping (%s)", tracker.request_id, stop_reason)
                await self._return_to_main()
                stop_sent_at = self.clock.monotonic()
                continue
            if stop_sent_at is not None and client.reached(stop_sent_at + self.settle_s):
                return await self._unsettled(record, status)
            until = deadline if stop_sent_at is None else stop_sent_at + self.settle_s
            if processed and retry_at is not None:
                until = min(until, retry_at)
            watch_cancel = cancel if stop_reason is None and not processed else None
            await client.wait_update(tracker, since=seen, until=until, stop=watch_cancel)

    async def _final(
        self, record: PaymentRecord, status: RequestStatus, stop_reason: StopReason | None
    ) -> PaymentResult:
        zero = Money.zero(record.amount.currency)
        if status.state == "BUSY":
            return PaymentResult(
                record, Outcome.FAILED, zero,
                detail="the card terminal is busy with another request",
            )  # fmt: skip
        if status.state == "NO_CONNECTION":
            return PaymentResult(
                record, Outcome.FAILED, zero, detail="PayJunction cannot reach the card terminal"
            )
        if status.payment is not None and status.payment.status in ("APPROVED", "DECLINED"):
            self._remember(record, status.payment.transaction_id)
            return self._from_summary(record, status.payment)
        if status.transaction_id is not None:
            result = await self._processed(record, status.transaction_id)
            if result is not None:
                return result
            return PaymentResult(
                record, Outcome.UNKNOWN, zero,
                detail=f"transaction {status.transaction_id} was processed but could not be read",
            )  # fmt: skip
        if stop_reason == "timeout":
            return PaymentResult(
                record, Outcome.TIMED_OUT, zero, detail="no card was presented in time"
            )
        detail = {
            "cancel": "cancelled before a card was read",
            "recover": "the request ended without a transaction",
            None: "the request ended without a transaction (red X or the terminal's timeout)",
        }[stop_reason]
        return PaymentResult(record, Outcome.CANCELLED, zero, detail=detail)

    async def _processed(self, record: PaymentRecord, transaction_id: str) -> PaymentResult | None:
        """The result of a processed transaction, or None if it cannot be read or is undecided."""
        self._remember(record, transaction_id)
        try:
            tx = await self.client.transaction(transaction_id)
        except ServiceError as exc:
            log.warning("payjunction: transaction %s unreadable: %s", transaction_id, exc)
            return None
        if tx.voided:
            return PaymentResult(
                record, Outcome.CANCELLED, Money.zero(record.amount.currency),
                detail=f"transaction {transaction_id} is voided",
            )  # fmt: skip
        summary = tx.summary()
        if summary.status not in ("APPROVED", "DECLINED"):
            log.info("payjunction: transaction %s is %s (undecided)", transaction_id, tx.status)
            return None
        return self._from_summary(record, summary)

    def _from_summary(self, record: PaymentRecord, summary: PaymentSummary) -> PaymentResult:
        zero = Money.zero(record.amount.currency)
        if not summary.approved:
            return PaymentResult(
                record, Outcome.DECLINED, zero,
                card_brand=summary.card_brand, card_last4=summary.card_last4,
                detail=f"declined: {summary.message or 'no reason given'}",
            )  # fmt: skip
        if summary.amount is not None and summary.amount != record.amount:
            return PaymentResult(
                record, Outcome.UNKNOWN, summary.amount,
                auth_code=summary.approval_code,
                card_brand=summary.card_brand, card_last4=summary.card_last4,
                detail=(
                    f"transaction {summary.transaction_id} approved {summary.amount}, "
                    f"not the {record.amount} asked"
                ),
            )  # fmt: skip
        return PaymentResult(
            record, Outcome.APPROVED, record.amount,
            auth_code=summary.approval_code,
            card_brand=summary.card_brand, card_last4=summary.card_last4,
        )  # fmt: skip

    async def _unsettled(
        self, record: PaymentRecord, status: RequestStatus | None
    ) -> PaymentResult:
        """The terminal was told to stop but never confirmed the end of the request."""
        if status is not None and status.transaction_id is not None:
            result = await self._processed(record, status.transaction_id)
            if result is not None:
                return result
        state = status.raw_status if status is not None else "unknown"
        return PaymentResult(
            record, Outcome.UNKNOWN, Money.zero(record.amount.currency),
            detail=f"the terminal did not confirm the end of the request (last status {state})",
        )  # fmt: skip

    def _remember(self, record: PaymentRecord, transaction_id: str) -> None:
        self._transactions[record.key] = transaction_id
        while len(self._transactions) > 256:
            self._transactions.popitem(last=False)

    # -- compensation -------------------------------------------------------------
    async def compensate(self, result: PaymentResult) -> Compensation:
        record = result.record
        if result.amount_taken.minor <= 0:
            return Compensation(record, "not_needed", result.amount_taken)
        transaction_id = self._transactions.get(record.key) or await self._find_transaction(record)
        if transaction_id is None:
            return Compensation(
                record, "failed", result.amount_taken,
                detail="no PayJunction transaction id is known for this payment: void it by hand",
            )  # fmt: skip
        try:
            tx = await self.client.void(transaction_id)
        except ServiceError as exc:
            log.warning("payjunction: void of %s failed: %s", transaction_id, exc)
            tx_now = await self._read_transaction(transaction_id)
            if tx_now is not None and tx_now.voided:
                return Compensation(record, "voided", result.amount_taken, reference=transaction_id)
            why = "refused" if isinstance(exc, ValidationFailed) else "not confirmed"
            return Compensation(
                record, "failed", result.amount_taken, reference=transaction_id,
                detail=(
                    f"void {why}: {exc.message}; refund transaction {transaction_id} "
                    f"({result.amount_taken}, card ending {result.card_last4}) in PayJunction"
                ),
            )  # fmt: skip
        if not tx.voided:
            return Compensation(
                record, "failed", result.amount_taken, reference=transaction_id,
                detail=f"transaction {transaction_id} is {tx.status} after the void",
            )  # fmt: skip
        log.info("payjunction: transaction %s voided (%s)", transaction_id, result.amount_taken)
        return Compensation(record, "voided", result.amount_taken, reference=transaction_id)

    async def _read_transaction(self, transaction_id: str) -> Transaction | None:
        try:
            return await self.client.transaction(transaction_id)
        except ServiceError as exc:
            log.warning("payjunction: transaction %s unreadable: %s", transaction_id, exc)
            return None

    async def _find_transaction(self, record: PaymentRecord) -> str | None:
        if record.reference is None or record.reference == SENDING:
            return None
        try:
            status = await self.client.request_status(record.reference)
        except ServiceError as exc:
            log.warning("payjunction: request %s unreadable: %s", record.reference, exc)
            return None
        return status.transaction_id

    # -- recovery -------------------------------------------------------------------
    async def recover(self, record: PaymentRecord) -> PaymentResult:
        zero = Money.zero(record.amount.currency)
        if record.reference is None:
            return PaymentResult(
                record, Outcome.NOT_STARTED, zero, detail="request-payment was never sent"
            )
        if record.reference == SENDING:
            stopped = await self._return_to_main()
            return PaymentResult(
                record, Outcome.UNKNOWN, zero,
                detail=(
                    "no PayJunction request id was journalled: request-payment may have been "
                    "sent, and PayJunction cannot be asked by our key; the terminal was "
                    f"{'sent' if stopped else 'NOT sent'} to its main screen; check "
                    "PayJunction's transactions for this amount and time"
                ),
            )  # fmt: skip
        tracker = self.client.track(record.reference)
        try:
            await self.client.request_status(record.reference)
        except NotFound:
            return PaymentResult(
                record, Outcome.UNKNOWN, zero,
                detail=f"PayJunction no longer knows request {record.reference}",
            )  # fmt: skip
        except ServiceError as exc:
            return PaymentResult(
                record, Outcome.UNKNOWN, zero,
                detail=f"PayJunction could not be asked about request {record.reference}: "
                f"{exc.message}",
            )  # fmt: skip
        return await self._follow(record, tracker, deadline=self.clock.monotonic(), stop="recover")


def _phase_of(status: RequestStatus) -> tuple[Phase, str, bool]:
    if status.transaction_id is not None:
        return ("processing", "processing the card", False)
    if status.state == "IN_PROGRESS":
        return ("waiting_for_customer", "insert, swipe or tap your card", True)
    return ("starting", "connecting to the card terminal", True)


__all__ = ["SENDING", "PayJunctionPayment"]
