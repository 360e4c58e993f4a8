"""Maintenance mode without its screens: every staff action, audit-logged.

:class:`StaffService` is what the maintenance screens call (and only it: no
screen talks to a device or the journal itself). Typical use::

    service = StaffService(kiosk, config_path=path, actor="staff@screen")
    await service.start()                 # applies the persisted out-of-service toggle
    if service.can_enter():               # the flow is idle (attract / out of service)
        check = await service.login(pin)  # PIN check (lockout) + enter()
        if check.ok:
            box = await service.cash_box()
            ...
            await service.leave(reason="logout")   # or "timeout"
    ...
    await service.stop()                  # the app stops

Rules every method follows:

* Every staff action writes one audit row (who, when, what) in the journal;
  reads that change nothing (dashboard, lists) are not audited.
* An expected device or service failure never raises: the result says so in
  plain English (``ActionResult(ok=False, message=...)``, ``ScanResult`` with
  ``error``, ...). Bad input from staff (an empty note, a refill of -3 cards,
  an unknown incident) raises :class:`StaffError` (a ValueError) whose text
  is for the screen.
* Times are wall-clock seconds (``clock.time()``): format them for display.
* The figures of the headless ``kioskapp admin`` command come from the same
  module-level functions (:func:`cash_box_view`, :func:`incident_views`,
  :func:`sale_views`, :func:`sale_detail_view`), so the screens and the command
  always agree.

While staff are in maintenance mode the flow is out of service (reason
``out_of_service.staff``) so no sale can start; logging out restores the staff
out-of-service toggle (persisted in the journal, so it survives a restart), while
leaving because the app stops keeps the kiosk out of service until it exits.

From :meth:`StaffService.start` on, the service notes the errors the customer flow
meets (for the dashboard's "last error", kept in the journal), and the incident
lists include every flagged sale that has no incident (``IncidentView.id`` None).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from kioskapp import __version__
from kioskapp.core.flow import FlowSnapshot, State
from kioskapp.core.journal import (
    SCHEMA_VERSION,
    AuditRow,
    CashBox,
    IncidentRow,
    JournalDB,
    PaymentRow,
    SaleRow,
)
from kioskapp.core.money import Money
from kioskapp.core.receipts import Merchant, MethodTotal, scrub_card_numbers
from kioskapp.devices.errors import ServiceError
from kioskapp.devices.health import ServiceHealth
from kioskapp.devices.tecalis import RestartableDevice, TecalisClient
from kioskapp.devices.tecalis_models import DispenserStatus
from kioskapp.payments.kinetic import KineticPayment
from kioskapp.staff.access import PinCheck, StaffAccess
from kioskapp.staff.slip import collection_slip, end_of_day_slip, local_time, test_page

if TYPE_CHECKING:
    from kioskapp.runtime import Kiosk

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

SCREEN_ACTOR = "staff@screen"
STAFF_OOS_REASON = "out_of_service.staff"
OOS_STATE_KEY = "staff.out_of_service"
REFILL_STATE_KEY = "staff.hopper_refill"
DEVICE_ERRORS_STATE_KEY = "staff.device_errors"
#: The kind of the incident recorded when staff resolve a flagged sale that had none.
FLAGGED_SALE_KIND = "sale_flagged"

LeaveReason = Literal["logout", "timeout", "restart", "quit", "shutdown"]
#: Leaving because the app stops: the kiosk stays out of service until it exits (the
#: persisted toggle is not changed; the next start applies it).
APP_EXIT_REASONS: frozenset[str] = frozenset({"restart", "quit", "shutdown"})


class StaffError(ValueError):
    """A staff request that cannot be done as asked; ``str()`` is the screen's text."""


class NoSuchRecord(StaffError):
    """No incident / sale with that id."""


class AlreadyResolved(StaffError):
    """The incident was resolved before (by whom and when is in the message)."""


# -- results ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ActionResult:
    """The outcome of a staff action on a device: ``message`` is plain English."""

    ok: bool
    message: str


@dataclass(frozen=True)
class DeviceHealthRow:
    """One line of the device dashboard.

    ``name`` is a stable key ("kiosk_api", "bill_reader", "tpv", "dispenser",
    "printer", "scanner", "cardapi", "kinetic", "komoju", "payjunction",
    "serial_reader"); ``label`` the English name. ``ok``: True working, False
    failing, None unknown (never asked yet). ``summary``: the current status in
    words ("ok", "paper low", "offline", "stopped by the flow: ..."). The last
    error and when it happened (wall-clock), and the last good answer.

    The last error is the latest of what the device's client recorded (its
    :class:`ServiceHealth`), what staff actions and dashboard reads met, and what
    the customer flow met while nobody watched (its faults, errors and
    out-of-service reasons, from the start of the app). It is kept in the journal,
    so it outlives a restart. ``last_error`` is the device's words or one of the
    flow's message keys ("printer.paper_out": the screens put it in words).
    """

    name: str
    label: str
    ok: bool | None
    summary: str
    last_error: str | None = None
    last_error_at: float | None = None
    last_ok_at: float | None = None


@dataclass(frozen=True)
class NoteLine:
    """``count`` notes of ``value``; ``total`` = value × count."""

    value: Money
    count: int
    total: Money


@dataclass(frozen=True)
class CashBoxView:
    """The cash box since the last collection, by denomination (largest first).

    The figures are the journal's: every note the bill reader stacked into the
    box (``notes`` table, written in the same transaction as the cash payment
    that took it) and not yet collected. ``total`` = sum of ``notes`` =
    the cash taken (``payments.taken`` of cash payments) since the last
    collection. ``since``: the last collection's time (None: never collected).
    ``note_count``: number of notes.
    """

    currency: str
    notes: tuple[NoteLine, ...]
    total: Money
    note_count: int
    since: float | None


@dataclass(frozen=True)
class CollectionResult:
    """A recorded cash collection. It is recorded even when the slip did not print:
    then ``slip_printed`` is False, ``printer_error`` says why and the screen shows
    the slip (``slip_pdf``, ``slip_lines``)."""

    collection_id: int
    at: float
    box: CashBoxView
    slip_pdf: bytes = field(repr=False)
    slip_lines: tuple[str, ...]
    slip_printed: bool
    printer_error: str | None

    @property
    def message(self) -> str:
        total = self.box.total
        if self.slip_printed:
            return f"Collection #{self.collection_id} recorded: {total}. Slip printed."
        return (
            f"Collection #{self.collection_id} recorded: {total}. The slip was not printed "
            f"({self.printer_error}); it is shown on screen."
        )


@dataclass(frozen=True)
class RefillRecord:
    """The last refill staff recorded: ``cards`` put in the hopper, when, by whom."""

    cards: int
    at: float
    actor: str


@dataclass(frozen=True)
class HopperView:
    """The card hopper as the Tecalis dispenser reports it.

    When the status could not be read, ``error`` says why and the device
    fields are None/False. ``count`` is None when the dispenser does not count.
    ``last_refill`` comes from the journal (the dispenser has no refill record).
    """

    count: int | None
    empty: bool
    low: bool
    jammed: bool
    card_position: str  # "none" | "reader" | "unknown"
    reject_bin: int | None
    errors: tuple[str, ...]
    last_refill: RefillRecord | None
    error: str | None = None


