"""Draw every customer screen in every language into docs/screenshots/.

    xvfb-run -a -s "-screen 0 1280x860x24" .venv/bin/python scripts/screenshots.py

Each sample screen of :mod:`kioskapp.ui.gallery` is drawn in English, Spanish,
French and Japanese (``docs/screenshots/<lang>/<screen>.png``), a few also in
high-contrast and large-text mode, and every one also in the stretching
pseudo-locale, which is only checked: the script lists any text that does not fit
its widget and exits 1 if there is one. Without a display it uses Qt's offscreen
platform (same pixels, no window manager).
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", help="comma-separated screen names")
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
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
    print(f"screenshots: {count} written to {args.out}")
    for problem in problems:
        print(f"CLIPPED {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    # Skip interpreter teardown: PySide6 can crash while the garbage collector
    # destroys its objects at exit, after everything here is written.
    os._exit(code)
