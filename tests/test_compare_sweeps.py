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
    assert "the best only): **`tokens.max_new_tokens=20`**. So far: 7 of the sweep's 12 cells" in table
