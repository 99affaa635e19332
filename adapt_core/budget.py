"""What a parameter budget buys: AdaPT's selection beside LoRA, layer selection and full finetuning.

The Sensitivity page's budget panel redraws on every move of the β and top-k % sliders, so everything here works
from `Anatomy`, a small picklable summary of the model taken once (`anatomy(model)`), and a `Selection` from the
sensitivity report: no model, no torch work, well under a millisecond.

Per method:
- trainable parameters P (the task head counts for every method, as it trains in all of them) and P / total;
- optimizer memory: AdamW keeps two fp32 moments per trainable element, 2 × 4 × P bytes;
- an *expected* step-time ratio to full finetuning from a FLOP model: a step costs the forward pass (1), the
  backward pass through activations (1 × the share of blocks at or above the lowest trained one: no gradient has
  to flow below it) and the weight gradients (1 × the trained share of the block parameters), so full finetuning
  costs 3 and ratio = (1 + depth + share) / 3. LoRA's gradients flow through every block and its adapters add
  r·(in + out) per token to each adapted layer, in the forward, the backward and as weight gradients. The
  measured step times of real runs are on the Compare page.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

ADAMW_BYTES_PER_PARAM = 2 * 4  # two fp32 moments


@dataclass(frozen=True)
class LinearShape:
    name: str
    layer: int
    in_features: int
    out_features: int
    params: int


@dataclass(frozen=True)
class Anatomy:
    """The parameter layout of a sequence-classification model, enough to cost any budget without the model."""

    total_params: int
    non_embedding_params: int
    head_params: int
    embedding_dim: int  # width of one (new) token embedding
    block_params: tuple[int, ...]  # per layer, bottom first
    linears: tuple[LinearShape, ...]
    lora_targets: tuple[str, ...]  # the nn.Linear names LoRA adapts by default (peft's choice per architecture)

    @property
    def num_layers(self) -> int:
        return len(self.block_params)


def anatomy(model) -> Anatomy:
    """Read the layout of `model` (read only: nothing is changed)."""
    from adapt_core.anatomy import block_linears, find_blocks, head_parameter_names, non_embedding_parameters
    from adapt_core.methods.lora import lora_target_modules
    from adapt_core.models import count_parameters

    _, blocks = find_blocks(model)
    head = set(head_parameter_names(model))
    linears = tuple(
        LinearShape(lin.name, lin.layer, lin.module.in_features, lin.module.out_features, lin.params)
        for lin in block_linears(model)
    )
    return Anatomy(
        total_params=count_parameters(model).total,
        non_embedding_params=non_embedding_parameters(model),
        head_params=sum(p.numel() for n, p in model.named_parameters() if n in head),
        embedding_dim=model.get_input_embeddings().embedding_dim,
        block_params=tuple(sum(p.numel() for p in block.parameters()) for block in blocks),
        linears=linears,
        lora_targets=tuple(lora_target_modules(model, "auto")),
    )


def matched_layer_count(block_params, non_embedding_params: int, top_k: float) -> int:
    """The largest L whose top-L blocks (sizes bottom first) hold ≤ top_k % of the non-embedding parameters; at
    least 1. The one rule for layer selection: the `layers` method and the budget table both call it."""
    budget = top_k / 100.0 * non_embedding_params
    sizes = list(block_params)
    count = 1
    while count < len(sizes) and sum(sizes[-(count + 1) :]) <= budget:
        count += 1
    return count


def matched_layers(anat: Anatomy, top_k: float) -> int:
    """`matched_layer_count` on an Anatomy."""
    return matched_layer_count(anat.block_params, anat.non_embedding_params, top_k)


def lora_params(anat: Anatomy, rank: int) -> int:
    """Adapter parameters of LoRA at `rank` on the default targets: r · (in + out) per adapted nn.Linear."""
    targets = set(anat.lora_targets)
    return sum(rank * (lin.in_features + lin.out_features) for lin in anat.linears if lin.name in targets)


def matched_lora_rank(anat: Anatomy, params: int) -> int:
    """The LoRA rank whose adapters come closest to `params` parameters (at least 1)."""
    per_rank = lora_params(anat, 1)
    return max(1, round(params / per_rank)) if per_rank else 1


def _ratio(depth: float, share: float) -> float:
    return (1.0 + depth + share) / 3.0


def _row(method: str, detail: str, trainable: int, anat: Anatomy, ratio: float, budget: int) -> dict:
    """`budget_percent`: the parameters that count against the budget (modules, adapters, blocks; not the head or
    new-token embeddings) as % of the non-embedding parameters, the one denominator of the budget everywhere."""
    return {
        "method": method,
        "detail": detail,
        "trainable_params": int(trainable),
        "budget_percent": 100.0 * budget / anat.non_embedding_params,
        "optimizer_mib": ADAMW_BYTES_PER_PARAM * trainable / 2**20,
        "step_time_ratio": ratio,
    }


def adapt_row(anat: Anatomy, selection, new_token_params: int = 0) -> dict:
    """AdaPT's selection (a `Selection`): its modules, the new-token embeddings and the head."""
    layer_of = {lin.name: lin.layer for lin in anat.linears}
    layers = [layer_of[m] for m in selection.modules if m in layer_of]
    depth = (anat.num_layers - min(layers)) / anat.num_layers if layers else 0.0
    share = selection.params / max(sum(anat.block_params), 1)
    trainable = selection.params + anat.head_params + new_token_params
    detail = f"β {selection.beta:g}, top-k {selection.top_k:g} %: {len(selection.rows)} modules"
    return _row("AdaPT", detail, trainable, anat, _ratio(depth, share), selection.params)


def lora_row(anat: Anatomy, rank: int, label: str = "LoRA") -> dict:
    """LoRA at `rank`: adapters on the default targets and the head. Gradients flow through every block; the
    adapters add `o` = adapter / block parameters to the forward, to the backward and as weight gradients."""
    adapters = lora_params(anat, rank)
    targets = [lin for lin in anat.linears if lin.name in set(anat.lora_targets)]
    o = adapters / max(sum(anat.block_params), 1)
    detail = f"rank {rank} on {len(targets)} modules"
    return _row(label, detail, adapters + anat.head_params, anat, (2.0 + 3.0 * o) / 3.0, adapters)


def layers_row(anat: Anatomy, count: int) -> dict:
    params = sum(anat.block_params[-count:])
    share = params / max(sum(anat.block_params), 1)
    return _row(
        "Layer selection",
        f"top {count} of {anat.num_layers} blocks",
        params + anat.head_params,
        anat,
        _ratio(count / anat.num_layers, share),
        params,
    )


def full_row(anat: Anatomy) -> dict:
    return _row("Full finetuning", "every parameter", anat.total_params, anat, 1.0, anat.non_embedding_params)


def budget_table(anat: Anatomy, selection, lora_rank: int = 8, new_token_params: int = 0) -> pd.DataFrame:
    """AdaPT at (β, top-k) beside LoRA at `lora_rank`, LoRA and layer selection at a matched budget, full."""
    matched = matched_lora_rank(anat, selection.params)
    rows = [
        adapt_row(anat, selection, new_token_params),
        lora_row(anat, lora_rank, f"LoRA r={lora_rank}"),
        lora_row(anat, matched, f"LoRA r={matched} (matched)"),
        layers_row(anat, matched_layers(anat, selection.top_k)),
        full_row(anat),
    ]
    return pd.DataFrame(rows)
