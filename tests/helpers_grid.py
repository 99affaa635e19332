"""Shared by the grid's tests (test_grid_spec.py, test_grid_results.py, test_grid_runner.py, test_grid_analysis.py,
test_compare_report.py): the benchmark grid's spec, benchmarks/grid.json, as the tests read it (a dict, never written
back), and a toy task file to run cells on."""

from __future__ import annotations

import json
from pathlib import Path

SPEC = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "grid.json").read_text())


def toy_file(tmp_path) -> str:
    rows = ["text,label"] + [
        f"{'credit card' if i % 2 else 'bank transfer'} issue number {i % 5},{'ab'[i % 2]}" for i in range(80)
    ]
    path = tmp_path / "toy.csv"
    path.write_text("\n".join(rows))
    return str(path)
