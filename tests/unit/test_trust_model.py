"""The trust model of docs/security.md, line by line.

Which token may assume which AWS role is decided by the trust policies the CI
pages document (docs/snippets/trust/*.json, included verbatim there): they
are parsed and evaluated here against the tokens each CI system issues, with
the subjects as each system documents them:

- GitHub (docs.github.com, "OpenID Connect reference", example subject
  claims): ``repo:ORG/REPO:ref:refs/heads/BRANCH`` for a push,
  ``repo:ORG/REPO:pull_request`` for a pull request,
  ``repo:ORG/REPO:environment:NAME`` for a job in an environment;
- GitLab (docs.gitlab.com, "OpenID Connect (OIDC) Authentication Using ID
  Tokens", token payload): ``project_path:GROUP/PROJECT:ref_type:TYPE:ref:REF``;
- Jenkins (the OpenID Connect Provider plugin's README): ``sub`` is by
  default the URL of the build's job; a multibranch project has one job per
  branch (``job/NAME/job/BRANCH/``, a ``/`` in a branch name doubly encoded
  as ``%252F``) and per change request (``job/NAME/job/PR-7/``).

Who is handed a status token, and from which jobs, is read from the entry
points themselves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.ci_expressions import github_template, gitlab_condition
from tests.ci_wrappers import (
    GITLAB_COMPONENT,
    REUSABLE_WORKFLOW,
    Scenario,
    component_document,
    github_pipeline_jobs,
    gitlab_jobs,
    gitlab_spec,
    load_yaml,
)
from tests.module_release import ROOT
from tests.trust_policies import (
    PROVIDERS,
    TRUST_POLICIES,
    PolicyError,
    Request,
    allows,
    load_policy,
    pinning_problems,
    request_for,
    string_like,
)

AUDIENCE = {
    "github": "sts.amazonaws.com",
    "gitlab": "https://gitlab.com",
    "jenkins": "sts.amazonaws.com",
}
JENKINS_JOB = "https://jenkins.acme.com/job/hello-service/job/"

# (who, the token's subject, may it assume the dev role, the release role)
TOKENS: dict[str, list[tuple[str, str, bool, bool]]] = {
    "github": [
        (
            "a push to a feature branch",
            "repo:acme/hello-service:ref:refs/heads/feature/login",
            True,
            False,
        ),
        (
            "a push to the release branch outside the environment",
            "repo:acme/hello-service:ref:refs/heads/main",
            True,
            False,
        ),
        (
            "the release job (environment release)",
            "repo:acme/hello-service:environment:release",
            False,
            True,
        ),
        ("a pull request, a fork's included", "repo:acme/hello-service:pull_request", False, False),
        ("a job in another environment", "repo:acme/hello-service:environment:dev", False, False),
        ("a push of a tag", "repo:acme/hello-service:ref:refs/tags/v1.0.0", False, False),
        (
            "another repository's release job",
            "repo:acme/hello-service-fork:environment:release",
            False,
            False,
        ),
        ("another owner", "repo:evil/hello-service:environment:release", False, False),
    ],
    "gitlab": [
        (
            "a push to a feature branch",
            "project_path:acme/hello-service:ref_type:branch:ref:feature/login",
            True,
            False,
        ),
        (
            "the protected release branch",
            "project_path:acme/hello-service:ref_type:branch:ref:main",
            True,
            True,
        ),
        (
            "a branch whose name starts like the release branch",
            "project_path:acme/hello-service:ref_type:branch:ref:main-next",
            True,
            False,
        ),
        (
            "a tag named like the release branch",
            "project_path:acme/hello-service:ref_type:tag:ref:main",
            False,
            False,
        ),
        (
            "another project with the same branch",
            "project_path:acme/hello-service-fork:ref_type:branch:ref:main",
            False,
            False,
        ),
        (
            "a project of another group",
            "project_path:evil/hello-service:ref_type:branch:ref:main",
            False,
            False,
        ),
    ],
    "jenkins": [
        ("a feature branch's job", JENKINS_JOB + "feature%252Flogin/", True, False),
        ("the release branch's job", JENKINS_JOB + "main/", True, True),
        ("a change request's job, a fork's included", JENKINS_JOB + "PR-7/", True, False),
        ("a branch named main/x", JENKINS_JOB + "main%252Fx/", True, False),
        ("a job of another project", "https://jenkins.acme.com/job/other/job/main/", False, False),
        ("a job outside the folder", "https://jenkins.acme.com/job/main/", False, False),
    ],
}

CASES = [
    pytest.param(ci, who, sub, dev, release, id=f"{ci}: {who}")
    for ci, tokens in TOKENS.items()
    for who, sub, dev, release in tokens
]


def _request(ci: str, sub: str, aud: str | None = None) -> Request:
    return request_for(PROVIDERS[ci], {"sub": sub, "aud": aud or AUDIENCE[ci]})


@pytest.mark.parametrize(("ci", "who", "sub", "dev", "release"), CASES)
def test_each_token_assumes_only_the_roles_its_trust_level_allows(
    ci: str, who: str, sub: str, dev: bool, release: bool
) -> None:
    assert allows(load_policy(f"{ci}-dev.json"), _request(ci, sub), f"{ci}-dev") is dev, who
    assert (
        allows(load_policy(f"{ci}-release.json"), _request(ci, sub), f"{ci}-release") is release
    ), who


@pytest.mark.parametrize("ci", list(PROVIDERS))
def test_no_feature_branch_subject_assumes_the_release_role(ci: str) -> None:
    """The finding itself: anyone who can push a branch must not hold the release role."""
    policy = load_policy(f"{ci}-release.json")
    branches = ["feature/login", "fix-1", "main-next", "release", "Main", "main/x", "*", "ma?n"]
    subjects = {
        "github": [f"repo:acme/hello-service:ref:refs/heads/{b}" for b in branches],
        "gitlab": [f"project_path:acme/hello-service:ref_type:branch:ref:{b}" for b in branches],
        "jenkins": [JENKINS_JOB + b.replace("/", "%252F") + "/" for b in branches],
    }[ci]
    assumed = [sub for sub in subjects if allows(policy, _request(ci, sub))]
    assert assumed == [], f"{ci}: feature-branch subjects that assume the release role: {assumed}"


@pytest.mark.parametrize("ci", list(PROVIDERS))
@pytest.mark.parametrize("role", ["dev", "release"])
def test_a_token_for_another_audience_or_provider_assumes_nothing(ci: str, role: str) -> None:
    sub = next(s for _, s, dev, release in TOKENS[ci] if (dev if role == "dev" else release))
    policy = load_policy(f"{ci}-{role}.json")
    assert allows(policy, _request(ci, sub)) is True
    assert allows(policy, _request(ci, sub, aud="https://vault.example.com")) is False
    other = next(p for name, p in PROVIDERS.items() if name != ci)
    assert allows(policy, Request(other.arn, _request(ci, sub).context)) is False


@pytest.mark.parametrize("name", sorted(p.name for p in TRUST_POLICIES.glob("*.json")))
def test_every_documented_policy_pins_provider_audience_and_subject(name: str) -> None:
    ci = name.split("-", maxsplit=1)[0]
    assert pinning_problems(load_policy(name), PROVIDERS[ci], name) == []


def test_each_ci_page_shows_its_two_policies_verbatim() -> None:
    for ci, page in (("github", "github.md"), ("gitlab", "gitlab.md"), ("jenkins", "jenkins.md")):
        text = (ROOT / "docs" / "ci" / page).read_text(encoding="utf-8")
        for role in ("dev", "release"):
            include = f'--8<-- "docs/snippets/trust/{ci}-{role}.json"'
            assert include in text, f"docs/ci/{page} must include {include}"


# --- the evaluator can say no, and says so for the right reasons -----------------------


def test_string_like_wildcards_are_iam_s_and_nothing_else() -> None:
    assert string_like("ref:feature/login", "ref:*")
    assert string_like("ref:", "ref:*")
    assert string_like("main", "ma?n")
    assert not string_like("maain", "ma?n")
    assert not string_like("ref:[x]", "ref:[a-z]")  # brackets are literal in IAM
    assert not string_like("Main", "main")  # case-sensitive
    assert not string_like("xref:a", "ref:*")  # anchored


def _policy(condition: dict[str, Any], effect: str = "Allow") -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": effect,
                "Principal": {"Federated": PROVIDERS["gitlab"].arn},
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": condition,
            }
        ],
    }


def test_condition_semantics() -> None:
    request = _request("gitlab", "s1")
    key = "gitlab.com:sub"
    assert allows(_policy({"StringEquals": {key: ["s0", "s1"]}}), request)  # values: OR
    assert not allows(
        _policy({"StringEquals": {key: "s1", "gitlab.com:aud": "other"}}), request
    )  # keys: AND
    assert not allows(_policy({"StringEquals": {"gitlab.com:ref_protected": "true"}}), request)
    assert allows(_policy({"StringNotEquals": {"gitlab.com:ref_protected": "true"}}), request)
    assert not allows(_policy({"StringNotLike": {key: "s*"}}), request)
    deny = _policy({"StringLike": {key: "*"}}, effect="Deny")
    deny["Statement"].insert(0, _policy({})["Statement"][0])
    assert not allows(deny, request)  # an explicit Deny wins
    assert not allows(_policy({}), Request(PROVIDERS["gitlab"].arn, {}, action="sts:AssumeRole"))


def test_custom_claims_never_reach_the_request() -> None:
    """AWS evaluates aud and sub only: a policy on ref_protected cannot be satisfied."""
    claims = {"sub": "x", "aud": "https://gitlab.com", "ref_protected": "true"}
    context = request_for(PROVIDERS["gitlab"], claims).context
    assert set(context) == {"gitlab.com:sub", "gitlab.com:aud"}


def test_unmodelled_policy_features_are_refused() -> None:
    request = _request("gitlab", "s1")
    with pytest.raises(PolicyError, match="IpAddress"):
        allows(_policy({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}), request)
    with pytest.raises(PolicyError, match="ForAnyValue"):
        allows(_policy({"ForAnyValue:StringLike": {"gitlab.com:sub": "*"}}), request)


def test_a_loose_policy_fails_the_checks(tmp_path: Path) -> None:
    """A release trust with a wildcard subject, or none, is caught."""
    wildcard = load_policy("gitlab-release.json")
    condition = wildcard["Statement"][0]["Condition"]
    condition["StringLike"] = {"gitlab.com:sub": "project_path:acme/hello-service:*"}
    del condition["StringEquals"]["gitlab.com:sub"]
    feature = _request("gitlab", "project_path:acme/hello-service:ref_type:branch:ref:feature/x")
    assert allows(wildcard, feature), "the broken copy must let a feature branch in"
    bare = load_policy("github-release.json")
    bare["Statement"][0]["Condition"] = {}
    assert pinning_problems(bare, PROVIDERS["github"], "bare") == [
        "bare statement 1: StringEquals token.actions.githubusercontent.com:aud (the audience)",
        "bare statement 1: a condition on token.actions.githubusercontent.com:sub (the subject)",
    ]


# --- status tokens: the narrowest credential, never to fork code --------------------------


def _github_step_env(job: str, step_name: str, context: dict[str, Any]) -> dict[str, str]:
    workflow = load_yaml(REUSABLE_WORKFLOW)
    (step,) = [s for s in workflow["jobs"][job]["steps"] if s.get("name") == step_name]
    return {name: github_template(value, context) for name, value in step["env"].items()}


@pytest.mark.parametrize(
    ("head", "token", "report"),
    [("acme/hello-service", "<github.token>", "true"), ("someone/hello-service", "", "false")],
    ids=["a branch of the repository", "a fork"],
)
def test_github_pre_merge_hands_no_token_to_a_fork(head: str, token: str, report: str) -> None:
    context = {
        "github.event.pull_request.head.repo.full_name": head,
        "github.repository": "acme/hello-service",
        "github.token": "<github.token>",
    }
    env = _github_step_env("pre-merge", "pre-merge pipeline", context)
    assert (env["STATUS_TOKEN"], env["PIPELINES_REPORT_STATUS"]) == (token, report)


def test_github_jobs_post_with_the_job_token_and_statuses_write_only() -> None:
    workflow = load_yaml(REUSABLE_WORKFLOW)
    # The report job is granted nothing: its token can post no status.
    assert workflow["jobs"]["test-summary"]["permissions"] == {}
    for name, job in github_pipeline_jobs(workflow).items():
        assert job["permissions"]["statuses"] == "write", name
        assert "contents" not in job["permissions"] or job["permissions"]["contents"] == "read"
        holders = [s["name"] for s in job["steps"] if "STATUS_TOKEN" in (s.get("env") or {})]
        assert holders == [f"{name} pipeline"], f"job {name}: the token reaches {holders}"


def test_no_github_workflow_runs_pull_request_code_with_a_write_token() -> None:
    """pull_request_target runs with the base repository's write token and secrets."""
    for path in sorted((ROOT / ".github" / "workflows").glob("*.y*ml")):
        assert "pull_request_target" not in path.read_text(encoding="utf-8"), path.name


