"""The summary table and the one-line failure message people read after a scan."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from pipelines.config.scan import ScanConfig
from pipelines.scan import (
    GateResult,
    evaluate,
    failure_message,
    load_ignorefile,
    load_report,
    summary_table,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "trivy"


def result_of(config: ScanConfig, report: str = "several-results.json") -> GateResult:
    return evaluate(
        load_report(FIXTURES / report),
        config,
        load_ignorefile(FIXTURES / "trivyignore"),
        today=date(2026, 11, 26),
    )


def table_rows(summary: str) -> list[list[str]]:
    lines = summary.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("SEVERITY"))
    rows = []
    for line in lines[start + 1 :]:
        if not line or line.startswith(("...", "Expired")):
            break
        rows.append(line.split())
    return rows


def test_counts_by_severity_cover_every_finding() -> None:
    summary = summary_table(result_of(ScanConfig()))

    first = summary.splitlines()[0]
    assert first == (
        "Trivy scan of hello-service.tar: 9 findings "
        "(CRITICAL 2, HIGH 4, MEDIUM 2, LOW 1, UNKNOWN 0)"
    )


def test_the_verdict_line_counts_each_outcome() -> None:
    summary = summary_table(result_of(ScanConfig()))

    assert summary.splitlines()[1] == (
        "Gate (HIGH, CRITICAL): FAILED: 5 blocking, 3 below threshold, 1 ignored, 0 unfixed"
    )


def test_findings_are_sorted_by_severity_then_id_with_their_fixed_version() -> None:
    rows = table_rows(summary_table(result_of(ScanConfig()), top=20))

    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("CRITICAL", "CVE-2023-45853", "zlib1g"),
        ("CRITICAL", "CVE-2024-45490", "libexpat1"),
        ("HIGH", "CVE-2024-1135", "gunicorn"),
        ("HIGH", "CVE-2024-2961", "libc6"),
        ("HIGH", "CVE-2024-6345", "setuptools"),
        ("HIGH", "CVE-2024-6345", "setuptools"),
        ("MEDIUM", "CVE-2024-26458", "libgssapi-krb5-2"),
        ("MEDIUM", "CVE-2024-35195", "requests"),
        ("LOW", "CVE-2011-3374", "apt"),
    ]
    # INSTALLED, FIXED ("-" when none) and the gate's verdict follow.
    assert rows[0][3:6] == ["1:1.2.13.dfsg-1", "-", "ignored"]
    assert rows[1][3:6] == ["2.5.0-1", "2.5.0-1+deb12u1", "BLOCKS"]


def test_only_the_top_findings_are_listed() -> None:
    summary = summary_table(result_of(ScanConfig()), top=3)

    assert len(table_rows(summary)) == 3
    assert "... and 6 more in the JSON report" in summary


def test_expired_rules_are_called_out() -> None:
    summary = summary_table(result_of(ScanConfig()))

    assert "Expired: .trivyignore line 8 (CVE-2024-1135) ended on 2026-11-01" in summary


def test_a_clean_report_has_a_passing_summary_and_no_table() -> None:
    summary = summary_table(result_of(ScanConfig(), report="no-vulnerabilities.json"))

    assert "PASSED" in summary
    assert "SEVERITY" not in summary


def test_the_failure_message_is_one_line_naming_the_blocking_findings() -> None:
    message = failure_message(result_of(ScanConfig()))

    assert "\n" not in message
    assert message.startswith("scan gate failed: 5 findings block at HIGH/CRITICAL: ")
    assert "CVE-2024-45490 (CRITICAL) in libexpat1 2.5.0-1 (fixed in 2.5.0-1+deb12u1)" in message
    assert "CVE-2024-6345 (HIGH) in setuptools 65.5.0" in message
    # Ignored and below-threshold findings are not named.
    assert "CVE-2023-45853" not in message
    assert "CVE-2024-35195" not in message
    assert "`<ID> exp:YYYY-MM-DD`" in message


def test_the_failure_message_names_a_few_and_counts_the_rest() -> None:
    message = failure_message(result_of(ScanConfig()), limit=2)

    assert message.count("CVE-") == 2
    assert " and 3 more;" in message


def test_a_finding_without_a_fix_says_so() -> None:
    message = failure_message(result_of(ScanConfig(severities=("CRITICAL",))), limit=5)

    assert message.startswith("scan gate failed: 1 finding blocks at CRITICAL: CVE-2024-45490")
    unfixed = result_of(ScanConfig(severities=("MEDIUM",)))
    assert "CVE-2024-26458" not in failure_message(unfixed)  # ignored by the file
    assert "(no fix yet)" not in failure_message(unfixed)
    no_rules = evaluate(
        load_report(FIXTURES / "several-results.json"),
        ScanConfig(severities=("CRITICAL",)),
        (),
        today=date(2026, 11, 26),
    )
    assert "CVE-2023-45853 (CRITICAL) in zlib1g 1:1.2.13.dfsg-1 (no fix yet)" in failure_message(
        no_rules
    )


def test_a_passed_gate_has_no_failure_message() -> None:
    with pytest.raises(ValueError, match="failed gate"):
        failure_message(result_of(ScanConfig(), report="no-vulnerabilities.json"))
