"""What every method shares: the config base (non-finite numbers refused), `Prepared`, and freezing helpers.

A method config is a frozen dataclass deriving from `BaseMethodConfig`, with a `help` on every field and defaults
that work on the packaged MiniLM, its own learning rate (`lr`) included when it trains by gradient. Fields may nest
another frozen dataclass (AdaPT's `tokens: TokenPolicy`); the CLI and the forms flatten it with a prefix.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn

from adapt_core.anatomy import new_token_parameter_names
from adapt_core.errors import AdaptError
from adapt_core.tokens import INITS as TOKEN_INITS  # noqa: E402 (one list of initialisations)


def token_policy_field():
    """The `tokens` field of the methods that add new tokens: the automatic acceptance policy."""
    from adapt_core.token_policy import TokenPolicy

    return field(
        default_factory=TokenPolicy,
        metadata={"help": "Automatic acceptance of new tokens when the run is given no vetted list (--tokens)."},
    )


def token_init_field(default: str = "random"):
    return field(
        default=default,
        metadata={
            "help": "Initial new-token embeddings: random N(0, initializer_range) as the paper, or the mean of the "
            "constituent subword embeddings.",
            "choices": TOKEN_INITS,
        },
    )


def lr_field(default: float):
    return field(
        default=default, metadata={"help": "Peak AdamW learning rate of this method (TrainConfig.lr overrides)."}
    )


@dataclass
class Prepared:
    model: nn.Module
    info: dict = field(default_factory=dict)  # what the method chose (e.g. selected modules), for report.json
    selection: dict | None = None  # for selection.json: the trained modules and the rule that chose them


def train_only(model: nn.Module, names: set[str]) -> None:
    """requires_grad on exactly the named parameters (plus new-token embeddings); everything else frozen."""
    names = names | set(new_token_parameter_names(model))
    for name, p in model.named_parameters():
        p.requires_grad_(name in names)


def unfreeze_new_tokens(model: nn.Module) -> None:
    """New-token embeddings always train: a random embedding left frozen would only add noise."""
    for name, p in model.named_parameters():
        if "new_token" in name:
            p.requires_grad_(True)


def check_choice(value: str, choices: tuple, name: str) -> None:
    if value not in choices:
        raise AdaptError(f"{name} must be one of {', '.join(choices)} (got {value!r})")
