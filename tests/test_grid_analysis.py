"""grid_analysis.py: summaries over seeds, the times measured beside other work, time to quality, the rows trained."""

from __future__ import annotations

import json

import helpers_grid
import pandas as pd
import pytest

from adapt_core import grid_analysis, grid_results, grid_spec, grid_sweeps


def test_summary_means_stds_and_ratios():
    frame = pd.DataFrame(
        [
            {
                "task": "t",
                "model": "m",
                "method": "full",
                "seed": s,
                "macro_f1": f,
                "train_seconds": 10.0,
                "peak_memory_bytes": 100.0,
                "trainable_params": 50,
                "state": "completed",
            }
            for s, f in ((0, 0.5), (1, 0.7))
        ]
        + [
            {
                "task": "t",
                "model": "m",
                "method": "adapt",
                "seed": s,
                "macro_f1": 0.65,
                "train_seconds": 5.0,
                "peak_memory_bytes": 80.0,
                "trainable_params": 5,
                "state": "completed",
            }
            for s in (0, 1)
        ]
    )
    summary = grid_analysis.summarise(frame).set_index("method")
    assert summary.loc["full", "macro_f1_mean"] == pytest.approx(0.6)
    assert summary.loc["full", "macro_f1_std"] == pytest.approx(0.1414, abs=1e-3)
    assert summary.loc["adapt", "time_vs_full"] == 0.5 and summary.loc["adapt", "memory_vs_full"] == 0.8
    assert summary.loc["adapt", "winner"] and not summary.loc["full", "winner"]


def test_a_cpu_cell_timed_beside_other_work_marks_its_ratios_and_full_finetunings_marks_every_ratio():
    def row(task, method, seed, load, hardware="cpu"):
        return {"task": task, "model": "m", "method": method, "seed": seed, "macro_f1": 0.5, "train_seconds": 9.0} | {
            "state": "completed",
            "hardware": hardware,
            "cpu_load": load,
        }

    frame = pd.DataFrame(
        [
            row("a", "full", 0, 2.1),
            row("a", "adapt", 0, 2.0),
            row("a", "adapt", 1, grid_analysis.LOADED + 0.4),  # one loaded seed taints the mean's times
            row("a", "lora", 0, 2.2),
            row("b", "full", 0, grid_analysis.LOADED + 1),  # full's time is every ratio's denominator
            row("b", "adapt", 0, 1.0),
            row("c", "full", 0, 9.0, "cuda"),  # a GPU machine's load says nothing of the card's sharing
            row("c", "adapt", 0, 9.0, "cuda"),
        ]
    )
    marked = grid_analysis.summarise(frame).set_index(["hardware", "task", "method"])["timing_loaded"]
    assert marked[("cpu", "a", "adapt")] and not marked[("cpu", "a", "lora")] and not marked[("cpu", "a", "full")]
    assert marked[("cpu", "b", "adapt")] and marked[("cpu", "b", "full")]
    assert not marked[("cuda", "c", "adapt")] and not marked[("cuda", "c", "full")]


def test_time_to_quality_reads_the_dev_curves_against_full_finetunings_best():
    def row(method, seed, best, curve, setup=0.0):
        return {
            "profile": "converge",
            "hardware": "cpu",
            "task": "t",
            "method": method,
            "setting": "",
            "model": "m",
            "seed": seed,
            "state": "completed",
            "best_dev_macro_f1": best,
            "setup_seconds": setup,
            "dev_curve": json.dumps(curve),
        }

    frame = pd.DataFrame(
        [
            row("full", 0, 0.8, [[10, 0.5], [20, 0.8]]),
            row("full", 1, 0.6, [[10, 0.6]]),
            row("adapt", 0, 0.75, [[5, 0.7], [9, 0.75]], setup=4.0),  # target: full's mean best, 0.7
            row("lora", 0, 0.3, [[5, 0.3]]),
            row("prefix", 0, None, []),
        ]
    )
    out = grid_analysis.time_to_quality(frame).set_index(["method", "seed"])
    assert out.loc[("adapt", 0), "seconds_to_target"] == 4.0 + 5  # setup counts: a user waits for it too
    assert out.loc[("full", 0), "seconds_to_target"] == 20 and out.loc[("full", 1), "seconds_to_target"] != 0.6
    assert (
        out.loc[("lora", 0), "measured"]
        and out.loc[("lora", 0), "seconds_to_target"] != out.loc[("lora", 0), "seconds_to_target"]
    )
    assert not out.loc[("prefix", 0), "measured"]  # no curve: unknown, not "never"
    # one seed of full finetuning: its target is its own best, which the curve keeps to 5 decimals
    alone = pd.DataFrame([row("full", 0, 0.4613046, [[10, 0.3], [20, 0.4613]])])
    assert grid_analysis.time_to_quality(alone)["seconds_to_target"].iloc[0] == 20


def test_trained_rows_are_the_grid_and_budget_cells_at_the_chosen_rates():
    SPEC = helpers_grid.own_sweeps(helpers_grid.SPEC)
    rows = []
    for cell in grid_spec.cells(SPEC, "converge", sweep="lr"):
        dev = 0.9 if dict(cell.overrides)["lr"] == 3e-3 and cell.method == "lora" else 0.5  # lora's best: 3e-3
        key = grid_spec.row_key(SPEC, "converge", cell)
        rows.append(dict(zip(grid_results.KEY, key, strict=True)) | {"state": "completed", "best_dev_macro_f1": dev})
    budget = [c for c in grid_spec.cells(SPEC, "converge", sweep="budget") if c.method == "lora" and c.seed == 0]
    spec = grid_sweeps.with_rates(SPEC, grid_sweeps.chosen_rates(SPEC, "converge", pd.DataFrame(rows)))
    for cell in budget:  # the budget sweep trains at the chosen rate (rank 8 at it is the sweep's row: one key)
        key = grid_spec.row_key(spec, "converge", cell)
        if key in {tuple(r[k] for k in grid_results.KEY) for r in rows}:
            continue
        rows.append(dict(zip(grid_results.KEY, key, strict=True)) | {"state": "completed", "best_dev_macro_f1": 0.7})
    frame = pd.DataFrame(rows)
    kept = grid_analysis.trained_rows(SPEC, frame)
    lora = kept[kept["method"] == "lora"]
    assert set(lora["setting"]) == {"lr=0.003", "lora_r=2,lr=0.003", "lora_r=32,lr=0.003"}  # not 1e-3 nor 1e-2
    assert len(kept[kept["method"] == "lora"]) == 2 + 2 * 2  # the chosen rate on both tasks; ranks 2, 32 on both
    assert not kept["setting"].str.contains("lr=0.01").any()
    raw = frame.assign(setting=frame["setting"].replace("", float("nan")))  # as pandas reads the CSV itself
    assert len(grid_analysis.trained_rows(SPEC, raw)) == len(kept)
