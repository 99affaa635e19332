"""estimate.py: the steps a form implies and the time and memory a run should take, from hand-made run folders
whose numbers are chosen so every expected value can be worked out by hand."""

from __future__ import annotations

import json

import pytest

from adapt_core.estimate import Plan, estimate, implied_evaluations, implied_steps, measured, tokens_per_example
from adapt_core.fileio import atomic_write_json
from adapt_core.run_reader import list_runs
from adapt_core.train import TrainConfig


def fake_run(
    root,
    name,
    model="minilm-l6",
    method="adapt",
    *,
    step_s=0.5,
    tok_s=2000.0,
    steps=10,
    evals=2,
    train_s=None,
    wall=None,
    memory=1_000_000,
    params=22_000_000,
    state="completed",
):
    """A finished run folder: `steps` steps of `step_s` seconds at `tok_s` tokens/s (1000 tokens per step at the
    defaults), `evals` dev evaluations of 1 s each, and 20 s outside the loop."""
    folder = root / name
    folder.mkdir(parents=True)
    train_s = train_s if train_s is not None else steps * step_s + evals * 1.0
    wall = wall if wall is not None else train_s + 20.0
    atomic_write_json(folder / "config.json", {"model": model, "method": method, "train": {"batch_size": 8}})
    atomic_write_json(
        folder / "status.json", {"state": state, "started": 100.0, "updated": 100.0 + wall, "total": steps}
    )
    atomic_write_json(
        folder / "report.json",
        {
            "step_seconds": step_s,
            "tokens_per_second": tok_s,
            "train_seconds": train_s,
            "device": "cpu",
            "peak_memory_bytes": memory,
            "total_params": params,
        },
    )
    lines = [
        {"step": s, "loss": 1.0, **({"dev_macro_f1": 0.5} if s > steps - evals else {})} for s in range(1, steps + 1)
    ]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return folder


def plan(**kw) -> Plan:
    return Plan(
        **{
            "model": "minilm-l6",
            "method": "adapt",
            "steps": 100,
            "tokens_per_step": 2000.0,
            "evaluations": 3,
            "device": "cpu",
            **kw,
        }
    )


def test_implied_steps_and_evaluations_follow_the_training_loop():
    assert implied_steps(TrainConfig(epochs=3, batch_size=32), 100) == 12  # 4 batches per epoch
    assert implied_steps(TrainConfig(epochs=0.5, batch_size=32), 100) == 2
    assert implied_steps(TrainConfig(max_steps=7, batch_size=32), 100) == 7  # max_steps wins over epochs
    assert implied_evaluations(TrainConfig(epochs=2, batch_size=32), 100) == 2  # each epoch's end
    assert implied_evaluations(TrainConfig(max_steps=10, batch_size=32, eval_every=3), 1000) == 4  # 3, 6, 9, 10


def test_a_finished_run_gives_its_measurements(tmp_path):
    fake_run(tmp_path, "a")
    m = measured(list_runs(tmp_path)[0])
    assert m.tokens_per_step == pytest.approx(1000.0) and m.eval_seconds == pytest.approx(1.0)
    assert m.other_seconds == pytest.approx(20.0) and m.device == "cpu"


def test_same_model_and_method_scales_by_tokens_per_step(tmp_path):
    fake_run(tmp_path, "a")
    fake_run(tmp_path, "b", model="tiny-bert", step_s=0.01)  # another model: ignored
    est = estimate(plan(), list_runs(tmp_path))
    # 100 steps × 0.5 s × (2000 / 1000 tokens) + 3 evaluations × 1 s + 20 s outside the loop
    assert est.measured and est.seconds == pytest.approx(100 + 3 + 20)
    assert est.peak_memory_bytes == 1_000_000 and "measured on this machine" in est.basis and "a" in est.basis


def test_setup_time_of_past_runs_is_not_step_time(tmp_path):
    fake_run(tmp_path, "a", wall=10 * 0.5 + 2 * 1.0 + 600)  # ten minutes outside the loop (a sensitivity pass)
    est = estimate(plan(steps=1000, evaluations=0), list_runs(tmp_path))
    assert est.seconds == pytest.approx(1000 * 1.0 + 600)  # steps at 1 s each, the setup once


def test_memory_comes_from_the_run_nearest_in_tokens_per_step(tmp_path):
    fake_run(tmp_path, "small", tok_s=200.0, memory=10)  # 100 tokens per step
    fake_run(tmp_path, "large", tok_s=4000.0, memory=99)  # 2000 tokens per step
    assert estimate(plan(tokens_per_step=1800.0), list_runs(tmp_path)).peak_memory_bytes == 99
    assert estimate(plan(tokens_per_step=150.0), list_runs(tmp_path)).peak_memory_bytes == 10


def test_another_method_of_the_same_model_is_a_rough_guide(tmp_path):
    fake_run(tmp_path, "a", method="full")
    est = estimate(plan(), list_runs(tmp_path))
    assert not est.measured and est.seconds == pytest.approx(123) and "no measured adapt run" in est.basis


def test_no_run_of_this_model_scales_by_parameters_and_says_so(tmp_path):
    fake_run(tmp_path, "a", model="tiny-bert", params=1_000_000)  # 6e6 × 1000 tokens / 0.5 s = 1.2e10 per second
    asked = []
    est = estimate(plan(), list_runs(tmp_path), params=lambda: asked.append(1) or 2_000_000)
    assert asked and not est.measured and "no measured run of minilm-l6 yet" in est.basis
    assert est.seconds == pytest.approx(100 * 6 * 2_000_000 * 2000 / 1.2e10)
    assert est.peak_memory_bytes == 16 * 2_000_000


def test_nothing_measured_gives_no_number(tmp_path):
    fake_run(tmp_path, "failed", state="failed")  # an unfinished run measures nothing
    fake_run(tmp_path, "gpu", model="minilm-l6")
    gpu = tmp_path / "gpu" / "report.json"
    gpu.write_text(gpu.read_text().replace('"cpu"', '"cuda:0"'))  # measured on another device
    est = estimate(plan(), list_runs(tmp_path), params=None)
    assert est.seconds is None and "no measured run on this machine yet" in est.basis


def test_tokens_per_example_counts_what_the_run_encodes(minilm_tokenizer):
    texts = ["hello world", "a much longer text " * 20]
    assert tokens_per_example(minilm_tokenizer, texts, max_length=16) == pytest.approx((4 + 16) / 2)
