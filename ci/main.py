"""Portable Pipelines: the Dagger module's main object.

Each function reads the service's pipelines.toml once (``context.load_config``),
builds its graph with ``ci.toolchain`` and awaits only what it must report.
"""

# No `from __future__ import annotations` here: the SDK reads each field's
# Doc() from the dataclass field type, which that import turns into a string.

import logging
from typing import Annotated

import anyio
import dagger
from dagger import Doc, Ignore, check, dag, function

from ci import toolchain
from ci._sdk import field, object_type
from ci.context import load_config
from pipelines.config import SUITES, PipelineConfig, SuiteConfig
from pipelines.errors import InputError, PipelinesError
from pipelines.junit import crash_report, summarize

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


class ValidationFailed(PipelinesError):
    """A lint or test step ran and found problems."""


@object_type
class SuiteResult:
    """The outcome of one test suite: its JUnit report, whatever the result."""

    suite: Annotated[str, Doc("The suite's name: unit, smoke, integration or e2e")] = field()
    exit_code: Annotated[int, Doc("The exit code of the first failing command, else 0")] = field()
    report: Annotated[dagger.File, Doc("JUnit XML; synthesised if the suite wrote none")] = field()
    summary: Annotated[str, Doc("One line: counts, or what failed")] = field()


@object_type
class PortablePipelines:
    """One CI/CD definition for every service, driven by its pipelines.toml."""

    source: Annotated[
        dagger.Directory,
        Doc("The service directory, holding pipelines.toml (e.g. examples/hello-service)"),
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

    async def _run_suite(self, config: PipelineConfig, suite: SuiteConfig) -> SuiteResult:
        ctr = toolchain.suite_env(toolchain.toolchain(self.source, config), suite)
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
        else:
            output = await ctr.combined_output()
            xml = crash_report(suite=suite.name, exit_code=exit_code, output=output)
            report = (
                dag.directory().with_new_file(f"{suite.name}.xml", xml).file(f"{suite.name}.xml")
            )
            summary = f"{suite.name}: exited {exit_code}; no JUnit report at {path}"
            if exit_code != 0:
                summary += "\n" + output[-_OUTPUT_TAIL:]
        return SuiteResult(suite=suite.name, exit_code=exit_code, report=report, summary=summary)

    @function
    async def test_report(
        self,
        suite: Annotated[str, Doc("unit, smoke, integration or e2e")] = "unit",
    ) -> SuiteResult:
        """Run one suite and return its report even when tests fail.

        Export it with `test-report report export --path=reports/unit.xml`;
        `test` (the check) fails the call on the same, cached, run.
        """
        return await self._suite(suite)

    async def _suite(self, suite: str) -> SuiteResult:
        if suite not in SUITES:
            raise InputError(
                argument="suite",
                problem=f"unknown suite {suite!r}",
                fix="use one of " + ", ".join(SUITES),
            )
        config = await self._config()
        return await self._run_suite(config, config.suite(suite))

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
