"""The steps the pipelines are made of, for the core's step graph (pipelines.stepgraph).

Each factory returns a :class:`Step` whose run takes the values of the
steps it depends on and returns a :class:`StepOutput`: a summary line, a
value for the next steps (the published image, the deployed app), and the
reports to keep. A validation that fails returns its reports with the
failure; an effect that fails raises.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import dagger
from dagger import dag

from ci import cosign, registry, suites, toolchain
from ci.trivy import scan_and_gate
from pipelines.config import PipelineConfig
from pipelines.deploy_targets import DeployedApp, DevDeployment, DevDeployTarget
from pipelines.images import IMAGES
from pipelines.plans import PlannedStep
from pipelines.publishing import Published, PublishPlan
from pipelines.release_record import BUILDER, RELEASE_FILE, release_json
from pipelines.requests import SuiteRequest
from pipelines.scan.command import OUT, TARBALL, WORK
from pipelines.signing import Provenance, Sbom, Signature, signature_tag
from pipelines.stepgraph import Step, StepInputs, StepOutput, StepRun
from pipelines.values import Branch, CommitId, Digest, ImageRef

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
) -> Step[dagger.File]:
    """Push the image; its value is the :class:`Published` image, by digest."""

    async def run(_inputs: StepInputs) -> Output:
        pushed = await registry.push(registry.platform_variants(source, config), plan, login)
        return StepOutput(summary=pushed.summary, value=pushed)

    return _step(planned, run)


@dataclass(frozen=True, kw_only=True)
class Sboms:
    """The SBOM of each platform: what release.json records, and the files to attest."""

    made: tuple[tuple[Sbom, dagger.File], ...]


def sbom(
    source: dagger.Directory, config: PipelineConfig, planned: PlannedStep
) -> Step[dagger.File]:
    """A CycloneDX SBOM of every platform's image, from the tarball the scan reads too.

    No vulnerability DB and no cache volume: the SBOM depends on the image alone.
    """
    (make_sbom,) = [c for c in planned.commands if c[:2] == ("trivy", "image")]
    report = make_sbom[make_sbom.index("--output") + 1]

    async def run(_inputs: StepInputs) -> Output:
        labels = [p.replace("/", "-") for p in config.build.platforms] or ["engine"]
        platforms = list(config.build.platforms) or ["engine platform"]
        made, reports = [], {}
        for label, platform, variant in zip(
            labels, platforms, registry.platform_variants(source, config), strict=True
        ):
            ctr = (
                dag.container()
                .from_(IMAGES["trivy"])
                .with_workdir(WORK)
                .with_mounted_file(TARBALL, variant.as_tarball())
                .with_exec(["mkdir", "-p", OUT])
                .with_exec(list(make_sbom))
            )
            file = ctr.file(report)
            text = await file.contents()
            digest = Digest("sha256:" + hashlib.sha256(text.encode()).hexdigest())
            path = f"sbom/{label}.cdx.json"
            made.append((Sbom(platform=platform, path=path, digest=digest), file))
            reports[path] = file
        summary = f"SBOM of {', '.join(platforms)} (CycloneDX)"
        return StepOutput(summary=summary, value=Sboms(made=tuple(made)), reports=reports)

    return _step(planned, run)


def sign(planned: PlannedStep, signer: cosign.Signer) -> Step[dagger.File]:
    """Sign the pushed digest; its value is the :class:`Signature`."""

    async def run(inputs: StepInputs) -> Output:
        pushed = inputs.get_as("publish", Published)
        value = await cosign.sign(signer.container(), key=signer.key, ref=str(pushed.ref))
        signature = Signature(key=signer.key, tag=signature_tag(pushed.digest), value=value)
        return StepOutput(summary=f"signed {pushed.digest} ({signature.tag})", value=signature)

    return _step(planned, run)


def attest(planned: PlannedStep, signer: cosign.Signer) -> Step[dagger.File]:
    """Attach every platform's SBOM to the pushed digest as a signed attestation."""

    async def run(inputs: StepInputs) -> Output:
        pushed = inputs.get_as("publish", Published)
        sboms = inputs.get_as("sbom", Sboms)
        files = [file for _, file in sboms.made]
        await cosign.attest(signer.container(), key=signer.key, ref=str(pushed.ref), sboms=files)
        return StepOutput(summary=f"{len(files)} SBOM attestation(s) on {pushed.digest}")

    return _step(planned, run)


def record(config: PipelineConfig, planned: PlannedStep, release: ReleaseOf) -> Step[dagger.File]:
    """Write release.json: what was pushed, its SBOMs, its signature, its provenance."""

    async def run(inputs: StepInputs) -> Output:
        pushed = inputs.get_as("publish", Published)
        sboms = inputs.get_as("sbom", Sboms)
        signature = inputs.get_as("sign", Signature) if "sign" in planned.depends_on else None
        text = release_json(
            service=config.service.name,
            published=pushed,
            commit=release.commit,
            version=release.version,
            sboms=[made for made, _ in sboms.made],
            signature=signature,
            provenance=Provenance(
                commit=release.commit.value,
                run_url=release.run_url,
                builder=BUILDER,
                trust_level=config.trust_level,
            ),
        )
        file = dag.directory().with_new_file(RELEASE_FILE, text).file(RELEASE_FILE)
        signed = "signed" if signature is not None else "UNSIGNED"
        return StepOutput(summary=f"{RELEASE_FILE} ({signed})", reports={RELEASE_FILE: file})

    return _step(planned, run)


@dataclass(frozen=True, kw_only=True)
class ReleaseOf:
    """The commit and version a release candidate is recorded under."""

    commit: CommitId
    version: str
    # The CI run that built it, for the provenance in release.json.
    run_url: str | None = None


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
