"""Running lint and test suites: in the toolchain, or against the app as a service."""

from __future__ import annotations

import posixpath
import uuid
from dataclasses import dataclass

import anyio
import dagger
from dagger import dag

from ci import services, toolchain
from ci.results import SuiteResult, require_passed
from pipelines import commit_msg
from pipelines.config import APP_HOST, DependencyConfig, PipelineConfig, SuiteConfig
from pipelines.errors import ChecksFailed, PipelinesError
from pipelines.junit import crash_report, summarize
from pipelines.requests import SuiteRequest
from pipelines.suite_env import base_url, contract_env, gets_app_environment, tests_the_app

# How much of a failing command's output a message carries.
OUTPUT_TAIL = 4_000


class DependencyNotReady(PipelinesError):
    """A dependency service did not pass its readiness command in time."""


@dataclass(frozen=True, kw_only=True)
class LintResult:
    """Every [lint] command's outcome; ``check`` fails unless all passed."""

    passed: bool
    summary: str

    def check(self) -> str:
        return require_passed(self.passed, self.summary)


async def run_lint(source: dagger.Directory, config: PipelineConfig) -> LintResult:
    """Every [lint] and [docs] command at once; all failures reported, not just the first."""
    commands = config.require_static_checks()
    base = toolchain.toolchain(source, config)
    results: list[tuple[tuple[str, ...], int, str]] = [((), 0, "")] * len(commands)

    async def run(index: int, command: tuple[str, ...]) -> None:
        ran = base.with_exec(list(command), expect=dagger.ReturnType.ANY)
        try:
            code = await ran.exit_code()
        except dagger.ExecError as killed:
            results[index] = (command, killed.exit_code, _killed_output(killed))
            return
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
        summary = f"lint: {len(failed)} of {len(commands)} commands failed\n{details}"
        return LintResult(passed=False, summary=summary)
    return LintResult(passed=True, summary=f"lint: {len(commands)} commands passed")


async def check_commit_message(
    source: dagger.Directory, message: str, *, branch: str | None, pattern: str | None
) -> None:
    """The commit-msg hook's rule (pipelines.commit_msg), applied before any container."""
    pyproject = (
        await source.file("pyproject.toml").contents()
        if await source.exists("pyproject.toml")
        else None
    )
    rule = commit_msg.ticket_pattern(
        environ={commit_msg.PATTERN_ENV: pattern} if pattern else {},
        pyproject_text=pyproject,
    )
    verdict = commit_msg.check_commit_message(message, branch=branch, pattern=rule)
    if not verdict.accepted:
        raise ChecksFailed(verdict.reason)


async def run_commands(
    config: PipelineConfig, suite: SuiteConfig, tests: dagger.Container
) -> SuiteResult:
    """Run the suite's commands in order, stopping at the first failure.

    ``expect=ANY`` lets the report be read after a failure; the exit code is
    kept in the result, and every caller fails on a non-zero one. A command
    killed by a signal (137 out of memory, 139 a segfault) is outside what
    ``expect=ANY`` accepts (exit codes 0-127 and 192-255): the engine raises,
    and the suite fails with a report that says so. So does a suite that
    exits 0 without writing its configured report.
    """
    path = toolchain.report_path(config, suite)
    ctr = tests
    if path is not None and posixpath.dirname(path) != "/":
        # Test runners (Node's JUnit reporter) expect the report's directory.
        ctr = ctr.with_directory(posixpath.dirname(path), dag.directory())
    exit_code = 0
    for command in suite.commands:
        ctr = ctr.with_exec(list(command), expect=dagger.ReturnType.ANY)
        try:
            exit_code = await ctr.exit_code()
        except dagger.ExecError as killed:
            problem = f"`{' '.join(command)}` was killed (exit {killed.exit_code})"
            return _crashed(suite, killed.exit_code, _killed_output(killed), problem=problem)
        if exit_code != 0:
            break
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
        return SuiteResult(
            suite=suite.name,
            exit_code=exit_code,
            passed=exit_code == 0,
            report=report,
            summary=summary,
        )
    output = await ctr.combined_output()
    if path is None:  # nothing to count: the exit code decides
        problem = f"no report configured ([test.{suite.name}] report)"
        return _crashed(suite, exit_code, output, problem=problem, passed=exit_code == 0)
    problem = f"no JUnit report at {path}: the suite must write its `report` ({suite.report})"
    return _crashed(suite, exit_code, output, problem=problem)


def _killed_output(killed: dagger.ExecError) -> str:
    return f"{killed.stdout}{killed.stderr}\n({killed.message})"


def _crashed(
    suite: SuiteConfig, exit_code: int, output: str, *, problem: str, passed: bool = False
) -> SuiteResult:
    """A suite whose runner left no report: a synthetic one says what happened.

    It fails unless ``passed`` (no report was configured and every command
    exited 0): a configured report that is missing leaves the tests uncounted,
    so "safe to merge" would be a guess.
    """
    xml = crash_report(suite=suite.name, exit_code=exit_code, output=output)
    name = f"{suite.name}.xml"
    summary = f"{suite.name}: exited {exit_code}; {problem}"
    if not passed:
        summary += "\n" + output[-OUTPUT_TAIL:]
    return SuiteResult(
        suite=suite.name,
        exit_code=exit_code,
        passed=passed,
        report=dag.directory().with_new_file(name, xml).file(name),
        summary=summary,
    )


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
                f"{readiness.timeout_seconds}s: `{' '.join(readiness.command)}` kept failing",
                where=f"[[dependencies]] {dependency.name}",
                fix="check the dependency's image and env, or raise `readiness.timeout_seconds`",
            )


async def run_suite(
    source: dagger.Directory, config: PipelineConfig, request: SuiteRequest
) -> SuiteResult:
    """One suite: in the toolchain (unit), against --url, or against the app as a service.

    Unit tests are a pure function of the source, so the engine may replay
    them. A suite against a deployment or against running services is not:
    a per-run stamp makes it run every time, so a re-run really re-tests and
    a flaky failure is never replayed from cache. Its environment is the
    contract of pipelines.suite_env, the same names here and in dev.
    """
    suite = config.suite(request.suite)
    tests = services.suite_container(source, config, suite)
    if not tests_the_app(suite):
        return await run_commands(config, suite, _with_env(tests, contract_env(suite)))
    run_stamp = uuid.uuid4().hex
    if request.url is not None:
        contract = contract_env(suite, base_url=request.url.rstrip("/"), run_stamp=run_stamp)
        return await run_commands(config, suite, _with_env(tests, contract))

    dependencies = config.dependencies_for(suite.name)
    values = services.generate_secrets(dependencies)
    running = {d.name: services.dependency_service(d, values) for d in dependencies}
    await wait_ready(dependencies, running, run_stamp=run_stamp)
    app = services.app_service(toolchain.image(source, config), config, running, values)
    failure = await services.probe_paths(app, config, run_stamp=run_stamp)
    if failure is not None:
        return _crashed(suite, 1, failure.output, problem=f"{failure.problem}: {failure.fix}")
    tests = services.bind(tests, {**running, APP_HOST: app})
    if gets_app_environment(suite):  # never run against a deployment: may see the app's side
        tests = services.with_app_env(tests, config, values, running)
    contract = contract_env(suite, base_url=base_url(config, APP_HOST), run_stamp=run_stamp)
    return await run_commands(config, suite, _with_env(tests, contract))


def _with_env(ctr: dagger.Container, env: tuple[tuple[str, str], ...]) -> dagger.Container:
    for name, value in env:
        ctr = ctr.with_env_variable(name, value)
    return ctr
