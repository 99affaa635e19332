"""The Tokens page's vetting widgets: the vetted list read from (and saved to) its file after every decision, the
filter (kept in the URL), the editable candidate table sorted by task-specificity, undo, a candidate in context
(KWIC), the "accept by policy" proposal, the before / after tokenization, and export / import.

The list lives in a file under the runs root (`workspace.vetted_path`), never only in the session, so decisions
survive reruns, reloads and new tabs; the session keeps a parsed copy while the file is unchanged. Every decision
made here records the sidebar's reviewer name and the time, and can be undone (the session keeps the last steps).
The page draws the decision area as a fragment, so a click reruns only that area; the heavy part that follows a
decision (tokenizing the dev texts again) is cached by the accepted tokens.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from dataclasses import asdict, fields
from pathlib import Path

import pandas as pd
import streamlit as st

from adapt_core.candidate_stats import candidate_specificity
from adapt_core.contexts import align, keyword_in_context
from adapt_core.errors import AdaptError
from adapt_core.forms import coerce, field_specs
from adapt_core.plots.tokens_figures import candidate_frame
from adapt_core.token_policy import POLICY_NAME
from adapt_core.vetting import DECISIONS, CandidateFilter, VettedList, import_decisions, load_vetted
from adapt_core.vetting_history import UndoStack, describe, record_changes
from adapt_core.workspace import load_vetted_or_empty, vetted_path
from studio import resources, state
from studio.widgets import config_form, guard, tokens

_CACHE = "_vetted_cache"
_UNDO = "_vetting_undo"  # {vetted file: UndoStack}: this session's last decisions
SORTS = ("specificity", "mutual_info", "pplu", "support", "purity", "text")  # the table's sort keys, default first
KWIC_CLASSES = 6  # classes shown in context (most texts first); the rest are counted


def _stamp(path: Path) -> int:
    return path.stat().st_mtime_ns if path.exists() else 0


def load(choice) -> tuple[Path, VettedList]:
    """(file, vetted list) for the sidebar's dataset (with its picked columns) and model; an empty list before
    the first mining."""
    path = vetted_path(choice.dataset, choice.model, columns=(choice.data.text_col, choice.data.label_col))
    return path, read(path)


def read(path: Path) -> VettedList:
    """The vetted list at `path`: the session's parsed copy while the file is unchanged."""
    cached = st.session_state.get(_CACHE)
    if cached and cached[0] == (str(path), _stamp(path)):
        return cached[1]
    with guard(f"Reading {path.name}"):
        vetted = load_vetted_or_empty(path)
    st.session_state[_CACHE] = ((str(path), _stamp(path)), vetted)
    return vetted


def save(path: Path, vetted: VettedList) -> None:
    vetted.save(path)
    st.session_state[_CACHE] = ((str(path), _stamp(path)), vetted)


def history(path: Path) -> UndoStack:
    """This session's undo stack for the vetted list at `path`."""
    return st.session_state.setdefault(_UNDO, {}).setdefault(str(path), UndoStack())


def apply(path: Path, rows: list[tuple[str, str]], what: str) -> int:
    """Set each (candidate, decision) as the sidebar's reviewer, undoably, and save at once; returns how many
    changed. Called from the widgets' callbacks: they run before the decision area redraws, so one click is one
    (fragment) run."""
    vetted = read(path)
    history(path).record(vetted, [t for t, _ in rows], what)
    by, changed = state.reviewer(), 0
    for decision in DECISIONS:  # one call per decision: a bulk decision stays one pass over the list
        texts = [t for t, d in rows if d == decision]
        changed += vetted.decide(texts, decision, by=by) if texts else 0
    history(path).seal(vetted)
    save(path, vetted)
    _fresh_table()
    return changed


def decide(path: Path, texts: list[str], decision: str) -> int:
    """One decision on `texts` (a bulk button's callback); see `apply`."""
    return apply(path, [(t, decision) for t in texts], f"{decision} {describe(texts)}")


