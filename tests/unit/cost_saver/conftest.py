"""A moto fleet and a counted cost-saver run, shared by the cost-saver unit tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import pytest
from moto import mock_aws

from cost_saver.handler import build_clients, client_config, handle
from cost_saver.kinds import REGISTRY, ResourceKind
from cost_saver.model import Action, OptIn
from cost_saver.report import ResourcesFailedError
from cost_saver.settings import Event, Settings
from cost_saver.store import DynamoDbStore, create_table

HOME = "eu-west-1"
OTHER = "us-east-1"
TABLE = "cost-saver-test"
AMI = "ami-12c6146b"
ROLE = "arn:aws:iam::123456789012:role/test"
OPTED_IN = {"cost-saver": "enabled"}
TODAY = date(2026, 11, 26)

# Operation names that change nothing: everything else counts as mutating.
READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Query", "Scan")


def pairs(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


class Fleet:
    """Creates resources in moto with plain boto3 clients (never counted)."""

    def __init__(self) -> None:
        self._clients: dict[tuple[str, str], Any] = {}
        self._ready: set[tuple[str, ...]] = set()

    def client(self, service: str, region: str) -> Any:
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = boto3.client(service, region_name=region)
        return self._clients[key]

    def instances(
        self, region: str, count: int, tags: Mapping[str, str], *, one_per_reservation: bool = False
    ) -> list[str]:
        ec2 = self.client("ec2", region)
        spec = [{"ResourceType": "instance", "Tags": pairs(tags)}] if tags else []
        runs = [1] * count if one_per_reservation else [count]
        ids: list[str] = []
        for size in runs:
            reservation = ec2.run_instances(
                ImageId=AMI, MinCount=size, MaxCount=size, TagSpecifications=spec
            )
            ids += [instance["InstanceId"] for instance in reservation["Instances"]]
        return ids

    def instance_state(self, region: str, instance_id: str) -> str:
        reply = self.client("ec2", region).describe_instances(InstanceIds=[instance_id])
        return str(reply["Reservations"][0]["Instances"][0]["State"]["Name"])

    def group(
        self, region: str, name: str, capacity: tuple[int, int, int], tags: Mapping[str, str]
    ) -> None:
        autoscaling = self.client("autoscaling", region)
        if ("lc", region) not in self._ready:
            autoscaling.create_launch_configuration(
                LaunchConfigurationName="lc", ImageId=AMI, InstanceType="t3.micro"
            )
            self._ready.add(("lc", region))
        low, high, desired = capacity
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=name,
            LaunchConfigurationName="lc",
            MinSize=low,
            MaxSize=high,
            DesiredCapacity=desired,
            AvailabilityZones=[f"{region}a"],
            Tags=[
                {
                    "Key": key,
                    "Value": value,
                    "PropagateAtLaunch": True,
                    "ResourceId": name,
                    "ResourceType": "auto-scaling-group",
                }
                for key, value in tags.items()
            ],
        )

    def group_capacity(self, region: str, name: str) -> tuple[int, int, int]:
        groups = self.client("autoscaling", region).describe_auto_scaling_groups(
            AutoScalingGroupNames=[name]
        )["AutoScalingGroups"]
        group = groups[0]
        return group["MinSize"], group["MaxSize"], group["DesiredCapacity"]

    def node_group(
        self,
        region: str,
        cluster: str,
        name: str,
        capacity: tuple[int, int, int],
        tags: Mapping[str, str],
    ) -> None:
        eks = self.client("eks", region)
        if ("eks", cluster, region) not in self._ready:
            eks.create_cluster(name=cluster, roleArn=ROLE, resourcesVpcConfig={})
            self._ready.add(("eks", cluster, region))
        low, high, desired = capacity
        eks.create_nodegroup(
            clusterName=cluster,
            nodegroupName=name,
            nodeRole=ROLE,
            subnets=["subnet-1"],
            scalingConfig={"minSize": low, "maxSize": high, "desiredSize": desired},
            tags=dict(tags),
        )

    def node_group_capacity(self, region: str, cluster: str, name: str) -> tuple[int, int, int]:
        scaling = self.client("eks", region).describe_nodegroup(
            clusterName=cluster, nodegroupName=name
        )["nodegroup"]["scalingConfig"]
        return scaling["minSize"], scaling["maxSize"], scaling["desiredSize"]

    def service(
        self, region: str, cluster: str, name: str, desired: int, tags: Mapping[str, str]
    ) -> None:
        ecs = self.client("ecs", region)
        if ("ecs", cluster, region) not in self._ready:
            ecs.create_cluster(clusterName=cluster)
            ecs.register_task_definition(
                family="app", containerDefinitions=[{"name": "app", "image": "app", "memory": 64}]
            )
            self._ready.add(("ecs", cluster, region))
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition="app",
            desiredCount=desired,
            tags=[{"key": key, "value": value} for key, value in tags.items()],
        )

    def service_desired(self, region: str, cluster: str, name: str) -> int:
        services = self.client("ecs", region).describe_services(cluster=cluster, services=[name])
        return int(services["services"][0]["desiredCount"])

    def database(self, region: str, name: str, tags: Mapping[str, str]) -> None:
        self.client("rds", region).create_db_instance(
            DBInstanceIdentifier=name,
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="admin",
            MasterUserPassword="not-a-secret-1",
            AllocatedStorage=20,
            Tags=pairs(tags),
        )

    def database_status(self, region: str, name: str) -> str:
        reply = self.client("rds", region).describe_db_instances(DBInstanceIdentifier=name)
        return str(reply["DBInstances"][0]["DBInstanceStatus"])

    def aurora(self, region: str, name: str, tags: Mapping[str, str]) -> None:
        rds = self.client("rds", region)
        rds.create_db_cluster(
            DBClusterIdentifier=name,
            Engine="aurora-postgresql",
            MasterUsername="admin",
            MasterUserPassword="not-a-secret-1",
            Tags=pairs(tags),
        )
        # Its member carries the opt-in tag too: it must be left to the cluster.
        rds.create_db_instance(
            DBInstanceIdentifier=f"{name}-1",
            DBInstanceClass="db.r6g.large",
            Engine="aurora-postgresql",
            DBClusterIdentifier=name,
            Tags=pairs(tags),
        )

    def aurora_status(self, region: str, name: str) -> str:
        reply = self.client("rds", region).describe_db_clusters(DBClusterIdentifier=name)
        return str(reply["DBClusters"][0]["Status"])

    def saved_items(self) -> list[dict[str, Any]]:
        items = self.client("dynamodb", HOME).scan(TableName=TABLE)["Items"]
        return sorted(items, key=lambda item: (item["region"]["S"], item["resource"]["S"]))


@dataclass
class CostSaver:
    """The handler's work on counted clients: every API call lands in ``calls``."""

    regions: Sequence[str]
    kinds: Mapping[str, ResourceKind] = field(default_factory=lambda: dict(REGISTRY))
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    log: list[Mapping[str, object]] = field(default_factory=list)
    session: Any = None
    clients: Any = None
    store: DynamoDbStore | None = None

    def __post_init__(self) -> None:
        self.session = boto3.session.Session()
        self.session.events.register("before-call", self._count)
        self.clients = build_clients(self.regions, self.session)
        self.store = DynamoDbStore(
            client=self.session.client("dynamodb", region_name=HOME, config=client_config()),
            table=TABLE,
            sleep=lambda _seconds: None,
        )

    def _count(self, model: Any, context: Mapping[str, Any], **_: Any) -> None:
        region = str(context.get("client_region", ""))
        self.calls.append((model.service_model.service_name, model.name, region))

    def run(
        self,
        action: str,
        *,
        dry_run: bool = False,
        today: date = TODAY,
        skip_dates: Sequence[date] = (),
        timezone: str = "UTC",
    ) -> dict[str, object]:
        assert self.store is not None
        settings = Settings(
            opt_in=OptIn(key="cost-saver", value="enabled"),
            regions=tuple(self.regions),
            skip_dates=frozenset(skip_dates),
            timezone=ZoneInfo(timezone),
            table=TABLE,
            home_region=HOME,
        )
        return handle(
            Event(action=Action(action), dry_run=dry_run),
            settings=settings,
            clients=self.clients,
            store=self.store,
            today=today,
            kinds=self.kinds,
            sink=self.log.append,
        )

    def run_failing(self, action: str) -> ResourcesFailedError:
        with pytest.raises(ResourcesFailedError) as raised:
            self.run(action)
        return raised.value

    def register(self, event: str, handler: Callable[..., Any]) -> None:
        """Hook every client already created (a session hook only reaches later clients)."""
        assert self.store is not None
        clients = [self.store.client]
        for region_clients in self.clients.values():
            clients += [
                region_clients.ec2,
                region_clients.autoscaling,
                region_clients.eks,
                region_clients.ecs,
                region_clients.rds,
            ]
        for client in clients:
            client.meta.events.register(event, handler)

    def mutating_calls(self) -> list[tuple[str, str, str]]:
        return [call for call in self.calls if not call[1].startswith(READ_ONLY_PREFIXES)]


def outcomes(report: Mapping[str, object]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The report's resources by (region, kind, id)."""
    resources = report["resources"]
    assert isinstance(resources, list)
    return {(r["region"], r["kind"], r["id"]): r for r in resources}


@pytest.fixture
def aws() -> Iterator[Fleet]:
    with mock_aws():
        fleet = Fleet()
        create_table(fleet.client("dynamodb", HOME), TABLE)
        yield fleet


@pytest.fixture
def cost_saver(aws: Fleet) -> Callable[..., CostSaver]:
    del aws  # Only its moto context matters: the clients must be created inside it.

    def make(
        regions: Sequence[str] = (HOME, OTHER), kinds: Mapping[str, ResourceKind] | None = None
    ) -> CostSaver:
        return CostSaver(regions=regions, kinds=dict(kinds or REGISTRY))

    return make
