"""Rollout safety of every workload: probes, graceful termination, surge-only updates, budgets.

The rules of docs/deployment.md, checked on what an environment's build runs:
probes on the service's own paths (``[service]`` of its ``pipelines.toml``),
surge-only rolling updates, termination grace longer than preStop plus the
service's drain time, a PodDisruptionBudget, requests and limits, non-root
with a read-only root filesystem, at least two replicas where releases are
promoted, and a canary that aborts by itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pipelines.config import ServiceConfig
from pipelines_cli.deploy_checks.environments import PROMOTED_ENVIRONMENTS
from pipelines_cli.deploy_checks.manifests import Document, find, name_of
from pipelines_cli.deploy_checks.problems import problem, within

MIN_REPLICAS_PROMOTED = 2

# Pods that run next to the current version for an experiment
# (deploy/components/side-by-side) carry this annotation on their workload:
# they are held to every rule except the replica floor.
CANDIDATE_ANNOTATION = "portable-pipelines/role"
CANDIDATE_ROLE = "side-by-side-candidate"

# The one directory the service writes to; with a read-only root filesystem
# it must be a volume.
SERVICE_SCRATCH_DIR = "/tmp"  # noqa: S108 (a path inside the pod, not a temporary file here)


def _selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    match_labels = (selector or {}).get("matchLabels") or {}
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())


@dataclass(frozen=True, kw_only=True)
class Workload:
    """Something that runs the service's pods, with the pod template it runs."""

    document: Document
    pod_template: Document

    @property
    def label(self) -> str:
        return f"{self.document['kind']}/{name_of(self.document)}"

    @property
    def replicas(self) -> int:
        return int(self.document.get("spec", {}).get("replicas", 1))

    @property
    def is_candidate(self) -> bool:
        annotations = self.document.get("metadata", {}).get("annotations") or {}
        return annotations.get(CANDIDATE_ANNOTATION) == CANDIDATE_ROLE


def _referenced_deployments(documents: Sequence[Document]) -> dict[str, Document]:
    """Deployments that a Rollout takes its pod template from, by Rollout name."""
    referenced = {}
    for rollout in find(documents, "Rollout"):
        ref = rollout.get("spec", {}).get("workloadRef")
        if ref and ref.get("kind") == "Deployment":
            for deployment in find(documents, "Deployment", ref.get("name")):
                referenced[name_of(rollout)] = deployment
    return referenced


def workloads(documents: Sequence[Document]) -> tuple[list[Workload], list[str]]:
    """The workloads that run pods, and problems found while resolving them."""
    problems = []
    referenced = _referenced_deployments(documents)
    referenced_names = {name_of(d) for d in referenced.values()}
    found = []
    for rollout in find(documents, "Rollout"):
        spec = rollout.get("spec", {})
        if "template" in spec:
            found.append(Workload(document=rollout, pod_template=spec["template"]))
        elif name_of(rollout) in referenced:
            template = referenced[name_of(rollout)]["spec"]["template"]
            found.append(Workload(document=rollout, pod_template=template))
        else:
            problems.append(
                problem(
                    f"Rollout/{name_of(rollout)}: neither a template nor a workloadRef to a "
                    "Deployment of this build",
                    fix="point spec.workloadRef at the Deployment",
                )
            )
    for deployment in find(documents, "Deployment"):
        if name_of(deployment) in referenced_names:
            replicas = deployment.get("spec", {}).get("replicas", 1)
            if replicas != 0:
                problems.append(
                    problem(
                        f"Deployment/{name_of(deployment)}: a Rollout takes its pods from it, "
                        f"yet it asks for {replicas} replicas of its own: both would serve",
                        fix="set spec.replicas: 0 on the referenced Deployment",
                    )
                )
            continue
        found.append(Workload(document=deployment, pod_template=deployment["spec"]["template"]))
    return found, problems


# --- one container ----------------------------------------------------------------


def _port_number(port: object, container: Mapping[str, Any]) -> int | None:
    if isinstance(port, int):
        return port
    for declared in container.get("ports") or []:
        if declared.get("name") == port:
            return int(declared["containerPort"])
    return None


def _pre_stop_seconds(container: Mapping[str, Any]) -> int | None:
    pre_stop = (container.get("lifecycle") or {}).get("preStop") or {}
    if "sleep" in pre_stop:
        return int(pre_stop["sleep"]["seconds"])
    command = (pre_stop.get("exec") or {}).get("command") or []
    if len(command) == 2 and command[0] in ("sleep", "/bin/sleep") and command[1].isdigit():
        return int(command[1])
    return None


