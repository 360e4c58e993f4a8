"""One screen per flow state. A screen renders a :class:`FlowSnapshot` and sends intents.

No screen calls a device, a service or the journal: each gets a ``submit`` function
that hands an intent to the flow, and :meth:`Screen.render` is called with every new
snapshot and the customer's :class:`~kioskapp.ui.i18n.Texts`. Everything a screen shows
comes from the snapshot, so a language switch or a mode change is just a new render.

Buttons have object names (``start``, ``product:<sku>``, ``pay:cash``, ``cancel``...)
that the tests, the keyboard and the screenshot script use.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from PySide6.QtCore import QEvent, QSize, Qt, QTimer
from PySide6.QtGui import (
    QHideEvent,
    QKeyEvent,
    QMouseEvent,
    QPixmap,
    QResizeEvent,
    QShowEvent,
    QTextOption,
)
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScroller,
    QSizePolicy,
    QStackedWidget,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from kioskapp.core.flow.model import (
    Back,
    Cancel,
    CatalogueItem,
    ChooseProduct,
    ConfirmId,
    EnterCardNumber,
    Finish,
    FlowSnapshot,
    HaveCard,
    Intent,
    NoteMessage,
    OnScreenSlip,
    PayWith,
    ReadCardOnTerminal,
    SkipCard,
    Start,
    State,
    UseCashback,
)
from kioskapp.ui.i18n import Texts, placeholders, texts_for
from kioskapp.ui.texts import TEXTS
from kioskapp.ui.widgets import busy_bar, button, column, label, panel, qr_pixmap, set_text, show

Submit = Callable[[Intent], None]

#: Longest card number the keypad takes (ISO/IEC 7812: 19 digits).
MAX_CARD_DIGITS = 19


class Screen(QWidget):
    """Base of every screen."""

    #: Intents sent by Escape on a keyboard (None: Escape does nothing here).
    escape_intent: Intent | None = None

    def __init__(self, submit: Submit) -> None:
        super().__init__()
        self.submit = submit
        self.snap: FlowSnapshot | None = None

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        self.snap = snap

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        """What is read aloud when this screen shows or its message changes."""
        return ""

    def first_focus(self) -> QWidget | None:
        """Where keyboard focus goes when the screen shows: the first usable button
        that does not cancel (Enter on a fresh screen must never end the sale)."""
        usable = [
            b for b in self.findChildren(QPushButton) if b.isVisibleTo(self) and b.isEnabled()
        ]
        safe = [b for b in usable if b.property("role") != "danger"]
        choices = safe or usable
        return choices[0] if choices else None

    def escape(self) -> None:
        if self.escape_intent is not None and self._can_escape():
            self.submit(self.escape_intent)

    def _can_escape(self) -> bool:
        return True

    def _on(self, b: QPushButton, intent: Intent | Callable[[], Intent]) -> QPushButton:
        def clicked() -> None:
            self.submit(intent() if callable(intent) else intent)

        b.clicked.connect(clicked)
        return b


class AttractScreen(Screen):
    """Welcome, and the idle loop: the products and their prices, and a greeting that
    cycles through the kiosk's languages (so a passer-by sees their own), then Start."""

    #: Seconds each language's greeting stays in the idle loop.
    CYCLE_S = 4.0

    def __init__(self, submit: Submit) -> None:
        super().__init__(submit)
        self.title = label("huge")
        self.subtitle = label()
        self.showcase = panel()
        self.showcase.setObjectName("showcase")
        self.showcase_lay = QVBoxLayout()
        self.showcase_lay.setContentsMargins(32, 16, 32, 16)
        self.showcase_lay.setSpacing(4)
        self.showcase.setLayout(self.showcase_lay)
        self.product_rows: list[QLabel] = []
        self.greeting = label("title")
        self.greeting.setObjectName("greeting")
        self.start = self._on(button("start", "start"), Start())
        lay = column(self.title, self.subtitle, spacing=16, margins=32)
        lay.addWidget(self.showcase)
        lay.addStretch(1)
        lay.addWidget(self.greeting)
        lay.addWidget(self.start)
        self.setLayout(lay)
        self._cycle = 0
        self._timer = QTimer(self)
        self._timer.setInterval(round(self.CYCLE_S * 1000))
        self._timer.timeout.connect(self._next_greeting)

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        super().draw(snap, t)
        set_text(self.title, t("attract.title"))
        set_text(self.subtitle, t("attract.subtitle"))
        set_text(self.start, t("attract.start"))
        items = snap.catalogue
        while len(self.product_rows) < len(items):
            row_label = label(center=False)
            self.showcase_lay.addWidget(row_label)
            self.product_rows.append(row_label)
        for i, row_label in enumerate(self.product_rows):
            show(row_label, i < len(items))
            if i < len(items):
                set_text(row_label, f"{items[i].name}  ·  {t.money(items[i].price)}")
        show(self.showcase, bool(items))
        self._show_greeting()

    def _languages(self) -> tuple[str, ...]:
        snap = self.snap
        if snap is None:
            return ()
        # the customer's language first, then the others in their order
        return (snap.language, *(x for x in snap.languages if x != snap.language))

    def _show_greeting(self) -> None:
        langs = self._languages()
        if not langs:
            return
        lang = langs[self._cycle % len(langs)]
        t = texts_for(lang)
        set_text(self.greeting, t("attract.touch"))

    def _next_greeting(self) -> None:
        self._cycle += 1
        self._show_greeting()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._cycle = 0
        self._show_greeting()
        self._timer.start()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self._timer.stop()

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        return t.sentences([t("attract.title"), t("attract.touch")])

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.submit(Start())  # anywhere on the screen starts


