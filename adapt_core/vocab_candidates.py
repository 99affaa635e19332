"""Which mined patterns may become vocabulary: word-boundary, stop-word, punctuation and single-token filters.

A contiguous pattern from `mining.mine` is a run of tokenizer pieces. As a new token it must make sense as text: it
starts and ends on word boundaries (an added token also matches inside a longer word, so a pattern that is ever part
of a larger word would split it), it is not already one token, it is not only stop-words, punctuation or digits, and
it neither starts nor ends with punctuation ("card ?" is "card" plus a sentence's end, not a term). Word boundaries
are read from the tokenizer's own marks, so the filter works for WordPiece ("##" continues a word) and for byte-level
BPE / SentencePiece ("Ġ" / "▁" start one).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from adapt_core.bide import flatten
from adapt_core.errors import AdaptError
from adapt_core.mining import MiningResult, Pattern
from adapt_core.word_marks import WORD_MARKS, WORD_START_MARKS, WORDPIECE_CONTINUATION

# Function words only (not sklearn's list, which drops domain words such as "bill", "interest", "top" and "amount").
_STOP_WORD_TEXT = """a about above after again against all am an and any are aren as at be because been before being below between
    both but by can cannot could couldn d did didn do does doesn doing don down during each few for from further had
    hadn has hasn have haven having he her here hers herself him himself his how i if in into is isn it its itself
    just ll m me more most my myself no nor not now o of off on once only or other our ours ourselves out over own re
    s same she should shouldn so some such t than that the their theirs them themselves then there these they this
    those through to too under until up ve very was wasn we were weren what when where which while who whom why will
    with won would wouldn you your yours yourself yourselves"""
STOP_WORDS = frozenset(_STOP_WORD_TEXT.split())


@dataclass(frozen=True)
class Candidate:
    """A pattern that may become a new vocabulary entry: its surface text and the pattern's statistics."""

    text: str
    ids: tuple[int, ...]
    support: int
    boundary_share: float  # share of its occurrences that start and end on word boundaries
    class_support: tuple[int, ...] | None = None
    purity: float | None = None
    mutual_info: float | None = None
    examples: tuple[int, ...] = ()
    example_texts: tuple[str, ...] = ()


def _continuation_pieces(tokenizer) -> tuple[str | None, np.ndarray]:
    """The tokenizer's word mark and a (vocab,) bool: True where a piece continues the previous word."""
    pieces = [p or "" for p in tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))]
    counts = [sum(p.startswith(m) for p in pieces) for m in WORD_MARKS]
    if max(counts) == 0:
        return None, np.zeros(len(pieces), dtype=bool)  # no marks: every piece may start a word
    mark = WORD_MARKS[int(np.argmax(counts))]
    if mark == WORDPIECE_CONTINUATION:
        return mark, np.array([p.startswith(mark) for p in pieces])
    # With a word-start mark, an unmarked piece that starts with a letter or digit glues onto the word before it.
    return mark, np.array([not p.startswith(mark) and p[:1].isalnum() for p in pieces])


def _boundary_share(patterns: list[Pattern], sequences, continues: np.ndarray) -> np.ndarray:
    """Per pattern, the share of its occurrences whose first piece starts a word and whose next piece does too."""
    flat, offsets = flatten(sequences)
    seq = np.repeat(np.arange(len(sequences)), np.diff(offsets))
    cont = np.append(continues, False)[np.minimum(flat, len(continues))]  # unknown ids: not continuations
    cont = np.append(cont, False)  # one past the end: the corpus end is a boundary
    share = np.zeros(len(patterns))
    rng = np.random.default_rng(0)
    for n in sorted({len(p.ids) for p in patterns}):
        which = np.array([i for i, p in enumerate(patterns) if len(p.ids) == n])
        pats = np.array([patterns[i].ids for i in which], dtype=np.int64)  # (k, n)
        if len(flat) < n:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(flat, n)  # (N - n + 1, n), a view
        weights = rng.integers(1, 2**62, size=n, dtype=np.int64) | 1
        order = np.argsort(pats @ weights)  # hashes wrap modulo 2**64; matches are verified below
        sorted_hash = (pats @ weights)[order]
        h = windows @ weights
        loc = np.minimum(np.searchsorted(sorted_hash, h), len(order) - 1)
        pos = np.flatnonzero(sorted_hash[loc] == h)
        pat = order[loc[pos]]
        pos, pat = pos[(windows[pos] == pats[pat]).all(1)], pat[(windows[pos] == pats[pat]).all(1)]
        inside = pos + n <= offsets[1:][seq[pos]]
        pos, pat = pos[inside], pat[inside]
        clean = ((pos == offsets[:-1][seq[pos]]) | ~cont[pos]) & ((pos + n == offsets[1:][seq[pos]]) | ~cont[pos + n])
        total = np.bincount(pat, minlength=len(which))
        share[which] = np.bincount(pat, weights=clean, minlength=len(which)) / np.maximum(total, 1)
    return share


def _surface(tokenizer, ids: tuple[int, ...]) -> str:
    """Decoded pieces: only for callers without the texts and offsets (decoding spaces out "i ' d")."""
    return " ".join(tokenizer.decode(list(ids), skip_special_tokens=True).split())


