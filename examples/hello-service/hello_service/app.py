"""HTTP routes as plain functions of (method, path, body): no sockets, easy to unit-test."""

from __future__ import annotations

import json
import logging
import re
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from hello_service.greetings import (
    MAX_NAME_LENGTH,
    GreetingRepository,
    StorageUnavailableError,
    message_for,
)

logger = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
_GREETING_PATH = re.compile(r"/greetings/(?P<id>[1-9][0-9]{0,17})")

# A route handler takes the query string and the request body.
Handler = Callable[[str, bytes], "Response"]


@dataclass(frozen=True, kw_only=True)
class Response:
    status: int
    body: object
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def _error(status: int, message: str, **headers: str) -> Response:
    return Response(status=status, body={"error": message}, headers=headers)


class BadRequestError(Exception):
    """The client sent something the API cannot accept; the message says what."""


class HelloApp:
    def __init__(self, repository: GreetingRepository) -> None:
        self._repository = repository
        self._draining = threading.Event()

    @property
    def draining(self) -> bool:
        return self._draining.is_set()

    def start_draining(self) -> None:
        """From now on /readyz fails, so load balancers stop sending new traffic."""
        self._draining.set()

    def handle(self, method: str, target: str, body: bytes = b"") -> Response:
        url = urlsplit(target)
        route = self._route(url.path)
        if route is None:
            return _error(404, f"no route for {url.path}")
        handler = route.get(method)
        if handler is None:
            return _error(
                405, f"{method} is not allowed on {url.path}", Allow=", ".join(sorted(route))
            )
        try:
            return handler(url.query, body)
        except BadRequestError as error:
            return _error(400, str(error))
        except StorageUnavailableError:
            logger.warning("database unavailable while serving %s %s", method, url.path)
            return _error(503, "database unavailable, retry later", **{"Retry-After": "1"})
        # The request boundary: a bug answers 500 instead of dropping the connection.
        except Exception:
            logger.exception("unexpected error while serving %s %s", method, url.path)
            return _error(500, "internal error")

    def _route(self, path: str) -> dict[str, Handler] | None:
        """The handlers of a path by HTTP method, or None for an unknown path."""
        if path == "/healthz":
            return {"GET": self._healthz}
        if path == "/readyz":
            return {"GET": self._readyz}
        if path == "/greetings":
            return {"GET": self._list, "POST": self._create}
        match = _GREETING_PATH.fullmatch(path)
        if match is not None:
            greeting_id = int(match["id"])
            return {"GET": lambda _query, _body: self._greeting(greeting_id)}
        return None

    def _healthz(self, _query: str, _body: bytes) -> Response:
        return Response(status=200, body={"status": "alive"})

    def _readyz(self, _query: str, _body: bytes) -> Response:
        if self.draining:
            return Response(status=503, body={"status": "draining"})
        try:
            self._repository.ping()
        except StorageUnavailableError:
            return Response(status=503, body={"status": "database unavailable"})
        return Response(status=200, body={"status": "ready"})

    def _create(self, _query: str, body: bytes) -> Response:
        name = _parse_name(body)
        greeting = self._repository.add(name=name, message=message_for(name))
        return Response(
            status=201,
            body=greeting.to_json(),
            headers={"Location": f"/greetings/{greeting.id}"},
        )

    def _list(self, query: str, _body: bytes) -> Response:
        limit = _parse_limit(query)
        greetings = self._repository.recent(limit=limit)
        return Response(status=200, body={"greetings": [g.to_json() for g in greetings]})

    def _greeting(self, greeting_id: int) -> Response:
        greeting = self._repository.get(greeting_id)
        if greeting is None:
            return _error(404, f"greeting {greeting_id} does not exist")
        return Response(status=200, body=greeting.to_json())


def _parse_name(body: bytes) -> str:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadRequestError('body is not JSON: send {"name": "Ada"}') from None
    if not isinstance(document, dict):
        raise BadRequestError('body must be a JSON object such as {"name": "Ada"}')
    unknown = sorted(set(document) - {"name"})
    if unknown:
        raise BadRequestError(f"unknown field(s) {', '.join(unknown)}: only 'name' is accepted")
    name = document.get("name")
    if not isinstance(name, str):
        raise BadRequestError("'name' is required and must be a string")
    name = name.strip()
    if not name:
        raise BadRequestError("'name' must not be blank")
    if len(name) > MAX_NAME_LENGTH:
        raise BadRequestError(f"'name' is longer than {MAX_NAME_LENGTH} characters")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise BadRequestError("'name' must not contain control or invisible format characters")
    return name


def _parse_limit(query: str) -> int:
    values = parse_qs(query).get("limit")
    if not values:
        return DEFAULT_PAGE_SIZE
    raw = values[-1]
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise BadRequestError(f"'limit' must be an integer from 1 to {MAX_PAGE_SIZE}")
    return int(raw)
