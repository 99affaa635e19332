"""The one aggregation of runs into a comparison: per group, the score's mean ± std over seeds and the mean costs.

The studio's Compare page (`plots.runs.aggregate`, over run folders) and the benchmark grid (`grid.summarise`, over
the results CSV) both call `mean_over_seeds`, so a table in the app and one in the README agree on the same runs.
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
    """True on the row with the best mean score within each `keys` group."""
    best = agg.loc[agg.groupby(list(keys))["macro_f1_mean"].idxmax(), [*keys, "method"]]
    return agg.merge(best, on=list(keys), how="left", suffixes=("", "_best"))["method_best"].eq(agg["method"])
