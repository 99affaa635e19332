"""The comparison grid's report: the README's tables and the plan's estimate, from the results CSV.

`compare.py` (the command line) runs the cells and writes what this module makes: per profile and hardware measured,
the grid's table with its settings, time-to-quality and inference speed, whether full finetuning converged, the
learning-rate and budget sweeps, a generated paragraph per task (AdaPT against the competing methods), what did not
run; the README block between its markers; and the plan's CPU hours (`estimate`). The figures are
`compare_figures.py`'s. Kept apart from the command line so the report can be read, tested and rebuilt from a CSV on its own;
the numbers come from `adapt_core.grid_analysis`, never typed.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pandas as pd  # noqa: E402
from _env import environment  # noqa: E402

from adapt_core.grid_analysis import (  # noqa: E402
    chosen_rates,
    grid_rows,
    knob_choice,
    knob_choices,
    knob_scores,
    summarise,
    time_to_quality,
    trained_spec,
)
from adapt_core.grid_spec import profile_sweeps, setting_name, sweep_cells, sweep_hardware, task_part  # noqa: E402


def report(spec: dict, frame: pd.DataFrame) -> str:
    """The README's comparison section, one part per (profile, hardware) measured: the grid's table with its
    settings, time-to-quality and inference speed; the learning-rate sweep; the budget sweep; a paragraph per task;
    then what did not run. Newest profile first (converge before quick)."""
    if frame.empty or not (frame["state"] == "completed").any():
        return "_No completed cell yet._"
    env = environment()
    parts = [
        f"torch {env['torch']}, transformers {env['transformers']}; tables generated from the CSV on {env['date']}."
    ]
    order = {"converge": 0, "converge-8ep": 1, "quick": 2}
    groups = sorted(frame.groupby(["profile", "hardware"]), key=lambda g: (order.get(g[0][0], 9), g[0][1]))
    for (profile, hw), rows in groups:
        if profile not in spec["profiles"] or not (rows["state"] == "completed").any():
            continue
        trained = trained_spec(spec, profile, frame, hw)
        parts += ["", f"#### Profile `{profile}` on {_device_names(rows)}", ""]
        if spec["profiles"][profile].get("_doc"):
            parts += [spec["profiles"][profile]["_doc"], ""]
        parts += grid_section(trained, profile, rows)
        parts += plateau_line(trained, profile, rows)
        if sweep_hardware(spec, profile, hw) != hw:
            rates = chosen_rates(spec, profile, frame, hardware=hw)
            shown = ", ".join(f"{m} {r:g}" for m, r in rates.items()) or "none yet"
            parts += ["", f"Learning rates: the {sweep_hardware(spec, profile, hw)} lr sweep's choice on dev: {shown}."]
        parts += init_line(trained, profile, rows)
        parts += knob_section(trained, profile, rows)
        parts += sweep_section(trained, profile, rows, "lr")
        parts += sweep_section(trained, profile, rows, "budget")
    parts += ["", *accounting(frame, spec)]
    return "\n".join(parts)


def grid_part(spec: dict, profile: str, rows) -> pd.DataFrame:
    """The rows that are cells of the spec's grid (variants included) on the tasks the rows hold."""
    tasks = sorted(rows["task"].dropna().unique())
    return grid_rows(spec, profile, rows, tasks=tasks, methods=[*spec["methods"], *spec.get("variants", {})])


def _device_names(rows) -> str:
    devices = sorted({d for d in rows["device"].dropna().astype(str) if d})
    hw = rows["hardware"].iloc[0]
    if hw == "cpu" or not devices:
        return hw.upper()
    shared = (
        "; the cells ran side by side on the one card (`grid_plan.py --workers`), so its times are throughput "
        "under that sharing, not one cell alone"
    )
    return f"{', '.join(devices)}{shared}"


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
        std = "—" if r.seeds < 2 else f"{r.macro_f1_std:.4f}"
        name = r.task if summary["model"].nunique() == 1 else f"{r.task} ({r.model})"
        key = (r.task, r.method)
        hit = reached.get(key, 0)
        if r.method == "stc" or key not in measured:
            ttq_text = "—"
        else:
            ttq_text = "never" if hit == 0 else f"{seconds[key]:.0f} ({hit}/{measured[key]})"
        lines.append(
            f"| {name} | {r.method}{star} | {r.macro_f1_mean:.4f} ± {std} | {r.seeds} | {ttq_text} | "
            f"{_ratio(r.time_vs_full)} | {_ratio(r.step_vs_full)} | {_ratio(r.memory_vs_full)} | "
            f"{_ratio(r.optimizer_vs_full)} | {r.trainable_params:,.0f} | {_number(r.test_examples_per_second)} |"
        )
    lines += ["", *reference(floors), *paragraphs(summary, seconds, measured)]
    return lines


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
        verdict = "wins" if gap_best > 0 else "loses"
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
            )
        ablations = [
            f"{m} {part.loc[m].macro_f1_mean:.4f}"
            for m in ("adapt-no-tokens", "adapt-random-init", "full+tokens")
            if m in part.index
        ]
        out.append(
            f"**{task}**: AdaPT {score(a)} {verdict} against the best competing method "
            f"({best}, {others.iloc[0].macro_f1_mean:.4f}) by {gap_best:+.4f}, and is {gap_full:+.4f} against full "
            f"finetuning ({score(f)}); {spread}. {time_text}."
            + (f" Ablations: {', '.join(ablations)}." if ablations else "")
        )
        out.append("")
    return out


