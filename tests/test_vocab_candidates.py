"""vocab_candidates.py: which mined patterns may become vocabulary, with the MiniLM (WordPiece) and SmolLM2
(byte-level BPE) tokenizers on a tiny hand-written corpus."""

from __future__ import annotations

import pytest

from adapt_core.errors import AdaptError
from adapt_core.mining import MiningConfig, mine
from adapt_core.vocab_candidates import candidates

TEXTS = [
    "my card was declined", "where is my card", "my card is lost", "a washable card", "a readable card",
    "a disposable card", "I live in new york", "new york is big", "the new yorkers", "the new yorker",
    "one of the best", "most of the time", "out of the box", "I paid 100 $", "it was 100 $", "my disposable card",
    "top up my account", "top up failed", "how to top up",
]  # fmt: skip


def _candidates(tokenizer, share=1.0, min_len=2):
    ids = tokenizer(TEXTS, add_special_tokens=False)["input_ids"]
    result = mine(ids, MiningConfig(min_support=2, min_len=min_len), texts=TEXTS)
    return {c.text: c for c in candidates(result, tokenizer, ids, min_boundary_share=share)}


@pytest.mark.parametrize("name", ["minilm_tokenizer", "smollm2_tokenizer"])
def test_candidates_word_boundaries(name, request):
    tokenizer = request.getfixturevalue(name)
    found = _candidates(tokenizer)
    assert {"my card", "top up", "disposable card"} <= set(found)
    assert found["my card"].support >= 2 and found["my card"].example_texts
    assert not any("yorker" in text for text in found)  # one of two occurrences ends inside "yorkers"
    # WordPiece: "new york" is two whole words both times. BPE: "Ġy ork" is also the start of "Ġy ork ers".
    assert ("new york" in found) == (name == "minilm_tokenizer")
    assert not any(text in ("of the", "100 $") for text in found)  # stop-words, digits, punctuation only
    assert not any(text.startswith("able") for text in found)  # "##able card" starts inside a word
    pieces = [tokenizer.convert_ids_to_tokens(list(c.ids)) for c in found.values()]
    assert not any(p[0].startswith("##") for p in pieces)


def test_candidates_boundary_share_and_single_tokens(minilm_tokenizer):
    # "the new yorker" is closed ("new yorker" always follows "the"); 1 of its 2 occurrences ends inside a word.
    assert "the new yorker" in _candidates(minilm_tokenizer, share=0.5)
    assert "the new yorker" not in _candidates(minilm_tokenizer, share=1.0)
    singles = _candidates(minilm_tokenizer, min_len=1)
    assert all(len(c.ids) > 1 for c in singles.values())  # one-token patterns are already in the vocabulary
    assert "disposable" not in _candidates(minilm_tokenizer)  # not closed: always followed by "card"


def test_candidates_never_start_or_end_with_punctuation(minilm_tokenizer):
    found = _candidates(minilm_tokenizer)
    assert "100 $" not in found and not any(t[0] in "$?!.," or t[-1] in "$?!.," for t in found)
    texts = ["is my card ?", "lost my card ?", "where is the fee ?", "what is the fee ?"]
    ids = minilm_tokenizer(texts, add_special_tokens=False)["input_ids"]
    result = mine(ids, MiningConfig(min_support=2, min_len=2))
    assert not any(c.text.endswith("?") for c in candidates(result, minilm_tokenizer, ids))
    kept = {c.text for c in candidates(result, minilm_tokenizer, ids, punctuation_edges=True)}
    assert {"my card?", "is the fee?"} <= kept  # the closed patterns are there when edges are allowed


def test_candidates_reject_empty_and_gapped(minilm_tokenizer):
    with pytest.raises(AdaptError, match="the corpus is empty"):
        candidates(mine([], MiningConfig()), minilm_tokenizer, [])
    gapped = mine([[1, 2], [1, 2]], MiningConfig(mode="gapped", min_support=2))
    with pytest.raises(AdaptError, match="contiguous"):
        candidates(gapped, minilm_tokenizer, [[1, 2], [1, 2]])
