"""A headless Chromium driving `streamlit run app.py`: the server, the browser, and timing what a user waits for.

Shared by the responsiveness benchmark (benchmarks/responsiveness.py) and the end-to-end browser tests
(tests/test_browser.py), so that both start the studio and the browser the same way. What is measured is "settled":
the expected element has changed *and* Streamlit has finished (the app's script state is `notRunning`, no element is
marked stale). The timing clock runs inside the page (`WATCH`: performance.now(), a look every 10 ms in the page
itself), so the harness adds next to no work while the page updates; a WebDriver round trip per look would itself
load a small machine's cores.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WAIT = 900  # seconds for one-off waits (a page on a busy 2-core CPU)

# ----------------------------------------------------------------------------------------------------- page scripts
# JavaScript function bodies run through `driver.execute_script`; each reads or acts on Streamlit's DOM.

SETTLED = """
const app = document.querySelector('[data-testid="stApp"]');
const idle = !!app && app.getAttribute('data-test-script-state') === 'notRunning'
  && !document.querySelector('[data-stale="true"]');
return [idle, (() => { %s })()];
"""
METRIC = """
for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
  const lines = m.innerText.split('\\n').map(line => line.trim()).filter(Boolean);
  if (lines.length > 1 && lines[0] === arguments[0]) return lines[1];
}
return null;
"""
TITLE = "const h = document.querySelector('h1'); return h ? h.innerText.trim() : null;"
CLICK_BUTTON = """
for (const b of document.querySelectorAll('button')) {
  if (!b.disabled && b.innerText.trim().startsWith(arguments[0])) { b.click(); return true; }
}
return false;
"""
CLICK_LINK = """
for (const a of document.querySelectorAll('[data-testid="stSidebarNavLink"]')) {
  const lines = a.innerText.trim().split('\\n');
  if (lines[lines.length - 1].trim() === arguments[0]) { a.click(); return true; }
}
return false;
"""
SLIDER_THUMB = """
for (const s of document.querySelectorAll('[data-testid="stSlider"]')) {
  const thumb = s.querySelector('input');  // the thumb's range input, labelled like the slider
  if (thumb && (thumb.getAttribute('aria-label') === arguments[0] || s.innerText.trim().startsWith(arguments[0])))
    return thumb;
}
return null;
"""
WATCH = """
const [body, args, old, target] = arguments;
const check = new Function(body);
window.__settledAfter = null;
const start = performance.now();
const tick = () => {
  const app = document.querySelector('[data-testid="stApp"]');
  const idle = !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector('[data-stale="true"]');
  let value = null;
  if (idle) { try { value = check.apply(null, args); } catch (e) {} }
  const done = target !== null ? value === target : value !== null && value !== old;
  if (idle && done) { window.__settledAfter = (performance.now() - start) / 1000; return; }
  setTimeout(tick, 10);
};
setTimeout(tick, 0);
"""

# ----------------------------------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(runs: Path):
    """`streamlit run app.py` on a free port, its runs under `runs`, its log in `runs`' parent (server.log); yields
    its URL and stops it afterwards, whatever happens."""
    port = free_port()
    env = {**os.environ, "ADAPT_RUNS_DIR": str(runs), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    args = ["--server.port", str(port), "--server.headless", "true", "--server.address", "127.0.0.1"]
    log_path = runs.parent / "server.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(ROOT / "app.py"),
                *args,
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: stopped with whatever it starts
            preexec_fn=_die_with_parent,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            wait_for_health(url, server, log_path)
            yield url
        finally:
            stop_group(server)


def wait_for_health(url: str, server: subprocess.Popen, log_path: Path) -> None:
    end = time.time() + 120
    while True:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=5).read() == b"ok":
                return
        except OSError:
            if time.time() > end or server.poll() is not None:
                raise RuntimeError(f"the studio did not start: {log_path.read_text()[-3000:]}") from None
            time.sleep(0.5)


def stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM to the process group, SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _die_with_parent() -> None:
    """In the server process: get SIGTERM when its parent dies, even if it is killed (Linux only)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# ----------------------------------------------------------------------------------------------------- browser


def chrome_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def available() -> bool:
    """Whether a Chromium and its chromedriver are installed."""
    return bool(chrome_path() and shutil.which("chromedriver"))


def chrome_version() -> str | None:
    chrome = chrome_path()
    if not chrome:
        return None
    return subprocess.run([chrome, "--version"], capture_output=True, text=True).stdout.strip() or None


@contextlib.contextmanager
def chromium(profile: Path, page_load_timeout: float = WAIT):
    """A headless Chromium (its profile in `profile`), quit afterwards; background chores off, so that it does
    only what the page asks."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chrome_path()
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1800",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(page_load_timeout)
    try:
        yield driver
    finally:
        driver.quit()


# ----------------------------------------------------------------------------------------------------- waiting, timing


def probe(driver, check: str, *args):
    """(idle, value): whether Streamlit has settled, and what `check` (a JS function body) sees now."""
    from selenium.common.exceptions import WebDriverException

    try:
        return tuple(driver.execute_script(SETTLED % check, *args))
    except WebDriverException:  # a page being replaced under the script
        return False, None


def wait_value(driver, check: str, *args, until=bool, timeout: float = WAIT, what: str = "the page", shot=None):
    """Wait, untimed, until Streamlit is idle and `until(value)`; returns the value. On a timeout, a screenshot goes
    to `shot` (a path) when given."""
    end = time.time() + timeout
    while time.time() < end:
        idle, value = probe(driver, check, *args)
        if idle and until(value):
            return value
        time.sleep(0.1)
    if shot is not None:
        driver.save_screenshot(str(shot))
    raise RuntimeError(f"timed out waiting for {what}")


def timed(driver, act, check: str, *args, old=None, target=None) -> float:
    """Seconds from just before `act()` to the first moment Streamlit is idle and `check` (a JS function body) sees
    a value other than `old` (or equal to `target`). Timed inside the page (`WATCH`), so the harness adds next to no
    work while the page updates: the driver only asks every 0.1 s whether that moment has come."""
    driver.execute_script(WATCH, check, list(args), old, target)
    if act() is False:  # a click script found nothing to click
        raise RuntimeError("nothing to act on: has the page changed? (see the selectors of the caller)")
    end = time.perf_counter() + 120
    while time.perf_counter() < end:
        settled = driver.execute_script("return window.__settledAfter;")
        if settled is not None:
            return float(settled)
        time.sleep(0.1)
    raise RuntimeError("the page never settled after the action")
