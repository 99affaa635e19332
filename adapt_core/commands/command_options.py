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


# --------------------------------------------------------------------------------- flags derived from configs


def add_spec_arguments(group, specs, *, keep_defaults: bool = True, extra_help=None) -> dict:
    """One flag per form field (`FieldSpec.flag`), help from the dataclass; returns {dest: spec}.

    Every flag reads text that `forms.coerce` types and checks, so the CLI accepts exactly what the form accepts
    (e.g. an empty string for an optional field). `keep_defaults=False` leaves unset flags out of the namespace, for
    options whose default depends on the chosen method.
    """
    dests = {}
    for spec in specs:
        dest = spec.flag[2:].replace("-", "_")
        text = spec.help
        if spec.choices:
            text += f" One of: {', '.join(spec.choices)}."
        if spec.kind == "list":
            text += " Comma-separated."
        if extra_help is not None:
            text += extra_help(spec)
        elif spec.default is not None:
            text += f" Default: {_shown(spec.default)}."
        text = text.replace("%", "%%")  # argparse formats help with %
        kwargs = {"default": spec.default if keep_defaults else argparse.SUPPRESS, "dest": dest, "help": text}
        if spec.kind == "bool":
            group.add_argument(spec.flag, action=argparse.BooleanOptionalAction, **kwargs)
        else:
            group.add_argument(spec.flag, metavar=spec.kind.upper(), **kwargs)
        dests[dest] = spec
    return dests


def _shown(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def spec_values(args: argparse.Namespace, dests: dict) -> dict:
    """{field name: typed value} of the flags present in `args` (see `add_spec_arguments`)."""
    from adapt_core.forms import coerce

    given = vars(args)
    return {spec.name: coerce(spec, given[dest]) for dest, spec in dests.items() if dest in given}
