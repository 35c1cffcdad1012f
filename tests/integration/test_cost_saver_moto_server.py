"""The handler, unchanged, against moto's HTTP server through ``AWS_ENDPOINT_URL``.

One run in this process, and one from the Lambda zip that package.py builds,
in a fresh interpreter without the repository or the system time zone files
on its path (tests/integration/lambda_zip.py): what Lambda itself would import.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from cost_saver.handler import lambda_handler
from cost_saver.store import create_table
from tests.integration.lambda_zip import build_zip, run_alone

HOME = "eu-west-1"
OTHER = "us-east-1"
TABLE = "cost-saver"
# Opted in and positively non-production (the production guard fails closed).
OPTED_IN = [{"Key": "cost-saver", "Value": "enabled"}, {"Key": "environment", "Value": "dev"}]

pytestmark = pytest.mark.tools


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    # moto keeps its state per process, across servers: start from an empty account.
    httpx.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
    settings = {
        "AWS_ENDPOINT_URL": url,
        "AWS_REGION": HOME,
        "COST_SAVER_TABLE": TABLE,
        "COST_SAVER_REGIONS": f"{HOME},{OTHER}",
        "COST_SAVER_TIMEZONE": "Europe/Paris",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    try:
        yield url
    finally:
        server.stop()


def build_fleet() -> dict[str, Any]:
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
    return {
        "ec2": ec2,
        "autoscaling": autoscaling,
        "instances": [i["InstanceId"] for i in reservation["Instances"]],
    }


def states(fleet: dict[str, Any]) -> tuple[list[str], tuple[int, int, int]]:
    reply = fleet["ec2"].describe_instances(InstanceIds=fleet["instances"])
    instances = sorted(
        (i["InstanceId"], i["State"]["Name"]) for r in reply["Reservations"] for i in r["Instances"]
    )
    group = fleet["autoscaling"].describe_auto_scaling_groups(AutoScalingGroupNames=["web"])[
        "AutoScalingGroups"
    ][0]
    return [state for _, state in instances], (
        group["MinSize"],
        group["MaxSize"],
        group["DesiredCapacity"],
    )


def test_the_handler_parks_and_restores_through_the_http_endpoint(endpoint: str) -> None:
    fleet = build_fleet()

    stopped = lambda_handler({"action": "stop", "dry_run": False}, None)

    assert states(fleet) == (["stopped"] * 3, (0, 0, 0))
    assert stopped["counts"] == {"done": 4, "planned": 0, "skipped": 0, "failed": 0}

    started = lambda_handler({"action": "start", "dry_run": False}, None)

    assert states(fleet) == (["running"] * 3, (1, 4, 2))
    assert started["counts"]["done"] == 4  # type: ignore[index]
    saved = boto3.client("dynamodb", region_name=HOME).scan(TableName=TABLE)["Items"]
    assert saved == []


def test_the_packaged_zip_runs_on_its_own(endpoint: str, tmp_path: Path) -> None:
    fleet = build_fleet()
    _, unpacked = build_zip(tmp_path)
    driver = (
        "import json\n"
        "import cost_saver.handler as handler\n"
        f"assert handler.__file__.startswith({str(unpacked)!r}), handler.__file__\n"
        "import tzdata\n"
        f"assert tzdata.__file__.startswith({str(unpacked)!r}), tzdata.__file__\n"
        'report = handler.lambda_handler({"action": "stop", "dry_run": True}, None)\n'
        "print(json.dumps(report))\n"
    )

    # Only the zip, the standard library and boto3 on the path (lambda_zip.py);
    # an empty PYTHONTZPATH hides the system zone files, as a bare image would.
    result = run_alone(unpacked, driver, env={**_environment(endpoint), "PYTHONTZPATH": ""})

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    assert report["dry_run"] is True
    assert report["counts"]["planned"] == 4
    assert states(fleet) == (["running"] * 3, (1, 4, 2))


def _environment(endpoint: str) -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if not name.startswith("PYTEST")} | {
        "AWS_ENDPOINT_URL": endpoint
    }