def _drain_seconds(container: Mapping[str, Any], service: ServiceConfig) -> float:
    """The service's drain time, or the container's DRAIN_SECONDS where that is longer."""
    drain = float(service.drain_seconds)
    # The last definition of a variable is the one the container gets.
    for variable in container.get("env") or []:
        if variable.get("name") == "DRAIN_SECONDS" and "value" in variable:
            drain = max(float(variable["value"]), float(service.drain_seconds))
    return drain


def _check_probe(
    container: Mapping[str, Any], probe_name: str, path: str, service: ServiceConfig
) -> Iterator[str]:
    probe = container.get(probe_name)
    if not probe:
        yield problem(f"no {probe_name}", fix=f"add an httpGet {probe_name} on {path}")
        return
    http_get = probe.get("httpGet")
    if not http_get:
        yield problem(f"{probe_name} is not an httpGet probe", fix=f"probe GET {path}")
        return
    if http_get.get("path") != path:
        yield problem(
            f"{probe_name} checks {http_get.get('path')!r}, the service answers on {path!r}"
        )
    port = _port_number(http_get.get("port"), container)
    if port != service.port:
        yield problem(
            f"{probe_name} port {http_get.get('port')!r} is not the service port {service.port}",
            fix="use the container port named http",
        )


def _check_container(
    container: Mapping[str, Any], pod_spec: Mapping[str, Any], service: ServiceConfig
) -> Iterator[str]:
    yield from _check_probe(container, "readinessProbe", service.readiness_path, service)
    yield from _check_probe(container, "livenessProbe", service.health_path, service)
    yield from _check_probe(container, "startupProbe", service.health_path, service)

    pre_stop = _pre_stop_seconds(container)
    if not pre_stop:
        yield problem(
            "no preStop sleep: a terminating pod still gets new requests until endpoints update",
            fix="lifecycle.preStop.sleep.seconds: 5",
        )
    drain = _drain_seconds(container, service)
    grace = pod_spec.get("terminationGracePeriodSeconds")
    needed = (pre_stop or 0) + drain
    if grace is None or int(grace) <= needed:
        yield problem(
            f"terminationGracePeriodSeconds {grace} is not longer than preStop {pre_stop or 0} s "
            f"+ drain {drain:g} s: in-flight requests would be killed",
            fix=f"set it above {needed:g}, e.g. {needed + 15:g}",
        )

    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(kind) or {}):
                yield problem(f"no resources.{kind}.{resource}", fix="set it")

    pod_security = pod_spec.get("securityContext") or {}
    security = container.get("securityContext") or {}
    run_as_non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
    run_as_user = security.get("runAsUser", pod_security.get("runAsUser"))
    if run_as_non_root is not True:
        yield problem("runAsNonRoot is not true", fix="securityContext.runAsNonRoot: true")
    if run_as_user == 0:
        yield problem("runs as uid 0", fix="run as the image's non-root uid, 10001")
    if security.get("readOnlyRootFilesystem") is not True:
        yield problem(
            "root filesystem is writable", fix="securityContext.readOnlyRootFilesystem: true"
        )
    if security.get("allowPrivilegeEscalation") is not False:
        yield problem("allowPrivilegeEscalation is not false", fix="set it to false")

    empty_dirs = {v["name"] for v in pod_spec.get("volumes") or [] if "emptyDir" in v}
    mounts = container.get("volumeMounts") or []
    scratch = [m for m in mounts if m.get("mountPath") == SERVICE_SCRATCH_DIR]
    if not any(m.get("name") in empty_dirs for m in scratch):
        yield problem(
            f"{SERVICE_SCRATCH_DIR} is not a writable emptyDir: the service writes there and the "
            "root filesystem is read-only",
            fix=f"mount an emptyDir volume at {SERVICE_SCRATCH_DIR}",
        )


# --- how it rolls -----------------------------------------------------------------


def _check_rollout_strategy(workload: Workload, documents: Sequence[Document]) -> Iterator[str]:
    spec = workload.document.get("spec", {})
    for field in ("minReadySeconds", "progressDeadlineSeconds"):
        if not spec.get(field):
            yield problem(
                f"no spec.{field}", fix="set it; see deploy/base/workload/deployment.yaml"
            )
    if workload.document["kind"] == "Deployment":
        yield from _check_rolling_update(spec)
    else:
        yield from _check_canary(spec, documents)


