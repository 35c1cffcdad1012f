"""Portable Pipelines: the Dagger module's main object, its functions and their arguments.

Each function parses its arguments into the core's types (``pipelines.values``,
``pipelines.requests``) and reads the service's pipelines.toml once, before
any container work, so a mistake costs seconds, not a build. Then it hands
over: ``ci.suites`` runs lint and tests, ``ci.trivy`` the scan gate,
``ci.registry`` the ECR push, the core's deploy targets the dev deployment,
``ci.flows`` the pipelines.

The engine imports this module on every function call, so at import it
loads only what the function signatures name (``ci.arguments``,
``ci.results``); each function imports the builders and the core modules it
uses when it runs (``benchmarks/module_import.py`` measures the difference).
"""

# No `from __future__ import annotations` here: the SDK reads each field's
# Doc() from the dataclass field type, which that import turns into a string.

from typing import TYPE_CHECKING, Annotated

import dagger
from dagger import DefaultPath, Doc, Ignore

from ci._sdk import check, function, object_type, uncached_function
from ci.arguments import (
    SOURCE_IGNORE,
    BranchName,
    DeploymentUrl,
    Manifests,
    RegistryPassword,
    RegistryUsername,
    ReportStatus,
    RunUrl,
    ScanImage,
    Sha,
)
from ci.results import PipelineRun, ScanResult, SuiteResult

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ci.credentials import AwsSecrets
    from ci.flows import RunContext
    from pipelines.aws.session import AwsSession
    from pipelines.config import PipelineConfig
    from pipelines.config.forge import ForgeConfig
    from pipelines.deploy_targets import DevDeployTarget
    from pipelines.forge import CommitStatuses, Forge, Purpose

__all__ = ["PipelineRun", "PortablePipelines", "ScanResult", "SuiteResult"]

