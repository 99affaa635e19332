"""LoRA through peft (`lora`): low-rank adapters on the chosen nn.Linear modules of the blocks, plus the head."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from torch import nn

from adapt_core.anatomy import block_kind, block_linears
from adapt_core.config_base import BaseMethodConfig
from adapt_core.errors import AdaptError
from adapt_core.methods.base import Prepared, check_choice, lr_field, unfreeze_new_tokens
from adapt_core.methods.registry import register_method

LORA_TARGETS = ("auto", "attention", "all")


@dataclass(frozen=True)
class LoraConfig(BaseMethodConfig):
    """peft LoRA with `task_type=SEQ_CLS` (peft also trains the head)."""

    lr: float = lr_field(1e-3)
    lora_r: int = field(default=8, metadata={"help": "LoRA rank."})
    lora_alpha: float = field(
        default=16.0, metadata={"help": "LoRA scaling alpha (the update is scaled by alpha / r)."}
    )
    lora_dropout: float = field(default=0.1, metadata={"help": "LoRA dropout on the adapter input."})
    lora_targets: str = field(
        default="auto",
        metadata={
            "help": "LoRA modules: auto (peft's default per architecture: query/value, q_proj/v_proj), attention "
            "(every attention projection) or all (every nn.Linear in the blocks)."
        },
    )

    def __post_init__(self):
        super().__post_init__()
        if self.lora_r < 1:
            raise AdaptError(f"lora_r must be ≥ 1 (got {self.lora_r})")
        if self.lora_alpha <= 0:
            raise AdaptError(f"lora_alpha must be > 0 (got {self.lora_alpha})")
        if not 0 <= self.lora_dropout < 1:
            raise AdaptError(f"lora_dropout must be in [0, 1) (got {self.lora_dropout})")
        check_choice(self.lora_targets, LORA_TARGETS, "lora_targets")


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


def prepare_lora(model, tokenizer, config: LoraConfig, data, *, report=None, train=None) -> Prepared:
    import peft

    targets = lora_target_modules(model, config.lora_targets)
    if not targets:
        raise AdaptError(f"LoRA found no module for lora_targets={config.lora_targets!r}: try 'attention' or 'all'")
    pattern = "|".join(re.escape(t) for t in targets)  # full-name regex: "dense" must not catch the pooler
    peft_config = peft.LoraConfig(
        task_type=peft.TaskType.SEQ_CLS,
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=pattern,
    )
    wrapped = peft.get_peft_model(model, peft_config)
    unfreeze_new_tokens(wrapped)
    info = {
        "lora_r": config.lora_r,
        "lora_alpha": config.lora_alpha,
        "lora_target_types": sorted({t.split(".")[-1] for t in targets}),
        "lora_target_count": len(targets),
    }
    return Prepared(wrapped, info)


register_method("lora", LoraConfig, prepare_lora, help="LoRA (peft): low-rank adapters and the head train.")
