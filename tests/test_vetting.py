"""Vetting: decisions one by one and in bulk, JSON/CSV/TXT round trips, malformed files, merging re-mined lists, and
the candidate pipeline (tiny models, a corpus written here)."""

from __future__ import annotations

import json
import random

import pytest

from adapt_core.candidates import find_candidates
from adapt_core.data import Split, TaskData
from adapt_core.errors import AdaptError
from adapt_core.mining import MiningConfig
from adapt_core.perplexity import PerplexityConfig
from adapt_core.vetting import VettedCandidate, VettedList, load_vetted, merge_decisions


def sample() -> VettedList:
    rows = [
        VettedCandidate("credit card", (4923, 4003), 40, (38, 2), 0.95, 0.31, 2.5, examples=("my credit card",)),
        VettedCandidate("interest rate", (3037, 3446), 25, (5, 20), 0.8, 0.12, 0.7),
        VettedCandidate("top up", (2327, 2039), 8, (4, 4), 0.5, 0.0, 12.0),
        VettedCandidate("my card", (2026, 4003), 3, (2, 1), 0.67, 0.01, None),
    ]
    return VettedList(rows, ["fraud", "loans"])


def test_decisions_one_by_one_and_in_bulk():
    v = sample()
    assert v.counts() == {"pending": 4, "accepted": 0, "rejected": 0}
    assert v.decide("credit card", "accepted") == 1
    assert v.decide_where("rejected", max_support=8, reason="too rare") == 2
    assert v.get("top up").reason == "too rare"
    assert v.where(min_purity=0.7, state="pending") == ["interest rate"]
    assert v.where(lambda c: c.pplu is not None and c.pplu < 1) == ["interest rate"]
    assert v.where(max_pplu=100) == ["credit card", "interest rate", "top up"]  # unscored never matches
    assert v.where(contains="CARD") == ["credit card", "my card"]
    v.decide_where("accepted", state="pending")
    assert v.accepted() == ["credit card", "interest rate"]
    v.add("savings account")
    assert v.accepted()[-1] == "savings account"
    with pytest.raises(AdaptError, match="not a candidate"):
        v.decide("debit card", "accepted")
    with pytest.raises(AdaptError, match="decision must be"):
        v.decide("top up", "maybe")


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_round_trip(tmp_path, suffix):
    v = sample()
    v.decide("credit card", "accepted", reason="a product, says the analyst")
    v.decide("my card", "rejected", reason='generic, "too common"')
    path = v.save(tmp_path / f"vetted{suffix}")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    loaded = load_vetted(path)
    assert loaded.to_dict() == v.to_dict()
    assert loaded.accepted() == ["credit card"]


def test_csv_has_per_class_columns(tmp_path):
    path = sample().save(tmp_path / "v.csv")
    header = path.read_text().splitlines()[0].split(",")
    assert {"text", "decision", "support", "purity", "mutual_info", "pplu", "ids", "support:fraud"} <= set(header)


def test_hand_made_lists_are_all_accepted(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(["credit card", "interest rate"]))
    assert load_vetted(tmp_path / "a.json").accepted() == ["credit card", "interest rate"]
    (tmp_path / "b.csv").write_text("text\ncredit card\ntop up\n")
    assert load_vetted(tmp_path / "b.csv").accepted() == ["credit card", "top up"]
    (tmp_path / "c.txt").write_text("# my tokens\ncredit card\n\ntop up\ncredit card\n")
    assert load_vetted(tmp_path / "c.txt").accepted() == ["credit card", "top up"]


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.csv", "token,decision\ncredit card,accepted\n", "no 'text' column"),
        ("b.csv", "text,decision\ncredit card,accepted\ntop up,yes\n", "line 3.*'yes' is not one of"),
        ("c.csv", "text,support\ncredit card,many\n", "line 2.*malformed"),
        ("d.json", '{"candidates": [{"text": "a b", "decision": "ok"}]}', "entry 1.*decision must be"),
        ("e.json", "{not json", "not valid JSON"),
        ("f.json", '{"label_names": []}', "'candidates' list"),
        ("g.json", "[1, 2]", "entry 1 is neither"),
        ("h.json", '"credit card"', "must hold a JSON object"),
        ("i.json", '["credit card", "credit  card"]', "appears twice"),
        ("j.yaml", "- credit card", ".json, .csv or .txt"),
    ],
)
def test_malformed_files(tmp_path, name, content, message):
    (tmp_path / name).write_text(content)
    with pytest.raises(AdaptError, match=message):
        load_vetted(tmp_path / name)


def test_missing_file_and_bad_suffix(tmp_path):
    with pytest.raises(AdaptError, match="not found"):
        load_vetted(tmp_path / "none.json")
    with pytest.raises(AdaptError, match=".json or .csv"):
        sample().save(tmp_path / "v.xlsx")


