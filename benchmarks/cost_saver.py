"""API calls of the cost saver over a big two-region fleet, and the fleet checked after each action.

The fleet: 2,000 EC2 instances, 50 Auto Scaling groups, 20 EKS node groups,
20 RDS instances and 50 ECS services, spread over two regions, in moto
(in-process), every one opted in and tagged ``environment=dev``. It runs a
stop, then a start, through the handler's own code path, counting every API
call with a botocore ``before-call`` hook (one per logical call, before
retries) and every attempt sent with ``before-send``, adding 20 ms to each
call (the order of a real AWS round trip, so the wall time says how a run
scales; nothing is asserted on it).

After each action it reads every resource back from moto with clients of
its own and fails on any that is not where it should be (parked after the
stop; exactly its capacity of before after the start): the handler's report
is not taken on trust.

Then the throttled fleet: the 2,000 instances alone, stopped and started
with every call throttled three times (an injected 503 RequestLimitExceeded,
or each service's own throttling error) before it goes through. botocore's
backoff is counted, not slept.

    .venv/bin/python benchmarks/cost_saver.py [--scale 1.0] [--latency-ms 20]

Targets: at most 200 calls per action for the full fleet (140 of them are
the one mutating call per group, node group, service and database that no
API batches); EC2 at most 1 mutating call per 500 instances; the throttled
stop and start succeed with every instance back. The ratio against a
per-resource scheduler (the same listing calls, then one mutating call and
one state write per resource on a stop, one state read, one mutating call
and one state delete per resource on a start) is printed. Exits 1 when a
target is missed or a resource is not where it should be. moto's
DescribeInstances costs about 3 ms per instance, so the whole run takes a
minute or two.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast
from zoneinfo import ZoneInfo

import boto3
import botocore.endpoint
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.core.models import botocore_stubber

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cost_saver.guard import EnvironmentGuard
from cost_saver.handler import build_clients, client_config, handle
from cost_saver.kinds import REGISTRY, ResourceKind
from cost_saver.kinds.ec2_instances import Ec2Instances
from cost_saver.model import Action, OptIn
from cost_saver.settings import DEFAULT_MAX_CAPACITY, Event, Settings
from cost_saver.store import DynamoDbStore, create_table

REGIONS = ("eu-west-1", "us-east-1")
TABLE = "cost-saver-benchmark"
AMI = "ami-12c6146b"
ROLE = "arn:aws:iam::123456789012:role/benchmark"
TAG_DICT = {"cost-saver": "enabled", "environment": "dev"}
TAGS = [{"Key": key, "Value": value} for key, value in TAG_DICT.items()]
EC2_MUTATING = {"StopInstances", "StartInstances"}
READ_ONLY = ("Describe", "List", "Get", "Query", "Scan")
CALL_TARGET = 200
THROTTLES_PER_CALL = 3

# The handler's entry point, replaceable so a test can plant one that lies.
Handle = Callable[..., dict[str, object]]


@dataclass(frozen=True, kw_only=True)
class Fleet:
    """What was built, and the capacity each resource had: what the start must give back."""

    instances: Mapping[str, list[str]]
    groups: Mapping[str, dict[str, tuple[int, int, int]]]
    node_groups: Mapping[str, dict[str, tuple[int, int, int]]]
    databases: Mapping[str, list[str]]
    services: Mapping[str, dict[str, int]]

    def count(self, part: str) -> int:
        return sum(len(by_region) for by_region in getattr(self, part).values())

    @property
    def total(self) -> int:
        return sum(
            self.count(part)
            for part in ("instances", "groups", "node_groups", "databases", "services")
        )

    @property
    def non_ec2(self) -> int:
        return self.total - self.count("instances")


def per_region(total: int, scale: float) -> int:
    return max(1, round(total * scale / len(REGIONS)))


def build_fleet(scale: float) -> Fleet:
    counts = {
        "instances": per_region(2000, scale),
        "groups": per_region(50, scale),
        "node_groups": per_region(20, scale),
        "databases": per_region(20, scale),
        "services": per_region(50, scale),
    }
    create_table(boto3.client("dynamodb", region_name=REGIONS[0]), TABLE)
    return Fleet(
        instances={region: _instances(region, counts["instances"]) for region in REGIONS},
        groups={region: _groups(region, counts["groups"]) for region in REGIONS},
        node_groups={region: _node_groups(region, counts["node_groups"]) for region in REGIONS},
        databases={region: _databases(region, counts["databases"]) for region in REGIONS},
        services={region: _services(region, counts["services"]) for region in REGIONS},
    )


def _instances(region: str, count: int) -> list[str]:
    ec2 = boto3.client("ec2", region_name=region)
    ids: list[str] = []
    # Reservations of 100, as launches usually come: DescribeInstances pages by them.
    while len(ids) < count:
        size = min(100, count - len(ids))
        reply = ec2.run_instances(
            ImageId=AMI,
            MinCount=size,
            MaxCount=size,
            TagSpecifications=[{"ResourceType": "instance", "Tags": TAGS}],
        )
        ids += [instance["InstanceId"] for instance in reply["Instances"]]
    return ids


def _groups(region: str, count: int) -> dict[str, tuple[int, int, int]]:
    autoscaling = boto3.client("autoscaling", region_name=region)
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId=AMI, InstanceType="t3.micro"
    )
    groups: dict[str, tuple[int, int, int]] = {}
    for number in range(count):
        name, capacity = f"group-{number}", (1, 3 + number % 3, 1 + number % 2)
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchConfigurationName="lc",
            MinSize=capacity[0],
            MaxSize=capacity[1],
            DesiredCapacity=capacity[2],
            AvailabilityZones=[f"{region}a"],
            # Not propagated: the benchmark's EC2 instances are the 2,000 loose ones.
            Tags=[{**tag, "PropagateAtLaunch": False} for tag in TAGS],
        )
        groups[name] = capacity
    return groups


def _node_groups(region: str, count: int) -> dict[str, tuple[int, int, int]]:
    eks = boto3.client("eks", region_name=region)
    eks.create_cluster(name="dev", roleArn=ROLE, resourcesVpcConfig={}, tags=TAG_DICT)
    groups: dict[str, tuple[int, int, int]] = {}
    for number in range(count):
        name, capacity = f"nodes-{number}", (1, 5 + number, 2)
        eks.create_nodegroup(
            clusterName="dev",
            nodegroupName=name,
            nodeRole=ROLE,
            subnets=["subnet-1"],
            scalingConfig={
                "minSize": capacity[0],
                "maxSize": capacity[1],
                "desiredSize": capacity[2],
            },
            tags=TAG_DICT,
        )
        groups[name] = capacity
    return groups


def _databases(region: str, count: int) -> list[str]:
    rds = boto3.client("rds", region_name=region)
    names = [f"db-{number}" for number in range(count)]
    for name in names:
        rds.create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="admin",
            MasterUserPassword="not-a-secret-1",
            AllocatedStorage=20,
            Tags=TAGS,
        )
    return names


def _services(region: str, count: int) -> dict[str, int]:
    ecs = boto3.client("ecs", region_name=region)
    ecs_tags = [{"key": key, "value": value} for key, value in TAG_DICT.items()]
    ecs.create_cluster(clusterName="apps", tags=ecs_tags)
    ecs.register_task_definition(
        family="app", containerDefinitions=[{"name": "app", "image": "app", "memory": 64}]
    )
    services: dict[str, int] = {}
    for number in range(count):
        name, desired = f"service-{number}", 1 + number % 4
        ecs.create_service(
            cluster="apps",
            serviceName=name,
            taskDefinition="app",
            desiredCount=desired,
            tags=ecs_tags,
        )
        services[name] = desired
    return services


def check_fleet(fleet: Fleet, action: Action, *, only_instances: bool = False) -> list[str]:
    """Every resource read back from AWS with clients of its own: what is not where it should be."""
    parked = action is Action.STOP
    problems: list[str] = []
    for region in REGIONS:
        ec2 = boto3.client("ec2", region_name=region)
        states = {
            instance["InstanceId"]: instance["State"]["Name"]
            for page in ec2.get_paginator("describe_instances").paginate(
                InstanceIds=fleet.instances[region]
            )
            for reservation in page["Reservations"]
            for instance in reservation["Instances"]
        }
        wanted = "stopped" if parked else "running"
        problems += [
            f"{region} ec2-instance {i}: {states.get(i)}, expected {wanted}"
            for i in fleet.instances[region]
            if states.get(i) != wanted
        ]
        if not only_instances:
            problems += _check_others(fleet, region, parked=parked)
    return problems


def _check_others(fleet: Fleet, region: str, *, parked: bool) -> list[str]:
    problems: list[str] = []
    autoscaling = boto3.client("autoscaling", region_name=region)
    found_groups = {
        group["AutoScalingGroupName"]: (
            group["MinSize"],
            group["MaxSize"],
            group["DesiredCapacity"],
        )
        for page in autoscaling.get_paginator("describe_auto_scaling_groups").paginate()
        for group in page["AutoScalingGroups"]
    }
    for name, capacity in fleet.groups[region].items():
        wanted = (0, 0, 0) if parked else capacity
        if found_groups.get(name) != wanted:
            problems.append(
                f"{region} autoscaling-group {name}: {found_groups.get(name)}, expected {wanted}"
            )
    eks = boto3.client("eks", region_name=region)
    for name, capacity in fleet.node_groups[region].items():
        scaling = eks.describe_nodegroup(clusterName="dev", nodegroupName=name)["nodegroup"][
            "scalingConfig"
        ]
        found = (scaling["minSize"], scaling["maxSize"], scaling["desiredSize"])
        wanted = (0, capacity[1], 0) if parked else capacity
        if found != wanted:
            problems.append(f"{region} eks-nodegroup dev/{name}: {found}, expected {wanted}")
    rds = boto3.client("rds", region_name=region)
    statuses = {
        db["DBInstanceIdentifier"]: db["DBInstanceStatus"]
        for page in rds.get_paginator("describe_db_instances").paginate()
        for db in page["DBInstances"]
    }
    wanted_status = "stopped" if parked else "available"
    problems += [
        f"{region} rds-instance {name}: {statuses.get(name)}, expected {wanted_status}"
        for name in fleet.databases[region]
        if statuses.get(name) != wanted_status
    ]
    ecs = boto3.client("ecs", region_name=region)
    names = list(fleet.services[region])
    for start in range(0, len(names), 10):
        for service in ecs.describe_services(cluster="apps", services=names[start : start + 10])[
            "services"
        ]:
            wanted_count = 0 if parked else fleet.services[region][service["serviceName"]]
            if service["desiredCount"] != wanted_count:
                problems.append(
                    f"{region} ecs-service apps/{service['serviceName']}: desired "
                    f"{service['desiredCount']}, expected {wanted_count}"
                )
    return problems


@dataclass(kw_only=True)
class CallMeter:
    """Counts every logical API call and every attempt sent; makes each call ``latency`` longer."""

    latency: float
    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    sends: int = 0

    def on_call(self, model: Any, **_: Any) -> None:
        self.calls[(model.service_model.service_name, model.name)] += 1
        if self.latency:
            time.sleep(self.latency)

    def on_send(self, **_: Any) -> None:
        self.sends += 1

    def clear(self) -> None:
        self.calls.clear()
        self.sends = 0


# Each protocol's own way of saying "throttled": botocore's standard mode
# reads the code, and charges a throttled retry less of its retry quota.
_THROTTLED: Mapping[str, tuple[dict[str, str], bytes]] = {
    "ec2": (
        {},
        b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit "
        b"exceeded.</Message></Error></Errors><RequestID>injected</RequestID></Response>",
    ),
    "query": (
        {},
        b"<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate "
        b"exceeded</Message></Error><RequestId>injected</RequestId></ErrorResponse>",
    ),
    "json": ({}, b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'),
    "rest-json": ({"x-amzn-ErrorType": "ThrottlingException"}, b'{"message": "Rate exceeded"}'),
}
_PROTOCOLS = {
    "ec2": "ec2",
    "auto-scaling": "query",
    "rds": "query",
    "dynamodb": "json",
    "ecs": "json",
    "eks": "rest-json",
}


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.content


@dataclass(kw_only=True)
class Throttle:
    """A ``before-send`` hook: the first ``times`` attempts of every call get a 503 throttle.

    It takes the place of moto's in-process stub on each client, so that a
    throttled attempt never reaches moto, as a throttled request never
    reaches AWS; the attempts that go through are handed to moto's stub.
    """

    times: int

    def __call__(self, request: Any, event_name: str, **kwargs: Any) -> Any:
        if request.context.get("retries", {}).get("attempt", 1) > self.times:
            return botocore_stubber(request=request, event_name=event_name, **kwargs)
        headers, body = _THROTTLED[_PROTOCOLS[event_name.split(".")[1]]]
        return AWSResponse(request.url, 503, headers, _Body(body))

    def install(self, client: Any) -> None:
        client.meta.events.unregister("before-send", botocore_stubber)
        client.meta.events.register("before-send", self)

    def remove(self, client: Any) -> None:
        client.meta.events.unregister("before-send", self)
        client.meta.events.register("before-send", botocore_stubber)


@contextmanager
def backoff_counted() -> Iterator[list[float]]:
    """botocore's retry sleeps, recorded instead of slept (botocore.endpoint's ``time`` only)."""
    slept: list[float] = []
    real = botocore.endpoint.time
    botocore.endpoint.time = SimpleNamespace(sleep=slept.append)
    try:
        yield slept
    finally:
        botocore.endpoint.time = real


def settings() -> Settings:
    return Settings(
        opt_in=OptIn(key="cost-saver", value="enabled"),
        guard=EnvironmentGuard(),
        ceiling=DEFAULT_MAX_CAPACITY,
        regions=REGIONS,
        skip_dates=frozenset(),
        timezone=ZoneInfo("UTC"),
        table=TABLE,
        home_region=REGIONS[0],
    )


@dataclass(kw_only=True)
class Runner:
    handle: Handle
    meter: CallMeter
    clients: Mapping[str, Any]
    store: DynamoDbStore

    def run(
        self, action: Action, kinds: Mapping[str, ResourceKind] = REGISTRY
    ) -> tuple[dict[str, object], float]:
        lines: list[Mapping[str, object]] = []
        self.meter.clear()
        started = time.perf_counter()
        try:
            report = self.handle(
                Event(action=action, dry_run=False),
                settings=settings(),
                clients=self.clients,
                store=self.store,
                today=date(2026, 11, 26),
                kinds=kinds,
                sink=lines.append,
            )
        except Exception as error:  # noqa: BLE001 - a failed run is a benchmark result: printed, then counted as missed.
            print(f"  the run failed: {str(error).splitlines()[0]}")
            report = {"counts": {"done": 0, "failed": -1}}
        return report, time.perf_counter() - started


def summarize(action: Action, calls: Counter[tuple[str, str]], fleet: Fleet, *, full: bool) -> bool:
    total = sum(calls.values())
    ec2_mutating = sum(n for (_, op), n in calls.items() if op in EC2_MUTATING)
    state = sum(n for (service, _), n in calls.items() if service == "dynamodb")
    reads = sum(n for (s, op), n in calls.items() if s != "dynamodb" and op.startswith(READ_ONLY))
    other_mutating = total - ec2_mutating - state - reads
    print(f"  calls by operation: {dict(sorted((f'{s}.{o}', n) for (s, o), n in calls.items()))}")
    print(
        f"  total calls {total}: reads {reads}, EC2 mutating {ec2_mutating}, other mutating "
        f"{other_mutating} (one per group, node group, service, database), lease and state {state}"
    )
    per_resource = 2 if action is Action.STOP else 3
    baseline = reads + per_resource * fleet.total
    print(
        f"  a per-resource scheduler would make {baseline} ({reads} reads + {per_resource} per "
        f"resource): {baseline / total:.1f}x more"
    )
    ec2_limit = max(len(REGIONS), fleet.count("instances") / 500)
    ec2_ok = ec2_mutating <= ec2_limit
    print(
        f"  EC2 mutating calls: {ec2_mutating} for {fleet.count('instances')} instances "
        f"(target <= {ec2_limit:g}): {'holds' if ec2_ok else 'MISSED'}"
    )
    if not full:
        print(f"  total calls target (<= {CALL_TARGET}): checked at --scale 1 and above only")
        return ec2_ok
    total_ok = total <= CALL_TARGET
    print(f"  total calls {total} (target <= {CALL_TARGET}): {'holds' if total_ok else 'MISSED'}")
    return ec2_ok and total_ok


def report_fleet(problems: Sequence[str], action: Action, expected: int) -> bool:
    if not problems:
        where = "parked" if action is Action.STOP else "back to its capacity"
        print(f"  fleet read back from AWS: all {expected} resources {where}")
        return True
    print(f"  FLEET CHECK FAILED: {len(problems)} resources not where they should be, e.g.:")
    for problem in problems[:5]:
        print(f"    {problem}")
    return False


def throttled(runner: Runner, fleet: Fleet, *, full: bool) -> bool:
    """The instances alone, every call throttled three times before it goes through."""
    count = fleet.count("instances")
    print(
        f"throttled fleet: {count} EC2 instances, every call throttled {THROTTLES_PER_CALL} "
        "times before it goes through"
    )
    throttle = Throttle(times=THROTTLES_PER_CALL)
    hooked = [runner.store.client] + [
        getattr(region_clients, service)
        for region_clients in runner.clients.values()
        for service in ("ec2", "autoscaling", "eks", "ecs", "rds")
    ]
    for client in hooked:
        throttle.install(client)
    ok = True
    try:
        for action in (Action.STOP, Action.START):
            with backoff_counted() as slept:
                report, _ = runner.run(action, {"ec2-instance": Ec2Instances()})
            counts = cast("dict[str, int]", report["counts"])
            calls = sum(runner.meter.calls.values())
            sends = runner.meter.sends
            print(
                f"  {action}: {counts['done']} of {count} done, {counts['failed']} failed; "
                f"{calls} calls, {sends} sends ({sends / max(calls, 1):g} per call), backoff "
                f"botocore asked for {sum(slept):.1f} s (not slept here)"
            )
            ok &= report_fleet(check_fleet(fleet, action, only_instances=True), action, count)
            ok &= counts["done"] == count and counts["failed"] == 0
            if full:
                ok &= calls <= CALL_TARGET
    finally:
        for client in hooked:
            throttle.remove(client)
    return ok


def main(argv: Sequence[str] | None = None, *, handle: Handle = handle) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of the fleet, for a quick smoke run: the call target is checked at 1.0",
    )
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to every call")
    args = parser.parse_args(argv)
    full = args.scale >= 1.0
    versions = ", ".join(f"{d} {importlib.metadata.version(d)}" for d in ("boto3", "botocore"))
    print(f"{versions} (the versions infra/cost-saver/package.py bundles in the Lambda zip)")

    with mock_aws():
        setup_started = time.perf_counter()
        fleet = build_fleet(args.scale)
        print(
            f"fleet over {len(REGIONS)} regions: {fleet.count('instances')} EC2 instances, "
            f"{fleet.count('groups')} Auto Scaling groups, {fleet.count('node_groups')} EKS node "
            f"groups, {fleet.count('databases')} RDS instances, {fleet.count('services')} ECS "
            f"services (built in moto in {time.perf_counter() - setup_started:.0f} s)"
        )
        meter = CallMeter(latency=args.latency_ms / 1000)
        session = boto3.session.Session()
        session.events.register("before-call", meter.on_call)
        session.events.register("before-send", meter.on_send)
        runner = Runner(
            handle=handle,
            meter=meter,
            clients=build_clients(REGIONS, session),
            store=DynamoDbStore(
                client=session.client("dynamodb", region_name=REGIONS[0], config=client_config()),
                table=TABLE,
            ),
        )
        all_ok = True
        for action in (Action.STOP, Action.START):
            report, wall = runner.run(action)
            counts = cast("dict[str, int]", report["counts"])
            calls = sum(meter.calls.values())
            print(
                f"{action}: {counts['done']} of {fleet.total} resources done, {counts['failed']} "
                f"failed; {calls} calls; wall {wall:.1f} s with {args.latency_ms:g} ms per call "
                f"(of which injected latency {calls * args.latency_ms / 1000:.1f} s)"
            )
            all_ok &= summarize(action, meter.calls, fleet, full=full)
            all_ok &= report_fleet(check_fleet(fleet, action), action, fleet.total)
            all_ok &= counts["done"] == fleet.total and counts["failed"] == 0
        meter.latency = 0.0
        all_ok &= throttled(runner, fleet, full=full)
    print("targets hold" if all_ok else "TARGETS MISSED")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
