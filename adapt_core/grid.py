"""The comparison grid: tasks × methods × seeds × models, each cell a normal run folder, one results CSV.

Resumable by construction: a cell whose row in the CSV says `completed` is skipped; a `failed` one is retried once
(then left failed, with its error in the CSV). Hyperparameters live in one spec file (benchmarks/grid.json): one
training setting per method, the same for every task, and profiles (cpu / gpu) that set the data slice and the step
budget. Methods that use new tokens get them from an automatic vetting of the task's candidates (every candidate
that survives the PPLu filter is accepted), cached per task and model, so every seed sees the same vocabulary.
Dev decides everything (best checkpoint, STC's choices); test is only read for the table.
"""

from __future__ import annotations

import csv
import datetime
import json
import traceback
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from adapt_core.data import DataConfig, load_dataset
from adapt_core.fileio import atomic_write_text, exclusive_lock
from adapt_core.methods import MethodConfig
from adapt_core.pipeline import TOKEN_METHODS, Cancelled, RunConfig, run_training
from adapt_core.train import TrainConfig

SCORES = ("macro_f1", "micro_f1", "accuracy")  # from the report's test split
COSTS = (  # from the report itself
    "train_seconds",
    "step_seconds",
    "trainable_params",
    "optimizer_state_bytes",
    "peak_memory_bytes",
    "tokens_per_example",
)
COLUMNS = [
    "task",
    "method",
    "model",
    "seed",
    *SCORES,
    *COSTS,
    "device",
    "date",
    "profile",
    "state",
    "attempts",
    "error",
    "run_dir",
]


NOT_RUN = "not run"  # a row that accounts for a cell of the grid that did not fit on the machine (error says why)


@dataclass(frozen=True)
class Cell:
    task: str
    method: str
    model: str
    seed: int

    @property
    def key(self) -> tuple:
        return (self.task, self.method, self.model, int(self.seed))

    @property
    def task_name(self) -> str:
        """A folder-safe name: a benchmark name as is, a data file by its stem."""
        return Path(self.task).stem

    def folder(self, root: Path) -> Path:
        model = Path(self.model).name
        method = self.method.replace("+", "-plus-").replace(" ", "-")
        return root / model / self.task_name / method / f"seed{self.seed}"


