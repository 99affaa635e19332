"""AdaPT and the baselines on the packaged decoder (SmolLM2-135M, Llama, 30 layers), measured on a CPU.

    OMP_NUM_THREADS=1 python benchmarks/decoder.py                 # the recorded configuration (about 1 CPU-hour)
    OMP_NUM_THREADS=1 python benchmarks/decoder.py --quick         # tiny-llama, a few steps: checks the script runs

Every method runs through `pipeline.run_training` (the CLI's and the studio's path), one seed, on one stratified
SciCite slice, so each run folder (under benchmarks/runs/decoder/) holds the usual report.json; this script only
collects test macro-F1, train time, step time, peak memory, optimizer state and trainable parameters from them.

Why this budget: on a 2-core shared CPU with one torch thread, one full-finetuning step of SmolLM2 at batch 16 and
64 tokens took 12–16 s and a forward pass over 64 texts about 15 s (measured before sizing). Six methods in about one
CPU-hour leave roughly 8 minutes each, training and evaluation together: 384 training texts (24 steps of 16, one
epoch), 200 dev and 200 test texts, max_length 64 (SciCite's median is 52 SmolLM2 tokens, p90 91: longer texts are
truncated). AdaPT calibrates its sensitivity on 64 training texts (not the default 512, which alone would cost
about 5 minutes here). What this budget rules out is written to the results (`not_run`).

Resumable: a method whose run folder already holds a report is read, not run again; `--fresh` runs everything anew.
Writes benchmarks/results/decoder.json (machine, versions, date) after every method, and prints a table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _env import environment

HERE = Path(__file__).parent
RESULTS = HERE / "results"
RUNS = HERE / "runs"
METHODS = ("adapt", "adapt-no-tokens", "full", "lora", "layers", "stc")
COLUMNS = (
    "test_macro_f1",
    "train_seconds",
    "step_seconds",
    "peak_memory_mib",
    "optimizer_state_mib",
    "trainable_params",
    "run_seconds",
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="smollm2-135m")
    p.add_argument("--dataset", default="scicite")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--max-train", type=int, default=384)
    p.add_argument("--max-eval", type=int, default=200, help="Dev and test texts each.")
    p.add_argument("--epochs", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--calibration-size", type=int, default=64, help="AdaPT's sensitivity sample.")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default=None, help="Results JSON (default results/decoder.json; --quick: none).")
    p.add_argument("--runs", default=str(RUNS), help="Folder of the run folders (one per method).")
    p.add_argument("--fresh", action="store_true", help="Run every method again, replacing earlier run folders.")
    p.add_argument("--quick", action="store_true", help="tiny-llama, 64 texts, 2 steps, scorer off")
    p.add_argument("--heatmap", action="store_true", help="Render the AdaPT run's sensitivity heatmap to a PNG.")
    args = p.parse_args()
    if args.quick:
        args.model, args.max_train, args.max_eval, args.calibration_size = "tiny-llama", 64, 32, 16
    return args


def settings(method: str, args) -> dict | None:
    """The method's settings here: AdaPT's calibration sample, STC's max_length; everything else its defaults."""
    from adapt_core.methods import get_method

    fields = get_method(method).config.__dataclass_fields__
    out = {}
    if "calibration_size" in fields:
        out["calibration_size"] = args.calibration_size
    if method == "stc":  # STC has its own max_length: the same truncation as the trained methods
        out["max_length"] = args.max_length
    if "tokens" in fields and args.quick:
        out["tokens"] = {"scorer": ""}  # no scoring model to load in the quick check
    return out or None


def run_config(method: str, args):
    from adapt_core.data import DataConfig
    from adapt_core.pipeline import RunConfig
    from adapt_core.train import TrainConfig

    train = TrainConfig(
        epochs=args.epochs,
        max_steps=2 if args.quick else None,
        batch_size=args.batch_size,
        max_length=args.max_length,
        seed=args.seed,
        device=args.device,
    )
    data = DataConfig(max_train=args.max_train, max_eval=args.max_eval)
    return RunConfig(
        dataset=args.dataset, model=args.model, method=method, settings=settings(method, args), train=train, data=data
    )


def run_dir(method: str, args) -> Path:
    return Path(args.runs) / ("decoder-quick" if args.quick else "decoder") / method


def run_one(method: str, args) -> dict:
    """The method's report.json: read when a finished run is there (resume), else trained now."""
    from adapt_core.pipeline import run_training

    folder = run_dir(method, args)
    report_file = folder / "report.json"
    if report_file.exists() and not args.fresh:
        return json.loads(report_file.read_text())
    started = time.perf_counter()
    report = run_training(run_config(method, args), folder, progress=False, overwrite=True)
    report["run_seconds"] = time.perf_counter() - started  # tokens, sensitivity, training, evaluation, save
    (folder / "run_seconds.json").write_text(json.dumps({"run_seconds": report["run_seconds"]}))
    return report


