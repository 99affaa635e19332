"""Sensitivity: D and G against a slow, obviously right per-example oracle; score/select arithmetic by hand.

The oracle runs one example at a time (no padding), reads each module's output with a hook, and sums per-example
gradients of the per-example losses; `measure` must agree while batching with padding. Both a tiny BERT and a tiny
Llama are checked, and the model must come back exactly as it went in.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from helpers_toy import one_thread, snapshot, tiny_model, toy_split

from adapt_core.anatomy import block_linears
from adapt_core.errors import AdaptError
from adapt_core.sensitivity import ModuleStat, SensitivityConfig, SensitivityReport, measure, new_token_ids

MODELS = ["tiny-bert", "tiny-llama"]
_one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)


def oracle(model, tokenizer, split, wanted: set[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(D, G) per block nn.Linear, one example at a time (eval mode, float64 statistics)."""
    model = copy.deepcopy(model).eval()
    linears = block_linears(model)
    per_example = [[] for _ in linears]
    grads = [torch.zeros_like(lin.module.weight, dtype=torch.float64) for lin in linears]
    for text, label in zip(split.texts, split.labels, strict=True):
        ids = tokenizer(text, truncation=True, max_length=128, return_tensors="pt")["input_ids"]  # (1, T)
        outputs: dict[int, torch.Tensor] = {}
        handles = [
            lin.module.register_forward_hook(lambda m, i, o, k=k, out=outputs: out.__setitem__(k, o))
            for k, lin in enumerate(linears)
        ]
        logits = model(input_ids=ids).logits
        for h in handles:
            h.remove()
        keep = torch.ones(ids.shape[1], dtype=torch.bool)
        if wanted is not None:
            keep = torch.tensor([int(i) in wanted for i in ids[0]])
        for k in range(len(linears)):
            norms = outputs[k][0].detach().double().norm(dim=-1)  # (T,)
            if keep.any():
                per_example[k].append(float(norms[keep].mean()))
        loss = F.cross_entropy(logits, torch.tensor([label])) / len(split)
        for k, g in enumerate(torch.autograd.grad(loss, [lin.module.weight for lin in linears])):
            grads[k] += g.double()
    d = np.array([np.var(a, ddof=1) / np.mean(a) for a in per_example])
    g = np.array([float(t.norm()) / math.sqrt(t.numel()) for t in grads])
    return d, g


@pytest.mark.parametrize("name", MODELS)
def test_d_and_g_match_the_oracle(name):
    model, tokenizer = tiny_model(name)
    split = toy_split(24, seed=3)
    report = measure(model, tokenizer, split, SensitivityConfig(calibration_size=24, batch_size=5))
    d, g = oracle(model, tokenizer, split)
    np.testing.assert_allclose([r.D for r in report.linears], d, rtol=2e-4)
    np.testing.assert_allclose([r.G for r in report.linears], g, rtol=2e-4)
    assert len(report.linears) == (12 if name == "tiny-bert" else 14)  # 6 (BERT) / 7 (Llama) linears × 2 layers
    assert report.meta["calibration_examples"] == 24


def test_d_over_new_token_positions_matches_the_oracle():
    model, tokenizer = tiny_model("tiny-llama")
    tokenizer = type(tokenizer).from_pretrained(tokenizer.name_or_path)  # a private copy: we add tokens
    tokenizer.add_tokens(["alphazq", "riverzq"])
    model.resize_token_embeddings(len(tokenizer))
    split = toy_split(24, seed=3)
    split.texts = [t.replace("alpha", "alphazq").replace("river", "riverzq") for t in split.texts]
    wanted = set(new_token_ids(tokenizer))
    assert len(wanted) == 2
    report = measure(model, tokenizer, split, SensitivityConfig(calibration_size=24, batch_size=4, positions="tokens"))
    d, g = oracle(model, tokenizer, split, wanted)
    np.testing.assert_allclose([r.D for r in report.linears], d, rtol=2e-4)
    np.testing.assert_allclose([r.G for r in report.linears], g, rtol=2e-4)
    assert report.meta["dispersion_examples"] == 12  # only class-0 texts hold "alphazq" for sure


