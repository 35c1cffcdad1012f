"""Read the three CI wrappers back into plain data, for the parity and structure tests.

Each wrapper maps its CI's events to the same triggers (dev, pre-merge,
release) and each trigger to the same two ``dagger call`` lines. This module
extracts, per CI and trigger: the ``dagger call`` lines (shell continuations
joined, split like the shell does), the environment names the job defines,
and where they came from, so that a test can compare the three files.

Only the AWS credentials differ by nature (OIDC role keys on GitHub and
Jenkins, a web identity token on GitLab): :func:`normalise` folds the group of
``--aws-*`` arguments into one :data:`AWS_CREDENTIALS` token; everything else
must match exactly.
"""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
GITHUB_WORKFLOWS = ROOT / ".github" / "workflows"
# The project's own CI, not a service wrapper: linted and pinned like the
# wrappers, but it maps no event to the pipelines.
PROJECT_WORKFLOWS = frozenset({"self-test.yml"})
GITLAB_CI = ROOT / ".gitlab-ci.yml"
JENKINSFILE = ROOT / "Jenkinsfile"
MODULE = ROOT / "ci" / "main.py"

TRIGGERS = ("dev", "pre-merge", "release")
RELEASE_BRANCH = "main"
AWS_CREDENTIALS = "<aws-credentials>"

# The AWS argument groups each CI may pass, in order; nothing else is allowed.
AWS_KEYS = (
    "--aws-access-key-id=env://AWS_ACCESS_KEY_ID",
    "--aws-secret-access-key=env://AWS_SECRET_ACCESS_KEY",
    "--aws-session-token=env://AWS_SESSION_TOKEN",
)
AWS_WEB_IDENTITY = ("--aws-web-identity-token=env://GITLAB_OIDC_TOKEN",)
AWS_GROUPS = {"github": AWS_KEYS, "gitlab": AWS_WEB_IDENTITY, "jenkins": AWS_KEYS}

# How each CI spells the three triggers. A job whose trigger is not one of
# these is a mistake: the test names it rather than guessing.
GITHUB_ON = {
    "dev": {"push": {"branches-ignore": [RELEASE_BRANCH]}},
    "pre-merge": {"pull_request": {"branches": [RELEASE_BRANCH]}},
    "release": {"push": {"branches": [RELEASE_BRANCH]}},
}
GITLAB_RULES = {
    "dev": f'$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH '
    f'&& $CI_COMMIT_BRANCH != "{RELEASE_BRANCH}"',
    "pre-merge": '$CI_PIPELINE_SOURCE == "merge_request_event" '
    f'&& $CI_MERGE_REQUEST_TARGET_BRANCH_NAME == "{RELEASE_BRANCH}"',
    "release": f'$CI_PIPELINE_SOURCE == "push" && $CI_COMMIT_BRANCH == "{RELEASE_BRANCH}"',
}
JENKINS_WHEN = {
    "dev": f"not {{ anyOf {{ branch '{RELEASE_BRANCH}' changeRequest() buildingTag() }} }}",
    "pre-merge": f"changeRequest target: '{RELEASE_BRANCH}'",
    "release": f"allOf {{ branch '{RELEASE_BRANCH}' not {{ changeRequest() }} "
    r"not { changelog '.*\\[skip ci\\].*' } }",
}

# Environment the CI itself provides to every job (never mapped by us).
GITLAB_ID_TOKEN_PREFIX = "id_tokens:"


class WrapperError(AssertionError):
    """A wrapper file does not have the shape the tests expect."""


@dataclass(frozen=True)
class TriggerCalls:
    """What one CI runs for one trigger."""

    ci: str
    trigger: str
    where: str  # file (and job/stage) for messages
    lines: tuple[tuple[str, ...], ...]  # each `dagger ...` line, split like the shell
    env: frozenset[str] = field(default_factory=frozenset)  # names the job defines


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


def referenced_env(args: Sequence[str]) -> set[str]:
    """Environment names a line reads: ``$VAR``, ``${VAR}`` and ``env://VAR``."""
    names: set[str] = set()
    for token in args:
        names.update(re.findall(r"\$\{?(\w+)\}?", token))
        names.update(re.findall(r"env://(\w+)", token))
    return names


