"""What each wrapper must keep beyond parity, and the shared engine's Helm values.

GitHub: actions pinned by SHA, least privilege, OIDC for AWS, concurrency,
reports uploaded whatever the verdict. GitLab: Docker-in-Docker over TLS,
pinned images, a checksum-verified CLI, id_tokens for AWS, JUnit and
container-scanning reports. Jenkins: the declarative structure the linter does
not check (agent, stages, the three `when` triggers, post steps). Each check
is also shown to fail on a broken copy.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.ci_wrappers import (
    DAGGER_VERSION,
    GITHUB_WORKFLOWS,
    GITLAB_CI,
    JENKINSFILE,
    ROOT,
    github_policy_problems,
    gitlab_policy_problems,
    jenkins_pipeline,
    jenkins_stages,
    jenkins_structure_problems,
    wrapper_versions,
)

VALUES = ROOT / "deploy" / "dagger-engine" / "values.yaml"


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
def gitlab(tmp_path: Path) -> Path:
    copy = tmp_path / ".gitlab-ci.yml"
    shutil.copy(GITLAB_CI, copy)
    return copy


@pytest.fixture
def jenkinsfile(tmp_path: Path) -> Path:
    copy = tmp_path / "Jenkinsfile"
    shutil.copy(JENKINSFILE, copy)
    return copy


# --- GitHub Actions -------------------------------------------------------------------


def test_github_workflows_keep_their_policies() -> None:
    assert github_policy_problems() == []


GITHUB_BREAKAGES = {
    "an action pinned by tag": (
        "dev.yml",
        "actions/checkout@08c6903cd8c0fde910a37f88322edcfb5dd907a8 # v5.0.0",
        "actions/checkout@v5",
        "is not pinned by commit SHA",
    ),
    "write-all": ("pre-merge.yml", "permissions: {}", "permissions: write-all", "top-level"),
    "a release that cancels": (
        "release.yml",
        "cancel-in-progress: false",
        "cancel-in-progress: true",
        "cancel-in-progress must be False for release",
    ),
    "static AWS keys": (
        "release.yml",
        "role-to-assume: ${{ vars.AWS_ROLE_ARN }}",
        "aws-access-key-id: ${{ secrets.AWS_ACCESS_KEY_ID }}",
        "never stored keys",
    ),
    "another dagger version": (
        "dev.yml",
        'version: "0.21.11"',
        'version: "latest"',
        "must install version 0.21.11",
    ),
    "reports only on success": (
        "pre-merge.yml",
        "if: always() && hashFiles('reports/scan/trivy.sarif') != ''",
        "if: hashFiles('reports/scan/trivy.sarif') != ''",
        "upload-sarif must run `if: always()`",
    ),
    "the engine host overridden": (
        "dev.yml",
        "      PIPELINE_SHA: ${{ github.sha }}\n",
        "      PIPELINE_SHA: ${{ github.sha }}\n"
        "      _EXPERIMENTAL_DAGGER_RUNNER_HOST: ${{ vars.DAGGER_RUNNER_HOST }}\n",
        "leave it to the runner",
    ),
    "a secret in the job's env": (
        "dev.yml",
        "      PIPELINE_SHA: ${{ github.sha }}\n",
        "      PIPELINE_SHA: ${{ github.sha }}\n      EXTRA_TOKEN: ${{ secrets.DEV_KUBECONFIG }}\n",
        "job-level env EXTRA_TOKEN holds a secret",
    ),
    "a secret inlined in a script": (
        "pre-merge.yml",
        "--status-token=env://STATUS_TOKEN",
        "--status-token=${{ secrets.STATUS_TOKEN }}",
        "a secret is expanded into a `run:` script",
    ),
}


@pytest.mark.parametrize("name", list(GITHUB_BREAKAGES))
def test_github_policy_fails_on_a_broken_copy(name: str, workflows: Path) -> None:
    file_name, old, new, says = GITHUB_BREAKAGES[name]
    edit(workflows / file_name, old, new)
    problems = github_policy_problems(workflows)
    assert any(says in problem for problem in problems), problems


# --- GitLab CI --------------------------------------------------------------------------


def test_gitlab_ci_keeps_its_policies() -> None:
    assert gitlab_policy_problems() == []


GITLAB_BREAKAGES = {
    "an unpinned service": (
        "    - name: docker:28-dind@sha256:"
        "2a232a42256f70d78e3cc5d2b5d6b3276710a0de0596c145f627ecfae90282ac",
        "    - name: docker:28-dind",
        "Docker-in-Docker service must be pinned by digest",
    ),
    "Docker without TLS": (
        "DOCKER_HOST: tcp://docker:2376",
        "DOCKER_HOST: tcp://docker:2375",
        "over TLS",
    ),
    "an unverified CLI": (
        "      sha256sum -c expected.sha256\n",
        "",
        "must pass `sha256sum -c` before `tar -x`",
    ),
    "no OIDC token for AWS": (
        "  id_tokens:\n    GITLAB_OIDC_TOKEN:\n      aud: https://gitlab.com\n  script:",
        "  script:",
        "job release: the GITLAB_OIDC_TOKEN id_token is for AWS",
    ),
    "reports only on success": ("    when: always\n", "    when: on_success\n", "when: always"),
    "no container scanning report": (
        "      container_scanning: reports/scan/gl-container-scanning-report.json\n",
        "",
        "job pre-merge: artifacts:reports:container_scanning",
    ),
}


@pytest.mark.parametrize("name", list(GITLAB_BREAKAGES))
def test_gitlab_policy_fails_on_a_broken_copy(name: str, gitlab: Path) -> None:
    old, new, says = GITLAB_BREAKAGES[name]
    edit(gitlab, old, new)
    problems = gitlab_policy_problems(gitlab)
    assert any(says in problem for problem in problems), problems


# --- Jenkins -------------------------------------------------------------------------------


def test_jenkinsfile_has_the_declarative_structure() -> None:
    assert jenkins_structure_problems() == []
    pipeline = jenkins_pipeline()
    assert list(jenkins_stages(pipeline)) == ["Install dagger", "dev", "pre-merge", "release"]


JENKINS_BREAKAGES = {
    "no post section": (
        "    post {\n",
        "    postt {\n",
        "exactly one `post { }` section",
    ),
    "no agent": ("    agent { label 'dagger' }\n", "", "top-level `agent`"),
    "reports only on success": ("        always {\n", "        success {\n", "`always { }` block"),
    "no junit": (
        "junit testResults: 'reports/junit/*.xml', allowEmptyResults: true",
        "echo 'no tests'",
        "junit on 'reports/junit/*.xml'",
    ),
    "a release on every branch": (
        "                allOf {\n                    branch 'main'\n",
        "                allOf {\n                    branch '*'\n",
        "is none of the three triggers",
    ),
    "a GString script": (
        "                        dagger call --source=examples/hello-service verdict "
        "--run=reports/run.json\n                    '''",
        "                        dagger call --source=examples/hello-service verdict "
        '--run=reports/run.json\n                    """',
        "lets Groovy interpolate",
    ),
    "another dagger version": (
        "DAGGER_VERSION = '0.21.11'",
        "DAGGER_VERSION = '0.21.10'",
        "DAGGER_VERSION must be '0.21.11'",
    ),
    "an unbalanced brace": ("    stages {\n", "    stages {\n    {\n", "unbalanced"),
}


