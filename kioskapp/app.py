"""Composition root: config → clients → payment methods → (flow → UI).

Everything the kiosk talks to is built here from the config, in one place,
so the app, the benchmarks and the admin command get the same wiring: one
Tecalis client (one owner of the hardware), the CardAPI client, cash and the
configured card terminal behind the PaymentMethod interface, the optional
serial card reader, and the callback receiver with every device callback and
payment webhook route attached.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from kioskapp.config import Config
from kioskapp.core.clock import Clock, SystemClock
from kioskapp.devices import cardapi, komoju, payjunction, serial_reader
from kioskapp.devices.callbacks import CallbackReceiver, InboundCallback
from kioskapp.devices.tecalis import (
    CALLBACK_PATH,
    FileTokenStore,
    SessionTokenStore,
    TecalisClient,
    TecalisTimeouts,
)
from kioskapp.payments import kinetic as kinetic_payment
from kioskapp.payments.base import PaymentMethod
from kioskapp.payments.cash import CashPayment
from kioskapp.payments.komoju import KomojuPayment
from kioskapp.payments.payjunction import PayJunctionPayment
from kioskapp.payments.tpv import TpvPayment


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


@dataclass
class Devices:
    """Every client and payment method of one kiosk, wired to one callback receiver."""

    config: Config
    receiver: CallbackReceiver
    tecalis: TecalisClient
    cardapi: cardapi.CardApiClient
    cash: CashPayment | None
    card: PaymentMethod | None
    serial: serial_reader.SerialCardReader | None
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack, repr=False)

    @property
    def payment_methods(self) -> dict[str, PaymentMethod]:
        """The methods this kiosk offers, cash first (a mixed payment is cash, then card)."""
        methods: dict[str, PaymentMethod] = {}
        if self.cash is not None:
            methods[self.cash.name] = self.cash
        if self.card is not None:
            methods[self.card.name] = self.card
        return methods

    async def aclose(self) -> None:
        await self._stack.aclose()


async def open_devices(
    config: Config,
    *,
    clock: Clock | None = None,
    state_dir: Path | None = None,
) -> Devices:
    """Build and start everything; ``await devices.aclose()`` stops it in reverse order."""
    clock = clock or SystemClock()
    stack = contextlib.AsyncExitStack()
    try:
        cb = config.callbacks
        receiver = CallbackReceiver(
            cb.listen_host, cb.listen_port, max_body_bytes=cb.max_body_bytes
        )
        state = state_dir or config.kiosk.state_dir
        tecalis = tecalis_client(
            config,
            clock=clock,
            callback_url=cb.public_url + CALLBACK_PATH,
            token_store=FileTokenStore(state / "tecalis-session.jwt"),
        )
        stack.push_async_callback(tecalis.aclose)

        async def tecalis_callback(inbound: InboundCallback) -> str:
            return await tecalis.handle_callback(inbound.json)

        receiver.add_route(CALLBACK_PATH, tecalis_callback)
        card_api = cardapi.from_config(config, clock=clock)
        stack.push_async_callback(card_api.aclose)
        cash = CashPayment(tecalis, clock=clock) if config.payments.cash_enabled else None
        card = _card_method(config, tecalis, receiver, clock)
        if card is not None:
            stack.push_async_callback(card.aclose)
        reader = None
        if config.serial_reader.enabled:
            reader = serial_reader.from_config(config, clock=clock)
            await reader.start()
            stack.push_async_callback(reader.stop)
        await receiver.start()
        stack.push_async_callback(receiver.stop)
    except BaseException:
        await stack.aclose()
        raise
    return Devices(config, receiver, tecalis, card_api, cash, card, reader, stack)


def _card_method(
    config: Config, tecalis: TecalisClient, receiver: CallbackReceiver, clock: Clock
) -> PaymentMethod | None:
    provider = config.payments.card_provider
    if provider == "none":
        return None
    if provider == "tpv":
        return TpvPayment(tecalis, clock=clock)
    if provider == "kinetic":
        return kinetic_payment.from_config(config, clock=clock)
    if provider == "komoju":
        komoju_client = komoju.from_config(config, clock=clock)
        komoju_client.attach(receiver, komoju.WEBHOOK_PATH)
        return KomojuPayment(komoju_client, clock=clock, owns_client=True)
    pj_client = payjunction.from_config(config, clock=clock)
    receiver.add_route(payjunction.WEBHOOK_PATH, pj_client.handle_webhook, parse_json=False)
    return PayJunctionPayment(pj_client, clock=clock, own_client=True)
