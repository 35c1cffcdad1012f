"""A moto fleet and a counted cost-saver run, shared by the cost-saver unit tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import boto3
import botocore.endpoint
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.core.models import botocore_stubber

from cost_saver.guard import EnvironmentGuard
from cost_saver.handler import build_clients, client_config, handle
from cost_saver.kinds import REGISTRY, ResourceKind
from cost_saver.model import Action, OptIn
from cost_saver.report import ResourcesFailedError
from cost_saver.settings import DEFAULT_MAX_CAPACITY, Event, Settings
from cost_saver.store import DynamoDbStore, create_table

HOME = "eu-west-1"
OTHER = "us-east-1"
TABLE = "cost-saver-test"
AMI = "ami-12c6146b"
ROLE = "arn:aws:iam::123456789012:role/test"
# Opted in, and positively non-production: the production guard fails closed.
OPTED_IN = {"cost-saver": "enabled", "environment": "dev"}
TODAY = date(2026, 11, 26)

# Operation names that change nothing: everything else counts as mutating.
READ_ONLY_PREFIXES = ("Describe", "List", "Get", "Query", "Scan")


# Each protocol's own throttling error: botocore's standard mode reads the code
# (and charges a throttled retry less of its retry quota).
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


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.content


@dataclass(kw_only=True)
class Throttle:
    """Answers the first ``times`` attempts of each call with a 503 throttle (None: every one).

    ``operations`` limits it to those operation names. Installed on a client
    with :meth:`install`, in place of moto's in-process stub, so that a
    throttled attempt never reaches moto (as a throttled request never
    reaches the service); against moto's server it answers before any send.
    """

    times: int | None = None
    operations: Collection[str] | None = None
    # (service, operation, attempt) of every attempt the client made.
    sends: list[tuple[str, str, int]] = field(default_factory=list)

    def respond(self, request: Any, event_name: str) -> AWSResponse | None:
        _, service, operation = event_name.split(".")[:3]
        attempt = int(request.context.get("retries", {}).get("attempt", 1))
        self.sends.append((service, operation, attempt))
        if self.operations is not None and operation not in self.operations:
            return None
        if self.times is not None and attempt > self.times:
            return None
        protocol = _protocol(service)
        headers, body = _THROTTLED[protocol]
        return AWSResponse(request.url, 503, headers, _Body(body))

    def install(self, client: Any, *, in_process: bool = True) -> None:
        events = client.meta.events
        if in_process:
            events.unregister("before-send", botocore_stubber)

        def send(request: Any, event_name: str, **kwargs: Any) -> Any:
            answer = self.respond(request, event_name)
            if answer is not None or not in_process:
                return answer
            return botocore_stubber(request=request, event_name=event_name, **kwargs)

        events.register("before-send", send)

    def count(self, operation: str) -> int:
        return sum(1 for _, name, _ in self.sends if name == operation)


def _protocol(service: str) -> str:
    return {"ec2": "ec2", "auto-scaling": "query", "rds": "query", "eks": "rest-json"}.get(
        service, "json"
    )


@pytest.fixture
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """botocore's retry sleeps, recorded instead of slept (botocore.endpoint's ``time`` only)."""
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint, "time", SimpleNamespace(sleep=slept.append))
    return slept


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
        *,
        cluster_tags: Mapping[str, str] | None = None,
    ) -> None:
        eks = self.client("eks", region)
        if ("eks", cluster, region) not in self._ready:
            eks.create_cluster(
                name=cluster, roleArn=ROLE, resourcesVpcConfig={}, tags=dict(cluster_tags or {})
            )
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
        self,
        region: str,
        cluster: str,
        name: str,
        desired: int,
        tags: Mapping[str, str],
        *,
        cluster_tags: Mapping[str, str] | None = None,
    ) -> None:
        ecs = self.client("ecs", region)
        if ("ecs", cluster, region) not in self._ready:
            ecs.create_cluster(
                clusterName=cluster,
                tags=[{"key": key, "value": value} for key, value in (cluster_tags or {}).items()],
            )
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

    def saved(self) -> dict[tuple[str, str, str], object]:
        """Every saved capacity in the table, by (region, kind, id), read as raw items."""
        return saved_capacities(self.saved_items())

    def idle(self) -> set[tuple[str, str, str]]:
        return {
            (item["region"]["S"], item["kind"]["S"], resource_id)
            for item in self.saved_items()
            if "entries" in item
            for resource_id in json.loads(item["entries"]["S"]).get("idle", [])
        }

    def put_state(
        self,
        region: str,
        kind: str,
        entries: object,
        *,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        """Write a state item by hand, as someone editing the table would."""
        item = {
            "region": {"S": region},
            "resource": {"S": f"state#{kind}#000"},
            "layout": {"N": "2"},
            "kind": {"S": kind},
            "part": {"N": "0"},
            "parts": {"N": "1"},
            "entries": {"S": entries if isinstance(entries, str) else json.dumps(entries)},
            **(attributes or {}),
        }
        self.client("dynamodb", HOME).put_item(TableName=TABLE, Item=item)

    def empty_table(self) -> None:
        """A table emptied (or replaced) overnight."""
        dynamodb = self.client("dynamodb", HOME)
        for item in self.saved_items():
            dynamodb.delete_item(
                TableName=TABLE, Key={"region": item["region"], "resource": item["resource"]}
            )


def saved_capacities(items: Sequence[Mapping[str, Any]]) -> dict[tuple[str, str, str], object]:
    """The capacities held by state items, by (region, kind, id)."""
    return {
        (item["region"]["S"], item["kind"]["S"], resource_id): capacity
        for item in items
        if "entries" in item
        for resource_id, capacity in json.loads(item["entries"]["S"]).get("parked", {}).items()
    }


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
    # Moved forward by tests that need a lease to have expired.
    clock_offset: float = 0.0

    def __post_init__(self) -> None:
        self.session = boto3.session.Session()
        self.session.events.register("before-call", self._count)
        self.clients = build_clients(self.regions, self.session)
        self.store = DynamoDbStore(
            client=self.session.client("dynamodb", region_name=HOME, config=client_config()),
            table=TABLE,
            clock=lambda: time.time() + self.clock_offset,
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
            guard=EnvironmentGuard(),
            ceiling=DEFAULT_MAX_CAPACITY,
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

    def all_clients(self) -> list[Any]:
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
        return clients

    def register(self, event: str, handler: Callable[..., Any]) -> None:
        """Hook every client already created (a session hook only reaches later clients)."""
        for client in self.all_clients():
            client.meta.events.register(event, handler)

    def throttle(self, throttle: Throttle) -> Throttle:
        for client in self.all_clients():
            throttle.install(client)
        return throttle

    def mutating_calls(self) -> list[tuple[str, str, str]]:
        return [call for call in self.calls if not call[1].startswith(READ_ONLY_PREFIXES)]

    def resource_mutations(self) -> list[tuple[str, str, str]]:
        """Mutating calls on the fleet itself: the lease and the state writes left out."""
        return [call for call in self.mutating_calls() if call[0] != "dynamodb"]

    def operations(self) -> list[str]:
        return [operation for _, operation, _ in self.calls]


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
