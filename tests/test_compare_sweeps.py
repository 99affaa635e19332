"""benchmarks/compare_sweeps.py: the knob sweep's table shows every measured setting and states the rule's choice."""

from __future__ import annotations

import sys
from pathlib import Path

import helpers_grid
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the benchmark scripts' modules
from compare_sweeps import knob_section  # noqa: E402


def test_the_knob_table_shows_each_setting_on_dev_and_test_and_the_rules_choice():
    spec, rows = helpers_grid.knob_sweep_rows()
    table = "\n".join(knob_section(spec, "converge", pd.DataFrame(rows)))
    assert "| default | 0.6000 / 0.4000 | 0.7000 / 0.4000 | 0.6500 | — |" in table
    assert "| grouping=block | 0.7000 / 0.3000 | — | — | — |" in table  # shown, not compared
    assert "Better than the default on mean dev: `tokens.max_new_tokens=20`." in table
    assert "the best only): **`tokens.max_new_tokens=20`** so far (7 of the sweep's 12 cells" in table


def test_the_knob_verdict_says_the_grid_trains_with_the_choice_once_the_sweep_is_finished():
    spec, rows = helpers_grid.finished_knob_sweep_rows()
    table = "\n".join(knob_section(spec, "converge", pd.DataFrame(rows)))
    assert "the best only): **`tokens.max_new_tokens=20`**. The grid and the budget sweep train AdaPT's family" in table
    assert "so far" not in table


def test_the_lr_table_reads_what_the_choice_reads_and_names_stand_ins():
    """Only the sweep's seed, a choice only over a whole method, and the CPU's stand-in for a superseded GPU cell said
    under the GPU's table (lr_sweep_on cuda, as `converge`)."""
    from compare_report import lr_sweep_part

    from adapt_core import grid_results, grid_spec, grid_sweeps

    spec, rows = helpers_grid.SPEC, []
    for cell in grid_spec.cells(spec, "converge", sweep="lr"):
        dev = {1e-4: 0.8, 3e-4: 0.9}.get(dict(cell.overrides)["lr"], 0.5) if cell.method == "full" else 0.5
        key = ("converge", "cuda", *grid_spec.row_key(spec, "converge", cell)[2:])
        rows.append(
            dict(zip(grid_results.KEY, key, strict=True))
            | {"state": "completed", "best_dev_macro_f1": dev, "macro_f1": dev, "device": "cuda:0"}
        )
    frame = pd.DataFrame(rows)
    later = frame[(frame["method"] == "full") & (frame["setting"] == "")].assign(seed=1, best_dev_macro_f1=0.99)
    frame = pd.concat([frame, later], ignore_index=True)  # the grid's seed 1 of a swept setting: not the sweep's
    table = "\n".join(lr_sweep_part(spec, spec, "converge", frame, "cuda"))
    assert "| full | 0.0003 **(chosen)** | 0.9000 / 0.9000 | 0.9000 / 0.9000 | 0.9000 |" in table
    assert "| full | 0.0001 | 0.8000 / 0.8000 | 0.8000 / 0.8000 | 0.8000 |" in table  # seed 1's 0.99 left out
    assert lr_sweep_part(spec, spec, "converge", frame, "cpu") == []  # the CPU trains at the GPU's choice
    # a superseded GPU cell: the method waits; the CPU's stand-in fills it and is named
    hole = frame.index[(frame["method"] == "lora") & (frame["setting"] == "lr=0.01") & (frame["task"] == "scierc")]
    frame.loc[hole, "state"] = "not run"
    table = "\n".join(lr_sweep_part(spec, spec, "converge", frame, "cuda"))
    assert "| lora | 0.01 | 0.5000 / 0.5000 | — | — (a cell is missing) |" in table and "lora | 0.003 **" not in table
    cpu = frame.loc[hole].assign(hardware="cpu", state="completed", best_dev_macro_f1=0.7, macro_f1=0.6)
    table = "\n".join(lr_sweep_part(spec, spec, "converge", pd.concat([frame, cpu], ignore_index=True), "cuda"))
    assert "| lora | 0.01 **(chosen)** | 0.5000 / 0.5000 | 0.7000 / 0.6000 | 0.6000 |" in table
    assert "in place of this one's superseded or missing cells" in table and "scierc lora lr=0.01 on cpu" in table
    assert grid_sweeps.chosen_rates(spec, "converge", pd.concat([frame, cpu]), hardware="cpu")["lora"] == 0.01
