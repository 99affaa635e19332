"""The demo mode (adapt_core/demo.py): the whole pipeline in a background process, stage by stage, leaving two
ordinary run folders; the AdaPT run trains exactly the tokens and the measurement the demo showed.

The demo runs on a tiny slice with tiny-bert and the tiny Llama as PPLu scorer (`$ADAPT_DEMO`), so it takes
seconds; the MiniLM figure (≤ 3 minutes) is measured by benchmarks/demo_time.py.
"""

from __future__ import annotations

import json
import time

import pytest
from conftest import needs_shared_data

from adapt_core import demo
from adapt_core.errors import AdaptError
from adapt_core.run_management import read_labels
from adapt_core.run_reader import list_runs, load_run
from adapt_core.vetting import VettedList, load_vetted

TINY = {"model": "tiny-bert", "scorer": "tiny-llama", "max_train": 300, "max_eval": 40, "max_steps": 6}
TINY |= {"eval_every": 3, "batch_size": 8, "top_k": 20.0}


@pytest.fixture
def tiny_demo(monkeypatch, runs_dir):
    monkeypatch.setenv("ADAPT_DEMO", json.dumps(TINY))
    return runs_dir


def wait_done(folder, timeout: float = 400.0) -> dict:
    end = time.time() + timeout
    while (progress := demo.read(folder)).get("state") == "running":
        assert time.time() < end, f"the demo did not finish: {progress}"
        time.sleep(1.0)
    return progress


def test_config_from_env(monkeypatch):
    monkeypatch.delenv("ADAPT_DEMO", raising=False)
    assert demo.DemoConfig.from_env() == demo.DEFAULT and demo.DEFAULT.model == "minilm-l6"
    monkeypatch.setenv("ADAPT_DEMO", '{"max_steps": 7, "unknown": 1}')
    assert demo.DemoConfig.from_env().max_steps == 7
    monkeypatch.setenv("ADAPT_DEMO", "[1, 2")
    with pytest.raises(AdaptError, match="ADAPT_DEMO is not a JSON object"):
        demo.DemoConfig.from_env()


def test_a_dead_demo_reads_interrupted(tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / demo.PROGRESS).write_text(json.dumps({"state": "running", "pid": 999_999_999, "stages": {}}))
    assert demo.read(folder)["state"] == "interrupted"


@needs_shared_data
def test_demo_runs_every_stage_and_trains_what_it_showed(tiny_demo):
    root = tiny_demo
    folder = demo.start()
    with pytest.raises(AdaptError, match="a demo is running already"):
        demo.start()
    progress = wait_done(folder)
    assert progress["state"] == "completed", progress.get("traceback") or progress
    stages = progress["stages"]
    assert list(stages) == list(demo.STAGES) and all(s["state"] == "done" for s in stages.values())
    assert "300 train" in stages["data"]["detail"] and "77 classes" in stages["data"]["detail"]
    vetted = load_vetted(folder / "vetted.json")
    accepted = vetted.accepted()
    assert f"{len(vetted)} word-bounded candidates" in stages["mine"]["detail"]
    assert stages["vet"]["detail"].startswith(f"{len(accepted)} of {len(vetted)} accepted")
    # two ordinary run folders, tagged demo, listed like any other run
    runs = {r.config["method"]: r for r in list_runs(root)}
    assert set(runs) == {"adapt", "full"} and all(r.state == "completed" for r in runs.values())
    assert all(read_labels(r.dir)["tags"] == ["demo"] for r in runs.values())
    assert f"test macro-F1 {runs['full'].report['test']['macro_f1']:.3f}" == stages["full"]["detail"]
    # what the demo showed is what AdaPT trained: its tokens and the selected modules
    adapt = runs["adapt"]
    used = json.loads((adapt.dir / "tokens.json").read_text())
    assert sorted(VettedList.from_dict(used["candidates"]).accepted()) == sorted(accepted)
    assert adapt.report["tokens"]["added"] == len(accepted)
    selection = json.loads((adapt.dir / "selection.json").read_text())
    assert selection["sensitivity_source"] == "given"
    assert stages["sensitivity"]["detail"].startswith(f"{len(selection['trainable_modules'])} of ")
    assert load_run(runs["adapt"].dir).report["trainable_params"] < runs["full"].report["trainable_params"]


@needs_shared_data
def test_cancel_stops_the_demo_and_its_runs_which_stay(monkeypatch, runs_dir):
    monkeypatch.setenv("ADAPT_DEMO", json.dumps(TINY | {"max_steps": 5000}))  # long enough to cancel in training
    folder = demo.start()
    end = time.time() + 300
    while len((progress := demo.read(folder)).get("runs", {})) < 2:
        assert progress["state"] == "running" and time.time() < end, f"the demo never reached training: {progress}"
        time.sleep(0.5)
    assert demo.cancel(folder) == "cancelled"
    progress = wait_done(folder, timeout=120)
    assert progress["state"] == "cancelled", progress
    for run_dir in progress["runs"].values():  # the runs stay, cancelled, not running on without the demo
        end = time.time() + 60
        while load_run(run_dir).state in ("running", "queued"):
            assert time.time() < end, f"{run_dir} still runs after the demo was cancelled"
            time.sleep(0.5)
        assert load_run(run_dir).state == "cancelled"
    assert demo.cancel(folder) == "cancelled" and not demo.is_running()  # a second press changes nothing
