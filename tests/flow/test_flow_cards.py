"""Identifying the customer's cashback card, ID scans and staging the new card."""

from __future__ import annotations

import asyncio

import pytest

from kioskapp.core.flow import (
    Back,
    Cancel,
    CardCodeScanned,
    ChooseProduct,
    ConfirmId,
    EnterCardNumber,
    Finish,
    FlowSnapshot,
    HaveCard,
    PayWith,
    ReadCardOnTerminal,
    SkipCard,
    Start,
    State,
    UseCashback,
)
from kioskapp.core.money import Money
from kioskapp.devices import payjunction
from kioskapp.devices.serial_reader import ReaderStopped, ScannedCode

from .conftest import Kiosk, Watcher


def eur(major: int | str) -> Money:
    return Money.from_major(str(major), "EUR")


async def _choose(kiosk: Kiosk, sku: str) -> FlowSnapshot:
    flow, _, watch = kiosk.flows[-1]
    await watch.until_state(State.ATTRACT)
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    flow.submit(ChooseProduct(sku))
    ident = await watch.until_state(State.IDENTIFYING)
    assert ident.sale_id is not None
    assert ident.identify_phase == "ask"
    return ident


async def _phase(watch: Watcher, phase: str) -> None:
    await watch.until(lambda s: s.identify_phase == phase, f"identify phase {phase}")


