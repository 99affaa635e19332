"""Argument groups shared by several sub-commands (dataset options), so each flag is defined once.

Not a sub-command itself: it has no NAME, and `adapt_core.cli` skips modules without one.
"""

from __future__ import annotations

import argparse

from adapt_core.data import DEFAULT_DATASET, DataConfig


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("data")
    g.add_argument(
        "--dataset",
        default=DEFAULT_DATASET,
        help="Benchmark name (banking77, scierc, chemprot, acl_arc, "
        "scicite), a CSV/TSV/JSONL/Parquet file, a folder of split files, or hf:<id>.",
    )
    g.add_argument("--text-col", default=None, help="Text column (guessed when omitted).")
    g.add_argument("--label-col", default=None, help="Label column (guessed when omitted).")
    g.add_argument("--max-train", type=int, default=None, help="Use a stratified slice of at most N train examples.")
    g.add_argument("--max-eval", type=int, default=None, help="Use at most N dev and N test examples.")
    g.add_argument("--data-seed", type=int, default=0, help="Seed for made splits and slices.")


def data_config(args: argparse.Namespace) -> DataConfig:
    return DataConfig(
        text_col=args.text_col,
        label_col=args.label_col,
        max_train=args.max_train,
        max_eval=args.max_eval,
        seed=args.data_seed,
    )
