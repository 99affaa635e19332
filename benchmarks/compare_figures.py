"""The comparison grid's figures, drawn from the results CSV for the README and the Compare page: test macro-F1 per
method and task (one PNG per model; a bar of one seed hatched), score against training time, what a budget buys
(score against trainable parameters and step time), and the dev curves behind the convergence check.

Kept apart from the report (`compare_report.py` and the tables and paragraphs it assembles, whose rows these figures
draw) so that each module holds one kind of output; this one imports the report's row selection (`compare_table.py`)
and dev curves (`compare_convergence.py`), never the reverse.

Every figure colours a method by `method_colors(spec)`: the spec's order, not the order rows happen to appear in,
so a method has one colour across profiles, hardware and figures (the Compare page shows them side by side).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from compare_convergence import dev_curves_of  # noqa: E402
from compare_table import grid_part  # noqa: E402

from adapt_core.grid_spec import task_part  # noqa: E402
from adapt_core.methods import trains_by_seed  # noqa: E402


def method_colors(spec: dict) -> dict[str, str]:
    """{method: matplotlib colour}: the grid's methods, then its variants, in the spec's order."""
    names = [*spec["methods"], *spec.get("variants", {})]
    return {name: f"C{i % 10}" for i, name in enumerate(names)}


def _color(colors: dict[str, str] | None, method: str, fallback: int) -> str:
    return (colors or {}).get(method, f"C{fallback % 10}")


def figures(
    summary,
    out: Path,
    floors: dict[str, float] | None = None,
    suffix: str = "",
    title: str = "",
    colors: dict[str, str] | None = None,
    methods: list[str] | None = None,
    note: str = "",
) -> list[tuple[str, str]]:
    """One PNG per model: macro-F1 mean ± std per method, grouped by task (the Compare page shows them), and the
    matching cost figure (`trade_off`). `methods` are the ones the profile plans, in order (default: those with a
    row): a (task, method) slot without a row says "not run" rather than leaving a gap that reads as nothing. The
    number over a bar is its seeds. A bar of one seed is hatched and has no error bar: it has no spread to show,
    and a zero-height bar would claim one; a method the seed does not enter (STC) has none either, its spread being
    rounding. Returns the (task, method) slots not run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    missing = []
    for model, part in summary.groupby("model"):
        tasks = sorted(part["task"].unique())
        planned, gaps_before = methods or list(dict.fromkeys(part["method"])), len(missing)
        fig, ax = plt.subplots(figsize=(1.6 * len(tasks) + 3, 4.2))
        width, handles, top = 0.8 / len(planned), [], 0.0
        for j, method in enumerate(planned):
            rows = part[part["method"] == method].set_index("task").reindex(tasks)
            seeds = rows["seeds"].fillna(0).astype(int)
            spread = (seeds >= 2) & trains_by_seed(method)
            color = _color(colors, method, j)
            bars = ax.bar(
                [i + j * width for i in range(len(tasks))],
                rows["macro_f1_mean"].fillna(0),
                width,
                yerr=rows["macro_f1_std"].where(spread),  # NaN: no error bar drawn
                capsize=2,
                color=color,
            )
            handles.append(Patch(facecolor=color, label=method))  # the legend's swatch, unhatched
            for i, (bar, n, has_spread) in enumerate(zip(bars, seeds, spread, strict=True)):
                x = i + j * width
                if n == 0:  # no row for this slot: say so where its bar would stand
                    missing.append((tasks[i], method))
                    ax.text(x, 0.01, "not run", rotation=90, ha="center", va="bottom", fontsize=5, color="0.35")
                    continue
                if n < 2:
                    bar.set_hatch("///")
                    bar.set_edgecolor("white")
                head = rows["macro_f1_mean"].iloc[i] + (rows["macro_f1_std"].iloc[i] if has_spread else 0.0)
                ax.text(x, head + 0.01, str(n), ha="center", va="bottom", fontsize=5)
                top = max(top, head)
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
        ax.set_ylim(0, min(1.0, top + 0.08) if top else 1.0)
        ax.set_ylabel("test macro-F1 (mean ± std over seeds)")
        said = ["the number over a bar: its seeds"]
        if (part["seeds"] < 2).any():
            said.append("hatched: one seed so far, no spread")
        if any(not trains_by_seed(m) for m in planned):
            said.append("stc: no error bar, the seed does not enter it")
        if len(missing) > gaps_before:
            said.append("not run: no row yet")
        legend = textwrap.fill(f"({'; '.join(said)})", width=int(11 * fig.get_figwidth()))  # fits the figure
        ax.set_title(f"{model}{f', {title}' if title else ''}: test macro-F1 per task\n{legend}", fontsize=9)
        floor = ax.get_legend_handles_labels()[0]  # the dashed majority-class line, when drawn
        ax.legend(handles=handles + floor, fontsize=6, ncol=2, loc="upper right")
        fig.tight_layout()
        fig.savefig(out / f"compare-{model}{suffix}.png", dpi=110)
        plt.close(fig)
        trade_off(part, tasks, planned, out / f"compare-cost-{model}{suffix}.png", colors, note)
    return missing


