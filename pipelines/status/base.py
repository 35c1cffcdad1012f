"""What every commit-status client shares: the status, the Protocol, the errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Protocol

from pipelines.errors import InputError, PipelinesError
from pipelines.values import CommitId

# The project's vocabulary; each client maps it to its API's own words.
State = Literal["pending", "success", "failure"]
STATES: tuple[State, ...] = ("pending", "success", "failure")
# GitHub rejects longer descriptions with a 422; GitLab accepts them, so one limit serves both.
MAX_DESCRIPTION = 140
_URL = re.compile(r"^https?://[^\s/]+\S*$")


class StatusPostError(PipelinesError):
    """A commit status could not be posted, after retries where retrying made sense."""


@dataclass(frozen=True, kw_only=True)
class CommitStatus:
    sha: str
    state: State
    # The check's name, e.g. "pipelines/pre-merge": branch protection requires it by name.
    context: str
    description: str = ""
    # A link to the CI run.
    target_url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", CommitId.parse(self.sha).value)
        if self.state not in STATES:
            raise InputError(
                argument="state",
                problem=f"unknown state {self.state!r}",
                fix="use one of " + ", ".join(STATES),
            )
        if not self.context.strip():
            raise InputError(
                argument="context",
                problem="the status context is empty",
                fix='name it, e.g. "pipelines/pre-merge"',
            )
        if self.target_url is not None and not _URL.match(self.target_url):
            raise InputError(
                argument="target-url",
                problem=f"{self.target_url!r} is not an http(s) URL",
                fix="pass the CI run's URL, e.g. $CI_PIPELINE_URL or $BUILD_URL",
            )
        if len(self.description) > MAX_DESCRIPTION:
            object.__setattr__(self, "description", self.description[: MAX_DESCRIPTION - 1] + "…")


class CommitStatusClient(Protocol):
    """Posts one commit status; raises :class:`StatusPostError` when it cannot."""

    @property
    def provider(self) -> str: ...

    async def post(self, status: CommitStatus) -> None: ...
