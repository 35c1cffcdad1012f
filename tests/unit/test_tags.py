"""The image tag scheme."""

from __future__ import annotations

import re

import pytest

from pipelines.errors import InputError
from pipelines.tags import (
    MAX_TAG_LENGTH,
    dev_image_tag,
    release_tag,
    release_tags,
    template_problem,
    validate_tag,
)
from pipelines.values import Branch, CommitId

SHA = CommitId.parse("1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d")
OCI_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def test_dev_image_tag_is_slug_and_short_sha() -> None:
    upper = CommitId.parse(SHA.value.upper())
    assert dev_image_tag(Branch.parse("feature/Login"), upper) == "feature-login-48fad0826e-1a2b3c4"


def test_dev_image_tag_never_exceeds_128_characters() -> None:
    tag = dev_image_tag(Branch.parse("b" * 500), SHA)
    assert len(tag) <= MAX_TAG_LENGTH
    assert OCI_TAG.match(tag)
    assert tag.endswith("-1a2b3c4")


def test_release_tag_default_template() -> None:
    assert release_tag("1.4.0", SHA) == "rc-1.4.0-1a2b3c4"
    assert release_tags("1.4.0", SHA) == ("rc-1.4.0-1a2b3c4",)


def test_release_tag_custom_template() -> None:
    assert release_tag("2.0.0-beta.1", SHA, template="v{version}_{sha}") == (
        "v2.0.0-beta.1_" + SHA.value
    )


def test_latest_only_when_asked() -> None:
    assert "latest" not in release_tags("1.0.0", SHA)
    assert release_tags("1.0.0", SHA, include_latest=True) == ("rc-1.0.0-1a2b3c4", "latest")
    with pytest.raises(InputError, match="refusing the moving tag 'latest'"):
        validate_tag("latest")
    assert validate_tag("latest", allow_latest=True) == "latest"


@pytest.mark.parametrize("version", ["1.0.0+build.5", "", "-1", "1 0", "é"])
def test_a_version_that_cannot_be_in_a_tag_is_refused(version: str) -> None:
    with pytest.raises(InputError) as caught:
        release_tag(version, SHA)
    assert caught.value.argument == "version"


def test_a_version_that_makes_the_tag_too_long_is_refused() -> None:
    with pytest.raises(InputError, match="not a valid image tag"):
        release_tag("1" * 120, SHA)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("rc-{version}", "has no {sha7} or {sha}"),
        ("rc-{ver}-{sha7}", "unknown placeholder {ver}"),
        ("rc-{version!r}-{sha7}", "takes no format spec"),
        ("rc-{sha7:>10}", "takes no format spec"),
        ("rc-{version-{sha7}", "not a valid template"),
    ],
)
def test_bad_templates_are_explained(template: str, problem: str) -> None:
    message = template_problem(template)
    assert message is not None
    assert problem in message
    with pytest.raises(InputError, match=re.escape(problem)):
        release_tag("1.0.0", SHA, template=template)


@pytest.mark.parametrize("tag", [".hidden", "-dash", "a" * 129, "has space", "sl/ash", "ü"])
def test_oci_tag_grammar(tag: str) -> None:
    with pytest.raises(InputError, match="not a valid image tag"):
        validate_tag(tag)


@pytest.mark.parametrize("tag", ["_ok", "a", "A.b-c_d", "a" * 128])
def test_valid_tags_pass(tag: str) -> None:
    assert validate_tag(tag) == tag
