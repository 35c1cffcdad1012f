"""Forge clients pointed at a real HTTP server on loopback, and a sleep that records.

Shared by the tests of commit statuses, promotion and branch protection: one
token to look for in every message (it must never appear), and the backoff
recorded instead of waited out.
"""

from __future__ import annotations

from typing import Any

from pytest_httpserver import HTTPServer

from pipelines.forge import RetryPolicy
from pipelines.forge.github import GitHubForge
from pipelines.forge.gitlab import GitLabForge

TOKEN = "sentinel-token-5f3a9c"


class Sleeps:
    """Records the backoff instead of waiting it out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def _connection(sleeps: Sleeps, retry: dict[str, float]) -> dict[str, Any]:
    return {"token": TOKEN, "retry": RetryPolicy(**retry), "sleep": sleeps}  # type: ignore[arg-type]


def github(server: HTTPServer, sleeps: Sleeps, **retry: float) -> GitHubForge:
    """GitHub Enterprise on the loopback server (API under /api/v3/)."""
    api_url = server.url_for("/api/v3/")
    return GitHubForge(
        repository="acme/hello-service", api_url=api_url, **_connection(sleeps, retry)
    )


def gitlab(server: HTTPServer, sleeps: Sleeps, **retry: float) -> GitLabForge:
    """Self-managed GitLab on the loopback server (API under /api/v4)."""
    api_url = server.url_for("/api/v4")
    project = "acme/platform/hello-service"
    return GitLabForge(project=project, api_url=api_url, **_connection(sleeps, retry))
