"""Sensitivity: score every module of the model once (index of dispersion D and gradient norm G on a calibration
sample), then watch the heatmap and the budget panel follow the sidebar's β and top-k % at once — no measuring
again. The settings are AdaPT's (shared with the Train form) and the measurement is saved under the runs folder,
keyed by everything it depends on: an AdaPT run launched with the same settings trains exactly the outlined modules
and does not measure again."""

import streamlit as st

from adapt_core.budget import adapt_row
from adapt_core.plots.sensitivity_figures import sensitivity_heatmap
from adapt_core.selection import SELECTION_RULE
from adapt_core.sensitivity import measure_added
from adapt_core.workspace import save_report
from studio import measurement, resources, state, vetting_view
from studio.widgets import guard, progress_bar

st.title("Sensitivity")
st.caption(
    "Step 3 · S = norm(D) + β · norm(G) per module; AdaPT trains the highest-scoring modules within "
    "top-k % of the non-embedding parameters. Move β and top-k % beside the heatmap."
)
choice = state.current()
with guard("Loading the dataset"):
    task = resources.task(choice.dataset, choice.data)
accepted = vetting_view.load(choice)[1].accepted()

with st.expander("Measure (AdaPT's settings, shared with the Train page)", expanded=False, icon=":material/science:"):
    tokens, init = measurement.token_controls(accepted)
    settings = measurement.settings_form()
if settings is None:
    st.stop()
with guard("Measuring with the Train form's settings"):
    config = measurement.measure_config(settings, choice.device)
st.caption(f"Measured with the Train form's max length ({config.max_length}) and seed {config.seed}, as its run.")
path = measurement.report_path(choice, tokens, config, init)
report = measurement.saved_report(path)
if st.button(
    "Measure sensitivity" if report is None else "Measure again", type="primary" if report is None else "secondary"
):
    bar, progress = progress_bar("Calibration batches")
    with guard("Measuring sensitivity"):
        model, tokenizer = resources.fresh_classifier(choice.model, tuple(task.label_names))  # a private copy
        report = measure_added(model, tokenizer, task, config, tokens, init, progress)
        save_report(report, path)
    bar.empty()
if report is None:
    st.info(
        "Not measured yet for this dataset, model, tokens and settings: press Measure sensitivity.",
        icon=":material/info:",
    )
    st.stop()
st.caption(
    f"{report.meta.get('model_class')} · {report.meta.get('calibration_examples')} calibration examples · "
    f"{len(tokens)} new tokens · unit of selection: {settings.grouping}"
)
anatomy = resources.anatomy(choice.model, tuple(task.label_names))
if anatomy.non_embedding_params != report.non_embedding_params:
    st.warning(
        f"This measurement counted {report.non_embedding_params:,} non-embedding parameters, the model has "
        f"{anatomy.non_embedding_params:,}: it was made on another layout. Press Measure again.",
        icon=":material/warning:",
    )


with guard("Grouping modules"):
    grouped = report.regroup(settings.grouping)
# D and G are what was measured: no slider changes them, so they are drawn once, outside the sliders' fragment
st.plotly_chart(sensitivity_heatmap(grouped.to_frame(1.0, 100.0), ("D", "G"), outline=False), key="heatmap_dg")


@st.fragment
def budget_view() -> None:
    """The sliders and everything they change (S, the selection, the budget): a move reruns this fragment only."""
    state.budget_sliders()
    now = state.current()
    beta, top_k = now.beta, now.top_k
    with guard("Selecting modules"):
        frame = grouped.to_frame(beta, top_k)
        selection = grouped.select(beta, top_k)
    st.plotly_chart(sensitivity_heatmap(frame, ("S",)), key="heatmap")
    new_token_params = len(tokens) * anatomy.embedding_dim
    used = adapt_row(anatomy, selection, new_token_params)["budget_percent"]  # the denominator the metric uses too
    st.caption(
        f"{int(frame['selected'].sum())} of {len(frame)} modules selected (outlined): {selection.params:,} "
        f"parameters = {used:.2f} % of non-embedding parameters ({anatomy.non_embedding_params:,}); "
        f"budget {top_k:g} %."
    )
    st.info(f"**How modules are chosen.** {SELECTION_RULE}", icon=":material/rule:")
    measurement.budget_panel(anatomy, selection, new_token_params)
    with st.expander("Modules by score"):
        st.dataframe(frame.sort_values("S", ascending=False), hide_index=True)


budget_view()
