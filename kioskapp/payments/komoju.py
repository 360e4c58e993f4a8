"""Card payments on a KOMOJU Cloud Terminal, behind the PaymentMethod interface.

One attempt = one KOMOJU session (contract and assumptions:
:mod:`kioskapp.devices.komoju`):

1. The record (key = the session's ``external_order_num`` and its
   idempotency key) is journalled before anything is sent (by
   :class:`~kioskapp.payments.base.TaskAttempt`, before ``_run``).
2. The session is created (repeated safely under its idempotency key), and
   its id is journalled as the record's ``reference`` BEFORE it is pushed to
   the terminal: until the push nobody can pay it.
3. Pushed: the customer pays on the terminal. Webhooks (through the client's
   :class:`~kioskapp.devices.komoju.SessionWatch`) and polls of the session
   every ``poll_interval_s`` both feed the attempt; whichever shows the final
   state first wins, later or doubled ones change nothing.
4. Cancel (customer or kiosk), our own overall timeout (``timeout_s``, default
   180 s on the clock) and a decline all end with a terminal cancel of the
   session: once KOMOJU confirms it, the session can never be paid. If KOMOJU
   refuses the cancel (the payment is being authorised) the attempt follows
   the session to its end and reports the truth (APPROVED if it was paid); if
   it never ends within ``processing_grace_s`` more, UNKNOWN.

Outcomes: captured → APPROVED (authorized, for an auth-only account, too: the
money is held) with brand and last 4 digits; a paid amount that is not the
amount asked → FAILED with what was taken (to be compensated); payment
``failed`` → DECLINED after the session is cancelled; session cancelled →
CANCELLED; expired or our timeout → TIMED_OUT; no session could be created →
FAILED with nothing taken.

Compensation refunds a captured payment (voids an authorized one) under an
idempotency key derived from the record's, so a repeat never refunds twice.
Recovery reads the journalled session: no reference → NOT_STARTED (the
session, if any, was never pushed: nothing can have been paid); completed and
captured → APPROVED; pending → cancelled, then CANCELLED (DECLINED when its
last payment failed); cancelled → CANCELLED; expired → TIMED_OUT; a payment
still being authorised is followed for ``processing_grace_s``, then UNKNOWN.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any, Literal

from kioskapp.core.clock import Clock
from kioskapp.core.money import Money
from kioskapp.devices.errors import ApiError, ServiceError
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.komoju import (
    CancelRefused,
    KomojuClient,
    KomojuPaymentInfo,
    KomojuSession,
    PaymentNotCancellable,
    PaymentNotRefundable,
    SessionNotPending,
    SessionWatch,
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

Verdict = Literal[
    "approved",  # paid: captured (sale) or authorized (auth-only)
    "wrong_amount",  # paid, but not the amount asked
    "declined",  # the last payment failed; the session is still payable
    "cancelled",
    "expired",
    "card_presented",  # a payment is being made
    "waiting",  # pushed (or not yet), nobody paying
    "unclear",  # completed without a paid payment: ask again
]


@dataclass(frozen=True)
class Reading:
    """What one session read (or one webhook) says about the attempt."""

    verdict: Verdict
    payment: KomojuPaymentInfo | None = None


def read_session(session: KomojuSession, amount: Money) -> Reading:
    """Classify a session for the attempt that asked for ``amount`` (pure)."""
    payment = session.payment
    if payment is not None and payment.taken:
        return read_payment(payment, amount)
    if session.is_completed:
        return Reading("unclear", payment)
    declined = payment is not None and payment.status == "failed"
    if session.is_cancelled:
        return Reading("declined" if declined else "cancelled", payment)
    if session.expired:
        return Reading("declined" if declined else "expired", payment)
    if session.status != "pending":
        return Reading("unclear", payment)
    if declined:
        return Reading("declined", payment)
    if payment is not None and payment.status == "pending":
        return Reading("card_presented", payment)
    return Reading("waiting", payment)


def read_payment(payment: KomojuPaymentInfo, amount: Money) -> Reading:
    """Classify one payment (from a session or a webhook) of the attempt (pure)."""
    if payment.taken:
        if payment.amount != amount:
            return Reading("wrong_amount", payment)
        return Reading("approved", payment)
    if payment.status == "failed":
        return Reading("declined", payment)
    if payment.status == "pending":
        return Reading("card_presented", payment)
    return Reading("waiting", payment)


def _paid_fields(payment: KomojuPaymentInfo) -> dict[str, object]:
    return {
        "amount_taken": payment.amount,
        "card_brand": payment.brand,
        "card_last4": payment.last4,
        "receipt_lines": payment.receipt_lines(),
    }


class KomojuPayment(PaymentMethod):
    """Card payments on the configured KOMOJU cloud terminal."""

    name = "komoju"

    def __init__(
        self,
        client: KomojuClient,
        *,
        clock: Clock | None = None,
        timeout_s: float = 180.0,
        processing_grace_s: float = 120.0,
        owns_client: bool = False,
    ) -> None:
        if timeout_s <= 0 or processing_grace_s < 0:
            raise ValueError("timeout_s must be positive and processing_grace_s not negative")
        self.client = client
        self.clock: Clock = clock or client.clock
        self.timeout_s = timeout_s
        self.processing_grace_s = processing_grace_s
        self._owns_client = owns_client

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    def health(self) -> ServiceHealth:
        return self.client.health

    # -- taking money -------------------------------------------------------------------
    async def start(
        self,
        amount: Money,
        sale_id: str,
        *,
        attempt: int = 1,
        journal: JournalHook = no_journal,
    ) -> PaymentAttempt:
        if amount.minor <= 0:
            raise ValueError(f"amount must be positive, got {amount}")
        record = PaymentRecord.new(self.name, sale_id, attempt, amount)
        # TaskAttempt journals the record before _run: durable before the first byte leaves.
        return TaskAttempt(record, self._run, journal=journal, clock=self.clock)

    async def _run(self, att: TaskAttempt) -> PaymentResult:
        record = att.record
        zero = Money.zero(record.amount.currency)
        if att.cancel_requested.is_set():
            return att.finish(Outcome.CANCELLED, amount_taken=zero, detail="cancelled at once")
        att.publish("starting", "creating the KOMOJU session", cancellable=True)
        try:
            session = await self.client.create_session(
                record.amount, external_order_num=record.key, idempotency_key=record.key
            )
        except ServiceError as exc:
            # Never pushed, so nobody can pay it, whether or not it was created.
            log.warning("KOMOJU session for %s not created: %s", record.sale_id, exc)
            return att.finish(
                Outcome.FAILED, amount_taken=zero, detail=f"session not created: {exc}"
            )
        await att.save(reference=session.id)
        follower = _Follower(self, att, session)
        return await follower.run()

    # -- undoing ------------------------------------------------------------------------------
    async def compensate(self, result: PaymentResult) -> Compensation:
        record = result.record
        amount = result.amount_taken
        if amount.minor <= 0:
            return Compensation(record, "not_needed", amount)
        if record.reference is None:
            return Compensation(record, "failed", amount, detail="no KOMOJU session journalled")
        try:
            session = await self.client.get_session(record.reference)
        except ServiceError as exc:
            return Compensation(record, "failed", amount, detail=f"session unreadable: {exc}")
        payment = session.payment
        if payment is None:
            return Compensation(record, "failed", amount, detail="the session has no payment")
        try:
            if payment.status == "authorized":
                done = await self.client.cancel_payment(
                    payment.id, idempotency_key=f"{record.key}-void"
                )
                if done.status == "cancelled":
                    return Compensation(record, "voided", amount, reference=payment.id)
                return Compensation(
                    record, "failed", amount, reference=payment.id,
                    detail=f"cancel answered status {done.status}",
                )  # fmt: skip
            if _refunded(payment, amount):
                return Compensation(record, "refunded", amount, reference=payment.id)
            done = await self.client.refund_payment(
                payment.id, amount, idempotency_key=f"{record.key}-refund"
            )
        except (PaymentNotRefundable, PaymentNotCancellable) as exc:
            # Perhaps an earlier compensation did it: the payment tells.
            with contextlib.suppress(ServiceError):
                latest = await self.client.get_payment(payment.id)
                if _refunded(latest, amount):
                    return Compensation(record, "refunded", amount, reference=payment.id)
                if latest.status == "cancelled":
                    return Compensation(record, "voided", amount, reference=payment.id)
            return Compensation(record, "failed", amount, reference=payment.id, detail=str(exc))
        except ServiceError as exc:
            return Compensation(record, "failed", amount, reference=payment.id, detail=str(exc))
        if not _refunded(done, amount):
            return Compensation(
                record, "failed", amount, reference=payment.id,
                detail=f"refund answered {done.refunded} refunded, status {done.status}",
            )  # fmt: skip
        refund_id = done.refund_ids[-1] if done.refund_ids else payment.id
        log.info("KOMOJU payment %s refunded %s (refund %s)", payment.id, amount, refund_id)
        return Compensation(record, "refunded", amount, reference=refund_id)

    async def recover(self, record: PaymentRecord) -> PaymentResult:
        zero = Money.zero(record.amount.currency)

        def result(outcome: Outcome, **fields: object) -> PaymentResult:
            fields.setdefault("amount_taken", zero)
            return PaymentResult(record=record, outcome=outcome, **fields)  # type: ignore[arg-type]

        if record.reference is None:
            return result(Outcome.NOT_STARTED, detail="no session journalled: it was never pushed")
        session_id = record.reference
        deadline = self.clock.monotonic() + self.processing_grace_s
        cancelled = False
        while True:
            try:
                session = await self.client.get_session(session_id)
            except ServiceError as exc:
                return result(Outcome.UNKNOWN, detail=f"session {session_id} unreadable: {exc}")
            reading = read_session(session, record.amount)
            verdict, payment = reading.verdict, reading.payment
            if verdict == "approved" and payment is not None:
                return result(Outcome.APPROVED, **_paid_fields(payment))
            if verdict == "wrong_amount" and payment is not None:
                return result(
                    Outcome.FAILED, **_paid_fields(payment),
                    detail=f"KOMOJU took {payment.amount}, not {record.amount}",
                )  # fmt: skip
            if verdict == "cancelled":
                return result(Outcome.CANCELLED, detail="session cancelled")
            if verdict == "expired":
                return result(Outcome.TIMED_OUT, detail="session expired")
            if verdict == "declined" and (session.is_cancelled or session.expired or cancelled):
                return result(Outcome.DECLINED, detail="the card was declined")
            if verdict in ("waiting", "card_presented", "declined") and not cancelled:
                try:
                    await self.client.cancel_session(session_id)
                except CancelRefused:
                    log.info("KOMOJU session %s cannot be cancelled now; following it", session_id)
                except ServiceError as exc:
                    return result(Outcome.UNKNOWN, detail=f"session {session_id} still open: {exc}")
                else:
                    cancelled = True
                    continue  # read it once more: the truth after the cancel
            elif cancelled and verdict in ("waiting", "card_presented"):
                # KOMOJU confirmed the cancel: it cannot be paid any more.
                return result(Outcome.CANCELLED, detail="session cancelled on recovery")
            if self.clock.monotonic() >= deadline:
                return result(Outcome.UNKNOWN, detail=f"session {session_id} did not finish")
            await self.clock.sleep(self.client.poll_interval_s)


def _refunded(payment: KomojuPaymentInfo, amount: Money) -> bool:
    return payment.status == "refunded" or payment.refunded >= amount


class _Follower:
    """Follows one pushed session to its end, for one attempt."""

    def __init__(self, method: KomojuPayment, att: TaskAttempt, session: KomojuSession) -> None:
        self.method = method
        self.client = method.client
        self.clock = method.clock
        self.att = att
        self.session = session
        self.amount = att.record.amount
        self.zero = Money.zero(self.amount.currency)
        now = self.clock.monotonic()
        self.deadline = now + method.timeout_s
        self.hard_deadline = self.deadline + method.processing_grace_s
        self.stop: tuple[Outcome, str] | None = None  # why we cancel the session
        self.declined: KomojuPaymentInfo | None = None
        self.uncancellable = False
        self.push_refused = False  # KOMOJU refused the push: nobody was ever shown it
        self.phase: Phase | None = None

    def _publish(self, phase: Phase, message: str, *, cancellable: bool) -> None:
        if phase != self.phase:
            self.phase = phase
            self.att.publish(phase, message, cancellable=cancellable)

    def _end(self, outcome: Outcome, **fields: object) -> PaymentResult:
        fields.setdefault("amount_taken", self.zero)
        self._publish("finished", f"KOMOJU payment {outcome}", cancellable=False)
        return self.att.finish(outcome, **fields)

    async def run(self) -> PaymentResult:
        with self.client.watch(self.session.id, self.att.record.key) as watch:
            if self.att.cancel_requested.is_set():
                self.stop = (Outcome.CANCELLED, "cancelled before the terminal showed it")
            else:
                await self._push()
            return await self._follow(watch)

    async def _push(self) -> None:
        """Push the session; on failure ``self.stop`` says why it must be cancelled."""
        push = asyncio.ensure_future(self.client.push_session(self.session.id))
        cancel = asyncio.ensure_future(self.att.cancel_requested.wait())
        try:
            await asyncio.wait({push, cancel}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancel.cancel()
            if not push.done():
                # A cancel does not wait for a slow push: the session cancel below covers
                # whether or not the terminal got it.
                push.cancel()
            await asyncio.gather(push, cancel, return_exceptions=True)
        if push.cancelled():
            self.stop = (Outcome.CANCELLED, "cancelled while the session was being pushed")
            return
        try:
            push.result()
        except SessionNotPending:
            await self._poll()  # expired or cancelled meanwhile: the session says which
            return
        except ServiceError as exc:
            # No answer: it may be on the terminal; a cancel makes sure it is not. Refused:
            # it never was, and the cancel only tidies up.
            log.warning("KOMOJU push of %s failed: %s", self.session.id, exc)
            self.stop = (Outcome.FAILED, f"terminal push failed: {exc}")
            self.push_refused = isinstance(exc, ApiError) and not exc.retryable
            return
        self._publish("waiting_for_customer", "present a card on the terminal", cancellable=True)

    async def _follow(self, watch: SessionWatch) -> PaymentResult:
        session_read = True  # self.session is fresh
        while True:
            for payment in watch.take():
                done = self._apply(read_payment(payment, self.amount))
                if done is not None:
                    return done
            if session_read:
                done = self._apply(read_session(self.session, self.amount), self.session)
                if done is not None:
                    return done
            if self.stop is None:
                if self.att.cancel_requested.is_set():
                    self.stop = (Outcome.CANCELLED, "cancelled")
                elif self.clock.monotonic() >= self.deadline:
                    self.stop = (Outcome.TIMED_OUT, f"not paid within {self.method.timeout_s:g} s")
            if self.stop is not None:
                done = await self._cancel()
                if done is not None:
                    return done
            if self.clock.monotonic() >= self.hard_deadline:
                return self._end(
                    Outcome.UNKNOWN,
                    detail=f"session {self.session.id} neither finished nor cancelled in time",
                )
            await self._wait(watch)
            session_read = await self._poll()

    def _apply(
        self, reading: Reading, session: KomojuSession | None = None
    ) -> PaymentResult | None:
        """Act on one reading; a final result, or None to keep following."""
        payment = reading.payment
        verdict = reading.verdict
        if verdict == "approved" and payment is not None:
            return self._end(Outcome.APPROVED, **_paid_fields(payment))
        if verdict == "wrong_amount" and payment is not None:
            return self._end(
                Outcome.FAILED, **_paid_fields(payment),
                detail=f"KOMOJU took {payment.amount}, not {self.amount}",
            )  # fmt: skip
        if verdict == "declined" and payment is not None:
            self.declined = payment
            if session is not None and (session.is_cancelled or session.expired):
                return self._end(Outcome.DECLINED, detail="the card was declined")
            if self.stop is None:
                self.stop = (Outcome.DECLINED, "the card was declined")
            return None
        if session is None:
            if verdict == "card_presented" and not self.uncancellable:
                self._publish("card_presented", "card presented", cancellable=True)
            return None
        if verdict == "cancelled":
            # By us (for the reason in self.stop: a confirmed cancel may have been lost)
            # or by the customer on the terminal.
            outcome, detail = self.stop or (Outcome.CANCELLED, "cancelled on the terminal")
            return self._end(outcome, detail=detail)
        if verdict == "expired":
            return self._end(Outcome.TIMED_OUT, detail="the KOMOJU session expired")
        if verdict == "card_presented" and not self.uncancellable:
            self._publish("card_presented", "card presented", cancellable=True)
        elif verdict == "waiting" and self.declined is not None and self.stop is None:
            self.stop = (Outcome.DECLINED, "the card was declined")
        return None

    async def _cancel(self) -> PaymentResult | None:
        """Cancel the session for ``self.stop``; the result once KOMOJU confirmed it."""
        assert self.stop is not None
        outcome, detail = self.stop
        if not self.uncancellable:
            self._publish("cancelling", "cancelling the payment", cancellable=False)
        try:
            await self.client.cancel_session(self.session.id)
        except ServiceError as exc:
            if self.push_refused:
                log.warning("KOMOJU session %s left to expire: %s", self.session.id, exc)
                return self._end(outcome, detail=detail)
            self._cancel_failed(exc)
            return None
        # Cancelled: it can never be paid now. One read confirms (a payment that won the
        # race would show here); if the read fails, KOMOJU's word is enough.
        with contextlib.suppress(ServiceError):
            session = await self.client.get_session(self.session.id)
            reading = read_session(session, self.amount)
            if reading.verdict in ("approved", "wrong_amount"):
                return self._apply(reading, session)
        if self.declined is not None and outcome is not Outcome.TIMED_OUT:
            return self._end(Outcome.DECLINED, detail="the card was declined")
        return self._end(outcome, detail=detail)

    def _cancel_failed(self, exc: ServiceError) -> None:
        """KOMOJU refused (the payment is being authorised) or did not answer: follow on."""
        if isinstance(exc, CancelRefused):
            if not self.uncancellable:
                log.info("KOMOJU refused to cancel %s (%s): following it", self.session.id, exc)
            self.uncancellable = True
            self._publish("processing", "the payment is being authorised", cancellable=False)
        else:
            log.warning("KOMOJU cancel of %s failed: %s; trying again", self.session.id, exc)

    async def _wait(self, watch: SessionWatch) -> None:
        """Until a webhook, a cancel request or the next poll is due (clock time)."""
        now = self.clock.monotonic()
        seconds = self.client.poll_interval_s
        if self.stop is None:
            seconds = min(seconds, max(0.0, self.deadline - now))
        seconds = min(seconds, max(0.0, self.hard_deadline - now))
        if seconds <= 0 or watch.hint.is_set():
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        due: asyncio.Future[None] = loop.create_future()

        def fire() -> None:
            if not due.done():
                due.set_result(None)

        handle = self.clock.call_later(seconds, fire)  # armed now: no advance can slip by
        waiters: list[asyncio.Future[Any]] = [due, asyncio.ensure_future(watch.hint.wait())]
        if self.stop is None:
            waiters.append(asyncio.ensure_future(self.att.cancel_requested.wait()))
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            handle.cancel()
            for waiter in waiters:
                waiter.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)

    async def _poll(self) -> bool:
        try:
            self.session = await self.client.get_session(self.session.id)
        except ServiceError as exc:
            log.warning("KOMOJU session %s poll failed: %s", self.session.id, exc)
            return False
        return True


__all__ = ["KomojuPayment", "Reading", "read_payment", "read_session"]