class MessageScreen(Screen):
    """A title, a line of text and (for waits) the progress indicator; used by the
    states that only show what is happening."""

    def __init__(
        self,
        submit: Submit,
        title_key: str,
        body_key: str | None = None,
        *,
        busy: bool = True,
        name: str = "",
    ) -> None:
        super().__init__(submit)
        self.setObjectName(name)
        self.title_key = title_key
        self.body_key = body_key
        self.title = label("title")
        self.body = label()
        self.detail = label("muted")
        self.busy = busy_bar()
        show(self.busy, busy)
        lay = column(spacing=32, margins=48)
        lay.addStretch(1)
        for w in (self.title, self.body, self.detail):
            lay.addWidget(w)
        lay.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(1)
        self.setLayout(lay)

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        super().draw(snap, t)
        set_text(self.title, t(self.title_key))
        set_text(self.body, t(self.body_key) if self.body_key else "")
        show(self.body, self.body_key is not None)
        show(self.detail, bool(self.detail.text()))

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        parts = [t(self.title_key)]
        if self.body_key:
            parts.append(t(self.body_key))
        return t.sentences(parts)


class OutOfServiceScreen(MessageScreen):
    def __init__(self, submit: Submit) -> None:
        super().__init__(submit, "oos.title", "oos.subtitle", busy=False, name="out_of_service")

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        reason = snap.out_of_service_reason
        set_text(self.detail, t(reason) if reason and t.has(reason) else "")
        super().draw(snap, t)

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        return t.sentences([t("oos.title"), t("oos.subtitle")])


