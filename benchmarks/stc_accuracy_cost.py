"""Sparsify-then-Classify (SPIN) on the five shared tasks with MiniLM-L6: its accuracy and what it costs.

What it measures, per task (train subsampled with `--max-train`, dev/test with `--max-eval`; stratified, seeded):
- macro-F1 on test of STC on the frozen model, against the last-layer linear probe (hidden state, first-token and
  mean pooling, the same L1 solver with C chosen on dev) and the best single-layer probe (chosen on dev);
- STC's training time (one frozen feature pass + every probe and head), split into its phases;
- inference examples per second of the saved early-exit run against the same head on the full-depth model,
  measured side by side (alternating, best of two) on dev texts, and the largest probability difference;
- with `--base-run DIR …`: STC on each finetuned run's model, on the run's dataset and data slices, beside the
  run's own test macro-F1 (end-to-end finetuning, from its report.json);
- once, the torch L1 solver against scikit-learn's saga on one probe problem (same C, same data): time and the
  objective each reaches.
Prints a Markdown table and writes `benchmarks/results/stc.json` with the machine, versions and date.

    python benchmarks/stc_accuracy_cost.py          # five tasks, 1000 train / 500 dev / 500 test each
    python benchmarks/stc_accuracy_cost.py --quick  # two tasks, tiny slices: a smoke test
    python benchmarks/stc_accuracy_cost.py --parts --base-run RUN …  # only STC on finetuned runs, added to the results
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: spinning threads thrash a shared CPU

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _env import environment  # noqa: E402

from adapt_core.data import BENCHMARKS, DataConfig, load_dataset  # noqa: E402
from adapt_core.stc_fit import StcConfig, fit_run  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "stc.json"


class _Run:
    """The part of a RunWriter that `fit_run` uses, writing into a temporary folder."""

    def __init__(self, folder: Path):
        self.dir, self.model_dir, self.lines = folder, folder / "model", 0

    def log(self, record: dict) -> None:
        self.lines += 1

    def progress(self, step: int, total: int) -> None:
        if step % 50 == 0 or step == total:
            print(f"    {step}/{total}", file=sys.stderr, flush=True)


def run_task(task: str, args, config: StcConfig, base_run: str | None = None) -> dict:
    data = load_dataset(task, _data_config(args, base_run))
    cfg = StcConfig(**{**config.to_dict(), "base_run": base_run})
    with tempfile.TemporaryDirectory() as folder:
        report = fit_run(_Run(Path(folder)), data, args.model, cfg, args.seed)
    info, inference = report["method_info"], report["inference"]
    probes = info["reference_probes"]
    finetuned = json.loads((Path(base_run) / "report.json").read_text()) if base_run else {}
    return {
        "finetuned_test_macro_f1": finetuned.get("test", {}).get("macro_f1"),
        "task": task,
        "setting": "finetuned" if base_run else "frozen",
        "base_run": base_run,
        "sizes": {s: len(data[s]) for s in ("train", "dev", "test")},
        "classes": data.num_labels,
        "stc_test_macro_f1": report["test"]["macro_f1"],
        "stc_dev_macro_f1": report["dev"]["macro_f1"],
        "last_layer_token_test_macro_f1": probes.get("last_layer_token", {}).get("test_macro_f1"),
        "last_layer_mean_test_macro_f1": probes.get("last_layer_mean", {}).get("test_macro_f1"),
        "best_layer_probe": {
            k: probes["best_layer"][k] for k in ("representation", "pooling", "layer", "test_macro_f1")
        },
        "choice": {k: info[k] for k in ("representation", "pooling", "eta", "k", "C", "features", "neurons_per_layer")},
        "train_seconds": report["train_seconds"],
        "phase_seconds": {k: info[k] for k in ("feature_seconds", "probe_seconds", "head_seconds")},
        "trainable_params": report["trainable_params"],
        "total_params": report["total_params"],
        "inference": inference,
        "notes": info["notes"] + report["data_notes"],
    }


def _data_config(args, base_run: str | None) -> DataConfig:
    """The benchmark's slices, or a finetuned run's own data config (so both are scored on the same test set)."""
    if not base_run:
        return DataConfig(max_train=args.max_train, max_eval=args.max_eval, seed=args.seed)
    from dataclasses import fields

    saved = json.loads((Path(base_run) / "config.json").read_text()).get("data", {})
    return DataConfig(**{f.name: saved[f.name] for f in fields(DataConfig) if f.name in saved})


def solver_check(task: str, args) -> dict:
    """Torch FISTA vs scikit-learn saga on the last-layer mean-pooled probe of `task` (C = 0.3), alternating."""
    import torch

    from adapt_core.models import load_classifier
    from adapt_core.stc_features import FeatureStore, collect, model_layers, probe_widths
    from adapt_core.stc_solver import Standardizer, fit_path, objective

    data = load_dataset(task, DataConfig(max_train=args.max_train, max_eval=args.max_eval, seed=args.seed))
    model, tokenizer = load_classifier(args.model, data.num_labels)
    backbone = model.base_model.eval()
    last = len(model_layers(backbone)) - 1
    widths = {
        k: v
        for k, v in probe_widths(backbone, model_layers(backbone), ("hidden",), last + 1, "first").items()
        if k == ("hidden", last)
    }
    with tempfile.TemporaryDirectory() as folder:
        store = FeatureStore(Path(folder))
        with torch.no_grad():
            collect(backbone, tokenizer, {"train": data["train"].texts}, store, widths, last + 1, "first", 128, 32)
        raw = store.get("train", "hidden", last, "mean")
    x, y = Standardizer.fit(raw)(raw), np.asarray(data["train"].labels)
    out = {"task": task, "C": 0.3, "shape": list(x.shape), "classes": data.num_labels}
    for _ in range(2):
        for solver, max_iter, tol in (("torch", 2000, 1e-7), ("sklearn", 1000, 1e-4)):
            t0 = time.perf_counter()
            fit = fit_path(x, y, data.num_labels, (0.3,), max_iter, tol, solver)[0]
            seconds = time.perf_counter() - t0
            if seconds < out.get(f"{solver}_seconds", float("inf")):
                out |= {
                    f"{solver}_seconds": seconds,
                    f"{solver}_objective": objective(fit, x, y),
                    f"{solver}_iterations": fit.n_iter,
                    f"{solver}_nonzero": fit.nonzero,
                }
    out["speedup"] = out["sklearn_seconds"] / out["torch_seconds"]
    return out


def exit_curve(task: str, args, rounds: int = 3, examples: int = 128) -> list[dict]:
    """Examples/s of running the first k blocks (hooks on, sentinel stop) against all blocks, for every k.

    The head reads one neuron per layer (its content does not matter for timing): this isolates what early exit
    saves in the backbone, whichever k a task's search picks. Alternating, best of `rounds`.
    """
    from adapt_core.models import load_classifier
    from adapt_core.stc_features import model_layers
    from adapt_core.stc_model import StcHead, StcPredictor

    data = load_dataset(task, DataConfig(max_train=args.max_train, max_eval=args.max_eval, seed=args.seed))
    model, tokenizer = load_classifier(args.model, data.num_labels)
    backbone, texts = model.base_model.eval(), data["dev"].texts[:examples]
    total, out = len(model_layers(backbone)), []
    for k in range(1, total + 1):
        one = np.ones(k, dtype=np.float32)
        head = StcHead(
            "hidden",
            "mean",
            k,
            np.arange(k),
            np.zeros(k, dtype=np.int64),
            0 * one,
            one,
            np.zeros((2, k), np.float32),
            np.zeros(2, np.float32),
            one,
            ["a", "b"],
            "first",
        )
        best = {True: float("inf"), False: float("inf")}
        for _ in range(rounds):
            for early in (True, False):
                t0 = time.perf_counter()
                StcPredictor(backbone, tokenizer, head, early_exit=early).predict_proba(texts)
                best[early] = min(best[early], time.perf_counter() - t0)
        out.append(
            {
                "k": k,
                "layers_total": total,
                "early_exit_examples_per_second": len(texts) / best[True],
                "full_depth_examples_per_second": len(texts) / best[False],
                "speedup": best[False] / best[True],
            }
        )
        print(json.dumps(out[-1]), file=sys.stderr, flush=True)
    return out


def machine() -> dict:
    """The house environment record (`_env.environment`), plus what STC's timings depend on here."""
    import sklearn

    return {
        **environment(),
        "scikit_learn": sklearn.__version__,
        "load_average": os.getloadavg(),
        "time": time.strftime("%H:%M:%S"),
    }


