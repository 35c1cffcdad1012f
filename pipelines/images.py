"""Checks on image references given as arguments."""

from __future__ import annotations

import re

from pipelines.errors import InputError

# registry[:port]/path[:tag][@sha256:digest], as the OCI distribution spec
# spells names (lowercase path components).
_REFERENCE = re.compile(
    r"^(?P<name>[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*)"
    r"(:(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(@(?P<digest>sha256:[0-9a-f]{64}))?$"
)


def check_image_ref(ref: str, *, argument: str) -> str:
    """Return ``ref`` if it is a valid image reference, else an InputError with the fix."""
    match = _REFERENCE.match(ref)
    if not match or not (match.group("tag") or match.group("digest")):
        raise InputError(
            argument=argument,
            problem=f"{ref!r} is not an image reference with a tag or digest",
            fix=f"pass e.g. --{argument}=123456789012.dkr.ecr.eu-west-1.amazonaws.com/"
            "hello-service@sha256:<64 hex> (a digest pins exactly what was scanned)",
        )
    return ref