# --- GitHub Actions --------------------------------------------------------------


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def github_on(workflow: Mapping[Any, Any]) -> Any:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    return workflow.get("on", workflow.get(True))


def github_trigger(on: Any, where: str) -> str:
    for trigger, expected in GITHUB_ON.items():
        if on == expected:
            return trigger
    raise WrapperError(
        f"{where}: `on:` is {on!r}, which is none of the three triggers; expected one of "
        f"{list(GITHUB_ON.values())!r}"
    )


def github_calls(directory: Path = GITHUB_WORKFLOWS) -> dict[str, TriggerCalls]:
    calls: dict[str, TriggerCalls] = {}
    for path in sorted(directory.glob("*.y*ml")):
        if path.name in PROJECT_WORKFLOWS:
            continue
        workflow = load_yaml(path)
        trigger = github_trigger(github_on(workflow), path.name)
        for job_name, job in workflow["jobs"].items():
            where = f".github/workflows/{path.name} job {job_name}"
            env = set(workflow.get("env", {})) | set(job.get("env", {}))
            lines: list[tuple[str, ...]] = []
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                    env |= {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
                if "run" in step:
                    found = dagger_lines(step["run"])
                    if found:
                        env |= set(step.get("env", {}))
                    lines.extend(found)
            if trigger in calls:
                raise WrapperError(f"{where}: a second job for {trigger}")
            calls[trigger] = TriggerCalls("github", trigger, where, tuple(lines), frozenset(env))
    return calls


# --- GitLab CI --------------------------------------------------------------------

# Top-level keys of .gitlab-ci.yml that are not jobs.
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
}


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """GitLab's ``extends``: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def gitlab_jobs(path: Path = GITLAB_CI) -> dict[str, dict[str, Any]]:
    """Every visible job with its ``extends`` resolved."""
    document = load_yaml(path)

    def resolve(name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if name in seen:
            raise WrapperError(f"{path.name}: `extends` loops through {' -> '.join(seen)}")
        job = dict(document[name])
        parents = job.pop("extends", [])
        merged: dict[str, Any] = {}
        for parent in [parents] if isinstance(parents, str) else parents:
            merged = deep_merge(merged, resolve(parent, (*seen, name)))
        return deep_merge(merged, job)

    return {
        name: resolve(name)
        for name in document
        if name not in GITLAB_GLOBAL_KEYS and not name.startswith(".")
    }


def gitlab_trigger(job: Mapping[str, Any], where: str) -> str:
    rules = job.get("rules", [])
    conditions = [rule.get("if") for rule in rules]
    for trigger, expected in GITLAB_RULES.items():
        if conditions == [expected]:
            return trigger
    raise WrapperError(
        f"{where}: rules {conditions!r} are none of the three triggers; expected exactly one "
        f"rule, one of {list(GITLAB_RULES.values())!r}"
    )


def _script(value: Any) -> str:
    return "\n".join(value) if isinstance(value, list) else str(value or "")


def gitlab_calls(path: Path = GITLAB_CI) -> dict[str, TriggerCalls]:
    document = load_yaml(path)
    calls: dict[str, TriggerCalls] = {}
    for name, job in gitlab_jobs(path).items():
        where = f"{path.name} job {name}"
        trigger = gitlab_trigger(job, where)
        env = set(document.get("variables", {})) | set(job.get("variables", {}))
        env |= set(job.get("id_tokens", {}))
        lines = tuple(dagger_lines(_script(job.get("script"))))
        if trigger in calls:
            raise WrapperError(f"{where}: a second job for {trigger}")
        calls[trigger] = TriggerCalls("gitlab", trigger, where, lines, frozenset(env))
    return calls


# --- Jenkins (declarative) ----------------------------------------------------------


@dataclass
class Block:
    """A ``head { ... }`` block of a Groovy file: its head, text and nested blocks."""

    head: str
    text: str = ""
    children: list[Block] = field(default_factory=list)

    def find(self, head: str) -> list[Block]:
        return [child for child in self.children if child.head == head]

    def one(self, head: str, where: str) -> Block:
        found = self.find(head)
        if len(found) != 1:
            raise WrapperError(f"{where}: expected one `{head} {{ }}` block, found {len(found)}")
        return found[0]

    def walk(self) -> Iterator[Block]:
        for child in self.children:
            yield child
            yield from child.walk()


_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "$": "$", "n": "\n", "t": "\t", "\n": ""}


def _decode(body: str) -> str:
    """A Groovy string literal's value (the escapes a Jenkinsfile uses)."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body, flags=re.S)


