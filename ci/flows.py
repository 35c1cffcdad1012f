"""The pipelines' building blocks: steps for the core's runner, and one run's wrap-up.

A step is a coroutine for :mod:`pipelines.stepgraph`; it returns its key output
or raises. Validation steps file their reports into a shared dict as they
finish, so the run's report directory holds every report, failed or not.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import dagger
from dagger import dag

from ci import publishing, suites, toolchain
from ci.results import PipelineRun
from ci.scan import scan_and_gate
from pipelines.config import PipelineConfig
from pipelines.errors import ChecksFailed
from pipelines.run_record import RECORD_FILE
from pipelines.run_record import to_json as run_json
from pipelines.statuses import CommitStatuses, final_status, post_status, running_status
from pipelines.stepgraph import PipelineResult, Step, pipeline
from pipelines.values import CommitId

Reports = dict[str, dagger.File]
SCAN_REPORTS = ("trivy.json", "trivy.sarif", "gl-container-scanning-report.json", "summary.txt")


def lint_step(source: dagger.Directory, config: PipelineConfig) -> Step:
    async def run() -> str:
        return await suites.run_lint(source, config)

    return Step(name="lint", run=run)


def suite_step(
    source: dagger.Directory,
    config: PipelineConfig,
    suite: str,
    reports: Reports,
    *,
    depends_on: tuple[str, ...] = (),
    url: Callable[[], str] | None = None,
) -> Step:
    """A test suite; ``url`` is read when the step starts (a deploy step sets it)."""

    async def run() -> str:
        result = await suites.run_suite(source, config, suite, url() if url else None)
        reports[f"junit/{suite}.xml"] = result.report
        if result.exit_code != 0:
            raise ChecksFailed(result.summary)
        return result.summary

    return Step(name=suite, run=run, depends_on=depends_on)


def build_step(source: dagger.Directory, config: PipelineConfig, *, every_platform: bool) -> Step:
    """Build the image: for every configured platform when it will be pushed, else
    for the engine's own platform, the very graph the suites and the scan use
    (so it is built once, not once per platform under emulation)."""

    async def run() -> str:
        if every_platform:
            for variant in publishing.platform_variants(source, config):
                await variant.sync()
            return f"image built ({', '.join(config.build.platforms) or 'engine platform'})"
        await toolchain.image(source, config).sync()
        return "image built (engine platform)"

    return Step(name="build", run=run)


def scan_step(
    source: dagger.Directory,
    config: PipelineConfig,
    reports: Reports,
    *,
    run_stamp: str,
    depends_on: tuple[str, ...],
    every_platform: bool = False,
) -> Step:
    """The Trivy gate on the engine-platform image, or on every image to be pushed.

    With several platforms each variant is scanned (its packages differ) and
    its reports filed under ``scan/<os>-<arch>/``; one DB download serves all.
    The first platform's reports also stand at ``scan/``, where CI uploads
    them to code scanning and the GitLab security report.
    """

    async def run() -> str:
        platforms = config.build.platforms if every_platform else ()
        if not platforms:
            result = await scan_and_gate(source, config, run_stamp=run_stamp)
            for name in SCAN_REPORTS:
                reports[f"scan/{name}"] = result.reports.file(name)
            if not result.passed:
                raise ChecksFailed(result.summary)
            return "scan gate passed"
        failed = []
        for platform, variant in zip(
            platforms, publishing.platform_variants(source, config), strict=True
        ):
            label = platform.replace("/", "-")
            result = await scan_and_gate(source, config, run_stamp=run_stamp, built=variant)
            for name in SCAN_REPORTS:
                reports[f"scan/{label}/{name}"] = result.reports.file(name)
                if platform == platforms[0]:
                    reports[f"scan/{name}"] = result.reports.file(name)
            if not result.passed:
                failed.append(f"{platform}: {result.summary}")
        if failed:
            raise ChecksFailed("\n".join(failed))
        return f"scan gate passed ({', '.join(platforms)})"

    return Step(name="scan", run=run, depends_on=depends_on)


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """What every pipeline run reports against: the commit, the CI run, the status."""

    sha: str
    run_url: str | None
    status: CommitStatuses | None
    status_context: str


async def run_pipeline(
    name: str,
    steps: list[Step],
    *,
    reports: Reports,
    run: RunContext,
    extra: dict[str, str] | None = None,
) -> PipelineRun:
    """Post pending, run the steps, post the final status, collect the reports."""
    # A status that cannot be posted fails the run, and says so, at the end.
    problems: list[str] = []
    sha = CommitId(run.sha)  # parsed by ci.main._start
    if run.status is not None:
        opening = running_status(name, sha=sha, context=run.status_context, target_url=run.run_url)
        if (problem := await post_status(run.status, opening)) is not None:
            problems.append(problem)
    result: PipelineResult = await pipeline(name, steps).run()
    if run.status is not None:
        closing = final_status(result, sha=sha, context=run.status_context, target_url=run.run_url)
        if (problem := await post_status(run.status, closing)) is not None:
            problems.append(problem)
    summary = "\n".join([result.summary(), *problems])
    directory = dag.directory()
    for path, file in sorted(reports.items()):
        directory = directory.with_file(path, file)
    record = run_json(result, problems=tuple(problems), extra={"commit": run.sha, **(extra or {})})
    directory = directory.with_new_file(RECORD_FILE, record).with_new_file(
        "summary.txt", summary + "\n"
    )
    passed = result.ok and not problems
    return PipelineRun(passed=passed, summary=summary, reports=directory)
