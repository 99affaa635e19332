"""Train: pick a method and its hyperparameters, launch it in the background (a child process writing a run
folder), and watch the loss and dev macro-F1 live with progress and ETA; cancel a run; queue several. The methods,
their forms and their defaults (learning rate included) come from the method registry. An AdaPT run gets the vetted
tokens and the sensitivity measurement the other pages show, so it trains what they outlined. The form lives in the
page's address too (a reload keeps it), and before Launch the page says how many steps, how long and how much memory
the run as configured should take on this machine."""

from dataclasses import replace

import streamlit as st

from adapt_core import launcher
from adapt_core.forms import method_fields
from adapt_core.methods import get_method, method_names
from adapt_core.pipeline import RunConfig
from adapt_core.train import TrainConfig
from studio import live, measurement, persist, preview, state, vetting_view
from studio.widgets import guard

st.title("Train")
st.caption("Step 4 · every method runs through the same training loop, one run at a time; the rest wait in the queue.")
choice = state.current()
names = method_names()
method = st.selectbox(
    "Method",
    names,
    index=names.index(persist.initial("method", "adapt", names)),
    key="method",
    help=" · ".join(get_method(m).help for m in names),
)
persist.remember("method", method)
spec = get_method(method)
sidebar = {k: getattr(choice, k) for k in ("beta", "top_k") if k in method_fields(method)}
shared = measurement.SENSITIVITY_FIELDS if spec.uses_sensitivity else ()
if sidebar:
    st.caption(" and ".join(f"{k} = {v:g}" for k, v in sidebar.items()) + " come from the sidebar.")
settings = persist.form(
    spec.config,
    f"method:{method}",
    method,
    exclude=(*spec.hidden, *sidebar, *shared),
    defaults=spec.make(),
    columns=4,
    base=spec.make(sidebar),
)
if shared:
    with st.expander("Sensitivity settings (shared with the Sensitivity page)", icon=":material/science:"):
        sensitivity = measurement.settings_form()
    if settings is not None and sensitivity is not None:
        settings = replace(settings, **{k: getattr(sensitivity, k) for k in shared})
if spec.trains:
    with st.expander("Training hyperparameters", icon=":material/tune:"):
        train_config = persist.form(
            TrainConfig, measurement.TRAIN_FORM, "train", exclude=("device", "seed", "lr"), columns=4
        )
else:  # fits outside the loop (STC): the loop's settings would be shown, recorded and not used
    st.caption(f"{method} fits outside the training loop: its own settings above are all it takes.")
    train_config = TrainConfig()
seeds = st.columns([1, 3])[0].number_input(
    "Seeds (one run each: 0, 1, …)", min_value=1, max_value=10, value=persist.initial("seeds", 1), key="seeds"
)
persist.remember("seeds", int(seeds))
steps = preview.show(choice, method, train_config) if spec.trains else None

tokens_path, vetted = vetting_view.load(choice)
use_tokens = spec.uses_tokens and bool(vetted.accepted())
policy = "the run accepts them by its automatic policy" + (
    " and measures its sensitivity with them" * spec.uses_sensitivity
)
if spec.uses_tokens:
    n = len(vetted.accepted())
    st.caption(f"Adds the {n} accepted tokens from the Tokens page." if use_tokens else f"No vetted tokens: {policy}.")

ready = settings is not None and train_config is not None and not (shared and sensitivity is None)
saved = {}  # seed → the Sensitivity page's measurement its run takes (policy tokens are known only once a run has them)
if ready and spec.uses_sensitivity and (use_tokens or not spec.uses_tokens):
    saved = measurement.saved_for_runs(
        choice, settings, train_config, int(seeds), vetted.accepted() if use_tokens else []
    )
    st.caption(measurement.handoff_caption(saved))
label = f"Launch ({steps:,} steps{f' × {int(seeds)} seeds' if seeds > 1 else ''})" if steps else "Launch"
if st.button(label, key="launch", type="primary", icon=":material/play_arrow:", disabled=not ready):
    with guard("Launching"):
        for seed in range(int(seeds)):
            train = replace(train_config, seed=seed, device=choice.device)
            report = str(saved[seed]) if saved.get(seed) else None
            config = RunConfig(
                dataset=choice.dataset,
                model=choice.model,
                data=choice.data,
                method=method,
                settings=settings,
                tokens=str(tokens_path) if use_tokens else None,
                sensitivity=report,
                train=train,
            )
            launcher.launch(config)
    st.toast(f"Queued {int(seeds)} {method} run(s)", icon=":material/schedule:")

st.subheader("Runs")
live.runs_panel()
