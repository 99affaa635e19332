"""grid_runner.py: cells run once, a second invocation does no work, failures retried once, cells split by shards
or claims, and each cell's recorded run folder and dev curve."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from helpers_grid import SPEC, toy_file

from adapt_core import grid_results, grid_runner, grid_spec
from adapt_core.pipeline import Cancelled


def test_grid_runs_each_cell_once_and_resumes(tmp_path):
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    results, root = tmp_path / "compare.csv", tmp_path / "runs"
    frame = grid_runner.run_grid(spec, "smoke", results, root, methods=["full", "adapt"], log=lambda _: None)
    assert len(frame) == 4 and set(frame["state"]) == {"completed"}, frame[["method", "error"]]
    assert list(frame.columns) == grid_results.COLUMNS
    assert (root / "tokens").exists()  # adapt got its auto-vetted tokens
    calls = []
    again = grid_runner.run_grid(spec, "smoke", results, root, methods=["full", "adapt"], log=calls.append)
    assert calls == [] and len(again) == 4  # nothing repeated


def test_failed_cell_is_recorded_and_retried_once(tmp_path):
    spec = {**SPEC, "tasks": [str(tmp_path / "missing.csv")]}
    results = tmp_path / "compare.csv"
    for _ in range(3):
        frame = grid_runner.run_grid(
            spec, "smoke", results, tmp_path / "runs", methods=["full"], seeds=[0], log=lambda _: None
        )
    row = frame.iloc[0]
    assert row["state"] == "failed" and row["attempts"] == 2 and "file not found" in row["error"]


def test_a_cancelled_cell_stops_the_grid_and_is_not_recorded(tmp_path, monkeypatch):
    def cancelled(*args, **kwargs):
        raise Cancelled()

    monkeypatch.setattr(grid_runner, "run_training", cancelled)
    results = tmp_path / "compare.csv"
    with pytest.raises(Cancelled):
        grid_runner.run_grid(
            SPEC, "smoke", results, tmp_path / "runs", tasks=[toy_file(tmp_path)], methods=["full"], log=lambda _: None
        )
    assert grid_results.read_results(results).empty  # the next invocation runs the cell as new, not as a retry


def test_a_variant_runs_only_when_named_and_changes_only_its_settings(tmp_path):
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    assert "adapt-random-init" not in {c.method for c in grid_spec.cells(spec, "smoke")}
    with pytest.raises(ValueError, match="unknown grid method 'adapt-median'"):
        grid_spec.cells(spec, "smoke", methods=["adapt-median"])
    cell = grid_spec.Cell(spec["tasks"][0], "adapt-random-init", "tiny-bert", 0)
    variant, plain = (
        grid_spec.run_config(spec, "smoke", c, "tokens.json")
        for c in (cell, grid_spec.Cell(*cell.key[:1], "adapt", "tiny-bert", 0))
    )
    assert type(variant.settings) is type(plain.settings) and variant.tokens == plain.tokens == "tokens.json"
    assert (variant.settings.token_init, plain.settings.token_init) == ("random", "mean")
    assert variant.settings.tokens == plain.settings.tokens == grid_spec.token_policy(spec, "smoke")
    results = tmp_path / "compare.csv"
    frame = grid_runner.run_grid(
        spec, "smoke", results, tmp_path / "runs", methods=["adapt-random-init"], seeds=[0], log=lambda _: None
    )
    assert frame["state"].tolist() == ["completed"], frame["error"].tolist()
    report = json.loads((cell.folder(tmp_path / "runs", "smoke") / "report.json").read_text())
    assert report["tokens"]["init"] == "random"


def test_run_folders_are_recorded_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert grid_runner._shown(tmp_path / "runs" / "m" / "t") == str(Path("runs", "m", "t"))
    outside = tmp_path.parent / "elsewhere"
    assert grid_runner._shown(outside) == str(outside.resolve())


def test_a_cell_the_runner_is_told_to_skip_gets_a_not_run_row_with_the_reason(tmp_path):
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    results = tmp_path / "compare.csv"
    frame = grid_runner.run_grid(
        spec,
        "smoke",
        results,
        tmp_path / "runs",
        methods=["full"],
        seeds=[0],
        skip=lambda cell: "it cannot be chosen",
        log=lambda _: None,
    )
    assert frame[["state", "error", "attempts"]].values.tolist() == [["not run", "it cannot be chosen", 0]]
    assert not (tmp_path / "runs").exists()  # nothing ran
    frame = grid_runner.run_grid(
        spec, "smoke", results, tmp_path / "runs", methods=["full"], seeds=[0], log=lambda _: None
    )
    assert frame["state"].tolist() == ["completed"]  # asked again, and run, once nothing says skip


def _cells_run(monkeypatch) -> list:
    """Replace running a cell with recording it (its key), so the runner's choice of cells is what is tested."""
    seen = []

    def fake_run(spec, profile, cell, root, log):
        seen.append(cell.key)
        return {"state": "completed", "error": "", "macro_f1": 0.5}

    monkeypatch.setattr(grid_runner, "_run_cell", fake_run)
    return seen


def test_cells_the_invocation_does_not_keep_are_left_out_without_a_row(tmp_path, monkeypatch):
    seen, spec = _cells_run(monkeypatch), {**SPEC, "tasks": [toy_file(tmp_path)]}
    frame = grid_runner.run_grid(
        spec,
        "smoke",
        tmp_path / "c.csv",
        tmp_path / "runs",
        seeds=[0],
        keep=lambda c: c.method != "lora",
        log=lambda _: None,
    )
    methods = {c.method for c in grid_spec.cells(spec, "smoke", seeds=[0]) if c.key in seen}
    assert "lora" not in methods and "lora" not in set(frame["method"]) and {"full", "adapt"} <= methods


