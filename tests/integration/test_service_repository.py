"""A service repository built from the docs, in a temporary folder, checked as CI would.

The repository is a copy of the reference service plus the service-side files
the adoption page shows (docs/snippets/service/, which the page includes),
copied verbatim. Then:

- the real validators pass each file (jactionlint and GitHub's schema,
  GitLab's schema, npm-groovy-lint, yamllint) and the offline checks of their
  inputs and of ``dagger.json`` find nothing;
- the entry points' input check, run in that repository with the inputs its
  files pass, lets it through, and stops it once pipelines.toml is gone;
- the Jenkins step runs its Jenkinsfile for a feature-branch build;
- every ``dagger`` line the three files lead to (through their entry points,
  their inputs deciding the flags) names functions and flags the module
  registers, under the names the CLI shows.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pipelines_cli.deploy_checks import tool
from tests.ci_policies import input_check_scripts, service_dagger_json_problems
from tests.ci_wrappers import (
    MODULE_ADDRESS,
    ROOT,
    SERVICE_FILES,
    TRIGGERS,
    call_words,
    caller_lines,
    caller_problems,
    read_caller,
    service_callers,
)
from tests.cli_names import registered_cli
from tests.conftest import REFERENCE_SERVICE
from tests.graph import Graph
from tests.integration.test_jenkins_library import harness, stages
from tests.module_release import project_version
from tests.registration.test_registration import MAIN, args_of, functions, objects, typedefs

__all__ = ["typedefs"]  # the fixture, re-exported for this module

pytestmark = pytest.mark.tools

GROOVY_LINT = ROOT / "node_modules" / ".bin" / "npm-groovy-lint"
SERVICE_FILE_NAMES = (
    ".github/workflows/pipelines.yml",
    ".gitlab-ci.yml",
    "Jenkinsfile",
    "dagger.json",
)


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("hello-service-repo")
    shutil.copytree(
        REFERENCE_SERVICE,
        repo,
        dirs_exist_ok=True,
        ignore=shutil.ignore_patterns(".venv", "__pycache__", "reports", ".pytest_cache"),
    )
    for name in SERVICE_FILE_NAMES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SERVICE_FILES / name, repo / name)
    shutil.copy(ROOT / ".yamllint.yaml", repo / ".yamllint.yaml")
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


def run(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def test_the_service_files_are_the_docs_verbatim(repository: Path) -> None:
    for name in SERVICE_FILE_NAMES:
        assert (repository / name).read_bytes() == (SERVICE_FILES / name).read_bytes()
    assert (repository / "pipelines.toml").is_file()
    # Small, as the adoption page promises.
    for name in SERVICE_FILE_NAMES[:3]:
        lines = (repository / name).read_text(encoding="utf-8").splitlines()
        assert len(lines) <= 15, name


def test_the_real_validators_pass_the_service_files(repository: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{Path(tool('shellcheck')).parent}{os.pathsep}{env.get('PATH', '')}"
    checks = [
        (
            tool("jactionlint"),
            "--profile",
            "correctness",
            "--no-online",
            ".github/workflows/pipelines.yml",
        ),
        (
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.github-workflows",
            ".github/workflows/pipelines.yml",
        ),
        (
            tool("check-jsonschema"),
            "--builtin-schema",
            "vendor.gitlab-ci",
            "--data-transform",
            "gitlab-ci",
            "--regex-variant",
            "nonunicode",
            ".gitlab-ci.yml",
        ),
        (tool("yamllint"), "--strict", ".github/workflows/pipelines.yml", ".gitlab-ci.yml"),
    ]
    for command in checks:
        result = run(*command, cwd=repository, env=env)
        assert result.returncode == 0, f"{command[0]}:\n{result.stdout}{result.stderr}"
    json.loads((repository / "dagger.json").read_text(encoding="utf-8"))


def test_npm_groovy_lint_passes_the_service_jenkinsfile(repository: Path) -> None:
    if not GROOVY_LINT.exists():
        pytest.skip("node_modules/.bin/npm-groovy-lint is absent: run `npm ci` (.ci/run does)")
    result = run(
        GROOVY_LINT,
        "--noserver",
        "--failon",
        "error",
        "--no-insight",
        "Jenkinsfile",
        cwd=repository,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_service_files_pass_only_what_their_entry_points_take(repository: Path) -> None:
    for path in service_callers(repository):
        assert caller_problems(read_caller(path)) == [], path
    assert service_dagger_json_problems(repository / "dagger.json") == []


def test_the_input_check_passes_the_repository_and_stops_without_pipelines_toml(
    repository: Path, tmp_path: Path
) -> None:
    (script,) = set(input_check_scripts().values())
    caller = read_caller(repository / ".github" / "workflows" / "pipelines.yml")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PIPELINES_MODULE": caller.inputs.get("module", MODULE_ADDRESS),
        "PIPELINES_VERSION": caller.inputs["module-version"],
        "PIPELINES_SOURCE": caller.inputs.get("service-directory", "."),
        "PIPELINES_DEV_TARGET": caller.inputs.get("dev-target", "eks"),
    }
    result = run("sh", "-eu", "-c", script, cwd=repository, env=env)
    assert result.returncode == 0, result.stderr
    bare = tmp_path / "bare"
    bare.mkdir()
    result = run("sh", "-eu", "-c", script, cwd=bare, env=env)
    assert result.returncode == 2
    assert "input service-directory is '.', which holds no pipelines.toml" in result.stderr


def test_the_jenkins_step_runs_the_service_jenkinsfile(repository: Path, tmp_path: Path) -> None:
    files = [str(p.relative_to(repository)) for p in repository.rglob("*") if p.is_file()]
    run_ = harness(
        [
            {
                "name": "feature",
                "env": {"BRANCH_NAME": "feature/login"},
                "jenkinsfile": str(repository / "Jenkinsfile"),
                "files": files,
            }
        ],
        tmp_path,
    )["feature"]
    assert run_["error"] is None, run_["error"]
    assert stages(run_) == ["Install dagger", "dev"]


async def test_every_line_the_service_files_lead_to_is_registered(
    typedefs: Graph, repository: Path
) -> None:
    main = objects(typedefs)[MAIN]
    (constructor,) = main.find("withConstructor")
    constructor_flags, function_flags = registered_cli(
        args_of(constructor.args["function"]),
        {name: args_of(fn) for name, fn in functions(main).items()},
    )
    checked = 0
    for path in service_callers(repository):
        lines = caller_lines(read_caller(path))
        assert sorted(lines) == sorted(TRIGGERS)
        for trigger, found in lines.items():
            for line in found:
                module, words = call_words(line)
                where = f"{path.name} {trigger}: {' '.join(line)}"
                assert module == f"{MODULE_ADDRESS}@v{project_version()}", where
                rest = list(words)
                while rest[0].startswith("--"):
                    option = rest.pop(0)[2:].split("=", 1)[0]
                    assert option in constructor_flags, f"{where}: --{option}"
                function = rest.pop(0)
                assert function in function_flags, f"{where}: {function}"
                for word in rest:
                    if not word.startswith("--"):
                        break
                    assert word[2:].split("=", 1)[0] in function_flags[function], where
                checked += 1
    assert checked == 3 * 3 * 2
