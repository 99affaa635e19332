"""Run management: what a user does to run folders: delete to a trash and restore, tag and annotate,
export as a zip. It sits beside the run store (run_writer.py writes runs, run_reader.py reads them back); this
module only moves, labels and packs folders the store already holds, so the store never depends on it.

Deleting is a move to `<root>/.trash/` (one rename on one file system: a crash leaves the run in place or in the
trash, never half); only "empty trash" removes files. A running or queued run is refused, and its lock is held for
the move, so a writer cannot start meanwhile. Tags and a note live in the run's own `labels.json`, which the
training process never writes, so labelling a live run races with nothing. An export is written atomically and
leaves out the lock and temporary files. The `runs` command and the Runs page are thin wrappers around this.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd

from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_json, exclusive_lock, read_json
from adapt_core.run_reader import RunInfo, load_run
from adapt_core.run_writer import LOCK_NAME, runs_root

TRASH_NAME = ".trash"
LABELS_NAME = "labels.json"
BUSY = ("running", "queued")  # a queued run is about to be started from its folder: moving it would break that


def trash_dir(root: Path | None = None) -> Path:
    """The trash of a runs root (not listed by `list_runs`: it holds no status.json itself)."""
    return Path(root or runs_root()) / TRASH_NAME


def find_run(run: Path | str, root: Path | None = None) -> Path:
    """A run folder from an id under `root` or a path; an AdaptError saying what to give when there is none."""
    path = Path(run)
    if not path.is_dir():
        path = Path(root or runs_root()) / str(run)
    if not (path / "status.json").exists() and not (path / "config.json").exists():
        raise AdaptError(f"no run {run} under {root or runs_root()}: give a run id from `runs` or a run folder")
    return path


def _refuse_busy(run_dir: Path, what: str) -> None:
    state = load_run(run_dir).state
    if state in BUSY:
        raise AdaptError(f"run {run_dir.name} is {state}: cancel it (Train page or Ctrl-C) before you {what} it")


def trash_run(run_dir: Path | str) -> Path:
    """Move a run into its root's trash; returns where it went. A running or queued run is refused (its lock is
    held for the move, so a writer cannot start meanwhile), as is a name the trash already holds."""
    run_dir = find_run(run_dir)
    target = trash_dir(run_dir.parent) / run_dir.name
    busy = f"run {run_dir.name} is running: cancel it before you delete it"
    with exclusive_lock(run_dir / LOCK_NAME, wait=False, message=busy):
        _refuse_busy(run_dir, "delete")
        if target.exists():
            raise AdaptError(f"the trash already holds a run named {run_dir.name}: empty the trash or restore it first")
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(run_dir, target)  # atomic: one directory entry moves
    return target


def list_trash(root: Path | None = None) -> list[RunInfo]:
    """The runs in the trash, most recently deleted first (a move changes the folder's ctime)."""
    trash = trash_dir(root)
    if not trash.is_dir():
        return []
    dirs = [d for d in trash.iterdir() if d.is_dir()]
    return [load_run(d) for d in sorted(dirs, key=lambda d: d.stat().st_ctime, reverse=True)]


def restore_run(name: str, root: Path | None = None) -> Path:
    """Move a run from the trash back to the runs root; refused when a folder of that name is there already."""
    root = Path(root or runs_root())
    source, target = trash_dir(root) / Path(name).name, root / Path(name).name
    if not source.is_dir():
        raise AdaptError(f"the trash holds no run {name}: `runs trash` lists what it holds")
    if target.exists():
        raise AdaptError(f"{target} already exists: rename or delete that folder first, nothing was overwritten")
    os.rename(source, target)  # os.rename would replace an empty folder; the check above keeps that from happening
    return target


def empty_trash(root: Path | None = None) -> int:
    """Remove every run in the trash for good; returns how many were removed."""
    trash = trash_dir(root)
    entries = list(trash.iterdir()) if trash.is_dir() else []
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    return len(entries)


def read_labels(run_dir: Path | str) -> dict:
    """A run's tags and note: {"tags": [...], "note": "..."} (empty when it has none, or the file is damaged)."""
    labels = read_json(Path(run_dir) / LABELS_NAME)
    tags = labels.get("tags") if isinstance(labels.get("tags"), list) else []
    note = labels.get("note") if isinstance(labels.get("note"), str) else ""
    return {"tags": [str(t) for t in tags], "note": note}


def clean_tags(tags) -> list[str]:
    """Tags as stored: trimmed, lower case, inner spaces as '-', no empties, no repeats, in the order given."""
    out = []
    for tag in tags:
        tag = "-".join(str(tag).strip().lower().replace(",", " ").split())
        if tag and tag not in out:
            out.append(tag)
    return out


def set_tags(run_dir: Path | str, tags) -> list[str]:
    """Replace a run's tags (written atomically beside its note); returns them as stored."""
    run_dir = find_run(run_dir)
    labels = {**read_labels(run_dir), "tags": clean_tags(tags)}
    atomic_write_json(run_dir / LABELS_NAME, labels)
    return labels["tags"]


def set_note(run_dir: Path | str, note: str) -> str:
    """Replace a run's note (written atomically beside its tags)."""
    run_dir = find_run(run_dir)
    labels = {**read_labels(run_dir), "note": str(note).strip()}
    atomic_write_json(run_dir / LABELS_NAME, labels)
    return labels["note"]


def with_tag(runs: list[RunInfo], tag: str | None) -> list[RunInfo]:
    """The runs that carry `tag` (all of them when no tag is given)."""
    if not tag:
        return runs
    wanted = clean_tags([tag])
    return [r for r in runs if wanted and wanted[0] in read_labels(r.dir)["tags"]]


def loads_plainly(run_dir: Path | str) -> bool:
    """Whether the run's model/ loads with plain `AutoModelForSequenceClassification` + `AutoTokenizer`: true for
    full, adapt, layers and LoRA (merged); false for prefix tuning (its adapter needs `methods_io.load_trained`),
    STC (its backbone and solver need adapt_core) and runs without a saved model."""
    model = Path(run_dir) / "model"
    return (model / "config.json").is_file() and not (model / "prefix_adapter").exists()


def export_zip(run_dir: Path | str, dest: Path | str | None = None) -> Path:
    """The run folder as a zip (`<run id>/…` inside), written atomically to `dest` (default `<root>/.exports/<id>.zip`;
    a folder: `<id>.zip` in it); its lock and temporary files stay out. A running or queued run is refused: its files
    are still changing."""
    import zipfile

    from adapt_core.fileio import atomic_target

    run_dir = find_run(run_dir)
    _refuse_busy(run_dir, "export")
    dest = Path(dest or run_dir.parent / ".exports" / f"{run_dir.name}.zip")
    if dest.is_dir():
        dest = dest / f"{run_dir.name}.zip"
    with atomic_target(dest) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for path in sorted(run_dir.rglob("*")):
            if path.is_file() and path.name != LOCK_NAME and not path.name.endswith(".tmp"):
                archive.write(path, Path(run_dir.name) / path.relative_to(run_dir))
    return dest


def manage_table(runs: list[RunInfo]) -> pd.DataFrame:
    """One row per run for the Runs page and `runs list`: what it is, how it scored, its tags and note, and whether
    its model loads with plain transformers."""
    columns = ["run", "state", "dataset", "model", "method", "seed", "test_macro_f1", "train_seconds"]
    rows = []
    for info in runs:
        labels = read_labels(info.dir)
        summary = {k: info.summary()[k] for k in columns}
        summary["dataset"] = Path(str(summary["dataset"])).name if summary["dataset"] else None
        rows.append({**summary, "tags": ", ".join(labels["tags"]), "note": labels["note"]})
        rows[-1]["plain_model"] = loads_plainly(info.dir)
    return pd.DataFrame(rows, columns=[*columns, "tags", "note", "plain_model"])
