"""The studio's launcher without Streamlit: runs start as child processes that write their run folders, wait in a
queue one at a time, cancel cleanly (queued or running), and a child that dies without a word is recorded."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from dataclasses import replace

import pytest

from adapt_core import launcher
from adapt_core.data import DataConfig
from adapt_core.errors import AdaptError
from adapt_core.pipeline import RunConfig
from adapt_core.run_reader import list_runs, load_run
from adapt_core.train import TrainConfig


@pytest.fixture
def corpus(tmp_path):
    rows = "".join(f"my card {i} was lost,card\nthe transfer {i} failed,transfer\n" for i in range(30))
    path = tmp_path / "tickets.csv"
    path.write_text("text,label\n" + rows)
    return path


def config(corpus, max_steps: int = 2, method: str = "full") -> RunConfig:
    return RunConfig(
        dataset=str(corpus),
        model="tiny-bert",
        data=DataConfig(),
        method=method,
        train=TrainConfig(max_steps=max_steps, batch_size=8, device="cpu", eval_every=1),
    )


def wait_for(predicate, timeout: float = 240.0):
    end = time.time() + timeout
    while time.time() < end:
        launcher.queue_tick()  # what the Train page's polling fragment does
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out; runs: {[(r.id, r.status) for r in list_runs()]}")


def state(run_dir) -> str:
    return load_run(run_dir).state


def test_launch_runs_a_child_process_into_its_folder(runs_dir, corpus):
    run_dir = launcher.launch(config(corpus))
    assert run_dir.parent == runs_dir.resolve()
    assert load_run(run_dir).config["model"] == "tiny-bert"
    assert state(run_dir) == "running" and load_run(run_dir).status["pid"] != os.getpid()
    wait_for(lambda: state(run_dir) in launcher.TERMINAL)
    info = load_run(run_dir)
    assert info.state == "completed", (info.status, (run_dir / launcher.LOG_NAME).read_text()[-2000:])
    assert len(info.metrics()) == 2 and "dev_macro_f1" in info.metrics()
    assert (run_dir / "model").is_dir() and info.report["test"]["macro_f1"] >= 0.0
    assert launcher.describe(info) == "completed: step 2/2 (100 %)"


def test_runs_queue_one_at_a_time_and_a_queued_run_cancels_at_once(runs_dir, corpus):
    first = launcher.launch(config(corpus, max_steps=3))
    second = launcher.launch(config(corpus, max_steps=2))
    third = launcher.launch(config(corpus, max_steps=2))
    assert [state(first), state(second), state(third)] == ["running", "queued", "queued"]
    assert [r.dir for r in launcher.queued()] == [second, third]  # oldest first
    assert "queued" in launcher.describe(load_run(second))
    assert launcher.cancel(third) == "cancelled" and state(third) == "cancelled"
    wait_for(lambda: state(second) == "completed")
    assert state(first) == "completed" and state(third) == "cancelled"
    assert load_run(second).status["started"] >= load_run(first).status["updated"] - 1.0  # it waited its turn


def test_cancelling_a_running_run_records_cancelled_with_its_metrics(runs_dir, corpus):
    run_dir = launcher.launch(config(corpus, max_steps=100_000))
    wait_for(lambda: len(load_run(run_dir).metrics()) >= 2)
    assert launcher.cancel(run_dir) == "cancelling"
    wait_for(lambda: state(run_dir) == "cancelled")
    assert len(load_run(run_dir).metrics()) >= 2  # nothing lost
    assert launcher.cancel(run_dir) == "cancelled"  # a second cancel changes nothing


def test_a_child_killed_without_a_word_is_marked_interrupted(runs_dir, corpus):
    run_dir = launcher.launch(config(corpus, max_steps=100_000))
    wait_for(lambda: len(load_run(run_dir).metrics()) >= 1)
    os.kill(load_run(run_dir).status["pid"], signal.SIGKILL)
    wait_for(lambda: state(run_dir) == "interrupted")
    assert json.loads((run_dir / "status.json").read_text())["state"] == "interrupted"  # on disk, not only read so


def test_a_run_cancelled_before_it_could_record_it_reads_cancelled(runs_dir, corpus):
    """A child that dies of the SIGTERM while still starting up (no handler yet) is cancelled, not interrupted."""
    import subprocess

    from adapt_core.run_status import process_start

    run_dir = launcher.launch(config(corpus), start=False)
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)  # stands in for a child still importing
    status = {"state": "running", "step": 0, "pid": child.pid, "pid_start": process_start(child.pid)}
    (run_dir / "status.json").write_text(json.dumps({**status, "updated": time.time()}))
    assert launcher.cancel(run_dir) == "cancelling"
    assert child.wait(timeout=10) == -signal.SIGTERM
    assert [r.state for r in list_runs()] == ["cancelled"]
    assert json.loads((run_dir / "status.json").read_text())["state"] == "cancelled"  # settled on disk


def run_folders(runs_dir) -> list:
    """Every folder under the runs root but the studio's own (.studio): any run folder, status or not."""
    if not runs_dir.exists():
        return []
    return [p for p in runs_dir.rglob("*") if p.is_dir() and ".studio" not in p.relative_to(runs_dir).parts]


