"""The comparison grid: tasks × methods × seeds × models, each cell a normal run folder, one results CSV.

Resumable by construction: a cell whose row in the CSV says `completed` is skipped; a `failed` one is retried once
(then left failed, with its error in the CSV). Hyperparameters live in one spec file (benchmarks/grid.json): one
training setting per method, the same for every task, and profiles (cpu / gpu) that set the data slice and the step
budget. The methods are the registry's (`adapt_core.methods`): a method's `method` settings are its config's fields
and its defaults (learning rate included) are the config's, so the spec only says what differs; `validate_spec`
builds them all before a cell runs. Methods that use new tokens get them by the runs' own automatic policy
(`token_policy.auto_vet`, settings under `tokens`), accepted once per task, model and profile and cached as a vetted
list, so every seed sees the same vocabulary.
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
from adapt_core.pipeline import Cancelled, RunConfig, run_training
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
    validate_spec(spec, profile)
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
    """A grid method's settings: `{"method": {config fields}, "train": {TrainConfig fields}}`, for a registered
    method listed under `methods` (run by default) or `variants` (run only when asked for by name)."""
    from adapt_core.methods import method_names

    entry = spec["methods"].get(name, spec.get("variants", {}).get(name))
    if entry is None or name not in method_names():
        known = [m for m in [*spec["methods"], *spec.get("variants", {})] if m in method_names()]
        raise ValueError(f"unknown grid method {name!r}: choose from {', '.join(known)}")
    return entry


def uses_tokens(spec: dict, name: str) -> bool:
    from adapt_core.methods import get_method

    return get_method(name).uses_tokens


def token_policy(spec: dict, profile: str):
    """The automatic acceptance policy of the grid's token-using methods: `tokens` (TokenPolicy fields), then the
    profile's `tokens`."""
    from adapt_core.token_policy import TokenPolicy

    return TokenPolicy(**{**spec.get("tokens", {}), **spec["profiles"][profile].get("tokens", {})})


def validate_spec(spec: dict, profile: str) -> None:
    """Build every method's config, TrainConfig and DataConfig of the spec, so a typo fails before anything runs
    (AdaptError / ValueError naming the method and the setting)."""
    prof = spec["profiles"][profile]
    DataConfig(**prof.get("data", {}))
    token_policy(spec, profile)
    for name in [*spec["methods"], *spec.get("variants", {})]:
        entry = method_spec(spec, name)
        unknown = set(entry) - {"method", "train"}
        if unknown:
            raise ValueError(f"grid method {name!r}: unknown key {sorted(unknown)[0]!r} (use 'method' and 'train')")
        method_settings(spec, profile, name)
        TrainConfig(**{**spec.get("train", {}), **prof.get("train", {}), **entry.get("train", {})})


def method_settings(spec: dict, profile: str, name: str):
    """The config of grid method `name`: its registered defaults with the spec's `method` settings."""
    from dataclasses import replace

    from adapt_core.methods import get_method

    method = get_method(name)
    settings = method.make(method_spec(spec, name).get("method", {}))
    return replace(settings, tokens=token_policy(spec, profile)) if method.uses_tokens else settings


def run_config(spec: dict, profile: str, cell: Cell, tokens: str | None) -> RunConfig:
    prof, entry = spec["profiles"][profile], method_spec(spec, cell.method)
    train = TrainConfig(
        **{**spec.get("train", {}), **prof.get("train", {}), **entry.get("train", {}), "seed": cell.seed}
    )
    return RunConfig(
        dataset=cell.task,
        model=cell.model,
        data=DataConfig(**prof.get("data", {})),
        method=cell.method,
        settings=method_settings(spec, profile, cell.method),
        train=train,
        tokens=tokens if uses_tokens(spec, cell.method) else None,
    )


def ensure_tokens(spec: dict, profile: str, cell: Cell, root: Path, log: Callable[[str], None]) -> str:
    """The tokens of (task, model, profile), accepted once by the runs' own automatic policy (`token_policy`) and
    cached as a vetted list, so every seed and every token-using method sees the same vocabulary."""
    path = root / "tokens" / f"{cell.task_name}-{Path(cell.model).name}-{profile}.json"
    if path.exists():
        return str(path)
    from adapt_core.token_policy import auto_vet

    policy = token_policy(spec, profile)
    task = load_dataset(cell.task, DataConfig(**spec["profiles"][profile].get("data", {})))
    log(f"accepting tokens for {cell.task} / {cell.model} (policy: {policy})")
    vetted = auto_vet(task, cell.model, policy)
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
    """Per task and method: macro-F1 mean ± std over seeds (`comparison.mean_over_seeds`, as the studio), the
    winner, and cost ratios to `full` (`time_vs_full`, `step_vs_full`, `memory_vs_full`, `optimizer_vs_full`)."""
    from adapt_core.comparison import mean_over_seeds, ratios_to, winners

    agg = mean_over_seeds(frame, ["task", "model", "method"], "macro_f1", ["trainable_params", *RATIOS])
    if agg.empty:
        return pd.DataFrame()
    agg = ratios_to(agg, ["task", "model"], RATIOS)
    names = {"train_seconds": "time", "step_seconds": "step", "peak_memory_bytes": "memory"}
    agg = agg.rename(columns={f"{c}_vs_full": f"{names.get(c, c.split('_')[0])}_vs_full" for c in RATIOS})
    agg["winner"] = winners(agg, ["task", "model"])
    return agg
