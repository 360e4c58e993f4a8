"""The PayJunction client against the PayJunction simulator, over real loopback HTTP.

Webhooks travel simulator → callback receiver → client, as on a kiosk. Time
is the simulator's ControlledClock, shared with the client: nothing waits for
real seconds; tests wait on the request trackers (webhooks) or on the
simulator's state.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money, dumps_json
from kioskapp.devices.callbacks import CallbackReceiver
from kioskapp.devices.errors import (
    AuthError,
    NotFound,
    ProtocolError,
    RateLimited,
    ServerError,
    ServiceTimeout,
)
from kioskapp.devices.http import RetryPolicy
from kioskapp.devices.payjunction import (
    WEBHOOK_PATH,
    NotSent,
    PayJunctionClient,
    PayJunctionTimeouts,
    RequestStatus,
    TerminalBusy,
    TerminalNotConnected,
    ValidationFailed,
    sign_webhook,
)
from kioskapp.devices.tracks import TrackParseError
from kioskapp.payments.base import Outcome, PaymentAttempt, PaymentRecord, PaymentResult
from kioskapp.payments.payjunction import SENDING, PayJunctionPayment
from kioskapp.simulator.control import SimControl

SECRET = "pj-sim-webhook"
TERMINAL = "sim-smart-terminal-1"
SEED_TERMINAL_ERROR = "Terminal does not exist or you do not have permission to access it."
AUTH = ("pj-sim", "pj-sim-password")
APP_KEY = {"X-PJ-Application-Key": "pj-sim-app-key", "Accept": "application/json"}
USD10 = Money(1000, "USD")


def usd(minor: int) -> Money:
    return Money(minor, "USD")


def make_client(sim: Any, clock: Any, **kwargs: Any) -> PayJunctionClient:
    options: dict[str, Any] = {
        "login": "pj-sim",
        "password": "pj-sim-password",
        "application_key": "pj-sim-app-key",
        "smart_terminal_id": TERMINAL,
        "terminal_id": 1,
        "webhook_secret": SECRET,
        "clock": clock,
        "retry": RetryPolicy(attempts=2, base_delay_s=0.0, max_delay_s=0.0),
    }
    options.update(kwargs)
    return PayJunctionClient(sim.url_for("payjunction"), **options)


async def pj(control: SimControl, method: str, path: str, body: Any = None) -> Any:
    return await control.call(method, f"/payjunction{path}", body)


@pytest.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    async with CallbackReceiver(port=0, max_body_bytes=4096) as rx:
        yield rx


@pytest.fixture
async def client(
    sim: Any, clock: ControlledClock, receiver: CallbackReceiver, sim_control: SimControl
) -> AsyncIterator[PayJunctionClient]:
    c = make_client(sim, clock)
    receiver.add_route(WEBHOOK_PATH, c.handle_webhook, parse_json=False)
    await pj(sim_control, "POST", "/webhook", {"url": receiver.url_for(WEBHOOK_PATH)})
    async with c:
        yield c


async def until(
    client: PayJunctionClient,
    request_id: str,
    check: Callable[[RequestStatus], bool],
    timeout: float = 5.0,
) -> RequestStatus:
    """Wait (on webhooks) until the request's known state satisfies ``check``."""
    tracker = client.track(request_id)

    async def wait() -> RequestStatus:
        while tracker.latest is None or not check(tracker.latest):
            await tracker.changed.wait()
        return tracker.latest

    return await asyncio.wait_for(wait(), timeout)


def state_is(state: str) -> Callable[[RequestStatus], bool]:
    return lambda s: s.state == state


async def sim_state(control: SimControl) -> dict[str, Any]:
    return await pj(control, "GET", "/state")


async def running_request(control: SimControl, timeout: float = 5.0) -> dict[str, Any]:
    """Wait until the simulated terminal runs a request (each check is an HTTP round trip)."""

    async def wait() -> dict[str, Any]:
        while True:
            state = await sim_state(control)
            current = state["terminal"]["current"]
            if current is not None:
                return next(r for r in state["requests"] if r["requestId"] == current)

    return await asyncio.wait_for(wait(), timeout)


