"""grid_results.py: the results file shared by several processes, `not run` rows that account for the whole grid,
and rows written before settings existed."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers_grid import SPEC, toy_file

from adapt_core import grid_results, grid_runner


def test_processes_sharing_the_results_file_keep_each_others_rows(tmp_path):
    results = tmp_path / "compare.csv"

    def key(task):
        return ("converge", "cpu", task, "full", "", "m", 0)

    for task in ("a", "b"):  # as two grid processes would, one task each, each re-reading under the lock
        grid_results.record_row(
            results,
            key(task),
            dict(zip(grid_results.KEY, key(task), strict=True)) | {"state": "completed", "attempts": 1},
        )
    grid_results.record_row(
        results, key("a"), dict(zip(grid_results.KEY, key("a"), strict=True)) | {"state": "failed", "attempts": 2}
    )
    frame = grid_results.read_results(results).set_index("task")
    assert sorted(frame.index) == ["a", "b"] and frame.loc["a", "state"] == "failed"


def test_not_run_cells_are_accounted_for_and_run_later(tmp_path):
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    results = tmp_path / "compare.csv"
    with pytest.raises(ValueError, match="say why"):
        grid_results.mark_not_run(spec, "smoke", results, "  ")
    assert grid_results.mark_not_run(spec, "smoke", results, "no time", methods=["full", "stc"]) == 4
    assert grid_results.mark_not_run(spec, "smoke", results, "no time", methods=["full", "stc"]) == 0  # already there
    frame = grid_runner.run_grid(
        spec, "smoke", results, tmp_path / "runs", methods=["full"], seeds=[0], log=lambda _: None
    )
    states = frame.set_index(["method", "seed"])["state"]
    assert states[("full", 0)] == "completed" and states[("full", 1)] == grid_results.NOT_RUN
    assert frame.set_index(["method", "seed"]).loc[("full", 0), "attempts"] == 1  # a new run, not a retry


def test_rows_written_before_settings_existed_read_as_the_defaults_on_the_cpu(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(
        "task,method,model,seed,macro_f1,device,profile,state,attempts\nt,full,m,0,0.5,cpu,quick,completed,1\n"
    )
    row = grid_results.read_results(path).iloc[0]
    assert (row["setting"], row["hardware"]) == ("", "cpu")


@pytest.mark.parametrize(
    "scores, epochs, stopped",
    [
        ([0.09, 0.09, 0.09, 0.09], 16, True),  # patience 3 ended it on its plateau
        ([0.09, 0.05, 0.09, 0.08], 16, True),  # never above the first evaluation
        ([0.09, 0.10, 0.09, 0.09, 0.09], 16, False),  # a gain at the second: a real plateau
        ([0.09] * 16, 16, False),  # ran every epoch: the new rule trains it as long
        ([0.5], 16, False),  # one evaluation (STC's single dev score)
    ],
)
def test_stopped_before_gain(scores, epochs, stopped):
    curve = [[10.0 * i, s] for i, s in enumerate(scores)]
    assert grid_results.stopped_before_gain(curve, epochs) is stopped


def test_plateau_stops_are_superseded_to_run_again(tmp_path):
    spec = {
        "train": {"epochs": 4},
        "profiles": {"p": {"train": {"epochs": 16}, "per_task": {"short": {"train": {"epochs": 4}}}}},
    }
    stuck = json.dumps([[1, 0.09], [2, 0.09], [3, 0.09], [4, 0.09]])
    rising = json.dumps([[1, 0.09], [2, 0.2], [3, 0.2], [4, 0.2], [5, 0.2]])
    base = {"profile": "p", "hardware": "cpu", "setting": "", "model": "m", "seed": 0, "attempts": 1}
    rows = [
        base | {"task": "t", "method": "lora", "state": "completed", "dev_curve": stuck, "macro_f1": 0.1},
        base | {"task": "t", "method": "full", "state": "completed", "dev_curve": rising, "macro_f1": 0.6},
        base | {"task": "short", "method": "lora", "state": "completed", "dev_curve": stuck, "macro_f1": 0.1},
        base
        | {"task": "t", "method": "lora", "state": "completed", "dev_curve": stuck, "macro_f1": 0.1, "profile": "q"},
    ]
    results = tmp_path / "compare.csv"
    pd.DataFrame(rows).reindex(columns=grid_results.COLUMNS).to_csv(results, index=False)
    keys = grid_results.supersede_plateau_stops(spec, "p", results)
    assert keys == [("p", "cpu", "t", "lora", "", "m", 0)]  # not the 4-epoch task (it ran them all), nor profile q
    frame = grid_results.read_results(results)
    assert len(frame) == 4
    row = frame[(frame["task"] == "t") & (frame["method"] == "lora") & (frame["profile"] == "p")].iloc[0]
    assert row["state"] == "not run" and row["attempts"] == 0 and pd.isna(row["macro_f1"])
    assert "after 4 of 16 epochs" in row["error"] and "(0.0900; test macro-F1 0.1000)" in row["error"]
    assert grid_results.previous_attempt(results, keys[0]) == ("not run", 0)  # the runner runs it as a new cell
    assert grid_results.supersede_plateau_stops(spec, "p", results) == []  # once
