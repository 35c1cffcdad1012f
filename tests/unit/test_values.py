"""Value types: one grammar each, matched against the whole string."""

from __future__ import annotations

import hashlib
import re

import pytest

from pipelines.errors import InputError
from pipelines.values import (
    MAX_BRANCH_SLUG,
    AwsRegion,
    Branch,
    CommitId,
    Digest,
    ImageRef,
    is_digest_pinned,
)

SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
DIGEST = "sha256:" + "ab" * 32
REGISTRY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"


# --- commit ids ---------------------------------------------------------------------


def test_a_commit_id_is_lowercased_and_has_a_short_form() -> None:
    commit = CommitId.parse(SHA.upper())
    assert commit.value == SHA
    assert commit.short == "1a2b3c4"
    assert str(commit) == SHA


@pytest.mark.parametrize("sha", ["1a2b3c4", SHA + "0", "g" * 40, "", "HEAD", SHA + "\n"])
def test_a_commit_id_must_be_exactly_40_hex(sha: str) -> None:
    with pytest.raises(InputError) as caught:
        CommitId.parse(sha)
    assert caught.value.argument == "sha"
    assert caught.value.fix is not None
    assert "git rev-parse HEAD" in caught.value.fix


def test_the_argument_is_named_in_the_error() -> None:
    with pytest.raises(InputError, match="argument --commit"):
        CommitId.parse("x", argument="commit")


# --- digests ------------------------------------------------------------------------


def test_a_digest_parses_and_exposes_its_hex() -> None:
    digest = Digest.parse(DIGEST)
    assert str(digest) == DIGEST
    assert digest.hex == "ab" * 32


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (DIGEST + "\n", "spaces or a newline"),
        (f"{REGISTRY}/app@{DIGEST}", "full image reference"),
        ("sha256:" + "AB" * 32, "not a sha256 digest"),
        ("sha512:" + "ab" * 64, "not a sha256 digest"),
        ("rc-1.4.0-1a2b3c4", "looks like a tag"),
    ],
)
def test_a_bad_digest_says_what_it_looks_like(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=re.escape(problem)) as caught:
        Digest.parse(text)
    assert caught.value.argument == "digest"


# --- image references ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "name", "tag", "digest", "registry"),
    [
        (f"{REGISTRY}/hello@{DIGEST}", f"{REGISTRY}/hello", None, DIGEST, REGISTRY),
        (
            f"{REGISTRY}/team/hello:rc-1-abc@{DIGEST}",
            f"{REGISTRY}/team/hello",
            "rc-1-abc",
            DIGEST,
            REGISTRY,
        ),
        ("localhost:5000/app:1", "localhost:5000/app", "1", None, "localhost:5000"),
        ("alpine:3.20", "alpine", "3.20", None, "docker.io"),
        ("library/alpine:3.20", "library/alpine", "3.20", None, "docker.io"),
        ("ghcr.io/a/b__c.d-e:t", "ghcr.io/a/b__c.d-e", "t", None, "ghcr.io"),
    ],
)
def test_image_references_follow_the_oci_grammar(
    text: str, name: str, tag: str | None, digest: str | None, registry: str
) -> None:
    ref = ImageRef.parse(text)
    assert ref.name == name
    assert ref.tag == tag
    assert (str(ref.digest) if ref.digest else None) == digest
    assert ref.registry == registry
    assert str(ref) == text


@pytest.mark.parametrize(
    "text",
    [
        f"{REGISTRY}/hello",  # neither tag nor digest: not pinned to anything
        f"{REGISTRY}/Hello:1",  # repository paths are lowercase
        f"https://{REGISTRY}/hello:1",
        f"{REGISTRY}/hello:1\n",
        f"{REGISTRY}/hello@sha256:abc",
        f"{REGISTRY}/hello:-bad",
        "",
        f"{REGISTRY}//hello:1",
    ],
)
def test_a_malformed_image_reference_is_refused(text: str) -> None:
    with pytest.raises(InputError) as caught:
        ImageRef.parse(text)
    assert caught.value.argument == "image"


def test_a_pinned_reference_drops_its_tag_for_deployments() -> None:
    ref = ImageRef.pinned(f"{REGISTRY}/hello:rc-1@{DIGEST}\n")
    assert ref.by_digest == f"{REGISTRY}/hello@{DIGEST}"
    with pytest.raises(ValueError, match="no digest"):
        ImageRef.pinned(f"{REGISTRY}/hello:rc-1")


def test_is_digest_pinned() -> None:
    assert is_digest_pinned(f"docker.io/library/postgres:16@{DIGEST}")
    assert not is_digest_pinned("docker.io/library/postgres:16")
    assert not is_digest_pinned(f"docker.io/library/postgres:16@{DIGEST}\n")


# --- branches -----------------------------------------------------------------------


def slug_hash(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:10]


