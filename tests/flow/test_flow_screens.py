"""The flow's interface to the UI: toggles, guards, subscriptions, availability, crashes."""

from __future__ import annotations

import pytest

from kioskapp.core import receipts
from kioskapp.core.flow import (
    Cancel,
    ChooseProduct,
    ErrorInfo,
    FlowSnapshot,
    HaveCard,
    PayWith,
    SetHighContrast,
    SetLanguage,
    SetLargeText,
    SkipCard,
    Start,
    State,
)

from .conftest import Kiosk


async def test_toggles_apply_on_every_screen_and_reset_after_the_session(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    seen: list[FlowSnapshot] = []
    unsubscribe = flow.on_change(seen.append)
    await watch.until_state(State.ATTRACT)
    flow.submit(SetLanguage("ja"))
    flow.submit(SetLanguage("de"))  # not offered: ignored
    flow.submit(SetHighContrast(True))
    flow.submit(SetLargeText(True))
    snap = flow.snapshot
    assert (snap.language, snap.high_contrast, snap.large_text) == ("ja", True, True)
    assert seen[-1] == snap  # on_change saw it at once
    flow.submit(Start())
    chosen = await watch.until_state(State.CHOOSING)
    assert chosen.language == "ja"  # chosen on attract, kept for the session
    flow.submit(Cancel())
    back = await watch.until_state(State.ATTRACT)
    assert (back.language, back.high_contrast, back.large_text) == ("en", False, False)
    unsubscribe()
    count = len(seen)
    flow.submit(SetLargeText(True))
    assert len(seen) == count
    with pytest.raises(TypeError):
        flow.submit("Start")  # type: ignore[arg-type]


async def test_intents_sent_for_an_earlier_screen_are_ignored(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    await watch.until_state(State.ATTRACT)
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    flow.submit(ChooseProduct("CASHBACK-CARD"))
    flow.submit(SkipCard())  # sent while the choose screen still shows: stale
    ident = await watch.until_state(State.IDENTIFYING)
    flow.submit(PayWith("cash"))  # not valid while identifying: ignored
    flow.submit(HaveCard())
    nxt = await watch.until(
        lambda s: s.identify_phase == "enter" or s.state is not State.IDENTIFYING, "next step"
    )
    # Had the stale SkipCard been taken, the flow would have left IDENTIFYING already.
    assert (nxt.state, nxt.identify_phase) == (State.IDENTIFYING, "enter")
    flow.submit(SkipCard())
    await watch.until_state(State.PAYMENT_CHOICE)
    assert watch.states()[-3:] == [State.IDENTIFYING, State.STAGING_CARD, State.PAYMENT_CHOICE]
    assert kiosk.db.payments(ident.sale_id or "") == []


async def test_an_offline_scanner_makes_id_products_unavailable(kiosk: Kiosk) -> None:
    await kiosk.control.set_scanner(offline=True)
    flow, watch = kiosk.start()
    attract = await watch.until(
        lambda s: any(not item.available for item in s.catalogue), "the catalogue checked"
    )
    assert attract.state is State.ATTRACT
    available = {item.sku: item.available for item in attract.catalogue}
    assert available == {"CASHBACK-CARD": True, "GIFT-20": True, "PREMIUM-50": False}
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    flow.submit(ChooseProduct("PREMIUM-50"))
    refused = await watch.until(lambda s: s.notice is not None, "a notice")
    assert refused.notice == ErrorInfo("product.unavailable", "customer")
    assert refused.state is State.CHOOSING
    assert refused.sale_id is None


async def test_staff_can_take_the_kiosk_out_of_service(kiosk: Kiosk) -> None:
    flow, watch = kiosk.start()
    await watch.until_state(State.ATTRACT)
    flow.set_out_of_service("out_of_service.staff")
    out = await watch.until_state(State.OUT_OF_SERVICE)
    assert out.out_of_service_reason == "out_of_service.staff"
    flow.set_out_of_service(None)
    await watch.until_state(State.ATTRACT)


async def test_a_crash_after_delivery_still_thanks_the_customer(kiosk: Kiosk) -> None:
    def broken_renderer(receipt: receipts.Receipt) -> bytes:
        raise RuntimeError("a bug in the receipt renderer")

    flow, watch = kiosk.start(render_receipt=broken_renderer)
    await watch.until_state(State.ATTRACT)
    flow.submit(Start())
    await watch.until_state(State.CHOOSING)
    flow.submit(ChooseProduct("CASHBACK-CARD"))
    ident = await watch.until_state(State.IDENTIFYING)
    flow.submit(SkipCard())
    await watch.until_state(State.PAYMENT_CHOICE)
    flow.submit(PayWith("cash"))
    await watch.until(
        lambda s: s.payment_status is not None and s.payment_status.phase == "waiting_for_customer",
        "the bill reader is open",
    )
    await kiosk.insert_note(5)
    await watch.until_state(State.PRINTING)
    await watch.until_state(State.THANK_YOU)  # never CANCELLING: the card was handed out
    assert State.CANCELLING not in watch.states()
    sale = kiosk.db.sale(ident.sale_id or "")
    assert sale is not None
    assert sale.status == "completed"
    assert kiosk.db.reconciliation("EUR").balanced
