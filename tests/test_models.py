"""models.py: registry loads, devices, dtypes, parameter counts, clear errors for unknown models."""

import pytest
import torch

from adapt_core.errors import AdaptError
from adapt_core.models import count_parameters, cpu_name, load_classifier, pick_device, pick_dtype


@pytest.mark.parametrize("name", ["tiny-bert", "tiny-llama"])
def test_tiny_models_build_with_labels_and_pad(name):
    model, tok = load_classifier(name, 3, ["x", "y", "z"], seed=1)
    assert model.config.num_labels == 3 and model.config.id2label[2] == "z"
    assert model.config.pad_token_id == tok.pad_token_id
    enc = tok(["hello world", "a longer sentence here"], padding=True, return_tensors="pt")
    assert model(**enc).logits.shape == (2, 3)


def test_same_seed_same_initialisation():
    a, _ = load_classifier("tiny-bert", 2, seed=7)
    b, _ = load_classifier("tiny-bert", 2, seed=7)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_minilm_is_the_packaged_model():
    model, tok = load_classifier("minilm-l6", 4)
    counts = count_parameters(model)
    assert 22_000_000 < counts.total < 23_500_000 and counts.trainable == counts.total
    assert model.config.num_hidden_layers == 6 and model.config.hidden_size == 384


def test_a_named_copy_of_minilm_is_read_under_its_registry_name(tmp_path, monkeypatch):
    from adapt_core.models import minilm_path

    packaged = minilm_path()
    monkeypatch.setenv("ADAPT_MINILM_DIR", str(tmp_path))  # a machine given the weights with the job
    assert minilm_path() == str(tmp_path) != packaged


def test_parameter_counts_follow_requires_grad():
    model, _ = load_classifier("tiny-bert", 2)
    for p in model.bert.parameters():
        p.requires_grad_(False)
    counts = count_parameters(model)
    head = sum(p.numel() for p in model.classifier.parameters())
    assert counts.trainable == head and 0 < counts.percent < 100


def test_unknown_model_offline_says_what_to_do():
    with pytest.raises(AdaptError, match="not a registry name"):
        load_classifier("no-such-org/no-such-model", 2)


def test_devices_and_dtypes():
    assert pick_device("cpu").type == "cpu"
    model, capability = cpu_name().rsplit(", ", 1)  # a result on the CPU records which processor and kernels
    assert model and capability == torch.backends.cpu.get_cpu_capability()
    assert pick_device("auto").type in ("cpu", "cuda", "mps")
    assert pick_dtype(torch.device("cpu")) is None
    assert pick_dtype(torch.device("cuda")) is torch.bfloat16
    with pytest.raises(AdaptError, match="unknown dtype"):
        pick_dtype(torch.device("cpu"), "int3")
    if not torch.cuda.is_available():
        with pytest.raises(AdaptError, match="no CUDA GPU"):
            pick_device("cuda")
