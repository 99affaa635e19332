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
model at hand, and round-trips through `to_dict` / `from_dict` so the studio can cache it.

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
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from adapt_core.anatomy import block_kind, block_linears, head_parameter_names, non_embedding_parameters
from adapt_core.data import Split, TaskData
from adapt_core.errors import AdaptError

POSITIONS = ("all", "tokens")
GROUPINGS = ("linear", "block", "layer")
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
    batch_size: int = field(
        default=16, metadata={"help": "Examples per forward/backward pass (does not change G)."}
    )
    positions: str = field(
        default="all",
        metadata={
            "help": "Positions that D averages over: all (every non-pad token) or tokens (only the new, mined tokens)."
        },
    )
    grouping: str = field(
        default="linear",
        metadata={
            "help": "Unit of selection: linear (each nn.Linear), block (attention / MLP of a layer) or layer."
        },
    )
    head_warmup_steps: int = field(
        default=0,
        metadata={"help": "Train the head alone for this many steps before measuring G (undone afterwards)."},
    )
    head_warmup_lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate of the head warm-up."})
    max_length: int = field(default=128, metadata={"help": "Truncate calibration texts to this many tokens."})
    seed: int = field(default=0, metadata={"help": "Seed of the calibration sample."})

    def __post_init__(self):
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
        ]
        for ok, message in checks:
            if not ok:
                raise AdaptError(f"{message} (got {self})")


@dataclass(frozen=True)
class ModuleStat:
    """One row of the report: an nn.Linear, or a group of them (block / layer grouping)."""

    module: str  # dotted name of the nn.Linear, or of its layer plus ":attention" / ":mlp" for a block
    layer: int
    type: str  # name inside the block ("attention.self.query"), "attention" / "mlp", or "layer"
    params: int  # weights + biases of the member modules
    D: float
    G: float
    members: tuple[str, ...] = ()  # the nn.Linear names this row stands for


@dataclass(frozen=True)
class Selection:
    """The modules AdaPT trains for one (β, top-k)."""

    modules: tuple[str, ...]  # nn.Linear names to train, by rank
    rows: tuple[str, ...]  # the selected report rows, by rank
    params: int  # parameters of the selected modules
    budget_params: float  # top_k % of the non-embedding parameters
    non_embedding_params: int
    beta: float
    top_k: float
    grouping: str

    @property
    def percent(self) -> float:
        """Realised share of the non-embedding parameters, in % (≤ top_k)."""
        return 100.0 * self.params / self.non_embedding_params

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "modules": list(self.modules),
            "rows": list(self.rows),
            "percent": self.percent,
        }


