"""Figures of a corpus: label balance per split and text lengths (the Data page and the Home summary)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from adapt_core.plots.style import SPLIT_COLORS, no_data, styled


def label_balance(task, top: int | None = None) -> go.Figure:
    """Examples per class and split (a TaskData), classes sorted by their train count, largest first."""
    counts = task.class_counts()  # label × split
    counts = counts.sort_values("train", ascending=False)
    if top is not None:
        counts = counts.head(top)
    fig = go.Figure(
        [
            go.Bar(name=split, x=counts.index.astype(str), y=counts[split], marker_color=SPLIT_COLORS.get(split))
            for split in counts.columns
        ]
    )
    fig.update_layout(barmode="group", xaxis_title=None, yaxis_title="examples", bargap=0.15)
    fig.update_xaxes(tickangle=-45 if len(counts) > 12 else 0)
    return styled(fig, height=360, title=f"Label balance ({task.num_labels} classes)")


def length_bins(lengths: list[np.ndarray], bins: int = 40) -> dict:
    """One set of bin edges for every split (plotly's `xbins`): whole-number widths from the shortest to the
    longest text of all splits, so the bars of train, dev and test cover the same lengths and can be compared."""
    every = np.concatenate([np.asarray(x, dtype=float) for x in lengths]) if lengths else np.zeros(0)
    if not every.size:
        return dict(start=-0.5, end=0.5, size=1)
    lo, hi = float(every.min()), float(every.max())
    size = max(1, int(np.ceil((hi - lo + 1) / bins)))
    return dict(start=lo - 0.5, end=hi + 0.5, size=size)


def length_histogram(task, tokenizer=None, bins: int = 40) -> go.Figure:
    """Distribution of text lengths per split (words, or tokens when a tokenizer is given), each split as a
    percentage of its own examples, all splits over the same bins."""
    unit = "tokens" if tokenizer is not None else "words"
    title = f"Text length ({unit})"
    lengths = {}
    for split_name, split in task.splits.items():
        if tokenizer is not None:
            lengths[split_name] = [
                len(ids) for ids in tokenizer(list(split.texts), add_special_tokens=False)["input_ids"]
            ]
        else:
            lengths[split_name] = [len(t.split()) for t in split.texts]
    lengths = {name: np.asarray(x) for name, x in lengths.items() if len(x)}
    if not lengths:
        return no_data(title, "No data yet: every split is empty", height=300)
    edges = length_bins(list(lengths.values()), bins)
    fig = go.Figure()
    for split_name, values in lengths.items():
        fig.add_trace(
            go.Histogram(
                x=values,
                name=split_name,
                xbins=edges,
                opacity=0.6,
                histnorm="percent",
                marker_color=SPLIT_COLORS.get(split_name),
                hovertemplate="%{x} " + unit + ": %{y:.1f} % of " + split_name + "<extra></extra>",
            )
        )
    width = f"bins of {edges['size']} {unit}" if edges["size"] > 1 else f"one bin per {unit[:-1]} count"
    fig.update_layout(
        barmode="overlay",
        xaxis_title=f"{unit} per example ({width}, the same for every split)",
        yaxis_title="% of the split's examples",
    )
    return styled(fig, height=300, title=title)
