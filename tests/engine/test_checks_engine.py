"""lint, test and build for real, on every reference service."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines.junit import summarize
from tests.conftest import REFERENCE_SERVICES, ROOT

pytestmark = [
    pytest.mark.engine,
    pytest.mark.parametrize(
        "source",
        [f"--source={path.relative_to(ROOT)}" for path in REFERENCE_SERVICES],
        ids=[path.name for path in REFERENCE_SERVICES],
    ),
]


def test_lint_passes_on_the_reference_service(dagger_call: Any, source: str) -> None:
    result = dagger_call(source, "lint")
    assert "commands passed" in result.stdout


def test_unit_tests_pass_and_the_report_exports(
    dagger_call: Any, tmp_path: Path, source: str
) -> None:
    result = dagger_call(source, "test")
    assert "unit:" in result.stdout
    report = tmp_path / "unit.xml"
    dagger_call(source, "test-report", "--suite=unit", "report", "export", f"--path={report}")
    counts = summarize(report.read_text(), file=str(report))
    assert counts.tests > 0
    assert counts.failures == counts.errors == 0


def test_build_produces_a_non_root_image(dagger_call: Any, source: str) -> None:
    user = dagger_call(source, "build", "user").stdout.strip()
    assert user not in ("", "root", "0")


def test_a_failing_check_fails_the_call(dagger_call: Any, source: str) -> None:
    result = dagger_call(source, "test-report", "--suite=nope", check=False)
    assert result.returncode != 0
    assert "unknown suite 'nope'" in result.stderr + result.stdout
