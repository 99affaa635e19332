"""Figures of a corpus: label balance per split and text lengths (the Data page and the Home summary)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from adapt_core.plots.style import SPLIT_COLORS, styled


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


def length_histogram(task, tokenizer=None, bins: int = 40) -> go.Figure:
    """Distribution of text lengths per split: words, or tokens when a tokenizer is given."""
    unit = "tokens" if tokenizer is not None else "words"
    fig = go.Figure()
    for split_name, split in task.splits.items():
        if tokenizer is not None:
            lengths = [len(ids) for ids in tokenizer(list(split.texts), add_special_tokens=False)["input_ids"]]
        else:
            lengths = [len(t.split()) for t in split.texts]
        fig.add_trace(
            go.Histogram(
                x=np.asarray(lengths),
                name=split_name,
                nbinsx=bins,
                opacity=0.6,
                histnorm="percent",
                marker_color=SPLIT_COLORS.get(split_name),
            )
        )
    fig.update_layout(barmode="overlay", xaxis_title=f"{unit} per example", yaxis_title="% of split")
    return styled(fig, height=300, title=f"Text length ({unit})")
