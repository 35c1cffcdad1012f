"""[[dependencies]] and the e2e runner image: parsing, the app's view, and bad input."""

from __future__ import annotations

import tomllib

import pytest

from pipelines.config import parse_config
from pipelines.config._reader import Table
from pipelines.config.dependencies import (
    DependencyConfig,
    Readiness,
    connection_env,
    parse_dependencies,
    shared_secret_names,
)
from pipelines.errors import ConfigError

DIGEST = "sha256:" + "0123456789abcdef" * 4
POSTGRES = f"docker.io/library/postgres:16-alpine@{DIGEST}"

REFERENCE = f"""
[[dependencies]]
name = "db"
image = "{POSTGRES}"
port = 5432
env = {{ POSTGRES_USER = "app", POSTGRES_DB = "app" }}
secret_env = ["POSTGRES_PASSWORD"]
readiness = {{ command = ["pg_isready", "--host", "db", "--username", "app"] }}

[[dependencies]]
name = "cache-1"
image = "docker.io/library/redis:7-alpine@{DIGEST}"
port = 6379
suites = ["e2e"]
"""


def parse(text: str) -> tuple[DependencyConfig, ...]:
    root = Table(tomllib.loads(text), file="svc/pipelines.toml", path="")
    dependencies = parse_dependencies(root.tables("dependencies"))
    root.finish()
    return dependencies


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(text)
    return caught.value


def test_the_reference_dependencies_parse() -> None:
    db, cache = parse(REFERENCE)

    assert db == DependencyConfig(
        name="db",
        image=POSTGRES,
        port=5432,
        env=(("POSTGRES_DB", "app"), ("POSTGRES_USER", "app")),
        secret_env=("POSTGRES_PASSWORD",),
        readiness=Readiness(command=("pg_isready", "--host", "db", "--username", "app")),
        suites=("integration", "e2e"),
    )
    assert cache.readiness == Readiness()
    assert cache.suites == ("e2e",)


SERVICE = """
[service]
name = "hello"
port = 8080
"""


def test_each_suite_gets_the_dependencies_it_names() -> None:
    config = parse_config(SERVICE + REFERENCE)

    assert [d.name for d in config.dependencies_for("integration")] == ["db"]
    assert [d.name for d in config.dependencies_for("e2e")] == ["db", "cache-1"]
    assert config.dependencies_for("smoke") == ()


def test_a_suite_also_starts_what_the_app_cannot_start_without() -> None:
    """The app's secret_env names db's password: smoke starts db too, though it names none."""
    app_needs_db = SERVICE + 'secret_env = { DATABASE_PASSWORD = "db.POSTGRES_PASSWORD" }\n'
    config = parse_config(app_needs_db + REFERENCE)

    assert [d.name for d in config.dependencies_for("smoke")] == ["db"]
    assert [d.name for d in config.dependencies_for("e2e")] == ["db", "cache-1"]


def test_the_app_learns_host_port_and_secret_names_by_prefix() -> None:
    db, cache = parse(REFERENCE)

    assert connection_env(db) == (("DB_HOST", "db"), ("DB_PORT", "5432"))
    assert connection_env(cache) == (("CACHE_1_HOST", "cache-1"), ("CACHE_1_PORT", "6379"))
    assert shared_secret_names(db) == (("POSTGRES_PASSWORD", "DB_POSTGRES_PASSWORD"),)
    assert shared_secret_names(cache) == ()


def test_no_dependencies_is_an_empty_tuple() -> None:
    assert parse("") == ()


def test_a_dependency_without_image_is_a_clear_error() -> None:
    error = error_of('[[dependencies]]\nname = "db"\nport = 5432\n')

    assert error.file == "svc/pipelines.toml"
    assert error.key == "dependencies[0].image"
    assert "required key is missing" in error.problem
    assert "@sha256:" in error.fix


def test_a_dependency_without_port_is_a_clear_error() -> None:
    error = error_of(f'[[dependencies]]\nname = "db"\nimage = "{POSTGRES}"\n')

    assert error.key == "dependencies[0].port"
    assert "required key is missing" in error.problem