def table(rows: list[dict]) -> str:
    head = (
        "| task | setting | train/dev/test | STC macro-F1 | last-layer probe (token / mean) | best layer probe | "
        "choice (rep, pool, η, k, neurons) | train s | ex/s early exit / full | speedup |"
    )
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        c, inf = r["choice"], r["inference"]
        sizes = "/".join(str(r["sizes"][s]) for s in ("train", "dev", "test"))
        best = r["best_layer_probe"]
        setting = r["setting"]
        if r.get("finetuned_test_macro_f1") is not None:
            setting += f" (the run itself: {r['finetuned_test_macro_f1']:.3f})"
        lines.append(
            f"| {r['task']} | {setting} | {sizes} | {r['stc_test_macro_f1']:.3f} | "
            f"{_f(r['last_layer_token_test_macro_f1'])} / {_f(r['last_layer_mean_test_macro_f1'])} | "
            f"{best['test_macro_f1']:.3f} ({best['representation']} L{best['layer']} {best['pooling']}) | "
            f"{c['representation']}, {c['pooling']}, {c['eta']}, {c['k']}/{inf['layers_total']}, {c['features']} | "
            f"{r['train_seconds']:.0f} | {_f(inf.get('early_exit_examples_per_second'), 0)} / "
            f"{_f(inf.get('full_depth_examples_per_second'), 0)} | {_f(inf.get('speedup'), 2)}x |"
        )
    return "\n".join(lines)


