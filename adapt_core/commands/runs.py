"""`python -m adapt_core runs`: list the run folders with their state and scores.

A run with a damaged file is listed as `unreadable`, with a line below the table naming the file and the reason."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "runs"
HELP = "List runs: state, dataset, model, method, test macro-F1."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--root", type=Path, default=None, help="Runs folder (default: $ADAPT_RUNS_DIR or runs/).")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from adapt_core.runs import list_runs

    runs = list_runs(args.root)
    if not runs:
        print("no runs yet")
        return 0
    cols = ["run", "state", "dataset", "model", "method", "seed", "test_macro_f1", "train_seconds"]
    print(pd.DataFrame([r.summary() for r in runs])[cols].to_string(index=False))
    for info in runs:
        if info.problem:
            print(f"{info.id}: unreadable: {info.problem}")
    return 0
