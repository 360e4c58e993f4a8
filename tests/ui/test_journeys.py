"""Whole customer journeys through the window, pressing buttons as a customer would,
reading what the screen shows, and checking the journal and the simulators behind it."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtWidgets import QLabel, QLineEdit

from kioskapp.core.flow import State
from kioskapp.core.money import Money
from kioskapp.devices import komoju, payjunction
from kioskapp.simulator.control import SimControlError
from kioskapp.ui import theme
from kioskapp.ui.i18n import qm_path, texts_for
from tests.flow.conftest import Kiosk
from tests.ui.conftest import Ui, UiSession

EN = texts_for("en")


def eur(major: int | str) -> Money:
    return Money.from_major(str(major), "EUR")


async def test_cash_journey_through_the_screens(ui: UiSession) -> None:
    async with ui() as u:
        u.click("start")
        await u.until_state(State.CHOOSING)
        assert "€5.00" in u.find("product:CASHBACK-CARD").text()
        u.click("product:CASHBACK-CARD")
        await u.until_state(State.IDENTIFYING)
        u.click("identify:no")
        await u.until_state(State.PAYMENT_CHOICE)
        assert "To pay: €5.00" in u.screen_text()
        u.click("pay:cash")
        await u.until_drawn(
            lambda s: (
                s.payment_status is not None and s.payment_status.phase == "waiting_for_customer"
            ),
            "the bill reader open",
        )
        remaining = u.window.current_screen.findChild(QLabel, "remaining")
        assert remaining.text() == "€5.00"
        await u.kiosk.insert_note(5)
        done = await u.until_state(State.THANK_YOU)
        assert done.amount_paid == eur(5)
        assert "Thank you!" in u.screen_text()
        u.click("finish")
        await u.until_state(State.ATTRACT)
        assert u.kiosk.db.reconciliation("EUR").balanced


async def test_cash_journey_shows_each_note_and_what_is_left(ui: UiSession) -> None:
    async with ui() as u:
        sale_id = await u.pay_cash("GIFT-20", 10)
        assert u.label("due").text() == "€20.00"
        assert u.label("inserted").text() == "€10.00"
        assert u.label("remaining").text() == "€10.00"
        assert u.label("note").text() == "€10.00 accepted. Thank you."
        assert u.label("note").property("role") == "ok"
        await u.kiosk.insert_note(10)
        done = await u.until_state(State.THANK_YOU)
        assert done.amount_paid == eur(20)
        assert "Please take your card and your receipt." in u.screen_text()
        [payment] = u.kiosk.db.payments(sale_id)
        assert (payment.method, payment.outcome, payment.taken) == ("cash", "approved", eur(20))
        sim = await u.kiosk.sim()
        assert len(sim["dispenser"]["dispensed"]) == 1
        assert len(sim["printer"]["printed"]) == 1
        u.click("finish")
        back = await u.until_state(State.ATTRACT)
        assert back.sale_id is None
        assert u.kiosk.db.reconciliation("EUR").balanced


# -- card payments, one per provider --------------------------------------------------


async def _present_card(u: Ui, provider: str) -> None:
    """The customer pays at the provider's terminal (its simulator's control API)."""
    control = u.kiosk.control
    if provider == "komoju":
        await control.call("POST", "/komoju/wait", {"phase": "waiting", "timeout_s": 10})
        await control.call("POST", "/komoju/terminal/approve", {"brand": "visa", "last4": "4242"})
    elif provider == "payjunction":
        for _ in range(500):  # each try is an HTTP round trip to the simulator
            try:
                await control.call(
                    "POST", "/payjunction/terminal/present", {"brand": "VISA", "last4": "4242"}
                )
                return
            except SimControlError:
                u.kiosk.clock.advance(0.5)  # the kiosk's connect poll runs on its clock
        raise AssertionError("the PayJunction terminal never asked for a card")


async def _arm_terminal(kiosk: Kiosk, provider: str) -> None:
    """Terminals that decide on their own approve at once; webhooks reach the kiosk."""
    control = kiosk.control
    receiver = kiosk.devices.receiver
    if provider == "tpv":
        await control.tpv_auto("approve")
    elif provider == "kinetic":
        await control.call("POST", "/kinetic/auto", {"outcome": "approve"})
    elif provider == "komoju":
        await control.call(
            "POST", "/komoju/webhook", {"url": receiver.url_for(komoju.WEBHOOK_PATH)}
        )
    elif provider == "payjunction":
        url = receiver.url_for(payjunction.WEBHOOK_PATH)
        await control.call("POST", "/payjunction/webhook", {"url": url})


async def _terminal_took(kiosk: Kiosk, provider: str) -> list[Any]:
    """What the provider's simulator shows as approved (amounts as it reports them)."""
    control = kiosk.control
    if provider == "tpv":
        tpv = (await kiosk.sim())["tpv"]
        return [(tpv["state"], tpv["amount"])]
    if provider == "kinetic":
        state = await control.call("GET", "/kinetic/state")
        return [(t["result"], t["amount"]) for t in state["transactions"] if t["type"] == "sale"]
    if provider == "komoju":
        state = await control.call("GET", "/komoju/state")
        return [(p["status"], p["amount"]) for p in state["payments"]]
    state = await control.call("GET", "/payjunction/state")
    return [(t["status"], t["amountTotal"]) for t in state["transactions"]]


