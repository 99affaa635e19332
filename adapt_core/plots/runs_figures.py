"""Figures and tables of training runs: live loss and dev-metric curves (the Train page), and the comparison
across runs (the Compare page): macro-F1 mean ± std over seeds per dataset / model / method, and the costs.

Inputs are what the run store gives back (`run_reader.list_runs`, `RunInfo.metrics()`), so the figures work the same for
runs started from the studio or from a shell.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from adapt_core.plots.style import PALETTE, fmt, no_data, run_color, score_axis, styled, zero_based_axis

GROUP = ["dataset", "model", "method"]
COSTS = {  # column → axis title
    "train_seconds": "training time (s)",
    "peak_memory_mib": "peak memory (MiB)",
    "trainable_params": "trainable parameters",
    "tokens_per_example": "tokens per test example",
}


def run_label(info) -> str:
    """A short legend name: method, seed and the run id's random suffix."""
    from adapt_core.run_reader import method_name

    method = method_name(info.config) or "?"
    seed = info.config.get("train", {}).get("seed", "?")
    return f"{method} s{seed} ·{info.id[-4:]}"


def run_choice(info) -> str:
    """How a run reads in a picker of finished runs: its label, dataset, model and test macro-F1 ("—" if none)."""
    score = fmt(info.report.get("test", {}).get("macro_f1"), ".3f")
    return f"{run_label(info)} · {info.config.get('dataset')} · {info.config.get('model')} · test macro-F1 {score}"


MAX_POINTS = 400  # per line: a live chart is redrawn every second, so long runs are averaged down to this
MARKERS_UP_TO = 150  # points per line that still get a marker each


def downsample(frame: pd.DataFrame, column: str, max_points: int = MAX_POINTS) -> pd.DataFrame:
    """`step` and `column` of the rows where `column` is set; above `max_points` rows, consecutive buckets are
    averaged (each point sits at its bucket's last step, so the last step logged is always shown)."""
    rows = frame.dropna(subset=[column])[["step", column]].reset_index(drop=True)
    if len(rows) <= max_points:
        return rows
    bucket = np.arange(len(rows)) * max_points // len(rows)
    return rows.groupby(bucket).agg({"step": "last", column: "mean"}).reset_index(drop=True)


CHART_STATES = ("running", "completed")  # the runs a chart shows unless the user picks others
CHART_RUNS = 5  # at most this many of them, latest first


def chart_options(runs: Sequence) -> list:
    """The runs a chart can show: every run with metrics to draw (not queued, not unreadable), latest first."""
    return [r for r in runs if r.state not in ("queued", "unreadable") and not getattr(r, "problem", None)]


def default_chart_runs(runs: Sequence, limit: int | None = CHART_RUNS) -> list[str]:
    """The ids a chart shows before the user picks: the latest `limit` (None: all) running or completed runs.
    Failed, cancelled and interrupted runs are shown only when picked, so they never push finished ones out."""
    return [r.id for r in chart_options(runs) if r.state in CHART_STATES][:limit]


def chart_pick(
    runs: Sequence, picked: Sequence[str] | None, seen: Sequence[str] = (), limit: int | None = CHART_RUNS
) -> list[str]:
    """The ids to chart now, latest first: the default before the user picked (`picked` None); after, the user's
    picks that still exist plus the default runs that were not among the options last time (`seen`), so a run
    launched or started since joins the live charts without undoing what the user chose."""
    options = [r.id for r in chart_options(runs)]
    default = default_chart_runs(runs, limit)
    if picked is None:
        return default
    keep = set(picked) | {i for i in default if i not in set(seen)}
    return [i for i in options if i in keep]


def _curves(
    metrics: Mapping[str, pd.DataFrame], column: str, ytitle: str, title: str, colors: Mapping[str, str] | None
) -> go.Figure:
    traces = []  # plain lists, one Figure at the end: redrawn every second, plotly's validation of pandas is slow
    for name, frame in metrics.items():
        if frame.empty or column not in frame:
            continue
        rows = downsample(frame, column)
        if rows.empty:
            continue
        traces.append(
            go.Scatter(
                x=rows["step"].tolist(),
                y=rows[column].tolist(),
                name=name,
                mode="lines+markers" if len(rows) <= MARKERS_UP_TO else "lines",
                marker=dict(size=5),
                line=dict(color=(colors or {}).get(name) or run_color(name), width=2),
            )
        )
    fig = go.Figure(data=traces)
    if not fig.data:
        what = "no run picked" if not metrics else f"no {ytitle} logged yet"
        return no_data(title, f"No data yet: {what}", height=300)
    fig.update_layout(xaxis_title="step", yaxis_title=ytitle, uirevision="keep")  # keep zoom across redraws
    return styled(fig, height=300, title=title)


def loss_curves(metrics: Mapping[str, pd.DataFrame], colors: Mapping[str, str] | None = None) -> go.Figure:
    """Training loss per step, one line per run (name → metrics frame; `colors`: name → colour, by default a
    hash of the name); the axis starts at 0, so a drop is seen at its true size."""
    fig = _curves(metrics, "loss", "loss", "Training loss", colors)
    return fig if not fig.data else zero_based_axis(fig, [y for trace in fig.data for y in trace.y])


def _metric_name(metric: str) -> str:
    """dev_macro_f1 → macro-F1."""
    return metric.removeprefix("dev_").replace("_", "-").replace("f1", "F1")


