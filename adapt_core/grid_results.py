"""The comparison grid's results file: one CSV row per cell, its columns, and rows recorded under a lock.

A row is keyed by KEY (profile, hardware, task, method, setting, model, seed; `grid_spec.row_key` makes it for a
cell) and holds the test scores, the costs from the run's report, the times measured around the run, its state and
attempts (a `failed` cell is retried once), and the run folder. Several processes may share one results file: every
change is made under an exclusive lock beside it, re-reading the file first so other processes' rows survive, and
the file is replaced atomically (adapt_core.fileio). A cell that did not fit on the machine gets a `not run` row
saying why, so the file accounts for the whole grid. Rows written before `setting` and `hardware` existed read as
the defaults on the CPU.
"""

from __future__ import annotations

import csv
import datetime
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from adapt_core.fileio import atomic_write_text, exclusive_lock
from adapt_core.grid_spec import cells, row_key

SCORES = ("macro_f1", "micro_f1", "accuracy")  # from the report's test split
COSTS = (  # from the report itself
    "train_seconds",
    "step_seconds",
    "trainable_params",
    "optimizer_state_bytes",
    "peak_memory_bytes",
    "tokens_per_example",
)
TIMES = (  # measured around the run: setup = load + tokens + sensitivity, before the first step
    "setup_seconds",
    "total_seconds",
    "best_dev_macro_f1",
    "test_examples_per_second",
    "dev_curve",  # JSON [[seconds into training, dev macro-F1], …]: time-to-quality is read from it
    "cpu_load",  # the 1-minute load average, mean while the cell ran (`grid_runner.LoadDuring`): above the cores, its
    # times are inflated
)
KEY = ["profile", "hardware", "task", "method", "setting", "model", "seed"]
COLUMNS = [
    "task",
    "method",
    "setting",
    "model",
    "seed",
    *SCORES,
    *COSTS,
    *TIMES,
    "device",
    "hardware",
    "date",
    "profile",
    "state",
    "attempts",
    "error",
    "run_dir",
]


ID = KEY[2:]  # a cell within one profile, on any hardware: (task, method, setting, model, seed)


def cell_id(spec: dict, profile: str, cell) -> tuple:
    """A cell's (task, method, setting, model, seed): its row key without profile and hardware."""
    return row_key(spec, profile, cell)[2:]


def row_ids(rows: pd.DataFrame) -> list[tuple]:
    """`cell_id` of each row."""
    return [(t, m, s, mo, int(seed)) for t, m, s, mo, seed in rows[ID].itertuples(index=False)]


NOT_RUN = "not run"  # a row that accounts for a cell of the grid that did not fit on the machine (error says why)


def read_results(path: Path) -> pd.DataFrame:
    """The results file; rows written before `setting` and `hardware` existed read as the defaults on the CPU."""
    if not Path(path).exists():
        return pd.DataFrame(columns=COLUMNS)
    frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"setting": str, "hardware": str})
    for column in COLUMNS:
        if column not in frame:
            frame[column] = None
    frame["setting"] = frame["setting"].fillna("").astype(str)
    device = frame["device"].fillna("").astype(str)
    kind = device.str.split(":").str[0].str.split(" ").str[0]  # `cuda:0`, `cpu (AMD EPYC, AVX512)` → cuda, cpu
    frame["hardware"] = frame["hardware"].where(frame["hardware"].notna(), kind)
    frame.loc[frame["hardware"].isin(["", "nan"]), "hardware"] = "cpu"
    return frame