@dataclass(frozen=True)
class GroovyString:
    quote: str
    value: str


def _scan(text: str) -> Iterator[tuple[str, int, int, GroovyString | None]]:
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
                raise WrapperError("Jenkinsfile: unterminated /* comment")
            i = end + 2
            continue
        for quote in ("'''", '"""', "'", '"'):
            if text.startswith(quote, i):
                j = i + len(quote)
                while j < len(text) and not text.startswith(quote, j):
                    j += 2 if text[j] == "\\" else 1
                if j >= len(text):
                    raise WrapperError(f"Jenkinsfile: unterminated string at offset {i}")
                body = text[i + len(quote) : j]
                yield "string", i, j + len(quote), GroovyString(quote, _decode(body))
                i = j + len(quote)
                break
        else:
            if text[i] in "{}":
                yield text[i], i, i + 1, None
            i += 1


def parse_groovy(text: str) -> Block:
    """The block tree of a declarative Jenkinsfile (heads are the text before each ``{``)."""
    root = Block(head="<file>", text=text)
    stack = [root]
    starts: list[int] = []
    statement_start = 0
    for kind, start, end, _literal in _scan(text):
        if kind == "{":
            head_lines = re.sub(r"//[^\n]*", "", text[statement_start:start]).strip().splitlines()
            block = Block(head=" ".join(head_lines[-1].split()) if head_lines else "")
            stack[-1].children.append(block)
            stack.append(block)
            starts.append(end)
            statement_start = end
        elif kind == "}":
            if len(stack) == 1:
                raise WrapperError(f"Jenkinsfile: unbalanced '}}' at offset {start}")
            block = stack.pop()
            block.text = text[starts.pop() : start]
            statement_start = end
    if len(stack) != 1:
        raise WrapperError("Jenkinsfile: unbalanced '{'")
    return root


def groovy_strings(text: str) -> list[GroovyString]:
    return [literal for kind, _s, _e, literal in _scan(text) if literal is not None]


def sh_scripts(text: str) -> list[GroovyString]:
    """The literal of every ``sh '...'`` step in ``text``."""
    scripts = []
    for kind, start, _end, literal in _scan(text):
        if kind == "string" and literal is not None and re.search(r"\bsh\s*$", text[:start]):
            scripts.append(literal)
    return scripts


def flat(text: str) -> str:
    """Comments dropped and whitespace collapsed, for comparing a ``when`` condition."""
    text = re.sub(r"//[^\n]*", "", text)
    return " ".join(text.split())


def jenkins_pipeline(path: Path = JENKINSFILE) -> Block:
    return parse_groovy(path.read_text(encoding="utf-8")).one("pipeline", path.name)


def jenkins_stages(pipeline: Block, where: str = "Jenkinsfile") -> dict[str, Block]:
    stages = pipeline.one("stages", where)
    named: dict[str, Block] = {}
    for block in stages.children:
        match = re.fullmatch(r"stage\s*\(\s*'([^']+)'\s*\)", block.head)
        if match is None:
            raise WrapperError(f"{where}: `{block.head}` inside stages is not a stage('name')")
        named[match.group(1)] = block
    return named


def jenkins_environment(pipeline: Block) -> set[str]:
    names: set[str] = set()
    for block in pipeline.find("environment"):
        names |= set(re.findall(r"^\s*(\w+)\s*=", block.text, flags=re.M))
    return names


def credential_variables(text: str) -> set[str]:
    """Variables the ``withCredentials`` bindings of ``text`` define."""
    names = set(
        re.findall(r"\b(?:variable|accessKeyVariable|secretKeyVariable)\s*:\s*'(\w+)'", text)
    )
    # The AWS binding adds the session token when it assumes a role.
    if re.search(r"AmazonWebServicesCredentialsBinding[^\]]*\broleArn\s*:", text):
        names.add("AWS_SESSION_TOKEN")
    return names


