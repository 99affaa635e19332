"""`python -m adapt_core evaluate`: score a finished run on a split of its dataset (or another file)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "evaluate"
HELP = "Evaluate a finished run on a split: accuracy, macro/micro-F1, per-class report."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", type=Path, required=True, help="The run folder.")
    parser.add_argument("--split", default="test", choices=("train", "dev", "test"))
    parser.add_argument("--dataset", default=None, help="Evaluate on this dataset instead of the run's own.")


def run(args: argparse.Namespace) -> int:
    from adapt_core.data import load_dataset
    from adapt_core.errors import AdaptError
    from adapt_core.evaluate import evaluate
    from adapt_core.pipeline import RunConfig
    from adapt_core.predictor import load_predictor
    from adapt_core.run_reader import load_run

    config = RunConfig.from_dict(load_run(args.run_dir, strict=True).config)
    task = load_dataset(args.dataset or config.dataset, config.data)
    predictor = load_predictor(args.run_dir)
    if task.label_names != predictor.label_names:
        raise AdaptError("the dataset's labels differ from the run's: evaluate on data with the same label set")
    split = task[args.split]
    result = evaluate(split.labels, predictor.predict_proba(split.texts).argmax(axis=1), task.label_names)
    print(
        f"{task.name} {args.split} ({len(split)} examples): accuracy {result.accuracy:.4f}  "
        f"macro-F1 {result.macro_f1:.4f}  micro-F1 {result.micro_f1:.4f}"
    )
    print(result.per_class.round(3).to_string())
    return 0
