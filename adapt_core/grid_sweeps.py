"""What the comparison grid's sweeps chose on dev, and the spec they leave the grid to train.

The lr sweep picks each gradient method's rate (`chosen_rates`: the best mean dev macro-F1 over its tasks; a method
without a swept rate of its own takes its family's, `RATE_FAMILY`), read from the hardware the profile names to
choose (`lr_sweep_on`), with another machine's row of the same cell standing in for a gap (`sweep_gaps`,
`lr_stand_ins`, `lr_unmeasured`). AdaPT's knob sweep (one setting changed at a time) is scored (`knob_scores`,
`knob_choices`), pruned as it runs (`knob_ruled_out`, `knob_pruner`) and decided by a rule fixed before it ran
(`knob_choice`, `chosen_knob`). `with_rates` and `with_knob` apply the choices to a copy of the spec, and
`trained_spec` applies both: the grid's and the budget sweep's cells as each hardware trains them.
Kept apart from `grid_analysis.py` (what the results say) because the runner reads these choices before it trains
anything; imports from `grid_spec.py` and `grid_results.py`, never the reverse. Dev decides every choice; test never
chooses.
"""

from __future__ import annotations

import pandas as pd

from adapt_core.grid_results import cell_id, row_ids
from adapt_core.grid_spec import TOKEN_PREFIX, profile_sweeps, setting_name, sweep_cells, sweep_hardware


def trained_spec(spec: dict, profile: str, rows: pd.DataFrame, hardware: str) -> dict:
    """The spec as `profile` trained it on `hardware`: each swept method at the rate its lr sweep chose on dev (there,
    or on the profile's `lr_sweep_on`; `rows` must hold that hardware's sweep rows), and AdaPT's family with the
    setting its knob sweep chose on dev there, once that sweep is finished (`chosen_knob`, `with_knob`). The grid's
    and the budget sweep's cells are named by those settings. The knob sweep itself ran at the rates only: read it
    with `with_rates`."""
    rated = with_rates(spec, chosen_rates(spec, profile, rows, hardware=hardware))
    return with_knob(rated, profile, chosen_knob(rated, profile, rows, hardware))


def chosen_rates(
    spec: dict, profile: str, frame: pd.DataFrame, sweep: str = "lr", hardware: str | None = None
) -> dict[str, float]:
    """Per method of the `lr` sweep: the rate with the best mean dev macro-F1 (best checkpoint) over the sweep's
    tasks, from completed rows of `profile` on `hardware` (or on the hardware the profile's `lr_sweep_on` names;
    None: the rows must come from one hardware, else a ValueError: a GPU sweep never chooses for the CPU grid
    unasked); a method missing a task or a rate is left out. Dev only: test never chooses.

    With `hardware`, a sweep cell the choosing hardware lacks (never run there, or its row superseded) is read from
    another hardware's completed row of the same cell, if any: the same code, data and fp32 weights, so the same
    measurement (`compare.py --sweep lr` on a machine other than the chooser runs exactly those cells)."""
    if sweep not in profile_sweeps(spec, profile):
        return {}
    done = frame[(frame["state"] == "completed") & (frame["profile"] == profile)]
    found = {}
    if hardware is not None:
        chooser = sweep_hardware(spec, profile, hardware)
        found = _dev_scores(done[done["hardware"] != chooser])  # the gaps' stand-ins, overridden below
        done = done[done["hardware"] == chooser]
    elif done["hardware"].nunique() > 1:
        raise ValueError(f"the {profile} rows come from {sorted(done['hardware'].unique())}: say which hardware")
    found |= _dev_scores(done)
    scores: dict[str, dict[float, list[float]]] = {}
    for cell in sweep_cells(spec, profile, sweep):
        value = dict(cell.overrides)["lr"]
        score = found.get((cell.task, cell.method, setting_name(spec, profile, cell), int(cell.seed)))
        scores.setdefault(cell.method, {}).setdefault(value, []).append(score)
    rates = {}
    for method, by_rate in scores.items():
        if all(s is not None and s == s for values in by_rate.values() for s in values):
            rates[method] = max(by_rate, key=lambda r: sum(by_rate[r]) / len(by_rate[r]))
    return rates


