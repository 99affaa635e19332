"""The responsiveness benchmark's browser measurements: one studio server and one headless Chromium session, driven
as a user would while the training child runs, timing four things from the click or key press to *settled*:
1. a vetting click on the Tokens page → the decision counts updated;
2. one step of the β slider on the Sensitivity page → the heatmap holds new data;
3. a page switch in the sidebar → the page's title drawn;
4. a metrics line appended to a stand-in run → drawn in the Train page's live loss chart.

The selectors a page rework may change (button labels, the counted metric, the slider's label, the heatmap) are the
constants under "selectors". The server, the browser and the in-page clock (`timed`, `WATCH`) live in headless.py,
shared with the end-to-end browser tests; `responsiveness.py` runs this beside the server-side figures and writes the
result. Kept apart from them because only this part needs a browser, and it is what a page rework touches.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import headless
from headless import CLICK_BUTTON, CLICK_LINK, METRIC, SLIDER_THUMB, TITLE, timed
from responsiveness_report import say, summary

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
TIMEOUT_SHOT = Path(__file__).parent / "responsiveness-timeout.png"  # what the page showed when a wait timed out


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


# ----------------------------------------------------------------------------------------------------- session


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
