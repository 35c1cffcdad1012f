"""The EKS dev target's pure part: namespace, kustomization, kubectl argv."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import pytest

from pipelines.aws.session import AwsSession
from pipelines.config.deploy import DeployConfig, EksDeployConfig
from pipelines.deploy_targets import (
    TARGETS,
    DeployEnvironment,
    DeployError,
    DevDeployment,
    Kubectl,
    make_target,
    target_kind,
)
from pipelines.deploy_targets.eks import (
    EksDevTarget,
    delete_namespace_argv,
    dev_url,
    kustomization_files,
    namespace_for,
    plan,
    rollout_argv,
)
from pipelines.errors import InputError
from pipelines.values import AwsRegion, Branch, ImageRef

DIGEST = "sha256:" + "d" * 64
IMAGE = ImageRef.parse(f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service-test@{DIGEST}")
REGION = AwsRegion("eu-west-1")
CONFIG = EksDeployConfig(region=REGION, cluster="dev", url="https://{namespace}.dev.example.com")
DEPLOYMENT = DevDeployment(
    image=IMAGE, branch=Branch.parse("feature/ABC-12_Login"), service="hello-service", port=8080
)
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class RecordingKubectl:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], dict[str, str]]] = []

    async def __call__(self, argv: Sequence[str], *, files: Mapping[str, str]) -> str:
        self.calls.append((tuple(argv), dict(files)))
        return ""


def test_namespace_per_branch() -> None:
    namespace = namespace_for(Branch.parse("feature/ABC-12_Login"), prefix="dev")
    assert namespace == "dev-feature-abc-12-login-f204f4d7f4"


@pytest.mark.parametrize("branch", ["x" * 300, "feature/" + "very-long-name-" * 10])
def test_namespace_is_always_a_dns_label(branch: str) -> None:
    namespace = namespace_for(Branch.parse(branch), prefix="hello-service-dev")
    assert len(namespace) <= 63
    assert DNS_LABEL.match(namespace)


@pytest.mark.parametrize(("prefix", "branch"), [("kube", "system"), ("kube", "anything")])
def test_reserved_namespaces_are_refused(prefix: str, branch: str) -> None:
    with pytest.raises(DeployError, match="reserved namespace"):
        namespace_for(Branch.parse(branch), prefix=prefix)


@pytest.mark.parametrize("ref", ["hello-service", "r.io/app", "r.io/App:1", "r.io/a@sha256:12"])
def test_an_image_the_target_cannot_pin_is_refused_where_it_is_parsed(ref: str) -> None:
    with pytest.raises(InputError) as caught:
        ImageRef.parse(ref)
    assert caught.value.argument == "image"


def test_kustomization_pins_the_image_by_digest_into_the_namespace() -> None:
    files = kustomization_files(
        overlay_dir="/src/deploy/overlays/dev",
        workdir="/work/dev-deploy",
        namespace="dev-feature-x",
        image_name="hello-service",
        image=IMAGE,
        branch=Branch.parse("feature/x"),
    )
    kustomization = json.loads(files["kustomization.yaml"])
    assert kustomization["namespace"] == "dev-feature-x"
    # kustomize accepts only a relative path to a base.
    assert kustomization["resources"] == ["namespace.yaml", "../../src/deploy/overlays/dev"]
    assert kustomization["images"] == [
        {
            "name": "hello-service",
            "newName": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service-test",
            "digest": DIGEST,
        }
    ]
    namespace = json.loads(files["namespace.yaml"])
    assert namespace["metadata"]["name"] == "dev-feature-x"
    assert namespace["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "portable-pipelines",
        "portable-pipelines/branch": "feature-x-217d2bf51f",
    }


def test_kustomization_with_a_tag_only() -> None:
    files = kustomization_files(
        overlay_dir="/src/o",
        workdir="/src/gen",
        namespace="n",
        image_name="app",
        image=ImageRef.parse("r.io/app:main-1a2b3c4"),
        branch=Branch.parse("b"),
    )
    (override,) = json.loads(files["kustomization.yaml"])["images"]
    assert override == {"name": "app", "newName": "r.io/app", "newTag": "main-1a2b3c4"}


def test_kustomization_needs_absolute_paths() -> None:
    with pytest.raises(ValueError, match="absolute"):
        kustomization_files(
            overlay_dir="deploy/overlays/dev",
            workdir="/w",
            namespace="n",
            image_name="a",
            image=IMAGE,
            branch=Branch.parse("b"),
        )


def test_plan_uses_config_and_service_defaults() -> None:
    steps = plan(CONFIG, DEPLOYMENT, manifests_dir="/src", workdir="/work/gen")
    assert steps.namespace == "dev-feature-abc-12-login-f204f4d7f4"
    assert steps.url == "https://dev-feature-abc-12-login-f204f4d7f4.dev.example.com"
    assert steps.apply == ("kubectl", "apply", "--kustomize=/work/gen")
    assert steps.rollout == (
        "kubectl",
        "rollout",
        "status",
        "deployment/hello-service",
        "--namespace=dev-feature-abc-12-login-f204f4d7f4",
        "--timeout=300s",
    )
    assert json.loads(steps.files["kustomization.yaml"])["resources"][1] == (
        "../../src/deploy/overlays/dev"
    )


def test_plan_with_explicit_names() -> None:
    config = EksDeployConfig(
        region=REGION,
        cluster="dev",
        url="https://{branch}.example.com",
        deployment="web",
        image="placeholder",
        namespace_prefix="hello",
        rollout_timeout_seconds=90,
        overlay="k8s/dev",
    )
    steps = plan(config, DEPLOYMENT, manifests_dir="/src", workdir="/src/.gen")
    assert steps.url == "https://feature-abc-12-login-f204f4d7f4.example.com"
    assert steps.rollout[3] == "deployment/web"
    assert steps.rollout[-1] == "--timeout=90s"
    kustomization = json.loads(steps.files["kustomization.yaml"])
    assert kustomization["images"][0]["name"] == "placeholder"
    assert kustomization["resources"][1] == "../k8s/dev"


def test_argv_for_rollout_and_delete() -> None:
    assert rollout_argv(namespace="n", deployment="d", timeout_seconds=5)[-1] == "--timeout=5s"
    assert delete_namespace_argv("dev-x") == (
        "kubectl",
        "delete",
        "namespace",
        "dev-x",
        "--ignore-not-found",
        "--wait=true",
        "--timeout=300s",
    )


def environment(kubectl: Kubectl, *, aws: AwsSession | None = None) -> DeployEnvironment:

    def factory(session: AwsSession | None) -> Kubectl:
        return kubectl

    return DeployEnvironment(aws=aws, kubectl=factory)


async def test_target_applies_then_waits_for_rollout() -> None:
    kubectl = RecordingKubectl()
    target = make_target(DeployConfig(target="eks", eks=CONFIG), environment(kubectl))
    assert isinstance(target, EksDevTarget)
    app = await target.deploy(DEPLOYMENT)
    assert app.url == "https://dev-feature-abc-12-login-f204f4d7f4.dev.example.com"
    assert app.where == "namespace dev-feature-abc-12-login-f204f4d7f4"
    (apply, apply_files), (rollout, rollout_files) = kubectl.calls
    assert apply[:2] == ("kubectl", "apply")
    assert set(apply_files) == {"kustomization.yaml", "namespace.yaml"}
    assert rollout[:3] == ("kubectl", "rollout", "status")
    assert rollout_files == {}


async def test_cleanup_deletes_the_branch_namespace() -> None:
    kubectl = RecordingKubectl()
    target = EksDevTarget(config=CONFIG, kubectl=kubectl)
    await target.cleanup(Branch.parse("feature/x"), service="hello")
    ((argv, _),) = kubectl.calls
    assert argv[:4] == ("kubectl", "delete", "namespace", "dev-feature-x-217d2bf51f")


def test_without_a_kubeconfig_the_eks_target_says_how_to_pass_one() -> None:
    with pytest.raises(InputError, match="needs a kubeconfig") as caught:
        make_target(DeployConfig(target="eks", eks=CONFIG), DeployEnvironment())
    assert caught.value.argument == "kubeconfig"


def test_the_eks_target_hands_the_calls_aws_session_to_kubectl() -> None:
    """Its kubeconfig may call `aws eks get-token`: the call's keys go to kubectl."""
    session = AwsSession()
    seen: list[AwsSession | None] = []

    def factory(aws: AwsSession | None) -> Kubectl:
        seen.append(aws)
        return RecordingKubectl()

    env = DeployEnvironment(aws=session, kubectl=factory, manifests_dir="/m", workdir="/w")
    target = make_target(DeployConfig(target="eks", eks=CONFIG), env)
    assert seen == [session]
    assert isinstance(target, EksDevTarget)
    assert (target.manifests_dir, target.workdir) == ("/m", "/w")


