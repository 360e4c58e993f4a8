"""Cash sales cut off at each step of the flow, then recovered on a restarted kiosk.

Each test runs the real flow against the simulators up to one journal write, kills it
there (see conftest), restarts the kiosk over the same journal file and runs recovery.
"""

from __future__ import annotations

from kioskapp.core.flow import Cancel
from kioskapp.devices import cardapi
from kioskapp.devices.http import RetryPolicy
from kioskapp.payments.cash import READER_OPEN

from .conftest import ANY, CrashKiosk, closed_and_balanced, eur, printed_titles, write


async def test_nothing_paid_the_staged_card_is_discarded(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_after(write("update_sale", state="payment_choice"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.crash()
    assert (await kiosk.sim_state())["dispenser"]["card_position"] == "reader"

    report = await kiosk.recover()

    outcome = report.sale(sale_id)
    assert (outcome.state, outcome.decision, outcome.taken) == ("payment_choice", "cancelled",
                                                                 eur(0))  # fmt: skip
    sale = closed_and_balanced(kiosk, sale_id, "cancelled")
    assert (sale.data["delivered_minor"], sale.data["compensated_minor"],
            sale.data["flagged_minor"]) == (0, 0, 0)  # fmt: skip
    sim = await kiosk.sim_state()
    assert sim["dispenser"]["card_position"] == "none"
    assert len(sim["dispenser"]["discarded"]) == 1
    assert sim["printer"]["printed"] == []
    assert kiosk.db.incidents() == []
    assert sim["session"] is None  # recovery leaves no session open
    [decision] = [a for a in kiosk.db.audit() if a.action == "recovery.sale"]
    assert decision.actor == "recovery"
    assert (decision.details["sale_id"], decision.details["status"]) == (sale_id, "cancelled")
    await kiosk.recover_again_changes_nothing()


async def test_reader_open_without_a_note_takes_nothing(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_after(write("save_payment", reference=READER_OPEN))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash()
    await kiosk.crash()
    assert (await kiosk.sim_state())["bill_reader"]["state"] == "ready"  # left open

    await kiosk.recover()

    closed_and_balanced(kiosk, sale_id, "cancelled")
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.outcome, payment.taken) == ("cancelled", eur(0))
    sim = await kiosk.sim_state()
    assert sim["session"] is None  # the leftover session, and its open reader, are closed
    assert sim["printer"]["printed"] == []
    await kiosk.recover_again_changes_nothing()


async def test_a_note_in_escrow_at_the_crash_goes_back_to_the_customer(
    kiosk: CrashKiosk,
) -> None:
    # Killed just before the note was journalled as "about to be accepted": never accepted.
    kiosk.journal.crash_before(write("save_payment", uncertain=eur(10)))
    kiosk.start()
    sale_id = await kiosk.choose("GIFT-20")
    await kiosk.pay_cash(10)
    await kiosk.crash()
    reader = (await kiosk.sim_state())["bill_reader"]
    assert reader["escrow"] is not None

    await kiosk.recover()

    closed_and_balanced(kiosk, sale_id, "cancelled")
    [payment] = kiosk.db.payments(sale_id)
    assert payment.taken == eur(0)
    sim = await kiosk.sim_state()
    assert sim["cash_box"]["count_total"] == 0  # returned, not stacked
    assert kiosk.db.cash_box("EUR").total == eur(0)
    await kiosk.recover_again_changes_nothing()


async def test_stacked_notes_are_refunded_by_a_printed_voucher(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_after(write("save_payment", taken=eur(10)))
    kiosk.start()
    sale_id = await kiosk.choose("GIFT-20")
    await kiosk.pay_cash(10)
    await kiosk.crash()

    report = await kiosk.recover()

    outcome = report.sale(sale_id)
    assert (outcome.decision, outcome.compensated, outcome.flagged) == ("compensated", eur(10),
                                                                        eur(0))  # fmt: skip
    sale = closed_and_balanced(kiosk, sale_id, "compensated")
    assert sale.data["compensated_minor"] == 1000
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.outcome, payment.taken) == ("cancelled", eur(10))
    assert (payment.compensation, payment.compensated) == ("voucher", eur(10))
    assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]
    [incident] = kiosk.db.incidents()
    assert (incident.kind, incident.amount, incident.sale_id) == ("refund_voucher", eur(10),
                                                                  sale_id)  # fmt: skip
    assert incident.details["voucher_code"] == payment.key
    assert incident.details["printed"] is True
    assert incident.details["source"] == "recovery"
    sim = await kiosk.sim_state()
    assert len(sim["dispenser"]["discarded"]) == 1
    assert sim["dispenser"]["dispensed"] == []
    assert kiosk.db.cash_box("EUR").total == eur(10)
    rec = kiosk.db.reconciliation("EUR")
    assert (rec.taken, rec.compensated) == (eur(10), eur(10))
    await kiosk.recover_again_changes_nothing()


async def test_a_note_stacked_but_not_yet_journalled_is_counted(kiosk: CrashKiosk) -> None:
    # The accept went out (the note journalled as uncertain first), the device stacked it,
    # and the process died before journalling it as taken.
    kiosk.journal.crash_before(write("save_payment", taken=eur(10)))
    kiosk.start()
    sale_id = await kiosk.choose("GIFT-20")
    await kiosk.pay_cash(10)
    await kiosk.crash()
    [before] = kiosk.db.payments(sale_id)
    assert (before.taken, before.uncertain) == (eur(0), eur(10))
    assert (await kiosk.sim_state())["bill_reader"]["stacked_total"] == 10

    await kiosk.recover()

    closed_and_balanced(kiosk, sale_id, "compensated")
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.taken, payment.uncertain) == (eur(10), eur(0))
    assert (payment.compensation, payment.compensated) == ("voucher", eur(10))
    assert kiosk.db.cash_box("EUR").by_note == {1000: 1}  # the note is in the cash box count
    assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]
    await kiosk.recover_again_changes_nothing()


