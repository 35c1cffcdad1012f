"""What each CI file must keep beyond parity: pinning, least privilege, reports, checks.

Each function returns every problem it finds, as a message that names the
file (and job, step or stage) and the fix; an empty list means the file keeps
its policies. tests/unit/test_ci_structure.py runs them on the real files and
on broken copies.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import jsonschema

from tests.ci_wrappers import (
    DAGGER_VERSION,
    GITHUB_REPORT_JOBS,
    GITHUB_REUSABLE,
    GITHUB_WORKFLOWS,
    GITLAB_COMPONENT,
    JENKINS_LIBRARY,
    MODULE_ADDRESS,
    PROJECT_WORKFLOWS,
    REUSABLE_WORKFLOW,
    SHARED_INPUTS,
    TRIGGERS,
    JenkinsLibrary,
    WrapperError,
    aws_group,
    component_document,
    dagger_lines,
    github_job_trigger,
    github_on,
    github_pipeline_jobs,
    github_spec,
    gitlab_jobs,
    gitlab_spec,
    gitlab_trigger,
    jenkins_library,
    load_yaml,
    module_signatures,
    parse_yaml,
    read_github_caller,
    sh_scripts,
    split_component,
)
from tests.module_release import ROOT, project_version

PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
# Callers reference the entry point by its release tag (a protected tag:
# docs/versions.md), or this commit's copy in this repository.
ENTRY_POINT_USES = re.compile(
    rf"^(\./\.github/workflows/pipelines\.yml|{re.escape(GITHUB_REUSABLE)}@v\d+\.\d+\.\d+)$"
)
DIGEST_PINNED = re.compile(r"^[^\s@]+:[^\s@]+@sha256:[0-9a-f]{64}$")
RUNNER_HOST = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"
INPUT_CHECK_STEP = "Check the inputs"


INSTALL_STEP = "Install the dagger CLI"
INSTALL_SCRIPT = ROOT / "tools" / "install-dagger.sh"


def _script_lines(script: str) -> list[str]:
    """A shell script's lines without indentation or blank lines (how embeddings differ)."""
    return [line.strip() for line in script.splitlines() if line.strip()]


def install_script_lines() -> list[str]:
    """tools/install-dagger.sh as every entry point runs it (its shellcheck directive aside)."""
    lines = _script_lines(INSTALL_SCRIPT.read_text(encoding="utf-8"))
    return [line for line in lines if not line.startswith("# shellcheck ")]


def install_problems(script: str, where: str) -> list[str]:
    """The CLI install is tools/install-dagger.sh, verbatim (it checks before it unpacks)."""
    wanted, given = install_script_lines(), _script_lines(script)
    for start in range(len(given) - len(wanted) + 1):
        if given[start : start + len(wanted)] == wanted:
            return []
    return [
        f"{where}: the CLI install is not tools/install-dagger.sh verbatim; copy the script "
        "in again (`python -m tools.pin_dagger` then keeps every copy's pins)"
    ]


def input_check_scripts(
    workflow: Path = REUSABLE_WORKFLOW, component: Path = GITLAB_COMPONENT
) -> dict[str, str]:
    """The shell that checks the inputs, in each place it runs (the same text everywhere)."""
    scripts: dict[str, str] = {}
    for name, job in (load_yaml(workflow).get("jobs") or {}).items():
        for step in job.get("steps", []):
            if step.get("name") == INPUT_CHECK_STEP:
                scripts[f".github/workflows/{workflow.name} job {name}"] = textwrap.dedent(
                    str(step.get("run", ""))
                ).strip()
    document = component_document(_component_defaults(component), component)
    before = document.get(".pipelines-dagger", {}).get("before_script") or [""]
    scripts[f"templates/pipelines/{component.name} .pipelines-dagger"] = str(before[0]).strip()
    return scripts


def _component_defaults(component: Path) -> dict[str, str]:
    return {
        n: f"<{n}>" if w.default is None else w.default for n, w in gitlab_spec(component).items()
    }


# --- GitHub Actions ------------------------------------------------------------------


