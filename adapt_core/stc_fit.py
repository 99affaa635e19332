"""Sparsify-then-Classify (SPIN, Liu, Jiao, Anderson, arXiv 2311.15983) on a frozen or finetuned model.

One frozen pass collects, for every layer, hidden states and MLP activations pooled three ways (`stc_features`).
Then, on those cached features only:
1. **Probes**: per (representation, pooling, layer) an L1 logistic regression on standardised features, C chosen
   on dev (the best-dev probe is the one kept; the official code kept whichever C finished last).
2. **Sparsify**: neuron importance = Σ_c (w_ci − w̄_i)², the squared weights summed over classes after removing
   each neuron's mean over classes (the softmax is blind to that shift; for two classes this is ∝ w_i², the
   paper's rule, which only looked at class 0 and so breaks on multi-class tasks). Keep the fewest neurons whose
   importance reaches η of the layer's total — the neuron crossing the line is kept, so at least one per layer.
3. **Integrate**: the kept neurons of layers [0, k) are concatenated and a final L1 head is fitted.
4. **Choose** representation, pooling, η, k and the head's C by the dev metric (macro-F1 by default); ties go to
   fewer layers, then fewer neurons. Test labels are read once, after every choice, to report.
Inference runs only the first k blocks (`stc_model.StcPredictor`, early exit).

Cost control (2 CPU cores are enough for MiniLM on a few thousand examples): features are computed once and kept
on disk; each probe's C grid is solved in one pass (`stc_solver`: torch FISTA, measured 14x faster than saga at the
same objective); kept-neuron sets are nested in η, so the features of the largest η are loaded once per
(representation, pooling); the η × k grid of heads is screened at one C (nearest the probes' median choice,
`screen_max_iter` steps, warm-started from the previous k) and only the best `refine_top` points are refitted over
the whole `head_cs` grid; for deep models k is thinned to `max_k_candidates` values and `max_layers` bounds the
pass itself. `solver="sklearn"` uses saga everywhere instead.

Options and the dev-size rule live in `stc_config`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from adapt_core.data import TaskData
from adapt_core.errors import AdaptError
from adapt_core.stc_config import StcConfig, check_data
from adapt_core.stc_features import (
    FeatureStore,
    collect,
    is_causal,
    model_layers,
    num_batches,
    probe_widths,
    store_bytes,
)
from adapt_core.stc_model import StcHead, StcPredictor, load_predictor, save_backbone
from adapt_core.stc_search import (
    Tracker,
    build_head,
    choose,
    fit_heads,
    fit_probes,
    head_features,
    k_candidates,
    neuron_importance,
    scores,
    select_neurons,
)

__all__ = [
    "StcConfig",
    "StcHead",
    "StcPredictor",
    "check_data",
    "fit_run",
    "k_candidates",
    "load_predictor",
    "neuron_importance",
    "search_table",
    "select_neurons",
]


def fit_run(run, data: TaskData, model_name: str, config: StcConfig, seed: int = 0) -> dict:
    """STC as a method: features → probes → heads → choice on dev → save into `run.model_dir` → the report.

    `run` needs `dir`, `model_dir`, `log(dict)` and `progress(step, total)` (a `run_writer.RunWriter`). The feature
    cache lives in `run.dir / "stc_features"` and is removed at the end unless `keep_features`.
    """
    from adapt_core.models import count_parameters, pick_device
    from adapt_core.train import reset_peak_memory

    notes = check_data(data)
    device = pick_device(config.device)
    reset_peak_memory(device)
    model, tokenizer, source = _load_model(model_name, data, config, seed)
    start = time.perf_counter()  # like the gradient methods' train_seconds: from a loaded model to a fitted one
    backbone = model.base_model.to(device).eval()
    layers = model_layers(backbone)
    num_layers = min(len(layers), config.max_layers or len(layers))
    token = "last" if is_causal(backbone) else "first"
    widths = probe_widths(backbone, layers, config.representations, num_layers, token)
    texts = {split: data[split].texts for split in ("train", "dev", "test")}
    float16 = store_bytes(sum(map(len, texts.values())), widths) > config.float16_above_mb * 2**20
    store = FeatureStore(Path(run.dir) / "stc_features", float16)
    tracker = Tracker(run, _total_steps(texts, num_layers, config))
    try:
        t0 = time.perf_counter()
        collect(
            backbone,
            tokenizer,
            texts,
            store,
            widths,
            num_layers,
            token,
            config.max_length,
            config.batch_size,
            on_batch=tracker.tick,
        )
        times = {"feature_seconds": time.perf_counter() - t0}
        head, search = _search(store, data, num_layers, token, config, device, tracker, times)
        train_seconds = time.perf_counter() - start
        # Every choice is final here; test labels are read from this point on, to report.
        evaluation = {split: _evaluate(store, head, data, split) for split in ("dev", "test")}
        if getattr(run, "enabled", True):  # the test examples with their predictions (the studio's Analysis page)
            from adapt_core.run_analysis import write_predictions

            write_predictions(run.dir, data["test"], head.proba(head_features(store, "test", head)), data.label_names)
        search["reference_probes"] = _reference_probes(store, search.pop("probe_objects"), data, num_layers)
    finally:
        if not config.keep_features:
            store.remove()
    _save(run, head, backbone, tokenizer, search)
    tracker.finish()
    info = {
        **head.info,
        **times,
        "layers_total": len(layers),
        "layers_probed": num_layers,
        "token": token,
        "float16_features": float16,
        "solver": config.solver,
        "source": source,
        "notes": notes,
        "reference_probes": search["reference_probes"],
        "config": config.to_dict(),
    }
    return _report(
        run,
        data,
        head,
        evaluation,
        train_seconds,
        count_parameters(backbone).total,
        info,
        _time_inference(run, backbone, tokenizer, head, texts, config),
        tokenizer,
        device,
    )


def _total_steps(texts: dict[str, list[str]], num_layers: int, config: StcConfig) -> int:
    batches = sum(num_batches(len(t), config.batch_size) for t in texts.values())
    combos = len(config.representations) * len(config.poolings)
    heads = combos * len(config.etas) * len(k_candidates(num_layers, config.max_k_candidates))
    return batches + combos * num_layers + heads + config.refine_top + 1


def _load_model(model_name: str, data: TaskData, config: StcConfig, seed: int):
    """(sequence-classification model, tokenizer, source): the base model, or a finetuned run's model."""
    from adapt_core.models import load_classifier

    if not config.base_run:
        model, tokenizer = load_classifier(model_name, data.num_labels, data.label_names, seed)
        return model, tokenizer, {"model": model_name}
    folder = Path(config.base_run) / "model"
    if (folder / "stc.json").exists():
        raise AdaptError(f"{config.base_run} is an STC run: STC needs a finetuned (gradient-trained) run as its base")
    if not (folder / "config.json").exists():
        raise AdaptError(f"{config.base_run} has no finetuned model (model/config.json): pick a completed run folder")
    from adapt_core.methods import load_trained

    try:
        model, tokenizer = load_trained(folder)
    except (OSError, ValueError) as err:
        raise AdaptError(f"cannot load the model of run {config.base_run}: {err}") from err
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return model, tokenizer, {"base_run": str(config.base_run)}


