"""Forms generated from the config dataclasses: every field of every config the studio shows gets a widget spec
with its help text and choices, values read back are typed and validated, and each method lists its fields."""

from __future__ import annotations

import dataclasses

import pytest

from adapt_core.data import DataConfig
from adapt_core.errors import AdaptError
from adapt_core.forms import (
    FieldSpec,
    build_config,
    coerce,
    field_specs,
    method_fields,
    method_specs,
)
from adapt_core.methods import REGISTRY, AdaptConfig, LoraConfig, StcConfig, method_names
from adapt_core.mining import MiningConfig
from adapt_core.perplexity import PerplexityConfig
from adapt_core.sensitivity import SensitivityConfig
from adapt_core.train import DTYPES, TrainConfig
from adapt_core.vetting import DECISIONS, CandidateFilter

METHOD_CONFIGS = list(dict.fromkeys(spec.config for spec in REGISTRY.values()))
SHOWN = [DataConfig, MiningConfig, PerplexityConfig, CandidateFilter, SensitivityConfig, TrainConfig, *METHOD_CONFIGS]


def _flat_names(cls, prefix=""):
    names = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        if dataclasses.is_dataclass(default):
            names += _flat_names(type(default), f"{prefix}{f.name}.")
        else:
            names.append(prefix + f.name)
    return names


def _value(config, name):
    for part in name.split("."):
        config = getattr(config, part)
    return config


@pytest.mark.parametrize("cls", SHOWN, ids=lambda c: c.__name__)
def test_every_field_of_a_shown_config_has_a_documented_spec(cls):
    specs = field_specs(cls)
    assert [s.name for s in specs] == _flat_names(cls)  # nested configs (AdaPT's tokens) flattened
    for spec in specs:
        assert spec.help and spec.kind in ("bool", "int", "float", "str", "choice", "list")
        assert spec.default == _value(cls(), spec.name)
    assert build_config(cls, {s.name: s.default for s in specs}) == cls()  # the defaults read back unchanged


def test_kinds_optional_fields_and_choices():
    specs = {s.name: s for s in [*field_specs(LoraConfig), *field_specs(AdaptConfig), *field_specs(StcConfig)]}
    assert specs["lora_targets"].kind == "choice" and specs["lora_r"].kind == "int" and not specs["lora_r"].optional
    assert specs["calibration_size"].kind == "int" and specs["calibration_size"].optional
    assert specs["beta"].kind == "float" and specs["tokens.scorer"].optional
    assert (specs["etas"].kind, specs["etas"].item) == ("list", "float")
    assert field_specs(TrainConfig, only=["device"])[0].choices is None  # free text: cuda:1 is a device too
    assert {s.name: s.choices for s in field_specs(TrainConfig, only=["dtype"])} == {"dtype": DTYPES}
    assert field_specs(CandidateFilter, only=["state"])[0].choices == DECISIONS
    assert field_specs(TrainConfig, only=["keep_best"])[0].kind == "bool"


def test_choices_from_field_metadata_win():
    @dataclasses.dataclass(frozen=True)
    class Config:
        colour: str = dataclasses.field(default="red", metadata={"help": "A colour.", "choices": ("red", "blue")})

    assert field_specs(Config)[0].choices == ("red", "blue")


def test_only_exclude_and_defaults():
    names = [s.name for s in field_specs(TrainConfig, only=["lr", "epochs"])]
    assert names == ["lr", "epochs"]
    assert "device" not in [s.name for s in field_specs(TrainConfig, exclude=["device"])]
    spec = field_specs(AdaptConfig, only=["beta"], defaults=AdaptConfig(beta=2.5))[0]
    assert spec.default == 2.5
    assert [s.name for s in field_specs(AdaptConfig, only=["tokens"])] == [
        "tokens." + n for n in _flat_names(type(AdaptConfig().tokens))
    ]
    assert not [s for s in field_specs(AdaptConfig, exclude=["tokens"]) if s.name.startswith("tokens.")]
    with pytest.raises(AdaptError, match="no field"):
        field_specs(TrainConfig, only=["nope"])


def test_coerce_reads_widget_values_as_the_field_type():
    int_spec = FieldSpec("n", "int", 1, "a count")
    assert coerce(int_spec, 3.0) == 3 and coerce(int_spec, "4") == 4
    with pytest.raises(AdaptError, match="whole number"):
        coerce(int_spec, 2.5)
    with pytest.raises(AdaptError, match="needs a value"):
        coerce(int_spec, None)
    assert coerce(FieldSpec("m", "int", None, "optional", optional=True), None) is None
    assert coerce(FieldSpec("s", "str", None, "optional text", optional=True), "  ") is None
    with pytest.raises(AdaptError, match="one of"):
        coerce(FieldSpec("c", "choice", "a", "pick", ("a", "b")), "z")
    assert FieldSpec("lr", "float", 5e-5, "").step == pytest.approx(1e-5)


def test_build_config_validates_with_the_configs_own_message():
    assert build_config(LoraConfig, {"lora_r": "4"}).lora_r == 4
    base = AdaptConfig(beta=2.0)
    assert build_config(AdaptConfig, {"top_k": 5}, base=base) == dataclasses.replace(base, top_k=5.0)
    with pytest.raises(AdaptError, match="top_k"):
        build_config(AdaptConfig, {"top_k": 0})
    built = build_config(AdaptConfig, {"tokens.scorer": "", "tokens.max_new_tokens": "7"}, base=base)
    assert (built.tokens.scorer, built.tokens.max_new_tokens, built.beta) == (None, 7, 2.0)
    assert build_config(StcConfig, {"etas": "0.1, 0.5"}).etas == (0.1, 0.5)
    with pytest.raises(AdaptError, match="finite"):
        build_config(AdaptConfig, {"beta": "nan"})
    with pytest.raises(AdaptError, match="dev_fraction"):
        build_config(DataConfig, {"dev_fraction": 0.9})


def test_every_method_lists_its_own_fields_and_its_defaults():
    for method in method_names():
        spec = REGISTRY[method]
        assert set(method_fields(method)) <= set(_flat_names(spec.config))
        assert {s.name: s.default for s in method_specs(method)} == {
            n: _value(spec.make(), n) for n in method_fields(method)
        }
    assert "token_init" in method_fields("adapt") and "token_init" not in method_fields("adapt-no-tokens")
    inits = {m: {s.name: s.default for s in method_specs(m)}["token_init"] for m in ("adapt", "adapt-random-init")}
    assert inits == {"adapt": "mean", "adapt-random-init": "random"}  # the product's default, and the paper's
    assert {s.name: s.default for s in method_specs("lora")}["lr"] == 1e-3  # switching method switches defaults
    with pytest.raises(AdaptError, match="unknown method"):
        method_fields("magic")


def test_fixed_choices_match_the_library():
    from adapt_core.tokens import INITS

    assert field_specs(AdaptConfig, only=["token_init"])[0].choices == INITS