def _dev_scores(done: pd.DataFrame) -> dict[tuple, float]:
    """(task, method, setting, seed) → best dev macro-F1 of completed rows; by seed too, so that the grid's later
    seeds of a swept setting never change the choice."""
    columns = ["task", "method", "setting", "seed", "best_dev_macro_f1"]
    return {(t, m, s, int(seed)): float(v) for t, m, s, seed, v in done[columns].itertuples(index=False)}


def sweep_gaps(spec: dict, profile: str, frame: pd.DataFrame, hardware: str, sweep: str = "lr") -> set[tuple]:
    """`cell_id`s of the `sweep` cells that the hardware choosing the rates for `hardware` (`sweep_hardware`) has not
    completed. Every cell when `hardware` is the chooser itself and has measured none; none when the profile has no
    such sweep."""
    if sweep not in profile_sweeps(spec, profile):
        return set()
    chooser = sweep_hardware(spec, profile, hardware)
    done = frame[(frame["state"] == "completed") & (frame["profile"] == profile) & (frame["hardware"] == chooser)]
    return {cell_id(spec, profile, c) for c in sweep_cells(spec, profile, sweep)} - set(row_ids(done))


def lr_stand_ins(spec: dict, profile: str, frame: pd.DataFrame, hardware: str) -> pd.DataFrame:
    """The completed rows another machine measured in place of the lr sweep's cells that the choosing hardware lacks
    (`sweep_gaps`): what `chosen_rates` reads for them."""
    chooser = sweep_hardware(spec, profile, hardware)
    gaps = sweep_gaps(spec, profile, frame, hardware)
    done = frame[(frame["profile"] == profile) & (frame["state"] == "completed") & (frame["hardware"] != chooser)]
    return done[pd.Series([i in gaps for i in row_ids(done)], index=done.index, dtype=bool)]  # rows, even of none


def lr_unmeasured(spec: dict, profile: str, frame: pd.DataFrame, hardware: str) -> set[tuple]:
    """`cell_id`s of the lr sweep's cells that neither the choosing hardware nor a stand-in has measured: what a run
    of the sweep on any machine measures. A cell is measured once, so the choice does not move with a later rerun
    elsewhere."""
    return sweep_gaps(spec, profile, frame, hardware) - set(row_ids(lr_stand_ins(spec, profile, frame, hardware)))


def unrated_methods(spec: dict, profile: str, rates: dict[str, float]) -> set[str]:
    """The grid's methods and variants whose learning rate the profile's lr sweep should choose (themselves or
    through `RATE_FAMILY`) but has not yet: training them at their default rate would make cells nobody asked for,
    so the grid leaves them out until the sweep is complete."""
    swept = set(profile_sweeps(spec, profile).get("lr", {}).get("methods", {}))
    out = set()
    for section in ("methods", "variants"):
        for name in spec.get(section, {}):
            family = (name, *RATE_FAMILY.get(name, ()))
            if any(n in swept for n in family) and not any(n in rates for n in family):
                out.add(name)
    return out


# where a method without a swept rate of its own takes one: AdaPT's forms share a rate (the sweep ran on the
# paper's random init, before mean init became AdaPT's default), full+tokens takes full finetuning's
RATE_FAMILY = {
    "adapt": ("adapt-random-init",),
    "adapt-random-init": ("adapt",),
    "adapt-no-tokens": ("adapt", "adapt-random-init"),
    "full+tokens": ("full",),
}


def with_rates(spec: dict, rates: dict[str, float]) -> dict:
    """A copy of the spec whose methods and variants train at `rates` (a method not swept itself at its family's
    swept rate, `RATE_FAMILY`)."""
    import copy

    out = copy.deepcopy(spec)
    for section in ("methods", "variants"):
        for name, entry in out.get(section, {}).items():
            rate = next((rates[n] for n in (name, *RATE_FAMILY.get(name, ())) if n in rates), None)
            if rate is not None:
                entry.setdefault("method", {})["lr"] = rate
    return out


