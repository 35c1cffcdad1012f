"""Nothing stranded, nothing silent: lost state, changed tags and the production guard."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import replace

import pytest

from cost_saver.guard import EnvironmentGuard
from cost_saver.kinds import REGISTRY
from cost_saver.kinds.auto_scaling_groups import AutoScalingGroups
from cost_saver.model import OptIn, Parent, RegionClients, Resource
from tests.unit.cost_saver.conftest import HOME, OPTED_IN, CostSaver, Fleet, outcomes


def resource(tags: Mapping[str, str], parent_tags: Mapping[str, str] | None = None) -> Resource:
    return Resource(
        kind="eks-nodegroup",
        id="dev/general",
        region=HOME,
        tags=tags,
        capacity={"min": 1, "max": 3, "desired": 2},
        parked=False,
        parent=Parent(label="EKS cluster dev", tags=parent_tags)
        if parent_tags is not None
        else None,
    )


@pytest.mark.parametrize(
    ("tags", "parent", "allowed"),
    [
        ({"environment": "dev"}, None, True),
        ({"Environment": "Dev"}, None, True),
        ({"ENVIRONMENT": "SANDBOX"}, {}, True),
        ({"environment": "dev"}, {"environment": "test"}, True),
        # Fails closed: no tag, or a value not on the list, is never touched.
        ({}, None, False),
        ({"env": "dev"}, None, False),
        ({"Stage": "production"}, None, False),
        ({"Environment": "prd"}, None, False),
        ({"environment": "prod"}, None, False),
        ({"environment": "dev "}, None, False),
        ({"environment": "dev", "Environment": "prod"}, None, False),
        # The parent vetoes.
        ({"environment": "dev"}, {"Environment": "Production"}, False),
        ({"environment": "dev"}, {"environment": "live"}, False),
    ],
)
def test_the_guard_acts_only_where_the_environment_is_positively_non_production(
    tags: dict[str, str], parent: dict[str, str] | None, allowed: bool
) -> None:
    refusal = EnvironmentGuard().refusal(resource(tags, parent))

    assert (refusal is None) is allowed
    if refusal:
        assert refusal.endswith("(the production guard fails closed)") or "never touched" in refusal


def test_the_guards_reasons_say_what_to_fix() -> None:
    guard = EnvironmentGuard(key="stage", allowed=("dev", "test"))

    assert guard.refusal(resource({})) == (
        "no stage tag: only resources tagged stage=dev|test are touched (the production guard "
        "fails closed)"
    )
    assert guard.refusal(resource({"stage": "dev "})) == (
        "tagged stage='dev ', which is not a non-production environment (dev|test) (mind the "
        "spaces: tag values are compared exactly): never touched"
    )
    assert guard.refusal(resource({"stage": "dev"}, {"Stage": "prod"})) == (
        "in EKS cluster dev, tagged stage='prod', which is not a non-production environment "
        "(dev|test): never touched"
    )


def test_resources_in_a_production_cluster_are_never_parked(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    prod = {"environment": "prod"}
    aws.node_group(HOME, "live", "general", (2, 6, 3), OPTED_IN, cluster_tags=prod)
    aws.service(HOME, "live", "api", 3, OPTED_IN, cluster_tags=prod)
    aws.group(HOME, "env-prod", (1, 2, 1), {"cost-saver": "enabled", "env": "prod"})
    aws.group(HOME, "prd", (1, 2, 1), {"cost-saver": "enabled", "Environment": "prd"})
    aws.group(HOME, "stage", (1, 2, 1), {"cost-saver": "enabled", "Stage": "production"})
    saver = cost_saver(regions=[HOME])

    stopped = saver.run("stop")

    assert saver.resource_mutations() == []
    assert aws.node_group_capacity(HOME, "live", "general") == (2, 6, 3)
    assert aws.service_desired(HOME, "live", "api") == 3
    assert [aws.group_capacity(HOME, g) for g in ("env-prod", "prd", "stage")] == [(1, 2, 1)] * 3
    report = outcomes(stopped)
    assert "in EKS cluster live, tagged environment='prod'" in str(
        report[(HOME, "eks-nodegroup", "live/general")]["reason"]
    )
    assert "in ECS cluster live, tagged environment='prod'" in str(
        report[(HOME, "ecs-service", "live/api")]["reason"]
    )
    assert {o["result"] for o in report.values()} == {"skipped"}


def test_after_the_table_is_emptied_scaling_kinds_fail_loudly_and_machines_start(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    aws.node_group(HOME, "dev", "general", (2, 6, 3), OPTED_IN)
    aws.service(HOME, "apps", "api", 3, OPTED_IN)
    (instance,) = aws.instances(HOME, 1, OPTED_IN)
    aws.database(HOME, "orders", OPTED_IN)
    aws.aurora(HOME, "reports", OPTED_IN)
    saver = cost_saver(regions=[HOME])
    saver.run("stop")
    aws.empty_table()

    raised = saver.run_failing("start")

    assert aws.group_capacity(HOME, "web") == (0, 0, 0)
    assert aws.node_group_capacity(HOME, "dev", "general") == (0, 6, 0)
    assert aws.service_desired(HOME, "apps", "api") == 0
    assert aws.instance_state(HOME, instance) == "running"
    assert aws.database_status(HOME, "orders") == "available"
    assert aws.aurora_status(HOME, "reports") == "available"
    errors = {(str(e["kind"]), str(e["id"])): str(e["error"]) for e in raised.report.errors()}
    assert set(errors) == {
        ("autoscaling-group", "web"),
        ("eks-nodegroup", "dev/general"),
        ("ecs-service", "apps/api"),
    }
    assert errors[("autoscaling-group", "web")].startswith(
        "parked (min 0, max 0, desired 0) with nothing saved: the saved state is gone"
    )
    assert (
        "fix: set its capacity by hand: aws autoscaling update-auto-scaling-group --region "
        "eu-west-1 --auto-scaling-group-name web --min-size <min>"
    ) in errors[("autoscaling-group", "web")]
    assert (
        "aws ecs update-service --region eu-west-1 --cluster apps --service api"
        in errors[("ecs-service", "apps/api")]
    )


def test_what_was_already_parked_at_the_stop_is_idle_and_stays_parked_without_alarm(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "batch", (0, 4, 0), OPTED_IN)
    (stopped_instance,) = aws.instances(HOME, 1, OPTED_IN)
    aws.client("ec2", HOME).stop_instances(InstanceIds=[stopped_instance])
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    saver = cost_saver(regions=[HOME])

    saver.run("stop")

    assert aws.idle() == {
        (HOME, "autoscaling-group", "batch"),
        (HOME, "ec2-instance", stopped_instance),
    }

    started = saver.run("start")

    assert started["errors"] == []
    assert aws.group_capacity(HOME, "batch") == (0, 4, 0)
    assert aws.instance_state(HOME, stopped_instance) == "stopped"
    assert aws.group_capacity(HOME, "web") == (1, 4, 2)
    assert aws.saved_items() == []
    batch = outcomes(started)[(HOME, "autoscaling-group", "batch")]
    assert batch["reason"].startswith("was already parked when the evening stop ran")


def asg_tag(aws: Fleet, name: str, key: str, value: str | None) -> None:
    tag = {"ResourceId": name, "ResourceType": "auto-scaling-group", "Key": key}
    autoscaling = aws.client("autoscaling", HOME)
    if value is None:
        autoscaling.delete_tags(Tags=[tag])
    else:
        autoscaling.create_or_update_tags(
            Tags=[{**tag, "Value": value, "PropagateAtLaunch": False}]
        )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("production tag", "tagged environment='prod'"),
        ("opt-in removed", "its cost-saver tag was removed"),
    ],
)
def test_a_parked_group_that_may_no_longer_be_touched_fails_and_keeps_its_record(
    aws: Fleet, cost_saver: Callable[..., CostSaver], change: str, expected: str
) -> None:
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    saver = cost_saver(regions=[HOME])
    saver.run("stop")
    if change == "production tag":
        asg_tag(aws, "web", "environment", "prod")
    else:
        asg_tag(aws, "web", "cost-saver", None)
    saved = aws.saved()

    raised = saver.run_failing("start")

    assert aws.group_capacity(HOME, "web") == (0, 0, 0)
    assert aws.saved() == saved
    (error,) = raised.report.errors()
    message = str(error["error"])
    assert message.startswith(f"parked by the cost saver, but now {expected}")
    assert ": left as it is, saved capacity kept\n" in message
    assert (
        "  fix: restore it by hand (aws autoscaling update-auto-scaling-group --region eu-west-1 "
        "--auto-scaling-group-name web --min-size 1 --max-size 4 --desired-capacity 2)"
    ) in message

    # Undone (tag put back): the next start restores it and clears the record.
    asg_tag(
        aws,
        "web",
        "cost-saver" if change == "opt-in removed" else "environment",
        "enabled" if change == "opt-in removed" else "dev",
    )
    saver.run("start")

    assert aws.group_capacity(HOME, "web") == (1, 4, 2)
    assert aws.saved() == {}


def test_a_node_group_whose_cluster_became_production_overnight_fails_and_keeps_its_record(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.node_group(HOME, "dev", "general", (2, 6, 3), OPTED_IN)
    saver = cost_saver(regions=[HOME])
    saver.run("stop")
    eks = aws.client("eks", HOME)
    eks.tag_resource(
        resourceArn=eks.describe_cluster(name="dev")["cluster"]["arn"], tags={"environment": "prod"}
    )
    saved = aws.saved()

    raised = saver.run_failing("start")

    assert aws.node_group_capacity(HOME, "dev", "general") == (0, 6, 0)
    assert aws.saved() == saved
    (error,) = raised.report.errors()
    message = str(error["error"])
    assert message.startswith(
        "parked by the cost saver, but now in EKS cluster dev, tagged environment='prod'"
    )
    assert "aws eks update-nodegroup-config --region eu-west-1 --cluster-name dev" in message
    assert "minSize=2,maxSize=6,desiredSize=3" in message


class GroupsInTransition(AutoScalingGroups):
    """Auto Scaling groups as the morning may find one: not at zero yet, still changing."""

    def discover(
        self, clients: RegionClients, opt_in: OptIn, *, also: Collection[str] = ()
    ) -> list[Resource]:
        return [
            replace(
                group,
                capacity={**group.capacity, "desired": 1},
                parked=False,
                blocked="group status is Updating",
            )
            for group in super().discover(clients, opt_in, also=also)
        ]


def test_a_saved_resource_found_in_transition_keeps_its_record_and_fails(
    aws: Fleet, cost_saver: Callable[..., CostSaver]
) -> None:
    aws.group(HOME, "web", (1, 4, 2), OPTED_IN)
    cost_saver(regions=[HOME]).run("stop")
    saved = aws.saved()
    saver = cost_saver(
        regions=[HOME], kinds={**REGISTRY, "autoscaling-group": GroupsInTransition()}
    )

    raised = saver.run_failing("start")

    assert "UpdateAutoScalingGroup" not in saver.operations()
    assert aws.saved() == saved
    (error,) = raised.report.errors()
    assert str(error["error"]).startswith(
        "parked by the cost saver, but now group status is Updating: left as it is"
    )
