"""An in-memory GreetingRepository: the unit suite needs no database and no network."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hello_service.greetings import Greeting, StorageUnavailableError

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class InMemoryGreetings:
    """Behaves like the PostgreSQL repository; `available = False` simulates an outage."""

    def __init__(self) -> None:
        self.rows: dict[int, Greeting] = {}
        self.available = True
        self.pings = 0

    def _check(self) -> None:
        if not self.available:
            raise StorageUnavailableError("connection refused")

    def add(self, *, name: str, message: str) -> Greeting:
        self._check()
        greeting_id = len(self.rows) + 1
        greeting = Greeting(
            id=greeting_id,
            name=name,
            message=message,
            created_at=EPOCH + timedelta(seconds=greeting_id),
        )
        self.rows[greeting_id] = greeting
        return greeting

    def get(self, greeting_id: int) -> Greeting | None:
        self._check()
        return self.rows.get(greeting_id)

    def recent(self, *, limit: int) -> list[Greeting]:
        self._check()
        return sorted(self.rows.values(), key=lambda greeting: -greeting.id)[:limit]

    def ping(self) -> None:
        self.pings += 1
        self._check()