def accept_by_policy(path: Path, task, tokenizer, policy) -> dict[str, int]:
    """Decide every candidate by the automatic acceptance policy (the one a run without a list uses), each with
    its reason, and save at once: a proposal the expert then vets (and may undo). The list is read when the click
    comes, not when the page was drawn. Returns the new counts."""
    from adapt_core.token_policy import decide_by_policy

    vetted = read(path)
    decided = decide_by_policy(vetted, task["train"], tokenizer, policy, task.num_labels)
    name = state.reviewer()
    record_changes(vetted, decided, f"policy {POLICY_NAME}" + (f", run by {name}" if name else ""))
    history(path).record(vetted, [c.text for c in vetted], "accept by policy")
    history(path).seal(decided)
    save(path, decided)
    return decided.counts()


def bulk_buttons(path: Path, shown) -> None:
    """Accept, reject or reset every candidate the filter shows (`shown`, a VettedList), in one decision."""
    for label, decision in (("Accept", "accepted"), ("Reject", "rejected"), ("Reset", "pending")):
        st.button(
            f"{label} the {len(shown)} shown",
            disabled=not shown,
            key=f"bulk_{decision}",
            help=f"Mark every candidate that the filter shows as {decision}.",
            on_click=decide,
            args=(path, shown, decision),
        )


def undo_button(path: Path) -> None:
    """Take back the newest decision of this session (several levels); the list is saved at once."""
    if undone := st.session_state.pop("_undone", None):  # told here: a callback may not draw in a fragment
        st.toast(f"Undone: {undone}", icon=":material/undo:")
    stack = history(path)
    label = f"Undo: {stack.last}" if stack.last else "Undo"
    st.button(
        label,
        icon=":material/undo:",
        disabled=not stack,
        key="undo",
        on_click=_undo,
        args=(path,),
        help=f"{len(stack)} steps to undo in this session",
    )


def _undo(path: Path) -> None:
    vetted = read(path)
    what = history(path).undo(vetted)
    save(path, vetted)
    _fresh_table()
    st.session_state["_undone"] = what


def _fresh_table() -> None:
    """A new table key: edits made on the old rows must not apply to the rows drawn next."""
    st.session_state["_editor_version"] = st.session_state.get("_editor_version", 0) + 1


def table(vetted: VettedList, texts: list[str], labels) -> pd.DataFrame:
    """The rows of the candidate table, with task-specificity (against the class shares of `labels`) and who
    decided when."""
    frame = candidate_frame(vetted, texts)
    by_text = {c.text: c for c in vetted}
    spec = dict(zip((c.text for c in vetted), candidate_specificity(vetted, labels), strict=True))
    frame.insert(2, "specificity", [spec[t] for t in frame["text"]])
    frame.insert(3, "pplu", frame.pop("pplu"))  # beside specificity: a filter to read next to the ranking
    frame["decided_by"] = [by_text[t].decided_by for t in frame["text"]]
    frame["decided_at"] = [by_text[t].decided_at for t in frame["text"]]
    return frame


def editor(frame: pd.DataFrame, path: Path) -> None:
    """The candidate table (`frame`, sorted): change a row's decision in place (saved at once, undoable)."""
    version = st.session_state.setdefault("_editor_version", 0)
    key, texts = f"candidates_{version}", list(frame["text"])
    frame = shown_frame(frame)
    column = st.column_config
    edited = st.data_editor(
        frame,
        key=key,
        on_change=_edited,
        args=(key, path, texts),
        hide_index=True,
        num_rows="fixed",
        height=420,
        disabled=[c for c in frame.columns if c != "decision"],
        column_config={
            "decision": column.SelectboxColumn("decision", options=list(DECISIONS), required=True, width="small"),
            "text": column.TextColumn("surface text", width="medium"),
            "specificity": column.ProgressColumn(
                "specificity",
                min_value=0.0,
                max_value=1.0,
                format="%.2f",
                help="How class-specific: the top class's share, from chance (0) to all (1).",
            ),
            "per_class": column.BarChartColumn("support per class", y_min=0),
            "top_class": column.TextColumn("top class"),
            "purity": column.NumberColumn("purity", format="%.2f"),
            "mutual_info": column.NumberColumn("MI (nats)", format="%.4f"),
            "pplu": column.NumberColumn("PPLu", format="%.3g"),
            "reason": column.TextColumn("reason", width="medium"),
            "decided_by": column.TextColumn("decided by"),
            "decided_at": column.TextColumn("decided at (UTC)"),
            "example": column.TextColumn("example", width="large"),
        },
    )
    changed = edited["decision"] != frame["decision"]
    if changed.any():  # edits that reached the table without its callback (a script setting its state)
        _apply_rows(path, list(zip(frame.loc[changed, "text"], edited.loc[changed, "decision"], strict=True)))
        st.rerun()


