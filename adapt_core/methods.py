"""One entry point for every way of adapting a model: `prepare(model, tokenizer, MethodConfig, data)`.

A method decides *which* parameters train; the training loop (`train.py`) is the same for all of them, so the
comparison is fair. After `prepare`, exactly the parameters that the method trains have `requires_grad=True`, and
the loop's AdamW holds those alone (no dense gradient masks anywhere).

- `full`, `full+tokens`: every parameter (the pipeline adds the new tokens for `full+tokens`).
- `adapt`, `adapt-no-tokens`: AdaPT. Measure sensitivity on a calibration sample of the training split (or reuse a
  `SensitivityReport`), select modules within `top_k` % of the non-embedding parameters, and train those modules,
  the new-token embeddings (when the pipeline added them: only for `adapt`) and the classification head.
- `layers`: the top L blocks + head; L is the largest whose parameters fit AdaPT's budget (at least 1), or given.
- `lora`, `prefix`: peft's LoRA and prefix tuning (`task_type=SEQ_CLS`, so peft also trains the head).
Whenever new-token embeddings exist they train: a random embedding left frozen would only add noise.
`stc` is not prepared here (the pipeline sends it to `stc.py`).

`save_trained` / `load_trained` (in `methods_io.py`) turn any prepared model into a folder of safetensors and back.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from torch import nn

from adapt_core.anatomy import (
    block_kind,
    block_linears,
    find_blocks,
    head_parameter_names,
    new_token_parameter_names,
    non_embedding_parameters,
)
from adapt_core.errors import AdaptError
from adapt_core.methods_io import load_trained, save_trained
from adapt_core.models import count_parameters
from adapt_core.sensitivity import GROUPINGS, POSITIONS, SensitivityConfig, SensitivityReport, measure

__all__ = ["METHODS", "MethodConfig", "Prepared", "load_trained", "prepare", "save_trained"]

METHODS = ("full", "adapt", "lora", "prefix", "layers", "full+tokens", "adapt-no-tokens", "stc")
# the MethodConfig fields each method reads (forms show only these; the rest do not apply to it)
ADAPT_FIELDS = ("top_k", "beta", "calibration_size", "positions", "grouping", "head_warmup_steps", "calibration_seed")
METHOD_FIELDS = {
    "full": (),
    "full+tokens": (),
    "adapt": ADAPT_FIELDS,
    "adapt-no-tokens": ADAPT_FIELDS,
    "lora": ("lora_r", "lora_alpha", "lora_dropout", "lora_targets"),
    "prefix": ("prefix_len",),
    "layers": ("layers", "top_k"),
    "stc": (),
}
LORA_TARGETS = ("auto", "attention", "all")


@dataclass(frozen=True)
class MethodConfig:
    """Which method, and its knobs. Fields that a method does not use are ignored by it."""

    method: str = field(default="full", metadata={"help": f"One of: {', '.join(METHODS)}."})
    top_k: float = field(
        default=10.0,
        metadata={"help": "AdaPT budget: % of non-embedding parameters to train (also sets L for `layers`)."},
    )
    beta: float = field(default=1.0, metadata={"help": "AdaPT score weight: S = norm(D) + beta * norm(G)."})
    calibration_size: int | None = field(
        default=None,
        metadata={"help": "AdaPT: training examples for the sensitivity pass; empty = 512, or all when fewer."},
    )
    positions: str = field(
        default="all",
        metadata={
            "help": f"AdaPT: positions for the dispersion D, one of {', '.join(POSITIONS)} (tokens = new tokens only)."
        },
    )
    grouping: str = field(
        default="linear", metadata={"help": f"AdaPT: unit of selection, one of {', '.join(GROUPINGS)}."}
    )
    head_warmup_steps: int = field(
        default=0,
        metadata={
            "help": "AdaPT: train the head alone this many steps before measuring gradients (undone afterwards)."
        },
    )
    calibration_seed: int = field(default=0, metadata={"help": "AdaPT: seed of the calibration sample."})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: float = field(
        default=16.0, metadata={"help": "LoRA scaling alpha (the update is scaled by alpha / r)."}
    )
    lora_dropout: float = field(default=0.1, metadata={"help": "LoRA dropout on the adapter input."})
    lora_targets: str = field(
        default="auto",
        metadata={
            "help": "LoRA modules: auto (peft's default per architecture: query/value, q_proj/v_proj), attention (every "
            "attention projection) or all (every nn.Linear in the blocks)."
        },
    )
    prefix_len: int = field(default=20, metadata={"help": "Prefix tuning: number of virtual tokens."})
    layers: int | None = field(
        default=None,
        metadata={
            "help": "Layer selection: train the top L blocks; empty = the largest L within AdaPT's top_k budget."
        },
    )

    def __post_init__(self):
        if self.method not in METHODS:
            raise AdaptError(f"unknown method '{self.method}': choose one of {', '.join(METHODS)}")
        if not 0 < self.top_k <= 100:
            raise AdaptError(f"top_k must be in (0, 100] percent (got {self.top_k})")
        if self.beta < 0:
            raise AdaptError(f"beta must be ≥ 0 (got {self.beta})")
        checks = [
            (self.lora_r >= 1, f"lora_r must be ≥ 1 (got {self.lora_r})"),
            (self.lora_alpha > 0, f"lora_alpha must be > 0 (got {self.lora_alpha})"),
            (0 <= self.lora_dropout < 1, f"lora_dropout must be in [0, 1) (got {self.lora_dropout})"),
            (
                self.lora_targets in LORA_TARGETS,
                f"lora_targets must be one of {', '.join(LORA_TARGETS)} (got {self.lora_targets!r})",
            ),
            (self.prefix_len >= 1, f"prefix_len must be ≥ 1 virtual token (got {self.prefix_len})"),
            (self.layers is None or self.layers >= 1, f"layers must be ≥ 1 or empty (got {self.layers})"),
        ]
        for ok, message in checks:
            if not ok:
                raise AdaptError(message)
        self.sensitivity_config()  # validates calibration_size, positions, grouping, head_warmup_steps

    def sensitivity_config(self) -> SensitivityConfig:
        """The SensitivityConfig that AdaPT's `prepare` measures with."""
        return SensitivityConfig(
            device="auto",  # the pipeline moves the model to its device later: measure on the fastest now
            calibration_size=self.calibration_size,
            positions=self.positions,
            grouping=self.grouping,
            head_warmup_steps=self.head_warmup_steps,
            seed=self.calibration_seed,
        )


