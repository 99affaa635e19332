"""How responsive the studio stays while a training child process runs on the CPU.

    python benchmarks/studio.py            # minilm-l6 trains in the background (the README figures)
    python benchmarks/studio.py --quick    # tiny-bert trains in the background, fewer samples

Three measurements, all taken while a real training run (`python -m adapt_core train`, started by the studio's
launcher) keeps the CPU busy:
1. **Slider rerun**: the time of a whole script run of the Sensitivity page (entry point, sidebar, page) after a
   move of the top-k % slider, with the measurement already cached on disk; timed with Streamlit's AppTest, so it
   is the server's work for one rerun (no network, no browser drawing). Target: < 300 ms.
2. **Metrics → chart delay**: a headless Chromium shows the Train page of `streamlit run app.py`; a metrics line is
   appended to a (stand-in) run's metrics.jsonl, and the time until the live loss chart draws that point is taken
   from the browser. Target: ≤ the poll interval + 1 s. Skipped (with a note) when chromium is absent.
3. **Heatmap render**: building the D / G / S heatmap figure of a synthetic 24-layer, 7-module-type report and
   serialising it as Streamlit does (`fig.to_json()`), per redraw.

Writes benchmarks/results/studio.json (with the machine, versions and date) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _env import environment

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"
LLAMA_TYPES = [
    "self_attn.q_proj",
    "self_attn.k_proj",
    "self_attn.v_proj",
    "self_attn.o_proj",
    "mlp.gate_proj",
    "mlp.up_proj",
    "mlp.down_proj",
]


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    return {
        "n": len(samples),
        "median": statistics.median(samples),
        "p90": ordered[int(0.9 * (len(ordered) - 1))],
        "max": ordered[-1],
        "samples": samples,
    }


# ----------------------------------------------------------------------------------------------------- background


def start_training(root: Path, model: str):
    """A long training run started by the studio's launcher (a child process, as the Train page does)."""
    from adapt_core import launcher
    from adapt_core.data import DataConfig
    from adapt_core.pipeline import RunConfig
    from adapt_core.runs import load_run
    from adapt_core.train import TrainConfig

    config = RunConfig(
        dataset="banking77",
        model=model,
        data=DataConfig(max_train=2000, max_eval=200),
        method="full",
        train=TrainConfig(max_steps=100_000, batch_size=16, max_length=64, device="cpu"),
    )
    run_dir = launcher.launch(config, root)
    end = time.time() + 600
    while len(load_run(run_dir).metrics()) < 2:  # wait until it really trains
        launcher.queue_tick(root)
        if time.time() > end or load_run(run_dir).state != "running":
            raise RuntimeError(f"the background run did not start training: {load_run(run_dir).status}")
        time.sleep(1)
    return run_dir


def stop_training(run_dir: Path) -> None:
    from adapt_core import launcher
    from adapt_core.runs import load_run

    launcher.cancel(run_dir)
    end = time.time() + 60
    while load_run(run_dir).state == "running" and time.time() < end:
        launcher.queue_tick(run_dir.parent)
        time.sleep(0.5)


# ----------------------------------------------------------------------------------------------------- 1. slider


