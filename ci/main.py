"""Portable Pipelines: the Dagger module's main object.

Each function reads the service's pipelines.toml once (``context.load_config``),
builds its graph with ``ci.toolchain`` and awaits only what it must report.
"""

# No `from __future__ import annotations` here: the SDK reads each field's
# Doc() from the dataclass field type, which that import turns into a string.

import logging
import uuid
from datetime import UTC, datetime
from typing import Annotated

import anyio
import dagger
from dagger import DefaultPath, Doc, Ignore, check, dag, function

from ci import scan as trivy
from ci import services, toolchain
from ci._sdk import field, object_type, uncached_function
from ci.context import load_config
from pipelines.config import APP_HOST, SUITES, DependencyConfig, PipelineConfig, SuiteConfig
from pipelines.errors import InputError, PipelinesError
from pipelines.images import check_image_ref
from pipelines.junit import crash_report, summarize
from pipelines.scan import (
    IgnoreRule,
    evaluate,
    failure_message,
    parse_ignorefile,
    parse_report,
    summary_table,
)
from pipelines.urls import check_http_url

log = logging.getLogger("portable_pipelines")

# Never uploaded with --source: caches and environments that are large,
# machine-specific, and irrelevant to the service's build.
SOURCE_IGNORE = [
    ".git",
    "**/.venv",
    "**/node_modules",
    "**/__pycache__",
    "**/.mypy_cache",
    "**/.ruff_cache",
    "**/.pytest_cache",
    "reports",
]

_OUTPUT_TAIL = 4_000
REFERENCE_SERVICE = "examples/hello-service"


class ValidationFailed(PipelinesError):
    """A lint, test or scan step ran and found problems."""


class DependencyNotReady(PipelinesError):
    """A dependency service did not pass its readiness command in time."""


@object_type
class SuiteResult:
    """The outcome of one test suite: its JUnit report, whatever the result."""

    suite: Annotated[str, Doc("The suite's name: unit, smoke, integration or e2e")] = field()
    exit_code: Annotated[int, Doc("The exit code of the first failing command, else 0")] = field()
    report: Annotated[dagger.File, Doc("JUnit XML; synthesised if the suite wrote none")] = field()
    summary: Annotated[str, Doc("One line: counts, or what failed")] = field()


@object_type
class ScanResult:
    """The outcome of a Trivy scan and its gate, with every report."""

    passed: Annotated[bool, Doc("True when no finding blocks the gate")] = field()
    summary: Annotated[str, Doc("Counts by severity, the verdict and the top findings")] = field()
    reports: Annotated[
        dagger.Directory,
        Doc("trivy.json, trivy.sarif, gl-container-scanning-report.json and summary.txt"),
    ] = field()


