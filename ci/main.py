"""Portable Pipelines: the Dagger module's main object.

Each function reads the service's pipelines.toml once (``context.load_config``),
builds its graph with ``ci.toolchain`` and awaits only what it must report.
"""

# No `from __future__ import annotations` here: the SDK reads each field's
# Doc() from the dataclass field type, which that import turns into a string.

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

import anyio
import dagger
from dagger import DefaultPath, Doc, Ignore, check, dag, function

from ci import deploying, publishing, services, toolchain
from ci import scan as trivy
from ci._sdk import field, object_type, uncached_function
from ci.aws import aws_credentials, plaintext
from ci.context import load_config
from pipelines.config import APP_HOST, SUITES, DependencyConfig, PipelineConfig, SuiteConfig
from pipelines.deploy_targets import DevDeployment, DevDeployTarget, parse_image_ref
from pipelines.ecr import AwsCredentials, WebIdentity
from pipelines.errors import InputError, PipelinesError
from pipelines.images import check_image_ref
from pipelines.junit import crash_report, summarize
from pipelines.release_record import RELEASE_FILE, ReleaseRecord
from pipelines.release_record import to_json as release_json
from pipelines.run_record import RECORD_FILE, RunFailed, verdict
from pipelines.run_record import to_json as run_json
from pipelines.runner import PipelineResult, Step, pipeline
from pipelines.scan import (
    IgnoreRule,
    evaluate,
    failure_message,
    parse_ignorefile,
    parse_report,
    summary_table,
)
from pipelines.status import CommitStatus, CommitStatusClient, final_status, make_status_client
from pipelines.status.base import StatusPostError
from pipelines.tags import branch_slug, validate_sha
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
# Where release reads its version when --version is not given.
VERSION_FILE = "VERSION"


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
class PipelineRun:
    """The outcome of dev, pre-merge or release: every step, and every report."""

    passed: Annotated[bool, Doc("True when every step passed")] = field()
    summary: Annotated[str, Doc("The step table: result, duration and output of each")] = field()
    reports: Annotated[
        dagger.Directory,
        Doc("run.json, summary.txt, JUnit XML per suite, scan reports, release.json"),
    ] = field()

    @function
    def check(self) -> str:
        """Fail the call unless the run passed (chain it: `dev ... check`)."""
        if not self.passed:
            raise RunFailed(self.summary)
        return self.summary


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
    aws_access_key_id: Annotated[
        dagger.Secret | None, Doc("AWS key id, e.g. env://AWS_ACCESS_KEY_ID")
    ] = None
    aws_secret_access_key: Annotated[
        dagger.Secret | None, Doc("AWS secret key, e.g. env://AWS_SECRET_ACCESS_KEY")
    ] = None
    aws_session_token: Annotated[
        dagger.Secret | None, Doc("AWS session token of temporary keys")
    ] = None
    aws_web_identity_token: Annotated[
        dagger.Secret | None,
        Doc("CI OIDC token exchanged for --aws-role-arn (preferred over keys)"),
    ] = None
    aws_role_arn: Annotated[
        str | None, Doc("Role for the OIDC token; default: [publish] role_arn")
    ] = None
    kubeconfig: Annotated[
        dagger.Secret | None, Doc("Kubeconfig of the dev EKS cluster, e.g. file://~/.kube/config")
    ] = None
    status_token: Annotated[
        dagger.Secret | None, Doc("Token that may set commit statuses ([status] provider)")
    ] = None

    async def _config(self) -> PipelineConfig:
        return await load_config(self.source)

    @function
    @check
    async def lint(self) -> str:
        """Run every [lint] command; report all failures, not just the first."""
        return await self._lint()

    async def _lint(self) -> str:
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

    # --- release path --------------------------------------------------------

    async def _aws(self, config: PipelineConfig) -> AwsCredentials | WebIdentity:
        role = self.aws_role_arn or (config.publish.role_arn if config.publish else None)
        return await aws_credentials(
            access_key_id=self.aws_access_key_id,
            secret_access_key=self.aws_secret_access_key,
            session_token=self.aws_session_token,
            web_identity_token=self.aws_web_identity_token,
            role_arn=role,
        )

    def _aws_env(self) -> dict[str, dagger.Secret]:
        """AWS keys for tools that read them from the environment (kubectl's exec plugin)."""
        named = {
            "AWS_ACCESS_KEY_ID": self.aws_access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.aws_secret_access_key,
            "AWS_SESSION_TOKEN": self.aws_session_token,
        }
        return {name: secret for name, secret in named.items() if secret is not None}

    async def _publish(
        self, config: PipelineConfig, plan: publishing.PublishPlan
    ) -> publishing.Published:
        settings = publishing.publish_settings(config)
        username, password = await publishing.registry_login(
            settings, plan, await self._aws(config)
        )
        return await publishing.push(
            publishing.platform_variants(self.source, config),
            plan,
            registry=settings.registry,
            username=username,
            password=password,
        )

    @uncached_function
    async def publish(
        self,
        sha: Annotated[str, Doc("The full commit id the image is built from")],
        branch: Annotated[
            str | None, Doc("Push a test image <branch-slug>-<sha7> to the test repository")
        ] = None,
        version: Annotated[
            str | None, Doc("Push a release candidate (tag from [publish] release_tag)")
        ] = None,
    ) -> str:
        """Build and push the image to ECR; print repository@sha256:digest."""
        validate_sha(sha)
        config = await self._config()
        plan = publishing.plan_publish(config, sha=sha, branch=branch, version=version)
        return (await self._publish(config, plan)).ref

    async def _deploy_target(
        self, config: PipelineConfig, manifests: dagger.Directory | None, run_stamp: str
    ) -> DevDeployTarget:
        settings = deploying.deploy_settings(config)
        credentials = await self._aws(config) if settings.target == "ec2" else None
        return await deploying.target(
            config,
            manifests=manifests or self.source,
            kubeconfig=self.kubeconfig,
            aws_env=self._aws_env(),
            credentials=credentials,
            run_stamp=run_stamp,
        )

    @uncached_function
    async def deploy_dev(
        self,
        image: Annotated[str, Doc("What publish printed: repository@sha256:...")],
        branch: Annotated[str, Doc("The branch the image was built from")],
        manifests: Annotated[
            dagger.Directory | None,
            Doc("Where [deploy.eks] overlay paths start (default: --source)"),
        ] = None,
    ) -> str:
        """Deploy a test image to dev infrastructure ([deploy]); print its URL."""
        parse_image_ref(image)
        branch_slug(branch)
        config = await self._config()
        target = await self._deploy_target(config, manifests, uuid.uuid4().hex)
        app = await target.deploy(_deployment(config, image=image, branch=branch))
        return app.url

    @uncached_function
    async def cleanup_dev(
        self,
        branch: Annotated[str, Doc("The branch whose dev deployment to remove")],
        manifests: Annotated[
            dagger.Directory | None,
            Doc("Where [deploy.eks] overlay paths start (default: --source)"),
        ] = None,
    ) -> str:
        """Remove a branch's dev deployment (its namespace on EKS, its container on EC2)."""
        branch_slug(branch)
        config = await self._config()
        target = await self._deploy_target(config, manifests, uuid.uuid4().hex)
        await target.cleanup(branch, service=config.service.name)
        return f"removed the dev deployment of {branch}"

    @function
    async def verdict(
        self,
        run: Annotated[dagger.File, Doc("run.json exported from dev, pre-merge or release")],
    ) -> str:
        """Fail the call when the recorded pipeline run did not pass."""
        outcome = verdict(await run.contents(), file="run.json")
        if not outcome.ok:
            raise RunFailed(outcome.summary)
        return outcome.summary

    # --- pipelines -----------------------------------------------------------

    async def _status_client(
        self, config: PipelineConfig, report_status: bool
    ) -> CommitStatusClient | None:
        if not report_status or config.status is None:
            return None
        token = await plaintext(self.status_token) if self.status_token is not None else None
        return make_status_client(config.status, token)

    async def _run_pipeline(
        self,
        name: str,
        steps: list[Step],
        *,
        reports: dict[str, dagger.File],
        status: CommitStatusClient | None,
        status_context: str,
        sha: str,
        run_url: str | None,
        extra: dict[str, str] | None = None,
    ) -> PipelineRun:
        """Post pending, run the steps, post the final status, collect the reports."""
        if status is not None:
            await status.post(
                CommitStatus(
                    sha=sha,
                    state="pending",
                    context=status_context,
                    description=f"{name}: running",
                    target_url=run_url,
                )
            )
        result: PipelineResult = await pipeline(name, steps).run()
        summary = result.summary()
        passed = result.ok
        if status is not None:
            try:
                await status.post(
                    final_status(result, sha=sha, context=status_context, target_url=run_url)
                )
            except StatusPostError as error:
                # Reported, never dropped: the run fails and says why.
                passed = False
                summary += f"\ncommit status {status_context!r} was not posted: {error}"
        directory = dag.directory()
        for path, file in sorted(reports.items()):
            directory = directory.with_file(path, file)
        directory = directory.with_new_file(
            RECORD_FILE, run_json(result, extra={"commit": sha, **(extra or {})})
        ).with_new_file("summary.txt", summary + "\n")
        return PipelineRun(passed=passed, summary=summary, reports=directory)

    def _suite_step(
        self,
        suite: str,
        reports: dict[str, dagger.File],
        *,
        depends_on: tuple[str, ...] = (),
        url: Callable[[], str] | None = None,
    ) -> Step:
        async def run() -> str:
            result = await self._suite(suite, url() if url is not None else None)
            reports[f"junit/{suite}.xml"] = result.report
            if result.exit_code != 0:
                raise ValidationFailed(result.summary)
            return result.summary

        return Step(name=suite, run=run, depends_on=depends_on)

    def _lint_step(self) -> Step:
        async def run() -> str:
            return await self._lint()

        return Step(name="lint", run=run)

    def _build_step(self, config: PipelineConfig) -> Step:
        async def run() -> str:
            for variant in publishing.platform_variants(self.source, config):
                await variant.sync()
            platforms = ", ".join(config.build.platforms) or "engine platform"
            return f"image built ({platforms})"

        return Step(name="build", run=run)

    def _scan_step(
        self, reports: dict[str, dagger.File], run_stamp: str, depends_on: tuple[str, ...]
    ) -> Step:
        async def run() -> str:
            result = await self._scan(None, "AWS", None, run_stamp)
            for name in (
                "trivy.json",
                "trivy.sarif",
                "gl-container-scanning-report.json",
                "summary.txt",
            ):
                reports[f"scan/{name}"] = result.reports.file(name)
            if not result.passed:
                raise ValidationFailed(result.summary)
            return "scan gate passed"

        return Step(name="scan", run=run, depends_on=depends_on)

    @uncached_function
    async def dev(
        self,
        sha: Annotated[str, Doc("The full commit id being validated")],
        branch: Annotated[str, Doc("The feature branch")],
        run_url: Annotated[str | None, Doc("Link to the CI run, shown on the status")] = None,
        report_status: Annotated[
            bool, Doc("Post commit statuses ([status]); false for a local run")
        ] = True,
        manifests: Annotated[
            dagger.Directory | None,
            Doc("Where [deploy.eks] overlay paths start (default: --source)"),
        ] = None,
    ) -> PipelineRun:
        """Feature branch: lint, unit tests and build at once; push the test image,
        deploy it to dev, smoke-test the deployment, set "validations passed"."""
        commit = validate_sha(sha)
        if run_url is not None:
            run_url = check_http_url(run_url, argument="run-url")
        config = await self._config()
        plan = publishing.plan_publish(config, sha=commit, branch=branch, version=None)
        deploying.deploy_settings(config)
        status = await self._status_client(config, report_status)
        stamp = uuid.uuid4().hex
        target = await self._deploy_target(config, manifests, stamp)
        reports: dict[str, dagger.File] = {}
        state: dict[str, str] = {}

        async def publish() -> str:
            state["image"] = (await self._publish(config, plan)).ref
            return state["image"]

        async def deploy() -> str:
            app = await target.deploy(_deployment(config, image=state["image"], branch=branch))
            state["url"] = app.url
            return f"{app.url} ({app.where})"

        steps = [
            self._lint_step(),
            self._suite_step("unit", reports),
            self._build_step(config),
            Step(name="publish", run=publish, depends_on=("lint", "unit", "build"), kind="effect"),
            Step(name="deploy", run=deploy, depends_on=("publish",), kind="effect"),
            self._suite_step("smoke", reports, depends_on=("deploy",), url=lambda: state["url"]),
        ]
        return await self._run_pipeline(
            "dev",
            steps,
            reports=reports,
            status=status,
            status_context=config.status.dev_context if config.status else "pipelines/dev",
            sha=commit,
            run_url=run_url,
            extra={"branch": branch},
        )

    @uncached_function
    async def pre_merge(
        self,
        sha: Annotated[str, Doc("The full commit id of the pull request head")],
        run_url: Annotated[str | None, Doc("Link to the CI run, shown on the status")] = None,
        report_status: Annotated[
            bool, Doc("Post commit statuses ([status]); false for a local run")
        ] = True,
    ) -> PipelineRun:
        """Pull request: lint, unit tests and build; then smoke, integration, e2e and
        the scan at once; set the required "safe to merge" status."""
        commit = validate_sha(sha)
        if run_url is not None:
            run_url = check_http_url(run_url, argument="run-url")
        config = await self._config()
        for suite in ("unit", "smoke", "integration", "e2e"):
            config.suite(suite)
        status = await self._status_client(config, report_status)
        stamp = uuid.uuid4().hex
        reports: dict[str, dagger.File] = {}
        after_build = ("build",)
        steps = [
            self._lint_step(),
            self._suite_step("unit", reports),
            self._build_step(config),
            self._suite_step("smoke", reports, depends_on=after_build),
            self._suite_step("integration", reports, depends_on=after_build),
            self._suite_step("e2e", reports, depends_on=after_build),
            self._scan_step(reports, stamp, after_build),
        ]
        return await self._run_pipeline(
            "pre-merge",
            steps,
            reports=reports,
            status=status,
            status_context=(
                config.status.pre_merge_context if config.status else "pipelines/pre-merge"
            ),
            sha=commit,
            run_url=run_url,
        )

    async def _version_file(self) -> str:
        if not await self.source.exists(VERSION_FILE):
            raise InputError(
                argument="version",
                problem=f"no --version and no {VERSION_FILE} file in the service directory",
                fix=f"pass --version=1.4.0, or keep the version in {VERSION_FILE} (one line)",
            )
        version = (await self.source.file(VERSION_FILE).contents()).strip()
        if not version or "\n" in version:
            raise InputError(
                argument="version",
                problem=f"{VERSION_FILE} must hold one version on one line, got {version!r}",
                fix=f"write e.g. `1.4.0` into {VERSION_FILE}",
            )
        return version

    @uncached_function
    async def release(
        self,
        sha: Annotated[str, Doc("The full commit id merged to the release branch")],
        version: Annotated[
            str | None, Doc("The release version, e.g. 1.4.0 (default: the VERSION file)")
        ] = None,
        run_url: Annotated[str | None, Doc("Link to the CI run, shown on the status")] = None,
        report_status: Annotated[
            bool, Doc("Post commit statuses ([status]); false for a local run")
        ] = True,
    ) -> PipelineRun:
        """Release branch: build the release candidate, gate it with the scan, push it
        to the release repository, record release.json (ref, digest, commit, tags)."""
        commit = validate_sha(sha)
        if run_url is not None:
            run_url = check_http_url(run_url, argument="run-url")
        config = await self._config()
        if version is None:
            version = await self._version_file()
        plan = publishing.plan_publish(config, sha=commit, branch=None, version=version)
        status = await self._status_client(config, report_status)
        stamp = uuid.uuid4().hex
        reports: dict[str, dagger.File] = {}

        async def publish() -> str:
            published = await self._publish(config, plan)
            record = ReleaseRecord(
                service=config.service.name,
                ref=published.ref,
                digest=published.digest,
                commit=commit,
                version=version,
                tags=published.tags,
            )
            reports[RELEASE_FILE] = (
                dag.directory().with_new_file(RELEASE_FILE, release_json(record)).file(RELEASE_FILE)
            )
            return published.ref

        steps = [
            self._build_step(config),
            self._scan_step(reports, stamp, ("build",)),
            Step(name="publish", run=publish, depends_on=("scan",), kind="effect"),
        ]
        return await self._run_pipeline(
            "release",
            steps,
            reports=reports,
            status=status,
            status_context=config.status.release_context if config.status else "pipelines/release",
            sha=commit,
            run_url=run_url,
            extra={"version": version},
        )


def _deployment(config: PipelineConfig, *, image: str, branch: str) -> DevDeployment:
    return DevDeployment(
        image=image,
        branch=branch,
        service=config.service.name,
        port=config.service.port,
        health_path=config.service.health_path,
    )
