"""The service-lint hook runs the [lint] commands of pipelines.toml, and fails with them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.config import parse_config
from pipelines.lint_commands import lint_commands
from tests.conftest import REFERENCE_SERVICE

pytestmark = pytest.mark.tools


def run_hook(service: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.lint_commands", str(service)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_hook_runs_exactly_the_configured_commands() -> None:
    config = parse_config((REFERENCE_SERVICE / "pipelines.toml").read_text())
    assert config.lint is not None
    assert lint_commands(REFERENCE_SERVICE) == config.lint.commands


def test_the_reference_service_passes(tmp_path: Path) -> None:
    result = run_hook(REFERENCE_SERVICE)
    assert result.returncode == 0, result.stderr


def test_a_lint_error_fails_the_hook_and_names_the_command(tmp_path: Path) -> None:
    service = tmp_path / "hello-service"
    shutil.copytree(
        REFERENCE_SERVICE, service, ignore=shutil.ignore_patterns(".venv", "__pycache__")
    )
    (service / "hello_service" / "broken.py").write_text("import os\n")  # F401 unused import
    result = run_hook(service)
    assert result.returncode == 1
    assert "lint failed" in result.stderr
    assert "ruff check ." in result.stderr
