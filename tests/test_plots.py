"""The figures as pure functions, without Streamlit: they build from library results, show what they claim
(traces, outlines, cut-off lines, highlighted tokens) and cope with empty or partial inputs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from adapt_core.data import Split, TaskData
from adapt_core.plots import data_figures as data_plots
from adapt_core.plots import runs_figures as run_plots
from adapt_core.plots import sensitivity_figures as sens_plots
from adapt_core.plots import tokens_figures as token_plots
from adapt_core.plots.style import MISSING, PALETTE, display_frame, fmt, is_empty, run_color
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
    titles = [a.text for a in fig.layout.annotations][:3]
    assert len(fig.data) == 3 and all(t.startswith(m) for t, m in zip(titles, sens_plots.METRICS.values(), strict=True))
    boxes = [shape.path.count("Z") for shape in fig.layout.shapes]  # one outline path per panel, a box per module
    assert boxes == [int(frame["selected"].sum())] * 3
    # ...and each box sits on a selected module's cell: x = its type's column, y = its layer's row
    types, layers = list(dict.fromkeys(frame["type"])), sorted(frame["layer"].unique())
    chosen = frame[frame["selected"]]
    expected = {(types.index(t), layers.index(i)) for t, i in zip(chosen["type"], chosen["layer"], strict=True)}
    for shape in fig.layout.shapes:
        corners = re.findall(r"M(-?[\d.]+),(-?[\d.]+)H", shape.path)  # each box's lower-left corner
        assert {(round(float(x) + 0.5), round(float(y) + 0.5)) for x, y in corners} == expected
    assert fig.data[0].z.shape == (6, 6)
    more = sens_plots.sensitivity_heatmap(report.to_frame(beta=1.0, top_k=60.0))
    assert more.layout.shapes[0].path.count("Z") > boxes[0]  # a larger budget outlines more


def test_heatmap_draws_grouped_reports_and_a_24_layer_model():
    report = synthetic_report(layers=24)
    for grouping in ("linear", "block", "layer"):
        frame = report.regroup(grouping).to_frame(1.0, 30.0)
        fig = sens_plots.sensitivity_heatmap(frame)
        assert fig.data[0].z.shape[0] == 24
    sens_plots.sensitivity_heatmap(report.to_frame(1.0, 10.0)).to_json()  # its time: benchmarks/responsiveness.py


def test_the_page_split_d_and_g_unoutlined_once_and_s_outlined_with_the_budget():
    frame = synthetic_report(layers=6).to_frame(beta=1.0, top_k=20.0)
    measured = sens_plots.sensitivity_heatmap(frame, ("D", "G"), outline=False)
    assert len(measured.data) == 2 and not measured.layout.shapes  # no budget drawn on what no budget changes
    score = sens_plots.sensitivity_heatmap(frame, ("S",))
    assert len(score.data) == 1 and score.layout.shapes[0].path.count("Z") == int(frame["selected"].sum())
    assert list(score.data[0].z.ravel()) == list(sens_plots.sensitivity_heatmap(frame).data[2].z.ravel())


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
    assert len(hist.data) == 3 and hist.layout.xaxis.title.text.startswith("words per example")


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
    assert fig.layout.shapes[0].x0 == pytest.approx(np.log10(5.0))  # the axis is log10(PPLu)
    empty = token_plots.pplu_histogram(VettedList([VettedCandidate("a b")]).to_frame())
    assert "not scored" in empty.layout.title.text and is_empty(empty)
    # the Tokens page's figure, which no decision changes: one series of every scored candidate, same bins
    whole = token_plots.pplu_histogram(vetted().to_frame(), cutoff=5.0, by_decision=False)
    assert [t.name for t in whole.data] == ["candidates (2)"] and whole.data[0].xbins == fig.data[0].xbins


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
        from adapt_core.run_reader import RunInfo

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
    assert list(table["tags"]) == [""] * 4  # runs without a folder of labels: no tags, not an error
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


# ---- figures that do not mislead: score and loss axes, run colours, picked runs, shared bins, log scales, "—"


def test_dev_score_axis_spans_zero_to_one_even_for_a_flat_chance_level_score():
    flat = {"r": pd.DataFrame({"step": [10, 20, 30], "dev_macro_f1": [0.002105, 0.00211, 0.002115]})}
    fig = run_plots.dev_curves(flat)
    low, high = fig.layout.yaxis.range
    assert low <= 0.0 and high >= 1.0 and fig.layout.yaxis.autorange is False
    assert "0–1" in fig.layout.yaxis.title.text
    accuracy = run_plots.dev_curves({"r": flat["r"].rename(columns={"dev_macro_f1": "dev_accuracy"})}, "dev_accuracy")
    assert accuracy.layout.yaxis.range[0] <= 0.0 and accuracy.layout.yaxis.range[1] >= 1.0


def test_loss_axis_starts_at_zero():
    fig = run_plots.loss_curves({"r": pd.DataFrame({"step": [1, 2, 3], "loss": [2.31, 2.30, 2.29]})})
    low, high = fig.layout.yaxis.range
    assert low == 0 and 2.31 < high < 2.6


def test_charts_without_data_say_so_instead_of_drawing_empty_axes():
    for fig in (
        run_plots.loss_curves({}),
        run_plots.dev_curves({"queued": pd.DataFrame(), "no eval yet": pd.DataFrame({"step": [1], "loss": [1.0]})}),
        run_plots.f1_bars(run_plots.aggregate(run_plots.run_table([]))),
        token_plots.pplu_histogram(pd.DataFrame({"pplu": [None], "decision": ["pending"]})),
    ):
        assert is_empty(fig) and not fig.data
        assert fig.layout.xaxis.visible is False and fig.layout.yaxis.visible is False
        assert "No data yet" in fig.layout.annotations[0].text
    assert not is_empty(run_plots.loss_curves({"r": pd.DataFrame({"step": [1], "loss": [1.0]})}))


def test_a_run_keeps_its_colour_across_calls_pages_and_other_runs():
    frame = pd.DataFrame({"step": [1, 2], "loss": [1.0, 0.5], "dev_macro_f1": [0.3, 0.4]})
    ids = [f"20261127-1200{i:02d}-run-{i:04x}" for i in range(12)]
    colours = {i: run_color(i) for i in ids}
    assert all(c in PALETTE for c in colours.values()) and len(set(colours.values())) > 3  # spread, not one colour
    first = run_plots.loss_curves({i: frame for i in ids[:3]}, colors=colours)
    other = run_plots.dev_curves({i: frame for i in [ids[2], *ids[5:9]]}, colors=colours)  # another set, order
    drawn = {t.name: t.line.color for fig in (first, other) for t in fig.data}
    assert drawn[ids[2]] == colours[ids[2]] and all(drawn[i] == colours[i] for i in drawn)
    assert run_color(ids[2]) == colours[ids[2]]  # a second call (a refresh) gives the same colour


def test_charts_show_running_and_completed_runs_by_default_and_others_only_when_picked():
    states = ["failed", "cancelled", "completed", "queued", "running", "interrupted", "completed", "completed"]
    runs = [FakeRun(f"r{k}", "adapt", 0, 0.5, state=s) for k, s in enumerate(states)]  # latest first
    assert run_plots.default_chart_runs(runs) == ["r2", "r4", "r6", "r7"]
    assert run_plots.default_chart_runs(runs, limit=2) == ["r2", "r4"]
    options = [r.id for r in run_plots.chart_options(runs)]
    assert "r3" not in options and {"r0", "r1", "r5"} <= set(options)  # failed / cancelled can still be picked


def test_f1_bars_span_the_score_scale_and_dot_each_run_in_its_colour():
    runs = [FakeRun("r1", "adapt", 0, 0.8), FakeRun("r2", "adapt", 1, 0.6), FakeRun("r3", "full", 0, 0.9)]
    table = run_plots.run_table(runs)
    fig = run_plots.f1_bars(run_plots.aggregate(table), table)
    assert fig.layout.yaxis.range[0] == 0 and fig.layout.yaxis.range[1] >= 1.0
    dots = fig.data[1]
    assert list(dots.y) == [0.8, 0.6, 0.9] and list(dots.marker.color) == [run_color(r) for r in ("r1", "r2", "r3")]
    assert list(dots.x) == ["adapt", "adapt", "full"]
    assert not any(t.showlegend for t in fig.data)  # no "trace 0" legend


def test_length_histogram_uses_the_same_bins_for_every_split():
    train = Split([" ".join(["w"] * n) for n in range(1, 200)], [0, 1] * 99 + [0])
    short = Split(["a b", "a b c", "a"], [0, 1, 0])
    task = TaskData("toy", ["x", "y"], {"train": train, "dev": short, "test": Split(["a " * 150], [1])})
    fig = data_plots.length_histogram(task, bins=40)
    edges = {(t.xbins.start, t.xbins.end, t.xbins.size) for t in fig.data}
    assert len(edges) == 1  # the same edges for train, dev and test
    start, end, size = edges.pop()
    assert start <= 1 and end >= 199 and size == 5 and all(t.histnorm == "percent" for t in fig.data)
    assert "same for every split" in fig.layout.xaxis.title.text and "split" in fig.layout.yaxis.title.text


def test_pplu_histogram_is_log_scaled_with_labelled_threshold_and_cap_lines():
    pplu = np.geomspace(1.5, 40_000, 200)  # four orders of magnitude, as mined PPLu are
    frame = pd.DataFrame({"pplu": pplu, "decision": ["pending"] * 200})
    fig = token_plots.pplu_histogram(frame, cutoff=30.0, cap=50)
    assert np.allclose(fig.data[0].x, np.log10(pplu)) and "log" in fig.layout.xaxis.title.text
    counts, _ = np.histogram(fig.data[0].x, bins=40)
    assert counts.max() < 0.2 * len(pplu)  # spread over many bars, not all in the first one
    lines = {a.text.split(" ")[0]: shape.x0 for a, shape in zip(fig.layout.annotations, fig.layout.shapes, strict=True)}
    assert lines["threshold"] == pytest.approx(np.log10(30.0))
    assert lines["cap:"] == pytest.approx(np.log10(np.sort(pplu)[49]))
    assert "1,000" in fig.layout.xaxis.ticktext and "10,000" in fig.layout.xaxis.ticktext  # ticks read as PPLu
    uncut = token_plots.pplu_histogram(frame, cap=500)
    assert len(uncut.layout.shapes) == 0  # a cap above the count cuts nothing, and the axis title says so
    assert "no threshold" in uncut.layout.xaxis.title.text and "cuts nothing" in uncut.layout.xaxis.title.text


def test_pplu_filter_note_says_when_the_filter_is_empty_or_hides_everything():
    frame = pd.DataFrame({"pplu": [120.0, 300.0, None], "decision": ["pending"] * 3})
    assert "PPLu filter empty" in token_plots.pplu_filter_note(frame, None)
    hides = token_plots.pplu_filter_note(frame, 50.0)
    assert "hides every candidate" in hides and "120" in hides
    assert "keeps 1 of 2" in token_plots.pplu_filter_note(frame, 200.0)


def test_d_heatmap_is_log_coloured_so_one_outlier_does_not_flatten_the_panel():
    report = synthetic_report(layers=6)
    frame = report.to_frame(beta=1.0, top_k=20.0)
    frame.loc[0, "D"] = frame["D"].max() * 10_000  # one outlying module
    fig = sens_plots.sensitivity_heatmap(frame)
    d_colours = np.asarray(fig.data[0].z, dtype=float)
    assert np.nanmedian(d_colours) > 0.05  # linear min-max would put every other cell near 0
    assert "log" in fig.layout.annotations[0].text and "log" in fig.data[2].colorbar.title.text
    assert np.nanmax(d_colours) == 1.0 and np.nanmin(d_colours) == 0.0


def test_missing_values_print_as_a_dash():
    assert fmt(None) == MISSING == "—" and fmt(float("nan")) == MISSING and fmt(pd.NA) == MISSING
    assert fmt(0.12345, ".3f") == "0.123" and fmt("adapt") == "adapt"


def test_the_chart_pick_keeps_the_users_choice_and_adds_runs_that_start_later():
    runs = [FakeRun("r2", "adapt", 0, 0.5, "failed"), FakeRun("r1", "adapt", 0, 0.5, "completed")]
    assert run_plots.chart_pick(runs, None) == ["r1"]  # before the user picks: the default
    seen = [r.id for r in run_plots.chart_options(runs)]
    assert run_plots.chart_pick(runs, ["r2"], seen) == ["r2"]  # the user's pick holds: r1 is not forced back in
    later = [FakeRun("r3", "adapt", 1, None, "running"), FakeRun("r0", "adapt", 0, 0.5, "queued"), *runs]
    assert run_plots.chart_pick(later, ["r2"], seen) == ["r3", "r2"]  # a run that started since joins
    assert run_plots.chart_pick(later, ["r2", "gone"], seen) == ["r3", "r2"]  # a deleted run drops out


def test_display_frame_prints_missing_values_as_a_dash_in_the_columns_format():
    frame = pd.DataFrame(
        {"run": ["a", "b"], "f1": [0.812345, None], "n": [1234567, None], "state": ["ok", None], "k": [1, 2]}
    )
    shown = display_frame(frame, {"f1": "%.4f", "n": "localized"})
    assert shown.to_dict("list") == {
        "run": ["a", "b"],
        "f1": ["0.8123", MISSING],
        "n": ["1,234,567", MISSING],
        "state": ["ok", MISSING],
        "k": [1, 2],
    }
    assert shown["k"].dtype == frame["k"].dtype and "None" not in shown.astype(str).to_numpy()


def test_a_run_in_a_picker_reads_its_label_task_model_and_score_or_a_dash():
    from types import SimpleNamespace

    from adapt_core.plots.runs_figures import run_choice

    config = {"method": "adapt", "train": {"seed": 1}, "dataset": "banking77", "model": "minilm-l6"}
    run = SimpleNamespace(id="20260101-000000-abcd", config=config, report={"test": {"macro_f1": 0.91234}})
    assert run_choice(run) == "adapt s1 ·abcd · banking77 · minilm-l6 · test macro-F1 0.912"
    assert run_choice(SimpleNamespace(**{**vars(run), "report": {}})).endswith("test macro-F1 —")  # never "None"
