"""Where things are inside a Hugging Face sequence-classification model, found by type rather than by name.

AdaPT's sensitivity pass and the sparse methods need the same four answers for any architecture (BERT/MiniLM,
Llama/SmolLM2, Gemma, Phi, …):
- the transformer **blocks**: the longest `nn.ModuleList` whose children all share one class;
- every **`nn.Linear` inside the blocks** (the modules AdaPT scores and selects), with its layer and its name
  inside the block (`attention.self.query`, `mlp.down_proj`, …), which serves as its type;
- the **classification head**: parameters outside `model.base_model_prefix` (`classifier.*`, `score.*`);
- the **embedding parameters** (every `nn.Embedding`, the input-embedding module, new-token embeddings), so a budget
  can be a share of the *non-embedding* parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from adapt_core.errors import AdaptError


@dataclass(frozen=True)
class LinearModule:
    """One `nn.Linear` inside a transformer block."""

    name: str  # full dotted name in the model, e.g. "bert.encoder.layer.3.attention.self.query"
    layer: int  # index of the block that holds it
    type: str  # name inside the block, e.g. "attention.self.query" or "mlp.down_proj"
    params: int  # weight + bias elements
    module: nn.Linear


def find_blocks(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """(dotted name, ModuleList) of the transformer blocks: the longest ModuleList of identical-class children.

    Ties go to the first one met (the outermost), so an inner list of a block never wins over the block list.
    """
    best: tuple[str, nn.ModuleList] | None = None
    for name, module in model.named_modules():
        if not isinstance(module, nn.ModuleList) or len(module) == 0:
            continue
        if len({type(child) for child in module}) != 1:
            continue
        if best is None or len(module) > len(best[1]):
            best = (name, module)
    if best is None:
        raise AdaptError(
            f"cannot find the transformer blocks of {type(model).__name__}: no nn.ModuleList of identical layers; "
            "AdaPT supports models whose layers sit in one list (BERT, Llama, Gemma, Phi, …)"
        )
    return best


def block_linears(model: nn.Module) -> list[LinearModule]:
    """Every `nn.Linear` inside the transformer blocks, in model order."""
    prefix, blocks = find_blocks(model)
    found = []
    for layer, block in enumerate(blocks):
        for inner, module in block.named_modules():
            if isinstance(module, nn.Linear):
                params = sum(p.numel() for p in module.parameters())
                found.append(LinearModule(f"{prefix}.{layer}.{inner}", layer, inner, params, module))
    if not found:
        kind = type(blocks[0]).__name__
        raise AdaptError(
            f"the blocks of {type(model).__name__} ({kind}) hold no nn.Linear (e.g. GPT-2's Conv1D): AdaPT scores "
            "nn.Linear modules; pick a model built from nn.Linear layers (BERT, Llama, Gemma, Phi, …)"
        )
    return found


def block_kind(type_name: str) -> str:
    """'attention' or 'mlp' for a module's name inside its block (used by the `block` grouping)."""
    lowered = type_name.lower()
    return "attention" if "attn" in lowered or "attention" in lowered else "mlp"


def head_parameter_names(model: nn.Module) -> list[str]:
    """Names of the task head's parameters: those outside the base model (`classifier.*`, `score.*`)."""
    prefix = getattr(model, "base_model_prefix", "")
    if not prefix or not hasattr(model, prefix):
        raise AdaptError(
            f"cannot tell the task head of {type(model).__name__} from its base model (no base_model_prefix); "
            "load it with AutoModelForSequenceClassification"
        )
    names = [n for n, _ in model.named_parameters() if not n.startswith(prefix + ".")]
    if not names:
        raise AdaptError(f"{type(model).__name__} has no classification head outside '{prefix}'")
    return names


def new_token_parameter_names(model: nn.Module) -> list[str]:
    """Names of the separate new-token embedding parameters added by vocabulary augmentation (may be empty)."""
    return [n for n, _ in model.named_parameters() if "new_token" in n]


def embedding_parameter_ids(model: nn.Module) -> set[int]:
    """ids of embedding tensors: every nn.Embedding, the input-embedding module, new-token embeddings."""
    ids = {id(p) for m in model.modules() if isinstance(m, nn.Embedding) for p in m.parameters()}
    get_input = getattr(model, "get_input_embeddings", None)
    if callable(get_input) and get_input() is not None:
        ids |= {id(p) for p in get_input().parameters()}
    ids |= {id(p) for n, p in model.named_parameters() if "new_token" in n}
    return ids


def non_embedding_parameters(model: nn.Module) -> int:
    """Parameters of the base model that are not embeddings (blocks, norms, pooler): the budget's denominator.

    The task head is left out too, so the denominator depends on the architecture only, not on the label count.
    """
    head = set(head_parameter_names(model))
    embeddings = embedding_parameter_ids(model)
    seen: set[int] = set()
    total = 0
    for name, p in model.named_parameters():
        if id(p) in seen or id(p) in embeddings or name in head:
            continue
        seen.add(id(p))
        total += p.numel()
    return total
