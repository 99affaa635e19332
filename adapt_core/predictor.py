"""Reload a finished run and predict with it: the CLI's `predict` / `evaluate`, and the studio's Playground.

A gradient-trained run's `model/` is a plain Hugging Face folder; a method with its own format (STC) registers its
loader (`MethodSpec.load`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from adapt_core.errors import AdaptError
from adapt_core.run_reader import load_run


@dataclass
class Predictor:
    model: object
    tokenizer: object
    label_names: list[str]
    max_length: int = 128

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """(n_texts, num_labels) class probabilities."""
        from adapt_core.evaluate import predict_proba

        return predict_proba(self.model, self.tokenizer, texts, max_length=self.max_length)

    def predict(self, texts: list[str]) -> list[str]:
        return [self.label_names[i] for i in self.predict_proba(texts).argmax(axis=1)]

    def tokens(self, text: str) -> list[tuple[str, bool]]:
        """The text's tokens, each with True when it is one of the run's added (new) tokens."""
        added = set(self.tokenizer.get_added_vocab()) - set(self.tokenizer.all_special_tokens)
        return [(t, t in added) for t in self.tokenizer.tokenize(text)]


def load_predictor(run_dir: Path | str) -> Predictor:
    """The trained model of a completed run (any method)."""
    run = load_run(run_dir, strict=True)
    model_dir = Path(run_dir) / "model"
    if not model_dir.exists():
        raise AdaptError(f"run {run.id} has no saved model (state: {run.state}); pick a completed run")
    max_length = run.config.get("train", {}).get("max_length", 128)
    from adapt_core.methods import get_method, load_trained
    from adapt_core.run_reader import method_name

    spec = get_method(method_name(run.config) or "full")
    if spec.load is not None:  # a method with its own model folder format (STC)
        return spec.load(model_dir)

    model, tokenizer = load_trained(model_dir)
    model.eval()
    names = [model.config.id2label[i] for i in range(model.config.num_labels)]
    return Predictor(model, tokenizer, names, max_length)
