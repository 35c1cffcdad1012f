"""The three reusable entry points run the same `dagger -m ... call` lines for the same events.

GitHub's reusable workflow, GitLab's component and Jenkins' library step each
map their events to dev, pre-merge and release, and each trigger to two lines:
the pipeline (its reports exported) and the verdict. The tests compare them
twice: as written (the text of the lines, AWS credentials folded), and as they
run for a caller (each entry point's conditions evaluated for the same
inputs, so an optional flag decided differently on one system is drift too).
Jenkins is read statically here; tests/integration/test_jenkins_library.py
runs the library and checks the static reading agrees.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ci_expressions import expand_line
from tests.ci_wrappers import (
    AWS_CREDENTIALS,
    GITLAB_COMPONENT,
    JENKINS_LIBRARY,
    MATRIX,
    REUSABLE_WORKFLOW,
    TRIGGERS,
    WrapperError,
    all_calls,
    call_words,
    component_document,
    dagger_lines,
    github_job_trigger,
    github_pipeline_jobs,
    gitlab_jobs,
    gitlab_trigger,
    load_yaml,
    module_signatures,
    normalise,
    parity_problems,
    resolve,
    resolved_parity_problems,
    scenarios,
    signature_problems,
)

SYSTEMS = ("github", "gitlab", "jenkins")


@pytest.fixture
def copies(tmp_path: Path) -> dict[str, Path]:
    """Copies of the three entry points that a test may break."""
    workflow = tmp_path / "pipelines.yml"
    component = tmp_path / "template.yml"
    library = tmp_path / "portablePipelines.groovy"
    shutil.copy(REUSABLE_WORKFLOW, workflow)
    shutil.copy(GITLAB_COMPONENT, component)
    shutil.copy(JENKINS_LIBRARY, library)
    return {"workflow": workflow, "component": component, "library": library}


def problems_of(copies: dict[str, Path]) -> list[str]:
    problems = parity_problems(all_calls(**copies))
    for case, inputs in MATRIX.items():
        resolved = {ci: resolve(ci, inputs, **copies) for ci in SYSTEMS}
        problems.extend(resolved_parity_problems(resolved, case))
    return problems


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"{old!r} not in {path.name}: the test is stale"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_each_entry_point_maps_every_trigger_to_two_dagger_calls() -> None:
    calls = all_calls()
    for ci, by_trigger in calls.items():
        assert sorted(by_trigger) == sorted(TRIGGERS), ci
        for found in by_trigger.values():
            assert [line[:2] for line in found.lines] == [("dagger", "-m")] * 2, found.where
            assert [call_words(line)[1][0] for line in found.lines] == [
                "--source=$PIPELINES_SOURCE"
            ] * 2


def test_the_three_entry_points_agree_as_written() -> None:
    assert parity_problems(all_calls()) == []


@pytest.mark.parametrize("case", list(MATRIX))
def test_the_three_entry_points_run_the_same_lines_for_the_same_inputs(case: str) -> None:
    resolved = {ci: resolve(ci, MATRIX[case]) for ci in SYSTEMS}
    assert resolved_parity_problems(resolved, case) == []
    # Every line is a real call of the module at the caller's address and version.
    module = MATRIX[case].get("module", "github.com/acme/portable-pipelines")
    version = MATRIX[case]["module-version"]
    expected = f"{module}@{version}" if version else module
    for lines in resolved["github"].values():
        assert {call_words(line)[0] for line in lines} == {expected}


@pytest.mark.parametrize("ci", SYSTEMS)
def test_kubeconfig_and_manifests_follow_the_dev_target(ci: str) -> None:
    def dev(**inputs: str) -> tuple[str, ...]:
        return resolve(ci, {**MATRIX["a service on eks"], **inputs})["dev"][0]

    eks = dev(manifests="deploy")
    assert "--kubeconfig=env://PIPELINES_KUBECONFIG" in eks
    assert "--manifests=deploy" in eks
    assert not any(word.startswith("--manifests") for word in dev())  # none given: --source
    for line in (dev(**{"dev-target": "ec2"}), dev(**{"dev-target": "ec2", "manifests": "deploy"})):
        assert not any(word.startswith(("--kubeconfig", "--manifests")) for word in line), line
    # Only the dev pipeline deploys.
    for trigger in ("pre-merge", "release"):
        for line in resolve(ci, {**MATRIX["a service on eks"], "manifests": "deploy"})[trigger]:
            assert not any(word.startswith(("--kubeconfig", "--manifests")) for word in line)


@pytest.mark.parametrize("release_branch", ["main", "trunk"])
def test_each_system_selects_the_same_pipeline_for_each_event(release_branch: str) -> None:
    jobs = github_pipeline_jobs(load_yaml(REUSABLE_WORKFLOW))
    github_if = {
        github_job_trigger(name, job, release_branch): job["if"] for name, job in jobs.items()
    }
    document = component_document({**MATRIX["a service on eks"], "release-branch": release_branch})
    gitlab_rules = {
        gitlab_trigger(job, release_branch, name): job["rules"][0]["if"]
        for name, job in gitlab_jobs(document, "template.yml").items()
    }
    assert sorted(github_if) == sorted(gitlab_rules) == sorted(TRIGGERS)
    # github_job_trigger and gitlab_trigger refuse a condition that runs for the
    # wrong events; here every scenario's expected pipeline has a job.
    expected = {s.expected for s in scenarios(release_branch)} - {None}
    assert expected == set(TRIGGERS)


def test_every_argument_exists_in_the_dagger_module() -> None:
    signatures = module_signatures()
    problems = [
        problem
        for by_trigger in all_calls().values()
        for found in by_trigger.values()
        for line in found.lines
        # Every optional flag present: each must be an option of the module.
        for problem in signature_problems(
            expand_line(line, {"PIPELINES_KUBECONFIG": "x", "PIPELINES_MANIFESTS": "x"}, bool),
            signatures,
            found.where,
        )
    ]
    assert problems == []


def test_only_dev_and_release_get_aws_credentials() -> None:
    for ci in SYSTEMS:
        by_trigger = resolve(ci, MATRIX["a service on eks"])
        with_aws = {t for t, lines in by_trigger.items() if AWS_CREDENTIALS in normalise(lines[0])}
        assert with_aws == {"dev", "release"}, ci


def test_the_signature_check_catches_a_wrong_argument() -> None:
    signatures = module_signatures()
    good = ("dagger", "-m", "x@v1.0.0", "call", "--source=x", "pre-merge", "--sha=$S")
    assert signature_problems(good, signatures, "here") == []
    assert signature_problems(
        ("dagger", "call", "--source=x", "pre-merge", "--commit=$S"), signatures, "here"
    ) == ["here: --commit is not an argument of pre-merge"]
    assert signature_problems(
        ("dagger", "-m", "x", "call", "--token=env://T", "premerge"), signatures, "here"
    ) == [
        "here: --token is not an option of the main object",
        "here: premerge is not a function of the module",
    ]
    assert signature_problems(("dagger", "-m", "x", "run", "y"), signatures, "here") == [
        "here: not a `dagger [-m REF] call` line: dagger -m x run y"
    ]


def test_continuations_quotes_and_braces_do_not_count_as_differences() -> None:
    script = 'echo hi\ndagger -m "$M" call --source=s \\\n  dev --sha="$PIPELINE_SHA"\n'
    braced = "dagger -m ${M} call --source=s dev --sha=${PIPELINE_SHA}"
    assert normalise(dagger_lines(script)[0]) == normalise(dagger_lines(braced)[0])


Drift = Callable[[dict[str, Path]], None]

KUBECONFIG = '${PIPELINES_KUBECONFIG:+"--kubeconfig=env://PIPELINES_KUBECONFIG"}'

DRIFTS: dict[str, tuple[Drift, str]] = {
    "Jenkins changes an argument": (
        lambda c: edit(c["library"], "verdict --run=reports/run.json", "verdict --run=run.json"),
        "dev: line 2 of vars/portablePipelines.groovy stage dev differs",
    ),
    "GitLab adds an argument": (
        lambda c: edit(c["component"], "pre-merge --sha=", "pre-merge --dry-run --sha="),
        "pre-merge: line 1 of templates/",
    ),
    "GitHub calls another function": (
        lambda c: edit(c["workflow"], "release --sha=", "publish --sha="),
        "release: line 1 of .github/workflows/pipelines.yml job release differs",
    ),
    "GitHub drops the verdict": (
        lambda c: edit(
            c["workflow"],
            'call --source="$PIPELINES_SOURCE" verdict --run=reports/run.json',
            'call --source="$PIPELINES_SOURCE" version',
        ),
        "dev: line 2 of .github/workflows/pipelines.yml job dev differs",
    ),
    "GitLab reads another variable": (
        lambda c: edit(
            c["component"],
            '--run-url="$PIPELINE_RUN_URL" ${PIPELINES_MANIFESTS',
            '--run-url="$CI_JOB_URL" ${PIPELINES_MANIFESTS',
        ),
        "only in gitlab: ['--run-url=$CI_JOB_URL']",
    ),
    "Jenkins forgets a credential": (
        lambda c: edit(
            c["library"],
            "                awsIdToken(inputs.releaseAwsCredentialsId),\n",
            "",
        ),
        "stage release: PIPELINES_OIDC_TOKEN used but not defined",
    ),
    "GitLab passes GitHub's AWS keys": (
        lambda c: edit(
            c["component"],
            "--aws-web-identity-token=env://GITLAB_OIDC_TOKEN",
            "--aws-access-key-id=env://AWS_ACCESS_KEY_ID",
        ),
        "are not gitlab's",
    ),
    "GitHub swaps two arguments": (
        lambda c: edit(
            c["workflow"],
            'dev --sha="$PIPELINE_SHA" --branch="$PIPELINE_BRANCH"',
            'dev --branch="$PIPELINE_BRANCH" --sha="$PIPELINE_SHA"',
        ),
        "same arguments in another order",
    ),
    "Jenkins passes the kubeconfig whatever the target": (
        lambda c: edit(c["library"], KUBECONFIG, "--kubeconfig=env://PIPELINES_KUBECONFIG"),
        "line 1 of vars/portablePipelines.groovy stage dev differs",
    ),
    # The text of the lines stays the same: only following the inputs shows it.
    "GitHub decides the kubeconfig on the wrong target": (
        lambda c: edit(
            c["workflow"],
            "inputs.dev-target == 'eks' && secrets.dev-kubeconfig",
            "inputs.dev-target == 'ec2' && secrets.dev-kubeconfig",
        ),
        "a service on eks: dev on github runs",
    ),
    "GitLab's eks variant forgets the manifests": (
        lambda c: edit(c["component"], '    PIPELINES_MANIFESTS: "$[[ inputs.manifests ]]"\n', ""),
        "eks with manifests elsewhere: dev on gitlab runs",
    ),
    "Jenkins binds the manifests for every target": (
        lambda c: edit(
            c["library"],
            "        if (inputs.devTarget == 'eks') {\n"
            "            bindings << string(credentialsId: inputs.devKubeconfigCredentialsId, "
            "variable: 'PIPELINES_KUBECONFIG')\n"
            '            targetEnv << "PIPELINES_MANIFESTS=${inputs.manifests}".toString()\n',
            '        targetEnv << "PIPELINES_MANIFESTS=${inputs.manifests}".toString()\n'
            "        if (inputs.devTarget == 'eks') {\n"
            "            bindings << string(credentialsId: inputs.devKubeconfigCredentialsId, "
            "variable: 'PIPELINES_KUBECONFIG')\n",
        ),
        "ec2 ignores manifests: dev on jenkins runs",
    ),
    "GitHub ignores the release branch input": (
        lambda c: edit(
            c["workflow"],
            "github.ref_name == inputs.release-branch",
            "github.ref_name == 'main'",
        ),
        "job release: `if: github.event_name == 'push' && github.ref_type == 'branch' && "
        "github.ref_name == 'main'` runs for []",
    ),
}


@pytest.mark.parametrize("name", list(DRIFTS))
def test_a_drifted_entry_point_fails_parity(name: str, copies: dict[str, Path]) -> None:
    assert problems_of(copies) == [], "the untouched copies must agree"
    drift, says = DRIFTS[name]
    drift(copies)
    try:
        problems = problems_of(copies)
    except WrapperError as error:
        problems = [str(error)]
    assert any(says in problem for problem in problems), problems


def test_a_job_on_an_unknown_trigger_is_named(copies: dict[str, Path]) -> None:
    edit(
        copies["workflow"],
        "github.ref_type == 'branch' && github.ref_name == inputs",
        "github.ref_type == 'tag' && github.ref_name == inputs",
    )
    with pytest.raises(WrapperError, match=r"job release: `if: .*` runs for \[\]"):
        all_calls(**copies)


def test_a_missing_trigger_is_named(copies: dict[str, Path]) -> None:
    text = copies["component"].read_text(encoding="utf-8")
    copies["component"].write_text(text[: text.index("pipelines-release:")], encoding="utf-8")
    assert "gitlab: no job for release" in parity_problems(all_calls(**copies))
