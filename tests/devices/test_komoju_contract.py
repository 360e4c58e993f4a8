"""The KOMOJU client (and the payment method on it) against the KOMOJU simulator.

Real loopback HTTP both ways: client → simulator, and signed webhooks
simulator → the kiosk's CallbackReceiver → client. Time is the simulator's
ControlledClock, shared with the client; tests wait on conditions (control
``wait``, callback drains, results), never on sleeps.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from kioskapp.config import Config
from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money
from kioskapp.devices.callbacks import CallbackReceiver
from kioskapp.devices.errors import (
    AuthError,
    InvalidRequest,
    NotFound,
    ProtocolError,
    ServerError,
    ServiceTimeout,
    ServiceUnavailable,
)
from kioskapp.devices.http import RetryPolicy
from kioskapp.devices.komoju import (
    WEBHOOK_PATH,
    CancelRefused,
    KomojuClient,
    PaymentNotCancellable,
    PaymentNotRefundable,
    PrintFailed,
    PushRefused,
    SessionNotPending,
    from_config,
    sign_webhook,
)
from kioskapp.payments.base import Outcome, PaymentAttempt, PaymentResult, PaymentStatus
from kioskapp.payments.komoju import KomojuPayment
from kioskapp.simulator.control import SimControl

JPY = "JPY"
SECRET = "sk_test_sim"
WEBHOOK_SECRET = "whsec_sim"
TERMINAL = "sim-terminal-1"
POLL_S = 2.0


def yen(amount: int) -> Money:
    return Money(amount, JPY)


def make_client(sim: Any, clock: ControlledClock, **kwargs: Any) -> KomojuClient:
    options: dict[str, Any] = {
        "secret_key": SECRET,
        "terminal_id": TERMINAL,
        "webhook_secret": WEBHOOK_SECRET,
        "clock": clock,
        "poll_interval_s": POLL_S,
        "retry": RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0),
    }
    options.update(kwargs)
    return KomojuClient(sim.url_for("komoju"), **options)


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    async with CallbackReceiver(port=0, max_body_bytes=16384) as rx:
        yield rx


@pytest.fixture
async def client(
    sim: Any, clock: ControlledClock, receiver: CallbackReceiver, sim_control: SimControl
) -> AsyncIterator[KomojuClient]:
    async with make_client(sim, clock) as c:
        c.attach(receiver)
        await ctl(sim_control, "POST", "/webhook", {"url": receiver.url_for(WEBHOOK_PATH)})
        yield c


async def ctl(control: SimControl, method: str, path: str, body: Any = None) -> Any:
    return await control.call(method, f"/komoju{path}", body)


async def sim_session(control: SimControl, session_id: str) -> dict[str, Any]:
    state = await ctl(control, "GET", "/state")
    (session,) = [s for s in state["sessions"] if s["id"] == session_id]
    return dict(session)


async def pushed(client: KomojuClient, control: SimControl, amount: int = 1000) -> str:
    session = await client.create_session(yen(amount), external_order_num="order-1")
    await client.push_session(session.id)
    await ctl(control, "POST", "/wait", {"phase": "waiting", "session_id": session.id})
    return session.id


async def webhook_events(control: SimControl) -> list[dict[str, Any]]:
    await control.drain_callbacks()
    return await control.events("komoju")


# -- sessions and the terminal -------------------------------------------------------------


async def test_create_push_pay_and_print(client: KomojuClient, sim_control: SimControl) -> None:
    session = await client.create_session(yen(1000), external_order_num="order-1")
    assert session.is_pending
    assert session.payment is None
    raw = await sim_session(sim_control, session.id)
    assert (raw["amount"], raw["currency"]) == (1000, JPY)
    assert raw["payment_data"] == {"external_order_num": "order-1", "capture": "auto"}
    assert raw["default_locale"] == "ja"

    await client.push_session(session.id)
    state = await ctl(sim_control, "POST", "/wait", {"phase": "waiting"})
    assert state["terminal"]["session_id"] == session.id
    await client.push_session(session.id)  # pushing it again changes nothing
    assert (await ctl(sim_control, "GET", "/state"))["terminals"][0]["pushes"] == 1

    with pytest.raises(PrintFailed, match="Could not print session on device"):
        await client.print_receipt(session.id)  # nothing paid yet

    await ctl(sim_control, "POST", "/terminal/approve", {"brand": "master", "last4": "5454"})
    paid = await client.get_session(session.id)
    assert paid.is_completed
    assert paid.payment is not None
    assert (paid.payment.status, paid.payment.brand, paid.payment.last4) == (
        "captured",
        "master",
        "5454",
    )
    assert paid.payment.amount == yen(1000)
    assert paid.payment.session_id == session.id

    await client.print_receipt(session.id)
    printed = (await ctl(sim_control, "GET", "/state"))["terminals"][0]["printed"]
    assert [p["session_id"] for p in printed] == [session.id]
    assert client.health.ok is True


async def test_push_when_not_pending_is_refused(
    client: KomojuClient, sim_control: SimControl
) -> None:
    session_id = await pushed(client, sim_control)
    await ctl(sim_control, "POST", "/terminal/approve")
    with pytest.raises(SessionNotPending, match="must be pending") as info:
        await client.push_session(session_id)
    assert (info.value.status, info.value.code) == (422, "error")


async def test_cancel_then_the_session_cannot_be_paid(
    client: KomojuClient, sim_control: SimControl
) -> None:
    session_id = await pushed(client, sim_control)
    await client.cancel_session(session_id)
    await client.cancel_session(session_id)  # a repeated cancel is harmless
    session = await client.get_session(session_id)
    assert session.is_cancelled
    assert session.cancelled_at is not None
    state = await ctl(sim_control, "GET", "/state")
    assert state["terminals"][0]["phase"] == "idle"
    with pytest.raises(SessionNotPending):
        await client.push_session(session_id)


async def test_cancel_is_refused_while_authorising_and_after_payment(
    client: KomojuClient, sim_control: SimControl
) -> None:
    session_id = await pushed(client, sim_control)
    await ctl(sim_control, "POST", "/terminal/present")
    card = await client.get_session(session_id)
    assert card.payment is not None
    assert card.payment.status == "pending"
    await ctl(sim_control, "POST", "/terminal/process")
    with pytest.raises(CancelRefused, match="Could not cancel session"):
        await client.cancel_session(session_id)
    await ctl(sim_control, "POST", "/terminal/approve")
    with pytest.raises(CancelRefused):
        await client.cancel_session(session_id)
    assert (await client.get_session(session_id)).is_completed


async def test_a_never_pushed_session_can_be_cancelled(client: KomojuClient) -> None:
    session = await client.create_session(yen(500), external_order_num="o")
    await client.cancel_session(session.id)
    assert (await client.get_session(session.id)).is_cancelled


async def test_an_offline_terminal_refuses_the_push(
    client: KomojuClient, sim_control: SimControl
) -> None:
    await ctl(sim_control, "POST", "/terminal", {"offline": True})
    session = await client.create_session(yen(500), external_order_num="o")
    with pytest.raises(PushRefused, match="offline") as info:
        await client.push_session(session.id)
    assert not isinstance(info.value, SessionNotPending)


async def test_sessions_expire_on_the_simulated_clock(
    client: KomojuClient, sim_control: SimControl
) -> None:
    await ctl(sim_control, "POST", "/config", {"session_ttl_s": 60})
    session_id = await pushed(client, sim_control)
    await sim_control.advance(59)
    assert (await client.get_session(session_id)).is_pending
    await sim_control.advance(1)
    session = await client.get_session(session_id)
    assert session.expired
    assert session.status == "pending"
    assert not session.is_pending
    assert (await ctl(sim_control, "GET", "/state"))["terminals"][0]["phase"] == "idle"
    with pytest.raises(SessionNotPending):
        await client.push_session(session_id)


async def test_a_decline_leaves_the_session_pending_with_a_failed_payment(
    client: KomojuClient, sim_control: SimControl
) -> None:
    session_id = await pushed(client, sim_control)
    await ctl(sim_control, "POST", "/terminal/decline")
    session = await client.get_session(session_id)
    assert session.is_pending
    assert session.payment is not None
    assert session.payment.status == "failed"
    state = await ctl(sim_control, "GET", "/state")
    assert state["terminals"][0]["phase"] == "waiting"  # the customer could try again


async def test_creating_twice_with_one_idempotency_key_gives_one_session(
    client: KomojuClient, sim_control: SimControl
) -> None:
    first = await client.create_session(yen(1000), external_order_num="o", idempotency_key="k1")
    again = await client.create_session(yen(1000), external_order_num="o", idempotency_key="k1")
    assert again.id == first.id
    assert len((await ctl(sim_control, "GET", "/state"))["sessions"]) == 1


async def test_unknown_session_and_terminal(sim: Any, clock: ControlledClock) -> None:
    async with make_client(sim, clock) as c:
        with pytest.raises(NotFound):
            await c.get_session("nosuchsession")
        session = await c.create_session(yen(100), external_order_num="o")
    async with make_client(sim, clock, terminal_id="tm_unknown") as other:
        with pytest.raises(NotFound, match="Terminal tm_unknown not found"):
            await other.push_session(session.id)


# -- payments: refund and cancel ---------------------------------------------------------------


async def paid(client: KomojuClient, control: SimControl, **body: Any) -> tuple[str, str]:
    session_id = await pushed(client, control)
    await ctl(control, "POST", "/terminal/approve", body)
    session = await client.get_session(session_id)
    assert session.payment is not None
    return session_id, session.payment.id


async def test_refund_once_per_key(client: KomojuClient, sim_control: SimControl) -> None:
    _, payment_id = await paid(client, sim_control)
    refunded = await client.refund_payment(payment_id, yen(1000), idempotency_key="r1")
    assert refunded.status == "refunded"
    assert refunded.refunded == yen(1000)
    again = await client.refund_payment(payment_id, yen(1000), idempotency_key="r1")
    assert again == refunded  # replayed, not refunded twice
    with pytest.raises(PaymentNotRefundable):
        await client.refund_payment(payment_id, yen(1000), idempotency_key="r2")
    payment = await client.get_payment(payment_id)
    assert payment.refunded == yen(1000)
    assert len(payment.refund_ids) == 1
    types = [e["event"] for e in await webhook_events(sim_control)]
    assert types[-1] == "payment.refunded"


async def test_partial_refund_and_too_much(client: KomojuClient, sim_control: SimControl) -> None:
    _, payment_id = await paid(client, sim_control)
    part = await client.refund_payment(payment_id, yen(300), idempotency_key="p1")
    assert (part.status, part.refunded) == ("captured", yen(300))
    with pytest.raises(InvalidRequest, match="param amount"):
        await client.refund_payment(payment_id, yen(701), idempotency_key="p2")


async def test_cancel_payment_voids_an_authorization_only(
    client: KomojuClient, sim_control: SimControl
) -> None:
    _, captured_id = await paid(client, sim_control)
    with pytest.raises(PaymentNotCancellable):
        await client.cancel_payment(captured_id, idempotency_key="c1")
    auth = await client.create_session(yen(800), external_order_num="o2", capture="manual")
    await client.push_session(auth.id)
    await ctl(sim_control, "POST", "/terminal/approve")
    session = await client.get_session(auth.id)
    assert session.payment is not None
    assert session.payment.status == "authorized"
    voided = await client.cancel_payment(session.payment.id, idempotency_key="c2")
    assert voided.status == "cancelled"


# -- transport, faults, credentials, money ------------------------------------------------------------


async def test_malformed_json_is_a_protocol_error(
    client: KomojuClient, sim_control: SimControl
) -> None:
    session = await client.create_session(yen(100), external_order_num="o")
    await sim_control.set_fault("komoju", f"/api/v1/sessions/{session.id}", "malformed_json")
    with pytest.raises(ProtocolError, match="not valid JSON"):
        await client.get_session(session.id)
    assert client.health.ok is False


async def test_an_html_502_is_a_server_error_retried_for_reads(
    client: KomojuClient, sim_control: SimControl
) -> None:
    session = await client.create_session(yen(100), external_order_num="o")
    path = f"/api/v1/sessions/{session.id}"
    await sim_control.set_fault("komoju", path, "html_502", count=1)
    assert (await client.get_session(session.id)).id == session.id  # the retry got through
    await sim_control.set_fault("komoju", path, "html_502")
    with pytest.raises(ServerError, match="non-JSON") as info:
        await client.get_session(session.id)
    assert info.value.status == 502


async def test_print_is_never_repeated_blindly(
    client: KomojuClient, sim_control: SimControl
) -> None:
    session_id, _ = await paid(client, sim_control)
    await sim_control.set_fault(
        "komoju", f"/api/v1/terminals/{TERMINAL}/sessions/{session_id}/print", "html_502", count=1
    )
    with pytest.raises(ServerError):
        await client.print_receipt(session_id)
    assert (await ctl(sim_control, "GET", "/state"))["terminals"][0]["printed"] == []


async def test_no_answer_in_time_is_a_timeout(
    sim: Any, clock: ControlledClock, sim_control: SimControl
) -> None:
    async with make_client(sim, clock, timeout_s=0.2, retry=RetryPolicy(attempts=1)) as c:
        session = await c.create_session(yen(100), external_order_num="o")
        await sim_control.set_fault(
            "komoju", f"/api/v1/sessions/{session.id}", "delay", seconds=0.6
        )
        with pytest.raises(ServiceTimeout):
            await c.get_session(session.id)


async def test_a_dropped_connection_is_unavailable(
    client: KomojuClient, sim_control: SimControl
) -> None:
    await sim_control.set_fault("komoju", "/api/v1/sessions", "drop_connection")
    with pytest.raises(ServiceUnavailable):
        await client.create_session(yen(100), external_order_num="o")
    assert (await ctl(sim_control, "GET", "/state"))["sessions"] == []


async def test_bad_credentials(sim: Any, clock: ControlledClock) -> None:
    async with make_client(sim, clock, secret_key="sk_test_wrong") as c:
        with pytest.raises(AuthError) as info:
            await c.create_session(yen(100), external_order_num="o")
    assert (info.value.status, info.value.code) == (401, "unauthorized")
    assert "sk_test_wrong" not in str(info.value)


async def test_money_in_the_smallest_unit_for_jpy_and_eur(
    client: KomojuClient, sim_control: SimControl
) -> None:
    jpy = await client.create_session(yen(1500), external_order_num="j")
    eur = await client.create_session(Money(1050, "EUR"), external_order_num="e")
    assert (jpy.amount, eur.amount) == (yen(1500), Money(1050, "EUR"))
    raw_jpy, raw_eur = (
        await sim_session(sim_control, jpy.id),
        await sim_session(sim_control, eur.id),
    )
    assert (raw_jpy["amount"], raw_jpy["currency"]) == (1500, "JPY")
    assert (raw_eur["amount"], raw_eur["currency"]) == (1050, "EUR")
    assert (await client.get_session(eur.id)).amount == Money.from_major("10.50", "EUR")


async def test_from_config_points_at_the_simulator_defaults() -> None:
    client = from_config(Config())
    try:
        assert client.base_url == "http://127.0.0.1:8710/komoju"
        assert client.terminal_id == TERMINAL
        assert client.poll_interval_s == 2.0
        assert client.locale == "en"
        shown = repr(vars(client))
        assert SECRET not in shown
        assert base64.b64encode(f"{SECRET}:".encode()).decode() not in shown
        assert WEBHOOK_SECRET not in shown
    finally:
        await client.aclose()


# -- webhooks through the kiosk's receiver -----------------------------------------------------------


async def test_a_signed_webhook_reaches_the_watch(
    client: KomojuClient, sim_control: SimControl
) -> None:
    session_id = await pushed(client, sim_control)
    with client.watch(session_id) as watch:
        await ctl(sim_control, "POST", "/terminal/approve")
        await asyncio.wait_for(watch.hint.wait(), 5)
        (payment,) = watch.take()
    assert (payment.status, payment.session_id, payment.amount) == (
        "captured",
        session_id,
        yen(1000),
    )
    (event,) = await webhook_events(sim_control)
    assert (event["event"], event["fate"], event["status"]) == (
        "payment.captured",
        "delivered",
        200,
    )


async def test_a_bad_signature_is_refused_with_401(
    client: KomojuClient, sim_control: SimControl
) -> None:
    session_id = await pushed(client, sim_control)
    await sim_control.set_callback_mode("bad_signature", count=1)
    with client.watch(session_id) as watch:
        await ctl(sim_control, "POST", "/terminal/approve")
        (event,) = await webhook_events(sim_control)
        assert (event["fate"], event["status"]) == ("failed", 401)
        assert watch.take() == []


async def test_unsigned_or_foreign_webhooks_are_refused(
    client: KomojuClient, receiver: CallbackReceiver
) -> None:
    body = b'{"id":"e1","type":"ping","resource":"event","data":{}}'
    url = receiver.url_for(WEBHOOK_PATH)
    async with httpx.AsyncClient() as http:
        unsigned = await http.post(url, content=body)
        foreign = await http.post(
            url, content=body, headers={"X-Komoju-Signature": sign_webhook(body, "whsec_x")}
        )
        good = await http.post(
            url, content=body, headers={"x-komoju-signature": sign_webhook(body, WEBHOOK_SECRET)}
        )
        junk_body = b"not json"
        junk = await http.post(
            url,
            content=junk_body,
            headers={"X-Komoju-Signature": sign_webhook(junk_body, WEBHOOK_SECRET)},
        )
    assert (unsigned.status_code, foreign.status_code) == (401, 401)
    assert unsigned.json()["error"] == "bad signature"
    assert (good.status_code, good.json()["result"]) == (200, "ping")
    assert junk.status_code == 400


async def test_a_client_without_a_webhook_secret_accepts_nothing(
    sim: Any, clock: ControlledClock, receiver: CallbackReceiver
) -> None:
    async with make_client(sim, clock, webhook_secret="") as c:
        c.attach(receiver, "/bare")
        body = b'{"id":"e1","type":"ping"}'
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                receiver.url_for("/bare"),
                content=body,
                headers={"X-Komoju-Signature": sign_webhook(body, "")},
            )
    assert answer.status_code == 401


async def test_a_duplicated_webhook_changes_nothing(
    client: KomojuClient, sim_control: SimControl
) -> None:
    session_id = await pushed(client, sim_control)
    await sim_control.set_callback_mode("duplicate", count=1)
    with client.watch(session_id) as watch:
        await ctl(sim_control, "POST", "/terminal/approve")
        (event,) = await webhook_events(sim_control)
        assert (event["fate"], event["delivered"]) == ("duplicated", 2)
        assert len(watch.take()) == 1


async def test_a_webhook_nobody_follows_is_accepted(
    client: KomojuClient, sim_control: SimControl
) -> None:
    await pushed(client, sim_control)
    await ctl(sim_control, "POST", "/terminal/approve")
    (event,) = await webhook_events(sim_control)
    assert (event["fate"], event["status"]) == ("delivered", 200)


# -- the payment method on the simulator ---------------------------------------------------------


@pytest.fixture
async def method(client: KomojuClient, clock: ControlledClock) -> KomojuPayment:
    return KomojuPayment(client, clock=clock, timeout_s=180.0)


async def outcome(attempt: PaymentAttempt) -> tuple[PaymentResult, list[PaymentStatus]]:
    statuses: list[PaymentStatus] = []

    async def collect() -> None:
        async for status in attempt.statuses():
            statuses.append(status)

    await asyncio.wait_for(collect(), 10)
    return await asyncio.wait_for(attempt.result(), 10), statuses


async def on_terminal(control: SimControl) -> None:
    await ctl(control, "POST", "/wait", {"phase": "waiting"})


async def test_an_approval_from_the_webhook_alone(
    method: KomojuPayment, sim_control: SimControl
) -> None:
    attempt = await method.start(yen(1000), "sale-1")
    await on_terminal(sim_control)
    # Every poll fails from here: only the webhook can tell.
    await sim_control.set_fault("komoju", "/api/v1/sessions/*", "html_502", method="GET")
    await ctl(sim_control, "POST", "/terminal/approve", {"last4": "1234"})
    result, statuses = await outcome(attempt)
    assert (result.outcome, result.amount_taken, result.card_last4) == (
        Outcome.APPROVED,
        yen(1000),
        "1234",
    )
    assert result.card_brand == "visa"
    assert "AID: A0000000031010" in result.receipt_lines
    assert [s.phase for s in statuses] == ["starting", "waiting_for_customer", "finished"]


async def test_a_lost_webhook_is_caught_by_polling(
    method: KomojuPayment, sim_control: SimControl
) -> None:
    await sim_control.set_callback_mode("drop")
    attempt = await method.start(yen(1000), "sale-1")
    await on_terminal(sim_control)
    await ctl(sim_control, "POST", "/terminal/approve")
    await sim_control.advance(POLL_S)
    result, _ = await outcome(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.APPROVED, yen(1000))
    events = await webhook_events(sim_control)
    assert [e["fate"] for e in events] == ["dropped"]


async def test_a_card_being_read_shows_and_a_decline_cancels_the_session(
    method: KomojuPayment, sim_control: SimControl
) -> None:
    attempt = await method.start(yen(1000), "sale-1")
    await on_terminal(sim_control)
    await ctl(sim_control, "POST", "/terminal/present")
    await ctl(sim_control, "POST", "/terminal/decline")
    result, statuses = await outcome(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.DECLINED, yen(0))
    assert "card_presented" in [s.phase for s in statuses]
    session = await sim_session(sim_control, str(result.record.reference))
    assert session["status"] == "cancelled"  # the customer cannot try again unseen


async def test_a_cancel_refused_while_authorising_reports_the_truth(
    method: KomojuPayment, sim_control: SimControl
) -> None:
    attempt = await method.start(yen(1000), "sale-1")
    await on_terminal(sim_control)
    await ctl(sim_control, "POST", "/terminal/present")
    await ctl(sim_control, "POST", "/terminal/process")
    await attempt.cancel()
    statuses: list[PaymentStatus] = []
    async for status in attempt.statuses():
        statuses.append(status)
        if status.phase == "processing":
            break
    assert statuses[-1].cancellable is False
    await ctl(sim_control, "POST", "/terminal/approve")
    result, _ = await outcome(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.APPROVED, yen(1000))


async def test_the_customer_cancelling_on_the_terminal(
    method: KomojuPayment, sim_control: SimControl
) -> None:
    attempt = await method.start(yen(1000), "sale-1")
    await on_terminal(sim_control)
    await ctl(sim_control, "POST", "/terminal/present")
    await ctl(sim_control, "POST", "/terminal/cancel")  # a payment.cancelled webhook follows
    result, _ = await outcome(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.CANCELLED, yen(0))


async def test_an_expired_session_is_a_timeout(
    client: KomojuClient, clock: ControlledClock, sim_control: SimControl
) -> None:
    await ctl(sim_control, "POST", "/config", {"session_ttl_s": 30})
    method = KomojuPayment(client, clock=clock, timeout_s=180.0)
    attempt = await method.start(yen(1000), "sale-1")
    await on_terminal(sim_control)
    await sim_control.advance(30)
    result, _ = await outcome(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.TIMED_OUT, yen(0))


async def test_a_failed_push_cancels_the_session(
    method: KomojuPayment, sim_control: SimControl
) -> None:
    await ctl(sim_control, "POST", "/terminal", {"offline": True})
    attempt = await method.start(yen(1000), "sale-1")
    result, _ = await outcome(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.FAILED, yen(0))
    assert "offline" in (result.detail or "")


async def test_no_session_means_failed_and_nothing_taken(
    method: KomojuPayment, sim_control: SimControl
) -> None:
    await sim_control.set_fault("komoju", "/api/v1/sessions", "status", status=503)
    attempt = await method.start(yen(1000), "sale-1")
    result, _ = await outcome(attempt)
    assert (result.outcome, result.amount_taken, result.record.reference) == (
        Outcome.FAILED,
        yen(0),
        None,
    )


async def test_recover_an_expired_session(method: KomojuPayment, sim_control: SimControl) -> None:
    await sim_control.set_callback_mode("drop")
    await ctl(sim_control, "POST", "/config", {"session_ttl_s": 30})
    attempt = await method.start(yen(1000), "sale-1")
    await on_terminal(sim_control)
    record = attempt.record
    await attempt.abandon()  # type: ignore[attr-defined]
    await sim_control.advance(30)
    result = await method.recover(record)
    assert (result.outcome, result.amount_taken) == (Outcome.TIMED_OUT, yen(0))


async def test_recover_never_guesses_a_payment_being_authorised(
    client: KomojuClient, clock: ControlledClock, sim_control: SimControl
) -> None:
    method = KomojuPayment(client, clock=clock, processing_grace_s=0)
    attempt = await method.start(yen(1000), "sale-1")
    await on_terminal(sim_control)
    await ctl(sim_control, "POST", "/terminal/present")
    await ctl(sim_control, "POST", "/terminal/process")
    record = attempt.record
    await attempt.abandon()  # type: ignore[attr-defined]
    result = await method.recover(record)
    assert (result.outcome, result.amount_taken) == (Outcome.UNKNOWN, yen(0))
    assert "did not finish" in (result.detail or "")


async def test_recover_follows_a_payment_being_authorised(
    method: KomojuPayment, sim_control: SimControl
) -> None:
    attempt = await method.start(yen(1000), "sale-1")
    await on_terminal(sim_control)
    await ctl(sim_control, "POST", "/terminal/present")
    await ctl(sim_control, "POST", "/terminal/process")
    record = attempt.record
    await attempt.abandon()  # type: ignore[attr-defined]
    recovering = asyncio.ensure_future(method.recover(record))
    await ctl(sim_control, "POST", "/wait", {"cancels_refused": 1})
    assert not recovering.done()
    await ctl(sim_control, "POST", "/terminal/approve")
    for _ in range(10):  # each advance lets one poll run, whenever recover armed it
        if recovering.done():
            break
        await sim_control.advance(POLL_S)
        await asyncio.wait({recovering}, timeout=1)
    result = await asyncio.wait_for(recovering, 5)
    assert (result.outcome, result.amount_taken) == (Outcome.APPROVED, yen(1000))


async def test_compensating_twice_refunds_once(
    method: KomojuPayment, sim_control: SimControl
) -> None:
    attempt = await method.start(yen(1000), "sale-1")
    await on_terminal(sim_control)
    await ctl(sim_control, "POST", "/terminal/approve")
    result, _ = await outcome(attempt)
    first = await method.compensate(result)
    second = await method.compensate(result)
    assert (first.kind, second.kind) == ("refunded", "refunded")
    state = await ctl(sim_control, "GET", "/state")
    (payment,) = state["payments"]
    assert payment["amount_refunded"] == 1000
    assert len(payment["refunds"]) == 1
