"""Crash recovery at start: every sale the journal still has ``open`` ends in a defined state.

    services = RecoveryServices.from_devices(devices, journal, clock=clock)
    report = await recover_all(services)      # before the flow starts taking customers

A sale is ``open`` in the journal from the moment a product is chosen until the
flow delivers it or cancels it. One still open at start was cut off by a crash
(or a stop). Recovery asks the journal what the flow did (the sale's ``state``
and ``data``, its side effects — an *intent* without an *outcome* is what may or
may not have happened — and its payment records), then the devices and
services what really happened, and then finishes the sale forward, gives the
money back, or flags it for staff with everything needed to act. No sale stays
``open`` and no effect stays ``pending``: what cannot be decided becomes an
incident (:meth:`JournalDB.open_incident`).

The facts, gathered first
-------------------------
payments
    Every payment whose outcome the journal does not hold as final (none yet,
    or ``unknown``) goes to its method's ``recover(record)`` — the terminal's,
    session's or bill reader's own status — and what it says is journalled
    (``taken`` only ever grows; a cash total that grew adds its notes to the
    cash box). Cash is recovered first, newest first: the bill reader of the
    previous run's session is only readable until a new session opens, and
    only the last sale can have left one open; an older cash payment whose
    journal shows a note in doubt stays ``unknown``. A method that is not
    configured any more, or whose status cannot be read, gives ``unknown``.
debit
    A ``cardapi.debit`` intent without a known outcome (``pending`` or
    ``unknown``) is sent again exactly as journalled
    (``DebitRequest.from_payload``: same ``ticket_id``, so CardAPI debits at
    most once and answers the first result): ``done``, ``failed`` (a definite
    refusal: nothing debited) or still ``unknown``. An open ``debit_unknown``
    incident is resolved when the answer is definite. Recovery never sends a
    new debit (no journalled request, no debit).
card
    A ``dispenser.dispense`` effect ``done`` means the card was handed out. One
    ``pending`` or ``unknown`` is decided by the dispenser's status: the card
    still in the reader position means it was not handed out; the reader
    position empty means it was; no answer, a jam or an unknown position leave
    it unknown. A card in the reader position is *staged* for the last open
    sale that staged one (``dispenser.prepare``).

Decision table (per open sale; the first matching row wins)
-----------------------------------------------------------
The customer has most likely left by the time recovery runs (it runs when the
app starts), so recovery prefers giving the money back to handing a card to
nobody — unless the journal or the dispenser shows the card was handed out.

===  ===================  =========================  =====================  ===================
row  card handed out      paid in full, nothing      debit                  decision
                          unknown
===  ===================  =========================  =====================  ===================
1    yes                  any                        any                    DELIVERED
2    unknown              any                        any                    FLAGGED (dispense)
3    no; the product      yes                        done, or none needed   FINISHED
     hands out no card
4    no; card staged      yes                        done                   FINISHED by
                                                                            dispensing, only if
                                                                            the sale was active
                                                                            within
                                                                            ``customer_present_s``
                                                                            (default 0: never)
5    anything else                                                          COMPENSATED
===  ===================  =========================  =====================  ===================

DELIVERED / FINISHED
    The sale ends ``completed`` with ``delivered_minor`` = the money taken;
    the receipt is printed if none was ever sent to the printer (one whose
    print was sent without an answer is not printed twice). Row 4 dispenses
    as a journalled effect first: refused by the device → row 5; no answer →
    row 2. A payment still unknown gets an incident (``payment_unknown``).
FLAGGED (dispense)
    Nothing is refunded automatically (the card may be in the customer's
    hand): incident ``dispense_unknown`` with the money taken, which is
    ``flagged_minor``; the sale ends ``flagged``.
COMPENSATED
    - Each payment that took money and was not given back yet:
      ``PaymentMethod.compensate`` (journalled as a ``payment.compensate``
      effect first; one found without an outcome is never repeated: incident
      ``compensation_unknown``), then ``record_compensation``. A ``voucher``
      (cash; the PIN pad, which has no refund) prints a refund voucher
      (``printer.voucher``, once per payment) and opens the informational
      incident ``refund_voucher`` with the code, amount and card details.
      A compensation that fails: incident ``compensation_failed`` (flagged).
    - A card payment still ``unknown``: incident ``payment_unknown`` with the
      amount it may have taken (nothing refunded: it may not have been taken).
    - A cash payment ``unknown`` (a note whose fate the device cannot tell):
      its stacked notes are refunded by voucher; the note in doubt is the
      incident ``note_uncertain``.
    - A debit still unknown: incident ``debit_unknown`` with the journalled
      request (repeating it is safe). A debit done with cashback (amount > 0)
      on a sale not delivered: incident ``cashback_not_delivered`` (CardAPI has
      no credit call: staff credit it back). A debit never sent stays unsent.
    - A staged card is discarded (``dispenser.discard``).
    - The sale ends ``flagged`` when money is flagged or an undecided incident
      is open for it (the flow's, from before the crash, count too),
      ``compensated`` when money was given back, ``cancelled`` when nothing
      was taken.

``SaleRecovery.decision`` names the row: ``delivered`` (1), ``flagged`` (2, or
5 with something for staff), ``finished`` (3, 4), ``compensated`` or
``cancelled`` (5).

Amounts: every sale ends with ``delivered_minor``, ``compensated_minor`` and
``flagged_minor`` in its data, ``flagged`` being whatever was taken and
neither delivered nor given back, so ``JournalDB.reconciliation`` balances.

Also at start: a ``completed`` sale cut off between the hand-out and the
receipt (state ``dispensing`` or ``printing``, among the last
``receipt_lookback`` sales) gets its receipt printed if it never went to the
printer; a receipt print without an outcome is closed as ``unknown``.

Every decision is written to the audit log (actor ``recovery``). Running
recovery again changes nothing: closed sales are not looked at again, and
within a sale every step is keyed in the journal (payment outcomes,
``payment.compensate`` by payment key, one voucher per payment, incidents
by sale and kind), so a recovery cut off itself resumes where it stopped.

Assumed
-------
- The kiosk runs one sale at a time: a card in the dispenser's reader
  position belongs to the last open sale that staged one.
- Receipts printed by recovery carry what the journal holds: the cash total
  (not the notes one by one), the card's brand, last 4 digits and auth code
  (not the terminal's own receipt lines), the new card's last 4 digits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from kioskapp.core import receipts
from kioskapp.core.clock import Clock
from kioskapp.core.journal import (
    EffectRow,
    EffectStatus,
    IncidentRow,
    Journal,
    JournalDB,
    PaymentRow,
    SaleRow,
    SaleStatus,
)
from kioskapp.core.money import Money, from_cardapi, to_cardapi
from kioskapp.devices.cardapi import (
    DEFAULT_RECEIPT_LABEL,
    DebitOutcomeUnknown,
    DebitRequest,
    DebitResult,
)
from kioskapp.devices.errors import ApiError, ServiceError
from kioskapp.devices.tecalis import NoCardPrepared
from kioskapp.devices.tecalis_models import DispenserStatus
from kioskapp.payments.base import (
    FINAL_AND_KNOWN,
    Compensation,
    Outcome,
    PaymentMethod,
    PaymentRecord,
    PaymentResult,
)

if TYPE_CHECKING:
    from kioskapp.app import Devices

T = TypeVar("T")

log = logging.getLogger(__name__)

#: The audit log's actor for everything recovery decides.
ACTOR = "recovery"

#: Incidents that record something done, not something staff must decide.
SETTLED_INCIDENTS = frozenset({"refund_voucher"})

Decision = Literal["delivered", "finished", "compensated", "cancelled", "flagged"]
DebitState = Literal["none", "done", "failed", "unknown"]

#: Voucher reasons printed on the slip, in the slip's language.
_VOUCHER_REASON: dict[str, str] = {
    "en": "The sale could not be finished after a kiosk fault; your payment is refunded.",
    "es": "La venta no pudo completarse por una avería del quiosco; se le reembolsa el pago.",
    "fr": "La vente n'a pas pu aboutir après une panne de la borne ; votre paiement est remboursé.",
    "ja": "端末の障害により販売を完了できませんでした。お支払いは返金されます。",
}


# -- what recovery needs from the outside (the real clients satisfy these) ---------------


class RecoveryHardware(Protocol):
    """The Tecalis client's methods recovery uses."""

    async def dispenser_status(self) -> DispenserStatus: ...

    async def dispense_card(self) -> None: ...

    async def discard_card(self) -> None: ...

    async def print_pdf(self, pdf: bytes) -> None: ...

    async def close_session(self) -> None: ...


