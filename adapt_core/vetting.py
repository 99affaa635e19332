"""Vetting: a person decides which mined candidates become tokens. The vetted list is what training takes.

Each candidate is pending, accepted or rejected, with an optional reason, and carries the statistics a person
decides on (support, support per class, purity, mutual information, PPLu). Decisions are made one by one or in bulk
over a filter. The list saves as JSON (lossless) or CSV (a spreadsheet can edit it); both are written atomically.

`load_vetted` reads, by suffix:
- `.json`: a saved list, or a plain JSON list of strings (all accepted) or of objects with a "text";
- `.csv`: a saved list, or any CSV with a `text` column;
- `.txt`: one token per line (blank lines and lines starting with "#" skipped).
A hand-made file with no decision column/field means "all accepted". Nothing is ever unpickled.

Re-mining never loses work: `merge_decisions(existing, remined)` keeps earlier decisions on candidates found again,
and keeps decided candidates that were not found again.

Every decision records who made it (`decided_by`, the reviewer's name; empty from a script) and when (`decided_at`,
UTC, ISO 8601), so a list vetted by several experts says whose call each token was; files saved before these fields
existed load with them empty. Taking decisions back (`UndoStack`) lives in `vetting_history`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import pandas as pd

from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_text
from adapt_core.vetting_history import decision_of, now

DECISIONS = ("pending", "accepted", "rejected")
_LIST_COLUMNS = ("ids", "class_support")  # space-separated integers in CSV
_CLASS_PREFIX = "support:"  # CSV columns "support:<label>", one per class, for readers; ignored on load


@dataclass
class VettedCandidate:
    """One candidate token with its statistics and the decision on it."""

    text: str
    ids: tuple[int, ...] = ()  # the classification tokenizer's pieces
    support: int | None = None
    class_support: tuple[int, ...] | None = None
    purity: float | None = None
    mutual_info: float | None = None
    pplu: float | None = None
    decision: str = "pending"
    reason: str | None = None
    examples: tuple[str, ...] = ()
    decided_by: str | None = None  # who made the decision (the reviewer's name), None from a script or the miner
    decided_at: str | None = None  # when, UTC ISO 8601 (seconds)

    def __post_init__(self):
        if not isinstance(self.text, str) or not self.text.strip():
            raise AdaptError("a candidate's text must be a non-empty string")
        if self.decision not in DECISIONS:
            raise AdaptError(f"decision must be one of {', '.join(DECISIONS)} (got {self.decision!r})")
        if self.pplu is not None and math.isnan(self.pplu):
            self.pplu = None

    @classmethod
    def from_dict(cls, d: dict) -> VettedCandidate:
        known = {f.name for f in fields(cls)}
        d = {k: v for k, v in d.items() if k in known}
        for key in ("ids", "class_support", "examples"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)


@dataclass(frozen=True)
class CandidateFilter:
    """Which candidates a bulk decision applies to; every condition given must hold (empty = all)."""

    min_support: int | None = field(default=None, metadata={"help": "Support at least this."})
    max_support: int | None = field(default=None, metadata={"help": "Support at most this."})
    min_purity: float | None = field(default=None, metadata={"help": "Class purity at least this (0–1)."})
    min_mutual_info: float | None = field(default=None, metadata={"help": "Mutual information at least this (nats)."})
    max_pplu: float | None = field(default=None, metadata={"help": "PPLu at most this (unscored ones never match)."})
    contains: str | None = field(default=None, metadata={"help": "Text contains this (case-insensitive)."})
    state: str | None = field(
        default=None, metadata={"help": "Only candidates whose decision is now this.", "choices": DECISIONS}
    )

    def __post_init__(self):
        if self.state is not None and self.state not in DECISIONS:
            raise AdaptError(f"state must be one of {', '.join(DECISIONS)} (got {self.state!r})")

    def matches(self, c: VettedCandidate) -> bool:
        def at_least(value, bound):
            return bound is None or (value is not None and value >= bound)

        def at_most(value, bound):
            return bound is None or (value is not None and value <= bound)

        return (
            at_least(c.support, self.min_support)
            and at_most(c.support, self.max_support)
            and at_least(c.purity, self.min_purity)
            and at_least(c.mutual_info, self.min_mutual_info)
            and at_most(c.pplu, self.max_pplu)
            and (self.contains is None or self.contains.lower() in c.text.lower())
            and (self.state is None or c.decision == self.state)
        )


def _field_names() -> tuple[str, ...]:
    return tuple(f.name for f in fields(VettedCandidate))


def _field_spelling(names: Iterable[str], where: str) -> dict[str, str]:
    """{name as written: field} for a hand-made file's column or key names. Case and spaces around a name do not
    matter ("Decision"); a name close to a field's but not it ("decison") is refused, since the field would
    otherwise be missed without a word (a misspelt decision column reads as "all accepted"). Other names are
    extra columns, which a hand-made list may have, and are ignored."""
    import difflib

    known, out = _field_names(), {}
    for name in names:
        plain = str(name).strip().lower()
        if plain in known:
            out[name] = plain
        elif close := difflib.get_close_matches(plain, known, n=1, cutoff=0.85):
            raise AdaptError(f"{where} {name!r} is not a vetted-list field: did you mean {close[0]!r}? Rename it")
    return out


def _row(c: VettedCandidate, names: tuple[str, ...]) -> dict:
    """A candidate's fields as a dict: `asdict` without its deep copy (the fields are strings, numbers and
    tuples of them), which the table and the file need on every decision."""
    return {name: getattr(c, name) for name in names}


def _key(text: str) -> str:
    return " ".join(text.split())


@dataclass
class VettedList:
    """Candidates in display order (the miner's / PPLu order), with the task's label names when known."""

    candidates: list[VettedCandidate] = field(default_factory=list)
    label_names: list[str] | None = None

    def __post_init__(self):
        keys = [_key(c.text) for c in self.candidates]
        if len(set(keys)) != len(keys):
            dup = next(k for k in keys if keys.count(k) > 1)
            raise AdaptError(f"the candidate {dup!r} appears twice: keep one row per candidate")

    def __len__(self) -> int:
        return len(self.candidates)

    def __iter__(self):
        return iter(self.candidates)

    def get(self, text: str) -> VettedCandidate | None:
        key = _key(text)
        return next((c for c in self.candidates if _key(c.text) == key), None)

    # -------------------------------------------------------------------------------------------- decisions

    def decide(
        self, texts: str | Iterable[str], decision: str, reason: str | None = None, by: str | None = None
    ) -> int:
        """Set the decision (and reason) of the named candidates, recording `by` whom and now as when on each one
        that changes; returns how many changed."""
        if decision not in DECISIONS:
            raise AdaptError(f"decision must be one of {', '.join(DECISIONS)} (got {decision!r})")
        texts = [texts] if isinstance(texts, str) else list(texts)
        found = {_key(c.text): c for c in self.candidates}
        missing = [t for t in texts if _key(t) not in found]
        if missing:
            raise AdaptError(f"{missing[0]!r} is not a candidate in this list: check the spelling or add() it")
        changed, at = 0, now()
        for t in texts:
            c = found[_key(t)]
            if (c.decision, c.reason) != (decision, reason):
                changed += 1
                c.decision, c.reason, c.decided_by, c.decided_at = decision, reason, by, at
        return changed

    def where(
        self, where: CandidateFilter | Callable[[VettedCandidate], bool] | None = None, **conditions
    ) -> list[str]:
        """Texts of the candidates matching a filter, a predicate, or CandidateFilter keyword conditions."""
        if where is None:
            where = CandidateFilter(**conditions)
        elif conditions:
            raise TypeError("give either a filter/predicate or keyword conditions, not both")
        test = where.matches if isinstance(where, CandidateFilter) else where
        return [c.text for c in self.candidates if test(c)]

    def decide_where(
        self, decision: str, where=None, reason: str | None = None, by: str | None = None, **conditions
    ) -> int:
        """Bulk decision over `where(...)` (e.g. `decide_where("rejected", max_support=4, reason="rare")`)."""
        return self.decide(self.where(where, **conditions), decision, reason, by)

    def add(
        self, text: str, decision: str = "accepted", reason: str | None = None, by: str | None = None
    ) -> VettedCandidate:
        """A hand-written candidate (no statistics), or a new decision on an existing one."""
        if self.get(text) is None:
            self.candidates.append(VettedCandidate(_key(text), decision=decision, reason=reason))
            self.candidates[-1].decided_by, self.candidates[-1].decided_at = by, now()
        self.decide(text, decision, reason, by)
        return self.get(text)

    def accepted(self) -> list[str]:
        """Surface strings of the accepted candidates, in list order: what `tokens.augment` takes."""
        return [c.text for c in self.candidates if c.decision == "accepted"]

    def counts(self) -> dict[str, int]:
        return {d: sum(c.decision == d for c in self.candidates) for d in DECISIONS}

    # -------------------------------------------------------------------------------------------- tables and files

    def to_frame(self) -> pd.DataFrame:
        """One row per candidate; list columns as tuples, plus `support:<label>` columns when labels are known."""
        names = _field_names()
        df = pd.DataFrame([_row(c, names) for c in self.candidates], columns=list(names))
        per_class = {  # built at once: one column at a time is slow with many classes (the table redraws per click)
            _CLASS_PREFIX + name: [
                c.class_support[k] if c.class_support and k < len(c.class_support) else None for c in self.candidates
            ]
            for k, name in enumerate(self.label_names or [])
        }
        return pd.concat([df, pd.DataFrame(per_class, index=df.index)], axis=1) if per_class else df

    def to_dict(self) -> dict:
        names = _field_names()
        return {"version": 1, "label_names": self.label_names, "candidates": [_row(c, names) for c in self.candidates]}

    @classmethod
    def from_dict(cls, d: dict) -> VettedList:
        rows = d.get("candidates")
        if not isinstance(rows, list):
            raise AdaptError("a vetted list needs a 'candidates' list")
        return cls([_candidate(row, i) for i, row in enumerate(rows)], d.get("label_names"))

    def save(self, path: str | Path) -> Path:
        """Write JSON or CSV (by suffix) atomically: a temporary file beside the target, then a rename."""
        path = Path(path)
        if path.suffix.lower() == ".json":
            text = json.dumps(self.to_dict(), indent=1, ensure_ascii=False)
        elif path.suffix.lower() == ".csv":
            text = _to_csv(self)
        else:
            raise AdaptError(f"save the vetted list as .json or .csv (got {path.name})")
        return atomic_write_text(path, text)


def _candidate(row, index: int, default_decision: str = "pending") -> VettedCandidate:
    """A candidate from a JSON entry: a string (accepted) or an object with at least a "text"."""
    if isinstance(row, str):
        return VettedCandidate(row, decision="accepted")
    if isinstance(row, dict):
        row = {field: row[name] for name, field in _field_spelling(row, f"entry {index + 1}: field").items()}
    if not isinstance(row, dict) or "text" not in row:
        raise AdaptError(f"entry {index + 1} is neither a string nor an object with a 'text': fix the file")
    try:
        return VettedCandidate.from_dict({"decision": default_decision} | row)
    except (TypeError, ValueError) as err:
        raise AdaptError(f"entry {index + 1} ({row.get('text')!r}) is malformed: {err}") from None


def merge_decisions(existing: VettedList, remined: VettedList) -> VettedList:
    """`remined` with the decisions and reasons of `existing` carried over; decided candidates that were not found
    again are kept at the end, so re-mining never loses a person's work."""
    old = {_key(c.text): c for c in existing}
    merged = [replace(c, **decision_of(old[_key(c.text)])) if _key(c.text) in old else replace(c) for c in remined]
    found = {_key(c.text) for c in remined}
    merged += [replace(c) for c in existing if c.decision != "pending" and _key(c.text) not in found]
    return VettedList(merged, remined.label_names or existing.label_names)


def import_decisions(current: VettedList, imported: VettedList, by: str | None) -> tuple[VettedList, list[str]]:
    """`current` with the decisions a person made in `imported` (a colleague's export, a hand-made file) applied.
    Only its accepted and rejected candidates count, so an older export's pending rows never undo a decision made
    here since; its decided candidates missing here are added at the end; into an empty list the whole file comes.
    A decision keeps who made it and when as the file says; one the file does not attribute is stamped `by` and
    now. Returns the list and the texts that changed (an undo step's)."""
    if len(current):
        decided = VettedList([replace(c) for c in imported if c.decision != "pending"], imported.label_names)
        merged = merge_decisions(decided, current)
    else:
        merged = VettedList([replace(c) for c in imported], imported.label_names)
    changed = [c.text for c in merged if (old := current.get(c.text)) is None or decision_of(old) != decision_of(c)]
    at = now()
    for c in map(merged.get, changed):
        if c.decision != "pending" and c.decided_by is None and c.decided_at is None:
            c.decided_by, c.decided_at = by, at
    return merged, changed


# ----------------------------------------------------------------------------------------------------- CSV


def _to_csv(vetted: VettedList) -> str:
    df = vetted.to_frame()
    for col in _LIST_COLUMNS:
        df[col] = [" ".join(map(str, v)) if v else "" for v in df[col]]
    df["examples"] = [json.dumps(list(v), ensure_ascii=False) if v else "" for v in df["examples"]]
    return df.to_csv(index=False)


def _read_csv(path: Path) -> VettedList:
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise AdaptError(f"cannot read {path} as CSV ({err}): save it as UTF-8 CSV with a header row") from None
    named = [c for c in df.columns if not c.startswith(_CLASS_PREFIX)]
    df = df.rename(columns=_field_spelling(named, f"{path}: column"))
    if "text" not in df.columns:
        raise AdaptError(f"{path} has no 'text' column (columns: {', '.join(df.columns) or 'none'}): add one")
    default = "pending" if "decision" in df.columns else "accepted"  # a hand-made list of tokens: all accepted
    labels = [c[len(_CLASS_PREFIX) :] for c in df.columns if c.startswith(_CLASS_PREFIX)]
    rows = [_csv_row(row, i, default) for i, row in enumerate(df.to_dict("records"))]
    return VettedList([_candidate(r, i) for i, r in enumerate(rows)], labels or None)


def _csv_row(row: dict, index: int, default: str) -> dict:
    """Parse one CSV row's strings into candidate fields; errors name the line (header = line 1)."""
    out = {"text": row["text"], "decision": row.get("decision") or default, "reason": row.get("reason") or None}
    out |= {name: row.get(name) or None for name in ("decided_by", "decided_at")}  # absent in older files
    try:
        for col in _LIST_COLUMNS:
            if row.get(col):
                out[col] = tuple(int(v) for v in row[col].split())
        if row.get("support"):
            out["support"] = int(float(row["support"]))
        for col in ("purity", "mutual_info", "pplu"):
            if row.get(col):
                out[col] = float(row[col])
        if row.get("examples"):
            out["examples"] = tuple(json.loads(row["examples"]))
    except ValueError as err:
        raise AdaptError(f"line {index + 2} ({row['text']!r}) has a malformed value: {err}") from None
    if out["decision"] not in DECISIONS:
        raise AdaptError(
            f"line {index + 2} ({row['text']!r}): decision {out['decision']!r} is not one of {', '.join(DECISIONS)}"
        )
    return out


def load_vetted(path: str | Path) -> VettedList:
    """A vetted list from .json, .csv or .txt (see the module docstring); AdaptError says what to fix."""
    path = Path(path)
    if not path.is_file():
        raise AdaptError(f"vetted token file {path} not found: check the path")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _read_csv(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AdaptError(f"{path} is not UTF-8 text: save it as UTF-8") from None
    if suffix == ".txt":
        lines = [line.strip() for line in text.splitlines()]
        return VettedList(
            [
                VettedCandidate(t, decision="accepted")
                for t in dict.fromkeys(t for t in lines if t and not t.startswith("#"))
            ]
        )
    if suffix != ".json":
        raise AdaptError(f"{path.name}: vetted token files are .json, .csv or .txt")
    try:
        data = json.loads(text)
    except ValueError as err:
        raise AdaptError(f"{path} is not valid JSON ({err}): fix it or save the list again") from None
    if isinstance(data, list):
        return VettedList([_candidate(row, i, "accepted") for i, row in enumerate(data)])
    if isinstance(data, dict):
        return VettedList.from_dict(data)
    raise AdaptError(f"{path} must hold a JSON object (a saved list) or a list of token strings")