@object_type
class PortablePipelines:
    """One CI/CD definition for every service, driven by its pipelines.toml."""

    # A check cannot take required arguments, so `dagger check` in this
    # repository runs on the reference service; pass --source for your own.
    source: Annotated[
        dagger.Directory,
        Doc("The service directory, holding pipelines.toml (default: the reference service)"),
        DefaultPath(REFERENCE_SERVICE),
        Ignore(SOURCE_IGNORE),
    ]

    async def _config(self) -> PipelineConfig:
        return await load_config(self.source)

    @function
    @check
    async def lint(self) -> str:
        """Run every [lint] command; report all failures, not just the first."""
        config = await self._config()
        if config.lint is None:
            raise InputError(
                argument="source",
                problem="pipelines.toml has no [lint] table",
                fix='add [lint] with `commands = [["ruff", "check", "."]]` (or your linter)',
            )
        base = toolchain.toolchain(self.source, config)
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
                f"- `{' '.join(cmd)}` exited {code}:\n{out[-_OUTPUT_TAIL:]}"
                for cmd, code, out in failed
            )
            raise ValidationFailed(
                f"lint: {len(failed)} of {len(commands)} commands failed\n{details}"
            )
        return f"lint: {len(commands)} commands passed"

    async def _run_commands(
        self, config: PipelineConfig, suite: SuiteConfig, runner: dagger.Container
    ) -> SuiteResult:
        """Run the suite's commands in order, stopping at the first failure."""
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
                summary += "\n" + output[-_OUTPUT_TAIL:]
        return SuiteResult(suite=suite.name, exit_code=exit_code, report=report, summary=summary)

    def _dependencies(self, config: PipelineConfig, suite: str) -> tuple[DependencyConfig, ...]:
        """The suite's dependencies, plus any the app cannot start without."""
        needed = {reference.split(".")[0] for _, reference in config.service.secret_env}
        return tuple(d for d in config.dependencies if suite in d.suites or d.name in needed)

    async def _wait_ready(
        self, dependencies: tuple[DependencyConfig, ...], running: dict[str, dagger.Service]
    ) -> None:
        """Run each dependency's readiness command until it passes or times out."""
        for dependency in dependencies:
            readiness = dependency.readiness
            if readiness.command is None:
                continue  # the engine waits for the exposed port (or HEALTHCHECK)
            attempts = max(1, readiness.timeout_seconds // readiness.interval_seconds)
            for attempt in range(attempts):
                probe = services.readiness_probe(dependency, running[dependency.name], attempt)
                if await probe.exit_code() == 0:
                    break
                await anyio.sleep(readiness.interval_seconds)
            else:
                raise DependencyNotReady(
                    f"dependency {dependency.name!r} was not ready after "
                    f"{readiness.timeout_seconds}s: `{' '.join(readiness.command)}` kept failing"
                )

    async def _suite(self, suite: str, url: str | None = None) -> SuiteResult:
        if suite not in SUITES:
            raise InputError(
                argument="suite",
                problem=f"unknown suite {suite!r}",
                fix="use one of " + ", ".join(SUITES),
            )
        if url is not None:
            url = check_http_url(url, argument="url")
            if suite == "unit":
                raise InputError(
                    argument="url",
                    problem="unit tests run in the toolchain, not against a deployment",
                    fix="drop --url, or choose --suite=smoke, integration or e2e",
                )
        config = await self._config()
        suite_config = config.suite(suite)
        runner = services.runner(self.source, config, suite_config)
        if suite == "unit":
            return await self._run_commands(config, suite_config, runner)
        if url is not None:
            runner = runner.with_env_variable("BASE_URL", url)
            return await self._run_commands(config, suite_config, runner)

        dependencies = self._dependencies(config, suite)
        values = services.generate_secrets(dependencies)
        running = {d.name: services.dependency_service(d, values) for d in dependencies}
        await self._wait_ready(dependencies, running)
        app = services.app_service(toolchain.image(self.source, config), config, running, values)
        runner = services.with_app_env(
            services.bind(runner, {**running, APP_HOST: app}), config, values
        ).with_env_variable("BASE_URL", services.base_url(config))
        return await self._run_commands(config, suite_config, runner)

    # Never cached: with --url the outcome depends on a deployment outside the graph.
    @uncached_function
    async def test_report(
        self,
        suite: Annotated[str, Doc("unit, smoke, integration or e2e")] = "unit",
        url: Annotated[
            str | None, Doc("Run smoke/integration/e2e against this deployment instead")
        ] = None,
    ) -> SuiteResult:
        """Run one suite and return its report even when tests fail.

        Export it with `test-report --suite=unit report export --path=reports/unit.xml`;
        `test`, `smoke`, `integration` and `e2e` fail the call instead.
        """
        return await self._suite(suite, url)

    @function
    @check
    async def test(self) -> str:
        """Run the unit suite; fail the call when any test fails."""
        result = await self._suite("unit")
        if result.exit_code != 0:
            raise ValidationFailed(result.summary)
        return result.summary

    @function
    async def build(
        self,
        platform: Annotated[
            dagger.Platform | None, Doc("e.g. linux/arm64; default: the engine's platform")
        ] = None,
    ) -> dagger.Container:
        """Build the service's image from its Dockerfile ([build] in pipelines.toml)."""
        config = await self._config()
        return toolchain.image(self.source, config, platform)

    async def _validate(self, suite: str, url: str | None = None) -> str:
        result = await self._suite(suite, url)
        if result.exit_code != 0:
            raise ValidationFailed(result.summary)
        return result.summary

    # Never cached: with --url it tests a deployment that changes outside the graph.
    @uncached_function
    async def smoke(
        self,
        url: Annotated[
            str | None,
            Doc("Test this deployment (e.g. the dev environment) instead of the built image"),
        ] = None,
    ) -> str:
        """Run the smoke suite against the built image as a service, or against --url."""
        return await self._validate("smoke", url)

    @function
    async def integration(self) -> str:
        """Run the integration suite against the app and its [[dependencies]]."""
        return await self._validate("integration")

    @function
    async def e2e(self) -> str:
        """Run the end-to-end suite against the whole stack."""
        return await self._validate("e2e")

    @function
    async def serve(self) -> dagger.Service:
        """The built image as a service, with its dependencies (`serve up --ports 8080:8080`)."""
        config = await self._config()
        dependencies = config.dependencies
        values = services.generate_secrets(dependencies)
        running = {d.name: services.dependency_service(d, values) for d in dependencies}
        return services.app_service(toolchain.image(self.source, config), config, running, values)

    async def _scan(
        self,
        image: str | None,
        registry_username: str,
        registry_password: dagger.Secret | None,
        run_stamp: str | None = None,
    ) -> ScanResult:
        if image is not None:
            check_image_ref(image, argument="image")
        elif registry_password is not None:
            raise InputError(
                argument="registry-password",
                problem="a registry password only makes sense with --image",
                fix="add --image=<registry>/<repository>@sha256:... or drop the password",
            )
        config = await self._config()
        settings = config.scan
        ignorefile = None
        rules: tuple[IgnoreRule, ...] = ()
        if await self.source.exists(settings.ignorefile):
            ignorefile = self.source.file(settings.ignorefile)
            rules = parse_ignorefile(await ignorefile.contents(), file=settings.ignorefile)
        stamp = run_stamp or uuid.uuid4().hex
        trivy_ctr = trivy.trivy_with_db(settings, stamp)
        if image is None:
            ctr = trivy.scanned(
                trivy_ctr,
                settings,
                image=toolchain.image(self.source, config),
                ignorefile=ignorefile,
            )
        else:
            ctr = trivy.scanned(
                trivy_ctr,
                settings,
                image_ref=image,
                registry_username=registry_username,
                registry_password=registry_password,
                ignorefile=ignorefile,
            )
        report = parse_report(await ctr.file(trivy.JSON_REPORT).contents(), file="trivy.json")
        result = evaluate(report, settings, rules, today=datetime.now(UTC).date())
        summary = summary_table(result)
        if not result.passed:
            summary = failure_message(result) + "\n" + summary
        reports = ctr.directory(trivy.OUT).with_new_file("summary.txt", summary)
        return ScanResult(passed=result.passed, summary=summary, reports=reports)

    # Never cached: the vulnerability DB changes every day.
    @uncached_function
    async def scan_report(
        self,
        image: Annotated[
            str | None, Doc("Scan this published image instead of building --source")
        ] = None,
        registry_username: Annotated[str, Doc("Registry user for --image (ECR: AWS)")] = "AWS",
        registry_password: Annotated[
            dagger.Secret | None, Doc("Registry password for --image, e.g. env://ECR_TOKEN")
        ] = None,
    ) -> ScanResult:
        """Scan and gate, returning every report even when the gate fails."""
        return await self._scan(image, registry_username, registry_password)

    # Never cached: the vulnerability DB changes every day.
    @uncached_function
    async def scan(
        self,
        image: Annotated[
            str | None, Doc("Scan this published image instead of building --source")
        ] = None,
        registry_username: Annotated[str, Doc("Registry user for --image (ECR: AWS)")] = "AWS",
        registry_password: Annotated[
            dagger.Secret | None, Doc("Registry password for --image, e.g. env://ECR_TOKEN")
        ] = None,
    ) -> str:
        """Scan the image with Trivy and fail when a finding blocks the gate ([scan])."""
        result = await self._scan(image, registry_username, registry_password)
        if not result.passed:
            raise ValidationFailed(result.summary)
        return result.summary
