"""The real validators on the three CI wrappers and the shared-engine files.

jactionlint (with shellcheck on PATH, so `run:` scripts are checked too) and
check-jsonschema on the workflows; check-jsonschema on .gitlab-ci.yml;
npm-groovy-lint on the Jenkinsfile; shellcheck on the scripts GitLab and
Jenkins run; yamllint on every YAML file; kubernetes-validate on the engine's
client RBAC. Each validator is also fed a broken copy and must refuse it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from pipelines_cli.deploy_checks import tool, validate_builtin
from tests.ci_wrappers import (
    GITHUB_WORKFLOWS,
    GITLAB_CI,
    JENKINSFILE,
    PROJECT_WORKFLOWS,
    ROOT,
    gitlab_jobs,
    jenkins_pipeline,
    jenkins_stages,
    sh_scripts,
)

pytestmark = pytest.mark.tools

GROOVY_LINT = ROOT / "node_modules" / ".bin" / "npm-groovy-lint"
ENGINE_DIR = ROOT / "deploy" / "dagger-engine"


def run(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env=env,
        timeout=300,
    )


def venv_path() -> dict[str, str]:
    """PATH with the virtualenv first, so jactionlint finds its shellcheck."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(tool('shellcheck')).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def replaced(source: Path, target: Path, old: str, new: str) -> Path:
    text = source.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {source.name}: the test is stale"
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


# --- GitHub Actions ---------------------------------------------------------------------------


def jactionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    return run(
        tool("jactionlint"), "--profile", "correctness", "--no-online", *files, env=venv_path()
    )


def test_jactionlint_passes_the_workflows() -> None:
    files = sorted(GITHUB_WORKFLOWS.glob("*.yml"))
    assert len([f for f in files if f.name not in PROJECT_WORKFLOWS]) == 3  # the wrappers
    result = jactionlint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        # An expression on a context that does not exist.
        ("${{ github.ref_name }}", "${{ github.branch_name }}", "branch_name"),
        # A shell mistake inside `run:`: only reported when shellcheck runs.
        ('--sha="$PIPELINE_SHA"', "--sha=$PIPELINE_SHA", "SC2086"),
    ],
)
def test_jactionlint_refuses_a_broken_workflow(
    old: str, new: str, says: str, tmp_path: Path
) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    broken = replaced(GITHUB_WORKFLOWS / "dev.yml", workflows / "dev.yml", old, new)
    result = jactionlint(broken)
    assert result.returncode != 0
    assert says in result.stdout + result.stderr


def check_jsonschema(
    schema: str, *files: Path, gitlab: bool = False
) -> subprocess.CompletedProcess[str]:
    extra = ["--data-transform", "gitlab-ci", "--regex-variant", "nonunicode"] if gitlab else []
    return run(tool("check-jsonschema"), "--builtin-schema", schema, *extra, *files)


