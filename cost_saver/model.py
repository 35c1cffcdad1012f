"""The plain data every part of the cost saver shares."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# What a resource had before it was parked: {"min": 2, "max": 5, "desired": 3}
# for things that scale, {"state": "running"} for things that stop.
Capacity = Mapping[str, int | str]


class Action(enum.StrEnum):
    STOP = "stop"
    START = "start"


class Result(enum.StrEnum):
    DONE = "done"
    # Dry run: what would have been done, with no mutating call made.
    PLANNED = "planned"
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class RegionClients:
    """The AWS clients of one region, created once and shared by every kind.

    Typed ``Any``: boto3 ships no types (see pyproject's mypy override).
    """

    region: str
    ec2: Any
    autoscaling: Any
    eks: Any
    ecs: Any
    rds: Any


@dataclass(frozen=True, kw_only=True)
class Resource:
    """One opted-in resource as discovery found it.

    ``parked`` means it is already at its parked capacity (stopped, or scaled
    to zero). ``blocked`` says why it must not be touched right now even though
    it is opted in (a member of a group handled as a whole, a transitional
    state); ``park_and_restore`` reports it as skipped with that reason.
    """

    kind: str
    id: str
    region: str
    tags: Mapping[str, str]
    capacity: Capacity
    parked: bool
    blocked: str | None = None


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What happened to one resource: one line of the report and of the log."""

    kind: str
    id: str
    region: str
    action: Action
    result: Result
    capacity_before: Capacity | None
    capacity_after: Capacity | None
    reason: str | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "id": self.id,
            "region": self.region,
            "action": str(self.action),
            "result": str(self.result),
            "capacity_before": dict(self.capacity_before) if self.capacity_before else None,
            "capacity_after": dict(self.capacity_after) if self.capacity_after else None,
            "reason": self.reason,
        }


@dataclass(frozen=True, kw_only=True)
class OptIn:
    """The tag that opts a resource in (``cost-saver`` = ``enabled`` by default)."""

    key: str
    value: str

    def matches(self, tags: Mapping[str, str]) -> bool:
        return tags.get(self.key) == self.value


PRODUCTION_VALUES = frozenset({"prod", "production"})


def is_production(tags: Mapping[str, str]) -> bool:
    """True when any-case ``environment`` is ``prod``/``production`` in any case."""
    return any(
        key.lower() == "environment" and value.strip().lower() in PRODUCTION_VALUES
        for key, value in tags.items()
    )


def tags_from_pairs(pairs: object, key: str = "Key", value: str = "Value") -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}]`` tag lists as a dict (ECS spells them lowercase)."""
    if not isinstance(pairs, list):
        return {}
    return {str(pair[key]): str(pair.get(value, "")) for pair in pairs if key in pair}


@dataclass(kw_only=True)
class Failures:
    """Per-resource errors of one batch of mutating calls, by resource id."""

    by_id: dict[str, str] = field(default_factory=dict)

    def add(self, resource_id: str, error: BaseException) -> None:
        self.by_id[resource_id] = describe_error(error)


def describe_error(error: BaseException) -> str:
    """A one-line error for the report: botocore's message already names the operation."""
    text = str(error).strip() or repr(error)
    return f"{type(error).__name__}: {text}"
