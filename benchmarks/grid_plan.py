"""The comparison plan in its order, as parallel processes sharing one results file: the learning-rate sweep, the
rates it chooses on dev, AdaPT's knob sweep (its other settings, on dev), the grid seed by seed (variants included),
then the budget sweep.

    nohup python benchmarks/grid_plan.py --workers 2 > grid-plan.log &          # the CPU plan (resumable)
    python benchmarks/grid_plan.py --workers 12 --device cuda --dtype fp32 \\
        --carry .carry/gpu --out OUT --seconds 480                              # a GPU machine, for a fixed time
    python benchmarks/compare.py --estimate                                     # what is left, in CPU hours

Each phase runs `benchmarks/compare.py` in `--workers` processes (one torch thread each) that take the cells in turn,
each the next one nobody has claimed (`--claims`, a fresh folder per phase: no process idles while another still has a
queue), and waits for all of them, so the grid starts only once every rate is chosen; a second invocation skips
finished cells, so the plan resumes after any interruption. With `--seconds`, no cell starts after that time (a
machine lent for a while ends with whole cells). With `--carry` (a folder from `benchmarks/gpu.py --prepare-carry DIR
--all-datasets`: MiniLM as fp16 and the five tasks), the model is widened back to fp32 and read from there, for a
machine without the packages; the token lists the CPU grid accepted (`benchmarks/runs/tokens/`) must travel along,
since no scorer is needed then. A profile whose `lr_sweep_on` names other hardware trains at the rates that sweep
chose (it must be in the results file), and its lr-sweep phase here measures only the cells that sweep lacks (never
run there, or superseded) and no machine has measured in their place: they then stand in for them in the choice, and
the choosing machine does not measure them again. Rows are keyed by hardware, so apart from those a GPU row never
stands in for a CPU one; `compare_env.json` names the machine. `touch LOGS/STOP` stops the plan between cells: no cell
starts once it exists (each running cell ends and is recorded); remove it before the next invocation. With
`--commit-every MINUTES`, the results file is committed to git that often (the CPU plan outlives a working session; no
finished cell may be lost).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def widen(carried: Path, folder: Path) -> str:
    """The carried fp16 MiniLM saved again in fp32 (training must not start from half-precision parameters)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    model = AutoModel.from_pretrained(carried, use_safetensors=True, dtype=torch.float32)
    model.save_pretrained(folder, safe_serialization=True)
    AutoTokenizer.from_pretrained(carried).save_pretrained(folder)
    return str(folder)


def commit(results: Path, message: str) -> None:
    """Commit the results file alone (its rows are the plan's only product that must outlive the machine)."""
    root = HERE.parent
    subprocess.run(["git", "-C", str(root), "add", str(results)], check=False)
    subprocess.run(
        ["git", "-C", str(root), "commit", "-q", "-m", message, "--", str(results)],
        check=False,
        stdout=subprocess.DEVNULL,
    )


