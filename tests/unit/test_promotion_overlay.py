"""The overlay edit of `promote` (pipelines.promotion.overlay): pins one image by digest.

It changes nothing else. The edit takes a parsed Digest, so a tag never
reaches it: the digest argument's grammar is checked here too.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipelines.errors import ConfigError, InputError
from pipelines.promotion import OVERLAYS, overlay_path, set_overlay_image
from pipelines.values import Digest

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "3f2a" * 16
OTHER_DIGEST = "sha256:" + "b7" * 32
REPOSITORY = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hello-service"


def pin(text: str, image: str = "hello-service", digest: str = DIGEST) -> str:
    return set_overlay_image(
        text, image=image, digest=Digest.parse(digest), file="kustomization.yaml"
    )


def images(text: str) -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in yaml.safe_load(text)["images"]}


def changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    return [line for line in diff if line.startswith(("- ", "+ "))]


# --- overlay_path --------------------------------------------------------------


@pytest.mark.parametrize("environment", ["staging", "prod"])
def test_overlay_path_is_the_environments_kustomization(environment: str) -> None:
    path = overlay_path(environment)

    assert path == f"deploy/overlays/{environment}/kustomization.yaml"
    assert (ROOT / path).is_file()


def test_dev_is_not_promoted_because_image_updater_follows_it() -> None:
    with pytest.raises(InputError) as caught:
        overlay_path("dev")

    assert caught.value.argument == "environment"
    assert "Image Updater" in caught.value.problem
    assert "staging" in caught.value.fix
    assert "prod" in caught.value.fix


@pytest.mark.parametrize(
    ("environment", "hint"),
    [
        ("stagin", 'did you mean "staging"'),
        ("production", "use one of staging, prod"),
        ("local", "use one of staging, prod"),
        ("", "use one of staging, prod"),
    ],
)
def test_unknown_environments_are_refused_with_the_valid_ones(environment: str, hint: str) -> None:
    with pytest.raises(InputError) as caught:
        overlay_path(environment)

    assert caught.value.argument == "environment"
    assert hint in str(caught.value)


# --- digests -------------------------------------------------------------------


def test_a_sha256_digest_is_accepted() -> None:
    assert str(Digest.parse(DIGEST, argument="digest")) == DIGEST


@pytest.mark.parametrize(
    ("digest", "says"),
    [
        ("rc-1.4.0-0a1b2c3", "looks like a tag"),
        ("latest", "looks like a tag"),
        ("feature-login-0a1b2c3", "looks like a tag"),
        (f"{REPOSITORY}:rc-1.4.0-0a1b2c3", "looks like a tag"),
        (f"{REPOSITORY}@{DIGEST}", "full image reference"),
        ("sha256:" + "3F2A" * 16, "not a sha256 digest"),
        ("sha256:" + "3f2a" * 15, "not a sha256 digest"),
        ("sha256:" + "3f2a" * 16 + "0", "not a sha256 digest"),
        ("sha256:" + "g" * 64, "not a sha256 digest"),
        (" " + DIGEST, "spaces or a newline"),
        (DIGEST + "\n", "spaces or a newline"),
        ("sha512:" + "ab" * 64, "not a sha256 digest"),
        (f"{REPOSITORY}@sha256:abc", "not a sha256 digest"),
        ("", "looks like a tag"),
    ],
)
def test_tags_and_malformed_digests_are_refused(digest: str, says: str) -> None:
    with pytest.raises(InputError) as caught:
        Digest.parse(digest, argument="digest")

    assert caught.value.argument == "digest"
    assert says in caught.value.problem


# --- the edit on the real overlays ---------------------------------------------------


@pytest.mark.parametrize("environment", sorted(OVERLAYS))
def test_promoting_a_real_overlay_changes_exactly_its_digest_line(environment: str) -> None:
    before = (ROOT / overlay_path(environment)).read_text(encoding="utf-8")

    after = pin(before)

    entry = images(after)["hello-service"]
    assert entry["digest"] == DIGEST
    assert "newTag" not in entry
    assert entry["newName"] == REPOSITORY
    assert changed_lines(before, after) == [
        f"-     digest: {images(before)['hello-service']['digest']}",
        f"+     digest: {DIGEST}",
    ]
    # Everything else, comments included, is the same YAML.
    rest_before = {k: v for k, v in yaml.safe_load(before).items() if k != "images"}
    assert {k: v for k, v in yaml.safe_load(after).items() if k != "images"} == rest_before


def test_the_dev_overlays_tag_becomes_a_digest_in_place() -> None:
    before = (ROOT / "deploy/overlays/dev/kustomization.yaml").read_text(encoding="utf-8")

    after = pin(before)

    assert changed_lines(before, after) == [
        f"-     newTag: {images(before)['hello-service']['newTag']}",
        f"+     digest: {DIGEST}",
    ]


def test_promoting_twice_is_the_same_as_once_and_a_new_digest_replaces_the_old() -> None:
    before = (ROOT / overlay_path("staging")).read_text(encoding="utf-8")

    once = pin(before)

    assert pin(once) == once
    assert images(pin(once, digest=OTHER_DIGEST))["hello-service"]["digest"] == OTHER_DIGEST
    assert DIGEST not in pin(once, digest=OTHER_DIGEST)


# --- shapes of images: lists -----------------------------------------------------------


def test_only_the_named_entry_changes() -> None:
    before = (
        "images:\n"
        "  - name: hello-service\n"
        f"    newName: {REPOSITORY}\n"
        "    newTag: rc-1.0.0-0a1b2c3\n"
        "  - name: hello-service-candidate\n"
        f"    newName: {REPOSITORY}\n"
        "    newTag: rc-1.1.0-1b2c3d4\n"
    )

    after = pin(before, image="hello-service-candidate")

    assert images(after)["hello-service"] == images(before)["hello-service"]
    assert images(after)["hello-service-candidate"] == {
        "name": "hello-service-candidate",
        "newName": REPOSITORY,
        "digest": DIGEST,
    }


def test_a_tag_on_the_first_line_of_the_entry_keeps_the_dash() -> None:
    before = "images:\n  - newTag: rc-1.0.0-0a1b2c3\n    name: hello-service\n    newName: repo\n"

    assert (
        pin(before)
        == f"images:\n  - digest: {DIGEST}\n    name: hello-service\n    newName: repo\n"
    )


def test_a_tag_and_an_old_digest_leave_one_digest_where_the_first_was() -> None:
    before = (
        "images:\n"
        "- name: hello-service\n"
        "  newTag: rc-1.0.0-0a1b2c3\n"
        "  newName: repo\n"
        f"  digest: {OTHER_DIGEST}\n"
    )

    assert pin(before) == (f"images:\n- name: hello-service\n  digest: {DIGEST}\n  newName: repo\n")


def test_an_entry_without_tag_or_digest_gets_the_digest_after_its_last_key() -> None:
    before = (
        "images:\n"
        "  - name: hello-service\n"
        "    # the registry of every environment\n"
        "    newName: repo\n"
        "\n"
        "# patches come next\n"
        "patches: []\n"
    )

    assert pin(before) == (
        "images:\n"
        "  - name: hello-service\n"
        "    # the registry of every environment\n"
        "    newName: repo\n"
        f"    digest: {DIGEST}\n"
        "\n"
        "# patches come next\n"
        "patches: []\n"
    )


def test_quotes_comments_crlf_and_a_missing_final_newline_survive() -> None:
    before = (
        "# promoted by review\r\n"
        "images:   # pinned by digest\r\n"
        "  - name: 'hello-service'   # the logical name\r\n"
        '    newName: "repo"\r\n'
        "    newTag: rc-1.0.0-0a1b2c3   # was a tag\r\n"
        "resources:\r\n"
        "  - ../../base"
    )

    after = pin(before)

    assert after == before.replace(
        "    newTag: rc-1.0.0-0a1b2c3   # was a tag\r\n", f"    digest: {DIGEST}\r\n"
    )


def test_a_value_continued_on_the_next_line_stays_with_its_key() -> None:
    before = (
        "images:\n  - name: hello-service\n    newName:\n      repo\n    newTag: rc-1.0.0-0a1b2c3\n"
    )

    after = pin(before)

    assert images(after)["hello-service"] == {
        "name": "hello-service",
        "newName": "repo",
        "digest": DIGEST,
    }


# --- files promote refuses to guess at --------------------------------------------------


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("resources:\n  - ../../base\n", "no top-level images"),
        ("images: [{name: hello-service, newTag: x}]\n", "written inline"),
        ("images:\n  - name: other\n    newTag: x\n", "no entry named 'hello-service'"),
        ("images:\n  - name: hello-servce\n    newTag: x\n", 'did you mean "hello-servce"'),
        (
            "images:\n  - name: hello-service\n  - name: hello-service\n",
            "2 entries are named 'hello-service'",
        ),
        ("images:\n  name: hello-service\n", "is not part of a `- name:` item"),
        ("images:\n  - name: hello-service\n   newTag: x\n", "is not a `key: value`"),
        ("images:\n  - name: hello-service\n    - newTag\n", "is not a `key: value`"),
    ],
)
def test_malformed_kustomizations_are_refused_naming_file_and_key(text: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        set_overlay_image(
            text,
            image="hello-service",
            digest=Digest.parse(DIGEST),
            file="deploy/overlays/staging/k.yaml",
        )

    assert caught.value.file == "deploy/overlays/staging/k.yaml"
    assert caught.value.key == "images"
    assert says in caught.value.problem
    assert caught.value.fix