@pytest.mark.parametrize("name", MODELS)
def test_measure_leaves_the_model_as_it_was(name):
    model, tokenizer = tiny_model(name)
    model.train()
    for n, p in model.named_parameters():
        p.requires_grad_("layer" not in n or n.endswith("bias"))  # a mixed pattern that must survive
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    before = snapshot(model)
    seen = []
    config = SensitivityConfig(calibration_size=16, batch_size=4, head_warmup_steps=3)
    warm = measure(model, tokenizer, toy_split(20, 1), config, progress=lambda done, total: seen.append((done, total)))
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())
    assert {n: p.requires_grad for n, p in model.named_parameters()} == flags
    assert all(p.grad is None for p in model.parameters()) and model.training
    assert seen == [(i, 7) for i in range(1, 8)]  # 3 warm-up steps + 4 batches
    cold = measure(model, tokenizer, toy_split(20, 1), SensitivityConfig(calibration_size=16, batch_size=4))
    assert [r.D for r in warm.linears] == [r.D for r in cold.linears]  # warm-up changes the head, not D
    assert [r.G for r in warm.linears] != [r.G for r in cold.linears]


def test_g_does_not_depend_on_batch_size():
    model, tokenizer = tiny_model("tiny-bert")
    split = toy_split(20, 2)
    one = measure(model, tokenizer, split, SensitivityConfig(calibration_size=20, batch_size=20))
    other = measure(model, tokenizer, split, SensitivityConfig(calibration_size=20, batch_size=3))
    np.testing.assert_allclose([r.G for r in one.linears], [r.G for r in other.linears], rtol=1e-4)


# ------------------------------------------------------------------------------------ score / select by hand


