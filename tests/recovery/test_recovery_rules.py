"""The decision table's other rows, the policy, and faults during recovery itself.

Journal states the flow cannot reach on the simulators (a card never staged, a product
that hands out no card, a provider no longer configured) are written by hand, exactly as
the flow writes them; the rest run the real flow up to the crash.
"""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from kioskapp.core.money import Money
from kioskapp.core.recovery import RecoveryPolicy
from kioskapp.devices.errors import ServerError
from kioskapp.devices.health import ServiceHealth
from kioskapp.payments.base import (
    Compensation,
    JournalHook,
    Outcome,
    PaymentAttempt,
    PaymentMethod,
    PaymentRecord,
    PaymentResult,
    no_journal,
)

from .conftest import ANY, CrashKiosk, closed_and_balanced, eur, printed_titles, write


async def hand_written_sale(
    kiosk: CrashKiosk,
    *,
    method: str = "cash",
    price: Money | None = None,
    taken: Money | None = None,
    outcome: str | None = "approved",
    state: str = "debiting",
    data: dict[str, Any] | None = None,
    auth_code: str | None = None,
    last4: str | None = None,
) -> str:
    """A sale paid by ``method`` as the flow journals it, no card staged (no effects)."""
    price = price or eur(5)
    taken = price if taken is None else taken
    sale_id = str(uuid.uuid4())
    journal, db = kiosk.journal, kiosk.journal.db
    await journal.call(
        db.create_sale, sale_id, state="choosing", price=price, product_sku="CASHBACK-CARD",
        product_name="Cashback card",
        data={"language": "en", "needs_id_scan": False, "dispenses_card": True, **(data or {})},
    )  # fmt: skip
    await journal.call(db.update_sale, sale_id, state=state)
    record = PaymentRecord.new(method, sale_id, 1, price)
    await journal.call(
        db.save_payment, key=record.key, sale_id=sale_id, method=method, attempt=1,
        amount=price, taken=taken, reference="ref-1",
    )  # fmt: skip
    if outcome is not None:
        await journal.call(
            db.finish_payment, record.key, outcome=outcome, taken=taken, auth_code=auth_code,
            card_brand="visa" if last4 else None, card_last4=last4,
        )  # fmt: skip
    return sale_id


class BrokenMethod(PaymentMethod):
    """A payment method whose compensation fails: ``error`` is raised from it."""

    name: ClassVar[str] = "cash"

    def __init__(self, error: Exception) -> None:
        self.error = error
        self.recovered: list[PaymentRecord] = []

    async def start(
        self, amount: Money, sale_id: str, *, attempt: int = 1, journal: JournalHook = no_journal
    ) -> PaymentAttempt:
        raise NotImplementedError

    async def compensate(self, result: PaymentResult) -> Compensation:
        raise self.error

    async def recover(self, record: PaymentRecord) -> PaymentResult:
        self.recovered.append(record)
        return PaymentResult(record, Outcome.APPROVED, record.amount)

    def health(self) -> ServiceHealth:
        return ServiceHealth("broken")


async def test_paid_in_cash_with_no_card_staged_gives_the_money_back(kiosk: CrashKiosk) -> None:
    sale_id = await hand_written_sale(kiosk)
    await kiosk.crash_now()

    report = await kiosk.recover()

    assert report.sale(sale_id).decision == "compensated"
    closed_and_balanced(kiosk, sale_id, "compensated")
    assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]
    sim = await kiosk.sim_state()
    assert sim["dispenser"]["discarded"] == []  # no card of this sale to discard
    assert sim["dispenser"]["dispensed"] == []
    await kiosk.recover_again_changes_nothing()


async def test_paid_by_card_with_no_card_staged_gives_a_voucher_staff_can_refund(
    kiosk: CrashKiosk,
) -> None:
    sale_id = await hand_written_sale(kiosk, method="tpv", auth_code="123456", last4="0010")
    await kiosk.crash_now()

    await kiosk.recover()

    closed_and_balanced(kiosk, sale_id, "compensated")
    [incident] = kiosk.db.incidents()
    assert incident.kind == "refund_voucher"
    assert incident.amount == eur(5)
    assert (incident.details["auth_code"], incident.details["card_last4"]) == ("123456", "0010")
    assert "0010" in incident.details["detail"]  # the refund instruction names the card
    assert await printed_titles(kiosk) == [f"refund voucher for sale {sale_id}"]
    await kiosk.recover_again_changes_nothing()


