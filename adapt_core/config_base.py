"""The base of every method's config (kept free of torch so that light modules such as stc_config can derive
from it): a frozen dataclass whose validation refuses nan and ±inf in every float field, nested ones included."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from adapt_core.errors import AdaptError


def check_finite(config, where: str = "") -> None:
    """AdaptError naming the first float field (also inside tuples and nested configs) that is nan or ±inf."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        name = f"{where}{f.name}"
        if dataclasses.is_dataclass(value):
            check_finite(value, f"{name}.")
            continue
        values = value if isinstance(value, tuple | list) else (value,)
        for v in values:
            if isinstance(v, float) and not math.isfinite(v):
                raise AdaptError(f"{name} must be a finite number (got {v}): give a real value")


@dataclass(frozen=True)
class BaseMethodConfig:
    """The base of every method's config: refuses nan and inf in any float field."""

    def __post_init__(self):
        check_finite(self)
