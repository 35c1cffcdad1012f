"""Promotion on GitHub (and GitHub Enterprise Server): a branch, one commit, a pull request.

REST endpoints, API version 2022-11-28:

- ``GET /repos/{owner}/{repo}/contents/{path}?ref=`` reads the file (base64 + blob sha);
- ``GET /repos/{owner}/{repo}/git/ref/heads/{branch}`` gives a branch's head (404: none);
- ``POST /repos/{owner}/{repo}/git/refs`` creates the branch;
- ``PUT /repos/{owner}/{repo}/contents/{path}`` commits the file on the branch;
- ``GET``/``POST /repos/{owner}/{repo}/pulls`` finds or opens the pull request.

The token needs "Contents: write" and "Pull requests: write" (fine-grained) or
``repo`` (classic). On GitHub Enterprise Server the API URL is
``https://HOST/api/v3``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio

from pipelines.promotion.base import (
    ChangeRequest,
    CommitConflict,
    FileChange,
    ForgeCaller,
    RemoteFile,
)
from pipelines.status._http import HttpAnswer, HttpRequest, RetryPolicy, Sleep

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"


@dataclass(frozen=True, kw_only=True)
class GitHubChangeRequests:
    repository: str  # owner/name
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = field(default=anyio.sleep, repr=False, compare=False)
    provider: str = field(default="github", init=False)

    @property
    def where(self) -> str:
        return f"GitHub repository {self.repository}"

    @property
    def _caller(self) -> ForgeCaller:
        return ForgeCaller(
            provider=self.provider,
            where=self.where,
            token=self.token,
            retry=self.retry,
            sleep=self.sleep,
        )

    def _url(self, *parts: str) -> str:
        owner, _, name = self.repository.partition("/")
        base = f"{self.api_url.rstrip('/')}/repos/{quote(owner, safe='')}/{quote(name, safe='')}"
        # Paths and branch names keep their slashes: GitHub routes them as such.
        return "/".join([base, *(quote(part, safe="/") for part in parts)])

    async def _send(
        self,
        method: str,
        url: str,
        *,
        what: str,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
    ) -> HttpAnswer:
        return await self._caller.send(
            HttpRequest(
                method=method,
                url=url,
                headers={
                    "Authorization": f"Bearer {self.token}",
                    "Accept": "application/vnd.github+json",
                    "X-GitHub-Api-Version": API_VERSION,
                    "User-Agent": "portable-pipelines",
                },
                what=f"GitHub {what}",
                body=body,
                params=params,
            )
        )

    async def read_file(self, path: str, *, ref: str) -> RemoteFile:
        what = f"read {path} on {ref}"
        answer = await self._send(
            "GET", self._url("contents", path), what=what, params={"ref": ref}
        )
        if answer.status == 404:
            raise self._caller.error(
                f"{path} was not found on branch {ref} (HTTP 404 {answer.excerpt()})",
                f"check --base-branch={ref}, that {path} exists there, [status] repository "
                "and api_url, and that the token can read the repository (GitHub answers 404 "
                "for a repository the token cannot see)",
            )
        if not answer.ok:
            raise self._caller.refused(answer, what)
        data = answer.json()
        if not isinstance(data, dict) or data.get("type") != "file":
            raise self._caller.error(
                f"{path} on {ref} is not a file", "point the overlay path at a kustomization file"
            )
        if data.get("encoding") != "base64":
            raise self._caller.error(
                f"{path} on {ref} came back with encoding {data.get('encoding')!r}, not base64 "
                "(GitHub sends no content for files over 1 MB)",
                "keep the kustomization small",
            )
        try:
            text = base64.b64decode(str(data.get("content", ""))).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise self._caller.error(
                f"{path} on {ref} is not UTF-8 text ({error})", "fix the file's encoding"
            ) from None
        return RemoteFile(path=path, ref=ref, text=text, version=str(data["sha"]))

    async def _branch_head(self, branch: str) -> str | None:
        what = f"read branch {branch}"
        answer = await self._send("GET", self._url("git", "ref", "heads", branch), what=what)
        if answer.status == 404:
            return None
        if not answer.ok:
            raise self._caller.refused(answer, what)
        return str(answer.json()["object"]["sha"])

    async def branch_exists(self, branch: str) -> bool:
        return await self._branch_head(branch) is not None

    async def _create_branch(self, branch: str, *, start_branch: str) -> None:
        head = await self._branch_head(start_branch)
        if head is None:
            raise self._caller.error(f"branch {start_branch} does not exist", "check --base-branch")
        what = f"create branch {branch} from {start_branch}"
        answer = await self._send(
            "POST",
            self._url("git", "refs"),
            what=what,
            body={"ref": f"refs/heads/{branch}", "sha": head},
        )
        # 422 "Reference already exists": a retried create that landed, or a
        # concurrent run; the commit below then finds out whether it fits.
        if answer.ok or (answer.status == 422 and "already exists" in answer.text):
            return
        raise self._caller.refused(answer, what)

    async def commit_file(self, change: FileChange) -> None:
        if change.start_branch is not None:
            await self._create_branch(change.branch, start_branch=change.start_branch)
        what = f"commit {change.path} on {change.branch}"
        answer = await self._send(
            "PUT",
            self._url("contents", change.path),
            what=what,
            body={
                "message": change.message,
                "content": base64.b64encode(change.text.encode("utf-8")).decode("ascii"),
                "sha": change.previous.version,
                "branch": change.branch,
            },
        )
        if answer.ok:
            return
        if answer.status == 409:
            raise self._caller.refused(
                answer,
                what,
                fix=f"{change.path} changed on {change.branch} meanwhile: re-run promote",
                kind=CommitConflict,
            )
        raise self._caller.refused(answer, what)

    async def find_change_request(self, *, branch: str, base: str) -> str | None:
        owner = self.repository.partition("/")[0]
        what = f"list open pull requests from {branch}"
        answer = await self._send(
            "GET",
            self._url("pulls"),
            what=what,
            params={"head": f"{owner}:{branch}", "base": base, "state": "open"},
        )
        if not answer.ok:
            raise self._caller.refused(answer, what)
        pulls = answer.json()
        return str(pulls[0]["html_url"]) if pulls else None

    async def open_change_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> ChangeRequest:
        what = f"open a pull request from {branch} into {base}"
        answer = await self._send(
            "POST",
            self._url("pulls"),
            what=what,
            body={"title": title, "head": branch, "base": base, "body": body},
        )
        if answer.ok:
            return ChangeRequest(url=str(answer.json()["html_url"]), created=True)
        # 422 "A pull request already exists for owner:branch": a retried create
        # that landed, or someone opened it by hand.
        if answer.status == 422 and "already exists" in answer.text:
            existing = await self.find_change_request(branch=branch, base=base)
            if existing is not None:
                return ChangeRequest(url=existing, created=False)
        raise self._caller.refused(answer, what)