def test_shards_split_the_cells_without_overlap(tmp_path, monkeypatch):
    seen, spec = _cells_run(monkeypatch), {**SPEC, "tasks": [toy_file(tmp_path)]}
    results = tmp_path / "compare.csv"
    for i in range(3):
        grid_runner.run_grid(spec, "smoke", results, tmp_path / "runs", shard=(i, 3), log=lambda _: None)
    every = [c.key for c in grid_spec.cells(spec, "smoke")]
    assert sorted(seen) == sorted(every) and len(set(seen)) == len(seen)
    with pytest.raises(ValueError, match="shard 3/3"):
        grid_runner.run_grid(spec, "smoke", results, tmp_path / "runs", shard=(3, 3))


def test_claims_hand_each_cell_to_one_process_and_keep_every_worker_busy(tmp_path, monkeypatch):
    import threading

    seen, lock = [], threading.Lock()

    def fake_run(spec, profile, cell, root, log):
        with lock:
            seen.append((threading.current_thread().name, cell.key))
        time.sleep(0.02)  # long enough that the other worker asks for cells meanwhile
        return {"state": "completed", "error": "", "macro_f1": 0.5}

    monkeypatch.setattr(grid_runner, "_run_cell", fake_run)
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    results, claims = tmp_path / "compare.csv", tmp_path / "claims"
    every = [c.key for c in grid_spec.cells(spec, "smoke")]
    taken = grid_spec.row_key(spec, "smoke", grid_spec.cells(spec, "smoke")[0])
    assert grid_runner.claim(claims, taken) and not grid_runner.claim(claims, taken)  # a claimed cell is nobody else's
    workers = [
        threading.Thread(
            target=grid_runner.run_grid,
            args=(spec, "smoke", results, tmp_path / "runs"),
            kwargs={"claims": claims, "log": lambda _: None},
            name=f"w{i}",
        )
        for i in range(2)
    ]
    [w.start() for w in workers], [w.join() for w in workers]
    keys = [k for _, k in seen]
    assert sorted(keys) == sorted(every[1:]) and len(set(keys)) == len(keys)  # once each; the claimed one by nobody
    assert {name for name, _ in seen} == {"w0", "w1"}  # both took cells: neither waited for a static half
    # a stop file ends an invocation between cells: nothing starts once it exists, and nothing is recorded
    stop, before = tmp_path / "STOP", len(grid_results.read_results(results))
    stop.touch()
    seen.clear()
    grid_runner.run_grid(spec, "smoke", tmp_path / "other.csv", tmp_path / "runs", stop_file=stop, log=lambda _: None)
    assert seen == [] and not (tmp_path / "other.csv").exists() and len(grid_results.read_results(results)) == before


def test_dev_curve_of_a_step_loop_and_of_a_method_that_logs_no_time(tmp_path):
    loop, stc = tmp_path / "loop", tmp_path / "stc"
    loop.mkdir(), stc.mkdir()
    (loop / "metrics.jsonl").write_text(
        '{"step": 1, "loss": 1.0, "elapsed": 0.5}\n{"step": 2, "elapsed": 1.25, "dev_macro_f1": 0.4}\n'
        '{"step": 4, "elapsed": 2.5, "dev_macro_f1": 0.6}\n'
    )
    assert grid_runner.dev_curve(loop) == [[1.25, 0.4], [2.5, 0.6]]
    # STC's metrics carry dev scores but no time into training (it is not a step loop): its one point is the
    # report's, not a KeyError that would take the whole shard down after the cell finished
    (stc / "metrics.jsonl").write_text('{"step": 1, "dev_macro_f1": 0.3}\n{"step": 2, "dev_macro_f1": 0.5}\n')
    assert grid_runner.dev_curve(stc, {"train_seconds": 12.345, "best_dev_macro_f1": 0.5}) == [[12.35, 0.5]]
    assert grid_runner.dev_curve(tmp_path / "none", {"train_seconds": 3.0, "dev": {"macro_f1": 0.25}}) == [[3.0, 0.25]]
    assert grid_runner.dev_curve(tmp_path / "none") == []


def test_the_load_recorded_is_the_mean_over_the_run_not_one_reading_at_its_end(monkeypatch):
    readings = iter([5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0] + [1.0] * 1000)  # loaded, then quiet
    monkeypatch.setattr(grid_runner.os, "getloadavg", lambda: (next(readings), 0.0, 0.0))
    with grid_runner.LoadDuring(every=0.005) as load:
        while len(load.samples) < 10:  # the run's busy first part
            time.sleep(0.005)
    assert len(load.samples) >= 11 and load.samples[-1] == 1.0  # sampled throughout, and once at the end
    assert load.mean == pytest.approx(sum(load.samples) / len(load.samples)) and load.mean > 2.0  # not the last 1.0


def test_a_row_names_the_processor_it_ran_on():
    """Rounding (and so STC's choices among near-ties) can differ between two CPUs, so a CPU row says which one;
    the table's hardware (the row key) stays `cpu`."""
    from adapt_core.models import cpu_name

    assert grid_runner.device_name("cpu") == f"cpu ({cpu_name()})"
    assert grid_runner.device_name("mps") == "mps"
