"""grid_sweeps.py: the rates the lr sweep chose on dev, AdaPT's knob sweep scored, pruned and chosen, stand-ins for a
sweep cell the choosing machine lacks."""

from __future__ import annotations

import json

import helpers_grid
import pandas as pd
import pytest

from adapt_core import grid_results, grid_spec, grid_sweeps


def test_the_lr_sweep_chooses_each_methods_rate_on_dev_and_the_grid_trains_at_it():
    SPEC = helpers_grid.own_sweeps(helpers_grid.SPEC)
    rows = []
    for cell in grid_spec.cells(SPEC, "converge", sweep="lr"):
        rate = dict(cell.overrides)["lr"]
        dev = {"full": {1e-4: 0.8, 3e-4: 0.9}, "lora": {3e-3: 0.7}}.get(cell.method, {}).get(rate, 0.5)
        test = 1.0 - dev  # test never chooses: the best test score belongs to the worst dev one
        key = grid_spec.row_key(SPEC, "converge", cell)
        rows.append(
            dict(zip(grid_results.KEY, key, strict=True))
            | {"state": "completed", "best_dev_macro_f1": dev, "macro_f1": test}
        )
    frame = pd.DataFrame(rows)
    rates = grid_sweeps.chosen_rates(SPEC, "converge", frame)
    assert (
        rates["full"] == 3e-4
        and rates["lora"] == 3e-3
        and set(rates) == {"full", "lora", "prefix", "layers", "adapt-random-init"}
    )
    assert (
        grid_sweeps.chosen_rates(SPEC, "converge", frame.iloc[1:]).get("full") is None
    )  # a missing cell: no choice yet
    # the grid's later seeds of a swept setting (here full at 1e-4, seed 1, far better on dev) never change it
    later = frame[(frame["method"] == "full") & (frame["setting"] == "")].assign(seed=1, best_dev_macro_f1=0.99)
    assert grid_sweeps.chosen_rates(SPEC, "converge", pd.concat([frame, later], ignore_index=True)) == rates
    # a GPU sweep beside the CPU one never chooses for it: each hardware's rates come from its own rows
    gpu = frame.assign(
        hardware="cuda", best_dev_macro_f1=frame["best_dev_macro_f1"].where(frame["method"] != "full", 0)
    )
    both = pd.concat([frame, gpu], ignore_index=True)
    with pytest.raises(ValueError, match="say which hardware"):
        grid_sweeps.chosen_rates(SPEC, "converge", both)
    assert grid_sweeps.chosen_rates(SPEC, "converge", both, hardware="cpu") == rates
    assert grid_sweeps.chosen_rates(SPEC, "converge", both, hardware="cuda")["full"] == 3e-5  # all tied at 0: the first
    # unless the profile names the hardware whose sweep chooses for every machine (then the CPU grid trains there)
    one = {
        **SPEC,
        "profiles": {**SPEC["profiles"], "converge": {**SPEC["profiles"]["converge"], "lr_sweep_on": "cuda"}},
    }
    assert grid_sweeps.chosen_rates(one, "converge", both, hardware="cpu") == grid_sweeps.chosen_rates(
        SPEC, "converge", gpu
    )
    bad = {**SPEC, "profiles": {**SPEC["profiles"], "converge": {**SPEC["profiles"]["converge"], "lr_sweep_on": "tpu"}}}
    with pytest.raises(ValueError, match="lr_sweep_on is 'tpu'; give cpu, cuda or mps"):
        grid_spec.validate_spec(bad, "converge")
    spec = grid_sweeps.with_rates(SPEC, rates)
    assert grid_spec.method_settings(spec, "converge", "full+tokens").lr == 3e-4  # the twin trains at full's rate
    # AdaPT's rate was swept on the paper's random init; AdaPT (mean init) and its ablation train at it too
    for name in ("adapt-random-init", "adapt", "adapt-no-tokens"):
        assert grid_spec.method_settings(spec, "converge", name).lr == rates["adapt-random-init"]
    chosen = grid_spec.Cell("banking77", "full", "minilm-l6", 0)
    swept = [
        c
        for c in grid_spec.cells(SPEC, "converge", sweep="lr")
        if c.method == "full" and c.overrides == (("lr", 3e-4),)
    ]
    assert grid_spec.row_key(spec, "converge", chosen) == grid_spec.row_key(SPEC, "converge", swept[0])  # seed 0 reused


