"""GitHub (and GitHub Enterprise) commit statuses.

``POST {api_url}/repos/{owner}/{repo}/statuses/{sha}``; the token needs
"Commit statuses: write" (fine-grained) or ``repo:status`` (classic). On
GitHub Enterprise Server the API URL is ``https://HOST/api/v3``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import anyio

from pipelines.status._http import JsonPost, RetryPolicy, Sleep, post_with_retries
from pipelines.status.base import CommitStatus, State

API_VERSION = "2022-11-28"
DEFAULT_API_URL = "https://api.github.com"
# GitHub's vocabulary happens to match ours; the map keeps the contract explicit.
STATES: dict[State, str] = {"pending": "pending", "success": "success", "failure": "failure"}


@dataclass(frozen=True, kw_only=True)
class GitHubStatusClient:
    repository: str  # owner/name
    token: str = field(repr=False)
    api_url: str = DEFAULT_API_URL
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Sleep = field(default=anyio.sleep, repr=False, compare=False)
    provider: str = field(default="github", init=False)

    def request_for(self, status: CommitStatus) -> JsonPost:
        owner, _, name = self.repository.partition("/")
        body: dict[str, Any] = {
            "state": STATES[status.state],
            "description": status.description,
            "context": status.context,
        }
        if status.target_url is not None:
            body["target_url"] = status.target_url
        return JsonPost(
            url=f"{self.api_url.rstrip('/')}/repos/{quote(owner, safe='')}/"
            f"{quote(name, safe='')}/statuses/{status.sha}",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": "portable-pipelines",
            },
            body=body,
            what=f"GitHub status {status.context}={status.state} on {status.sha[:7]}",
        )

    async def post(self, status: CommitStatus) -> None:
        await post_with_retries(
            self.request_for(status), secret=self.token, policy=self.retry, sleep=self.sleep
        )
