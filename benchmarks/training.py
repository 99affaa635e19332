"""Training cost and accuracy of AdaPT beside every baseline, all through the one training loop.

    python benchmarks/training.py                  # cost (step time, optimizer state) + accuracy grid, CPU-sized
    python benchmarks/training.py --part cost      # only the side-by-side cost comparison
    python benchmarks/training.py --quick          # tiny-bert on small slices: checks that the script runs

Cost: minilm-l6, batch 32, each method prepared once (seed 0); then the methods' training loops (`train_steps`,
same seed, so the same batches) advance one step each in turn, the order rotating every step, so load from other
processes on a shared machine hits every method alike. Reported per method: trainable parameters, AdamW state
bytes (the loop's own count), mean step time (wall time of one step of the loop, first step left out), tokens/s,
and the step-time ratio to full finetuning: per step index, then the median. AdaPT runs at top-k 10 % with the
dataset's new tokens (mined, see below).

Accuracy: every method × dataset × seed trains the same number of steps with the same data order, then test
macro-F1 (mean ± sample std over seeds). Learning rates: one shared rate for the methods that train pretrained
weights (full, full+tokens, adapt, adapt-no-tokens, layers), peft's usual higher rates for LoRA and prefix tuning
(their new parameters start at zero / random); all are flags.

New tokens: mined from each training split with the project's miner (`candidates.find_candidates`) *without* the
PPLu scorer (scoring with SmolLM2 is too slow for a CPU benchmark), so the most frequent whole-word candidates up
to the cap are accepted unvetted: a stand-in for a domain expert's list, stated in the results.

Writes benchmarks/results/training.json (not with --quick) with the machine, versions and date, and
prints Markdown tables.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from _env import environment

from adapt_core.data import DataConfig, Split, TaskData, load_dataset
from adapt_core.methods import get_method, method_config, prepare
from adapt_core.models import load_classifier
from adapt_core.train import TrainConfig, evaluate_split, train_steps

RESULTS = Path(__file__).parent / "results"
METHODS = ("full", "adapt", "lora", "prefix", "layers", "full+tokens", "adapt-no-tokens")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("all", "cost", "accuracy"), default="all")
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--datasets", default="banking77,scierc")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--top-k", type=float, default=10.0)
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--cost-steps", type=int, default=16, help="Cost: steps per method, interleaved.")
    p.add_argument("--steps", type=int, default=100, help="Accuracy: optimizer steps per run.")
    p.add_argument("--seeds", default="0,1,2")
    p.add_argument("--max-train", type=int, default=None, help="Accuracy: train slice (default: all).")
    p.add_argument("--max-eval", type=int, default=500, help="Dev and test examples per dataset.")
    p.add_argument("--lr", type=float, default=1e-4, help="Full, layers, AdaPT and the ablations.")
    p.add_argument("--lora-lr", type=float, default=1e-3)
    p.add_argument("--prefix-lr", type=float, default=1e-2)
    p.add_argument("--token-init", choices=("random", "mean"), default="random")
    p.add_argument("--max-new-tokens", type=int, default=None, help="Cap on accepted mined tokens.")
    p.add_argument("--calibration-size", type=int, default=None, help="AdaPT calibration examples (512).")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 = steady timings on shared CPUs).")
    p.add_argument("--append", action="store_true", help="With --part: add to that part's results, not replace.")
    p.add_argument("--quick", action="store_true", help="tiny-bert, small slices, 1 seed, few steps")
    args = p.parse_args()
    if args.quick:
        args.model, args.cost_steps, args.steps, args.seeds = "tiny-bert", 4, 10, "0"
        args.max_train, args.max_eval = 300, 64
    return args


def lr_of(method: str, args) -> float:
    return {"lora": args.lora_lr, "prefix": args.prefix_lr}.get(method, args.lr)


def mined_tokens(task: TaskData, model: str, cap: int | None) -> list[str]:
    """The dataset's most frequent whole-word candidates (no PPLu), accepted as they come."""
    from adapt_core.candidates import find_candidates

    vetted = find_candidates(task, model, perplexity_config=None)
    return [c.text for c in vetted][:cap]


def build(method: str, task: TaskData, tokens: list[str], seed: int, args) -> tuple:
    """(model, tokenizer, prepare seconds) for one method: fresh model, new tokens where the method uses them."""
    model, tokenizer = load_classifier(args.model, task.num_labels, task.label_names, seed=seed)
    if get_method(method).uses_tokens and tokens:
        from adapt_core.tokens import augment

        tokenizer = copy.deepcopy(tokenizer)
        augment(model, tokenizer, tokens, init=args.token_init, seed=seed)
    started = time.perf_counter()
    prepared = prepare(
        model,
        tokenizer,
        _settings(method, args),
        task,
    )
    return prepared.model, tokenizer, time.perf_counter() - started, prepared.info


