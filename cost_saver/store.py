"""Where the saved state lives between the evening stop and the morning start: DynamoDB.

Three things, all in one table (keys ``region`` + ``resource``, as the
template declares):

- **The lease** (item ``#lease`` / ``#lease``): a run takes it before its
  first write and gives it back at its end. Taking it is a conditional
  ``PutItem`` that succeeds only if no lease exists or the one there has
  expired, so an overlapping run is refused and says who holds it. A lease
  lasts as long as the Lambda may still run plus a margin: a run killed
  half-way (timeout, crash) holds it until then, and the next run after that
  takes it over and says so.
- **The state**: one item per region and kind (``state.py`` has the layout),
  read with one strongly consistent ``Query`` per region.
- **Fenced writes**: every state write is a ``TransactWriteItems`` whose
  first action checks that the lease is still this run's. A run that
  outlived its lease (and was taken over) cannot overwrite what the newer
  run saved; its writes fail and it parks nothing more.

Why DynamoDB and this layout rather than tags, SSM or one item per resource:
docs/cost-saver.md, "The saved state".
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cost_saver.calls import pages
from cost_saver.model import describe_error
from cost_saver.state import KindState, RegionState, decode, encode
from pipelines.errors import PipelinesError

# The table's keys; infra/cost-saver/template.yaml declares the same (a test checks).
KEY_SCHEMA = (
    {"AttributeName": "region", "KeyType": "HASH"},
    {"AttributeName": "resource", "KeyType": "RANGE"},
)
ATTRIBUTE_DEFINITIONS = (
    {"AttributeName": "region", "AttributeType": "S"},
    {"AttributeName": "resource", "AttributeType": "S"},
)
# Not a region name, so no region's Query ever returns it.
LEASE_KEY = {"region": {"S": "#lease"}, "resource": {"S": "#lease"}}
# TransactWriteItems takes 100 actions and 4 MB: one is the lease check, and
# the size stays clear of the limit.
_TRANSACTION_ACTIONS = 99
_TRANSACTION_BYTES = 3_500_000


class StoreError(PipelinesError):
    """The table cannot be used right now: nothing that depends on it was done."""


class LeaseHeldError(PipelinesError):
    """Another run holds the lease: this one refused to start."""


@dataclass(frozen=True, kw_only=True)
class Lease:
    owner: str
    action: str
    expires_at: int
    # The expired lease this one replaced: a run that ended without giving it back.
    took_over: Mapping[str, str] | None = None


class StateStore(Protocol):
    # The table's name, for the errors that point at an item.
    table: str

    def acquire(self, *, action: str, seconds: float) -> Lease:
        """Take the lease for ``seconds``, or raise :class:`LeaseHeldError`."""
        ...

    def release(self, lease: Lease) -> None:
        """Give the lease back (raises :class:`StoreError` if it was taken over)."""
        ...

    def load(self, region: str) -> RegionState:
        """Everything saved for ``region`` (read-only: dry runs call it too)."""
        ...

    def save(
        self, before: RegionState, after: Mapping[str, KindState], lease: Lease
    ) -> dict[str, str]:
        """Replace the state of each kind in ``after``; the error of each kind not saved."""
        ...


class DynamoDbStore:
    """The lease and the saved state in one DynamoDB table (see the module docstring)."""

    def __init__(self, *, client: Any, table: str, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.table = table
        self._clock = clock

    # --- the lease ----------------------------------------------------------------

    def acquire(self, *, action: str, seconds: float) -> Lease:
        now = self._clock()
        lease = Lease(owner=uuid.uuid4().hex, action=action, expires_at=int(now + seconds) + 1)
        try:
            reply = self.client.put_item(
                TableName=self.table,
                Item={
                    **LEASE_KEY,
                    "owner": {"S": lease.owner},
                    "action": {"S": action},
                    "started_at": {"S": _iso(now)},
                    "expires_at": {"N": str(lease.expires_at)},
                },
                ConditionExpression="attribute_not_exists(#key) OR expires_at < :now",
                ExpressionAttributeNames={"#key": "region"},
                ExpressionAttributeValues={":now": {"N": str(int(now))}},
                ReturnValues="ALL_OLD",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as error:  # noqa: BLE001 - every way of not getting the lease becomes one error: nothing done.
            if _holder(_failed_item(error)).get("owner") == lease.owner:
                # An earlier attempt of this very call got through but its answer
                # was lost (a timeout, a 5xx), and botocore retried: it is ours.
                return lease
            raise self._acquire_error(error) from None
        previous = reply.get("Attributes")
        if previous:
            return Lease(
                owner=lease.owner,
                action=action,
                expires_at=lease.expires_at,
                took_over=_holder(previous),
            )
        return lease

    def _acquire_error(self, error: Exception) -> PipelinesError:
        code = _code(error)
        if code == "ConditionalCheckFailedException":
            holder = _holder(_failed_item(error))
            until = holder.get("expires_at", "?")
            return LeaseHeldError(
                f"another run holds the saved-state lease (a {holder.get('action', '?')} started "
                f"{holder.get('started_at', '?')}, held until {until}): refused, nothing done",
                where=f"DynamoDB table {self.table}",
                fix="if that run is still going, let it finish and read its report; if it was "
                f"killed or timed out, run this action again after {until}, when its lease "
                "expires (running an action again is always safe)",
            )
        if code == "ResourceNotFoundException":
            return StoreError(
                "the table does not exist: nothing done (nothing is parked without its "
                "capacity saved first)",
                where=f"DynamoDB table {self.table}",
                fix="set COST_SAVER_TABLE to the stack's table (output SavedCapacityTableName)",
            )
        return StoreError(
            f"the saved-state lease could not be taken: {describe_error(error)}; nothing done",
            where=f"DynamoDB table {self.table}",
            fix="run the same action again once DynamoDB answers (it is safe to repeat)",
        )

    def release(self, lease: Lease) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=LEASE_KEY,
                ConditionExpression="#owner = :owner",
                ExpressionAttributeNames={"#owner": "owner"},
                ExpressionAttributeValues={":owner": {"S": lease.owner}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except Exception as error:  # noqa: BLE001 - every way of not giving it back becomes one error, reported.
            if _code(error) == "ConditionalCheckFailedException" and not _failed_item(error):
                return  # Gone: an earlier attempt of this call deleted it, its answer was lost.
            if _code(error) == "ConditionalCheckFailedException":
                raise StoreError(
                    "this run outlived its lease and another run took it over",
                    where=f"DynamoDB table {self.table}",
                    fix="read both runs' reports; the later one's writes stand, and running "
                    "the same action again is safe",
                ) from None
            raise StoreError(
                f"the lease could not be given back: {describe_error(error)}",
                where=f"DynamoDB table {self.table}",
                fix=f"nothing to do unless the next run is refused; the lease expires at "
                f"{_iso(lease.expires_at)} anyway",
            ) from None

    # --- the state ----------------------------------------------------------------

    def load(self, region: str) -> RegionState:
        items = [
            item
            for page in pages(
                self.client,
                "query",
                TableName=self.table,
                KeyConditionExpression="#region = :region",
                ExpressionAttributeNames={"#region": "region"},
                ExpressionAttributeValues={":region": {"S": region}},
                # A start right after a stop must see everything the stop wrote.
                ConsistentRead=True,
            )
            for item in page["Items"]
        ]
        return decode(table=self.table, region=region, items=items)

    def save(
        self, before: RegionState, after: Mapping[str, KindState], lease: Lease
    ) -> dict[str, str]:
        written_at = _iso(self._clock())
        groups: list[tuple[list[str], list[dict[str, Any]], int]] = []
        for kind, state in after.items():
            actions = self._actions(before, kind, state, lease.owner, written_at)
            if not actions:
                continue
            size = len(json.dumps(actions))
            if len(actions) > _TRANSACTION_ACTIONS or size > _TRANSACTION_BYTES:
                # Never split a kind over two transactions: readers see all its parts or none.
                groups.append(([kind], actions, size))
                continue
            last = groups[-1] if groups else None
            if (
                last is not None
                and len(last[1]) + len(actions) <= _TRANSACTION_ACTIONS
                and last[2] + size <= _TRANSACTION_BYTES
            ):
                groups[-1] = (last[0] + [kind], last[1] + actions, last[2] + size)
            else:
                groups.append(([kind], actions, size))
        failures: dict[str, str] = {}
        for kinds, actions, size in groups:
            error = self._transact(actions, lease, size)
            if error:
                failures.update(dict.fromkeys(kinds, error))
        return failures

    def _actions(
        self, before: RegionState, kind: str, state: KindState, owner: str, written_at: str
    ) -> list[dict[str, Any]]:
        region = {"S": before.region}
        items = encode(kind, state)
        new_keys = {key for key, _ in items}
        old_keys = set(before.keys.get(kind, ()))
        if state == before.kind(kind) and new_keys == old_keys:
            return []  # Unchanged: no write.
        puts = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "region": region,
                        "resource": {"S": key},
                        **attributes,
                        "run": {"S": owner},
                        "written_at": {"S": written_at},
                    },
                }
            }
            for key, attributes in items
        ]
        deletes = [
            {"Delete": {"TableName": self.table, "Key": {"region": region, "resource": {"S": key}}}}
            for key in sorted(old_keys - new_keys)
        ]
        return puts + deletes

    def _transact(self, actions: list[dict[str, Any]], lease: Lease, size: int) -> str | None:
        if len(actions) > _TRANSACTION_ACTIONS or size > _TRANSACTION_BYTES:
            return (
                f"{len(actions)} item writes of {size:,} bytes for one kind: more than one "
                f"DynamoDB transaction holds ({_TRANSACTION_ACTIONS} items, 4 MB); opt fewer "
                "resources of this kind in per region, or handle them with a second stack"
            )
        fence = {
            "ConditionCheck": {
                "TableName": self.table,
                "Key": LEASE_KEY,
                "ConditionExpression": "#owner = :owner",
                "ExpressionAttributeNames": {"#owner": "owner"},
                "ExpressionAttributeValues": {":owner": {"S": lease.owner}},
            }
        }
        try:
            self.client.transact_write_items(TransactItems=[fence, *actions])
        except Exception as error:  # noqa: BLE001 - a failed write fails what depended on it; reported.
            reasons = getattr(error, "response", {}).get("CancellationReasons") or []
            if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                return (
                    "this run's lease was taken over by another run (this one outlived it), so "
                    "its state was not written"
                )
            return f"saving the state failed: {describe_error(error)}"
        return None


def create_table(client: Any, table: str) -> None:
    """Create the table as the template does: for local runs, tests and the benchmark."""
    client.create_table(
        TableName=table,
        KeySchema=list(KEY_SCHEMA),
        AttributeDefinitions=list(ATTRIBUTE_DEFINITIONS),
        BillingMode="PAY_PER_REQUEST",
    )


def _code(error: BaseException) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _failed_item(error: BaseException) -> Mapping[str, Any]:
    """The item a failed condition found (``ReturnValuesOnConditionCheckFailure``), or {}."""
    response = getattr(error, "response", None)
    item = response.get("Item") if isinstance(response, dict) else None
    return item if isinstance(item, dict) else {}


def _holder(item: Mapping[str, Any]) -> dict[str, str]:
    holder = {name: str(value.get("S", "")) for name, value in item.items() if "S" in value}
    if "expires_at" in item and "N" in item["expires_at"]:
        holder["expires_at"] = _iso(int(item["expires_at"]["N"]))
    return {k: v for k, v in holder.items() if k not in ("region", "resource")}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
