"""Whole sales through the flow, against the simulators (no Qt, controlled clock)."""

from __future__ import annotations

from kioskapp.core.flow import (
    Cancel,
    ChooseProduct,
    Finish,
    PayWith,
    SkipCard,
    Start,
    State,
)
from kioskapp.core.money import Money

from .conftest import Kiosk


def eur(major: int | str) -> Money:
    return Money.from_major(str(major), "EUR")


async def test_cash_sale_from_attract_to_attract(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    attract = await watch.until_state(State.ATTRACT)
    assert [c.sku for c in attract.catalogue if c.available] == [
        "CASHBACK-CARD",
        "GIFT-20",
        "PREMIUM-50",
    ]
    flow.submit(PayWith("cash"))  # not valid on the attract screen: ignored
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    flow.submit(ChooseProduct("CASHBACK-CARD"))
    ident = await watch.until_state(State.IDENTIFYING)
    assert ident.sale_id is not None
    assert ident.identify_phase == "ask"
    flow.submit(SkipCard())
    choice = await watch.until_state(State.PAYMENT_CHOICE)
    assert choice.methods_offered == ("cash", "tpv")
    assert choice.amount_due == eur(5)
    assert choice.amount_remaining == eur(5)
    row = kiosk.db.sale(ident.sale_id)
    assert row is not None
    assert row.state == "payment_choice"
    assert row.status == "open"
    flow.submit(PayWith("cash"))
    await watch.until(
        lambda s: s.payment_status is not None and s.payment_status.phase == "waiting_for_customer",
        "the bill reader is open",
    )
    await kiosk.insert_note(5)
    done = await watch.until_state(State.THANK_YOU)
    assert done.amount_paid == eur(5)
    assert done.slip_on_screen is None
    assert watch.states() == [
        State.ATTRACT, State.STARTING, State.CHOOSING, State.IDENTIFYING, State.STAGING_CARD,
        State.PAYMENT_CHOICE, State.PAYING, State.DEBITING, State.DISPENSING, State.PRINTING,
        State.THANK_YOU,
    ]  # fmt: skip
    sale_id = ident.sale_id
    # CardAPI: the new card's pass registered with a 0 debit, ticket = the sale's UUID.
    ledger = await kiosk.ledger()
    assert [(d["ticket_id"], d["pass_id"], d["amount"]) for d in ledger] == [
        (sale_id, "P-NEW-01", "0.00")
    ]
    sim = await kiosk.sim()
    assert [d["barcode"] for d in sim["dispenser"]["dispensed"]] == ["8412345678901"]
    assert len(sim["printer"]["printed"]) == 1
    pdf = await kiosk.control.printed_pdf(0)
    assert pdf.startswith(b"%PDF-")
    # The journal: every effect journalled with its outcome, the sale delivered.
    effects = [(e.kind, e.status) for e in kiosk.db.effects(sale_id)]
    assert effects == [
        ("dispenser.prepare", "done"),
        ("cardapi.debit", "done"),
        ("dispenser.dispense", "done"),
        ("printer.receipt", "done"),
    ]
    debit = next(e for e in kiosk.db.effects(sale_id) if e.kind == "cardapi.debit")
    assert debit.key == sale_id
    assert debit.intent["ticket_id"] == sale_id
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.method, payment.outcome, payment.taken) == ("cash", "approved", eur(5))
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert (sale.status, sale.state) == ("completed", "thank_you")
    assert sale.data["delivered_minor"] == 500
    rec = kiosk.db.reconciliation("EUR")
    assert rec.balanced
    assert rec.taken == eur(5)
    assert rec.delivered == eur(5)
    # Thank you → session closed → attract, with nothing of the customer left.
    assert sim["session"] is None
    flow.submit(Finish())
    back = await watch.until_state(State.ATTRACT)
    assert back.sale_id is None
    assert back.amount_paid is None


async def _to_payment_choice(kiosk: Kiosk, sku: str) -> tuple[str, object]:
    flow, watch = kiosk.flows[-1][0], kiosk.flows[-1][2]
    await watch.until_state(State.ATTRACT)
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    flow.submit(ChooseProduct(sku))
    ident = await watch.until_state(State.IDENTIFYING)
    assert ident.sale_id is not None
    flow.submit(SkipCard())
    choice = await watch.until_state(State.PAYMENT_CHOICE)
    return ident.sale_id, choice


