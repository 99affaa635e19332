"""`python -m adapt_core data`: load a dataset and print its summary (sizes, classes, lengths, notes)."""

from __future__ import annotations

import argparse

from adapt_core.commands.command_options import add_data_arguments, data_config

NAME = "data"
HELP = "Summarise a dataset: split sizes, label balance, text lengths."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--model", default=None, help="Also count tokens with this model's tokenizer.")


def run(args: argparse.Namespace) -> int:
    from adapt_core.data import load_dataset

    task = load_dataset(args.dataset, data_config(args))
    tokenizer = None
    if args.model:
        from adapt_core.models import load_tokenizer

        tokenizer = load_tokenizer(args.model)
    print(f"{task.name}: {task.num_labels} classes")
    for note in task.notes:
        print(f"  note: {note}")
    print(task.summary(tokenizer).to_string(index=False))
    print()
    print(task.class_counts().to_string())
    return 0
