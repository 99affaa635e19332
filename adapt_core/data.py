"""Labelled corpora: the five benchmark tasks, a user's own files, or a Hugging Face dataset, as one validated object.

`load_dataset(source, DataConfig)` returns a `TaskData`: label names (from train), and `train` / `dev` / `test`
splits of (texts, integer labels). Missing splits are made from train, stratified and seeded, so the same seed always
gives the same split. Every problem a user can fix raises `AdaptError` with a message that says what to do.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from adapt_core.errors import AdaptError
from adapt_core.readers import FORMATS, read_table, split_frame

BENCHMARKS = ("banking77", "scierc", "chemprot", "acl_arc", "scicite")
DEFAULT_DATASET = "banking77"
SPLITS = ("train", "dev", "test")


def data_dir() -> Path:
    """Benchmark folder: `$ADAPT_DATA_DIR`, else `../shared/datasets` beside the repository."""
    env = os.environ.get("ADAPT_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "datasets"


@dataclass(frozen=True)
class DataConfig:
    """How to read and split a corpus. Hyperparameters only; the corpus itself is an argument."""

    text_col: str | None = field(default=None, metadata={"help": "Text column; guessed when empty."})
    label_col: str | None = field(default=None, metadata={"help": "Label column; guessed when empty."})
    dev_fraction: float = field(default=0.1, metadata={"help": "Share of train held out as dev when none is given."})
    test_fraction: float = field(default=0.1, metadata={"help": "Share of train held out as test when none is given."})
    seed: int = field(default=0, metadata={"help": "Seed for made splits and for slicing."})
    max_train: int | None = field(
        default=None, metadata={"help": "Keep at most this many train examples (a seeded, stratified slice)."}
    )
    max_eval: int | None = field(default=None, metadata={"help": "Keep at most this many dev and test examples each."})

    def __post_init__(self):
        for name in ("dev_fraction", "test_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 0.5:
                raise AdaptError(f"{name} must be between 0 and 0.5 (got {value}); 0.1 is usual")
        for name in ("max_train", "max_eval", "seed"):
            value = getattr(self, name)
            if (value is not None or name == "seed") and (isinstance(value, bool) or not isinstance(value, int)):
                raise AdaptError(f"{name} must be a whole number (got {value!r})")
        for name in ("max_train", "max_eval"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise AdaptError(f"{name} must be a positive number of examples or empty (got {value})")


@dataclass
class Split:
    texts: list[str]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.texts)


@dataclass
class TaskData:
    """A validated corpus: label names from train and integer labels in every split."""

    name: str
    label_names: list[str]
    splits: dict[str, Split]
    notes: list[str] = field(default_factory=list)  # e.g. "dev made from train (10 %, stratified, seed 0)"

    @property
    def num_labels(self) -> int:
        return len(self.label_names)

    def __getitem__(self, split: str) -> Split:
        return self.splits[split]

    def summary(self, tokenizer=None) -> pd.DataFrame:
        """One row per split: size, classes present, length percentiles (words, and tokens if a tokenizer is given)."""
        rows = []
        for name, split in self.splits.items():
            words = np.array([len(t.split()) for t in split.texts])
            row = {
                "split": name,
                "examples": len(split),
                "classes": len(set(split.labels)),
                "words_mean": words.mean(),
                "words_p50": np.percentile(words, 50),
                "words_p95": np.percentile(words, 95),
                "words_max": words.max(),
            }
            if tokenizer is not None:
                lens = np.array([len(ids) for ids in tokenizer(split.texts, add_special_tokens=False)["input_ids"]])
                row |= {"tokens_mean": lens.mean(), "tokens_p95": np.percentile(lens, 95), "tokens_max": lens.max()}
            rows.append(row)
        return pd.DataFrame(rows).round(1)

    def class_counts(self) -> pd.DataFrame:
        """Label × split example counts (zeros where a split lacks a class)."""
        table = {name: Counter(split.labels) for name, split in self.splits.items()}
        return pd.DataFrame(
            {name: [counts.get(i, 0) for i in range(self.num_labels)] for name, counts in table.items()},
            index=pd.Index(self.label_names, name="label"),
        )

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "label_names": self.label_names,
            "notes": self.notes,
            "splits": {k: asdict(v) for k, v in self.splits.items()},
        }

    @classmethod
    def from_dict(cls, d: dict) -> TaskData:
        return cls(d["name"], d["label_names"], {k: Split(**v) for k, v in d["splits"].items()}, d.get("notes", []))


# ----------------------------------------------------------------------------------------------------- loading


def load_dataset(source: str, config: DataConfig | None = None) -> TaskData:
    """A benchmark name, a file (CSV/TSV/JSONL/JSON/Parquet), a folder of split files, or `hf:` + a Hub id."""
    config = config or DataConfig()
    if source in BENCHMARKS:
        frames, label_order, notes = _benchmark_frames(source)
    elif source.startswith("hf:"):
        frames, label_order, notes = _hub_frames(source[3:]), None, []
    else:
        frames, label_order, notes = _file_frames(Path(source), config)
    name = source if source in BENCHMARKS else Path(source).stem or source
    task = _to_task(name, frames, label_order, config, notes)
    return _slice(task, config)


def _benchmark_frames(name: str) -> tuple[dict[str, pd.DataFrame], list[str] | None, list[str]]:
    folder = data_dir() / name
    if not folder.is_dir():
        raise AdaptError(
            f"benchmark '{name}' not found in {folder.parent}: set ADAPT_DATA_DIR to the folder that holds the "
            f"benchmark datasets (one sub-folder per task)"
        )
    if name == "banking77":
        frames = {s: read_table(folder / f"{s}.csv").rename(columns={"category": "label"}) for s in ("train", "test")}
        order = json.loads((folder / "categories.json").read_text())
        return frames, order, []
    frames = {s: read_table(folder / f"{s}.txt", fmt="jsonl")[["text", "label"]] for s in SPLITS}
    return frames, None, []


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


def check_hub_id(dataset_id: str) -> None:
    """`hf:` takes a Hub id (name or owner/name) only: a local path there would skip the file reader's checks."""
    suffix = Path(dataset_id).suffix.lower()
    if Path(dataset_id).expanduser().exists() or not HUB_ID.match(dataset_id) or suffix in FORMATS:
        raise AdaptError(
            f"hf:{dataset_id} is not a Hugging Face Hub id (owner/name): for a local file or folder, give its path "
            "without hf: so the file reader checks it"
        )


