"""Plan tier: publish, the dev deployment, and the dev / pre-merge / release pipelines.

ECR runs in moto's in-process mock (no socket), commit statuses go to a
recording client, and the seam answers the engine's awaits.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

import dagger
import pytest
from dagger import dag

from ci.main import PipelineRun, PortablePipelines
from pipelines.aws.ecr import EcrError, TagExistsError
from pipelines.errors import ChecksFailed, InputError
from pipelines.images import IMAGES
from pipelines.run_record import verdict
from pipelines.scan.command import JSON_REPORT
from pipelines.signing import DOCKER_CONFIG_FILE, SBOM_PREDICATE
from pipelines.statuses import CommitStatus
from tests.conftest import ROOT
from tests.graph import Graph, render, strings_in
from tests.plan.conftest import fails_with
from tests.plan.doubles import (
    REGISTRY,
    SBOM_TEXT,
    SENTINELS,
    SHA,
    SIGNATURE,
    TRIVY,
    StatusRecorder,
    scripted_suites,
    with_secrets,
)
from tests.plan.seam import Seam, manifests


def published(seam: Seam) -> list[Graph]:
    return seam.graphs("Container.publish")


def address(graph: Graph) -> str:
    return str(graph.calls[-1].args["path"])


# --- publish --------------------------------------------------------------------


async def test_publish_pushes_a_test_image_for_every_platform(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any
) -> None:
    ref = await with_secrets(lazy_source).publish(sha=SHA, branch="feature/ABC-1-login")
    (push,) = published(seam)
    assert address(push) == f"{REGISTRY}/hello-service-test:feature-abc-1-login-fcfdfc31b3-0123456"
    assert ref.startswith(f"{REGISTRY}/hello-service-test@sha256:")
    # Two platforms in the config: an index of two variants, each built for its platform.
    variants = push.calls[-1].args["platform_variants"]
    assert [v.find("dockerBuild")[0].args["platform"] for v in variants] == [
        "linux/amd64",
        "linux/arm64",
    ]
    (auth,) = push.find("withRegistryAuth")
    assert auth.args["address"] == REGISTRY
    assert auth.args["username"] == "AWS"
    assert auth.args["secret"].find("setSecret")  # the password travels as a Secret
    # ensure_repository created the test repository immutable, scanned, with expiry.
    repo = ecr.describe_repositories(repositoryNames=["hello-service-test"])["repositories"][0]
    assert repo["imageTagMutability"] == "IMMUTABLE"
    assert repo["imageScanningConfiguration"]["scanOnPush"] is True
    policy = json.loads(
        ecr.get_lifecycle_policy(repositoryName="hello-service-test")["lifecyclePolicyText"]
    )
    assert policy["rules"][0]["selection"]["countNumber"] == 14


async def test_publish_a_release_candidate_to_the_release_repository(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any
) -> None:
    ref = await with_secrets(lazy_source).publish(sha=SHA, version="1.4.0")
    (push,) = published(seam)
    assert address(push) == f"{REGISTRY}/hello-service:rc-1.4.0-0123456"
    assert ref.startswith(f"{REGISTRY}/hello-service@sha256:")
    # No expiry policy on release candidates.
    with pytest.raises(ecr.exceptions.LifecyclePolicyNotFoundException):
        ecr.get_lifecycle_policy(repositoryName="hello-service")


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"branch": "feature/x", "version": "1.0.0"}, "branch"),
        ({}, "branch"),
        ({"branch": "///"}, "branch"),
        ({"version": "1.0+build"}, "version"),
    ],
)
async def test_publish_refuses_bad_input_before_any_work(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, kwargs: dict[str, str], argument: str
) -> None:
    with fails_with(InputError) as caught:
        await with_secrets(lazy_source).publish(sha=SHA, **kwargs)
    assert caught.value.argument == argument
    assert published(seam) == []
    assert ecr.describe_repositories()["repositories"] == []


async def test_a_bad_sha_is_refused(seam: Seam, lazy_source: dagger.Directory) -> None:
    with fails_with(InputError, match="40-hex"):
        await with_secrets(lazy_source).publish(sha="abc123", branch="main")
    assert seam.calls == []


async def test_an_existing_tag_in_an_immutable_repository_stops_before_the_build(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any
) -> None:
    ecr.create_repository(repositoryName="hello-service", imageTagMutability="IMMUTABLE")
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "x", "layers": []})
    ecr.put_image(
        repositoryName="hello-service", imageManifest=manifest, imageTag="rc-1.4.0-0123456"
    )
    with fails_with(TagExistsError, match="already exists"):
        await with_secrets(lazy_source).publish(sha=SHA, version="1.4.0")
    assert published(seam) == []
    assert not [name for name, _ in seam.calls if name == "Container.sync"]


async def test_publish_without_aws_credentials_says_how_to_pass_them(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    with fails_with(InputError, match="aws-web-identity-token") as caught:
        await PortablePipelines(source=lazy_source).publish(sha=SHA, branch="main")
    assert caught.value.argument == "aws-access-key-id"
    assert published(seam) == []


# --- dev deployment -------------------------------------------------------------


async def test_deploy_dev_applies_the_overlay_with_kubectl_and_the_kubeconfig_secret(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    image = f"{REGISTRY}/hello-service-test@sha256:" + "a" * 64
    url = await with_secrets(lazy_source).deploy_dev(
        image=image, branch="feature/ABC-1", manifests=manifests()
    )
    assert url == "https://dev-feature-abc-1-67b539fe82.dev.example.com"
    apply, rollout = seam.graphs("Container.stdout")
    for graph in (apply, rollout):
        assert graph.find("from")[0].args["address"].startswith("docker.io/alpine/k8s:")
        (kubeconfig,) = graph.find("withMountedSecret")
        assert kubeconfig.args["path"] == "/root/.kube/config"
        assert "AWS_SECRET_ACCESS_KEY" in {c.args["name"] for c in graph.find("withSecretVariable")}
    assert apply.find("withExec")[-1].args["args"] == [
        "kubectl",
        "apply",
        "--kustomize=/work/dev-deploy",
    ]
    generated = {c.args["path"]: c.args["contents"] for c in apply.find("withNewFile")}
    assert image.split("@")[1] in generated["/work/dev-deploy/kustomization.yaml"]
    assert rollout.find("withExec")[-1].args["args"][:3] == ["kubectl", "rollout", "status"]
    # Every kubectl call is a fresh exec: a replayed apply would deploy nothing.
    stamps = {
        c.args["value"]
        for g in (apply, rollout)
        for c in g.find("withEnvVariable")
        if c.args["name"] == "PIPELINE_RUN"
    }
    assert len(stamps) == 1


async def test_deploy_dev_needs_a_kubeconfig_for_eks(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    image = f"{REGISTRY}/hello-service-test@sha256:" + "a" * 64
    with fails_with(InputError, match="needs a kubeconfig"):
        await PortablePipelines(source=lazy_source).deploy_dev(
            image=image, branch="main", manifests=manifests()
        )
    assert seam.graphs("Container.stdout") == []


async def test_deploy_dev_refuses_a_tagless_image(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    with fails_with(InputError) as caught:
        await with_secrets(lazy_source).deploy_dev(
            image="hello-service", branch="main", manifests=manifests()
        )
    assert caught.value.argument == "image"
    assert seam.calls == []


# --- pipelines ------------------------------------------------------------------


async def test_dev_runs_validations_then_publish_deploy_and_remote_smoke(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    run = await with_secrets(lazy_source).dev(
        sha=SHA,
        branch="feature/ABC-1",
        run_url="https://ci.example.com/runs/1",
        manifests=manifests(),
    )
    assert run.passed is True, run.summary
    for step in ("lint", "unit", "build", "publish", "deploy", "smoke"):
        assert f"  {step} " in run.summary
    assert [s.state for s in statuses.posted] == ["pending", "success"]
    assert {s.context for s in statuses.posted} == {"pipelines/dev"}
    assert statuses.posted[0].target_url == "https://ci.example.com/runs/1"
    assert statuses.tokens == [SENTINELS["status_token"]]
    # Smoke ran against the deployment's URL, with no service bound.
    smoke = [
        g
        for g in seam.graphs("Container.exit_code")
        if "tests/smoke" in g.find("withExec")[-1].args["args"]
    ]
    (smoke_graph,) = smoke
    env = {c.args["name"]: c.args["value"] for c in smoke_graph.find("withEnvVariable")}
    assert env["BASE_URL"] == "https://dev-feature-abc-1-67b539fe82.dev.example.com"
    assert not smoke_graph.find("withServiceBinding")
    files = {c.args["path"] for c in render(run.reports).find("withFile")}
    assert files == {"junit/unit.xml", "junit/smoke.xml"}
    record = _record(run)
    assert record["ok"] is True
    assert record["branch"] == "feature/ABC-1"


async def test_dev_does_not_publish_when_a_validation_fails(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam, failing=("unit",))
    run = await with_secrets(lazy_source).dev(
        sha=SHA, branch="feature/ABC-1", manifests=manifests()
    )
    assert run.passed is False
    assert published(seam) == []
    steps = {s["name"]: s["status"] for s in _record(run)["steps"]}
    assert steps == {
        "lint": "passed",
        "unit": "failed",
        "build": "passed",
        "publish": "skipped",
        "deploy": "skipped",
        "smoke": "skipped",
    }
    assert [s.state for s in statuses.posted] == ["pending", "failure"]
    with fails_with(ChecksFailed, match="unit"):
        run.check()


async def test_pre_merge_runs_every_validation_and_reports_every_failure(
    seam: Seam, lazy_source: dagger.Directory, statuses: StatusRecorder
) -> None:
    scripted_suites(seam, failing=("integration", "e2e"))
    run = await with_secrets(lazy_source).pre_merge(sha=SHA)
    steps = {s["name"]: s["status"] for s in _record(run)["steps"]}
    assert steps == {
        "lint": "passed",
        "unit": "passed",
        "build": "passed",
        "smoke": "passed",
        "integration": "failed",
        "e2e": "failed",
        "scan": "passed",
    }
    assert run.passed is False
    assert statuses.posted[-1].state == "failure"
    assert statuses.posted[-1].context == "pipelines/pre-merge"
    assert "integration" in statuses.posted[-1].description
    files = {c.args["path"] for c in render(run.reports).find("withFile")}
    assert {"junit/unit.xml", "junit/e2e.xml", "scan/trivy.sarif"} <= files
    # The verdict a CI job asks for after exporting the reports.
    outcome = verdict(json.dumps(_record(run)), file="run.json")
    assert outcome.ok is False
    assert "integration" in outcome.summary


async def test_pre_merge_passes_and_posts_safe_to_merge(
    seam: Seam, lazy_source: dagger.Directory, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    run = await with_secrets(lazy_source).pre_merge(sha=SHA)
    assert run.passed is True, run.summary
    assert run.check() == run.summary
    assert [s.state for s in statuses.posted] == ["pending", "success"]


async def test_a_missing_status_token_fails_before_any_work(
    seam: Seam, lazy_source: dagger.Directory, statuses: StatusRecorder
) -> None:
    with fails_with(InputError) as caught:
        await PortablePipelines(source=lazy_source).pre_merge(sha=SHA)
    assert caught.value.argument == "status-token"
    assert not [name for name, _ in seam.calls if name.startswith("Container.")]
    # A local run opts out of statuses explicitly.
    scripted_suites(seam)
    run = await PortablePipelines(source=lazy_source).pre_merge(sha=SHA, report_status=False)
    assert run.passed is True
    assert statuses.posted == []


async def test_release_gates_on_the_scan_before_pushing(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    seam.files[JSON_REPORT] = TRIVY("several-results.json").read_text()
    run = await with_secrets(lazy_source).release(sha=SHA, version="1.4.0")
    steps = {s["name"]: s["status"] for s in _record(run)["steps"]}
    assert steps == {
        "build": "passed",
        "scan": "failed",
        "sbom": "passed",
        "publish": "skipped",
        "sign": "skipped",
        "attest": "skipped",
        "record": "skipped",
    }
    assert published(seam) == []
    # Nothing was signed: no cosign container was ever awaited.
    assert not [g for _, g in seam.calls if _uses_cosign(g)]
    assert "CVE-2024-45490" in run.summary


async def test_release_pushes_once_and_records_the_digest(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    run = await with_secrets(lazy_source).release(sha=SHA, version="1.4.0")
    assert run.passed is True, run.summary
    (push,) = published(seam)
    assert address(push).endswith(":rc-1.4.0-0123456")
    (release_file,) = [
        c for c in render(run.reports).find("withFile") if c.args["path"] == "release.json"
    ]
    (content,) = release_file.args["source"].find("withNewFile")
    record = json.loads(content.args["contents"])
    assert record["ref"] == f"{REGISTRY}/hello-service@{record['digest']}"
    assert record["commit"] == SHA
    assert record["tags"] == ["rc-1.4.0-0123456"]
    assert record["ref"] in run.summary


async def test_no_secret_reaches_a_graph_or_a_summary_in_plain_form(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    ci = with_secrets(lazy_source)
    runs: list[PipelineRun] = [
        await ci.dev(sha=SHA, branch="feature/ABC-1", manifests=manifests()),
        await ci.pre_merge(sha=SHA),
        await ci.release(sha=SHA, version="1.4.0"),
    ]
    await ci.publish(sha=SHA, branch="feature/ABC-2")
    texts = [s for _, graph in seam.calls for s in strings_in(graph)]
    texts += [s for run in runs for s in strings_in(render(run.reports))]
    texts += [run.summary for run in runs]
    assert texts
    for name, value in SENTINELS.items():
        marker = value.strip().splitlines()[-1]
        assert not [t for t in texts if marker in t], name


def _uses_cosign(graph: Graph) -> bool:
    return any(c.args.get("address") == IMAGES["cosign"] for c in graph.find("from"))


def _record(run: PipelineRun) -> dict[str, Any]:
    (record,) = [c for c in render(run.reports).find("withNewFile") if c.args["path"] == "run.json"]
    return dict(json.loads(record.args["contents"]))


async def test_release_reads_the_version_file_when_no_version_is_given(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    version = (ROOT / "examples" / "hello-service" / "VERSION").read_text().strip()
    run = await with_secrets(lazy_source).release(sha=SHA)
    assert run.passed is True, run.summary
    (push,) = published(seam)
    assert address(push).endswith(f":rc-{version}-0123456")


async def test_release_without_a_version_anywhere_says_how_to_give_one(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    real = seam.answers["Directory.entries"]
    seam.answers["Directory.entries"] = lambda g: [n for n in real(g) if n != "VERSION"]
    with fails_with(InputError, match="pyproject.toml declares no \\[project\\] version") as caught:
        await with_secrets(lazy_source).release(sha=SHA)
    assert caught.value.argument == "version"
    assert "VERSION, package.json, pyproject.toml, pom.xml" in str(caught.value)
    assert published(seam) == []
    assert statuses.posted == []


async def test_release_reads_the_version_a_node_service_declares(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    real = seam.answers["Directory.entries"]
    seam.answers["Directory.entries"] = lambda g: [
        *(n for n in real(g) if n != "VERSION"),
        "package.json",
    ]
    seam.files["package.json"] = '{"name": "hello", "version": "2.3.1"}'
    run = await with_secrets(lazy_source).release(sha=SHA)
    assert run.passed is True, run.summary
    (push,) = published(seam)
    assert address(push).endswith(":rc-2.3.1-0123456")


async def test_pre_merge_builds_once_on_the_engine_platform_release_builds_every_platform(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    await with_secrets(lazy_source).pre_merge(sha=SHA)
    pre_merge_builds = [g for g in seam.graphs("Container.sync")]
    assert [g.find("dockerBuild")[0].args.get("platform") for g in pre_merge_builds] == [None]
    seam.calls.clear()
    await with_secrets(lazy_source).release(sha=SHA, version="1.4.0")
    platforms = [
        g.find("dockerBuild")[0].args.get("platform")
        for g in seam.graphs("Container.sync")
        if not _uses_cosign(g)  # the attestation's sync builds nothing
    ]
    assert platforms == ["linux/amd64", "linux/arm64"]


async def test_a_status_that_cannot_be_posted_fails_the_run_and_the_verdict(
    seam: Seam,
    lazy_source: dagger.Directory,
    statuses: StatusRecorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pipelines.forge import ForgeError

    async def refuse(status: CommitStatus) -> None:
        raise ForgeError(
            where="GitHub repository acme/hello-service",
            problem=f"status {status.context}: refused with HTTP 401",
            fix="check the token",
        )

    monkeypatch.setattr(statuses, "post_status", refuse)
    scripted_suites(seam)
    run = await with_secrets(lazy_source).pre_merge(sha=SHA)
    record = _record(run)
    assert all(step["status"] == "passed" for step in record["steps"])  # every step ran
    assert run.passed is False
    assert record["ok"] is False
    assert len(record["problems"]) == 2  # pending and final
    outcome = verdict(json.dumps(record), file="run.json")
    assert outcome.ok is False
    assert "refused with HTTP 401" in outcome.summary


def put_image(ecr: Any, repository: str, tag: str) -> str:
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "x", "layers": []})
    image = ecr.put_image(repositoryName=repository, imageManifest=manifest, imageTag=tag)
    return str(image["image"]["imageId"]["imageDigest"])


async def test_a_dev_re_run_reuses_the_test_image_of_the_same_commit(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    ecr.create_repository(repositoryName="hello-service-test", imageTagMutability="IMMUTABLE")
    digest = put_image(ecr, "hello-service-test", "feature-abc-1-67b539fe82-0123456")
    scripted_suites(seam)
    run = await with_secrets(lazy_source).dev(
        sha=SHA, branch="feature/ABC-1", manifests=manifests()
    )
    assert run.passed is True, run.summary
    assert published(seam) == []
    assert f"{REGISTRY}/hello-service-test@{digest} (reused)" in run.summary
    generated = [
        c.args["contents"]
        for g in seam.graphs("Container.stdout")
        for c in g.find("withNewFile")
        if c.args["path"].endswith("kustomization.yaml")
    ]
    assert generated
    assert digest in generated[0]


async def test_a_released_tag_stops_the_release_before_any_build(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    ecr.create_repository(repositoryName="hello-service", imageTagMutability="IMMUTABLE")
    put_image(ecr, "hello-service", "rc-1.4.0-0123456")
    with fails_with(TagExistsError):
        await with_secrets(lazy_source).release(sha=SHA, version="1.4.0")
    assert not [name for name, _ in seam.calls if name.startswith("Container.")]
    assert statuses.posted == []


async def test_a_signed_release_creates_its_repository_with_cosign_tags_mutable(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any
) -> None:
    await with_secrets(lazy_source).publish(sha=SHA, version="1.4.0")
    (repo,) = ecr.describe_repositories(repositoryNames=["hello-service"])["repositories"]
    # Release tags never move; cosign's sha256-*.sig/.att tags may be pushed again.
    assert repo["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repo["imageTagMutabilityExclusionFilters"] == [
        {"filterType": "WILDCARD", "filter": "sha256-*"}
    ]


async def test_a_repository_cosign_cannot_write_to_stops_the_release_before_any_build(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    ecr.create_repository(repositoryName="hello-service", imageTagMutability="IMMUTABLE")
    with fails_with(EcrError, match="IMMUTABLE_WITH_EXCLUSION"):
        await with_secrets(lazy_source).release(sha=SHA, version="1.4.0")
    assert not [name for name, _ in seam.calls if name.startswith("Container.")]
    assert statuses.posted == []


async def test_an_oidc_token_reaches_kubectl_as_temporary_keys_never_itself(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any
) -> None:
    oidc = "eyJsentinel.oidc.token0000"
    ci = PortablePipelines(
        source=lazy_source,
        aws_web_identity_token=dag.set_secret("oidc", oidc),
        kubeconfig=dag.set_secret("kubeconfig", SENTINELS["kubeconfig"]),
    )
    image = f"{REGISTRY}/hello-service-test@sha256:" + "a" * 64
    await ci.deploy_dev(image=image, branch="feature/ABC-1", manifests=manifests())
    apply, _rollout = seam.graphs("Container.stdout")
    names = {c.args["name"] for c in apply.find("withSecretVariable")}
    assert names == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}
    assert not [s for s in strings_in(apply) if oidc in s]
    plaintexts = {c.args["plaintext"] for _, c in apply.walk() if c.name == "setSecret"}
    assert oidc not in plaintexts  # exchanged with STS, not forwarded


async def test_release_scans_every_platform_it_pushes_with_one_db_download(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    run = await with_secrets(lazy_source).release(sha=SHA, version="1.4.0")
    assert run.passed is True, run.summary
    scans = [
        g
        for g in seam.graphs("File.contents")
        if any(c.args["path"] == "/work/image.tar" for c in g.find("withMountedFile"))
        and g.find("file")[-1].args["path"] == JSON_REPORT  # not the SBOM's read
    ]
    scanned_platforms = sorted(
        call.args["source"].find("dockerBuild")[0].args.get("platform")
        for g in scans
        for call in g.find("withMountedFile")
        if call.args["path"] == "/work/image.tar"
    )
    assert scanned_platforms == ["linux/amd64", "linux/arm64"]
    stamps = {
        c.args["value"]
        for g in scans
        for c in g.find("withEnvVariable")
        if c.args["name"] == "PIPELINE_RUN"
    }
    assert len(stamps) == 1  # the same DB download serves both scans
    files = {c.args["path"] for c in render(run.reports).find("withFile")}
    assert {"scan/linux-amd64/trivy.sarif", "scan/linux-arm64/trivy.sarif"} <= files
    assert "scan/trivy.sarif" in files  # where the CI wrappers upload it from


# --- the supply chain: SBOM, signature, attestation, record -----------------------


def _cosign_graphs(seam: Seam) -> dict[str, Graph]:
    """The awaited cosign graphs of a release, by what their last command does."""
    found = {}
    for _, graph in seam.calls:
        if _uses_cosign(graph):
            found[graph.find("withExec")[-1].args["args"][1]] = graph
    return found


async def test_release_signs_and_attests_the_pushed_digest_with_secrets_only_as_secrets(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)
    run = await with_secrets(lazy_source).release(
        sha=SHA, version="1.4.0", run_url="https://ci.example.com/runs/9"
    )
    assert run.passed is True, run.summary
    assert len(published(seam)) == 1
    order = [name for name, _ in seam.calls]
    cosign = _cosign_graphs(seam)
    assert set(cosign) == {"sign", "attest"}
    # Signed after the push: the graphs were awaited after Container.publish.
    pushed_at = order.index("Container.publish")
    for graph in cosign.values():
        assert next(i for i, (_, g) in enumerate(seam.calls) if g is graph) > pushed_at
    digest = re.search(r"sha256:[0-9a-f]{64}", run.summary)
    assert digest is not None
    ref = f"{REGISTRY}/hello-service@{digest[0]}"
    key = "awskms:///arn:aws:kms:eu-west-1:123456789012:alias/hello-service-release"
    sign_argv = cosign["sign"].find("withExec")[-1].args["args"]
    assert sign_argv[sign_argv.index("--key") + 1] == key
    assert sign_argv[-1] == ref  # the digest, never a tag
    attests = cosign["attest"].find("withExec")
    assert [a.args["args"][-1] for a in attests] == [ref, ref]  # one per platform
    # Each attestation mounts an SBOM that Trivy made from an image tarball.
    predicates = [
        c for c in cosign["attest"].find("withMountedFile") if c.args["path"] == SBOM_PREDICATE
    ]
    assert len(predicates) == 2
    for predicate in predicates:
        made_by = predicate.args["source"].find("withExec")[-1].args["args"]
        assert made_by[:2] == ["trivy", "image"]
        assert made_by[made_by.index("--format") + 1] == "cyclonedx"
    for graph in cosign.values():
        # The ECR login is a secret file, the AWS keys secret variables; none is plain.
        (login,) = graph.find("withMountedSecret")
        assert login.args["path"] == DOCKER_CONFIG_FILE
        secret_vars = {c.args["name"] for c in graph.find("withSecretVariable")}
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= secret_vars
        plain = {c.args["name"]: c.args["value"] for c in graph.find("withEnvVariable")}
        assert not {name for name in plain if name.startswith("AWS_") and name != "AWS_REGION"}
        assert plain["PIPELINE_RUN"]  # an effect: never replayed from the cache
        texts = list(strings_in(graph))
        for value in SENTINELS.values():
            assert not [t for t in texts if value.strip().splitlines()[-1] in t]
        config_json = login.args["source"].find("setSecret")[0].args["plaintext"]
        password = base64.b64decode(json.loads(config_json)["auths"][REGISTRY]["auth"])
        assert password.decode().split(":", 1)[1] not in " ".join(texts)
    # release.json records the SBOMs by digest, the signature and the provenance.
    (release_file,) = [
        c for c in render(run.reports).find("withFile") if c.args["path"] == "release.json"
    ]
    (content,) = release_file.args["source"].find("withNewFile")
    record = json.loads(content.args["contents"])
    sbom_digest = "sha256:" + hashlib.sha256(SBOM_TEXT.encode()).hexdigest()
    assert [(s["platform"], s["digest"]) for s in record["sbom"]] == [
        ("linux/amd64", sbom_digest),
        ("linux/arm64", sbom_digest),
    ]
    assert record["signature"]["value"] == SIGNATURE
    assert record["signature"]["key"] == key
    assert record["signature"]["tag"] == f"sha256-{digest[0].removeprefix('sha256:')}.sig"
    assert record["provenance"]["commit"] == SHA
    assert record["provenance"]["run_url"] == "https://ci.example.com/runs/9"
    assert record["provenance"]["builder"].startswith("portable-pipelines ")
    files = {c.args["path"] for c in render(run.reports).find("withFile")}
    assert {"sbom/linux-amd64.cdx.json", "sbom/linux-arm64.cdx.json"} <= files


async def test_a_failed_signature_fails_the_release_and_records_nothing(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    scripted_suites(seam)

    def refuse(graph: Graph) -> str:
        if _uses_cosign(graph):
            raise RuntimeError("kms:Sign denied: AccessDeniedException")
        return SIGNATURE

    real = seam.answers["File.contents"]
    seam.answers["File.contents"] = lambda g: refuse(g) if _uses_cosign(g) else real(g)
    run = await with_secrets(lazy_source).release(sha=SHA, version="1.4.0")
    steps = {s["name"]: s["status"] for s in _record(run)["steps"]}
    assert steps["sign"] == "failed"
    assert steps["record"] == "skipped"
    assert run.passed is False