async def test_a_product_that_hands_out_no_card_is_finished_forward(kiosk: CrashKiosk) -> None:
    sale_id = await hand_written_sale(kiosk, state="printing", data={"dispenses_card": False})
    await kiosk.crash_now()

    report = await kiosk.recover()

    assert report.sale(sale_id).decision == "finished"
    sale = closed_and_balanced(kiosk, sale_id, "completed")
    assert sale.data["delivered_minor"] == 500
    assert await printed_titles(kiosk) == [f"receipt {sale_id}"]
    await kiosk.recover_again_changes_nothing()


async def test_recovery_never_sends_a_debit_the_flow_did_not_journal(kiosk: CrashKiosk) -> None:
    # Paid, the customer's pass identified, but the debit request was never journalled.
    sale_id = await hand_written_sale(
        kiosk, data={"dispenses_card": False, "pass_id": "P-0654", "cashback_minor": 0}
    )
    await kiosk.crash_now()

    report = await kiosk.recover()

    assert report.sale(sale_id).decision == "compensated"
    assert any("never sent" in a for a in report.sale(sale_id).actions)
    closed_and_balanced(kiosk, sale_id, "compensated")
    assert await kiosk.ledger() == []
    await kiosk.recover_again_changes_nothing()


async def test_a_payment_no_configured_method_can_answer_for_is_flagged(
    kiosk: CrashKiosk,
) -> None:
    sale_id = await hand_written_sale(kiosk, method="kinetic", taken=eur(0), outcome=None,
                                      state="paying")  # fmt: skip
    await kiosk.crash_now()

    report = await kiosk.recover()

    assert report.sale(sale_id).decision == "flagged"
    closed_and_balanced(kiosk, sale_id, "flagged")
    [payment] = kiosk.db.payments(sale_id)
    assert payment.outcome == "unknown"
    [incident] = kiosk.db.incidents()
    assert (incident.kind, incident.amount) == ("payment_unknown", eur(5))
    assert incident.details["reference"] == "ref-1"
    assert "no 'kinetic' payment method" in incident.details["why"]
    assert incident.details["payments"][0]["method"] == "kinetic"
    await kiosk.recover_again_changes_nothing()


async def test_a_compensation_that_fails_is_flagged_for_staff(kiosk: CrashKiosk) -> None:
    sale_id = await hand_written_sale(kiosk)
    await kiosk.crash_now()
    broken = BrokenMethod(ServerError("refund service down", service="test", status=503))

    report = await kiosk.recover(payment_methods={"cash": broken})

    outcome = report.sale(sale_id)
    assert (outcome.decision, outcome.flagged, outcome.compensated) == ("flagged", eur(5), eur(0))
    sale = closed_and_balanced(kiosk, sale_id, "flagged")
    assert sale.data["flagged_minor"] == 500
    [incident] = kiosk.db.incidents()
    assert (incident.kind, incident.amount) == ("compensation_failed", eur(5))
    [effect] = [e for e in kiosk.db.effects(sale_id) if e.kind == "payment.compensate"]
    assert effect.status == "unknown"  # a 503 may have acted: never repeated blindly
    assert await printed_titles(kiosk) == []
    await kiosk.recover_again_changes_nothing(payment_methods={"cash": broken})


async def test_a_compensation_cut_off_by_an_earlier_recovery_is_not_repeated(
    kiosk: CrashKiosk,
) -> None:
    sale_id = await hand_written_sale(kiosk)
    [payment] = kiosk.journal.db.payments(sale_id)
    await kiosk.journal.call(
        kiosk.journal.db.begin_effect, sale_id, "payment.compensate",
        {"payment_key": payment.key, "method": "cash", "amount_minor": 500}, key=payment.key,
    )  # fmt: skip
    await kiosk.crash_now()

    await kiosk.recover()

    closed_and_balanced(kiosk, sale_id, "flagged")
    [incident] = kiosk.db.incidents()
    assert (incident.kind, incident.amount) == ("compensation_unknown", eur(5))
    assert await printed_titles(kiosk) == []
    await kiosk.recover_again_changes_nothing()


