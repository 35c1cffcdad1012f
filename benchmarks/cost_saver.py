"""API calls and wall time of the cost saver over a big two-region fleet.

The fleet: 2,000 EC2 instances, 50 Auto Scaling groups, 20 EKS node groups,
20 RDS instances and 50 ECS services, spread over two regions, in moto
(in-process). It runs a stop, then a start, through the handler's own code
path, counting every API call with a botocore ``before-call`` hook (one per
logical call, before retries) and adding 20 ms to each call, the order of a
real AWS round trip, so the wall time says how the run scales.

    .venv/bin/python benchmarks/cost_saver.py [--scale 1.0] [--latency-ms 20]

Targets, per action: EC2 at most 1 mutating call per 500 instances; all
mutating plus state-store (DynamoDB) calls at most 2 per non-EC2 resource
(every DynamoDB call is charged to the non-EC2 resources, even those that
save EC2 instances). Exits 1 when a target is missed or a resource does not
come back to its capacity. moto's DescribeInstances costs about 3 ms per
instance, so the whole run takes a minute or two.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import boto3
from moto import mock_aws

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cost_saver.handler import build_clients, client_config, handle
from cost_saver.model import Action, OptIn
from cost_saver.settings import Event, Settings
from cost_saver.store import DynamoDbStore, create_table

REGIONS = ("eu-west-1", "us-east-1")
TABLE = "cost-saver-benchmark"
AMI = "ami-12c6146b"
ROLE = "arn:aws:iam::123456789012:role/benchmark"
TAGS = [{"Key": "cost-saver", "Value": "enabled"}]
EC2_MUTATING = {"StopInstances", "StartInstances"}
READ_ONLY = ("Describe", "List", "Get", "Query", "Scan")


@dataclass(frozen=True)
class FleetSize:
    instances: int
    groups: int
    node_groups: int
    databases: int
    services: int

    @property
    def non_ec2(self) -> int:
        return self.groups + self.node_groups + self.databases + self.services


def per_region(total: int, scale: float) -> int:
    return max(1, round(total * scale / len(REGIONS)))


def build_fleet(scale: float) -> FleetSize:
    counts = {
        "instances": per_region(2000, scale),
        "groups": per_region(50, scale),
        "node_groups": per_region(20, scale),
        "databases": per_region(20, scale),
        "services": per_region(50, scale),
    }
    create_table(boto3.client("dynamodb", region_name=REGIONS[0]), TABLE)
    for region in REGIONS:
        ec2 = boto3.client("ec2", region_name=region)
        # Reservations of 100, as launches usually come: DescribeInstances pages by them.
        remaining = counts["instances"]
        while remaining:
            size = min(100, remaining)
            ec2.run_instances(
                ImageId=AMI,
                MinCount=size,
                MaxCount=size,
                TagSpecifications=[{"ResourceType": "instance", "Tags": TAGS}],
            )
            remaining -= size
        autoscaling = boto3.client("autoscaling", region_name=region)
        autoscaling.create_launch_configuration(
            LaunchConfigurationName="lc", ImageId=AMI, InstanceType="t3.micro"
        )
        for number in range(counts["groups"]):
            autoscaling.create_auto_scaling_group(
                AutoScalingGroupName=f"group-{number}",
                LaunchConfigurationName="lc",
                MinSize=0,
                MaxSize=3 + number % 3,
                DesiredCapacity=1,
                AvailabilityZones=[f"{region}a"],
                Tags=[{**TAGS[0], "PropagateAtLaunch": False}],
            )
        eks = boto3.client("eks", region_name=region)
        eks.create_cluster(name="dev", roleArn=ROLE, resourcesVpcConfig={})
        for number in range(counts["node_groups"]):
            eks.create_nodegroup(
                clusterName="dev",
                nodegroupName=f"nodes-{number}",
                nodeRole=ROLE,
                subnets=["subnet-1"],
                scalingConfig={"minSize": 1, "maxSize": 5 + number, "desiredSize": 2},
                tags={"cost-saver": "enabled"},
            )
        rds = boto3.client("rds", region_name=region)
        for number in range(counts["databases"]):
            rds.create_db_instance(
                DBInstanceIdentifier=f"db-{number}",
                DBInstanceClass="db.t3.micro",
                Engine="postgres",
                MasterUsername="admin",
                MasterUserPassword="not-a-secret-1",
                AllocatedStorage=20,
                Tags=TAGS,
            )
        ecs = boto3.client("ecs", region_name=region)
        ecs.create_cluster(clusterName="apps")
        ecs.register_task_definition(
            family="app", containerDefinitions=[{"name": "app", "image": "app", "memory": 64}]
        )
        for number in range(counts["services"]):
            ecs.create_service(
                cluster="apps",
                serviceName=f"service-{number}",
                taskDefinition="app",
                desiredCount=1 + number % 4,
                tags=[{"key": "cost-saver", "value": "enabled"}],
            )
    return FleetSize(**{name: count * len(REGIONS) for name, count in counts.items()})


class CallMeter:
    """Counts every logical API call and makes each one take ``latency`` longer."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.calls: Counter[tuple[str, str]] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.calls[(model.service_model.service_name, model.name)] += 1
        if self.latency:
            time.sleep(self.latency)


