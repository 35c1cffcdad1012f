"""Settings from the environment: defaults, secrets, and errors that name the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from hello_service.config import ConfigError, Settings, describe_database

URL = "postgresql://hello@db:5432/hello"


def test_defaults() -> None:
    settings = Settings.from_env({"DATABASE_URL": URL})

    assert settings.port == 8080
    assert settings.host == "0.0.0.0"
    assert settings.drain_seconds == 10
    assert settings.shutdown_delay_seconds == 0
    assert settings.database_password is None


def test_values_from_the_environment() -> None:
    settings = Settings.from_env(
        {
            "DATABASE_URL": URL,
            "PORT": "9000",
            "HOST": "127.0.0.1",
            "DRAIN_SECONDS": "2.5",
            "SHUTDOWN_DELAY_SECONDS": "1",
            "DATABASE_PASSWORD": "s3cret",
        }
    )

    assert (settings.port, settings.host) == (9000, "127.0.0.1")
    assert (settings.drain_seconds, settings.shutdown_delay_seconds) == (2.5, 1)
    assert settings.database_password == "s3cret"


def test_password_file_is_read_without_its_trailing_newline(tmp_path: Path) -> None:
    secret = tmp_path / "db_password"
    secret.write_text("s3cret\n", encoding="utf-8")

    settings = Settings.from_env({"DATABASE_URL": URL, "DATABASE_PASSWORD_FILE": str(secret)})

    assert settings.database_password == "s3cret"


def test_the_password_never_shows_in_repr_or_description() -> None:
    settings = Settings.from_env(
        {"DATABASE_URL": "postgresql://hello:inline-pw@db/hello", "DATABASE_PASSWORD": "env-pw"}
    )

    assert "env-pw" not in repr(settings)
    assert "inline-pw" not in describe_database(settings.database_url)
    assert describe_database(settings.database_url) == "postgresql://hello@db:5432/hello"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({}, "DATABASE_URL is not set"),
        ({"DATABASE_URL": "postgresql://hello@db/hello?nosuchoption=1"}, "not a valid"),
        ({"DATABASE_URL": "http://db/hello"}, "not a valid"),
        ({"DATABASE_URL": URL, "PORT": "http"}, "PORT='http'"),
        ({"DATABASE_URL": URL, "PORT": "70000"}, "PORT='70000'"),
        ({"DATABASE_URL": URL, "DRAIN_SECONDS": "-1"}, "DRAIN_SECONDS='-1'"),
        ({"DATABASE_URL": URL, "DRAIN_SECONDS": "nan"}, "DRAIN_SECONDS='nan'"),
        ({"DATABASE_URL": URL, "SHUTDOWN_DELAY_SECONDS": "10"}, "shorter than"),
        (
            {"DATABASE_URL": URL, "DATABASE_PASSWORD": "a", "DATABASE_PASSWORD_FILE": "/x"},
            "keep one",
        ),
        ({"DATABASE_URL": URL, "DATABASE_PASSWORD_FILE": "/nonexistent/pw"}, "cannot be read"),
    ],
)
def test_bad_settings_name_the_variable_and_the_fix(env: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)

    assert names in str(caught.value)


def test_an_invalid_url_is_not_echoed_because_it_may_hold_a_password() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"DATABASE_URL": "host=db password=hunter2 port=notaport oops"})

    assert "hunter2" not in str(caught.value)
