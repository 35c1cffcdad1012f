"""Value types: parsed once where they enter (an argument, a config key), then carried as types.

Each has one grammar, the same for every function that takes one, matched
against the whole string (a trailing newline from a shell capture is
refused, never let through). ``parse`` raises :class:`InputError` naming the
argument and the fix; past it, a :class:`CommitId` or an :class:`ImageRef`
is known good and nothing re-checks it.

- :class:`CommitId`: a full 40-hex commit id, lowercased.
- :class:`Digest`: ``sha256:`` and 64 lowercase hex digits.
- :class:`ImageRef`: an OCI image reference with a tag, a digest or both.
- :class:`Branch`: a branch name as git allows it (``git check-ref-format``) and
  the slugs made from it (tags, namespaces), unique per raw name.
- :class:`AwsRegion`: an AWS region name such as ``eu-west-1``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from pipelines.errors import InputError

_COMMIT = re.compile(r"[0-9a-fA-F]{40}")
SHORT_COMMIT = 7

_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# Something digest-shaped, to tell a bad digest from a tag in messages.
_DIGEST_LIKE = re.compile(r"[a-z0-9]+:[0-9a-fA-F]+|sha256:.*", re.DOTALL)

# The OCI distribution grammar (distribution/reference), without IPv6 hosts:
#   name      := [domain "/"] path ; domain := host [":" port]
#   path      := component ("/" component)* ; component := [a-z0-9]+ (separator [a-z0-9]+)*
#   separator := "_" | "__" | "." | "-"+
#   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
# As Docker reads it, the first part names a registry only when it looks like
# a host: it has a dot or a port, or it is "localhost" (else "library/x" would
# be a registry called "library").
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})+(?::[0-9]+)?|{_LABEL}:[0-9]+|localhost)"
_COMPONENT = r"[a-z0-9]+(?:(?:_|__|\.|-+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_IMAGE = re.compile(
    rf"(?P<name>(?:(?P<domain>{_DOMAIN})/)?{_COMPONENT}(?:/{_COMPONENT})*)"
    rf"(?::(?P<tag>{_TAG}))?"
    r"(?:@(?P<digest>sha256:[0-9a-f]{64}))?"
)
TAG = re.compile(_TAG)
# Where a name without a registry part is pulled from.
_DEFAULT_REGISTRY = "docker.io"

_REGION = re.compile(r"[a-z]{2}(?:-[a-z]+)+-[0-9]{1,2}")

_NOT_SLUG = re.compile(r"[^a-z0-9]+")
# A slug that is not the branch name itself (lowercased, other characters
# dashed, cut short) ends in a hash of the raw name, so `Feature/Login` and
# `feature-login` get different tags and namespaces. 10 hex digits: finding
# a second name with the same hash takes about 2**40 tries.
_SLUG_HASH = 10
# What a hashed slug ends in; a branch named like that is hashed too, so no
# branch can be named after another branch's hashed slug.
_HASHED_TAIL = re.compile(rf".*-[0-9a-f]{{{_SLUG_HASH}}}")
# git check-ref-format: what no component may hold, and what no name may hold.
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
# The longest slug a tag `<slug>-<sha7>` leaves room for (OCI tags: 128).
MAX_BRANCH_SLUG = 128 - 1 - SHORT_COMMIT


@dataclass(frozen=True)
class CommitId:
    """A full commit id, lowercased: ``0123...cdef`` (40 hex digits)."""

    value: str

    @classmethod
    def parse(cls, text: str, *, argument: str = "sha") -> CommitId:
        if not _COMMIT.fullmatch(text):
            raise InputError(
                argument=argument,
                problem=f"expected a full 40-hex-digit commit id, got {text!r}",
                fix="pass the full commit id, e.g. `--sha=$(git rev-parse HEAD)`",
            )
        return cls(text.lower())

    @property
    def short(self) -> str:
        return self.value[:SHORT_COMMIT]

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Digest:
    """A content digest: ``sha256:`` and 64 lowercase hex digits."""

    value: str

    @classmethod
    def parse(cls, text: str, *, argument: str = "digest") -> Digest:
        if _DIGEST.fullmatch(text):
            return cls(text)
        after_at = text.rsplit("@", 1)[-1]
        if text != text.strip():
            problem = f"{text!r} has spaces or a newline around it"
            fix = "strip it (a cmd:// secret or a shell capture keeps the trailing newline)"
        elif "@" in text and _DIGEST.fullmatch(after_at):
            problem = f"{text!r} is a full image reference"
            fix = f"pass only the digest: --{argument}={after_at}"
        elif _DIGEST_LIKE.fullmatch(after_at):
            problem = f"{text!r} is not a sha256 digest (sha256: and 64 lowercase hex digits)"
            fix = "copy the digest the release pipeline printed for the release candidate"
        else:
            problem = (
                f"{text!r} looks like a tag; staging and prod are promoted by digest only, "
                "since a tag can be moved to another image after review"
            )
            fix = (
                "pass the digest the release pipeline printed for that release candidate "
                "(or `aws ecr describe-images --image-ids imageTag=<tag>`)"
            )
        raise InputError(argument=argument, problem=problem, fix=fix)

    @property
    def hex(self) -> str:
        return self.value.removeprefix("sha256:")

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class ImageRef:
    """``[registry/]repository[:tag][@sha256:...]`` with a tag, a digest or both."""

    # The registry (when named) and the repository path, e.g. ``host/team/app``.
    name: str
    tag: str | None = None
    digest: Digest | None = None

    @classmethod
    def parse(cls, text: str, *, argument: str = "image") -> ImageRef:
        match = _IMAGE.fullmatch(text)
        if match is None or not (match["tag"] or match["digest"]):
            raise InputError(
                argument=argument,
                problem=f"{text!r} is not an image reference with a tag or digest",
                fix=f"pass e.g. --{argument}=123456789012.dkr.ecr.eu-west-1.amazonaws.com/"
                "hello-service@sha256:<64 hex> (what publish printed; a digest pins exactly "
                "one image)",
            )
        digest = Digest(match["digest"]) if match["digest"] else None
        return cls(name=match["name"], tag=match["tag"], digest=digest)

    @classmethod
    def pinned(cls, published: str) -> ImageRef:
        """What a registry answered a push with (``repo:tag@sha256:...``), digest required."""
        ref = cls.parse(published.strip(), argument="image")
        if ref.digest is None:
            raise ValueError(f"the registry returned {published!r}, which has no digest")
        return ref

    @property
    def registry(self) -> str:
        match = _IMAGE.fullmatch(self.name)
        domain = match["domain"] if match else None
        return domain or _DEFAULT_REGISTRY

    @property
    def by_digest(self) -> str:
        """``name@sha256:...``: what a deployment pins (the tag dropped)."""
        if self.digest is None:
            raise ValueError(f"{self} has no digest")
        return f"{self.name}@{self.digest}"

    def __str__(self) -> str:
        tag = f":{self.tag}" if self.tag else ""
        digest = f"@{self.digest}" if self.digest else ""
        return f"{self.name}{tag}{digest}"


@dataclass(frozen=True)
class Branch:
    """A branch name as git shows it, and the slugs that name its images and namespaces."""

    name: str

    @classmethod
    def parse(cls, text: str, *, argument: str = "branch") -> Branch:
        name = text.removeprefix("refs/heads/")
        problem = ref_problem(name)
        if problem is None and not _NOT_SLUG.sub("-", name.lower()).strip("-"):
            problem = "has no letters or digits, so it cannot name an image tag or a namespace"
        if problem is not None:
            raise InputError(
                argument=argument,
                problem=f"branch name {text!r} {problem}",
                fix=f"pass the branch name as git shows it, e.g. `--{argument}=feature/abc-123` "
                "(`git check-ref-format --branch NAME` tells whether git accepts it)",
            )
        return cls(name)

    def slug(self, max_length: int = MAX_BRANCH_SLUG) -> str:
        """``feature-login`` -> ``feature-login``; ``Feature/Login`` -> ``feature-login-<hash>``.

        Lowercase, ``[a-z0-9-]``, no leading, trailing or doubled ``-``; at most
        ``max_length`` characters. Unique per raw branch name: a name that is
        its own slug stays as it is, any other ends in 10 hex digits of a
        hash of the name (so two branches never share a namespace, and
        cleaning one up never removes the other's).
        """
        if max_length < _SLUG_HASH + 2:
            raise ValueError(f"max_length {max_length} leaves no room for a slug")
        slug = _NOT_SLUG.sub("-", self.name.lower()).strip("-")
        if slug == self.name and len(slug) <= max_length and not _HASHED_TAIL.fullmatch(slug):
            return slug
        digest = hashlib.sha256(self.name.encode()).hexdigest()[:_SLUG_HASH]
        head = slug[: max_length - _SLUG_HASH - 1].rstrip("-")
        return f"{head}-{digest}"

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class AwsRegion:
    """An AWS region name: ``eu-west-1``, ``us-gov-west-1``."""

    name: str

    @classmethod
    def parse(cls, text: str, *, argument: str = "region") -> AwsRegion:
        problem = region_problem(text)
        if problem is not None:
            raise InputError(argument=argument, problem=problem, fix="write it like eu-west-1")
        return cls(text)

    def __str__(self) -> str:
        return self.name


def ref_problem(name: str) -> str | None:
    """Why git would refuse ``name`` as a branch (``git check-ref-format --branch``), or None.

    Checked before a name reaches a URL path or an argv: ``..`` and ``//``
    would walk out of an API path, a newline would start another argument.
    """
    if not name:
        return "is empty"
    forbidden = _REF_FORBIDDEN.search(name)
    if forbidden is not None:
        return (
            f"contains {forbidden.group()!r}, which git does not allow in a branch name "
            "(no spaces, control characters, ~ ^ : ? * [ \\, '..', '@{' or '//')"
        )
    if name.startswith(("-", "/")) or name.endswith(("/", ".")) or name in ("HEAD", "@"):
        return (
            "is not a branch name git accepts "
            "(it starts with - or /, ends with / or ., or is HEAD or @)"
        )
    if any(part.startswith(".") or part.endswith(".lock") for part in name.split("/")):
        return "has a part that starts with '.' or ends with '.lock', which git does not allow"
    return None


def region_problem(text: str) -> str | None:
    """Why ``text`` is not an AWS region name, or None (for config readers)."""
    return None if _REGION.fullmatch(text) else f"{text!r} is not an AWS region name"


def digest_problem(text: str) -> str | None:
    """Why ``text`` is not a sha256 digest, or None (for config readers)."""
    return None if _DIGEST.fullmatch(text) else f"{text!r} is not a sha256 digest"


def is_digest_pinned(image: str) -> bool:
    """True when ``image`` is a reference that carries a sha256 digest."""
    match = _IMAGE.fullmatch(image)
    return match is not None and match["digest"] is not None
