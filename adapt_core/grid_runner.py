"""Running the comparison grid: each cell a normal run folder, one row per cell in the results file.

Resumable by construction: a cell whose row says `completed` is skipped; a `failed` one is retried once (then left
failed, with its error in the row). Several processes may share one results file; `shard=(i, n)` splits the cells
between them without overlap, or `claims` (a folder they share) hands each cell to whichever process asks first, so
no process idles while another has a queue. Methods that use new tokens get them by the runs' own automatic policy
(`token_policy.auto_vet`, settings under the spec's `tokens`), accepted once per task, model and profile and cached
as a vetted list, so every seed sees the same vocabulary. Dev decides everything (best checkpoint, STC's choices);
test is only read for the table.

Which cells there are and how each is configured is grid_spec.py; the results file is grid_results.py.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from adapt_core.data import DataConfig, load_dataset
from adapt_core.fileio import atomic_write_text
from adapt_core.grid_results import (
    COLUMNS,
    COSTS,
    KEY,
    SCORES,
    not_run_row,
    previous_attempt,
    read_results,
    record_row,
)
from adapt_core.grid_spec import (
    Cell,
    cells,
    method_settings,
    row_key,
    run_config,
    setting_name,
    task_part,
    uses_tokens,
)
from adapt_core.pipeline import Cancelled, run_training


def ensure_tokens(spec: dict, profile: str, cell: Cell, root: Path, log: Callable[[str], None]) -> str:
    """The tokens of (task, model, profile), accepted once by the runs' own automatic policy (`token_policy`) and
    cached as a vetted list, so every seed and every token-using method sees the same vocabulary. The acceptance's
    wall time is kept beside it (`….seconds`), a cost every token-using method shares."""
    from dataclasses import asdict

    policy = method_settings(spec, profile, cell.method, cell.overrides).tokens  # the grid's, or a sweep's change
    data = DataConfig(**task_part(spec, profile, cell.task, "data"))
    # the file is named by what decides the tokens (the slice mined, the policy), so a changed spec never reuses it
    digest = hashlib.sha256(json.dumps([asdict(data), asdict(policy)], sort_keys=True).encode()).hexdigest()[:8]
    path = root / "tokens" / f"{cell.task_name}-{Path(cell.model).name}-{profile}-{digest}.json"
    if path.exists():
        return str(path)
    from adapt_core.token_policy import auto_vet

    started = time.perf_counter()
    task = load_dataset(cell.task, data)
    log(f"accepting tokens for {cell.task} / {cell.model} (policy: {policy})")
    vetted = auto_vet(task, cell.model, policy)
    path.parent.mkdir(parents=True, exist_ok=True)
    vetted.save(path)
    atomic_write_text(path.with_suffix(".seconds"), f"{time.perf_counter() - started:.1f}\n")
    return str(path)


def run_grid(
    spec: dict,
    profile: str,
    results: Path,
    runs_root: Path,
    log: Callable[[str], None] = print,
    shard: tuple[int, int] = (0, 1),
    stop_at: float | None = None,
    claims: Path | None = None,
    stop_file: Path | None = None,
    skip: Callable[[Cell], str | None] | None = None,
    keep: Callable[[Cell], bool] | None = None,
    **subset,
) -> pd.DataFrame:
    """Run every missing cell (of this shard: every n-th cell from the i-th), recording one row per run in
    `results`; returns the full results table. No cell starts after `stop_at` (a `time.time()`), so a machine
    lent for a while ends with whole cells. With `claims` (a folder the processes of one invocation share; a fresh
    one per invocation, so a claim never outlives the processes that could honour it), a process runs a cell only
    after claiming it there first. Once `stop_file` exists no cell starts either (a plan stopped by hand, between
    cells, loses no work).

    `skip(cell)`, asked before each cell that has not completed, may give a reason not to run it (a knob that can no
    longer be chosen): the cell gets a `not run` row saying why, and is asked again by the next invocation.

    `keep(cell)` (optional) leaves out, without a row, the cells this invocation is not meant to run (an lr sweep's
    cells that the choosing hardware has measured; a method whose rate is not chosen yet).

    The results file is re-read before each cell, so a cell another process finished in the meantime is skipped."""
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: give i/n with 0 <= i < n")
    todo = [c for c in cells(spec, profile, **subset) if keep is None or keep(c)][index::count]
    for i, cell in enumerate(todo, 1):
        if stop_at is not None and time.time() >= stop_at:
            log(f"time is up: {len(todo) - i + 1} cells left for another invocation")
            break
        if stop_file is not None and Path(stop_file).exists():
            log(f"{stop_file} exists: stopping, {len(todo) - i + 1} cells left for another invocation")
            break
        key = row_key(spec, profile, cell)
        previous = previous_attempt(results, key)
        if previous is not None and (previous[0] == "completed" or previous[1] >= 2):
            continue
        if skip is not None and (why := skip(cell)):
            log(f"[{i}/{len(todo)}] {cell.task} {cell.method} [{key[4]}] seed {cell.seed}: not run, {why}")
            record_row(results, key, dict(zip(KEY, key, strict=True)) | not_run_row(why))
            continue
        if claims is not None and not claim(claims, key):
            continue
        attempts = 1 + (previous[1] if previous is not None else 0)  # a "not run" row has 0 attempts
        shown = f" [{key[4]}]" if key[4] else ""
        log(f"[{i}/{len(todo)}] {cell.task} {cell.method}{shown} {cell.model} seed {cell.seed} (attempt {attempts})")
        row = _run_cell(spec, profile, cell, runs_root, log) | {"attempts": attempts}
        record_row(results, key, row | dict(zip(KEY, key, strict=True)))
    return read_results(results).reindex(columns=COLUMNS)


def claim(claims: Path, key: tuple) -> bool:
    """Claim the cell of `key` for this process: True for the first caller only (a directory's creation is atomic,
    so two processes never both get it)."""
    claims.mkdir(parents=True, exist_ok=True)
    name = hashlib.sha1(repr(key).encode()).hexdigest()[:16]
    try:
        (claims / name).mkdir()
    except FileExistsError:
        return False
    atomic_write_text(claims / name / "cell", f"{key} pid {os.getpid()}\n")  # who took it, for a reader of the logs
    return True


def _shown(path: Path) -> str:
    """A run folder as the results file records it: relative to the working directory when inside it (so the CSV
    names no machine's paths), else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def device_name(device: str) -> str:
    """The device a cell ran on, as the table names it: `cpu (AMD EPYC, AVX512)` or `cuda (NVIDIA H100 80GB HBM3)`
    (the processor, so a row says which one: rounding, and so STC's choices, can differ between two CPUs)."""
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return f"cuda ({torch.cuda.get_device_name(torch.device(device))})"
    if device == "cpu":
        from adapt_core.models import cpu_name

        return f"cpu ({cpu_name()})"
    return device


def dev_curve(run_dir: Path, report: dict | None = None) -> list[list[float]]:
    """[[seconds into training, dev macro-F1], …] from the run's metrics.jsonl (its evaluation steps). A method that
    is not a step loop (STC: probes and heads fitted, then one choice on dev) logs no time per evaluation: its curve
    is the one point it has, its dev score when fitting ended (`report`'s train_seconds and best dev macro-F1)."""
    from adapt_core.run_reader import read_metrics

    metrics = read_metrics(run_dir)
    if "dev_macro_f1" in metrics and "elapsed" in metrics:
        evals = metrics[metrics["dev_macro_f1"].notna() & metrics["elapsed"].notna()]
        if len(evals):
            return [
                [round(float(t), 2), round(float(f), 5)]
                for t, f in zip(evals["elapsed"], evals["dev_macro_f1"], strict=True)
            ]
    report = report or {}
    seconds, best = report.get("train_seconds"), report.get("best_dev_macro_f1", report.get("dev", {}).get("macro_f1"))
    return [[round(float(seconds), 2), round(float(best), 5)]] if seconds is not None and best is not None else []


class LoadDuring:
    """The machine's 1-minute load average, sampled every `every` seconds while a cell trains and once at its end:
    `mean` says what shared the cores over the whole run, where one reading at the end (what rows up to ACL-ARC
    seed 1's STC, AdaPT and layers cells of 2026-12-07 hold) saw only its last minute. Above the cores, the cell's times are inflated (`grid_analysis.LOADED`)."""

    def __init__(self, every: float = 30.0):
        self.every, self.samples = every, []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._done.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __enter__(self) -> LoadDuring:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.samples.append(os.getloadavg()[0])

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples)


