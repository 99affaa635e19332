"""The sensitivity heatmaps: layers × module types for D (dispersion), G (gradient norm) and S (the score), with
the modules AdaPT selects at the current β and top-k % outlined.

Takes the frame of `SensitivityReport.to_frame(beta, top_k)`, so moving a slider only rebuilds this small figure.
Colours are scaled per panel (D and G live on different scales): D and G on a log scale, because a few outlying
modules (often the first or last layer) are orders of magnitude above the rest and on a linear scale would paint
every other cell the same pale colour; S linearly, as it is the score AdaPT ranks by. The panel titles and the
colour bar say which; hovering shows the raw values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from adapt_core.plots.style import SELECTED_COLOR, styled

METRICS = {"D": "D: index of dispersion", "G": "G: gradient norm", "S": "S = norm(D) + β·norm(G)"}
LOG_COLOURED = ("D", "G")  # raw measurements spanning orders of magnitude; S is drawn as it is ranked


def short_types(types: list[str]) -> dict[str, str]:
    """Each module type by its shortest dotted suffix that no other type shares (query, q_proj, output.dense, …)."""
    out = {}
    for t in types:
        parts = t.split(".")
        for n in range(1, len(parts) + 1):
            suffix = ".".join(parts[-n:])
            if not any(o != t and (o == suffix or o.endswith("." + suffix)) for o in types):
                break
        out[t] = suffix
    return out


def _grid(frame: pd.DataFrame, column: str, types: list[str], layers: list[int]) -> np.ndarray:
    """(layers, types) values of `column`; NaN where a layer lacks a type."""
    rows = frame["layer"].map({layer: i for i, layer in enumerate(layers)}).to_numpy()
    cols = frame["type"].map({t: j for j, t in enumerate(types)}).to_numpy()
    grid = np.full((len(layers), len(types)), np.nan)
    grid[rows, cols] = frame[column].to_numpy(dtype=float)
    return grid


def _scaled(z: np.ndarray) -> np.ndarray:
    lo, hi = np.nanmin(z), np.nanmax(z)
    return (z - lo) / (hi - lo) if hi > lo else np.zeros_like(z)


def colour_values(z: np.ndarray, log: bool) -> np.ndarray:
    """The 0–1 colour of each cell: min-max of log10(z) when `log` (values at or below 0, which a log cannot show,
    take the smallest positive value's colour), else min-max of z."""
    if not log or not np.any(z[np.isfinite(z)] > 0):
        return _scaled(z)
    floor = np.nanmin(np.where(z > 0, z, np.nan))
    return _scaled(np.log10(np.where(np.isnan(z), np.nan, np.maximum(z, floor))))


def _colour_bar_title(metrics: tuple[str, ...]) -> str:
    logged = [m for m in metrics if m in LOG_COLOURED]
    return "relative<br>per panel" + (f"<br>({', '.join(logged)}: log)" if logged else "")


def _title(metric: str) -> str:
    return METRICS[metric] + (" · log colour" if metric in LOG_COLOURED else "")


def sensitivity_heatmap(
    frame: pd.DataFrame, metrics: tuple[str, ...] = ("D", "G", "S"), outline: bool = True
) -> go.Figure:
    """One heatmap per metric (layers bottom-up × module types), selected modules outlined (`outline=False`: no
    outline, for panels that a budget does not change, D and G, drawn once while S follows the sliders)."""
    types = list(dict.fromkeys(frame["type"]))
    layers = sorted(frame["layer"].unique())
    labels = short_types(types)
    fig = make_subplots(
        rows=1,
        cols=len(metrics),
        subplot_titles=[_title(m) for m in metrics],
        shared_yaxes=True,
        horizontal_spacing=0.03,
    )
    selected = _grid(frame.assign(sel=frame["selected"].astype(float)), "sel", types, layers)
    params = _grid(frame, "params", types, layers)
    for col, metric in enumerate(metrics, start=1):
        z = _grid(frame, metric, types, layers)
        text = np.vectorize(lambda v: "" if np.isnan(v) else f"{v:.3g}")(z)
        fig.add_trace(
            go.Heatmap(
                z=colour_values(z, metric in LOG_COLOURED),
                x=[labels[t] for t in types],
                y=[f"layer {i}" for i in layers],
                zmin=0,
                zmax=1,
                colorscale="Blues" if metric != "S" else "Viridis",
                showscale=col == len(metrics),
                colorbar=dict(title=_colour_bar_title(metrics), thickness=10),
                customdata=np.dstack([z, params]),
                hovertemplate="%{y}, %{x}<br>" + metric + " = %{customdata[0]:.4g}<br>%{customdata[1]:,} params"
                "<extra></extra>",
                xgap=2,
                ygap=2,
                text=text if len(layers) <= 12 else None,
                texttemplate="%{text}" if len(layers) <= 12 else None,
                textfont=dict(size=9),
            ),
            row=1,
            col=col,
        )
    if outline:
        fig.update_layout(shapes=[_outline(selected, col) for col in range(1, len(metrics) + 1)])
    fig.update_xaxes(tickangle=-35)
    styled(fig, height=max(340, 130 + 30 * len(layers)))
    fig.update_layout(margin=dict(t=60))  # room for the panel titles, below the chart toolbar
    return fig


def _outline(selected: np.ndarray, col: int) -> dict:
    """One path shape drawing a rectangle around every selected cell of panel `col` (one shape per panel, not one
    per cell: plotly validates each shape, and a slider redraw must stay fast)."""
    axis = "" if col == 1 else str(col)
    boxes = [
        f"M{j - 0.5},{i - 0.5}H{j + 0.5}V{i + 0.5}H{j - 0.5}Z"
        for i, j in zip(*np.nonzero(selected == 1.0), strict=True)
    ]
    return dict(
        type="path",
        path="".join(boxes) or "M0,0",
        xref=f"x{axis}",
        yref=f"y{axis}",
        line=dict(color=SELECTED_COLOR, width=2.5 if boxes else 0),
    )
