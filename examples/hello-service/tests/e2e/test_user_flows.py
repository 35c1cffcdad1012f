"""User journeys through the public API, as a client application would make them."""

from __future__ import annotations

import uuid

from api_client import Api


def _unique_name(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def test_greet_then_find_the_greeting_in_the_list_and_by_its_link(api: Api) -> None:
    name = _unique_name("Ada")

    created = api.post("/greetings", {"name": name})
    assert created.status == 201, created.body
    assert created.field("message") == f"Hello, {name}!"
    location = created.headers["Location"]
    assert location == f"/greetings/{created.field('id')}"

    listing = api.get("/greetings?limit=100")
    assert listing.status == 200
    greetings = listing.field("greetings")
    assert isinstance(greetings, list)
    assert created.body in greetings

    fetched = api.get(location)
    assert fetched.status == 200
    assert fetched.body == created.body


def test_names_in_any_script_round_trip(api: Api) -> None:
    for name in (_unique_name("Zoë"), _unique_name("李小龍"), _unique_name("Ødegaard 🎉")):
        created = api.post("/greetings", {"name": name})
        assert created.status == 201, created.body

        fetched = api.get(f"/greetings/{created.field('id')}")
        assert fetched.field("name") == name
        assert fetched.field("message") == f"Hello, {name}!"


def test_a_mistake_is_explained_and_the_retry_succeeds(api: Api) -> None:
    rejected = api.post("/greetings", {"nmae": "Ada"})
    assert rejected.status == 400
    error = rejected.field("error")
    assert isinstance(error, str)
    assert "nmae" in error

    retried = api.post("/greetings", {"name": _unique_name("Ada")})
    assert retried.status == 201, retried.body


def test_paging_limits_the_list(api: Api) -> None:
    for index in range(2):
        assert api.post("/greetings", {"name": _unique_name(f"page{index}")}).status == 201

    page = api.get("/greetings?limit=2")
    assert page.status == 200
    greetings = page.field("greetings")
    assert isinstance(greetings, list)
    assert len(greetings) == 2

    too_large = api.get("/greetings?limit=1000")
    assert too_large.status == 400


def test_unknown_greeting_and_unknown_route_are_not_found(api: Api) -> None:
    missing = api.get("/greetings/999999999999")
    assert missing.status == 404
    assert "999999999999" in str(missing.field("error"))

    unknown = api.get("/no-such-page")
    assert unknown.status == 404


def test_wrong_method_names_the_allowed_ones(api: Api) -> None:
    response = api.post("/healthz", {})

    assert response.status == 405
    assert response.headers["Allow"] == "GET"
