"""The EKS dev target: one namespace per branch, the dev overlay with the new image.

The pure part lives here: the namespace name, the generated kustomization
(the dev overlay as a base, the namespace, the image pinned to the new
digest), and the kubectl argument lists. Running kubectl is the caller's
job, through the :class:`~pipelines.deploy_targets.base.Kubectl` its
environment makes: the Dagger module runs these argv in a digest-pinned
kubectl container with the kubeconfig mounted as a Secret.

Why a generated kustomization instead of ``kubectl set image`` after
``apply -k``: applying the overlay first would roll out its placeholder image
and then roll again; the generated one applies the right image in one go.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipelines.config.deploy import DeployConfig, EksDeployConfig
from pipelines.deploy_targets.base import (
    DeployDescription,
    DeployedApp,
    DeployEnvironment,
    DeployError,
    DevDeployment,
    Kubectl,
    TargetKind,
)
from pipelines.errors import InputError
from pipelines.images import IMAGES
from pipelines.values import Branch, ImageRef

NAME = "eks"
MAX_NAMESPACE = 63
MANAGED_BY = {"app.kubernetes.io/managed-by": "portable-pipelines"}
BRANCH_LABEL = "portable-pipelines/branch"
# Namespaces a branch name must never resolve to, whatever the prefix.
_PROTECTED = ("default", "kube-system", "kube-public", "kube-node-lease")


def namespace_for(branch: Branch, *, prefix: str) -> str:
    """``dev`` + ``feature/Login`` -> ``dev-feature-login`` (a DNS label, <= 63 chars)."""
    namespace = f"{prefix}-{branch.slug(MAX_NAMESPACE - len(prefix) - 1)}"
    if namespace in _PROTECTED or namespace.startswith("kube-"):
        raise DeployError(
            f"branch {branch.name!r} with namespace prefix {prefix!r} gives the reserved "
            f"namespace {namespace!r}",
            fix="set another `namespace_prefix` under [deploy.eks]",
        )
    return namespace


def dev_url(template: str, *, namespace: str, branch: Branch) -> str:
    # A URL host label is at most 63 characters, like the namespace.
    return template.format(namespace=namespace, branch=branch.slug(MAX_NAMESPACE))


@dataclass(frozen=True, kw_only=True)
class EksPlan:
    namespace: str
    url: str
    # Relative to ``workdir`` -> content; JSON, which kustomize reads as YAML.
    files: Mapping[str, str]
    apply: tuple[str, ...]
    rollout: tuple[str, ...]


def ingress(*, name: str, namespace: str, url: str, ingress_class: str) -> dict[str, object]:
    """Route the dev URL's host to the Service ``name`` (its port named "http")."""
    host = urlsplit(url).hostname
    if not host:
        raise DeployError(f"the dev URL {url!r} has no host to route", fix="correct `url`")
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)},
        "spec": {
            "ingressClassName": ingress_class,
            "rules": [
                {
                    "host": host,
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": name, "port": {"name": "http"}}},
                            }
                        ]
                    },
                }
            ],
        },
    }


def kustomization_files(
    *,
    overlay_dir: str,
    workdir: str,
    namespace: str,
    image_name: str,
    image: ImageRef,
    branch: Branch,
    route: dict[str, object] | None = None,
) -> dict[str, str]:
    """The kustomization that deploys the overlay into ``namespace`` with ``image``.

    ``overlay_dir`` and ``workdir`` are absolute paths as kubectl sees them;
    kustomize only accepts a relative path to a base, so it is computed here.
    """
    for label, path in (("overlay_dir", overlay_dir), ("workdir", workdir)):
        if not posixpath.isabs(path):
            raise ValueError(f"{label} must be an absolute path, got {path!r}")
    override: dict[str, str] = {"name": image_name, "newName": image.name}
    if image.digest:
        override["digest"] = str(image.digest)
    elif image.tag:
        override["newTag"] = image.tag
    labels = {**MANAGED_BY, BRANCH_LABEL: branch.slug(MAX_NAMESPACE)}
    kustomization = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": namespace,
        "resources": [
            "namespace.yaml",
            *(["ingress.yaml"] if route is not None else []),
            posixpath.relpath(overlay_dir, workdir),
        ],
        "images": [override],
    }
    namespace_object = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": namespace, "labels": labels},
    }
    files = {
        "kustomization.yaml": json.dumps(kustomization, indent=2) + "\n",
        "namespace.yaml": json.dumps(namespace_object, indent=2) + "\n",
    }
    if route is not None:
        files["ingress.yaml"] = json.dumps(route, indent=2) + "\n"
    return files


def apply_argv(workdir: str) -> tuple[str, ...]:
    return ("kubectl", "apply", f"--kustomize={workdir}")


