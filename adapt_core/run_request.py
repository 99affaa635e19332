"""A run request, checked before anything is created or loaded: `train --config` files read strictly
(`read_config_file`), and `check_run_request`, which the CLI, `pipeline.run_training` and the studio's launcher all
call, so each refuses the same requests the same way: numbers finite, the device present, named files there and
sound (a token list that accepts something, a sensitivity report measured as the run would measure, with the same
new tokens), the run folder writable."""

from __future__ import annotations

import math
from dataclasses import asdict, fields
from pathlib import Path

from adapt_core.data import BENCHMARKS, DataConfig, check_hub_id
from adapt_core.errors import AdaptError
from adapt_core.fileio import Unreadable, read_object
from adapt_core.models import check_model_source, pick_device
from adapt_core.pipeline import RunConfig
from adapt_core.run_reader import check_config_shape
from adapt_core.run_writer import check_run_dir
from adapt_core.safeload import check_local_weights
from adapt_core.train import TrainConfig


def read_config_file(path: Path | str) -> RunConfig:
    """A RunConfig from a config.json (`train --config`); every problem with the file is one AdaptError line."""
    path = Path(path)
    try:
        payload = read_object(path)
    except FileNotFoundError as err:
        raise AdaptError(f"config file {path} not found: check the path given to --config") from err
    except Unreadable as err:
        raise AdaptError(f"config file {path} is unusable: {err}") from err
    try:
        check_config_shape(payload)
        _check_known_fields(payload)
        return RunConfig.from_dict(payload)
    except Unreadable as err:
        raise AdaptError(f"config file {path} is unusable: {err}") from err
    except (TypeError, ValueError, AttributeError) as err:
        raise AdaptError(f"config file {path} has a wrong field: {err}") from err


def check_run_request(config: RunConfig, run_dir: Path | str | None = None, overwrite: bool = False) -> None:
    """Everything about a run that can be checked before its folder is created and before any model or data loads:
    numbers are finite, the device exists, named files exist, and `run_dir` (when given) may be written. The CLI,
    `run_training` and the studio's launcher all call this, so each refuses the same requests the same way."""
    _check_finite(config.to_dict())
    pick_device(config.train.device)  # AdaptError when the device is absent
    _check_file(config.tokens, "token list (--tokens)")
    _check_file(config.sensitivity, "sensitivity report (--sensitivity)")
    if config.tokens:  # its content too: a bad list must not fail the run after an --overwrite cleared the folder
        from adapt_core.token_record import load_accepted

        load_accepted(config.tokens)
    if config.sensitivity:
        _check_measured_alike(given_sensitivity(config), config)
    if config.spec.check_model is not None:
        config.spec.check_model(config.model)  # e.g. prefix tuning on a model that cannot take a prefix
    if config.dataset not in BENCHMARKS and not config.dataset.startswith("hf:"):
        _check_file(config.dataset, "dataset (--dataset)", folder_ok=True)
    if config.dataset.startswith("hf:"):
        check_hub_id(config.dataset[3:])
    check_model_source(config.model)
    check_local_weights(config.model)
    if run_dir is not None:
        check_run_dir(run_dir, overwrite)


# The settings that change a sensitivity measurement (batch size, device and grouping do not: D and G are per
# nn.Linear, a grouping is applied on the fly)
MEASURED_WITH = ("calibration_size", "positions", "head_warmup_steps", "head_warmup_lr", "max_length", "seed")


def _check_measured_alike(report, config: RunConfig) -> None:
    """A given report is used in place of measuring, so it must be what this run would measure: the same AdaPT
    settings, the run's max_length and seed. A report from before reports recorded their settings is taken as is."""
    measured = report.meta.get("config")
    if not measured or not hasattr(config.settings, "sensitivity_config"):
        return
    wanted = asdict(config.settings.sensitivity_config(config.train.max_length, config.train.seed))
    used = report.meta.get("calibration_examples")  # what an empty calibration_size resolved to on these data

    def resolved(key, value):
        return used if key == "calibration_size" and value is None else value

    for key in MEASURED_WITH:
        if key in measured and resolved(key, measured[key]) != resolved(key, wanted[key]):
            raise AdaptError(
                f"sensitivity report {config.sensitivity} was measured with {key} {measured[key]}, this run has "
                f"{wanted[key]}: measure again with the run's settings (`sensitivity --save-report`) or drop it"
            )
    _check_measured_tokens(report.meta.get("tokens"), config)