class DebitSender(Protocol):
    """The CardAPI client's one method recovery uses."""

    async def send_debit(self, request: DebitRequest) -> DebitResult: ...


@dataclass(frozen=True)
class RecoveryPolicy:
    """How bold recovery may be."""

    #: A sale active this recently (clock seconds) may still have its customer at the
    #: kiosk: a paid sale with its card staged and debited is finished by dispensing.
    #: 0: never (the default; the customer has most likely left).
    customer_present_s: float = 0.0
    #: How many of the latest sales are checked for a receipt cut off by the crash.
    receipt_lookback: int = 20


@dataclass
class RecoveryServices:
    """Everything recovery talks to, injected (tests pass the simulators' clients)."""

    journal: Journal
    payment_methods: Mapping[str, PaymentMethod]
    hardware: RecoveryHardware
    cards: DebitSender
    clock: Clock
    merchant: receipts.Merchant
    kiosk_id: str
    render_receipt: Callable[[receipts.Receipt], bytes] = receipts.render_receipt
    render_voucher: Callable[[receipts.RefundVoucher], bytes] = receipts.render_voucher
    policy: RecoveryPolicy = field(default_factory=RecoveryPolicy)

    @classmethod
    def from_devices(
        cls,
        devices: Devices,
        journal: Journal,
        *,
        clock: Clock,
        policy: RecoveryPolicy | None = None,
    ) -> RecoveryServices:
        """The services of a kiosk wired by :func:`kioskapp.app.open_devices`."""
        kiosk = devices.config.kiosk
        return cls(
            journal=journal,
            payment_methods=devices.payment_methods,
            hardware=devices.tecalis,
            cards=devices.cardapi,
            clock=clock,
            merchant=receipts.Merchant(kiosk.merchant_name, tuple(kiosk.merchant_lines)),
            kiosk_id=kiosk.id,
            policy=policy or RecoveryPolicy(),
        )


# -- the report ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SaleRecovery:
    """What recovery decided for one sale."""

    sale_id: str
    state: str  # the screen the sale was on when it was cut off
    decision: Decision
    status: SaleStatus
    taken: Money
    delivered: Money
    compensated: Money
    flagged: Money
    incidents: tuple[int, ...]  # incidents opened by recovery for this sale
    actions: tuple[str, ...]  # what was done, in order (English, for logs and staff)


@dataclass(frozen=True)
class RecoveryReport:
    sales: tuple[SaleRecovery, ...] = ()
    receipts_printed: tuple[str, ...] = ()  # completed sales whose receipt recovery printed

    @property
    def changed(self) -> bool:
        """Did recovery find anything to do."""
        return bool(self.sales or self.receipts_printed)

    def sale(self, sale_id: str) -> SaleRecovery:
        for outcome in self.sales:
            if outcome.sale_id == sale_id:
                return outcome
        raise KeyError(sale_id)


async def recover_all(services: RecoveryServices) -> RecoveryReport:
    """Bring every open sale of the journal to an end (see the module docstring)."""
    return await _Recovery(services).run()


# -- internals -------------------------------------------------------------------------------


@dataclass
class _Payment:
    row: PaymentRow
    result: PaymentResult

    @property
    def key(self) -> str:
        return self.row.key

    @property
    def method(self) -> str:
        return self.row.method

    @property
    def taken(self) -> Money:
        return self.result.amount_taken

    @property
    def unknown(self) -> bool:
        return self.result.outcome is Outcome.UNKNOWN

    @property
    def given_back(self) -> bool:
        """A compensation was recorded before (by the flow or an earlier recovery)."""
        return self.row.compensation is not None and self.row.compensation != "failed"

    def summary(self) -> dict[str, Any]:
        """Everything staff need about this payment (never more than the card's last 4)."""
        r = self.result
        record = r.record
        return {
            "payment_key": record.key,
            "method": record.method,
            "attempt": record.attempt,
            "amount_minor": record.amount.minor,
            "taken_minor": r.amount_taken.minor,
            "uncertain_minor": 0 if record.uncertain is None else record.uncertain.minor,
            "outcome": r.outcome.value,
            "reference": record.reference,
            "auth_code": r.auth_code,
            "card_brand": r.card_brand,
            "card_last4": r.card_last4,
            "detail": r.detail,
            "compensation": self.row.compensation,
            "compensated_minor": self.row.compensated.minor,
        }


@dataclass
class _Debit:
    state: DebitState
    effect: EffectRow | None = None
    amount: Money | None = None
    balance_after: Money | None = None
    why: str | None = None  # why it is unknown or failed


