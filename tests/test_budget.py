"""The budget panel's arithmetic: its parameter counts equal what `methods.prepare` really makes trainable, and the
costs follow from them (AdamW state, expected step-time ratio), for AdaPT, LoRA, layer selection and full."""

from __future__ import annotations

import copy

import pytest

from adapt_core.budget import (
    anatomy,
    budget_table,
    lora_params,
    matched_layers,
    matched_lora_rank,
)
from adapt_core.data import Split, TaskData
from adapt_core.methods import matched_layers as model_matched_layers
from adapt_core.methods import method_config, prepare
from adapt_core.models import load_classifier
from adapt_core.sensitivity import measure


@pytest.fixture(scope="module")
def setup():
    model, tokenizer = load_classifier("tiny-bert", 3)
    texts = [f"alpha beta gamma {i}" for i in range(12)]
    split = Split(texts, [i % 3 for i in range(12)])
    task = TaskData("toy", ["a", "b", "c"], {"train": split, "dev": split, "test": split})
    return model, tokenizer, task, measure(model, tokenizer, task)


def trainable(setup, **method) -> int:
    model, tokenizer, task, report = setup
    prepared = prepare(
        copy.deepcopy(model), tokenizer, method_config(method.pop("method"), **method), task, report=report
    )
    return prepared.info["trainable_params"]


def test_counts_match_what_prepare_trains(setup):
    model, _, _, report = setup
    anat = anatomy(model)
    selection = report.select(1.0, 20.0)
    table = budget_table(anat, selection, lora_rank=8).set_index("method")
    assert table.loc["AdaPT", "trainable_params"] == trainable(setup, method="adapt", top_k=20.0)
    assert table.loc["LoRA r=8", "trainable_params"] == trainable(setup, method="lora", lora_r=8)
    assert table.loc["Layer selection", "trainable_params"] == trainable(setup, method="layers", top_k=20.0)
    assert table.loc["Full finetuning", "trainable_params"] == anat.total_params
    assert matched_layers(anat, 20.0) == model_matched_layers(model, 20.0)


def test_costs_follow_from_the_counts(setup):
    model, _, _, report = setup
    anat = anatomy(model)
    table = budget_table(anat, report.select(1.0, 10.0), lora_rank=4, new_token_params=5 * anat.embedding_dim)
    for row in table.itertuples():
        assert row.optimizer_mib == pytest.approx(8 * row.trainable_params / 2**20)  # AdamW: two fp32 moments
        assert 0 < row.budget_percent <= 100  # one denominator: the non-embedding parameters
        assert 0.3 < row.step_time_ratio <= 1.0
    full = table.set_index("method").loc["Full finetuning"]
    assert full.step_time_ratio == 1.0 and full.budget_percent == 100.0
    adapt = table.set_index("method").loc["AdaPT"]
    assert adapt.trainable_params == report.select(1.0, 10.0).params + anat.head_params + 5 * anat.embedding_dim


def test_matched_lora_rank_is_the_closest(setup):
    anat = anatomy(setup[0])
    per_rank = lora_params(anat, 1)
    assert lora_params(anat, 8) == 8 * per_rank
    assert matched_lora_rank(anat, 12 * per_rank + 1) == 12
    assert matched_lora_rank(anat, 1) == 1
