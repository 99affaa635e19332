"""The demo mode on Home, for teaching: one button starts the whole pipeline on a small slice (adapt_core.demo, in a
background process) and a panel shows each stage as it happens — what it found, and the live dev macro-F1 of the
AdaPT and full finetuning runs — polling the demo's progress.json and run folders once a second while it runs.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from adapt_core import demo
from adapt_core.plots.runs_figures import dev_curves
from adapt_core.run_reader import read_metrics
from studio.widgets import guard

POLL_SECONDS = 1.0
ICONS = {
    "done": ":material/check_circle:",
    "cancelled": ":material/cancel:",
    "running": ":material/pending:",
    "failed": ":material/error:",
}


def demo_section() -> None:
    """The button and, once a demo has run, its stages."""
    st.subheader("Demo mode")
    with guard("Reading the demo settings"):
        config = demo.DemoConfig.from_env()
    st.caption(
        f"One click runs the whole pipeline on {config.max_train} training texts of {config.dataset} with "
        f"{config.model}: mine, score (PPLu), accept tokens by the policy, measure sensitivity, then train AdaPT "
        f"and full finetuning side by side ({config.max_steps} steps each). About 2 minutes on an idle 2-core CPU; "
        "the two runs stay "
        "(tagged demo) on the Train, Compare and Runs pages."
    )
    running = demo.is_running()
    if st.button("Run the demo", type="primary", icon=":material/school:", disabled=running, key="demo_start"):
        with guard("Starting the demo"):
            demo.start(config)
            st.rerun()  # redrawn with the button disabled and the panel polling
    folder = demo.latest()
    if folder is not None:
        st.fragment(run_every=POLL_SECONDS if running else None)(_panel)(folder, running)


def _panel(folder: Path, polling: bool) -> None:
    progress = demo.read(folder)
    stages, runs = progress.get("stages", {}), progress.get("runs", {})
    for name, what in demo.STAGES.items():
        entry = stages.get(name, {})
        state = entry.get("state")
        detail = entry.get("detail", "")
        if name in demo.METHODS and state == "running" and name in runs:
            detail = demo.live_line(runs[name])  # live, from the run folder
        took = f" · {entry['seconds']:.0f} s" if "seconds" in entry else ""
        icon = ICONS.get(state, ":material/radio_button_unchecked:")
        st.markdown(f"{icon} **{what}**{took}" + (f" — {detail}" if detail else ""))
    curves = {f"demo {m}": read_metrics(Path(d)) for m, d in runs.items()}
    if any("dev_macro_f1" in frame for frame in curves.values()):
        st.plotly_chart(dev_curves(curves), key="demo_f1")
    if progress.get("state") == "running" and st.button("Cancel the demo", icon=":material/cancel:", key="demo_stop"):
        with guard("Cancelling the demo"):
            demo.cancel(folder)  # its two runs stay, marked cancelled
        st.rerun()
    _outcome(progress)
    if polling and progress.get("state") != "running":
        st.rerun()  # the demo ended: a full rerun turns polling off and enables the button


def _outcome(progress: dict) -> None:
    state, elapsed = progress.get("state"), progress.get("elapsed", 0.0)
    if state == "completed":
        st.success(
            f"Demo finished in {elapsed:.0f} s: compare the two runs on the Compare page.", icon=":material/done:"
        )
        st.page_link("app_pages/compare_page.py", label="Compare the runs", icon=":material/leaderboard:")
    elif state == "failed":
        st.error(f"The demo stopped: {progress.get('error')}", icon=":material/error:")
    elif state == "cancelled":
        st.info("Demo cancelled: whatever it made so far stays (its runs marked cancelled).", icon=":material/cancel:")
    elif state == "interrupted":
        st.warning("The demo's process is gone (the app was stopped?): run it again.", icon=":material/warning:")
    else:
        st.caption(f"Running for {elapsed:.0f} s…")
