"""Dev deployment targets: where the dev pipeline runs a branch's test image.

One module per target behind :class:`DevDeployTarget`, and one registry,
:data:`TARGETS`, from the ``[deploy] target`` name to a :class:`TargetKind`:
what the target needs (AWS credentials are required for some, optional for
others) and how to make it from the config and a :class:`DeployEnvironment`
(the call's AWS session, resolved once; a kubectl factory; paths). The caller
(the Dagger module) asks :func:`target_kind` what to prepare, builds the
environment once, and never tests a target's name itself.

Adding a target: a module with a ``make_target(config, env)`` and a ``KIND``,
its table in ``pipelines/config/deploy.py``, and one line in :data:`TARGETS`.
"""

from __future__ import annotations

from pipelines.config.deploy import DeployConfig
from pipelines.deploy_targets import ec2, eks
from pipelines.deploy_targets.base import (
    DeployedApp,
    DeployEnvironment,
    DeployError,
    DevDeployment,
    DevDeployTarget,
    Kubectl,
    KubectlFactory,
    TargetKind,
)

__all__ = [
    "TARGETS",
    "DeployEnvironment",
    "DeployError",
    "DeployedApp",
    "DevDeployTarget",
    "DevDeployment",
    "Kubectl",
    "KubectlFactory",
    "TargetKind",
    "make_target",
    "target_kind",
]

TARGETS: dict[str, TargetKind] = {kind.name: kind for kind in (eks.KIND, ec2.KIND)}


def target_kind(config: DeployConfig) -> TargetKind:
    return TARGETS[config.target]


def make_target(config: DeployConfig, env: DeployEnvironment) -> DevDeployTarget:
    return target_kind(config).make(config, env)
