"""What every forge client of promotion shares: the Protocol, the data, the errors.

A promotion is a reviewed change: one commit on its own branch that pins a
digest in an overlay, and a pull request (GitHub) or merge request (GitLab)
against the base branch. The clients only speak to the forge; what to change
and when is decided in :mod:`pipelines.promotion.propose`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Protocol

from pipelines.errors import PipelinesError
from pipelines.status._http import (
    HttpAnswer,
    HttpRequest,
    RetriesExhausted,
    RetryPolicy,
    Sleep,
    redact,
    send_with_retries,
)

log = logging.getLogger("pipelines.promotion")


class PromotionError(PipelinesError):
    """The forge refused or did not answer; the message says where and what to do."""

    def __init__(self, *, where: str, problem: str, fix: str) -> None:
        self.where = where
        self.problem = problem
        self.fix = fix
        super().__init__(f"{where}: {problem}\n  fix: {fix}")


class CommitConflict(PromotionError):
    """The commit was refused because the branch or the file moved under it.

    Also what a retried commit sees when its first attempt did land, so the
    caller checks the branch before giving up.
    """


class AlreadyPromoted(PipelinesError):
    """The base branch already pins that digest: there is nothing to review."""

    def __init__(self, *, path: str, base_branch: str, image: str, digest: str) -> None:
        self.path = path
        self.base_branch = base_branch
        self.digest = digest
        super().__init__(
            f"{path} on {base_branch} already pins {image} to {digest}: nothing to promote, "
            "so no branch, commit or pull request was created\n"
            "  fix: check the digest; to deploy that digest again, sync the environment's "
            "Application in Argo CD"
        )


@dataclass(frozen=True, kw_only=True)
class RemoteFile:
    path: str
    # The branch it was read from.
    ref: str
    text: str
    # What the forge needs to update it safely: GitHub's blob sha; None for GitLab.
    version: str | None = None


@dataclass(frozen=True, kw_only=True)
class FileChange:
    """One commit that replaces the whole text of one file."""

    path: str
    text: str
    message: str
    branch: str
    # The file as last read on the branch the commit starts from.
    previous: RemoteFile
    # Create ``branch`` from this branch first; None when ``branch`` exists.
    start_branch: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChangeRequest:
    """A pull request (GitHub) or merge request (GitLab)."""

    url: str
    # False when an open one for the branch already existed.
    created: bool


class ChangeRequestClient(Protocol):
    """Reads files, commits one file on a branch, opens the pull/merge request.

    Raises :class:`PromotionError` (with the token redacted) when the forge
    refuses, and after retries when it does not answer.
    """

    @property
    def provider(self) -> str: ...

    @property
    def where(self) -> str:
        """The repository or project, for messages: "GitHub repository acme/hello"."""
        ...

    async def read_file(self, path: str, *, ref: str) -> RemoteFile: ...

    async def branch_exists(self, branch: str) -> bool: ...

    async def commit_file(self, change: FileChange) -> None:
        """Commit ``change``; :class:`CommitConflict` when the branch or file moved."""
        ...

    async def find_change_request(self, *, branch: str, base: str) -> str | None:
        """The URL of the open pull/merge request from ``branch`` into ``base``, if any."""
        ...

    async def open_change_request(
        self, *, branch: str, base: str, title: str, body: str
    ) -> ChangeRequest: ...


@dataclass(frozen=True, kw_only=True)
class ForgeCaller:
    """Sends one request with retries; turns every failure into a redacted PromotionError."""

    provider: str
    where: str
    token: str = field(repr=False)
    retry: RetryPolicy
    sleep: Sleep = field(repr=False)

    async def send(self, request: HttpRequest) -> HttpAnswer:
        try:
            return await send_with_retries(
                request, secret=self.token, policy=self.retry, sleep=self.sleep, logger=log
            )
        except RetriesExhausted as exhausted:
            raise self.error(
                f"{request.what}: no answer after {exhausted.attempts} attempts; last: "
                f"{exhausted.last_problem}",
                "check the forge's status page and the API URL, then re-run promote: it "
                "reuses the branch and the pull/merge request it finds",
            ) from None

    def error(
        self, problem: str, fix: str, *, kind: type[PromotionError] = PromotionError
    ) -> PromotionError:
        return kind(
            where=redact(self.where, self.token),
            problem=redact(problem, self.token),
            fix=redact(fix, self.token),
        )

    def refused(
        self,
        answer: HttpAnswer,
        what: str,
        *,
        fix: str | None = None,
        kind: type[PromotionError] = PromotionError,
    ) -> PromotionError:
        problem = f"{what}: refused with HTTP {answer.status} {answer.excerpt()}".rstrip()
        return self.error(problem, fix or fix_for(answer.status, self.provider), kind=kind)


# What a token must be allowed, per forge, for the fix of a 403.
PERMISSIONS = {
    "github": "Contents: write and Pull requests: write (in GitHub Actions, also allow "
    "GitHub Actions to create pull requests in the repository settings)",
    "gitlab": "the api scope and at least the Developer role",
}


def fix_for(status: int, provider: str) -> str:
    if status == 401:
        return "the token was rejected: check that it is current and passed as the token"
    if status == 403:
        return (
            f"the token may not do this: it needs {PERMISSIONS[provider]}, and promote "
            "branches must not be protected against it"
        )
    if status == 404:
        key = "repository" if provider == "github" else "project"
        return (
            f"check [status] {key} and api_url, the base branch, and that the token can see "
            f"the {key} (a forge answers 404 for what a token cannot see)"
        )
    return "see the answer above"
