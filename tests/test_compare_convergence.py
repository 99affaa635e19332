"""benchmarks/compare_convergence.py: when a dev curve has plateaued, and the report's lines on where full finetuning
and AdaPT converged."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
from helpers_grid import SPEC

from adapt_core import grid_results, grid_spec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the benchmark scripts' modules
from compare_convergence import plateau_line, plateaued  # noqa: E402


def test_a_dev_curve_has_plateaued_when_early_stopping_ended_it_or_its_last_two_scores_agree():
    assert plateaued([[1, 0.5], [2, 0.7], [3, 0.69]], epochs=16)  # stopped early: dev had stopped improving
    assert plateaued([[t, 0.8 + 0.001 * t] for t in range(16)], epochs=16)  # ran to the end, last two within 0.01
    assert not plateaued([[t, 0.05 * t] for t in range(16)], epochs=16)  # still rising by 0.05 at the end
    assert not plateaued([[1, 0.5]], epochs=16)  # one evaluation says nothing


def test_the_plateau_lines_say_where_full_finetuning_and_adapt_still_rose():
    rising, flat = [[t, 0.05 * t] for t in range(16)], [[1, 0.5], [2, 0.7], [3, 0.69]]
    rows = [
        dict(
            zip(
                grid_results.KEY,
                grid_spec.row_key(SPEC, "converge", grid_spec.Cell(task, method, "minilm-l6", 0)),
                strict=True,
            )
        )
        | {"state": "completed", "dev_curve": json.dumps(curve)}
        for task, method, curve in (
            ("banking77", "full", flat),
            ("scierc", "full", flat),
            ("banking77", "adapt", flat),
            ("scierc", "adapt", rising),
        )
    ] + [
        dict(
            zip(
                grid_results.KEY,
                grid_spec.row_key(SPEC, "converge", grid_spec.Cell("banking77", "adapt", "minilm-l6", 1)),
                strict=True,
            )
        )
        | {"state": "completed", "dev_curve": json.dumps(rising)}
    ]
    full, adapt = (line for line in plateau_line(SPEC, "converge", pd.DataFrame(rows)) if line)
    assert full.startswith("End-to-end finetuning's") and "**converged on every task measured**" in full
    assert "scierc 0 of 1 seeds (16 of 16 evaluations)" in adapt and "not its ceiling" in adapt
    assert "banking77 1 of 2 seeds (3 and 16 of 16 evaluations)" in adapt  # each seed's evaluations, as a list
    assert plateau_line(SPEC, "quick", pd.DataFrame(rows)) == []  # a fixed step budget claims no convergence
