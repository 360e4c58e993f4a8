"""Card (Tecalis PIN pad) sales cut off at each step of the flow, then recovered.

The PIN pad has no refund call: a card payment that must be given back becomes a refund
voucher carrying what staff need to refund it at the acquirer (amount, auth code, last 4).
"""

from __future__ import annotations

from kioskapp.core.flow import Finish, State
from kioskapp.payments.tpv import PREPARED

from .conftest import CUSTOMER_CARD, CrashKiosk, closed_and_balanced, eur, printed_titles, write


async def test_a_card_payment_journalled_but_never_sent_took_nothing(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_after(write("save_payment", method="tpv", reference=None))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_tpv(None)
    await kiosk.crash()

    await kiosk.recover()

    closed_and_balanced(kiosk, sale_id, "cancelled")
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.outcome, payment.taken) == ("not_started", eur(0))
    sim = await kiosk.sim_state()
    assert sim["tpv"]["state"] == "idle"
    assert len(sim["dispenser"]["discarded"]) == 1
    assert await printed_titles(kiosk) == []
    await kiosk.recover_again_changes_nothing()


async def test_a_terminal_still_waiting_for_the_card_is_cancelled(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_after(write("save_payment", method="tpv", reference=PREPARED))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_tpv(None)
    await kiosk.crash()
    assert (await kiosk.sim_state())["tpv"]["state"] == "waiting_card"

    await kiosk.recover()

    closed_and_balanced(kiosk, sale_id, "cancelled")
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.outcome, payment.taken) == ("cancelled", eur(0))
    assert (await kiosk.sim_state())["tpv"]["state"] == "cancelled"
    assert await printed_titles(kiosk) == []
    await kiosk.recover_again_changes_nothing()


async def test_a_card_payment_approved_after_the_app_died_is_refunded_by_voucher(
    kiosk: CrashKiosk,
) -> None:
    kiosk.journal.crash_after(write("save_payment", method="tpv", reference=PREPARED))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_tpv(None)
    await kiosk.crash()
    # The customer finishes on the PIN pad; the app is gone and never sees it.
    await kiosk.control.tpv_present(brand="mastercard", last4="4444")
    await kiosk.control.tpv_approve()
    auth_code = (await kiosk.sim_state())["tpv"]["auth_code"]

    report = await kiosk.recover()

    outcome = report.sale(sale_id)
    assert (outcome.decision, outcome.taken, outcome.compensated) == ("compensated", eur(5),
                                                                      eur(5))  # fmt: skip
    closed_and_balanced(kiosk, sale_id, "compensated")
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.outcome, payment.taken, payment.auth_code, payment.card_last4) == (
        "approved", eur(5), auth_code, "4444"
    )  # fmt: skip
    assert (payment.compensation, payment.compensated) == ("voucher", eur(5))
    [incident] = kiosk.db.incidents()
    assert incident.kind == "refund_voucher"
    assert (incident.details["auth_code"], incident.details["card_last4"]) == (auth_code, "4444")
    assert incident.details["method"] == "tpv"
    assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]
    assert len((await kiosk.sim_state())["dispenser"]["discarded"]) == 1
    await kiosk.recover_again_changes_nothing()


