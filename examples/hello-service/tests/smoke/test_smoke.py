"""Is the deployment up and wired? Seconds, not minutes: run right after every deploy."""

from __future__ import annotations

from api_client import Api


def test_process_is_alive(api: Api) -> None:
    response = api.get("/healthz")

    assert response.status == 200
    assert response.field("status") == "alive"


def test_service_is_ready_with_its_database(api: Api) -> None:
    response = api.get("/readyz")

    assert response.status == 200, f"not ready: {response.body!r}"
    assert response.field("status") == "ready"


def test_greetings_endpoint_answers_from_the_database(api: Api) -> None:
    response = api.get("/greetings?limit=1")

    assert response.status == 200, response.body
    assert isinstance(response.field("greetings"), list)
