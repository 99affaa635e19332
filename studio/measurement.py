"""The sensitivity measurement the Sensitivity page shows and the Train page hands to AdaPT runs: one shared
settings form, one key, one file — so what the page outlines is what the run trains, and the run does not measure
again (`RunConfig.sensitivity`).

The settings that decide a measurement are AdaPT's own (`methods.adapt.SENSITIVITY_FIELDS`, drawn on both pages from
the same session keys) plus the run's max_length (the Train form's) and seed. The key also holds the data slice,
the model and the added tokens (`workspace.sensitivity_key`).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import streamlit as st

from adapt_core.methods import AdaptConfig
from adapt_core.methods.adapt import SENSITIVITY_FIELDS
from adapt_core.sensitivity import SensitivityConfig
from adapt_core.train import TrainConfig
from adapt_core.workspace import sensitivity_key, sensitivity_path
from studio.widgets import config_form

FORM = "adapt-sensitivity"  # the session keys of the shared settings form
TRAIN_FORM = "train"  # the Train page's TrainConfig form


def settings_form(columns: int = 4) -> AdaptConfig | None:
    """AdaPT's sensitivity settings (grouping included), the same widgets state on both pages."""
    return config_form(AdaptConfig, FORM, only=SENSITIVITY_FIELDS, columns=columns)


def run_max_length() -> int:
    """The max_length the Train form will give the run (the measurement must use the same)."""
    value = st.session_state.get(f"form:{TRAIN_FORM}:max_length")
    return int(value) if value else TrainConfig().max_length


def measure_config(settings: AdaptConfig, device: str, seed: int = 0, max_length: int | None = None):
    return settings.sensitivity_config(max_length or run_max_length(), seed, device)


def report_path(choice, tokens: list[str], config: SensitivityConfig) -> Path:
    """Where the measurement for these data, model, tokens and settings is saved. The device does not change the
    result, nor does the grouping (D and G are per nn.Linear; a grouping is applied on the fly), so neither is in
    the key."""
    settings = {k: v for k, v in asdict(config).items() if k not in ("device", "grouping")}
    return sensitivity_path(sensitivity_key(choice.dataset, asdict(choice.data), choice.model, tokens, settings))
