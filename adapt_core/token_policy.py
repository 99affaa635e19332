"""The automatic acceptance policy: which mined candidates become a run's new tokens when no person vetted them.

AdaPT's first half is the vocabulary. A person vets candidates in the studio, or a run with no vetted list accepts
them by one documented policy, the same from the CLI (`train --method adapt`, `mine --accept auto`), the grid and the
studio's "Accept by policy" button: mine → PPLu score → decide every candidate by `TokenPolicy`, with a reason
(`auto_vet`, `decide_by_policy`). What a run then does with the accepted tokens is `token_record.py`; what the
rules measure about each candidate (support per class, specificity, fire counts) is `candidate_stats.py`.

The policy (`decide_by_policy`), in order; the first rule a candidate fails is its reason:
1. **Task-specific**: specificity = how far the candidate's top-class share rises from that class's share of the
   training texts towards 1, (purity − prior) / (1 − prior): 0 for a phrase spread like the labels, 1 for a phrase
   of one class. Below `min_specificity` it is rejected, as **generic** when it is also frequent (in at least
   `generic_share` of the training texts: "can you tell me", "my account"), else as not class-specific.
2. **PPLu filter**: PPLu is a filter, never the ranking; one tail of the scored candidates is cut (`pplu_keep`,
   `pplu_quantile` or `pplu_threshold`). Unscored candidates pass. Measured on the five tasks
   (`benchmarks/token_acceptance.py`), the lowest PPLu decile is stock English ("Is there a way to", "can be used to", "In this
   paper we") and the highest is the domain's words ("disposable virtual card", "beneficiary", "clustering",
   "Gaussian"): a low PPLu says the general LM predicts the phrase, not that the task needs it. So the default keeps
   the high side (`pplu_keep="high"`) and cuts the lowest 10 % (`pplu_quantile=0.9`); "low" (DESIGN's first reading,
   a cohesion cut) and "off" remain options.
3. **One token per phrase**: of two overlapping candidates (one inside the other, or one's end the other's start)
   whose training texts are mostly the same (`merge_overlap` of the smaller set), one is kept: the longer when one
   contains the other, else the better ranked; the other is `merged into …`.
4. **Ranked, then capped**: by mutual information with the label (or by specificity), best first; at most
   `max_new_tokens`.
5. **Fires**: the accepted tokens are added to a copy of the tokenizer and the training texts tokenized again; a
   token that fires in fewer than `min_fires` texts (default: the mining min support) is rejected with the count, and
   the next ranked candidate moves up. Nothing is added silently.

The policy's settings are fields of `TokenPolicy`; AdaPT's config holds one, so its CLI flags, the studio's form and
the grid's JSON come from these fields. The defaults come from `benchmarks/token_acceptance.py` (see the README's table).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from adapt_core.candidate_stats import ClassStats, class_stats, fire_check, occurrences
from adapt_core.errors import AdaptError

POLICY_NAME = "auto"
RANKINGS = ("mutual_info", "specificity")
PPLU_KEEPS = ("low", "high", "off")
_MAX_ROUNDS = 5  # fire check → refill rounds; each round only drops, so this bounds a rare cascade


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
        metadata={"help": "Accept at most this many tokens, best ranked first; empty = 10 % of the base vocabulary."},
    )
    rank_by: str = field(
        default="mutual_info",
        metadata={
            "help": "Ranking before the cap: mutual_info (MI with the label, nats) or specificity (purity above chance).",
            "choices": RANKINGS,
        },
    )
    min_specificity: float = field(
        default=0.2,
        metadata={
            "help": "Reject candidates whose class purity rises less than this far from chance towards 1 (0 = off)."
        },
    )
    generic_share: float = field(
        default=0.01,
        metadata={"help": "A rejected non-specific candidate in at least this share of training texts is 'generic'."},
    )
    pplu_keep: str = field(
        default="high",
        metadata={"help": "PPLu cohesion filter: keep low (cohesive) or high values, or off.", "choices": PPLU_KEEPS},
    )
    pplu_quantile: float = field(
        default=0.9,
        metadata={"help": "Keep this share of the scored candidates, the most cohesive by pplu_keep (1 = no cut)."},
    )
    pplu_threshold: float | None = field(
        default=None,
        metadata={"help": "Absolute PPLu cut instead of the quantile (kept side by pplu_keep); empty = quantile."},
    )
    merge_overlap: float = field(
        default=0.8,
        metadata={"help": "Overlapping candidates sharing at least this share of their texts become one token."},
    )
    min_fires: int | None = field(
        default=None,
        metadata={
            "help": "Fewest training texts an accepted token must fire in after augmentation; "
            "empty = the mining min support (policy), 1 (a vetted list)."
        },
    )

    def __post_init__(self):
        if self.min_support is not None and self.min_support < 1:
            raise AdaptError(f"min_support must be at least 1 or empty (got {self.min_support})")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise AdaptError(f"max_new_tokens must be at least 1 or empty (got {self.max_new_tokens})")
        if self.rank_by not in RANKINGS:
            raise AdaptError(f"rank_by must be one of {', '.join(RANKINGS)} (got {self.rank_by!r})")
        if self.pplu_keep not in PPLU_KEEPS:
            raise AdaptError(f"pplu_keep must be one of {', '.join(PPLU_KEEPS)} (got {self.pplu_keep!r})")
        for name in ("min_specificity", "generic_share"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise AdaptError(f"{name} must be between 0 and 1 (got {getattr(self, name)})")
        if not 0.0 < self.pplu_quantile <= 1.0:
            raise AdaptError(
                f"pplu_quantile must be in (0, 1]; 1 keeps every scored candidate (got {self.pplu_quantile})"
            )
        if self.pplu_threshold is not None and not self.pplu_threshold > 0:
            raise AdaptError(f"pplu_threshold must be a positive PPLu or empty (got {self.pplu_threshold})")
        if not 0.0 < self.merge_overlap <= 1.0:
            raise AdaptError(
                f"merge_overlap must be in (0, 1]; 1 merges only identical text sets (got {self.merge_overlap})"
            )
        if self.min_fires is not None and self.min_fires < 1:
            raise AdaptError(f"min_fires must be at least 1 or empty (got {self.min_fires})")

    def resolve_min_support(self, n_texts: int) -> int:
        """The mining min support on `n_texts` training texts (MiningConfig's default when empty)."""
        from adapt_core.mining import MiningConfig

        return (MiningConfig(min_support=self.min_support) if self.min_support else MiningConfig()).resolve_min_support(
            n_texts
        )


# ------------------------------------------------------------------------------------------------ the policy


def _contains(long: tuple, short: tuple) -> bool:
    n = len(short)
    return n <= len(long) and any(long[i : i + n] == short for i in range(len(long) - n + 1))


def _touches(a: tuple, b: tuple) -> bool:
    """True when one contains the other or a's end is b's start (or the reverse): fragments of one phrase."""
    if _contains(a, b) or _contains(b, a):
        return True
    return any(a[-k:] == b[:k] or b[-k:] == a[:k] for k in range(1, min(len(a), len(b))))


def _pplu_cut(pplu: list[float | None], policy: TokenPolicy) -> float | None:
    """The PPLu bound of the cohesion filter (None: no cut)."""
    if policy.pplu_keep == "off":
        return None
    if policy.pplu_threshold is not None:
        return policy.pplu_threshold
    values = np.array([p for p in pplu if p is not None and not math.isnan(p)])
    if len(values) == 0 or policy.pplu_quantile >= 1.0:
        return None
    q = policy.pplu_quantile if policy.pplu_keep == "low" else 1.0 - policy.pplu_quantile
    return float(np.quantile(values, q))


def _class_text(i: int, st: ClassStats, label_names) -> str:
    top = int(st.top[i])
    name = label_names[top] if label_names and top < len(label_names) else str(top)
    purity = st.class_support[i, top] / max(st.support[i], 1)
    return f"top class {name} {purity:.0%}, chance {st.prior[top]:.0%}; specificity {st.specificity[i]:.2f}"


def _filter_reason(i, st: ClassStats, pplu, cut, policy: TokenPolicy, n_texts: int, label_names) -> str | None:
    """Why candidate i fails rules 1–2, or None when it passes them."""
    if st.support[i] == 0:
        return "not found in the training texts"
    if st.specificity[i] < policy.min_specificity:
        kind = "generic" if st.support[i] >= policy.generic_share * n_texts else "not class-specific"
        return (
            f"{kind}: in {st.support[i]} training texts ({st.support[i] / n_texts:.1%}), "
            f"{_class_text(i, st, label_names)} < {policy.min_specificity}"
        )
    p = pplu[i]
    if cut is None or p is None or math.isnan(p):
        return None  # unscored candidates pass the cohesion filter
    if (policy.pplu_keep == "low" and p > cut) or (policy.pplu_keep == "high" and p < cut):
        side = "above" if policy.pplu_keep == "low" else "below"
        return f"not cohesive: PPLu {p:.3g} {side} the cut {cut:.3g} (the policy keeps {policy.pplu_keep} PPLu)"
    return None


def _rank_key(i: int, st: ClassStats, policy: TokenPolicy) -> tuple:
    first = st.mutual_info[i] if policy.rank_by == "mutual_info" else st.specificity[i]
    return (-first, -st.support[i], i)


def _merge(order: list[int], pieces, rows, overlap: float) -> dict[int, int]:
    """{merged candidate: the candidate it became}; `order` best first. See rule 3 in the module docstring."""
    kept: list[int] = []
    by_piece: dict[int, list[int]] = {}
    merged: dict[int, int] = {}
    for a in order:
        target = None
        for b in dict.fromkeys(b for t in set(pieces[a]) for b in by_piece.get(t, ())):
            if b in merged or not _touches(pieces[a], pieces[b]):
                continue
            shared = len(rows[a] & rows[b]) / max(min(len(rows[a]), len(rows[b])), 1)
            if shared >= overlap:
                target = b
                break
        if target is None:
            kept.append(a)
            for t in set(pieces[a]):
                by_piece.setdefault(t, []).append(a)
        elif len(pieces[a]) > len(pieces[target]) and _contains(pieces[a], pieces[target]):
            merged[target] = a  # the longer phrase covers the shorter one's texts: it takes the place
            kept[kept.index(target)] = a
            for t in set(pieces[a]):
                by_piece.setdefault(t, []).append(a)
        else:
            merged[a] = target
    for m in list(merged):  # follow chains to the candidate finally kept
        while merged[m] in merged:
            merged[m] = merged[merged[m]]
    return merged


def decide_by_policy(vetted, split, tokenizer, policy: TokenPolicy, num_classes: int | None = None):
    """A copy of `vetted` with every candidate accepted or rejected by `policy` on the training `split`, each with
    its reason (see the module docstring). Statistics missing from a candidate (hand-written ones) are filled in."""
    from adapt_core.vetting import VettedList

    if len(split) == 0:
        raise AdaptError("the train split is empty: the policy needs the training texts and labels")
    texts, labels = list(split.texts), list(split.labels)
    num_classes = max(num_classes or 0, max(labels) + 1, len(vetted.label_names or []))
    out = VettedList([replace(c) for c in vetted], vetted.label_names)
    cands = out.candidates
    if not cands:
        return out
    pieces, rows = occurrences(out, texts, tokenizer)
    st = class_stats(rows, labels, num_classes)
    for i, c in enumerate(cands):  # fill what a hand-written candidate lacks
        if c.support is None:
            c.support, c.class_support = int(st.support[i]), tuple(int(v) for v in st.class_support[i])
            c.purity = float(st.class_support[i].max() / max(st.support[i], 1))
            c.mutual_info = float(st.mutual_info[i])
    pplu = [c.pplu for c in cands]
    cut = _pplu_cut(pplu, policy)
    reasons: dict[int, tuple[str, str]] = {}
    passing = []
    for i in range(len(cands)):
        why = _filter_reason(i, st, pplu, cut, policy, len(texts), out.label_names)
        if why:
            reasons[i] = ("rejected", why)
        else:
            passing.append(i)
    order = sorted(passing, key=lambda i: _rank_key(i, st, policy))
    merged = _merge(order, pieces, rows, policy.merge_overlap)
    for m, into in merged.items():
        reasons[m] = ("rejected", f"merged into {cands[into].text!r} (a fragment of the same phrase)")
    ranked = [i for i in order if i not in merged]
    _accept_and_check(ranked, cands, st, texts, tokenizer, policy, reasons)
    for i, (decision, why) in reasons.items():
        cands[i].decision, cands[i].reason = decision, why
    return out


def _accept_and_check(ranked, cands, st, texts, tokenizer, policy, reasons) -> None:
    """Rules 4–5: take the best `cap`, drop those that do not fire, refill; write each decision into `reasons`."""
    cap = policy.max_new_tokens or max(1, int(0.10 * tokenizer.vocab_size))
    min_fires = policy.min_fires or policy.resolve_min_support(len(texts))
    queue, accepted, fires = list(ranked), [], {}
    for _ in range(_MAX_ROUNDS):
        while queue and len(accepted) < cap:
            accepted.append(queue.pop(0))
        fires, dead = fire_check([cands[i].text for i in accepted], texts, tokenizer, min_fires)
        if not dead:
            break
        dead_set = set(dead)
        for i in [i for i in accepted if cands[i].text in dead_set]:
            n = fires[cands[i].text][1]
            reasons[i] = (
                "rejected",
                f"does not fire: in {n} training texts after augmentation, fewer than {min_fires}",
            )
        accepted = [i for i in accepted if cands[i].text not in dead_set]
    for i in accepted:
        value = st.mutual_info[i] if policy.rank_by == "mutual_info" else st.specificity[i]
        reasons[i] = (
            "accepted",
            f"policy {POLICY_NAME}: {policy.rank_by} {value:.3g}, specificity {st.specificity[i]:.2f}, "
            f"fires in {fires.get(cands[i].text, (0, 0))[1]} training texts",
        )
    for i in queue:
        reasons[i] = ("rejected", f"over the cap: {cap} better-ranked tokens by {policy.rank_by}")


def auto_vet(task_data, model_name: str, policy: TokenPolicy, tokenizer=None, progress: Callable | None = None):
    """Mine `task_data`'s train split, score by PPLu and decide every candidate by `policy`: a VettedList."""
    from adapt_core.candidates import mine_candidates
    from adapt_core.mining import MiningConfig
    from adapt_core.models import load_tokenizer
    from adapt_core.perplexity import PerplexityConfig

    mining = MiningConfig(min_support=policy.min_support) if policy.min_support else MiningConfig()
    scoring = None
    if policy.scorer and policy.pplu_keep != "off":
        scoring = PerplexityConfig(scorer=policy.scorer, max_new_share=1.0)
    tokenizer = tokenizer or load_tokenizer(model_name)
    vetted, _ = mine_candidates(task_data, model_name, mining, scoring, progress=progress, tokenizer=tokenizer)
    return decide_by_policy(vetted, task_data["train"], tokenizer, policy, task_data.num_labels)
