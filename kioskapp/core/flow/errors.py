"""The one place that turns an error into what the customer sees: a message key and
who must act: the customer (say so in their language), nobody (cancelled), staff.

- customer: the customer can fix it (card not found, card unreadable, declined);
  say so in their language.
- staff: the kiosk or a service needs attention (device jammed or offline, a
  service unreachable, credentials refused, an answer we cannot read, a bug);
  the customer is told the kiosk cannot do it now, staff see ``service``.
- nobody: nothing to say (a cancel).

The flow never shows ``str(exc)``: messages of vendor errors are for logs.
Keys are stable identifiers the UI translates; adding a key means adding its
translations.
"""

from __future__ import annotations

import asyncio

from kioskapp.core.flow.model import ErrorInfo, WhoActs
from kioskapp.devices import cardapi, kinetic, komoju, payjunction, tecalis
from kioskapp.devices.errors import (
    ApiError,
    AuthError,
    ProtocolError,
    ServiceError,
    ServiceUnavailable,
)
from kioskapp.devices.serial_reader import ReaderStopped
from kioskapp.devices.tracks import TrackParseError

#: Exact error classes → key and who acts. Looked up along the class's MRO, so a
#: subclass falls back to its parent's entry.
_BY_CLASS: dict[type[BaseException], tuple[str, WhoActs]] = {
    # CardAPI: the customer's card
    cardapi.PassNotFound: ("card.not_found", "customer"),
    cardapi.PassExpired: ("card.expired", "customer"),
    cardapi.NotCashbackPass: ("card.not_usable", "customer"),
    cardapi.CurrencyMismatch: ("card.not_usable", "customer"),
    cardapi.InsufficientBalance: ("card.insufficient_balance", "customer"),
    cardapi.PassNotDebitable: ("card.not_usable", "customer"),
    cardapi.DebitOutcomeUnknown: ("cashback.debit_unknown", "staff"),
    cardapi.CardTokenError: ("service.credentials", "staff"),
    cardapi.UnauthorizedAccess: ("service.credentials", "staff"),
    cardapi.InvalidPath: ("service.misconfigured", "staff"),
    cardapi.InvalidParameter: ("cashback.refused", "staff"),
    # Tecalis hardware
    tecalis.HopperEmpty: ("dispenser.empty", "staff"),
    tecalis.DispenserJammed: ("dispenser.jammed", "staff"),
    tecalis.NoCardPrepared: ("dispenser.fault", "staff"),
    tecalis.CardAlreadyPrepared: ("dispenser.fault", "staff"),
    tecalis.BarcodeUnreadable: ("dispenser.barcode_unreadable", "staff"),
    tecalis.PaperOut: ("printer.paper_out", "staff"),
    tecalis.BillReaderJammed: ("bill_reader.jammed", "staff"),
    tecalis.CashBoxFull: ("bill_reader.full", "staff"),
    tecalis.BillReaderClosed: ("bill_reader.fault", "staff"),
    tecalis.NoNoteInEscrow: ("bill_reader.fault", "staff"),
    tecalis.TpvBusy: ("terminal.busy", "staff"),
    tecalis.TpvNotCancellable: ("payment.not_cancellable", "customer"),
    tecalis.SessionAlreadyOpen: ("kiosk.session_unavailable", "staff"),
    tecalis.NoSession: ("kiosk.session_lost", "staff"),
    # card terminals
    payjunction.TerminalBusy: ("terminal.busy", "staff"),
    payjunction.TerminalNotConnected: ("terminal.offline", "staff"),
    payjunction.ReadUnfinished: ("card.read_failed", "customer"),
    kinetic.TransactionInProgress: ("terminal.busy", "staff"),
    komoju.TerminalRequestRefused: ("terminal.refused", "staff"),
    # the serial card reader and card tracks
    ReaderStopped: ("card_reader.offline", "staff"),
    TrackParseError: ("card.unreadable", "customer"),
    # generic families, last resort per kind
    AuthError: ("service.credentials", "staff"),
    ServiceUnavailable: ("service.unreachable", "staff"),
    ProtocolError: ("service.bad_answer", "staff"),
    ApiError: ("service.error", "staff"),
    ServiceError: ("service.error", "staff"),
    asyncio.CancelledError: ("cancelled", "nobody"),
}

#: Tecalis "device offline" errors carry the device in their code.
_OFFLINE_CODES: dict[str, str] = {
    "scanner_offline": "scanner.offline",
    "printer_offline": "printer.offline",
    "dispenser_offline": "dispenser.offline",
    "bill_reader_offline": "bill_reader.offline",
    "tpv_offline": "terminal.offline",
}


def describe(exc: BaseException) -> ErrorInfo:
    """What to show for ``exc``: a message key and who must act (never its text)."""
    service = exc.service if isinstance(exc, ServiceError) else None
    if isinstance(exc, tecalis.DeviceOffline | ServiceUnavailable) and exc.code:
        key = _OFFLINE_CODES.get(exc.code)
        if key is not None:
            return ErrorInfo(key, "staff", service)
    if isinstance(exc, tecalis.DeviceOffline):
        return ErrorInfo("device.offline", "staff", service)
    for cls in type(exc).__mro__:
        entry = _BY_CLASS.get(cls)
        if entry is not None:
            key, who = entry
            return ErrorInfo(key, who, service)
    # Not a service error: a bug. The journal stays consistent; staff are told.
    return ErrorInfo("internal_error", "staff", service)


__all__ = ["describe"]
