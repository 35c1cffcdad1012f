"""The dev deployment: the core's targets, wired to Dagger (kubectl) or boto3 (EC2)."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagger
from dagger import dag

from ci.images import IMAGES
from pipelines.aws.session import AwsSession
from pipelines.config import ConfigError, DeployConfig, PipelineConfig
from pipelines.deploy_targets import DevDeployTarget, TargetDependencies, make_target
from pipelines.deploy_targets.eks import EksDevTarget
from pipelines.values import AwsRegion

KUBECONFIG = "/root/.kube/config"
MANIFESTS = "/src"
WORKDIR = "/work/dev-deploy"


def deploy_settings(config: PipelineConfig) -> DeployConfig:
    if config.deploy is None:
        raise ConfigError(
            file="pipelines.toml",
            key="deploy",
            problem="no [deploy] table: there is no dev infrastructure to deploy to",
            fix='add [deploy] with `target = "eks"` and a [deploy.eks] table '
            "(see docs/configuration.md)",
        )
    return config.deploy


@dataclass(frozen=True, kw_only=True)
class DaggerKubectl:
    """Runs kubectl argv in the pinned kubectl image, as the core's KubectlRunner.

    The kubeconfig is mounted as a secret file; AWS keys (for kubeconfigs that
    call `aws eks get-token`) arrive as secret variables. ``run_stamp`` makes
    every call a new exec: a replayed `kubectl apply` from cache would deploy
    nothing and report success.
    """

    manifests: dagger.Directory
    kubeconfig: dagger.Secret
    aws_env: Mapping[str, dagger.Secret]
    run_stamp: str

    def container(self) -> dagger.Container:
        ctr = (
            dag.container()
            .from_(IMAGES["kubectl"])
            .with_mounted_secret(KUBECONFIG, self.kubeconfig)
            .with_env_variable("KUBECONFIG", KUBECONFIG)
            .with_directory(MANIFESTS, self.manifests)
            .with_env_variable("PIPELINE_RUN", self.run_stamp)
        )
        for name, secret in sorted(self.aws_env.items()):
            ctr = ctr.with_secret_variable(name, secret)
        return ctr

    def command(self, argv: Sequence[str], files: Mapping[str, str]) -> dagger.Container:
        ctr = self.container()
        for name, content in sorted(files.items()):
            ctr = ctr.with_new_file(posixpath.join(WORKDIR, name), content)
        return ctr.with_exec(list(argv))

    async def __call__(self, argv: Sequence[str], *, files: Mapping[str, str]) -> str:
        return await self.command(argv, files).stdout()


async def target(
    config: PipelineConfig,
    *,
    manifests: dagger.Directory,
    kubeconfig: dagger.Secret | None,
    aws_env: Mapping[str, dagger.Secret],
    session: AwsSession | None,
    run_stamp: str,
) -> DevDeployTarget:
    """The configured target with what it needs; a clear error when that is missing."""
    settings = deploy_settings(config)
    if settings.target == "eks":
        if kubeconfig is None:
            raise ConfigError(
                file="pipelines.toml",
                key="deploy.target",
                problem='the "eks" dev target needs a kubeconfig, and none was given',
                fix="pass --kubeconfig=file://$HOME/.kube/config (or env://KUBECONFIG_DATA)",
            )
        if settings.eks is None:  # pragma: no cover - parse_deploy requires the table
            raise ConfigError(
                file="pipelines.toml",
                key="deploy.eks",
                problem="missing",
                fix="add a [deploy.eks] table",
            )
        runner = DaggerKubectl(
            manifests=manifests, kubeconfig=kubeconfig, aws_env=aws_env, run_stamp=run_stamp
        )
        return EksDevTarget(
            config=settings.eks, kubectl=runner, source_dir=MANIFESTS, workdir=WORKDIR
        )
    if settings.ec2 is None:  # pragma: no cover - parse_deploy requires the table
        raise ConfigError(
            file="pipelines.toml", key="deploy.ec2", problem="missing", fix="add [deploy.ec2]"
        )
    if session is None:
        raise ValueError("the ec2 dev target needs an AWS session")
    region = AwsRegion(settings.ec2.region)
    return make_target(
        settings,
        TargetDependencies(
            ssm=session.client("ssm", region=region), ec2=session.client("ec2", region=region)
        ),
    )