def _settings(method: str, args):
    """The method's config with this benchmark's AdaPT budget where the method has those fields."""
    wanted = {"top_k": args.top_k, "beta": args.beta, "calibration_size": args.calibration_size}
    fields = get_method(method).config.__dataclass_fields__
    return method_config(method, **{k: v for k, v in wanted.items() if k in fields})


def train_config(method: str, steps: int, seed: int, args) -> TrainConfig:
    return TrainConfig(
        max_steps=steps,
        batch_size=args.batch_size,
        lr=lr_of(method, args),
        seed=seed,
        keep_best=False,
        max_length=args.max_length,
        device="cpu",
    )


def run_steps(model, tokenizer, task, config) -> dict:
    """Train; the loop's summary plus mean tokens/s over the warm steps."""
    logs = list(train_steps(model, tokenizer, task, config))
    rates = [log.tokens_per_s for log in logs[1:]] or [logs[0].tokens_per_s]
    return {**logs[-1].summary, "tokens_per_second": float(np.mean(rates)), "final_loss": logs[-1].loss}


# ------------------------------------------------------------------------------------------------------ cost


def cost(task: TaskData, tokens: list[str], methods: list[str], args) -> list[dict]:
    """Side-by-side step time and optimizer state: the methods' training loops advance one step each in turn.

    Every method runs `train_steps` on the same batches (same seed). Step i of every method happens within
    seconds of step i of the others (the order rotates every step), so load from other processes on a shared
    machine hits all methods alike; ratios are taken per step index against full finetuning, then the median.
    """
    tiny_dev = {**task.splits, "dev": Split(task["dev"].texts[:32], task["dev"].labels[:32])}
    timing_task = TaskData(task.name, task.label_names, tiny_dev)  # the loop evaluates once, at its end
    built = {m: build(m, task, tokens, 0, args) for m in methods}
    loops = {
        m: train_steps(built[m][0], built[m][1], timing_task, train_config(m, args.cost_steps, 0, args))
        for m in methods
    }
    seconds: dict[str, list[float]] = {m: [] for m in methods}
    rates: dict[str, list[float]] = {m: [] for m in methods}
    last: dict[str, object] = {}
    for i in range(args.cost_steps):
        for m in methods[i % len(methods) :] + methods[: i % len(methods)]:
            started = time.perf_counter()
            last[m] = log = next(loops[m])
            if i > 0 and log.eval is None:  # the first step pays for allocation; evaluation is not a step
                seconds[m].append(time.perf_counter() - started)
                rates[m].append(log.tokens_per_s)
        if i > 0 and all(len(seconds[m]) == i for m in methods):  # this step was timed: show it
            print(
                f"  step {i + 1}: " + ", ".join(f"{m} {1000 * seconds[m][-1]:.0f} ms" for m in methods),
                flush=True,
            )
    summaries = {m: last[m].summary for m in methods}  # the last step carries the loop's summary
    return [_cost_row(task, m, built[m], seconds, rates, summaries) for m in methods]


def _cost_row(task, method, built, seconds, rates, summaries) -> dict:
    _, _, prep_s, info = built
    ratios = [a / b for a, b in zip(seconds[method], seconds["full"], strict=False)]
    state = summaries[method]["optimizer_state_bytes"]
    return {
        "dataset": task.name,
        "method": method,
        "trainable_params": info["trainable_params"],
        "total_params": info["total_params"],
        "optimizer_state_bytes": state,
        "optimizer_ratio": state / summaries["full"]["optimizer_state_bytes"],
        "tokens_per_second": statistics.mean(rates[method]),
        "step_seconds": statistics.mean(seconds[method]),
        "step_ratio": statistics.median(ratios),
        "step_ratio_quartiles": [float(q) for q in np.percentile(ratios, [25, 75])],
        "steps_timed": len(ratios),
        "prepare_seconds": prep_s,
        "selection_percent": info.get("selection", {}).get("percent"),
        "selected_modules": info.get("selection", {}).get("modules"),
        "layers": info.get("layers"),
        "lora_target_types": info.get("lora_target_types"),
    }


# -------------------------------------------------------------------------------------------------- accuracy


