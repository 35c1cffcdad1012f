"""lint, test and build for real, on examples/hello-service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.junit import summarize

pytestmark = pytest.mark.engine

SOURCE = "--source=examples/hello-service"


def test_lint_passes_on_the_reference_service(dagger_call: Any) -> None:
    result = dagger_call(SOURCE, "lint")
    assert "commands passed" in result.stdout


def test_unit_tests_pass_and_the_report_exports(dagger_call: Any, tmp_path: Path) -> None:
    result = dagger_call(SOURCE, "test")
    assert "unit:" in result.stdout
    report = tmp_path / "unit.xml"
    dagger_call(SOURCE, "test-report", "--suite=unit", "report", "export", f"--path={report}")
    counts = summarize(report.read_text(), file=str(report))
    assert counts.tests > 0
    assert counts.failures == counts.errors == 0


def test_build_produces_a_non_root_image(dagger_call: Any) -> None:
    user = dagger_call(SOURCE, "build", "user").stdout.strip()
    assert user not in ("", "root", "0")


def test_a_failing_check_fails_the_call(dagger_call: Any) -> None:
    result = dagger_call(SOURCE, "test-report", "--suite=nope", check=False)
    assert result.returncode != 0
    assert "unknown suite 'nope'" in result.stderr + result.stdout
