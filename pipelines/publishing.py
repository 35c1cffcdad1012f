"""Publishing an image to ECR: where it goes, under which tags, and what the registry said.

The decisions live here; the Dagger module only builds the image and pushes
it (``ci.registry``):

- :func:`plan_publish`: repository and tags of a test image or a release
  candidate, decided before any work.
- :func:`prepare_push`: the ECR checks that must pass before anything is
  built (the repository exists or is created, the tag is free), and the login.
  A release tag that exists is an error (build once, never twice); a test
  image's tag that exists belongs to the same commit of the same branch, so a
  re-run of the dev pipeline reuses it.
- :func:`published`: the one digest every tag of a push must name.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pipelines.aws.ecr import (
    SIGNATURE_TAGS,
    RepositorySettings,
    TagExistsError,
    check_tag_available,
    ensure_repository,
    existing_digest,
    expire_test_images_policy,
    registry_credentials,
    require_signature_tags_writable,
)
from pipelines.aws.names import parse_registry
from pipelines.config.publish import PublishConfig
from pipelines.errors import PipelinesError
from pipelines.requests import PublishTarget, ReleaseCandidate
from pipelines.tags import dev_image_tag, release_tags
from pipelines.values import CommitId, Digest, ImageRef

log = logging.getLogger("portable_pipelines")


@dataclass(frozen=True, kw_only=True)
class PublishPlan:
    """Where an image goes and under which tags; decided before any work."""

    repository: str
    # registry/repository
    uri: str
    tags: tuple[str, ...]
    release: bool


@dataclass(frozen=True, kw_only=True)
class RegistryLogin:
    """A registry login, and the digest a test image's tag already names (a re-run)."""

    registry: str
    username: str
    password: str = field(repr=False)
    existing: Digest | None = None


@dataclass(frozen=True, kw_only=True)
class Published:
    """What was pushed (or found there already): the image by digest, and its tags."""

    ref: ImageRef
    tags: tuple[str, ...]
    # True when the test image of this commit was already there and reused.
    reused: bool = False

    @property
    def digest(self) -> Digest:
        if self.ref.digest is None:  # pragma: no cover - built from pinned references only
            raise ValueError(f"{self.ref} has no digest")
        return self.ref.digest

    @property
    def summary(self) -> str:
        return f"{self.ref} (reused)" if self.reused else str(self.ref)


def plan_publish(
    settings: PublishConfig, *, commit: CommitId, target: PublishTarget
) -> PublishPlan:
    if isinstance(target, ReleaseCandidate):
        tags = release_tags(
            target.version,
            commit,
            template=settings.release_tag,
            include_latest=settings.tag_latest,
        )
        return PublishPlan(
            repository=settings.repository, uri=settings.release_uri, tags=tags, release=True
        )
    return PublishPlan(
        repository=settings.test_repository,
        uri=settings.test_uri,
        tags=(dev_image_tag(target.branch, commit),),
        release=False,
    )


def repository_settings(settings: PublishConfig, plan: PublishPlan) -> RepositorySettings:
    """How a missing repository is created: test repositories expire their images."""
    policy = (
        None
        if plan.release
        else expire_test_images_policy(retention_days=settings.test_image_retention_days)
    )
    signed = plan.release and settings.signing_key is not None
    return RepositorySettings(
        immutable_tags=settings.immutable_tags,
        mutable_tags=(SIGNATURE_TAGS,) if signed else (),
        scan_on_push=settings.scan_on_push,
        encryption=settings.encryption,
        kms_key=settings.kms_key,
        lifecycle_policy=policy,
    )


def prepare_push(ecr: Any, settings: PublishConfig, plan: PublishPlan) -> RegistryLogin:
    """Check the repository and the tag, then log in: before anything is built (blocking)."""
    if settings.ensure_repository:
        state = ensure_repository(
            ecr, name=plan.repository, settings=repository_settings(settings, plan)
        )
        if state.created:
            log.info("created ECR repository %s", state.uri)
    existing = None
    tag_state = None
    try:
        tag_state = check_tag_available(ecr, repository=plan.repository, tag=plan.tags[0])
    except TagExistsError:
        if plan.release:
            raise
        found = existing_digest(ecr, repository=plan.repository, tag=plan.tags[0])
        existing = Digest.parse(found) if found else None
    if tag_state is not None and plan.release and settings.signing_key is not None:
        # Can cosign write beside the image? (The repository's mode, as just read.)
        require_signature_tags_writable(tag_state)
    login = registry_credentials(ecr, parse_registry(settings.registry))
    return RegistryLogin(
        registry=settings.registry,
        username=login.username,
        password=login.password,
        existing=existing,
    )


def pull_login(ecr: Any, settings: PublishConfig) -> RegistryLogin:
    """A login to read the release repository (promote verifies signatures there; blocking)."""
    login = registry_credentials(ecr, parse_registry(settings.registry))
    return RegistryLogin(
        registry=settings.registry, username=login.username, password=login.password
    )


def reused(plan: PublishPlan, digest: Digest) -> Published:
    """The test image this commit already pushed (a re-run of the dev pipeline)."""
    log.info("%s:%s exists already: reusing it", plan.uri, plan.tags[0])
    return Published(ref=ImageRef(name=plan.uri, digest=digest), tags=plan.tags, reused=True)


def published(plan: PublishPlan, answers: Sequence[str]) -> Published:
    """The pushed image from the registry's answers (``repo:tag@sha256:...``, one per tag)."""
    refs = []
    for answer in answers:
        try:
            refs.append(ImageRef.pinned(answer))
        except (ValueError, PipelinesError):
            raise PipelinesError(
                f"the registry returned {answer!r}, not a reference with a sha256 digest",
                fix="retry the push; report it if it persists",
            ) from None
    digests = {str(ref.digest) for ref in refs}
    if len(digests) != 1:
        raise PipelinesError(
            f"the tags {', '.join(plan.tags)} were pushed with different digests "
            f"({', '.join(sorted(digests))})",
            fix="re-run; the build is not reproducible",
        )
    first = refs[0]
    return Published(ref=ImageRef(name=first.name, digest=first.digest), tags=plan.tags)
