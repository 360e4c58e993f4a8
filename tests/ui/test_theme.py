"""The theme: WCAG contrast of every colour pair in both palettes, pairs that cover
every colour the style sheet draws, and touch targets of at least 64 px on every
screen of a journey."""

from __future__ import annotations

import re
from dataclasses import fields, replace

import pytest
from PySide6.QtCore import QPoint, QRect

from kioskapp.core.flow import State
from kioskapp.core.money import Money
from kioskapp.ui import theme
from kioskapp.ui.theme import CONTROL_PAIRS, HIGH_CONTRAST, NORMAL, TEXT_PAIRS, Palette
from tests.flow.conftest import Kiosk
from tests.ui.conftest import Ui, UiSession

#: WCAG 2.x: text 4.5:1 (SC 1.4.3), boundaries of controls and focus rings 3:1 (SC 1.4.11).
TEXT_MIN = 4.5
CONTROL_MIN = 3.0
#: The smallest touch target (px) a customer gets on any screen.
MIN_TARGET_PX = 64


def eur(major: int) -> Money:
    return Money.from_major(major, "EUR")


PALETTES = {"normal": NORMAL, "high_contrast": HIGH_CONTRAST}
ROLES = tuple(f.name for f in fields(Palette))


def low_contrast(p: Palette) -> list[str]:
    """Every checked pair of ``p`` below its WCAG minimum, as ``fg/bg ratio``."""
    colours = theme.colours(p)
    failing = []
    for pairs, minimum in ((TEXT_PAIRS, TEXT_MIN), (CONTROL_PAIRS, CONTROL_MIN)):
        for fg, bg in pairs:
            ratio = theme.contrast_ratio(colours[fg], colours[bg])
            if ratio < minimum:
                failing.append(f"{fg}/{bg} {ratio:.2f}:1 < {minimum}:1")
    return failing


@pytest.mark.parametrize("name", PALETTES)
def test_every_pair_has_enough_contrast(name: str) -> None:
    assert low_contrast(PALETTES[name]) == []


def test_the_pairs_name_real_roles() -> None:
    for fg, bg in (*TEXT_PAIRS, *CONTROL_PAIRS):
        assert fg in ROLES
        assert bg in ROLES


def test_the_contrast_ratio_is_wcags() -> None:
    assert theme.contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert theme.contrast_ratio("#FFFFFF", "#FFFFFF") == pytest.approx(1.0)
    assert theme.contrast_ratio("#767676", "#FFFFFF") == pytest.approx(4.54, abs=0.01)
    assert theme.contrast_ratio("#0B5CD5", "#FFFFFF") == theme.contrast_ratio("#FFFFFF", "#0B5CD5")
    with pytest.raises(ValueError, match="RRGGBB"):
        theme.relative_luminance("#FFF")


@pytest.mark.parametrize("name", PALETTES)
@pytest.mark.parametrize(("fg", "bg"), [*TEXT_PAIRS, *CONTROL_PAIRS])
def test_a_low_contrast_colour_is_caught(name: str, fg: str, bg: str) -> None:
    """Change one foreground to a colour close to its background: the check fails."""
    p = PALETTES[name]
    background = theme.colours(p)[bg]
    near = _nudge(background)
    assert theme.contrast_ratio(near, background) < CONTROL_MIN
    broken = replace(p, **{fg: near})
    assert any(failure.startswith(f"{fg}/{bg} ") for failure in low_contrast(broken))


def _nudge(colour: str) -> str:
    """A colour a little lighter or darker than ``colour`` (low contrast with it)."""
    channels = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    step = -24 if sum(channels) > 3 * 128 else 24
    return "#" + "".join(f"{max(0, min(255, c + step)):02X}" for c in channels)


# -- the pairs cover what the style sheet draws -------------------------------------------

#: A palette whose every role has its own colour, so a colour in the style sheet names
#: its role.
UNIQUE = Palette(**{role: f"#0000{i + 1:02X}" for i, role in enumerate(ROLES)})
ROLE_OF = {getattr(UNIQUE, role): role for role in ROLES}
RULE = re.compile(r"([^{}]+)\{([^}]*)\}")
HEX = r"#[0-9A-Fa-f]{6}"


