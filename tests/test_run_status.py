"""run_status.py: a status as the pages show it (the phase, its progress, the timeline, the dev evaluation) and
whether the process it names is still the run's."""

from __future__ import annotations

import os

from adapt_core.run_status import eval_text, is_alive, phase_text, phase_timeline, process_start


def test_a_phase_reads_as_its_name_with_its_count_or_its_seconds():
    assert phase_text({}) is None and phase_text({"phase": "nap"}) is None
    assert phase_text({"phase": "score", "phase_done": 3, "phase_total": 10}) == "scoring candidates (PPLu) 3/10"
    assert phase_text({"phase": "train", "phase_started": 100.0}, now=112.0) == "training (12 s)"


def test_the_timeline_times_each_phase_and_marks_the_running_one():
    phases = [{"name": "load", "started": 0.0, "ended": 5.0}, {"name": "train", "started": 5.0}, {"name": "nap"}]
    running = {"state": "running", "updated": 50.0, "phases": phases}
    assert phase_timeline(running, now=20.0) == [("load", 5.0, False), ("train", 15.0, True)]
    # a run that ended without closing its last phase: it lasted until the status was last written
    assert phase_timeline({**running, "state": "completed"}, now=99.0)[-1] == ("train", 45.0, False)


def test_a_dev_evaluation_reads_as_its_batches_only_while_it_runs():
    assert eval_text({"eval_done": 2, "eval_total": 8}) == "evaluating on dev 2/8 batches"
    assert eval_text({"eval_done": None, "eval_total": None}) is None


def test_a_process_is_the_runs_only_with_the_recorded_start():
    me = os.getpid()
    assert is_alive({"pid": me, "pid_start": process_start(me)}) and is_alive({"pid": me})  # no start: pid alone
    assert not is_alive({"pid": me, "pid_start": "proc:0"})  # a reused pid: another process
    assert not is_alive({"pid": 999_999_999}) and not is_alive({}) and not is_alive({"pid": "1"})
