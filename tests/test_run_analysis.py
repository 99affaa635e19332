"""run_analysis.py: top confusions in order, the per-class F1 difference and the flipped examples of two runs, the
new-token marks, reading a run's files back (and refusing damaged ones), and a tiny-bert run that writes its test
predictions end to end."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers_runs import write_run

from adapt_core.errors import AdaptError
from adapt_core.run_analysis import (
    PREDICTIONS,
    flip_counts,
    flips,
    load_evaluation,
    mark_spans,
    new_token_spans,
    per_class_diff,
    prediction_records,
    run_new_tokens,
    top_confusions,
)

NAMES = ["card", "transfer", "refund"]
TEXTS = [f"text {i}" for i in range(8)]
TRUTH = [0, 0, 0, 1, 1, 1, 2, 2]


def test_top_confusions_rank_by_count_then_matrix_order():
    confusion = np.array([[5, 3, 1], [0, 4, 3], [2, 1, 9]])
    top = top_confusions(confusion, NAMES)
    assert list(zip(top["true"], top["predicted"], top["count"], strict=True)) == [
        ("card", "transfer", 3),
        ("transfer", "refund", 3),  # a tie: matrix order
        ("refund", "card", 2),
        ("card", "refund", 1),
        ("refund", "transfer", 1),
    ]  # the zero cell (transfer → card) and the diagonal are left out
    assert top["share_of_true"].iloc[0] == pytest.approx(3 / 9)
    assert len(top_confusions(confusion, NAMES, top=2)) == 2


def test_prediction_records_carry_the_predicted_labels_probability():
    proba = np.array([[0.1, 0.7, 0.2], [0.6, 0.3, 0.1]])
    rows = prediction_records(["a", "b c"], [1, 2], proba, NAMES, spans=[[], [(0, 3)]])
    assert rows == [
        {"text": "a", "true": "transfer", "predicted": "transfer", "probability": pytest.approx(0.7), "new_tokens": []},
        {
            "text": "b c",
            "true": "refund",
            "predicted": "card",
            "probability": pytest.approx(0.6),
            "new_tokens": [[0, 3]],
        },
    ]


def test_evaluation_and_misclassified_read_back(tmp_path):
    predicted = [0, 1, 0, 1, 1, 2, 2, 0]
    run = write_run(tmp_path, "a", TEXTS, TRUTH, predicted, NAMES)
    ev = load_evaluation(run)
    assert ev.label_names == NAMES and ev.confusion.tolist() == [[2, 1, 0], [0, 2, 1], [1, 0, 1]]
    assert list(ev.per_class["label"]) == NAMES and list(ev.per_class["support"]) == [3, 3, 2]
    assert ev.per_class["recall"].tolist() == pytest.approx([2 / 3, 2 / 3, 1 / 2])
    wrong = ev.misclassified()
    assert sorted(wrong["text"]) == ["text 1", "text 5", "text 7"] and not wrong["correct"].any()


def test_a_run_without_predictions_still_shows_its_scores(tmp_path):
    run = write_run(tmp_path, "old", TEXTS, TRUTH, TRUTH, NAMES, predictions=False)
    ev = load_evaluation(run)
    assert ev.predictions is None and ev.misclassified().empty and ev.confusion.trace() == 8


def test_missing_or_damaged_files_are_one_line_messages(tmp_path):
    run = write_run(tmp_path, "a", TEXTS, TRUTH, TRUTH, NAMES)
    (run / PREDICTIONS).write_text("{not json")
    with pytest.raises(AdaptError, match="predictions.json is damaged"):
        load_evaluation(run)
    (run / "evaluation.json").unlink()
    with pytest.raises(AdaptError, match="no evaluation.json"):
        load_evaluation(run)


def test_per_class_diff_is_b_minus_a_sorted_from_loss_to_gain(tmp_path):
    a = load_evaluation(write_run(tmp_path, "a", TEXTS, TRUTH, [0, 0, 0, 1, 1, 1, 0, 0], NAMES))
    b = load_evaluation(write_run(tmp_path, "b", TEXTS, TRUTH, [0, 0, 1, 1, 1, 1, 2, 2], NAMES))
    diff = per_class_diff(a.per_class, b.per_class)
    # F1 of A: card 0.75, transfer 1, refund 0; of B: card 0.8, transfer 6/7, refund 1
    assert list(diff["label"]) == ["transfer", "card", "refund"]
    assert diff["diff"].tolist() == pytest.approx([6 / 7 - 1, 0.05, 1.0])
    other = pd.DataFrame({"label": ["x", "y", "z"], "f1": [0.0] * 3, "support": [1] * 3})
    with pytest.raises(AdaptError, match="different labels"):
        per_class_diff(a.per_class, other)


def test_flips_list_both_directions_with_counts(tmp_path):
    a = load_evaluation(write_run(tmp_path, "a", TEXTS, TRUTH, [0, 1, 0, 1, 1, 1, 2, 0], NAMES))
    b = load_evaluation(write_run(tmp_path, "b", TEXTS, TRUTH, [0, 0, 2, 1, 1, 1, 0, 2], NAMES))
    flipped = flips(a.predictions, b.predictions)
    assert flipped[["text", "kind"]].values.tolist() == [
        ["text 1", "wrong → right"],
        ["text 2", "right → wrong"],
        ["text 6", "right → wrong"],
        ["text 7", "wrong → right"],
    ]
    assert flipped.loc[1, "predicted_a"] == "card" and flipped.loc[1, "predicted_b"] == "refund"
    assert flip_counts(flipped) == {"right → wrong": 2, "wrong → right": 2}
    assert flips(a.predictions, a.predictions).empty


def test_flips_refuse_runs_tested_on_different_examples(tmp_path):
    a = load_evaluation(write_run(tmp_path, "a", TEXTS, TRUTH, TRUTH, NAMES))
    b = load_evaluation(write_run(tmp_path, "b", [t + "!" for t in TEXTS], TRUTH, TRUTH, NAMES))
    with pytest.raises(AdaptError, match="different examples"):
        flips(a.predictions, b.predictions)


def test_new_tokens_come_from_tokens_json_less_the_skipped(tmp_path):
    run = write_run(tmp_path, "a", TEXTS, TRUTH, TRUTH, NAMES, tokens=("top up", "card arrival", "pin"))
    assert run_new_tokens(run) == ["top up", "card arrival", "pin"]
    record = json.loads((run / "tokens.json").read_text())
    record["augment"]["skipped"] = ["pin"]  # a single piece: augmentation skips it, so it is no new token
    (run / "tokens.json").write_text(json.dumps(record))
    assert run_new_tokens(run) == ["top up", "card arrival"]
    assert run_new_tokens(write_run(tmp_path, "b", TEXTS, TRUTH, TRUTH, NAMES)) == []


def test_new_token_spans_are_where_the_runs_tokenizer_puts_new_tokens(minilm_tokenizer):
    """The augmented (lower-casing) tokenizer decides: any case matches, a word that merely contains the token does
    not, and the leading space an added token absorbs is not part of its span."""
    from adapt_core.tokens import augmented_tokenizer

    tokenizer = augmented_tokenizer(minilm_tokenizer, ["top up", "card arrival"])
    texts = ["Please TOP UP my card; topup? then top up", "no new token here", ""]
    spans = new_token_spans(texts, tokenizer)
    assert [[texts[0][a:b] for a, b in row] for row in spans] == [["TOP UP", "top up"], [], []]
    assert new_token_spans(texts, minilm_tokenizer) == [[], [], []]  # a tokenizer without new tokens


def test_mark_spans_cut_the_text_and_skip_spans_that_do_not_fit():
    text = "top up my card"
    assert mark_spans(text, [[0, 6], [10, 14]]) == [("top up", True), (" my ", False), ("card", True)]
    assert mark_spans(text, [[0, 6], [3, 8], [12, 40]]) == [("top up", True), (" my card", False)]
    assert mark_spans(text, []) == [(text, False)] and mark_spans("", []) == [("", False)]


def test_a_tiny_run_writes_its_test_predictions(tmp_path):
    """Through the CLI, as the studio's child process does, with a vetted new token: predictions.json holds every
    test example once, with the label names, agrees with evaluation.json's confusion matrix, and marks the new token
    wherever the run's tokenizer used it."""
    from test_pipeline import toy_csv

    from adapt_core.cli import main
    from adapt_core.data import DataConfig, load_dataset
    from adapt_core.vetting import VettedCandidate, VettedList

    vetted = VettedList([VettedCandidate("alpha sample", decision="accepted")]).save(tmp_path / "vetted.json")
    run = tmp_path / "run"
    args = ["train", "--dataset", toy_csv(tmp_path), "--model", "tiny-bert", "--max-steps", "2", "--batch-size", "8"]
    assert main([*args, "--method", "full+tokens", "--tokens", str(vetted), "--quiet", "--run-dir", str(run)]) == 0
    ev = load_evaluation(run)
    test = load_dataset(toy_csv(tmp_path), DataConfig())["test"]
    assert list(ev.predictions["text"]) == test.texts
    assert list(ev.predictions["true"]) == [ev.label_names[y] for y in test.labels]
    assert ev.predictions["probability"].between(1 / len(ev.label_names), 1).all()
    assert int(ev.predictions["correct"].sum()) == int(np.trace(ev.confusion))
    assert run_new_tokens(run) == ["alpha sample"]
    for text, spans in zip(ev.predictions["text"], ev.predictions["new_tokens"], strict=True):
        assert [text[a:b] for a, b in spans] == (["alpha sample"] if "alpha sample" in text else [])
