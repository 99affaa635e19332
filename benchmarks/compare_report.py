"""The comparison grid's report: the README's comparison section, assembled from the results CSV, and its block
between the README's `compare:start` / `compare:end` markers.

`compare.py` (the command line) writes what `report` makes: per profile and hardware measured, the grid's table with
its settings and a paragraph per task (`compare_table.py`), whether the runs converged (`compare_convergence.py`),
the learning rates, knob and budget sweeps (`compare_sweeps.py`), then what did not run (here). The plan's CPU hours
are `compare_estimate.py`'s, the figures `compare_figures.py`'s. Kept apart from the command line so the report can
be read, tested and rebuilt from a CSV on its own; the numbers come from `adapt_core.grid_analysis` and
`adapt_core.grid_sweeps`, never typed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import pandas as pd  # noqa: E402
from _env import environment  # noqa: E402
from compare_convergence import plateau_line  # noqa: E402
from compare_sweeps import init_line, knob_section, sweep_section  # noqa: E402
from compare_table import grid_section  # noqa: E402

from adapt_core.grid_analysis import plan_ids  # noqa: E402
from adapt_core.grid_results import cell_id, row_ids  # noqa: E402
from adapt_core.grid_spec import cells, profile_sweeps, sweep_hardware  # noqa: E402
from adapt_core.grid_sweeps import chosen_rates, lr_stand_ins, trained_spec, with_rates  # noqa: E402


def report(spec: dict, frame: pd.DataFrame) -> str:
    """The README's comparison section, one part per (profile, hardware) measured: the grid's table with its
    settings, time-to-quality and inference speed; the learning-rate sweep; the budget sweep; a paragraph per task;
    then what did not run. Newest profile first (converge before quick)."""
    if frame.empty or not (frame["state"] == "completed").any():
        return "_No completed cell yet._"
    env = environment()
    parts = [
        f"torch {env['torch']}, transformers {env['transformers']}; tables generated from the CSV on {env['date']}."
    ]
    for (profile, hw), rows in _newest_first(frame):
        if profile not in spec["profiles"] or not (rows["state"] == "completed").any():
            continue
        rates = chosen_rates(spec, profile, frame, hardware=hw)
        rated, trained = with_rates(spec, rates), trained_spec(spec, profile, frame, hw)  # sweeps ran at `rated`
        parts += ["", f"#### Profile `{profile}` on {_device_names(rows)}", ""]
        if spec["profiles"][profile].get("_doc"):
            parts += [spec["profiles"][profile]["_doc"], ""]
        parts += grid_section(trained, profile, rows)
        parts += plateau_line(trained, profile, rows)
        if sweep_hardware(spec, profile, hw) != hw:
            shown = ", ".join(f"{m} {r:g}" for m, r in rates.items()) or "none yet"
            parts += ["", f"Learning rates: the {sweep_hardware(spec, profile, hw)} lr sweep's choice on dev: {shown}."]
        parts += init_line(trained, profile, rows)
        parts += knob_section(rated, profile, rows)
        parts += lr_sweep_part(spec, rated, profile, frame, hw)
        parts += sweep_section(trained, profile, rows, "budget")
    first, *rest = accounting(frame, spec)
    parts += ["", first, "", *(f"- {line}" for line in rest)]
    return "\n".join(parts)


def lr_sweep_part(spec: dict, rated: dict, profile: str, frame: pd.DataFrame, hw: str) -> list[str]:
    """The lr sweep's table under the hardware whose sweep chooses the rates: its own rows, and for a cell it lacks
    (superseded, or never run there) the row another machine measured in its place, as `chosen_rates` reads them,
    said under the table. Nothing under a hardware whose rates another machine's sweep chose."""
    if sweep_hardware(spec, profile, hw) != hw:
        return []
    stand_ins = lr_stand_ins(rated, profile, frame, hw)
    rows = frame[(frame["profile"] == profile) & (frame["hardware"] == hw)]
    lines = sweep_section(rated, profile, pd.concat([rows, stand_ins], ignore_index=True), "lr")
    if lines and not stand_ins.empty:
        named = "; ".join(
            f"{r.task} {r.method} {r.setting or 'default lr'} on {r.hardware}"
            for r in stand_ins.sort_values(["task", "method", "setting"]).itertuples()
        )
        lines += [
            "",
            f"Measured on another machine in place of this one's superseded or missing cells (same code, data and "
            f"fp32 weights; `chosen_rates` reads them the same way): {named}.",
        ]
    return lines


def _device_names(rows) -> str:
    devices = sorted({d for d in rows["device"].dropna().astype(str) if d})
    hw = rows["hardware"].iloc[0]
    if hw == "cpu":  # a row names its processor (`cpu (AMD EPYC, AVX512)`) since grid_runner.device_name does
        named = [d[len("cpu (") : -1] for d in devices if d.startswith("cpu (")]
        return f"CPU ({'; '.join(named)} where a row names it)" if named else "CPU"
    if not devices:
        return hw.upper()
    shared = (
        "; the cells ran side by side on the one card (`grid_plan.py --workers`), so its times are throughput "
        "under that sharing, not one cell alone"
    )
    return f"{', '.join(devices)}{shared}"