def test_a_missing_file_is_refused_before_a_run_folder_exists(runs_dir, tmp_path):
    with pytest.raises(AdaptError, match=r"^file not found: .*missing.csv, given as the dataset"):
        launcher.launch(config(tmp_path / "missing.csv"))
    assert run_folders(runs_dir) == []  # not even an empty folder (list_runs skips folders without a status)


@pytest.mark.parametrize("model", ["./models/my-bert", "/no/such/folder", "owner/name/extra"])
def test_a_model_that_is_no_folder_name_or_hub_id_is_refused_before_a_run_folder_exists(runs_dir, corpus, model):
    with pytest.raises(AdaptError, match=rf"^model '{re.escape(model)}': no such folder, and not a registry name"):
        launcher.launch(replace(config(corpus), model=model))
    assert run_folders(runs_dir) == []


def test_bad_input_fails_the_run_with_a_message(runs_dir, tmp_path):
    one_class = tmp_path / "one_class.csv"
    one_class.write_text("text,label\n" + "\n".join(f"text {i},a" for i in range(10)))
    run_dir = launcher.launch(config(one_class))
    wait_for(lambda: state(run_dir) in launcher.TERMINAL)
    info = load_run(run_dir)
    assert info.state == "failed" and "single class" in info.status["error"]
    assert "failed" in launcher.describe(info) and "single class" in launcher.describe(info)


def test_a_vetted_token_file_is_copied_into_the_run(runs_dir, corpus, tmp_path):
    tokens = tmp_path / "vetted.json"
    tokens.write_text('["my card"]')
    run_dir = launcher.launch(replace(config(corpus, method="full+tokens"), tokens=str(tokens)), start=False)
    assert load_run(run_dir).config["tokens"] == str(run_dir / "vetted.json")
    assert (run_dir / "vetted.json").read_text() == '["my card"]'
    launcher.cancel(run_dir)


def test_a_missing_token_file_is_a_clear_error(runs_dir, corpus, tmp_path):
    from adapt_core.errors import AdaptError

    bad = replace(config(corpus, method="full+tokens"), tokens=str(tmp_path / "nope.json"))
    with pytest.raises(AdaptError, match="Tokens page"):
        launcher.launch(bad)
    assert run_folders(runs_dir) == []  # refused before a folder was made


def test_concurrent_ticks_start_a_queued_run_once(runs_dir, corpus, monkeypatch):
    started = []
    monkeypatch.setattr(
        launcher,
        "_start",
        lambda run_dir: started.append(run_dir) or launcher._update_status(run_dir, state="running", pid=os.getpid()),
    )
    launcher.launch(config(corpus), start=False)
    threads = [threading.Thread(target=launcher.queue_tick) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(started) == 1


@pytest.mark.skipif(not hasattr(os, "getpriority"), reason="POSIX process priorities")
def test_the_training_child_runs_at_a_lower_cpu_priority_than_the_app(runs_dir, corpus):
    """The studio stays responsive while a run trains on the same cores: the child is niced below the app."""
    run_dir = launcher.launch(config(corpus, max_steps=50))
    pid = int(load_run(run_dir).status["pid"])
    try:
        assert os.getpriority(os.PRIO_PROCESS, pid) >= os.getpriority(os.PRIO_PROCESS, 0) + launcher.CHILD_NICENESS
    finally:
        launcher.cancel(run_dir)
        wait_for(lambda: state(run_dir) in launcher.TERMINAL)
