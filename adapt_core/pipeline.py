"""A whole run, from config to run folder: data → (new tokens) → method → the training loop → evaluation → save.

`run_training(RunConfig, run_dir)` is what `python -m adapt_core train` does, and what the studio's child process
does, so a run started from either produces the same folder. SIGTERM and Ctrl-C end a run as `cancelled` with its
metrics so far intact; any other exception ends it as `failed` with the message.

The method comes from the registry (`RunConfig.method` names it, `settings` is its config): a method that uses new
tokens gets them first (`token_record.run_tokens`: the vetted list `tokens`, else its config's policy; recorded in
`tokens.json`), a method that selects by sensitivity gets the report named by `sensitivity` (measuring only when there
is none; its choice goes to `selection.json`), and a method outside the training loop (STC) runs its own `fit`. The
learning rate is TrainConfig.lr when given, else the method's own (`RunConfig.lr`).

Each phase (load, mine, score, accept tokens, sensitivity, train, evaluate, save: `run_status.PHASES`) is entered through
`_Phases`, which records it with its progress in status.json (the studio shows it by name) and, with `progress`,
prints it for the CLI: both name the same steps.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
import traceback
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from adapt_core.data import DEFAULT_DATASET, DataConfig, TaskData, load_dataset
from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_json
from adapt_core.methods import get_method, prepare, save_trained
from adapt_core.models import DEFAULT_MODEL, count_parameters, load_classifier, pick_device
from adapt_core.progress import Throttled
from adapt_core.run_status import PHASES
from adapt_core.run_writer import RunWriter, claim_run_dir
from adapt_core.train import TrainConfig, make_accelerator, train_steps


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs, as written to config.json."""

    dataset: str = field(default=DEFAULT_DATASET, metadata={"help": "Benchmark name or path to a data file."})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "Registry name, local folder or Hub id."})
    data: DataConfig = field(default_factory=DataConfig, metadata={"help": "Columns, splits, slicing."})
    method: str = field(default="full", metadata={"help": "A registered method (methods.method_names())."})
    settings: object = field(
        default=None, metadata={"help": "The method's config (its registered class); empty = its defaults."}
    )
    train: TrainConfig = field(default_factory=TrainConfig, metadata={"help": "Optimisation."})
    tokens: str | None = field(
        default=None,
        metadata={"help": "Vetted token list (JSON/CSV) for a method with new tokens; empty = its automatic policy."},
    )
    sensitivity: str | None = field(
        default=None,
        metadata={"help": "A saved sensitivity report (JSON) for AdaPT to select from; empty = measure in the run."},
    )

    def __post_init__(self):
        spec = get_method(self.method)
        settings = self.settings
        if settings is None or isinstance(settings, dict):
            settings = spec.make(_nested(spec.config, settings or {}))
        elif type(settings) is not spec.config:
            raise AdaptError(f"method {self.method!r} takes a {spec.config.__name__}, not a {type(settings).__name__}")
        object.__setattr__(self, "settings", settings)
        if self.tokens and not spec.uses_tokens:
            raise AdaptError(f"method {self.method} adds no new tokens: drop the vetted list (--tokens)")
        if self.sensitivity and not spec.uses_sensitivity:
            raise AdaptError(f"method {self.method} selects no modules by sensitivity: drop the report (--sensitivity)")

    @property
    def spec(self):
        return get_method(self.method)

    @property
    def lr(self) -> float | None:
        """The learning rate the run trains with: TrainConfig.lr when given, else the method's own."""
        return self.train.lr if self.train.lr is not None else getattr(self.settings, "lr", None)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in d.items() if k in known}
        for key, kind in {"data": DataConfig, "train": TrainConfig}.items():
            if key in kwargs:
                kwargs[key] = kind(**{k: v for k, v in kwargs[key].items() if k in {f.name for f in fields(kind)}})
        if isinstance(kwargs.get("method"), dict):  # a config.json written before the registry
            kwargs["method"] = kwargs["method"].get("method", "full")
        return cls(**kwargs)


def _nested(cls, values: dict) -> dict:
    """`values` with the dicts of nested dataclass fields (AdaPT's `tokens`) built into their classes."""
    import typing

    hints = typing.get_type_hints(cls)
    out = dict(values)
    for f in fields(cls):
        if isinstance(out.get(f.name), dict):
            kind = type(f.default_factory()) if callable(f.default_factory) else hints[f.name]
            out[f.name] = kind(**out[f.name])
    return out


class Cancelled(BaseException):  # not an Exception: no `except Exception` on the way may swallow a cancel
    """Raised in the main thread on SIGTERM so the run can record `cancelled` and exit cleanly."""


def _on_sigterm(signum, frame):
    raise Cancelled()


def run_training(config: RunConfig, run_dir: Path | str, progress: bool = True, overwrite: bool = False) -> dict:
    """Run one experiment into `run_dir`; return the report. Raises Cancelled / the error after recording it.

    The request is checked before anything is written (`check_run_request`); the folder is then held with a lock for
    the whole run, so a second writer is refused, and with `overwrite` an earlier run in it is cleared first."""
    from accelerate import PartialState

    from adapt_core.run_request import check_run_request

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