def jenkins_trigger(stage: Block, where: str) -> str:
    when = stage.find("when")
    condition = flat(when[0].text) if len(when) == 1 else None
    for trigger, expected in JENKINS_WHEN.items():
        if condition == expected:
            return trigger
    raise WrapperError(
        f"{where}: `when {{ {condition} }}` is none of the three triggers; expected one of "
        f"{list(JENKINS_WHEN.values())!r}"
    )


def jenkins_calls(path: Path = JENKINSFILE) -> dict[str, TriggerCalls]:
    pipeline = jenkins_pipeline(path)
    environment = jenkins_environment(pipeline)
    calls: dict[str, TriggerCalls] = {}
    for name, stage in jenkins_stages(pipeline, path.name).items():
        where = f"{path.name} stage {name}"
        lines = [line for script in sh_scripts(stage.text) for line in dagger_lines(script.value)]
        if not stage.find("when"):
            if any(line[:2] == ("dagger", "call") for line in lines):
                raise WrapperError(f"{where}: runs `dagger call` without a `when` trigger")
            continue
        trigger = jenkins_trigger(stage, where)
        env = environment | credential_variables(stage.text)
        if trigger in calls:
            raise WrapperError(f"{where}: a second stage for {trigger}")
        calls[trigger] = TriggerCalls("jenkins", trigger, where, tuple(lines), frozenset(env))
    return calls


# --- all three ---------------------------------------------------------------------


def all_calls(
    *,
    workflows: Path = GITHUB_WORKFLOWS,
    gitlab: Path = GITLAB_CI,
    jenkinsfile: Path = JENKINSFILE,
) -> dict[str, dict[str, TriggerCalls]]:
    return {
        "github": github_calls(workflows),
        "gitlab": gitlab_calls(gitlab),
        "jenkins": jenkins_calls(jenkinsfile),
    }


def parity_problems(calls: Mapping[str, Mapping[str, TriggerCalls]]) -> list[str]:
    """Every way the wrappers disagree, or map a trigger to something else than two lines."""
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


def _odd_ones_out(trigger: str, present: Sequence[TriggerCalls]) -> Iterator[str]:
    """Compare each wrapper with the version most of them run (else the first)."""
    if not present:
        return
    versions = [tuple(normalise(line) for line in found.lines) for found in present]
    majority = max(versions, key=versions.count)
    reference = present[versions.index(majority)]
    for found, version in zip(present, versions, strict=True):
        if version != majority:
            yield from _difference(trigger, reference, found)


def _shape_problems(found: TriggerCalls) -> Iterator[str]:
    calls = [line for line in found.lines if line[:2] == ("dagger", "call")]
    if len(found.lines) != 2 or len(calls) != 2:
        yield (
            f"{found.where}: {found.trigger} must run exactly two `dagger call` lines "
            f"(the pipeline, then the verdict), found {len(found.lines)} dagger line(s)"
        )
        return
    pipeline, verdict = (normalise(line) for line in found.lines)
    if pipeline[-3:] != ("reports", "export", "--path=reports"):
        yield f"{found.where}: the first line must end `reports export --path=reports`"
    if "verdict" not in verdict or "--run=reports/run.json" not in verdict:
        yield f"{found.where}: the second line must be `verdict --run=reports/run.json`"
    group = aws_group(found.lines[0])
    if group and group != AWS_GROUPS[found.ci]:
        yield (
            f"{found.where}: AWS arguments {list(group)!r} are not {found.ci}'s; "
            f"expected {list(AWS_GROUPS[found.ci])!r}"
        )
    undefined = sorted(
        name for line in found.lines for name in referenced_env(line) if name not in found.env
    )
    if undefined:
        yield (
            f"{found.where}: {', '.join(undefined)} used but not defined by the job; map the "
            f"CI's own variable to it in the job's env/variables/environment or credentials"
        )


def _difference(trigger: str, reference: TriggerCalls, other: TriggerCalls) -> Iterator[str]:
    ours = [normalise(line) for line in reference.lines]
    theirs = [normalise(line) for line in other.lines]
    if ours == theirs:
        return
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
    if tuple(args[:2]) != ("dagger", "call"):
        return [f"{where}: not a `dagger call` line: {' '.join(args)}"]
    rest = list(args[2:])
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


