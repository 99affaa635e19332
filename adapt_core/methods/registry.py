"""One registry of methods: name → `MethodSpec` (config class, prepare, whether it uses new tokens / sensitivity).

`register_method(name, ConfigClass, prepare, ...)` is the one line a new method adds (see the README's "Adding a
method"). The CLI flags of `train`, the studio's Train form and the grid's JSON are derived from the registered
config classes, so a registered method shows up everywhere with no other change. Ablations and variants are further
registrations of the same class with other `defaults` (e.g. `adapt-random-init`) or without new tokens
(`adapt-no-tokens`).

`prepare(model, tokenizer, config, data, report=..., train=...)` dispatches on the config's class.
A method that does not train through the loop (STC) registers `fit` instead of `prepare`, and `load` for its own
model folder; the pipeline and the predictor ask the registry, never the method's name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from adapt_core.errors import AdaptError
from adapt_core.methods.base import Prepared
from adapt_core.models import count_parameters

TOKEN_FIELDS = ("tokens", "token_init")  # fields that only matter when the method adds new tokens


@dataclass(frozen=True)
class MethodSpec:
    """Everything the run path needs to know about a method."""

    name: str
    config: type  # the frozen config dataclass
    prepare: Callable | None = None  # (model, tokenizer, config, data, *, report, train) -> Prepared
    uses_tokens: bool = False  # the pipeline adds new tokens (vetted list or the config's TokenPolicy) first
    uses_sensitivity: bool = False  # prepare reads a SensitivityReport (given, or measured when none)
    defaults: dict = field(default_factory=dict)  # a variant's changed defaults
    help: str = ""
    fit: Callable | None = None  # (writer, data, run_config) -> report, for a method outside the training loop
    load: Callable | None = None  # (model_dir) -> predictor, for a method with its own model folder format
    check_model: Callable | None = None  # (model name) -> None; AdaptError before data or weights load

    def make(self, values: dict | None = None):
        """The method's config: its class defaults, the variant's defaults, then `values`."""
        known = {f.name for f in dataclasses.fields(self.config)}
        values = {**self.defaults, **(values or {})}
        unknown = sorted(set(values) - known)
        if unknown:
            raise AdaptError(
                f"method {self.name!r} has no setting {unknown[0]!r}: its settings are {', '.join(sorted(known))}"
            )
        try:
            return self.config(**values)
        except TypeError as err:
            raise AdaptError(f"{self.name}: {err}") from None

    @property
    def hidden(self) -> tuple[str, ...]:
        """Fields that do not apply to this registration (the token settings of a method without tokens)."""
        return () if self.uses_tokens else TOKEN_FIELDS

    @property
    def trains(self) -> bool:
        return self.fit is None


REGISTRY: dict[str, MethodSpec] = {}


def register_method(
    name: str,
    config: type,
    prepare: Callable | None = None,
    *,
    uses_tokens: bool = False,
    uses_sensitivity: bool = False,
    defaults: dict | None = None,
    help: str = "",
    fit: Callable | None = None,
    load: Callable | None = None,
    check_model: Callable | None = None,
) -> MethodSpec:
    """Add a method (or a variant of one) to the registry; returns its spec. Re-registering a name replaces it."""
    if not dataclasses.is_dataclass(config):
        raise AdaptError(f"{name}: the config of a method must be a dataclass (got {config!r})")
    if (prepare is None) == (fit is None):
        raise AdaptError(f"{name}: give exactly one of prepare (trains in the loop) or fit (its own procedure)")
    spec = MethodSpec(
        name, config, prepare, uses_tokens, uses_sensitivity, dict(defaults or {}), help, fit, load, check_model
    )
    spec.make()  # the defaults must build: a method that cannot run with its defaults is refused here
    REGISTRY[name] = spec
    return spec


def unregister_method(name: str) -> None:
    REGISTRY.pop(name, None)


def method_names() -> tuple[str, ...]:
    return tuple(REGISTRY)


def get_method(name: str) -> MethodSpec:
    if name not in REGISTRY:
        raise AdaptError(f"unknown method {name!r}: choose one of {', '.join(REGISTRY)}")
    return REGISTRY[name]


def method_config(name: str, **values):
    """The config of method `name` with `values` changed (a variant's defaults applied first)."""
    return get_method(name).make(values)


def trains_by_seed(name: str) -> bool:
    """Whether the training seed enters method `name`'s result: every gradient method's (its head, data order,
    dropout). A method outside the training loop (STC) fits frozen features deterministically on a pretrained model
    with its default solver (`tests/test_stc.py`; only the `sklearn` solver takes the seed, as saga's random_state),
    so seeds of it repeat one computation and their spread is floating-point rounding. A name not registered here
    (a grid's own cell name) counts as training."""
    spec = REGISTRY.get(name)
    return spec is None or spec.trains


def spec_for(config) -> MethodSpec:
    """The first registration of `config`'s class (the base method; variants share its prepare)."""
    for spec in REGISTRY.values():
        if type(config) is spec.config:
            return spec
    raise AdaptError(f"{type(config).__name__} is not a registered method config: register_method(...) it first")


def prepare(model: nn.Module, tokenizer, config, data=None, *, report=None, train=None, progress=None) -> Prepared:
    """Set `requires_grad` (or wrap the model with peft) as `config`'s method says.

    `data` is the TaskData (AdaPT measures on its train split); `report` lets AdaPT reuse a SensitivityReport of
    this very model instead of measuring; `train` (a TrainConfig) gives the run's max_length and seed; `progress(done,
    total)` follows a sensitivity measurement (methods that measure one).
    """
    spec = spec_for(config)
    if spec.prepare is None:
        raise AdaptError(f"method {spec.name!r} does not train in the loop: run it with run_training")
    extra = {"progress": progress} if spec.uses_sensitivity and progress is not None else {}
    prepared = spec.prepare(model, tokenizer, config, data, report=report, train=train, **extra)
    counts = count_parameters(prepared.model)
    prepared.info = {
        "trainable_params": counts.trainable,
        "total_params": counts.total,
        "trainable_percent": counts.percent,
        "new_token_params": any("new_token" in n for n, _ in prepared.model.named_parameters()),
        **prepared.info,
    }
    return prepared
