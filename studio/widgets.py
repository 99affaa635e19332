"""Widgets the pages share: forms drawn from config dataclasses, error boxes instead of tracebacks, progress bars
that core functions can report to, tokenizations with the new tokens highlighted, tables that show "—" for a
missing value, and the picker of the runs a chart shows.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping

import streamlit as st

from adapt_core.errors import AdaptError
from adapt_core.forms import FieldSpec, build_config, field_specs
from adapt_core.plots.runs_figures import CHART_RUNS, chart_options, chart_pick, run_label
from adapt_core.plots.style import display_frame
from adapt_core.plots.tokens_figures import token_html

log = logging.getLogger("adapt_studio")


@contextlib.contextmanager
def guard(what: str, stop: bool = True):
    """Show a failure as a message that says what to fix, never as a traceback; optionally end the page there."""
    try:
        yield
    except AdaptError as err:
        st.error(f"{what}: {err}", icon=":material/error:")
        if stop:
            st.stop()
    except Exception as err:  # an unexpected failure: a short message here, the traceback in the server log
        log.exception("%s failed", what)
        st.error(
            f"{what} failed unexpectedly ({type(err).__name__}: {err}). The details are in the server log.",
            icon=":material/error:",
        )
        if stop:
            st.stop()


def form_state_key(key: str, name: str) -> str:
    """Where form `key` keeps field `name`'s value in session state (the widget re-reads it on every run)."""
    return f"form:{key}:{name}"


def _widget(spec: FieldSpec, key: str):
    state_key = form_state_key(key, spec.name)
    widget_key = "_w_" + state_key
    default = ", ".join(map(str, spec.default or ())) if spec.kind == "list" else spec.default  # a list is text
    st.session_state.setdefault(state_key, default)
    st.session_state[widget_key] = st.session_state[state_key]
    common = dict(key=widget_key, help=spec.help, on_change=_copy_back, args=(widget_key, state_key))
    if spec.kind == "bool":
        return st.checkbox(spec.label, **common)
    if spec.kind == "choice":
        return st.selectbox(
            spec.label, list(spec.choices), index=None if spec.optional else 0, placeholder="any", **common
        )
    if spec.kind in ("int", "float"):
        step = spec.step if spec.kind == "float" else 1
        return st.number_input(
            spec.label,
            value=None,
            step=step,
            format="%g" if spec.kind == "float" else "%d",
            placeholder="empty" if spec.optional else None,
            **common,
        )
    return st.text_input(spec.label, placeholder="empty" if spec.optional else "", **common)


def _copy_back(widget_key: str, state_key: str) -> None:
    st.session_state[state_key] = st.session_state[widget_key]


def config_form(
    cls: type,
    key: str,
    *,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    defaults=None,
    columns: int = 3,
    base=None,
):
    """One widget per field of config class `cls` (label, help and choices from the dataclass); the values persist
    per `key` across reruns and pages. Returns the validated config, or None after showing what to fix."""
    specs = field_specs(cls, only=only, exclude=exclude, defaults=defaults)
    cols = st.columns(columns)
    values = {}
    for i, spec in enumerate(specs):
        with cols[i % columns]:
            values[spec.name] = _widget(spec, key)
    try:
        return build_config(cls, values, base=base)
    except AdaptError as err:
        st.error(str(err), icon=":material/error:")
        return None


def progress_bar(label: str):
    """A progress bar and a `progress(done, total)` callback for core functions to report to."""
    bar = st.progress(0.0, text=label)

    def update(done: int, total: int) -> None:
        bar.progress(min(done / max(total, 1), 1.0), text=f"{label} {done}/{total}")

    return bar, update


def tokens(pieces: list[tuple[str, bool]], label: str | None = None) -> None:
    """A tokenization as chips, the new tokens highlighted."""
    st.html(token_html(pieces, label))


def unreadable_runs(runs) -> None:
    """One warning per run with a damaged file (`unreadable: <file>: <reason>`); the other runs stay usable."""
    for info in runs:
        if info.problem:
            st.warning(f"Run {info.id} · unreadable: {info.problem}", icon=":material/broken_image:")


def table(frame, column_config: Mapping | None = None, **kwargs):
    """`st.dataframe` with "—" for every missing value (never "None"): the columns with a gap become text in their
    NumberColumn's format (`display_frame`) and keep their label, help and right alignment."""
    config = dict(column_config or {})
    formats = {c: v.get("type_config", {}).get("format") for c, v in config.items() if isinstance(v, dict)}
    shown = display_frame(frame, formats)
    for column in frame.columns:
        if shown[column].dtype == frame[column].dtype:
            continue  # nothing missing: the column keeps its type and its config
        old = config.get(column)
        label = old.get("label") if isinstance(old, dict) else old
        help_ = old.get("help") if isinstance(old, dict) else None
        numeric = isinstance(old, dict) and old.get("type_config", {}).get("type") == "number"
        numeric = numeric or str(frame[column].dtype).startswith(("float", "int", "Float", "Int"))
        config[column] = st.column_config.TextColumn(
            label or column, help=help_, alignment="right" if numeric else None
        )
    return st.dataframe(shown, column_config=config or None, **kwargs)


def pick_runs(runs, key: str, label: str = "Runs in the charts", limit: int | None = CHART_RUNS) -> list:
    """A multiselect of the runs a chart can show, preselecting the latest running and completed ones
    (`chart_pick`: failed or cancelled runs only when picked); the picks survive reruns and pages, and a run that
    starts later joins them. Returns the picked runs, latest first."""
    by_id = {r.id: r for r in chart_options(runs)}
    picked_key, seen_key, widget_key = f"{key}:picked", f"{key}:seen", f"_w_{key}"
    picked = chart_pick(runs, st.session_state.get(picked_key), st.session_state.get(seen_key, ()), limit)
    st.session_state[picked_key], st.session_state[seen_key] = picked, list(by_id)
    st.session_state[widget_key] = picked
    st.multiselect(
        label,
        list(by_id),
        format_func=lambda i: f"{run_label(by_id[i])} · {by_id[i].state}",
        key=widget_key,
        on_change=_copy_back,
        args=(widget_key, picked_key),
        placeholder="pick runs to chart",
        help="Running and completed runs by default; pick failed or cancelled ones to see them too.",
    )
    return [by_id[i] for i in st.session_state[picked_key] if i in by_id]
