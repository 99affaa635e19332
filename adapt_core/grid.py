"""The comparison grid: tasks × methods × seeds × models, each cell a normal run folder, one results CSV.

Resumable by construction: a cell whose row in the CSV says `completed` is skipped; a `failed` one is retried once
(then left failed, with its error in the CSV). Hyperparameters live in one spec file (benchmarks/grid.json): one
training setting per method, the same for every task, and profiles (quick / converge / smoke) that set the data slice
and the step budget, with per-task overrides (`per_task`: a task's slice and max_length). `sweeps` add cells that
vary one method setting (the learning-rate sweep, AdaPT's knob sweep, the budget sweep; `tokens.<field>` varies the
token policy of a token-using method, whose tokens are then accepted by that policy); a cell is named by its
`setting`, the method settings that differ from the registered defaults (`lr=0.001,top_k=5`; empty for the defaults),
so a sweep cell and a grid cell with the same settings are one cell, run once. A row is keyed by profile, hardware
(cpu / cuda), task, method, setting, model and seed: a GPU run never stands in for a CPU one. Several processes may
share one results file (a lock); `shard=(i, n)` splits the cells between them without overlap, or `claims` (a folder
they share) hands each cell to whichever process asks first, so no process idles while another has a queue. The
methods are the registry's (`adapt_core.methods`): a method's `method` settings are its config's fields and its
defaults (learning rate included) are the config's, so the spec only says what differs; `validate_spec` builds them
all before a cell runs. Methods that use new tokens get them by the runs' own automatic policy
(`token_policy.auto_vet`, settings under `tokens`), accepted once per task, model and profile and cached as a vetted
list, so every seed sees the same vocabulary.
Dev decides everything (best checkpoint, STC's choices); test is only read for the table. What the results say
(summaries, time to quality, the rates the lr sweep chose) is `grid_analysis.py`'s.
"""

from __future__ import annotations