def _run_cell(spec: dict, profile: str, cell: Cell, root: Path, log) -> dict:
    folder = cell.folder(root, profile, setting_name(spec, profile, cell))
    base = {"date": datetime.date.today().isoformat(), "run_dir": _shown(folder)}
    try:
        tokens = ensure_tokens(spec, profile, cell, root, log) if uses_tokens(spec, cell.method) else None
        started = time.perf_counter()
        # a cell's folder is the grid's own: a retry replaces the failed attempt in it
        with LoadDuring() as load:
            report = run_training(run_config(spec, profile, cell, tokens), folder, progress=False, overwrite=True)
        total = time.perf_counter() - started
    except Cancelled:
        raise  # a stopped grid is not a failed cell: nothing is recorded, the next invocation runs it again
    except Exception as err:  # a failed cell is recorded and retried once on the next invocation
        log(f"  failed: {err}")
        return base | {"state": "failed", "error": f"{type(err).__name__}: {err}"[:500], "device": ""}
    device = str(report.get("device", ""))
    test = report.get("test", {})
    log(f"  test macro-F1 {test.get('macro_f1', float('nan')):.4f} in {report.get('train_seconds', 0):.0f} s")
    curve = dev_curve(folder, report)
    return base | {
        "state": "completed",
        "error": "",
        "device": device_name(device),
        **{k: test.get(k) for k in SCORES},
        **{k: report.get(k) for k in COSTS},
        "setup_seconds": report.get("setup_seconds"),
        "total_seconds": total,
        "best_dev_macro_f1": report.get("best_dev_macro_f1", report.get("dev", {}).get("macro_f1")),
        "test_examples_per_second": report.get("test_examples_per_second"),
        "dev_curve": json.dumps(curve),
        "cpu_load": round(load.mean, 2),
    }
