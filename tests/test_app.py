"""The composition root builds a working kiosk from the config, for every card provider."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from kioskapp.app import open_devices
from kioskapp.config import load_config
from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money
from kioskapp.devices.tecalis import CALLBACK_PATH
from kioskapp.payments.base import Outcome
from kioskapp.simulator.control import SimControl


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_for(sim: Any, tmp_path: Path, provider: str) -> Any:
    port = free_port()
    base = sim.base_url
    env = {
        "KIOSKAPP_TECALIS__BASE_URL": f"{base}/tecalis",
        "KIOSKAPP_CARDAPI__BASE_URL": f"{base}/cardapi",
        "KIOSKAPP_KINETIC__BASE_URL": f"{base}/kinetic/api/v2",
        "KIOSKAPP_KOMOJU__BASE_URL": f"{base}/komoju",
        "KIOSKAPP_PAYJUNCTION__BASE_URL": f"{base}/payjunction",
        "KIOSKAPP_CALLBACKS__LISTEN_PORT": str(port),
        "KIOSKAPP_CALLBACKS__PUBLIC_URL": f"http://127.0.0.1:{port}",
        "KIOSKAPP_PAYMENTS__CARD_PROVIDER": provider,
        "KIOSKAPP_KIOSK__STATE_DIR": str(tmp_path),
    }
    return load_config(None, env=env)


@pytest.mark.parametrize("provider", ["tpv", "kinetic", "komoju", "payjunction", "none"])
async def test_every_provider_is_wired(
    sim: Any, clock: ControlledClock, tmp_path: Path, provider: str
) -> None:
    config = config_for(sim, tmp_path, provider)
    devices = await open_devices(config, clock=clock)
    try:
        names = list(devices.payment_methods)
        assert names[0] == "cash"
        assert names[1:] == ([] if provider == "none" else [provider])
        async with httpx.AsyncClient() as http:
            # The device callback route is there (an empty JSON object is refused as
            # a malformed callback, not as an unknown path).
            reply = await http.post(devices.receiver.url_for(CALLBACK_PATH), json={})
            assert reply.status_code == 400
    finally:
        await devices.aclose()


async def test_a_cash_sale_through_the_wired_kiosk(
    sim: Any, clock: ControlledClock, sim_control: SimControl, tmp_path: Path
) -> None:
    config = config_for(sim, tmp_path, "tpv")
    devices = await open_devices(config, clock=clock)
    try:
        assert devices.cash is not None
        attempt = await devices.cash.start(Money(500, "EUR"), "sale-1")
        statuses = attempt.statuses()
        while (await anext(statuses)).phase != "waiting_for_customer":
            pass
        await sim_control.insert_note(5)  # the callback goes through the receiver
        result = await attempt.result()
        assert result.outcome is Outcome.APPROVED
        assert result.amount_taken == Money(500, "EUR")
        assert (tmp_path / "tecalis-session.jwt").exists()
    finally:
        await devices.aclose()
