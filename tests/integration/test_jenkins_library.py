"""The Jenkins library step, run: on Groovy, with the Jenkins steps it calls recorded.

npm-groovy-lint checks Groovy, not what a pipeline does. Here
``vars/portablePipelines.groovy`` runs for real (tests/jenkins/harness.groovy,
on the Groovy runtime npm-groovy-lint ships), called by this repository's
Jenkinsfile and by the docs' service-side Jenkinsfile, for every kind of
build: which stage runs, what it binds, the `sh` it runs with which
environment, that reports are kept when a line fails, and that bad input
stops the build before an agent is allocated. Its lines, expanded in the
environment they ran in, must be what the GitHub and GitLab entry points
run for the same inputs.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.ci_expressions import expand_line
from tests.ci_wrappers import (
    INPUT_VARIABLES,
    JENKINS_LIBRARY,
    JENKINSFILE,
    MATRIX,
    ROOT,
    SERVICE_FILES,
    TRIGGERS,
    dagger_lines,
    jenkins_inputs,
    jenkins_resolve,
    normalise,
    resolve,
    scenarios,
    without_status_token,
)

pytestmark = pytest.mark.tools

GROOVY = ROOT / "node_modules" / "npm-groovy-lint" / "lib" / "java" / "groovy" / "lib"
HARNESS = ROOT / "tests" / "jenkins" / "harness.groovy"
SERVICE_JENKINSFILE = SERVICE_FILES / "Jenkinsfile"
REFERENCE_TOML = "examples/hello-service/pipelines.toml"

Run = dict[str, Any]


def harness(runs: list[Run], tmp_path: Path, library: Path = JENKINS_LIBRARY) -> dict[str, Run]:
    if not GROOVY.is_dir():
        pytest.skip(
            "the Groovy runtime of npm-groovy-lint is absent: run `npm ci` at the repository "
            "root (.ci/run does)"
        )
    spec = tmp_path / "runs.json"
    spec.write_text(json.dumps({"library": str(library), "runs": runs}), encoding="utf-8")
    result = subprocess.run(
        ["java", "-cp", f"{GROOVY}/*", "groovy.ui.GroovyMain", str(HARNESS), str(spec)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return {run["name"]: run for run in json.loads(result.stdout)}


def stages(run: Run) -> list[str]:
    return [event["name"] for event in run["events"] if event["type"] == "stage"]


def events(run: Run, kind: str) -> list[dict[str, Any]]:
    return [event for event in run["events"] if event["type"] == kind]


def lines_by_stage(run: Run) -> dict[str, tuple[tuple[str, ...], ...]]:
    """Every dagger line the build ran, expanded in the environment it ran in."""
    found: dict[str, list[tuple[str, ...]]] = {}
    for event in events(run, "sh"):
        env: Mapping[str, str] = event["env"]
        for line in dagger_lines(event["script"]):
            found.setdefault(event["stage"], []).append(
                expand_line(line, env, INPUT_VARIABLES.__contains__)
            )
    return {stage: tuple(lines) for stage, lines in found.items()}


def build(name: str, scenario_env: dict[str, str], **run: Any) -> Run:
    return {"name": name, "env": scenario_env, **run}


# --- which stage runs for which build ------------------------------------------------------


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    """Every kind of build, for this repository's Jenkinsfile and the service's."""
    runs: list[Run] = []
    for jenkinsfile, files, label in (
        (JENKINSFILE, [REFERENCE_TOML], "own"),
        (SERVICE_JENKINSFILE, ["pipelines.toml"], "service"),
    ):
        for scenario in scenarios():
            runs.append(
                build(
                    f"{label}: {scenario.name}",
                    scenario.jenkins(),
                    jenkinsfile=str(jenkinsfile),
                    files=files,
                )
            )
    for case, shared in MATRIX.items():
        for scenario in scenarios(shared.get("release-branch", "main")):
            if scenario.expected:
                directory = shared.get("service-directory", ".")
                runs.append(
                    build(
                        f"{case}: {scenario.expected}",
                        scenario.jenkins(),
                        inputs=jenkins_inputs(shared),
                        files=[f"{directory}/pipelines.toml".removeprefix("./")],
                    )
                )
    runs += [
        build(
            "release with [skip ci]",
            {"BRANCH_NAME": "main"},
            jenkinsfile=str(SERVICE_JENKINSFILE),
            files=["pipelines.toml"],
            changelog=["Update the dev image [skip ci]"],
        ),
        build(
            "a change request from a fork",
            {
                "BRANCH_NAME": "PR-8",
                "CHANGE_ID": "8",
                "CHANGE_TARGET": "main",
                "CHANGE_FORK": "someone",
            },
            inputs=jenkins_inputs(MATRIX["a service on eks"]),
            files=["pipelines.toml"],
        ),
        build(
            "no pipelines.toml",
            {"BRANCH_NAME": "feature/x"},
            inputs=jenkins_inputs({**MATRIX["a service on eks"], "service-directory": "api"}),
            files=["pipelines.toml"],
        ),
        build(
            "bad inputs",
            {"BRANCH_NAME": "feature/x"},
            inputs={"moduleVersion": "main", "devTraget": "ec2", "devTarget": "ecs"},
            files=["pipelines.toml"],
        ),
        build(
            "a local module with a version",
            {"BRANCH_NAME": "feature/x"},
            inputs=jenkins_inputs({**MATRIX["this repository"], "module-version": "v0.1.0"}),
            files=[REFERENCE_TOML],
        ),
    ]
    return harness(runs, tmp_path_factory.mktemp("jenkins"))


@pytest.mark.parametrize("label", ["own", "service"])
def test_each_build_runs_its_pipeline_and_no_other(builds: dict[str, Run], label: str) -> None:
    for scenario in scenarios():
        run = builds[f"{label}: {scenario.name}"]
        assert run["error"] is None, run["error"]
        expected = ["Install dagger", scenario.expected] if scenario.expected else []
        assert stages(run) == expected, scenario.name
        if scenario.expected is None:
            assert events(run, "node") == []  # no agent for a build that runs nothing


@pytest.mark.parametrize("case", list(MATRIX))
def test_the_library_runs_what_github_and_gitlab_run(builds: dict[str, Run], case: str) -> None:
    shared = MATRIX[case]
    github = resolve("github", shared)
    static = jenkins_resolve(jenkins_inputs(shared))
    for trigger in TRIGGERS:
        ran = lines_by_stage(builds[f"{case}: {trigger}"])[trigger]
        # Who is handed a status token is each forge's trust model
        # (tests/unit/test_trust_model.py); the rest of the line is the same.
        assert [without_status_token(normalise(line)) for line in ran] == [
            without_status_token(normalise(line)) for line in github[trigger]
        ]
        assert ran == static[trigger], "the static reading of the library (unit tests) is wrong"


def _pipeline_sh(run: Run) -> dict[str, Any]:
    (event,) = [e for e in events(run, "sh") if "reports export" in e["script"]]
    return event


def test_each_pipeline_binds_only_its_own_credentials(builds: dict[str, Run]) -> None:
    by_trigger = {
        trigger: events(builds[f"a service on eks: {trigger}"], "credentials")
        for trigger in TRIGGERS
    }
    bound = {
        trigger: [b["variable"] for e in found for b in e["bindings"] if b["kind"] == "string"]
        for trigger, found in by_trigger.items()
    }
    assert bound == {
        "dev": ["PIPELINES_OIDC_TOKEN", "STATUS_TOKEN", "PIPELINES_KUBECONFIG"],
        "pre-merge": ["STATUS_TOKEN"],
        "release": ["PIPELINES_OIDC_TOKEN", "STATUS_TOKEN"],
    }
    # No stored AWS key is bound anywhere: the id token is the only AWS credential.
    assert [
        b
        for found in by_trigger.values()
        for e in found
        for b in e["bindings"]
        if b["kind"] != "string"
    ] == []
    roles = {
        trigger: _pipeline_sh(builds[f"a service on eks: {trigger}"])["env"].get(
            "PIPELINES_AWS_ROLE"
        )
        for trigger in TRIGGERS
    }
    assert roles == {
        "dev": MATRIX["a service on eks"]["dev-aws-role"],
        "pre-merge": None,
        "release": MATRIX["a service on eks"]["release-aws-role"],
    }
    ec2 = events(builds["a service on ec2: dev"], "credentials")
    assert [b["variable"] for e in ec2 for b in e["bindings"] if b["kind"] == "string"] == [
        "PIPELINES_OIDC_TOKEN",
        "STATUS_TOKEN",
    ]
    # Secrets reach only the `sh` that runs the pipeline line, never the verdict.
    for event in events(builds["a service on eks: dev"], "sh"):
        has_secrets = {"STATUS_TOKEN", "PIPELINES_OIDC_TOKEN"} & set(event["env"])
        assert bool(has_secrets) == ("reports export" in event["script"]), event["script"][:60]


def test_a_change_request_from_a_fork_is_handed_no_token(builds: dict[str, Run]) -> None:
    same = builds["a service on eks: pre-merge"]
    fork = builds["a change request from a fork"]
    assert fork["error"] is None, fork["error"]
    assert stages(fork) == ["Install dagger", "pre-merge"]
    assert [b for e in events(fork, "credentials") for b in e["bindings"]] == []
    assert _pipeline_sh(fork)["env"]["PIPELINES_REPORT_STATUS"] == "false"
    assert _pipeline_sh(same)["env"]["PIPELINES_REPORT_STATUS"] == "true"
    (line, _verdict) = lines_by_stage(fork)["pre-merge"]
    assert not any(word.startswith("--status-token") for word in line)


def test_a_release_build_of_an_image_updater_commit_runs_nothing(builds: dict[str, Run]) -> None:
    run = builds["release with [skip ci]"]
    assert run["error"] is None
    assert stages(run) == []
    assert "[skip ci]" in events(run, "echo")[0]["message"]


def test_the_reports_are_kept_whatever_the_verdict(tmp_path: Path) -> None:
    # A library whose pipeline line fails: junit and archiveArtifacts still run.
    failing = tmp_path / "portablePipelines.groovy"
    text = JENKINS_LIBRARY.read_text(encoding="utf-8")
    failing.write_text(
        text.replace(
            "    installDagger()\n", "    installDagger()\n    error('the pipeline failed')\n", 1
        ),
        encoding="utf-8",
    )
    run = harness(
        [
            build(
                "fails",
                {"BRANCH_NAME": "feature/x"},
                jenkinsfile=str(SERVICE_JENKINSFILE),
                files=["pipelines.toml"],
            )
        ],
        tmp_path,
        library=failing,
    )["fails"]
    assert run["error"] == "the pipeline failed"
    assert [event["type"] for event in run["events"]][-2:] == ["junit", "archiveArtifacts"]
    assert events(run, "junit")[0]["value"]["testResults"] == "reports/junit/*.xml"


# --- bad input: stopped with its fix, before any work -------------------------------------


def test_bad_inputs_stop_before_an_agent_with_every_fix(builds: dict[str, Run]) -> None:
    run = builds["bad inputs"]
    assert run["events"] == []  # not even properties(), let alone node()
    message = run["error"]
    assert "unknown input 'devTraget': the inputs are moduleVersion, module," in message
    assert "fix its name in the Jenkinsfile" in message
    assert "input moduleVersion is 'main', which is not a release tag: set it to the tag" in message
    assert "input devTarget is 'ecs': set it to eks or ec2" in message
    assert "input devAwsRole is missing: set it in the Jenkinsfile" in message


def test_a_local_module_takes_no_version(builds: dict[str, Run]) -> None:
    message = builds["a local module with a version"]["error"]
    assert "input moduleVersion is 'v0.1.0' but module '.' is a local path" in message


def test_a_directory_without_pipelines_toml_stops_before_the_install(
    builds: dict[str, Run],
) -> None:
    run = builds["no pipelines.toml"]
    assert run["error"].startswith(
        "input serviceDirectory is 'api', which holds no pipelines.toml: set it"
    )
    assert stages(run) == []  # the CLI was never downloaded
    assert [event["type"] for event in run["events"]][-1] == "checkout"


def test_a_library_that_runs_dev_for_a_tag_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "portablePipelines.groovy"
    text = JENKINS_LIBRARY.read_text(encoding="utf-8")
    old = "    if (tag || !branch) {"
    assert old in text
    broken.write_text(text.replace(old, "    if (!branch) {", 1), encoding="utf-8")
    (tag,) = [scenario for scenario in scenarios() if scenario.tag]
    run = harness(
        [
            build(
                "tag", tag.jenkins(), jenkinsfile=str(SERVICE_JENKINSFILE), files=["pipelines.toml"]
            )
        ],
        tmp_path,
        library=broken,
    )["tag"]
    assert stages(run) == ["Install dagger", "dev"]  # what the real library must not do
