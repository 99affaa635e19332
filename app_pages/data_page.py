"""Data: choose the labelled corpus (a benchmark, an uploaded file or a Hugging Face dataset), map its columns,
set the splits and slices, and look at its label balance and text lengths. Problems are shown as messages that
say what to fix."""

import streamlit as st

from adapt_core.data import BENCHMARKS, DataConfig
from adapt_core.plots.data_figures import label_balance
from adapt_core.readers import read_table, suggest_columns
from adapt_core.workspace import save_upload
from studio import resources, state
from studio.widgets import config_form, guard, table

st.title("Data")
st.caption(
    "Step 1 · a labelled corpus: texts and their classes. Dev and test splits are made from train when "
    "missing (stratified, seeded)."
)
choice = state.current()

benchmark_tab, upload_tab, hub_tab = st.tabs(["Benchmark task", "Upload a file", "Hugging Face dataset"])
with benchmark_tab:
    st.selectbox(
        "Benchmark task",
        BENCHMARKS,
        index=None,
        placeholder=f"now: {choice.dataset_label}",
        key="benchmark_pick",
        on_change=lambda: state.choose_dataset(st.session_state.benchmark_pick),
    )
with upload_tab:
    upload = st.file_uploader(
        "A CSV, TSV, JSON lines, JSON or Parquet file with a text and a label column "
        "(optional: a split column with train / dev / test)",
        type=["csv", "tsv", "jsonl", "json", "parquet"],
    )
    if upload is not None:
        with guard(f"Reading {upload.name}"):
            path = save_upload(upload.name, upload.getvalue())
            frame = read_table(path)
        st.dataframe(frame.head(5), hide_index=True)
        columns = list(frame.columns)
        guessed = suggest_columns(frame)  # a starting point: the user picks below, and the check refuses an id column
        text_col = st.selectbox("Text column", columns, index=columns.index(guessed[0]))
        label_col = st.selectbox("Label column", columns, index=columns.index(guessed[1]))
        with guard(f"Checking {upload.name}"):
            resources.task(str(path), DataConfig(text_col=text_col, label_col=label_col))
        if st.button("Use this corpus", type="primary"):
            state.add_source(str(path), f"upload: {upload.name}", text_col, label_col)
            st.rerun()
with hub_tab:
    hub_id = st.text_input("Dataset id on the Hugging Face Hub (needs the internet)", placeholder="e.g. ag_news")
    if st.button("Load from the Hub", disabled=not hub_id.strip()):
        with guard(f"Loading {hub_id}"):
            resources.task(f"hf:{hub_id.strip()}", DataConfig())
            state.add_source(f"hf:{hub_id.strip()}", f"hub: {hub_id.strip()}")
            st.rerun()

st.subheader("Splits and slices")
data_config = config_form(DataConfig, "data", exclude=("text_col", "label_col"), defaults=choice.data, columns=5)
if data_config is not None and state.set_data_config(data_config):
    st.rerun()  # the sidebar shows the new slice

st.subheader(f"Dataset: {choice.dataset_label}")
with guard("Loading the dataset"):
    task = resources.task(choice.dataset, choice.data)
    summary, lengths = resources.token_profile(choice.dataset, choice.data, choice.model)  # cached: it tokenizes
for note in task.notes:
    st.caption(note)
table(summary, hide_index=True)
st.plotly_chart(label_balance(task), key="label_balance")
st.plotly_chart(lengths, key="lengths")
with st.expander("Examples"):
    split = task["train"]
    st.dataframe({"text": split.texts[:50], "label": [task.label_names[i] for i in split.labels[:50]]}, hide_index=True)
