"""What the module returns: a suite's report, a scan's reports, a pipeline run.

One idiom fails a call: every result carries ``passed`` (or the exit code
it stands on), its ``summary`` and its reports, and a terminal ``check``
that fails the call unless it passed. A function that returns a result
never fails because its tests or its gate did, so the reports can always
be exported (`... report export`, `... reports export`); `test`, `smoke`,
`scan`, `verdict` and the others are the same results with ``check``
applied, for callers that only want pass or fail.
"""

# No `from __future__ import annotations` here: the SDK reads each field's
# Doc() from the dataclass field type, which that import turns into a string.

from typing import Annotated

import dagger
from dagger import Doc

from ci._sdk import field, function, object_type
from pipelines.errors import ChecksFailed


def require_passed(passed: bool, summary: str) -> str:
    """The summary of a result that passed; ChecksFailed with it otherwise."""
    if not passed:
        raise ChecksFailed(summary)
    return summary


@object_type
class SuiteResult:
    """The outcome of one test suite: its JUnit report, whatever the result."""

    suite: Annotated[str, Doc("The suite's name: unit, smoke, integration or e2e")] = field()
    exit_code: Annotated[int, Doc("The exit code of the first failing command, else 0")] = field()
    passed: Annotated[
        bool, Doc("True when every command exited 0 and the configured report was written")
    ] = field()
    report: Annotated[dagger.File, Doc("JUnit XML; synthesised if the suite wrote none")] = field()
    summary: Annotated[str, Doc("One line: counts, or what failed")] = field()

    @function
    def check(self) -> str:
        """Fail the call unless every test passed (chain it: `test-report ... check`)."""
        return require_passed(self.passed, self.summary)


@object_type
class ScanResult:
    """The outcome of a Trivy scan and its gate, with every report."""

    passed: Annotated[bool, Doc("True when no finding blocks the gate")] = field()
    summary: Annotated[str, Doc("Counts by severity, the verdict and the top findings")] = field()
    reports: Annotated[
        dagger.Directory,
        Doc("trivy.json, trivy.sarif, gl-container-scanning-report.json and summary.txt"),
    ] = field()

    @function
    def check(self) -> str:
        """Fail the call when a finding blocks the gate (chain it: `scan-report check`)."""
        return require_passed(self.passed, self.summary)


@object_type
class PipelineRun:
    """The outcome of dev, pre-merge or release: every step, and every report."""

    passed: Annotated[bool, Doc("True when every step passed")] = field()
    summary: Annotated[str, Doc("The step table: result, duration and output of each")] = field()
    reports: Annotated[
        dagger.Directory,
        Doc("run.json, summary.txt, JUnit XML per suite, scan reports, release.json"),
    ] = field()

    @function
    def check(self) -> str:
        """Fail the call unless the run passed (chain it: `dev ... check`)."""
        return require_passed(self.passed, self.summary)
