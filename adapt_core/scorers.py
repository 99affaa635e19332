"""The language models that score vocabulary candidates for the perplexity filter: loading and how they read text.

A `Scorer` is a loaded LM, its tokenizer, and two reading rules decided once from the tokenizer (see perplexity.py's
docstring for why): the document-start context the first piece of a causal LM is conditioned on, and whether a
candidate gets a leading space so its first piece is the word-start form. Registry names, local folders and Hub ids
load here (one copy per process, used only under no_grad, never mutated); `tiny-llama` / `tiny-bert` are random
tiny LMs for tests and demos.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import torch

from adapt_core.errors import AdaptError
from adapt_core.safeload import check_local_weights
from adapt_core.word_marks import WORD_START_MARKS


@dataclass
class Scorer:
    """A loaded scoring LM and how it reads candidates. `identity` names it for the cache (None: not cached)."""

    model: torch.nn.Module
    tokenizer: object
    kind: str  # "causal" or "masked"
    context_ids: list[int]  # causal: tokens the first piece is conditioned on (may be empty)
    leading_space: bool  # score " " + text, so the first piece is the word-start form
    identity: str | None = None


def scorer_from_objects(model, tokenizer, kind: str = "auto", context: str = "auto", identity=None) -> Scorer:
    """Wrap a model and its tokenizer; `kind="auto"` reads the model's class name."""
    if kind == "auto":
        cls = type(model).__name__
        kind = "causal" if cls.endswith("ForCausalLM") else "masked" if cls.endswith("ForMaskedLM") else ""
        if not kind:
            raise AdaptError(f"{cls} is neither a causal LM nor a masked LM with its head: pass kind= explicitly")
    ctx = _context_ids(tokenizer, context) if kind == "causal" else []
    return Scorer(model.eval(), tokenizer, kind, ctx, _needs_leading_space(tokenizer), identity)


def _context_ids(tokenizer, context: str) -> list[int]:
    """The document-start token(s) the first piece is conditioned on (see the module docstring)."""
    if context == "none":
        return []
    if context in ("bos", "eos"):
        tid = getattr(tokenizer, f"{context}_token_id")
        if tid is None:
            raise AdaptError(f"the scorer's tokenizer has no {context.upper()} token: use context='auto' or 'none'")
        return [tid]
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    if full[: len(full) - len(plain)] and full[-len(plain) :] == plain:  # prepended only (BOS), nothing appended
        return full[: len(full) - len(plain)]
    if full and plain and full[0] != plain[0] and full[0] in tokenizer.all_special_ids:  # [CLS] … [SEP]
        return [full[0]]
    if "<|endoftext|>" in tokenizer.get_vocab():
        return [tokenizer.convert_tokens_to_ids("<|endoftext|>")]
    for tid in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if tid is not None:
            return [tid]
    return []


def _needs_leading_space(tokenizer) -> bool:
    """True if " word" gets a word-start mark that "word" at the start of a text does not."""

    def first_piece(text: str) -> str:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return tokenizer.convert_ids_to_tokens(ids[:1])[0] if ids else ""

    return not first_piece("hello").startswith(WORD_START_MARKS) and first_piece(" hello").startswith(WORD_START_MARKS)


@functools.lru_cache(maxsize=2)
def load_named(name: str, kind: str, context: str, device: str) -> Scorer:
    """Load a scorer by name once per process (it is only ever used under no_grad, never mutated)."""
    from adapt_core.models import load_tokenizer, pick_device

    if name in ("tiny-llama", "tiny-bert"):  # random tiny LMs for tests and demos
        tokenizer = load_tokenizer(name)
        model, ident = _tiny_lm(name, tokenizer), None
    else:
        model, ident = _load_pretrained(name, kind)  # first: its error names the scorer and the way out
        tokenizer = load_tokenizer(name)
    scorer = scorer_from_objects(model, tokenizer, "auto", context, ident)
    scorer.model.to(pick_device(device))
    return scorer


def _tiny_lm(name: str, tokenizer):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    from adapt_core.models import _tiny_config

    torch.manual_seed(0)
    config = _tiny_config(name, tokenizer, 2)
    return (AutoModelForCausalLM if name == "tiny-llama" else AutoModelForMaskedLM).from_config(config)


def _load_pretrained(name: str, kind: str):
    """(model, cache identity) for a registry name, folder or Hub id; AdaptError when it cannot be loaded."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM

    from adapt_core.models import resolve

    path = resolve(name)
    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError) as err:
        raise AdaptError(
            f"cannot load scorer '{name}': not a registry name, not a local folder, and not fetchable from the "
            f"Hugging Face Hub (offline?). Use smollm2-135m, a local folder, or --scorer none. ({err})"
        ) from err
    archs = " ".join(config.architectures or [])
    if kind == "auto":
        kind = "masked" if "ForMaskedLM" in archs else "causal" if "ForCausalLM" in archs else ""
    if not kind:
        raise AdaptError(
            f"scorer '{name}' ({archs or config.model_type}) has no language-model head: pick a causal "
            "LM (e.g. smollm2-135m) or a masked LM saved with its MLM head"
        )
    auto = AutoModelForCausalLM if kind == "causal" else AutoModelForMaskedLM
    check_local_weights(path, f"scorer '{name}'")
    try:
        model, info = auto.from_pretrained(path, dtype=torch.float32, output_loading_info=True, use_safetensors=True)
    except (OSError, ValueError) as err:
        raise AdaptError(f"cannot load scorer '{name}' as a {kind} LM: {err}") from err
    head_missing = [k for k in info.get("missing_keys", []) if "embed" not in k and "position" not in k]
    if head_missing:
        raise AdaptError(
            f"scorer '{name}' lacks weights for its {kind} LM head ({head_missing[0]}, …): its scores "
            "would be random. Pick a checkpoint that ships its head"
        )
    stamp = Path(path, "config.json").stat().st_mtime_ns if Path(path, "config.json").exists() else "hub"
    return model, f"{name}|{path}|{stamp}|{kind}"