@dataclass(frozen=True)
class PrinterView:
    """The receipt printer's status; ``error`` set when it could not be read."""

    online: bool | None
    paper: str  # "ok" | "low" | "out" | "unknown"
    can_print: bool
    errors: tuple[str, ...]
    error: str | None = None


@dataclass(frozen=True)
class ScanResult:
    """A test scan: the image (``image`` bytes of type ``mime``), or ``error``."""

    ok: bool
    image: bytes | None = field(default=None, repr=False)
    mime: str | None = None
    width: int | None = None
    height: int | None = None
    error: str | None = None

    @property
    def message(self) -> str:
        if self.ok:
            return f"Scanned a {self.width}×{self.height} image."
        return f"Scan failed: {self.error}"


@dataclass(frozen=True)
class EndOfDayResult:
    """End-of-day reconciliation on the card terminal.

    ``supported`` False: the provider has none (``message`` says "not supported
    by <provider>"), nothing else was done. Otherwise ``ok`` says whether the
    terminal reconciled; ``receipt_lines`` is the terminal's reconciliation
    receipt as text; ``slip_pdf`` the end-of-day slip (day totals from the
    journal + that receipt), ``printed``/``printer_error`` whether it printed.
    """

    supported: bool
    ok: bool
    provider: str
    message: str
    receipt_lines: tuple[str, ...] = ()
    slip_pdf: bytes | None = field(default=None, repr=False)
    slip_lines: tuple[str, ...] = ()
    printed: bool = False
    printer_error: str | None = None


@dataclass(frozen=True)
class IncidentView:
    """One incident with everything staff need to act.

    ``id`` None: not a recorded incident but a sale flagged for staff with no
    incident at all (kind :data:`FLAGGED_SALE_KIND`); staff resolve it with
    :func:`resolve_flagged_sale`, which records it as a resolved incident.
    ``amount``: the money at stake (None when none). ``voucher_code``,
    ``auth_code``, ``card_last4``, ``payment_method``: from the incident's
    details or, when it has none, from the sale's payments. ``details``: every
    fact the flow or recovery recorded (free form, JSON-safe);
    :meth:`other_details` leaves out those shown as fields.
    """

    id: int | None
    kind: str
    status: Literal["open", "resolved"]
    created_at: float
    summary: str
    sale_id: str | None
    amount: Money | None
    voucher_code: str | None
    auth_code: str | None
    card_last4: str | None
    payment_method: str | None
    details: dict[str, Any]
    resolved_at: float | None = None
    resolved_by: str | None = None
    resolution_note: str | None = None

    def other_details(self) -> dict[str, Any]:
        """The details not already shown as a field (sale, voucher, auth code, ...)."""
        return {k: v for k, v in sorted(self.details.items()) if k not in INCIDENT_FIELD_KEYS}


@dataclass(frozen=True)
class SaleView:
    """One sale in the recent-sales list. ``paid``: money taken by every payment;
    ``cashback``: value debited from the customer's cashback card. ``methods``:
    the payment methods used, and "cashback" when cashback was debited."""

    sale_id: str
    created_at: float
    updated_at: float
    status: str  # open | completed | cancelled | compensated | flagged
    state: str
    product_sku: str | None
    product_name: str | None
    price: Money
    paid: Money
    methods: tuple[str, ...]
    cashback: Money


@dataclass(frozen=True)
class PaymentLine:
    """One payment attempt of a sale (card number: last 4 digits only)."""

    method: str
    attempt: int
    amount: Money
    taken: Money
    outcome: str | None
    reference: str | None
    auth_code: str | None
    card_brand: str | None
    card_last4: str | None
    detail: str | None
    compensation: str | None
    compensated: Money
    updated_at: float


@dataclass(frozen=True)
class EffectLine:
    """One side effect of a sale: intent (before) and outcome (after)."""

    kind: str
    status: str  # pending | done | failed | unknown
    intent_at: float
    outcome_at: float | None
    intent: dict[str, Any]
    outcome: dict[str, Any] | None


@dataclass(frozen=True)
class SaleDetail:
    sale: SaleView
    data: dict[str, Any]
    payments: tuple[PaymentLine, ...]
    effects: tuple[EffectLine, ...]
    incidents: tuple[IncidentView, ...]


@dataclass(frozen=True)
class About:
    version: str
    kiosk_id: str
    config_path: Path | None  # None: built-in defaults
    journal_path: Path
    schema_version: int
    card_provider: str
    currency: str


# -- the shared figures (screens and `kioskapp admin`) --------------------------------------


def box_view(box: CashBox) -> CashBoxView:
    """The journal's cash box by denomination, largest first (see :class:`CashBoxView`)."""
    currency = box.currency
    notes = tuple(
        NoteLine(Money(value, currency), count, Money(value * count, currency))
        for value, count in sorted(box.by_note.items(), reverse=True)
    )
    return CashBoxView(
        currency=currency,
        notes=notes,
        total=box.total,
        note_count=sum(line.count for line in notes),
        since=box.since,
    )


def cash_box_view(db: JournalDB, currency: str) -> CashBoxView:
    """The cash box since the last collection, from the journal (see :class:`CashBoxView`)."""
    return box_view(db.cash_box(currency))


@dataclass(frozen=True)
class CashCheck:
    """Does the cash box agree with the payments? (``kioskapp admin cash``)

    ``box``: the notes the journal holds as in the box (uncollected). ``taken``:
    the cash every cash payment ever took; ``collected``: every collection's total.
    Balanced when box total = taken − collected, i.e. every note stacked for a
    payment is either in the box or was collected, and nothing else is.
    """

    box: CashBoxView
    taken: Money
    collected: Money

    @property
    def expected(self) -> Money:
        return self.taken - self.collected

    @property
    def balanced(self) -> bool:
        return self.box.total == self.expected


def cash_check(db: JournalDB, currency: str) -> CashCheck:
    taken, collected = db.cash_ledger(currency)
    return CashCheck(
        cash_box_view(db, currency), Money(taken, currency), Money(collected, currency)
    )


def money_taken(payments: Iterable[PaymentRow], currency: str, method: str | None = None) -> Money:
    """What the payments in ``currency`` took (only ``method``'s when given; "card":
    every method but cash)."""
    total = Money(0, currency)
    for p in payments:
        if p.taken.currency != currency:
            continue
        if method is None or p.method == method or (method == "card" and p.method != "cash"):
            total = total + p.taken
    return total


def card_payment(payments: list[PaymentRow]) -> PaymentRow | None:
    """The last payment with card facts (last 4 digits or an auth code), if any."""
    return next((p for p in reversed(payments) if p.card_last4 or p.auth_code), None)


def cashback_debited(sale: SaleRow) -> Money:
    """The value debited from the customer's cashback card for ``sale`` (0 if none)."""
    minor = sale.data.get("debit_minor", 0) if sale.data.get("debit") == "done" else 0
    ok = isinstance(minor, int) and not isinstance(minor, bool) and minor > 0
    return Money(minor if ok else 0, sale.currency)


def _first_text(*values: object) -> str | None:
    for value in values:
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


# Incident detail keys shown as fields of IncidentView (the first one set wins).
_METHOD_KEYS = ("method", "payment_method")
_VOUCHER_KEYS = ("voucher_code", "voucher")
_AUTH_KEYS = ("auth_code",)
_LAST4_KEYS = ("card_last4",)
#: Detail keys an :class:`IncidentView` shows as its own fields.
INCIDENT_FIELD_KEYS: frozenset[str] = frozenset(
    {"sale_id", *_METHOD_KEYS, *_VOUCHER_KEYS, *_AUTH_KEYS, *_LAST4_KEYS}
)


