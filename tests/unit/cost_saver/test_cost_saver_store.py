"""The saved state's layout and its store: parts, checks on read, the lease, fenced writes."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from cost_saver.state import PART_BYTES, KindState, RegionState, decode, encode
from cost_saver.store import DynamoDbStore, LeaseHeldError, StoreError
from tests.unit.cost_saver.conftest import HOME, OTHER, TABLE, Fleet


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def counted_store(clock: Clock | None = None) -> tuple[DynamoDbStore, list[str]]:
    calls: list[str] = []
    session = boto3.session.Session()
    session.events.register("before-call", lambda model, **_: calls.append(model.name))
    store = DynamoDbStore(
        client=session.client("dynamodb", region_name=HOME), table=TABLE, clock=clock or Clock()
    )
    return store, calls


def items_of(region: str, kind: str, state: KindState) -> list[dict[str, Any]]:
    return [
        {"region": {"S": region}, "resource": {"S": key}, **attributes}
        for key, attributes in encode(kind, state)
    ]


def instances(count: int) -> KindState:
    return KindState(
        parked={f"i-{n:017x}": {"state": "running"} for n in range(count)},
        idle=frozenset({"i-idle"}),
    )


def test_a_kind_is_one_item_and_reads_back_the_same() -> None:
    state = KindState(parked={"web": {"min": 1, "max": 4, "desired": 2}}, idle=frozenset({"batch"}))

    items = items_of(HOME, "autoscaling-group", state)
    loaded = decode(table=TABLE, region=HOME, items=items)

    assert [item["resource"]["S"] for item in items] == ["state#autoscaling-group#000"]
    assert json.loads(items[0]["entries"]["S"]) == {
        "parked": {"web": {"desired": 2, "max": 4, "min": 1}},
        "idle": ["batch"],
    }
    assert loaded.kinds == {"autoscaling-group": state}
    assert loaded.unreadable == {}


def test_a_thousand_instances_are_one_item_and_a_big_kind_is_split_into_parts() -> None:
    assert len(items_of(HOME, "ec2-instance", instances(1000))) == 1

    big = instances(20_000)
    items = items_of(HOME, "ec2-instance", big)

    assert len(items) > 1
    assert all(len(item["entries"]["S"]) <= PART_BYTES for item in items)
    assert {item["parts"]["N"] for item in items} == {str(len(items))}
    assert decode(table=TABLE, region=HOME, items=items).kind("ec2-instance") == big


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        ({"layout": {"N": "3"}}, "layout 3 is not 2"),
        ({"kind": {"S": "ecs-service"}}, "its kind 'ecs-service' is not 'autoscaling-group'"),
        ({"entries": {"S": "{not json"}}, "entries is not JSON: '{not json'"),
        ({"entries": {"S": '["web"]'}}, 'entries must be a JSON object with "parked" and "idle"'),
        ({"entries": {"S": '{"parked": ["web"]}'}}, '"parked" must map ids to capacities'),
        ({"parts": {"N": "2"}}, "parts [0] found, each claiming a total of [2]: some are missing"),
    ],
)
def test_an_item_that_fails_a_check_makes_its_kind_unreadable_naming_the_item_and_the_fix(
    edit: dict[str, Any], problem: str
) -> None:
    (item,) = items_of(HOME, "autoscaling-group", KindState(parked={"web": {"desired": 1}}))
    good = items_of(HOME, "ecs-service", KindState(parked={"apps/api": {"desired": 2}}))

    loaded = decode(table=TABLE, region=HOME, items=[{**item, **edit}, *good])

    assert "autoscaling-group" not in loaded.kinds
    message = loaded.unreadable["autoscaling-group"]
    assert message.startswith(f"DynamoDB table {TABLE}, item")
    assert problem in message
    assert "\n  fix: " in message
    assert "leaves every autoscaling-group of eu-west-1 as it is" in message
    # The other kinds of the region are read as usual.
    assert loaded.kind("ecs-service").parked == {"apps/api": {"desired": 2}}


def test_items_of_the_previous_layout_are_read_as_entries() -> None:
    items = [
        {
            "region": {"S": HOME},
            "resource": {"S": "autoscaling-group#web"},
            "capacity": {"S": '{"desired": 2, "max": 4, "min": 1}'},
        }
    ]

    loaded = decode(table=TABLE, region=HOME, items=items)

    assert loaded.kind("autoscaling-group").parked == {"web": {"min": 1, "max": 4, "desired": 2}}
    assert loaded.keys == {"autoscaling-group": ("autoscaling-group#web",)}


def test_a_region_is_saved_in_one_fenced_transaction_and_unchanged_kinds_are_not_written(
    aws: Fleet,
) -> None:
    store, calls = counted_store()
    lease = store.acquire(action="stop", seconds=60)
    after = {
        "autoscaling-group": KindState(parked={"web": {"min": 1, "max": 4, "desired": 2}}),
        "ec2-instance": instances(1000),
        "ecs-service": KindState(),
    }
    calls.clear()

    assert store.save(store.load(HOME), after, lease) == {}
    assert store.save(store.load(HOME), after, lease) == {}

    assert calls == ["Query", "TransactWriteItems", "Query"]
    loaded = store.load(HOME)
    assert loaded.kinds == {k: v for k, v in after.items() if v}
    assert store.load(OTHER).kinds == {}


def test_emptied_kinds_and_items_of_the_previous_layout_are_deleted(aws: Fleet) -> None:
    aws.client("dynamodb", HOME).put_item(
        TableName=TABLE,
        Item={
            "region": {"S": HOME},
            "resource": {"S": "ecs-service#apps/api"},
            "capacity": {"S": '{"desired": 2}'},
        },
    )
    store, _ = counted_store()
    lease = store.acquire(action="stop", seconds=60)
    before = store.load(HOME)

    store.save(before, {"ecs-service": KindState(parked={"apps/web": {"desired": 1}})}, lease)
    moved = store.load(HOME)
    store.save(moved, {"ecs-service": KindState()}, lease)
    store.release(lease)

    assert moved.keys == {"ecs-service": ("state#ecs-service#000",)}
    assert moved.kind("ecs-service").parked == {"apps/web": {"desired": 1}}
    assert aws.saved_items() == []


def test_an_overlapping_run_is_refused_and_told_who_holds_the_lease(aws: Fleet) -> None:
    store, _ = counted_store()
    store.acquire(action="stop", seconds=600)

    with pytest.raises(LeaseHeldError) as raised:
        store.acquire(action="start", seconds=600)

    message = str(raised.value)
    assert message.startswith(f"DynamoDB table {TABLE}: another run holds the saved-state lease")
    assert "(a stop started " in message
    assert "refused, nothing done" in message
    assert "\n  fix: if that run is still going" in message


def test_an_expired_lease_is_taken_over_and_its_late_owner_can_no_longer_write(
    aws: Fleet,
) -> None:
    clock = Clock()
    store, _ = counted_store(clock)
    killed = store.acquire(action="stop", seconds=60)
    clock.now += 120

    taken = store.acquire(action="start", seconds=60)

    assert taken.took_over is not None
    assert taken.took_over["action"] == "stop"
    assert taken.took_over["owner"] == killed.owner
    # The late run's writes are fenced off; the new owner's are not.
    state = {"ecs-service": KindState(parked={"apps/api": {"desired": 2}})}
    failures = store.save(RegionState(region=HOME), state, killed)
    assert "lease was taken over" in failures["ecs-service"]
    assert aws.saved() == {}
    assert store.save(RegionState(region=HOME), state, taken) == {}
    with pytest.raises(StoreError, match="outlived its lease"):
        store.release(killed)
    store.release(taken)
    assert [item["resource"]["S"] for item in aws.saved_items()] == ["state#ecs-service#000"]


def test_a_missing_table_is_a_clear_error_before_anything_is_done(aws: Fleet) -> None:
    store = DynamoDbStore(client=aws.client("dynamodb", HOME), table="no-such-table")

    with pytest.raises(StoreError) as raised:
        store.acquire(action="stop", seconds=60)

    assert str(raised.value).startswith("DynamoDB table no-such-table: the table does not exist")
    assert "fix: set COST_SAVER_TABLE" in str(raised.value)
