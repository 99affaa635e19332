"""Layer selection (`layers`): train the top L blocks and the head; L matched to AdaPT's budget unless given."""

from __future__ import annotations

from dataclasses import dataclass, field

from adapt_core.anatomy import find_blocks, head_parameter_names, non_embedding_parameters
from adapt_core.budget import matched_layer_count
from adapt_core.config_base import BaseMethodConfig
from adapt_core.errors import AdaptError
from adapt_core.methods.base import Prepared, lr_field, train_only
from adapt_core.methods.registry import register_method
from adapt_core.selection import DEFAULT_TOP_K


@dataclass(frozen=True)
class LayersConfig(BaseMethodConfig):
    """The top L transformer blocks train (plus the head)."""

    lr: float = lr_field(1e-4)
    top_k: float = field(
        default=DEFAULT_TOP_K,
        metadata={"help": "Budget, % of non-embedding parameters: L is the largest whose top-L blocks fit it."},
    )
    layers: int | None = field(
        default=None,
        metadata={"help": "Train the top L blocks; empty = the largest L within the top_k budget (at least 1)."},
    )

    def __post_init__(self):
        super().__post_init__()
        if not 0 < self.top_k <= 100:
            raise AdaptError(f"top_k must be in (0, 100] percent (got {self.top_k})")
        if self.layers is not None and self.layers < 1:
            raise AdaptError(f"layers must be ≥ 1 or empty (got {self.layers})")


def matched_layers(model, top_k: float) -> int:
    """The largest L whose top-L blocks hold ≤ top_k % of the non-embedding parameters; at least 1."""
    _, blocks = find_blocks(model)
    sizes = [sum(p.numel() for p in block.parameters()) for block in blocks]
    return matched_layer_count(sizes, non_embedding_parameters(model), top_k)


def prepare_layers(model, tokenizer, config: LayersConfig, data, *, report=None, train=None) -> Prepared:
    prefix, blocks = find_blocks(model)
    count = config.layers or matched_layers(model, config.top_k)
    if count > len(blocks):
        raise AdaptError(f"layers={count} but the model has {len(blocks)} blocks: choose 1 to {len(blocks)}")
    chosen = list(range(len(blocks) - count, len(blocks)))
    names = {f"{prefix}.{i}.{p}" for i in chosen for p, _ in blocks[i].named_parameters()}
    train_only(model, names | set(head_parameter_names(model)))
    sizes = {f"{prefix}.{i}": sum(p.numel() for p in blocks[i].parameters()) for i in chosen}
    params, total = sum(sizes.values()), non_embedding_parameters(model)
    info = {
        "layers": count,
        "blocks": list(sizes),
        "layer_params": params,
        "layer_percent": 100.0 * params / total,
        "matched_to_top_k": config.layers is None,
    }
    selection = {
        "rule": "top L blocks" + (f", L matched to top_k {config.top_k} %" if config.layers is None else ""),
        "top_k": config.top_k,
        "grouping": "layer",
        "beta": None,
        "params": params,
        "non_embedding_params": total,
        "percent": 100.0 * params / total,
        "modules": [{"module": m, "size": s, "D": None, "G": None, "S": None} for m, s in sizes.items()],
        "trainable_modules": list(sizes),
    }
    return Prepared(model, info, selection)


register_method("layers", LayersConfig, prepare_layers, help="Layer selection: the top L blocks and the head train.")
