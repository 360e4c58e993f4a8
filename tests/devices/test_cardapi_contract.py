"""The CardAPI client against the CardAPI simulator, over real loopback HTTP.

Time is the simulator's ControlledClock, shared with the client (pass expiry
follows it); retries back off on that clock with zero delays, so nothing waits
for real seconds except the one slow-answer test (a real network delay).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kioskapp.config import Config
from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money
from kioskapp.devices import cardapi
from kioskapp.devices.cardapi import (
    CardApiClient,
    CardApiInternalError,
    CurrencyMismatch,
    DebitOutcomeUnknown,
    DebitRequest,
    InsufficientBalance,
    InvalidParameter,
    InvalidPath,
    InvalidToken,
    InvalidTokenSignature,
    MissingToken,
    NotCashbackPass,
    PassExpired,
    PassNotFound,
    TokenExpired,
    UnauthorizedAccess,
    parse_pass,
)
from kioskapp.devices.errors import (
    ApiError,
    ProtocolError,
    ServerError,
    ServiceTimeout,
    ServiceUnavailable,
)
from kioskapp.devices.http import NO_RETRY, RetryPolicy
from kioskapp.simulator.control import SimControl, SimControlError
from kioskapp.simulator.framework import SimServer

EUR = "EUR"
TOKEN = "sim-cardapi-token"
FAST = RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0)
FAST_DEBIT = RetryPolicy(attempts=5, base_delay_s=0.0, max_delay_s=0.0)

# Passes of kioskapp/simulator/data/passes.json
ADA = {"id": "P-CB-0654", "nfc": "04A1B2C3D40654", "barcode": "7001000000654"}
RICH = "7001000002500"  # 25.00
CENT = "7001000000001"  # 0.01
EXPIRED = "7001000000999"
ZERO = "7001000000000"
LOYALTY = "7002000000042"
DISPENSED = "8412345678901"  # the Tecalis simulator's first dispenser card


def eur(text: str) -> Money:
    return Money.from_major(text, EUR)


class Tokens:
    """A token source the test can change; counts how often the client asked."""

    def __init__(self, *values: str) -> None:
        self.values = list(values) or [TOKEN]
        self.calls = 0

    async def __call__(self) -> str:
        value = self.values[min(self.calls, len(self.values) - 1)]
        self.calls += 1
        return value


def make_client(sim: SimServer, clock: Any, **kwargs: Any) -> CardApiClient:
    options: dict[str, Any] = {
        "token_provider": Tokens(),
        "point_of_sale_id": 65,
        "device_id": "KIOSK-001",
        "store_id": 1,
        "clock": clock,
        "retry": FAST,
        "debit_retry": FAST_DEBIT,
    }
    options.update(kwargs)
    return CardApiClient(sim.url_for("cardapi"), **options)


@pytest.fixture
async def client(sim: SimServer, clock: ControlledClock) -> AsyncIterator[CardApiClient]:
    async with make_client(sim, clock) as c:
        yield c


@pytest.fixture
async def group_client(sim: SimServer, clock: ControlledClock) -> AsyncIterator[CardApiClient]:
    async with make_client(sim, clock, group_id=1, store_id=None) as c:
        yield c


# -- simulator helpers ---------------------------------------------------------------


async def state(control: SimControl) -> dict[str, Any]:
    return await control.call("GET", "/cardapi/state")


async def sim_balance(control: SimControl, pass_id: str) -> str:
    answer = await control.call("GET", f"/cardapi/passes/{pass_id}")
    return str(answer["pass"]["balance"])


async def ledger(control: SimControl) -> list[dict[str, Any]]:
    return list((await state(control))["ledger"])


async def debit_requests(control: SimControl) -> int:
    return int((await state(control))["requests"]["debit"])


async def next_error(control: SimControl, code: str, **options: Any) -> None:
    await control.call("POST", "/cardapi/next-error", {"code": code, **options})


async def add_pass(control: SimControl, **fields: Any) -> None:
    await control.call("POST", "/cardapi/passes", fields)


def ticket() -> str:
    return str(uuid.uuid4())


# -- search ------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", ["store_pos", "group"])
@pytest.mark.parametrize(
    ("mode", "q"),
    [
        ("nfc", ADA["nfc"]),
        ("nfc", ADA["nfc"].lower()),
        ("barcode", ADA["barcode"]),
        ("manual", ADA["barcode"]),
        ("manual", "7001 0000 00654"),
        ("manual", "sn-000654"),
    ],
)
async def test_search_each_mode_and_scope(
    client: CardApiClient, group_client: CardApiClient, scope: str, mode: Any, q: str
) -> None:
    c = group_client if scope == "group" else client
    p = await c.search(mode, q)
    assert p.id == ADA["id"]
    assert p.type == "CASHBACK"
    assert p.balance == Money(654, EUR)
    assert p.service_id == 3
    assert p.payment_method_id == 2
    assert p.expiration_date == datetime(2050, 8, 24, 14, 15, 22, tzinfo=UTC)
    assert (p.number, p.nfc_number, p.serial_number) == (
        "7001000000654",
        "04A1B2C3D40654",
        "SN-000654",
    )
    assert p.consumer is not None
    assert (p.consumer.id, p.consumer.given_name, p.consumer.family_name) == (
        7,
        "Ada",
        "Lovelace",
    )
    assert c.health.ok is True


def test_search_query_shapes() -> None:
    by_store = CardApiClient(
        "http://x", token_provider=Tokens(), point_of_sale_id=65, device_id="K", store_id=1
    )
    by_group = CardApiClient(
        "http://x", token_provider=Tokens(), point_of_sale_id=65, device_id="K", group_id=4,
        store_id=1,
    )  # fmt: skip
    assert by_store.search_params("nfc", " 04AB ") == {
        "search_mode": "nfc",
        "q": "04AB",
        "store_id": "1",
        "point_of_sale_id": "65",
    }
    assert by_group.search_params("barcode", "84") == {
        "search_mode": "barcode",
        "q": "84",
        "group_id": "4",
    }
    with pytest.raises(ValueError, match="search mode"):
        by_store.search_params("qr", "84")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty"):
        by_store.search_params("manual", "  ")
    with pytest.raises(ValueError, match="group_id"):
        CardApiClient("http://x", token_provider=Tokens(), point_of_sale_id=65, device_id="K")


async def test_dispensed_card_is_a_new_empty_pass(client: CardApiClient) -> None:
    for n in range(1, 11):
        p = await client.search("barcode", f"84123456789{n:02d}")
        assert p.balance == Money(0, EUR)
        assert p.consumer is None
        assert p.can_debit(client.clock.time())


async def test_every_card_of_the_kiosk_stock_is_a_new_pass(client: CardApiClient) -> None:
    # Beyond the fixture's ten: the whole hopper (and refills) of the dispenser's stock.
    p = await client.search("barcode", "8412345678950")
    assert (p.balance, p.consumer) == (Money(0, EUR), None)
    again = await client.search("barcode", "8412345678950")
    assert again.id == p.id
    for not_stock in ("841234567895", "9412345678950", "84123456789AB"):
        with pytest.raises(PassNotFound):
            await client.search("barcode", not_stock)
    with pytest.raises(PassNotFound):  # stock cards are found by their barcode only
        await client.search("nfc", "8412345678951")


async def test_unknown_card_is_pass_not_found(
    client: CardApiClient, sim_control: SimControl
) -> None:
    with pytest.raises(PassNotFound) as info:
        await client.search("barcode", "0000000000000")
    assert (info.value.status, info.value.code) == (404, "CARD-14")
    # The card's mode matters: an NFC number is not a barcode.
    with pytest.raises(PassNotFound):
        await client.search("barcode", ADA["nfc"])
    assert client.health.ok is True  # the service answered
    assert (await state(sim_control))["requests"]["search"] == 2  # a 404 is not retried


async def test_foreign_group_or_point_of_sale_is_unauthorized(
    sim: SimServer, clock: ControlledClock
) -> None:
    async with make_client(sim, clock, group_id=99, store_id=None) as c:
        with pytest.raises(UnauthorizedAccess) as info:
            await c.search("nfc", ADA["nfc"])
        assert (info.value.status, info.value.code) == (403, "CARD-9")
    async with make_client(sim, clock, point_of_sale_id=66) as c:
        with pytest.raises(UnauthorizedAccess):
            await c.search("nfc", ADA["nfc"])


async def test_configured_valid_scope(
    sim: SimServer, clock: ControlledClock, sim_control: SimControl
) -> None:
    await sim_control.call(
        "POST", "/cardapi/config", {"group_id": 7, "store_id": 3, "point_of_sale_id": 12}
    )
    async with make_client(sim, clock, group_id=7, store_id=None, point_of_sale_id=12) as c:
        assert (await c.search("nfc", ADA["nfc"])).id == ADA["id"]
    async with make_client(sim, clock, store_id=3, point_of_sale_id=12) as c:
        p = await c.search("nfc", ADA["nfc"])
        await c.debit(p, eur("1.00"), ticket_id=ticket())
    assert (await ledger(sim_control))[0]["point_of_sale_id"] == 12


# -- debit ------------------------------------------------------------------------------------


async def test_debit_moves_the_balance(client: CardApiClient, sim_control: SimControl) -> None:
    p = await client.search("nfc", ADA["nfc"])
    t = ticket()
    result = await client.debit(p, eur("2.50"), ticket_id=t, ticket_number="T-0001")
    assert result.ticket_id == t
    assert result.payment_row.pass_id == ADA["id"]
    assert result.payment_row.payment_method_id == 2
    assert result.amount == eur("2.50")
    assert result.receipt_row.label == "Cashback"
    assert result.receipt_row.amount == eur("-2.50")
    assert result.balance_after == eur("4.04")
    assert await sim_balance(sim_control, ADA["id"]) == "4.04"
    assert (await client.search("nfc", ADA["nfc"])).balance == eur("4.04")
    [entry] = await ledger(sim_control)
    assert entry == {
        **entry,
        "ticket_id": t,
        "ticket_number": "T-0001",
        "point_of_sale_id": 65,
        "device_id": "KIOSK-001",
        "pass_id": ADA["id"],
        "payment_method_id": 2,
        "amount": "2.50",
        "currency": EUR,
        "balance_before": "6.54",
        "balance_after": "4.04",
        "replays": 0,
    }


async def test_amount_zero_registers_a_new_card(
    client: CardApiClient, sim_control: SimControl
) -> None:
    p = await client.search("barcode", DISPENSED)
    result = await client.debit(p, Money(0, EUR), ticket_id=ticket())
    assert result.amount == Money(0, EUR)
    assert result.balance_after == Money(0, EUR)
    [entry] = await ledger(sim_control)
    assert (entry["pass_id"], entry["amount"], entry["balance_after"]) == (
        "P-NEW-01",
        "0.00",
        "0.00",
    )


async def test_exact_money_down_to_zero(client: CardApiClient, sim_control: SimControl) -> None:
    await add_pass(sim_control, id="P-TENTHS", number="9000000000030", balance="0.30")
    p = await client.search("manual", "9000000000030")
    assert p.balance == Money(30, EUR)
    await client.debit(p, eur("0.10"), ticket_id=ticket())
    p = await client.search("manual", "9000000000030")
    result = await client.debit(p, eur("0.20"), ticket_id=ticket())
    assert result.balance_after == Money(0, EUR)  # 0.30 - 0.10 - 0.20 is exactly 0
    assert await sim_balance(sim_control, "P-TENTHS") == "0.00"
    p = await client.search("nfc", ADA["nfc"])
    await client.debit(p, eur("6.54"), ticket_id=ticket())  # the whole balance
    assert await sim_balance(sim_control, ADA["id"]) == "0.00"


async def test_currency_without_decimals(client: CardApiClient, sim_control: SimControl) -> None:
    await add_pass(sim_control, id="P-JPY", number="9000000000392", balance=1500, currency="JPY")
    p = await client.search("manual", "9000000000392")
    assert p.balance == Money(1500, "JPY")
    result = await client.debit(p, Money(500, "JPY"), ticket_id=ticket())
    assert result.balance_after == Money(1000, "JPY")
    assert (await ledger(sim_control))[0]["amount"] == "500"
    with pytest.raises(CurrencyMismatch):
        await client.debit(p, eur("1.00"), ticket_id=ticket())


async def test_same_ticket_twice_debits_once(
    client: CardApiClient, sim_control: SimControl
) -> None:
    p = await client.search("nfc", ADA["nfc"])
    t = ticket()
    first = await client.debit(p, eur("2.50"), ticket_id=t)
    again = await client.debit(p, eur("2.50"), ticket_id=t)  # e.g. after a crash
    assert again == first
    assert await sim_balance(sim_control, ADA["id"]) == "4.04"
    [entry] = await ledger(sim_control)
    assert entry["replays"] == 1


async def test_same_ticket_with_another_payload_is_refused(
    client: CardApiClient, sim_control: SimControl
) -> None:
    p = await client.search("nfc", ADA["nfc"])
    t = ticket()
    await client.debit(p, eur("2.50"), ticket_id=t)
    with pytest.raises(InvalidParameter) as info:
        await client.debit(p, eur("1.00"), ticket_id=t)
    assert (info.value.status, info.value.code) == (422, "CARD-3")
    assert await sim_balance(sim_control, ADA["id"]) == "4.04"


@pytest.mark.parametrize("when", ["before", "after"])
async def test_500_then_retry_with_the_same_ticket_debits_once(
    client: CardApiClient, sim_control: SimControl, when: str
) -> None:
    """``after``: the first debit was applied and its answer lost; the retry replays it."""
    p = await client.search("nfc", ADA["nfc"])
    await next_error(sim_control, "CARD-1", route="debit", when=when)
    t = ticket()
    result = await client.debit(p, eur("2.50"), ticket_id=t)
    assert result.ticket_id == t
    assert result.balance_after == eur("4.04")
    assert await sim_balance(sim_control, ADA["id"]) == "4.04"
    assert await debit_requests(sim_control) == 2
    [entry] = await ledger(sim_control)
    assert entry["ticket_id"] == t
    assert entry["replays"] == (1 if when == "after" else 0)


async def test_debit_that_never_gets_an_answer_is_unknown_then_recovered(
    client: CardApiClient, sim_control: SimControl
) -> None:
    p = await client.search("nfc", ADA["nfc"])
    request = client.debit_request(p, eur("2.50"), ticket_id=ticket(), ticket_number="T-9")
    journalled = request.to_payload()  # what the journal keeps before the first send
    await next_error(sim_control, "CARD-10", route="debit", when="after", count=5)
    with pytest.raises(DebitOutcomeUnknown) as info:
        await client.send_debit(request)
    err = info.value
    assert isinstance(err.last_error, CardApiInternalError)
    assert (err.status, err.code, err.ticket_id) == (500, "CARD-10", request.ticket_id)
    assert err.retryable
    assert await debit_requests(sim_control) == 5
    assert await sim_balance(sim_control, ADA["id"]) == "4.04"  # debited by the first, once
    # Recovery: the journalled request, repeated as is, gives the first result.
    result = await client.send_debit(DebitRequest.from_payload(journalled))
    assert result.balance_after == eur("4.04")
    assert await sim_balance(sim_control, ADA["id"]) == "4.04"
    [entry] = await ledger(sim_control)
    assert entry["replays"] == 5


async def test_recovered_request_is_sent_without_pass_checks(
    client: CardApiClient, sim_control: SimControl
) -> None:
    """After a crash the pass may already show the debit: the request goes out as journalled."""
    p = await client.search("barcode", CENT)
    request = client.debit_request(p, eur("0.01"), ticket_id=ticket())
    await client.send_debit(request)
    await client.send_debit(request)  # the pass is empty now; a replay still answers
    assert await sim_balance(sim_control, "P-CB-0001") == "0.00"
    assert len(await ledger(sim_control)) == 1


# -- every CARD code → its typed error ---------------------------------------------------------

CODES: list[tuple[str, int, type[ApiError]]] = [
    ("CARD-1", 500, CardApiInternalError),
    ("CARD-2", 404, InvalidPath),
    ("CARD-3", 422, InvalidParameter),
    ("CARD-4", 500, CardApiInternalError),
    ("CARD-5", 401, MissingToken),
    ("CARD-6", 400, InvalidTokenSignature),
    ("CARD-7", 400, TokenExpired),
    ("CARD-8", 400, InvalidToken),
    ("CARD-9", 403, UnauthorizedAccess),
    ("CARD-10", 500, CardApiInternalError),
    ("CARD-11", 500, CardApiInternalError),
    ("CARD-14", 404, PassNotFound),
]
TOKEN_CODES = {"CARD-5", "CARD-6", "CARD-7", "CARD-8"}


@pytest.mark.parametrize(("code", "status", "cls"), CODES)
async def test_every_code_on_search(
    client: CardApiClient, sim_control: SimControl, code: str, status: int, cls: type[ApiError]
) -> None:
    await next_error(sim_control, code, route="search", count=10)
    with pytest.raises(cls) as info:
        await client.search("nfc", ADA["nfc"])
    assert type(info.value) is cls
    assert (info.value.status, info.value.code) == (status, code)
    searches = (await state(sim_control))["requests"]["search"]
    if status == 500:
        assert searches == 3  # retried up to the policy
    elif code in TOKEN_CODES:
        assert searches == 2  # one refresh, then a clear failure
        assert "after refreshing" in info.value.message
        assert client._provider.calls == 2  # type: ignore[attr-defined]
    else:
        assert searches == 1  # not retried, no refresh
        assert client._provider.calls == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize(("code", "status", "cls"), [c for c in CODES if c[1] != 500])
async def test_every_refusal_code_on_debit_debits_nothing(
    client: CardApiClient, sim_control: SimControl, code: str, status: int, cls: type[ApiError]
) -> None:
    p = await client.search("nfc", ADA["nfc"])
    await next_error(sim_control, code, route="debit", count=2)
    with pytest.raises(cls) as info:
        await client.debit(p, eur("1.00"), ticket_id=ticket())
    assert (info.value.status, info.value.code) == (status, code)
    assert await sim_balance(sim_control, ADA["id"]) == "6.54"
    assert await ledger(sim_control) == []


# -- tokens ----------------------------------------------------------------------------------


async def test_expired_token_is_refreshed_once_then_a_clear_failure(
    client: CardApiClient, sim_control: SimControl
) -> None:
    await client.search("nfc", ADA["nfc"])
    await sim_control.call("POST", "/cardapi/token/expire")
    with pytest.raises(TokenExpired) as info:
        await client.search("nfc", ADA["nfc"])
    assert (info.value.status, info.value.code) == (400, "CARD-7")
    assert "again after refreshing" in info.value.message
    assert "cardapi.token" in info.value.message
    assert TOKEN not in str(info.value)
    assert client._provider.calls == 2  # type: ignore[attr-defined]


async def test_rotated_token_is_picked_up_by_the_refresh(
    sim: SimServer, clock: ControlledClock, sim_control: SimControl
) -> None:
    tokens = Tokens(TOKEN, "tok-2")
    async with make_client(sim, clock, token_provider=tokens) as c:
        p = await c.search("nfc", ADA["nfc"])
        await sim_control.call("POST", "/cardapi/token/rotate", {"token": "tok-2"})
        result = await c.debit(p, eur("1.00"), ticket_id=ticket())
        assert result.balance_after == eur("5.54")
        await c.search("nfc", ADA["nfc"])  # the new token stays in use
    assert tokens.calls == 2
    assert await debit_requests(sim_control) == 2  # refused (CARD-7), then done


async def test_refresh_happens_once_per_operation(
    sim: SimServer, clock: ControlledClock, sim_control: SimControl
) -> None:
    """A 5xx between two token errors does not earn a second refresh."""
    tokens = Tokens(TOKEN)
    async with make_client(sim, clock, token_provider=tokens) as c:
        p = await c.search("nfc", ADA["nfc"])
        await next_error(sim_control, "CARD-7", route="debit")
        await next_error(sim_control, "CARD-1", route="debit")
        await next_error(sim_control, "CARD-7", route="debit")
        with pytest.raises(DebitOutcomeUnknown) as info:
            await c.debit(p, eur("1.00"), ticket_id=ticket())
        assert isinstance(info.value.last_error, TokenExpired)
    assert tokens.calls == 2


async def test_token_error_on_first_debit_attempt_is_definite(
    client: CardApiClient, sim_control: SimControl
) -> None:
    p = await client.search("nfc", ADA["nfc"])
    await sim_control.call("POST", "/cardapi/token/expire")
    with pytest.raises(TokenExpired):
        await client.debit(p, eur("1.00"), ticket_id=ticket())
    assert await sim_balance(sim_control, ADA["id"]) == "6.54"


@pytest.mark.parametrize(
    ("token", "cls", "status"),
    [
        ("", MissingToken, 401),
        ("not-our-token", InvalidToken, 400),
        ("eyJhbGciOiJIUzI1NiJ9.e30.c2ln", InvalidTokenSignature, 400),
    ],
)
async def test_wrong_tokens(
    sim: SimServer, clock: ControlledClock, token: str, cls: type[ApiError], status: int
) -> None:
    tokens = Tokens(token)
    async with make_client(sim, clock, token_provider=tokens) as c:
        with pytest.raises(cls) as info:
            await c.search("nfc", ADA["nfc"])
    assert info.value.status == status
    assert tokens.calls == 2


async def test_unauthorized_is_not_refreshed(
    sim: SimServer, clock: ControlledClock, sim_control: SimControl
) -> None:
    tokens = Tokens()
    async with make_client(sim, clock, token_provider=tokens) as c:
        await next_error(sim_control, "CARD-9", count=5)
        with pytest.raises(UnauthorizedAccess):
            await c.search("nfc", ADA["nfc"])
    assert tokens.calls == 1


# -- refusals --------------------------------------------------------------------------------


async def test_refused_before_sending(client: CardApiClient, sim_control: SimControl) -> None:
    expired = await client.search("manual", EXPIRED)
    assert not expired.can_debit(client.clock.time())
    with pytest.raises(PassExpired):
        await client.debit(expired, eur("1.00"), ticket_id=ticket())
    loyalty = await client.search("manual", LOYALTY)
    assert loyalty.type == "LOYALTY"
    assert not loyalty.can_debit(client.clock.time())
    with pytest.raises(NotCashbackPass):
        await client.debit(loyalty, eur("1.00"), ticket_id=ticket())
    cent = await client.search("manual", CENT)
    with pytest.raises(InsufficientBalance) as info:
        await client.debit(cent, eur("0.02"), ticket_id=ticket())
    assert (info.value.balance, info.value.amount) == (eur("0.01"), eur("0.02"))
    zero = await client.search("manual", ZERO)
    with pytest.raises(InsufficientBalance):
        await client.debit(zero, eur("0.01"), ticket_id=ticket())
    with pytest.raises(ValueError, match="UUID"):
        await client.debit(cent, eur("0.01"), ticket_id="sale-1")
    assert await debit_requests(sim_control) == 0  # nothing was sent


async def test_the_service_refuses_what_the_client_could_not_know(
    client: CardApiClient, sim_control: SimControl
) -> None:
    """A stale pass (balance spent elsewhere): the service's CARD-3 stops the debit."""
    p = await client.search("nfc", ADA["nfc"])
    await sim_control.call("POST", f"/cardapi/passes/{ADA['id']}", {"balance": "1.00"})
    with pytest.raises(InvalidParameter) as info:
        await client.debit(p, eur("2.50"), ticket_id=ticket())
    assert (info.value.status, info.value.code) == (422, "CARD-3")
    assert "insufficient" in info.value.message
    assert await sim_balance(sim_control, ADA["id"]) == "1.00"
    assert (await state(sim_control))["refusals"][0]["code"] == "CARD-3"
    # Type changed meanwhile: refused by the service too.
    await sim_control.call("POST", f"/cardapi/passes/{ADA['id']}", {"type": "GIFT"})
    with pytest.raises(InvalidParameter):
        await client.debit(p, eur("0.50"), ticket_id=ticket())


