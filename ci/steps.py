"""The steps the pipelines are made of, for the core's step graph (pipelines.stepgraph).

Each factory returns a :class:`Step` whose run takes the values of the
steps it depends on and returns a :class:`StepOutput`: a summary line, a
value for the next steps (the published image, the deployed app), and the
reports to keep. A validation that fails returns its reports with the
failure; an effect that fails raises.
"""

from __future__ import annotations

from dataclasses import dataclass

import dagger
from dagger import dag

from ci import registry, suites, toolchain
from ci.trivy import scan_and_gate
from pipelines.config import PipelineConfig
from pipelines.deploy_targets import DeployedApp, DevDeployment, DevDeployTarget
from pipelines.plans import PlannedStep
from pipelines.publishing import Published, PublishPlan
from pipelines.release_record import RELEASE_FILE, release_json
from pipelines.requests import SuiteRequest
from pipelines.stepgraph import Step, StepInputs, StepOutput, StepRun
from pipelines.values import Branch, CommitId, ImageRef

Output = StepOutput[dagger.File]
SCAN_REPORTS = ("trivy.json", "trivy.sarif", "gl-container-scanning-report.json", "summary.txt")


def lint(
    source: dagger.Directory, config: PipelineConfig, planned: PlannedStep
) -> Step[dagger.File]:
    async def run(_inputs: StepInputs) -> Output:
        result = await suites.run_lint(source, config)
        return StepOutput(summary=result.summary, failure=None if result.passed else result.summary)

    return _step(planned, run)


def suite(
    source: dagger.Directory, config: PipelineConfig, planned: PlannedStep
) -> Step[dagger.File]:
    """A test suite; ``planned.against`` names the step whose DeployedApp it tests
    (else it tests the image, run as a service)."""
    name, against = planned.name, planned.against

    async def run(inputs: StepInputs) -> Output:
        url = inputs.get_as(against, DeployedApp).url if against else None
        result = await suites.run_suite(source, config, SuiteRequest(suite=name, url=url))
        return StepOutput(
            summary=result.summary,
            reports={f"junit/{name}.xml": result.report},
            failure=None if result.passed else result.summary,
        )

    return _step(planned, run)


def build(
    source: dagger.Directory, config: PipelineConfig, planned: PlannedStep
) -> Step[dagger.File]:
    """Build the image: for every configured platform when it will be pushed, else
    for the engine's own platform, the very graph the suites and the scan use
    (so it is built once, not once per platform under emulation)."""

    every_platform = planned.every_platform

    async def run(_inputs: StepInputs) -> Output:
        if every_platform:
            for variant in registry.platform_variants(source, config):
                await variant.sync()
            return StepOutput(
                summary=f"image built ({', '.join(config.build.platforms) or 'engine platform'})"
            )
        await toolchain.image(source, config).sync()
        return StepOutput(summary="image built (engine platform)")

    return _step(planned, run)


def scan(
    source: dagger.Directory, config: PipelineConfig, planned: PlannedStep, *, run_stamp: str
) -> Step[dagger.File]:
    """The Trivy gate on the engine-platform image, or on every image to be pushed.

    With several platforms each variant is scanned (its packages differ) and
    its reports kept under ``scan/<os>-<arch>/``; one DB download serves all.
    The first platform's reports also stand at ``scan/``, where CI uploads
    them to code scanning and the GitLab security report.
    """

    platforms = planned.platforms

    async def run(_inputs: StepInputs) -> Output:
        if not platforms:
            result = await scan_and_gate(source, config, run_stamp=run_stamp)
            reports = {f"scan/{name}": result.reports.file(name) for name in SCAN_REPORTS}
            failure = None if result.passed else result.summary
            return StepOutput(summary="scan gate passed", reports=reports, failure=failure)
        reports, failed = {}, []
        variants = registry.platform_variants(source, config)
        for platform, variant in zip(platforms, variants, strict=True):
            result = await scan_and_gate(source, config, run_stamp=run_stamp, built=variant)
            label = platform.replace("/", "-")
            for name in SCAN_REPORTS:
                reports[f"scan/{label}/{name}"] = result.reports.file(name)
                if platform == platforms[0]:
                    reports[f"scan/{name}"] = result.reports.file(name)
            if not result.passed:
                failed.append(f"{platform}: {result.summary}")
        summary = f"scan gate passed ({', '.join(platforms)})"
        return StepOutput(summary=summary, reports=reports, failure="\n".join(failed) or None)

    return _step(planned, run)


def publish(
    source: dagger.Directory,
    config: PipelineConfig,
    planned: PlannedStep,
    plan: PublishPlan,
    login: registry.Login,
    *,
    release: ReleaseOf | None = None,
) -> Step[dagger.File]:
    """Push the image; its value is the :class:`Published` image, by digest.

    A release candidate also keeps ``release.json`` (what was pushed, for
    promotion: build once, deploy many).
    """

    async def run(_inputs: StepInputs) -> Output:
        pushed = await registry.push(registry.platform_variants(source, config), plan, login)
        reports = {}
        if release is not None:
            text = release_json(
                service=config.service.name,
                published=pushed,
                commit=release.commit,
                version=release.version,
            )
            reports[RELEASE_FILE] = (
                dag.directory().with_new_file(RELEASE_FILE, text).file(RELEASE_FILE)
            )
        return StepOutput(summary=pushed.summary, value=pushed, reports=reports)

    return _step(planned, run)


@dataclass(frozen=True, kw_only=True)
class ReleaseOf:
    """The commit and version a release candidate is recorded under."""

    commit: CommitId
    version: str


def deploy(
    target: DevDeployTarget, config: PipelineConfig, branch: Branch, planned: PlannedStep
) -> Step[dagger.File]:
    """Deploy the published image to dev; its value is the :class:`DeployedApp`."""
    (published_by,) = planned.depends_on

    async def run(inputs: StepInputs) -> Output:
        image = inputs.get_as(published_by, Published).ref
        app = await target.deploy(deployment(config, image=image, branch=branch))
        return StepOutput(summary=f"{app.url} ({app.where})", value=app)

    return _step(planned, run)


def _step(planned: PlannedStep, run: StepRun[dagger.File]) -> Step[dagger.File]:
    """The step graph's step for a planned one: its name, dependencies and kind."""
    return Step(name=planned.name, run=run, depends_on=planned.depends_on, kind=planned.kind)


def deployment(config: PipelineConfig, *, image: ImageRef, branch: Branch) -> DevDeployment:
    return DevDeployment(
        image=image,
        branch=branch,
        service=config.service.name,
        port=config.service.port,
        health_path=config.service.health_path,
    )
