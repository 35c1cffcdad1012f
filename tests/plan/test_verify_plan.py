"""Plan tier: the app as a service, its dependencies, remote smoke, and the scan gate."""

from __future__ import annotations

from pathlib import Path

import dagger
import pytest
from dagger import dag

from ci.main import PortablePipelines
from ci.suites import DependencyNotReady
from pipelines.config import PipelineConfig, is_digest_pinned, parse_config
from pipelines.errors import ChecksFailed, ConfigError, InputError
from pipelines.images import IMAGES
from pipelines.scan.command import JSON_REPORT
from tests.conftest import ROOT
from tests.graph import Graph, render, strings_in
from tests.plan.conftest import fails_with
from tests.plan.seam import Seam

TRIVY_FIXTURES = ROOT / "tests" / "fixtures" / "trivy"


def pipelines(source: dagger.Directory) -> PortablePipelines:
    return PortablePipelines(source=source)


def runner_graph(seam: Seam) -> Graph:
    """The graph of the suite's (first) command, as awaited by exit_code."""
    return seam.commands()[0]


def bindings(graph: Graph) -> dict[str, Graph]:
    return {call.args["alias"]: call.args["service"] for call in graph.find("withServiceBinding")}


def env(graph: Graph) -> dict[str, str]:
    return {call.args["name"]: call.args["value"] for call in graph.find("withEnvVariable")}


def secret_vars(graph: Graph) -> set[str]:
    return {call.args["name"] for call in graph.find("withSecretVariable")}


def all_images(graph: Graph) -> list[str]:
    return [call.args["address"] for _, call in graph.walk() if call.name == "from"]


def secret_values(graph: Graph) -> set[str]:
    return {call.args["plaintext"] for _, call in graph.walk() if call.name == "setSecret"}


def fixed_config(seam: Seam, text: str) -> PipelineConfig:
    """The service's pipelines.toml is ``text`` (read, resolved and checked as for real)."""
    seam.files["pipelines.toml"] = text
    return parse_config(text)