@dataclass
class Prepared:
    model: nn.Module
    info: dict = field(default_factory=dict)  # what the method chose (e.g. selected modules), for report.json


def prepare(
    model: nn.Module, tokenizer, config: MethodConfig, data=None, *, report: SensitivityReport | None = None
) -> Prepared:
    """Set `requires_grad` (or wrap the model with peft) for `config.method`.

    `data` is the TaskData (AdaPT measures on its train split); `report` lets AdaPT reuse a sensitivity
    measurement of this very model (the studio's cached one) instead of measuring again.
    """
    handlers = {
        "full": _full,
        "full+tokens": _full,
        "adapt": _adapt,
        "adapt-no-tokens": _adapt,
        "layers": _layers,
        "lora": _lora,
        "prefix": _prefix,
    }
    if config.method not in handlers:
        raise AdaptError(f"method '{config.method}' is not prepared by methods.prepare: the pipeline runs it itself")
    prepared = handlers[config.method](model, tokenizer, config, data, report)
    counts = count_parameters(prepared.model)
    prepared.info = {
        "method": config.method,
        "trainable_params": counts.trainable,
        "total_params": counts.total,
        "trainable_percent": counts.percent,
        "new_token_params": len(new_token_parameter_names(prepared.model)) > 0,
        **prepared.info,
    }
    return prepared


def _train_only(model: nn.Module, names: set[str]) -> None:
    """requires_grad on exactly the named parameters (plus new-token embeddings); everything else frozen."""
    names = names | set(new_token_parameter_names(model))
    for name, p in model.named_parameters():
        p.requires_grad_(name in names)


def _full(model, tokenizer, config, data, report) -> Prepared:
    for p in model.parameters():
        p.requires_grad_(True)
    return Prepared(model, {})