def knob_scores(spec: dict, profile: str, rows: pd.DataFrame) -> pd.DataFrame:
    """AdaPT's knob sweep (`knobs`: one setting changed at a time, the others at their defaults) from `rows` of one
    hardware: per (setting, task), the best dev macro-F1 and test macro-F1 averaged over the completed seeds, with
    the changed setting's label (`default` where the cell is the method's own settings, as the grid trains it).
    Pass the trained spec (`trained_spec`) so the cells carry the chosen rate. Columns: setting, label, task, dev,
    test, seeds; empty when the profile has no such sweep or no row of it is done."""
    columns = ["setting", "label", "task", "dev", "test", "seeds"]
    if "knobs" not in profile_sweeps(spec, profile):
        return pd.DataFrame(columns=columns)
    done = rows[(rows["state"] == "completed") & (rows["profile"] == profile)]
    by = ["task", "method", "model", "setting"]  # method too: AdaPT's ablation and variant share its setting names
    scores = {key: group for key, group in done.assign(setting=done["setting"].fillna("")).groupby(by)}
    out, seen = [], set()
    for cell in sweep_cells(spec, profile, "knobs"):
        default = setting_name(spec, profile, type(cell)(cell.task, cell.method, cell.model, cell.seed))
        setting = setting_name(spec, profile, cell)
        group = scores.get((cell.task, cell.method, cell.model, setting))
        if (cell.task, setting) in seen or group is None:
            continue
        seen.add((cell.task, setting))
        field, value = cell.overrides[0]
        label = "default" if setting == default else f"{field}={value}"
        seeds = group[group["seed"].astype(int).isin(profile_sweeps(spec, profile)["knobs"].get("seeds", [0]))]
        if seeds.empty:
            continue
        out.append((setting, label, cell.task, seeds["best_dev_macro_f1"].mean(), seeds["macro_f1"].mean(), len(seeds)))
    return pd.DataFrame(out, columns=columns)


def knob_choices(scores: pd.DataFrame) -> pd.DataFrame:
    """Per knob setting measured on every task the default was: its mean dev macro-F1 over those tasks, the difference
    from the default's (positive: better on dev) and the smallest per-task difference (`worst_task`). Sorted best
    first; the default's own row included."""
    if scores.empty or "default" not in set(scores["label"]):
        return pd.DataFrame(columns=["label", "mean_dev", "vs_default", "worst_task"])
    default = scores[scores["label"] == "default"].set_index("task")["dev"]
    part = scores[scores["task"].isin(default.index)]
    full = part.groupby("label")["task"].nunique() == len(default)  # one not yet measured on every task: not compared
    part = part[part["label"].isin(full[full].index)]
    gaps = part["dev"] - part["task"].map(default)
    frame = part.assign(gap=gaps.values).groupby("label").agg(mean_dev=("dev", "mean"), worst_task=("gap", "min"))
    frame["vs_default"] = frame["mean_dev"] - default.mean()
    frame = frame.reset_index()[["label", "mean_dev", "vs_default", "worst_task"]]
    return frame.sort_values("mean_dev", ascending=False, ignore_index=True)


def knob_choice(scores: pd.DataFrame) -> str | None:
    """The knob setting AdaPT should take (its label), or None to keep the defaults. The rule, fixed before the sweep
    ran: a higher mean dev macro-F1 than the default's over the sweep's tasks *and* no lower on any of them (one seed
    each, so a gain on one task paid for by a loss on the other is noise-prone); of several, the best mean only, since
    settings measured one at a time were never measured together."""
    choices = knob_choices(scores)
    better = choices[(choices["label"] != "default") & (choices["vs_default"] > 0) & (choices["worst_task"] >= 0)]
    return None if better.empty else str(better.iloc[0]["label"])


