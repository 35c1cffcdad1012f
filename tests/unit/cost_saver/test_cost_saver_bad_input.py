"""Bad input is a clear error naming the item and the fix, and the resource is left as it is."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from cost_saver.settings import parse_event
from pipelines.errors import ConfigError
from tests.unit.cost_saver.conftest import HOME, OPTED_IN, TABLE, CostSaver, Fleet, outcomes


@pytest.mark.parametrize(
    ("event", "problem"),
    [
        (
            {"action": ["stop"]},
            'Lambda event: action: expected "stop" or "start", got list [\'stop\']',
        ),
        ({"action": {"name": "stop"}}, "got dict {'name': 'stop'}"),
        ({"action": "stop", "dry_run": {"value": True}}, "dry_run: expected true or false"),
        ({"action": "stop", ("dry", "run"): True}, "unknown key"),
    ],
)
def test_a_malformed_event_is_refused_with_its_fix(event: dict[Any, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_event(event)

    assert problem in str(raised.value)
    assert "\n  fix: send " in str(raised.value) or "\n  fix: write " in str(raised.value)


def parked_groups(aws: Fleet, saver: CostSaver) -> None:
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    aws.group(HOME, "api", (2, 5, 3), OPTED_IN)
    saver.run("stop")


def edit_entry(aws: Fleet, name: str, value: object) -> None:
    (item,) = [i for i in aws.saved_items() if i["resource"]["S"] == "state#autoscaling-group#000"]
    entries = json.loads(item["entries"]["S"])
    entries["parked"][name] = value
    aws.put_state(HOME, "autoscaling-group", entries)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        # Another kind's capacity in a group's entry.
        ({"desired": 3}, "refused: expected min, max and desired, got {'desired': 3}"),
        ({"state": "running"}, "refused: expected min, max and desired, got {'state': 'running'}"),
        # Out of bounds.
        (
            {"min": 0, "max": 500, "desired": 500},
            "refused: max 500, desired 500 is above the ceiling of 100",
        ),
        (
            {"min": 0, "max": 0, "desired": 0},
            "refused: min 0 and desired 0 is the parked capacity",
        ),
        ({"min": 3, "max": 2, "desired": 2}, "refused: min <= desired <= max does not hold"),
        ("three please", "refused: expected min, max and desired, got 'three please'"),
    ],
)
def test_a_saved_entry_of_the_wrong_kind_or_out_of_bounds_leaves_its_resource_as_it_is(
    aws: Fleet, cost_saver: Callable[..., CostSaver], value: object, problem: str
) -> None:
    saver = cost_saver(regions=[HOME])
    parked_groups(aws, saver)
    edit_entry(aws, "web", value)
    saver.calls.clear()

    raised = saver.run_failing("start")

    # Never half-restored: not a single call on it; the other group comes back.
    updated = [c for c in saver.calls if c[1] == "UpdateAutoScalingGroup"]
    assert len(updated) == 1
    assert aws.group_capacity(HOME, "web") == (0, 0, 0)
    assert aws.group_capacity(HOME, "api") == (2, 5, 3)
    assert aws.saved() == {(HOME, "autoscaling-group", "web"): value}
    (error,) = raised.report.errors()
    assert error["id"] == "web"
    message = str(error["error"])
    assert message.startswith(
        f"saved capacity of autoscaling-group web in DynamoDB table {TABLE} "
        "(region=eu-west-1, resource=state#autoscaling-group#...): "
    )
    assert problem in message
    assert "\n  fix: correct the entry" in message
    assert "aws autoscaling update-auto-scaling-group --region eu-west-1" in message


def test_a_saved_item_that_is_not_json_leaves_its_whole_kind_as_it_is(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    saver = cost_saver(regions=[HOME])
    aws.service(HOME, "apps", "api", 2, OPTED_IN)
    parked_groups(aws, saver)
    aws.put_state(HOME, "autoscaling-group", "{not json")
    saver.calls.clear()

    raised = saver.run_failing("start")

    assert "UpdateAutoScalingGroup" not in saver.operations()
    assert aws.group_capacity(HOME, "web") == (0, 0, 0)
    assert aws.group_capacity(HOME, "api") == (0, 0, 0)
    # Every other kind is restored as usual; the item is kept for someone to fix.
    assert aws.service_desired(HOME, "apps", "api") == 2
    item = next(i for i in aws.saved_items() if i["resource"]["S"] == "state#autoscaling-group#000")
    assert item["entries"]["S"] == "{not json"
    (error,) = raised.report.errors()
    assert (error["kind"], error["id"]) == ("autoscaling-group", None)
    assert str(error["error"]).startswith(
        f"DynamoDB table {TABLE}, item region=eu-west-1 resource=state#autoscaling-group#000: "
        "entries is not JSON: '{not json'\n  fix: correct the item"
    )


def test_a_stop_never_overwrites_an_unreadable_item(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    saver = cost_saver(regions=[HOME])
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    aws.put_state(HOME, "autoscaling-group", '{"parked": {"old": {"min": 1}}, "idle": 3}')

    raised = saver.run_failing("stop")

    assert aws.group_capacity(HOME, "web") == (1, 4, 2)
    (item,) = aws.saved_items()
    assert item["entries"]["S"] == '{"parked": {"old": {"min": 1}}, "idle": 3}'
    assert '"idle" must be a list of ids' in str(raised.report.errors()[0]["error"])


def test_a_saved_item_of_another_kind_under_this_kinds_key_is_refused(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    saver = cost_saver(regions=[HOME])
    parked_groups(aws, saver)
    aws.put_state(
        HOME,
        "autoscaling-group",
        {"parked": {"web": {"desired": 2}}},
        attributes={"kind": {"S": "ecs-service"}},
    )

    raised = saver.run_failing("start")

    assert aws.group_capacity(HOME, "web") == (0, 0, 0)
    report = outcomes(raised.report.to_json())
    assert not [
        o for o in report.values() if o["kind"] == "autoscaling-group" and o["result"] == "done"
    ]
    assert "its kind 'ecs-service' is not 'autoscaling-group', the kind of its key" in str(
        raised.report.errors()[0]["error"]
    )
