"""The simulator control panel against the real simulators.

The simulators run on their own thread (BackgroundSimulators, as in ``kioskapp
--simulate``); the panel and these tests run on the Qt loop (qasync, see
conftest.py). A test presses a button and awaits the action's task, then checks the
simulator's state through the control API (SimControl) and the vendor APIs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import os
import select
import socket
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PySide6.QtWidgets import QLabel, QPushButton, QScrollArea, QTabWidget
from pytestqt.qtbot import QtBot

from kioskapp.simulator.background import BackgroundSimulators
from kioskapp.simulator.control import SimControl
from kioskapp.simulator.serial_reader import VirtualSerialReader
from kioskapp.ui.simpanel import PANEL_SIZE, SERVICES, WINDOW_TITLE, SimulatorPanel, pass_rows

WAIT_S = 15.0  # real seconds an action may take (loopback HTTP only)


@pytest.fixture(scope="module")
def sims() -> Iterator[BackgroundSimulators]:
    """The simulators on their own thread, with Python's cyclic garbage collector held
    meanwhile: triggered on that thread, it would destroy the Qt objects that earlier
    tests left in reference cycles (closed qasync loops, windows) from the wrong thread,
    which Qt answers with warnings or a crash. They are collected here, on Qt's thread."""
    gc.collect()
    gc.disable()
    sims = BackgroundSimulators(port=0)
    try:
        sims.start()
        yield sims
    finally:
        sims.stop()
        gc.enable()
        gc.collect()


@pytest.fixture
def base_url(sims: BackgroundSimulators) -> str:
    with httpx.Client(timeout=WAIT_S) as client:  # a fresh simulator for every test
        client.post(f"{sims.base_url}/_sim/reset").raise_for_status()
    return sims.base_url


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.asynccontextmanager
async def opened(qtbot: QtBot, base_url: str, **options: Any) -> AsyncIterator[SimulatorPanel]:
    """The panel, shown, refreshing only after actions (unless told otherwise)."""
    options.setdefault("refresh_interval_s", None)
    panel = SimulatorPanel(base_url, **options)
    qtbot.addWidget(panel)
    panel.show()
    try:
        yield panel
    finally:
        await panel.aclose()


@contextlib.asynccontextmanager
async def control(base_url: str) -> AsyncIterator[SimControl]:
    async with SimControl(base_url) as sim:
        yield sim


async def press(panel: SimulatorPanel, name: str) -> bool:
    """Click the button ``name`` and wait for its action (and the refresh after it)."""
    button = panel.findChild(QPushButton, name)
    assert button is not None, f"no button {name!r}"
    assert button.isVisible(), f"button {name!r} is hidden"
    assert button.isEnabled(), f"button {name!r} is disabled"
    before = panel.last_action
    button.click()
    task = panel.last_action
    assert task is not None, f"button {name!r} started no action"
    assert task is not before, f"button {name!r} started no action"
    ok = await asyncio.wait_for(task, WAIT_S)
    await asyncio.wait_for(panel.idle(), WAIT_S)
    return ok


def text(panel: SimulatorPanel, name: str) -> str:
    label = panel.findChild(QLabel, name)
    assert label is not None, f"no label {name!r}"
    return label.text()