def shown_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """The table as drawn: "—" for a text column's missing value (who decided, when, why), and no PPLu column when
    no candidate has a PPLu score (mined without the scorer: the caption above says so). A partly scored PPLu column
    stays numeric, so sorting it by its header stays numeric."""
    text = [c for c in ("reason", "decided_by", "decided_at", "top_class", "example") if c in frame]
    frame = frame.assign(**{c: frame[c].astype(object).where(frame[c].notna(), "—") for c in text})
    return frame.drop(columns="pplu") if "pplu" in frame and frame["pplu"].isna().all() else frame


def _edited(key: str, path: Path, texts: list[str]) -> None:
    """The table's callback: apply the edited rows' decisions (`texts`: the rows' candidates, in table order)."""
    edits = st.session_state[key].get("edited_rows", {})
    _apply_rows(path, [(texts[int(i)], e["decision"]) for i, e in edits.items() if e.get("decision") in DECISIONS])


def _apply_rows(path: Path, rows: list[tuple[str, str]]) -> None:
    if rows:
        apply(path, rows, f"{rows[0][1]} {describe([t for t, _ in rows])}")


def sorted_table(frame, sort_by: str, descending: bool):
    """`frame` sorted by `sort_by` (ties: more support first), unscored rows last."""
    keys = [sort_by] + (["support"] if sort_by != "support" else [])
    return frame.sort_values(keys, ascending=[not descending, False][: len(keys)], na_position="last").reset_index(
        drop=True
    )


# ----------------------------------------------------------------------------------------------------- URL state


def _from_url(name: str, state_key: str, parse=str) -> None:
    """Seed `state_key` from the URL's `name` at a session's start (a reload), unless the session has a value."""
    raw = st.query_params.get(name)
    if raw is not None and state_key not in st.session_state:
        with contextlib.suppress(AdaptError, ValueError):  # a hand-edited URL's bad value: the default stays
            st.session_state[state_key] = parse(raw)


def _to_url(name: str, value) -> None:
    text = None if value is None else str(value)
    if st.query_params.get(name) != text:
        if text is None:
            del st.query_params[name]
        else:
            st.query_params[name] = text


def candidate_filter() -> CandidateFilter:
    """The filter form (search text, support, PPLu, …); its values go into the URL, so a reload keeps them."""
    for spec in field_specs(CandidateFilter):
        _from_url(spec.name, f"form:filter:{spec.name}", lambda raw, spec=spec: coerce(spec, raw))
    where = config_form(CandidateFilter, "filter", columns=7) or CandidateFilter()
    for f in fields(where):
        _to_url(f.name, getattr(where, f.name))
    return where


def _default_direction() -> None:
    st.session_state["descending"] = st.session_state["sort_by"] not in ("pplu", "text")  # best first


def sort_controls() -> tuple[str, bool]:
    """The table's sort (task-specificity first by default) and direction, kept in the URL like the filter."""
    _from_url("sort", "sort_by")
    _from_url("descending", "descending", lambda raw: raw == "True")
    if st.session_state.get("sort_by") not in SORTS:
        st.session_state["sort_by"] = SORTS[0]
    st.session_state.setdefault("descending", True)
    sort_by = st.selectbox(
        "Sort by", SORTS, key="sort_by", on_change=_default_direction, help="specificity: how class-specific."
    )
    descending = st.toggle("Descending", key="descending")
    _to_url("sort", sort_by)
    _to_url("descending", descending)
    return sort_by, descending


# ----------------------------------------------------------------------------------------------------- views


