"""The cost saver's fault suite, on moto's HTTP server: nothing stranded, nothing silent.

Each fault asserts three things: where every resource of the fleet ends, what
is left in the table, and whether the alarm condition fired (the Lambda run
ended in an error: an exception out of the handler, or a killed process;
the template's ErrorsAlarm counts exactly those). The handler runs unchanged
through ``cost_saver.handler.run``, with a boto3 session of its own on which
the faults are hooked: a process killed with SIGKILL half-way, a second run
started inside the first, the table emptied or gone, an item edited, changes
made overnight, production tags, and throttling.

docs/cost-saver.md ("Faults") holds the table these tests prove.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import boto3
import botocore.endpoint
import pytest

from cost_saver import handler
from cost_saver.store import LeaseHeldError, StoreError, create_table
from tests.integration.lambda_zip import ROOT, moto_server
from tests.unit.cost_saver.conftest import Throttle

HOME = "eu-west-1"
TABLE = "cost-saver"
ROLE = "arn:aws:iam::123456789012:role/test"
TAGS = {"cost-saver": "enabled", "environment": "dev"}
PAIRS = [{"Key": k, "Value": v} for k, v in TAGS.items()]
# After a lease's run was killed: far enough ahead for it to have expired.
LATER = 3600.0

pytestmark = pytest.mark.tools


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server() as url:
        for name, value in {
            "AWS_ENDPOINT_URL": url,
            "AWS_REGION": HOME,
            "COST_SAVER_TABLE": TABLE,
            "COST_SAVER_REGIONS": HOME,
        }.items():
            monkeypatch.setenv(name, value)
        yield url


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry sleeps, recorded instead of slept (botocore.endpoint's ``time`` only)."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=slept.append))
    return slept


def client(service: str) -> Any:
    return boto3.client(service, region_name=HOME)


def build_fleet() -> None:
    """Two groups, a node group, a service, two instances, a database."""
    create_table(client("dynamodb"), TABLE)
    autoscaling = client("autoscaling")
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId="ami-12c6146b", InstanceType="t3.micro"
    )
    for name, (low, high, desired) in {"web": (1, 4, 2), "api": (2, 5, 3)}.items():
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchConfigurationName="lc",
            MinSize=low,
            MaxSize=high,
            DesiredCapacity=desired,
            AvailabilityZones=[f"{HOME}a"],
            Tags=[{**pair, "PropagateAtLaunch": False} for pair in PAIRS],
        )
    eks = client("eks")
    eks.create_cluster(name="dev", roleArn=ROLE, resourcesVpcConfig={}, tags=TAGS)
    eks.create_nodegroup(
        clusterName="dev",
        nodegroupName="general",
        nodeRole=ROLE,
        subnets=["subnet-1"],
        scalingConfig={"minSize": 1, "maxSize": 5, "desiredSize": 2},
        tags=TAGS,
    )
    ecs = client("ecs")
    ecs.create_cluster(clusterName="apps", tags=[{"key": k, "value": v} for k, v in TAGS.items()])
    ecs.register_task_definition(
        family="app", containerDefinitions=[{"name": "app", "image": "app", "memory": 64}]
    )
    ecs.create_service(
        cluster="apps",
        serviceName="api",
        taskDefinition="app",
        desiredCount=3,
        tags=[{"key": k, "value": v} for k, v in TAGS.items()],
    )
    client("ec2").run_instances(
        ImageId="ami-12c6146b",
        MinCount=2,
        MaxCount=2,
        TagSpecifications=[{"ResourceType": "instance", "Tags": PAIRS}],
    )
    client("rds").create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
        Tags=PAIRS,
    )


RUNNING = {
    "web": (1, 4, 2),
    "api": (2, 5, 3),
    "dev/general": (1, 5, 2),
    "apps/api": 3,
    "instances": ["running", "running"],
    "orders": "available",
}
PARKED = {
    "web": (0, 0, 0),
    "api": (0, 0, 0),
    "dev/general": (0, 5, 0),
    "apps/api": 0,
    "instances": ["stopped", "stopped"],
    "orders": "stopped",
}


def fleet() -> dict[str, object]:
    """Every resource, read back from the server."""
    groups = {
        g["AutoScalingGroupName"]: (g["MinSize"], g["MaxSize"], g["DesiredCapacity"])
        for g in client("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
    }
    scaling = client("eks").describe_nodegroup(clusterName="dev", nodegroupName="general")[
        "nodegroup"
    ]["scalingConfig"]
    reservations = client("ec2").describe_instances(
        Filters=[{"Name": "tag:cost-saver", "Values": ["enabled"]}]
    )["Reservations"]
    return {
        "web": groups["web"],
        "api": groups["api"],
        "dev/general": (scaling["minSize"], scaling["maxSize"], scaling["desiredSize"]),
        "apps/api": client("ecs").describe_services(cluster="apps", services=["api"])["services"][
            0
        ]["desiredCount"],
        "instances": sorted(i["State"]["Name"] for r in reservations for i in r["Instances"]),
        "orders": client("rds").describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][
            0
        ]["DBInstanceStatus"],
    }


def table() -> dict[str, object]:
    """What the table holds: each saved capacity by kind and id, ids recorded idle, the lease."""
    items = client("dynamodb").scan(TableName=TABLE)["Items"]
    saved: dict[str, object] = {}
    for item in items:
        if item["resource"]["S"] == "#lease":
            saved["lease"] = item["action"]["S"]
        elif "entries" in item:
            for resource_id, capacity in json.loads(item["entries"]["S"]).get("parked", {}).items():
                saved[f"{item['kind']['S']} {resource_id}"] = capacity
    return saved


def saved_ids() -> set[str]:
    return {key for key in table() if key != "lease"}


@dataclass(frozen=True, kw_only=True)
class Run:
    report: dict[str, Any] | None
    error: BaseException | None

    @property
    def alarm(self) -> bool:
        """What the ErrorsAlarm counts: a run that ended in an error."""
        return self.error is not None

    def errors(self) -> list[dict[str, Any]]:
        report = getattr(self.error, "report", None)
        return report.errors() if report is not None else []


def invoke(
    action: str,
    *,
    clock_offset: float = 0.0,
    hook: Callable[[boto3.session.Session], None] | None = None,
) -> Run:
    """One Lambda invocation, the handler unchanged, on a session of its own (hooked first)."""
    session = boto3.session.Session()
    if hook is not None:
        hook(session)
    try:
        report = handler.run(
            {"action": action, "dry_run": False},
            None,
            session=session,
            clock=lambda: time.time() + clock_offset,
        )
    except Exception as error:  # noqa: BLE001 - a failed run is what these tests look at.
        return Run(report=None, error=error)
    return Run(report=report, error=None)


def on_call(operation: str, then: Callable[[], None], *, nth: int = 1) -> Callable[[Any], None]:
    """A hook that runs ``then`` just before the ``nth`` call of ``operation``."""

    def hook(session: Any) -> None:
        seen = []

        def before(model: Any, **_: Any) -> None:
            if model.name == operation:
                seen.append(1)
                if len(seen) == nth:
                    then()

        session.events.register("before-call", before)

    return hook


KILL_DRIVER = """
import os, signal, sys
import boto3
from cost_saver import handler
action, operation, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
session = boto3.session.Session()
seen = []
def kill(model, **_):
    if model.name == operation:
        seen.append(1)
        if len(seen) == nth:
            os.kill(os.getpid(), signal.SIGKILL)  # No finally, no cleanup: a real kill.
