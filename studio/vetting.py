"""The Tokens page's vetting widgets: the vetted list read from (and saved to) its file after every decision, the
editable candidate table, the "accept by policy" proposal, and export / import.

The list lives in a file under the runs root (`workspace.vetted_path`), never only in the session, so decisions
survive reruns, reloads and new tabs; the session keeps a parsed copy while the file is unchanged.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import streamlit as st

from adapt_core.plots.tokens import candidate_frame
from adapt_core.vetting import DECISIONS, VettedList, load_vetted, merge_decisions
from adapt_core.workspace import load_vetted_or_empty, vetted_path
from studio.widgets import guard

_CACHE = "_vetted_cache"


def _stamp(path: Path) -> int:
    return path.stat().st_mtime_ns if path.exists() else 0


def load(dataset: str, model: str) -> tuple[Path, VettedList]:
    """(file, vetted list) for this dataset and model; an empty list before the first mining."""
    path = vetted_path(dataset, model)
    cached = st.session_state.get(_CACHE)
    if cached and cached[0] == (str(path), _stamp(path)):
        return path, cached[1]
    with guard(f"Reading {path.name}"):
        vetted = load_vetted_or_empty(path)
    st.session_state[_CACHE] = ((str(path), _stamp(path)), vetted)
    return path, vetted


def save(path: Path, vetted: VettedList) -> None:
    vetted.save(path)
    st.session_state[_CACHE] = ((str(path), _stamp(path)), vetted)


def decide(path: Path, vetted: VettedList, texts: list[str], decision: str) -> int:
    """Apply one decision to `texts` and save at once; returns how many changed."""
    changed = vetted.decide(texts, decision)
    save(path, vetted)
    return changed


def accept_by_policy(path: Path, vetted: VettedList, task, tokenizer, policy) -> dict[str, int]:
    """Decide every candidate by the automatic acceptance policy (the one a run without a list uses), each with
    its reason, and save at once: a proposal the expert then vets. Returns the new decision counts."""
    from adapt_core.token_policy import decide_by_policy

    decided = decide_by_policy(vetted, task["train"], tokenizer, policy, task.num_labels)
    save(path, decided)
    return decided.counts()


def editor(vetted: VettedList, texts: list[str], path: Path, sort_by: str, descending: bool) -> None:
    """The candidate table: change a row's decision in place (saved at once); every column sorts."""
    frame = candidate_frame(vetted, texts).sort_values(sort_by, ascending=not descending, na_position="last")
    frame = frame.reset_index(drop=True)
    version = st.session_state.setdefault("_editor_version", 0)
    column = st.column_config
    edited = st.data_editor(
        frame,
        key=f"candidates_{version}",
        hide_index=True,
        num_rows="fixed",
        height=420,
        disabled=[c for c in frame.columns if c != "decision"],
        column_config={
            "decision": column.SelectboxColumn("decision", options=list(DECISIONS), required=True, width="small"),
            "text": column.TextColumn("surface text", width="medium"),
            "per_class": column.BarChartColumn("support per class", y_min=0),
            "top_class": column.TextColumn("top class"),
            "purity": column.NumberColumn("purity", format="%.2f"),
            "mutual_info": column.NumberColumn("MI (nats)", format="%.4f"),
            "pplu": column.NumberColumn("PPLu", format="%.3g"),
            "reason": column.TextColumn("reason", width="medium"),
            "example": column.TextColumn("example", width="large"),
        },
    )
    changed = edited["decision"] != frame["decision"]
    if changed.any():
        for text, decision in zip(frame.loc[changed, "text"], edited.loc[changed, "decision"], strict=True):
            vetted.decide(text, decision)
        save(path, vetted)
        st.session_state["_editor_version"] = version + 1  # a fresh table: old edits must not apply to new rows
        st.rerun()


def export_import(path: Path, vetted: VettedList) -> None:
    """Download the list as JSON or CSV; upload one (JSON, CSV or a .txt of tokens) to apply its decisions."""
    left, right = st.columns(2)
    with left:
        st.download_button(
            "Download JSON",
            json.dumps(vetted.to_dict(), indent=1, ensure_ascii=False),
            file_name=path.name,
            mime="application/json",
            icon=":material/download:",
        )
        with tempfile.TemporaryDirectory() as tmp:
            csv_path = vetted.save(Path(tmp) / path.with_suffix(".csv").name)
            st.download_button(
                "Download CSV",
                csv_path.read_bytes(),
                file_name=csv_path.name,
                mime="text/csv",
                icon=":material/download:",
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
            save(path, merge_decisions(imported, vetted) if len(vetted) else imported)
            st.toast(f"Applied {len(imported)} decisions from {upload.name}")
            st.rerun()
