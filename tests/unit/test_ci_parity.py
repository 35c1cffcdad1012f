"""The three CI wrappers run the same `dagger call` lines for the same triggers.

GitHub Actions, GitLab CI and Jenkins each map their events to dev,
pre-merge and release, and each trigger to two lines: the pipeline (its
reports exported) and the verdict. Only the AWS credentials differ by nature;
everything else must be identical, and must match the module's signatures.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ci_wrappers import (
    AWS_CREDENTIALS,
    GITHUB_WORKFLOWS,
    GITLAB_CI,
    JENKINSFILE,
    TRIGGERS,
    WrapperError,
    all_calls,
    dagger_lines,
    module_signatures,
    normalise,
    parity_problems,
    signature_problems,
)


@pytest.fixture
def copies(tmp_path: Path) -> dict[str, Path]:
    """Copies of the three wrappers that a test may break."""
    workflows = tmp_path / "workflows"
    shutil.copytree(GITHUB_WORKFLOWS, workflows)
    shutil.copy(GITLAB_CI, tmp_path / ".gitlab-ci.yml")
    shutil.copy(JENKINSFILE, tmp_path / "Jenkinsfile")
    return {
        "workflows": workflows,
        "gitlab": tmp_path / ".gitlab-ci.yml",
        "jenkinsfile": tmp_path / "Jenkinsfile",
    }


def problems_of(copies: dict[str, Path]) -> list[str]:
    return parity_problems(all_calls(**copies))


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path.name}: the test is stale"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_each_ci_maps_every_trigger_to_two_dagger_calls() -> None:
    calls = all_calls()
    for ci, by_trigger in calls.items():
        assert sorted(by_trigger) == sorted(TRIGGERS), ci
        for found in by_trigger.values():
            assert [line[:2] for line in found.lines] == [("dagger", "call")] * 2, found.where


def test_the_three_wrappers_agree() -> None:
    assert parity_problems(all_calls()) == []


def test_every_argument_exists_in_the_dagger_module() -> None:
    signatures = module_signatures()
    problems = [
        problem
        for by_trigger in all_calls().values()
        for found in by_trigger.values()
        for line in found.lines
        for problem in signature_problems(line, signatures, found.where)
    ]
    assert problems == []


def test_each_trigger_calls_its_own_function_and_exports_the_reports() -> None:
    for found in all_calls()["github"].values():
        pipeline, verdict = (normalise(line) for line in found.lines)
        assert found.trigger in pipeline
        assert pipeline[-3:] == ("reports", "export", "--path=reports")
        assert verdict[-2:] == ("verdict", "--run=reports/run.json")


def test_only_dev_and_release_get_aws_credentials() -> None:
    for by_trigger in all_calls().values():
        with_aws = {
            t for t, found in by_trigger.items() if AWS_CREDENTIALS in normalise(found.lines[0])
        }
        assert with_aws == {"dev", "release"}


def test_the_signature_check_catches_a_wrong_argument() -> None:
    signatures = module_signatures()
    good = ("dagger", "call", "--source=x", "pre-merge", "--sha=$S", "reports", "export")
    assert signature_problems(good, signatures, "here") == []
    assert signature_problems(
        ("dagger", "call", "--source=x", "pre-merge", "--commit=$S"), signatures, "here"
    ) == ["here: --commit is not an argument of pre-merge"]
    assert signature_problems(
        ("dagger", "call", "--token=env://T", "premerge"), signatures, "here"
    ) == [
        "here: --token is not an option of the main object",
        "here: premerge is not a function of the module",
    ]


def test_continuations_quotes_and_braces_do_not_count_as_differences() -> None:
    script = 'echo hi\ndagger call --source=s \\\n  dev --sha="$PIPELINE_SHA"\n'
    braced = "dagger call --source=s dev --sha=${PIPELINE_SHA}"
    assert normalise(dagger_lines(script)[0]) == normalise(dagger_lines(braced)[0])


Drift = Callable[[dict[str, Path]], None]

DRIFTS: dict[str, tuple[Drift, str]] = {
    "Jenkins changes an argument": (
        lambda c: edit(c["jenkinsfile"], "--manifests=.", "--manifests=deploy"),
        "dev: line 1 of Jenkinsfile stage dev differs",
    ),
    "GitLab adds an argument": (
        lambda c: edit(c["gitlab"], "pre-merge --sha=", "pre-merge --report-status=false --sha="),
        "pre-merge: line 1 of .gitlab-ci.yml job pre-merge differs",
    ),
    "GitHub calls another function": (
        lambda c: edit(c["workflows"] / "release.yml", "release --sha=", "publish --sha="),
        "release: line 1 of .github/workflows/release.yml job release differs",
    ),
    "GitHub drops the verdict": (
        lambda c: edit(
            c["workflows"] / "pre-merge.yml",
            "dagger call --source=examples/hello-service verdict --run=reports/run.json",
            "echo no verdict",
        ),
        "pre-merge must run exactly two `dagger call` lines",
    ),
    "GitLab reads another variable": (
        lambda c: edit(
            c["gitlab"],
            '--run-url="$PIPELINE_RUN_URL" --manifests',
            '--run-url="$CI_JOB_URL" --manifests',
        ),
        "only in gitlab: ['--run-url=$CI_JOB_URL']",
    ),
    "Jenkins forgets a credential": (
        lambda c: edit(
            c["jenkinsfile"],
            "string(credentialsId: 'pipelines-dev-kubeconfig', variable: 'KUBECONFIG_DATA'),",
            "",
        ),
        "Jenkinsfile stage dev: KUBECONFIG_DATA used but not defined",
    ),
    "GitLab passes GitHub's AWS keys": (
        lambda c: edit(
            c["gitlab"],
            "--aws-web-identity-token=env://GITLAB_OIDC_TOKEN",
            "--aws-access-key-id=env://AWS_ACCESS_KEY_ID",
        ),
        "AWS arguments ['--aws-access-key-id=env://AWS_ACCESS_KEY_ID'] are not gitlab's",
    ),
    "GitHub swaps two arguments": (
        lambda c: edit(
            c["workflows"] / "dev.yml",
            '--branch="$PIPELINE_BRANCH" \\\n            --run-url="$PIPELINE_RUN_URL"',
            '--run-url="$PIPELINE_RUN_URL" \\\n            --branch="$PIPELINE_BRANCH"',
        ),
        "same arguments in another order",
    ),
}


@pytest.mark.parametrize("name", list(DRIFTS))
def test_a_drifted_wrapper_fails_parity(name: str, copies: dict[str, Path]) -> None:
    assert problems_of(copies) == [], "the untouched copies must agree"
    drift, says = DRIFTS[name]
    drift(copies)
    problems = problems_of(copies)
    assert any(says in problem for problem in problems), problems


def test_a_job_on_an_unknown_trigger_is_named(copies: dict[str, Path]) -> None:
    edit(copies["gitlab"], '$CI_COMMIT_BRANCH == "main"', "$CI_COMMIT_TAG")
    with pytest.raises(WrapperError, match=r"\.gitlab-ci\.yml job release: rules"):
        all_calls(**copies)


def test_a_missing_trigger_is_named(copies: dict[str, Path]) -> None:
    (copies["workflows"] / "release.yml").unlink()
    assert "github: no job for release" in problems_of(copies)
