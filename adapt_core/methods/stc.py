"""Sparsify-then-Classify (`stc`) as a registered method: its options are `StcConfig` (stc_config.py), its
procedure (`stc_fit.fit_run`) replaces the training loop, and its model folder has its own loader."""

from __future__ import annotations

from dataclasses import replace

from adapt_core.methods.registry import register_method
from adapt_core.stc_config import StcConfig


def fit_stc(writer, data, run) -> dict:
    """STC on the run's model; the run's device unless the STC options name their own."""
    from adapt_core.stc_fit import fit_run

    settings = run.settings
    if settings.device == "auto":
        settings = replace(settings, device=run.train.device)
    return fit_run(writer, data, run.model, settings, run.train.seed)


def load_stc(model_dir):
    from adapt_core.stc_fit import load_predictor

    return load_predictor(model_dir)


register_method(
    "stc",
    StcConfig,
    fit=fit_stc,
    load=load_stc,
    help="Sparsify-then-Classify: L1 probes of the frozen model's neurons, early exit; no gradient training.",
)
