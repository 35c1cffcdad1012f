"""Amazon ECR helpers: addresses, login, repositories and tag checks.

Every function that talks to AWS takes a boto3 ECR client as a parameter
(typed loosely: boto3 ships no types for 1.44). boto3 is imported only inside
:func:`make_client`, because the Dagger engine imports this module on every
function call and most calls never reach AWS.

The registry password from :func:`registry_credentials` is a live credential:
the caller wraps it into a ``dagger.Secret`` at once. It is kept out of
``repr`` and never logged here.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal

from pipelines.errors import InputError, PipelinesError

REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_REGISTRY = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?$"
)
# ECR's own repository-name pattern, path components separated by '/'.
_REPOSITORY = re.compile(r"^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_REPOSITORY_LENGTH = (2, 256)
ENCRYPTIONS = ("AES256", "KMS")
Encryption = Literal["AES256", "KMS"]

_REGISTRY_EXAMPLE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


class EcrError(PipelinesError):
    """ECR refused, or would refuse, what the pipeline is about to do."""


class TagExistsError(EcrError):
    """The tag is already taken in an immutable repository: the push would fail."""


@dataclass(frozen=True, kw_only=True)
class EcrRegistry:
    account_id: str
    region: str
    host: str

    def repository_uri(self, repository: str) -> str:
        return f"{self.host}/{repository}"


def region_problem(region: str) -> str | None:
    if REGION.match(region):
        return None
    return f"{region!r} is not an AWS region name"


def registry_problem(registry: str) -> str | None:
    match = _REGISTRY.match(registry)
    if match is None:
        hint = ""
        if "://" in registry or "/" in registry:
            hint = " (give the host name only, without scheme or path)"
        return (
            f"{registry!r} is not an ECR registry host <12-digit account>.dkr.ecr.<region>"
            f".amazonaws.com{hint}"
        )
    return region_problem(match["region"])


def repository_problem(repository: str) -> str | None:
    low, high = _REPOSITORY_LENGTH
    if not low <= len(repository) <= high or not _REPOSITORY.match(repository):
        return (
            f"{repository!r} is not an ECR repository name ({low}-{high} characters of "
            "lowercase letters, digits and '.', '_', '-' separators, '/' between parts)"
        )
    return None


def parse_registry(registry: str, *, argument: str = "registry") -> EcrRegistry:
    problem = registry_problem(registry)
    match = _REGISTRY.match(registry)
    if problem is not None or match is None:
        raise InputError(
            argument=argument, problem=problem or "", fix=f"write it like {_REGISTRY_EXAMPLE}"
        )
    return EcrRegistry(account_id=match["account"], region=match["region"], host=registry)


def require_region(region: str, *, argument: str = "region") -> str:
    problem = region_problem(region)
    if problem is not None:
        raise InputError(argument=argument, problem=problem, fix="write it like eu-west-1")
    return region


def require_repository(repository: str, *, argument: str = "repository") -> str:
    problem = repository_problem(repository)
    if problem is not None:
        raise InputError(
            argument=argument,
            problem=problem,
            fix="write it like hello-service or team/hello-service",
        )
    return repository


# --- clients -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class AwsCredentials:
    """Static or temporary keys, read from Dagger Secrets by the caller."""

    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True, kw_only=True)
class WebIdentity:
    """An OIDC token from the CI system, exchanged for a role's credentials."""

    role_arn: str
    token: str = field(repr=False)
    session_name: str = "portable-pipelines"


def assume_web_identity(
    identity: WebIdentity, *, region: str, endpoint_url: str | None = None
) -> AwsCredentials:
    """Exchange a CI's OIDC token for the role's temporary keys (STS)."""
    import boto3

    sts = boto3.session.Session(region_name=require_region(region)).client(
        "sts", endpoint_url=endpoint_url
    )
    assumed = sts.assume_role_with_web_identity(
        RoleArn=identity.role_arn,
        RoleSessionName=identity.session_name,
        WebIdentityToken=identity.token,
    )["Credentials"]
    return AwsCredentials(
        access_key_id=assumed["AccessKeyId"],
        secret_access_key=assumed["SecretAccessKey"],
        session_token=assumed["SessionToken"],
    )