def _hub_frames(dataset_id: str) -> dict[str, pd.DataFrame]:
    check_hub_id(dataset_id)
    try:
        import datasets
    except ImportError as err:
        raise AdaptError("Hugging Face datasets need the `datasets` package: pip install datasets") from err
    try:
        ds = datasets.load_dataset(dataset_id)
    except Exception as err:  # the hub raises many types; all mean "could not get it"
        raise AdaptError(
            f"could not load Hugging Face dataset '{dataset_id}' (offline, or no such id?): {err}. "
            "Use a benchmark name or a local file instead."
        ) from err
    names = {"validation": "dev", "valid": "dev"}
    return {names.get(k, k): v.to_pandas() for k, v in ds.items() if names.get(k, k) in SPLITS}


def _file_frames(path: Path, config: DataConfig) -> tuple[dict[str, pd.DataFrame], None, list[str]]:
    if path.is_dir():
        return _folder_frames(path)
    return split_frame(read_table(path)), None, []


def _folder_frames(path: Path) -> tuple[dict[str, pd.DataFrame], None, list[str]]:
    files, others = _split_files(path)
    if "train" not in files:
        raise AdaptError(f"folder {path} has no train file: name the files train.csv / dev.csv / test.csv")
    notes = [f"not read (not a split's name): {', '.join(p.name for p in others)}"] if others else []
    return {split: read_table(file) for split, file in files.items()}, None, notes