def test_remining_keeps_earlier_decisions():
    old = sample()
    old.decide("credit card", "accepted", reason="product")
    old.decide("my card", "rejected")
    remined = VettedList(
        [
            VettedCandidate("interest rate", support=30),
            VettedCandidate("credit card", support=44),
            VettedCandidate("debit card", support=9),
        ],
        ["fraud", "loans"],
    )
    merged = merge_decisions(old, remined)
    assert [c.text for c in merged] == ["interest rate", "credit card", "debit card", "my card"]
    assert merged.get("credit card").decision == "accepted" and merged.get("credit card").support == 44
    assert merged.get("my card").decision == "rejected"  # decided but not found again: kept
    assert merged.get("top up") is None  # pending and not found again: dropped
    assert remined.get("credit card").decision == "pending"  # inputs are not changed


# ------------------------------------------------------------------------------------------ candidate pipeline


def corpus(n: int = 60) -> TaskData:
    rng = random.Random(0)
    filler = ["please", "check", "the", "status", "of", "my", "order", "today", "and", "tell", "me", "why"]
    texts, labels = [], []
    for i in range(n):
        words = rng.sample(filler, 5)
        words.insert(rng.randint(0, 5), "credit card" if i % 2 == 0 else "mortgage interest rate")
        texts.append(" ".join(words))
        labels.append(i % 2)
    return TaskData("toy", ["cards", "loans"], {"train": Split(texts, labels)})


def test_find_candidates_without_scoring():
    v = find_candidates(corpus(), "tiny-bert", MiningConfig(min_support=10), None)
    top = v.get("credit card")
    assert top is not None and top.decision == "pending" and top.pplu is None
    assert top.support == 30 and top.class_support == (30, 0) and top.purity == 1.0 and top.mutual_info > 0.5
    assert v.label_names == ["cards", "loans"]
    assert all(" " in c.text or len(c.ids) > 1 for c in v)


def test_find_candidates_with_pplu_keeps_lowest_first():
    config = PerplexityConfig(scorer="tiny-llama", use_cache=False, max_new_tokens=2)
    seen = []
    v = find_candidates(
        corpus(), "tiny-bert", MiningConfig(min_support=10), config, progress=lambda d, n: seen.append((d, n))
    )
    assert len(v) == 2 and v.candidates[0].pplu <= v.candidates[1].pplu
    assert seen and seen[-1][0] == seen[-1][1]


def test_find_candidates_errors():
    with pytest.raises(AdaptError, match="lower min_support"):
        find_candidates(corpus(), "tiny-bert", MiningConfig(min_support=61), None)
    with pytest.raises(AdaptError, match="relax"):
        find_candidates(
            corpus(),
            "tiny-bert",
            MiningConfig(min_support=10),
            PerplexityConfig(scorer="tiny-llama", use_cache=False, threshold=1e-9),
        )
    empty = TaskData("empty", ["a", "b"], {"train": Split([], [])})
    with pytest.raises(AdaptError, match="empty"):
        find_candidates(empty, "tiny-bert", MiningConfig(), None)
    with pytest.raises(AdaptError, match="max_len"):
        MiningConfig(min_len=4, max_len=3)


def corpus_file(path):
    """The corpus's train split as a JSONL file (text, label) for the command line."""
    task = corpus()
    rows = zip(task["train"].texts, task["train"].labels, strict=True)
    path.write_text("".join(json.dumps({"text": t, "label": task.label_names[y]}) + "\n" for t, y in rows))
    return path


def test_mine_command_dataset_form(tmp_path, capsys):
    from adapt_core.cli import main

    data = corpus_file(tmp_path / "toy.jsonl")
    out = tmp_path / "candidates.csv"
    common = ["mine", "--dataset", str(data), "--model", "tiny-bert", "--min-support", "10"]
    assert main(common + ["--scorer", "tiny-llama", "--max-new-tokens", "1", "--out", str(out)]) == 0
    vetted = load_vetted(out)
    assert len(vetted) == 1 and vetted.counts()["pending"] == 1
    assert all(c.pplu is not None and c.class_support for c in vetted)
    assert sorted(vetted.label_names) == ["cards", "loans"]
    capsys.readouterr()
    for args, said in (
        ([*common, "--scorer", "none", "--out", str(tmp_path / "c.jsonl")], "written as a .csv or .json vetted list"),
        ([*common, "--scorer", "none", "--threshold", "5", "--out", str(out)], "--threshold is a PPLu bound"),
        (["mine", "--sequences", str(data), "--model", "tiny-bert", "--out", str(out)], "--model goes with --dataset"),
    ):
        assert main(args) == 2
        assert said in capsys.readouterr().err


