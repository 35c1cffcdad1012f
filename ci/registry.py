"""Pushing the service image to ECR: the core plans and checks, this builds and pushes.

The ECR calls are blocking boto3 calls, so they run in a worker thread; the
registry password goes straight into a ``dagger.Secret``.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

import anyio
import dagger
from dagger import dag

from ci import toolchain
from pipelines.aws.session import AwsSession
from pipelines.config import PipelineConfig
from pipelines.publishing import (
    Published,
    PublishPlan,
    RegistryLogin,
    prepare_push,
    published,
    pull_login,
    reused,
)
from pipelines.signing import docker_config
from pipelines.values import Digest

log = logging.getLogger("portable_pipelines")


@dataclass(frozen=True, kw_only=True)
class Login:
    """A registry login as the engine takes it, and the digest a re-run finds."""

    registry: str
    username: str
    password: dagger.Secret
    # The same login as a Docker config.json, for cosign (which reads no other form).
    docker_config: dagger.Secret
    existing: Digest | None = None


async def login(config: PipelineConfig, plan: PublishPlan, aws: AwsSession) -> Login:
    """The ECR checks and the login, before anything is built (pipelines.publishing)."""
    settings = config.require_publish()
    ecr = aws.client("ecr", region=settings.region)
    ready = await anyio.to_thread.run_sync(lambda: prepare_push(ecr, settings, plan))
    return _as_secrets(ready)


async def read_login(config: PipelineConfig, aws: AwsSession) -> Login:
    """A login that reads the release repository (no checks of tags: nothing is pushed)."""
    settings = config.require_publish()
    ecr = aws.client("ecr", region=settings.region)
    return _as_secrets(await anyio.to_thread.run_sync(lambda: pull_login(ecr, settings)))


def _as_secrets(ready: RegistryLogin) -> Login:
    # The password becomes Secrets at once; the plain string goes no further.
    suffix = secrets.token_hex(4)
    config_json = docker_config(
        registry=ready.registry, username=ready.username, password=ready.password
    )
    return Login(
        registry=ready.registry,
        username=ready.username,
        password=dag.set_secret(f"ecr-login-{suffix}", ready.password),
        docker_config=dag.set_secret(f"ecr-docker-config-{suffix}", config_json),
        existing=ready.existing,
    )


def platform_variants(source: dagger.Directory, config: PipelineConfig) -> list[dagger.Container]:
    """One image per configured platform; the engine's own platform when none is set."""
    platforms = config.build.platforms or (None,)
    return [toolchain.image(source, config, dagger.Platform(p) if p else None) for p in platforms]


async def push(variants: list[dagger.Container], plan: PublishPlan, login: Login) -> Published:
    """Push every tag (a multi-platform index when there are several variants)."""
    if login.existing is not None:
        return reused(plan, login.existing)
    answers = []
    for tag in plan.tags:
        address = f"{plan.uri}:{tag}"
        if len(variants) == 1:
            publisher = variants[0].with_registry_auth(
                login.registry, login.username, login.password
            )
            answers.append(await publisher.publish(address))
        else:
            answers.append(
                await dag.container()
                .with_registry_auth(login.registry, login.username, login.password)
                .publish(address, platform_variants=variants)
            )
        log.info("pushed %s", answers[-1])
    return published(plan, answers)