def test_workflows_match_githubs_schema() -> None:
    result = check_jsonschema("vendor.github-workflows", *sorted(GITHUB_WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_github_schema_refuses_a_broken_workflow(tmp_path: Path) -> None:
    broken = replaced(
        GITHUB_WORKFLOWS / "release.yml", tmp_path / "release.yml", "runs-on:", "runs_on:"
    )
    result = check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode != 0
    assert "release.yml" in result.stdout + result.stderr


# --- GitLab CI ------------------------------------------------------------------------------------


def test_gitlab_ci_matches_gitlabs_schema() -> None:
    result = check_jsonschema("vendor.gitlab-ci", GITLAB_CI, gitlab=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gitlab_schema_refuses_a_broken_file(tmp_path: Path) -> None:
    # A misspelt key of the AWS id_token: GitLab would reject the pipeline.
    broken = replaced(
        GITLAB_CI, tmp_path / ".gitlab-ci.yml", "      aud: https://gitlab.com", "      audience: x"
    )
    result = check_jsonschema("vendor.gitlab-ci", broken, gitlab=True)
    assert result.returncode != 0
    assert "'audience' was unexpected" in result.stdout + result.stderr


# --- the shell GitLab and Jenkins run ----------------------------------------------------------


def gitlab_scripts(path: Path = GITLAB_CI) -> str:
    """Every job's before_script and script, as one POSIX sh script."""
    parts = []
    for job in gitlab_jobs(path).values():
        for key in ("before_script", "script"):
            value = job.get(key) or []
            parts.extend(value if isinstance(value, list) else [value])
    return "\n".join(parts)


def jenkins_scripts(path: Path = JENKINSFILE) -> str:
    stages = jenkins_stages(jenkins_pipeline(path))
    return "\n".join(s.value for stage in stages.values() for s in sh_scripts(stage.text))


def shellcheck(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # The CI images run busybox or dash sh: check for POSIX sh, not bash.
    file = tmp_path / "script.sh"
    file.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    return run(tool("shellcheck"), "--shell=sh", "--severity=style", file)


@pytest.mark.parametrize("source", ["gitlab", "jenkins"])
def test_shellcheck_passes_the_scripts(source: str, tmp_path: Path) -> None:
    script = gitlab_scripts() if source == "gitlab" else jenkins_scripts()
    assert "dagger call" in script
    assert "sha256sum -c" in script
    result = shellcheck(script, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_refuses_a_broken_script(tmp_path: Path) -> None:
    broken = replaced(
        JENKINSFILE,
        tmp_path / "Jenkinsfile",
        'tar -xzf "${tarball}" dagger',
        "tar -xzf ${tarball} dagger",
    )
    result = shellcheck(jenkins_scripts(broken), tmp_path)
    assert result.returncode != 0
    assert "SC2086" in result.stdout


# --- Jenkins ------------------------------------------------------------------------------


def groovy_lint(file: Path) -> subprocess.CompletedProcess[str]:
    if not GROOVY_LINT.exists():
        pytest.skip(
            "node_modules/.bin/npm-groovy-lint is absent: run `npm ci` at the repository root "
            "(.ci/run does) to install the pinned linter from package-lock.json"
        )
    # Its own directory: the linter reads any .groovylintrc it finds upwards.
    return run(GROOVY_LINT, "--noserver", "--failon", "error", "--no-insight", file)


def test_npm_groovy_lint_passes_the_jenkinsfile(tmp_path: Path) -> None:
    copy = tmp_path / "Jenkinsfile"
    shutil.copy(JENKINSFILE, copy)
    result = groovy_lint(copy)
    assert result.returncode == 0, result.stdout + result.stderr


def test_npm_groovy_lint_refuses_a_broken_jenkinsfile(tmp_path: Path) -> None:
    broken = replaced(JENKINSFILE, tmp_path / "Jenkinsfile", "    stages {\n", "    stages {{\n")
    result = groovy_lint(broken)
    assert result.returncode != 0
    assert "error" in result.stdout.lower()


# --- YAML and the shared engine's manifests -----------------------------------------------------


YAML_FILES = [
    *sorted(GITHUB_WORKFLOWS.glob("*.yml")),
    GITLAB_CI,
    *sorted(ENGINE_DIR.glob("*.yaml")),
]


def test_yamllint_passes_every_ci_yaml_file() -> None:
    result = run(tool("yamllint"), "--strict", *YAML_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_refuses_a_broken_file(tmp_path: Path) -> None:
    broken = replaced(
        ENGINE_DIR / "values.yaml",
        tmp_path / "values.yaml",
        "  kind: StatefulSet\n",
        "  kind: StatefulSet\n  kind: DaemonSet\n",
    )
    result = run(tool("yamllint"), "--strict", "-c", ROOT / ".yamllint.yaml", broken)
    assert result.returncode != 0
    assert "duplication of key" in result.stdout


def rbac_documents(path: Path) -> list[dict[str, object]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def test_engine_client_rbac_is_valid_kubernetes() -> None:
    documents = rbac_documents(ENGINE_DIR / "ci-client-rbac.yaml")
    assert validate_builtin({"deploy/dagger-engine/ci-client-rbac.yaml": documents}) == []
    role = next(doc for doc in documents if doc["kind"] == "Role")
    # Exactly what `kubectl exec` into the engine pod needs.
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
    ]


def test_kubernetes_validate_refuses_broken_rbac(tmp_path: Path) -> None:
    broken = replaced(
        ENGINE_DIR / "ci-client-rbac.yaml",
        tmp_path / "rbac.yaml",
        "  name: dagger-client\n  namespace: dagger\nroleRef:",
        "  name: dagger-client\n  namespace: dagger\nroleReference:",
    )
    problems = validate_builtin({"broken-rbac": rbac_documents(broken)})
    assert any("broken-rbac" in problem for problem in problems), problems
