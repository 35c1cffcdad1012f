"""Check a whole pipelines.toml past each problem, so one run reports them all.

The section parsers stop at the first wrong key of their table. Where the
check looked at that value alone (a wrong type, an empty string, a number
out of range, a missing key, an unknown one: ``ConfigError.goes_on``), the
value is replaced by the example its fix shows (``substitute``), or dropped
when there is none, and the document is parsed again: each round finds the
next problem of every table. A problem about what a value means to the rest
of its table (a provider that decides which keys apply) stops that table:
what would follow is about our replacement, not the user's file. It ends
when a round finds nothing new; the problems are reported in the order their
keys stand in the file.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from pipelines.errors import ConfigError, Problems, raise_all

T = TypeVar("T")
# A document has few keys; this only guards against a parser that keeps
# finding "new" problems in values it was given.
_MAX_ROUNDS = 200
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def every_problem(parse: Callable[[dict[str, Any]], T], data: dict[str, Any]) -> T:
    """``parse(data)``, or every problem it finds, raised at once."""
    working = copy.deepcopy(data)
    found: dict[str, ConfigError] = {}
    stopped: set[str] = set()  # tables whose next problems would be about our replacement
    for _ in range(_MAX_ROUNDS):
        try:
            result = parse(working)
        except (ConfigError, Problems) as failure:
            problems = failure.problems if isinstance(failure, Problems) else (failure,)
            new = [
                p
                for p in problems
                if isinstance(p, ConfigError) and _id(p) not in found and not _under(p, stopped)
            ]
            for problem in new:
                found[_id(problem)] = problem
            stopped |= {_table(p) for p in new if not p.goes_on}
            moved_on = [_step_past(working, p) for p in new if p.goes_on]
            if not any(moved_on):
                break
            continue
        if not found:
            return result
        break
    order = _key_order(data)
    ranked: list[ConfigError] = sorted(found.values(), key=lambda problem: _rank(problem, order))
    raise_all(ranked)
    raise AssertionError("raise_all raises when problems were found")  # pragma: no cover


def _id(problem: ConfigError) -> str:
    # One problem per key: once a value is replaced, a later complaint about
    # the same key is about the replacement, not the user's file.
    return problem.key if problem.key is not None else problem.problem


def _table(problem: ConfigError) -> str:
    """The table the problem's key is in ("" for a top-level key)."""
    return (problem.key or "").rpartition(".")[0]


def _under(problem: ConfigError, stopped: set[str]) -> bool:
    key = problem.key or ""
    return any(table and key.startswith(f"{table}.") for table in stopped)


def _path(key: str) -> list[str | int]:
    return [name if name else int(index) for name, index in _SEGMENT.findall(key)]


def _step_past(data: dict[str, Any], problem: ConfigError) -> bool:
    """Replace or drop the value the problem is about; False when there is nothing to change."""
    if problem.key is None:
        return False
    *parents, leaf = _path(problem.key)
    node: Any = data
    for segment in parents:
        try:
            node = node[segment]
        except (KeyError, IndexError, TypeError):
            return False
    if isinstance(leaf, int) or not isinstance(node, dict):
        return False  # an item of an array: dropping it would renumber the others
    if problem.typo is not None:
        node.pop(problem.typo, None)  # read as the key it misspells
    if problem.substitute is not None:
        node[leaf] = problem.substitute
        return True
    if leaf in node:
        del node[leaf]
        return True
    return False


def _key_order(data: dict[str, Any]) -> dict[str, int]:
    """Every key of the document, in the order it stands in the file."""
    return {key: index for index, key in enumerate(_keys(data, ""))}


def _keys(node: Any, prefix: str) -> Iterator[str]:
    if isinstance(node, dict):
        for name, value in node.items():
            key = f"{prefix}.{name}" if prefix else str(name)
            yield key
            yield from _keys(value, key)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _keys(value, f"{prefix}[{index}]")


def _rank(problem: ConfigError, order: dict[str, int]) -> tuple[int, int]:
    """Where the problem's key stands; a key that is not there, after the last key
    of its nearest table (a missing required key, a table that should be there)."""
    key = problem.key or ""
    if key in order:
        return (order[key], 0)
    while key:
        key = key.rpartition(".")[0] if "." in key else ""
        if key in order:
            inside = [i for k, i in order.items() if k.startswith((f"{key}.", f"{key}["))]
            return (max(inside, default=order[key]), 1)
    return (len(order), 1)
