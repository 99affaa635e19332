"""The sensitivity measurement the Sensitivity page shows and the Train page hands to AdaPT runs: one shared
settings form, one key, one file — so what the page outlines is what the run trains, and the run does not measure
again (`RunConfig.sensitivity`).

The settings that decide a measurement are AdaPT's own (`methods.adapt.SENSITIVITY_FIELDS`, drawn on both pages from
the same session keys) plus the run's max_length (the Train form's) and seed. The key also holds the data slice,
the model and the added tokens (`workspace.sensitivity_key`).
"""

from __future__ import annotations

from dataclasses import asdict, fields
from pathlib import Path

import streamlit as st

from adapt_core.budget import budget_table
from adapt_core.errors import AdaptError
from adapt_core.methods import AdaptConfig
from adapt_core.methods.adapt import SENSITIVITY_FIELDS
from adapt_core.sensitivity import SensitivityConfig
from adapt_core.tokens import INITS as TOKEN_INITS
from adapt_core.train import TrainConfig
from adapt_core.workspace import load_report, sensitivity_key, sensitivity_path
from studio import persist

FORM = "adapt-sensitivity"  # the session keys of the shared settings form
TRAIN_FORM = "train"  # the Train page's TrainConfig form


def settings_form(columns: int = 4) -> AdaptConfig | None:
    """AdaPT's sensitivity settings (grouping included), the same widgets state on both pages, kept in the address
    (`sens.<field>`) like the Train form, so a reload launches with what the form showed."""
    others = tuple(f.name for f in fields(AdaptConfig) if f.name not in SENSITIVITY_FIELDS)
    return persist.form(AdaptConfig, FORM, "sens", exclude=others, columns=columns)


def token_controls(accepted: list[str]) -> tuple[list[str], str]:
    """(the tokens to add before measuring, their init): the accepted ones unless switched off, and the init a run
    must share to take the measurement (AdaPT's default; adapt-random-init's runs use random)."""
    use = st.toggle(
        f"Add the {len(accepted)} accepted tokens first",
        value=bool(accepted) and persist.initial("sens.add_tokens", True),
        disabled=not accepted,
        key="sens_tokens",
    )
    init = st.selectbox(
        "New-token init (a run takes this measurement only with the same token_init)",
        TOKEN_INITS,
        index=TOKEN_INITS.index(persist.initial("sens.token_init", AdaptConfig().token_init, TOKEN_INITS)),
        key="sens_token_init",
        disabled=not use,
    )
    if accepted:  # with nothing to add the toggle is forced off: not the user's choice to keep
        persist.remember("sens.add_tokens", bool(use))
    persist.remember("sens.token_init", init)
    return (accepted if use else []), init


def run_max_length() -> int:
    """The max_length the Train form will give the run (the measurement must use the same); AdaptError when the
    form holds one no run accepts (the Train page says so too), rather than measuring with another."""
    value = st.session_state.get(f"form:{TRAIN_FORM}:max_length")
    if value is None or value == "":
        return TrainConfig().max_length
    try:
        return TrainConfig(max_length=int(value)).max_length
    except (AdaptError, TypeError, ValueError) as err:
        raise AdaptError(
            f"the Train page's Max length ({value}) is not one a run takes ({err}): fix it there"
        ) from None


def measure_config(settings: AdaptConfig, device: str, seed: int = 0, max_length: int | None = None):
    return settings.sensitivity_config(max_length or run_max_length(), seed, device)


def report_path(choice, tokens: list[str], config: SensitivityConfig, token_init: str = "mean") -> Path:
    """Where the measurement for these data, model, tokens (and their init) and settings is saved. The device does
    not change the result, nor does the grouping (D and G are per nn.Linear; a grouping is applied on the fly), so
    neither is in the key."""
    settings = {k: v for k, v in asdict(config).items() if k not in ("device", "grouping")}
    if tokens:  # how the new embeddings start changes G (without tokens the key is as it always was)
        settings["token_init"] = token_init
    return sensitivity_path(sensitivity_key(choice.dataset, asdict(choice.data), choice.model, tokens, settings))


def saved_for_runs(choice, settings: AdaptConfig, train: TrainConfig, seeds: int, tokens: list[str]) -> dict:
    """{seed: the saved measurement its run takes, or None (it measures its own)}: the one lookup the Train page
    both tells the user about and launches with, keyed as the Sensitivity page saves (settings, the run's max_length
    and seed, the tokens and their init)."""
    out = {}
    for seed in range(seeds):
        path = report_path(
            choice, tokens, measure_config(settings, choice.device, seed, train.max_length), settings.token_init
        )
        out[seed] = path if path.is_file() else None
    return out


def handoff_caption(saved: dict) -> str:
    """What the Train page says before Launch about where each run's sensitivity comes from."""
    taken = [s for s, p in saved.items() if p is not None]
    own = [s for s, p in saved.items() if p is None]
    if not own:
        return "Sensitivity: each run takes the measurement the Sensitivity page saved for these settings."
    if not taken:
        return (
            "Sensitivity: no saved measurement matches these settings, tokens, token init, max length and seed, so each "
            "run measures its own (the Sensitivity page measures seed 0 with the Train form's max length)."
        )
    return (
        f"Sensitivity: seed {', '.join(map(str, taken))} takes the Sensitivity page's measurement; seed "
        f"{', '.join(map(str, own))} measures its own (none saved for that seed)."
    )


@st.cache_data(show_spinner=False, max_entries=16)
def _saved_report(path: str, stamp: int):
    return load_report(Path(path))


def saved_report(path: Path):
    """The measurement saved at `path`, or None: read and parsed once per version of the file (its mtime is in the
    key), so a slider move or a page switch does not parse the JSON again, and a new measurement is seen at once."""
    stamp = path.stat().st_mtime_ns if path.exists() else 0
    return _saved_report(str(path), stamp) if stamp else None


def budget_panel(anatomy, selection, new_token_params: int) -> None:
    """What the budget buys: AdaPT's selection beside LoRA, layer selection and full finetuning (`budget_table`),
    every percentage of the one denominator, the model's non-embedding parameters."""
    st.subheader("What the budget buys")
    rank = st.slider("LoRA rank r", 1, 64, 8, key="lora_rank")
    table = budget_table(anatomy, selection, rank, new_token_params=new_token_params)
    adapt = table.iloc[0]
    cols = st.columns(4)
    cols[0].metric("Trainable parameters", f"{adapt.trainable_params:,}", help="Modules, new-token embeddings, head.")
    cols[1].metric("Budget used", f"{adapt.budget_percent:.2f} %", help="% of non-embedding parameters, as above.")
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