def run_action(
    action: Action, meter: CallMeter, clients: Mapping[str, Any], store: DynamoDbStore
) -> tuple[dict[str, object], float, int]:
    settings = Settings(
        opt_in=OptIn(key="cost-saver", value="enabled"),
        regions=REGIONS,
        skip_dates=frozenset(),
        timezone=ZoneInfo("UTC"),
        table=TABLE,
        home_region=REGIONS[0],
    )
    lines: list[Mapping[str, object]] = []
    meter.calls.clear()
    started = time.perf_counter()
    report = handle(
        Event(action=action, dry_run=False),
        settings=settings,
        clients=clients,
        store=store,
        today=date(2026, 11, 26),
        sink=lines.append,
    )
    return report, time.perf_counter() - started, len(lines)


def summarize(calls: Counter[tuple[str, str]], fleet: FleetSize) -> bool:
    ec2_mutating = sum(n for (_, op), n in calls.items() if op in EC2_MUTATING)
    store_calls = sum(n for (service, _), n in calls.items() if service == "dynamodb")
    other_mutating = sum(
        n
        for (service, op), n in calls.items()
        if service != "dynamodb" and op not in EC2_MUTATING and not op.startswith(READ_ONLY)
    )
    reads = sum(n for (service, op), n in calls.items() if op.startswith(READ_ONLY))
    ec2_limit = fleet.instances / 500
    per_resource = (other_mutating + store_calls) / fleet.non_ec2
    print(f"  calls by operation: {dict(sorted((f'{s}.{o}', n) for (s, o), n in calls.items()))}")
    print(f"  total calls {sum(calls.values())}, of which reads {reads}")
    ec2_ok = ec2_mutating <= ec2_limit
    print(
        f"  EC2 mutating calls: {ec2_mutating} for {fleet.instances} instances "
        f"(target <= {ec2_limit:g}): {'holds' if ec2_ok else 'MISSED'}"
    )
    other_ok = per_resource <= 2
    print(
        f"  non-EC2 mutating {other_mutating} + DynamoDB {store_calls} = "
        f"{other_mutating + store_calls} for {fleet.non_ec2} resources = {per_resource:.2f} "
        f"per resource (target <= 2): {'holds' if other_ok else 'MISSED'}"
    )
    return ec2_ok and other_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="fraction of the fleet, for a quick smoke run: the targets are met at 1.0, not below",
    )
    parser.add_argument("--latency-ms", type=float, default=20.0, help="added to every call")
    args = parser.parse_args()

    with mock_aws():
        setup_started = time.perf_counter()
        fleet = build_fleet(args.scale)
        print(
            f"fleet over {len(REGIONS)} regions: {fleet.instances} EC2 instances, "
            f"{fleet.groups} Auto Scaling groups, {fleet.node_groups} EKS node groups, "
            f"{fleet.databases} RDS instances, {fleet.services} ECS services "
            f"(built in moto in {time.perf_counter() - setup_started:.0f} s)"
        )
        meter = CallMeter(args.latency_ms / 1000)
        session = boto3.session.Session()
        session.events.register("before-call", meter)
        clients = build_clients(REGIONS, session)
        store = DynamoDbStore(
            client=session.client("dynamodb", region_name=REGIONS[0], config=client_config()),
            table=TABLE,
        )
        expected = fleet.instances + fleet.non_ec2
        all_ok = True
        for action in (Action.STOP, Action.START):
            report, wall, lines = run_action(action, meter, clients, store)
            counts = cast("dict[str, int]", report["counts"])
            calls = sum(meter.calls.values())
            modelled = calls * args.latency_ms / 1000
            print(
                f"{action}: {counts['done']} of {expected} resources done, "
                f"{counts['failed']} failed, {lines} log lines; wall {wall:.1f} s with "
                f"{args.latency_ms:g} ms per call (of which injected latency {modelled:.1f} s)"
            )
            all_ok &= summarize(meter.calls, fleet)
            all_ok &= counts["done"] == expected and counts["failed"] == 0
    print("targets hold" if all_ok else "TARGETS MISSED")
    return 0 if all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
