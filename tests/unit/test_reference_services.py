"""Every reference service's pipelines.toml against its own Dockerfile: pure data checks.

Each service (Python, Node.js, Go) must parse without deprecations, name
build stages its Dockerfile has, pin every image by digest, mount the source
where its test stage's WORKDIR is (so installed dependencies and the source
meet), expose the configured port, and write each suite's report where the
config says it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.config import PipelineConfig
from pipelines.dockerfile import build_target_problems, dockerfile_path, stage_names
from pipelines.values import is_digest_pinned
from pipelines_cli.portable_pipelines import service_config
from tests.conftest import REFERENCE_SERVICES, ROOT

pytestmark = pytest.mark.parametrize("service", REFERENCE_SERVICES, ids=lambda path: path.name)


@dataclass(kw_only=True)
class Stage:
    parent: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def _stages(dockerfile: str) -> dict[str, Stage]:
    joined = re.sub(r"[ \t]*\\\n\s*", " ", dockerfile)
    found: dict[str, Stage] = {}
    current: Stage | None = None
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            words = [word for word in rest.split() if not word.startswith("--")]
            current = Stage(parent=words[0])
            found[words[-1].lower()] = current
        elif current is not None:
            current.instructions.append((instruction.upper(), rest.strip()))
    return found


def _inherited(stages: dict[str, Stage], name: str, instruction: str) -> list[str]:
    """The values of `instruction` in the stage and the stages it is built FROM, in order."""
    stage = stages[name]
    values = (
        _inherited(stages, stage.parent.lower(), instruction)
        if stage.parent.lower() in stages
        else []
    )
    return values + [value for kind, value in stage.instructions if kind == instruction]


def _load(service: Path) -> tuple[PipelineConfig, dict[str, Stage], str]:
    """The config as the functions see it (resolved against the Dockerfile and
    .dockerignore by the same checks they run), and the Dockerfile read here apart."""
    manifests = service if (service / "deploy").is_dir() else ROOT
    config = service_config(service, runs=("pre-merge",), manifests=manifests)
    dockerfile = (service / dockerfile_path(config)).read_text(encoding="utf-8")
    return config, _stages(dockerfile), dockerfile


def test_the_config_parses_and_names_stages_its_dockerfile_has(service: Path) -> None:
    config, _, dockerfile = _load(service)

    assert build_target_problems(config, dockerfile) == []

    assert config.service.name == service.name
    assert config.deprecations == ()
    assert {"test", "runtime"} <= set(stage_names(dockerfile))
    assert config.toolchain.target == "test"
    assert config.build.target == "runtime"
    assert {"unit", "smoke"} <= set(config.tests)
    assert config.lint is not None
    assert config.lint.commands
    assert config.publish is not None
    assert config.publish.repository == service.name
    assert config.forge is not None
    assert config.forge.repository == f"acme/{service.name}"


def test_every_image_is_pinned_by_digest(service: Path) -> None:
    config, stages, _ = _load(service)

    for name, stage in stages.items():
        assert stage.parent.lower() in stages or is_digest_pinned(stage.parent), f"{name}: {stage}"
    for dependency in config.dependencies:
        assert is_digest_pinned(dependency.image)


def test_the_source_is_mounted_at_the_test_stages_workdir(service: Path) -> None:
    config, stages, _ = _load(service)
    assert config.toolchain.target is not None

    workdirs = _inherited(stages, config.toolchain.target, "WORKDIR")

    assert workdirs, "the test stage sets no WORKDIR"
    assert config.toolchain.workdir == workdirs[-1]


def test_the_service_port_is_the_one_the_runtime_stage_exposes(service: Path) -> None:
    config, stages, _ = _load(service)
    assert config.build.target is not None

    assert _inherited(stages, config.build.target, "EXPOSE") == [str(config.service.port)]
    user = _inherited(stages, config.build.target, "USER")
    assert user, "the runtime stage must not run as root"
    assert user[-1].split(":")[0] not in {"0", "root"}
    assert _inherited(stages, config.build.target, "HEALTHCHECK")


def test_each_suite_writes_its_report_where_the_config_says(service: Path) -> None:
    config, _, _ = _load(service)

    for name, suite in config.tests.items():
        assert suite.report is not None, f"[test.{name}] names no report"
        assert not suite.report.startswith("/"), "relative to the workdir, like the source"
        written = [arg for command in suite.commands for arg in command if suite.report in arg]
        assert written, f"[test.{name}]: no command writes {suite.report}"
        assert suite.report == f"reports/{name}.xml"
