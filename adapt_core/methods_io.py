"""Saving a trained model of any method as a folder of safetensors, and loading it back with identical predictions.

- Plain models (full, full+tokens, adapt, layers): new-token embeddings are folded back into an ordinary resized
  embedding (`tokens.merge`), then `save_pretrained`: a folder `AutoModelForSequenceClassification` loads as is.
- LoRA: merged into the weights (`merge_and_unload`), so the folder is a plain model too.
- Prefix tuning cannot be merged (the virtual tokens are extra keys/values in every layer). The folder holds the
  base model with the trained head as a plain model, plus peft's adapter (virtual-token parameters and head) in
  `prefix_adapter/`; `load_trained` rebuilds the PeftModel from both.
The caller's model is never changed: saving works on a copy, because the pipeline may still use the model.
Only safetensors are written or read (never pickles).
"""

from __future__ import annotations

import copy
from pathlib import Path

from torch import nn

from adapt_core.errors import AdaptError
from adapt_core.safeload import check_local_weights

PREFIX_DIR = "prefix_adapter"


def save_trained(model: nn.Module, tokenizer, folder: Path | str) -> None:
    """A Hugging Face folder (safetensors + tokenizer); prefix tuning adds its adapter in `prefix_adapter/`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model = copy.deepcopy(model)
    if _is_peft(model):
        if model.peft_config[model.active_adapter].is_prompt_learning:
            model.save_pretrained(folder / PREFIX_DIR, safe_serialization=True)
            model = _unwrap_auxiliary(model.get_base_model())
        else:
            model = model.merge_and_unload()
    model = _merge_new_tokens(model)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)


def load_trained(folder: Path | str):
    """(model, tokenizer) from a folder written by `save_trained`; a PeftModel for prefix tuning."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = Path(folder)
    if not (folder / "config.json").exists():
        raise AdaptError(f"{folder} holds no saved model (config.json is missing): pick a completed run's model/")
    check_local_weights(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    adapter = folder / PREFIX_DIR
    if (adapter / "adapter_config.json").exists():
        from peft import PeftModel

        if not (adapter / "adapter_model.safetensors").exists():
            raise AdaptError(f"{adapter} has no adapter_model.safetensors; only safetensors are loaded")
        from adapt_core.methods.prefix import use_cache_argument

        model = PeftModel.from_pretrained(model, adapter)
        use_cache_argument(model)  # transformers 5 names the prefix's argument `cache` (see methods/prefix.py)
    model.eval()
    return model, tokenizer


def _is_peft(model: nn.Module) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def _unwrap_auxiliary(model: nn.Module) -> nn.Module:
    """Replace peft's head wrappers (ModulesToSaveWrapper) by the trained module they hold."""
    from peft.utils.other import AuxiliaryTrainingWrapper

    wrapped = [(name, m) for name, m in model.named_modules() if isinstance(m, AuxiliaryTrainingWrapper)]
    for name, wrapper in wrapped:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(
            parent,
            child,
            wrapper.unload_and_optionally_merge_module(merge=False, safe_merge=False, adapter_names=None),
        )
    return model


def _merge_new_tokens(model: nn.Module) -> nn.Module:
    """Fold separate new-token embeddings into one plain embedding, when vocabulary augmentation added them."""
    if not any("new_token" in name for name, _ in model.named_parameters()):
        return model
    try:
        from adapt_core import tokens
    except ImportError as err:
        raise AdaptError("the model has new-token embeddings but adapt_core.tokens is missing: cannot merge") from err
    if not hasattr(tokens, "merge"):
        raise AdaptError("the model has new-token embeddings but adapt_core.tokens has no merge(): cannot save")
    merged = tokens.merge(model)
    return merged if isinstance(merged, nn.Module) else model
