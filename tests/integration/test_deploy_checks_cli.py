"""`python -m pipelines_cli.deploy_checks deploy/`: the entry point a pre-commit hook calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.deploy_trees import copy_tree, replace_once

pytestmark = pytest.mark.tools


def run_checks(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines_cli.deploy_checks", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_projects_tree_passes() -> None:
    result = run_checks("deploy/")

    assert result.returncode == 0, result.stderr
    assert "every build, schema and policy check passed" in result.stdout
    assert result.stderr == ""


def test_a_broken_tree_fails_and_says_where_and_how_to_fix(tmp_path: Path) -> None:
    tree = copy_tree(ROOT / "deploy", tmp_path)
    replace_once(tree / "base/workload/deployment.yaml", "maxUnavailable: 0", "maxUnavailable: 1")
    replace_once(
        tree / "argocd/staging/applicationset.yaml",
        "      syncPolicy:\n",
        "      syncPolicy:\n        automated: {prune: true, selfHeal: true}\n",
    )

    result = run_checks(str(tree))

    assert result.returncode == 1
    lines = result.stderr.splitlines()
    problem = (
        "dev: Deployment/hello-service: rollingUpdate.maxUnavailable is 1: old pods would "
        "stop before new ones are ready"
    )
    assert problem in lines
    # The fix on the line below the problem, as every error of the project prints it.
    assert lines[lines.index(problem) + 1] == "  fix: set rollingUpdate.maxUnavailable: 0"
    assert any(
        line.startswith("staging: Application/hello-service-staging: automated sync")
        for line in lines
    )
    assert lines[-1] == f"2 problem(s) in {tree}"


def test_a_kustomization_that_does_not_build_fails_the_run(tmp_path: Path) -> None:
    tree = copy_tree(ROOT / "deploy", tmp_path)
    replace_once(tree / "overlays/local/kustomization.yaml", "  - postgres.yaml", "  - gone.yaml")

    result = run_checks(str(tree))

    assert result.returncode == 1
    assert "deploy/overlays/local: kubectl kustomize failed" in result.stderr


def test_termination_grace_follows_the_services_drain_time(tmp_path: Path) -> None:
    config = tmp_path / "pipelines.toml"
    config.write_text(
        '[service]\nname = "hello-service"\nport = 8080\ndrain_seconds = 30\n', encoding="utf-8"
    )

    result = run_checks("deploy/", "--service-config", str(config))

    assert result.returncode == 1
    assert "terminationGracePeriodSeconds 30 is not longer than preStop 5 s + drain 30 s" in (
        result.stderr
    )


def test_it_runs_from_any_directory_with_what_it_ships(tmp_path: Path) -> None:
    # Nothing read relative to this repository: the schemas are package data.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines_cli.deploy_checks",
            str(ROOT / "deploy"),
            "--service-config",
            str(ROOT / "examples/hello-service/pipelines.toml"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (("no-such-deploy/",), "deploy-checks: no-such-deploy: not a directory\n  fix: "),
        (
            ("deploy/", "--service-config", "no/pipelines.toml"),
            "deploy-checks: no/pipelines.toml: not found\n  fix: ",
        ),
    ],
    ids=["no-tree", "no-service-config"],
)
def test_what_it_cannot_check_is_one_message_and_exit_2(
    arguments: tuple[str, ...], says: str
) -> None:
    result = run_checks(*arguments)

    assert result.returncode == 2
    assert result.stderr.startswith(says), result.stderr
    assert "Traceback" not in result.stderr