# --- policies each wrapper must keep (beyond parity) ----------------------------------

DAGGER_VERSION = "0.21.11"
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
DIGEST_PINNED = re.compile(r"^[^\s@]+:[^\s@]+@sha256:[0-9a-f]{64}$")
RUNNER_HOST = "_EXPERIMENTAL_DAGGER_RUNNER_HOST"


def install_problems(script: str, where: str) -> list[str]:
    """The CLI install must check the tarball against checksums.txt before unpacking it."""
    problems = []
    checked = script.find("sha256sum -c")
    unpacked = script.find("tar -x")
    if "/checksums.txt" not in script:
        problems.append(f"{where}: the install does not fetch the release's checksums.txt")
    if checked < 0 or unpacked < 0 or checked > unpacked:
        problems.append(f"{where}: the dagger tarball must pass `sha256sum -c` before `tar -x`")
    if "DAGGER_VERSION" not in script:
        problems.append(f"{where}: the install must use the pinned DAGGER_VERSION")
    return problems


def _after(steps: Sequence[Mapping[str, Any]], index: int) -> bool:
    """True when step ``index`` comes after the last step that runs `dagger`."""
    dagger_steps = [i for i, step in enumerate(steps) if dagger_lines(str(step.get("run", "")))]
    return bool(dagger_steps) and index > max(dagger_steps)


def github_policy_problems(directory: Path = GITHUB_WORKFLOWS) -> list[str]:
    problems: list[str] = []
    for path in sorted(directory.glob("*.y*ml")):
        where = f".github/workflows/{path.name}"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            uses = re.match(r"^\s*(?:-\s+)?uses:\s*(.+)$", line)
            if uses and not PINNED_USES.match(uses.group(1).strip()):
                problems.append(
                    f"{where}:{number}: `uses: {uses.group(1).strip()}` is not pinned by commit "
                    "SHA with its tag as a comment (owner/action@<40 hex> # vX.Y.Z)"
                )
        workflow = load_yaml(path)
        if workflow.get("permissions") != {}:
            problems.append(f"{where}: top-level `permissions: {{}}` (each job asks for its own)")
        if path.name in PROJECT_WORKFLOWS:
            continue  # pinned and least-privileged like the wrappers; no trigger mapping
        trigger = github_trigger(github_on(workflow), where)
        concurrency = workflow.get("concurrency") or {}
        if "group" not in concurrency:
            problems.append(f"{where}: no concurrency group")
        elif concurrency.get("cancel-in-progress") is not (trigger != "release"):
            problems.append(
                f"{where}: cancel-in-progress must be {trigger != 'release'} for {trigger} "
                "(superseded runs cancel; a release never stops half-way)"
            )
        if RUNNER_HOST in (workflow.get("env") or {}):
            problems.append(f"{where}: sets {RUNNER_HOST}; leave it to the runner")
        for job_name, job in workflow["jobs"].items():
            problems.extend(_github_job_problems(f"{where} job {job_name}", trigger, job))
    return problems


def _github_job_problems(where: str, trigger: str, job: Mapping[str, Any]) -> Iterator[str]:
    permissions = job.get("permissions")
    steps = job.get("steps", [])
    uses = [str(step.get("uses", "")).split("@")[0] for step in steps]
    env = job.get("env") or {}
    if not isinstance(permissions, Mapping):
        yield f"{where}: no job-level permissions map"
        permissions = {}
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
    aws = "aws-actions/configure-aws-credentials" in uses
    if aws != (permissions.get("id-token") == "write"):
        yield f"{where}: id-token: write is for the AWS OIDC step, and only with it"
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
    for step in steps:
        yield from _github_step_problems(where, step)
    yield from _github_report_problems(where, trigger, steps, uses)


