"""A whole run, from config to run folder: data → (new tokens) → method → the training loop → evaluation → save.

`run_training(RunConfig, run_dir)` is what `python -m adapt_core train` does, and what the studio's child process
does, so a run started from either produces the same folder. SIGTERM and Ctrl-C end a run as `cancelled` with its
metrics so far intact; any other exception ends it as `failed` with the message.
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
import traceback
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from adapt_core.data import BENCHMARKS, DEFAULT_DATASET, DataConfig, TaskData, check_hub_id, load_dataset
from adapt_core.errors import AdaptError
from adapt_core.methods import MethodConfig, prepare, save_trained
from adapt_core.models import DEFAULT_MODEL, count_parameters, load_classifier, pick_device
from adapt_core.runs import RunWriter, Unreadable, check_config_shape, check_run_dir, claim_run_dir, read_object
from adapt_core.safeload import check_local_weights
from adapt_core.train import TrainConfig, evaluate_split, make_accelerator, train_steps

TOKEN_METHODS = ("adapt", "full+tokens")  # the methods that use vetted new tokens; the rest run on the base vocab


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs, as written to config.json."""

    dataset: str = field(default=DEFAULT_DATASET, metadata={"help": "Benchmark name or path to a data file."})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "Registry name, local folder or Hub id."})
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "Columns, splits, slicing."})
    method: MethodConfig = field(default_factory=MethodConfig, metadata={"help": "Method and its knobs."})
    train: TrainConfig = field(default_factory=TrainConfig, metadata={"help": "Optimisation."})
    tokens: str | None = field(default=None, metadata={"help": "Vetted token list (JSON/CSV) for adapt / full+tokens."})
    token_init: str = field(default="random", metadata={"help": "New-token embeddings: random (the paper) or mean."})
    stc: dict = field(default_factory=dict, metadata={"help": "Sparsify-then-Classify options (StcConfig fields)."})

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        nested = {"data": DataConfig, "method": MethodConfig, "train": TrainConfig}
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        for key, kind in nested.items():
            if key in kwargs:
                kwargs[key] = kind(**{k: v for k, v in kwargs[key].items() if k in {f.name for f in fields(kind)}})
        return cls(**kwargs)


class Cancelled(Exception):
    """Raised in the main thread on SIGTERM so the run can record `cancelled` and exit cleanly."""


def _on_sigterm(signum, frame):
    raise Cancelled()


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
    if config.dataset not in BENCHMARKS and not config.dataset.startswith("hf:"):
        _check_file(config.dataset, "dataset (--dataset)", folder_ok=True)
    if config.dataset.startswith("hf:"):
        check_hub_id(config.dataset[3:])
    check_local_weights(config.model)
    if run_dir is not None:
        check_run_dir(run_dir, overwrite)


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


def run_training(config: RunConfig, run_dir: Path | str, progress: bool = True, overwrite: bool = False) -> dict:
    """Run one experiment into `run_dir`; return the report. Raises Cancelled / the error after recording it.

    The request is checked before anything is written (`check_run_request`); the folder is then held with a lock for
    the whole run, so a second writer is refused, and with `overwrite` an earlier run in it is cleared first."""
    from accelerate import PartialState

    check_run_request(config)
    # The first PartialState fixes the distributed type for the process: on CPU it must know it is CPU, or two
    # processes under `accelerate launch` / torchrun each run alone instead of data-parallel (gloo).
    cpu = config.train.device == "cpu" or (config.train.device == "auto" and pick_device("auto").type == "cpu")
    main = PartialState(cpu=cpu).is_main_process
    with claim_run_dir(run_dir, overwrite) if main else contextlib.nullcontext():  # other ranks write nothing
        return _run_claimed(config, RunWriter(Path(run_dir), enabled=main), progress)