async def test_expiry_follows_the_simulated_clock(
    sim: SimServer, clock: ControlledClock, sim_control: SimControl
) -> None:
    soon = datetime.fromtimestamp(clock.time() + 60, UTC).isoformat().replace("+00:00", "Z")
    await add_pass(sim_control, id="P-SOON", number="9000000000060", balance="5.00",
                   expiration_date=soon)  # fmt: skip
    async with make_client(sim, clock) as c:
        p = await c.search("manual", "9000000000060")
        assert p.can_debit(clock.time())
        clock.advance(61)
        assert not p.can_debit(clock.time())
        with pytest.raises(PassExpired):
            await c.debit(p, eur("1.00"), ticket_id=ticket())
    # A client whose clock lags: the service still refuses the expired pass.
    async with make_client(sim, ControlledClock(start=clock.time() - 120)) as lagging:
        with pytest.raises(InvalidParameter, match="expired"):
            await lagging.debit(p, eur("1.00"), ticket_id=ticket())
    passes = {q["id"]: q for q in (await state(sim_control))["passes"]}
    assert passes["P-SOON"]["expired"] is True
    assert passes["P-SOON"]["balance"] == Decimal("5.00")


# -- transport and protocol faults ----------------------------------------------------------------


async def test_malformed_json(client: CardApiClient, sim_control: SimControl) -> None:
    await sim_control.set_fault("cardapi", "/cards", "malformed_json", count=1)
    with pytest.raises(ProtocolError, match="not valid JSON"):
        await client.search("nfc", ADA["nfc"])
    assert client.health.ok is False
    await client.search("nfc", ADA["nfc"])
    assert client.health.ok is True