PLATEAU = 0.01  # the last two evaluations of a converged run differ by less than this


def plateaued(curve: list, epochs: int) -> bool:
    """Whether a dev curve ([[seconds, dev macro-F1], …], one evaluation per epoch) has plateaued: early stopping
    ended it before its last epoch (no new best for `patience` evaluations), or its last two evaluations are within
    PLATEAU of each other."""
    if len(curve) < 2:
        return False
    return len(curve) < epochs or abs(curve[-1][1] - curve[-2][1]) < PLATEAU


def dev_curves_of(rows, method: str) -> pd.DataFrame:
    """The completed rows of `method` that have a dev curve, the curve parsed (`curve`: [[seconds, dev macro-F1], …])."""
    part = rows[(rows["state"] == "completed") & (rows["method"] == method)]
    part = part.assign(curve=part["dev_curve"].map(lambda c: json.loads(c) if isinstance(c, str) and c else []))
    return part[part["curve"].map(len) > 0]


def _plateaus(spec: dict, profile: str, rows, method: str) -> list[tuple]:
    """Per task: (task, seeds whose dev curve plateaued, seeds, their evaluations as 'a/b', the epochs)."""
    curves = dev_curves_of(grid_part(spec, profile, rows), method)
    by_task = []
    for task, part in curves.groupby("task"):
        epochs = int(task_part(spec, profile, task, "train").get("epochs", spec["train"].get("epochs", 1)))
        done = [plateaued(c, epochs) for c in part["curve"]]
        lengths = "/".join(str(len(c)) for c in part["curve"])
        by_task.append((task, sum(done), len(done), lengths, epochs))
    return by_task


def plateau_line(spec: dict, profile: str, rows) -> list[str]:
    """Whether end-to-end finetuning converged on each task (`plateaued`; the figure
    compare-curves-<profile>-<hardware>.png shows the curves): the evidence that the profile trains long enough.
    Then the same for AdaPT: where its curve still rose at the end, its score is what the budget buys, not its
    ceiling."""
    if not spec["profiles"][profile].get("train", {}).get("patience"):
        return []  # a fixed step budget (quick) makes no claim of convergence
    lines = []
    for method, who in (("full", "End-to-end finetuning's"), ("adapt", "AdaPT's")):
        by_task = _plateaus(spec, profile, rows, method)
        if not by_task:
            continue
        shown = "; ".join(f"{t} {k} of {n} seeds ({lengths} of {e} evaluations)" for t, k, n, lengths, e in by_task)
        every = all(k == n for _, k, n, _, _ in by_task)
        verdict = "converged on every task measured" if every else "not yet converged everywhere"
        if method != "full" and not every:
            verdict += ": where it still rose, its score is what this budget buys, not its ceiling"
        lines += [
            "",
            f"{who} dev macro-F1 plateaued (early stopping ended it, or its last two evaluations are within {PLATEAU}) "
            f"on {shown}: **{verdict}**.",
        ]
    return lines


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
    lines += [
        "",
        f"Better than the default on mean dev: {', '.join(better) if better else 'none'}. By the rule fixed before "
        "the sweep (a higher mean dev score and no lower on any task; of several, the best only): "
        + (f"**`{chosen}`**." if chosen else "**none**: AdaPT keeps its defaults."),
    ]
    wanted = {(c.task, setting_name(spec, profile, c)) for c in sweep_cells(spec, profile, "knobs")}
    skipped = rows[rows["state"] == "not run"].assign(setting=rows["setting"].fillna(""))
    decided = set(zip(scores["task"], scores["setting"], strict=True)) | {
        (t, s) for t, s in zip(skipped["task"], skipped["setting"], strict=True) if (t, s) in wanted
    }
    if len(decided) < len(wanted):
        lines[-1] += f" So far: {len(decided)} of the sweep's {len(wanted)} cells measured or ruled out."
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
    mask = [(t, m, s) in wanted for t, m, s in rows[["task", "method", "setting"]].itertuples(index=False)]
    part = rows[mask]
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
        for (method, value), part in agg.groupby(["method", "value"]):
            by_task = part.set_index("task")
            cells = [
                f"{by_task.loc[t, 'best_dev_macro_f1']:.4f} / {by_task.loc[t, 'macro_f1_mean']:.4f}"
                if t in by_task.index
                else "—"
                for t in sorted(agg["task"].unique())
            ]
            mean = part["best_dev_macro_f1"].mean()
            means = agg[agg["method"] == method].groupby("value")["best_dev_macro_f1"].mean().dropna()
            best = not means.empty and means.idxmax() == value
            lines.append(
                f"| {method} | {value:g}{' **(chosen)**' if best else ''} | {' | '.join(cells)} | {mean:.4f} |"
            )
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


