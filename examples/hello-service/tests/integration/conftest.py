"""The integration suite checks what the API stored, straight in PostgreSQL.

It reads the same DATABASE_URL (and DATABASE_PASSWORD or DATABASE_PASSWORD_FILE)
as the service, so it must run where the service's database is reachable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest


def _password() -> str | None:
    password_file = os.environ.get("DATABASE_PASSWORD_FILE")
    if password_file:
        return Path(password_file).read_text(encoding="utf-8").rstrip("\r\n")
    return os.environ.get("DATABASE_PASSWORD") or None


@pytest.fixture(scope="session")
def database() -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url:
        pytest.fail(
            "DATABASE_URL is not set: the integration suite checks rows in the service's "
            "database; give it the service's DATABASE_URL (and DATABASE_PASSWORD)"
        )
    # Autocommit: every check sees what the service committed, not an old snapshot.
    # A password of None is left out of the connection string.
    with psycopg.connect(url, password=_password(), autocommit=True, connect_timeout=5) as conn:
        yield conn
