"""Forms generated from the config dataclasses: every field of every config the studio shows gets a widget spec
with its help text and choices, values read back are typed and validated, and each method lists its fields."""

from __future__ import annotations

import dataclasses

import pytest

from adapt_core.data import DataConfig
from adapt_core.errors import AdaptError
from adapt_core.forms import (
    CHOICES,
    FieldSpec,
    build_config,
    coerce,
    field_specs,
    method_fields,
)
from adapt_core.methods import METHOD_FIELDS, METHODS, MethodConfig
from adapt_core.mining import MiningConfig
from adapt_core.perplexity import PerplexityConfig
from adapt_core.sensitivity import SensitivityConfig
from adapt_core.train import TrainConfig
from adapt_core.vetting import DECISIONS, CandidateFilter

SHOWN = [DataConfig, MiningConfig, PerplexityConfig, CandidateFilter, SensitivityConfig, MethodConfig, TrainConfig]


@pytest.mark.parametrize("cls", SHOWN, ids=lambda c: c.__name__)
def test_every_field_of_a_shown_config_has_a_documented_spec(cls):
    specs = field_specs(cls)
    assert [s.name for s in specs] == [f.name for f in dataclasses.fields(cls)]
    for spec in specs:
        assert spec.help and spec.kind in ("bool", "int", "float", "str", "choice")
        assert spec.default == getattr(cls(), spec.name)
    assert build_config(cls, {s.name: s.default for s in specs}) == cls()  # the defaults read back unchanged


def test_kinds_optional_fields_and_choices():
    specs = {s.name: s for s in field_specs(MethodConfig)}
    assert specs["method"].kind == "choice" and specs["method"].choices == METHODS
    assert specs["lora_r"].kind == "int" and not specs["lora_r"].optional
    assert specs["calibration_size"].kind == "int" and specs["calibration_size"].optional
    assert specs["beta"].kind == "float"
    assert {s.name: s.choices for s in field_specs(TrainConfig, only=["device"])} == {"device": CHOICES["device"]}
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
    spec = field_specs(MethodConfig, only=["beta"], defaults=MethodConfig(beta=2.5))[0]
    assert spec.default == 2.5
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
    assert build_config(MethodConfig, {"method": "lora", "lora_r": "4"}).lora_r == 4
    base = MethodConfig(method="adapt", beta=2.0)
    assert build_config(MethodConfig, {"top_k": 5}, base=base) == dataclasses.replace(base, top_k=5.0)
    with pytest.raises(AdaptError, match="top_k"):
        build_config(MethodConfig, {"top_k": 0})
    with pytest.raises(AdaptError, match="dev_fraction"):
        build_config(DataConfig, {"dev_fraction": 0.9})


def test_every_method_lists_only_real_fields_and_every_knob_belongs_to_a_method():
    names = {f.name for f in dataclasses.fields(MethodConfig)}
    assert set(METHOD_FIELDS) == set(METHODS)
    used = set()
    for method in METHODS:
        assert set(method_fields(method)) <= names
        used |= set(method_fields(method))
    assert used == names - {"method"}
    with pytest.raises(AdaptError, match="unknown method"):
        method_fields("magic")


def test_fixed_choices_match_the_library():
    from adapt_core.tokens import INITS

    assert CHOICES["token_init"] == INITS
