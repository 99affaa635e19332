"""`python -m adapt_core sensitivity`: score every module of a model on a dataset and show what a budget selects.

Measures D and G once (AdaPT's sensitivity pass, `adapt_core.sensitivity`), then applies β and top-k: writes the
table (module, layer, type, params, D, G, S, selected) as CSV, optionally the whole measurement as JSON (reusable
by the studio and by `prepare(..., report=...)`), and prints the selection.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from adapt_core.commands.options import add_data_arguments, data_config
from adapt_core.errors import AdaptError

NAME = "sensitivity"
HELP = "Score every module (dispersion + beta x gradient norm) and show what a top-k%% budget selects."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--model", default="minilm-l6", help="Registry name, local folder or Hub id.")
    parser.add_argument("--tokens", default=None, help="Vetted token list (JSON or CSV) to add before measuring.")
    parser.add_argument(
        "--token-init",
        default="random",
        choices=("random", "mean"),
        help="Initial embeddings of the new tokens.",
    )
    s = parser.add_argument_group("sensitivity")
    s.add_argument("--calibration-size", type=int, default=None, help="Calibration examples (default 512 or all).")
    s.add_argument(
        "--positions",
        default="all",
        choices=("all", "tokens"),
        help="Positions for the dispersion: all non-pad tokens, or only the new tokens.",
    )
    s.add_argument("--grouping", default="linear", choices=("linear", "block", "layer"), help="Unit of selection.")
    s.add_argument("--head-warmup-steps", type=int, default=0, help="Train the head alone first (undone after).")
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("--max-length", type=int, default=128)
    s.add_argument("--seed", type=int, default=0, help="Seed of the head initialisation and calibration sample.")
    b = parser.add_argument_group("budget")
    b.add_argument("--beta", type=float, default=1.0, help="Score S = norm(D) + beta * norm(G).")
    b.add_argument("--top-k", type=float, default=10.0, help="Budget, %% of non-embedding parameters.")
    o = parser.add_argument_group("output")
    o.add_argument("--out", type=Path, default=None, help="Write the table as CSV here.")
    o.add_argument("--save-report", type=Path, default=None, help="Write the whole measurement as JSON here.")
    o.add_argument("--quiet", action="store_true", help="No progress bar.")


def run(args: argparse.Namespace) -> int:
    from adapt_core.data import load_dataset
    from adapt_core.models import load_classifier
    from adapt_core.sensitivity import SensitivityConfig, measure

    config = SensitivityConfig(
        calibration_size=args.calibration_size,
        batch_size=args.batch_size,
        positions=args.positions,
        grouping=args.grouping,
        head_warmup_steps=args.head_warmup_steps,
        max_length=args.max_length,
        seed=args.seed,
    )
    task = load_dataset(args.dataset, data_config(args))
    model, tokenizer = load_classifier(args.model, task.num_labels, task.label_names, seed=args.seed)
    if args.tokens:
        _add_tokens(model, tokenizer, args.tokens, args.token_init)
    report = measure(model, tokenizer, task, config, progress=_progress(not args.quiet))
    frame = report.to_frame(args.beta, args.top_k)
    selection = report.select(args.beta, args.top_k)
    if args.out:
        frame.to_csv(args.out, index=False)
    if args.save_report:
        args.save_report.write_text(json.dumps(report.to_dict(), indent=2))
    _print_summary(report, selection, frame)
    return 0


def _add_tokens(model, tokenizer, path: str, init: str) -> None:
    try:
        from adapt_core.tokens import augment, load_vetted
    except ImportError as err:
        raise AdaptError("--tokens needs adapt_core.tokens, which this installation lacks: drop --tokens") from err
    accepted = load_vetted(path).accepted()
    if not accepted:
        raise AdaptError(f"{path} has no accepted token: accept some in the Tokens page or drop --tokens")
    augment(model, tokenizer, accepted, init=init)


def _progress(enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    bar = tqdm(desc="sensitivity", unit="batch", file=sys.stderr)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)
        if done == total:
            bar.close()

    return update


def _print_summary(report, selection, frame) -> None:
    meta = report.meta
    print(
        f"{meta['model_class']}: {len(report.rows)} {report.grouping} modules scored on "
        f"{meta['calibration_examples']} calibration examples ({meta['config']['positions']} positions)"
    )
    print(
        f"budget {selection.top_k}% of {selection.non_embedding_params:,} non-embedding parameters; "
        f"selected {len(selection.rows)} modules, {selection.params:,} parameters ({selection.percent:.2f}%), "
        f"beta {selection.beta}"
    )
    chosen = frame[frame["selected"]].sort_values("S", ascending=False)
    print(chosen[["module", "params", "D", "G", "S"]].to_string(index=False, float_format=lambda x: f"{x:.4g}"))
