"""The comparison grid's main table, one per profile and hardware measured: test macro-F1 per task and method with
its seed spread, time to full finetuning's best dev score, cost against full finetuning and inference speed; above it
the settings read from the spec, below it the majority-class floor and a generated paragraph per task (AdaPT against
the competing methods and full finetuning).

`grid_part` (which rows are cells of the spec's grid) lives here because the table is its first reader; the
convergence lines, the sweeps' sections and the figures select their rows with it too. The numbers come from
`adapt_core.grid_analysis`, never typed; `compare_report.py` assembles this table into the README's section.
"""

from __future__ import annotations

import functools
import json

import pandas as pd

from adapt_core.grid_analysis import LOADED, grid_rows, loaded_rows, summarise, time_to_quality
from adapt_core.grid_spec import method_settings, task_part
from adapt_core.methods import trains_by_seed


def grid_part(spec: dict, profile: str, rows) -> pd.DataFrame:
    """The rows that are cells of the spec's grid (variants included) on the tasks the rows hold."""
    tasks = sorted(rows["task"].dropna().unique())
    return grid_rows(spec, profile, rows, tasks=tasks, methods=[*spec["methods"], *spec.get("variants", {})])


def grid_section(spec: dict, profile: str, rows) -> list[str]:
    """The grid's table for one profile and hardware, from the rows that are cells of the spec's grid."""
    mine = grid_part(spec, profile, rows)
    summary = summarise(mine)
    if summary.empty:
        return []
    times = time_to_quality(mine)
    times = times[times["measured"]]
    ttq = times.groupby(["task", "method"])["seconds_to_target"]
    reached, measured = ttq.apply(lambda s: s.notna().sum()).to_dict(), ttq.size().to_dict()
    seconds = ttq.mean().to_dict()
    floors = majority_floor(spec, [profile], sorted(summary["task"].unique()))
    lines = [
        *settings(spec, [profile]),
        "",
        "| task | method | test macro-F1 (mean ± std) | seeds | time to full's best dev F1 (s) | train time / full "
        "| step time / full | peak memory / full | optimizer state / full | trainable params | test examples/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = summary.sort_values(["task", "model", "macro_f1_mean"], ascending=[True, True, False])
    for r in order.itertuples():
        star = " **(best)**" if r.winner else ""
        std = "—" if r.seeds < 2 else f"{r.macro_f1_std:.4f}" + (" ‡" if not trains_by_seed(r.method) else "")
        name = r.task if summary["model"].nunique() == 1 else f"{r.task} ({r.model})"
        key = (r.task, r.method)
        hit = reached.get(key, 0)
        if r.method == "stc" or key not in measured:
            ttq_text = "—"
        else:
            ttq_text = "never" if hit == 0 else f"{seconds[key]:.0f} ({hit}/{measured[key]})"
        mark = " †" if r.timing_loaded else ""  # its times, or full's, were measured beside other work
        lines.append(
            f"| {name} | {r.method}{star} | {r.macro_f1_mean:.4f} ± {std} | {r.seeds} | {ttq_text}{mark if hit else ''} | "
            f"{_ratio(r.time_vs_full)}{mark} | {_ratio(r.step_vs_full)}{mark} | {_ratio(r.memory_vs_full)} | "
            f"{_ratio(r.optimizer_vs_full)} | {r.trainable_params:,.0f} | {_number(r.test_examples_per_second)} |"
        )
    lines += [
        "",
        *loaded_note(mine),
        *seedless_note(summary),
        *reference(floors),
        *paragraphs(summary, seconds, measured),
    ]
    return lines


def loaded_note(rows) -> list[str]:
    """The footnote behind the table's †: which CPU cells ran above `LOADED` (shared their cores with more than
    the grid's processes), so their times, and every ratio to them, are inflated: time columns to read with care
    until other seeds, timed alone, join them."""
    done = loaded_rows(rows).sort_values(["task", "method", "seed"])
    if done.empty:
        return []
    cells = ", ".join(f"{r.task} {r.method} seed {r.seed} ({r.cpu_load:.2f})" for r in done.itertuples())
    return [
        f"† Timed beside other work: these cells' load average (`cpu_load`) was above {LOADED:g} on the two cores, "
        f"where the grid's two processes hold about 2, so other work shared the cores: {cells}. Their times are inflated, so a method's ratio to full finetuning "
        "reads too high where its own cell is one of them and too low where full finetuning's is; their scores are "
        "not affected.",
        "",
    ]


def seedless_note(summary) -> list[str]:
    """The footnote behind ‡: a seedless method's ± is floating-point rounding through its search, not a seed
    spread, so it is not to be set against the gradient methods'."""
    names = sorted(
        {m for m, n in zip(summary["method"], summary["seeds"], strict=True) if n >= 2 and not trains_by_seed(m)}
    )
    if not names:
        return []
    return [
        f"‡ No training seed enters {', '.join(names)} on a pretrained model: its seeds repeat one computation, so its "
        "± is the spread of floating-point rounding (thread count, processor) through its choices, not a seed spread.",
        "",
    ]


def _number(value) -> str:
    return "—" if value != value or value is None else f"{value:,.0f}"


COMPETITORS = ("full", "lora", "prefix", "layers", "stc")  # the methods AdaPT is compared with (not its ablations)


def paragraphs(summary, seconds: dict, measured: dict) -> list[str]:
    """One generated paragraph per task: AdaPT against the best competing method (its own ablations and
    full+tokens are not competitors: they are named after) and against full finetuning, the seed spreads (only
    where both have two seeds or more), and the time each needs to reach full finetuning's best dev score."""

    def score(row) -> str:
        return (
            f"{row.macro_f1_mean:.4f} ± {row.macro_f1_std:.4f}"
            if row.seeds >= 2
            else f"{row.macro_f1_mean:.4f} (1 seed)"
        )

    out = []
    for task, part in summary.groupby("task"):
        part = part.set_index("method")
        if "adapt" not in part.index or "full" not in part.index:
            continue
        a, f = part.loc["adapt"], part.loc["full"]
        others = part[part.index.isin(COMPETITORS)].sort_values("macro_f1_mean", ascending=False)
        best = others.index[0]
        gap_best, gap_full = a.macro_f1_mean - others.iloc[0].macro_f1_mean, a.macro_f1_mean - f.macro_f1_mean
        verdict = "wins against" if gap_best > 0 else "loses against" if gap_best < 0 else "ties with"
        if a.seeds >= 2 and f.seeds >= 2:
            spread = f"its seed spread is {'smaller' if a.macro_f1_std < f.macro_f1_std else 'not smaller'} than full finetuning's"
        else:
            spread = "too few seeds to compare spreads"
        ta, tf = seconds.get((task, "adapt")), seconds.get((task, "full"))
        if (task, "adapt") not in measured or (task, "full") not in measured:
            time_text = "Its time to quality was not measured in these rows"
        elif ta != ta:
            time_text = "AdaPT never reached full finetuning's best dev score"
        elif tf != tf:
            time_text = f"AdaPT reached full finetuning's best dev score in {ta:.0f} s; no seed of full finetuning reached the mean of its seeds' best"
        else:
            time_text = (
                f"AdaPT reached full finetuning's best dev score in {ta:.0f} s (mean over the seeds that did) "
                f"against {tf:.0f} s ({ta / tf:.2f}×)"
            ) + (" †, timed beside other work" if a.get("timing_loaded", False) else "")
        ablations = [
            f"{m} {part.loc[m].macro_f1_mean:.4f}"
            for m in ("adapt-no-tokens", "adapt-random-init", "full+tokens")
            if m in part.index
        ]
        if best == "full":  # one comparison, not the same gap twice
            against = f"{verdict} the best competing method, full finetuning ({score(f)}), by {abs(gap_best):.4f}"
        else:
            against = (
                f"{verdict} the best competing method ({best}, {others.iloc[0].macro_f1_mean:.4f}) by "
                f"{abs(gap_best):.4f}, and is {gap_full:+.4f} against full finetuning ({score(f)})"
            )
        out.append(
            f"**{task}**: AdaPT {score(a)} {against}; {spread}. {time_text}."
            + (f" Ablations: {', '.join(ablations)}." if ablations else "")
        )
        out.append("")
    return out


def majority_floor(spec: dict, profiles: list[str], tasks: list[str]) -> dict[str, float]:
    """The floor every method must clear: test macro-F1 of always predicting train's most frequent class."""
    if len(profiles) != 1:
        return {}
    floors = {
        task: _floor(task, json.dumps(task_part(spec, profiles[0], task, "data"), sort_keys=True)) for task in tasks
    }
    return {task: value for task, value in floors.items() if value is not None}


@functools.cache
def _floor(task: str, data_json: str) -> float | None:
    """One task's majority-class floor on one slice, read once per report (the tables and the figures both draw
    it); None when the task cannot be read here."""
    import numpy as np

    from adapt_core.data import DataConfig, load_dataset
    from adapt_core.evaluate import evaluate

    try:
        data = load_dataset(task, DataConfig(**json.loads(data_json)))
    except Exception:  # noqa: BLE001 - a task that cannot be read here simply has no floor
        return None
    train, test = np.asarray(data["train"].labels), np.asarray(data["test"].labels)
    majority = np.full_like(test, np.bincount(train).argmax())
    return evaluate(test, majority, data.label_names).macro_f1


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
        per_task = "; ".join(f"{task} {json.dumps(over)}" for task, over in prof.get("per_task", {}).items())
        lines.append(
            f"Settings (`{name}`): data {json.dumps(prof.get('data', {}))}; training "
            f"{json.dumps(common)}{'; per task ' + per_task if per_task else ''}; every method, every task:"
        )
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
