"""End-to-end finetuning of a model on a benchmark task: test macro-F1 and wall time per epoch.

    python benchmarks/finetune.py                      # minilm-l6 on banking77, 5 epochs (the README figure)
    python benchmarks/finetune.py --quick              # tiny-bert, a slice: checks the script runs

Runs the same pipeline as `python -m adapt_core train` into a run folder, then reads the epoch boundaries back from
metrics.jsonl. Writes benchmarks/results/finetune-<dataset>-<model>-<device>.json with the machine and versions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from _env import environment

from adapt_core.data import DataConfig
from adapt_core.pipeline import RunConfig, run_training
from adapt_core.run_reader import read_metrics

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="banking77")
    p.add_argument("--model", default="minilm-l6")
    p.add_argument("--epochs", type=float, default=5)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=64, help="Banking77's longest text is 98 tokens, p95 37")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--quick", action="store_true", help="tiny-bert on a 300-example slice")
    args = p.parse_args()
    from adapt_core.train import TrainConfig

    data = DataConfig(max_train=300, max_eval=100) if args.quick else DataConfig()
    model = "tiny-bert" if args.quick else args.model
    epochs = 1 if args.quick else args.epochs
    config = RunConfig(
        dataset=args.dataset,
        model=model,
        data=data,
        method="full",
        train=TrainConfig(
            epochs=epochs,
            lr=args.lr,
            batch_size=args.batch_size,
            seed=args.seed,
            max_length=args.max_length,
            device=args.device,
        ),
    )
    with tempfile.TemporaryDirectory() as tmp:
        report = run_training(config, Path(tmp) / "run", progress=True)
        metrics = read_metrics(Path(tmp) / "run")
    result = summarise(config, report, metrics)
    print(table(result))
    if not args.quick:
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"finetune-{args.dataset}-{model}-{report['device'].split(':')[0]}.json"
        out.write_text(json.dumps(result, indent=2))
        print(f"wrote {out}")


def summarise(config: RunConfig, report: dict, metrics) -> dict:
    evals = metrics.dropna(subset=["dev_macro_f1"]) if "dev_macro_f1" in metrics else metrics.iloc[0:0]
    times = [0.0] + evals["elapsed"].tolist()
    per_epoch = [b - a for a, b in zip(times, times[1:], strict=False)]
    return {
        "config": config.to_dict(),
        "environment": environment(),
        "device": report["device"],
        "test": report["test"],
        "dev": report["dev"],
        "train_seconds": report["train_seconds"],
        "epoch_seconds": per_epoch,
        "dev_macro_f1_per_epoch": evals["dev_macro_f1"].tolist(),
        "step_seconds": report["step_seconds"],
        "trainable_params": report["trainable_params"],
    }


def table(r: dict) -> str:
    epoch = sum(r["epoch_seconds"]) / max(len(r["epoch_seconds"]), 1)
    return (
        "| task | model | device | epochs | test macro-F1 | test accuracy | s / epoch |\n|---|---|---|---|---|---|---|\n"
        f"| {r['config']['dataset']} | {r['config']['model']} | {r['device']} | {r['config']['train']['epochs']:g} "
        f"| {r['test']['macro_f1']:.4f} | {r['test']['accuracy']:.4f} | {epoch:.0f} |"
    )


if __name__ == "__main__":
    main()
