"""token_policy.py: the automatic acceptance policy, on tiny corpora written here (`helpers_toy.planted`).

Every accepted token fires (apostrophes, hyphens, accents; WordPiece and byte-level BPE), a class-specific phrase is
accepted and a generic one of equal support rejected as generic, nested fragments collapse to one token, and
`mine --accept auto` feeds `train --tokens` end to end.
"""

from __future__ import annotations

import json

import pytest
from helpers_toy import FILLERS, POLICY, planted

from adapt_core.candidate_stats import fire_counts
from adapt_core.data import Split, TaskData
from adapt_core.errors import AdaptError
from adapt_core.token_policy import TokenPolicy, auto_vet
from adapt_core.tokens import augmented_tokenizer


@pytest.mark.parametrize("name", ["minilm_tokenizer", "smollm2_tokenizer"])
def test_every_accepted_token_fires_apostrophe_hyphen_accent(name, request):
    tokenizer = request.getfixturevalue(name)
    task = planted({0: ["i'd like to"], 1: ["e-mail address"], 2: ["café latte"]})
    vetted = auto_vet(task, "minilm-l6", POLICY, tokenizer=tokenizer)
    accepted = vetted.accepted()
    # surface texts are the texts' own substrings, not decoded pieces ("i ' d like to")
    assert {"i'd like to", "e-mail address", "café latte"} <= set(accepted)
    fires = fire_counts(augmented_tokenizer(tokenizer, accepted), task["train"].texts, accepted, tokenizer)
    assert all(texts >= POLICY.min_support for _, texts in fires.values()), fires
    assert fires["i'd like to"] == (8, 8)


def test_class_specific_phrase_accepted_generic_phrase_rejected(minilm_tokenizer):
    texts, labels = [], []
    for i in range(40):
        label = i % 2
        parts = [FILLERS[i % 7], FILLERS[(i // 2 + 3) % 7]]
        if label == 0 and i < 20:
            parts.insert(1, "routing number")  # 10 texts, all of class 0
        if i % 4 in (0, 1) and i < 20:
            parts.append("please help")  # 10 texts, 5 of each class
        texts.append(" ".join(parts))
        labels.append(label)
    task = TaskData("planted", ["a", "b"], {"train": Split(texts, labels)})
    vetted = auto_vet(task, "minilm-l6", POLICY, tokenizer=minilm_tokenizer)
    specific, generic = vetted.get("routing number"), vetted.get("please help")
    assert specific.support == generic.support == 10
    assert specific.decision == "accepted" and specific.reason.startswith("policy auto")
    assert generic.decision == "rejected" and generic.reason.startswith("generic:")


def test_nested_fragments_collapse_to_one(minilm_tokenizer):
    task = planted({0: ["transfer my money"], 1: []}, copies=10)
    extra = ["transfer my rent today", "send my money now"]  # each fragment is a little more frequent alone
    task["train"].texts.extend(extra)
    task["train"].labels.extend([0, 0])
    vetted = auto_vet(task, "minilm-l6", POLICY, tokenizer=minilm_tokenizer)
    assert vetted.accepted() == ["transfer my money"]
    for fragment in ("transfer my", "my money"):
        assert vetted.get(fragment).reason == "merged into 'transfer my money' (a fragment of the same phrase)"


def test_policy_validates_its_fields():
    with pytest.raises(AdaptError, match="rank_by must be one of"):
        TokenPolicy(rank_by="support")
    with pytest.raises(AdaptError, match="pplu_keep must be one of"):
        TokenPolicy(pplu_keep="middle")
    with pytest.raises(AdaptError, match="min_specificity must be between 0 and 1"):
        TokenPolicy(min_specificity=2)
    with pytest.raises(AdaptError, match="pplu_quantile must be in"):
        TokenPolicy(pplu_quantile=0)


def test_mine_accept_auto_then_train_tokens(tmp_path):
    from adapt_core.cli import main
    from adapt_core.vetting import load_vetted

    task = planted({0: ["routing number"], 1: ["card declined"]})
    data = tmp_path / "planted.jsonl"
    data.write_text(
        "".join(
            json.dumps({"text": t, "label": task.label_names[y]}) + "\n"
            for t, y in zip(task["train"].texts, task["train"].labels, strict=True)
        )
    )
    out = tmp_path / "tokens.json"
    common = ["mine", "--dataset", str(data), "--model", "tiny-bert", "--min-support", "4", "--scorer", "none"]
    assert main(common + ["--accept", "auto", "--out", str(out)]) == 0
    vetted = load_vetted(out)
    assert set(vetted.accepted()) == {"routing number", "card declined"}
    assert all(c.reason for c in vetted)  # every candidate decided, with its reason
    run = tmp_path / "run"
    argv = ["train", "--dataset", str(data), "--model", "tiny-bert", "--method", "adapt", "--tokens", str(out)]
    assert main(argv + ["--max-steps", "2", "--batch-size", "8", "--run-dir", str(run), "--quiet"]) == 0
    report = json.loads((run / "report.json").read_text())
    assert report["tokens"]["added"] == 2


def test_mine_and_train_spell_a_policy_setting_alike():
    from adapt_core.cli import build_parser

    parser = build_parser()
    mine = ["mine", "--dataset", "banking77", "--accept", "auto", "--out", "tokens.json"]
    new = parser.parse_args(mine + ["--tokens-min-specificity", "0.7"])
    old = parser.parse_args(mine + ["--policy-min-specificity", "0.7"])  # the first spelling still works
    assert new.policy_min_specificity == old.policy_min_specificity == 0.7
    train = parser.parse_args(
        ["train", "--dataset", "banking77", "--method", "adapt", "--tokens-min-specificity", "0.7"]
    )
    assert float(train.tokens_min_specificity) == 0.7  # the same flag (train converts it with the method's config)