def phase(name: str, base: list[str], extra: list[str], args, deadline: float | None, log) -> None:
    """Run one phase as `args.workers` processes in parallel and wait for all; commit the results on the way."""
    if (args.logs / "STOP").exists():
        log(f"{name}: skipped, {args.logs / 'STOP'} exists")
        return
    left = None if deadline is None else deadline - time.time()
    if left is not None and left < 30:
        log(f"{name}: skipped, {left:.0f} s left")
        return
    started, last_commit = time.time(), time.time()
    stop = ["--stop-file", str(args.logs / "STOP")] + (["--stop-after", f"{left:.0f}"] if left is not None else [])
    claims = ["--claims", str(args.logs / f"claims-{name}-{time.strftime('%Y%m%d-%H%M%S')}")]
    procs = []
    for i in range(args.workers):
        with open(args.logs / f"{name}-{i}.log", "a") as out:  # the child keeps its own copy of the handle
            procs.append(subprocess.Popen([*base, *extra, *claims, *stop], stdout=out, stderr=out))
    while any(p.poll() is None for p in procs):
        time.sleep(10)
        if args.commit_every and time.time() - last_commit > 60 * args.commit_every:
            commit(args.results, f"Comparison grid: results so far ({name})")
            last_commit = time.time()
    log(f"{name}: {time.time() - started:.0f} s, exit codes {sorted({p.returncode for p in procs})}")
    if args.commit_every:
        commit(args.results, f"Comparison grid: results after {name}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=int, default=2, help="Processes, one torch thread each.")
    p.add_argument("--profile", default="converge", help="A profile of grid.json (smoke: a dry run in minutes).")
    p.add_argument("--device", default=None, help="Override the training device (cuda on a GPU machine).")
    p.add_argument(
        "--dtype", default=None, help="Override the training dtype (fp32 keeps a GPU cell a CPU cell's twin)."
    )
    p.add_argument("--carry", type=Path, default=None, help="Folder with minilm-l6/ (fp16) and datasets/.")
    p.add_argument("--out", type=Path, default=None, help="Results folder (default benchmarks/results).")
    p.add_argument("--results", type=Path, default=None, help="Results CSV (default OUT/compare.csv).")
    p.add_argument("--logs", type=Path, default=None, help="One log per shard and phase (default OUT/logs).")
    p.add_argument("--seconds", type=float, default=None, help="No cell starts after this many seconds.")
    p.add_argument("--seeds", nargs="*", default=["0", "1", "2"], help="The grid's seeds, one phase each.")
    p.add_argument("--phases", nargs="*", default=["sweep-lr", "sweep-knobs", "grid", "sweep-budget"])
    p.add_argument("--commit-every", type=float, default=0, help="Commit the results file every N minutes (0: never).")
    args = p.parse_args(argv)
    deadline = time.time() + args.seconds if args.seconds else None
    args.out = args.out or HERE / "results"
    args.results = args.results or args.out / "compare.csv"
    args.logs = args.logs or args.out / "logs"
    args.out.mkdir(parents=True, exist_ok=True), args.logs.mkdir(parents=True, exist_ok=True)
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["PYTHONPATH"] = os.pathsep.join([str(HERE.parent), os.environ.get("PYTHONPATH", "")])
    base = [sys.executable, str(HERE / "compare.py"), "--profile", args.profile, "--results", str(args.results)]
    base += ["--no-report"]
    for flag in ("device", "dtype"):
        if getattr(args, flag):
            base += [f"--{flag}", getattr(args, flag)]
    if args.carry:
        os.environ["ADAPT_DATA_DIR"] = str(args.carry.resolve() / "datasets")
        # the registry's minilm-l6 read from there, so the rows name the model as the CPU grid's do
        os.environ["ADAPT_MINILM_DIR"] = widen(args.carry / "minilm-l6", Path("/tmp/grid-plan/minilm-l6"))
    from _env import environment

    if args.device:  # the machine the rows come from, beside them (the CPU grid's is written by compare.py)
        (args.out / "compare_env.json").write_text(json.dumps(environment(), indent=2))

    def log(message: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)

    if (args.logs / "STOP").exists():
        log(f"{args.logs / 'STOP'} exists (a plan stopped by hand): remove it to resume")
        return 1

    from adapt_core.grid_spec import hardware, load_spec, sweep_hardware

    spec = load_spec(HERE / "grid.json")
    if args.device:
        spec["train"]["device"] = args.device
    here = hardware(spec, args.profile)
    chooser = sweep_hardware(spec, args.profile, here)
    if "sweep-lr" in args.phases:  # with lr_sweep_on, only the cells no machine has measured (compare.py)
        if chooser != here:
            log(
                f"sweep-lr: the {args.profile} profile's rates are chosen by its {chooser} sweep (lr_sweep_on): "
                f"measuring here only the cells that sweep lacks"
            )
        phase("sweep-lr", base, ["--sweep", "lr"], args, deadline, log)
    if "sweep-knobs" in args.phases:
        phase("sweep-knobs", base, ["--use-swept-rates", "--sweep", "knobs"], args, deadline, log)
    if "grid" in args.phases:
        for seed in args.seeds:
            phase(f"grid-seed{seed}", base, ["--use-swept-rates", "--variants", "--seeds", seed], args, deadline, log)
    if "sweep-budget" in args.phases:
        phase("sweep-budget", base, ["--use-swept-rates", "--sweep", "budget"], args, deadline, log)
    return 0


if __name__ == "__main__":
    sys.exit(main())