def _split_files(path: Path) -> tuple[dict[str, Path], list[Path]]:
    """({split: its data file}, the other data files) of a folder: a file is named by its split or an alias
    (`validation.csv`, `val.jsonl` are dev, as in a split column: `readers.SPLIT_ALIASES`); two files for one split
    are refused."""
    from adapt_core.readers import SPLIT_ALIASES

    found: dict[str, list[Path]] = {}
    others = []
    for p in sorted(path.iterdir()):
        if p.is_file() and p.suffix.lower() in FORMATS:
            split = SPLIT_ALIASES.get(p.stem.lower())
            (found.setdefault(split, []) if split else others).append(p)
    for split, files in found.items():
        if len(files) > 1:
            names = ", ".join(f.name for f in files)
            raise AdaptError(f"folder {path} has {len(files)} {split} files ({names}): keep one")
    return {split: files[0] for split, files in found.items()}, others


def load_held_out(source: str, label_names: list[str], text_col=None, label_col=None) -> tuple[str, dict[str, Split]]:
    """(name, {split: Split}) of data to score a trained model on: its splits as given (a file without a split
    column is one split, `all`), nothing cut, sliced or required (one class, or a test file alone, is a held-out
    set), labels as indices into `label_names`; a label outside them is an error that names it."""
    from adapt_core.readers import pick_columns, split_column

    path = Path(source)
    if source in BENCHMARKS:
        frames = _benchmark_frames(source)[0]
    elif source.startswith("hf:"):
        frames = _hub_frames(source[3:])
    elif path.is_dir():
        frames = {split: read_table(file) for split, file in _split_files(path)[0].items()}
    else:
        frame = read_table(path)
        frames = split_frame(frame, require_train=False) if split_column(frame) else {"all": frame}
    if not frames:
        raise AdaptError(f"{source} holds no data file: name them train / dev / test (.csv, .jsonl, …)")
    text_col, label_col = pick_columns(next(iter(frames.values())), text_col, label_col)
    index = {name: i for i, name in enumerate(label_names)}
    splits = {}
    for split, frame in frames.items():
        clean = _clean(frame, text_col, label_col, split)
        labels = clean["label"].astype(str).tolist()
        unknown = sorted(set(labels) - set(index))
        if unknown:
            raise AdaptError(f"{source} has labels the model never learned ({', '.join(unknown[:5])}): drop those rows")
        splits[split] = Split(clean["text"].tolist(), [index[v] for v in labels])
    name = source if source in BENCHMARKS else path.stem or source
    return name, splits


def _to_task(name: str, frames: dict[str, pd.DataFrame], label_order, config: DataConfig, notes) -> TaskData:
    from adapt_core.readers import pick_columns

    text_col, label_col = pick_columns(frames["train"], config.text_col, config.label_col)
    cleaned = {s: _clean(f, text_col, label_col, s) for s, f in frames.items()}
    train_labels = cleaned["train"]["label"]
    names = label_order or sorted(train_labels.unique(), key=_natural_key)
    if len(set(train_labels)) < 2:
        raise AdaptError(f"train has a single class ('{train_labels.iloc[0]}'): a classifier needs at least two")
    for split, frame in cleaned.items():
        unknown = sorted(set(frame["label"]) - set(names))
        if unknown:
            raise AdaptError(
                f"{split} has label(s) {unknown[:5]} that train lacks: a model cannot learn a class it never sees; "
                f"remove those rows or add examples of them to train"
            )
    index = {n: i for i, n in enumerate(names)}
    cleaned, made = _complete_splits(cleaned, config)
    splits = {s: Split(f["text"].tolist(), [index[v] for v in f["label"]]) for s, f in cleaned.items()}
    return TaskData(name, [str(n) for n in names], splits, notes + made)


def _natural_key(value):
    return (0, float(value), "") if _is_number(value) else (1, 0.0, str(value))


def _is_number(value) -> bool:
    try:
        float(value)
        return True
    except (TypeError, ValueError):
        return False


