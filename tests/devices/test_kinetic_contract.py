"""The Kinetic client (and the payment method on it) against the Kinetic simulator,
over real loopback HTTP.

Time is the suite's ControlledClock. Where a payment or a wait polls, it runs on
a :class:`~tests.payments.drivers.kinetic.PacedClock`, so the test acts on the
terminal while the poller waits and then wakes it: nothing waits real seconds
except the slow-answer fault.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kioskapp.config import Config
from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money
from kioskapp.devices.errors import (
    AuthError,
    ProtocolError,
    ServerError,
    ServiceTimeout,
    ServiceUnavailable,
)
from kioskapp.devices.http import RetryPolicy
from kioskapp.devices.kinetic import (
    DuplicateTransaction,
    KineticClient,
    NoActiveTransaction,
    PrinterError,
    PrinterUnavailable,
    PrintScroll,
    ReceiptNotAvailable,
    TransactionInProgress,
    TransactionNotFound,
    TransactionNotReversible,
)
from kioskapp.payments.base import (
    Outcome,
    PaymentAttempt,
    PaymentRecord,
    PaymentResult,
    PaymentStatus,
)
from kioskapp.payments.kinetic import CANCEL_ON_TERMINAL, KineticPayment
from kioskapp.payments.kinetic import from_config as payment_from_config
from kioskapp.simulator.control import SimControl
from kioskapp.simulator.framework import JsonObject
from kioskapp.simulator.kinetic import KineticSim
from tests.payments.drivers.kinetic import PacedClock

RETRY = RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0)


def eur(minor: int) -> Money:
    return Money(minor, "EUR")


def make_client(sim: Any, clock: Any, **kwargs: Any) -> KineticClient:
    options: dict[str, Any] = {
        "username": "kinetic",
        "password": "kinetic-secret",
        "currency": "EUR",
        "clock": clock,
        "retry": RETRY,
        "poll_interval_s": 0.5,
    }
    options.update(kwargs)
    return KineticClient(sim.url_for("kinetic"), **options)


@pytest.fixture
async def client(sim: Any, clock: ControlledClock) -> AsyncIterator[KineticClient]:
    async with make_client(sim, clock) as c:
        yield c


async def terminal(control: SimControl, action: str, body: JsonObject | None = None) -> JsonObject:
    """The customer (or the host) at the terminal."""
    return await control.call("POST", f"/kinetic/{action}", body)


async def sim_state(control: SimControl) -> JsonObject:
    return await control.call("GET", "/kinetic/state")


# -- terminal endpoints ---------------------------------------------------------


async def test_ping_needs_no_credentials(sim: Any, clock: ControlledClock) -> None:
    async with make_client(sim, clock, password="wrong-password") as c:
        assert await c.ping() is True
        with pytest.raises(AuthError) as info:
            await c.device()
    assert info.value.status == 401
    assert "wrong-password" not in str(info.value)


async def test_the_default_config_talks_to_the_simulator(sim: Any, clock: ControlledClock) -> None:
    config = Config()
    assert config.kinetic.base_url.endswith(KineticSim.prefix)
    here = dataclasses.replace(
        config, kinetic=dataclasses.replace(config.kinetic, base_url=sim.url_for("kinetic"))
    )
    method = payment_from_config(here, clock=clock)
    try:
        assert (method.client.currency, method.client.poll_interval_s) == ("EUR", 0.5)
        assert (await method.client.device()).family == "A920"  # the default credentials
        assert method.health().ok is True
    finally:
        await method.aclose()
    with pytest.raises(RuntimeError, match="closed"):
        await method.client.ping()  # the method owned and closed its client


async def test_device_settings_and_health(client: KineticClient) -> None:
    device = await client.device()
    assert (device.manufacturer, device.family, device.serial_number) == (
        "PAX",
        "A920",
        "1850123456",
    )
    settings = await client.settings()
    assert (settings.host_module, settings.terminal_id, settings.merchant_id) == (
        "dummy",
        "12345678",
        "87654321",
    )
    assert await client.check_health() is True
    assert client.health.ok is True


async def test_screen_follows_the_transaction(
    client: KineticClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    assert (await client.screen()).is_idle
    await client.start_sale(eur(1000), "screen-1")
    screen = await client.screen()
    assert screen.path == "app.views.layouts.present_card"
    assert "EUR 10.00" in screen.text
    await terminal(sim_control, "present")
    assert (await client.screen()).path == "app.views.layouts.card_read"
    await terminal(sim_control, "approve")
    after = await client.screen()
    assert after.path == "app.views.layouts.transaction_result"
    assert not after.is_idle
    clock.advance(3)
    assert (await client.screen()).is_idle


# -- the sale lifecycle -------------------------------------------------------------


async def test_sale_lifecycle_approved(client: KineticClient, sim_control: SimControl) -> None:
    started = await client.start_sale(eur(1250), "sale-ok")
    assert (started.id, started.type, started.amount) == ("sale-ok", "sale", eur(1250))
    assert started.is_active
    assert started.result is None
    assert started.stage == "waiting_card"
    assert started.timeout_ms == 150_000
    assert (await client.current()).id == "sale-ok"

    await terminal(sim_control, "present", {"brand": "mastercard", "last4": "4444"})
    read = await client.transaction("sale-ok")
    assert read.stage == "card_read"
    assert (read.card_brand, read.card_last4) == ("mastercard", "4444")

    await terminal(sim_control, "approve")
    done = await client.transaction("sale-ok")
    assert not done.is_active
    assert done.result == "approved"
    assert done.auth_code is not None
    assert len(done.auth_code) == 6
    assert done.taken == eur(1250)
    assert done.stage == "finished"
    with pytest.raises(NoActiveTransaction):
        await client.current()
    assert await client.current_or_none() is None
    latest = await client.latest()
    assert latest is not None
    assert latest.id == "sale-ok"
    listed = await client.transactions()
    assert [(t.id, t.result, t.card_last4) for t in listed] == [("sale-ok", "approved", "4444")]


async def test_pin_and_processing_stages(client: KineticClient, sim_control: SimControl) -> None:
    await client.start_sale(eur(500), "sale-pin")
    await terminal(sim_control, "present", {"pin": True})
    assert (await client.current()).stage == "pin"
    await terminal(sim_control, "process")
    assert (await client.current()).stage == "processing"
    await terminal(sim_control, "decline")
    done = await client.transaction("sale-pin")
    assert (done.result, done.auth_code, done.is_active) == ("declined", None, False)


async def test_a_second_transaction_while_one_is_active_is_refused(
    client: KineticClient, sim_control: SimControl
) -> None:
    await client.start_sale(eur(1000), "first")
    with pytest.raises(TransactionInProgress, match="Transaction in progress"):
        await client.start_sale(eur(1000), "second")
    with pytest.raises(TransactionInProgress):
        await client.start_reconciliation()
    assert await client.find_transaction("second") is None
    await terminal(sim_control, "decline")
    with pytest.raises(DuplicateTransaction):
        await client.start_sale(eur(1000), "first")


@pytest.mark.parametrize(
    ("action", "result"), [("decline", "declined"), ("error", "error"), ("cancel", "cancelled")]
)
async def test_endings(
    client: KineticClient, sim_control: SimControl, action: str, result: str
) -> None:
    await client.start_sale(eur(1000), "ending")
    await terminal(sim_control, action)
    done = await client.transaction("ending")
    assert (done.result, done.is_active, done.ran_out) == (result, False, False)


async def test_the_terminal_cancels_after_its_timeout(
    client: KineticClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    await client.start_sale(eur(1000), "slow")
    clock.advance(149)
    assert (await client.transaction("slow")).is_active
    clock.advance(1)
    done = await client.transaction("slow")
    assert (done.result, done.is_active, done.ran_out) == ("cancelled", False, True)
    assert done.status_details == "timeout"


async def test_no_timeout_once_processing(
    client: KineticClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    await client.start_sale(eur(1000), "online")
    await terminal(sim_control, "present", {"pin": True})
    await terminal(sim_control, "process")
    clock.advance(300)
    assert (await client.transaction("online")).stage == "processing"
    with pytest.raises(Exception, match="Cannot cancel"):
        await terminal(sim_control, "cancel")  # the keypad cannot stop an online authorisation
    await terminal(sim_control, "approve")
    assert (await client.transaction("online")).result == "approved"


async def test_unknown_transactions(client: KineticClient) -> None:
    assert await client.latest() is None
    with pytest.raises(TransactionNotFound):
        await client.transaction("no-such-id")
    assert await client.find_transaction("no-such-id") is None
    with pytest.raises(TransactionNotFound):
        await client.receipt("no-such-id", "merchant")


async def test_refund(client: KineticClient, sim_control: SimControl) -> None:
    started = await client.start_refund(eur(300), "refund-1")
    assert (started.type, started.is_active) == ("refund", True)
    await terminal(sim_control, "approve")
    done = await client.transaction("refund-1")
    assert (done.type, done.result, done.amount) == ("refund", "approved", eur(300))


async def test_polling_honours_the_interval(sim: Any, clock: ControlledClock) -> None:
    gets: list[str] = []

    async def count(request: httpx.Request) -> None:
        if request.method == "GET":
            gets.append(request.url.path)

    paced = PacedClock(clock)
    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        c = make_client(sim, paced, http=http, poll_interval_s=2.0)
        control = make_client(sim, clock)
        try:
            await c.start_sale(eur(1000), "poll")
            waiter = asyncio.ensure_future(c.wait_finished("poll", max_wait_s=60))
            seq = await paced.waiting()
            assert len(gets) == 1
            assert paced.last_wait_s == 2.0
            clock.advance(1.5)
            assert paced.remaining(seq) == pytest.approx(0.5)
            clock.advance(0.5)
            seq = await paced.waiting(after=seq)
            assert len(gets) == 2
            async with SimControl(sim.base_url) as sim_control:
                await terminal(sim_control, "approve")
            paced.wake()
            done = await asyncio.wait_for(waiter, 5)
            assert done.result == "approved"
            assert len(gets) == 3
        finally:
            await c.aclose()
            await control.aclose()
        assert not http.is_closed  # injected: not ours to close
    assert make_client(sim, clock, poll_interval_s=0.1).poll_interval_s == 0.5


# -- reversal and reconciliation ----------------------------------------------------


async def approved_sale(
    client: KineticClient, control: SimControl, txn_id: str, minor: int = 1000
) -> None:
    await client.start_sale(eur(minor), txn_id)
    await terminal(control, "present")
    await terminal(control, "approve")


async def test_reversal_marks_the_original(client: KineticClient, sim_control: SimControl) -> None:
    await approved_sale(client, sim_control, "to-reverse", 1500)
    reversal = await client.reverse("to-reverse", "rev-1")
    assert (reversal.id, reversal.type, reversal.result) == ("rev-1", "reversal", "approved")
    assert not reversal.is_active
    assert reversal.reference_txn_id == "to-reverse"
    assert reversal.amount == eur(1500)
    assert (await client.transaction("to-reverse")).is_reversed
    with pytest.raises(TransactionNotReversible, match="already reversed"):
        await client.reverse("to-reverse", "rev-2")
    with pytest.raises(TransactionNotFound):
        await client.reverse("never-was", "rev-3")


async def test_only_approved_sales_can_be_reversed(
    client: KineticClient, sim_control: SimControl
) -> None:
    await client.start_sale(eur(1000), "declined")
    await terminal(sim_control, "decline")
    with pytest.raises(TransactionNotReversible):
        await client.reverse("declined")
    await client.start_sale(eur(1000), "active")
    with pytest.raises(TransactionInProgress):
        await client.reverse("declined")


async def test_a_declined_reversal_leaves_the_sale(
    client: KineticClient, sim_control: SimControl
) -> None:
    await approved_sale(client, sim_control, "kept")
    await sim_control.call("POST", "/kinetic/reversals", {"outcome": "decline"})
    reversal = await client.reverse("kept", "rev-kept")
    assert reversal.result == "declined"
    assert not (await client.transaction("kept")).is_reversed


async def test_reconciliation_totals_and_receipt(
    client: KineticClient, sim_control: SimControl
) -> None:
    await approved_sale(client, sim_control, "s1", 1000)
    await approved_sale(client, sim_control, "s2", 500)
    await client.reverse("s2")
    await client.start_refund(eur(200), "r1")
    await terminal(sim_control, "approve")
    await client.start_sale(eur(999), "s3")
    await terminal(sim_control, "decline")

    day = await client.reconcile("eod-1")
    assert (day.transaction.id, day.transaction.type) == ("eod-1", "reconciliation")
    assert day.transaction.result == "approved"
    assert day.transaction.amount == eur(800)  # 10.00 - 2.00; the reversed and declined don't count
    assert day.receipt.instructions[0] == PrintScroll(100)  # sent as {"mount": 100}
    assert "NET TOTAL  EUR 8.00" in day.receipt.lines
    assert "SALES 1  EUR 10.00" in day.receipt.lines
    merchant = await client.receipt("eod-1", "merchant")
    assert merchant.lines == day.receipt.lines
    with pytest.raises(ReceiptNotAvailable):
        await client.receipt("eod-1", "cardholder")
    with pytest.raises(ReceiptNotAvailable):
        await client.receipt("s1", "reconciliation")
    # The batch is closed: its sales can no longer be reversed.
    with pytest.raises(TransactionNotReversible, match="reconciliation"):
        await client.reverse("s1")
    assert (await client.reconcile()).transaction.amount == eur(0)


# -- receipts and printer ----------------------------------------------------------


async def test_receipts_of_a_sale(client: KineticClient, sim_control: SimControl) -> None:
    await client.start_sale(eur(1000), "receipt")
    with pytest.raises(ReceiptNotAvailable):
        await client.receipt("receipt", "merchant")  # still active
    await terminal(sim_control, "present", {"brand": "visa", "last4": "0010"})
    await terminal(sim_control, "approve")
    auth = (await client.transaction("receipt")).auth_code
    cardholder = await client.receipt("receipt", "cardholder")
    assert cardholder.instructions[0] == PrintScroll(100)  # sent as {"amount": "100"}
    assert f"AUTH CODE  {auth}" in cardholder.lines
    assert "AMOUNT  EUR 10.00" in cardholder.lines
    assert "CARDHOLDER COPY" in cardholder.lines
    assert "************0010" in cardholder.lines
    merchant = await client.receipt("receipt", "merchant")
    assert "MERCHANT COPY" in merchant.lines
    with pytest.raises(ValueError, match="receipt kind"):
        await client.receipt("receipt", "gift")  # type: ignore[arg-type]


async def test_print_records_the_job(client: KineticClient, sim_control: SimControl) -> None:
    await approved_sale(client, sim_control, "printed")
    receipt = await client.receipt("printed", "cardholder")
    await client.print(receipt)
    printed = (await sim_control.call("GET", "/kinetic/printed"))["printed"]
    assert [job["instructions"] for job in printed] == [receipt.to_json()]
    assert printed[0]["instructions"][0] == {"command": "scroll", "amount": 100}

    await sim_control.call("POST", "/kinetic/printer", {"paper": False})
    with pytest.raises(PrinterError, match="paper"):
        await client.print(receipt)
    await sim_control.call("POST", "/kinetic/printer", {"available": False})
    with pytest.raises(PrinterUnavailable):
        await client.print(receipt.instructions)
    assert len((await sim_control.call("GET", "/kinetic/printed"))["printed"]) == 1


# -- transport and protocol faults --------------------------------------------------


async def test_malformed_json_is_a_protocol_error(
    client: KineticClient, sim_control: SimControl
) -> None:
    await sim_control.set_fault("kinetic", "/transactions/latest.json", "malformed_json", count=1)
    with pytest.raises(ProtocolError, match="not valid JSON"):
        await client.latest()
    assert client.health.ok is False
    assert await client.latest() is None
    assert client.health.ok is True


async def test_html_502_is_retried_on_reads(client: KineticClient, sim_control: SimControl) -> None:
    await sim_control.set_fault("kinetic", "/device.json", "html_502", count=2)
    assert (await client.device()).family == "A920"
    assert await sim_control.faults() == []


async def test_html_502_is_not_retried_on_a_sale(
    client: KineticClient, sim_control: SimControl
) -> None:
    await sim_control.set_fault(
        "kinetic", "/transactions/sale.json", "html_502", method="POST", count=2
    )
    with pytest.raises(ServerError) as info:
        await client.start_sale(eur(1000), "not-twice")
    assert info.value.status == 502
    (left,) = await sim_control.faults()
    assert left["fired"] == 1, "the sale was sent again although its answer was lost"


async def test_slow_answer_times_out(
    sim: Any, clock: ControlledClock, sim_control: SimControl
) -> None:
    await sim_control.set_fault(
        "kinetic", "/transactions/current.json", "delay", seconds=1, count=1
    )
    async with make_client(sim, clock, timeout_s=0.2, retry=RetryPolicy(attempts=1)) as c:
        with pytest.raises(ServiceTimeout):
            await c.current()
        assert c.health.ok is False


async def test_dropped_connection_on_a_sale(client: KineticClient, sim_control: SimControl) -> None:
    await sim_control.set_fault(
        "kinetic", "/transactions/sale.json", "drop_connection", method="POST", count=1
    )
    with pytest.raises(ServiceUnavailable):
        await client.start_sale(eur(1000), "dropped")
    assert await client.find_transaction("dropped") is None


async def test_an_offline_terminal_is_unavailable(
    client: KineticClient, sim_control: SimControl
) -> None:
    await sim_control.call("POST", "/kinetic/offline", {"offline": True})
    with pytest.raises(ServiceUnavailable):
        await client.ping()
    assert await client.check_health() is False
    await sim_control.call("POST", "/kinetic/offline", {"offline": False})
    assert await client.ping() is True


async def test_nothing_listening_is_unavailable(clock: ControlledClock) -> None:
    async with KineticClient(
        "http://127.0.0.1:9/api/v2",
        username="u",
        password="p",
        clock=clock,
        retry=RetryPolicy(attempts=1),
    ) as c:
        with pytest.raises(ServiceUnavailable):
            await c.device()


async def test_sim_rejects_what_the_terminal_would(client: KineticClient, sim: Any) -> None:
    auth = ("kinetic", "kinetic-secret")
    base = sim.url_for("kinetic")
    async with httpx.AsyncClient(auth=auth) as http:
        for body in ({"amount": 10.5}, {"amount": "1000"}, {"amount": 0}, {"amount": 1, "x": 1}):
            resp = await http.post(f"{base}/transactions/sale.json", json=body)
            assert resp.status_code == 400, body
            assert resp.json()["success"] is False
        resp = await http.post(f"{base}/transactions/void.json", json={})
        assert resp.status_code == 400
        resp = await http.post(f"{base}/print.json", json={"instructions": [{"command": "x"}]})
        assert resp.status_code == 400
    assert await client.latest() is None


# -- the payment method over this contract --------------------------------------------


class Journal:
    def __init__(self) -> None:
        self.records: list[PaymentRecord] = []

    async def __call__(self, record: PaymentRecord) -> None:
        self.records.append(record)


@pytest.fixture
def paced(clock: ControlledClock) -> PacedClock:
    return PacedClock(clock)


@pytest.fixture
async def method(sim: Any, paced: PacedClock) -> AsyncIterator[KineticPayment]:
    async with make_client(sim, paced) as c:
        yield KineticPayment(c, clock=paced)


async def next_status(attempt: PaymentAttempt, phase: str) -> list[PaymentStatus]:
    """Statuses up to and including the first of ``phase``."""
    seen: list[PaymentStatus] = []
    stream = attempt.statuses()
    try:
        while not seen or seen[-1].phase != phase:
            seen.append(await asyncio.wait_for(anext(stream), 5))
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
    return seen


async def final(attempt: PaymentAttempt) -> tuple[PaymentResult, list[PaymentStatus]]:
    statuses: list[PaymentStatus] = []

    async def collect() -> None:
        async for status in attempt.statuses():
            statuses.append(status)

    await asyncio.wait_for(collect(), 5)
    return await asyncio.wait_for(attempt.result(), 5), statuses


async def test_payment_statuses_follow_the_terminal(
    method: KineticPayment, paced: PacedClock, sim_control: SimControl
) -> None:
    attempt = await method.start(eur(1000), "sale-statuses")
    seq = await paced.waiting()
    await terminal(sim_control, "present", {"brand": "amex", "last4": "0005", "pin": True})
    paced.wake()
    seq = await paced.waiting(after=seq)
    await terminal(sim_control, "process")
    paced.wake()
    await paced.waiting(after=seq)
    await terminal(sim_control, "approve")
    paced.run_free()
    result, statuses = await final(attempt)
    assert [s.phase for s in statuses] == [
        "starting",
        "waiting_for_customer",
        "pin_entry",
        "processing",
    ]
    assert not any(s.cancellable for s in statuses), "the kiosk cannot cancel a Kinetic sale"
    assert result.outcome is Outcome.APPROVED
    assert result.amount_taken == eur(1000)
    assert (result.card_brand, result.card_last4) == ("amex", "0005")
    assert result.auth_code is not None
    assert f"AUTH CODE  {result.auth_code}" in result.receipt_lines
    assert "CARDHOLDER COPY" in result.receipt_lines


async def test_cancel_asks_the_customer_and_waits_for_the_terminal(
    method: KineticPayment, paced: PacedClock, sim_control: SimControl, clock: ControlledClock
) -> None:
    attempt = await method.start(eur(1000), "sale-cancel")
    await paced.waiting()
    await attempt.cancel()
    cancelling = (await next_status(attempt, "cancelling"))[-1]
    assert cancelling.message == CANCEL_ON_TERMINAL
    assert not cancelling.cancellable
    # Nothing was stopped: the sale still runs on the terminal...
    assert (await sim_state(sim_control))["current"] is not None
    # ...until the terminal's own timeout (nobody pressed its Cancel key).
    clock.advance(150)
    paced.run_free()
    result, _ = await final(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.TIMED_OUT, eur(0))


async def test_cancel_cannot_stop_a_customer_who_pays(
    method: KineticPayment, paced: PacedClock, sim_control: SimControl
) -> None:
    attempt = await method.start(eur(1000), "sale-paid-anyway")
    await paced.waiting()
    await attempt.cancel()
    await next_status(attempt, "cancelling")
    await terminal(sim_control, "approve")
    paced.run_free()
    result, _ = await final(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.APPROVED, eur(1000))
    assert result.needs_compensation


async def test_a_cancel_before_the_sale_is_sent_sends_nothing(
    method: KineticPayment, sim_control: SimControl
) -> None:
    release = asyncio.Event()
    journal = Journal()

    async def slow_journal(record: PaymentRecord) -> None:
        await journal(record)
        await release.wait()

    attempt = await method.start(eur(1000), "sale-early-cancel", journal=slow_journal)
    await attempt.cancel()
    release.set()
    result, _ = await final(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.CANCELLED, eur(0))
    assert (await sim_state(sim_control))["transactions"] == []
    assert len(journal.records) == 1


class LoseSaleAnswer(httpx.AsyncBaseTransport):
    """The terminal takes the sale; its answer never comes back (a timeout)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lost = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and request.url.path.endswith("/transactions/sale.json"):
            await response.aread()
            await response.aclose()
            self.lost += 1
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_sale_whose_answer_was_lost_is_found_by_its_key(
    sim: Any, paced: PacedClock, sim_control: SimControl
) -> None:
    transport = LoseSaleAnswer()
    journal = Journal()
    async with (
        httpx.AsyncClient(transport=transport) as http,
        make_client(sim, paced, http=http) as c,
    ):
        method = KineticPayment(c, clock=paced)
        attempt = await method.start(eur(1000), "sale-lost", journal=journal)
        await paced.waiting()  # following the sale it found
        await terminal(sim_control, "approve")
        paced.run_free()
        result, _ = await final(attempt)
    assert transport.lost == 1
    assert (result.outcome, result.amount_taken) == (Outcome.APPROVED, eur(1000))
    key = attempt.record.key
    assert [r.reference for r in journal.records] == [None, key]
    assert [t["id"] for t in (await sim_state(sim_control))["transactions"]] == [key]


