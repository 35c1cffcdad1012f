"""Stop and start over a moto fleet: what is parked, what is saved, what comes back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from cost_saver.store import LeaseHeldError
from tests.unit.cost_saver.conftest import HOME, OPTED_IN, OTHER, CostSaver, Fleet, outcomes

PROD = {**OPTED_IN, "Environment": "Production"}


def build_mixed_fleet(aws: Fleet) -> dict[str, Any]:
    ids: dict[str, Any] = {
        "opted": aws.instances(HOME, 3, OPTED_IN),
        "untagged": aws.instances(HOME, 2, {}),
        "prod": aws.instances(HOME, 1, PROD),
        "other_region": aws.instances(OTHER, 2, OPTED_IN),
    }
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    aws.group(HOME, "plain", (1, 2, 1), {})
    # Opted in by hand although their group is not: stopping one would make the
    # group replace it, so it is left alone.
    ids["plain_members"] = tag_group_members(aws, "plain")
    aws.group(OTHER, "workers", (0, 5, 4), OPTED_IN)
    aws.node_group(HOME, "dev", "general", (2, 6, 3), OPTED_IN)
    aws.node_group(HOME, "dev", "spot", (1, 3, 1), OPTED_IN)
    aws.node_group(HOME, "dev", "untagged", (1, 3, 1), {})
    aws.service(HOME, "apps", "api", 3, OPTED_IN)
    aws.service(HOME, "apps", "worker", 1, OPTED_IN)
    aws.service(HOME, "apps", "untagged", 2, {})
    aws.service(OTHER, "apps", "api", 5, OPTED_IN)
    aws.database(HOME, "orders", OPTED_IN)
    aws.database(HOME, "billing", {**OPTED_IN, "environment": "PROD"})
    aws.aurora(HOME, "reports", OPTED_IN)
    return ids


def tag_group_members(aws: Fleet, group: str) -> list[str]:
    members = aws.client("autoscaling", HOME).describe_auto_scaling_groups(
        AutoScalingGroupNames=[group]
    )["AutoScalingGroups"][0]["Instances"]
    ids = [member["InstanceId"] for member in members]
    aws.client("ec2", HOME).create_tags(
        Resources=ids, Tags=[{"Key": "cost-saver", "Value": "enabled"}]
    )
    return ids


def fleet_state(aws: Fleet, ids: dict[str, Any]) -> dict[str, object]:
    return {
        "instances": {
            name: [aws.instance_state(OTHER if name == "other_region" else HOME, i) for i in group]
            for name, group in ids.items()
        },
        "groups": {
            "web": aws.group_capacity(HOME, "web"),
            "plain": aws.group_capacity(HOME, "plain"),
            "workers": aws.group_capacity(OTHER, "workers"),
        },
        "node_groups": {
            name: aws.node_group_capacity(HOME, "dev", name)
            for name in ("general", "spot", "untagged")
        },
        "services": {
            "api": aws.service_desired(HOME, "apps", "api"),
            "worker": aws.service_desired(HOME, "apps", "worker"),
            "untagged": aws.service_desired(HOME, "apps", "untagged"),
            "other_api": aws.service_desired(OTHER, "apps", "api"),
        },
        "databases": {
            "orders": aws.database_status(HOME, "orders"),
            "billing": aws.database_status(HOME, "billing"),
            "reports": aws.aurora_status(HOME, "reports"),
        },
    }


def test_a_mixed_fleet_in_two_regions_is_parked_then_restored_exactly(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    ids = build_mixed_fleet(aws)
    before = fleet_state(aws, ids)
    saver = cost_saver()

    stopped = saver.run("stop")

    parked = fleet_state(aws, ids)
    assert parked["instances"] == {
        "opted": ["stopped"] * 3,
        "untagged": ["running"] * 2,
        "prod": ["running"],
        "other_region": ["stopped"] * 2,
        "plain_members": ["running"],
    }
    assert parked["groups"] == {"web": (0, 0, 0), "plain": (1, 2, 1), "workers": (0, 0, 0)}
    # EKS refuses maxSize 0: parked node groups keep their max.
    assert parked["node_groups"] == {"general": (0, 6, 0), "spot": (0, 3, 0), "untagged": (1, 3, 1)}
    assert parked["services"] == {"api": 0, "worker": 0, "untagged": 2, "other_api": 0}
    assert parked["databases"] == {
        "orders": "stopped",
        "billing": "available",
        "reports": "stopped",
    }

    report = outcomes(stopped)
    assert report[(HOME, "autoscaling-group", "web")]["capacity_before"] == {
        "min": 1,
        "max": 4,
        "desired": 2,
    }
    prod_instance = report[(HOME, "ec2-instance", ids["prod"][0])]
    assert prod_instance["result"] == "skipped"
    assert "production" in prod_instance["reason"]
    assert report[(HOME, "rds-instance", "billing")]["result"] == "skipped"
    member = report[(HOME, "ec2-instance", ids["plain_members"][0])]
    assert member["result"] == "skipped"
    assert member["reason"].startswith("member of Auto Scaling group plain")
    assert report[(HOME, "rds-instance", "reports-1")]["reason"].startswith("member of Aurora")
    assert not any(key[2] in ids["untagged"] or key[2] == "plain" for key in report)
    assert stopped["errors"] == []
    # Skipped: the two production resources and the members of groups (the
    # region is listed whole before anything is parked, so the members of web
    # and workers are seen too, and left to their groups).
    skipped = [o for o in report.values() if o["result"] == "skipped"]
    assert sorted(o["id"] for o in skipped if "production" in o["reason"]) == sorted(
        [ids["prod"][0], "billing"]
    )
    assert all(
        o["reason"].startswith("member of ") for o in skipped if "production" not in o["reason"]
    )
    assert stopped["counts"] == {"done": 14, "planned": 0, "skipped": len(skipped), "failed": 0}
    # All of one region's instances stop in one call.
    stop_calls = [call for call in saver.calls if call[1] == "StopInstances"]
    assert sorted(region for _, _, region in stop_calls) == [HOME, OTHER]

    started = saver.run("start")

    assert fleet_state(aws, ids) == before
    assert started["errors"] == []
    assert started["counts"]["done"] == 14  # type: ignore[index]
    assert aws.saved_items() == []


def test_stopping_twice_keeps_the_saved_capacity_and_starting_twice_does_nothing(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "web", (2, 8, 5), OPTED_IN)
    aws.service(HOME, "apps", "api", 3, OPTED_IN)
    aws.node_group(HOME, "dev", "general", (2, 6, 3), OPTED_IN)
    instance = aws.instances(HOME, 1, OPTED_IN)[0]
    saver = cost_saver(regions=[HOME])

    saver.run("stop")
    saved_after_first_stop = aws.saved_items()
    saver.calls.clear()
    second = saver.run("stop")

    assert saver.resource_mutations() == []
    # The lease is taken and given back; the state itself is not written again.
    assert "TransactWriteItems" not in saver.operations()
    assert aws.saved_items() == saved_after_first_stop
    assert {r["result"] for r in second["resources"]} == {"skipped"}  # type: ignore[attr-defined]

    saver.run("start")
    saver.calls.clear()
    second_start = saver.run("start")

    assert saver.resource_mutations() == []
    assert "TransactWriteItems" not in saver.operations()
    assert second_start["counts"]["done"] == 0  # type: ignore[index]
    assert aws.group_capacity(HOME, "web") == (2, 8, 5)
    assert aws.service_desired(HOME, "apps", "api") == 3
    assert aws.node_group_capacity(HOME, "dev", "general") == (2, 6, 3)
    assert aws.instance_state(HOME, instance) == "running"


def test_a_dry_run_makes_no_mutating_call_and_says_what_it_would_do(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    ids = build_mixed_fleet(aws)
    before = fleet_state(aws, ids)
    saver = cost_saver()

    planned = saver.run("stop", dry_run=True)

    assert saver.calls, "the dry run must still look at the fleet"
    assert saver.mutating_calls() == []
    assert fleet_state(aws, ids) == before
    assert aws.saved_items() == []
    assert planned["counts"]["planned"] == 14  # type: ignore[index]
    web = outcomes(planned)[(HOME, "autoscaling-group", "web")]
    assert web["capacity_after"] == {"min": 0, "max": 0, "desired": 0}

    saver.run("stop")
    saver.calls.clear()
    planned_start = saver.run("start", dry_run=True)

    assert saver.mutating_calls() == []
    assert len(aws.saved()) == 14
    general = outcomes(planned_start)[(HOME, "eks-nodegroup", "dev/general")]
    assert general["result"] == "planned"
    assert general["capacity_after"] == {"min": 2, "max": 6, "desired": 3}


def test_a_resource_started_by_hand_at_its_saved_capacity_is_left_alone_and_cleared(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "web", (2, 8, 5), OPTED_IN)
    saver = cost_saver(regions=[HOME])
    saver.run("stop")
    aws.client("autoscaling", HOME).update_auto_scaling_group(
        AutoScalingGroupName="web", MinSize=2, MaxSize=8, DesiredCapacity=5
    )
    saver.calls.clear()

    started = saver.run("start")

    assert "UpdateAutoScalingGroup" not in saver.operations()
    assert aws.group_capacity(HOME, "web") == (2, 8, 5)
    assert aws.saved_items() == []
    web = outcomes(started)[(HOME, "autoscaling-group", "web")]
    assert web["result"] == "skipped"
    assert "already at its saved capacity" in web["reason"]


def test_a_saved_resource_that_was_deleted_is_reported_and_its_record_dropped(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.service(HOME, "apps", "api", 3, OPTED_IN)
    aws.service(HOME, "apps", "gone", 2, OPTED_IN)
    saver = cost_saver(regions=[HOME])
    saver.run("stop")
    aws.client("ecs", HOME).delete_service(cluster="apps", service="gone", force=True)

    started = saver.run("start")

    gone = outcomes(started)[(HOME, "ecs-service", "apps/gone")]
    assert gone["result"] == "skipped"
    assert gone["saved"] == {"desired": 2}
    assert "no longer exists" in gone["reason"]
    # Nothing is left parked, so nothing stays saved and nothing alerts.
    assert aws.saved() == {}
    assert started["errors"] == []
    assert aws.service_desired(HOME, "apps", "api") == 3


def test_a_run_refused_by_the_lease_touches_nothing_and_says_so_in_its_log(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    saver = cost_saver(regions=[HOME])
    assert saver.store is not None
    saver.store.acquire(action="start", seconds=600)

    with pytest.raises(LeaseHeldError):
        saver.run("stop")

    assert aws.group_capacity(HOME, "web") == (1, 4, 2)
    assert saver.resource_mutations() == []
    (line,) = saver.log
    assert (line["level"], line["event"], line["action"]) == ("ERROR", "refused", "stop")
    assert "another run holds the saved-state lease (a start started" in str(line["error"])
    # A dry run takes no lease, so it still reports while another run works.
    assert saver.run("stop", dry_run=True)["counts"]["planned"] == 1  # type: ignore[index]
