"""JUnit XML: read a suite's outcome, or write one for a suite that crashed.

The report is exported whether the suite passes or fails; when the test
command dies before writing it, a synthetic report that says so keeps CI's
test summary honest instead of empty.
"""

from __future__ import annotations

# The reports parsed here are written by the project's own test runs inside
# its containers, not by a third party; ElementTree's limits are acceptable.
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

from pipelines.errors import PipelinesError


@dataclass(frozen=True, kw_only=True)
class JUnitSummary:
    tests: int
    failures: int
    errors: int
    skipped: int
    failed_cases: tuple[str, ...]

    @property
    def passed(self) -> int:
        return self.tests - self.failures - self.errors - self.skipped


def summarize(xml_text: str, *, file: str) -> JUnitSummary:
    """Count the outcomes of a JUnit XML report (``<testsuites>`` or one ``<testsuite>``)."""
    try:
        root = ET.fromstring(xml_text)  # noqa: S314
    except ET.ParseError as error:
        raise PipelinesError(
            f"not a JUnit XML report: {error}",
            where=file,
            fix="point the suite's `report` at the JUnit XML its test command writes",
        ) from None
    cases = root.iter("testcase")
    tests = failures = errors = skipped = 0
    failed: list[str] = []
    for case in cases:
        tests += 1
        name = f"{case.get('classname', '')}::{case.get('name', '')}".strip(":")
        if case.find("failure") is not None:
            failures += 1
            failed.append(name)
        elif case.find("error") is not None:
            errors += 1
            failed.append(name)
        elif case.find("skipped") is not None:
            skipped += 1
    return JUnitSummary(
        tests=tests, failures=failures, errors=errors, skipped=skipped, failed_cases=tuple(failed)
    )


def crash_report(*, suite: str, exit_code: int, output: str, limit: int = 20_000) -> str:
    """A one-case JUnit report for a suite whose command wrote no report."""
    tail = output[-limit:]
    message = quoteattr(f"the {suite} suite exited {exit_code} without writing its report")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<testsuites><testsuite name={quoteattr(suite)} tests="1" errors="1" failures="0">'
        f'<testcase classname="portable-pipelines" name={quoteattr(suite + " suite")}>'
        f"<error message={message}>{escape(tail)}</error>"
        "</testcase></testsuite></testsuites>\n"
    )
