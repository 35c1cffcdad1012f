"""Protect the release branch: the review gate of the dev workflow, applied by API.

A pull (merge) request into the release branch may merge only when the
``pre-merge`` pipeline has set its required status and at least one reviewer
approved; nobody pushes or force-pushes to the branch directly.

- GitHub: ``PUT /repos/{owner}/{repo}/branches/{branch}/protection`` with the
  required status check, the approval count (code owners included), no force
  pushes or deletions, enforced for administrators. The token needs
  "Administration: write" on the repository (fine-grained) or ``repo`` scope.
- GitLab: the branch is protected (no direct push, no force push), the project
  only merges when the pipeline succeeds (the ``pipelines/pre-merge`` status
  is part of it), and an approval rule on the branch requires the approvals
  (approval rules are a GitLab Premium feature). The token has the ``api``
  scope and the Maintainer role.

Run it once per repository, and again whenever the policy changes; it is
idempotent::

    GITHUB_TOKEN=... python -m pipelines.branch_protection \\
        --provider github --repository acme/hello-service --branch main

Jenkins has no protection of its own: the forge that hosts the code does it
(docs/ci/jenkins.md).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import anyio

from pipelines.errors import InputError, PipelinesError, did_you_mean
from pipelines.status import github as github_status
from pipelines.status import gitlab as gitlab_status
from pipelines.status._http import (
    HttpAnswer,
    HttpRequest,
    RetriesExhausted,
    RetryPolicy,
    Sleep,
    redact,
    send_with_retries,
)

log = logging.getLogger("pipelines.branch_protection")

DEFAULT_BRANCH = "main"
DEFAULT_STATUS = "pipelines/pre-merge"
# The name of the GitLab approval rule this module owns (found again by name).
GITLAB_APPROVAL_RULE = "release-branch-review"
# GitLab access levels: 0 no one, 30 Developer, 40 Maintainer.
NO_ACCESS = 0
DEVELOPER = 30


class BranchProtectionError(PipelinesError):
    """The forge refused the protection, or could not be reached."""


@dataclass(frozen=True, kw_only=True)
class ProtectionPolicy:
    """What the release branch requires before a merge."""

    branch: str = DEFAULT_BRANCH
    required_status: str = DEFAULT_STATUS
    approvals: int = 1
    code_owner_review: bool = True

    def __post_init__(self) -> None:
        if not self.branch.strip() or any(c in self.branch for c in "*?[ "):
            raise InputError(
                argument="branch",
                problem=f"{self.branch!r} is not a branch name",
                fix="name the release branch exactly, e.g. --branch main (no wildcards)",
            )
        if not self.required_status.strip():
            raise InputError(
                argument="required-status",
                problem="the required status is empty",
                fix=f"pass the pre-merge status context, e.g. --required-status {DEFAULT_STATUS}",
            )
        if self.approvals < 1:
            raise InputError(
                argument="approvals",
                problem=f"{self.approvals} approvals would let a change merge unreviewed",
                fix="pass --approvals 1 or more",
            )


@dataclass(frozen=True, kw_only=True)
class ApiRequest:
    method: str
    path: str  # below the API base URL, already URL-encoded
    body: Mapping[str, Any] | None = None
    what: str  # for messages: "GitHub protection of main in acme/app"


@dataclass(frozen=True, kw_only=True)
class ApiResponse:
    status: int
    body: Any  # parsed JSON, else the text

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Transport(Protocol):
    async def send(self, request: ApiRequest) -> ApiResponse:
        """The final answer (after retries); raises only when none came."""
        ...


class BranchProtector(Protocol):
    @property
    def provider(self) -> str: ...

    async def apply(self, policy: ProtectionPolicy) -> list[str]:
        """Apply the policy; one line per setting made."""
        ...


@dataclass(frozen=True, kw_only=True)
class HttpTransport:
    """JSON over HTTPS with the retries of the commit-status clients (5xx, 429, rate limits)."""

    api_url: str
    headers: Mapping[str, str] = field(repr=False)
    secret: str = field(repr=False)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = field(default=anyio.sleep, repr=False, compare=False)

    async def send(self, request: ApiRequest) -> ApiResponse:
        url = f"{self.api_url.rstrip('/')}/{request.path.lstrip('/')}"
        try:
            answer = await send_with_retries(
                HttpRequest(
                    method=request.method,
                    url=url,
                    headers=self.headers,
                    what=request.what,
                    body=request.body,
                ),
                secret=self.secret,
                policy=self.retry,
                sleep=self.sleep,
                logger=log,
            )
        except RetriesExhausted as exhausted:
            raise BranchProtectionError(
                f"{request.what}: no answer after {exhausted.attempts} attempts; last: "
                f"{exhausted.last_problem}\n  fix: check the forge's status page and --api-url, "
                "then run this again (it is idempotent)"
            ) from None
        return ApiResponse(status=answer.status, body=_body(answer))


def _body(answer: HttpAnswer) -> Any:
    try:
        return answer.json()
    except ValueError:
        return answer.text


def refused(request: ApiRequest, response: ApiResponse, secret: str, fix: str = "") -> Exception:
    """The error for an answer that is final and not what was asked for."""
    text = response.body if isinstance(response.body, str) else repr(response.body)
    advice = fix or _fix_for(response.status)
    return BranchProtectionError(
        redact(
            f"{request.what}: refused with HTTP {response.status} "
            f"{HttpAnswer(status=response.status, text=text).excerpt()}"
            f"\n  fix: {advice}",
            secret,
        )
    )


def _fix_for(status: int) -> str:
    if status == 401:
        return "the token was rejected: check that it is current and in the token variable"
    if status in (403, 404):
        return (
            "the token cannot administer this repository, or the repository/project, branch "
            "or API URL is wrong: GitHub needs Administration write (or repo scope) from a "
            "repository admin; GitLab needs the api scope and the Maintainer role"
        )
    if status == 422:
        return "the forge rejected the settings: check the branch name and the status context"
    return "see the answer above"


# --- GitHub ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GitHubBranchProtection:
    repository: str  # owner/name
    transport: Transport
    secret: str = field(default="", repr=False)
    provider: str = field(default="github", init=False)

    def __post_init__(self) -> None:
        owner, _, name = self.repository.partition("/")
        if not owner or not name or "/" in name:
            raise InputError(
                argument="repository",
                problem=f"{self.repository!r} is not owner/name",
                fix="pass the GitHub repository as owner/name, e.g. --repository acme/app",
            )

    def request_for(self, policy: ProtectionPolicy) -> ApiRequest:
        owner, _, name = self.repository.partition("/")
        return ApiRequest(
            method="PUT",
            path=f"repos/{quote(owner, safe='')}/{quote(name, safe='')}/branches/"
            f"{quote(policy.branch, safe='')}/protection",
            body={
                # strict: the pull request must be up to date with the branch, so
                # the status describes what will actually be merged.
                "required_status_checks": {
                    "strict": True,
                    "checks": [{"context": policy.required_status}],
                },
                "enforce_admins": True,
                "required_pull_request_reviews": {
                    "required_approving_review_count": policy.approvals,
                    "dismiss_stale_reviews": True,
                    "require_code_owner_reviews": policy.code_owner_review,
                },
                "restrictions": None,
                "allow_force_pushes": False,
                "allow_deletions": False,
            },
            what=f"GitHub protection of {policy.branch} in {self.repository}",
        )

    async def apply(self, policy: ProtectionPolicy) -> list[str]:
        request = self.request_for(policy)
        response = await self.transport.send(request)
        if not response.ok:
            raise refused(request, response, self.secret)
        return [
            f"{self.repository}@{policy.branch}: requires status {policy.required_status!r} "
            f"(up to date), {policy.approvals} approval(s)"
            + (" incl. code owners" if policy.code_owner_review else "")
            + ", no force pushes or deletions, enforced for admins"
        ]


# --- GitLab ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class GitLabBranchProtection:
    project: str  # numeric id or group/sub/project
    transport: Transport
    secret: str = field(default="", repr=False)
    provider: str = field(default="gitlab", init=False)

    def _project_path(self) -> str:
        return f"projects/{quote(self.project, safe='')}"

    async def _send(self, request: ApiRequest, *, accept: Sequence[int] = ()) -> ApiResponse:
        response = await self.transport.send(request)
        if not response.ok and response.status not in accept:
            fix = (
                "approval rules need GitLab Premium or Ultimate; on Free, require approvals "
                "by convention and keep the protected branch and pipeline settings"
                if "approval" in request.path and response.status in (403, 404)
                else ""
            )
            raise refused(request, response, self.secret, fix)
        return response

    async def _protect(self, policy: ProtectionPolicy) -> tuple[int, str]:
        """Protect the branch; the protected branch's id and what was done."""
        project = self._project_path()
        what = f"GitLab protection of {policy.branch} in {self.project}"
        created = await self._send(
            ApiRequest(
                method="POST",
                path=f"{project}/protected_branches",
                body={
                    "name": policy.branch,
                    "push_access_level": NO_ACCESS,
                    "merge_access_level": DEVELOPER,
                    "allow_force_push": False,
                },
                what=what,
            ),
            accept=(409,),
        )
        if created.ok:
            return int(created.body["id"]), "protected: no direct push, developers merge"
        # Already protected: GitLab answers 409. Turn force pushes off and keep the
        # access levels someone chose (changing them needs their ids).
        updated = await self._send(
            ApiRequest(
                method="PATCH",
                path=f"{project}/protected_branches/{quote(policy.branch, safe='')}",
                body={"allow_force_push": False},
                what=what,
            )
        )
        return int(updated.body["id"]), (
            "already protected: force push turned off, existing push/merge access kept "
            "(review them: nobody should push directly)"
        )

    async def _approval_rule(self, policy: ProtectionPolicy, branch_id: int) -> str:
        project = self._project_path()
        what = f"GitLab approval rule {GITLAB_APPROVAL_RULE!r} in {self.project}"
        body = {
            "name": GITLAB_APPROVAL_RULE,
            "approvals_required": policy.approvals,
            "protected_branch_ids": [branch_id],
        }
        rules = await self._send(
            ApiRequest(method="GET", path=f"{project}/approval_rules", what=what)
        )
        existing = [
            rule
            for rule in (rules.body if isinstance(rules.body, list) else [])
            if rule.get("name") == GITLAB_APPROVAL_RULE
        ]
        if existing:
            await self._send(
                ApiRequest(
                    method="PUT",
                    path=f"{project}/approval_rules/{int(existing[0]['id'])}",
                    body=body,
                    what=what,
                )
            )
            return f"approval rule updated: {policy.approvals} approval(s)"
        await self._send(
            ApiRequest(method="POST", path=f"{project}/approval_rules", body=body, what=what)
        )
        return f"approval rule created: {policy.approvals} approval(s)"

    async def apply(self, policy: ProtectionPolicy) -> list[str]:
        project = self._project_path()
        branch_id, protected = await self._protect(policy)
        await self._send(
            ApiRequest(
                method="PUT",
                path=project,
                body={
                    "only_allow_merge_if_pipeline_succeeds": True,
                    "allow_merge_on_skipped_pipeline": False,
                },
                what=f"GitLab merge settings of {self.project}",
            )
        )
        rule = await self._approval_rule(policy, branch_id)
        # An approval given before a new push no longer counts; authors do not
        # approve their own changes.
        await self._send(
            ApiRequest(
                method="POST",
                path=f"{project}/approvals",
                body={"reset_approvals_on_push": True, "merge_requests_author_approval": False},
                what=f"GitLab approval settings of {self.project}",
            )
        )
        return [
            f"{self.project}@{policy.branch}: {protected}",
            f"{self.project}: merges only when the pipeline (with {policy.required_status!r}) "
            "succeeds",
            f"{self.project}@{policy.branch}: {rule}; approvals reset on push, "
            "authors cannot approve",
        ]