async def sleeping_on(clock: ControlledClock, seconds: float, timeout: float = 5.0) -> None:
    """Let other tasks run until one waits on the clock for ``seconds``."""

    async def wait() -> None:
        while clock.next_deadline_in() != pytest.approx(seconds):
            await asyncio.sleep(0)  # a yield, not a wait for time

    await asyncio.wait_for(wait(), timeout)


# -- payments -----------------------------------------------------------------------


async def test_approved_payment_end_to_end(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    rid = await client.request_payment(usd(1000))
    shown = await until(client, rid, state_is("IN_PROGRESS"))
    assert (shown.transaction_id, shown.source) == (None, "webhook")
    request = (await sim_state(sim_control))["requests"][0]
    assert request["amount"] == "10.00"
    assert request["showReceiptPrompt"] is False
    await pj(sim_control, "POST", "/terminal/present", {"brand": "VISA", "last4": "4242"})
    done = await until(client, rid, state_is("COMPLETE"))
    assert done.transaction_id is not None
    polled = await client.request_status(rid)
    assert polled.final
    assert polled.payment is not None
    assert polled.payment.approved
    assert (polled.payment.amount, polled.payment.card_last4) == (usd(1000), "4242")
    assert polled.payment.approval_code
    tx = await client.transaction(done.transaction_id)
    assert (tx.status, tx.approved, tx.amount, tx.card_brand) == (
        "CAPTURE",
        True,
        usd(1000),
        "VISA",
    )
    assert client.health.ok is True


async def test_each_status_connecting_no_connection(
    client: PayJunctionClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    await pj(sim_control, "POST", "/terminal", {"online": False})
    rid = await client.request_payment(usd(1000))
    status = await client.request_status(rid)
    assert (status.state, status.final) == ("CONNECTING", False)
    await sim_control.advance(10)
    gone = await until(client, rid, state_is("NO_CONNECTION"))
    assert gone.final
    assert (await client.request_status(rid)).state == "NO_CONNECTION"


async def test_an_offline_terminal_coming_back_connects_the_request(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    await pj(sim_control, "POST", "/terminal", {"online": False})
    rid = await client.request_payment(usd(1000))
    await until(client, rid, state_is("CONNECTING"))
    await pj(sim_control, "POST", "/terminal", {"online": True})
    await until(client, rid, state_is("IN_PROGRESS"))


async def test_busy_while_the_terminal_runs_another_request(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    first = await client.request_payment(usd(1000))
    await until(client, first, state_is("IN_PROGRESS"))
    second = await client.request_payment(usd(500))
    assert (await until(client, second, state_is("BUSY"))).final
    assert (await client.request_status(second)).state == "BUSY"
    # The first one was not interrupted.
    assert (await client.request_status(first)).state == "IN_PROGRESS"


async def test_busy_when_someone_else_uses_the_terminal(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    await pj(sim_control, "POST", "/terminal", {"busy": True})
    rid = await client.request_payment(usd(1000))
    assert (await client.request_status(rid)).state == "BUSY"


async def test_in_progress_carries_the_transaction_id_during_the_receipt_prompt(
    sim: Any, clock: ControlledClock, sim_control: SimControl
) -> None:
    async with make_client(sim, clock, show_receipt_prompt=True) as c:
        rid = await c.request_payment(usd(1000))
        await pj(sim_control, "POST", "/terminal/present")
        status = await c.request_status(rid)
        assert (status.state, status.final, status.has_result) == ("IN_PROGRESS", False, False)
        assert status.transaction_id is not None
        assert (await c.transaction(status.transaction_id)).approved
        await pj(sim_control, "POST", "/terminal/receipt")
        await sim_control.advance(0.5)
        done = await c.request_status(rid)
        assert done.state == "COMPLETE"
        assert done.payment is not None
        assert done.payment.transaction_id == status.transaction_id


@pytest.mark.parametrize(
    ("minor", "code", "message"),
    [
        (1001, "01", "Call Issuer"),
        (1005, "05", "Do Not Honor"),
        (1008, "51", "Insufficient Funds"),
        (1091, "91", "No Reply"),
    ],
)
async def test_sandbox_trigger_amounts_decline(
    client: PayJunctionClient, sim_control: SimControl, minor: int, code: str, message: str
) -> None:
    rid = await client.request_payment(usd(minor))
    await pj(sim_control, "POST", "/terminal/present")
    status = await client.request_status(rid)
    assert status.payment is not None
    assert (status.payment.status, status.payment.approved) == ("DECLINED", False)
    assert status.payment.message == message
    assert status.payment.approval_code is None
    tx = await client.transaction(status.payment.transaction_id)
    assert (tx.status, tx.approved, tx.response_code) == ("DECLINED", False, code)


async def test_red_x_completes_a_payment_without_a_transaction(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    rid = await client.request_payment(usd(1000))
    await pj(sim_control, "POST", "/terminal/red-x")
    status = await client.request_status(rid)
    assert (status.state, status.transaction_id, status.has_result) == ("COMPLETE", None, False)


async def test_main_screen_ends_a_request_before_a_card(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    rid = await client.request_payment(usd(1000))
    await client.return_to_main()
    status = await client.request_status(rid)
    assert (status.state, status.transaction_id) == ("COMPLETE", None)
    assert (await sim_state(sim_control))["terminal"]["current"] is None


async def test_main_screen_is_too_late_once_the_card_was_read(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    rid = await client.request_payment(usd(1000))
    await pj(sim_control, "POST", "/terminal/present", {"authorise": False})
    await client.return_to_main()
    status = await client.request_status(rid)
    assert status.state == "COMPLETE"
    assert status.payment is not None
    assert status.payment.approved  # processed anyway: the caller must void it


async def test_void_compensates_and_is_harmless_twice(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    rid = await client.request_payment(usd(1000))
    await pj(sim_control, "POST", "/terminal/present")
    tx_id = (await client.request_status(rid)).transaction_id
    assert tx_id is not None
    voided = await client.void(tx_id)
    assert (voided.status, voided.voided) == ("VOID", True)
    assert (await client.void(tx_id)).voided
    assert (await client.transaction(tx_id)).voided


async def test_declined_and_settled_transactions_cannot_be_voided(
    client: PayJunctionClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    declined = await client.request_payment(usd(1005))
    await pj(sim_control, "POST", "/terminal/present")
    declined_tx = (await client.request_status(declined)).transaction_id
    assert declined_tx is not None
    with pytest.raises(ValidationFailed, match="declined"):
        await client.void(declined_tx)
    approved = await client.request_payment(usd(1000))
    await pj(sim_control, "POST", "/terminal/present")
    approved_tx = (await client.request_status(approved)).transaction_id
    assert approved_tx is not None
    await pj(sim_control, "POST", f"/transactions/{approved_tx}/settle")
    with pytest.raises(ValidationFailed, match="settled") as info:
        await client.void(approved_tx)
    assert info.value.errors[0].parameter == "status"
    with pytest.raises(NotFound):
        await client.transaction("99999999")


# -- card reads -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "number", "name"),
    [
        ("format1", "7090112233654321", None),
        ("format2", "924696827707852", None),
        ("iso", "6035710000123456", "SIM/CARDHOLDER"),
    ],
)
async def test_read_card_in_each_format(
    client: PayJunctionClient, sim_control: SimControl, fmt: str, number: str, name: str | None
) -> None:
    reading = asyncio.create_task(client.read_card())
    request = await running_request(sim_control)
    assert request["kind"] == "read"
    await pj(sim_control, "POST", "/terminal/swipe", {"format": fmt})
    card = await asyncio.wait_for(reading, 5)
    assert card is not None
    assert (card.number, card.name) == (number, name)
    if fmt == "iso":
        assert (card.expiry, card.service_code) == ("3012", "120")


async def test_read_card_garbage_is_a_track_parse_error(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    reading = asyncio.create_task(client.read_card())
    await running_request(sim_control)
    await pj(sim_control, "POST", "/terminal/swipe", {"format": "garbage"})
    with pytest.raises(TrackParseError):
        await asyncio.wait_for(reading, 5)


async def test_read_card_red_x_gives_none(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    reading = asyncio.create_task(client.read_card())
    await running_request(sim_control)
    await pj(sim_control, "POST", "/terminal/swipe", {"format": "red_x"})
    assert await asyncio.wait_for(reading, 5) is None


async def test_read_card_times_out_to_the_main_screen(
    client: PayJunctionClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    reading = asyncio.create_task(client.read_card(timeout_s=30))
    request = await running_request(sim_control)
    await sim_control.advance(30)
    assert await asyncio.wait_for(reading, 5) is None
    state = await sim_state(sim_control)
    ended = next(r for r in state["requests"] if r["requestId"] == request["requestId"])
    assert ended["ended_by"] == "main"


async def test_read_card_cancelled_by_the_kiosk(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    cancel = asyncio.Event()
    reading = asyncio.create_task(client.read_card(cancel=cancel))
    await running_request(sim_control)
    cancel.set()
    assert await asyncio.wait_for(reading, 5) is None


async def test_read_card_on_a_busy_or_offline_terminal(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    await pj(sim_control, "POST", "/terminal", {"busy": True})
    with pytest.raises(TerminalBusy):
        await asyncio.wait_for(client.read_card(), 5)
    await pj(sim_control, "POST", "/terminal", {"busy": False, "online": False})
    reading = asyncio.create_task(client.read_card())
    await until_connecting(sim_control)
    await sim_control.advance(10)
    with pytest.raises(TerminalNotConnected):
        await asyncio.wait_for(reading, 5)


async def until_connecting(control: SimControl, timeout: float = 5.0) -> None:
    """Wait until a request waits for the offline terminal (HTTP round trips, no sleeps)."""

    async def connecting() -> bool:
        return any(r["stage"] == "connecting" for r in (await sim_state(control))["requests"])

    async def wait() -> None:
        while not await connecting():
            continue

    await asyncio.wait_for(wait(), timeout)


# -- polling pace ---------------------------------------------------------------------------


async def test_the_simulator_refuses_polls_faster_than_every_half_second(
    client: PayJunctionClient, sim: Any, sim_control: SimControl
) -> None:
    rid = await client.request_payment(usd(1000))
    url = f"{sim.url_for('payjunction')}/smartterminals/{TERMINAL}/requests/{rid}"
    async with httpx.AsyncClient(auth=AUTH, headers=APP_KEY) as http:
        assert (await http.get(url)).status_code == 200
        second = await http.get(url)
        assert second.status_code == 429
        assert second.json()["errors"][0]["type"] == "rate_limited"
        await sim_control.advance(0.5)
        assert (await http.get(url)).status_code == 200


async def test_the_client_never_polls_faster_than_every_half_second(
    client: PayJunctionClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    rid = await client.request_payment(usd(1000))
    await client.request_status(rid)
    second = asyncio.create_task(client.request_status(rid))
    await sleeping_on(clock, 0.5)
    assert not second.done()
    assert (await sim_state(sim_control))["requests"][0]["polls"] == 1
    await sim_control.advance(0.5)
    assert (await asyncio.wait_for(second, 5)).state == "IN_PROGRESS"
    assert (await sim_state(sim_control))["requests"][0]["polls"] == 2


async def test_a_429_is_rate_limited(client: PayJunctionClient, sim_control: SimControl) -> None:
    await sim_control.set_fault(
        "payjunction", f"/smartterminals/{TERMINAL}/requests/*", "status", status=429, count=1
    )
    rid = await client.request_payment(usd(1000))
    with pytest.raises(RateLimited):
        await client.request_status(rid)


# -- errors -----------------------------------------------------------------------------


async def test_an_unknown_terminal_id_is_the_seeds_validation_error(
    sim: Any, clock: ControlledClock
) -> None:
    async with make_client(sim, clock, terminal_id=99) as c:
        with pytest.raises(ValidationFailed) as info:
            await c.request_read()
        assert info.value.status == 400
        assert [(e.parameter, e.message, e.type) for e in info.value.errors] == [
            ("terminalId", SEED_TERMINAL_ERROR, "invalid")
        ]
        with pytest.raises(ValidationFailed, match="terminalId"):
            await c.request_payment(usd(1000))


async def test_missing_fields_and_json_bodies_are_refused(sim: Any) -> None:
    url = f"{sim.url_for('payjunction')}/smartterminals/{TERMINAL}/request-payment"
    async with httpx.AsyncClient(auth=AUTH, headers=APP_KEY) as http:
        missing = await http.post(url, data={"terminalId": "1"})
        assert missing.status_code == 400
        assert missing.json()["errors"] == [
            {"message": "This field is required.", "parameter": "amountBase", "type": "required"}
        ]
        for bad in ("$10.00", "1,000.00", "10.000", "0.00"):
            answer = await http.post(url, data={"terminalId": "1", "amountBase": bad})
            assert answer.status_code == 400, bad
            assert answer.json()["errors"][0]["parameter"] == "amountBase"
        as_json = await http.post(url, json={"terminalId": 1, "amountBase": "10.00"})
        assert as_json.status_code == 400  # PayJunction takes form bodies


@pytest.mark.parametrize(
    "changes", [{"password": "wrong"}, {"application_key": "wrong"}, {"login": "nobody"}]
)
async def test_bad_credentials_are_auth_errors(
    sim: Any, clock: ControlledClock, changes: dict[str, str]
) -> None:
    async with make_client(sim, clock, **changes) as c:
        with pytest.raises(AuthError) as info:
            await c.request_payment(usd(1000))
        assert info.value.status == 401
        assert "wrong" not in str(info.value)


async def test_malformed_json_is_a_protocol_error(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    rid = await client.request_payment(usd(1000))
    await sim_control.set_fault(
        "payjunction", f"/smartterminals/{TERMINAL}/requests/*", "malformed_json", count=1
    )
    with pytest.raises(ProtocolError, match="not valid JSON"):
        await client.request_status(rid)
    assert client.health.ok is False


async def test_an_html_502_is_a_server_error_and_safe_reads_are_retried(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    rid = await client.request_payment(usd(1000))
    await pj(sim_control, "POST", "/terminal/present")
    await sim_control.set_fault(
        "payjunction", f"/smartterminals/{TERMINAL}/requests/*", "html_502", count=1
    )
    with pytest.raises(ServerError, match="non-JSON"):
        await client.request_status(rid)
    tx_id = (await sim_state(sim_control))["transactions"][0]["transactionId"]
    await sim_control.set_fault("payjunction", "/transactions/*", "html_502", count=1)
    assert (await client.transaction(str(tx_id))).approved  # retried once


async def test_request_payment_is_never_repeated(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    await sim_control.set_fault(
        "payjunction", f"/smartterminals/{TERMINAL}/request-payment", "html_502", count=1
    )
    with pytest.raises(ServerError):
        await client.request_payment(usd(1000))
    assert (await sim_state(sim_control))["requests"] == []


async def test_a_slow_answer_is_a_timeout_not_a_request_that_was_not_sent(
    sim: Any, clock: ControlledClock, sim_control: SimControl
) -> None:
    await sim_control.set_fault(
        "payjunction", f"/smartterminals/{TERMINAL}/request-payment", "delay", seconds=0.5
    )
    async with make_client(sim, clock, timeouts=PayJunctionTimeouts(default=0.1)) as c:
        with pytest.raises(ServiceTimeout) as info:
            await c.request_payment(usd(1000))
        assert not isinstance(info.value, NotSent)
        assert c.health.ok is False


async def test_no_connection_at_all_is_not_sent(clock: ControlledClock) -> None:
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with PayJunctionClient(
        f"http://127.0.0.1:{port}", login="x", password="y", application_key="z", smart_terminal_id="t",
        terminal_id=1, clock=clock,
    ) as c:  # fmt: skip
        with pytest.raises(NotSent, match="nothing was sent"):
            await c.request_payment(usd(1000))


# -- webhooks ---------------------------------------------------------------------------------


async def test_signed_webhooks_update_the_request(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    rid = await client.request_payment(usd(1000))
    await until(client, rid, state_is("IN_PROGRESS"))
    await pj(sim_control, "POST", "/terminal/present")
    done = await until(client, rid, state_is("COMPLETE"))
    assert done.source == "webhook"
    assert done.transaction_id is not None
    await sim_control.drain_callbacks()
    events = await pj(sim_control, "GET", "/events")
    statuses = [e["payload"]["data"]["status"] for e in events["events"]]
    assert statuses == ["CONNECTING", "IN_PROGRESS", "IN_PROGRESS", "COMPLETE"]
    assert {e["fate"] for e in events["events"]} == {"delivered"}


async def test_a_webhook_with_a_bad_signature_is_refused(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    await sim_control.set_callback_mode("bad_signature")
    rid = await client.request_payment(usd(1000))
    await sim_control.drain_callbacks()
    events = (await pj(sim_control, "GET", "/events"))["events"]
    assert events
    assert {(e["fate"], e["status"]) for e in events} == {("failed", 401)}
    assert client.track(rid).latest is None


async def test_a_duplicated_webhook_changes_nothing(
    client: PayJunctionClient, sim_control: SimControl, receiver: CallbackReceiver
) -> None:
    rid = await client.request_payment(usd(1000))
    await until(client, rid, state_is("IN_PROGRESS"))
    version = client.track(rid).version
    await sim_control.set_callback_mode("duplicate")
    await pj(sim_control, "POST", "/terminal/red-x")
    await sim_control.drain_callbacks()
    events = (await pj(sim_control, "GET", "/events"))["events"]
    assert events[-1]["fate"] == "duplicated"
    assert events[-1]["delivered"] == 2
    assert client.track(rid).version == version + 1


async def test_a_lost_webhook_is_caught_by_polling(
    client: PayJunctionClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    rid = await client.request_payment(usd(1000))
    await until(client, rid, state_is("IN_PROGRESS"))
    await sim_control.set_callback_mode("drop")
    await pj(sim_control, "POST", "/terminal/present")
    tracker = client.track(rid)
    follow = asyncio.create_task(
        client.wait_update(tracker, since=tracker.version, until=clock.monotonic() + 60)
    )
    await sleeping_on(clock, 0.5)
    assert tracker.latest is not None
    assert tracker.latest.state == "IN_PROGRESS"
    await sim_control.advance(0.5)
    await asyncio.wait_for(follow, 5)
    assert tracker.latest.state == "COMPLETE"
    assert tracker.latest.source == "poll"
    assert tracker.latest.payment is not None


async def test_an_unknown_status_in_a_webhook_is_ignored(
    client: PayJunctionClient, receiver: CallbackReceiver
) -> None:
    rid = await client.request_payment(usd(1000))
    await until(client, rid, state_is("IN_PROGRESS"))
    version = client.track(rid).version
    body = dumps_json(
        {
            "created": "2027-03-01T10:00:00.000Z",
            "data": {"requestId": rid, "status": "SIGNATURE_PENDING"},
            "id": "evt-unknown-1",
            "type": "SMARTTERMINAL_REQUEST",
        }
    ).encode()
    async with httpx.AsyncClient() as http:
        answer = await http.post(
            receiver.url_for(WEBHOOK_PATH),
            content=body,
            headers={"X-Pj-Signature": sign_webhook(body, SECRET)},
        )
        assert answer.status_code == 200
        assert answer.json()["result"] == "SIGNATURE_PENDING no change"
        not_json = b"{not json"
        refused = await http.post(
            receiver.url_for(WEBHOOK_PATH),
            content=not_json,
            headers={"X-Pj-Signature": sign_webhook(not_json, SECRET)},
        )
        assert refused.status_code == 400
    assert client.track(rid).version == version
    assert client.track(rid).latest is not None


async def test_without_a_secret_every_webhook_is_refused(
    sim: Any, clock: ControlledClock, receiver: CallbackReceiver
) -> None:
    async with make_client(sim, clock, webhook_secret=None) as c:
        receiver.add_route("/nosecret", c.handle_webhook, parse_json=False)
        body = b'{"type":"SMARTTERMINAL_REQUEST"}'
        async with httpx.AsyncClient() as http:
            answer = await http.post(
                receiver.url_for("/nosecret"),
                content=body,
                headers={"X-Pj-Signature": sign_webhook(body, "")},
            )
        assert answer.status_code == 401


# -- the payment method on top of this client -------------------------------------------------
# The shared suite (tests/payments) covers approve, decline, cancel, timeout, compensation
# and recovery; these are the PayJunction-specific endings.


class Journal:
    def __init__(self) -> None:
        self.records: list[PaymentRecord] = []

    async def __call__(self, record: PaymentRecord) -> None:
        self.records.append(record)


async def pay(client: PayJunctionClient, amount: Money = USD10) -> tuple[PaymentAttempt, Journal]:
    journal = Journal()
    method = PayJunctionPayment(client, timeout_s=180)
    return await method.start(amount, "sale-pj", journal=journal), journal


async def outcome(attempt: PaymentAttempt) -> PaymentResult:
    return await asyncio.wait_for(attempt.result(), 5)


async def test_payment_on_a_busy_terminal_fails_and_takes_nothing(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    await pj(sim_control, "POST", "/terminal", {"busy": True})
    attempt, journal = await pay(client)
    result = await outcome(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.FAILED, Money(0, "USD"))
    assert "busy" in (result.detail or "")
    assert [r.reference for r in journal.records][:2] == [None, SENDING]
    assert journal.records[-1].reference not in (None, SENDING)


async def test_payment_on_an_offline_terminal_fails_after_no_connection(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    await pj(sim_control, "POST", "/terminal", {"online": False})
    attempt, _ = await pay(client)
    await until_connecting(sim_control)
    await sim_control.advance(10)
    result = await outcome(attempt)
    assert (result.outcome, result.amount_taken.minor) == (Outcome.FAILED, 0)


async def test_red_x_on_a_payment_is_a_cancel(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    attempt, _ = await pay(client)
    await running_request(sim_control)
    await pj(sim_control, "POST", "/terminal/red-x")
    result = await outcome(attempt)
    assert (result.outcome, result.amount_taken.minor) == (Outcome.CANCELLED, 0)


async def test_a_payment_finishes_by_polling_when_webhooks_are_lost(
    client: PayJunctionClient, sim_control: SimControl, clock: ControlledClock
) -> None:
    await sim_control.set_callback_mode("drop")
    attempt, _ = await pay(client)
    await running_request(sim_control)
    await pj(sim_control, "POST", "/terminal/present", {"last4": "0005"})
    await sleeping_on(clock, 0.5)
    await sim_control.advance(0.5)
    result = await outcome(attempt)
    assert (result.outcome, result.amount_taken) == (Outcome.APPROVED, USD10)
    assert (result.card_last4, result.card_brand) == ("0005", "VISA")
    assert result.auth_code


async def test_a_refused_request_payment_fails_and_takes_nothing(
    sim: Any, clock: ControlledClock
) -> None:
    async with make_client(sim, clock, terminal_id=99) as c:
        attempt, _ = await pay(c)
        result = await outcome(attempt)
    assert (result.outcome, result.amount_taken.minor) == (Outcome.FAILED, 0)
    assert "terminalId" in (result.detail or "")


async def test_a_request_payment_that_never_left_fails(clock: ControlledClock) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with PayJunctionClient(
        f"http://127.0.0.1:{port}", login="x", password="y", application_key="z",
        smart_terminal_id="t", terminal_id=1, clock=clock,
    ) as c:  # fmt: skip
        attempt, _ = await pay(c)
        result = await outcome(attempt)
    assert (result.outcome, result.amount_taken.minor) == (Outcome.FAILED, 0)


async def test_a_lost_request_payment_answer_is_unknown_and_stops_the_terminal(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    # Something is running on the terminal (as if our request had been created).
    other = await client.request_payment(Money(500, "USD"))
    await sim_control.set_fault(
        "payjunction", f"/smartterminals/{TERMINAL}/request-payment", "html_502", count=1
    )
    attempt, journal = await pay(client)
    result = await outcome(attempt)
    assert (result.outcome, result.amount_taken.minor) == (Outcome.UNKNOWN, 0)
    assert "main screen" in (result.detail or "")
    assert journal.records[-1].reference == SENDING
    assert (await client.request_status(other)).state == "COMPLETE"  # the terminal was stopped


async def test_a_settled_payment_cannot_be_voided_and_says_what_staff_must_do(
    client: PayJunctionClient, sim_control: SimControl
) -> None:
    method = PayJunctionPayment(client)
    attempt = await method.start(USD10, "sale-settled")
    await running_request(sim_control)
    await pj(sim_control, "POST", "/terminal/present")
    result = await outcome(attempt)
    assert result.outcome is Outcome.APPROVED
    tx_id = (await sim_state(sim_control))["transactions"][0]["transactionId"]
    await pj(sim_control, "POST", f"/transactions/{tx_id}/settle")
    compensation = await method.compensate(result)
    assert (compensation.kind, compensation.amount) == ("failed", USD10)
    assert f"refund transaction {tx_id}" in (compensation.detail or "")
    # A restarted app finds the transaction through the request id alone.
    fresh = PayJunctionPayment(client)
    await sim_control.advance(0.5)
    assert (await fresh.compensate(result)).reference == str(tx_id)
