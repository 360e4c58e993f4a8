"""Fixtures for the simulator tests: a callback receiver and a raw Tecalis caller."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from kioskapp.simulator.framework import SimServer

from .helpers import CallbackReceiver, Tecalis


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[CallbackReceiver]:
    callbacks = CallbackReceiver()
    await callbacks.start()
    try:
        yield callbacks
    finally:
        await callbacks.stop()


@pytest_asyncio.fixture
async def tecalis(sim: SimServer) -> AsyncIterator[Tecalis]:
    async with httpx.AsyncClient(base_url=sim.url_for("tecalis"), timeout=10.0) as http:
        yield Tecalis(http)


@pytest_asyncio.fixture
async def session(tecalis: Tecalis) -> Tecalis:
    """``tecalis`` with a session open (``tecalis.s(...)`` calls session methods)."""
    await tecalis.open_session()
    return tecalis
