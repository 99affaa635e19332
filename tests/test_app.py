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
    "app_pages/data_page.py",
    "app_pages/tokens_page.py",
    "app_pages/sensitivity_page.py",
    "app_pages/train_page.py",
    "app_pages/compare_page.py",
    "app_pages/playground_page.py",
    "app_pages/analysis_page.py",
    "app_pages/runs_page.py",
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


def decide_first_row(at: AppTest, decision: str) -> AppTest:
    """Change the first row's decision in the candidate table, as an edit in the grid does."""
    at.session_state["candidates_0"] = {
        "edited_rows": {0: {"decision": decision}},
        "added_rows": [],
        "deleted_rows": [],
    }
    return at.run()


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
    assert len(at.get("page_link")) == 8  # the pipeline, one link per step (Analysis and Runs included)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders(page):
    at = make_app()
    at.switch_page(page).run()
    no_errors(at)
    assert at.title[0].value == Path(page).stem.removesuffix("_page").capitalize()


def test_sidebar_choices_survive_switching_pages():
    at = make_app()
    at.sidebar.slider(key="_w_beta").set_value(2.5).run()
    at.sidebar.slider(key="_w_top_k").set_value(20.0).run()
    for page in ("app_pages/data_page.py", "app_pages/train_page.py"):
        at.switch_page(page).run()
        assert at.sidebar.slider(key="_w_beta").value == 2.5
        assert at.sidebar.slider(key="_w_top_k").value == 20.0
        assert at.sidebar.selectbox(key="_w_model").value == "tiny-bert"


def test_data_page_rejects_a_malformed_upload_with_a_message():
    at = make_app()
    at.switch_page("app_pages/data_page.py").run()
    at.file_uploader[0].set_value(("broken.csv", b'text,label\n"an open quote,1\nx,2,3,4\n', "text/csv")).run()
    assert not at.exception
    assert any("broken.csv" in e.value for e in at.error), [e.value for e in at.error]


def test_data_page_uses_an_uploaded_corpus():
    rows = "".join(f"my card number {i} is lost,card\nthe transfer {i} failed,transfer\n" for i in range(20))
    at = make_app()
    at.switch_page("app_pages/data_page.py").run()
    at.file_uploader[0].set_value(("tickets.csv", ("text,label\n" + rows).encode(), "text/csv")).run()
    no_errors(at)
    click(at, "Use this corpus")
    no_errors(at)
    assert at.sidebar.selectbox(key="_w_dataset").value.endswith("tickets.csv")
    assert "Dataset: upload: tickets.csv" in [h.value for h in at.subheader]