import csv
import datetime
import hashlib
import json
import os
import time
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
TIMES = (  # measured around the run: setup = load + tokens + sensitivity, before the first step
    "setup_seconds",
    "total_seconds",
    "best_dev_macro_f1",
    "test_examples_per_second",
    "dev_curve",  # JSON [[seconds into training, dev macro-F1], …]: time-to-quality is read from it
    "cpu_load",  # the machine's 1-minute load average when the cell ended: above the cores, its times are inflated
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


NOT_RUN = "not run"  # a row that accounts for a cell of the grid that did not fit on the machine (error says why)


@dataclass(frozen=True)
class Cell:
    task: str
    method: str
    model: str
    seed: int
    overrides: tuple = ()  # ((field, value), …): a sweep's change to the method's settings in the spec

    @property
    def key(self) -> tuple:
        return (self.task, self.method, self.model, int(self.seed), self.overrides)

    @property
    def task_name(self) -> str:
        """A folder-safe name: a benchmark name as is, a data file by its stem."""
        return Path(self.task).stem

    def folder(self, root: Path, profile: str = "", setting: str = "") -> Path:
        model = Path(self.model).name
        method = self.method.replace("+", "-plus-").replace(" ", "-")
        if setting:
            method += "_" + setting.replace("=", "-").replace(",", "_")
        parts = [profile] if profile else []
        return root.joinpath(*parts, model, self.task_name, method, f"seed{self.seed}")


def load_spec(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def cells(
    spec: dict, profile: str, tasks=None, methods=None, seeds=None, models=None, sweep: str | None = None
) -> list[Cell]:
    """Every cell of the grid (or of the requested sub-grid), task-major so partial results cover whole tasks.

    With `sweep` (a name under the spec's `sweeps`): that sweep's cells instead, one per value of its setting."""
    prof = spec["profiles"][profile]
    validate_spec(spec, profile)
    if sweep is not None:
        return sweep_cells(spec, profile, sweep, tasks=tasks, methods=methods, seeds=seeds, models=models)
    tasks = tasks or prof.get("tasks", spec["tasks"])
    methods = methods or list(spec["methods"])
    for name in methods:
        method_spec(spec, name)  # an unknown name fails here, before anything runs
    seeds = seeds or prof.get("seeds", spec["seeds"])
    models = models or prof.get("models", spec["models"])
    return [Cell(t, m, mo, s) for mo in models for t in tasks for s in seeds for m in methods]


def profile_sweeps(spec: dict, profile: str) -> dict:
    """The sweeps a profile runs: the spec's `sweeps`, where the profile's own `sweeps` replace those of the same
    name (a profile that ran other values keeps them, so its rows stay its cells)."""
    return {**spec.get("sweeps", {}), **spec["profiles"][profile].get("sweeps", {})}


def sweep_cells(spec: dict, profile: str, name: str, tasks=None, methods=None, seeds=None, models=None) -> list[Cell]:
    """A sweep's cells: its tasks × seeds × (method, value) for each method setting it varies."""
    sweeps = profile_sweeps(spec, profile)
    if name not in sweeps:
        raise ValueError(f"unknown sweep {name!r}: choose from {', '.join(sweeps) or 'none (the spec has no sweeps)'}")
    sw, prof = sweeps[name], spec["profiles"][profile]
    tasks, seeds = tasks or sw["tasks"], seeds or sw.get("seeds", spec["seeds"])
    models = models or prof.get("models", spec["models"])
    chosen = [(m, field, values) for m, varied in sw["methods"].items() for field, values in varied.items()]
    if methods:
        chosen = [c for c in chosen if c[0] in methods]
    return [
        Cell(t, m, mo, s, ((field, value),))
        for mo in models
        for t in tasks
        for s in seeds
        for m, field, values in chosen
        for value in values
    ]


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
    frame["hardware"] = frame["hardware"].where(frame["hardware"].notna(), device.str.split(":").str[0])
    frame.loc[frame["hardware"].isin(["", "nan"]), "hardware"] = "cpu"
    return frame


def _write_results(path: Path, frame: pd.DataFrame) -> None:
    atomic_write_text(path, frame.reindex(columns=COLUMNS).to_csv(index=False, quoting=csv.QUOTE_MINIMAL))


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


TOKEN_PREFIX = "tokens."  # a sweep setting `tokens.max_new_tokens` varies the token policy of the cell's method


def token_policy(spec: dict, profile: str):
    """The automatic acceptance policy of the grid's token-using methods: `tokens` (TokenPolicy fields), then the
    profile's `tokens`."""
    from adapt_core.token_policy import TokenPolicy

    return TokenPolicy(**{**spec.get("tokens", {}), **spec["profiles"][profile].get("tokens", {})})


def sweep_hardware(spec: dict, profile: str, hardware: str) -> str:
    """The hardware whose lr sweep chooses the rates `profile` trains at on `hardware`: the profile's `lr_sweep_on`
    where it names one (one sweep for every machine: a CPU grid need not repeat a sweep a GPU ran with the same code,
    data and fp32 weights), else `hardware` itself."""
    return spec["profiles"][profile].get("lr_sweep_on") or hardware


def task_part(spec: dict, profile: str, task: str, part: str) -> dict:
    """A profile's `data` or `train` settings for one task: the profile's, then its `per_task` entry's."""
    prof = spec["profiles"][profile]
    return {**prof.get(part, {}), **prof.get("per_task", {}).get(Path(task).stem, {}).get(part, {})}


def validate_spec(spec: dict, profile: str) -> None:
    """Build every method's config, TrainConfig and DataConfig of the spec (and of its sweeps), so a typo fails
    before anything runs (AdaptError / ValueError naming the method and the setting)."""
    prof = spec["profiles"][profile]
    for task in [None, *prof.get("per_task", {})]:
        DataConfig(**task_part(spec, profile, task or "", "data"))
        TrainConfig(**{**spec.get("train", {}), **task_part(spec, profile, task or "", "train")})
    token_policy(spec, profile)
    if prof.get("lr_sweep_on") not in (None, "cpu", "cuda", "mps"):
        raise ValueError(f"profile {profile!r}: lr_sweep_on is {prof['lr_sweep_on']!r}; give cpu, cuda or mps")
    for name in [*spec["methods"], *spec.get("variants", {})]:
        entry = method_spec(spec, name)
        unknown = set(entry) - {"method", "train"}
        if unknown:
            raise ValueError(f"grid method {name!r}: unknown key {sorted(unknown)[0]!r} (use 'method' and 'train')")
        method_settings(spec, profile, name)
        TrainConfig(**{**spec.get("train", {}), **prof.get("train", {}), **entry.get("train", {})})
    for sw in profile_sweeps(spec, profile).values():
        for name, varied in sw["methods"].items():
            for field_name, values in varied.items():
                for value in values:
                    method_settings(spec, profile, name, ((field_name, value),))


def method_settings(spec: dict, profile: str, name: str, overrides: tuple = ()):
    """The config of grid method `name`: its registered defaults with the spec's `method` settings, then a sweep's
    `overrides`."""
    from dataclasses import replace

    from adapt_core.methods import get_method

    method = get_method(name)
    own = {k: v for k, v in overrides if not k.startswith(TOKEN_PREFIX)}
    policy = {k[len(TOKEN_PREFIX) :]: v for k, v in overrides if k.startswith(TOKEN_PREFIX)}
    if policy and not method.uses_tokens:
        raise ValueError(f"grid method {name!r} uses no new tokens: it has no {TOKEN_PREFIX}… settings to vary")
    settings = method.make({**method_spec(spec, name).get("method", {}), **own})
    if not method.uses_tokens:
        return settings
    try:
        return replace(settings, tokens=replace(token_policy(spec, profile), **policy))
    except TypeError as err:  # an unknown TokenPolicy field
        raise ValueError(f"grid method {name!r}: {sorted(policy)} are not all token policy settings ({err})") from None


def setting_name(spec: dict, profile: str, cell: Cell) -> str:
    """The method settings of a cell that differ from the method's registered defaults, as `field=value,…` sorted
    (the token policy, common to the grid, left out): equal settings give equal names, whichever list made them."""
    from dataclasses import fields

    from adapt_core.methods import get_method

    def shown(name: str, value) -> str:
        return f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}"

    settings, default = method_settings(spec, profile, cell.method, cell.overrides), get_method(cell.method).make({})
    differ = [
        shown(f.name, getattr(settings, f.name))
        for f in fields(settings)
        if f.name != "tokens" and getattr(settings, f.name) != getattr(default, f.name)
    ]
    if getattr(settings, "tokens", None) is not None:  # a sweep's change to the grid's token policy
        grid_policy = token_policy(spec, profile)
        differ += [
            shown(TOKEN_PREFIX + f.name, getattr(settings.tokens, f.name))
            for f in fields(settings.tokens)
            if getattr(settings.tokens, f.name) != getattr(grid_policy, f.name)
        ]
    return ",".join(sorted(differ))


def run_config(spec: dict, profile: str, cell: Cell, tokens: str | None) -> RunConfig:
    entry = method_spec(spec, cell.method)
    train = TrainConfig(
        **{
            **spec.get("train", {}),
            **task_part(spec, profile, cell.task, "train"),
            **entry.get("train", {}),
            "seed": cell.seed,
        }
    )
    return RunConfig(
        dataset=cell.task,
        model=cell.model,
        data=DataConfig(**task_part(spec, profile, cell.task, "data")),
        method=cell.method,
        settings=method_settings(spec, profile, cell.method, cell.overrides),
        train=train,
        tokens=tokens if uses_tokens(spec, cell.method) else None,
    )


def hardware(spec: dict, profile: str, task: str = "") -> str:
    """Where the profile's runs go on this machine: `cpu` or `cuda` (or `mps`), from its `device` setting."""
    from adapt_core.models import pick_device

    device = {**spec.get("train", {}), **task_part(spec, profile, task, "train")}.get("device", "auto")
    return pick_device(device).type


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


def _record(results: Path, key: tuple, row: dict) -> pd.DataFrame:
    """Replace the row of `key` (KEY's order) in the results file, re-read under the lock so other processes' rows
    survive."""
    with _locked(results):
        frame = read_results(results)
        keep = [k != key for k in _keys(frame)] if len(frame) else []
        frame = pd.concat([frame[keep], pd.DataFrame([row])], ignore_index=True).reindex(columns=COLUMNS)
        _write_results(results, frame)
    return frame


def _previous(results: Path, key: tuple) -> tuple[str, int] | None:
    """(state, attempts) of the row of `key` in the results file, or None."""
    frame = read_results(results)
    if frame.empty:
        return None
    match = frame[[k == key for k in _keys(frame)]]
    return None if match.empty else (str(match["state"].iloc[-1]), int(match["attempts"].iloc[-1]))


def row_key(spec: dict, profile: str, cell: Cell) -> tuple:
    return (
        profile,
        hardware(spec, profile, cell.task),
        cell.task,
        cell.method,
        setting_name(spec, profile, cell),
        cell.model,
        int(cell.seed),
    )


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

    The results file is re-read before each cell, so a cell another process finished in the meantime is skipped."""
    index, count = shard
    if not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: give i/n with 0 <= i < n")
    todo = cells(spec, profile, **subset)[index::count]
    for i, cell in enumerate(todo, 1):
        if stop_at is not None and time.time() >= stop_at:
            log(f"time is up: {len(todo) - i + 1} cells left for another invocation")
            break
        if stop_file is not None and Path(stop_file).exists():
            log(f"{stop_file} exists: stopping, {len(todo) - i + 1} cells left for another invocation")
            break
        key = row_key(spec, profile, cell)
        previous = _previous(results, key)
        if previous is not None and (previous[0] == "completed" or previous[1] >= 2):
            continue
        if skip is not None and (why := skip(cell)):
            log(f"[{i}/{len(todo)}] {cell.task} {cell.method} [{key[4]}] seed {cell.seed}: not run, {why}")
            _record(results, key, dict(zip(KEY, key, strict=True)) | _not_run_row(why))
            continue
        if claims is not None and not claim(claims, key):
            continue
        attempts = 1 + (previous[1] if previous is not None else 0)  # a "not run" row has 0 attempts
        shown = f" [{key[4]}]" if key[4] else ""
        log(f"[{i}/{len(todo)}] {cell.task} {cell.method}{shown} {cell.model} seed {cell.seed} (attempt {attempts})")
        row = _run_cell(spec, profile, cell, runs_root, log) | {"attempts": attempts}
        _record(results, key, row | dict(zip(KEY, key, strict=True)))
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
        rows = [dict(zip(KEY, k, strict=True)) | _not_run_row(reason) for k in todo]
        if rows:
            _write_results(results, pd.concat([frame, pd.DataFrame(rows)], ignore_index=True).reindex(columns=COLUMNS))
    return len(todo)


def _not_run_row(reason: str) -> dict:
    return {"state": NOT_RUN, "attempts": 0, "error": reason, "date": datetime.date.today().isoformat()}


def _shown(path: Path) -> str:
    """A run folder as the results file records it: relative to the working directory when inside it (so the CSV
    names no machine's paths), else absolute."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def device_name(device: str) -> str:
    """The device a cell ran on, as the table names it: `cpu`, or `cuda (NVIDIA H100 80GB HBM3)` (the card's name,
    so a GPU row says which GPU)."""
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return f"cuda ({torch.cuda.get_device_name(torch.device(device))})"
    return device


def dev_curve(run_dir: Path, report: dict | None = None) -> list[list[float]]:
    """[[seconds into training, dev macro-F1], …] from the run's metrics.jsonl (its evaluation steps). A method that
    is not a step loop (STC: probes and heads fitted, then one choice on dev) logs no time per evaluation: its curve
    is the one point it has, its dev score when fitting ended (`report`'s train_seconds and best dev macro-F1)."""
    from adapt_core.runs import read_metrics

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


def _run_cell(spec: dict, profile: str, cell: Cell, root: Path, log) -> dict:
    folder = cell.folder(root, profile, setting_name(spec, profile, cell))
    base = {"date": datetime.date.today().isoformat(), "run_dir": _shown(folder)}
    try:
        tokens = ensure_tokens(spec, profile, cell, root, log) if uses_tokens(spec, cell.method) else None
        started = time.perf_counter()
        # a cell's folder is the grid's own: a retry replaces the failed attempt in it
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
        "cpu_load": round(os.getloadavg()[0], 2),
    }
