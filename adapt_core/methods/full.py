"""End-to-end finetuning (`full`), and the ablation with new tokens (`full+tokens`)."""

from __future__ import annotations

from dataclasses import dataclass

from adapt_core.config_base import BaseMethodConfig
from adapt_core.methods.base import TOKEN_INITS, Prepared, check_choice, lr_field, token_init_field, token_policy_field
from adapt_core.methods.registry import register_method
from adapt_core.token_policy import TokenPolicy


@dataclass(frozen=True)
class FullConfig(BaseMethodConfig):
    """Every parameter trains."""

    lr: float = lr_field(1e-4)


@dataclass(frozen=True)
class FullTokensConfig(FullConfig):
    """Every parameter trains, after the new tokens are added (the ablation: AdaPT's vocabulary, dense training)."""

    tokens: TokenPolicy = token_policy_field()
    token_init: str = token_init_field()

    def __post_init__(self):
        super().__post_init__()
        check_choice(self.token_init, TOKEN_INITS, "token_init")


def prepare_full(model, tokenizer, config, data, *, report=None, train=None) -> Prepared:
    for p in model.parameters():
        p.requires_grad_(True)
    return Prepared(model, {})


register_method("full", FullConfig, prepare_full, help="End-to-end finetuning: every parameter trains.")
register_method(
    "full+tokens",
    FullTokensConfig,
    prepare_full,
    uses_tokens=True,
    help="Ablation: end-to-end finetuning with AdaPT's new tokens.",
)
