"""Helpers for AWS calls that every kind shares.

Throttling is botocore's to handle: every client retries in standard mode
(jittered exponential backoff, a retry quota) up to
``handler.RETRY_ATTEMPTS`` attempts in all. An error that still arrives here
after that budget is spent means AWS keeps refusing: calling again for the
next resource of the same kind would only throttle the account harder, so
:func:`apply_each` stops that kind there and reports the rest as not
attempted. Running the same action again later finishes the job.
"""

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


def out_of_retries(error: BaseException) -> bool:
    """True when botocore retried ``error`` until its attempts or its retry quota ran out.

    botocore marks such a response ``MaxAttemptsReached`` or
    ``RetryQuotaReached`` (botocore/retries/standard.py); connection errors
    are retried the same way and count too.
    """
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        metadata = response.get("ResponseMetadata", {})
        return bool(metadata.get("MaxAttemptsReached") or metadata.get("RetryQuotaReached"))
    from botocore.exceptions import ConnectionError as BotocoreConnectionError
    from botocore.exceptions import HTTPClientError

    return isinstance(error, BotocoreConnectionError | HTTPClientError)


def not_attempted(error: str) -> str:
    return (
        f"not attempted: AWS kept refusing an earlier call of this kind ({error}), so the "
        "rest of this kind was left as it is; run the same action again later"
    )


def apply_each(
    items: Sequence[T], key: Callable[[T], str], call: Callable[[T], object]
) -> dict[str, str]:
    """Call ``call`` on each item; an error fails that item only, unless retries ran out.

    Returns the error of each failed item by ``key``. Once an error is out of
    retries, the remaining items are not called at all (see the module).
    """
    failures: dict[str, str] = {}
    for index, item in enumerate(items):
        try:
            call(item)
        except Exception as error:  # noqa: BLE001 - one resource's failure must not stop the rest; it is reported and the handler raises at the end.
            failures[key(item)] = describe_error(error)
            if out_of_retries(error):
                skipped = not_attempted(describe_error(error))
                failures.update({key(rest): skipped for rest in items[index + 1 :]})
                break
    return failures


def park_each(resources: Sequence[Resource], call: Callable[[Resource], object]) -> dict[str, str]:
    """Park each resource with ``call``; the errors of those that failed, by id."""
    return apply_each(resources, lambda resource: resource.id, call)


def restore_each(
    targets: Sequence[tuple[Resource, Capacity]], call: Callable[[Resource, Capacity], object]
) -> dict[str, str]:
    """Restore each resource to its target capacity with ``call``; the errors, by id."""
    return apply_each(targets, lambda target: target[0].id, lambda target: call(*target))
