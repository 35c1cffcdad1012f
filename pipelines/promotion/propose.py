"""Promotion as a reviewed change: the steps, whichever forge hosts the repository.

Read the overlay from the base branch, pin the digest (the pure edit of
:mod:`pipelines.promotion.overlay`), commit it on
``promote/<env>-<12 hex of the digest>`` and open a pull/merge request.
Re-running is safe: an existing branch is reused, an open request reported,
and a base branch that already pins the digest is an outcome of its own,
before anything is created. Argo CD stays the only thing that deploys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from pipelines.errors import InputError
from pipelines.forge import ChangeRequest, ChangeRequests, CommitConflict, FileChange
from pipelines.promotion.overlay import overlay_path, set_overlay_image
from pipelines.values import Branch, Digest

log = logging.getLogger("pipelines.promotion")

# (text, branch it was read from) -> the text with the digest pinned.
_Pin = Callable[[str, str], str]
# 12 hex digits name a digest unambiguously in practice.
_DIGEST_IN_BRANCH = 12


@dataclass(frozen=True, kw_only=True)
class Proposal:
    """The reviewed change a promotion opened, or found open."""

    # The pull request (GitHub) or merge request (GitLab) to review.
    url: str
    branch: str
    # False when an open pull/merge request for the branch already existed.
    created: bool
    # False when the branch already held the pinned file (a re-run).
    committed: bool


@dataclass(frozen=True, kw_only=True)
class Promotion:
    """What ``promote`` did: a change proposed for review, or nothing because nothing was due."""

    environment: str
    image: str
    digest: Digest
    # The overlay file the change pins the digest in.
    path: str
    base_branch: str
    # None when the base branch already pins the digest: no branch, commit or
    # pull/merge request was created, since there is nothing to review.
    proposal: Proposal | None

    @property
    def already_pinned(self) -> bool:
        return self.proposal is None

    @property
    def summary(self) -> str:
        """One line for the release engineer."""
        if self.proposal is None:
            return (
                f"{self.environment}: {self.path} on {self.base_branch} already pins "
                f"{self.image} to {self.digest}: nothing to promote, so no branch, commit or "
                "pull request was created (to deploy that digest again, sync the environment's "
                "Application in Argo CD)"
            )
        opened = "opened" if self.proposal.created else "already open"
        return (
            f"{self.environment}: {self.digest} proposed on {self.proposal.branch} "
            f"({self.path}); review {opened}: {self.proposal.url}"
        )


def promotion_branch(environment: str, digest: Digest) -> str:
    return f"promote/{environment}-{digest.hex[:_DIGEST_IN_BRANCH]}"


def commit_message(*, image: str, environment: str, digest: Digest) -> str:
    return f"Promote {image} to {environment}: {digest}"


def change_request_body(
    *,
    image: str,
    environment: str,
    digest: Digest,
    path: str,
    base_branch: str,
    release_ref: str | None,
) -> str:
    release = f"`{release_ref}`" if release_ref else "not given"
    return (
        f"Promotes **{image}** in **{environment}** to `{digest}`.\n"
        "\n"
        f"- Digest: `{digest}`\n"
        f"- Release: {release}\n"
        f"- Overlay: `{path}` (its `images:` entry `{image}` now pins this digest)\n"
        "\n"
        f"Nothing deploys until this is merged into `{base_branch}` and a release engineer "
        f"syncs the {environment} Application in Argo CD, which deploys exactly this digest.\n"
        "\n"
        f"**Roll back** after merging by reverting this change in git: `git revert <commit>` "
        f"(for a merge commit `git revert -m 1 <commit>`) on `{base_branch}`, reviewed and "
        "merged like this one, then sync again. Do not use Argo CD's history rollback: it "
        "turns automated sync off and leaves git and the cluster disagreeing.\n"
        "\n"
        "Proposed by `dagger call promote`.\n"
    )


def _check_plain(value: str, *, argument: str, example: str) -> str:
    if not value or value != value.strip() or any(c in value for c in "\n\r\t `"):
        raise InputError(
            argument=argument,
            problem=f"{value!r} is empty or has spaces, newlines or backticks",
            fix=f"pass a plain name, e.g. --{argument}={example}",
        )
    return value


async def propose_promotion(
    forge: ChangeRequests,
    *,
    environment: str,
    image: str,
    digest: Digest,
    base_branch: str = "main",
    release_ref: str | None = None,
) -> Promotion:
    """Open (or find) the reviewed change that pins ``image`` to ``digest`` in ``environment``.

    A base branch that already pins the digest is a :class:`Promotion` without
    a proposal (nothing is created). Raises ``InputError``/``ConfigError`` for
    bad arguments or an overlay promote cannot edit, and ``ForgeError`` when
    the forge refuses or does not answer.
    """
    path = overlay_path(environment)
    # A git branch name, so it cannot walk out of an API path (`../../x`) or break a line.
    base_branch = Branch.parse(base_branch, argument="base-branch").name
    if release_ref is not None:
        release_ref = _check_plain(release_ref.strip(), argument="release-ref", example="v1.4.2")

    def pin(text: str, ref: str) -> str:
        file = f"{path} on {ref} in {forge.where}"
        return set_overlay_image(text, image=image, digest=digest, file=file)

    def outcome(proposal: Proposal | None) -> Promotion:
        return Promotion(
            environment=environment,
            image=image,
            digest=digest,
            path=path,
            base_branch=base_branch,
            proposal=proposal,
        )

    base_file = await forge.read_file(path, ref=base_branch)
    wanted = pin(base_file.text, base_branch)
    if wanted == base_file.text:
        return outcome(None)

    branch = promotion_branch(environment, digest)
    message = commit_message(image=image, environment=environment, digest=digest)
    existing: str | None = None
    committed = True
    if await forge.branch_exists(branch):
        # A re-run, or a branch left from a closed or merged request.
        existing = await forge.find_change_request(branch=branch, base=base_branch)
        on_branch = await forge.read_file(path, ref=branch)
        # Under review: only make sure it pins the digest. A leftover of a closed
        # or merged request: bring the file to what the base branch needs now.
        text = pin(on_branch.text, branch) if existing is not None else wanted
        committed = text != on_branch.text
        if committed:
            change = FileChange(
                path=path, text=text, message=message, branch=branch, previous=on_branch
            )
            await _commit(forge, change, pin=pin)
        log.info("reusing branch %s of an earlier promote", branch)
    else:
        change = FileChange(
            path=path,
            text=wanted,
            message=message,
            branch=branch,
            previous=base_file,
            start_branch=base_branch,
        )
        await _commit(forge, change, pin=pin)

    if existing is not None:
        request = ChangeRequest(url=existing, created=False)
    else:
        body = change_request_body(
            image=image,
            environment=environment,
            digest=digest,
            path=path,
            base_branch=base_branch,
            release_ref=release_ref,
        )
        request = await forge.open_change_request(
            branch=branch, base=base_branch, title=message, body=body
        )
    return outcome(
        Proposal(url=request.url, branch=branch, created=request.created, committed=committed)
    )


async def _commit(forge: ChangeRequests, change: FileChange, *, pin: _Pin) -> None:
    try:
        await forge.commit_file(change)
    except CommitConflict:
        # A retried commit whose first attempt landed looks like a conflict:
        # it is fine when the branch now holds the pinned file.
        if not await forge.branch_exists(change.branch):
            raise
        now = await forge.read_file(change.path, ref=change.branch)
        if pin(now.text, change.branch) != now.text:
            raise
        log.info("%s on %s already pins the digest", change.path, change.branch)
