"""Sparsify-then-Classify: pooling masks, the η rule, multi-class ranking, dev-only choices, early exit, the solver
against scikit-learn, tiny end-to-end runs (encoder and decoder) and clear errors on bad input.

Tiny random models (2 layers, hidden 32) on a separable 3-class toy task with small grids keep the file fast.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from adapt_core import stc_fit
from adapt_core.data import Split, TaskData
from adapt_core.errors import AdaptError
from adapt_core.stc_features import LayerCapture, model_layers, pool, token_batches
from adapt_core.stc_fit import StcConfig, StcPredictor, fit_run, load_predictor, neuron_importance, select_neurons
from adapt_core.stc_solver import Standardizer, fit_path, logits, objective

SMALL = dict(etas=(0.1, 0.5), probe_cs=(0.3, 3.0), head_cs=(0.3, 3.0), timing_examples=8, max_iter=200)
WORDS = (["apple", "banana", "cherry"], ["river", "mountain", "forest"], ["engine", "wheel", "brake"])
FILLER = ["the", "a", "of", "and", "to", "in", "is", "it"]


def toy_split(n_per_class: int, seed: int) -> Split:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n_per_class * 3):
        label = i % 3
        words = [rng.choice(WORDS[label]) for _ in range(2)] + [rng.choice(FILLER) for _ in range(rng.randint(0, 6))]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return Split(texts, labels)


def toy_task(n_per_class: int = 12) -> TaskData:
    return TaskData(
        "toy3",
        ["fruit", "nature", "car"],
        {"train": toy_split(n_per_class, 0), "dev": toy_split(6, 1), "test": toy_split(6, 2)},
    )


class FakeRun:
    """What fit_run needs of a RunWriter: dir, model_dir, log(), progress()."""

    def __init__(self, folder: Path):
        self.dir, self.model_dir = folder, folder / "model"
        self.lines: list[dict] = []
        self.steps: list[tuple[int, int]] = []

    def log(self, record: dict) -> None:
        self.lines.append(json.loads(json.dumps(record, default=float)))

    def progress(self, step: int, total: int) -> None:
        self.steps.append((step, total))


# ------------------------------------------------------------------------------------------- pooling masks


@pytest.mark.parametrize("side", ["right", "left"])
def test_pooling_never_reads_padding(side):
    torch.manual_seed(0)
    real = torch.randn(3, 4)  # (time, width): the three real tokens
    states = torch.full((1, 5, 4), 1e6)  # padding positions hold huge values: any leak would show
    mask = torch.zeros(1, 5, dtype=torch.long)
    cols = slice(0, 3) if side == "right" else slice(2, 5)
    states[0, cols], mask[0, cols] = real, 1
    mean, maxed, first = pool(states, mask, "first")
    torch.testing.assert_close(mean[0], real.mean(0))
    torch.testing.assert_close(maxed[0], real.max(0).values)
    torch.testing.assert_close(first[0], real[0])
    torch.testing.assert_close(pool(states, mask, "last")[2][0], real[-1])


def test_pooling_all_negative_values_and_mixed_lengths():
    """Max over real tokens only, even when every real value is below the padding's value (0)."""
    states = -torch.arange(1.0, 13.0).reshape(2, 3, 2)  # (batch, time, width), all negative
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    states = states.masked_fill(mask.unsqueeze(-1) == 0, 0.0)
    mean, maxed, last = pool(states, mask, "last")
    torch.testing.assert_close(maxed, torch.tensor([[-1.0, -2.0], [-7.0, -8.0]]))
    torch.testing.assert_close(mean, torch.tensor([[-2.0, -3.0], [-7.0, -8.0]]))
    torch.testing.assert_close(last, torch.tensor([[-3.0, -4.0], [-7.0, -8.0]]))


