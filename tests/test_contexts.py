"""Keyword in context on a corpus small enough to check by hand: which texts match (word-bounded, any case, any
whitespace), the counts and grouping per class, the bound on lines, the words kept either side and the alignment."""

from __future__ import annotations

import time

import pytest

from adapt_core.contexts import ContextLine, align, candidate_pattern, keyword_in_context
from adapt_core.errors import AdaptError

TEXTS = [
    "I lost my card yesterday",  # 0 lost: match
    "my card was declined at the shop",  # 1 declined: match
    "My  Card is gone and my card is dead",  # 2 lost: two matches (case, double space)
    "the cardholder name is wrong",  # 3 declined: no ("cardholder" is not "card")
    "please top up my card now",  # 4 declined: match
    "nothing here",  # 5 lost
]
LABELS = [0, 1, 0, 1, 1, 0]
NAMES = ["lost", "declined"]


def test_groups_counts_and_lines_by_class():
    groups = keyword_in_context("my card", TEXTS, LABELS, NAMES, per_class=5, width=2)
    # declined: texts 1 and 4 (2 texts, 2 occurrences); lost: texts 0 and 2 (2 texts, 3 occurrences); ties by label
    assert [(g.name, g.texts, g.occurrences) for g in groups] == [("lost", 2, 3), ("declined", 2, 2)]
    lost = groups[0].lines
    assert [(line.left, line.match, line.right, line.text_index) for line in lost] == [
        ("I lost", "my card", "yesterday", 0),
        ("", "My  Card", "is gone", 2),
        ("gone and", "my card", "is dead", 2),
    ]
    assert [line.text_index for line in groups[1].lines] == [1, 4]


def test_most_texts_first_and_word_boundaries():
    groups = keyword_in_context("card", TEXTS, LABELS, NAMES)
    assert [(g.name, g.texts) for g in groups] == [("lost", 2), ("declined", 2)]  # text 3's "cardholder" is out
    assert candidate_pattern("card").search("cardholder") is None
    assert candidate_pattern("top-up").search("a top-up please").group(0) == "top-up"
    only = keyword_in_context("top up", TEXTS, LABELS, NAMES)
    assert [(g.name, g.texts, g.occurrences) for g in only] == [("declined", 1, 1)]


def test_lines_are_bounded_but_counts_are_not():
    texts = ["my card again my card"] * 30 + ["a card"] * 3
    labels = [0] * 30 + [1] * 3
    groups = keyword_in_context("card", texts, labels, per_class=4)
    assert (groups[0].texts, groups[0].occurrences, len(groups[0].lines)) == (30, 60, 4)
    assert (groups[1].texts, len(groups[1].lines)) == (3, 3)
    assert groups[1].name == "1"  # no names: the label number
    assert keyword_in_context("card", texts, labels, per_class=0)[0].lines == ()


def test_align_puts_every_match_in_one_column():
    lines = [
        ContextLine("I lost", "my card", "yesterday", 0),
        ContextLine("", "my card", "was declined", 1),
        ContextLine("x" * 80, "my card", "y" * 80, 2),
    ]
    out = [align(line, side=20) for line in lines]
    assert all(row.index("my card") == 20 for row in out), out
    assert out[0] == " " * 13 + "I lost my card yesterday"  # 19 columns, then a space
    assert out[2].startswith("…" + "x" * 18 + " my card ") and out[2].endswith("y" * 18 + "…")


def test_bad_input_says_what_to_fix():
    with pytest.raises(AdaptError, match="one label per text"):
        keyword_in_context("card", ["a card"], [0, 1])
    with pytest.raises(AdaptError, match="empty"):
        keyword_in_context("  ", ["a card"], [0])


def test_fast_on_ten_thousand_texts():
    texts = [f"text {i} about my card number {i % 97} and other words around it" for i in range(10_000)]
    labels = [i % 7 for i in range(10_000)]
    start = time.perf_counter()
    groups = keyword_in_context("my card", texts, labels, per_class=5)
    elapsed = time.perf_counter() - start
    assert sum(g.texts for g in groups) == 10_000 and all(len(g.lines) == 5 for g in groups)
    assert elapsed < 2.0, f"{elapsed:.2f} s for 10k texts"