async def _card_journey(u: Ui, sku: str, price: str, took: list[Any]) -> None:
    """A sale of ``sku`` paid on the kiosk's card terminal, through the screens."""
    kiosk = u.kiosk
    provider = kiosk.config.payments.card_provider
    choice = await u.to_payment_choice(sku)
    assert choice.methods_offered == ("cash", provider)
    assert f"To pay: {price}" in u.screen_text()
    assert u.find(f"pay:{provider}").text() == f"{EN('pay.card')}\n{EN('pay.card_hint')}"
    u.click(f"pay:{provider}")
    paying = await u.until_state(State.PAYING)
    assert paying.payment_method == provider
    assert EN("card_pay.title") in u.screen_text()
    assert u.label("status").text() != ""
    assert not u.visible("pay:rest_by_card")  # only while paying cash
    if provider in ("komoju", "payjunction"):  # the customer must present a card
        await u.until_drawn_ticking(
            lambda s: (
                s.payment_status is not None and s.payment_status.phase == "waiting_for_customer"
            ),
            "the terminal waiting for a card",
        )
        status = u.label("status").text()
        assert status == f"Amount: {price}\n{EN('phase.waiting_for_customer')}"
        assert u.find("cancel").isEnabled()
        assert u.spoken[-1] == EN("phase.waiting_for_customer")
        await _present_card(u, provider)
    done = await u.until_drawn_ticking(lambda s: s.state is State.THANK_YOU, "thank you")
    assert done.amount_paid == choice.amount_due
    assert "Thank you!" in u.screen_text()
    [payment] = kiosk.db.payments(choice.sale_id or "")
    assert (payment.method, payment.outcome) == (provider, "approved")
    assert payment.taken == choice.amount_due
    assert await _terminal_took(kiosk, provider) == took
    rec = kiosk.db.reconciliation(kiosk.config.kiosk.currency)
    assert rec.balanced
    assert rec.delivered == choice.amount_due
    u.click("finish")
    await u.until_state(State.ATTRACT)


TOOK_5_EUR = {
    "tpv": [("approved", 5)],
    "kinetic": [("approved", 500)],
    "komoju": [("captured", 500)],
}


@pytest.mark.parametrize("kiosk", ["tpv", "kinetic", "komoju"], indirect=True)
async def test_card_journey_on_each_euro_terminal(ui: UiSession, kiosk: Kiosk) -> None:
    provider = kiosk.config.payments.card_provider
    await _arm_terminal(kiosk, provider)
    async with ui() as u:
        await _card_journey(u, "CASHBACK-CARD", "€5.00", TOOK_5_EUR[provider])
        sim = await kiosk.sim()
        assert len(sim["dispenser"]["dispensed"]) == 1