@pytest.mark.parametrize("side", ["right", "left"])
def test_padded_batch_features_equal_single_text_features(side):
    """A decoder's pooled features of a text do not depend on the padding its batch needed (either side)."""
    from adapt_core.models import load_classifier

    model, tok = load_classifier("tiny-llama", 3, seed=0)
    backbone = model.base_model.eval()
    layers = model_layers(backbone)
    texts = ["apple river engine the of banana", "wheel"]
    with LayerCapture(layers, ("hidden", "mlp"), 2, "last") as capture:
        rows, ids, mask = next(token_batches(tok, texts, 32, 8, padding_side=side))
        batch = capture.run(backbone, ids, mask)
        for row, i in enumerate(rows):
            _, one_ids, one_mask = next(token_batches(tok, [texts[i]], 32, 8))
            alone = capture.run(backbone, one_ids, one_mask)
            for key in alone:
                torch.testing.assert_close(batch[key][:, row], alone[key][:, 0], atol=1e-4, rtol=1e-4)


# ------------------------------------------------------------------------------------ η rule and ranking


def test_eta_coverage_hand_checked():
    importance = np.array([0.15, 0.5, 0.05, 0.3])  # sorted: 0.5 (1), 0.3 (3), 0.15 (0), 0.05 (2); total 1
    assert select_neurons(importance, 0.01).tolist() == [1]  # the crossing neuron is kept: at least one
    assert select_neurons(importance, 0.5).tolist() == [1]  # 0.5 reaches 0.5 exactly
    assert select_neurons(importance, 0.51).tolist() == [1, 3]
    assert select_neurons(importance, 0.8).tolist() == [1, 3]  # 0.8 reaches 0.8 (despite float rounding)
    assert select_neurons(importance, 0.81).tolist() == [1, 3, 0]
    assert select_neurons(importance, 1.0).tolist() == [1, 3, 0, 2]
    assert select_neurons(np.array([0.6, 0.0, 0.4]), 1.0).tolist() == [0, 2]  # zero weights never needed
    assert len(select_neurons(np.zeros(3), 0.5)) == 1  # an all-zero probe still gives the layer one neuron


def test_multiclass_ranking_sums_squared_weights_over_classes():
    coef = np.array(
        [
            [1.0, 0.0, 1.0, 0.5],  # (classes, neurons)
            [1.0, 3.0, -1.0, 0.0],
            [1.0, 0.0, 0.0, 0.0],
        ]
    )
    importance = neuron_importance(coef)
    # Neuron 1 speaks for class 1 only: the official rule (class 0's row) would rank it last.
    np.testing.assert_allclose(importance, [0.0, 6.0, 2.0, 1 / 6])  # class-centred: a shared weight is no signal
    assert select_neurons(importance, 0.7).tolist() == [1]
    assert select_neurons(importance, 0.99).tolist() == [1, 2, 3]


def test_fitted_probe_ranks_a_one_class_neuron_first():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 100)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    x[:, 5] += 3.0 * (y == 2)  # neuron 5 tells class 2 from the rest, and nothing else
    x = Standardizer.fit(x)(x)
    fit = fit_path(x, y, 3, (0.1,), 500, 1e-6)[0]
    assert select_neurons(neuron_importance(fit.coef), 0.5).tolist() == [5]


# --------------------------------------------------------------------------------------------- the solver


@pytest.mark.parametrize("classes", [2, 3])
def test_torch_solver_matches_scikit_learn(classes):
    rng = np.random.default_rng(classes)
    x = rng.normal(size=(240, 20)).astype(np.float32)
    true_w = rng.normal(size=(20, classes)) * (rng.random((20, classes)) < 0.3)
    y = (x @ true_w + rng.gumbel(size=(240, classes))).argmax(1)
    x = Standardizer.fit(x)(x)
    for c in (0.05, 1.0):
        ours = fit_path(x, y, classes, (c,), 3000, 1e-9)[0]
        ref = fit_path(x, y, classes, (c,), 3000, 1e-8, solver="sklearn")[0]
        assert objective(ours, x, y) == pytest.approx(objective(ref, x, y), rel=1e-4)
        assert (logits(ours, x).argmax(1) == logits(ref, x).argmax(1)).mean() >= 0.99


def test_solver_handles_a_class_absent_from_train():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 5)).astype(np.float32)
    y = np.repeat([0, 2], 30)  # class 1 of 3 never appears in train
    fit = fit_path(x, y, 3, (1.0,), 200, 1e-6)[0]
    assert fit.coef.shape == (3, 5) and not fit.coef[1].any()
    assert (fit.proba(x).argmax(1) != 1).all()