def _run_claimed(config: RunConfig, writer: RunWriter, progress: bool) -> dict:
    writer.write_config(config.to_dict())
    writer.set_status("running", step=0, total=None, error=None)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        report = _run(config, writer, progress)
    except (Cancelled, KeyboardInterrupt):
        writer.set_status("cancelled")
        raise
    except Exception as err:
        writer.set_status("failed", error=str(err) or type(err).__name__, traceback=traceback.format_exc())
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    writer.set_status("completed")
    return report


def _run(config: RunConfig, writer: RunWriter, progress: bool) -> dict:
    data = load_dataset(config.dataset, config.data)
    if config.method.method == "stc":
        from adapt_core.stc import StcConfig, fit_run

        # the training device is the run's device unless the STC options name their own
        stc = StcConfig(**{"device": config.train.device, **config.stc})
        report = fit_run(writer, data, config.model, stc, config.train.seed)
        writer.write_report(report)
        return report
    model, tokenizer = load_classifier(config.model, data.num_labels, data.label_names, seed=config.train.seed)
    token_info = _apply_tokens(model, tokenizer, config)
    prepared = prepare(model, tokenizer, config.method, data)
    acc = make_accelerator(config.train)
    started = time.perf_counter()
    summary = _train(prepared.model, tokenizer, data, config, writer, acc, progress)
    report = {
        "train_seconds": time.perf_counter() - started,
        **summary,
        **_evaluate(prepared.model, tokenizer, data, config, writer),
        **count_report(prepared.model),
        "method_info": prepared.info,
        "tokens": token_info,
        "data_notes": data.notes,
        "device": str(acc.device),
    }
    if acc.is_main_process:
        save_trained(acc.unwrap_model(prepared.model), tokenizer, writer.model_dir)
    writer.write_report(report)
    return report


def _apply_tokens(model, tokenizer, config: RunConfig) -> dict:
    if config.method.method not in TOKEN_METHODS or not config.tokens:
        return {"added": 0}
    from adapt_core.tokens import augment, load_vetted

    accepted = load_vetted(config.tokens).accepted()
    if not accepted:
        raise AdaptError(f"{config.tokens} has no accepted token: accept some in the Tokens page or drop --tokens")
    info = augment(model, tokenizer, accepted, init=config.token_init)
    return {"added": len(accepted), "init": config.token_init, **(info if isinstance(info, dict) else {})}


def _train(model, tokenizer, data, config, writer, acc, progress) -> dict:
    bar = _progress_bar(progress and acc.is_main_process)
    summary, tokens_per_s = {}, []
    for log in train_steps(model, tokenizer, data, config.train, accelerator=acc):
        tokens_per_s.append(log.tokens_per_s)
        writer.log(log.to_dict())
        writer.progress(log.step, log.total_steps)
        if bar is not None:
            bar.total = log.total_steps
            bar.set_postfix(loss=f"{log.loss:.3f}", **({"dev_f1": f"{log.eval['macro_f1']:.3f}"} if log.eval else {}))
            bar.update(1)
        summary = log.summary or summary
    if bar is not None:
        bar.close()
    return {**summary, "tokens_per_second": float(np.mean(tokens_per_s[1:] or tokens_per_s))}


def _progress_bar(enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc="train", unit="step")


def _evaluate(model, tokenizer, data: TaskData, config: RunConfig, writer: RunWriter) -> dict:
    """Dev and test scores for report.json; the full per-class report and confusion go to evaluation.json."""
    from adapt_core.runs import write_json

    out, details = {}, {}
    for split in ("dev", "test"):
        result = evaluate_split(
            model, tokenizer, data[split], data.label_names, config.train.eval_batch_size, config.train.max_length
        )
        out[split], details[split] = result.scores(), result.to_dict()
    if writer.enabled:
        write_json(writer.dir / "evaluation.json", {"label_names": data.label_names, **details})
    lengths = [len(ids) for ids in tokenizer(data["test"].texts, add_special_tokens=False)["input_ids"]]
    out["tokens_per_example"] = float(np.mean(lengths))
    return out


def count_report(model) -> dict:
    counts = count_parameters(model)
    return {"trainable_params": counts.trainable, "total_params": counts.total}
