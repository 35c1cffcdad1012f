"""Read the reusable CI entry points and their callers back into plain data.

Three reusable entry points hold the CI logic a service adopts:

- GitHub: the reusable workflow ``.github/workflows/pipelines.yml``;
- GitLab: the CI/CD component ``templates/pipelines/template.yml``;
- Jenkins: the shared-library step ``vars/portablePipelines.groovy``.

Their callers are one small file per CI system: this repository's own
(``.github/workflows/reference-service.yml``, ``.gitlab-ci.yml``,
``Jenkinsfile``) and the service-side files the docs show
(``docs/snippets/service/``). This module extracts, per system and trigger
(dev, pre-merge, release), the ``dagger`` lines of the entry point, and follows
a caller into it: its inputs (with the entry point's defaults) decide the
environment each line sees, so :func:`resolve` returns the lines exactly as
they run, optional flags decided. The parity tests compare those across the
three systems; the registration tests check them against the module.

Only the AWS credentials differ by nature (OIDC keys on GitHub and Jenkins, a
web identity token and role on GitLab): :func:`normalise` folds the group of
``--aws-*`` arguments into one :data:`AWS_CREDENTIALS` token; everything else
must match exactly.
"""

from __future__ import annotations

import ast
import copy
import functools
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.ci_expressions import (
    Value,
    expand_line,
    github_condition,
    github_template,
    gitlab_condition,
    unconditional_references,
)

ROOT = Path(__file__).resolve().parent.parent
GITHUB_WORKFLOWS = ROOT / ".github" / "workflows"
REUSABLE_WORKFLOW = GITHUB_WORKFLOWS / "pipelines.yml"
GITLAB_COMPONENT = ROOT / "templates" / "pipelines" / "template.yml"
JENKINS_LIBRARY = ROOT / "vars" / "portablePipelines.groovy"
# The project's own CI, not a caller of the entry points: linted and pinned
# like them, but it maps no event to the pipelines.
PROJECT_WORKFLOWS = frozenset({"self-test.yml", "release-module.yml", "dagger-pins.yml"})
GITLAB_CI = ROOT / ".gitlab-ci.yml"
JENKINSFILE = ROOT / "Jenkinsfile"
SERVICE_FILES = ROOT / "docs" / "snippets" / "service"
MODULE = ROOT / "ci" / "main.py"

# Where the module and its entry points are published (a team's fork or
# mirror changes the address, never the shape).
MODULE_ADDRESS = "github.com/acme/portable-pipelines"
GITHUB_REUSABLE = "acme/portable-pipelines/.github/workflows/pipelines.yml"
GITLAB_COMPONENT_ADDRESS = "gitlab.com/acme/portable-pipelines/pipelines"
GITLAB_SELF_COMPONENT = "$CI_SERVER_FQDN/$CI_PROJECT_PATH/pipelines@$CI_COMMIT_SHA"
JENKINS_LIBRARY_NAME = "portable-pipelines"
RELEASE_TAG = re.compile(r"v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")

TRIGGERS = ("dev", "pre-merge", "release")
# Jobs of the reusable workflow that run no pipeline: they publish what the
# pipeline jobs left as artifacts, holding no token (tests/ci_policies.py).
GITHUB_REPORT_JOBS = ("test-summary",)
AWS_CREDENTIALS = "<aws-credentials>"

# The AWS argument group each CI passes, in order; nothing else is allowed.
AWS_KEYS = (
    "--aws-access-key-id=env://AWS_ACCESS_KEY_ID",
    "--aws-secret-access-key=env://AWS_SECRET_ACCESS_KEY",
    "--aws-session-token=env://AWS_SESSION_TOKEN",
)
AWS_WEB_IDENTITY = (
    "--aws-web-identity-token=env://GITLAB_OIDC_TOKEN",
    "--aws-role-arn=$PIPELINES_AWS_ROLE",
)
# Jenkins: the OpenID Connect Provider plugin's id token, bound as secret text.
AWS_JENKINS_WEB_IDENTITY = (
    "--aws-web-identity-token=env://PIPELINES_OIDC_TOKEN",
    "--aws-role-arn=$PIPELINES_AWS_ROLE",
)
AWS_GROUPS = {"github": AWS_KEYS, "gitlab": AWS_WEB_IDENTITY, "jenkins": AWS_JENKINS_WEB_IDENTITY}

# The variables the entry points fill from their inputs: a resolved line shows
# their values. Everything else (PIPELINE_SHA, credentials) stays a name the
# CI system fills at run time.
INPUT_VARIABLES = frozenset(
    {
        "PIPELINES_MODULE",
        "PIPELINES_VERSION",
        "PIPELINES_SOURCE",
        "PIPELINES_MANIFESTS",
        "PIPELINES_AWS_ROLE",
    }
)

# The inputs all three entry points share (GitHub and GitLab spell them in
# kebab case, Jenkins in camel case), with the same meaning and default.
SHARED_INPUTS = {
    "module-version": "moduleVersion",
    "module": "module",
    "service-directory": "serviceDirectory",
    "release-branch": "releaseBranch",
    "dev-target": "devTarget",
    "manifests": "manifests",
    "dev-aws-role": "devAwsRole",
    "release-aws-role": "releaseAwsRole",
}


class WrapperError(AssertionError):
    """A CI file does not have the shape the tests expect."""


@dataclass(frozen=True)
class TriggerCalls:
    """What one entry point runs for one trigger."""

    ci: str
    trigger: str
    where: str  # file (and job/stage) for messages
    lines: tuple[tuple[str, ...], ...]  # each `dagger ...` line, split like the shell
    env: frozenset[str] = field(default_factory=frozenset)  # names the job always defines
    optional: frozenset[str] = field(default_factory=frozenset)  # names it may leave unset


# --- shell ---------------------------------------------------------------------


def dagger_lines(script: str) -> list[tuple[str, ...]]:
    """Every command of ``script`` that starts with ``dagger``, split like the shell."""
    joined = re.sub(r"\\\n", " ", script)
    lines = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped.startswith("dagger "):
            lines.append(tuple(shlex.split(stripped, comments=True)))
    return lines


def _unbrace(token: str) -> str:
    """``${VAR}`` and ``$VAR`` are the same to the shell: compare them as ``$VAR``."""
    return re.sub(r"\$\{(\w+)\}", r"$\1", token)


