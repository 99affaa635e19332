"""Why a run wins or loses: its confusions, per-class scores and misclassified test examples, and how two runs on the
same test set differ (per-class F1, the examples whose prediction flips).

Everything is read from what a run folder keeps: `evaluation.json` (per split: the per-class report and the
confusion matrix, rows = true labels) and `predictions.json` (the test split's examples with their true label,
predicted label and its probability, written by `write_predictions` from the pipeline and from STC), and, for the
highlight of new tokens, `tokens.json`. A run written before predictions were kept still shows its confusions and
per-class scores; only its examples are missing (`RunEvaluation.predictions` is None).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_json

EVALUATION = "evaluation.json"
PREDICTIONS = "predictions.json"
FLIP_KINDS = ("right → wrong", "wrong → right")


# ------------------------------------------------------------------------------------------------ writing


def prediction_records(texts: Sequence[str], labels: Sequence[int], proba: np.ndarray, label_names) -> list[dict]:
    """One row per example: text, true and predicted label names, and the probability of the predicted label."""
    predicted = np.asarray(proba).argmax(axis=1)
    return [
        {"text": text, "true": label_names[int(y)], "predicted": label_names[int(p)], "probability": float(row[p])}
        for text, y, p, row in zip(texts, labels, predicted, np.asarray(proba), strict=True)
    ]


def write_predictions(run_dir: Path | str, split, proba: np.ndarray, label_names: Sequence[str]) -> None:
    """`predictions.json` in the run folder: the test split's examples as `prediction_records` (atomic write)."""
    rows = prediction_records(split.texts, split.labels, proba, list(label_names))
    atomic_write_json(Path(run_dir) / PREDICTIONS, {"split": "test", "label_names": list(label_names), "rows": rows})


# ------------------------------------------------------------------------------------------------ reading


@dataclass
class RunEvaluation:
    """A run's test evaluation as read back: scores per class, the confusion matrix and (when kept) its examples."""

    label_names: list[str]
    per_class: pd.DataFrame  # label, precision, recall, f1, support
    confusion: np.ndarray  # (labels, labels), rows = true labels
    predictions: pd.DataFrame | None  # text, true, predicted, probability, correct

    def misclassified(self) -> pd.DataFrame:
        """The wrongly predicted test examples, the most confident mistakes first."""
        if self.predictions is None:
            return pd.DataFrame(columns=["text", "true", "predicted", "probability", "correct"])
        wrong = self.predictions[~self.predictions["correct"]]
        return wrong.sort_values("probability", ascending=False, kind="stable")


def load_evaluation(run_dir: Path | str) -> RunEvaluation:
    """The test part of a run's evaluation.json, and its predictions.json when present; AdaptError says what lacks."""
    import json

    run_dir = Path(run_dir)
    try:
        payload = json.loads((run_dir / EVALUATION).read_text())
        test, names = payload["test"], list(payload["label_names"])
        per_class = pd.DataFrame(test["per_class"])[["label", "precision", "recall", "f1", "support"]]
        confusion = np.asarray(test["confusion"], dtype=int)
    except FileNotFoundError:
        raise AdaptError(f"run {run_dir.name} has no {EVALUATION}: only a completed run is evaluated") from None
    except (ValueError, KeyError, TypeError) as err:
        raise AdaptError(f"run {run_dir.name}: {EVALUATION} is damaged ({err}); evaluate the run again") from None
    if confusion.shape != (len(names), len(names)):
        raise AdaptError(f"run {run_dir.name}: the confusion matrix does not match its {len(names)} labels")
    return RunEvaluation(names, per_class, confusion, _read_predictions(run_dir))


def _read_predictions(run_dir: Path) -> pd.DataFrame | None:
    import json

    try:
        rows = json.loads((run_dir / PREDICTIONS).read_text())["rows"]
        frame = pd.DataFrame(rows, columns=["text", "true", "predicted", "probability"])
    except FileNotFoundError:
        return None  # a run written before predictions were kept
    except (ValueError, KeyError, TypeError) as err:
        raise AdaptError(f"run {run_dir.name}: {PREDICTIONS} is damaged ({err}); evaluate the run again") from None
    return frame.assign(correct=frame["true"] == frame["predicted"])


