"""The EKS dev target's pure part: namespace, kustomization, kubectl argv."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import pytest

from pipelines.config.deploy import DeployConfig, EksDeployConfig
from pipelines.deploy_targets import (
    DeployError,
    DevDeployment,
    EksDevTarget,
    TargetDependencies,
    make_target,
    parse_image_ref,
)
from pipelines.deploy_targets.eks import (
    delete_namespace_argv,
    kustomization_files,
    namespace_for,
    plan,
    rollout_argv,
)
from pipelines.errors import InputError

DIGEST = "sha256:" + "d" * 64
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service-test@{DIGEST}"
CONFIG = EksDeployConfig(
    region="eu-west-1", cluster="dev", url="https://{namespace}.dev.example.com"
)
DEPLOYMENT = DevDeployment(
    image=IMAGE, branch="feature/ABC-12 Login", service="hello-service", port=8080
)
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class RecordingKubectl:
    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], dict[str, str]]] = []

    async def __call__(self, argv: Sequence[str], *, files: Mapping[str, str]) -> str:
        self.calls.append((tuple(argv), dict(files)))
        return ""


def test_namespace_per_branch() -> None:
    assert namespace_for("feature/ABC-12 Login", prefix="dev") == "dev-feature-abc-12-login"


@pytest.mark.parametrize("branch", ["x" * 300, "feature/" + "very-long-name-" * 10])
def test_namespace_is_always_a_dns_label(branch: str) -> None:
    namespace = namespace_for(branch, prefix="hello-service-dev")
    assert len(namespace) <= 63
    assert DNS_LABEL.match(namespace)


def test_a_branch_that_slugs_to_nothing_is_refused() -> None:
    with pytest.raises(InputError, match="no letters or digits"):
        namespace_for("///", prefix="dev")


@pytest.mark.parametrize(("prefix", "branch"), [("kube", "system"), ("kube", "anything")])
def test_reserved_namespaces_are_refused(prefix: str, branch: str) -> None:
    with pytest.raises(DeployError, match="reserved namespace"):
        namespace_for(branch, prefix=prefix)


def test_image_refs() -> None:
    ref = parse_image_ref(IMAGE)
    assert (ref.name, ref.tag, ref.digest) == (IMAGE.removesuffix("@" + DIGEST), None, DIGEST)
    assert ref.registry == "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    tagged = parse_image_ref("localhost:5000/team/app:main-1a2b3c4")
    assert (tagged.name, tagged.tag) == ("localhost:5000/team/app", "main-1a2b3c4")
    assert str(parse_image_ref(f"r.io/a:t@{DIGEST}")) == f"r.io/a:t@{DIGEST}"


@pytest.mark.parametrize("ref", ["hello-service", "r.io/app", "r.io/App:1", "r.io/a@sha256:12"])
def test_bad_image_refs(ref: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_image_ref(ref)
    assert caught.value.argument == "image"


def test_kustomization_pins_the_image_by_digest_into_the_namespace() -> None:
    files = kustomization_files(
        overlay_dir="/src/deploy/overlays/dev",
        workdir="/work/dev-deploy",
        namespace="dev-feature-x",
        image_name="hello-service",
        image=IMAGE,
        branch="feature/x",
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
        "portable-pipelines/branch": "feature-x",
    }


def test_kustomization_with_a_tag_only() -> None:
    files = kustomization_files(
        overlay_dir="/src/o",
        workdir="/src/gen",
        namespace="n",
        image_name="app",
        image="r.io/app:main-1a2b3c4",
        branch="b",
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
            branch="b",
        )


def test_plan_uses_config_and_service_defaults() -> None:
    steps = plan(CONFIG, DEPLOYMENT, source_dir="/src", workdir="/work/gen")
    assert steps.namespace == "dev-feature-abc-12-login"
    assert steps.url == "https://dev-feature-abc-12-login.dev.example.com"
    assert steps.apply == ("kubectl", "apply", "--kustomize=/work/gen")
    assert steps.rollout == (
        "kubectl",
        "rollout",
        "status",
        "deployment/hello-service",
        "--namespace=dev-feature-abc-12-login",
        "--timeout=300s",
    )
    assert json.loads(steps.files["kustomization.yaml"])["resources"][1] == (
        "../../src/deploy/overlays/dev"
    )


def test_plan_with_explicit_names() -> None:
    config = EksDeployConfig(
        region="eu-west-1",
        cluster="dev",
        url="https://{branch}.example.com",
        deployment="web",
        image="placeholder",
        namespace_prefix="hello",
        rollout_timeout_seconds=90,
        overlay="k8s/dev",
    )
    steps = plan(config, DEPLOYMENT, source_dir="/src", workdir="/src/.gen")
    assert steps.url == "https://feature-abc-12-login.example.com"
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


async def test_target_applies_then_waits_for_rollout() -> None:
    kubectl = RecordingKubectl()
    target = make_target(
        DeployConfig(target="eks", eks=CONFIG), TargetDependencies(kubectl=kubectl)
    )
    assert isinstance(target, EksDevTarget)
    app = await target.deploy(DEPLOYMENT)
    assert app.url == "https://dev-feature-abc-12-login.dev.example.com"
    assert app.where == "namespace dev-feature-abc-12-login"
    (apply, apply_files), (rollout, rollout_files) = kubectl.calls
    assert apply[:2] == ("kubectl", "apply")
    assert set(apply_files) == {"kustomization.yaml", "namespace.yaml"}
    assert rollout[:3] == ("kubectl", "rollout", "status")
    assert rollout_files == {}


async def test_cleanup_deletes_the_branch_namespace() -> None:
    kubectl = RecordingKubectl()
    await EksDevTarget(config=CONFIG, kubectl=kubectl).cleanup("feature/x", service="hello")
    ((argv, _),) = kubectl.calls
    assert argv[:4] == ("kubectl", "delete", "namespace", "dev-feature-x")


def test_registry_needs_a_kubectl_runner() -> None:
    with pytest.raises(DeployError, match="needs a kubectl runner"):
        make_target(DeployConfig(target="eks", eks=CONFIG), TargetDependencies())


def test_a_long_branch_still_makes_a_valid_host_label() -> None:
    from pipelines.deploy_targets.eks import dev_url

    url = dev_url(
        "https://{branch}.dev.example.com", namespace="dev-x", branch="feature/" + "x" * 200
    )
    label = url.removeprefix("https://").split(".")[0]
    assert 0 < len(label) <= 63


def test_an_ingress_class_adds_a_route_for_the_dev_url() -> None:
    import json as _json

    from pipelines.config.deploy import EksDeployConfig
    from pipelines.deploy_targets import DevDeployment
    from pipelines.deploy_targets.eks import plan

    deployment = DevDeployment(
        image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/app@sha256:" + "c" * 64,
        branch="feature/x",
        service="app",
        port=8080,
    )
    settings = EksDeployConfig(
        region="eu-west-1", cluster="dev", url="https://{namespace}.dev.example.com"
    )
    without = plan(settings, deployment, source_dir="/src", workdir="/work")
    assert "ingress.yaml" not in without.files
    routed = plan(
        EksDeployConfig(
            region="eu-west-1",
            cluster="dev",
            url="https://{namespace}.dev.example.com",
            ingress_class="nginx",
        ),
        deployment,
        source_dir="/src",
        workdir="/work",
    )
    route = _json.loads(routed.files["ingress.yaml"])
    assert route["spec"]["ingressClassName"] == "nginx"
    assert route["spec"]["rules"][0]["host"] == "dev-feature-x.dev.example.com"
    assert route["metadata"]["namespace"] == routed.namespace
    assert "ingress.yaml" in _json.loads(routed.files["kustomization.yaml"])["resources"]
