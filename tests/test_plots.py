"""The figures as pure functions, without Streamlit: they build from library results, show what they claim
(traces, outlines, cut-off lines, highlighted tokens) and cope with empty or partial inputs."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from adapt_core.data import Split, TaskData
from adapt_core.plots import data as data_plots
from adapt_core.plots import runs as run_plots
from adapt_core.plots import sensitivity as sens_plots
from adapt_core.plots import tokens as token_plots
from adapt_core.selection import ModuleStat, SensitivityReport
from adapt_core.vetting import VettedCandidate, VettedList

BERT_TYPES = [
    "attention.self.query",
    "attention.self.key",
    "attention.self.value",
    "attention.output.dense",
    "intermediate.dense",
    "output.dense",
]


def synthetic_report(layers: int = 24, types=BERT_TYPES, seed: int = 0) -> SensitivityReport:
    rng = np.random.default_rng(seed)
    rows = [
        ModuleStat(
            f"enc.{i}.{t}",
            i,
            t,
            1000 * (4 if "dense" in t else 1),
            float(rng.random()),
            float(rng.random()),
            (f"enc.{i}.{t}",),
        )
        for i in range(layers)
        for t in types
    ]
    return SensitivityReport(rows, sum(r.params for r in rows))


def test_heatmap_has_three_panels_and_outlines_every_selected_module():
    report = synthetic_report(layers=6)
    frame = report.to_frame(beta=1.0, top_k=20.0)
    fig = sens_plots.sensitivity_heatmap(frame)
    assert len(fig.data) == 3 and [a.text for a in fig.layout.annotations][:3] == list(sens_plots.METRICS.values())
    boxes = [shape.path.count("Z") for shape in fig.layout.shapes]  # one outline path per panel, a box per module
    assert boxes == [int(frame["selected"].sum())] * 3
    assert fig.data[0].z.shape == (6, 6)
    more = sens_plots.sensitivity_heatmap(report.to_frame(beta=1.0, top_k=60.0))
    assert more.layout.shapes[0].path.count("Z") > boxes[0]  # a larger budget outlines more


def test_heatmap_for_grouped_reports_and_a_24_layer_model_is_quick():
    report = synthetic_report(layers=24)
    for grouping in ("linear", "block", "layer"):
        frame = report.regroup(grouping).to_frame(1.0, 30.0)
        fig = sens_plots.sensitivity_heatmap(frame)
        assert fig.data[0].z.shape[0] == 24
    start = time.perf_counter()
    sens_plots.sensitivity_heatmap(report.to_frame(1.0, 10.0)).to_json()
    assert time.perf_counter() - start < 5.0  # generous: shared CI machines


def test_short_type_names_are_unique():
    short = sens_plots.short_types(BERT_TYPES)
    assert short["attention.self.query"] == "query"
    assert len(set(short.values())) == len(BERT_TYPES)
    assert sens_plots.short_types(["self_attn.q_proj", "mlp.down_proj"]) == {
        "self_attn.q_proj": "q_proj",
        "mlp.down_proj": "down_proj",
    }


@pytest.fixture
def task():
    texts = ["the card is lost", "transfer failed today", "card blocked", "where is my transfer", "hello", "hi there"]
    split = Split(texts, [0, 1, 0, 1, 0, 1])
    return TaskData(
        "toy",
        ["card", "transfer"],
        {"train": split, "dev": Split(texts[:2], [0, 1]), "test": Split(texts[2:4], [0, 1])},
    )


def test_data_figures(task):
    fig = data_plots.label_balance(task)
    assert [t.name for t in fig.data] == ["train", "dev", "test"]
    assert list(fig.data[0].y) == [3, 3]
    hist = data_plots.length_histogram(task)
    assert len(hist.data) == 3 and hist.layout.xaxis.title.text == "words per example"


def vetted() -> VettedList:
    return VettedList(
        [
            VettedCandidate(
                "credit card",
                support=5,
                class_support=(4, 1),
                purity=0.8,
                pplu=2.0,
                decision="accepted",
                examples=("my credit card",),
            ),
            VettedCandidate("top up", support=3, class_support=(0, 3), purity=1.0, pplu=9.0),
            VettedCandidate("<b>x</b> y", support=3, pplu=None, decision="rejected"),
        ],
        ["card", "transfer"],
    )


def test_pplu_histogram_stacks_decisions_and_draws_the_cut_off():
    fig = token_plots.pplu_histogram(vetted().to_frame(), cutoff=5.0)
    assert {t.name.split(" ")[0] for t in fig.data} == {"accepted", "pending"}  # the unscored one is left out
    assert fig.layout.shapes[0].x0 == 5.0
    empty = token_plots.pplu_histogram(VettedList([VettedCandidate("a b")]).to_frame())
    assert "not scored" in empty.layout.title.text


def test_candidate_frame():
    frame = token_plots.candidate_frame(vetted(), ["top up", "credit card"])
    assert list(frame["text"]) == ["top up", "credit card"]
    assert frame.loc[1, "top_class"] == "card (4)" and frame.loc[1, "per_class"] == [4, 1]
    assert frame.loc[1, "example"] == "my credit card"
    assert len(token_plots.candidate_frame(vetted())) == 3


def test_token_html_highlights_new_tokens_and_escapes_text():
    html = token_plots.token_html([("my", False), (" <b>credit card</b>", True)], label="after")
    assert html.count('class="tok new"') == 1 and "&lt;b&gt;" in html and "<b>credit" not in html
    assert "2 tokens, 1 new" in html


class FakeRun:
    def __init__(self, id, method, seed, f1, state="completed"):
        self.id, self.state, self.problem = id, state, None
        self.config = {"dataset": "toy", "model": "tiny-bert", "method": method, "train": {"seed": seed}}
        self.report = {
            "test": {"macro_f1": f1},
            "train_seconds": 10.0,
            "peak_memory_bytes": 2**20,
            "trainable_params": 100,
            "tokens_per_example": 12.0,
            "step_seconds": 0.1,
        }
        self.status = {"step": 5, "total": 5}

    def summary(self):
        from adapt_core.runs import RunInfo

        return RunInfo.summary(self)


def test_run_table_and_mean_std_over_seeds():
    runs = [
        FakeRun("r1", "adapt", 0, 0.8),
        FakeRun("r2", "adapt", 1, 0.6),
        FakeRun("r3", "full", 0, 0.9),
        FakeRun("r4", "full", 1, None, state="running"),
    ]
    table = run_plots.run_table(runs)
    assert list(table["run"]) == ["r1", "r2", "r3", "r4"] and table.loc[0, "peak_memory_mib"] == 1.0
    agg = run_plots.aggregate(table).set_index("method")
    assert agg.loc["adapt", "seeds"] == 2 and agg.loc["adapt", "macro_f1_mean"] == pytest.approx(0.7)
    assert agg.loc["adapt", "macro_f1_std"] == pytest.approx(np.std([0.8, 0.6], ddof=1))
    assert agg.loc["full", "seeds"] == 1 and agg.loc["full", "macro_f1_std"] == 0.0
    fig = run_plots.f1_bars(agg.reset_index())
    assert list(fig.data[0].error_y.array) == list(agg["macro_f1_std"])
    for column in run_plots.COSTS:
        assert run_plots.cost_bars(agg.reset_index(), column).data[0].y is not None
    assert run_plots.aggregate(table.iloc[3:]).empty


def test_live_curves_one_line_per_run_and_probability_bars():
    metrics = {
        "a": pd.DataFrame({"step": [1, 2, 3], "loss": [1.0, 0.8, 0.5], "dev_macro_f1": [None, 0.5, None]}),
        "b": pd.DataFrame({"step": [1], "loss": [1.2]}),
        "c": pd.DataFrame(),
    }
    loss = run_plots.loss_curves(metrics)
    assert [t.name for t in loss.data] == ["a", "b"] and list(loss.data[0].y) == [1.0, 0.8, 0.5]
    dev = run_plots.dev_curves(metrics)
    assert [t.name for t in dev.data] == ["a"] and list(dev.data[0].x) == [2]
    bars = run_plots.probability_bars(["x", "y", "z"], np.array([0.2, 0.5, 0.3]), top=2)
    assert list(bars.data[0].y) == ["z", "y"]  # most probable on top


def test_long_runs_are_averaged_down_and_keep_their_last_step():
    frame = pd.DataFrame({"step": np.arange(1, 10_001), "loss": np.linspace(2.0, 1.0, 10_000)})
    small = run_plots.downsample(frame, "loss", max_points=400)
    assert len(small) == 400 and small["step"].iloc[-1] == 10_000
    assert small["loss"].is_monotonic_decreasing
    fig = run_plots.loss_curves({"long": frame})
    assert len(fig.data[0].x) == run_plots.MAX_POINTS and fig.data[0].mode == "lines"  # no marker per point
    assert run_plots.loss_curves({"short": frame.head(20)}).data[0].mode == "lines+markers"
