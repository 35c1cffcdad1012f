"""AWS names: ECR registry hosts and repository names, checked before any call.

Region names are a value type of their own (:class:`pipelines.values.AwsRegion`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.errors import InputError
from pipelines.values import region_problem

_REGISTRY = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(\.cn)?"
)
# ECR's own repository-name pattern, path components separated by '/'.
_REPOSITORY = re.compile(r"(?:[a-z0-9]+(?:[._-][a-z0-9]+)*/)*[a-z0-9]+(?:[._-][a-z0-9]+)*")
_REPOSITORY_LENGTH = (2, 256)

REGISTRY_EXAMPLE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


@dataclass(frozen=True, kw_only=True)
class EcrRegistry:
    account_id: str
    region: str
    host: str

    def repository_uri(self, repository: str) -> str:
        return f"{self.host}/{repository}"


def registry_problem(registry: str) -> str | None:
    match = _REGISTRY.fullmatch(registry)
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
    if not low <= len(repository) <= high or not _REPOSITORY.fullmatch(repository):
        return (
            f"{repository!r} is not an ECR repository name ({low}-{high} characters of "
            "lowercase letters, digits and '.', '_', '-' separators, '/' between parts)"
        )
    return None


def parse_registry(registry: str, *, argument: str = "registry") -> EcrRegistry:
    problem = registry_problem(registry)
    match = _REGISTRY.fullmatch(registry)
    if problem is not None or match is None:
        raise InputError(
            argument=argument, problem=problem or "", fix=f"write it like {REGISTRY_EXAMPLE}"
        )
    return EcrRegistry(account_id=match["account"], region=match["region"], host=registry)


def require_repository(repository: str, *, argument: str = "repository") -> str:
    problem = repository_problem(repository)
    if problem is not None:
        raise InputError(
            argument=argument,
            problem=problem,
            fix="write it like hello-service or team/hello-service",
        )
    return repository
