"""A vetted list's decision history: when a decision was made, who made decisions wholesale, and undo.

Every decision stamps who made it and when (`now`: UTC, ISO 8601, to the second). A list decided wholesale (the
acceptance policy) is stamped only where it changed (`record_changes`); an import keeps the file's own who and when
(`vetting.import_decisions`). `UndoStack` takes back the last decisions, several levels deep, one step per click,
bulk decision or import; once a step is sealed it leaves alone a candidate someone decided again since (say in
another browser tab), so undo never overwrites another person's call.
Kept apart from `vetting` (the list itself and its files), which uses `now` and `decision_of` from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapt_core.vetting import VettedCandidate, VettedList


def now() -> str:
    """The time a decision records: UTC, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


DECISION_FIELDS = ("decision", "reason", "decided_by", "decided_at")  # what a decision sets; what undo restores


def decision_of(c: VettedCandidate) -> dict:
    return {name: getattr(c, name) for name in DECISION_FIELDS}


def record_changes(before: VettedList, after: VettedList, by: str | None) -> int:
    """Stamp `by` and now on the candidates of `after` whose decision or reason differs from `before` (a list
    decided wholesale, e.g. by the acceptance policy); returns how many."""
    at, changed = now(), 0
    for c in after:
        old = before.get(c.text)
        if old is None or (old.decision, old.reason) != (c.decision, c.reason):
            c.decided_by, c.decided_at, changed = by, at, changed + 1
    return changed


@dataclass
class UndoStack:
    """The last decisions, newest last, to take back one at a time: each step keeps, before a change, the decision
    fields of the candidates it touches (one row or a whole bulk or policy decision is one step), and, once sealed,
    what the change made of them. At most `depth` steps are kept; the oldest go first."""

    depth: int = 20
    steps: list[tuple[str, list[tuple[str, dict]], dict | None]] = field(default_factory=list)

    def record(self, vetted: VettedList, texts: Iterable[str], what: str) -> None:
        """Remember the current decisions of `texts` in `vetted`, before `what` changes them."""
        saved = [(c.text, decision_of(c)) for c in map(vetted.get, texts) if c is not None]
        if saved:
            self.steps = [*self.steps, (what, saved, None)][-self.depth :]

    def seal(self, vetted: VettedList) -> None:
        """Remember what the newest step made of its candidates (call it right after the change), so that undo can
        leave alone a candidate decided again since, say in another browser tab."""
        if self.steps:
            what, saved, _ = self.steps[-1]
            after = {text: decision_of(c) for text, _ in saved if (c := vetted.get(text)) is not None}
            self.steps[-1] = (what, saved, after)

    def undo(self, vetted: VettedList) -> str | None:
        """Restore the newest step's decisions into `vetted`; returns what the step was, or None when there is
        nothing to undo. A candidate no longer in the list, or decided again since the step (sealed), is left as it
        is and named in the returned text."""
        if not self.steps:
            return None
        what, saved, after = self.steps.pop()
        kept = []
        for text, decision in saved:
            c = vetted.get(text)
            if c is None:
                continue
            if after is not None and text in after and decision_of(c) != after[text]:
                kept.append(text)  # someone decided it again since: theirs stands
                continue
            for name, value in decision.items():
                setattr(c, name, value)
        if kept:
            what += f" (not {describe(kept)}: decided again since)"
        return what

    @property
    def last(self) -> str | None:
        return self.steps[-1][0] if self.steps else None

    def __len__(self) -> int:
        return len(self.steps)


def describe(texts: list[str]) -> str:
    """How a decision names the candidates it touches: one by its text, several by their number."""
    return repr(texts[0]) if len(texts) == 1 else f"{len(texts)} candidates"
