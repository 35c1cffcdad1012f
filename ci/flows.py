"""The three pipelines as step graphs, as docs/pipelines/ draws them, and how a run ends.

Data flows along the edges: ``publish`` hands the pushed image to
``deploy``, ``deploy`` hands the deployed app (its URL) to ``smoke``. Every
step keeps its reports in its output; :func:`run` collects them, posts the
commit statuses and writes ``run.json``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TypeVar

import dagger
from dagger import dag

from ci import cosign, steps
from ci.registry import Login
from ci.results import PipelineRun
from pipelines.config import PipelineConfig
from pipelines.deploy_targets import DevDeployTarget
from pipelines.plans import PipelinePlan, PlannedStep, plan_pipeline
from pipelines.publishing import PublishPlan
from pipelines.run_record import RECORD_FILE
from pipelines.run_record import to_json as run_json
from pipelines.statuses import CommitStatuses, final_status, post_status, running_status
from pipelines.stepgraph import Step, pipeline
from pipelines.values import Branch, CommitId

Steps = list[Step[dagger.File]]
T = TypeVar("T")


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
    makers = _Makers(source, config, publish=plan, login=login, target=target, branch=branch)
    return makers.steps(plan_pipeline(config, "dev", branch=branch))


def pre_merge(source: dagger.Directory, config: PipelineConfig) -> Steps:
    """lint, unit and build at once -> the other suites and the scan at once."""
    return _Makers(source, config).steps(plan_pipeline(config, "pre-merge"))


def release(
    source: dagger.Directory,
    config: PipelineConfig,
    *,
    plan: PublishPlan,
    login: Login,
    release_of: steps.ReleaseOf,
    signer: cosign.Signer | None,
) -> Steps:
    """build (every platform) -> the scan gate and the SBOM of each -> publish -> sign
    and attest (with a signing key) -> record release.json."""
    makers = _Makers(
        source, config, publish=plan, login=login, release_of=release_of, signer=signer
    )
    return makers.steps(plan_pipeline(config, "release", version=release_of.version))


@dataclass(frozen=True)
class _Makers:
    """Makes the step of each planned step (pipelines.plans decides which, in what
    order, after what): the plan that `portable-pipelines plan` prints is what runs."""

    source: dagger.Directory
    config: PipelineConfig
    publish: PublishPlan | None = None
    login: Login | None = None
    target: DevDeployTarget | None = None
    branch: Branch | None = None
    release_of: steps.ReleaseOf | None = None
    signer: cosign.Signer | None = None
    # One vulnerability-DB download per run, shared by every scan of it.
    run_stamp: str = field(default_factory=lambda: uuid.uuid4().hex)

    def steps(self, plan: PipelinePlan) -> Steps:
        return [self.make(planned) for planned in plan.steps]

    def make(self, planned: PlannedStep) -> Step[dagger.File]:
        source, config = self.source, self.config
        if planned.role in ("lint", "suite", "build", "sbom"):
            plain = {
                "lint": steps.lint,
                "suite": steps.suite,
                "build": steps.build,
                "sbom": steps.sbom,
            }
            return plain[planned.role](source, config, planned)
        if planned.role == "scan":
            return steps.scan(source, config, planned, run_stamp=self.run_stamp)
        if planned.role == "publish":
            publish, login = _given(self.publish, "publish"), _given(self.login, "login")
            return steps.publish(source, config, planned, publish, login)
        return self._after_publish(planned)

    def _after_publish(self, planned: PlannedStep) -> Step[dagger.File]:
        if planned.role == "sign":
            return steps.sign(planned, _given(self.signer, "signer"))
        if planned.role == "attest":
            return steps.attest(planned, _given(self.signer, "signer"))
        if planned.role == "record":
            return steps.record(self.config, planned, _given(self.release_of, "release_of"))
        target, branch = _given(self.target, "target"), _given(self.branch, "branch")
        return steps.deploy(target, self.config, branch, planned)


def _given(value: T | None, name: str) -> T:
    if value is None:  # a bug of ours: the caller prepared nothing for a planned step
        raise ValueError(f"a planned step needs {name}, and none was prepared")
    return value


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