def test_offline_hub_dataset_and_unknown_model_get_messages(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    at = make_app()
    at.switch_page("app_pages/data_page.py").run()
    at.text_input[0].set_value("no-such-user/no-such-dataset").run()
    click(at, "Load from the Hub")
    assert not at.exception
    assert any("no-such-dataset" in e.value for e in at.error), [e.value for e in at.error]
    home = make_app(model="no-such-user/no-such-model")  # typed into the sidebar's model box
    assert not home.exception
    assert any("cannot load model" in e.value for e in home.error), [e.value for e in home.error]


def mine(at: AppTest) -> AppTest:
    at.switch_page("app_pages/tokens_page.py").run()
    at.text_input(key="_w_form:pplu:scorer").set_value("tiny-llama").run()  # a tiny random scorer: fast
    return click(at, "Mine")


def test_mining_vetting_and_reload():
    at = mine(make_app())
    no_errors(at)
    found = int(metric(at, "Candidates"))
    assert found > 0 and metric(at, "Pending") == str(found)
    assert at.get("plotly_chart"), "the PPLu histogram is missing"
    # one by one: change the first row's decision in the table
    decide_first_row(at, "rejected")
    assert metric(at, "Rejected") == "1"
    # in bulk over the current filter: the pending ones
    at.selectbox(key="_w_form:filter:state").set_value("pending").run()
    click(at, "Accept the")
    assert metric(at, "Accepted") == str(found - 1) and metric(at, "Rejected") == "1"
    assert any("new" in h.proto.body for h in at.get("html")), "no before/after tokenization"
    # a reload (a new session) finds every decision again
    again = make_app()
    again.switch_page("app_pages/tokens_page.py").run()
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
    at.switch_page("app_pages/sensitivity_page.py").run()
    click(at, "Measure sensitivity")
    no_errors(at)
    shown = metric(at, "Trainable parameters")

    import adapt_core.sensitivity

    def no_measuring(*args, **kwargs):
        raise AssertionError("the report must be reused, not measured again")

    monkeypatch.setattr(adapt_core.sensitivity, "measure", no_measuring)
    at.slider(key="_w_top_k").set_value(40.0).run()  # beside the heatmap, in its fragment
    no_errors(at)
    assert metric(at, "Trainable parameters") != shown
    fresh = make_app(top_k=40.0)  # a reload reads the saved measurement
    fresh.switch_page("app_pages/sensitivity_page.py").run()
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
    from adapt_core.run_reader import list_runs

    at = make_app()
    at.switch_page("app_pages/train_page.py").run()
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
    at.switch_page("app_pages/compare_page.py").run()
    no_errors(at)
    assert len(at.get("plotly_chart")) >= 5
    at.switch_page("app_pages/playground_page.py").run()
    no_errors(at)
    assert at.metric and at.get("html")


def test_switching_method_switches_its_form_and_defaults():
    at = make_app()
    at.switch_page("app_pages/train_page.py").run()
    for method, lr in (("lora", 1e-3), ("prefix", 1e-2), ("full", 1e-4), ("adapt", 3e-4)):
        at.selectbox(key="method").set_value(method).run()
        no_errors(at)
        assert at.number_input(key=f"_w_form:method:{method}:lr").value == pytest.approx(lr)
    at.selectbox(key="method").set_value("stc").run()  # STC's options are a form like any method's
    no_errors(at)
    assert at.text_input(key="_w_form:method:stc:etas").value.startswith("0.01, 0.1")
    # STC fits outside the loop: no training form, step count or estimate shown that it would not use
    assert not any(n.key == "_w_form:train:max_steps" for n in at.number_input)
    assert any("fits outside the training loop" in c.value for c in at.caption)
    assert next(b for b in at.button if b.label.startswith("Launch")).label == "Launch"


def test_what_the_sensitivity_page_outlines_is_what_the_launched_run_trains(runs_dir):
    """Measure on the Sensitivity page, launch AdaPT (no tokens) from the Train page: the run gets the page's
    measurement (it does not measure again) and trains exactly the outlined modules."""
    import json

    from adapt_core.run_reader import list_runs
    from adapt_core.workspace import studio_dir

    def outlined_modules(at) -> set[str]:
        frame = next(d.value for d in at.dataframe if "selected" in d.value.columns)
        return set(frame.loc[frame["selected"], "module"])

    at = make_app(top_k=30.0)
    at.switch_page("app_pages/sensitivity_page.py").run()
    click(at, "Measure sensitivity")
    no_errors(at)
    at.selectbox(key="_w_form:adapt-sensitivity:grouping").set_value("block").run()  # the Train form's setting too
    measured = outlined_modules(at)
    # The saved scores reversed (as if measured otherwise): the page outlines what the file says, and a run that
    # measured again instead of taking the file would train `measured`, not what is outlined now.
    (saved,) = studio_dir().glob("sensitivity-*.json")
    payload = json.loads(saved.read_text())
    for key in ("D", "G"):
        for row, value in zip(payload["linears"], [r[key] for r in payload["linears"]][::-1], strict=True):
            row[key] = value
    saved.write_text(json.dumps(payload))
    at.run()
    outlined = outlined_modules(at)
    assert outlined != measured
    at.switch_page("app_pages/train_page.py").run()
    at.selectbox(key="method").set_value("adapt-no-tokens").run()
    at.number_input(key="_w_form:train:max_steps").set_value(2).run()
    at.number_input(key="_w_form:train:batch_size").set_value(8).run()
    said = lambda text: any(text in c.value for c in at.caption)  # noqa: E731
    assert said("Sensitivity: each run takes the measurement the Sensitivity page saved for these settings")
    at.number_input(key="seeds").set_value(2).run()  # the page measured seed 0 only: seed 1's run measures itself
    assert said("seed 0 takes the Sensitivity page's measurement; seed 1 measures its own")
    at.number_input(key="seeds").set_value(1).run()
    click(at, "Launch")
    no_errors(at)
    run = list_runs(runs_dir)[0]
    assert run.config["settings"]["grouping"] == "block" and (run.dir / "sensitivity.json").is_file()
    wait_for(lambda: list_runs(runs_dir)[0].state in ("completed", "failed", "cancelled"))
    report = json.loads((run.dir / "report.json").read_text())
    assert report["method_info"]["sensitivity_source"] == "given"
    selection = json.loads((run.dir / "selection.json").read_text())
    assert {m["module"] for m in selection["modules"]} == outlined and selection["grouping"] == "block"


def test_an_invalid_sensitivity_setting_disables_launch_rather_than_train_with_the_default():
    at = make_app()
    at.switch_page("app_pages/train_page.py").run()
    assert not next(b for b in at.button if b.label.startswith("Launch")).disabled
    at.number_input(key="_w_form:adapt-sensitivity:calibration_size").set_value(1).run()  # below the 2 it needs
    assert next(b for b in at.button if b.label.startswith("Launch")).disabled


def test_method_seeds_and_the_measurement_token_choice_outlive_a_visit_to_another_page(runs_dir):
    """Streamlit drops a widget's state when its page is not drawn and navigation clears the address: the Train
    page's method and seeds, and the Sensitivity page's token init, must come back as the user left them (one
    Launch would otherwise queue one AdaPT run where three LoRA runs were on screen)."""
    from adapt_core.vetting import VettedList
    from adapt_core.workspace import vetted_path

    vetted = VettedList()
    vetted.add("credit card", "accepted")
    vetted.save(vetted_path("banking77", "tiny-bert"))  # a token to add, so the init can be chosen
    at = make_app()
    at.switch_page("app_pages/train_page.py").run()
    at.selectbox(key="method").set_value("lora").run()
    at.number_input(key="seeds").set_value(3).run()
    at.switch_page("app_pages/sensitivity_page.py").run()
    at.selectbox(key="sens_token_init").set_value("random").run()
    at.switch_page("app_pages/compare_page.py").run()
    at.query_params.clear()  # as page navigation does in a browser
    at.switch_page("app_pages/train_page.py").run()
    no_errors(at)
    assert at.selectbox(key="method").value == "lora" and at.number_input(key="seeds").value == 3
    assert any(b.label.startswith("Launch") and "× 3 seeds" in b.label for b in at.button)
    at.switch_page("app_pages/sensitivity_page.py").run()
    assert at.selectbox(key="sens_token_init").value == "random"


def test_a_train_max_length_no_run_takes_is_said_on_the_sensitivity_page_not_measured_with():
    """The measurement uses the Train form's max length: one no run accepts is a message there, not a traceback
    and not a silent fallback to the default."""
    at = make_app()
    at.switch_page("app_pages/train_page.py").run()
    at.number_input(key="_w_form:train:max_length").set_value(4).run()
    at.switch_page("app_pages/sensitivity_page.py").run()
    assert not at.exception
    assert any("the Train page's Max length (4) is not one a run takes" in e.value for e in at.error)
    assert not any(b.label.startswith("Measure") for b in at.button)


def test_two_runs_queue_and_a_queued_run_cancels(runs_dir):
    from adapt_core import launcher
    from adapt_core.run_reader import list_runs

    at = make_app()
    at.switch_page("app_pages/train_page.py").run()
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


def _finished_run(root, name: str, model: str = "tiny-bert", method: str = "adapt") -> None:
    """A hand-made completed run: 10 steps of 0.5 s at 1000 tokens per step, 20 s outside the loop, 300 MiB."""
    from adapt_core.fileio import atomic_write_json

    folder = root / name
    folder.mkdir(parents=True)
    atomic_write_json(folder / "config.json", {"model": model, "method": method, "train": {"batch_size": 32}})
    atomic_write_json(folder / "status.json", {"state": "completed", "started": 0.0, "updated": 25.0, "total": 10})
    report = {"step_seconds": 0.5, "tokens_per_second": 2000.0, "train_seconds": 5.0, "device": "cpu"}
    atomic_write_json(folder / "report.json", report | {"peak_memory_bytes": 300 * 2**20, "total_params": 10**6})
    (folder / "metrics.jsonl").write_text("".join(f'{{"step": {s}, "loss": 1.0}}\n' for s in range(1, 11)))


def test_train_page_shows_the_steps_time_and_memory_before_launch(runs_dir):
    at = make_app(device="cpu")
    at.switch_page("app_pages/train_page.py").run()
    no_errors(at)
    text = " ".join(m.value for m in at.markdown)
    # 200 training texts, batch 32, 3 epochs, Max steps empty: 3 × 7 = 21 steps, said so, and on the button
    assert "**21 steps** (Max steps is empty: 3 epochs × 7 batches of 200 texts)" in text
    assert any(b.label.startswith("Launch (21 steps)") for b in at.button)
    assert "no measured run on this machine yet" in " ".join(c.value for c in at.caption)

    _finished_run(runs_dir, "20260101-000000-adapt-aaaa")
    at.number_input(key="_w_form:train:max_steps").set_value(40).run()
    text = " ".join(m.value for m in at.markdown)
    assert "**40 steps** (Max steps)" in text and "peak memory ≈ 300 MiB" in text
    assert "measured on this machine by 1 run(s) of tiny-bert · adapt" in " ".join(c.value for c in at.caption)
    assert any(b.label.startswith("Launch (40 steps)") for b in at.button)


def test_train_page_shows_a_running_runs_phase_and_timeline(runs_dir):
    import os
    import time

    from adapt_core.fileio import atomic_write_json
    from adapt_core.run_status import process_start

    folder = runs_dir / "20260101-000000-adapt-bbbb"
    folder.mkdir(parents=True)
    now = time.time()
    atomic_write_json(folder / "config.json", {"model": "tiny-bert", "method": "adapt", "dataset": "toy"})
    status = {"state": "running", "pid": os.getpid(), "pid_start": process_start(os.getpid()), "started": now - 70}
    timeline = [
        {"name": "load", "started": now - 70, "ended": now - 60},
        {"name": "mine", "started": now - 60, "ended": now - 55},
        {"name": "score", "started": now - 55},
    ]
    atomic_write_json(
        folder / "status.json",
        status
        | {"phase": "score", "phase_done": 138, "phase_total": 276, "phase_started": now - 55, "phases": timeline},
    )
    at = make_app()
    at.switch_page("app_pages/train_page.py").run()
    no_errors(at)
    bar = next(p for p in at.get("progress") if "scoring" in p.proto.text)
    assert "running: scoring candidates (PPLu) 138/276" in bar.proto.text and bar.proto.value == 50
    assert any("load 10 s → mine 5 s → **scoring candidates (PPLu)**" in c.value for c in at.caption)


def test_the_train_form_is_read_from_and_written_to_the_address(runs_dir):
    """A reload is a new session with the same address: the form comes back from the query parameters."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["data_config"] = {"max_train": 200, "max_eval": 60}
    at.session_state["model"] = "tiny-bert"
    at.run()  # registers the pages: switch_page finds a page by its url_path (/train) only after a first run
    at.query_params.update(
        {
            "method": '"lora"',
            "seeds": "2",
            "train.max_steps": "20",
            "train.epochs": "1",
            "lora.lr": "0.002",
            "train.batch_size": '"many"',
        }
    )
    at.switch_page("app_pages/train_page.py").run()
    assert at.selectbox(key="method").value == "lora" and at.number_input(key="seeds").value == 2
    assert at.number_input(key="_w_form:train:max_steps").value == 20
    assert at.number_input(key="_w_form:train:epochs").value == 1.0
    assert at.number_input(key="_w_form:method:lora:lr").value == pytest.approx(0.002)
    assert any("Ignored train.batch_size" in w.value for w in at.warning)  # a bad value: said, and the default kept
    assert at.number_input(key="_w_form:train:batch_size").value == 32
    at.number_input(key="_w_form:train:max_steps").set_value(7).run()
    assert at.query_params["train.max_steps"] in ("7", ["7"])  # and the address follows an edit


def test_the_shared_sensitivity_settings_survive_a_reload():
    """The Train page's sensitivity settings (shared with the Sensitivity page) live in the address too: a reload
    launches with the grouping the form showed, not the default."""
    at = make_app()
    at.switch_page("app_pages/train_page.py").run()
    at.selectbox(key="_w_form:adapt-sensitivity:grouping").set_value("block").run()
    assert at.query_params["sens.grouping"] in ('"block"', ['"block"'], "block", ["block"])
    reload = make_app()
    reload.query_params.update({k: v for k, v in at.query_params.items()})
    reload.switch_page("app_pages/train_page.py").run()
    assert reload.selectbox(key="_w_form:adapt-sensitivity:grouping").value == "block"


# ---------------------------------------------------------------------------------------- Analysis and the frontier

ANALYSIS = "app_pages/analysis_page.py"
LABELS = ["card", "transfer", "refund"]
TEXTS = [f"please top up my {w} {i}" if i % 2 else f"where is {w} {i}" for i, w in enumerate(LABELS * 4)]
TRUTH = [0, 1, 2] * 4


def two_runs(runs_dir) -> None:
    """Run A (AdaPT, new token "top up") and run B (LoRA) on the same 12 test texts, four of them predicted apart."""
    from helpers_runs import write_run

    a_pred = [0, 1, 2] * 3 + [1, 1, 1]  # wrong on the last card and refund
    b_pred = [0, 1, 0] * 3 + [0, 1, 2]
    write_run(
        runs_dir,
        "20260101-000001-a",
        TEXTS,
        TRUTH,
        a_pred,
        LABELS,
        method="adapt",
        settings={"top_k": 5.0},
        tokens=("top up",),
    )
    write_run(runs_dir, "20260101-000000-b", TEXTS, TRUTH, b_pred, LABELS, method="lora", settings={"lora_r": 8})


def frame(at: AppTest, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_analysis_page_shows_confusions_per_class_and_highlighted_mistakes(runs_dir):
    two_runs(runs_dir)
    at = make_app()
    at.switch_page(ANALYSIS).run()
    no_errors(at)
    assert at.selectbox(key="analysis_run").value.id.endswith("-a")  # the newest run first
    assert at.get("plotly_chart"), "the confusion matrix is missing"
    per_class = frame(at, "recall")
    assert list(per_class["label"]) == LABELS and per_class["support"].tolist() == [4, 4, 4]
    mistakes = "".join(h.proto.body for h in at.get("html"))
    assert mistakes.count("<tr>") == 3 and '<mark class="new-token"' in mistakes and ">top up</mark>" in mistakes
    at.selectbox(key="analysis_true").set_value("refund").run()
    assert "".join(h.proto.body for h in at.get("html")).count("<tr>") == 2  # the header and the one refund
    flipped = frame(at, "kind")
    assert sorted(flipped["kind"]) == ["right → wrong"] * 3 + ["wrong → right"] * 2
    assert metric(at, "Right → wrong (A → B)") == "3" and metric(at, "Wrong → right (A → B)") == "2"


def test_analysis_page_ranks_the_confusions_of_many_classes(runs_dir):
    from helpers_runs import write_run

    names = [f"c{i}" for i in range(25)]
    truth = list(range(25)) * 2
    predicted = [(y + 1) % 25 if y < 3 else y for y in truth]  # c0 → c1, c1 → c2, c2 → c3, twice each
    write_run(runs_dir, "20260101-000000-many", [f"t{i}" for i in range(50)], truth, predicted, names)
    at = make_app()
    at.switch_page(ANALYSIS).run()
    no_errors(at)
    assert at.expander and at.expander[0].label.startswith("Full confusion matrix (25 × 25)")
    assert len(at.get("plotly_chart")) == 2  # the ranked top confusions, and the full matrix in the expander
    assert "No other finished run" in " ".join(c.value for c in at.caption)


def test_compare_page_draws_the_budget_frontier_of_runs_and_grid(runs_dir):
    two_runs(runs_dir)
    at = make_app()
    at.switch_page("app_pages/compare_page.py").run()
    no_errors(at)
    picker = at.selectbox(key="frontier_group")
    assert "toy · tiny-bert" in picker.options and "banking77 · minilm-l6" in picker.options  # runs and grid
    picker.set_value("toy · tiny-bert").run()
    points = frame(at, "setting")
    assert sorted(zip(points["method"], points["setting"], strict=True)) == [("adapt", "top_k=5"), ("lora", "lora_r=8")]
    assert set(points["source"]) == {"runs"} and len(at.get("plotly_chart")) >= 2 + 5  # frontier + the run figures
    picker.set_value("banking77 · minilm-l6").run()
    grid_points = frame(at, "setting")
    stc = grid_points[grid_points["method"] == "stc"]
    assert len(stc) and set(stc["step_seconds"]) == {"—"}  # STC has no step loop: a dash, never "None"
    figures = sorted(Path("benchmarks/results").glob("*.png"))
    assert len(at.selectbox(key="grid_figure").options) == len(figures) and len(at.get("image")) == 1  # one at a time
    tables = [m for m in at.markdown if "Learning-rate sweep" in m.value]
    assert not tables  # the grid's tables are drawn only when asked
    at.toggle(key="grid_tables").set_value(True).run()
    assert [m for m in at.markdown if "Learning-rate sweep" in m.value]


def test_the_grid_points_are_read_again_only_when_the_results_change(tmp_path, monkeypatch):
    from adapt_core import comparison
    from studio import resources

    reads, read_grid = [], comparison.read_grid
    monkeypatch.setattr(comparison, "read_grid", lambda *a: reads.append(a) or read_grid(*a))
    results, spec = tmp_path / "compare.csv", tmp_path / "grid.json"
    header = "task,method,setting,model,seed,macro_f1,trainable_params,step_seconds,state,profile,hardware\n"
    results.write_text(header + "banking77,lora,,minilm-l6,0,0.5,100,0.1,completed,quick,cpu\n")
    first = resources.grid_points(results, spec)
    assert resources.grid_points(results, spec).equals(first) and len(reads) == 1  # unchanged files: the cache
    results.write_text(results.read_text() + "banking77,lora,,minilm-l6,1,0.7,100,0.1,completed,quick,cpu\n")
    again = resources.grid_points(results, spec)
    assert len(again) == len(first) + 1 and len(reads) == 2  # a row appended by the grid shows on the next visit


def test_analysis_page_says_what_to_fix_for_a_damaged_evaluation(runs_dir):
    two_runs(runs_dir)
    (runs_dir / "20260101-000001-a" / "evaluation.json").write_text('{"label_names": ["card"]')  # cut short
    at = make_app()
    at.switch_page(ANALYSIS).run()
    assert not at.exception
    assert any("evaluation.json is damaged" in e.value for e in at.error), [e.value for e in at.error]


def test_vetting_like_an_expert_context_specificity_undo_reviewer_and_url(runs_dir):
    """The candidate table is sorted by task-specificity by default; the top candidate reads in context (aligned
    lines per class, with counts); a decision records the sidebar's reviewer (kept in the workspace) and undoes;
    the filter and sort go into the URL, and a reload with that URL finds them again."""
    import json

    from adapt_core.contexts import keyword_in_context
    from adapt_core.data import DataConfig, load_dataset
    from adapt_core.workspace import load_settings, vetted_path

    at = mine(make_app())
    no_errors(at)
    assert at.selectbox(key="sort_by").value == "specificity"
    table = at.dataframe[0].value
    assert list(table.columns[:4]) == ["decision", "text", "specificity", "pplu"]
    spec = table["specificity"].dropna().tolist()
    assert spec == sorted(spec, reverse=True) and spec[0] > spec[-1]
    # in context: the top row by default, aligned lines grouped by class with their counts
    top = table["text"][0]
    assert at.selectbox(key="kwic").value == top
    assert any(f"“**{top}**” is in" in m.value for m in at.markdown)
    assert at.code and all(top.lower() in line.lower() for c in at.code for line in c.value.splitlines())
    other = table["text"][3]
    at.selectbox(key="kwic").set_value(other).run()
    task = load_dataset("banking77", DataConfig(max_train=200, max_eval=60))
    groups = keyword_in_context(other, task["train"].texts, task["train"].labels, task.label_names)
    shown = [m.value for m in at.markdown if " occurrence" in m.value]
    first = groups[0]
    plural = {"texts": "s" * (first.texts != 1), "occurrences": "s" * (first.occurrences != 1)}
    assert shown[0] == (
        f"**{first.name}** · {first.texts} text{plural['texts']}, {first.occurrences} occurrence{plural['occurrences']}"
    )
    assert len(shown) == min(len(groups), 6) and len(at.code[0].value.splitlines()) == min(first.occurrences, 5)
    assert any(f"“**{other}**” is in {sum(g.texts for g in groups)} training text" in m.value for m in at.markdown)
    # who: the reviewer's name is saved in the workspace and stored with the decision
    at.sidebar.text_input(key="_w_reviewer").set_value("Ana Ruiz").run()
    assert load_settings()["reviewer"] == "Ana Ruiz"
    decide_first_row(at, "rejected")
    assert metric(at, "Rejected") == "1"
    saved = json.loads(vetted_path("banking77", "tiny-bert").read_text())["candidates"]
    decided = [c for c in saved if c["decision"] == "rejected"]
    assert [(c["text"], c["decided_by"]) for c in decided] == [(top, "Ana Ruiz")] and decided[0]["decided_at"]
    # undo, two levels: a bulk accept, then the rejection
    click(at, "Accept the")
    assert metric(at, "Pending") == "0"
    click(at, "Undo")
    assert metric(at, "Rejected") == "1" and int(metric(at, "Pending")) > 0
    click(at, "Undo")
    assert metric(at, "Rejected") == "0" and metric(at, "Accepted") == "0"
    # filter and sort in the URL: a reload with it shows the same view
    at.text_input(key="_w_form:filter:contains").set_value("card").run()
    at.selectbox(key="sort_by").set_value("pplu").run()
    assert at.query_params["contains"] == "card" and at.query_params["sort"] == "pplu"
    reload = AppTest.from_file(APP, default_timeout=TIMEOUT)
    reload.session_state["data_config"] = {"max_train": 200, "max_eval": 60}
    reload.session_state["model"] = "tiny-bert"
    reload.run()  # registers the pages: switch_page finds a page by its url_path (/tokens) only after a first run
    reload.query_params.update({"contains": "card", "sort": "pplu", "descending": "False"})
    reload.switch_page("app_pages/tokens_page.py").run()  # a reload of the Tokens page's URL
    no_errors(reload)
    assert reload.text_input(key="_w_form:filter:contains").value == "card"
    assert reload.selectbox(key="sort_by").value == "pplu" and reload.toggle(key="descending").value is False
    assert all("card" in t for t in reload.dataframe[0].value["text"])
    assert reload.sidebar.text_input(key="_w_reviewer").value == "Ana Ruiz"  # set once: a new session has it


# ---- figures that do not mislead (issue 12 item 3): stand-in run folders, nothing trains


def stand_in_run(root: Path, name: str, state: str, f1: float | None = None, dev=(0.002105, 0.002115)) -> str:
    """A run folder as a finished, failed or cancelled run leaves it: a flat chance-level dev score by default."""
    from adapt_core.run_writer import RunWriter

    writer = RunWriter(root / name)
    writer.write_config({"dataset": "banking77", "model": "tiny-bert", "method": "adapt", "train": {"seed": 0}})
    for step, score in enumerate(dev, start=1):
        writer.log({"step": 10 * step, "loss": 4.3 - 0.01 * step, "dev_macro_f1": score})
    if f1 is not None:
        writer.write_report({"test": {"macro_f1": f1, "accuracy": f1}, "train_seconds": 5.0})
    writer.set_status(state, step=20, total=20)
    return name


def charts(at: AppTest) -> dict:
    """Each plotly chart of the page as its figure dict, by title."""
    import json

    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    return {(f["layout"].get("title") or {}).get("text", ""): f for f in figures}


def no_none(frame) -> bool:
    return not frame.isna().to_numpy().any() and "None" not in frame.astype(str).to_numpy()


def test_train_charts_show_finished_runs_on_full_axes_each_in_its_colour(runs_dir):
    from adapt_core.plots.style import run_color

    done = stand_in_run(runs_dir, "20261127-120001-adapt-000a", "completed", f1=0.31)
    failed = stand_in_run(runs_dir, "20261127-120002-adapt-000b", "failed")
    stand_in_run(runs_dir, "20261127-120003-adapt-000c", "cancelled")
    at = make_app()
    at.switch_page("app_pages/train_page.py").run()
    no_errors(at)
    picker = at.multiselect(key="_w_chart_runs")
    assert picker.value == [done]  # the newer failed and cancelled runs do not push it out
    figures = charts(at)
    dev, loss = figures["Dev macro-F1"], figures["Training loss"]
    assert dev["layout"]["yaxis"]["range"][0] <= 0 and dev["layout"]["yaxis"]["range"][1] >= 1  # flat stays flat
    assert loss["layout"]["yaxis"]["range"][0] == 0
    assert [t["line"]["color"] for t in dev["data"]] == [run_color(done)]
    picker.set_value([done, failed]).run()  # a failed run is shown once picked, in its own colour
    no_errors(at)
    colours = {t["name"][-4:]: t["line"]["color"] for t in charts(at)["Dev macro-F1"]["data"]}
    assert colours == {"000a": run_color(done), "000b": run_color(failed)}
    listed = next(d.value for d in at.dataframe if "run" in d.value.columns)
    assert no_none(listed) and (listed["test_macro_f1"] == "—").sum() == 2


def test_charts_without_data_and_tables_with_gaps_say_so(runs_dir):
    from adapt_core.plots.style import run_color

    stand_in_run(runs_dir, "20261127-120001-adapt-000a", "failed", dev=())
    at = make_app()
    at.switch_page("app_pages/compare_page.py").run()
    no_errors(at)
    listed = next(d.value for d in at.dataframe if "run" in d.value.columns)
    assert no_none(listed) and listed.loc[0, "test_macro_f1"] == "—"
    assert any("No completed run picked" in i.value for i in at.info)
    at.switch_page("app_pages/train_page.py").run()
    at.multiselect(key="_w_chart_runs").set_value(["20261127-120001-adapt-000a"]).run()
    drawn = charts(at)
    assert {"Training loss", "Dev macro-F1"} <= set(drawn)  # the loop below checks something
    for figure in drawn.values():  # a run without metrics: words, not empty −1…4 axes
        assert not figure["data"] and "No data yet" in figure["layout"]["annotations"][0]["text"]
    done = stand_in_run(runs_dir, "20261127-120002-adapt-000b", "completed", f1=0.31)
    at.switch_page("app_pages/compare_page.py").run()
    no_errors(at)
    f1 = charts(at)["Macro-F1 (mean ± std over seeds)"]
    assert f1["layout"]["yaxis"]["range"] == [0, 1.08]
    assert f1["data"][1]["marker"]["color"] == [run_color(done)]  # the run's dot, in its Train colour


def test_sensitivity_caption_and_budget_metric_share_one_named_denominator():
    """The selection caption and the "Budget used" metric show the same percentage, of the same, named denominator,
    at every budget the sliders beside the heatmap set (a β or top-k % move reruns only their fragment)."""
    import re

    at = make_app()
    at.switch_page("app_pages/sensitivity_page.py").run()
    click(at, "Measure sensitivity")
    assert not at.sidebar.slider, "the budget sliders sit beside the heatmap on this page, not in the sidebar"
    for top_k, beta in ((10.0, 1.0), (20.0, 0.0), (50.0, 3.0)):
        at.slider(key="_w_top_k").set_value(top_k).run()
        at.slider(key="_w_beta").set_value(beta).run()
        no_errors(at)
        caption = next(c.value for c in at.caption if "modules selected" in c.value)
        shown = re.search(r"= ([\d.]+) % of non-embedding parameters \(([\d,]+)\)", caption)
        assert shown, caption
        assert metric(at, "Budget used") == f"{shown.group(1)} %"
        assert f"budget {top_k:g} %" in caption
        assert float(shown.group(1)) <= top_k  # the selection never exceeds the budget


# ---- Runs page and demo mode (issue 12 items 8 and 9)


def test_runs_page_labels_filters_exports_deletes_and_restores(runs_dir):
    import os
    import shutil

    from test_run_management import make_run

    from adapt_core import run_management as manage

    make_run(runs_dir, "20260101-000000-full-a")
    make_run(runs_dir, "20260101-000001-full-b")
    make_run(runs_dir, "20260101-000002-live", state="running", pid=os.getpid())
    at = make_app()
    at.switch_page("app_pages/runs_page.py").run()
    no_errors(at)
    assert len(at.dataframe[0].value) == 3
    at.selectbox(key="runs_selected").set_value("20260101-000000-full-a").run()
    at.text_input(key="tags_20260101-000000-full-a").set_value("Baseline, lecture 3")
    at.text_area(key="note_20260101-000000-full-a").set_value("show this one")
    click(at, "Save tags and note")
    no_errors(at)
    assert manage.read_labels(runs_dir / "20260101-000000-full-a") == {
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
    assert not (runs_dir / "20260101-000000-full-a").exists() and [r.id for r in manage.list_trash(runs_dir)] == [
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
    assert (runs_dir / "20260101-000000-full-a" / "labels.json").is_file() and not manage.list_trash(runs_dir)


def test_runs_page_empties_the_trash_only_when_confirmed(runs_dir):
    from test_run_management import make_run

    from adapt_core import run_management as manage

    manage.trash_run(make_run(runs_dir, "20260101-000000-old"))
    at = make_app()
    at.switch_page("app_pages/runs_page.py").run()
    button = next(b for b in at.button if b.label == "Empty the trash")
    assert button.disabled
    at.checkbox(key="runs_empty_sure").check().run()
    click(at, "Empty the trash")
    no_errors(at)
    assert manage.list_trash(runs_dir) == [] and "The trash is empty." in [c.value for c in at.caption]


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
    from adapt_core.run_reader import list_runs

    assert {r.config["method"] for r in list_runs(runs_dir)} == {"adapt", "full"}


def test_a_running_demo_can_be_cancelled_from_home(runs_dir):
    """A demo whose process is a plain sleeper (no pipeline needed): the button stops it and Home says so."""
    import subprocess
    import sys

    from adapt_core import demo
    from adapt_core.fileio import atomic_write_json
    from adapt_core.run_status import process_start

    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True)
    folder = demo.demo_root(runs_dir) / "20990101-000000"
    folder.mkdir(parents=True)
    running = {"state": "running", "pid": sleeper.pid, "pid_start": process_start(sleeper.pid)}
    atomic_write_json(folder / demo.PROGRESS, running | {"stages": {}, "runs": {}, "config": {}})
    at = make_app()
    no_errors(at)
    click(at, "Cancel the demo")
    assert sleeper.wait(timeout=30) != 0  # the signal ended it
    at.run()
    no_errors(at)
    assert demo.read(folder)["state"] == "cancelled"
    assert any(i.value.startswith("Demo cancelled") for i in at.info)
    assert not [b for b in at.button if b.label == "Cancel the demo"]


def test_the_candidate_table_shows_a_dash_for_missing_text_and_hides_an_unscored_pplu_column():
    import pandas as pd

    from studio.vetting_view import shown_frame

    frame = pd.DataFrame(
        {"decision": ["pending", "accepted"], "text": ["a b", "c d"], "pplu": [None, None], "decided_by": [None, "ann"]}
    )
    shown = shown_frame(frame)
    assert "pplu" not in shown and shown["decided_by"].tolist() == ["—", "ann"]
    assert shown[["decision", "text"]].equals(frame[["decision", "text"]])  # what an edit is matched on is untouched
    partly = shown_frame(frame.assign(pplu=[3.5, None]))
    assert partly["pplu"].dtype.kind == "f"  # numeric: its header sorts by value


def test_without_a_vetted_list_the_train_page_says_the_policy_picks_the_tokens_and_the_run_measures_with_them(runs_dir):
    """No list: the Sensitivity page's measurement (made without tokens) cannot be the run's, and the page says so."""
    at = make_app()
    at.switch_page("app_pages/train_page.py").run()
    at.selectbox(key="method").set_value("adapt").run()
    said = [c.value for c in at.caption]
    assert (
        "No vetted tokens: the run accepts them by its automatic policy and measures its sensitivity with them." in said
    )
    at.selectbox(key="method").set_value("full+tokens").run()  # no sensitivity to measure
    assert "No vetted tokens: the run accepts them by its automatic policy." in [c.value for c in at.caption]
