"""The greetings API over an in-memory repository: status codes, bodies, validation."""

from __future__ import annotations

import json

import pytest

from hello_service.app import MAX_PAGE_SIZE, HelloApp
from hello_service.greetings import MAX_NAME_LENGTH
from in_memory_greetings import InMemoryGreetings


def _post(app: HelloApp, document: object) -> tuple[int, object]:
    response = app.handle("POST", "/greetings", json.dumps(document).encode())
    return response.status, response.body


def test_create_returns_the_stored_greeting_and_its_link(
    app: HelloApp, repository: InMemoryGreetings
) -> None:
    response = app.handle("POST", "/greetings", b'{"name": "Ada"}')

    assert response.status == 201
    assert response.body == {
        "id": 1,
        "name": "Ada",
        "message": "Hello, Ada!",
        "created_at": "2026-01-01T00:00:01+00:00",
    }
    assert response.headers["Location"] == "/greetings/1"
    assert repository.rows[1].name == "Ada"


def test_create_trims_surrounding_whitespace(app: HelloApp) -> None:
    status, body = _post(app, {"name": "  Grace \n"})

    assert status == 201
    assert body["name"] == "Grace"  # type: ignore[index]


def test_the_response_body_is_utf8_json(app: HelloApp) -> None:
    response = app.handle("POST", "/greetings", json.dumps({"name": "Zoë"}).encode())

    assert json.loads(response.encode().decode("utf-8"))["message"] == "Hello, Zoë!"


@pytest.mark.parametrize(
    ("body", "expected_error"),
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b'["Ada"]', "JSON object"),
        (b"{}", "'name' is required"),
        (b'{"name": 42}', "must be a string"),
        (b'{"name": null}', "must be a string"),
        (b'{"name": "   "}', "must not be blank"),
        (b'{"name": "Ada", "admin": true}', "unknown field(s) admin"),
        (b'{"name": "A\\u0000da"}', "control"),
        (b'{"name": "A\\u202eda"}', "control"),
    ],
)
def test_invalid_input_is_refused_with_the_reason(
    app: HelloApp, repository: InMemoryGreetings, body: bytes, expected_error: str
) -> None:
    response = app.handle("POST", "/greetings", body)

    assert response.status == 400
    assert expected_error in response.body["error"]  # type: ignore[index]
    assert repository.rows == {}


def test_name_length_limit_is_inclusive(app: HelloApp) -> None:
    assert _post(app, {"name": "x" * MAX_NAME_LENGTH})[0] == 201
    assert _post(app, {"name": "x" * (MAX_NAME_LENGTH + 1)})[0] == 400


def test_list_is_newest_first_and_limited(app: HelloApp) -> None:
    for name in ("Ada", "Grace", "Linus"):
        _post(app, {"name": name})

    response = app.handle("GET", "/greetings?limit=2")

    assert response.status == 200
    names = [greeting["name"] for greeting in response.body["greetings"]]  # type: ignore[index]
    assert names == ["Linus", "Grace"]


def test_list_of_nothing_is_empty(app: HelloApp) -> None:
    assert app.handle("GET", "/greetings").body == {"greetings": []}


@pytest.mark.parametrize("limit", ["0", "-1", "abc", str(MAX_PAGE_SIZE + 1), "1.5"])
def test_bad_limit_is_refused(app: HelloApp, limit: str) -> None:
    response = app.handle("GET", f"/greetings?limit={limit}")

    assert response.status == 400
    assert "limit" in response.body["error"]  # type: ignore[index]


def test_get_one_greeting(app: HelloApp) -> None:
    _post(app, {"name": "Ada"})

    assert app.handle("GET", "/greetings/1").body["name"] == "Ada"  # type: ignore[index]
    assert app.handle("GET", "/greetings/2").status == 404


@pytest.mark.parametrize("path", ["/greetings/0", "/greetings/abc", "/greetings/1/x", "/", "/x"])
def test_unknown_paths_are_not_found(app: HelloApp, path: str) -> None:
    assert app.handle("GET", path).status == 404


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/greetings", "GET, POST"),
        ("POST", "/healthz", "GET"),
        ("PUT", "/greetings/1", "GET"),
    ],
)
def test_wrong_method_lists_the_allowed_ones(
    app: HelloApp, method: str, path: str, allowed: str
) -> None:
    response = app.handle(method, path)

    assert response.status == 405
    assert response.headers["Allow"] == allowed


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/greetings", b'{"name": "Ada"}'),
        ("GET", "/greetings", b""),
        ("GET", "/greetings/1", b""),
    ],
)
def test_database_outage_is_a_retryable_503(
    app: HelloApp, repository: InMemoryGreetings, method: str, path: str, body: bytes
) -> None:
    repository.available = False

    response = app.handle(method, path, body)

    assert response.status == 503
    assert response.headers["Retry-After"] == "1"


def test_an_unexpected_error_is_a_500_without_details(
    app: HelloApp, repository: InMemoryGreetings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_: object) -> list[object]:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(repository, "recent", broken)

    response = app.handle("GET", "/greetings")

    assert response.status == 500
    assert response.body == {"error": "internal error"}
