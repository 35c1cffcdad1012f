"""Graph builders for the app under test, its dependencies and the suite's container.

The app and every dependency run as Dagger services bound by hostname: the
app at ``app``, each dependency at its configured name. Dependency secrets
(a database password) are generated for each run and travel only as
``dagger.Secret``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import dagger
from dagger import dag

from ci import toolchain
from pipelines.config import APP_HOST, DependencyConfig, PipelineConfig, SuiteConfig
from pipelines.config.dependencies import connection_env, shared_secret_names
from pipelines.errors import PipelinesError
from pipelines.images import IMAGES
from pipelines.suite_env import base_url

# Secret values keyed "<dependency>.<VAR>", e.g. "db.POSTGRES_PASSWORD".
Secrets = dict[str, dagger.Secret]


def generate_secrets(dependencies: tuple[DependencyConfig, ...]) -> Secrets:
    """A fresh random value per dependency secret and per run."""
    generated: Secrets = {}
    for dependency in dependencies:
        for var in dependency.secret_env:
            # The name only labels the secret in the engine; a random suffix
            # keeps two runs in one session from sharing a value.
            name = f"{dependency.name}-{var.lower()}-{secrets.token_hex(4)}"
            generated[f"{dependency.name}.{var}"] = dag.set_secret(name, secrets.token_urlsafe(24))
    return generated


def dependency_service(dependency: DependencyConfig, values: Secrets) -> dagger.Service:
    ctr = dag.container().from_(dependency.image)
    for name, value in dependency.env:
        ctr = ctr.with_env_variable(name, value)
    for var in dependency.secret_env:
        ctr = ctr.with_secret_variable(var, values[f"{dependency.name}.{var}"])
    return ctr.with_exposed_port(dependency.port).as_service(use_entrypoint=True)


def with_app_env(
    ctr: dagger.Container,
    config: PipelineConfig,
    values: Secrets,
    running: dict[str, dagger.Service],
) -> dagger.Container:
    """The variables the app runs with; a suite that never runs against a deployment
    gets them too (pipelines.suite_env.gets_app_environment).

    ``[service] env`` and ``secret_env`` as configured, plus for each running
    dependency ``<NAME>_HOST``, ``<NAME>_PORT`` and its generated secrets as
    ``<NAME>_<VAR>`` (see pipelines/config/dependencies.py).
    """
    for name, value in config.service.env:
        ctr = ctr.with_env_variable(name, value)
    for name, reference in config.service.secret_env:
        ctr = ctr.with_secret_variable(name, values[reference])
    for dependency in config.dependencies:
        if dependency.name not in running:
            continue
        for name, value in connection_env(dependency):
            ctr = ctr.with_env_variable(name, value)
        for var, name in shared_secret_names(dependency):
            ctr = ctr.with_secret_variable(name, values[f"{dependency.name}.{var}"])
    return ctr


def bind(ctr: dagger.Container, services: dict[str, dagger.Service]) -> dagger.Container:
    for host, service in services.items():
        ctr = ctr.with_service_binding(host, service)
    return ctr


def app_service(
    image: dagger.Container,
    config: PipelineConfig,
    dependencies: dict[str, dagger.Service],
    values: Secrets,
) -> dagger.Service:
    """The built image as a service; the engine waits for its HEALTHCHECK, else its port."""
    ctr = with_app_env(bind(image, dependencies), config, values, dependencies)
    return ctr.with_exposed_port(config.service.port).as_service(use_entrypoint=True)


def suite_container(
    source: dagger.Directory,
    config: PipelineConfig,
    suite: SuiteConfig,
) -> dagger.Container:
    """Where a suite runs: the toolchain, or (e2e) its own pinned runner image."""
    if suite.image is None:
        return toolchain.suite_env(toolchain.toolchain(source, config), suite)
    workdir = config.toolchain.workdir
    checked = toolchain.checked_source(source, config)
    ctr = dag.container().from_(suite.image).with_directory(workdir, checked).with_workdir(workdir)
    return toolchain.suite_env(ctr, suite)


def readiness_probe(
    dependency: DependencyConfig, service: dagger.Service, attempt: str
) -> dagger.Container:
    """One run of the dependency's readiness command, next to the running service."""
    command = dependency.readiness.command
    if command is None:
        raise ValueError(f"dependency {dependency.name!r} has no readiness command")
    return (
        dag.container()
        .from_(dependency.image)
        .with_service_binding(dependency.name, service)
        # Each attempt of each run must really run: a cached probe would answer
        # "ready" forever.
        .with_env_variable("READINESS_ATTEMPT", attempt)
        .with_exec(list(command), use_entrypoint=False, expect=dagger.ReturnType.ANY)
    )


async def serve(source: dagger.Directory, config: PipelineConfig) -> dagger.Service:
    """The built image as a service with every dependency, as `serve up` runs it;
    its health and readiness paths answer first, or the call says which does not."""
    values = generate_secrets(config.dependencies)
    running = {d.name: dependency_service(d, values) for d in config.dependencies}
    app = app_service(toolchain.image(source, config), config, running, values)
    problem = await probe_paths(app, config, run_stamp=secrets.token_hex(8))
    if problem is not None:
        raise PipelinesError(problem.problem, where="[service]", fix=problem.fix)
    return app


# Retries while the app starts (connection refused, 503); a 404 fails at once.
CURL = (
    "curl",
    "--fail",
    "--silent",
    "--show-error",
    "--max-time",
    "10",
    "--retry",
    "10",
    "--retry-delay",
    "2",
    "--retry-connrefused",
)


@dataclass(frozen=True, kw_only=True)
class ProbeFailure:
    problem: str
    fix: str
    output: str


async def probe_paths(
    app: dagger.Service, config: PipelineConfig, *, run_stamp: str
) -> ProbeFailure | None:
    """GET the app's health and readiness paths, with retries while it starts.

    A wrong path (a 404) fails at once, here in pre-merge, instead of after a
    deploy; a readiness that keeps answering 503 fails when the retries run out.
    """
    service = config.service
    paths = (("health_path", service.health_path), ("readiness_path", service.readiness_path))
    for key, path in paths:
        probe = (
            dag.container()
            .from_(IMAGES["curl"])
            .with_service_binding(APP_HOST, app)
            # Every call probes anew: a cached "it answered" would prove nothing.
            .with_env_variable("PIPELINE_RUN", run_stamp)
            .with_exec([*CURL, f"{base_url(config, APP_HOST)}{path}"], expect=dagger.ReturnType.ANY)
        )
        if await probe.exit_code() != 0:
            return ProbeFailure(
                problem=f"the app did not answer GET {path} with 2xx ({key})",
                fix=f"check `{key}` under [service] and that the app serves it on port "
                f"{service.port}",
                output=await probe.combined_output(),
            )
    return None
