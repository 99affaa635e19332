"""The one training loop every method runs through: `train_steps(...)` yields a `StepLog` per optimizer step.

Whatever the method (full, AdaPT, LoRA, prefix, layers), the model arrives with exactly its trainable parameters
marked `requires_grad`; this loop builds AdamW over those alone, so the optimizer state is the method's real cost.
Same seed → same data order and same head initialisation, so methods are compared on identical batches.
`accelerate` wraps model, optimizer and data: one process on a laptop, data-parallel under `accelerate launch`,
with no code path of its own. Progress is the iterator; `train(...)` just consumes it.
"""

from __future__ import annotations

import copy
import math
import re
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

from adapt_core.data import Split, TaskData
from adapt_core.errors import AdaptError
from adapt_core.evaluate import EvalResult, evaluate, predict_proba


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation hyperparameters shared by every method."""

    epochs: float = field(default=3.0, metadata={"help": "Passes over the training split (fractions allowed)."})
    max_steps: int | None = field(
        default=None, metadata={"help": "Stop after this many optimizer steps (overrides epochs)."}
    )
    batch_size: int = field(default=32, metadata={"help": "Examples per optimizer step (per process)."})
    lr: float | None = field(
        default=None, metadata={"help": "Peak learning rate of AdamW; empty = the method's own rate (its config's lr)."}
    )
    weight_decay: float = field(
        default=0.01, metadata={"help": "AdamW decoupled weight decay (not on biases, norms, new embeddings)."}
    )
    warmup_ratio: float = field(
        default=0.06, metadata={"help": "Share of steps with linear warm-up, then linear decay to 0."}
    )
    max_grad_norm: float = field(default=1.0, metadata={"help": "Gradient clipping threshold (0 = no clipping)."})
    max_length: int = field(default=128, metadata={"help": "Truncate texts to this many tokens."})
    eval_every: int = field(default=0, metadata={"help": "Evaluate on dev every N steps (0 = only at each epoch end)."})
    eval_batch_size: int = field(default=64, metadata={"help": "Batch size for evaluation."})
    keep_best: bool = field(
        default=True, metadata={"help": "Restore the checkpoint with the best dev macro-F1 at the end."}
    )
    patience: int = field(
        default=0,
        metadata={
            "help": "Stop when dev macro-F1 has not improved for this many evaluations in a row (0 = never stop "
            "early), counted only once it has risen above its first evaluation: a model still on its starting "
            "plateau (e.g. predicting the majority class) has not begun to learn and is not stopped."
        },
    )
    group_by_length: bool = field(
        default=False,
        metadata={
            "help": "Batch texts of similar length together (shuffled chunks of 50 batches, sorted within): "
            "less padding, so cheaper steps; the batches' order stays random."
        },
    )
    seed: int = field(default=0, metadata={"help": "Seed for data order, dropout and new weights."})
    device: str = field(default="auto", metadata={"help": "auto (CUDA > MPS > CPU), cuda, mps or cpu."})
    dtype: str = field(default="auto", metadata={"help": "auto (bf16 autocast on CUDA, else fp32), fp32, bf16, fp16."})

    def __post_init__(self):
        _check_numbers(self)
        checks = [
            (
                self.device in ("auto", "cpu", "mps") or DEVICE.match(self.device),
                "device must be auto, cpu, cuda[:N] or mps",
            ),
            (self.dtype in DTYPES, f"dtype must be one of {', '.join(DTYPES)}"),
            (self.epochs > 0, "epochs must be > 0"),
            (self.batch_size >= 1, "batch_size must be ≥ 1"),
            (self.lr is None or self.lr > 0, "lr must be > 0 or empty (the method's rate)"),
            (0 <= self.warmup_ratio < 1, "warmup_ratio must be in [0, 1)"),
            (self.max_length >= 8, "max_length must be ≥ 8 tokens"),
            (self.eval_every >= 0, "eval_every must be ≥ 0"),
            (self.patience >= 0, "patience must be ≥ 0 evaluations"),
            (self.max_steps is None or self.max_steps >= 1, "max_steps must be ≥ 1 or empty"),
        ]
        for ok, message in checks:
            if not ok:
                raise AdaptError(message)


DEVICE = re.compile(r"^cuda(:\d+)?$")
DTYPES = ("auto", "fp32", "float32", "bf16", "bfloat16", "fp16", "float16")


def _check_numbers(config) -> None:
    """Every numeric field holds a finite number of the right kind (`--lr inf` or a "5e-5" text in a config file
    would otherwise fail deep in the optimizer, or train on nonsense)."""
    for f in fields(config):
        value = getattr(config, f.name)
        if isinstance(value, float) and not math.isfinite(value):  # optional numbers (lr) included
            raise AdaptError(f"{f.name} must be a finite number (got {value}); {f.metadata['help']}")
        if isinstance(f.default, bool):
            if not isinstance(value, bool):
                raise AdaptError(f"{f.name} must be true or false (got {value!r})")
        elif isinstance(f.default, int | float) or f.name == "max_steps":
            if value is None and f.default is None:
                continue
            whole = isinstance(f.default, int) or f.name == "max_steps"
            kinds = int if whole else int | float
            if isinstance(value, bool) or not isinstance(value, kinds):
                raise AdaptError(f"{f.name} must be a {'whole ' if whole else ''}number (got {value!r})")
            if not math.isfinite(value):
                raise AdaptError(f"{f.name} must be a finite number (got {value}); {f.metadata['help']}")


@dataclass
class StepLog:
    """One optimizer step. `eval` holds dev metrics on steps that evaluated; `summary` is set on the last step."""

    step: int
    total_steps: int
    epoch: float
    loss: float
    lr: float
    grad_norm: float
    tokens_per_s: float
    elapsed: float
    eval: dict | None = None
    summary: dict | None = None

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.__dict__.items() if v is not None and k not in ("eval", "summary")}
        if self.eval:
            d |= {f"dev_{k}": v for k, v in self.eval.items()}
        return d


class _Batches:
    """Pre-tokenized examples → dynamically padded batches (pad to the longest in the batch, not max_length)."""

    def __init__(self, tokenizer, split: Split, max_length: int):
        enc = tokenizer(split.texts, truncation=True, max_length=max_length)
        self.ids = enc["input_ids"]
        self.labels = split.labels
        self.pad_id = tokenizer.pad_token_id
        self.padding_side = getattr(tokenizer, "padding_side", "right")

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> int:
        return i

    def collate(self, idx: list[int]) -> dict[str, torch.Tensor]:
        width = max(len(self.ids[i]) for i in idx)
        input_ids = torch.full((len(idx), width), self.pad_id, dtype=torch.long)  # (batch, width)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            ids = torch.tensor(self.ids[i])
            cols = slice(width - len(ids), width) if self.padding_side == "left" else slice(0, len(ids))
            input_ids[row, cols], mask[row, cols] = ids, 1
        return {"input_ids": input_ids, "attention_mask": mask, "labels": torch.tensor([self.labels[i] for i in idx])}


class LengthGroupedBatches(torch.utils.data.Sampler):
    """Batches of indices of similar length, for `group_by_length`: each epoch shuffles all indices, cuts them into
    chunks of `chunk` batches, sorts each chunk by length (longest first) and cuts it into batches, then shuffles
    the batches. Every index appears exactly once per epoch, as with plain shuffling; a batch's texts are of similar
    length, so dynamic padding adds little."""

    def __init__(self, lengths: list[int], batch_size: int, seed: int, chunk: int = 50):
        self.lengths, self.batch_size, self.chunk = list(lengths), batch_size, chunk
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths), generator=self.generator).tolist()
        size = self.batch_size * self.chunk
        batches = []
        for start in range(0, len(order), size):
            part = sorted(order[start : start + size], key=lambda i: -self.lengths[i])
            batches += [part[b : b + self.batch_size] for b in range(0, len(part), self.batch_size)]
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i]


def make_loader(batches: _Batches, config: TrainConfig) -> DataLoader:
    """Shuffled batches of the training split, seeded; grouped by length when the config asks."""
    if config.group_by_length:
        sampler = LengthGroupedBatches([len(ids) for ids in batches.ids], config.batch_size, config.seed)
        return DataLoader(batches, batch_sampler=sampler, collate_fn=batches.collate)
    return DataLoader(
        batches,
        batch_size=config.batch_size,
        shuffle=True,
        collate_fn=batches.collate,
        generator=torch.Generator().manual_seed(config.seed),
    )


def make_accelerator(config: TrainConfig):
    """An `accelerate.Accelerator` honouring the device and dtype preferences."""
    from accelerate import Accelerator

    from adapt_core.models import pick_device, pick_dtype

    device = pick_device(config.device)
    dtype = pick_dtype(device, config.dtype)
    precision = {None: "no", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    return Accelerator(cpu=device.type == "cpu", mixed_precision=precision)


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Decay matrices only; biases, norms and new-token embeddings train without decay."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        plain = p.ndim < 2 or "norm" in name.lower() or "new_token" in name
        (no_decay if plain else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def optimizer_state_bytes(optimizer: torch.optim.Optimizer) -> int:
    """Bytes held in optimizer state tensors (AdamW: two moments per trainable element)."""
    return sum(t.numel() * t.element_size() for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t))


def reset_peak_memory(device: torch.device) -> None:
    """Start a new peak: CUDA's allocator statistics, or on Linux the process's peak resident set (VmHWM), so a
    process that runs several trainings (the benchmark grid) reports each one's own peak, not the largest so far."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        return
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # 5 = reset the peak RSS to the current RSS (Linux >= 4.0)
    except OSError:
        pass  # not Linux, or not allowed: peak_memory_bytes falls back to the lifetime peak