async def test_a_sale_that_never_reached_the_terminal_fails_with_nothing_taken(
    method: KineticPayment, paced: PacedClock, sim_control: SimControl
) -> None:
    await sim_control.set_fault(
        "kinetic", "/transactions/sale.json", "drop_connection", method="POST", count=1
    )
    paced.run_free()
    attempt = await method.start(eur(1000), "sale-never")
    result, _ = await final(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.FAILED, eur(0))
    assert result.detail is not None
    assert "never started" in result.detail
    assert (await sim_state(sim_control))["transactions"] == []


async def test_a_busy_terminal_fails_without_taking_money(
    method: KineticPayment, sim_control: SimControl
) -> None:
    await method.client.start_sale(eur(100), "someone-else")
    attempt = await method.start(eur(1000), "sale-busy")
    result, _ = await final(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.FAILED, eur(0))
    assert result.detail is not None
    assert "busy" in result.detail


async def paid(method: KineticPayment, paced: PacedClock, control: SimControl) -> PaymentResult:
    attempt = await method.start(eur(1000), "sale-paid")
    await paced.waiting()
    await terminal(control, "approve")
    paced.run_free()
    result, _ = await final(attempt)
    assert result.outcome is Outcome.APPROVED
    return result


async def test_compensation_is_one_reversal_however_often_asked(
    method: KineticPayment, paced: PacedClock, sim_control: SimControl
) -> None:
    result = await paid(method, paced, sim_control)
    first = await method.compensate(result)
    again = await method.compensate(result)
    assert (first.kind, first.amount) == ("reversed", eur(1000))
    assert first.reference == method.reversal_key(result.record)
    assert (again.kind, again.detail) == ("reversed", "already reversed")
    reversals = [
        t for t in (await sim_state(sim_control))["transactions"] if t["type"] == "reversal"
    ]
    assert len(reversals) == 1
    recovered = await method.recover(result.record)
    assert (recovered.outcome, recovered.amount_taken) == (Outcome.CANCELLED, eur(0))