def in_context(candidates: list[str], split, label_names) -> None:
    """Pick a candidate (the table's order) and read it in the training texts: aligned lines grouped by class,
    with how many texts of each class hold it."""
    if not candidates:
        st.caption("No candidate matches the filter.")
        return
    if st.session_state.get("kwic") not in candidates:
        st.session_state["kwic"] = candidates[0]
    chosen = st.selectbox("Read a candidate in context", candidates, key="kwic")
    groups = keyword_in_context(chosen, split.texts, split.labels, label_names)
    total = sum(g.texts for g in groups)
    st.markdown(f"“**{chosen}**” is in {_count(total, 'training text')} of {_count(len(groups), 'class')}.")
    for g in groups[:KWIC_CLASSES]:
        st.markdown(f"**{g.name}** · {_count(g.texts, 'text')}, {_count(g.occurrences, 'occurrence')}")
        st.code("\n".join(align(line) for line in g.lines), language=None, wrap_lines=False)
    rest = groups[KWIC_CLASSES:]
    if rest:
        st.caption(f"and {len(rest)} more classes: " + ", ".join(f"{g.name} ({g.texts})" for g in rest))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "es" if noun.endswith("s") else "s")


@st.cache_data(show_spinner=False, max_entries=16)
def _stats(model: str, dataset: str, data_json: str, accepted: tuple[str, ...]):
    from adapt_core.data import DataConfig
    from adapt_core.tokens import tokenization_stats

    task = resources.task(dataset, DataConfig(**json.loads(data_json)))
    after = resources.augmented_tokenizer(model, accepted)
    return tokenization_stats(task["dev"].texts[:500], resources.tokenizer(model), after)


def before_after(choice, task, accepted: list[str]) -> None:
    """Tokens per dev text before / after the accepted tokens (cached per accepted set), and example texts."""
    from adapt_core.tokens import preview

    after = resources.augmented_tokenizer(choice.model, tuple(accepted))
    stats = _stats(choice.model, choice.dataset, json.dumps(asdict(choice.data), sort_keys=True), tuple(accepted))
    cols = st.columns(3)
    cols[0].metric(
        "Tokens per dev text",
        f"{stats.mean_tokens_after:.1f}",
        f"{-100 * stats.reduction:.1f} %",
        delta_color="inverse",
    )
    cols[1].metric("Dev texts touched", f"{100 * stats.share_touched:.0f} %")
    cols[2].metric("New tokens", len(accepted))
    custom = st.text_input("Try a text", placeholder="type a sentence to see how it tokenizes")
    examples = [custom] if custom else [t for t in task["dev"].texts if any(a in t.lower() for a in accepted)][:3]
    for text in examples or task["dev"].texts[:2]:
        left, right = st.columns(2)
        with left:
            tokens(preview(text, resources.tokenizer(choice.model)), "before")
        with right:
            tokens(preview(text, after), "after")


def _csv_bytes(path: Path) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return load_vetted(path).save(Path(tmp) / path.with_suffix(".csv").name).read_bytes()


def export_import(path: Path, vetted: VettedList) -> None:
    """Download the list as JSON or CSV; upload one (JSON, CSV or a .txt of tokens) to apply its decisions."""
    left, right = st.columns(2)
    with left:  # the files are made when clicked (not on every decision): they are what is saved now
        st.download_button(
            "Download JSON",
            lambda: path.read_bytes(),
            file_name=path.name,
            mime="application/json",
            icon=":material/download:",
            on_click="ignore",
        )
        st.download_button(
            "Download CSV",
            lambda: _csv_bytes(path),
            file_name=path.with_suffix(".csv").name,
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
        )
    with right:
        upload = st.file_uploader(
            "Import a vetted list: its decisions are applied here", type=["json", "csv", "txt"], key="vetted_import"
        )
        if upload is not None and st.button("Apply the imported decisions"):
            with guard(f"Importing {upload.name}"), tempfile.TemporaryDirectory() as tmp:
                file = Path(tmp) / f"import{Path(upload.name).suffix.lower()}"
                file.write_bytes(upload.getvalue())
                imported = load_vetted(file)
            current = read(path)  # as it is now, not as the page was drawn (another tab may have decided since)
            by = state.reviewer() or None
            merged, changed = import_decisions(
                current, imported, f"import of {upload.name}" + (f" by {by}" if by else "")
            )
            history(path).record(current, changed, f"import {upload.name}")  # one undo step, as any bulk decision
            history(path).seal(merged)
            save(path, merged)
            st.toast(f"{len(changed)} decisions from {upload.name} applied (its pending rows change nothing)")
            st.rerun()
