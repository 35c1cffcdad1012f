"""A tiny JSON-over-HTTP client on the standard library, for the suites that run
against a deployed service (smoke, integration, e2e)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message

import pytest

REQUEST_TIMEOUT_SECONDS = 10


@dataclass(frozen=True, kw_only=True)
class ApiResponse:
    status: int
    headers: Message
    body: object

    def field(self, *keys: str | int) -> object:
        """Dig into the JSON body, failing with the whole body shown when a key is absent."""
        value = self.body
        for key in keys:
            try:
                value = value[key]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                pytest.fail(f"response body has no {keys!r}: {self.body!r}")
        return value


class Api:
    """Requests against BASE_URL; HTTP errors come back as responses, not exceptions."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def get(self, path: str) -> ApiResponse:
        return self._request("GET", path, None)

    def post(self, path: str, document: object) -> ApiResponse:
        return self._request("POST", path, json.dumps(document).encode("utf-8"))

    def post_raw(self, path: str, body: bytes) -> ApiResponse:
        return self._request("POST", path, body)

    def _request(self, method: str, path: str, body: bytes | None) -> ApiResponse:
        request = urllib.request.Request(
            self.base_url + path,
            data=body,
            method=method,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as reply:
                return _response(reply.status, reply.headers, reply.read())
        except urllib.error.HTTPError as error:
            with error:
                return _response(error.code, error.headers, error.read())


def _response(status: int, headers: Message, raw: bytes) -> ApiResponse:
    try:
        body = json.loads(raw) if raw else None
    except json.JSONDecodeError:
        pytest.fail(f"HTTP {status}: body is not JSON: {raw[:200]!r}")
    return ApiResponse(status=status, headers=headers, body=body)
