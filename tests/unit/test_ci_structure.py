"""What each CI file must keep beyond parity (the engine values: test_engine_values.py).

GitHub (the reusable workflow and its callers): actions pinned by SHA, least
privilege per job, one AWS role per pipeline through OIDC, concurrency per
job, the inputs checked before any work, reports uploaded whatever the
verdict. GitLab (the component): Docker-in-Docker over TLS, pinned images, a
checksum-verified CLI, id_tokens for AWS, JUnit and container-scanning
reports. Jenkins (the library step): the shape npm-groovy-lint does not check
(stages, single-quoted scripts, one role per pipeline, reports in `finally`).
Each check is also shown to fail on a broken copy.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.ci_policies import (
    github_policy_problems,
    gitlab_policy_problems,
    input_check_scripts,
    jenkins_structure_problems,
    reusable_permissions,
)
from tests.ci_wrappers import (
    DAGGER_VERSION,
    GITHUB_WORKFLOWS,
    GITLAB_COMPONENT,
    JENKINS_LIBRARY,
    REUSABLE_WORKFLOW,
    ROOT,
    SERVICE_FILES,
    jenkins_library,
    wrapper_versions,
)

SERVICE_WORKFLOW = SERVICE_FILES / ".github" / "workflows" / "pipelines.yml"
TRIPLE = "'" * 3


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}: the test is stale"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def workflows(tmp_path: Path) -> Path:
    copy = tmp_path / "workflows"
    shutil.copytree(GITHUB_WORKFLOWS, copy)
    return copy


@pytest.fixture
def component(tmp_path: Path) -> Path:
    copy = tmp_path / "template.yml"
    shutil.copy(GITLAB_COMPONENT, copy)
    return copy


@pytest.fixture
def library(tmp_path: Path) -> Path:
    copy = tmp_path / "portablePipelines.groovy"
    shutil.copy(JENKINS_LIBRARY, copy)
    return copy


# --- GitHub Actions -------------------------------------------------------------------


def test_github_workflows_keep_their_policies() -> None:
    assert github_policy_problems(extra=[SERVICE_WORKFLOW]) == []


def test_callers_grant_exactly_what_the_reusable_jobs_ask() -> None:
    assert reusable_permissions() == {
        "contents": "read",
        "id-token": "write",
        "statuses": "write",
        "security-events": "write",
        "actions": "read",
    }


GITHUB_BREAKAGES = {
    "an action pinned by tag": (
        "pipelines.yml",
        "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0",
        "actions/checkout@v5",
        "is not pinned by commit SHA",
    ),
    "the entry point by branch": (
        "reference-service.yml",
        "uses: ./.github/workflows/pipelines.yml",
        "uses: acme/portable-pipelines/.github/workflows/pipelines.yml@main",
        "is not pinned by commit SHA",
    ),
    "write-all": ("pipelines.yml", "permissions: {}", "permissions: write-all", "top-level"),
    "a caller that grants more": (
        "reference-service.yml",
        "{contents: read, id-token: write",
        "{contents: write, id-token: write",
        "must grant exactly what the reusable jobs ask",
    ),
    "a caller that cancels releases": (
        "reference-service.yml",
        "on: [push, pull_request]\n",
        "on: [push, pull_request]\nconcurrency: {group: x, cancel-in-progress: true}\n",
        "no workflow-level concurrency",
    ),
    "a caller that inherits every secret": (
        "reference-service.yml",
        "    secrets:\n      dev-kubeconfig: ${{ secrets.DEV_KUBECONFIG }}\n"
        "      dagger-cloud-token: ${{ secrets.DAGGER_CLOUD_TOKEN }}\n",
        "    secrets: inherit\n",
        "`secrets: inherit`",
    ),
    "a release that cancels": (
        "pipelines.yml",
        "cancel-in-progress: false",
        "cancel-in-progress: true",
        "cancel-in-progress must be False for release",
    ),
    "static AWS keys": (
        "pipelines.yml",
        "role-to-assume: ${{ inputs.release-aws-role }}",
        "aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}",
        "never stored keys",
    ),
    # The finding of issue 14: configure-aws-credentials' default exports the
    # session keys to every later step of the job.
    "an action that exports the AWS keys to later steps": (
        "pipelines.yml",
        "          output-env-credentials: false\n",
        "",
        "needs `output-env-credentials: false`",
    ),
    "AWS keys not handed back as outputs": (
        "pipelines.yml",
        "          output-credentials: true\n",
        "",
        "needs `output-credentials: true`",
    ),
    "an unreviewed action in a job": (
        "pipelines.yml",
        "uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2",
        "uses: someone/exporter@db71d41eb79864e25ab0337e395c352e84523afe # v1.0.0",
        "someone/exporter is not a reviewed action",
    ),
    "a third-party action in a job holding the OIDC token request": (
        "pipelines.yml",
        "      # Reports are published whatever the verdict; the JUnit summary is made\n",
        "      - name: Test summary (JUnit)\n"
        "        uses: mikepenz/action-junit-report@"
        "db71d41eb79864e25ab0337e395c352e84523afe # v4.3.1\n"
        "        with:\n          report_paths: reports/junit/*.xml\n\n"
        "      # Reports are published whatever the verdict; the JUnit summary is made\n",
        "job dev: mikepenz/action-junit-report runs in a job holding ['id-token', 'statuses']",
    ),
    "a summary job granted a token": (
        "pipelines.yml",
        "    timeout-minutes: 10\n    permissions: {}\n",
        "    timeout-minutes: 10\n    permissions:\n      checks: write\n",
        "job test-summary: `permissions: {}`",
    ),
    "a summary that skips pre-merge": (
        "pipelines.yml",
        "    needs: [dev, pre-merge]\n",
        "    needs: [dev]\n",
        "`needs: [dev, pre-merge]`",
    ),
    "a summary handed the job token": (
        "pipelines.yml",
        "          detailed_summary: true\n",
        "          detailed_summary: true\n          token: ${{ github.token }}\n",
        "is handed a token; the summary needs none",
    ),
    "a reports artifact the summary cannot find": (
        "pipelines.yml",
        "          name: pre-merge-reports\n",
        "          name: reports\n",
        "the reports artifact is named pre-merge-reports",
    ),
    "a summary reading another path": (
        "pipelines.yml",
        "          report_paths: reports-in/*/junit/*.xml\n",
        "          report_paths: reports/junit/*.xml\n",
        "needs `report_paths: reports-in/*/junit/*.xml`",
    ),
    "the AWS keys handed to a report step": (
        "pipelines.yml",
        "        uses: actions/upload-artifact@",
        "        env:\n          KEY: ${{ steps.aws.outputs.aws-secret-access-key }}\n"
        "        uses: actions/upload-artifact@",
        "hold a credential, but the step runs no dagger line",
    ),
    "the job token handed to a report step": (
        "pipelines.yml",
        "          category: trivy-pre-merge\n",
        "          category: trivy-pre-merge\n          token: ${{ github.token }}\n",
        "hold a credential, but the step runs no dagger line",
    ),
    "a checkout that keeps the token in .git/config": (
        "pipelines.yml",
        "          persist-credentials: false\n",
        "          persist-credentials: true\n",
        "needs `persist-credentials: false`",
    ),
    "the release job on the dev role": (
        "pipelines.yml",
        "role-to-assume: ${{ inputs.release-aws-role }}",
        "role-to-assume: ${{ inputs.dev-aws-role }}",
        "job release: the release job assumes its own role",
    ),
    "the release job outside its environment": (
        "pipelines.yml",
        "    environment: release\n",
        "",
        "runs in the `release` environment",
    ),
    "another dagger version": (
        "pipelines.yml",
        'DAGGER_VERSION: "0.21.11"',
        'DAGGER_VERSION: "latest"',
        "must set DAGGER_VERSION: '0.21.11'",
    ),
    "an unverified CLI": (
        "pipelines.yml",
        "          if ! sha256sum -c expected.sha256 >/dev/null; then\n",
        "          if false; then\n",
        "is not tools/install-dagger.sh verbatim",
    ),
    "no CLI install": (
        "pipelines.yml",
        "      - name: Install the dagger CLI\n",
        "      - name: Install some CLI\n",
        "no `Install the dagger CLI` step",
    ),
    "reports only on success": (
        "pipelines.yml",
        "if: always() && hashFiles('reports/scan/trivy.sarif') != ''",
        "if: hashFiles('reports/scan/trivy.sarif') != ''",
        "upload-sarif must run `if: always()`",
    ),
    "the engine host overridden": (
        "pipelines.yml",
        "      PIPELINE_SHA: ${{ github.sha }}\n",
        "      PIPELINE_SHA: ${{ github.sha }}\n"
        "      _EXPERIMENTAL_DAGGER_RUNNER_HOST: ${{ vars.DAGGER_RUNNER_HOST }}\n",
        "leave it to the runner",
    ),
    "a secret in the job's env": (
        "pipelines.yml",
        "      PIPELINE_SHA: ${{ github.sha }}\n",
        "      PIPELINE_SHA: ${{ github.sha }}\n      EXTRA: ${{ secrets.dev-kubeconfig }}\n",
        "job-level env EXTRA holds a secret",
    ),
    "an input expanded into a script": (
        "pipelines.yml",
        'call --source="$PIPELINES_SOURCE" \\\n            ${STATUS_TOKEN',
        "call --source=${{ inputs.service-directory }} \\\n            ${STATUS_TOKEN",
        "an expression is expanded into a `run:` script",
    ),
    "no input check": (
        "pipelines.yml",
        "      - name: Check the inputs\n",
        "      - name: Look at the inputs\n",
        "no `Check the inputs` step",
    ),
}


@pytest.mark.parametrize("name", list(GITHUB_BREAKAGES))
def test_github_policy_fails_on_a_broken_copy(name: str, workflows: Path) -> None:
    file_name, old, new, says = GITHUB_BREAKAGES[name]
    edit(workflows / file_name, old, new)
    problems = github_policy_problems(workflows)
    assert any(says in problem for problem in problems), problems


def test_the_input_check_is_the_same_wherever_it_runs() -> None:
    scripts = input_check_scripts()
    assert len(scripts) == 4  # three GitHub jobs and the GitLab jobs' before_script
    assert len(set(scripts.values())) == 1, list(scripts)
    (script,) = set(scripts.values())
    for input_name in ("module-version", "dev-target", "service-directory"):
        assert f"input {input_name} is" in script


def test_a_drifted_input_check_is_named(tmp_path: Path) -> None:
    copy = tmp_path / "pipelines.yml"
    shutil.copy(REUSABLE_WORKFLOW, copy)
    edit(copy, "eks | ec2) ;;", "eks | ec2 | none) ;;")
    scripts = input_check_scripts(workflow=copy)
    assert len(set(scripts.values())) == 2
    assert [where for where, text in scripts.items() if "none" in text] == [
        ".github/workflows/pipelines.yml job dev"
    ]


# --- GitLab CI --------------------------------------------------------------------------


def test_gitlab_component_keeps_its_policies() -> None:
    assert gitlab_policy_problems() == []


GITLAB_BREAKAGES = {
    "an unpinned service": (
        "    - name: docker:28-dind@sha256:"
        "2a232a42256f70d78e3cc5d2b5d6b3276710a0de0596c145f627ecfae90282ac",
        "    - name: docker:28-dind",
        "Docker-in-Docker service must be pinned by digest",
    ),
    "an unpinned job image": (
        "      default: docker:28-dind@sha256:"
        "2a232a42256f70d78e3cc5d2b5d6b3276710a0de0596c145f627ecfae90282ac",
        "      default: docker:28-dind",
        "is not pinned by digest",
    ),
    "Docker without TLS": (
        "DOCKER_HOST: tcp://docker:2376",
        "DOCKER_HOST: tcp://docker:2375",
        "over TLS",
    ),
    "an unverified CLI": (
        "      if ! sha256sum -c expected.sha256 >/dev/null; then\n",
        "      if false; then\n",
        "is not tools/install-dagger.sh verbatim",
    ),
    "no input check": (
        '      if [ ! -f "$PIPELINES_SOURCE/pipelines.toml" ]; then',
        '      if [ ! -f "$PIPELINES_SOURCE/pyproject.toml" ]; then',
        "before_script starts with the input check",
    ),
    "no OIDC token for AWS": (
        "  id_tokens:\n    GITLAB_OIDC_TOKEN:\n      aud: $[[ inputs.oidc-audience ]]\n"
        '  variables:\n    PIPELINES_AWS_ROLE: "$[[ inputs.release-aws-role ]]"',
        '  variables:\n    PIPELINES_AWS_ROLE: "$[[ inputs.release-aws-role ]]"',
        "job pipelines-release: the GITLAB_OIDC_TOKEN id_token is for AWS",
    ),
    "the release job on the dev role": (
        'PIPELINES_AWS_ROLE: "$[[ inputs.release-aws-role ]]"',
        'PIPELINES_AWS_ROLE: "$[[ inputs.dev-aws-role ]]"',
        "the release job exchanges its token for its own role",
    ),
    "reports only on success": ("    when: always\n", "    when: on_success\n", "when: always"),
    "no container scanning report": (
        "      container_scanning: reports/scan/gl-container-scanning-report.json\n",
        "",
        "job pipelines-pre-merge: artifacts:reports:container_scanning",
    ),
    "a version without a pattern": (
        "      regex: ^(v[0-9]+\\.[0-9]+\\.[0-9]+)?$\n",
        "",
        "module-version needs a `regex:`",
    ),
    "an input without a type": (
        "    release-branch:\n      type: string\n",
        "    release-branch:\n",
        "inputs ['release-branch'] need `type: string`",
    ),
    "a default that differs from GitHub's": (
        "      default: main\n",
        "      default: master\n",
        "input 'release-branch' defaults to 'master', GitHub's to 'main'",
    ),
}


@pytest.mark.parametrize("name", list(GITLAB_BREAKAGES))
def test_gitlab_policy_fails_on_a_broken_copy(name: str, component: Path) -> None:
    old, new, says = GITLAB_BREAKAGES[name]
    edit(component, old, new)
    problems = gitlab_policy_problems(component)
    assert any(says in problem for problem in problems), problems


# --- Jenkins -------------------------------------------------------------------------------


def test_jenkins_library_has_its_shape() -> None:
    assert jenkins_structure_problems() == []
    assert list(jenkins_library().stages) == ["Install dagger", "dev", "pre-merge", "release"]


JENKINS_BREAKAGES = {
    "no reports when the build fails": (
        "            } finally {\n",
        "            } catch (Exception failure) {\n",
        "a `finally` must run junit",
    ),
    "no junit": (
        "junit testResults: 'reports/junit/*.xml', allowEmptyResults: true",
        "echo 'no tests'",
        "junit on 'reports/junit/*.xml'",
    ),
    "another dagger version": (
        "DAGGER_VERSION = '0.21.11'",
        "DAGGER_VERSION = '0.21.10'",
        "DAGGER_VERSION must be '0.21.11'",
    ),
    "the release on the dev role": (
        '"PIPELINES_AWS_ROLE=${inputs.releaseAwsRole}"',
        '"PIPELINES_AWS_ROLE=${inputs.devAwsRole}"',
        "stage release: AWS through its own role",
    ),
    "inputs checked too late": (
        "    List<String> problems = inputProblems(given)\n",
        "    List<String> problems = []\n",
        "checks inputProblems(given) before node",
    ),
    "an input GitHub lacks": (
        "    manifests: '',\n",
        "    manifestsDir: '',\n",
        "no input 'manifests'",
    ),
    "an unbalanced brace": ("    stage('dev') {\n", "    stage('dev') {\n    {\n", "unbalanced"),
}


@pytest.mark.parametrize("name", list(JENKINS_BREAKAGES))
def test_jenkins_structure_fails_on_a_broken_copy(name: str, library: Path) -> None:
    old, new, says = JENKINS_BREAKAGES[name]
    edit(library, old, new)
    problems = jenkins_structure_problems(library)
    assert any(says in problem for problem in problems), problems


def test_a_groovy_string_script_is_refused(library: Path) -> None:
    # The install script, with Groovy's interpolating quotes instead of single ones.
    text = library.read_text(encoding="utf-8")
    start = text.index(f"sh {TRIPLE}\n            # The dagger CLI of DAGGER_VERSION")
    end = text.index(TRIPLE, start + 10)
    library.write_text(
        text[:start] + 'sh """' + text[start + 6 : end] + '"""' + text[end + 3 :],
        encoding="utf-8",
    )
    problems = jenkins_structure_problems(library)
    assert any("lets Groovy interpolate" in problem for problem in problems), problems


# --- one dagger version everywhere ------------------------------------------------------------


def test_cli_engine_and_chart_pin_the_same_dagger_version() -> None:
    versions = wrapper_versions()
    assert len(versions) >= 9, versions
    assert set(versions.values()) == {DAGGER_VERSION}, versions


# --- CODEOWNERS ---------------------------------------------------------------------

CODEOWNERS = ROOT / ".github" / "CODEOWNERS"
OWNER = re.compile(r"^(@[\w.-]+(/[\w.-]+)?|[^@\s]+@[^@\s]+\.\w+)$")


def codeowners_problems(path: Path, root: Path = ROOT) -> list[str]:
    """Every rule has owners GitHub accepts, and its path still exists."""
    problems = []
    rules = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        rules += 1
        pattern, *owners = line.split()
        where = f"{path.name}:{number}"
        if not owners:
            problems.append(f"{where}: {pattern} has no owner")
        problems.extend(
            f"{where}: {owner!r} is not @user, @org/team or an email"
            for owner in owners
            if not OWNER.match(owner)
        )
        if pattern != "*" and not (root / pattern.strip("/")).exists():
            problems.append(f"{where}: {pattern} matches nothing in the repository")
    if rules == 0:
        problems.append(f"{path.name}: no rules")
    return problems


def test_codeowners_names_owners_for_existing_paths() -> None:
    assert codeowners_problems(CODEOWNERS) == []
    first_rule = next(
        line for line in CODEOWNERS.read_text(encoding="utf-8").splitlines() if line[:1] == "*"
    )
    assert first_rule.split()[0] == "*", "a catch-all rule comes first (the last match wins)"


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        (
            "/ci/                        @acme/platform-team",
            "/cii/ @acme/platform-team",
            "matches nothing",
        ),
        ("/Jenkinsfile                @acme/platform-team", "/Jenkinsfile", "has no owner"),
        (
            "/infra/                     @acme/platform-team",
            "/infra/ acme-platform",
            "is not @user",
        ),
    ],
)
def test_codeowners_check_fails_on_a_broken_copy(
    old: str, new: str, says: str, tmp_path: Path
) -> None:
    copy = tmp_path / "CODEOWNERS"
    shutil.copy(CODEOWNERS, copy)
    edit(copy, old, new)
    problems = codeowners_problems(copy)
    assert any(says in problem for problem in problems), problems
