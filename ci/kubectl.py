"""kubectl for the EKS dev target: the core's argv, run in the pinned kubectl image."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import dagger
from dagger import dag

from ci.credentials import aws_env
from pipelines.aws.session import AwsSession
from pipelines.deploy_targets import DeployEnvironment, Kubectl, KubectlFactory
from pipelines.images import IMAGES

KUBECONFIG = "/root/.kube/config"
# Where the manifests directory is mounted, and where generated files go.
MANIFESTS = "/src"
WORKDIR = "/work/dev-deploy"


@dataclass(frozen=True, kw_only=True)
class DaggerKubectl:
    """Runs kubectl argv in the pinned kubectl image (the core's ``Kubectl``).

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


def kubectl_factory(
    manifests: dagger.Directory, kubeconfig: dagger.Secret, *, run_stamp: str
) -> KubectlFactory:
    def make(aws: AwsSession | None) -> Kubectl:
        return DaggerKubectl(
            manifests=manifests, kubeconfig=kubeconfig, aws_env=aws_env(aws), run_stamp=run_stamp
        )

    return make


def environment(
    *,
    aws: AwsSession | None,
    manifests: dagger.Directory,
    kubeconfig: dagger.Secret | None,
    run_stamp: str,
) -> DeployEnvironment:
    """The dev targets' environment for one call: its AWS session and its kubectl."""
    factory = kubectl_factory(manifests, kubeconfig, run_stamp=run_stamp) if kubeconfig else None
    return DeployEnvironment(aws=aws, kubectl=factory, manifests_dir=MANIFESTS, workdir=WORKDIR)
