"""End to end in a real headless Chromium against `streamlit run app.py` on a free localhost port.

The tests share one server and one browser session (module fixtures) and run in file order, like a user would:
every page renders; the default pipeline runs on a small slice (200 training texts; PPLu with the tiny random
scorer so that it takes seconds); a tiny-bert run is launched and its loss chart gains points while it trains; a
run is cancelled and shows `cancelled`; a malformed CSV upload shows the message that says what to fix. No page
may show a traceback. A screenshot of each page goes to tests/artifacts/ for inspection.

The server, the browser and any training child process are stopped at the end, whatever happens.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from conftest import needs_shared_data

sys.path.append(str(Path(__file__).resolve().parents[1] / "benchmarks"))  # headless.py: shared with the benchmark
import headless  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
WAIT = 240  # seconds: the machines running the tests are small and shared

pytestmark = [
    pytest.mark.browser,
    needs_shared_data,
    pytest.mark.skipif(
        not headless.available(),
        reason="needs chromium and chromedriver (apt-get install chromium chromium-driver)",
    ),
]


def stop_training(runs: Path) -> None:
    """Cancel every run the app started (they run in their own sessions and would outlive the server)."""
    from adapt_core import launcher
    from adapt_core.run_reader import list_runs

    for info in list_runs(runs):
        if info.state in ("running", "queued"):
            launcher.cancel(info.dir)
    end = time.time() + 30
    while time.time() < end and any(r.state == "running" for r in list_runs(runs)):
        time.sleep(0.5)
    for info in list_runs(runs):
        if info.state == "running" and info.status.get("pid"):
            os.killpg(int(info.status["pid"]), signal.SIGKILL)


@pytest.fixture(scope="module")
def graceful_termination():
    """Turn SIGTERM (e.g. from `timeout`) into KeyboardInterrupt, so the finalizers below still stop everything."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.fixture(scope="module")
def server(tmp_path_factory, graceful_termination):
    runs = tmp_path_factory.mktemp("runs")
    with headless.serve(runs) as url:
        try:
            yield {"url": url, "runs": runs}
        finally:
            stop_training(runs)  # before the server stops: the runs it started live in their own sessions


@pytest.fixture(scope="module")
def browser(server):
    with headless.chromium(Path(server["runs"]).parent / "chrome-profile", page_load_timeout=WAIT) as driver:
        driver.get(server["url"])
        yield driver


# ----------------------------------------------------------------------------------------------------- helpers


def wait(driver, condition, timeout: float = WAIT, what: str = "the page"):
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    end = time.time() + timeout
    while time.time() < end:
        try:
            value = condition(driver)
            if value:
                return value
        except (StaleElementReferenceException, WebDriverException):
            pass
        time.sleep(0.3)
    shot(driver, "timeout")
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def idle(driver) -> bool:
    app = driver.find_elements("css selector", '[data-testid="stApp"]')
    return bool(app) and app[0].get_attribute("data-test-script-state") == "notRunning"


def settle(driver, timeout: float = 60) -> None:
    """Give a script run time to finish. Soft: on the Train page a polling fragment may rerun all the time; the
    checks that follow wait for what they need."""
    time.sleep(0.5)
    end = time.time() + timeout
    while time.time() < end and not idle(driver):
        time.sleep(0.2)


def text(driver) -> str:
    return driver.find_element("css selector", '[data-testid="stApp"]').text


def has_text(snippet: str):
    return lambda driver: snippet in text(driver)


def no_traceback(driver) -> None:
    assert "Traceback" not in text(driver)
    assert not driver.find_elements("css selector", '[data-testid="stException"]')