def accuracy(task, tokens: list[str], methods: list[str], seeds: list[int], args, rows: list[dict], save) -> None:
    """Train and test every method for every seed; append to `rows` and `save()` after each run."""
    for seed in seeds:
        order = methods[seed % len(methods) :] + methods[: seed % len(methods)]
        for m in order:
            model, tokenizer, prep_s, info = build(m, task, tokens, seed, args)
            summary = run_steps(model, tokenizer, task, train_config(m, args.steps, seed, args))
            test = evaluate_split(model, tokenizer, task["test"], task.label_names, 64, args.max_length).scores()
            rows.append(
                {
                    "dataset": task.name,
                    "method": m,
                    "seed": seed,
                    "test_macro_f1": test["macro_f1"],
                    "test_accuracy": test["accuracy"],
                    "train_seconds": summary["train_seconds"],
                    "step_seconds": summary["step_seconds"],
                    "prepare_seconds": prep_s,
                    "final_loss": summary["final_loss"],
                    "trainable_params": info["trainable_params"],
                }
            )
            print(
                f"  {task.name} seed {seed} {m:16s} macro-F1 {test['macro_f1']:.4f} "
                f"({summary['train_seconds']:.0f} s + prepare {prep_s:.0f} s)",
                flush=True,
            )
            save()


def summarise_accuracy(rows: list[dict]) -> list[dict]:
    out = []
    for key in dict.fromkeys((r["dataset"], r["method"]) for r in rows):
        scores = [r["test_macro_f1"] for r in rows if (r["dataset"], r["method"]) == key]
        out.append(
            {
                "dataset": key[0],
                "method": key[1],
                "seeds": len(scores),
                "mean": statistics.mean(scores),
                "std": statistics.stdev(scores) if len(scores) > 1 else 0.0,
            }
        )
    return out


# ------------------------------------------------------------------------------------------------------ output


def cost_table(rows: list[dict]) -> str:
    lines = [
        "| dataset | method | trainable params | optimizer state | state / full | step ms | step / full | tokens/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['dataset']} | {r['method']} | {r['trainable_params']:,} "
            f"| {r['optimizer_state_bytes'] / 2**20:.1f} MiB | {100 * r['optimizer_ratio']:.1f} % "
            f"| {1000 * r['step_seconds']:.0f} | {r['step_ratio']:.2f} | {r['tokens_per_second']:,.0f} |"
        )
    return "\n".join(lines)


def accuracy_table(summary: list[dict]) -> str:
    datasets = list(dict.fromkeys(s["dataset"] for s in summary))
    methods = list(dict.fromkeys(s["method"] for s in summary))
    cell = {(s["dataset"], s["method"]): f"{s['mean']:.4f} ± {s['std']:.4f}" for s in summary}
    lines = ["| method | " + " | ".join(datasets) + " |", "|---|" + "---|" * len(datasets)]
    lines += [f"| {m} | " + " | ".join(cell.get((d, m), "") for d in datasets) + " |" for m in methods]
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    methods = args.methods.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    out = RESULTS / "training.json"
    result = start_result(out, args)

    def save() -> None:  # after every run: a long or interrupted benchmark keeps what it measured
        if result["accuracy"]:
            result["accuracy_summary"] = summarise_accuracy(result["accuracy"])
        if not args.quick:  # --quick only checks that the script runs
            out.write_text(json.dumps(result, indent=2))

    for name in args.datasets.split(","):
        task = load_dataset(name, DataConfig(max_train=args.max_train, max_eval=args.max_eval))
        tokens = mined_tokens(task, args.model, args.max_new_tokens)
        result["tokens"][name] = {"count": len(tokens), "first": tokens[:20], "pplu_filter": False}
        print(
            f"{name}: {len(task['train'])} train / {len(task['test'])} test, {len(tokens)} new tokens",
            flush=True,
        )
        if args.part in ("all", "cost"):
            reference = [] if "full" in methods else ["full"]  # full finetuning: the reference of every ratio
            result["cost"] += cost(task, tokens, reference + methods, args)
        if args.part in ("all", "accuracy"):
            accuracy(task, tokens, methods, seeds, args, result["accuracy"], save)
        save()
    if result["cost"]:
        print("\n" + cost_table(result["cost"]))
    if result.get("accuracy_summary"):
        print("\n" + accuracy_table(result["accuracy_summary"]))
    if not args.quick:
        print(f"\nwrote {out}")


def start_result(out: Path, args) -> dict:
    """A fresh result, or the previous file with only the part being run replaced (`--part`), or added to (`--append`)."""
    keep = args.part != "all" and out.exists() and not args.quick
    result = json.loads(out.read_text()) if keep else {}
    result.setdefault("tokens", {})
    parts = ("cost", "accuracy") if args.part == "all" else (args.part,)
    for part in parts:
        if not (args.append and result.get(part)):
            result[part] = []
        result.setdefault(f"{part}_configs", [])
        result[f"{part}_configs"] = [*(result[f"{part}_configs"] if args.append else []), vars(args)]
        result[f"{part}_environment"] = environment()
    return result


if __name__ == "__main__":
    main()