# --- choosing a provider ------------------------------------------------------------------------

DEFAULT_API_URLS = {
    "github": github_status.DEFAULT_API_URL,
    "gitlab": gitlab_status.DEFAULT_API_URL,
}
DEFAULT_TOKEN_VARIABLES = {"github": "GITHUB_TOKEN", "gitlab": "GITLAB_TOKEN"}


def _github_headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": github_status.API_VERSION,
        "User-Agent": "portable-pipelines",
    }


def _gitlab_headers(token: str) -> dict[str, str]:
    return {"PRIVATE-TOKEN": token, "User-Agent": "portable-pipelines"}


def _github(repository: str, transport: Transport, token: str) -> BranchProtector:
    return GitHubBranchProtection(repository=repository, transport=transport, secret=token)


def _gitlab(repository: str, transport: Transport, token: str) -> BranchProtector:
    return GitLabBranchProtection(project=repository, transport=transport, secret=token)


@dataclass(frozen=True, kw_only=True)
class Provider:
    headers: Callable[[str], dict[str, str]]
    protector: Callable[[str, Transport, str], BranchProtector]


PROVIDERS: dict[str, Provider] = {
    "github": Provider(headers=_github_headers, protector=_github),
    "gitlab": Provider(headers=_gitlab_headers, protector=_gitlab),
}