@pytest.mark.parametrize("name", list(JENKINS_BREAKAGES))
def test_jenkins_structure_fails_on_a_broken_copy(name: str, jenkinsfile: Path) -> None:
    old, new, says = JENKINS_BREAKAGES[name]
    if name == "a GString script":
        # Both quotes of the verdict line of the dev stage.
        text = jenkinsfile.read_text(encoding="utf-8")
        start = text.index(
            "sh '''\n                        dagger call --source=examples/hello-service verdict"
        )
        jenkinsfile.write_text(
            text[:start] + 'sh """' + text[start + 6 :].replace(old, new, 1), encoding="utf-8"
        )
    else:
        edit(jenkinsfile, old, new)
    problems = jenkins_structure_problems(jenkinsfile)
    assert any(says in problem for problem in problems), problems


# --- one dagger version everywhere ------------------------------------------------------------


def test_cli_engine_and_chart_pin_the_same_dagger_version() -> None:
    versions = wrapper_versions()
    assert len(versions) >= 7, versions
    assert set(versions.values()) == {DAGGER_VERSION}, versions


# --- the shared engine's Helm values -----------------------------------------------------------

# The keys of the official chart (helm/dagger/values.yaml and its templates at
# v0.21.x) that this repository sets, with their types. The chart ships no
# values.schema.json, so this is ours: a misspelt key (which Helm silently
# ignores) fails here.
CHART_VALUES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["engine"],
    "properties": {
        "nameOverride": {"type": "string"},
        "fullnameOverride": {"type": "string"},
        "engine": {
            "type": "object",
            "additionalProperties": False,
            "required": ["image", "kind"],
            "properties": {
                "image": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["ref"],
                    "properties": {
                        "ref": {
                            "type": "string",
                            "pattern": r"^registry\.dagger\.io/engine:v\d+\.\d+\.\d+"
                            r"(@sha256:[0-9a-f]{64})?$",
                        },
                        "pullPolicy": {"enum": ["IfNotPresent", "Always", "Never"]},
                    },
                },
                "kind": {"enum": ["DaemonSet", "StatefulSet"]},
                "statefulSet": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "persistentVolumeClaim": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "enabled": {"type": "boolean"},
                                "storageClassName": {"type": "string"},
                                "accessModes": {"type": "array", "items": {"type": "string"}},
                                "resources": {"type": "object"},
                            },
                        },
                        "persistentVolumeClaimRetentionPolicy": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "whenDeleted": {"enum": ["Delete", "Retain"]},
                                "whenScaled": {"enum": ["Delete", "Retain"]},
                            },
                        },
                        "podManagementPolicy": {"enum": ["OrderedReady", "Parallel"]},
                    },
                },
                "hostPath": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "dataVolume": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"enabled": {"type": "boolean"}},
                        },
                        "runVolume": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {"enabled": {"type": "boolean"}},
                        },
                    },
                },
                "resources": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"requests": {"type": "object"}, "limits": {"type": "object"}},
                },
                "nodeSelector": {"type": "object", "additionalProperties": {"type": "string"}},
                "tolerations": {"type": "array", "items": {"type": "object"}},
                "affinity": {"type": "object"},
                "priorityClassName": {"type": "string"},
                "terminationGracePeriodSeconds": {"type": "integer", "minimum": 0},
                "readinessProbeSettings": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        name: {"type": "integer", "minimum": 0}
                        for name in (
                            "initialDelaySeconds",
                            "timeoutSeconds",
                            "periodSeconds",
                            "successThreshold",
                            "failureThreshold",
                        )
                    },
                },
                "args": {"type": "array", "items": {"type": "string"}},
                "env": {"type": "array", "items": {"type": "object"}},
                "config": {"type": "string"},
                "port": {"type": "integer"},
            },
        },
    },
}