def slider_reruns(model: str, moves: int) -> dict:
    """Median time of a Sensitivity-page rerun after a top-k % move, the report cached on disk."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=600)
    at.session_state["data_config"] = {"max_train": 200, "max_eval": 60}
    at.session_state["model"] = model
    at.run()
    at.switch_page("app_pages/sensitivity.py").run()
    next(b for b in at.button if b.label.startswith("Measure")).click().run()  # measured once, saved to disk
    assert not at.exception, at.exception
    values = [10.0 + (i % 2) * 10.0 for i in range(moves + 2)]
    times = []
    for value in values:
        start = time.perf_counter()
        at.sidebar.slider(key="_w_top_k").set_value(value).run()
        times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    return summary(times[2:])  # the first moves warm caches


# ----------------------------------------------------------------------------------------------------- 2. delay


def chart_delays(root: Path, samples: int) -> dict:
    """Seconds from appending a metrics line to the live loss chart drawing it (headless Chromium)."""
    chrome, driver_path = shutil.which("chromium") or shutil.which("google-chrome"), shutil.which("chromedriver")
    if not (chrome and driver_path):
        return {"skipped": "chromium / chromedriver not installed"}
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    run_dir = stand_in_run(root)
    port = free_port()
    env = {**os.environ, "ADAPT_RUNS_DIR": str(root), "HF_HUB_OFFLINE": "1"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-sync",
        f"--user-data-dir={root.parent / 'chrome-profile'}",
        "--window-size=1400,1800",
    ):
        options.add_argument(arg)
    driver = None
    try:
        time.sleep(5)
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
        driver.get(f"http://127.0.0.1:{port}/train")
        delays = []
        wait_points(driver, 1, timeout=300)
        for i in range(samples):
            time.sleep(0.37 * (i % 3))  # writes land at different phases of the poll
            written = time.time()
            with open(run_dir / "metrics.jsonl", "a") as f:
                f.write(json.dumps({"step": i + 2, "loss": 1.0 / (i + 2)}) + "\n")
            wait_points(driver, i + 2, timeout=60)
            delays.append(time.time() - written)
        return summary(delays)
    finally:
        if driver is not None:
            driver.quit()
        os.killpg(server.pid, 15)
        server.wait(timeout=30)


def stand_in_run(root: Path) -> Path:
    """A run folder that looks like a live run of this process, newest of all, with one metrics line."""
    from adapt_core.runs import write_json

    run_dir = root / "99991231-235959-full-benchmark-0000"
    run_dir.mkdir(parents=True)
    write_json(
        run_dir / "config.json",
        {"dataset": "banking77", "model": "tiny-bert", "method": {"method": "full"}, "train": {"seed": 0}},
    )
    write_json(run_dir / "status.json", {"state": "running", "pid": os.getpid(), "step": 1, "total": 10_000})
    (run_dir / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 1.0}) + "\n")
    return run_dir


LOSS_POINTS = (
    "const plot = [...document.querySelectorAll('.js-plotly-plot')]"
    ".find(p => ((p.querySelector('.gtitle') || {}).textContent || '').includes('Training loss'));"
    "if (!plot) return -1;"
    "const trace = (plot._fullData || []).find(t => (t.name || '').includes('0000'));"
    "return trace ? trace.x.length : 0;"
)


def wait_points(driver, count: int, timeout: float) -> None:
    end = time.time() + timeout
    while (driver.execute_script(LOSS_POINTS) or 0) < count:
        if time.time() > end:
            raise RuntimeError(f"the chart never showed {count} points")
        time.sleep(0.02)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------------------------- 3. heatmap


def heatmap_render(repeats: int) -> dict:
    import numpy as np

    from adapt_core.plots.sensitivity import sensitivity_heatmap
    from adapt_core.selection import ModuleStat, SensitivityReport

    rng = np.random.default_rng(0)
    rows = [
        ModuleStat(
            f"model.layers.{i}.{t}",
            i,
            t,
            589_824 if "proj" in t else 1000,
            float(rng.random()),
            float(rng.random()),
            (f"model.layers.{i}.{t}",),
        )
        for i in range(24)
        for t in LLAMA_TYPES
    ]
    report = SensitivityReport(rows, sum(r.params for r in rows))
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        sensitivity_heatmap(report.to_frame(beta=1.0, top_k=5.0 + i % 20)).to_json()
        times.append(time.perf_counter() - start)
    return summary(times[1:])


# ----------------------------------------------------------------------------------------------------- main


def table(result: dict) -> str:
    rows = [
        ("Sensitivity rerun after a slider move (cached report)", result["slider_rerun_s"], "< 0.300 s"),
        (
            "Metrics line written → drawn in the live chart",
            result["chart_delay_s"],
            f"≤ {result['poll_seconds'] + 1:.1f} s",
        ),
        ("Heatmap build + serialise, 24 layers × 7 types", result["heatmap_render_s"], "—"),
    ]
    lines = ["| measurement (training child running) | median | p90 | max | n | target |", "|---|---|---|---|---|---|"]
    for name, r, target in rows:
        if "skipped" in r:
            lines.append(f"| {name} | skipped: {r['skipped']} | | | | {target} |")
        else:
            cells = " | ".join(f"{r[k]:.3f} s" for k in ("median", "p90", "max"))
            lines.append(f"| {name} | {cells} | {r['n']} | {target} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny-bert in the background, fewer samples")
    p.add_argument("--train-model", default="minilm-l6", help="model the background run trains")
    p.add_argument("--page-model", default="minilm-l6", help="model whose sensitivity the page shows")
    args = p.parse_args()
    import streamlit

    from adapt_core.runs import read_metrics
    from studio.live import POLL_SECONDS

    train_model = "tiny-bert" if args.quick else args.train_model
    samples = 5 if args.quick else 15
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        os.environ["ADAPT_RUNS_DIR"] = str(root)
        background = start_training(root, train_model)
        try:
            result = {
                "slider_rerun_s": slider_reruns("tiny-bert" if args.quick else args.page_model, samples),
                "chart_delay_s": chart_delays(root, samples),
                "heatmap_render_s": heatmap_render(4 * samples),
                "background_training": {"model": train_model, "steps_during_benchmark": len(read_metrics(background))},
            }
        finally:
            stop_training(background)
    result |= {
        "poll_seconds": POLL_SECONDS,
        "quick": args.quick,
        "environment": environment() | {"streamlit": streamlit.__version__, "chromium": chromium_version()},
    }
    print(table(result))
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("studio-quick.json" if args.quick else "studio.json")
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


def chromium_version() -> str | None:
    chrome = shutil.which("chromium") or shutil.which("google-chrome")
    if not chrome:
        return None
    return subprocess.run([chrome, "--version"], capture_output=True, text=True).stdout.strip() or None


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # `studio` lives beside app.py
    main()
