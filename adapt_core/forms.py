"""Form specs from config dataclasses, so the studio's forms are generated and a knob is documented once.

`field_specs(Config)` returns one `FieldSpec` per field (name, kind, default, help, choices, optional);
`build_config(Config, values)` turns what a form returned back into a validated config (its `__post_init__` raises
`AdaptError` with what to fix). The studio renders the specs with Streamlit widgets (`studio/widgets.py`); this
module never imports streamlit, so the mapping from a dataclass to a form is tested on its own.

Kinds come from the type hints: bool, int, float, str, and `X | None` (optional: the form may leave it empty).
Fields of other types (dicts, nested configs) are left out of forms. A text field's choices come, first found:
from its metadata (`field(..., metadata={"help": ..., "choices": (...)})`), from the tuple constant that the
config's module defines for it, named after the field in capitals, singular or plural (method → METHODS,
positions → POSITIONS, mode → MODES), or from `CHOICES` below (by "Class.field", then by field name).

`method_fields(method)` says which MethodConfig fields a method reads, so the Train page shows only those.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import typing
from dataclasses import dataclass
from types import UnionType
from typing import Any

from adapt_core.errors import AdaptError

KINDS = ("bool", "int", "float", "str", "choice")
CHOICES = {  # fields whose module has no constant listing their values
    "device": ("auto", "cpu", "cuda", "mps"),
    "dtype": ("auto", "fp32", "bf16", "fp16"),
    "token_init": ("random", "mean"),
}


@dataclass(frozen=True)
class FieldSpec:
    """One form field: what widget to draw and how to read it back."""

    name: str
    kind: str  # one of KINDS
    default: Any
    help: str
    choices: tuple | None = None
    optional: bool = False  # None ("empty") is a valid value

    @property
    def label(self) -> str:
        return self.name.replace("_", " ").capitalize()

    @property
    def step(self) -> float | int:
        """A sensible increment for a number field: 1 for ints, the default's order of magnitude for floats."""
        if self.kind == "int":
            return 1
        value = abs(float(self.default or 0.0))
        return 10.0 ** math.floor(math.log10(value)) if value else 0.01


def _base_type(hint) -> tuple[type | None, bool]:
    """(the non-None type, whether None is allowed) of a type hint such as `int | None`."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else None), True
    return (hint if isinstance(hint, type) else None), False


def _choices(cls: type, f: dataclasses.Field) -> tuple | None:
    if f.metadata.get("choices"):
        return tuple(f.metadata["choices"])
    name, module = f.name, vars(sys.modules[cls.__module__])
    for const in (name.upper(), name.upper() + "S", name.upper() + "ES"):
        value = module.get(const)
        if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
            return value
    return CHOICES.get(f"{cls.__name__}.{name}") or CHOICES.get(name)


def _spec(cls: type, f: dataclasses.Field, hint) -> FieldSpec | None:
    base, optional = _base_type(hint)
    if base not in (bool, int, float, str):
        return None
    default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    choices = _choices(cls, f) if base is str else None
    kind = "choice" if choices else base.__name__
    return FieldSpec(f.name, kind, default, f.metadata.get("help", ""), choices, optional)


def field_specs(
    cls: type, *, only: typing.Iterable[str] | None = None, exclude: typing.Iterable[str] = (), defaults: Any = None
) -> list[FieldSpec]:
    """The form fields of config class `cls`, in declaration order (or the order of `only`).

    `defaults`: an instance (or dict) whose values replace the class defaults (e.g. the current data slice).
    """
    hints = typing.get_type_hints(cls)
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    names = list(only) if only is not None else list(by_name)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise AdaptError(f"{cls.__name__} has no field {unknown[0]!r}")
    given = dataclasses.asdict(defaults) if dataclasses.is_dataclass(defaults) else dict(defaults or {})
    specs = []
    for name in names:
        if name in exclude:
            continue
        spec = _spec(cls, by_name[name], hints[name])
        if spec is not None:
            specs.append(dataclasses.replace(spec, default=given[name]) if name in given else spec)
    return specs


def coerce(spec: FieldSpec, value: Any) -> Any:
    """A widget's value as the field's type; empty text or None is None for optional fields."""
    if value is None or (isinstance(value, str) and not value.strip() and spec.kind != "str"):
        if spec.optional:
            return None
        raise AdaptError(f"{spec.label} needs a value ({spec.help})")
    if isinstance(value, str) and spec.optional and spec.kind == "str" and not value.strip():
        return None
    try:
        if spec.kind == "bool":
            return bool(value)
        if spec.kind == "int":
            number = float(value)
            if number != int(number):
                raise ValueError(f"{value} is not a whole number")
            return int(number)
        if spec.kind == "float":
            return float(value)
    except (TypeError, ValueError) as err:
        raise AdaptError(f"{spec.label}: {err} (expected a {spec.kind})") from None
    value = str(value).strip()
    if spec.choices and value not in spec.choices:
        raise AdaptError(f"{spec.label} must be one of {', '.join(spec.choices)} (got {value!r})")
    return value


def build_config(cls: type, values: dict[str, Any], base: Any = None):
    """`base` (or the class defaults) with `values` applied and validated; AdaptError says what to fix."""
    specs = {s.name: s for s in field_specs(cls, only=list(values))}  # unknown names raise here
    skipped = [n for n in values if n not in specs]
    if skipped:
        raise AdaptError(f"{cls.__name__}.{skipped[0]} is not a form field (its type has no widget)")
    changes = {name: coerce(specs[name], value) for name, value in values.items()}
    try:
        return dataclasses.replace(base, **changes) if base is not None else cls(**changes)
    except TypeError as err:
        raise AdaptError(f"{cls.__name__}: {err}") from None


def method_fields(method: str) -> tuple[str, ...]:
    """The MethodConfig fields that `method` reads (the Train page shows only these)."""
    from adapt_core.methods import METHOD_FIELDS  # imported here: methods pulls in torch, forms stays light

    if method not in METHOD_FIELDS:
        raise AdaptError(f"unknown method {method!r}: choose one of {', '.join(METHOD_FIELDS)}")
    return METHOD_FIELDS[method]
