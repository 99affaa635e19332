"""A fitted STC classifier and its early-exit inference, saved and loaded without pickle.

`StcHead` is what the search chose: one representation and pooling, the first k layers, the kept neurons of each
(grouped by layer, ascending), their train standardisation and the final L1 head. `StcPredictor` runs a backbone
with `LayerCapture` hooks and stops after block k-1 (early exit): the rest of the network is never computed.

On disk (`model_dir`):
    backbone/            the base model truncated to its first k blocks (safetensors) and its tokenizer
    stc_head.safetensors coef (K, F), intercept (K,), mean / scale / saliency (F,), layers / neurons (F,)
    stc.json             the choices (representation, pooling, k, eta, C, …), label names, token position
Saving only k blocks makes the saved run the early-exit model itself, and smaller; the hook still stops the pass
at block k-1, so a full-depth backbone given the same head predicts identically, just slower.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from adapt_core.errors import AdaptError
from adapt_core.stc_features import POOLINGS, LayerCapture, model_layers, token_batches
from adapt_core.stc_solver import softmax

FORMAT = "adapt-stc/1"
_ARRAYS = ("coef", "intercept", "mean", "scale", "saliency", "layers", "neurons")


@dataclass
class StcHead:
    """The final classifier over kept neurons: logits = ((x - mean) / scale) @ coef.T + intercept."""

    representation: str  # "hidden" or "mlp"
    pooling: str  # "mean", "max" or "token"
    k: int  # layers used: blocks [0, k)
    layers: np.ndarray  # (F,) int64, layer of each feature, ascending
    neurons: np.ndarray  # (F,) int64, neuron index within its layer
    mean: np.ndarray  # (F,) float32
    scale: np.ndarray  # (F,) float32
    coef: np.ndarray  # (K, F) float32
    intercept: np.ndarray  # (K,) float32
    saliency: np.ndarray  # (F,) each kept neuron's share of its layer probe's squared weight (saliency map)
    label_names: list[str]
    token: str  # "first" (encoders) or "last" (decoders)
    max_length: int = 128
    info: dict = field(default_factory=dict)  # eta, C, neurons per layer, … (for the report and figures)

    def features(self, captured: dict[tuple[str, int], torch.Tensor]) -> np.ndarray:
        """(batch, F) raw features from LayerCapture output {(rep, layer): (pooling, batch, width)}."""
        p = POOLINGS.index(self.pooling)
        parts = [
            captured[(self.representation, int(layer))][p][:, torch.as_tensor(self.neurons[self.layers == layer])]
            for layer in np.unique(self.layers)
        ]
        return torch.cat(parts, dim=1).cpu().numpy()

    def proba(self, x: np.ndarray) -> np.ndarray:
        """(n, K) class probabilities of raw features x (n, F)."""
        z = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        return softmax(z.astype(np.float64)).astype(np.float32)

    @property
    def trainable_params(self) -> int:
        """Nonzero head weights plus one intercept per class."""
        return int(np.count_nonzero(self.coef)) + int(self.intercept.shape[0])

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        save_file(
            {name: np.ascontiguousarray(getattr(self, name)) for name in _ARRAYS}, str(folder / "stc_head.safetensors")
        )
        meta = {
            "format": FORMAT,
            "representation": self.representation,
            "pooling": self.pooling,
            "k": self.k,
            "label_names": self.label_names,
            "token": self.token,
            "max_length": self.max_length,
            "info": self.info,
        }
        (folder / "stc.json").write_text(json.dumps(meta, indent=2, default=_plain))

    @classmethod
    def load(cls, folder: Path) -> StcHead:
        from safetensors.numpy import load_file

        meta_path, arrays_path = folder / "stc.json", folder / "stc_head.safetensors"
        if not meta_path.exists() or not arrays_path.exists():
            raise AdaptError(f"{folder} is not a saved STC model (stc.json / stc_head.safetensors missing)")
        meta = json.loads(meta_path.read_text())
        if meta.get("format") != FORMAT:
            raise AdaptError(f"{folder} was written by an STC format this version cannot read ({meta.get('format')})")
        arrays = load_file(str(arrays_path))
        return cls(
            meta["representation"],
            meta["pooling"],
            int(meta["k"]),
            **arrays,
            label_names=meta["label_names"],
            token=meta["token"],
            max_length=meta["max_length"],
            info=meta.get("info", {}),
        )


def _plain(value):
    return value.item() if hasattr(value, "item") else value.tolist() if hasattr(value, "tolist") else str(value)


class StcPredictor:
    """Texts → class probabilities through the first `k` layers of the backbone and the STC head."""

    def __init__(self, backbone: nn.Module, tokenizer, head: StcHead, early_exit: bool = True, batch_size: int = 64):
        self.backbone = backbone.eval()
        self.tokenizer, self.head = tokenizer, head
        self.early_exit, self.batch_size = early_exit, batch_size
        self._layers = model_layers(backbone)
        if len(self._layers) < head.k:
            raise AdaptError(f"the backbone has {len(self._layers)} layers but this STC head needs {head.k}")

    @property
    def label_names(self) -> list[str]:
        return self.head.label_names

    @property
    def num_layers_run(self) -> int:
        """Blocks run per prediction: k with early exit, every block of the backbone otherwise."""
        return self.head.k if self.early_exit else len(self._layers)

    @torch.no_grad()
    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """(n_texts, num_labels) class probabilities."""
        out = np.zeros((len(texts), len(self.label_names)), dtype=np.float32)
        device = next(self.backbone.parameters()).device
        # A backbone saved with exactly k blocks needs no sentinel: the pass ends there anyway.
        capture = LayerCapture(
            self._layers,
            (self.head.representation,),
            self.head.k,
            self.head.token,
            early_exit=self.early_exit and len(self._layers) > self.head.k,
        )
        with capture:
            for rows, ids, mask in token_batches(self.tokenizer, texts, self.head.max_length, self.batch_size):
                captured = capture.run(self.backbone, ids.to(device), mask.to(device))
                out[rows] = self.head.proba(self.head.features(captured))
        return out

    def predict(self, texts: list[str]) -> list[str]:
        return [self.label_names[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def tokens(self, text: str) -> list[tuple[str, bool]]:
        """The text's tokens (an STC run adds none, so none is marked new)."""
        return [(t, False) for t in self.tokenizer.tokenize(text)]