def normalise(args: Sequence[str]) -> tuple[str, ...]:
    """The line with its ``--aws-*`` group folded into one :data:`AWS_CREDENTIALS` token."""
    result: list[str] = []
    for token in args:
        if token.startswith("--aws-"):
            if not result or result[-1] != AWS_CREDENTIALS:
                result.append(AWS_CREDENTIALS)
            continue
        result.append(_unbrace(token))
    return tuple(result)


def aws_group(args: Sequence[str]) -> tuple[str, ...]:
    return tuple(token for token in args if token.startswith("--aws-"))


def call_words(args: Sequence[str]) -> tuple[str | None, tuple[str, ...]]:
    """``dagger [-m REF] call WORDS...`` -> (REF or None, WORDS); anything else is refused."""
    words = list(args)
    if words[:1] != ["dagger"]:
        raise WrapperError(f"not a dagger line: {' '.join(args)}")
    words.pop(0)
    module = None
    if words[:1] in (["-m"], ["--mod"]):
        words.pop(0)
        module = words.pop(0) if words else None
    elif words and words[0].startswith(("-m=", "--mod=")):
        module = words.pop(0).split("=", 1)[1]
    if words[:1] != ["call"]:
        raise WrapperError(f"not a `dagger [-m REF] call` line: {' '.join(args)}")
    return module, tuple(words[1:])


def load_yaml(path: Path) -> Any:
    return copy.deepcopy(_parsed(path.read_text(encoding="utf-8")))


def parse_yaml(text: str) -> Any:
    return copy.deepcopy(_parsed(text))


@functools.lru_cache(maxsize=256)
def _parsed(text: str) -> Any:
    # libyaml's loader, when PyYAML has it: the tests read the same files often.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader, chosen above)


# --- events: one table, spelled in each system's variables -----------------------------


