"""Release-branch protection against a real HTTP server on loopback (pytest-httpserver).

The use case is :func:`pipelines.branch_protection.protect`, the clients those
of :mod:`pipelines.forge`, the command line ``python -m pipelines_cli.branch_protection``.

Every request is recorded with its method, raw path, headers and JSON body,
and answered from a script, so the tests assert exactly what reaches GitHub
and GitLab, in which order, and what happens when they answer badly.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from pipelines.branch_protection import ProtectionPolicy, protect
from pipelines.errors import InputError
from pipelines.forge import Forge, ForgeError, RetryPolicy, make_forge
from pipelines.forge.gitlab import APPROVAL_RULE as GITLAB_APPROVAL_RULE
from pipelines_cli.branch_protection import forge_config, parse_args
from tests.ci_wrappers import ROOT
from tests.integration.forge_clients import Sleeps

TOKEN = "sentinel-admin-token-7c1e"


@dataclass(frozen=True)
class Seen:
    method: str
    raw_path: str
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedForge:
    """Answers requests from a script, in order, and records them."""

    answers: list[tuple[str, str, int, Any, dict[str, str]]] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)

    def answer(
        self,
        method: str,
        raw_path: str,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.answers.append((method, raw_path, status, body, headers or {}))

    def __call__(self, request: Request) -> Response:
        raw = request.environ.get("RAW_URI") or request.environ["REQUEST_URI"]
        body = request.get_json(silent=True) if request.data else None
        self.seen.append(Seen(request.method, raw, dict(request.headers), body))
        if not self.answers:
            return Response("unexpected request", status=599)
        method, path, status, answer, headers = self.answers.pop(0)
        if (method, path) != (request.method, raw):
            return Response(f"expected {method} {path}", status=599)
        text = answer if isinstance(answer, str) else json.dumps(answer)
        return Response(text, status=status, content_type="application/json", headers=headers)

    def calls(self) -> list[tuple[str, str]]:
        return [(seen.method, seen.raw_path) for seen in self.seen]


@pytest.fixture
def forge(httpserver: HTTPServer) -> Iterator[ScriptedForge]:
    scripted = ScriptedForge()
    httpserver.expect_request(re.compile(r"^/.*")).respond_with_handler(scripted)
    yield scripted
    httpserver.clear()


def forge_at(
    provider: str, api_url: str, repository: str, retry: RetryPolicy, sleeps: Sleeps
) -> Forge:
    """The forge as the command line builds it from its arguments."""
    config = forge_config(provider, repository=repository, api_url=api_url)
    return make_forge(
        config, TOKEN, argument="token-env", purpose="protection", retry=retry, sleep=sleeps
    )


class Protector:
    """Applies a policy through :func:`protect`, as the command line does."""

    def __init__(self, forge: Forge) -> None:
        self.forge = forge

    async def apply(self, policy: ProtectionPolicy) -> list[str]:
        return await protect(self.forge, policy)


def protector(provider: str, server: HTTPServer, sleeps: Sleeps, repository: str) -> Protector:
    base = "/api/v3" if provider == "github" else "/api/v4"
    retry = RetryPolicy(attempts=3, base_delay=0.5)
    return Protector(forge_at(provider, server.url_for(base), repository, retry, sleeps))


# --- GitHub ------------------------------------------------------------------------------------

GITHUB_PATH = "/api/v3/repos/acme/hello-service/branches/main/protection"


def github_protection(
    status: str = "pipelines/pre-merge", approvals: int = 1, **enabled: bool
) -> dict[str, Any]:
    """GitHub's answer to the PUT: the protection that now holds."""
    flags = {"enforce_admins": True, "allow_force_pushes": False, "allow_deletions": False}
    return {
        "required_status_checks": {"strict": True, "contexts": [status]},
        "required_pull_request_reviews": {
            "required_approving_review_count": approvals,
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": True,
        },
        **{key: {"enabled": value} for key, value in (flags | enabled).items()},
    }


