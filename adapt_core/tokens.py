"""Vocabulary augmentation: vetted candidates become added tokens with their own small trainable embedding.

Why a separate parameter (DESIGN §3): training only the new rows of the full embedding matrix would cost full-matrix
gradients and AdamW state, and weight decay would move the frozen rows. So `augment` replaces the model's input
embedding by `NewTokenEmbedding`: the ORIGINAL `nn.Embedding` (unchanged) plus `new_token_embeddings`, an
(n_new, hidden) `nn.Parameter`; ids >= `offset` (the tokenizer's size before augmentation) look up the new one. The
name contains "new_token", which is how `methods` unfreezes it and `train` exempts it from weight decay.

`merge` folds the two back into one plain `nn.Embedding` before saving, so a run's model folder is an ordinary
Hugging Face folder that `AutoTokenizer` / `AutoModelForSequenceClassification` reload with identical logits.

How candidates become added tokens (checked on the MiniLM WordPiece and SmolLM2 byte-level BPE tokenizers):
- `single_word=True`: a token never fires inside a longer word ("credit card" does not match in "credit cards").
- Tokenizers whose normaliser keeps spaces (BERT: lowercase, strip accents) match the *normalised* text, so the
  content is normalised too ("Credit Card" in a text becomes the one token "credit card").
- Word-start tokenizers (BPE "Ġ", SentencePiece "▁") match the raw text and `lstrip=True` lets the token absorb
  the space before it, as the mined word-start pieces did ("Ġnew Ġyork" → one token, not "Ġ" + token). The price:
  `decode` drops that space ("in New York" decodes as "inNew York"); tokenization, which the model sees, is right,
  and `preview` shows the text from character offsets.

`augment` mutates the model and the tokenizer in place (the run pipeline relies on it). Never pass objects from a
shared cache (DESIGN §2): pass `copy.deepcopy(tokenizer)` (cheap for fast tokenizers) or use
`augmented_tokenizer`, which copies.
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from adapt_core.errors import AdaptError
from adapt_core.word_marks import tokenizer_marks_word_starts

INITS = ("random", "mean")


class NewTokenEmbedding(nn.Module):
    """Input embedding = the original `base` (ids < offset) plus a trainable `new_token_embeddings` (the rest)."""

    def __init__(self, base: nn.Embedding, new_rows: torch.Tensor, offset: int):
        super().__init__()
        self.base = base  # (V_base, hidden), untouched
        self.new_token_embeddings = nn.Parameter(new_rows)  # (n_new, hidden): rows for ids offset … offset + n_new - 1
        self.offset = offset

    @property
    def num_embeddings(self) -> int:
        return max(self.base.num_embeddings, self.offset + self.new_token_embeddings.shape[0])

    @property
    def embedding_dim(self) -> int:
        return self.base.embedding_dim

    @property
    def weight(self) -> torch.Tensor:
        """The merged (num_embeddings, hidden) matrix, for code that reads `.weight` (differentiable; a copy)."""
        return self.merged_weight()

    def merged_weight(self) -> torch.Tensor:
        rows = self.base.weight  # (V_base, hidden)
        n_new, grow = self.new_token_embeddings.shape[0], self.num_embeddings - rows.shape[0]
        if grow > 0:
            rows = torch.cat([rows, rows.new_zeros(grow, rows.shape[1])])  # (offset + n_new, hidden)
        return torch.cat([rows[: self.offset], self.new_token_embeddings, rows[self.offset + n_new :]])

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        is_new = input_ids >= self.offset  # (..., seq) bool
        old = self.base(torch.where(is_new, 0, input_ids))  # (..., seq, hidden); new positions read row 0, masked below
        # No "if is_new.any()" shortcut: it would sync with the GPU on every forward; the lookup below is cheap.
        new = F.embedding(
            torch.where(is_new, input_ids - self.offset, 0), self.new_token_embeddings
        )  # (…, seq, hidden)
        return torch.where(is_new.unsqueeze(-1), new, old)  # gradient reaches new rows only where a new id is


# ----------------------------------------------------------------------------------------------------- tokenizer


def _backend(tokenizer):
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        raise AdaptError(f"{type(tokenizer).__name__} is not a fast tokenizer: vocabulary augmentation needs one")
    return backend


def added_token(tokenizer, text: str, word_start: bool | None = None):
    """The `AddedToken` for a surface string, normalised like the base tokenizer (see the module docstring)."""
    from tokenizers import AddedToken

    word_start = tokenizer_marks_word_starts(tokenizer) if word_start is None else word_start
    normalizer = _backend(tokenizer).normalizer
    keeps_spaces = normalizer is not None and normalizer.normalize_str("a b") == "a b"
    content = normalizer.normalize_str(text) if keeps_spaces else text
    content = " ".join(content.split())
    return AddedToken(content, single_word=True, lstrip=word_start, rstrip=False, normalized=keeps_spaces)


def _pieces(tokenizer, content: str, word_start: bool) -> list[int]:
    """The base tokenizer's ids for a token's content, in the word-start form it has inside a sentence."""
    prefix = " " if word_start else ""
    return tokenizer(prefix + content, add_special_tokens=False)["input_ids"]


def _plan(tokenizer, tokens: Sequence[str]) -> tuple[list, list[list[int]], list[str]]:
    """(AddedTokens to add, their base pieces, skipped strings): duplicates and single pieces are skipped."""
    vocab, seen, word_start = tokenizer.get_vocab(), set(), tokenizer_marks_word_starts(tokenizer)
    todo, pieces, skipped = [], [], []
    for text in tokens:
        tok = added_token(tokenizer, str(text), word_start)
        ids = _pieces(tokenizer, tok.content, word_start) if tok.content else []
        if not tok.content or tok.content in seen or tok.content in vocab or len(ids) < 2:
            skipped.append(str(text))
            continue
        seen.add(tok.content)
        todo.append(tok)
        pieces.append(ids)
    return todo, pieces, skipped


def new_token_ids(tokenizer) -> list[int]:
    """Ids of the tokenizer's added, non-special tokens (the vetted new tokens), ascending."""
    special = set(tokenizer.all_special_tokens)
    return sorted(i for t, i in tokenizer.get_added_vocab().items() if t not in special)


