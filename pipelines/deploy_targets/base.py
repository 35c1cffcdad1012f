"""What every dev deployment target shares: the request, the result, the Protocol."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from pipelines.errors import InputError, PipelinesError

# host[:port]/path[:tag][@sha256:digest]
_IMAGE_REF = re.compile(
    r"^(?P<name>[a-z0-9]+(?:[.-][a-z0-9]+)*(?::\d+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)+)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?$"
)

# Returns True when the URL answers healthy.
HttpCheck = Callable[[str], Awaitable[bool]]
Sleep = Callable[[float], Awaitable[None]]


class DeployError(PipelinesError):
    """The dev deployment did not come up; the message says where it stopped."""


@dataclass(frozen=True, kw_only=True)
class ImageRef:
    name: str  # registry host and repository
    tag: str | None = None
    digest: str | None = None

    @property
    def registry(self) -> str:
        return self.name.split("/", 1)[0]

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.name}{tag}{digest}"


def parse_image_ref(ref: str, *, argument: str = "image") -> ImageRef:
    """A fully qualified image reference with a tag, a digest, or both."""
    match = _IMAGE_REF.match(ref)
    if match is None or not (match["tag"] or match["digest"]):
        raise InputError(
            argument=argument,
            problem=f"{ref!r} is not a registry/repository reference with a tag or digest",
            fix="pass what publish printed, e.g. "
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service-test@sha256:<64 hex>",
        )
    return ImageRef(name=match["name"], tag=match["tag"], digest=match["digest"])


@dataclass(frozen=True, kw_only=True)
class DevDeployment:
    """Deploy ``image`` (built from ``branch``) of ``service``."""

    image: str
    branch: str
    service: str
    port: int
    health_path: str = "/healthz"


@dataclass(frozen=True, kw_only=True)
class DeployedApp:
    target: str
    url: str
    # Where it runs, for the summary: "namespace dev-feature-x" or "i-0ab, i-0cd".
    where: str


class DevDeployTarget(Protocol):
    @property
    def name(self) -> str: ...

    async def deploy(self, deployment: DevDeployment) -> DeployedApp: ...

    async def cleanup(self, branch: str, *, service: str) -> None: ...


async def default_http_check(url: str) -> bool:
    """True when ``url`` answers 2xx within five seconds."""
    # Imported here: most engine calls never deploy.
    import httpx

    try:
        async with httpx.AsyncClient(timeout=5.0, follow_redirects=True) as client:
            response = await client.get(url)
    except httpx.HTTPError:
        return False
    return response.is_success
