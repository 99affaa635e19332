"""The choices every page shares (dataset, model, device, β, top-k %) and the sidebar that edits them.

Each choice lives in `st.session_state` under an explicit, non-widget key, so it survives switching pages (a
widget's own key is dropped when a page stops drawing it). `bound()` re-seeds a widget from that key on every run
and copies the widget back on change.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, fields

import streamlit as st

from adapt_core.data import BENCHMARKS, DEFAULT_DATASET, DataConfig
from adapt_core.models import DEFAULT_MODEL, DEVICES, REGISTRY
from adapt_core.selection import DEFAULT_TOP_K

DATASET, MODEL, DEVICE, BETA, TOP_K = "dataset", "model", "device", "beta", "top_k"
DATA_CONFIG = "data_config"  # DataConfig fields (slices, splits, seed) for whichever dataset is chosen
SOURCES = "sources"  # uploaded files and Hub ids added on the Data page: source → {"label", "text_col", "label_col"}
DEFAULTS = {
    DATASET: DEFAULT_DATASET,
    MODEL: DEFAULT_MODEL,
    DEVICE: "auto",
    BETA: 1.0,
    TOP_K: DEFAULT_TOP_K,
    DATA_CONFIG: {},
    SOURCES: {},
}


@dataclass(frozen=True)
class Choice:
    """What the sidebar says now."""

    dataset: str
    model: str
    device: str
    beta: float
    top_k: float
    data: DataConfig

    @property
    def dataset_label(self) -> str:
        return source_label(self.dataset)


def init() -> None:
    for key, value in DEFAULTS.items():
        st.session_state.setdefault(key, copy.deepcopy(value))


def _copy_back(widget_key: str, state_key: str) -> None:
    st.session_state[state_key] = st.session_state[widget_key]


def bound(widget, label: str, state_key: str, widget_key: str | None = None, **kwargs):
    """Draw `widget` (e.g. st.slider) showing `st.session_state[state_key]` and writing changes back to it."""
    widget_key = widget_key or f"_w_{state_key}"
    st.session_state[widget_key] = st.session_state[state_key]
    return widget(label, key=widget_key, on_change=_copy_back, args=(widget_key, state_key), **kwargs)


def source_label(source: str) -> str:
    return st.session_state.get(SOURCES, {}).get(source, {}).get("label", source)


def add_source(source: str, label: str, text_col: str | None = None, label_col: str | None = None) -> None:
    """Register an uploaded file or Hub id and make it the chosen dataset."""
    st.session_state[SOURCES] = {
        **st.session_state[SOURCES],
        source: {"label": label, "text_col": text_col, "label_col": label_col},
    }
    st.session_state[DATASET] = source


def choose_dataset(source: str | None) -> None:
    if source:
        st.session_state[DATASET] = source


def set_data_config(config: DataConfig) -> bool:
    """Keep the splits and slices of `config` (the column mapping belongs to each source); True if they changed."""

    def general(values: dict) -> dict:
        return {k: v for k, v in values.items() if k not in ("text_col", "label_col")}

    new, old = general(asdict(config)), general({**asdict(DataConfig()), **st.session_state[DATA_CONFIG]})
    st.session_state[DATA_CONFIG] = new
    return new != old


def current() -> Choice:
    init()
    ss = st.session_state
    columns = {k: v for k, v in ss[SOURCES].get(ss[DATASET], {}).items() if k in ("text_col", "label_col")}
    known = {f.name for f in fields(DataConfig)}
    data = DataConfig(**{k: v for k, v in {**ss[DATA_CONFIG], **columns}.items() if k in known})
    return Choice(ss[DATASET], ss[MODEL], ss[DEVICE], float(ss[BETA]), float(ss[TOP_K]), data)


def _keep_valid(key: str, options: list) -> None:
    if st.session_state[key] not in options:
        st.session_state[key] = options[0]


def sidebar(budget: bool = True) -> Choice:
    """The shared sidebar: dataset, model, device and the AdaPT budget sliders (`budget=False`: a page that draws
    `budget_sliders()` itself, in a fragment beside what they change)."""
    init()
    datasets = list(BENCHMARKS) + list(st.session_state[SOURCES])
    _keep_valid(DATASET, datasets)
    models = list(dict.fromkeys([*REGISTRY, st.session_state[MODEL]]))  # a typed folder or Hub id stays listed
    with st.sidebar:
        st.subheader("Task and model")
        bound(
            st.selectbox,
            "Dataset",
            DATASET,
            options=datasets,
            format_func=source_label,
            help="A benchmark task, or a corpus added on the Data page.",
        )
        bound(
            st.selectbox,
            "Model",
            MODEL,
            options=models,
            accept_new_options=True,
            help="The classifier to adapt: a registry name, or type a local folder or a Hugging Face id. "
            + " · ".join(f"{k}: {v.description}" for k, v in REGISTRY.items()),
        )
        bound(
            st.selectbox,
            "Device",
            DEVICE,
            options=list(DEVICES),
            help="Where training runs: auto picks CUDA, then MPS, then the CPU.",
        )
        st.subheader("AdaPT budget")
        if budget:
            budget_sliders()
        else:
            st.caption("β and top-k % are set beside the heatmap on this page.")
        choice = current()
        sliced = [
            f"{name} ≤ {value}"
            for name, value in (("train", choice.data.max_train), ("dev/test", choice.data.max_eval))
            if value
        ]
        if sliced:
            st.caption("Slice: " + ", ".join(sliced) + " (set on the Data page)")
        reviewer_box()
    return choice


# ----------------------------------------------------------------------------------------------------- reviewer

REVIEWER = "reviewer"  # the name stored with each vetting decision: set once, kept in the workspace's settings


def reviewer() -> str | None:
    """Who is vetting: the name typed in the sidebar, read from the workspace's settings at a session's start."""
    if REVIEWER not in st.session_state:
        from adapt_core.workspace import load_settings

        st.session_state[REVIEWER] = load_settings().get(REVIEWER) or ""
    return st.session_state[REVIEWER].strip() or None


def _save_reviewer(widget_key: str) -> None:
    from adapt_core.workspace import save_setting

    st.session_state[REVIEWER] = st.session_state[widget_key].strip()
    save_setting(REVIEWER, st.session_state[REVIEWER] or None)


def reviewer_box() -> None:
    """The sidebar's reviewer name: typed once, saved in the workspace, stored with every decision on a token."""
    reviewer()
    st.session_state["_w_reviewer"] = st.session_state[REVIEWER]
    st.text_input(
        "Reviewer",
        key="_w_reviewer",
        placeholder="your name",
        on_change=_save_reviewer,
        args=("_w_reviewer",),
        help="Stored with each token decision you make (who and when), and in the exported vetted list.",
    )


def budget_sliders() -> None:
    """The β and top-k % sliders, bound to the shared choices: in the sidebar, or on the Sensitivity page inside the
    fragment that redraws the heatmap (a slider move then reruns only that fragment, not the whole page)."""
    bound(
        st.slider,
        "β (gradient weight)",
        BETA,
        min_value=0.0,
        max_value=5.0,
        step=0.1,
        help="Score S = norm(D) + β · norm(G): 0 ranks modules by dispersion only.",
    )
    bound(
        st.slider,
        "Top-k % of parameters",
        TOP_K,
        min_value=0.5,
        max_value=50.0,
        step=0.5,
        help="Budget: the share of the non-embedding parameters AdaPT trains.",
    )
