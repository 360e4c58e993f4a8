"""Card payments on a Cashflows Kinetic Go 2 terminal on the LAN.

The transaction id IS the payment record's key: the key is journalled (by
:class:`~kioskapp.payments.base.TaskAttempt`) before ``POST
transactions/sale.json {"amount", "id": <key>}`` is sent, so after a crash, or
a sale whose answer was lost, ``GET transactions/<key>.json`` tells the truth:
not found → the terminal never started it (NOT_STARTED), otherwise its
``is_active`` / ``result``. The record is journalled again with ``reference =
key`` once the terminal confirmed the sale.

Live statuses come from polling the transaction every ``poll_interval_s``
(the terminal has no callbacks): present card → card presented / PIN →
processing. None is ``cancellable``:

**Cancel.** Kinetic Connect v2 documents no way to cancel a transaction from
the client (no endpoint, no field). :meth:`PaymentAttempt.cancel` therefore
cannot stop the terminal: it publishes a ``cancelling`` status asking the
customer to press Cancel on the terminal, and the payment keeps being
followed until the terminal ends it — by its Cancel key (CANCELLED), by its
own ``timeout_ms`` (150 s by default: TIMED_OUT), or because the customer
paid anyway (APPROVED: the caller compensates). Only a cancel requested
before the sale was sent stops it outright (CANCELLED, nothing sent). The
same holds for :meth:`recover`: a transaction still active is waited out,
never abandoned. If the terminal still reports it active ``grace_s`` after its
timeout, or cannot be read for that long, the result is UNKNOWN (staff).

Outcomes: approved → APPROVED with the auth code, card brand and last 4
digits, and the terminal's cardholder receipt as ``receipt_lines`` (an
approved amount other than the one asked → FAILED with that amount taken, to
be compensated); declined → DECLINED; cancelled → CANCELLED or TIMED_OUT
(see :attr:`~kioskapp.devices.kinetic.Transaction.ran_out`); error → FAILED
(nothing taken: ``result`` is the terminal's final decision); approved then
reversed → CANCELLED with nothing taken.

Compensation = reversal (``POST transactions/reversal.json
{"reference_txn_id": <key>, "id": <reversal key>}``) with a deterministic
reversal key, so a compensation repeated after a crash finds the first
reversal instead of sending a second. A refused or failed reversal is
``failed`` (staff refund the card: a Kinetic refund needs the card present).
"""

from __future__ import annotations

import logging
from typing import ClassVar

import httpx

from kioskapp.config import Config
from kioskapp.core.clock import Clock
from kioskapp.core.money import Money
from kioskapp.devices.errors import ApiError, ServiceError, ServiceUnavailable
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.kinetic import (
    DEFAULT_TIMEOUT_MS,
    DuplicateTransaction,
    KineticClient,
    Reconciliation,
    Stage,
    Transaction,
    TransactionInProgress,
    TransactionNotFound,
)
from kioskapp.devices.kinetic import from_config as client_from_config
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
    payment_key,
)

log = logging.getLogger(__name__)

CANCEL_ON_TERMINAL = "press Cancel on the card terminal to stop the payment"

_STAGES: dict[Stage, tuple[Phase, str]] = {
    "waiting_card": ("waiting_for_customer", "present your card on the terminal"),
    "card_read": ("card_presented", "card read"),
    "pin": ("pin_entry", "enter your PIN on the terminal"),
    "processing": ("processing", "authorising"),
}


