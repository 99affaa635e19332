"""Mining frequent closed token sequences from a tokenized corpus, with per-class statistics and vocabulary filters.

The database is one sequence of token ids per training example (special tokens out); the support of a pattern is the
number of sequences that contain it (DESIGN §3). Two modes:

- `contiguous` (the default, and the only mode whose patterns may become vocabulary): closed frequent n-grams,
  `min_len <= n <= max_len`. Closed = no one-token extension to the left or right has the same support; closure is
  judged against extensions even when they are longer than `max_len`, so the set equals "closed substrings, then keep
  those of length <= max_len". Counting is level by level with numpy: every frequent n-gram gets an integer id, an
  (n+1)-gram is the pair (id of its first n tokens, id of its last n tokens), and only positions where both halves
  are frequent are looked at (apriori growth).
- `gapped`: BIDE closed sequential patterns with gaps (`adapt_core.bide`), the same set SPMF's BIDE+ returns. These
  are "token groups" to look at and export, never vocabulary.

With labels, every pattern gets its support per class, its class purity (largest class support / support) and the
mutual information, in nats over all sequences, between "contains the pattern" and the label.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from adapt_core.bide import TooManyPatterns, flatten, mine_closed_flat
from adapt_core.errors import AdaptError

if TYPE_CHECKING:
    import pandas as pd

MODES = ("contiguous", "gapped")


@dataclass(frozen=True)
class MiningConfig:
    """What to mine. `min_support` below 1 is a fraction of the sequences, resolved as ceil(fraction × n) as SPMF
    does and then raised to `support_floor` (3 gives DESIGN's max(3, 0.5 %) default); 1 or more is an exact count."""

    mode: str = field(
        default="contiguous",
        metadata={"help": "contiguous: closed n-grams (vocabulary candidates); gapped: BIDE patterns with gaps."},
    )
    min_support: float = field(
        default=0.005,
        metadata={"help": "Minimum number of sequences containing a pattern: a fraction (< 1) or a count (>= 1)."},
    )
    support_floor: int = field(
        default=3, metadata={"help": "Smallest support a fractional min_support may resolve to."}
    )
    min_len: int = field(default=2, metadata={"help": "Shortest pattern reported, in tokens."})
    max_len: int = field(default=6, metadata={"help": "Longest pattern reported, in tokens."})
    max_examples: int = field(default=3, metadata={"help": "Example sequences kept per pattern."})
    max_patterns: int | None = field(
        default=200_000,
        metadata={"help": "gapped: stop with an error past this many closed patterns (empty: no limit)."},
    )

    def __post_init__(self):
        if self.mode not in MODES:
            raise AdaptError(f"mode must be one of {', '.join(MODES)} (got {self.mode!r})")
        support = self.min_support
        if not isinstance(support, numbers.Real) or isinstance(support, bool) or not support > 0:
            raise AdaptError(f"min_support must be a fraction in (0, 1) or a count >= 1 (got {support!r})")
        if support >= 1 and support != int(support):
            raise AdaptError(f"min_support of 1 or more is a count of sequences and must be whole (got {support})")
        if self.support_floor < 1:
            raise AdaptError(f"support_floor must be at least 1 (got {self.support_floor})")
        if self.min_len < 1 or self.max_len < 1:
            raise AdaptError(f"min_len and max_len must be at least 1 (got {self.min_len}, {self.max_len})")
        if self.max_len < self.min_len:
            raise AdaptError(f"max_len ({self.max_len}) is below min_len ({self.min_len}): raise max_len")
        if self.max_patterns is not None and self.max_patterns < 1:
            raise AdaptError(f"max_patterns must be at least 1 or empty (got {self.max_patterns})")
        if self.max_examples < 0:
            raise AdaptError(f"max_examples must be 0 or more (got {self.max_examples})")

    def resolve_min_support(self, n_sequences: int) -> int:
        """The absolute support count used on a corpus of `n_sequences` sequences."""
        if self.min_support >= 1:
            return int(self.min_support)
        return max(self.support_floor, math.ceil(self.min_support * n_sequences))


@dataclass(frozen=True)
class Pattern:
    """A closed pattern: token ids, support, and (labelled corpora) its class statistics."""

    ids: tuple[int, ...]
    support: int
    class_support: tuple[int, ...] | None = None
    purity: float | None = None
    mutual_info: float | None = None
    examples: tuple[int, ...] = ()  # indices of example sequences
    example_texts: tuple[str, ...] = ()  # their texts, when mine() was given texts


@dataclass
class MiningResult:
    """Patterns sorted by support (then longer first, then ids), with the config and corpus size they came from."""

    patterns: list[Pattern]
    config: MiningConfig
    n_sequences: int
    min_count: int  # the resolved absolute minimum support
    num_classes: int | None = None

    def __len__(self) -> int:
        return len(self.patterns)

    def to_frame(self) -> pd.DataFrame:
        """One row per pattern: ids, length, support, share of sequences, class statistics, examples."""
        import pandas as pd  # here, so that mining (and the CLI) does not pay for pandas unless a table is asked for

        rows = [
            {
                "ids": p.ids,
                "length": len(p.ids),
                "support": p.support,
                "share": p.support / max(self.n_sequences, 1),
                "purity": p.purity,
                "mutual_info": p.mutual_info,
                "class_support": p.class_support,
                "examples": p.example_texts or p.examples,
            }
            for p in self.patterns
        ]
        columns = ["ids", "length", "support", "share", "purity", "mutual_info", "class_support", "examples"]
        return pd.DataFrame(rows, columns=columns)

    def to_dict(self) -> dict:
        return {
            "patterns": [asdict(p) for p in self.patterns],
            "config": asdict(self.config),
            "n_sequences": self.n_sequences,
            "min_count": self.min_count,
            "num_classes": self.num_classes,
        }

    @classmethod
    def from_dict(cls, d: dict) -> MiningResult:
        def pattern(p: dict) -> Pattern:
            tuples = {k: tuple(v) for k, v in p.items() if isinstance(v, list)}
            return Pattern(**(p | tuples))

        return cls(
            [pattern(p) for p in d["patterns"]],
            MiningConfig(**d["config"]),
            d["n_sequences"],
            d["min_count"],
            d.get("num_classes"),
        )


# ------------------------------------------------------------------------------------------------- contiguous


class _Level(NamedTuple):
    """The frequent n-grams of one length: ids by start position, supports, (id, sequence) pairs, first starts."""

    cur: np.ndarray  # (N,) id of the frequent n-gram starting at each position, -1 where none
    support: np.ndarray  # (M,) number of sequences containing each
    pairs: np.ndarray  # sorted keys id * n_seq + sequence, one per (n-gram, sequence containing it)
    first: np.ndarray  # (M,) first start position of each


def _level(key, pos, seq, n_seq: int, minsup: int, key_bound: int) -> _Level:
    """Group candidate start positions `pos` by n-gram `key` (< key_bound) and keep the frequent n-grams.

    Sorting (key, position) pairs lines up each n-gram's occurrences in position order, hence by sequence, so
    document support is a count of (key, sequence) changes: no second sort. np.sort on packed int64 values is far
    faster than an argsort; packing is used whenever it cannot overflow."""
    n_tok = len(seq)
    if key_bound * max(n_tok, 1) < 2**62:
        packed = np.sort(key * n_tok + pos)
        key, pos = packed // n_tok, packed % n_tok
    else:
        order = np.argsort(key, kind="stable")
        key, pos = key[order], pos[order]
    sq = seq[pos]
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    ids = np.cumsum(new) - 1
    new_pair = new.copy()
    new_pair[1:] |= sq[1:] != sq[:-1]
    support = np.bincount(ids[new_pair], minlength=int(new.sum()))
    frequent = support >= minsup
    renumber = np.cumsum(frequent) - 1
    keep = frequent[ids]
    cur = np.full(n_tok, -1, dtype=np.int64)
    cur[pos[keep]] = renumber[ids[keep]]
    pair = new_pair & keep
    return _Level(cur, support[frequent], renumber[ids[pair]] * n_seq + sq[pair], pos[new & keep])


def _closed_ngrams(flat: np.ndarray, offsets: np.ndarray, minsup: int, min_len: int, max_len: int):
    """Closed frequent n-grams: list of (ids, support) and their distinct (pattern index, sequence) pairs.

    An (n+1)-gram is the pair (id of its first n tokens, id of its last n tokens), counted only where both halves
    are frequent (apriori growth); an n-gram is closed unless an (n+1)-gram it starts or ends has its support."""
    n_seq, n_tok = len(offsets) - 1, len(flat)
    seq = np.repeat(np.arange(n_seq), np.diff(offsets))
    end_of = offsets[1:][seq]  # (N,) end of each position's sequence
    level = _level(flat, np.arange(n_tok), seq, n_seq, minsup, int(flat.max(initial=0)) + 1)
    found, found_pairs = [], []
    for n in range(1, max_len + 1):
        if len(level.support) == 0:
            break
        cur, width = level.cur, len(level.support)
        pos = np.flatnonzero(cur[:-1] >= 0)
        pos = pos[(pos + n < end_of[pos]) & (cur[pos + 1] >= 0)]  # fits in its sequence; both halves frequent
        nxt = _level(cur[pos] * width + cur[pos + 1], pos, seq, n_seq, minsup, width * width)
        closed = np.ones(width, dtype=bool)
        at = np.flatnonzero(nxt.cur >= 0)
        for half in (cur[at], cur[at + 1]):  # an extension with the same support closes the shorter n-gram
            closed[half[nxt.support[nxt.cur[at]] == level.support[half]]] = False
        if n >= min_len:
            _collect(found, found_pairs, flat, n, level, closed, n_seq)
        level = nxt
    return found, found_pairs


def _collect(found, found_pairs, flat, n: int, level: _Level, closed: np.ndarray, n_seq: int) -> None:
    """Append the closed n-grams of one level and their (pattern index, sequence) pairs, renumbered."""
    ids = np.flatnonzero(closed)
    index = np.full(len(closed), -1, dtype=np.int64)
    index[ids] = np.arange(len(found), len(found) + len(ids))
    for i in ids:
        start = level.first[i]
        found.append((tuple(int(t) for t in flat[start : start + n]), int(level.support[i])))
    keep = closed[level.pairs // n_seq]
    found_pairs.append(index[level.pairs[keep] // n_seq] * n_seq + level.pairs[keep] % n_seq)


# ------------------------------------------------------------------------------------------------- statistics


def _mutual_info(class_support: np.ndarray, class_total: np.ndarray, n: int) -> np.ndarray:
    """MI in nats between "contains the pattern" and the label; class_support (P, C), class_total (C,)."""
    n1 = class_support.sum(1, keepdims=True)
    mi = np.zeros(len(class_support))
    for joint, marginal in ((class_support, n1), (class_total[None, :] - class_support, n - n1)):
        with np.errstate(divide="ignore", invalid="ignore"):
            term = joint / n * np.log(joint * n / (marginal * class_total[None, :]))
        mi += np.where(joint > 0, term, 0.0).sum(1)
    return np.maximum(mi, 0.0)  # rounding can leave -1e-17 for an independent pattern


def _patterns(found, pattern_of, seq_of, labels, num_classes, config, texts) -> list[Pattern]:
    """Pattern objects from (ids, support) and the sorted (pattern index, sequence) pairs of each."""
    n_pat = len(found)
    if n_pat == 0:
        return []
    starts = np.searchsorted(pattern_of, np.arange(n_pat + 1))
    rank = np.arange(len(pattern_of)) - starts[pattern_of]
    chosen = rank < config.max_examples
    examples = np.split(seq_of[chosen], np.cumsum(np.minimum(np.diff(starts), config.max_examples))[:-1])
    stats = [(None, None, None)] * n_pat
    if labels is not None:
        counts = np.bincount(pattern_of * num_classes + labels[seq_of], minlength=n_pat * num_classes)
        counts = counts.reshape(n_pat, num_classes)
        mi = _mutual_info(counts, np.bincount(labels, minlength=num_classes), len(labels))
        purity = counts.max(1) / np.maximum(counts.sum(1), 1)
        stats = [(tuple(int(c) for c in row), float(p), float(m)) for row, p, m in zip(counts, purity, mi, strict=True)]
    out = []
    for (ids, support), ex, (class_support, purity, mi) in zip(found, examples, stats, strict=True):
        ex = tuple(int(i) for i in ex)
        ex_texts = tuple(texts[i] for i in ex) if texts is not None else ()
        out.append(Pattern(ids, support, class_support, purity, mi, ex, ex_texts))
    out.sort(key=lambda p: (-p.support, -len(p.ids), p.ids))
    return out


# ------------------------------------------------------------------------------------------------------ mining


def _check_inputs(sequences, labels, texts, num_classes):
    n = len(sequences)
    for name, values in (("labels", labels), ("texts", texts)):
        if values is not None and len(values) != n:
            raise AdaptError(f"{name} has {len(values)} entries but there are {n} sequences: give one per sequence")
    if labels is None:
        return None, None
    labels = np.asarray(labels, dtype=np.int64)
    if n and labels.min() < 0:
        raise AdaptError("labels must be class indices 0, 1, …; found a negative label")
    needed = int(labels.max()) + 1 if n else 0
    if num_classes is not None and num_classes < needed:
        raise AdaptError(f"num_classes is {num_classes} but a label is {needed - 1}: raise num_classes")
    return labels, max(num_classes or 0, needed, 1)


def _flatten_ids(sequences) -> tuple[np.ndarray, np.ndarray]:
    """Flatten, checking that every token id is a non-negative integer."""
    try:
        flat, offsets = flatten(sequences)
    except (TypeError, ValueError, OverflowError) as err:
        raise AdaptError(f"sequences must be lists of integer token ids ({err})") from None
    if len(flat) and flat.min() < 0:
        raise AdaptError(f"token ids must be non-negative (found {int(flat.min())}); map them to 0, 1, … first")
    return flat, offsets


def mine(
    sequences: Sequence[Sequence[int]],
    config: MiningConfig,
    labels: Sequence[int] | None = None,
    texts: Sequence[str] | None = None,
    num_classes: int | None = None,
) -> MiningResult:
    """Closed frequent patterns of `sequences` (token ids >= 0) in `config.mode`, with class statistics when
    `labels` are given and example texts when `texts` are. An empty corpus gives an empty result."""
    labels_arr, n_classes = _check_inputs(sequences, labels, texts, num_classes)
    n = len(sequences)
    minsup = config.resolve_min_support(n)
    if n == 0:
        return MiningResult([], config, 0, minsup, n_classes)
    flat, offsets = _flatten_ids(sequences)
    if config.mode == "contiguous":
        found, pairs = _closed_ngrams(flat, offsets, minsup, config.min_len, config.max_len)
        pairs = np.concatenate(pairs) if pairs else np.empty(0, dtype=np.int64)
        pattern_of, seq_of = pairs // n, pairs % n
    else:
        try:
            gapped = mine_closed_flat(flat, offsets, minsup, config.min_len, config.max_len, config.max_patterns)
        except TooManyPatterns as err:
            raise AdaptError(
                f"gapped mining found more than {err.limit:,} closed patterns at support {minsup} of {n} "
                "sequences: raise min_support or lower max_len (or raise max_patterns if you mean it)"
            ) from None
        found = [(p.items, p.support) for p in gapped]
        pattern_of = np.repeat(np.arange(len(gapped)), [p.support for p in gapped]).astype(np.int64)
        seq_of = np.concatenate([p.sequences for p in gapped]) if gapped else np.empty(0, dtype=np.int64)
    patterns = _patterns(found, pattern_of, seq_of, labels_arr, n_classes, config, texts)
    return MiningResult(patterns, config, n, minsup, n_classes)