def test_one_registry_knows_what_each_target_needs() -> None:
    from pipelines.config.deploy import TARGETS as CONFIGURED

    assert set(TARGETS) == set(CONFIGURED)
    assert target_kind(DeployConfig(target="eks", eks=CONFIG)).needs_aws is False
    assert TARGETS["ec2"].needs_aws is True


def test_a_long_branch_still_makes_a_valid_host_label() -> None:
    url = dev_url(
        "https://{branch}.dev.example.com",
        namespace="dev-x",
        branch=Branch.parse("feature/" + "x" * 200),
    )
    label = url.removeprefix("https://").split(".")[0]
    assert 0 < len(label) <= 63


def test_an_ingress_class_adds_a_route_for_the_dev_url() -> None:
    deployment = DevDeployment(
        image=ImageRef.parse("123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + "c" * 64),
        branch=Branch.parse("feature/x"),
        service="app",
        port=8080,
    )
    settings = EksDeployConfig(
        region=REGION, cluster="dev", url="https://{namespace}.dev.example.com"
    )
    without = plan(settings, deployment, manifests_dir="/src", workdir="/work")
    assert "ingress.yaml" not in without.files
    routed = plan(
        EksDeployConfig(
            region=REGION,
            cluster="dev",
            url="https://{namespace}.dev.example.com",
            ingress_class="nginx",
        ),
        deployment,
        manifests_dir="/src",
        workdir="/work",
    )
    route = json.loads(routed.files["ingress.yaml"])
    assert route["spec"]["ingressClassName"] == "nginx"
    assert route["spec"]["rules"][0]["host"] == "dev-feature-x-217d2bf51f.dev.example.com"
    assert route["metadata"]["namespace"] == routed.namespace
    assert "ingress.yaml" in json.loads(routed.files["kustomization.yaml"])["resources"]
