"""grid.py and benchmarks/compare.py (its report and figures drawn from the CSV; the report's parts have their own
test_compare_*.py): cells run once, a second invocation does no work, failures retried once."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from helpers_grid import SPEC

from adapt_core import grid


def toy_file(tmp_path) -> str:
    rows = ["text,label"] + [
        f"{'credit card' if i % 2 else 'bank transfer'} issue number {i % 5},{'ab'[i % 2]}" for i in range(80)
    ]
    path = tmp_path / "toy.csv"
    path.write_text("\n".join(rows))
    return str(path)


def test_grid_runs_each_cell_once_and_resumes(tmp_path):
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    results, root = tmp_path / "compare.csv", tmp_path / "runs"
    frame = grid.run_grid(spec, "smoke", results, root, methods=["full", "adapt"], log=lambda _: None)
    assert len(frame) == 4 and set(frame["state"]) == {"completed"}, frame[["method", "error"]]
    assert list(frame.columns) == grid.COLUMNS
    assert (root / "tokens").exists()  # adapt got its auto-vetted tokens
    calls = []
    again = grid.run_grid(spec, "smoke", results, root, methods=["full", "adapt"], log=calls.append)
    assert calls == [] and len(again) == 4  # nothing repeated


def test_failed_cell_is_recorded_and_retried_once(tmp_path):
    spec = {**SPEC, "tasks": [str(tmp_path / "missing.csv")]}
    results = tmp_path / "compare.csv"
    for _ in range(3):
        frame = grid.run_grid(
            spec, "smoke", results, tmp_path / "runs", methods=["full"], seeds=[0], log=lambda _: None
        )
    row = frame.iloc[0]
    assert row["state"] == "failed" and row["attempts"] == 2 and "file not found" in row["error"]


def test_a_cancelled_cell_stops_the_grid_and_is_not_recorded(tmp_path, monkeypatch):
    def cancelled(*args, **kwargs):
        raise grid.Cancelled()

    monkeypatch.setattr(grid, "run_training", cancelled)
    results = tmp_path / "compare.csv"
    with pytest.raises(grid.Cancelled):
        grid.run_grid(
            SPEC, "smoke", results, tmp_path / "runs", tasks=[toy_file(tmp_path)], methods=["full"], log=lambda _: None
        )
    assert grid.read_results(results).empty  # the next invocation runs the cell as new, not as a retry


def test_processes_sharing_the_results_file_keep_each_others_rows(tmp_path):
    results = tmp_path / "compare.csv"

    def key(task):
        return ("converge", "cpu", task, "full", "", "m", 0)

    for task in ("a", "b"):  # as two grid processes would, one task each, each re-reading under the lock
        grid._record(
            results, key(task), dict(zip(grid.KEY, key(task), strict=True)) | {"state": "completed", "attempts": 1}
        )
    grid._record(results, key("a"), dict(zip(grid.KEY, key("a"), strict=True)) | {"state": "failed", "attempts": 2})
    frame = grid.read_results(results).set_index("task")
    assert sorted(frame.index) == ["a", "b"] and frame.loc["a", "state"] == "failed"


def test_cells_cover_the_whole_grid():
    every = grid.cells(SPEC, "converge")
    assert len(every) == 5 * 8 * 3 * 1
    assert {c.method for c in every} == {
        "full",
        "lora",
        "prefix",
        "layers",
        "stc",
        "adapt",
        "full+tokens",
        "adapt-no-tokens",
    }


def test_not_run_cells_are_accounted_for_and_run_later(tmp_path):
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    results = tmp_path / "compare.csv"
    with pytest.raises(ValueError, match="say why"):
        grid.mark_not_run(spec, "smoke", results, "  ")
    assert grid.mark_not_run(spec, "smoke", results, "no time", methods=["full", "stc"]) == 4
    assert grid.mark_not_run(spec, "smoke", results, "no time", methods=["full", "stc"]) == 0  # already there
    frame = grid.run_grid(spec, "smoke", results, tmp_path / "runs", methods=["full"], seeds=[0], log=lambda _: None)
    states = frame.set_index(["method", "seed"])["state"]
    assert states[("full", 0)] == "completed" and states[("full", 1)] == grid.NOT_RUN
    assert frame.set_index(["method", "seed"]).loc[("full", 0), "attempts"] == 1  # a new run, not a retry


def test_compare_report_is_generated_from_the_csv(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import compare
    import compare_report

    rows = [
        {
            "task": "t",
            "model": "minilm-l6",
            "method": m,
            "seed": s,
            "macro_f1": f + 0.01 * s,
            "state": "completed",
            "train_seconds": t,
            "step_seconds": t / 10,
            "peak_memory_bytes": 100.0,
            "optimizer_state_bytes": t,
            "trainable_params": 10,
            "profile": "quick",
            "attempts": 1,
        }
        for m, f, t in (("full", 0.5, 10.0), ("adapt", 0.6, 5.0))
        for s in (0, 1)
    ]
    rows.append(
        {
            "task": "t",
            "model": "minilm-l6",
            "method": "lora",
            "seed": 0,
            "state": "not run",
            "error": "the CPU budget",
            "attempts": 0,
            "profile": "quick",
        }
    )
    results = tmp_path / "compare.csv"
    pd.DataFrame(rows).reindex(columns=grid.COLUMNS).to_csv(results, index=False)
    assert compare.main(["--report-only", "--no-readme", "--results", str(results)]) == 0
    table = (tmp_path / "compare_summary.md").read_text()
    assert "| t | adapt **(best)** | 0.6050 ± 0.0071 | 2 | — | 0.50 |" in table
    assert "| t | full | 0.5050 ± 0.0071 | 2 | — | 1.00 |" in table
    assert (
        "4 of 5 cells" in table and "Not run (1 cells, `quick` on CPU): t seed 0 (lora). Why: the CPU budget" in table
    )
    assert "`adapt` lr 0.0003, top_k 10, beta 1.0" in table  # the settings come from the spec
    assert (tmp_path / "compare-minilm-l6.png").stat().st_size > 0
    assert (tmp_path / "compare-cost-minilm-l6.png").stat().st_size > 0
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- compare:start -->\nold\n<!-- compare:end -->\nafter\n")
    compare_report.update_readme(readme, table)
    assert "old" not in readme.read_text() and readme.read_text().endswith("after\n") and table in readme.read_text()


def test_a_variant_runs_only_when_named_and_changes_only_its_settings(tmp_path):
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    assert "adapt-random-init" not in {c.method for c in grid.cells(spec, "smoke")}
    with pytest.raises(ValueError, match="unknown grid method 'adapt-median'"):
        grid.cells(spec, "smoke", methods=["adapt-median"])
    cell = grid.Cell(spec["tasks"][0], "adapt-random-init", "tiny-bert", 0)
    variant, plain = (
        grid.run_config(spec, "smoke", c, "tokens.json")
        for c in (cell, grid.Cell(*cell.key[:1], "adapt", "tiny-bert", 0))
    )
    assert type(variant.settings) is type(plain.settings) and variant.tokens == plain.tokens == "tokens.json"
    assert (variant.settings.token_init, plain.settings.token_init) == ("random", "mean")
    assert variant.settings.tokens == plain.settings.tokens == grid.token_policy(spec, "smoke")
    results = tmp_path / "compare.csv"
    frame = grid.run_grid(
        spec, "smoke", results, tmp_path / "runs", methods=["adapt-random-init"], seeds=[0], log=lambda _: None
    )
    assert frame["state"].tolist() == ["completed"], frame["error"].tolist()
    report = json.loads((cell.folder(tmp_path / "runs", "smoke") / "report.json").read_text())
    assert report["tokens"]["init"] == "random"


def test_run_folders_are_recorded_relative_to_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert grid._shown(tmp_path / "runs" / "m" / "t") == str(Path("runs", "m", "t"))
    outside = tmp_path.parent / "elsewhere"
    assert grid._shown(outside) == str(outside.resolve())


def test_sweep_cells_are_named_by_their_settings_and_one_equals_the_grid_cell():
    lr = grid.cells(SPEC, "converge", sweep="lr")
    assert len(lr) == 2 * 5 * 3  # two tasks, five gradient methods, three rates, one seed
    names = {grid.setting_name(SPEC, "converge", c) for c in lr if c.method == "full" and c.task == "banking77"}
    assert names == {"lr=3e-05", "", "lr=0.0003"}  # full's own rate (1e-4) is its default: the empty name
    grid_full = grid.Cell("banking77", "full", "minilm-l6", 0)
    same = [c for c in lr if c.method == "full" and c.task == "banking77" and c.overrides == (("lr", 1e-4),)]
    assert grid.row_key(SPEC, "converge", same[0]) == grid.row_key(SPEC, "converge", grid_full)  # run once
    budget = grid.cells(SPEC, "converge", sweep="budget")
    assert len(budget) == 2 * 3 * (5 + 3)
    assert {grid.setting_name(SPEC, "converge", c) for c in budget if c.method == "lora"} == {
        "lora_r=2",
        "",
        "lora_r=32",
    }
    with pytest.raises(ValueError, match="unknown sweep 'depth'"):
        grid.cells(SPEC, "converge", sweep="depth")


def test_the_knob_sweep_changes_one_adapt_setting_or_the_token_policys_cap(tmp_path):
    knobs = grid.cells(SPEC, "converge", sweep="knobs")
    names = {grid.setting_name(SPEC, "converge", c) for c in knobs if c.task == "scierc"}
    # each knob's default value is the grid's own cell (the empty name): run once, whichever list made it
    assert names == {
        "",
        "positions=tokens",
        "grouping=block",
        "head_warmup_steps=50",
        *(f"tokens.max_new_tokens={n}" for n in (20, 50)),
    }
    capped = next(c for c in knobs if c.overrides == (("tokens.max_new_tokens", 20),))
    settings = grid.method_settings(SPEC, "converge", "adapt", capped.overrides)
    assert settings.tokens.max_new_tokens == 20 and settings.tokens.scorer == grid.token_policy(SPEC, "converge").scorer
    with pytest.raises(ValueError, match="'full' uses no new tokens"):
        grid.method_settings(SPEC, "converge", "full", (("tokens.max_new_tokens", 20),))
    with pytest.raises(ValueError, match="not all token policy settings"):
        grid.method_settings(SPEC, "converge", "adapt", (("tokens.max_tokens", 20),))
    # the capped cell's tokens are accepted by its own policy, into a file of their own
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    task = spec["tasks"][0]
    paths = [
        grid.ensure_tokens(spec, "smoke", grid.Cell(task, "adapt", "tiny-bert", 0, o), tmp_path, lambda _: None)
        for o in ((), (("tokens.max_new_tokens", 1),))
    ]
    assert paths[0] != paths[1]
    accepted = [
        [c for c in json.loads(Path(p).read_text())["candidates"] if c["decision"] == "accepted"] for p in paths
    ]
    assert len(accepted[0]) > 1 and len(accepted[1]) == 1  # the cap, and only the cap, changed


def test_a_cell_the_runner_is_told_to_skip_gets_a_not_run_row_with_the_reason(tmp_path):
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    results = tmp_path / "compare.csv"
    frame = grid.run_grid(
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
    frame = grid.run_grid(spec, "smoke", results, tmp_path / "runs", methods=["full"], seeds=[0], log=lambda _: None)
    assert frame["state"].tolist() == ["completed"]  # asked again, and run, once nothing says skip


def test_per_task_settings_override_the_profile():
    banking = grid.run_config(SPEC, "converge", grid.Cell("banking77", "full", "minilm-l6", 1), None)
    scierc = grid.run_config(SPEC, "converge", grid.Cell("scierc", "full", "minilm-l6", 1), None)
    assert (banking.data.max_train, banking.train.max_length) == (4000, 64)
    assert (scierc.data.max_train, scierc.train.max_length) == (2000, 96)
    assert banking.train.group_by_length and banking.train.patience == 3 and banking.train.seed == 1
    assert banking.train.epochs == 16


def test_a_profile_keeps_the_sweep_it_ran():
    """converge-8ep ran the lr sweep around each default; converge sweeps one step higher: each its own cells."""
    rates = {
        p: sorted(dict(c.overrides)["lr"] for c in grid.cells(SPEC, p, sweep="lr") if c.method == "lora")
        for p in ("converge", "converge-8ep")
    }
    assert rates == {
        "converge": [1e-3] * 2 + [3e-3] * 2 + [1e-2] * 2,
        "converge-8ep": [3e-4] * 2 + [1e-3] * 2 + [3e-3] * 2,
    }
    assert grid.profile_sweeps(SPEC, "converge-8ep")["budget"] == SPEC["sweeps"]["budget"]  # the rest is shared


def test_shards_split_the_cells_without_overlap(tmp_path, monkeypatch):
    seen = []

    def fake_run(spec, profile, cell, root, log):
        seen.append(cell.key)
        return {"state": "completed", "error": "", "macro_f1": 0.5}

    monkeypatch.setattr(grid, "_run_cell", fake_run)
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    results = tmp_path / "compare.csv"
    for i in range(3):
        grid.run_grid(spec, "smoke", results, tmp_path / "runs", shard=(i, 3), log=lambda _: None)
    every = [c.key for c in grid.cells(spec, "smoke")]
    assert sorted(seen) == sorted(every) and len(set(seen)) == len(seen)
    with pytest.raises(ValueError, match="shard 3/3"):
        grid.run_grid(spec, "smoke", results, tmp_path / "runs", shard=(3, 3))


def test_claims_hand_each_cell_to_one_process_and_keep_every_worker_busy(tmp_path, monkeypatch):
    import threading

    seen, lock = [], threading.Lock()

    def fake_run(spec, profile, cell, root, log):
        with lock:
            seen.append((threading.current_thread().name, cell.key))
        time.sleep(0.02)  # long enough that the other worker asks for cells meanwhile
        return {"state": "completed", "error": "", "macro_f1": 0.5}

    monkeypatch.setattr(grid, "_run_cell", fake_run)
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    results, claims = tmp_path / "compare.csv", tmp_path / "claims"
    every = [c.key for c in grid.cells(spec, "smoke")]
    taken = grid.row_key(spec, "smoke", grid.cells(spec, "smoke")[0])
    assert grid.claim(claims, taken) and not grid.claim(claims, taken)  # a claimed cell is nobody else's
    workers = [
        threading.Thread(
            target=grid.run_grid,
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
    stop, before = tmp_path / "STOP", len(grid.read_results(results))
    stop.touch()
    seen.clear()
    grid.run_grid(spec, "smoke", tmp_path / "other.csv", tmp_path / "runs", stop_file=stop, log=lambda _: None)
    assert seen == [] and not (tmp_path / "other.csv").exists() and len(grid.read_results(results)) == before


def test_rows_written_before_settings_existed_read_as_the_defaults_on_the_cpu(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(
        "task,method,model,seed,macro_f1,device,profile,state,attempts\nt,full,m,0,0.5,cpu,quick,completed,1\n"
    )
    row = grid.read_results(path).iloc[0]
    assert (row["setting"], row["hardware"]) == ("", "cpu")


def test_dev_curve_of_a_step_loop_and_of_a_method_that_logs_no_time(tmp_path):
    loop, stc = tmp_path / "loop", tmp_path / "stc"
    loop.mkdir(), stc.mkdir()
    (loop / "metrics.jsonl").write_text(
        '{"step": 1, "loss": 1.0, "elapsed": 0.5}\n{"step": 2, "elapsed": 1.25, "dev_macro_f1": 0.4}\n'
        '{"step": 4, "elapsed": 2.5, "dev_macro_f1": 0.6}\n'
    )
    assert grid.dev_curve(loop) == [[1.25, 0.4], [2.5, 0.6]]
    # STC's metrics carry dev scores but no time into training (it is not a step loop): its one point is the
    # report's, not a KeyError that would take the whole shard down after the cell finished
    (stc / "metrics.jsonl").write_text('{"step": 1, "dev_macro_f1": 0.3}\n{"step": 2, "dev_macro_f1": 0.5}\n')
    assert grid.dev_curve(stc, {"train_seconds": 12.345, "best_dev_macro_f1": 0.5}) == [[12.35, 0.5]]
    assert grid.dev_curve(tmp_path / "none", {"train_seconds": 3.0, "dev": {"macro_f1": 0.25}}) == [[3.0, 0.25]]
    assert grid.dev_curve(tmp_path / "none") == []