async def test_a_jammed_note_is_flagged_for_staff(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_before(write("finish_payment"))
    await kiosk.control.jam_bill_reader("on_accept")
    kiosk.start()
    sale_id = await kiosk.choose("GIFT-20")
    await kiosk.pay_cash(10)
    await kiosk.crash()

    report = await kiosk.recover()

    assert report.sale(sale_id).decision == "flagged"
    closed_and_balanced(kiosk, sale_id, "flagged")
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.outcome, payment.taken, payment.uncertain) == ("unknown", eur(0), eur(10))
    [incident] = [i for i in kiosk.db.incidents() if i.kind == "note_uncertain"]
    assert incident.amount == eur(10)
    assert incident.sale_id == sale_id
    assert incident.details["payment_key"] == payment.key
    assert incident.details["payments"][0]["uncertain_minor"] == 1000
    assert await printed_titles(kiosk) == []  # nothing known taken: no voucher
    await kiosk.recover_again_changes_nothing()


async def test_paid_with_the_card_staged_but_not_debited_gives_the_money_back(
    kiosk: CrashKiosk,
) -> None:
    kiosk.journal.crash_after(write("update_sale", state="debiting"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()

    report = await kiosk.recover()

    assert report.sale(sale_id).state == "debiting"
    closed_and_balanced(kiosk, sale_id, "compensated")
    assert await kiosk.ledger() == []  # recovery never sends a debit that was not journalled
    sim = await kiosk.sim_state()
    assert sim["dispenser"]["dispensed"] == []
    assert len(sim["dispenser"]["discarded"]) == 1
    assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]
    await kiosk.recover_again_changes_nothing()


async def test_a_journalled_debit_never_sent_is_sent_with_the_same_ticket(
    kiosk: CrashKiosk,
) -> None:
    kiosk.journal.crash_after(write("begin_effect", ANY, "cardapi.debit"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()
    assert await kiosk.ledger() == []

    await kiosk.recover()

    [entry] = await kiosk.ledger()
    assert (entry["ticket_id"], entry["amount"], entry["replays"]) == (sale_id, "0.00", 0)
    [debit] = [e for e in kiosk.db.effects(sale_id) if e.kind == "cardapi.debit"]
    assert debit.status == "done"
    assert debit.outcome is not None
    assert debit.outcome["recovery"] == "sent again with the same ticket_id"
    # The card was never handed out: the customer's money comes back, the 0 debit stays.
    closed_and_balanced(kiosk, sale_id, "compensated")
    # A 0 debit needs no credit back: the voucher is the only incident.
    assert [i.kind for i in kiosk.db.incidents()] == ["refund_voucher"]
    await kiosk.recover_again_changes_nothing()


async def test_a_debit_whose_answer_was_lost_is_not_debited_twice(kiosk: CrashKiosk) -> None:
    journal = kiosk.journal
    journal.crash_before(
        lambda n, a, k: n == "end_effect" and a[0] == journal.effect_id("cardapi.debit")
    )
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()
    [sent] = await kiosk.ledger()
    assert sent["replays"] == 0

    await kiosk.recover()

    [entry] = await kiosk.ledger()  # CardAPI answered the first result: one debit
    assert (entry["ticket_id"], entry["replays"]) == (sale_id, 1)
    closed_and_balanced(kiosk, sale_id, "compensated")
    await kiosk.recover_again_changes_nothing()


async def test_a_debit_still_unknown_is_flagged_with_its_request(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_after(write("begin_effect", ANY, "cardapi.debit"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()
    await kiosk.control.call(
        "POST", "/cardapi/next-error",
        {"code": "CARD-1", "route": "debit", "when": "before", "count": 100},
    )  # fmt: skip
    client = cardapi.from_config(
        kiosk.config,
        clock=kiosk.clock,
        debit_retry=RetryPolicy(attempts=2, base_delay_s=0.0, max_delay_s=0.0),
    )
    try:
        report = await kiosk.recover(cards=client)
        assert report.sale(sale_id).decision == "flagged"
        sale = closed_and_balanced(kiosk, sale_id, "flagged")
        # The money is given back (nothing was handed out); the debit is for staff.
        assert sale.data["compensated_minor"] == 500
        [incident] = [i for i in kiosk.db.incidents() if i.kind == "debit_unknown"]
        assert incident.details["ticket_id"] == sale_id
        assert incident.details["request"]["ticket_id"] == sale_id
        assert incident.details["request"]["payment_row"]["amount"] == "0.00"
        [debit] = [e for e in kiosk.db.effects(sale_id) if e.kind == "cardapi.debit"]
        assert debit.status == "unknown"
        assert await kiosk.ledger() == []
        assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]
        await kiosk.recover_again_changes_nothing(cards=client)
    finally:
        await client.aclose()


async def test_debited_but_not_dispensed_gives_the_money_back(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_after(
        write("update_sale", data=lambda d: d is not None and d.get("debit") == "done")
    )
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()

    await kiosk.recover()

    closed_and_balanced(kiosk, sale_id, "compensated")
    sim = await kiosk.sim_state()
    assert sim["dispenser"]["dispensed"] == []
    assert len(sim["dispenser"]["discarded"]) == 1
    assert len(await kiosk.ledger()) == 1  # the new card's 0 debit, once
    assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]
    await kiosk.recover_again_changes_nothing()


async def test_a_dispense_sent_without_an_answer_and_the_card_gone_is_delivered(
    kiosk: CrashKiosk,
) -> None:
    journal = kiosk.journal
    journal.crash_before(
        lambda n, a, k: n == "end_effect" and a[0] == journal.effect_id("dispenser.dispense")
    )
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()
    assert len((await kiosk.sim_state())["dispenser"]["dispensed"]) == 1

    report = await kiosk.recover()

    assert report.sale(sale_id).decision == "delivered"
    sale = closed_and_balanced(kiosk, sale_id, "completed")
    assert (sale.data["delivered_minor"], sale.data["compensated_minor"]) == (500, 0)
    [dispense] = [e for e in kiosk.db.effects(sale_id) if e.kind == "dispenser.dispense"]
    assert dispense.status == "done"
    assert await printed_titles(kiosk) == [f"receipt {sale_id}"]  # finished: the receipt
    [payment] = kiosk.db.payments(sale_id)
    assert payment.compensation is None
    await kiosk.recover_again_changes_nothing()


async def test_a_dispense_that_never_left_finds_the_card_in_the_reader(
    kiosk: CrashKiosk,
) -> None:
    kiosk.journal.crash_after(write("begin_effect", ANY, "dispenser.dispense"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()

    report = await kiosk.recover()

    assert report.sale(sale_id).decision == "compensated"
    closed_and_balanced(kiosk, sale_id, "compensated")
    [dispense] = [e for e in kiosk.db.effects(sale_id) if e.kind == "dispenser.dispense"]
    assert dispense.status == "failed"
    sim = await kiosk.sim_state()
    assert (sim["dispenser"]["dispensed"], len(sim["dispenser"]["discarded"])) == ([], 1)
    await kiosk.recover_again_changes_nothing()


async def test_a_dispense_nobody_can_tell_about_is_flagged_not_refunded(
    kiosk: CrashKiosk,
) -> None:
    kiosk.journal.crash_after(write("begin_effect", ANY, "dispenser.dispense"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()
    await kiosk.control.set_fault(
        "tecalis", "/api/kiosk/KIOSK-001/dispenser/status", "status", status=400, count=100
    )

    report = await kiosk.recover()

    outcome = report.sale(sale_id)
    assert (outcome.decision, outcome.flagged) == ("flagged", eur(5))
    sale = closed_and_balanced(kiosk, sale_id, "flagged")
    assert sale.data["flagged_minor"] == 500
    [incident] = kiosk.db.incidents()
    assert (incident.kind, incident.amount) == ("dispense_unknown", eur(5))
    assert "dispenser status unavailable" in incident.details["why"]
    [payment] = kiosk.db.payments(sale_id)
    assert payment.compensation is None
    assert await printed_titles(kiosk) == []
    assert (await kiosk.sim_state())["dispenser"]["discarded"] == []
    await kiosk.recover_again_changes_nothing()


async def test_dispensed_but_not_printed_prints_the_receipt_once(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_before(write("update_sale", state="printing"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert (sale.status, sale.state) == ("completed", "dispensing")  # nothing left open

    report = await kiosk.recover()

    assert report.sales == ()
    assert report.receipts_printed == (sale_id,)
    assert await printed_titles(kiosk) == [f"receipt {sale_id}"]
    [receipt] = [e for e in kiosk.db.effects(sale_id) if e.kind == "printer.receipt"]
    assert receipt.status == "done"
    assert receipt.intent == {"by": "recovery"}
    closed_and_balanced(kiosk, sale_id, "completed")
    await kiosk.recover_again_changes_nothing()


async def test_a_receipt_sent_to_the_printer_is_not_printed_twice(kiosk: CrashKiosk) -> None:
    journal = kiosk.journal
    journal.crash_before(
        lambda n, a, k: n == "end_effect" and a[0] == journal.effect_id("printer.receipt")
    )
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()
    assert len(await printed_titles(kiosk)) == 1

    report = await kiosk.recover()

    assert report.receipts_printed == ()
    assert len(await printed_titles(kiosk)) == 1
    [receipt] = [e for e in kiosk.db.effects(sale_id) if e.kind == "printer.receipt"]
    assert receipt.status == "unknown"  # no intent stays without an outcome
    closed_and_balanced(kiosk, sale_id, "completed")
    await kiosk.recover_again_changes_nothing()


async def test_a_crash_in_the_flows_own_cancellation_gives_back_only_once(
    kiosk: CrashKiosk,
) -> None:
    # The flow already printed the voucher and recorded it, then died before closing.
    kiosk.journal.crash_before(write("update_sale", status="compensated"))
    flow, _watch = kiosk.start()
    sale_id = await kiosk.choose("GIFT-20")
    await kiosk.pay_cash(10)
    flow.submit(Cancel())
    await kiosk.crash()
    assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]
    assert (await kiosk.sim_state())["dispenser"]["card_position"] == "none"

    report = await kiosk.recover()

    assert report.sale(sale_id).compensated == eur(10)
    closed_and_balanced(kiosk, sale_id, "compensated")
    assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]  # not again
    [payment] = kiosk.db.payments(sale_id)
    assert (payment.compensation, payment.compensated) == ("voucher", eur(10))
    assert [i.kind for i in kiosk.db.incidents()] == ["refund_voucher"]  # the flow's, once
    sim = await kiosk.sim_state()
    assert len(sim["dispenser"]["discarded"]) == 1
    # The flow's own compensation, journalled before it was sent, done: recovery kept it.
    [given_back] = [e for e in kiosk.db.effects(sale_id) if e.kind == "payment.compensate"]
    assert given_back.status == "done"
    assert given_back.outcome is not None
    assert given_back.outcome["kind"] == "voucher"
    await kiosk.recover_again_changes_nothing()
