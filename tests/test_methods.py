"""The method contract, for every registered method that trains in the loop, on tiny BERT and Llama models.

Each method: builds with defaults, prepares a tiny model, trains fewer parameters than the model holds (except
full / full+tokens), lowers the loss on a separable toy task within a few steps of the one training loop, leaves
every frozen tensor bit-identical, gives AdamW only the trainable tensors, and survives save → load with the same
predictions. Then the method-specific rules: AdaPT's selection and new-token embeddings, layer matching, LoRA
targets, prefix-tuning folders, and the messages for bad input.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from helpers_toy import mean_loss, one_thread, snapshot, tiny_model, toy_task

from adapt_core.data import Split, TaskData
from adapt_core.errors import AdaptError
from adapt_core.evaluate import predict_proba
from adapt_core.forms import method_specs
from adapt_core.methods import (
    REGISTRY,
    StcConfig,
    get_method,
    load_trained,
    matched_layers,
    method_config,
    method_names,
    prepare,
    save_trained,
)
from adapt_core.methods_io import PREFIX_DIR
from adapt_core.models import count_parameters, load_classifier
from adapt_core.sensitivity import measure
from adapt_core.train import TrainConfig, train_steps

PREPARED = [m for m in method_names() if get_method(m).trains]
TRAIN = TrainConfig(
    max_steps=24,
    batch_size=8,
    lr=1e-2,
    warmup_ratio=0.0,
    keep_best=False,
    device="cpu",
    max_length=32,
    eval_batch_size=32,
    seed=0,
)


_one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)


@pytest.fixture(scope="module")
def task():
    return toy_task()


class RecordingAdamW(torch.optim.AdamW):
    """AdamW that remembers which tensors it was given."""

    given: list[set[int]] = []

    def __init__(self, params, *args, **kwargs):
        params = list(params)
        tensors = [p for group in params for p in (group["params"] if isinstance(group, dict) else [group])]
        RecordingAdamW.given.append({id(p) for p in tensors})
        super().__init__(params, *args, **kwargs)


@pytest.mark.parametrize("model_name", ["tiny-bert", "tiny-llama"])
@pytest.mark.parametrize("method", PREPARED)
def test_contract(method, model_name, task, tmp_path, monkeypatch):
    model, tokenizer = tiny_model(model_name)
    prepared = prepare(model, tokenizer, method_config(method), task)
    net = prepared.model
    counts = count_parameters(net)
    if get_method(method).config.__name__.startswith("Full"):
        assert counts.trainable == counts.total
    else:
        assert 0 < counts.trainable < counts.total
    assert prepared.info["trainable_params"] == counts.trainable
    before = snapshot(net)
    trainable = {id(p) for p in net.parameters() if p.requires_grad}
    loss_before = mean_loss(net, tokenizer, task["train"])

    RecordingAdamW.given = []
    monkeypatch.setattr(torch.optim, "AdamW", RecordingAdamW)
    logs = list(train_steps(net, tokenizer, task, TRAIN))

    assert mean_loss(net, tokenizer, task["train"]) < 0.9 * loss_before
    for name, p in net.named_parameters():
        if not p.requires_grad:
            assert torch.equal(p.detach(), before[name]), f"frozen {name} changed"
    assert RecordingAdamW.given == [trainable]  # the optimizer holds the trainable tensors and nothing else
    state = sum(8 * p.numel() + 4 for p in net.parameters() if p.requires_grad)  # fp32 moments + step scalar
    assert logs[-1].summary["optimizer_state_bytes"] == state

    texts = task["test"].texts
    expected = predict_proba(net, tokenizer, texts)
    save_trained(net, tokenizer, tmp_path / "model")
    assert not list((tmp_path / "model").rglob("*.bin"))  # safetensors only
    loaded, loaded_tokenizer = load_trained(tmp_path / "model")
    got = predict_proba(loaded, loaded_tokenizer, texts)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert (got.argmax(1) == expected.argmax(1)).all()
    np.testing.assert_allclose(predict_proba(net, tokenizer, texts), expected)  # saving left the model alone


def test_adapt_trains_exactly_selection_and_head(task):
    model, tokenizer = load_classifier("tiny-bert", 2, task.label_names, seed=0)
    prepared = prepare(model, tokenizer, method_config("adapt", top_k=20), task)
    selection = prepared.info["selection"]
    assert 0 < selection["percent"] <= 20
    assert prepared.info["sensitivity"]["linears"]  # the whole table travels to report.json
    expected = {f"{m}.{k}" for m in selection["modules"] for k in ("weight", "bias")} | {
        "classifier.weight",
        "classifier.bias",
    }
    assert {n for n, p in model.named_parameters() if p.requires_grad} == expected


def test_adapt_reuses_a_report(task):
    model, tokenizer = load_classifier("tiny-llama", 2, task.label_names, seed=0)
    report = measure(model, tokenizer, task)
    config = method_config("adapt", top_k=30, grouping="block")
    via_report = prepare(model, tokenizer, config, report=report).info["selection"]
    model2, _ = load_classifier("tiny-llama", 2, task.label_names, seed=0)
    measured = prepare(model2, tokenizer, config, task).info["selection"]
    assert via_report["modules"] == measured["modules"]


@pytest.mark.parametrize("method", ["adapt", "full+tokens"])
def test_new_token_embeddings_train_and_save(method, task, tmp_path):
    from adapt_core.tokens import augment

    # made-up words that the base vocabulary splits into pieces become the new tokens
    splits = {
        k: Split([t.replace("alpha", "alphazq").replace("beta", "betazq") for t in s.texts], s.labels)
        for k, s in task.splits.items()
    }
    task = TaskData("toy-new", task.label_names, splits)
    model, tokenizer = tiny_model("tiny-bert")
    tokenizer = copy.deepcopy(tokenizer)  # augment changes the tokenizer; never touch a shared one
    assert augment(model, tokenizer, ["alphazq", "betazq"], init="random", seed=0)["added"] == 2
    assert len(tokenizer.tokenize("alphazq river")) == 2
    config = method_config(method, **({"top_k": 20, "positions": "tokens"} if method == "adapt" else {}))
    prepared = prepare(model, tokenizer, config, task)
    new = {n: p for n, p in model.named_parameters() if "new_token" in n}
    assert new and all(p.requires_grad for p in new.values()) and prepared.info["new_token_params"]
    base = model.get_input_embeddings().base.weight
    assert base.requires_grad == (method == "full+tokens")  # AdaPT: only the new rows of the embedding train
    before = snapshot(model)
    list(train_steps(model, tokenizer, task, TRAIN))
    assert all(not torch.equal(p.detach(), before[n]) for n, p in new.items())
    if method == "adapt":
        assert torch.equal(base, before[next(n for n, p in model.named_parameters() if p is base)])

    expected = predict_proba(model, tokenizer, task["test"].texts)
    save_trained(model, tokenizer, tmp_path)  # merges the new rows into one plain embedding
    loaded, loaded_tokenizer = load_trained(tmp_path)
    assert len(loaded_tokenizer) == len(tokenizer)
    np.testing.assert_allclose(predict_proba(loaded, loaded_tokenizer, task["test"].texts), expected, atol=1e-5)


def test_layers_match_the_budget():
    model, _ = load_classifier("minilm-l6", 2, seed=0)
    # MiniLM: a block is 1.77 M of 10.8 M non-embedding parameters (16.4 %)
    assert matched_layers(model, 10) == 1  # even one block exceeds 10 %: at least one
    assert matched_layers(model, 33) == 2
    assert matched_layers(model, 100) == 6


def test_layers_explicit_and_too_many(task):
    model, tokenizer = load_classifier("tiny-bert", 2, seed=0)
    prepared = prepare(model, tokenizer, method_config("layers", layers=2))
    assert prepared.info["blocks"] == ["bert.encoder.layer.0", "bert.encoder.layer.1"]
    selection = prepared.selection  # what selection.json records for a layers run
    assert [m["module"] for m in selection["modules"]] == prepared.info["blocks"]
    assert selection["grouping"] == "layer" and all(m["size"] > 0 for m in selection["modules"])
    with pytest.raises(AdaptError, match="has 2 blocks"):
        prepare(model, tokenizer, method_config("layers", layers=3))


def test_lora_targets_stay_inside_the_blocks(task):
    model, tokenizer = load_classifier("tiny-bert", 2, seed=0)
    info = prepare(model, tokenizer, method_config("lora"), task).info
    assert info["lora_target_types"] == ["query", "value"] and info["lora_target_count"] == 4
    model, tokenizer = load_classifier("tiny-bert", 2, seed=0)
    wrapped = prepare(model, tokenizer, method_config("lora", lora_targets="all"), task).model
    lora_names = [n for n, _ in wrapped.named_parameters() if "lora_A" in n]
    assert len(lora_names) == 12 and not any("pooler" in n for n in lora_names)


def test_prefix_folder_holds_a_plain_model_and_the_adapter(task, tmp_path):
    from transformers import AutoModelForSequenceClassification

    model, tokenizer = load_classifier("tiny-bert", 2, seed=0)
    wrapped = prepare(model, tokenizer, method_config("prefix", prefix_len=4), task).model
    save_trained(wrapped, tokenizer, tmp_path)
    assert (tmp_path / PREFIX_DIR / "adapter_model.safetensors").exists()
    plain = AutoModelForSequenceClassification.from_pretrained(tmp_path)
    assert set(plain.state_dict()) == set(load_classifier("tiny-bert", 2)[0].state_dict())


@pytest.mark.parametrize(
    ("method", "kwargs", "message"),
    [
        ("nope", {}, "unknown method"),
        ("adapt", {"top_k": 0}, r"top_k must be in \(0, 100\]"),
        ("layers", {"top_k": 120}, r"top_k must be in \(0, 100\]"),
        ("adapt", {"beta": -1}, "beta must be ≥ 0"),
        ("lora", {"lora_r": 0}, "lora_r"),
        ("lora", {"lora_dropout": 1.0}, "lora_dropout"),
        ("lora", {"lora_targets": "everything"}, "lora_targets"),
        ("prefix", {"prefix_len": 0}, "prefix_len"),
        ("layers", {"layers": 0}, "layers"),
        ("adapt", {"positions": "some"}, "positions"),
        ("adapt", {"grouping": "head"}, "grouping"),
        ("adapt", {"calibration_size": 1}, "calibration_size"),
        ("adapt", {"token_init": "zeros"}, "token_init"),
        ("lora", {"prefix_len": 3}, "method 'lora' has no setting 'prefix_len'"),
    ],
)
def test_bad_config(method, kwargs, message):
    with pytest.raises(AdaptError, match=message):
        method_config(method, **kwargs)


FLOAT_FIELDS = [(m, s.name) for m in REGISTRY for s in method_specs(m) if s.kind == "float" and "." not in s.name]


@pytest.mark.parametrize(("method", "name"), FLOAT_FIELDS, ids=lambda v: str(v))
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
def test_non_finite_numbers_are_refused_by_every_method(method, name, bad):
    with pytest.raises(AdaptError, match=f"^{name} must be a finite number"):
        method_config(method, **{name: bad})


def test_non_finite_numbers_in_lists_are_refused():
    with pytest.raises(AdaptError, match="etas must be a finite number"):
        StcConfig(etas=(0.1, float("nan")))


def test_every_method_has_a_documented_default_that_builds_and_its_own_lr():
    rates = {"full": 1e-4, "adapt": 3e-4, "lora": 1e-3, "prefix": 1e-2, "layers": 1e-4}
    for name, spec in REGISTRY.items():
        config = spec.make()
        assert all(s.help for s in method_specs(name)), name
        if spec.trains:
            assert config.lr > 0
    assert {m: method_config(m).lr for m in rates} == rates


def test_adapt_needs_data_and_stc_is_not_prepared_here():
    model, tokenizer = load_classifier("tiny-bert", 2, seed=0)
    with pytest.raises(AdaptError, match="pass the TaskData"):
        prepare(model, tokenizer, method_config("adapt"))
    with pytest.raises(AdaptError, match="does not train in the loop"):
        prepare(model, tokenizer, StcConfig())


def test_prefix_refuses_a_model_without_past_key_values_before_loading(monkeypatch):
    from adapt_core.methods import prefix

    class NoCache:
        def forward(self, input_ids=None, attention_mask=None):
            return None

    assert prefix.cache_argument(NoCache) is None
    monkeypatch.setattr(prefix, "_backbone_class", lambda name: NoCache)
    with pytest.raises(AdaptError, match="NoCache does not"):
        get_method("prefix").check_model("some-model")


def test_adapt_budget_below_smallest_module(task):
    model, tokenizer = load_classifier("tiny-bert", 2, seed=0)
    with pytest.raises(AdaptError, match="smaller than the smallest linear module"):
        prepare(model, tokenizer, method_config("adapt", top_k=1), task)


def test_the_readme_example_method_registers_and_trains_what_it_says(monkeypatch):
    """README's example method (BitFit, "a method is one file and one registry line"), run as written: it imports,
    registers, and its prepare leaves exactly the biases (no LayerNorm's) and the head trainable."""
    import re
    import sys
    import types
    from pathlib import Path

    from adapt_core.anatomy import head_parameter_names
    from adapt_core.methods.registry import unregister_method

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"```python\n# adapt_core/methods/bitfit.py\n(.*?)```", readme, re.S).group(1)
    module = types.ModuleType("readme_bitfit")  # a module of its own, as the file would be (dataclasses look it up)
    monkeypatch.setitem(sys.modules, module.__name__, module)
    try:
        exec(compile(code, "README.md", "exec"), module.__dict__)
        model, tokenizer = tiny_model("tiny-bert")
        prepare(model, tokenizer, method_config("bitfit"), toy_task())
        trainable = {n for n, p in model.named_parameters() if p.requires_grad}
        biases = {n for n, _ in model.named_parameters() if n.endswith(".bias") and "norm" not in n.lower()}
        assert biases and trainable == biases | set(head_parameter_names(model))
    finally:
        unregister_method("bitfit")
    assert "bitfit" not in REGISTRY
