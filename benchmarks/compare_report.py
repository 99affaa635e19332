"""The comparison grid's report: the README's comparison section, assembled from the results CSV, and its block
between the README's `compare:start` / `compare:end` markers.

`compare.py` (the command line) writes what `report` makes: per profile and hardware measured, the grid's table with
its settings and a paragraph per task (`compare_table.py`), whether the runs converged (`compare_convergence.py`),
the learning rates, knob and budget sweeps (`compare_sweeps.py`), then what did not run (here). The plan's CPU hours
are `compare_estimate.py`'s, the figures `compare_figures.py`'s. Kept apart from the command line so the report can
be read, tested and rebuilt from a CSV on its own; the numbers come from `adapt_core.grid_analysis`, never typed.
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

from adapt_core.grid_analysis import chosen_rates, lr_stand_ins, trained_spec, with_rates  # noqa: E402
from adapt_core.grid_spec import sweep_hardware  # noqa: E402


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
    order = {"converge": 0, "converge-8ep": 1, "quick": 2}
    groups = sorted(frame.groupby(["profile", "hardware"]), key=lambda g: (order.get(g[0][0], 9), g[0][1]))
    for (profile, hw), rows in groups:
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
    parts += ["", *accounting(frame, spec)]
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
    if hw == "cpu" or not devices:
        return hw.upper()
    shared = (
        "; the cells ran side by side on the one card (`grid_plan.py --workers`), so its times are throughput "
        "under that sharing, not one cell alone"
    )
    return f"{', '.join(devices)}{shared}"


def accounting(frame, spec: dict) -> list[str]:
    """Which cells did not run or failed, grouped by reason, so the table accounts for the whole grid."""
    lines = []
    for state, label in (("not run", "Not run"), ("failed", "Failed")):
        part = frame[frame["state"] == state]
        for (profile, hw, reason), rows in part.groupby(["profile", "hardware", "error"], dropna=False):
            cells = "; ".join(f"{task} {_seeds(g)} ({_methods(g, spec)})" for task, g in rows.groupby("task"))
            lines.append(f"{label} ({len(rows)} cells, `{profile}` on {str(hw).upper()}): {cells}. Why: {reason}")
    done = (frame["state"] == "completed").sum()
    lines.insert(0, f"{done} of {len(frame)} cells in `benchmarks/results/compare.csv` completed.")
    return lines


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
