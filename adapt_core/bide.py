"""Closed sequential patterns with gaps (BIDE, Wang & Han 2004), vectorised with numpy.

`mine_closed_gapped` returns every closed frequent sequential pattern of a database of integer sequences: support is
the number of sequences that contain the pattern as a subsequence (gaps allowed), and a pattern is closed when no
super-sequence has the same support. It returns exactly the set SPMF's BIDE+ returns (the tests check that, supports
included). Python loops over pattern *lengths* and memory-bounded chunks, never over patterns or items:

- the database is one flat array of item indices (infrequent items dropped: they can be in no frequent pattern, so
  no closure check can need them), with `prev[q]`, the previous position of the same item in the same sequence; a
  position q in the window (lo, hi) is the first occurrence of its item there iff `prev[q] <= lo`, which counts every
  (sequence, item) pair once without sorting;
- the search is depth first over *batches*: all children of a batch of same-length prefix patterns are expanded
  together. One ragged scan over every child's pseudo-projected suffixes gives every grandchild's support (the
  children's forward-extension check and the next batch); the BIDE backward checks (BackScan pruning over
  semi-maximum periods, backward extension over maximum periods) are one ragged scan per batch too, and "last
  occurrence of item e before x" is a `searchsorted` over one sorted array of keys `item * N + position`.

`max_len` bounds the patterns reported and explored, but closure is always judged against all super-sequences, even
longer than `max_len`: a pattern of length `max_len` whose one-item extension has the same support is not reported.
(SPMF's own max-length option skips the forward check at the bound and so also reports such patterns.)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

# Dense counting (np.bincount over every possible key) is used when the key space is at most this many times the
# number of keys counted; otherwise np.unique (a sort) is cheaper in memory and time.
_DENSE_FACTOR = 4
# Children are expanded in chunks whose scans touch at most about this many positions (bounds memory: a few int64
# arrays of this length), so a large corpus is mined in pieces instead of one huge step.
_SCAN_BUDGET = 1 << 20


@dataclass(frozen=True)
class GappedPattern:
    """One closed pattern: the items (original ids), its support and the sorted ids of the sequences containing it."""

    items: tuple[int, ...]
    support: int
    sequences: np.ndarray


@dataclass
class _Db:
    """The database flattened: N kept tokens of n sequences, items renumbered 0..F-1."""

    tok: np.ndarray  # (N,) item index of each kept token
    prev: np.ndarray  # (N,) previous position of the same item in the same sequence, -1 if none
    start: np.ndarray  # (n,) first position of each sequence
    end: np.ndarray  # (n,) one past the last position of each sequence
    occ: np.ndarray  # (N,) sorted keys item * N + position
    items: np.ndarray  # (F,) original id of each item index


def flatten(sequences: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """All tokens in one int64 array, and the (n + 1,) offsets of the sequences in it."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    flat = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.int64, count=int(lengths.sum()))
    return flat, np.concatenate(([0], np.cumsum(lengths)))