def estimate(spec: dict, profile: str, frame) -> str:
    """The plan's CPU hours: every cell of the grid (variants included) and of the sweeps, once each. A cell is
    costed from measured rows of this profile on the CPU (the mean wall time of the same task and method); before
    any was measured, from the `quick` profile's measured step time of the same task and method, scaled to this
    profile's steps (epochs × batches, early stopping ignored: an upper bound) and to the tokens per batch that its
    lengths and batching give (`padded_tokens`), plus 10 % for evaluation and setup."""
    from adapt_core.grid_spec import cells, row_key

    done = frame[(frame["state"] == "completed") & (frame["profile"] == profile) & (frame["hardware"] == "cpu")]
    measured = done.groupby(["task", "method"])["total_seconds"].mean()
    have = {row_key_of(r) for r in done.itertuples(index=False)}
    sweeps = [n for n in profile_sweeps(spec, profile) if n != "lr" or sweep_hardware(spec, profile, "cpu") == "cpu"]
    plan = {
        "grid": cells(spec, profile, methods=[*spec["methods"], *spec.get("variants", {})]),
        **{f"sweep {name}": cells(spec, profile, sweep=name) for name in sweeps},
    }
    prior = _prior(spec, profile, frame)
    lines = ["| part | cells | to run | CPU hours (all) | CPU hours left |", "|---|---|---|---|---|"]
    seen, totals, guessed = set(), [0.0, 0.0], False
    for part, todo in plan.items():
        hours, left, n_left, n = 0.0, 0.0, 0, 0
        for cell in todo:
            key = row_key(spec, profile, cell)
            if key in seen:
                continue
            seen.add(key)
            n += 1
            cost = measured.get((cell.task, cell.method))
            if cost is None or cost != cost:
                cost, guessed = prior(cell.task, cell.method), True
            hours += cost / 3600
            if key not in have:
                left, n_left = left + cost / 3600, n_left + 1
        totals = [totals[0] + hours, totals[1] + left]
        lines.append(f"| {part} | {n} | {n_left} | {hours:.1f} | {left:.1f} |")
    lines.append(f"| total | {len(seen)} | | {totals[0]:.1f} | {totals[1]:.1f} |")
    if guessed:
        lines.append("")
        lines.append(
            "Cells not yet measured in this profile are costed from the quick profile's step times, scaled to this "
            "profile's steps and tokens per batch (an upper bound: early stopping is ignored)."
        )
    return "\n".join(lines)


def row_key_of(row) -> tuple:
    return (row.profile, row.hardware, row.task, row.method, row.setting or "", row.model, int(row.seed))