def peak_memory_bytes(device: torch.device) -> int:
    """CUDA max allocated on GPU; on CPU the peak resident set since the last reset_peak_memory (Linux), else the
    process's lifetime peak."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def evaluate_split(
    model, tokenizer, split: Split, label_names: list[str], batch_size: int = 64, max_length: int = 128, progress=None
) -> EvalResult:
    """Scores of `model` on `split`; `progress(done, total)` (optional) follows its batches."""
    proba = predict_proba(
        model, tokenizer, split.texts, batch_size=batch_size, max_length=max_length, progress=progress
    )
    return evaluate(split.labels, proba.argmax(axis=1), label_names)


def train_steps(
    model: nn.Module, tokenizer, data: TaskData, config: TrainConfig, accelerator=None, eval_progress=None
) -> Iterator[StepLog]:
    """Train `model` in place on `data['train']`, yielding a StepLog per optimizer step.

    At the end (if `keep_best`) the parameters of the best dev macro-F1 evaluation are restored.
    `eval_progress(done, total)` (optional) follows the batches of each dev evaluation between steps.
    """
    from transformers import get_linear_schedule_with_warmup

    acc = accelerator or make_accelerator(config)
    torch.manual_seed(config.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise AdaptError("the model has no trainable parameter: the method froze everything")
    batches = _Batches(tokenizer, data["train"], config.max_length)
    loader = make_loader(batches, config)
    if config.lr is None:
        raise AdaptError("TrainConfig.lr is empty: give a learning rate (run_training fills in the method's own)")
    optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay), lr=config.lr)
    model, optimizer, loader = acc.prepare(model, optimizer, loader)
    per_epoch = len(loader)
    total = config.max_steps or max(1, math.ceil(config.epochs * per_epoch))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total), total)
    reset_peak_memory(acc.device)
    yield from _loop(model, tokenizer, data, config, acc, loader, optimizer, scheduler, total, per_epoch, eval_progress)


def _loop(model, tokenizer, data, config, acc, loader, optimizer, scheduler, total, per_epoch, eval_progress=None):
    raw = acc.unwrap_model(model)
    # stale: evaluations since the best one, counted once dev has gained over its first evaluation (`gained`)
    best = {"macro_f1": -1.0, "state": None, "stale": 0, "evals": 0, "gained": False}
    step, start, step_times = 0, time.perf_counter(), []
    model.train()
    while step < total:
        for batch in loader:
            t0 = time.perf_counter()
            loss = model(**batch).loss
            _check_finite("loss", loss, step + 1)
            acc.backward(loss)
            grad_norm = acc.clip_grad_norm_(model.parameters(), config.max_grad_norm) if config.max_grad_norm else 0.0
            _check_finite("gradient norm", grad_norm, step + 1)  # before the step: the weights stay as they were
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            dt = time.perf_counter() - t0
            step_times.append(dt)
            log = StepLog(
                step,
                total,
                step / per_epoch,
                float(loss.detach()),
                scheduler.get_last_lr()[0],
                float(grad_norm),
                float(batch["attention_mask"].sum()) / dt,
                time.perf_counter() - start,
            )
            if (config.eval_every and step % config.eval_every == 0) or step % per_epoch == 0 or step == total:
                log.eval = _evaluate_and_track(raw, tokenizer, data, config, best, eval_progress)
                model.train()
                if config.patience and best["stale"] >= config.patience and step < total:
                    total = log.total_steps = step  # early stop: this step is the last (the summary follows)
            if step == total:
                if config.keep_best and best["state"] is not None:
                    raw.load_state_dict(best["state"], strict=False)
                log.summary = _summary(optimizer, step_times, acc.device, best, time.perf_counter() - start)
                log.summary["steps"] = step  # fewer than planned when dev stopped improving (`patience`)
            yield log
            if step >= total:
                break


class Diverged(RuntimeError):
    """Training produced a non-finite loss or gradient: the run fails (no model is saved) with a message saying what
    to change. Not an AdaptError: the input was valid, the optimisation was not."""


def _check_finite(what: str, value, step: int) -> None:
    value = float(value.detach()) if torch.is_tensor(value) else float(value)
    if not math.isfinite(value):
        shown = "NaN" if math.isnan(value) else "inf"
        raise Diverged(f"{what} became {shown} at step {step} — lower the learning rate")


def _evaluate_and_track(model, tokenizer, data, config, best, progress=None) -> dict:
    """Dev metrics; remember the trainable tensors of the best macro-F1 so far (frozen ones never change).

    Evaluations without a new best count towards `patience` only after a first gain over the first evaluation:
    a model still predicting what it predicted after one epoch (often the majority class, macro-F1 near 1 / K) may
    be about to leave that plateau, and stopping it there would report the plateau as what the method reaches."""
    result = evaluate_split(
        model, tokenizer, data["dev"], data.label_names, config.eval_batch_size, config.max_length, progress
    )
    scores = result.scores()
    best["evals"] += 1
    if scores["macro_f1"] > best["macro_f1"]:
        best["gained"] = best["gained"] or best["evals"] > 1
        best["macro_f1"], best["stale"] = scores["macro_f1"], 0
        best["state"] = {n: copy.deepcopy(p.detach()) for n, p in model.named_parameters() if p.requires_grad}
    elif best["gained"]:
        best["stale"] += 1
    return scores


def _summary(optimizer, step_times, device, best, seconds) -> dict:
    warm = step_times[1:] or step_times  # the first step pays for allocation and kernel selection
    return {
        "train_seconds": seconds,
        "step_seconds": float(np.mean(warm)),
        "optimizer_state_bytes": optimizer_state_bytes(optimizer),
        "peak_memory_bytes": peak_memory_bytes(device),
        "best_dev_macro_f1": best["macro_f1"],
    }


def train(model: nn.Module, tokenizer, data: TaskData, config: TrainConfig) -> list[StepLog]:
    """Run `train_steps` to the end and return every log."""
    return list(train_steps(model, tokenizer, data, config))
