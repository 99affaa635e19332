"""What the acceptance policy decides on: where each mined candidate occurs in the training texts, how
class-specific it is, and how often an added token then fires.

Per candidate of a vetted list: the training texts that contain its pieces (`occurrences`), its support per class,
mutual information with the label and task-specificity (`class_stats`), and, once the accepted tokens are added to
a tokenizer, the texts each one fires in (`fire_counts`, `fire_check`). `specificity` is the one definition of
task-specificity: the policy's rule 1 (token_policy.py) and the Tokens page's table (`candidate_specificity`) both
call it. Kept apart from the policy's rules because the studio and the run's token record measure candidates
without deciding anything.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from adapt_core.word_marks import tokenizer_marks_word_starts


def _index(sequences: Sequence[Sequence[int]], patterns: list[tuple[int, ...]]) -> list[set[int]]:
    """Per pattern, the set of sequence indices that contain it (contiguously)."""
    wanted = {p: i for i, p in enumerate(patterns)}
    rows: list[set[int]] = [set() for _ in patterns]
    for n in sorted({len(p) for p in patterns if p}):
        for r, seq in enumerate(sequences):
            for s in range(len(seq) - n + 1):
                i = wanted.get(tuple(seq[s : s + n]))
                if i is not None and len(patterns[i]) == n:
                    rows[i].add(r)
    return rows


def occurrences(vetted, texts: Sequence[str], tokenizer) -> tuple[list[tuple[int, ...]], list[set[int]]]:
    """(pieces, set of training texts containing them) per candidate; hand-written ones are tokenized here."""
    prefix = " " if tokenizer_marks_word_starts(tokenizer) else ""
    pieces = [
        tuple(c.ids) if c.ids else tuple(tokenizer(prefix + c.text, add_special_tokens=False)["input_ids"])
        for c in vetted
    ]
    sequences = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return pieces, _index(sequences, pieces)


@dataclass
class ClassStats:
    """What the policy decides on, per candidate (arrays of length n_candidates)."""

    support: np.ndarray
    class_support: np.ndarray  # (n, C)
    mutual_info: np.ndarray
    specificity: np.ndarray
    top: np.ndarray  # index of the top class
    prior: np.ndarray  # (C,) class shares of the training texts


def class_stats(rows: list[set[int]], labels: Sequence[int], num_classes: int) -> ClassStats:
    from adapt_core.mining import _mutual_info

    labels = np.asarray(labels, dtype=np.int64)
    total = np.bincount(labels, minlength=num_classes)
    counts = np.zeros((len(rows), num_classes), dtype=np.int64)
    for i, r in enumerate(rows):
        if r:
            counts[i] = np.bincount(labels[sorted(r)], minlength=num_classes)
    prior = total / max(len(labels), 1)
    spec = specificity(counts, total)
    return ClassStats(counts.sum(1), counts, _mutual_info(counts, total, len(labels)), spec, counts.argmax(1), prior)


def specificity(class_support, class_total) -> np.ndarray:
    """How class-specific each candidate is: its top class's share of the texts holding it (purity), from that
    class's share of all training texts (chance) towards 1: (purity − chance) / (1 − chance), clipped to [0, 1];
    0 for a candidate found in no text. `class_support` (n, C) counts the texts holding each candidate per class,
    `class_total` (C,) the training texts per class. The one definition: the policy's rule 1 and the Tokens
    page's table both call it."""
    counts = np.asarray(class_support, dtype=np.float64).reshape(-1, len(class_total))
    total = np.asarray(class_total, dtype=np.float64)
    support = counts.sum(1)
    chance = (total / max(total.sum(), 1))[counts.argmax(1)]
    purity = counts.max(1, initial=0) / np.maximum(support, 1)
    return np.where(support > 0, np.clip((purity - chance) / np.maximum(1 - chance, 1e-12), 0, 1), 0.0)


def candidate_specificity(vetted, labels: Sequence[int], num_classes: int | None = None) -> list[float | None]:
    """`specificity` of each candidate of a vetted list from its stored support per class, against the class
    shares of `labels` (the training split); None for a candidate without per-class support (hand-written)."""
    labels = np.asarray(labels, dtype=np.int64)
    width = max(num_classes or 0, int(labels.max()) + 1 if len(labels) else 0, len(vetted.label_names or []))
    total = np.bincount(labels, minlength=width)
    out: list[float | None] = []
    for c in vetted:
        if not c.class_support or len(c.class_support) > width:
            out.append(None)
        else:
            row = np.zeros(width)
            row[: len(c.class_support)] = c.class_support
            out.append(float(specificity(row[None, :], total)[0]))
    return out


def fire_counts(tokenizer_with_tokens, texts: Sequence[str], tokens: Sequence[str], base_tokenizer) -> dict:
    """{token: (occurrences, texts it fires in)} for `tokens` under a tokenizer that has them added."""
    from adapt_core.tokens import added_token

    word_start = tokenizer_marks_word_starts(base_tokenizer)
    vocab = tokenizer_with_tokens.get_added_vocab()
    id_of = {t: vocab.get(added_token(base_tokenizer, t, word_start).content) for t in tokens}
    occurrences, in_texts = Counter(), Counter()
    if texts:
        for ids in tokenizer_with_tokens(list(texts), add_special_tokens=False)["input_ids"]:
            occurrences.update(ids)
            in_texts.update(set(ids))
    return {t: (int(occurrences[i]), int(in_texts[i])) if i is not None else (0, 0) for t, i in id_of.items()}


def fire_check(accepted: list[str], texts, tokenizer, min_fires: int) -> tuple[dict, list[str]]:
    """(fire counts of the accepted tokens in `texts`, the ones firing in fewer than `min_fires` texts)."""
    from adapt_core.tokens import augmented_tokenizer

    fires = fire_counts(augmented_tokenizer(tokenizer, accepted), texts, accepted, tokenizer)
    return fires, [t for t in accepted if fires[t][1] < min_fires]
