"""Figures of the mined vocabulary candidates: the PPLu histogram with its cut-off, and tokenizations as HTML
chips with the new tokens highlighted (the Tokens page's before/after view and the Playground)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from adapt_core.plots.style import NEW_TOKEN_COLOR, styled

DECISION_COLORS = {"accepted": "#16a34a", "pending": "#94a3b8", "rejected": "#dc2626"}


def pplu_histogram(candidates: pd.DataFrame, cutoff: float | None = None, bins: int = 40) -> go.Figure:
    """PPLu of the candidates (columns `pplu`, `decision`), stacked by decision, with the cut-off as a line."""
    scored = candidates.dropna(subset=["pplu"])
    fig = go.Figure()
    for decision, color in DECISION_COLORS.items():
        values = scored.loc[scored["decision"] == decision, "pplu"]
        if len(values):
            fig.add_trace(go.Histogram(x=values, name=f"{decision} ({len(values)})", marker_color=color, nbinsx=bins))
    if cutoff is not None:
        fig.add_vline(
            x=cutoff,
            line_dash="dash",
            line_color="#111827",
            annotation_text=f"cut-off {cutoff:.3g}",
            annotation_position="top right",
        )
    title = "Unigram-normalised perplexity (lower = more cohesive)"
    if scored.empty:
        title += ": not scored"
    fig.update_layout(barmode="stack", xaxis_title="PPLu", yaxis_title="candidates")
    return styled(fig, height=300, title=title)


def _chip(piece: str, is_new: bool) -> str:
    stripped = piece.lstrip()
    space = " " if len(stripped) < len(piece) else ""
    style = (
        f"background:{NEW_TOKEN_COLOR};border-color:#d97706;font-weight:600"
        if is_new
        else "background:#f1f5f9;border-color:#cbd5e1"
    )
    return (
        f'{space}<span class="tok{" new" if is_new else ""}" style="{style};border:1px solid;border-radius:4px;'
        f'padding:1px 3px;margin:1px;display:inline-block;font-family:monospace;font-size:0.9em">'
        f"{html.escape(stripped) or '&nbsp;'}</span>"
    )


def token_html(pieces: Sequence[tuple[str, bool]], label: str | None = None) -> str:
    """One chip per token, new tokens highlighted; a piece's leading spaces are shown between chips."""
    count = (
        f'<span style="color:#64748b;font-size:0.85em"> · {len(pieces)} tokens, '
        f"{sum(new for _, new in pieces)} new</span>"
    )
    head = f"<b>{html.escape(label)}</b>{count}<br>" if label else ""
    return f'<div style="line-height:1.9">{head}{"".join(_chip(p, n) for p, n in pieces)}</div>'


def candidate_frame(vetted, texts: Sequence[str] | None = None) -> pd.DataFrame:
    """The vetting table: one row per candidate (those in `texts`, in that order, or all): decision, text, support,
    per-class support (a list, for a bar column), the top class, purity, mutual information, PPLu, the decision's
    reason (the acceptance policy writes one for every candidate), an example."""
    frame = vetted.to_frame().set_index("text", drop=False)
    if texts is not None:
        frame = frame.loc[list(texts)]
    names = vetted.label_names or []

    def top_class(support) -> str | None:
        if not support or not names:
            return None
        best = max(range(len(support)), key=support.__getitem__)
        return f"{names[best]} ({support[best]})"

    return pd.DataFrame(
        {
            "decision": frame["decision"],
            "text": frame["text"],
            "support": frame["support"],
            "per_class": [list(s) if s else [] for s in frame["class_support"]],
            "top_class": [top_class(s) for s in frame["class_support"]],
            "purity": frame["purity"],
            "mutual_info": frame["mutual_info"],
            "pplu": frame["pplu"],
            "reason": frame["reason"],
            "example": [e[0] if e else "" for e in frame["examples"]],
        }
    ).reset_index(drop=True)