def make_protector(
    provider: str,
    *,
    repository: str,
    token: str,
    api_url: str | None = None,
    retry: RetryPolicy | None = None,
    sleep: Sleep = anyio.sleep,
) -> BranchProtector:
    """The protector for ``provider``; ``repository`` is owner/name or a GitLab project."""
    if provider not in PROVIDERS:
        raise InputError(
            argument="provider",
            problem=f"unknown provider {provider!r}{did_you_mean(provider, PROVIDERS)}",
            fix=f"pass one of: {', '.join(sorted(PROVIDERS))}",
        )
    if not token:
        raise InputError(
            argument="token",
            problem="the token is empty",
            fix=f"export {DEFAULT_TOKEN_VARIABLES[provider]} (or the variable --token-env names)",
        )
    base = api_url or DEFAULT_API_URLS[provider]
    if not base.startswith(("https://", "http://")):
        raise InputError(
            argument="api-url",
            problem=f"{base!r} is not an http(s) URL",
            fix=f"pass the API base URL, e.g. {DEFAULT_API_URLS[provider]}",
        )
    chosen = PROVIDERS[provider]
    transport = HttpTransport(
        api_url=base,
        headers=chosen.headers(token),
        secret=token,
        retry=retry or RetryPolicy(),
        sleep=sleep,
    )
    return chosen.protector(repository, transport, token)