def _minmax(x: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; a constant column carries no ranking information and becomes all zeros."""
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


def _check_budget(beta: float, top_k: float | None = None) -> None:
    if beta < 0:
        raise AdaptError(
            f"beta must be ≥ 0 (got {beta}): it weighs the gradient term, 0 ranks by dispersion only"
        )
    if top_k is not None and not 0 < top_k <= 100:
        raise AdaptError(f"top_k must be in (0, 100] percent of the non-embedding parameters (got {top_k})")


@dataclass
class SensitivityReport:
    """D and G per nn.Linear (measured once) plus the grouping that `rows`, `score` and `select` work on."""

    linears: list[ModuleStat]
    non_embedding_params: int
    grouping: str = "linear"
    meta: dict = field(default_factory=dict)  # model class, calibration sizes, the SensitivityConfig

    @property
    def rows(self) -> list[ModuleStat]:
        """The units of selection: the linears themselves, or their block / layer groups."""
        return _group(self.linears, self.grouping)

    def regroup(self, grouping: str) -> SensitivityReport:
        """The same measurement seen at another grouping (no model needed)."""
        if grouping not in GROUPINGS:
            raise AdaptError(f"grouping must be one of {', '.join(GROUPINGS)} (got {grouping!r})")
        return SensitivityReport(self.linears, self.non_embedding_params, grouping, dict(self.meta))

    def score(self, beta: float = 1.0) -> np.ndarray:
        """S = minmax(D) + β · minmax(G) per row, normalised across the rows of the current grouping."""
        _check_budget(beta)
        rows = self.rows
        d = np.array([r.D for r in rows], dtype=np.float64)
        g = np.array([r.G for r in rows], dtype=np.float64)
        return _minmax(d) + beta * _minmax(g)

    def select(self, beta: float = 1.0, top_k: float = 10.0) -> Selection:
        """Rank rows by S (ties: model order); walk down the ranking and take every row that still fits.

        The budget is `top_k` % of the non-embedding parameters and is never exceeded: a row too large for what
        is left is skipped and smaller, lower-ranked rows may still fill the rest (greedy knapsack).
        """
        _check_budget(beta, top_k)
        rows, scores = self.rows, self.score(beta)
        budget = top_k / 100.0 * self.non_embedding_params
        chosen, used = [], 0
        for i in sorted(range(len(rows)), key=lambda i: (-scores[i], i)):
            if used + rows[i].params <= budget:
                chosen.append(rows[i])
                used += rows[i].params
        if not chosen:
            smallest = min(r.params for r in rows)
            need = math.ceil(1000.0 * smallest / self.non_embedding_params) / 10.0
            raise AdaptError(
                f"a budget of {top_k}% ({budget:,.0f} of {self.non_embedding_params:,} non-embedding parameters) is "
                f"smaller than the smallest {self.grouping} module ({smallest:,} parameters): raise top_k to at least "
                f"{need}%" + (" or use a finer grouping" if self.grouping != "linear" else "")
            )
        modules = tuple(m for r in chosen for m in r.members)
        return Selection(
            modules,
            tuple(r.module for r in chosen),
            used,
            budget,
            self.non_embedding_params,
            beta,
            top_k,
            self.grouping,
        )

    def to_frame(self, beta: float = 1.0, top_k: float | None = 10.0) -> pd.DataFrame:
        """module, layer, type, params, D, G, S, selected (selected is all False when top_k is None)."""
        rows = self.rows
        chosen = set(self.select(beta, top_k).rows) if top_k is not None else set()
        frame = pd.DataFrame(
            [{k: getattr(r, k) for k in ("module", "layer", "type", "params", "D", "G")} for r in rows]
        )
        frame["S"] = self.score(beta)
        frame["selected"] = [r.module in chosen for r in rows]
        return frame

    def to_dict(self) -> dict:
        linears = [{k: v for k, v in asdict(r).items() if k != "members"} for r in self.linears]
        return {
            "grouping": self.grouping,
            "non_embedding_params": self.non_embedding_params,
            "meta": self.meta,
            "linears": linears,
        }

    @classmethod
    def from_dict(cls, d: dict) -> SensitivityReport:
        linears = [ModuleStat(**r, members=(r["module"],)) for r in d["linears"]]
        return cls(
            linears, int(d["non_embedding_params"]), d.get("grouping", "linear"), dict(d.get("meta", {}))
        )


def _group(linears: list[ModuleStat], grouping: str) -> list[ModuleStat]:
    """Aggregate linears into blocks (attention / MLP of a layer) or layers.

    A group's D and G are the parameter-weighted means of its members' D and G, so a big MLP projection counts more
    than a small attention projection; its parameters are the members' sum.
    """
    if grouping == "linear":
        return list(linears)
    groups: dict[tuple, list[ModuleStat]] = {}
    for r in linears:
        key = (r.layer, block_kind(r.type)) if grouping == "block" else (r.layer,)
        groups.setdefault(key, []).append(r)
    rows = []
    for key, members in groups.items():
        layer_name = members[0].module[: -len(members[0].type) - 1]  # "bert.encoder.layer.3"
        weights = np.array([m.params for m in members], dtype=np.float64)
        rows.append(
            ModuleStat(
                module=f"{layer_name}:{key[1]}" if grouping == "block" else layer_name,
                layer=key[0],
                type=key[1] if grouping == "block" else "layer",
                params=int(weights.sum()),
                D=float(np.average([m.D for m in members], weights=weights)),
                G=float(np.average([m.G for m in members], weights=weights)),
                members=tuple(m.module for m in members),
            )
        )
    return rows


# ------------------------------------------------------------------------------------------------- measuring


def new_token_ids(tokenizer) -> set[int]:
    """Ids of the tokenizer's added, non-special tokens: the vetted new tokens."""
    special = set(tokenizer.all_special_tokens)
    return {i for t, i in tokenizer.get_added_vocab().items() if t not in special}


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
        wanted = new_token_ids(tokenizer)
        if not wanted:
            raise AdaptError(
                "positions='tokens' needs new tokens, but the tokenizer has none: vet tokens first "
                "(Tokens page or --tokens) or use positions='all'"
            )
    batches = _encode(tokenizer, texts, labels, config, next(model.parameters()).device)
    total, done = config.head_warmup_steps + len(batches), [0]

    def tick() -> None:
        done[0] += 1
        if progress is not None:
            progress(done[0], total)

    with _preserved(model):
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
