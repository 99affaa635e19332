"""Shared by the grid's tests (test_grid.py, test_grid_analysis.py): the benchmark grid's spec, benchmarks/grid.json,
as the tests read it (a dict, never written back)."""

from __future__ import annotations

import json
from pathlib import Path

SPEC = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "grid.json").read_text())
