"""The look shared by the studio's figures: one palette, compact margins, legends under the plot, and the rules
that keep a figure from misleading: one colour per run (the same on every page and every refresh), score axes
that span [0, 1] and loss axes that start at 0, a "no data yet" message instead of empty axes, and "—" for a
missing value.

No plotly template is set: in the studio Streamlit's theme styles every chart, and assigning a template costs about
0.1 s per figure, which a slider redraw cannot afford.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping

import pandas as pd
import plotly.graph_objects as go

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563")
SPLIT_COLORS = {"train": "#2563eb", "dev": "#f97316", "test": "#16a34a"}
NEW_TOKEN_COLOR = "#fde68a"  # highlighted new tokens (amber-200)
SELECTED_COLOR = "#111827"  # outline of selected modules
MARKER_COLOR = "#111827"  # threshold and reference lines
MISSING = "—"  # how every table, metric and label shows a missing value (never "None" or "nan")
SCORE_RANGE = (0.0, 1.0)  # macro-F1 and accuracy: the whole scale, so a flat chance-level score looks flat


def styled(fig: go.Figure, height: int = 320, title: str | None = None) -> go.Figure:
    """Apply the house layout; returns the same figure."""
    fig.update_layout(
        height=height,
        margin=dict(l=10, r=10, t=40 if title else 10, b=10),
        title=dict(text=title, x=0, font=dict(size=15)) if title else None,
        legend=dict(orientation="h", yanchor="top", y=-0.22, x=0),
        font=dict(size=12),
    )
    return fig


def run_color(run_id: str) -> str:
    """The colour of a run: a stable hash of its id into PALETTE (crc32, not `hash()`, which Python salts per
    process), so a run keeps its colour across refreshes, pages and whichever other runs are shown."""
    return PALETTE[zlib.crc32(str(run_id).encode()) % len(PALETTE)]


def no_data(title: str | None, message: str, height: int = 320) -> go.Figure:
    """A figure that says `message` where the chart would be, with no axes (empty axes show a meaningless −1…4)."""
    fig = go.Figure()
    fig.add_annotation(
        text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font=dict(size=14, color="#64748b")
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(meta={"no_data": message})  # for tests and pages: a figure says that it has nothing to show
    return styled(fig, height=height, title=title)


def is_empty(fig: go.Figure) -> bool:
    """Whether `fig` is a `no_data` figure."""
    return isinstance(fig.layout.meta, dict) and "no_data" in fig.layout.meta


def score_axis(fig: go.Figure, **where) -> go.Figure:
    """A macro-F1 / accuracy y axis over the whole [0, 1] scale (a small margin so a line at 1 stays visible)."""
    fig.update_yaxes(range=[SCORE_RANGE[0] - 0.02, SCORE_RANGE[1] + 0.02], autorange=False, **where)
    return fig


def zero_based_axis(fig: go.Figure, values: Iterable[float], **where) -> go.Figure:
    """A y axis from 0 to a little above the largest of `values` (a loss, a cost): a drop is seen at its true size."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    top = max(finite, default=1.0)
    fig.update_yaxes(range=[0, top * 1.08 if top > 0 else 1.0], autorange=False, **where)
    return fig


def fmt(value, spec: str = ".3g") -> str:
    """`value` formatted with `spec`, or MISSING for None / NaN: the one way the studio prints a maybe-missing
    number."""
    try:
        if value is None or pd.isna(value):
            return MISSING
    except (TypeError, ValueError):  # a list or an array is not missing
        pass
    try:
        return format(value, spec)
    except (TypeError, ValueError):  # a text in a numeric column
        return str(value)


def _cell(value, spec: str | None) -> str:
    if spec == "localized":
        return fmt(value, ",.0f" if float(value).is_integer() else ",")
    if spec and spec.startswith("%"):
        return MISSING if fmt(value) == MISSING else spec % value  # a printf format, as Streamlit's columns take
    return fmt(value, ".6g") if isinstance(value, float) else fmt(value, "")


def display_frame(frame: pd.DataFrame, formats: Mapping[str, str | None] | None = None) -> pd.DataFrame:
    """`frame` for a table: each column with a missing value becomes text, its numbers in the column's printf
    format (`formats`: column → e.g. "%.4f", or "localized" for thousands separators) and its missing values as
    MISSING. Streamlit's tables print a missing cell as "None" whatever the column's format, so this is the only
    way to show "—"; columns without a missing value stay as they are (numbers, sortable as numbers)."""
    shown = frame.copy()
    for column in frame.columns:
        values = frame[column]
        missing = values.map(lambda v: fmt(v) == MISSING)
        if missing.any():
            spec = (formats or {}).get(column)
            shown[column] = [MISSING if gone else _cell(v, spec) for v, gone in zip(values, missing, strict=True)]
    return shown