@dataclass(frozen=True)
class Scenario:
    """An event on the repository, and the pipeline it must run (None: none)."""

    name: str
    kind: str  # "push" or "request"
    ref: str  # the pushed branch or tag, or the request's source branch
    expected: str | None
    target: str = ""  # a request's target branch
    tag: bool = False
    protected: bool = False  # the pushed ref is protected (GitLab: CI_COMMIT_REF_PROTECTED)

    def github(self) -> dict[str, Value]:
        if self.kind == "request":
            return {
                "github.event_name": "pull_request",
                "github.ref_type": "branch",
                "github.ref_name": "7/merge",
                "github.base_ref": self.target,
            }
        return {
            "github.event_name": "push",
            "github.ref_type": "tag" if self.tag else "branch",
            "github.ref_name": self.ref,
            "github.base_ref": "",
        }

    def gitlab(self) -> dict[str, str]:
        project = {"CI_PROJECT_ID": "1"}
        if self.kind == "request":
            return project | {
                "CI_PIPELINE_SOURCE": "merge_request_event",
                "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": self.ref,
                "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": self.target,
                "CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "1",
            }
        protected = {"CI_COMMIT_REF_PROTECTED": "true" if self.protected else "false"}
        if self.tag:
            return project | protected | {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": self.ref}
        return project | protected | {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": self.ref}

    def jenkins(self) -> dict[str, str]:
        """The multibranch variables Jenkins sets for the build."""
        if self.kind == "request":
            return {"BRANCH_NAME": "PR-7", "CHANGE_ID": "7", "CHANGE_TARGET": self.target}
        if self.tag:
            return {"BRANCH_NAME": self.ref, "TAG_NAME": self.ref}
        return {"BRANCH_NAME": self.ref}


def scenarios(release_branch: str = "main") -> tuple[Scenario, ...]:
    return (
        Scenario("push to a feature branch", "push", "feature/login", "dev"),
        Scenario("push to the release branch", "push", release_branch, "release", protected=True),
        Scenario(
            "request into the release branch",
            "request",
            "feature/login",
            "pre-merge",
            target=release_branch,
        ),
        Scenario("request into another branch", "request", "feature/login", None, target="x"),
        Scenario("push of a tag", "push", "v9.9.9", None, tag=True),
    )


# --- inputs, in each system's spelling ----------------------------------------------------


def github_inputs(shared: Mapping[str, str]) -> tuple[dict[str, str], dict[str, str]]:
    """(with:, secrets:) a GitHub caller passes for the shared inputs."""
    return {**shared, "aws-region": "eu-west-1"}, {"dev-kubeconfig": "<secret:DEV_KUBECONFIG>"}


def jenkins_inputs(shared: Mapping[str, str]) -> dict[str, str]:
    return {SHARED_INPUTS[name]: value for name, value in shared.items()}


# Input sets every system must turn into the same lines.
ROLES = {
    "dev-aws-role": "arn:aws:iam::123456789012:role/svc-dev",
    "release-aws-role": "arn:aws:iam::123456789012:role/svc-release",
}
MATRIX: dict[str, dict[str, str]] = {
    "a service on eks": {"module-version": "v0.1.0", **ROLES},
    "eks with manifests elsewhere": {
        "module-version": "v0.1.0",
        "manifests": "deploy",
        "service-directory": "services/api",
        **ROLES,
    },
    "a service on ec2": {"module-version": "v0.1.0", "dev-target": "ec2", **ROLES},
    "ec2 ignores manifests": {
        "module-version": "v0.1.0",
        "dev-target": "ec2",
        "manifests": "deploy",
        **ROLES,
    },
    "a fork, another release branch": {
        "module": "gitlab.example.com/platform/portable-pipelines",
        "module-version": "v2.3.4",
        "release-branch": "trunk",
        **ROLES,
    },
    "this repository": {
        "module": ".",
        "module-version": "",
        "service-directory": "examples/hello-service",
        "manifests": ".",
        **ROLES,
    },
}


@dataclass(frozen=True)
class InputSpec:
    default: str | None  # None: required
    options: tuple[str, ...] = ()
    regex: str | None = None


def input_problems(
    given: Mapping[str, object], spec: Mapping[str, InputSpec], where: str, fix: str
) -> list[str]:
    """Unknown, missing and invalid inputs, each naming the input and the fix."""
    problems = [
        f"{where}: unknown input {name!r}: the inputs are {', '.join(spec)}; {fix}"
        for name in given
        if name not in spec
    ]
    for name, wanted in spec.items():
        value = given.get(name, wanted.default)
        if value is None:
            problems.append(f"{where}: input {name!r} is missing: set it ({fix})")
            continue
        text = str(value)
        if wanted.options and text not in wanted.options:
            problems.append(
                f"{where}: input {name!r} is {text!r}: set it to one of {', '.join(wanted.options)}"
            )
        if wanted.regex and not re.search(wanted.regex, text):
            problems.append(
                f"{where}: input {name!r} is {text!r}, which does not match {wanted.regex}"
            )
    return problems


# --- GitHub Actions --------------------------------------------------------------------


def github_on(workflow: Mapping[Any, Any]) -> Any:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def github_spec(path: Path = REUSABLE_WORKFLOW) -> tuple[dict[str, InputSpec], set[str]]:
    """The reusable workflow's inputs and secret names."""
    call = (github_on(load_yaml(path)) or {}).get("workflow_call")
    if not isinstance(call, Mapping):
        raise WrapperError(f"{path.name}: no `on: workflow_call`")
    inputs = {
        name: InputSpec(None if spec.get("required") else str(spec.get("default", "")))
        for name, spec in (call.get("inputs") or {}).items()
    }
    return inputs, set(call.get("secrets") or {})


class _Symbolic(dict[str, Value]):
    """A context in which ``github.*``, ``vars.*`` and ``steps.*`` paths are run-time names."""

    PREFIXES = ("github.", "vars.", "steps.", "env.", "runner.")

    def __contains__(self, key: object) -> bool:
        return super().__contains__(key) or (isinstance(key, str) and key.startswith(self.PREFIXES))

    def __missing__(self, key: str) -> Value:
        return f"<{key}>"


def _github_context(
    inputs: Mapping[str, str],
    secrets: Mapping[str, str],
    scenario: Scenario | None = None,
    path: Path = REUSABLE_WORKFLOW,
) -> _Symbolic:
    spec, _ = github_spec(path)
    context = _Symbolic()
    for name, wanted in spec.items():
        context[f"inputs.{name}"] = inputs.get(name, wanted.default or "")
    for name, value in secrets.items():
        context[f"secrets.{name}"] = value
    if scenario is not None:
        context.update(scenario.github())
    return context


def github_pipeline_jobs(workflow: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The jobs that run a pipeline (one per trigger), without the report jobs."""
    jobs = workflow.get("jobs") or {}
    return {name: job for name, job in jobs.items() if name not in GITHUB_REPORT_JOBS}


def github_job_trigger(
    name: str, job: Mapping[str, Any], release_branch: str = "main", where: str = ""
) -> str:
    """The trigger a job's ``if:`` selects: it must run for that trigger's events only."""
    condition = str(job.get("if", "true"))
    context_inputs = {"release-branch": release_branch}
    runs = [
        scenario.expected
        for scenario in scenarios(release_branch)
        if github_condition(condition, _github_context(context_inputs, {}, scenario))
    ]
    if len(set(runs)) != 1 or None in runs or name not in TRIGGERS:
        raise WrapperError(
            f"{where or REUSABLE_WORKFLOW.name} job {name}: `if: {condition}` runs for "
            f"{runs!r}, not exactly one trigger (and the job is named after it)"
        )
    return str(runs[0])


def _github_steps_env(
    job: Mapping[str, Any], context: Mapping[str, Value]
) -> Iterator[tuple[Mapping[str, Any], dict[str, str]]]:
    """Each step with the environment it runs in (job env, step env, exported AWS keys)."""
    base = {name: github_template(value, context) for name, value in (job.get("env") or {}).items()}
    exported: dict[str, str] = {}
    for step in job.get("steps", []):
        if exports_aws_keys(step):
            exported |= {
                "AWS_ACCESS_KEY_ID": "<aws>",
                "AWS_SECRET_ACCESS_KEY": "<aws>",
                "AWS_SESSION_TOKEN": "<aws>",
            }
        step_env = {
            name: github_template(value, context) for name, value in (step.get("env") or {}).items()
        }
        yield step, {**base, **exported, **step_env}


def exports_aws_keys(step: Mapping[str, Any]) -> bool:
    """True when the step is configure-aws-credentials exporting the keys to ``$GITHUB_ENV``.

    The action's ``output-env-credentials`` defaults to true (its action.yml
    and README of v5.1.1); only an explicit false keeps the keys out of the
    environment of every later step.
    """
    if not str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
        return False
    return str((step.get("with") or {}).get("output-env-credentials", "true")).lower() != "false"


def github_calls(path: Path = REUSABLE_WORKFLOW) -> dict[str, TriggerCalls]:
    """The dagger lines of the reusable workflow, by trigger, as written."""
    workflow = load_yaml(path)
    calls: dict[str, TriggerCalls] = {}
    for job_name, job in github_pipeline_jobs(workflow).items():
        where = f".github/workflows/{path.name} job {job_name}"
        trigger = github_job_trigger(job_name, job, where=f".github/workflows/{path.name}")
        lines: list[tuple[str, ...]] = []
        env = set(job.get("env") or {})
        for step in job.get("steps", []):
            if exports_aws_keys(step):
                env |= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
            found = dagger_lines(str(step.get("run", "")))
            if found:
                env |= set(step.get("env") or {})
            lines.extend(found)
        if trigger in calls:
            raise WrapperError(f"{where}: a second job for {trigger}")
        calls[trigger] = TriggerCalls("github", trigger, where, tuple(lines), frozenset(env))
    return calls


def github_resolve(
    inputs: Mapping[str, str], secrets: Mapping[str, str], path: Path = REUSABLE_WORKFLOW
) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The lines each trigger's job runs for a caller's ``with:`` and ``secrets:``."""
    workflow = load_yaml(path)
    release_branch = inputs.get("release-branch", "main")
    resolved: dict[str, tuple[tuple[str, ...], ...]] = {}
    for job_name, job in github_pipeline_jobs(workflow).items():
        trigger = github_job_trigger(job_name, job, release_branch)
        context = _github_context(inputs, secrets, path=path)
        lines = []
        for step, env in _github_steps_env(job, context):
            for line in dagger_lines(str(step.get("run", ""))):
                lines.append(expand_line(line, env, INPUT_VARIABLES.__contains__))
        resolved[trigger] = tuple(lines)
    return resolved


# --- GitLab CI --------------------------------------------------------------------

# Top-level keys of a GitLab CI file that are not jobs.
GITLAB_GLOBAL_KEYS = {
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
}
_INTERPOLATION = re.compile(r"\$\[\[\s*inputs\.([\w-]+)\s*\]\]")


def split_component(path: Path = GITLAB_COMPONENT) -> tuple[str, str]:
    """The component's two documents: the ``spec:`` header and the jobs."""
    text = path.read_text(encoding="utf-8")
    parts = re.split(r"^---\s*$", text, maxsplit=1, flags=re.M)
    if len(parts) != 2 or "spec" not in (parse_yaml(parts[0]) or {}):
        raise WrapperError(f"{path.name}: expected a `spec:` document, `---`, then the jobs")
    return parts[0], parts[1]


def gitlab_spec(path: Path = GITLAB_COMPONENT) -> dict[str, InputSpec]:
    header = parse_yaml(split_component(path)[0])
    inputs = (header.get("spec") or {}).get("inputs") or {}
    return {
        name: InputSpec(
            None if "default" not in spec else str(spec["default"]),
            tuple(str(option) for option in spec.get("options", ())),
            spec.get("regex"),
        )
        for name, spec in inputs.items()
    }


def interpolate(text: str, inputs: Mapping[str, str], where: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in inputs:
            raise WrapperError(f"{where}: $[[ inputs.{name} ]] is not an input of the spec")
        return inputs[name]

    return _INTERPOLATION.sub(value, text)


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """GitLab's ``extends``: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def gitlab_jobs(document: Mapping[str, Any], where: str) -> dict[str, dict[str, Any]]:
    """Every visible job with its ``extends`` resolved."""

    def resolve(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if name in seen:
            raise WrapperError(f"{where}: `extends` loops through {' -> '.join(seen)}")
        if name not in document:
            raise WrapperError(f"{where}: `extends: {name}` names no job")
        job = dict(document[name])
        parents = job.pop("extends", [])
        merged: dict[str, Any] = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            merged = deep_merge(merged, resolve(parent, (*seen, name)))
        return deep_merge(merged, job)

    return {
        name: resolve(name)
        for name in document
        if name not in GITLAB_GLOBAL_KEYS and not str(name).startswith(".")
    }


def component_document(inputs: Mapping[str, str], path: Path = GITLAB_COMPONENT) -> dict[str, Any]:
    """The component's jobs as GitLab sees them for ``inputs`` (defaults filled in)."""
    spec = gitlab_spec(path)
    problems = input_problems(inputs, spec, path.name, "see docs/ci/gitlab.md")
    if problems:
        raise WrapperError("\n".join(problems))
    values = {name: str(inputs.get(name, wanted.default)) for name, wanted in spec.items()}
    document: dict[str, Any] = parse_yaml(interpolate(split_component(path)[1], values, path.name))
    return document


def gitlab_trigger(job: Mapping[str, Any], release_branch: str, where: str) -> str:
    rules = job.get("rules", [])
    if len(rules) != 1 or set(rules[0]) != {"if"}:
        raise WrapperError(f"{where}: expected exactly one rule, an `if:`; found {rules!r}")
    condition = str(rules[0]["if"])
    runs = [
        scenario.expected
        for scenario in scenarios(release_branch)
        if gitlab_condition(condition, scenario.gitlab())
    ]
    if len(set(runs)) != 1 or None in runs:
        raise WrapperError(
            f"{where}: rule `{condition}` runs for {runs!r}, not exactly one trigger"
        )
    return str(runs[0])


def _script(value: Any) -> str:
    return "\n".join(value) if isinstance(value, list) else str(value or "")


def _gitlab_env(job: Mapping[str, Any]) -> dict[str, str]:
    """A job's variables; a reference to a CI/CD variable stands for a value set at run time."""
    variables = job.get("variables") or {}
    empty = [name for name, value in variables.items() if value is None]
    if empty:
        raise WrapperError(
            f'variables {empty} are null: quote an interpolated value, `NAME: "$[[ inputs.x ]]"`,'
            " so an empty input stays an empty string"
        )
    env = {str(name): str(value) for name, value in variables.items()}
    env |= {name: f"<id_token {name}>" for name in job.get("id_tokens") or {}}
    return env


def gitlab_calls(path: Path = GITLAB_COMPONENT) -> dict[str, TriggerCalls]:
    """The dagger lines of the component, by trigger, as written (defaults for the inputs)."""
    spec = gitlab_spec(path)
    defaults = {n: "x" if w.default is None else w.default for n, w in spec.items()}
    calls: dict[str, TriggerCalls] = {}
    variants = (
        {str(option) for option in spec["dev-target"].options} if "dev-target" in spec else {""}
    )
    for variant in sorted(variants):
        inputs = {**defaults, **({"dev-target": variant} if variant else {})}
        document = component_document(inputs, path)
        for name, job in gitlab_jobs(document, path.name).items():
            where = f"templates/{path.parent.name}/{path.name} job {name}"
            trigger = gitlab_trigger(job, inputs["release-branch"], where)
            env = set(_gitlab_env(job))
            lines = tuple(dagger_lines(_script(job.get("script"))))
            found = calls.get(trigger)
            if found is not None and found.lines != lines:
                raise WrapperError(f"{where}: the dev-target variants run different lines")
            calls[trigger] = TriggerCalls(
                "gitlab",
                trigger,
                where,
                lines,
                frozenset(env & (found.env if found else env)),
                frozenset((found.env ^ env) if found else set()),
            )
    return calls


def gitlab_resolve(
    inputs: Mapping[str, str], path: Path = GITLAB_COMPONENT
) -> dict[str, tuple[tuple[str, ...], ...]]:
    document = component_document(inputs, path)
    release_branch = inputs.get("release-branch", gitlab_spec(path)["release-branch"].default)
    resolved: dict[str, tuple[tuple[str, ...], ...]] = {}
    for name, job in gitlab_jobs(document, path.name).items():
        trigger = gitlab_trigger(job, str(release_branch), f"{path.name} job {name}")
        env = _gitlab_env(job)
        resolved[trigger] = tuple(
            expand_line(line, env, INPUT_VARIABLES.__contains__)
            for line in dagger_lines(_script(job.get("script")))
        )
    return resolved


# --- Groovy (the Jenkins library and Jenkinsfiles) -------------------------------------------


@dataclass
class Block:
    """A ``head { ... }`` block of a Groovy file: its head, text and nested blocks."""

    head: str
    text: str = ""
    children: list[Block] = field(default_factory=list)

    def walk(self) -> Iterator[Block]:
        for child in self.children:
            yield child
            yield from child.walk()


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "$": "$", "n": "\n", "t": "\t", "\n": ""}


def _decode(body: str) -> str:
    """A Groovy string literal's value (the escapes a Jenkins script uses)."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body, flags=re.S)


@dataclass(frozen=True)
class GroovyString:
    quote: str
    value: str


def _scan(text: str, name: str = "Groovy") -> Iterator[tuple[str, int, int, GroovyString | None]]:
    """Yield ('{'|'}'|'string', start, end, literal) outside comments."""
    i = 0
    while i < len(text):
        if text.startswith("//", i):
            i = text.find("\n", i)
            i = len(text) if i < 0 else i
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                raise WrapperError(f"{name}: unterminated /* comment")
            i = end + 2
            continue
        for quote in ("'''", '"""', "'", '"'):
            if text.startswith(quote, i):
                j = i + len(quote)
                while j < len(text) and not text.startswith(quote, j):
                    j += 2 if text[j] == "\\" else 1
                if j >= len(text):
                    raise WrapperError(f"{name}: unterminated string at offset {i}")
                body = text[i + len(quote) : j]
                yield "string", i, j + len(quote), GroovyString(quote, _decode(body))
                i = j + len(quote)
                break
        else:
            if text[i] in "{}":
                yield text[i], i, i + 1, None
            i += 1


def parse_groovy(text: str, name: str = "Groovy") -> Block:
    """The block tree of a Groovy file (heads are the text before each ``{``)."""
    root = Block(head="<file>", text=text)
    stack = [root]
    starts: list[int] = []
    statement_start = 0
    for kind, start, end, _literal in _scan(text, name):
        if kind == "{":
            head_lines = re.sub(r"//[^\n]*", "", text[statement_start:start]).strip().splitlines()
            block = Block(head=" ".join(head_lines[-1].split()) if head_lines else "")
            stack[-1].children.append(block)
            stack.append(block)
            starts.append(end)
            statement_start = end
        elif kind == "}":
            if len(stack) == 1:
                raise WrapperError(f"{name}: unbalanced '}}' at offset {start}")
            block = stack.pop()
            block.text = text[starts.pop() : start]
            statement_start = end
    if len(stack) != 1:
        raise WrapperError(f"{name}: unbalanced '{{'")
    return root


def sh_scripts(text: str) -> list[GroovyString]:
    """The literal of every ``sh '...'`` step in ``text``."""
    scripts = []
    for kind, start, _end, literal in _scan(text):
        if literal is not None and re.search(r"\bsh\s*\(?\s*$", text[:start]):
            scripts.append(literal)
        del kind
    return scripts


def flat(text: str) -> str:
    return " ".join(re.sub(r"//[^\n]*", "", text).split())


# --- Jenkins: the library's own shape ---------------------------------------------------------


@dataclass(frozen=True)
class JenkinsLibrary:
    """What a static read of ``vars/portablePipelines.groovy`` shows."""

    inputs: dict[str, InputSpec]
    stages: dict[str, Block]  # stage name -> its block (wherever its method is)
    env_from_inputs: dict[str, str]  # variable -> the input it is set from
    eks_only: frozenset[str]  # variables set or bound only for dev-target eks
    dagger_version: str | None
    text: str


def jenkins_library(path: Path = JENKINS_LIBRARY) -> JenkinsLibrary:
    text = path.read_text(encoding="utf-8")
    tree = parse_groovy(text, path.name)
    declared = re.search(r"Map<String, String> INPUTS = \[(.*?)\n\]", text, flags=re.S)
    if declared is None:
        raise WrapperError(f"{path.name}: no `@Field final Map<String, String> INPUTS = [...]`")
    inputs: dict[str, InputSpec] = {}
    for line in declared.group(1).splitlines():
        entry = re.fullmatch(r"\s*(\w+): (?:'([^']*)'|(null)),\s*", line)
        if line.strip() and entry is None:
            raise WrapperError(f"{path.name}: INPUTS line {line.strip()!r} is not `name: 'x',`")
        if entry:
            inputs[entry.group(1)] = InputSpec(None if entry.group(3) else entry.group(2))
    stages: dict[str, Block] = {}
    for block in tree.walk():
        named = re.fullmatch(r"stage\s*\(\s*'([^']+)'\s*\)", block.head)
        if named:
            if named.group(1) in stages:
                raise WrapperError(f"{path.name}: a second stage('{named.group(1)}')")
            stages[named.group(1)] = block
    env_from_inputs = dict(re.findall(r'"(\w+)=\$\{inputs\.(\w+)\}"', text))
    eks_blocks = [b for b in tree.walk() if flat(b.head) == "if (inputs.devTarget == 'eks')"]
    eks_only: set[str] = set()
    for block in eks_blocks:
        eks_only |= set(re.findall(r"variable:\s*'(\w+)'", block.text))
        eks_only |= set(re.findall(r'"(\w+)=', block.text))
    version = re.search(r"String DAGGER_VERSION = '([^']+)'", text)
    return JenkinsLibrary(
        inputs,
        stages,
        env_from_inputs,
        frozenset(eks_only),
        version.group(1) if version else None,
        text,
    )


def credential_variables(text: str) -> set[str]:
    """Variables the ``withCredentials`` bindings (and the ``aws`` helper) of ``text`` define."""
    names = set(
        re.findall(r"\b(?:variable|accessKeyVariable|secretKeyVariable)\s*:\s*'(\w+)'", text)
    )
    if re.search(r"\bawsIdToken\(", text):
        # The library's AWS binding: the build's OIDC id token, as secret text.
        names.add("PIPELINES_OIDC_TOKEN")
    return names


def jenkins_calls(path: Path = JENKINS_LIBRARY) -> dict[str, TriggerCalls]:
    library = jenkins_library(path)
    calls: dict[str, TriggerCalls] = {}
    always = set(re.findall(r'"(\w+)=', _method(library.text, "environment", path.name)))
    for trigger in TRIGGERS:
        stage = library.stages.get(trigger)
        where = f"vars/{path.name} stage {trigger}"
        if stage is None:
            continue
        lines = [line for script in sh_scripts(stage.text) for line in dagger_lines(script.value)]
        bound = credential_variables(stage.text) | set(re.findall(r"[\"'](\w+)=", stage.text))
        optional = library.eks_only & bound
        calls[trigger] = TriggerCalls(
            "jenkins",
            trigger,
            where,
            tuple(lines),
            frozenset((always | bound) - optional),
            frozenset(optional),
        )
    return calls


def _method(text: str, name: str, where: str) -> str:
    tree = parse_groovy(text, where)
    for block in tree.walk():
        if re.match(rf"^[\w<>, ]+\s+{name}\s*\(", block.head):
            return block.text
    raise WrapperError(f"{where}: no method {name}(...)")


def jenkins_resolve(
    inputs: Mapping[str, str], path: Path = JENKINS_LIBRARY
) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The lines each stage runs for a Jenkinsfile's inputs, read statically.

    tests/integration/test_jenkins_library.py runs the library for real (on
    the Groovy runtime npm-groovy-lint ships) and checks it agrees.
    """
    library = jenkins_library(path)
    problems = input_problems(inputs, library.inputs, path.name, "see docs/ci/jenkins.md")
    if problems:
        raise WrapperError("\n".join(problems))
    values = {
        name: inputs.get(name, wanted.default or "") for name, wanted in library.inputs.items()
    }
    resolved: dict[str, tuple[tuple[str, ...], ...]] = {}
    for trigger, found in jenkins_calls(path).items():
        # A stage's own withEnv wins over the library-wide reading (each
        # stage sets PIPELINES_AWS_ROLE from its own role input).
        from_inputs = library.env_from_inputs | dict(
            re.findall(r'"(\w+)=\$\{inputs\.(\w+)\}"', library.stages[trigger].text)
        )
        env: dict[str, str | None] = {
            variable: values.get(name, "") for variable, name in from_inputs.items()
        }
        env |= {name: f"<credential {name}>" for name in found.env - env.keys()}
        for name in found.optional:
            if values["devTarget"] != "eks":
                env.pop(name, None)
            elif name not in env:
                env[name] = f"<credential {name}>"
        resolved[trigger] = tuple(
            expand_line(line, env, INPUT_VARIABLES.__contains__) for line in found.lines
        )
    return resolved


# --- all three entry points -------------------------------------------------------------


def all_calls(
    *,
    workflow: Path = REUSABLE_WORKFLOW,
    component: Path = GITLAB_COMPONENT,
    library: Path = JENKINS_LIBRARY,
) -> dict[str, dict[str, TriggerCalls]]:
    return {
        "github": github_calls(workflow),
        "gitlab": gitlab_calls(component),
        "jenkins": jenkins_calls(library),
    }


def resolve(
    ci: str,
    shared: Mapping[str, str],
    *,
    workflow: Path = REUSABLE_WORKFLOW,
    component: Path = GITLAB_COMPONENT,
    library: Path = JENKINS_LIBRARY,
) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The lines ``ci``'s entry point runs, by trigger, for the shared inputs ``shared``."""
    if ci == "github":
        with_, secrets = github_inputs(shared)
        return github_resolve(with_, secrets, workflow)
    if ci == "gitlab":
        return gitlab_resolve(shared, component)
    if ci == "jenkins":
        return jenkins_resolve(jenkins_inputs(shared), library)
    raise WrapperError(f"unknown CI system {ci!r}")


def parity_problems(calls: Mapping[str, Mapping[str, TriggerCalls]]) -> list[str]:
    """Every way the entry points disagree, or map a trigger to something else than two lines."""
    problems: list[str] = []
    for ci, by_trigger in calls.items():
        missing = [t for t in TRIGGERS if t not in by_trigger]
        if missing:
            problems.append(f"{ci}: no job for {', '.join(missing)}")
        for found in by_trigger.values():
            problems.extend(_shape_problems(found))
    for trigger in TRIGGERS:
        present = [by_trigger[trigger] for by_trigger in calls.values() if trigger in by_trigger]
        problems.extend(_odd_ones_out(trigger, present))
    return problems


def resolved_parity_problems(
    resolved: Mapping[str, Mapping[str, tuple[tuple[str, ...], ...]]], case: str
) -> list[str]:
    """Where one system's resolved lines differ from what most run, for one input set."""
    problems = []
    for trigger in TRIGGERS:
        versions = {
            ci: tuple(without_status_token(normalise(line)) for line in by_trigger.get(trigger, ()))
            for ci, by_trigger in resolved.items()
        }
        values = list(versions.values())
        majority = max(values, key=values.count)
        agreeing = [ci for ci, version in versions.items() if version == majority]
        for ci, version in versions.items():
            if version != majority:
                problems.append(
                    f"{case}: {trigger} on {ci} runs {version!r}, on {', '.join(agreeing)} "
                    f"{majority!r}"
                )
    return problems


STATUS_TOKEN_FLAG = "--status-token=env://STATUS_TOKEN"


def without_status_token(line: tuple[str, ...]) -> tuple[str, ...]:
    """The resolved line less its status token: who is handed one differs by design.

    As written, every entry point passes ``${STATUS_TOKEN:+"--status-token=..."}``
    (compared above); which jobs define STATUS_TOKEN is each forge's trust
    model, held by tests/unit/test_trust_model.py.
    """
    return tuple(word for word in line if word != STATUS_TOKEN_FLAG)


def _odd_ones_out(trigger: str, present: Sequence[TriggerCalls]) -> Iterator[str]:
    """Compare each entry point with the version most of them run (else the first)."""
    if not present:
        return
    versions = [tuple(normalise(line) for line in found.lines) for found in present]
    majority = max(versions, key=versions.count)
    reference = present[versions.index(majority)]
    for found, version in zip(present, versions, strict=True):
        if version != majority:
            yield from _difference(trigger, reference, found)


def _shape_problems(found: TriggerCalls) -> Iterator[str]:
    try:
        calls = [call_words(line) for line in found.lines]
    except WrapperError as error:
        yield f"{found.where}: {error}"
        return
    if len(calls) != 2:
        yield (
            f"{found.where}: {found.trigger} must run exactly two `dagger -m ... call` lines "
            f"(the pipeline, then the verdict), found {len(found.lines)} dagger line(s)"
        )
        return
    pipeline, verdict = (normalise(line) for line in found.lines)
    if pipeline[-3:] != ("reports", "export", "--path=reports"):
        yield f"{found.where}: the first line must end `reports export --path=reports`"
    if "verdict" not in verdict or "--run=reports/run.json" not in verdict:
        yield f"{found.where}: the second line must be `verdict --run=reports/run.json`"
    if {module for module, _ in calls} != {
        "$PIPELINES_MODULE${PIPELINES_VERSION:+@$PIPELINES_VERSION}"
    }:
        yield (
            f"{found.where}: both lines load the module as "
            '-m "$PIPELINES_MODULE${PIPELINES_VERSION:+@$PIPELINES_VERSION}"'
        )
    group = aws_group(found.lines[0])
    if group and group != AWS_GROUPS[found.ci]:
        yield (
            f"{found.where}: AWS arguments {list(group)!r} are not {found.ci}'s; "
            f"expected {list(AWS_GROUPS[found.ci])!r}"
        )
    needed = {
        name for line in found.lines for word in line for name in unconditional_references(word)
    }
    undefined = sorted(needed - found.env)
    if undefined:
        yield (
            f"{found.where}: {', '.join(undefined)} used but not defined by the job; map the "
            f"CI's own variable to it in the job's env/variables/environment or credentials"
        )


def _difference(trigger: str, reference: TriggerCalls, other: TriggerCalls) -> Iterator[str]:
    ours = [normalise(line) for line in reference.lines]
    theirs = [normalise(line) for line in other.lines]
    for number, (mine, yours) in enumerate(zip(ours, theirs, strict=False), start=1):
        if mine != yours:
            only_mine = [t for t in mine if t not in yours]
            only_yours = [t for t in yours if t not in mine]
            detail = (
                f"only in {reference.ci}: {only_mine}, only in {other.ci}: {only_yours}"
                if only_mine or only_yours
                else "same arguments in another order"
            )
            yield (
                f"{trigger}: line {number} of {other.where} differs from {reference.where}: "
                f"{detail}"
            )
    if len(ours) != len(theirs):
        yield f"{trigger}: {other.where} runs {len(theirs)} lines, {reference.where} {len(ours)}"


# --- callers: the files that use an entry point ----------------------------------------------


@dataclass(frozen=True)
class Caller:
    """A file that calls one of the entry points, with what it passes."""

    ci: str
    where: str
    reference: str  # the uses:/component:/library reference as written
    local: bool  # this repository's own entry point, at this commit
    tag: str | None  # the release tag it pins (None when local)
    inputs: dict[str, str]
    secrets: dict[str, str] = field(default_factory=dict)

    def shared(self) -> dict[str, str]:
        """The shared inputs it passes, spelled as GitHub and GitLab spell them."""
        if self.ci != "jenkins":
            return {name: value for name, value in self.inputs.items() if name in SHARED_INPUTS}
        camel = {camel: kebab for kebab, camel in SHARED_INPUTS.items()}
        return {camel[name]: value for name, value in self.inputs.items() if name in camel}


def read_github_caller(path: Path) -> Caller:
    workflow = load_yaml(path)
    jobs = workflow.get("jobs") or {}
    callers = [(name, job) for name, job in jobs.items() if "uses" in job]
    if len(callers) != 1 or len(jobs) != 1:
        raise WrapperError(f"{path.name}: expected one job, which `uses:` the reusable workflow")
    _, job = callers[0]
    reference = str(job["uses"])
    context = _Symbolic()
    inputs = {str(k): github_template(v, context) for k, v in (job.get("with") or {}).items()}
    secrets = job.get("secrets") or {}
    if secrets == "inherit":
        secrets = {"<inherit>": "inherit"}
    local = reference == "./.github/workflows/pipelines.yml"
    tag = None if local else reference.rpartition("@")[2]
    return Caller("github", str(path), reference, local, tag, inputs, dict(secrets))


def read_gitlab_caller(path: Path) -> Caller:
    document = load_yaml(path) or {}
    includes = document.get("include") or []
    components = [item for item in includes if isinstance(item, Mapping) and "component" in item]
    if len(components) != 1:
        raise WrapperError(f"{path.name}: expected one `include: - component:` of the pipelines")
    reference = str(components[0]["component"])
    inputs = {str(k): str(v) for k, v in (components[0].get("inputs") or {}).items()}
    local = reference == GITLAB_SELF_COMPONENT
    tag = None if local else reference.rpartition("@")[2]
    return Caller("gitlab", str(path), reference, local, tag, inputs)


_GROOVY_ARG = re.compile(r"\s*(\w+)\s*:\s*(?:'([^']*)'|env\.(\w+))\s*,?\s*")


def read_jenkins_caller(path: Path) -> Caller:
    text = path.read_text(encoding="utf-8")
    # The linter reads `_` as an unused variable: the file may say so on the line.
    annotation = re.search(
        r"^@Library\('([^']+)'\)\s+_\s*(?://\s*groovylint-disable-line UnusedVariable)?$",
        text,
        flags=re.M,
    )
    dynamic = re.search(
        r"^library identifier: '([^']+)', retriever: legacySCM\(scm\)\s*$", text, flags=re.M
    )
    if (annotation is None) == (dynamic is None):
        raise WrapperError(
            f"{path.name}: expected either @Library('{JENKINS_LIBRARY_NAME}@vX.Y.Z') _ or, in "
            "this repository, `library identifier: '...', retriever: legacySCM(scm)`"
        )
    reference = (annotation or dynamic).group(1)  # type: ignore[union-attr]
    call = re.search(r"^portablePipelines\((.*?)\)\s*$", text, flags=re.M | re.S)
    if call is None:
        raise WrapperError(f"{path.name}: no `portablePipelines(...)` call")
    inputs: dict[str, str] = {}
    position = 0
    arguments = call.group(1)
    while arguments[position:].strip():
        match = _GROOVY_ARG.match(arguments, position)
        if match is None:
            raise WrapperError(
                f"{path.name}: cannot read the argument at {arguments[position:].strip()[:40]!r}"
                " (name: 'value' or name: env.NAME)"
            )
        name, literal, variable = match.groups()
        inputs[name] = literal if literal is not None else f"<env.{variable}>"
        position = match.end()
    local = dynamic is not None
    tag = None if local else reference.rpartition("@")[2]
    return Caller("jenkins", str(path), reference, local, tag, inputs)


def read_caller(path: Path) -> Caller:
    if path.name == "Jenkinsfile":
        return read_jenkins_caller(path)
    if path.name == ".gitlab-ci.yml":
        return read_gitlab_caller(path)
    return read_github_caller(path)


def own_callers() -> list[Path]:
    """This repository's callers: what its own CI runs."""
    workflows = [
        path
        for path in sorted(GITHUB_WORKFLOWS.glob("*.y*ml"))
        if path != REUSABLE_WORKFLOW and path.name not in PROJECT_WORKFLOWS
    ]
    return [*workflows, GITLAB_CI, JENKINSFILE]


def service_callers(directory: Path = SERVICE_FILES) -> list[Path]:
    """The service-side files of the docs (or of a service repository built from them)."""
    return [
        directory / ".github" / "workflows" / "pipelines.yml",
        directory / ".gitlab-ci.yml",
        directory / "Jenkinsfile",
    ]


def caller_problems(caller: Caller) -> list[str]:
    """What is wrong with a caller, each naming the input or reference and the fix."""
    where = caller.where
    problems: list[str] = []
    if caller.ci == "github":
        spec, secret_names = github_spec()
        problems += input_problems(
            caller.inputs, spec, where, "fix it in `with:` (docs/ci/github.md)"
        )
        if "<inherit>" in caller.secrets:
            problems.append(
                f"{where}: `secrets: inherit` hands every secret to the module; pass each one "
                "by name (docs/ci/github.md)"
            )
        problems += [
            f"{where}: unknown secret {name!r}: the secrets are {', '.join(sorted(secret_names))}"
            for name in caller.secrets
            if name not in secret_names and name != "<inherit>"
        ]
        expected = f"{GITHUB_REUSABLE}@"
    elif caller.ci == "gitlab":
        problems += input_problems(
            caller.inputs, gitlab_spec(), where, "fix it under `inputs:` (docs/ci/gitlab.md)"
        )
        expected = f"{GITLAB_COMPONENT_ADDRESS}@"
    else:
        problems += input_problems(
            caller.inputs,
            jenkins_library().inputs,
            where,
            "fix it in the portablePipelines(...) call (docs/ci/jenkins.md)",
        )
        expected = f"{JENKINS_LIBRARY_NAME}@"
    problems += _version_problems(caller, expected)
    return problems


def _version_problems(caller: Caller, expected: str) -> list[str]:
    where = caller.where
    version_input = "moduleVersion" if caller.ci == "jenkins" else "module-version"
    module = caller.inputs.get("module", MODULE_ADDRESS)
    version = caller.inputs.get(version_input, "")
    if caller.local:
        if module != "." or version:
            return [
                f"{where}: a local entry point ({caller.reference}) runs this checkout's module: "
                f'pass module "." and an empty {version_input}'
            ]
        return []
    problems = []
    if not caller.reference.startswith(expected):
        problems.append(
            f"{where}: {caller.reference!r} is not {expected}<tag>: reference the published "
            "entry point (docs/adopt.md)"
        )
    if caller.tag is None or not RELEASE_TAG.fullmatch(caller.tag):
        problems.append(
            f"{where}: {caller.reference!r} does not pin a release tag vX.Y.Z: pin the tag you "
            "adopt (docs/adopt.md#pin-and-upgrade)"
        )
    if not RELEASE_TAG.fullmatch(version):
        problems.append(
            f"{where}: input {version_input} is {version!r}, not a release tag vX.Y.Z: set it "
            f"to the tag of the entry point ({caller.tag})"
        )
    elif version != caller.tag:
        problems.append(
            f"{where}: input {version_input} is {version} but the entry point is {caller.tag}: "
            "upgrade both together (docs/adopt.md#pin-and-upgrade)"
        )
    return problems


def caller_lines(caller: Caller) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The lines the caller leads to, by trigger, optional flags decided by its inputs."""
    if caller.ci == "github":
        return github_resolve(caller.inputs, caller.secrets or {})
    if caller.ci == "gitlab":
        return gitlab_resolve(caller.inputs)
    return jenkins_resolve(caller.inputs)


# --- the Dagger module's signatures (read with ast, never imported) ----------------------


@dataclass(frozen=True)
class ModuleSignatures:
    constructor: frozenset[str]  # kebab-case options of the main object
    functions: Mapping[str, frozenset[str]]  # kebab-case function -> its options


def _kebab(name: str) -> str:
    return name.replace("_", "-")


def module_signatures(
    path: Path = MODULE, main_object: str = "PortablePipelines"
) -> ModuleSignatures:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == main_object:
            fields = {
                _kebab(item.target.id)
                for item in node.body
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)
            }
            functions = {
                _kebab(item.name): frozenset(
                    _kebab(arg.arg) for arg in item.args.args[1:] + item.args.kwonlyargs
                )
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and not item.name.startswith("_")
            }
            return ModuleSignatures(frozenset(fields), functions)
    raise WrapperError(f"{path}: no class {main_object}")


def signature_problems(args: Sequence[str], signatures: ModuleSignatures, where: str) -> list[str]:
    """Options before the function must be constructor fields; after it, the function's."""
    problems: list[str] = []
    try:
        _module, words = call_words(args)
    except WrapperError as error:
        return [f"{where}: {error}"]
    rest = list(words)
    while rest and rest[0].startswith("--"):
        option = rest.pop(0)[2:].split("=", 1)[0]
        if option not in signatures.constructor:
            problems.append(f"{where}: --{option} is not an option of the main object")
    if not rest:
        return [*problems, f"{where}: no function called"]
    function = rest.pop(0)
    if function not in signatures.functions:
        return [*problems, f"{where}: {function} is not a function of the module"]
    while rest and rest[0].startswith("--"):
        option = rest.pop(0)[2:].split("=", 1)[0]
        if option not in signatures.functions[function]:
            problems.append(f"{where}: --{option} is not an argument of {function}")
    return problems


# --- one dagger version everywhere ------------------------------------------------------------

DAGGER_VERSION = "0.21.11"


def wrapper_versions() -> dict[str, str]:
    """The dagger version each place pins (they must all be the same)."""
    import json

    versions: dict[str, str] = {}
    for path in sorted(GITHUB_WORKFLOWS.glob("*.y*ml")):
        for job_name, job in (load_yaml(path).get("jobs") or {}).items():
            for step in job.get("steps", []):
                if str(step.get("name", "")).startswith("Install the dagger CLI"):
                    where = f".github/workflows/{path.name} job {job_name}"
                    versions[where] = str((step.get("env") or {}).get("DAGGER_VERSION"))
    document = parse_yaml(split_component()[1])
    versions["templates/pipelines/template.yml"] = str(
        document[".pipelines-dagger"]["variables"]["DAGGER_VERSION"]
    )
    versions["vars/portablePipelines.groovy"] = jenkins_library().dagger_version or "<missing>"
    engine = json.loads((ROOT / "dagger.json").read_text(encoding="utf-8"))["engineVersion"]
    versions["dagger.json engineVersion"] = engine.removeprefix("v")
    service = json.loads((SERVICE_FILES / "dagger.json").read_text(encoding="utf-8"))
    versions["docs/snippets/service/dagger.json engineVersion"] = str(
        service["engineVersion"]
    ).removeprefix("v")
    ref = load_yaml(ROOT / "deploy" / "dagger-engine" / "values.yaml")["engine"]["image"]["ref"]
    tag = str(ref).split("@")[0].rsplit(":", 1)[-1]
    versions["deploy/dagger-engine/values.yaml engine.image.ref"] = tag.removeprefix("v")
    return versions