def test_knob_scores_compare_each_adapt_setting_with_the_default_on_dev_only():
    spec, rows = helpers_grid.knob_sweep_rows()
    # AdaPT's ablation shares the default's setting name: its rows must not count as AdaPT's
    ablation = [r | {"method": "adapt-no-tokens", "best_dev_macro_f1": 0.0} for r in rows if r["setting"] == "lr=0.001"]
    frame = pd.DataFrame(rows + ablation).drop_duplicates(subset=list(grid_results.KEY))
    scores = grid_sweeps.knob_scores(spec, "converge", frame)
    assert set(scores["label"]) == {"default", "positions=tokens", "grouping=block", "tokens.max_new_tokens=20"}
    assert (scores.groupby("label")["seeds"].max() == 1).all()  # the default measured once, not once per knob
    choices = grid_sweeps.knob_choices(scores).set_index("label")
    # grouping=block is best on scierc but has no banking77 row yet: not compared
    assert list(choices.index) == ["tokens.max_new_tokens=20", "default", "positions=tokens"]
    assert choices.loc["tokens.max_new_tokens=20", "vs_default"] == pytest.approx(0.01)
    assert choices.loc["positions=tokens", "vs_default"] == pytest.approx(-0.05)
    assert choices.loc["tokens.max_new_tokens=20", "worst_task"] == pytest.approx(0.01)
    assert grid_sweeps.knob_choice(scores) == "tokens.max_new_tokens=20"
    # better on the mean but lower on one task: not taken
    uneven = scores.copy()
    uneven.loc[(uneven["label"] == "tokens.max_new_tokens=20") & (uneven["task"] == "banking77"), "dev"] = 0.69
    uneven.loc[(uneven["label"] == "tokens.max_new_tokens=20") & (uneven["task"] == "scierc"), "dev"] = 0.65
    assert grid_sweeps.knob_choices(uneven).set_index("label").loc["tokens.max_new_tokens=20", "vs_default"] > 0
    assert grid_sweeps.knob_choice(uneven) is None
    assert grid_sweeps.knob_scores({**spec, "sweeps": {}}, "converge", pd.DataFrame(rows)).empty


def test_the_knob_pruner_skips_a_setting_already_below_the_default_on_an_earlier_task(tmp_path):
    spec = grid_sweeps.with_rates(helpers_grid.SPEC, {"adapt-random-init": 1e-3})
    knobs = grid_spec.cells(spec, "converge", sweep="knobs")
    first, later = spec["sweeps"]["knobs"]["tasks"][:2]
    dev = {"": 0.60, "positions=tokens": 0.47, "grouping=block": 0.61}  # one below the default, one above
    rows = []
    for cell in knobs:
        plain = grid_spec.setting_name(spec, "converge", cell).replace("lr=0.001", "").strip(",")
        if cell.task == first and plain in dev:
            key = grid_spec.row_key(spec, "converge", cell)
            rows.append(
                dict(zip(grid_results.KEY, key, strict=True)) | {"state": "completed", "best_dev_macro_f1": dev[plain]}
            )
    results = tmp_path / "compare.csv"
    pd.DataFrame(rows).drop_duplicates(subset=list(grid_results.KEY)).reindex(columns=grid_results.COLUMNS).to_csv(
        results, index=False
    )
    skip = grid_sweeps.knob_pruner(spec, "converge", results, "cpu")

    def reason(task, setting):
        cell = next(
            c for c in knobs if c.task == task and setting in grid_spec.setting_name(spec, "converge", c).split(",")
        )
        return skip(cell)

    assert "lower than the default on " + first + " dev (0.4700 < 0.6000)" in reason(later, "positions=tokens")
    assert reason(later, "grouping=block") is None  # better on the first task: still a candidate
    assert reason(later, "tokens.max_new_tokens=20") is None  # not measured on the first task yet
    assert reason(first, "positions=tokens") is None  # the first task always runs
    assert skip(grid_spec.Cell(later, "adapt", "minilm-l6", 0)) is None  # the default itself always runs
    assert (
        grid_sweeps.knob_pruner(spec, "converge", results, "cuda")(
            next(c for c in knobs if c.task == later and c.overrides == (("positions", "tokens"),))
        )
        is None
    )  # another hardware's rows decide nothing here


