"""run_reader.py: runs read back and listed; a running run whose process is gone reads as interrupted."""

from __future__ import annotations

from adapt_core.fileio import atomic_write_json
from adapt_core.run_reader import list_runs, load_run
from adapt_core.run_writer import RunWriter


def test_dead_running_run_reads_as_interrupted(tmp_path):
    (tmp_path / "r").mkdir()
    atomic_write_json(tmp_path / "r" / "status.json", {"state": "running", "pid": 999_999_999})
    assert load_run(tmp_path / "r").state == "interrupted"


def test_list_runs_newest_first(tmp_path):
    for name in ("20260101-000000-a", "20260102-000000-b"):
        RunWriter(tmp_path / name).set_status("completed")
    assert [r.id for r in list_runs(tmp_path)] == ["20260102-000000-b", "20260101-000000-a"]
