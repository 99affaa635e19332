"""The studio's working files: safe names, a vetted list per dataset and model, sensitivity reports keyed by what
they depend on, uploads kept by content hash."""

from __future__ import annotations

import pytest

from adapt_core import workspace
from adapt_core.errors import AdaptError
from adapt_core.selection import ModuleStat, SensitivityReport
from adapt_core.vetting import VettedCandidate, VettedList


def test_slugs_are_safe_file_names():
    assert workspace.slug("banking77") == "banking77"
    for text in ("/tmp/x/../my data.csv", "hf:org/name", "../../etc/passwd", "a" * 80):
        out = workspace.slug(text)
        assert "/" not in out and ".." not in out and len(out) <= 50
    assert workspace.slug("/a/data.csv") != workspace.slug("/b/data.csv")


def test_vetted_list_round_trip_under_the_runs_root(runs_dir):
    path = workspace.vetted_path("banking77", "minilm-l6")
    assert path.parent == runs_dir / ".studio" and path.name == "vetted-banking77-minilm-l6.json"
    assert len(workspace.load_vetted_or_empty(path)) == 0
    VettedList([VettedCandidate("credit card", decision="accepted")]).save(path)
    assert workspace.load_vetted_or_empty(path).accepted() == ["credit card"]


def test_sensitivity_reports_are_keyed_by_their_inputs(runs_dir):
    key = workspace.sensitivity_key("banking77", {"max_train": 10}, "tiny-bert", ["b", "a"], {"seed": 0})
    assert key == workspace.sensitivity_key("banking77", {"max_train": 10}, "tiny-bert", ["a", "b"], {"seed": 0})
    assert key != workspace.sensitivity_key("banking77", {"max_train": 10}, "tiny-bert", ["a"], {"seed": 0})
    path = workspace.sensitivity_path(key)
    assert workspace.load_report(path) is None
    report = SensitivityReport([ModuleStat("l.0.q", 0, "q", 10, 1.0, 2.0, ("l.0.q",))], 100)
    workspace.save_report(report, path)
    assert workspace.load_report(path).to_dict() == report.to_dict()
    path.write_text("{broken")
    assert workspace.load_report(path) is None  # unreadable: measure again, no crash


def test_uploads_are_kept_by_content_and_checked(runs_dir):
    first = workspace.save_upload("my data.csv", b"text,label\na,b\n")
    assert first.read_bytes() == b"text,label\na,b\n" and first.suffix == ".csv"
    assert workspace.save_upload("my data.csv", b"text,label\na,b\n") == first  # the same upload, the same file
    assert workspace.save_upload("my data.csv", b"text,label\nc,d\n") != first
    with pytest.raises(AdaptError, match="unknown file type"):
        workspace.save_upload("evil.pkl", b"x")
    with pytest.raises(AdaptError, match="empty"):
        workspace.save_upload("empty.csv", b"")


def test_settings_are_set_once_and_kept(runs_dir):
    assert workspace.load_settings() == {}
    workspace.save_setting("reviewer", "Ana Ruiz")
    workspace.save_setting("other", 3)
    assert workspace.load_settings() == {"reviewer": "Ana Ruiz", "other": 3}
    assert workspace.save_setting("other", None) == {"reviewer": "Ana Ruiz"}
    workspace.settings_path().write_text("{broken")  # a damaged file: the settings are simply set again
    assert workspace.load_settings() == {}


def test_one_uploaded_file_read_with_two_label_columns_keeps_two_vetted_lists(tmp_path):
    from adapt_core.workspace import vetted_path

    upload = str(tmp_path / "uploads" / "abc" / "data.csv")
    topic = vetted_path(upload, "minilm-l6", tmp_path, columns=("text", "topic"))
    sentiment = vetted_path(upload, "minilm-l6", tmp_path, columns=("text", "sentiment"))
    assert topic != sentiment and topic.parent == sentiment.parent
    assert vetted_path("banking77", "minilm-l6", tmp_path).name == "vetted-banking77-minilm-l6.json"  # as before