# --- command line ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.branch_protection",
        description="Protect the release branch: required pre-merge status, approvals, "
        "no force pushes. Idempotent.",
    )
    parser.add_argument("--provider", required=True, choices=sorted(PROVIDERS))
    parser.add_argument(
        "--repository",
        required=True,
        help="GitHub owner/name, or GitLab project id or group/sub/project",
    )
    parser.add_argument("--branch", default=DEFAULT_BRANCH)
    parser.add_argument("--required-status", default=DEFAULT_STATUS)
    parser.add_argument("--approvals", type=int, default=1)
    parser.add_argument(
        "--no-code-owner-review",
        dest="code_owner_review",
        action="store_false",
        help="GitHub: do not require a code owner's approval (.github/CODEOWNERS)",
    )
    parser.add_argument("--api-url", help="API base URL (GitHub Enterprise, self-managed GitLab)")
    parser.add_argument(
        "--token-env",
        help="environment variable holding the token (default: GITHUB_TOKEN or GITLAB_TOKEN)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = parse_args(argv)
    environ = os.environ if environ is None else environ
    variable = args.token_env or DEFAULT_TOKEN_VARIABLES[args.provider]
    try:
        policy = ProtectionPolicy(
            branch=args.branch,
            required_status=args.required_status,
            approvals=args.approvals,
            code_owner_review=args.code_owner_review,
        )
        token = environ.get(variable, "").strip()
        if not token:
            raise InputError(
                argument="token-env",
                problem=f"${variable} is empty or not set",
                fix=f"export {variable}=<a token that may administer the repository>",
            )
        protector = make_protector(
            args.provider, repository=args.repository, token=token, api_url=args.api_url
        )
        done = anyio.run(protector.apply, policy)
    except PipelinesError as error:
        sys.stderr.write(f"branch protection: {error}\n")
        return 1
    sys.stdout.write("".join(f"{line}\n" for line in done))
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.exit(main())