class _Phases:
    """Enters the run's phases: status.json records each with its progress (RunWriter.phase), and with `show` the
    CLI prints each as it starts. Progress within a phase is passed on at most twice a second (`counter`)."""

    def __init__(self, writer: RunWriter, show: bool):
        self.writer, self.show, self.current = writer, show and writer.enabled, None

    def enter(self, name: str, done: int | None = None, total: int | None = None) -> None:
        if self.show and name != self.current:
            print(f"[{name}] {PHASES[name]}", file=sys.stderr, flush=True)
        self.current = name
        self.writer.phase(name, done, total)

    def counter(self, name: str) -> Throttled:
        """A `progress(done, total)` callback for phase `name`."""
        return Throttled(lambda done, total: self.enter(name, done, total))

    def start(self, name: str) -> Throttled:
        """Enter phase `name` now and return its progress callback."""
        self.enter(name)
        return self.counter(name)

    def tokens(self):
        """Scoring's progress callback: phase `score` while candidates are scored, `accept` once all are."""
        score = self.counter("score")

        def progress(done: int, total: int) -> None:
            if self.current == "accept":
                return  # scoring may report its end twice (candidates without pieces are counted last)
            score(done, total)
            if done >= total:
                self.enter("accept")

        return progress


def _run(config: RunConfig, writer: RunWriter, progress: bool) -> dict:
    spec, phases = config.spec, _Phases(writer, progress)
    began = time.perf_counter()
    phases.enter("load")
    data = load_dataset(config.dataset, config.data)
    if spec.fit is not None:  # a method outside the training loop (STC)
        phases.enter("train")
        report = spec.fit(writer, data, config)
        writer.write_report(report)
        return report
    model, tokenizer = load_classifier(config.model, data.num_labels, data.label_names, seed=config.train.seed)
    token_info = _apply_tokens(model, tokenizer, data, config, writer, phases)
    train = replace(config.train, lr=config.lr)
    from adapt_core.run_request import given_sensitivity

    report_in = given_sensitivity(config) if spec.uses_sensitivity else None
    measuring = phases.start("sensitivity") if spec.uses_sensitivity else None
    prepared = prepare(model, tokenizer, config.settings, data, report=report_in, train=train, progress=measuring)
    if prepared.selection is not None and writer.enabled:
        atomic_write_json(writer.dir / "selection.json", prepared.selection)
    acc = make_accelerator(train)
    started = time.perf_counter()
    setup_seconds = started - began  # load, tokens and sensitivity: what a user waits before the first step
    phases.enter("train")
    summary = _train(prepared.model, tokenizer, data, config, train, writer, acc, progress)
    report = {
        "train_seconds": time.perf_counter() - started,
        "setup_seconds": setup_seconds,
        **summary,
        **_evaluate(prepared.model, tokenizer, data, config, writer, phases.start("evaluate")),
        **count_report(prepared.model),
        "lr": train.lr,
        "method_info": {"method": config.method, **prepared.info},
        "tokens": token_info,
        "data_notes": data.notes,
        "device": str(acc.device),
    }
    phases.enter("save")
    if acc.is_main_process:
        save_trained(acc.unwrap_model(prepared.model), tokenizer, writer.model_dir)
    writer.write_report(report)
    return report


def _apply_tokens(model, tokenizer, data, config: RunConfig, writer: RunWriter, phases: _Phases) -> dict:
    """Add the run's new tokens (vetted list, else the method's policy); tokens.json records them."""
    if not config.spec.uses_tokens:
        return {"added": 0}
    from adapt_core.token_record import run_tokens

    phases.enter("accept" if config.tokens else "mine")  # a vetted list is neither mined nor scored again
    settings = config.settings
    record = run_tokens(
        model,
        tokenizer,
        data,
        config.model,
        vetted_path=config.tokens,
        policy=settings.tokens,
        init=settings.token_init,
        seed=config.train.seed,
        progress=phases.tokens(),
    )
    if writer.enabled:
        atomic_write_json(writer.dir / "tokens.json", record.to_dict())
    return record.summary()


def _train(model, tokenizer, data, config, train, writer, acc, progress) -> dict:
    bar = _progress_bar(progress and acc.is_main_process)
    summary, tokens_per_s = {}, []
    for log in train_steps(model, tokenizer, data, train, accelerator=acc, eval_progress=writer.eval_progress):
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


def _evaluate(model, tokenizer, data: TaskData, config: RunConfig, writer: RunWriter, progress=None) -> dict:
    """Dev and test scores for report.json; the full per-class report and confusion go to evaluation.json, the test
    examples with their predictions to predictions.json (the studio's Analysis page). `progress(done, total)`
    follows the batches of both splits together."""
    from adapt_core.evaluate import evaluate, predict_proba
    from adapt_core.run_analysis import write_predictions

    out, details, proba = {}, {}, {}
    size = config.train.eval_batch_size
    total, offset = sum(-(-len(data[split].texts) // size) for split in ("dev", "test")), 0
    for split in ("dev", "test"):  # evaluate_split's two steps, kept apart so the test probabilities can be written
        batches = -(-len(data[split].texts) // size)
        counted = None if progress is None else (lambda done, _n, at=offset: progress(at + done, total))
        started = time.perf_counter()
        proba[split] = predict_proba(
            model, tokenizer, data[split].texts, size, config.train.max_length, progress=counted
        )
        # inference speed of the trained model as it is saved (tokenizer included: new tokens shorten texts)
        out[f"{split}_examples_per_second"] = len(data[split]) / max(time.perf_counter() - started, 1e-9)
        offset += batches
        result = evaluate(data[split].labels, proba[split].argmax(axis=1), data.label_names)
        out[split], details[split] = result.scores(), result.to_dict()
    if writer.enabled:
        atomic_write_json(writer.dir / "evaluation.json", {"label_names": data.label_names, **details})
        write_predictions(writer.dir, data["test"], proba["test"], data.label_names, tokenizer)
    lengths = [len(ids) for ids in tokenizer(data["test"].texts, add_special_tokens=False)["input_ids"]]
    out["tokens_per_example"] = float(np.mean(lengths))
    return out


def count_report(model) -> dict:
    counts = count_parameters(model)
    return {"trainable_params": counts.trainable, "total_params": counts.total}
