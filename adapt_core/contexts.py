"""Keyword in context (KWIC): a candidate token read where it occurs in the training texts, grouped by class.

A domain expert decides on a candidate from its usage, not from a count: "my card" in "I lost my card" and in
"my card was declined" says it is spread over classes; "disposable virtual card" in three lines of one class says
it names a product. `keyword_in_context` finds every occurrence of the candidate's surface text (the same text an
added token must match: `candidates` builds it from the original texts' character offsets), counts the texts per
class that hold it, and keeps at most `per_class` lines per class, each with a few words either side.
`align` writes a line with the candidate in a fixed column, for a monospace view.

The search is one compiled regular expression per candidate over the texts: case-insensitive (the models' tokenizers
mostly lowercase; a cased model's candidate still reads fine), any run of whitespace between its words, and word
boundaries at its ends where it starts or ends with a letter or digit (so "card" does not match "cardholder").
On 10k short texts it takes milliseconds; only the kept lines are cut into words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from adapt_core.errors import AdaptError

PER_CLASS = 5  # context lines kept per class by default: enough to see the usage, few enough to read
WIDTH = 6  # words of context kept on either side
_SCAN = 40  # characters looked at per word of context: bounds the work on very long texts


@dataclass(frozen=True)
class ContextLine:
    """One occurrence: up to `width` words before, the matched text as written, up to `width` words after."""

    left: str
    match: str
    right: str
    text_index: int  # position of the text in the corpus searched


@dataclass(frozen=True)
class ClassContexts:
    """The occurrences in one class: how many texts and occurrences there are, and the first lines found."""

    label: int
    name: str
    texts: int  # texts of this class holding the candidate at least once
    occurrences: int
    lines: tuple[ContextLine, ...]  # at most `per_class`, in corpus order


def candidate_pattern(candidate: str) -> re.Pattern:
    """The regex that finds `candidate` in running text (see the module docstring)."""
    words = candidate.split()
    if not words:
        raise AdaptError("the candidate is empty: pick one from the table")
    body = r"\s+".join(re.escape(w) for w in words)
    start = r"(?<!\w)" if re.match(r"\w", words[0]) else ""
    end = r"(?!\w)" if re.search(r"\w$", words[-1]) else ""
    return re.compile(start + body + end, re.IGNORECASE)


def _context(text: str, start: int, end: int, width: int) -> tuple[str, str]:
    reach = width * _SCAN
    before = text[max(0, start - reach) : start].split()[-width:] if width else []
    after = text[end : end + reach].split()[:width] if width else []
    return " ".join(before), " ".join(after)


def keyword_in_context(
    candidate: str,
    texts: Sequence[str],
    labels: Sequence[int],
    label_names: Sequence[str] | None = None,
    per_class: int = PER_CLASS,
    width: int = WIDTH,
) -> list[ClassContexts]:
    """The classes whose texts hold `candidate`, most texts first (ties: label order), each with its counts and at
    most `per_class` context lines of `width` words a side."""
    if len(texts) != len(labels):
        raise AdaptError(f"{len(texts)} texts but {len(labels)} labels: give one label per text")
    if per_class < 0 or width < 0:
        raise AdaptError("per_class and width must be at least 0")
    pattern = candidate_pattern(candidate)
    found: dict[int, dict] = {}
    for index, (text, label) in enumerate(zip(texts, labels, strict=True)):
        matches = list(pattern.finditer(text))
        if not matches:
            continue
        group = found.setdefault(int(label), {"texts": 0, "occurrences": 0, "lines": []})
        group["texts"] += 1
        group["occurrences"] += len(matches)
        for m in matches[: per_class - len(group["lines"])]:  # only the kept lines are cut into words
            left, right = _context(text, m.start(), m.end(), width)
            group["lines"].append(ContextLine(left, m.group(0), right, index))
    names = list(label_names or [])
    out = [
        ClassContexts(
            label, names[label] if label < len(names) else str(label), g["texts"], g["occurrences"], tuple(g["lines"])
        )
        for label, g in found.items()
    ]
    return sorted(out, key=lambda c: (-c.texts, c.label))


def align(line: ContextLine, side: int = 48) -> str:
    """`line` as one string with the match starting at column `side` + 1: the left context right-aligned (cut at
    its start with "…" when longer), the right context cut at its end the same way."""
    left = line.left if len(line.left) <= side - 1 else "…" + line.left[-(side - 2) :]
    right = line.right if len(line.right) <= side - 1 else line.right[: side - 2] + "…"
    return f"{left:>{side - 1}} {line.match} {right}".rstrip()
