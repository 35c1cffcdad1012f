"""What a kind's capacity may be, and what a start sets when the morning finds it changed.

Three shapes cover every kind:

- :class:`Scaling` (Auto Scaling groups, EKS node groups): ``min``, ``max``,
  ``desired``.
- :class:`Count` (ECS services): ``desired``.
- :class:`Power` (EC2 instances, RDS instances, Aurora clusters): running or
  stopped, nothing to remember but that it ran.

A capacity is checked by the same rule twice: before the stop saves it (a
capacity the morning would refuse is never saved, so the resource is not
parked) and when the start reads it back (an item edited or corrupted in the
table is refused, naming the item, and its resource is left as it is).

The merge rule (``target``) is what makes overnight changes safe. Someone
who scaled a parked resource up overnight needed that capacity, so a start
never takes it away; the saved values are what the team configured, so they
come back. Hence, for each kind: min as saved, desired the larger of saved
and found, max as saved unless that desired needs more.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from cost_saver.model import Capacity


class InvalidCapacity(ValueError):
    """A capacity that breaks its kind's rule; the message is worded for the report."""


class CapacityRule(Protocol):
    @property
    def needs_saved(self) -> bool:
        """False when a parked resource can be brought back without saved numbers."""
        ...

    @property
    def merge(self) -> str:
        """The merge rule in words, for the report."""
        ...

    def read(self, value: object, *, ceiling: int) -> Capacity:
        """``value`` as a capacity of this shape, or :class:`InvalidCapacity`."""
        ...

    def target(self, *, saved: Capacity | None, found: Capacity) -> Capacity:
        """What a start sets, from what was saved (None: nothing) and what it found."""
        ...


def _integers(value: object, keys: tuple[str, ...], what: str) -> dict[str, int]:
    if not isinstance(value, Mapping) or set(value) != set(keys):
        raise InvalidCapacity(f"expected {what}, got {value!r}")
    numbers: dict[str, int] = {}
    for key in keys:
        number = value[key]
        # JSON true is an int to Python: refuse it, it is never a capacity.
        if not isinstance(number, int) or isinstance(number, bool) or number < 0:
            raise InvalidCapacity(f"{key} must be a whole number >= 0, got {number!r}")
        numbers[key] = number
    return numbers


def _ceiling(numbers: Mapping[str, int], ceiling: int) -> None:
    over = {key: number for key, number in numbers.items() if number > ceiling}
    if over:
        raise InvalidCapacity(
            f"{', '.join(f'{k} {v}' for k, v in over.items())} is above the ceiling of "
            f"{ceiling} (COST_SAVER_MAX_CAPACITY)"
        )


@dataclass(frozen=True, kw_only=True)
class Scaling:
    """``min <= desired <= max``; min 0 with desired 0 is the parked capacity, never saved."""

    needs_saved: bool = True
    merge: str = "min and max as saved, desired the larger of saved and found (max raised to it)"

    def read(self, value: object, *, ceiling: int) -> Capacity:
        numbers = _integers(value, ("min", "max", "desired"), "min, max and desired")
        if not numbers["min"] <= numbers["desired"] <= numbers["max"]:
            raise InvalidCapacity(f"min <= desired <= max does not hold for {numbers}")
        if numbers["min"] == 0 and numbers["desired"] == 0:
            raise InvalidCapacity(
                "min 0 and desired 0 is the parked capacity: the stop never saves it"
            )
        _ceiling(numbers, ceiling)
        return numbers

    def target(self, *, saved: Capacity | None, found: Capacity) -> Capacity:
        if saved is None:
            raise ValueError("a scaling capacity is never restored without a saved one")
        desired = max(int(saved["desired"]), int(found["desired"]))
        return {
            "min": int(saved["min"]),
            "max": max(int(saved["max"]), desired),
            "desired": desired,
        }


@dataclass(frozen=True, kw_only=True)
class Count:
    """A desired count of at least 1 (0 is the parked count, never saved)."""

    needs_saved: bool = True
    merge: str = "desired, the larger of saved and found"

    def read(self, value: object, *, ceiling: int) -> Capacity:
        numbers = _integers(value, ("desired",), "desired")
        if numbers["desired"] == 0:
            raise InvalidCapacity("desired 0 is the parked count: the stop never saves it")
        _ceiling(numbers, ceiling)
        return numbers

    def target(self, *, saved: Capacity | None, found: Capacity) -> Capacity:
        if saved is None:
            raise ValueError("a count is never restored without a saved one")
        return {"desired": max(int(saved["desired"]), int(found["desired"]))}


@dataclass(frozen=True, kw_only=True)
class Power:
    """Running or stopped: ``{key: running}`` is the only capacity ever saved."""

    key: str
    running: str
    needs_saved: bool = False
    merge: str = "to running"

    def read(self, value: object, *, ceiling: int) -> Capacity:
        del ceiling  # Nothing to count.
        if value != {self.key: self.running}:
            raise InvalidCapacity(f"expected {{{self.key!r}: {self.running!r}}}, got {value!r}")
        return {self.key: self.running}

    def target(self, *, saved: Capacity | None, found: Capacity) -> Capacity:
        del saved, found  # Running is the only way back.
        return {self.key: self.running}
