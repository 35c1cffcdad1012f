"""Reading Trivy JSON reports: the shapes Trivy writes, and files it never should."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.scan import ReportError, load_report, parse_report

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "trivy"


def test_every_vulnerability_of_every_result_becomes_a_finding() -> None:
    report = load_report(FIXTURES / "several-results.json")

    assert report.artifact_name == "hello-service.tar"
    assert len(report.findings) == 9
    assert report.targets == (
        "hello-service.tar (debian 12.5)",
        "Python",
        "usr/lib/python3/dist-packages",
        "app/poetry.lock",
    )
    assert [f.vulnerability_id for f in report.findings if f.target == "Python"] == [
        "CVE-2024-1135",
        "CVE-2024-35195",
        "CVE-2024-6345",
    ]


def test_a_finding_keeps_what_the_gate_and_summary_need() -> None:
    report = load_report(FIXTURES / "several-results.json")
    glibc = next(f for f in report.findings if f.vulnerability_id == "CVE-2024-2961")

    assert glibc.pkg_name == "libc6"
    assert glibc.installed_version == "2.36-9+deb12u4"
    assert glibc.fixed_version == "2.36-9+deb12u7"
    assert glibc.has_fix
    assert glibc.severity == "HIGH"
    assert glibc.title.startswith("glibc: Out of bounds write in iconv")
    assert glibc.primary_url == "https://avd.aquasec.com/nvd/cve-2024-2961"
    assert glibc.target == "hello-service.tar (debian 12.5)"


def test_a_finding_without_fixed_version_has_no_fix() -> None:
    report = load_report(FIXTURES / "several-results.json")
    zlib = next(f for f in report.findings if f.vulnerability_id == "CVE-2023-45853")

    assert zlib.fixed_version == ""
    assert not zlib.has_fix


def test_the_same_id_in_two_targets_is_two_findings() -> None:
    report = load_report(FIXTURES / "several-results.json")
    setuptools = [f for f in report.findings if f.vulnerability_id == "CVE-2024-6345"]

    assert {(f.installed_version, f.target) for f in setuptools} == {
        ("65.5.0", "Python"),
        ("66.1.1", "usr/lib/python3/dist-packages"),
    }


def test_results_without_vulnerabilities_give_no_findings() -> None:
    report = load_report(FIXTURES / "no-vulnerabilities.json")

    assert report.findings == ()
    assert report.targets == ("hello-service-clean.tar (alpine 3.20.3)",)


def test_a_report_without_results_key_gives_no_findings() -> None:
    report = load_report(FIXTURES / "no-results-key.json")

    assert report.findings == ()
    assert report.targets == ()
    assert report.artifact_name == "scratch-app.tar"


def test_null_results_and_null_vulnerabilities_are_empty() -> None:
    text = json.dumps(
        {"SchemaVersion": 2, "Results": [{"Target": "x", "Vulnerabilities": None}, {}]}
    )
    assert parse_report(text, file="r.json").findings == ()
    assert parse_report('{"SchemaVersion": 2, "Results": null}', file="r.json").findings == ()


def test_a_truncated_file_is_an_error_naming_the_file_and_place() -> None:
    path = FIXTURES / "malformed.json"

    with pytest.raises(ReportError) as caught:
        load_report(path)

    message = str(caught.value)
    assert message.startswith(f"{path}: not valid JSON")
    assert "line " in message
    assert "trivy image --format json" in message


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"trivy\.json: file not found"):
        load_report(tmp_path / "trivy.json")


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ("[]", "expected a JSON object at the top level, got an array"),
        ('{"SchemaVersion": 3}', "SchemaVersion 3 is not the supported 2"),
        ('{"Results": {"Target": "x"}}', "Results: expected an array, got an object"),
        ('{"Results": {}}', "Results: expected an array, got an object"),
        ('{"Results": ["x"]}', "Results[0]: expected an object, got a string"),
        (
            '{"Results": [{"Vulnerabilities": {}}]}',
            "Results[0].Vulnerabilities: expected an array, got an object",
        ),
        (
            '{"Results": [{"Vulnerabilities": [{"PkgName": "a", "Severity": "HIGH"}]}]}',
            "Results[0].Vulnerabilities[0].VulnerabilityID: expected a non-empty string, "
            "got nothing",
        ),
        (
            '{"Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "a",'
            ' "Severity": "SEVERE"}]}]}',
            "Results[0].Vulnerabilities[0].Severity: unknown severity 'SEVERE'",
        ),
        (
            '{"Results": [{"Vulnerabilities": [{"VulnerabilityID": "CVE-1", "PkgName": "a",'
            ' "Severity": "LOW", "FixedVersion": 2}]}]}',
            "Results[0].Vulnerabilities[0].FixedVersion: expected a string, got a number 2",
        ),
    ],
)
def test_a_report_of_the_wrong_shape_is_an_error_saying_where(document: str, problem: str) -> None:
    with pytest.raises(ReportError) as caught:
        parse_report(document, file="reports/trivy.json")

    assert caught.value.file == "reports/trivy.json"
    assert problem in caught.value.problem