async def test_card_journey_on_the_payjunction_terminal(
    dollar_ui: UiSession, dollar_kiosk: Kiosk
) -> None:
    """PayJunction takes US dollars: a dollar kiosk selling a top-up (no card handed out)."""
    await _arm_terminal(dollar_kiosk, "payjunction")
    async with dollar_ui() as u:
        await _card_journey(u, "TOPUP-10", "$10.00", [("CAPTURE", "10.00")])
        sim = await dollar_kiosk.sim()
        assert sim["dispenser"]["dispensed"] == []


async def test_mixed_journey_cash_then_the_rest_by_card(ui: UiSession, kiosk: Kiosk) -> None:
    async with ui() as u:
        sale_id = await u.pay_cash("GIFT-20", 10)
        assert u.label("remaining").text() == "€10.00"
        assert u.find("pay:rest_by_card").text() == "Pay the rest by card"
        await kiosk.control.tpv_auto("approve")
        u.click("pay:rest_by_card")
        card = await u.until_drawn(lambda s: s.payment_method == "tpv", "paying by card")
        assert card.state is State.PAYING
        assert card.amount_paid == eur(10)
        assert "Amount: €10.00" in u.label("status").text()
        assert not u.visible("pay:rest_by_card")
        done = await u.until_state(State.THANK_YOU)
        assert done.amount_paid == eur(20)
        payments = [(p.method, p.taken, p.outcome) for p in kiosk.db.payments(sale_id)]
        assert payments == [("cash", eur(10), "cancelled"), ("tpv", eur(10), "approved")]
        rec = kiosk.db.reconciliation("EUR")
        assert rec.balanced
        assert (rec.taken, rec.delivered) == (eur(20), eur(20))


