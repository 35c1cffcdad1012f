"""The service-lint hook runs the [lint] commands of pipelines.toml, and fails with them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REFERENCE_SERVICE

pytestmark = pytest.mark.tools


def run_hook(*services: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines_cli.service_lint", *map(str, services)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def service_with_lint(directory: Path, commands: str) -> Path:
    directory.mkdir()
    (directory / "pipelines.toml").write_text(
        f'[service]\nname = "svc"\nport = 8080\n\n[lint]\ncommands = {commands}\n',
        encoding="utf-8",
    )
    return directory


def test_the_hook_runs_exactly_the_configured_commands_in_order(tmp_path: Path) -> None:
    # Each command appends its name to a file in the service directory (its cwd).
    append = "import sys; open('ran.txt', 'a').write(sys.argv[1] + chr(10))"
    service = service_with_lint(
        tmp_path / "svc",
        f'[["{sys.executable}", "-c", "{append}", "first"], '
        f'["{sys.executable}", "-c", "{append}", "second"]]',
    )

    result = run_hook(service)

    assert result.returncode == 0, result.stderr
    assert (service / "ran.txt").read_text(encoding="utf-8") == "first\nsecond\n"


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


def test_a_command_that_cannot_start_fails_the_hook_without_a_traceback(tmp_path: Path) -> None:
    service = service_with_lint(tmp_path / "svc", '[["no-such-linter-here", "."]]')

    result = run_hook(service)

    assert result.returncode == 1
    assert f"lint failed: {service}: no-such-linter-here . (cannot start: " in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("config", "says"),
    [
        (None, "pipelines.toml: not found\n  fix: check the path"),
        ('[service]\nname = "svc"\nport = "8080"\n', "pipelines.toml: service.port: expected"),
    ],
    ids=["missing", "invalid"],
)
def test_a_missing_or_invalid_config_is_one_message_and_exit_2(
    tmp_path: Path, config: str | None, says: str
) -> None:
    service = tmp_path / "svc"
    service.mkdir()
    if config is not None:
        (service / "pipelines.toml").write_text(config, encoding="utf-8")

    result = run_hook(service)

    assert result.returncode == 2
    assert result.stderr.startswith(f"{service}/")
    assert says in result.stderr
    assert "Traceback" not in result.stderr
