"""Where saved capacity lives between the evening stop and the morning start.

DynamoDB, one item per resource: partition key ``region``, sort key
``resource`` (``<kind>#<id>``), the capacity as a JSON string. Why DynamoDB
and not resource tags or SSM Parameter Store (docs/cost-saver.md has more):

- EKS node groups cannot carry the state in tags everywhere (moto rejects
  their tag calls, and one mechanism for every kind is simpler to reason
  about), and tagging is a mutating call on the very resource being parked.
- SSM has no batch write: one PutParameter per resource would double the
  calls of a stop. DynamoDB writes 25 items per BatchWriteItem and reads a
  whole region back with one paginated Query, with strongly consistent reads,
  so a start right after a stop sees everything the stop saved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from cost_saver.calls import chunks, pages
from cost_saver.model import Capacity, describe_error
from pipelines.errors import format_error

# The table's keys; infra/cost-saver/template.yaml declares the same (a test checks).
KEY_SCHEMA = (
    {"AttributeName": "region", "KeyType": "HASH"},
    {"AttributeName": "resource", "KeyType": "RANGE"},
)
ATTRIBUTE_DEFINITIONS = (
    {"AttributeName": "region", "AttributeType": "S"},
    {"AttributeName": "resource", "AttributeType": "S"},
)
# BatchWriteItem takes at most 25 requests per call.
WRITE_BATCH = 25
_UNPROCESSED_ATTEMPTS = 5


@dataclass(frozen=True, kw_only=True)
class SavedCapacity:
    kind: str
    id: str
    capacity: Capacity


@dataclass(frozen=True, kw_only=True)
class SavedRegion:
    """Everything saved for one region: capacity by kind then id, and unreadable items."""

    capacities: Mapping[str, Mapping[str, Capacity]] = field(default_factory=dict)
    unreadable: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


class SavedCapacityStore(Protocol):
    def save(self, region: str, records: Sequence[SavedCapacity]) -> dict[str, str]:
        """Save ``records`` (all of one kind); return the error of each unsaved id."""
        ...

    def load(self, region: str) -> SavedRegion:
        """Everything saved for ``region`` (read-only: dry runs call it too)."""
        ...

    def clear(self, region: str, kind: str, ids: Sequence[str]) -> dict[str, str]:
        """Forget what was saved for ``ids``; return the error of each id not cleared."""
        ...


class DynamoDbStore:
    """Saved capacity in one DynamoDB table (see the module docstring for why)."""

    def __init__(
        self,
        *,
        client: Any,
        table: str,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.table = table
        self._sleep = sleep

    def save(self, region: str, records: Sequence[SavedCapacity]) -> dict[str, str]:
        saved_at = datetime.now(UTC).isoformat(timespec="seconds")
        requests = {
            record.id: {
                "PutRequest": {
                    "Item": {
                        "region": {"S": region},
                        "resource": {"S": _sort_key(record.kind, record.id)},
                        "capacity": {"S": json.dumps(dict(record.capacity), sort_keys=True)},
                        "saved_at": {"S": saved_at},
                    }
                }
            }
            for record in records
        }
        return self._write(requests)

    def load(self, region: str) -> SavedRegion:
        capacities: dict[str, dict[str, Capacity]] = {}
        unreadable: dict[str, dict[str, str]] = {}
        for page in pages(
            self.client,
            "query",
            TableName=self.table,
            KeyConditionExpression="#region = :region",
            ExpressionAttributeNames={"#region": "region"},
            ExpressionAttributeValues={":region": {"S": region}},
            # A start right after a stop must see every item the stop wrote.
            ConsistentRead=True,
        ):
            for item in page["Items"]:
                kind, _, resource_id = item["resource"]["S"].partition("#")
                raw = item.get("capacity", {}).get("S", "")
                capacity = _parse_capacity(raw)
                if capacity is None:
                    unreadable.setdefault(kind, {})[resource_id] = format_error(
                        f"DynamoDB table {self.table}, item region={region} "
                        f"resource={kind}#{resource_id}",
                        f"capacity {raw!r} is not a JSON object of numbers and strings",
                        "correct the item or delete it and set the resource's capacity by hand",
                    )
                else:
                    capacities.setdefault(kind, {})[resource_id] = capacity
        return SavedRegion(capacities=capacities, unreadable=unreadable)

    def clear(self, region: str, kind: str, ids: Sequence[str]) -> dict[str, str]:
        requests = {
            resource_id: {
                "DeleteRequest": {
                    "Key": {
                        "region": {"S": region},
                        "resource": {"S": _sort_key(kind, resource_id)},
                    }
                }
            }
            for resource_id in ids
        }
        return self._write(requests)

    def _write(self, requests: Mapping[str, dict[str, Any]]) -> dict[str, str]:
        failures: dict[str, str] = {}
        ids = list(requests)
        for batch in chunks(ids, WRITE_BATCH):
            try:
                left = self._write_batch([requests[resource_id] for resource_id in batch])
            except Exception as error:  # noqa: BLE001 - a failed batch fails its resources only; they are reported.
                failures.update(dict.fromkeys(batch, describe_error(error)))
                continue
            for request in left:
                resource_id = _id_of(request)
                failures[resource_id] = (
                    f"DynamoDB left the item unprocessed after {_UNPROCESSED_ATTEMPTS} attempts "
                    f"(table {self.table} throttled?)"
                )
        return failures

    def _write_batch(self, batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Write one batch, retrying what DynamoDB leaves unprocessed; return what is left."""
        pending = batch
        for attempt in range(_UNPROCESSED_ATTEMPTS):
            if attempt:
                self._sleep(0.05 * 2**attempt)
            response = self.client.batch_write_item(RequestItems={self.table: pending})
            pending = list(response.get("UnprocessedItems", {}).get(self.table, []))
            if not pending:
                return []
        return pending


def create_table(client: Any, table: str) -> None:
    """Create the table as the template does: for local runs, tests and the benchmark."""
    client.create_table(
        TableName=table,
        KeySchema=list(KEY_SCHEMA),
        AttributeDefinitions=list(ATTRIBUTE_DEFINITIONS),
        BillingMode="PAY_PER_REQUEST",
    )


def _sort_key(kind: str, resource_id: str) -> str:
    return f"{kind}#{resource_id}"


def _id_of(request: Mapping[str, Any]) -> str:
    body = request.get("PutRequest", {}).get("Item") or request["DeleteRequest"]["Key"]
    return str(body["resource"]["S"]).partition("#")[2]


def _parse_capacity(raw: str) -> Capacity | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(value, dict) or not value:
        return None
    if not all(
        isinstance(key, str) and isinstance(item, int | str) and not isinstance(item, bool)
        for key, item in value.items()
    ):
        return None
    return value