def _facts(
    details: dict[str, Any], payments: list[PaymentRow]
) -> tuple[str | None, str | None, str | None, str | None]:
    """(voucher code, auth code, card last 4, payment method): the incident's details
    first, else the sale's payments."""
    card = card_payment(payments)
    method = _first_text(*(details.get(k) for k in _METHOD_KEYS))
    if method is None and payments:
        method = payments[-1].method
    last4 = _first_text(*(details.get(k) for k in _LAST4_KEYS), card.card_last4 if card else None)
    return (
        _first_text(*(details.get(k) for k in _VOUCHER_KEYS)),
        _first_text(*(details.get(k) for k in _AUTH_KEYS), card.auth_code if card else None),
        last4[-4:] if last4 else None,
        method,
    )


def _incident(db: JournalDB, row: IncidentRow) -> IncidentView:
    details = dict(row.details)
    payments = db.payments(row.sale_id) if row.sale_id else []
    voucher, auth, last4, method = _facts(details, payments)
    return IncidentView(
        id=row.id,
        kind=row.kind,
        status=row.status,
        created_at=row.created_at,
        summary=row.summary,
        sale_id=row.sale_id,
        amount=row.amount,
        voucher_code=voucher,
        auth_code=auth,
        card_last4=last4,
        payment_method=method,
        details=details,
        resolved_at=row.resolved_at,
        resolved_by=row.resolved_by,
        resolution_note=row.resolution_note,
    )


def _flagged_amount(sale: SaleRow) -> Money | None:
    minor = sale.data.get("flagged_minor", 0)
    ok = isinstance(minor, int) and not isinstance(minor, bool) and minor > 0
    return Money(minor, sale.currency) if ok else None


def _flagged_sale_view(db: JournalDB, sale: SaleRow) -> IncidentView:
    """A flagged sale with no incident, shown (and resolved) as one."""
    amount = _flagged_amount(sale)
    voucher, auth, last4, method = _facts({}, db.payments(sale.sale_id))
    what = f"{amount} flagged" if amount is not None else f"status {sale.status}"
    return IncidentView(
        id=None,
        kind=FLAGGED_SALE_KIND,
        status="open",
        created_at=sale.updated_at,
        summary=(
            f"Sale {sale.sale_id} is flagged for staff ({what}) but no incident was "
            "recorded: check its payments, then resolve it with a note."
        ),
        sale_id=sale.sale_id,
        amount=amount,
        voucher_code=voucher,
        auth_code=auth,
        card_last4=last4,
        payment_method=method,
        details={"sale_status": sale.status, "sale_state": sale.state},
    )


def incident_views(
    db: JournalDB, *, open_only: bool = True, limit: int = 200
) -> list[IncidentView]:
    """Incidents, newest first (open ones only unless ``open_only`` is False), with
    every flagged sale that has no incident as an open one (``id`` None)."""
    views = [_incident(db, row) for row in db.incidents(open_only=open_only, limit=limit)]
    views += [_flagged_sale_view(db, sale) for sale in _flagged_without_incident(db)]
    views.sort(key=lambda v: v.created_at, reverse=True)
    return views[:limit]


def incident_view(db: JournalDB, incident_id: int) -> IncidentView:
    """One incident; NoSuchRecord when there is none with that id."""
    row = db.incident(incident_id)
    if row is None:
        raise NoSuchRecord(f"There is no incident #{incident_id}.")
    return _incident(db, row)


def _resolution_note(note: str) -> str:
    note = note.strip()
    if not note:
        raise StaffError("Write a note saying what was done before resolving the incident.")
    if len(note) > MAX_NOTE_CHARS:
        raise StaffError(f"The note is too long (at most {MAX_NOTE_CHARS} characters).")
    return note


def resolve_incident(db: JournalDB, incident_id: int, note: str, *, actor: str) -> IncidentView:
    """Resolve an open incident with a note saying what was done (audit-logged).

    StaffError for an empty or too long note, NoSuchRecord for an unknown id,
    AlreadyResolved when it was resolved before. Returns the resolved incident.
    """
    note = _resolution_note(note)
    current = incident_view(db, incident_id)
    if current.status != "open":
        raise AlreadyResolved(_resolved_text(current))
    try:
        db.resolve_incident(incident_id, actor=actor, note=note)
    except KeyError:  # resolved meanwhile (another admin)
        raise AlreadyResolved(_resolved_text(incident_view(db, incident_id))) from None
    return incident_view(db, incident_id)


def resolve_flagged_sale(db: JournalDB, sale_id: str, note: str, *, actor: str) -> IncidentView:
    """Resolve a flagged sale that has no incident: it is recorded as an incident of
    kind :data:`FLAGGED_SALE_KIND`, resolved at once with ``note`` (audited
    ``incident.resolve`` like any other). StaffError for a bad note, NoSuchRecord
    for an unknown sale, StaffError when it is not flagged or has an incident
    (then that incident is the one to resolve)."""
    note = _resolution_note(note)
    sale_id = sale_id.strip()
    sale = db.sale(sale_id)
    if sale is None:
        raise NoSuchRecord(f"There is no sale {sale_id!r}.")
    if sale.sale_id not in {s.sale_id for s in _flagged_without_incident(db)}:
        incidents = db.sale_incidents(sale.sale_id)
        if incidents:
            numbers = ", ".join(f"#{i.id}" for i in incidents)
            raise AlreadyResolved(
                f"Sale {sale.sale_id} has incident(s) {numbers}: resolve those instead."
            )
        raise StaffError(f"Sale {sale.sale_id} is not flagged for staff.")
    view = _flagged_sale_view(db, sale)
    incident_id = db.open_incident(
        FLAGGED_SALE_KIND,
        view.summary,
        sale_id=sale.sale_id,
        amount=view.amount,
        details={**view.details, "recorded_by": actor},
    )
    return resolve_incident(db, incident_id, note, actor=actor)


def _resolved_text(incident: IncidentView) -> str:
    when = "" if incident.resolved_at is None else f" at {format_time(incident.resolved_at)}"
    who = f" by {incident.resolved_by}" if incident.resolved_by else ""
    return f"Incident #{incident.id} was already resolved{who}{when}."


def format_time(at: float | None) -> str:
    """A wall-clock time as the kiosk's local time, for staff ("2024-05-01 14:03:22")."""
    if at is None:
        return "—"
    return local_time(at).strftime("%Y-%m-%d %H:%M:%S")


def _sale(row: SaleRow, payments: list[PaymentRow]) -> SaleView:
    cashback = cashback_debited(row)
    methods = tuple(dict.fromkeys(p.method for p in payments))
    if cashback.minor:
        methods += ("cashback",)
    return SaleView(
        sale_id=row.sale_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        status=row.status,
        state=row.state,
        product_sku=row.product_sku,
        product_name=row.product_name,
        price=row.price,
        paid=money_taken(payments, row.currency),
        methods=methods,
        cashback=cashback,
    )


def sale_views(db: JournalDB, search: str | None = None, limit: int = 50) -> list[SaleView]:
    """Recent sales, newest first; ``search``: a sale id prefix (or product)."""
    search = (search or "").strip() or None
    if search is not None and ("%" in search or "_" in search):
        raise StaffError("Search with the start of a sale id (no % or _).")
    limit = max(1, min(int(limit), 10_000))
    return [_sale(row, db.payments(row.sale_id)) for row in db.sales(limit=limit, search=search)]


