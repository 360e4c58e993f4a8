"""Whole customer journeys through the window, pressing buttons as a customer would."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel

from kioskapp.core.flow import State
from kioskapp.core.money import Money
from tests.ui.conftest import UiSession


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
