"""The git hooks of .pre-commit-config.yaml, run for real in temporary repositories.

- The commit-msg hook, installed with ``pre-commit install``, refuses a commit
  without a ticket id and accepts one with it, or on a ticket branch, and lets
  merges and reverts through.
- The file hooks pass a set of good files (a GitHub workflow keyed by ``on:``,
  GitLab CI with ``!reference``, multi-document Kubernetes YAML, a SAM-style
  template with short-form tags) without noise, and each one fails on a
  broken copy: so every hook is wired to its files and its tool.

Hooks that need this repository's own tree (mypy over the packages, the
deploy/ checks, the docs build) are skipped here: ``pre-commit run
--all-files`` on the repository runs them, and tests/integration/test_docs.py
and the deploy checks' own tests show they fail on broken input.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.service_hooks import hook_environment

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent

pytestmark = pytest.mark.tools

# Hooks that read this repository's own tree rather than the files given.
REPOSITORY_HOOKS = ("mypy", "deploy-checks", "mkdocs")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment: the venv's tools first, no user git config or cache,
    no package index (as the service hooks' test: tests/service_hooks.py)."""
    return hook_environment(tmp_path)


def run(
    repo: Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(args), cwd=repo, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def new_repo(tmp_path: Path, env: dict[str, str]) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    run(repo, env, "git", "init", "--quiet", "--initial-branch=main")
    for name in (".pre-commit-config.yaml", ".yamllint.yaml"):
        shutil.copy(ROOT / name, repo / name)
    run(repo, env, "git", "add", ".")
    return repo


def commit(repo: Path, env: dict[str, str], message: str) -> subprocess.CompletedProcess[str]:
    """Commit a change (so it can be reverted) with ``message``."""
    notes = repo / "notes.txt"
    with notes.open("a", encoding="utf-8") as file:
        file.write(message + "\n")
    run(repo, env, "git", "add", "notes.txt")
    return run(repo, env, "git", "commit", "-m", message, check=False)


def subjects(repo: Path, env: dict[str, str]) -> list[str]:
    # --topo-order: commits made within one second would otherwise tie on date.
    result = run(repo, env, "git", "log", "--topo-order", "--format=%s", check=False)
    return result.stdout.splitlines() if result.returncode == 0 else []


def test_the_commit_msg_hook_refuses_a_commit_without_a_ticket_id(
    tmp_path: Path, env: dict[str, str]
) -> None:
    repo = new_repo(tmp_path, env)
    run(repo, env, "pre-commit", "install", "--hook-type", "commit-msg")
    assert (repo / ".git" / "hooks" / "commit-msg").is_file()

    refused = commit(repo, env, "Add the hooks")
    assert refused.returncode != 0
    output = refused.stdout + refused.stderr
    assert "commit refused" in output
    assert "git branch -m feature/ABC-123-" in output
    assert subjects(repo, env) == []

    assert commit(repo, env, "ABC-1 Add the hooks").returncode == 0

    run(repo, env, "git", "switch", "--quiet", "--create", "feature/ABC-2-probe")
    assert commit(repo, env, "Add the probe").returncode == 0

    run(repo, env, "git", "switch", "--quiet", "--create", "feature/probe-tuning")
    assert commit(repo, env, "Tune the probe").returncode != 0

    # Merges and reverts carry the subjects git writes, which pass as they are.
    run(repo, env, "git", "switch", "--quiet", "--discard-changes", "main")
    merged = run(repo, env, "git", "merge", "--no-ff", "--no-edit", "feature/ABC-2-probe")
    assert merged.returncode == 0
    run(repo, env, "git", "revert", "--no-edit", "HEAD^2")
    assert subjects(repo, env) == [
        'Revert "Add the probe"',
        "Merge branch 'feature/ABC-2-probe'",
        "Add the probe",
        "ABC-1 Add the hooks",
    ]


def test_the_commit_msg_hook_reads_the_pattern_from_pyproject(
    tmp_path: Path, env: dict[str, str]
) -> None:
    repo = new_repo(tmp_path, env)
    (repo / "pyproject.toml").write_text(
        "[tool.portable-pipelines]\nticket_pattern = 'OPS-[0-9]+'\n", encoding="utf-8"
    )
    run(repo, env, "git", "add", "pyproject.toml")
    run(repo, env, "pre-commit", "install", "--hook-type", "commit-msg")

    assert commit(repo, env, "ABC-1 Not our tracker").returncode != 0
    assert commit(repo, env, "OPS-1 Our tracker").returncode == 0
    assert subjects(repo, env) == ["OPS-1 Our tracker"]


# --- file hooks: good files pass, broken copies fail --------------------------------

GOOD = {
    "app.py": '"""A module."""\n\nGREETING = "hello"\n',
    ".github/workflows/ci.yml": """\
name: ci
on:
  push:
    branches: [main]
  pull_request:
permissions:
  contents: read
jobs:
  test:
    runs-on: ubuntu-24.04
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683  # v4.2.2
        with:
          persist-credentials: false
      - run: echo "checked out ${GITHUB_SHA}"
""",
    ".gitlab-ci.yml": """\
stages: [test]
.setup:
  script:
    - echo setup
test:
  stage: test
  image: docker.io/library/python:3.12-slim
  script:
    - !reference [.setup, script]
    - python -V
  rules:
    - if: $CI_PIPELINE_SOURCE == "merge_request_event"
""",
    "svc/compose.yaml": """\
services:
  app:
    image: hello-service:local
    ports:
      - "127.0.0.1:8080:8080"
    depends_on:
      db:
        condition: service_healthy
  db:
    image: postgres:16-alpine
    healthcheck:
      test: ["CMD", "pg_isready"]
""",
    "svc/Dockerfile": f"FROM docker.io/library/python:3.12-slim@sha256:{'0' * 64}\n"
    "USER 10001\n"
    'CMD ["python", "-m", "http.server", "8080"]\n',
    "scripts/hello.sh": '#!/usr/bin/env bash\nset -euo pipefail\necho "hello ${1:-world}"\n',
    "infra/app/template.yaml": """\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  QueueArn:
    Value: !GetAtt Queue.Arn
  QueueName:
    Value: !Sub "${Queue.QueueName}"
""",
    "k8s/app.yaml": """\
apiVersion: v1
kind: Service
metadata:
  name: app
spec:
  ports:
  - port: 80
    targetPort: http
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  enabled: "true"
""",
}

GOOD[".pre-commit-hooks.yaml"] = """\
- id: check
  name: check
  entry: check
  language: python
"""

# One broken copy per hook, and what the hook must say about it.
BROKEN = {
    ".pre-commit-hooks.yaml": (
        GOOD[".pre-commit-hooks.yaml"].replace("  entry: check\n", ""),
        ("pre-commit-manifest",),
    ),
    "app.py": ("import os\nx=1\n", ("ruff-check", "ruff-format")),
    ".github/workflows/ci.yml": (
        GOOD[".github/workflows/ci.yml"].replace("runs-on: ubuntu-24.04", "runs_on: ubuntu-24.04"),
        ("jactionlint",),
    ),
    ".gitlab-ci.yml": (
        GOOD[".gitlab-ci.yml"].replace("stage: test", "stage: test\n  when: sometimes"),
        ("gitlab-ci-schema",),
    ),
    "svc/compose.yaml": (
        GOOD["svc/compose.yaml"].replace("condition: service_healthy", "condition: healthy"),
        ("compose-schema",),
    ),
    "svc/Dockerfile": (
        "FROM ubuntu\nRUN apt-get update && apt-get install -y curl\n",
        ("hadolint",),
    ),
    "scripts/hello.sh": ("#!/usr/bin/env bash\necho hello $1\n", ("shellcheck",)),
    "infra/app/template.yaml": (
        GOOD["infra/app/template.yaml"].replace("AWS::SQS::Queue", "AWS::SQS::Queues"),
        ("cfn-lint",),
    ),
    "k8s/app.yaml": (GOOD["k8s/app.yaml"] + '  enabled: "false"\n', ("yamllint",)),
}

FILE_HOOKS = sorted({hook for _, hooks in BROKEN.values() for hook in hooks})


def run_hooks(repo: Path, env: dict[str, str], files: dict[str, str]) -> tuple[dict[str, str], str]:
    """Write ``files`` and run the file hooks: (hook id -> its verdict and output, all output)."""
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    run(repo, env, "git", "add", ".")
    result = run(
        repo,
        {**env, "SKIP": ",".join(REPOSITORY_HOOKS)},
        "pre-commit",
        "run",
        "--all-files",
        "--verbose",
        check=False,
    )
    # --verbose prints each hook as "<name>....<verdict>", "- hook id: <id>", its output.
    sections: dict[str, str] = {}
    lines = result.stdout.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("- hook id: "):
            hook = line.removeprefix("- hook id: ").strip()
            end = next((i for i in range(index + 1, len(lines)) if "...." in lines[i]), len(lines))
            sections[hook] = "\n".join(lines[index - 1 : end])
    return sections, result.stdout + result.stderr


def verdict(section: str) -> str:
    return section.splitlines()[0].rsplit(".", 1)[-1] if section else "not run"


def test_every_file_hook_passes_good_files_without_noise(
    tmp_path: Path, env: dict[str, str]
) -> None:
    sections, output = run_hooks(new_repo(tmp_path, env), env, GOOD)
    for hook in FILE_HOOKS:
        assert verdict(sections.get(hook, "")) == "Passed", f"{hook}:\n{output}"
    # No warnings either: noise teaches people to ignore the hooks.
    assert "warning" not in output.lower(), output


def test_each_file_hook_fails_on_its_broken_file(tmp_path: Path, env: dict[str, str]) -> None:
    broken = {name: text for name, (text, _) in BROKEN.items()}
    sections, output = run_hooks(new_repo(tmp_path, env), env, {**GOOD, **broken})
    for name, (_, hooks) in BROKEN.items():
        for hook in hooks:
            section = sections.get(hook, "")
            assert verdict(section) == "Failed", f"{hook} did not fail on {name}:\n{output}"
            assert Path(name).name in section, f"{hook} failed, but not on {name}:\n{section}"