def sale_detail_view(db: JournalDB, sale_id: str) -> SaleDetail:
    """A sale with its payments, side effects and incidents; NoSuchRecord if unknown."""
    row = db.sale(sale_id.strip())
    if row is None:
        raise NoSuchRecord(f"There is no sale {sale_id.strip()!r}.")
    payments = db.payments(row.sale_id)
    return SaleDetail(
        sale=_sale(row, payments),
        data=dict(row.data),
        payments=tuple(_payment(p) for p in payments),
        effects=tuple(
            EffectLine(e.kind, e.status, e.intent_at, e.outcome_at, e.intent, e.outcome)
            for e in db.effects(row.sale_id)
        ),
        incidents=tuple(_incident(db, i) for i in db.sale_incidents(row.sale_id)),
    )


def _payment(p: PaymentRow) -> PaymentLine:
    return PaymentLine(
        method=p.method,
        attempt=p.attempt,
        amount=p.amount,
        taken=p.taken,
        outcome=p.outcome,
        reference=p.reference,
        auth_code=p.auth_code,
        card_brand=p.card_brand,
        card_last4=p.card_last4[-4:] if p.card_last4 else None,
        detail=p.detail,
        compensation=p.compensation,
        compensated=p.compensated,
        updated_at=p.updated_at,
    )


def _flagged_without_incident(db: JournalDB) -> list[SaleRow]:
    return [row for row in db.flagged_sales() if not db.sale_incidents(row.sale_id)]


def flagged_without_incident(db: JournalDB) -> list[str]:
    """Sale ids flagged for staff (status or flagged money) with no incident at all:
    should always be empty (the flow and recovery open one when they flag)."""
    return [row.sale_id for row in _flagged_without_incident(db)]


def unresolved_flagged_sales(db: JournalDB) -> list[str]:
    """Sale ids flagged for staff that still need them: an incident of the sale is
    open, or it has none at all. A flagged sale stays flagged in the journal (its
    money is in the reconciliation's ``flagged``); resolving its incidents settles it."""
    unresolved = []
    for row in db.flagged_sales():
        incidents = db.sale_incidents(row.sale_id)
        if not incidents or any(i.status == "open" for i in incidents):
            unresolved.append(row.sale_id)
    return unresolved


def out_of_service_toggle(db: JournalDB) -> bool:
    """The persisted staff out-of-service toggle."""
    value = db.get_state(OOS_STATE_KEY) or {}
    return value.get("on") is True


def last_refill(db: JournalDB) -> RefillRecord | None:
    value = db.get_state(REFILL_STATE_KEY)
    if not value:
        return None
    cards, at, actor = value.get("cards"), value.get("at"), value.get("actor")
    if not isinstance(cards, int) or not isinstance(at, int | float) or not isinstance(actor, str):
        return None
    return RefillRecord(cards, float(at), actor)


# -- the service ------------------------------------------------------------------------------

# The kiosk API's word for each device (lower case) -> is it usable, what to show.
_DEVICE_LABELS = {
    "bill_reader": "Bill reader",
    "tpv": "PIN pad (TPV)",
    "dispenser": "Card dispenser",
    "printer": "Receipt printer",
    "scanner": "Document scanner",
}
_BAD_WORDS = ("offline", "jammed", "full", "empty", "paper out", "error", "fault")
_SERVICE_LABELS = {
    "kinetic": "Card terminal (Kinetic)",
    "komoju": "Card terminal (KOMOJU)",
    "payjunction": "Card terminal (PayJunction)",
}
_PROVIDER_NAMES = {
    "tpv": "the TPV PIN pad",
    "kinetic": "Kinetic",
    "komoju": "KOMOJU",
    "payjunction": "PayJunction",
    "none": "this kiosk (no card terminal)",
}
RESTARTABLE: tuple[RestartableDevice, ...] = ("printer", "dispenser", "scanner")
MAX_REFILL = 10_000
MAX_NOTE_CHARS = 2000

# The flow's message keys (errors, out-of-service reasons) -> the dashboard row they
# concern, by prefix; "terminal" is the configured card terminal's row.
_KEY_ROWS = (
    ("out_of_service.dispenser_", "dispenser"),
    ("out_of_service.kiosk_unreachable", "kiosk_api"),
    ("dispenser.", "dispenser"),
    ("printer.", "printer"),
    ("bill_reader.", "bill_reader"),
    ("scanner.", "scanner"),
    ("terminal.", "terminal"),
    ("card_reader.", "serial_reader"),
    ("kiosk.", "kiosk_api"),
)
# The flow's fault names -> dashboard rows (the same name unless listed).
_FAULT_ROWS = {"cash": "bill_reader"}
_SERVICE_ROWS = {"tecalis": "kiosk_api", "cardapi": "cardapi", **{p: p for p in _SERVICE_LABELS}}


def _row_of(key: str, service: str | None, provider: str) -> str | None:
    """The dashboard row one of the flow's message keys (and the service it named)
    concerns; None when it concerns none (a bug, a customer's card...)."""
    for prefix, row in _KEY_ROWS:
        if key.startswith(prefix):
            if row != "terminal":
                return row
            return provider if provider == "tpv" or provider in _SERVICE_LABELS else None
    return _SERVICE_ROWS.get(service or "")


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, ServiceError):
        return scrub_card_numbers(exc.message) or type(exc).__name__
    return f"internal error ({type(exc).__name__})"


def _dispenser_summary(st: DispenserStatus) -> tuple[bool, str]:
    """(usable, what to show) for a dispenser status."""
    if "offline" in st.errors:
        return False, "offline"
    if st.jammed:
        return False, "jammed"
    if st.hopper_empty:
        return False, "empty"
    return True, "low" if st.hopper_low else "ok"


@dataclass
class _Seen:
    ok: bool | None = None
    summary: str = "not checked yet"
    last_error: str | None = None
    last_error_at: float | None = None
    last_ok_at: float | None = None


