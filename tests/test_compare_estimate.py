"""benchmarks/compare_estimate.py: the plan's CPU hours count the padded tokens the training loop really batches, and
nothing for a knob cell that will never run."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))  # the benchmark scripts' modules
import compare_estimate  # noqa: E402
import helpers_grid  # noqa: E402
import pandas as pd  # noqa: E402
from compare_estimate import padded_tokens  # noqa: E402


def test_padded_tokens_follow_the_training_loops_batching():
    # cut to 4: [3, 4, 4, 2]; grouped into [4, 4] and [3, 2]: 2 × 4 and 2 × 3 tokens per batch
    assert padded_tokens([3, 5, 9, 2], max_length=4, batch_size=2, grouped=True) == 7
    lengths = [(13 * i) % 60 + 5 for i in range(640)]
    grouped = padded_tokens(lengths, 128, 32, True)
    plain = padded_tokens(lengths, 128, 32, False)
    assert sum(lengths) / 20 <= grouped < plain  # never below the real tokens; grouping pads less


def test_a_knob_cell_the_rule_ruled_out_costs_nothing(monkeypatch):
    spec, rows = helpers_grid.finished_knob_sweep_rows()
    frame = pd.DataFrame(rows).assign(total_seconds=3600.0)
    monkeypatch.setattr(compare_estimate, "_prior", lambda *_: lambda task, method: 3600.0)
    table = compare_estimate.estimate(spec, "converge", frame)
    # 12 knob cells: 2 are the grid's default cells (costed there), 3 on the later task are ruled out by the first
    assert "| sweep knobs | 7 | 0 | 7.0 | 0.0 |" in table