def test_a_tag_only_image_is_refused() -> None:
    error = error_of('[[dependencies]]\nname = "db"\nimage = "postgres:16-alpine"\nport = 5432\n')

    assert error.key == "dependencies[0].image"
    assert "not pinned by digest" in error.problem


@pytest.mark.parametrize("name", ["DB", "1db", "db_1", "db-", ""])
def test_the_name_must_be_a_hostname_label(name: str) -> None:
    error = error_of(f'[[dependencies]]\nname = "{name}"\nimage = "{POSTGRES}"\nport = 5432\n')

    assert error.key == "dependencies[0].name"


def test_two_dependencies_cannot_share_a_name() -> None:
    one = f'[[dependencies]]\nname = "db"\nimage = "{POSTGRES}"\nport = 5432\n'
    error = error_of(one + one.replace("5432", "5433"))

    assert error.key == "dependencies[1].name"
    assert "'db' is already used" in error.problem


def test_a_secret_variable_cannot_also_be_a_plain_value() -> None:
    error = error_of(
        f'[[dependencies]]\nname = "db"\nimage = "{POSTGRES}"\nport = 5432\n'
        'env = { POSTGRES_PASSWORD = "hunter2" }\nsecret_env = ["POSTGRES_PASSWORD"]\n'
    )

    assert error.key == "dependencies[0].secret_env"
    assert "POSTGRES_PASSWORD is also set in `env`" in error.problem


@pytest.mark.parametrize(
    ("extra", "key", "problem"),
    [
        ('secret_env = ["POSTGRES PASSWORD"]', "secret_env", "not an environment variable"),
        ('env = { "1X" = "y" }', "env", "not an environment variable"),
        ('suites = ["unit"]', "suites", "unknown suite 'unit'"),
        ("suites = []", "suites", "no suite ever starts"),
        ("port = 0", "port", "between 1 and 65535"),
        (
            'readiness = { command = "pg_isready -h db" }',
            "readiness.command",
            "not shell strings",
        ),
        (
            "readiness = { timeout_seconds = 5, interval_seconds = 10 }",
            "readiness.interval_seconds",
            "longer than timeout_seconds",
        ),
        ("imgae = 'x'", "imgae", 'did you mean "image"?'),
    ],
)
def test_bad_dependency_values_name_their_key(extra: str, key: str, problem: str) -> None:
    body = f'[[dependencies]]\nname = "db"\nimage = "{POSTGRES}"\nport = 5432\n'
    if extra.startswith("port"):
        body = body.replace("port = 5432\n", "")
    error = error_of(body + extra + "\n")

    assert error.key == f"dependencies[0].{key}"
    assert problem in error.problem


SERVICE = '[service]\nname = "svc"\nport = 8080\n'
PLAYWRIGHT = f"mcr.microsoft.com/playwright/python:v1.58.0-noble@{DIGEST}"


def test_the_e2e_suite_may_run_in_a_pinned_image_of_its_own() -> None:
    config = parse_config(
        SERVICE + f'[test.e2e]\ncommands = [["pytest", "tests/e2e"]]\nimage = "{PLAYWRIGHT}"\n'
    )

    assert config.suite("e2e").image == PLAYWRIGHT


def test_without_image_the_e2e_suite_runs_in_the_toolchain() -> None:
    config = parse_config(SERVICE + '[test.e2e]\ncommands = [["pytest", "tests/e2e"]]\n')

    assert config.suite("e2e").image is None


def test_the_e2e_image_must_be_pinned_by_digest() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            SERVICE + '[test.e2e]\ncommands = [["pytest"]]\n'
            'image = "mcr.microsoft.com/playwright/python:v1.58.0-noble"\n'
        )

    assert caught.value.key == "test.e2e.image"
    assert "not pinned by digest" in caught.value.problem


def test_other_suites_cannot_leave_the_toolchain() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(SERVICE + f'[test.smoke]\ncommands = [["pytest"]]\nimage = "{PLAYWRIGHT}"\n')

    assert caught.value.key == "test.smoke.image"
    assert "only [test.e2e]" in caught.value.problem
