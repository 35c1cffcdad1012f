"""Portable Pipelines: the Dagger module's main object.

Each function reads the service's pipelines.toml once (``ci.context``),
checks its arguments, and delegates: ``ci.suites`` runs lint and tests,
``ci.scan`` the Trivy gate, ``ci.publishing`` the ECR push, ``ci.deploying``
the dev deployment and ``ci.flows`` the pipelines. Arguments are checked
before any container work, so a mistake costs seconds, not a build.
"""

# No `from __future__ import annotations` here: the SDK reads each field's
# Doc() from the dataclass field type, which that import turns into a string.

import uuid
from typing import Annotated

import dagger
from dagger import DefaultPath, Doc, Ignore, check, dag, function

from ci import deploying, flows, publishing, services, suites, toolchain
from ci._sdk import object_type, uncached_function
from ci.aws import aws_credentials, aws_env, aws_session, plaintext
from ci.context import load_config
from ci.results import PipelineRun, ScanResult, SuiteResult
from ci.scan import check_request as check_scan_request
from ci.scan import scan_and_gate
from pipelines import commit_msg
from pipelines.aws.session import AwsSession
from pipelines.config import PipelineConfig
from pipelines.deploy_targets import DevDeployment, DevDeployTarget, parse_image_ref
from pipelines.errors import ChecksFailed, InputError
from pipelines.forge import CommitStatuses, make_forge
from pipelines.promotion import overlay_path, propose_promotion
from pipelines.release_record import RELEASE_FILE, ReleaseRecord
from pipelines.release_record import to_json as release_json
from pipelines.run_record import verdict
from pipelines.stepgraph import Step
from pipelines.urls import check_http_url
from pipelines.values import Branch, CommitId, Digest

__all__ = ["PipelineRun", "PortablePipelines", "ScanResult", "SuiteResult"]

