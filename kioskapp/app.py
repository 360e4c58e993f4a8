"""Composition root: config → clients → services → flow → UI.

Builds each client from the config in one place, so every caller (the app,
benchmarks, the admin command) gets the same wiring.
"""

from __future__ import annotations

import httpx

from kioskapp.config import Config
from kioskapp.core.clock import Clock
from kioskapp.devices.tecalis import SessionTokenStore, TecalisClient, TecalisTimeouts


def tecalis_client(
    config: Config,
    *,
    http: httpx.AsyncClient | None = None,
    clock: Clock | None = None,
    callback_url: str | None = None,
    token_store: SessionTokenStore | None = None,
) -> TecalisClient:
    """The Tecalis client for this kiosk, per ``[kiosk]`` and ``[tecalis]``."""
    t = config.tecalis
    kiosk_token = t.kiosk_token.reveal() if t.kiosk_token else None
    return TecalisClient(
        t.base_url,
        username=t.username,
        password=t.password.reveal(),
        kiosk_id=config.kiosk.id,
        currency=config.kiosk.currency,
        kiosk_token=kiosk_token,
        record=t.record,
        http=http,
        timeouts=TecalisTimeouts(
            default=t.timeout_s,
            connect=t.connect_timeout_s,
            print=t.print_timeout_s,
            scan=t.scan_timeout_s,
        ),
        clock=clock,
        callback_url=callback_url,
        poll_interval_s=t.poll_interval_s,
        refresh_margin_s=t.session_refresh_margin_s,
        token_store=token_store,
    )
