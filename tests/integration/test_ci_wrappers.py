"""The real validators on the CI entry points, their callers and the shared-engine files.

jactionlint (with shellcheck on PATH, so `run:` scripts are checked too) and
check-jsonschema on the workflows (the reusable one, this repository's
callers, the service-side file); check-jsonschema on the GitLab component
(its two documents apart) and on both `.gitlab-ci.yml` callers;
npm-groovy-lint on the Jenkins library and both Jenkinsfiles; shellcheck on
every script the three systems run; yamllint on every YAML file, the engine
pools' included (kubernetes-validate and their rules: test_engine_pools.py).
Each validator is also fed a broken copy and must refuse it. And the shell
that checks the inputs runs for real, on good and bad inputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from pipelines_cli.deploy_checks import tool
from tests.ci_policies import input_check_scripts
from tests.ci_wrappers import (
    GITHUB_WORKFLOWS,
    GITLAB_CI,
    GITLAB_COMPONENT,
    JENKINS_LIBRARY,
    JENKINSFILE,
    REUSABLE_WORKFLOW,
    ROOT,
    SERVICE_FILES,
    component_document,
    gitlab_jobs,
    jenkins_library,
    load_yaml,
    sh_scripts,
    split_component,
)

pytestmark = pytest.mark.tools

GROOVY_LINT = ROOT / "node_modules" / ".bin" / "npm-groovy-lint"
ENGINE_DIR = ROOT / "deploy" / "dagger-engine"
SERVICE_WORKFLOW = SERVICE_FILES / ".github" / "workflows" / "pipelines.yml"
SERVICE_GITLAB = SERVICE_FILES / ".gitlab-ci.yml"
SERVICE_JENKINSFILE = SERVICE_FILES / "Jenkinsfile"
WORKFLOWS = [*sorted(GITHUB_WORKFLOWS.glob("*.yml")), SERVICE_WORKFLOW]


def run(
    *args: str | Path, env: dict[str, str] | None = None, cwd: Path = ROOT, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env=env,
        input=stdin,
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
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text.replace(old, new, 1), encoding="utf-8")
    return target


# --- GitHub Actions ---------------------------------------------------------------------------


def jactionlint(*files: Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return run(
        tool("jactionlint"),
        "--profile",
        "correctness",
        "--no-online",
        *files,
        env=venv_path(),
        cwd=cwd,
    )


def test_jactionlint_passes_the_workflows() -> None:
    names = {path.name for path in WORKFLOWS}
    assert {"pipelines.yml", "reference-service.yml", "self-test.yml"} <= names
    result = jactionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("file_name", "old", "new", "says"),
    [
        # An expression on a context that does not exist.
        ("pipelines.yml", "${{ github.ref_name }}", "${{ github.branch_name }}", "branch_name"),
        # A shell mistake inside `run:`: only reported when shellcheck runs.
        ("pipelines.yml", '--sha="$PIPELINE_SHA"', "--sha=$PIPELINE_SHA", "SC2086"),
        # A caller passing an input the reusable workflow does not declare.
        (
            "reference-service.yml",
            '      manifests: "."\n',
            '      manifests: "."\n      manifest: deploy\n',
            'input "manifest" is not defined',
        ),
        # A caller leaving out a required input.
        (
            "reference-service.yml",
            "      aws-region: ${{ vars.AWS_REGION }}\n",
            "",
            '"aws-region" is required',
        ),
    ],
)
def test_jactionlint_refuses_a_broken_workflow(
    file_name: str, old: str, new: str, says: str, tmp_path: Path
) -> None:
    # A repository of its own, so the caller's `./.github/...` resolves to the copy.
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    shutil.copy(REUSABLE_WORKFLOW, workflows / "pipelines.yml")
    broken = replaced(GITHUB_WORKFLOWS / file_name, workflows / file_name, old, new)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = jactionlint(broken.relative_to(tmp_path), cwd=tmp_path)
    assert result.returncode != 0
    assert says in result.stdout + result.stderr


def check_jsonschema(
    schema: str, *files: Path, gitlab: bool = False
) -> subprocess.CompletedProcess[str]:
    extra = ["--data-transform", "gitlab-ci", "--regex-variant", "nonunicode"] if gitlab else []
    return run(tool("check-jsonschema"), "--builtin-schema", schema, *extra, *files)


def test_workflows_match_githubs_schema() -> None:
    result = check_jsonschema("vendor.github-workflows", *WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("source", "old", "new"),
    [
        (REUSABLE_WORKFLOW, "runs-on: ${{ inputs.runs-on }}", "runs_on: ${{ inputs.runs-on }}"),
        (
            REUSABLE_WORKFLOW,
            "        type: string\n        required: true",
            "        type: text\n        required: true",
        ),
        (SERVICE_WORKFLOW, "    secrets:\n", "    secret:\n"),
    ],
    ids=["a misspelt job key", "an input type GitHub lacks", "a caller's misspelt key"],
)
def test_github_schema_refuses_a_broken_workflow(
    source: Path, old: str, new: str, tmp_path: Path
) -> None:
    broken = replaced(source, tmp_path / source.name, old, new)
    result = check_jsonschema("vendor.github-workflows", broken)
    assert result.returncode != 0
    assert source.name in result.stdout + result.stderr


# --- GitLab CI ------------------------------------------------------------------------------------


def component_documents(path: Path, directory: Path) -> list[Path]:
    """The component's header and jobs as two files: the schema reads one document each."""
    header, jobs = split_component(path)
    files = [directory / "spec.yml", directory / "jobs.yml"]
    directory.mkdir(parents=True, exist_ok=True)
    files[0].write_text(header, encoding="utf-8")
    files[1].write_text(jobs, encoding="utf-8")
    return files