async def _bill_reader_open(kiosk: Kiosk) -> None:
    watch = kiosk.flows[-1][2]
    await watch.until(
        lambda s: (
            s.payment_method == "cash"
            and s.payment_status is not None
            and s.payment_status.phase == "waiting_for_customer"
        ),
        "the bill reader is open",
    )


async def test_a_note_above_the_amount_due_is_returned_with_the_reason(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    sale_id, _ = await _to_payment_choice(kiosk, "CASHBACK-CARD")
    flow.submit(PayWith("cash"))
    await _bill_reader_open(kiosk)
    await kiosk.insert_note(10)
    returned = await watch.until(
        lambda s: s.note is not None and s.note.key.startswith("note_returned"), "note returned"
    )
    assert returned.note is not None
    assert returned.note.key == "note_returned.exceeds_amount_due"
    assert returned.note.amount == eur(10)
    assert returned.amount_paid == eur(0)
    assert returned.state is State.PAYING
    await kiosk.insert_note(5)
    accepted = await watch.until(
        lambda s: s.note is not None and s.note.key == "note_accepted", "note accepted"
    )
    assert accepted.note is not None
    assert accepted.note.amount == eur(5)
    await watch.until_state(State.THANK_YOU)
    [payment] = kiosk.db.payments(sale_id)
    assert payment.taken == eur(5)


async def test_mixed_payment_cash_first_then_card_for_the_rest(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    sale_id, _ = await _to_payment_choice(kiosk, "GIFT-20")
    flow.submit(PayWith("cash"))
    await _bill_reader_open(kiosk)
    await kiosk.insert_note(10)
    await watch.until(lambda s: s.amount_paid == eur(10), "10 paid in cash")
    await kiosk.control.tpv_auto("approve")
    flow.submit(PayWith("card"))  # the notes taken stay; the card pays the rest
    card = await watch.until(lambda s: s.payment_method == "tpv", "paying by card")
    assert card.state is State.PAYING
    done = await watch.until_state(State.THANK_YOU)
    assert done.amount_paid == eur(20)
    payments = [(p.method, p.amount, p.taken, p.outcome) for p in kiosk.db.payments(sale_id)]
    assert payments == [
        ("cash", eur(20), eur(10), "cancelled"),
        ("tpv", eur(10), eur(10), "approved"),
    ]
    rec = kiosk.db.reconciliation("EUR")
    assert rec.balanced
    assert rec.taken == eur(20)
    assert rec.delivered == eur(20)
    assert len((await kiosk.sim())["printer"]["printed"]) == 1


async def test_a_declined_card_lets_the_customer_pay_in_cash(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    sale_id, _ = await _to_payment_choice(kiosk, "CASHBACK-CARD")
    await kiosk.control.tpv_auto("decline")
    flow.submit(PayWith("tpv"))
    await watch.until_state(State.PAYING)
    again = await watch.until_state(State.PAYMENT_CHOICE)
    assert again.notice is not None
    assert (again.notice.key, again.notice.who) == ("payment.declined", "customer")
    assert again.methods_offered == ("cash", "tpv")  # try again, other method, or cancel
    assert again.amount_remaining == eur(5)
    await kiosk.control.tpv_auto(None)
    flow.submit(PayWith("cash"))
    await _bill_reader_open(kiosk)
    await kiosk.insert_note(5)
    await watch.until_state(State.THANK_YOU)
    outcomes = [(p.method, p.outcome, p.taken) for p in kiosk.db.payments(sale_id)]
    assert outcomes == [("tpv", "declined", eur(0)), ("cash", "approved", eur(5))]
    assert kiosk.db.reconciliation("EUR").balanced


async def test_a_sale_holds_its_kiosk_session_from_start_to_close(kiosk: Kiosk) -> None:
    """No planned session refresh mid-sale: a staged card must not be lost to it."""
    flow, watch = kiosk.start()
    await watch.until_state(State.ATTRACT)
    assert not kiosk.devices.tecalis.busy
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    assert kiosk.devices.tecalis.busy
    flow.submit(Cancel())
    await watch.until_state(State.ATTRACT)
    assert not kiosk.devices.tecalis.busy
