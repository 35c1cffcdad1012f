"""Everything that speaks HTTP to a forge (GitHub, GitLab): one layer, one registry.

- :mod:`pipelines.forge.http`: requests with retries, timeouts and redaction;
- :mod:`pipelines.forge.errors`: :class:`ForgeError` and the table that turns
  an HTTP status into a fix, per purpose;
- :mod:`pipelines.forge.base`: the data a client is given and the Protocol
  slices the use cases depend on (:class:`CommitStatuses`,
  :class:`ChangeRequests`, :class:`BranchProtection`; :class:`Forge` is all
  of them);
- one module per forge (:mod:`~pipelines.forge.github`,
  :mod:`~pipelines.forge.gitlab`), each one client class and its
  :class:`ForgeKind`, registered in :data:`FORGES`.

The use cases live elsewhere: :mod:`pipelines.statuses`,
:mod:`pipelines.promotion`, :mod:`pipelines.branch_protection`. The token is a
plain ``str`` at this layer (the Dagger function reads it from its Secret at
the last moment); it is kept out of ``repr``, errors and logs.

Adding a forge (Gitea, Bitbucket)
---------------------------------
1. Write ``pipelines/forge/<name>.py``: a frozen dataclass with every method
   of :class:`Forge` (send through :class:`~pipelines.forge.http.Connection`,
   which retries, redacts and words the errors), a ``connect`` function and a
   ``KIND = ForgeKind(...)`` with its title, default API URL, the config key
   naming the repository (:class:`Locator`), and per purpose the token's
   permissions and usual variable.
2. Add one line to :data:`FORGES` below.

``[forge] provider`` then accepts the name, the branch-protection CLI offers
it, and the errors speak of it. tests/integration/test_status_clients.py,
test_promotion.py and test_branch_protection.py show how a client is tested
against a real HTTP server on loopback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipelines.errors import InputError
from pipelines.forge import github, gitlab
from pipelines.forge.base import (
    MAX_DESCRIPTION,
    STATES,
    BranchProtection,
    ChangeRequest,
    ChangeRequests,
    CommitStatus,
    CommitStatuses,
    FileChange,
    Forge,
    ForgeKind,
    Locator,
    ProtectionPolicy,
    RemoteFile,
    State,
)
from pipelines.forge.errors import PURPOSES, CommitConflict, ForgeError, Purpose
from pipelines.forge.http import RetryPolicy, Sleep, default_sleep

if TYPE_CHECKING:
    from pipelines.config.forge import ForgeConfig

__all__ = [
    "FORGES",
    "MAX_DESCRIPTION",
    "PURPOSES",
    "STATES",
    "BranchProtection",
    "ChangeRequest",
    "ChangeRequests",
    "CommitConflict",
    "CommitStatus",
    "CommitStatuses",
    "FileChange",
    "Forge",
    "ForgeError",
    "ForgeKind",
    "Locator",
    "ProtectionPolicy",
    "Purpose",
    "RemoteFile",
    "RetryPolicy",
    "Sleep",
    "State",
    "make_forge",
]

# The one registry: [forge] provider -> the forge.
FORGES: dict[str, ForgeKind] = {
    "github": github.KIND,
    "gitlab": gitlab.KIND,
}


def make_forge(
    config: ForgeConfig,
    token: str | None,
    *,
    argument: str,
    purpose: Purpose,
    retry: RetryPolicy | None = None,
    sleep: Sleep | None = None,
) -> Forge:
    """The client of the configured forge; a missing token fails here, before any work.

    ``argument`` is the option the token came from (``status-token``), named
    in the error; ``purpose`` picks the hint of what the token must be allowed.
    """
    kind = FORGES[config.provider]
    if token is None or not token.strip():
        raise InputError(
            argument=argument,
            problem=f"{PURPOSES[purpose].doing} on {kind.title} needs a token, but none was given",
            fix=f"pass --{argument}=env://{kind.token_variables[purpose]}: a token with "
            f"{kind.permissions[purpose]}{PURPOSES[purpose].without}",
        )
    token = token.strip()
    if not all(" " < char < "\x7f" for char in token):
        # HTTP headers carry ASCII only (httpx would raise UnicodeEncodeError);
        # the message must not quote the token, nor the character, a part of it.
        position = next(i for i, char in enumerate(token) if not " " < char < "\x7f")
        raise InputError(
            argument=argument,
            problem=f"the token has a character that is not printable ASCII (character "
            f"{position + 1} of {len(token)}), which no {kind.title} token has",
            fix="copy the token again from the forge's token page (a copy from a rich-text "
            "page or a chat can carry typographic quotes or invisible spaces)",
        )
    return kind.connect(config, token, retry or RetryPolicy(), sleep or default_sleep)