async def test_a_bug_in_one_sale_does_not_stop_the_others(kiosk: CrashKiosk) -> None:
    bad = await hand_written_sale(kiosk)
    good = await hand_written_sale(kiosk, method="tpv", auth_code="654321", last4="0010")
    await kiosk.crash_now()
    broken = BrokenMethod(RuntimeError("a bug"))
    methods = {**(await kiosk.restart())[0].payment_methods, "cash": broken}

    report = await kiosk.recover(payment_methods=methods)

    assert report.sale(bad).decision == "flagged"
    assert report.sale(good).decision == "compensated"
    sale = closed_and_balanced(kiosk, bad, "flagged")
    assert sale.data["flagged_minor"] == 500
    closed_and_balanced(kiosk, good, "compensated")
    kinds = sorted((i.sale_id == bad, i.kind) for i in kiosk.db.incidents())
    assert kinds == [(False, "refund_voucher"), (True, "recovery_failed")]
    await kiosk.recover_again_changes_nothing(payment_methods=methods)


async def test_the_printer_out_of_paper_still_issues_the_voucher_for_staff(
    kiosk: CrashKiosk,
) -> None:
    sale_id = await hand_written_sale(kiosk)
    await kiosk.crash_now()
    await kiosk.control.set_printer(paper="out")

    await kiosk.recover()

    closed_and_balanced(kiosk, sale_id, "compensated")
    [incident] = kiosk.db.incidents()
    assert incident.kind == "refund_voucher"
    assert incident.details["printed"] is False
    [voucher] = [e for e in kiosk.db.effects(sale_id) if e.kind == "printer.voucher"]
    assert voucher.status == "failed"
    await kiosk.recover_again_changes_nothing()


async def test_a_customer_maybe_still_there_gets_the_card_when_the_policy_allows(
    kiosk: CrashKiosk,
) -> None:
    kiosk.journal.crash_after(write("begin_effect", ANY, "dispenser.dispense"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()

    report = await kiosk.recover(RecoveryPolicy(customer_present_s=60.0))

    assert report.sale(sale_id).decision == "finished"
    sale = closed_and_balanced(kiosk, sale_id, "completed")
    assert sale.data["delivered_minor"] == 500
    sim = await kiosk.sim_state()
    assert [d["barcode"] for d in sim["dispenser"]["dispensed"]] == ["8412345678901"]
    dispenses = [e for e in kiosk.db.effects(sale_id) if e.kind == "dispenser.dispense"]
    assert [(e.status, e.intent.get("by")) for e in dispenses] == [
        ("failed", None),  # the flow's, never sent: the card was still in the reader
        ("done", "recovery"),
    ]
    assert await printed_titles(kiosk) == [f"receipt {sale_id}"]
    await kiosk.recover_again_changes_nothing()


async def test_a_customer_long_gone_gets_the_money_back_not_a_card(kiosk: CrashKiosk) -> None:
    kiosk.journal.crash_after(write("begin_effect", ANY, "dispenser.dispense"))
    kiosk.start()
    sale_id = await kiosk.choose("CASHBACK-CARD")
    await kiosk.pay_cash(5)
    await kiosk.crash()
    kiosk.clock.advance(61.0)

    report = await kiosk.recover(RecoveryPolicy(customer_present_s=60.0))

    assert report.sale(sale_id).decision == "compensated"
    closed_and_balanced(kiosk, sale_id, "compensated")
    sim = await kiosk.sim_state()
    assert (sim["dispenser"]["dispensed"], len(sim["dispenser"]["discarded"])) == ([], 1)
    await kiosk.recover_again_changes_nothing()


async def test_every_decision_is_in_the_audit_log(kiosk: CrashKiosk) -> None:
    sale_id = await hand_written_sale(kiosk, outcome=None, state="paying", taken=eur(0))
    await kiosk.crash_now()
    # Its recover() says APPROVED for the full 5; giving it back then fails.
    broken = BrokenMethod(ServerError("refund service down", service="test", status=503))

    await kiosk.recover(payment_methods={"cash": broken})

    assert [r.key for r in broken.recovered] == [kiosk.db.payments(sale_id)[0].key]
    actions = [a.action for a in reversed(kiosk.db.audit())]
    assert actions[0] == "recovery.start"
    assert actions[-1] == "recovery.done"
    assert {"recovery.payment", "recovery.sale"} <= set(actions)
    assert {a.actor for a in kiosk.db.audit()} == {"recovery"}
    [payment] = [a for a in kiosk.db.audit() if a.action == "recovery.payment"]
    assert (payment.details["sale_id"], payment.details["outcome"]) == (sale_id, "approved")
    assert payment.details["journalled"] is None
