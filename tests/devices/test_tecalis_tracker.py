"""Event derivation from bill-reader and PIN-pad snapshots, without any I/O."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from kioskapp.core.money import Money
from kioskapp.devices.tecalis import BillReaderTracker, TpvTracker
from kioskapp.devices.tecalis_models import (
    BillReaderStatus,
    EscrowNote,
    NoteEscrowed,
    NoteStacked,
    TpvFinished,
    TpvStateChanged,
    TpvStatus,
)

EUR = "EUR"


def eur(major: int) -> Money:
    return Money(major * 100, EUR)


def snap(state: str, escrow: tuple[int, float] | None = None, stacked: int = 0) -> BillReaderStatus:
    note = EscrowNote(eur(escrow[0]), escrow[1]) if escrow else None
    return BillReaderStatus(state=state, raw_state=state, escrow=note, stacked_total=eur(stacked))  # type: ignore[arg-type]


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].__name__ for e in events]


def test_escrow_then_stack() -> None:
    t = BillReaderTracker(EUR)
    assert kinds(t.apply(snap("ready"))) == []
    ev = t.apply(snap("escrow", (20, 100.0)))
    assert kinds(ev) == ["NoteEscrowed"]
    assert ev[0]["amount"] == eur(20)
    ev = t.apply(snap("ready", None, 20))
    assert kinds(ev) == ["NoteStacked"]
    assert ev[0]["stacked_total"] == eur(20)


def test_same_snapshot_twice_yields_nothing() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("escrow", (20, 100.0)))
    assert t.apply(snap("escrow", (20, 100.0))) == []


def test_note_gone_without_stacking_is_returned_with_reason() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("escrow", (50, 1.0)))
    ev = t.apply(snap("ready"))
    assert kinds(ev) == ["NoteReturned"]
    assert ev[0]["reason"] == "timeout"
    t.apply(snap("escrow", (50, 2.0)))
    t.rejecting = True
    assert t.apply(snap("ready"))[0]["reason"] == "rejected"
    t.apply(snap("escrow", (50, 3.0)))
    t.return_hint = "rejected"
    assert t.apply(snap("ready"))[0]["reason"] == "rejected"


def test_missed_poll_between_two_notes_reports_both() -> None:
    """Note A stacked and note B in escrow before the next poll: both are reported, in order."""
    t = BillReaderTracker(EUR)
    t.apply(snap("escrow", (20, 1.0)))
    ev = t.apply(snap("escrow", (10, 2.0), 20))
    assert kinds(ev) == ["NoteStacked", "NoteEscrowed"]
    assert ev[1]["amount"] == eur(10)


def test_returned_then_new_note_between_polls() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("escrow", (20, 1.0)))
    ev = t.apply(snap("escrow", (20, 95.0)))
    assert kinds(ev) == ["NoteReturned", "NoteEscrowed"]


def test_stacked_money_never_seen_in_escrow_is_still_reported() -> None:
    t = BillReaderTracker(EUR)
    ev = t.apply(snap("ready", None, 30))
    assert kinds(ev) == ["NoteStacked"]
    assert ev[0]["amount"] == eur(30)


def test_jam_reports_stuck_note_and_recovery() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("escrow", (20, 1.0)))
    ev = t.apply(snap("jammed", (20, 1.0)))
    assert kinds(ev) == ["BillReaderChanged"]
    assert ev[0]["stuck_note"] == eur(20)
    ev = t.apply(snap("ready", None, 20))
    assert kinds(ev) == ["NoteStacked", "BillReaderChanged"]
    assert ev[1]["state"] == "ready"


def test_cash_box_full_is_reported_once() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("ready"))
    assert kinds(t.apply(snap("full", None, 0))) == ["BillReaderChanged"]
    assert t.apply(snap("full", None, 0)) == []


# A sequence of device states as the device would go through them; polls may
# see any subsequence (lost callbacks = skipped states) and repeat states
# (doubled callbacks). Money reported as stacked must equal the device's total.
@given(
    notes=st.lists(st.tuples(st.sampled_from([5, 10, 20, 50]), st.booleans()), max_size=8),
    data=st.data(),
)
def test_stacked_events_always_sum_to_device_total(notes, data) -> None:
    states = [snap("ready")]
    stacked = 0
    since = 0.0
    for amount, accept in notes:
        since += 1
        states.append(snap("escrow", (amount, since), stacked))
        if accept:
            stacked += amount
        states.append(snap("ready", None, stacked))
    seen = [s for s in states if data.draw(st.booleans(), label="poll sees this state")]
    seen = [s for s in seen for _ in range(data.draw(st.integers(1, 2), label="repeats"))]
    seen.append(states[-1])
    t = BillReaderTracker(EUR)
    total = Money.zero(EUR)
    escrowed = set()
    for s in seen:
        for e in t.apply(s):
            if e["type"] is NoteStacked:
                total += e["amount"]
            if e["type"] is NoteEscrowed:
                assert e["since"] not in escrowed, "a note was reported in escrow twice"
                escrowed.add(e["since"])
    assert total == eur(stacked)


def tpv(state: str) -> TpvStatus:
    return TpvStatus(state=state, raw_state=state, amount=eur(10), auth_code=None, card=None)  # type: ignore[arg-type]


def test_tpv_tracker_reports_changes_and_one_final() -> None:
    t = TpvTracker()
    assert t.apply(tpv("approved")) == [], "a stale result before prepare is ignored"
    t.start()
    assert [e["type"] for e in t.apply(tpv("waiting_card"))] == [TpvStateChanged]
    assert t.apply(tpv("waiting_card")) == []
    ev = t.apply(tpv("approved"))
    assert [e["type"] for e in ev] == [TpvStateChanged, TpvFinished]
    assert t.apply(tpv("approved")) == []
    assert not t.active


# -- regressions: a note's fate is never guessed --------------------------------


def test_note_leaving_escrow_while_stacking_stays_pending() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("escrow", (20, 1.0)))
    assert t.apply(snap("stacking", None, 0)) == []
    ev = t.apply(snap("ready", None, 20))
    assert kinds(ev) == ["NoteStacked"]


def test_jam_with_escrow_cleared_keeps_the_stuck_note() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("escrow", (20, 1.0)))
    ev = t.apply(snap("jammed", None, 0))
    assert kinds(ev) == ["BillReaderChanged"]
    assert ev[0]["stuck_note"] == eur(20)
    ev = t.apply(snap("ready", None, 0))  # staff cleared it back to the customer
    assert kinds(ev) == ["NoteReturned", "BillReaderChanged"]
    assert ev[0]["reason"] == "unknown"


def test_lost_accept_answer_then_session_end_is_unknown_not_returned() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("escrow", (20, 1.0)))
    t.accepting = True  # the accept was sent; its answer never came
    ev = t.session_ended()
    assert kinds(ev) == ["NoteOutcomeUnknown"]
    assert ev[0]["amount"] == eur(20)


def test_session_end_with_a_note_plainly_in_escrow_returns_it() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("escrow", (20, 1.0)))
    ev = t.session_ended()
    assert kinds(ev) == ["NoteReturned"]
    assert ev[0]["reason"] == "session_ended"


def test_accept_answer_reports_the_stack_once() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("escrow", (20, 1.0)))
    ev = t.accepted({"success": True, "stacked_total": 20})
    assert kinds(ev) == ["NoteStacked"]
    assert t.apply(snap("ready", None, 20)) == []
    assert t.accepted({"success": True}) == []


def test_device_count_restart_does_not_hide_new_notes() -> None:
    t = BillReaderTracker(EUR)
    t.apply(snap("ready", None, 20))
    assert t.apply(snap("ready", None, 0)) == []  # a fresh open counts from zero
    ev = t.apply(snap("ready", None, 10))
    assert kinds(ev) == ["NoteStacked"]
    assert ev[0]["amount"] == eur(10)


def test_unconfirmed_tpv_start_ignores_an_earlier_payments_result() -> None:
    t = TpvTracker()
    t.start()  # prepare sent, answer lost
    assert t.apply(tpv("approved")) == []
    assert not t.active
    t.start()
    assert [e["type"] for e in t.apply(tpv("waiting_card"))] == [TpvStateChanged]
    assert t.confirmed


def test_confirmed_prepare_follows_the_payment_even_after_a_stale_poll() -> None:
    t = TpvTracker()
    t.start()
    t.apply(tpv("approved"))  # a poll raced the prepare and saw the previous payment
    t.confirm()  # the prepare's success answer
    ev = t.apply(tpv("waiting_card"))
    assert [e["type"] for e in ev] == [TpvStateChanged]
    assert t.active
