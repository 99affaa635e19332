"""What a run does with its new tokens: add them to the model and keep a record of them.

A run's tokens come from a vetted list when one is given, else from the automatic acceptance policy
(`token_policy.auto_vet`). `run_tokens` adds the accepted ones to the model and tokenizer, after rejecting, with
the count, a vetted token that does not fire in the training texts (a person's choice is never added silently), and
returns a `TokenRecord`: what `tokens.json` in the run folder holds (every decision, and how often each added token
fired in each split) and what `report.json` says.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from adapt_core.candidate_stats import fire_check, fire_counts
from adapt_core.errors import AdaptError
from adapt_core.token_policy import POLICY_NAME, TokenPolicy, auto_vet

SPLITS = ("train", "dev", "test")


@dataclass
class TokenRecord:
    """The tokens a run used: the decided list, how it was obtained, what augmentation added and how often each
    added token fired per split (`fires[split][token] = (occurrences, texts)`)."""

    source: str  # "vetted:<file>", "policy:auto" or "none"
    vetted: object | None = None  # the VettedList (accepted and rejected, with reasons), None without tokens
    augment: dict = field(default_factory=dict)  # tokens.augment's report
    fires: dict = field(default_factory=dict)

    @property
    def accepted(self) -> list[str]:
        return [] if self.vetted is None else self.vetted.accepted()

    def fire_summary(self) -> dict:
        """Per split: how many added tokens fire at least once, and the share."""
        out = {}
        for split, counts in self.fires.items():
            firing = sum(1 for occ, _ in counts.values() if occ > 0)
            out[split] = {"tokens_firing": firing, "share_firing": firing / len(counts) if counts else 0.0}
        return out

    def summary(self) -> dict:
        """For report.json: how many tokens, by which policy or list, and how many fire per split."""
        counts = {} if self.vetted is None else self.vetted.counts()
        return {
            "added": int(self.augment.get("added", 0)),
            "source": self.source,
            **self.augment,
            "candidates": counts,
            "firing": self.fire_summary(),
        }

    def to_dict(self) -> dict:
        """For tokens.json: every candidate with its statistics and decision, the augmentation report, and how often
        each added token fired in each split."""
        candidates = [] if self.vetted is None else self.vetted.to_dict()
        fires = {
            split: {t: {"occurrences": o, "texts": n} for t, (o, n) in counts.items()}
            for split, counts in self.fires.items()
        }
        return {"source": self.source, "augment": self.augment, "fires": fires, "candidates": candidates}


def load_accepted(vetted_path):
    """The vetted list a run is given, refused (one line) when it accepts no token: `run_request.check_run_request`
    reads it so before the run's folder is touched, and the run reads it again here."""
    from adapt_core.vetting import load_vetted

    vetted = load_vetted(vetted_path)
    if not vetted.accepted():
        raise AdaptError(f"{vetted_path} has no accepted token: accept some (or `mine --accept auto`)")
    return vetted


def _drop_dead(vetted, task_data, tokenizer, min_fires: int) -> None:
    """Reject (IN PLACE, with the count) the accepted tokens of a vetted list that fire in fewer than `min_fires`
    training texts once added: a person's choice is never added silently when it cannot match the text."""
    accepted = vetted.accepted()
    fires, dead = fire_check(accepted, task_data["train"].texts, tokenizer, min_fires)
    for t in dead:
        vetted.decide(t, "rejected", f"does not fire: in {fires[t][1]} training texts after augmentation")


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
    """Add a run's new tokens to `model` / `tokenizer` IN PLACE: the vetted list's accepted ones, else the policy's.

    Accepted tokens of a vetted list that do not fire in the training texts (`policy.min_fires`, default 1) are
    rejected with the reason before augmentation. The record counts how often each added token fires per split."""
    import copy

    from adapt_core.tokens import augment

    base = copy.deepcopy(tokenizer)  # the tokenizer before augmentation: added tokens are looked up through it
    if vetted_path:
        vetted = load_accepted(vetted_path)
        _drop_dead(vetted, task_data, tokenizer, policy.min_fires or 1)
        if not vetted.accepted():
            raise AdaptError(f"no accepted token of {vetted_path} occurs in the training texts: check their spelling")
        source = f"vetted:{vetted_path}"
    else:
        vetted = auto_vet(task_data, model_name, policy, tokenizer=tokenizer, progress=progress)
        source = f"policy:{POLICY_NAME}"
    accepted = vetted.accepted()
    info = augment(model, tokenizer, accepted, init=init, seed=seed)
    fires = {
        name: fire_counts(tokenizer, task_data[name].texts, accepted, base)
        for name in SPLITS
        if name in task_data.splits
    }
    return TokenRecord(source, vetted, info, fires)