def augmented_tokenizer(tokenizer, tokens: Sequence[str]):
    """A copy of `tokenizer` with `tokens` added (the original is left alone): for previews and statistics."""
    tok = copy.deepcopy(tokenizer)
    todo, _, _ = _plan(tok, tokens)
    tok.add_tokens(todo)
    return tok


# ----------------------------------------------------------------------------------------------------- model


def _text_config(model):
    config = model.config
    return config.get_text_config() if hasattr(config, "get_text_config") else config


def _initial_rows(base: nn.Embedding, pieces: list[list[int]], init: str, std: float, seed) -> torch.Tensor:
    """(n_new, hidden) starting values: N(0, std) (the paper) or the mean of each token's base subword rows."""
    weight = base.weight.detach()  # (V_base, hidden)
    if init == "mean":
        return torch.stack([weight[torch.tensor(ids, device=weight.device)].mean(0) for ids in pieces]).clone()
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    rows = torch.empty(len(pieces), weight.shape[1]).normal_(0.0, std, generator=gen)
    return rows.to(device=weight.device, dtype=weight.dtype)


def augment(model: nn.Module, tokenizer, tokens: Sequence[str], init: str = "random", seed: int | None = None) -> dict:
    """Add `tokens` to `tokenizer` and give `model` a `new_token_embeddings` parameter for them, IN PLACE.

    `init`: "random" = N(0, config.initializer_range) as the paper does, "mean" = mean of the token's subword
    embeddings under the base tokenizer. Strings already in the vocabulary, single pieces and duplicates are
    skipped. Returns a report: added, skipped, init, offset (first new id), new_parameters.
    """
    if init not in INITS:
        raise AdaptError(f"init must be one of {', '.join(INITS)} (got {init!r})")
    base = model.get_input_embeddings()
    if isinstance(base, NewTokenEmbedding):
        raise AdaptError("this model already has new-token embeddings: merge() them or start from a fresh model")
    if not isinstance(base, nn.Embedding):
        raise AdaptError(f"the model's input embedding is a {type(base).__name__}, not an nn.Embedding: cannot augment")
    offset = len(tokenizer)
    if offset > base.num_embeddings:
        raise AdaptError(
            f"the tokenizer has {offset} entries but the model only {base.num_embeddings} embeddings: "
            "load the tokenizer that belongs to this model"
        )
    todo, pieces, skipped = _plan(tokenizer, tokens)
    report = {"added": len(todo), "skipped": skipped, "init": init, "offset": offset, "new_parameters": 0}
    if not todo:
        return report
    tokenizer.add_tokens(todo)
    ids = tokenizer.convert_tokens_to_ids([t.content for t in todo])
    if ids != list(range(offset, offset + len(todo))):  # the wrapper relies on one contiguous id range
        raise RuntimeError(f"added tokens got ids {ids[:3]}…, expected {offset}…{offset + len(todo) - 1}")
    std = float(getattr(_text_config(model), "initializer_range", 0.02) or 0.02)
    wrapper = NewTokenEmbedding(base, _initial_rows(base, pieces, init, std, seed), offset)
    model.set_input_embeddings(wrapper)
    _text_config(model).vocab_size = wrapper.num_embeddings
    report["new_parameters"] = wrapper.new_token_embeddings.numel()
    return report


