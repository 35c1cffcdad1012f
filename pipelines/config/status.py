"""[status]: the names of the commit statuses the pipelines post.

    [status]
    # dev_context = "pipelines/dev"                    # "validations passed"
    # pre_merge_context = "pipelines/pre-merge"        # "safe to merge": make it required
    # release_context = "pipelines/release"

Where they are posted is the ``[forge]`` (:mod:`pipelines.config.forge`);
the forge keys this table once held are read by that module.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config._reader import Table

# GitHub caps a context at 255 characters; GitLab's name is as long.
_MAX_CONTEXT = 255


@dataclass(frozen=True, kw_only=True)
class StatusConfig:
    dev_context: str = "pipelines/dev"
    pre_merge_context: str = "pipelines/pre-merge"
    release_context: str = "pipelines/release"

    def context_for(self, pipeline: str) -> str:
        """The status name of a pipeline: "dev", "pre-merge" or "release"."""
        contexts = {
            "dev": self.dev_context,
            "pre-merge": self.pre_merge_context,
            "release": self.release_context,
        }
        if pipeline not in contexts:
            raise ValueError(f"no status context for pipeline {pipeline!r}")
        return contexts[pipeline]


def parse_status(table: Table | None) -> StatusConfig:
    if table is None:
        return StatusConfig()
    defaults = StatusConfig()
    contexts = {}
    for key in ("dev_context", "pre_merge_context", "release_context"):
        default: str = getattr(defaults, key)
        value: str = table.string(key, default, example=f'"{default}"')
        if len(value) > _MAX_CONTEXT:
            table.fail(
                key, f"longer than {_MAX_CONTEXT} characters", f'use a short name like "{default}"'
            )
        contexts[key] = value
    table.finish()
    return StatusConfig(**contexts)
