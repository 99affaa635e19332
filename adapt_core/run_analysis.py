"""Why a run wins or loses: its confusions, per-class scores and misclassified test examples, and how two runs on the
same test set differ (per-class F1, the examples whose prediction flips).

Everything is read from what a run folder keeps: `evaluation.json` (per split: the per-class report and the
confusion matrix, rows = true labels) and `predictions.json` (the test split's examples with their true label,
predicted label and its probability, written by `write_predictions` from the pipeline and from STC, and where the
run's tokenizer put a new token: character spans found by that very tokenizer, so the highlight is what trained),
and `tokens.json` for the list of the run's new tokens. A run written before predictions were kept still shows its
confusions and per-class scores; only its examples are missing (`RunEvaluation.predictions` is None).
"""

from __future__ import annotations

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


def prediction_records(
    texts: Sequence[str], labels: Sequence[int], proba: np.ndarray, label_names, spans: Sequence | None = None
) -> list[dict]:
    """One row per example: text, true and predicted label names, the probability of the predicted label, and the
    character spans of its new tokens (`new_token_spans`; [] without)."""
    predicted = np.asarray(proba).argmax(axis=1)
    spans = spans if spans is not None else [[] for _ in texts]
    return [
        {
            "text": text,
            "true": label_names[int(y)],
            "predicted": label_names[int(p)],
            "probability": float(row[p]),
            "new_tokens": [list(span) for span in marks],
        }
        for text, y, p, row, marks in zip(texts, labels, predicted, np.asarray(proba), spans, strict=True)
    ]


def new_token_spans(texts: Sequence[str], tokenizer) -> list[list[tuple[int, int]]]:
    """Per text, the (start, end) characters of each new (added, non-special) token the tokenizer produces: the
    tokenizer the run trained with decides, not a look-alike match (case, spacing and word edges as it treats them).
    A leading space that an added token absorbs is left out of its span."""
    from adapt_core.tokens import new_token_ids

    new = set(new_token_ids(tokenizer))
    if not new or not texts:
        return [[] for _ in texts]
    enc = tokenizer(list(texts), add_special_tokens=False, return_offsets_mapping=True)
    out = []
    for text, ids, offsets in zip(texts, enc["input_ids"], enc["offset_mapping"], strict=True):
        spans = []
        for tid, (start, end) in zip(ids, offsets, strict=True):
            while tid in new and start < end and text[start].isspace():
                start += 1
            if tid in new and start < end:
                spans.append((start, end))
        out.append(spans)
    return out


def write_predictions(
    run_dir: Path | str, split, proba: np.ndarray, label_names: Sequence[str], tokenizer=None
) -> None:
    """`predictions.json` in the run folder: the test split's examples as `prediction_records` (atomic write); with
    the run's `tokenizer`, each example's new-token spans."""
    spans = new_token_spans(split.texts, tokenizer) if tokenizer is not None else None
    rows = prediction_records(split.texts, split.labels, proba, list(label_names), spans)
    atomic_write_json(Path(run_dir) / PREDICTIONS, {"split": "test", "label_names": list(label_names), "rows": rows})


# ------------------------------------------------------------------------------------------------ reading


@dataclass
class RunEvaluation:
    """A run's test evaluation as read back: scores per class, the confusion matrix and (when kept) its examples."""

    label_names: list[str]
    per_class: pd.DataFrame  # label, precision, recall, f1, support
    confusion: np.ndarray  # (labels, labels), rows = true labels
    predictions: pd.DataFrame | None  # text, true, predicted, probability, new_tokens (spans), correct

    def misclassified(self) -> pd.DataFrame:
        """The wrongly predicted test examples, the most confident mistakes first."""
        if self.predictions is None:
            return pd.DataFrame(columns=["text", "true", "predicted", "probability", "new_tokens", "correct"])
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
        frame = pd.DataFrame(rows, columns=["text", "true", "predicted", "probability", "new_tokens"])
    except FileNotFoundError:
        return None  # a run written before predictions were kept
    except (ValueError, KeyError, TypeError) as err:
        raise AdaptError(f"run {run_dir.name}: {PREDICTIONS} is damaged ({err}); evaluate the run again") from None
    spans = frame["new_tokens"].map(lambda marks: marks if isinstance(marks, list) else [])  # absent in a row: none
    return frame.assign(new_tokens=spans, correct=frame["true"] == frame["predicted"])


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


def mark_spans(text: str, spans: Sequence[Sequence[int]]) -> list[tuple[str, bool]]:
    """`text` cut into pieces, True on each new-token span (from `new_token_spans`); the pieces join back to `text`."""
    pieces, prev = [], 0
    for start, end in sorted(spans):
        if start < prev or end > len(text):
            continue  # a span that does not fit this text (it changed since): left unmarked rather than garbled
        if start > prev:
            pieces.append((text[prev:start], False))
        pieces.append((text[start:end], True))
        prev = end
    if prev < len(text) or not pieces:
        pieces.append((text[prev:], False))
    return pieces
