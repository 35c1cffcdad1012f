"""The gate decision: which findings block, and the reason for each of the others."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pipelines.config.scan import ScanConfig
from pipelines.scan import (
    GateResult,
    IgnoreRule,
    Outcome,
    evaluate,
    load_ignorefile,
    load_report,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "trivy"
TODAY = date(2026, 11, 26)


def gate(config: ScanConfig, *, ignorefile: str | None = None, report: str = "") -> GateResult:
    rules = load_ignorefile(FIXTURES / ignorefile) if ignorefile else ()
    scan = load_report(FIXTURES / (report or "several-results.json"))
    return evaluate(scan, config, rules, today=TODAY)


def blocking_ids(result: GateResult) -> list[tuple[str, str]]:
    return sorted((d.finding.vulnerability_id, d.finding.pkg_name) for d in result.blocking)


def test_by_default_high_and_critical_findings_block() -> None:
    result = gate(ScanConfig())

    assert not result.passed
    assert blocking_ids(result) == [
        ("CVE-2023-45853", "zlib1g"),
        ("CVE-2024-1135", "gunicorn"),
        ("CVE-2024-2961", "libc6"),
        ("CVE-2024-45490", "libexpat1"),
        ("CVE-2024-6345", "setuptools"),
        ("CVE-2024-6345", "setuptools"),
    ]


def test_lower_severities_pass_with_a_reason() -> None:
    result = gate(ScanConfig())
    below = {d.finding.vulnerability_id: d for d in result.decisions if not d.blocking}

    assert set(below) == {"CVE-2011-3374", "CVE-2024-26458", "CVE-2024-35195"}
    assert all(d.outcome is Outcome.BELOW_THRESHOLD for d in below.values())
    assert below["CVE-2011-3374"].reason == "LOW is below the gate (HIGH, CRITICAL)"


def test_ignore_unfixed_lets_findings_without_a_fix_pass() -> None:
    result = gate(ScanConfig(ignore_unfixed=True))
    zlib = next(d for d in result.decisions if d.finding.pkg_name == "zlib1g")

    assert zlib.outcome is Outcome.UNFIXED
    assert "no fixed version" in zlib.reason
    assert ("CVE-2023-45853", "zlib1g") not in blocking_ids(result)
    assert ("CVE-2024-45490", "libexpat1") in blocking_ids(result)


def test_an_unexpired_ignore_rule_lets_its_finding_pass() -> None:
    result = gate(ScanConfig(), ignorefile="trivyignore")
    zlib = next(d for d in result.decisions if d.finding.pkg_name == "zlib1g")

    assert zlib.outcome is Outcome.IGNORED
    assert zlib.reason == "accepted by .trivyignore line 5 until 2027-03-31"


def test_an_expired_ignore_rule_no_longer_applies_and_is_reported() -> None:
    result = gate(ScanConfig(), ignorefile="trivyignore")
    gunicorn = next(d for d in result.decisions if d.finding.pkg_name == "gunicorn")

    assert gunicorn.blocking
    assert "expired on 2026-11-01" in gunicorn.reason
    assert [r.vulnerability_id for r in result.expired_rules] == ["CVE-2024-1135"]


def test_the_severity_check_comes_before_the_ignore_rule() -> None:
    result = gate(ScanConfig(), ignorefile="trivyignore")
    krb5 = next(d for d in result.decisions if d.finding.vulnerability_id == "CVE-2024-26458")

    assert krb5.outcome is Outcome.BELOW_THRESHOLD


def test_gating_on_medium_blocks_medium_findings_too() -> None:
    result = gate(ScanConfig(severities=("MEDIUM", "HIGH", "CRITICAL")), ignorefile="trivyignore")

    blocking = blocking_ids(result)
    assert ("CVE-2024-35195", "requests") in blocking
    # Ignored in the file, so still not blocking at MEDIUM.
    assert ("CVE-2024-26458", "libgssapi-krb5-2") not in blocking


def test_everything_ignored_or_below_passes() -> None:
    config = ScanConfig(severities=("CRITICAL",), ignore_unfixed=True)
    rules = load_ignorefile(FIXTURES / "trivyignore")
    report = load_report(FIXTURES / "several-results.json")
    libexpat = next(f for f in report.findings if f.pkg_name == "libexpat1")
    accepted = (*rules, IgnoreRule(vulnerability_id=libexpat.vulnerability_id, line=99))
    result = evaluate(report, config, accepted, today=TODAY)

    assert result.passed
    assert result.blocking == ()


def test_a_report_without_findings_passes() -> None:
    for name in ("no-vulnerabilities.json", "no-results-key.json"):
        result = gate(ScanConfig(severities=("UNKNOWN", "LOW")), report=name)
        assert result.passed
        assert result.decisions == ()


def test_rules_matching_no_finding_are_listed_for_cleanup() -> None:
    result = gate(ScanConfig(), ignorefile="trivyignore", report="no-vulnerabilities.json")

    assert [r.vulnerability_id for r in result.unmatched_rules] == [
        "CVE-2023-45853",
        "CVE-2024-1135",
        "CVE-2024-26458",
    ]


def test_the_longest_lasting_rule_for_an_id_wins() -> None:
    report = load_report(FIXTURES / "several-results.json")
    rules = (
        IgnoreRule(vulnerability_id="CVE-2024-2961", line=1, expires=date(2026, 12, 1)),
        IgnoreRule(vulnerability_id="CVE-2024-2961", line=2, expires=date(2027, 6, 1)),
    )
    result = evaluate(report, ScanConfig(), rules, today=TODAY)
    glibc = next(d for d in result.decisions if d.finding.pkg_name == "libc6")

    assert glibc.reason == "accepted by .trivyignore line 2 until 2027-06-01"
