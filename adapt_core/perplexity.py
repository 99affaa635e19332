"""Unigram-normalised perplexity (PPLu, Roh et al. 2020) of vocabulary candidates: the perplexity filter (DESIGN §3).

    PPLu(w_1..T) = exp(-(1/T) Σ_t [log P_LM(w_t | w_<t) − log P_uni(w_t)])

on the candidate's surface text tokenized by the *scoring* model's tokenizer; P_uni is the add-one smoothed token
frequency of the training corpus under that same tokenizer. Lower = the LM predicts the pieces much better than their
corpus frequency alone would, i.e. they form a cohesive unit ("new york" < "york new").

Scorers (loaded by `adapt_core.scorers`): any causal LM (default: the packaged SmolLM2-135M), or a masked LM *with
its MLM head*, scored by pseudo-log-likelihood (each piece masked in turn, the rest visible).

How a causal LM sees a candidate (the paper does not say; chosen by trying SmolLM2 on phrase pairs such as
"new york" / "york new", "ice cream" / "cream ice"):
- Word-start form: for tokenizers that mark word starts (BPE "Ġ", SentencePiece "▁") but do not mark a text's first
  word, the text scored is " " + candidate, so its first piece is the form it has inside a sentence (as mined).
- Context: a candidate is a phrase out of context, so the first piece is conditioned on a document-start token
  (`context="auto"`): the token the tokenizer itself prepends (Llama/Gemma BOS), else "<|endoftext|>" (the GPT-2
  family's document separator), else BOS, else EOS, else none. With no context token only pieces 2..T are scored
  (a model's predictions at position 0 with no start token are unreliable: SmolLM2 without a context token ranks
  "york new" above "new york"). T then counts the scored pieces; a one-piece candidate has no score (NaN).

Results are cached on disk per (corpus hash, scorer, settings) under `cache_dir()/pplu/` as JSON, so re-mining with
other thresholds never re-scores a candidate.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_text
from adapt_core.progress import Throttled, timed_chunks
from adapt_core.scorers import Scorer, load_named, scorer_from_objects

Progress = Callable[[int, int], None]
KINDS = ("auto", "causal", "masked")
CONTEXTS = ("auto", "bos", "eos", "none")
_VERSION = 1  # bump when the scoring rules change: old cache files are then ignored


@dataclass(frozen=True)
class PerplexityConfig:
    """How candidates are scored and how many are kept."""

    scorer: str = field(
        default="smollm2-135m",
        metadata={
            "help": "Scoring LM: registry name, local folder or Hub id of a causal LM, or of a masked LM with its MLM head."
        },
    )
    kind: str = field(
        default="auto",
        metadata={
            "help": "auto (from the checkpoint's architecture), causal (next-token) or masked (pseudo-log-likelihood)."
        },
    )
    context: str = field(
        default="auto",
        metadata={
            "help": "Causal LMs: what the first piece is conditioned on: auto, bos, eos, or none (score pieces 2..T)."
        },
    )
    batch_size: int = field(default=64, metadata={"help": "Sequences per forward pass."})
    max_new_tokens: int | None = field(
        default=None,
        metadata={
            "help": "Keep at most this many candidates (lowest PPLu first); empty = max_new_share of the base vocabulary."
        },
    )
    max_new_share: float = field(
        default=0.10,
        metadata={
            "help": "Default cap as a share of the classification model's base vocabulary (the paper: up to 10 %)."
        },
    )
    threshold: float | None = field(default=None, metadata={"help": "Optionally keep only PPLu <= threshold."})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or mps."})
    use_cache: bool = field(default=True, metadata={"help": "Reuse and store scores on disk (per corpus and scorer)."})

    def __post_init__(self):
        if not isinstance(self.scorer, str) or not self.scorer.strip():
            raise AdaptError("scorer must be a model name, folder or Hub id (e.g. smollm2-135m)")
        if self.kind not in KINDS:
            raise AdaptError(f"kind must be one of {', '.join(KINDS)} (got {self.kind!r})")
        if self.context not in CONTEXTS:
            raise AdaptError(f"context must be one of {', '.join(CONTEXTS)} (got {self.context!r})")
        if self.batch_size < 1:
            raise AdaptError(f"batch_size must be at least 1 (got {self.batch_size})")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise AdaptError(f"max_new_tokens must be at least 1 or empty (got {self.max_new_tokens})")
        if not 0.0 < self.max_new_share <= 1.0:
            raise AdaptError(f"max_new_share must be in (0, 1] (got {self.max_new_share}); 0.1 is the paper's")
        if self.threshold is not None and not self.threshold > 0:
            raise AdaptError(f"threshold must be a positive PPLu or empty (got {self.threshold})")

    def resolve_max_new_tokens(self, base_vocab_size: int) -> int:
        """The cap for a classification model whose tokenizer has `base_vocab_size` entries before augmentation."""
        if self.max_new_tokens is not None:
            return self.max_new_tokens
        return max(1, int(self.max_new_share * base_vocab_size))


# ----------------------------------------------------------------------------------------------------- unigram


def unigram_logprobs(texts: Sequence[str], tokenizer) -> np.ndarray:
    """(V,) log P_uni over the tokenizer's ids: add-one smoothed counts of the corpus tokens (special tokens out)."""
    if len(texts) == 0:
        raise AdaptError("the corpus is empty: give training texts to estimate unigram frequencies from")
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    flat = np.fromiter((i for seq in ids for i in seq), dtype=np.int64)
    if flat.size == 0:
        raise AdaptError("the corpus has no tokens (all texts are empty): give non-empty training texts")
    vocab = max(len(tokenizer), int(flat.max()) + 1)
    counts = np.bincount(flat, minlength=vocab).astype(np.float64)  # (V,)
    return np.log(counts + 1.0) - math.log(flat.size + vocab)


