"""How responsive the studio stays, in a real browser, while a training child process runs on the CPU.

    python benchmarks/responsiveness.py          # minilm-l6 trains in the background, full banking77 (README figures)
    python benchmarks/responsiveness.py --quick  # tiny-bert trains and is shown, a 200-text slice, 5 tries (the test)

Everything is measured while a real training run (`python -m adapt_core train`, started by the studio's launcher)
keeps the CPU busy. A headless Chromium drives `streamlit run app.py` as a user would:
1. **Vetting click**: press a decision button of the Tokens page (alternately "Accept the N shown" and "Reset the
   N shown") → the decision counts above the table show the new value. Target ≤ 1 s.
2. **Slider move**: one arrow-key step of the β slider → the Sensitivity heatmap holds new data (β changes every
   module's score S, so every move must redraw). Target ≤ 1 s.
3. **Page switch**: a click on a page in the sidebar's navigation → that page is settled. Target ≤ 1.5 s.
4. **Metrics → chart delay**: a metrics line appended to a (stand-in) run's metrics.jsonl → drawn in the Train
   page's live loss chart. Target ≤ the poll interval + 1 s.

"Settled": the expected element has changed (the counts, the heatmap's data, the page's title) *and* Streamlit has
finished: the app's script state is `notRunning` and no element is marked stale. The clock runs inside the page
(performance.now()): it starts just before the click or key press is sent and stops at the first look (every 10 ms,
in the page itself) that sees both. Earlier figures polled through WebDriver every 20 ms, a round trip per look that
itself loaded the two cores while the page was updating. The server, the browser and that in-page clock (`WATCH`)
live in headless.py, shared with the end-to-end browser tests.

Two server-side figures complete the picture: the Sensitivity page's script run after a slider move (AppTest, no
browser) and building + serialising a 24-layer heatmap figure.

Writes benchmarks/results/studio.json (studio-quick.json with --quick; or --out) with the machine, versions and date,
and prints a Markdown table (the file names predate this script's name: they hold recorded figures). This script
holds the options, the background training run and the result file; the four browser measurements are
responsiveness_browser.py's (the selectors a page rework may change are its constants under "selectors"), the two
server-side figures responsiveness_server.py's, each figure's summary and the table responsiveness_report.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import headless
from _env import environment
from responsiveness_browser import MEASUREMENTS, browser_measurements
from responsiveness_report import say, table
from responsiveness_server import heatmap_render, slider_reruns

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).parent / "results"


# ----------------------------------------------------------------------------------------------------- background


def start_training(root: Path, model: str):
    """A long training run started by the studio's launcher (a child process, as the Train page does)."""
    from adapt_core import launcher
    from adapt_core.data import DataConfig
    from adapt_core.pipeline import RunConfig
    from adapt_core.run_reader import load_run
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
    from adapt_core.run_reader import load_run

    launcher.cancel(run_dir)
    end = time.time() + 60
    while load_run(run_dir).state == "running" and time.time() < end:
        launcher.queue_tick(run_dir.parent)
        time.sleep(0.5)


def seed_candidates(dataset: str, model: str, data) -> int:
    """Mine the candidates the Tokens page vets (no PPLu: mining is not what is measured), saved where it reads."""
    from adapt_core.candidates import find_candidates
    from adapt_core.data import load_dataset
    from adapt_core.mining import MiningConfig
    from adapt_core.vetting import VettedList, merge_decisions
    from adapt_core.workspace import vetted_path

    found = find_candidates(load_dataset(dataset, data), model, MiningConfig(), None)
    merge_decisions(VettedList([]), found).save(vetted_path(dataset, model))
    return len(found)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="tiny-bert, a 200-text slice, 5 tries each")
    p.add_argument("--train-model", default="minilm-l6", help="model the background run trains")
    p.add_argument("--page-model", default="minilm-l6", help="model the pages show (the sidebar's default)")
    p.add_argument("--tries", type=int, default=15, help="timed tries per browser measurement")
    p.add_argument("--out", type=Path, help="where to write the JSON (default: benchmarks/results/)")
    p.add_argument("--screenshots", type=Path, help="a folder for screenshots of the measured pages")
    p.add_argument(
        "--only",
        nargs="+",
        choices=MEASUREMENTS,
        default=list(MEASUREMENTS),
        help="measure only these (a page rework checked quickly; the README figures measure all)",
    )
    args = p.parse_args()
    if args.quick:
        args.train_model = args.page_model = "tiny-bert"
        args.tries = min(args.tries, 5)
    import streamlit

    from adapt_core.data import DataConfig
    from adapt_core.run_reader import read_metrics
    from studio.live import POLL_SECONDS

    data = DataConfig(max_train=200, max_eval=60) if args.quick else DataConfig()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "runs"
        os.environ["ADAPT_RUNS_DIR"] = str(root)
        say("mining the candidates to vet")
        candidates = seed_candidates("banking77", args.page_model, data)
        say(f"starting {args.train_model} training in the background")
        background = start_training(root, args.train_model)
        try:
            load_before = os.getloadavg()
            result = browser_measurements(root, args, args.tries)
            result["load_average"] = {"before": load_before, "after": os.getloadavg()}  # 1, 5, 15 min; 2 = busy
            result |= {
                "slider_rerun_s": slider_reruns(args.page_model, args.tries),
                "heatmap_render_s": heatmap_render(4 * args.tries),
                "background_training": {
                    "model": args.train_model,
                    "steps_during_benchmark": len(read_metrics(background)),
                },
            }
        finally:
            stop_training(background)
    result |= {
        "page_model": args.page_model,
        "dataset": {"name": "banking77", "max_train": data.max_train, "candidates": candidates},
        "poll_seconds": POLL_SECONDS,
        "quick": args.quick,
        "environment": environment() | {"streamlit": streamlit.__version__, "chromium": headless.chrome_version()},
    }
    print(table(result))
    out = args.out or RESULTS / ("studio-quick.json" if args.quick else "studio.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # `studio` lives beside app.py
    main()
