"""The comparison grid (tasks × methods × seeds × models) → benchmarks/results/compare.csv, a summary, figures.

    python benchmarks/compare.py --profile converge --estimate           # CPU hours of the plan, from measured steps
    python benchmarks/compare.py --profile converge --sweep lr           # the learning-rate sweep (grid.json)
    python benchmarks/compare.py --profile converge --shard 0/2 &        # the grid, two processes sharing the CSV
    python benchmarks/compare.py --profile converge --shard 1/2 &
    python benchmarks/compare.py --profile converge --sweep budget       # what a budget buys
    python benchmarks/compare.py --report-only                           # re-draw summary, README tables, figures
    python -m adapt_core bench compare …                                 # the same

Each cell is a normal run folder under benchmarks/runs/ (git-ignored); a finished cell is skipped and a failed one
retried once, so a second invocation does no repeated work. The README's comparison tables are generated from the CSV
between its `compare:start` / `compare:end` markers, never typed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _env import environment  # noqa: E402
from compare_estimate import estimate  # noqa: E402
from compare_figures import budget_figure, dev_curves_figure, figures, method_colors  # noqa: E402
from compare_report import report, update_readme  # noqa: E402
from compare_sweeps import sweep_summary  # noqa: E402
from compare_table import grid_part, majority_floor  # noqa: E402

from adapt_core.grid_analysis import summarise  # noqa: E402
from adapt_core.grid_results import (  # noqa: E402
    cell_id,
    mark_not_run,
    read_results,
    supersede_plateau_stops,
)
from adapt_core.grid_runner import run_grid  # noqa: E402
from adapt_core.grid_spec import hardware, load_spec  # noqa: E402
from adapt_core.grid_sweeps import (  # noqa: E402
    chosen_knob,
    chosen_rates,
    knob_pruner,
    lr_unmeasured,
    trained_spec,
    unrated_methods,
    with_knob,
    with_rates,
)

RESULTS = HERE / "results"
README = HERE.parent / "README.md"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spec", type=Path, default=HERE / "grid.json")
    p.add_argument("--profile", default="converge", help="A profile of the spec: converge, quick or smoke.")
    p.add_argument("--sweep", default=None, help="Run a sweep of the spec (lr, budget) instead of the grid.")
    p.add_argument("--variants", action="store_true", help="Also run the spec's variants (e.g. adapt-random-init).")
    p.add_argument("--shard", default="0/1", help="i/n: run every n-th cell from the i-th (n processes share the CSV).")
    p.add_argument(
        "--claims",
        type=Path,
        default=None,
        help="A folder the processes of one invocation share: each runs the next cell nobody claimed (not --shard).",
    )
    p.add_argument("--device", default=None, help="Override the training device (auto, cpu, cuda).")
    p.add_argument("--dtype", default=None, help="Override the training dtype (fp32, bf16, …).")
    p.add_argument(
        "--use-swept-rates",
        action="store_true",
        help="Train each method at the rate its `lr` sweep chose on dev (rows already in the results file).",
    )
    p.add_argument("--stop-after", type=float, default=None, help="Start no cell after this many seconds.")
    p.add_argument("--stop-file", type=Path, default=None, help="Start no cell once this file exists.")
    p.add_argument("--estimate", action="store_true", help="Print the plan's CPU hours from measured rows, then stop.")
    p.add_argument("--tasks", nargs="*"), p.add_argument("--methods", nargs="*")
    p.add_argument("--seeds", nargs="*", type=int), p.add_argument("--models", nargs="*")
    p.add_argument("--results", type=Path, default=RESULTS / "compare.csv")
    p.add_argument("--runs-root", type=Path, default=HERE / "runs")
    p.add_argument(
        "--rerun-plateau-stops",
        action="store_true",
        help="Mark the profile's rows that early stopping ended before a first dev gain as not run, to run again.",
    )
    p.add_argument("--report-only", action="store_true", help="Only rebuild summary, README table and figures.")
    p.add_argument("--no-readme", action="store_true", help="Do not rewrite the README table.")
    p.add_argument("--no-report", action="store_true", help="Only run cells (processes sharing a results file).")
    p.add_argument(
        "--mark-not-run",
        metavar="REASON",
        default=None,
        help="Record every cell of the (sub-)grid without a row as `not run` with this reason (then report).",
    )
    args = p.parse_args(argv)
    spec = load_spec(args.spec)
    for key, value in (("device", args.device), ("dtype", args.dtype)):
        if value is not None:  # the spec's training settings, for this invocation only
            spec["train"][key] = value
            for prof in spec["profiles"].values():
                prof.get("train", {}).pop(key, None)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    methods = args.methods or ([*spec["methods"], *spec.get("variants", {})] if args.variants else None)
    subset = {"tasks": args.tasks, "methods": methods, "seeds": args.seeds, "models": args.models}
    if args.sweep:
        subset["sweep"] = args.sweep
    shard = tuple(int(x) for x in args.shard.split("/"))
    keeps = []  # the cells this invocation leaves out, without a row
    here = hardware(spec, args.profile)
    if args.sweep == "lr" and spec["profiles"][args.profile].get("lr_sweep_on"):  # one sweep for every machine:
        gaps = lr_unmeasured(spec, args.profile, read_results(args.results), here)  # measured once, where missing
        print(f"lr sweep: {len(gaps)} cells still unmeasured: {sorted(gaps) or 'none'}")
        keeps.append(lambda c, s=spec: cell_id(s, args.profile, c) in gaps)
    if args.use_swept_rates:
        frame, hw = read_results(args.results), here
        rates = chosen_rates(spec, args.profile, frame, hardware=hw)
        print(f"rates chosen on dev by the lr sweep: {rates or 'none yet (the sweep has not finished)'}")
        if waiting := unrated_methods(spec, args.profile, rates):  # never at a rate the sweep did not choose
            print(f"left out until the lr sweep chooses their rate: {sorted(waiting)}")
            keeps.append(lambda c: c.method not in waiting)
        spec = with_rates(spec, rates)
        if args.sweep not in ("lr", "knobs"):  # the grid and the budget sweep: AdaPT as its knob sweep chose on dev
            knob = chosen_knob(spec, args.profile, frame, hw)
            print(f"AdaPT's setting chosen on dev by the knob sweep: {knob or 'none (defaults, or sweep unfinished)'}")
            spec = with_knob(spec, args.profile, knob)
    stop_at = time.time() + args.stop_after if args.stop_after else None
    if args.estimate:  # the CPU plan, at the rates it trains at (so a finished cell counts as done)
        frame = read_results(args.results)
        rated = with_rates(spec, chosen_rates(spec, args.profile, frame, hardware="cpu"))
        print(estimate(trained_spec(spec, args.profile, frame, "cpu"), args.profile, frame, swept=rated))
        return 0
    if args.rerun_plateau_stops:
        keys = supersede_plateau_stops(spec, args.profile, args.results)
        print(f"{len(keys)} rows superseded (early stopping ended them before a first dev gain), to run again:")
        print("\n".join(f"  {' · '.join(map(str, k))}" for k in keys))
        return 0
    if args.mark_not_run is not None:
        count = mark_not_run(spec, args.profile, args.results, args.mark_not_run, **subset)
        print(f"{count} cells marked as not run")
    elif not args.report_only:
        run_grid(
            spec,
            args.profile,
            args.results,
            args.runs_root,
            shard=shard,
            stop_at=stop_at,
            claims=args.claims,
            stop_file=args.stop_file,
            skip=knob_pruner(spec, args.profile, args.results, hardware(spec, args.profile))
            if args.sweep == "knobs"
            else None,
            keep=lambda cell: all(k(cell) for k in keeps),
            **subset,
        )
        if args.no_report:
            return 0
    frame = read_results(args.results)
    table = report(spec, frame)
    print(table)
    (args.results.parent / "compare_summary.md").write_text(table + "\n")
    (args.results.parent / "compare_env.json").write_text(json.dumps(environment(), indent=2))
    for (profile, hw), rows in frame.groupby(["profile", "hardware"]):
        if profile not in spec["profiles"]:
            continue
        trained = trained_spec(spec, profile, frame, hw)
        summary = summarise(grid_part(trained, profile, rows))
        colors = method_colors(trained)  # one colour per method in every figure
        if not summary.empty:
            suffix = "" if (profile, hw) == ("quick", "cpu") else f"-{profile}-{hw}"
            floors = majority_floor(trained, [profile], sorted(summary["task"].unique()))
            shared = "" if hw == "cpu" else "times: cells ran side by side on one card (throughput under that sharing)"
            figures(
                summary, args.results.parent, floors, suffix, f"{profile} on {hw}", colors, list(colors), note=shared
            )
        if spec["profiles"][profile].get("train", {}).get("patience"):
            curves = args.results.parent / f"compare-curves-{profile}-{hw}.png"
            dev_curves_figure(trained, profile, rows, curves, hardware=hw)
        budget = sweep_summary(trained, profile, rows, "budget")
        if not budget.empty:
            budget_figure(budget, args.results.parent / f"compare-budget-{profile}-{hw}.png", colors)
    if not args.no_readme and README.exists():
        update_readme(README, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
