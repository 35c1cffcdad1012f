"""Render a lazy Dagger object's query to plain data, for plan tests.

Every chained SDK call is recorded in ``obj._ctx.selections`` (a field with a
name and args); objects passed as arguments (a Directory, a CacheVolume, a
Secret) carry their own selections. ``render`` turns the chain into a list
of ``Call`` values with nested objects rendered the same way, so tests can
assert the properties that matter (images pinned, caches mounted, secrets
never plain) without restating the implementation line by line.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from dagger.client.base import Type


@dataclass(frozen=True)
class Graph:
    """The rendered query of one object: calls from the root (``Query``) down."""

    type_name: str
    calls: tuple[Call, ...]

    def names(self) -> list[str]:
        return [call.name for call in self.calls]

    def find(self, name: str) -> list[Call]:
        return [call for call in self.calls if call.name == name]

    def walk(self) -> Iterator[tuple[Graph, Call]]:
        """Every call in this graph and in every object nested in its arguments."""
        for call in self.calls:
            yield self, call
            for value in call.nested():
                yield from value.walk()


@dataclass(frozen=True)
class Call:
    type_name: str
    name: str
    args: dict[str, Any]

    def nested(self) -> Iterator[Graph]:
        for value in self.args.values():
            yield from _graphs_in(value)


def _graphs_in(value: Any) -> Iterator[Graph]:
    if isinstance(value, Graph):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _graphs_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _graphs_in(item)


def render_value(value: Any) -> Any:
    if isinstance(value, Type):
        return render(value)
    if isinstance(value, list | tuple):
        return [render_value(item) for item in value]
    if hasattr(value, "__dataclass_fields__") and not isinstance(value, type):
        # Input objects such as BuildArg are plain dataclasses.
        return {name: render_value(getattr(value, name)) for name in value.__dataclass_fields__}
    if hasattr(value, "value") and type(value).__module__.startswith("dagger"):
        return value.value  # enum members such as ReturnType.ANY
    return value


def render(obj: Type) -> Graph:
    selections = obj._ctx.selections
    calls = tuple(
        Call(
            type_name=field.type_name,
            name=field.name,
            args={key: render_value(val) for key, val in field.args.items()},
        )
        for field in selections
    )
    return Graph(type_name=type(obj).__name__, calls=calls)


def strings_in(graph: Graph) -> Iterator[str]:
    """Every string argument anywhere in the graph, nested objects included.

    Secrets are opaque here: a ``setSecret`` call's plaintext is where a
    test put it on purpose, so its subtree is skipped.
    """
    for _, call in graph.walk():
        if call.name == "setSecret":
            continue
        yield from _strings(call.args)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
