"""The comparison grid (tasks × methods × seeds × models) → benchmarks/results/compare.csv, a summary, figures.

    python benchmarks/compare.py --profile gpu                 # the whole grid (hyperparameters: grid.json)
    python benchmarks/compare.py --profile cpu --tasks scierc  # a CPU-sized sub-grid
    python benchmarks/compare.py --report-only                 # re-draw the summary, README table and figures
    python -m adapt_core bench compare …                       # the same

Each cell is a normal run folder under benchmarks/runs/ (git-ignored); a finished cell is skipped and a failed one
retried once, so a second invocation does no repeated work. The README's comparison table is generated from the CSV
between its `compare:start` / `compare:end` markers, never typed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _env import environment  # noqa: E402

from adapt_core.grid import load_spec, mark_not_run, read_results, run_grid, summarise  # noqa: E402

RESULTS = HERE / "results"
README = HERE.parent / "README.md"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--spec", type=Path, default=HERE / "grid.json")
    p.add_argument("--profile", default="cpu", help="A profile of the spec: gpu, cpu or smoke.")
    p.add_argument("--tasks", nargs="*"), p.add_argument("--methods", nargs="*")
    p.add_argument("--seeds", nargs="*", type=int), p.add_argument("--models", nargs="*")
    p.add_argument("--results", type=Path, default=RESULTS / "compare.csv")
    p.add_argument("--runs-root", type=Path, default=HERE / "runs")
    p.add_argument("--report-only", action="store_true", help="Only rebuild summary, README table and figures.")
    p.add_argument("--no-readme", action="store_true", help="Do not rewrite the README table.")
    p.add_argument(
        "--mark-not-run",
        metavar="REASON",
        default=None,
        help="Record every cell of the (sub-)grid without a row as `not run` with this reason (then report).",
    )
    args = p.parse_args(argv)
    spec = load_spec(args.spec)
    args.results.parent.mkdir(parents=True, exist_ok=True)
    subset = {"tasks": args.tasks, "methods": args.methods, "seeds": args.seeds, "models": args.models}
    if args.mark_not_run is not None:
        count = mark_not_run(spec, args.profile, args.results, args.mark_not_run, **subset)
        print(f"{count} cells marked as not run")
    elif not args.report_only:
        run_grid(spec, args.profile, args.results, args.runs_root, **subset)
    frame = read_results(args.results)
    summary = summarise(frame)
    profiles = sorted(set(frame.loc[frame["state"] == "completed", "profile"].dropna()))
    floors = majority_floor(spec, profiles, sorted(summary["task"].unique())) if not summary.empty else {}
    table = markdown(summary, frame, spec, floors)
    print(table)
    (args.results.parent / "compare_summary.md").write_text(table + "\n")
    (args.results.parent / "compare_env.json").write_text(json.dumps(environment(), indent=2))
    if not summary.empty:
        figures(summary, args.results.parent, floors)
    if not args.no_readme and README.exists():
        update_readme(README, table)
    return 0


def markdown(summary, frame, spec: dict, floors: dict[str, float]) -> str:
    """The README's comparison section: where and how it was measured, the settings, the table, what did not run."""
    if summary.empty:
        return "_No completed cell yet._"
    env = environment()
    profiles = sorted(set(frame.loc[frame["state"] == "completed", "profile"].dropna()))
    lines = [
        f"Measured on {env.get('gpu', 'CPU')} ({env['cpu_count']} cores), torch {env['torch']}, "
        f"transformers {env['transformers']}, {env['date']}; profile {', '.join(profiles)}.",
        "",
        *settings(spec, profiles),
        "",
        "| task | method | test macro-F1 (mean ± std) | seeds | train time / full | step time / full "
        "| peak memory / full | optimizer state / full | trainable params |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    order = summary.sort_values(["task", "model", "macro_f1_mean"], ascending=[True, True, False])
    for r in order.itertuples():
        star = " **(best)**" if r.winner else ""
        std = "—" if r.seeds < 2 else f"{r.macro_f1_std:.4f}"
        name = r.task if summary["model"].nunique() == 1 else f"{r.task} ({r.model})"
        lines.append(
            f"| {name} | {r.method}{star} | {r.macro_f1_mean:.4f} ± {std} | {r.seeds} | "
            f"{_ratio(r.time_vs_full)} | {_ratio(r.step_vs_full)} | {_ratio(r.memory_vs_full)} | "
            f"{_ratio(r.optimizer_vs_full)} | {r.trainable_params:,.0f} |"
        )
    lines += ["", *reference(floors), *accounting(frame, spec)]
    return "\n".join(lines)


def majority_floor(spec: dict, profiles: list[str], tasks: list[str]) -> dict[str, float]:
    """The floor every method must clear: test macro-F1 of always predicting train's most frequent class."""
    import numpy as np

    from adapt_core.data import DataConfig, load_dataset
    from adapt_core.evaluate import evaluate

    if len(profiles) != 1:
        return {}
    floors = {}
    for task in tasks:
        try:
            data = load_dataset(task, DataConfig(**spec["profiles"][profiles[0]].get("data", {})))
        except Exception:  # noqa: BLE001 - a task that cannot be read here simply has no floor
            continue
        train, test = np.asarray(data["train"].labels), np.asarray(data["test"].labels)
        majority = np.full_like(test, np.bincount(train).argmax())
        floors[task] = evaluate(test, majority, data.label_names).macro_f1
    return floors


def reference(floors: dict[str, float]) -> list[str]:
    if not floors:
        return []
    parts = ", ".join(f"{task} {value:.4f}" for task, value in floors.items())
    return [f"Majority class (train's most frequent label) on the same test slices: {parts}.", ""]


def _ratio(value: float) -> str:
    return "—" if value != value else f"{value:.2f}"


def settings(spec: dict, profiles: list[str]) -> list[str]:
    """The hyperparameters, read from the spec: one line common to all, one per method."""
    lines = []
    for name in profiles:
        prof = spec["profiles"].get(name, {})
        common = {**spec.get("train", {}), **prof.get("train", {})}
        lines.append(
            f"Settings (`{name}`): data {json.dumps(prof.get('data', {}))}; training "
            f"{json.dumps(common)}; every method, every task:"
        )
    from adapt_core.grid import method_settings

    for method, conf in spec["methods"].items():
        lr = getattr(method_settings(spec, profiles[0], method), "lr", None)
        parts = [
            f"{k} {v}"
            for k, v in {**({"lr": lr} if lr else {}), **conf.get("train", {}), **conf.get("method", {})}.items()
        ]
        lines.append(f"`{method}` {', '.join(parts) or '(frozen model; its choices made on dev)'};")
    for name in spec.get("variants", {}):
        from adapt_core.methods import get_method

        lines.append(f"`{name}`: {get_method(name).help} (run only where the table shows it);")
    return [" ".join(lines)]


def accounting(frame, spec: dict) -> list[str]:
    """Which cells did not run or failed, grouped by reason, so the table accounts for the whole grid."""
    lines = []
    for state, label in (("not run", "Not run"), ("failed", "Failed")):
        part = frame[frame["state"] == state]
        for reason, rows in part.groupby("error", dropna=False):
            cells = "; ".join(f"{task} {_seeds(g)} ({_methods(g, spec)})" for task, g in rows.groupby("task"))
            lines.append(f"{label} ({len(rows)} cells): {cells}. Why: {reason}")
    done = (frame["state"] == "completed").sum()
    lines.insert(0, f"{done} of {len(frame)} cells in `benchmarks/results/compare.csv` completed.")
    return lines


def _seeds(rows) -> str:
    seeds = sorted(int(s) for s in rows["seed"].unique())
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def _methods(rows, spec: dict) -> str:
    methods = set(rows["method"])
    return "every method" if methods == set(spec["methods"]) else ", ".join(sorted(methods))


def figures(summary, out: Path, floors: dict[str, float] | None = None) -> None:
    """One PNG per model: macro-F1 mean ± std per method, grouped by task (the Compare page shows them)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for model, part in summary.groupby("model"):
        tasks, methods = sorted(part["task"].unique()), list(dict.fromkeys(part["method"]))
        fig, ax = plt.subplots(figsize=(1.6 * len(tasks) + 3, 4))
        width = 0.8 / len(methods)
        for j, method in enumerate(methods):
            rows = part[part["method"] == method].set_index("task").reindex(tasks)
            ax.bar(
                [i + j * width for i in range(len(tasks))],
                rows["macro_f1_mean"],
                width,
                yerr=rows["macro_f1_std"].fillna(0),
                label=method,
                capsize=2,
            )
        for i, task in enumerate(tasks):
            if task in (floors or {}):  # the majority-class floor under each task's bars
                ax.hlines(
                    floors[task],
                    i - width,
                    i + 0.8,
                    colors="black",
                    linestyles="dashed",
                    linewidth=1,
                    label="majority class" if i == 0 else None,
                )
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(tasks))], tasks)
        ax.set_ylabel("test macro-F1 (mean ± std over seeds)")
        ax.set_title(f"{model}: every method on every task")
        ax.legend(fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(out / f"compare-{model}.png", dpi=110)
        plt.close(fig)
        trade_off(part, tasks, methods, out / f"compare-cost-{model}.png")


def trade_off(part, tasks: list[str], methods: list[str], path: Path) -> None:
    """Macro-F1 against training time relative to `full`, one panel per task: what a budget buys."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks) + 1, 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        rows = part[part["task"] == task]
        for i, method in enumerate(methods):
            r = rows[rows["method"] == method]
            ax.errorbar(
                r["time_vs_full"],
                r["macro_f1_mean"],
                yerr=r["macro_f1_std"].fillna(0),
                fmt="o",
                color=f"C{i}",
                label=method,
                capsize=2,
            )
        ax.set_title(task), ax.set_xlabel("train time / full")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("test macro-F1")
    axes[0][-1].legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def update_readme(path: Path, table: str) -> None:
    text = path.read_text()
    block = f"<!-- compare:start -->\n{table}\n<!-- compare:end -->"
    pattern = re.compile(r"<!-- compare:start -->.*?<!-- compare:end -->", re.S)
    path.write_text(pattern.sub(block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n")


if __name__ == "__main__":
    sys.exit(main())
