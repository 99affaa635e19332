"""The report's sections on what the sweeps decided: the learning-rate sweep (each method's rate, chosen on dev),
the budget sweep (what more trainable parameters buy), AdaPT's knob sweep (one setting changed at a time, against
its defaults) and its new-token initialisation (mean against the paper's random) on the lr sweep's tasks.

Kept apart from the grid's table because these sections show the settings the grid trains at and why, not the
grid's results; the choices themselves are made in `adapt_core.grid_sweeps`, and this module only shows them.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pandas as pd  # noqa: E402
from compare_table import grid_part  # noqa: E402

from adapt_core.grid_spec import profile_sweeps, setting_name, sweep_cells  # noqa: E402
from adapt_core.grid_sweeps import knob_choice, knob_choices, knob_progress, knob_scores  # noqa: E402


def init_line(spec: dict, profile: str, rows) -> list[str]:
    """How AdaPT's default new-token initialisation (mean) fares against the paper's (random) on the **dev** sets of
    the lr sweep's tasks, by the sweep's rule (the mean over those tasks of the best dev macro-F1, seeds averaged
    first): the evidence for the default, from the grid's cells at the chosen rate."""
    tasks = profile_sweeps(spec, profile).get("lr", {}).get("tasks", [])
    part = grid_part(spec, profile, rows)
    part = part[part["task"].isin(tasks) & part["method"].isin(["adapt", "adapt-random-init"])]
    by = part.groupby(["method", "task"])["best_dev_macro_f1"].agg(["mean", "count"])
    have = [(m, t) in by.index and by.loc[(m, t), "count"] > 0 for m in ("adapt", "adapt-random-init") for t in tasks]
    if not tasks or not all(have):  # rows without dev scores (the quick profile's) decide nothing
        return []
    scores = {m: by.loc[m, "mean"].mean() for m in ("adapt", "adapt-random-init")}
    shown = "; ".join(
        f"{t} {by.loc[('adapt', t), 'mean']:.4f} against {by.loc[('adapt-random-init', t), 'mean']:.4f} "
        f"({by.loc[('adapt', t), 'count']} / {by.loc[('adapt-random-init', t), 'count']} seeds)"
        for t in tasks
    )
    better = "mean" if scores["adapt"] > scores["adapt-random-init"] else "random"
    return [
        "",
        f"New-token initialisation on the lr sweep's tasks, dev macro-F1, mean (AdaPT's default) against random "
        f"(the paper's, `adapt-random-init`): {shown}; over the tasks {scores['adapt']:.4f} against "
        f"{scores['adapt-random-init']:.4f}: **{better}** is better here.",
    ]


def knob_section(spec: dict, profile: str, rows) -> list[str]:
    """AdaPT's knob sweep as a table (dev / test per task, mean dev, its difference from the default's) and what it
    says: a setting changes AdaPT's default only with a higher mean **dev** score over the sweep's tasks."""
    scores = knob_scores(spec, profile, rows)
    if scores.empty or set(scores["label"]) == {"default"}:
        return []
    tasks = list(dict.fromkeys(scores["task"]))
    choices = knob_choices(scores).set_index("label")
    lines = [
        "",
        "AdaPT's other settings, one changed at a time (knob sweep; one seed; best **dev** macro-F1, test beside it; "
        "the rule below decides, on dev only; a setting below the default on an earlier task is not run on the "
        "later ones):",
        "",
        "| setting | " + " | ".join(f"{t} dev / test" for t in tasks) + " | mean dev | vs default |",
        "|---|" + "---|" * (len(tasks) + 2),
    ]
    for label in dict.fromkeys(["default", *scores["label"]]):
        by_task = scores[scores["label"] == label].set_index("task")
        if by_task.empty:
            continue
        shown = [
            f"{by_task.loc[t, 'dev']:.4f} / {by_task.loc[t, 'test']:.4f}" if t in by_task.index else "—" for t in tasks
        ]
        mean, delta = (
            f"{choices.loc[label, c]:+.4f}" if label in choices.index else "—" for c in ("mean_dev", "vs_default")
        )
        lines.append(f"| {label} | {' | '.join(shown)} | {mean.lstrip('+')} | {'—' if label == 'default' else delta} |")
    better = [f"`{label}`" for label, r in choices.iterrows() if label != "default" and r["vs_default"] > 0]
    chosen = knob_choice(scores)
    decided, total = knob_progress(spec, profile, scores)
    if decided < total:
        outcome = (
            f"**`{chosen}`** so far" if chosen else "**none** so far"
        ) + f" ({decided} of the sweep's {total} cells measured or ruled out)."
    elif chosen:
        outcome = (
            f"**`{chosen}`**. The grid and the budget sweep train AdaPT's family with it (the token settings go to "
            "every method that adds tokens, so full+tokens and the init variant share AdaPT's list); their cells are "
            "named by it, and rows trained before keep their own names."
        )
    else:
        outcome = "**none**: AdaPT keeps its defaults."
    lines += [
        "",
        f"Better than the default on mean dev: {', '.join(better) if better else 'none'}. By the rule fixed before "
        "the sweep (a higher mean dev score and no lower on any task; of several, the best only): " + outcome,
    ]
    return lines


