"""The Train page's look ahead, drawn before Launch: how many steps the form implies (an empty Max steps means
epochs × batches, which can be thousands) and the wall time and peak memory to expect, estimated from the runs this
machine has finished (`adapt_core.estimate`), with where the numbers come from."""

from __future__ import annotations

import streamlit as st

from adapt_core.estimate import Plan, estimate, implied_evaluations, implied_steps, tokens_per_example
from adapt_core.models import pick_device
from adapt_core.run_reader import list_runs
from adapt_core.train import TrainConfig
from studio import resources
from studio.widgets import guard


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


def _steps_text(train: TrainConfig, n_train: int, steps: int) -> str:
    if train.max_steps:
        return f"**{steps:,} steps** (Max steps)"
    per_epoch = implied_steps(TrainConfig(epochs=1, batch_size=train.batch_size), n_train)
    return f"**{steps:,} steps** (Max steps is empty: {train.epochs:g} epochs × {per_epoch:,} batches of {n_train:,} texts)"


def show(choice, method: str, train: TrainConfig | None) -> int | None:
    """Draw the steps, time and memory of the run as configured; return its steps (None when it cannot tell)."""
    if train is None:
        return None
    with guard("Estimating the run", stop=False):
        task = resources.task(choice.dataset, choice.data)
        texts = task["train"].texts
        steps = implied_steps(train, len(texts))
        per_example = tokens_per_example(resources.tokenizer(choice.model), texts, train.max_length)
        plan = Plan(
            choice.model,
            method,
            steps,
            per_example * min(train.batch_size, len(texts)),
            implied_evaluations(train, len(texts)),
            pick_device(choice.device).type,
        )
        found = estimate(
            plan, list_runs(), params=lambda: resources.anatomy(choice.model, tuple(task.label_names)).total_params
        )
        time_text = f"≈ {_clock(found.seconds)}" if found.seconds is not None else "time unknown"
        memory = f", peak memory ≈ {found.peak_memory_bytes / 2**20:,.0f} MiB" if found.peak_memory_bytes else ""
        st.markdown(f"This run: {_steps_text(train, len(texts), steps)} · {time_text}{memory}")
        st.caption(("" if found.measured else ":orange[estimate] ") + found.basis)
        return steps
    return None
