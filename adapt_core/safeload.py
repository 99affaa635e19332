"""Weights are loaded only from safetensors, never unpickled: the checks every `from_pretrained` call site makes.

A pickled checkpoint (`pytorch_model.bin`, `*.pt`) runs code while it loads, so a folder a user downloaded or
received could do anything. Every `from_pretrained` in the project passes `use_safetensors=True`; on top of that,
a local folder is inspected first, so a folder with only pickled weights is refused in one line that says how to
convert it, before transformers sees it, and a folder whose save never finished is named as such.
"""

from __future__ import annotations

from pathlib import Path

from adapt_core.errors import AdaptError

PICKLED = ("pytorch_model*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")
CONVERT = (
    "only pickled weights (pytorch_model.bin), which are never loaded here because unpickling runs code: in an "
    "environment you trust, load it once and save it with save_pretrained(folder, safe_serialization=True)"
)


def weights_problem(folder: Path | str) -> str | None:
    """Why the Hugging Face folder `folder` has no loadable safetensors weights, or None when it has them."""
    folder = Path(folder)
    if any(folder.glob("*.safetensors")):
        return None
    if any(hit for pattern in PICKLED for hit in folder.glob(pattern)):
        return f"has {CONVERT}"
    return "has no weights file (model.safetensors): the save did not finish (disk full?); train the run again"


def check_local_weights(name: str | Path, what: str = "model") -> None:
    """Raise AdaptError when `name` is a local folder without safetensors weights; Hub ids and registry names pass
    (transformers then fetches safetensors only, as `use_safetensors=True` asks)."""
    folder = Path(name)
    if not folder.is_dir() or not (folder / "config.json").exists():
        return
    problem = weights_problem(folder)
    if problem:
        raise AdaptError(f"{what} folder {folder} {problem}")
