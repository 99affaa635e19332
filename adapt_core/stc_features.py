"""STC features: one pass of a frozen transformer, per layer hidden states and MLP activations, pooled three ways.

Sparsify-then-Classify (SPIN) probes the *internal neurons* of every layer. This module is its data side:
- `model_layers(model)` finds the list of transformer blocks (by type, as `anatomy.find_blocks` does for AdaPT) and,
  in each, the MLP down-projection whose *input* is the post-activation intermediate (BERT: `output.dense`, i.e.
  act(intermediate); Llama: `mlp.down_proj`, i.e. act(gate) * up), found by the module names of the common families
  (BERT, RoBERTa, DistilBERT, GPT-2, Llama-style decoders, Phi); a block without one has no "mlp" features.
- `LayerCapture` hooks them: "hidden" = the output of block i (the residual stream after layer i; the embedding
  output is left out so that layer i always means block i for both representations), "mlp" = the input of block
  i's down-projection. It pools while the batch is still in memory and can stop the forward pass after the last
  layer it needs (early exit by a sentinel exception, so no architecture code is copied).
- `pool(states, mask, token)`: masked mean, masked max and one token (the first real token for encoders, the last
  real token for decoders). Padding never enters the mean or the max, whichever side it is on.
- `FeatureStore` keeps the pooled features on disk, one `.npy` memory map per (split, representation, layer) of
  shape (pooling, examples, width), float16 when the whole store would be large. Batches are written as they come,
  so memory stays bounded by one batch plus one array being read.
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from adapt_core.errors import AdaptError

POOLINGS = ("mean", "max", "token")
REPRESENTATIONS = ("hidden", "mlp")
# The MLP's output projection inside a block; its input is the intermediate activation we probe.
_DOWN_PATHS = (
    "mlp.down_proj",
    "output.dense",
    "ffn.lin2",
    "mlp.c_proj",
    "mlp.fc2",
    "mlp.dense_4h_to_h",
    "feed_forward.w2",
    "mlp.linear_2",
)


@dataclass
class ModelLayers:
    """The hookable parts of a backbone: its blocks, and per block the MLP down-projection (or None)."""

    blocks: nn.ModuleList
    down_proj: list[nn.Module | None]
    path: str  # where the block list lives, e.g. "encoder.layer" (used to truncate for early exit)

    def __len__(self) -> int:
        return len(self.blocks)


def model_layers(backbone: nn.Module) -> ModelLayers:
    """Blocks and MLP down-projections of a bare backbone. The blocks are found as AdaPT finds them
    (`anatomy.find_blocks`), so every model AdaPT supports can be probed; AdaptError when there are none."""
    from adapt_core.anatomy import find_blocks

    path, blocks = find_blocks(backbone)
    return ModelLayers(blocks, [_down_proj(b) for b in blocks], path)


def _down_proj(block: nn.Module) -> nn.Module | None:
    for path in _DOWN_PATHS:
        try:
            module = block.get_submodule(path)
        except AttributeError:
            continue
        if isinstance(module, nn.Module):
            return module
    return None


def is_causal(backbone: nn.Module) -> bool:
    """True for decoders (their attention modules say `is_causal`): pool their *last* real token, not the first."""
    return any(getattr(m, "is_causal", False) is True for m in backbone.modules())


def pool(states: torch.Tensor, mask: torch.Tensor, token: str) -> torch.Tensor:
    """(pooling, batch, width) = masked mean, masked max, first/last real token of `states` (batch, time, width).

    `mask` (batch, time) is 1 on real tokens; padding may be on either side. `token` is "first" or "last".
    Every row needs at least one real token.
    """
    m = mask.to(states.dtype).unsqueeze(-1)  # (batch, time, 1)
    mean = (states * m).sum(1) / m.sum(1).clamp_min(1.0)
    maxed = states.masked_fill(m == 0, float("-inf")).amax(1)
    positions = torch.arange(mask.shape[1], device=mask.device).expand_as(mask)  # (batch, time)
    real = mask.bool()
    if token == "first":  # smallest real position: CLS under right padding, first real token under left padding
        index = positions.masked_fill(~real, mask.shape[1]).amin(1)
    else:  # largest real position: the last token a decoder has read everything up to
        index = positions.masked_fill(~real, -1).amax(1)
    picked = states[torch.arange(states.shape[0], device=states.device), index]  # (batch, width)
    return torch.stack([mean, maxed, picked])


class _Stop(Exception):
    """Raised by a hook after the last needed layer: the rest of the forward pass is skipped (early exit)."""


class LayerCapture:
    """Hooks that pool the chosen representations of layers [0, num_layers) during a forward pass.

    Use as a context manager around `run(inputs)`; `run` returns {(rep, layer): (pooling, batch, width)}.
    With `early_exit`, the pass stops as soon as block `num_layers - 1` has produced its output.
    """

    def __init__(
        self, layers: ModelLayers, reps: tuple[str, ...], num_layers: int, token: str, early_exit: bool = True
    ):
        if "mlp" in reps and any(d is None for d in layers.down_proj[:num_layers]):
            raise AdaptError(
                "STC cannot find the MLP down-projection of this model's layers (looked for "
                f"{', '.join(_DOWN_PATHS)}): use representations=('hidden',) for it"
            )
        self.layers, self.reps, self.num_layers, self.token = layers, reps, num_layers, token
        self.early_exit = early_exit
        self.mask: torch.Tensor | None = None
        self.out: dict[tuple[str, int], torch.Tensor] = {}
        self._handles: list = []

    def __enter__(self) -> LayerCapture:
        for i in range(self.num_layers):
            if "mlp" in self.reps:
                self._handles.append(self.layers.down_proj[i].register_forward_pre_hook(self._mlp_hook(i)))
            self._handles.append(self.layers.blocks[i].register_forward_hook(self._block_hook(i)))
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def _mlp_hook(self, i: int):
        def hook(_module, args):
            self.out[("mlp", i)] = pool(args[0].float(), self.mask, self.token)

        return hook

    def _block_hook(self, i: int):
        def hook(_module, _args, output):
            if "hidden" in self.reps:
                states = output[0] if isinstance(output, tuple) else output  # (batch, time, hidden)
                self.out[("hidden", i)] = pool(states.float(), self.mask, self.token)
            if self.early_exit and i == self.num_layers - 1:
                raise _Stop

        return hook

    @torch.no_grad()
    def run(self, backbone: nn.Module, input_ids: torch.Tensor, mask: torch.Tensor) -> dict:
        self.mask, self.out = mask, {}
        with contextlib.suppress(_Stop):  # raised after the last needed layer
            backbone(input_ids=input_ids, attention_mask=mask, use_cache=False)
        return self.out


def token_batches(
    tokenizer, texts: list[str], max_length: int, batch_size: int, padding_side: str | None = None
) -> Iterator[tuple[np.ndarray, torch.Tensor, torch.Tensor]]:
    """(indices, input_ids, attention_mask) batches, texts sorted by length so that batches pad little; padded on
    `padding_side`, by default the tokenizer's own side (as the training loop's collate does)."""
    padding_side = padding_side or getattr(tokenizer, "padding_side", "right")
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    order = np.argsort([len(x) for x in ids], kind="stable")
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        width = max(len(ids[i]) for i in idx)
        input_ids = torch.full((len(idx), width), pad, dtype=torch.long)  # (batch, width)
        mask = torch.zeros((len(idx), width), dtype=torch.long)
        for row, i in enumerate(idx):
            cols = slice(width - len(ids[i]), width) if padding_side == "left" else slice(0, len(ids[i]))
            input_ids[row, cols], mask[row, cols] = torch.tensor(ids[i]), 1
        yield idx, input_ids, mask


class FeatureStore:
    """Pooled features on disk: `{split}_{rep}_{layer}.npy` memory maps of shape (pooling, examples, width).

    Plain `.npy` (never pickled); float16 when `float16` is set, which halves the disk and page-cache footprint at a
    precision (about 3 significant digits) far below what an L1 probe on standardised features can use.
    """

    def __init__(self, folder: Path, float16: bool = False):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dtype = np.float16 if float16 else np.float32
        self._open: dict[tuple[str, str, int], np.ndarray] = {}

    def _file(self, split: str, rep: str, layer: int) -> Path:
        return self.folder / f"{split}_{rep}_{layer}.npy"

    def create(self, split: str, rep: str, layer: int, n: int, width: int) -> None:
        arr = np.lib.format.open_memmap(
            self._file(split, rep, layer), mode="w+", dtype=self.dtype, shape=(len(POOLINGS), n, width)
        )
        self._open[(split, rep, layer)] = arr

    def write(self, split: str, rep: str, layer: int, rows: np.ndarray, values: torch.Tensor) -> None:
        """values (pooling, batch, width) for the examples `rows`."""
        v = values.cpu().numpy()
        if self.dtype == np.float16:  # saturate rather than overflow to inf (decoders have huge outlier dims)
            v = np.clip(v, -65000.0, 65000.0)
        self._open[(split, rep, layer)][:, rows, :] = v

    def flush(self) -> None:
        for arr in self._open.values():
            arr.flush()
        self._open.clear()

    def get(self, split: str, rep: str, layer: int, pooling: str, columns=None) -> np.ndarray:
        """(examples, width) float32 for one pooling; `columns` picks neurons (read from disk lazily)."""
        arr = np.load(self._file(split, rep, layer), mmap_mode="r", allow_pickle=False)
        block = arr[POOLINGS.index(pooling)]
        return np.asarray(block if columns is None else block[:, columns], dtype=np.float32)

    def width(self, rep: str, layer: int) -> int:
        return int(np.load(self._file("train", rep, layer), mmap_mode="r", allow_pickle=False).shape[-1])

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def store_bytes(n_examples: int, widths: dict[tuple[str, int], int]) -> int:
    """Bytes the store needs in float32 (all splits, all poolings)."""
    return 4 * len(POOLINGS) * n_examples * sum(widths.values())


def probe_widths(
    backbone: nn.Module, layers: ModelLayers, reps: tuple[str, ...], num_layers: int, token: str
) -> dict[tuple[str, int], int]:
    """Width of every (rep, layer) feature, read off one tiny forward pass (robust to any MLP shape)."""
    capture = LayerCapture(layers, reps, num_layers, token)
    ids = torch.ones((1, 2), dtype=torch.long, device=_device(backbone))
    with capture:
        out = capture.run(backbone, ids, torch.ones_like(ids))
    return {key: int(v.shape[-1]) for key, v in out.items()}


def _device(module: nn.Module) -> torch.device:
    return next(module.parameters()).device


def collect(
    backbone: nn.Module,
    tokenizer,
    splits: dict[str, list[str]],
    store: FeatureStore,
    widths: dict[tuple[str, int], int],
    num_layers: int,
    token: str,
    max_length: int,
    batch_size: int,
    on_batch: Callable[[], None] | None = None,
) -> None:
    """One frozen pass over every split, writing pooled features of layers [0, num_layers) into `store`."""
    layers = model_layers(backbone)
    reps = tuple(sorted({rep for rep, _ in widths}, key=REPRESENTATIONS.index))
    device = _device(backbone)
    for split, texts in splits.items():
        for (rep, layer), width in widths.items():
            store.create(split, rep, layer, len(texts), width)
        with LayerCapture(layers, reps, num_layers, token) as capture:
            for rows, input_ids, mask in token_batches(tokenizer, texts, max_length, batch_size):
                out = capture.run(backbone, input_ids.to(device), mask.to(device))
                for key, values in out.items():
                    if key in widths:  # the hooks see every layer up to the last; store only those asked for
                        store.write(split, *key, rows, values)
                if on_batch:
                    on_batch()
        store.flush()


def num_batches(n: int, batch_size: int) -> int:
    return -(-n // batch_size)
