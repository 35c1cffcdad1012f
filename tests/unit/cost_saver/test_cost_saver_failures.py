"""Failing resources, big fleets and holidays: the run still does the right thing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cost_saver.kinds import REGISTRY
from cost_saver.kinds.ec2_instances import Ec2Instances
from tests.unit.cost_saver.conftest import HOME, OPTED_IN, TODAY, CostSaver, Fleet, outcomes


def fail_when(
    saver: CostSaver, operation: str, matches: Callable[[dict[str, Any]], bool], code: str
) -> None:
    """Make ``operation`` fail, before it is sent, whenever its parameters match."""

    def fail(params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == operation and matches(params):
            raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation)

    saver.register("before-parameter-build", fail)


def test_a_failing_resource_fails_alone_and_the_handler_raises_at_the_end(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    aws.group(HOME, "broken", (1, 3, 3), OPTED_IN)
    aws.service(HOME, "apps", "api", 2, OPTED_IN)
    saver = cost_saver(regions=[HOME])
    fail_when(
        saver,
        "UpdateAutoScalingGroup",
        lambda params: params["AutoScalingGroupName"] == "broken",
        "ValidationError",
    )

    raised = saver.run_failing("stop")

    assert aws.group_capacity(HOME, "web") == (0, 0, 0)
    assert aws.service_desired(HOME, "apps", "api") == 0
    assert aws.group_capacity(HOME, "broken") == (1, 3, 3)
    errors = raised.report.errors()
    assert [(e["kind"], e["id"]) for e in errors] == [("autoscaling-group", "broken")]
    assert "ValidationError" in str(errors[0]["error"])
    assert "broken" in str(raised)
    failed_lines = [line for line in saver.log if line.get("level") == "ERROR"]
    assert [line["id"] for line in failed_lines if line["event"] == "resource"] == ["broken"]


def test_one_bad_instance_does_not_keep_its_batch_running(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    ids = aws.instances(HOME, 8, OPTED_IN)
    bad = ids[5]
    saver = cost_saver(regions=[HOME])
    batches: list[int] = []
    saver.register(
        "before-parameter-build.ec2.StopInstances",
        lambda params, **_: batches.append(len(params["InstanceIds"])),
    )
    fail_when(
        saver,
        "StopInstances",
        lambda params: bad in params["InstanceIds"],
        "IncorrectInstanceState",
    )

    raised = saver.run_failing("stop")

    assert [aws.instance_state(HOME, i) for i in ids if i != bad] == ["stopped"] * 7
    assert aws.instance_state(HOME, bad) == "running"
    assert [e["id"] for e in raised.report.errors()] == [bad]
    # 8 fails, then its halves, down to the bad id alone.
    assert batches == [8, 4, 4, 2, 1, 1, 2]


def test_a_resource_whose_capacity_cannot_be_saved_is_not_parked(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    saver = cost_saver(regions=[HOME])
    fail_when(
        saver, "TransactWriteItems", lambda _params: True, "ProvisionedThroughputExceededException"
    )

    raised = saver.run_failing("stop")

    assert aws.group_capacity(HOME, "web") == (1, 4, 2)
    assert "capacity not saved, so left as it is" in str(raised.report.errors()[0]["error"])
    assert not [call for call in saver.calls if call[1] == "UpdateAutoScalingGroup"]


def test_every_list_is_paginated_and_instances_stop_in_batches(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    # More reservations, groups and services than one page of each holds.
    ids = aws.instances(HOME, 120, OPTED_IN, one_per_reservation=True)
    for number in range(60):
        aws.group(HOME, f"group-{number:02}", (0, 2, 1), OPTED_IN)
    for number in range(15):
        aws.service(HOME, "apps", f"service-{number:02}", 1, OPTED_IN)
    kinds = {**REGISTRY, "ec2-instance": Ec2Instances(batch_size=50, page_size=50)}
    saver = cost_saver(regions=[HOME], kinds=kinds)

    stopped = saver.run("stop")

    operations = [call[1] for call in saver.calls]
    # 120 instances and the 60 groups' members (skipped, but listed: the region
    # is listed before anything is parked) make 4 pages of 50.
    assert operations.count("DescribeInstances") == 4
    assert operations.count("DescribeAutoScalingGroups") == 2
    assert operations.count("StopInstances") == 3
    assert stopped["counts"]["done"] == 120 + 60 + 15  # type: ignore[index]
    assert {aws.instance_state(HOME, i) for i in ids} == {"stopped"}

    started = saver.run("start")

    assert started["counts"]["done"] == 120 + 60 + 15  # type: ignore[index]
    assert {aws.instance_state(HOME, i) for i in ids} == {"running"}
    assert aws.group_capacity(HOME, "group-59") == (0, 2, 1)
    assert aws.saved_items() == []


def test_on_a_skip_date_nothing_is_called_and_the_report_says_why(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    saver = cost_saver(regions=[HOME])

    report = saver.run("stop", skip_dates=[TODAY], timezone="Europe/Paris")

    assert saver.calls == []
    assert aws.group_capacity(HOME, "web") == (1, 4, 2)
    assert report["resources"] == []
    assert report["skipped_because"] == (
        "2026-11-26 (Europe/Paris) is listed in COST_SAVER_SKIP_DATES: nothing done"
    )
    assert saver.log[-1]["event"] == "summary"


@pytest.mark.parametrize("action", ["stop", "start"])
def test_a_kind_that_cannot_be_listed_does_not_stop_the_others(
    aws: Fleet, cost_saver: Callable[..., CostSaver], action: str
) -> None:
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    aws.service(HOME, "apps", "api", 2, OPTED_IN)
    saver = cost_saver(regions=[HOME])
    if action == "start":
        saver.run("stop")
    fail_when(saver, "ListClusters", lambda _params: True, "AccessDeniedException")

    raised = saver.run_failing(action)

    expected = (1, 4, 2) if action == "start" else (0, 0, 0)
    assert aws.group_capacity(HOME, "web") == expected
    kinds = sorted(str(e["kind"]) for e in raised.report.errors())
    assert kinds == ["ecs-service", "eks-nodegroup"]
    report = outcomes(raised.report.to_json())
    assert report[(HOME, "autoscaling-group", "web")]["result"] == "done"
