"""From a labelled corpus to a list of vocabulary candidates to vet: tokenize → mine → filter → PPLu → keep.

One function, so the `mine --dataset` command, the studio's Tokens page and scripts all run the same steps:
1. tokenize the train split with the *classification* model's tokenizer (special tokens out);
2. mine closed contiguous n-grams with per-class statistics (`mining.mine`);
3. keep vocabulary candidates: word-bounded, not already one token, not only stop-words/punctuation/digits
   (`vocab_candidates.candidates`);
4. score PPLu with the scoring LM (optional) and keep the lowest first, at most `max_new_tokens` (default 10 % of
   the base vocabulary) and under the optional threshold; without scoring, keep the most frequent up to that cap.
The result is a `VettedList` of pending candidates. `mine_candidates` stops after scoring (no cap, no cut): the
automatic acceptance policy (`token_policy`) decides on every candidate itself.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from adapt_core.data import TaskData
from adapt_core.errors import AdaptError
from adapt_core.mining import MiningConfig, mine
from adapt_core.perplexity import PerplexityConfig, Progress, score, select
from adapt_core.vetting import VettedCandidate, VettedList
from adapt_core.vocab_candidates import candidates

DEFAULT_SHARE = 0.10  # without PPLu scoring: keep at most this share of the base vocabulary (the most frequent)


def _vetted(cands, pplu, label_names) -> VettedList:
    rows = [
        VettedCandidate(
            c.text,
            tuple(c.ids),
            c.support,
            c.class_support,
            c.purity,
            c.mutual_info,
            None if p is None or np.isnan(p) else float(p),
            examples=tuple(c.example_texts),
        )
        for c, p in zip(cands, pplu, strict=True)
    ]
    return VettedList(rows, list(label_names))


def _nothing_left(why: str) -> AdaptError:
    return AdaptError(
        f"every candidate was filtered out ({why}): lower min_support, raise max_new_tokens or "
        "relax (raise) the PPLu threshold"
    )


def _mine(task_data: TaskData, model_name: str, mining_config: MiningConfig | None, tokenizer):
    """(word-bounded candidates, the train split, tokenizer, resolved min support) for `model_name`'s tokenizer."""
    from adapt_core.models import load_tokenizer

    config = mining_config or MiningConfig()
    if config.mode != "contiguous":
        config = replace(config, mode="contiguous")  # only contiguous patterns can become one token
    split = task_data["train"]
    if len(split) == 0:
        raise AdaptError("the train split is empty: give at least one training text to mine tokens from")
    tokenizer = tokenizer or load_tokenizer(model_name)
    enc = tokenizer(list(split.texts), add_special_tokens=False, return_offsets_mapping=True)
    sequences = enc["input_ids"]
    result = mine(sequences, config, labels=split.labels, texts=split.texts, num_classes=task_data.num_labels)
    # surface texts from the original texts' character offsets: exactly what an added token must match
    cands = candidates(result, tokenizer, sequences, texts=split.texts, offsets=enc["offset_mapping"])
    if not cands:
        raise _nothing_left(
            f"{len(result)} frequent patterns at min support {result.min_count}, none usable as a whole-word token"
        )
    return cands, split, tokenizer, result.min_count


def mine_candidates(
    task_data: TaskData,
    model_name: str,
    mining_config: MiningConfig | None = None,
    perplexity_config: PerplexityConfig | None = None,
    progress: Progress | None = None,
    tokenizer=None,
) -> tuple[VettedList, int]:
    """(every word-bounded candidate, pending, in mining order with PPLu where scored; the resolved min support).

    No cap and no PPLu cut: the automatic acceptance policy (`token_policy`) decides on all of them."""
    cands, split, _, min_count = _mine(task_data, model_name, mining_config, tokenizer)
    pplu = [None] * len(cands) if perplexity_config is None else score(cands, split.texts, perplexity_config, progress)
    return _vetted(cands, pplu, task_data.label_names), min_count


def find_candidates(
    task_data: TaskData,
    model_name: str,
    mining_config: MiningConfig | None = None,
    perplexity_config: PerplexityConfig | None = None,
    progress: Progress | None = None,
    tokenizer=None,
) -> VettedList:
    """Pending vocabulary candidates for `model_name` mined from `task_data`'s train split, with their statistics.

    `perplexity_config=None` skips PPLu scoring. `progress(done, total)` reports scoring. `tokenizer` (optional)
    is the classification tokenizer if the caller already has it (it is only read, never changed).
    """
    cands, split, tokenizer, _ = _mine(task_data, model_name, mining_config, tokenizer)
    base_vocab = tokenizer.vocab_size
    if perplexity_config is None:
        cap = max(1, int(DEFAULT_SHARE * base_vocab))
        return _vetted(cands[:cap], [None] * min(cap, len(cands)), task_data.label_names)
    pplu = score(cands, split.texts, perplexity_config, progress)
    keep = select(
        list(range(len(cands))), pplu, perplexity_config.resolve_max_new_tokens(base_vocab), perplexity_config.threshold
    )
    if not keep:
        raise _nothing_left(f"none of {len(cands)} candidates has PPLu <= {perplexity_config.threshold}")
    return _vetted([cands[i] for i in keep], [pplu[i] for i in keep], task_data.label_names)
