"""`python -m adapt_core sensitivity`: score every module of a model on a dataset and show what a budget selects.

Measures D and G once (AdaPT's sensitivity pass, `adapt_core.sensitivity`), then applies β and top-k: writes the
table (module, layer, type, params, D, G, S, selected) as CSV, optionally the whole measurement as JSON (reusable
by the studio, by `train --sensitivity FILE` and by `prepare(..., report=...)`), and prints the selection. The flags
are derived from SensitivityConfig and from AdaPT's config (β, top-k, token_init), so their defaults are written once.
A report saved here is taken by `train --method adapt --sensitivity FILE` only when it was measured as the run would
measure (max_length, seed, calibration sample, positions, head warm-up); another is refused before the run starts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adapt_core.commands.command_options import add_data_arguments, add_spec_arguments, data_config, spec_values
from adapt_core.errors import AdaptError

NAME = "sensitivity"
HELP = "Score every module (dispersion + beta x gradient norm) and show what a top-k%% budget selects."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adapt_core.forms import field_specs
    from adapt_core.methods import AdaptConfig
    from adapt_core.models import DEFAULT_MODEL
    from adapt_core.sensitivity import SensitivityConfig

    add_data_arguments(parser)
    parser.add_argument("--model", default=DEFAULT_MODEL, help="Registry name, local folder or Hub id.")
    parser.add_argument("--tokens", default=None, help="Vetted token list (JSON or CSV) to add before measuring.")
    # the measurement's settings, and β / top-k / token_init as AdaPT's config has them (one default each)
    measuring = add_spec_arguments(parser.add_argument_group("sensitivity"), field_specs(SensitivityConfig))
    adapt = field_specs(AdaptConfig, only=["beta", "top_k", "token_init"])
    budget = add_spec_arguments(parser.add_argument_group("budget (AdaPT)"), adapt)
    parser.set_defaults(_measuring=measuring, _budget=budget)
    o = parser.add_argument_group("output")
    o.add_argument("--out", type=Path, default=None, help="Write the table as CSV here.")
    o.add_argument("--save-report", type=Path, default=None, help="Write the whole measurement as JSON here.")
    o.add_argument("--quiet", action="store_true", help="No progress bar.")


def run(args: argparse.Namespace) -> int:
    from adapt_core.data import load_dataset
    from adapt_core.fileio import atomic_write_text
    from adapt_core.forms import build_config
    from adapt_core.models import load_classifier
    from adapt_core.sensitivity import SensitivityConfig, measure_added
    from adapt_core.token_record import load_accepted
    from adapt_core.workspace import save_report

    config = build_config(SensitivityConfig, spec_values(args, args._measuring))
    budget = spec_values(args, args._budget)
    beta, top_k = budget["beta"], budget["top_k"]
    # what would fail after the measurement is checked before it: the token list, the output folders
    accepted = load_accepted(args.tokens).accepted() if args.tokens else []
    for flag, path in (("--out", args.out), ("--save-report", args.save_report)):
        if path is not None and not path.parent.is_dir():
            raise AdaptError(f"{flag} {path}: folder {path.parent} does not exist; create it or write elsewhere")
    task = load_dataset(args.dataset, data_config(args))
    model, tokenizer = load_classifier(args.model, task.num_labels, task.label_names, seed=config.seed)
    progress = _progress(not args.quiet)
    report = measure_added(model, tokenizer, task, config, accepted, budget["token_init"], progress=progress)
    frame = report.to_frame(beta, top_k)
    selection = report.select(beta, top_k)
    if args.out:
        atomic_write_text(args.out, frame.to_csv(index=False))
    if args.save_report:
        save_report(report, args.save_report)
    _print_summary(report, selection, frame)
    return 0


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