def values_problems(path: Path) -> list[str]:
    values = yaml.safe_load(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(CHART_VALUES_SCHEMA)
    problems = [
        f"{path.name}: {'.'.join(map(str, error.absolute_path)) or '<top>'}: {error.message}"
        for error in validator.iter_errors(values)
    ]
    engine = values.get("engine") or {}
    state = engine.get("statefulSet", {}).get("persistentVolumeClaim", {})
    if engine.get("kind") == "StatefulSet" and not state.get("enabled"):
        problems.append(
            f"{path.name}: a shared StatefulSet engine keeps its cache on a volume claim"
        )
    if state.get("enabled") and engine.get("hostPath", {}).get("dataVolume", {}).get("enabled"):
        problems.append(f"{path.name}: the cache is on the claim; disable hostPath.dataVolume")
    return problems


def test_engine_values_match_the_chart() -> None:
    assert values_problems(VALUES) == []


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ("    pullPolicy: IfNotPresent", "    pulPolicy: IfNotPresent", "pulPolicy"),
        ("  kind: StatefulSet", "  kind: Deployment", "engine.kind"),
        ("ref: registry.dagger.io/engine:v0.21.11", "ref: registry.dagger.io/engine:latest", "ref"),
        (
            "      enabled: true\n      # The cluster",
            "      enabled: false\n      # The cluster",
            "cache",
        ),
    ],
)
def test_engine_values_check_fails_on_a_broken_copy(
    old: str, new: str, says: str, tmp_path: Path
) -> None:
    copy = tmp_path / "values.yaml"
    shutil.copy(VALUES, copy)
    edit(copy, old, new)
    problems = values_problems(copy)
    assert any(says in problem for problem in problems), problems


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
