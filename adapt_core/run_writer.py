"""Writing a run folder: where runs live, a fresh folder's name, claiming a folder for one writer, and RunWriter.

A run folder holds
    config.json     what was asked for (RunConfig.to_dict())
    status.json     state (queued | running | completed | failed | cancelled | interrupted), step, total, ETA,
                    pid and pid_start (the process's identity: a reused pid does not match), error; the current
                    phase (PHASES) with its progress, and `phases`, the timeline of every phase's start and end
    metrics.jsonl   one JSON object per logged step (at least step and loss; eval lines carry dev_* metrics)
    report.json     per split accuracy / macro_f1 / micro_f1, and the costs (seconds, parameters, memory)
    model/          a Hugging Face folder (safetensors only) with its tokenizer
    .lock           held (fcntl) by the process writing the run, so a second writer is refused
JSON files are replaced by rename (adapt_core.fileio), so a reader never sees half a file; metrics lines are appended
and flushed. Run ids are generated here, never taken from user text, so a run name can never become a path.

Reading a run back (and what a damaged one reads as) is run_reader.py; the states, phases and liveness a status
records are run_status.py. What a user does to run folders (trash and restore, tags and notes, export) is
run_management.py, built on these; nothing here depends on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_json, exclusive_lock, jsonable, read_json
from adapt_core.run_status import PHASES, STATES, process_start


def runs_root() -> Path:
    """Where runs live: `$ADAPT_RUNS_DIR`, else `runs/` in the working directory."""
    return Path(os.environ.get("ADAPT_RUNS_DIR", "runs"))


def new_run_dir(root: Path | None = None, label: str = "run") -> Path:
    """A fresh, unique folder name: date-time, a safe label, a random suffix."""
    safe = "".join(c if c.isalnum() or c in "+-" else "-" for c in label)[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return (root or runs_root()) / f"{stamp}-{safe}-{secrets.token_hex(2)}"


# ----------------------------------------------------------------------------------------------------- claiming

LOCK_NAME = ".lock"  # held (fcntl) by the process that writes the run, for as long as it runs
RUN_MARKERS = ("config.json", "status.json")


def check_run_dir(run_dir: Path | str, overwrite: bool = False) -> None:
    """Refuse a folder this run may not write into, without touching it: it must be new, empty, a run prepared for
    this process (the studio's launcher makes those), or, with `overwrite`, an earlier run (cleared when claimed). A
    folder that holds anything but a run is never written into."""
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise AdaptError(f"--run-dir {run_dir} is a file: choose a new or empty folder")
    entries = [e.name for e in run_dir.iterdir() if e.name != LOCK_NAME] if run_dir.is_dir() else []
    if not entries:
        return
    if not any(name in entries for name in RUN_MARKERS):
        raise AdaptError(
            f"--run-dir {run_dir} is not empty and is not a run folder ({', '.join(sorted(entries)[:3])}…): "
            "nothing is written there; choose a new or empty folder"
        )
    if _prepared_for_me(run_dir) or overwrite:
        return
    raise AdaptError(
        f"--run-dir {run_dir} already holds a run: choose a new folder, or pass --overwrite to replace that run"
    )


@contextlib.contextmanager
def claim_run_dir(run_dir: Path | str, overwrite: bool = False) -> Iterator[Path]:
    """Hold `run_dir` for one writer: check it, create it, take its lock (a second writer is refused), and with
    `overwrite` clear an earlier run from it. The lock is released when the block ends (or the process dies)."""
    run_dir = Path(run_dir)
    check_run_dir(run_dir, overwrite)
    run_dir.mkdir(parents=True, exist_ok=True)
    busy = f"run folder {run_dir} is being written by another process: wait for it to end, or choose another --run-dir"
    with exclusive_lock(run_dir / LOCK_NAME, wait=False, message=busy):
        check_run_dir(run_dir, overwrite)  # again, now that no one else can change it
        if overwrite and not _prepared_for_me(run_dir):
            _clear(run_dir)
        yield run_dir


def _prepared_for_me(run_dir: Path) -> bool:
    """A run the studio's launcher prepared for this process: queued, or already marked running with our pid (the
    launcher records the child's pid as soon as it starts it)."""
    status = read_json(run_dir / "status.json")
    return status.get("state") == "queued" or status.get("pid") == os.getpid()


def _clear(run_dir: Path) -> None:
    """Remove an earlier run's files (the lock file stays: it is held)."""
    for entry in run_dir.iterdir():
        if entry.name == LOCK_NAME:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


class RunWriter:
    """Writes one run folder. `enabled=False` (non-main ranks under accelerate) makes every write a no-op."""

    def __init__(self, run_dir: Path, enabled: bool = True, clock=time.time):
        self.dir = Path(run_dir)
        self.model_dir = self.dir / "model"
        self.enabled = enabled
        self.clock = clock  # a test passes a fake one: the ETA arithmetic is checked without waiting
        self.started = clock()
        self._train_started: float | None = None
        self._eval_seconds = 0.0  # dev evaluations inside the train phase: kept out of the per-step time
        self._eval_from: float | None = None
        self._status: dict = {}
        if enabled:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._status = read_json(self.dir / "status.json")

    def write_config(self, config: dict) -> None:
        if self.enabled:
            atomic_write_json(self.dir / "config.json", config)

    def set_status(self, state: str, **fields) -> None:
        if not self.enabled:
            return
        assert state in STATES, state
        # the writing process is the default pid; a caller (the launcher, for a child) may name another
        me = {"pid": os.getpid(), "pid_start": process_start(os.getpid())}
        self._status.update({**me, **fields, "state": state, "updated": time.time()})
        self._status.setdefault("started", self.started)
        atomic_write_json(self.dir / "status.json", self._status)

    def phase(self, name: str, done: int | None = None, total: int | None = None) -> None:
        """Enter phase `name` (one of PHASES), or report progress within it (`done` of `total`; None = not counted).
        Entering records its start time and closes the previous phase in the `phases` timeline."""
        assert name in PHASES, name
        now, fields = self.clock(), {}
        if self._status.get("phase") != name:
            timeline = [dict(p) for p in self._status.get("phases", [])]
            if timeline:
                timeline[-1]["ended"] = now
            timeline.append({"name": name, "started": now})
            fields = {"phase": name, "phase_started": now, "phases": timeline}
            if name == "train":
                self._train_started = now
        self.set_status("running", phase_done=done, phase_total=total, **fields)

    def eval_progress(self, done: int, total: int) -> None:
        """A dev evaluation inside the train phase: its batches done of total (status `eval_done` / `eval_total`,
        cleared when it ends); its time is not training time, so the ETA leaves it out."""
        now = self.clock()
        if self._eval_from is None:
            self._eval_from = now
        finished = done >= total
        if finished:
            self._eval_seconds += now - self._eval_from
            self._eval_from = None
        self.set_status("running", eval_done=None if finished else done, eval_total=None if finished else total)

    def progress(self, step: int, total: int) -> None:
        """Running status of the train phase, with an ETA from the mean time of the training steps so far: setup
        (loading, tokens, sensitivity) and dev evaluations are not step time."""
        now = self.clock()
        stepping = now - (self._train_started or self.started) - self._eval_seconds
        eta = max(stepping, 0.0) / step * (total - step) if step else None
        elapsed = now - self.started
        self.set_status(
            "running", step=step, total=total, eta_seconds=eta, elapsed=elapsed, phase_done=step, phase_total=total
        )

    def log(self, record: dict) -> None:
        """Append one metrics line and flush it to disk (a crash keeps every line written so far)."""
        if not self.enabled:
            return
        with open(self.dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record, default=jsonable) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write_report(self, report: dict) -> None:
        if self.enabled:
            atomic_write_json(self.dir / "report.json", report)
