"""Verification functions and the pre-merge pipeline for real, on every reference service.

Only an engine proves what the plan tests cannot: that the images pull, the
app starts and turns healthy as a service, Postgres comes up beside it,
Trivy finds its DB on the mirrors, and the reports export. The pre-merge run
is held to what `portable-pipelines plan` says it runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipelines.config import load_config
from pipelines.junit import summarize
from pipelines_cli.portable_pipelines import plan_of
from tests.conftest import REFERENCE_SERVICES, ROOT

pytestmark = pytest.mark.engine

SOURCE = "--source=examples/hello-service"
SHA = "0" * 40
# The function that runs each suite against the app as a service (CLI names).
FUNCTIONS = {"smoke": "smoke", "integration": "integration", "e2e": "end-to-end"}


def suites() -> list[Any]:
    return [
        pytest.param(service, suite, id=f"{service.name}-{suite}")
        for service in REFERENCE_SERVICES
        for suite in load_config(service / "pipelines.toml").tests
        if suite in FUNCTIONS
    ]


def source_of(service: Path) -> str:
    return f"--source={service.relative_to(ROOT)}"


@pytest.mark.parametrize(("service", "suite"), suites())
def test_suites_pass_against_the_app_as_a_service(
    dagger_call: Any, service: Path, suite: str
) -> None:
    result = dagger_call(source_of(service), FUNCTIONS[suite])
    assert f"{suite}: " in result.stdout
    assert " 0 failed" in result.stdout


def test_a_suite_report_exports(dagger_call: Any, tmp_path: Path) -> None:
    report = tmp_path / "integration.xml"
    dagger_call(
        SOURCE, "test-report", "--suite=integration", "report", "export", f"--path={report}"
    )
    assert summarize(report.read_text(), file=str(report)).tests > 0


def test_scan_reports_export_in_every_format(dagger_call: Any, tmp_path: Path) -> None:
    dagger_call(SOURCE, "scan-report", "reports", "export", f"--path={tmp_path}")
    assert json.loads((tmp_path / "trivy.json").read_text())["ArtifactName"]
    assert json.loads((tmp_path / "trivy.sarif").read_text())["version"] == "2.1.0"
    assert "vulnerabilities" in json.loads(
        (tmp_path / "gl-container-scanning-report.json").read_text()
    )
    assert "Gate (" in (tmp_path / "summary.txt").read_text()


@pytest.mark.parametrize("service", REFERENCE_SERVICES, ids=lambda path: path.name)
def test_pre_merge_runs_locally_without_statuses(
    dagger_call: Any, tmp_path: Path, service: Path
) -> None:
    source = source_of(service)
    dagger_call(
        source,
        "pre-merge",
        f"--sha={SHA}",
        "--report-status=false",
        "reports",
        "export",
        f"--path={tmp_path}",
    )
    record = json.loads((tmp_path / "run.json").read_text())
    planned = plan_of(service, "pre-merge", manifests=ROOT)
    assert [step["name"] for step in record["steps"]] == [step.name for step in planned.steps]
    statuses = {step["name"]: step["status"] for step in record["steps"]}
    # The scan gate must have run and reported; whether it passes depends on CVEs
    # published after the base image was pinned, so this test does not ask it to
    # (the gate's own tests, tests/unit/test_scan_gate.py, stay strict).
    assert statuses.pop("scan") in ("passed", "failed"), record
    assert set(statuses.values()) == {"passed"}, record
    assert "Gate (" in (tmp_path / "scan" / "summary.txt").read_text()
    verdict = dagger_call(source, "verdict", f"--run={tmp_path / 'run.json'}", check=False)
    assert (verdict.returncode == 0) is record["ok"], verdict.stderr
