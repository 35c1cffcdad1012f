"""A whole ``deploy/`` tree: build every kustomization, validate it, check every environment."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pipelines.config import ServiceConfig
from pipelines_cli.deploy_checks.argocd import (
    applications,
    check_application_sources,
    check_image_updater,
    check_notifications,
    check_project_allows,
    check_sync_policy,
)
from pipelines_cli.deploy_checks.environments import ENVIRONMENTS
from pipelines_cli.deploy_checks.images import check_images
from pipelines_cli.deploy_checks.manifests import (
    BuildError,
    Document,
    buildable_kustomizations,
    kustomize_build,
    where_of,
)
from pipelines_cli.deploy_checks.problems import problem, within
from pipelines_cli.deploy_checks.schemas import validate_builtin, validate_custom
from pipelines_cli.deploy_checks.workloads import check_workloads


def check_environment(
    environment: str,
    *,
    overlay_documents: Sequence[Document],
    argocd_documents: Sequence[Document],
    service: ServiceConfig,
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


def check_tree(deploy_root: Path, *, service: ServiceConfig) -> list[str]:
    """Build and validate every kustomization of a tree, then check every environment."""
    deploy_root = deploy_root.resolve()
    problems: list[str] = []
    builds: dict[str, list[Document]] = {}
    for directory in buildable_kustomizations(deploy_root):
        where = where_of(directory, deploy_root)
        try:
            builds[where] = kustomize_build(directory)
        except BuildError as error:
            problems.append(problem(str(error), fix=f"make `kubectl kustomize {where}` succeed"))
    problems += validate_builtin(builds)
    for where, documents in builds.items():
        problems += validate_custom(documents, where=where)
        rendered, render_problems = applications(documents)
        problems += render_problems
        problems += validate_custom(
            [a for a in rendered if a not in documents], where=f"{where} (rendered)"
        )

    prefix = where_of(deploy_root, deploy_root)
    for environment in ENVIRONMENTS:
        overlay = f"{prefix}/overlays/{environment}"
        argocd = f"{prefix}/argocd/{environment}"
        missing = [where for where in (overlay, argocd) if where not in builds]
        if missing:
            problems += [problem(f"{where}: missing or not buildable") for where in missing]
            continue
        problems += within(
            environment,
            check_environment(
                environment,
                overlay_documents=builds[overlay],
                argocd_documents=builds[argocd],
                service=service,
                repo_root=deploy_root.parent,
            ),
        )
    return problems
