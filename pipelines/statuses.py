"""Commit statuses: pending when a pipeline starts, success or failure at its end.

The forge slice this needs is :class:`~pipelines.forge.CommitStatuses`; any
forge of :data:`pipelines.forge.FORGES` has it, and Jenkins jobs report to the
forge that hosts the code through the same clients.

A status that cannot be posted never aborts a run: :func:`post_status` returns
the problem, the caller records it, and the run fails at its end, after every
step ran and its reports were collected.
"""

from __future__ import annotations

from typing import Any

from pipelines.forge import MAX_DESCRIPTION, STATES, CommitStatus, CommitStatuses, ForgeError, State
from pipelines.stepgraph import PipelineResult, StepStatus
from pipelines.values import CommitId

__all__ = [
    "MAX_DESCRIPTION",
    "STATES",
    "CommitStatus",
    "CommitStatuses",
    "State",
    "final_status",
    "post_status",
    "running_status",
]


def running_status(
    name: str, *, sha: CommitId, context: str, target_url: str | None = None
) -> CommitStatus:
    """The status that opens a run of pipeline ``name``."""
    return CommitStatus(
        sha=sha,
        state="pending",
        context=context,
        description=f"{name}: running",
        target_url=target_url,
    )


def final_status(
    result: PipelineResult[Any], *, sha: CommitId, context: str, target_url: str | None = None
) -> CommitStatus:
    """The status that closes a run: success only when every step passed."""
    state: State = "success" if result.ok else "failure"
    if result.ok:
        description = f"{result.name}: all {len(result.steps)} steps passed"
    elif result.cancelled:
        description = f"{result.name}: cancelled"
    else:
        failed = result.with_status(StepStatus.FAILED)
        description = (
            f"{result.name}: failed: {', '.join(failed)}"
            if failed
            else f"{result.name}: did not finish"
        )
    return CommitStatus(
        sha=sha, state=state, context=context, description=description, target_url=target_url
    )


async def post_status(statuses: CommitStatuses, status: CommitStatus) -> str | None:
    """Post ``status``: None when it was posted, else the problem, worded for the run's summary."""
    try:
        await statuses.post_status(status)
    except ForgeError as error:
        return f"commit status {status.context}={status.state} was not posted: {error}"
    return None
