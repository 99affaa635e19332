"""Form specs from config dataclasses, so the studio's forms are generated and a knob is documented once.

`field_specs(Config)` returns one `FieldSpec` per field (name, kind, default, help, choices, optional);
`build_config(Config, values)` turns what a form returned back into a validated config (its `__post_init__` raises
`AdaptError` with what to fix). The studio renders the specs with Streamlit widgets (`studio/widgets.py`); this
module never imports streamlit, so the mapping from a dataclass to a form is tested on its own.

Kinds come from the type hints: bool, int, float, str, `X | None` (optional: the form may leave it empty) and
tuples of those ("list": comma-separated in a text box). A field whose default is itself a frozen dataclass (AdaPT's
`tokens: TokenPolicy`) is flattened: its fields appear as `tokens.scorer`, … (the CLI writes `--tokens-scorer`).
Fields of other types (dicts) are left out of forms. A text field's choices come, first found:
from its metadata (`field(..., metadata={"help": ..., "choices": (...)})`), from the tuple constant that the
config's module defines for it, named after the field in capitals, singular or plural (grouping → GROUPINGS,
positions → POSITIONS, mode → MODES), or from `CHOICES` below (by "Class.field", then by field name).

`method_specs(method)` are the form fields of a registered method (its config class with the variant's defaults,
without the fields that do not apply to it): the Train page and the CLI read the registry this way.
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

KINDS = ("bool", "int", "float", "str", "choice", "list")
CHOICES = {  # fields whose module has no constant listing their values (the device is free text: cuda:1 is one)
    "dtype": ("auto", "fp32", "bf16", "fp16"),
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
    item: str | None = None  # the element kind of a "list" field (int, float or str)

    @property
    def label(self) -> str:
        return self.name.replace(".", " ").replace("_", " ").capitalize()

    @property
    def flag(self) -> str:
        """The command-line flag: `tokens.max_new_tokens` → `--tokens-max-new-tokens`."""
        return "--" + self.name.replace(".", "-").replace("_", "-")

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
    return (hint if isinstance(hint, type) or typing.get_origin(hint) is tuple else None), False


def _choices(cls: type, f: dataclasses.Field) -> tuple | None:
    if f.metadata.get("choices"):
        return tuple(f.metadata["choices"])
    name, module = f.name, vars(sys.modules[cls.__module__])
    for const in (name.upper(), name.upper() + "S", name.upper() + "ES"):
        value = module.get(const)
        if isinstance(value, tuple) and value and all(isinstance(v, str) for v in value):
            return value
    return CHOICES.get(f"{cls.__name__}.{name}") or CHOICES.get(name)


def _default(f: dataclasses.Field):
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def _spec(cls: type, f: dataclasses.Field, hint, name: str) -> FieldSpec | None:
    base, optional = _base_type(hint)
    default = _default(f)
    if typing.get_origin(base) is tuple or base is tuple:
        args = [a for a in typing.get_args(base) if a is not Ellipsis]
        item = args[0] if args else type(default[0]) if default else str
        if item not in (int, float, str):
            return None
        return FieldSpec(name, "list", default, f.metadata.get("help", ""), None, optional, item.__name__)
    if base not in (bool, int, float, str):
        return None
    choices = _choices(cls, f) if base is str else None
    kind = "choice" if choices else base.__name__
    return FieldSpec(name, kind, default, f.metadata.get("help", ""), choices, optional)


def _flat_specs(cls: type, prefix: str = "") -> list[FieldSpec]:
    """Every form field of `cls`, nested dataclass fields flattened as `field.subfield`."""
    hints = typing.get_type_hints(cls)
    specs = []
    for f in dataclasses.fields(cls):
        default = _default(f)
        if dataclasses.is_dataclass(default):
            specs.extend(_flat_specs(type(default), f"{prefix}{f.name}."))
            continue
        spec = _spec(cls, f, hints[f.name], prefix + f.name)
        if spec is not None:
            specs.append(spec)
    return specs


def _flat_values(config, prefix: str = "") -> dict:
    out = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out.update(_flat_values(value, f"{prefix}{f.name}."))
        else:
            out[prefix + f.name] = value
    return out


def field_specs(
    cls: type, *, only: typing.Iterable[str] | None = None, exclude: typing.Iterable[str] = (), defaults: Any = None
) -> list[FieldSpec]:
    """The form fields of config class `cls`, in declaration order (or the order of `only`).

    `only` / `exclude` name fields (a nested config's name stands for all its fields). `defaults`: an instance (or
    a flat dict) whose values replace the class defaults (e.g. the current data slice).
    """
    specs = _flat_specs(cls)
    by_name = {s.name: s for s in specs}
    top = {f.name for f in dataclasses.fields(cls)}

    def matches(spec: FieldSpec, name: str) -> bool:
        return spec.name == name or spec.name.startswith(name + ".")

    if only is not None:
        only = list(only)
        unknown = [n for n in only if n not in top and n not in by_name]
        if unknown:
            raise AdaptError(f"{cls.__name__} has no field {unknown[0]!r}")
        specs = [s for n in only for s in specs if matches(s, n)]
    exclude = list(exclude)
    specs = [s for s in specs if not any(matches(s, n) for n in exclude)]
    given = _flat_values(defaults) if dataclasses.is_dataclass(defaults) else dict(defaults or {})
    return [dataclasses.replace(s, default=given[s.name]) if s.name in given else s for s in specs]


def coerce(spec: FieldSpec, value: Any) -> Any:
    """A widget's value as the field's type; empty text or None is None for optional fields."""
    if value is None or (isinstance(value, str) and not value.strip() and spec.kind != "str"):
        if spec.optional:
            return None
        raise AdaptError(f"{spec.label} needs a value ({spec.help})")
    if isinstance(value, str) and spec.optional and spec.kind == "str" and not value.strip():
        return None
    if spec.kind == "list":
        items = value.split(",") if isinstance(value, str) else list(value)
        items = [i.strip() if isinstance(i, str) else i for i in items if not (isinstance(i, str) and not i.strip())]
        if not items and spec.optional:
            return None
        item = FieldSpec(spec.name, spec.item or "str", None, spec.help)
        return tuple(coerce(item, i) for i in items)
    try:
        if spec.kind == "bool":
            return bool(value)
        if spec.kind == "int":
            number = float(value)
            if number != int(number):
                raise ValueError(f"{value} is not a whole number")
            return int(number)
        if spec.kind == "float":
            number = float(value)
    except (TypeError, ValueError) as err:
        raise AdaptError(f"{spec.label}: {err} (expected a {spec.kind})") from None
    if spec.kind == "float":
        if not math.isfinite(number):
            raise AdaptError(f"{spec.name} must be a finite number (got {number})")
        return number
    value = str(value).strip()
    if spec.choices and value not in spec.choices:
        raise AdaptError(f"{spec.name} must be one of {', '.join(spec.choices)} (got {value!r})")
    return value


def build_config(cls: type, values: dict[str, Any], base: Any = None):
    """`base` (or the class defaults) with `values` applied and validated; AdaptError says what to fix.

    `values` are flat: a nested config's fields come as `tokens.scorer`, ….
    """
    specs = {s.name: s for s in field_specs(cls)}
    unknown = [n for n in values if n not in specs]
    if unknown:
        top = {f.name for f in dataclasses.fields(cls)}
        what = "is not a form field (its type has no widget)" if unknown[0] in top else "is not a field"
        raise AdaptError(f"{cls.__name__}.{unknown[0]} {what}")
    flat = {**(_flat_values(base) if base is not None else {}), **{n: coerce(specs[n], v) for n, v in values.items()}}
    return _build(cls, flat)


def _build(cls: type, flat: dict, prefix: str = ""):
    kwargs = {}
    for f in dataclasses.fields(cls):
        default = _default(f)
        if dataclasses.is_dataclass(default):
            inner = {k: v for k, v in flat.items() if k.startswith(f"{prefix}{f.name}.")}
            if inner:
                kwargs[f.name] = _build(type(default), flat, f"{prefix}{f.name}.")
        elif prefix + f.name in flat:
            kwargs[f.name] = flat[prefix + f.name]
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise AdaptError(f"{cls.__name__}: {err}") from None


def method_specs(method: str) -> list[FieldSpec]:
    """The form fields of registered method `method`: its config's, with the variant's defaults, less the fields
    that do not apply to it (the token settings of a method without new tokens)."""
    from adapt_core.methods import get_method  # imported here: methods pulls in torch, forms stays light

    spec = get_method(method)
    return field_specs(spec.config, exclude=spec.hidden, defaults=spec.make())


def method_fields(method: str) -> tuple[str, ...]:
    """The names of the form fields of registered method `method`."""
    return tuple(s.name for s in method_specs(method))