def _check_rolling_update(spec: Mapping[str, Any]) -> Iterator[str]:
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    if strategy.get("type") != "RollingUpdate":
        yield problem("strategy.type is not RollingUpdate", fix="set it explicitly")
    if rolling.get("maxUnavailable") != 0:
        yield problem(
            f"rollingUpdate.maxUnavailable is {rolling.get('maxUnavailable')!r}: old pods "
            "would stop before new ones are ready",
            fix="set rollingUpdate.maxUnavailable: 0",
        )
    if rolling.get("maxSurge") != 1:
        yield problem(
            f"rollingUpdate.maxSurge is {rolling.get('maxSurge')!r}",
            fix="set rollingUpdate.maxSurge: 1",
        )


def _check_canary(spec: Mapping[str, Any], documents: Sequence[Document]) -> Iterator[str]:
    canary = (spec.get("strategy") or {}).get("canary")
    if canary is None:
        yield problem("Rollout has no canary strategy", fix="use strategy.canary with analysis")
        return
    if canary.get("maxUnavailable") != 0:
        yield problem(
            f"canary.maxUnavailable is {canary.get('maxUnavailable')!r}",
            fix="set canary.maxUnavailable: 0",
        )
    if canary.get("maxSurge") != 1:
        yield problem(
            f"canary.maxSurge is {canary.get('maxSurge')!r}", fix="set canary.maxSurge: 1"
        )
    if spec.get("progressDeadlineAbort") is not True:
        yield problem(
            "progressDeadlineAbort is not true: a release that never gets ready would hang "
            "instead of rolling back",
            fix="progressDeadlineAbort: true",
        )
    analyses = [canary.get("analysis") or {}]
    analyses += [step["analysis"] for step in canary.get("steps") or [] if "analysis" in step]
    templates = [t.get("templateName") for a in analyses for t in a.get("templates", [])]
    if not templates:
        yield problem(
            "the canary has no analysis: nothing aborts a canary that turns unhealthy",
            fix="add strategy.canary.analysis with an AnalysisTemplate",
        )
    for template in templates:
        if not find(documents, "AnalysisTemplate", template):
            yield problem(f"AnalysisTemplate {template!r} is not in this build", fix="add it")


def _check_disruption_budget(workload: Workload, documents: Sequence[Document]) -> Iterator[str]:
    labels = (workload.pod_template.get("metadata") or {}).get("labels") or {}
    budgets = [
        pdb
        for pdb in find(documents, "PodDisruptionBudget")
        if _selector_matches(pdb.get("spec", {}).get("selector"), labels)
    ]
    if not budgets:
        yield problem(
            "no PodDisruptionBudget selects its pods: a node drain may evict them all at once",
            fix="add one with maxUnavailable: 1",
        )
        return
    for pdb in budgets:
        max_unavailable = pdb["spec"].get("maxUnavailable")
        min_available = pdb["spec"].get("minAvailable")
        if isinstance(max_unavailable, int) and max_unavailable >= workload.replicas:
            yield problem(
                f"with {workload.replicas} replica(s), PodDisruptionBudget/{name_of(pdb)} "
                f"(maxUnavailable {max_unavailable}) lets a drain evict every pod at once",
                fix="run more replicas than maxUnavailable",
            )
        if max_unavailable == "100%" or min_available in (0, "0%"):
            yield problem(
                f"PodDisruptionBudget/{name_of(pdb)} protects nothing", fix="maxUnavailable: 1"
            )


def check_workloads(
    documents: Sequence[Document], *, environment: str, service: ServiceConfig
) -> list[str]:
    """The rollout-safety rules on every workload of one environment's build."""
    found, problems = workloads(documents)
    if not found:
        problems.append(
            problem(f"no Deployment or Rollout runs {service.name}", fix="include ../../base")
        )
    for workload in found:
        rules: list[str] = []
        promoted = environment in PROMOTED_ENVIRONMENTS and not workload.is_candidate
        if promoted and workload.replicas < MIN_REPLICAS_PROMOTED:
            rules.append(
                problem(
                    f"{workload.replicas} replica(s): one pod lost means an outage",
                    fix=f"at least {MIN_REPLICAS_PROMOTED} in {environment}",
                )
            )
        rules += _check_rollout_strategy(workload, documents)
        if not workload.is_candidate:
            rules += _check_disruption_budget(workload, documents)
        pod_spec = workload.pod_template.get("spec") or {}
        for container in pod_spec.get("containers") or []:
            rules += within(
                f"container {container.get('name')}",
                _check_container(container, pod_spec, service),
            )
        problems += within(workload.label, rules)
    return problems
