"""Fault injection: damaged files, shared or foreign run folders, dead and reused pids, diverging training, pickled
weights and careless input. Each case injects one fault and asserts what is on disk and the exact message, through
the command line (`adapt_core.cli.main`, or a real child process where a process must die) and, for damaged run
files, on every studio page that lists or reads runs.

Run folders are built by hand in a temporary runs root; only the divergence, overwrite and lock cases train (the
tiny-bert model, a step or two).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapt_core.cli import main
from adapt_core.errors import AdaptError
from adapt_core.run_reader import list_runs, load_run

ROOT = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------------------- helpers


def make_run(root: Path, name: str, state: str = "completed", **status) -> Path:
    """A hand-built run folder: config, status, report and two metrics lines (no model)."""
    run = root / name
    run.mkdir(parents=True)
    config = {"dataset": "toy.csv", "model": "tiny-bert", "method": "full", "train": {"seed": 0}}
    (run / "config.json").write_text(json.dumps(config))
    (run / "status.json").write_text(json.dumps({"state": state, "step": 2, "total": 2, **status}))
    (run / "report.json").write_text(json.dumps({"test": {"macro_f1": 0.5, "accuracy": 0.5}}))
    (run / "metrics.jsonl").write_text('{"step": 1, "loss": 0.7}\n{"step": 2, "loss": 0.6}\n')
    return run


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def corpus(tmp_path) -> Path:
    rows = "".join(f"my card {i} was lost,card\nthe transfer {i} failed,transfer\n" for i in range(30))
    path = tmp_path / "tickets.csv"
    path.write_text("text,label\n" + rows)
    return path


def train_args(corpus: Path, run_dir: Path, *extra) -> list:
    common = ["--model", "tiny-bert", "--max-steps", "1", "--batch-size", "8", "--device", "cpu", "--quiet"]
    return ["train", "--dataset", corpus, *common, "--run-dir", run_dir, *extra]


# ----------------------------------------------------------------------------------------------------- item 3


def _model_without_weights(run: Path) -> None:
    (run / "model").mkdir()
    (run / "model" / "config.json").write_text("{}")


DAMAGE = {
    "status-truncated": ("status.json", '{"state": "completed", "st', "status.json: not valid JSON, truncated?"),
    "status-empty": ("status.json", "", "status.json: empty file"),
    "status-list": ("status.json", "[1, 2]", "status.json: a JSON list where an object was expected"),
    "status-state": ("status.json", '{"state": "done"}', "status.json: unknown state 'done'"),
    "status-step": ("status.json", '{"state": "completed", "step": "two"}', "status.json: 'step' is 'two'"),
    "config-truncated": ("config.json", '{"dataset": "toy', "config.json: not valid JSON, truncated?"),
    "config-shape": ("config.json", '{"method": "full", "train": []}', "config.json: 'train' is a list, not an object"),
    "config-method": ("config.json", '{"method": 3}', "config.json: 'method' is 3, not a method name"),
    "config-data": ("config.json", '{"method": "full", "data": "toy"}', "config.json: 'data' is a str, not an object"),
    "report-empty": ("report.json", "", "report.json: empty file"),
    "report-shape": ("report.json", '{"test": {"macro_f1": "high"}}', "report.json: test 'macro_f1' is 'high'"),
    "metrics-line": (
        "metrics.jsonl",
        '{"step": 1, "loss": 0.7}\n{"step": 2, "lo\n{"step": 3, "loss": 0.5}\n',
        "metrics.jsonl: line 2 is not a metrics record",
    ),
    "model-no-weights": (None, _model_without_weights, "model: has no weights file (model.safetensors)"),
}


def damage(run: Path, case: str) -> str:
    name, content, reason = DAMAGE[case]
    if name is None:
        content(run)
    else:
        (run / name).write_text(content)
    return reason


@pytest.mark.parametrize("case", DAMAGE)
def test_a_damaged_file_makes_one_run_unreadable(case, runs_dir, capsys):
    good = make_run(runs_dir, "20260101-000000-good")
    bad = make_run(runs_dir, "20260102-000000-bad")
    reason = damage(bad, case)
    before = {p.name: p.read_bytes() for p in bad.iterdir() if p.is_file()}

    code, out, _ = cli(capsys, "runs")
    assert code == 0
    assert f"{bad.name}: unreadable: {reason}" in out
    states = {r.id: r.state for r in list_runs()}
    assert states == {good.name: "completed", bad.name: "unreadable"}
    assert {p.name: p.read_bytes() for p in bad.iterdir() if p.is_file()} == before  # reading never rewrites

    for command in (["predict", "--run-dir", bad, "a text"], ["evaluate", "--run-dir", bad]):
        code, out, err = cli(capsys, *command)
        assert code == 2 and out == "" and err.count("\n") == 1
        assert err.startswith(f"error: run {bad.name} is unreadable: {reason}")
        assert err.endswith("; repair or delete that file\n")


def test_a_half_written_last_metrics_line_is_a_live_run_not_damage(runs_dir):
    run = make_run(runs_dir, "live")
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "lo')  # no newline yet: the writer is mid-line
    info = load_run(run)
    assert info.problem is None and list(info.metrics()["step"]) == [1, 2]


@pytest.fixture(scope="module")
def shared_data():
    from conftest import shared_data_available

    if not shared_data_available():
        pytest.skip("the benchmark datasets folder is absent")


PAGES_READING_RUNS = [None, "app_pages/train_page.py", "app_pages/compare_page.py", "app_pages/playground_page.py"]


@pytest.mark.parametrize("page", PAGES_READING_RUNS, ids=lambda p: p or "home")
def test_every_page_shows_damaged_runs_and_keeps_working(page, runs_dir, shared_data):
    """Every kind of damage at once, one run each, beside a good run."""
    from streamlit.testing.v1 import AppTest

    make_run(runs_dir, "20260101-000000-good")
    reasons = {
        f"20260102-000000-{case}": damage(make_run(runs_dir, f"20260102-000000-{case}"), case) for case in DAMAGE
    }
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["data_config"] = {"max_train": 200, "max_eval": 60}
    at.session_state["model"] = "tiny-bert"
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    warnings = [w.value for w in at.warning]
    for run, reason in reasons.items():
        assert any(w.startswith(f"Run {run} · unreadable: {reason}") for w in warnings), (run, warnings)


# ----------------------------------------------------------------------------------------------------- item 4


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--lr", "inf"], "error: lr must be a finite number (got inf)"),
        (["--method", "adapt", "--beta", "nan"], "error: beta must be a finite number (got nan)"),
        (["--max-train", "-3"], "error: max_train must be a positive number of examples or empty (got -3)"),
        (["--device", "gpu"], "error: device must be auto, cpu, cuda[:N] or mps"),
        (["--dtype", "int8"], "error: dtype must be one of auto, fp32"),
        (
            ["--method", "adapt", "--tokens", "missing.json"],
            "error: file not found: missing.json, given as the token list (--tokens)",
        ),
        (["--config", "missing.json"], "error: config file missing.json not found"),
    ],
)
def test_bad_input_is_one_line_before_anything_is_created(extra, message, corpus, tmp_path, capsys, monkeypatch):
    import adapt_core.pipeline as pipeline

    monkeypatch.setattr(pipeline, "load_dataset", lambda *a: pytest.fail("data loaded before the input was checked"))
    run_dir = tmp_path / "new-run"
    code, out, err = cli(capsys, *train_args(corpus, run_dir, *extra))
    assert code == 2 and err.startswith(message) and err.count("\n") == 1, err
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"dataset": "x', "not valid JSON"),
        ("[]", "a JSON list"),
        ('{"method": "stc", "stc": {"etas": [0.5]}}', "unknown field 'stc' (the top level takes data, dataset, "),
        ('{"train": {"epochs": 1, "lr_rate": 0.1}}', "unknown field 'train.lr_rate' (train takes batch_size, "),
        ('{"method": {"method": "stc"}}', "'method' is an object (the shape before the method registry)"),
    ],
)
def test_a_bad_config_file_is_refused(content, message, corpus, tmp_path, capsys):
    bad = tmp_path / "config.json"
    bad.write_text(content)
    run_dir = tmp_path / "new-run"
    code, _, err = cli(capsys, *train_args(corpus, run_dir, "--config", bad))
    assert code == 2 and f"config file {bad} is unusable: config.json: {message}" in err and err.count("\n") == 1
    assert not run_dir.exists()


def test_sensitivity_checks_its_outputs_and_token_list_before_measuring(corpus, tmp_path, capsys, monkeypatch):
    import adapt_core.data

    monkeypatch.setattr(adapt_core.data, "load_dataset", lambda *a: pytest.fail("data loaded before the check"))
    common = ["sensitivity", "--dataset", corpus, "--model", "tiny-bert", "--quiet"]
    code, _, err = cli(capsys, *common, "--save-report", tmp_path / "nodir" / "report.json")
    assert code == 2 and "--save-report" in err and "does not exist; create it" in err and err.count("\n") == 1
    rejected = tmp_path / "rejected.json"
    rejected.write_text('[{"text": "card", "decision": "rejected"}]')
    code, _, err = cli(capsys, *common, "--tokens", rejected)
    assert code == 2 and "has no accepted token" in err


def test_a_flag_beside_a_config_file_is_refused_not_ignored(corpus, tmp_path, capsys):
    config = tmp_path / "config.json"
    train = {"max_steps": 1, "batch_size": 8, "device": "cpu"}
    config.write_text(json.dumps({"dataset": str(corpus), "model": "tiny-bert", "method": "full", "train": train}))
    run_dir = tmp_path / "new-run"
    for extra, flag in ((["--method", "lora"], "--method"), (["--lr", "0.5"], "--lr"), (["--top-k", "5"], "--top-k")):
        code, _, err = cli(capsys, "train", "--config", config, "--run-dir", run_dir, *extra)
        assert code == 2 and err.startswith(f"error: {flag} is not read with --config") and err.count("\n") == 1
        assert not run_dir.exists()
    code, _, err = cli(capsys, "train", "--config", config, "--run-dir", run_dir, "--quiet", "--overwrite")
    assert code == 0, err


def test_a_token_list_that_accepts_nothing_is_refused_before_an_overwrite_clears_the_earlier_run(
    corpus, runs_dir, tmp_path, capsys
):
    earlier = make_run(runs_dir, "earlier")
    before = sorted(p.name for p in earlier.iterdir())
    rejected = tmp_path / "rejected.json"
    rejected.write_text('[{"text": "card", "decision": "rejected"}]')
    extra = ["--method", "adapt", "--tokens", rejected, "--overwrite"]
    code, _, err = cli(capsys, *train_args(corpus, earlier, *extra))
    assert code == 2 and "has no accepted token" in err and err.count("\n") == 1
    assert sorted(p.name for p in earlier.iterdir()) == before  # the earlier run is whole


def test_a_folder_that_is_not_a_run_is_never_written_into(corpus, tmp_path, capsys):
    folder = tmp_path / "my-documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious")
    for extra in ([], ["--overwrite"]):
        code, _, err = cli(capsys, *train_args(corpus, folder, *extra))
        assert code == 2 and "is not empty and is not a run folder (thesis.txt…): nothing is written there" in err
        assert sorted(p.name for p in folder.iterdir()) == ["thesis.txt"]
        assert (folder / "thesis.txt").read_text() == "precious"


def test_an_existing_run_is_refused_unless_overwrite_clears_it(corpus, runs_dir, capsys):
    run = make_run(runs_dir, "earlier")
    (run / "model").mkdir()
    (run / "model" / "stale.safetensors").write_bytes(b"old")
    before = sorted(p.name for p in run.iterdir())
    code, _, err = cli(capsys, *train_args(corpus, run))
    assert code == 2 and err == (
        f"error: --run-dir {run} already holds a run: choose a new folder, or pass --overwrite to replace that run\n"
    )
    assert sorted(p.name for p in run.iterdir()) == before

    code, out, err = cli(capsys, *train_args(corpus, run, "--overwrite"))
    assert code == 0, err
    assert not (run / "model" / "stale.safetensors").exists()
    info = load_run(run)
    assert info.state == "completed" and info.config["dataset"] == str(corpus)
    assert len(info.metrics()) == 1  # the earlier run's two lines are gone


def test_a_second_writer_is_refused_by_the_lock(corpus, runs_dir, capsys):
    """A queued folder (as the studio prepares one) while another process holds its lock: refused, untouched."""
    from adapt_core.fileio import exclusive_lock

    run = make_run(runs_dir, "queued-run", state="queued")
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_LOCK, str(run / ".lock")], stdout=subprocess.PIPE, env=_env()
    )
    try:
        assert holder.stdout.readline().strip() == b"locked"
        code, _, err = cli(capsys, *train_args(corpus, run))
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and err.splitlines() == [
        f"run folder: {run}",
        f"error: run folder {run} is being written by another process: wait for it to end, or choose another --run-dir",
    ]
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file() and p.name != ".lock"} == before
    with exclusive_lock(run / ".lock", wait=False):  # the holder died: the kernel released its lock
        pass


_HOLD_LOCK = """
import sys, time
from adapt_core.fileio import exclusive_lock
with exclusive_lock(sys.argv[1], wait=False):
    print("locked", flush=True)
    time.sleep(120)
