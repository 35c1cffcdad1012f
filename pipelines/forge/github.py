"""GitHub (and GitHub Enterprise Server): statuses, files, branches, pull requests, protection.

REST endpoints, API version 2022-11-28, below ``/repos/{owner}/{repo}``:

- ``POST statuses/{sha}`` posts a commit status;
- ``GET contents/{path}?ref=`` reads a file (base64 and its blob sha);
- ``GET git/ref/heads/{branch}`` gives a branch's head (404: no such branch);
- ``POST git/refs`` creates a branch;
- ``PUT contents/{path}`` commits a file on a branch;
- ``GET``/``POST pulls`` finds or opens a pull request;
- ``PUT branches/{branch}/protection`` protects a branch.

On GitHub Enterprise Server the API URL is ``https://HOST/api/v3``.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pipelines.forge.base import (
    ChangeRequest,
    CommitStatus,
    FileChange,
    ForgeKind,
    Locator,
    ProtectionPolicy,
    RemoteFile,
    State,
)
from pipelines.forge.errors import CommitConflict, Purpose
from pipelines.forge.http import Answer, Connection, Request, RetryPolicy, Sleep, default_sleep

if TYPE_CHECKING:
    from pipelines.config.forge import ForgeConfig

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
# GitHub's vocabulary happens to match ours; the map keeps the contract explicit.
STATES: dict[State, str] = {"pending": "pending", "success": "success", "failure": "failure"}

PERMISSIONS: dict[Purpose, str] = {
    "statuses": "Commit statuses: write (fine-grained) or repo:status (classic)",
    "promotion": "Contents: write and Pull requests: write (in GitHub Actions, also allow "
    "GitHub Actions to create pull requests in the repository settings)",
    "protection": "Administration: write (or the repo scope) from a repository admin",
}
TOKEN_VARIABLES: dict[Purpose, str] = {
    "statuses": "GITHUB_TOKEN",
    "promotion": "GITHUB_TOKEN",
    "protection": "GITHUB_TOKEN",
}
LOCATOR = Locator(
    key="repository",
    pattern=re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}"),
    example="acme/hello-service",
    description="a GitHub owner/name",
)


def _path(text: str) -> str:
    """A file path or ref name in a URL: GitHub routes its slashes as they are."""
    return quote(text, safe="/")


def _segment(text: str) -> str:
    """One URL path segment: slashes encoded too."""
    return quote(text, safe="")


@dataclass(frozen=True, kw_only=True)
class GitHubForge:
    repository: str  # owner/name
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = field(default=default_sleep, repr=False, compare=False)
    provider: str = field(default="github", init=False)

    @property
    def where(self) -> str:
        return f"GitHub repository {self.repository}"

    @property
    def _api(self) -> Connection:
        return Connection(
            where=self.where,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            },
            token=self.token,
            permissions=PERMISSIONS,
            key=LOCATOR.key,
            retry=self.retry,
            sleep=self.sleep,
        )

    def _url(self, tail: str) -> str:
        """``tail`` (already encoded) below this repository's API URL."""
        owner, _, name = self.repository.partition("/")
        return f"{self.api_url.rstrip('/')}/repos/{_segment(owner)}/{_segment(name)}/{tail}"

    async def _call(
        self,
        method: str,
        tail: str,
        *,
        what: str,
        purpose: Purpose,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        accept: tuple[int, ...] = (),
    ) -> Answer:
        """A success, or a refusal in ``accept``; any other answer raises ForgeError."""
        request = Request(method=method, url=self._url(tail), what=what, body=body, params=params)
        return await self._api.call(request, purpose=purpose, accept=accept)

    # --- commit statuses ---------------------------------------------------------------------

    async def post_status(self, status: CommitStatus) -> None:
        body: dict[str, Any] = {
            "state": STATES[status.state],
            "description": status.description,
            "context": status.context,
        }
        if status.target_url is not None:
            body["target_url"] = status.target_url
        await self._call(
            "POST",
            f"statuses/{status.sha}",
            what=f"status {status.context}={status.state} on {status.sha.short}",
            purpose="statuses",
            body=body,
        )

    # --- files, branches, pull requests ------------------------------------------------------

    async def read_file(self, path: str, *, ref: str) -> RemoteFile:
        api = self._api
        answer = await self._call(
            "GET",
            f"contents/{_path(path)}",
            what=f"read {path} on {ref}",
            purpose="promotion",
            params={"ref": ref},
            accept=(404,),
        )
        if answer.status == 404:
            raise api.error(
                f"{path} was not found on branch {ref} (HTTP 404 {api.excerpt(answer)})",
                f"check --base-branch={ref}, that {path} exists there, [forge] repository "
                "and api_url, and that the token can read the repository (GitHub answers 404 "
                "for a repository the token cannot see)",
            )
        what = f"read {path} on {ref}"
        if api.field(answer, what, ("type",), str) != "file":
            raise api.error(
                f"{path} on {ref} is not a file", "point the overlay path at a kustomization file"
            )
        encoding = api.field(answer, what, ("encoding",), str)
        if encoding != "base64":
            raise api.error(
                f"{path} on {ref} came back with encoding {encoding!r}, not base64 "
                "(GitHub sends no content for files over 1 MB)",
                "keep the kustomization small",
            )
        content = api.field(answer, what, ("content",), str)
        version = api.field(answer, what, ("sha",), str)
        try:
            text = base64.b64decode(content).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise api.error(
                f"{path} on {ref} is not UTF-8 text ({error})", "fix the file's encoding"
            ) from None
        return RemoteFile(path=path, ref=ref, text=text, version=version)

    async def _branch_head(self, branch: str) -> str | None:
        what = f"read branch {branch}"
        answer = await self._call(
            "GET", f"git/ref/heads/{_path(branch)}", what=what, purpose="promotion", accept=(404,)
        )
        if answer.status == 404:
            return None
        return self._api.field(answer, what, ("object", "sha"), str)

    async def branch_exists(self, branch: str) -> bool:
        return await self._branch_head(branch) is not None

    async def _create_branch(self, branch: str, *, start_branch: str) -> None:
        head = await self._branch_head(start_branch)
        if head is None:
            raise self._api.error(f"branch {start_branch} does not exist", "check --base-branch")
        what = f"create branch {branch} from {start_branch}"
        answer = await self._call(
            "POST",
            "git/refs",
            what=what,
            purpose="promotion",
            body={"ref": f"refs/heads/{branch}", "sha": head},
            accept=(422,),
        )
        # 422 "Reference already exists": a retried create that landed, or a
        # concurrent run; the commit after it then finds out whether it fits.
        if answer.status == 422 and "already exists" not in answer.text:
            raise self._api.refused(answer, what, purpose="promotion")

    async def commit_file(self, change: FileChange) -> None:
        if change.start_branch is not None:
            await self._create_branch(change.branch, start_branch=change.start_branch)
        what = f"commit {change.path} on {change.branch}"
        answer = await self._call(
            "PUT",
            f"contents/{_path(change.path)}",
            what=what,
            purpose="promotion",
            body={
                "message": change.message,
                "content": base64.b64encode(change.text.encode("utf-8")).decode("ascii"),
                "sha": change.previous.version,
                "branch": change.branch,
            },
            accept=(409,),
        )
        if answer.status == 409:
            raise self._api.refused(
                answer,
                what,
                purpose="promotion",
                fix=f"{change.path} changed on {change.branch} meanwhile: re-run promote",
                kind=CommitConflict,
            )

    async def find_change_request(self, *, branch: str, base: str) -> str | None:
        owner = self.repository.partition("/")[0]
        what = f"list open pull requests from {branch}"
        request = Request(
            method="GET",
            url=self._url("pulls"),
            what=what,
            params={"head": f"{owner}:{branch}", "base": base, "state": "open"},
        )
        pulls = await self._api.pages(request, purpose="promotion")
        return self._api.item_text(pulls[0], "html_url", what=what) if pulls else None

    async def open_change_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> ChangeRequest:
        what = f"open a pull request from {branch} into {base}"
        answer = await self._call(
            "POST",
            "pulls",
            what=what,
            purpose="promotion",
            body={"title": title, "head": branch, "base": base, "body": body},
            accept=(422,),
        )
        if answer.ok:
            url = self._api.field(answer, what, ("html_url",), str)
            return ChangeRequest(url=url, created=True)
        # 422 "A pull request already exists for owner:branch": a retried create
        # that landed, or someone opened it by hand.
        if "already exists" in answer.text:
            existing = await self.find_change_request(branch=branch, base=base)
            if existing is not None:
                return ChangeRequest(url=existing, created=False)
        raise self._api.refused(answer, what, purpose="promotion")

    # --- branch protection -------------------------------------------------------------------

    async def protect_branch(self, policy: ProtectionPolicy) -> list[str]:
        what = f"protection of {policy.branch}"
        answer = await self._call(
            "PUT",
            f"branches/{_segment(policy.branch)}/protection",
            what=what,
            purpose="protection",
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
        )
        # The PUT replaces the whole protection and answers with what now holds:
        # success is reported only when that is at least the policy.
        gaps = _protection_gaps(self._api.document(answer, what), policy)
        if gaps:
            raise self._api.error(
                f"{what}: GitHub answered the update, but the branch is protected more weakly "
                f"than required: {'; '.join(gaps)}",
                "check the branch's protection and the repository's rulesets in Settings > "
                "Branches (an organization policy may override it), then run this again",
            )
        return [
            f"{self.repository}@{policy.branch}: requires status {policy.required_status!r} "
            f"(up to date), {policy.approvals} approval(s)"
            + (" incl. code owners" if policy.code_owner_review else "")
            + ", no force pushes or deletions, enforced for admins"
        ]


