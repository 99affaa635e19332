"""Before a run starts: the steps its form implies, and the wall time and peak memory to expect on THIS machine.

The numbers come from runs this machine has finished (their report.json, status.json and metrics.jsonl), never from
a table: a finished run of the same model and method gives its warm seconds per step, scaled by tokens per step
(batch size × tokens per example), the time of one dev evaluation, and the rest (loading, tokens, sensitivity, the
final evaluation, saving). When no such run exists the estimate says so and falls back, in this order, to a run of
the same model with another method; to another model's measured speed scaled by parameter count (a training step
costs about 6 × parameters × tokens in arithmetic); else to no time at all (the first run measures it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median

from adapt_core.run_reader import RunInfo, method_name
from adapt_core.train import TrainConfig

BYTES_PER_PARAM = 16  # fp32 weights, gradients and AdamW's two moments: full finetuning's floor, before activations


@dataclass(frozen=True)
class Plan:
    """What a Train form asks for, as the estimate needs it."""

    model: str
    method: str
    steps: int
    tokens_per_step: float
    evaluations: int  # dev evaluations during training
    device: str | None = None  # "cpu", "cuda", "mps"; None = compare with runs on any device


def implied_steps(train: TrainConfig, n_train: int, processes: int = 1) -> int:
    """Optimizer steps the run will take: max_steps when given, else epochs × batches per epoch (train_steps' rule)."""
    per_epoch = max(1, math.ceil(n_train / (train.batch_size * processes)))
    return train.max_steps or max(1, math.ceil(train.epochs * per_epoch))


def implied_evaluations(train: TrainConfig, n_train: int) -> int:
    """Dev evaluations during training: every eval_every steps, at each epoch's end and at the last step."""
    per_epoch, total = max(1, math.ceil(n_train / train.batch_size)), implied_steps(train, n_train)
    every = train.eval_every
    return sum(1 for s in range(1, total + 1) if (every and s % every == 0) or s % per_epoch == 0 or s == total)


def tokens_per_example(tokenizer, texts, max_length: int, sample: int = 500) -> float:
    """Mean tokens per training example as the run encodes it (special tokens in, truncated to max_length), over
    the first `sample` texts."""
    ids = tokenizer(list(texts[:sample]), truncation=True, max_length=max_length)["input_ids"]
    return float(sum(map(len, ids)) / max(len(ids), 1))


@dataclass(frozen=True)
class Measured:
    """One finished run, as the estimate reads it."""

    run: str
    model: str
    method: str
    device: str
    step_seconds: float
    tokens_per_step: float
    eval_seconds: float  # one dev evaluation during training
    other_seconds: float  # everything outside the training loop: loading, tokens, sensitivity, final eval, saving
    peak_memory_bytes: int | None
    total_params: int | None


def measured(info: RunInfo) -> Measured | None:
    """What a completed run measured, or None when it lacks the numbers (an older or unfinished run)."""
    rep, status = info.report, info.status
    step_s, tok_s, train_s = rep.get("step_seconds"), rep.get("tokens_per_second"), rep.get("train_seconds")
    steps = status.get("total")
    if info.state != "completed" or not all(isinstance(v, int | float) and v > 0 for v in (step_s, tok_s, train_s)):
        return None
    if not isinstance(steps, int) or steps < 1:
        return None
    metrics = info.metrics()
    evals = int(metrics["dev_macro_f1"].notna().sum()) if "dev_macro_f1" in metrics else 0
    wall = (status.get("updated") or 0) - (status.get("started") or 0)
    return Measured(
        run=info.id,
        model=str(info.config.get("model")),
        method=str(method_name(info.config)),
        device=str(rep.get("device", "")).split(":")[0],
        step_seconds=float(step_s),
        tokens_per_step=float(step_s) * float(tok_s),
        eval_seconds=max(train_s - step_s * steps, 0.0) / evals if evals else 0.0,
        other_seconds=max(wall - train_s, 0.0),
        peak_memory_bytes=_number(rep.get("peak_memory_bytes")),
        total_params=_number(rep.get("total_params")),
    )


def _number(value) -> int | None:
    """A positive count from a report, or None (absent, or not a number in a hand-edited file)."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and value > 0 else None


@dataclass(frozen=True)
class Estimate:
    """Expected wall time and peak memory (None when nothing supports a number) and `basis`: where they come from."""

    seconds: float | None
    peak_memory_bytes: float | None
    basis: str
    measured: bool  # True when a run of this model and method was measured here


def estimate(plan: Plan, runs: list[RunInfo], params=None) -> Estimate:
    """The expected wall time and peak memory of `plan` from the finished `runs`. `params` (the model's parameter
    count, or a function giving it) is only asked for when no run of this model was measured."""
    found = [m for m in map(measured, runs) if m and (plan.device is None or m.device == plan.device)]
    same_model = [m for m in found if m.model == plan.model]
    same = [m for m in same_model if m.method == plan.method]
    if same:
        names = ", ".join(m.run for m in same[:3]) + (" …" if len(same) > 3 else "")
        return _scaled(
            plan, same, f"measured on this machine by {len(same)} run(s) of {plan.model} · {plan.method}: {names}", True
        )
    if same_model:
        other = same_model[0].method
        return _scaled(
            plan,
            same_model,
            f"no measured {plan.method} run of {plan.model} yet: scaled from its "
            f"{other} run(s) on this machine (methods that train fewer weights take shorter steps)",
            False,
        )
    return _by_parameters(plan, found, params)


def _scaled(plan: Plan, runs: list[Measured], basis: str, exact: bool) -> Estimate:
    per_token = median(m.step_seconds / m.tokens_per_step for m in runs)
    seconds = (
        plan.steps * per_token * plan.tokens_per_step
        + plan.evaluations * median(m.eval_seconds for m in runs)
        + median(m.other_seconds for m in runs)
    )
    with_memory = [m for m in runs if m.peak_memory_bytes]
    nearest = min(with_memory, key=lambda m: abs(m.tokens_per_step - plan.tokens_per_step), default=None)
    return Estimate(seconds, nearest.peak_memory_bytes if nearest else None, basis, exact)


def _by_parameters(plan: Plan, runs: list[Measured], params) -> Estimate:
    """No run of this model: another model's arithmetic speed here (6 × parameters × tokens per second), applied to
    this model's parameter count; memory from 16 bytes per parameter (before activations)."""
    sized = [m for m in runs if m.total_params]
    if not sized:
        return Estimate(None, None, "no measured run on this machine yet: the first run measures it", False)
    count = params() if callable(params) else params
    if not count:
        return Estimate(None, None, f"no measured run of {plan.model} yet, and its size is unknown", False)
    rate = median(6 * m.total_params * m.tokens_per_step / m.step_seconds for m in sized)  # arithmetic per second
    seconds = plan.steps * 6 * count * plan.tokens_per_step / rate
    basis = (
        f"no measured run of {plan.model} yet: {sized[0].model}'s speed on this machine scaled by parameter count "
        f"(a step costs about 6 × parameters × tokens); loading and evaluation not included; memory: "
        f"{BYTES_PER_PARAM} bytes per parameter, before activations"
    )
    return Estimate(seconds, BYTES_PER_PARAM * count, basis, False)