def _f(value, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="Two tasks, tiny slices, small grids (a smoke test).")
    p.add_argument("--tasks", nargs="*", default=None, help=f"Subset of {', '.join(BENCHMARKS)}.")
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--max-train", type=int, default=1000, help="Train examples per task (stratified sample).")
    p.add_argument("--max-eval", type=int, default=500, help="Dev and test examples per task.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--base-run",
        nargs="*",
        default=[],
        help="Also run STC on these finetuned runs' models (each on "
        "its run's dataset and slices); a row for the same run is replaced.",
    )
    p.add_argument(
        "--parts",
        nargs="*",
        default=["solver", "tasks", "exit"],
        choices=("solver", "tasks", "exit"),
        help="What to measure: the solver comparison, the tasks table, the early-exit curve. Without "
        "'tasks', the other parts are merged into the existing results file.",
    )
    p.add_argument("--output", type=Path, default=RESULTS)
    args = p.parse_args(argv)
    config = StcConfig()
    if args.quick:
        args.max_train, args.max_eval = 200, 120
        config = StcConfig(etas=(0.1, 0.5), probe_cs=(0.3,), head_cs=(0.3,), timing_examples=64)
    tasks = args.tasks or (["acl_arc", "scicite"] if args.quick else list(BENCHMARKS))
    fresh = {
        "machine": machine(),
        "args": {k: str(v) for k, v in vars(args).items() if k != "output"},
        "config": config.to_dict(),
        "rows": [],
    }
    keep = "tasks" not in args.parts and args.output.exists()
    result = (
        {**json.loads(args.output.read_text()), "machine_" + "_".join(args.parts): fresh["machine"]} if keep else fresh
    )
    if "solver" in args.parts:
        result["solver_check"] = solver_check("scicite" if args.quick else "scierc", args)
        print(json.dumps(result["solver_check"]), file=sys.stderr)
    if "exit" in args.parts:
        result["exit_curve"] = exit_curve(tasks[-1], args)
        _write(args.output, result)
    for task in tasks if "tasks" in args.parts else []:
        print(f"== {task}", file=sys.stderr, flush=True)
        result["rows"].append(run_task(task, args, config))
        _write(args.output, result)
    for base_run in args.base_run:
        task = json.loads((Path(base_run) / "config.json").read_text())["dataset"]
        print(f"== {task} on {base_run}", file=sys.stderr, flush=True)
        row = run_task(task, args, config, base_run=str(base_run))
        result["rows"] = [r for r in result["rows"] if r.get("base_run") != row["base_run"]] + [row]
        _write(args.output, result)
    result["table"] = table(result["rows"])
    _write(args.output, result)
    print(result["table"])
    if result.get("exit_curve"):
        print("\n| k / layers | early exit ex/s | full depth ex/s | speedup |\n|---|---|---|---|")
        for r in result["exit_curve"]:
            print(
                f"| {r['k']}/{r['layers_total']} | {r['early_exit_examples_per_second']:.0f} | "
                f"{r['full_depth_examples_per_second']:.0f} | {r['speedup']:.2f}x |"
            )
    return 0


def _write(path: Path, result: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


if __name__ == "__main__":
    raise SystemExit(main())