async def test_cashback_pays_part_and_an_unknown_card_is_not_an_error(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    sale_id = (await _choose(kiosk, "GIFT-20")).sale_id
    flow.submit(HaveCard())
    await _phase(watch, "enter")
    flow.submit(EnterCardNumber("7001999999999"))  # CardAPI: CARD-14
    missing = await watch.until(lambda s: s.notice is not None, "a notice")
    assert missing.notice is not None
    assert (missing.notice.key, missing.notice.who) == ("card.not_found", "customer")
    assert missing.state is State.IDENTIFYING
    assert missing.identify_phase == "enter"
    flow.submit(EnterCardNumber("7001 0000 00654"))
    found = await watch.until(lambda s: s.identify_phase == "found", "the card found")
    assert found.identified_pass is not None
    assert found.identified_pass.masked_number == "…0654"
    assert found.identified_pass.balance == eur("6.54")
    assert found.identified_pass.usable == eur("6.54")
    flow.submit(UseCashback(True))
    choice = await watch.until_state(State.PAYMENT_CHOICE)
    assert choice.cashback_used == eur("6.54")
    assert choice.amount_due == eur("13.46")
    await kiosk.control.tpv_auto("approve")
    flow.submit(PayWith("tpv"))
    done = await watch.until_state(State.THANK_YOU)
    assert done.amount_paid == eur("13.46")
    # One debit, on the customer's pass, for the cashback used, ticket = the sale id.
    ledger = await kiosk.ledger()
    assert [(d["ticket_id"], d["pass_id"], d["amount"], d["balance_after"]) for d in ledger] == [
        (sale_id, "P-CB-0654", "6.54", "0.00")
    ]
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert sale.data["cashback_minor"] == 654
    assert sale.data["delivered_minor"] == 1346
    rec = kiosk.db.reconciliation("EUR")
    assert rec.balanced
    assert rec.taken == eur("13.46")


class FakeReader:
    """The serial card reader's interface, fed by the test."""

    def __init__(self) -> None:
        self.codes: asyncio.Queue[ScannedCode | None] = asyncio.Queue()
        self.discarded = 0

    def discard_pending(self) -> int:
        dropped = 0
        while not self.codes.empty():
            self.codes.get_nowait()
            dropped += 1
        self.discarded += dropped
        return dropped

    async def next_code(self) -> ScannedCode:
        code = await self.codes.get()
        if code is None:
            raise ReaderStopped("stopped", service="serial_reader")
        return code


async def test_cashback_covering_the_price_needs_no_payment(kiosk: Kiosk) -> None:
    reader = FakeReader()
    flow, watch = kiosk.start(code_reader=reader)
    await watch.until_state(State.ATTRACT)
    reader.codes.put_nowait(ScannedCode("04A1B2C3D40654", "nfc", 0.0))  # before the screen
    ask = await _choose(kiosk, "CASHBACK-CARD")
    sale_id = ask.sale_id
    assert ask.identify_modes == ("keypad", "reader")
    assert reader.discarded == 1  # a code from before this screen is not this customer's
    reader.codes.put_nowait(ScannedCode("04A1B2C3D42500", "nfc", 0.0))
    found = await watch.until(lambda s: s.identify_phase == "found", "the card found")
    assert found.identified_pass is not None
    assert found.identified_pass.usable == eur(5)  # min(balance 25.00, price 5.00)
    flow.submit(UseCashback(True))
    await watch.until_state(State.THANK_YOU)
    assert State.PAYMENT_CHOICE not in watch.states()
    ledger = await kiosk.ledger()
    assert [(d["ticket_id"], d["pass_id"], d["amount"]) for d in ledger] == [
        (sale_id, "P-CB-2500", "5.00")
    ]
    assert kiosk.db.payments(sale_id) == []
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert sale.status == "completed"


async def test_an_expired_or_non_cashback_card_cannot_pay(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    await _choose(kiosk, "CASHBACK-CARD")
    flow.submit(CardCodeScanned("7001000000999", "barcode"))  # P-CB-EXPD
    expired = await watch.until(lambda s: s.notice is not None, "a notice")
    assert expired.notice is not None
    assert expired.notice.key == "card.expired"
    flow.submit(EnterCardNumber("7002000000042"))  # a LOYALTY pass
    loyalty = await watch.until(
        lambda s: s.notice is not None and s.notice.key != "card.expired", "another notice"
    )
    assert loyalty.notice is not None
    assert loyalty.notice.key == "card.not_usable"
    assert loyalty.identified_pass is None
    flow.submit(Back())
    await _phase(watch, "ask")
    flow.submit(Back())  # back to choosing: the sale is closed, nothing taken
    back = await watch.until_state(State.CHOOSING)
    assert back.sale_id is None


async def test_id_scan_confirm_or_scan_again(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    sale_id = (await _choose(kiosk, "PREMIUM-50")).sale_id
    flow.submit(SkipCard())
    await watch.until_state(State.ID_SCAN)
    first = await watch.until_state(State.ID_CONFIRM)
    assert first.id_image is not None
    assert first.id_image.startswith(b"\xff\xd8")
    flow.submit(ConfirmId(False))
    rescan = await watch.until_state(State.ID_SCAN)
    assert rescan.id_image is None
    assert rescan.notice is not None
    assert rescan.notice.key == "id.scan_again"
    await watch.until_state(State.ID_CONFIRM)
    flow.submit(ConfirmId(True))
    choice = await watch.until_state(State.PAYMENT_CHOICE)
    assert choice.id_image is None  # the image is kept only for the confirmation
    assert choice.amount_due == eur(50)
    assert (await kiosk.sim())["scanner"]["scans"] == 2
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert sale.data["id_checked"] is True
    # Cancel before paying: the staged card goes to the reject bin, nothing to refund.
    flow.submit(Cancel())
    await watch.until_state(State.ATTRACT)
    assert State.ERROR not in watch.states()
    sim = await kiosk.sim()
    assert len(sim["dispenser"]["discarded"]) == 1
    assert sim["dispenser"]["card_position"] == "none"
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert sale.status == "cancelled"


async def test_an_unreadable_card_is_discarded_and_the_next_one_staged(kiosk: Kiosk) -> None:
    await kiosk.control.set_dispenser(unreadable_next=1)
    flow, watch = kiosk.start()
    sale_id = (await _choose(kiosk, "CASHBACK-CARD")).sale_id
    flow.submit(SkipCard())
    await watch.until_state(State.PAYMENT_CHOICE)
    effects = [(e.kind, e.status) for e in kiosk.db.effects(sale_id)]
    assert effects == [
        ("dispenser.prepare", "done"),
        ("dispenser.discard", "done"),
        ("dispenser.prepare", "done"),
    ]
    sale = kiosk.db.sale(sale_id)
    assert sale is not None
    assert sale.data["card_pass_id"] == "P-NEW-02"
    sim = await kiosk.sim()
    assert [d["barcode"] for d in sim["dispenser"]["discarded"]] == ["8412345678901"]
    assert sim["dispenser"]["prepared_barcode"] == "8412345678902"


async def test_three_bad_cards_put_the_dispenser_out_of_service_before_payment(
    kiosk: Kiosk,
) -> None:
    await kiosk.control.set_dispenser(unreadable_next=3)
    flow, watch = kiosk.start()
    sale_id = (await _choose(kiosk, "GIFT-20")).sale_id
    flow.submit(SkipCard())
    error = await watch.until_state(State.ERROR)
    assert error.error is not None
    assert (error.error.key, error.error.who) == ("dispenser.out_of_service", "staff")
    assert State.PAYMENT_CHOICE not in watch.states()  # told before paying
    assert kiosk.db.payments(sale_id) == []
    assert "dispenser" in flow.faults
    sim = await kiosk.sim()
    assert len(sim["dispenser"]["discarded"]) == 3
    flow.submit(Finish())
    out = await watch.until_state(State.OUT_OF_SERVICE)
    assert out.out_of_service_reason == "out_of_service.dispenser_fault"
    flow.clear_fault("dispenser")  # staff fixed it
    back = await watch.until_state(State.ATTRACT)
    assert all(item.available for item in back.catalogue)


async def test_an_empty_hopper_at_attract_means_out_of_service(kiosk: Kiosk) -> None:
    await kiosk.control.set_dispenser(hopper=0)
    flow, watch = kiosk.start()
    out = await watch.until_state(State.OUT_OF_SERVICE)
    assert out.out_of_service_reason == "out_of_service.dispenser_empty"
    assert not any(item.available for item in out.catalogue)
    flow.submit(Start())  # nothing to sell: ignored
    await kiosk.control.set_dispenser(hopper=10)
    kiosk.clock.advance(30)  # the out-of-service screen checks again
    back = await watch.until_state(State.ATTRACT)
    assert back.out_of_service_reason is None
    assert State.STARTING not in watch.states()


@pytest.mark.parametrize("kiosk", ["payjunction"], indirect=True)
async def test_a_card_swiped_on_the_payjunction_terminal_is_identified(kiosk: Kiosk) -> None:
    await kiosk.control.call(
        "POST",
        "/payjunction/webhook",
        {"url": kiosk.devices.receiver.url_for(payjunction.WEBHOOK_PATH)},
    )
    flow, watch = kiosk.start()
    ask = await _choose(kiosk, "CASHBACK-CARD")
    assert ask.identify_modes == ("keypad", "terminal")
    flow.submit(ReadCardOnTerminal())
    await _phase(watch, "reading")
    for _ in range(500):  # each check is an HTTP round trip to the simulator
        terminal = (await kiosk.control.call("GET", "/payjunction/state"))["terminal"]
        if terminal["current"] is not None:
            break
    await kiosk.control.call("POST", "/payjunction/terminal/swipe", {"track": ";7001000000654?"})
    found = await watch.until(lambda s: s.identify_phase == "found", "the swiped card found")
    assert found.identified_pass is not None
    assert found.identified_pass.masked_number == "…0654"
    assert found.identified_pass.usable == eur(5)