def _compact(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values (sorted) and each token's index among them; by counting when the id range allows."""
    if len(flat) == 0 or flat.max() > 4 * len(flat) + 65536:
        return np.unique(flat, return_inverse=True)
    present = np.bincount(flat) > 0
    return np.flatnonzero(present), (np.cumsum(present) - 1)[flat]


def _prev_same(tok: np.ndarray, seq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """prev[q] (previous position of tok[q] in the same sequence, else -1) and the sorted keys tok * N + position."""
    n_tok = max(len(tok), 1)
    keys = np.sort(tok * n_tok + np.arange(len(tok)))  # sorting the packed values is much faster than argsort
    order = keys % n_tok  # positions, grouped by item, ascending within an item
    same = (tok[order[1:]] == tok[order[:-1]]) & (seq[order[1:]] == seq[order[:-1]])
    prev = np.full(len(tok), -1, dtype=np.int64)
    prev[order[1:][same]] = order[:-1][same]
    return prev, keys


def _build_db(flat: np.ndarray, offsets: np.ndarray, minsup: int) -> _Db:
    n_seq = len(offsets) - 1
    seq = np.repeat(np.arange(n_seq), np.diff(offsets))
    vocab, tok = _compact(flat)
    prev, _ = _prev_same(tok, seq)
    doc_freq = np.bincount(tok[prev < 0], minlength=len(vocab))  # first occurrences = (sequence, item) pairs
    frequent = doc_freq >= minsup
    new_index = np.cumsum(frequent) - 1
    keep = frequent[tok]
    tok, seq = new_index[tok[keep]], seq[keep]
    prev, occ = _prev_same(tok, seq)
    ends = np.cumsum(np.bincount(seq, minlength=n_seq))
    starts = ends - np.bincount(seq, minlength=n_seq)
    return _Db(tok, prev, starts, ends, occ, vocab[frequent])


def _stable_argsort(keys: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative keys: np.sort of packed key * n + index when that cannot overflow."""
    n = len(keys)
    if n == 0 or (int(keys.max()) + 1) * n >= 2**62:
        return np.argsort(keys, kind="stable")
    return np.sort(keys * n + np.arange(n)) % n


def _counts(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct keys (sorted), their counts, and the count of each entry's key."""
    if size <= _DENSE_FACTOR * len(keys) + 4096:
        dense = np.bincount(keys, minlength=size)
        distinct = np.flatnonzero(dense)
        return distinct, dense[distinct], dense[keys]
    distinct, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return distinct, counts, counts[inverse]


class _Nodes(NamedTuple):
    """A batch of prefix patterns of one length n, each with one slot per sequence that contains it."""

    items: np.ndarray  # (n, B) item index of every node's pattern, position by position
    sid: np.ndarray  # (S,) sequence of each node slot
    ff: np.ndarray  # (n, S) end of the first instance of each prefix of the pattern in that sequence


class _Kids(NamedTuple):
    """The frequent one-item extensions (children) of a batch of nodes; child g owns slots bound[g]:bound[g+1]."""

    item: np.ndarray  # (G,) item appended
    node: np.ndarray  # (G,) parent node
    bound: np.ndarray  # (G + 1,)
    row: np.ndarray  # (M,) parent node slot of each child slot
    q: np.ndarray  # (M,) end of the child's first instance (the new pseudo-projection pointer)

    def cut(self, a: int, b: int) -> _Kids:
        lo, hi = self.bound[a], self.bound[b]
        return _Kids(self.item[a:b], self.node[a:b], self.bound[a : b + 1] - lo, self.row[lo:hi], self.q[lo:hi])


class _Miner:
    """BIDE, depth first over batches: every call expands all children of a batch of same-length nodes at once,
    so the number of numpy calls grows with the pattern length and the data size, not with the pattern count."""

    def __init__(self, db: _Db, minsup: int, min_len: int, max_len: int, max_patterns: int | None = None):
        self.db, self.minsup, self.min_len, self.max_len = db, minsup, min_len, max_len
        self.max_patterns = max_patterns
        self.budget = _SCAN_BUDGET
        self.n_items = len(db.items)
        self.found: list[tuple[tuple[int, ...], np.ndarray]] = []

    def run(self) -> None:
        n_seq = len(self.db.start)
        keys, pos, owner = self._scan(self.db.start - 1, self.db.end, np.zeros(n_seq, dtype=np.int64))
        root = _Nodes(np.empty((0, 1), dtype=np.int64), np.arange(n_seq), np.empty((0, n_seq), dtype=np.int64))
        kids = self._group(keys, pos, owner, np.ones(len(keys), dtype=bool), np.zeros(1, dtype=np.int64), None)
        self._descend(root, kids)

    def _scan(self, lo: np.ndarray, hi: np.ndarray, group: np.ndarray):
        """First occurrences of every item in each window (lo, hi): keys group*F + item, positions, windows.

        Per-window values are spread with np.repeat (a streaming copy) rather than gathered by window index."""
        lengths = np.maximum(hi - lo - 1, 0)
        first = np.cumsum(lengths) - lengths  # where each window's run starts in the flat output
        pos = np.arange(int(lengths.sum())) + np.repeat(lo + 1 - first, lengths)
        keep = self.db.prev[pos] <= np.repeat(lo, lengths)  # first occurrence of its item in the window
        pos = pos[keep]
        keys = np.repeat(group * self.n_items, lengths)[keep] + self.db.tok[pos]
        return keys, pos, np.repeat(np.arange(len(lo)), lengths)[keep]

    def _last_before(self, item: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Last position of `item` before x (elementwise); callers guarantee one exists in x's sequence."""
        base = item * len(self.db.tok)
        return self.db.occ[np.searchsorted(self.db.occ, base + x) - 1] - base

    def _group(self, keys, pos, owner, keep, node_of_group, row_of_owner) -> _Kids:
        """Children from kept scan entries: sort by key (stable, so slots stay in sequence order) and cut."""
        order = np.flatnonzero(keep)
        order = order[_stable_argsort(keys[order])]
        keys = keys[order]
        bound = np.concatenate(([0], np.flatnonzero(np.diff(keys)) + 1, [len(keys)]))
        first = keys[bound[:-1]]
        rows = owner[order] if row_of_owner is None else row_of_owner[owner[order]]
        return _Kids(first % self.n_items, node_of_group[first // self.n_items], bound, rows, pos[order])

    def _descend(self, nodes: _Nodes, kids: _Kids) -> None:
        """Expand the children in chunks whose next scan (their suffixes) stays within the budget."""
        cost = np.cumsum(self.db.end[nodes.sid[kids.row]] - kids.q)[kids.bound[1:] - 1]  # (G,) cumulative
        for a, b in _chunks(cost, self.budget):
            self._expand(nodes, kids.cut(a, b))

    def _expand(self, nodes: _Nodes, kids: _Kids) -> None:
        n, f = nodes.items.shape[0], self.n_items
        support = np.diff(kids.bound)
        slot_group = np.repeat(np.arange(len(support)), support)
        slot_sid = nodes.sid[kids.row]
        scan = self._scan(kids.q, self.db.end[slot_sid], slot_group)  # every grandchild at once
        distinct, counts, entry_counts = _counts(scan[0], len(support) * f)
        best = np.zeros(len(support), dtype=np.int64)
        np.maximum.at(best, distinct // f, counts)  # best extension support: the forward-extension check
        grow = best >= self.minsup if n + 1 < self.max_len else np.zeros(len(support), dtype=bool)
        slots = _Slots(nodes.items[:, kids.node], nodes.ff[:, kids.row], slot_sid, slot_group, support)
        pruned = np.zeros(len(support), dtype=bool)
        if grow.any():  # BackScan: an item in every i-th semi-maximum period -> no closed pattern below
            pruned[grow] = self._period_hit(slots, grow, kids.q)
        check = (best < support) & ~pruned & (n + 1 >= self.min_len)
        if check.any():  # backward extension: an item in every i-th maximum period
            closed = check.copy()
            last = self._last_before(kids.item[slot_group], self.db.end[slot_sid])
            closed[check] = ~self._period_hit(slots, check, last)
            self._record(slots, kids, closed)
        nxt = grow & ~pruned
        if nxt.any():
            batch = self._next_batch(nodes, kids, slots, nxt, (*scan, entry_counts))
            del scan, entry_counts, slots  # free this level's scan before going deeper
            self._descend(*batch)

    def _record(self, slots: _Slots, kids: _Kids, closed: np.ndarray) -> None:
        for c in np.flatnonzero(closed):
            pattern = (*slots.items[:, c].tolist(), int(kids.item[c]))
            self.found.append((pattern, slots.sid[kids.bound[c] : kids.bound[c + 1]]))
        if self.max_patterns is not None and len(self.found) > self.max_patterns:
            # a low support on long texts can mean millions of patterns and hours: stop early and say so
            raise TooManyPatterns(self.max_patterns)

    def _next_batch(self, nodes: _Nodes, kids: _Kids, slots: _Slots, nxt: np.ndarray, scan) -> tuple[_Nodes, _Kids]:
        """The chosen children become the next batch of nodes; their frequent extensions come from `scan`."""
        keys, pos, owner, entry_counts = scan
        sel = nxt[slots.group]
        new_nodes = _Nodes(
            np.vstack((nodes.items[:, kids.node[nxt]], kids.item[nxt][None, :])),
            slots.sid[sel],
            np.vstack((slots.ff[:, sel], kids.q[sel][None, :])),
        )
        keep = (entry_counts >= self.minsup) & nxt[keys // self.n_items]
        return new_nodes, self._group(keys, pos, owner, keep, np.cumsum(nxt) - 1, np.cumsum(sel) - 1)

    def _period_hit(self, slots: _Slots, chosen: np.ndarray, tail: np.ndarray) -> np.ndarray:
        """For the chosen children (pattern e1..en c), whether some item occurs in the i-th period of every
        supporting sequence for some i, the periods ending at the chain of last appearances walked back from
        `tail` (the first-instance end: semi-maximum periods; the last c: maximum periods). -> (chosen,) bool."""
        sel = chosen[slots.group]
        group = (np.cumsum(chosen) - 1)[slots.group[sel]]  # slots stay sorted by child
        items = slots.items[:, slots.group[sel]]  # (n, m) the pattern before the child's item, per slot
        n, m, n_groups = items.shape[0], int(sel.sum()), int(chosen.sum())
        hi = np.empty((n + 1, m), dtype=np.int64)
        hi[n] = tail[sel]
        for j in range(n - 1, -1, -1):  # i-th last-in-first (or last-in-last) appearance, walking backwards
            hi[j] = self._last_before(items[j], hi[j + 1])
        lo = np.vstack((self.db.start[slots.sid[sel]][None, :] - 1, slots.ff[:, sel]))
        period = group[None, :] * (n + 1) + np.arange(n + 1)[:, None]  # (n+1, m): one group per (child, i)
        # A (child, i) with an empty period in some sequence cannot hit: skip its windows entirely.
        empty = np.bincount(period[hi - lo <= 1], minlength=n_groups * (n + 1)) > 0
        hi = np.where(empty[period], lo, hi)
        # Scan in chunks of whole children (a child's counts must not be split), to bound memory.
        cost = np.cumsum(np.bincount(group, np.maximum(hi - lo - 1, 0).sum(0), minlength=n_groups))
        columns = np.searchsorted(group, np.arange(n_groups + 1))  # child g owns columns [columns[g], columns[g+1])
        hit = np.zeros(n_groups, dtype=bool)
        support = slots.support[chosen]
        for g0, g1 in _chunks(cost, self.budget):
            a, b = columns[g0], columns[g1]
            keys, _, _ = self._scan(lo[:, a:b].ravel(), hi[:, a:b].ravel(), period[:, a:b].ravel())
            distinct, counts, _ = _counts(keys, n_groups * (n + 1) * self.n_items)
            owner = distinct // (self.n_items * (n + 1))
            hit[owner[counts == support[owner]]] = True
        return hit


def _chunks(cost: np.ndarray, budget: int) -> list[tuple[int, int]]:
    """Cut positions 0..len(cost) into ranges whose cost (given cumulatively) is about `budget` each."""
    if len(cost) == 0:
        return []
    cuts = np.searchsorted(cost, np.arange(budget, cost[-1], budget), side="right")
    edges = np.unique(np.concatenate(([0], cuts, [len(cost)])))
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


class _Slots(NamedTuple):
    """A batch of children with their slots: what the period checks need."""

    items: np.ndarray  # (n, G) each child's pattern before its last item
    ff: np.ndarray  # (n, M) first-instance ends of that pattern's prefixes, per child slot
    sid: np.ndarray  # (M,) sequence of each child slot
    group: np.ndarray  # (M,) child of each slot
    support: np.ndarray  # (G,) slots per child


def mine_closed_gapped(
    sequences: Sequence[Sequence[int]], minsup: int, min_len: int = 1, max_len: int = 1_000_000
) -> list[GappedPattern]:
    """Closed frequent sequential patterns (gaps allowed) with min_len <= length <= max_len, support >= minsup.

    `minsup` is an absolute count (>= 1). Patterns come in depth-first order; callers sort as they need.
    """
    return mine_closed_flat(*flatten(sequences), minsup, min_len, max_len)


class TooManyPatterns(Exception):
    """Raised when more than `max_patterns` closed patterns are found (the mining stops at once)."""

    def __init__(self, limit: int):
        super().__init__(f"more than {limit} closed patterns")
        self.limit = limit


def mine_closed_flat(
    flat: np.ndarray,
    offsets: np.ndarray,
    minsup: int,
    min_len: int = 1,
    max_len: int = 1_000_000,
    max_patterns: int | None = None,
) -> list[GappedPattern]:
    """`mine_closed_gapped` on sequences already flattened by `flatten`; raises TooManyPatterns past
    `max_patterns` (None: no limit)."""
    if minsup < 1 or min_len < 1 or max_len < min_len:
        raise ValueError("need minsup >= 1 and 1 <= min_len <= max_len")
    db = _build_db(flat, offsets, minsup)
    if len(db.items) == 0:
        return []
    miner = _Miner(db, minsup, min_len, max_len, max_patterns)
    miner.run()
    return [GappedPattern(tuple(int(db.items[i]) for i in items), len(seqs), seqs) for items, seqs in miner.found]
