"""grid_spec.py: the grid's cells, its sweeps, each cell's settings, name and row key, and per-task and per-profile
settings, from benchmarks/grid.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers_grid import SPEC, toy_file

from adapt_core import grid_runner, grid_spec


def test_cells_cover_the_whole_grid():
    every = grid_spec.cells(SPEC, "converge")
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


def test_sweep_cells_are_named_by_their_settings_and_one_equals_the_grid_cell():
    lr = grid_spec.cells(SPEC, "converge", sweep="lr")
    assert len(lr) == 2 * 5 * 3  # two tasks, five gradient methods, three rates, one seed
    names = {grid_spec.setting_name(SPEC, "converge", c) for c in lr if c.method == "full" and c.task == "banking77"}
    assert names == {"lr=3e-05", "", "lr=0.0003"}  # full's own rate (1e-4) is its default: the empty name
    grid_full = grid_spec.Cell("banking77", "full", "minilm-l6", 0)
    same = [c for c in lr if c.method == "full" and c.task == "banking77" and c.overrides == (("lr", 1e-4),)]
    assert grid_spec.row_key(SPEC, "converge", same[0]) == grid_spec.row_key(SPEC, "converge", grid_full)  # run once
    budget = grid_spec.cells(SPEC, "converge", sweep="budget")
    assert len(budget) == 2 * 3 * (5 + 3)
    assert {grid_spec.setting_name(SPEC, "converge", c) for c in budget if c.method == "lora"} == {
        "lora_r=2",
        "",
        "lora_r=32",
    }
    with pytest.raises(ValueError, match="unknown sweep 'depth'"):
        grid_spec.cells(SPEC, "converge", sweep="depth")


def test_the_knob_sweep_changes_one_adapt_setting_or_the_token_policys_cap(tmp_path):
    knobs = grid_spec.cells(SPEC, "converge", sweep="knobs")
    names = {grid_spec.setting_name(SPEC, "converge", c) for c in knobs if c.task == "scierc"}
    # each knob's default value is the grid's own cell (the empty name): run once, whichever list made it
    assert names == {
        "",
        "positions=tokens",
        "grouping=block",
        "head_warmup_steps=50",
        *(f"tokens.max_new_tokens={n}" for n in (20, 50)),
    }
    capped = next(c for c in knobs if c.overrides == (("tokens.max_new_tokens", 20),))
    settings = grid_spec.method_settings(SPEC, "converge", "adapt", capped.overrides)
    assert (
        settings.tokens.max_new_tokens == 20
        and settings.tokens.scorer == grid_spec.token_policy(SPEC, "converge").scorer
    )
    with pytest.raises(ValueError, match="'full' uses no new tokens"):
        grid_spec.method_settings(SPEC, "converge", "full", (("tokens.max_new_tokens", 20),))
    with pytest.raises(ValueError, match="not all token policy settings"):
        grid_spec.method_settings(SPEC, "converge", "adapt", (("tokens.max_tokens", 20),))
    # the capped cell's tokens are accepted by its own policy, into a file of their own
    spec = {**SPEC, "tasks": [toy_file(tmp_path)]}
    task = spec["tasks"][0]
    paths = [
        grid_runner.ensure_tokens(
            spec, "smoke", grid_spec.Cell(task, "adapt", "tiny-bert", 0, o), tmp_path, lambda _: None
        )
        for o in ((), (("tokens.max_new_tokens", 1),))
    ]
    assert paths[0] != paths[1]
    accepted = [
        [c for c in json.loads(Path(p).read_text())["candidates"] if c["decision"] == "accepted"] for p in paths
    ]
    assert len(accepted[0]) > 1 and len(accepted[1]) == 1  # the cap, and only the cap, changed


def test_per_task_settings_override_the_profile():
    banking = grid_spec.run_config(SPEC, "converge", grid_spec.Cell("banking77", "full", "minilm-l6", 1), None)
    scierc = grid_spec.run_config(SPEC, "converge", grid_spec.Cell("scierc", "full", "minilm-l6", 1), None)
    assert (banking.data.max_train, banking.train.max_length) == (4000, 64)
    assert (scierc.data.max_train, scierc.train.max_length) == (2000, 96)
    assert banking.train.group_by_length and banking.train.patience == 3 and banking.train.seed == 1
    assert banking.train.epochs == 16


def test_a_profile_keeps_the_sweep_it_ran():
    """converge-8ep ran the lr sweep around each default; converge sweeps one step higher: each its own cells."""
    rates = {
        p: sorted(dict(c.overrides)["lr"] for c in grid_spec.cells(SPEC, p, sweep="lr") if c.method == "lora")
        for p in ("converge", "converge-8ep")
    }
    assert rates == {
        "converge": [1e-3] * 2 + [3e-3] * 2 + [1e-2] * 2,
        "converge-8ep": [3e-4] * 2 + [1e-3] * 2 + [3e-3] * 2,
    }
    assert grid_spec.profile_sweeps(SPEC, "converge-8ep")["budget"] == SPEC["sweeps"]["budget"]  # the rest is shared


def test_a_profile_that_ran_no_sweeps_has_none():
    """quick ran at the defaults without sweeps: a null sweep removes the spec's, so none of its cells is planned."""
    assert grid_spec.profile_sweeps(SPEC, "quick") == {}
    with pytest.raises(ValueError, match="unknown sweep 'budget': choose from none"):
        grid_spec.cells(SPEC, "quick", sweep="budget")
    assert set(grid_spec.profile_sweeps(SPEC, "converge")) == {"lr", "knobs", "budget"}
