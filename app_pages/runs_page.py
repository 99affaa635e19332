"""Runs: every run folder with its tags and note, filtered by tag; label a run, export it as a zip, delete it to the
trash; restore from the trash or empty it (after a confirmation). The logic is adapt_core.run_management (the `runs`
command does the same); nothing is removed for good but by "Empty the trash"."""

import streamlit as st

from adapt_core import run_management as manage
from adapt_core.run_reader import list_runs
from adapt_core.run_writer import runs_root
from studio.widgets import guard, unreadable_runs

st.title("Runs")
st.caption("Label, export and tidy runs. Deleting moves a run to the trash, from where it can be restored.")
runs = list_runs()
unreadable_runs(runs)
tags = sorted({t for r in runs for t in manage.read_labels(r.dir)["tags"]})
tag = st.selectbox("Show runs tagged", [None, *tags], format_func=lambda t: t or "(any tag)", key="runs_tag")
shown = manage.with_tag(runs, tag)
if not shown:
    st.info("No runs here yet: launch some on the Train page, or run the demo from Home.", icon=":material/info:")
else:
    st.dataframe(
        manage.manage_table(shown),
        hide_index=True,
        key="runs_table",
        column_config={
            "test_macro_f1": st.column_config.NumberColumn("test macro-F1", format="%.4f"),
            "train_seconds": st.column_config.NumberColumn("train s", format="%.1f"),
            "plain_model": st.column_config.CheckboxColumn(
                "plain model", help="model/ loads with AutoModelForSequenceClassification; else it needs adapt_core"
            ),
        },
    )
    run_id = st.selectbox("Run", [r.id for r in shown], key="runs_selected")
    run_dir = runs_root() / run_id
    labels = manage.read_labels(run_dir)
    left, right = st.columns(2)
    with left.form("labels", border=False):
        new_tags = st.text_input("Tags (comma separated)", ", ".join(labels["tags"]), key=f"tags_{run_id}")
        note = st.text_area("Note", labels["note"], key=f"note_{run_id}", height=80)
        if st.form_submit_button("Save tags and note", icon=":material/label:"):
            with guard("Saving the labels", stop=False):
                manage.set_tags(run_dir, new_tags.split(","))
                manage.set_note(run_dir, note)
                st.rerun()
    with right:
        if manage.loads_plainly(run_dir):
            st.caption(
                "Its model/ loads with plain transformers: `AutoModelForSequenceClassification` and "
                "`AutoTokenizer.from_pretrained(folder)`."
            )
        else:
            st.caption(
                "Its model/ needs adapt_core to load (`methods_io.load_trained`): prefix tuning, STC, or a "
                "run without a saved model."
            )
        if st.button("Prepare a zip", icon=":material/folder_zip:", key="runs_zip"):
            with guard("Exporting", stop=False):
                st.session_state["runs_zip_path"] = str(manage.export_zip(run_dir))
        zipped = st.session_state.get("runs_zip_path")
        if zipped and zipped.endswith(f"/{run_id}.zip"):
            with open(zipped, "rb") as archive:
                st.download_button("Download the zip", archive, file_name=f"{run_id}.zip", icon=":material/download:")
        if st.button("Delete (to the trash)", icon=":material/delete:", key="runs_delete"):
            with guard("Deleting", stop=False):
                manage.trash_run(run_dir)
                st.toast(f"Moved {run_id} to the trash", icon=":material/delete:")
                st.rerun()

st.subheader("Trash")
trash = manage.list_trash()
if not trash:
    st.caption("The trash is empty.")
for info in trash:
    left, right = st.columns([5, 1])
    left.markdown(f"**{info.id}** · {manage.manage_table([info]).iloc[0]['method'] or info.state}")
    if right.button("Restore", key=f"restore_{info.id}", icon=":material/restore_from_trash:"):
        with guard("Restoring", stop=False):
            manage.restore_run(info.id)
            st.rerun()
if trash:
    sure = st.checkbox(f"Yes, remove the {len(trash)} run(s) in the trash for good", key="runs_empty_sure")
    if st.button("Empty the trash", icon=":material/delete_forever:", disabled=not sure, key="runs_empty"):
        st.toast(f"Removed {manage.empty_trash()} run(s) for good", icon=":material/delete_forever:")
        st.rerun()