def _write_results(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_text(path, frame.reindex(columns=COLUMNS).to_csv(index=False, quoting=csv.QUOTE_MINIMAL))


@contextmanager
def _locked(results: Path):
    """An exclusive lock beside the results file, so that several grid processes (say one per task) can share it."""
    with exclusive_lock(Path(results).with_suffix(".csv.lock")):
        yield


def _keys(frame: pd.DataFrame) -> list[tuple]:
    part = frame.reindex(columns=KEY).copy()
    part["seed"] = part["seed"].astype(int)
    part["setting"] = part["setting"].fillna("").astype(str)
    return [tuple(row) for row in part.itertuples(index=False)]


def record_row(results: Path, key: tuple, row: dict) -> pd.DataFrame:
    """Replace the row of `key` (KEY's order) in the results file, re-read under the lock so other processes' rows
    survive."""
    with _locked(results):
        frame = read_results(results)
        keep = [k != key for k in _keys(frame)] if len(frame) else []
        frame = pd.concat([frame[keep], pd.DataFrame([row])], ignore_index=True).reindex(columns=COLUMNS)
        _write_results(results, frame)
    return frame


def previous_attempt(results: Path, key: tuple) -> tuple[str, int] | None:
    """(state, attempts) of the row of `key` in the results file, or None."""
    frame = read_results(results)
    if frame.empty:
        return None
    match = frame[[k == key for k in _keys(frame)]]
    return None if match.empty else (str(match["state"].iloc[-1]), int(match["attempts"].iloc[-1]))


def mark_not_run(spec: dict, profile: str, results: Path, reason: str, **subset) -> int:
    """Give every cell of the (sub-)grid that has no row yet a `not run` row saying why; returns how many.

    So the results file accounts for the whole grid even when only part of it fits on a machine; a later invocation
    runs those cells like new ones."""
    if not reason.strip():
        raise ValueError("say why the cells could not run (the reason goes into the results file)")
    with _locked(results):  # one read and one write for the whole sub-grid
        frame = read_results(results)
        have = set(_keys(frame)) if len(frame) else set()
        todo = [k for k in (row_key(spec, profile, c) for c in cells(spec, profile, **subset)) if k not in have]
        rows = [dict(zip(KEY, k, strict=True)) | not_run_row(reason) for k in todo]
        if rows:
            _write_results(results, pd.concat([frame, pd.DataFrame(rows)], ignore_index=True).reindex(columns=COLUMNS))
    return len(todo)


def not_run_row(reason: str) -> dict:
    """The row of a cell that did not run, saying why (0 attempts: a later run of it is a new run, not a retry)."""
    return {"state": NOT_RUN, "attempts": 0, "error": reason, "date": datetime.date.today().isoformat()}


def stopped_before_gain(curve: list, epochs: int) -> bool:
    """Whether a dev curve ([[seconds, dev macro-F1], …], one evaluation per epoch) is one that early stopping ended
    before its last epoch without any evaluation ever beating the first: what `patience` did before it waited for a
    first gain (`train.py`). Such a run never left its starting plateau (often the majority class) and was stopped
    there; the rule now trains it on."""
    scores = [score for _, score in curve]
    return 2 <= len(scores) < epochs and max(scores[1:]) <= scores[0]


def supersede_plateau_stops(spec: dict, profile: str, results: Path) -> list[tuple]:
    """Give every completed row of `profile` (any hardware) that early stopping ended before its first dev gain a
    `not run` row saying so, with its old scores in the reason, so that the next invocation on that hardware runs it
    again under the rule that waits for a first gain; returns the keys. The old row stays in the file's history."""
    import json

    from adapt_core.grid_spec import task_part

    with _locked(results):
        frame = read_results(results)
        keys, stale, new = _keys(frame) if len(frame) else [], [], []
        for i, row in enumerate(frame.itertuples(index=False)):  # read_results: a fresh 0..n-1 index
            if row.profile != profile or row.state != "completed" or not isinstance(row.dev_curve, str):
                continue
            epochs = {**spec.get("train", {}), **task_part(spec, profile, row.task, "train")}.get("epochs", 0)
            curve = json.loads(row.dev_curve)
            if stopped_before_gain(curve, epochs):
                why = (
                    f"superseded: early stopping ended it after {len(curve)} of {epochs} epochs with no dev gain over "
                    f"its first evaluation ({curve[0][1]:.4f}; test macro-F1 {row.macro_f1:.4f}); patience now "
                    "counts from the first gain, so it runs again"
                )
                stale.append(i)
                new.append(dict(zip(KEY, keys[i], strict=True)) | not_run_row(why))
        if new:
            frame = pd.concat([frame.drop(index=stale), pd.DataFrame(new)], ignore_index=True)
            _write_results(results, frame.reindex(columns=COLUMNS))
    return [tuple(row[k] for k in KEY) for row in new]
