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
and prints a Markdown table (the file names predate this script's name: they hold recorded figures). The selectors
a page rework may change are the constants under "selectors".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import headless
from _env import environment
from headless import CLICK_BUTTON, CLICK_LINK, METRIC, SLIDER_THUMB, TITLE, WAIT, timed

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
POLL = 0.02  # seconds between two looks at the page while timing

# ----------------------------------------------------------------------------------------------------- selectors
# What the measurements look for; adapt these when a page changes.

VET_BUTTONS = ("Accept the", "Reset the")  # the Tokens page's bulk decision buttons, pressed in turn
VET_COUNT = "Accepted"  # the metric whose value each press changes
SLIDER = "β (gradient weight)"  # the slider moved on the Sensitivity page; β changes every module's score
HEATMAP = ".st-key-heatmap .js-plotly-plot"  # st.plotly_chart(..., key="heatmap")
PAGES = {  # sidebar link → the page's title (h1) once it is drawn
    "Data": "Data",
    "Tokens": "Tokens",
    "Sensitivity": "Sensitivity",
    "Train": "Train",
    "Compare": "Compare",
    "Playground": "Playground",
    "Home": "AdaPT Studio",
}

HEATMAP_DATA = f"""
const plot = document.querySelector('{HEATMAP}');
if (!plot || !plot.data) return null;
return JSON.stringify(plot.data.map(t => [t.z, t.text])) + JSON.stringify((plot.layout || {{}}).shapes || []);
"""
TIMEOUT_SHOT = RESULTS.parent / "responsiveness-timeout.png"  # what the page showed when a wait timed out


def say(what: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {what}", file=sys.stderr, flush=True)


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


# ----------------------------------------------------------------------------------------------------- waiting


def wait_value(driver, check: str, *args, **how):
    """headless.wait_value, with a screenshot of the page when it times out."""
    return headless.wait_value(driver, check, *args, shot=TIMEOUT_SHOT, **how)


def go(driver, page: str) -> None:
    """Follow a sidebar link, untimed, and wait until the page is settled."""
    driver.execute_script(CLICK_LINK, page)
    wait_value(driver, TITLE, until=lambda t: t == PAGES[page], what=f"the {page} page")


# ----------------------------------------------------------------------------------------------------- 1. vetting


def vetting_clicks(driver, tries: int) -> dict:
    say("vetting clicks")
    go(driver, "Tokens")
    times = []
    for i in range(tries + 1):  # the first press warms the page's caches
        button = VET_BUTTONS[i % len(VET_BUTTONS)]
        before = wait_value(driver, METRIC, VET_COUNT, until=lambda v: v is not None, what=f"the {VET_COUNT} count")
        times.append(
            timed(
                driver,
                lambda b=button: driver.execute_script(CLICK_BUTTON, b),
                METRIC,
                VET_COUNT,
                old=before,
            )
        )
    return summary(times[1:])


# ----------------------------------------------------------------------------------------------------- 2. slider


def slider_moves(driver, tries: int) -> dict:
    from selenium.webdriver.common.keys import Keys

    say("slider moves")
    go(driver, "Sensitivity")
    if driver.execute_script(CLICK_BUTTON, "Measure sensitivity"):  # once; saved under the runs folder
        wait_value(driver, HEATMAP_DATA, what="the first measurement")
    times = []
    for i in range(tries + 1):
        before = wait_value(driver, HEATMAP_DATA, what="the heatmap")
        thumb = driver.execute_script(SLIDER_THUMB, SLIDER)
        if thumb is None:
            raise RuntimeError(f"no slider labelled {SLIDER!r} on the Sensitivity page")
        key = Keys.ARROW_RIGHT if i % 2 == 0 else Keys.ARROW_LEFT  # β goes back and forth by one step

        def move(thumb=thumb, key=key):
            thumb.send_keys(key)

        times.append(timed(driver, move, HEATMAP_DATA, old=before))
    return summary(times[1:])


# ----------------------------------------------------------------------------------------------------- 3. pages


def page_switches(driver, tries: int) -> dict:
    say("page switches")
    order = list(PAGES)
    for page in order:  # one untimed round: every page's first load (caches, models) is not what is measured
        go(driver, page)
    times, per_page = [], {}
    for i in range(tries):
        page = order[i % len(order)]
        if page == current_page(driver):
            continue
        elapsed = timed(
            driver,
            lambda p=page: driver.execute_script(CLICK_LINK, p),
            TITLE,
            target=PAGES[page],
        )
        times.append(elapsed)
        per_page.setdefault(page, []).append(elapsed)
    return summary(times) | {"per_page_median": {p: statistics.median(v) for p, v in per_page.items()}}


def current_page(driver) -> str | None:
    title = driver.execute_script(TITLE)
    return next((p for p, t in PAGES.items() if t == title), None)


# ----------------------------------------------------------------------------------------------------- 4. delay


def chart_delays(driver, root: Path, samples: int) -> dict:
    """Seconds from appending a metrics line to the live loss chart drawing it."""
    say("chart delays")
    run_dir = stand_in_run(root)
    go(driver, "Train")
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


def stand_in_run(root: Path) -> Path:
    """A run folder that looks like a live run of this process, newest of all, with one metrics line."""
    from adapt_core.fileio import atomic_write_json

    run_dir = root / "99991231-235959-full-benchmark-0000"
    run_dir.mkdir(parents=True)
    atomic_write_json(
        run_dir / "config.json",
        {"dataset": "banking77", "model": "tiny-bert", "method": {"method": "full"}, "train": {"seed": 0}},
    )
    atomic_write_json(run_dir / "status.json", {"state": "running", "pid": os.getpid(), "step": 1, "total": 10_000})
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
        time.sleep(POLL)


# ----------------------------------------------------------------------------------------------------- server side


def slider_reruns(model: str, moves: int) -> dict:
    """Time of a Sensitivity-page script run after a β move, the report cached on disk (AppTest: no browser)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=WAIT)
    at.session_state["data_config"] = {"max_train": 200, "max_eval": 60}
    at.session_state["model"] = model
    at.run()
    at.switch_page("app_pages/sensitivity.py").run()
    next(b for b in at.button if b.label.startswith("Measure")).click().run()  # measured once, saved to disk
    assert not at.exception, at.exception
    slider = next(s for s in at.slider if s.label == SLIDER)
    times = []
    for i in range(moves + 2):
        start = time.perf_counter()
        at.slider(key=slider.key).set_value(1.0 + 0.1 * (i % 2)).run()
        times.append(time.perf_counter() - start)
        assert not at.exception, at.exception
    return summary(times[2:])  # the first moves warm caches


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
    poll = result["poll_seconds"]
    rows = [
        ("Vetting click → counts updated (browser)", result.get("vetting_click_s"), "≤ 1.0 s"),
        ("β slider step → heatmap redrawn (browser)", result.get("slider_move_s"), "≤ 1.0 s"),
        ("Page switch → page settled (browser)", result.get("page_switch_s"), "≤ 1.5 s"),
        (
            "Metrics line written → drawn in the live chart (browser)",
            result.get("chart_delay_s"),
            f"≤ {poll + 1:.1f} s",
        ),
        ("Sensitivity script run after a β move (server, AppTest)", result["slider_rerun_s"], "—"),
        ("Heatmap build + serialise, 24 layers × 7 types (server)", result["heatmap_render_s"], "—"),
    ]
    lines = ["| measurement (training child running) | median | p90 | max | n | target |", "|---|---|---|---|---|---|"]
    for name, r, target in rows:
        if r is None or "skipped" in r:
            why = r["skipped"] if r else "not run"
            lines.append(f"| {name} | skipped: {why} | | | | {target} |")
        else:
            cells = " | ".join(f"{r[k]:.3f} s" for k in ("median", "p90", "max"))
            lines.append(f"| {name} | {cells} | {r['n']} | {target} |")
    return "\n".join(lines)


MEASUREMENTS = ("vetting", "slider", "pages", "chart")


def browser_measurements(root: Path, args, tries: int) -> dict:
    """The four browser measurements in one studio server and one Chromium session, as one user would."""
    if not headless.available():
        return {"browser": {"skipped": "chromium / chromedriver not installed"}}
    from selenium.webdriver.common.keys import Keys

    with headless.serve(root) as url, headless.chromium(root.parent / "chrome-profile") as driver:
        driver.get(url)
        wait_value(driver, TITLE, until=lambda t: t == PAGES["Home"], what="the home page")
        if args.quick:  # a small slice and the tiny model, typed in as a user would
            go(driver, "Data")
            for label, value in (("Max train", "200"), ("Max eval", "60")):
                field = driver.find_element("css selector", f'input[aria-label="{label}"]')
                field.send_keys(Keys.CONTROL, "a")
                field.send_keys(value, Keys.ENTER)
                wait_value(driver, "return document.body.innerText.includes('Slice:');", what="the slice")
            model = driver.find_element("css selector", 'input[aria-label="Model"]')
            model.click()
            model.send_keys(args.page_model, Keys.ENTER)
            wait_value(driver, TITLE, until=lambda t: t == "Data", what="the model choice")
        result = {}
        if "vetting" in args.only:
            result["vetting_click_s"] = vetting_clicks(driver, tries)
            shot(driver, args.screenshots, "responsiveness-tokens")
        if "slider" in args.only:
            result["slider_move_s"] = slider_moves(driver, tries)
            shot(driver, args.screenshots, "responsiveness-sensitivity")
        if "pages" in args.only:
            result["page_switch_s"] = page_switches(driver, max(tries, 15) + 6)
        if "chart" in args.only:
            result["chart_delay_s"] = chart_delays(driver, root, tries)
        return result


def shot(driver, folder: Path | None, name: str) -> None:
    """A screenshot of the page as measured, to look at (`--screenshots`)."""
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(folder / f"{name}.png"))


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