def dev_curves(
    metrics: Mapping[str, pd.DataFrame], metric: str = "dev_macro_f1", colors: Mapping[str, str] | None = None
) -> go.Figure:
    """A dev metric at each evaluation, one line per run, on the whole [0, 1] scale: a flat chance-level score
    looks flat, however little it wobbles."""
    name = _metric_name(metric)
    fig = _curves(metrics, metric, f"dev {name} (0–1)", f"Dev {name}", colors)
    return fig if not fig.data else score_axis(fig)


def run_table(runs: Sequence) -> pd.DataFrame:
    """One row per run (RunInfo): its summary plus its tags (as the Runs page sets them), peak memory in MiB and the
    measured seconds per step."""
    from adapt_core.run_management import read_labels

    rows = []
    for info in runs:
        row = info.summary()
        row["tags"] = ", ".join(read_labels(info.dir)["tags"]) if getattr(info, "dir", None) else ""
        peak = row.pop("peak_memory_bytes", None)
        row["peak_memory_mib"] = peak / 2**20 if peak else None
        row["step_seconds"] = info.report.get("step_seconds")
        rows.append(row)
    columns = [
        "run",
        "state",
        "tags",
        *GROUP,
        "seed",
        "test_macro_f1",
        "test_accuracy",
        "train_seconds",
        "step_seconds",
        "peak_memory_mib",
        "trainable_params",
        "tokens_per_example",
        "step",
        "total",
    ]
    return pd.DataFrame(rows, columns=columns)


def aggregate(table: pd.DataFrame) -> pd.DataFrame:
    """Completed runs grouped by dataset / model / method: macro-F1 mean, std and seed count, mean costs (the one
    aggregation, `comparison.mean_over_seeds`, that the benchmark grid uses too)."""
    from adapt_core.comparison import mean_over_seeds

    return mean_over_seeds(table, GROUP, "test_macro_f1", list(COSTS))


def _group_label(agg: pd.DataFrame, rows: pd.DataFrame | None = None) -> list[str]:
    """The bar names of `agg` (method, plus dataset / model where they vary), for its rows or for `rows`."""
    several = [c for c in ("dataset", "model") if agg[c].nunique() > 1]
    rows = agg if rows is None else rows
    return [" · ".join([str(r["method"])] + [str(r[c]) for c in several]) for _, r in rows.iterrows()]


def f1_bars(agg: pd.DataFrame, table: pd.DataFrame | None = None) -> go.Figure:
    """Test macro-F1, mean ± std over seeds, one bar per dataset / model / method, on the whole [0, 1] scale;
    with the run `table`, each completed run is a dot on its bar in the run's own colour."""
    if agg.empty:
        return no_data("Macro-F1 (mean ± std over seeds)", "No data yet: no completed run picked", height=340)
    labels = _group_label(agg)
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=agg["macro_f1_mean"],
            marker_color=PALETTE[0],
            error_y=dict(type="data", array=agg["macro_f1_std"], visible=True),
            text=[
                f"{m:.3f} ± {s:.3f} (n={n})"
                for m, s, n in zip(agg["macro_f1_mean"], agg["macro_f1_std"], agg["seeds"], strict=True)
            ],
            textposition="outside",
            cliponaxis=False,
            showlegend=False,  # the bars are named on the x axis; with the run dots a legend would say "trace 0"
        )
    )
    if table is not None:
        done = table[(table["state"] == "completed") & table["test_macro_f1"].notna()]
        fig.add_trace(
            go.Scatter(
                x=_group_label(agg, done),
                y=done["test_macro_f1"],
                mode="markers",
                name="runs",
                marker=dict(color=[run_color(r) for r in done["run"]], size=9, line=dict(color="white", width=1)),
                text=done["run"],
                hovertemplate="%{text}<br>test macro-F1 %{y:.4f}<extra></extra>",
                showlegend=False,
            )
        )
    fig.update_layout(yaxis_title="test macro-F1 (0–1)", bargap=0.45)
    fig.update_yaxes(range=[0, 1.08])  # the whole score scale, with room above a bar at 1 for its label
    return styled(fig, height=340, title="Macro-F1 (mean ± std over seeds)")


def cost_bars(agg: pd.DataFrame, column: str) -> go.Figure:
    """One cost (a key of COSTS) per dataset / model / method."""
    title = COSTS[column]
    if agg.empty or agg[column].isna().all():
        return no_data(title[0].upper() + title[1:], f"No data yet: no {title} recorded", height=280)
    fig = go.Figure(go.Bar(x=_group_label(agg), y=agg[column], marker_color=PALETTE[1]))
    fig.update_layout(yaxis_title=title, bargap=0.45)
    if column == "trainable_params":  # from a few thousand (AdaPT, LoRA) to the whole model: powers of ten
        fig.update_yaxes(type="log", dtick=1, tickformat="~s")
    return styled(fig, height=280, title=title[0].upper() + title[1:])


def probability_bars(label_names: Sequence[str], probabilities, top: int = 10) -> go.Figure:
    """The `top` most probable labels, most probable on top."""
    order = sorted(range(len(label_names)), key=lambda i: -float(probabilities[i]))[:top][::-1]
    fig = go.Figure(
        go.Bar(
            x=[float(probabilities[i]) for i in order],
            y=[str(label_names[i]) for i in order],
            orientation="h",
            marker_color=PALETTE[0],
            text=[f"{float(probabilities[i]):.1%}" for i in order],
            textposition="outside",
        )
    )
    fig.update_layout(xaxis_title="probability", xaxis_range=[0, 1.1])
    return styled(fig, height=max(220, 40 + 28 * len(order)), title="Label probabilities")
