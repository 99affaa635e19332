"""pipeline.py and the CLI: a run from config to folder, reloaded and predicted from, its phases recorded, a failure
kept, cancelled by SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import needs_shared_data

from adapt_core.cli import main
from adapt_core.run_reader import load_run, read_metrics
from adapt_core.run_writer import RunWriter

REPO = Path(__file__).resolve().parents[1]


def toy_csv(tmp_path, n=60) -> str:
    rows = ["text,label"] + [f"{'alpha' if i % 2 else 'omega'} sample {i % 7},{'ab'[i % 2]}" for i in range(n)]
    path = tmp_path / "toy.csv"
    path.write_text("\n".join(rows))
    return str(path)


def test_cli_train_predict_evaluate_roundtrip(tmp_path, runs_dir, capsys):
    run_dir = tmp_path / "run"
    code = main(
        [
            "train",
            "--dataset",
            toy_csv(tmp_path),
            "--model",
            "tiny-bert",
            "--max-steps",
            "6",
            "--batch-size",
            "8",
            "--lr",
            "3e-3",
            "--run-dir",
            str(run_dir),
            "--quiet",
        ]
    )
    assert code == 0
    for name in ("config.json", "status.json", "metrics.jsonl", "report.json", "evaluation.json"):
        assert (run_dir / name).exists(), name
    assert (run_dir / "model" / "model.safetensors").exists()
    assert not list((run_dir / "model").glob("*.bin")) and not list((run_dir / "model").glob("*.pt"))
    run = load_run(run_dir)
    assert run.state == "completed" and run.status["step"] == 6
    for split in ("dev", "test"):
        assert {"accuracy", "macro_f1", "micro_f1"} <= set(run.report[split])
    assert run.report["trainable_params"] == run.report["total_params"] > 0
    assert len(run.metrics()) == 6 and {"step", "loss"} <= set(run.metrics().columns)
    capsys.readouterr()
    assert main(["predict", "--run-dir", str(run_dir), "--json", "alpha sample 3"]) == 0
    out = json.loads(capsys.readouterr().out.splitlines()[0])
    assert out["label"] in ("a", "b") and abs(sum(out["probabilities"].values()) - 1) < 1e-5
    assert main(["predict", "--run-dir", str(run_dir), "--top", "0", "alpha"]) == 2
    assert "--top must be at least 1" in capsys.readouterr().err
    assert main(["evaluate", "--run-dir", str(run_dir), "--split", "dev"]) == 0
    assert "macro-F1" in capsys.readouterr().out
    held_out = tmp_path / "held_out.csv"  # one file, one class of the run's two: all of it is scored
    held_out.write_text("text,label\n" + "".join(f"alpha sample {i},b\n" for i in range(25)))
    assert main(["evaluate", "--run-dir", str(run_dir), "--dataset", str(held_out)]) == 0
    out = capsys.readouterr()
    assert "held_out test (25 examples)" in out.out and "has no split column: all 25 examples are scored" in out.err
    held_out.write_text("text,label\n" + "".join(f"alpha sample {i},{'bc'[i % 2]}\n" for i in range(25)))
    assert main(["evaluate", "--run-dir", str(run_dir), "--dataset", str(held_out)]) == 2
    assert "has labels the model never learned (c)" in capsys.readouterr().err


def test_train_from_config_file_gives_same_run(tmp_path):
    first = tmp_path / "one"
    args = ["train", "--dataset", toy_csv(tmp_path), "--model", "tiny-bert", "--max-steps", "3", "--quiet"]
    assert main(args + ["--run-dir", str(first)]) == 0
    second = tmp_path / "two"
    assert main(["train", "--config", str(first / "config.json"), "--run-dir", str(second), "--quiet"]) == 0
    a, b = load_run(first), load_run(second)
    assert a.config == b.config
    assert np.allclose(a.metrics()["loss"], b.metrics()["loss"])


def test_failed_run_keeps_its_error(tmp_path, capsys):
    one_class = tmp_path / "one_class.csv"
    one_class.write_text("text,label\n" + "\n".join(f"text {i},a" for i in range(10)))
    code = main(
        [
            "train",
            "--dataset",
            str(one_class),
            "--model",
            "tiny-bert",
            "--run-dir",
            str(tmp_path / "r"),
            "--quiet",
        ]
    )
    assert code == 2 and "single class" in capsys.readouterr().err
    run = load_run(tmp_path / "r")
    assert run.state == "failed" and "single class" in run.status["error"]


def test_sigterm_cancels_and_keeps_metrics(tmp_path):
    run_dir = tmp_path / "run"
    cmd = [
        sys.executable,
        "-m",
        "adapt_core",
        "train",
        "--dataset",
        toy_csv(tmp_path, 400),
        "--model",
        "tiny-bert",
        "--epochs",
        "200",
        "--batch-size",
        "4",
        "--run-dir",
        str(run_dir),
        "--quiet",
    ]
    proc = subprocess.Popen(
        cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    deadline = time.time() + 120
    while time.time() < deadline and len(read_metrics(run_dir)) < 3:
        time.sleep(0.2)
    assert len(read_metrics(run_dir)) >= 3, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else ""
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 130
    run = load_run(run_dir)
    assert run.state == "cancelled"
    metrics = run.metrics()
    assert len(metrics) >= 3 and list(metrics["step"]) == list(range(1, len(metrics) + 1))


@needs_shared_data
@pytest.mark.integration
def test_minilm_on_a_banking_slice_reloads_with_identical_predictions(tmp_path):
    from adapt_core.data import DataConfig, load_dataset
    from adapt_core.pipeline import RunConfig, run_training
    from adapt_core.predictor import load_predictor
    from adapt_core.train import TrainConfig

    config = RunConfig(
        dataset="banking77",
        model="minilm-l6",
        data=DataConfig(max_train=128, max_eval=32),
        train=TrainConfig(max_steps=4, batch_size=16, device="cpu"),
    )
    report = run_training(config, tmp_path / "run", progress=False)
    assert report["trainable_params"] > 22_000_000
    predictor = load_predictor(tmp_path / "run")
    texts = load_dataset("banking77", config.data)["test"].texts
    reloaded = predictor.predict_proba(texts)
    from adapt_core.evaluate import evaluate

    recomputed = evaluate(
        load_dataset("banking77", config.data)["test"].labels, reloaded.argmax(1), predictor.label_names
    )
    assert recomputed.macro_f1 == pytest.approx(report["test"]["macro_f1"])
    # predictions.json was written from the model in memory, before saving: the reloaded one must agree row by row
    saved = json.loads((tmp_path / "run" / "predictions.json").read_text())["rows"]
    assert [row["text"] for row in saved] == list(texts)
    assert [predictor.label_names[k] for k in reloaded.argmax(1)] == [row["predicted"] for row in saved]
    np.testing.assert_allclose(reloaded.max(1), [row["probability"] for row in saved], rtol=1e-4, atol=1e-5)


def test_a_run_the_pipeline_wrote_reads_back_whole(tmp_path):
    """config.json names the method (`"method": "full"`, since the registry) with its settings as an object: such a
    run is readable, strictly, and its predictor loads (an older reader called every new run unreadable)."""
    from adapt_core.predictor import load_predictor
    from adapt_core.run_reader import method_name

    run_dir = tmp_path / "run"
    args = ["train", "--dataset", toy_csv(tmp_path), "--model", "tiny-bert", "--method", "lora", "--max-steps", "1"]
    assert main([*args, "--batch-size", "8", "--quiet", "--run-dir", str(run_dir)]) == 0
    info = load_run(run_dir, strict=True)
    assert (
        info.state == "completed" and method_name(info.config) == "lora" and isinstance(info.config["settings"], dict)
    )
    assert len(load_predictor(run_dir).predict(["alpha sample 1"])) == 1


def test_a_real_run_records_each_phase_in_order_with_its_progress(tmp_path, monkeypatch):
    """An AdaPT run with policy tokens (PPLu by a tiny scorer) and measured sensitivity passes through every phase;
    status.json keeps the timeline, and each counted phase reported its done/total up to the end."""
    from adapt_core.pipeline import RunConfig, run_training

    seen, evals = [], []
    real_phase, real_eval = RunWriter.phase, RunWriter.eval_progress

    def spy_phase(self, name, done=None, total=None):
        seen.append((name, done, total))
        real_phase(self, name, done, total)

    def spy_eval(self, done, total):
        evals.append((done, total))
        real_eval(self, done, total)

    monkeypatch.setattr(RunWriter, "phase", spy_phase)
    monkeypatch.setattr(RunWriter, "eval_progress", spy_eval)
    settings = {"top_k": 30, "tokens": {"scorer": "tiny-bert", "min_support": 4}}
    config = RunConfig(dataset=toy_csv(tmp_path, 80), model="tiny-bert", method="adapt", settings=settings)
    config = RunConfig.from_dict({**config.to_dict(), "train": {"max_steps": 3, "batch_size": 8, "eval_every": 2}})
    run_training(config, tmp_path / "run", progress=False)

    status = json.loads((tmp_path / "run" / "status.json").read_text())
    order = [p["name"] for p in status["phases"]]
    assert order == ["load", "mine", "score", "accept", "sensitivity", "train", "evaluate", "save"]
    starts = [p["started"] for p in status["phases"]]
    assert starts == sorted(starts) and all("ended" in p for p in status["phases"][:-1])
    for name in ("score", "sensitivity", "evaluate"):  # counted phases end at their total
        counts = [(d, t) for n, d, t in seen if n == name and t]
        assert counts and counts[-1][0] == counts[-1][1], name
    assert status["phase_done"] is None or status["phase"] == "save"
    assert evals[0][0] == 0 and evals[-1][0] == evals[-1][1]  # dev evaluations between steps, batch by batch
    assert status.get("eval_done") is None  # and none is left running


def test_the_packaged_config_files_read_as_written():
    """benchmarks/configs/*.json are run with `train --config` from the README: each must read strictly (no field
    dropped), with its method's own settings in place of the defaults."""
    from adapt_core.run_request import read_config_file

    folder = Path(__file__).resolve().parents[1] / "benchmarks" / "configs"
    for path in sorted(folder.glob("*.json")):
        config = read_config_file(path)
        settings = json.loads(path.read_text()).get("settings", {})
        assert all(
            getattr(config.settings, k) in (v, tuple(v) if isinstance(v, list) else v) for k, v in settings.items()
        )
