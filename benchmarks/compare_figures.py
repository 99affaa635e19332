"""The comparison grid's figures, drawn from the results CSV for the README and the Compare page: test macro-F1 per
method and task (one PNG per model; a bar of one seed hatched), score against training time, what a budget buys
(score against trainable parameters and step time), and the dev curves behind the convergence check.

Kept apart from the report (`compare_report.py` and the tables and paragraphs it assembles, whose rows these figures
draw) so that each module holds one kind of output; this one imports the report's row selection (`compare_table.py`)
and dev curves (`compare_convergence.py`), never the reverse.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compare_convergence import dev_curves_of  # noqa: E402
from compare_table import grid_part  # noqa: E402


def figures(summary, out: Path, floors: dict[str, float] | None = None, suffix: str = "", title: str = "") -> None:
    """One PNG per model: macro-F1 mean ± std per method, grouped by task (the Compare page shows them). A bar of
    one seed is hatched and has no error bar: it has no spread to show, and a zero-height bar would claim one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    for model, part in summary.groupby("model"):
        tasks, methods = sorted(part["task"].unique()), list(dict.fromkeys(part["method"]))
        fig, ax = plt.subplots(figsize=(1.6 * len(tasks) + 3, 4))
        width, handles = 0.8 / len(methods), []
        for j, method in enumerate(methods):
            rows = part[part["method"] == method].set_index("task").reindex(tasks)
            several = rows["seeds"].fillna(0) >= 2
            bars = ax.bar(
                [i + j * width for i in range(len(tasks))],
                rows["macro_f1_mean"],
                width,
                yerr=rows["macro_f1_std"].where(several),  # NaN: no error bar drawn
                capsize=2,
            )
            handles.append(Patch(facecolor=bars[0].get_facecolor(), label=method))  # the legend's swatch, unhatched
            for bar, many in zip(bars, several, strict=True):
                if not many:
                    bar.set_hatch("///")
                    bar.set_edgecolor("white")
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
        one_seed = (part["seeds"] < 2).any()
        ax.set_title(
            f"{model}{f', {title}' if title else ''}: every method on every task"
            + ("\n(hatched: one seed so far, no spread)" if one_seed else ""),
            fontsize=10,
        )
        ax.legend(handles=handles + ax.get_legend_handles_labels()[0], fontsize=7, ncol=2)
        fig.tight_layout()
        fig.savefig(out / f"compare-{model}{suffix}.png", dpi=110)
        plt.close(fig)
        trade_off(part, tasks, methods, out / f"compare-cost-{model}{suffix}.png")


