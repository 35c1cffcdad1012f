"""Checks of the GitOps tree under ``deploy/``, shared by the tests and the hooks.

Run ``python -m tests.deploy_checks deploy/`` to check a tree: every
kustomization is built with ``kubectl kustomize``; every built-in kind is
validated with ``kubernetes-validate --strict`` against Kubernetes 1.32; every
Argo resource against its JSON schema (``tests/fixtures/argo-schemas``); and
the policies of docs/deployment.md are checked on every environment:

- every workload of dev, staging and prod is safe to roll (probes on the
  service's paths, surge-only rolling updates, graceful termination longer
  than preStop plus the service's drain time, a PodDisruptionBudget, requests
  and limits, non-root with a read-only root filesystem, at least two
  replicas in staging and prod; a canary that aborts by itself);
- staging and prod run images pinned by digest; dev runs release candidates;
- dev syncs automatically with prune and self-heal, staging and prod never;
- Argo CD Image Updater follows release-candidate tags in dev only;
- degraded applications, failed syncs and aborted rollouts alert someone.

Each check returns a list of problems (empty when all is well); each problem
names where it is, what is wrong and how to fix it.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from pipelines.tags import dev_image_tag, release_tag
from pipelines.values import Branch, CommitId

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "tests" / "fixtures" / "argo-schemas"
SERVICE_CONFIG = ROOT / "examples" / "hello-service" / "pipelines.toml"

KUBERNETES_VERSION = "1.32"
# The environments Argo CD deploys. `local` (minikube, k3s) is only built and
# validated: it runs one replica of a locally built image on purpose.
ENVIRONMENTS = ("dev", "staging", "prod")
PROMOTED_ENVIRONMENTS = ("staging", "prod")
MIN_REPLICAS_PROMOTED = 2

# The tag scheme of pipelines/tags.py: release candidates, pushed by the
# release pipeline on merge to main, are what DEV follows; feature-branch
# test images must never reach it (they also live in a repository of their
# own, `<repository>-test`, which Image Updater does not watch).
RELEASE_CANDIDATE_TAG = re.compile(r"^rc-.+-[0-9a-f]{7}$")
_SAMPLE_SHA = CommitId.parse("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567")
RELEASE_CANDIDATE_SAMPLES = (
    release_tag("1.4.0", _SAMPLE_SHA),
    release_tag("2.0.0-beta.1", _SAMPLE_SHA),
    release_tag("0.1.0", CommitId.parse("f" * 40)),
)
FEATURE_TAG_SAMPLES = (
    dev_image_tag(Branch.parse("feature/login"), _SAMPLE_SHA),
    dev_image_tag(Branch.parse("fix/ABC-12 rc parser"), _SAMPLE_SHA),
    dev_image_tag(Branch.parse("main"), _SAMPLE_SHA),
)
NEVER_FOLLOW_SAMPLES = ("latest", "rc-1.4.0-0a1b2c3d", "rc-1.4.0-0A1B2C3", "rc--0a1b2c3")
IMAGE_UPDATE_STRATEGY = "newest-build"

DIGEST_REFERENCE = re.compile(r"@sha256:[0-9a-f]{64}$")

# Pods that run next to the current version for an experiment
# (deploy/components/side-by-side) carry this annotation on their workload:
# they are held to every rule except the replica floor.
CANDIDATE_ANNOTATION = "portable-pipelines/role"
CANDIDATE_ROLE = "side-by-side-candidate"

ARGO_SCHEMAS = {
    ("argoproj.io/v1alpha1", "Application"): "application_v1alpha1.json",
    ("argoproj.io/v1alpha1", "ApplicationSet"): "applicationset_v1alpha1.json",
    ("argoproj.io/v1alpha1", "AppProject"): "appproject_v1alpha1.json",
    ("argoproj.io/v1alpha1", "Rollout"): "rollout_v1alpha1.json",
    ("argoproj.io/v1alpha1", "AnalysisTemplate"): "analysistemplate_v1alpha1.json",
    ("argocd-image-updater.argoproj.io/v1alpha1", "ImageUpdater"): "imageupdater_v1alpha1.json",
}

# Groups that kubernetes-validate knows; anything else is a custom resource
# and needs a schema in ARGO_SCHEMAS, or it would pass unchecked.
_BUILTIN_GROUP = re.compile(r"^([a-z0-9]+|[a-z0-9.-]+\.k8s\.io|apps|batch|policy|autoscaling)$")
_CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
}

# The one directory the service writes to; with a read-only root filesystem
# it must be a volume.
SERVICE_SCRATCH_DIR = "/tmp"  # noqa: S108 (a path inside the pod, not a temporary file here)

Document = dict[str, Any]

# libyaml's loader when PyYAML has it: a tenth of the pure-Python parsing time.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, kw_only=True)
class ServiceFacts:
    """What the manifests must agree with about the service they run."""

    name: str
    port: int
    health_path: str = "/healthz"
    readiness_path: str = "/readyz"
    drain_seconds: int = 10


def load_service_facts(path: Path = SERVICE_CONFIG) -> ServiceFacts:
    """The ``[service]`` table of a service's ``pipelines.toml``."""
    table = tomllib.loads(path.read_text(encoding="utf-8"))["service"]
    return ServiceFacts(
        name=table["name"],
        port=table["port"],
        health_path=table.get("health_path", "/healthz"),
        readiness_path=table.get("readiness_path", "/readyz"),
        drain_seconds=table.get("drain_seconds", 10),
    )