session.events.register("before-call", kill)
handler.run({"action": action, "dry_run": False}, None, session=session)
"""


def killed(action: str, operation: str, nth: int) -> int:
    """Run the handler in its own process and SIGKILL it at the nth call of ``operation``."""
    result = subprocess.run(
        [sys.executable, "-c", KILL_DRIVER, action, operation, str(nth)],
        cwd=ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return result.returncode


# --- a run killed half-way ------------------------------------------------------------


def test_a_stop_killed_half_way_strands_nothing(endpoint: str) -> None:
    build_fleet()

    # Killed after the region's state was saved, the first group parked, the second not.
    assert killed("stop", "UpdateAutoScalingGroup", nth=2) == -signal.SIGKILL
    half = fleet()
    (parked,) = [name for name in ("web", "api") if half[name] == (0, 0, 0)]
    assert half == {**RUNNING, parked: (0, 0, 0)}
    saved = table()
    assert saved.pop("lease") == "stop"  # Held until it expires: nobody gave it back.
    assert set(saved) == {
        "autoscaling-group web",
        "autoscaling-group api",
        "eks-nodegroup dev/general",
        "ecs-service apps/api",
        "rds-instance orders",
    } | {key for key in saved if key.startswith("ec2-instance ")}

    # A run while that lease holds is refused, and changes nothing.
    refused = invoke("stop")
    assert isinstance(refused.error, LeaseHeldError)
    assert refused.alarm
    assert fleet() == half

    # The morning, after the lease expired: everything as it was, nothing left saved.
    morning = invoke("start", clock_offset=LATER)
    assert not morning.alarm, morning.error
    assert fleet() == RUNNING
    assert table() == {}
    assert morning.report is not None
    assert "took over the expired lease of a stop run" in morning.report["notes"][0]


def test_a_start_killed_half_way_is_finished_by_the_next_start(endpoint: str) -> None:
    build_fleet()
    assert not invoke("stop").alarm

    # A start restores databases first, groups last: killed before the second group.
    assert killed("start", "UpdateAutoScalingGroup", nth=2) == -signal.SIGKILL
    half = fleet()
    (still_parked,) = [name for name in ("web", "api") if half[name] == (0, 0, 0)]
    assert half == {**RUNNING, still_parked: (0, 0, 0)}
    # Nothing was cleared: the run died before its one write.
    assert {"autoscaling-group web", "autoscaling-group api"} <= saved_ids()

    again = invoke("start", clock_offset=LATER)

    assert not again.alarm, again.error
    assert fleet() == RUNNING
    assert table() == {}


# --- overlapping runs ---------------------------------------------------------------------


def test_a_start_between_a_stops_save_and_its_park_is_refused(endpoint: str) -> None:
    build_fleet()
    overlapping: list[Run] = []

    stop = invoke(
        "stop", hook=on_call("UpdateAutoScalingGroup", lambda: overlapping.append(invoke("start")))
    )

    (start,) = overlapping
    assert isinstance(start.error, LeaseHeldError)
    assert start.alarm
    assert not stop.alarm, stop.error
    assert fleet() == PARKED
    assert "autoscaling-group web" in table()
    assert "lease" not in table()

    assert not invoke("start").alarm
    assert fleet() == RUNNING
    assert table() == {}


def test_a_stop_between_a_starts_restore_and_its_clear_is_refused(endpoint: str) -> None:
    build_fleet()
    assert not invoke("stop").alarm
    overlapping: list[Run] = []

    start = invoke(
        "start", hook=on_call("TransactWriteItems", lambda: overlapping.append(invoke("stop")))
    )

    (stop,) = overlapping
    assert isinstance(stop.error, LeaseHeldError)
    assert stop.alarm
    assert not start.alarm, start.error
    assert fleet() == RUNNING
    assert table() == {}


def test_a_run_that_outlived_its_lease_cannot_overwrite_the_newer_runs_state(
    endpoint: str,
) -> None:
    build_fleet()
    newer: list[Run] = []

    # Just before the old run saves, a newer one (an hour later: the old lease
    # has expired) takes the lease over and does the whole stop.
    old = invoke(
        "stop",
        hook=on_call(
            "TransactWriteItems", lambda: newer.append(invoke("stop", clock_offset=LATER))
        ),
    )

    assert not newer[0].alarm, newer[0].error
    assert old.alarm
    assert all("lease was taken over" in str(e["error"]) for e in old.errors())
    assert fleet() == PARKED
    saved = table()
    assert saved["autoscaling-group web"] == {"min": 1, "max": 4, "desired": 2}

    assert not invoke("start", clock_offset=LATER).alarm
    assert fleet() == RUNNING


# --- lost or corrupt state ---------------------------------------------------------------


def test_a_table_emptied_overnight_fails_loudly_and_starts_what_needs_no_numbers(
    endpoint: str,
) -> None:
    build_fleet()
    assert not invoke("stop").alarm
    dynamodb = client("dynamodb")
    for item in dynamodb.scan(TableName=TABLE)["Items"]:
        dynamodb.delete_item(
            TableName=TABLE, Key={"region": item["region"], "resource": item["resource"]}
        )

    start = invoke("start")

    assert start.alarm
    assert fleet() == {
        **PARKED,
        "instances": ["running", "running"],
        "orders": "available",
    }
    assert table() == {}
    assert {(e["kind"], e["id"]) for e in start.errors()} == {
        ("autoscaling-group", "web"),
        ("autoscaling-group", "api"),
        ("eks-nodegroup", "dev/general"),
        ("ecs-service", "apps/api"),
    }
    assert all("with nothing saved" in str(e["error"]) for e in start.errors())


def test_a_deleted_table_stops_the_run_before_anything_is_touched(endpoint: str) -> None:
    build_fleet()
    assert not invoke("stop").alarm
    client("dynamodb").delete_table(TableName=TABLE)

    start = invoke("start")

    assert isinstance(start.error, StoreError)
    assert "the table does not exist" in str(start.error)
    assert fleet() == PARKED


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        (
            lambda e: {
                **e,
                "parked": {**e["parked"], "web": {"min": 0, "max": 500, "desired": 500}},
            },
            "max 500, desired 500 is above the ceiling of 100",
        ),
        (lambda e: "{not json", "entries is not JSON"),
    ],
)
def test_an_edited_item_is_refused_and_its_resources_left_as_they_are(
    endpoint: str, entries: Callable[[dict[str, Any]], object], problem: str
) -> None:
    build_fleet()
    assert not invoke("stop").alarm
    dynamodb = client("dynamodb")
    key = {"region": {"S": HOME}, "resource": {"S": "state#autoscaling-group#000"}}
    item = dynamodb.get_item(TableName=TABLE, Key=key)["Item"]
    edited = entries(json.loads(item["entries"]["S"]))
    item["entries"] = {"S": edited if isinstance(edited, str) else json.dumps(edited)}
    dynamodb.put_item(TableName=TABLE, Item=item)

    start = invoke("start")

    assert start.alarm
    assert problem in str(start.errors()[0]["error"])
    after = fleet()
    assert after["web"] == (0, 0, 0)
    # A bad entry fails its resource; an unreadable item, its whole kind.
    assert after["api"] == ((0, 0, 0) if "JSON" in problem else (2, 5, 3))
    assert {k: v for k, v in after.items() if k not in ("web", "api")} == {
        k: v for k, v in RUNNING.items() if k not in ("web", "api")
    }
    kept = dynamodb.get_item(TableName=TABLE, Key=key)["Item"]["entries"]["S"]
    if not isinstance(edited, dict):
        assert kept == edited  # Never overwritten: someone must fix it.
    else:
        # The bad entry stays for someone to fix; api's, applied, is cleared.
        assert json.loads(kept)["parked"] == {"web": edited["parked"]["web"]}


# --- overnight changes and production tags ------------------------------------------------


def test_overnight_changes_of_every_kind_are_merged(endpoint: str) -> None:
    build_fleet()
    assert not invoke("stop").alarm
    client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="web", MinSize=1, MaxSize=3, DesiredCapacity=1
    )
    client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName="api", MinSize=0, MaxSize=9, DesiredCapacity=7
    )
    client("eks").update_nodegroup_config(
        clusterName="dev",
        nodegroupName="general",
        scalingConfig={"minSize": 0, "maxSize": 5, "desiredSize": 1},
    )
    client("ecs").update_service(cluster="apps", service="api", desiredCount=1)
    ec2 = client("ec2")
    first = ec2.describe_instances(Filters=[{"Name": "tag:cost-saver", "Values": ["enabled"]}])[
        "Reservations"
    ][0]["Instances"][0]["InstanceId"]
    ec2.start_instances(InstanceIds=[first])
    client("rds").start_db_instance(DBInstanceIdentifier="orders")

    start = invoke("start")

    assert not start.alarm, start.error
    # Saved min and max, the larger desired: api was scaled up to 7, which it
    # keeps, with max raised from the saved 5 to 7 to hold it.
    assert fleet() == {**RUNNING, "api": (2, 7, 7)}
    assert table() == {}
    assert start.report is not None
    changed = {r["id"]: r["changed_while_parked"] for r in start.report["resources"]}
    assert changed["web"] == {
        "min": {"parked": 0, "found": 1},
        "max": {"parked": 0, "found": 3},
        "desired": {"parked": 0, "found": 1},
    }
    assert changed["dev/general"] == {"desired": {"parked": 0, "found": 1}}
    assert changed["apps/api"] == {"desired": {"parked": 0, "found": 1}}
    assert changed[first] == {"state": {"parked": "stopped", "found": "running"}}
    assert changed["orders"] == {"status": {"parked": "stopped", "found": "available"}}


def test_resources_in_production_clusters_are_never_parked(endpoint: str) -> None:
    build_fleet()
    eks = client("eks")
    eks.tag_resource(
        resourceArn=eks.describe_cluster(name="dev")["cluster"]["arn"], tags={"environment": "prod"}
    )
    ecs = client("ecs")
    ecs.tag_resource(
        resourceArn=ecs.describe_clusters(clusters=["apps"])["clusters"][0]["clusterArn"],
        tags=[{"key": "environment", "value": "Production"}],
    )

    stop = invoke("stop")

    assert not stop.alarm, stop.error
    assert fleet() == {**PARKED, "dev/general": (1, 5, 2), "apps/api": 3}
    assert not {"eks-nodegroup dev/general", "ecs-service apps/api"} & saved_ids()


def test_a_parent_tagged_production_while_parked_fails_and_keeps_the_record(
    endpoint: str,
) -> None:
    build_fleet()
    assert not invoke("stop").alarm
    eks = client("eks")
    eks.tag_resource(
        resourceArn=eks.describe_cluster(name="dev")["cluster"]["arn"], tags={"environment": "prod"}
    )

    start = invoke("start")

    assert start.alarm
    assert fleet() == {**RUNNING, "dev/general": (0, 5, 0)}
    assert table() == {"eks-nodegroup dev/general": {"min": 1, "max": 5, "desired": 2}}
    (error,) = start.errors()
    assert "now in EKS cluster dev, tagged environment='prod'" in str(error["error"])


# --- throttling -------------------------------------------------------------------------------


def throttled(throttle: Throttle) -> Callable[[Any], None]:
    def hook(session: Any) -> None:
        # Against a server, answering in before-send means the request is never sent.
        session.events.register(
            "before-send", lambda request, event_name, **_: throttle.respond(request, event_name)
        )

    return hook


def test_every_call_throttled_three_times_still_parks_everything(
    endpoint: str, no_backoff: list[float]
) -> None:
    build_fleet()
    throttle = Throttle(times=3)

    stop = invoke("stop", hook=throttled(throttle))

    assert not stop.alarm, stop.error
    assert fleet() == PARKED
    calls = len({(s, o) for s, o, _ in throttle.sends})
    assert calls > 0
    assert {attempt for _, _, attempt in throttle.sends} == {1, 2, 3, 4}
    assert len(no_backoff) == 3 * sum(1 for *_, attempt in throttle.sends if attempt == 4)


def test_every_call_refused_touches_nothing_and_alarms(
    endpoint: str, no_backoff: list[float]
) -> None:
    build_fleet()
    throttle = Throttle()

    stop = invoke("stop", hook=throttled(throttle))

    assert isinstance(stop.error, StoreError)
    assert "the saved-state lease could not be taken" in str(stop.error)
    assert fleet() == RUNNING
    assert table() == {}
    # The first call (the lease) spent the budget, and nothing else was tried.
    assert throttle.sends == [
        ("dynamodb", "PutItem", n) for n in range(1, handler.RETRY_ATTEMPTS + 1)
    ]
    assert len(no_backoff) == handler.RETRY_ATTEMPTS - 1


def test_a_kind_refused_every_time_is_left_running_and_the_rest_parked(
    endpoint: str, no_backoff: list[float]
) -> None:
    build_fleet()
    throttle = Throttle(operations={"UpdateAutoScalingGroup"})

    stop = invoke("stop", hook=throttled(throttle))

    assert stop.alarm
    assert fleet() == {**PARKED, "web": (1, 4, 2), "api": (2, 5, 3)}
    # Saved before parking, so the groups have records: harmless, the start finds
    # them running at those capacities and clears them.
    assert {"autoscaling-group web", "autoscaling-group api"} <= saved_ids()
    assert throttle.count("UpdateAutoScalingGroup") == handler.RETRY_ATTEMPTS
    assert no_backoff

    assert not invoke("start").alarm
    assert fleet() == RUNNING
    assert table() == {}
