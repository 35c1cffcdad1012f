"""Fixtures shared by the suites that run against a deployed service.

Smoke, integration and e2e tests learn where the service is from BASE_URL
alone (the integration suite also reads DATABASE_URL to check rows), so the
same tests run against a local process, a compose stack, a Dagger service or
a cluster.
"""

from __future__ import annotations

import os

import pytest

from api_client import Api


@pytest.fixture(scope="session")
def base_url() -> str:
    url = os.environ.get("BASE_URL", "").strip()
    if not url:
        pytest.fail(
            "BASE_URL is not set: point it at the running service, e.g. "
            "BASE_URL=http://127.0.0.1:8080 pytest tests/smoke"
        )
    if not url.startswith(("http://", "https://")):
        pytest.fail(f"BASE_URL={url!r} must start with http:// or https://")
    return url


@pytest.fixture(scope="session")
def api(base_url: str) -> Api:
    return Api(base_url)