async def test_cashback_typed_on_the_keypad_reduces_the_amount_due(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        ident = await u.start_sale("GIFT-20")
        assert u.find("identify:yes").text() == "Yes, use my card"
        u.click("identify:yes")
        await u.until_drawn(lambda s: s.identify_phase == "enter", "the keypad")
        number = u.window.current_screen.findChild(QLineEdit, "card_number")
        assert number is not None
        for digit in "7001000000654":
            u.click(f"key:{digit}")
        assert number.text() == "7001000000654"
        u.click("key:delete")
        u.click("key:4")
        u.click("key:ok")
        found = await u.until_drawn(lambda s: s.identify_phase == "found", "the card found")
        assert found.identified_pass is not None
        text = u.screen_text()
        assert "Card …0654" in text
        assert "Balance: €6.54" in text
        assert "Use €6.54 of it for this purchase?" in text
        assert "7001000000654" not in text  # only the masked number once found
        u.click("identify:use")
        choice = await u.until_state(State.PAYMENT_CHOICE)
        assert choice.amount_due == eur("13.46")
        text = u.screen_text()
        assert "To pay: €13.46" in text
        assert "Cashback used: €6.54" in text
        await kiosk.control.tpv_auto("approve")
        u.click("pay:tpv")
        done = await u.until_state(State.THANK_YOU)
        assert done.amount_paid == eur("13.46")
        ledger = await kiosk.ledger()
        assert [(d["ticket_id"], d["pass_id"], d["amount"]) for d in ledger] == [
            (ident.sale_id, "P-CB-0654", "6.54")
        ]
        assert kiosk.db.reconciliation("EUR").balanced


async def test_id_scan_product_shows_the_image_to_confirm(ui: UiSession, kiosk: Kiosk) -> None:
    async with ui() as u:
        u.click("start")
        await u.until_state(State.CHOOSING)
        assert u.find("product:PREMIUM-50").text() == (
            "Premium card 50 (ID required)\n€50.00\nID document needed"
        )
        u.click("product:PREMIUM-50")
        ident = await u.until_state(State.IDENTIFYING)
        u.click("identify:no")
        confirm = await u.until_state(State.ID_CONFIRM)
        assert confirm.id_image is not None
        image = u.label("id_image")
        assert not image.pixmap().isNull()
        assert image.pixmap().width() > 100
        assert "Is your ID easy to read?" in u.screen_text()
        u.click("id:ok")
        choice = await u.until_state(State.PAYMENT_CHOICE)
        assert choice.amount_due == eur(50)
        assert "To pay: €50.00" in u.screen_text()
        assert (await kiosk.sim())["scanner"]["scans"] == 1
        sale = kiosk.db.sale(ident.sale_id or "")
        assert sale is not None
        assert sale.data["id_checked"] is True
        u.click("cancel")  # nothing paid: back to attract, the staged card discarded
        await u.until_state(State.ATTRACT)
        assert len((await kiosk.sim())["dispenser"]["discarded"]) == 1


async def test_a_note_larger_than_due_is_returned_with_the_reason(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        sale_id = await u.pay_cash("CASHBACK-CARD")
        assert EN("cash.no_change") in u.screen_text()
        await kiosk.insert_note(10)
        returned = await u.until_drawn(
            lambda s: s.note is not None and s.note.key.startswith("note_returned"),
            "the note returned",
        )
        assert returned.amount_paid == eur(0)
        note = u.label("note")
        assert note.text() == "€10.00 returned: it is more than the amount left. Please take it."
        assert note.property("role") == "notice"
        assert u.label("remaining").text() == "€5.00"
        await kiosk.insert_note(5)
        await u.until_state(State.THANK_YOU)
        [payment] = kiosk.db.payments(sale_id)
        assert payment.taken == eur(5)
        assert kiosk.db.cash_box("EUR").total == eur(5)


async def test_cancel_with_a_note_stacked_shows_what_is_given_back(
    ui: UiSession, kiosk: Kiosk
) -> None:
    async with ui() as u:
        sale_id = await u.pay_cash("GIFT-20", 10)
        u.click("cancel")
        error = await u.until_state(State.ERROR)
        assert error.error is not None
        assert error.error.key == "refund.voucher_issued"
        text = u.screen_text()
        assert "Sorry" in text
        assert "Your purchase could not be finished. A refund voucher was issued." in text
        assert u.label("refund").text() == (
            "Given back: €10.00\nKeep your refund voucher: staff will pay it back."
        )
        assert u.label("error_todo").text() == "You can start again when you are ready."
        [payment] = kiosk.db.payments(sale_id)
        assert (payment.compensation, payment.compensated) == ("voucher", eur(10))
        [incident] = kiosk.db.incidents()
        assert incident.kind == "refund_voucher"
        assert len((await kiosk.sim())["printer"]["printed"]) == 1  # the voucher
        u.click("finish")
        await u.until_state(State.ATTRACT)
        assert kiosk.db.reconciliation("EUR").balanced


# -- language and accessibility ----------------------------------------------------------


async def test_language_switch_mid_journey(ui: UiSession) -> None:
    """The language button, the snapshot and the money format follow the switch (the
    words themselves: the next test)."""
    async with ui() as u:
        await u.to_payment_choice("CASHBACK-CARD")
        assert u.find("lang:en").isChecked()
        assert "€5.00" in u.screen_text()
        u.click("lang:es")
        es = await u.until_drawn(lambda s: s.language == "es", "Spanish")
        assert es.state is State.PAYMENT_CHOICE
        assert u.find("lang:es").isChecked()
        assert not u.find("lang:en").isChecked()
        assert u.find("lang:es").text() == "Español"
        assert "5,00 €" in u.screen_text()
        assert "€5.00" not in u.screen_text()
        u.click("pay:cash")
        await u.until_bill_reader_open()
        assert u.label("remaining").text() == "5,00 €"
        u.click("cancel")
        back = await u.until_state(State.ATTRACT)
        assert back.language == "en"  # the next customer starts in the default language
        assert u.find("lang:en").isChecked()


@pytest.mark.skipif(
    not qm_path("es").exists(), reason=f"no compiled Spanish translations ({qm_path('es')})"
)
async def test_language_switch_mid_journey_shows_spanish_words(ui: UiSession) -> None:
    es = texts_for("es")
    assert es("pay.title") != EN("pay.title"), "the Spanish translations are not loaded"
    async with ui() as u:
        await u.to_payment_choice("CASHBACK-CARD")
        assert EN("pay.title") in u.screen_text()
        u.click("lang:es")
        await u.until_drawn(lambda s: s.language == "es", "Spanish")
        text = u.screen_text()
        assert es("pay.title") in text
        assert es("pay.due", amount=eur(5)) in text
        assert "5,00 €" in es("pay.due", amount=eur(5))
        assert EN("pay.title") not in text
        assert u.find("cancel").text() == es("chrome.cancel")
        assert u.find("high_contrast").text() == es("chrome.high_contrast")
        assert u.spoken[-1].startswith(es("pay.title"))


async def test_high_contrast_and_large_text_restyle_the_window(ui: UiSession) -> None:
    async with ui() as u:
        assert u.window.styleSheet() == theme.stylesheet(False, False)
        title = u.window.current_screen.findChildren(QLabel)[0]
        normal_size = title.font().pixelSize()
        u.click("high_contrast")
        hc = await u.until_drawn(lambda s: s.high_contrast, "high contrast")
        assert not hc.large_text
        assert u.find("high_contrast").isChecked()
        assert u.window.styleSheet() == theme.stylesheet(True, False)
        assert theme.HIGH_CONTRAST.window in u.window.styleSheet()
        u.click("large_text")
        both = await u.until_drawn(lambda s: s.large_text, "large text")
        assert both.high_contrast
        assert u.find("large_text").isChecked()
        assert u.window.styleSheet() == theme.stylesheet(True, True)
        assert title.font().pixelSize() > normal_size
        u.click("start")  # kept for the whole session
        chosen = await u.until_state(State.CHOOSING)
        assert (chosen.high_contrast, chosen.large_text) == (True, True)
        u.click("high_contrast")
        off = await u.until_drawn(lambda s: not s.high_contrast, "high contrast off")
        assert off.large_text
        assert u.window.styleSheet() == theme.stylesheet(False, True)
        u.click("cancel")
        back = await u.until_state(State.ATTRACT)
        assert (back.high_contrast, back.large_text) == (False, False)
        assert u.window.styleSheet() == theme.stylesheet(False, False)
        assert title.font().pixelSize() == normal_size


# -- speech ---------------------------------------------------------------------------


def in_order(expected: list[str], spoken: list[str]) -> bool:
    """``expected`` are said in this order (other things may be said in between)."""
    said = iter(spoken)
    return all(any(text == line for line in said) for text in expected)


async def test_titles_amounts_and_errors_are_read_aloud(ui: UiSession, kiosk: Kiosk) -> None:
    async with ui() as u:
        await u.until_drawn(lambda s: s.seq > 0, "the flow's attract screen")
        assert u.spoken[-1] == "Welcome. Touch the screen to start"
        u.click("start")
        await u.until_state(State.CHOOSING)
        assert u.spoken[-1].startswith("What would you like? Cashback card, €5.00")
        u.click("product:GIFT-20")
        await u.until_state(State.IDENTIFYING)
        assert u.spoken[-1] == f"Your cashback card. {EN('identify.ask')}"
        u.click("identify:no")
        await u.until_state(State.PAYMENT_CHOICE)
        assert u.spoken[-1] == "How would you like to pay? To pay: €20.00. Cash. Card"
        u.click("pay:cash")
        await u.until_bill_reader_open()
        await kiosk.insert_note(10)
        await u.until_drawn(lambda s: s.amount_paid == eur(10), "10 paid")
        await kiosk.insert_note(50)
        await u.until_drawn(
            lambda s: s.note is not None and s.note.key == "note_returned.exceeds_amount_due",
            "the 50 returned",
        )
        u.click("cancel")
        await u.until_state(State.ERROR)
        assert in_order(
            [
                "Insert your banknotes. Remaining: €20.00",
                "€10.00 accepted. Thank you. Remaining: €10.00",
                "€50.00 returned: it is more than the amount left. Please take it. "
                "Remaining: €10.00",
                "Your purchase could not be finished. A refund voucher was issued. "
                "Given back: €10.00. Keep your refund voucher: staff will pay it back. "
                "You can start again when you are ready.",
            ],
            u.spoken,
        ), u.spoken