def test_mining_again_into_a_vetted_list_keeps_every_decision_in_it(tmp_path, capsys):
    from adapt_core.cli import main

    data = corpus_file(tmp_path / "toy.jsonl")
    out = tmp_path / "candidates.csv"
    common = ["mine", "--dataset", str(data), "--model", "tiny-bert", "--min-support", "10", "--scorer", "none"]
    assert main(common + ["--out", str(out)]) == 0
    vetted = load_vetted(out)
    first = vetted.candidates[0].text
    vetted.decide(first, "rejected", reason="too generic", by="Ana")
    vetted.save(out)
    assert main(common + ["--out", str(out)]) == 0  # mined again, as after changing a setting
    again = load_vetted(out)
    assert len(again) == len(vetted) and again.get(first).decision == "rejected"
    assert again.get(first).decided_by == "Ana" and "keeping the 1 decision already in it" in capsys.readouterr().out
    before = out.read_bytes()
    assert main(common + ["--accept", "auto", "--out", str(out)]) == 2  # the policy would decide over Ana's call
    assert "holds 1 decision, which the policy would replace" in capsys.readouterr().err
    assert main(common + ["--max-new-tokens", "0", "--out", str(out)]) == 2
    assert out.read_bytes() == before
    (tmp_path / "notes.csv").write_text("no text column here\n1\n")
    assert main(common + ["--out", str(tmp_path / "notes.csv")]) == 2  # not a list: not overwritten either
    assert (tmp_path / "notes.csv").read_text() == "no text column here\n1\n"
    sequences = tmp_path / "seq.txt"
    sequences.write_text("1 2 3\n1 2 3\n")
    assert main(["mine", "--sequences", str(sequences), "--scorer", "none", "--out", str(tmp_path / "p.jsonl")]) == 2
    assert "--scorer goes with --dataset" in capsys.readouterr().err


def test_each_decision_records_who_and_when_and_the_files_keep_it(tmp_path):
    v = sample()
    assert v.decide("credit card", "accepted", by="Ana") == 1
    assert v.decide("credit card", "accepted", by="Ben") == 0  # no change: Ana's call stays hers
    v.decide_where("rejected", max_support=8, reason="rare")  # from a script: no name, still a time
    card = v.get("credit card")
    assert card.decided_by == "Ana" and card.decided_at.endswith("+00:00")
    assert v.get("top up").decided_by is None and v.get("top up").decided_at is not None
    assert v.get("interest rate").decided_at is None  # never decided
    for suffix in (".json", ".csv"):
        loaded = load_vetted(v.save(tmp_path / f"vetted{suffix}"))
        assert loaded.get("credit card").decided_by == "Ana"
        assert loaded.get("credit card").decided_at == card.decided_at
    merged = merge_decisions(v, sample())  # re-mining keeps who and when
    assert merged.get("credit card").decided_by == "Ana"


def test_files_saved_before_who_and_when_still_load(tmp_path):
    old = {"version": 1, "label_names": ["a"], "candidates": [{"text": "credit card", "decision": "accepted"}]}
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "old.csv").write_text("text,decision,reason\ncredit card,accepted,\n")
    for name in ("old.json", "old.csv"):
        c = load_vetted(tmp_path / name).get("credit card")
        assert (c.decision, c.decided_by, c.decided_at) == ("accepted", None, None)


def test_a_hand_made_list_reads_its_decisions_whatever_their_case(tmp_path):
    path = tmp_path / "mine.csv"
    path.write_text("Text, Decision ,notes\ncard,rejected,too generic\ntop up,accepted,\n")
    vetted = load_vetted(path)  # an extra column (notes) is a spreadsheet's own and is ignored
    assert vetted.accepted() == ["top up"] and vetted.get("card").decision == "rejected"


@pytest.mark.parametrize(
    "name, content",
    [
        ("typo.csv", "text,decison\ncard,rejected\n"),
        ("typo.json", '[{"text": "card", "decison": "rejected"}]'),
        ("typo-saved.json", '{"candidates": [{"text": "card", "Decisions": "rejected"}]}'),
    ],
)
def test_a_misspelt_decision_field_is_refused_not_read_as_all_accepted(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(AdaptError, match="is not a vetted-list field: did you mean 'decision'"):
        load_vetted(path)


def test_an_import_applies_its_decisions_but_its_pending_rows_undo_nothing():
    """A colleague's export from yesterday: its pending rows must not reset what was accepted here since; its
    decisions apply, keep their author, and one without an author is stamped with the importer."""
    from adapt_core.vetting import import_decisions

    here = sample()
    here.decide("credit card", "accepted", by="Ana")
    export = sample()  # all pending but two
    export.decide("top up", "rejected", reason="generic", by="Ben")
    export.add("overdraft fee", "accepted")  # not a candidate here yet
    export.get("overdraft fee").decided_by = export.get("overdraft fee").decided_at = None  # a hand-made row
    merged, changed = import_decisions(here, export, "import of x.json")
    assert (merged.get("credit card").decision, merged.get("credit card").decided_by) == ("accepted", "Ana")
    assert (merged.get("top up").decision, merged.get("top up").decided_by) == ("rejected", "Ben")
    assert merged.get("overdraft fee").decided_by == "import of x.json" and merged.get("overdraft fee").decided_at
    assert changed == ["top up", "overdraft fee"] and len(merged) == 5
    into_empty, changed = import_decisions(VettedList(), export, None)  # nothing here yet: the file is the list
    assert len(into_empty) == 5 and into_empty.counts()["pending"] == 3 and len(changed) == 5
