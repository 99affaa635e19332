"""Figures of why a run wins or loses (the Analysis page) and of what a parameter budget buys (the Compare page).

The confusion matrix as a heatmap (readable up to `GRID_UP_TO` classes; above, the page leads with the ranked
`confusion_bars` and keeps the full matrix one click away), the per-class F1 difference of two runs, misclassified
examples as HTML with the run's new tokens highlighted, and the budget frontier: macro-F1 (mean ± std over seeds)
against trainable parameters (log scale) or seconds per step, one series per method, one point per budget setting.
Inputs come from `run_analysis` and `comparison.frontier`.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from adapt_core.plots.style import NEW_TOKEN_COLOR, PALETTE, score_axis, styled

GRID_UP_TO = 20  # classes a confusion heatmap still shows legibly with a count in each cell
FRONTIER_AXES = {"trainable_params": "trainable parameters", "step_seconds": "seconds per step"}


def confusion_heatmap(confusion: np.ndarray, label_names: Sequence[str]) -> go.Figure:
    """Rows = true labels, columns = predictions; the colour is the share of the true class (so a rare class's
    mistakes show as plainly as a common one's), the hover and (up to GRID_UP_TO classes) the cell text the count."""
    confusion = np.asarray(confusion)
    share = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    names = [str(n) for n in label_names]
    small = len(names) <= GRID_UP_TO
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=names,
            y=names,
            customdata=confusion,
            colorscale="Blues",
            zmin=0,
            zmax=1,
            text=confusion if small else None,
            texttemplate="%{text}" if small else None,
            hovertemplate="true %{y}<br>predicted %{x}<br>%{customdata} examples (%{z:.0%} of the class)<extra></extra>",
            colorbar=dict(title="share of<br>true class", tickformat=".0%"),
        )
    )
    fig.update_layout(xaxis_title="predicted", yaxis_title="true", yaxis_autorange="reversed")
    side = 40 + min(max(28 * len(names), 260), 1400)
    return styled(fig, height=side + 80, title="Confusion matrix (test)")


def confusion_bars(top: pd.DataFrame) -> go.Figure:
    """The ranked mistakes (`run_analysis.top_confusions`), the most frequent on top."""
    rows = top.iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=rows["count"],
            y=[f"{t} → {p}" for t, p in zip(rows["true"], rows["predicted"], strict=True)],
            orientation="h",
            marker_color=PALETTE[3],
            text=[f"{c} ({s:.0%} of the class)" for c, s in zip(rows["count"], rows["share_of_true"], strict=True)],
            textposition="outside",
            cliponaxis=False,
        )
    )
    fig.update_layout(xaxis_title="test examples", yaxis_title="true → predicted")
    return styled(fig, height=max(240, 60 + 26 * len(rows)), title="Top confusions (test)")


