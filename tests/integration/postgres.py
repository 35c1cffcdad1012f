"""A throwaway PostgreSQL cluster on loopback, from the machine's own server binaries.

Debian's ``postgresql`` package provides them (``apt-get install -y postgresql``).
PostgreSQL refuses to run as root, so when the tests run as root the cluster
is created and started as the ``postgres`` user through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SERVER_USER = "postgres"


@dataclass(frozen=True, kw_only=True)
class PostgresServer:
    host: str
    port: int
    user: str
    dbname: str
    password: str = field(repr=False)

    @property
    def url(self) -> str:
        """The connection URL without the password, which travels separately."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.dbname}"


def find_server_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, newest major version first."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running_postgres(bin_dir: Path, *, dbname: str = "hello") -> Iterator[PostgresServer]:
    """Create, start and finally stop and delete a temporary cluster."""
    as_root = os.geteuid() == 0
    run_as: list[str] = ["runuser", "-u", SERVER_USER, "--"] if as_root else []
    user = "hello"
    password = secrets.token_hex(16)
    port = free_loopback_port()
    # Not under pytest's tmp_path: that tree is private to root, and the server
    # user must be able to reach its data directory.
    base = Path(tempfile.mkdtemp(prefix="hello-pg-"))
    data_dir = base / "data"
    password_file = base / "pwfile"
    password_file.write_text(password + "\n", encoding="utf-8")
    password_file.chmod(0o600)
    if as_root:
        server_account = pwd.getpwnam(SERVER_USER)
        for path in (base, password_file):
            os.chown(path, server_account.pw_uid, server_account.pw_gid)
    pg_ctl = [*run_as, str(bin_dir / "pg_ctl"), "-D", str(data_dir)]
    try:
        _run(
            [
                *run_as,
                str(bin_dir / "initdb"),
                "-D",
                str(data_dir),
                "--username",
                user,
                f"--pwfile={password_file}",
                "--auth=scram-sha-256",
                "--encoding=UTF8",
                "--no-sync",
                "--no-instructions",
            ]
        )
        server_options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run([*pg_ctl, "-l", str(base / "server.log"), "-o", server_options, "-w", "start"])
        try:
            server = PostgresServer(
                host="127.0.0.1", port=port, user=user, dbname=dbname, password=password
            )
            _create_database(server)
            yield server
        finally:
            _run([*pg_ctl, "-m", "fast", "-w", "stop"])
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _create_database(server: PostgresServer) -> None:
    # Imported here: only the tests that start a server need the driver.
    import psycopg
    from psycopg import sql

    with psycopg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(server.dbname)))


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
