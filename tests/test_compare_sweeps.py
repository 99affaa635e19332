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