@dataclass
class _Card:
    dispensed: bool | None  # None: unknown
    staged: bool  # this sale's card is in the reader position
    why: str  # the evidence, for the audit log and incidents


@dataclass
class _Case:
    """One open sale while recovery works on it."""

    sale: SaleRow
    effects: list[EffectRow]
    rows: list[PaymentRow]
    incidents: list[IncidentRow]  # this sale's incidents from before
    payments: list[_Payment] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    opened: list[int] = field(default_factory=list)
    undecided: int = 0
    owns_staged_card: bool = False  # the last open sale that staged a card
    compensated: Money = field(init=False)
    resolved_effects: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.compensated = self.zero
        self.undecided = sum(
            1 for i in self.incidents if i.status == "open" and i.kind not in SETTLED_INCIDENTS
        )

    @property
    def sale_id(self) -> str:
        return self.sale.sale_id

    @property
    def currency(self) -> str:
        return self.sale.currency

    @property
    def zero(self) -> Money:
        return Money.zero(self.sale.currency)

    @property
    def taken(self) -> Money:
        return sum((p.taken for p in self.payments), start=self.zero)

    @property
    def due(self) -> Money:
        cashback = Money(int(self.sale.data.get("cashback_minor") or 0), self.currency)
        return self.sale.price - cashback

    @property
    def dispenses_card(self) -> bool:
        return bool(self.sale.data.get("dispenses_card", True))

    @property
    def staged_a_card(self) -> bool:
        return any(e.kind == "dispenser.prepare" for e in self.effects)

    @property
    def debit_needed(self) -> bool:
        """Does this sale post a debit at all (the flow's rule: a pass is involved)."""
        return bool(self.sale.data.get("pass_id") or self.sale.data.get("card_pass_id"))

    def last_effect(self, kind: str) -> EffectRow | None:
        found = [e for e in self.effects if e.kind == kind]
        return found[-1] if found else None

    def last_activity(self) -> float:
        times = [self.sale.updated_at, *(r.updated_at for r in self.rows)]
        for e in self.effects:
            times.append(e.intent_at)
            if e.outcome_at is not None:
                times.append(e.outcome_at)
        return max(times)

    def act(self, action: str) -> None:
        log.info("recovery: sale %s: %s", self.sale_id, action)
        self.actions.append(action)


def _record_of(row: PaymentRow) -> PaymentRecord:
    return PaymentRecord(
        method=row.method,
        sale_id=row.sale_id,
        attempt=row.attempt,
        amount=row.amount,
        key=row.key,
        reference=row.reference,
        amount_taken=row.taken,
        uncertain=row.uncertain if row.uncertain.minor > 0 else None,
    )


def _journalled_result(row: PaymentRow) -> PaymentResult:
    """The payment as the journal holds it (UNKNOWN when it holds no known outcome)."""
    outcome = Outcome.UNKNOWN
    if row.outcome is not None:
        try:
            outcome = Outcome(row.outcome)
        except ValueError:
            outcome = Outcome.UNKNOWN
    return PaymentResult(
        record=_record_of(row),
        outcome=outcome,
        amount_taken=row.taken,
        auth_code=row.auth_code,
        card_brand=row.card_brand,
        card_last4=row.card_last4,
        detail=row.detail,
    )


def _is_final(row: PaymentRow) -> bool:
    return row.outcome is not None and _journalled_result(row).outcome in FINAL_AND_KNOWN


def _definite(exc: ServiceError) -> bool:
    """The device or service refused: the request did nothing."""
    return isinstance(exc, ApiError) and not exc.retryable


def _debit_of(effect: EffectRow, currency: str) -> _Debit:
    """A debit journalled ``done``, with its amount and balance as CardAPI answered."""
    outcome = effect.outcome or {}
    amount = outcome.get("amount")
    balance = outcome.get("balance_after")
    if amount is not None:
        money = from_cardapi(amount, currency)
    else:
        try:
            money = DebitRequest.from_payload(effect.intent).amount
        except ValueError:
            money = Money.zero(currency)
    return _Debit(
        "done", effect, money, None if balance is None else from_cardapi(balance, currency)
    )