REFERENCE_SERVICE = "examples/hello-service"


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
        dagger.Secret | None, Doc("Token that may set commit statuses on the [forge]")
    ] = None
    git_token: Annotated[
        dagger.Secret | None,
        Doc("Token that may push a branch and open a pull/merge request (promote)"),
    ] = None
    # Set by the CI entry point from the event (docs/ci/shared-engine.md); a
    # plain string, checked when a function runs, so a bad value gets the
    # project's error rather than the CLI's.
    trust_level: Annotated[
        str,
        Doc(
            "untrusted (branches, pull/merge requests) or release (the protected release "
            "branch only): namespaces the cache volumes"
        ),
    ] = "untrusted"

    async def _config(
        self, *, runs: "Sequence[str]" = (), manifests: dagger.Directory | None = None
    ) -> "PipelineConfig":
        """The service's config, checked for what the call ``runs``, at this call's trust level."""
        from ci.context import load_config

        return await load_config(
            self.source, runs=runs, manifests=manifests, trust_level=self.trust_level
        )

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
        """Run every [lint] and [docs] command; report all failures, not just the first."""
        from ci import suites

        config = await self._config()
        if commit_message is not None:
            await suites.check_commit_message(
                self.source, commit_message, branch=branch, pattern=ticket_pattern
            )
        return (await suites.run_lint(self.source, config)).check()

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
        chain `check` to fail the call as `test`, `smoke`, `integration` and `e2e` do.
        """
        from ci import suites
        from pipelines.requests import SuiteRequest

        request = SuiteRequest.parse(suite, url)
        runs = ("app",) if request.suite != "unit" and request.url is None else ()
        config = await self._config(runs=runs)
        return await suites.run_suite(self.source, config, request)

    @function
    @check
    async def test(self) -> str:
        """Run the unit suite; fail the call when any test fails."""
        return (await self.test_report("unit")).check()

    @function
    async def build(
        self,
        platform: Annotated[
            dagger.Platform | None, Doc("e.g. linux/arm64; default: the engine's platform")
        ] = None,
    ) -> dagger.Container:
        """Build the service's image from its Dockerfile ([build] in pipelines.toml)."""
        from ci import toolchain

        return toolchain.image(self.source, await self._config(), platform)

    # Never cached: with --url it tests a deployment that changes outside the graph.
    @uncached_function
    async def smoke(self, url: DeploymentUrl = None) -> str:
        """Run the smoke suite against the built image as a service, or against --url."""
        return (await self.test_report("smoke", url)).check()

    # Never cached: the suite runs against services started for this call, and a
    # cache hit would return the stored verdict without testing.
    @uncached_function
    async def integration(self) -> str:
        """Run the integration suite against the app and its [[dependencies]]."""
        return (await self.test_report("integration")).check()

    # Named so the CLI shows `end-to-end`: the engine names `e2e` `e2E` and the
    # CLI `e-2-e` (digits split words in strcase).
    @uncached_function
    async def end_to_end(self) -> str:
        """Run the end-to-end suite ([test.e2e]) against the whole stack."""
        return (await self.test_report("e2e")).check()

    @function
    async def serve(self) -> dagger.Service:
        """The built image as a service, with its dependencies (`serve up --ports 8080:8080`)."""
        from ci import services

        return await services.serve(self.source, await self._config(runs=("app",)))

    # Never cached: the vulnerability DB changes every day.
    @uncached_function
    async def scan_report(
        self,
        image: ScanImage = None,
        registry_username: RegistryUsername = "AWS",
        registry_password: RegistryPassword = None,
    ) -> ScanResult:
        """Scan and gate, returning every report even when the gate fails (chain `check`)."""
        from ci import trivy
        from pipelines.requests import ScanRequest

        request = ScanRequest.parse(
            image, registry_username=registry_username, has_password=registry_password is not None
        )
        config = await self._config()
        return await trivy.scan_and_gate(
            self.source, config, request, registry_password=registry_password
        )

    # Never cached: the vulnerability DB changes every day.
    @uncached_function
    async def scan(
        self,
        image: ScanImage = None,
        registry_username: RegistryUsername = "AWS",
        registry_password: RegistryPassword = None,
    ) -> str:
        """Scan the image with Trivy and fail when a finding blocks the gate ([scan])."""
        return (await self.scan_report(image, registry_username, registry_password)).check()

    # --- release path ------------------------------------------------------

    def _aws_secrets(self, config: "PipelineConfig") -> "AwsSecrets":
        from ci.credentials import AwsSecrets

        return AwsSecrets(
            access_key_id=self.aws_access_key_id,
            secret_access_key=self.aws_secret_access_key,
            session_token=self.aws_session_token,
            web_identity_token=self.aws_web_identity_token,
            role_arn=self.aws_role_arn or (config.publish.role_arn if config.publish else None),
        )

    async def _aws(self, config: "PipelineConfig") -> "AwsSession":
        """The call's AWS session, resolved once (an OIDC token is exchanged here)."""
        from ci.credentials import aws_session

        return await aws_session(self._aws_secrets(config), region=config.aws_region)

    async def _optional_aws(self, config: "PipelineConfig") -> "AwsSession | None":
        from ci.credentials import optional_aws_session

        return await optional_aws_session(self._aws_secrets(config), region=config.aws_region)

    async def _target(
        self,
        config: "PipelineConfig",
        manifests: dagger.Directory | None,
        aws: "AwsSession | None",
    ) -> "DevDeployTarget":
        """The configured dev target, made with what it needs (checked before any work)."""
        import uuid

        from ci.kubectl import environment
        from pipelines.deploy_targets import make_target, target_kind

        deploy = config.require_deploy()
        if aws is None and target_kind(deploy).needs_aws:
            aws = await self._aws(config)
        env = environment(
            aws=aws,
            manifests=manifests or self.source,
            kubeconfig=self.kubeconfig,
            run_stamp=uuid.uuid4().hex,
        )
        return make_target(deploy, env)

    @uncached_function
    async def publish(
        self,
        sha: Sha,
        branch: Annotated[
            str | None, Doc("Push a test image <branch-slug>-<sha7> to the test repository")
        ] = None,
        version: Annotated[
            str | None, Doc("Push a release candidate (tag from [publish] release_tag)")
        ] = None,
    ) -> str:
        """Build and push the image to ECR; print repository@sha256:digest."""
        from ci import registry
        from pipelines.publishing import plan_publish
        from pipelines.requests import publish_target
        from pipelines.values import CommitId

        commit, target = CommitId.parse(sha), publish_target(branch=branch, version=version)
        config = await self._config(runs=("publish",))
        plan = plan_publish(config.require_publish(), commit=commit, target=target)
        login = await registry.login(config, plan, await self._aws(config))
        variants = registry.platform_variants(self.source, config)
        return str((await registry.push(variants, plan, login)).ref)

    @uncached_function
    async def deploy_dev(
        self,
        image: Annotated[str, Doc("What publish printed: repository@sha256:...")],
        branch: BranchName,
        manifests: Manifests = None,
    ) -> str:
        """Deploy a test image to dev infrastructure ([deploy]); print its URL."""
        from ci import steps
        from pipelines.values import Branch, ImageRef

        ref, branch_name = ImageRef.parse(image), Branch.parse(branch)
        config = await self._config(runs=("deploy",), manifests=manifests)
        target = await self._target(config, manifests, await self._optional_aws(config))
        app = await target.deploy(steps.deployment(config, image=ref, branch=branch_name))
        return app.url

    @uncached_function
    async def cleanup_dev(
        self,
        branch: Annotated[str, Doc("The branch whose dev deployment to remove")],
        manifests: Manifests = None,
    ) -> str:
        """Remove a branch's dev deployment (its namespace on EKS, its container on EC2)."""
        from pipelines.values import Branch

        branch_name = Branch.parse(branch)
        config = await self._config(runs=("deploy",), manifests=manifests)
        target = await self._target(config, manifests, await self._optional_aws(config))
        await target.cleanup(branch_name, service=config.service.name)
        return f"removed the dev deployment of {branch_name}"

    @function
    async def verdict(
        self,
        run: Annotated[dagger.File, Doc("run.json exported from dev, pre-merge or release")],
    ) -> str:
        """Fail the call when the recorded pipeline run did not pass."""
        from ci.results import require_passed
        from pipelines.run_record import verdict as read_verdict

        recorded = read_verdict(await run.contents(), file="run.json")
        return require_passed(recorded.ok, recorded.summary)

    # --- pipelines ---------------------------------------------------------

    async def _statuses(
        self, config: "PipelineConfig", report_status: bool
    ) -> "CommitStatuses | None":
        """Where statuses go: the [forge], when there is one and a run asks for them."""
        if not report_status or config.forge is None:
            return None
        return await _forge(config.forge, self.status_token, "status-token", "statuses")

    async def _start(
        self,
        name: str,
        sha: str,
        run_url: str | None,
        report_status: bool,
        manifests: dagger.Directory | None = None,
    ) -> "tuple[PipelineConfig, RunContext]":
        """Check a pipeline's common arguments, read the config, ready the status client."""
        from ci import flows
        from pipelines.urls import check_http_url
        from pipelines.values import CommitId

        commit = CommitId.parse(sha)
        url = check_http_url(run_url, argument="run-url") if run_url is not None else None
        config = await self._config(runs=(name,), manifests=manifests)
        run = flows.RunContext(
            name=name,
            sha=commit,
            run_url=url,
            statuses=await self._statuses(config, report_status),
            status_context=config.status.context_for(name),
        )
        return config, run

    @uncached_function
    async def dev(
        self,
        sha: Sha,
        branch: BranchName,
        run_url: RunUrl = None,
        report_status: ReportStatus = True,
        manifests: Manifests = None,
    ) -> PipelineRun:
        """Feature branch: lint, unit tests and build at once; push the test image,
        deploy it to dev, smoke-test the deployment, set "validations passed"."""
        from ci import flows, registry
        from pipelines.publishing import plan_publish
        from pipelines.requests import TestImage
        from pipelines.values import Branch

        config, run = await self._start("dev", sha, run_url, report_status, manifests)
        branch_name = Branch.parse(branch)
        image = TestImage(branch=branch_name)
        plan = plan_publish(config.require_publish(), commit=run.sha, target=image)
        aws = await self._aws(config)
        target = await self._target(config, manifests, aws)
        login = await registry.login(config, plan, aws)
        graph = flows.dev(
            self.source, config, plan=plan, login=login, target=target, branch=branch_name
        )
        return await flows.run(graph, run, extra={"branch": branch})

    @uncached_function
    async def pre_merge(
        self, sha: Sha, run_url: RunUrl = None, report_status: ReportStatus = True
    ) -> PipelineRun:
        """Pull request: lint, unit tests and build at once; then the service's other
        suites against the app as a service and the scan; set "safe to merge"."""
        from ci import flows

        config, run = await self._start("pre-merge", sha, run_url, report_status)
        return await flows.run(flows.pre_merge(self.source, config), run)

    @uncached_function
    async def release(
        self,
        sha: Sha,
        version: Annotated[
            str | None,
            Doc(
                "The release version, e.g. 1.4.0 (default: the service's VERSION, package.json, "
                "pyproject.toml or pom.xml, in that order)"
            ),
        ] = None,
        run_url: RunUrl = None,
        report_status: ReportStatus = True,
    ) -> PipelineRun:
        """Release branch: build the release candidate, gate it with the scan and make its
        SBOM, push it to the release repository, sign it and attest its SBOM with
        [publish] signing_key, record release.json (ref, digest, SBOMs, signature,
        provenance)."""
        from ci import cosign, flows, registry, steps
        from pipelines.publishing import plan_publish
        from pipelines.requests import publish_target
        from pipelines.versions import release_version

        config, run = await self._start("release", sha, run_url, report_status)
        version = release_version(version, await self._declarations()).version
        target = publish_target(branch=None, version=version)
        plan = plan_publish(config.require_publish(), commit=run.sha, target=target)
        aws = await self._aws(config)
        login = await registry.login(config, plan, aws)
        release_of = steps.ReleaseOf(commit=run.sha, version=version, run_url=run.run_url)
        signer = cosign.signer(config, login, aws)
        graph = flows.release(
            self.source, config, plan=plan, login=login, release_of=release_of, signer=signer
        )
        return await flows.run(graph, run, extra={"version": version})

    async def _declarations(self) -> dict[str, str]:
        """The files a version may be declared in that the service has (one listing)."""
        from pipelines.versions import FILES

        present = set(await self.source.entries())
        return {name: await self.source.file(name).contents() for name in FILES if name in present}

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
        engineer syncs the environment in Argo CD. Never a tag, always a digest,
        and only one that carries the release key's signature and SBOM
        attestation ([publish] signing_key): cosign's exit codes decide, before
        anything is written to the forge.
        """
        from ci import cosign
        from pipelines.promotion import overlay_path, propose_promotion
        from pipelines.values import Digest

        overlay_path(environment)
        pinned = Digest.parse(digest)
        config = await self._config(runs=("promote",))
        settings = config.require_forge("promotion")
        forge = await _forge(settings, self.git_token, "git-token", "promotion")
        await cosign.verify_release(config, await self._aws(config), pinned)
        promotion = await propose_promotion(
            forge,
            environment=environment,
            image=config.service.name,
            digest=pinned,
            base_branch=base_branch,
            release_ref=release_ref,
        )
        return promotion.summary


async def _forge(
    settings: "ForgeConfig", token: dagger.Secret | None, argument: str, purpose: "Purpose"
) -> "Forge":
    """The configured forge's client, its token read from the Secret at the last moment."""
    from ci.credentials import plaintext
    from pipelines.forge import make_forge

    plain = await plaintext(token) if token is not None else None
    return make_forge(settings, plain, argument=argument, purpose=purpose)
