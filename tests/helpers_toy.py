"""A separable toy task and small helpers shared by the sensitivity, methods and multi-process tests.

Class 0 texts start with "alpha" and use one set of words, class 1 texts start with "beta" and use another, so every
token carries the label and even a tiny random model (whose attention is near uniform) learns it in a few dozen
steps; a fixed seed makes every test see the same texts. `planted` (with `POLICY`) is the token policy and token
record tests' corpus: chosen phrases planted among changing filler words.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import torch
from torch import nn

from adapt_core.data import Split, TaskData
from adapt_core.models import load_classifier
from adapt_core.token_policy import TokenPolicy

WORDS = (
    ["river", "stone", "light", "paper", "forest", "cloud"],
    ["data", "model", "text", "item", "value", "system"],
)


def toy_split(n: int, seed: int) -> Split:
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = [rng.choice(WORDS[label]) for _ in range(rng.randint(3, 8))]
        texts.append(" ".join(["alpha" if label == 0 else "beta", *words]))
        labels.append(label)
    return Split(texts, labels)


def toy_task(n_train: int = 64, n_eval: int = 16, seed: int = 0) -> TaskData:
    splits = {
        "train": toy_split(n_train, seed),
        "dev": toy_split(n_eval, seed + 1),
        "test": toy_split(n_eval, seed + 2),
    }
    return TaskData("toy", ["alpha", "beta"], splits)


def write_toy_jsonl(path: Path, n: int = 64, seed: int = 0) -> Path:
    """The toy task as one JSONL file (text, label) for the command line."""
    split = toy_split(n, seed)
    names = ["alpha", "beta"]
    path.write_text(
        "".join(
            json.dumps({"text": t, "label": names[y]}) + "\n" for t, y in zip(split.texts, split.labels, strict=True)
        )
    )
    return path


FILLERS = ["today", "again", "soon", "quickly", "tonight", "later", "now"]
POLICY = TokenPolicy(scorer=None, min_support=4)  # no PPLu scoring in unit tests


def planted(phrases_by_class: dict[int, list[str]], copies: int = 8) -> TaskData:
    """Each phrase in `copies` texts of its class, between filler words that change from text to text (so the
    closed pattern is exactly the phrase), plus as many filler-only texts per class."""
    texts, labels = [], []
    k = 0
    for label, phrases in phrases_by_class.items():
        for phrase in phrases:
            for _ in range(copies):
                texts.append(f"{FILLERS[k % 7]} {phrase} {FILLERS[(3 * k + 1) % 7]}")
                labels.append(label)
                k += 1
        for _ in range(copies):
            texts.append(f"{FILLERS[k % 7]} {FILLERS[(2 * k + 3) % 7]}")
            labels.append(label)
            k += 1
    split = Split(texts, labels)
    names = [f"class{c}" for c in range(max(phrases_by_class) + 1)]
    return TaskData("planted", names, {"train": split, "test": Split(texts[::3], labels[::3])})


@torch.no_grad()
def mean_loss(model, tokenizer, split: Split) -> float:
    """Mean cross-entropy over a split, in eval mode (no dropout)."""
    was = model.training
    model.eval()
    enc = tokenizer(split.texts, padding=True, truncation=True, max_length=32, return_tensors="pt")
    logits = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits
    model.train(was)
    return float(torch.nn.functional.cross_entropy(logits.float(), torch.tensor(split.labels)))


def snapshot(model) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter, by name."""
    return {n: p.detach().clone() for n, p in model.named_parameters()}


def tiny_model(name: str, seed: int = 0, std: float = 0.2):
    """(model, tokenizer): a registry tiny model, its matrices re-drawn from N(0, std²), seeded.

    With the config's std 0.02, a 32-wide random BERT pools nearly the same vector for every text (std across
    texts ≈ 4e-4): methods that train only the head and a few modules (prefix, AdaPT at 10 %) could not show in a
    few steps that their parameters reach the loss. A wider init gives text-dependent random features.
    """
    model, tokenizer = load_classifier(name, 2, ["alpha", "beta"], seed=seed)
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=std)
    return model, tokenizer


def one_thread():
    """Generator for an autouse fixture: torch on one thread during a test module, restored afterwards.

    Tiny models gain nothing from threads, and on a shared, busy machine two OpenMP threads spin-wait on each
    other: a 32-wide BERT step took 2 s instead of 5 ms.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
