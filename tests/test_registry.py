"""The one registry of methods, end to end: a method registered here shows up in the CLI, the forms and the grid
with no other change; `train --method adapt` is AdaPT whole (new tokens by the policy, or exactly a vetted list's);
the sensitivity a run is handed is the one it selects from (and it measures with its own max_length and seed)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers_toy import one_thread, toy_task, write_toy_jsonl

from adapt_core.cli import build_parser, main
from adapt_core.errors import AdaptError
from adapt_core.forms import build_config, method_specs
from adapt_core.methods import (
    BaseMethodConfig,
    Prepared,
    get_method,
    method_config,
    prepare,
    register_method,
    unregister_method,
)
from adapt_core.models import load_classifier
from adapt_core.sensitivity import measure
from adapt_core.train import TrainConfig

_one_thread = pytest.fixture(scope="module", autouse=True)(one_thread)
FAST = ["--model", "tiny-bert", "--max-steps", "2", "--batch-size", "8", "--max-length", "32", "--quiet"]


@dataclass(frozen=True)
class HeadOnlyConfig(BaseMethodConfig):
    """A made-up method for the test: only the classification head trains."""

    lr: float = field(default=5e-3, metadata={"help": "Peak AdamW learning rate."})
    head_scale: float = field(default=1.0, metadata={"help": "Multiplies the head's initial weights."})
    freeze_bias: bool = field(default=False, metadata={"help": "Keep the head's bias frozen."})


def prepare_head_only(model, tokenizer, config, data, *, report=None, train=None) -> Prepared:
    from adapt_core.anatomy import head_parameter_names

    head = set(head_parameter_names(model))
    for name, p in model.named_parameters():
        p.requires_grad_(name in head and not (config.freeze_bias and name.endswith("bias")))
    return Prepared(model, {"head_scale": config.head_scale})


@pytest.fixture
def head_only():
    register_method("head-only", HeadOnlyConfig, prepare_head_only, help="Only the head trains.")
    yield get_method("head-only")
    unregister_method("head-only")


def test_a_registered_method_is_picked_up_by_the_cli_the_forms_and_the_grid(head_only, tmp_path):
    from adapt_core import grid_runner, grid_spec

    parser = build_parser()
    args = parser.parse_args(["train", "--method", "head-only", "--head-scale", "2", "--no-freeze-bias"])
    from adapt_core.commands.train_command import build_config as cli_config

    run = cli_config(args)
    assert run.settings == HeadOnlyConfig(head_scale=2.0) and run.lr == 5e-3  # its own rate reaches training
    with pytest.raises(AdaptError, match="--head-scale does not apply to --method full"):
        cli_config(parser.parse_args(["train", "--method", "full", "--head-scale", "2"]))

    specs = {s.name: s for s in method_specs("head-only")}
    assert set(specs) == {"lr", "head_scale", "freeze_bias"} and specs["freeze_bias"].kind == "bool"
    assert build_config(HeadOnlyConfig, {"head_scale": "3"}).head_scale == 3.0

    spec = json.loads((Path(__file__).resolve().parents[1] / "benchmarks" / "grid.json").read_text())
    spec = {**spec, "tasks": [str(write_toy_jsonl(tmp_path / "toy.jsonl"))]}
    spec["methods"] = {**spec["methods"], "head-only": {"method": {"head_scale": 0.5}}}
    cell = next(c for c in grid_spec.cells(spec, "smoke") if c.method == "head-only")
    assert grid_spec.run_config(spec, "smoke", cell, None).settings == HeadOnlyConfig(head_scale=0.5)
    frame = grid_runner.run_grid(spec, "smoke", tmp_path / "r.csv", tmp_path / "runs", methods=["head-only"], seeds=[0])
    assert frame["state"].tolist() == ["completed"], frame["error"].tolist()
    spec["methods"]["head-only"] = {"method": {"head_size": 1}}
    with pytest.raises(AdaptError, match="has no setting 'head_size'"):
        grid_spec.cells(spec, "smoke")


def test_train_adapt_with_no_vetted_list_adds_tokens_by_the_policy(tmp_path):
    data = write_toy_jsonl(tmp_path / "toy.jsonl", n=120)
    run_dir = tmp_path / "run"
    # --tokens-scorer "": the policy without PPLu scoring (no scoring model to load), everything else as by default
    args = ["train", "--dataset", str(data), "--method", "adapt", "--tokens-scorer", "", *FAST]
    assert main([*args, "--run-dir", str(run_dir)]) == 0
    report = json.loads((run_dir / "report.json").read_text())
    tokens = json.loads((run_dir / "tokens.json").read_text())
    assert report["tokens"]["added"] > 0 and report["tokens"]["source"] == "policy:auto"
    assert tokens["source"] == "policy:auto" and tokens["candidates"]
    assert report["lr"] == method_config("adapt").lr
    selection = json.loads((run_dir / "selection.json").read_text())
    assert selection["trainable_modules"] and {"D", "G", "S", "size"} <= set(selection["modules"][0])
    assert (selection["top_k"], selection["grouping"]) == (10.0, "linear") and "budget" in selection["rule"]


def test_train_with_a_vetted_list_uses_exactly_its_accepted_tokens(tmp_path, capsys):
    from adapt_core.vetting import VettedList

    data = write_toy_jsonl(tmp_path / "toy.jsonl", n=120)
    vetted = VettedList()
    vetted.add("river stone", "accepted")
    vetted.add("data model", "accepted")
    vetted.add("cloud light", "rejected")
    path = vetted.save(tmp_path / "vetted.json")
    run_dir = tmp_path / "run"
    args = ["train", "--dataset", str(data), "--method", "full+tokens", "--tokens", str(path), *FAST]
    assert main([*args, "--run-dir", str(run_dir)]) == 0
    report = json.loads((run_dir / "report.json").read_text())
    assert report["tokens"]["added"] == 2 and report["tokens"]["source"].startswith("vetted:")
    from adapt_core.methods import load_trained

    _, tokenizer = load_trained(run_dir / "model")
    added = set(tokenizer.get_added_vocab()) - set(tokenizer.all_special_tokens)
    assert added == {"river stone", "data model"}
    refused = ["train", "--dataset", str(data), "--tokens", str(path), "--run-dir", str(tmp_path / "full"), *FAST]
    capsys.readouterr()
    assert main(refused) == 2 and not (tmp_path / "full").exists()  # refused before the run folder exists
    assert "method full adds no new tokens: drop the vetted list (--tokens)" in capsys.readouterr().err
    with pytest.raises(AdaptError, match="selects no modules by sensitivity"):
        from adapt_core.pipeline import RunConfig

        RunConfig(method="lora", sensitivity="s.json")


def test_a_given_sensitivity_report_is_what_the_run_selects_from(tmp_path):
    data = write_toy_jsonl(tmp_path / "toy.jsonl", n=120)
    saved = tmp_path / "sensitivity.json"
    common = ["--dataset", str(data), "--model", "tiny-bert", "--max-length", "32", "--seed", "1", "--quiet"]
    assert main(["sensitivity", *common, "--top-k", "30", "--save-report", str(saved)]) == 0
    from adapt_core.selection import SensitivityReport

    # The scores reversed (meta kept): a run that measured again instead of reading the file would select the
    # modules the measurement ranks first, the file now ranks them last.
    payload = json.loads(saved.read_text())
    measured = SensitivityReport.from_dict(payload).select(1.0, 30.0).modules
    for key in ("D", "G"):
        for row, value in zip(payload["linears"], [r[key] for r in payload["linears"]][::-1], strict=True):
            row[key] = value
    saved.write_text(json.dumps(payload))
    expected = SensitivityReport.from_dict(payload).select(1.0, 30.0).modules
    assert set(expected) != set(measured)
    run_dir = tmp_path / "run"
    args = ["train", "--method", "adapt-no-tokens", "--top-k", "30", "--sensitivity", str(saved), *common]
    assert main([*args, "--max-steps", "2", "--batch-size", "8", "--run-dir", str(run_dir)]) == 0
    report = json.loads((run_dir / "report.json").read_text())
    assert report["method_info"]["sensitivity_source"] == "given"
    selection = json.loads((run_dir / "selection.json").read_text())
    assert selection["trainable_modules"] == list(expected)


def test_a_report_measured_with_other_settings_is_refused_before_the_run_starts(tmp_path, capsys):
    """A given report stands in for the run's own measurement, so one measured with another max_length, seed or
    calibration sample would select for a different run: refused in one line, nothing created."""
    data = write_toy_jsonl(tmp_path / "toy.jsonl", n=120)
    saved = tmp_path / "sensitivity.json"
    common = ["--dataset", str(data), "--model", "tiny-bert", "--quiet"]
    assert main(["sensitivity", *common, "--max-length", "32", "--save-report", str(saved)]) == 0
    train = ["train", "--method", "adapt-no-tokens", "--sensitivity", str(saved), *common, "--max-steps", "1"]
    for extra, said in (
        (["--max-length", "64"], "was measured with max_length 32, this run has 64"),
        (["--max-length", "32", "--seed", "3"], "was measured with seed 0, this run has 3"),
        (
            ["--max-length", "32", "--calibration-size", "16"],
            "was measured with calibration_size None, this run has 16",
        ),
    ):
        run_dir = tmp_path / "run"
        assert main([*train, *extra, "--run-dir", str(run_dir)]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1 and not run_dir.exists()
    used = json.loads(saved.read_text())["meta"]["calibration_examples"]  # what the empty size resolved to
    ok = [*train, "--max-length", "32", "--calibration-size", str(used), "--run-dir", str(tmp_path / "ok")]
    assert main(ok) == 0, capsys.readouterr().err


def test_a_report_measured_with_other_new_tokens_is_refused(tmp_path, capsys):
    """The report records the tokens it was measured with and their init (`measure_added`); a run adding other
    ones (or none, or with another init) would select from a different model."""
    data = write_toy_jsonl(tmp_path / "toy.jsonl", n=120)
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("river stone\ndata model\n")
    saved = tmp_path / "sensitivity.json"
    common = ["--dataset", str(data), "--model", "tiny-bert", "--quiet"]
    assert main(["sensitivity", *common, "--tokens", str(tokens), "--save-report", str(saved)]) == 0
    recorded = json.loads(saved.read_text())["meta"]["tokens"]
    assert recorded == {"added": ["data model", "river stone"], "init": "mean"}
    train = ["train", "--sensitivity", str(saved), *common, "--max-steps", "1", "--run-dir", str(tmp_path / "run")]
    for extra, said in (
        (["--method", "adapt-no-tokens"], "measured with 2 new tokens (mean init), this run adds 0"),
        (["--method", "adapt", "--tokens", str(tokens), "--token-init", "random"], "this run adds 2 (random init)"),
    ):
        assert main([*train, *extra]) == 2
        err = capsys.readouterr().err
        assert said in err and err.count("\n") == 1 and not (tmp_path / "run").exists()
    assert main([*train, "--method", "adapt", "--tokens", str(tokens)]) == 0, capsys.readouterr().err


def test_what_the_page_shows_is_what_prepare_trains():
    """The library calls behind the Sensitivity page (measure → select) and the run's prepare agree."""
    task = toy_task()
    train = TrainConfig(max_length=24, seed=3)
    settings = method_config("adapt-no-tokens", top_k=25.0, grouping="block")
    model, tokenizer = load_classifier("tiny-llama", 2, task.label_names, seed=train.seed)
    page = measure(model, tokenizer, task, settings.sensitivity_config(train.max_length, train.seed))
    shown = page.regroup("block").select(settings.beta, settings.top_k)
    prepared = prepare(model, tokenizer, settings, task, train=train)  # measures itself, with the run's settings
    assert prepared.selection["trainable_modules"] == list(shown.modules)
    assert prepared.info["sensitivity"]["meta"]["config"]["max_length"] == 24  # the run's, not 128
    assert prepared.info["sensitivity"]["meta"]["config"]["seed"] == 3  # the run's, not 0
    trainable = {n.rsplit(".", 1)[0] for n, p in model.named_parameters() if p.requires_grad}
    assert set(shown.modules) <= trainable


def test_method_configs_are_frozen_and_documented():
    for name in ("full", "adapt", "lora", "prefix", "layers", "stc"):
        config = method_config(name)
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.lr = 1.0  # type: ignore[misc]
        assert all(f.metadata.get("help") for f in dataclasses.fields(config))