def accounting(frame, spec: dict) -> list[str]:
    """Per profile and hardware, how much of its comparison (the grid and the budget sweep, at the settings chosen
    on dev: `plan_ids`) is done, which cells are left and why, the sweeps' cells that did not run and why, and the
    rows that are no longer cells of the plan (a rate or setting since chosen otherwise), so the tables account for
    the whole grid and never list a cell that will not run as one that will."""
    done = (frame["state"] == "completed").sum()
    lines = [f"{done} of {len(frame)} rows in `benchmarks/results/compare.csv` completed."]
    for (profile, hw), rows in _newest_first(frame):
        if profile in spec["profiles"]:
            lines += _plan_lines(spec, profile, frame, rows, hw)
    return lines


def _newest_first(frame) -> list:
    """The rows grouped by (profile, hardware), newest profile first (converge before quick)."""
    order = {"converge": 0, "converge-8ep": 1, "quick": 2}
    return sorted(frame.groupby(["profile", "hardware"]), key=lambda g: (order.get(g[0][0], 9), g[0][1]))


def _plan_lines(spec: dict, profile: str, frame, rows, hw: str) -> list[str]:
    rated = with_rates(spec, chosen_rates(spec, profile, frame, hardware=hw))
    tasks = sorted({*spec["profiles"][profile].get("tasks", spec["tasks"]), *rows["task"].dropna()})  # as the table
    plan = plan_ids(trained_spec(spec, profile, frame, hw), profile, tasks)
    sweeps = {cell_id(rated, profile, c) for name in ("lr", "knobs") for c in _sweep(rated, profile, name)}
    stood_in = (
        set(row_ids(lr_stand_ins(rated, profile, frame, hw))) if sweep_hardware(spec, profile, hw) == hw else set()
    )
    rows = rows.assign(setting=rows["setting"].fillna("").astype(str), id=row_ids(rows))
    finished = set(rows.loc[rows["state"] == "completed", "id"])
    where = f"`{profile}` on {str(hw).upper()}"
    hours = rows.loc[rows["state"] == "completed", "total_seconds"].sum() / 3600
    ran = f"; its completed rows, sweeps included, ran {hours:.1f} hours (the sum of their wall times)" if hours else ""
    lines = [f"{where}: {len(plan & finished)} of {len(plan)} cells of its comparison completed{ran}."]
    why = {i: r for i, r in zip(rows["id"], rows["error"], strict=True) if i not in finished}
    for i in stood_in & why.keys():  # a row of its own that did not finish, measured elsewhere instead
        why[i] = "superseded; another machine measured the cell in its place (named under the lr table)"
    left = [(i, why.get(i, "no row yet: the plan resumes where it stopped (`grid_plan.py`)")) for i in plan - finished]
    left += [(i, why[i]) for i in sweeps - plan - finished if i in why]
    for (reason, label), ids in _by_reason(left, rows).items():
        lines.append(f"{label} ({_count(len(ids), 'cell')}, {where}): {_cells(ids, spec)}. Why: {reason}")
    stale = rows[[i not in plan and i not in sweeps for i in rows["id"]]]
    if len(stale):
        n_done = int((stale["state"] == "completed").sum())
        lines.append(
            f"No longer cells of the plan ({_count(len(stale), 'row')}, {n_done} of them completed, {where}): "
            f"{_cells(list(stale['id']), spec)}. Why: measured or planned at a rate or setting the sweeps have since "
            "chosen otherwise; kept in the file as history, out of every table."
        )
    return lines


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _sweep(spec: dict, profile: str, name: str) -> list:
    return cells(spec, profile, sweep=name) if name in profile_sweeps(spec, profile) else []


def _by_reason(left: list[tuple], rows) -> dict:
    """(reason, Failed / Not run) → the cell ids left for it, in a stable order."""
    failed = set(rows.loc[rows["state"] == "failed", "id"])
    out: dict = {}
    for i, reason in sorted(left, key=lambda x: (str(x[1]), x[0])):
        out.setdefault((reason, "Failed" if i in failed else "Not run"), []).append(i)
    return out


def _cells(ids: list[tuple], spec: dict) -> str:
    """Cell ids, as task → seeds (methods [settings]); seeds with the same methods left share one group."""
    frame = pd.DataFrame(ids, columns=["task", "method", "setting", "model", "seed"])
    parts = []
    for task, g in frame.groupby("task"):
        by_methods: dict[str, list] = {}
        for _, s in g.groupby("seed"):
            by_methods.setdefault(_methods(s, spec), []).append(s)
        groups = [f"{_seeds(pd.concat(s))} ({names})" for names, s in by_methods.items()]
        parts.append(f"{task} {' and '.join(groups)}")
    return "; ".join(parts)


def _seeds(rows) -> str:
    seeds = sorted(int(s) for s in rows["seed"].unique())
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def _methods(rows, spec: dict) -> str:
    names = {m + (f" [{s}]" if s == s and s else "") for m, s in zip(rows["method"], rows["setting"], strict=True)}
    return "every method" if names == set(spec["methods"]) else ", ".join(sorted(names))


def update_readme(path: Path, table: str) -> None:
    text = path.read_text()
    block = f"<!-- compare:start -->\n{table}\n<!-- compare:end -->"
    pattern = re.compile(r"<!-- compare:start -->.*?<!-- compare:end -->", re.S)
    path.write_text(pattern.sub(block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n")