def trade_off(
    part, tasks: list[str], methods: list[str], path: Path, colors: dict[str, str] | None = None, note: str = ""
) -> list[str]:
    """Macro-F1 against training time relative to `full`, one panel per task: what a budget buys. Each panel's
    F1 axis spans at least 0.2 and its time axis at least 1 and holds full's own 1.0 (both said in the figure), so a
    0.01 gap or a 5 % time difference never fills a panel; one seed: no error bar (said). `note` is a line the
    figure must carry (a GPU's times are throughput of cells sharing the card). A task without a `full` row has no
    time ratio to draw: its panel says so instead of showing empty axes, and the tasks left empty are returned."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks) + 1, 3.4), squeeze=False)
    empty, any_loaded, any_single, shown = [], False, False, set()
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
                    yerr=part_["macro_f1_std"].where((part_["seeds"] >= 2) & trains_by_seed(method)),  # as the bars
                    fmt="o",
                    color=_color(colors, method, i),
                    markerfacecolor="none" if hollow else _color(colors, method, i),
                    capsize=2,
                )
            any_loaded = any_loaded or bool(loaded.any())
            any_single = any_single or bool((r["seeds"] < 2).any())
            shown = shown | ({i} if len(r) else set())
        ax.set_title(task), ax.set_xlabel("train time / full (spans ≥ 1)")
        ax.grid(alpha=0.3)
        _widen(ax.get_xlim(), 1.0, ax.set_xlim, must_hold=1.0, ceiling=None)
        _widen(ax.get_ylim(), 0.2, ax.set_ylim, ceiling=1.0)
    axes[0][0].set_ylabel("test macro-F1 (each panel spans ≥ 0.2)")
    said = [note] if note else []
    if any_loaded:  # the table's †: say it in the figure too, or a hollow point reads as measured
        said.append("hollow: its time or full finetuning's was measured beside other work: the ratio is unreliable")
    if any_single:  # a point without a bar is one seed, not a spread of zero
        said.append("no error bar: one seed so far")
    if said:
        fig.suptitle("\n".join(said), fontsize=8)
    # One solid entry per method drawn in any panel (a panel's own handles would show a method hollow in the
    # legend where that panel's point was), and a hollow one saying what hollow means.
    handles = [
        Line2D([], [], marker="o", ls="", color=_color(colors, methods[i], i), label=methods[i]) for i in sorted(shown)
    ]
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


def _widen(limits: tuple[float, float], span: float, set_limits, must_hold=None, ceiling=None) -> None:
    """Set an axis to at least `span` wide around what it shows (and `must_hold`), never below 0 nor above
    `ceiling`."""
    low, high = limits
    if must_hold is not None:
        low, high = min(low, must_hold), max(high, must_hold)
    if high - low < span:
        middle = (low + high) / 2
        low = max(0.0, middle - span / 2)
        if ceiling is not None:
            low = min(low, ceiling - span)
        high = low + span
    set_limits(low, high)


def budget_figure(agg, path: Path, colors: dict[str, str] | None = None) -> None:
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
                    color=_color(colors, method, i),
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


def dev_curves_figure(
    spec: dict, profile: str, rows, path: Path, methods=("full", "adapt"), hardware: str = ""
) -> None:
    """Dev macro-F1 after each epoch, one panel per task, a line per run of `methods` (seeds in one colour per
    method, `method_colors`): what the plateau line says, to see. Every panel's epoch axis runs to the profile's
    epochs for that task, so a line early stopping ended looks as short as it is."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    part = grid_part(spec, profile, rows)
    curves = {m: dev_curves_of(part, m) for m in methods}
    tasks = sorted({t for c in curves.values() for t in c["task"]})
    if not tasks:
        return
    colors = method_colors(spec)
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks) + 1, 3.2), squeeze=False, sharey=True)
    for ax, task in zip(axes[0], tasks, strict=True):
        for i, (method, frame) in enumerate(curves.items()):
            for j, curve in enumerate(frame[frame["task"] == task]["curve"]):
                ys = [y for _, y in curve]
                ax.plot(
                    range(1, len(ys) + 1),
                    ys,
                    color=colors.get(method, f"C{i}"),
                    alpha=0.8,
                    label=method if j == 0 else None,
                )
        epochs = {**spec.get("train", {}), **task_part(spec, profile, task, "train")}.get("epochs")
        if epochs:
            ax.set_xlim(0.5, epochs + 0.5)
        ax.set_title(task), ax.set_xlabel("epoch"), ax.set_ylim(0, 1), ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("dev macro-F1 (a line per seed)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    patience = {**spec.get("train", {}), **spec["profiles"][profile].get("train", {})}.get("patience")
    fig.suptitle(
        f"Dev curves, {profile}{f' on {hardware}' if hardware else ''}: early stopping ends a line after {patience} "
        "evaluations without a new best",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