def make_client(
    service: str,
    *,
    region: str,
    credentials: AwsCredentials | WebIdentity | None = None,
    endpoint_url: str | None = None,
) -> Any:
    """A boto3 client for ``service`` (``ecr``, ``ssm``, ``ec2``...).

    ``credentials=None`` uses boto3's default chain (environment, instance
    role). A :class:`WebIdentity` is exchanged with STS first.
    """
    # Imported here: most engine calls never reach AWS, and boto3 is slow to import.
    import boto3

    session = boto3.session.Session(region_name=require_region(region))
    keys: dict[str, str | None] = {}
    if isinstance(credentials, AwsCredentials):
        keys = {
            "aws_access_key_id": credentials.access_key_id,
            "aws_secret_access_key": credentials.secret_access_key,
            "aws_session_token": credentials.session_token,
        }
    elif isinstance(credentials, WebIdentity):
        temporary = assume_web_identity(credentials, region=region, endpoint_url=endpoint_url)
        keys = {
            "aws_access_key_id": temporary.access_key_id,
            "aws_secret_access_key": temporary.secret_access_key,
            "aws_session_token": temporary.session_token,
        }
    return session.client(service, endpoint_url=endpoint_url, **keys)


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
            "ECR returned no authorization data: the caller may lack "
            "ecr:GetAuthorizationToken\n  fix: grant ecr:GetAuthorizationToken to "
            "the role the pipeline uses"
        )
    entry = entries[0]
    try:
        decoded = base64.b64decode(entry["authorizationToken"], validate=True).decode()
    except (KeyError, binascii.Error, UnicodeDecodeError):
        # The token itself stays out of the message.
        raise EcrError(
            "ECR returned an authorization token that is not base64 'user:password'"
            "\n  fix: retry; report it if it persists"
        ) from None
    username, separator, password = decoded.partition(":")
    if not separator or not username or not password:
        raise EcrError(
            "ECR returned an authorization token that is not 'user:password'"
            "\n  fix: retry; report it if it persists"
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
    scan_on_push: bool = True
    encryption: Encryption = "AES256"
    # Alias, key id or ARN; None with KMS means the AWS-managed aws/ecr key.
    kms_key: str | None = None
    lifecycle_policy: str | None = None


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
            immutable_tags=found.get("imageTagMutability") == "IMMUTABLE",
        )
    encryption: dict[str, str] = {"encryptionType": settings.encryption}
    if settings.encryption == "KMS" and settings.kms_key:
        encryption["kmsKey"] = settings.kms_key
    try:
        created = client.create_repository(
            repositoryName=name,
            imageTagMutability="IMMUTABLE" if settings.immutable_tags else "MUTABLE",
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
            + (f" in registry {registry_id}" if registry_id else "")
            + "\n  fix: create it (set `ensure_repository = true` under [publish]) or correct "
            "`repository` in pipelines.toml"
        ) from None
    immutable = found["repositories"][0].get("imageTagMutability") == "IMMUTABLE"
    try:
        images = client.describe_images(
            repositoryName=repository, imageIds=[{"imageTag": tag}], **ids
        )["imageDetails"]
    except client.exceptions.ImageNotFoundException:
        return TagState(repository=repository, tag=tag, exists=False, immutable_tags=immutable)
    digest = images[0].get("imageDigest") if images else None
    if immutable:
        raise TagExistsError(
            f"tag {tag!r} already exists in the immutable ECR repository {repository!r}"
            + (f" (digest {digest})" if digest else "")
            + ": the push would be refused\n  fix: this commit was already released; "
            "promote the existing digest, or bump the version for a new build"
        )
    return TagState(
        repository=repository, tag=tag, exists=True, immutable_tags=False, digest=digest
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
