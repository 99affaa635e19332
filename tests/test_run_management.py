"""Managing run folders (adapt_core/run_management.py and `python -m adapt_core runs …`): trash and restore, tags
and notes, export as a zip whose model loads with plain transformers."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from adapt_core import run_management as manage
from adapt_core.cli import main
from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_json, exclusive_lock
from adapt_core.run_reader import list_runs, load_run


def make_run(root: Path, name: str, state: str = "completed", **status) -> Path:
    """A hand-made run folder with a config, a status, a report and one metrics line."""
    run = root / name
    run.mkdir(parents=True)
    atomic_write_json(run / "config.json", {"dataset": "toy.csv", "model": "tiny-bert", "method": "full"})
    atomic_write_json(run / "status.json", {"state": state, "step": 3, "total": 3, **status})
    atomic_write_json(run / "report.json", {"test": {"macro_f1": 0.5}})
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 0.7}\n')
    return run


def test_delete_moves_to_trash_and_restore_brings_it_back(tmp_path):
    root = tmp_path / "runs"
    run = make_run(root, "r1")
    files = sorted(p.relative_to(run) for p in run.rglob("*"))
    moved = manage.trash_run(run)
    assert not run.exists() and moved == root / ".trash" / "r1"
    assert [r.id for r in list_runs(root)] == [] and [r.id for r in manage.list_trash(root)] == ["r1"]
    back = manage.restore_run("r1", root)
    assert back == run and [r.id for r in list_runs(root)] == ["r1"]
    assert sorted(p.relative_to(run) for p in run.rglob("*") if p.name != ".lock") == files
    assert manage.list_trash(root) == []


def test_restore_refuses_to_overwrite_and_keeps_both(tmp_path):
    root = tmp_path / "runs"
    manage.trash_run(make_run(root, "r1"))
    newer = make_run(root, "r1", note="the newer one")
    with pytest.raises(AdaptError, match="already exists: rename or delete"):
        manage.restore_run("r1", root)
    assert (root / ".trash" / "r1" / "status.json").exists() and load_run(newer).status["note"] == "the newer one"
    with pytest.raises(AdaptError, match="trash already holds a run named r1"):
        manage.trash_run(newer)  # a second delete of the same name is refused too: nothing is replaced
    with pytest.raises(AdaptError, match="holds no run nope"):
        manage.restore_run("nope", root)


@pytest.mark.parametrize("state", ["running", "queued"])
def test_a_running_or_queued_run_cannot_be_deleted(tmp_path, state):
    run = make_run(tmp_path / "runs", "r1", state=state, pid=os.getpid())  # our own pid: alive
    with pytest.raises(AdaptError, match=f"is {state}: cancel it") as err:
        manage.trash_run(run)
    assert "\n" not in str(err.value) and (run / "status.json").exists()


def test_a_run_whose_lock_is_held_cannot_be_deleted(tmp_path):
    run = make_run(tmp_path / "runs", "r1", state="completed")
    with exclusive_lock(run / ".lock"):  # a writer holds it (say, a run restarted with --overwrite)
        pid = os.fork()
        if pid == 0:  # another process tries: flock is per open file, so it must be a second process
            try:
                manage.trash_run(run)
                os._exit(0)
            except AdaptError as err:
                os._exit(3 if "is running: cancel it" in str(err) else 1)
        _, code = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(code) == 3 and run.is_dir()


def test_a_failed_move_leaves_the_run_in_place(tmp_path, monkeypatch):
    run = make_run(tmp_path / "runs", "r1")

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(manage.os, "rename", crash)
    with pytest.raises(OSError):
        manage.trash_run(run)
    assert load_run(run).state == "completed" and not list((tmp_path / "runs" / ".trash").iterdir())


def test_empty_trash_removes_only_the_trash(tmp_path):
    root = tmp_path / "runs"
    manage.trash_run(make_run(root, "old"))
    keep = make_run(root, "keep")
    assert manage.empty_trash(root) == 1 and manage.list_trash(root) == [] and keep.is_dir()
    assert manage.empty_trash(root) == 0


def test_tags_and_note_are_stored_cleaned_and_filterable(tmp_path):
    root = tmp_path / "runs"
    a, b = make_run(root, "a"), make_run(root, "b")
    assert manage.set_tags(a, ["Baseline", " lecture 3 ", "baseline", ""]) == ["baseline", "lecture-3"]
    assert manage.set_note(a, "  the one to show  ") == "the one to show"
    assert manage.set_tags(a, ["baseline"]) == ["baseline"]  # replacing the tags keeps the note
    assert manage.read_labels(a) == {"tags": ["baseline"], "note": "the one to show"}
    assert manage.read_labels(b) == {"tags": [], "note": ""}
    assert [r.id for r in manage.with_tag(list_runs(root), "Baseline")] == ["a"]
    assert len(manage.with_tag(list_runs(root), None)) == 2
    assert not list(a.glob(".*.tmp"))
    manage.set_tags(a, ["baseline", "lecture 3"])
    from adapt_core.plots.runs_figures import run_table  # the Train and Compare lists show what the Runs page set

    table = run_table(list_runs(root)).set_index("run")
    assert table.loc["a", "tags"] == "baseline, lecture-3" and table.loc["b", "tags"] == ""


def test_a_damaged_labels_file_reads_empty_and_the_run_still_lists(tmp_path):
    run = make_run(tmp_path / "runs", "r1")
    (run / "labels.json").write_text('{"tags": ["a"')
    assert manage.read_labels(run) == {"tags": [], "note": ""}
    assert load_run(run).state == "completed"


def test_export_zips_the_folder_without_its_lock(tmp_path):
    run = make_run(tmp_path / "runs", "r1")
    (run / ".lock").write_text("")
    (run / "model").mkdir()
    (run / "model" / "config.json").write_text("{}")
    path = manage.export_zip(run)
    assert path == tmp_path / "runs" / ".exports" / "r1.zip"
    names = set(zipfile.ZipFile(path).namelist())
    assert {"r1/config.json", "r1/status.json", "r1/metrics.jsonl", "r1/model/config.json"} <= names
    assert "r1/.lock" not in names and [r.id for r in list_runs(tmp_path / "runs")] == ["r1"]
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    assert manage.export_zip(run, shelf) == shelf / "r1.zip" and (shelf / "r1.zip").is_file()  # a folder: in it
    with pytest.raises(AdaptError, match="is running: cancel it"):
        manage.export_zip(make_run(tmp_path / "runs", "live", state="running", pid=os.getpid()))


def test_loads_plainly_says_which_models_need_adapt_core(tmp_path):
    plain, prefix, empty = (make_run(tmp_path, n) for n in ("plain", "prefix", "empty"))
    for run in (plain, prefix):
        (run / "model").mkdir()
        (run / "model" / "config.json").write_text("{}")
    (prefix / "model" / "prefix_adapter").mkdir()
    assert [manage.loads_plainly(r) for r in (plain, prefix, empty)] == [True, False, False]


def test_exported_tiny_bert_run_loads_with_plain_transformers(tmp_path, runs_dir):
    """A real run (AdaPT, with new tokens): its exported model/ loads with AutoModel + AutoTokenizer and predicts
    what adapt_core's own loader predicts."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from adapt_core.methods_io import load_trained

    rows = ["text,label"] + [
        f"{'alpha beta' if i % 2 else 'omega psi'} sample {i % 7},{'ab'[i % 2]}" for i in range(60)
    ]
    (tmp_path / "toy.csv").write_text("\n".join(rows))
    run = runs_dir / "adapt-run"
    args = ["train", "--dataset", str(tmp_path / "toy.csv"), "--model", "tiny-bert", "--method", "adapt"]
    assert main([*args, "--max-steps", "3", "--batch-size", "8", "--run-dir", str(run), "--quiet"]) == 0
    assert manage.loads_plainly(run)
    with zipfile.ZipFile(manage.export_zip(run)) as archive:
        archive.extractall(tmp_path / "unzipped")
    folder = tmp_path / "unzipped" / "adapt-run" / "model"
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    ours, our_tokenizer = load_trained(run / "model")
    text = ["alpha beta sample 3", "omega psi sample 4"]
    assert tokenizer(text)["input_ids"] == our_tokenizer(text)["input_ids"]
    with torch.no_grad():
        plain = model(**tokenizer(text, return_tensors="pt", padding=True)).logits
        reference = ours(**our_tokenizer(text, return_tensors="pt", padding=True)).logits
    assert torch.allclose(plain, reference, atol=1e-5)