def trade_off(part, tasks: list[str], methods: list[str], path: Path) -> list[str]:
    """Macro-F1 against training time relative to `full`, one panel per task: what a budget buys. Each panel's
    F1 axis spans at least 0.2 (said in the figure), so a 0.01 gap never fills a panel; one seed: no error bar.
    A task without a `full` row has no time ratio to draw: its panel says so instead of showing empty axes,
    and the tasks left empty are returned."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks) + 1, 3.4), squeeze=False)
    empty, any_loaded, shown = [], False, set()
    for ax, task in zip(axes[0], tasks, strict=True):
        rows = part[(part["task"] == task) & part["time_vs_full"].notna()]
        if rows.empty:  # no full finetuning yet: every ratio is undefined
            empty.append(task)
            ax.set_title(task), ax.set_xticks([]), ax.set_yticks([])
            ax.text(
                0.5,
                0.5,
                "no full finetuning\nrow yet: times are\nrelative to it",
                ha="center",
                va="center",
                transform=ax.transAxes,
                fontsize=9,
                color="0.4",
            )
            continue
        for i, method in enumerate(methods):
            r = rows[rows["method"] == method]
            loaded = r.reindex(columns=["timing_loaded"])["timing_loaded"].eq(True)
            for part_, hollow in ((r[~loaded], False), (r[loaded], True)):  # hollow: its time, or full's, is inflated
                if part_.empty:
                    continue
                ax.errorbar(
                    part_["time_vs_full"],
                    part_["macro_f1_mean"],
                    yerr=part_["macro_f1_std"].where(part_["seeds"] >= 2),
                    fmt="o",
                    color=f"C{i}",
                    markerfacecolor="none" if hollow else f"C{i}",
                    capsize=2,
                )
            any_loaded = any_loaded or bool(loaded.any())
            shown = shown | ({i} if len(r) else set())
        ax.set_title(task), ax.set_xlabel("train time / full")
        ax.grid(alpha=0.3)
        low, high = ax.get_ylim()
        if high - low < 0.2:
            middle = (low + high) / 2
            low, high = max(0.0, middle - 0.1), min(1.0, max(0.0, middle - 0.1) + 0.2)
            ax.set_ylim(low, high)
    axes[0][0].set_ylabel("test macro-F1 (each panel spans ≥ 0.2)")
    if any_loaded:  # the table's †: say it in the figure too, or a hollow point reads as measured
        fig.suptitle(
            "hollow: its time or full finetuning's was measured beside other work: the ratio is unreliable", fontsize=8
        )
    # One solid entry per method drawn in any panel (a panel's own handles would show a method hollow in the
    # legend where that panel's point was), and a hollow one saying what hollow means.
    handles = [Line2D([], [], marker="o", ls="", color=f"C{i}", label=methods[i]) for i in sorted(shown)]
    if any_loaded:
        handles.append(
            Line2D([], [], marker="o", ls="", color="0.4", markerfacecolor="none", label="timed beside other work")
        )
    if handles:  # the legend sits right of the last panel, even when that panel waits for its full row
        axes[0][-1].legend(handles=handles, fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return empty


def budget_figure(agg, path: Path) -> None:
    """What a budget buys: test macro-F1 (mean ± std over seeds) against trainable parameters (log) and against step
    time, one panel pair per task, a series per method with a point per budget."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted(agg["task"].unique())
    fig, axes = plt.subplots(len(tasks), 2, figsize=(9, 3.2 * len(tasks)), squeeze=False)
    for row, task in zip(axes, tasks, strict=True):
        for i, (method, part) in enumerate(agg[agg["task"] == task].groupby("method")):
            part = part.sort_values("trainable_params")
            for ax, x in zip(row, ("trainable_params", "step_seconds"), strict=True):
                ax.errorbar(
                    part[x],
                    part["macro_f1_mean"],
                    yerr=part["macro_f1_std"],
                    fmt="o-",
                    color=f"C{i}",
                    label=method,
                    capsize=2,
                )
                for r in part.itertuples():
                    ax.annotate(
                        f"{r.field} {r.value:g}",
                        (getattr(r, x), r.macro_f1_mean),
                        fontsize=6,
                        xytext=(3, 3),
                        textcoords="offset points",
                    )
        row[0].set_xscale("log")
        row[0].set_xlabel("trainable parameters (log)"), row[1].set_xlabel("step time (s)")
        for ax in row:
            ax.set_ylim(0, 1), ax.set_ylabel(f"{task}: test macro-F1"), ax.grid(alpha=0.3)
        row[1].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def dev_curves_figure(spec: dict, profile: str, rows, path: Path, methods=("full", "adapt")) -> None:
    """Dev macro-F1 after each epoch, one panel per task, a line per run of `methods` (seeds in one colour per
    method): what the plateau line says, to see."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    part = grid_part(spec, profile, rows)
    curves = {m: dev_curves_of(part, m) for m in methods}
    tasks = sorted({t for c in curves.values() for t in c["task"]})
    if not tasks:
        return
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks) + 1, 3.2), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        for i, (method, frame) in enumerate(curves.items()):
            for j, curve in enumerate(frame[frame["task"] == task]["curve"]):
                ys = [y for _, y in curve]
                ax.plot(range(1, len(ys) + 1), ys, color=f"C{i}", alpha=0.8, label=method if j == 0 else None)
        ax.set_title(task), ax.set_xlabel("epoch"), ax.set_ylim(0, 1), ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("dev macro-F1 (a line per seed)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    patience = {**spec.get("train", {}), **spec["profiles"][profile].get("train", {})}.get("patience")
    fig.suptitle(
        f"Dev curves, {profile}: early stopping ends a line after {patience} evaluations without a new best",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
