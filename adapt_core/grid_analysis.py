"""The comparison grid's results, analysed: what the rows of the results file (`grid_results.read_results`) say.

Per profile, hardware, task, model, method and setting: the score's mean ± std over seeds and the cost ratios to full
finetuning (`summarise`), with the times measured beside other work marked (`loaded_rows`,
`timed_beside_other_work`); which rows are cells of the grid as the spec stands (`grid_rows`) and which the grid
trained as its comparison (`trained_rows`, `plan_ids`: the grid's and the budget sweep's cells at the settings its
sweeps chose on dev, `grid_sweeps.trained_spec`); how long each run took to reach full finetuning's best dev score
(`time_to_quality`). Kept apart from `grid_runner.py` (the running of cells) because the report, the studio's Compare
page and the CLI read results that other processes or machines wrote, without running anything; this module imports
from `grid_spec.py` (cells, settings), `grid_results.py` (keys, the file) and `grid_sweeps.py` (the sweeps' choices),
never the reverse. Dev decides everything (best checkpoint, STC's choices); test is only read for the table.
"""

from __future__ import annotations

import json

import pandas as pd

from adapt_core.grid_results import KEY, cell_id
from adapt_core.grid_spec import cells, profile_sweeps, setting_name
from adapt_core.grid_sweeps import trained_spec