REFERENCE_SERVICE = "examples/hello-service"
# Where release reads its version when --version is not given.
VERSION_FILE = "VERSION"
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
MANIFESTS_DOC = "Where [deploy.eks] overlay paths start (default: --source)"


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
    git_token: Annotated[
        dagger.Secret | None,
        Doc("Token that may push a branch and open a pull/merge request (promote)"),
    ] = None

    async def _config(self) -> PipelineConfig:
        return await load_config(self.source)

    # --- checks and builds -------------------------------------------------

    @function
    @check
    async def lint(
        self,
        commit_message: Annotated[
            str | None,
            Doc("Also check this commit message for a ticket id, as the commit-msg hook does"),
        ] = None,
        branch: Annotated[
            str | None, Doc("The branch of that commit (a ticket id there also counts)")
        ] = None,
        ticket_pattern: Annotated[
            str | None,
            Doc("Ticket id regex (default: the service's pyproject.toml, else ABC-123 style)"),
        ] = None,
    ) -> str:
        """Run every [lint] command; report all failures, not just the first."""
        config = await self._config()
        if commit_message is not None:
            await self._check_commit_message(commit_message, branch, ticket_pattern)
        return await suites.run_lint(self.source, config)

    async def _check_commit_message(
        self, message: str, branch: str | None, pattern: str | None
    ) -> None:
        """The commit-msg hook's rule (pipelines.commit_msg), applied before any container."""
        pyproject = (
            await self.source.file("pyproject.toml").contents()
            if await self.source.exists("pyproject.toml")
            else None
        )
        rule = commit_msg.ticket_pattern(
            environ={commit_msg.PATTERN_ENV: pattern} if pattern else {},
            pyproject_text=pyproject,
        )
        verdict = commit_msg.check_commit_message(message, branch=branch, pattern=rule)
        if not verdict.accepted:
            raise ChecksFailed(verdict.reason)

    async def _suite(self, suite: str, url: str | None = None) -> SuiteResult:
        clean_url = suites.check_request(suite, url)
        return await suites.run_suite(self.source, await self._config(), suite, clean_url)

    async def _validate(self, suite: str, url: str | None = None) -> str:
        result = await self._suite(suite, url)
        if result.exit_code != 0:
            raise ChecksFailed(result.summary)
        return result.summary

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
        return await self._validate("unit")

    @function
    async def build(
        self,
        platform: Annotated[
            dagger.Platform | None, Doc("e.g. linux/arm64; default: the engine's platform")
        ] = None,
    ) -> dagger.Container:
        """Build the service's image from its Dockerfile ([build] in pipelines.toml)."""
        return toolchain.image(self.source, await self._config(), platform)

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
        values = services.generate_secrets(config.dependencies)
        running = {d.name: services.dependency_service(d, values) for d in config.dependencies}
        return services.app_service(toolchain.image(self.source, config), config, running, values)

    async def _scan(
        self, image: str | None, registry_username: str, registry_password: dagger.Secret | None
    ) -> ScanResult:
        check_scan_request(image, registry_password)
        return await scan_and_gate(
            self.source,
            await self._config(),
            image=image,
            registry_username=registry_username,
            registry_password=registry_password,
        )

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
            raise ChecksFailed(result.summary)
        return result.summary

    # --- release path ------------------------------------------------------

    async def _aws(self, config: PipelineConfig, region: str = "us-east-1") -> AwsSession:
        role = self.aws_role_arn or (config.publish.role_arn if config.publish else None)
        credentials = await aws_credentials(
            access_key_id=self.aws_access_key_id,
            secret_access_key=self.aws_secret_access_key,
            session_token=self.aws_session_token,
            web_identity_token=self.aws_web_identity_token,
            role_arn=role,
        )
        return await aws_session(credentials, region=region)

    async def _aws_env(self, config: PipelineConfig, region: str) -> dict[str, dagger.Secret]:
        """AWS keys for tools that read them from the environment (kubectl's
        `aws eks get-token`); an OIDC token is exchanged for the role's keys first.
        None at all is fine: the kubeconfig may carry its own credentials."""
        if self.aws_web_identity_token is None and self.aws_access_key_id is None:
            return {}
        return aws_env(await self._aws(config, region))

    async def _login(
        self, config: PipelineConfig, plan: publishing.PublishPlan
    ) -> publishing.Login:
        settings = publishing.publish_settings(config)
        return await publishing.registry_login(settings, plan, await self._aws(config))

    async def _push(
        self, config: PipelineConfig, plan: publishing.PublishPlan, login: publishing.Login
    ) -> publishing.Published:
        return await publishing.push(publishing.platform_variants(self.source, config), plan, login)

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
        CommitId.parse(sha)
        config = await self._config()
        plan = publishing.plan_publish(config, sha=sha, branch=branch, version=version)
        return (await self._push(config, plan, await self._login(config, plan))).ref

    async def _deploy_target(
        self, config: PipelineConfig, manifests: dagger.Directory | None, run_stamp: str
    ) -> DevDeployTarget:
        settings = deploying.deploy_settings(config)
        session = await self._aws(config) if settings.target == "ec2" else None
        region = settings.eks.region if settings.eks else "us-east-1"
        return await deploying.target(
            config,
            manifests=manifests or self.source,
            kubeconfig=self.kubeconfig,
            aws_env=await self._aws_env(config, region) if settings.target == "eks" else {},
            session=session,
            run_stamp=run_stamp,
        )

    @uncached_function
    async def deploy_dev(
        self,
        image: Annotated[str, Doc("What publish printed: repository@sha256:...")],
        branch: Annotated[str, Doc("The branch the image was built from")],
        manifests: Annotated[
            dagger.Directory | None, Doc(MANIFESTS_DOC), Ignore(SOURCE_IGNORE)
        ] = None,
    ) -> str:
        """Deploy a test image to dev infrastructure ([deploy]); print its URL."""
        parse_image_ref(image)
        Branch.parse(branch)
        config = await self._config()
        target = await self._deploy_target(config, manifests, uuid.uuid4().hex)
        app = await target.deploy(_deployment(config, image=image, branch=branch))
        return app.url

    @uncached_function
    async def cleanup_dev(
        self,
        branch: Annotated[str, Doc("The branch whose dev deployment to remove")],
        manifests: Annotated[
            dagger.Directory | None, Doc(MANIFESTS_DOC), Ignore(SOURCE_IGNORE)
        ] = None,
    ) -> str:
        """Remove a branch's dev deployment (its namespace on EKS, its container on EC2)."""
        Branch.parse(branch)
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
            raise ChecksFailed(outcome.summary)
        return outcome.summary

    # --- pipelines ---------------------------------------------------------

    async def _status_client(
        self, config: PipelineConfig, report_status: bool
    ) -> CommitStatuses | None:
        if not report_status or config.forge is None:
            return None
        token = await plaintext(self.status_token) if self.status_token is not None else None
        return make_forge(config.forge, token, argument="status-token", purpose="statuses")

    async def _start(
        self, pipeline_name: str, sha: str, run_url: str | None, report_status: bool
    ) -> tuple[PipelineConfig, flows.RunContext]:
        """Check a pipeline's common arguments, read the config, ready the status client."""
        commit = CommitId.parse(sha).value
        url = check_http_url(run_url, argument="run-url") if run_url is not None else None
        config = await self._config()
        return config, flows.RunContext(
            sha=commit,
            run_url=url,
            status=await self._status_client(config, report_status),
            status_context=config.status.context_for(pipeline_name),
        )

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
            dagger.Directory | None, Doc(MANIFESTS_DOC), Ignore(SOURCE_IGNORE)
        ] = None,
    ) -> PipelineRun:
        """Feature branch: lint, unit tests and build at once; push the test image,
        deploy it to dev, smoke-test the deployment, set "validations passed"."""
        config, run = await self._start("dev", sha, run_url, report_status)
        plan = publishing.plan_publish(config, sha=run.sha, branch=branch, version=None)
        target = await self._deploy_target(config, manifests, uuid.uuid4().hex)
        login = await self._login(config, plan)
        reports: flows.Reports = {}
        state: dict[str, str] = {}

        async def publish() -> str:
            published = await self._push(config, plan, login)
            state["image"] = published.ref
            return f"{published.ref} (reused)" if published.reused else published.ref

        async def deploy() -> str:
            app = await target.deploy(_deployment(config, image=state["image"], branch=branch))
            state["url"] = app.url
            return f"{app.url} ({app.where})"

        source = self.source
        steps = [
            flows.lint_step(source, config),
            flows.suite_step(source, config, "unit", reports),
            flows.build_step(source, config, every_platform=True),
            Step(name="publish", run=publish, depends_on=("lint", "unit", "build"), kind="effect"),
            Step(name="deploy", run=deploy, depends_on=("publish",), kind="effect"),
            flows.suite_step(
                source, config, "smoke", reports, depends_on=("deploy",), url=lambda: state["url"]
            ),
        ]
        return await flows.run_pipeline(
            "dev", steps, reports=reports, run=run, extra={"branch": branch}
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
        config, run = await self._start("pre-merge", sha, run_url, report_status)
        for suite in ("unit", "smoke", "integration", "e2e"):
            config.suite(suite)
        reports: flows.Reports = {}
        source = self.source
        after_build = ("build",)
        steps = [
            flows.lint_step(source, config),
            flows.suite_step(source, config, "unit", reports),
            flows.build_step(source, config, every_platform=False),
            flows.suite_step(source, config, "smoke", reports, depends_on=after_build),
            flows.suite_step(source, config, "integration", reports, depends_on=after_build),
            flows.suite_step(source, config, "e2e", reports, depends_on=after_build),
            flows.scan_step(
                source, config, reports, run_stamp=uuid.uuid4().hex, depends_on=after_build
            ),
        ]
        return await flows.run_pipeline("pre-merge", steps, reports=reports, run=run)

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
        config, run = await self._start("release", sha, run_url, report_status)
        release_version = version if version is not None else await self._version_file()
        plan = publishing.plan_publish(config, sha=run.sha, branch=None, version=release_version)
        login = await self._login(config, plan)
        reports: flows.Reports = {}

        async def publish() -> str:
            published = await self._push(config, plan, login)
            record = ReleaseRecord(
                service=config.service.name,
                ref=published.ref,
                digest=published.digest,
                commit=run.sha,
                version=release_version,
                tags=published.tags,
            )
            reports[RELEASE_FILE] = (
                dag.directory().with_new_file(RELEASE_FILE, release_json(record)).file(RELEASE_FILE)
            )
            return published.ref

        source = self.source
        steps = [
            flows.build_step(source, config, every_platform=True),
            flows.scan_step(
                source,
                config,
                reports,
                run_stamp=uuid.uuid4().hex,
                depends_on=("build",),
                every_platform=True,
            ),
            Step(name="publish", run=publish, depends_on=("scan",), kind="effect"),
        ]
        return await flows.run_pipeline(
            "release", steps, reports=reports, run=run, extra={"version": release_version}
        )

    # --- promotion -----------------------------------------------------------

    @uncached_function
    async def promote(
        self,
        environment: Annotated[str, Doc("staging or prod")],
        digest: Annotated[str, Doc("The release's digest, sha256:... (from release.json)")],
        base_branch: Annotated[str, Doc("The branch Argo CD deploys from")] = "main",
        release_ref: Annotated[
            str | None, Doc("The release's repository@sha256:..., quoted in the review")
        ] = None,
    ) -> str:
        """Open the reviewed change that pins the digest in the environment's overlay.

        Nothing is deployed here: once the change is merged, a release
        engineer syncs the environment in Argo CD. Never a tag, always a digest.
        """
        overlay_path(environment)
        pinned = Digest.parse(digest)
        config = await self._config()
        token = await plaintext(self.git_token) if self.git_token is not None else None
        forge = make_forge(
            config.require_forge("promotion"), token, argument="git-token", purpose="promotion"
        )
        promotion = await propose_promotion(
            forge,
            environment=environment,
            image=config.service.name,
            digest=pinned,
            base_branch=base_branch,
            release_ref=release_ref,
        )
        return promotion.summary


def _deployment(config: PipelineConfig, *, image: str, branch: str) -> DevDeployment:
    return DevDeployment(
        image=image,
        branch=branch,
        service=config.service.name,
        port=config.service.port,
        health_path=config.service.health_path,
    )
