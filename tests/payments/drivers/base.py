"""What the shared PaymentMethod suite needs from each provider: a driver.

A driver owns one provider's PaymentMethod against its simulator and plays
the customer (and the clock) through the simulator's control API. Each
provider module in this package exposes::

    CRASH_STEPS: tuple[str, ...]
    @contextlib.asynccontextmanager
    async def make_driver(env: SimEnv) -> AsyncIterator[Driver]: ...

The shared suite (tests/payments/test_payment_methods.py) runs every
scenario against every driver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from kioskapp.core.clock import ControlledClock
from kioskapp.core.money import Money
from kioskapp.devices.callbacks import CallbackReceiver
from kioskapp.payments.base import (
    Compensation,
    Outcome,
    PaymentAttempt,
    PaymentMethod,
    PaymentResult,
)
from kioskapp.simulator.control import SimControl


@dataclass
class SimEnv:
    """What every driver gets: the running simulators, their control API, the
    shared clock, and the kiosk's callback receiver (for device callbacks and
    payment webhooks)."""

    sim: Any  # kioskapp.simulator.framework.SimServer
    control: SimControl
    clock: ControlledClock
    receiver: CallbackReceiver


@dataclass(frozen=True)
class Expect:
    """An expected final result: outcome and how much money was taken."""

    outcome: Outcome
    taken: Money


class Driver(Protocol):
    name: str
    method: PaymentMethod
    amount: Money  # a typical amount in the provider's currency

    async def new_method(self) -> PaymentMethod:
        """A fresh PaymentMethod on new clients, as after a restart of the app."""
        ...

    async def approve(self, attempt: PaymentAttempt) -> None:
        """The customer completes the payment (presents a card, enters the PIN / inserts notes)."""
        ...

    async def decline(self, attempt: PaymentAttempt) -> Expect:
        """The customer's payment is refused; returns what the result must be."""
        ...

    async def begin(self, attempt: PaymentAttempt) -> Expect:
        """The customer is midway (card presented / a first note stacked); returns what a
        cancel from here must give."""
        ...

    async def time_out(self, attempt: PaymentAttempt) -> Expect:
        """Nobody finishes: let the provider's window pass (advance the clock)."""
        ...

    async def reach(self, step: str, attempt: PaymentAttempt) -> Expect:
        """Drive the payment to crash point ``step`` (one of CRASH_STEPS); returns what
        ``recover`` must report after a crash right there.

        The step ``"journalled"`` is played by the suite itself: the journal records
        the first save and never returns (a crash before anything is sent); the
        driver only returns its expectation."""
        ...

    async def check_compensated(self, result: PaymentResult, compensation: Compensation) -> None:
        """Assert at the simulator that the money of ``result`` really went back."""
        ...
