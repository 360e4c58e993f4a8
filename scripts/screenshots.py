"""Draw every customer screen in every language, and every maintenance screen, into
docs/screenshots/.

    xvfb-run -a -s "-screen 0 1280x860x24" .venv/bin/python scripts/screenshots.py
    ... scripts/screenshots.py --part maintenance     # only the staff screens

Each sample screen of :mod:`kioskapp.ui.gallery` is drawn in English, Spanish,
French and Japanese (``docs/screenshots/<lang>/<screen>.png``), a few also in
high-contrast and large-text mode, and every one also in the stretching
pseudo-locale, which is only checked: the script lists any text that does not fit
its widget and exits 1 if there is one. Without a display it uses Qt's offscreen
platform (same pixels, no window manager).

The maintenance screens (``docs/screenshots/maintenance/<screen>.png``, English
only) are drawn from a real kiosk: the simulators in this process, a journal filled
by a short simulated day of sales with faults (notes in the cash box, sales, an
open incident), the staff service and the staff screens as the app wires them.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PIL import Image  # noqa: E402
from PySide6.QtCore import QBuffer, QIODevice  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from kioskapp.config import load_config  # noqa: E402
from kioskapp.ui.gallery import clipped, sample_snapshots, settle  # noqa: E402
from kioskapp.ui.window import WINDOWED_SIZE, KioskWindow  # noqa: E402

PARTS = ("all", "customer", "maintenance")

LANGUAGES = ("en", "es", "fr", "ja")
MODES = {  # extra renders: (suffix, high contrast, large text) for these screens
    "high_contrast": ("attract", "choosing", "payment_choice", "cash_note_accepted", "error_staff"),
    "large_text": ("attract", "choosing", "payment_choice", "cash_note_accepted", "error_staff"),
}


def save_png(window: KioskWindow, path: Path) -> None:
    pixmap = window.grab()
    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    pixmap.save(buf, "PNG")
    image = Image.open(io.BytesIO(bytes(buf.data().data())))
    # 256 colours: a flat UI loses nothing visible and the files stay small.
    image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(path, optimize=True)


def draw(window: KioskWindow, snap: object) -> None:
    window.show_snapshot(snap)  # type: ignore[arg-type]
    settle(window)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", help="comma-separated screen names")
    parser.add_argument(
        "--part", choices=PARTS, default="all", help="customer screens, maintenance, or both"
    )
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    count, problems = 0, list[str]()
    if args.part in ("all", "customer"):
        count, problems = customer_screens(args)
    if args.part in ("all", "maintenance"):
        wanted = set(args.only.split(",")) if args.only else None
        done, found = maintenance_screens(args.out / "maintenance", wanted)
        count += done
        problems += found
    print(f"screenshots: {count} written to {args.out}")
    for problem in problems:
        print(f"CLIPPED {problem}")
    return 1 if problems else 0


def customer_screens(args: argparse.Namespace) -> tuple[int, list[str]]:
    config = load_config(None, env={})
    samples = sample_snapshots(config)
    if args.only:
        wanted = set(args.only.split(","))
        samples = [(n, s) for n, s in samples if n in wanted]
    problems: list[str] = []
    count = 0
    for pseudo in (False, True):
        window = KioskWindow(config, pseudo_locale=pseudo)
        window.resize(*WINDOWED_SIZE)
        window.show()
        langs = ("en",) if pseudo else LANGUAGES
        for lang in langs:
            for name, snap in samples:
                draw(window, replace(snap, language=lang))
                for problem in clipped(window):
                    problems.append(f"{'pseudo' if pseudo else lang}/{name}: {problem}")
                if (
                    window.size().width() > WINDOWED_SIZE[0]
                    or window.size().height() > WINDOWED_SIZE[1]
                ):
                    problems.append(
                        f"{lang}/{name}: the screen grew to {window.width()}x{window.height()}"
                    )
                    window.resize(*WINDOWED_SIZE)
                if pseudo:
                    continue
                folder = args.out / lang
                folder.mkdir(parents=True, exist_ok=True)
                save_png(window, folder / f"{name}.png")
                count += 1
        if not pseudo:
            for mode, names in MODES.items():
                folder = args.out / mode
                folder.mkdir(parents=True, exist_ok=True)
                for name, snap in samples:
                    if name not in names:
                        continue
                    draw(
                        window,
                        replace(
                            snap,
                            high_contrast=mode == "high_contrast",
                            large_text=mode == "large_text",
                        ),
                    )
                    problems.extend(f"{mode}/{name}: {p}" for p in clipped(window))
                    save_png(window, folder / f"{name}.png")
                    count += 1
        window.close()
    return count, problems


# -- maintenance screens ----------------------------------------------------------------
STAFF_PIN = "2468"
#: Journeys of the simulated day that fills the journal (with faults: incidents).
DAY_JOURNEYS = 24


def maintenance_screens(out: Path, wanted: set[str] | None) -> tuple[int, list[str]]:
    """Draw every staff screen of a kiosk with a simulated day behind it."""
    import asyncio
    import shutil
    import tempfile
    import time

    import qasync

    from kioskapp.simulate import SimulationOptions, simulate_sales

    os.environ["TZ"] = "UTC"  # the times on the staff screens, the same on every machine
    time.tzset()
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    out.mkdir(parents=True, exist_ok=True)
    # A fixed place (the About screen shows the journal's path), emptied first.
    state = Path(tempfile.gettempdir()) / "kioskapp-screenshots"
    shutil.rmtree(state, ignore_errors=True)
    try:
        # The day runs first, on a plain asyncio loop (the simulation is made for one).
        options = SimulationOptions(journeys=DAY_JOURNEYS, fault_rate=0.35, seed=5, state_dir=state)
        report = asyncio.run(simulate_sales(options))
        print(f"maintenance: a simulated day: {report.line()}", flush=True)
        if not report.ok:
            print(report.summary(), flush=True)
        loop = qasync.QEventLoop(app)
        asyncio.set_event_loop(loop)
        try:
            with loop:
                done: tuple[int, list[str]] = loop.run_until_complete(
                    _maintenance(state, out, wanted)
                )
                return done
        finally:
            asyncio.set_event_loop(None)
    finally:
        shutil.rmtree(state, ignore_errors=True)


async def _maintenance(state: Path, out: Path, wanted: set[str] | None) -> tuple[int, list[str]]:
    import socket

    from kioskapp.config import Secret
    from kioskapp.core.clock import ControlledClock
    from kioskapp.core.journal import JournalDB
    from kioskapp.core.money import Money
    from kioskapp.runtime import open_kiosk, simulation_overrides
    from kioskapp.simulator.control import SimControl
    from kioskapp.simulator.framework import build_simulators
    from kioskapp.staff.pin import hash_pin
    from kioskapp.staff.service import SCREEN_ACTOR, StaffService

    db = JournalDB(state / "journal.sqlite3")
    try:
        last = max((row.updated_at for row in db.sales(limit=1)), default=1.8e9)
        if not db.incidents(open_only=True):
            db.open_incident(
                "stuck_note", "A note stayed in the bill reader after a jam.",
                amount=Money(2000, "EUR"), details={"note_minor": 2000},
            )  # fmt: skip
    finally:
        db.close()
    clock = ControlledClock(start=last + 25 * 60, speed=None)
    sim = build_simulators(clock)
    await sim.start()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    env = simulation_overrides(sim.base_url, state)
    env["KIOSKAPP_CALLBACKS__LISTEN_PORT"] = str(port)
    env["KIOSKAPP_CALLBACKS__PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    config = load_config(None, env=env)
    config = replace(config, staff=replace(config.staff, pin_hash=Secret(hash_pin(STAFF_PIN))))
    control = SimControl(sim.base_url)
    kiosk = await open_kiosk(config, clock=clock)
    window = KioskWindow(config)
    window.resize(*WINDOWED_SIZE)
    window.show()
    window.attach(kiosk.flow)
    service = StaffService(kiosk, config_path=None, actor=SCREEN_ACTOR)
    await service.start()
    window.attach_staff(service)
    kiosk.start_flow()
    try:
        return await _staff_shots(window, control, out, wanted)
    finally:
        window.detach()
        window.close()
        await kiosk.aclose()
        await control.aclose()
        await sim.stop()


async def _staff_shots(
    window: KioskWindow, control: object, out: Path, wanted: set[str] | None
) -> tuple[int, list[str]]:
    import asyncio

    from PySide6.QtWidgets import QPushButton

    from kioskapp.simulator.control import SimControl

    assert isinstance(control, SimControl)
    mode = window.staff
    problems: list[str] = []
    count = 0

    def press(name: str) -> None:
        for b in mode.view.findChildren(QPushButton, name):
            if b.isVisible() and b.isEnabled():
                b.click()
                return
        raise RuntimeError(f"maintenance screenshots: no usable button {name!r}")

    async def idle() -> None:
        await mode.tasks.wait_idle()
        for _ in range(4):  # layout passes (height-for-width labels), painted by the loop
            await asyncio.sleep(0.02)

    async def shot(name: str) -> None:
        nonlocal count
        await idle()
        print(f"maintenance: {name}", flush=True)
        problems.extend(f"maintenance/{name}: {p}" for p in clipped(window))
        if wanted is None or name in wanted:
            save_png(window, out / f"{name}.png")
            count += 1

    async def page(name: str) -> None:
        if mode.page is not None and mode.page.name != "menu":
            press("staff:menu")
        press(f"menu:{name}")
        await idle()

    mode.gesture()
    await idle()
    for digit in "1111":
        press(f"pin:{digit}")
    press("pin:ok")
    await shot("pin")
    for digit in STAFF_PIN:
        press(f"pin:{digit}")
    press("pin:ok")
    await idle()
    await shot("menu")
    await page("dashboard")
    await shot("dashboard")
    await page("cash")
    await shot("cash")
    press("cash:collect")
    await shot("cash_confirm")
    await control.set_printer(paper="out")
    press("confirm:yes")
    await shot("cash_slip")
    await control.set_printer(paper="ok")
    await page("hopper")
    for digit in "200":
        press(f"refill:{digit}")
    await shot("hopper")
    await page("printer")
    press("printer:test_print")
    await shot("printer")
    await page("scanner")
    press("scanner:test_scan")
    await shot("scanner")
    await page("terminal")
    press("terminal:ping")
    await shot("terminal")
    await page("incidents")
    await shot("incidents")
    press("incidents:row0")
    await shot("incident")
    press("incidents:to_resolve")
    press("incidents:preset0")
    await shot("incident_resolve")
    await page("sales")
    await shot("sales")
    press("sales:row0")
    await shot("sale")
    await page("service")
    await shot("service")
    await page("restarts")
    await shot("restarts")
    await page("app")
    press("app:quit")
    await shot("app_confirm")
    press("confirm:no")
    await page("about")
    await shot("about")
    return count, problems


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Skip interpreter teardown: PySide6 can crash while the garbage collector
    # destroys its objects at exit, after everything here is written.
    os._exit(code)