def f1_diff_bars(diff: pd.DataFrame, name_a: str, name_b: str) -> go.Figure:
    """Per class, F1 of B minus F1 of A (`run_analysis.per_class_diff`): gains green, losses red, sorted."""
    fig = go.Figure(
        go.Bar(
            x=diff["diff"],
            y=diff["label"].astype(str),
            orientation="h",
            marker_color=[PALETTE[2] if d >= 0 else PALETTE[3] for d in diff["diff"]],
            customdata=diff[["f1_a", "f1_b"]],
            hovertemplate="%{y}: %{customdata[0]:.3f} → %{customdata[1]:.3f} (%{x:+.3f})<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title=f"F1 of {name_b} − F1 of {name_a}", yaxis_autorange="reversed")
    return styled(fig, height=max(240, 60 + 18 * len(diff)), title="Per-class F1 difference (test)")


def marked_html(pieces: Sequence[tuple[str, bool]]) -> str:
    """A text with its new-token pieces (`run_analysis.mark_spans`) highlighted; everything else escaped."""
    return "".join(
        f'<mark class="new-token" style="background:{NEW_TOKEN_COLOR};padding:0 2px;border-radius:3px">'
        f"{html.escape(piece)}</mark>"
        if new
        else html.escape(piece)
        for piece, new in pieces
    )


def examples_html(rows: pd.DataFrame) -> str:
    """Examples (`RunEvaluation.predictions` rows) as a table: the text with its new tokens highlighted (the spans
    the run's tokenizer found), true and predicted label, and the prediction's probability."""
    from adapt_core.run_analysis import mark_spans

    cells = "".join(
        f"<tr><td>{marked_html(mark_spans(r.text, r.new_tokens))}</td><td>{html.escape(str(r.true))}</td>"
        f"<td>{html.escape(str(r.predicted))}</td><td>{r.probability:.0%}</td></tr>"
        for r in rows.itertuples()
    )
    head = "<tr><th>text</th><th>true</th><th>predicted</th><th>prob.</th></tr>"
    return f'<table class="misclassified" style="font-size:0.9em;width:100%">{head}{cells}</table>'


GRID_SYMBOLS = ("diamond", "square", "triangle-up", "x")


def frontier_figure(agg: pd.DataFrame, x: str) -> go.Figure:
    """Macro-F1 mean ± std over seeds against `x` (a key of FRONTIER_AXES), one series per method (and source: the
    benchmark grid's dotted), budgets as points joined along the cost axis; the hover names setting and seeds.
    Against step time, a point whose time was measured beside other work (`timed_loaded`) is hollow and the axis
    title says so."""
    methods = sorted(agg["method"].unique())
    grids = sorted(s for s in agg["source"].unique() if s != "runs")  # one marker per profile and hardware
    symbols = {"runs": "circle"} | {s: GRID_SYMBOLS[i % len(GRID_SYMBOLS)] for i, s in enumerate(grids)}
    traces = []  # plain lists, one Figure built at the end: plotly validates a pandas column or an added trace slowly
    # a step time measured beside other work (`comparison.frontier`'s timed_loaded) is drawn hollow, as in the
    # benchmark report's cost figure: shown, but not as a measurement of the method
    marked = x == "step_seconds" and "timed_loaded" in agg
    for (source, method), rows in agg.dropna(subset=[x]).groupby(["source", "method"], sort=True):
        rows = rows.sort_values(x)
        hollow = rows["timed_loaded"].eq(True).tolist() if marked else [False] * len(rows)
        traces.append(
            go.Scatter(
                x=rows[x].tolist(),
                y=rows["macro_f1_mean"].tolist(),
                error_y=dict(type="data", array=rows["macro_f1_std"].tolist(), visible=True),
                name=method if source == "runs" else f"{method} ({source})",
                mode="lines+markers",
                marker=dict(size=9, symbol=[symbols[source] + ("-open" if h else "") for h in hollow]),
                line=dict(
                    color=PALETTE[methods.index(method) % len(PALETTE)], dash="solid" if source == "runs" else "dot"
                ),
                customdata=[
                    [setting, seeds, " · timed beside other work" if h else ""]
                    for setting, seeds, h in zip(rows["setting"], rows["seeds"], hollow, strict=True)
                ],
                hovertemplate="%{customdata[0]} · n=%{customdata[1]}<br>macro-F1 %{y:.3f}<br>%{x:,.4g}%{customdata[2]}"
                + "<extra>"
                + html.escape(str(method))
                + "</extra>",
            )
        )
    fig = go.Figure(data=traces)
    axis = FRONTIER_AXES[x]  # the hollow marks' meaning under the axis: a longer title runs under the toolbar
    if marked and agg.dropna(subset=[x])["timed_loaded"].eq(True).any():
        axis += " (hollow: timed beside other work)"
    fig.update_layout(xaxis_title=axis, yaxis_title="test macro-F1 (mean ± std, 0–1)")
    score_axis(fig)  # the whole scale: a chance-level point must not look like a result
    if x == "trainable_params":  # from a thousand (STC, LoRA) to the whole model: powers of ten
        fig.update_xaxes(type="log", tickformat="~s")
    styled(fig, height=380 + 18 * (len(fig.data) // 2), title=f"By {FRONTIER_AXES[x]}")  # the legend below grows
    fig.update_layout(legend=dict(y=-0.3))  # clear of the axis title
    return fig
