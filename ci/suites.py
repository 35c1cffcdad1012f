"""Running lint and test suites: in the toolchain, or against the app as a service."""

from __future__ import annotations

import uuid

import anyio
import dagger
from dagger import dag

from ci import services, toolchain
from ci.results import SuiteResult
from pipelines.config import APP_HOST, SUITES, DependencyConfig, PipelineConfig, SuiteConfig
from pipelines.errors import ChecksFailed, InputError, PipelinesError
from pipelines.junit import crash_report, summarize
from pipelines.urls import check_http_url

# How much of a failing command's output a message carries.
OUTPUT_TAIL = 4_000


class DependencyNotReady(PipelinesError):
    """A dependency service did not pass its readiness command in time."""


def check_request(suite: str, url: str | None) -> str | None:
    """Refuse an unknown suite or a bad --url before any work; return the clean URL."""
    if suite not in SUITES:
        raise InputError(
            argument="suite",
            problem=f"unknown suite {suite!r}",
            fix="use one of " + ", ".join(SUITES),
        )
    if url is None:
        return None
    if suite == "unit":
        raise InputError(
            argument="url",
            problem="unit tests run in the toolchain, not against a deployment",
            fix="drop --url, or choose --suite=smoke, integration or e2e",
        )
    return check_http_url(url, argument="url")


async def run_lint(source: dagger.Directory, config: PipelineConfig) -> str:
    """Every [lint] command at once; all failures reported, not just the first."""
    if config.lint is None:
        raise InputError(
            argument="source",
            problem="pipelines.toml has no [lint] table",
            fix='add [lint] with `commands = [["ruff", "check", "."]]` (or your linter)',
        )
    base = toolchain.toolchain(source, config)
    commands = config.lint.commands
    results: list[tuple[tuple[str, ...], int, str]] = [((), 0, "")] * len(commands)

    async def run(index: int, command: tuple[str, ...]) -> None:
        ran = base.with_exec(list(command), expect=dagger.ReturnType.ANY)
        code = await ran.exit_code()
        output = await ran.combined_output() if code != 0 else ""
        results[index] = (command, code, output)

    async with anyio.create_task_group() as group:
        for index, command in enumerate(commands):
            group.start_soon(run, index, command)

    failed = [(cmd, code, out) for cmd, code, out in results if code != 0]
    if failed:
        details = "\n".join(
            f"- `{' '.join(cmd)}` exited {code}:\n{out[-OUTPUT_TAIL:]}" for cmd, code, out in failed
        )
        raise ChecksFailed(f"lint: {len(failed)} of {len(commands)} commands failed\n{details}")
    return f"lint: {len(commands)} commands passed"


async def run_commands(
    config: PipelineConfig, suite: SuiteConfig, runner: dagger.Container
) -> SuiteResult:
    """Run the suite's commands in order, stopping at the first failure.

    ``expect=ANY`` lets the report be read after a failure; the exit code is
    kept in the result, and every caller fails on a non-zero one.
    """
    ctr = runner
    exit_code = 0
    for command in suite.commands:
        ctr = ctr.with_exec(list(command), expect=dagger.ReturnType.ANY)
        exit_code = await ctr.exit_code()
        if exit_code != 0:
            break
    path = toolchain.report_path(config, suite)
    if path is not None and await ctr.exists(path):
        report = ctr.file(path)
        counts = summarize(await report.contents(), file=f"{suite.name} report {path}")
        summary = (
            f"{suite.name}: {counts.passed} passed, {counts.failures + counts.errors} failed, "
            f"{counts.skipped} skipped"
        )
        if counts.failed_cases:
            summary += "; failing: " + ", ".join(counts.failed_cases[:10])
        if exit_code != 0 and not counts.failed_cases:
            summary += f"; exited {exit_code}"
    else:
        output = await ctr.combined_output()
        xml = crash_report(suite=suite.name, exit_code=exit_code, output=output)
        name = f"{suite.name}.xml"
        report = dag.directory().with_new_file(name, xml).file(name)
        summary = f"{suite.name}: exited {exit_code}; no JUnit report at {path}"
        if exit_code != 0:
            summary += "\n" + output[-OUTPUT_TAIL:]
    return SuiteResult(suite=suite.name, exit_code=exit_code, report=report, summary=summary)


def dependencies_of(config: PipelineConfig, suite: str) -> tuple[DependencyConfig, ...]:
    """The suite's dependencies, plus any the app cannot start without."""
    needed = {reference.split(".")[0] for _, reference in config.service.secret_env}
    return tuple(d for d in config.dependencies if suite in d.suites or d.name in needed)


async def wait_ready(
    dependencies: tuple[DependencyConfig, ...],
    running: dict[str, dagger.Service],
    *,
    run_stamp: str,
) -> None:
    """Run each dependency's readiness command until it passes or times out.

    The service is started explicitly first, so the probes and the suite
    talk to one running instance, not one started per binding.
    """
    for dependency in dependencies:
        readiness = dependency.readiness
        if readiness.command is None:
            continue  # the engine waits for the exposed port (or HEALTHCHECK)
        service = await running[dependency.name].start()
        attempts = max(1, readiness.timeout_seconds // readiness.interval_seconds)
        for attempt in range(attempts):
            probe = services.readiness_probe(dependency, service, f"{run_stamp}-{attempt}")
            if await probe.exit_code() == 0:
                break
            await anyio.sleep(readiness.interval_seconds)
        else:
            raise DependencyNotReady(
                f"dependency {dependency.name!r} was not ready after "
                f"{readiness.timeout_seconds}s: `{' '.join(readiness.command)}` kept failing"
            )


async def run_suite(
    source: dagger.Directory, config: PipelineConfig, suite: str, url: str | None
) -> SuiteResult:
    """One suite: in the toolchain (unit), against --url, or against the app as a service.

    Unit tests are a pure function of the source, so the engine may replay
    them. A suite against a deployment or against running services is not:
    a per-run stamp makes it run every time, so a re-run really re-tests and
    a flaky failure is never replayed from cache.
    """
    suite_config = config.suite(suite)
    runner = services.runner(source, config, suite_config)
    if suite == "unit":
        return await run_commands(config, suite_config, runner)
    run_stamp = uuid.uuid4().hex
    runner = runner.with_env_variable("PIPELINE_RUN", run_stamp)
    if url is not None:
        return await run_commands(config, suite_config, runner.with_env_variable("BASE_URL", url))

    dependencies = dependencies_of(config, suite)
    values = services.generate_secrets(dependencies)
    running = {d.name: services.dependency_service(d, values) for d in dependencies}
    await wait_ready(dependencies, running, run_stamp=run_stamp)
    app = services.app_service(toolchain.image(source, config), config, running, values)
    runner = services.with_app_env(
        services.bind(runner, {**running, APP_HOST: app}), config, values, running
    ).with_env_variable("BASE_URL", services.base_url(config))
    return await run_commands(config, suite_config, runner)
