"""Rollout safety and image policy on every workload of dev, staging and prod.

The real builds must pass; then each rule is broken, one at a time, on a
copy of a real build, and the check must name it. Rules apply to what Argo
CD would deploy (the kustomize output), not to the source files, so no
overlay can undo a base setting unnoticed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pipelines_cli.deploy_checks import (
    ENVIRONMENTS,
    Document,
    check_images,
    check_tree,
    check_workloads,
    find,
    kustomize_build,
)
from tests.deploy_trees import DEPLOY, REPOSITORY, copy_tree, reference_service, replace_once

pytestmark = pytest.mark.tools

SERVICE = reference_service()


@pytest.fixture(scope="module")
def overlays() -> dict[str, list[Document]]:
    return {env: kustomize_build(DEPLOY / "overlays" / env) for env in ENVIRONMENTS}


def test_the_manifests_check_against_the_reference_services_own_config() -> None:
    service = reference_service()

    # The facts the manifests must agree with, read by the library's own parser.
    assert (
        service.name,
        service.port,
        service.health_path,
        service.readiness_path,
        service.drain_seconds,
    ) == ("hello-service", 8080, "/healthz", "/readyz", 10)


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_every_workload_of_every_environment_is_safe_to_roll(
    overlays: dict[str, list[Document]], environment: str
) -> None:
    assert check_workloads(overlays[environment], environment=environment, service=SERVICE) == []
    assert check_images(overlays[environment], environment=environment) == []


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_staging_and_prod_release_through_an_aborting_canary(
    overlays: dict[str, list[Document]], environment: str
) -> None:
    (rollout,) = find(overlays[environment], "Rollout")
    (deployment,) = find(overlays[environment], "Deployment")

    assert rollout["spec"]["progressDeadlineAbort"] is True
    assert rollout["spec"]["workloadRef"]["name"] == deployment["metadata"]["name"]
    assert deployment["spec"]["replicas"] == 0
    assert rollout["spec"]["replicas"] >= 2


def test_dev_runs_the_plain_deployment_path(overlays: dict[str, list[Document]]) -> None:
    assert find(overlays["dev"], "Rollout") == []
    (deployment,) = find(overlays["dev"], "Deployment")
    assert deployment["spec"]["replicas"] >= 1


# --- each rule, broken on a copy of a real build ------------------------------------------

Mutation = Callable[[list[Document]], object]


def workload(documents: list[Document]) -> dict[str, Any]:
    """What runs the pods: the Rollout where there is one, else the Deployment."""
    return (find(documents, "Rollout") or find(documents, "Deployment"))[0]


def pod_spec(documents: list[Document]) -> dict[str, Any]:
    spec: dict[str, Any] = find(documents, "Deployment", "hello-service")[0]["spec"]["template"][
        "spec"
    ]
    return spec


def container(documents: list[Document]) -> dict[str, Any]:
    first: dict[str, Any] = pod_spec(documents)["containers"][0]
    return first


def remove(documents: list[Document], kind: str) -> None:
    documents[:] = [d for d in documents if d["kind"] != kind]


@dataclass(frozen=True)
class Rule:
    name: str
    environments: tuple[str, ...]
    mutate: Mutation
    says: str


RULES = [
    Rule(
        "readiness probe",
        ENVIRONMENTS,
        lambda d: container(d).pop("readinessProbe"),
        "no readinessProbe",
    ),
    Rule(
        "readiness path",
        ENVIRONMENTS,
        lambda d: container(d)["readinessProbe"]["httpGet"].update(path="/healthz"),
        "readinessProbe checks '/healthz'",
    ),
    Rule(
        "liveness probe",
        ENVIRONMENTS,
        lambda d: container(d).pop("livenessProbe"),
        "no livenessProbe",
    ),
    Rule(
        "startup probe", ENVIRONMENTS, lambda d: container(d).pop("startupProbe"), "no startupProbe"
    ),
    Rule(
        "probe port",
        ENVIRONMENTS,
        lambda d: container(d)["livenessProbe"]["httpGet"].update(port=9090),
        "livenessProbe port 9090 is not the service port 8080",
    ),
    Rule(
        "exec probe",
        ("dev",),
        lambda d: container(d).update(readinessProbe={"exec": {"command": ["true"]}}),
        "readinessProbe is not an httpGet probe",
    ),
    Rule(
        "maxUnavailable",
        ("dev",),
        lambda d: workload(d)["spec"]["strategy"]["rollingUpdate"].update(maxUnavailable=1),
        "rollingUpdate.maxUnavailable is 1",
    ),
    Rule(
        "maxSurge",
        ("dev",),
        lambda d: workload(d)["spec"]["strategy"]["rollingUpdate"].update(maxSurge="25%"),
        "rollingUpdate.maxSurge is '25%'",
    ),
    Rule(
        "strategy type",
        ("dev",),
        lambda d: workload(d)["spec"].update(strategy={"type": "Recreate"}),
        "strategy.type is not RollingUpdate",
    ),
    Rule(
        "canary maxUnavailable",
        ("staging", "prod"),
        lambda d: workload(d)["spec"]["strategy"]["canary"].update(maxUnavailable="25%"),
        "canary.maxUnavailable is '25%'",
    ),
    Rule(
        "canary maxSurge",
        ("staging", "prod"),
        lambda d: workload(d)["spec"]["strategy"]["canary"].pop("maxSurge"),
        "canary.maxSurge is None",
    ),
    Rule(
        "blue-green",
        ("prod",),
        lambda d: workload(d)["spec"].update(strategy={"blueGreen": {}}),
        "Rollout has no canary strategy",
    ),
    Rule(
        "minReadySeconds",
        ENVIRONMENTS,
        lambda d: workload(d)["spec"].pop("minReadySeconds"),
        "no spec.minReadySeconds",
    ),
    Rule(
        "progressDeadlineSeconds",
        ENVIRONMENTS,
        lambda d: workload(d)["spec"].pop("progressDeadlineSeconds"),
        "no spec.progressDeadlineSeconds",
    ),
    Rule(
        "progressDeadlineAbort",
        ("staging", "prod"),
        lambda d: workload(d)["spec"].pop("progressDeadlineAbort"),
        "progressDeadlineAbort is not true",
    ),
    Rule(
        "canary analysis",
        ("staging", "prod"),
        lambda d: workload(d)["spec"]["strategy"]["canary"].pop("analysis"),
        "the canary has no analysis",
    ),
    Rule(
        "analysis template",
        ("staging", "prod"),
        lambda d: remove(d, "AnalysisTemplate"),
        "AnalysisTemplate 'hello-service-canary-health' is not in this build",
    ),
    Rule(
        "Deployment beside the Rollout",
        ("staging", "prod"),
        lambda d: find(d, "Deployment")[0]["spec"].update(replicas=2),
        "a Rollout takes its pods from it, yet it asks for 2 replicas",
    ),
    Rule(
        "dangling workloadRef",
        ("staging",),
        lambda d: workload(d)["spec"]["workloadRef"].update(name="gone"),
        "neither a template nor a workloadRef",
    ),
    Rule("preStop", ENVIRONMENTS, lambda d: container(d).pop("lifecycle"), "no preStop sleep"),
    Rule(
        "grace period",
        ENVIRONMENTS,
        lambda d: pod_spec(d).update(terminationGracePeriodSeconds=15),
        "terminationGracePeriodSeconds 15 is not longer than preStop 5 s + drain 10 s",
    ),
    Rule(
        "drain raised without grace",
        ENVIRONMENTS,
        lambda d: container(d)["env"].append({"name": "DRAIN_SECONDS", "value": "40"}),
        "is not longer than preStop 5 s + drain 40 s",
    ),
    Rule(
        "grace period default",
        ("prod",),
        lambda d: pod_spec(d).pop("terminationGracePeriodSeconds"),
        "terminationGracePeriodSeconds None",
    ),
    Rule(
        "exec preStop counts",
        ("dev",),
        lambda d: container(d).update(
            lifecycle={"preStop": {"exec": {"command": ["sleep", "25"]}}}
        ),
        "is not longer than preStop 25 s",
    ),
    Rule(
        "PodDisruptionBudget",
        ENVIRONMENTS,
        lambda d: remove(d, "PodDisruptionBudget"),
        "no PodDisruptionBudget selects its pods",
    ),
    Rule(
        "PodDisruptionBudget selector",
        ("staging",),
        lambda d: find(d, "PodDisruptionBudget")[0]["spec"]["selector"]["matchLabels"].update(
            {"app.kubernetes.io/instance": "other"}
        ),
        "no PodDisruptionBudget selects its pods",
    ),
    Rule(
        "PodDisruptionBudget too loose",
        ("prod",),
        lambda d: find(d, "PodDisruptionBudget")[0]["spec"].update(maxUnavailable=3),
        "lets a drain evict every pod at once",
    ),
    Rule(
        "replicas",
        ("staging", "prod"),
        lambda d: workload(d)["spec"].update(replicas=1),
        "1 replica(s): one pod lost",
    ),
    Rule(
        "memory limit",
        ENVIRONMENTS,
        lambda d: container(d)["resources"]["limits"].pop("memory"),
        "no resources.limits.memory",
    ),
    Rule(
        "cpu request",
        ("prod",),
        lambda d: container(d)["resources"].pop("requests"),
        "no resources.requests.cpu",
    ),
    Rule(
        "runAsNonRoot",
        ENVIRONMENTS,
        lambda d: (
            pod_spec(d)["securityContext"].pop("runAsNonRoot"),
            container(d)["securityContext"].pop("runAsNonRoot"),
        ),
        "runAsNonRoot is not true",
    ),
    Rule(
        "root uid",
        ("staging",),
        lambda d: container(d)["securityContext"].update(runAsUser=0),
        "runs as uid 0",
    ),
    Rule(
        "read-only root",
        ENVIRONMENTS,
        lambda d: container(d)["securityContext"].update(readOnlyRootFilesystem=False),
        "root filesystem is writable",
    ),
    Rule(
        "privilege escalation",
        ("dev",),
        lambda d: container(d)["securityContext"].pop("allowPrivilegeEscalation"),
        "allowPrivilegeEscalation is not false",
    ),
    Rule(
        "scratch volume",
        ENVIRONMENTS,
        lambda d: container(d).pop("volumeMounts"),
        "is not a writable emptyDir",
    ),
    Rule(
        "scratch on a configMap",
        ("prod",),
        lambda d: pod_spec(d).update(volumes=[{"name": "tmp", "configMap": {"name": "x"}}]),
        "is not a writable emptyDir",
    ),
]
CASES = [
    pytest.param(rule, env, id=f"{rule.name}-{env}") for rule in RULES for env in rule.environments
]


@pytest.mark.parametrize(("rule", "environment"), CASES)
def test_each_safety_rule_fails_when_broken(
    overlays: dict[str, list[Document]], rule: Rule, environment: str
) -> None:
    broken = copy.deepcopy(overlays[environment])
    rule.mutate(broken)

    problems = check_workloads(broken, environment=environment, service=SERVICE)

    assert any(rule.says in problem for problem in problems), problems


def test_a_workload_that_runs_nothing_is_reported() -> None:
    problems = check_workloads([], environment="dev", service=SERVICE)

    assert problems == ["no Deployment or Rollout runs hello-service\n  fix: include ../../base"]


@pytest.mark.parametrize(
    ("environment", "image", "says"),
    [
        ("staging", f"{REPOSITORY}:rc-1.4.0-0a1b2c3", "is not pinned by digest"),
        ("prod", f"{REPOSITORY}", "is not pinned by digest"),
        ("prod", f"{REPOSITORY}@sha256:abc", "is not pinned by digest"),
        ("dev", f"{REPOSITORY}:feature-login-0a1b2c3", "neither a digest nor a release-candidate"),
        ("dev", f"{REPOSITORY}:latest", "neither a digest nor a release-candidate"),
        ("dev", REPOSITORY, "neither a digest nor a release-candidate"),
    ],
)
def test_images_that_an_environment_must_not_run_are_reported(
    overlays: dict[str, list[Document]], environment: str, image: str, says: str
) -> None:
    broken = copy.deepcopy(overlays[environment])
    container(broken)["image"] = image

    problems = check_images(broken, environment=environment)

    assert len(problems) == 1
    assert says in problems[0]
    assert image in problems[0]


def test_dev_may_also_run_a_digest() -> None:
    documents = kustomize_build(DEPLOY / "overlays" / "dev")
    container(documents)["image"] = f"{REPOSITORY}@sha256:{'ab' * 32}"

    assert check_images(documents, environment="dev") == []


# --- end to end on a broken source tree -----------------------------------------------------


def test_a_base_without_readiness_probe_fails_every_environment(tmp_path: Path) -> None:
    tree = copy_tree(DEPLOY, tmp_path)
    deployment = tree / "base/workload/deployment.yaml"
    text = deployment.read_text(encoding="utf-8")
    start = text.index("          readinessProbe:")
    end = text.index("          lifecycle:")
    deployment.write_text(text[:start] + text[end:], encoding="utf-8")

    problems = check_tree(tree, service=SERVICE)

    assert sorted(p.split(":")[0] for p in problems) == sorted(ENVIRONMENTS)
    assert all("no readinessProbe" in p for p in problems)


def test_an_overlay_that_drops_replicas_fails_only_its_environment(tmp_path: Path) -> None:
    tree = copy_tree(DEPLOY, tmp_path)
    replace_once(tree / "overlays/prod/kustomization.yaml", "value: 3", "value: 1")

    problems = check_tree(tree, service=SERVICE)

    assert len(problems) >= 1
    assert all(p.startswith("prod: Rollout/hello-service") for p in problems), problems
    assert any("1 replica(s)" in p for p in problems)
