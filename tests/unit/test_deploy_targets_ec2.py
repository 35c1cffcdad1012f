"""The EC2 dev target, against moto's in-process EC2 and SSM."""

from __future__ import annotations

import shlex
from collections.abc import Iterator
from typing import Any

import pytest
from moto import mock_aws

from pipelines.aws.session import AwsSession
from pipelines.config.deploy import DeployConfig, Ec2DeployConfig
from pipelines.deploy_targets import DeployEnvironment, DeployError, DevDeployment, make_target
from pipelines.deploy_targets.ec2 import (
    Ec2DevTarget,
    cleanup_script,
    deploy_script,
    find_instances,
)
from pipelines.values import AwsRegion, Branch, ImageRef

REGION = "eu-west-1"
DIGEST = "sha256:" + "c" * 64
IMAGE_TEXT = f"123456789012.dkr.ecr.{REGION}.amazonaws.com/hello-service-test@{DIGEST}"
IMAGE = ImageRef.parse(IMAGE_TEXT)
URL = "http://hello.dev.example.internal:8080"
# One of moto's built-in AMIs; looking one up costs seconds per call.
MOTO_AMI = "ami-12c6146b"
CONFIG = Ec2DeployConfig(
    region=AwsRegion(REGION),
    url=URL,
    tag_key="Environment",
    tag_value="dev",
    env=(("LOG_LEVEL", "debug"), ("GREETING", "it's $HOME; rm -rf /")),
)
DEPLOYMENT = DevDeployment(
    image=IMAGE, branch=Branch.parse("feature/Login-Page"), service="hello-service", port=8080
)


class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class HealthCheck:
    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.urls: list[str] = []

    async def __call__(self, url: str) -> bool:
        self.urls.append(url)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class ScriptedSsm:
    """moto's SSM, with get_command_invocation answering from a script per instance."""

    def __init__(self, real: Any, statuses: dict[str, list[str]], stderr: str = "") -> None:
        self._real = real
        self.exceptions = real.exceptions
        self.statuses = statuses
        self.stderr = stderr
        self.cancelled: list[dict[str, Any]] = []

    def send_command(self, **kwargs: Any) -> Any:
        return self._real.send_command(**kwargs)

    def get_command_invocation(self, **kwargs: str) -> dict[str, Any]:
        script = self.statuses[kwargs["InstanceId"]]
        status = script.pop(0) if len(script) > 1 else script[0]
        if status == "missing":
            raise self.exceptions.InvocationDoesNotExist(
                {"Error": {"Code": "InvocationDoesNotExist", "Message": ""}}, "GetCommandInvocation"
            )
        return {
            "Status": status,
            "ResponseCode": 0 if status == "Success" else 1,
            "StandardErrorContent": self.stderr,
        }

    def cancel_command(self, **kwargs: Any) -> dict[str, Any]:
        self.cancelled.append(kwargs)
        return {}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Any]]:
    # moto's thousands of default AMIs cost seconds per test; MOTO_AMI needs none.
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
    with mock_aws():
        yield (
            AwsSession().client("ec2", region=AwsRegion(REGION)),
            AwsSession().client("ssm", region=AwsRegion(REGION)),
        )