def load_spec(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def cells(spec: dict, profile: str, tasks=None, methods=None, seeds=None, models=None) -> list[Cell]:
    """Every cell of the grid (or of the requested sub-grid), task-major so partial results cover whole tasks."""
    prof = spec["profiles"][profile]
    tasks = tasks or prof.get("tasks", spec["tasks"])
    methods = methods or list(spec["methods"])
    for name in methods:
        method_spec(spec, name)  # an unknown name fails here, before anything runs
    seeds = seeds or prof.get("seeds", spec["seeds"])
    models = models or prof.get("models", spec["models"])
    return [Cell(t, m, mo, s) for mo in models for t in tasks for s in seeds for m in methods]


def read_results(path: Path) -> pd.DataFrame:
    if not Path(path).exists():
        return pd.DataFrame(columns=COLUMNS)
    return pd.read_csv(path)


def _write_results(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_text(path, frame[COLUMNS].to_csv(index=False, quoting=csv.QUOTE_MINIMAL))


def method_spec(spec: dict, name: str) -> dict:
    """A grid method's settings: one of `methods`, or a named variant of one (`variants`: a `base` method plus
    changed settings, e.g. AdaPT with another token initialisation), run only when asked for by name."""
    if name in spec["methods"]:
        return {"base": name, **spec["methods"][name]}
    if name in spec.get("variants", {}):
        return spec["variants"][name]
    raise ValueError(
        f"unknown grid method {name!r}: choose from {', '.join([*spec['methods'], *spec.get('variants', {})])}"
    )


def uses_tokens(spec: dict, name: str) -> bool:
    return method_spec(spec, name)["base"] in TOKEN_METHODS


def run_config(spec: dict, profile: str, cell: Cell, tokens: str | None) -> RunConfig:
    prof, method = spec["profiles"][profile], method_spec(spec, cell.method)
    train = TrainConfig(
        **{**spec.get("train", {}), **prof.get("train", {}), **method.get("train", {}), "seed": cell.seed}
    )
    return RunConfig(
        dataset=cell.task,
        model=cell.model,
        data=DataConfig(**prof.get("data", {})),
        method=MethodConfig(method=method["base"], **method.get("method", {})),
        train=train,
        tokens=tokens if uses_tokens(spec, cell.method) else None,
        stc=method.get("stc", {}),
        **method.get("run", {}),
    )


def ensure_tokens(spec: dict, profile: str, cell: Cell, root: Path, log: Callable[[str], None]) -> str:
    """The auto-vetted token list for (task, model, profile): mined once, every surviving candidate accepted."""
    path = root / "tokens" / f"{cell.task_name}-{Path(cell.model).name}-{profile}.json"
    if path.exists():
        return str(path)
    from adapt_core.candidates import find_candidates
    from adapt_core.mining import MiningConfig
    from adapt_core.perplexity import PerplexityConfig

    prof = spec["profiles"][profile]
    tok = {**spec.get("tokens", {}), **prof.get("tokens", {})}
    task = load_dataset(cell.task, DataConfig(**prof.get("data", {})))
    scorer = tok.get("scorer")
    pconf = PerplexityConfig(scorer=scorer, **tok.get("perplexity", {})) if scorer else None
    log(f"mining tokens for {cell.task} / {cell.model} (scorer: {scorer or 'none'})")
    vetted = find_candidates(task, cell.model, MiningConfig(**tok.get("mining", {})), pconf)
    vetted.decide_where("accepted", reason="auto-vetted by the benchmark grid (PPLu filter)")
    path.parent.mkdir(parents=True, exist_ok=True)
    vetted.save(path)
    return str(path)


@contextmanager
def _locked(results: Path):
    """An exclusive lock beside the results file, so that several grid processes (say one per task) can share it."""
    with exclusive_lock(Path(results).with_suffix(".csv.lock")):
        yield


def _record(results: Path, cell: Cell, row: dict) -> pd.DataFrame:
    """Replace the cell's row in the results file, re-read under the lock so other processes' rows survive."""
    with _locked(results):
        frame = read_results(results)
        keys = frame[["task", "method", "model", "seed"]].itertuples(index=False)
        keep = [(t, m, mo, int(s)) != cell.key for t, m, mo, s in keys]
        frame = pd.concat([frame[keep], pd.DataFrame([row])], ignore_index=True).reindex(columns=COLUMNS)
        _write_results(results, frame)
    return frame


def _previous(results: Path, cell: Cell) -> tuple[str, int] | None:
    """(state, attempts) of the cell's row in the results file, or None."""
    frame = read_results(results)
    match = frame[
        (frame["task"] == cell.task)
        & (frame["method"] == cell.method)
        & (frame["model"] == cell.model)
        & (frame["seed"].astype(int) == int(cell.seed))
    ]
    return None if match.empty else (str(match["state"].iloc[-1]), int(match["attempts"].iloc[-1]))


def run_grid(
    spec: dict, profile: str, results: Path, runs_root: Path, log: Callable[[str], None] = print, **subset
) -> pd.DataFrame:
    """Run every missing cell, recording one row per run in `results`; returns the full results table.

    The results file is re-read before each cell, so a cell another process finished in the meantime is skipped."""
    todo = cells(spec, profile, **subset)
    for i, cell in enumerate(todo, 1):
        previous = _previous(results, cell)
        if previous is not None and (previous[0] == "completed" or previous[1] >= 2):
            continue
        attempts = 1 + (previous[1] if previous is not None else 0)  # a "not run" row has 0 attempts
        log(f"[{i}/{len(todo)}] {cell.task} {cell.method} {cell.model} seed {cell.seed} (attempt {attempts})")
        row = _run_cell(spec, profile, cell, runs_root, log) | {"attempts": attempts, "profile": profile}
        _record(results, cell, row)
    return read_results(results).reindex(columns=COLUMNS)


def mark_not_run(spec: dict, profile: str, results: Path, reason: str, **subset) -> int:
    """Give every cell of the (sub-)grid that has no row yet a `not run` row saying why; returns how many.

    So the results file accounts for the whole grid even when only part of it fits on a machine; a later invocation
    runs those cells like new ones."""
    if not reason.strip():
        raise ValueError("say why the cells could not run (the reason goes into the results file)")
    today = datetime.date.today().isoformat()
    with _locked(results):  # one read and one write for the whole sub-grid
        frame = read_results(results)
        have = {
            (t, m, mo, int(sd)) for t, m, mo, sd in frame[["task", "method", "model", "seed"]].itertuples(index=False)
        }
        todo = [c for c in cells(spec, profile, **subset) if c.key not in have]
        rows = [
            {
                "task": c.task,
                "method": c.method,
                "model": c.model,
                "seed": c.seed,
                "state": NOT_RUN,
                "attempts": 0,
                "error": reason,
                "profile": profile,
                "date": today,
            }
            for c in todo
        ]
        if rows:
            _write_results(results, pd.concat([frame, pd.DataFrame(rows)], ignore_index=True).reindex(columns=COLUMNS))
    return len(todo)


def _shown(path: Path) -> str:
    """A run folder as the results file records it: relative to the working directory when inside it (so the CSV
    names no machine's paths), else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _run_cell(spec: dict, profile: str, cell: Cell, root: Path, log) -> dict:
    base = {
        "task": cell.task,
        "method": cell.method,
        "model": cell.model,
        "seed": cell.seed,
        "date": datetime.date.today().isoformat(),
        "run_dir": _shown(cell.folder(root)),
    }
    try:
        tokens = ensure_tokens(spec, profile, cell, root, log) if uses_tokens(spec, cell.method) else None
        # a cell's folder is the grid's own: a retry replaces the failed attempt in it
        report = run_training(
            run_config(spec, profile, cell, tokens), cell.folder(root), progress=False, overwrite=True
        )
    except Cancelled:
        raise  # a stopped grid is not a failed cell: nothing is recorded, the next invocation runs it again
    except Exception as err:  # a failed cell is recorded and retried once on the next invocation
        log(f"  failed: {err}")
        return base | {
            "state": "failed",
            "error": f"{type(err).__name__}: {err}"[:500],
            "device": "",
            "_trace": traceback.format_exc(),
        }
    test = report.get("test", {})
    log(f"  test macro-F1 {test.get('macro_f1', float('nan')):.4f} in {report.get('train_seconds', 0):.0f} s")
    return base | {
        "state": "completed",
        "error": "",
        "device": report.get("device", ""),
        **{k: test.get(k) for k in SCORES},
        **{k: report.get(k) for k in COSTS},
    }


RATIOS = ("train_seconds", "step_seconds", "peak_memory_bytes", "optimizer_state_bytes")


def summarise(frame: pd.DataFrame) -> pd.DataFrame:
    """Per task and method: macro-F1 mean ± std over seeds, the winner, and cost ratios to `full` (`*_vs_full`)."""
    ok = frame[frame["state"] == "completed"].copy()
    if ok.empty:
        return pd.DataFrame()
    for column in RATIOS:
        if column not in ok:
            ok[column] = float("nan")
    agg = (
        ok.groupby(["task", "model", "method"])
        .agg(
            macro_f1_mean=("macro_f1", "mean"),
            macro_f1_std=("macro_f1", "std"),
            seeds=("seed", "nunique"),
            trainable_params=("trainable_params", "mean"),
            **{c: (c, "mean") for c in RATIOS},
        )
        .reset_index()
    )
    full = agg[agg["method"] == "full"][["task", "model", *RATIOS]]
    agg = agg.merge(full, on=["task", "model"], how="left", suffixes=("", "_full"))
    for column in RATIOS:
        agg[f"{column.split('_')[0]}_vs_full"] = agg[column] / agg.pop(f"{column}_full")
    agg = agg.rename(
        columns={
            "train_vs_full": "time_vs_full",
            "peak_vs_full": "memory_vs_full",
            "optimizer_vs_full": "optimizer_vs_full",
        }
    )
    best = agg.loc[agg.groupby(["task", "model"])["macro_f1_mean"].idxmax(), ["task", "model", "method"]]
    agg["winner"] = agg.merge(best, on=["task", "model"], suffixes=("", "_best"))["method_best"].eq(agg["method"])
    return agg
