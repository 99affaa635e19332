"""Figures of the mined vocabulary candidates: the PPLu histogram (log scale, with its threshold and cap) and a
sentence saying what the PPLu filter hides, and tokenizations as HTML chips with the new tokens highlighted (the
Tokens page's before/after view and the Playground)."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from adapt_core.plots.style import MARKER_COLOR, NEW_TOKEN_COLOR, no_data, styled

DECISION_COLORS = {"accepted": "#16a34a", "pending": "#94a3b8", "rejected": "#dc2626"}


def _log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """Ticks at 1, 2, 5 × powers of ten between `lo` and `hi` (PPLu), placed on the log10 axis."""
    values = [m * 10.0**e for e in range(int(np.floor(lo)) - 1, int(np.ceil(hi)) + 2) for m in (1, 2, 5)]
    values = [v for v in values if lo - 0.05 <= np.log10(v) <= hi + 0.05]
    return [float(np.log10(v)) for v in values], [f"{v:,.0f}" if v >= 1 else f"{v:g}" for v in values]


def pplu_cap_value(candidates: pd.DataFrame, cap: int | None) -> float | None:
    """The PPLu of the `cap`-th lowest-scored candidate: at most `cap` new tokens are kept, lowest PPLu first, so
    nothing above it is kept (None when there are no more than `cap` scored candidates: the cap cuts nothing)."""
    values = np.sort(candidates["pplu"].dropna().to_numpy(dtype=float))
    return float(values[cap - 1]) if cap and len(values) > cap else None


def pplu_histogram(
    candidates: pd.DataFrame,
    cutoff: float | None = None,
    bins: int = 40,
    cap: int | None = None,
    by_decision: bool = True,
) -> go.Figure:
    """PPLu of the candidates (columns `pplu`, `decision`), stacked by decision (or, `by_decision=False`, one bar
    series: a figure no decision changes, drawn once beside the filter), on a log scale (PPLu spans orders of
    magnitude: on a linear axis every candidate falls in the first bar), with the threshold `cutoff` and the `cap`
    (at most that many new tokens, lowest PPLu first) as labelled vertical lines.

    Bins are equal in log10(PPLu) and the same for every decision; the ticks show PPLu itself."""
    scored = candidates.dropna(subset=["pplu"])
    scored = scored[scored["pplu"] > 0]  # a PPLu is a perplexity ratio, always positive
    title = "Unigram-normalised perplexity (lower = more cohesive)"
    if scored.empty:
        return no_data(title + ": not scored", "No data yet: no candidate has a PPLu score", height=300)
    logs = np.log10(scored["pplu"].to_numpy(dtype=float))
    lines = {"threshold": cutoff, f"cap: {cap} lowest": pplu_cap_value(scored, cap)}
    lines = {name: float(v) for name, v in lines.items() if v is not None and v > 0}
    lo = min([logs.min(), *np.log10(list(lines.values()))])
    hi = max([logs.max(), *np.log10(list(lines.values()))])
    size = max((hi - lo) / bins, 1e-3)
    edges = dict(start=lo - size / 2, end=hi + size / 2, size=size)
    fig = go.Figure()
    groups = DECISION_COLORS.items() if by_decision else [("candidates", DECISION_COLORS["pending"])]
    for decision, color in groups:
        mine = scored[scored["decision"] == decision] if by_decision else scored
        if len(mine):
            fig.add_trace(
                go.Histogram(
                    x=np.log10(mine["pplu"].to_numpy(dtype=float)),
                    xbins=edges,
                    name=f"{decision} ({len(mine)})",
                    marker_color=color,
                    hovertemplate="%{y} candidates<extra></extra>",
                )
            )
    for k, (name, value) in enumerate(lines.items()):
        fig.add_vline(
            x=float(np.log10(value)),
            line_dash="dash" if name == "threshold" else "dot",
            line_color=MARKER_COLOR,
            annotation_text=f"{name} {value:,.3g}",
            annotation_position="top right" if k == 0 else "top left",
        )
    absent = ["no threshold"] if "threshold" not in lines else []  # say why a line is missing, not just omit it
    if cap and not any(name.startswith("cap") for name in lines):
        absent.append(f"cap {cap:,} ≥ {len(scored)} scored: cuts nothing")
    tickvals, ticktext = _log_ticks(lo, hi)
    xtitle = " · ".join(["PPLu (log scale)", *absent])
    fig.update_layout(barmode="stack", xaxis_title=xtitle, yaxis_title="candidates")
    fig.update_xaxes(tickvals=tickvals, ticktext=ticktext)
    return styled(fig, height=300, title=title)


def pplu_filter_note(candidates: pd.DataFrame, max_pplu: float | None) -> str:
    """In words, what the PPLu filter does to the candidates: nothing (empty), hides all of them, or keeps some."""
    values = candidates["pplu"].dropna()
    if values.empty:
        return "No candidate has a PPLu score, so a PPLu filter would hide all of them."
    span = f"scored PPLu {values.min():,.3g}–{values.max():,.3g}"
    if max_pplu is None:
        return f"PPLu filter empty: no PPLu cut, all {len(candidates)} candidates pass it ({span})."
    kept = int((values <= max_pplu).sum())
    if not kept:
        return (
            f"The PPLu filter (≤ {max_pplu:g}) hides every candidate: the lowest PPLu is {values.min():,.3g}. "
            "Raise it or clear it."
        )
    return f"The PPLu filter (≤ {max_pplu:g}) keeps {kept} of {len(values)} scored candidates ({span})."


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
