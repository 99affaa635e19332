"""House rules that keep the design honest: the core never imports streamlit; every config field has help text."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import pkgutil
from pathlib import Path

import pytest

import adapt_core

CORE = Path(adapt_core.__file__).parent


def test_core_never_imports_streamlit():
    offenders = []
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else ([node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            )
            if any(n == "streamlit" or n.startswith("streamlit.") for n in names):
                offenders.append(str(path.relative_to(CORE)))
    assert offenders == []


def config_classes():
    found = []
    for info in pkgutil.walk_packages(adapt_core.__path__, "adapt_core."):
        module = importlib.import_module(info.name)
        for obj in vars(module).values():
            if (
                dataclasses.is_dataclass(obj)
                and isinstance(obj, type)
                and obj.__name__.endswith("Config")
                and obj.__module__ == module.__name__
            ):
                found.append(obj)
    return found


@pytest.mark.parametrize("cls", config_classes(), ids=lambda c: c.__name__)
def test_every_config_field_has_help_and_a_default(cls):
    assert cls.__dataclass_params__.frozen, f"{cls.__name__} must be frozen"
    for f in dataclasses.fields(cls):
        assert f.metadata.get("help"), f"{cls.__name__}.{f.name} has no help text"
        assert f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    cls()  # the defaults are valid


def test_every_module_has_a_docstring():
    missing = [
        str(p.relative_to(CORE))
        for p in CORE.rglob("*.py")
        if ast.get_docstring(ast.parse(p.read_text())) is None and p.name != "__init__.py"
    ]
    assert missing == []


def test_cli_help_for_every_subcommand(capsys):
    from adapt_core.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    assert {"data", "train", "evaluate", "predict", "runs"} <= set(sub.choices)
    for name, p in sub.choices.items():
        assert p.format_help().strip(), name


def test_module_names_are_unique():
    """Names say what a thing is: no two modules of the project share a file name, whatever their folders (a
    module named after its role, `train_command.py`, `tokens_figures.py`, `tokens_page.py`, never a third `tokens.py`).
    """
    root = CORE.parent
    folders = ("adapt_core", "app_pages", "studio", "benchmarks", "tests")
    paths = [*root.glob("*.py"), *(p for folder in folders for p in (root / folder).rglob("*.py"))]
    seen: dict[str, list[str]] = {}
    for p in paths:
        if p.name != "__init__.py" and not {"artifacts", "__pycache__"} & set(p.relative_to(root).parts):
            seen.setdefault(p.name, []).append(str(p.relative_to(root)))
    assert {name: where for name, where in seen.items() if len(where) > 1} == {}
