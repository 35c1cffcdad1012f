"""The Dagger module stays thin: ci/main.py holds signatures and short bodies.

The decisions live in the core (pipelines/), the graphs in ci/'s builders and
the pipelines in ci/flows.py; a long function body in the main file is where
logic creeps back in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAIN = ROOT / "ci" / "main.py"
MAX_BODY_LINES = 15


def body_lengths(path: Path) -> dict[str, int]:
    """Lines of each function's body, its docstring and leading imports left out.

    The imports are declarations: the main file imports what a function uses
    when the function runs, so that importing the module stays cheap.
    """
    lengths = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        body = node.body
        if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]
        while body and isinstance(body[0], ast.Import | ast.ImportFrom):
            body = body[1:]
        if body:
            end = body[-1].end_lineno or body[-1].lineno
            lengths[node.name] = end - body[0].lineno + 1
    return lengths


def test_no_function_body_in_the_main_file_is_long() -> None:
    lengths = body_lengths(MAIN)
    assert len(lengths) >= 20, "the main object's functions were found"
    long = {name: lines for name, lines in lengths.items() if lines > MAX_BODY_LINES}
    assert long == {}, f"move the logic to the core or a builder: {long}"


def test_the_measure_sees_a_long_body(tmp_path: Path) -> None:
    planted = tmp_path / "main.py"
    statements = "\n".join(f"    x{i} = {i}" for i in range(MAX_BODY_LINES + 1))
    planted.write_text(
        f'def grown():\n    """Doc."""\n    import os\n{statements}\n', encoding="utf-8"
    )
    assert body_lengths(planted) == {"grown": MAX_BODY_LINES + 1}


@pytest.mark.parametrize("module", sorted(p.name for p in (ROOT / "ci").glob("*.py")))
def test_no_ci_module_shares_a_name_with_a_core_module(module: str) -> None:
    """One name, one thing: ci/trivy.py builds what pipelines/scan/ decides, not a second scan."""
    core = ROOT / "pipelines"
    stem = module.removesuffix(".py")
    if stem in ("__init__", "main"):
        return
    assert not (core / module).exists(), stem
    assert not (core / stem).is_dir(), stem
