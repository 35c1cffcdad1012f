"""[[dependencies]]: services the app needs while its tests run (a database, a queue).

Example (the reference service's Postgres)::

    [[dependencies]]
    name = "db"
    image = "docker.io/library/postgres:16-alpine@sha256:<64 hex digits>"
    port = 5432
    env = { POSTGRES_USER = "app", POSTGRES_DB = "app" }
    secret_env = ["POSTGRES_PASSWORD"]
    suites = ["integration", "e2e"]
    readiness = { command = ["pg_isready", "--host", "db", "--username", "app"] }

``name`` is the hostname the app and the test runner reach it at (a Dagger
service binding). Every ``secret_env`` variable gets a value generated for
each run and handed over as a secret, never as a literal in the graph: the
dependency sees it under its own name, the app and the test runner under
``<NAME>_<VAR>`` (``DB_POSTGRES_PASSWORD`` above), next to ``DB_HOST`` and
``DB_PORT``; see :func:`connection_env` and :func:`shared_secret_names`.

Readiness: by default a dependency is ready when its port answers (or its
image's HEALTHCHECK passes). A port can open before the service accepts
work, so ``readiness.command`` names a probe run in a container of the same
image, with the dependency bound at ``name``, repeated every
``interval_seconds`` until it exits 0 or ``timeout_seconds`` pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import partial

from pipelines.config._reader import Table
from pipelines.errors import Collector

# Suites that run against the app as a service; unit tests never need one.
DEPENDENCY_SUITES = ("smoke", "integration", "e2e")
DEFAULT_SUITES = ("integration", "e2e")

_HOSTNAME = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, kw_only=True)
class Readiness:
    """A probe that says when a dependency is ready; None command = the port answers."""

    command: tuple[str, ...] | None = None
    timeout_seconds: int = 60
    interval_seconds: int = 2


@dataclass(frozen=True, kw_only=True)
class DependencyConfig:
    name: str
    image: str
    port: int
    env: tuple[tuple[str, str], ...] = ()
    secret_env: tuple[str, ...] = ()
    readiness: Readiness = field(default_factory=Readiness)
    suites: tuple[str, ...] = DEFAULT_SUITES

    @property
    def env_prefix(self) -> str:
        """``db`` -> ``DB``, ``cache-1`` -> ``CACHE_1``."""
        return self.name.upper().replace("-", "_")


def connection_env(dependency: DependencyConfig) -> tuple[tuple[str, str], ...]:
    """Plain variables the app and the test runner get for one dependency."""
    prefix = dependency.env_prefix
    return ((f"{prefix}_HOST", dependency.name), (f"{prefix}_PORT", str(dependency.port)))


def shared_secret_names(dependency: DependencyConfig) -> tuple[tuple[str, str], ...]:
    """(name in the dependency, name in the app and test runner) for each secret."""
    return tuple((var, f"{dependency.env_prefix}_{var}") for var in dependency.secret_env)


def parse_dependencies(tables: tuple[Table, ...]) -> tuple[DependencyConfig, ...]:
    """Parse ``[[dependencies]]`` (the result of ``root.tables("dependencies")``);
    each entry is checked on its own, all problems reported."""
    collected = Collector()
    parsed: list[DependencyConfig] = []
    for table in tables:
        dependency = collected.attempt(partial(_parse_one, table))
        if dependency is None:
            continue
        # Names are lowercase labels, so distinct names also give distinct
        # <NAME>_* variables in the app.
        if any(other.name == dependency.name for other in parsed):
            collected.attempt(
                partial(
                    table.fail,
                    "name",
                    f"name {dependency.name!r} is already used",
                    "give each dependency a distinct name: it is its hostname",
                )
            )
        parsed.append(dependency)
    collected.raise_all()
    return tuple(parsed)


def _parse_one(table: Table) -> DependencyConfig:
    name = table.string("name", example='"db"')
    if not _HOSTNAME.fullmatch(name):
        table.fail(
            "name",
            f"{name!r} is not a hostname label (lowercase letters, digits, '-', "
            "starting with a letter)",
            'use a short name like "db": the app reaches the service at that hostname',
        )
    image = table.image("image")
    port = table.integer("port", minimum=1, maximum=65535, example="5432")
    env: tuple[tuple[str, str], ...] = table.str_map("env", ())
    for key, _ in env:
        _check_env_name(table, "env", key)
    secret_env: tuple[str, ...] = table.str_list("secret_env", (), example='["POSTGRES_PASSWORD"]')
    for key in secret_env:
        _check_env_name(table, "secret_env", key)
    clashes = sorted({key for key, _ in env} & set(secret_env))
    if clashes:
        table.fail(
            "secret_env",
            f"{', '.join(clashes)} is also set in `env`",
            "a variable is either a plain value in `env` or a generated secret in "
            "`secret_env`: remove it from one of them",
        )
    if len(set(secret_env)) != len(secret_env):
        table.fail("secret_env", "lists a variable twice", "remove the duplicate entry")
    suites: tuple[str, ...] = table.str_list(
        "suites", DEFAULT_SUITES, example='["integration", "e2e"]'
    )
    if not suites:
        table.fail(
            "suites",
            "an empty list means no suite ever starts this dependency",
            'name the suites that need it, e.g. `suites = ["integration", "e2e"]`, '
            "or remove the dependency",
        )
    for suite in suites:
        if suite not in DEPENDENCY_SUITES:
            table.fail(
                "suites", f"unknown suite {suite!r}", "use any of " + ", ".join(DEPENDENCY_SUITES)
            )
    readiness = _parse_readiness(table.table("readiness"))
    table.finish()
    return DependencyConfig(
        name=name,
        image=image,
        port=port,
        env=env,
        secret_env=secret_env,
        readiness=readiness,
        suites=tuple(s for s in DEPENDENCY_SUITES if s in suites),
    )


def _parse_readiness(table: Table | None) -> Readiness:
    if table is None:
        return Readiness()
    command = table.argv("command", None)
    timeout = table.integer("timeout_seconds", 60, minimum=1, maximum=3600, example="60")
    interval = table.integer("interval_seconds", 2, minimum=1, maximum=300, example="2")
    if interval > timeout:
        table.fail(
            "interval_seconds",
            f"{interval}s is longer than timeout_seconds ({timeout}s)",
            "make the interval shorter than the timeout",
        )
    table.finish()
    return Readiness(command=command, timeout_seconds=timeout, interval_seconds=interval)


def _check_env_name(table: Table, key: str, name: str) -> None:
    if not _ENV_NAME.fullmatch(name):
        table.fail(
            key,
            f"{name!r} is not an environment variable name",
            "use letters, digits and '_', not starting with a digit",
        )