def shot(driver, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def go(driver, page: str) -> None:
    """Follow the sidebar link to a page (the same session, as a user clicking)."""
    links = driver.find_elements("css selector", '[data-testid="stSidebarNavLink"]')
    link = next(a for a in links if a.text.splitlines()[-1] == page)
    link.click()
    wait(
        driver,
        lambda d: (
            d.find_elements("css selector", "h1")
            and d.find_element("css selector", "h1").text.startswith(page if page != "Home" else "AdaPT")
        ),
        what=f"the {page} page",
    )
    settle(driver)


FIND_BUTTON = """
const label = arguments[0];
for (const b of document.querySelectorAll('button')) {
  if (b.disabled) continue;
  if (b.innerText.split('\\n').some(line => line.trim().startsWith(label))) return b;
}
return null;
"""


def click(driver, label: str) -> None:
    driver.execute_script("document.activeElement && document.activeElement.blur();")  # commit a typed value first
    settle(driver, timeout=15)
    # Find and click in one script call: between two WebDriver calls a fragment rerun may replace the element.
    script = FIND_BUTTON.replace("return b;", "{ b.scrollIntoView({block: 'center'}); b.click(); return true; }")
    wait(driver, lambda d: d.execute_script(script, label), what=f"the button {label!r}")
    settle(driver, timeout=15)


def type_into(driver, label: str, value: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field = wait(driver, lambda d: d.find_elements("css selector", f'input[aria-label="{label}"]'), what=label)[0]
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", field)
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(value, Keys.ENTER)
    settle(driver, timeout=15)
    wait(
        driver,
        lambda d: d.find_element("css selector", f'input[aria-label="{label}"]').get_attribute("value") == value,
        what=f"{label} = {value}",
    )


def choose(driver, label: str, option: str) -> None:
    from selenium.webdriver.common.keys import Keys

    field = driver.find_element("css selector", f'input[aria-label="{label}"]')
    field.click()
    field.send_keys(option, Keys.ENTER)
    settle(driver)


def open_expander(driver, title: str) -> None:
    summary = wait(
        driver,
        lambda d: [s for s in d.find_elements("css selector", '[data-testid="stExpander"] summary') if title in s.text],
        what=title,
    )[0]
    if summary.find_element("xpath", "..").get_attribute("open") is None:
        summary.click()
        time.sleep(0.5)


def metric(driver, label: str) -> str | None:
    """The value shown by the metric called `label`, or None while there is none."""
    for m in driver.find_elements("css selector", '[data-testid="stMetric"]'):
        lines = m.text.splitlines()
        if len(lines) > 1 and lines[0] == label:
            return lines[1]
    return None


LOSS_POINTS = (  # the last step drawn in the plot titled "Training loss" (-1 while there is none)
    "const plot = [...document.querySelectorAll('.js-plotly-plot')]"
    ".find(p => ((p.querySelector('.gtitle') || {}).textContent || '').includes('Training loss'));"
    "if (!plot || !plot._fullData) return -1;"
    "return Math.max(-1, ...plot._fullData.map(t => (t.x && t.x.length) ? Number(t.x[t.x.length - 1]) : -1));"
)


# ----------------------------------------------------------------------------------------------------- tests


def test_every_page_renders_without_a_traceback(browser):
    wait(browser, has_text("Dataset: banking77"), what="the home page summary")
    settle(browser)
    no_traceback(browser)
    shot(browser, "home")
    go(browser, "Data")
    type_into(browser, "Max train", "200")  # a small slice for everything that follows
    type_into(browser, "Max eval", "60")
    wait(browser, has_text("Slice: train ≤ 200"), what="the slice in the sidebar")
    for page in ("Data", "Tokens", "Sensitivity", "Train", "Compare", "Playground", "Home"):
        go(browser, page)
        no_traceback(browser)
        shot(browser, page.lower())


def test_default_pipeline_on_a_small_slice(browser):
    go(browser, "Tokens")
    type_into(browser, "Scorer", "tiny-llama")  # the default SmolLM2 works too, but takes minutes on a small CPU
    click(browser, "Mine")
    wait(browser, lambda d: int(metric(d, "Candidates") or 0) > 0, what="mined candidates")
    found = metric(browser, "Candidates")
    click(browser, f"Accept the {found} shown")
    wait(browser, lambda d: metric(d, "Accepted") == found, what="the accepted candidates")
    wait(browser, has_text("after"), what="the before/after tokenization")
    no_traceback(browser)
    shot(browser, "tokens-vetted")

    go(browser, "Sensitivity")
    click(browser, "Measure sensitivity")
    wait(browser, lambda d: metric(d, "Trainable parameters"), what="the budget panel")
    before = metric(browser, "Trainable parameters")
    from selenium.webdriver.common.keys import Keys

    slider = browser.find_element("css selector", 'input[aria-label="Top-k % of parameters"]')
    for _ in range(10):  # 10 % → 15 %
        slider.send_keys(Keys.ARROW_RIGHT)
    settle(browser)
    wait(browser, lambda d: metric(d, "Trainable parameters") != before, what="the budget to follow top-k %")
    no_traceback(browser)
    shot(browser, "sensitivity-measured")


def test_a_tiny_run_trains_live_and_completes(browser, server):
    choose(browser, "Model", "tiny-bert")
    go(browser, "Train")
    open_expander(browser, "Training hyperparameters")
    type_into(browser, "Max steps", "400")
    type_into(browser, "Batch size", "8")
    type_into(browser, "Lr", "0.002")  # a random tiny model needs a large step to visibly learn
    click(browser, "Launch")
    wait(browser, has_text("adapt s0"), what="the launched run in the list")
    last_steps = [0]

    def gained(driver) -> bool:
        step = driver.execute_script(LOSS_POINTS) or 0
        if step > last_steps[-1]:
            last_steps.append(step)
        return len(last_steps) >= 3  # the chart gained points at least twice

    wait(browser, gained, what=f"the loss chart to grow (last steps drawn so far: {last_steps})")
    shot(browser, "train-live")
    first = browser.current_window_handle  # a new tab (a new session) finds the run again, from its folder
    browser.switch_to.new_window("tab")
    browser.get(f"{server['url']}/train")
    wait(browser, has_text("adapt s0"), what="the run in a new tab")
    no_traceback(browser)
    browser.close()
    browser.switch_to.window(first)
    wait(browser, has_text("completed: step 400/400"), what="the run to complete")
    no_traceback(browser)
    go(browser, "Compare")
    no_traceback(browser)
    shot(browser, "compare-with-run")
    go(browser, "Playground")
    wait(browser, has_text("Prediction"), what="a prediction")
    no_traceback(browser)
    shot(browser, "playground-with-run")


def test_cancel_a_running_run(browser):
    go(browser, "Train")
    open_expander(browser, "Training hyperparameters")
    type_into(browser, "Max steps", "1000000")  # never ends by itself, even on a fast machine; the fixture stops it
    click(browser, "Launch")
    wait(browser, has_text("running: step"), what="the run to start training")
    click(browser, "Cancel")
    wait(browser, has_text("cancelled"), what="the run to be cancelled")
    no_traceback(browser)
    shot(browser, "train-cancelled")


def test_a_malformed_upload_shows_what_to_fix(browser, tmp_path):
    broken = tmp_path / "broken.csv"
    broken.write_text('text,label\n"an open quote,1\nx,2,3,4\n')
    go(browser, "Data")
    next(t for t in browser.find_elements("css selector", '[role="tab"]') if "Upload" in t.text).click()
    browser.find_element("css selector", 'input[type="file"]').send_keys(str(broken))
    alert = wait(
        browser,
        lambda d: [e for e in d.find_elements("css selector", '[data-testid="stAlert"]') if "broken.csv" in e.text],
        what="the upload's error message",
    )[0]
    assert "could not be read" in alert.text or "broken.csv" in alert.text
    no_traceback(browser)
    shot(browser, "data-malformed-upload")


def test_a_reload_keeps_the_train_form_and_a_run_shows_its_phases(browser):
    """A reload (a new session, same address) keeps method, steps, epochs, lr and seeds, and the page says how many
    steps they mean before Launch; a launched run then shows its phase timeline while it trains."""
    wait(browser, lambda d: d.find_elements("css selector", 'input[aria-label="Model"]'), what="the sidebar")
    settle(browser)
    choose(browser, "Model", "tiny-bert")
    go(browser, "Train")
    choose(browser, "Method", "lora")
    open_expander(browser, "Training hyperparameters")
    type_into(browser, "Max steps", "25")
    type_into(browser, "Epochs", "1")
    type_into(browser, "Lr", "0.003")
    type_into(browser, "Seeds (one run each: 0, 1, …)", "2")
    wait(browser, lambda d: "train.max_steps=25" in d.current_url, what="the form in the address")
    browser.refresh()
    wait(browser, has_text("Launch (25 steps × 2 seeds)"), what="the reloaded form's steps on the Launch button")
    open_expander(browser, "Training hyperparameters")
    for label, value in (("Max steps", "25"), ("Epochs", "1"), ("Lr", "0.003"), ("Seeds (one run each: 0, 1, …)", "2")):
        field = browser.find_element("css selector", f'input[aria-label="{label}"]')
        assert field.get_attribute("value") == value, label
    boxes = [b.text for b in browser.find_elements("css selector", '[data-testid="stSelectbox"]')]
    assert "Lora targets" in boxes, boxes  # LoRA's own form: the method came back too
    assert "25 steps (Max steps)" in text(browser)
    no_traceback(browser)
    shot(browser, "train-form-after-reload")

    choose(browser, "Model", "tiny-bert")  # the sidebar is not part of the Train form: a reload resets it
    choose(browser, "Method", "adapt")
    open_expander(browser, "Training hyperparameters")
    type_into(browser, "Max steps", "1000000")  # it trains until cancelled, so the screenshot catches it running
    type_into(browser, "Seeds (one run each: 0, 1, …)", "1")
    click(browser, "Launch")
    wait(browser, has_text("running: step"), what="the run to reach its train phase")
    wait(browser, has_text("→ training"), what="the phase timeline")  # load 2 s → mine 0 s → … → training
    no_traceback(browser)
    shot(browser, "train-run-phases")
    click(browser, "Cancel")
    wait(browser, has_text("cancelled"), what="the run to be cancelled")


PLOT_TYPE = (  # the first trace type of the plot whose title contains arguments[0] (null while there is none)
    "const plot = [...document.querySelectorAll('.js-plotly-plot')]"
    ".find(p => ((p.querySelector('.gtitle') || {}).textContent || '').includes(arguments[0]));"
    "return plot && plot._fullData && plot._fullData.length ? plot._fullData[0].type : null;"
)


def scroll_to(driver, heading: str) -> None:
    driver.execute_script(
        "for (const h of document.querySelectorAll('h2, h3'))"
        " if (h.textContent.includes(arguments[0])) { h.scrollIntoView({block: 'start'}); break; }",
        heading,
    )
    time.sleep(1)


def test_the_confusion_matrix_of_a_finished_run_is_visible(browser, server):
    """Two finished runs (hand-made folders, the newest in the list) on the Analysis page: the confusion heatmap, the
    per-class table and the highlighted mistakes show; then the budget frontier on Compare, over the grid's results."""
    from helpers_runs import write_run

    names = ["card", "transfer", "refund"]
    texts = [f"please top up my {w} now" if i % 2 else f"where is my {w}" for i, w in enumerate(names * 6)]
    truth = [0, 1, 2] * 6
    costs = {"trainable_params": 12000, "step_seconds": 0.05}
    for name, predicted, method, settings in (
        ("a", [0, 1, 2] * 4 + [1, 1, 0] * 2, "adapt", {"top_k": 5.0}),
        ("b", [0, 1, 0] * 6, "lora", {"lora_r": 8}),
    ):
        write_run(
            server["runs"],
            f"29990101-00000{name == 'a':d}-analysis-{name}",
            texts,
            truth,
            predicted,
            names,
            method=method,
            settings=settings,
            tokens=("top up",),
            costs=costs,
        )
    go(browser, "Analysis")
    wait(browser, lambda d: d.execute_script(PLOT_TYPE, "Confusion matrix") == "heatmap", what="the confusion matrix")
    wait(browser, has_text("Misclassified examples"), what="the misclassified examples")
    assert browser.find_elements("css selector", "mark.new-token"), "the new tokens are not highlighted"
    no_traceback(browser)
    shot(browser, "analysis")
    scroll_to(browser, "Misclassified examples")
    shot(browser, "analysis-mistakes-and-flips")
    choose(browser, "Model", "minilm-l6")  # earlier tests of the file leave tiny-bert in the sidebar
    go(browser, "Compare")  # the frontier opens on the sidebar's dataset and model: banking77 · minilm-l6, measured
    scroll_to(browser, "Budget frontier")
    wait(browser, lambda d: d.execute_script(PLOT_TYPE, "By trainable parameters") == "scatter", what="frontier")
    picker = browser.find_element("css selector", 'input[aria-label="Dataset · model"]')
    shown = (picker.get_property("value"), picker.get_attribute("placeholder"))
    assert "banking77 · minilm-l6" in shown, shown
    no_traceback(browser)
    shot(browser, "compare-frontier")
    choose(browser, "Model", "tiny-bert")  # as the earlier tests left it, for the tests that follow


CLICK = FIND_BUTTON.replace("return b;", "{ b.scrollIntoView({block: 'center'}); b.click(); return true; }")


def timed_click(driver, label: str, done, what: str) -> float:
    """Seconds from clicking the button `label` until `done(driver)` holds: what a user waits for."""
    settle(driver, timeout=15)
    start = time.perf_counter()
    assert driver.execute_script(CLICK, label), f"no enabled button {label!r}"
    wait(driver, done, timeout=60, what=what)
    return time.perf_counter() - start


def test_vetting_reads_candidates_in_context_and_a_click_settles_fast(browser):
    """The Tokens page on the small slice: the candidate table is ranked by task-specificity, the top candidate
    reads in context (aligned lines per class with counts), another one picked in the box shows its own lines; a
    bulk decision and its undo update the counts within a few seconds (the decision area reruns alone)."""
    wait(browser, lambda d: d.find_elements("css selector", '[data-testid="stSidebarNavLink"]'), what="the sidebar")
    go(browser, "Data")  # from whatever page an earlier test left open
    type_into(browser, "Max train", "200")  # the slice of the first test, when this one runs alone
    go(browser, "Tokens")
    if metric(browser, "Candidates") is None:
        type_into(browser, "Scorer", "tiny-llama")
        click(browser, "Mine")
    wait(browser, lambda d: int(metric(d, "Candidates") or 0) > 0, what="mined candidates")
    wait(browser, has_text(" is in "), what="the candidate in context")
    code = wait(browser, lambda d: d.find_elements("css selector", '[data-testid="stCode"]'), what="KWIC lines")
    assert code[0].text.strip(), "no context lines"
    assert re.search(r"· \d+ texts?, \d+ occurrences?", text(browser)), "no counts per class"
    choose(browser, "Read a candidate in context", "card")  # the box filters as one types: the first match
    wait(browser, lambda d: re.search(r"card.*” is in \d+ training text", text(d)), what="a picked candidate")
    no_traceback(browser)
    shot(browser, "tokens-kwic")
    before = {name: metric(browser, name) for name in ("Accepted", "Pending", "Rejected")}
    # earlier tests of the file may leave a filter or decisions: reject whatever is shown, then undo it
    seconds = timed_click(
        browser, "Reject the ", lambda d: metric(d, "Rejected") not in (None, before["Rejected"]), "the rejected count"
    )
    undo = timed_click(browser, "Undo", lambda d: metric(d, "Rejected") == before["Rejected"], "the undone count")
    assert {name: metric(browser, name) for name in before} == before
    no_traceback(browser)
    load = os.getloadavg()[0]
    (ARTIFACTS / "vetting-click-seconds.txt").write_text(
        f"reject all shown: {seconds:.2f} s\nundo: {undo:.2f} s\nload average: {load:.1f} on {os.cpu_count()} CPUs\n"
    )
    # The target is 1 s with a training run beside; on a machine loaded far beyond its cores (as the shared test
    # machines are) every step is slower, so the bound here only catches a click that reruns far more than it should.
    assert max(seconds, undo) < 15, f"a vetting click took {seconds:.1f} s, its undo {undo:.1f} s (load {load:.1f})"


DEV_AXIS = (  # [y range, trace names] of the plot titled "Dev macro-F1" as the browser drew it (null while none)
    "const plot = [...document.querySelectorAll('.js-plotly-plot')]"
    ".find(p => ((p.querySelector('.gtitle') || {}).textContent || '').includes('Dev macro-F1'));"
    "if (!plot || !plot._fullLayout || !plot._fullData.length) return null;"
    "return [plot._fullLayout.yaxis.range, plot._fullData.map(t => t.name)];"
)


def test_the_dev_f1_axis_spans_zero_to_one_for_a_flat_score(browser, server):
    """A stand-in finished run whose dev macro-F1 stays at chance (0.002105–0.002115) is drawn on the whole 0–1
    scale, so it looks flat; a newer failed run is not charted until picked."""
    from adapt_core.run_writer import RunWriter

    for name, state in (("20991231-235958-adapt-f1ax", "completed"), ("20991231-235959-adapt-fail", "failed")):
        writer = RunWriter(server["runs"] / name)
        writer.write_config({"dataset": "banking77", "model": "tiny-bert", "method": "adapt", "train": {"seed": 0}})
        for step, score in enumerate((0.002105, 0.00211, 0.002115), start=1):
            writer.log({"step": 10 * step, "loss": 4.35 - 0.01 * step, "dev_macro_f1": score})
        writer.write_report({"test": {"macro_f1": 0.0021, "accuracy": 0.013}} if state == "completed" else {})
        writer.set_status(state, step=30, total=30)
    go(browser, "Train")
    drawn = wait(browser, lambda d: d.execute_script(DEV_AXIS), what="the dev macro-F1 chart")
    (low, high), names = drawn
    assert low <= 0 and high >= 1, f"dev macro-F1 axis {low}…{high} does not span 0–1"
    assert any(n.endswith("f1ax") for n in names) and not any(n.endswith("fail") for n in names), names
    no_traceback(browser)
    shot(browser, "train-f1-axis")
    go(browser, "Compare")
    no_traceback(browser)
    shot(browser, "compare-stand-in")


# ---- Runs page and demo mode (issue 12 items 8 and 9). The demo runs on a tiny slice with tiny-bert and the tiny
# random scorer (set here, before the module's server starts, through the demo's documented $ADAPT_DEMO): the
# MiniLM demo's ≤ 3 minutes are measured by benchmarks/demo_time.py.
os.environ["ADAPT_DEMO"] = (
    '{"model": "tiny-bert", "scorer": "tiny-llama", "max_train": 300, "max_eval": 40, "max_steps": 6, '
    '"eval_every": 3, "batch_size": 8, "top_k": 20.0}'
)


def selected(driver, label: str) -> str | None:
    """The option the selectbox called `label` shows (its input's value; None while there is no such box)."""
    boxes = driver.find_elements("css selector", f'[data-testid="stSelectbox"] input[aria-label="{label}"]')
    return boxes[0].get_property("value") if boxes else None


def test_delete_a_run_and_restore_it(browser, server):
    """The hand-made run, picked in the Run box, goes to the trash (and nothing else does), then comes back. Earlier
    tests of the file leave runs behind, some newer than this one (the analysis runs), so it is picked by name rather
    than trusted to be the first in the list."""
    from test_run_management import make_run

    from adapt_core.run_management import list_trash
    from adapt_core.run_reader import list_runs

    root = Path(server["runs"])
    run_id = make_run(root, "29990101-000000-full-handmade").name
    others = sorted(r.id for r in list_runs(root) if r.id != run_id)
    trashed = sorted(r.id for r in list_trash(root))
    go(browser, "Runs")
    wait(browser, has_text("Delete (to the trash)"), what="a run to manage")
    if selected(browser, "Run") != run_id:
        choose(browser, "Run", run_id)
        browser.execute_script("document.activeElement && document.activeElement.blur();")  # shows the choice
    wait(  # the box shows it, and the script ran with it (its labels form is keyed by the run id)
        browser,
        lambda d: selected(d, "Run") == run_id and d.find_elements("css selector", f".st-key-tags_{run_id}"),
        what=f"{run_id} picked in the Run box",
    )
    click(browser, "Delete (to the trash)")
    wait(browser, has_text(f"{run_id} ·"), what="the run in the trash")
    assert not (root / run_id).exists() and (root / ".trash" / run_id).is_dir()
    assert sorted(r.id for r in list_runs(root)) == others, "a run other than the picked one left the list"
    assert sorted(r.id for r in list_trash(root)) == sorted([*trashed, run_id])
    no_traceback(browser)
    shot(browser, "runs-trash")
    settle(browser, timeout=15)
    assert browser.execute_script(  # its own Restore button (the button's key is restore_<run id>)
        "const b = document.querySelector(arguments[0]); if (!b) return false;"
        "b.scrollIntoView({block: 'center'}); b.click(); return true;",
        f".st-key-restore_{run_id} button",
    ), f"no Restore button for {run_id}"
    wait(browser, lambda d: (root / run_id).is_dir() and f"{run_id} ·" not in text(d), what="the run restored")
    settle(browser)
    assert sorted(r.id for r in list_trash(root)) == trashed
    assert sorted(r.id for r in list_runs(root)) == sorted([*others, run_id])
    if not trashed:
        wait(browser, has_text("The trash is empty."), what="the empty trash")
    no_traceback(browser)
    shot(browser, "runs")


def test_demo_mode_to_completion(browser, server):
    wait(browser, lambda d: d.find_elements("css selector", '[data-testid="stSidebarNavLink"]'), what="the sidebar")
    go(browser, "Home")
    click(browser, "Run the demo")
    wait(browser, has_text("Demo finished"), timeout=600, what="the demo to finish")
    for what in ("Mine frequent word sequences", "accepted:", "modules selected", "test macro-F1"):
        assert what in text(browser), what
    no_traceback(browser)
    shot(browser, "demo-finished")
    go(browser, "Runs")
    from adapt_core.run_management import with_tag
    from adapt_core.run_reader import list_runs

    demo_runs = with_tag(list_runs(Path(server["runs"])), "demo")
    assert sorted(r.config["method"] for r in demo_runs) == ["adapt", "full"]
    choose(browser, "Show runs tagged", "demo")  # the table is a canvas (no text to read): the panel below says
    wait(browser, has_text("loads with plain transformers"), what="a demo run selected on the Runs page")
    no_traceback(browser)
    shot(browser, "runs-after-demo")