def _uses_problems(path: Path, where: str) -> Iterator[str]:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        uses = re.match(r"^\s*(?:-\s+)?uses:\s*(.+)$", line)
        if uses is None:
            continue
        value = uses.group(1).strip()
        if not (PINNED_USES.match(value) or ENTRY_POINT_USES.match(value)):
            yield (
                f"{where}:{number}: `uses: {value}` is not pinned by commit SHA with its tag as "
                "a comment (owner/action@<40 hex> # vX.Y.Z)"
            )


def github_policy_problems(
    directory: Path = GITHUB_WORKFLOWS, extra: Sequence[Path] = ()
) -> list[str]:
    """Every workflow of ``directory`` (and the ``extra`` caller files)."""
    problems: list[str] = []
    for path in [*sorted(directory.glob("*.y*ml")), *extra]:
        where = f".github/workflows/{path.name}" if path.parent == directory else str(path)
        problems.extend(_uses_problems(path, where))
        workflow = load_yaml(path)
        if RUNNER_HOST in (workflow.get("env") or {}):
            problems.append(f"{where}: sets {RUNNER_HOST}; leave it to the runner")
        on = github_on(workflow)
        if isinstance(on, Mapping) and "workflow_call" in on:
            problems.extend(_reusable_problems(path, where, workflow))
        elif path.name in PROJECT_WORKFLOWS and path.parent == directory:
            if workflow.get("permissions") != {}:
                problems.append(f"{where}: top-level `permissions: {{}}` (each job asks)")
        else:
            problems.extend(github_caller_problems(path, where))
    return problems


def _reusable_problems(path: Path, where: str, workflow: Mapping[str, Any]) -> Iterator[str]:
    if workflow.get("permissions") != {}:
        yield f"{where}: top-level `permissions: {{}}` (each job asks for its own)"
    jobs = workflow.get("jobs") or {}
    found = set()
    for job_name in GITHUB_REPORT_JOBS:
        if job_name not in jobs:
            yield f"{where}: no job {job_name} (the JUnit summary, made without a token)"
        else:
            yield from _github_summary_job_problems(f"{where} job {job_name}", jobs[job_name])
    for job_name, job in github_pipeline_jobs(workflow).items():
        job_where = f"{where} job {job_name}"
        try:
            trigger = github_job_trigger(job_name, job, where=where)
        except WrapperError as error:
            yield str(error)
            continue
        found.add(trigger)
        yield from _github_job_problems(job_where, trigger, job)
    for trigger in TRIGGERS:
        if trigger not in found:
            yield f"{where}: no job for {trigger}"


def _github_job_problems(where: str, trigger: str, job: Mapping[str, Any]) -> Iterator[str]:
    permissions = job.get("permissions")
    steps = job.get("steps", [])
    uses = [str(step.get("uses", "")).split("@")[0] for step in steps]
    env = job.get("env") or {}
    concurrency = job.get("concurrency") or {}
    if "group" not in concurrency:
        yield f"{where}: no concurrency group"
    elif concurrency.get("cancel-in-progress") is not (trigger != "release"):
        yield (
            f"{where}: cancel-in-progress must be {trigger != 'release'} for {trigger} "
            "(superseded runs cancel; a release never stops half-way)"
        )
    if trigger == "release" and job.get("environment") != "release":
        yield f"{where}: the release job runs in the `release` environment (its OIDC subject)"
    if not isinstance(permissions, Mapping):
        yield f"{where}: no job-level permissions map"
        permissions = {}
    yield from _github_secret_problems(where, env, steps)
    yield from _github_credential_holders(where, steps)
    yield from _github_permission_problems(where, trigger, permissions, uses)
    yield from _github_third_party_problems(where, permissions, uses)
    for step in steps:
        yield from _github_step_problems(where, trigger, step)
    yield from _github_order_problems(where, steps)
    yield from _github_report_problems(where, trigger, steps, uses)


