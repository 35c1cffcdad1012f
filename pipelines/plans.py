"""What each pipeline runs, decided once: the steps, their order, and what each does.

:func:`plan_pipeline` is the one definition of the three pipelines. The
Dagger module builds its step graph from it (``ci/flows.py`` makes one step
per planned step, with the planned name, dependencies and kind), and
``portable-pipelines plan`` prints it: what you read is what runs. The
commands listed are those the module executes, built by the same core
functions (the suites' and lint's own commands, Trivy's from
:mod:`pipelines.scan.command`, kubectl's from the deploy target).

``to_json`` is a stable format (``"format": 1``): a top-level ``steps`` list
whose items always have ``name``, ``depends_on`` and ``commands``; fields are
only ever added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pipelines.config import APP_HOST, PipelineConfig, SuiteConfig
from pipelines.config.dependencies import connection_env, shared_secret_names
from pipelines.deploy_targets import target_kind
from pipelines.images import IMAGES
from pipelines.publishing import plan_publish
from pipelines.requests import PublishTarget, ReleaseCandidate, TestImage
from pipelines.scan.command import OUT, download_db_command, sbom_command, scan_commands
from pipelines.signing import DOCKER_CONFIG_FILE, SBOM_PREDICATE, attest_command, sign_command
from pipelines.step_kinds import StepKind
from pipelines.suite_env import CONTRACT, gets_app_environment, tests_the_app
from pipelines.tags import LATEST
from pipelines.values import Branch, CommitId

PIPELINES = ("dev", "pre-merge", "release")
JSON_FORMAT = 1
Role = Literal[
    "lint", "suite", "build", "scan", "sbom", "publish", "sign", "attest", "record", "deploy"
]
# The AWS keys a cosign step gets as secret variables (for kms:Sign / kms:GetPublicKey),
# exchanged from the CI's token in the module; never the token itself.
AWS_KEY_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
COSIGN_ENV = (*AWS_KEY_ENV, "AWS_REGION", "DOCKER_CONFIG")
SBOM_REPORT = "sbom.cdx.json"


@dataclass(frozen=True, kw_only=True)
class PlannedStep:
    name: str
    role: Role
    kind: StepKind = "validation"
    depends_on: tuple[str, ...] = ()
    # The image or Dockerfile stage the commands run in.
    runs_in: str = ""
    commands: tuple[tuple[str, ...], ...] = ()
    # Hostnames bound beside the step (the app as a service, its dependencies).
    services: tuple[str, ...] = ()
    # Variable names the commands get (never values: some are secrets).
    env: tuple[str, ...] = ()
    # A suite: the step whose deployment it tests (None: the app as a service).
    against: str | None = None
    # build, scan, publish: every configured platform, or the engine's own.
    every_platform: bool = False
    platforms: tuple[str, ...] = ()
    # publish: the addresses it pushes.
    pushes: tuple[str, ...] = ()
    # deploy: the URL the suites after it test.
    url: str | None = None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class PipelinePlan:
    pipeline: str
    service: str
    steps: tuple[PlannedStep, ...]
    # The commit status the run posts: pending at the start, success or failure at the end.
    status_context: str | None
    forge: str | None

    def step(self, name: str) -> PlannedStep:
        return next(step for step in self.steps if step.name == name)

    def to_json(self) -> dict[str, Any]:
        statuses = (
            [
                {"context": self.status_context, "state": "pending", "when": "start"},
                {"context": self.status_context, "state": "success|failure", "when": "end"},
            ]
            if self.status_context is not None
            else []
        )
        return {
            "format": JSON_FORMAT,
            "pipeline": self.pipeline,
            "service": self.service,
            "forge": self.forge,
            "statuses": statuses,
            "steps": [_step_json(step) for step in self.steps],
        }


def _step_json(step: PlannedStep) -> dict[str, Any]:
    return {
        "name": step.name,
        "depends_on": list(step.depends_on),
        "commands": [list(command) for command in step.commands],
        "kind": step.kind,
        "runs_in": step.runs_in,
        "services": list(step.services),
        "env": list(step.env),
        "against": step.against,
        "platforms": list(step.platforms),
        "pushes": list(step.pushes),
        "url": step.url,
        "note": step.note,
    }


def plan_pipeline(
    config: PipelineConfig,
    pipeline: str,
    *,
    sha: CommitId | None = None,
    branch: Branch | None = None,
    version: str | None = None,
    ignorefile_found: bool = True,
) -> PipelinePlan:
    """The steps of ``pipeline`` for this service (placeholders where the commit,
    branch or version is not given); the config has passed preflight for it.
    ``ignorefile_found``: whether the service has its ``[scan] ignorefile``."""
    if pipeline not in PIPELINES:
        raise ValueError(f"unknown pipeline {pipeline!r}; known: {', '.join(PIPELINES)}")
    makers = {"dev": _dev, "pre-merge": _pre_merge, "release": _release}
    facts = _Facts(
        config=config, sha=sha, branch=branch, version=version, ignorefile_found=ignorefile_found
    )
    steps = makers[pipeline](facts)
    forge = config.forge
    return PipelinePlan(
        pipeline=pipeline,
        service=config.service.name,
        steps=tuple(steps),
        status_context=config.status.context_for(pipeline) if forge is not None else None,
        forge=f"{forge.provider} {forge.repository}" if forge is not None else None,
    )


@dataclass(frozen=True, kw_only=True)
class _Facts:
    config: PipelineConfig
    sha: CommitId | None
    branch: Branch | None
    version: str | None
    ignorefile_found: bool


def _dev(facts: _Facts) -> list[PlannedStep]:
    """lint, unit and build at once -> publish -> deploy -> the dev suites against it."""
    config = facts.config
    checks = _checks(config, "dev", every_platform=True)
    deploy = _deploy(facts)
    return [
        *checks,
        _publish(facts, depends_on=tuple(step.name for step in checks), release=False),
        deploy,
        *(
            _suite(config, suite, depends_on=(deploy.name,), against=deploy)
            for suite in config.suites_for("dev")
            if tests_the_app(suite)
        ),
    ]


def _pre_merge(facts: _Facts) -> list[PlannedStep]:
    """lint, unit and build at once -> the other suites and the scan at once."""
    config = facts.config
    return [
        *_checks(config, "pre-merge", every_platform=False),
        *(
            _suite(config, suite, depends_on=("build",))
            for suite in config.suites_for("pre-merge")
            if tests_the_app(suite)
        ),
        _scan(facts, depends_on=("build",), every_platform=False),
    ]


def _release(facts: _Facts) -> list[PlannedStep]:
    """build (every platform) -> the scan gate and the SBOM of each -> publish the
    release candidate -> sign it and attest its SBOMs (with a signing key) -> record."""
    config = facts.config
    key = config.require_publish().signing_key
    steps = [
        _build(config, every_platform=True),
        _scan(facts, depends_on=("build",), every_platform=True),
        _sbom(config),
        _publish(facts, depends_on=("scan", "sbom"), release=True),
    ]
    if key is not None:
        steps += [_sign(config, key), _attest(config, key)]
    steps.append(_record(signed=key is not None))
    return steps


def _pushed_ref(config: PipelineConfig) -> str:
    return f"{config.require_publish().release_uri}@sha256:<digest>"


def _sbom(config: PipelineConfig) -> PlannedStep:
    platforms = config.build.platforms
    return PlannedStep(
        name="sbom",
        role="sbom",
        depends_on=("build",),
        runs_in=IMAGES["trivy"],
        commands=(("mkdir", "-p", OUT), sbom_command(config.scan, output=f"{OUT}/{SBOM_REPORT}")),
        every_platform=True,
        platforms=platforms,
        note="CycloneDX, from the tarball the scan reads, without the vulnerability DB; "
        "once per platform (sbom/<os>-<arch>.cdx.json)",
    )


def _sign(config: PipelineConfig, key: str) -> PlannedStep:
    return PlannedStep(
        name="sign",
        role="sign",
        kind="effect",
        depends_on=("publish",),
        runs_in=IMAGES["cosign"],
        commands=(sign_command(key, _pushed_ref(config)),),
        env=COSIGN_ENV,
        note=f"the pushed digest, with {key}; the ECR login as a secret file "
        f"({DOCKER_CONFIG_FILE}), the AWS keys as secret variables",
    )


def _attest(config: PipelineConfig, key: str) -> PlannedStep:
    return PlannedStep(
        name="attest",
        role="attest",
        kind="effect",
        depends_on=("publish", "sbom"),
        runs_in=IMAGES["cosign"],
        commands=(attest_command(key, _pushed_ref(config), predicate=SBOM_PREDICATE),),
        env=COSIGN_ENV,
        platforms=config.build.platforms,
        note="each platform's SBOM, attached to the pushed digest as a signed CycloneDX "
        "attestation",
    )


def _record(*, signed: bool) -> PlannedStep:
    depends_on = ("publish", "sbom", "sign", "attest") if signed else ("publish", "sbom")
    return PlannedStep(
        name="record",
        role="record",
        depends_on=depends_on,
        runs_in="the module",
        note="release.json: ref, digest, tags, SBOM digests, signature, provenance"
        + ("" if signed else " (unsigned: no [publish] signing_key, so promote refuses it)"),
    )


def _checks(config: PipelineConfig, pipeline: str, *, every_platform: bool) -> list[PlannedStep]:
    """What runs first and at once: lint (when the service has [lint] or [docs]),
    the unit tests (when the pipeline runs them) and the build."""
    first = []
    if config.static_checks:
        first.append(
            PlannedStep(
                name="lint",
                role="lint",
                runs_in=_toolchain(config),
                commands=config.static_checks,
                env=tuple(_names(config.toolchain.env)),
                note="every command runs, at once; all failures are reported",
            )
        )
    first += [
        _suite(config, suite) for suite in config.suites_for(pipeline) if not tests_the_app(suite)
    ]
    first.append(_build(config, every_platform=every_platform))
    return first


def _suite(
    config: PipelineConfig,
    suite: SuiteConfig,
    *,
    depends_on: tuple[str, ...] = (),
    against: PlannedStep | None = None,
) -> PlannedStep:
    contract = [v.name for v in CONTRACT if v.suites == "all" or tests_the_app(suite)]
    env = [*_names(config.toolchain.env), *_names(suite.env), *contract]
    services: tuple[str, ...] = ()
    if tests_the_app(suite) and against is None:
        dependencies = config.dependencies_for(suite.name)
        services = (APP_HOST, *(d.name for d in dependencies))
        if gets_app_environment(suite):
            env += [*_names(config.service.env), *_names(config.service.secret_env)]
            for dependency in dependencies:
                env += _names(connection_env(dependency))
                env += [name for _, name in shared_secret_names(dependency)]
    service = config.service
    note = None
    if against is not None:
        note = f"against the deployment at {against.url}"
    elif tests_the_app(suite):
        note = (
            f"against the app as a service at {APP_HOST}:{service.port}, once GET "
            f"{service.health_path} and {service.readiness_path} answer 2xx"
        )
    return PlannedStep(
        name=suite.name,
        role="suite",
        depends_on=depends_on,
        runs_in=suite.image or _toolchain(config),
        commands=suite.commands,
        services=services,
        env=tuple(dict.fromkeys(env)),
        against=against.name if against is not None else None,
        note=note,
    )


def _build(config: PipelineConfig, *, every_platform: bool) -> PlannedStep:
    build = config.build
    platforms = build.platforms if every_platform else ()
    return PlannedStep(
        name="build",
        role="build",
        runs_in=_stage(config, build.target),
        every_platform=every_platform,
        platforms=platforms,
        note=f"image for {', '.join(platforms) or 'the engine platform'}",
    )


def _scan(facts: _Facts, *, depends_on: tuple[str, ...], every_platform: bool) -> PlannedStep:
    config = facts.config
    settings = config.scan
    platforms = config.build.platforms if every_platform else ()
    commands = (
        download_db_command(settings),
        *scan_commands(settings, ignorefile=facts.ignorefile_found),
    )
    return PlannedStep(
        name="scan",
        role="scan",
        depends_on=depends_on,
        runs_in=IMAGES["trivy"],
        commands=commands,
        every_platform=every_platform,
        platforms=platforms,
        note=f"gate: {', '.join(settings.severities)} findings fail it (.trivyignore: "
        f"{settings.ignorefile}); once per platform when several are built",
    )


def _publish(facts: _Facts, *, depends_on: tuple[str, ...], release: bool) -> PlannedStep:
    config = facts.config
    settings = config.require_publish()
    uri = settings.release_uri if release else settings.test_uri
    return PlannedStep(
        name="publish",
        role="publish",
        kind="effect",
        depends_on=depends_on,
        runs_in=f"the engine: one push of every platform to {uri}",
        platforms=config.build.platforms,
        pushes=tuple(f"{uri}:{tag}" for tag in _tags(facts, release=release)),
        note="the release candidate, by digest"
        if release
        else "a test image (expires in the test repository)",
    )


def _tags(facts: _Facts, *, release: bool) -> tuple[str, ...]:
    """The tags publish pushes, as plan_publish decides them; where the commit, branch
    or version is not known yet, the same template with placeholders."""
    settings = facts.config.require_publish()
    sha, branch, version = facts.sha, facts.branch, facts.version
    target: PublishTarget | None = None
    if release and version is not None:
        target = ReleaseCandidate(version=version)
    elif not release and branch is not None:
        target = TestImage(branch=branch)
    if sha is not None and target is not None:
        return plan_publish(settings, commit=sha, target=target).tags
    sha7 = sha.short if sha is not None else "<sha7>"
    if not release:
        return (f"{branch.slug() if branch is not None else '<branch-slug>'}-{sha7}",)
    tag = settings.release_tag.format(
        version=version or "<version>", sha7=sha7, sha=sha.value if sha else "<sha>"
    )
    return (tag, LATEST) if settings.tag_latest else (tag,)


def _deploy(facts: _Facts) -> PlannedStep:
    config = facts.config
    deploy = config.require_deploy()
    described = target_kind(deploy).describe(deploy, config.service.name, facts.branch)
    return PlannedStep(
        name="deploy",
        role="deploy",
        kind="effect",
        depends_on=("publish",),
        runs_in=described.runs_in,
        commands=described.commands,
        url=described.url,
        note=described.where,
    )


def _toolchain(config: PipelineConfig) -> str:
    toolchain = config.toolchain
    if toolchain.image is not None:
        return f"{toolchain.image}, the source at {toolchain.workdir}"
    return f"{_stage(config, toolchain.target)}, the source at {toolchain.workdir}"


def _stage(config: PipelineConfig, target: str | None) -> str:
    stage = f"stage {target}" if target else "the last stage"
    return f"{stage} of {config.build.dockerfile}"


def _names(pairs: Sequence[tuple[str, str]]) -> list[str]:
    return [name for name, _ in pairs]
