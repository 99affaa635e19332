"""Reading a user's table: CSV, TSV, JSON lines, JSON, Parquet; guessing the text and label columns.

Kept apart from `data.py` because it is all about bytes and column names, not about tasks and splits. Every failure
is an `AdaptError` that names the file and says what to fix.
"""

from __future__ import annotations

import csv
import json
import re
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
    except AdaptError:
        raise  # already says which line or column
    except UnicodeDecodeError as err:
        raise AdaptError(f"{path.name} is not UTF-8 text (byte {err.start}): save it as UTF-8 and try again") from err
    except (ValueError, pd.errors.ParserError, OSError) as err:
        raise AdaptError(f"{path.name} could not be read as {fmt}: {err}") from err
    if frame.empty:
        raise AdaptError(f"{path.name} has no rows: it needs at least one example")
    frame.columns = [str(c).strip() for c in frame.columns]
    _check_unique_columns(path, list(frame.columns))
    return frame


def _check_unique_columns(path: Path, columns: list[str]) -> None:
    seen = set()
    for column in columns:
        if column in seen:
            raise AdaptError(f"{path.name} has two columns named '{column}': rename one so each column is unambiguous")
        seen.add(column)


def _read(path: Path, fmt: str) -> pd.DataFrame:
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        _check_rows(path, sep)  # pandas would rename a duplicate column and pad a short row with blanks
        return pd.read_csv(path, sep=sep, encoding="utf-8", encoding_errors="strict")
    if fmt == "jsonl":
        return _read_jsonl(path)
    if fmt == "json":
        _check_utf8(path)
        return pd.read_json(path)
    if fmt == "parquet":
        return pd.read_parquet(path)
    raise AdaptError(f"unknown format '{fmt}'")


def _check_rows(path: Path, sep: str) -> None:
    """The header names each column once and every row has as many fields as the header (quotes respected)."""
    with open(path, encoding="utf-8", errors="strict", newline="") as f:
        reader = csv.reader(f, delimiter=sep)
        header = [h.strip() for h in next(reader, [])]
        _check_unique_columns(path, header)
        for row in reader:
            if row and len(row) != len(header):
                raise AdaptError(
                    f"{path.name}: line {reader.line_num} has {len(row)} fields where the header has {len(header)}: "
                    "quote texts that contain the separator, or fix that line"
                )


def _read_jsonl(path: Path) -> pd.DataFrame:
    """JSON lines, one object per line (blank lines skipped); a bad line is named by its number."""
    rows = []
    with open(path, encoding="utf-8", errors="strict") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                raise AdaptError(f"{path.name}: line {number} is not valid JSON ({err.msg}): fix or remove it") from err
            if not isinstance(row, dict):
                raise AdaptError(f"{path.name}: line {number} is not a JSON object with named fields")
            rows.append(row)
    return pd.DataFrame(rows)


def _check_utf8(path: Path) -> None:
    path.read_bytes().decode("utf-8")  # raises UnicodeDecodeError with the offending byte


def split_column(frame: pd.DataFrame) -> str | None:
    """The file's `split` column (any case), or None."""
    return next((c for c in frame.columns if str(c).lower() == "split"), None)


def split_frame(frame: pd.DataFrame, require_train: bool = True) -> dict[str, pd.DataFrame]:
    """Use a `split` column when the file has one (train/dev/validation/test); else everything is train. A held-out
    file (`require_train=False`) may mark no row as train."""
    col = split_column(frame)
    if col is None:
        return {"train": frame}
    names = frame[col].astype(str).str.strip().str.lower().map(SPLIT_ALIASES)
    if names.isna().any():
        bad = sorted(set(frame.loc[names.isna(), col].astype(str)))[:5]
        raise AdaptError(f"column '{col}' has values {bad}: use train, dev (or validation) and test")
    frames = {s: frame[names == s].drop(columns=[col]).reset_index(drop=True) for s in ("train", "dev", "test")}
    if require_train and frames["train"].empty:
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
    check_text_column(frame, text_col, exclude=label_col)
    return text_col, label_col


ID_LIKE = re.compile(r"^[\w.:#/-]*\d[\w.:#/-]*$")  # one "word" holding a digit: 17, TX-0042, 3f2a9c…


ID_NAME = re.compile(r"^(id|ids|uuid|guid|key|index|idx|row|no|number)$|(_id|id|_key|_no|_idx)$", re.IGNORECASE)


def is_text_column(values: pd.Series) -> bool:
    """Whether a column holds text: not only numbers, and not an id column (named like one, e.g. `id` or `ticket_id`,
    and holding single words that contain a digit). Short made-up texts such as "t1" in a column named `text` pass."""
    present = values.dropna().astype(str).str.strip()
    present = present[present != ""]
    if present.empty:
        return False
    if pd.to_numeric(present, errors="coerce").notna().all():
        return False
    return not (ID_NAME.search(str(values.name)) and present.str.fullmatch(ID_LIKE).all())


def check_text_column(frame: pd.DataFrame, column: str, exclude: str | None = None) -> None:
    """The one check the CLI and the studio both make: the text column holds words, not numbers or ids."""
    if not is_text_column(frame[column]):
        others = [str(c) for c in frame.columns if c not in (column, exclude) and is_text_column(frame[c])]
        hint = f" (the text may be in: {', '.join(others[:3])})" if others else ""
        raise AdaptError(
            f"column '{column}' holds only numbers or ids, not text{hint}: name the text column with --text-col"
        )


def suggest_columns(frame: pd.DataFrame) -> tuple[str, str]:
    """A starting choice for the studio's column pickers (never raises): `pick_columns`' answer when it has one,
    else the text-like column with the longest values and, for the label, a column with the fewest distinct ones."""
    try:
        return pick_columns(frame, None, None)
    except AdaptError:
        pass
    cols = [c for c in frame.columns if c.lower() != "split"] or list(frame.columns)
    texts = [c for c in cols if is_text_column(frame[c])] or cols
    text = max(texts, key=lambda c: frame[c].astype(str).str.len().mean())
    rest = [c for c in cols if c != text] or cols
    named = [c for c in rest if c.lower() in LABEL_NAMES]
    label = named[0] if named else min(rest, key=lambda c: frame[c].nunique())
    return text, label


def _guess(frame: pd.DataFrame, names: tuple[str, ...], role: str, exclude: str | None) -> str:
    cols = [c for c in frame.columns if c != exclude and c.lower() != "split"]
    hits = [c for c in cols if c.lower() in names]
    if len(hits) == 1:
        return hits[0]
    if len(hits) > 1:
        raise AdaptError(f"several columns could be the {role} ({', '.join(hits)}): name one with --{role}-col")
    if role == "text":  # ids and numbers are never the text: leave them out of the guess
        cols = [c for c in cols if is_text_column(frame[c])] or cols
    if len(cols) == 2:  # two columns, no telling names: the longer strings are the text
        mean_len = {c: frame[c].astype(str).str.len().mean() for c in cols}
        longer = max(cols, key=mean_len.get)
        return longer if role == "text" else min(cols, key=mean_len.get)
    raise AdaptError(
        f"cannot tell which column is the {role} (columns: {', '.join(map(str, frame.columns))}): "
        f"name it with --{role}-col"
    )
