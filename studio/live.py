"""The Train page's live panel: a fragment that polls the run folders while a run is queued or running.

It advances the queue (`launcher.queue_tick`), shows each active run's phase by name with that phase's own progress
(training: steps and an ETA from step times; evaluation: batches) and the timeline of its phases, a Cancel button,
and redraws the loss and dev macro-F1 curves of the picked runs (each in its own colour) from their metrics.jsonl.
It never trains and never talks to the child process except through its folder and, to cancel, a signal. When
nothing is active it stops polling (one full rerun turns it off; launching a run turns it on again).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from adapt_core import launcher
from adapt_core.plots.runs_figures import dev_curves, loss_curves, run_label, run_table
from adapt_core.plots.style import run_color
from adapt_core.run_reader import list_runs
from adapt_core.run_status import PHASES, phase_timeline
from studio.widgets import pick_runs, table, unreadable_runs

POLL_SECONDS = 1.0
ACTIVE = ("running", "queued")
BADGES = {
    "running": ":blue-badge[running]",
    "queued": ":gray-badge[queued]",
    "completed": ":green-badge[completed]",
    "failed": ":red-badge[failed]",
    "cancelled": ":orange-badge[cancelled]",
    "interrupted": ":orange-badge[interrupted]",
    "unreadable": ":red-badge[unreadable]",
}


def _is_active(runs) -> bool:
    return any(r.state in ACTIVE for r in runs)


def _fraction(status: dict) -> float:
    """The bar follows the current phase's own progress (training: its steps); an uncounted phase shows empty."""
    done, total = status.get("phase_done"), status.get("phase_total")
    if "phase" not in status:  # a run folder from before phases: its steps
        done, total = status.get("step"), status.get("total")
    return min(done / total, 1.0) if isinstance(done, int) and isinstance(total, int) and total else 0.0


def _timeline(status: dict) -> str:
    """The phases so far with their seconds, the current one in bold: where the time of a run went."""
    return " → ".join(
        f"**{PHASES[name]}**" if current else f"{name} {seconds:.0f} s"
        for name, seconds, current in phase_timeline(status)
    )


def _active_run(info) -> None:
    status = info.status
    left, right = st.columns([5, 1])
    left.progress(_fraction(status), text=f"**{run_label(info)}** · {launcher.describe(info)}")
    if status.get("phases"):
        left.caption(_timeline(status))
    if right.button("Cancel", key=f"cancel_{info.id}", icon=":material/stop:"):
        launcher.cancel(info.dir)
        st.toast(f"Cancelling {run_label(info)}")


def _metrics(info):
    """A run's metrics, re-read only when its metrics.jsonl grew (a live chart asks every second)."""
    path = info.dir / "metrics.jsonl"
    stamp = (str(path), path.stat().st_size if path.exists() else 0)
    cache = st.session_state.setdefault("_metrics_cache", {})
    if cache.get(str(path), (None,))[0] != stamp:
        cache[str(path)] = (stamp, info.metrics())
        for key in list(cache)[:-10]:  # keep the latest few runs only
            del cache[key]
    return cache[str(path)][1]


def _panel(polling: bool) -> None:
    launcher.queue_tick()
    runs = list_runs()
    if not runs:
        st.info("No runs yet: choose a method above and press Launch.", icon=":material/info:")
        return
    unreadable_runs(runs)
    for info in runs:
        if info.state in ACTIVE:
            _active_run(info)
    charted = pick_runs(runs, "chart_runs")
    metrics = {run_label(r): _metrics(r) for r in charted}
    colors = {run_label(r): run_color(r.id) for r in charted}  # the run's own colour, the same on every page
    left, right = st.columns(2)
    left.plotly_chart(loss_curves(metrics, colors), key="loss_chart")
    right.plotly_chart(dev_curves(metrics, colors=colors), key="dev_chart")
    latest = runs[: max(len(charted), 5)]  # the status lines: the latest runs and the charted ones, not only picks
    for info in [r for r in runs if r in charted or r in latest or r.state in ACTIVE]:
        dataset = Path(str(info.config.get("dataset"))).name
        st.markdown(
            f"{BADGES.get(info.state, info.state)} **{run_label(info)}** · {dataset} · "
            f"{info.config.get('model')} · {launcher.describe(info)}"
        )
    frame = run_table(runs)
    table(
        frame[["run", "state", "tags", "dataset", "model", "method", "seed", "step", "total", "test_macro_f1"]],
        hide_index=True,
        key="run_list",
    )
    if polling and not _is_active(runs):
        st.rerun()  # everything finished: a full rerun turns polling off


def runs_panel() -> None:
    """The live list of runs, polled every POLL_SECONDS while any run is queued or running."""
    polling = _is_active(list_runs())
    st.fragment(run_every=POLL_SECONDS if polling else None)(_panel)(polling)
