"""What every forge client shares: the data it is given, the Protocol slices, the registry entry.

A use case depends on the narrow slice it needs (:class:`CommitStatuses`,
:class:`ChangeRequests`, :class:`BranchProtection`); a forge client
implements all of them (:class:`Forge`). The data crossing that boundary
(a commit status, a file change, a protection policy) is defined here, below
both sides, so the clients never import the use cases built on them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from pipelines.errors import InputError
from pipelines.forge.errors import Purpose
from pipelines.forge.http import RetryPolicy, Sleep
from pipelines.values import CommitId, ref_problem

if TYPE_CHECKING:
    # Only for annotations: pipelines.config.forge imports this package for its defaults.
    from pipelines.config.forge import ForgeConfig

# --- commit statuses ---------------------------------------------------------------------------

# The project's vocabulary; each client maps it to its API's own words.
State = Literal["pending", "success", "failure"]
STATES: tuple[State, ...] = ("pending", "success", "failure")
# GitHub rejects longer descriptions with a 422; GitLab accepts them, so one limit serves both.
MAX_DESCRIPTION = 140
_URL = re.compile(r"https?://[^\s/]+\S*")


@dataclass(frozen=True, kw_only=True)
class CommitStatus:
    sha: CommitId
    state: State
    # The check's name, e.g. "pipelines/pre-merge": branch protection requires it by name.
    context: str
    description: str = ""
    # A link to the CI run.
    target_url: str | None = None

    def __post_init__(self) -> None:
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
        if self.target_url is not None and not _URL.fullmatch(self.target_url):
            raise InputError(
                argument="target-url",
                problem=f"{self.target_url!r} is not an http(s) URL",
                fix="pass the CI run's URL, e.g. $CI_PIPELINE_URL or $BUILD_URL",
            )
        if len(self.description) > MAX_DESCRIPTION:
            object.__setattr__(self, "description", self.description[: MAX_DESCRIPTION - 1] + "…")


# --- files, branches, change requests ----------------------------------------------------------


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


# --- branch protection -------------------------------------------------------------------------

DEFAULT_BRANCH = "main"
DEFAULT_REQUIRED_STATUS = "pipelines/pre-merge"


@dataclass(frozen=True, kw_only=True)
class ProtectionPolicy:
    """What the release branch requires before a merge."""

    branch: str = DEFAULT_BRANCH
    required_status: str = DEFAULT_REQUIRED_STATUS
    approvals: int = 1
    code_owner_review: bool = True

    def __post_init__(self) -> None:
        problem = ref_problem(self.branch)
        if problem is not None:
            # Wildcards (* ? [) are among what git refuses: one branch, named exactly.
            raise InputError(
                argument="branch",
                problem=f"{self.branch!r} {problem}",
                fix="name the release branch exactly, e.g. --branch main (no wildcards)",
            )
        if not self.required_status.strip():
            raise InputError(
                argument="required-status",
                problem="the required status is empty",
                fix="pass the pre-merge status context, e.g. "
                f"--required-status {DEFAULT_REQUIRED_STATUS}",
            )
        if self.approvals < 1:
            raise InputError(
                argument="approvals",
                problem=f"{self.approvals} approvals would let a change merge unreviewed",
                fix="pass --approvals 1 or more",
            )


# --- the slices a use case depends on ----------------------------------------------------------
# Every method raises ForgeError (the token redacted) when the forge refuses,
# and after retries when it does not answer.


class CommitStatuses(Protocol):
    async def post_status(self, status: CommitStatus) -> None:
        """Post one commit status (posting the state a status already has is not an error)."""
        ...


class ChangeRequests(Protocol):
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
    ) -> ChangeRequest:
        """Open it, or report the one already open for ``branch`` (``created=False``)."""
        ...


class BranchProtection(Protocol):
    async def protect_branch(self, policy: ProtectionPolicy) -> list[str]:
        """Apply ``policy`` (idempotent); one line per setting made."""
        ...


class Forge(CommitStatuses, ChangeRequests, BranchProtection, Protocol):
    """Everything the pipelines ask of a forge."""

    @property
    def provider(self) -> str: ...


# --- the registry entry ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Locator:
    """The config key that says where on a forge the service lives, and its grammar."""

    key: Literal["repository", "project"]
    pattern: re.Pattern[str]
    example: str
    # "a GitHub owner/name", for messages.
    description: str

    def problem(self, value: str) -> str | None:
        """Why ``value`` does not name a repository or project here, or None."""
        return None if self.pattern.fullmatch(value) else f"{value!r} is not {self.description}"


# Builds a client from the parsed config and a stripped token.
Connect = Callable[["ForgeConfig", str, RetryPolicy, Sleep], Forge]


@dataclass(frozen=True, kw_only=True)
class ForgeKind:
    """One forge as the registry knows it: what config, errors and the CLI need of it."""

    # "GitHub", for messages.
    title: str
    default_api_url: str
    locator: Locator
    # What a token must be allowed, per purpose: for missing-token and refusal fixes.
    permissions: Mapping[Purpose, str]
    # The environment variable a token usually comes from, per purpose.
    token_variables: Mapping[Purpose, str]
    connect: Connect
