"""Cancels, time-outs and faults: money is given back or flagged, never lost."""

from __future__ import annotations

from kioskapp.core.flow import (
    Cancel,
    ChooseProduct,
    EnterCardNumber,
    FlowSettings,
    FlowSnapshot,
    MoreTime,
    PayWith,
    RefundSummary,
    SkipCard,
    Start,
    State,
    UseCashback,
)
from kioskapp.core.money import Money
from kioskapp.devices import cardapi
from kioskapp.devices.http import RetryPolicy

from .conftest import Kiosk


def eur(major: int | str) -> Money:
    return Money.from_major(str(major), "EUR")


async def _pay_cash(kiosk: Kiosk, sku: str, *notes: int) -> str:
    """From attract to paying ``notes`` in cash for ``sku``; returns the sale id."""
    flow, _, watch = kiosk.flows[-1]
    if flow.state is not State.ATTRACT:
        await watch.until_state(State.ATTRACT)
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    flow.submit(ChooseProduct(sku))
    ident = await watch.until_state(State.IDENTIFYING)
    flow.submit(SkipCard())
    await watch.until_state(State.PAYMENT_CHOICE)
    flow.submit(PayWith("cash"))
    await watch.until(
        lambda s: s.payment_status is not None and s.payment_status.phase == "waiting_for_customer",
        "the bill reader is open",
    )
    paid = 0
    for note in notes:
        await kiosk.insert_note(note)
        paid += note
        await watch.until(lambda s, p=paid: s.amount_paid == eur(p), f"{paid} paid")
    assert ident.sale_id is not None
    return ident.sale_id


async def test_cancel_with_notes_stacked_prints_a_refund_voucher(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    sale_id = await _pay_cash(kiosk, "GIFT-20", 10)
    flow.submit(Cancel())
    await watch.until_state(State.CANCELLING)
    error = await watch.until_state(State.ERROR)
    assert error.error is not None
    assert (error.error.key, error.error.who) == ("refund.voucher_issued", "customer")
    assert error.refund == RefundSummary(eur(10), 1, eur(0))
    assert error.slip_on_screen is None  # the voucher was printed
    sim = await kiosk.sim()
    assert len(sim["printer"]["printed"]) == 1  # the voucher, no receipt
    assert sim["dispenser"]["dispensed"] == []
    assert len(sim["dispenser"]["discarded"]) == 1  # the staged card
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.outcome, payment.taken) == ("cancelled", eur(10))
    assert (payment.compensation, payment.compensated) == ("voucher", eur(10))
    [incident] = kiosk.db.incidents()
    assert incident.kind == "refund_voucher"
    assert incident.amount == eur(10)
    assert incident.details["voucher_code"] == payment.key
    assert incident.details["printed"] is True
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert sale.status == "compensated"
    rec = kiosk.db.reconciliation("EUR")
    assert rec.balanced
    assert (rec.taken, rec.compensated, rec.delivered) == (eur(10), eur(10), eur(0))
    assert kiosk.db.cash_box("EUR").total == eur(10)
    assert [e.kind for e in kiosk.db.effects(sale_id)] == [
        "dispenser.prepare",
        "payment.compensate",  # journalled before it is sent: never given back twice
        "printer.voucher",
        "dispenser.discard",
    ]


async def test_paper_out_shows_the_receipt_on_screen(kiosk: Kiosk) -> None:
    await kiosk.control.set_printer(paper="out")
    flow, watch = kiosk.start()
    attract = await watch.until(lambda s: s.faults == ("printer",), "the printer flagged")
    assert attract.state is State.ATTRACT  # the printer never stops sales
    sale_id = await _pay_cash(kiosk, "CASHBACK-CARD", 5)
    done = await watch.until_state(State.THANK_YOU)
    slip = done.slip_on_screen
    assert slip is not None
    assert slip.kind == "receipt"
    assert slip.qr == (sale_id,)
    assert any(sale_id in line for line in slip.lines)
    assert any("TOTAL" in line for line in slip.lines)
    assert flow.faults["printer"] == "printer.paper_out"
    printing = [e for e in kiosk.db.effects(sale_id) if e.kind == "printer.receipt"]
    assert [e.status for e in printing] == ["failed"]
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert sale.status == "completed"
    assert (await kiosk.sim())["printer"]["printed"] == []


