"""Push the service image to Amazon ECR: tags from the core, login from boto3.

The ECR calls are blocking boto3 calls, so they run in a worker thread; the
registry password goes straight into a ``dagger.Secret``.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import anyio
import dagger
from dagger import dag

from ci import toolchain
from pipelines.aws.ecr import (
    RepositorySettings,
    TagExistsError,
    check_tag_available,
    ensure_repository,
    existing_digest,
    expire_test_images_policy,
    registry_credentials,
)
from pipelines.aws.names import parse_registry
from pipelines.aws.session import AwsSession
from pipelines.config import ConfigError, PipelineConfig, PublishConfig
from pipelines.errors import InputError, PipelinesError
from pipelines.release_record import pinned_ref
from pipelines.tags import dev_image_tag, release_tags
from pipelines.values import AwsRegion, Branch, CommitId

log = logging.getLogger("portable_pipelines")


@dataclass(frozen=True, kw_only=True)
class PublishPlan:
    """Where an image goes and under which tags; decided before any work."""

    repository: str
    uri: str
    tags: tuple[str, ...]
    release: bool


@dataclass(frozen=True, kw_only=True)
class Published:
    ref: str  # repository@sha256:...
    digest: str
    tags: tuple[str, ...]
    # True when the test image of this commit was already there and reused.
    reused: bool = False


@dataclass(frozen=True, kw_only=True)
class Login:
    """A registry login, and the digest a test image's tag already names (a re-run)."""

    registry: str
    username: str
    password: dagger.Secret
    existing_digest: str | None = None


def publish_settings(config: PipelineConfig) -> PublishConfig:
    if config.publish is None:
        raise ConfigError(
            file="pipelines.toml",
            key="publish",
            problem="no [publish] table: there is nowhere to push the image",
            fix='add [publish] with `registry = "<account>.dkr.ecr.<region>.amazonaws.com"` '
            'and `repository = "<name>"` (see docs/configuration.md)',
        )
    return config.publish


def plan_publish(
    config: PipelineConfig, *, sha: str, branch: str | None, version: str | None
) -> PublishPlan:
    """Test image (``--branch``) or release candidate (``--version``): exactly one."""
    settings = publish_settings(config)
    commit = CommitId.parse(sha)
    if version is not None and branch is None:
        tags = release_tags(
            version, commit, template=settings.release_tag, include_latest=settings.tag_latest
        )
        return PublishPlan(
            repository=settings.repository, uri=settings.release_uri, tags=tags, release=True
        )
    if branch is not None and version is None:
        return PublishPlan(
            repository=settings.test_repository,
            uri=settings.test_uri,
            tags=(dev_image_tag(Branch.parse(branch), commit),),
            release=False,
        )
    raise InputError(
        argument="branch",
        problem="say what to publish: a test image (--branch) or a release (--version), not both",
        fix="pass --branch=$BRANCH for the dev pipeline, or --version=1.4.0 for a release",
    )


def _repository_settings(settings: PublishConfig, plan: PublishPlan) -> RepositorySettings:
    policy = (
        None
        if plan.release
        else expire_test_images_policy(retention_days=settings.test_image_retention_days)
    )
    return RepositorySettings(
        immutable_tags=settings.immutable_tags,
        scan_on_push=settings.scan_on_push,
        encryption=settings.encryption,
        kms_key=settings.kms_key,
        lifecycle_policy=policy,
    )


async def registry_login(settings: PublishConfig, plan: PublishPlan, session: AwsSession) -> Login:
    """Check the repository and the tag, then log in: before anything is built.

    A release tag that exists already is an error (build once, never twice).
    A test image's tag that exists belongs to the same commit of the same
    branch: a re-run of the dev pipeline reuses it instead of failing.
    """

    def talk_to_ecr() -> tuple[str, str, str | None]:
        client = session.client("ecr", region=AwsRegion(settings.region))
        if settings.ensure_repository:
            state = ensure_repository(
                client, name=plan.repository, settings=_repository_settings(settings, plan)
            )
            if state.created:
                log.info("created ECR repository %s", state.uri)
        existing = None
        try:
            check_tag_available(client, repository=plan.repository, tag=plan.tags[0])
        except TagExistsError:
            if plan.release:
                raise
            existing = existing_digest(client, repository=plan.repository, tag=plan.tags[0])
        login = registry_credentials(client, parse_registry(settings.registry))
        return login.username, login.password, existing

    username, password, existing = await anyio.to_thread.run_sync(talk_to_ecr)
    return Login(
        registry=settings.registry,
        username=username,
        password=dag.set_secret(f"ecr-login-{secrets.token_hex(4)}", password),
        existing_digest=existing,
    )


def platform_variants(source: dagger.Directory, config: PipelineConfig) -> list[dagger.Container]:
    """One image per configured platform; the engine's own platform when none is set."""
    platforms = config.build.platforms or (None,)
    return [toolchain.image(source, config, dagger.Platform(p) if p else None) for p in platforms]


async def push(variants: list[dagger.Container], plan: PublishPlan, login: Login) -> Published:
    if login.existing_digest is not None:
        log.info("%s:%s exists already: reusing it", plan.uri, plan.tags[0])
        return Published(
            ref=f"{plan.uri}@{login.existing_digest}",
            digest=login.existing_digest,
            tags=plan.tags,
            reused=True,
        )
    registry, username, password = login.registry, login.username, login.password
    digests: set[str] = set()
    ref = ""
    for tag in plan.tags:
        address = f"{plan.uri}:{tag}"
        if len(variants) == 1:
            publisher = variants[0]
            published = await publisher.with_registry_auth(registry, username, password).publish(
                address
            )
        else:
            published = await (
                dag.container()
                .with_registry_auth(registry, username, password)
                .publish(address, platform_variants=variants)
            )
        ref, digest = pinned_ref(published)
        digests.add(digest)
        log.info("pushed %s", published)
    if len(digests) != 1:
        raise PipelinesError(
            f"the tags {', '.join(plan.tags)} were pushed with different digests "
            f"({', '.join(sorted(digests))})\n  fix: re-run; the build is not reproducible"
        )
    return Published(ref=ref, digest=digests.pop(), tags=plan.tags)