def test_gitlab_files_match_gitlabs_schema(tmp_path: Path) -> None:
    files = [*component_documents(GITLAB_COMPONENT, tmp_path), GITLAB_CI, SERVICE_GITLAB]
    result = check_jsonschema("vendor.gitlab-ci", *files, gitlab=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("source", "old", "new", "says"),
    [
        # An input's options as a string: GitLab would refuse the component.
        (
            GITLAB_COMPONENT,
            "      options: [eks, ec2]",
            "      options: eks",
            "is not of type 'array'",
        ),
        # A misspelt key of the AWS id_token.
        (
            GITLAB_COMPONENT,
            "      aud: $[[ inputs.oidc-audience ]]",
            "      audience: x",
            "'audience' was unexpected",
        ),
        # A caller whose include lost its inputs' key.
        (SERVICE_GITLAB, "    inputs:\n", "    input:\n", ".gitlab-ci.yml::$.include"),
    ],
)
def test_gitlab_schema_refuses_a_broken_file(
    source: Path, old: str, new: str, says: str, tmp_path: Path
) -> None:
    broken = replaced(source, tmp_path / source.name, old, new)
    files = (
        component_documents(broken, tmp_path / "split") if source == GITLAB_COMPONENT else [broken]
    )
    result = check_jsonschema("vendor.gitlab-ci", *files, gitlab=True)
    assert result.returncode != 0
    assert says in result.stdout + result.stderr


# --- the shell the three systems run ----------------------------------------------------------


def github_scripts(path: Path = REUSABLE_WORKFLOW) -> str:
    """Every `run:` of the reusable workflow, as one POSIX sh script."""
    parts = [
        textwrap.dedent(str(step["run"]))
        for job in load_yaml(path)["jobs"].values()
        for step in job["steps"]
        if "run" in step
    ]
    return "\n".join(parts)


def gitlab_scripts(path: Path = GITLAB_COMPONENT) -> str:
    """Every job's before_script and script, as one POSIX sh script."""
    document = component_document({"dev-aws-role": "a", "release-aws-role": "b"}, path)
    parts = []
    for job in gitlab_jobs(document, path.name).values():
        for key in ("before_script", "script"):
            value = job.get(key) or []
            parts.extend(value if isinstance(value, list) else [value])
    return "\n".join(parts)


def jenkins_scripts(path: Path = JENKINS_LIBRARY) -> str:
    stages = jenkins_library(path).stages
    return "\n".join(s.value for stage in stages.values() for s in sh_scripts(stage.text))


