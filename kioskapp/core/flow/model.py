"""What the customer flow shows and what it is told: states, intents and the snapshot.

The UI (issue 5) renders :class:`FlowSnapshot` and sends the intents below to
:meth:`Flow.submit <kioskapp.core.flow.engine.Flow.submit>`; it never calls a
device. Everything here is plain data (frozen dataclasses), safe to hand to
another thread and to compare in tests.

Texts are never in the snapshot: ``notice``, ``error``, ``note`` and
``out_of_service_reason`` carry stable message *keys* (e.g.
``"card.not_found"``, ``"note_returned.exceeds_amount_due"``) that the UI
translates; amounts are :class:`~kioskapp.core.money.Money` for the UI to
format in the customer's language. Card numbers appear only masked.

Intents valid in each state (anything else is ignored, with a debug log):

================  ==============================================================
ATTRACT           Start
CHOOSING          ChooseProduct, Cancel (Back = Cancel)
IDENTIFYING       HaveCard, EnterCardNumber, CardCodeScanned, ReadCardOnTerminal,
                  UseCashback (once a card is found), SkipCard, Back (one step
                  back; from the first step back to CHOOSING), Cancel
ID_SCAN           Cancel
ID_CONFIRM        ConfirmId, Back (= scan again), Cancel
PAYMENT_CHOICE    PayWith, Cancel
PAYING            Cancel (while the payment is cancellable), PayWith (cash →
                  card: the notes taken stay, the card pays the rest)
THANK_YOU, ERROR  Finish
every state       SetLanguage, SetHighContrast, SetLargeText; MoreTime while
                  an idle warning shows
================  ==============================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from kioskapp.core.money import Money
from kioskapp.payments.base import PaymentStatus


class State(StrEnum):
    """One screen of the journey; each is persisted as the sale's ``state`` in the journal."""

    ATTRACT = "attract"
    OUT_OF_SERVICE = "out_of_service"
    STARTING = "starting"
    CHOOSING = "choosing"
    IDENTIFYING = "identifying"  # the customer identifies a cashback card they own (optional)
    ID_SCAN = "id_scan"
    ID_CONFIRM = "id_confirm"
    STAGING_CARD = "staging_card"  # a new card is prepared and looked up before money is taken
    PAYMENT_CHOICE = "payment_choice"
    PAYING = "paying"  # cash or card; mixed = cash, then card for the rest
    DEBITING = "debiting"
    DISPENSING = "dispensing"
    PRINTING = "printing"
    THANK_YOU = "thank_you"
    CANCELLING = "cancelling"  # compensating what was taken
    ERROR = "error"  # what happened and what to do; then back to attract


#: Who must act on an error: the customer (say so), staff (the kiosk needs service),
#: or nobody (e.g. a cancel: say nothing).
WhoActs = Literal["customer", "staff", "nobody"]


@dataclass(frozen=True)
class ErrorInfo:
    """A message key and who must act. ``service`` names the device or API involved (for
    staff screens and logs); ``str(exc)`` is never part of it."""

    key: str
    who: WhoActs
    service: str | None = None


# -- intents --------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """Touch to start (attract screen)."""


@dataclass(frozen=True)
class SetLanguage:
    lang: str


@dataclass(frozen=True)
class SetHighContrast:
    on: bool


@dataclass(frozen=True)
class SetLargeText:
    on: bool


@dataclass(frozen=True)
class ChooseProduct:
    sku: str


@dataclass(frozen=True)
class HaveCard:
    """The customer has a cashback card: show the ways to identify it."""


@dataclass(frozen=True)
class EnterCardNumber:
    """The number typed on the on-screen keypad (CardAPI search mode ``manual``)."""

    digits: str = field(repr=False)


@dataclass(frozen=True)
class CardCodeScanned:
    """A code from the serial card reader; ``kind`` decides the CardAPI search mode."""

    code: str = field(repr=False)
    kind: Literal["barcode", "nfc"]


@dataclass(frozen=True)
class ReadCardOnTerminal:
    """Swipe the card on the PayJunction terminal (magnetic stripe)."""


@dataclass(frozen=True)
class UseCashback:
    """Use the identified card's balance towards the price (up to the price), or not."""

    use: bool


@dataclass(frozen=True)
class SkipCard:
    """Continue without identifying a card."""


@dataclass(frozen=True)
class ConfirmId:
    """The scanned ID image is fine (True) or must be scanned again (False)."""

    ok: bool


@dataclass(frozen=True)
class PayWith:
    """Pay the remaining amount with a payment method offered in ``methods_offered``
    (``"cash"``, or the card provider's name, e.g. ``"tpv"``); ``"card"`` means the
    configured card method."""

    method: str


@dataclass(frozen=True)
class Cancel:
    pass


@dataclass(frozen=True)
class MoreTime:
    pass


@dataclass(frozen=True)
class Back:
    pass


@dataclass(frozen=True)
class Finish:
    """Leave the thank-you or error screen now."""


Intent = (
    Start
    | SetLanguage
    | SetHighContrast
    | SetLargeText
    | ChooseProduct
    | HaveCard
    | EnterCardNumber
    | CardCodeScanned
    | ReadCardOnTerminal
    | UseCashback
    | SkipCard
    | ConfirmId
    | PayWith
    | Cancel
    | MoreTime
    | Back
    | Finish
)

