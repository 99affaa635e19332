"""AdaPT's sensitivity analysis: score every module once, then choose a budget instantly.

`measure(model, tokenizer, data, SensitivityConfig)` runs the model over a calibration sample (default 512 training
examples) and records, for every `nn.Linear` inside the transformer blocks (found by type, see `anatomy.py`):
- the index of dispersion `D_m = Var_x[a_m(x)] / Mean_x[a_m(x)]`, where `a_m(x)` is the mean, over the selected
  positions of example x, of the L2 norm of the module's output vector. Positions are all non-pad tokens, or only
  the new (mined) tokens. Var is the sample variance (n − 1) over the calibration examples;
- the gradient norm `G_m = ‖∇_{W_m} L‖_F / sqrt(numel(W_m))` of the weight (bias left out), where L is the task
  cross-entropy averaged over the whole calibration sample (gradients are summed over batches, so G does not
  depend on the batch size).
The pass runs in eval mode (dropout off), so it is deterministic and every process of a data-parallel run selects
the same modules. The result, a `SensitivityReport`, then answers `score(beta)` and `select(beta, top_k)` with no
model at hand, and round-trips through `to_dict` / `from_dict` so the studio can cache it (see `selection.py`,
whose names are re-exported here).

Head warm-up (`head_warmup_steps > 0`): the random head is first trained alone with AdamW on the calibration
batches, so the gradients reflect a head that already points at the task. It is done **in place and undone**: the
head's values, every `requires_grad` flag, every `.grad` and the train/eval mode are restored before `measure`
returns, so a cached model leaves bit-identical (copying the whole model would double its memory).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from adapt_core.anatomy import block_linears, head_parameter_names, non_embedding_parameters
from adapt_core.config_base import check_finite
from adapt_core.data import Split, TaskData
from adapt_core.errors import AdaptError
from adapt_core.models import pick_device
from adapt_core.selection import GROUPINGS, ModuleStat, Selection, SensitivityReport
from adapt_core.tokens import new_token_ids

__all__ = [
    "GROUPINGS",
    "POSITIONS",
    "ModuleStat",
    "Selection",
    "SensitivityConfig",
    "SensitivityReport",
    "measure",
    "new_token_ids",
]

POSITIONS = ("all", "tokens")
DEFAULT_CALIBRATION = 512
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class SensitivityConfig:
    """How to measure D and G. β and top-k are not here: they apply afterwards, instantly."""

    calibration_size: int | None = field(
        default=None,
        metadata={
            "help": f"Training examples in the calibration sample (seeded, random); empty = {DEFAULT_CALIBRATION}, or "
            "the whole training split when it is smaller."
        },
    )
    batch_size: int = field(default=16, metadata={"help": "Examples per forward/backward pass (does not change G)."})
    positions: str = field(
        default="all",
        metadata={
            "help": "Positions that D averages over: all (every non-pad token) or tokens (only the new, mined tokens)."
        },
    )
    grouping: str = field(
        default="linear",
        metadata={"help": "Unit of selection: linear (each nn.Linear), block (attention / MLP of a layer) or layer."},
    )
    head_warmup_steps: int = field(
        default=0,
        metadata={"help": "Train the head alone for this many steps before measuring G (undone afterwards)."},
    )
    head_warmup_lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate of the head warm-up."})
    max_length: int = field(default=128, metadata={"help": "Truncate calibration texts to this many tokens."})
    seed: int = field(default=0, metadata={"help": "Seed of the calibration sample."})
    device: str = field(
        default="model",
        metadata={
            "help": "Where to run: model (where the model is), auto (CUDA > MPS > CPU), cpu, cuda or mps. "
            "The model is moved there and back.",
            "choices": ("model", "auto", "cpu", "cuda", "mps"),
        },
    )

    def __post_init__(self):
        check_finite(self)
        checks = [
            (
                self.calibration_size is None or self.calibration_size >= 2,
                "calibration_size must be at least 2 examples (a variance needs two), or empty for the default",
            ),
            (self.batch_size >= 1, "batch_size must be ≥ 1"),
            (self.positions in POSITIONS, f"positions must be one of {', '.join(POSITIONS)}"),
            (self.grouping in GROUPINGS, f"grouping must be one of {', '.join(GROUPINGS)}"),
            (self.head_warmup_steps >= 0, "head_warmup_steps must be ≥ 0"),
            (self.head_warmup_lr > 0, "head_warmup_lr must be > 0"),
            (self.max_length >= 8, "max_length must be ≥ 8 tokens"),
            (
                self.device in ("model", "auto", "cpu", "mps") or self.device.startswith("cuda"),
                "device must be model, auto, cpu, cuda, cuda:N or mps",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise AdaptError(f"{message} (got {self})")


# ------------------------------------------------------------------------------------------------- measuring


def measure_added(
    model: nn.Module,
    tokenizer,
    data: TaskData,
    config: SensitivityConfig,
    tokens: list[str] | tuple[str, ...] = (),
    init: str = "mean",
    progress: Progress | None = None,
) -> SensitivityReport:
    """Add `tokens` to the model (IN PLACE, initialised by `init`, seeded by the measurement's seed as a run's
    are), then `measure`. The report records them (`meta["tokens"]`: the sorted texts and the init), so a run
    handed the report can check that it adds the same (`run_request.check_run_request`). The Sensitivity page and
    the `sensitivity` command both measure through this."""
    from adapt_core.tokens import augment

    if tokens:
        augment(model, tokenizer, list(tokens), init=init, seed=config.seed)
    report = measure(model, tokenizer, data, config, progress=progress)
    report.meta["tokens"] = {"added": sorted(tokens), "init": init if tokens else None}
    return report


def measure(
    model: nn.Module,
    tokenizer,
    data: TaskData | Split,
    config: SensitivityConfig | None = None,
    progress: Progress | None = None,
) -> SensitivityReport:
    """D and G of every nn.Linear in the blocks, on a calibration sample of `data` (a TaskData's train split).

    The model is left exactly as it came: weights, requires_grad flags, .grad and train/eval mode.
    """
    config = config or SensitivityConfig()
    split = data["train"] if isinstance(data, TaskData) else data
    linears = block_linears(model)
    texts, labels = _calibration_sample(split, config)
    wanted = None
    if config.positions == "tokens":
        wanted = set(new_token_ids(tokenizer))
        if not wanted:
            raise AdaptError(
                "positions='tokens' needs new tokens, but the tokenizer has none: vet tokens first "
                "(Tokens page or --tokens) or use positions='all'"
            )
    home = next(model.parameters()).device
    device = home if config.device == "model" else pick_device(config.device)
    batches = _encode(tokenizer, texts, labels, config, device)
    total, done = config.head_warmup_steps + len(batches), [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    with _moved(model, device, home), _preserved(model):
        if config.head_warmup_steps:
            _warm_up_head(model, batches, config, tick)
        acts, grads = _calibration_pass(model, linears, batches, wanted, len(texts), tick)
    return _report(model, linears, acts, grads, config, len(texts))


def _calibration_sample(split: Split, config: SensitivityConfig) -> tuple[list[str], list[int]]:
    n = len(split)
    size = config.calibration_size or min(DEFAULT_CALIBRATION, n)
    if size > n:
        raise AdaptError(
            f"calibration_size {size} is larger than the {n} training examples: "
            f"use at most {n} (or leave it empty for min({DEFAULT_CALIBRATION}, {n}))"
        )
    if size < 2:
        raise AdaptError(f"the training split has {n} example(s); sensitivity needs at least 2")
    idx = np.random.default_rng(config.seed).permutation(n)[:size]
    return [split.texts[i] for i in idx], [int(split.labels[i]) for i in idx]


def _encode(tokenizer, texts, labels, config, device) -> list[dict[str, torch.Tensor]]:
    """Padded batches: input_ids / attention_mask (batch, width), labels (batch,)."""
    out = []
    for start in range(0, len(texts), config.batch_size):
        enc = tokenizer(
            texts[start : start + config.batch_size],
            padding=True,
            truncation=True,
            max_length=config.max_length,
            return_tensors="pt",
        )
        batch = {
            "input_ids": enc["input_ids"],
            "attention_mask": enc["attention_mask"],
            "labels": torch.tensor(labels[start : start + config.batch_size]),
        }
        out.append({k: v.to(device) for k, v in batch.items()})
    return out


@contextlib.contextmanager
def _moved(model: nn.Module, device: torch.device, home: torch.device):
    """Run on `device`, then move back (same Parameter objects, bit-identical values)."""
    if device == home:
        yield
        return
    model.to(device)
    try:
        yield
    finally:
        model.to(home)


@contextlib.contextmanager
def _preserved(model: nn.Module):
    """Restore the head's values, requires_grad, .grad and the train/eval mode on exit; eval mode inside."""
    head = set(head_parameter_names(model))
    params = dict(model.named_parameters())
    flags = {n: p.requires_grad for n, p in params.items()}
    grads = {n: p.grad for n, p in params.items()}
    head_values = {n: params[n].detach().clone() for n in head}
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        with torch.no_grad():
            for n, value in head_values.items():
                params[n].copy_(value)
        for n, p in params.items():
            p.requires_grad_(flags[n])
            p.grad = grads[n]
        model.train(was_training)


def _only_trainable(model: nn.Module, tensors: list[torch.Tensor]) -> None:
    keep = {id(t) for t in tensors}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)


