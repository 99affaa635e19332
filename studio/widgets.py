"""Widgets the pages share: forms drawn from config dataclasses, error boxes instead of tracebacks, progress bars
that core functions can report to, and tokenizations with the new tokens highlighted.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable

import streamlit as st

from adapt_core.errors import AdaptError
from adapt_core.forms import FieldSpec, build_config, field_specs
from adapt_core.plots.tokens import token_html

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
