"""Promotion as a reviewed change: a branch, one commit pinning a digest, a pull/merge request.

The core behind ``dagger call promote``:

- :mod:`pipelines.promotion.overlay`: which overlay an environment deploys, and
  the pure edit that pins an image's digest in it;
- :mod:`pipelines.promotion.propose`: the steps on the forge, through the
  :class:`~pipelines.forge.ChangeRequests` slice of any forge of
  :data:`pipelines.forge.FORGES` (the one ``[forge]`` names).

A base branch already pinned to the digest is not an error: it is a
:class:`Promotion` without a proposal, whose ``summary`` says so.
"""

from __future__ import annotations

from pipelines.promotion.overlay import (
    FOLLOWED_ENVIRONMENTS,
    OVERLAYS,
    overlay_path,
    set_overlay_image,
)
from pipelines.promotion.propose import (
    Promotion,
    Proposal,
    change_request_body,
    commit_message,
    promotion_branch,
    propose_promotion,
)

__all__ = [
    "FOLLOWED_ENVIRONMENTS",
    "OVERLAYS",
    "Promotion",
    "Proposal",
    "change_request_body",
    "commit_message",
    "overlay_path",
    "promotion_branch",
    "propose_promotion",
    "set_overlay_image",
]