# ---------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module", params=["tiny-bert", "tiny-llama"])
def tiny_run(request, tmp_path_factory):
    """One STC run per tiny model, probing only layer 0 of 2, so early exit really skips a layer."""
    run = FakeRun(tmp_path_factory.mktemp(request.param))
    data = toy_task()
    report = fit_run(run, data, request.param, StcConfig(**SMALL, max_layers=1), seed=0)
    return request.param, run, data, report


def test_end_to_end_report_and_metrics(tiny_run):
    name, run, data, report = tiny_run
    assert set(report["dev"]) >= {"accuracy", "macro_f1", "micro_f1"} and set(report["test"]) == set(report["dev"])
    assert report["dev"]["macro_f1"] > 0.6  # the toy task is separable
    info = report["method_info"]
    assert info["k"] == 1 and info["layers_total"] == 2 and info["token"] == ("last" if "llama" in name else "first")
    assert info["representation"] in ("hidden", "mlp") and info["pooling"] in ("mean", "max", "token")
    assert sum(info["neurons_per_layer"]) == info["features"] >= 1
    head = load_predictor(run.model_dir).head
    assert report["trainable_params"] == np.count_nonzero(head.coef) + 3
    assert report["total_params"] > report["trainable_params"]
    assert report["inference"]["layers_run"] == 1 and report["inference"]["max_abs_difference"] < 1e-5
    assert (
        report["test_examples_per_second"] == report["inference"]["test_examples_per_second"] > 0
    )  # as the grid reads it
    steps = [line["step"] for line in run.lines]
    assert all("loss" in line for line in run.lines) and steps == sorted(set(steps))
    assert {line["phase"] for line in run.lines} == {"probe", "head"}
    assert run.steps[-1][0] == run.steps[-1][1]  # progress reaches its total
    assert not (run.dir / "stc_features").exists()  # the feature cache is removed


def test_saved_run_has_no_pickle_and_predicts(tiny_run):
    name, run, data, report = tiny_run
    files = [p for p in run.model_dir.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix in (".bin", ".pkl", ".pt", ".pth", ".joblib")]
    assert (run.model_dir / "backbone" / "model.safetensors").exists()
    predictor = load_predictor(run.model_dir)
    assert predictor.num_layers_run == 1 and len(model_layers(predictor.backbone)) == 1  # saved: first k blocks
    proba = predictor.predict_proba(data["test"].texts)
    assert proba.shape == (len(data["test"]), 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-5)
    accuracy = (proba.argmax(1) == np.array(data["test"].labels)).mean()
    assert accuracy == pytest.approx(report["test"]["accuracy"], abs=1 / len(data["test"]) + 1e-9)
    assert predictor.predict(["apple banana"])[0] in data.label_names


def test_early_exit_equals_full_depth(tiny_run):
    """The saved k-layer run and the same head on the full 2-layer model predict the same; the hook really stops."""
    from adapt_core.models import load_classifier

    name, run, data, _ = tiny_run
    early = load_predictor(run.model_dir)
    full_model, _ = load_classifier(name, 3, data.label_names, seed=0)  # the same seeded weights as the run
    full = full_model.base_model.eval()
    full_depth = StcPredictor(full, early.tokenizer, early.head, early_exit=False)
    texts = data["test"].texts + ["a completely unseen text of some length"]
    np.testing.assert_allclose(early.predict_proba(texts), full_depth.predict_proba(texts), atol=1e-5)
    calls = []
    model_layers(full).blocks[1].register_forward_hook(lambda *a: calls.append(1))
    StcPredictor(full, early.tokenizer, early.head, early_exit=True).predict_proba(texts[:2])
    assert not calls  # early exit on the full model never enters block 1
    full_depth.predict_proba(texts[:2])
    assert calls


