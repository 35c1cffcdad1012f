"""What the API says it stored is what PostgreSQL holds, and rejected input stores nothing."""

from __future__ import annotations

import uuid
from datetime import datetime

import psycopg

from api_client import Api

Database = psycopg.Connection[tuple[object, ...]]


def _unique_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _rows_named(database: Database, name: str) -> list[tuple[object, ...]]:
    return database.execute(
        "SELECT id, name, message, created_at FROM greetings WHERE name = %s", (name,)
    ).fetchall()


def test_created_greeting_is_one_row_matching_the_response(api: Api, database: Database) -> None:
    name = _unique_name("Ada")

    response = api.post("/greetings", {"name": name})

    assert response.status == 201, response.body
    rows = _rows_named(database, name)
    assert len(rows) == 1
    row_id, row_name, row_message, row_created_at = rows[0]
    assert response.field("id") == row_id
    assert row_name == name
    assert response.field("message") == row_message == f"Hello, {name}!"
    assert isinstance(row_created_at, datetime)
    assert datetime.fromisoformat(str(response.field("created_at"))) == row_created_at


def test_name_is_stored_trimmed(api: Api, database: Database) -> None:
    name = _unique_name("Grace")

    response = api.post("/greetings", {"name": f"  {name}\t"})

    assert response.status == 201, response.body
    assert len(_rows_named(database, name)) == 1


def test_rejected_greeting_writes_nothing(api: Api, database: Database) -> None:
    name = _unique_name("x" * 90)  # 103 characters: over the limit of 100.
    (before,) = database.execute("SELECT count(*) FROM greetings").fetchone() or (0,)

    response = api.post("/greetings", {"name": name})

    assert response.status == 400
    assert _rows_named(database, name) == []
    (after,) = database.execute("SELECT count(*) FROM greetings").fetchone() or (0,)
    assert after == before


def test_fetch_by_id_reads_the_stored_row(api: Api, database: Database) -> None:
    name = _unique_name("Linus")
    created = api.post("/greetings", {"name": name})
    assert created.status == 201, created.body
    greeting_id = created.field("id")
    # A change made in the database is visible through the API: nothing is cached.
    database.execute("UPDATE greetings SET message = %s WHERE id = %s", ("Hi!", greeting_id))

    fetched = api.get(f"/greetings/{greeting_id}")

    assert fetched.status == 200
    assert fetched.field("message") == "Hi!"


def test_listing_returns_stored_rows_newest_first(api: Api, database: Database) -> None:
    created_ids = []
    for index in range(3):
        created = api.post("/greetings", {"name": _unique_name(f"order{index}")})
        assert created.status == 201, created.body
        created_ids.append(created.field("id"))

    listing = api.get("/greetings?limit=100")

    assert listing.status == 200
    greetings = listing.field("greetings")
    assert isinstance(greetings, list)
    listed_ids = [greeting["id"] for greeting in greetings]
    # Other suites may write concurrently: check order and content, not exact neighbours.
    assert listed_ids == sorted(listed_ids, reverse=True)
    assert [i for i in listed_ids if i in created_ids] == created_ids[::-1]
    rows = database.execute("SELECT id, name FROM greetings WHERE id = ANY(%s)", (listed_ids,))
    stored = {row[0]: row[1] for row in rows}
    assert {greeting["id"]: greeting["name"] for greeting in greetings} == stored