def test_cli_manages_runs(tmp_path, capsys):
    root = tmp_path / "runs"
    make_run(root, "r1")
    make_run(root, "r2")
    assert main(["runs", "tag", "r1", "Baseline", "--root", str(root)]) == 0
    assert main(["runs", "--root", str(root), "note", "r1", "first try"]) == 0
    capsys.readouterr()
    assert main(["runs", "--root", str(root), "list", "--tag", "baseline"]) == 0
    out = capsys.readouterr().out
    assert "r1" in out and "r2" not in out and "baseline" in out
    assert main(["runs", "delete", "r2", "--root", str(root)]) == 0
    assert "moved to the trash" in capsys.readouterr().out and not (root / "r2").exists()
    assert main(["runs", "trash", "--root", str(root)]) == 0 and "r2" in capsys.readouterr().out
    assert main(["runs", "restore", "r2", "--root", str(root)]) == 0 and (root / "r2").is_dir()
    assert main(["runs", "export", "r1", "--root", str(root), "--out", str(tmp_path / "r1.zip")]) == 0
    assert "needs adapt_core" in capsys.readouterr().out and zipfile.is_zipfile(tmp_path / "r1.zip")
    assert main(["runs", "delete", "r2", "--root", str(root)]) == 0
    assert main(["runs", "empty-trash", "--root", str(root)]) == 2
    assert "add --yes to confirm" in capsys.readouterr().err and (root / ".trash" / "r2").is_dir()
    assert main(["runs", "empty-trash", "--yes", "--root", str(root)]) == 0 and manage.list_trash(root) == []
    assert main(["runs", "delete", "nope", "--root", str(root)]) == 2
    assert "no run nope" in capsys.readouterr().err