def rollout_argv(*, namespace: str, deployment: str, timeout_seconds: int) -> tuple[str, ...]:
    return (
        "kubectl",
        "rollout",
        "status",
        f"deployment/{deployment}",
        f"--namespace={namespace}",
        f"--timeout={timeout_seconds}s",
    )


def delete_namespace_argv(namespace: str, *, timeout_seconds: int = 300) -> tuple[str, ...]:
    # --ignore-not-found: cleaning up a branch that was never deployed is not an error.
    return (
        "kubectl",
        "delete",
        "namespace",
        namespace,
        "--ignore-not-found",
        "--wait=true",
        f"--timeout={timeout_seconds}s",
    )


def plan(
    config: EksDeployConfig, deployment: DevDeployment, *, manifests_dir: str, workdir: str
) -> EksPlan:
    """Everything needed to deploy: ``manifests_dir`` is where overlay paths start, as
    kubectl sees it."""
    namespace = namespace_for(deployment.branch, prefix=config.namespace_prefix)
    url = dev_url(config.url, namespace=namespace, branch=deployment.branch)
    workload = config.deployment or deployment.service
    route = (
        ingress(name=workload, namespace=namespace, url=url, ingress_class=config.ingress_class)
        if config.ingress_class
        else None
    )
    files = kustomization_files(
        overlay_dir=posixpath.join(manifests_dir, config.overlay),
        workdir=workdir,
        namespace=namespace,
        image_name=config.image or deployment.service,
        image=deployment.image,
        branch=deployment.branch,
        route=route,
    )
    return EksPlan(
        namespace=namespace,
        url=url,
        files=files,
        apply=apply_argv(workdir),
        rollout=rollout_argv(
            namespace=namespace,
            deployment=workload,
            timeout_seconds=config.rollout_timeout_seconds,
        ),
    )


@dataclass(frozen=True, kw_only=True)
class EksDevTarget:
    config: EksDeployConfig
    kubectl: Kubectl
    manifests_dir: str = "/src"
    workdir: str = "/work/dev-deploy"

    @property
    def name(self) -> str:
        return NAME

    async def deploy(self, deployment: DevDeployment) -> DeployedApp:
        steps = plan(
            self.config, deployment, manifests_dir=self.manifests_dir, workdir=self.workdir
        )
        await self.kubectl(steps.apply, files=steps.files)
        await self.kubectl(steps.rollout, files={})
        return DeployedApp(target=NAME, url=steps.url, where=f"namespace {steps.namespace}")

    async def cleanup(self, branch: Branch, *, service: str) -> None:  # noqa: ARG002 - one namespace per branch holds every service.
        namespace = namespace_for(branch, prefix=self.config.namespace_prefix)
        await self.kubectl(
            delete_namespace_argv(namespace, timeout_seconds=self.config.rollout_timeout_seconds),
            files={},
        )


def make_target(config: DeployConfig, env: DeployEnvironment) -> EksDevTarget:
    """The EKS target; it needs a kubeconfig, and passes the call's AWS keys to kubectl."""
    if config.eks is None:  # pragma: no cover - parse_deploy requires the table
        raise ValueError("[deploy.eks] is missing; parse_deploy requires it")
    if env.kubectl is None:
        raise InputError(
            argument="kubeconfig",
            problem='[deploy] target "eks" needs a kubeconfig of the dev cluster, and none '
            "was given",
            fix="pass --kubeconfig=file://$HOME/.kube/config (or env://KUBECONFIG_DATA)",
        )
    return EksDevTarget(
        config=config.eks,
        kubectl=env.kubectl(env.aws),
        manifests_dir=env.manifests_dir,
        workdir=env.workdir,
    )


def describe(config: DeployConfig, service: str, branch: Branch | None) -> DeployDescription:
    """The namespace, URL and kubectl argv of a deploy (placeholders without a branch)."""
    if config.eks is None:  # pragma: no cover - parse_deploy requires the table
        raise ValueError("[deploy.eks] is missing; parse_deploy requires it")
    eks = config.eks
    if branch is not None:
        namespace = namespace_for(branch, prefix=eks.namespace_prefix)
        url = dev_url(eks.url, namespace=namespace, branch=branch)
    else:
        namespace = f"{eks.namespace_prefix}-<branch-slug>"
        url = eks.url.format(namespace=namespace, branch="<branch-slug>")
    rollout = rollout_argv(
        namespace=namespace,
        deployment=eks.deployment or service,
        timeout_seconds=eks.rollout_timeout_seconds,
    )
    return DeployDescription(
        where=f"EKS cluster {eks.cluster} ({eks.region}), namespace {namespace}",
        runs_in=f"kubectl ({IMAGES['kubectl']}), the dev overlay {eks.overlay} with the new image",
        commands=(apply_argv(DeployEnvironment().workdir), rollout),
        url=url,
    )


KIND = TargetKind(name=NAME, needs_aws=False, make=make_target, describe=describe)