def test_the_grid_takes_the_knob_sweeps_choice_once_the_sweep_is_finished():
    spec, rows = helpers_grid.knob_sweep_rows()
    assert grid_sweeps.chosen_knob(spec, "converge", pd.DataFrame(rows), "cpu") is None  # cells still to run
    spec, finished = helpers_grid.finished_knob_sweep_rows()
    later = spec["sweeps"]["knobs"]["tasks"][1]
    frame = pd.DataFrame(finished)
    unfinished = frame[~((frame["task"] == later) & frame["setting"].str.contains("grouping=block"))]
    assert grid_sweeps.chosen_knob(spec, "converge", unfinished, "cpu") is None  # block not yet on the later task
    # finished: the rest are below the default on the first task, so ruled out; the cap of 20 wins on both tasks
    knob = grid_sweeps.chosen_knob(spec, "converge", frame, "cpu")
    assert knob == ("tokens.max_new_tokens", 20)
    assert grid_sweeps.chosen_knob(spec, "converge", frame, "cuda") is None  # another hardware's sweep decides there
    trained = grid_sweeps.with_knob(spec, "converge", knob)
    caps = {
        m: getattr(grid_spec.method_settings(trained, "converge", m), "tokens", None)
        for m in ("adapt", "adapt-random-init", "full+tokens", "adapt-no-tokens", "full")
    }
    assert {m: p.max_new_tokens for m, p in caps.items() if p is not None and m != "adapt-no-tokens"} == {
        "adapt": 20,
        "adapt-random-init": 20,
        "full+tokens": 20,
    }  # every method that adds tokens shares AdaPT's list; the others are unchanged
    assert caps["full"] is None
    assert grid_spec.method_settings(trained, "converge", "adapt-no-tokens") == grid_spec.method_settings(
        spec, "converge", "adapt-no-tokens"
    )
    cell = grid_spec.Cell(later, "adapt", "minilm-l6", 0)
    # the grid's cell is named by the choice, so it is the sweep's cell and earlier rows keep their own names
    assert grid_spec.setting_name(trained, "converge", cell) == "lr=0.001,tokens.max_new_tokens=20"
    assert grid_spec.setting_name(spec, "converge", cell) == "lr=0.001"
    assert grid_sweeps.with_knob(spec, "converge", None) is spec
    # a method setting goes to the methods configured like AdaPT, not to full+tokens or layer selection
    grouped = grid_sweeps.with_knob(spec, "converge", ("grouping", "block"))
    assert {
        m
        for m in ("adapt", "adapt-random-init", "adapt-no-tokens", "full+tokens", "layers")
        if getattr(grid_spec.method_settings(grouped, "converge", m), "grouping", None) == "block"
    } == {"adapt", "adapt-random-init", "adapt-no-tokens"}


def test_a_method_that_adds_no_tokens_cannot_take_token_settings():
    spec = json.loads(json.dumps(helpers_grid.SPEC))
    spec["methods"]["full"]["tokens"] = {"max_new_tokens": 20}
    with pytest.raises(ValueError, match="'full' uses no new tokens"):
        grid_spec.method_settings(spec, "converge", "full")


