"""The EC2 dev target end to end over HTTP: moto in server mode, a real health endpoint.

Unlike the in-process unit tests, boto3 clients here are built by
``AwsSession(endpoint_url=...)`` and talk HTTP to a ThreadedMotoServer on
loopback, and the health check is the default one (httpx) against a real
server, so the wiring the Dagger module uses is the wiring tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from moto.server import ThreadedMotoServer
from pytest_httpserver import HTTPServer

from pipelines.aws.session import AwsCredentials, AwsSession
from pipelines.config.deploy import Ec2DeployConfig
from pipelines.deploy_targets import DeployError, DevDeployment
from pipelines.deploy_targets.base import default_http_check
from pipelines.deploy_targets.ec2 import Ec2DevTarget
from pipelines.values import AwsRegion, Branch, ImageRef

pytestmark = pytest.mark.tools

REGION = "eu-west-1"
IMAGE = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/hello-service-test@sha256:{'f' * 64}"
DEPLOYMENT = DevDeployment(
    image=ImageRef.parse(IMAGE),
    branch=Branch.parse("feature/x"),
    service="hello-service",
    port=8080,
)


@pytest.fixture
def moto_endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def clients(endpoint: str) -> tuple[Any, Any]:
    keys = AwsCredentials(access_key_id="testing", secret_access_key="testing")
    session = AwsSession(credentials=keys, endpoint_url=endpoint)
    region = AwsRegion(REGION)
    return session.client("ec2", region=region), session.client("ssm", region=region)


def launch_dev_instance(ec2: Any) -> str:
    reservation = ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": "Environment", "Value": "dev"}]}
        ],
    )
    instance_id: str = reservation["Instances"][0]["InstanceId"]
    return instance_id


async def test_deploy_over_http_and_health_check_a_real_server(
    moto_endpoint: str, httpserver: HTTPServer
) -> None:
    ec2, ssm = clients(moto_endpoint)
    instance = launch_dev_instance(ec2)
    httpserver.expect_request("/healthz", method="GET").respond_with_data("ok")
    url = httpserver.url_for("/").rstrip("/")
    target = Ec2DevTarget(
        config=Ec2DeployConfig(region=AwsRegion(REGION), url=url),
        ssm=ssm,
        ec2=ec2,
        poll_seconds=0.01,
    )
    app = await target.deploy(DEPLOYMENT)
    assert app.url == url
    assert app.where == instance
    (command,) = ssm.list_commands()["Commands"]
    assert command["DocumentName"] == "AWS-RunShellScript"
    assert any("docker pull" in line for line in command["Parameters"]["commands"])
    httpserver.check_assertions()


async def test_an_unhealthy_endpoint_fails_the_deploy(
    moto_endpoint: str, httpserver: HTTPServer
) -> None:
    ec2, ssm = clients(moto_endpoint)
    launch_dev_instance(ec2)
    httpserver.expect_request("/healthz").respond_with_data("starting", status=503)
    config = Ec2DeployConfig(
        region=AwsRegion(REGION), url=httpserver.url_for("/"), health_timeout_seconds=1
    )
    target = Ec2DevTarget(config=config, ssm=ssm, ec2=ec2, poll_seconds=0.2)
    with pytest.raises(DeployError, match="did not answer healthy within 1s"):
        await target.deploy(DEPLOYMENT)
    assert len(httpserver.log) >= 2


async def test_default_http_check(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/up").respond_with_data("ok")
    httpserver.expect_request("/down").respond_with_data("no", status=500)
    assert await default_http_check(httpserver.url_for("/up"))
    assert not await default_http_check(httpserver.url_for("/down"))
    with HTTPServer(host="127.0.0.1", port=0) as closed:
        gone = closed.url_for("/up")
    assert not await default_http_check(gone)
