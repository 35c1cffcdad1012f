"""pipelines.toml parsing: the reference config, and one test per bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipelines.config import PipelineConfig, load_config, parse_config
from pipelines.dockerfile import build_target_problems, stage_names
from pipelines.errors import ConfigError, Problems
from tests.conftest import REFERENCE_SERVICE

MINIMAL = """
[service]
name = "svc"
port = 8080
"""


def parse(text: str) -> PipelineConfig:
    return parse_config(text, file="svc/pipelines.toml")


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value


def test_reference_service_config_parses() -> None:
    config = parse((REFERENCE_SERVICE / "pipelines.toml").read_text())
    assert config.service.name == "hello-service"
    assert config.toolchain.target == "test"
    assert config.build.target == "runtime"
    assert config.lint is not None
    assert all(isinstance(cmd, tuple) and cmd for cmd in config.lint.commands)
    assert set(config.tests) == {"unit", "smoke", "integration", "e2e"}
    # It names its forge in [forge], the spelling without a deprecation.
    assert config.forge is not None
    assert config.forge.repository == "acme/hello-service"
    assert config.deprecations == ()


def test_load_config_reads_the_file_and_names_it_in_errors(tmp_path: Path) -> None:
    assert load_config(REFERENCE_SERVICE / "pipelines.toml") == parse(
        (REFERENCE_SERVICE / "pipelines.toml").read_text()
    )

    for missing in (tmp_path / "pipelines.toml", tmp_path):
        with pytest.raises(ConfigError) as caught:
            load_config(missing)
        assert (caught.value.file, caught.value.problem) == (str(missing), "not found")
        assert "fix: check the path" in str(caught.value)

    broken = tmp_path / "broken.toml"
    broken.write_bytes(b'[service]\nname = "\xff"\n')
    with pytest.raises(ConfigError, match=f"^{re.escape(str(broken))}: cannot be read: "):
        load_config(broken)


def test_defaults_of_a_minimal_config() -> None:
    config = parse(MINIMAL)
    assert config.service.health_path == "/healthz"
    assert config.build.dockerfile == "Dockerfile"
    assert config.toolchain.target == "test"
    assert config.scan.severities == ("HIGH", "CRITICAL")
    assert config.lint is None
    assert config.tests == {}


def test_config_is_frozen() -> None:
    config = parse(MINIMAL)
    with pytest.raises(AttributeError):
        config.service.port = 1  # type: ignore[misc]


def test_invalid_toml_names_file_and_position() -> None:
    error = error_of('[service]\nname = "svc\n')
    assert error.file == "svc/pipelines.toml"
    assert "invalid TOML" in error.problem
    assert "line 2" in str(error)


def test_unknown_key_suggests_the_right_one() -> None:
    error = error_of(MINIMAL + 'helth_path = "/h"\n')
    assert error.key == "service.helth_path"
    assert 'did you mean "health_path"' in error.problem


def test_unknown_section_is_refused() -> None:
    error = error_of(MINIMAL + "[buidl]\n")
    assert error.key == "buidl"
    assert 'did you mean "build"' in error.problem


def test_unknown_test_suite_is_refused() -> None:
    error = error_of(MINIMAL + '[test.unti]\ncommands = [["pytest"]]\n')
    assert error.key == "test.unti"
    assert 'did you mean "unit"' in error.problem


def test_wrong_type_says_what_was_expected() -> None:
    error = error_of('[service]\nname = "svc"\nport = "8080"\n')
    assert error.key == "service.port"
    assert "expected an integer" in error.problem
    assert "port = 8080" in error.fix


def test_port_out_of_range() -> None:
    error = error_of('[service]\nname = "svc"\nport = 70000\n')
    assert error.key == "service.port"
    assert "between 1 and 65535" in error.problem


def test_missing_service_table() -> None:
    error = error_of("[build]\n")
    assert error.key == "service"
    assert "[service]" in error.fix


def test_missing_required_key() -> None:
    error = error_of('[service]\nname = "svc"\n')
    assert error.key == "service.port"
    assert "missing" in error.problem


def test_shell_string_command_is_refused_with_the_argv_form() -> None:
    error = error_of(MINIMAL + '[lint]\ncommands = ["ruff check ."]\n')
    assert error.key == "lint.commands[0]"
    assert "not shell strings" in error.problem
    assert '["ruff", "check", "."]' in error.fix


def test_toolchain_image_must_be_pinned_by_digest() -> None:
    error = error_of(MINIMAL + '[toolchain]\nimage = "golang:1.23"\n')
    assert error.key == "toolchain.image"
    assert "not pinned by digest" in error.problem


def test_toolchain_needs_exactly_one_of_target_and_image() -> None:
    digest = "a" * 64
    error = error_of(
        MINIMAL + f'[toolchain]\ntarget = "test"\nimage = "golang:1.23@sha256:{digest}"\n'
    )
    assert error.key == "toolchain"


def test_bad_platform() -> None:
    error = error_of(MINIMAL + '[build]\nplatforms = ["amd64"]\n')
    assert error.key == "build.platforms"


def test_unknown_suite_requested() -> None:
    with pytest.raises(ConfigError, match=r"no \[test.smoke\] table") as caught:
        parse(MINIMAL).suite("smoke")
    # The hint names no one language's tool: the service's own command goes there.
    assert "commands = [[<your smoke test command>]]" in caught.value.fix
    assert "pytest" not in caught.value.fix


DOCKERFILE = """\
FROM --platform=$BUILDPLATFORM python:3.12-slim@sha256:abc AS Base
RUN true
FROM base AS test
FROM base \\
    AS runtime
