"""The saved state's layout: one DynamoDB item per region and kind, in parts when big.

What a stop saves for one kind in one region is one object::

    {"parked": {"web": {"min": 1, "max": 4, "desired": 2}, ...},   # id -> capacity before
     "idle": ["batch"]}                                             # already parked, nothing saved

and it is stored as one item (more than one only past ``PART_BYTES``)::

    region     = "eu-west-1"                       partition key
    resource   = "state#autoscaling-group#000"     sort key: kind and part number
    layout     = 2
    kind       = "autoscaling-group"
    part       = 0
    parts      = 1
    entries    = the object above, as JSON, for the ids of this part
    run        = the id of the run that wrote it
    written_at = "2026-11-26T18:00:03+00:00"

Why this layout, against one item per resource, is in docs/cost-saver.md
("The saved state"). Everything read back is checked here: the layout
number, that the item's ``kind`` is the kind of its key, that every part of
a kind is there and agrees on the count, that ``entries`` is JSON of the
shape above. A kind whose items fail any check is *unreadable*: the cost
saver then leaves every resource of that kind in that region as it is until
the items are fixed, since it cannot know which of them were parked. Each
saved capacity is checked later, by its kind's rule (``capacity.py``).

Items of layout 1 (one per resource: ``resource`` = ``<kind>#<id>`` with a
``capacity`` attribute, written before this layout existed) are read as
entries of their kind, and deleted the next time that kind is written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipelines.errors import format_error

LAYOUT = 2
PREFIX = "state#"
# DynamoDB items hold at most 400 KB (names and values): a part's JSON stays
# well under it, so 1,000 EC2 instances (about 45 KB) are one part.
PART_BYTES = 300_000
_DOCS = 'docs/cost-saver.md, "The saved state"'


@dataclass(frozen=True, kw_only=True)
class KindState:
    """What the stop left for one kind of one region.

    ``parked`` holds each capacity as stored (JSON values): the kind's rule
    checks it when a start uses it, so one bad entry fails only its resource.
    """

    parked: Mapping[str, object] = field(default_factory=dict)
    idle: frozenset[str] = frozenset()

    def __bool__(self) -> bool:
        return bool(self.parked or self.idle)


@dataclass(frozen=True, kw_only=True)
class RegionState:
    """Everything saved for one region, as read at the start of a run."""

    region: str
    kinds: Mapping[str, KindState] = field(default_factory=dict)
    # Kind -> the error (where, problem, fix) that makes its items unusable.
    unreadable: Mapping[str, str] = field(default_factory=dict)
    # Kind -> the sort keys of the items that hold it now (to replace or delete).
    keys: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def kind(self, name: str) -> KindState:
        return self.kinds.get(name, KindState())


def sort_key(kind: str, part: int) -> str:
    return f"{PREFIX}{kind}#{part:03d}"


def encode(kind: str, state: KindState) -> list[tuple[str, dict[str, Any]]]:
    """The items of ``state``, as (sort key, attributes without keys or run), part by part."""
    tokens: list[tuple[str, str, object]] = [
        ("parked", resource_id, state.parked[resource_id]) for resource_id in sorted(state.parked)
    ]
    tokens += [("idle", resource_id, None) for resource_id in sorted(state.idle)]
    parts: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    size = 0
    for section, resource_id, value in tokens:
        token_size = len(_dumps(resource_id)) + len(_dumps(value)) + 2
        if current and size + token_size > PART_BYTES:
            parts.append(current)
            current, size = {}, 0
        if section == "parked":
            current.setdefault("parked", {})[resource_id] = value
        else:
            current.setdefault("idle", []).append(resource_id)
        size += token_size
    if current:
        parts.append(current)
    return [
        (
            sort_key(kind, number),
            {
                "layout": {"N": str(LAYOUT)},
                "kind": {"S": kind},
                "part": {"N": str(number)},
                "parts": {"N": str(len(parts))},
                "entries": {"S": _dumps(entries)},
            },
        )
        for number, entries in enumerate(parts)
    ]


def decode(*, table: str, region: str, items: Iterable[Mapping[str, Any]]) -> RegionState:
    """Read one region's items back, checking each (see the module docstring)."""
    reader = _Reader(table=table, region=region)
    for item in items:
        reader.add(item)
    return reader.result()


