"""The import contracts hold, and a planted violation of each is caught.

The layering (docs/architecture.md) is written as import-linter contracts in
pyproject.toml: the core never imports dagger or runs a process, the Lambda
imports neither dagger nor httpx, nothing imports the Dagger module, the
tools import the library only. ``lint-imports`` checks them, transitively,
imports inside functions included; here it runs on this tree and on copies
with one violation planted, to prove each contract can fail.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.tools

PACKAGES = ("pipelines", "pipelines_cli", "cost_saver", "ci", "tests")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    argv = [str(LINT_IMPORTS), "--config", "pyproject.toml", "--no-cache"]
    return subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=300, check=False)


def test_every_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout
    assert result.stdout.count("KEPT") >= 4, result.stdout


CORE, LAMBDA = "The core never imports dagger", "The Lambda imports neither dagger nor httpx"
MODULE, TOOLS = "Nothing imports the Dagger module", "The tools import the library only"
# module -> (the import planted in it, the contract it breaks)
PLANTED = {
    "pipelines/values.py": ("import dagger", CORE),
    "pipelines/tags.py": ("import subprocess", CORE),
    "pipelines/urls.py": ("from tests import conftest", CORE),
    "cost_saver/handler.py": ("import httpx", LAMBDA),
    # Indirectly: the forge layer sends with httpx.
    "cost_saver/store.py": ("from pipelines import forge", LAMBDA),
    "pipelines/junit.py": ("from ci import flows", MODULE),
    "pipelines_cli/commit_msg.py": ("import ci.main", TOOLS),
    "pipelines_cli/service_lint.py": ("import cost_saver", TOOLS),
}


@pytest.mark.parametrize("module", PLANTED)
def test_a_planted_violation_breaks_its_contract(tmp_path: Path, module: str) -> None:
    planted, contract = PLANTED[module]
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    # Inside a function: lazy imports count as much as top-level ones.
    target.write_text(target.read_text() + f"\n\ndef _planted() -> None:\n    {planted}\n")
    result = lint_imports(tmp_path)
    assert result.returncode != 0, result.stdout
    broken = [line for line in result.stdout.splitlines() if "BROKEN" in line]
    assert any(contract in line for line in broken), result.stdout
