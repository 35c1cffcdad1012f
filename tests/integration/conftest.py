"""Fixtures of the integration tier that need real servers on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from tests.integration.forge_clients import Sleeps
from tests.integration.postgres import PostgresServer, find_server_binaries, running_postgres


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def server(httpserver: HTTPServer) -> Iterator[HTTPServer]:
    """pytest-httpserver's loopback server, cleared of expectations after each test."""
    yield httpserver
    httpserver.clear()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL on 127.0.0.1, for the whole session (about 2 s to start)."""
    bin_dir = find_server_binaries()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql "
            "or on PATH: install them with `apt-get install -y postgresql`"
        )
    with running_postgres(bin_dir) as server:
        yield server
