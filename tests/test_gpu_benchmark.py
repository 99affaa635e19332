"""The decoder and GPU benchmarks run in their small CPU configurations, so they cannot rot unseen: benchmarks/gpu.py
--smoke trains, tests and records every part as the GPU run will (device, step time, examples/s, peak memory,
macro-F1, the AdaPT pipeline's phases); benchmarks/decoder.py --quick runs every method and resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers_toy import write_toy_jsonl

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu.py"


def test_gpu_benchmark_smoke_runs_every_part_and_records_it(tmp_path):
    data = write_toy_jsonl(tmp_path / "toy.jsonl", n=120)
    out = tmp_path / "gpu.json"
    args = ["--smoke", "--encoder-dataset", str(data), "--decoder-dataset", str(data), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    payload = json.loads(out.read_text())
    assert payload["smoke"] and {"date", "torch", "transformers", "device"} <= set(payload["environment"])
    rows = {r["part"]: r for r in payload["rows"]}
    assert set(rows) == {"minilm-adapt", "minilm-full", "smollm2-adapt"}
    for part, row in rows.items():
        assert row["steps"] == 3 and row["device"] == "cpu", part
        assert 0 <= row["test_macro_f1"] <= 1 and row["step_seconds"] > 0 and row["peak_memory_mib"] > 0
        assert row["examples_per_second"] > 0 and row["trainable_params"] <= row["total_params"]
        assert abs(row["pipeline_seconds"] - sum(row["phase_seconds"].values())) < 1e-6
    for part in ("minilm-adapt", "smollm2-adapt"):  # the whole AdaPT pipeline, phase by phase
        assert {"load", "mine", "accept+augment", "measure", "train", "evaluate"} <= set(rows[part]["phase_seconds"])
        assert rows[part]["tokens"]["added"] > 0 and rows[part]["trainable_params"] < rows[part]["total_params"] / 2
    assert rows["minilm-full"]["trainable_params"] == rows["minilm-full"]["total_params"]
    assert "| minilm-adapt | cpu |" in done.stdout  # the printed table


def test_decoder_benchmark_quick_runs_every_method_and_resumes(tmp_path):
    """benchmarks/decoder.py --quick (tiny Llama, 2 steps): every method writes a row; a second call reads the
    finished runs back instead of training again (resumable)."""
    script = SCRIPT.parent / "decoder.py"
    out = tmp_path / "decoder.json"
    args = [sys.executable, str(script), "--quick", "--runs", str(tmp_path / "runs"), "--out", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert first.returncode == 0, first.stderr[-2000:]
    rows = {r["method"]: r for r in json.loads(out.read_text())["rows"]}
    assert set(rows) == {"adapt", "adapt-no-tokens", "full", "lora", "layers", "stc"}
    assert all(0 <= r["test_macro_f1"] <= 1 and r["peak_memory_mib"] > 0 for r in rows.values())
    assert rows["full"]["optimizer_state_mib"] > rows["adapt"]["optimizer_state_mib"] > 0
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").rglob("report.json")}
    second = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    assert second.returncode == 0 and json.loads(out.read_text())["rows"] == list(rows.values())
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing trained again
