"""Sensitivity: score every module of the model once (index of dispersion D and gradient norm G on a calibration
sample), then watch the heatmap and the budget panel follow the sidebar's β and top-k % at once — no measuring
again. The measurement is saved under the runs folder, keyed by everything it depends on, so a reload reuses it."""

from dataclasses import asdict

import streamlit as st

from adapt_core.budget import budget_table
from adapt_core.plots.sensitivity import sensitivity_heatmap
from adapt_core.sensitivity import GROUPINGS, SensitivityConfig, measure
from adapt_core.tokens import augment
from adapt_core.workspace import load_report, save_report, sensitivity_key, sensitivity_path
from studio import resources, state, vetting
from studio.widgets import config_form, guard, progress_bar

st.title("Sensitivity")
st.caption(
    "Step 3 · S = norm(D) + β · norm(G) per module; AdaPT trains the highest-scoring modules within "
    "top-k % of the non-embedding parameters. Move β and top-k % in the sidebar."
)
choice = state.current()
with guard("Loading the dataset"):
    task = resources.task(choice.dataset, choice.data)
accepted = vetting.load(choice.dataset, choice.model)[1].accepted()

with st.expander("Measure", expanded=False, icon=":material/science:"):
    use_tokens = st.toggle(
        f"Add the {len(accepted)} accepted tokens first", value=bool(accepted), disabled=not accepted, key="sens_tokens"
    )
    config = config_form(
        SensitivityConfig,
        "sensitivity",
        exclude=("grouping", "device"),
        columns=4,
        base=SensitivityConfig(device=choice.device),
    )  # the sidebar's device
tokens = accepted if use_tokens else []
settings = {k: v for k, v in asdict(config or SensitivityConfig()).items() if k != "device"}  # same result anywhere
key = sensitivity_key(choice.dataset, asdict(choice.data), choice.model, tokens, settings)
report = load_report(sensitivity_path(key))
if st.button(
    "Measure sensitivity" if report is None else "Measure again",
    type="primary" if report is None else "secondary",
    disabled=config is None,
):
    bar, progress = progress_bar("Calibration batches")
    with guard("Measuring sensitivity"):
        model, tokenizer = resources.fresh_classifier(choice.model, tuple(task.label_names))  # a private copy
        if tokens:
            augment(model, tokenizer, tokens)
        report = measure(model, tokenizer, task, config, progress)
        save_report(report, sensitivity_path(key))
    bar.empty()
if report is None:
    st.info(
        "Not measured yet for this dataset, model, tokens and settings: press Measure sensitivity.",
        icon=":material/info:",
    )
    st.stop()
st.caption(
    f"{report.meta.get('model_class')} · {report.meta.get('calibration_examples')} calibration examples · "
    f"{len(tokens)} new tokens"
)

grouping = st.segmented_control("Unit of selection", GROUPINGS, default="linear", key="grouping") or "linear"
with guard("Selecting modules"):
    report = report.regroup(grouping)
    frame = report.to_frame(choice.beta, choice.top_k)
    selection = report.select(choice.beta, choice.top_k)
st.plotly_chart(sensitivity_heatmap(frame), key="heatmap")
st.caption(
    f"{int(frame['selected'].sum())} of {len(frame)} modules selected (outlined): "
    f"{selection.params:,} parameters, {selection.percent:.2f} % of the non-embedding parameters."
)

st.subheader("What the budget buys")
anatomy = resources.anatomy(choice.model, tuple(task.label_names))
rank = st.slider("LoRA rank r", 1, 64, 8, key="lora_rank")
table = budget_table(anatomy, selection, rank, new_token_params=len(tokens) * anatomy.embedding_dim)
adapt = table.iloc[0]
cols = st.columns(4)
cols[0].metric("Trainable parameters", f"{adapt.trainable_params:,}")
cols[1].metric("Share of the model", f"{adapt.trainable_percent:.2f} %")
cols[2].metric("AdamW state", f"{adapt.optimizer_mib:.1f} MiB")
cols[3].metric("Expected step time", f"{adapt.step_time_ratio:.2f} × full")
st.dataframe(
    table,
    hide_index=True,
    column_config={
        "trainable_params": st.column_config.NumberColumn("trainable params", format="localized"),
        "trainable_percent": st.column_config.NumberColumn("% of model", format="%.2f"),
        "optimizer_mib": st.column_config.NumberColumn("AdamW state (MiB)", format="%.1f"),
        "step_time_ratio": st.column_config.NumberColumn("step time × full (expected)", format="%.2f"),
    },
)
with st.expander("Modules by score"):
    st.dataframe(frame.sort_values("S", ascending=False), hide_index=True)