async def test_smoke_binds_the_built_app_and_its_database(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.files["/src/reports/smoke.xml"] = "<testsuite><testcase name='t'/></testsuite>"
    summary = await pipelines(lazy_source).smoke()
    assert summary.startswith("smoke: 1 passed")

    runner = runner_graph(seam)
    assert runner.find("withExec")[-1].args["args"][:2] == ["pytest", "tests/smoke"]
    assert env(runner)["BASE_URL"] == "http://app:8080"
    assert env(runner)["PIPELINE_SUITE"] == "smoke"
    # Smoke also runs against the deployment in dev: it never sees the app's side.
    assert "DATABASE_URL" not in env(runner)
    assert "DB_HOST" not in env(runner)
    assert secret_vars(runner) == set()

    bound = bindings(runner)
    assert set(bound) == {"app", "db"}
    app = bound["app"]
    assert app.find("dockerBuild")[0].args["target"] == "runtime"
    assert app.find("withExposedPort")[-1].args["port"] == 8080
    assert app.find("asService")[-1].args["useEntrypoint"] is True
    assert set(bindings(app)) == {"db"}
    assert "DATABASE_PASSWORD" in secret_vars(app)

    db = bound["db"]
    assert is_digest_pinned(db.find("from")[0].args["address"])
    assert "POSTGRES_PASSWORD" in secret_vars(db)
    assert env(db) == {"POSTGRES_USER": "hello", "POSTGRES_DB": "hello"}


async def test_a_suite_that_never_runs_in_dev_also_gets_the_apps_environment(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.files["/src/reports/integration.xml"] = "<testsuite/>"
    await pipelines(lazy_source).integration()
    runner = runner_graph(seam)
    assert env(runner)["DATABASE_URL"] == "postgresql://hello@db:5432/hello"
    assert "DATABASE_PASSWORD" in secret_vars(runner)
    # What the config reference promises for every dependency, to app and suite alike.
    assert env(runner)["DB_HOST"] == "db"
    assert env(runner)["DB_PORT"] == "5432"
    assert "DB_POSTGRES_PASSWORD" in secret_vars(runner)


async def test_smoke_reads_the_same_names_beside_the_app_and_against_a_deployment(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.files["/src/reports/smoke.xml"] = "<testsuite/>"
    await pipelines(lazy_source).smoke()
    await pipelines(lazy_source).smoke(url="https://hello.dev.example.com/")
    local, remote = seam.commands()
    assert set(env(local)) == set(env(remote))
    assert secret_vars(local) == secret_vars(remote) == set()


async def test_generated_passwords_never_appear_in_plain_form(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.files["/src/reports/integration.xml"] = "<testsuite/>"
    await pipelines(lazy_source).integration()
    runner = runner_graph(seam)
    values = secret_values(runner)
    assert len(values) == 1
    (password,) = values
    assert len(password) >= 24
    leaks = [s for s in strings_in(runner) if password in s]
    assert leaks == []


async def test_passwords_differ_between_runs(seam: Seam, lazy_source: dagger.Directory) -> None:
    seam.files["/src/reports/integration.xml"] = "<testsuite/>"
    await pipelines(lazy_source).integration()
    await pipelines(lazy_source).integration()
    first, second = (secret_values(g) for g in seam.commands())
    assert first != second


async def test_remote_smoke_targets_the_url_without_services(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.files["/src/reports/smoke.xml"] = "<testsuite/>"
    await pipelines(lazy_source).smoke(url="https://hello.dev.example.com/")
    await pipelines(lazy_source).smoke(url="https://hello.dev.example.com/")
    first, second = seam.commands()
    # The deployment changes outside the graph: every run must really run.
    assert env(first)["PIPELINE_RUN"] != env(second)["PIPELINE_RUN"]
    runner = first
    assert env(runner)["BASE_URL"] == "https://hello.dev.example.com"
    assert bindings(runner) == {}
    assert "DATABASE_PASSWORD" not in secret_vars(runner)


@pytest.mark.parametrize(
    "url", ["ftp://example.com", "example.com", "http://", "https://user:pw@example.com"]
)
async def test_a_bad_url_is_refused_before_any_work(
    seam: Seam, lazy_source: dagger.Directory, url: str
) -> None:
    with fails_with(InputError) as caught:
        await pipelines(lazy_source).smoke(url=url)
    assert caught.value.argument == "url"
    assert seam.calls == []


async def test_failing_smoke_fails_the_call_with_the_failing_tests(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    seam.answers["Container.exit_code"] = lambda g: 1
    seam.files["/src/reports/smoke.xml"] = (
        "<testsuite><testcase classname='tests.smoke' name='test_readyz'>"
        "<failure message='503'/></testcase></testsuite>"
    )
    with fails_with(ChecksFailed, match=r"smoke: 0 passed, 1 failed.*test_readyz"):
        await pipelines(lazy_source).smoke()


async def test_a_missing_smoke_suite_is_a_config_error_before_work(
    seam: Seam, lazy_source: dagger.Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_config(seam, '[service]\nname = "s"\nport = 8080\n')
    with fails_with(ConfigError, match=r"no \[test\.smoke\] table"):
        await pipelines(lazy_source).smoke()
    # Only the config and the Dockerfile were read: no container was asked for.
    assert not [name for name, _ in seam.calls if name.startswith("Container.")]


E2E_WITH_BROWSER = """
[service]
name = "web"
port = 3000
# The reference service's Dockerfile (EXPOSE 8080) builds this one too.
port_not_exposed_because = "the plan tests reuse the reference Dockerfile"
[test.e2e]
commands = [["npx", "playwright", "test"]]
image = "mcr.microsoft.com/playwright:v1.58.0-noble@sha256:{digest}"
"""


async def test_e2e_can_run_in_its_own_pinned_browser_image(
    seam: Seam, lazy_source: dagger.Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = fixed_config(seam, E2E_WITH_BROWSER.format(digest="c" * 64))
    await pipelines(lazy_source).end_to_end()
    runner = runner_graph(seam)
    assert runner.find("from")[0].args["address"] == config.suite("e2e").image
    assert env(runner)["BASE_URL"] == "http://app:3000"
    assert set(bindings(runner)) == {"app"}


READINESS = """
[service]
name = "s"
port = 8080
[test.integration]
commands = [["pytest"]]
[[dependencies]]
name = "queue"
image = "rabbitmq:4@sha256:{digest}"
port = 5672
[dependencies.readiness]
command = ["rabbitmq-diagnostics", "check_running"]
timeout_seconds = 6
interval_seconds = 1
"""


async def test_readiness_command_is_retried_until_it_passes(
    seam: Seam, lazy_source: dagger.Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_config(seam, READINESS.format(digest="d" * 64))
    monkeypatch.setattr("ci.suites.anyio.sleep", _no_sleep)
    tries: list[str] = []

    def exit_code(graph: Graph) -> int:
        argv = graph.find("withExec")[-1].args["args"]
        if argv[0] == "rabbitmq-diagnostics":
            tries.append(env(graph)["READINESS_ATTEMPT"])
            return 0 if len(tries) == 3 else 69
        return 0

    seam.answers["Container.exit_code"] = exit_code
    seam.answers["Container.exists"] = lambda g: False
    await pipelines(lazy_source).integration()
    # Distinct attempts, within a run and across runs: none replayed from cache.
    assert [attempt.rsplit("-", 1)[1] for attempt in tries] == ["0", "1", "2"]
    assert len({attempt.rsplit("-", 1)[0] for attempt in tries}) == 1
    (started,) = seam.graphs("Service.start")
    assert started.find("from")[0].args["address"].startswith("rabbitmq:4@")
    first_run = set(tries)
    tries.clear()
    await pipelines(lazy_source).integration()
    assert not first_run & set(tries)


async def test_a_dependency_that_never_gets_ready_fails_clearly(
    seam: Seam, lazy_source: dagger.Directory, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_config(seam, READINESS.format(digest="d" * 64))
    monkeypatch.setattr("ci.suites.anyio.sleep", _no_sleep)
    seam.answers["Container.exit_code"] = lambda g: 69
    with fails_with(DependencyNotReady, match=r"'queue' was not ready after 6s"):
        await pipelines(lazy_source).integration()
    probes = seam.graphs("Container.exit_code")
    assert len(probes) == 6
    assert all(p.find("withExec")[-1].args["args"][0] == "rabbitmq-diagnostics" for p in probes)


async def test_serve_exposes_the_port_with_dependencies(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    service = render(await pipelines(lazy_source).serve())
    assert service.find("withExposedPort")[-1].args["port"] == 8080
    assert service.calls[-1].name == "asService"
    assert set(bindings(service)) == {"db"}


async def _no_sleep(_seconds: float) -> None:
    return None


# --- scan -------------------------------------------------------------------


def scripted_scan(seam: Seam, report: str) -> None:
    seam.files[JSON_REPORT] = (TRIVY_FIXTURES / report).read_text()


async def test_scan_of_the_built_image_uses_the_tarball_and_pinned_trivy(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    scripted_scan(seam, "no-vulnerabilities.json")
    result = await pipelines(lazy_source).scan_report()
    assert result.passed is True
    (read,) = seam.graphs("File.contents")[-1:]
    assert read.find("from")[0].args["address"] == IMAGES["trivy"]
    tarball = [c for c in read.find("withMountedFile") if c.args["path"] == "/work/image.tar"]
    (mounted,) = tarball
    source_image = mounted.args["source"]
    assert source_image.find("asTarball")
    assert source_image.find("dockerBuild")[0].args["target"] == "runtime"

    execs = [c.args["args"] for c in read.find("withExec")]
    download, scan = execs[0], execs[2]
    assert "--download-db-only" in download
    assert download[download.index("--db-repository") + 1].startswith("mirror.gcr.io/")
    assert "--skip-db-update" in scan
    assert scan[scan.index("--input") + 1] == "/work/image.tar"
    cache = read.find("withMountedCache")[0]
    assert cache.args["path"] == "/root/.cache/trivy"
    # The per-run stamp forces a fresh DB download on each pipeline run.
    assert "PIPELINE_RUN" in env(read)
    # SARIF and GitLab reports are converted from the one JSON scan.
    converted = [e for e in execs if e[:2] == ["trivy", "convert"]]
    assert len(converted) == 2
    reports = render(result.reports)
    assert reports.find("withNewFile")[0].args["path"] == "summary.txt"


async def test_a_blocking_finding_fails_scan_and_names_it(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    scripted_scan(seam, "several-results.json")
    with fails_with(ChecksFailed) as caught:
        await pipelines(lazy_source).scan()
    message = str(caught.value)
    assert "CVE-2024-45490" in message  # CRITICAL with a fix: blocks
    result = await pipelines(lazy_source).scan_report()
    assert result.passed is False
    assert "FAILED" in result.summary


async def test_the_service_ignorefile_is_applied(
    seam: Seam, lazy_source: dagger.Directory, reference_service: Path
) -> None:
    scripted_scan(seam, "several-results.json")
    result = await pipelines(lazy_source).scan_report()
    ignorefile = reference_service / ".trivyignore"
    read = seam.graphs("File.contents")[-1]
    mounted = {c.args["path"] for c in read.find("withMountedFile")}
    assert ("/work/.trivyignore" in mounted) == ignorefile.exists()
    assert result.summary


async def test_a_published_image_is_scanned_with_the_password_as_a_secret(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    scripted_scan(seam, "no-vulnerabilities.json")
    ref = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service@sha256:" + "e" * 64
    password = dag.set_secret("ecr", "sentinel-ecr-password-0123")
    await pipelines(lazy_source).scan(image=ref, registry_password=password)
    read = seam.graphs("File.contents")[-1]
    scan = [c.args["args"] for c in read.find("withExec")][2]
    assert scan[-1] == ref
    assert not read.find("asTarball")
    assert env(read)["TRIVY_USERNAME"] == "AWS"
    assert "TRIVY_PASSWORD" in secret_vars(read)
    assert not [s for s in strings_in(read) if "sentinel-ecr-password" in s]


@pytest.mark.parametrize("ref", ["not an image", "UPPER/case:tag", "repo"])
async def test_a_bad_image_reference_is_refused_before_any_work(
    seam: Seam, lazy_source: dagger.Directory, ref: str
) -> None:
    with fails_with(InputError) as caught:
        await pipelines(lazy_source).scan(image=ref)
    assert caught.value.argument == "image"
    assert seam.calls == []


async def test_every_image_in_the_verification_graphs_is_pinned(
    seam: Seam, lazy_source: dagger.Directory
) -> None:
    scripted_scan(seam, "no-vulnerabilities.json")
    for suite in ("smoke", "integration", "e2e"):
        seam.files[f"/src/reports/{suite}.xml"] = "<testsuite/>"
    ci = pipelines(lazy_source)
    await ci.smoke()
    await ci.integration()
    await ci.end_to_end()
    await ci.scan()
    images = [image for _, graph in seam.calls for image in all_images(graph)]
    assert images
    assert [image for image in images if not is_digest_pinned(image)] == []