"""


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


# ----------------------------------------------------------------------------------------------------- item 5

_FAKE_RUN = """
import sys, time
from pathlib import Path
from adapt_core.run_writer import RunWriter
writer = RunWriter(Path(sys.argv[1]))
writer.write_config({"dataset": "toy.csv", "model": "tiny-bert", "method": "full"})
writer.set_status("running", step=3, total=10)
print("running", flush=True)
time.sleep(120)
"""


def test_a_sigkilled_run_reads_interrupted_on_disk_after_the_next_listing(runs_dir, capsys):
    run = runs_dir / "killed"
    child = subprocess.Popen([sys.executable, "-c", _FAKE_RUN, str(run)], stdout=subprocess.PIPE, env=_env())
    assert child.stdout.readline().strip() == b"running"
    status = json.loads((run / "status.json").read_text())
    assert status["pid"] == child.pid and status["pid_start"].startswith(("proc:", "psutil:"))
    assert load_run(run).state == "running"
    child.send_signal(signal.SIGKILL)
    child.wait()

    code, out, _ = cli(capsys, "runs")
    assert code == 0 and re.search(r"killed\s+interrupted", out), out
    on_disk = json.loads((run / "status.json").read_text())
    assert on_disk["state"] == "interrupted" and on_disk["updated"] == status["updated"]  # last seen alive
    from adapt_core.launcher import describe

    assert describe(load_run(run)).startswith("interrupted at step 3/10: its process is gone (last seen ")


def test_a_reused_pid_is_not_the_run_and_cancel_does_not_signal_it(runs_dir):
    """The recorded pid is alive (it is this test's process) but its start time differs: another process."""
    from adapt_core import launcher

    run = make_run(runs_dir, "reused", state="running", pid=os.getpid(), pid_start="proc:1", updated=1.0)
    assert load_run(run).state == "interrupted"
    assert launcher.cancel(run) == "interrupted"  # had it signalled the pid, this test would have been terminated
    assert json.loads((run / "status.json").read_text())["state"] == "interrupted"


# ----------------------------------------------------------------------------------------------------- item 6


@pytest.mark.parametrize("what, shown", [("loss", "NaN"), ("gradient norm", "inf")])
def test_divergence_fails_the_run_and_saves_no_model(what, shown, corpus, runs_dir, capsys, monkeypatch):
    """Step 2 turns non-finite: the loss through NaN logits, or the gradient norm as measured by the clipping."""
    import accelerate
    import torch

    import adapt_core.pipeline as pipeline
    from adapt_core.methods import prepare

    calls = []
    if what == "loss":

        def nan_logits(module, inputs, output):
            calls.append(module.training)
            return output * float("nan") if calls.count(True) == 2 and module.training else output

        def poisoned(model, *args, **kwargs):
            prepared = prepare(model, *args, **kwargs)
            prepared.model.classifier.register_forward_hook(nan_logits)
            return prepared

        monkeypatch.setattr(pipeline, "prepare", poisoned)
    else:
        clip = accelerate.Accelerator.clip_grad_norm_

        def exploding(self, *args, **kwargs):
            calls.append(1)
            norm = clip(self, *args, **kwargs)
            return torch.tensor(float("inf")) if len(calls) == 2 else norm

        monkeypatch.setattr(accelerate.Accelerator, "clip_grad_norm_", exploding)
    run = runs_dir / "diverged"
    code, _, err = cli(capsys, *train_args(corpus, run, "--max-steps", "3", "--eval-every", "0"))
    message = f"{what} became {shown} at step 2 — lower the learning rate"
    assert code == 1 and err.endswith(f"failed: {message}\n"), err
    status = json.loads((run / "status.json").read_text())
    assert status["state"] == "failed" and status["error"] == message
    assert not (run / "model").exists() and not (run / "report.json").exists()
    assert len(load_run(run).metrics()) == 1  # the good first step was logged


# ----------------------------------------------------------------------------------------------------- item 7


class _Touch:
    """Unpickling this creates a file: the proof that a pickle ran code."""

    def __init__(self, target: Path):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


@pytest.fixture
def pickled_model(tmp_path) -> tuple[Path, Path]:
    from transformers import BertConfig

    folder = tmp_path / "downloaded-model"
    folder.mkdir()
    BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64).save_pretrained(folder)
    target = tmp_path / "pwned"
    with open(folder / "pytorch_model.bin", "wb") as f:
        pickle.dump({"weight": _Touch(target)}, f)
    return folder, target