# ------------------------------------------------------------------------------------------------ one run


def top_confusions(confusion: np.ndarray, label_names: Sequence[str], top: int = 15) -> pd.DataFrame:
    """The `top` most frequent mistakes (off-diagonal cells), most frequent first: true, predicted, count and the
    share of the true class's examples that went there. Ties keep the matrix order (true label, then predicted)."""
    confusion = np.asarray(confusion)
    support = confusion.sum(axis=1)
    rows = [
        (label_names[i], label_names[j], int(confusion[i, j]), confusion[i, j] / support[i])
        for i in range(len(label_names))
        for j in range(len(label_names))
        if i != j and confusion[i, j] > 0
    ]
    frame = pd.DataFrame(rows, columns=["true", "predicted", "count", "share_of_true"])
    return frame.sort_values("count", ascending=False, kind="stable").head(top).reset_index(drop=True)


# ------------------------------------------------------------------------------------------------ two runs


def per_class_diff(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per class: F1 of run A and of run B and `diff` = B − A, sorted from B's biggest loss to its biggest gain."""
    if list(a["label"]) != list(b["label"]):
        raise AdaptError("the two runs have different labels: compare runs on the same dataset")
    out = pd.DataFrame({"label": a["label"], "f1_a": a["f1"], "f1_b": b["f1"].to_numpy(), "support": a["support"]})
    out["diff"] = out["f1_b"] - out["f1_a"]
    return out.sort_values("diff", kind="stable").reset_index(drop=True)


def flips(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """The test examples whose correctness changes from run A to run B: text, true, A's and B's prediction, and
    `kind` (right → wrong, wrong → right). Both runs must have been tested on the same examples in the same order."""
    if len(a) != len(b) or list(a["text"]) != list(b["text"]) or list(a["true"]) != list(b["true"]):
        raise AdaptError("the two runs were tested on different examples: compare runs with the same data slice")
    changed = a["correct"].to_numpy() != b["correct"].to_numpy()
    out = pd.DataFrame(
        {
            "text": a["text"][changed],
            "true": a["true"][changed],
            "predicted_a": a["predicted"][changed],
            "predicted_b": b["predicted"].to_numpy()[changed],
            "kind": np.where(a["correct"][changed], FLIP_KINDS[0], FLIP_KINDS[1]),
        }
    )
    return out.reset_index(drop=True)


def flip_counts(flipped: pd.DataFrame) -> dict[str, int]:
    return {kind: int((flipped["kind"] == kind).sum()) for kind in FLIP_KINDS}


# ------------------------------------------------------------------------------------------------ new tokens


def run_new_tokens(run_dir: Path | str) -> list[str]:
    """The new tokens a run added (its tokens.json: accepted candidates less those augmentation skipped); [] for a
    run without new tokens or without the file."""
    import json

    path = Path(run_dir) / "tokens.json"
    if not path.is_file():
        return []
    try:
        record = json.loads(path.read_text())
        candidates = (record.get("candidates") or {}).get("candidates", [])
        skipped = set(record.get("augment", {}).get("skipped", []))
        return [c["text"] for c in candidates if c.get("decision") == "accepted" and c["text"] not in skipped]
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise AdaptError(f"run {Path(run_dir).name}: tokens.json is damaged ({err})") from None


def mark_tokens(text: str, tokens: Sequence[str]) -> list[tuple[str, bool]]:
    """`text` cut into pieces, True on each occurrence of a new token (whole words, any case, any run of spaces
    between its words, as the tokenizer's added tokens match); the longest token wins where two overlap."""
    if not tokens:
        return [(text, False)]
    words = sorted({" ".join(t.split()) for t in tokens if t.strip()}, key=len, reverse=True)
    pattern = "|".join(r"\s+".join(map(re.escape, w.split())) for w in words)
    pieces, prev = [], 0
    for match in re.finditer(rf"(?<!\w)(?:{pattern})(?!\w)", text, flags=re.IGNORECASE):
        if match.start() > prev:
            pieces.append((text[prev : match.start()], False))
        pieces.append((match.group(0), True))
        prev = match.end()
    if prev < len(text) or not pieces:
        pieces.append((text[prev:], False))
    return pieces