def _check_measured_tokens(recorded: dict | None, config: RunConfig) -> None:
    """The new tokens a report was measured with (`sensitivity.measure_added`) against the run's: its vetted list's
    accepted ones with its init, or none. (A run whose tokens come from the policy is known only once it runs;
    a report from before reports recorded tokens is taken as is.)"""
    if recorded is None or (config.spec.uses_tokens and not config.tokens):
        return
    from adapt_core.token_record import load_accepted

    added = sorted(load_accepted(config.tokens).accepted()) if config.spec.uses_tokens else []
    init = config.settings.token_init if added else None
    if (recorded.get("added") or []) != added or (added and recorded.get("init") != init):
        had = f"{len(recorded.get('added') or [])} new tokens" + (
            f" ({recorded['init']} init)" if recorded.get("init") else ""
        )
        has = f"{len(added)}" + (f" ({init} init)" if init else "")
        raise AdaptError(
            f"sensitivity report {config.sensitivity} was measured with {had}, this run adds {has}: measure with "
            "the run's token list and init (`sensitivity --tokens LIST --token-init …`) or drop it"
        )


def _check_finite(payload, where: str = "") -> None:
    if isinstance(payload, dict):
        for key, value in payload.items():
            _check_finite(value, f"{where}.{key}" if where else str(key))
    elif isinstance(payload, list | tuple):
        for i, value in enumerate(payload):
            _check_finite(value, f"{where}[{i}]")
    elif isinstance(payload, float) and not math.isfinite(payload):
        raise AdaptError(f"{where} is {payload}: give a finite number")


def _check_file(path: str | None, what: str, folder_ok: bool = False) -> None:
    if path and not (Path(path).is_file() or (folder_ok and Path(path).is_dir())):
        raise AdaptError(f"file not found: {path}, given as the {what}; check the path")


def _check_known_fields(payload: dict) -> None:
    """A file given to `train --config` runs as written or not at all: a field RunConfig does not read (a typo, a
    setting at the wrong level, the shape before the method registry) would otherwise be dropped without a word and
    the run would train with the default in its place. (A run folder's own config.json reads leniently:
    `RunConfig.from_dict`.)"""
    if isinstance(payload.get("method"), dict):
        raise Unreadable(
            "config.json: 'method' is an object (the shape before the method registry): name the method "
            '("method": "stc") and put its settings in "settings"'
        )
    for where, values, kind in (
        ("", payload, RunConfig),
        ("data", payload.get("data") or {}, DataConfig),
        ("train", payload.get("train") or {}, TrainConfig),
    ):
        known = sorted(f.name for f in fields(kind))
        unknown = sorted(set(values) - set(known))
        if unknown:
            name = f"{where}.{unknown[0]}" if where else unknown[0]
            raise Unreadable(
                f"config.json: unknown field '{name}' ({where or 'the top level'} takes {', '.join(known)}); "
                'a method\'s own settings go in "settings"'
            )


def given_sensitivity(config: RunConfig):
    """The SensitivityReport the run was handed (`--sensitivity FILE`, or the studio's cached one), or None."""
    if not config.sensitivity:
        return None
    import json

    from adapt_core.selection import SensitivityReport

    try:
        return SensitivityReport.from_dict(json.loads(Path(config.sensitivity).read_text()))
    except FileNotFoundError:
        raise AdaptError(f"sensitivity report {config.sensitivity} not found: check the path or drop it") from None
    except (ValueError, KeyError, TypeError) as err:
        raise AdaptError(
            f"{config.sensitivity} is not a sensitivity report ({err}): save one with `sensitivity --save-report`"
        ) from None
