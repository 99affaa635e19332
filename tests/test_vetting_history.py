"""Tests of adapt_core.vetting_history: stamps on wholesale decisions, undo several levels deep and across tabs."""

from __future__ import annotations

from dataclasses import replace

from test_vetting import sample

from adapt_core.vetting import VettedList
from adapt_core.vetting_history import UndoStack, describe, record_changes


def test_record_changes_stamps_only_what_a_wholesale_decision_changed():
    before = sample()
    after = VettedList([replace(c) for c in before], before.label_names)
    after.get("top up").decision = "rejected"
    assert record_changes(before, after, "Ana (policy)") == 1
    assert after.get("top up").decided_by == "Ana (policy)" and after.get("credit card").decided_by is None


def test_undo_leaves_a_candidate_decided_again_since_alone():
    """Tab A accepts two candidates; tab B (the same file) then rejects one of them; A's undo takes back only the
    other: B's later call stands, and the undo says so."""
    v, undo = sample(), UndoStack()
    undo.record(v, ["credit card", "top up"], "accept 2 candidates")
    v.decide(["credit card", "top up"], "accepted", by="Ana")
    undo.seal(v)
    v.decide("top up", "rejected", reason="generic", by="Ben")  # another tab, saved to the same file
    assert undo.undo(v) == "accept 2 candidates (not 'top up': decided again since)"
    assert v.get("credit card").decision == "pending"
    assert (v.get("top up").decision, v.get("top up").decided_by) == ("rejected", "Ben")


def test_undo_takes_back_decisions_several_levels_deep():
    v, undo = sample(), UndoStack(depth=3)
    assert undo.undo(v) is None and undo.last is None
    undo.record(v, ["credit card"], "accept credit card")
    v.decide("credit card", "accepted", by="Ana")
    undo.record(v, v.where(max_support=8), "reject 2")
    v.decide_where("rejected", max_support=8, reason="rare", by="Ana")
    undo.record(v, ["credit card"], "reject credit card")
    v.decide("credit card", "rejected", by="Ben")
    assert len(undo) == 3 and undo.last == "reject credit card"
    assert undo.undo(v) == "reject credit card"
    assert (v.get("credit card").decision, v.get("credit card").decided_by) == ("accepted", "Ana")
    assert undo.undo(v) == "reject 2"
    assert v.counts() == {"pending": 3, "accepted": 1, "rejected": 0}
    assert v.get("top up").reason is None and v.get("top up").decided_at is None
    assert undo.undo(v) == "accept credit card" and v.counts()["pending"] == 4
    assert undo.undo(v) is None
    for i in range(5):  # bounded: the oldest steps go first
        undo.record(v, ["top up"], f"step {i}")
    assert [step[0] for step in undo.steps] == ["step 2", "step 3", "step 4"]


def test_describe_names_one_candidate_by_its_text_and_several_by_their_number():
    assert describe(["top up"]) == "'top up'"
    assert describe(["top up", "credit card"]) == "2 candidates"