"""


def test_stage_names_handle_flags_case_and_continuations() -> None:
    assert stage_names(DOCKERFILE) == ("base", "test", "runtime")


def test_missing_dockerfile_is_reported_before_any_build() -> None:
    (error,) = build_target_problems(parse(MINIMAL), None)
    assert error.key == "build.dockerfile"
    assert "'Dockerfile' does not exist" in error.problem


def test_every_missing_stage_is_reported_with_the_stages_there_are() -> None:
    config = parse(MINIMAL + '[build]\ntarget = "prod"\n[toolchain]\ntarget = "dev"\n')
    found = build_target_problems(config, DOCKERFILE)
    assert [error.key for error in found] == ["build.target", "toolchain.target"]
    assert all("base, test, runtime" in error.problem for error in found)


def test_present_targets_pass() -> None:
    config = parse(MINIMAL + '[build]\ntarget = "runtime"\n')
    assert build_target_problems(config, DOCKERFILE) == []


def test_unknown_cache_sharing_mode() -> None:
    error = error_of(
        MINIMAL
        + '[toolchain]\ntarget = "test"\n'
        + '[[toolchain.caches]]\npath = "/c"\nkey = "k"\nsharing = "exclusive"\n'
    )
    assert error.key == "toolchain.caches[0].sharing"
    assert '"locked"' in error.fix


def test_every_mistake_is_reported_at_once_each_with_its_key_and_fix() -> None:
    text = """
[service]
name = "svc"
port = 8080
helth_path = "/h"
colour = "blue"

[build]
platforms = ["amd64"]

[test.unit]
commands = "pytest"

[test.smoke]
commands = [["s"]]
pipelines = ["release"]

[[dependencies]]
name = "DB"
image = "postgres:16"
port = 5432

[buidl]
"""
    with pytest.raises(Problems) as caught:
        parse(text)
    keys = [getattr(problem, "key", None) for problem in caught.value.problems]
    assert keys == [
        "service.helth_path",
        "service.colour",
        "build.platforms",
        "test.unit.commands",
        "test.smoke.pipelines",
        "dependencies[0].name",
        "buidl",
    ]
    message = str(caught.value)
    assert message.startswith("7 problems to fix before anything runs:\n- svc/pipelines.toml: ")
    assert message.count("\n    fix: ") == 7, "every problem says how to fix it"


def test_checks_across_tables_run_once_the_tables_are_good_and_report_together() -> None:
    text = MINIMAL.replace("port = 8080", 'port = 8080\nsecret_env = { PW = "db.PASSWORD" }')
    pinned = '"x@sha256:' + "a" * 64 + '"'
    with pytest.raises(Problems) as caught:
        parse(text + f'[[dependencies]]\nname = "app"\nimage = {pinned}\nport = 1\n')
    assert [getattr(p, "key", None) for p in caught.value.problems] == [
        "service.secret_env.PW",
        "dependencies[0].name",
    ], "in the order the keys stand in the file"
    # A table with a mistake of its own: the checks that read it wait for the fix.
    error = error_of(text + '[[dependencies]]\nname = "app"\nimage = "x"\nport = 1\n')
    assert error.key == "dependencies[0].image"


def test_checking_goes_on_past_a_wrong_value_to_the_next_keys_of_its_table() -> None:
    text = '[service]\nname = "Svc"\nport = "80"\ndrain_seconds = -1\n[scan]\ntimeout = "soon"\n'
    with pytest.raises(Problems) as caught:
        parse(text)
    assert [getattr(p, "key", None) for p in caught.value.problems] == [
        "service.name",
        "service.port",
        "service.drain_seconds",
        "scan.timeout",
    ]


def test_a_value_that_decides_its_table_stops_that_table_not_the_others() -> None:
    text = (
        MINIMAL.replace("port = 8080", 'port = "x"')
        + '[forge]\nprovider = "github"\nproject = "a/b"\n'
    )
    with pytest.raises(Problems) as caught:
        parse(text)
    keys = [getattr(p, "key", None) for p in caught.value.problems]
    # Not also "forge.repository is missing": that follows from reading project as wrong.
    assert keys == ["service.port", "forge.project"]


@pytest.mark.parametrize("name", ["hello\\n", "hello\\nworld", "hello service", "-hello"])
def test_a_service_name_that_would_break_kubectl_argv_is_refused(name: str) -> None:
    # The name reaches kubectl's argv and manifests: matched whole, a newline included.
    text = MINIMAL.replace('name = "svc"', f'name = "{name}"')
    with pytest.raises((ConfigError, Problems)) as caught:
        parse(text)
    assert "service.name" in str(caught.value)
    assert "not a DNS label" in str(caught.value)
