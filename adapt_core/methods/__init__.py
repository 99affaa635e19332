"""Every way of adapting a model, one module per method, in one registry (`registry.py`).

- `full`, `full+tokens`: every parameter (`full.py`; the pipeline adds the new tokens for `full+tokens`).
- `adapt`, `adapt-no-tokens`, `adapt-random-init`: AdaPT (`adapt.py`).
- `layers`: the top L blocks + head (`layers.py`).
- `lora`, `prefix`: peft's LoRA and prefix tuning (`lora.py`, `prefix.py`).
- `stc`: Sparsify-then-Classify (`stc.py`), outside the training loop.
After `prepare`, exactly the parameters that the method trains have `requires_grad=True`, and the loop's AdamW holds
those alone. Whenever new-token embeddings exist they train. `save_trained` / `load_trained` (in `methods_io.py`)
turn any prepared model into a folder of safetensors and back.
"""

from __future__ import annotations

from adapt_core.config_base import BaseMethodConfig, check_finite
from adapt_core.methods.adapt import AdaptConfig  # noqa: E402
from adapt_core.methods.base import Prepared

# the built-in methods register themselves on import, in the order the studio lists them
from adapt_core.methods.full import FullConfig, FullTokensConfig  # noqa: E402
from adapt_core.methods.layers import LayersConfig, matched_layers  # noqa: E402
from adapt_core.methods.lora import LoraConfig, lora_target_modules  # noqa: E402
from adapt_core.methods.prefix import PrefixConfig  # noqa: E402
from adapt_core.methods.registry import (
    REGISTRY,
    MethodSpec,
    get_method,
    method_config,
    method_names,
    prepare,
    register_method,
    spec_for,
    trains_by_seed,
    unregister_method,
)
from adapt_core.methods.stc import StcConfig  # noqa: E402
from adapt_core.methods_io import load_trained, save_trained  # noqa: E402

__all__ = [
    "REGISTRY",
    "AdaptConfig",
    "BaseMethodConfig",
    "FullConfig",
    "FullTokensConfig",
    "LayersConfig",
    "LoraConfig",
    "MethodSpec",
    "PrefixConfig",
    "Prepared",
    "StcConfig",
    "check_finite",
    "get_method",
    "load_trained",
    "lora_target_modules",
    "matched_layers",
    "method_config",
    "method_names",
    "prepare",
    "register_method",
    "save_trained",
    "spec_for",
    "trains_by_seed",
    "unregister_method",
]
