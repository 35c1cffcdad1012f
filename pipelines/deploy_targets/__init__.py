"""Dev deployment targets: where the dev pipeline runs a branch's test image.

One module per target behind :class:`DevDeployTarget`; :data:`TARGETS`
maps the ``[deploy] target`` name to a factory. Each factory takes the same
:class:`TargetDependencies` and says which of them it needs, so the caller
(the Dagger module) only has to build what the configured target uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipelines.config.deploy import DeployConfig
from pipelines.deploy_targets.base import (
    DeployedApp,
    DeployError,
    DevDeployment,
    DevDeployTarget,
    HttpCheck,
    ImageRef,
    default_http_check,
    parse_image_ref,
)
from pipelines.deploy_targets.ec2 import Ec2DevTarget
from pipelines.deploy_targets.eks import EksDevTarget, KubectlRunner

__all__ = [
    "TARGETS",
    "DeployError",
    "DeployedApp",
    "DevDeployTarget",
    "DevDeployment",
    "Ec2DevTarget",
    "EksDevTarget",
    "ImageRef",
    "KubectlRunner",
    "TargetDependencies",
    "make_target",
    "parse_image_ref",
]


@dataclass(frozen=True, kw_only=True)
class TargetDependencies:
    # EKS: runs kubectl (in the Dagger module: a pinned kubectl container).
    kubectl: KubectlRunner | None = None
    # EC2: boto3 clients, e.g. AwsSession.client("ssm", region=...).
    ssm: Any = None
    ec2: Any = None
    http_check: HttpCheck = default_http_check


def _missing(target: str, what: str) -> DeployError:
    return DeployError(
        f"the {target} dev target needs {what}, and none was given"
        "\n  fix: the caller must build it for this target (a bug in the caller)"
    )


def _eks(config: DeployConfig, deps: TargetDependencies) -> DevDeployTarget:
    if config.eks is None:
        raise _missing("eks", "a [deploy.eks] table")
    if deps.kubectl is None:
        raise _missing("eks", "a kubectl runner")
    return EksDevTarget(config=config.eks, kubectl=deps.kubectl)


def _ec2(config: DeployConfig, deps: TargetDependencies) -> DevDeployTarget:
    if config.ec2 is None:
        raise _missing("ec2", "a [deploy.ec2] table")
    if deps.ssm is None or deps.ec2 is None:
        raise _missing("ec2", "SSM and EC2 clients")
    return Ec2DevTarget(config=config.ec2, ssm=deps.ssm, ec2=deps.ec2, http_check=deps.http_check)


TARGETS: dict[str, Callable[[DeployConfig, TargetDependencies], DevDeployTarget]] = {
    "eks": _eks,
    "ec2": _ec2,
}


def make_target(config: DeployConfig, deps: TargetDependencies) -> DevDeployTarget:
    return TARGETS[config.target](config, deps)
