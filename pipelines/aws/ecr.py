"""Amazon ECR operations: login, repositories and tag checks.

Every function takes a boto3 ECR client (typed loosely: boto3 ships no types
for 1.44), made by :meth:`pipelines.aws.session.AwsSession.client`.

The registry password from :func:`registry_credentials` is a live credential:
the caller wraps it into a ``dagger.Secret`` at once. It is kept out of
``repr`` and never logged here.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from pipelines.aws.names import EcrRegistry, require_repository
from pipelines.errors import PipelinesError

ENCRYPTIONS = ("AES256", "KMS")
Encryption = Literal["AES256", "KMS"]


class EcrError(PipelinesError):
    """ECR refused, or would refuse, what the pipeline is about to do."""


class TagExistsError(EcrError):
    """The tag is already taken in an immutable repository: the push would fail."""


# --- login ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class RegistryCredentials:
    username: str
    password: str = field(repr=False)
    registry: str
    expires_at: datetime | None = None


def decode_authorization(response: Mapping[str, Any]) -> RegistryCredentials:
    """Turn a ``get_authorization_token`` response into a registry login."""
    entries = response.get("authorizationData") or []
    if not entries:
        raise EcrError(
            "ECR returned no authorization data: the caller may lack ecr:GetAuthorizationToken",
            fix="grant ecr:GetAuthorizationToken to the role the pipeline uses",
        )
    entry = entries[0]
    try:
        decoded = base64.b64decode(entry["authorizationToken"], validate=True).decode()
    except (KeyError, binascii.Error, UnicodeDecodeError):
        # The token itself stays out of the message.
        raise EcrError(
            "ECR returned an authorization token that is not base64 'user:password'",
            fix="retry; report it if it persists",
        ) from None
    username, separator, password = decoded.partition(":")
    if not separator or not username or not password:
        raise EcrError(
            "ECR returned an authorization token that is not 'user:password'",
            fix="retry; report it if it persists",
        )
    endpoint = str(entry.get("proxyEndpoint", ""))
    host = endpoint.removeprefix("https://").removeprefix("http://").rstrip("/")
    return RegistryCredentials(
        username=username, password=password, registry=host, expires_at=entry.get("expiresAt")
    )


def registry_credentials(client: Any, registry: EcrRegistry) -> RegistryCredentials:
    """A login for ``registry``; the token is valid for every registry the caller may use."""
    credentials = decode_authorization(client.get_authorization_token())
    return replace(credentials, registry=registry.host)


# --- repositories --------------------------------------------------------------------------


def expire_test_images_policy(*, retention_days: int) -> str:
    """An ECR lifecycle policy that expires test images ``retention_days`` after push.

    Meant for the test repository only: it selects every image, tagged or
    not, so release candidates live in a repository of their own.
    """
    if retention_days < 1:
        raise ValueError(f"retention_days must be >= 1, got {retention_days}")
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "description": f"Expire test images {retention_days} days after push",
                "selection": {
                    "tagStatus": "any",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": retention_days,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    return json.dumps(policy, sort_keys=True)


@dataclass(frozen=True, kw_only=True)
class RepositorySettings:
    immutable_tags: bool = True
    # Wildcards of tags left mutable in an immutable repository: cosign's
    # signature and attestation tags (SIGNATURE_TAGS), which it re-pushes as
    # it attaches each platform's attestation (ECR's IMMUTABLE_WITH_EXCLUSION).
    mutable_tags: tuple[str, ...] = ()
    scan_on_push: bool = True
    encryption: Encryption = "AES256"
    # Alias, key id or ARN; None with KMS means the AWS-managed aws/ecr key.
    kms_key: str | None = None
    lifecycle_policy: str | None = None


# cosign's tags beside an image: sha256-<hex>.sig and sha256-<hex>.att.
SIGNATURE_TAGS = "sha256-*"
# ECR's modes in which a release tag never moves (with exclusions, only the
# excluded wildcards move; no release tag matches SIGNATURE_TAGS).
_IMMUTABLE_MODES = ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION")


def _mutability(settings: RepositorySettings) -> dict[str, Any]:
    if not settings.immutable_tags:
        return {"imageTagMutability": "MUTABLE"}
    if not settings.mutable_tags:
        return {"imageTagMutability": "IMMUTABLE"}
    return {
        "imageTagMutability": "IMMUTABLE_WITH_EXCLUSION",
        "imageTagMutabilityExclusionFilters": [
            {"filterType": "WILDCARD", "filter": tags} for tags in settings.mutable_tags
        ],
    }


def require_signature_tags_writable(state: TagState) -> None:
    """Fail before the build when cosign could not attach the signature and
    attestations: a plain IMMUTABLE repository refuses the second push of
    ``sha256-<hex>.att`` (one attestation per platform) and a re-run's ``.sig``.

    Reads the mode :func:`check_tag_available` already fetched: no AWS call.
    """
    if state.mutability != "IMMUTABLE":
        return
    repository = state.repository
    raise EcrError(
        f"ECR repository {repository!r} has immutable tags without an exclusion for "
        f"cosign's {SIGNATURE_TAGS} tags: the signature and attestations could not be attached",
        fix=f"aws ecr put-image-tag-mutability --repository-name {repository} "
        "--image-tag-mutability IMMUTABLE_WITH_EXCLUSION "
        f"--image-tag-mutability-exclusion-filters 'filterType=WILDCARD,filter={SIGNATURE_TAGS}' "
        "(release tags stay immutable), or remove `signing_key` from [publish]",
    )


@dataclass(frozen=True, kw_only=True)
class RepositoryState:
    name: str
    uri: str
    created: bool
    immutable_tags: bool


def ensure_repository(
    client: Any, *, name: str, settings: RepositorySettings, registry_id: str | None = None
) -> RepositoryState:
    """Create ``name`` with ``settings`` unless it exists; never changes an existing one.

    An existing repository keeps its own settings: silently flipping
    mutability or encryption of a repository other teams use is not ours to do.
    """
    require_repository(name)
    if settings.encryption not in ENCRYPTIONS:
        raise ValueError(f"encryption must be one of {ENCRYPTIONS}, got {settings.encryption!r}")
    ids = {"registryId": registry_id} if registry_id else {}
    try:
        found = client.describe_repositories(repositoryNames=[name], **ids)["repositories"][0]
    except client.exceptions.RepositoryNotFoundException:
        pass
    else:
        return RepositoryState(
            name=name,
            uri=found["repositoryUri"],
            created=False,
            immutable_tags=found.get("imageTagMutability") in _IMMUTABLE_MODES,
        )
    encryption: dict[str, str] = {"encryptionType": settings.encryption}
    if settings.encryption == "KMS" and settings.kms_key:
        encryption["kmsKey"] = settings.kms_key
    try:
        created = client.create_repository(
            repositoryName=name,
            **_mutability(settings),
            imageScanningConfiguration={"scanOnPush": settings.scan_on_push},
            encryptionConfiguration=encryption,
            tags=[{"Key": "managed-by", "Value": "portable-pipelines"}],
            **ids,
        )["repository"]
    except client.exceptions.RepositoryAlreadyExistsException:
        # Another pipeline created it a moment ago: use it as found.
        return ensure_repository(client, name=name, settings=settings, registry_id=registry_id)
    if settings.lifecycle_policy is not None:
        client.put_lifecycle_policy(
            repositoryName=name, lifecyclePolicyText=settings.lifecycle_policy, **ids
        )
    return RepositoryState(
        name=name,
        uri=created["repositoryUri"],
        created=True,
        immutable_tags=settings.immutable_tags,
    )


@dataclass(frozen=True, kw_only=True)
class TagState:
    repository: str
    tag: str
    exists: bool
    immutable_tags: bool
    # ECR's imageTagMutability as read: MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION...
    mutability: str
    digest: str | None = None


def check_tag_available(
    client: Any, *, repository: str, tag: str, registry_id: str | None = None
) -> TagState:
    """Fail early when ``tag`` is taken in an immutable repository.

    ECR would refuse the push only after the build and the scan; this check
    runs before any of that work. In a mutable repository an existing tag is
    reported (``exists=True``) and left to the caller.
    """
    ids = {"registryId": registry_id} if registry_id else {}
    try:
        found = client.describe_repositories(repositoryNames=[repository], **ids)
    except client.exceptions.RepositoryNotFoundException:
        raise EcrError(
            f"ECR repository {repository!r} does not exist"
            + (f" in registry {registry_id}" if registry_id else ""),
            fix="create it (set `ensure_repository = true` under [publish]) or correct "
            "`repository` in pipelines.toml",
        ) from None
    mutability = str(found["repositories"][0].get("imageTagMutability", "MUTABLE"))
    immutable = mutability in _IMMUTABLE_MODES
    try:
        images = client.describe_images(
            repositoryName=repository, imageIds=[{"imageTag": tag}], **ids
        )["imageDetails"]
    except client.exceptions.ImageNotFoundException:
        return TagState(
            repository=repository,
            tag=tag,
            exists=False,
            immutable_tags=immutable,
            mutability=mutability,
        )
    digest = images[0].get("imageDigest") if images else None
    if immutable:
        raise TagExistsError(
            f"tag {tag!r} already exists in the immutable ECR repository {repository!r}"
            + (f" (digest {digest})" if digest else "")
            + ": the push would be refused",
            fix="this commit was already released; promote the existing digest, or bump "
            "the version for a new build",
        )
    return TagState(
        repository=repository,
        tag=tag,
        exists=True,
        immutable_tags=False,
        mutability=mutability,
        digest=digest,
    )


def existing_digest(
    client: Any, *, repository: str, tag: str, registry_id: str | None = None
) -> str | None:
    """The digest ``tag`` already names in ``repository``, or None."""
    ids = {"registryId": registry_id} if registry_id else {}
    try:
        images = client.describe_images(
            repositoryName=repository, imageIds=[{"imageTag": tag}], **ids
        )["imageDetails"]
    except client.exceptions.ImageNotFoundException:
        return None
    return str(images[0]["imageDigest"]) if images else None
