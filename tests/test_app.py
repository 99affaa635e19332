"""The studio under Streamlit's AppTest: every page renders on the default task without an exception, and the main
interactions work (a slider moves, mining runs on a small slice, candidates are accepted, a tiny-bert run is
launched as a child process and shows up in the run list).

Runs go to a temporary runs folder; the pages use a 200-example slice of the default dataset and the tiny-bert
model (set through session state, as the sidebar would), except the first test, which loads the real defaults.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import needs_shared_data
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
PAGES = [
    "app_pages/data.py",
    "app_pages/tokens.py",
    "app_pages/sensitivity.py",
    "app_pages/train.py",
    "app_pages/compare.py",
    "app_pages/playground.py",
    "app_pages/runs.py",
]
TIMEOUT = 300  # seconds per script run: the machines running the tests are small and shared

pytestmark = needs_shared_data


def make_app(**state) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["data_config"] = {"max_train": 200, "max_eval": 60}
    at.session_state["model"] = "tiny-bert"
    for key, value in state.items():
        at.session_state[key] = value
    return at.run()


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def click(at: AppTest, label: str) -> AppTest:
    button = next((b for b in at.button if b.label.startswith(label)), None)
    assert button is not None, f"no button {label!r} among {[b.label for b in at.button]}"
    return button.click().run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.fixture(autouse=True)
def isolated_runs(runs_dir):
    return runs_dir


def test_home_shows_the_default_dataset_and_model():
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    no_errors(at)
    headers = [h.value for h in at.subheader]
    assert "Dataset: banking77" in headers and "Model: minilm-l6" in headers
    assert metric(at, "Classes") == "77"
    assert len(at.get("page_link")) == 7  # the pipeline, one link per step (the Runs page is the seventh)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page):
    at = make_app()
    at.switch_page(page).run()
    no_errors(at)
    assert at.title[0].value == Path(page).stem.capitalize()


def test_sidebar_choices_survive_switching_pages():
    at = make_app()
    at.sidebar.slider(key="_w_beta").set_value(2.5).run()
    at.sidebar.slider(key="_w_top_k").set_value(20.0).run()
    for page in ("app_pages/data.py", "app_pages/train.py"):
        at.switch_page(page).run()
        assert at.sidebar.slider(key="_w_beta").value == 2.5
        assert at.sidebar.slider(key="_w_top_k").value == 20.0
        assert at.sidebar.selectbox(key="_w_model").value == "tiny-bert"


def test_data_page_rejects_a_malformed_upload_with_a_message():
    at = make_app()
    at.switch_page("app_pages/data.py").run()
    at.file_uploader[0].set_value(("broken.csv", b'text,label\n"an open quote,1\nx,2,3,4\n', "text/csv")).run()
    assert not at.exception
    assert any("broken.csv" in e.value for e in at.error), [e.value for e in at.error]


def test_data_page_uses_an_uploaded_corpus():
    rows = "".join(f"my card number {i} is lost,card\nthe transfer {i} failed,transfer\n" for i in range(20))
    at = make_app()
    at.switch_page("app_pages/data.py").run()
    at.file_uploader[0].set_value(("tickets.csv", ("text,label\n" + rows).encode(), "text/csv")).run()
    no_errors(at)
    click(at, "Use this corpus")
    no_errors(at)
    assert at.sidebar.selectbox(key="_w_dataset").value.endswith("tickets.csv")
    assert "Dataset: upload: tickets.csv" in [h.value for h in at.subheader]


def test_offline_hub_dataset_and_unknown_model_get_messages(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = make_app()
    at.switch_page("app_pages/data.py").run()
    at.text_input[0].set_value("no-such-user/no-such-dataset").run()
    click(at, "Load from the Hub")
    assert not at.exception
    assert any("no-such-dataset" in e.value for e in at.error), [e.value for e in at.error]
    home = make_app(model="no-such-user/no-such-model")  # typed into the sidebar's model box
    assert not home.exception
    assert any("cannot load model" in e.value for e in home.error), [e.value for e in home.error]


def mine(at: AppTest) -> AppTest:
    at.switch_page("app_pages/tokens.py").run()
    at.text_input(key="_w_form:pplu:scorer").set_value("tiny-llama").run()  # a tiny random scorer: fast
    return click(at, "Mine")


def test_mining_vetting_and_reload():
    at = mine(make_app())
    no_errors(at)
    found = int(metric(at, "Candidates"))
    assert found > 0 and metric(at, "Pending") == str(found)
    assert at.get("plotly_chart"), "the PPLu histogram is missing"
    # one by one: change the first row's decision in the table
    at.session_state["candidates_0"] = {
        "edited_rows": {0: {"decision": "rejected"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.run()
    assert metric(at, "Rejected") == "1"
    # in bulk over the current filter: the pending ones
    at.selectbox(key="_w_form:filter:state").set_value("pending").run()
    click(at, "Accept the")
    assert metric(at, "Accepted") == str(found - 1) and metric(at, "Rejected") == "1"
    assert any("new" in h.proto.body for h in at.get("html")), "no before/after tokenization"
    # a reload (a new session) finds every decision again
    again = make_app()
    again.switch_page("app_pages/tokens.py").run()
    assert metric(again, "Accepted") == str(found - 1) and metric(again, "Rejected") == "1"


def test_accept_by_policy_decides_every_candidate_with_a_reason():
    at = mine(make_app())
    found = int(metric(at, "Candidates"))
    click(at, "Decide all candidates")
    no_errors(at)
    assert metric(at, "Pending") == "0"
    assert int(metric(at, "Accepted")) + int(metric(at, "Rejected")) == found


def test_sensitivity_redraws_on_a_slider_without_measuring_again(monkeypatch):
    at = make_app()
    at.switch_page("app_pages/sensitivity.py").run()
    click(at, "Measure sensitivity")
    no_errors(at)
    shown = metric(at, "Trainable parameters")

    import adapt_core.sensitivity

    def no_measuring(*args, **kwargs):
        raise AssertionError("the report must be reused, not measured again")

    monkeypatch.setattr(adapt_core.sensitivity, "measure", no_measuring)
    at.sidebar.slider(key="_w_top_k").set_value(40.0).run()
    no_errors(at)
    assert metric(at, "Trainable parameters") != shown
    fresh = make_app(top_k=40.0)  # a reload reads the saved measurement
    fresh.switch_page("app_pages/sensitivity.py").run()
    no_errors(fresh)
    assert metric(fresh, "Trainable parameters") == metric(at, "Trainable parameters")


def wait_for(predicate, timeout: float = 240.0, every: float = 1.0):
    end = time.time() + timeout
    while time.time() < end:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


def test_launch_a_tiny_run_and_find_it_in_the_run_list(runs_dir):
    from adapt_core.runs import list_runs

    at = make_app()
    at.switch_page("app_pages/train.py").run()
    at.text_input(key="_w_form:method:adapt:tokens.scorer").set_value("").run()  # policy tokens, no PPLu model
    at.number_input(key="_w_form:train:max_steps").set_value(3).run()
    at.number_input(key="_w_form:train:batch_size").set_value(8).run()
    click(at, "Launch")
    no_errors(at)
    runs = list_runs(runs_dir)
    assert len(runs) == 1 and runs[0].config["model"] == "tiny-bert"
    assert runs[0].config["settings"]["lr"] == 3e-4  # AdaPT's own rate, not a shared default
    wait_for(lambda: list_runs(runs_dir)[0].state in ("completed", "failed", "cancelled"))
    info = list_runs(runs_dir)[0]
    assert info.state == "completed", info.status
    at.run()
    table = next(d.value for d in at.dataframe if "run" in d.value.columns)
    assert table.loc[table["run"] == info.id, "state"].item() == "completed"
    at.switch_page("app_pages/compare.py").run()
    no_errors(at)
    assert len(at.get("plotly_chart")) >= 5
    at.switch_page("app_pages/playground.py").run()
    no_errors(at)
    assert at.metric and at.get("html")


def test_switching_method_switches_its_form_and_defaults():
    at = make_app()
    at.switch_page("app_pages/train.py").run()
    for method, lr in (("lora", 1e-3), ("prefix", 1e-2), ("full", 1e-4), ("adapt", 3e-4)):
        at.selectbox(key="method").set_value(method).run()
        no_errors(at)
        assert at.number_input(key=f"_w_form:method:{method}:lr").value == pytest.approx(lr)
    at.selectbox(key="method").set_value("stc").run()  # STC's options are a form like any method's
    no_errors(at)
    assert at.text_input(key="_w_form:method:stc:etas").value.startswith("0.01, 0.1")


def test_what_the_sensitivity_page_outlines_is_what_the_launched_run_trains(runs_dir):
    """Measure on the Sensitivity page, launch AdaPT (no tokens) from the Train page: the run gets the page's
    measurement (it does not measure again) and trains exactly the outlined modules."""
    import json

    from adapt_core.runs import list_runs

    at = make_app(top_k=30.0)
    at.switch_page("app_pages/sensitivity.py").run()
    click(at, "Measure sensitivity")
    no_errors(at)
    at.selectbox(key="_w_form:adapt-sensitivity:grouping").set_value("block").run()  # the Train form's setting too
    frame = next(d.value for d in at.dataframe if "selected" in d.value.columns)
    outlined = set(frame.loc[frame["selected"], "module"])
    at.switch_page("app_pages/train.py").run()
    at.selectbox(key="method").set_value("adapt-no-tokens").run()
    at.number_input(key="_w_form:train:max_steps").set_value(2).run()
    at.number_input(key="_w_form:train:batch_size").set_value(8).run()
    click(at, "Launch")
    no_errors(at)
    run = list_runs(runs_dir)[0]
    assert run.config["settings"]["grouping"] == "block" and (run.dir / "sensitivity.json").is_file()
    wait_for(lambda: list_runs(runs_dir)[0].state in ("completed", "failed", "cancelled"))
    report = json.loads((run.dir / "report.json").read_text())
    assert report["method_info"]["sensitivity_source"] == "given"
    selection = json.loads((run.dir / "selection.json").read_text())
    assert {m["module"] for m in selection["modules"]} == outlined and selection["grouping"] == "block"


def test_two_runs_queue_and_a_queued_run_cancels(runs_dir):
    from adapt_core import launcher
    from adapt_core.runs import list_runs

    at = make_app()
    at.switch_page("app_pages/train.py").run()
    at.number_input(key="seeds").set_value(2).run()
    at.number_input(key="_w_form:train:max_steps").set_value(2000).run()
    click(at, "Launch")
    states = sorted(r.state for r in list_runs(runs_dir))
    assert states == ["queued", "running"], states
    queued = next(r for r in list_runs(runs_dir) if r.state == "queued")
    assert launcher.cancel(queued.dir) == "cancelled"
    running = next(r for r in list_runs(runs_dir) if r.state == "running")
    launcher.cancel(running.dir)

    def all_cancelled() -> bool:
        launcher.queue_tick(runs_dir)  # what the Train page's polling does: reap the child, move the queue
        return all(r.state == "cancelled" for r in list_runs(runs_dir))

    wait_for(all_cancelled)
    at.run()
    no_errors(at)


# ---- Runs page and demo mode (issue 12 items 8 and 9)


def test_runs_page_labels_filters_exports_deletes_and_restores(runs_dir):
    import os
    import shutil

    from test_run_management import make_run

    from adapt_core import runs as store

    make_run(runs_dir, "20260101-000000-full-a")
    make_run(runs_dir, "20260101-000001-full-b")
    make_run(runs_dir, "20260101-000002-live", state="running", pid=os.getpid())
    at = make_app()
    at.switch_page("app_pages/runs.py").run()
    no_errors(at)
    assert len(at.dataframe[0].value) == 3
    at.selectbox(key="runs_selected").set_value("20260101-000000-full-a").run()
    at.text_input(key="tags_20260101-000000-full-a").set_value("Baseline, lecture 3")
    at.text_area(key="note_20260101-000000-full-a").set_value("show this one")
    click(at, "Save tags and note")
    no_errors(at)
    assert store.read_labels(runs_dir / "20260101-000000-full-a") == {
        "tags": ["baseline", "lecture-3"],
        "note": "show this one",
    }
    at.selectbox(key="runs_tag").set_value("baseline").run()
    assert list(at.dataframe[0].value["run"]) == ["20260101-000000-full-a"]
    assert at.dataframe[0].value["tags"].item() == "baseline, lecture-3"
    click(at, "Prepare a zip")
    assert at.get("download_button") and (runs_dir / ".exports" / "20260101-000000-full-a.zip").is_file()
    click(at, "Delete (to the trash)")
    no_errors(at)
    assert not (runs_dir / "20260101-000000-full-a").exists() and [r.id for r in store.list_trash(runs_dir)] == [
        "20260101-000000-full-a"
    ]
    at.selectbox(key="runs_tag").set_value(None).run()
    at.selectbox(key="runs_selected").set_value("20260101-000002-live").run()
    click(at, "Delete (to the trash)")
    assert "is running: cancel it" in at.error[0].value and (runs_dir / "20260101-000002-live").is_dir()
    make_run(runs_dir, "20260101-000000-full-a", note="a newer folder of the same name")
    click(at, "Restore")
    assert "already exists" in at.error[0].value and (runs_dir / ".trash" / "20260101-000000-full-a").is_dir()
    shutil.rmtree(runs_dir / "20260101-000000-full-a")  # make room: the newer folder goes
    click(at, "Restore")
    no_errors(at)
    assert (runs_dir / "20260101-000000-full-a" / "labels.json").is_file() and not store.list_trash(runs_dir)


def test_runs_page_empties_the_trash_only_when_confirmed(runs_dir):
    from test_run_management import make_run

    from adapt_core import runs as store

    store.trash_run(make_run(runs_dir, "20260101-000000-old"))
    at = make_app()
    at.switch_page("app_pages/runs.py").run()
    button = next(b for b in at.button if b.label == "Empty the trash")
    assert button.disabled
    at.checkbox(key="runs_empty_sure").check().run()
    click(at, "Empty the trash")
    no_errors(at)
    assert store.list_trash(runs_dir) == [] and "The trash is empty." in [c.value for c in at.caption]


def test_demo_button_runs_the_pipeline_and_shows_each_stage(runs_dir, monkeypatch):
    import json as _json

    from test_demo import TINY

    from adapt_core import demo

    monkeypatch.setenv("ADAPT_DEMO", _json.dumps(TINY))
    at = make_app()
    click(at, "Run the demo")
    no_errors(at)
    folder = demo.latest(runs_dir)
    assert folder is not None
    assert next(b for b in at.button if b.label == "Run the demo").disabled  # one demo at a time
    wait_for(lambda: demo.read(folder)["state"] != "running", timeout=400)
    at.run()
    no_errors(at)
    text = " ".join(m.value for m in at.markdown)
    for what in demo.STAGES.values():
        assert f":material/check_circle: **{what}**" in text
    assert "accepted:" in text and "modules selected" in text and "test macro-F1" in text
    assert at.success and at.success[0].value.startswith("Demo finished")
    from adapt_core.runs import list_runs

    assert {r.config["method"] for r in list_runs(runs_dir)} == {"adapt", "full"}