_JOINERS = "'’-"  # characters that glue two words into one: a text span bounded by them is part of a longer word


def _find(seq: Sequence[int], ids: tuple[int, ...]) -> list[int]:
    """Start positions of `ids` inside `seq`."""
    n = len(ids)
    return [i for i in range(len(seq) - n + 1) if tuple(seq[i : i + n]) == ids]


def surface_from_text(
    ids: tuple[int, ...], rows: Sequence[int], sequences, offsets, texts: Sequence[str]
) -> tuple[str | None, bool]:
    """(surface text, glued) of a pattern from the original texts: the exact substring its pieces span (character
    offsets of the first and last piece), whitespace runs made single spaces; the most common spelling over the
    occurrences in `rows`. `glued` is True when an occurrence touches a letter, digit or joiner outside the span
    ("d like to" inside "i'd like to"): such a span is part of a longer word and cannot be a token of its own."""
    spellings: Counter = Counter()
    glued = False
    for row in rows:
        text, spans = texts[row], offsets[row]
        for start in _find(sequences[row], ids):
            begin, end = spans[start][0], spans[start + len(ids) - 1][1]
            span = text[begin:end]
            stripped = span.strip()
            begin += len(span) - len(span.lstrip())  # BPE offsets may include the space before a word
            end = begin + len(stripped)
            before, after = text[begin - 1 : begin], text[end : end + 1]
            glued |= any(c.isalnum() or c in _JOINERS for c in before + after)
            spellings[" ".join(stripped.split())] += 1
    if not spellings:
        return None, glued
    return spellings.most_common(1)[0][0], glued


def _is_single_token(tokenizer, text: str, mark: str | None) -> bool:
    variants = [text, " " + text] if mark in WORD_START_MARKS else [text]
    return any(len(tokenizer.encode(v, add_special_tokens=False)) <= 1 for v in variants)


def _punctuation_edge(text: str) -> bool:
    """True when the text starts or ends with punctuation ("card ?", "' s card"): a term plus a sentence's seam."""
    return not (text[0].isalnum() and text[-1].isalnum())


def _only_stop_words(text: str, stop_words: frozenset[str]) -> bool:
    words = re.findall(r"[^\W_]+", text.lower())
    return all(w in stop_words or w.isdigit() for w in words)  # True for punctuation only


def candidates(
    result: MiningResult,
    tokenizer,
    sequences: Sequence[Sequence[int]],
    min_boundary_share: float = 1.0,
    stop_words: frozenset[str] = STOP_WORDS,
    punctuation_edges: bool = False,
    texts: Sequence[str] | None = None,
    offsets: Sequence[Sequence[tuple[int, int]]] | None = None,
) -> list[Candidate]:
    """Vocabulary candidates among contiguous patterns mined from `sequences` with `tokenizer`: on word boundaries
    in at least `min_boundary_share` of their occurrences (1.0: all, since an added token also matches inside a
    longer word), free of special tokens, not already one token, not only stop-words, punctuation or digits, and
    (unless `punctuation_edges`) neither starting nor ending with punctuation. Two
    id sequences with the same text (BPE: "my card" at the start of a text and " my card" inside one) give one
    candidate, the more frequent one, with its own statistics. Order: the result's (support first).

    With `texts` and `offsets` (the tokenizer's `offset_mapping` of each sequence) a candidate's text is the exact
    substring of the texts it was mined from ("i'd like to", not the decoded "i ' d like to"), and a span glued to a
    longer word ("d like to" inside "i'd like to") is dropped; without them the pieces are decoded."""
    if result.config.mode != "contiguous":
        raise AdaptError("only contiguous patterns can become vocabulary: mine with mode='contiguous'")
    if result.n_sequences == 0:
        raise AdaptError("the corpus is empty: give at least one training text to mine vocabulary from")
    if len(sequences) != result.n_sequences:
        raise AdaptError(f"give the {result.n_sequences} sequences that were mined (got {len(sequences)})")
    mark, continues = _continuation_pieces(tokenizer)
    shares = _boundary_share(result.patterns, sequences, continues)
    special = set(tokenizer.all_special_ids)
    out, seen = [], set()
    for p, share in zip(result.patterns, shares, strict=True):
        if share < min_boundary_share or special.intersection(p.ids):
            continue
        if offsets is not None and texts is not None:
            rows = p.examples or [i for i, seq in enumerate(sequences) if _find(seq, p.ids)][:3]
            text, glued = surface_from_text(p.ids, rows, sequences, offsets, texts)
            if glued:
                continue
        else:
            text = _surface(tokenizer, p.ids)
        if not text or text in seen or _only_stop_words(text, stop_words):
            continue
        if not punctuation_edges and _punctuation_edge(text):
            continue
        # BPE spells a word differently at the start of a text: keep the most frequent spelling only.
        seen.add(text)
        if _is_single_token(tokenizer, text, mark):
            continue
        stats = {k: getattr(p, k) for k in ("class_support", "purity", "mutual_info", "examples", "example_texts")}
        out.append(Candidate(text, p.ids, p.support, float(share), **stats))
    return out
