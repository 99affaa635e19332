"""`python -m adapt_core train`: one run into a run folder (the same folder the studio writes).

Either flags, or `--config FILE` with a config.json (the studio writes one into the run folder, then starts this).
Every training and method flag is derived from the config dataclasses: TrainConfig's fields, and the fields of every
registered method's config (`methods.registry`), flattened (`--tokens-scorer` for AdaPT's `tokens.scorer`). A method
flag that is not given takes the chosen method's default (its own learning rate included: `--lr` overrides it); one
that the chosen method lacks is refused. A method's field whose name a training flag already uses gets the method's
name as prefix (`--stc-batch-size`).
Exit status: 0 completed, 1 failed, 2 bad input, 130 cancelled (SIGTERM / Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from adapt_core.commands.command_options import add_data_arguments, add_spec_arguments, data_config, spec_values
from adapt_core.errors import AdaptError

NAME = "train"
HELP = "Train (finetune) a model on a dataset with one method; writes a run folder."


def _help(name: str) -> str:
    from adapt_core.pipeline import RunConfig

    return RunConfig.__dataclass_fields__[name].metadata["help"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from adapt_core.forms import field_specs
    from adapt_core.methods import method_names
    from adapt_core.models import DEFAULT_MODEL
    from adapt_core.train import TrainConfig

    add_data_arguments(parser)
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="A config.json to run as is (only --run-dir, --overwrite and --quiet go beside it).",
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help=_help("model"))
    parser.add_argument("--method", default="full", choices=method_names(), help="How to adapt the model.")
    parser.add_argument("--tokens", default=None, help=_help("tokens"))
    parser.add_argument("--sensitivity", default=None, help=_help("sensitivity"))
    train = add_spec_arguments(parser.add_argument_group("training (TrainConfig)"), field_specs(TrainConfig))
    out = parser.add_argument_group("output")
    out.add_argument("--run-dir", type=Path, default=None, help="Run folder (default: a new one under runs/).")
    out.add_argument("--overwrite", action="store_true", help="Replace the run already in --run-dir (cleared first).")
    out.add_argument("--quiet", action="store_true", help="No progress bar.")
    taken = {action.dest for action in parser._actions}  # a method's field never shadows a run or training flag
    parser.set_defaults(_train_flags=train, _method_flags=add_method_arguments(parser, taken))
    # the flags a config file replaces, each with its default (a method flag's is SUPPRESS: absent unless given)
    replaced = [a for a in parser._actions if a.option_strings and a.dest not in _BESIDE_CONFIG]
    parser.set_defaults(_config_replaces=[(a.dest, a.option_strings[0], a.default) for a in replaced])


_BESIDE_CONFIG = {"config", "run_dir", "overwrite", "quiet", "help"}  # what --config leaves to the flags


def add_method_arguments(parser: argparse.ArgumentParser, taken: set[str]) -> dict:
    """The flags of every registered method's config: {dest: {method: FieldSpec}} (one flag per shared field)."""
    from adapt_core.forms import method_specs
    from adapt_core.methods import REGISTRY

    owners: dict[str, dict] = {}
    for name in REGISTRY:
        for spec in method_specs(name):
            if spec.name == "lr":  # TrainConfig's --lr: empty = the method's own rate
                continue
            dest = spec.flag[2:].replace("-", "_")
            if dest in taken:
                dest = f"{name.replace('+', '_').replace('-', '_')}_{dest}"
            owners.setdefault(dest, {})[name] = spec
    group = parser.add_argument_group("method (the chosen method's config; unset = its default)")
    for dest, by_method in owners.items():
        first = next(iter(by_method.values()))
        flag_spec = first.__class__(**{**first.__dict__, "name": dest.replace("_", "-")})

        def where(spec, by_method=by_method) -> str:
            return " [" + "; ".join(f"{m}: {_default(s.default)}" for m, s in by_method.items()) + "]"

        add_spec_arguments(group, [flag_spec], keep_defaults=False, extra_help=where)
    return owners


def _default(value) -> str:
    return "empty" if value is None else ",".join(map(str, value)) if isinstance(value, tuple) else str(value)


def build_config(args: argparse.Namespace):
    from adapt_core.forms import build_config as build
    from adapt_core.methods import get_method
    from adapt_core.pipeline import RunConfig
    from adapt_core.train import TrainConfig

    spec = get_method(args.method)
    train = build(TrainConfig, spec_values(args, args._train_flags))
    values = {}
    for dest, by_method in args._method_flags.items():
        if dest not in vars(args):
            continue
        if args.method not in by_method:
            flag = "--" + dest.replace("_", "-")
            users = ", ".join(by_method)
            raise AdaptError(f"{flag} does not apply to --method {args.method} (it is a setting of {users})")
        values.update(spec_values(args, {dest: by_method[args.method]}))
    settings = build(spec.config, values, base=spec.make())
    return RunConfig(
        dataset=args.dataset,
        model=args.model,
        data=data_config(args),
        method=args.method,
        settings=settings,
        train=train,
        tokens=args.tokens,
        sensitivity=args.sensitivity,
    )


def run(args: argparse.Namespace) -> int:
    from adapt_core.pipeline import Cancelled, run_training
    from adapt_core.run_request import check_run_request, read_config_file
    from adapt_core.run_writer import new_run_dir
    from adapt_core.train import Diverged

    # every input is checked before the run folder exists or anything loads: a bad request is one line, exit 2
    config = read_config_file(args.config) if args.config else build_config(args)
    if args.config:  # the file is the whole request: a flag beside it would be ignored, so it is refused
        given = [f for dest, f, default in args._config_replaces if dest in vars(args) and vars(args)[dest] != default]
        if given:
            raise AdaptError(f"{given[0]} is not read with --config (the file sets everything): set it in the file")
    run_dir = args.run_dir or new_run_dir(label=f"{config.method}-{Path(config.dataset).stem}")
    # under `accelerate launch` only rank 0 writes the folder: another rank could find rank 0's run already there
    main_rank = int(os.environ.get("RANK", "0")) == 0
    check_run_request(config, run_dir if main_rank else None, args.overwrite)
    print(f"run folder: {run_dir}", file=sys.stderr)
    try:
        report = run_training(config, run_dir, progress=not args.quiet, overwrite=args.overwrite)
    except (Cancelled, KeyboardInterrupt):
        print("cancelled", file=sys.stderr)
        return 130
    except Diverged as err:  # recorded as failed in the run folder; no model saved
        print(f"failed: {err}", file=sys.stderr)
        return 1
    test = report.get("test", {})
    print(
        f"test macro-F1 {test.get('macro_f1', float('nan')):.4f}  accuracy {test.get('accuracy', float('nan')):.4f}"
        f"  ({report.get('train_seconds', 0):.1f} s)"
    )
    return 0