@dataclass(kw_only=True)
class _Reader:
    table: str
    region: str
    parked: dict[str, dict[str, object]] = field(default_factory=dict)
    idle: dict[str, set[str]] = field(default_factory=dict)
    parts: dict[str, dict[int, int]] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)
    keys: dict[str, list[str]] = field(default_factory=dict)

    def add(self, item: Mapping[str, Any]) -> None:
        key = str(item.get("resource", {}).get("S", ""))
        if key.startswith(PREFIX):
            kind = key.removeprefix(PREFIX).rpartition("#")[0]
            self.keys.setdefault(kind, []).append(key)
            problem = self._add_part(kind, key, item)
        else:
            kind, _, resource_id = key.partition("#")
            self.keys.setdefault(kind, []).append(key)
            problem = self._add_layout_1(kind, resource_id, item)
        if problem and kind not in self.unreadable:
            self.unreadable[kind] = format_error(
                f"DynamoDB table {self.table}, item region={self.region} resource={key}",
                problem,
                f"correct the item ({_DOCS}), or set every {kind} of {self.region} by hand and "
                f"delete the item; " + _until_then(kind, self.region),
            )

    def _add_part(self, kind: str, key: str, item: Mapping[str, Any]) -> str | None:
        layout = _number(item, "layout")
        if layout != LAYOUT:
            return f"layout {layout!r} is not {LAYOUT}, the layout this version reads"
        if _string(item, "kind") != kind:
            return f"its kind {_string(item, 'kind')!r} is not {kind!r}, the kind of its key"
        part, parts = _number(item, "part"), _number(item, "parts")
        if part is None or parts is None or not 0 <= part < parts or key != sort_key(kind, part):
            return f"part {part!r} of {parts!r} does not match its key"
        raw = _string(item, "entries")
        try:
            entries = json.loads(raw or "")
        except ValueError:
            return f"entries is not JSON: {_cut(raw)!r}"
        problem = _shape_problem(entries)
        if problem:
            return problem
        self.parts.setdefault(kind, {})[part] = parts
        self.parked.setdefault(kind, {}).update(entries.get("parked", {}))
        self.idle.setdefault(kind, set()).update(entries.get("idle", []))
        return None

    def _add_layout_1(self, kind: str, resource_id: str, item: Mapping[str, Any]) -> str | None:
        raw = _string(item, "capacity")
        if not kind or not resource_id or raw is None:
            return "neither a state item of this layout nor a capacity item of layout 1"
        try:
            capacity: object = json.loads(raw)
        except ValueError:
            # Kept as the text: the kind's rule refuses it for this resource alone.
            capacity = raw
        self.parked.setdefault(kind, {}).setdefault(resource_id, capacity)
        return None

    def result(self) -> RegionState:
        for kind, parts in self.parts.items():
            counts = set(parts.values())
            if kind not in self.unreadable and (
                len(counts) != 1 or set(parts) != set(range(*counts))
            ):
                self.unreadable[kind] = format_error(
                    f"DynamoDB table {self.table}, items region={self.region} "
                    f"resource={PREFIX}{kind}#...",
                    f"parts {sorted(parts)} found, each claiming a total of {sorted(counts)}: "
                    "some are missing",
                    f"restore the missing parts from the table's point-in-time recovery, or set "
                    f"every {kind} of {self.region} by hand and delete these items; "
                    + _until_then(kind, self.region),
                )
        kinds = set(self.parked) | set(self.idle)
        return RegionState(
            region=self.region,
            kinds={
                kind: KindState(
                    parked=self.parked.get(kind, {}), idle=frozenset(self.idle.get(kind, set()))
                )
                for kind in kinds
                if kind not in self.unreadable
            },
            unreadable=dict(self.unreadable),
            keys={kind: tuple(sorted(keys)) for kind, keys in self.keys.items()},
        )


def _until_then(kind: str, region: str) -> str:
    return f"until then the cost saver leaves every {kind} of {region} as it is"


def _shape_problem(entries: object) -> str | None:
    if not isinstance(entries, dict) or not set(entries) <= {"parked", "idle"}:
        return f'entries must be a JSON object with "parked" and "idle", got {_cut(entries)!r}'
    parked = entries.get("parked", {})
    if not isinstance(parked, dict):
        return f'"parked" must map ids to capacities, got {_cut(parked)!r}'
    idle = entries.get("idle", [])
    if not isinstance(idle, list) or not all(isinstance(i, str) for i in idle):
        return f'"idle" must be a list of ids, got {_cut(idle)!r}'
    return None


def _number(item: Mapping[str, Any], name: str) -> int | None:
    try:
        return int(item[name]["N"])
    except (KeyError, TypeError, ValueError):
        return None


def _string(item: Mapping[str, Any], name: str) -> str | None:
    value = item.get(name, {})
    return value.get("S") if isinstance(value, dict) else None


def _dumps(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _cut(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