def _clean(frame: pd.DataFrame, text_col: str, label_col: str, split: str) -> pd.DataFrame:
    if text_col not in frame or label_col not in frame:
        raise AdaptError(
            f"{split} lacks column '{text_col}' or '{label_col}' (it has: {', '.join(map(str, frame.columns))})"
        )
    out = pd.DataFrame({"text": frame[text_col], "label": frame[label_col]})
    missing = out["label"].isna() | (out["label"].astype(str).str.strip() == "")
    if missing.any():
        rows = (np.flatnonzero(missing)[:5] + 1).tolist()
        raise AdaptError(
            f"{split}: {int(missing.sum())} row(s) have no label (rows {rows}…): fill them in or drop them"
        )
    texts = out["text"].fillna("").astype(str)
    empty = texts.str.strip() == ""
    if empty.any():
        rows = (np.flatnonzero(empty)[:5] + 1).tolist()
        raise AdaptError(
            f"{split}: {int(empty.sum())} row(s) have an empty text (rows {rows}…): fill them in or drop them"
        )
    labels = out["label"]
    if pd.api.types.is_float_dtype(labels) and (labels == labels.round()).all():
        labels = labels.astype(int)  # 1.0 from a CSV with blanks elsewhere is the label 1
    return pd.DataFrame({"text": texts.tolist(), "label": labels.astype(str).tolist()})


def _complete_splits(frames: dict[str, pd.DataFrame], config: DataConfig):
    """Make dev (and test) from train when missing: stratified, seeded; say so in the notes."""
    made = []
    for split, fraction in (("test", config.test_fraction), ("dev", config.dev_fraction)):
        if split in frames:
            continue
        frames["train"], frames[split] = _stratified_cut(frames["train"], fraction, config.seed, split)
        made.append(f"{split} made from train ({fraction:.0%}, stratified, seed {config.seed})")
    return {s: frames[s] for s in SPLITS}, made


def _stratified_cut(frame: pd.DataFrame, fraction: float, seed: int, split: str):
    from sklearn.model_selection import train_test_split

    counts = frame["label"].value_counts()
    rare = counts[counts < 2]
    if len(rare):
        raise AdaptError(
            f"cannot make a stratified {split} split: class(es) {list(rare.index[:5])} have a single example. "
            f"Add examples, drop those classes, or provide a {split} file"
        )
    n_cut = max(int(round(len(frame) * fraction)), len(counts))  # every class needs a seat in a stratified cut
    if n_cut >= len(frame) - len(counts):
        raise AdaptError(
            f"train ({len(frame)} rows, {len(counts)} classes) is too small to cut a stratified {split} split from; provide one"
        )
    keep, cut = train_test_split(frame, test_size=n_cut, random_state=seed, stratify=frame["label"])
    return keep.reset_index(drop=True), cut.reset_index(drop=True)


def _slice(task: TaskData, config: DataConfig) -> TaskData:
    """Seeded, stratified slices for quick runs (`max_train`, `max_eval`)."""
    limits = {"train": config.max_train, "dev": config.max_eval, "test": config.max_eval}
    splits = dict(task.splits)
    for name, limit in limits.items():
        if limit is not None and len(splits[name]) > limit:
            splits[name] = _sample(splits[name], limit, config.seed)
    if splits == task.splits:
        return task
    notes = task.notes + [f"sliced: {', '.join(f'{k} {len(v)}' for k, v in splits.items())} (seed {config.seed})"]
    return replace(task, splits=splits, notes=notes)


def _sample(split: Split, limit: int, seed: int) -> Split:
    """A seeded sample that keeps each class's share (stratified); plain random when a class is too rare."""
    from sklearn.model_selection import train_test_split

    index = np.arange(len(split))
    counts = Counter(split.labels)
    # stratifying needs room for every class on both sides of the cut
    room = min(counts.values()) >= 2 and limit >= len(counts) and len(split) - limit >= len(counts)
    stratify = split.labels if room else None
    keep, _ = train_test_split(index, train_size=limit, random_state=seed, stratify=stratify)
    keep = np.sort(keep)
    return Split([split.texts[i] for i in keep], [split.labels[i] for i in keep])