async def test_malformed_debit_answer_is_repeated(
    client: CardApiClient, sim_control: SimControl
) -> None:
    p = await client.search("nfc", ADA["nfc"])
    await sim_control.set_fault("cardapi", "/cards/cashback/debit", "malformed_json", count=1)
    result = await client.debit(p, eur("2.50"), ticket_id=ticket())
    assert result.balance_after == eur("4.04")
    assert await sim_balance(sim_control, ADA["id"]) == "4.04"
    await sim_control.set_fault("cardapi", "/cards/cashback/debit", "malformed_json", count=5)
    with pytest.raises(DebitOutcomeUnknown) as info:
        await client.debit(p, eur("1.00"), ticket_id=ticket())
    assert isinstance(info.value.last_error, ProtocolError)


async def test_html_502(client: CardApiClient, sim: SimServer, clock: ControlledClock,
                        sim_control: SimControl) -> None:  # fmt: skip
    await sim_control.set_fault("cardapi", "/cards", "html_502", count=1)
    assert (await client.search("nfc", ADA["nfc"])).id == ADA["id"]  # retried
    async with make_client(sim, clock, retry=NO_RETRY) as once:
        await sim_control.set_fault("cardapi", "/cards", "html_502", count=1)
        with pytest.raises(ServerError) as info:
            await once.search("nfc", ADA["nfc"])
        assert info.value.status == 502
        assert "non-JSON" in info.value.message
    p = await client.search("nfc", ADA["nfc"])
    await sim_control.set_fault("cardapi", "/cards/cashback/debit", "html_502", count=2)
    await client.debit(p, eur("2.50"), ticket_id=ticket())
    assert await sim_balance(sim_control, ADA["id"]) == "4.04"