def _github_step_problems(where: str, step: Mapping[str, Any]) -> Iterator[str]:
    action = str(step.get("uses", "")).split("@")[0]
    inputs = step.get("with") or {}
    if action == "aws-actions/configure-aws-credentials" and (
        "role-to-assume" not in inputs or "aws-access-key-id" in inputs
    ):
        yield f"{where}: AWS through an OIDC role (role-to-assume), never stored keys"
    if action == "dagger/dagger-for-github":
        if str(inputs.get("version")) != DAGGER_VERSION:
            yield f"{where}: dagger-for-github must install version {DAGGER_VERSION}"
        if {"call", "args", "check", "shell"} & set(inputs):
            yield f"{where}: dagger-for-github only installs; the calls are `run:` lines"
    if "${{ secrets." in str(step.get("run", "")):
        yield f"{where}: a secret is expanded into a `run:` script; pass it through env"


# Where each upload reads its report; the SARIF exists only where Trivy runs.
GITHUB_UPLOADS = {
    "mikepenz/action-junit-report": ("report_paths", "reports/junit/*.xml"),
    "github/codeql-action/upload-sarif": ("sarif_file", "reports/scan/trivy.sarif"),
    "actions/upload-artifact": ("path", "reports/"),
}


def _github_report_problems(
    where: str, trigger: str, steps: Sequence[Mapping[str, Any]], uses: Sequence[str]
) -> Iterator[str]:
    wanted = {"actions/upload-artifact"}
    if trigger != "release":  # release runs no test suite
        wanted.add("mikepenz/action-junit-report")
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


def gitlab_policy_problems(path: Path = GITLAB_CI) -> list[str]:
    document = load_yaml(path)
    problems: list[str] = []
    variables = document.get("variables") or {}
    if str(variables.get("DAGGER_VERSION")) != DAGGER_VERSION:
        problems.append(f"{path.name}: variables.DAGGER_VERSION must be {DAGGER_VERSION!r}")
    if RUNNER_HOST in variables:
        problems.append(f"{path.name}: sets {RUNNER_HOST}; leave it to the runner")
    calls = gitlab_calls(path)
    for name, job in gitlab_jobs(path).items():
        where = f"{path.name} job {name}"
        trigger = gitlab_trigger(job, where)
        uses_aws = any(aws_group(line) for line in calls[trigger].lines)
        problems.extend(_gitlab_runtime_problems(where, job, variables))
        problems.extend(_gitlab_job_problems(where, trigger, job, uses_aws=uses_aws))
    return problems


def _gitlab_runtime_problems(
    where: str, job: Mapping[str, Any], variables: Mapping[str, Any]
) -> Iterator[str]:
    job_variables = job.get("variables") or {}
    image = job.get("image") or {}
    image_name = str(image.get("name") if isinstance(image, Mapping) else image)
    image_name = image_name.replace("$DAGGER_JOB_IMAGE", str(variables.get("DAGGER_JOB_IMAGE")))
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
    yield from install_problems(_script(job.get("before_script")), where)


def _gitlab_job_problems(
    where: str, trigger: str, job: Mapping[str, Any], *, uses_aws: bool
) -> Iterator[str]:
    tokens = job.get("id_tokens") or {}
    if uses_aws != ("GITLAB_OIDC_TOKEN" in tokens):
        yield f"{where}: the GITLAB_OIDC_TOKEN id_token is for AWS, and only with it"
    if "GITLAB_OIDC_TOKEN" in tokens and not tokens["GITLAB_OIDC_TOKEN"].get("aud"):
        yield f"{where}: the id_token needs the AWS provider's audience (aud)"
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


def jenkins_structure_problems(path: Path = JENKINSFILE) -> list[str]:
    """The declarative structure npm-groovy-lint does not check."""
    where = path.name
    try:
        pipeline = jenkins_pipeline(path)
        stages = jenkins_stages(pipeline, where)
    except WrapperError as error:
        return [str(error)]
    heads = [block.head for block in pipeline.children]
    problems = [
        f"{where}: pipeline needs exactly one `{section} {{ }}` section"
        for section in ("options", "environment", "stages", "post")
        if heads.count(section) != 1
    ]
    if not re.search(r"^\s*agent\s+\S", pipeline.text, flags=re.M):
        problems.append(f"{where}: pipeline needs a top-level `agent`")
    if problems:
        return problems
    problems.extend(_jenkins_environment_problems(where, pipeline.one("environment", where).text))
    problems.extend(_jenkins_stage_problems(where, stages))
    problems.extend(_jenkins_post_problems(where, pipeline.one("post", where)))
    return problems


