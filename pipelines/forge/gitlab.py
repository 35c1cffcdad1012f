"""GitLab (gitlab.com and self-managed): statuses, files, branches, merge requests, protection.

REST API v4 below ``/projects/:id``, where ``:id`` is the numeric project id or
the URL-encoded full path (every variable part is one encoded path segment):

- ``POST statuses/:sha`` posts a commit status;
- ``GET repository/files/:file_path/raw?ref=`` reads a file;
- ``GET repository/branches/:branch`` tells whether a branch exists;
- ``POST repository/commits`` with ``start_branch`` creates the branch and the
  commit in one step (nothing half-done is left behind when it is refused);
- ``GET``/``POST merge_requests`` finds or opens a merge request;
- ``POST``/``PATCH protected_branches``, ``PUT`` the project, ``approval_rules`` and
  ``approvals`` protect a branch (approval rules are a GitLab Premium feature).

A CI job token can do none of this: the token is a project, group or
personal access token with the ``api`` scope.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
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

log = logging.getLogger("pipelines.forge")

DEFAULT_API_URL = "https://gitlab.com/api/v4"
# "pending" is posted when a pipeline starts, which GitLab calls "running"
# (its "pending" means queued and not started).
STATES: dict[State, str] = {"pending": "running", "success": "success", "failure": "failed"}
# The name of the approval rule this module owns (found again by name).
APPROVAL_RULE = "release-branch-review"
# GitLab access levels: 0 no one, 30 Developer, 40 Maintainer.
NO_ACCESS = 0
DEVELOPER = 30

PERMISSIONS: dict[Purpose, str] = {
    "statuses": "the api scope (a project access token; CI_JOB_TOKEN cannot set statuses)",
    "promotion": "the api scope and at least the Developer role (a project access token; "
    "CI_JOB_TOKEN cannot commit through the API)",
    "protection": "the api scope and the Maintainer role",
}
TOKEN_VARIABLES: dict[Purpose, str] = {
    "statuses": "GITLAB_STATUS_TOKEN",
    "promotion": "GITLAB_TOKEN",
    "protection": "GITLAB_TOKEN",
}
LOCATOR = Locator(
    key="project",
    pattern=re.compile(r"\d+|[A-Za-z0-9_.][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+"),
    example="group/project",
    description="a GitLab project id or full path",
)

_PREMIUM = (
    "approval rules need GitLab Premium or Ultimate; on Free, require approvals by convention "
    "and keep the protected branch and pipeline settings"
)
_PREMIUM_ONLY = {403: _PREMIUM, 404: _PREMIUM}

_CURRENT_STATE = re.compile(r"Cannot transition status via :\w+ from :(\w+)")


def already_in(state: str, answer: Answer) -> bool:
    """GitLab's 400 "Cannot transition status via :run from :running" means
    "nothing to do" only when the status already is the state we post; a
    refusal to turn a finished ``success`` into ``failed`` is a real failure."""
    current = _CURRENT_STATE.search(answer.text) if answer.status == 400 else None
    return current is not None and current.group(1) == state


@dataclass(frozen=True, kw_only=True)
class GitLabForge:
    project: str  # numeric id or "group/sub/project"
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = field(default=default_sleep, repr=False, compare=False)
    provider: str = field(default="gitlab", init=False)

    @property
    def where(self) -> str:
        return f"GitLab project {self.project}"

    @property
    def _api(self) -> Connection:
        return Connection(
            where=self.where,
            headers={"PRIVATE-TOKEN": self.token},
            token=self.token,
            permissions=PERMISSIONS,
            key=LOCATOR.key,
            retry=self.retry,
            sleep=self.sleep,
        )

    def _url(self, *parts: str) -> str:
        segments = ["projects", self.project, *parts]
        return "/".join([self.api_url.rstrip("/"), *(quote(s, safe="") for s in segments)])

    async def _call(
        self,
        method: str,
        *parts: str,
        what: str,
        purpose: Purpose,
        body: dict[str, Any] | None = None,
        params: dict[str, str] | None = None,
        accept: tuple[int, ...] = (),
        fixes: Mapping[int, str] | None = None,
    ) -> Answer:
        """A success, or a refusal in ``accept``; any other answer raises ForgeError."""
        request = Request(method=method, url=self._url(*parts), what=what, body=body, params=params)
        return await self._api.call(request, purpose=purpose, accept=accept, fixes=fixes)

    # --- commit statuses ---------------------------------------------------------------------

    async def post_status(self, status: CommitStatus) -> None:
        what = f"status {status.context}={status.state} on {status.sha.short}"
        state = STATES[status.state]
        body: dict[str, Any] = {
            "state": state,
            "name": status.context,
            "description": status.description,
        }
        if status.target_url is not None:
            body["target_url"] = status.target_url
        answer = await self._call(
            "POST",
            "statuses",
            status.sha.value,
            what=what,
            purpose="statuses",
            body=body,
            accept=(400,),
        )
        if answer.ok:
            return
        if already_in(state, answer):
            log.info("%s: %s: already in that state", self.where, what)
            return
        raise self._api.refused(answer, what, purpose="statuses")

    # --- files, branches, merge requests -----------------------------------------------------

    async def read_file(self, path: str, *, ref: str) -> RemoteFile:
        answer = await self._call(
            "GET",
            "repository",
            "files",
            path,
            "raw",
            what=f"read {path} on {ref}",
            purpose="promotion",
            params={"ref": ref},
            accept=(404,),
        )
        if answer.status == 404:
            raise self._api.error(
                f"{path} was not found on branch {ref} (HTTP 404 {self._api.excerpt(answer)})",
                f"check --base-branch={ref}, that {path} exists there, [forge] project and "
                "api_url, and that the token can read the project (GitLab answers 404 for a "
                "project the token cannot see)",
            )
        return RemoteFile(path=path, ref=ref, text=answer.text)

    async def branch_exists(self, branch: str) -> bool:
        answer = await self._call(
            "GET",
            "repository",
            "branches",
            branch,
            what=f"read branch {branch}",
            purpose="promotion",
            accept=(404,),
        )
        return answer.status != 404

    async def commit_file(self, change: FileChange) -> None:
        body: dict[str, Any] = {
            "branch": change.branch,
            "commit_message": change.message,
            "actions": [{"action": "update", "file_path": change.path, "content": change.text}],
        }
        if change.start_branch is not None:
            body["start_branch"] = change.start_branch
        what = f"commit {change.path} on {change.branch}"
        answer = await self._call(
            "POST",
            "repository",
            "commits",
            what=what,
            purpose="promotion",
            body=body,
            accept=(400,),
        )
        if answer.ok:
            return
        # 400 "A branch called ... already exists": a retried commit that
        # landed, or a concurrent run; the caller checks the branch.
        if "already exists" in answer.text:
            raise self._api.refused(
                answer,
                what,
                purpose="promotion",
                fix=f"{change.branch} was created meanwhile: re-run promote to reuse it",
                kind=CommitConflict,
            )
        raise self._api.refused(answer, what, purpose="promotion")

    async def find_change_request(self, *, branch: str, base: str) -> str | None:
        answer = await self._call(
            "GET",
            "merge_requests",
            what=f"list open merge requests from {branch}",
            purpose="promotion",
            params={"source_branch": branch, "target_branch": base, "state": "opened"},
        )
        requests = answer.json()
        return str(requests[0]["web_url"]) if requests else None

    async def open_change_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> ChangeRequest:
        what = f"open a merge request from {branch} into {base}"
        answer = await self._call(
            "POST",
            "merge_requests",
            what=what,
            purpose="promotion",
            body={
                "source_branch": branch,
                "target_branch": base,
                "title": title,
                "description": body,
                "remove_source_branch": True,
            },
            accept=(409,),
        )
        if answer.ok:
            return ChangeRequest(url=str(answer.json()["web_url"]), created=True)
        # 409 "Another open merge request already exists for this source branch".
        existing = await self.find_change_request(branch=branch, base=base)
        if existing is not None:
            return ChangeRequest(url=existing, created=False)
        raise self._api.refused(answer, what, purpose="promotion")

    # --- branch protection -------------------------------------------------------------------

    async def _approvals(
        self, method: str, *parts: str, what: str, body: dict[str, Any] | None = None
    ) -> Answer:
        """A call of the approval API, which GitLab Free lacks (it answers 403 or 404)."""
        return await self._call(
            method, *parts, what=what, purpose="protection", body=body, fixes=_PREMIUM_ONLY
        )

    async def _protect(self, policy: ProtectionPolicy) -> tuple[int, str]:
        """Protect the branch; the protected branch's id and what was done."""
        what = f"protection of {policy.branch}"
        created = await self._call(
            "POST",
            "protected_branches",
            what=what,
            purpose="protection",
            body={
                "name": policy.branch,
                "push_access_level": NO_ACCESS,
                "merge_access_level": DEVELOPER,
                "allow_force_push": False,
            },
            accept=(409,),
        )
        if created.ok:
            return int(created.json()["id"]), "protected: no direct push, developers merge"
        # Already protected: GitLab answers 409. Turn force pushes off and keep the
        # access levels someone chose (changing them needs their ids).
        updated = await self._call(
            "PATCH",
            "protected_branches",
            policy.branch,
            what=what,
            purpose="protection",
            body={"allow_force_push": False},
        )
        return int(updated.json()["id"]), (
            "already protected: force push turned off, existing push/merge access kept "
            "(review them: nobody should push directly)"
        )

    async def _approval_rule(self, policy: ProtectionPolicy, branch_id: int) -> str:
        what = f"approval rule {APPROVAL_RULE!r}"
        body = {
            "name": APPROVAL_RULE,
            "approvals_required": policy.approvals,
            "protected_branch_ids": [branch_id],
        }
        rules = (await self._approvals("GET", "approval_rules", what=what)).json()
        existing = [
            rule
            for rule in (rules if isinstance(rules, list) else [])
            if rule.get("name") == APPROVAL_RULE
        ]
        if existing:
            rule_id = str(int(existing[0]["id"]))
            await self._approvals("PUT", "approval_rules", rule_id, what=what, body=body)
            return f"approval rule updated: {policy.approvals} approval(s)"
        await self._approvals("POST", "approval_rules", what=what, body=body)
        return f"approval rule created: {policy.approvals} approval(s)"

    async def protect_branch(self, policy: ProtectionPolicy) -> list[str]:
        branch_id, protected = await self._protect(policy)
        await self._call(
            "PUT",
            what="merge settings",
            purpose="protection",
            body={
                "only_allow_merge_if_pipeline_succeeds": True,
                "allow_merge_on_skipped_pipeline": False,
            },
        )
        rule = await self._approval_rule(policy, branch_id)
        # An approval given before a new push no longer counts; authors do not
        # approve their own changes.
        await self._approvals(
            "POST",
            "approvals",
            what="approval settings",
            body={"reset_approvals_on_push": True, "merge_requests_author_approval": False},
        )
        return [
            f"{self.project}@{policy.branch}: {protected}",
            f"{self.project}: merges only when the pipeline (with {policy.required_status!r}) "
            "succeeds",
            f"{self.project}@{policy.branch}: {rule}; approvals reset on push, "
            "authors cannot approve",
        ]


def connect(config: ForgeConfig, token: str, retry: RetryPolicy, sleep: Sleep) -> GitLabForge:
    if config.project is None:
        raise ValueError("a gitlab [forge] needs `project`; the config parser checks it")
    return GitLabForge(
        project=config.project, token=token, api_url=config.api_url, retry=retry, sleep=sleep
    )


KIND = ForgeKind(
    title="GitLab",
    default_api_url=DEFAULT_API_URL,
    locator=LOCATOR,
    permissions=PERMISSIONS,
    token_variables=TOKEN_VARIABLES,
    connect=connect,
)
