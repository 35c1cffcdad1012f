"""The EC2 dev target: pull and run the image on instances tagged for dev, through SSM.

Flow: find the running instances tagged ``tag_key=tag_value`` (paginated),
``ssm send_command`` an ``AWS-RunShellScript`` that pulls the image and
(re)starts one container per service, poll ``get_command_invocation`` until
every instance is done or the timeout passes (then cancel), and health-check
the configured URL until it answers.

Registry credentials never travel in the command: SSM keeps command text
in its history, readable by anyone with ``ssm:ListCommands``. Each instance
logs in with its own instance role instead: ``aws ecr get-login-password``
piped into ``docker login --password-stdin``. The instance profile needs
``ecr:GetAuthorizationToken`` and pull rights on the repository, plus the
SSM agent's usual ``AmazonSSMManagedInstanceCore``.

Every command line of the script is rendered from an argument list with
``shlex`` so a branch name or an env value cannot inject shell.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar

from pipelines.aws.names import parse_registry, registry_problem
from pipelines.config.deploy import DeployConfig, Ec2DeployConfig
from pipelines.deploy_targets.base import (
    DeployDescription,
    DeployedApp,
    DeployEnvironment,
    DeployError,
    DevDeployment,
    HttpCheck,
    Sleep,
    TargetKind,
    default_http_check,
)
from pipelines.values import Branch, ImageRef

NAME = "ec2"
DOCUMENT = "AWS-RunShellScript"
BRANCH_LABEL = "portable-pipelines.branch"
# SendCommand accepts at most 50 instance ids per call.
_BATCH = 50
_DONE = {"Success", "Cancelled", "TimedOut", "Failed"}
_STDERR_TAIL = 1500


def _line(*argv: str) -> str:
    return shlex.join(argv)


def login_lines(ref: ImageRef) -> list[str]:
    """``docker login`` with the instance role's ECR token; none for other registries."""
    if registry_problem(ref.registry) is not None:
        return []
    registry = parse_registry(ref.registry)
    token = _line("aws", "ecr", "get-login-password", "--region", registry.region)
    login = _line("docker", "login", "--username", "AWS", "--password-stdin", registry.host)
    return [f"{token} | {login}"]