async def test_slow_answer(sim: SimServer, clock: ControlledClock,
                           sim_control: SimControl) -> None:  # fmt: skip
    async with make_client(sim, clock, timeout_s=0.2, retry=NO_RETRY) as c:
        await sim_control.set_fault("cardapi", "/cards", "delay", seconds=0.6, count=1)
        with pytest.raises(ServiceTimeout):
            await c.search("nfc", ADA["nfc"])
        assert c.health.ok is False
        p = await c.search("nfc", ADA["nfc"])
        # The debit times out once and is repeated with the same ticket: debited once,
        # whether the late first request lands before or after the repetition.
        await sim_control.set_fault(
            "cardapi", "/cards/cashback/debit", "delay", seconds=0.6, count=1
        )
        t = ticket()
        result = await c.debit(p, eur("2.50"), ticket_id=t)
        assert result.ticket_id == t
        assert await sim_balance(sim_control, ADA["id"]) == "4.04"
        assert [e["ticket_id"] for e in await ledger(sim_control)] == [t]


async def test_dropped_connection_on_debit_is_repeated(
    client: CardApiClient, sim_control: SimControl
) -> None:
    p = await client.search("nfc", ADA["nfc"])
    await sim_control.set_fault("cardapi", "/cards/cashback/debit", "drop_connection", count=1)
    await client.debit(p, eur("2.50"), ticket_id=ticket())
    assert await sim_balance(sim_control, ADA["id"]) == "4.04"