def _warm_up_head(model: nn.Module, batches, config: SensitivityConfig, tick) -> None:
    """Train the head alone (mean cross-entropy, AdamW, no decay), cycling over the calibration batches."""
    head = set(head_parameter_names(model))
    params = [p for n, p in model.named_parameters() if n in head]
    _only_trainable(model, params)
    optimizer = torch.optim.AdamW(params, lr=config.head_warmup_lr, weight_decay=0.0)
    for step in range(config.head_warmup_steps):
        batch = batches[step % len(batches)]
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        loss = F.cross_entropy(logits.float(), batch["labels"])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        tick()


def _calibration_pass(model, linears, batches, wanted: set[int] | None, n: int, tick):
    """One forward/backward per batch: per-example activation means (hooks) and summed weight gradients.

    Returns acts[m] = (examples with a selected position,) float64 and grads[m] = ∇W_m of the sample-mean loss.
    """
    weights = [lin.module.weight for lin in linears]
    _only_trainable(model, weights)
    acts: list[list[torch.Tensor]] = [[] for _ in linears]
    grads = [torch.zeros_like(w, dtype=torch.float32) for w in weights]
    current: dict[str, torch.Tensor] = {}

    def hook(index: int):
        def record(module, inputs, output):
            sel = current["sel"]  # (batch, width), 1.0 at the positions D averages over
            norms = output.detach().float().norm(dim=-1).reshape(sel.shape)  # (batch, width)
            counts = sel.sum(dim=1)
            mean = (norms * sel).sum(dim=1) / counts.clamp(min=1.0)  # (batch,) a_m(x)
            acts[index].append(mean[counts > 0].double().cpu())

        return record

    handles = [lin.module.register_forward_hook(hook(i)) for i, lin in enumerate(linears)]
    try:
        for batch in batches:
            current["sel"] = _positions(batch, wanted)
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            loss = F.cross_entropy(logits.float(), batch["labels"], reduction="sum") / n  # share of the mean
            for total, g in zip(grads, torch.autograd.grad(loss, weights), strict=True):
                total += g.float()
            tick()
    finally:
        for h in handles:
            h.remove()
    return [torch.cat(a) for a in acts], grads


