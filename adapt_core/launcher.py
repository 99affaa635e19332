"""Background training for the studio: start `python -m adapt_core train` as a child process, queue, cancel.

The studio never trains in its own process (DESIGN §2). `launch(config)` writes a run folder with config.json and
status "queued", and `queue_tick()` starts the oldest queued run when none is running: at most one run trains at a
time, the next starts when the previous one ends. The Train page calls `queue_tick` from its polling fragment, so
the queue moves while a browser tab is open; everything it decides is read from the run folders, never from a
session, so a run is found again after a rerun, a reload, a new tab or a restart of the app.

The child is started with `start_new_session=True`: it outlives the app's script runs (and the app), Ctrl-C on the
app does not reach it, and `cancel` signals its whole process group with SIGTERM, which the pipeline records as
`cancelled` with its metrics so far. Children started here are reaped by `queue_tick`; one that died without
writing its state is marked `interrupted` when it was killed (SIGKILL) and `failed` with the tail of its log when it
crashed before the pipeline started.
A lock file makes concurrent ticks from several tabs start a run once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_json, exclusive_lock, read_json
from adapt_core.run_reader import UNREADABLE, RunInfo, list_runs, load_run
from adapt_core.run_status import eval_text, phase_text, process_start
from adapt_core.run_writer import new_run_dir, runs_root

LOG_NAME = "train.log"
TERMINAL = ("completed", "failed", "cancelled", "interrupted")
_CHILDREN: dict[str, subprocess.Popen] = {}  # run folder → child started by this process, until reaped


def _root(root: Path | str | None) -> Path:
    return Path(root or runs_root()).resolve()


def _update_status(run_dir: Path, **fields) -> None:
    status = read_json(run_dir / "status.json")
    status.update(updated=time.time(), **fields)
    atomic_write_json(run_dir / "status.json", status)


@contextlib.contextmanager
def _locked(root: Path):
    """An exclusive lock on the queue of `root` (a no-op where fcntl is missing)."""
    with exclusive_lock(root / ".studio" / "queue.lock"):
        yield


def launch(config, root: Path | str | None = None, label: str | None = None, start: bool = True) -> Path:
    """Write a queued run folder for `config` (a RunConfig) and start it if nothing else is running.

    A vetted token file named by `config.tokens` and a sensitivity report named by `config.sensitivity` are copied
    into the run folder, so later vetting or measuring does not change what this run used. Returns the run folder.
    """
    from dataclasses import replace

    from adapt_core.run_request import check_run_request

    if config.tokens and not Path(config.tokens).is_file():
        raise AdaptError(f"the vetted token file {config.tokens} is missing: vet tokens on the Tokens page first")
    check_run_request(config)  # the checks the CLI makes, before a folder exists
    root = _root(root)
    run_dir = new_run_dir(root, label=label or f"{config.method}-{Path(config.dataset).stem}").resolve()
    run_dir.mkdir(parents=True)
    if config.tokens:
        source = Path(config.tokens)
        copy = run_dir / f"vetted{source.suffix}"  # not tokens.json: that is what the run writes (what it used)
        shutil.copyfile(source, copy)
        config = replace(config, tokens=str(copy))
    if config.sensitivity:  # the measurement the user saw travels with the run, which then does not measure again
        source = Path(config.sensitivity)
        copy = run_dir / "sensitivity.json"
        shutil.copyfile(source, copy)
        config = replace(config, sensitivity=str(copy))
    atomic_write_json(run_dir / "config.json", config.to_dict())
    atomic_write_json(run_dir / "status.json", {"state": "queued", "step": 0, "total": None, "queued": time.time()})
    if start:
        queue_tick(root)
    return run_dir


def _command(run_dir: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "adapt_core",
        "train",
        "--config",
        str(run_dir / "config.json"),
        "--run-dir",
        str(run_dir),
        "--quiet",
    ]


CHILD_NICENESS = 10  # how much lower than the app's the training child's CPU priority is


def _lower_priority(pid: int) -> None:
    """Give the training child a lower CPU priority than the app, so clicks and slider moves stay fast while it
    trains on the same cores (it still takes every idle cycle: alone, it trains as fast). Set right after the
    start, before the child imports torch and starts its threads, which inherit it. POSIX only; a failure (e.g.
    a child already gone) only costs responsiveness."""
    if hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, 0) + CHILD_NICENESS)


def _start(run_dir: Path, threads: int | None = None) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if threads:  # runs side by side: one core each, not both fighting for every core
        env["OMP_NUM_THREADS"] = str(threads)
    with open(run_dir / LOG_NAME, "ab") as log:
        proc = subprocess.Popen(
            _command(run_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    _CHILDREN[str(run_dir)] = proc
    _lower_priority(proc.pid)
    if read_json(run_dir / "status.json").get("state") == "queued":  # the child may already have written its own
        _update_status(run_dir, state="running", pid=proc.pid, pid_start=process_start(proc.pid), started=time.time())
    return proc


def _log_tail(run_dir: Path, lines: int = 5) -> str:
    try:
        text = (run_dir / LOG_NAME).read_text(errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def _reap() -> None:
    """Collect finished children; record a state for those that died without writing one."""
    for key, proc in list(_CHILDREN.items()):
        code = proc.poll()
        if code is None:
            continue
        del _CHILDREN[key]
        run_dir = Path(key)
        state = read_json(run_dir / "status.json").get("state")
        if state in TERMINAL:
            continue
        if code in (130, -signal.SIGTERM, -signal.SIGINT):
            _update_status(run_dir, state="cancelled")
        elif code == -signal.SIGKILL:  # killed without a word (out of memory, kill -9): as a listing would find it
            _update_status(run_dir, state="interrupted")
        else:
            tail = _log_tail(run_dir)
            _update_status(
                run_dir,
                state="failed",
                error=f"the training process exited with code {code}" + (f": {tail}" if tail else ""),
            )


def running(root: Path | str | None = None) -> list[RunInfo]:
    """Runs that are training now (their process is alive)."""
    return [r for r in list_runs(_root(root)) if r.state == "running"]


def queued(root: Path | str | None = None) -> list[RunInfo]:
    """Runs waiting for their turn, oldest first."""
    waiting = [r for r in list_runs(_root(root)) if r.state == "queued"]
    return sorted(waiting, key=lambda r: (r.status.get("queued", 0.0), r.id))


def queue_tick(root: Path | str | None = None) -> Path | None:
    """Reap finished children; start the oldest queued run if none is running. Returns the run started, if any."""
    root = _root(root)
    with _locked(root):
        _reap()
        if running(root):
            return None
        waiting = queued(root)
        if not waiting:
            return None
        _start(waiting[0].dir)
        return waiting[0].dir


def start_now(run_dir: Path | str, threads: int = 1) -> None:
    """Start a queued run at once, beside whatever runs (the demo trains its two runs side by side, one core each);
    a run that is no longer queued is left alone."""
    run_dir = Path(run_dir).resolve()
    with _locked(run_dir.parent):
        _reap()
        if load_run(run_dir).state == "queued":
            _start(run_dir, threads)


def cancel(run_dir: Path | str) -> str:
    """Cancel a run: a queued run becomes `cancelled` at once; a running one gets SIGTERM (its process group) and
    records `cancelled` itself. Returns the state after the call ("cancelling" while the child winds down).

    A run reads `running` only while its recorded process (pid and start time) lives, so a pid that the system gave
    to another process since is never signalled."""
    run_dir = Path(run_dir).resolve()
    with _locked(run_dir.parent):
        info = load_run(run_dir)
        if info.state == "queued":
            _update_status(run_dir, state="cancelled")
            return "cancelled"
        if info.state != "running":
            return info.state
        # recorded first: a child that dies of the signal before it can write `cancelled` still reads cancelled
        _update_status(run_dir, cancel_requested=time.time())
        _terminate(int(info.status["pid"]))
        return "cancelling"


def _terminate(pid: int) -> None:
    try:
        if os.getpgid(pid) == pid:  # a session leader (started here): signal its whole group
            os.killpg(pid, signal.SIGTERM)
        else:  # started from a shell: signal the process alone
            os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass


def describe(info: RunInfo) -> str:
    """One line for a run's progress: state, step / total, percent and ETA."""
    status, state = info.status, info.state
    step, total = status.get("step") or 0, status.get("total")
    if state == "queued":
        return "queued: waiting for the running run to finish"
    if state == UNREADABLE:
        return f"{UNREADABLE}: {info.problem}"
    if state == "interrupted":
        seen = status.get("updated")
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(seen)) if isinstance(seen, int | float) else "?"
        return f"interrupted at step {step}/{total or '?'}: its process is gone (last seen {when})"
    phase = phase_text(status) if state == "running" else None
    if phase and status.get("phase") != "train":
        return f"running: {phase}"  # setup and final evaluation: their own progress, no step ETA
    if state == "running" and not total:
        return "running: loading data and model…"
    text = f"{state}: step {step}/{total or '?'}"
    if total:
        text += f" ({100 * step / total:.0f} %)"
    eta = status.get("eta_seconds")
    if state == "running" and eta is not None:
        text += f", ETA {_clock(eta)}"
    evaluating = eval_text(status) if state == "running" else None
    if evaluating:
        text += f" · {evaluating}"  # a dev evaluation between steps: the step count stands still meanwhile
    if state == "failed" and status.get("error"):
        text += f": {status['error']}"
    return text


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
