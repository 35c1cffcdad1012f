"""Plan tier: what a service in any language gets, and what is refused before any work.

The toolchain works where the stage installed its dependencies, never sees
what .dockerignore leaves out, each pipeline runs the suites the service
defines for it, and the app's health paths are probed before a suite trusts it.
"""

from __future__ import annotations

from typing import Any

import dagger
import pytest

from pipelines.errors import ChecksFailed, ConfigError, PipelinesError, Problems
from pipelines.scan.command import JSON_REPORT
from tests.conftest import REFERENCE_SERVICE
from tests.graph import Graph
from tests.plan.conftest import fails_with
from tests.plan.doubles import SHA, TRIVY, StatusRecorder, scripted_suites, with_secrets
from tests.plan.seam import Seam, manifests

NODE_DOCKERFILE = """\
FROM node:20-alpine@sha256:{digest} AS base
WORKDIR /app

FROM base AS test
COPY package*.json ./
RUN npm ci
COPY . .

FROM base AS runtime
COPY . .
EXPOSE 3000
USER node
"""

NODE_SERVICE = """\
[service]
name = "node-service"
port = 3000

[build]
target = "runtime"

[toolchain]
target = "test"

[test.unit]
commands = [["npm", "test", "--", "--test-reporter-destination=reports/unit.xml"]]
report = "reports/unit.xml"

[test.smoke]
commands = [["npm", "run", "smoke", "--", "--test-reporter-destination=reports/smoke.xml"]]
report = "reports/smoke.xml"

[forge]
provider = "github"
repository = "acme/node-service"
"""


def node_service(seam: Seam, config: str = NODE_SERVICE) -> None:
    seam.files["pipelines.toml"] = config
    seam.files["Dockerfile"] = NODE_DOCKERFILE.format(digest="e" * 64)
    seam.files["/app/reports/unit.xml"] = "<testsuite><testcase name='t'/></testsuite>"
    seam.files["/app/reports/smoke.xml"] = "<testsuite><testcase name='t'/></testsuite>"
    seam.files[JSON_REPORT] = TRIVY("no-vulnerabilities.json").read_text()


def pipelines(source: dagger.Directory) -> Any:
    from ci.main import PortablePipelines

    return PortablePipelines(source=source)