def row(method: str, report: dict, folder: Path) -> dict:
    """One table row from a run's report.json (STC trains no gradients: no step time, optimizer or train seconds)."""
    timing = folder / "run_seconds.json"
    run_seconds = json.loads(timing.read_text())["run_seconds"] if timing.exists() else report.get("run_seconds")
    mib = 1024**2
    out = {
        "method": method,
        "test_macro_f1": report["test"]["macro_f1"],
        "test_accuracy": report["test"]["accuracy"],
        "train_seconds": report.get("train_seconds"),
        "step_seconds": report.get("step_seconds"),
        "peak_memory_mib": report["peak_memory_bytes"] / mib if report.get("peak_memory_bytes") else None,
        "optimizer_state_mib": report["optimizer_state_bytes"] / mib if "optimizer_state_bytes" in report else None,
        "trainable_params": report.get("trainable_params"),
        "total_params": report.get("total_params"),
        "tokens_added": (report.get("tokens") or {}).get("added", 0),
        "run_seconds": run_seconds,
    }
    return out


def not_run(rows: list[dict], args) -> list[str]:
    """What this CPU cannot do at a useful budget, with the measured step time that rules it out."""
    full = next((r for r in rows if r["method"] == "full" and r["step_seconds"]), None)
    if full is None:
        return []
    step = full["step_seconds"]
    steps = 3 * 7320 / args.batch_size  # SciCite's whole training split, 3 epochs
    return [
        f"full finetuning on all 7,320 SciCite training texts for 3 epochs at batch {args.batch_size} and "
        f"max_length {args.max_length}: {steps:.0f} steps x {step:.1f} s measured = {steps * step / 3600:.1f} "
        "CPU-hours per method and seed (max_length 128 or more would roughly double it)",
        "three seeds per method (mean and std): triples the hour",
        "prefix tuning: not in this comparison, left out to keep the hour",
    ]


def show(rows: list[dict]) -> None:
    head = ["method", *COLUMNS]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [r["method"]] + [_fmt(r[c]) for c in COLUMNS]
        print("| " + " | ".join(cells) + " |")


def _fmt(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def render_heatmap(args) -> Path | None:
    """The studio's sensitivity heatmap (`plots.sensitivity_figures`, the figure of its Sensitivity page) of the AdaPT
    run's measurement, at the run's β and top-k, as a PNG: the figure is written as a self-contained HTML page and
    photographed by headless Chromium (no internet needed). None, with a message, when Chromium is absent."""
    import shutil
    import subprocess

    from adapt_core.plots.sensitivity_figures import sensitivity_heatmap
    from adapt_core.selection import SensitivityReport

    report = json.loads((run_dir("adapt", args) / "report.json").read_text())
    selection = report["method_info"]["selection"]
    sensitivity = SensitivityReport.from_dict(report["method_info"]["sensitivity"])
    beta, top_k = selection.get("beta", 1.0), selection.get("top_k", 10.0)
    fig = sensitivity_heatmap(sensitivity.to_frame(beta, top_k))
    fig.update_layout(title=f"{args.model} on {args.dataset}: sensitivity per module (β {beta}, top-k {top_k} %)")
    page = run_dir("adapt", args).parent / "sensitivity-heatmap.html"
    fig.write_html(page, include_plotlyjs=True, full_html=True, config={"displayModeBar": False})
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser is None:
        print(f"no Chromium here: the heatmap is in {page}, open it in a browser")
        return None
    png = RESULTS / f"decoder-sensitivity-{args.model}.png"
    height = int(fig.layout.height or 1000) + 40
    subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--window-size=1400,{height}",
         f"--screenshot={png.resolve()}", page.resolve().as_uri()],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    print(f"heatmap: {png}")
    return png


def main() -> None:
    args = parse_args()
    if args.heatmap:
        render_heatmap(args)
        return
    import torch

    torch.manual_seed(args.seed)
    out = Path(args.out) if args.out else (None if args.quick else RESULTS / "decoder.json")
    rows = []
    for method in args.methods.split(","):
        report = run_one(method, args)
        rows.append(row(method, report, run_dir(method, args)))
        print(f"{method}: test macro-F1 {rows[-1]['test_macro_f1']:.3f}", flush=True)
        if out is not None:  # after every method, so a stopped benchmark keeps what it measured
            payload = {
                "environment": environment(),
                "config": {k: v for k, v in vars(args).items() if k not in ("fresh", "out", "runs", "heatmap")},
                "rows": rows,
                "not_run": not_run(rows, args),
            }
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(payload, indent=2))
    show(rows)


if __name__ == "__main__":
    main()
