"""train.py: the loop lowers the loss, is reproducible by seed, evaluates, keeps the best, validates its config."""

from pathlib import Path

import pytest
import torch

from adapt_core.errors import AdaptError
from adapt_core.models import load_classifier
from adapt_core.train import TrainConfig, _Batches, peak_memory_bytes, reset_peak_memory, train, train_steps

FAST = dict(batch_size=8, lr=1e-2, max_length=16, device="cpu", warmup_ratio=0.0)


def test_loss_falls_and_dev_is_evaluated(toy_task):
    model, tok = load_classifier("tiny-bert", 2, seed=0)
    logs = train(model, tok, toy_task, TrainConfig(epochs=4, **FAST))
    assert len(logs) == 32 and logs[-1].step == logs[-1].total_steps == 32
    first, last = sum(x.loss for x in logs[:4]) / 4, sum(x.loss for x in logs[-4:]) / 4
    assert last < first * 0.7
    evals = [x for x in logs if x.eval]
    assert [x.step for x in evals] == [8, 16, 24, 32]  # each epoch end
    assert logs[-1].summary["optimizer_state_bytes"] > 0
    assert logs[-1].summary["best_dev_macro_f1"] == max(x.eval["macro_f1"] for x in evals)


def test_same_seed_same_run(toy_task):
    runs = []
    for _ in range(2):
        model, tok = load_classifier("tiny-bert", 2, seed=0)
        runs.append([x.loss for x in train_steps(model, tok, toy_task, TrainConfig(max_steps=5, seed=3, **FAST))])
    assert runs[0] == runs[1]


def script_dev_scores(monkeypatch, values) -> None:
    """Make the loop's dev evaluations return `values`, one per evaluation, in order."""
    import adapt_core.train as train_module

    scores = iter(values)

    class Scored:
        def __init__(self):
            self.value = next(scores)

        def scores(self):
            return {"macro_f1": self.value}

    monkeypatch.setattr(train_module, "evaluate_split", lambda *args, **kwargs: Scored())


def test_best_checkpoint_is_restored(toy_task, monkeypatch):
    """Dev scores scripted so the best evaluation is the second of four: the model ends with the weights it had
    right after step 2, not those it trained on to step 4."""
    script_dev_scores(monkeypatch, [0.2, 0.9, 0.3, 0.1])
    model, tok = load_classifier("tiny-bert", 2, seed=0)
    weights = lambda: {n: p.detach().clone() for n, p in model.named_parameters()}  # noqa: E731
    seen = {}
    for log in train_steps(model, tok, toy_task, TrainConfig(max_steps=4, eval_every=1, **FAST)):
        if log.step in (2, 3):
            seen[log.step] = weights()  # the yield comes after the step and its evaluation
    assert log.summary["best_dev_macro_f1"] == 0.9
    assert any(not torch.equal(seen[2][n], seen[3][n]) for n in seen[2])  # training moved on after the best
    final = weights()
    assert all(torch.equal(final[n], seen[2][n]) for n in final)


def test_optimizer_holds_only_trainable_tensors(toy_task):
    model, tok = load_classifier("tiny-bert", 2, seed=0)
    for p in model.bert.parameters():
        p.requires_grad_(False)
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    logs = train(model, tok, toy_task, TrainConfig(max_steps=3, **FAST))
    head = sum(p.numel() for p in model.classifier.parameters())
    assert logs[-1].summary["optimizer_state_bytes"] == 2 * head * 4 + 4 * 2  # exp_avg, exp_avg_sq, +step scalars
    assert all(torch.equal(p, frozen[n]) for n, p in model.named_parameters() if n in frozen)


def test_dynamic_padding_pads_to_the_longest_in_batch(toy_task):
    _, tok = load_classifier("tiny-bert", 2)
    batches = _Batches(tok, toy_task["train"], max_length=64)
    batch = batches.collate([0, 1])
    longest = max(len(batches.ids[0]), len(batches.ids[1]))
    assert batch["input_ids"].shape == (2, longest)
    assert batch["attention_mask"].sum() == len(batches.ids[0]) + len(batches.ids[1])


def test_nothing_trainable_is_an_error(toy_task):
    model, tok = load_classifier("tiny-bert", 2)
    model.requires_grad_(False)
    with pytest.raises(AdaptError, match="no trainable parameter"):
        next(train_steps(model, tok, toy_task, TrainConfig(**FAST)))


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"epochs": 0}, "epochs"),
        ({"lr": -1}, "lr"),
        ({"max_length": 2}, "max_length"),
        ({"warmup_ratio": 1.5}, "warmup"),
    ],
)
def test_config_validation(kwargs, message):
    with pytest.raises(AdaptError, match=message):
        TrainConfig(**kwargs)


