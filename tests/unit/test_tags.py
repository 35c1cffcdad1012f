"""The image tag scheme."""

from __future__ import annotations

import re

import pytest

from pipelines.errors import InputError
from pipelines.tags import (
    MAX_TAG_LENGTH,
    branch_slug,
    dev_image_tag,
    release_tag,
    release_tags,
    template_problem,
    validate_sha,
    validate_tag,
)

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
OCI_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


@pytest.mark.parametrize(
    ("branch", "slug"),
    [
        ("main", "main"),
        ("feature/ABC-12_New UI", "feature-abc-12-new-ui"),
        ("refs/heads/fix//double--dash", "fix-double-dash"),
        ("-_leading.and.trailing_-", "leading-and-trailing"),
        ("Ünïcode-Brånch", "n-code-br-nch"),
    ],
)
def test_branch_slug(branch: str, slug: str) -> None:
    assert branch_slug(branch) == slug


@pytest.mark.parametrize("branch", ["", "///", "-_-", "refs/heads/", "ßüé"])
def test_a_branch_that_slugs_to_nothing_is_refused(branch: str) -> None:
    with pytest.raises(InputError) as caught:
        branch_slug(branch)
    assert caught.value.argument == "branch"
    assert "no letters or digits" in str(caught.value)


def test_long_branches_are_truncated_and_stay_distinct() -> None:
    first = branch_slug("feature/" + "a" * 200 + "-one")
    second = branch_slug("feature/" + "a" * 200 + "-two")
    assert first != second
    assert len(first) == len(second) == MAX_TAG_LENGTH - 8
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", first)


def test_slug_max_length_for_namespaces() -> None:
    slug = branch_slug("feature/" + "x" * 100, max_length=50)
    assert len(slug) <= 50
    assert not slug.endswith("-")


def test_dev_image_tag_is_slug_and_short_sha() -> None:
    assert dev_image_tag("feature/Login", SHA.upper()) == "feature-login-1a2b3c4"


def test_dev_image_tag_never_exceeds_128_characters() -> None:
    tag = dev_image_tag("b" * 500, SHA)
    assert len(tag) <= MAX_TAG_LENGTH
    assert OCI_TAG.match(tag)
    assert tag.endswith("-1a2b3c4")


@pytest.mark.parametrize("sha", ["1a2b3c4", SHA + "0", "g" * 40, "", "HEAD"])
def test_sha_must_be_40_hex(sha: str) -> None:
    with pytest.raises(InputError) as caught:
        validate_sha(sha)
    assert caught.value.argument == "sha"
    assert "git rev-parse HEAD" in caught.value.fix


def test_release_tag_default_template() -> None:
    assert release_tag("1.4.0", SHA) == "rc-1.4.0-1a2b3c4"
    assert release_tags("1.4.0", SHA) == ("rc-1.4.0-1a2b3c4",)


def test_release_tag_custom_template() -> None:
    assert release_tag("2.0.0-beta.1", SHA, template="v{version}_{sha}") == ("v2.0.0-beta.1_" + SHA)


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
