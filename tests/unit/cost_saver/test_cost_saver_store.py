"""The DynamoDB store: batches of 25, DynamoDB's unprocessed items retried."""

from __future__ import annotations

from typing import Any

from cost_saver.store import DynamoDbStore, SavedCapacity
from tests.unit.cost_saver.conftest import HOME, TABLE, Fleet


class BusyTable:
    """A DynamoDB client stub that leaves the first ``busy_calls`` batches unprocessed."""

    def __init__(self, busy_calls: int) -> None:
        self.busy_calls = busy_calls
        self.batches: list[int] = []

    def batch_write_item(self, RequestItems: dict[str, list[Any]]) -> dict[str, Any]:
        (requests,) = RequestItems.values()
        self.batches.append(len(requests))
        if len(self.batches) <= self.busy_calls:
            return {"UnprocessedItems": {"table": requests[:1]}}
        return {"UnprocessedItems": {}}


def records(count: int) -> list[SavedCapacity]:
    return [
        SavedCapacity(kind="ecs-service", id=f"apps/s{n}", capacity={"desired": n})
        for n in range(count)
    ]


def test_items_are_written_25_per_call_and_unprocessed_ones_retried() -> None:
    client = BusyTable(busy_calls=2)
    pauses: list[float] = []
    store = DynamoDbStore(client=client, table="table", sleep=pauses.append)

    failures = store.save(HOME, records(30))

    assert failures == {}
    # 25 (one left) -> 1 (left again) -> 1 done; then the last 5.
    assert client.batches == [25, 1, 1, 5]
    assert pauses == [0.1, 0.2]


def test_items_dynamodb_keeps_refusing_fail_by_resource() -> None:
    client = BusyTable(busy_calls=99)
    store = DynamoDbStore(client=client, table="table", sleep=lambda _: None)

    failures = store.save(HOME, records(3))

    assert list(failures) == ["apps/s0"]
    assert "unprocessed after 5 attempts" in failures["apps/s0"]


def test_save_load_and_clear_round_trip(aws: Fleet) -> None:
    store = DynamoDbStore(client=aws.client("dynamodb", HOME), table=TABLE)
    store.save(HOME, records(30))
    store.save("us-east-1", records(1))

    loaded = store.load(HOME)

    assert len(loaded.capacities["ecs-service"]) == 30
    assert loaded.capacities["ecs-service"]["apps/s7"] == {"desired": 7}

    store.clear(HOME, "ecs-service", [f"apps/s{n}" for n in range(30)])

    assert store.load(HOME).capacities == {}
    assert store.load("us-east-1").capacities == {"ecs-service": {"apps/s0": {"desired": 0}}}
