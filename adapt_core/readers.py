"""Reading a user's table: CSV, TSV, JSON lines, JSON, Parquet; guessing the text and label columns.

Kept apart from `data.py` because it is all about bytes and column names, not about tasks and splits. Every failure
is an `AdaptError` that names the file and says what to fix.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from adapt_core.errors import AdaptError

MAX_FILE_BYTES = 500 * 1024 * 1024
TEXT_NAMES = ("text", "sentence", "utterance", "content", "review", "question", "document", "input", "body")
LABEL_NAMES = ("label", "labels", "category", "class", "intent", "target", "y", "tag")
SPLIT_ALIASES = {
    "train": "train",
    "training": "train",
    "dev": "dev",
    "valid": "dev",
    "validation": "dev",
    "val": "dev",
    "test": "test",
    "testing": "test",
}
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".json": "json", ".parquet": "parquet", ".txt": "jsonl"}


def read_table(path: Path | str, fmt: str | None = None) -> pd.DataFrame:
    """Read one file into a DataFrame; format from `fmt` or the file ending."""
    path = Path(path)
    if not path.is_file():
        raise AdaptError(f"file not found: {path}; check the path")
    size = path.stat().st_size
    if size == 0:
        raise AdaptError(f"{path.name} is empty: it needs a header row and at least one example")
    if size > MAX_FILE_BYTES:
        raise AdaptError(
            f"{path.name} is {size / 2**20:.0f} MiB; the limit is {MAX_FILE_BYTES // 2**20} MiB: sample it first"
        )
    fmt = fmt or FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise AdaptError(f"{path.name}: unknown file type; use .csv, .tsv, .jsonl, .json or .parquet")
    try:
        frame = _read(path, fmt)
    except UnicodeDecodeError as err:
        raise AdaptError(f"{path.name} is not UTF-8 text (byte {err.start}): save it as UTF-8 and try again") from err
    except (ValueError, pd.errors.ParserError, OSError) as err:
        raise AdaptError(f"{path.name} could not be read as {fmt}: {err}") from err
    if frame.empty:
        raise AdaptError(f"{path.name} has no rows: it needs at least one example")
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _read(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(path, encoding="utf-8", encoding_errors="strict")
    if fmt == "tsv":
        return pd.read_csv(path, sep="\t", encoding="utf-8", encoding_errors="strict")
    if fmt == "jsonl":
        _check_utf8(path)
        return pd.read_json(path, lines=True)
    if fmt == "json":
        _check_utf8(path)
        return pd.read_json(path)
    if fmt == "parquet":
        return pd.read_parquet(path)
    raise AdaptError(f"unknown format '{fmt}'")


def _check_utf8(path: Path) -> None:
    path.read_bytes().decode("utf-8")  # raises UnicodeDecodeError with the offending byte


def split_frame(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Use a `split` column when the file has one (train/dev/validation/test); else everything is train."""
    col = next((c for c in frame.columns if c.lower() == "split"), None)
    if col is None:
        return {"train": frame}
    names = frame[col].astype(str).str.strip().str.lower().map(SPLIT_ALIASES)
    if names.isna().any():
        bad = sorted(set(frame.loc[names.isna(), col].astype(str)))[:5]
        raise AdaptError(f"column '{col}' has values {bad}: use train, dev (or validation) and test")
    frames = {s: frame[names == s].drop(columns=[col]).reset_index(drop=True) for s in ("train", "dev", "test")}
    if frames["train"].empty:
        raise AdaptError(f"column '{col}' marks no row as train")
    return {s: f for s, f in frames.items() if not f.empty}


def pick_columns(frame: pd.DataFrame, text_col: str | None, label_col: str | None) -> tuple[str, str]:
    """The text and label columns: as named, or guessed from common names; ambiguity is an error, not a guess."""
    cols = list(frame.columns)
    for given, role in ((text_col, "text"), (label_col, "label")):
        if given is not None and given not in cols:
            raise AdaptError(f"no column named '{given}' for the {role}; the columns are: {', '.join(cols)}")
    text_col = text_col or _guess(frame, TEXT_NAMES, "text", exclude=label_col)
    label_col = label_col or _guess(frame, LABEL_NAMES, "label", exclude=text_col)
    if text_col == label_col:
        raise AdaptError(f"the text and label columns are both '{text_col}': name them with --text-col / --label-col")
    return text_col, label_col


def _guess(frame: pd.DataFrame, names: tuple[str, ...], role: str, exclude: str | None) -> str:
    cols = [c for c in frame.columns if c != exclude and c.lower() != "split"]
    hits = [c for c in cols if c.lower() in names]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise AdaptError(f"several columns could be the {role} ({', '.join(hits)}): name one with --{role}-col")
    if len(cols) == 2:  # two columns, no telling names: the longer strings are the text
        mean_len = {c: frame[c].astype(str).str.len().mean() for c in cols}
        longer = max(cols, key=mean_len.get)
        return longer if role == "text" else min(cols, key=mean_len.get)
    raise AdaptError(
        f"cannot tell which column is the {role} (columns: {', '.join(map(str, frame.columns))}): "
        f"name it with --{role}-col"
    )