class Tecalis:
    """The kiosk side of the Tecalis API, as far as the tests need it."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.api = f"{base_url}/tecalis/api"
        self.token = ""

    async def start(self) -> Tecalis:
        auth = await self.http.post(
            f"{self.api}/auth", json={"username": "integrator", "password": "integrator-secret"}
        )
        session = await self.http.post(
            f"{self.api}/session/start",
            json={"kiosk_id": "KIOSK-001", "record": False},
            headers={"Authorization": f"Bearer {auth.raise_for_status().json()['token']}"},
        )
        self.token = session.raise_for_status().json()["token"]
        return self

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(
            f"{self.api}/session/{path}",
            json={} if body is None else body,
            headers={"Authorization": f"Bearer {self.token}"},
        )


@contextlib.asynccontextmanager
async def tecalis(base_url: str) -> AsyncIterator[Tecalis]:
    async with httpx.AsyncClient(timeout=WAIT_S) as http:
        yield await Tecalis(http, base_url).start()


# -- the window -----------------------------------------------------------------------


async def test_window_is_titled_and_fits_without_scrolling(qtbot: QtBot, base_url: str) -> None:
    with VirtualSerialReader() as reader:  # with its scan row: the tallest panel
        async with opened(qtbot, base_url, card_reader=reader) as panel:
            assert panel.windowTitle() == WINDOW_TITLE
            assert (panel.width(), panel.height()) == PANEL_SIZE
            layout = panel.layout()
            margins = layout.contentsMargins()
            sections = panel.findChild(QScrollArea).widget().sizeHint()
            around = (
                panel.findChild(QLabel, "sim:connection").sizeHint().height()
                + panel.findChild(QLabel, "sim:status").minimumHeight()
                + 2 * layout.spacing()
                + margins.top()
                + margins.bottom()
            )
            assert sections.width() <= PANEL_SIZE[0] - margins.left() - margins.right()
            assert sections.height() + around <= PANEL_SIZE[1]


async def test_every_control_has_its_button(qtbot: QtBot, base_url: str) -> None:
    names = [
        *(f"sim:note:{n}" for n in (5, 10, 20, 50, 100, 200, "unrecognised")),
        *(f"sim:bill:{w}" for w in ("jam", "jam-next", "clear-jam", "clear-jam-stacked")),
        "sim:cashbox:full",
        "sim:cashbox:empty",
        *(f"sim:tpv:{w}" for w in ("present", "pin", "approve", "decline", "error")),
        "sim:tpv:auto-on",
        "sim:tpv:auto-off",
        *(f"sim:kinetic:{w}" for w in ("present", "approve", "decline", "error", "cancel")),
        *(f"sim:komoju:{w}" for w in ("present", "approve", "decline", "cancel", "expire")),
        *(f"sim:payjunction:{w}" for w in ("approve", "decline", "red-x", "receipt")),
        *(f"sim:dispenser:{w}" for w in ("empty", "jam", "unreadable", "refill", "clear")),
        *(f"sim:printer:{w}" for w in ("paper-out", "paper-low", "paper-in")),
        "sim:scanner:offline",
        "sim:scanner:online",
        *(f"sim:service:{s}:{d}" for s in SERVICES for d in ("down", "up")),
        "sim:callbacks:lose",
        "sim:callbacks:normal",
        *(f"sim:clock:{s}" for s in (10, 90, 300)),
    ]
    async with opened(qtbot, base_url) as panel:
        missing = [n for n in names if panel.findChild(QPushButton, n) is None]
        assert missing == []
        # Without a virtual card reader there is nothing to scan with.
        assert panel.findChild(QPushButton, "sim:cardreader:scan") is None


async def test_the_active_card_provider_comes_first(qtbot: QtBot, base_url: str) -> None:
    async with opened(qtbot, base_url, card_provider="komoju") as panel:
        tabs = panel.findChild(QTabWidget, "sim:card-tabs")
        assert tabs is not None
        assert [tabs.tabText(i) for i in range(tabs.count())] == [
            "KOMOJU (in use)",
            "PIN pad",
            "Kinetic",
            "PayJunction",
        ]
        assert tabs.currentIndex() == 0
        assert panel.findChild(QPushButton, "sim:komoju:approve").isVisible()
        assert not panel.findChild(QPushButton, "sim:tpv:approve").isVisible()


async def test_notes_are_labelled_in_the_currency_then_follow_the_simulator(
    qtbot: QtBot, base_url: str
) -> None:
    async with opened(qtbot, base_url, currency="USD") as panel:
        button = panel.findChild(QPushButton, "sim:note:1")
        assert button is not None
        assert button.text() == "1 USD"
        async with control(base_url) as sim:
            await sim.configure_tecalis(denominations=[1, 5, 20, Decimal("0.5")])
        await panel.refresh()
        shown = sorted(
            b.objectName()
            for b in panel.findChildren(QPushButton)
            if b.objectName().startswith("sim:note:")
        )
        assert shown == [
            "sim:note:0.50",
            "sim:note:1",
            "sim:note:20",
            "sim:note:5",
            "sim:note:unrecognised",
        ]
        assert panel.findChild(QPushButton, "sim:note:0.50").text() == "0.50 USD"


# -- banknotes ------------------------------------------------------------------------


async def test_a_note_goes_into_escrow(qtbot: QtBot, base_url: str) -> None:
    async with tecalis(base_url) as kiosk, opened(qtbot, base_url) as panel:
        (await kiosk.post("bill-reader/open", {"amount": 20})).raise_for_status()
        assert await press(panel, "sim:note:20")
        async with control(base_url) as sim:
            reader = (await sim.tecalis_state())["bill_reader"]
            events = await sim.events("tecalis")
        assert reader["state"] == "escrow"
        assert reader["escrow"]["amount"] == 20
        assert [e["event"] for e in events if e["event"].startswith("bill.")] == ["bill.escrow"]
        assert text(panel, "sim:status") == "Insert 20 EUR: in escrow"
        assert "20 EUR in escrow" in text(panel, "sim:bill:state")


async def test_an_unrecognised_note_comes_back(qtbot: QtBot, base_url: str) -> None:
    async with tecalis(base_url) as kiosk, opened(qtbot, base_url) as panel:
        (await kiosk.post("bill-reader/open", {"amount": 20})).raise_for_status()
        assert await press(panel, "sim:note:unrecognised")
        async with control(base_url) as sim:
            events = await sim.events("tecalis")
        returned = [e for e in events if e["event"] == "bill.returned"]
        assert len(returned) == 1
        assert "returned" in text(panel, "sim:status")


async def test_a_refused_note_is_explained_in_the_status_line(qtbot: QtBot, base_url: str) -> None:
    async with opened(qtbot, base_url) as panel:
        assert not await press(panel, "sim:note:20")  # nobody opened the bill reader
        status = text(panel, "sim:status")
        assert status.startswith("Insert 20 EUR: the kiosk is not taking cash right now")
        assert "HTTP 409 bill_reader_not_open" in status
        assert panel.findChild(QLabel, "sim:status").property("ok") is False
        async with control(base_url) as sim:
            assert (await sim.tecalis_state())["bill_reader"]["escrow"] is None


async def test_jam_and_clear_the_bill_reader(qtbot: QtBot, base_url: str) -> None:
    async with (
        tecalis(base_url) as kiosk,
        opened(qtbot, base_url) as panel,
        control(base_url) as sim,
    ):
        (await kiosk.post("bill-reader/open", {"amount": 50})).raise_for_status()
        assert await press(panel, "sim:note:50")
        assert await press(panel, "sim:bill:jam")
        assert (await sim.tecalis_state())["bill_reader"]["state"] == "jammed"
        assert "bill reader jammed" in text(panel, "sim:bill:state")
        assert await press(panel, "sim:bill:clear-jam-stacked")
        state = await sim.tecalis_state()
        assert state["bill_reader"]["jammed"] is False
        assert state["cash_box"]["by_denomination"] == {"50": 1}  # the stuck note was kept

        assert await press(panel, "sim:bill:jam-next")
        assert (await sim.tecalis_state())["bill_reader"]["jam_on_accept"] is True
        assert not await press(panel, "sim:bill:clear-jam")  # not jammed yet
        assert "the bill reader is not jammed" in text(panel, "sim:status")


async def test_cash_box_full_and_emptied(qtbot: QtBot, base_url: str) -> None:
    async with (
        tecalis(base_url) as kiosk,
        opened(qtbot, base_url) as panel,
        control(base_url) as sim,
    ):
        assert await press(panel, "sim:cashbox:full")
        box = (await sim.tecalis_state())["cash_box"]
        assert box["full"] is True
        assert box["count_total"] == box["capacity"]
        refused = await kiosk.post("bill-reader/open", {"amount": 5})
        assert refused.status_code == 409
        assert refused.json()["error"] == "cash_box_full"
        assert await press(panel, "sim:cashbox:empty")
        assert (await sim.tecalis_state())["cash_box"]["count_total"] == 0
        (await kiosk.post("bill-reader/open", {"amount": 5})).raise_for_status()


# -- card terminals -------------------------------------------------------------------


async def test_pin_pad_present_and_approve(qtbot: QtBot, base_url: str) -> None:
    async with (
        tecalis(base_url) as kiosk,
        opened(qtbot, base_url) as panel,
        control(base_url) as sim,
    ):
        assert not await press(panel, "sim:tpv:approve")  # no payment yet
        assert "the PIN pad is not waiting for this" in text(panel, "sim:status")
        (await kiosk.post("tpv/prepare", {"amount": 12.5})).raise_for_status()
        assert await press(panel, "sim:tpv:present")
        assert (await sim.tecalis_state())["tpv"]["state"] == "pin"
        assert await press(panel, "sim:tpv:approve")
        tpv = (await sim.tecalis_state())["tpv"]
        assert tpv["state"] == "approved"
        assert tpv["card"]["last4"] == "0010"
        assert text(panel, "sim:tpv:state") == "approved · 12.50 EUR"


async def test_pin_pad_decline_and_auto_approve(qtbot: QtBot, base_url: str) -> None:
    async with (
        tecalis(base_url) as kiosk,
        opened(qtbot, base_url) as panel,
        control(base_url) as sim,
    ):
        (await kiosk.post("tpv/prepare", {"amount": 5})).raise_for_status()
        assert await press(panel, "sim:tpv:decline")
        assert (await sim.tecalis_state())["tpv"]["state"] == "declined"

        assert await press(panel, "sim:tpv:auto-on")
        assert (await sim.tecalis_state())["tpv"]["auto"] == "approve"
        (await kiosk.post("tpv/prepare", {"amount": 5})).raise_for_status()
        assert (await sim.tecalis_state())["tpv"]["state"] == "approved"
        assert await press(panel, "sim:tpv:auto-off")
        assert (await sim.tecalis_state())["tpv"]["auto"] is None


async def start_kinetic_sale(http: httpx.AsyncClient, base_url: str) -> None:
    answer = await http.post(
        f"{base_url}/kinetic/api/v2/transactions/sale.json",
        json={"amount": 1250, "id": "sale-0001"},
        auth=("kinetic", "kinetic-secret"),
    )
    answer.raise_for_status()


async def kinetic_result(sim: SimControl) -> str | None:
    state = await sim.call("GET", "/kinetic/state")
    return next(t["result"] for t in state["transactions"] if t["id"] == "sale-0001")


async def test_kinetic_terminal(qtbot: QtBot, base_url: str) -> None:
    async with (
        httpx.AsyncClient(timeout=WAIT_S) as http,
        opened(qtbot, base_url, card_provider="kinetic") as panel,
        control(base_url) as sim,
    ):
        await start_kinetic_sale(http, base_url)
        assert await press(panel, "sim:kinetic:present")
        assert await press(panel, "sim:kinetic:approve")
        assert await kinetic_result(sim) == "approved"
        # The terminal's screen shows in the Kinetic tab, which is first.
        assert text(panel, "sim:kinetic:state").startswith("screen ")

        assert await press(panel, "sim:kinetic:auto-on")
        assert (await sim.call("GET", "/kinetic/state"))["auto"] == "approve"
        assert await press(panel, "sim:kinetic:auto-off")
        assert (await sim.call("GET", "/kinetic/state"))["auto"] is None


async def test_komoju_terminal(qtbot: QtBot, base_url: str) -> None:
    async with (
        httpx.AsyncClient(timeout=WAIT_S, auth=("sk_test_sim", "")) as http,
        opened(qtbot, base_url, card_provider="komoju") as panel,
        control(base_url) as sim,
    ):
        api = f"{base_url}/komoju/api/v1"
        session = (
            (
                await http.post(
                    f"{api}/sessions",
                    json={
                        "amount": 1500,
                        "currency": "JPY",
                        "payment_types": ["credit_card_terminal"],
                    },
                )
            )
            .raise_for_status()
            .json()
        )
        push = await http.post(f"{api}/terminals/sim-terminal-1/sessions/{session['id']}/push")
        push.raise_for_status()
        assert await press(panel, "sim:komoju:approve")
        status = (await http.get(f"{api}/sessions/{session['id']}")).raise_for_status().json()
        assert status["status"] == "completed"
        assert status["payment"]["status"] == "captured"

        assert await press(panel, "sim:komoju:offline")
        terminals = (await sim.call("GET", "/komoju/state"))["terminals"]
        assert terminals[0]["offline"] is True
        assert "offline" in text(panel, "sim:komoju:state")
        assert await press(panel, "sim:komoju:online")


async def test_payjunction_terminal(qtbot: QtBot, base_url: str) -> None:
    async with (
        httpx.AsyncClient(
            timeout=WAIT_S,
            auth=("pj-sim", "pj-sim-password"),
            headers={"X-PJ-Application-Key": "pj-sim-app-key"},
        ) as http,
        opened(qtbot, base_url, card_provider="payjunction") as panel,
        control(base_url) as sim,
    ):
        terminal = f"{base_url}/payjunction/smartterminals/sim-smart-terminal-1"
        request = await http.post(
            f"{terminal}/request-payment",
            data={"terminalId": "1", "amountBase": "12.50", "showReceiptPrompt": "false"},
        )
        request_id = request.raise_for_status().json()["requestPaymentId"]
        assert await press(panel, "sim:payjunction:decline")
        state = await sim.call("GET", "/payjunction/state")
        [req] = [r for r in state["requests"] if r["requestId"] == request_id]
        assert req["status"] == "COMPLETE"
        [tx] = state["transactions"]
        assert tx["transactionId"] == req["transactionId"]
        assert tx["status"] == "DECLINED"


# -- cashback cards -------------------------------------------------------------------


async def test_demo_cards_are_listed_with_live_balances(qtbot: QtBot, base_url: str) -> None:
    async with opened(qtbot, base_url) as panel, control(base_url) as sim:
        codes = [panel.passes.item(r, 0).text() for r in range(panel.passes.rowCount())]
        assert codes[:2] == ["7001000000654", "7001000002500"]  # before the first refresh
        assert codes[-1] == "8412345678901…10"  # the dispenser's new cards, in one row
        await sim.call("POST", "/cardapi/passes/P-CB-0654", {"balance": Decimal("1.25")})
        await panel.refresh()
        assert panel.passes.item(0, 2).text() == "1.25 EUR"
        notes = {panel.passes.item(r, 0).text(): panel.passes.item(r, 3).text() for r in range(6)}
        assert notes["7001000000999"] == "expired"
        assert notes["7002000000042"] == "loyalty card"


def test_pass_rows_fold_the_new_cards_and_flag_the_unusable() -> None:
    rows = pass_rows(
        [
            {
                "id": "P-1",
                "type": "CASHBACK",
                "balance": "6.54",
                "currency": "EUR",
                "barcode": "70",
            },
            {
                "id": "P-2",
                "type": "CASHBACK",
                "balance": "0.00",
                "currency": "EUR",
                "barcode": "71",
                "expiration_date": "2001-01-01T00:00:00Z",
                "nfc_number": "04AB",
            },
            {"id": "P-NEW-01", "type": "CASHBACK", "balance": "0.00", "barcode": "8401"},
            {"id": "P-NEW-02", "type": "CASHBACK", "balance": "0.00", "barcode": "8402"},
        ]
    )
    assert rows == [
        ("70", "", "6.54 EUR", ""),
        ("71", "04AB", "0.00 EUR", "expired, empty"),
        ("8401…02", "", "0.00", "new cards"),
    ]


async def test_scan_a_card_code_with_the_virtual_reader(qtbot: QtBot, base_url: str) -> None:
    with VirtualSerialReader() as reader:
        port = os.open(reader.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)  # as the kiosk
        try:
            async with opened(qtbot, base_url, card_reader=reader) as panel:
                panel.passes.selectRow(1)
                assert panel.scan_code.text() == "7001000002500"
                assert await press(panel, "sim:cardreader:scan")
                assert text(panel, "sim:status") == "Card reader: scanned 7001000002500"
            readable, _, _ = select.select([port], [], [], WAIT_S)
            assert readable, "nothing arrived on the serial port"
            assert os.read(port, 64) == b"7001000002500\r\n"
        finally:
            os.close(port)


async def test_an_unplugged_card_reader_is_shown_not_raised(qtbot: QtBot, base_url: str) -> None:
    with VirtualSerialReader() as reader:
        reader.unplug()
        async with opened(qtbot, base_url, card_reader=reader) as panel:
            panel.scan_code.setText("7001000000654")
            assert not await press(panel, "sim:cardreader:scan")
            status = text(panel, "sim:status")
            assert status.startswith("Card reader: the reader did not send it (")


# -- dispenser, printer, scanner -------------------------------------------------------


async def test_dispenser_faults_and_refill(qtbot: QtBot, base_url: str) -> None:
    async with opened(qtbot, base_url) as panel, control(base_url) as sim:
        assert await press(panel, "sim:dispenser:empty")
        hopper = (await sim.tecalis_state())["dispenser"]["hopper"]
        assert hopper["empty"] is True
        assert hopper["count"] == 0
        assert text(panel, "sim:dispenser:state") == "0 cards in the hopper"
        assert await press(panel, "sim:dispenser:refill")
        assert (await sim.tecalis_state())["dispenser"]["hopper"]["count"] == 50
        assert await press(panel, "sim:dispenser:unreadable")
        assert (await sim.tecalis_state())["dispenser"]["unreadable_next"] == 1
        assert await press(panel, "sim:dispenser:clear")
        assert (await sim.tecalis_state())["dispenser"]["unreadable_next"] == 0


async def test_a_dispenser_jam_happens_and_is_cleared(qtbot: QtBot, base_url: str) -> None:
    async with (
        tecalis(base_url) as kiosk,
        opened(qtbot, base_url) as panel,
        control(base_url) as sim,
    ):
        assert await press(panel, "sim:dispenser:jam")
        jammed = await kiosk.post("dispenser/prepare")
        assert jammed.status_code == 409
        assert jammed.json()["error"] == "dispenser_jammed"
        await panel.refresh()
        assert "JAMMED" in text(panel, "sim:dispenser:state")
        assert await press(panel, "sim:dispenser:clear")
        assert (await sim.tecalis_state())["dispenser"]["jammed"] is False
        (await kiosk.post("dispenser/prepare")).raise_for_status()


async def test_clearing_the_dispenser_with_tecalis_down_says_what_failed(
    qtbot: QtBot, base_url: str
) -> None:
    async with opened(qtbot, base_url) as panel, control(base_url) as sim:
        assert await press(panel, "sim:dispenser:jam")
        assert await press(panel, "sim:service:tecalis:down")  # its API; not the control API
        assert not await press(panel, "sim:dispenser:clear")
        status = text(panel, "sim:status")
        assert status.startswith("Dispenser: cleared: faults disarmed, but the restart failed (")
        assert (await sim.tecalis_state())["dispenser"]["jam_next"] is False


async def test_printer_paper_and_printed_count(qtbot: QtBot, base_url: str) -> None:
    pdf = "data:application/pdf;base64," + base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()
    async with (
        tecalis(base_url) as kiosk,
        opened(qtbot, base_url) as panel,
        control(base_url) as sim,
    ):
        assert await press(panel, "sim:printer:paper-out")
        assert (await sim.tecalis_state())["printer"]["paper"] == "out"
        refused = await kiosk.post("printer/print-pdf", {"pdf": pdf})
        assert refused.status_code == 409
        assert refused.json()["error"] == "paper_out"
        assert await press(panel, "sim:printer:paper-in")
        (await kiosk.post("printer/print-pdf", {"pdf": pdf})).raise_for_status()
        await panel.refresh()
        assert text(panel, "sim:printer:state") == "paper ok · 1 printed"


async def test_scanner_offline_and_online(qtbot: QtBot, base_url: str) -> None:
    async with opened(qtbot, base_url) as panel, control(base_url) as sim:
        assert await press(panel, "sim:scanner:offline")
        assert (await sim.tecalis_state())["scanner"]["offline"] is True
        assert text(panel, "sim:scanner:state") == "offline"
        assert await press(panel, "sim:scanner:online")
        assert (await sim.tecalis_state())["scanner"]["offline"] is False


# -- services, callbacks, time -------------------------------------------------------


async def test_take_cardapi_down_and_up(qtbot: QtBot, base_url: str) -> None:
    search = f"{base_url}/cardapi/cards"
    params = {
        "search_mode": "barcode",
        "q": "7001000000654",
        "store_id": "1",
        "point_of_sale_id": "65",
    }
    headers = {"Authorization": "Bearer sim-cardapi-token"}
    async with httpx.AsyncClient(timeout=WAIT_S) as http, opened(qtbot, base_url) as panel:
        assert await press(panel, "sim:service:cardapi:down")
        with pytest.raises(httpx.TransportError):
            await http.get(search, params=params, headers=headers)
        assert text(panel, "sim:service:cardapi:state") == "down"
        assert text(panel, "sim:service:tecalis:state") == "up"
        assert await press(panel, "sim:service:cardapi:up")
        (await http.get(search, params=params, headers=headers)).raise_for_status()
        assert text(panel, "sim:service:cardapi:state") == "up"


async def test_lose_callbacks_and_move_time(qtbot: QtBot, base_url: str) -> None:
    async with opened(qtbot, base_url) as panel, control(base_url) as sim:
        assert await press(panel, "sim:callbacks:lose")
        assert (await sim.callbacks())["mode"] == "drop"
        assert text(panel, "sim:service:callbacks:state") == "lost"
        assert await press(panel, "sim:callbacks:normal")
        assert (await sim.callbacks())["mode"] == "normal"

        before = Decimal(str((await sim.clock())["time"]))
        assert await press(panel, "sim:clock:90")
        assert Decimal(str((await sim.clock())["time"])) - before >= 90


# -- failures and lifecycle ----------------------------------------------------------


async def test_an_unreachable_simulator_is_shown_in_the_status_line(qtbot: QtBot) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    async with opened(qtbot, nowhere) as panel:
        assert not await press(panel, "sim:dispenser:empty")
        status = text(panel, "sim:status")
        assert status.startswith(f"Dispenser: empty: simulators unreachable at {nowhere}")
        assert text(panel, "sim:connection").startswith(f"simulators unreachable at {nowhere}")


async def test_the_panel_refreshes_by_itself_while_shown(qtbot: QtBot, base_url: str) -> None:
    async with opened(qtbot, base_url, refresh_interval_s=0.1) as panel, control(base_url) as sim:
        await sim.set_dispenser(hopper=3)
        loop = asyncio.get_running_loop()
        shown: asyncio.Future[None] = loop.create_future()

        def check() -> None:
            if text(panel, "sim:dispenser:state") == "3 cards in the hopper" and not shown.done():
                shown.set_result(None)

        panel.refreshed.connect(check)
        await asyncio.wait_for(shown, WAIT_S)  # nobody pressed anything
        panel.hide()
        assert not panel._timer.isActive()


async def test_after_close_buttons_do_nothing(qtbot: QtBot, base_url: str) -> None:
    async with opened(qtbot, base_url) as panel:
        pass
    button = panel.findChild(QPushButton, "sim:dispenser:empty")
    before = panel.last_action
    button.click()
    assert panel.last_action is before
    async with control(base_url) as sim:
        assert (await sim.tecalis_state())["dispenser"]["hopper"]["count"] == 50


def test_without_a_running_loop_a_click_says_so(qtbot: QtBot, base_url: str) -> None:
    panel = SimulatorPanel(base_url, refresh_interval_s=None)
    qtbot.addWidget(panel)
    panel.findChild(QPushButton, "sim:note:10").click()
    assert panel.last_action is None
    assert text(panel, "sim:status") == "Insert 10 EUR: not done, no asyncio loop is running"
    asyncio.run(panel.aclose())
