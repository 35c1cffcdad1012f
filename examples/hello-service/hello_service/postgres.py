"""GreetingRepository on PostgreSQL, through a small psycopg connection pool."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.rows import class_row
from psycopg_pool import ConnectionPool

from hello_service.config import Settings
from hello_service.greetings import MAX_NAME_LENGTH, Greeting, StorageUnavailableError

# Serialises schema creation across replicas that start together: two
# concurrent CREATE TABLE IF NOT EXISTS can otherwise both fail on the catalog.
_SCHEMA_LOCK_KEY = 0x68656C6C6F  # "hello"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS greetings (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL CHECK (char_length(name) BETWEEN 1 AND {MAX_NAME_LENGTH}),
    message text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""

_COLUMNS = "id, name, message, created_at"


class PostgresGreetingRepository:
    def __init__(
        self, pool: ConnectionPool, *, checkout_timeout: float = 2.0, ping_timeout: float = 0.5
    ) -> None:
        self._pool = pool
        self._checkout_timeout = checkout_timeout
        # Readiness probes give up after about a second (Kubernetes' default):
        # answer 503 before that rather than time out.
        self._ping_timeout = ping_timeout
        self._schema_ready = False
        self._schema_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings) -> PostgresGreetingRepository:
        """Start connecting in the background: the service is alive before the database is."""
        extra: dict[str, object] = {"connect_timeout": 3, "application_name": "hello-service"}
        if settings.database_password is not None:
            extra["password"] = settings.database_password
        pool = ConnectionPool(
            settings.database_url,
            kwargs=extra,
            min_size=1,
            max_size=4,
            open=False,
            # A connection broken by a database restart is replaced, not handed out.
            check=ConnectionPool.check_connection,
            name="hello-service",
        )
        pool.open(wait=False)
        return cls(pool)

    def close(self, timeout: float = 1.0) -> None:
        self._pool.close(timeout=timeout)

    def add(self, *, name: str, message: str) -> Greeting:
        with self._connection() as conn, conn.cursor(row_factory=class_row(Greeting)) as cur:
            cur.execute(
                f"INSERT INTO greetings (name, message) VALUES (%s, %s) RETURNING {_COLUMNS}",  # noqa: S608 - constant column list, values are bound parameters.
                (name, message),
            )
            row = cur.fetchone()
        if row is None:  # pragma: no cover - INSERT ... RETURNING always yields the row.
            raise StorageUnavailableError("INSERT returned no row")
        return row

    def get(self, greeting_id: int) -> Greeting | None:
        with self._connection() as conn, conn.cursor(row_factory=class_row(Greeting)) as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM greetings WHERE id = %s", (greeting_id,))  # noqa: S608 - constant column list.
            return cur.fetchone()

    def recent(self, *, limit: int) -> list[Greeting]:
        with self._connection() as conn, conn.cursor(row_factory=class_row(Greeting)) as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM greetings ORDER BY id DESC LIMIT %s",  # noqa: S608 - constant column list.
                (limit,),
            )
            return cur.fetchall()

    def ping(self) -> None:
        with self._connection(timeout=self._ping_timeout) as conn:
            conn.execute("SELECT 1")

    @contextmanager
    def _connection(
        self, timeout: float | None = None
    ) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
        """A pooled connection with the schema in place; outages become StorageUnavailableError."""
        try:
            with self._pool.connection(timeout=timeout or self._checkout_timeout) as conn:
                self._ensure_schema(conn)
                yield conn
        # PoolTimeout (no connection in time) is an OperationalError too.
        except psycopg.OperationalError as error:
            raise StorageUnavailableError(str(error)) from error

    def _ensure_schema(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        with self._schema_lock:
            if self._schema_ready:
                return
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK_KEY,))
                conn.execute(_SCHEMA)
            self._schema_ready = True