def knob_ruled_out(spec: dict, profile: str, scores: pd.DataFrame, cell) -> str | None:
    """Why the knob sweep's `cell` can no longer be chosen, else None: its setting already scored a lower dev
    macro-F1 than the default on an earlier task of the sweep, so `knob_choice`'s rule (no lower on any task) rules it
    out whatever it scores on the later ones. `scores`: `knob_scores` of one hardware."""
    tasks = profile_sweeps(spec, profile).get("knobs", {}).get("tasks", [])
    if cell.task not in tasks or not cell.overrides or scores.empty:
        return None
    setting = setting_name(spec, profile, cell)
    if setting == setting_name(spec, profile, type(cell)(cell.task, cell.method, cell.model, cell.seed)):
        return None
    for task in tasks[: tasks.index(cell.task)]:
        mine = scores[(scores["task"] == task) & (scores["setting"] == setting)]["dev"]
        base = scores[(scores["task"] == task) & (scores["label"] == "default")]["dev"]
        if len(mine) and len(base) and mine.iloc[0] < base.iloc[0]:
            return (
                f"lower than the default on {task} dev ({mine.iloc[0]:.4f} < {base.iloc[0]:.4f}): "
                "the knob rule can no longer choose it"
            )
    return None


def knob_pruner(spec: dict, profile: str, results, hardware: str):
    """For the knob sweep's runner (`grid_runner.run_grid(skip=…)`): skips a cell `knob_ruled_out` rules out, with
    its reason. Reads the results file (rows of `hardware`) at each call, so a score another process recorded
    meanwhile counts."""
    from adapt_core.grid_results import read_results

    def skip(cell) -> str | None:
        frame = read_results(results)
        return knob_ruled_out(spec, profile, knob_scores(spec, profile, frame[frame["hardware"] == hardware]), cell)

    return skip


def knob_progress(spec: dict, profile: str, scores: pd.DataFrame) -> tuple[int, int]:
    """How many of the knob sweep's distinct cells are decided (measured, or ruled out: `knob_ruled_out`), of how
    many. `scores`: `knob_scores` of one hardware."""
    todo = {(c.task, setting_name(spec, profile, c)): c for c in sweep_cells(spec, profile, "knobs")}
    measured = set(zip(scores["task"], scores["setting"], strict=True))
    decided = [key in measured or knob_ruled_out(spec, profile, scores, c) is not None for key, c in todo.items()]
    return sum(decided), len(todo)


def chosen_knob(spec: dict, profile: str, frame: pd.DataFrame, hardware: str) -> tuple[str, object] | None:
    """The knob sweep's choice on `hardware` (`knob_choice`) as the (field, value) its cell set, or None: no setting
    won, or the sweep is not finished (a cell neither measured nor ruled out), since a half-run sweep's choice could
    still change. `spec` at the rates the sweep ran at (`with_rates`)."""
    if "knobs" not in profile_sweeps(spec, profile):
        return None
    scores = knob_scores(spec, profile, frame[frame["hardware"] == hardware])
    decided, total = knob_progress(spec, profile, scores)
    if decided < total:
        return None
    knobs = sweep_cells(spec, profile, "knobs")
    label = knob_choice(scores)
    return next(((f, v) for c in knobs for f, v in c.overrides if f"{f}={v}" == label), None)


def with_knob(spec: dict, profile: str, knob: tuple[str, object] | None) -> dict:
    """A copy of the spec whose AdaPT family trains with the knob sweep's choice (`chosen_knob`): a token-policy
    setting (`tokens.…`) for every method that adds new tokens (they share AdaPT's token list: full+tokens, the
    init variant), a method setting for every method configured like the swept one (AdaPT, its no-tokens ablation
    and its variants). The cells it changes are named by it (`setting_name`), so rows trained before keep theirs."""
    if knob is None:
        return spec
    import copy
    from dataclasses import fields

    from adapt_core.methods import get_method

    field, value = knob
    swept = {type(get_method(m).make({})) for m in profile_sweeps(spec, profile)["knobs"]["methods"]}
    out = copy.deepcopy(spec)
    for section in ("methods", "variants"):
        for name, entry in out.get(section, {}).items():
            method = get_method(name)
            if field.startswith(TOKEN_PREFIX):
                if method.uses_tokens:
                    entry.setdefault("tokens", {})[field[len(TOKEN_PREFIX) :]] = value
            elif type(method.make({})) in swept and field in {f.name for f in fields(method.make({}))}:
                entry.setdefault("method", {})[field] = value
    return out
