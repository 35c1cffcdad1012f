"""Helpers for AWS calls that every kind shares."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from cost_saver.model import Capacity, Resource, describe_error

T = TypeVar("T")


def pages(client: Any, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
    """Every page of a list/describe call: code that reads only the first page loses resources."""
    paginator = client.get_paginator(operation)
    yield from paginator.paginate(**params)


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def apply_each(
    items: Sequence[T], key: Callable[[T], str], call: Callable[[T], object]
) -> dict[str, str]:
    """Call ``call`` on each item; an error fails that item only.

    Returns the error of each failed item by ``key``. Throttling has already
    been retried by botocore's standard retry mode when an error lands here.
    """
    failures: dict[str, str] = {}
    for item in items:
        try:
            call(item)
        except Exception as error:  # noqa: BLE001 - one resource's failure must not stop the rest; it is reported and the handler raises at the end.
            failures[key(item)] = describe_error(error)
    return failures


def park_each(resources: Sequence[Resource], call: Callable[[Resource], object]) -> dict[str, str]:
    """Park each resource with ``call``; the errors of those that failed, by id."""
    return apply_each(resources, lambda resource: resource.id, call)


def restore_each(
    targets: Sequence[tuple[Resource, Capacity]], call: Callable[[Resource, Capacity], object]
) -> dict[str, str]:
    """Restore each resource to its saved capacity with ``call``; the errors, by id."""
    return apply_each(targets, lambda target: target[0].id, lambda target: call(*target))
