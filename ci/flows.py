"""The three pipelines as step graphs, as docs/pipelines/ draws them, and how a run ends.

Data flows along the edges: ``publish`` hands the pushed image to
``deploy``, ``deploy`` hands the deployed app (its URL) to ``smoke``. Every
step keeps its reports in its output; :func:`run` collects them, posts the
commit statuses and writes ``run.json``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import dagger
from dagger import dag

from ci import steps
from ci.registry import Login
from ci.results import PipelineRun
from pipelines.config import PipelineConfig
from pipelines.deploy_targets import DevDeployTarget
from pipelines.publishing import PublishPlan
from pipelines.run_record import RECORD_FILE
from pipelines.run_record import to_json as run_json
from pipelines.statuses import CommitStatuses, final_status, post_status, running_status
from pipelines.stepgraph import Step, pipeline
from pipelines.values import Branch, CommitId

Steps = list[Step[dagger.File]]


def dev(
    source: dagger.Directory,
    config: PipelineConfig,
    *,
    plan: PublishPlan,
    login: Login,
    target: DevDeployTarget,
    branch: Branch,
) -> Steps:
    """lint, unit and build at once -> publish -> deploy -> the dev suites against it."""
    checks = _checks(source, config, "dev")
    gate = tuple(step.name for step in checks)
    return [
        *checks,
        steps.publish(source, config, plan, login, depends_on=gate),
        steps.deploy(target, config, branch),
        *(
            steps.suite(source, config, suite.name, depends_on=("deploy",), against="deploy")
            for suite in config.suites_for("dev")
            if suite.name != "unit"
        ),
    ]


def pre_merge(source: dagger.Directory, config: PipelineConfig) -> Steps:
    """lint, unit and build at once -> the other suites and the scan at once."""
    after_build = ("build",)
    return [
        *_checks(source, config, "pre-merge", every_platform=False),
        *(
            steps.suite(source, config, suite.name, depends_on=after_build)
            for suite in config.suites_for("pre-merge")
            if suite.name != "unit"
        ),
        steps.scan(source, config, run_stamp=uuid.uuid4().hex, depends_on=after_build),
    ]


def _checks(
    source: dagger.Directory, config: PipelineConfig, pipeline: str, *, every_platform: bool = True
) -> Steps:
    """What runs first and at once: lint (when the service has [lint]), the unit
    tests (when the pipeline runs them) and the build."""
    first: Steps = []
    if config.lint is not None:
        first.append(steps.lint(source, config))
    if any(suite.name == "unit" for suite in config.suites_for(pipeline)):
        first.append(steps.suite(source, config, "unit"))
    first.append(steps.build(source, config, every_platform=every_platform))
    return first


def release(
    source: dagger.Directory,
    config: PipelineConfig,
    *,
    plan: PublishPlan,
    login: Login,
    release_of: steps.ReleaseOf,
) -> Steps:
    """build (every platform) -> the scan gate on each -> publish, recording release.json."""
    return [
        steps.build(source, config, every_platform=True),
        steps.scan(
            source, config, run_stamp=uuid.uuid4().hex, depends_on=("build",), every_platform=True
        ),
        steps.publish(source, config, plan, login, depends_on=("scan",), release=release_of),
    ]


@dataclass(frozen=True, kw_only=True)
class RunContext:
    """What every pipeline run reports against: the commit, the CI run, the status."""

    name: str
    sha: CommitId
    run_url: str | None
    statuses: CommitStatuses | None
    status_context: str


async def run(
    graph: Steps, context: RunContext, *, extra: dict[str, str] | None = None
) -> PipelineRun:
    """Post pending, run the steps, post the final status, collect the reports.

    A status that cannot be posted fails the run, and says so, at the end.
    """
    statuses, sha, url = context.statuses, context.sha, context.run_url
    problems: list[str | None] = []
    if statuses is not None:
        opening = running_status(
            context.name, sha=sha, context=context.status_context, target_url=url
        )
        problems.append(await post_status(statuses, opening))
    result = await pipeline(context.name, graph).run()
    if statuses is not None:
        closing = final_status(result, sha=sha, context=context.status_context, target_url=url)
        problems.append(await post_status(statuses, closing))
    failures = [problem for problem in problems if problem is not None]
    summary = "\n".join([result.summary(), *failures])
    directory = dag.directory()
    for path, file in result.reports.items():
        directory = directory.with_file(path, file)
    extra = {"commit": context.sha.value, **(extra or {})}
    record = run_json(result, problems=tuple(failures), extra=extra)
    directory = directory.with_new_file(RECORD_FILE, record).with_new_file(
        "summary.txt", summary + "\n"
    )
    return PipelineRun(passed=result.ok and not failures, summary=summary, reports=directory)