def test_figures_build_from_the_saved_search(tiny_run):
    from adapt_core.plots import stc_figures as stc_plots

    _, run, _, _ = tiny_run
    search = stc_fit.search_table(run.model_dir)
    assert len(stc_plots.layer_scores(search).data) == len(
        {(r["representation"], r["pooling"]) for r in search["probes"]}
    )
    saliency = stc_plots.saliency_map(search)
    assert len(saliency.data[0].x) == len(search["kept"])
    assert stc_plots.score_vs_size(search).data
    for figure in (stc_plots.layer_scores, stc_plots.saliency_map, stc_plots.score_vs_size):
        assert figure({}).layout.annotations  # an empty search says so instead of failing


class SpyLabels(Sequence):
    """Labels that record whether anything read them."""

    def __init__(self, labels):
        self._labels, self.read = list(labels), False

    def __getitem__(self, i):
        self.read = True
        return self._labels[i]

    def __len__(self):
        self.read = True
        return len(self._labels)


def test_choices_are_made_on_dev_only(tmp_path, monkeypatch):
    data = toy_task()
    spy = SpyLabels(data["test"].labels)
    data.splits["test"] = Split(data["test"].texts, spy)
    original, seen = stc_fit.choose, []

    def spying_choose(*args, **kwargs):
        seen.append(spy.read)
        return original(*args, **kwargs)

    monkeypatch.setattr(stc_fit, "choose", spying_choose)
    config = StcConfig(**{**SMALL, "representations": ("hidden",), "poolings": ("mean",), "timing_examples": 0})
    report = fit_run(FakeRun(tmp_path), data, "tiny-bert", config, seed=0)
    assert seen == [False]  # every choice was made before any test label was read
    assert spy.read and "test" in report  # and test is read afterwards, to report


def test_the_training_seed_does_not_enter_a_fit_on_a_pretrained_model(tmp_path):
    """On pretrained weights STC has no training randomness (frozen features, a deterministic solver, choices on
    dev): the grid's seeds repeat one computation, so their spread is not a seed spread. (A tiny model's weights
    are drawn from the seed, so this needs the packaged MiniLM.)"""
    config = StcConfig(**{**SMALL, "poolings": ("mean",), "timing_examples": 0}, max_layers=2)
    heads = []
    for seed in (0, 1):
        run = FakeRun(tmp_path / f"seed{seed}")
        report = fit_run(run, toy_task(), "minilm-l6", config, seed=seed)
        heads.append((report["dev"], load_predictor(run.model_dir).head))
    (dev0, head0), (dev1, head1) = heads
    assert dev0 == dev1
    np.testing.assert_array_equal(head0.coef, head1.coef)
    np.testing.assert_array_equal(head0.neurons, head1.neurons)


# -------------------------------------------------------------------------------------------- bad input


def test_dev_split_too_small_or_lacking_classes(tmp_path):
    data = toy_task()
    one_class = TaskData("x", data.label_names, {**data.splits, "dev": Split(["apple", "cherry"] * 3, [0] * 6)})
    with pytest.raises(AdaptError, match="dev has 1 class"):
        fit_run(FakeRun(tmp_path), one_class, "tiny-bert", StcConfig(**SMALL))
    tiny_dev = TaskData("x", data.label_names, {**data.splits, "dev": Split(["apple", "river"], [0, 1])})
    with pytest.raises(AdaptError, match="needs at least 2 per class"):
        fit_run(FakeRun(tmp_path), tiny_dev, "tiny-bert", StcConfig(**SMALL))
    names = [f"c{i}" for i in range(6)]
    train = Split([f"word{i % 6} text" for i in range(36)], [i % 6 for i in range(36)])
    lacking = TaskData("x", names, {"train": train, "dev": Split(["a", "b"] * 10, [0, 1] * 10), "test": train})
    with pytest.raises(AdaptError, match="dev lacks 4 of train's 6 classes"):
        fit_run(FakeRun(tmp_path), lacking, "tiny-bert", StcConfig(**SMALL))


def test_a_dev_split_missing_one_class_is_noted_not_refused():
    data = toy_task()
    train = Split(data["train"].texts + ["zzz"] * 2, data["train"].labels + [3] * 2)
    task = TaskData("x", [*data.label_names, "rare"], {**data.splits, "train": train})
    assert stc_fit.check_data(task) == ["dev lacks class(es) rare: the dev-based choices cannot account for them"]


