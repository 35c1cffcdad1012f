"""What every dev deployment target shares: request, result, environment, Protocol."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from pipelines.aws.session import AwsSession
from pipelines.config.deploy import DeployConfig
from pipelines.errors import PipelinesError
from pipelines.values import Branch, ImageRef

# Returns True when the URL answers healthy.
HttpCheck = Callable[[str], Awaitable[bool]]
Sleep = Callable[[float], Awaitable[None]]


class DeployError(PipelinesError):
    """The dev deployment did not come up; the message says where it stopped."""


@dataclass(frozen=True, kw_only=True)
class DevDeployment:
    """Deploy ``image`` (built from ``branch``) of ``service``."""

    image: ImageRef
    branch: Branch
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

    async def cleanup(self, branch: Branch, *, service: str) -> None: ...


class Kubectl(Protocol):
    """Runs one kubectl argv with ``files`` written under the work directory first."""

    async def __call__(self, argv: Sequence[str], *, files: Mapping[str, str]) -> str: ...


# Builds the kubectl a target runs; given the call's AWS session for kubeconfigs
# that call `aws eks get-token`.
KubectlFactory = Callable[[AwsSession | None], Kubectl]


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


@dataclass(frozen=True, kw_only=True)
class DeployEnvironment:
    """What a target may use, built by the caller once per call."""

    # The call's AWS session, resolved once (None: no AWS credentials were given).
    aws: AwsSession | None = None
    # None when no kubeconfig was given.
    kubectl: KubectlFactory | None = field(default=None, repr=False)
    # Where kubectl sees the directory the overlay paths start from, and
    # where the generated kustomization is written.
    manifests_dir: str = "/src"
    workdir: str = "/work/dev-deploy"
    http_check: HttpCheck = field(default=default_http_check, repr=False)


@dataclass(frozen=True, kw_only=True)
class DeployDescription:
    """What a deploy would do, for ``portable-pipelines plan``: where, and the argv it runs."""

    where: str
    # Where the commands run (an image), or how the target runs its work.
    runs_in: str
    commands: tuple[tuple[str, ...], ...] = ()
    # The URL the suites after the deploy test (with placeholders when no branch is known).
    url: str | None = None


@dataclass(frozen=True, kw_only=True)
class TargetKind:
    """One entry of the target registry: its name, what it needs, how to make it,
    and how to describe a deploy without making one."""

    name: str
    # True when the call must resolve AWS credentials for it (else they are optional).
    needs_aws: bool
    make: Callable[[DeployConfig, DeployEnvironment], DevDeployTarget]
    describe: Callable[[DeployConfig, str, Branch | None], DeployDescription]