INTENT_TYPES: tuple[type, ...] = (
    Start,
    SetLanguage,
    SetHighContrast,
    SetLargeText,
    ChooseProduct,
    HaveCard,
    EnterCardNumber,
    CardCodeScanned,
    ReadCardOnTerminal,
    UseCashback,
    SkipCard,
    ConfirmId,
    PayWith,
    Cancel,
    MoreTime,
    Back,
    Finish,
)


# -- what the snapshot holds ----------------------------------------------------------


@dataclass(frozen=True)
class CatalogueItem:
    """One product on the choose screen. ``available`` is False when the kiosk cannot
    sell it now (e.g. no card in the dispenser, scanner offline)."""

    sku: str
    name: str
    price: Money
    needs_id_scan: bool
    dispenses_card: bool
    available: bool = True


@dataclass(frozen=True)
class PassView:
    """An identified cashback card: masked number, balance and how much of it can pay
    towards the chosen product (min(balance, price))."""

    masked_number: str
    balance: Money
    usable: Money


#: Steps of IDENTIFYING: ``ask`` (do you have a card?), ``enter`` (type/scan/swipe it),
#: ``searching`` (looking it up), ``reading`` (waiting for the swipe on the terminal),
#: ``found`` (balance shown; use cashback or not).
IdentifyPhase = Literal["ask", "enter", "searching", "reading", "found"]

#: Ways the customer can identify a card on this kiosk.
IdentifyMode = Literal["keypad", "reader", "terminal"]


@dataclass(frozen=True)
class NoteMessage:
    """What just happened to a banknote: ``note_in_escrow``, ``note_accepted`` or
    ``note_returned.<reason>`` (reason: ``exceeds_amount_due``, ``unrecognised``,
    ``timeout``, ``session_ended``, ``unknown``)."""

    key: str
    amount: Money | None


@dataclass(frozen=True)
class IdleWarning:
    """The time-out warning: a visible (and audible) countdown and More time."""

    seconds_left: int
    extensions_left: int


@dataclass(frozen=True)
class OnScreenSlip:
    """A slip the printer could not print (receipt or refund voucher), shown on screen:
    its text lines and the QR code payload(s)."""

    kind: Literal["receipt", "voucher"]
    lines: tuple[str, ...]
    qr: tuple[str, ...]


@dataclass(frozen=True)
class RefundSummary:
    """What a cancelled sale gave back (shown on the ERROR screen): ``returned`` by
    reversal/refund or refund voucher (``vouchers`` of them, printed or on screen), and
    ``kept_for_staff``: money that staff must resolve under an open incident (taken and
    not given back, or notes whose fate is unknown, such as one stuck in a jammed reader)."""

    returned: Money
    vouchers: int
    kept_for_staff: Money


@dataclass(frozen=True)
class FlowSnapshot:
    """Everything the UI needs to draw the current screen. ``seq`` grows with each change."""

    state: State
    seq: int = 0
    language: str = "en"
    languages: tuple[str, ...] = ("en",)
    high_contrast: bool = False
    large_text: bool = False
    # attract / out of service
    out_of_service_reason: str | None = None
    # choosing
    catalogue: tuple[CatalogueItem, ...] = ()
    # the sale
    sale_id: str | None = None
    product: CatalogueItem | None = None
    # identifying a cashback card
    identify_phase: IdentifyPhase | None = None
    identify_modes: tuple[IdentifyMode, ...] = ()
    identified_pass: PassView | None = None
    cashback_used: Money | None = None
    # ID scan
    id_image: bytes | None = field(default=None, repr=False)  # JPEG, only while confirming
    # money: due = price - cashback; remaining = due - paid
    amount_due: Money | None = None
    amount_paid: Money | None = None
    amount_remaining: Money | None = None
    methods_offered: tuple[str, ...] = ()
    payment_method: str | None = None
    payment_status: PaymentStatus | None = None
    note: NoteMessage | None = None
    # messages
    notice: ErrorInfo | None = None  # on the current screen (card not found, declined...)
    error: ErrorInfo | None = None  # the ERROR screen's what happened / who acts
    refund: RefundSummary | None = None  # the ERROR screen: what was given back
    idle_warning: IdleWarning | None = None
    slip_on_screen: OnScreenSlip | None = None
    can_cancel: bool = False
    # devices the flow took out of use until staff clear them (e.g. "dispenser", "printer")
    faults: tuple[str, ...] = ()


__all__ = [
    "INTENT_TYPES",
    "Back",
    "Cancel",
    "CardCodeScanned",
    "CatalogueItem",
    "ChooseProduct",
    "ConfirmId",
    "EnterCardNumber",
    "ErrorInfo",
    "Finish",
    "FlowSnapshot",
    "HaveCard",
    "IdentifyMode",
    "IdentifyPhase",
    "IdleWarning",
    "Intent",
    "MoreTime",
    "NoteMessage",
    "OnScreenSlip",
    "PassView",
    "PayWith",
    "ReadCardOnTerminal",
    "RefundSummary",
    "SetHighContrast",
    "SetLanguage",
    "SetLargeText",
    "SkipCard",
    "Start",
    "State",
    "UseCashback",
    "WhoActs",
]