class KineticPayment(PaymentMethod):
    name: ClassVar[str] = "kinetic"

    def __init__(
        self,
        client: KineticClient,
        *,
        clock: Clock | None = None,
        grace_s: float = 120.0,
        lost_answer_checks: int = 3,
        reversal_wait_s: float = 60.0,
        own_client: bool = False,
    ) -> None:
        self.client = client
        self.clock = clock or client.clock
        # A transaction may still be processing after its card timeout; past
        # timeout + grace it is reported UNKNOWN rather than waited for forever.
        self.grace_s = grace_s
        self.lost_answer_checks = max(1, lost_answer_checks)
        self.reversal_wait_s = reversal_wait_s
        self._own_client = own_client

    def health(self) -> ServiceHealth:
        return self.client.health

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    @property
    def poll_interval_s(self) -> float:
        return self.client.poll_interval_s

    # -- paying -------------------------------------------------------------------
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
            raise ValueError(f"the terminal works in {self.client.currency}, not {amount.currency}")
        record = PaymentRecord.new(self.name, sale_id, attempt, amount)
        return TaskAttempt(record, self._run, journal=journal, clock=self.clock)

    async def _run(self, att: TaskAttempt) -> PaymentResult:
        # The record (key = transaction id) is journalled before this runs.
        if att.cancel_requested.is_set():
            return att.finish(Outcome.CANCELLED, detail="cancelled before the terminal was asked")
        key = att.record.key
        att.publish("starting", "starting the card terminal", cancellable=False)
        started = self.clock.monotonic()
        try:
            txn = await self.client.start_sale(att.record.amount, key)
        except TransactionInProgress:
            return att.finish(
                Outcome.FAILED, detail="the card terminal is busy with another transaction"
            )
        except ServiceError as exc:
            refused = isinstance(exc, ApiError) and not exc.retryable
            if refused and not isinstance(exc, DuplicateTransaction):
                return att.finish(Outcome.FAILED, detail=f"terminal refused the sale: {exc}")
            if _never_sent(exc):
                return att.finish(Outcome.FAILED, detail=f"the terminal was not reached ({exc})")
            # No answer, or "id exists" (only this payment uses this id): ask the terminal.
            log.warning("kinetic sale %s: no usable answer (%s); asking the terminal", key, exc)
            try:
                found = await self._find_sale_after_lost_answer(key, started)
            except ServiceError as lookup_exc:
                return att.finish(
                    Outcome.UNKNOWN,
                    detail=f"sale sent, answer lost, terminal unreadable: {lookup_exc}",
                )
            if found is None:
                return att.finish(
                    Outcome.FAILED,
                    detail=f"the terminal never started the sale within its own timeout ({exc})",
                )
            txn = found
        await att.save(reference=txn.id)
        return await self._follow(att.record, txn, started=started, att=att)

    async def _find_sale_after_lost_answer(self, key: str, started: float) -> Transaction | None:
        """After a sale POST without a usable answer: follow the sale if the terminal took it.

        A slow terminal may create the transaction late, and a customer can pay it,
        so "not found" is only final once the terminal's own sale timeout (plus
        grace) has passed since the POST: no payment can exist after that.
        """
        deadline = started + DEFAULT_TIMEOUT_MS / 1000 + self.grace_s
        while True:
            txn = await self.client.find_transaction(key)
            if txn is not None:
                return txn
            if self.clock.monotonic() >= deadline:
                return None
            await self.clock.sleep(self.poll_interval_s)

    async def _lookup_after_lost_answer(self, key: str) -> Transaction | None:
        """After a sale POST without a usable answer: did the terminal take it?

        Not found is confirmed ``lost_answer_checks`` times, a poll interval
        apart (a slow terminal may still be creating it). Read failures raise.
        """
        for check in range(self.lost_answer_checks):
            if check:
                await self.clock.sleep(self.poll_interval_s)
            txn = await self.client.find_transaction(key)
            if txn is not None:
                return txn
        return None

    async def _follow(
        self,
        record: PaymentRecord,
        txn: Transaction,
        *,
        started: float,
        att: TaskAttempt | None = None,
    ) -> PaymentResult:
        """Poll the transaction until the terminal ends it (or the limit), then map it."""
        limit = (txn.timeout_ms or DEFAULT_TIMEOUT_MS) / 1000 + self.grace_s
        shown: Phase | None = None
        cancel_shown = False
        last_error: ServiceError | None = None
        while True:
            if not txn.is_active:
                return await self._final(record, txn)
            if att is not None:
                if att.cancel_requested.is_set() and not cancel_shown:
                    cancel_shown = True
                    log.info("kinetic %s: cancel asked; the terminal has no remote cancel", txn.id)
                    att.publish("cancelling", CANCEL_ON_TERMINAL, cancellable=False)
                phase, message = _STAGES.get(txn.stage, _STAGES["waiting_card"])
                if phase != shown:
                    shown = phase
                    att.publish(phase, message, cancellable=False)
            if self.clock.monotonic() - started >= limit:
                what = f"last read failed: {last_error}" if last_error else f"still {txn.status}"
                return PaymentResult(
                    record,
                    Outcome.UNKNOWN,
                    Money.zero(record.amount.currency),
                    detail=f"terminal transaction {txn.id} not over after {limit:.0f}s ({what})",
                )
            if att is not None and not cancel_shown:
                await att.wait_cancel_or(self.poll_interval_s)
            else:
                await self.clock.sleep(self.poll_interval_s)
            try:
                txn = await self.client.transaction(txn.id)
                last_error = None
            except TransactionNotFound as exc:
                log.error("kinetic transaction %s vanished from the terminal", txn.id)
                last_error = exc
            except ServiceError as exc:
                log.warning("kinetic poll of %s failed: %s", txn.id, exc)
                last_error = exc

    async def _final(self, record: PaymentRecord, txn: Transaction) -> PaymentResult:
        """The result of a transaction the terminal has ended."""
        zero = Money.zero(record.amount.currency)

        def result(
            outcome: Outcome,
            detail: str | None,
            taken: Money = zero,
            lines: tuple[str, ...] = (),
        ) -> PaymentResult:
            return PaymentResult(
                record,
                outcome,
                taken,
                auth_code=txn.auth_code if txn.result == "approved" else None,
                card_brand=txn.card_brand,
                card_last4=txn.card_last4,
                receipt_lines=lines,
                detail=detail,
            )

        if txn.result == "approved":
            if txn.is_reversed:
                return result(Outcome.CANCELLED, "approved, then reversed on the terminal")
            taken = txn.taken
            if taken is None:
                return result(Outcome.UNKNOWN, "the terminal approved without saying the amount")
            lines = await self._receipt_lines(txn.id)
            if taken != record.amount:
                detail = f"the terminal approved {taken} instead of {record.amount}"
                return result(Outcome.FAILED, detail, taken, lines)
            return result(Outcome.APPROVED, None, taken, lines)
        if txn.result == "declined":
            return result(Outcome.DECLINED, "declined")
        if txn.result == "cancelled":
            if txn.ran_out:
                return result(Outcome.TIMED_OUT, "the terminal's time to pay ran out")
            return result(Outcome.CANCELLED, "cancelled on the terminal")
        if txn.result == "error":
            return result(Outcome.FAILED, f"terminal error ({txn.status_details})")
        return result(Outcome.UNKNOWN, f"terminal result {txn.raw_result!r}")

    async def _receipt_lines(self, transaction_id: str) -> tuple[str, ...]:
        try:
            receipt = await self.client.receipt(transaction_id, "cardholder")
        except ServiceError as exc:
            log.warning("kinetic cardholder receipt of %s unavailable: %s", transaction_id, exc)
            return ()
        return receipt.lines

    # -- undoing ------------------------------------------------------------------
    def reversal_key(self, record: PaymentRecord) -> str:
        """The reversal's transaction id: the same for every try of one payment."""
        return payment_key(f"{self.name}-reversal", record.sale_id, record.attempt)

    async def compensate(self, result: PaymentResult) -> Compensation:
        record = result.record
        amount = result.amount_taken
        if amount.minor <= 0:
            return Compensation(record, "not_needed", amount)
        rev_id = self.reversal_key(record)

        def failed(detail: str) -> Compensation:
            log.error("kinetic reversal of %s failed: %s", record.key, detail)
            return Compensation(record, "failed", amount, reference=rev_id, detail=detail)

        try:
            original = await self.client.transaction(record.key)
            if original.is_reversed:
                return Compensation(
                    record, "reversed", amount, reference=rev_id, detail="already reversed"
                )
            reversal = await self.client.find_transaction(rev_id)
            if reversal is None:
                reversal = await self._send_reversal(record.key, rev_id)
            if reversal is None:
                return failed("the reversal answer was lost and the terminal has none")
            if reversal.is_active:
                reversal = await self.client.wait_finished(rev_id, max_wait_s=self.reversal_wait_s)
        except TransactionInProgress:
            return failed("the terminal is busy with another transaction; try again")
        except ServiceError as exc:
            return failed(str(exc))
        if reversal.result != "approved":
            return failed(
                f"the terminal's reversal ended {reversal.raw_result or 'without result'}"
            )
        return Compensation(record, "reversed", amount, reference=rev_id)

    async def _send_reversal(self, key: str, rev_id: str) -> Transaction | None:
        try:
            return await self.client.reverse(key, rev_id)
        except DuplicateTransaction:
            return await self.client.find_transaction(rev_id)
        except ServiceError as exc:
            if isinstance(exc, ApiError) and not exc.retryable:
                raise
            log.warning("kinetic reversal %s: answer lost (%s); asking the terminal", rev_id, exc)
            return await self._lookup_after_lost_answer(rev_id)

    # -- after a crash ------------------------------------------------------------------
    async def recover(self, record: PaymentRecord) -> PaymentResult:
        zero = Money.zero(record.amount.currency)
        try:
            txn = await self.client.find_transaction(record.key)
        except ServiceError as exc:
            return PaymentResult(
                record, Outcome.UNKNOWN, zero, detail=f"terminal unreadable: {exc}"
            )
        if txn is None:
            return PaymentResult(
                record, Outcome.NOT_STARTED, zero, detail="the terminal has no such transaction"
            )
        if txn.is_active:
            # No remote cancel exists: the terminal ends it (keypad, timeout or payment).
            log.info("kinetic %s still active after a restart: waiting for the terminal", txn.id)
        return await self._follow(record, txn, started=self.clock.monotonic())

    # -- end of day ------------------------------------------------------------------------
    async def reconcile(self) -> Reconciliation:
        """End-of-day reconciliation on the terminal, with its receipt (maintenance)."""
        return await self.client.reconcile()


def from_config(
    config: Config, *, http: httpx.AsyncClient | None = None, clock: Clock | None = None
) -> KineticPayment:
    """The payment method for ``config.kinetic``; it owns its client (not ``http``)."""
    client = client_from_config(config, http=http, clock=clock)
    return KineticPayment(client, clock=clock, own_client=True)


def _never_sent(exc: ServiceError) -> bool:
    """A connection that was never made carried no sale."""
    return isinstance(exc, ServiceUnavailable) and isinstance(
        exc.__cause__, httpx.ConnectError | httpx.ConnectTimeout
    )


__all__ = ["CANCEL_ON_TERMINAL", "KineticPayment", "from_config"]
