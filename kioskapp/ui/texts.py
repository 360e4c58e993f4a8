"""Every word the customer screens show, by key, in English (the translation source).

Screens never hold literal text: they ask :class:`kioskapp.ui.i18n.Texts` for a key.
The flow's message keys (``card.not_found``, ``note_returned.timeout``,
``out_of_service.dispenser_empty``...) are keys here too, so an error reaches the
customer in their language without the flow knowing any words.

The strings are marked with ``QT_TRANSLATE_NOOP`` so that ``pyside6-lupdate``
collects them into ``translations/kiosk_<lang>.ts`` (see ``scripts/translations.py``).
``{name}`` placeholders are filled with :meth:`str.format`; a translation must keep
exactly the same placeholders (a test checks every language).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final


def QT_TRANSLATE_NOOP(context: str, source: str) -> str:
    """Marks ``source`` for ``pyside6-lupdate`` (which looks for this name); returns it."""
    return source


# The one translation context of the customer screens.
CONTEXT: Final = "kiosk"

_TEXTS: dict[str, str] = {
    # chrome on every customer screen
    "chrome.language": QT_TRANSLATE_NOOP("kiosk", "Language"),
    "chrome.high_contrast": QT_TRANSLATE_NOOP("kiosk", "High contrast"),
    "chrome.large_text": QT_TRANSLATE_NOOP("kiosk", "Large text"),
    "chrome.cancel": QT_TRANSLATE_NOOP("kiosk", "Cancel"),
    "chrome.back": QT_TRANSLATE_NOOP("kiosk", "Back"),
    "chrome.please_wait": QT_TRANSLATE_NOOP("kiosk", "Please wait…"),
    "chrome.starting": QT_TRANSLATE_NOOP("kiosk", "The kiosk is starting. One moment, please."),
    # attract
    "attract.title": QT_TRANSLATE_NOOP("kiosk", "Welcome"),
    "attract.subtitle": QT_TRANSLATE_NOOP(
        "kiosk", "Cashback cards, paid by cash or card. Receipt included."
    ),
    "attract.touch": QT_TRANSLATE_NOOP("kiosk", "Touch the screen to start"),
    "attract.start": QT_TRANSLATE_NOOP("kiosk", "Start"),
    "attract.choose_language": QT_TRANSLATE_NOOP("kiosk", "Choose your language"),
    # out of service
    "oos.title": QT_TRANSLATE_NOOP("kiosk", "Out of service"),
    "oos.subtitle": QT_TRANSLATE_NOOP(
        "kiosk", "Sorry, this kiosk cannot serve you right now. Staff have been told."
    ),
    "out_of_service.kiosk_unreachable": QT_TRANSLATE_NOOP(
        "kiosk", "The kiosk hardware is not answering."
    ),
    "out_of_service.no_payment_method": QT_TRANSLATE_NOOP(
        "kiosk", "No way to pay is working at the moment."
    ),
    "out_of_service.nothing_to_sell": QT_TRANSLATE_NOOP(
        "kiosk", "There is nothing this kiosk can sell at the moment."
    ),
    "out_of_service.dispenser_fault": QT_TRANSLATE_NOOP(
        "kiosk", "The card dispenser needs attention."
    ),
    "out_of_service.dispenser_offline": QT_TRANSLATE_NOOP(
        "kiosk", "The card dispenser is not answering."
    ),
    "out_of_service.dispenser_empty": QT_TRANSLATE_NOOP("kiosk", "The card dispenser is empty."),
    "out_of_service.dispenser_jammed": QT_TRANSLATE_NOOP("kiosk", "The card dispenser is jammed."),
    "out_of_service.internal_error": QT_TRANSLATE_NOOP("kiosk", "The kiosk had an internal error."),
    "out_of_service.staff": QT_TRANSLATE_NOOP("kiosk", "The kiosk is being serviced."),
    # starting a sale
    "starting.title": QT_TRANSLATE_NOOP("kiosk", "Getting ready"),
    # choosing a product
    "choosing.title": QT_TRANSLATE_NOOP("kiosk", "What would you like?"),
    "choosing.unavailable": QT_TRANSLATE_NOOP("kiosk", "Not available now"),
    "choosing.needs_id": QT_TRANSLATE_NOOP("kiosk", "ID document needed"),
    "product.unavailable": QT_TRANSLATE_NOOP(
        "kiosk", "That product is not available right now. Please choose another."
    ),
    # identifying a cashback card
    "identify.title": QT_TRANSLATE_NOOP("kiosk", "Your cashback card"),
    "identify.ask": QT_TRANSLATE_NOOP(
        "kiosk", "Do you have a cashback card? Its balance can pay part of the price."
    ),
    "identify.yes": QT_TRANSLATE_NOOP("kiosk", "Yes, use my card"),
    "identify.no": QT_TRANSLATE_NOOP("kiosk", "No, continue"),
    "identify.enter": QT_TRANSLATE_NOOP("kiosk", "Type the number printed on your card"),
    "identify.reader": QT_TRANSLATE_NOOP("kiosk", "or hold your card to the reader"),
    "identify.terminal": QT_TRANSLATE_NOOP("kiosk", "Swipe it on the terminal"),
    "identify.searching": QT_TRANSLATE_NOOP("kiosk", "Looking up your card…"),
    "identify.reading": QT_TRANSLATE_NOOP("kiosk", "Swipe your card on the payment terminal"),
    "identify.found": QT_TRANSLATE_NOOP("kiosk", "Card {number}"),
    "identify.balance": QT_TRANSLATE_NOOP("kiosk", "Balance: {amount}"),
    "identify.usable": QT_TRANSLATE_NOOP("kiosk", "Use {amount} of it for this purchase?"),
    "identify.use": QT_TRANSLATE_NOOP("kiosk", "Use my balance"),
    "identify.dont_use": QT_TRANSLATE_NOOP("kiosk", "Keep my balance"),
    "identify.ok": QT_TRANSLATE_NOOP("kiosk", "OK"),
    "identify.delete": QT_TRANSLATE_NOOP("kiosk", "Delete"),
    "card.not_found": QT_TRANSLATE_NOOP(
        "kiosk", "We could not find that card. Check the number and try again."
    ),
    "card.expired": QT_TRANSLATE_NOOP("kiosk", "That card has expired."),
    "card.not_usable": QT_TRANSLATE_NOOP("kiosk", "That card cannot be used here."),
    "card.insufficient_balance": QT_TRANSLATE_NOOP(
        "kiosk", "The card's balance is not enough for that."
    ),
    "card.number_invalid": QT_TRANSLATE_NOOP(
        "kiosk", "That is not a card number. Please check it and try again."
    ),
    "card.read_cancelled": QT_TRANSLATE_NOOP("kiosk", "No card was read. You can try again."),
    "card.read_failed": QT_TRANSLATE_NOOP("kiosk", "The card could not be read. Try again."),
    "card.unreadable": QT_TRANSLATE_NOOP("kiosk", "The card could not be read. Try again."),
    # ID scan
    "id_scan.title": QT_TRANSLATE_NOOP("kiosk", "Scan your ID document"),
    "id_scan.body": QT_TRANSLATE_NOOP("kiosk", "Place your ID document face down on the scanner."),
    "id_confirm.title": QT_TRANSLATE_NOOP("kiosk", "Is your ID easy to read?"),
    "id_confirm.ok": QT_TRANSLATE_NOOP("kiosk", "Yes, continue"),
    "id_confirm.again": QT_TRANSLATE_NOOP("kiosk", "Scan again"),
    "id.scan_again": QT_TRANSLATE_NOOP("kiosk", "Please scan your ID document again."),
    # staging the new card
    "staging.title": QT_TRANSLATE_NOOP("kiosk", "Preparing your card"),
    "staging.body": QT_TRANSLATE_NOOP("kiosk", "This takes a few seconds."),
    # payment choice
    "pay.title": QT_TRANSLATE_NOOP("kiosk", "How would you like to pay?"),
    "pay.due": QT_TRANSLATE_NOOP("kiosk", "To pay: {amount}"),
    "pay.cashback": QT_TRANSLATE_NOOP("kiosk", "Cashback used: {amount}"),
    "pay.cash": QT_TRANSLATE_NOOP("kiosk", "Cash"),
    "pay.cash_hint": QT_TRANSLATE_NOOP("kiosk", "Banknotes only, no change given"),
    "pay.card": QT_TRANSLATE_NOOP("kiosk", "Card"),
    "pay.card_hint": QT_TRANSLATE_NOOP("kiosk", "Debit or credit card, contactless"),
    "pay.rest_by_card": QT_TRANSLATE_NOOP("kiosk", "Pay the rest by card"),
    # paying by cash
    "cash.title": QT_TRANSLATE_NOOP("kiosk", "Insert your banknotes"),
    "cash.no_change": QT_TRANSLATE_NOOP(
        "kiosk", "This kiosk gives no change: a note larger than the amount left is returned."
    ),
    "cash.due": QT_TRANSLATE_NOOP("kiosk", "Amount due"),
    "cash.inserted": QT_TRANSLATE_NOOP("kiosk", "Inserted"),
    "cash.remaining": QT_TRANSLATE_NOOP("kiosk", "Remaining"),
    "note_in_escrow": QT_TRANSLATE_NOOP("kiosk", "Checking your {amount} note…"),
    "note_accepted": QT_TRANSLATE_NOOP("kiosk", "{amount} accepted. Thank you."),
    "note_uncertain": QT_TRANSLATE_NOOP("kiosk", "Checking your note…"),
    "note_returned.exceeds_amount_due": QT_TRANSLATE_NOOP(
        "kiosk", "{amount} returned: it is more than the amount left. Please take it."
    ),
    "note_returned.unrecognised": QT_TRANSLATE_NOOP(
        "kiosk", "Note returned: it was not recognised. Please take it."
    ),
    "note_returned.rejected": QT_TRANSLATE_NOOP("kiosk", "Note returned. Please take it."),
    "note_returned.timeout": QT_TRANSLATE_NOOP("kiosk", "Note returned. Please take it."),
    "note_returned.session_ended": QT_TRANSLATE_NOOP("kiosk", "Note returned. Please take it."),
    "note_returned.unknown": QT_TRANSLATE_NOOP("kiosk", "Note returned. Please take it."),
    "note_returned.cancelled": QT_TRANSLATE_NOOP("kiosk", "Note returned. Please take it."),
    # paying by card
    "card_pay.title": QT_TRANSLATE_NOOP("kiosk", "Pay by card"),
    "card_pay.amount": QT_TRANSLATE_NOOP("kiosk", "Amount: {amount}"),
    "phase.starting": QT_TRANSLATE_NOOP("kiosk", "Connecting to the card terminal…"),
    "phase.waiting_for_customer": QT_TRANSLATE_NOOP(
        "kiosk", "Present your card on the terminal below the screen."
    ),
    "phase.card_presented": QT_TRANSLATE_NOOP("kiosk", "Card read. One moment…"),
    "phase.pin_entry": QT_TRANSLATE_NOOP("kiosk", "Enter your PIN on the terminal."),
    "phase.processing": QT_TRANSLATE_NOOP(
        "kiosk", "Authorising with your bank. Do not remove your card."
    ),
    "phase.cancelling": QT_TRANSLATE_NOOP("kiosk", "Cancelling the payment…"),
    "phase.finished": QT_TRANSLATE_NOOP("kiosk", "Payment finished."),
    "phase.note_in_escrow": QT_TRANSLATE_NOOP("kiosk", "Checking your note…"),
    "phase.note_accepted": QT_TRANSLATE_NOOP("kiosk", "Note accepted."),
    "phase.note_returned": QT_TRANSLATE_NOOP("kiosk", "Note returned."),
    "payment.declined": QT_TRANSLATE_NOOP(
        "kiosk", "The payment was declined. You can try again or pay another way."
    ),
    "payment.timed_out": QT_TRANSLATE_NOOP(
        "kiosk", "The payment took too long and was stopped. You have not been charged."
    ),
    "payment.cancelled": QT_TRANSLATE_NOOP("kiosk", "The payment was cancelled."),
    "payment.failed": QT_TRANSLATE_NOOP(
        "kiosk", "The payment did not go through. Please try again or pay another way."
    ),
    "payment.not_cancellable": QT_TRANSLATE_NOOP(
        "kiosk", "The payment is being authorised and cannot be cancelled now."
    ),
    # after payment
    "debiting.title": QT_TRANSLATE_NOOP("kiosk", "Using your cashback balance…"),
    "dispensing.title": QT_TRANSLATE_NOOP("kiosk", "Your card is coming out"),
    "dispensing.body": QT_TRANSLATE_NOOP("kiosk", "Please take your card from the slot."),
    "printing.title": QT_TRANSLATE_NOOP("kiosk", "Printing your receipt…"),
    "thanks.title": QT_TRANSLATE_NOOP("kiosk", "Thank you!"),
    "thanks.body": QT_TRANSLATE_NOOP("kiosk", "Please take your card and your receipt."),
    "thanks.finish": QT_TRANSLATE_NOOP("kiosk", "Done"),
    "slip.receipt": QT_TRANSLATE_NOOP(
        "kiosk", "The printer is not working: here is your receipt. Scan the code to keep it."
    ),
    "slip.voucher": QT_TRANSLATE_NOOP(
        "kiosk",
        "The printer is not working: here is your refund voucher. Take a photo of it.",
    ),
    "cancelling.title": QT_TRANSLATE_NOOP("kiosk", "Cancelling…"),
    "cancelling.body": QT_TRANSLATE_NOOP(
        "kiosk", "Anything you paid is being given back. Please wait."
    ),
    # the error screen
    "error.title": QT_TRANSLATE_NOOP("kiosk", "Sorry"),
    "error.customer": QT_TRANSLATE_NOOP("kiosk", "You can start again when you are ready."),
    "error.staff": QT_TRANSLATE_NOOP(
        "kiosk",
        "Please ask a member of staff for help. The kiosk has recorded what happened.",
    ),
    "error.nobody": QT_TRANSLATE_NOOP("kiosk", "Nothing was charged."),
    "error.returned": QT_TRANSLATE_NOOP("kiosk", "Given back: {amount}"),
    "error.vouchers": QT_TRANSLATE_NOOP(
        "kiosk", "Keep your refund voucher: staff will pay it back."
    ),
    "error.kept": QT_TRANSLATE_NOOP(
        "kiosk", "Staff will return {amount} to you. Keep your reference: {sale}"
    ),
    "error.finish": QT_TRANSLATE_NOOP("kiosk", "OK"),
    "sale.cancelled": QT_TRANSLATE_NOOP("kiosk", "Your purchase was cancelled."),
    "refund.voucher_issued": QT_TRANSLATE_NOOP(
        "kiosk", "Your purchase could not be finished. A refund voucher was issued."
    ),
    "refund.staff_will_help": QT_TRANSLATE_NOOP(
        "kiosk", "Your purchase could not be finished and your money could not be returned."
    ),
    "payment.unknown": QT_TRANSLATE_NOOP("kiosk", "We could not confirm your card payment."),
    "payment.cash_unknown": QT_TRANSLATE_NOOP(
        "kiosk",
        "We could not confirm all the notes you inserted. Staff will check the banknote "
        "reader and give back what is yours.",
    ),
    "payment.no_method": QT_TRANSLATE_NOOP("kiosk", "No way to pay is working at the moment."),
    "payment.compensate": QT_TRANSLATE_NOOP("kiosk", "Your payment could not be refunded."),
    "cashback.debit_unknown": QT_TRANSLATE_NOOP(
        "kiosk", "We could not confirm the use of your cashback balance."
    ),
    "cashback.refused": QT_TRANSLATE_NOOP("kiosk", "Your cashback balance could not be used."),
    "kiosk.step_timed_out": QT_TRANSLATE_NOOP("kiosk", "The kiosk took too long to respond."),
    "kiosk.session_unavailable": QT_TRANSLATE_NOOP("kiosk", "The kiosk hardware is busy."),
    "kiosk.session_lost": QT_TRANSLATE_NOOP("kiosk", "The kiosk hardware stopped responding."),
    "internal_error": QT_TRANSLATE_NOOP("kiosk", "The kiosk had an internal error."),
    "cancelled": QT_TRANSLATE_NOOP("kiosk", "Cancelled."),
    "dispenser.empty": QT_TRANSLATE_NOOP("kiosk", "The card dispenser is empty."),
    "dispenser.jammed": QT_TRANSLATE_NOOP("kiosk", "The card dispenser is jammed."),
    "dispenser.fault": QT_TRANSLATE_NOOP("kiosk", "The card dispenser has a fault."),
    "dispenser.offline": QT_TRANSLATE_NOOP("kiosk", "The card dispenser is not answering."),
    "dispenser.barcode_unreadable": QT_TRANSLATE_NOOP("kiosk", "The new card could not be read."),
    "dispenser.out_of_service": QT_TRANSLATE_NOOP("kiosk", "The card dispenser is out of service."),
    "dispenser.unknown": QT_TRANSLATE_NOOP("kiosk", "We could not confirm your card came out."),
    "printer.paper_out": QT_TRANSLATE_NOOP("kiosk", "The printer is out of paper."),
    "printer.offline": QT_TRANSLATE_NOOP("kiosk", "The printer is not answering."),
    "bill_reader.jammed": QT_TRANSLATE_NOOP("kiosk", "The banknote reader is jammed."),
    "bill_reader.full": QT_TRANSLATE_NOOP("kiosk", "The banknote reader is full."),
    "bill_reader.fault": QT_TRANSLATE_NOOP("kiosk", "The banknote reader has a fault."),
    "bill_reader.offline": QT_TRANSLATE_NOOP("kiosk", "The banknote reader is not answering."),
    "scanner.offline": QT_TRANSLATE_NOOP("kiosk", "The ID scanner is not answering."),
    "terminal.busy": QT_TRANSLATE_NOOP("kiosk", "The card terminal is busy."),
    "terminal.offline": QT_TRANSLATE_NOOP("kiosk", "The card terminal is not answering."),
    "terminal.refused": QT_TRANSLATE_NOOP("kiosk", "The card terminal refused the request."),
    "card_reader.offline": QT_TRANSLATE_NOOP("kiosk", "The card reader is not answering."),
    "device.offline": QT_TRANSLATE_NOOP("kiosk", "A device of the kiosk is not answering."),
    "service.credentials": QT_TRANSLATE_NOOP("kiosk", "A service refused the kiosk's access."),
    "service.unreachable": QT_TRANSLATE_NOOP("kiosk", "A service cannot be reached."),
    "service.bad_answer": QT_TRANSLATE_NOOP("kiosk", "A service gave an answer we cannot read."),
    "service.error": QT_TRANSLATE_NOOP("kiosk", "A service reported an error."),
    "service.misconfigured": QT_TRANSLATE_NOOP("kiosk", "The kiosk is not set up correctly."),
    # the idle warning
    "idle.title": QT_TRANSLATE_NOOP("kiosk", "Are you still there?"),
    "idle.body": QT_TRANSLATE_NOOP("kiosk", "This will end in {seconds} seconds."),
    "idle.more_time": QT_TRANSLATE_NOOP("kiosk", "More time"),
    # spoken only
    "speech.remaining": QT_TRANSLATE_NOOP("kiosk", "Remaining: {amount}"),
}

#: key → English source text.
TEXTS: Final[Mapping[str, str]] = MappingProxyType(_TEXTS)

#: The languages' own names, shown on the language buttons (never translated).
LANGUAGE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {"en": "English", "es": "Español", "fr": "Français", "ja": "日本語"}
)

__all__ = ["CONTEXT", "LANGUAGE_NAMES", "TEXTS"]