def _prior(spec: dict, profile: str, frame):
    """cost(task, method) in seconds from the quick profile's measured step times (see `estimate`)."""
    import math

    from adapt_core.data import DataConfig, load_dataset
    from adapt_core.grid_spec import task_part
    from adapt_core.models import load_tokenizer

    quick = frame[(frame["state"] == "completed") & (frame["profile"] == "quick") & (frame["hardware"] == "cpu")]
    steps = quick.groupby(["task", "method"])["step_seconds"].mean()
    totals = quick.groupby(["task", "method"])["train_seconds"].mean()  # STC's train_seconds: its whole fit
    cache: dict[str, tuple[float, float]] = {}

    def batch_tokens(task: str) -> tuple[float, float, int]:
        if task not in cache:
            tok = load_tokenizer(spec["models"][0])
            data = load_dataset(task, DataConfig(**task_part(spec, profile, task, "data")))
            lengths = [len(ids) for ids in tok(data["train"].texts)["input_ids"]]
            conf = {**spec.get("train", {}), **task_part(spec, profile, task, "train")}
            quick_len = {**spec.get("train", {}), **spec["profiles"]["quick"].get("train", {})}["max_length"]
            cache[task] = (
                padded_tokens(lengths, quick_len, 32, False),
                padded_tokens(lengths, conf["max_length"], conf["batch_size"], conf.get("group_by_length", False)),
                math.ceil(len(lengths) / conf["batch_size"]) * conf["epochs"],
            )
        return cache[task]

    def per_token(method: str) -> float:
        """Seconds per padded training token of `method` in the quick profile, averaged over its tasks."""
        rates = [
            step / (32 * quick_tokens_of(task))
            for (task, m), step in steps.items()
            if m == method and step == step and task in spec["tasks"]
        ]
        return sum(rates) / len(rates) if rates else float("nan")

    def quick_tokens_of(task: str) -> float:
        return batch_tokens(task)[0] / 32

    def cost(task: str, method: str) -> float:
        if method == "stc":  # outside the training loop: its quick wall time, scaled by the training slice
            stc = totals[[m == "stc" for _, m in totals.index]].mean()
            return float(stc) * task_part(spec, profile, task, "data").get("max_train", 1000) / 1000
        rate = per_token(method)
        if rate != rate:
            rate = per_token("full")
        _, tokens, n_steps = batch_tokens(task)
        return 1.1 * rate * tokens * n_steps

    return cost


def padded_tokens(lengths: list[int], max_length: int, batch_size: int, grouped: bool) -> float:
    """Tokens per batch after dynamic padding (batch size × the longest text in the batch, each cut to max_length),
    averaged over one epoch of the training loop's own batching."""
    import torch

    from adapt_core.train import LengthGroupedBatches

    cut = [min(n, max_length) for n in lengths]
    if grouped:
        batches = list(LengthGroupedBatches(cut, batch_size, seed=0))
    else:
        order = torch.randperm(len(cut), generator=torch.Generator().manual_seed(0)).tolist()
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return sum(len(b) * max(cut[i] for i in b) for b in batches) / len(batches)


def majority_floor(spec: dict, profiles: list[str], tasks: list[str]) -> dict[str, float]:
    """The floor every method must clear: test macro-F1 of always predicting train's most frequent class."""
    import numpy as np

    from adapt_core.data import DataConfig, load_dataset
    from adapt_core.evaluate import evaluate
    from adapt_core.grid_spec import task_part

    if len(profiles) != 1:
        return {}
    floors = {}
    for task in tasks:
        try:
            data = load_dataset(task, DataConfig(**task_part(spec, profiles[0], task, "data")))
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
        per_task = "; ".join(f"{task} {json.dumps(over)}" for task, over in prof.get("per_task", {}).items())
        lines.append(
            f"Settings (`{name}`): data {json.dumps(prof.get('data', {}))}; training "
            f"{json.dumps(common)}{'; per task ' + per_task if per_task else ''}; every method, every task:"
        )
    from adapt_core.grid_spec import method_settings

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
        for (profile, hw, reason), rows in part.groupby(["profile", "hardware", "error"], dropna=False):
            cells = "; ".join(f"{task} {_seeds(g)} ({_methods(g, spec)})" for task, g in rows.groupby("task"))
            lines.append(f"{label} ({len(rows)} cells, `{profile}` on {str(hw).upper()}): {cells}. Why: {reason}")
    done = (frame["state"] == "completed").sum()
    lines.insert(0, f"{done} of {len(frame)} cells in `benchmarks/results/compare.csv` completed.")
    return lines


def _seeds(rows) -> str:
    seeds = sorted(int(s) for s in rows["seed"].unique())
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def _methods(rows, spec: dict) -> str:
    names = {m + (f" [{s}]" if s == s and s else "") for m, s in zip(rows["method"], rows["setting"], strict=True)}
    return "every method" if names == set(spec["methods"]) else ", ".join(sorted(names))


def update_readme(path: Path, table: str) -> None:
    text = path.read_text()
    block = f"<!-- compare:start -->\n{table}\n<!-- compare:end -->"
    pattern = re.compile(r"<!-- compare:start -->.*?<!-- compare:end -->", re.S)
    path.write_text(pattern.sub(block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n")
