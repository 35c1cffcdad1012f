"""The image tag scheme: build once, tag predictably, refuse bad tags early.

- Test images (dev pipeline): ``<branch-slug>-<sha7>``.
- Release candidates (release pipeline): a configurable template, by default
  ``rc-{version}-{sha7}``.
- ``latest`` only when asked for explicitly: a moving tag hides what runs.

Commit ids and branches arrive parsed (:mod:`pipelines.values`); versions
and templates are checked here and raise :class:`InputError` naming the
argument before any build or push starts.
"""

from __future__ import annotations

import string

from pipelines.errors import InputError
from pipelines.values import TAG, Branch, CommitId

MAX_TAG_LENGTH = 128

DEFAULT_RELEASE_TEMPLATE = "rc-{version}-{sha7}"
TEMPLATE_FIELDS = ("version", "sha7", "sha")
LATEST = "latest"


def validate_tag(tag: str, *, argument: str = "tag", allow_latest: bool = False) -> str:
    """A tag that an OCI registry accepts, and not ``latest`` unless allowed."""
    if not TAG.fullmatch(tag):
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


def dev_image_tag(branch: Branch, commit: CommitId) -> str:
    """``<branch-slug>-<sha7>``: the dev pipeline's test image.

    (Not named ``test_image_tag`` so that pytest never collects it.)
    """
    return validate_tag(f"{branch.slug()}-{commit.short}", argument="branch")


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


def release_tag(version: str, commit: CommitId, *, template: str = DEFAULT_RELEASE_TEMPLATE) -> str:
    """The release-candidate tag, e.g. ``rc-1.4.0-1a2b3c4``."""
    problem = template_problem(template)
    if problem is not None:
        raise InputError(
            argument="release-tag-template",
            problem=problem,
            fix=f'use a template like "{DEFAULT_RELEASE_TEMPLATE}"',
        )
    if not TAG.fullmatch(version):
        raise InputError(
            argument="version",
            problem=f"version {version!r} cannot be part of an image tag "
            "(letters, digits, '_', '.', '-' only)",
            fix="use a version like 1.4.0 or 1.4.0-beta.2 ('+build' metadata is not allowed)",
        )
    tag = template.format(version=version, sha7=commit.short, sha=commit.value)
    return validate_tag(tag, argument="version")


def release_tags(
    version: str,
    commit: CommitId,
    *,
    template: str = DEFAULT_RELEASE_TEMPLATE,
    include_latest: bool = False,
) -> tuple[str, ...]:
    """The tags a release candidate is pushed with; ``latest`` only if asked."""
    tag = release_tag(version, commit, template=template)
    return (tag, LATEST) if include_latest else (tag,)
