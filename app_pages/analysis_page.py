"""Analysis: why a run wins or loses. For a finished run, the test confusions (a heatmap up to 20 classes; above, the
ranked top confusions with the full matrix one click away), precision / recall / F1 / support per class, and the
misclassified examples with the run's new tokens highlighted; then, against a second run on the same dataset, the
per-class F1 difference and the examples whose prediction flips."""

import streamlit as st

from adapt_core.plots.analysis_figures import GRID_UP_TO, confusion_bars, confusion_heatmap, examples_html, f1_diff_bars
from adapt_core.plots.runs_figures import run_choice
from adapt_core.run_analysis import (
    EVALUATION,
    FLIP_KINDS,
    flip_counts,
    flips,
    load_evaluation,
    per_class_diff,
    run_new_tokens,
    top_confusions,
)
from adapt_core.run_reader import list_runs
from studio.widgets import guard, unreadable_runs

SHOWN = 50  # misclassified examples listed: the most confident mistakes first
number = st.column_config.NumberColumn
SCORES = {c: number(c, format="%.3f") for c in ("precision", "recall", "f1", "f1_a", "f1_b", "diff", "share_of_true")}

st.title("Analysis")
st.caption("Step 7 · per class and per example: where a run goes wrong, and where two runs differ.")
runs = list_runs()
unreadable_runs(runs)
evaluated = [r for r in runs if r.state == "completed" and (r.dir / EVALUATION).is_file()]
if not evaluated:
    st.info("No evaluated run yet: a run is evaluated on its test split when it finishes.", icon=":material/info:")
    st.stop()


run = st.selectbox("Run", evaluated, format_func=run_choice, key="analysis_run")
with guard("Reading the run's evaluation"):
    ev, new_tokens = load_evaluation(run.dir), run_new_tokens(run.dir)

st.subheader("Confusions")
if len(ev.label_names) <= GRID_UP_TO:
    st.plotly_chart(confusion_heatmap(ev.confusion, ev.label_names), key="confusion")
else:
    top = top_confusions(ev.confusion, ev.label_names)
    st.plotly_chart(confusion_bars(top), key="top_confusions")
    with st.expander(
        f"Full confusion matrix ({len(ev.label_names)} × {len(ev.label_names)})", icon=":material/grid_on:"
    ):
        st.plotly_chart(confusion_heatmap(ev.confusion, ev.label_names), key="confusion")

st.subheader("Per class")
st.dataframe(ev.per_class, hide_index=True, key="per_class", column_config=SCORES)

st.subheader("Misclassified examples")
if ev.predictions is None:
    st.info("This run kept no test predictions (it predates predictions.json): train it again to see them.")
else:
    wrong = ev.misclassified()
    true = st.selectbox("True class", ["all", *ev.label_names], key="analysis_true")
    wrong = wrong if true == "all" else wrong[wrong["true"] == true]
    st.caption(
        f"{len(wrong)} wrong ({len(ev.predictions)} test examples in all); the {min(SHOWN, len(wrong))} most confident "
        f"shown. New tokens of this run, highlighted: {', '.join(new_tokens) if new_tokens else 'none'}."
    )
    shown = wrong.head(SHOWN)
    st.html(examples_html(shown))

st.subheader("Against another run")
others = [r for r in evaluated if r.dir != run.dir and r.config.get("dataset") == run.config.get("dataset")]
if not others:
    st.caption("No other finished run on this dataset to compare with.")
    st.stop()
other = st.selectbox("Run B (A is the run above)", others, format_func=run_choice, key="analysis_other")
with guard("Comparing the two runs"):
    ev_b = load_evaluation(other.dir)
    diff = per_class_diff(ev.per_class, ev_b.per_class)
    st.plotly_chart(f1_diff_bars(diff, "A", "B"), key="f1_diff")
    if ev.predictions is None or ev_b.predictions is None:
        st.info("One of the two runs kept no test predictions: the flipped examples need both.")
        st.stop()
    flipped = flips(ev.predictions, ev_b.predictions)
    counts = flip_counts(flipped)
    for column, kind in zip(st.columns(2), FLIP_KINDS, strict=True):
        column.metric(f"{kind.capitalize()} (A → B)", counts[kind])
    st.dataframe(flipped, hide_index=True, key="flips")