async def test_github_puts_the_whole_protection(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    forge.answer("PUT", GITHUB_PATH, 200, github_protection())
    done = await protector("github", httpserver, Sleeps(), "acme/hello-service").apply(
        ProtectionPolicy()
    )
    (seen,) = forge.seen
    assert (seen.method, seen.raw_path) == ("PUT", GITHUB_PATH)
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Accept"] == "application/vnd.github+json"
    assert seen.headers["X-Github-Api-Version"] == "2022-11-28"
    assert seen.body == {
        "required_status_checks": {"strict": True, "checks": [{"context": "pipelines/pre-merge"}]},
        "enforce_admins": True,
        "required_pull_request_reviews": {
            "required_approving_review_count": 1,
            "dismiss_stale_reviews": True,
            "require_code_owner_reviews": True,
        },
        "restrictions": None,
        "allow_force_pushes": False,
        "allow_deletions": False,
    }
    assert "requires status 'pipelines/pre-merge'" in done[0]
    assert "no force pushes" in done[0]


async def test_github_takes_the_policy_as_given(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    path = "/api/v3/repos/acme/hello-service/branches/release%2F2026/protection"
    forge.answer("PUT", path, 200, github_protection("ci/pre", approvals=2))
    policy = ProtectionPolicy(
        branch="release/2026", required_status="ci/pre", approvals=2, code_owner_review=False
    )
    await protector("github", httpserver, Sleeps(), "acme/hello-service").apply(policy)
    (seen,) = forge.seen
    assert seen.raw_path == path
    assert seen.body["required_status_checks"]["checks"] == [{"context": "ci/pre"}]
    reviews = seen.body["required_pull_request_reviews"]
    assert reviews["required_approving_review_count"] == 2
    assert reviews["require_code_owner_reviews"] is False


@pytest.mark.parametrize(
    ("answer", "gap"),
    [
        (github_protection(enforce_admins=False), "administrators are exempt"),
        (github_protection(allow_force_pushes=True), "force pushes allowed"),
        (github_protection(status="other"), "'pipelines/pre-merge' is not required"),
        (github_protection(approvals=0), "0 approval(s) required, not 1"),
        ({"url": "..."}, "no required status checks"),
    ],
)
async def test_github_fails_when_the_answer_shows_weaker_protection(
    httpserver: HTTPServer, forge: ScriptedForge, answer: dict[str, Any], gap: str
) -> None:
    # An organization ruleset or policy can keep a setting the PUT asked to change.
    forge.answer("PUT", GITHUB_PATH, 200, answer)
    with pytest.raises(ForgeError) as raised:
        await protector("github", httpserver, Sleeps(), "acme/hello-service").apply(
            ProtectionPolicy()
        )
    assert "protected more weakly than required" in raised.value.problem
    assert gap in raised.value.problem


async def test_github_retries_server_errors_and_rate_limits(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    sleeps = Sleeps()
    forge.answer("PUT", GITHUB_PATH, 502, "bad gateway")
    forge.answer("PUT", GITHUB_PATH, 403, {"message": "secondary rate limit"}, {"Retry-After": "7"})
    forge.answer("PUT", GITHUB_PATH, 200, github_protection())
    await protector("github", httpserver, sleeps, "acme/hello-service").apply(ProtectionPolicy())
    assert forge.calls() == [("PUT", GITHUB_PATH)] * 3
    assert sleeps.delays == [0.5, 7.0]


async def test_github_refusal_says_why_and_hides_the_token(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    forge.answer("PUT", GITHUB_PATH, 403, {"message": f"Resource not accessible by {TOKEN}"})
    with pytest.raises(ForgeError) as raised:
        await protector("github", httpserver, Sleeps(), "acme/hello-service").apply(
            ProtectionPolicy()
        )
    message = str(raised.value)
    assert "HTTP 403" in message
    assert "Administration: write" in message
    assert TOKEN not in message
    assert len(forge.seen) == 1  # a plain 403 is final


async def test_github_gives_up_after_the_last_attempt(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    sleeps = Sleeps()
    for _ in range(3):
        forge.answer("PUT", GITHUB_PATH, 503, "unavailable")
    with pytest.raises(ForgeError, match="no answer after 3 attempts; last: HTTP 503"):
        await protector("github", httpserver, sleeps, "acme/hello-service").apply(
            ProtectionPolicy()
        )
    assert sleeps.delays == [0.5, 1.0]


async def test_an_unreachable_forge_is_retried_then_reported() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps = Sleeps()
    forge = forge_at(
        "github",
        f"http://127.0.0.1:{port}/api/v3",
        "acme/hello-service",
        RetryPolicy(attempts=2, base_delay=0.1, timeout=2.0),
        sleeps,
    )
    with pytest.raises(ForgeError, match="could not reach"):
        await protect(forge, ProtectionPolicy())
    assert sleeps.delays == [0.1]


# --- GitLab ----------------------------------------------------------------------------------

PROJECT = "/api/v4/projects/acme%2Fplatform%2Fhello-service"
RULES = f"{PROJECT}/protected_branches?per_page=100"
APPROVAL_RULES = f"{PROJECT}/approval_rules?per_page=100"
NO_ONE = {"id": 1, "access_level": 0, "access_level_description": "No one"}
DEVELOPERS = {"id": 5, "access_level": 30, "access_level_description": "Developers + Maintainers"}


def protected(*pushers: dict[str, Any], force_push: bool = False, name: str = "main") -> Any:
    """A protected-branch rule as GitLab shows it."""
    return {
        "id": 71,
        "name": name,
        "push_access_levels": list(pushers),
        "merge_access_levels": [{"id": 2, "access_level": 30}],
        "allow_force_push": force_push,
    }


def gitlab_protector(httpserver: HTTPServer) -> Protector:
    return protector("gitlab", httpserver, Sleeps(), "acme/platform/hello-service")


async def test_gitlab_protects_a_new_branch(httpserver: HTTPServer, forge: ScriptedForge) -> None:
    forge.answer("GET", RULES, 200, [])
    forge.answer("POST", f"{PROJECT}/protected_branches", 201, protected(NO_ONE))
    forge.answer("PUT", PROJECT, 200, {"id": 5})
    forge.answer("GET", APPROVAL_RULES, 200, [{"id": 1, "name": "security"}])
    forge.answer("POST", f"{PROJECT}/approval_rules", 201, {"id": 9})
    forge.answer("POST", f"{PROJECT}/approvals", 201, {})
    done = await gitlab_protector(httpserver).apply(ProtectionPolicy(approvals=2))
    assert forge.calls() == [
        ("GET", RULES),
        ("POST", f"{PROJECT}/protected_branches"),
        ("PUT", PROJECT),
        ("GET", APPROVAL_RULES),
        ("POST", f"{PROJECT}/approval_rules"),
        ("POST", f"{PROJECT}/approvals"),
    ]
    for seen in forge.seen:
        assert seen.headers["Private-Token"] == TOKEN
        assert "Authorization" not in seen.headers
    _, protect, settings, _, rule, approvals = (seen.body for seen in forge.seen)
    assert protect == {
        "name": "main",
        "push_access_level": 0,
        "merge_access_level": 30,
        "allow_force_push": False,
    }
    assert settings == {
        "only_allow_merge_if_pipeline_succeeds": True,
        "allow_merge_on_skipped_pipeline": False,
    }
    assert rule == {
        "name": GITLAB_APPROVAL_RULE,
        "approvals_required": 2,
        "protected_branch_ids": [71],
    }
    assert approvals == {"reset_approvals_on_push": True, "merge_requests_author_approval": False}
    assert "protected: no direct push" in done[0]
    assert "approval rule created: 2 approval(s)" in done[2]


async def test_gitlab_tightens_a_branch_developers_could_push_to(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    # Protected by hand earlier: Developers may push and force-push.
    forge.answer("GET", RULES, 200, [protected(DEVELOPERS, force_push=True)])
    forge.answer("PATCH", f"{PROJECT}/protected_branches/main", 200, protected(NO_ONE))
    forge.answer("GET", f"{PROJECT}/protected_branches/main", 200, protected(NO_ONE))
    forge.answer("PUT", PROJECT, 200, {})
    forge.answer("GET", APPROVAL_RULES, 200, [{"id": 3, "name": GITLAB_APPROVAL_RULE}])
    forge.answer("PUT", f"{PROJECT}/approval_rules/3", 200, {"id": 3})
    forge.answer("POST", f"{PROJECT}/approvals", 201, {})
    done = await gitlab_protector(httpserver).apply(ProtectionPolicy())
    assert [call[0] for call in forge.calls()] == [
        "GET",
        "PATCH",
        "GET",
        "PUT",
        "GET",
        "PUT",
        "POST",
    ]
    # The Developers entry removed by its id (without one GitLab would add an entry), No one added.
    assert forge.seen[1].body == {
        "allowed_to_push": [{"id": 5, "_destroy": True}, {"access_level": 0}],
        "allow_force_push": False,
    }
    assert forge.seen[5].body["protected_branch_ids"] == [71]
    assert "push access set to No one, force push turned off" in done[0]
    assert "approval rule updated" in done[2]


async def test_gitlab_fails_when_the_branch_stays_weaker_than_required(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    # An older GitLab answers the PATCH with 200 and ignores the access levels.
    forge.answer("GET", RULES, 200, [protected(DEVELOPERS)])
    forge.answer("PATCH", f"{PROJECT}/protected_branches/main", 200, protected(DEVELOPERS))
    forge.answer("GET", f"{PROJECT}/protected_branches/main", 200, protected(DEVELOPERS))
    with pytest.raises(ForgeError) as raised:
        await gitlab_protector(httpserver).apply(ProtectionPolicy())
    assert "still protected more weakly than required" in raised.value.problem
    assert "Developers + Maintainers may push" in raised.value.problem
    assert raised.value.fix is not None
    assert "Protected branches" in raised.value.fix
    # Nothing after it: no "merges only when the pipeline succeeds" over a pushable branch.
    assert [call[0] for call in forge.calls()] == ["GET", "PATCH", "GET"]


async def test_gitlab_fails_on_a_wildcard_rule_that_lets_developers_push(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    wildcard = protected(DEVELOPERS, name="ma*") | {"id": 80}
    forge.answer("GET", RULES, 200, [wildcard, protected(NO_ONE)])
    with pytest.raises(ForgeError, match="the wildcard rule 'ma\\*' also matches main"):
        await gitlab_protector(httpserver).apply(ProtectionPolicy())
    assert forge.calls() == [("GET", RULES)]


async def test_gitlab_rerun_on_a_protected_branch_changes_nothing(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    current = {
        "id": 3,
        "name": GITLAB_APPROVAL_RULE,
        "approvals_required": 1,
        "protected_branches": [{"id": 71, "name": "main"}],
    }
    forge.answer("GET", RULES, 200, [protected(NO_ONE)])
    forge.answer("PUT", PROJECT, 200, {})
    forge.answer("GET", APPROVAL_RULES, 200, [current])
    forge.answer("POST", f"{PROJECT}/approvals", 201, {})
    done = await gitlab_protector(httpserver).apply(ProtectionPolicy())
    # Only the settings calls that set what is already set; no rule is touched.
    assert forge.calls() == [
        ("GET", RULES),
        ("PUT", PROJECT),
        ("GET", APPROVAL_RULES),
        ("POST", f"{PROJECT}/approvals"),
    ]
    assert "nothing changed" in done[0]
    assert "approval rule already requires 1 approval(s)" in done[2]


@pytest.mark.parametrize("paging", ["link", "x-next-page"])
async def test_gitlab_reads_every_page_of_approval_rules(
    httpserver: HTTPServer, forge: ScriptedForge, paging: str
) -> None:
    # Our rule is on page 2: reading page 1 alone would post it again on every run.
    second = f"{PROJECT}/approval_rules?per_page=100&page=2"
    headers = (
        {"Link": f'<{httpserver.url_for(second)}>; rel="next"'}
        if paging == "link"
        else {"X-Next-Page": "2"}
    )
    page_one = [{"id": n, "name": f"rule-{n}"} for n in range(100)]
    forge.answer("GET", RULES, 200, [protected(NO_ONE)])
    forge.answer("PUT", PROJECT, 200, {})
    forge.answer("GET", APPROVAL_RULES, 200, page_one, headers)
    forge.answer("GET", second, 200, [{"id": 300, "name": GITLAB_APPROVAL_RULE}])
    forge.answer("PUT", f"{PROJECT}/approval_rules/300", 200, {})
    forge.answer("POST", f"{PROJECT}/approvals", 201, {})
    await gitlab_protector(httpserver).apply(ProtectionPolicy())
    assert ("POST", f"{PROJECT}/approval_rules") not in forge.calls()
    assert ("PUT", f"{PROJECT}/approval_rules/300") in forge.calls()


async def test_a_next_page_on_another_host_is_not_followed(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    elsewhere = {"Link": '<https://attacker.example/api/v4/steal?page=2>; rel="next"'}
    forge.answer("GET", RULES, 200, [], elsewhere)
    with pytest.raises(ForgeError, match="next page is on another host") as raised:
        await gitlab_protector(httpserver).apply(ProtectionPolicy())
    assert "attacker.example" in raised.value.problem
    assert forge.calls() == [("GET", RULES)]


async def test_gitlab_free_tier_is_told_about_approval_rules(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    forge.answer("GET", RULES, 200, [protected(NO_ONE)])
    forge.answer("PUT", PROJECT, 200, {})
    forge.answer("GET", APPROVAL_RULES, 403, {"message": "403 Forbidden"})
    with pytest.raises(ForgeError, match="approval rules need GitLab Premium"):
        await gitlab_protector(httpserver).apply(ProtectionPolicy())


async def test_gitlab_numeric_project_ids_work(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    answer_numeric_project(forge)
    await protector("gitlab", httpserver, Sleeps(), "1234").apply(ProtectionPolicy())
    assert len(forge.seen) == 6


def answer_numeric_project(forge: ScriptedForge) -> None:
    """The conversation of protecting main of project 1234 for the first time."""
    forge.answer("GET", "/api/v4/projects/1234/protected_branches?per_page=100", 200, [])
    forge.answer("POST", "/api/v4/projects/1234/protected_branches", 201, protected(NO_ONE))
    forge.answer("PUT", "/api/v4/projects/1234", 200, {})
    forge.answer("GET", "/api/v4/projects/1234/approval_rules?per_page=100", 200, [])
    forge.answer("POST", "/api/v4/projects/1234/approval_rules", 201, {})
    forge.answer("POST", "/api/v4/projects/1234/approvals", 201, {})


# --- inputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"approvals": 0}, "approvals"),
        ({"branch": "release/*"}, "branch"),
        ({"branch": "../../x"}, "branch"),
        ({"branch": "main\n"}, "branch"),
        ({"required_status": " "}, "required-status"),
    ],
)
def test_a_weak_or_wrong_policy_is_refused(kwargs: dict[str, Any], argument: str) -> None:
    with pytest.raises(InputError) as raised:
        ProtectionPolicy(**kwargs)
    assert raised.value.argument == argument


def test_wrong_provider_repository_and_url_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--provider=gitlabb", "--repository=a/b"])
    assert "--provider: invalid choice: 'gitlabb'" in capsys.readouterr().err
    with pytest.raises(InputError, match="not a GitHub owner/name") as caught:
        forge_config("github", repository="hello-service", api_url=None)
    assert caught.value.argument == "repository"
    with pytest.raises(InputError, match="not a GitLab project id or full path") as caught:
        forge_config("gitlab", repository="hello-service", api_url=None)
    assert caught.value.argument == "repository"
    with pytest.raises(InputError, match="not an https") as caught:
        forge_config("github", repository="a/b", api_url="api.github.com")
    assert caught.value.argument == "api-url"


def test_the_cli_defaults_to_the_public_api_of_each_forge() -> None:
    github = forge_config("github", repository="a/b", api_url=None)
    gitlab = forge_config("gitlab", repository="1234", api_url="https://git.example.com/api/v4/")
    assert (github.api_url, github.repository, github.project) == (
        "https://api.github.com",
        "a/b",
        None,
    )
    assert (gitlab.api_url, gitlab.repository, gitlab.project) == (
        "https://git.example.com/api/v4",
        None,
        "1234",
    )


# --- the command line ----------------------------------------------------------------------------


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines_cli.branch_protection", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), **env},
        timeout=60,
    )


def test_the_cli_protects_a_github_branch(httpserver: HTTPServer, forge: ScriptedForge) -> None:
    forge.answer("PUT", GITHUB_PATH, 200, github_protection())
    result = cli(
        "--provider=github",
        "--repository=acme/hello-service",
        "--branch=main",
        f"--api-url={httpserver.url_for('/api/v3')}",
        env={"GITHUB_TOKEN": TOKEN},
    )
    assert result.returncode == 0, result.stderr
    assert "acme/hello-service@main: requires status 'pipelines/pre-merge'" in result.stdout
    (seen,) = forge.seen
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"


def test_the_cli_reads_the_token_variable_it_is_told(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    answer_numeric_project(forge)
    result = cli(
        "--provider=gitlab",
        "--repository=1234",
        f"--api-url={httpserver.url_for('/api/v4')}",
        "--token-env=PROTECT_TOKEN",
        env={"PROTECT_TOKEN": TOKEN},
    )
    assert result.returncode == 0, result.stderr
    assert forge.seen[0].headers["Private-Token"] == TOKEN


def test_the_cli_fails_clearly_without_a_token(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    result = cli("--provider=github", "--repository=acme/hello-service", env={})
    assert result.returncode == 1
    assert "$GITHUB_TOKEN is empty or not set" in result.stderr
    assert forge.seen == []


def test_the_cli_reports_a_refusal_without_the_token(
    httpserver: HTTPServer, forge: ScriptedForge
) -> None:
    forge.answer("PUT", GITHUB_PATH, 401, {"message": "Bad credentials"})
    result = cli(
        "--provider=github",
        "--repository=acme/hello-service",
        f"--api-url={httpserver.url_for('/api/v3')}",
        env={"GITHUB_TOKEN": TOKEN},
    )
    assert result.returncode == 1
    assert "HTTP 401" in result.stderr
    assert "the token was rejected" in result.stderr
    assert TOKEN not in result.stderr + result.stdout