def sweep_summary(spec: dict, profile: str, rows, name: str) -> pd.DataFrame:
    """A sweep's rows (profile and hardware given by `rows`), aggregated over seeds per task, method and setting,
    with the swept value; scores: test macro-F1 and the best dev macro-F1."""
    if profile not in spec["profiles"] or name not in profile_sweeps(spec, profile):
        return pd.DataFrame()
    from adapt_core.comparison import mean_over_seeds

    wanted = {}
    for cell in sweep_cells(spec, profile, name):
        wanted[(cell.task, cell.method, setting_name(spec, profile, cell))] = cell.overrides[0]
    # the sweep's own seeds only: a swept setting that is also the grid's has the grid's later seeds too, and they
    # never enter the sweep's table (nor its choice, `chosen_rates`)
    seeds = {int(s) for s in profile_sweeps(spec, profile)[name].get("seeds", [0])}
    columns = rows[["task", "method", "setting", "seed"]].itertuples(index=False)
    part = rows[[(t, m, s) in wanted and int(seed) in seeds for t, m, s, seed in columns]]
    agg = mean_over_seeds(
        part,
        ["task", "model", "method", "setting"],
        "macro_f1",
        ["best_dev_macro_f1", "trainable_params", "step_seconds"],
    )
    if agg.empty:
        return agg
    varied = [wanted[(t, m, s)] for t, m, s in agg[["task", "method", "setting"]].itertuples(index=False)]
    agg["field"], agg["value"] = [v[0] for v in varied], [v[1] for v in varied]
    if agg.groupby(["task", "method"])["value"].nunique().max() < 2:
        return agg.iloc[0:0]  # only the grid's own setting measured: no sweep to show yet
    return agg


def sweep_section(spec: dict, profile: str, rows, name: str) -> list[str]:
    agg = sweep_summary(spec, profile, rows, name)
    if agg.empty:
        return []
    if name == "lr":
        lines = [
            "",
            "Learning-rate sweep (one seed; the best **dev** macro-F1 per task, test beside it; the rate with the "
            "highest mean dev score over the sweep's tasks is the method's rate in the grid):",
            "",
            "| method | lr | " + " | ".join(f"{t} dev / test" for t in sorted(agg["task"].unique())) + " | mean dev |",
            "|---|---|" + "---|" * (agg["task"].nunique() + 1),
        ]
        tasks, swept = sorted(agg["task"].unique()), profile_sweeps(spec, profile)["lr"]["methods"]
        for (method, value), part in agg.groupby(["method", "value"]):
            by_task = part.set_index("task")
            cells = [
                f"{by_task.loc[t, 'best_dev_macro_f1']:.4f} / {by_task.loc[t, 'macro_f1_mean']:.4f}"
                if t in by_task.index
                else "—"
                for t in tasks
            ]
            # a mean, and a choice, only over every task at every rate (as `chosen_rates`): a gap is waited for
            mine = agg[agg["method"] == method]
            whole = (
                mine["value"].nunique() == len(swept.get(method, {}).get("lr", []))
                and (mine.groupby("value")["task"].nunique() == len(tasks)).all()
            )
            means = mine.groupby("value")["best_dev_macro_f1"].mean()
            best = whole and means.idxmax() == value
            mean = f"{part['best_dev_macro_f1'].mean():.4f}" if whole else "— (a cell is missing)"
            lines.append(f"| {method} | {value:g}{' **(chosen)**' if best else ''} | {' | '.join(cells)} | {mean} |")
        return lines
    lines = [
        "",
        "Budget sweep (test macro-F1 mean ± std over seeds; trainable parameters; step time):",
        "",
        "| task | method | setting | test macro-F1 | seeds | trainable params | step (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in agg.sort_values(["task", "method", "trainable_params"]).itertuples():
        lines.append(
            f"| {r.task} | {r.method} | {r.field} {r.value:g} | {r.macro_f1_mean:.4f} ± {r.macro_f1_std:.4f} | "
            f"{r.seeds} | {r.trainable_params:,.0f} | {r.step_seconds:.3f} |"
        )
    return lines