def _github_secret_problems(
    where: str, env: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]
) -> Iterator[str]:
    if RUNNER_HOST in env or any(RUNNER_HOST in (step.get("env") or {}) for step in steps):
        yield f"{where}: sets {RUNNER_HOST}; leave it to the runner (shared engine)"
    for name, value in env.items():
        if "secrets." in str(value) or "github.token" in str(value):
            yield (
                f"{where}: job-level env {name} holds a secret, which every action of the "
                "job could read; give it to the steps that run dagger"
            )
    for step in steps:
        if dagger_lines(str(step.get("run", ""))) and "DAGGER_CLOUD_TOKEN" not in (
            step.get("env") or {}
        ):
            yield f"{where}: DAGGER_CLOUD_TOKEN (optional secret) is not passed to a dagger step"


def _github_credential_holders(where: str, steps: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """Credentials (the AWS step's outputs, secrets, the job token) go to dagger steps only."""
    credential = re.compile(r"steps\.[\w-]+\.outputs\.aws-|secrets\.|github\.token")
    for step in steps:
        name = step.get("name") or step.get("uses")
        holds = [
            key for key, value in (step.get("env") or {}).items() if credential.search(str(value))
        ]
        holds += [
            key for key, value in (step.get("with") or {}).items() if credential.search(str(value))
        ]
        if holds and not dagger_lines(str(step.get("run", ""))):
            yield (
                f"{where} step {name!r}: {holds} hold a credential, but the step runs no "
                "dagger line; credentials reach only the steps that run dagger"
            )


def _github_permission_problems(
    where: str, trigger: str, permissions: Mapping[str, Any], uses: Sequence[str]
) -> Iterator[str]:
    aws = "aws-actions/configure-aws-credentials" in uses
    if aws != (permissions.get("id-token") == "write"):
        yield f"{where}: id-token: write is for the AWS OIDC step, and only with it"
    if aws != (trigger != "pre-merge"):
        yield f"{where}: AWS credentials are for dev and release only"
    if permissions.get("statuses") != "write":
        yield f"{where}: statuses: write (the function posts the commit status)"
    if (
        "github/codeql-action/upload-sarif" in uses
        and permissions.get("security-events") != "write"
    ):
        yield f"{where}: upload-sarif needs security-events: write"
    extra = set(permissions) - {"contents", "id-token", "statuses", "security-events", "actions"}
    if extra or any(value not in ("read", "write") for value in permissions.values()):
        yield f"{where}: permissions beyond what the job uses: {dict(permissions)!r}"


# Every action a job of the reusable workflow may use, each read for what it
# leaves to later steps of the job. An action outside this table fails until
# someone has read it and added it: an action can export credentials through
# $GITHUB_ENV (core.exportVariable), which every later step then reads.
REVIEWED_ACTIONS = {
    # writes the job token into .git/config unless persist-credentials: false
    "actions/checkout": {"persist-credentials": False},
    # exports AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN to
    # $GITHUB_ENV unless output-env-credentials: false (its default is true:
    # action.yml and src/helpers.ts exportCredentials of v5.1.1); the keys then
    # come back as step outputs with output-credentials: true
    "aws-actions/configure-aws-credentials": {
        "output-env-credentials": False,
        "output-credentials": True,
    },
    # read reports and upload them; they export nothing
    "mikepenz/action-junit-report": {},
    "github/codeql-action/upload-sarif": {},
    "actions/upload-artifact": {},
}


def _as_bool(value: Any) -> bool | None:
    text = str(value).strip().lower()
    return {"true": True, "false": False}.get(text)


def _github_step_problems(where: str, trigger: str, step: Mapping[str, Any]) -> Iterator[str]:
    action = str(step.get("uses", "")).split("@")[0]
    inputs = step.get("with") or {}
    if action and action not in REVIEWED_ACTIONS:
        yield (
            f"{where}: {action} is not a reviewed action: read what it leaves to later steps "
            "(exported credentials, files) and add it to REVIEWED_ACTIONS in tests/ci_policies.py"
        )
    for name, wanted in REVIEWED_ACTIONS.get(action, {}).items():
        if _as_bool(inputs.get(name)) is not wanted:
            yield (
                f"{where}: {action} needs `{name}: {str(wanted).lower()}` so no credential "
                "outlives the step that needs it"
            )
    if action == "aws-actions/configure-aws-credentials":
        if "role-to-assume" not in inputs or "aws-access-key-id" in inputs:
            yield f"{where}: AWS through an OIDC role (role-to-assume), never stored keys"
        role = f"${{{{ inputs.{trigger}-aws-role }}}}"
        if inputs.get("role-to-assume") != role:
            yield f"{where}: the {trigger} job assumes its own role, role-to-assume: {role}"
    if step.get("name") == INSTALL_STEP:
        if str((step.get("env") or {}).get("DAGGER_VERSION")) != DAGGER_VERSION:
            yield f"{where}: step {INSTALL_STEP!r} must set DAGGER_VERSION: {DAGGER_VERSION!r}"
        yield from install_problems(str(step.get("run", "")), f"{where} step {INSTALL_STEP!r}")
    if "${{ secrets." in str(step.get("run", "")) or "${{ inputs." in str(step.get("run", "")):
        yield (
            f"{where}: an expression is expanded into a `run:` script (script injection); "
            "pass it through env"
        )


def _github_order_problems(where: str, steps: Sequence[Mapping[str, Any]]) -> Iterator[str]:
    """The inputs are checked after checkout and before any install or dagger line."""
    names = [str(step.get("name", "")) for step in steps]
    if INPUT_CHECK_STEP not in names:
        yield f"{where}: no `{INPUT_CHECK_STEP}` step (bad input must stop before any work)"
        return
    check = names.index(INPUT_CHECK_STEP)
    if INSTALL_STEP not in names:
        yield f"{where}: no `{INSTALL_STEP}` step (tools/install-dagger.sh, verbatim)"
    for index, step in enumerate(steps):
        starts_work = step.get("name") == INSTALL_STEP or dagger_lines(str(step.get("run", "")))
        if starts_work and index < check:
            yield f"{where}: step {names[index]!r} runs before `{INPUT_CHECK_STEP}`"
    if not str(steps[0].get("uses", "")).startswith("actions/checkout@"):
        yield f"{where}: the first step checks out (the input check reads pipelines.toml)"


# Where each upload reads its report; the SARIF exists only where Trivy runs.
GITHUB_UPLOADS = {
    "github/codeql-action/upload-sarif": ("sarif_file", "reports/scan/trivy.sarif"),
    "actions/upload-artifact": ("path", "reports/"),
}
# Owners whose actions may run in a job that holds a token that writes or the
# OIDC token request: every step of a job can use both, so only GitHub's own
# actions and AWS's credentials action run there.
FIRST_PARTY_OWNERS = ("actions", "github", "aws-actions")
# The summary job's two steps, and what each reads.
SUMMARY_STEPS: dict[str, dict[str, str | bool]] = {
    "actions/download-artifact": {"pattern": "*-reports", "path": "reports-in"},
    "mikepenz/action-junit-report": {
        "report_paths": "reports-in/*/junit/*.xml",
        "annotate_only": True,
    },
}


def _github_third_party_problems(
    where: str, permissions: Mapping[str, Any], uses: Sequence[str]
) -> Iterator[str]:
    privileged = [scope for scope, level in permissions.items() if level == "write"]
    if not privileged:
        return
    for action in uses:
        if action and action.split("/")[0] not in FIRST_PARTY_OWNERS:
            yield (
                f"{where}: {action} runs in a job holding {sorted(privileged)}; run third-party "
                "actions in a job granted nothing (like test-summary), from the artifact"
            )


def _github_summary_job_problems(where: str, job: Mapping[str, Any]) -> Iterator[str]:
    if job.get("permissions") != {}:
        yield f"{where}: `permissions: {{}}` (it reads an artifact of this run and needs nothing)"
    if sorted(job.get("needs") or []) != ["dev", "pre-merge"]:
        yield f"{where}: `needs: [dev, pre-merge]` (the jobs that run test suites)"
    if "!cancelled()" not in str(job.get("if", "")):
        yield f"{where}: `if:` must hold !cancelled() (a summary whatever the verdict)"
    steps = job.get("steps") or []
    uses = [str(step.get("uses", "")).split("@")[0] for step in steps]
    if uses != list(SUMMARY_STEPS):
        yield f"{where}: the steps are {list(SUMMARY_STEPS)}, in that order; found {uses}"
        return
    for step, (action, wanted) in zip(steps, SUMMARY_STEPS.items(), strict=True):
        inputs = step.get("with") or {}
        for key, value in wanted.items():
            given = _as_bool(inputs.get(key)) if isinstance(value, bool) else inputs.get(key)
            if given != value:
                yield f"{where}: {action} needs `{key}: {value}`"
    for step in steps:
        values = [*(step.get("env") or {}).values(), *(step.get("with") or {}).values()]
        if any("secrets." in str(v) or "github.token" in str(v) for v in values):
            yield f"{where}: step {step.get('name')!r} is handed a token; the summary needs none"


def _after(steps: Sequence[Mapping[str, Any]], index: int) -> bool:
    """True when step ``index`` comes after the last step that runs `dagger`."""
    dagger_steps = [i for i, step in enumerate(steps) if dagger_lines(str(step.get("run", "")))]
    return bool(dagger_steps) and index > max(dagger_steps)


def _github_report_problems(
    where: str, trigger: str, steps: Sequence[Mapping[str, Any]], uses: Sequence[str]
) -> Iterator[str]:
    wanted = {"actions/upload-artifact"}
    if trigger != "dev":  # dev runs no scan
        wanted.add("github/codeql-action/upload-sarif")
    for name in sorted(wanted):
        if name not in uses:
            yield f"{where}: no {name} step"
            continue
        step = steps[uses.index(name)]
        key, value = GITHUB_UPLOADS[name]
        if (step.get("with") or {}).get(key) != value:
            yield f"{where}: {name} must read {value} ({key})"
        if not str(step.get("if", "")).startswith("always()"):
            yield f"{where}: {name} must run `if: always()` (reports whatever the verdict)"
        if not _after(steps, uses.index(name)):
            yield f"{where}: {name} must come after the verdict line"
    if "actions/upload-artifact" in uses:
        artifact = (steps[uses.index("actions/upload-artifact")].get("with") or {}).get("name")
        if artifact != f"{trigger}-reports":
            yield (
                f"{where}: the reports artifact is named {trigger}-reports (test-summary reads it)"
            )


def reusable_permissions(path: Path = REUSABLE_WORKFLOW) -> dict[str, str]:
    """The union of what the reusable workflow's jobs ask: the most a caller may grant."""
    union: dict[str, str] = {}
    for job in (load_yaml(path).get("jobs") or {}).values():
        for scope, level in (job.get("permissions") or {}).items():
            if union.get(scope) != "write":
                union[scope] = level
    return union


def github_caller_problems(path: Path, where: str) -> list[str]:
    """A workflow that calls the reusable workflow: one job, pinned, least privilege."""
    workflow = load_yaml(path)
    problems = []
    on = github_on(workflow)
    events = set(on) if isinstance(on, list | dict) else {on}
    if not {"push", "pull_request"} <= events:
        problems.append(f"{where}: `on:` must include push and pull_request, found {on!r}")
    if "concurrency" in workflow:
        problems.append(
            f"{where}: no workflow-level concurrency: the reusable jobs have their own, and a "
            "cancelled release would leave tags no record describes"
        )
    try:
        caller = read_github_caller(path)
    except WrapperError as error:
        return [*problems, str(error)]
    job = next(iter(workflow["jobs"].values()))
    if job.get("permissions") != reusable_permissions():
        problems.append(
            f"{where}: the calling job must grant exactly what the reusable jobs ask, "
            f"permissions: {reusable_permissions()!r}; found {job.get('permissions')!r}"
        )
    if "<inherit>" in caller.secrets:
        problems.append(f"{where}: `secrets: inherit`: pass each secret by name")
    return problems


# --- GitLab CI --------------------------------------------------------------------------


def gitlab_policy_problems(path: Path = GITLAB_COMPONENT) -> list[str]:
    problems: list[str] = []
    try:
        spec = gitlab_spec(path)
        inputs = _component_defaults(path)
        document = component_document(inputs, path)
        jobs = gitlab_jobs(document, path.name)
    except WrapperError as error:
        return [str(error)]
    where = f"templates/pipelines/{path.name}"
    github, _ = github_spec()
    for name in SHARED_INPUTS:
        if name not in spec:
            problems.append(f"{where}: no input {name!r} (GitHub and Jenkins have it)")
        elif spec[name].default != github[name].default and spec[name].default is not None:
            problems.append(
                f"{where}: input {name!r} defaults to {spec[name].default!r}, GitHub's to "
                f"{github[name].default!r}"
            )
    header = parse_yaml(split_component(path)[0])
    untyped = [
        name
        for name, declared in ((header.get("spec") or {}).get("inputs") or {}).items()
        if not isinstance(declared, Mapping) or declared.get("type") != "string"
    ]
    if untyped:
        problems.append(f"{where}: inputs {untyped} need `type: string` (what GitLab checks)")
    version = spec.get("module-version")
    if version is None or not version.regex:
        problems.append(f"{where}: module-version needs a `regex:` of release tags")
    if "dev-target" in spec and set(spec["dev-target"].options) != {"eks", "ec2"}:
        problems.append(f"{where}: dev-target needs `options: [eks, ec2]`")
    base = document.get(".pipelines-dagger") or {}
    variables = base.get("variables") or {}
    if str(variables.get("DAGGER_VERSION")) != DAGGER_VERSION:
        problems.append(f"{where}: .pipelines-dagger DAGGER_VERSION must be {DAGGER_VERSION!r}")
    if RUNNER_HOST in variables or "variables" in document:
        problems.append(
            f"{where}: no global variables, and never {RUNNER_HOST}: leave it to the runner"
        )
    for name, job in jobs.items():
        job_where = f"{where} job {name}"
        try:
            trigger = gitlab_trigger(job, inputs["release-branch"], job_where)
        except WrapperError as error:
            problems.append(str(error))
            continue
        lines = dagger_lines("\n".join(job.get("script") or []))
        uses_aws = any(aws_group(line) for line in lines)
        problems.extend(_gitlab_runtime_problems(job_where, job, _github_input_check()))
        problems.extend(_gitlab_job_problems(job_where, trigger, job, uses_aws=uses_aws))
    return problems


def _github_input_check() -> str:
    for job in (load_yaml(REUSABLE_WORKFLOW).get("jobs") or {}).values():
        for step in job.get("steps", []):
            if step.get("name") == INPUT_CHECK_STEP:
                return textwrap.dedent(str(step.get("run", ""))).strip()
    return "<none>"


def _gitlab_runtime_problems(where: str, job: Mapping[str, Any], check: str) -> Iterator[str]:
    job_variables = job.get("variables") or {}
    image = job.get("image") or {}
    image_name = str(image.get("name") if isinstance(image, Mapping) else image)
    image_name = image_name.replace("$DAGGER_JOB_IMAGE", str(job_variables.get("DAGGER_JOB_IMAGE")))
    if not DIGEST_PINNED.match(image_name):
        yield f"{where}: image {image_name!r} is not pinned by digest"
    services = [s.get("name") if isinstance(s, Mapping) else s for s in job.get("services", [])]
    if not services or not all(DIGEST_PINNED.match(str(s)) for s in services):
        yield f"{where}: the Docker-in-Docker service must be pinned by digest"
    if job_variables.get("DOCKER_HOST") != "tcp://docker:2376" or not job_variables.get(
        "DOCKER_TLS_CERTDIR"
    ):
        yield f"{where}: Docker-in-Docker over TLS (DOCKER_HOST tcp://docker:2376, certificates)"
    if RUNNER_HOST in job_variables:
        yield f"{where}: sets {RUNNER_HOST}; leave it to the runner"
    before = [str(part) for part in job.get("before_script") or []]
    if len(before) < 2 or before[0].strip() != check:
        yield (
            f"{where}: before_script starts with the input check (the same script as the "
            f"reusable workflow's `{INPUT_CHECK_STEP}` step), then installs the CLI"
        )
    yield from install_problems("\n".join(before[1:]), where)


def _gitlab_job_problems(
    where: str, trigger: str, job: Mapping[str, Any], *, uses_aws: bool
) -> Iterator[str]:
    tokens = job.get("id_tokens") or {}
    if uses_aws != ("GITLAB_OIDC_TOKEN" in tokens):
        yield f"{where}: the GITLAB_OIDC_TOKEN id_token is for AWS, and only with it"
    if uses_aws != (trigger != "pre-merge"):
        yield f"{where}: AWS credentials are for dev and release only"
    if "GITLAB_OIDC_TOKEN" in tokens and not tokens["GITLAB_OIDC_TOKEN"].get("aud"):
        yield f"{where}: the id_token needs the AWS provider's audience (aud)"
    role = (job.get("variables") or {}).get("PIPELINES_AWS_ROLE")
    if uses_aws and role != f"<{trigger}-aws-role>":
        yield (
            f"{where}: the {trigger} job exchanges its token for its own role, "
            f'"$[[ inputs.{trigger}-aws-role ]]"'
        )
    artifacts = job.get("artifacts") or {}
    reports = artifacts.get("reports") or {}
    if artifacts.get("when") != "always":
        yield f"{where}: artifacts must be kept `when: always`"
    if reports.get("junit") != "reports/junit/*.xml":
        yield f"{where}: artifacts:reports:junit must be reports/junit/*.xml"
    wanted = "reports/scan/gl-container-scanning-report.json" if trigger != "dev" else None
    if reports.get("container_scanning") != wanted:
        yield f"{where}: artifacts:reports:container_scanning should be {wanted!r}"
    if job.get("interruptible") is not (trigger != "release"):
        yield f"{where}: interruptible must be {trigger != 'release'}"
    if trigger == "release" and not job.get("resource_group"):
        yield f"{where}: a resource_group keeps releases one at a time"


# --- Jenkins --------------------------------------------------------------------------------


def jenkins_structure_problems(path: Path = JENKINS_LIBRARY) -> list[str]:
    """The library's shape, which npm-groovy-lint does not check.

    How it behaves (which stage runs for which build, what each binds, that bad
    input stops before an agent) is shown by running it:
    tests/integration/test_jenkins_library.py.
    """
    where = f"vars/{path.name}"
    try:
        library = jenkins_library(path)
    except WrapperError as error:
        return [str(error)]
    problems = []
    if library.dagger_version != DAGGER_VERSION:
        problems.append(f"{where}: DAGGER_VERSION must be '{DAGGER_VERSION}'")
    github, _ = github_spec()
    for kebab, camel in SHARED_INPUTS.items():
        if camel not in library.inputs:
            problems.append(f"{where}: no input {camel!r} (GitHub's {kebab!r})")
        elif github[kebab].default not in (None, library.inputs[camel].default):
            problems.append(
                f"{where}: input {camel!r} defaults to {library.inputs[camel].default!r}, "
                f"GitHub's {kebab!r} to {github[kebab].default!r}"
            )
    for name in ("Install dagger", *TRIGGERS):
        if name not in library.stages:
            problems.append(f"{where}: no stage('{name}')")
    if problems:
        return problems
    return _jenkins_stage_problems(where, library)


def _jenkins_stage_problems(where: str, library: JenkinsLibrary) -> list[str]:
    problems = []
    for name, stage in library.stages.items():
        for literal in sh_scripts(stage.text):
            if literal.quote not in {"'''", "'"}:
                problems.append(
                    f"{where} stage {name}: `sh {literal.quote}...` lets Groovy interpolate; "
                    "use sh '''...''' so secrets stay in the shell's environment"
                )
    install = "\n".join(s.value for s in sh_scripts(library.stages["Install dagger"].text))
    problems.extend(install_problems(install, f"{where} stage 'Install dagger'"))
    for trigger in ("dev", "release"):
        stage_text = library.stages[trigger].text
        binding = rf"awsIdToken\(inputs\.{trigger}AwsCredentialsId\)"
        role = rf'"PIPELINES_AWS_ROLE=\$\{{inputs\.{trigger}AwsRole\}}"'
        if not re.search(binding, stage_text) or not re.search(role, stage_text):
            problems.append(
                f"{where} stage {trigger}: AWS through its own role, "
                f"awsIdToken(inputs.{trigger}AwsCredentialsId) with "
                f"PIPELINES_AWS_ROLE=${{inputs.{trigger}AwsRole}}"
            )
    if re.search(r"\bawsIdToken\(|PIPELINES_AWS_ROLE", library.stages["pre-merge"].text):
        problems.append(f"{where} stage pre-merge: no AWS credentials for pre-merge")
    if "AmazonWebServicesCredentialsBinding" in library.text:
        problems.append(
            f"{where}: a stored AWS key (AmazonWebServicesCredentialsBinding); AWS through "
            "the build's OIDC id token (awsIdToken) instead"
        )
    text = library.text
    finally_block = re.search(r"\}\s*finally\s*\{(.*?)\n\s*\}", text, flags=re.S)
    reports = finally_block.group(1) if finally_block else ""
    if not re.search(r"\bjunit\b[^\n]*'reports/junit/\*\.xml'", reports):
        problems.append(f"{where}: a `finally` must run junit on 'reports/junit/*.xml'")
    if not re.search(r"\barchiveArtifacts\b[^\n]*'reports/\*\*'", reports):
        problems.append(f"{where}: a `finally` must archiveArtifacts 'reports/**'")
    if RUNNER_HOST + "=" in text:
        problems.append(f"{where}: sets {RUNNER_HOST}; leave it to the agent")
    check, node = text.find("inputProblems(given)"), text.find("node(")
    if check < 0 or node < 0 or check > node:
        problems.append(f"{where}: call() checks inputProblems(given) before node(...)")
    return problems


# --- dagger check in a service repository: its dagger.json --------------------------------

# The keys of a dagger.json the engine reads (core/modules/config.go on the
# v0.21 branch: ModuleConfig, ModuleConfigDependency, ModuleConfigArgument)
# that a service's file may use; a misspelt key, which the engine would
# ignore, fails here.
SERVICE_DAGGER_JSON: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["name", "engineVersion", "toolchains"],
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "engineVersion": {"type": "string", "pattern": r"^v\d+\.\d+\.\d+$"},
        "toolchains": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "source"],
                "properties": {
                    "name": {"type": "string"},
                    "source": {"type": "string"},
                    "pin": {"type": "string", "pattern": "^[0-9a-f]{40}$"},
                    "ignoreChecks": {"type": "array", "items": {"type": "string"}},
                    "customizations": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["argument"],
                            "properties": {
                                "function": {"type": "array", "items": {"type": "string"}},
                                "argument": {"type": "string"},
                                "default": {"type": "string"},
                                "defaultPath": {"type": "string"},
                                "defaultAddress": {"type": "string"},
                                "ignore": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        },
    },
}


