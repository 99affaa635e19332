"""The Train form in the page's address: what a user set is mirrored into the URL's query parameters, and a fresh
session (a browser reload, a bookmarked link) starts from them; within a session a widget's value outlives a visit
to another page (`initial`/`remember` keep it in the session too). Without it a reload fell back to the defaults: an
emptied Max steps, and the next Launch started a two-hour run instead of the 20 steps on screen.

A value already in this session always wins (the URL only seeds a new session); a URL value of the wrong kind is
ignored with a one-line warning, so a mistyped link never breaks the page.
"""

from __future__ import annotations

import json

import streamlit as st

from adapt_core.forms import FieldSpec, field_specs
from studio.widgets import config_form, form_state_key

_BAD = object()


def _parse(raw: str, spec: FieldSpec):
    """The URL text `raw` as a value of `spec`'s kind, or _BAD."""
    try:
        value = json.loads(raw)
    except ValueError:
        return _BAD
    if value is None:
        return None if spec.optional else _BAD
    kinds = {"bool": bool, "int": int, "float": int | float, "choice": object, "list": str}.get(spec.kind, str)
    if isinstance(value, bool) and spec.kind != "bool":
        return _BAD
    if not isinstance(value, kinds) or (spec.kind == "choice" and value not in spec.choices):
        return _BAD
    return float(value) if spec.kind == "float" else value  # a number input refuses an int for a float field


def _save(name: str, value) -> None:
    text = json.dumps(value)
    if st.query_params.get(name) != text:  # only a change is sent to the browser
        st.query_params[name] = text


def form(cls: type, key: str, prefix: str, *, exclude=(), defaults=None, **kwargs):
    """`widgets.config_form`, its values seeded from and written back to the URL parameters `{prefix}.{field}`."""
    specs = field_specs(cls, exclude=exclude, defaults=defaults)
    for spec in specs:
        state_key, raw = form_state_key(key, spec.name), st.query_params.get(f"{prefix}.{spec.name}")
        if raw is None or state_key in st.session_state:
            continue
        value = _parse(raw, spec)
        if value is _BAD:
            st.warning(f"Ignored {prefix}.{spec.name}={raw} in the address: not a valid {spec.label.lower()}.")
        else:
            st.session_state[state_key] = value
    config = config_form(cls, key, exclude=exclude, defaults=defaults, **kwargs)
    for spec in specs:
        _save(f"{prefix}.{spec.name}", st.session_state.get(form_state_key(key, spec.name)))
    return config


def _kept(name: str) -> str:
    return f"persist:{name}"  # a plain session key: Streamlit drops a widget's own key when its page is not drawn


def initial(name: str, default, allowed=None):
    """A widget's first value when its page is drawn: the value this session last `remember`ed (a visit to another
    page drops the widget's own state, and page navigation clears the URL's parameters), else the URL's `name`
    when valid (one of `allowed`, else of the default's type), else `default`. Pass it as the widget's
    index/value; `remember` writes the value back."""
    kept = st.session_state.get(_kept(name), _BAD)
    if kept is not _BAD and (kept in allowed if allowed is not None else type(kept) is type(default)):
        return kept
    raw = st.query_params.get(name)
    try:
        value = json.loads(raw) if raw is not None else default
    except ValueError:
        value = _BAD
    valid = value in allowed if allowed is not None else type(value) is type(default)
    if not valid:
        st.warning(f"Ignored {name}={raw} in the address: not a valid {name}.")
        return default
    return value


def remember(name: str, value) -> None:
    """Keep a widget's current value for this session and write it to the URL parameter `name`."""
    st.session_state[_kept(name)] = value
    _save(name, value)
