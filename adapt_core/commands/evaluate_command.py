"""`python -m adapt_core evaluate`: score a finished run on a split of its dataset (or another file)."""

from __future__ import annotations

import argparse
from pathlib import Path

from adapt_core.errors import AdaptError

NAME = "evaluate"
HELP = "Evaluate a finished run on a split: accuracy, macro/micro-F1, per-class report."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", type=Path, required=True, help="The run folder.")
    parser.add_argument("--split", default="test", choices=("train", "dev", "test"))
    parser.add_argument("--dataset", default=None, help="Evaluate on this dataset instead of the run's own.")


def run(args: argparse.Namespace) -> int:
    import sys

    from adapt_core.data import load_dataset
    from adapt_core.evaluate import evaluate
    from adapt_core.pipeline import RunConfig
    from adapt_core.predictor import load_predictor
    from adapt_core.run_reader import load_run

    config = RunConfig.from_dict(load_run(args.run_dir, strict=True).config)
    predictor = load_predictor(args.run_dir)
    if args.dataset:
        name, texts, labels, notes = _other_dataset(args.dataset, args.split, config, predictor.label_names)
    else:  # the run's own data, sliced as the run's were
        task = load_dataset(config.dataset, config.data)
        if task.label_names != predictor.label_names:
            raise AdaptError("the dataset's labels differ from the run's: evaluate on data with the same label set")
        name, texts, labels, notes = task.name, task[args.split].texts, task[args.split].labels, []
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    result = evaluate(labels, predictor.predict_proba(texts).argmax(axis=1), predictor.label_names)
    print(
        f"{name} {args.split} ({len(texts)} examples): accuracy {result.accuracy:.4f}  "
        f"macro-F1 {result.macro_f1:.4f}  micro-F1 {result.micro_f1:.4f}"
    )
    print(result.per_class.round(3).to_string())
    return 0


def _other_dataset(source: str, split: str, config, run_labels: list[str]):
    """(name, texts, labels in the run's label order, notes) of a held-out dataset (`data.load_held_out`: nothing
    cut or sliced); a file without a split column is scored whole."""
    from adapt_core.data import load_held_out

    name, splits = load_held_out(source, run_labels, config.data.text_col, config.data.label_col)
    if split in splits:
        return name, splits[split].texts, splits[split].labels, []
    if list(splits) == ["all"]:
        part = splits["all"]
        return name, part.texts, part.labels, [f"{source} has no split column: all {len(part)} examples are scored"]
    raise AdaptError(f"{source} has no {split} split (it has {', '.join(splits)}): choose one with --split")
