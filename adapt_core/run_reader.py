"""Reading a run folder back: RunInfo, load_run and list_runs, with every file checked, and a dead run settled.

Reading never fails on one run's account: a damaged file (truncated, empty, wrong shape, a broken metrics line, a
completed model without weights) makes that run read as `unreadable` with `<file>: <reason>`, and the listing goes
on. A `running` run whose process is gone, or whose pid now belongs to another process, is recorded `interrupted`
by the next reader. What a run folder holds, and how it is written, is run_writer.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from adapt_core.errors import AdaptError
from adapt_core.fileio import Unreadable, atomic_write_json, read_object
from adapt_core.run_status import STATES, is_alive
from adapt_core.run_writer import runs_root

UNREADABLE = "unreadable"  # a run with a damaged file: never a recorded state, only how it reads


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


def _settle(info: RunInfo) -> RunInfo:
    """Record on disk that a `running` run whose process is gone is `interrupted` (its `updated` time is when it was
    last seen). The status is re-read first, so a run that just finished is never overwritten."""
    settled = info.state
    if info.problem or info.status.get("state") != "running" or settled == "running":
        return info
    try:
        current = read_object(info.dir / "status.json")
        if current.get("state") == "running" and current.get("updated") == info.status.get("updated"):
            atomic_write_json(info.dir / "status.json", {**current, "state": settled})
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