def merge(model: nn.Module) -> nn.Module:
    """Fold `new_token_embeddings` into one plain `nn.Embedding` (in place; returns `model`). No-op if none."""
    emb = model.get_input_embeddings()
    if not isinstance(emb, NewTokenEmbedding):
        return model
    weight = emb.base.weight
    merged = nn.Embedding(
        emb.num_embeddings,
        emb.embedding_dim,
        padding_idx=emb.base.padding_idx,
        device=weight.device,
        dtype=weight.dtype,
    )
    with torch.no_grad():
        merged.weight.copy_(emb.merged_weight())  # (offset + n_new, hidden)
    merged.weight.requires_grad_(weight.requires_grad)
    model.set_input_embeddings(merged)
    _text_config(model).vocab_size = merged.num_embeddings
    return model


# ----------------------------------------------------------------------------------------------------- statistics


@dataclass
class TokenizationStats:
    """How the new tokens change tokenization of a corpus."""

    n_examples: int
    mean_tokens_before: float
    mean_tokens_after: float
    share_touched: float  # examples with at least one new token
    top_new: list[tuple[str, int, int]] = field(default_factory=list)  # (token, occurrences, examples)

    @property
    def reduction(self) -> float:
        """Relative drop in tokens per example (0.1 = 10 % shorter)."""
        return 1.0 - self.mean_tokens_after / self.mean_tokens_before if self.mean_tokens_before else 0.0

    def summary(self) -> dict:
        return {
            "examples": self.n_examples,
            "tokens_before": self.mean_tokens_before,
            "tokens_after": self.mean_tokens_after,
            "reduction": self.reduction,
            "share_touched": self.share_touched,
        }

    def to_frame(self) -> pd.DataFrame:
        """The most frequent new tokens: token, occurrences, examples containing it."""
        return pd.DataFrame(self.top_new, columns=["token", "occurrences", "examples"])

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TokenizationStats:
        return cls(**(d | {"top_new": [tuple(row) for row in d.get("top_new", [])]}))


def tokenization_stats(texts: Sequence[str], base_tokenizer, augmented_tokenizer, top: int = 20) -> TokenizationStats:
    """Mean tokens per example before / after, share of examples touched, the `top` most frequent new tokens."""
    if len(texts) == 0:
        raise AdaptError("no texts to measure: give at least one example")
    before = base_tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    after = augmented_tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    new = set(new_token_ids(augmented_tokenizer)) - set(base_tokenizer.get_vocab().values())
    occurrences, examples, touched = Counter(), Counter(), 0
    for ids in after:
        found = [i for i in ids if i in new]
        occurrences.update(found)
        examples.update(set(found))
        touched += bool(found)
    names = augmented_tokenizer.convert_ids_to_tokens([i for i, _ in occurrences.most_common(top)])
    top_new = [
        (name, occurrences[i], examples[i]) for name, (i, _) in zip(names, occurrences.most_common(top), strict=True)
    ]
    n = len(texts)
    return TokenizationStats(n, sum(map(len, before)) / n, sum(map(len, after)) / n, touched / n, top_new)


def preview(text: str, tokenizer) -> list[tuple[str, bool]]:
    """(piece, is_new) per token of `text`; each piece is the text since the previous token (so the pieces join back
    to `text`) and shows original case even for lowercasing tokenizers. Pass the base tokenizer for "before"."""
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    new, out, prev = set(new_token_ids(tokenizer)), [], 0
    for tid, (_, end) in zip(enc["input_ids"], enc["offset_mapping"], strict=True):
        out.append((text[prev:end] if end > prev else "", tid in new))
        prev = max(prev, end)
    if out and prev < len(text):
        out[-1] = (out[-1][0] + text[prev:], out[-1][1])
    return out