async def test_idle_warning_more_time_ten_times_then_a_safe_cancel(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    await watch.until_state(State.ATTRACT)
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)

    def warning(snap: FlowSnapshot) -> bool:
        return snap.idle_warning is not None

    for used in range(10):
        kiosk.clock.advance(60)
        shown = await watch.until(warning, "the idle warning")
        assert shown.idle_warning is not None
        assert shown.idle_warning.seconds_left == 20
        assert shown.idle_warning.extensions_left == 10 - used
        kiosk.clock.advance(5)
        counting = await watch.until(
            lambda s: s.idle_warning is not None and s.idle_warning.seconds_left == 15,
            "the countdown at 15",
        )
        assert counting.state is State.CHOOSING
        flow.submit(MoreTime())
        await watch.until(lambda s: s.idle_warning is None, "the warning gone")
    kiosk.clock.advance(60)
    last = await watch.until(warning, "the last warning")
    assert last.idle_warning is not None
    assert last.idle_warning.extensions_left == 0
    flow.submit(MoreTime())  # no extension left: ignored
    kiosk.clock.advance(19)
    await watch.until(
        lambda s: s.idle_warning is not None and s.idle_warning.seconds_left == 1, "1 s left"
    )
    kiosk.clock.advance(1)
    await watch.until_state(State.CANCELLING)
    back = await watch.until_state(State.ATTRACT)
    assert back.idle_warning is None
    assert State.ERROR not in watch.states()  # nothing was taken: nothing to say


async def test_walking_away_during_cash_ends_in_a_voucher(kiosk: Kiosk) -> None:
    _flow, watch = kiosk.start()
    sale_id = await _pay_cash(kiosk, "GIFT-20", 10)
    kiosk.clock.advance(60)
    await watch.until(lambda s: s.idle_warning is not None, "the idle warning while paying")
    kiosk.clock.advance(20)
    error = await watch.until_state(State.ERROR)
    assert error.error is not None
    assert error.error.key == "refund.voucher_issued"
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.taken, payment.compensated) == (eur(10), eur(10))
    assert [i.kind for i in kiosk.db.incidents()] == ["refund_voucher"]
    assert kiosk.db.reconciliation("EUR").balanced
    assert (await kiosk.sim())["bill_reader"]["state"] != "ready"  # closed


async def test_debit_outcome_unknown_repeats_the_same_ticket(kiosk: Kiosk) -> None:
    client = cardapi.from_config(
        kiosk.config,
        clock=kiosk.clock,
        debit_retry=RetryPolicy(attempts=2, base_delay_s=0.0, max_delay_s=0.0),
    )
    try:
        # Both sends of the client's first try debit but lose the answer.
        await kiosk.control.call(
            "POST",
            "/cardapi/next-error",
            {"code": "CARD-1", "route": "debit", "when": "after", "count": 2},
        )
        _flow, watch = kiosk.start(FlowSettings(debit_retry_delay_s=0.0), cards=client)
        sale_id = await _pay_cash(kiosk, "CASHBACK-CARD", 5)
        await watch.until_state(State.THANK_YOU)
        [entry] = await kiosk.ledger()  # debited once
        assert entry["ticket_id"] == sale_id
        assert entry["replays"] == 2  # the lost answer's retry, then the flow's own
        [debit] = [e for e in kiosk.db.effects(sale_id) if e.kind == "cardapi.debit"]
        assert (debit.key, debit.status) == (sale_id, "done")
        assert kiosk.db.incidents() == []
    finally:
        await client.aclose()


async def test_a_debit_that_stays_unknown_is_flagged_and_the_money_given_back(
    kiosk: Kiosk,
) -> None:
    client = cardapi.from_config(
        kiosk.config,
        clock=kiosk.clock,
        debit_retry=RetryPolicy(attempts=2, base_delay_s=0.0, max_delay_s=0.0),
    )
    try:
        await kiosk.control.call(
            "POST",
            "/cardapi/next-error",
            {"code": "CARD-1", "route": "debit", "when": "before", "count": 100},
        )
        _flow, watch = kiosk.start(
            FlowSettings(debit_retries=2, debit_retry_delay_s=0.0), cards=client
        )
        sale_id = await _pay_cash(kiosk, "CASHBACK-CARD", 5)
        error = await watch.until_state(State.ERROR)
        assert error.error is not None
        assert (error.error.key, error.error.who) == ("cashback.debit_unknown", "staff")
        state = await kiosk.control.call("GET", "/cardapi/state")
        assert state["requests"]["debit"] == 6  # 3 sends × 2 tries, all the same ticket
        assert await kiosk.ledger() == []
        [debit] = [e for e in kiosk.db.effects(sale_id) if e.kind == "cardapi.debit"]
        assert debit.status == "unknown"
        assert debit.intent["ticket_id"] == sale_id  # journalled for recovery to repeat
        kinds = sorted(i.kind for i in kiosk.db.incidents())
        assert kinds == ["debit_unknown", "refund_voucher"]
        sim = await kiosk.sim()
        assert sim["dispenser"]["dispensed"] == []  # never dispensed without the debit
        rec = kiosk.db.reconciliation("EUR")
        assert rec.balanced
        assert rec.compensated == eur(5)
        sale = kiosk.db.sale(sale_id)
        assert sale is not None
        assert sale.status == "flagged"
    finally:
        await client.aclose()