async def test_a_declined_reversal_is_left_to_staff(
    method: KineticPayment, paced: PacedClock, sim_control: SimControl
) -> None:
    result = await paid(method, paced, sim_control)
    await sim_control.call("POST", "/kinetic/reversals", {"outcome": "decline"})
    compensation = await method.compensate(result)
    assert compensation.kind == "failed"
    assert not compensation.done
    assert compensation.detail is not None
    assert "declined" in compensation.detail
    # Asked again later, the same reversal id is found: nothing is sent twice.
    await sim_control.call("POST", "/kinetic/reversals", {"outcome": "approve"})
    assert (await method.compensate(result)).kind == "failed"


async def test_recover_with_the_terminal_offline_is_unknown(
    method: KineticPayment, paced: PacedClock, sim_control: SimControl
) -> None:
    result = await paid(method, paced, sim_control)
    await sim_control.call("POST", "/kinetic/offline", {"offline": True})
    recovered = await method.recover(result.record)
    assert (recovered.outcome, recovered.amount_taken) == (Outcome.UNKNOWN, eur(0))


async def test_a_host_error_fails_with_nothing_taken(
    method: KineticPayment, paced: PacedClock, sim_control: SimControl
) -> None:
    attempt = await method.start(eur(1000), "sale-host-error")
    await paced.waiting()
    await terminal(sim_control, "present")
    await terminal(sim_control, "error")
    paced.run_free()
    result, _ = await final(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.FAILED, eur(0))
    assert result.auth_code is None
    assert (await method.compensate(result)).kind == "not_needed"