def test_step_log_flattens_eval():
    from adapt_core.train import StepLog

    log = StepLog(1, 2, 0.5, 0.3, 1e-4, 1.0, 100.0, 0.1, eval={"macro_f1": 0.5})
    d = log.to_dict()
    assert d["dev_macro_f1"] == 0.5 and "eval" not in d and d["loss"] == 0.3
    assert torch.tensor(d["step"]) == 1


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="Linux only: the peak RSS reset")
def test_peak_memory_is_per_run_not_per_process():
    import mmap

    cpu, size = torch.device("cpu"), 64 * 2**20
    reset_peak_memory(cpu)
    base = peak_memory_bytes(cpu)
    # an anonymous mapping: new pages, resident once written, returned to the system when closed (heap memory that
    # earlier tests freed may stay resident and be reused, which would hide a torch allocation)
    block = mmap.mmap(-1, size)
    block.write(b"\x01" * size)
    high = peak_memory_bytes(cpu)
    assert high >= base + size * 3 // 4  # the peak sees the new block
    block.close()
    reset_peak_memory(cpu)
    assert peak_memory_bytes(cpu) <= high - size * 3 // 4  # after a reset, the closed block no longer counts


def test_length_grouped_batches_hold_every_index_once_and_pad_less():
    from adapt_core.train import LengthGroupedBatches

    lengths = [(7 * i) % 97 + 1 for i in range(1000)]
    sampler = LengthGroupedBatches(lengths, batch_size=10, seed=0, chunk=5)
    epochs = [list(sampler), list(sampler)]
    for batches in epochs:
        flat = [i for b in batches for i in b]
        assert sorted(flat) == list(range(1000)) and len(batches) == len(sampler) == 100

    def padding(batches):  # the padding dynamic batches would add: sum over batches of (longest - each)
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    shuffled = torch.randperm(1000, generator=torch.Generator().manual_seed(0)).tolist()
    plain = [shuffled[i : i + 10] for i in range(0, 1000, 10)]
    assert padding(epochs[0]) < padding(plain) / 4  # chunks of 5 batches: each batch spans ~1/5 of the lengths
    assert epochs[0] != epochs[1]  # a new order each epoch
    again = LengthGroupedBatches(lengths, batch_size=10, seed=0, chunk=5)
    assert list(again) == epochs[0]  # same seed, same batches


def test_group_by_length_trains_on_the_same_examples(toy_task):
    model, tok = load_classifier("tiny-bert", 2, seed=0)
    logs = train(model, tok, toy_task, TrainConfig(epochs=2, group_by_length=True, **FAST))
    assert len(logs) == 16 and [x.step for x in logs if x.eval] == [8, 16]


@pytest.mark.parametrize(
    "dev, steps",
    [
        ([0.5, 0.6, 0.55, 0.6, 0.58, 0.9, 0.9], 5),  # a gain at 2, then 3 evaluations without a new best
        ([0.5, 0.5, 0.5, 0.6, 0.6, 0.6, 0.6, 0.7], 7),  # the plateau before the first gain does not count
        ([0.5, 0.5, 0.5, 0.5, 0.5, 0.5], 6),  # never gains: runs to the end, never stopped on its plateau
        ([0.5, 0.4, 0.3, 0.2, 0.1], 5),  # its first evaluation stays the best: no gain, no stop
    ],
)
def test_patience_counts_from_the_first_gain(toy_task, monkeypatch, dev, steps):
    """The stopping rule on scripted dev scores (one evaluation per step, patience 3)."""
    script_dev_scores(monkeypatch, dev)
    model, tok = load_classifier("tiny-bert", 2, seed=0)
    logs = train(model, tok, toy_task, TrainConfig(max_steps=len(dev), eval_every=1, patience=3, **FAST))
    assert len(logs) == steps and logs[-1].summary["steps"] == steps
    assert logs[-1].summary["best_dev_macro_f1"] == max(dev[:steps])


def test_patience_never_stops_a_model_that_has_not_begun_to_learn(toy_task):
    model, tok = load_classifier("tiny-bert", 2, seed=0)
    config = TrainConfig(max_steps=6, eval_every=1, patience=2, **{**FAST, "lr": 1e-12})  # dev F1 cannot move
    logs = train(model, tok, toy_task, config)
    assert len(logs) == 6 and logs[-1].summary["steps"] == 6 and logs[-1].total_steps == 6
    with pytest.raises(AdaptError, match="patience must be"):
        TrainConfig(patience=-1)
