"""Card payments on the kiosk's own PIN pad (Tecalis TPV).

The PIN pad has no payment id of its own: its status is the current or last
payment. So the record is journalled before ``tpv/prepare``, and journalled
again with ``reference = PREPARED`` once the device accepted it. After a
crash, ``recover`` trusts a final status as this payment's only when the
prepare was confirmed; before that, an approved status could be the previous
sale's, and is reported UNKNOWN for staff rather than taken as paid.

Compensation: the Tecalis contract has no refund or reversal for the PIN pad,
so an approved payment that must be undone becomes a refund voucher carrying
what staff need (amount, auth code, card last 4) to refund it at the acquirer.
"""

from __future__ import annotations

import contextlib
import logging
from typing import ClassVar

from kioskapp.core.clock import Clock
from kioskapp.core.money import Money
from kioskapp.devices.errors import ApiError, ServiceError
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.tecalis import TecalisClient, TpvNotCancellable
from kioskapp.devices.tecalis_models import (
    SessionRenewed,
    TpvFinished,
    TpvStateChanged,
    TpvStatus,
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

#: The record's reference once the PIN pad confirmed the prepare.
PREPARED = "tpv-prepared"

_OUTCOMES: dict[str, Outcome] = {
    "approved": Outcome.APPROVED,
    "declined": Outcome.DECLINED,
    "cancelled": Outcome.CANCELLED,
    "timeout": Outcome.TIMED_OUT,
    "error": Outcome.FAILED,
}
_PHASES: dict[str, tuple[Phase, str, bool]] = {
    "waiting_card": ("waiting_for_customer", "present your card", True),
    "pin": ("pin_entry", "enter your PIN", True),
    "processing": ("processing", "authorising", False),
}


class TpvPayment(PaymentMethod):
    name: ClassVar[str] = "tpv"

    def __init__(
        self,
        tecalis: TecalisClient,
        *,
        clock: Clock | None = None,
        window_s: float = 120.0,
        grace_s: float = 60.0,
    ) -> None:
        self.tecalis = tecalis
        self.clock = clock or tecalis.clock
        # The device ends a payment after its window; past window + grace without a
        # final status, the outcome is asked for and, failing that, UNKNOWN.
        self.window_s = window_s
        self.grace_s = grace_s

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
            raise ValueError(f"card payment of {amount}: the amount must be positive")
        record = PaymentRecord.new(self.name, sale_id, attempt, amount)
        return TaskAttempt(record, self._run, journal=journal, clock=self.clock)

    def _result(self, att_record: PaymentRecord, status: TpvStatus) -> PaymentResult:
        """This payment's result from a final status known to be this payment's."""
        outcome = _OUTCOMES.get(status.state, Outcome.UNKNOWN)
        if (
            outcome is Outcome.APPROVED
            and status.amount is not None
            and status.amount != att_record.amount
        ):
            return PaymentResult(
                record=att_record, outcome=Outcome.UNKNOWN,
                amount_taken=Money.zero(att_record.amount.currency),
                detail=f"the PIN pad approved {status.amount}, not {att_record.amount}",
            )  # fmt: skip
        approved = outcome is Outcome.APPROVED
        return PaymentResult(
            record=att_record,
            outcome=outcome,
            amount_taken=att_record.amount if approved else Money.zero(att_record.amount.currency),
            auth_code=status.auth_code if approved else None,
            card_brand=status.card.brand if status.card else None,
            card_last4=status.card.last4 if status.card else None,
            detail=None if approved else f"PIN pad: {status.raw_state}",
        )

    async def _run(self, att: TaskAttempt) -> PaymentResult:
        client = self.tecalis
        await att.save()
        client.pending_events()
        att.publish("starting", "starting the PIN pad", cancellable=True)
        try:
            async with client.hold_session():
                await client.ensure_session(min_valid_s=self.window_s + self.grace_s)
        except ServiceError as exc:
            return att.finish(Outcome.FAILED, detail=f"PIN pad: {exc.message}")
        if att.cancel_requested.is_set():
            return att.finish(Outcome.CANCELLED, detail="cancelled before the PIN pad started")
        try:
            await client.tpv_prepare(att.record.amount)
        except ServiceError as exc:
            if isinstance(exc, ApiError) and not exc.retryable:
                return att.finish(Outcome.FAILED, detail=f"PIN pad: {exc.message}")
            log.warning("tpv prepare answer lost (%s): following the PIN pad", exc)
        else:
            await att.save(reference=PREPARED)
        cancel_sent = False
        deadline = self.clock.monotonic() + self.window_s + self.grace_s
        while True:
            left = deadline - self.clock.monotonic()
            if left <= 0:
                return await self._settle_late(att)
            if att.cancel_requested.is_set() and not cancel_sent:
                cancel_sent = True
                att.publish("cancelling", "cancelling", cancellable=False)
                try:
                    await client.tpv_cancel()
                except TpvNotCancellable:
                    att.publish("processing", "authorising", cancellable=False)
                except ServiceError as exc:
                    log.warning("tpv cancel failed: %s", exc)
            # Once the cancel is sent, only the PIN pad's final status ends the payment.
            event = await att.next_of(client.next_event, left, watch_cancel=not cancel_sent)
            if event is None:
                continue
            if isinstance(event, TpvStateChanged) and event.state in _PHASES:
                phase, message, cancellable = _PHASES[event.state]
                att.publish(phase, message, cancellable=cancellable and not cancel_sent)
            elif isinstance(event, TpvFinished):
                if att.record.reference != PREPARED:
                    await att.save(reference=PREPARED)
                return self._result(att.record, event.status)
            elif isinstance(event, SessionRenewed):
                log.info("tpv: session renewed during the payment; still following it")

    async def _settle_late(self, att: TaskAttempt) -> PaymentResult:
        """No final status in time: ask once, else UNKNOWN (staff)."""
        try:
            status = await self.tecalis.tpv_status()
        except ServiceError as exc:
            return att.finish(Outcome.UNKNOWN, detail=f"PIN pad silent: {exc.message}")
        if status.is_final:
            return self._trusted_result(att.record, status)
        return att.finish(Outcome.UNKNOWN, detail=f"PIN pad still {status.raw_state}")

    def _trusted_result(self, record: PaymentRecord, status: TpvStatus) -> PaymentResult:
        """A final status read without having followed the payment: it is this payment's
        only if the prepare was confirmed; before that, an approval may be an earlier
        sale's (UNKNOWN for staff) and anything else means nothing of ours ran."""
        zero = Money.zero(record.amount.currency)
        if record.reference == PREPARED:
            return self._result(record, status)
        if status.state == "approved":
            return PaymentResult(
                record, Outcome.UNKNOWN, zero,
                detail="the PIN pad shows an approved payment, but this sale's prepare was "
                "never confirmed: it may be an earlier sale's",
            )  # fmt: skip
        return PaymentResult(record, Outcome.NOT_STARTED, zero,
                             detail=f"PIN pad: {status.raw_state}")  # fmt: skip

    async def compensate(self, result: PaymentResult) -> Compensation:
        if result.amount_taken.minor <= 0:
            return Compensation(result.record, "not_needed", result.amount_taken)
        # The PIN pad has no refund: a refund voucher with what staff need to refund
        # the card at the acquirer (printed, journalled, shown to staff).
        return Compensation(
            result.record, "voucher", result.amount_taken, reference=result.record.key,
            detail=(
                f"refund {result.amount_taken} to the card ending {result.card_last4} "
                f"(auth code {result.auth_code})"
            ),
        )  # fmt: skip

    async def recover(self, record: PaymentRecord) -> PaymentResult:
        client = self.tecalis
        zero = Money.zero(record.amount.currency)
        status = await client.tpv_status()
        if status.state in ("waiting_card", "pin"):
            with contextlib.suppress(ServiceError):
                await client.tpv_cancel()
            status = await client.tpv_status()
        if status.state == "idle":
            return PaymentResult(record, Outcome.NOT_STARTED, zero,
                                 detail="the PIN pad never started a payment")  # fmt: skip
        if not status.is_final:
            return PaymentResult(record, Outcome.UNKNOWN, zero,
                                 detail=f"PIN pad still {status.raw_state}")  # fmt: skip
        return self._trusted_result(record, status)