class _Recovery:
    def __init__(self, services: RecoveryServices) -> None:
        self.svc = services
        self.journal = services.journal
        self.hw = services.hardware
        self.policy = services.policy
        self._dispenser: DispenserStatus | None = None
        self._dispenser_read = False
        self._dispenser_error: str | None = None

    @property
    def db(self) -> JournalDB:
        return self.journal.db

    async def _j(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await self.journal.call(fn, *args, **kwargs)

    async def _audit(self, action: str, **details: Any) -> None:
        await self._j(self.db.add_audit, ACTOR, action, details)

    # -- the run ---------------------------------------------------------------------------
    async def run(self) -> RecoveryReport:
        open_sales = await self._j(self.db.unfinished_sales)
        cases: list[_Case] = []
        if open_sales:
            known = await self._j(self.db.incidents, limit=100_000)
            for sale in open_sales:
                cases.append(
                    _Case(
                        sale=sale,
                        effects=await self._j(self.db.effects, sale.sale_id),
                        rows=await self._j(self.db.payments, sale.sale_id),
                        incidents=[i for i in known if i.sale_id == sale.sale_id],
                    )
                )
            stagers = [c for c in cases if c.staged_a_card]
            if stagers:
                stagers[-1].owns_staged_card = True  # one sale at a time: the last one's card
            log.warning("recovery: %d sale(s) left open by the previous run", len(cases))
            await self._audit("recovery.start", open_sales=[c.sale_id for c in cases])
            await self._resolve_payments(cases)
        outcomes = [await self._recover_sale(case) for case in cases]
        printed = await self._missing_receipts()
        if cases or printed:
            try:
                await self.hw.close_session()  # leave the kiosk as the flow expects to find it
            except ServiceError as exc:
                log.warning("recovery: could not close the kiosk session: %s", exc)
        report = RecoveryReport(tuple(outcomes), tuple(printed))
        if report.changed:
            await self._audit(
                "recovery.done",
                sales={o.sale_id: o.status for o in outcomes},
                receipts_printed=list(printed),
            )
        return report

    async def _recover_sale(self, case: _Case) -> SaleRecovery:
        try:
            return await self._decide(case)
        except Exception as exc:  # the crash boundary of one sale: the others still recover
            log.exception("recovery: sale %s could not be recovered", case.sale_id)
            return await self._give_up(case, exc)

    # -- payments ------------------------------------------------------------------------------
    async def _resolve_payments(self, cases: list[_Case]) -> None:
        """Every payment's truth; the methods are asked about those not journalled final."""
        todo: list[tuple[_Case, PaymentRow]] = []
        for case in cases:
            for row in case.rows:
                if _is_final(row):
                    case.payments.append(_Payment(row, _journalled_result(row)))
                else:
                    todo.append((case, row))
        # Cash first, newest first: only the previous run's own session shows its reader.
        todo.sort(key=lambda t: (t[1].method != "cash", -t[0].sale.created_at, -t[1].attempt))
        cash_seen = False
        for case, row in todo:
            trusted = not (row.method == "cash" and cash_seen)
            cash_seen = cash_seen or row.method == "cash"
            case.payments.append(await self._recover_payment(case, row, trusted=trusted))
        for case in cases:
            order = {row.key: n for n, row in enumerate(case.rows)}
            case.payments.sort(key=lambda p: order[p.key])

    async def _ask_method(self, row: PaymentRow) -> PaymentResult:
        record = _record_of(row)
        method = self.svc.payment_methods.get(row.method)
        if method is None:
            return PaymentResult(
                record, Outcome.UNKNOWN, row.taken,
                detail=f"no {row.method!r} payment method is configured to ask",
            )  # fmt: skip
        try:
            return await method.recover(record)
        except ServiceError as exc:
            return PaymentResult(
                record, Outcome.UNKNOWN, row.taken,
                detail=f"{row.method} status unavailable: {exc.message}",
            )  # fmt: skip
        except Exception as exc:  # a provider's bug must not stop the recovery of the rest
            log.exception("recovery: %s recover() crashed", row.method)
            return PaymentResult(
                record, Outcome.UNKNOWN, row.taken,
                detail=f"{row.method} recovery failed: internal error {type(exc).__name__}",
            )  # fmt: skip

    async def _recover_payment(self, case: _Case, row: PaymentRow, *, trusted: bool) -> _Payment:
        result = await self._ask_method(row)
        journalled = _record_of(row)
        taken = max(row.taken, result.amount_taken)  # what the journal knows is never lost
        outcome = result.outcome
        detail = result.detail
        if not trusted and journalled.uncertain is not None and outcome is not Outcome.UNKNOWN:
            # Not the previous run's last reader: the device cannot speak for this note.
            outcome = Outcome.UNKNOWN
            detail = f"a {journalled.uncertain} note's fate is unknown (an earlier session)"
        uncertain = journalled.uncertain if outcome is Outcome.UNKNOWN else None
        reference = result.record.reference or row.reference
        await self._j(
            self.db.save_payment,
            key=row.key,
            sale_id=row.sale_id,
            method=row.method,
            attempt=row.attempt,
            amount=row.amount,
            taken=taken,
            uncertain=uncertain,
            reference=reference,
        )
        await self._j(
            self.db.finish_payment,
            row.key,
            outcome=outcome.value,
            taken=taken,
            auth_code=result.auth_code,
            card_brand=result.card_brand,
            card_last4=result.card_last4,
            detail=detail,
        )
        record = PaymentRecord(
            method=row.method, sale_id=row.sale_id, attempt=row.attempt, amount=row.amount,
            key=row.key, reference=reference, amount_taken=taken, uncertain=uncertain,
        )  # fmt: skip
        payment = _Payment(
            row,
            PaymentResult(
                record=record,
                outcome=outcome,
                amount_taken=taken,
                auth_code=result.auth_code,
                card_brand=result.card_brand,
                card_last4=result.card_last4,
                receipt_lines=result.receipt_lines,
                detail=detail,
            ),
        )
        case.act(f"{row.method} payment {row.attempt}: {outcome.value}, {taken} taken ({detail})")
        await self._audit(
            "recovery.payment", sale_id=case.sale_id, journalled=row.outcome, **payment.summary()
        )
        return payment

    # -- the debit -------------------------------------------------------------------------------
    async def _resolve_debit(self, case: _Case) -> _Debit:
        effect = case.last_effect("cardapi.debit")
        if effect is None:
            return _Debit("none")
        if effect.status == "done":
            return _debit_of(effect, case.currency)
        if effect.status == "failed":
            return _Debit("failed", effect, why="refused by CardAPI before the crash")
        # pending (the process died around the send) or unknown (no answer): send it again.
        try:
            request = DebitRequest.from_payload(effect.intent)
        except ValueError as exc:
            why = f"the journalled debit request cannot be read: {exc}"
            await self._end_effect(case, effect, "unknown", {"recovery": why})
            case.act(f"debit: {why}")
            await self._audit("recovery.debit", sale_id=case.sale_id, result="unknown", why=why)
            return _Debit("unknown", effect, why=why)
        try:
            result = await self.svc.cards.send_debit(request)
        except DebitOutcomeUnknown as exc:
            why = f"sent again with the same ticket_id, still no answer ({exc.message})"
            await self._end_effect(
                case, effect, "unknown",
                {"error": type(exc).__name__, "code": exc.code, "recovery": why},
            )  # fmt: skip
            debit = _Debit("unknown", effect, request.amount, why=why)
        except ServiceError as exc:
            why = f"refused when sent again ({type(exc).__name__} {exc.code or ''}): not debited"
            await self._end_effect(
                case, effect, "failed",
                {"error": type(exc).__name__, "code": exc.code, "recovery": why},
            )  # fmt: skip
            debit = _Debit("failed", effect, request.amount, why=why)
            await self._resolve_incidents(
                case, "debit_unknown",
                "recovery sent the same ticket again: CardAPI refused it, nothing was debited",
            )  # fmt: skip
        else:
            balance = result.balance_after
            await self._end_effect(
                case, effect, "done",
                {
                    "amount": to_cardapi(result.amount),
                    "balance_after": None if balance is None else to_cardapi(balance),
                    "recovery": "sent again with the same ticket_id",
                },
            )  # fmt: skip
            await self._j(
                self.db.update_sale,
                case.sale_id,
                data={"debit": "done", "debit_minor": result.amount.minor},
            )
            debit = _Debit("done", effect, result.amount, balance)
            await self._resolve_incidents(
                case, "debit_unknown",
                f"recovery sent the same ticket again: {result.amount} is debited",
            )  # fmt: skip
        case.act(f"debit {request.ticket_id} sent again: {debit.state}")
        await self._audit(
            "recovery.debit",
            sale_id=case.sale_id,
            ticket_id=request.ticket_id,
            journalled=effect.status,
            result=debit.state,
            amount_minor=request.amount.minor,
            why=debit.why,
        )
        return debit

    # -- the card --------------------------------------------------------------------------------
    async def _dispenser_status(self) -> DispenserStatus | None:
        """The dispenser's status, read once until recovery moves a card (integrator level:
        no session needed)."""
        if not self._dispenser_read:
            self._dispenser_read = True
            try:
                self._dispenser = await self.hw.dispenser_status()
            except ServiceError as exc:
                log.warning("recovery: dispenser status unavailable: %s", exc)
                self._dispenser_error = f"dispenser status unavailable: {exc.message}"
        return self._dispenser

    def _card_moved(self) -> None:
        self._dispenser_read = False
        self._dispenser = None
        self._dispenser_error = None

    async def _resolve_card(self, case: _Case) -> _Card:
        if not case.dispenses_card:
            return _Card(False, False, "the product hands out no card")
        dispense = case.last_effect("dispenser.dispense")
        if dispense is not None and dispense.status == "done":
            return _Card(True, False, "the journal shows the card handed out")
        status = None
        if dispense is not None or case.owns_staged_card:
            status = await self._dispenser_status()
        staged = case.owns_staged_card and status is not None and status.card_position == "reader"
        if dispense is None or dispense.status == "failed":
            why = "never dispensed" if dispense is None else "the device refused the dispense"
            return _Card(False, staged, why)
        # A dispense sent without a known outcome: the dispenser tells.
        if status is None or status.jammed or status.card_position == "unknown":
            if status is None:
                why = self._dispenser_error or "dispenser status unavailable"
            elif status.jammed:
                why = "the dispenser is jammed"
            else:
                why = "the dispenser cannot tell where the card is"
            await self._end_effect(case, dispense, "unknown", {"recovery": why})
            card = _Card(None, False, f"dispense sent, outcome unknown: {why}")
        elif status.card_position == "reader":
            why = "the card is still in the reader position: it was not handed out"
            await self._end_effect(case, dispense, "failed", {"recovery": why})
            card = _Card(False, case.owns_staged_card, why)
        else:
            why = "the reader position is empty: the card was handed out"
            await self._end_effect(case, dispense, "done", {"recovery": why})
            card = _Card(True, False, why)
        case.act(f"dispense without an outcome: {card.why}")
        await self._audit(
            "recovery.dispense",
            sale_id=case.sale_id,
            journalled=dispense.status,
            dispensed=card.dispensed,
            evidence=card.why,
        )
        return card

    async def _discard(self, case: _Case) -> None:
        effect_id = await self._j(
            self.db.begin_effect, case.sale_id, "dispenser.discard", {"by": ACTOR}
        )
        try:
            await self.hw.discard_card()
        except NoCardPrepared:
            await self._j(self.db.end_effect, effect_id, "failed", {"error": "NoCardPrepared"})
            case.act("no card left in the reader position to discard")
        except ServiceError as exc:
            await self._j(
                self.db.end_effect, effect_id, "failed" if _definite(exc) else "unknown",
                {"error": type(exc).__name__, "code": exc.code},
            )  # fmt: skip
            case.act(f"the staged card could not be discarded ({type(exc).__name__}); the "
                     "next sale's staging discards it")  # fmt: skip
        else:
            await self._j(self.db.end_effect, effect_id, "done", {})
            case.act("the staged card was discarded")
        self._card_moved()

    # -- deciding ------------------------------------------------------------------------------
    async def _decide(self, case: _Case) -> SaleRecovery:
        card = await self._resolve_card(case)
        debit = await self._resolve_debit(case)
        paid_in_full = not any(p.unknown for p in case.payments) and case.taken >= case.due
        if card.dispensed is True:  # row 1
            return await self._deliver(case, debit, "delivered", card.why)
        if card.dispensed is None:  # row 2
            return await self._flag_dispense(case, debit, card.why)
        if not case.dispenses_card and paid_in_full:  # row 3
            if debit.state == "done" or (debit.state == "none" and not case.debit_needed):
                return await self._deliver(
                    case, debit, "finished", "paid in full, nothing to hand out"
                )
            if debit.state == "none":
                case.act("the debit was never sent (recovery never sends a new one)")
        if case.dispenses_card and card.staged and paid_in_full and debit.state == "done":  # row 4
            quiet_s = self.svc.clock.time() - case.last_activity()
            if self.policy.customer_present_s > 0 and quiet_s <= self.policy.customer_present_s:
                return await self._dispense_forward(case, debit)
            case.act(f"paid and debited with the card staged, but nothing happened for "
                     f"{quiet_s:.0f} s: the customer has most likely left, so the money is "
                     "given back instead of dispensing")  # fmt: skip
        return await self._compensate(case, debit, card)  # row 5

    async def _dispense_forward(self, case: _Case, debit: _Debit) -> SaleRecovery:
        data = case.sale.data
        effect_id = await self._j(
            self.db.begin_effect, case.sale_id, "dispenser.dispense",
            {"pass_id": data.get("card_pass_id"), "card_last4": data.get("card_last4"),
             "by": ACTOR},
        )  # fmt: skip
        try:
            await self.hw.dispense_card()
        except ServiceError as exc:
            await self._j(
                self.db.end_effect, effect_id, "failed" if _definite(exc) else "unknown",
                {"error": type(exc).__name__, "code": exc.code},
            )  # fmt: skip
            self._card_moved()
            if _definite(exc):
                case.act(f"dispensing refused by the device ({type(exc).__name__})")
                return await self._compensate(case, debit, _Card(False, True, "dispense refused"))
            return await self._flag_dispense(
                case, debit, f"dispensed by recovery, no answer ({type(exc).__name__})"
            )
        await self._j(self.db.end_effect, effect_id, "done", {})
        self._card_moved()
        return await self._deliver(
            case, debit, "finished", "the customer may still be at the kiosk: card dispensed"
        )

    async def _deliver(
        self, case: _Case, debit: _Debit, decision: Decision, why: str
    ) -> SaleRecovery:
        case.act(f"delivered: {why}")
        self._count_given_back(case)
        for p in case.payments:
            if p.unknown:
                await self._payment_unknown_incident(case, p)
        await self._print_receipt(case.sale, case.effects, case.payments, debit, case.actions)
        delivered = case.taken - case.compensated
        return await self._close(case, decision, "completed", delivered=delivered)

    async def _flag_dispense(self, case: _Case, debit: _Debit, why: str) -> SaleRecovery:
        self._count_given_back(case)
        flagged = case.taken - case.compensated
        await self._incident(
            case, "dispense_unknown",
            f"sale {case.sale_id}: the card may or may not have been handed out ({why}); "
            f"{flagged} taken is not refunded automatically: check and refund if it was not",
            amount=flagged, why=why,
        )  # fmt: skip
        for p in case.payments:
            if p.unknown:
                await self._payment_unknown_incident(case, p)
        if debit.state == "unknown":
            await self._debit_unknown_incident(case, debit)
        return await self._close(case, "flagged", "flagged")

    async def _compensate(self, case: _Case, debit: _Debit, card: _Card) -> SaleRecovery:
        for p in case.payments:
            await self._compensate_payment(case, p)
        if debit.state == "unknown":
            await self._debit_unknown_incident(case, debit)
        elif debit.state == "done" and debit.amount is not None and debit.amount.minor > 0:
            await self._incident(
                case, "cashback_not_delivered",
                f"{debit.amount} cashback was debited for sale {case.sale_id}, which was not "
                "delivered: credit it back to the card",
                amount=debit.amount, pass_id=self._debit_pass(case, debit),
                ticket_id=case.sale_id,
            )  # fmt: skip
        if card.staged:
            await self._discard(case)
        flagged = case.taken - case.compensated
        if flagged.minor > 0 or case.undecided > 0:
            status: Literal["flagged", "compensated", "cancelled"] = "flagged"
        elif case.compensated.minor > 0:
            status = "compensated"
        else:
            status = "cancelled"
        return await self._close(case, status, status)

    def _count_given_back(self, case: _Case) -> None:
        """Compensations recorded before the crash (rows 1 and 2 give nothing back)."""
        for p in case.payments:
            if p.given_back:
                case.compensated += p.row.compensated

    async def _compensate_payment(self, case: _Case, p: _Payment) -> None:
        record = p.result.record
        if p.method == "cash" and p.unknown and record.uncertain is not None:
            await self._incident(
                case, "note_uncertain",
                f"a {record.uncertain} note's fate is unknown ({p.result.detail}); the notes "
                "known to be stacked are refunded by voucher",
                amount=record.uncertain, payment_key=p.key,
            )  # fmt: skip
        if p.method != "cash" and p.unknown:
            await self._payment_unknown_incident(case, p)
            return
        if p.taken.minor <= 0:
            return
        if p.given_back:
            case.compensated += p.row.compensated
            case.act(f"{p.method} payment {p.row.attempt}: already given back "
                     f"({p.row.compensation}, {p.row.compensated})")  # fmt: skip
            if p.row.compensation == "voucher":
                voucher = Compensation(record, "voucher", p.row.compensated, reference=p.key)
                await self._issue_voucher(case, p, voucher)
            await self._shortfall_incident(case, p, p.row.compensated)
            return
        comp = await self._run_compensation(case, p)
        if comp is None:
            return
        if comp.kind == "not_needed":
            await self._shortfall_incident(case, p, Money.zero(case.currency))
            return
        if not comp.done:
            await self._incident(
                case, "compensation_failed",
                f"{p.method} payment of {p.taken} could not be given back: refund it",
                amount=p.taken, payment_key=p.key, detail=comp.detail,
            )  # fmt: skip
            return
        await self._j(self.db.record_compensation, p.key, kind=comp.kind, amount=comp.amount)
        case.compensated += comp.amount
        case.act(f"{p.method} payment {p.row.attempt}: {comp.amount} given back ({comp.kind})")
        await self._audit(
            "recovery.compensate",
            sale_id=case.sale_id,
            payment_key=p.key,
            method=p.method,
            kind=comp.kind,
            amount_minor=comp.amount.minor,
            reference=comp.reference,
        )
        if comp.kind == "voucher":
            await self._issue_voucher(case, p, comp)
        await self._shortfall_incident(case, p, comp.amount)

    async def _shortfall_incident(self, case: _Case, p: _Payment, given_back: Money) -> None:
        """Less given back than taken: the rest stays flagged, under an incident."""
        short = p.taken - given_back
        if short.minor > 0:
            await self._incident(
                case, "compensation_failed",
                f"{p.method} payment of {p.taken}: only {given_back} given back; refund the "
                f"other {short}",
                amount=short, payment_key=p.key,
            )  # fmt: skip

    async def _run_compensation(self, case: _Case, p: _Payment) -> Compensation | None:
        """``PaymentMethod.compensate``, journalled (key: the payment's) and never repeated
        after an attempt whose outcome is not known. None: an incident holds it."""
        record = p.result.record
        before = next(
            (e for e in case.effects if e.kind == "payment.compensate" and e.key == p.key), None
        )
        if before is not None and before.status == "done":
            out = before.outcome or {}
            kind = out.get("kind")
            if kind in ("reversed", "voided", "refunded", "voucher", "not_needed"):
                amount = Money(int(out.get("amount_minor", 0)), case.currency)
                return Compensation(record, kind, amount, reference=out.get("reference"))
        if before is not None and before.status == "failed":
            return Compensation(record, "failed", p.taken, detail="refused before the crash")
        if before is not None:
            # Sent before, outcome never journalled: repeating could give it back twice.
            await self._end_effect(case, before, "unknown", {"recovery": "no outcome journalled"})
            await self._incident(
                case, "compensation_unknown",
                f"giving back {p.taken} ({p.method}) was started but its outcome is unknown: "
                "check with the provider, and refund it if it was not",
                amount=p.taken, payment_key=p.key,
            )  # fmt: skip
            return None
        effect_id = await self._j(
            self.db.begin_effect, case.sale_id, "payment.compensate",
            {"payment_key": p.key, "method": p.method, "amount_minor": p.taken.minor},
            key=p.key,
        )  # fmt: skip
        method = self.svc.payment_methods.get(p.method)
        status: EffectStatus = "done"
        if method is None:
            comp = Compensation(record, "failed", p.taken, detail=f"no {p.method!r} method")
            status = "failed"
        else:
            try:
                comp = await method.compensate(p.result)
            except ServiceError as exc:
                comp = Compensation(record, "failed", p.taken, detail=exc.message)
                status = "failed" if _definite(exc) else "unknown"
            else:
                if not comp.done:
                    status = "failed"
        await self._j(
            self.db.end_effect, effect_id, status,
            {"kind": comp.kind, "amount_minor": comp.amount.minor, "reference": comp.reference,
             "detail": comp.detail},
        )  # fmt: skip
        return comp

    async def _close(
        self,
        case: _Case,
        decision: Decision,
        status: SaleStatus,
        *,
        delivered: Money | None = None,
    ) -> SaleRecovery:
        """Close what is still pending, end the sale with its amounts, audit the decision.
        ``flagged`` is the rest: taken = delivered + compensated + flagged."""
        for effect in case.effects:
            if effect.status == "pending" and effect.id not in case.resolved_effects:
                await self._end_effect(
                    case, effect, "unknown",
                    {"recovery": "no outcome was journalled before the crash"},
                )  # fmt: skip
        delivered = delivered or case.zero
        flagged = case.taken - delivered - case.compensated
        await self._j(
            self.db.update_sale,
            case.sale_id,
            status=status,
            data={
                "delivered_minor": delivered.minor,
                "compensated_minor": case.compensated.minor,
                "flagged_minor": flagged.minor,
            },
        )
        outcome = SaleRecovery(
            sale_id=case.sale_id,
            state=case.sale.state,
            decision=decision,
            status=status,
            taken=case.taken,
            delivered=delivered,
            compensated=case.compensated,
            flagged=flagged,
            incidents=tuple(case.opened),
            actions=tuple(case.actions),
        )
        log.warning("recovery: sale %s (%s) → %s: taken %s, delivered %s, compensated %s, "
                    "flagged %s", case.sale_id, case.sale.state, status, outcome.taken,
                    delivered, case.compensated, flagged)  # fmt: skip
        await self._audit(
            "recovery.sale",
            sale_id=case.sale_id,
            state=case.sale.state,
            decision=decision,
            status=status,
            taken_minor=outcome.taken.minor,
            delivered_minor=delivered.minor,
            compensated_minor=case.compensated.minor,
            flagged_minor=flagged.minor,
            incidents=list(case.opened),
            actions=list(case.actions),
        )
        return outcome

    async def _give_up(self, case: _Case, exc: Exception) -> SaleRecovery:
        """A bug while recovering this sale: everything not given back goes to staff."""
        rows = await self._j(self.db.payments, case.sale_id)
        case.effects = await self._j(self.db.effects, case.sale_id)  # with this run's own
        case.payments = [_Payment(r, _journalled_result(r)) for r in rows]
        case.compensated = sum(
            (r.compensated for r in rows if r.compensation not in (None, "failed")),
            start=case.zero,
        )
        case.act(f"recovery failed ({type(exc).__name__}): flagged for staff")
        await self._incident(
            case, "recovery_failed",
            f"sale {case.sale_id} could not be recovered automatically "
            f"({type(exc).__name__}): check its payments, card and debit",
            amount=case.taken - case.compensated, error=type(exc).__name__,
        )  # fmt: skip
        return await self._close(case, "flagged", "flagged")

    # -- incidents ------------------------------------------------------------------------------
    def _context(self, case: _Case) -> dict[str, Any]:
        """What every incident of a sale carries, for staff to act without looking elsewhere."""
        sale = case.sale
        return {
            "source": ACTOR,
            "product": sale.product_sku,
            "price_minor": sale.price.minor,
            "currency": sale.currency,
            "state": sale.state,
            "taken_minor": case.taken.minor,
            "pass_id": sale.data.get("pass_id"),
            "cashback_minor": sale.data.get("cashback_minor"),
            "card_pass_id": sale.data.get("card_pass_id"),
            "card_last4": sale.data.get("card_last4"),
            "payments": [p.summary() for p in case.payments],
        }

    async def _incident(
        self,
        case: _Case,
        kind: str,
        summary: str,
        *,
        amount: Money | None = None,
        settled: bool = False,
        **details: Any,
    ) -> int:
        """Open an incident for the sale, once: one of the same kind (and payment) already
        open is kept. ``settled``: informational, nothing for staff to decide."""
        payment_key = details.get("payment_key")
        for existing in case.incidents:
            if (
                existing.kind == kind
                and existing.status == "open"
                and existing.details.get("payment_key") == payment_key
            ):
                case.act(f"incident {kind} already open (#{existing.id})")
                return existing.id
        full = {**self._context(case), **details, "sale_id": case.sale_id}
        incident_id = await self._j(
            self.db.open_incident, kind, summary, sale_id=case.sale_id, amount=amount,
            details=full,
        )  # fmt: skip
        case.incidents.append(
            IncidentRow(incident_id, case.sale_id, kind, 0.0, summary, full, amount, "open",
                        None, None, None)
        )  # fmt: skip
        case.opened.append(incident_id)
        if not settled:
            case.undecided += 1
        case.act(f"incident #{incident_id} {kind}")
        log.warning("recovery: incident %s for sale %s: %s", kind, case.sale_id, summary)
        await self._audit(
            "recovery.incident", sale_id=case.sale_id, incident_id=incident_id, kind=kind,
            amount_minor=None if amount is None else amount.minor,
        )  # fmt: skip
        return incident_id

    async def _resolve_incidents(self, case: _Case, kind: str, note: str) -> None:
        """Recovery found the truth an earlier incident asked staff for."""
        for n, existing in enumerate(case.incidents):
            if existing.kind == kind and existing.status == "open":
                await self._j(self.db.resolve_incident, existing.id, actor=ACTOR, note=note)
                case.incidents[n] = replace(existing, status="resolved")
                case.undecided -= 1
                case.act(f"incident #{existing.id} {kind} resolved: {note}")

    async def _payment_unknown_incident(self, case: _Case, p: _Payment) -> None:
        record = p.result.record
        await self._incident(
            case, "payment_unknown",
            f"{p.method} payment of {record.amount} for sale {case.sale_id} has an unknown "
            f"outcome ({p.result.detail}): check the terminal / provider and refund it if "
            "it was taken",
            amount=record.amount, payment_key=p.key, reference=record.reference,
            why=p.result.detail,
        )  # fmt: skip

    async def _debit_unknown_incident(self, case: _Case, debit: _Debit) -> None:
        effect = debit.effect
        await self._incident(
            case, "debit_unknown",
            f"CardAPI debit for ticket {case.sale_id} has an unknown outcome ({debit.why}); "
            "repeat the journalled request (same ticket_id) to find out, and credit it back "
            "if it was debited",
            amount=debit.amount, ticket_id=case.sale_id,
            request=None if effect is None else effect.intent, why=debit.why,
        )  # fmt: skip

    def _debit_pass(self, case: _Case, debit: _Debit) -> object:
        if debit.effect is not None:
            row = debit.effect.intent.get("payment_row")
            if isinstance(row, dict) and row.get("pass_id"):
                return row["pass_id"]
        return case.sale.data.get("pass_id") or case.sale.data.get("card_pass_id")

    async def _end_effect(
        self, case: _Case, effect: EffectRow, status: EffectStatus, outcome: dict[str, Any]
    ) -> None:
        await self._j(self.db.end_effect, effect.id, status, outcome)
        case.resolved_effects.add(effect.id)

    # -- slips ------------------------------------------------------------------------------------
    def _at(self, timestamp: float) -> datetime:
        return datetime.fromtimestamp(timestamp, UTC).astimezone()

    async def _print(self, sale_id: str, kind: str, pdf: bytes, intent: dict[str, Any]) -> bool:
        effect_id = await self._j(
            self.db.begin_effect, sale_id, f"printer.{kind}", {**intent, "by": ACTOR}
        )
        try:
            await self.hw.print_pdf(pdf)
        except ServiceError as exc:
            await self._j(
                self.db.end_effect, effect_id, "failed" if _definite(exc) else "unknown",
                {"error": type(exc).__name__, "code": exc.code},
            )  # fmt: skip
            log.warning("recovery: printing the %s of sale %s failed: %s", kind, sale_id, exc)
            return False
        await self._j(self.db.end_effect, effect_id, "done", {})
        return True

    async def _issue_voucher(self, case: _Case, p: _Payment, comp: Compensation) -> None:
        """A refund voucher for the customer (printed once per payment), shown to staff."""
        code = comp.reference or p.key
        if any(
            e.kind == "printer.voucher" and e.intent.get("payment_key") == p.key
            for e in case.effects
        ):
            case.act(f"refund voucher {code} went to the printer before the crash")
            return
        language = str(case.sale.data.get("language") or "en")
        voucher = receipts.RefundVoucher(
            merchant=self.svc.merchant,
            kiosk_id=self.svc.kiosk_id,
            at=self._at(self.svc.clock.time()),
            language=language,
            voucher_code=code,
            sale_id=case.sale_id,
            amount=comp.amount,
            reason=_VOUCHER_REASON.get(language, _VOUCHER_REASON["en"]),
        )
        pdf = await asyncio.to_thread(self.svc.render_voucher, voucher)
        printed = await self._print(
            case.sale_id, "voucher", pdf, {"voucher_code": code, "payment_key": p.key}
        )
        case.act(f"refund voucher {code} for {comp.amount} "
                 f"{'printed' if printed else 'NOT printed (printer failed)'}")  # fmt: skip
        await self._incident(
            case, "refund_voucher",
            f"refund voucher {code} for {comp.amount} ({p.method}), issued by recovery; "
            f"{'printed' if printed else 'not printed (printer failed): hand it out'}",
            amount=comp.amount, settled=True, voucher_code=code, payment_key=p.key,
            method=p.method, printed=printed, auth_code=p.result.auth_code,
            card_last4=p.result.card_last4, detail=comp.detail,
        )  # fmt: skip

    def _receipt(self, sale: SaleRow, payments: list[_Payment], debit: _Debit) -> receipts.Receipt:
        zero = Money.zero(sale.currency)
        cash_total = sum((p.taken for p in payments if p.method == "cash"), start=zero)
        cash = receipts.CashPayment((), cash_total) if cash_total.minor > 0 else None
        card = None
        for p in payments:
            if p.method != "cash" and p.taken.minor > 0:
                card = receipts.CardPayment(
                    amount=p.taken,
                    brand=p.result.card_brand or "",
                    last4=p.result.card_last4 or "",
                    auth_code=p.result.auth_code,
                    receipt_lines=p.result.receipt_lines,
                )
        cashback = None
        if debit.state == "done" and debit.amount is not None and debit.amount.minor > 0:
            cashback = receipts.CashbackMovement(
                DEFAULT_RECEIPT_LABEL, -debit.amount, debit.balance_after
            )
        name = sale.product_name or sale.product_sku or ""
        last4 = sale.data.get("card_last4")
        return receipts.Receipt(
            merchant=self.svc.merchant,
            kiosk_id=self.svc.kiosk_id,
            sale_id=sale.sale_id,
            at=self._at(sale.updated_at),
            language=str(sale.data.get("language") or "en"),
            items=(receipts.ReceiptItem.of(name, 1, sale.price),),
            total=sale.price,
            cash=cash,
            card=card,
            cashback=cashback,
            cashback_card_number=str(last4) if last4 else None,
        )

    async def _print_receipt(
        self,
        sale: SaleRow,
        effects: list[EffectRow],
        payments: list[_Payment],
        debit: _Debit,
        actions: list[str],
    ) -> bool:
        """The receipt, if it never went to the printer. True when recovery printed it."""
        if any(e.kind == "printer.receipt" for e in effects):
            actions.append("the receipt went to the printer before the crash: not printed again")
            return False
        receipt = self._receipt(sale, payments, debit)
        pdf = await asyncio.to_thread(self.svc.render_receipt, receipt)
        printed = await self._print(sale.sale_id, "receipt", pdf, {})
        actions.append("receipt printed" if printed else "receipt NOT printed (printer failed)")
        await self._audit("recovery.receipt", sale_id=sale.sale_id, printed=printed)
        return printed

    async def _missing_receipts(self) -> list[str]:
        """Completed sales cut off between the hand-out and the receipt."""
        printed: list[str] = []
        for sale in await self._j(self.db.sales, limit=self.policy.receipt_lookback):
            if sale.status != "completed" or sale.state not in ("dispensing", "printing"):
                continue
            effects = await self._j(self.db.effects, sale.sale_id)
            receipt = [e for e in effects if e.kind == "printer.receipt"]
            for effect in receipt:
                if effect.status == "pending":
                    why = "sent to the printer, no answer journalled: not printed again"
                    await self._j(self.db.end_effect, effect.id, "unknown", {"recovery": why})
                    await self._audit("recovery.receipt", sale_id=sale.sale_id, why=why)
            if receipt:
                continue
            rows = await self._j(self.db.payments, sale.sale_id)
            payments = [_Payment(r, _journalled_result(r)) for r in rows]
            debit_effect = next((e for e in reversed(effects) if e.kind == "cardapi.debit"), None)
            debit = _Debit("none")
            if debit_effect is not None and debit_effect.status == "done":
                debit = _debit_of(debit_effect, sale.currency)
            actions: list[str] = []
            if await self._print_receipt(sale, effects, payments, debit, actions):
                printed.append(sale.sale_id)
            log.warning("recovery: completed sale %s had no receipt: %s", sale.sale_id,
                        "; ".join(actions))  # fmt: skip
        return printed


__all__ = [
    "ACTOR",
    "DebitSender",
    "RecoveryHardware",
    "RecoveryPolicy",
    "RecoveryReport",
    "RecoveryServices",
    "SaleRecovery",
    "recover_all",
]
