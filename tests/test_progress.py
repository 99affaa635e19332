"""progress.py and the progress a run reports: callbacks on the clock (a fake one here), batches that shrink when
slow, and an ETA that counts training steps only, never setup or evaluation."""

from __future__ import annotations

import json

from adapt_core.progress import Throttled, timed_chunks
from adapt_core.run_writer import RunWriter


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttled_passes_first_last_and_one_call_per_interval():
    clock, calls = FakeClock(), []
    report = Throttled(lambda d, t: calls.append(d), seconds=2.0, clock=clock)
    for done in range(10):  # ten calls 0.5 s apart: 0 s, 2 s, 4 s pass, and the last one
        report(done, 10)
        clock.now += 0.5
    report(10, 10)
    assert calls == [0, 4, 8, 10]


def test_timed_chunks_shrink_when_a_chunk_is_slow():
    clock, sizes = FakeClock(), []
    for chunk in timed_chunks(100, 64, target=1.0, clock=clock):
        sizes.append(chunk.stop - chunk.start)
        clock.now += 0.25 * (chunk.stop - chunk.start)  # 0.25 s per item: 64 items would take 16 s
    assert sum(sizes) == 100 and sizes[0] == 64 and max(sizes[1:]) <= 4  # then about a second per chunk


def test_eta_counts_training_steps_only(tmp_path):
    clock = FakeClock()
    writer = RunWriter(tmp_path / "r", clock=clock)
    writer.phase("load")
    clock.now += 180  # three minutes of loading and measuring sensitivity
    writer.phase("train")
    clock.now += 1.0
    writer.progress(1, 40)
    status = json.loads((tmp_path / "r" / "status.json").read_text())
    assert status["eta_seconds"] == 39.0  # 1 s per step, not 181 s
    writer.eval_progress(0, 3)
    clock.now += 60  # a slow dev evaluation between steps
    writer.eval_progress(1, 3)
    status = json.loads((tmp_path / "r" / "status.json").read_text())
    assert (status["eval_done"], status["eval_total"]) == (1, 3)
    writer.eval_progress(3, 3)
    clock.now += 1.0
    writer.progress(2, 40)
    status = json.loads((tmp_path / "r" / "status.json").read_text())
    assert status["eta_seconds"] == 38.0 and status["eval_done"] is None
    assert [p["name"] for p in status["phases"]] == ["load", "train"]
    assert status["phases"][0]["ended"] == status["phases"][1]["started"] == 1180.0


def test_scoring_reports_every_slow_batch(monkeypatch):
    """A PPLu batch that takes long makes the next ones smaller, so the bar moves often (not once per 64)."""
    from adapt_core import perplexity, progress

    clock = FakeClock()
    monkeypatch.setattr(progress, "CLOCK", clock)
    rows, seen = [[1, 2, 3]] * 40, []
    for idx, _ids, _mask in perplexity._batches(rows, 16, 0):
        seen.append(len(idx))
        clock.now += 0.5 * len(idx)  # half a second per row
    assert sum(seen) == 40 and seen[0] == 16 and max(seen[1:]) <= 2