async def test_nothing_listening(clock: ControlledClock) -> None:
    """No connection: the debit was never sent, so the error is definite, not unknown."""
    pass_ = cardapi.parse_search(
        {"type": "CASHBACK", "pass": {"type": "CASHBACK", "id": "P", "payment_method_id": 2,
                                      "balance": "5.00", "currency": EUR}}
    )  # fmt: skip
    async with CardApiClient(
        "http://127.0.0.1:9/cardapi", token_provider=Tokens(), point_of_sale_id=65,
        device_id="K", store_id=1, clock=clock, retry=FAST, debit_retry=FAST_DEBIT,
    ) as c:  # fmt: skip
        with pytest.raises(ServiceUnavailable):
            await c.search("nfc", "04")
        with pytest.raises(ServiceUnavailable) as info:
            await c.debit(pass_, eur("1.00"), ticket_id=ticket())
        assert not isinstance(info.value, DebitOutcomeUnknown)
        assert c.health.ok is False


# -- the simulator's own contract -------------------------------------------------------------------


@pytest.fixture
async def raw(sim: SimServer) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=sim.url_for("cardapi"), headers=headers) as http:
        yield http


def debit_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ticket_id": ticket(),
        "point_of_sale_id": 65,
        "device_id": "K",
        "payment_row": {"pass_id": ADA["id"], "payment_method_id": 2, "amount": "1.00",
                        "currency": EUR},
    }  # fmt: skip
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        (lambda h: h.get("/nope"), 404, "CARD-2"),
        (lambda h: h.get("/cards", params={"q": "1", "store_id": 1, "point_of_sale_id": 65}),
         422, "CARD-3"),
        (lambda h: h.get("/cards", params={"search_mode": "nfc", "q": ADA["nfc"], "group_id": 1,
                                           "store_id": 1}), 422, "CARD-3"),
        (lambda h: h.get("/cards", params={"search_mode": "nfc", "q": ADA["nfc"],
                                           "group_id": "one"}), 422, "CARD-3"),
        (lambda h: h.get("/cards", params={"search_mode": "nfc", "q": ADA["nfc"], "group_id": 1},
                         headers={"Authorization": ""}), 401, "CARD-5"),
        (lambda h: h.post("/cards/cashback/debit", content=b"{not json"), 422, "CARD-3"),
        (lambda h: h.post("/cards/cashback/debit", json=debit_body(point_of_sale_id="65")),
         422, "CARD-3"),
        (lambda h: h.post("/cards/cashback/debit", json=debit_body(ticket_id="T-1")),
         422, "CARD-3"),
        (lambda h: h.post("/cards/cashback/debit", json=debit_body(extra=1)), 422, "CARD-3"),
        (lambda h: h.post("/cards/cashback/debit", json=debit_body(point_of_sale_id=66)),
         403, "CARD-9"),
        (lambda h: h.post("/cards/cashback/debit", json=debit_body(payment_row={
            "pass_id": "P-NONE", "payment_method_id": 2, "amount": "1.00", "currency": EUR})),
         404, "CARD-14"),
        (lambda h: h.post("/cards/cashback/debit", json=debit_body(payment_row={
            "pass_id": ADA["id"], "payment_method_id": 2, "amount": 1.0, "currency": EUR})),
         422, "CARD-3"),
        (lambda h: h.post("/cards/cashback/debit", json=debit_body(payment_row={
            "pass_id": ADA["id"], "payment_method_id": 2, "amount": "1.005", "currency": EUR})),
         422, "CARD-3"),
        (lambda h: h.post("/cards/cashback/debit", json=debit_body(payment_row={
            "pass_id": ADA["id"], "payment_method_id": 9, "amount": "1.00", "currency": EUR})),
         422, "CARD-3"),
    ],
)  # fmt: skip
async def test_simulator_errors(
    raw: httpx.AsyncClient,
    sim_control: SimControl,
    send: Callable[[httpx.AsyncClient], Any],
    status: int,
    code: str,
) -> None:
    response = await send(raw)
    assert response.status_code == status
    assert response.json()["code"] == code
    assert isinstance(response.json()["message"], str)
    assert await ledger(sim_control) == []