class BuildError(Exception):
    """``kubectl kustomize`` refused a kustomization."""


# --- building -----------------------------------------------------------------


def tool(name: str) -> str:
    """A console script of this virtualenv, else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found: install the project's [dev] extra")
    return found


def kustomize_build(directory: Path) -> list[Document]:
    """The documents ``kubectl kustomize`` renders from ``directory``."""
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(f"{directory}: kubectl kustomize failed: {result.stderr.strip()}")
    return [doc for doc in yaml.load_all(result.stdout, Loader=_YAML_LOADER) if doc]


def buildable_kustomizations(deploy_root: Path) -> list[Path]:
    """Every directory holding a ``Kustomization`` (components build only as parts)."""
    found = []
    for file in sorted(deploy_root.rglob("kustomization.yaml")):
        document = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        if document.get("kind", "Kustomization") == "Kustomization":
            found.append(file.parent)
    return found


def _where(directory: Path, deploy_root: Path) -> str:
    try:
        return str(directory.relative_to(deploy_root.parent))
    except ValueError:
        return str(directory)


# --- schema validation -----------------------------------------------------------


def _group(api_version: str) -> str:
    return api_version.split("/", maxsplit=1)[0] if "/" in api_version else ""


def is_builtin(document: Mapping[str, Any]) -> bool:
    return bool(_BUILTIN_GROUP.match(_group(str(document.get("apiVersion", ""))) or "core"))


def validate_builtin(builds: Mapping[str, Sequence[Document]]) -> list[str]:
    """``kubernetes-validate --strict`` on the built-in kinds of every build.

    One process for all builds: each build goes to a file named after it, so
    the tool's messages say which build they are about.
    """
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="deploy-checks-") as scratch:
        files: dict[str, str] = {}
        for where, documents in builds.items():
            builtin = [doc for doc in documents if is_builtin(doc)]
            if not builtin:
                continue
            build_file = Path(scratch) / (where.replace("/", "__") + ".yaml")
            build_file.write_text(yaml.safe_dump_all(builtin, sort_keys=False), encoding="utf-8")
            files[str(build_file)] = where
        if not files:
            return problems
        result = subprocess.run(
            [tool("kubernetes-validate"), "-k", KUBERNETES_VERSION, "--strict", "--quiet", *files],
            capture_output=True,
            text=True,
            check=False,
        )
        output = (result.stdout + result.stderr).strip()
        # Only built-in kinds are sent, so a WARN (no schema for the kind) is
        # a misspelled apiVersion or kind, not a custom resource.
        for line in output.splitlines():
            if line.startswith(("ERROR", "WARN")):
                message = line
                for file_name, where in files.items():
                    message = message.replace(file_name, where)
                problems.append(
                    f"{message} (fix: make it valid for Kubernetes {KUBERNETES_VERSION})"
                )
        if result.returncode != 0 and not problems:
            problems.append(f"kubernetes-validate failed with exit {result.returncode}: {output}")
    return problems


@cache
def _schema(file_name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMA_DIR / file_name).read_text(encoding="utf-8"))
    return loaded


def validate_custom(documents: Iterable[Document], *, where: str) -> list[str]:
    """Every custom resource against its schema; one without a schema is a problem."""
    problems = []
    for document in documents:
        if is_builtin(document):
            continue
        key = (str(document.get("apiVersion")), str(document.get("kind")))
        name = f"{key[1]}/{document.get('metadata', {}).get('name')}"
        schema_file = ARGO_SCHEMAS.get(key)
        if schema_file is None:
            problems.append(
                f"{where}: {name} ({key[0]}) has no schema to validate it against "
                f"(fix: add its CRD's schema to {SCHEMA_DIR.relative_to(ROOT)} and ARGO_SCHEMAS)"
            )
            continue
        validator = jsonschema.Draft7Validator(_schema(schema_file))
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path)):
            path = ".".join(str(part) for part in error.path) or "(root)"
            problems.append(
                f"{where}: {name}: {path}: {error.message} (fix: see the {key[1]} CRD, "
                f"{SCHEMA_DIR.relative_to(ROOT) / schema_file})"
            )
    return problems


# --- reading manifests --------------------------------------------------------------


def _name(document: Mapping[str, Any]) -> str:
    return str(document.get("metadata", {}).get("name", ""))


def find(documents: Iterable[Document], kind: str, name: str | None = None) -> list[Document]:
    return [
        doc for doc in documents if doc.get("kind") == kind and (name is None or _name(doc) == name)
    ]


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
        return f"{self.document['kind']}/{_name(self.document)}"

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
                referenced[_name(rollout)] = deployment
    return referenced


def workloads(documents: Sequence[Document]) -> tuple[list[Workload], list[str]]:
    """The workloads that run pods, and problems found while resolving them."""
    problems = []
    referenced = _referenced_deployments(documents)
    referenced_names = {_name(d) for d in referenced.values()}
    found = []
    for rollout in find(documents, "Rollout"):
        spec = rollout.get("spec", {})
        if "template" in spec:
            found.append(Workload(document=rollout, pod_template=spec["template"]))
        elif _name(rollout) in referenced:
            template = referenced[_name(rollout)]["spec"]["template"]
            found.append(Workload(document=rollout, pod_template=template))
        else:
            problems.append(
                f"Rollout/{_name(rollout)}: neither a template nor a workloadRef to a Deployment "
                "of this build (fix: point spec.workloadRef at the Deployment)"
            )
    for deployment in find(documents, "Deployment"):
        if _name(deployment) in referenced_names:
            replicas = deployment.get("spec", {}).get("replicas", 1)
            if replicas != 0:
                problems.append(
                    f"Deployment/{_name(deployment)}: a Rollout takes its pods from it, yet it "
                    f"asks for {replicas} replicas of its own: both would serve "
                    "(fix: set spec.replicas: 0 on the referenced Deployment)"
                )
            continue
        found.append(Workload(document=deployment, pod_template=deployment["spec"]["template"]))
    return found, problems


# --- workload safety ----------------------------------------------------------------


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


def _drain_seconds(container: Mapping[str, Any], service: ServiceFacts) -> float:
    """The service's drain time, or the container's DRAIN_SECONDS where that is longer."""
    drain = float(service.drain_seconds)
    # The last definition of a variable is the one the container gets.
    for variable in container.get("env") or []:
        if variable.get("name") == "DRAIN_SECONDS" and "value" in variable:
            drain = max(float(variable["value"]), float(service.drain_seconds))
    return drain


def _check_probe(
    container: Mapping[str, Any], probe_name: str, path: str, service: ServiceFacts
) -> Iterator[str]:
    probe = container.get(probe_name)
    if not probe:
        yield f"no {probe_name} (fix: add an httpGet {probe_name} on {path})"
        return
    http_get = probe.get("httpGet")
    if not http_get:
        yield f"{probe_name} is not an httpGet probe (fix: probe GET {path})"
        return
    if http_get.get("path") != path:
        yield f"{probe_name} checks {http_get.get('path')!r}, the service answers on {path!r}"
    port = _port_number(http_get.get("port"), container)
    if port != service.port:
        yield (
            f"{probe_name} port {http_get.get('port')!r} is not the service port {service.port} "
            "(fix: use the container port named http)"
        )


def _check_container(
    container: Mapping[str, Any], pod_spec: Mapping[str, Any], service: ServiceFacts
) -> Iterator[str]:
    yield from _check_probe(container, "readinessProbe", service.readiness_path, service)
    yield from _check_probe(container, "livenessProbe", service.health_path, service)
    yield from _check_probe(container, "startupProbe", service.health_path, service)

    pre_stop = _pre_stop_seconds(container)
    if not pre_stop:
        yield (
            "no preStop sleep: a terminating pod still gets new requests until endpoints "
            "update (fix: lifecycle.preStop.sleep.seconds: 5)"
        )
    drain = _drain_seconds(container, service)
    grace = pod_spec.get("terminationGracePeriodSeconds")
    needed = (pre_stop or 0) + drain
    if grace is None or int(grace) <= needed:
        yield (
            f"terminationGracePeriodSeconds {grace} is not longer than preStop {pre_stop or 0} s "
            f"+ drain {drain:g} s: in-flight requests would be killed "
            f"(fix: set it above {needed:g}, e.g. {needed + 15:g})"
        )

    resources = container.get("resources") or {}
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in (resources.get(kind) or {}):
                yield f"no resources.{kind}.{resource} (fix: set it)"

    pod_security = pod_spec.get("securityContext") or {}
    security = container.get("securityContext") or {}
    run_as_non_root = security.get("runAsNonRoot", pod_security.get("runAsNonRoot"))
    run_as_user = security.get("runAsUser", pod_security.get("runAsUser"))
    if run_as_non_root is not True:
        yield "runAsNonRoot is not true (fix: securityContext.runAsNonRoot: true)"
    if run_as_user == 0:
        yield "runs as uid 0 (fix: run as the image's non-root uid, 10001)"
    if security.get("readOnlyRootFilesystem") is not True:
        yield "root filesystem is writable (fix: securityContext.readOnlyRootFilesystem: true)"
    if security.get("allowPrivilegeEscalation") is not False:
        yield "allowPrivilegeEscalation is not false (fix: set it to false)"

    empty_dirs = {v["name"] for v in pod_spec.get("volumes") or [] if "emptyDir" in v}
    mounts = container.get("volumeMounts") or []
    scratch = [m for m in mounts if m.get("mountPath") == SERVICE_SCRATCH_DIR]
    if not any(m.get("name") in empty_dirs for m in scratch):
        yield (
            f"{SERVICE_SCRATCH_DIR} is not a writable emptyDir: the service writes there and the "
            f"root filesystem is read-only (fix: mount an emptyDir volume at {SERVICE_SCRATCH_DIR})"
        )


def _check_rollout_strategy(workload: Workload, documents: Sequence[Document]) -> Iterator[str]:
    spec = workload.document.get("spec", {})
    for field in ("minReadySeconds", "progressDeadlineSeconds"):
        if not spec.get(field):
            yield f"no spec.{field} (fix: set it; see deploy/base/workload/deployment.yaml)"
    if workload.document["kind"] == "Deployment":
        yield from _check_rolling_update(spec)
    else:
        yield from _check_canary(spec, documents)


def _check_rolling_update(spec: Mapping[str, Any]) -> Iterator[str]:
    strategy = spec.get("strategy") or {}
    rolling = strategy.get("rollingUpdate") or {}
    if strategy.get("type") != "RollingUpdate":
        yield "strategy.type is not RollingUpdate (fix: set it explicitly)"
    if rolling.get("maxUnavailable") != 0:
        yield (
            f"rollingUpdate.maxUnavailable is {rolling.get('maxUnavailable')!r}: old pods "
            "would stop before new ones are ready (fix: 0)"
        )
    if rolling.get("maxSurge") != 1:
        yield f"rollingUpdate.maxSurge is {rolling.get('maxSurge')!r} (fix: 1)"


def _check_canary(spec: Mapping[str, Any], documents: Sequence[Document]) -> Iterator[str]:
    canary = (spec.get("strategy") or {}).get("canary")
    if canary is None:
        yield "Rollout has no canary strategy (fix: use strategy.canary with analysis)"
        return
    if canary.get("maxUnavailable") != 0:
        yield f"canary.maxUnavailable is {canary.get('maxUnavailable')!r} (fix: 0)"
    if canary.get("maxSurge") != 1:
        yield f"canary.maxSurge is {canary.get('maxSurge')!r} (fix: 1)"
    if spec.get("progressDeadlineAbort") is not True:
        yield (
            "progressDeadlineAbort is not true: a release that never gets ready would hang "
            "instead of rolling back (fix: progressDeadlineAbort: true)"
        )
    analyses = [canary.get("analysis") or {}]
    analyses += [step["analysis"] for step in canary.get("steps") or [] if "analysis" in step]
    templates = [t.get("templateName") for a in analyses for t in a.get("templates", [])]
    if not templates:
        yield (
            "the canary has no analysis: nothing aborts a canary that turns unhealthy "
            "(fix: add strategy.canary.analysis with an AnalysisTemplate)"
        )
    for template in templates:
        if not find(documents, "AnalysisTemplate", template):
            yield f"AnalysisTemplate {template!r} is not in this build (fix: add it)"


def _check_disruption_budget(workload: Workload, documents: Sequence[Document]) -> Iterator[str]:
    labels = (workload.pod_template.get("metadata") or {}).get("labels") or {}
    budgets = [
        pdb
        for pdb in find(documents, "PodDisruptionBudget")
        if _selector_matches(pdb.get("spec", {}).get("selector"), labels)
    ]
    if not budgets:
        yield (
            "no PodDisruptionBudget selects its pods: a node drain may evict them all at once "
            "(fix: add one with maxUnavailable: 1)"
        )
        return
    for pdb in budgets:
        max_unavailable = pdb["spec"].get("maxUnavailable")
        min_available = pdb["spec"].get("minAvailable")
        if isinstance(max_unavailable, int) and max_unavailable >= workload.replicas:
            yield (
                f"with {workload.replicas} replica(s), PodDisruptionBudget/{_name(pdb)} "
                f"(maxUnavailable {max_unavailable}) lets a drain evict every pod at once "
                "(fix: run more replicas than maxUnavailable)"
            )
        if max_unavailable == "100%" or min_available in (0, "0%"):
            yield f"PodDisruptionBudget/{_name(pdb)} protects nothing (fix: maxUnavailable: 1)"


def check_workloads(
    documents: Sequence[Document], *, environment: str, service: ServiceFacts
) -> list[str]:
    """The rollout-safety rules on every workload of one environment's build."""
    found, problems = workloads(documents)
    if not found:
        problems.append(f"no Deployment or Rollout runs {service.name} (fix: include ../../base)")
    for workload in found:
        rules: list[str] = []
        promoted = environment in PROMOTED_ENVIRONMENTS and not workload.is_candidate
        if promoted and workload.replicas < MIN_REPLICAS_PROMOTED:
            rules.append(
                f"{workload.replicas} replica(s): one pod lost means an outage "
                f"(fix: at least {MIN_REPLICAS_PROMOTED} in {environment})"
            )
        rules += _check_rollout_strategy(workload, documents)
        if not workload.is_candidate:
            rules += _check_disruption_budget(workload, documents)
        pod_spec = workload.pod_template.get("spec") or {}
        for container in pod_spec.get("containers") or []:
            rules += [
                f"container {container.get('name')}: {problem}"
                for problem in _check_container(container, pod_spec, service)
            ]
        problems += [f"{workload.label}: {rule}" for rule in rules]
    return problems


