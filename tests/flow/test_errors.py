"""describe(): every error becomes a message key and who must act, never its text."""

from __future__ import annotations

import asyncio

import pytest

from kioskapp.core.flow import ErrorInfo, describe
from kioskapp.core.money import Money
from kioskapp.devices import cardapi, payjunction, tecalis
from kioskapp.devices.errors import (
    AuthError,
    ProtocolError,
    ServerError,
    ServiceError,
    ServiceTimeout,
    ServiceUnavailable,
)
from kioskapp.devices.serial_reader import ReaderStopped
from kioskapp.devices.tracks import TrackParseError

SECRET = "4111111111111111 token=abc"  # must never reach the customer


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (cardapi.PassNotFound(SECRET, service="cardapi", status=404, code="CARD-14"),
         ErrorInfo("card.not_found", "customer", "cardapi")),
        (cardapi.PassExpired(SECRET, pass_id="P"), ErrorInfo("card.expired", "customer", "cardapi")),
        (cardapi.NotCashbackPass(SECRET, pass_id="P"),
         ErrorInfo("card.not_usable", "customer", "cardapi")),
        (cardapi.InsufficientBalance(SECRET, pass_id="P", balance=Money(1, "EUR"),
                                     amount=Money(2, "EUR")),
         ErrorInfo("card.insufficient_balance", "customer", "cardapi")),
        (cardapi.DebitOutcomeUnknown(
            SECRET, last_error=ServerError("x", service="cardapi"), ticket_id="t"),
         ErrorInfo("cashback.debit_unknown", "staff", "cardapi")),
        (cardapi.TokenExpired(SECRET, service="cardapi", code="CARD-7"),
         ErrorInfo("service.credentials", "staff", "cardapi")),
        (cardapi.CardApiInternalError(SECRET, service="cardapi", status=500),
         ErrorInfo("service.error", "staff", "cardapi")),
        (tecalis.HopperEmpty(SECRET, service="tecalis", code="hopper_empty"),
         ErrorInfo("dispenser.empty", "staff", "tecalis")),
        (tecalis.DispenserJammed(SECRET, service="tecalis"),
         ErrorInfo("dispenser.jammed", "staff", "tecalis")),
        (tecalis.PaperOut(SECRET, service="tecalis"),
         ErrorInfo("printer.paper_out", "staff", "tecalis")),
        (tecalis.DeviceOffline(SECRET, service="tecalis", status=503, code="scanner_offline"),
         ErrorInfo("scanner.offline", "staff", "tecalis")),
        (tecalis.DeviceOffline(SECRET, service="tecalis", status=503, code="device_offline"),
         ErrorInfo("device.offline", "staff", "tecalis")),
        (tecalis.SessionAlreadyOpen(SECRET, service="tecalis"),
         ErrorInfo("kiosk.session_unavailable", "staff", "tecalis")),
        (payjunction.TerminalNotConnected(SECRET, service="payjunction"),
         ErrorInfo("terminal.offline", "staff", "payjunction")),
        (payjunction.ReadUnfinished(SECRET, service="payjunction"),
         ErrorInfo("card.read_failed", "customer", "payjunction")),
        (TrackParseError(SECRET), ErrorInfo("card.unreadable", "customer")),
        (ReaderStopped(SECRET, service="serial_reader"),
         ErrorInfo("card_reader.offline", "staff", "serial_reader")),
        (ServiceTimeout(SECRET, service="kinetic"),
         ErrorInfo("service.unreachable", "staff", "kinetic")),
        (ServiceUnavailable(SECRET, service="komoju"),
         ErrorInfo("service.unreachable", "staff", "komoju")),
        (ProtocolError(SECRET, service="tecalis"), ErrorInfo("service.bad_answer", "staff", "tecalis")),
        (AuthError(SECRET, service="tecalis", status=401),
         ErrorInfo("service.credentials", "staff", "tecalis")),
        (ServiceError(SECRET, service="x"), ErrorInfo("service.error", "staff", "x")),
        (asyncio.CancelledError(), ErrorInfo("cancelled", "nobody")),
        (KeyError(SECRET), ErrorInfo("internal_error", "staff")),
    ],
)  # fmt: skip
def test_describe(error: BaseException, expected: ErrorInfo) -> None:
    info = describe(error)
    assert info == expected
    assert "4111" not in repr(info)
    assert "token" not in repr(info)
