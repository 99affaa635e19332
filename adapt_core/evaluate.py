"""Classification metrics (scikit-learn underneath) and batched prediction with a trained model.

Metrics are computed over the *label set of the task*, so a class absent from the evaluated split (ChemProt's dev
lacks one of train's classes) neither crashes nor silently changes what "macro" averages over: absent classes with
no predictions are left out of the macro average (zero_division handling), exactly as scikit-learn reports them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


@dataclass
class EvalResult:
    accuracy: float
    macro_f1: float
    micro_f1: float
    per_class: pd.DataFrame  # label × (precision, recall, f1, support)
    confusion: np.ndarray  # (num_labels, num_labels), rows = true labels

    def to_dict(self) -> dict:
        return {
            "accuracy": self.accuracy,
            "macro_f1": self.macro_f1,
            "micro_f1": self.micro_f1,
            "per_class": self.per_class.reset_index().to_dict(orient="records"),
            "confusion": self.confusion.tolist(),
        }

    def scores(self) -> dict[str, float]:
        return {"accuracy": self.accuracy, "macro_f1": self.macro_f1, "micro_f1": self.micro_f1}


def evaluate(y_true, y_pred, label_names: list[str]) -> EvalResult:
    """Accuracy, macro/micro-F1 over the classes present in truth or prediction, per-class report, confusion."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    present = np.union1d(np.unique(y_true), np.unique(y_pred))
    all_labels = np.arange(len(label_names))
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=all_labels, zero_division=0)
    per_class = pd.DataFrame(
        {"precision": p, "recall": r, "f1": f, "support": s}, index=pd.Index(label_names, name="label")
    )
    return EvalResult(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        micro_f1=float(f1_score(y_true, y_pred, labels=all_labels, average="micro", zero_division=0)),
        per_class=per_class,
        confusion=confusion_matrix(y_true, y_pred, labels=all_labels),
    )


@torch.no_grad()
def predict_proba(
    model,
    tokenizer,
    texts: list[str],
    batch_size: int = 64,
    max_length: int = 128,
    device: torch.device | None = None,
    progress=None,
) -> np.ndarray:
    """(n_texts, num_labels) class probabilities. Texts are sorted by length so batches pad little.
    `progress(done, total)` (optional) is told the batches done, from (0, total) to (total, total)."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    n_batches = -(-len(texts) // batch_size)
    if progress is not None:
        progress(0, n_batches)
    for start in range(0, len(texts), batch_size):
        idx = order[start : start + batch_size]
        enc = tokenizer(
            [texts[i] for i in idx], padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        ).to(device)
        logits = model(**enc).logits.float()  # (batch, num_labels)
        out[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
        if progress is not None:
            progress(start // batch_size + 1, n_batches)
    model.train(was_training)
    return out
