"""Train: pick a method and its hyperparameters, launch it in the background (a child process writing a run
folder), and watch the loss and dev macro-F1 live with progress and ETA; cancel a run; queue several. Everything
shown is read from the run folders, so a run is found again after a reload or in a new tab."""

from dataclasses import replace

import streamlit as st

from adapt_core import launcher
from adapt_core.forms import method_fields
from adapt_core.methods import METHODS, MethodConfig
from adapt_core.pipeline import TOKEN_METHODS, RunConfig
from adapt_core.train import TrainConfig
from studio import live, state, vetting
from studio.widgets import config_form, guard

st.title("Train")
st.caption("Step 4 · every method runs through the same training loop, one run at a time; the rest wait in the queue.")
choice = state.current()

method = st.selectbox(
    "Method",
    METHODS,
    index=METHODS.index("adapt"),
    key="method",
    help="adapt = AdaPT (sparse modules + new tokens); full, lora, prefix, layers = baselines; "
    "full+tokens, adapt-no-tokens = ablations; stc = Sparsify-then-Classify.",
)
fields = [f for f in method_fields(method) if f not in ("beta", "top_k")]
if {"beta", "top_k"} & set(method_fields(method)):
    st.caption(f"β = {choice.beta:g} and top-k = {choice.top_k:g} % come from the sidebar.")
method_config = config_form(
    MethodConfig,
    f"method:{method}",
    only=fields,
    columns=4,
    base=MethodConfig(method=method, beta=choice.beta, top_k=choice.top_k),
)
with st.expander("Training hyperparameters", icon=":material/tune:"):
    train_config = config_form(TrainConfig, "train", exclude=("device", "seed"), columns=4)
seeds = st.columns([1, 3])[0].number_input(
    "Seeds (one run each: 0, 1, …)", min_value=1, max_value=10, value=1, key="seeds"
)

tokens_path, vetted = vetting.load(choice.dataset, choice.model)
use_tokens = method in TOKEN_METHODS and bool(vetted.accepted())
if method in TOKEN_METHODS:
    if use_tokens:
        st.caption(f"Adds the {len(vetted.accepted())} accepted tokens from the Tokens page.")
    else:
        st.warning(
            "No accepted tokens for this dataset and model: the run will use the base vocabulary. "
            "Vet tokens on the Tokens page first.",
            icon=":material/warning:",
        )

if st.button(
    "Launch", type="primary", icon=":material/play_arrow:", disabled=method_config is None or train_config is None
):
    with guard("Launching"):
        for seed in range(int(seeds)):
            config = RunConfig(
                dataset=choice.dataset,
                model=choice.model,
                data=choice.data,
                method=method_config,
                tokens=str(tokens_path) if use_tokens else None,
                train=replace(train_config, seed=seed, device=choice.device),
            )
            launcher.launch(config)
    st.toast(f"Queued {int(seeds)} {method} run(s)", icon=":material/schedule:")

st.subheader("Runs")
live.runs_panel()
