"""Liveness and readiness: what the orchestrator sees."""

from __future__ import annotations

from hello_service.app import HelloApp
from in_memory_greetings import InMemoryGreetings


def test_healthz_is_ok_while_the_process_runs(app: HelloApp) -> None:
    response = app.handle("GET", "/healthz")

    assert response.status == 200
    assert response.body == {"status": "alive"}


def test_healthz_does_not_depend_on_the_database(
    app: HelloApp, repository: InMemoryGreetings
) -> None:
    repository.available = False

    assert app.handle("GET", "/healthz").status == 200
    assert repository.pings == 0


def test_readyz_is_ok_when_the_database_answers(app: HelloApp) -> None:
    response = app.handle("GET", "/readyz")

    assert response.status == 200
    assert response.body == {"status": "ready"}


def test_readyz_fails_when_the_database_is_down(
    app: HelloApp, repository: InMemoryGreetings
) -> None:
    repository.available = False

    response = app.handle("GET", "/readyz")

    assert response.status == 503
    assert response.body == {"status": "database unavailable"}


def test_readyz_fails_at_once_when_draining_even_with_a_healthy_database(
    app: HelloApp, repository: InMemoryGreetings
) -> None:
    app.start_draining()

    response = app.handle("GET", "/readyz")

    assert response.status == 503
    assert response.body == {"status": "draining"}
    assert repository.pings == 0


def test_draining_keeps_serving_requests_already_routed_here(app: HelloApp) -> None:
    app.start_draining()

    assert app.handle("GET", "/healthz").status == 200
    assert app.handle("POST", "/greetings", b'{"name": "Ada"}').status == 201