RATIOS = ("train_seconds", "step_seconds", "peak_memory_bytes", "optimizer_state_bytes")


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Per profile, hardware, task, model, method and setting: macro-F1 mean ± std over seeds
    (`comparison.mean_over_seeds`, as the studio), the winner, and cost ratios to `full` in the same profile, hardware,
    task and model (`time_vs_full`, `step_vs_full`, `memory_vs_full`, `optimizer_vs_full`). Give it one setting per
    method (the grid's cells, `grid_rows`), or the ratios to `full` are ambiguous."""
    from adapt_core.comparison import mean_over_seeds, ratios_to, winners

    frame = frame.copy()
    for column, default in (("profile", ""), ("hardware", "cpu"), ("setting", "")):
        frame[column] = frame[column].fillna(default) if column in frame else default
    keys = ["profile", "hardware", "task", "model"]
    agg = mean_over_seeds(frame, [*keys, "method", "setting"], "macro_f1", ["trainable_params", *RATIOS, *EXTRAS])
    if agg.empty:
        return pd.DataFrame()
    agg = ratios_to(agg, keys, RATIOS)
    names = {"train_seconds": "time", "step_seconds": "step", "peak_memory_bytes": "memory"}
    agg = agg.rename(columns={f"{c}_vs_full": f"{names.get(c, c.split('_')[0])}_vs_full" for c in RATIOS})
    agg["winner"] = winners(agg, keys)
    return timed_beside_other_work(frame, agg, keys)


# A CPU cell whose recorded load average (`cpu_load`, its mean over the cell) was above this shared the machine's
# two cores with more than the grid's two one-thread processes (a test run, a rerun beside them): those hold about 2
# (median 2.09 over the converge rows), and above 2.5 each got at most 2/2.5 of a core on average, so the cell's
# times are inflated by a quarter or more, and so is every ratio to it.
LOADED = 2.5


def loaded_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The completed CPU rows whose recorded load average (`cpu_load`) was above `LOADED`: timed beside other work."""
    done = frame[(frame["state"] == "completed") & (frame["hardware"] == "cpu")]
    return done[done.reindex(columns=["cpu_load"])["cpu_load"] > LOADED]


def timed_beside_other_work(frame: pd.DataFrame, agg: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """`timing_loaded`: a method's times, or full finetuning's (which its ratios divide by), include a row timed
    beside other work (`loaded_rows`), so the table and the cost figure can mark what they cannot trust rather than
    show it as measured."""
    group = [*keys, "method", "setting"]
    loaded = loaded_rows(frame).reindex(columns=group).drop_duplicates().assign(own=True)
    agg = agg.merge(loaded, on=group, how="left")
    own = agg.pop("own").eq(True)
    full = agg.loc[own & (agg["method"] == "full"), keys].drop_duplicates().assign(full_loaded=True)
    base = agg.merge(full, on=keys, how="left")["full_loaded"].eq(True)
    return agg.assign(timing_loaded=own | base)


EXTRAS = ("test_examples_per_second", "setup_seconds", "total_seconds")


def grid_rows(spec: dict, profile: str, frame: pd.DataFrame, **subset) -> pd.DataFrame:
    """The rows of the results file that are cells of the spec's grid as it stands (sweep rows with other settings,
    and rows of settings the spec no longer has, left out)."""
    wanted = {(c.task, c.method, setting_name(spec, profile, c)) for c in cells(spec, profile, **subset)}
    mask = [
        (p == profile) and (t, m, s) in wanted
        for p, t, m, s in frame.reindex(columns=["profile", "task", "method", "setting"]).itertuples(index=False)
    ]
    return frame[mask]


def plan_ids(trained: dict, profile: str, tasks=None) -> set[tuple]:
    """`cell_id`s of what a profile trains as its comparison under `trained` (`trained_spec`): the grid's cells,
    variants included, on `tasks` (default the profile's), and the budget sweep's on its own tasks. The lr and knob
    sweeps only choose settings, so they are not in it."""
    methods = [*trained["methods"], *trained.get("variants", {})]
    todo = cells(trained, profile, tasks, methods)
    if "budget" in profile_sweeps(trained, profile):
        todo += cells(trained, profile, sweep="budget")
    return {cell_id(trained, profile, c) for c in todo}


def trained_rows(spec: dict, frame: pd.DataFrame) -> pd.DataFrame:
    """The rows that are what each profile and hardware trained as its comparison: the grid's cells (variants
    included) and the budget sweep's, at the rates that hardware's lr sweep chose on dev. The lr sweep's other
    rates are left out, so a budget never shows several scores, one per rate tried."""
    keep = pd.Series(False, index=frame.index)
    frame = frame.assign(setting=frame["setting"].fillna("").astype(str))  # a raw CSV reads an empty setting as NaN
    for (profile, hw), rows in frame.groupby(["profile", "hardware"]):
        if profile not in spec["profiles"]:
            continue
        trained = trained_spec(spec, profile, frame, hw)  # the whole frame: the sweep may have run elsewhere
        tasks = sorted(rows["task"].dropna().unique())
        wanted = {(t, m, s) for t, m, s, _, _ in plan_ids(trained, profile, tasks)}
        settings = rows.reindex(columns=["task", "method", "setting"]).fillna("")
        keep[rows.index] = [tuple(r) in wanted for r in settings.itertuples(index=False)]
    return frame[keep]


def time_to_quality(frame: pd.DataFrame, baseline: str = "full") -> pd.DataFrame:
    """Per row: the wall time (setup + training, s) until the run's dev macro-F1 first reached the `baseline`
    method's best dev macro-F1 (the mean over its seeds of the same profile, hardware, task and model), NaN when it
    never did. Columns: the KEY columns, `target`, `seconds_to_target`, `measured` (a dev curve and a target exist)."""
    keys = ["profile", "hardware", "task", "model"]
    done = frame[frame["state"] == "completed"].copy()
    target = done[done["method"] == baseline].groupby(keys)["best_dev_macro_f1"].mean().rename("target")
    done = done.join(target, on=keys)

    def first_reach(row) -> float:
        curve = json.loads(row["dev_curve"]) if isinstance(row["dev_curve"], str) and row["dev_curve"] else []
        setup = row["setup_seconds"] if row["setup_seconds"] == row["setup_seconds"] else 0.0
        for seconds, score in curve:
            # the curve keeps 5 decimals (`dev_curve`): a run whose best *is* the target reaches it
            if row["target"] == row["target"] and score >= row["target"] - 1e-5:
                return float(setup or 0.0) + seconds
        return float("nan")

    done["seconds_to_target"] = done.apply(first_reach, axis=1) if len(done) else []
    measured = done["dev_curve"].map(lambda c: isinstance(c, str) and c not in ("", "[]"))
    done["measured"] = measured & done["target"].notna()  # False: no curve or no baseline: unknown, not "never"
    return done[[*KEY, "target", "seconds_to_target", "measured"]]
