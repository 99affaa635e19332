"""word_marks.py: the one copy of the tokenizers' word marks; no other library module spells them out in code."""

from __future__ import annotations

import ast
from pathlib import Path

from adapt_core.word_marks import WORD_MARKS, WORD_START_MARKS, marks_word_start

LIBRARY = Path(__file__).resolve().parents[1] / "adapt_core"


def _code_strings(path: Path) -> list[str]:
    """String constants of a module that are not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        n.value
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docs
    ]


def test_marks():
    assert WORD_MARKS == ("##", "Ġ", "▁") and WORD_START_MARKS == ("Ġ", "▁")
    assert marks_word_start("Ġcard") and marks_word_start("▁card") and not marks_word_start("##card")


def test_one_copy_of_the_marks():
    for path in LIBRARY.rglob("*.py"):
        if path.name == "word_marks.py":
            continue
        spelled = [s for s in _code_strings(path) if s in WORD_MARKS]
        assert not spelled, f"{path.name} spells out {spelled}: import them from adapt_core.word_marks"
