"""The one error of the forge layer, and the one table that turns an HTTP status into a fix.

A forge is called for three purposes (commit statuses, promotion, branch
protection), and a refusal means something different for each: the token
needs other permissions, the settings to check are elsewhere, re-trying is
done differently. :data:`PURPOSES` holds those words; what a token must be
allowed on a given forge comes from that forge's module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pipelines.errors import PipelinesError

# What a forge is called for; each use case passes its own.
Purpose = Literal["statuses", "promotion", "protection"]


class ForgeError(PipelinesError):
    """The forge refused, or did not answer after retries; the token is never in the message.

    ``where`` names the remote thing ("GitHub repository acme/app"),
    ``problem`` the call and the answer, ``fix`` what to do next.
    """

    def __init__(self, *, where: str, problem: str, fix: str) -> None:
        super().__init__(problem, where=where, fix=fix)


class CommitConflict(ForgeError):
    """A commit was refused because the branch or the file moved under it.

    Also what a retried commit sees when its first attempt did land, so the
    caller checks the branch before giving up.
    """


@dataclass(frozen=True, kw_only=True)
class PurposeWords:
    """The words the errors of one purpose need."""

    # For a missing token: "posting commit statuses".
    doing: str
    # What to check for a 404; "{key}" becomes "repository" or "project".
    settings: str
    # What to do once the forge answers again.
    again: str
    # The likely cause of a 422, when this purpose has one.
    rejected: str | None = None
    # Added to the fix of a 403.
    forbidden_also: str = ""
    # Added to the fix of a missing token: how to do without.
    without: str = ""


PURPOSES: dict[Purpose, PurposeWords] = {
    "statuses": PurposeWords(
        doing="posting commit statuses",
        settings="[forge] {key} and api_url",
        again="re-run the status step; the commit keeps its previous status until then",
        rejected="the forge rejected the status fields: check the commit id and the context name",
        without=", or pass --report-status=false to post no statuses (a local run)",
    ),
    "promotion": PurposeWords(
        doing="opening a promotion pull/merge request",
        settings="[forge] {key} and api_url, the base branch",
        again="re-run promote: it reuses the branch and the pull/merge request it finds",
        forbidden_also=", and promote branches must not be protected against it",
    ),
    "protection": PurposeWords(
        doing="protecting the release branch",
        settings="--repository, --branch and --api-url",
        again="run this again (it is idempotent)",
        rejected="the forge rejected the settings: check the branch name and the status context",
    ),
}


def fix_for(status: int, purpose: Purpose, *, permissions: str, key: str) -> str:
    """The fix for a final answer ``status`` to a call made for ``purpose``.

    ``permissions`` is what the token must be allowed on this forge for this
    purpose; ``key`` names where the service lives ("repository", "project").
    """
    words = PURPOSES[purpose]
    if status == 401:
        return (
            "the token was rejected: check that it has not expired and that the one passed "
            "is meant for this forge"
        )
    if status == 403:
        return f"the token may not do this: it needs {permissions}{words.forbidden_also}"
    if status == 404:
        return (
            f"check {words.settings.format(key=key)}, and that the token can see the {key}: "
            f"it needs {permissions} (a forge answers 404 for what a token cannot see)"
        )
    if status == 422 and words.rejected is not None:
        return words.rejected
    return "see the answer above"
