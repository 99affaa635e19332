"""Compare: every run side by side — a table of all runs, then, over the runs picked (the completed ones by
default), per dataset / model / method the test macro-F1 (mean ± std over seeds, each run a dot in its own colour),
training time, peak memory, trainable parameters and tokens per example. Then the budget frontier: macro-F1 against
trainable parameters and step time, per method and budget, over the runs here and the benchmark grid's measured
results (benchmarks/results/compare.csv). Below, the benchmark grid's table and its figures, one at a time."""

from pathlib import Path

import pandas as pd
import streamlit as st

from adapt_core.comparison import frontier, run_points
from adapt_core.plots.analysis_figures import FRONTIER_AXES, frontier_figure
from adapt_core.plots.runs_figures import COSTS, aggregate, cost_bars, f1_bars, run_table
from adapt_core.run_reader import list_runs
from studio import resources, state
from studio.widgets import guard, pick_runs, unreadable_runs
from studio.widgets import table as show_table

RESULTS = Path(__file__).resolve().parents[1] / "benchmarks" / "results"
number = st.column_config.NumberColumn
COLUMNS = {
    "test_macro_f1": number("test macro-F1", format="%.4f"),
    "test_accuracy": number("test accuracy", format="%.4f"),
    "macro_f1_mean": number("macro-F1 mean", format="%.4f"),
    "macro_f1_std": number("± std", format="%.4f"),
    "train_seconds": number("train s", format="%.1f"),
    "step_seconds": number("s / step", format="%.3f"),
    "peak_memory_mib": number("peak MiB", format="%.0f"),
    "trainable_params": number("trainable", format="localized"),
    "tokens_per_example": number("tokens / example", format="%.1f"),
    "timed_loaded": st.column_config.CheckboxColumn("timed beside other work"),
    "seeds_repeat": st.column_config.CheckboxColumn("no seed enters (± is rounding)"),
}

st.title("Compare")
st.caption("Step 5 · runs from the studio and from the command line alike (both write run folders).")
runs = list_runs()
unreadable_runs(runs)
table = run_table(runs)
if table.empty:
    st.info("No runs yet: launch some on the Train page.", icon=":material/info:")
else:
    st.subheader("All runs")
    show_table(table, hide_index=True, key="all_runs", column_config=COLUMNS)
    picked = table[table["run"].isin([r.id for r in pick_runs(runs, "compare_runs", "Runs compared", limit=None)])]
    summary = aggregate(picked)
    if summary.empty:
        st.info("No completed run picked: the comparison appears when a run finishes.", icon=":material/info:")
    else:
        st.subheader("By dataset, model and method")
        show_table(summary, hide_index=True, key="summary", column_config=COLUMNS)
        st.plotly_chart(f1_bars(summary, picked), key="f1")  # a dot per run, in the run's colour
        columns = st.columns(2)
        for i, column in enumerate(COSTS):
            columns[i % 2].plotly_chart(cost_bars(summary, column), key=f"cost_{column}")

# ---- Budget frontier: what a budget buys, over the runs above and the grid's measured results (one aggregation).
st.subheader("Budget frontier")
points = run_points(table, [r.config for r in runs])
with guard("Reading benchmarks/results/compare.csv", stop=False):
    points = pd.concat([points, resources.grid_points(RESULTS / "compare.csv", RESULTS.parent / "grid.json")])
budgets = frontier(points)
if budgets.empty:
    st.caption("No finished run and no benchmark grid results yet: the frontier appears when a run finishes.")
else:
    group = budgets["dataset"].astype(str) + " · " + budgets["model"].astype(str)
    options, choice = sorted(group.unique()), state.current()
    here = f"{choice.dataset} · {choice.model}"  # the sidebar's dataset and model first, when measured
    pick = st.selectbox(
        "Dataset · model", options, index=options.index(here) if here in options else 0, key="frontier_group"
    )
    shown = budgets[group == pick]
    for column, x in zip(st.columns(2), FRONTIER_AXES, strict=True):
        column.plotly_chart(frontier_figure(shown, x), key=f"frontier_{x}")
    show_table(shown, hide_index=True, key="frontier_points", column_config=COLUMNS)

# ---- Benchmark grid: figures written by the benchmark scripts (benchmarks/results/*.png), shown when present.
st.subheader("Benchmark grid")
tables = RESULTS / "compare_summary.md"  # drawn only when asked: its tables made every visit slow
if tables.is_file() and st.toggle("Show the comparison tables (benchmarks/compare.py)", key="grid_tables"):
    st.markdown(tables.read_text())
figures = {f.stem.replace("_", " "): f for f in sorted(RESULTS.glob("*.png"))} if RESULTS.is_dir() else {}
if not figures:
    st.caption("No benchmark figures yet: the benchmark scripts write them to benchmarks/results/.")
else:  # one at a time: a dozen full-size figures at once made the page slow to settle
    name = st.selectbox(f"Benchmark figure ({len(figures)})", list(figures), key="grid_figure")
    st.image(str(figures[name]), caption=name)
