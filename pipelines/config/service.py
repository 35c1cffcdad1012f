"""[service]: what the service is and how to ask it whether it is alive."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipelines.config._reader import Table

_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    name: str
    port: int
    health_path: str = "/healthz"
    readiness_path: str = "/readyz"
    # Seconds the service needs after SIGTERM to finish in-flight requests;
    # the deploy manifests size terminationGracePeriodSeconds from it.
    drain_seconds: int = 10
    # Environment of the app when it runs as a service under test (smoke,
    # integration, e2e, serve). A suite that never runs against a deployment
    # gets the same variables (pipelines.suite_env), so it can reach what the
    # app reaches.
    env: tuple[tuple[str, str], ...] = ()
    # App variables filled from a dependency's generated secret, written
    # "<dependency>.<VAR>", e.g. DATABASE_PASSWORD = "db.POSTGRES_PASSWORD".
    secret_env: tuple[tuple[str, str], ...] = ()
    # Why the image need not EXPOSE `port` (e.g. the app reads PORT at run
    # time); without it, a port the image does not expose is an error.
    port_not_exposed_because: str | None = None


def parse_service(table: Table) -> ServiceConfig:
    name = table.string("name", example='"hello-service"')
    if not _NAME.fullmatch(name):
        table.fail(
            "name",
            f"{name!r} is not a DNS label (lowercase letters, digits, '-')",
            'use a name like "hello-service": it becomes image, namespace and app names',
            goes_on=True,
        )
    port = table.integer("port", minimum=1, maximum=65535, example="8080")
    health = table.string("health_path", "/healthz", example='"/healthz"')
    ready = table.string("readiness_path", "/readyz", example='"/readyz"')
    for key, path in (("health_path", health), ("readiness_path", ready)):
        if not path.startswith("/"):
            table.fail(
                key,
                f"expected an absolute URL path, got {path!r}",
                f'write it as `{key} = "/{path}"`',
            )
    drain = table.integer("drain_seconds", 10, minimum=0, maximum=600, example="10")
    env = table.str_map("env", ())
    secret_env = table.str_map("secret_env", ())
    for key, reference in secret_env:
        if reference.count(".") != 1 or not all(reference.split(".")):
            table.fail(
                "secret_env",
                f"{key} = {reference!r} does not name a dependency secret",
                f'write it as `{key} = "<dependency>.<VAR>"`, e.g. "db.POSTGRES_PASSWORD"',
            )
    port_reason = table.string(
        "port_not_exposed_because", None, example='"the app reads PORT at run time"'
    )
    table.finish()
    return ServiceConfig(
        name=name,
        port=port,
        health_path=health,
        readiness_path=ready,
        drain_seconds=drain,
        env=env,
        secret_env=secret_env,
        port_not_exposed_because=port_reason,
    )
