"""grid_results.py: the results file shared by several processes, `not run` rows that account for the whole grid,
and rows written before settings existed."""

from __future__ import annotations

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
