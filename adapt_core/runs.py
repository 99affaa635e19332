"""The run store: one folder per run, written atomically, listed and reloaded.

A run folder holds
    config.json     what was asked for (RunConfig.to_dict())
    status.json     state (queued | running | completed | failed | cancelled | interrupted), step, total, ETA,
                    pid and pid_start (the process's identity: a reused pid does not match), error; the current
                    phase (PHASES) with its progress, and `phases`, the timeline of every phase's start and end
    metrics.jsonl   one JSON object per logged step (at least step and loss; eval lines carry dev_* metrics)
    report.json     per split accuracy / macro_f1 / micro_f1, and the costs (seconds, parameters, memory)
    model/          a Hugging Face folder (safetensors only) with its tokenizer
    .lock           held (fcntl) by the process writing the run, so a second writer is refused
JSON files are replaced by rename, so a reader never sees half a file; metrics lines are appended and flushed.
Run ids are generated here, never taken from user text, so a run name can never become a path.

Reading never fails on one run's account: a damaged file (truncated, empty, wrong shape, a broken metrics line, a
completed model without weights) makes that run read as `unreadable` with `<file>: <reason>`, and the listing goes
on. A `running` run whose process is gone, or whose pid now belongs to another process, is recorded `interrupted`
by the next reader.

What a user does to run folders (trash and restore, tags and notes, export) is adapt_core/run_management.py,
built on this module; nothing here depends on it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_json, exclusive_lock, jsonable

STATES = ("queued", "running", "completed", "failed", "cancelled", "interrupted")
UNREADABLE = "unreadable"  # a run with a damaged file: never a recorded state, only how it reads
# The phases of a run, in order, with what the studio and the CLI call them (a run skips those its method lacks).
PHASES = {
    "load": "loading data and model",
    "mine": "mining candidate tokens",
    "score": "scoring candidates (PPLu)",
    "accept": "accepting tokens",
    "sensitivity": "measuring sensitivity",
    "train": "training",
    "evaluate": "evaluating on dev and test",
    "save": "saving the model",
}


def phase_text(status: dict, now: float | None = None) -> str | None:
    """The phase a status is in, as a line: its name and progress (done/total; the seconds it has run when it is not
    counted). None when no phase is recorded."""
    name = status.get("phase")
    if name not in PHASES:
        return None
    text = PHASES[name]
    done, total, started = status.get("phase_done"), status.get("phase_total"), status.get("phase_started")
    if isinstance(done, int) and isinstance(total, int) and total:
        text += f" {done}/{total}"
    elif isinstance(started, int | float):
        text += f" ({max((now or time.time()) - started, 0):.0f} s)"
    return text


def phase_timeline(status: dict, now: float | None = None) -> list[tuple[str, float, bool]]:
    """(phase, seconds it took or has taken so far, whether it is the current one) for each phase of the timeline."""
    timeline = [p for p in status.get("phases") or [] if isinstance(p, dict) and p.get("name") in PHASES]
    out = []
    for i, p in enumerate(timeline):
        current = i == len(timeline) - 1 and status.get("state") == "running"
        end = p.get("ended", (now or time.time()) if current else status.get("updated"))
        seconds = (
            end - p["started"] if isinstance(end, int | float) and isinstance(p.get("started"), int | float) else 0
        )
        out.append((p["name"], max(float(seconds), 0.0), current))
    return out


def eval_text(status: dict) -> str | None:
    """The dev evaluation running between training steps, with its batches; None when none runs."""
    done, total = status.get("eval_done"), status.get("eval_total")
    if isinstance(done, int) and isinstance(total, int) and total:
        return f"evaluating on dev {done}/{total} batches"
    return None


def runs_root() -> Path:
    """Where runs live: `$ADAPT_RUNS_DIR`, else `runs/` in the working directory."""
    return Path(os.environ.get("ADAPT_RUNS_DIR", "runs"))


def new_run_dir(root: Path | None = None, label: str = "run") -> Path:
    """A fresh, unique folder name: date-time, a safe label, a random suffix."""
    safe = "".join(c if c.isalnum() or c in "+-" else "-" for c in label)[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return (root or runs_root()) / f"{stamp}-{safe}-{secrets.token_hex(2)}"


def write_json(path: Path, payload: dict) -> None:
    """Atomic JSON write (adapt_core.fileio): a temporary file in the same folder, then rename over the target."""
    atomic_write_json(path, payload)


def read_json(path: Path) -> dict:
    """A JSON object from `path`; {} when it is missing or damaged (for writers that replace it anyway)."""
    try:
        return read_object(path)
    except (FileNotFoundError, Unreadable):
        return {}


class Unreadable(AdaptError):
    """A run file that cannot be read (truncated, empty, not JSON, wrong shape); the message is `<file>: <reason>`."""


def read_object(path: Path) -> dict:
    """The JSON object in `path`; FileNotFoundError when absent, `Unreadable("<file>: <reason>")` when damaged."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise Unreadable(f"{path.name}: not UTF-8 text (byte {err.start})") from err
    except IsADirectoryError as err:
        raise Unreadable(f"{path.name}: a folder, not a file") from err
    if not text.strip():
        raise Unreadable(f"{path.name}: empty file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise Unreadable(f"{path.name}: not valid JSON, truncated? ({err.msg} at line {err.lineno})") from err
    if not isinstance(data, dict):
        raise Unreadable(f"{path.name}: a JSON {type(data).__name__} where an object was expected")
    return data


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
            write_json(self.dir / "config.json", config)

    def set_status(self, state: str, **fields) -> None:
        if not self.enabled:
            return
        assert state in STATES, state
        # the writing process is the default pid; a caller (the launcher, for a child) may name another
        me = {"pid": os.getpid(), "pid_start": process_start(os.getpid())}
        self._status.update({**me, **fields, "state": state, "updated": time.time()})
        self._status.setdefault("started", self.started)
        write_json(self.dir / "status.json", self._status)

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
            write_json(self.dir / "report.json", report)


@dataclass
class RunInfo:
    """A run folder as read back: config, status, report (metrics are read on demand).

    `problem` is set when a file of the run is damaged (`<file>: <reason>`): the run then reads as `unreadable`,
    with empty config / status / report, so every list and page shows it without tripping over it."""

    dir: Path
    config: dict
    status: dict
    report: dict
    problem: str | None = None

    @property
    def id(self) -> str:
        return self.dir.name

    @property
    def state(self) -> str:
        """The recorded state; `unreadable` for a damaged run; a `running` run whose own process (pid and start
        time) is gone reads as `interrupted`."""
        if self.problem:
            return UNREADABLE
        state = self.status.get("state", "unknown")
        if state == "running" and not is_alive(self.status):
            # a cancel asked for before the process could record it (it died starting up) is still a cancel
            return "cancelled" if self.status.get("cancel_requested") else "interrupted"
        return state

    def require_readable(self) -> RunInfo:
        """This run, or an AdaptError naming the damaged file (for commands that need the run whole)."""
        if self.problem:
            raise AdaptError(f"run {self.id} is unreadable: {self.problem}; repair or delete that file")
        return self

    def metrics(self) -> pd.DataFrame:
        return read_metrics(self.dir)

    def summary(self) -> dict:
        cfg, rep = self.config, self.report
        test = rep.get("test", {})
        return {
            "run": self.id,
            "state": self.state,
            "dataset": cfg.get("dataset"),
            "model": cfg.get("model"),
            "method": method_name(cfg),
            "seed": cfg.get("train", {}).get("seed"),
            "test_macro_f1": test.get("macro_f1"),
            "test_accuracy": test.get("accuracy"),
            "train_seconds": rep.get("train_seconds"),
            "trainable_params": rep.get("trainable_params"),
            "peak_memory_bytes": rep.get("peak_memory_bytes"),
            "tokens_per_example": rep.get("tokens_per_example"),
            "step": self.status.get("step"),
            "total": self.status.get("total"),
            "problem": f"{UNREADABLE}: {self.problem}" if self.problem else None,
        }


# ----------------------------------------------------------------------------------------------------- liveness


def process_start(pid: int) -> str | None:
    """An identity of the running process `pid` that a reused pid does not share: its start time (Linux: field 22
    of /proc/<pid>/stat, in clock ticks since boot; elsewhere psutil's create time). None when no such process."""
    try:
        fields = Path(f"/proc/{int(pid)}/stat").read_text().rsplit(")", 1)[1].split()  # from field 3 on
        return None if fields[0] in "ZX" else "proc:" + fields[19]  # a zombie has finished: not alive
    except FileNotFoundError:
        if Path("/proc/self/stat").exists():
            return None  # /proc works here: the process is gone
    except (OSError, IndexError, ValueError):
        pass
    try:
        import psutil

        return f"psutil:{psutil.Process(int(pid)).create_time():.3f}"
    except ImportError:
        return "unknown" if _pid_exists(int(pid)) else None
    except Exception:  # psutil.NoSuchProcess / AccessDenied: gone, or not ours to inspect
        return None


def is_alive(status: dict) -> bool:
    """Whether the process recorded in a status (pid, pid_start) is alive and is the same process."""
    pid = status.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    now = process_start(pid)
    if now is None:
        return False
    recorded = status.get("pid_start")
    return recorded is None or now == "unknown" or now == recorded  # folders from before pid_start: pid alone


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _settle(info: RunInfo) -> RunInfo:
    """Record on disk that a `running` run whose process is gone is `interrupted` (its `updated` time is when it was
    last seen). The status is re-read first, so a run that just finished is never overwritten."""
    settled = info.state
    if info.problem or info.status.get("state") != "running" or settled == "running":
        return info
    try:
        current = read_object(info.dir / "status.json")
        if current.get("state") == "running" and current.get("updated") == info.status.get("updated"):
            write_json(info.dir / "status.json", {**current, "state": settled})
            info.status = {**current, "state": settled}
    except (OSError, AdaptError):
        pass  # a read-only or vanished folder: it still reads as interrupted
    return info


# ----------------------------------------------------------------------------------------------------- reading


def _check_status(status: dict) -> None:
    state = status.get("state")
    if state not in (*STATES, "interrupted"):
        raise Unreadable(f"status.json: unknown state {state!r}")
    for key in ("step", "total", "pid"):
        if status.get(key) is not None and not isinstance(status[key], int):
            raise Unreadable(f"status.json: '{key}' is {status[key]!r}, not a whole number")
    for key in ("updated", "started", "eta_seconds", "elapsed"):
        if status.get(key) is not None and not isinstance(status[key], int | float):
            raise Unreadable(f"status.json: '{key}' is {status[key]!r}, not a number")


def check_config_shape(config: dict) -> None:
    """The RunConfig shape: nested objects where they belong, texts where they belong (a config.json written before
    the method registry had `method` as an object; it still reads)."""
    for key in ("data", "train"):
        if key in config and not isinstance(config[key], dict):
            raise Unreadable(f"config.json: '{key}' is a {type(config[key]).__name__}, not an object")
    if config.get("settings") is not None and not isinstance(config["settings"], dict):
        raise Unreadable(f"config.json: 'settings' is a {type(config['settings']).__name__}, not an object")
    if "method" in config and not isinstance(config["method"], str | dict):
        raise Unreadable(f"config.json: 'method' is {config['method']!r}, not a method name")
    for key in ("dataset", "model"):
        if key in config and not isinstance(config[key], str):
            raise Unreadable(f"config.json: '{key}' is {config[key]!r}, not a text")
    for key in ("tokens", "sensitivity"):
        if config.get(key) is not None and not isinstance(config[key], str):
            raise Unreadable(f"config.json: '{key}' is {config[key]!r}, not a file name")


def _check_report(report: dict) -> None:
    for split in ("dev", "test"):
        scores = report.get(split, {})
        if not isinstance(scores, dict):
            raise Unreadable(f"report.json: '{split}' is a {type(scores).__name__}, not an object")
        bad = [k for k, v in scores.items() if v is not None and not isinstance(v, int | float)]
        if bad:
            raise Unreadable(f"report.json: {split} '{bad[0]}' is {scores[bad[0]]!r}, not a number")


_METRICS_CHECKED: dict[str, tuple] = {}  # metrics.jsonl path → (size, mtime) last found sound; a live list polls


def _check_metrics(run_dir: Path) -> None:
    """Every complete line of metrics.jsonl is a JSON object with a step (a half-written last line is not complete:
    it lacks its newline)."""
    path = run_dir / "metrics.jsonl"
    try:
        stat = path.stat()
    except FileNotFoundError:
        return
    stamp = (stat.st_size, stat.st_mtime_ns)
    if _METRICS_CHECKED.get(str(path)) == stamp:
        return
    _parse_metrics(path, strict=True)
    _METRICS_CHECKED[str(path)] = stamp


def _parse_metrics(path: Path, strict: bool) -> list[dict]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        if strict:
            raise Unreadable(f"metrics.jsonl: not UTF-8 text (byte {err.start})") from err
        return []
    rows = []
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        complete = line.endswith("\n")
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or not isinstance(row.get("step"), int):
                raise ValueError("not an object with a step")
        except ValueError as err:
            if strict and complete:
                reason = err.msg if isinstance(err, json.JSONDecodeError) else str(err)
                raise Unreadable(f"metrics.jsonl: line {number} is not a metrics record ({reason})") from err
            continue  # the half-written last line of a live run
        rows.append(row)
    return rows


def _check_model(run_dir: Path, status: dict, config: dict) -> None:
    """A completed run's model folder holds its weights (a full disk during the save leaves config.json alone)."""
    model = run_dir / "model"
    if status.get("state") != "completed" or not model.is_dir():
        return
    if method_name(config) == "stc":
        model = model / "backbone"
    from adapt_core.safeload import weights_problem

    problem = weights_problem(model)
    if problem:
        raise Unreadable(f"model: {problem}")


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """metrics.jsonl as a DataFrame; a half-written last line (a live run) or a damaged line is skipped."""
    path = Path(run_dir) / "metrics.jsonl"
    return pd.DataFrame(_parse_metrics(path, strict=False) if path.exists() else [])


def load_run(run_dir: Path | str, strict: bool = False) -> RunInfo:
    """A run folder read back. A damaged file makes it `unreadable` (`problem` says which and why); `strict=True`
    raises that as an AdaptError instead, for commands that need the whole run (evaluate, predict)."""
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists() and not (run_dir / "status.json").exists():
        raise AdaptError(f"{run_dir} is not a run folder (no config.json / status.json)")
    try:
        files = {name: _read_optional(run_dir / f"{name}.json") for name in ("config", "status", "report")}
        _check_status(files["status"])
        check_config_shape(files["config"])
        _check_report(files["report"])
        _check_metrics(run_dir)
        _check_model(run_dir, files["status"], files["config"])
    except (Unreadable, OSError) as err:
        problem = str(err) if isinstance(err, Unreadable) else f"{Path(err.filename or '?').name}: {err.strerror}"
        info = RunInfo(run_dir, {}, {}, {}, problem)
        return info.require_readable() if strict else info
    info = RunInfo(run_dir, files["config"], files["status"], files["report"])
    return _settle(info)


def _read_optional(path: Path) -> dict:
    try:
        return read_object(path)
    except FileNotFoundError:
        return {}


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run under `root`, newest first; a damaged one is listed as `unreadable`, never raised."""
    root = root or runs_root()
    if not root.is_dir():
        return []
    dirs = [d for d in root.iterdir() if d.is_dir() and (d / "status.json").exists()]
    return [load_run(d) for d in sorted(dirs, key=lambda d: d.name, reverse=True)]


def method_name(config: dict) -> str | None:
    """The method of a config.json: a registered name (older run folders hold {"method": name, ...})."""
    method = config.get("method")
    return method.get("method") if isinstance(method, dict) else method
