"""What a function was asked to do, checked before any work starts.

The Dagger module parses its arguments into these at its edge, so a wrong
combination (``--url`` with the unit suite, a registry password without an
image, both ``--branch`` and ``--version``) fails in a second with the fix,
and the code past the edge works with known-good values.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.config.checks import SUITES
from pipelines.errors import InputError, did_you_mean
from pipelines.urls import check_http_url
from pipelines.values import Branch, ImageRef


@dataclass(frozen=True, kw_only=True)
class SuiteRequest:
    """One test suite, against the app run as a service or (``url``) a deployment."""

    suite: str
    url: str | None = None

    @classmethod
    def parse(cls, suite: str, url: str | None = None) -> SuiteRequest:
        if suite not in SUITES:
            raise InputError(
                argument="suite",
                problem=f"unknown suite {suite!r}{did_you_mean(suite, SUITES)}",
                fix="use one of " + ", ".join(SUITES),
            )
        if url is None:
            return cls(suite=suite)
        if suite == "unit":
            raise InputError(
                argument="url",
                problem="unit tests run in the toolchain, not against a deployment",
                fix="drop --url, or choose --suite=smoke, integration or e2e",
            )
        return cls(suite=suite, url=check_http_url(url, argument="url"))


@dataclass(frozen=True, kw_only=True)
class ScanRequest:
    """Scan the image built from the source, or (``image``) a published one."""

    image: ImageRef | None = None
    registry_username: str = "AWS"

    @classmethod
    def parse(
        cls, image: str | None, *, registry_username: str = "AWS", has_password: bool = False
    ) -> ScanRequest:
        if image is not None:
            return cls(image=ImageRef.parse(image), registry_username=registry_username)
        if has_password:
            raise InputError(
                argument="registry-password",
                problem="a registry password only makes sense with --image",
                fix="add --image=<registry>/<repository>@sha256:... or drop the password",
            )
        return cls(registry_username=registry_username)


@dataclass(frozen=True, kw_only=True)
class TestImage:
    """A feature branch's test image, ``<branch-slug>-<sha7>`` in the test repository."""

    # Not collected by pytest, though its name starts with "Test".
    __test__ = False
    branch: Branch


@dataclass(frozen=True, kw_only=True)
class ReleaseCandidate:
    """A release candidate of ``version`` in the release repository."""

    version: str


PublishTarget = TestImage | ReleaseCandidate


def publish_target(*, branch: str | None, version: str | None) -> PublishTarget:
    """A test image (``--branch``) or a release candidate (``--version``): exactly one."""
    if branch is not None and version is None:
        return TestImage(branch=Branch.parse(branch))
    if version is not None and branch is None:
        return ReleaseCandidate(version=version)
    raise InputError(
        argument="branch",
        problem="say what to publish: a test image (--branch) or a release (--version), not both",
        fix="pass --branch=$BRANCH for the dev pipeline, or --version=1.4.0 for a release",
    )
