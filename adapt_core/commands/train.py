"""`python -m adapt_core train`: one run into a run folder (the same folder the studio writes).

Either flags, or `--config FILE` with a config.json (the studio writes one into the run folder, then starts this).
Exit status: 0 completed, 1 failed, 2 bad input, 130 cancelled (SIGTERM / Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from adapt_core.commands.options import add_data_arguments, data_config
from adapt_core.methods import METHODS

NAME = "train"
HELP = "Train (finetune) a model on a dataset with one method; writes a run folder."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    parser.add_argument("--config", type=Path, default=None, help="A config.json to run as is (flags below ignored).")
    parser.add_argument("--model", default="minilm-l6", help="Registry name, local folder or Hub id.")
    parser.add_argument("--method", default="full", choices=METHODS, help="How to adapt the model.")
    t = parser.add_argument_group("training")
    t.add_argument("--epochs", type=float, default=3.0)
    t.add_argument("--max-steps", type=int, default=None, help="Stop after N optimizer steps.")
    t.add_argument("--batch-size", type=int, default=32)
    t.add_argument("--lr", type=float, default=5e-5)
    t.add_argument("--max-length", type=int, default=128)
    t.add_argument("--eval-every", type=int, default=0, help="Dev evaluation every N steps (0: each epoch).")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="auto", help="auto, cuda, mps or cpu.")
    t.add_argument("--dtype", default="auto", help="auto, fp32, bf16 or fp16.")
    m = parser.add_argument_group("method")
    m.add_argument("--top-k", type=float, default=10.0, help="AdaPT budget, %% of non-embedding parameters.")
    m.add_argument("--beta", type=float, default=1.0, help="AdaPT score: norm(D) + beta * norm(G).")
    m.add_argument("--lora-r", type=int, default=8)
    m.add_argument("--prefix-len", type=int, default=20)
    m.add_argument("--lora-alpha", type=float, default=16.0, help="LoRA scaling alpha.")
    m.add_argument("--lora-dropout", type=float, default=0.1, help="LoRA dropout.")
    m.add_argument(
        "--lora-targets",
        default="auto",
        choices=("auto", "attention", "all"),
        help="LoRA modules: peft's default per architecture, every attention projection, or all.",
    )
    m.add_argument("--layers", type=int, default=None, help="Layer selection: top L blocks (default: AdaPT's budget).")
    m.add_argument("--calibration-size", type=int, default=None, help="AdaPT calibration examples (512 or all).")
    m.add_argument("--calibration-seed", type=int, default=0, help="AdaPT calibration sample seed.")
    m.add_argument("--positions", default="all", choices=("all", "tokens"), help="AdaPT dispersion positions.")
    m.add_argument("--grouping", default="linear", choices=("linear", "block", "layer"), help="AdaPT selection unit.")
    m.add_argument("--head-warmup-steps", type=int, default=0, help="AdaPT: warm the head up before measuring.")
    m.add_argument("--tokens", default=None, help="Vetted token list (JSON or CSV) for adapt / full+tokens.")
    m.add_argument("--token-init", default="random", choices=("random", "mean"))
    m.add_argument("--stc-base", default=None, help="STC on a finetuned run's model (its run folder).")
    out = parser.add_argument_group("output")
    out.add_argument("--run-dir", type=Path, default=None, help="Run folder (default: a new one under runs/).")
    out.add_argument("--overwrite", action="store_true", help="Replace the run already in --run-dir (cleared first).")
    out.add_argument("--quiet", action="store_true", help="No progress bar.")


def build_config(args: argparse.Namespace):
    from adapt_core.methods import MethodConfig
    from adapt_core.pipeline import RunConfig
    from adapt_core.train import TrainConfig

    train = TrainConfig(
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        lr=args.lr,
        max_length=args.max_length,
        eval_every=args.eval_every,
        seed=args.seed,
        device=args.device,
        dtype=args.dtype,
    )
    method = MethodConfig(
        method=args.method,
        top_k=args.top_k,
        beta=args.beta,
        lora_r=args.lora_r,
        prefix_len=args.prefix_len,
        lora_alpha=args.lora_alpha,
        lora_dropout=args.lora_dropout,
        lora_targets=args.lora_targets,
        layers=args.layers,
        calibration_size=args.calibration_size,
        calibration_seed=args.calibration_seed,
        positions=args.positions,
        grouping=args.grouping,
        head_warmup_steps=args.head_warmup_steps,
    )
    stc = {"base_run": args.stc_base} if args.stc_base else {}
    return RunConfig(
        dataset=args.dataset,
        model=args.model,
        data=data_config(args),
        method=method,
        train=train,
        tokens=args.tokens,
        token_init=args.token_init,
        stc=stc,
    )


def run(args: argparse.Namespace) -> int:
    from adapt_core.pipeline import Cancelled, check_run_request, read_config_file, run_training
    from adapt_core.runs import new_run_dir
    from adapt_core.train import Diverged

    # every input is checked before the run folder exists or anything loads: a bad request is one line, exit 2
    config = read_config_file(args.config) if args.config else build_config(args)
    run_dir = args.run_dir or new_run_dir(label=f"{config.method.method}-{Path(config.dataset).stem}")
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
