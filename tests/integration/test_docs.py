"""The docs site builds strictly, and its snippets are files that are validated.

``mkdocs build --strict`` fails on a broken link, a missing nav page, a bad
anchor or a missing snippet file; these tests build the real site, then show
the build fails on a broken copy. Every file the docs include with
``--8<--`` must have a validator registered below, which the test runs: a
snippet shows only what a test has checked.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.config import parse_config
from tests.ci_policies import (
    github_policy_problems,
    gitlab_policy_problems,
    jenkins_structure_problems,
    service_dagger_json_problems,
)
from tests.ci_wrappers import caller_problems, read_caller, split_component
from tests.module_release import project_version
from tests.service_hooks import config_problems
from tests.trust_policies import documented_policy_problems

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.tools

_SNIPPET = re.compile(r'^\s*--8<-- "([^"]+)"\s*$', re.MULTILINE)
MODULE = f"github.com/acme/portable-pipelines@v{project_version()}"


def docs_hook() -> dict[str, Any]:
    """The `mkdocs` hook of .pre-commit-config.yaml."""
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    found: dict[str, Any] = next(hook for hook in hooks if hook["id"] == "mkdocs")
    return found


def mkdocs_build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """Build the site with the hook's own command line, into ``site``."""
    command = docs_hook()["entry"].split()
    assert command[0] == "mkdocs"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "NO_COLOR": "1"}
    # Snippet paths are relative to the working directory, as in the hook.
    return subprocess.run(
        [str(VENV_BIN / "mkdocs"), *command[1:], "--site-dir", str(site)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def snippet_files(docs: Path) -> set[str]:
    return {
        match
        for page in docs.rglob("*.md")
        for match in _SNIPPET.findall(page.read_text(encoding="utf-8"))
    }


def copy_of_the_docs(tmp_path: Path) -> Path:
    """The site's sources (config, pages, snippet files) in a scratch directory."""
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "docs", copy / "docs")
    shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
    for name in snippet_files(ROOT / "docs"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, copy / name)
    return copy


def test_the_docs_build_strictly(tmp_path: Path) -> None:
    site = tmp_path / "site"
    result = mkdocs_build(ROOT, site)
    assert result.returncode == 0, result.stdout + result.stderr
    for page in ("index.html", "quickstart/index.html", "configuration/index.html"):
        assert (site / page).is_file(), page
    # A snippet is rendered from its file, not left as a directive.
    local = (site / "local-development" / "index.html").read_text(encoding="utf-8")
    assert "service_healthy" in local
    assert "--8&lt;--" not in local
    assert 'class="mermaid"' in (site / "index.html").read_text(encoding="utf-8")
    # The three service-side files are on the adoption page, from their files.
    adopt = (site / "adopt" / "index.html").read_text(encoding="utf-8")
    assert "--8&lt;--" not in adopt
    for text in (
        "acme/portable-pipelines/.github/workflows/pipelines.yml@v",
        "gitlab.com/acme/portable-pipelines/pipelines@v",
        "portablePipelines",
        "customizations",
    ):
        assert text in adopt, text
    # The snippets are included, not published as pages.
    assert not (site / "snippets").exists()


@pytest.mark.parametrize(
    ("page", "old", "new", "expected"),
    [
        ("index.md", "(quickstart.md)", "(quick-start.md)", "quick-start.md"),
        ("security.md", "(configuration.md#publish)", "(configuration.md#publsh)", "publsh"),
        (
            "local-development.md",
            '--8<-- "examples/hello-service/compose.yaml"',
            '--8<-- "examples/hello-service/compose.yml"',
            "compose.yml",
        ),
        (
            "adopt.md",
            '--8<-- "docs/snippets/service/Jenkinsfile"',
            '--8<-- "docs/snippets/service/Jenkinsfile.groovy"',
            "Jenkinsfile.groovy",
        ),
    ],
    ids=["broken-link", "broken-anchor", "missing-snippet", "missing-service-file"],
)
def test_a_broken_page_fails_the_build(
    tmp_path: Path, page: str, old: str, new: str, expected: str
) -> None:
    copy = copy_of_the_docs(tmp_path)
    path = copy / "docs" / page
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = mkdocs_build(copy, tmp_path / "site")
    assert result.returncode != 0
    assert expected in result.stdout + result.stderr


# --- every snippet file is validated -------------------------------------------------


def _run(*args: str) -> None:
    result = subprocess.run(list(args), cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(args)}:\n{result.stdout}{result.stderr}"


def _pipelines_toml(path: Path) -> None:
    parse_config(path.read_text(encoding="utf-8"), file=str(path))


def _compose(path: Path) -> None:
    _run(str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.compose-spec", str(path))


def _kustomization(path: Path) -> None:
    _run(str(VENV_BIN / "kubectl"), "kustomize", str(path.parent))


def _pre_commit_config(path: Path) -> None:
    _run(str(VENV_BIN / "pre-commit"), "validate-config", str(path))


def _service_pre_commit_config(path: Path) -> None:
    """A service's hook config: valid for pre-commit, this repository at this release."""
    _pre_commit_config(path)
    _run(str(VENV_BIN / "yamllint"), "--strict", str(path))
    assert not config_problems(path)


def _module_variable(path: Path) -> None:
    _run(str(VENV_BIN / "shellcheck"), str(path))
    assert f"export PIPELINES_MODULE={MODULE}\n" in path.read_text(encoding="utf-8")


def _github_schema_and_lint(path: Path) -> None:
    _run(
        str(VENV_BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", str(path)
    )
    _run(str(VENV_BIN / "jactionlint"), "--profile", "correctness", "--no-online", str(path))


def _reusable_workflow(path: Path) -> None:
    _github_schema_and_lint(path)
    assert github_policy_problems(path.parent) == []


def _service_workflow(path: Path) -> None:
    _github_schema_and_lint(path)
    assert github_policy_problems(path.parent / "no-such-directory", extra=[path]) == []
    assert caller_problems(read_caller(path)) == []


def _gitlab_schema(*paths: Path) -> None:
    _run(
        str(VENV_BIN / "check-jsonschema"),
        "--builtin-schema",
        "vendor.gitlab-ci",
        "--data-transform",
        "gitlab-ci",
        "--regex-variant",
        "nonunicode",
        *map(str, paths),
    )


def _service_gitlab(path: Path) -> None:
    _gitlab_schema(path)
    assert caller_problems(read_caller(path)) == []


def _component(path: Path) -> None:
    with tempfile.TemporaryDirectory() as directory:
        header, jobs = split_component(path)
        parts = [Path(directory) / "spec.yml", Path(directory) / "jobs.yml"]
        parts[0].write_text(header, encoding="utf-8")
        parts[1].write_text(jobs, encoding="utf-8")
        _gitlab_schema(*parts)
    assert gitlab_policy_problems(path) == []


def _service_jenkinsfile(path: Path) -> None:
    # npm-groovy-lint runs on it in tests/integration/test_ci_wrappers.py, and
    # the library runs it in tests/integration/test_jenkins_library.py.
    assert caller_problems(read_caller(path)) == []


def _library(path: Path) -> None:
    assert jenkins_structure_problems(path) == []


def _service_dagger_json(path: Path) -> None:
    assert service_dagger_json_problems(path) == []


# Snippet file -> the check that proves it is valid. A new snippet needs an entry.
def _trust_policy(path: Path) -> None:
    """An IAM trust policy: JSON, pinned to its provider, audience and subject.

    What each role lets in is evaluated in tests/unit/test_trust_model.py.
    """
    assert documented_policy_problems(path) == []


VALIDATORS: dict[str, Callable[[Path], None]] = {
    "examples/hello-service/pipelines.toml": _pipelines_toml,
    "examples/hello-service/compose.yaml": _compose,
    "deploy/overlays/local/kustomization.yaml": _kustomization,
    ".pre-commit-config.yaml": _pre_commit_config,
    "docs/snippets/module.sh": _module_variable,
    "docs/snippets/service/.github/workflows/pipelines.yml": _service_workflow,
    "docs/snippets/service/.gitlab-ci.yml": _service_gitlab,
    "docs/snippets/service/Jenkinsfile": _service_jenkinsfile,
    "docs/snippets/service/dagger.json": _service_dagger_json,
    "docs/snippets/service/.pre-commit-config.yaml": _service_pre_commit_config,
    "docs/snippets/service/.pre-commit-config.dagger.yaml": _service_pre_commit_config,
    ".github/workflows/pipelines.yml": _reusable_workflow,
    "templates/pipelines/template.yml": _component,
    "vars/portablePipelines.groovy": _library,
    **{
        f"docs/snippets/trust/{ci}-{role}.json": _trust_policy
        for ci in ("github", "gitlab", "jenkins")
        for role in ("dev", "release")
    },
}


def test_the_docs_hook_runs_when_a_page_or_a_snippet_file_changes() -> None:
    watched = re.compile(docs_hook()["files"])
    pages = [str(p.relative_to(ROOT)) for p in (ROOT / "docs").rglob("*.md")]
    for name in ["mkdocs.yml", *pages, *snippet_files(ROOT / "docs")]:
        assert watched.search(name), f"the mkdocs hook does not run when {name} changes"


def test_every_snippet_file_has_a_validator() -> None:
    included = snippet_files(ROOT / "docs")
    assert included, "the docs include no snippet: the pattern above is out of date"
    unchecked = sorted(included - set(VALIDATORS))
    assert not unchecked, f"snippets without a validator in {__name__}: {unchecked}"


@pytest.mark.parametrize("name", sorted(VALIDATORS))
def test_each_snippet_file_is_valid(name: str) -> None:
    VALIDATORS[name](ROOT / name)