def hand_report(grouping: str = "linear") -> SensitivityReport:
    rows = [
        ModuleStat(f"m{i}", i // 2, "t", p, d, g, (f"m{i}",))
        for i, (p, d, g) in enumerate([(10, 1.0, 0.4), (20, 2.0, 0.1), (30, 3.0, 0.2), (40, 5.0, 0.3)])
    ]
    return SensitivityReport(rows, non_embedding_params=200, grouping=grouping)


def test_score_is_minmax_d_plus_beta_minmax_g():
    report = hand_report()
    # D̂ = [0, .25, .5, 1], Ĝ = [1, 0, 1/3, 2/3]
    np.testing.assert_allclose(report.score(1.0), [1.0, 0.25, 0.5 + 1 / 3, 1 + 2 / 3])
    np.testing.assert_allclose(report.score(0.0), [0.0, 0.25, 0.5, 1.0])
    np.testing.assert_allclose(report.score(2.0), [2.0, 0.25, 0.5 + 2 / 3, 1 + 4 / 3])


def test_select_walks_the_ranking_and_skips_what_does_not_fit():
    report = hand_report()
    # β=1 ranks m3, m0, m2, m1; budget 30 % of 200 = 60: m3 (40) + m0 (10); m2 (30) and m1 (20) would exceed
    sel = report.select(1.0, 30)
    assert sel.rows == ("m3", "m0") and sel.params == 50 and sel.percent == 25.0
    assert report.select(1.0, 50).rows == ("m3", "m0", "m2", "m1")  # exactly 100 = budget: all fit
    # β=0 ranks m3, m2, m1, m0: m3 (40), m2 would make 70 > 60, m1 makes 60, m0 would make 70
    assert report.select(0.0, 30).rows == ("m3", "m1")
    frame = report.to_frame(1.0, 30)
    assert list(frame.columns) == ["module", "layer", "type", "params", "D", "G", "S", "selected"]
    assert frame["selected"].tolist() == [True, False, False, True]


def test_grouping_takes_parameter_weighted_means():
    report = hand_report().regroup("layer")  # layer 0 = m0 + m1, layer 1 = m2 + m3
    rows = report.rows
    assert [r.params for r in rows] == [30, 70]
    assert math.isclose(rows[0].D, (10 * 1.0 + 20 * 2.0) / 30)
    assert math.isclose(rows[1].G, (30 * 0.2 + 40 * 0.3) / 70)
    assert report.select(1.0, 40).modules == ("m2", "m3")  # layer 1 ranks first; layer 0 would exceed 80


def test_block_grouping_on_a_real_model():
    model, tokenizer = tiny_model("tiny-llama")
    report = measure(model, tokenizer, toy_split(8, 0), SensitivityConfig(grouping="block"))
    assert [r.module for r in report.rows] == [
        "model.layers.0:attention",
        "model.layers.0:mlp",
        "model.layers.1:attention",
        "model.layers.1:mlp",
    ]
    assert report.rows[1].members == tuple(f"model.layers.0.mlp.{k}_proj" for k in ("gate", "up", "down"))


def test_round_trip_through_a_dict():
    model, tokenizer = tiny_model("tiny-bert")
    report = measure(model, tokenizer, toy_split(8, 0))
    again = SensitivityReport.from_dict(report.to_dict())
    assert again.to_frame(0.5, 40).equals(report.to_frame(0.5, 40))
    assert again.non_embedding_params == report.non_embedding_params == 18208


def test_constant_column_carries_no_weight():
    rows = [ModuleStat(f"m{i}", 0, "t", 10, 1.0, g, (f"m{i}",)) for i, g in enumerate([0.1, 0.3])]
    np.testing.assert_allclose(SensitivityReport(rows, 100).score(1.0), [0.0, 1.0])


# --------------------------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("top_k", "beta", "message"),
    [
        (0, 1.0, r"top_k must be in \(0, 100\]"),
        (100.5, 1.0, r"top_k must be in \(0, 100\]"),
        (10, -0.1, "beta must be ≥ 0"),
        (4, 1.0, "smaller than the smallest linear module"),
    ],
)
def test_bad_budget(top_k, beta, message):
    with pytest.raises(AdaptError, match=message):
        hand_report().select(beta, top_k)


def test_budget_message_suggests_a_finer_grouping():
    with pytest.raises(AdaptError, match="finer grouping"):
        hand_report().regroup("layer").select(1.0, 10)


def test_calibration_larger_than_the_data():
    model, tokenizer = tiny_model("tiny-bert")
    with pytest.raises(AdaptError, match="larger than the 10 training examples"):
        measure(model, tokenizer, toy_split(10, 0), SensitivityConfig(calibration_size=11))


def test_tokens_positions_need_new_tokens():
    model, tokenizer = tiny_model("tiny-bert")
    with pytest.raises(AdaptError, match="vet tokens first"):
        measure(model, tokenizer, toy_split(10, 0), SensitivityConfig(positions="tokens"))


def test_blocks_without_linear_layers():
    from transformers import GPT2Config, GPT2ForSequenceClassification

    model = GPT2ForSequenceClassification(
        GPT2Config(n_layer=2, n_embd=16, n_head=2, vocab_size=50, n_positions=32, pad_token_id=0)
    )
    _, tokenizer = tiny_model("tiny-bert")
    with pytest.raises(AdaptError, match="hold no nn.Linear"):
        measure(model, tokenizer, toy_split(10, 0))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"positions": "mined"}, "^positions must be"),
        ({"grouping": "head"}, "^grouping must be"),
        ({"batch_size": 0}, "^batch_size must be"),
        ({"calibration_size": 1}, "at least 2"),
        ({"head_warmup_steps": -1}, "^head_warmup_steps must be"),
    ],
)
def test_bad_config(kwargs, message):
    with pytest.raises(AdaptError, match=message):
        SensitivityConfig(**kwargs)
