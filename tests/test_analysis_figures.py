"""plots/analysis_figures.py: the confusion heatmap (counts in the cells only while legible), the ranked confusions, the
per-class F1 difference, misclassified examples as escaped HTML with new tokens marked, and the budget frontier."""

from __future__ import annotations

import numpy as np
import pandas as pd

from adapt_core.plots import analysis_figures as plots
from adapt_core.run_analysis import top_confusions


def test_confusion_heatmap_colours_the_share_of_the_true_class():
    confusion = np.array([[8, 2], [0, 0]])  # the second class has no example: no division by zero
    fig = plots.confusion_heatmap(confusion, ["a", "b"])
    heat = fig.data[0]
    assert np.asarray(heat.z).tolist() == [[0.8, 0.2], [0.0, 0.0]]
    assert np.asarray(heat.text).tolist() == [[8, 2], [0, 0]]
    big = plots.confusion_heatmap(np.eye(plots.GRID_UP_TO + 1, dtype=int), [str(i) for i in range(21)])
    assert big.data[0].text is None and big.layout.height > fig.layout.height


def test_confusion_bars_put_the_most_frequent_on_top():
    top = top_confusions(np.array([[5, 3, 1], [0, 4, 3], [2, 1, 9]]), ["x", "y", "z"], top=3)
    bar = plots.confusion_bars(top).data[0]
    assert list(bar.y) == ["z → x", "y → z", "x → y"]  # plotly draws the last bar on top
    assert list(bar.x) == [2, 3, 3]


def test_f1_diff_colours_gains_and_losses():
    diff = pd.DataFrame({"label": ["a", "b"], "f1_a": [0.9, 0.2], "f1_b": [0.5, 0.6], "diff": [-0.4, 0.4]})
    bar = plots.f1_diff_bars(diff, "A", "B").data[0]
    assert list(bar.marker.color) == [plots.PALETTE[3], plots.PALETTE[2]]


def test_examples_html_escapes_text_and_marks_new_tokens():
    rows = pd.DataFrame(
        {
            "text": ["<b>top up</b> now"],
            "true": ["a&b"],
            "predicted": ["c"],
            "probability": [0.91],
            "new_tokens": [[[3, 9]]],
        }
    )
    out = plots.examples_html(rows)
    assert '<mark class="new-token"' in out and ">top up</mark>" in out
    assert "&lt;b&gt;" in out and "<b>" not in out and "a&amp;b" in out and "91%" in out


def test_frontier_has_a_series_per_method_and_source_sorted_by_cost():
    agg = pd.DataFrame(
        {
            "source": ["runs", "runs", "grid", "runs"],
            "method": ["adapt", "adapt", "adapt", "full"],
            "setting": ["top_k=20", "top_k=5", "top_k=5", ""],
            "seeds": [2, 3, 1, 1],
            "macro_f1_mean": [0.7, 0.6, 0.55, 0.8],
            "macro_f1_std": [0.02, 0.01, 0.0, 0.0],
            "trainable_params": [4000, 1000, 1000, 90000],
            "step_seconds": [0.4, 0.3, None, 1.0],
        }
    )
    fig = plots.frontier_figure(agg, "trainable_params")
    names = [t.name for t in fig.data]
    assert names == ["adapt (grid)", "adapt", "full"] and fig.layout.xaxis.type == "log"
    runs_adapt = fig.data[1]
    assert list(runs_adapt.x) == [1000, 4000] and list(runs_adapt.error_y.array) == [0.01, 0.02]
    by_time = plots.frontier_figure(agg, "step_seconds")
    assert [t.name for t in by_time.data] == ["adapt", "full"]  # the grid point without a step time is left out
    assert by_time.layout.xaxis.type is None


def test_a_step_time_measured_beside_other_work_is_hollow_only_against_step_time():
    agg = pd.DataFrame(
        {
            "source": ["grid", "grid"],
            "method": ["adapt", "adapt"],
            "setting": ["top_k=5", "top_k=20"],
            "seeds": [3, 3],
            "macro_f1_mean": [0.6, 0.7],
            "macro_f1_std": [0.01, 0.02],
            "trainable_params": [1000, 4000],
            "step_seconds": [0.9, 0.5],
            "timed_loaded": [True, False],
        }
    )
    by_time = plots.frontier_figure(agg, "step_seconds")
    points = by_time.data[0]
    assert list(points.x) == [0.5, 0.9] and list(points.marker.symbol) == ["diamond", "diamond-open"]
    assert [c[2] for c in points.customdata] == ["", " · timed beside other work"]
    assert "hollow: timed beside other work" in by_time.layout.xaxis.title.text
    by_size = plots.frontier_figure(agg, "trainable_params")  # the parameter count is no timing: nothing to mark
    assert list(by_size.data[0].marker.symbol) == ["diamond", "diamond"]
    assert "hollow" not in by_size.layout.xaxis.title.text
    unmarked = plots.frontier_figure(agg.assign(timed_loaded=False), "step_seconds")
    assert "hollow" not in unmarked.layout.xaxis.title.text