async def test_stopping_mid_payment_journals_it_and_leaves_the_sale_to_recovery(
    kiosk: Kiosk,
) -> None:
    flow, _watch = kiosk.start()
    sale_id = await _pay_cash(kiosk, "GIFT-20", 10)
    await flow.stop()
    [payment] = kiosk.db.payments(sale_id)
    assert payment.outcome == "cancelled"
    assert payment.taken == eur(10)
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert (sale.status, sale.state) == ("open", "paying")
    assert [s.sale_id for s in kiosk.db.unfinished_sales()] == [sale_id]


async def test_cancel_while_the_card_terminal_waits_takes_nothing(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    if flow.state is not State.ATTRACT:
        await watch.until_state(State.ATTRACT)
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    flow.submit(ChooseProduct("CASHBACK-CARD"))
    ident = await watch.until_state(State.IDENTIFYING)
    flow.submit(SkipCard())
    await watch.until_state(State.PAYMENT_CHOICE)
    flow.submit(PayWith("tpv"))
    await watch.until(
        lambda s: s.payment_status is not None and s.payment_status.phase == "waiting_for_customer",
        "the terminal waits for a card",
    )
    flow.submit(Cancel())
    await watch.until_state(State.CANCELLING)
    await watch.until_state(State.ATTRACT)
    assert State.ERROR not in watch.states()
    [payment] = kiosk.db.payments(ident.sale_id or "")
    assert (payment.outcome, payment.taken) == ("cancelled", eur(0))
    sale = kiosk.db.sale(ident.sale_id or "")
    assert sale is not None
    assert sale.status == "cancelled"
    assert (await kiosk.sim())["tpv"]["state"] == "cancelled"


async def test_a_refused_dispense_gives_the_money_back_and_flags_the_cashback(
    kiosk: Kiosk,
) -> None:
    await kiosk.control.set_fault(
        "tecalis", "/api/session/dispenser/dispense", "status", status=409, count=1
    )
    flow, watch = kiosk.start()
    if flow.state is not State.ATTRACT:
        await watch.until_state(State.ATTRACT)
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    flow.submit(ChooseProduct("GIFT-20"))
    ident = await watch.until_state(State.IDENTIFYING)
    sale_id = ident.sale_id or ""
    flow.submit(EnterCardNumber("7001000000654"))
    await watch.until(lambda s: s.identify_phase == "found", "the card found")
    flow.submit(UseCashback(True))
    await watch.until_state(State.PAYMENT_CHOICE)
    await kiosk.control.tpv_auto("approve")
    flow.submit(PayWith("tpv"))
    error = await watch.until_state(State.ERROR)
    assert error.error is not None
    assert (error.error.key, error.error.who) == ("service.error", "staff")
    # The TPV has no refund API: a refund voucher for the customer, shown to staff.
    assert error.refund == RefundSummary(eur("13.46"), 1, eur(0))
    [dispense] = [e for e in kiosk.db.effects(sale_id) if e.kind == "dispenser.dispense"]
    assert dispense.status == "failed"
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.taken, payment.compensation) == (eur("13.46"), "voucher")
    kinds = sorted(i.kind for i in kiosk.db.incidents())
    assert kinds == ["cashback_not_delivered", "refund_voucher"]
    rec = kiosk.db.reconciliation("EUR")
    assert rec.balanced
    assert rec.compensated == eur("13.46")
    sim = await kiosk.sim()
    assert sim["dispenser"]["dispensed"] == []
    assert len(sim["dispenser"]["discarded"]) == 1  # the card was still in the reader
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert sale.status == "flagged"  # the cashback must be credited back by staff


async def test_a_dispense_with_no_answer_is_flagged_not_refunded(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    if flow.state is not State.ATTRACT:
        await watch.until_state(State.ATTRACT)
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    flow.submit(ChooseProduct("CASHBACK-CARD"))
    ident = await watch.until_state(State.IDENTIFYING)
    sale_id = ident.sale_id or ""
    flow.submit(SkipCard())
    await watch.until_state(State.PAYMENT_CHOICE)
    await kiosk.control.set_fault(
        "tecalis", "/api/session/dispenser/dispense", "drop_connection", count=1
    )
    flow.submit(PayWith("cash"))
    await watch.until(
        lambda s: s.payment_status is not None and s.payment_status.phase == "waiting_for_customer",
        "the bill reader is open",
    )
    await kiosk.insert_note(5)
    error = await watch.until_state(State.ERROR)
    assert error.error is not None
    assert (error.error.key, error.error.who) == ("dispenser.unknown", "staff")
    assert error.refund == RefundSummary(eur(0), 0, eur(5))
    [dispense] = [e for e in kiosk.db.effects(sale_id) if e.kind == "dispenser.dispense"]
    assert dispense.status == "unknown"
    [incident] = kiosk.db.incidents()
    assert incident.kind == "dispense_unknown"
    assert incident.amount == eur(5)
    [payment] = kiosk.db.payments(sale_id)
    assert payment.compensation is None  # staff decide: the card may be in the customer's hand
    rec = kiosk.db.reconciliation("EUR")
    assert rec.balanced
    assert rec.flagged == eur(5)
    assert (await kiosk.sim())["dispenser"]["discarded"] == []