class StaffService:
    """Maintenance mode for one running kiosk. See the module docstring."""

    def __init__(
        self, kiosk: Kiosk, *, config_path: Path | None, actor: str = SCREEN_ACTOR
    ) -> None:
        self.kiosk = kiosk
        self.config_path = config_path
        self.actor = actor
        self.access = StaffAccess(kiosk.journal, kiosk.config.staff, kiosk.clock)
        self._in_maintenance = False
        self._oos = False
        self._used_session = False
        self._seen: dict[str, _Seen] = {}
        self._busy = asyncio.Lock()
        # What the customer flow met (see _watch_flow), and its persistence.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unwatch: Callable[[], None] | None = None
        self._flow_faults: frozenset[str] = frozenset()
        self._flow_error: tuple[str, str | None] | None = None
        self._flow_reason: str | None = None
        self._errors_dirty = False
        self._saving: asyncio.Task[None] | None = None

    # -- helpers ---------------------------------------------------------------------
    @property
    def _db(self) -> JournalDB:
        return self.kiosk.journal.db

    async def _j(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.kiosk.journal.call(fn, *args, **kwargs)

    async def _audit(self, action: str, details: dict[str, Any] | None = None) -> None:
        await self._j(self._db.add_audit, self.actor, action, details or {})

    @property
    def _tecalis(self) -> TecalisClient:
        return self.kiosk.devices.tecalis

    @property
    def _currency(self) -> str:
        return self.kiosk.config.kiosk.currency

    def _merchant(self) -> Merchant:
        k = self.kiosk.config.kiosk
        return Merchant(k.merchant_name, tuple(k.merchant_lines))

    def _note(self, name: str, ok: bool, summary: str, error: str | None = None) -> None:
        """Remember what a device said (the dashboard shows the last error and when)."""
        seen = self._seen.setdefault(name, _Seen())
        seen.ok, seen.summary = ok, summary
        if ok:
            seen.last_ok_at = self.kiosk.clock.time()
        if error is not None:
            self._note_error(name, error)

    def _note_error(self, name: str, error: str) -> None:
        """Remember ``name``'s last error, now; kept in the journal (soon after)."""
        seen = self._seen.setdefault(name, _Seen())
        seen.last_error, seen.last_error_at = error, self.kiosk.clock.time()
        self._errors_dirty = True
        if self._loop is not None and (self._saving is None or self._saving.done()):
            self._saving = self._loop.create_task(self._save_errors(), name="staff:errors")

    async def _save_errors(self) -> None:
        while self._errors_dirty:
            self._errors_dirty = False
            value = {
                name: {"error": seen.last_error, "at": seen.last_error_at}
                for name, seen in sorted(self._seen.items())
                if seen.last_error is not None
            }
            try:
                await self._j(self._db.set_state, DEVICE_ERRORS_STATE_KEY, value)
            except (RuntimeError, sqlite3.Error) as exc:  # the journal is closing
                log.warning("staff: the devices' last errors were not saved: %s", exc)
                return

    def _load_errors(self, value: dict[str, Any] | None) -> None:
        for name, entry in (value or {}).items():
            if not isinstance(entry, dict):
                continue
            error, at = entry.get("error"), entry.get("at")
            if isinstance(error, str) and isinstance(at, int | float) and name not in self._seen:
                self._seen[name] = _Seen(last_error=error, last_error_at=float(at))

    def _watch_flow(self, snap: FlowSnapshot) -> None:
        """Every change of the customer flow: note the errors it meets for the dashboard
        (a fault it stops a device for, an error staff must act on, an out-of-service
        reason), with the time it met them, whether or not staff are watching."""
        provider = self.card_provider
        faults = frozenset(snap.faults)
        keys = self.kiosk.flow.faults
        for device in sorted(faults - self._flow_faults):
            self._note_error(_FAULT_ROWS.get(device, device), keys.get(device, f"{device}.fault"))
        self._flow_faults = faults
        info = snap.error
        error = None if info is None or info.who != "staff" else (info.key, info.service)
        if error is not None and error != self._flow_error:
            row = _row_of(error[0], error[1], provider)
            if row is not None:
                self._note_error(row, error[0])
        self._flow_error = error
        reason = snap.out_of_service_reason
        if reason is not None and reason != self._flow_reason and reason != STAFF_OOS_REASON:
            row = _row_of(reason, None, provider)
            if row is not None:
                self._note_error(row, reason)
        self._flow_reason = reason

    async def _print(self, pdf: bytes) -> str | None:
        """Print on the kiosk printer; None when printed, else why not."""
        self._used_session = True
        try:
            await self._tecalis.print_pdf(pdf)
        except ServiceError as exc:
            text = _error_text(exc)
            self._note("printer", False, "print failed", text)
            return text
        return None

    # -- lifecycle -----------------------------------------------------------------------
    async def start(self) -> None:
        """Read the persisted staff out-of-service toggle and apply it to the flow, and
        start noting the errors the flow meets (for the dashboard). Call once, after
        building the service, before customers can use the kiosk; :meth:`stop` at the end."""
        self._oos = await self._j(out_of_service_toggle, self._db)
        if self._oos and not self._in_maintenance:
            log.warning("staff: the kiosk was left out of service by staff")
            self.kiosk.flow.set_out_of_service(STAFF_OOS_REASON)
        self._load_errors(await self._j(self._db.get_state, DEVICE_ERRORS_STATE_KEY))
        self._loop = asyncio.get_running_loop()
        if self._unwatch is None:
            self._unwatch = self.kiosk.flow.on_change(self._watch_flow)

    async def stop(self) -> None:
        """Stop watching the flow; the last errors noted are saved first."""
        if self._unwatch is not None:
            self._unwatch()
            self._unwatch = None
        saving, self._saving = self._saving, None
        if saving is not None:
            await saving
        self._loop = None

    @property
    def session_timeout_s(self) -> float:
        """Seconds without input after which the screens log staff out (config)."""
        return self.kiosk.config.staff.session_timeout_s

    @property
    def in_maintenance(self) -> bool:
        """Staff are in maintenance mode (between enter/login and leave)."""
        return self._in_maintenance

    def can_enter(self) -> bool:
        """May maintenance mode start now? Only while the flow is idle (attract or out
        of service), never during a customer's sale."""
        return self.kiosk.flow.state in _IDLE_STATES

    async def login(self, pin: str) -> PinCheck:
        """Check the PIN (lockout, audit) and, when it is right, :meth:`enter`.

        A right PIN while the flow is not idle is refused with StaffError (nothing
        entered); a wrong one returns the PinCheck to show ("wrong", "locked", ...).
        """
        check = await self.access.check(pin, actor=self.actor)
        if check.ok:
            await self.enter()
        return check

    async def enter(self) -> None:
        """Enter maintenance mode (after a successful PIN check): the flow goes out of
        service (no sale can start) and ``staff.enter`` is audited.

        StaffError when :meth:`can_enter` is False, or when a customer's sale started
        before the flow took the out-of-service request (then nothing changed).
        """
        if self._in_maintenance:
            return
        if not self.can_enter():
            raise StaffError("A customer is using the kiosk: wait until the sale is over.")
        flow = self.kiosk.flow
        flow.set_out_of_service(STAFF_OOS_REASON)
        try:
            if not await self._flow_took_it():
                raise StaffError("A customer started a sale: wait until it is over.")
            await self._audit("staff.enter")
        except BaseException:  # refused, failed or cancelled (the PIN screen closed)
            flow.set_out_of_service(STAFF_OOS_REASON if self._oos else None)
            raise
        self._in_maintenance = True
        self._used_session = False

    async def _flow_took_it(self) -> bool:
        """Wait until the running flow shows the staff out-of-service screen (it does as
        soon as it reads the request, without device I/O); False when a sale began."""
        flow = self.kiosk.flow
        task = self.kiosk.flow_task
        if task is None or task.done():
            return True  # not running: it applies the reason when it starts
        sub = flow.subscribe()
        try:
            async with asyncio.timeout(ENTER_WAIT_S):
                async for snap in sub:
                    if snap.state not in _IDLE_STATES:
                        return False
                    if (
                        snap.state is State.OUT_OF_SERVICE
                        and snap.out_of_service_reason == STAFF_OOS_REASON
                    ):
                        return True
        except TimeoutError:
            log.warning("staff: the flow did not show the out-of-service screen in time")
            return flow.state in _IDLE_STATES
        finally:
            sub.close()
        return flow.state in _IDLE_STATES

    async def leave(self, *, reason: LeaveReason) -> None:
        """Leave maintenance mode ("logout", "timeout"; "restart", "quit", "shutdown"
        when the app stops): closes a hardware session staff actions opened, audits
        ``staff.leave``. Logging out or timing out restores the staff out-of-service
        toggle's state; when the app stops the kiosk stays out of service until it
        exits (the persisted toggle is not changed: the next start applies it).
        Safe to call when not in it."""
        if not self._in_maintenance:
            return
        self._in_maintenance = False
        if self._used_session:
            self._used_session = False
            try:
                await self._tecalis.close_session()
            except ServiceError as exc:
                log.info("staff: closing the hardware session failed: %s", exc)
        if reason not in APP_EXIT_REASONS:
            self.kiosk.flow.set_out_of_service(STAFF_OOS_REASON if self._oos else None)
        await self._audit("staff.leave", {"reason": reason})

    # -- device dashboard ---------------------------------------------------------------
    async def dashboard(self) -> list[DeviceHealthRow]:
        """Live health of every device and API (asks the kiosk API for its devices'
        status; services report their last answer and last error)."""
        devices = self.kiosk.devices
        faults = self.flow_faults()
        rows: list[DeviceHealthRow] = []
        api = devices.tecalis.health
        try:
            status = await devices.tecalis.kiosk_status()
            words = {k.strip().lower(): v.strip() for k, v in status.devices.items()}
            api_summary = "answering"
        except ServiceError as exc:
            words = {}
            api_summary = f"not answering: {_error_text(exc)}"
        api_row = self._health_row("kiosk_api", "Kiosk hardware API (Tecalis)", api, api_summary)
        if not words:  # whatever the client's health says, the status could not be read
            api_row = replace(api_row, ok=False)
        rows.append(api_row)
        for name, label in _DEVICE_LABELS.items():
            word = words.get(name)
            if word is None and name == "dispenser" and words:
                # The vendor's kiosk status has no dispenser: its own status says (as
                # the flow asks it).
                await self._read_dispenser()
            elif word is None:
                if words:
                    self._note(name, False, "not reported by the kiosk", "not reported")
                # else: the API did not answer; keep what was seen last
            else:
                low = word.lower()
                bad = any(w in low for w in _BAD_WORDS)
                self._note(name, not bad, word, word if bad else None)
            seen = self._seen.setdefault(name, _Seen())
            ok, summary = seen.ok, seen.summary
            if not words:
                ok, summary = None, f"unknown (the kiosk API did not answer); last: {summary}"
            fault = faults.get(name)
            if fault is not None:
                ok, summary = False, f"{summary}; stopped by the kiosk: {fault}"
            rows.append(
                DeviceHealthRow(
                    name, label, ok, summary, seen.last_error, seen.last_error_at, seen.last_ok_at
                )
            )
        rows.append(
            self._health_row("cardapi", "Cashback card API (CardAPI)", devices.cardapi.health)
        )
        provider = self.card_provider
        if devices.card is not None and provider in _SERVICE_LABELS:
            rows.append(
                self._health_row(provider, _SERVICE_LABELS[provider], devices.card.health())
            )
        if devices.serial is not None:
            h = devices.serial.health
            rows.append(
                DeviceHealthRow(
                    "serial_reader",
                    "Card reader (serial)",
                    h.state == "connected",
                    f"{h.state}, {h.codes_read} code(s) read",
                    h.last_error,
                    h.last_error_at,
                    h.since if h.state == "connected" else None,
                )
            )
        for name, key in sorted(faults.items()):
            if name not in _DEVICE_LABELS:
                rows.append(DeviceHealthRow(name, name, False, f"stopped by the kiosk: {key}"))
        return rows

    def _health_row(
        self, name: str, label: str, h: ServiceHealth, summary: str | None = None
    ) -> DeviceHealthRow:
        """A service's row from its client's health; the last error is the later of
        the client's and the one noted here (what the flow met, kept across restarts)."""
        if summary is None:
            summary = {True: "answering", False: "failing", None: "not used yet"}[h.ok]
        error, error_at = h.last_error, h.last_error_at
        seen = self._seen.get(name)
        seen_at = None if seen is None else seen.last_error_at
        if seen is not None and seen_at is not None and (error_at is None or seen_at > error_at):
            error, error_at = seen.last_error, seen_at
        return DeviceHealthRow(name, label, h.ok, summary, error, error_at, h.last_ok_at)

    def flow_faults(self) -> dict[str, str]:
        """Devices the flow stopped using until staff clear them: device → message key."""
        return dict(self.kiosk.flow.faults)

    async def clear_fault(self, device: str) -> ActionResult:
        """Staff fixed ``device`` (a key of :meth:`flow_faults`): the flow uses it again."""
        faults = self.flow_faults()
        if device not in faults:
            return ActionResult(True, f"The kiosk had not stopped using the {device}.")
        self.kiosk.flow.clear_fault(device)
        await self._audit("device.clear_fault", {"device": device, "fault": faults[device]})
        return ActionResult(True, f"The kiosk uses the {device} again.")

    # -- cash box -----------------------------------------------------------------------
    async def cash_box(self) -> CashBoxView:
        """Notes by denomination and total since the last collection."""
        return await self._j(cash_box_view, self._db, self._currency)

    async def collect(self) -> CollectionResult:
        """Record that staff emptied the cash box and print the collection slip.

        The collection is recorded first (journal, audited ``cash.collect``); a printer
        failure then only means ``slip_printed`` is False. Collecting an empty box is
        allowed (it records a zero collection)."""
        async with self._busy:
            db = self._db
            collection_id, box = await self._j(
                db.record_collection, actor=self.actor, currency=self._currency
            )
            at = self.kiosk.clock.time()
            view = box_view(box)
            rendered = await asyncio.to_thread(
                collection_slip,
                merchant=self._merchant(),
                kiosk_id=self.kiosk.config.kiosk.id,
                at=at,
                collected_by=self.actor,
                notes=box.by_note,
                currency=box.currency,
                since=box.since,
                collection_id=collection_id,
            )
            error = await self._print(rendered.pdf)
            await self._audit(
                "cash.collection_slip",
                {"collection_id": collection_id, "printed": error is None, "printer_error": error},
            )
            return CollectionResult(
                collection_id, at, view, rendered.pdf, rendered.lines, error is None, error
            )

    # -- card hopper --------------------------------------------------------------------
    async def hopper(self) -> HopperView:
        """The card hopper's level and state (dispenser status) and the last refill."""
        refill = await self._j(last_refill, self._db)
        st = await self._read_dispenser()
        if isinstance(st, str):
            return HopperView(None, False, False, False, "unknown", None, (), refill, st)
        return HopperView(
            st.hopper_count,
            st.hopper_empty,
            st.hopper_low,
            st.jammed,
            st.card_position,
            st.reject_bin,
            st.errors,
            refill,
        )

    async def _read_dispenser(self) -> DispenserStatus | str:
        """The dispenser's status (noted for the dashboard), or why it could not be read."""
        try:
            st = await self._tecalis.dispenser_status()
        except ServiceError as exc:
            text = _error_text(exc)
            self._note("dispenser", False, "status unavailable", text)
            return text
        usable, summary = _dispenser_summary(st)
        self._note("dispenser", usable, summary, None if usable else summary)
        return st

    async def record_refill(self, cards: int) -> None:
        """Staff put ``cards`` cards (1..10000) into the hopper: recorded in the journal
        (audited ``hopper.refill``). StaffError for a count out of range."""
        if isinstance(cards, bool) or not isinstance(cards, int):
            raise StaffError("Enter the number of cards put in, as a whole number.")
        if not 1 <= cards <= MAX_REFILL:
            raise StaffError(f"The number of cards must be between 1 and {MAX_REFILL}.")
        at = self.kiosk.clock.time()
        value = {"cards": cards, "at": at, "actor": self.actor}
        await self._j(
            self._db.set_state,
            REFILL_STATE_KEY,
            value,
            audit=(self.actor, "hopper.refill", {"cards": cards}),
        )

    async def test_dispense(self) -> ActionResult:
        """Prepare one card, read its barcode, then discard it into the reject bin
        (per the Tecalis contract: prepare, then read, dispense or discard). No card
        leaves the kiosk; it lands in the reject bin. Audited ``hopper.test_dispense``."""
        async with self._busy:
            tec = self._tecalis
            self._used_session = True
            step = "prepare"
            barcode: str | None = None
            barcode_error: str | None = None
            try:
                await tec.prepare_card()
                step = "read"
                try:
                    barcode = await tec.read_barcode()
                except ServiceError as exc:
                    barcode_error = _error_text(exc)
                step = "discard"
                await tec.discard_card()
            except ServiceError as exc:
                text = _error_text(exc)
                self._note("dispenser", False, f"test {step} failed", text)
                await self._audit(
                    "hopper.test_dispense", {"ok": False, "step": step, "error": text}
                )
                return ActionResult(False, f"Test dispense failed at {step}: {text}")
            shown = f"…{barcode[-4:]}" if barcode else None
            await self._audit(
                "hopper.test_dispense",
                {"ok": barcode_error is None, "barcode_end": shown, "barcode_error": barcode_error},
            )
            if barcode_error is not None:
                return ActionResult(
                    False,
                    "A card moved and went to the reject bin, but its "
                    f"barcode could not be read: {barcode_error}",
                )
            self._note("dispenser", True, "test dispense ok")
            return ActionResult(
                True,
                f"A card (barcode ending {shown}) was prepared, read and "
                "dropped into the reject bin.",
            )

    # -- printer ------------------------------------------------------------------------
    async def printer(self) -> PrinterView:
        """The printer's status (online, paper, errors)."""
        try:
            st = await self._tecalis.printer_status()
        except ServiceError as exc:
            text = _error_text(exc)
            self._note("printer", False, "status unavailable", text)
            return PrinterView(None, "unknown", False, (), text)
        summary = f"paper {st.paper}" if st.online else "offline"
        self._note("printer", st.can_print, summary, None if st.can_print else summary)
        return PrinterView(st.online, st.paper, st.can_print, st.errors)

    async def test_print(self) -> ActionResult:
        """Print a test page (kiosk id, time, a ruler, all characters). Audited."""
        async with self._busy:
            rendered = await asyncio.to_thread(
                test_page,
                merchant=self._merchant(),
                kiosk_id=self.kiosk.config.kiosk.id,
                at=self.kiosk.clock.time(),
            )
            error = await self._print(rendered.pdf)
            await self._audit("printer.test_page", {"ok": error is None, "error": error})
            if error is not None:
                return ActionResult(False, f"The test page did not print: {error}")
            self._note("printer", True, "test page printed")
            return ActionResult(True, "Test page printed.")

    # -- scanner ------------------------------------------------------------------------
    async def test_scan(self) -> ScanResult:
        """Scan whatever is on the scanner; the image (JPEG) or why it failed. Audited."""
        async with self._busy:
            self._used_session = True
            try:
                image = await self._tecalis.scan()
            except ServiceError as exc:
                text = _error_text(exc)
                self._note("scanner", False, "test scan failed", text)
                await self._audit("scanner.test_scan", {"ok": False, "error": text})
                return ScanResult(False, error=text)
            self._note("scanner", True, "test scan ok")
            await self._audit(
                "scanner.test_scan", {"ok": True, "width": image.width, "height": image.height}
            )
            return ScanResult(True, image.jpeg, "image/jpeg", image.width, image.height)

    # -- card terminal ------------------------------------------------------------------
    @property
    def card_provider(self) -> str:
        """The configured card terminal: tpv, kinetic, komoju, payjunction or none."""
        return self.kiosk.config.payments.card_provider

    def end_of_day_supported(self) -> bool:
        """Does the card terminal have an end-of-day reconciliation (Kinetic only)?"""
        return isinstance(self.kiosk.devices.card, KineticPayment)

    async def terminal_ping(self) -> ActionResult:
        """Is the card terminal answering? Audited ``terminal.ping``."""
        result = await self._ping()
        await self._audit("terminal.ping", {"provider": self.card_provider, "ok": result.ok})
        return result

    async def _ping(self) -> ActionResult:
        card = self.kiosk.devices.card
        provider = self.card_provider
        name = _PROVIDER_NAMES.get(provider, provider)
        if card is None:
            return ActionResult(False, "No card terminal is configured.")
        try:
            if isinstance(card, KineticPayment):
                if not await card.client.ping():
                    return ActionResult(False, "Kinetic answered the ping but not with yes.")
                if not await card.client.check_health():
                    return ActionResult(
                        False,
                        "Kinetic answers, but refused the credentials: "
                        f"{card.client.health.last_error}",
                    )
                return ActionResult(True, "Kinetic terminal answering.")
            if provider == "tpv":
                status = await self._tecalis.kiosk_status()
                word = {k.lower(): v for k, v in status.devices.items()}.get("tpv", "not reported")
                ok = word.strip().lower() not in ("offline", "not reported")
                self._note("tpv", ok, word, None if ok else word)
                return ActionResult(ok, f"PIN pad: {word}.")
        except ServiceError as exc:
            return ActionResult(False, f"{name} is not answering: {_error_text(exc)}")
        h = card.health()
        when = format_time(h.last_ok_at) if h.last_ok_at else "never"
        if h.ok is False:
            return ActionResult(
                False,
                f"{name} has no ping; its last request failed: "
                f"{h.last_error} ({format_time(h.last_error_at)}).",
            )
        return ActionResult(h.ok is True, f"{name} has no ping; last good answer: {when}.")

    async def end_of_day(self) -> EndOfDayResult:
        """End-of-day reconciliation with its receipt where the provider supports it
        (Kinetic); prints the end-of-day slip. Audited ``terminal.end_of_day``."""
        provider = self.card_provider
        card = self.kiosk.devices.card
        if not isinstance(card, KineticPayment):
            name = _PROVIDER_NAMES.get(provider, provider)
            return EndOfDayResult(
                False, False, provider, f"End-of-day reconciliation is not supported by {name}."
            )
        async with self._busy:
            try:
                rec = await card.reconcile()
            except ServiceError as exc:
                text = _error_text(exc)
                await self._audit(
                    "terminal.end_of_day", {"provider": provider, "ok": False, "error": text}
                )
                return EndOfDayResult(True, False, provider, f"The reconciliation failed: {text}")
            ok = rec.transaction.result == "approved"
            lines = tuple(scrub_card_numbers(line) for line in rec.receipt.lines)
            at = self.kiosk.clock.time()
            summary = await self._j(day_summary, self._db, self._currency, at)
            rendered = await asyncio.to_thread(
                end_of_day_slip,
                merchant=self._merchant(),
                kiosk_id=self.kiosk.config.kiosk.id,
                at=at,
                business_date=summary.business_date,
                totals=summary.totals,
                sales_completed=summary.completed,
                sales_cancelled=summary.cancelled,
                sales_flagged=summary.flagged,
                reconciliation_instructions=tuple(rec.receipt.to_json()),
            )
            error = await self._print(rendered.pdf)
            await self._audit(
                "terminal.end_of_day",
                {
                    "provider": provider,
                    "ok": ok,
                    "transaction_id": rec.transaction.id,
                    "result": rec.transaction.result,
                    "printed": error is None,
                    "printer_error": error,
                },
            )
            result_text = rec.transaction.result or "no result"
            message = (
                f"Reconciliation {result_text}."
                if ok
                else (f"The terminal did not approve the reconciliation ({result_text}).")
            )
            message += " Slip printed." if error is None else f" The slip did not print: {error}"
            return EndOfDayResult(
                True,
                ok,
                provider,
                message,
                lines,
                rendered.pdf,
                rendered.lines,
                error is None,
                error,
            )

    # -- incidents ----------------------------------------------------------------------
    async def incidents(self, *, open_only: bool = True, limit: int = 200) -> list[IncidentView]:
        """Incidents, newest first."""
        return await self._j(incident_views, self._db, open_only=open_only, limit=limit)

    async def resolve(self, incident_id: int, note: str) -> IncidentView:
        """Resolve an open incident with a non-empty note (audited ``incident.resolve``).
        StaffError / NoSuchRecord / AlreadyResolved as :func:`resolve_incident`."""
        return await self._j(resolve_incident, self._db, incident_id, note, actor=self.actor)

    async def resolve_flagged_sale(self, sale_id: str, note: str) -> IncidentView:
        """Resolve a flagged sale that has no incident (an :class:`IncidentView` with
        ``id`` None) with a note; see :func:`resolve_flagged_sale`."""
        return await self._j(resolve_flagged_sale, self._db, sale_id, note, actor=self.actor)

    # -- sales --------------------------------------------------------------------------
    async def sales(self, search: str | None = None, limit: int = 50) -> list[SaleView]:
        """Recent sales, newest first; ``search``: sale id prefix."""
        return await self._j(sale_views, self._db, search, limit)

    async def sale_detail(self, sale_id: str) -> SaleDetail:
        """One sale with payments, effects and incidents; NoSuchRecord if unknown."""
        return await self._j(sale_detail_view, self._db, sale_id)

    # -- out of service -----------------------------------------------------------------
    def out_of_service(self) -> bool:
        """The staff out-of-service toggle (persisted; applied when staff leave)."""
        return self._oos

    async def set_out_of_service(self, on: bool) -> None:
        """Turn the staff out-of-service toggle on/off (persisted, audited
        ``kiosk.out_of_service``). While in maintenance mode the kiosk stays out of
        service anyway; the toggle decides what customers see after :meth:`leave`."""
        on = bool(on)
        await self._j(
            self._db.set_state,
            OOS_STATE_KEY,
            {"on": on},
            audit=(self.actor, "kiosk.out_of_service", {"on": on}),
        )
        self._oos = on
        if not self._in_maintenance:
            self.kiosk.flow.set_out_of_service(STAFF_OOS_REASON if on else None)

    # -- device restarts ----------------------------------------------------------------
    def restartable_devices(self) -> list[str]:
        """Devices the Tecalis integrator API can power-cycle: printer, dispenser, scanner."""
        return list(RESTARTABLE)

    async def restart_device(self, name: str) -> ActionResult:
        """Power-cycle ``name`` (one of :meth:`restartable_devices`). Audited
        ``device.restart``. StaffError for a name that is not restartable."""
        device = next((d for d in RESTARTABLE if d == name), None)
        if device is None:
            raise StaffError(f"Cannot restart {name!r}: only {', '.join(RESTARTABLE)}.")
        async with self._busy:
            try:
                await self._tecalis.restart_device(device)
            except ServiceError as exc:
                text = _error_text(exc)
                self._note(device, False, "restart failed", text)
                await self._audit("device.restart", {"device": device, "ok": False, "error": text})
                return ActionResult(False, f"The {device} restart failed: {text}")
            await self._audit("device.restart", {"device": device, "ok": True})
            return ActionResult(True, f"The {device} was restarted.")

    # -- app ----------------------------------------------------------------------------
    async def record_app_exit(self, kind: Literal["restart", "quit"]) -> None:
        """Audit that staff asked to restart or quit the app (before the window exits)."""
        await self._audit(f"app.{kind}")

    def about(self) -> About:
        """Version, kiosk id, config path, journal path."""
        cfg = self.kiosk.config
        return About(
            __version__,
            cfg.kiosk.id,
            self.config_path,
            cfg.journal.path,
            SCHEMA_VERSION,
            cfg.payments.card_provider,
            cfg.kiosk.currency,
        )

    async def audit_log(self, limit: int = 200) -> list[AuditRow]:
        """The audit log, newest first."""
        return await self._j(self._db.audit, limit=max(1, min(int(limit), 10_000)))


# -- the day's totals (end-of-day slip) ---------------------------------------------------------


@dataclass(frozen=True)
class DaySummary:
    business_date: date
    totals: tuple[MethodTotal, ...]
    completed: int
    cancelled: int
    flagged: int


def day_summary(db: JournalDB, currency: str, at: float) -> DaySummary:
    """The local day of ``at``: money taken by method, and sales by outcome."""
    moment = local_time(at)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    day_sales = db.sales_between(start.timestamp(), at + 1)
    by_method: dict[str, tuple[int, int]] = {}
    completed = cancelled = flagged = 0
    for sale in day_sales:
        completed += sale.status == "completed"
        cancelled += sale.status in ("cancelled", "compensated")
        flagged += sale.status == "flagged"
        for p in db.payments(sale.sale_id):
            if p.taken.minor and p.taken.currency == currency:
                count, total = by_method.get(p.method, (0, 0))
                by_method[p.method] = (count + 1, total + p.taken.minor)
    totals = tuple(
        MethodTotal("cash" if m == "cash" else "card", n, Money(t, currency))
        for m, (n, t) in sorted(by_method.items(), key=lambda kv: kv[0] != "cash")
    )
    return DaySummary(start.date(), totals, completed, cancelled, flagged)


_IDLE_STATES = (State.ATTRACT, State.OUT_OF_SERVICE)
ENTER_WAIT_S = 5.0


__all__ = [
    "DEVICE_ERRORS_STATE_KEY",
    "FLAGGED_SALE_KIND",
    "INCIDENT_FIELD_KEYS",
    "SCREEN_ACTOR",
    "STAFF_OOS_REASON",
    "About",
    "ActionResult",
    "AlreadyResolved",
    "AuditRow",
    "CashBoxView",
    "CashCheck",
    "CollectionResult",
    "DaySummary",
    "DeviceHealthRow",
    "EffectLine",
    "EndOfDayResult",
    "HopperView",
    "IncidentView",
    "NoSuchRecord",
    "NoteLine",
    "PaymentLine",
    "PinCheck",
    "PrinterView",
    "RefillRecord",
    "SaleDetail",
    "SaleView",
    "ScanResult",
    "StaffError",
    "StaffService",
    "box_view",
    "card_payment",
    "cash_box_view",
    "cash_check",
    "cashback_debited",
    "day_summary",
    "flagged_without_incident",
    "format_time",
    "incident_view",
    "incident_views",
    "last_refill",
    "money_taken",
    "out_of_service_toggle",
    "resolve_flagged_sale",
    "resolve_incident",
    "sale_detail_view",
    "sale_views",
    "unresolved_flagged_sales",
]
