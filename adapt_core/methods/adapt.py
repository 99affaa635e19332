"""AdaPT (`adapt`): new task tokens + sparse finetuning of the most sensitive modules; its ablation and variant.

The pipeline first adds the run's new tokens (`token_record.run_tokens`: a vetted list, else the automatic policy in
`tokens`). `prepare` then takes the sensitivity report it is given (measured once, on the Sensitivity page or with
`sensitivity --save-report`), or measures one on a calibration sample of the training split with the run's
max_length and seed, selects modules within `top_k` % of the non-embedding parameters (`selection.SELECTION_RULE`)
and trains those modules, the new-token embeddings and the classification head.
- `adapt-no-tokens`: the same without new tokens (the sparse half alone).
- `adapt-random-init`: the paper's initialisation of the new-token embeddings, random (AdaPT's own default is the
  mean of each new token's subword embeddings, which won on dev).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from adapt_core.anatomy import head_parameter_names
from adapt_core.config_base import BaseMethodConfig
from adapt_core.errors import AdaptError
from adapt_core.methods.base import (
    TOKEN_INITS,
    Prepared,
    check_choice,
    lr_field,
    token_init_field,
    token_policy_field,
    train_only,
)
from adapt_core.methods.registry import register_method
from adapt_core.selection import DEFAULT_TOP_K, GROUPINGS
from adapt_core.sensitivity import POSITIONS, SensitivityConfig, measure
from adapt_core.token_policy import TokenPolicy

SENSITIVITY_FIELDS = ("calibration_size", "positions", "grouping", "head_warmup_steps")  # what a measurement depends on


@dataclass(frozen=True)
class AdaptConfig(BaseMethodConfig):
    """AdaPT: its budget, how sensitivity is measured, and how new tokens are accepted and initialised."""

    lr: float = lr_field(3e-4)
    top_k: float = field(
        default=DEFAULT_TOP_K, metadata={"help": "Budget: % of the non-embedding parameters to train."}
    )
    beta: float = field(default=1.0, metadata={"help": "Score weight: S = norm(D) + beta * norm(G)."})
    calibration_size: int | None = field(
        default=None,
        metadata={"help": "Training examples for the sensitivity pass; empty = 512, or all when fewer."},
    )
    positions: str = field(
        default="all",
        metadata={"help": "Positions for the dispersion D: all (non-pad tokens) or tokens (only the new tokens)."},
    )
    grouping: str = field(
        default="linear",
        metadata={"help": "Unit of selection: linear (each nn.Linear), block (attention / MLP of a layer) or layer."},
    )
    head_warmup_steps: int = field(
        default=0,
        metadata={"help": "Train the head alone this many steps before measuring gradients (undone afterwards)."},
    )
    tokens: TokenPolicy = token_policy_field()
    # mean, not the paper's random: the higher mean dev macro-F1 over the lr sweep's tasks in both converged profiles
    token_init: str = token_init_field("mean")

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.top_k <= 100:
            raise AdaptError(f"top_k must be in (0, 100] percent (got {self.top_k})")
        if self.beta < 0:
            raise AdaptError(f"beta must be ≥ 0 (got {self.beta})")
        check_choice(self.token_init, TOKEN_INITS, "token_init")
        check_choice(self.grouping, GROUPINGS, "grouping")
        check_choice(self.positions, POSITIONS, "positions")
        self.sensitivity_config()  # validates calibration_size and head_warmup_steps

    def sensitivity_config(self, max_length: int = 128, seed: int = 0, device: str = "auto") -> SensitivityConfig:
        """The SensitivityConfig AdaPT measures with: these settings plus the run's max_length and seed."""
        return SensitivityConfig(
            calibration_size=self.calibration_size,
            positions=self.positions,
            grouping=self.grouping,
            head_warmup_steps=self.head_warmup_steps,
            max_length=max_length,
            seed=seed,
            device=device,
        )


def prepare_adapt(model, tokenizer, config: AdaptConfig, data, *, report=None, train=None, progress=None) -> Prepared:
    source = "given"
    if report is None:
        if data is None:
            raise AdaptError("AdaPT measures sensitivity on the training data: pass the TaskData to prepare()")
        # the pipeline moves the model to its device later: measure on the fastest one now
        length, seed = (train.max_length, train.seed) if train is not None else (128, 0)
        report = measure(model, tokenizer, data, config.sensitivity_config(length, seed), progress=progress)
        source = "measured"
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
    train_only(model, names | set(head_parameter_names(model)))
    info = {"selection": selection.to_dict(), "sensitivity": report.to_dict(), "sensitivity_source": source}
    return Prepared(model, info, report.selection_record(config.beta, config.top_k, source))


register_method(
    "adapt",
    AdaptConfig,
    prepare_adapt,
    uses_tokens=True,
    uses_sensitivity=True,
    help="AdaPT: new task tokens + the most sensitive modules within top-k % train.",
)
register_method(
    "adapt-no-tokens",
    AdaptConfig,
    prepare_adapt,
    uses_sensitivity=True,
    help="Ablation: AdaPT's sparse finetuning on the base vocabulary.",
)
register_method(
    "adapt-random-init",
    AdaptConfig,
    prepare_adapt,
    uses_tokens=True,
    uses_sensitivity=True,
    defaults={"token_init": "random"},
    help="Variant: the paper's AdaPT, new-token embeddings drawn from N(0, initializer_range).",
)