def deploy_script(
    *,
    image: ImageRef,
    container: str,
    branch: Branch,
    host_port: int,
    container_port: int,
    env: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """The lines of the ``AWS-RunShellScript`` that (re)starts the container."""
    ref = image
    run = [
        "docker",
        "run",
        "--detach",
        "--name",
        container,
        "--restart",
        "unless-stopped",
        "--label",
        f"{BRANCH_LABEL}={branch.slug()}",
        "--publish",
        f"{host_port}:{container_port}",
    ]
    for name, value in env:
        run += ["--env", f"{name}={value}"]
    run.append(str(ref))
    exists = _line("docker", "container", "inspect", container)
    return [
        # Stop at the first failing line; the invocation then reports Failed.
        "set -eu",
        *login_lines(ref),
        _line("docker", "pull", str(ref)),
        f"if {exists} >/dev/null 2>&1; then {_line('docker', 'rm', '--force', container)}; fi",
        _line(*run),
    ]


def cleanup_script(*, container: str, branch: Branch) -> list[str]:
    """Remove the service's container only if this branch deployed it."""
    listing = _line(
        "docker",
        "ps",
        "--all",
        "--quiet",
        "--filter",
        f"name=^/{container}$",
        "--filter",
        f"label={BRANCH_LABEL}={branch.slug()}",
    )
    return ["set -eu", f'for id in $({listing}); do docker rm --force "$id"; done']


def find_instances(
    ec2: Any, *, tag_key: str, tag_value: str, page_size: int | None = None
) -> list[str]:
    """Ids of running instances with the tag, across every page."""
    paginator = ec2.get_paginator("describe_instances")
    pages = paginator.paginate(
        Filters=[
            {"Name": f"tag:{tag_key}", "Values": [tag_value]},
            {"Name": "instance-state-name", "Values": ["running"]},
        ],
        PaginationConfig={"PageSize": page_size} if page_size else {},
    )
    return sorted(
        instance["InstanceId"]
        for page in pages
        for reservation in page["Reservations"]
        for instance in reservation["Instances"]
    )


def _batches(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _BATCH):
        yield list(items[start : start + _BATCH])


T = TypeVar("T")


# anyio is imported where it is used: the plan and the git hooks read this
# module's KIND without ever deploying.
async def _in_thread(call: Callable[..., T], *args: Any) -> T:
    """boto3 blocks: run it in a worker thread."""
    from anyio import to_thread

    return await to_thread.run_sync(call, *args)


async def _sleep(seconds: float) -> None:
    from anyio import sleep

    await sleep(seconds)


@dataclass(frozen=True, kw_only=True)
class Ec2DevTarget:
    config: Ec2DeployConfig
    ssm: Any = field(repr=False)
    ec2: Any = field(repr=False)
    http_check: HttpCheck = field(default=default_http_check, repr=False)
    sleep: Sleep = field(default=_sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    poll_seconds: float = 3.0

    @property
    def name(self) -> str:
        return NAME

    async def deploy(self, deployment: DevDeployment) -> DeployedApp:
        script = deploy_script(
            image=deployment.image,
            container=self.config.container_name or deployment.service,
            branch=deployment.branch,
            host_port=self.config.host_port or deployment.port,
            container_port=deployment.port,
            env=self.config.env,
        )
        instances = await self._instances()
        await self._run(
            script,
            instances,
            comment=f"deploy {deployment.service} {deployment.branch.slug()}",
        )
        url = self.config.url
        await self._wait_healthy(url.rstrip("/") + deployment.health_path)
        return DeployedApp(target=NAME, url=url, where=", ".join(instances))

    async def cleanup(self, branch: Branch, *, service: str) -> None:
        script = cleanup_script(container=self.config.container_name or service, branch=branch)
        instances = await self._instances()
        await self._run(script, instances, comment=f"cleanup {service} {branch.slug()}")

    async def _instances(self) -> list[str]:
        key, value = self.config.tag_key, self.config.tag_value
        instances = await _in_thread(
            partial(find_instances, self.ec2, tag_key=key, tag_value=value)
        )
        if not instances:
            raise DeployError(
                f"no running EC2 instance is tagged {key}={value} in {self.config.region}",
                fix="start the dev instances (the cost saver may have parked them), or "
                "correct `tag_key`/`tag_value` under [deploy.ec2]",
            )
        return instances

    async def _run(self, script: list[str], instances: list[str], *, comment: str) -> None:
        timeout = self.config.command_timeout_seconds
        commands: dict[str, str] = {}
        for batch in _batches(instances):
            send = partial(
                self.ssm.send_command,
                InstanceIds=batch,
                DocumentName=DOCUMENT,
                Comment=comment[:100],
                TimeoutSeconds=timeout,
                Parameters={"commands": script, "executionTimeout": [str(timeout)]},
            )
            response = await _in_thread(send)
            command_id = response["Command"]["CommandId"]
            commands.update({instance: command_id for instance in batch})
        await self._wait(commands, timeout)

    async def _wait(self, commands: dict[str, str], timeout: float) -> None:
        deadline = self.clock() + timeout
        pending = dict(commands)
        failures: list[str] = []
        while pending:
            for instance, command_id in list(pending.items()):
                invocation = await _in_thread(self._invocation, command_id, instance)
                status = invocation.get("Status") if invocation else None
                if status in _DONE:
                    del pending[instance]
                    if status != "Success":
                        failures.append(_describe_failure(instance, command_id, invocation))
            if not pending:
                break
            if self.clock() >= deadline:
                for command_id in sorted(set(pending.values())):
                    cancel = partial(
                        self.ssm.cancel_command,
                        CommandId=command_id,
                        InstanceIds=sorted(i for i, c in pending.items() if c == command_id),
                    )
                    await _in_thread(cancel)
                raise DeployError(
                    f"SSM command did not finish within {timeout:g}s on "
                    f"{', '.join(sorted(pending))} (cancelled)"
                    + (f"; also failed: {'; '.join(failures)}" if failures else ""),
                    fix="check the instances' SSM agent and docker, or raise "
                    "`command_timeout_seconds` under [deploy.ec2]",
                )
            await self.sleep(self.poll_seconds)
        if failures:
            raise DeployError(
                "the deploy command failed on " + "; ".join(failures),
                fix="read the instance's output above; re-run deploy once fixed",
            )

    def _invocation(self, command_id: str, instance: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.ssm.get_command_invocation(
                CommandId=command_id, InstanceId=instance
            )
        except self.ssm.exceptions.InvocationDoesNotExist:
            # Right after send_command the invocation may not be registered yet.
            return None
        return result

    async def _wait_healthy(self, url: str) -> None:
        deadline = self.clock() + self.config.health_timeout_seconds
        while not await self.http_check(url):
            if self.clock() >= deadline:
                raise DeployError(
                    f"{url} did not answer healthy within "
                    f"{self.config.health_timeout_seconds}s after the deploy",
                    fix="check the container's logs on the instance (docker logs), and "
                    "that `url` under [deploy.ec2] reaches the published port",
                )
            await self.sleep(self.poll_seconds)


def _describe_failure(instance: str, command_id: str, invocation: dict[str, Any] | None) -> str:
    invocation = invocation or {}
    stderr = (invocation.get("StandardErrorContent") or "").strip()
    tail = stderr[-_STDERR_TAIL:]
    detail = f": {tail}" if tail else ""
    return (
        f"{instance} ({invocation.get('Status')}, exit {invocation.get('ResponseCode')}, "
        f"command {command_id}){detail}"
    )


def make_target(config: DeployConfig, env: DeployEnvironment) -> Ec2DevTarget:
    """The EC2 target: SSM and EC2 clients of the call's AWS session."""
    if config.ec2 is None:  # pragma: no cover - parse_deploy requires the table
        raise ValueError("[deploy.ec2] is missing; parse_deploy requires it")
    if env.aws is None:
        raise ValueError("the ec2 target needs the call's AWS session (KIND.needs_aws)")
    region = config.ec2.region
    return Ec2DevTarget(
        config=config.ec2,
        ssm=env.aws.client("ssm", region=region),
        ec2=env.aws.client("ec2", region=region),
        http_check=env.http_check,
    )


def describe(config: DeployConfig, service: str, branch: Branch | None) -> DeployDescription:  # noqa: ARG001 - the same instances and container for every branch.
    """Where a deploy goes; its work is a shell script sent through SSM, not an argv here."""
    if config.ec2 is None:  # pragma: no cover - parse_deploy requires the table
        raise ValueError("[deploy.ec2] is missing; parse_deploy requires it")
    ec2 = config.ec2
    return DeployDescription(
        where=f"EC2 instances tagged {ec2.tag_key}={ec2.tag_value} ({ec2.region})",
        runs_in="AWS-RunShellScript through SSM: docker pull, then run the container "
        f"{ec2.container_name or service}",
        url=ec2.url,
    )


KIND = TargetKind(name=NAME, needs_aws=True, make=make_target, describe=describe)
