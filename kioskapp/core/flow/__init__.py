"""The customer flow: the customer journey as one state machine, no Qt.

The engine (and through it every device client) is imported on first use, so a
screen that only needs the model (states, intents, snapshot) starts fast.

The UI observes :class:`FlowSnapshot` and sends intents; see :mod:`.model` for
the states, intents and snapshot, :mod:`.engine` for the machine and its
policies, and :mod:`.errors` for the one mapping from errors to messages.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kioskapp.core.flow.engine import (
        CardService,
        CodeReader,
        Flow,
        FlowServices,
        FlowSettings,
        KioskHardware,
        Subscription,
        TerminalCardRead,
    )
    from kioskapp.core.flow.errors import describe
from kioskapp.core.flow.model import (
    INTENT_TYPES,
    Back,
    Cancel,
    CardCodeScanned,
    CatalogueItem,
    ChooseProduct,
    ConfirmId,
    EnterCardNumber,
    ErrorInfo,
    Finish,
    FlowSnapshot,
    HaveCard,
    IdentifyMode,
    IdentifyPhase,
    IdleWarning,
    Intent,
    MoreTime,
    NoteMessage,
    OnScreenSlip,
    PassView,
    PayWith,
    ReadCardOnTerminal,
    RefundSummary,
    SetHighContrast,
    SetLanguage,
    SetLargeText,
    SkipCard,
    Start,
    State,
    UseCashback,
    WhoActs,
)

__all__ = [
    "INTENT_TYPES",
    "Back",
    "Cancel",
    "CardCodeScanned",
    "CardService",
    "CatalogueItem",
    "ChooseProduct",
    "CodeReader",
    "ConfirmId",
    "EnterCardNumber",
    "ErrorInfo",
    "Finish",
    "Flow",
    "FlowServices",
    "FlowSettings",
    "FlowSnapshot",
    "HaveCard",
    "IdentifyMode",
    "IdentifyPhase",
    "IdleWarning",
    "Intent",
    "KioskHardware",
    "MoreTime",
    "NoteMessage",
    "OnScreenSlip",
    "PassView",
    "PayWith",
    "ReadCardOnTerminal",
    "RefundSummary",
    "SetHighContrast",
    "SetLanguage",
    "SetLargeText",
    "SkipCard",
    "Start",
    "State",
    "Subscription",
    "TerminalCardRead",
    "UseCashback",
    "WhoActs",
    "describe",
]


_ENGINE = frozenset(
    {
        "CardService", "CodeReader", "Flow", "FlowServices", "FlowSettings",
        "KioskHardware", "Subscription", "TerminalCardRead",
    }
)  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _ENGINE:
        from kioskapp.core.flow import engine

        return getattr(engine, name)
    if name == "describe":
        from kioskapp.core.flow.errors import describe

        return describe
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
