"""Checks on URLs given as arguments or config keys, before any work starts.

``urllib.parse`` raises ``ValueError`` for some malformed URLs (an unclosed
IPv6 bracket, ``[zz]``, a port above 65535): :func:`split_url` turns that into
a problem to report, so a bad URL is an error naming the argument, never a
traceback.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

from pipelines.errors import InputError

# Hosts an http:// API URL may name: a forge run on this machine (tests, a
# local mirror). Anything else must be https, or the token crosses the network
# in clear text.
_LOOPBACK_NAMES = frozenset({"localhost"})


def split_url(url: str) -> tuple[SplitResult | None, str | None]:
    """``url`` split, with its port checked; or None and why it cannot be read as a URL."""
    try:
        parts = urlsplit(url)
        # .port parses lazily and raises for a port that is not 0-65535.
        _ = parts.port
    except ValueError as error:
        return None, f"{url!r} is not a valid URL ({error})"
    return parts, None


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_http_url(url: str, *, argument: str) -> str:
    """Return ``url`` without a trailing slash if it is an absolute http(s) URL."""
    parts, problem = split_url(url.strip())
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(
            argument=argument,
            problem=problem or f"{url!r} is not an http(s) URL",
            fix=f"pass an absolute URL such as --{argument}=https://hello.dev.example.com",
        )
    if parts.username or parts.password:
        raise InputError(
            argument=argument,
            problem="the URL carries credentials, which would end up in logs",
            fix="pass the URL without user:password@; give credentials as secrets",
        )
    return url.strip().rstrip("/")


def api_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a forge's API base URL, or None.

    https only (plain http on loopback aside: the token would travel in clear
    text), no ``user:password@`` (it would be quoted in every error and log
    line that names the URL), no query or fragment (paths are appended to it).
    The problem never repeats a password the URL carries.
    """
    parts, problem = split_url(url)
    if parts is None:
        return problem
    if parts.username is not None or parts.password is not None:
        shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
        return (
            f"the URL carries a user name or password before {shown!r}, which would end up "
            "in errors and logs (the token is passed as a secret, never in the URL)"
        )
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        return f"{url!r} is not an https base URL (no query or fragment)"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return (
            f"{url!r} is plain http, which would send the token in clear text "
            "(http is accepted only for a forge on this machine: localhost, 127.0.0.1, [::1])"
        )
    return None
