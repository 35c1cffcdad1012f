"""Unit fixtures: the app over an in-memory repository."""

from __future__ import annotations

import pytest

from hello_service.app import HelloApp
from in_memory_greetings import InMemoryGreetings


@pytest.fixture
def repository() -> InMemoryGreetings:
    return InMemoryGreetings()


@pytest.fixture
def app(repository: InMemoryGreetings) -> HelloApp:
    return HelloApp(repository)
