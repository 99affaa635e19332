"""Cached loaders: datasets with `st.cache_data` (each caller gets a copy), tokenizers, models and predictors with
`st.cache_resource` (one shared object per process).

Shared objects are never changed: `fresh_classifier` hands out deep copies for anything that augments, measures or
trains (DESIGN §2), and tokenizers are only read (`tokens.augmented_tokenizer` copies before adding tokens).
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict
from pathlib import Path

import streamlit as st

from adapt_core.data import DataConfig, TaskData, load_dataset
from adapt_core.models import load_classifier, load_tokenizer


@st.cache_data(show_spinner="Loading the dataset…", max_entries=8)
def _task(source: str, data_json: str) -> TaskData:
    return load_dataset(source, DataConfig(**json.loads(data_json)))


def task(source: str, data: DataConfig) -> TaskData:
    """The corpus `source` read with `data` (a copy: change it freely)."""
    return _task(source, json.dumps(asdict(data), sort_keys=True))


@st.cache_resource(show_spinner="Loading the tokenizer…", max_entries=4)
def tokenizer(model: str):
    """The model's tokenizer, shared: read it, never add tokens to it."""
    return load_tokenizer(model)


@st.cache_resource(show_spinner="Loading the model…", max_entries=2)
def classifier(model: str, label_names: tuple[str, ...]):
    """(model, tokenizer) with a seeded head for these labels, shared: never train or change it."""
    net, tok = load_classifier(model, len(label_names), list(label_names), seed=0)
    return net.eval(), tok


def fresh_classifier(model: str, label_names: tuple[str, ...]):
    """A private deep copy of the cached classifier, safe to augment and measure."""
    net, tok = classifier(model, label_names)
    return copy.deepcopy(net), copy.deepcopy(tok)


@st.cache_data(show_spinner="Reading the model's layout…", max_entries=8)
def anatomy(model: str, label_names: tuple[str, ...]):
    """The model's parameter layout (budget.Anatomy): small, computed once per model and label set."""
    from adapt_core.budget import anatomy as read_anatomy

    return read_anatomy(classifier(model, label_names)[0])


@st.cache_resource(show_spinner="Loading the trained model…", max_entries=3)
def predictor(run_dir: str, stamp: float):
    """A finished run's predictor (`stamp`: the model folder's mtime, so a re-trained folder reloads)."""
    from adapt_core.predictor import load_predictor

    return load_predictor(Path(run_dir))


@st.cache_resource(show_spinner=False, max_entries=2)
def augmented_tokenizer(model: str, accepted: tuple[str, ...]):
    """A copy of the model's tokenizer with the accepted tokens added (for previews; shared, read only)."""
    from adapt_core.tokens import augmented_tokenizer as augment_copy

    return augment_copy(tokenizer(model), list(accepted))


@st.cache_data(show_spinner="Counting tokens…", max_entries=8)
def _token_profile(source: str, data_json: str, model: str):
    from adapt_core.plots.data_figures import length_histogram

    data, tok = _task(source, data_json), tokenizer(model)
    return data.summary(tok), length_histogram(data, tok)


def token_profile(source: str, data: DataConfig, model: str):
    """(summary table, length histogram) of the corpus in the model's tokens. Both tokenize every text (seconds on
    a 10,000-text corpus), so they are computed once per corpus, slice and model, not on every visit of the page."""
    return _token_profile(source, json.dumps(asdict(data), sort_keys=True), model)


@st.cache_data(show_spinner=False, max_entries=4)
def _grid_points(path: str, stamp: tuple, spec_text: str | None):
    from adapt_core.comparison import read_grid

    return read_grid(path, json.loads(spec_text) if spec_text else None)


def grid_points(results: Path, spec_file: Path):
    """The benchmark grid's results as frontier points (`comparison.read_grid`), read again only when the CSV or the
    spec changes (their sizes and modification times): choosing each profile's trained cells takes a quarter of a
    second, on every visit of the Compare page otherwise, while the grid's processes append a row every half hour."""

    def stamp(path: Path) -> tuple:
        return (path.stat().st_mtime_ns, path.stat().st_size) if path.is_file() else (None, None)

    spec_text = spec_file.read_text() if spec_file.is_file() else None
    return _grid_points(str(results), (stamp(results), stamp(spec_file)), spec_text)