def test_a_cell_the_choosing_sweep_lacks_is_read_from_the_machine_that_measured_it():
    """lr_sweep_on cuda: a GPU row superseded (or never run) is filled by the CPU's row of the same cell, which the CPU
    runs because `sweep_gaps` names it; the GPU's own row wins once it exists; until then the grid leaves the method
    out rather than train it at a rate nobody chose (`unrated_methods`)."""
    SPEC = helpers_grid.own_sweeps(helpers_grid.SPEC)
    one = {
        **SPEC,
        "profiles": {**SPEC["profiles"], "converge": {**SPEC["profiles"]["converge"], "lr_sweep_on": "cuda"}},
    }
    rows = []
    for cell in grid_spec.cells(one, "converge", sweep="lr"):
        dev = {1e-4: 0.8, 3e-4: 0.9}.get(dict(cell.overrides)["lr"], 0.5) if cell.method == "full" else 0.5
        key = ("converge", "cuda", *grid_spec.row_key(one, "converge", cell)[2:])
        rows.append(dict(zip(grid_results.KEY, key, strict=True)) | {"state": "completed", "best_dev_macro_f1": dev})
    gpu = pd.DataFrame(rows)
    assert grid_sweeps.chosen_rates(one, "converge", gpu, hardware="cpu")["full"] == 3e-4
    assert grid_sweeps.sweep_gaps(one, "converge", gpu, "cpu") == set()
    # the GPU's 3e-4 cell on the first task is superseded: the choice waits, and names the gap for the CPU
    hole = (gpu["method"] == "full") & (gpu["setting"] == "lr=0.0003")
    first = gpu[hole].index[0]
    gapped = gpu.assign(state=gpu["state"].where(gpu.index != first, "not run"))
    rates = grid_sweeps.chosen_rates(one, "converge", gapped, hardware="cpu")
    assert "full" not in rates
    assert {"full", "full+tokens"} <= grid_sweeps.unrated_methods(one, "converge", rates)
    assert "lora" not in grid_sweeps.unrated_methods(one, "converge", rates)
    gaps = grid_sweeps.sweep_gaps(one, "converge", gapped, "cpu")
    assert gaps == {(gpu.at[first, "task"], "full", "lr=0.0003", gpu.at[first, "model"], 0)}
    assert grid_sweeps.sweep_gaps(one, "converge", gapped, "cuda") == gaps  # the chooser itself: its own gaps
    # the CPU measures it (worse than 1e-4 there): the choice follows the measurement
    cpu = gpu.loc[[first]].assign(hardware="cpu", best_dev_macro_f1=0.1)
    filled = pd.concat([gapped, cpu], ignore_index=True)
    assert grid_sweeps.chosen_rates(one, "converge", filled, hardware="cpu")["full"] == 1e-4
    assert grid_sweeps.sweep_gaps(one, "converge", filled, "cpu") == gaps  # still the GPU's gap, measured here
    stand_ins = grid_sweeps.lr_stand_ins(one, "converge", filled, "cuda")  # what stands in, and is not rerun
    assert stand_ins["hardware"].tolist() == ["cpu"] and stand_ins["best_dev_macro_f1"].tolist() == [0.1]
    assert grid_sweeps.lr_stand_ins(one, "converge", gpu, "cuda").empty
    assert grid_sweeps.lr_unmeasured(one, "converge", gapped, "cuda") == gaps  # nobody has measured it yet
    assert grid_sweeps.lr_unmeasured(one, "converge", filled, "cuda") == set()  # measured once: the GPU skips it
    # the GPU's own row, once rerun, is the one that chooses
    back = pd.concat([gpu, cpu], ignore_index=True)
    assert grid_sweeps.chosen_rates(one, "converge", back, hardware="cpu")["full"] == 3e-4
    assert grid_sweeps.unrated_methods(one, "converge", {}) >= {"full", "lora", "adapt", "adapt-no-tokens"}
    assert "stc" not in grid_sweeps.unrated_methods(one, "converge", {})  # STC has no learning rate to sweep
