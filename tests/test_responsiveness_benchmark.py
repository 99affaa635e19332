"""benchmarks/responsiveness.py --quick runs end to end, so the studio's responsiveness benchmark cannot rot unseen: a
tiny-bert training child process runs, a headless Chromium drives `streamlit run app.py` through a vetting click, a β
slider step on the Sensitivity page, page switches and the live chart, and the JSON holds every figure with its
samples."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import needs_shared_data

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "responsiveness.py"
BROWSER_FIGURES = ("vetting_click_s", "slider_move_s", "page_switch_s", "chart_delay_s")

pytestmark = [
    pytest.mark.browser,
    needs_shared_data,
    pytest.mark.skipif(
        not ((shutil.which("chromium") or shutil.which("google-chrome")) and shutil.which("chromedriver")),
        reason="needs chromium and chromedriver",
    ),
]


def test_quick_responsiveness_benchmark_measures_in_the_browser_and_writes_its_json(tmp_path):
    out = tmp_path / "studio-quick.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    shots = Path(__file__).parent / "artifacts"
    args = [sys.executable, str(SCRIPT), "--quick", "--out", str(out), "--screenshots", str(shots)]
    started = time.time()
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["quick"] and result["page_model"] == "tiny-bert" and result["dataset"]["candidates"] > 0
    for name in BROWSER_FIGURES:
        figure = result[name]
        assert figure["n"] >= 5 and len(figure["samples"]) == figure["n"], name
        assert 0 < figure["median"] <= figure["p90"] <= figure["max"] < 120, name
    assert set(result["page_switch_s"]["per_page_median"]) >= {"Data", "Tokens", "Sensitivity", "Train"}
    assert result["background_training"]["steps_during_benchmark"] >= 2  # the CPU really was busy training
    assert {"date", "streamlit", "chromium"} <= set(result["environment"])
    assert (shots / "responsiveness-sensitivity.png").stat().st_mtime >= started  # written by this run
    assert "| β slider step → heatmap redrawn (browser) |" in done.stdout
