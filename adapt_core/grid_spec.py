"""The comparison grid's spec: its cells (tasks × methods × seeds × models, and sweeps) and how each is configured.

Hyperparameters live in one spec file (benchmarks/grid.json): one training setting per method, the same for every
task, and profiles (quick / converge / smoke) that set the data slice and the step budget, with per-task overrides
(`per_task`: a task's slice and max_length). `sweeps` add cells that vary one method setting (the learning-rate
sweep, AdaPT's knob sweep, the budget sweep; `tokens.<field>` varies the token policy of a token-using method, whose
tokens are then accepted by that policy); a cell is named by its `setting`, the method settings that differ from the
registered defaults (`lr=0.001,top_k=5`; empty for the defaults), so a sweep cell and a grid cell with the same
settings are one cell, run once. A cell's row is keyed (`row_key`) by profile, hardware (cpu / cuda), task, method,
setting, model and seed: a GPU run never stands in for a CPU one. The methods are the registry's
(`adapt_core.methods`): a method's `method` settings are its config's fields and its defaults (learning rate
included) are the config's, so the spec only says what differs; `validate_spec` builds them all before a cell runs.

Nothing here runs a cell or touches the results file: running the grid is grid_runner.py, the results file is
grid_results.py, what the sweeps chose is grid_sweeps.py, and what the results say is grid_analysis.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from adapt_core.data import DataConfig
from adapt_core.pipeline import RunConfig
from adapt_core.train import TrainConfig


@dataclass(frozen=True)
class Cell:
    """One training run of the grid: a method on a task and model with one seed, plus a sweep's changes to the
    method's settings (none for a grid cell). Its `key` says which CSV row it fills."""

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
    name (a profile that ran other values keeps them, so its rows stay its cells) and a `null` one removes it (a
    profile that never ran that sweep: none of its cells is in that profile's plan)."""
    merged = {**spec.get("sweeps", {}), **spec["profiles"][profile].get("sweeps", {})}
    return {name: sweep for name, sweep in merged.items() if sweep is not None}


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
    `overrides`; a token-using method's policy is the grid's (`token_policy`) with the method's own `tokens` settings
    (the knob sweep's choice, `grid_sweeps.with_knob`), then the sweep's `tokens.…` ones."""
    from dataclasses import replace

    from adapt_core.methods import get_method

    method, entry = get_method(name), method_spec(spec, name)
    own = {k: v for k, v in overrides if not k.startswith(TOKEN_PREFIX)}
    policy = {
        **entry.get("tokens", {}),
        **{k[len(TOKEN_PREFIX) :]: v for k, v in overrides if k.startswith(TOKEN_PREFIX)},
    }
    if policy and not method.uses_tokens:
        raise ValueError(f"grid method {name!r} uses no new tokens: it has no {TOKEN_PREFIX}… settings to vary")
    settings = method.make({**entry.get("method", {}), **own})
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