def _search(
    store, data: TaskData, num_layers: int, token: str, config: StcConfig, device, tracker, times: dict
) -> tuple[StcHead, dict]:
    """Probes, heads and the choice, from train and dev labels only (test labels are not passed in)."""
    y_train, y_dev = np.asarray(data["train"].labels), np.asarray(data["dev"].labels)
    t0 = time.perf_counter()
    probes = fit_probes(store, y_train, y_dev, data.num_labels, num_layers, config, device, tracker)
    times["probe_seconds"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    rows, best_by_k = fit_heads(store, probes, y_train, y_dev, data.num_labels, num_layers, config, device, tracker)
    times["head_seconds"] = time.perf_counter() - t0
    chosen = choose(best_by_k, config.metric, config.k_tolerance)
    head = build_head(chosen, probes, data.label_names, token, config.max_length)
    head.info["dev"] = chosen.dev
    search = {
        "probes": [p.row() for p in probes.values()],
        "heads": rows,
        "chosen": head.info,
        "num_layers": num_layers,
        "token": token,
        "probe_objects": probes,
    }
    return head, search


def _evaluate(store, head: StcHead, data: TaskData, split: str):
    from adapt_core.evaluate import evaluate

    proba = head.proba(head_features(store, split, head))
    return evaluate(data[split].labels, proba.argmax(1), data.label_names)


def _reference_probes(store, probes: dict, data: TaskData, num_layers: int) -> dict:
    """Dev and test scores of the last-layer probes (hidden, each pooling) and of the best single-layer probe."""
    picks = {
        f"last_layer_{p.pooling}": p
        for p in probes.values()
        if p.representation == "hidden" and p.layer == num_layers - 1
    }
    picks["best_layer"] = max(probes.values(), key=lambda p: (p.dev["macro_f1"], -p.dev["log_loss"]))
    out = {}
    for name, probe in picks.items():
        x = probe.standardizer(store.get("test", probe.representation, probe.layer, probe.pooling))
        test = scores(np.asarray(data["test"].labels), probe.fit.proba(x))
        out[name] = {**probe.row(), **{f"test_{k}": v for k, v in test.items()}}
    return out


def _save(run, head: StcHead, backbone, tokenizer, search: dict) -> None:
    from adapt_core.fileio import atomic_write_json

    model_dir = Path(run.model_dir)
    head.save(model_dir)
    save_backbone(backbone, tokenizer, head.k, model_dir / "backbone")
    kept = [
        {"layer": int(layer), "neuron": int(n), "saliency": float(s)}
        for layer, n, s in zip(head.layers, head.neurons, head.saliency, strict=True)
    ]
    atomic_write_json(model_dir / "stc_search.json", {**search, "kept": kept})


def _time_inference(run, backbone, tokenizer, head: StcHead, texts: dict[str, list[str]], config: StcConfig) -> dict:
    """Examples per second of the saved early-exit run against the same head on the full-depth model (a dev sample),
    and of the saved run over the whole test set, as the gradient methods' saved models are timed."""
    out = {"layers_run": head.k, "layers_total": len(model_layers(backbone))}
    sample = texts["dev"][: config.timing_examples]
    if not sample:
        return out
    early = load_predictor(run.model_dir, device=config.device)
    t0 = time.perf_counter()
    early.predict_proba(texts["test"])
    out["test_examples_per_second"] = len(texts["test"]) / max(time.perf_counter() - t0, 1e-9)
    full = StcPredictor(backbone, tokenizer, head, early_exit=False)
    best = {"early_exit": float("inf"), "full_depth": float("inf")}
    for _ in range(2):  # alternate, keep the fastest of each: the machine is shared and noisy
        for name, predictor in (("early_exit", early), ("full_depth", full)):
            t0 = time.perf_counter()
            proba = predictor.predict_proba(sample)
            best[name] = min(best[name], time.perf_counter() - t0)
            out[f"{name}_proba"] = proba
    diff = float(np.abs(out.pop("early_exit_proba") - out.pop("full_depth_proba")).max())
    return {
        **out,
        "examples": len(sample),
        "max_abs_difference": diff,
        **{f"{k}_examples_per_second": len(sample) / v for k, v in best.items()},
        "speedup": best["full_depth"] / best["early_exit"],
    }


def _report(run, data, head, evaluation, train_seconds, total_params, info, inference, tokenizer, device) -> dict:
    from adapt_core.fileio import atomic_write_json
    from adapt_core.train import peak_memory_bytes

    if getattr(run, "enabled", True):
        atomic_write_json(
            Path(run.dir) / "evaluation.json",
            {"label_names": data.label_names, **{k: v.to_dict() for k, v in evaluation.items()}},
        )
    lengths = [len(ids) for ids in tokenizer(data["test"].texts, add_special_tokens=False)["input_ids"]]
    return {
        "dev": evaluation["dev"].scores(),
        "test": evaluation["test"].scores(),
        "train_seconds": train_seconds,
        "trainable_params": head.trainable_params,
        "total_params": int(total_params),
        "method_info": {"method": "stc", **info},
        "inference": inference,
        "test_examples_per_second": inference.get("test_examples_per_second"),
        "peak_memory_bytes": peak_memory_bytes(device),
        "tokens_per_example": float(np.mean(lengths)),
        "data_notes": data.notes,
        "device": str(device),
    }


def search_table(model_dir: Path | str) -> dict:
    """The saved search of an STC run (probe rows, head rows, kept neurons, reference probes), for the figures."""
    path = Path(model_dir) / "stc_search.json"
    if not path.exists():
        raise AdaptError(f"{model_dir} has no stc_search.json: is it an STC run's model folder?")
    return json.loads(path.read_text())