def _enabled(protection: dict[str, Any], key: str) -> object:
    setting = protection.get(key)
    return setting.get("enabled") if isinstance(setting, dict) else None


def _protection_gaps(protection: object, policy: ProtectionPolicy) -> list[str]:
    """What GitHub's answer to the PUT holds below ``policy``, in words."""
    if not isinstance(protection, dict):
        return ["the answer holds no protection object"]
    gaps = []
    checks = protection.get("required_status_checks")
    contexts = checks.get("contexts") if isinstance(checks, dict) else None
    if not isinstance(checks, dict) or not isinstance(contexts, list):
        gaps.append("no required status checks")
    else:
        if policy.required_status not in contexts:
            gaps.append(f"status {policy.required_status!r} is not required")
        if checks.get("strict") is not True:
            gaps.append("pull requests need not be up to date")
    found = protection.get("required_pull_request_reviews")
    reviews: dict[str, Any] = found if isinstance(found, dict) else {}
    count = reviews.get("required_approving_review_count")
    if not isinstance(count, int) or count < policy.approvals:
        gaps.append(f"{count or 0} approval(s) required, not {policy.approvals}")
    elif policy.code_owner_review and reviews.get("require_code_owner_reviews") is not True:
        gaps.append("code owners' review is not required")
    if _enabled(protection, "enforce_admins") is not True:
        gaps.append("administrators are exempt")
    for key, words in (("allow_force_pushes", "force pushes"), ("allow_deletions", "deletion")):
        if _enabled(protection, key) is not False:
            gaps.append(f"{words} allowed")
    return gaps


def connect(config: ForgeConfig, token: str, retry: RetryPolicy, sleep: Sleep) -> GitHubForge:
    if config.repository is None:
        raise ValueError("a github [forge] needs `repository`; the config parser checks it")
    return GitHubForge(
        repository=config.repository,
        token=token,
        api_url=config.api_url,
        retry=retry,
        sleep=sleep,
    )


KIND = ForgeKind(
    title="GitHub",
    default_api_url=DEFAULT_API_URL,
    locator=LOCATOR,
    permissions=PERMISSIONS,
    token_variables=TOKEN_VARIABLES,
    connect=connect,
)