def corpus_hash(texts: Sequence[str]) -> str:
    """A stable fingerprint of the corpus (order and content), for the cache key."""
    h = hashlib.sha256(str(len(texts)).encode())
    for t in texts:
        h.update(b"\x00" + t.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def load_scorer(config: PerplexityConfig) -> Scorer:
    """The scorer named by `config` (loaded once per process and shared; never mutate it)."""
    return load_named(config.scorer, config.kind, config.context, config.device)


# ----------------------------------------------------------------------------------------------------- scoring


def _pieces(scorer: Scorer, text: str) -> list[int]:
    prefix = " " if scorer.leading_space else ""
    return scorer.tokenizer(prefix + text, add_special_tokens=False)["input_ids"]


def _batches(rows: list[list[int]], batch_size: int, pad_id: int):
    """Yield (row indices, input_ids (B, L), attention_mask (B, L)), rows sorted by length to limit padding; a batch
    that took the caller too long makes the next ones smaller, so progress is reported every couple of seconds."""
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    for chunk in timed_chunks(len(order), batch_size):
        idx = order[chunk]
        width = max(len(rows[i]) for i in idx)
        ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for b, i in enumerate(idx):
            ids[b, : len(rows[i])] = torch.tensor(rows[i])
            mask[b, : len(rows[i])] = 1
        yield idx, ids, mask


def _pad_id(tokenizer) -> int:
    for tid in (tokenizer.pad_token_id, tokenizer.eos_token_id, tokenizer.unk_token_id):
        if tid is not None:
            return tid
    return 0


@torch.no_grad()
def _causal_logprobs(scorer: Scorer, pieces: list[list[int]], batch_size: int, tick) -> list[np.ndarray]:
    """Per candidate, log P_LM of each scored piece: all T with a context token, pieces 2..T without."""
    ctx, device = scorer.context_ids, next(scorer.model.parameters()).device
    rows = [ctx + p for p in pieces]
    out: list[np.ndarray] = [np.empty(0)] * len(rows)
    for idx, ids, mask in _batches(rows, batch_size, _pad_id(scorer.tokenizer)):
        logits = scorer.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits  # (B, L, V)
        logp = torch.log_softmax(logits[:, :-1].float(), dim=-1)  # position j predicts token j + 1
        target = logp.gather(-1, ids[:, 1:, None].to(device))[..., 0].cpu().numpy()  # (B, L - 1)
        first = max(len(ctx), 1)  # index of the first scored token in the row
        for b, i in enumerate(idx):
            out[i] = target[b, first - 1 : len(rows[i]) - 1].astype(np.float64)
        tick(len(idx))
    return out


@torch.no_grad()
def _masked_logprobs(scorer: Scorer, texts: list[str], batch_size: int, tick) -> tuple[list, list]:
    """Pseudo-log-likelihood: per candidate, (piece ids, log P(piece | all other pieces)) masking one at a time."""
    tok, device = scorer.tokenizer, next(scorer.model.parameters()).device
    prefix = " " if scorer.leading_space else ""
    enc = tok([prefix + t for t in texts], return_special_tokens_mask=True)
    rows, owner, where, pieces = [], [], [], []
    for c, (ids, special) in enumerate(zip(enc["input_ids"], enc["special_tokens_mask"], strict=True)):
        positions = [j for j, s in enumerate(special) if not s]
        pieces.append([ids[j] for j in positions])
        for j in positions:  # one row per piece, that piece masked
            rows.append(ids[:j] + [tok.mask_token_id] + ids[j + 1 :])
            owner.append(c)
            where.append((j, ids[j]))
    logps: list[list[tuple[int, float]]] = [[] for _ in texts]
    remaining = [len(p) for p in pieces]  # rows left per candidate: progress counts finished candidates
    for idx, ids, mask in _batches(rows, batch_size, _pad_id(tok)):
        logits = scorer.model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits  # (B, L, V)
        finished = 0
        for b, r in enumerate(idx):
            j, target = where[r]
            logps[owner[r]].append((r, torch.log_softmax(logits[b, j].float(), -1)[target].item()))
            remaining[owner[r]] -= 1
            finished += remaining[owner[r]] == 0
        tick(finished)
    return pieces, [np.array([v for _, v in sorted(lp)], dtype=np.float64) for lp in logps]


def _pplu(lm: np.ndarray, uni: np.ndarray) -> float:
    """exp(-mean(lm - uni)) over the scored pieces; NaN when nothing was scored."""
    return float(np.exp(-np.mean(lm - uni))) if len(lm) else float("nan")


def _score_texts(scorer: Scorer, texts: list[str], corpus_texts: Sequence[str], batch_size: int, tick) -> dict:
    """text → [PPLu, mean log P_LM, mean log P_uni, pieces scored] (NaN means where nothing was scored)."""
    uni = unigram_logprobs(corpus_texts, scorer.tokenizer)  # (V,)
    if scorer.kind == "masked":
        pieces, lm = _masked_logprobs(scorer, texts, batch_size, tick)
        scored = pieces
    else:
        pieces = [_pieces(scorer, t) for t in texts]
        nonempty = [i for i, p in enumerate(pieces) if p]
        lm = [np.empty(0)] * len(texts)
        for i, row in zip(
            nonempty, _causal_logprobs(scorer, [pieces[i] for i in nonempty], batch_size, tick), strict=True
        ):
            lm[i] = row
        scored = pieces if scorer.context_ids else [p[1:] for p in pieces]  # no context: pieces 2..T
    out = {}
    for text, p, row in zip(texts, scored, lm, strict=True):
        u = uni[np.minimum(np.asarray(p, dtype=np.int64), len(uni) - 1)] if p else np.empty(0)
        nan = float("nan")
        out[text] = [
            _pplu(row, u),
            float(row.mean()) if len(row) else nan,
            float(u.mean()) if len(u) else nan,
            len(row),
        ]
    tick(sum(1 for p in pieces if not p))  # candidates with no pieces are done without a forward pass
    return out


class _DiskCache:
    """PPLu per candidate text for one (scorer, settings, corpus): a JSON file under cache_dir()/pplu."""

    def __init__(self, scorer: Scorer, corpus_texts: Sequence[str]):
        from adapt_core.models import cache_dir

        key = (
            f"{_VERSION}|{scorer.identity}|{scorer.kind}|{scorer.context_ids}|{scorer.leading_space}|"
            f"{corpus_hash(corpus_texts)}"
        )
        self.path = cache_dir() / "pplu" / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".json")
        self.header = {"version": _VERSION, "scorer": scorer.identity, "key": key}

    def read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # absent or damaged: a cache miss, never an error
        if data.get("key") != self.header["key"] or not isinstance(data.get("scores"), dict):
            return {}
        return {t: [float("nan") if v is None else v for v in row] for t, row in data["scores"].items()}

    def write(self, new: dict) -> None:
        """Merge `new` into what is on disk now (another process may have added scores) and replace atomically."""
        scores = self.read() | new
        clean = {t: [None if isinstance(v, float) and math.isnan(v) else v for v in row] for t, row in scores.items()}
        atomic_write_text(self.path, json.dumps(self.header | {"scores": clean}))


