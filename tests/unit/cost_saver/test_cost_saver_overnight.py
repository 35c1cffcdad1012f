"""What happens to a parked resource overnight is merged, never forgotten, never silent."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from cost_saver.capacity import Count, InvalidCapacity, Scaling
from tests.unit.cost_saver.conftest import HOME, OPTED_IN, CostSaver, Fleet, outcomes


@pytest.mark.parametrize(
    ("saved", "found", "target"),
    [
        # Parked as the stop left it: the saved capacity, exactly.
        ((2, 8, 5), (0, 0, 0), (2, 8, 5)),
        # Resized by hand overnight to less: the saved capacity comes back.
        ((2, 8, 5), (1, 3, 1), (2, 8, 5)),
        # Scaled up overnight beyond what was saved: that capacity is kept, max follows.
        ((2, 8, 5), (0, 10, 9), (2, 9, 9)),
        ((1, 4, 2), (0, 4, 3), (1, 4, 3)),
    ],
)
def test_the_scaling_merge_keeps_saved_bounds_and_the_larger_desired(
    saved: tuple[int, int, int], found: tuple[int, int, int], target: tuple[int, int, int]
) -> None:
    keys = ("min", "max", "desired")
    merged = Scaling().target(
        saved=dict(zip(keys, saved, strict=True)), found=dict(zip(keys, found, strict=True))
    )

    assert tuple(merged[key] for key in keys) == target


def test_the_count_merge_keeps_the_larger_count() -> None:
    assert Count().target(saved={"desired": 3}, found={"desired": 0}) == {"desired": 3}
    assert Count().target(saved={"desired": 3}, found={"desired": 5}) == {"desired": 5}


def test_an_overnight_change_of_each_scaling_kind_is_merged_and_reported(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "web", (2, 8, 5), OPTED_IN)
    aws.node_group(HOME, "dev", "general", (2, 6, 3), OPTED_IN)
    aws.service(HOME, "apps", "api", 3, OPTED_IN)
    saver = cost_saver(regions=[HOME])
    saver.run("stop")
    # Overnight: the group resized by hand, Cluster Autoscaler moves the node
    # group's desired, someone sets the service to 1.
    aws.client("autoscaling", HOME).update_auto_scaling_group(
        AutoScalingGroupName="web", MinSize=1, MaxSize=3, DesiredCapacity=1
    )
    aws.client("eks", HOME).update_nodegroup_config(
        clusterName="dev",
        nodegroupName="general",
        scalingConfig={"minSize": 0, "maxSize": 6, "desiredSize": 1},
    )
    aws.client("ecs", HOME).update_service(cluster="apps", service="api", desiredCount=1)

    started = saver.run("start")

    assert aws.group_capacity(HOME, "web") == (2, 8, 5)
    assert aws.node_group_capacity(HOME, "dev", "general") == (2, 6, 3)
    assert aws.service_desired(HOME, "apps", "api") == 3
    assert started["errors"] == []
    # The record was kept until applied, then cleared: the next evening saves the right values.
    assert aws.saved() == {}
    report = outcomes(started)
    web = report[(HOME, "autoscaling-group", "web")]
    assert web["result"] == "done"
    assert web["saved"] == {"min": 2, "max": 8, "desired": 5}
    assert web["capacity_before"] == {"min": 1, "max": 3, "desired": 1}
    assert web["changed_while_parked"] == {
        "min": {"parked": 0, "found": 1},
        "max": {"parked": 0, "found": 3},
        "desired": {"parked": 0, "found": 1},
    }
    assert web["reason"].startswith("changed while parked (min 0 -> 1, max 0 -> 3, desired 0 -> 1)")
    general = report[(HOME, "eks-nodegroup", "dev/general")]
    assert general["changed_while_parked"] == {"desired": {"parked": 0, "found": 1}}
    api = report[(HOME, "ecs-service", "apps/api")]
    assert api["changed_while_parked"] == {"desired": {"parked": 0, "found": 1}}
    warnings = [line for line in saver.log if line.get("level") == "WARNING"]
    assert {line["id"] for line in warnings} == {"web", "dev/general", "apps/api"}


def test_a_service_scaled_up_overnight_keeps_its_larger_count(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.service(HOME, "apps", "api", 3, OPTED_IN)
    saver = cost_saver(regions=[HOME])
    saver.run("stop")
    aws.client("ecs", HOME).update_service(cluster="apps", service="api", desiredCount=6)

    started = saver.run("start")

    # Already above what was saved: nothing to set, the record is cleared.
    assert aws.service_desired(HOME, "apps", "api") == 6
    assert aws.saved() == {}
    api = outcomes(started)[(HOME, "ecs-service", "apps/api")]
    assert api["result"] == "skipped"
    assert api["changed_while_parked"] == {"desired": {"parked": 0, "found": 6}}


def test_instances_and_databases_started_by_hand_overnight_are_left_running(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    (instance,) = aws.instances(HOME, 1, OPTED_IN)
    aws.database(HOME, "orders", OPTED_IN)
    saver = cost_saver(regions=[HOME])
    saver.run("stop")
    aws.client("ec2", HOME).start_instances(InstanceIds=[instance])
    aws.client("rds", HOME).start_db_instance(DBInstanceIdentifier="orders")
    saver.calls.clear()

    started = saver.run("start")

    assert saver.resource_mutations() == []
    assert aws.instance_state(HOME, instance) == "running"
    assert aws.database_status(HOME, "orders") == "available"
    assert aws.saved() == {}
    assert started["errors"] == []


def test_a_capacity_above_the_ceiling_is_never_saved_so_never_parked(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "huge", (1, 150, 120), OPTED_IN)
    saver = cost_saver(regions=[HOME])

    raised = saver.run_failing("stop")

    assert aws.group_capacity(HOME, "huge") == (1, 150, 120)
    assert aws.saved() == {}
    (error,) = raised.report.errors()
    assert (
        "not parked: its capacity cannot be saved (max 150, desired 120 is above the ceiling"
        in str(error["error"])
    )
    assert "fix: raise COST_SAVER_MAX_CAPACITY" in str(error["error"])


def test_the_scaling_rule_refuses_what_a_stop_never_saves() -> None:
    with pytest.raises(InvalidCapacity, match="min 0 and desired 0 is the parked capacity"):
        Scaling().read({"min": 0, "max": 4, "desired": 0}, ceiling=100)
    with pytest.raises(InvalidCapacity, match="min <= desired <= max does not hold"):
        Scaling().read({"min": 3, "max": 4, "desired": 2}, ceiling=100)
    with pytest.raises(InvalidCapacity, match="desired must be a whole number >= 0, got True"):
        Scaling().read({"min": 1, "max": 4, "desired": True}, ceiling=100)
