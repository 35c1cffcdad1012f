"""The plain data every part of the cost saver shares."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# What a resource had before it was parked: {"min": 2, "max": 5, "desired": 3}
# for things that scale, {"state": "running"} for things that stop.
Capacity = Mapping[str, int | str]

# Every AWS service the Lambda makes a client for: the zip bundles botocore's
# models of exactly these (infra/cost-saver/package.py).
AWS_SERVICES = ("autoscaling", "dynamodb", "ec2", "ecs", "eks", "rds")


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
class Parent:
    """What a resource belongs to, whose tags the production guard reads too.

    A node group's EKS cluster, an ECS service's cluster: a cluster tagged as
    production makes everything in it production, whatever its own tags say.
    """

    label: str
    tags: Mapping[str, str]


@dataclass(frozen=True, kw_only=True)
class Resource:
    """One resource as discovery found it.

    ``parked`` means it is at its parked capacity (stopped, or scaled to
    zero). ``blocked`` says why it must not be touched right now (a member of
    a group handled as a whole, a transitional state). ``opted_in`` is False
    only for a resource a start looked up by id because capacity was saved for
    it, and which has lost its opt-in tag since.
    """

    kind: str
    id: str
    region: str
    tags: Mapping[str, str]
    capacity: Capacity
    parked: bool
    blocked: str | None = None
    opted_in: bool = True
    parent: Parent | None = None


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What happened to one resource: one line of the report and of the log.

    ``capacity_before`` is what the run found, ``capacity_after`` what it set
    (or would set). On a start, ``saved`` is the capacity saved in the evening
    and ``changed_while_parked`` every value found different from what the
    stop left, each as ``{"parked": ..., "found": ...}``.
    """

    kind: str
    id: str
    region: str
    action: Action
    result: Result
    capacity_before: Capacity | None
    capacity_after: Capacity | None
    reason: str | None = None
    saved: Capacity | None = None
    changed_while_parked: Mapping[str, Mapping[str, int | str]] | None = None

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "id": self.id,
            "region": self.region,
            "action": str(self.action),
            "result": str(self.result),
            "capacity_before": dict(self.capacity_before) if self.capacity_before else None,
            "capacity_after": dict(self.capacity_after) if self.capacity_after else None,
            "saved": dict(self.saved) if self.saved else None,
            "changed_while_parked": (
                {key: dict(change) for key, change in self.changed_while_parked.items()}
                if self.changed_while_parked
                else None
            ),
            "reason": self.reason,
        }


@dataclass(frozen=True, kw_only=True)
class OptIn:
    """The tag that opts a resource in (``cost-saver`` = ``enabled`` by default)."""

    key: str
    value: str

    def matches(self, tags: Mapping[str, str]) -> bool:
        return tags.get(self.key) == self.value


def tags_from_pairs(pairs: object, key: str = "Key", value: str = "Value") -> dict[str, str]:
    """AWS's ``[{"Key": k, "Value": v}]`` tag lists as a dict (ECS spells them lowercase)."""
    if not isinstance(pairs, list):
        return {}
    return {str(pair[key]): str(pair.get(value, "")) for pair in pairs if key in pair}


def describe_error(error: BaseException) -> str:
    """A one-line error for the report: botocore's message already names the operation."""
    text = str(error).strip() or repr(error)
    return f"{type(error).__name__}: {text}"


def format_capacity(capacity: Capacity) -> str:
    """``min 1, max 4, desired 2``: capacities as the report's reasons spell them."""
    return ", ".join(f"{key} {value}" for key, value in capacity.items())