def _jenkins_environment_problems(where: str, environment: str) -> Iterator[str]:
    version = rf"^\s*DAGGER_VERSION\s*=\s*'{re.escape(DAGGER_VERSION)}'"
    if not re.search(version, environment, re.M):
        yield f"{where}: environment DAGGER_VERSION must be '{DAGGER_VERSION}'"
    if re.search(rf"^\s*{RUNNER_HOST}\s*=", environment, re.M):
        yield f"{where}: sets {RUNNER_HOST}; leave it to the agent"
    for name in ("PIPELINE_SHA", "PIPELINE_BRANCH", "PIPELINE_RUN_URL"):
        if not re.search(rf"^\s*{name}\s*=", environment, re.M):
            yield f"{where}: environment must map {name}"


def _jenkins_stage_problems(where: str, stages: Mapping[str, Block]) -> Iterator[str]:
    if list(stages)[:1] != ["Install dagger"]:
        yield f"{where}: the first stage must be 'Install dagger'"
    else:
        scripts = "\n".join(s.value for s in sh_scripts(stages["Install dagger"].text))
        yield from install_problems(scripts, f"{where} stage 'Install dagger'")
    for name, stage in stages.items():
        if len(stage.find("steps")) != 1:
            yield f"{where} stage {name}: needs one `steps {{ }}` block"
        for literal in sh_scripts(stage.text):
            if literal.quote not in {"'''", "'"}:
                yield (
                    f"{where} stage {name}: `sh {literal.quote}...` lets Groovy interpolate; "
                    "use sh '''...''' so secrets stay in the shell's environment"
                )
        if stage.find("when"):
            try:
                trigger = jenkins_trigger(stage, f"{where} stage {name}")
            except WrapperError as error:
                yield str(error)
                continue
            if trigger != name:
                yield f"{where} stage {name}: its `when` is the {trigger} trigger"
            if trigger != "pre-merge" and not re.search(r"withCredentials\s*\(", stage.text):
                yield f"{where} stage {name}: AWS credentials through withCredentials"
    for trigger in TRIGGERS:
        if trigger not in stages or not stages[trigger].find("when"):
            yield f"{where}: no stage '{trigger}' with its `when` condition"


def _jenkins_post_problems(where: str, post: Block) -> Iterator[str]:
    always = post.find("always")
    if len(always) != 1:
        yield f"{where}: post needs an `always {{ }}` block (reports whatever the verdict)"
        return
    text = always[0].text
    if not re.search(r"\bjunit\b[^\n]*'reports/junit/\*\.xml'", text):
        yield f"{where}: post always must run junit on 'reports/junit/*.xml'"
    if not re.search(r"\barchiveArtifacts\b[^\n]*'reports/\*\*'", text):
        yield f"{where}: post always must archiveArtifacts 'reports/**'"


def wrapper_versions() -> dict[str, str]:
    """The dagger version each place pins (they must all be the same)."""
    import json

    versions: dict[str, str] = {}
    for path in sorted(GITHUB_WORKFLOWS.glob("*.y*ml")):
        for job in load_yaml(path)["jobs"].values():
            for step in job.get("steps", []):
                if str(step.get("uses", "")).startswith("dagger/dagger-for-github@"):
                    versions[f".github/workflows/{path.name}"] = str(step["with"]["version"])
    versions[".gitlab-ci.yml"] = str(load_yaml(GITLAB_CI)["variables"]["DAGGER_VERSION"])
    environment = jenkins_pipeline().one("environment", "Jenkinsfile").text
    match = re.search(r"DAGGER_VERSION\s*=\s*'([^']+)'", environment)
    versions["Jenkinsfile"] = match.group(1) if match else "<missing>"
    engine = json.loads((ROOT / "dagger.json").read_text(encoding="utf-8"))["engineVersion"]
    versions["dagger.json engineVersion"] = engine.removeprefix("v")
    ref = load_yaml(ROOT / "deploy" / "dagger-engine" / "values.yaml")["engine"]["image"]["ref"]
    tag = str(ref).split("@")[0].rsplit(":", 1)[-1]
    versions["deploy/dagger-engine/values.yaml engine.image.ref"] = tag.removeprefix("v")
    return versions
