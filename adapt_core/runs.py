"""The run store: one folder per run, written atomically, listed and reloaded.

A run folder holds
    config.json     what was asked for (RunConfig.to_dict())
    status.json     state (running | completed | failed | cancelled), step, total, ETA, pid, error
    metrics.jsonl   one JSON object per logged step (at least step and loss; eval lines carry dev_* metrics)
    report.json     per split accuracy / macro_f1 / micro_f1, and the costs (seconds, parameters, memory)
    model/          a Hugging Face folder (safetensors only) with its tokenizer
JSON files are replaced by rename, so a reader never sees half a file; metrics lines are appended and flushed.
Run ids are generated here, never taken from user text, so a run name can never become a path.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from adapt_core.errors import AdaptError

STATES = ("queued", "running", "completed", "failed", "cancelled")


def runs_root() -> Path:
    """Where runs live: `$ADAPT_RUNS_DIR`, else `runs/` in the working directory."""
    return Path(os.environ.get("ADAPT_RUNS_DIR", "runs"))


def new_run_dir(root: Path | None = None, label: str = "run") -> Path:
    """A fresh, unique folder name: date-time, a safe label, a random suffix."""
    safe = "".join(c if c.isalnum() or c in "+-" else "-" for c in label)[:40] or "run"
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return (root or runs_root()) / f"{stamp}-{safe}-{secrets.token_hex(2)}"


def write_json(path: Path, payload: dict) -> None:
    """Atomic JSON write: a temporary file in the same folder, then rename over the target."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=2, default=_jsonable)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _jsonable(value):
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}


class RunWriter:
    """Writes one run folder. `enabled=False` (non-main ranks under accelerate) makes every write a no-op."""

    def __init__(self, run_dir: Path, enabled: bool = True):
        self.dir = Path(run_dir)
        self.model_dir = self.dir / "model"
        self.enabled = enabled
        self.started = time.time()
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
        self._status.update({"pid": os.getpid(), **fields, "state": state, "updated": time.time()})
        self._status.setdefault("started", self.started)
        write_json(self.dir / "status.json", self._status)

    def progress(self, step: int, total: int) -> None:
        """Running status with an ETA from the mean time per step so far."""
        elapsed = time.time() - self.started
        eta = elapsed / step * (total - step) if step else None
        self.set_status("running", step=step, total=total, eta_seconds=eta, elapsed=elapsed)

    def log(self, record: dict) -> None:
        """Append one metrics line and flush it to disk (a crash keeps every line written so far)."""
        if not self.enabled:
            return
        with open(self.dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record, default=_jsonable) + "\n")
            f.flush()
            os.fsync(f.fileno())

    def write_report(self, report: dict) -> None:
        if self.enabled:
            write_json(self.dir / "report.json", report)


@dataclass
class RunInfo:
    """A run folder as read back: config, status, report (metrics are read on demand)."""

    dir: Path
    config: dict
    status: dict
    report: dict

    @property
    def id(self) -> str:
        return self.dir.name

    @property
    def state(self) -> str:
        """The recorded state; a `running` run whose process is gone reads as `failed`."""
        state = self.status.get("state", "unknown")
        if state == "running" and not _alive(self.status.get("pid")):
            return "failed"
        return state

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
        }


def _alive(pid) -> bool:
    if not pid:
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_metrics(run_dir: Path) -> pd.DataFrame:
    """metrics.jsonl as a DataFrame; a half-written last line (a live run) is skipped."""
    path = Path(run_dir) / "metrics.jsonl"
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return pd.DataFrame(rows)


def load_run(run_dir: Path | str) -> RunInfo:
    run_dir = Path(run_dir)
    if not (run_dir / "config.json").exists() and not (run_dir / "status.json").exists():
        raise AdaptError(f"{run_dir} is not a run folder (no config.json / status.json)")
    return RunInfo(
        run_dir,
        read_json(run_dir / "config.json"),
        read_json(run_dir / "status.json"),
        read_json(run_dir / "report.json"),
    )


def list_runs(root: Path | None = None) -> list[RunInfo]:
    """Every run under `root`, newest first."""
    root = root or runs_root()
    if not root.is_dir():
        return []
    dirs = [d for d in root.iterdir() if d.is_dir() and (d / "status.json").exists()]
    return [load_run(d) for d in sorted(dirs, key=lambda d: d.name, reverse=True)]


def method_name(config: dict) -> str | None:
    """The method of a config.json: a registered name (older run folders hold {"method": name, ...})."""
    method = config.get("method")
    return method.get("method") if isinstance(method, dict) else method