# --- images -----------------------------------------------------------------------


def _images(documents: Iterable[Document]) -> Iterator[tuple[str, str]]:
    for document in documents:
        spec = document.get("spec") or {}
        template = spec.get("template") or {}
        pod_spec = template.get("spec") or {}
        for group in ("initContainers", "containers"):
            for container in pod_spec.get(group) or []:
                yield f"{document.get('kind')}/{_name(document)}", str(container.get("image"))


def _tag(image: str) -> str | None:
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last and "@" not in last else None


def check_images(documents: Sequence[Document], *, environment: str) -> list[str]:
    """Staging and prod run digests only; dev runs release candidates."""
    problems = []
    for where, image in _images(documents):
        if DIGEST_REFERENCE.search(image):
            continue
        if environment in PROMOTED_ENVIRONMENTS:
            problems.append(
                f"{where}: image {image} is not pinned by digest: {environment} runs only "
                f"what was promoted (fix: dagger call --source=. promote "
                f"--environment={environment} --digest=sha256:...)"
            )
            continue
        tag = _tag(image)
        if tag is None or not RELEASE_CANDIDATE_TAG.match(tag):
            problems.append(
                f"{where}: image {image} is neither a digest nor a release-candidate tag "
                f"matching {RELEASE_CANDIDATE_TAG.pattern} (fix: let Image Updater set it, or "
                "write an rc-<version>-<sha7> tag)"
            )
    return problems


