"""The two failure policies of a step, named apart from the runner that applies them.

A plan (pipelines.plans) is data and says which policy each step has; the
runner (pipelines.stepgraph) applies it. Kept here so that reading a plan,
as ``portable-pipelines validate`` and the git hooks do, never imports the
runner's concurrency library.
"""

from __future__ import annotations

from typing import Literal

# "validation": a failure is recorded and the independent steps go on;
# "effect": a failure stops what depends on it (see pipelines.stepgraph).
StepKind = Literal["validation", "effect"]
KINDS: tuple[StepKind, ...] = ("validation", "effect")
