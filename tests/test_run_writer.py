"""run_writer.py: a run folder written atomically, metrics appended line by line, nothing written when disabled."""

from __future__ import annotations

import json

from adapt_core.run_reader import read_metrics
from adapt_core.run_writer import RunWriter


def test_writer_is_atomic_and_appends(tmp_path):
    w = RunWriter(tmp_path / "r")
    w.write_config({"a": 1})
    w.progress(2, 10)
    for i in range(3):
        w.log({"step": i, "loss": 1.0 / (i + 1)})
    assert not list((tmp_path / "r").glob(".*tmp"))  # no temporary leftovers
    status = json.loads((tmp_path / "r" / "status.json").read_text())
    assert status["state"] == "running" and status["step"] == 2 and status["eta_seconds"] >= 0
    with open(tmp_path / "r" / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "lo')  # a live run's half-written line is skipped, not fatal
    assert list(read_metrics(tmp_path / "r")["step"]) == [0, 1, 2]


def test_disabled_writer_writes_nothing(tmp_path):
    w = RunWriter(tmp_path / "r", enabled=False)
    w.write_config({})
    w.log({"step": 1})
    assert not (tmp_path / "r").exists()
