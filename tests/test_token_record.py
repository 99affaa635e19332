"""token_record.py: what a run does with its new tokens, on tiny corpora written here (`helpers_toy.planted`).

A vetted token that never occurs is dropped with its reason, the added tokens' fires are counted per split and
saved, a list with no accepted token is refused, and a run without a list applies the policy to its own tokenizer.
"""

from __future__ import annotations

import json

import pytest
from helpers_toy import POLICY, planted

from adapt_core.errors import AdaptError
from adapt_core.token_record import run_tokens
from adapt_core.vetting import VettedList


def test_run_tokens_drops_a_token_that_never_fires_and_counts_fires(tmp_path):
    from adapt_core.models import load_classifier

    task = planted({0: ["routing number"], 1: ["card declined"]})
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(["routing number", "card declined", "zebra crossing"]))
    model, tokenizer = load_classifier("tiny-bert", 2, task.label_names, seed=0)
    record = run_tokens(model, tokenizer, task, "tiny-bert", vetted_path=str(path), policy=POLICY, seed=0)
    assert record.accepted == ["routing number", "card declined"]
    assert record.vetted.get("zebra crossing").reason == "does not fire: in 0 training texts after augmentation"
    assert record.augment["added"] == 2
    assert record.fires["train"]["routing number"] == (8, 8)
    assert record.fires["test"]["routing number"][0] > 0
    saved = record.to_dict()
    assert saved["fires"]["train"]["card declined"] == {"occurrences": 8, "texts": 8}
    assert record.summary()["firing"]["test"]["share_firing"] == 1.0
    empty = tmp_path / "none.json"
    VettedList().save(empty)
    with pytest.raises(AdaptError, match="no accepted token"):
        run_tokens(model, tokenizer, task, "tiny-bert", vetted_path=str(empty), policy=POLICY)


def test_run_tokens_without_a_list_applies_the_policy():
    from adapt_core.models import load_classifier

    task = planted({0: ["routing number"], 1: ["card declined"]})
    model, tokenizer = load_classifier("tiny-bert", 2, task.label_names, seed=0)
    record = run_tokens(model, tokenizer, task, "tiny-bert", vetted_path=None, policy=POLICY, seed=0)
    assert record.source == "policy:auto"
    assert set(record.accepted) == {"routing number", "card declined"} and record.augment["added"] == 2
    assert all(c.reason for c in record.vetted)
    assert len(tokenizer) == record.augment["offset"] + 2  # added to the run's own tokenizer, in place
    assert record.summary()["candidates"]["accepted"] == 2