def _gitlab_jobs() -> dict[str, dict[str, Any]]:
    inputs = {n: f"<{n}>" if w.default is None else w.default for n, w in gitlab_spec().items()}
    return gitlab_jobs(component_document(inputs, GITLAB_COMPONENT), GITLAB_COMPONENT.name)


def test_gitlab_status_token_reaches_the_protected_release_job_only() -> None:
    jobs = _gitlab_jobs()
    holders = {
        name
        for name, job in jobs.items()
        if "PIPELINES_STATUS_TOKEN" in str(job.get("variables"))
        or "STATUS_TOKEN" in (job.get("variables") or {})
    }
    assert holders == {"pipelines-release"}
    reports = {
        name: (job.get("variables") or {}).get("PIPELINES_REPORT_STATUS")
        for name, job in jobs.items()
    }
    assert reports == {
        "pipelines-dev": "false",
        "pipelines-pre-merge": "false",
        "pipelines-release": "true",
    }


def _rule(job: str) -> str:
    return str(_gitlab_jobs()[job]["rules"][0]["if"])


def test_gitlab_releases_from_a_protected_branch_only() -> None:
    push = Scenario("push to main", "push", "main", "release", protected=True)
    assert gitlab_condition(_rule("pipelines-release"), push.gitlab())
    unprotected = Scenario("push to an unprotected main", "push", "main", "release")
    assert not gitlab_condition(_rule("pipelines-release"), unprotected.gitlab())


def test_gitlab_pre_merge_does_not_run_a_fork_in_this_project() -> None:
    request = Scenario("request", "request", "feature/login", "pre-merge", target="main").gitlab()
    assert gitlab_condition(_rule("pipelines-pre-merge"), request)
    fork = request | {"CI_MERGE_REQUEST_SOURCE_PROJECT_ID": "2"}
    assert not gitlab_condition(_rule("pipelines-pre-merge"), fork)


def test_gitlab_id_tokens_only_where_aws_is_used() -> None:
    jobs = _gitlab_jobs()
    assert {name for name, job in jobs.items() if job.get("id_tokens")} == {
        "pipelines-dev",
        "pipelines-release",
    }
