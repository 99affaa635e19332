"""Whether the grid's runs converged: a dev curve has plateaued when early stopping ended it or its last two
evaluations agree; per task, how many seeds of full finetuning and of AdaPT plateaued.

The report states it under each profile's table as the evidence that the profile trains long enough (and, for AdaPT,
where its score is what the budget buys rather than its ceiling); the figures draw the same dev curves
(`dev_curves_of`). Kept apart from the table because it reads the runs' dev curves, not their test scores.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pandas as pd  # noqa: E402
from compare_table import grid_part  # noqa: E402

from adapt_core.grid_spec import task_part  # noqa: E402

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


def _and(items: list[str]) -> str:
    """'13', '13 and 16', '13, 14 and 16': the evaluations each seed ran, as a sentence lists them."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _plateaus(spec: dict, profile: str, rows, method: str) -> list[tuple]:
    """Per task: (task, seeds whose dev curve plateaued, seeds, their evaluations as 'a and b', the epochs)."""
    curves = dev_curves_of(grid_part(spec, profile, rows), method)
    by_task = []
    for task, part in curves.groupby("task"):
        epochs = int(task_part(spec, profile, task, "train").get("epochs", spec["train"].get("epochs", 1)))
        done = [plateaued(c, epochs) for c in part["curve"]]
        lengths = _and([str(len(c)) for c in part["curve"]])
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
