"""The studio's working files, kept under the runs root so that work survives reruns, reloads and restarts.

    <runs root>/.studio/vetted-<dataset>-<model>.json     the vetted token list (saved after every decision)
    <runs root>/.studio/settings.json                     settings set once for the workspace (the reviewer's name)
    <runs root>/.studio/sensitivity-<key>.json            a sensitivity measurement, keyed by all it depends on
    <runs root>/.studio/uploads/<hash>/<name>.<ext>       uploaded corpora (a training child process reads them);
                                                          removed a week after their last upload

File names are built from slugs and content hashes; user text never becomes a path. Everything is written
atomically (temporary file + rename), so a crash leaves the previous version.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
from pathlib import Path

from adapt_core.errors import AdaptError
from adapt_core.fileio import atomic_write_bytes
from adapt_core.run_writer import runs_root

UPLOAD_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
UPLOAD_DAYS = 7  # uploads untouched this long are removed when the next one arrives


def studio_dir(root: Path | str | None = None) -> Path:
    path = Path(root or runs_root()) / ".studio"
    path.mkdir(parents=True, exist_ok=True)
    return path


def slug(text: str, limit: int = 40) -> str:
    """A short file-name-safe form of `text` (its last path part), with a hash suffix unless it was safe as is."""
    text = str(text)
    readable = re.sub(r"[^A-Za-z0-9+_.-]+", "-", text.replace("\\", "/").rsplit("/", 1)[-1]).strip("-.")
    if readable == text and len(text) <= limit:
        return text
    return f"{readable[:limit] or 'x'}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


# ----------------------------------------------------------------------------------------------------- vetting


def vetted_path(
    dataset: str, model: str, root: Path | str | None = None, columns: tuple[str | None, str | None] = (None, None)
) -> Path:
    """Where the vetted list of (dataset, model) lives. `columns` (text, label) as picked for an uploaded file are
    part of the key: one file read with two label columns is two tasks, whose decisions and class support must not
    mix (without a pick the name is as it always was)."""
    picked = "" if columns == (None, None) else "-" + slug("-".join(str(c or "") for c in columns))
    return studio_dir(root) / f"vetted-{slug(dataset)}{picked}-{slug(model)}.json"


def load_vetted_or_empty(path: Path):
    """The saved vetted list at `path`, or an empty one when there is none yet."""
    from adapt_core.vetting import VettedList, load_vetted

    return load_vetted(path) if Path(path).is_file() else VettedList()


# ----------------------------------------------------------------------------------------------------- sensitivity


def sensitivity_key(dataset: str, data_config: dict, model: str, tokens: list[str], config: dict) -> str:
    """A hash of everything a sensitivity measurement depends on."""
    payload = json.dumps(
        {"dataset": dataset, "data": data_config, "model": model, "tokens": sorted(tokens), "config": config},
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def sensitivity_path(key: str, root: Path | str | None = None) -> Path:
    return studio_dir(root) / f"sensitivity-{key}.json"


def save_report(report, path: Path) -> Path:
    """Write a SensitivityReport as JSON, atomically."""
    return atomic_write_bytes(Path(path), json.dumps(report.to_dict()).encode())


def load_report(path: Path):
    """The SensitivityReport saved at `path`, or None when there is none (or it is unreadable: measure again)."""
    from adapt_core.selection import SensitivityReport

    try:
        return SensitivityReport.from_dict(json.loads(Path(path).read_text()))
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return None


# ----------------------------------------------------------------------------------------------------- uploads


def save_upload(name: str, content: bytes, root: Path | str | None = None) -> Path:
    """Keep an uploaded corpus in a folder named by its content hash, under its own (made safe) name, so messages
    about it name the file the user knows; the suffix must be a known table format."""
    suffix = Path(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise AdaptError(f"{name}: unknown file type; upload a {', '.join(UPLOAD_SUFFIXES)} file")
    if not content:
        raise AdaptError(f"{name} is empty: it needs a header row and at least one example")
    uploads = studio_dir(root) / "uploads"
    folder = uploads / hashlib.sha256(content).hexdigest()[:12]
    folder.mkdir(parents=True, exist_ok=True)
    path = atomic_write_bytes(folder / f"{slug(Path(name).stem, limit=30)}{suffix}", content)
    os.utime(folder)  # uploading the same file again counts as new: its age restarts
    remove_old_uploads(uploads)
    return path


def remove_old_uploads(uploads: Path, max_age_days: float = UPLOAD_DAYS) -> list[Path]:
    """Delete upload folders untouched for `max_age_days` (a week), so the upload folder does not grow without
    bound; returns what was removed. A run that still names such a file fails with "file not found": upload again."""
    cutoff = time.time() - max_age_days * 86400
    removed = []
    for folder in uploads.iterdir() if uploads.is_dir() else []:
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


# ----------------------------------------------------------------------------------------------------- settings


def settings_path(root: Path | str | None = None) -> Path:
    return studio_dir(root) / "settings.json"


def load_settings(root: Path | str | None = None) -> dict:
    """The workspace's settings ({} when none are saved, or the file is unreadable: they are set again)."""
    try:
        data = json.loads(settings_path(root).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def save_setting(name: str, value, root: Path | str | None = None) -> dict:
    """Set one setting (None removes it), keeping the others; written atomically. Returns the settings."""
    settings = {k: v for k, v in {**load_settings(root), name: value}.items() if v is not None}
    atomic_write_bytes(settings_path(root), json.dumps(settings, indent=1, ensure_ascii=False).encode())
    return settings