def test_models_that_cannot_be_hooked():
    with pytest.raises(AdaptError, match="cannot find the transformer blocks"):
        model_layers(nn.Sequential(nn.Linear(4, 4)))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.Linear(4, 4)

    class NoMlp(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([Block(), Block()])

    layers = model_layers(NoMlp())
    assert len(layers) == 2
    with pytest.raises(AdaptError, match="MLP down-projection"):
        LayerCapture(layers, ("hidden", "mlp"), 2, "first")
    LayerCapture(layers, ("hidden",), 2, "first")  # the hidden states alone still work


def test_stc_finds_the_blocks_wherever_adapt_does():
    """One block finder (anatomy.find_blocks): a block list at a path no family uses is still found by both."""
    from adapt_core.anatomy import find_blocks

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = nn.Module()
            self.mlp.down_proj = nn.Linear(4, 4)

    class Odd(nn.Module):
        def __init__(self):
            super().__init__()
            self.stack = nn.ModuleList([Block() for _ in range(3)])

    model = Odd()
    layers = model_layers(model)
    assert find_blocks(model)[0] == layers.path == "stack" and len(layers) == 3
    assert layers.down_proj[0] is model.stack[0].mlp.down_proj


@pytest.mark.parametrize("model", ["tiny-bert", "tiny-llama"])
def test_stc_runs_through_the_registry_and_the_cli(model, tmp_path):
    """STC is a registered method: `train --method stc` with its options as flags, reloaded by `predict`."""
    from helpers_toy import write_toy_jsonl

    from adapt_core.cli import main
    from adapt_core.predictor import load_predictor as load_run_predictor

    data = write_toy_jsonl(tmp_path / "toy.jsonl", n=90)
    run_dir = tmp_path / "run"
    flags = [
        "--etas",
        "0.5,1.0",
        "--probe-cs",
        "0.3",
        "--head-cs",
        "0.3",
        "--timing-examples",
        "0",
        "--max-layers",
        "1",
    ]
    args = ["train", "--dataset", str(data), "--model", model, "--method", "stc", *flags, "--quiet"]
    assert main([*args, "--run-dir", str(run_dir)]) == 0
    config = json.loads((run_dir / "config.json").read_text())
    assert config["method"] == "stc" and config["settings"]["etas"] == [0.5, 1.0]
    predictor = load_run_predictor(run_dir)
    assert len(predictor.predict(["alpha river stone"])) == 1


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"etas": (0.0, 0.5)}, "etas must be numbers in"),
        ({"poolings": ("mean", "median")}, "poolings must be a non-empty subset"),
        ({"representations": ()}, "representations must be"),
        ({"probe_cs": (-1.0,)}, "probe_cs must be positive"),
        ({"solver": "liblinear"}, "solver must be one of"),
        ({"max_layers": 0}, "max_layers must be"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(AdaptError, match=message):
        StcConfig(**kwargs)


def test_config_round_trips_through_json():
    config = StcConfig(etas=(0.2, 0.4), base_run="runs/x")
    again = StcConfig(**json.loads(json.dumps(config.to_dict())))
    assert again == config and isinstance(again.etas, tuple)


def test_base_run_must_be_a_finetuned_run(tmp_path):
    with pytest.raises(AdaptError, match="has no finetuned model"):
        fit_run(FakeRun(tmp_path / "r"), toy_task(), "tiny-bert", StcConfig(**SMALL, base_run=str(tmp_path)))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "stc.json").write_text("{}")
    with pytest.raises(AdaptError, match="is an STC run"):
        fit_run(FakeRun(tmp_path / "r"), toy_task(), "tiny-bert", StcConfig(**SMALL, base_run=str(tmp_path)))


def test_the_test_predictions_are_kept(tiny_run):
    """predictions.json (the Analysis page's examples) holds every test example and agrees with the evaluation."""
    from adapt_core.run_analysis import load_evaluation

    name, run, data, report = tiny_run
    ev = load_evaluation(run.dir)
    assert list(ev.predictions["text"]) == data["test"].texts
    assert int(ev.predictions["correct"].sum()) == int(np.trace(ev.confusion))
    assert ev.predictions["correct"].mean() == pytest.approx(report["test"]["accuracy"])
