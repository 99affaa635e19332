"""Hand-made finished run folders for the Analysis and Compare tests: the files a completed run keeps (config,
status, report, evaluation.json, predictions.json and, for a run with new tokens, tokens.json), written through the
library's own writers (`evaluate`, `write_predictions`, `TokenRecord`) so they have the real shapes, from chosen
true and predicted labels, without training anything."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from adapt_core.data import Split
from adapt_core.evaluate import evaluate
from adapt_core.fileio import atomic_write_json
from adapt_core.models import load_tokenizer
from adapt_core.run_analysis import write_predictions
from adapt_core.token_record import TokenRecord
from adapt_core.tokens import augmented_tokenizer
from adapt_core.vetting import VettedCandidate, VettedList


def one_hot_proba(predicted, num_labels: int, confidence: float = 0.8) -> np.ndarray:
    """(n, num_labels) probabilities whose argmax is `predicted`, `confidence` on it and the rest spread evenly."""
    proba = np.full((len(predicted), num_labels), (1 - confidence) / (num_labels - 1))
    proba[np.arange(len(predicted)), predicted] = confidence
    return proba


def write_run(
    root: Path,
    name: str,
    texts: list[str],
    truth: list[int],
    predicted: list[int],
    label_names: list[str],
    *,
    method: str = "full",
    settings: dict | None = None,
    seed: int = 0,
    dataset: str = "toy",
    tokens: tuple[str, ...] = (),
    costs: dict | None = None,
    predictions: bool = True,
) -> Path:
    """A completed run folder `root/name` whose test split is `texts` / `truth`, predicted as `predicted`."""
    run = root / name
    run.mkdir(parents=True)
    result = evaluate(truth, predicted, label_names)
    config = {"dataset": dataset, "model": "tiny-bert", "method": method, "settings": settings or {}}
    atomic_write_json(run / "config.json", {**config, "train": {"seed": seed}})
    atomic_write_json(run / "status.json", {"state": "completed", "step": 1, "total": 1})
    atomic_write_json(run / "report.json", {"dev": result.scores(), "test": result.scores(), **(costs or {})})
    atomic_write_json(
        run / "evaluation.json", {"label_names": label_names, "dev": result.to_dict(), "test": result.to_dict()}
    )
    if predictions:  # with new tokens, the spans come from tiny-bert's tokenizer with them added, as in a run
        proba = one_hot_proba(np.asarray(predicted), len(label_names))
        tokenizer = augmented_tokenizer(load_tokenizer("tiny-bert"), list(tokens)) if tokens else None
        write_predictions(run, Split(texts, truth), proba, label_names, tokenizer)
    if tokens:
        vetted = VettedList([VettedCandidate(t, decision="accepted") for t in tokens], label_names)
        augment = {"added": len(tokens), "skipped": []}
        atomic_write_json(run / "tokens.json", TokenRecord("vetted:test", vetted, augment, {}).to_dict())
    return run
