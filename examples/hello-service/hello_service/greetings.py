"""The greeting model and the storage contract the HTTP layer relies on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

MAX_NAME_LENGTH = 100


@dataclass(frozen=True, kw_only=True)
class Greeting:
    id: int
    name: str
    message: str
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "message": self.message,
            "created_at": self.created_at.isoformat(),
        }


def message_for(name: str) -> str:
    return f"Hello, {name}!"


class StorageUnavailableError(Exception):
    """The database did not answer; the request may be retried later."""


class GreetingRepository(Protocol):
    """Where greetings live. Every method raises StorageUnavailableError on outage."""

    def add(self, *, name: str, message: str) -> Greeting: ...

    def get(self, greeting_id: int) -> Greeting | None: ...

    def recent(self, *, limit: int) -> list[Greeting]: ...

    def ping(self) -> None:
        """Return when the storage answers queries; raise StorageUnavailableError if not."""
        ...
