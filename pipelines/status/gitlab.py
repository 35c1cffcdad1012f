"""GitLab (gitlab.com and self-managed) commit statuses.

``POST {api_url}/projects/{id}/statuses/{sha}``, where ``id`` is the numeric
project id or the URL-encoded full path. The token is a project, group or
personal access token with the ``api`` scope (a CI job token cannot set
statuses).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio

from pipelines.status._http import JsonPost, RetryPolicy, Sleep, post_with_retries
from pipelines.status.base import CommitStatus, State

DEFAULT_API_URL = "https://gitlab.com/api/v4"
# "pending" is posted when a pipeline starts, which GitLab calls "running"
# (its "pending" means queued and not started).
STATES: dict[State, str] = {"pending": "running", "success": "success", "failure": "failed"}


_CURRENT_STATE = re.compile(r"Cannot transition status via :\w+ from :(\w+)")


def _already_in(state: str) -> Callable[[int, str], bool]:
    """GitLab's 400 "Cannot transition status via :run from :running" means
    "nothing to do" only when the status already is the state we post; a
    refusal to turn a finished ``success`` into ``failed`` is a real failure."""

    def already(status_code: int, text: str) -> bool:
        current = _CURRENT_STATE.search(text) if status_code == 400 else None
        return current is not None and current.group(1) == state

    return already


@dataclass(frozen=True, kw_only=True)
class GitLabStatusClient:
    project: str  # numeric id or "group/sub/project"
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = field(default=anyio.sleep, repr=False, compare=False)
    provider: str = field(default="gitlab", init=False)

    def request_for(self, status: CommitStatus) -> JsonPost:
        body: dict[str, Any] = {
            "state": STATES[status.state],
            "name": status.context,
            "description": status.description,
        }
        if status.target_url is not None:
            body["target_url"] = status.target_url
        return JsonPost(
            url=f"{self.api_url.rstrip('/')}/projects/{quote(self.project, safe='')}"
            f"/statuses/{status.sha}",
            headers={"PRIVATE-TOKEN": self.token, "User-Agent": "portable-pipelines"},
            body=body,
            what=f"GitLab status {status.context}={status.state} on {status.sha[:7]}",
            already_done=_already_in(STATES[status.state]),
        )

    async def post(self, status: CommitStatus) -> None:
        await post_with_retries(
            self.request_for(status), secret=self.token, policy=self.retry, sleep=self.sleep
        )