@pytest.mark.parametrize(
    ("branch", "slug"),
    [
        # A name that is its own slug stays as it is.
        ("main", "main"),
        ("feature-abc-12", "feature-abc-12"),
        ("refs/heads/release-2026", "release-2026"),
        # Any other gets a hash of the raw name.
        ("feature/ABC-12_New.UI", "feature-abc-12-new-ui-96ee86bb71"),
        ("refs/heads/fix/double--dash", "fix-double-dash-" + slug_hash("fix/double--dash")),
        ("_leading.and.trailing_-", "leading-and-trailing-1652afcb40"),
        ("Ünïcode-Brånch", "n-code-br-nch-1f5a21b511"),
    ],
)
def test_branch_slug(branch: str, slug: str) -> None:
    assert Branch.parse(branch).slug() == slug


@pytest.mark.parametrize(
    "names",
    [
        ("Feature/Login", "feature-login", "feature/login", "FEATURE-LOGIN", "feature_login"),
        # A branch named after another's hashed slug does not get that slug.
        ("Feature/Login", "feature-login-1ce27709f2"),
    ],
)
def test_branches_that_differ_get_different_slugs(names: tuple[str, ...]) -> None:
    # One namespace each, and cleaning one up never removes another's.
    slugs = {Branch.parse(name).slug() for name in names}
    namespaces = {Branch.parse(name).slug(32) for name in names}
    assert len(slugs) == len(namespaces) == len(names)


def test_refs_heads_is_dropped_from_the_name() -> None:
    assert Branch.parse("refs/heads/feature/x").name == "feature/x"


@pytest.mark.parametrize("branch", ["_", "_._", "ßüé", "_-_"])
def test_a_branch_that_slugs_to_nothing_is_refused(branch: str) -> None:
    with pytest.raises(InputError) as caught:
        Branch.parse(branch)
    assert caught.value.argument == "branch"
    assert "no letters or digits" in str(caught.value)


# What `git check-ref-format --branch` refuses (tests/integration/test_git_ref_rules.py
# holds the same list to git itself).
BAD_REFS = [
    ("", "is empty"),
    ("refs/heads/", "is empty"),
    ("main\n", "contains '\\n'"),
    ("feat\tx", "contains '\\t'"),
    ("a\x00b", "contains '\\x00'"),
    ("a\x7fb", "contains '\\x7f'"),
    ("a b", "contains ' '"),
    ("../../x", "contains '..'"),
    ("a..b", "contains '..'"),
    ("a~1", "contains '~'"),
    ("a^b", "contains '^'"),
    ("a:b", "contains ':'"),
    ("a?b", "contains '?'"),
    ("a*b", "contains '*'"),
    ("a[b", "contains '['"),
    ("a\\b", "contains '\\\\'"),
    ("a@{b", "contains '@{'"),
    ("fix//x", "contains '//'"),
    ("-x", "starts with -"),
    ("/x", "starts with -"),
    ("x/", "starts with -"),
    ("x.", "starts with -"),
    ("@", "starts with -"),
    ("HEAD", "starts with -"),
    (".x", "starts with '.'"),
    ("a/.x", "starts with '.'"),
    ("x.lock", "ends with '.lock'"),
    ("a/x.lock/b", "ends with '.lock'"),
]


@pytest.mark.parametrize(("branch", "says"), BAD_REFS)
def test_a_branch_git_would_refuse_is_refused(branch: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        Branch.parse(branch)
    assert caught.value.argument == "branch"
    assert says in caught.value.problem
    assert "git check-ref-format" in caught.value.fix


def test_long_branches_are_truncated_and_stay_distinct() -> None:
    first = Branch.parse("feature/" + "a" * 200 + "-one").slug()
    second = Branch.parse("feature/" + "a" * 200 + "-two").slug()
    assert first != second
    assert len(first) == len(second) == MAX_BRANCH_SLUG
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", first)


def test_slug_max_length_for_namespaces() -> None:
    slug = Branch.parse("feature/" + "x" * 100).slug(max_length=50)
    assert len(slug) <= 50
    assert not slug.endswith("-")


def test_a_slug_too_short_to_be_unique_is_a_bug_not_a_user_error() -> None:
    with pytest.raises(ValueError, match="no room"):
        Branch.parse("main").slug(max_length=3)


# --- regions ------------------------------------------------------------------------


@pytest.mark.parametrize("region", ["eu-west-1", "us-gov-west-1", "ap-southeast-12"])
def test_regions(region: str) -> None:
    assert AwsRegion.parse(region).name == region


@pytest.mark.parametrize("region", ["eu-west", "EU-WEST-1", "eu-west-1\n", "euwest1", ""])
def test_a_bad_region_is_refused(region: str) -> None:
    with pytest.raises(InputError, match="not an AWS region name"):
        AwsRegion.parse(region)


@pytest.mark.parametrize("text", ["UPPER/case:tag", "Library/alpine:3"])
def test_a_first_part_that_is_no_host_must_be_a_lowercase_path(text: str) -> None:
    with pytest.raises(InputError):
        ImageRef.parse(text)