def _rules(monkeypatch: pytest.MonkeyPatch, high_contrast: bool) -> list[tuple[str, str]]:
    """The style sheet's rules (selector, body), drawn with :data:`UNIQUE`."""
    monkeypatch.setattr(theme, "HIGH_CONTRAST" if high_contrast else "NORMAL", UNIQUE)
    qss = theme.stylesheet(high_contrast, False)
    rules = [(sel.strip(), body) for sel, body in RULE.findall(qss)]
    assert len(rules) > 10
    return rules


def _background_of(selector: str, body: str) -> str:
    """The role behind a rule's text: its own background, else its container's."""
    own = re.search(rf"background:\s*({HEX})", body)
    if own:
        return ROLE_OF[own.group(1)]
    if selector.startswith("QFrame#TopBar"):
        return "bar"
    if selector.startswith(('QFrame[role="panel"]', "QFrame#IdleWarning")):
        return "panel"
    return "window"


def _texts_drawn(rules: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Every (selector, text role, background role) the style sheet draws."""
    return [
        (selector, ROLE_OF[colour], _background_of(selector, body))
        for selector, body in rules
        for colour in re.findall(rf"(?<![-\w])color:\s*({HEX})", body)
    ]


def _unchecked(
    drawn: list[tuple[str, str, str]], text_pairs: tuple[tuple[str, str], ...]
) -> list[str]:
    checked = {frozenset(pair) for pair in text_pairs}  # contrast is symmetric
    return [f"{sel}: {fg} on {bg}" for sel, fg, bg in drawn if frozenset((fg, bg)) not in checked]


@pytest.mark.parametrize("high_contrast", [False, True], ids=["normal", "high_contrast"])
def test_every_text_colour_of_the_style_sheet_is_a_checked_pair(
    monkeypatch: pytest.MonkeyPatch, high_contrast: bool
) -> None:
    drawn = _texts_drawn(_rules(monkeypatch, high_contrast))
    assert len(drawn) >= 10
    assert _unchecked(drawn, TEXT_PAIRS) == []
    foregrounds = {fg for fg, _ in TEXT_PAIRS}
    assert {fg for _, fg, _ in drawn} - {"bar"} <= foregrounds  # bar: the inverted top bar


@pytest.mark.parametrize(("fg", "bg"), TEXT_PAIRS)
def test_every_text_pair_is_drawn_by_the_style_sheet(
    monkeypatch: pytest.MonkeyPatch, fg: str, bg: str
) -> None:
    """No pair is dead weight: leaving any one out leaves a text unchecked."""
    drawn = _texts_drawn(_rules(monkeypatch, False))
    fewer = tuple(pair for pair in TEXT_PAIRS if pair != (fg, bg))
    assert _unchecked(drawn, fewer) != []


@pytest.mark.parametrize("high_contrast", [False, True], ids=["normal", "high_contrast"])
def test_every_border_and_fill_colour_is_checked(
    monkeypatch: pytest.MonkeyPatch, high_contrast: bool
) -> None:
    pairs = (*TEXT_PAIRS, *CONTROL_PAIRS)
    foregrounds = {fg for fg, _ in pairs}
    in_a_pair = {role for pair in pairs for role in pair}
    borders = fills = 0
    for selector, body in _rules(monkeypatch, high_contrast):
        for colour in re.findall(rf"(?:border[\w-]*|solid)[^;]*?({HEX})", body):
            borders += 1
            role = ROLE_OF[colour]
            assert role in foregrounds, f"{selector}: border {role} is in no checked pair"
        for colour in re.findall(rf"background:\s*({HEX})", body):
            fills += 1
            role = ROLE_OF[colour]
            assert role in in_a_pair, f"{selector}: background {role} is in no checked pair"
    assert borders >= 10
    assert fills >= 10


# -- touch targets -----------------------------------------------------------------------


def _small_buttons(u: Ui) -> list[str]:
    """Visible buttons smaller than the minimum target, not inside the window, or
    overlapping another (a layout too small for them). The idle warning covers the
    screen on purpose: its button is checked against the window only."""
    u.lay_out()
    window = u.window.rect()
    small = []
    placed: list[tuple[str, QRect]] = []
    for b in u.buttons():
        size = b.size()
        where = QRect(b.mapTo(u.window, QPoint(0, 0)), size)
        name = b.objectName()
        if size.width() < MIN_TARGET_PX or size.height() < MIN_TARGET_PX:
            small.append(f"{name} {size.width()}x{size.height()}")
        if not window.contains(where):
            small.append(f"{name} at {where.getRect()} outside the window")
        if b.window() is u.window and not u.window.idle.isAncestorOf(b):
            small += [f"{name} overlaps {other}" for other, r in placed if r.intersects(where)]
            placed.append((name, where))
    return small


def _check(u: Ui, seen: dict[str, list[str]], what: str) -> None:
    assert u.buttons(), f"no button on {what}"
    seen[what] = _small_buttons(u)


@pytest.mark.parametrize("large_text", [False, True], ids=["normal_text", "large_text"])
async def test_every_button_of_a_journey_is_a_big_enough_target(
    ui: UiSession, kiosk: Kiosk, large_text: bool
) -> None:
    assert theme.MIN_TOUCH_PX >= MIN_TARGET_PX
    seen: dict[str, list[str]] = {}
    await kiosk.control.set_printer(paper="out")  # the thank-you screen with the slip
    async with ui() as u:
        await u.until_drawn(lambda s: s.seq > 0, "the flow's attract screen")
        if large_text:
            u.click("large_text")
            await u.until_drawn(lambda s: s.large_text, "large text")
        assert u.window.size().width() == 1280
        _check(u, seen, "attract")
        u.click("start")
        await u.until_state(State.CHOOSING)
        _check(u, seen, "choosing")
        u.click("product:GIFT-20")
        await u.until_state(State.IDENTIFYING)
        _check(u, seen, "identify: ask")
        u.click("identify:yes")
        await u.until_drawn(lambda s: s.identify_phase == "enter", "the keypad")
        _check(u, seen, "identify: keypad")
        for digit in "7001000000654":
            u.click(f"key:{digit}")
        u.click("key:ok")
        await u.until_drawn(lambda s: s.identify_phase == "found", "the card found")
        _check(u, seen, "identify: found")
        u.click("identify:keep")
        await u.until_state(State.PAYMENT_CHOICE)
        _check(u, seen, "payment choice")
        u.click("pay:cash")
        await u.until_bill_reader_open()
        await kiosk.insert_note(10)
        await u.until_drawn(lambda s: s.amount_paid == eur(10), "10 paid")
        _check(u, seen, "paying cash")
        kiosk.clock.advance(60)
        await u.until_drawn(lambda s: s.idle_warning is not None, "the idle warning")
        _check(u, seen, "idle warning")
        u.click("more_time")
        await u.until_drawn(lambda s: s.idle_warning is None, "the warning gone")
        await kiosk.control.tpv_auto("approve")
        u.click("pay:rest_by_card")
        await u.until_drawn(lambda s: s.payment_method == "tpv", "paying by card")
        _check(u, seen, "paying by card")
        await u.until_state(State.THANK_YOU)
        _check(u, seen, "thank you with the receipt on screen")
        u.click("finish")
        await u.until_state(State.ATTRACT)
        if large_text:  # (the toggles are the customer's: reset after each sale)
            u.click("large_text")
            await u.until_drawn(lambda s: s.large_text, "large text")
        u.click("start")
        await u.until_state(State.CHOOSING)
        u.click("product:PREMIUM-50")
        await u.until_state(State.IDENTIFYING)
        u.click("identify:no")
        await u.until_state(State.ID_CONFIRM)
        _check(u, seen, "ID confirm")
        u.click("id:ok")
        await u.until_state(State.PAYMENT_CHOICE)
        u.click("pay:cash")
        await u.until_bill_reader_open()
        await kiosk.insert_note(20)
        await u.until_drawn(lambda s: s.amount_paid == eur(20), "20 paid")
        u.click("cancel")
        await u.until_state(State.ERROR)
        _check(u, seen, "error with the voucher on screen")
    assert len(seen) == 12
    assert {what: small for what, small in seen.items() if small} == {}


async def test_the_out_of_service_screen_has_no_small_target(ui: UiSession, kiosk: Kiosk) -> None:
    await kiosk.control.set_dispenser(hopper=0)
    async with ui() as u:
        await u.until_state(State.OUT_OF_SERVICE)
        assert _small_buttons(u) == []
        assert [b.objectName() for b in u.buttons() if b.parentWidget() is not u.window.top] == []
