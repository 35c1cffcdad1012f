"""The files that call the entry points: this repository's own, and the service-side files.

A caller passes inputs; an entry point turns them into dagger lines. These
tests read each caller, check what it passes (unknown, missing and malformed
inputs are named with the fix, offline, before any CI server sees them), and
follow it into its entry point: the lines it leads to load the module at the
pinned release (or, in this repository, this checkout) and run on the
service it names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.ci_policies import service_dagger_json_problems
from tests.ci_wrappers import (
    JENKINS_LIBRARY,
    MODULE_ADDRESS,
    SERVICE_FILES,
    TRIGGERS,
    Caller,
    WrapperError,
    call_words,
    caller_lines,
    caller_problems,
    github_spec,
    gitlab_spec,
    input_problems,
    jenkins_library,
    module_signatures,
    own_callers,
    read_caller,
    service_callers,
)
from tests.module_release import project_version

TAG = f"v{project_version()}"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}: the test is stale"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def service(tmp_path: Path) -> Path:
    """A copy of the service-side files a test may break."""
    copy = tmp_path / "service"
    shutil.copytree(SERVICE_FILES, copy)
    return copy


def test_every_caller_passes_what_its_entry_point_takes() -> None:
    for path in [*own_callers(), *service_callers()]:
        assert caller_problems(read_caller(path)) == [], path


def test_the_service_files_pin_this_release_and_this_repository_runs_its_checkout() -> None:
    for path in service_callers():
        caller = read_caller(path)
        assert not caller.local
        assert caller.tag == TAG, path
    for path in own_callers():
        caller = read_caller(path)
        assert caller.local, path
        assert caller.inputs["module"] == "."


@pytest.mark.parametrize("path", service_callers(), ids=lambda p: p.name)
def test_a_service_file_leads_to_the_module_at_its_tag_on_its_own_directory(path: Path) -> None:
    lines = caller_lines(read_caller(path))
    assert sorted(lines) == sorted(TRIGGERS)
    for trigger, found in lines.items():
        for line in found:
            module, words = call_words(line)
            assert module == f"{MODULE_ADDRESS}@{TAG}", (path, trigger)
            assert words[0] == "--source=."
    # The service is on eks (the default): its dev line passes the kubeconfig.
    assert "--kubeconfig=env://PIPELINES_KUBECONFIG" in lines["dev"][0]


@pytest.mark.parametrize("path", own_callers(), ids=lambda p: p.name)
def test_this_repository_runs_the_reference_service_with_its_own_module(path: Path) -> None:
    lines = caller_lines(read_caller(path))
    for found in lines.values():
        for line in found:
            module, words = call_words(line)
            assert module == "."
            assert words[0] == "--source=examples/hello-service"
    assert "--manifests=." in lines["dev"][0]


def test_every_line_a_caller_leads_to_names_the_module_s_functions_and_flags() -> None:
    from tests.ci_wrappers import signature_problems

    signatures = module_signatures()
    problems = [
        problem
        for path in [*own_callers(), *service_callers()]
        for lines in caller_lines(read_caller(path)).values()
        for line in lines
        for problem in signature_problems(line, signatures, str(path))
    ]
    assert problems == []


# --- bad input: each named with its fix, before any container work -----------------------

BAD_INPUTS: dict[str, tuple[str, str, str, str]] = {
    # name: (file under docs/snippets/service, old, new, what the message says)
    "GitHub: an unknown input": (
        ".github/workflows/pipelines.yml",
        "      aws-region: eu-west-1\n",
        "      aws-region: eu-west-1\n      dev-targte: ec2\n",
        "unknown input 'dev-targte': the inputs are module-version, module,",
    ),
    "GitHub: a branch as the version": (
        ".github/workflows/pipelines.yml",
        f"      module-version: {TAG}\n",
        "      module-version: main\n",
        "input module-version is 'main', not a release tag vX.Y.Z",
    ),
    "GitHub: the entry point at a branch": (
        ".github/workflows/pipelines.yml",
        f"pipelines.yml@{TAG}",
        "pipelines.yml@main",
        "does not pin a release tag vX.Y.Z",
    ),
    "GitHub: the version and the entry point apart": (
        ".github/workflows/pipelines.yml",
        f"      module-version: {TAG}\n",
        "      module-version: v9.9.9\n",
        f"input module-version is v9.9.9 but the entry point is {TAG}: upgrade both together",
    ),
    "GitHub: a required input missing": (
        ".github/workflows/pipelines.yml",
        "      aws-region: eu-west-1\n",
        "",
        "input 'aws-region' is missing",
    ),
    "GitHub: every secret inherited": (
        ".github/workflows/pipelines.yml",
        "    secrets:\n      dev-kubeconfig: ${{ secrets.DEV_KUBECONFIG }}\n",
        "    secrets: inherit\n",
        "`secrets: inherit` hands every secret to the module",
    ),
    "GitLab: an unknown input": (
        ".gitlab-ci.yml",
        "    inputs:\n",
        "    inputs:\n      service-dir: api\n",
        "unknown input 'service-dir': the inputs are module-version, module, service-directory",
    ),
    "GitLab: a branch as the version": (
        ".gitlab-ci.yml",
        f"      module-version: {TAG}\n",
        "      module-version: main\n",
        "input 'module-version' is 'main', which does not match",
    ),
    "GitLab: a target it does not know": (
        ".gitlab-ci.yml",
        "    inputs:\n",
        "    inputs:\n      dev-target: ecs\n",
        "input 'dev-target' is 'ecs': set it to one of eks, ec2",
    ),
    "Jenkins: an unknown input": (
        "Jenkinsfile",
        f"    moduleVersion: '{TAG}',\n",
        f"    moduleVersion: '{TAG}',\n    devTraget: 'ec2',\n",
        "unknown input 'devTraget': the inputs are moduleVersion, module, serviceDirectory",
    ),
    "Jenkins: a commit as the version": (
        "Jenkinsfile",
        f"    moduleVersion: '{TAG}',\n",
        "    moduleVersion: '0123abc',\n",
        "input moduleVersion is '0123abc', not a release tag vX.Y.Z",
    ),
    "Jenkins: the library at a branch": (
        "Jenkinsfile",
        f"@Library('portable-pipelines@{TAG}') _",
        "@Library('portable-pipelines@main') _",
        "does not pin a release tag vX.Y.Z",
    ),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_a_bad_input_is_named_with_its_fix(name: str, service: Path) -> None:
    file_name, old, new, says = BAD_INPUTS[name]
    edit(service / file_name, old, new)
    problems = caller_problems(read_caller(service / file_name))
    assert any(says in problem for problem in problems), problems
    assert all(str(service) in problem for problem in problems)  # each names the file


def test_a_caller_that_cannot_be_read_is_named(service: Path) -> None:
    edit(
        service / "Jenkinsfile",
        "portablePipelines(\n",
        "portablePipelines(\n    devTarget: TARGET,\n",
    )
    with pytest.raises(
        WrapperError, match=r"Jenkinsfile: cannot read the argument at .devTarget: TARGET"
    ):
        read_caller(service / "Jenkinsfile")


def test_every_system_knows_the_same_required_inputs() -> None:
    github, _ = github_spec()
    gitlab = gitlab_spec()
    jenkins = jenkins_library(JENKINS_LIBRARY).inputs
    required = {name for name, spec in github.items() if spec.default is None}
    assert required == {"dev-aws-role", "release-aws-role", "aws-region"}
    assert {name for name, spec in gitlab.items() if spec.default is None} == required - {
        "aws-region"  # GitLab's module resolves the region from pipelines.toml
    }
    assert {name for name, spec in jenkins.items() if spec.default is None} == {
        "devAwsRole",
        "releaseAwsRole",
    }


def test_input_problems_names_the_input_and_the_fix() -> None:
    from tests.ci_wrappers import InputSpec

    spec = {"a": InputSpec("x", options=("x", "y")), "b": InputSpec(None)}
    assert input_problems({"a": "z", "c": "1"}, spec, "here", "see the docs") == [
        "here: unknown input 'c': the inputs are a, b; see the docs",
        "here: input 'a' is 'z': set it to one of x, y",
        "here: input 'b' is missing: set it (see the docs)",
    ]
    assert input_problems({"a": "y", "b": "1"}, spec, "here", "see the docs") == []


def test_a_local_entry_point_must_run_the_checkout() -> None:
    caller = Caller(
        "gitlab",
        "x",
        "$CI_SERVER_FQDN/$CI_PROJECT_PATH/pipelines@$CI_COMMIT_SHA",
        True,
        None,
        {"module-version": TAG, "dev-aws-role": "a", "release-aws-role": "b"},
    )
    assert any('pass module "." and an empty module-version' in p for p in caller_problems(caller))


# --- dagger check in a service repository: its dagger.json -----------------------------------


def test_the_service_dagger_json_makes_dagger_check_check_the_service() -> None:
    assert service_dagger_json_problems(SERVICE_FILES / "dagger.json") == []


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('"defaultPath": "."', '"defaultPth": "."', "'defaultPth' was unexpected"),
        (
            '"argument": "source",\n          "defaultPath": "."',
            '"argument": "source"',
            "customize",
        ),
        (f"portable-pipelines@{TAG}", "portable-pipelines@main", "the toolchain's source"),
        ('"engineVersion": "v0.21.11"', '"engineVersion": "v0.20.0"', "engineVersion must be"),
    ],
)
def test_the_service_dagger_json_check_fails_on_a_broken_copy(
    old: str, new: str, says: str, service: Path
) -> None:
    edit(service / "dagger.json", old, new)
    problems = service_dagger_json_problems(service / "dagger.json")
    assert any(says in problem for problem in problems), problems