def save_backbone(backbone: nn.Module, tokenizer, k: int, folder: Path) -> None:
    """The first k blocks of `backbone` (a copy; the original is untouched) and the tokenizer, as an HF folder."""
    cut = copy.deepcopy(backbone)
    layers = model_layers(cut)
    del layers.blocks[k:]
    cut.config.num_hidden_layers = k
    if isinstance(getattr(cut.config, "layer_types", None), list):  # per-layer attention kinds (newer decoders)
        cut.config.layer_types = cut.config.layer_types[:k]
    cut.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def load_backbone(folder: Path, device: str = "auto"):
    """(backbone, tokenizer) from a folder written by `save_backbone` (safetensors only)."""
    from transformers import AutoModel, AutoTokenizer

    from adapt_core.models import pick_device
    from adapt_core.safeload import check_local_weights

    check_local_weights(folder, "STC backbone")
    backbone = AutoModel.from_pretrained(folder, use_safetensors=True).to(pick_device(device)).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    return backbone, tokenizer


def load_predictor(model_dir: Path | str, device: str = "auto") -> StcPredictor:
    """The early-exit predictor of a saved STC run's `model/` folder."""
    model_dir = Path(model_dir)
    head = StcHead.load(model_dir)
    if not (model_dir / "backbone" / "config.json").exists():
        raise AdaptError(f"{model_dir} has no backbone/ folder: the STC run did not finish saving; rerun it")
    backbone, tokenizer = load_backbone(model_dir / "backbone", device)
    return StcPredictor(backbone, tokenizer, head)
