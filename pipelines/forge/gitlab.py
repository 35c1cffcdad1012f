"""GitLab (gitlab.com and self-managed): statuses, files, branches, merge requests, protection.

REST API v4 below ``/projects/:id``, where ``:id`` is the numeric project id or
the URL-encoded full path (every variable part is one encoded path segment):

- ``POST statuses/:sha`` posts a commit status;
- ``GET repository/files/:file_path/raw?ref=`` reads a file;
- ``GET repository/branches/:branch`` tells whether a branch exists;
- ``POST repository/commits`` with ``start_branch`` creates the branch and the
  commit in one step (nothing half-done is left behind when it is refused);
- ``GET``/``POST merge_requests`` finds or opens a merge request;
- ``GET``/``POST``/``PATCH protected_branches`` protect a branch, or tighten a
  weaker protection (push entries removed by id with ``_destroy``), then read
  it back; ``PUT`` the project, ``approval_rules`` and ``approvals`` do the rest
  (approval rules are a GitLab Premium feature).

Every list is read page by page (``per_page=100``, the ``Link``/``x-next-page``
headers), so a project with many rules is seen whole.

A CI job token can do none of this: the token is a project, group or
personal access token with the ``api`` scope.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
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
        what = f"list open merge requests from {branch}"
        request = Request(
            method="GET",
            url=self._url("merge_requests"),
            what=what,
            params={"source_branch": branch, "target_branch": base, "state": "opened"},
        )
        found = await self._api.pages(request, purpose="promotion")
        return self._api.item_text(found[0], "web_url", what=what) if found else None

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
            url = self._api.field(answer, what, ("web_url",), str)
            return ChangeRequest(url=url, created=True)
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

    async def _rules(self, what: str) -> list[Mapping[str, Any]]:
        """Every protected-branch rule of the project (exact names and wildcards)."""
        request = Request(method="GET", url=self._url("protected_branches"), what=what)
        return await self._api.pages(request, purpose="protection")

    async def _protect(self, policy: ProtectionPolicy) -> tuple[int, str]:
        """Protect the branch, or bring its protection up to the policy; its id and what was done.

        Fails rather than report success while anyone but "No one" may push
        to the branch or force-push it: through its own rule, or through a
        wildcard rule that also matches it (GitLab applies the most
        permissive rule that matches).
        """
        what = f"protection of {policy.branch}"
        rules = await self._rules(what)
        rule = next((r for r in rules if r.get("name") == policy.branch), None)
        if rule is None:
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
            done = "protected: no direct push, developers merge"
            if created.status == 409:
                # A concurrent run or a retried create protected it meanwhile.
                rule = await self._rule(policy.branch, what)
            else:
                rule = self._object(created, what, "a protected branch object")
        else:
            done = "already protected as required: nothing changed"
        fix = _converge(rule)
        if fix:
            await self._call(
                "PATCH",
                "protected_branches",
                policy.branch,
                what=what,
                purpose="protection",
                body=fix,
            )
            rule = await self._rule(policy.branch, what)
            done = "protection tightened: " + ", ".join(_changes(fix))
        weak = _weaknesses(rule)
        if weak:
            raise self._api.error(
                f"{what}: the branch is still protected more weakly than required after the "
                f"update: {'; '.join(weak)}",
                f"set Allowed to push and merge to No one / Developers for {policy.branch} and "
                "turn force push off in Settings > Repository > Protected branches (or "
                "unprotect the branch), then run this again; older GitLab versions ignore "
                "access-level updates through the API",
            )
        for other in rules:
            name = str(other.get("name", ""))
            if name != policy.branch and "*" in name and fnmatchcase(policy.branch, name):
                weak = _weaknesses(other)
                if weak:
                    raise self._api.error(
                        f"{what}: the wildcard rule {name!r} also matches {policy.branch} and "
                        f"allows more ({'; '.join(weak)}); GitLab applies the most permissive "
                        "matching rule",
                        f"tighten or remove the protected-branch rule {name!r}, then run this "
                        "again",
                    )
        rule_id = rule.get("id")
        if not isinstance(rule_id, int) or isinstance(rule_id, bool):
            raise self._api.error(
                f"{what}: unexpected answer: the protected branch has no numeric id",
                "check that the API URL is GitLab's REST API (.../api/v4), then run again",
            )
        return rule_id, done

    async def _rule(self, branch: str, what: str) -> dict[str, Any]:
        """The protected-branch rule of ``branch``, as GitLab holds it now."""
        answer = await self._call(
            "GET", "protected_branches", branch, what=what, purpose="protection"
        )
        return self._object(answer, what, "a protected branch object")

    def _object(self, answer: Answer, what: str, expected: str) -> dict[str, Any]:
        document = self._api.document(answer, what)
        if not isinstance(document, dict):
            raise self._api.unexpected(answer, what, expected)
        return document

    async def _approval_rule(self, policy: ProtectionPolicy, branch_id: int) -> str:
        what = f"approval rule {APPROVAL_RULE!r}"
        body = {
            "name": APPROVAL_RULE,
            "approvals_required": policy.approvals,
            "protected_branch_ids": [branch_id],
        }
        listing = Request(method="GET", url=self._url("approval_rules"), what=what)
        rules = await self._api.pages(listing, purpose="protection", fixes=_PREMIUM_ONLY)
        existing = [rule for rule in rules if rule.get("name") == APPROVAL_RULE]
        if existing:
            rule = existing[0]
            rule_id = rule.get("id")
            if not isinstance(rule_id, int) or isinstance(rule_id, bool):
                raise self._api.error(
                    f"{what}: unexpected answer: the approval rule has no numeric id",
                    "check that the API URL is GitLab's REST API (.../api/v4), then run again",
                )
            branches = rule.get("protected_branches")
            ids = (
                {b.get("id") for b in branches if isinstance(b, dict)}
                if isinstance(branches, list)
                else set()
            )
            if rule.get("approvals_required") == policy.approvals and ids == {branch_id}:
                return f"approval rule already requires {policy.approvals} approval(s)"
            await self._approvals("PUT", "approval_rules", str(rule_id), what=what, body=body)
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


def _pushers(rule: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    levels = rule.get("push_access_levels")
    return (
        [level for level in levels if isinstance(level, dict)] if isinstance(levels, list) else []
    )


def _is_no_one(level: Mapping[str, Any]) -> bool:
    """The one push entry the policy allows: access level 0, for no user, group or deploy key."""
    grantees = ("user_id", "group_id", "deploy_key_id")
    return level.get("access_level") == NO_ACCESS and not any(level.get(g) for g in grantees)


def _describe(level: Mapping[str, Any]) -> str:
    described = level.get("access_level_description")
    return str(described) if described else f"access level {level.get('access_level')}"


def _weaknesses(rule: Mapping[str, Any]) -> list[str]:
    """What a protected-branch rule allows beyond the policy, in words."""
    found = [f"{_describe(level)} may push" for level in _pushers(rule) if not _is_no_one(level)]
    if not any(_is_no_one(level) for level in _pushers(rule)):
        found.append("push access is not set to No one")
    if rule.get("allow_force_push") is not False:
        found.append("force push is allowed")
    return found


def _converge(rule: Mapping[str, Any]) -> dict[str, Any]:
    """The PATCH body that brings ``rule`` to the policy; empty when it already is.

    Entries are removed by id (``_destroy``): without an id GitLab adds an
    entry instead of replacing one.
    """
    pushers = _pushers(rule)
    changes: list[dict[str, Any]] = [
        {"id": level["id"], "_destroy": True}
        for level in pushers
        if not _is_no_one(level) and "id" in level
    ]
    if not any(_is_no_one(level) for level in pushers):
        changes.append({"access_level": NO_ACCESS})
    body: dict[str, Any] = {"allowed_to_push": changes} if changes else {}
    if rule.get("allow_force_push") is not False:
        body["allow_force_push"] = False
    return body


def _changes(body: Mapping[str, Any]) -> list[str]:
    said = []
    if "allowed_to_push" in body:
        said.append("push access set to No one")
    if "allow_force_push" in body:
        said.append("force push turned off")
    return said


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
