"""Prefix tuning through peft (`prefix`): trained virtual keys/values in every layer, plus the head.

transformers 5 renamed the models' `past_key_values` argument to `cache` (the old name is still accepted through a
deprecation shim), and peft's prefix forward for sequence classification checks the *signature* for
`past_key_values`, so it refuses BERT and Llama although both take the prefix. `use_cache_argument` gives the
wrapped model a prefix forward that passes peft's prompt as whichever argument the backbone names (`cache` or
`past_key_values`); a backbone with neither cannot take a prefix and is refused by `check_model` before any data or
weights load. That forward also numbers the text's positions over its real tokens (`prefixed_positions`), so a
left-padded text reads the prefix exactly as it does alone.
"""

from __future__ import annotations

import inspect
import types
from dataclasses import dataclass, field

from adapt_core.config_base import BaseMethodConfig
from adapt_core.errors import AdaptError
from adapt_core.methods.base import Prepared, lr_field, unfreeze_new_tokens
from adapt_core.methods.registry import register_method

CACHE_ARGUMENTS = ("past_key_values", "cache")


@dataclass(frozen=True)
class PrefixConfig(BaseMethodConfig):
    """peft prefix tuning with `task_type=SEQ_CLS`."""

    lr: float = lr_field(1e-2)
    prefix_len: int = field(default=20, metadata={"help": "Number of virtual tokens."})

    def __post_init__(self):
        super().__post_init__()
        if self.prefix_len < 1:
            raise AdaptError(f"prefix_len must be ≥ 1 virtual token (got {self.prefix_len})")


def cache_argument(backbone_class: type) -> str | None:
    """The name under which `backbone_class.forward` takes past keys/values, or None when it takes none."""
    params = inspect.signature(backbone_class.forward).parameters
    return next((name for name in CACHE_ARGUMENTS if name in params), None)


def _backbone_class(model_name: str) -> type | None:
    """The bare backbone class (e.g. BertModel) of a model, from its config alone; None when unknown here."""
    from transformers import MODEL_MAPPING

    from adapt_core.models import model_config

    config = model_config(model_name)
    return None if config is None else MODEL_MAPPING.get(type(config), None)


def check_model(model_name: str) -> None:
    """AdaptError naming the model class when its backbone cannot take a prefix (reads the config only)."""
    backbone = _backbone_class(model_name)
    if backbone is not None and cache_argument(backbone) is None:  # unknown here: loading the model says why
        raise AdaptError(
            f"prefix tuning needs a model that takes past keys/values; {backbone.__name__} does not: pick lora instead"
        )


def _prefix_forward(self, input_ids=None, attention_mask=None, inputs_embeds=None, labels=None, **kwargs):
    """peft's prefix forward with the prompt passed as the backbone's cache argument (mask already extended)."""
    from peft.peft_model import _get_batch_size

    kwargs.pop("past_key_values", None)
    backbone = self.base_model.get_submodule(self.transformer_backbone_name)
    name = cache_argument(type(backbone))
    if name is None:
        raise AdaptError(f"prefix tuning needs past keys/values; {type(backbone).__name__} takes none: pick lora")
    prompt = self.get_prompt(_get_batch_size(input_ids, inputs_embeds))
    if attention_mask is not None and "position_ids" not in kwargs and _takes(backbone, "position_ids"):
        kwargs["position_ids"] = prefixed_positions(attention_mask, self.active_peft_config.num_virtual_tokens)
    return self.base_model(
        input_ids=input_ids,
        attention_mask=attention_mask,
        inputs_embeds=inputs_embeds,
        labels=labels,
        **{name: prompt},
        **kwargs,
    )


def _takes(module, name: str) -> bool:
    return name in inspect.signature(type(module).forward).parameters


def prefixed_positions(attention_mask, prefix_len: int):
    """(batch, time) position ids of the text tokens after `prefix_len` virtual tokens, counted over real tokens only.

    `attention_mask` (batch, prefix_len + time) is peft's: ones for the prefix, then the text's mask. Left unset, a
    model numbers the text from `prefix_len` by column, so under left padding a text's tokens would sit further from
    the prefix than when it is alone, and its prediction would depend on its neighbours (rotary attention is blind to
    a shift of the text alone, not to a shift against the prefix's fixed keys). Pads get `prefix_len`; they are masked.
    """
    text = attention_mask[:, prefix_len:].long()  # (batch, time)
    return prefix_len + (text.cumsum(-1) - 1).clamp(min=0)


def use_cache_argument(wrapped) -> None:
    """Make a peft prefix-tuning model pass its prompt by the backbone's own argument name (see the docstring)."""
    wrapped._prefix_tuning_forward = types.MethodType(_prefix_forward, wrapped)  # deepcopy rebinds a bound method


def prepare_prefix(model, tokenizer, config: PrefixConfig, data, *, report=None, train=None) -> Prepared:
    from peft import PrefixTuningConfig, TaskType, get_peft_model

    wrapped = get_peft_model(
        model, PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=config.prefix_len)
    )
    use_cache_argument(wrapped)
    unfreeze_new_tokens(wrapped)
    return Prepared(wrapped, {"prefix_len": config.prefix_len})


register_method(
    "prefix",
    PrefixConfig,
    prepare_prefix,
    check_model=check_model,
    help="Prefix tuning (peft): trained virtual keys/values in every layer and the head.",
)
