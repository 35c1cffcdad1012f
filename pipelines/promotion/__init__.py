"""Promotion as a reviewed change: a branch, one commit pinning a digest, a pull/merge request.

The core behind ``dagger call promote``. One client per forge behind
:class:`ChangeRequestClient`, chosen from the ``[status]`` config (the same
forge, repository/project and API URL the commit statuses use) through
:data:`CLIENTS`; :func:`propose_promotion` does the steps.

The token is a plain ``str`` at this layer: the Dagger function reads it from
its Secret at the last moment. It is kept out of ``repr``, errors and logs.
"""

from __future__ import annotations

from collections.abc import Callable

from pipelines.config import CONFIG_FILE
from pipelines.config.status import StatusConfig
from pipelines.errors import ConfigError, InputError
from pipelines.promotion.base import (
    PERMISSIONS,
    AlreadyPromoted,
    ChangeRequest,
    ChangeRequestClient,
    CommitConflict,
    FileChange,
    PromotionError,
    RemoteFile,
)
from pipelines.promotion.github import GitHubChangeRequests
from pipelines.promotion.gitlab import GitLabChangeRequests
from pipelines.promotion.propose import (
    ProposedChange,
    change_request_body,
    commit_message,
    promotion_branch,
    propose_promotion,
)
from pipelines.status._http import RetryPolicy

__all__ = [
    "CLIENTS",
    "AlreadyPromoted",
    "ChangeRequest",
    "ChangeRequestClient",
    "CommitConflict",
    "FileChange",
    "GitHubChangeRequests",
    "GitLabChangeRequests",
    "PromotionError",
    "ProposedChange",
    "RemoteFile",
    "RetryPolicy",
    "change_request_body",
    "commit_message",
    "make_change_request_client",
    "promotion_branch",
    "propose_promotion",
]

# Where a token usually comes from, and what it must be allowed, for the error saying it is missing.
TOKEN_HINTS = {
    "github": f"env://GITHUB_TOKEN (a token with {PERMISSIONS['github']})",
    "gitlab": f"env://GITLAB_TOKEN (a project access token with {PERMISSIONS['gitlab']}; "
    "CI_JOB_TOKEN cannot commit)",
}


def _github(config: StatusConfig, token: str, retry: RetryPolicy) -> ChangeRequestClient:
    if config.repository is None:
        raise ValueError("[status] for github needs `repository`; parse_status checks it")
    return GitHubChangeRequests(
        repository=config.repository, token=token, api_url=config.api_url, retry=retry
    )


def _gitlab(config: StatusConfig, token: str, retry: RetryPolicy) -> ChangeRequestClient:
    if config.project is None:
        raise ValueError("[status] for gitlab needs `project`; parse_status checks it")
    return GitLabChangeRequests(
        project=config.project, token=token, api_url=config.api_url, retry=retry
    )


CLIENTS: dict[str, Callable[[StatusConfig, str, RetryPolicy], ChangeRequestClient]] = {
    "github": _github,
    "gitlab": _gitlab,
}


def make_change_request_client(
    config: StatusConfig | None,
    token: str | None,
    *,
    argument: str = "token",
    retry: RetryPolicy | None = None,
    file: str = CONFIG_FILE,
) -> ChangeRequestClient:
    """The client for the forge named in ``[status]``; fails here, before any request."""
    if config is None:
        raise ConfigError(
            file=file,
            key="status",
            problem="promote opens a pull/merge request, but no forge is configured",
            fix='add [status] with `provider = "github"` and `repository = "owner/name"` '
            '(or `provider = "gitlab"` and `project = "group/project"`)',
        )
    if token is None or not token.strip():
        raise InputError(
            argument=argument,
            problem=f"promote opens a change on {config.provider}, but no token was given",
            fix=f"pass --{argument}={TOKEN_HINTS[config.provider]}",
        )
    return CLIENTS[config.provider](config, token.strip(), retry or RetryPolicy())
