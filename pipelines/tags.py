"""The image tag scheme: build once, tag predictably, refuse bad tags early.

- Test images (dev pipeline): ``<branch-slug>-<sha7>``.
- Release candidates (release pipeline): a configurable template, by default
  ``rc-{version}-{sha7}``.
- ``latest`` only when asked for explicitly: a moving tag hides what runs.

Every function validates its inputs and raises :class:`InputError` naming the
argument before any build or push starts.
"""

from __future__ import annotations

import hashlib
import re
import string

from pipelines.errors import InputError

MAX_TAG_LENGTH = 128
# The OCI distribution spec's tag grammar.
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_SHA = re.compile(r"^[0-9a-fA-F]{40}$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SHORT_SHA = 7
# A truncated slug ends in a hash of the full name, so two long branches that
# share a prefix still get different tags and namespaces.
_HASH_LENGTH = 6

DEFAULT_RELEASE_TEMPLATE = "rc-{version}-{sha7}"
TEMPLATE_FIELDS = ("version", "sha7", "sha")
LATEST = "latest"


def validate_sha(sha: str, *, argument: str = "sha") -> str:
    """A full 40-hex commit id, lowercased."""
    if not _SHA.match(sha):
        raise InputError(
            argument=argument,
            problem=f"expected a full 40-hex-digit commit id, got {sha!r}",
            fix="pass the full commit id, e.g. `--sha=$(git rev-parse HEAD)`",
        )
    return sha.lower()


def validate_tag(tag: str, *, argument: str = "tag", allow_latest: bool = False) -> str:
    """A tag that an OCI registry accepts, and not ``latest`` unless allowed."""
    if not _TAG.match(tag):
        raise InputError(
            argument=argument,
            problem=f"{tag!r} is not a valid image tag (at most {MAX_TAG_LENGTH} characters "
            "of letters, digits, '_', '.', '-'; not starting with '.' or '-')",
            fix="use a tag like rc-1.4.0-1a2b3c4",
        )
    if tag == LATEST and not allow_latest:
        raise InputError(
            argument=argument,
            problem="refusing the moving tag 'latest': it hides which build runs",
            fix="use the commit-based tag; ask for 'latest' explicitly if you really want it",
        )
    return tag


def branch_slug(
    branch: str, *, max_length: int = MAX_TAG_LENGTH - 1 - _SHORT_SHA, argument: str = "branch"
) -> str:
    """``feature/ABC-12_New UI`` -> ``feature-abc-12-new-ui``.

    Lowercase, ``[a-z0-9-]``, no leading, trailing or doubled ``-``; at most
    ``max_length`` characters (a truncated slug ends in a short hash of the
    branch name, to stay unique).
    """
    if max_length < _HASH_LENGTH + 2:
        raise ValueError(f"max_length {max_length} leaves no room for a slug")
    name = branch.removeprefix("refs/heads/")
    slug = _NOT_SLUG.sub("-", name.lower()).strip("-")
    if not slug:
        raise InputError(
            argument=argument,
            problem=f"branch name {branch!r} has no letters or digits, so it cannot name "
            "an image tag or a namespace",
            fix="pass the branch name as git shows it, e.g. `--branch=feature/abc-123`",
        )
    if len(slug) <= max_length:
        return slug
    digest = hashlib.sha256(name.encode()).hexdigest()[:_HASH_LENGTH]
    head = slug[: max_length - _HASH_LENGTH - 1].rstrip("-")
    return f"{head}-{digest}"


def dev_image_tag(branch: str, sha: str) -> str:
    """``<branch-slug>-<sha7>``: the dev pipeline's test image.

    (Not named ``test_image_tag`` so that pytest never collects it.)
    """
    commit = validate_sha(sha)
    tag = f"{branch_slug(branch)}-{commit[:_SHORT_SHA]}"
    return validate_tag(tag, argument="branch")


def template_problem(template: str) -> str | None:
    """Why ``template`` cannot make release tags, or None when it can."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        return f"{template!r} is not a valid template: {error}"
    fields = [(name, spec, conv) for _, name, spec, conv in parsed if name is not None]
    for name, spec, conversion in fields:
        if name not in TEMPLATE_FIELDS:
            known = ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
            return f"unknown placeholder {{{name}}} in {template!r}; use {known}"
        if spec or conversion:
            return f"placeholder {{{name}}} in {template!r} takes no format spec or conversion"
    names = {name for name, _, _ in fields}
    if not names & {"sha7", "sha"}:
        return (
            f"{template!r} has no {{sha7}} or {{sha}}: two builds of one version would "
            "ask for the same tag, which an immutable repository refuses"
        )
    return None


def release_tag(version: str, sha: str, *, template: str = DEFAULT_RELEASE_TEMPLATE) -> str:
    """The release-candidate tag, e.g. ``rc-1.4.0-1a2b3c4``."""
    problem = template_problem(template)
    if problem is not None:
        raise InputError(
            argument="release-tag-template",
            problem=problem,
            fix=f'use a template like "{DEFAULT_RELEASE_TEMPLATE}"',
        )
    commit = validate_sha(sha)
    if not _TAG.match(version):
        raise InputError(
            argument="version",
            problem=f"version {version!r} cannot be part of an image tag "
            "(letters, digits, '_', '.', '-' only)",
            fix="use a version like 1.4.0 or 1.4.0-beta.2 ('+build' metadata is not allowed)",
        )
    tag = template.format(version=version, sha7=commit[:_SHORT_SHA], sha=commit)
    return validate_tag(tag, argument="version")


def release_tags(
    version: str,
    sha: str,
    *,
    template: str = DEFAULT_RELEASE_TEMPLATE,
    include_latest: bool = False,
) -> tuple[str, ...]:
    """The tags a release candidate is pushed with; ``latest`` only if asked."""
    tag = release_tag(version, sha, template=template)
    return (tag, LATEST) if include_latest else (tag,)
