"""Checks on URLs given as arguments, before any work starts."""

from __future__ import annotations

from urllib.parse import urlsplit

from pipelines.errors import InputError


def check_http_url(url: str, *, argument: str) -> str:
    """Return ``url`` without a trailing slash if it is an absolute http(s) URL."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            argument=argument,
            problem=f"{url!r} is not an http(s) URL",
            fix=f"pass an absolute URL such as --{argument}=https://hello.dev.example.com",
        )
    if parts.username or parts.password:
        raise InputError(
            argument=argument,
            problem="the URL carries credentials, which would end up in logs",
            fix="pass the URL without user:password@; give credentials as secrets",
        )
    return url.strip().rstrip("/")
