"""Argo CD: how each environment syncs, what it deploys, what it follows, who is told.

- DEV syncs automatically with prune and self-heal; STAGING and PROD never do.
- Each Application deploys its environment's overlay of this repository,
  within an AppProject that allows its source, namespace and kinds.
- Argo CD Image Updater follows release-candidate tags in DEV only, and
  writes what it picked back to git.
- Degraded applications, failed syncs and aborted rollouts alert someone.

ApplicationSets are rendered into their Applications first (list generators
and ``{{.field}}`` templates, which is all deploy/ uses).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from pipelines_cli.deploy_checks.environments import PROMOTED_ENVIRONMENTS
from pipelines_cli.deploy_checks.images import (
    FEATURE_TAG_SAMPLES,
    NEVER_FOLLOW_SAMPLES,
    RELEASE_CANDIDATE_SAMPLES,
    RELEASE_CANDIDATE_TAG,
    image_tag,
)
from pipelines_cli.deploy_checks.manifests import Document, api_group, find, name_of
from pipelines_cli.deploy_checks.problems import problem, within

IMAGE_UPDATE_STRATEGY = "newest-build"

_CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
}

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
            problems.append(problem(f"{where}: template uses .{key}, which no element defines"))
            return match.group(0)
        return str(element[key])

    rendered = _GO_FIELD.sub(substitute, value)
    if "{{" in rendered:
        problems.append(
            problem(
                f"{where}: template expression in {value!r} is beyond what these checks render",
                fix="keep templates to {{.field}}",
            )
        )
    return rendered


def applications(documents: Sequence[Document]) -> tuple[list[Document], list[str]]:
    """The Applications of a build, with those of its ApplicationSets rendered."""
    problems: list[str] = []
    rendered = list(find(documents, "Application"))
    for appset in find(documents, "ApplicationSet"):
        where = f"ApplicationSet/{name_of(appset)}"
        spec = appset.get("spec", {})
        for generator in spec.get("generators", []):
            if set(generator) != {"list"}:
                problems.append(
                    problem(
                        f"{where}: generator {sorted(generator)} is not a list generator, "
                        "which is all these checks can expand",
                        fix="list one element per component",
                    )
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
        problems.append(problem(f"no Application for {environment}", fix="add the ApplicationSet"))
    for app in apps:
        where = f"Application/{name_of(app)}"
        automated = (app.get("spec", {}).get("syncPolicy") or {}).get("automated")
        if environment in PROMOTED_ENVIRONMENTS:
            if automated is not None and automated.get("enabled", True):
                problems.append(
                    problem(
                        f"{where}: automated sync in {environment}: a merge would deploy "
                        "without a release engineer",
                        fix="remove syncPolicy.automated",
                    )
                )
            continue
        if automated is None or automated.get("enabled") is False:
            problems.append(
                problem(
                    f"{where}: {environment} does not sync automatically",
                    fix="syncPolicy.automated with prune: true and selfHeal: true",
                )
            )
            continue
        for flag in ("prune", "selfHeal"):
            if automated.get(flag) is not True:
                problems.append(
                    problem(f"{where}: syncPolicy.automated.{flag} is not true", fix="set it")
                )
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
    projects = {name_of(p): p for p in find(argocd_documents, "AppProject")}
    for app in apps:
        where = f"Application/{name_of(app)}"
        spec = app.get("spec", {})
        source = spec.get("source") or {}
        path = str(source.get("path", ""))
        if Path(path).name != environment or not (repo_root / path / "kustomization.yaml").exists():
            problems.append(
                problem(
                    f"{where}: source.path {path!r} is not a {environment} overlay of this "
                    "repository",
                    fix=f"deploy/overlays/{environment}",
                )
            )
        project = projects.get(str(spec.get("project")))
        if project is None:
            problems.append(
                problem(
                    f"{where}: project {spec.get('project')!r} is not in this build", fix="add it"
                )
            )
            continue
        project_spec = project.get("spec", {})
        if source.get("repoURL") not in project_spec.get("sourceRepos", []):
            problems.append(
                problem(
                    f"{where}: repoURL {source.get('repoURL')} is not allowed by AppProject/"
                    f"{name_of(project)}",
                    fix="list it in sourceRepos",
                )
            )
        namespace = (spec.get("destination") or {}).get("namespace")
        allowed = [d.get("namespace") for d in project_spec.get("destinations", [])]
        if not any(fnmatch.fnmatchcase(str(namespace), str(p)) for p in allowed):
            problems.append(
                problem(
                    f"{where}: namespace {namespace} is not a destination of AppProject/"
                    f"{name_of(project)}",
                    fix="add it to spec.destinations",
                )
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
                group = api_group(str(document.get("apiVersion", "")))
                allowed = cluster if kind in _CLUSTER_SCOPED_KINDS else namespaced
                if (group, kind) not in allowed and ("*", "*") not in allowed:
                    problems.append(
                        problem(
                            f"AppProject/{project_name}: does not allow {kind} "
                            f"({group or 'core'}), which the overlay deploys",
                            fix="add it to the resource whitelist",
                        )
                    )
    return problems


# --- Image Updater ------------------------------------------------------------------


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
            problem(
                f"ImageUpdater/{name_of(u)}: {environment} is promoted by digest only",
                fix=f"remove it from deploy/argocd/{environment}",
            )
            for u in updaters
        ]
    if not updaters:
        return [
            problem(f"no ImageUpdater in {environment}: it would never get new release candidates")
        ]
    problems = []
    app_names = [name_of(a) for a in apps]
    for updater in updaters:
        spec = updater.get("spec", {})
        for ref in spec.get("applicationRefs", []):
            where = f"ImageUpdater/{name_of(updater)} {ref.get('namePattern')}"
            if not any(fnmatch.fnmatchcase(n, str(ref.get("namePattern"))) for n in app_names):
                problems.append(
                    problem(
                        f"{where}: matches no Application of {environment} ({app_names})",
                        fix="use the Application's name",
                    )
                )
            write_back = ref.get("writeBackConfig") or spec.get("writeBackConfig") or {}
            target = str((write_back.get("gitConfig") or {}).get("writeBackTarget", ""))
            if not str(write_back.get("method", "")).startswith("git") or not target.startswith(
                "kustomization:/"
            ):
                problems.append(
                    problem(
                        f"{where}: writes back with {write_back.get('method')!r} to {target!r}: "
                        "git must record what runs",
                        fix="method: git, writeBackTarget: "
                        f"kustomization:/deploy/overlays/{environment}",
                    )
                )
                continue
            overlay = repo_root / target.removeprefix("kustomization:/")
            if overlay.name != environment or not (overlay / "kustomization.yaml").exists():
                problems.append(
                    problem(f"{where}: write-back target {target} is not the {environment} overlay")
                )
                continue
            overlay_images = _overlay_images(overlay / "kustomization.yaml")
            for image in ref.get("images", []):
                problems += within(
                    f"{where} image {image.get('alias')}",
                    _check_followed_image(image, ref, spec, overlay_images),
                )
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
        yield problem(
            f"updateStrategy is {strategy!r}; release candidates are ordered by build time",
            fix=f"updateStrategy: {IMAGE_UPDATE_STRATEGY}",
        )
    pattern = _allow_tags_regexp(setting("allowTags"))
    if isinstance(pattern, str):
        yield problem(pattern, fix=f'allowTags: "regexp:{RELEASE_CANDIDATE_TAG.pattern}"')
    else:
        for tag in RELEASE_CANDIDATE_SAMPLES:
            if not pattern.search(tag):
                yield problem(f"allowTags refuses the release candidate {tag!r}")
        for tag in FEATURE_TAG_SAMPLES + NEVER_FOLLOW_SAMPLES:
            if pattern.search(tag):
                yield problem(f"allowTags accepts {tag!r}, which DEV must never run")

    targets = image.get("manifestTargets") or {}
    if len(targets) != 1:
        yield problem("manifestTargets needs exactly one of helm, kustomize or plugin")
    name = str((targets.get("kustomize") or {}).get("name", ""))
    entry = overlay_images.get(name)
    if entry is None:
        yield problem(
            f"manifestTargets.kustomize.name {name!r} is not an images: entry of the overlay "
            f"({sorted(overlay_images)})"
        )
        return
    repository = str(image.get("imageName", "")).split("@")[0]
    if image_tag(repository) is not None:
        repository = repository.rsplit(":", 1)[0]
    if entry.get("newName", name) != repository:
        yield problem(
            f"follows {repository} but the overlay deploys {entry.get('newName', name)}",
            fix="make imageName the overlay's newName",
        )
    current = entry.get("newTag")
    if current is not None and isinstance(pattern, re.Pattern) and not pattern.search(str(current)):
        yield problem(f"the overlay's current tag {current!r} is not one Image Updater would pick")


# --- notifications ------------------------------------------------------------------


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
        yield problem(f"ConfigMap {config_name} is not in the build", fix="include it")
        return
    data = config.get("data") or {}
    services = [key for key in data if key.startswith("service.")]
    if not services:
        yield problem(
            f"ConfigMap {config_name} defines no notification service", fix="service.slack"
        )
    for trigger in triggers:
        definition = data.get(f"trigger.{trigger}")
        if definition is None:
            yield problem(
                f"ConfigMap {config_name} does not define trigger.{trigger}", fix="define it"
            )
            continue
        try:
            conditions = yaml.safe_load(definition) or []
        except yaml.YAMLError as error:
            yield problem(
                f"ConfigMap {config_name}: trigger.{trigger} is not YAML: {error}",
                fix="write it as a YAML list of conditions, each with `send: [template]`",
            )
            continue
        for condition in conditions:
            for template in condition.get("send", []):
                if f"template.{template}" not in data:
                    yield problem(
                        f"ConfigMap {config_name}: trigger.{trigger} sends {template}, which "
                        "is not defined",
                        fix=f"add template.{template}",
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
                    problem(
                        f"Application/{name_of(app)}: nobody is told {trigger}",
                        fix=f"annotate notifications.argoproj.io/subscribe.{trigger}.slack: "
                        "<channel>",
                    )
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
                    problem(
                        f"Rollout/{name_of(rollout)}: nobody is told when it aborts",
                        fix="annotate notifications.argoproj.io/subscribe.on-rollout-aborted"
                        ".slack: <channel>",
                    )
                )
    return problems