def service_dagger_json_problems(path: Path) -> list[str]:
    config = json.loads(path.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(SERVICE_DAGGER_JSON)
    problems = [
        f"{path.name}: {'.'.join(map(str, e.absolute_path)) or '<top>'}: {e.message}"
        for e in validator.iter_errors(config)
    ]
    if problems:
        return problems
    ours = json.loads((ROOT / "dagger.json").read_text(encoding="utf-8"))
    if config["engineVersion"] != ours["engineVersion"]:
        problems.append(f"{path.name}: engineVersion must be the module's, {ours['engineVersion']}")
    toolchains = [t for t in config["toolchains"] if t["name"] == ours["name"]]
    if len(toolchains) != 1:
        return [*problems, f"{path.name}: one toolchain named {ours['name']!r}"]
    (toolchain,) = toolchains
    tag = f"v{project_version()}"
    if toolchain["source"] != f"{MODULE_ADDRESS}@{tag}":
        problems.append(
            f"{path.name}: the toolchain's source must be {MODULE_ADDRESS}@{tag}, the release "
            "the CI files pin"
        )
    constructor = module_signatures().constructor
    source = [
        c
        for c in toolchain.get("customizations", [])
        if c["argument"] == "source" and not c.get("function")
    ]
    if "source" not in constructor or [c.get("defaultPath") for c in source] != ["."]:
        problems.append(
            f'{path.name}: customize the constructor\'s `source` with defaultPath ".": '
            "otherwise `dagger check` checks the module's own reference service"
        )
    return problems
