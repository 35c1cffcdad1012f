"""Commit statuses: pending when a pipeline starts, success or failure at its end.

One client per forge behind :class:`CommitStatusClient`, chosen from the
``[status]`` config through :data:`CLIENTS`. Jenkins jobs report to the
forge that hosts the code, through the same clients.

The token is a plain ``str`` at this layer: the Dagger function reads it from
its Secret at the last moment. It is kept out of ``repr``, errors and logs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipelines.config.status import StatusConfig
from pipelines.errors import InputError
from pipelines.status._http import RetryPolicy
from pipelines.status.base import (
    MAX_DESCRIPTION,
    CommitStatus,
    CommitStatusClient,
    State,
    StatusPostError,
)
from pipelines.status.github import GitHubStatusClient
from pipelines.status.gitlab import GitLabStatusClient
from pipelines.stepgraph import PipelineResult, StepStatus

__all__ = [
    "CLIENTS",
    "MAX_DESCRIPTION",
    "CommitStatus",
    "CommitStatusClient",
    "GitHubStatusClient",
    "GitLabStatusClient",
    "RetryPolicy",
    "State",
    "StatusPostError",
    "final_status",
    "make_status_client",
]

# The CI variables a token usually comes from, for the error that says it is missing.
TOKEN_HINTS = {
    "github": "--status-token=env://GITHUB_TOKEN (a token with commit statuses: write)",
    "gitlab": "--status-token=env://GITLAB_STATUS_TOKEN (a project access token with api scope; "
    "CI_JOB_TOKEN cannot set statuses)",
}


def _github(config: StatusConfig, token: str, retry: RetryPolicy) -> CommitStatusClient:
    if config.repository is None:
        raise ValueError("[status] for github needs `repository`; parse_status checks it")
    return GitHubStatusClient(
        repository=config.repository, token=token, api_url=config.api_url, retry=retry
    )


def _gitlab(config: StatusConfig, token: str, retry: RetryPolicy) -> CommitStatusClient:
    if config.project is None:
        raise ValueError("[status] for gitlab needs `project`; parse_status checks it")
    return GitLabStatusClient(
        project=config.project, token=token, api_url=config.api_url, retry=retry
    )


CLIENTS: dict[str, Callable[[StatusConfig, str, RetryPolicy], CommitStatusClient]] = {
    "github": _github,
    "gitlab": _gitlab,
}


def make_status_client(
    config: StatusConfig,
    token: str | None,
    *,
    argument: str = "status-token",
    retry: RetryPolicy | None = None,
) -> CommitStatusClient:
    """The client for the configured forge; a missing token fails here, before any work."""
    if token is None or not token.strip():
        raise InputError(
            argument=argument,
            problem=f"[status] reports to {config.provider}, but no token was given",
            fix=f"pass {TOKEN_HINTS[config.provider]}, or remove [status] to skip statuses",
        )
    return CLIENTS[config.provider](config, token.strip(), retry or RetryPolicy())


def final_status(
    result: PipelineResult[Any], *, sha: str, context: str, target_url: str | None = None
) -> CommitStatus:
    """The status that closes a run: success only when every step passed."""
    state: State = "success" if result.ok else "failure"
    if result.ok:
        description = f"{result.name}: all {len(result.steps)} steps passed"
    elif result.cancelled:
        description = f"{result.name}: cancelled"
    else:
        failed = result.with_status(StepStatus.FAILED)
        description = (
            f"{result.name}: failed: {', '.join(failed)}"
            if failed
            else f"{result.name}: did not finish"
        )
    return CommitStatus(
        sha=sha, state=state, context=context, description=description, target_url=target_url
    )
