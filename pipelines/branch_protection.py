"""Protect the release branch: the review gate of the dev workflow, applied by API.

A pull (merge) request into the release branch may merge only when the
``pre-merge`` pipeline has set its required status and at least one reviewer
approved; nobody pushes or force-pushes to the branch directly.

- GitHub: the branch protection holds the required status check (the pull
  request up to date), the approval count (code owners included), no force
  pushes or deletions, enforced for administrators.
- GitLab: the branch is protected (no direct push, no force push), the project
  only merges when the pipeline succeeds (the ``pipelines/pre-merge`` status
  is part of it), and an approval rule on the branch requires the approvals
  (approval rules are a GitLab Premium feature).

How each forge is told is in its client (:mod:`pipelines.forge.github`,
:mod:`pipelines.forge.gitlab`); the command line is
``python -m pipelines_cli.branch_protection``. Jenkins has no protection of
its own: the forge that hosts the code does it (docs/ci/jenkins.md).
"""

from __future__ import annotations

from pipelines.forge import BranchProtection, ProtectionPolicy
from pipelines.forge.base import DEFAULT_BRANCH, DEFAULT_REQUIRED_STATUS

__all__ = [
    "DEFAULT_BRANCH",
    "DEFAULT_REQUIRED_STATUS",
    "BranchProtection",
    "ProtectionPolicy",
    "protect",
]


async def protect(forge: BranchProtection, policy: ProtectionPolicy) -> list[str]:
    """Apply ``policy`` to its branch (idempotent); the lines of what was done."""
    return await forge.protect_branch(policy)
