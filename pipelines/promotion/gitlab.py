"""Promotion on GitLab (gitlab.com and self-managed): one commit on a new branch, a merge request.

REST API v4, where ``:id`` is the numeric project id or the URL-encoded full path:

- ``GET /projects/:id/repository/files/:file_path/raw?ref=`` reads the file (path encoded);
- ``GET /projects/:id/repository/branches/:branch`` tells whether the branch exists;
- ``POST /projects/:id/repository/commits`` with ``start_branch`` creates the branch and
  the commit in one step (nothing half-done is left behind when it is refused);
- ``GET``/``POST /projects/:id/merge_requests`` finds or opens the merge request.

The token is a project, group or personal access token with the ``api`` scope
and at least the Developer role (a CI job token cannot commit through the API).
"""

from __future__ import annotations

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

DEFAULT_API_URL = "https://gitlab.com/api/v4"


@dataclass(frozen=True, kw_only=True)
class GitLabChangeRequests:
    project: str  # numeric id or "group/sub/project"
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = field(default=anyio.sleep, repr=False, compare=False)
    provider: str = field(default="gitlab", init=False)

    @property
    def where(self) -> str:
        return f"GitLab project {self.project}"

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
        # Every variable part is one path segment for GitLab: slashes encoded.
        segments = ["projects", self.project, *parts]
        return "/".join([self.api_url.rstrip("/"), *(quote(s, safe="") for s in segments)])

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
                headers={"PRIVATE-TOKEN": self.token, "User-Agent": "portable-pipelines"},
                what=f"GitLab {what}",
                body=body,
                params=params,
            )
        )

    async def read_file(self, path: str, *, ref: str) -> RemoteFile:
        what = f"read {path} on {ref}"
        url = self._url("repository", "files", path, "raw")
        answer = await self._send("GET", url, what=what, params={"ref": ref})
        if answer.status == 404:
            raise self._caller.error(
                f"{path} was not found on branch {ref} (HTTP 404 {answer.excerpt()})",
                f"check --base-branch={ref}, that {path} exists there, [status] project and "
                "api_url, and that the token can read the project (GitLab answers 404 for a "
                "project the token cannot see)",
            )
        if not answer.ok:
            raise self._caller.refused(answer, what)
        return RemoteFile(path=path, ref=ref, text=answer.text)

    async def branch_exists(self, branch: str) -> bool:
        what = f"read branch {branch}"
        answer = await self._send("GET", self._url("repository", "branches", branch), what=what)
        if answer.status == 404:
            return False
        if not answer.ok:
            raise self._caller.refused(answer, what)
        return True

    async def commit_file(self, change: FileChange) -> None:
        body: dict[str, Any] = {
            "branch": change.branch,
            "commit_message": change.message,
            "actions": [{"action": "update", "file_path": change.path, "content": change.text}],
        }
        if change.start_branch is not None:
            body["start_branch"] = change.start_branch
        what = f"commit {change.path} on {change.branch}"
        answer = await self._send("POST", self._url("repository", "commits"), what=what, body=body)
        if answer.ok:
            return
        # 400 "A branch called ... already exists": a retried commit that
        # landed, or a concurrent run; the caller checks the branch.
        if answer.status == 400 and "already exists" in answer.text:
            raise self._caller.refused(
                answer,
                what,
                fix=f"{change.branch} was created meanwhile: re-run promote to reuse it",
                kind=CommitConflict,
            )
        raise self._caller.refused(answer, what)

    async def find_change_request(self, *, branch: str, base: str) -> str | None:
        what = f"list open merge requests from {branch}"
        answer = await self._send(
            "GET",
            self._url("merge_requests"),
            what=what,
            params={"source_branch": branch, "target_branch": base, "state": "opened"},
        )
        if not answer.ok:
            raise self._caller.refused(answer, what)
        requests = answer.json()
        return str(requests[0]["web_url"]) if requests else None

    async def open_change_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> ChangeRequest:
        what = f"open a merge request from {branch} into {base}"
        answer = await self._send(
            "POST",
            self._url("merge_requests"),
            what=what,
            body={
                "source_branch": branch,
                "target_branch": base,
                "title": title,
                "description": body,
                "remove_source_branch": True,
            },
        )
        if answer.ok:
            return ChangeRequest(url=str(answer.json()["web_url"]), created=True)
        # 409 "Another open merge request already exists for this source branch".
        if answer.status == 409:
            existing = await self.find_change_request(branch=branch, base=base)
            if existing is not None:
                return ChangeRequest(url=existing, created=False)
        raise self._caller.refused(answer, what)