async def test_the_toolchain_works_in_the_stages_own_workdir(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    """npm ci ran in /app: the tests run there, beside node_modules, not in /src."""
    node_service(seam)
    result = await pipelines(lazy_source).test_report("unit")
    assert result.passed, result.summary
    (run,) = seam.commands()
    assert run.find("withWorkdir")[-1].args["path"] == "/app"
    mounted = [c for c in run.find("withDirectory") if c.args["path"] == "/app"]
    assert mounted, "the source is copied over the stage's /app"
    assert [c.args["path"] for c in run.find("withDirectory")][-1] == "/app/reports"


async def test_the_toolchain_never_sees_what_dockerignore_leaves_out(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    scripted_suites(seam)
    await pipelines(lazy_source).test()
    (run,) = seam.commands()
    (mount,) = [c for c in run.find("withDirectory") if c.args["path"] == "/src"]
    (filtered,) = mount.args["source"].find("filter")
    assert ".env" in filtered.args["exclude"]
    patterns = (REFERENCE_SERVICE / ".dockerignore").read_text()
    assert ".venv" in patterns
    assert ".venv" in filtered.args["exclude"]


async def test_an_explicit_exclude_replaces_dockerignore(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    text = (REFERENCE_SERVICE / "pipelines.toml").read_text()
    seam.files["pipelines.toml"] = text.replace(
        'workdir = "/src"', 'workdir = "/src"\nexclude = []'
    )
    scripted_suites(seam)
    await pipelines(lazy_source).test()
    (run,) = seam.commands()
    assert not run.find("filter"), "exclude = [] shows the toolchain everything"


async def test_a_service_with_unit_and_smoke_only_gets_safe_to_merge(
    seam: Seam, lazy_source: dagger.Directory, statuses: StatusRecorder
) -> None:
    node_service(seam)
    run = await with_secrets(lazy_source).pre_merge(sha=SHA)
    assert run.passed, run.summary
    for step in ("unit", "build", "smoke", "scan"):
        assert f"  {step} " in run.summary
    assert "integration" not in run.summary
    assert "  lint " not in run.summary  # the service has no [lint]
    assert [s.state for s in statuses.posted] == ["pending", "success"]


async def test_a_wrong_health_path_fails_the_local_smoke_before_any_test(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.files["/src/reports/smoke.xml"] = "<testsuite><testcase name='t'/></testsuite>"

    def probe(graph: Graph) -> int:
        url = graph.find("withExec")[-1].args["args"][-1]
        return 22 if url.endswith("/healthz") else 0  # curl --fail on a 404

    seam.probe_exit = probe
    seam.answers["Container.combined_output"] = lambda g: "curl: (22) 404 Not Found"
    result = await pipelines(lazy_source).test_report("smoke")
    assert result.passed is False
    assert "did not answer GET /healthz with 2xx (health_path)" in result.summary
    assert not seam.commands(), "no test ran against an app that is not healthy"


async def test_the_probe_binds_the_app_and_runs_every_call(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.files["/src/reports/smoke.xml"] = "<testsuite><testcase name='t'/></testsuite>"
    await pipelines(lazy_source).smoke()
    health, ready = [g for g in seam.graphs("Container.exit_code") if g not in seam.commands()]
    for probe, path in ((health, "/healthz"), (ready, "/readyz")):
        assert probe.find("withServiceBinding")[0].args["alias"] == "app"
        assert probe.find("withExec")[-1].args["args"][-1] == f"http://app:8080{path}"
        names = [c.args["name"] for c in probe.find("withEnvVariable")]
        assert "PIPELINE_RUN" in names
        assert "@sha256:" in probe.find("from")[0].args["address"]


async def test_serve_refuses_an_app_whose_readiness_path_does_not_answer(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    def probe(graph: Graph) -> int:
        return 22 if graph.find("withExec")[-1].args["args"][-1].endswith("/readyz") else 0

    seam.probe_exit = probe
    with fails_with(PipelinesError, match=r"GET /readyz with 2xx \(readiness_path\)"):
        await pipelines(lazy_source).serve()


async def test_dev_without_a_suite_for_the_deployment_is_refused_before_any_work(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any, statuses: StatusRecorder
) -> None:
    text = (REFERENCE_SERVICE / "pipelines.toml").read_text()
    seam.files["pipelines.toml"] = text.replace(
        "[test.smoke]\n", '[test.smoke]\npipelines = ["pre-merge"]\n'
    )
    with fails_with(ConfigError, match="no suite runs against it"):
        await with_secrets(lazy_source).dev(sha=SHA, branch="feature/x", manifests=manifests())
    assert not [name for name, _ in seam.calls if name.startswith("Container.")]
    assert statuses.posted == []


async def test_an_eks_overlay_that_is_not_there_is_refused_before_any_work(
    seam: Seam, lazy_source: dagger.Directory, ecr: Any
) -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service-test@sha256:" + "a" * 64
    with fails_with(ConfigError, match="no deploy/overlays/dev/kustomization.yaml") as caught:
        await with_secrets(lazy_source).deploy_dev(image=image, branch="feature/x")
    assert caught.value.key == "deploy.eks.overlay"
    assert not [name for name, _ in seam.calls if name.startswith("Container.")]


async def test_every_problem_of_a_pipeline_is_reported_at_once(
    seam: Seam, lazy_source: dagger.Directory, statuses: StatusRecorder
) -> None:
    node_service(seam, NODE_SERVICE.replace("port = 3000", "port = 8080"))
    with fails_with(Problems, match="^3 problems to fix before anything runs") as caught:
        await with_secrets(lazy_source).dev(sha=SHA, branch="feature/x")
    assert [getattr(p, "key", None) for p in caught.value.problems] == [
        "service.port",
        "publish",
        "deploy",
    ]
    assert "exposes 3000" in str(caught.value)
    assert statuses.posted == [], "nothing was marked pending for a run that cannot start"
    assert not [name for name, _ in seam.calls if name.startswith("Container.")]


@pytest.mark.parametrize("suite", ["unit", "smoke"])
async def test_a_suite_whose_report_is_missing_fails_in_a_pipeline(
    seam: Seam, lazy_source: dagger.Directory, statuses: StatusRecorder, suite: str
) -> None:
    scripted_suites(seam)
    seam.answers["Container.exists"] = lambda g: suite not in str(g.calls[-1].args)
    run = await with_secrets(lazy_source).pre_merge(sha=SHA)
    assert run.passed is False
    assert f"no JUnit report at /src/reports/{suite}.xml" in run.summary
    with fails_with(ChecksFailed):
        run.check()
