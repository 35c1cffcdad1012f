"""Preflight: what the config leaves to the service's files, and every problem of a run
reported at once, before any container."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from pipelines.config import PipelineConfig, parse_config
from pipelines.dockerfile import Dockerfile, parse_dockerfile
from pipelines.errors import ConfigError, Problems
from pipelines.preflight import ServiceFacts, prepare, problems, resolve

SERVICE = """\
[service]
name = "svc"
port = 3000
{service}
[build]
target = "runtime"

[toolchain]
target = "test"
{toolchain}
[test.unit]
commands = [["npm", "test"]]
report = "reports/unit.xml"
{tests}
"""

DOCKERFILE_TEXT = (
    "FROM node:20 AS base\nWORKDIR /app\n"
    "FROM base AS test\nRUN npm ci\n"
    "FROM base AS runtime\nEXPOSE 3000\n"
)
DOCKERFILE = parse_dockerfile(DOCKERFILE_TEXT)
PUBLISH = """\
[publish]
registry = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
repository = "svc"
"""
DEPLOY = """\
[deploy]
target = "eks"

[deploy.eks]
region = "eu-west-1"
cluster = "dev"
overlay = "deploy/overlays/dev"
namespace_prefix = "dev"
url = "https://{namespace}.dev.example.com"
image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/svc"
"""
SMOKE = '[test.smoke]\ncommands = [["npm", "run", "smoke"]]\nreport = "reports/smoke.xml"\n'


def config(*, service: str = "", toolchain: str = "", tests: str = "") -> PipelineConfig:
    return parse_config(
        SERVICE.format(service=service, toolchain=toolchain, tests=tests), file="svc/pipelines.toml"
    )


def keys(found: Sequence[object]) -> list[str | None]:
    return [getattr(problem, "key", None) for problem in found]


def test_the_toolchain_works_in_its_stages_workdir_unless_the_config_says() -> None:
    assert resolve(config(), DOCKERFILE, None).toolchain.workdir == "/app"
    explicit = config(toolchain='workdir = "/src"')
    assert resolve(explicit, DOCKERFILE, None).toolchain.workdir == "/src"


def test_a_stage_without_a_literal_workdir_keeps_the_default() -> None:
    unknown = parse_dockerfile("FROM node:20 AS test\nWORKDIR $HOME\nFROM node:20 AS runtime\n")
    assert resolve(config(), unknown, None).toolchain.workdir == "/src"


def test_exclude_defaults_to_dockerignore_and_an_explicit_one_wins() -> None:
    resolved = resolve(config(), DOCKERFILE, "# local\nnode_modules\n.env\n")
    assert resolved.toolchain.exclude == ("node_modules", ".env")
    assert resolve(config(), DOCKERFILE, None).toolchain.exclude == ()
    explicit = config(toolchain='exclude = ["secrets/"]')
    assert resolve(explicit, DOCKERFILE, "node_modules\n").toolchain.exclude == ("secrets/",)


def test_a_port_the_shipped_image_does_not_expose_is_refused_for_runs_that_serve_it() -> None:
    text = SERVICE.format(service="", toolchain="", tests="").replace("3000", "8080", 1)
    service = parse_config(text, file="svc/pipelines.toml")
    facts = ServiceFacts(dockerfile=DOCKERFILE)
    (found,) = problems(service, facts, runs=("app",))
    assert isinstance(found, ConfigError)
    assert found.key == "service.port"
    assert "exposes 3000" in str(found)
    assert "EXPOSE 8080" in str(found)
    assert "service.port" not in keys(problems(service, facts, runs=("publish",))), (
        "publish does not run the app"
    )


def test_a_port_can_be_unexposed_on_purpose_or_unknown() -> None:
    text = SERVICE.format(
        service='port_not_exposed_because = "the base image exposes it"', toolchain="", tests=""
    ).replace("3000", "8080", 1)
    assert problems(parse_config(text), ServiceFacts(dockerfile=DOCKERFILE), runs=("app",)) == []
    variable = parse_dockerfile("FROM node:20 AS test\nFROM node:20 AS runtime\nEXPOSE $PORT\n")
    assert problems(config(), ServiceFacts(dockerfile=variable), runs=("app",)) == []


def test_dev_needs_publish_deploy_its_overlay_and_a_suite_after_the_deployment() -> None:
    facts = ServiceFacts(dockerfile=DOCKERFILE, overlay_found=False)
    found = problems(config(), facts, runs=("dev",))
    assert keys(found) == ["publish", "deploy", "test.smoke"]
    found = problems(config(tests=PUBLISH + DEPLOY), facts, runs=("dev",))
    assert keys(found) == ["deploy.eks.overlay", "test.smoke"]
    ready = ServiceFacts(dockerfile=DOCKERFILE, overlay_found=True)
    assert problems(config(tests=PUBLISH + DEPLOY + SMOKE), ready, runs=("dev",)) == []


def test_an_overlay_not_looked_at_is_not_a_problem() -> None:
    facts = ServiceFacts(dockerfile=DOCKERFILE)
    assert problems(config(tests=PUBLISH + DEPLOY), facts, runs=("deploy",)) == []


def test_a_suite_listed_only_for_pre_merge_does_not_count_for_dev() -> None:
    smoke = SMOKE + 'pipelines = ["pre-merge"]\n'
    facts = ServiceFacts(dockerfile=DOCKERFILE, overlay_found=True)
    found = problems(config(tests=PUBLISH + DEPLOY + smoke), facts, runs=("dev",))
    assert keys(found) == ["test.smoke"]
    assert problems(config(tests=smoke), facts, runs=("pre-merge",)) == []


def test_a_report_outside_the_working_directory_is_refused_for_every_run() -> None:
    text = SERVICE.format(service="", toolchain="", tests="").replace(
        'report = "reports/unit.xml"', 'report = "../unit.xml"'
    )
    found = problems(parse_config(text), ServiceFacts(dockerfile=DOCKERFILE))
    assert keys(found) == ["test.unit.report"]


def test_prepare_raises_one_problem_as_itself_and_several_together() -> None:
    def run(*runs: str) -> PipelineConfig:
        return prepare(
            config(),
            dockerfile_text=DOCKERFILE_TEXT,
            dockerignore_text=None,
            overlay_found=False,
            runs=runs,
            file="svc/pipelines.toml",
        )

    with pytest.raises(ConfigError, match="no \\[publish\\] table"):
        run("release")
    with pytest.raises(Problems) as caught:
        run("dev", "publish")
    assert str(caught.value).startswith("3 problems to fix before anything runs:\n- ")
    found = keys(list(caught.value.problems))
    assert found == ["publish", "deploy", "test.smoke"], "each problem once"
    assert "- svc/pipelines.toml: publish: no [publish] table" in str(caught.value)
    assert run("pre-merge").toolchain.workdir == "/app"


def test_prepare_reports_a_missing_stage_with_the_runs_problems_and_not_its_port() -> None:
    text = SERVICE.format(service="", toolchain="", tests="").replace('"runtime"', '"prod"')
    with pytest.raises(Problems) as caught:
        prepare(
            parse_config(text),
            dockerfile_text=DOCKERFILE_TEXT,
            dockerignore_text=None,
            runs=("app", "release"),
        )
    assert keys(list(caught.value.problems)) == ["build.target", "publish"]


def test_nothing_is_checked_for_a_run_it_does_not_know() -> None:
    empty = Dockerfile()
    assert problems(config(), ServiceFacts(dockerfile=empty), runs=("lint",)) == []