def _as_scorer(scorer, config: PerplexityConfig) -> Scorer:
    if scorer is None:
        return load_scorer(config)
    if isinstance(scorer, Scorer):
        return scorer
    if isinstance(scorer, tuple) and len(scorer) == 2:
        return scorer_from_objects(scorer[0], scorer[1], config.kind, config.context)
    raise TypeError("scorer must be None, a Scorer, or a (model, tokenizer) pair")


def score_details(
    candidates: Sequence,
    corpus_texts: Sequence[str],
    config: PerplexityConfig | None = None,
    progress: Progress | None = None,
    scorer=None,
):
    """A DataFrame, one row per candidate: text, pieces scored, PPL under the LM, PPL under the unigram, PPLu.

    `candidates` are strings or objects with a `.text`; `scorer` (optional) is a loaded `Scorer` or a
    (model, tokenizer) pair that overrides `config.scorer` (such pairs are not cached on disk).
    """
    import pandas as pd

    config = config or PerplexityConfig()
    if len(corpus_texts) == 0:
        raise AdaptError("the corpus is empty: give training texts to estimate unigram frequencies from")
    texts = [getattr(c, "text", c) for c in candidates]
    unique = list(dict.fromkeys(texts))
    sc = _as_scorer(scorer, config)
    cache = _DiskCache(sc, corpus_texts) if config.use_cache and sc.identity else None
    known = {t: v for t, v in (cache.read() if cache else {}).items() if t in set(unique)}
    done = [len(known)]
    progress = Throttled(progress) if progress is not None else None  # batches may be tiny: no flood of redraws

    def tick(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(min(done[0], len(unique)), len(unique))

    tick(0)
    todo = [t for t in unique if t not in known]
    if todo:
        fresh = _score_texts(sc, todo, corpus_texts, config.batch_size, tick)
        if cache:
            cache.write(fresh)
        known |= fresh
    rows = [known[t] for t in texts]
    lm, uni = np.array([r[1] for r in rows], dtype=float), np.array([r[2] for r in rows], dtype=float)
    return pd.DataFrame(
        {
            "text": texts,
            "pieces": [int(r[3]) for r in rows],
            "ppl_lm": np.exp(-lm),
            "ppl_uni": np.exp(-uni),
            "pplu": np.array([r[0] for r in rows], dtype=float),
        }
    )


def score(
    candidates: Sequence,
    corpus_texts: Sequence[str],
    config: PerplexityConfig | None = None,
    progress: Progress | None = None,
    scorer=None,
) -> np.ndarray:
    """(n,) PPLu per candidate, batched, cached on disk per (corpus, scorer); NaN where nothing could be scored.

    `progress(done, total)` is called as candidates finish; see `score_details` for the arguments.
    """
    return score_details(candidates, corpus_texts, config, progress, scorer)["pplu"].to_numpy()


def select(candidates: Sequence, pplu: Sequence[float], max_new_tokens: int, threshold: float | None = None) -> list:
    """The candidates to keep, lowest PPLu first: at most `max_new_tokens`, only PPLu <= `threshold` if given.

    NaN scores are never kept. Ties keep the input order (mining's: most frequent first).
    """
    values = np.asarray(pplu, dtype=float)
    if len(values) != len(candidates):
        raise AdaptError(f"{len(candidates)} candidates but {len(values)} scores: give one score per candidate")
    ok = ~np.isnan(values)
    if threshold is not None:
        ok &= values <= threshold
    order = np.argsort(np.where(ok, values, np.inf), kind="stable")[: int(ok.sum())][:max_new_tokens]
    return [candidates[i] for i in order]
