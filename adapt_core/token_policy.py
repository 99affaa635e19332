"""The new tokens of a run: a vetted list when one is given, else the automatic acceptance policy.

AdaPT's first half is the vocabulary. A person vets candidates in the studio, or a run with no vetted list accepts
them by one documented policy, the same from the CLI (`train --method adapt`), the grid and the studio's demo:
mine → PPLu score → accept by `TokenPolicy`. `run_tokens` then adds the accepted ones to the model and returns a
`TokenRecord`: what `tokens.json` in the run folder holds and what `report.json` says about the tokens.

The policy's settings are fields of `TokenPolicy`; AdaPT's config holds one, so its CLI flags, the studio's form
and the grid's JSON come from these fields.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from adapt_core.errors import AdaptError

POLICY_NAME = "auto"


@dataclass(frozen=True)
class TokenPolicy:
    """How candidates are mined, scored and accepted when a run is given no vetted list."""

    scorer: str | None = field(
        default="smollm2-135m",
        metadata={"help": "PPLu scoring LM (registry name, folder or Hub id); empty = no PPLu scoring."},
    )
    min_support: int | None = field(
        default=None,
        metadata={"help": "Mining: fewest training examples a candidate occurs in; empty = max(3, 0.5 % of examples)."},
    )
    max_new_tokens: int | None = field(
        default=None,
        metadata={"help": "Accept at most this many tokens; empty = 10 % of the base vocabulary."},
    )

    def __post_init__(self):
        if self.min_support is not None and self.min_support < 1:
            raise AdaptError(f"min_support must be at least 1 or empty (got {self.min_support})")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise AdaptError(f"max_new_tokens must be at least 1 or empty (got {self.max_new_tokens})")


def auto_vet(task_data, model_name: str, policy: TokenPolicy, tokenizer=None, progress: Callable | None = None):
    """Mine `task_data`'s train split, score by PPLu and decide every candidate by `policy`: a VettedList."""
    from adapt_core.candidates import find_candidates
    from adapt_core.mining import MiningConfig
    from adapt_core.perplexity import PerplexityConfig

    mining = MiningConfig(min_support=policy.min_support) if policy.min_support else MiningConfig()
    scoring = PerplexityConfig(scorer=policy.scorer, max_new_tokens=policy.max_new_tokens) if policy.scorer else None
    vetted = find_candidates(task_data, model_name, mining, scoring, progress=progress, tokenizer=tokenizer)
    vetted.decide_where("accepted", reason=f"policy {POLICY_NAME}: survived the PPLu filter and the cap")
    return vetted


@dataclass
class TokenRecord:
    """The tokens a run used: the decided list, how it was obtained, and what augmentation added."""

    source: str  # "vetted:<file>", "policy:auto" or "none"
    vetted: object | None = None  # the VettedList (accepted and rejected, with reasons), None without tokens
    augment: dict = field(default_factory=dict)  # tokens.augment's report

    @property
    def accepted(self) -> list[str]:
        return [] if self.vetted is None else self.vetted.accepted()

    def summary(self) -> dict:
        """For report.json: how many tokens, by which policy or list."""
        return {"added": int(self.augment.get("added", 0)), "source": self.source, **self.augment}

    def to_dict(self) -> dict:
        """For tokens.json: every candidate with its statistics and decision, and the augmentation report."""
        candidates = [] if self.vetted is None else self.vetted.to_dict()
        return {"source": self.source, "augment": self.augment, "candidates": candidates}


def run_tokens(
    model,
    tokenizer,
    task_data,
    model_name: str,
    *,
    vetted_path: str | None,
    policy: TokenPolicy,
    init: str = "random",
    seed: int | None = None,
    progress: Callable | None = None,
) -> TokenRecord:
    """Add a run's new tokens to `model` / `tokenizer` IN PLACE: the vetted list's accepted ones, else the policy's."""
    from adapt_core.tokens import augment
    from adapt_core.vetting import load_vetted

    if vetted_path:
        vetted = load_vetted(vetted_path)
        if not vetted.accepted():
            raise AdaptError(f"{vetted_path} has no accepted token: accept some (or `mine --accept auto`)")
        source = f"vetted:{vetted_path}"
    else:
        vetted = auto_vet(task_data, model_name, policy, tokenizer=tokenizer, progress=progress)
        source = f"policy:{POLICY_NAME}"
    info = augment(model, tokenizer, vetted.accepted(), init=init, seed=seed)
    return TokenRecord(source, vetted, info)