def shellcheck(script: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    # The CI images run busybox or dash sh: check for POSIX sh, not bash.
    file = tmp_path / "script.sh"
    file.write_text("#!/bin/sh\n" + script + "\n", encoding="utf-8")
    return run(tool("shellcheck"), "--shell=sh", "--severity=style", file)


@pytest.mark.parametrize("source", ["github", "gitlab", "jenkins"])
def test_shellcheck_passes_the_scripts(source: str, tmp_path: Path) -> None:
    script = {"github": github_scripts, "gitlab": gitlab_scripts, "jenkins": jenkins_scripts}[
        source
    ]()
    assert "dagger -m" in script
    assert "sha256sum -c" in script
    result = shellcheck(script, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_refuses_a_broken_script(tmp_path: Path) -> None:
    broken = replaced(
        JENKINS_LIBRARY,
        tmp_path / "portablePipelines.groovy",
        'tar -xzf "${tarball}" dagger',
        "tar -xzf ${tarball} dagger",
    )
    result = shellcheck(jenkins_scripts(broken), tmp_path)
    assert result.returncode != 0
    assert "SC2086" in result.stdout


# --- the input check, run ------------------------------------------------------------------------

(INPUT_CHECK,) = set(input_check_scripts().values())


def input_check(
    tmp_path: Path, *, module: str, version: str, source: str = ".", target: str = "eks"
) -> subprocess.CompletedProcess[str]:
    """The check, in a checkout whose root holds pipelines.toml and whose docs/ does not."""
    checkout = tmp_path / "checkout"
    (checkout / "docs").mkdir(parents=True, exist_ok=True)
    (checkout / "pipelines.toml").write_text('[service]\nname = "svc"\n', encoding="utf-8")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PIPELINES_MODULE": module,
        "PIPELINES_VERSION": version,
        "PIPELINES_SOURCE": source,
        "PIPELINES_DEV_TARGET": target,
    }
    return run("sh", "-eu", "-c", INPUT_CHECK, env=env, cwd=checkout)


@pytest.mark.parametrize(
    ("inputs", "says"),
    [
        (
            {"module": "github.com/acme/portable-pipelines", "version": "main"},
            "input module-version is 'main', which is not a release tag",
        ),
        (
            {"module": "github.com/acme/portable-pipelines", "version": ""},
            "input module-version is '', which is not a release tag",
        ),
        (
            {"module": "github.com/acme/portable-pipelines", "version": "v1.2"},
            "input module-version is 'v1.2'",
        ),
        (
            {"module": "github.com/acme/portable-pipelines", "version": "1.2.3"},
            "input module-version is '1.2.3'",
        ),
        (
            {"module": "github.com/acme/portable-pipelines", "version": "v1.2.3\nmain"},
            "which is not a release tag",
        ),
        ({"module": ".", "version": "v1.2.3"}, "is a local path: leave module-version empty"),
        (
            {"module": "x/y", "version": "v1.2.3", "target": "ecs"},
            "input dev-target is 'ecs': set it to eks or ec2",
        ),
        (
            {"module": "x/y", "version": "v1.2.3", "source": "docs"},
            "input service-directory is 'docs', which holds no pipelines.toml",
        ),
    ],
    ids=[
        "a branch",
        "no version",
        "two numbers",
        "no v",
        "a second line",
        "a local module with a version",
        "an unknown target",
        "no pipelines.toml",
    ],
)
def test_the_input_check_stops_bad_input_with_its_fix(
    inputs: dict[str, str], says: str, tmp_path: Path
) -> None:
    result = input_check(tmp_path, **inputs)
    assert result.returncode == 2, result.stdout + result.stderr
    assert says in result.stderr
    assert "set it" in result.stderr or "leave" in result.stderr  # the fix


@pytest.mark.parametrize(
    "inputs",
    [
        {"module": "github.com/acme/portable-pipelines", "version": "v0.1.0"},
        {"module": "gitlab.example.com/platform/pp", "version": "v12.0.3", "target": "ec2"},
        {"module": ".", "version": ""},
    ],
)
def test_the_input_check_lets_good_input_through(inputs: dict[str, str], tmp_path: Path) -> None:
    result = input_check(tmp_path, **inputs)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


# --- Jenkins ------------------------------------------------------------------------------


def groovy_lint(*files: Path) -> subprocess.CompletedProcess[str]:
    if not GROOVY_LINT.exists():
        pytest.skip(
            "node_modules/.bin/npm-groovy-lint is absent: run `npm ci` at the repository root "
            "(.ci/run does) to install the pinned linter from package-lock.json"
        )
    return run(GROOVY_LINT, "--noserver", "--failon", "error", "--no-insight", *files)


def test_npm_groovy_lint_passes_the_library_and_the_jenkinsfiles(tmp_path: Path) -> None:
    # Each Jenkinsfile keeps its name (the linter applies its Jenkinsfile rules
    # by name); its own directory, since the linter reads any .groovylintrc upwards.
    files = []
    for name, source in (
        ("own/Jenkinsfile", JENKINSFILE),
        ("service/Jenkinsfile", SERVICE_JENKINSFILE),
        ("vars/portablePipelines.groovy", JENKINS_LIBRARY),
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, tmp_path / name)
        files.append(tmp_path / name)
    result = groovy_lint(*files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_npm_groovy_lint_refuses_a_broken_library(tmp_path: Path) -> None:
    broken = replaced(
        JENKINS_LIBRARY,
        tmp_path / "vars" / "portablePipelines.groovy",
        "void dev(Map<String, String> inputs) {\n",
        "void dev(Map<String, String> inputs) {{\n",
    )
    result = groovy_lint(broken)
    assert result.returncode != 0
    assert "error" in result.stdout.lower()


# --- YAML and the shared engine's manifests -----------------------------------------------------


YAML_FILES = [
    *WORKFLOWS,
    GITLAB_CI,
    GITLAB_COMPONENT,
    SERVICE_GITLAB,
    *sorted(ENGINE_DIR.glob("*.yaml")),
]


def test_yamllint_passes_every_ci_yaml_file() -> None:
    result = run(tool("yamllint"), "--strict", *YAML_FILES)
    assert result.returncode == 0, result.stdout + result.stderr


def test_yamllint_refuses_a_broken_file(tmp_path: Path) -> None:
    broken = replaced(
        GITLAB_COMPONENT,
        tmp_path / "template.yml",
        "  stage: deploy\n",
        "  stage: deploy\n  stage: test\n",
    )
    result = run(tool("yamllint"), "--strict", "-c", ROOT / ".yamllint.yaml", broken)
    assert result.returncode != 0
    assert "duplication of key" in result.stdout