class ChoosingScreen(Screen):
    """The catalogue: one big button per product, with its price."""

    escape_intent = Cancel()

    def __init__(self, submit: Submit) -> None:
        super().__init__(submit)
        self.title = label("title")
        self.notice = label("notice")
        self.grid = QGridLayout()
        self.grid.setSpacing(20)
        self.products: dict[str, QPushButton] = {}
        self.cancel = self._on(button("danger", "cancel"), Cancel())
        lay = column(self.title, self.notice)
        lay.addLayout(self.grid)
        lay.addStretch(1)
        lay.addWidget(self.cancel)
        self.setLayout(lay)

    def _button_for(self, item: CatalogueItem) -> QPushButton:
        b = self.products.get(item.sku)
        if b is None:
            b = self._on(button("product", f"product:{item.sku}"), ChooseProduct(item.sku))
            n = len(self.products)
            self.grid.addWidget(b, n // 2, n % 2)
            self.products[item.sku] = b
        return b

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        super().draw(snap, t)
        set_text(self.title, t("choosing.title"))
        skus = {item.sku for item in snap.catalogue}
        for sku, b in self.products.items():
            show(b, sku in skus)
        for item in snap.catalogue:
            b = self._button_for(item)
            lines = [item.name, t.money(item.price)]
            if not item.available:
                lines.append(t("choosing.unavailable"))
            elif item.needs_id_scan:
                lines.append(t("choosing.needs_id"))
            set_text(b, "\n".join(lines))
            b.setEnabled(item.available)
        _notice(self.notice, snap, t)
        set_text(self.cancel, t("chrome.cancel"))

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        items = [t.phrases([i.name, t.money(i.price)]) for i in snap.catalogue if i.available]
        return t.sentences([t("choosing.title"), *items, *_notice_speech(snap, t)])


def _notice(widget: QLabel, snap: FlowSnapshot, t: Texts) -> None:
    notice = snap.notice
    set_text(widget, t(notice.key) if notice is not None else "")
    show(widget, notice is not None)


def _notice_speech(snap: FlowSnapshot, t: Texts) -> list[str]:
    return [t(snap.notice.key)] if snap.notice is not None else []


class IdentifyScreen(Screen):
    """Identify a cashback card: ask, type/scan/swipe it, look it up, use its balance."""

    def __init__(self, submit: Submit) -> None:
        super().__init__(submit)
        self.title = label("title")
        self.notice = label("notice")
        self.pages = QStackedWidget()
        # ask
        self.ask_text = label()
        self.yes = self._on(button("primary", "identify:yes"), HaveCard())
        self.no = self._on(button(None, "identify:no"), SkipCard())
        ask = QWidget()
        ask.setLayout(column(self.ask_text, self.yes, self.no, margins=0))
        ask.layout().addStretch(1)  # type: ignore[union-attr]
        # enter
        self.enter_text = label()
        self.digits = QLineEdit()
        self.digits.setObjectName("card_number")
        self.digits.setReadOnly(True)
        self.digits.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.digits.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.digits.setMaxLength(MAX_CARD_DIGITS)
        keypad = QGridLayout()
        keypad.setSpacing(12)
        self.keys: dict[str, QPushButton] = {}
        for i, key in enumerate("123456789"):
            b = button("key", f"key:{key}")
            b.setText(key)
            b.clicked.connect(lambda _=False, k=key: self.type_digit(k))
            keypad.addWidget(b, i // 3, i % 3)
            self.keys[key] = b
        self.delete = button("key", "key:delete")
        self.delete.clicked.connect(self.delete_digit)
        zero = button("key", "key:0")
        zero.setText("0")
        zero.clicked.connect(lambda: self.type_digit("0"))
        self.keys["0"] = zero
        self.ok = button("primary", "key:ok")
        self.ok.clicked.connect(self.send_number)
        keypad.addWidget(self.delete, 3, 0)
        keypad.addWidget(zero, 3, 1)
        keypad.addWidget(self.ok, 3, 2)
        self.reader_text = label("muted")
        self.swipe = self._on(button(None, "identify:terminal"), ReadCardOnTerminal())
        enter = QWidget()
        left = column(self.enter_text, self.digits, self.reader_text, margins=0)
        left.addStretch(1)
        left.addWidget(self.swipe)
        enter_lay = QHBoxLayout()
        enter_lay.setContentsMargins(0, 0, 0, 0)
        enter_lay.setSpacing(32)
        enter_lay.addLayout(left, 1)
        enter_lay.addLayout(keypad, 1)
        enter.setLayout(enter_lay)
        # searching / reading
        self.wait_text = label()
        wait = QWidget()
        wait_lay = column(margins=0)
        wait_lay.addStretch(1)
        wait_lay.addWidget(self.wait_text)
        wait_lay.addWidget(busy_bar(), 0, Qt.AlignmentFlag.AlignHCenter)
        wait_lay.addStretch(1)
        wait.setLayout(wait_lay)
        # found
        self.card_text = label("title")
        self.balance_text = label("amount")
        self.usable_text = label()
        self.use = self._on(button("primary", "identify:use"), UseCashback(True))
        self.keep = self._on(button(None, "identify:keep"), UseCashback(False))
        found = panel()
        found_lay = column(self.card_text, self.balance_text, self.usable_text, spacing=12)
        choice = QHBoxLayout()
        choice.setSpacing(16)
        choice.addWidget(self.use)
        choice.addWidget(self.keep)
        found_lay.addLayout(choice)
        found.setLayout(found_lay)
        self.page = {"ask": ask, "enter": enter, "searching": wait, "reading": wait, "found": found}
        for w in (ask, enter, wait, found):
            self.pages.addWidget(w)
        self.back = self._on(button(None, "back"), Back())
        self.cancel = self._on(button("danger", "cancel"), Cancel())
        bottom = QHBoxLayout()
        bottom.setSpacing(16)
        bottom.addWidget(self.back)
        bottom.addWidget(self.cancel)
        lay = column(self.title, self.notice)
        lay.addWidget(self.pages, 1)
        lay.addLayout(bottom)
        self.setLayout(lay)
        self._last_phase: str | None = None

    # keypad
    def type_digit(self, digit: str) -> None:
        entering = self.snap is not None and self.snap.identify_phase == "enter"
        if entering and len(self.digits.text()) < MAX_CARD_DIGITS:
            self.digits.setText(self.digits.text() + digit)

    def delete_digit(self) -> None:
        self.digits.setText(self.digits.text()[:-1])

    def send_number(self) -> None:
        number = self.digits.text()
        if number:
            self.submit(EnterCardNumber(number))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        text = event.text()
        if text.isdigit() and len(text) == 1:
            self.type_digit(text)
        elif event.key() == Qt.Key.Key_Backspace:
            self.delete_digit()
        else:
            super().keyPressEvent(event)

    def escape(self) -> None:
        self.submit(Back())

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        super().draw(snap, t)
        phase = snap.identify_phase or "ask"
        if (phase != self._last_phase and phase == "enter") or snap.notice is not None:
            self.digits.clear()  # a new entry, or the last number was refused
        self._last_phase = phase
        self.pages.setCurrentWidget(self.page[phase])
        set_text(self.title, t("identify.title"))
        _notice(self.notice, snap, t)
        set_text(self.ask_text, t("identify.ask"))
        set_text(self.yes, t("identify.yes"))
        set_text(self.no, t("identify.no"))
        set_text(self.enter_text, t("identify.enter"))
        set_text(self.delete, t("identify.delete"))
        set_text(self.ok, t("identify.ok"))
        set_text(self.reader_text, t("identify.reader"))
        show(self.reader_text, "reader" in snap.identify_modes)
        set_text(self.swipe, t("identify.terminal"))
        show(self.swipe, "terminal" in snap.identify_modes)
        set_text(
            self.wait_text, t("identify.reading" if phase == "reading" else "identify.searching")
        )
        found = snap.identified_pass
        if found is not None:
            set_text(self.card_text, t("identify.found", number=found.masked_number))
            set_text(self.balance_text, t("identify.balance", amount=found.balance))
            set_text(self.usable_text, t("identify.usable", amount=found.usable))
            show(self.use, found.usable.is_positive)
        set_text(self.use, t("identify.use"))
        set_text(self.keep, t("identify.dont_use"))
        set_text(self.back, t("chrome.back"))
        set_text(self.cancel, t("chrome.cancel"))
        show(self.back, phase != "searching")

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        phase = snap.identify_phase or "ask"
        parts = [t("identify.title")] if phase == "ask" else []
        parts += _notice_speech(snap, t)
        if phase == "ask":
            parts.append(t("identify.ask"))
        elif phase == "enter":
            parts.append(t("identify.enter"))
        elif phase == "reading":
            parts.append(t("identify.reading"))
        elif phase == "found" and snap.identified_pass is not None:
            parts.append(t("identify.balance", amount=snap.identified_pass.balance))
            parts.append(t("identify.usable", amount=snap.identified_pass.usable))
        return t.sentences(parts)


class IdConfirmScreen(Screen):
    """The scanned ID image: continue or scan again."""

    escape_intent = Cancel()

    def __init__(self, submit: Submit) -> None:
        super().__init__(submit)
        self.title = label("title")
        self.image = QLabel()
        self.image.setObjectName("id_image")
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.ok = self._on(button("primary", "id:ok"), ConfirmId(True))
        self.again = self._on(button(None, "id:again"), ConfirmId(False))
        self.cancel = self._on(button("danger", "cancel"), Cancel())
        lay = column(self.title)
        lay.addWidget(self.image, 1)
        buttons = QHBoxLayout()
        buttons.setSpacing(16)
        for w in (self.ok, self.again, self.cancel):
            buttons.addWidget(w)
        lay.addLayout(buttons)
        self.setLayout(lay)
        self._image_of: bytes | None = None

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        super().draw(snap, t)
        set_text(self.title, t("id_confirm.title"))
        if snap.id_image is not self._image_of:
            self._image_of = snap.id_image
            pix = QPixmap()
            if snap.id_image and pix.loadFromData(snap.id_image):
                self.image.setPixmap(
                    pix.scaled(
                        560, 350, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation,
                    )
                )  # fmt: skip
            else:
                self.image.clear()
        set_text(self.ok, t("id_confirm.ok"))
        set_text(self.again, t("id_confirm.again"))
        set_text(self.cancel, t("chrome.cancel"))

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        return t("id_confirm.title")


def _method_label(method: str) -> tuple[str, str]:
    return ("pay.cash", "pay.cash_hint") if method == "cash" else ("pay.card", "pay.card_hint")


class PaymentChoiceScreen(Screen):
    """The amount due and one button per healthy payment method."""

    escape_intent = Cancel()

    def __init__(self, submit: Submit) -> None:
        super().__init__(submit)
        self.title = label("title")
        self.due = label("amount")
        self.cashback = label("muted")
        self.notice = label("notice")
        self.methods: dict[str, QPushButton] = {}
        self.method_row = QVBoxLayout()
        self.method_row.setSpacing(24)
        self.cancel = self._on(button("danger", "cancel"), Cancel())
        lay = column(self.title, self.due, self.cashback, self.notice)
        lay.addLayout(self.method_row)
        lay.addStretch(1)
        lay.addWidget(self.cancel)
        self.setLayout(lay)

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        super().draw(snap, t)
        set_text(self.title, t("pay.title"))
        if snap.amount_remaining is not None:
            set_text(self.due, t("pay.due", amount=snap.amount_remaining))
        used = snap.cashback_used
        set_text(self.cashback, t("pay.cashback", amount=used) if used else "")
        show(self.cashback, bool(used and used.is_positive))
        _notice(self.notice, snap, t)
        for method in snap.methods_offered:
            if method not in self.methods:
                b = self._on(button("method", f"pay:{method}"), PayWith(method))
                self.method_row.addWidget(b)
                self.methods[method] = b
        for method, b in self.methods.items():
            name, hint = _method_label(method)
            set_text(b, f"{t(name)}\n{t(hint)}")
            show(b, method in snap.methods_offered)
        set_text(self.cancel, t("chrome.cancel"))

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        parts = [*_notice_speech(snap, t), t("pay.title")]
        if snap.amount_remaining is not None:
            parts.append(t("pay.due", amount=snap.amount_remaining))
        parts += [t(_method_label(m)[0]) for m in snap.methods_offered]
        return t.sentences(parts)


class PayingScreen(Screen):
    """Cash: due, inserted, remaining and what happened to each note. Card: the
    terminal's status. Both: the progress indicator and Cancel while possible."""

    escape_intent = Cancel()

    def __init__(self, submit: Submit) -> None:
        super().__init__(submit)
        self.title = label("title")
        self.hint = label("muted")
        self.figures = panel()
        grid = QGridLayout()
        grid.setSpacing(12)
        self.names = [label(center=False) for _ in range(3)]
        self.values = [label("amount", center=False) for _ in range(3)]
        for i, value in enumerate(self.values):
            value.setObjectName(("due", "inserted", "remaining")[i])
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            grid.addWidget(self.names[i], i, 0)
            grid.addWidget(value, i, 1)
        self.figures.setLayout(grid)
        self.status = label()
        self.status.setObjectName("status")
        self.note = label("ok")
        self.note.setObjectName("note")
        self.busy = busy_bar()
        self.rest_by_card = button("primary", "pay:rest_by_card")
        self.rest_by_card.clicked.connect(self._rest_by_card)
        self.cancel = self._on(button("danger", "cancel"), Cancel())
        lay = column(self.title, self.hint, self.figures, self.status, self.note, spacing=16)
        lay.addWidget(self.busy, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addStretch(1)
        buttons = QHBoxLayout()
        buttons.setSpacing(16)
        buttons.addWidget(self.rest_by_card)
        buttons.addWidget(self.cancel)
        lay.addLayout(buttons)
        self.setLayout(lay)

    def _card_method(self) -> str | None:
        snap = self.snap
        if snap is None:
            return None
        return next((m for m in snap.methods_offered if m != "cash"), None)

    def _rest_by_card(self) -> None:
        method = self._card_method()
        if method is not None:
            self.submit(PayWith(method))

    def _can_escape(self) -> bool:
        return self.snap is not None and self.snap.can_cancel

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        super().draw(snap, t)
        cash = snap.payment_method == "cash"
        set_text(self.title, t("cash.title" if cash else "card_pay.title"))
        set_text(self.hint, t("cash.no_change") if cash else "")
        show(self.hint, cash)
        show(self.figures, cash)
        if cash:
            names = ("cash.due", "cash.inserted", "cash.remaining")
            amounts = (snap.amount_due, snap.amount_paid, snap.amount_remaining)
            for name_label, value_label, key, amount in zip(
                self.names, self.values, names, amounts, strict=True
            ):
                set_text(name_label, t(key))
                set_text(value_label, t.money(amount) if amount is not None else "")
            set_text(self.status, "")
        else:
            status = snap.payment_status
            phase = status.phase if status is not None else "starting"
            parts = []
            if snap.amount_remaining is not None:
                parts.append(t("card_pay.amount", amount=snap.amount_remaining))
            parts.append(t(f"phase.{phase}"))
            set_text(self.status, "\n".join(parts))
        show(self.status, not cash)
        note = snap.note
        if note is not None and cash:
            set_text(self.note, note_text(note, t))
            role = "ok" if note.key in ("note_accepted", "note_in_escrow") else "notice"
            if self.note.property("role") != role:
                self.note.setProperty("role", role)
                self.note.style().unpolish(self.note)
                self.note.style().polish(self.note)
        show(self.note, note is not None and cash)
        card = self._card_method()
        rest = cash and card is not None and snap.can_cancel
        set_text(self.rest_by_card, t("pay.rest_by_card"))
        show(self.rest_by_card, rest)
        set_text(self.cancel, t("chrome.cancel"))
        show(self.cancel, snap.can_cancel)

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        parts = []
        if snap.payment_method == "cash":
            if snap.note is not None:
                parts.append(note_text(snap.note, t))
            else:
                parts.append(t("cash.title"))
            if snap.amount_remaining is not None:
                parts.append(t("speech.remaining", amount=snap.amount_remaining))
        else:
            status = snap.payment_status
            parts.append(t(f"phase.{status.phase if status else 'starting'}"))
        return t.sentences(parts)


def note_text(note: NoteMessage, t: Texts) -> str:
    """What happened to a banknote, with its amount when the flow knows it."""
    key = note.key
    if note.amount is None:
        if "amount" in placeholders(TEXTS.get(key, "")):
            key = "phase." + key.split(".")[0]  # the same news without the amount
        return t(key)
    return t(key, amount=note.amount)


class SlipLines(QTextEdit):
    """The lines of a slip, as the printer would print them: as tall as they need, and
    scrolled (by dragging them or with the scroll bar) when the screen has less room.
    Long words (codes) break anywhere: the lines never scroll sideways."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("slip_text")
        self.setReadOnly(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.document().setDocumentMargin(0)
        self.viewport().setAutoFillBackground(False)
        QScroller.grabGesture(self.viewport(), QScroller.ScrollerGestureType.LeftMouseButtonGesture)

    def set_lines(self, lines: tuple[str, ...]) -> None:
        self.setPlainText("\n".join(lines))
        self.verticalScrollBar().setValue(0)  # a new slip shows from its top
        self.updateGeometry()

    def height_for(self, width: int) -> int:
        """How tall the lines are when ``width`` wide."""
        doc = self.document().clone(self)
        doc.setDefaultFont(self.font())
        doc.setTextWidth(max(1, width - 2 * self.frameWidth()))
        height = math.ceil(doc.size().height()) + 2 * self.frameWidth()
        doc.deleteLater()
        return height

    def sizeHint(self) -> QSize:
        # As tall as the lines at the width they have (not a height-for-width: layouts
        # do not shrink those, and these lines may be far taller than the screen).
        width = self.width() if self.isVisible() else super().sizeHint().width()
        return QSize(super().sizeHint().width(), self.height_for(width))

    def minimumSizeHint(self) -> QSize:
        fm = self.fontMetrics()
        return QSize(fm.averageCharWidth() * 12, fm.lineSpacing() * 3)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self.updateGeometry()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self.updateGeometry()  # the lines need another height now


class SlipView(QWidget):
    """A receipt or refund voucher shown on screen (the printer failed): what it is,
    then its lines and its QR code in a box, as tall as the lines need or as the
    screen allows (the lines scroll then; the QR code is always whole)."""

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("slip")
        self.caption = label("notice")
        self.text = SlipLines()
        self.qr = QLabel()
        self.qr.setObjectName("slip_qr")
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.box = panel()
        self.box.setObjectName("slip_box")
        inner = QHBoxLayout()
        inner.setContentsMargins(16, 12, 12, 12)
        inner.setSpacing(12)
        inner.addWidget(self.text, 1)
        inner.addWidget(self.qr, 0, Qt.AlignmentFlag.AlignTop)
        self.box.setLayout(inner)
        lay = QVBoxLayout()
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(16)
        lay.addWidget(self.caption)
        lay.addWidget(self.box)
        lay.addStretch(1)
        self.setLayout(lay)
        self._slip: OnScreenSlip | None = None

    def draw(self, slip: OnScreenSlip | None, t: Texts) -> None:
        show(self, slip is not None)
        if slip is None:
            return
        set_text(self.caption, t(f"slip.{slip.kind}"))
        if slip is not self._slip:
            self._slip = slip
            self.text.set_lines(slip.lines)
            if slip.qr:
                self.qr.setPixmap(qr_pixmap(slip.qr[0], scale=4))
            else:
                self.qr.clear()


class SlipLayout(QGridLayout):
    """The layout of a screen that may show a slip. Without one: the title and the
    texts, and the closing button at the bottom. With one: the title and the texts
    on the left, down to the bottom of the screen; on the right the slip, from the top,
    and the closing button under it. Side by side, neither squeezes the other,
    whatever the language and the text size. ``shares``: how the two columns share
    the width."""

    def __init__(
        self,
        texts: list[QWidget],
        slip: SlipView,
        done: QPushButton,
        *,
        shares: tuple[int, int] = (1, 1),
    ) -> None:
        super().__init__()
        self.shares = shares
        self.setContentsMargins(32, 32, 32, 32)
        self.setHorizontalSpacing(32)
        self.setVerticalSpacing(20)
        self.texts = QWidget()
        self.texts.setObjectName("texts")
        texts_col = column(*texts, margins=0)
        texts_col.addStretch(1)
        self.texts.setLayout(texts_col)
        self.slip = slip
        self.done = done
        # the columns share the width by their stretch factors alone
        for w in (self.texts, slip):
            policy = w.sizePolicy()
            policy.setHorizontalPolicy(QSizePolicy.Policy.Ignored)
            w.setSizePolicy(policy)
        self.addWidget(slip, 0, 1)
        self.setRowStretch(0, 1)
        self.beside: bool | None = None
        self.place(beside=False)

    def place(self, *, beside: bool) -> None:
        """Lay the texts out beside the slip (or alone, on the whole width)."""
        if beside == self.beside:
            return
        self.beside = beside
        self.setColumnStretch(0, self.shares[0] if beside else 1)
        self.setColumnStretch(1, self.shares[1] if beside else 0)
        self.removeWidget(self.texts)
        self.removeWidget(self.done)
        if beside:
            self.addWidget(self.texts, 0, 0, 2, 1)
            self.addWidget(self.done, 1, 1)
        else:
            self.addWidget(self.texts, 0, 0, 1, 2)
            self.addWidget(self.done, 1, 0, 1, 2)


class ThankYouScreen(Screen):
    def __init__(self, submit: Submit) -> None:
        super().__init__(submit)
        self.title = label("huge")
        self.body = label()
        self.slip = SlipView()
        self.finish = self._on(button("primary", "finish"), Finish())
        self.lay = SlipLayout([self.title, self.body], self.slip, self.finish)
        self.setLayout(self.lay)

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        super().draw(snap, t)
        set_text(self.title, t("thanks.title"))
        set_text(self.body, t("thanks.body"))
        self.slip.draw(snap.slip_on_screen, t)
        self.lay.place(beside=snap.slip_on_screen is not None)
        set_text(self.finish, t("thanks.finish"))

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        parts = [t("thanks.title"), t("thanks.body")]
        if snap.slip_on_screen is not None:
            parts.append(t(f"slip.{snap.slip_on_screen.kind}"))
        return t.sentences(parts)


class ErrorScreen(Screen):
    """What happened, what the customer should do, and what was given back."""

    escape_intent = Finish()

    def __init__(self, submit: Submit) -> None:
        super().__init__(submit)
        self.title = label("title")
        self.what = label()
        self.what.setObjectName("error_what")
        self.todo = label("notice")
        self.todo.setObjectName("error_todo")
        self.refund = label()
        self.refund.setObjectName("refund")
        self.slip = SlipView()
        self.finish = self._on(button("primary", "finish"), Finish())
        texts: list[QWidget] = [self.title, self.what, self.todo, self.refund]
        # the longest texts of all: three fifths of the width
        self.lay = SlipLayout(texts, self.slip, self.finish, shares=(3, 2))
        self.setLayout(self.lay)

    def _texts(self, snap: FlowSnapshot, t: Texts) -> tuple[str, str, str]:
        error = snap.error
        what = t(error.key) if error is not None else t("sale.cancelled")
        who = error.who if error is not None else "nobody"
        todo = t(f"error.{who}")
        refund_lines = []
        r = snap.refund
        if r is not None:
            if r.returned.is_positive:
                refund_lines.append(t("error.returned", amount=r.returned))
            if r.vouchers:
                refund_lines.append(t("error.vouchers"))
            if r.kept_for_staff.is_positive:
                refund_lines.append(
                    t("error.kept", amount=r.kept_for_staff, sale=(snap.sale_id or "")[:8])
                )
        if r is not None and r.kept_for_staff.is_positive:
            todo = t("error.staff")
        return what, todo, "\n".join(refund_lines)

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        super().draw(snap, t)
        what, todo, refund = self._texts(snap, t)
        set_text(self.title, t("error.title"))
        set_text(self.what, what)
        set_text(self.todo, todo)
        set_text(self.refund, refund)
        show(self.refund, bool(refund))
        self.slip.draw(snap.slip_on_screen, t)
        self.lay.place(beside=snap.slip_on_screen is not None)
        set_text(self.finish, t("error.finish"))

    def speech(self, snap: FlowSnapshot, t: Texts) -> str:
        what, todo, refund = self._texts(snap, t)
        slip = t(f"slip.{snap.slip_on_screen.kind}") if snap.slip_on_screen else ""
        return t.sentences([what, refund, slip, todo])


def build_screens(submit: Submit) -> dict[State, Screen]:
    """One screen per flow state (waits share the message screen with their own words)."""

    def wait(title: str, body: str | None = None, name: str = "") -> MessageScreen:
        return MessageScreen(submit, title, body, name=name)

    return {
        State.ATTRACT: AttractScreen(submit),
        State.OUT_OF_SERVICE: OutOfServiceScreen(submit),
        State.STARTING: wait("starting.title", "chrome.please_wait", "starting"),
        State.CHOOSING: ChoosingScreen(submit),
        State.IDENTIFYING: IdentifyScreen(submit),
        State.ID_SCAN: _IdScanScreen(submit),
        State.ID_CONFIRM: IdConfirmScreen(submit),
        State.STAGING_CARD: wait("staging.title", "staging.body", "staging"),
        State.PAYMENT_CHOICE: PaymentChoiceScreen(submit),
        State.PAYING: PayingScreen(submit),
        State.DEBITING: wait("debiting.title", "chrome.please_wait", "debiting"),
        State.DISPENSING: wait("dispensing.title", "dispensing.body", "dispensing"),
        State.PRINTING: wait("printing.title", "chrome.please_wait", "printing"),
        State.THANK_YOU: ThankYouScreen(submit),
        State.CANCELLING: wait("cancelling.title", "cancelling.body", "cancelling"),
        State.ERROR: ErrorScreen(submit),
    }


class _IdScanScreen(MessageScreen):
    escape_intent = Cancel()

    def __init__(self, submit: Submit) -> None:
        super().__init__(submit, "id_scan.title", "id_scan.body", name="id_scan")
        self.cancel = self._on(button("danger", "cancel"), Cancel())
        layout = self.layout()
        assert layout is not None
        layout.addWidget(self.cancel)

    def draw(self, snap: FlowSnapshot, t: Texts) -> None:
        super().draw(snap, t)
        set_text(self.cancel, t("chrome.cancel"))


__all__ = [
    "AttractScreen",
    "ChoosingScreen",
    "ErrorScreen",
    "IdConfirmScreen",
    "IdentifyScreen",
    "MessageScreen",
    "OutOfServiceScreen",
    "PayingScreen",
    "PaymentChoiceScreen",
    "Screen",
    "SlipLayout",
    "SlipLines",
    "SlipView",
    "Submit",
    "ThankYouScreen",
    "build_screens",
]
