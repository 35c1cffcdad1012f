"""The handler, unchanged, against moto's HTTP server through ``AWS_ENDPOINT_URL``.

One run in this process, and one from the Lambda zip that package.py builds,
in a fresh interpreter with nothing but the zip (and its bundled boto3) and
the standard library on its path, and without the system time zone files
(tests/integration/lambda_zip.py): what Lambda itself would import.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from cost_saver.handler import lambda_handler
from cost_saver.store import create_table
from tests.integration.lambda_zip import build_zip, moto_server, run_alone

HOME = "eu-west-1"
OTHER = "us-east-1"
TABLE = "cost-saver"
# Opted in and positively non-production (the production guard fails closed).
OPTED_IN = [{"Key": "cost-saver", "Value": "enabled"}, {"Key": "environment", "Value": "dev"}]
ROLE = "arn:aws:iam::123456789012:role/test"

pytestmark = pytest.mark.tools


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    with moto_server() as url:
        settings = {
            "AWS_ENDPOINT_URL": url,
            "AWS_REGION": HOME,
            "COST_SAVER_TABLE": TABLE,
            "COST_SAVER_REGIONS": f"{HOME},{OTHER}",
            "COST_SAVER_TIMEZONE": "Europe/Paris",
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        yield url


def build_fleet() -> dict[str, Any]:
    """One resource of every kind, over two regions."""
    create_table(boto3.client("dynamodb", region_name=HOME), TABLE)
    ec2 = boto3.client("ec2", region_name=HOME)
    reservation = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=3,
        MaxCount=3,
        TagSpecifications=[{"ResourceType": "instance", "Tags": OPTED_IN}],
    )
    autoscaling = boto3.client("autoscaling", region_name=OTHER)
    autoscaling.create_launch_configuration(
        LaunchConfigurationName="lc", ImageId="ami-12c6146b", InstanceType="t3.micro"
    )
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web",
        LaunchConfigurationName="lc",
        MinSize=1,
        MaxSize=4,
        DesiredCapacity=2,
        AvailabilityZones=[f"{OTHER}a"],
        Tags=[{**tag, "PropagateAtLaunch": False} for tag in OPTED_IN],
    )
    tags = {tag["Key"]: tag["Value"] for tag in OPTED_IN}
    eks = boto3.client("eks", region_name=HOME)
    eks.create_cluster(name="dev", roleArn=ROLE, resourcesVpcConfig={})
    eks.create_nodegroup(
        clusterName="dev",
        nodegroupName="general",
        nodeRole=ROLE,
        subnets=["subnet-1"],
        scalingConfig={"minSize": 1, "maxSize": 5, "desiredSize": 2},
        tags=tags,
    )
    ecs = boto3.client("ecs", region_name=OTHER)
    ecs.create_cluster(clusterName="apps")
    ecs.register_task_definition(
        family="app", containerDefinitions=[{"name": "app", "image": "app", "memory": 64}]
    )
    ecs.create_service(
        cluster="apps",
        serviceName="api",
        taskDefinition="app",
        desiredCount=3,
        tags=[{"key": k, "value": v} for k, v in tags.items()],
    )
    rds = boto3.client("rds", region_name=HOME)
    rds.create_db_instance(
        DBInstanceIdentifier="orders",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        AllocatedStorage=20,
        Tags=OPTED_IN,
    )
    rds.create_db_cluster(
        DBClusterIdentifier="reports",
        Engine="aurora-postgresql",
        MasterUsername="admin",
        MasterUserPassword="not-a-secret-1",
        Tags=OPTED_IN,
    )
    return {
        "ec2": ec2,
        "autoscaling": autoscaling,
        "eks": eks,
        "ecs": ecs,
        "rds": rds,
        "instances": [i["InstanceId"] for i in reservation["Instances"]],
    }


def states(fleet: dict[str, Any]) -> dict[str, object]:
    reply = fleet["ec2"].describe_instances(InstanceIds=fleet["instances"])
    group = fleet["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=["web"])[
        "AutoScalingGroups"
    ][0]
    scaling = fleet["eks"].describe_nodegroup(clusterName="dev", nodegroupName="general")[
        "nodegroup"
    ]["scalingConfig"]
    return {
        "instances": sorted(
            {i["State"]["Name"] for r in reply["Reservations"] for i in r["Instances"]}
        ),
        "group": (group["MinSize"], group["MaxSize"], group["DesiredCapacity"]),
        "node_group": (scaling["minSize"], scaling["maxSize"], scaling["desiredSize"]),
        "service": fleet["ecs"].describe_services(cluster="apps", services=["api"])["services"][0][
            "desiredCount"
        ],
        "database": fleet["rds"].describe_db_instances(DBInstanceIdentifier="orders")[
            "DBInstances"
        ][0]["DBInstanceStatus"],
        "cluster": fleet["rds"].describe_db_clusters(DBClusterIdentifier="reports")["DBClusters"][
            0
        ]["Status"],
    }


RUNNING = {
    "instances": ["running"],
    "group": (1, 4, 2),
    "node_group": (1, 5, 2),
    "service": 3,
    "database": "available",
    "cluster": "available",
}
PARKED = {
    "instances": ["stopped"],
    "group": (0, 0, 0),
    "node_group": (0, 5, 0),
    "service": 0,
    "database": "stopped",
    "cluster": "stopped",
}


def saved_items() -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = boto3.client("dynamodb", region_name=HOME).scan(TableName=TABLE)[
        "Items"
    ]
    return items


def test_the_handler_parks_and_restores_through_the_http_endpoint(endpoint: str) -> None:
    fleet = build_fleet()

    stopped = lambda_handler({"action": "stop", "dry_run": False}, None)

    assert states(fleet) == PARKED
    assert stopped["counts"] == {"done": 8, "planned": 0, "skipped": 0, "failed": 0}
    # One item per region and kind that parked something; the lease is given back.
    assert sorted((i["region"]["S"], i["resource"]["S"]) for i in saved_items()) == [
        (HOME, "state#aurora-cluster#000"),
        (HOME, "state#ec2-instance#000"),
        (HOME, "state#eks-nodegroup#000"),
        (HOME, "state#rds-instance#000"),
        (OTHER, "state#autoscaling-group#000"),
        (OTHER, "state#ecs-service#000"),
    ]

    started = lambda_handler({"action": "start", "dry_run": False}, None)

    assert states(fleet) == RUNNING
    assert started["counts"]["done"] == 8  # type: ignore[index]
    assert saved_items() == []


def zip_driver(unpacked: Path, action: str) -> str:
    """The handler run as Lambda runs it, after proving boto3 and it come from the zip."""
    return (
        "import json\n"
        "import boto3, cost_saver.handler as handler\n"
        f"assert boto3.__file__.startswith({str(unpacked)!r}), boto3.__file__\n"
        f"assert handler.__file__.startswith({str(unpacked)!r}), handler.__file__\n"
        f"report = handler.lambda_handler({{'action': {action!r}, 'dry_run': False}}, None)\n"
        "print(json.dumps(report))\n"
    )


def test_the_packaged_zip_parks_and_restores_on_its_own(endpoint: str, tmp_path: Path) -> None:
    fleet = build_fleet()
    _, unpacked = build_zip(tmp_path)
    # An empty PYTHONTZPATH hides the system zone files, as a bare image would.
    env = {**_environment(endpoint), "PYTHONTZPATH": ""}

    def run(action: str) -> dict[str, Any]:
        result = run_alone(unpacked, zip_driver(unpacked, action), env=env)
        assert result.returncode == 0, result.stderr
        report: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
        return report

    assert run("stop")["counts"]["done"] == 8
    assert states(fleet) == PARKED
    assert run("start")["counts"]["done"] == 8
    assert states(fleet) == RUNNING
    assert saved_items() == []


def _environment(endpoint: str) -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("PYTEST")} | {
        "AWS_ENDPOINT_URL": endpoint
    }
