"""Sensitivity: score every module of the model once (index of dispersion D and gradient norm G on a calibration
sample), then watch the heatmap and the budget panel follow the sidebar's β and top-k % at once — no measuring
again. The settings are AdaPT's (shared with the Train form) and the measurement is saved under the runs folder,
keyed by everything it depends on: an AdaPT run launched with the same settings trains exactly the outlined modules
and does not measure again."""

import streamlit as st

from adapt_core.budget import budget_table
from adapt_core.plots.sensitivity import sensitivity_heatmap
from adapt_core.selection import SELECTION_RULE
from adapt_core.sensitivity import measure
from adapt_core.tokens import augment
from adapt_core.workspace import load_report, save_report
from studio import measurement, resources, state, vetting
from studio.widgets import guard, progress_bar

st.title("Sensitivity")
st.caption(
    "Step 3 · S = norm(D) + β · norm(G) per module; AdaPT trains the highest-scoring modules within "
    "top-k % of the non-embedding parameters. Move β and top-k % in the sidebar."
)
choice = state.current()
with guard("Loading the dataset"):
    task = resources.task(choice.dataset, choice.data)
accepted = vetting.load(choice.dataset, choice.model)[1].accepted()

with st.expander("Measure (AdaPT's settings, shared with the Train page)", expanded=False, icon=":material/science:"):
    use_tokens = st.toggle(
        f"Add the {len(accepted)} accepted tokens first", value=bool(accepted), disabled=not accepted, key="sens_tokens"
    )
    settings = measurement.settings_form()
if settings is None:
    st.stop()
config = measurement.measure_config(settings, choice.device)
st.caption(f"Measured with the Train form's max length ({config.max_length}) and seed {config.seed}, as its run.")
tokens = accepted if use_tokens else []
path = measurement.report_path(choice, tokens, config)
report = load_report(path)
if st.button(
    "Measure sensitivity" if report is None else "Measure again", type="primary" if report is None else "secondary"
):
    bar, progress = progress_bar("Calibration batches")
    with guard("Measuring sensitivity"):
        model, tokenizer = resources.fresh_classifier(choice.model, tuple(task.label_names))  # a private copy
        if tokens:
            augment(model, tokenizer, tokens, init=settings.token_init, seed=config.seed)
        report = measure(model, tokenizer, task, config, progress)
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
with guard("Selecting modules"):
    report = report.regroup(settings.grouping)
    frame = report.to_frame(choice.beta, choice.top_k)
    selection = report.select(choice.beta, choice.top_k)
st.plotly_chart(sensitivity_heatmap(frame), key="heatmap")
st.caption(
    f"{int(frame['selected'].sum())} of {len(frame)} modules selected (outlined): {selection.params:,} parameters, "
    f"{selection.percent:.2f} % of the {report.non_embedding_params:,} non-embedding parameters "
    f"(budget {choice.top_k:g} %)."
)
st.info(f"**How modules are chosen.** {SELECTION_RULE}", icon=":material/rule:")

st.subheader("What the budget buys")
anatomy = resources.anatomy(choice.model, tuple(task.label_names))
rank = st.slider("LoRA rank r", 1, 64, 8, key="lora_rank")
table = budget_table(anatomy, selection, rank, new_token_params=len(tokens) * anatomy.embedding_dim)
adapt = table.iloc[0]
cols = st.columns(4)
cols[0].metric("Trainable parameters", f"{adapt.trainable_params:,}", help="Modules, new-token embeddings and head.")
cols[1].metric("Budget used", f"{adapt.budget_percent:.2f} %", help="Of the non-embedding parameters, as above.")
cols[2].metric("AdamW state", f"{adapt.optimizer_mib:.1f} MiB")
cols[3].metric("Expected step time", f"{adapt.step_time_ratio:.2f} × full")
number = st.column_config.NumberColumn
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "trainable_params": number("trainable params", format="localized"),
        "budget_percent": number("% of non-embedding params", format="%.2f"),
        "optimizer_mib": number("AdamW state (MiB)", format="%.1f"),
        "step_time_ratio": number("step time × full (expected)", format="%.2f"),
    },
)
with st.expander("Modules by score"):
    st.dataframe(frame.sort_values("S", ascending=False), hide_index=True)