CONVERT = "save_pretrained(folder, safe_serialization=True)"


def test_pickled_weights_are_never_unpickled(pickled_model, capsys):
    from adapt_core.models import load_classifier
    from adapt_core.scorers import _load_pretrained

    folder, target = pickled_model
    with pytest.raises(AdaptError, match=r"has only pickled weights \(pytorch_model.bin\).*safe_serialization=True"):
        load_classifier(str(folder), 2)
    with pytest.raises(AdaptError, match="only pickled weights"):
        _load_pretrained(str(folder), "masked")
    assert not target.exists()

    from transformers import AutoModel  # and transformers itself, asked for safetensors, never unpickles either

    with pytest.raises(OSError):
        AutoModel.from_pretrained(folder, use_safetensors=True)
    assert not target.exists()


def test_a_run_whose_model_is_pickled_is_refused_in_one_line(pickled_model, runs_dir, capsys):
    folder, target = pickled_model
    run = make_run(runs_dir, "pickled")
    folder.rename(run / "model")
    code, out, err = cli(capsys, "predict", "--run-dir", run, "a text")
    assert code == 2 and err.count("\n") == 1 and "model: has only pickled weights" in err and CONVERT in err
    assert not target.exists()


def test_every_model_from_pretrained_asks_for_safetensors():
    import ast

    offenders = []
    for path in (ROOT / "adapt_core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "from_pretrained"):
                continue
            owner = ast.unparse(node.func.value)
            if any(k in owner for k in ("Tokenizer", "Config", "PeftModel")):
                continue  # no weights (tokenizers, configs); peft's adapter is checked to be safetensors first
            keywords = {k.arg: k.value for k in node.keywords}
            safe = isinstance(keywords.get("use_safetensors"), ast.Constant) and keywords["use_safetensors"].value
            if not safe and "gguf_file" not in keywords:
                offenders.append(f"{path.name}:{node.lineno}")
    assert offenders == []


def test_hf_takes_hub_ids_only(tmp_path, corpus, capsys):
    code, _, err = cli(capsys, "data", "--dataset", f"hf:{corpus}")
    assert code == 2 and err == (
        f"error: hf:{corpus} is not a Hugging Face Hub id (owner/name): for a local file or folder, give its path "
        "without hf: so the file reader checks it\n"
    )


# ----------------------------------------------------------------------------------------------------- item 8


@pytest.mark.parametrize(
    "name, content, message",
    [
        (
            "bad.jsonl",
            '{"text": "a b", "label": 1}\n{"text": "c d", "label": 2\n',
            "bad.jsonl: line 2 is not valid JSON",
        ),
        ("list.jsonl", '{"text": "a b", "label": 1}\n\n[1, 2]\n', "list.jsonl: line 3 is not a JSON object"),
        ("dup.csv", "text,label,text\na b,1,c\n", "dup.csv has two columns named 'text'"),
        (
            "ragged.csv",
            'text,label\n"a, b",1\nc d,2\ne f,3,extra\n',
            "ragged.csv: line 4 has 3 fields where the header",
        ),
        ("short.csv", "text,label\na b,1\nc d\n", "short.csv: line 3 has 1 fields where the header has 2"),
    ],
)
def test_bad_tables_name_the_line_or_column(name, content, message, tmp_path, capsys):
    path = tmp_path / name
    path.write_text(content)
    code, _, err = cli(capsys, "data", "--dataset", path)
    assert code == 2 and err.startswith(f"error: {message}") and err.count("\n") == 1, err


@pytest.fixture
def id_corpus(tmp_path) -> Path:
    rows = "".join(
        f"{1000 + i},the card {i} was lost,card\n{2000 + i},a transfer {i} failed,transfer\n" for i in range(20)
    )
    path = tmp_path / "tickets.csv"
    path.write_text("id,message,label\n" + rows)
    return path


def test_an_id_column_is_never_the_text(id_corpus, capsys):
    from adapt_core.readers import read_table, suggest_columns

    frame = read_table(id_corpus)
    assert suggest_columns(frame) == ("message", "label")  # the studio's first guess (it used to pick `id`)
    code, _, err = cli(capsys, "data", "--dataset", id_corpus, "--text-col", "id")
    assert code == 2 and err == (
        "error: column 'id' holds only numbers or ids, not text (the text may be in: message): "
        "name the text column with --text-col\n"
    )
    code, out, _ = cli(capsys, "data", "--dataset", id_corpus)  # guessed: message is the text
    assert code == 0


def test_the_studio_refuses_an_id_column_with_the_same_check(id_corpus):
    from adapt_core.data import DataConfig, load_dataset

    with pytest.raises(AdaptError, match=r"^column 'id' holds only numbers or ids, not text"):
        load_dataset(str(id_corpus), DataConfig(text_col="id", label_col="label"))  # what the Data page calls


def test_the_data_page_guesses_the_text_and_refuses_an_id_column(id_corpus, runs_dir, shared_data):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    at.session_state["data_config"] = {"max_train": 200, "max_eval": 60}
    at.session_state["model"] = "tiny-bert"
    at.run()
    at.switch_page("app_pages/data_page.py").run()
    at.file_uploader[0].set_value(("tickets.csv", id_corpus.read_bytes(), "text/csv")).run()
    text_picker = next(s for s in at.selectbox if s.label == "Text column")
    assert text_picker.value == "message" and not at.error  # the first guess is the text, not `id`
    text_picker.set_value("id").run()
    errors = [e.value for e in at.error]
    assert not at.exception and any("column 'id' holds only numbers or ids, not text" in e for e in errors), errors


def test_mine_max_patterns_reaches_the_miner(tmp_path, capsys):
    sequences = tmp_path / "seqs.txt"
    sequences.write_text("1 2 3 4 5\n1 3 5 2 4\n2 4 1 3 5\n" * 3)
    out = tmp_path / "patterns.jsonl"
    argv = ["mine", "--sequences", sequences, "--mode", "gapped", "--min-support", "3", "--out", out]
    code, _, err = cli(capsys, *argv, "--max-patterns", "2")
    assert code == 2 and "gapped mining found more than 2 closed patterns" in err and not out.exists()
    code, _, err = cli(capsys, *argv)
    assert code == 0 and out.is_file(), err


def test_uploads_older_than_a_week_are_removed(runs_dir):
    from adapt_core.workspace import save_upload

    old = save_upload("old.csv", b"text,label\na,b\n").parent
    week_ago = time.time() - 8 * 86400
    os.utime(old, (week_ago, week_ago))
    recent = save_upload("recent.csv", b"text,label\nc,d\n")
    assert recent.is_file() and not old.exists()


def test_a_temp_file_left_by_a_failed_write_is_cleaned_on_the_next_write(tmp_path):
    from adapt_core.fileio import atomic_write_json

    target = tmp_path / "status.json"
    dead = tmp_path / ".status.json.999999999.tmp"  # a writer that died before its rename
    dead.write_text('{"state": "runn')
    atomic_write_json(target, {"state": "queued"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]
    assert json.loads(target.read_text()) == {"state": "queued"}