async def test_paid_by_card_with_the_card_staged_but_not_debited(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_after(write("update_sale", state="debiting"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_tpv("approve")
    await kiosk.crash()

    await kiosk.recover()

    closed_and_balanced(kiosk, sale_id, "compensated")
    assert await kiosk.ledger() == []
    sim = await kiosk.sim_state()
    assert (sim["dispenser"]["dispensed"], len(sim["dispenser"]["discarded"])) == ([], 1)
    assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]
    await kiosk.recover_again_changes_nothing()


async def test_cashback_debited_for_a_card_never_handed_out_is_flagged(
    kiosk: CrashKiosk,
) -> None:
    kiosk.journal.crash_after(
        write("update_sale", data=lambda d: d is not None and d.get("debit") == "done")
    )
    kiosk.start()
    sale_id = await kiosk.choose("GIFT-20", card=CUSTOMER_CARD, cashback=True)
    await kiosk.pay_tpv("approve")
    await kiosk.crash()

    report = await kiosk.recover()

    outcome = report.sale(sale_id)
    assert (outcome.taken, outcome.compensated, outcome.flagged) == (eur("13.46"),
                                                                     eur("13.46"), eur(0))  # fmt: skip
    sale = closed_and_balanced(kiosk, sale_id, "flagged")  # the cashback is for staff
    assert sale.data["compensated_minor"] == 1346
    [entry] = await kiosk.ledger()
    assert (entry["ticket_id"], entry["amount"]) == (sale_id, "6.54")
    kinds = sorted(i.kind for i in kiosk.db.incidents())
    assert kinds == ["cashback_not_delivered", "refund_voucher"]
    [cashback] = [i for i in kiosk.db.incidents() if i.kind == "cashback_not_delivered"]
    assert cashback.amount == eur("6.54")
    assert cashback.details["pass_id"] == entry["pass_id"]
    assert cashback.details["ticket_id"] == sale_id
    assert len((await kiosk.sim_state())["dispenser"]["discarded"]) == 1
    await kiosk.recover_again_changes_nothing()


async def test_a_cashback_debit_whose_answer_was_lost_is_found_out_not_repeated(
    kiosk: CrashKiosk,
) -> None:
    journal = kiosk.journal
    journal.crash_before(
        lambda n, a, k: n == "end_effect" and a[0] == journal.effect_id("cardapi.debit")
    )
    kiosk.start()
    sale_id = await kiosk.choose("GIFT-20", card=CUSTOMER_CARD, cashback=True)
    await kiosk.pay_tpv("approve")
    await kiosk.crash()
    [debit] = [e for e in kiosk.db.effects(sale_id) if e.kind == "cardapi.debit"]
    assert debit.status == "pending"

    await kiosk.recover()

    [entry] = await kiosk.ledger()
    assert (entry["amount"], entry["replays"]) == ("6.54", 1)
    [debit] = [e for e in kiosk.db.effects(sale_id) if e.kind == "cardapi.debit"]
    assert debit.status == "done"
    assert debit.outcome is not None
    assert debit.outcome["balance_after"] == "0.00"
    closed_and_balanced(kiosk, sale_id, "flagged")
    assert {i.kind for i in kiosk.db.incidents()} == {"cashback_not_delivered", "refund_voucher"}
    await kiosk.recover_again_changes_nothing()


async def test_a_card_handed_out_before_the_crash_is_delivered_with_its_receipt(
    kiosk: CrashKiosk,
) -> None:
    journal = kiosk.journal
    journal.crash_before(
        lambda n, a, k: n == "end_effect" and a[0] == journal.effect_id("dispenser.dispense")
    )
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_tpv("approve")
    await kiosk.crash()

    report = await kiosk.recover()

    assert report.sale(sale_id).decision == "delivered"
    sale = closed_and_balanced(kiosk, sale_id, "completed")
    assert sale.data["delivered_minor"] == 500
    [payment] = kiosk.db.payments(sale_id)
    assert payment.compensation is None
    assert await printed_titles(kiosk) == [f"receipt {sale_id}"]
    await kiosk.recover_again_changes_nothing()


async def test_card_paid_dispensed_but_not_printed_prints_the_receipt(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_before(write("update_sale", state="printing"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_tpv("approve")
    await kiosk.crash()

    report = await kiosk.recover()

    assert report.receipts_printed == (sale_id,)
    assert await printed_titles(kiosk) == [f"receipt {sale_id}"]
    closed_and_balanced(kiosk, sale_id, "completed")
    await kiosk.recover_again_changes_nothing()


async def test_an_earlier_sales_approval_is_flagged_not_taken_for_this_sale(
    kiosk: CrashKiosk,
) -> None:
    flow, watch = kiosk.start()
    first = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_tpv("approve")
    await watch.until_state(State.THANK_YOU)
    flow.submit(Finish())
    # The next sale dies after journalling its card payment, before the PIN pad got it:
    # the PIN pad still shows the first sale's approval of the same amount.
    kiosk.journal.crash_after(
        write("save_payment", method="tpv", reference=None, sale_id=lambda s: s != first)
    )
    second = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_tpv(None)
    await kiosk.crash()
    assert (await kiosk.sim_state())["tpv"]["state"] == "approved"

    report = await kiosk.recover()

    assert [s.sale_id for s in report.sales] == [second]
    closed_and_balanced(kiosk, second, "flagged")
    [payment] = kiosk.db.payments(second)
    assert (payment.outcome, payment.taken) == ("unknown", eur(0))
    [incident] = kiosk.db.incidents()
    assert (incident.kind, incident.amount, incident.sale_id) == ("payment_unknown", eur(5),
                                                                  second)  # fmt: skip
    assert incident.details["payment_key"] == payment.key
    assert "earlier sale" in incident.details["why"]
    first_sale = kiosk.db.sale(first)
    assert first_sale is not None
    assert first_sale.status == "completed"  # untouched
    assert len(await printed_titles(kiosk)) == 1  # the first sale's receipt only
    await kiosk.recover_again_changes_nothing()