def _adapt(model, tokenizer, config: MethodConfig, data, report) -> Prepared:
    if report is None:
        if data is None:
            raise AdaptError("AdaPT measures sensitivity on the training data: pass the TaskData to prepare()")
        report = measure(model, tokenizer, data, config.sensitivity_config())
    elif report.grouping != config.grouping:
        report = report.regroup(config.grouping)
    selection = report.select(config.beta, config.top_k)
    modules = dict(model.named_modules())
    missing = [m for m in selection.modules if m not in modules]
    if missing:
        raise AdaptError(
            f"the sensitivity report names modules this model lacks ({missing[0]}, …): measure it again on this model"
        )
    names = {f"{m}.{p}" for m in selection.modules for p, _ in modules[m].named_parameters()}
    _train_only(model, names | set(head_parameter_names(model)))
    return Prepared(model, {"selection": selection.to_dict(), "sensitivity": report.to_dict()})


def matched_layers(model: nn.Module, top_k: float) -> int:
    """The largest L whose top-L blocks hold ≤ top_k % of the non-embedding parameters; at least 1."""
    _, blocks = find_blocks(model)
    sizes = [sum(p.numel() for p in block.parameters()) for block in blocks]
    budget = top_k / 100.0 * non_embedding_parameters(model)
    count = 1
    while count < len(sizes) and sum(sizes[-(count + 1) :]) <= budget:
        count += 1
    return count


def _layers(model, tokenizer, config: MethodConfig, data, report) -> Prepared:
    prefix, blocks = find_blocks(model)
    count = config.layers or matched_layers(model, config.top_k)
    if count > len(blocks):
        raise AdaptError(f"layers={count} but the model has {len(blocks)} blocks: choose 1 to {len(blocks)}")
    chosen = list(range(len(blocks) - count, len(blocks)))
    names = {f"{prefix}.{i}.{p}" for i in chosen for p, _ in blocks[i].named_parameters()}
    _train_only(model, names | set(head_parameter_names(model)))
    params = sum(p.numel() for i in chosen for p in blocks[i].parameters())
    return Prepared(
        model,
        {
            "layers": count,
            "blocks": [f"{prefix}.{i}" for i in chosen],
            "layer_params": params,
            "layer_percent": 100.0 * params / non_embedding_parameters(model),
            "matched_to_top_k": config.layers is None,
        },
    )


def lora_target_modules(model: nn.Module, choice: str = "auto") -> list[str]:
    """Full names of the nn.Linear modules LoRA adapts (inside the blocks only: never the pooler or the head)."""
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS

    linears = block_linears(model)
    if choice == "all":
        return [lin.name for lin in linears]
    attention = [lin for lin in linears if block_kind(lin.type) == "attention"]
    defaults = DEFAULTS.get(getattr(model.config, "model_type", ""), None)
    if choice == "auto" and isinstance(defaults, list):
        picked = [lin.name for lin in linears if lin.type.split(".")[-1] in defaults]
        if picked:
            return picked
    return [lin.name for lin in attention or linears]


def _lora(model, tokenizer, config: MethodConfig, data, report) -> Prepared:
    from peft import LoraConfig, TaskType, get_peft_model

    targets = lora_target_modules(model, config.lora_targets)
    if not targets:
        raise AdaptError(f"LoRA found no module for lora_targets={config.lora_targets!r}: try 'attention' or 'all'")
    pattern = "|".join(re.escape(t) for t in targets)  # full-name regex: "dense" must not catch the pooler
    peft_config = LoraConfig(
        task_type=TaskType.SEQ_CLS,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=pattern,
    )
    wrapped = get_peft_model(model, peft_config)
    _unfreeze_new_tokens(wrapped)
    kinds = sorted({t.split(".")[-1] for t in targets})
    return Prepared(
        wrapped,
        {
            "lora_r": config.lora_r,
            "lora_alpha": config.lora_alpha,
            "lora_target_types": kinds,
            "lora_target_count": len(targets),
        },
    )


def _prefix(model, tokenizer, config: MethodConfig, data, report) -> Prepared:
    from peft import PrefixTuningConfig, TaskType, get_peft_model

    wrapped = get_peft_model(
        model, PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=config.prefix_len)
    )
    _unfreeze_new_tokens(wrapped)
    return Prepared(wrapped, {"prefix_len": config.prefix_len})


def _unfreeze_new_tokens(model: nn.Module) -> None:
    for name, p in model.named_parameters():
        if "new_token" in name:
            p.requires_grad_(True)
