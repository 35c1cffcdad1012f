"""Settings read once from the environment, with errors that say how to fix them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict
from psycopg.errors import ProgrammingError

DEFAULT_PORT = 8080
DEFAULT_DRAIN_SECONDS = 10.0


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and the fix."""


@dataclass(frozen=True, kw_only=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = DEFAULT_PORT
    database_url: str
    # Kept out of repr so that logging the settings can never print it.
    database_password: str | None = field(default=None, repr=False)
    drain_seconds: float = DEFAULT_DRAIN_SECONDS
    # Time to keep serving after SIGTERM while readiness already fails, so a
    # load balancer can take the instance out before the listener closes.
    shutdown_delay_seconds: float = 0.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        database_url = env.get("DATABASE_URL", "").strip()
        if not database_url:
            raise ConfigError(
                "DATABASE_URL is not set: expected a PostgreSQL URL such as "
                "postgresql://hello@db:5432/hello (pass the password separately in "
                "DATABASE_PASSWORD_FILE or DATABASE_PASSWORD)"
            )
        describe_database(database_url)  # Validates the syntax early.
        drain_seconds = _seconds(env, "DRAIN_SECONDS", DEFAULT_DRAIN_SECONDS)
        shutdown_delay_seconds = _seconds(env, "SHUTDOWN_DELAY_SECONDS", 0.0)
        if shutdown_delay_seconds >= drain_seconds:
            raise ConfigError(
                f"SHUTDOWN_DELAY_SECONDS={shutdown_delay_seconds:g} must be shorter than "
                f"DRAIN_SECONDS={drain_seconds:g}: the delay is spent inside the drain budget, "
                "so in-flight requests would get no time to finish; lower the delay"
            )
        return cls(
            host=env.get("HOST", "0.0.0.0"),
            port=_port(env),
            database_url=database_url,
            database_password=_database_password(env),
            drain_seconds=drain_seconds,
            shutdown_delay_seconds=shutdown_delay_seconds,
        )


def describe_database(database_url: str) -> str:
    """Where the database is, for logs: never includes the password."""
    try:
        params = conninfo_to_dict(database_url)
    except ProgrammingError:
        # The value itself is not echoed: it may hold a password.
        raise ConfigError(
            "DATABASE_URL is not a valid PostgreSQL connection string (value not shown, it "
            "may hold a password): expected postgresql://USER@HOST:PORT/DBNAME"
        ) from None
    user = params.get("user", "")
    host = params.get("host", "")
    port = params.get("port", "5432")
    dbname = params.get("dbname", "")
    return f"postgresql://{user}@{host}:{port}/{dbname}"


def _port(env: Mapping[str, str]) -> int:
    raw = env.get("PORT", str(DEFAULT_PORT))
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise ConfigError(f"PORT={raw!r} is not a TCP port: expected an integer from 1 to 65535")
    return port


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ConfigError(f"{name}={raw!r} is not a duration: expected seconds, such as 10 or 2.5")
    return seconds


def _database_password(env: Mapping[str, str]) -> str | None:
    password_file = env.get("DATABASE_PASSWORD_FILE")
    password = env.get("DATABASE_PASSWORD")
    if password_file and password:
        raise ConfigError(
            "DATABASE_PASSWORD_FILE and DATABASE_PASSWORD are both set: keep one (the file, "
            "mounted from a secret, is preferred)"
        )
    if password_file:
        try:
            # Secret files usually end with a newline that is not part of the password.
            return Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as error:
            raise ConfigError(
                f"DATABASE_PASSWORD_FILE={password_file!r} cannot be read ({error.strerror}): "
                "mount the secret there or unset the variable"
            ) from None
    return password or None
