"""Promotion as a reviewed change: the steps, whichever forge hosts the repository.

Read the overlay from the base branch, pin the digest (the pure edit of
:mod:`pipelines.promote`), commit it on ``promote/<env>-<digest[7:19]>`` and
open a pull/merge request. Re-running is safe: an existing branch is reused,
an open request reported, and a base branch already pinned to the digest is
refused before anything is created. Argo CD stays the only thing that deploys.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from pipelines.errors import InputError
from pipelines.promote import check_digest, overlay_path, set_overlay_image
from pipelines.promotion.base import (
    AlreadyPromoted,
    ChangeRequest,
    ChangeRequestClient,
    CommitConflict,
    FileChange,
)

log = logging.getLogger("pipelines.promotion")

# (text, branch it was read from) -> the text with the digest pinned.
_Pin = Callable[[str, str], str]
# sha256: is 7 characters; 12 hex digits name a digest unambiguously in practice.
_DIGEST_IN_BRANCH = slice(7, 19)


@dataclass(frozen=True, kw_only=True)
class ProposedChange:
    # The pull request (GitHub) or merge request (GitLab) to review.
    url: str
    branch: str
    # The overlay file the commit changes.
    path: str
    environment: str
    digest: str
    base_branch: str
    # False when an open pull/merge request for the branch already existed.
    created: bool
    # False when the branch already held the pinned file (a re-run).
    committed: bool

    @property
    def summary(self) -> str:
        opened = "opened" if self.created else "already open"
        return (
            f"{self.environment}: {self.digest} proposed on {self.branch} "
            f"({self.path}); review {opened}: {self.url}"
        )


def promotion_branch(environment: str, digest: str) -> str:
    return f"promote/{environment}-{check_digest(digest)[_DIGEST_IN_BRANCH]}"


def commit_message(*, image: str, environment: str, digest: str) -> str:
    return f"Promote {image} to {environment}: {digest}"


def change_request_body(
    *,
    image: str,
    environment: str,
    digest: str,
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
    client: ChangeRequestClient,
    *,
    environment: str,
    image: str,
    digest: str,
    base_branch: str = "main",
    release_ref: str | None = None,
) -> ProposedChange:
    """Open (or find) the reviewed change that pins ``image`` to ``digest`` in ``environment``.

    Raises :class:`AlreadyPromoted` when ``base_branch`` already pins that
    digest (nothing is created), ``InputError``/``ConfigError`` for bad
    arguments or an overlay promote cannot edit, and ``PromotionError`` when
    the forge refuses or does not answer.
    """
    path = overlay_path(environment)
    check_digest(digest)
    _check_plain(base_branch, argument="base-branch", example="main")
    if release_ref is not None:
        release_ref = _check_plain(release_ref.strip(), argument="release-ref", example="v1.4.2")

    def pin(text: str, ref: str) -> str:
        file = f"{path} on {ref} in {client.where}"
        return set_overlay_image(text, image=image, digest=digest, file=file)

    base_file = await client.read_file(path, ref=base_branch)
    wanted = pin(base_file.text, base_branch)
    if wanted == base_file.text:
        raise AlreadyPromoted(path=path, base_branch=base_branch, image=image, digest=digest)

    branch = promotion_branch(environment, digest)
    message = commit_message(image=image, environment=environment, digest=digest)
    existing: str | None = None
    committed = True
    if await client.branch_exists(branch):
        # A re-run, or a branch left from a closed or merged request.
        existing = await client.find_change_request(branch=branch, base=base_branch)
        on_branch = await client.read_file(path, ref=branch)
        # Under review: only make sure it pins the digest. A leftover of a closed
        # or merged request: bring the file to what the base branch needs now.
        text = pin(on_branch.text, branch) if existing is not None else wanted
        committed = text != on_branch.text
        if committed:
            change = FileChange(
                path=path, text=text, message=message, branch=branch, previous=on_branch
            )
            await _commit(client, change, pin=pin)
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
        await _commit(client, change, pin=pin)

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
        request = await client.open_change_request(
            branch=branch, base=base_branch, title=message, body=body
        )
    return ProposedChange(
        url=request.url,
        branch=branch,
        path=path,
        environment=environment,
        digest=digest,
        base_branch=base_branch,
        created=request.created,
        committed=committed,
    )


async def _commit(client: ChangeRequestClient, change: FileChange, *, pin: _Pin) -> None:
    try:
        await client.commit_file(change)
    except CommitConflict:
        # A retried commit whose first attempt landed looks like a conflict:
        # it is fine when the branch now holds the pinned file.
        if not await client.branch_exists(change.branch):
            raise
        now = await client.read_file(change.path, ref=change.branch)
        if pin(now.text, change.branch) != now.text:
            raise
        log.info("%s on %s already pins the digest", change.path, change.branch)
