"""The look shared by the studio's figures: one palette, compact margins, legends under the plot.

No plotly template is set: in the studio Streamlit's theme styles every chart, and assigning a template costs about
0.1 s per figure, which a slider redraw cannot afford.
"""

from __future__ import annotations

import plotly.graph_objects as go

PALETTE = ("#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2", "#ca8a04", "#db2777", "#4b5563")
SPLIT_COLORS = {"train": "#2563eb", "dev": "#f97316", "test": "#16a34a"}
NEW_TOKEN_COLOR = "#fde68a"  # highlighted new tokens (amber-200)
SELECTED_COLOR = "#111827"  # outline of selected modules


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