# --- Argo CD ------------------------------------------------------------------------

_GO_FIELD = re.compile(r"\{\{\s*\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def _render(value: Any, element: Mapping[str, Any], problems: list[str], where: str) -> Any:
    if isinstance(value, dict):
        return {key: _render(item, element, problems, where) for key, item in value.items()}
    if isinstance(value, list):
        return [_render(item, element, problems, where) for item in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in element:
            problems.append(f"{where}: template uses .{key}, which no element defines")
            return match.group(0)
        return str(element[key])

    rendered = _GO_FIELD.sub(substitute, value)
    if "{{" in rendered:
        problems.append(
            f"{where}: template expression in {value!r} is beyond what these checks render "
            "(fix: keep templates to {{.field}})"
        )
    return rendered


def applications(documents: Sequence[Document]) -> tuple[list[Document], list[str]]:
    """The Applications of a build, with those of its ApplicationSets rendered."""
    problems: list[str] = []
    rendered = list(find(documents, "Application"))
    for appset in find(documents, "ApplicationSet"):
        where = f"ApplicationSet/{_name(appset)}"
        spec = appset.get("spec", {})
        for generator in spec.get("generators", []):
            if set(generator) != {"list"}:
                problems.append(
                    f"{where}: generator {sorted(generator)} is not a list generator, which "
                    "is all these checks can expand (fix: list one element per component)"
                )
                continue
            for element in generator["list"].get("elements", []):
                template = _render(spec.get("template", {}), element, problems, where)
                rendered.append(
                    {
                        "apiVersion": "argoproj.io/v1alpha1",
                        "kind": "Application",
                        "metadata": {
                            "namespace": appset["metadata"].get("namespace"),
                            **template.get("metadata", {}),
                        },
                        "spec": template.get("spec", {}),
                    }
                )
    return rendered, problems


def check_sync_policy(apps: Sequence[Document], *, environment: str) -> list[str]:
    """DEV syncs automatically with prune and self-heal; STAGING and PROD never do."""
    problems = []
    if not apps:
        problems.append(f"no Application for {environment} (fix: add the ApplicationSet)")
    for app in apps:
        where = f"Application/{_name(app)}"
        automated = (app.get("spec", {}).get("syncPolicy") or {}).get("automated")
        if environment in PROMOTED_ENVIRONMENTS:
            if automated is not None and automated.get("enabled", True):
                problems.append(
                    f"{where}: automated sync in {environment}: a merge would deploy without "
                    "a release engineer (fix: remove syncPolicy.automated)"
                )
            continue
        if automated is None or automated.get("enabled") is False:
            problems.append(
                f"{where}: {environment} does not sync automatically (fix: "
                "syncPolicy.automated with prune: true and selfHeal: true)"
            )
            continue
        for flag in ("prune", "selfHeal"):
            if automated.get(flag) is not True:
                problems.append(f"{where}: syncPolicy.automated.{flag} is not true (fix: set it)")
    return problems


def check_application_sources(
    apps: Sequence[Document],
    argocd_documents: Sequence[Document],
    *,
    environment: str,
    repo_root: Path,
) -> list[str]:
    """Each Application deploys this environment's overlay, within its project."""
    problems = []
    projects = {_name(p): p for p in find(argocd_documents, "AppProject")}
    for app in apps:
        where = f"Application/{_name(app)}"
        spec = app.get("spec", {})
        source = spec.get("source") or {}
        path = str(source.get("path", ""))
        if Path(path).name != environment or not (repo_root / path / "kustomization.yaml").exists():
            problems.append(
                f"{where}: source.path {path!r} is not a {environment} overlay of this "
                f"repository (fix: deploy/overlays/{environment})"
            )
        project = projects.get(str(spec.get("project")))
        if project is None:
            problems.append(
                f"{where}: project {spec.get('project')!r} is not in this build (fix: add it)"
            )
            continue
        project_spec = project.get("spec", {})
        if source.get("repoURL") not in project_spec.get("sourceRepos", []):
            problems.append(
                f"{where}: repoURL {source.get('repoURL')} is not allowed by AppProject/"
                f"{_name(project)} (fix: list it in sourceRepos)"
            )
        namespace = (spec.get("destination") or {}).get("namespace")
        allowed = [d.get("namespace") for d in project_spec.get("destinations", [])]
        if not any(fnmatch.fnmatchcase(str(namespace), str(p)) for p in allowed):
            problems.append(
                f"{where}: namespace {namespace} is not a destination of AppProject/"
                f"{_name(project)} (fix: add it to spec.destinations)"
            )
    return problems


def check_project_allows(
    overlay_documents: Sequence[Document],
    apps: Sequence[Document],
    argocd_documents: Sequence[Document],
) -> list[str]:
    """The project allows every kind the overlay deploys, or the sync fails."""
    problems = []
    for project_name in sorted({str(a.get("spec", {}).get("project")) for a in apps}):
        for project in find(argocd_documents, "AppProject", project_name):
            spec = project.get("spec", {})
            namespaced = {
                (r.get("group", ""), r.get("kind"))
                for r in spec.get("namespaceResourceWhitelist", [])
            }
            cluster = {
                (r.get("group", ""), r.get("kind"))
                for r in spec.get("clusterResourceWhitelist", [])
            }
            for document in overlay_documents:
                kind = document.get("kind")
                group = _group(str(document.get("apiVersion", "")))
                allowed = cluster if kind in _CLUSTER_SCOPED_KINDS else namespaced
                if (group, kind) not in allowed and ("*", "*") not in allowed:
                    problems.append(
                        f"AppProject/{project_name}: does not allow {kind} ({group or 'core'}), "
                        "which the overlay deploys (fix: add it to the resource whitelist)"
                    )
    return problems


def _allow_tags_regexp(allow_tags: str | None) -> re.Pattern[str] | str:
    """The compiled ``regexp:`` of an allowTags value, or why it is unusable."""
    if not allow_tags:
        return "no allowTags: every tag of the repository, feature images included, is followed"
    if not allow_tags.startswith("regexp:"):
        return f"allowTags {allow_tags!r} is not a regexp: match function"
    try:
        return re.compile(allow_tags.removeprefix("regexp:"))
    except re.error as error:
        return f"allowTags {allow_tags!r} does not compile: {error}"


def _overlay_images(kustomization: Path) -> dict[str, Mapping[str, Any]]:
    document = yaml.safe_load(kustomization.read_text(encoding="utf-8")) or {}
    return {str(entry.get("name")): entry for entry in document.get("images") or []}


def check_image_updater(
    argocd_documents: Sequence[Document],
    apps: Sequence[Document],
    *,
    environment: str,
    repo_root: Path,
) -> list[str]:
    """DEV follows release candidates through Image Updater; nothing else is followed."""
    updaters = find(argocd_documents, "ImageUpdater")
    if environment in PROMOTED_ENVIRONMENTS:
        return [
            f"ImageUpdater/{_name(u)}: {environment} is promoted by digest only "
            f"(fix: remove it from deploy/argocd/{environment})"
            for u in updaters
        ]
    if not updaters:
        return [f"no ImageUpdater in {environment}: it would never get new release candidates"]
    problems = []
    app_names = [_name(a) for a in apps]
    for updater in updaters:
        spec = updater.get("spec", {})
        for ref in spec.get("applicationRefs", []):
            where = f"ImageUpdater/{_name(updater)} {ref.get('namePattern')}"
            if not any(fnmatch.fnmatchcase(n, str(ref.get("namePattern"))) for n in app_names):
                problems.append(
                    f"{where}: matches no Application of {environment} ({app_names}) "
                    "(fix: use the Application's name)"
                )
            write_back = ref.get("writeBackConfig") or spec.get("writeBackConfig") or {}
            target = str((write_back.get("gitConfig") or {}).get("writeBackTarget", ""))
            if not str(write_back.get("method", "")).startswith("git") or not target.startswith(
                "kustomization:/"
            ):
                problems.append(
                    f"{where}: writes back with {write_back.get('method')!r} to {target!r}: git "
                    f"must record what runs (fix: method: git, writeBackTarget: "
                    f"kustomization:/deploy/overlays/{environment})"
                )
                continue
            overlay = repo_root / target.removeprefix("kustomization:/")
            if overlay.name != environment or not (overlay / "kustomization.yaml").exists():
                problems.append(
                    f"{where}: write-back target {target} is not the {environment} overlay"
                )
                continue
            overlay_images = _overlay_images(overlay / "kustomization.yaml")
            for image in ref.get("images", []):
                problems += [
                    f"{where} image {image.get('alias')}: {p}"
                    for p in _check_followed_image(image, ref, spec, overlay_images)
                ]
    return problems


def _check_followed_image(
    image: Mapping[str, Any],
    ref: Mapping[str, Any],
    spec: Mapping[str, Any],
    overlay_images: Mapping[str, Mapping[str, Any]],
) -> Iterator[str]:
    def setting(key: str) -> Any:
        for level in (image, ref, spec):
            value = (level.get("commonUpdateSettings") or {}).get(key)
            if value is not None:
                return value
        return None

    strategy = setting("updateStrategy")
    if strategy != IMAGE_UPDATE_STRATEGY:
        yield (
            f"updateStrategy is {strategy!r}; release candidates are ordered by build time "
            f"(fix: updateStrategy: {IMAGE_UPDATE_STRATEGY})"
        )
    pattern = _allow_tags_regexp(setting("allowTags"))
    if isinstance(pattern, str):
        yield f'{pattern} (fix: allowTags: "regexp:{RELEASE_CANDIDATE_TAG.pattern}")'
    else:
        for tag in RELEASE_CANDIDATE_SAMPLES:
            if not pattern.search(tag):
                yield f"allowTags refuses the release candidate {tag!r}"
        for tag in FEATURE_TAG_SAMPLES + NEVER_FOLLOW_SAMPLES:
            if pattern.search(tag):
                yield f"allowTags accepts {tag!r}, which DEV must never run"

    targets = image.get("manifestTargets") or {}
    if len(targets) != 1:
        yield "manifestTargets needs exactly one of helm, kustomize or plugin"
    name = str((targets.get("kustomize") or {}).get("name", ""))
    entry = overlay_images.get(name)
    if entry is None:
        yield (
            f"manifestTargets.kustomize.name {name!r} is not an images: entry of the overlay "
            f"({sorted(overlay_images)})"
        )
        return
    repository = str(image.get("imageName", "")).split("@")[0]
    if _tag(repository) is not None:
        repository = repository.rsplit(":", 1)[0]
    if entry.get("newName", name) != repository:
        yield (
            f"follows {repository} but the overlay deploys {entry.get('newName', name)} "
            "(fix: make imageName the overlay's newName)"
        )
    current = entry.get("newTag")
    if current is not None and isinstance(pattern, re.Pattern) and not pattern.search(str(current)):
        yield f"the overlay's current tag {current!r} is not one Image Updater would pick"


def _subscriptions(document: Mapping[str, Any]) -> dict[str, list[str]]:
    """Trigger name -> recipients, from notifications.argoproj.io/subscribe.* annotations."""
    found: dict[str, list[str]] = {}
    annotations = document.get("metadata", {}).get("annotations") or {}
    for key, value in annotations.items():
        if key.startswith("notifications.argoproj.io/subscribe."):
            trigger = key.removeprefix("notifications.argoproj.io/subscribe.").split(".")[0]
            found.setdefault(trigger, []).extend(v for v in str(value).split(";") if v.strip())
    return found


def _check_triggers(
    config: Document | None, triggers: Iterable[str], *, config_name: str
) -> Iterator[str]:
    if config is None:
        yield f"ConfigMap {config_name} is not in the build (fix: include it)"
        return
    data = config.get("data") or {}
    services = [key for key in data if key.startswith("service.")]
    if not services:
        yield f"ConfigMap {config_name} defines no notification service (fix: service.slack)"
    for trigger in triggers:
        definition = data.get(f"trigger.{trigger}")
        if definition is None:
            yield f"ConfigMap {config_name} does not define trigger.{trigger} (fix: define it)"
            continue
        for condition in yaml.safe_load(definition) or []:
            for template in condition.get("send", []):
                if f"template.{template}" not in data:
                    yield (
                        f"ConfigMap {config_name}: trigger.{trigger} sends {template}, which "
                        f"is not defined (fix: add template.{template})"
                    )


def check_notifications(
    apps: Sequence[Document],
    argocd_documents: Sequence[Document],
    overlay_documents: Sequence[Document],
) -> list[str]:
    """Degraded health and failed syncs alert; so do aborted rollouts where there are any."""
    problems = []
    argocd_config = next(iter(find(argocd_documents, "ConfigMap", "argocd-notifications-cm")), None)
    for app in apps:
        subscriptions = _subscriptions(app)
        for trigger in ("on-health-degraded", "on-sync-failed"):
            if not subscriptions.get(trigger):
                problems.append(
                    f"Application/{_name(app)}: nobody is told {trigger} (fix: annotate "
                    f"notifications.argoproj.io/subscribe.{trigger}.slack: <channel>)"
                )
    problems += _check_triggers(
        argocd_config,
        ("on-health-degraded", "on-sync-failed"),
        config_name="argocd-notifications-cm",
    )
    rollouts = find(overlay_documents, "Rollout")
    if rollouts:
        rollouts_config = next(
            iter(find(argocd_documents, "ConfigMap", "argo-rollouts-notification-configmap")), None
        )
        problems += _check_triggers(
            rollouts_config,
            ("on-rollout-aborted",),
            config_name="argo-rollouts-notification-configmap",
        )
        for rollout in rollouts:
            if not _subscriptions(rollout).get("on-rollout-aborted"):
                problems.append(
                    f"Rollout/{_name(rollout)}: nobody is told when it aborts (fix: annotate "
                    "notifications.argoproj.io/subscribe.on-rollout-aborted.slack: <channel>)"
                )
    return problems


# --- whole tree ---------------------------------------------------------------------


def check_environment(
    environment: str,
    *,
    overlay_documents: Sequence[Document],
    argocd_documents: Sequence[Document],
    service: ServiceFacts,
    repo_root: Path,
) -> list[str]:
    """Every policy of one environment, from its overlay and its Argo CD builds."""
    apps, problems = applications(argocd_documents)
    problems += check_workloads(overlay_documents, environment=environment, service=service)
    problems += check_images(overlay_documents, environment=environment)
    problems += check_sync_policy(apps, environment=environment)
    problems += check_application_sources(
        apps, argocd_documents, environment=environment, repo_root=repo_root
    )
    problems += check_project_allows(overlay_documents, apps, argocd_documents)
    problems += check_image_updater(
        argocd_documents, apps, environment=environment, repo_root=repo_root
    )
    problems += check_notifications(apps, argocd_documents, overlay_documents)
    return problems


def check_tree(deploy_root: Path, *, service: ServiceFacts) -> list[str]:
    """Build and validate every kustomization of a tree, then check every environment."""
    deploy_root = deploy_root.resolve()
    problems: list[str] = []
    builds: dict[str, list[Document]] = {}
    for directory in buildable_kustomizations(deploy_root):
        where = _where(directory, deploy_root)
        try:
            builds[where] = kustomize_build(directory)
        except BuildError as error:
            problems.append(f"{error} (fix: make `kubectl kustomize {where}` succeed)")
    problems += validate_builtin(builds)
    for where, documents in builds.items():
        problems += validate_custom(documents, where=where)
        rendered, render_problems = applications(documents)
        problems += render_problems
        problems += validate_custom(
            [a for a in rendered if a not in documents], where=f"{where} (rendered)"
        )

    prefix = _where(deploy_root, deploy_root)
    for environment in ENVIRONMENTS:
        overlay = f"{prefix}/overlays/{environment}"
        argocd = f"{prefix}/argocd/{environment}"
        missing = [where for where in (overlay, argocd) if where not in builds]
        if missing:
            problems += [f"{where}: missing or not buildable" for where in missing]
            continue
        problems += [
            f"{environment}: {problem}"
            for problem in check_environment(
                environment,
                overlay_documents=builds[overlay],
                argocd_documents=builds[argocd],
                service=service,
                repo_root=deploy_root.parent,
            )
        ]
    return problems


# --- broken copies ----------------------------------------------------------------
# Every check must be seen failing on a broken tree; these make one.


def copy_tree(deploy_root: Path, parent: Path) -> Path:
    """A copy of ``deploy_root`` at ``parent/deploy``, so repo-relative paths still hold."""
    copy = parent / "deploy"
    shutil.copytree(deploy_root, copy)
    return copy


def replace_once(file: Path, old: str, new: str) -> None:
    """Replace ``old`` in ``file``; fail loudly if it is gone, so a test cannot go vacuous."""
    text = file.read_text(encoding="utf-8")
    if old not in text:
        raise AssertionError(f"{file} no longer contains {old!r}: update the test")
    file.write_text(text.replace(old, new, 1), encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.deploy_checks", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("deploy_root", type=Path, help="the deploy/ directory to check")
    parser.add_argument(
        "--service-config",
        type=Path,
        default=SERVICE_CONFIG,
        help="pipelines.toml of the service the manifests run (default: %(default)s)",
    )
    arguments = parser.parse_args(argv)
    service = load_service_facts(arguments.service_config)
    problems = check_tree(arguments.deploy_root, service=service)
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    if problems:
        sys.stderr.write(f"{len(problems)} problem(s) in {arguments.deploy_root}\n")
        return 1
    sys.stdout.write(f"{arguments.deploy_root}: every build, schema and policy check passed\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
