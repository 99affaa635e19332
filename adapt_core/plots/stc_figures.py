"""Figures of a Sparsify-then-Classify run, from its saved search (`adapt_core.stc_fit.search_table(model_dir)`).

- `layer_scores`: the dev score of every single-layer probe, by layer, one line per (representation, pooling) —
  where in the network the task is readable;
- `saliency_map`: layer × neuron map of the kept neurons, coloured by each neuron's share of its layer probe's
  squared weight — which neurons the classifier reads, and how concentrated they are;
- `score_vs_size`: the dev score of every head of the grid against the number of neurons it uses, coloured by the
  number of layers k (left), and the best score per k (right) — what a smaller or shallower classifier costs.
All scores are dev scores: test is never part of a choice, so it is not shown beside them.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from adapt_core.plots.style import PALETTE, no_data, score_axis, styled

_DASH = {"mean": "solid", "max": "dash", "token": "dot"}
_SYMBOL = {"mean": "circle", "max": "diamond", "token": "square"}


def _label(metric: str) -> str:
    return {"macro_f1": "dev macro-F1 (0–1)", "accuracy": "dev accuracy (0–1)"}.get(metric, f"dev {metric}")


def layer_scores(search: dict, metric: str = "macro_f1") -> go.Figure:
    """Dev score of each layer's probe (x: layer, 1-based), a line per representation and pooling."""
    rows = search.get("probes") or []
    title = "Single-layer probes"
    if not rows:
        return no_data(title, "No data yet: no probe results")
    fig = go.Figure()
    combos = sorted({(r["representation"], r["pooling"]) for r in rows})
    for i, (rep, pooling) in enumerate(combos):
        mine = sorted(
            (r for r in rows if (r["representation"], r["pooling"]) == (rep, pooling)), key=lambda r: r["layer"]
        )
        fig.add_trace(
            go.Scatter(
                x=[r["layer"] + 1 for r in mine],
                y=[r[f"dev_{metric}"] for r in mine],
                mode="lines+markers",
                name=f"{rep} · {pooling}",
                line=dict(color=PALETTE[i % len(PALETTE)], dash=_DASH.get(pooling, "solid")),
                customdata=[[r["C"], r["nonzero_neurons"], r["width"]] for r in mine],
                hovertemplate="layer %{x}<br>%{y:.3f}<br>C %{customdata[0]}<br>%{customdata[1]} of %{customdata[2]} "
                "neurons nonzero<extra></extra>",
            )
        )
    chosen = (search.get("chosen") or {}).get("dev", {}).get(metric)
    if chosen is not None:
        fig.add_hline(
            y=chosen,
            line=dict(color="#111827", dash="dash", width=1),
            annotation_text=f"STC head {chosen:.3f}",
            annotation_position="bottom right",
        )
    fig.update_layout(xaxis_title="layer", yaxis_title=_label(metric))
    score_axis(fig)
    fig.update_xaxes(dtick=1 if len({r["layer"] for r in rows}) <= 12 else None)
    return styled(fig, height=360, title=title)


def saliency_map(search: dict) -> go.Figure:
    """Kept neurons: x = neuron index, y = layer, colour = the neuron's share of its layer's squared weight."""
    kept = search.get("kept") or []
    title = "Kept neurons (saliency)"
    if not kept:
        return no_data(title, "No data yet: no kept neurons (the run has not finished)")
    layers = np.array([r["layer"] for r in kept])
    neurons = np.array([r["neuron"] for r in kept])
    share = np.array([r["saliency"] for r in kept], dtype=float)
    chosen = search.get("chosen") or {}
    fig = go.Figure(
        go.Scattergl(
            x=neurons,
            y=layers + 1,
            mode="markers",
            marker=dict(
                size=7,
                symbol="square",
                color=share,
                colorscale="Viridis",
                showscale=True,
                colorbar=dict(title="share", thickness=12),
            ),
            hovertemplate="layer %{y}<br>neuron %{x}<br>share of the layer's w² %{marker.color:.3f}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title=f"neuron ({chosen.get('representation', '')})", yaxis_title="layer")
    fig.update_yaxes(dtick=1 if layers.max() < 12 else None, range=[0.5, layers.max() + 1.5])
    sub = f" — η={chosen['eta']}, {chosen.get('features', len(kept))} neurons" if "eta" in chosen else ""
    return styled(fig, height=300, title=title + sub)


def score_vs_size(search: dict, metric: str = "macro_f1") -> go.Figure:
    """Left: every head's dev score against its neuron count (log x), coloured by k. Right: best score per k."""
    rows = search.get("heads") or []
    title = "Score against neurons and layers used"
    if not rows:
        return no_data(title, "No data yet: no head results", height=380)
    fig = make_subplots(
        rows=1,
        cols=2,
        column_widths=[0.62, 0.38],
        horizontal_spacing=0.1,
        subplot_titles=("each head of the grid", "best head per k"),
    )
    ks = [r["k"] for r in rows]
    for pooling in sorted({r["pooling"] for r in rows}):
        mine = [r for r in rows if r["pooling"] == pooling]
        fig.add_trace(
            go.Scatter(
                x=[r["features"] for r in mine],
                y=[r[f"dev_{metric}"] for r in mine],
                mode="markers",
                name=pooling,
                marker=dict(
                    symbol=_SYMBOL.get(pooling, "circle"),
                    color=[r["k"] for r in mine],
                    colorscale="Plasma",
                    cmin=min(ks),
                    cmax=max(ks),
                    size=8,
                    opacity=0.8,
                    colorbar=dict(title="k", thickness=12, x=0.56),
                ),
                customdata=[[r["representation"], r["eta"], r["k"], r["C"]] for r in mine],
                hovertemplate="%{x} neurons, k=%{customdata[2]}<br>%{y:.3f}<br>%{customdata[0]}, η=%{customdata[1]}, "
                "C=%{customdata[3]}<extra></extra>",
            ),
            row=1,
            col=1,
        )
    for i, rep in enumerate(sorted({r["representation"] for r in rows})):
        best = {}
        for r in rows:
            if r["representation"] == rep:
                best[r["k"]] = max(best.get(r["k"], -np.inf), r[f"dev_{metric}"])
        fig.add_trace(
            go.Scatter(
                x=sorted(best),
                y=[best[k] for k in sorted(best)],
                mode="lines+markers",
                name=rep,
                line=dict(color=PALETTE[i % len(PALETTE)]),
            ),
            row=1,
            col=2,
        )
    _mark_chosen(fig, search.get("chosen") or {}, metric)
    fig.update_xaxes(type="log", title_text="neurons used", row=1, col=1)
    fig.update_xaxes(title_text="layers used (k)", dtick=1 if max(ks) <= 12 else None, row=1, col=2)
    fig.update_yaxes(title_text=_label(metric), row=1, col=1)
    score_axis(fig)  # both panels: the whole score scale
    return styled(fig, height=380, title=title)


def _mark_chosen(fig: go.Figure, chosen: dict, metric: str) -> None:
    score = chosen.get("dev", {}).get(metric)
    if score is None or "features" not in chosen:
        return
    fig.add_trace(
        go.Scatter(
            x=[chosen["features"]],
            y=[score],
            mode="markers",
            name="chosen",
            marker=dict(symbol="star", size=16, color="#111827"),
            hovertemplate="chosen: %{x} neurons, %{y:.3f}<extra></extra>",
        ),
        row=1,
        col=1,
    )