async def test_simulator_search_answer_shape(raw: httpx.AsyncClient) -> None:
    response = await raw.get(
        "/cards", params={"search_mode": "nfc", "q": ADA["nfc"], "group_id": 1}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert '"balance":6.54' in response.text  # a JSON number with the currency's decimals
    body = response.json()
    assert list(body) == ["type", "pass"]
    assert list(body["pass"]) == [
        "type", "service_id", "payment_method_id", "balance", "currency", "expiration_date",
        "id", "serial_number", "number", "nfc_number", "consumer",
    ]  # fmt: skip
    assert "barcode" not in body["pass"]


async def test_simulator_control_routes(sim_control: SimControl) -> None:
    with pytest.raises(SimControlError, match="pass_exists"):
        await add_pass(sim_control, id=ADA["id"])
    with pytest.raises(SimControlError, match="more decimals"):
        await add_pass(sim_control, id="P-X", balance="1.505")
    with pytest.raises(SimControlError, match="unknown pass field"):
        await add_pass(sim_control, id="P-X", pin="1234")
    with pytest.raises(SimControlError, match="unknown_pass"):
        await sim_control.call("POST", "/cardapi/passes/P-NONE", {"balance": "1.00"})
    with pytest.raises(SimControlError, match="CARD-1, CARD-2"):
        await next_error(sim_control, "CARD-99")
    await next_error(sim_control, "CARD-3", count=2)
    assert (await state(sim_control))["injected_errors"][0]["remaining"] == 2
    assert (await sim_control.call("DELETE", "/cardapi/next-error"))["cleared"] == 1
    rotated = await sim_control.call("POST", "/cardapi/token/rotate")
    assert rotated["token"].startswith("sim-cardapi-token-")
    snapshot = await state(sim_control)
    assert snapshot["token"] == {"valid": True, "expired_count": 1, "rotations": 1}
    assert TOKEN not in str(snapshot)
    await sim_control.reset()
    assert (await state(sim_control))["token"]["rotations"] == 0


# -- configuration ----------------------------------------------------------------------------------


async def test_from_config(sim: SimServer, clock: ControlledClock, sim_control: SimControl) -> None:
    base = Config()
    config = dataclasses.replace(
        base, cardapi=dataclasses.replace(base.cardapi, base_url=sim.url_for("cardapi"))
    )
    async with cardapi.from_config(config, clock=clock, retry=FAST, debit_retry=FAST_DEBIT) as c:
        assert c.device_id == base.kiosk.id  # device_id empty → kiosk.id
        assert (c.group_id, c.store_id, c.point_of_sale_id) == (None, 1, 65)
        p = await c.search("barcode", DISPENSED)
        await c.debit(p, Money(0, EUR), ticket_id=ticket())
    [entry] = await ledger(sim_control)
    assert (entry["device_id"], entry["point_of_sale_id"]) == ("KIOSK-001", 65)
    named = dataclasses.replace(
        config, cardapi=dataclasses.replace(config.cardapi, device_id="dev-7", group_id=1)
    )
    async with cardapi.from_config(named, clock=clock) as c:
        assert (c.device_id, c.group_id) == ("dev-7", 1)
        assert (await c.search("nfc", ADA["nfc"])).id == ADA["id"]
    no_pos = dataclasses.replace(
        config, cardapi=dataclasses.replace(config.cardapi, point_of_sale_id=None)
    )
    with pytest.raises(ValueError, match="point_of_sale_id"):
        cardapi.from_config(no_pos)


async def test_injected_http_client_is_left_open(sim: SimServer, clock: ControlledClock) -> None:
    async with httpx.AsyncClient() as http:
        async with make_client(sim, clock, http=http) as c:
            await c.search("nfc", ADA["nfc"])
        assert not http.is_closed


async def test_an_unreadable_debit_answer_is_an_unknown_outcome_not_a_raw_error(
    clock: ControlledClock,
) -> None:
    """A 200 whose body cannot even be decoded (broken gzip) may have debited: the
    caller gets DebitOutcomeUnknown (same ticket later), never an untyped httpx error."""
    sent = 0

    def broken(request: httpx.Request) -> httpx.Response:
        nonlocal sent
        sent += 1
        return httpx.Response(
            200, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            content=b"not gzip at all",
        )  # fmt: skip

    async with httpx.AsyncClient(transport=httpx.MockTransport(broken)) as http:
        c = CardApiClient(
            "http://cardapi.invalid", token_provider=Tokens(), point_of_sale_id=65,
            device_id="KIOSK-001", store_id=1, clock=clock, retry=FAST,
            debit_retry=FAST_DEBIT, http=http,
        )  # fmt: skip
        pass_ = parse_pass(
            {"type": "CASHBACK", "id": "P-1", "payment_method_id": 2, "balance": "6.54",
             "currency": "EUR", "expiration_date": "2050-01-01T00:00:00Z"}
        )  # fmt: skip
        with pytest.raises(DebitOutcomeUnknown):
            await c.debit(pass_, Money(250, EUR), ticket_id=ticket())
    assert sent >= 1