def record_send_command(ssm: Any) -> list[dict[str, Any]]:
    """The SendCommand parameters as sent.

    moto's own record is no use here: without ``Targets`` it adds every
    instance in the region to the command's InstanceIds.
    """
    sent: list[dict[str, Any]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        sent.append(params)

    ssm.meta.events.register("provide-client-params.ssm.SendCommand", record)
    return sent


def launch(ec2: Any, count: int, tags: dict[str, str], *, stop: bool = False) -> list[str]:
    reservation = ec2.run_instances(
        ImageId=MOTO_AMI,
        MinCount=count,
        MaxCount=count,
        InstanceType="t3.micro",
        TagSpecifications=[
            {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
        ],
    )
    ids = [i["InstanceId"] for i in reservation["Instances"]]
    if stop:
        ec2.stop_instances(InstanceIds=ids)
    return ids


def target(
    ec2: Any, ssm: Any, fake: FakeTime, health: HealthCheck, config: Ec2DeployConfig = CONFIG
) -> Ec2DevTarget:
    return Ec2DevTarget(
        config=config,
        ssm=ssm,
        ec2=ec2,
        http_check=health,
        sleep=fake.sleep,
        clock=fake.clock,
        poll_seconds=2.0,
    )


# --- the script ----------------------------------------------------------------------------


def test_deploy_script_pulls_and_runs_from_argument_lists() -> None:
    lines = deploy_script(
        image=IMAGE,
        container="hello-service",
        branch=Branch.parse("feature/Login-Page"),
        host_port=80,
        container_port=8080,
        env=CONFIG.env,
    )
    assert lines[0] == "set -eu"
    assert shlex.split(lines[2]) == ["docker", "pull", IMAGE_TEXT]
    assert shlex.split(lines[4]) == [
        "docker",
        "run",
        "--detach",
        "--name",
        "hello-service",
        "--restart",
        "unless-stopped",
        "--label",
        "portable-pipelines.branch=feature-login-page-1cd8fc9827",
        "--publish",
        "80:8080",
        "--env",
        "LOG_LEVEL=debug",
        "--env",
        "GREETING=it's $HOME; rm -rf /",
        IMAGE_TEXT,
    ]
    assert lines[3] == (
        "if docker container inspect hello-service >/dev/null 2>&1; "
        "then docker rm --force hello-service; fi"
    )


def test_the_instance_logs_in_with_its_own_role_and_no_password_travels() -> None:
    lines = deploy_script(
        image=IMAGE, container="c", branch=Branch.parse("b"), host_port=1, container_port=1
    )
    token, login = lines[1].split(" | ")
    assert shlex.split(token) == ["aws", "ecr", "get-login-password", "--region", REGION]
    assert shlex.split(login) == [
        "docker",
        "login",
        "--username",
        "AWS",
        "--password-stdin",
        f"123456789012.dkr.ecr.{REGION}.amazonaws.com",
    ]
    text = "\n".join(lines)
    assert "--password " not in text
    assert "AWS_SECRET_ACCESS_KEY" not in text


def test_no_ecr_login_for_another_registry() -> None:
    lines = deploy_script(
        image=ImageRef.parse(f"registry.example.com/team/app@{DIGEST}"),
        container="c",
        branch=Branch.parse("b"),
        host_port=1,
        container_port=1,
    )
    assert not any("login" in line for line in lines)


def test_hostile_names_cannot_inject_shell() -> None:
    lines = deploy_script(
        image=IMAGE,
        container="c",
        branch=Branch.parse("x;reboot$(id)`id`"),
        host_port=1,
        container_port=1,
        env=(("A", "$(reboot)`reboot`"),),
    )
    run = shlex.split(lines[-1])
    assert "A=$(reboot)`reboot`" in run
    assert "portable-pipelines.branch=x-reboot-id-id-651d2ba4c8" in run


def test_cleanup_only_removes_this_branchs_container() -> None:
    (_, loop) = cleanup_script(container="hello-service", branch=Branch.parse("feature/x"))
    assert loop == (
        "for id in $(docker ps --all --quiet --filter 'name=^/hello-service$' "
        "--filter label=portable-pipelines.branch=feature-x-217d2bf51f); "
        'do docker rm --force "$id"; done'
    )


# --- against moto --------------------------------------------------------------------------


def test_find_instances_pages_and_filters(aws: tuple[Any, Any]) -> None:
    ec2, _ = aws
    wanted = launch(ec2, 3, {"Environment": "dev"})
    for _ in range(6):
        launch(ec2, 1, {"Environment": "dev"})
    launch(ec2, 2, {"Environment": "prod"})
    launch(ec2, 1, {"Environment": "dev"}, stop=True)
    pages: list[object] = []
    ec2.meta.events.register("before-call.ec2.DescribeInstances", lambda **_: pages.append(1))
    found = find_instances(ec2, tag_key="Environment", tag_value="dev", page_size=5)
    assert len(found) == 9
    assert set(wanted) <= set(found)
    assert len(pages) >= 2, "the answer spans pages: all of them must be read"


async def test_deploy_sends_the_script_to_tagged_instances_and_checks_health(
    aws: tuple[Any, Any],
) -> None:
    ec2, ssm = aws
    dev = launch(ec2, 2, {"Environment": "dev"})
    launch(ec2, 1, {"Environment": "staging"})
    fake, health = FakeTime(), HealthCheck([False, False, True])
    sent = record_send_command(ssm)
    app = await target(ec2, ssm, fake, health).deploy(DEPLOYMENT)
    assert app.url == URL
    assert app.target == "ec2"
    assert app.where == ", ".join(sorted(dev))
    (command,) = sent
    assert command["DocumentName"] == "AWS-RunShellScript"
    assert sorted(command["InstanceIds"]) == sorted(dev)
    assert command["Parameters"]["commands"] == deploy_script(
        image=IMAGE,
        container="hello-service",
        branch=DEPLOYMENT.branch,
        host_port=8080,
        container_port=8080,
        env=CONFIG.env,
    )
    assert command["Parameters"]["executionTimeout"] == ["600"]
    assert command["Comment"] == "deploy hello-service feature-login-page-1cd8fc9827"
    # moto knows the command: the invocations were polled from it.
    assert len(ssm.list_commands()["Commands"]) == 1
    assert health.urls == [f"{URL}/healthz"] * 3
    assert fake.sleeps == [2.0, 2.0]


async def test_no_tagged_instance_is_a_clear_error(aws: tuple[Any, Any]) -> None:
    ec2, ssm = aws
    launch(ec2, 1, {"Environment": "dev"}, stop=True)
    with pytest.raises(DeployError, match="no running EC2 instance is tagged Environment=dev"):
        await target(ec2, ssm, FakeTime(), HealthCheck([True])).deploy(DEPLOYMENT)
    assert ssm.list_commands()["Commands"] == []


async def test_waits_while_the_command_runs(aws: tuple[Any, Any]) -> None:
    ec2, real_ssm = aws
    (instance,) = launch(ec2, 1, {"Environment": "dev"})
    ssm = ScriptedSsm(real_ssm, {instance: ["missing", "Pending", "InProgress", "Success"]})
    fake = FakeTime()
    await target(ec2, ssm, fake, HealthCheck([True])).deploy(DEPLOYMENT)
    assert fake.sleeps == [2.0, 2.0, 2.0]


async def test_a_failed_command_reports_the_instance_and_its_stderr(
    aws: tuple[Any, Any],
) -> None:
    ec2, real_ssm = aws
    good, bad = launch(ec2, 2, {"Environment": "dev"})
    ssm = ScriptedSsm(
        real_ssm,
        {good: ["Success"], bad: ["InProgress", "Failed"]},
        stderr="Error response from daemon: manifest unknown",
    )
    health = HealthCheck([True])
    with pytest.raises(DeployError) as caught:
        await target(ec2, ssm, FakeTime(), health).deploy(DEPLOYMENT)
    message = str(caught.value)
    assert f"the deploy command failed on {bad} (Failed, exit 1" in message
    assert "manifest unknown" in message
    assert good not in message
    assert health.urls == [], "no health check after a failed deploy"


async def test_a_command_that_never_finishes_times_out_and_is_cancelled(
    aws: tuple[Any, Any],
) -> None:
    ec2, real_ssm = aws
    (instance,) = launch(ec2, 1, {"Environment": "dev"})
    ssm = ScriptedSsm(real_ssm, {instance: ["InProgress"]})
    config = Ec2DeployConfig(region=AwsRegion(REGION), url=URL, command_timeout_seconds=60)
    fake = FakeTime()
    with pytest.raises(DeployError, match=f"did not finish within 60s on {instance}"):
        await target(ec2, ssm, fake, HealthCheck([True]), config).deploy(DEPLOYMENT)
    assert fake.now == 60.0
    (cancel,) = ssm.cancelled
    assert cancel["InstanceIds"] == [instance]


async def test_an_unhealthy_deployment_fails_after_the_health_timeout(
    aws: tuple[Any, Any],
) -> None:
    ec2, ssm = aws
    launch(ec2, 1, {"Environment": "dev"})
    config = Ec2DeployConfig(region=AwsRegion(REGION), url=URL + "/", health_timeout_seconds=10)
    fake = FakeTime()
    with pytest.raises(DeployError, match=r"http://.*:8080/healthz did not answer healthy"):
        await target(ec2, ssm, fake, HealthCheck([False]), config).deploy(DEPLOYMENT)
    assert fake.now == 10.0


async def test_cleanup_sends_the_cleanup_script(aws: tuple[Any, Any]) -> None:
    ec2, ssm = aws
    launch(ec2, 1, {"Environment": "dev"})
    sent = record_send_command(ssm)
    branch = Branch.parse("feature/x")
    await target(ec2, ssm, FakeTime(), HealthCheck([True])).cleanup(branch, service="hello-service")
    (command,) = sent
    assert command["Parameters"]["commands"] == cleanup_script(
        container="hello-service", branch=branch
    )


async def test_many_instances_are_sent_in_batches_of_50(aws: tuple[Any, Any]) -> None:
    ec2, ssm = aws
    instances = launch(ec2, 60, {"Environment": "dev"})
    sent = record_send_command(ssm)
    await target(ec2, ssm, FakeTime(), HealthCheck([True])).deploy(DEPLOYMENT)
    assert sorted(len(c["InstanceIds"]) for c in sent) == [10, 50]
    assert sorted(i for c in sent for i in c["InstanceIds"]) == sorted(instances)


def test_registry_builds_the_configured_target_from_the_calls_session(
    aws: tuple[Any, Any],
) -> None:
    config = DeployConfig(target="ec2", ec2=CONFIG)
    built = make_target(config, DeployEnvironment(aws=AwsSession()))
    assert isinstance(built, Ec2DevTarget)
    assert built.name == "ec2"
    assert built.ssm.meta.region_name == built.ec2.meta.region_name == REGION
    # The caller resolves AWS before making an ec2 target (TARGETS["ec2"].needs_aws).
    with pytest.raises(ValueError, match="needs the call's AWS session"):
        make_target(config, DeployEnvironment())