def _positions(batch: dict[str, torch.Tensor], wanted: set[int] | None) -> torch.Tensor:
    """(batch, width) float mask: non-pad tokens, restricted to new-token ids when `wanted` is given."""
    sel = batch["attention_mask"].bool()
    if wanted is not None:
        ids = torch.tensor(sorted(wanted), device=batch["input_ids"].device)
        sel &= torch.isin(batch["input_ids"], ids)
    return sel.float()


def _report(model, linears, acts, grads, config: SensitivityConfig, n: int) -> SensitivityReport:
    contributing = len(acts[0])
    if contributing < 2:
        raise AdaptError(
            f"only {contributing} of the {n} calibration examples contain a new token, too few for a "
            "variance: use positions='all', more calibration examples, or more tokens"
        )
    rows = []
    for lin, a, g in zip(linears, acts, grads, strict=True):
        mean = float(a.mean())
        d = float(a.var(unbiased=True)) / mean if mean > 0 else 0.0
        rows.append(
            ModuleStat(
                lin.name,
                lin.layer,
                lin.type,
                lin.params,
                d,
                float(g.norm()) / math.sqrt(g.numel()),
                (lin.name,),
            )
        )
    meta = {
        "model_class": type(model).__name__,
        "calibration_examples": n,
        "dispersion_examples": contributing,
        "config": asdict(config),
    }
    return SensitivityReport(rows, non_embedding_parameters(model), config.grouping, meta)
