"""Two versions side by side: the documented edit runs a candidate next to the current one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pipelines_cli.deploy_checks import (
    CANDIDATE_ANNOTATION,
    Document,
    check_images,
    check_tree,
    check_workloads,
    find,
    kustomize_build,
)
from tests.conftest import ROOT
from tests.deploy_trees import REPOSITORY, copy_tree, reference_service, replace_once

pytestmark = pytest.mark.tools

SERVICE = reference_service()
CANDIDATE_DIGEST = "sha256:" + "c4" * 32


def start_experiment(tree: Path, environment: str, *, pin_candidate: bool = True) -> None:
    """The edit of docs/deployment.md, "Two versions side by side"."""
    kustomization = tree / "overlays" / environment / "kustomization.yaml"
    replace_once(
        kustomization,
        "  - ../../components/canary\n",
        "  - ../../components/canary\n  - ../../components/side-by-side\n",
    )
    if pin_candidate:
        with kustomization.open("a", encoding="utf-8") as file:
            file.write(
                "  - name: hello-service-candidate\n"
                f"    newName: {REPOSITORY}\n"
                f"    digest: {CANDIDATE_DIGEST}\n"
            )


def labels(workload: Document) -> dict[str, Any]:
    template_labels: dict[str, Any] = workload["spec"]["template"]["metadata"]["labels"]
    return template_labels


def selects(document: Document, pod_labels: dict[str, Any]) -> bool:
    selector = document["spec"]["selector"]
    selector = selector.get("matchLabels", selector)
    return all(pod_labels.get(key) == value for key, value in selector.items())


@pytest.mark.parametrize(("environment", "stable_replicas"), [("staging", 2), ("prod", 3)])
def test_the_candidate_runs_beside_the_current_version_and_shares_its_traffic(
    tmp_path: Path, environment: str, stable_replicas: int
) -> None:
    tree = copy_tree(ROOT / "deploy", tmp_path)
    start_experiment(tree, environment)

    documents = kustomize_build(tree / "overlays" / environment)

    (rollout,) = find(documents, "Rollout")
    stable_template = find(documents, "Deployment", "hello-service")[0]
    (candidate,) = find(documents, "Deployment", "hello-service-candidate")
    assert candidate["spec"]["template"]["spec"]["containers"][0]["image"] == (
        f"{REPOSITORY}@{CANDIDATE_DIGEST}"
    )
    assert stable_template["spec"]["template"]["spec"]["containers"][0]["image"] != (
        f"{REPOSITORY}@{CANDIDATE_DIGEST}"
    )
    # The shared Service reaches both; the split follows ready pods.
    (service,) = find(documents, "Service", "hello-service")
    assert selects(service, labels(stable_template))
    assert selects(service, labels(candidate))
    assert (rollout["spec"]["replicas"], candidate["spec"]["replicas"]) == (stable_replicas, 1)
    # Nothing that belongs to the current version takes the candidate's pods.
    for owner in [rollout, *find(documents, "PodDisruptionBudget")]:
        assert not selects(owner, labels(candidate)), owner["metadata"]["name"]
    (candidate_service,) = find(documents, "Service", "hello-service-candidate")
    assert selects(candidate_service, labels(candidate))
    assert not selects(candidate_service, labels(stable_template))
    # Held to every rule but the replica floor.
    assert check_tree(tree, service=SERVICE) == []


def test_only_the_marked_candidate_may_run_a_single_replica(tmp_path: Path) -> None:
    tree = copy_tree(ROOT / "deploy", tmp_path)
    start_experiment(tree, "prod")
    documents = kustomize_build(tree / "overlays/prod")
    (candidate,) = find(documents, "Deployment", "hello-service-candidate")
    del candidate["metadata"]["annotations"][CANDIDATE_ANNOTATION]

    problems = check_workloads(documents, environment="prod", service=SERVICE)

    assert problems
    assert all(p.startswith("Deployment/hello-service-candidate") for p in problems), problems
    assert any("1 replica(s)" in p for p in problems)


def test_a_candidate_without_a_digest_is_refused(tmp_path: Path) -> None:
    tree = copy_tree(ROOT / "deploy", tmp_path)
    start_experiment(tree, "staging", pin_candidate=False)

    problems = check_images(kustomize_build(tree / "overlays/staging"), environment="staging")

    assert len(problems) == 1
    assert (
        "Deployment/hello-service-candidate: image hello-service-candidate is not pinned"
        in (problems[0])
    )
