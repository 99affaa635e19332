"""`python -m adapt_core predict`: label probabilities for texts with a finished run."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

NAME = "predict"
HELP = "Predict labels for texts with a finished run."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", type=Path, required=True, help="The run folder.")
    parser.add_argument("texts", nargs="+", help="One or more texts.")
    parser.add_argument("--top", type=int, default=3, help="How many labels to show per text.")
    parser.add_argument("--json", action="store_true", help="One JSON object per text.")


def run(args: argparse.Namespace) -> int:
    from adapt_core.errors import AdaptError
    from adapt_core.predictor import load_predictor

    if args.top < 1:
        raise AdaptError(f"--top must be at least 1 (got {args.top}): how many labels to show per text")
    predictor = load_predictor(args.run_dir)
    proba = predictor.predict_proba(args.texts)
    for text, row in zip(args.texts, proba, strict=True):
        order = row.argsort()[::-1][: args.top]
        if args.json:
            print(
                json.dumps(
                    {
                        "text": text,
                        "label": predictor.label_names[order[0]],
                        "probabilities": {predictor.label_names[i]: float(row[i]) for i in order},
                    }
                )
            )
        else:
            best = ", ".join(f"{predictor.label_names[i]} {row[i]:.3f}" for i in order)
            print(f"{predictor.label_names[order[0]]}\t{text}\t[{best}]")
    return 0
