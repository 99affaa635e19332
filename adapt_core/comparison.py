"""The one aggregation of runs into a comparison: per group, the score's mean ± std over seeds and the mean costs.

The studio's Compare page (`plots.runs_figures.aggregate`, over run folders) and the benchmark grid
(`grid_analysis.summarise`, over the results CSV) both call `mean_over_seeds`, so a table in the app and one in the
README agree on the same runs.
Only completed runs with a score count; the std is the sample std (ddof 1), 0 for a single seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd


def mean_over_seeds(frame: pd.DataFrame, group: Sequence[str], score: str, costs: Sequence[str] = ()) -> pd.DataFrame:
    """Columns: *group, seeds, macro_f1_mean, macro_f1_std, *costs (means); empty when nothing completed."""
    group, costs = list(group), list(costs)
    done = frame[(frame["state"] == "completed") & frame[score].notna()].copy()
    if done.empty:
        return pd.DataFrame(columns=[*group, "seeds", "macro_f1_mean", "macro_f1_std", *costs])
    for column in costs:
        if column not in done:
            done[column] = float("nan")
    grouped = done.groupby(group, dropna=False)
    out = grouped[score].agg(seeds="count", macro_f1_mean="mean", macro_f1_std="std")
    out["macro_f1_std"] = out["macro_f1_std"].fillna(0.0)
    if costs:
        out = out.join(grouped[costs].mean(numeric_only=False))
    return out.reset_index()


def ratios_to(agg: pd.DataFrame, keys: Sequence[str], columns: Sequence[str], baseline: str = "full") -> pd.DataFrame:
    """`<column>_vs_<baseline>`: each cost divided by the baseline method's in the same `keys` group."""
    base = agg[agg["method"] == baseline][[*keys, *columns]]
    out = agg.merge(base, on=list(keys), how="left", suffixes=("", "_base"))
    for column in columns:
        out[f"{column}_vs_{baseline}"] = out[column] / out.pop(f"{column}_base")
    return out


def winners(agg: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    """True on the row with the best mean score within each `keys` group of at least two methods (a method measured
    alone is not "the best" of anything)."""
    best = agg.loc[agg.groupby(list(keys))["macro_f1_mean"].idxmax(), [*keys, "method"]]
    rivals = (agg.groupby(list(keys))["method"].transform("nunique") > 1).to_numpy()
    named = agg.merge(best, on=list(keys), how="left", suffixes=("", "_best"))["method_best"].to_numpy()
    return pd.Series((named == agg["method"].to_numpy()) & rivals, index=agg.index)


# ---- The budget frontier: macro-F1 against trainable parameters and step time, one point per method and budget.

BUDGET_KEYS = ("layers", "top_k", "lora_r", "prefix_len")  # what sets a method's budget (layers, when set, wins)
FRONTIER_GROUP = ["source", "dataset", "model", "method", "setting"]
FRONTIER_COSTS = ["trainable_params", "step_seconds"]
GRID_COLUMNS = ["task", "method", "model", "seed", "macro_f1", "trainable_params", "step_seconds", "state"]


def budget_setting(settings: dict | None) -> str:
    """A run's budget as `key=value` (AdaPT / layers `top_k=5`, LoRA `lora_r=8`, prefix `prefix_len=20`, layer
    selection `layers=2` when a layer count replaces its top-k); "" for a method without one (full, STC)."""
    settings = settings or {}
    for key in BUDGET_KEYS:
        if settings.get(key) is not None:
            return f"{key}={settings[key]:g}" if isinstance(settings[key], float) else f"{key}={settings[key]}"
    return ""


def run_points(table: pd.DataFrame, configs: Sequence[dict]) -> pd.DataFrame:
    """The studio's runs as frontier points: a run table (`plots.runs_figures.run_table`) and each run's config.json, in
    the same order, give source "runs", the budget setting and `macro_f1` (the test macro-F1)."""
    points = table.rename(columns={"test_macro_f1": "macro_f1"})
    return points.assign(source="runs", setting=[budget_setting(c.get("settings")) for c in configs])


def read_grid(path, spec: dict | None = None) -> pd.DataFrame:
    """The benchmark grid's results CSV as frontier points (source "grid <profile> <hardware>", `task` read as
    `dataset`, a missing
    `setting` column as ""); an empty frame when the file is absent. A CSV without the needed columns is an
    AdaptError naming them. With the grid's `spec` (benchmarks/grid.json), only the cells each profile trained as
    its comparison (`grid_analysis.trained_rows`)."""
    from pathlib import Path

    from adapt_core.errors import AdaptError

    if not Path(path).is_file():
        return pd.DataFrame(columns=[*FRONTIER_GROUP, "seed", "macro_f1", *FRONTIER_COSTS, "state"])
    try:
        frame = pd.read_csv(path)
    except (ValueError, OSError) as err:
        raise AdaptError(f"{path} is not a readable CSV ({err}); rerun benchmarks/compare.py") from None
    missing = [c for c in GRID_COLUMNS if c not in frame]
    if missing:
        raise AdaptError(f"{path} lacks the column(s) {', '.join(missing)}; rerun benchmarks/compare.py")
    from adapt_core.grid_analysis import loaded_rows, trained_rows

    if spec is not None and {"profile", "hardware"} <= set(frame.columns):
        frame = trained_rows(spec, frame)  # the grid's and the budget sweep's cells, not every rate tried
    # a step time measured while other work shared the cores is no measurement of the method: marked, not hidden
    timed = frame.index.isin(loaded_rows(frame).index) if "hardware" in frame else False
    frame = frame.assign(timed_loaded=timed)
    setting = frame["setting"].fillna("").astype(str) if "setting" in frame else ""
    # one source per profile and hardware: a 96-step cell and a converged one (or a GPU twin) are never averaged
    source = "grid"
    for column in ("profile", "hardware"):
        if column in frame:
            source = source + " " + frame[column].fillna("").astype(str)
    if not isinstance(source, str):
        source = source.str.strip()
    return frame.rename(columns={"task": "dataset"}).assign(source=source, setting=setting)


def frontier(points: pd.DataFrame) -> pd.DataFrame:
    """Per source, dataset, model, method and budget setting: macro-F1 mean ± std over seeds, the mean trainable
    parameters and seconds per step (the one aggregation, `mean_over_seeds`), `timed_loaded`: a seed's step time
    was measured beside other work (`grid_analysis.loaded_rows`; a studio run is never marked), and `seeds_repeat`:
    no training seed enters the method (`methods.trains_by_seed`), so its ± is rounding, not a seed spread."""
    loaded = points["timed_loaded"] if "timed_loaded" in points else pd.Series(False, index=points.index)
    points = points.assign(setting=points["setting"].fillna("").astype(str), timed_loaded=loaded.eq(True).astype(float))
    for column in ["macro_f1", *FRONTIER_COSTS]:  # a run without a step time has None there, not NaN
        points[column] = pd.to_numeric(points[column], errors="coerce")
    agg = mean_over_seeds(points, FRONTIER_GROUP, "macro_f1", [*FRONTIER_COSTS, "timed_loaded"])
    from adapt_core.methods import trains_by_seed

    return agg.assign(
        timed_loaded=agg["timed_loaded"].astype(float) > 0,  # any seed loaded marks the mean
        seeds_repeat=~agg["method"].map(trains_by_seed).astype(bool),
    )
