"""What each environment runs: digests where releases are promoted, release candidates in dev."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence

from pipelines.tags import dev_image_tag, release_tag
from pipelines.values import Branch, CommitId, is_digest_pinned
from pipelines_cli.deploy_checks.environments import PROMOTED_ENVIRONMENTS
from pipelines_cli.deploy_checks.manifests import Document, name_of
from pipelines_cli.deploy_checks.problems import problem

# The tag scheme of pipelines/tags.py: release candidates, pushed by the
# release pipeline on merge to main, are what DEV follows; feature-branch
# test images must never reach it (they also live in a repository of their
# own, `<repository>-test`, which Image Updater does not watch).
# Anchored for Argo CD (its allowTags regexp is searched, in Go); Python code
# matches it with fullmatch, since `$` would let a trailing newline through.
RELEASE_CANDIDATE_TAG = re.compile(r"^rc-.+-[0-9a-f]{7}$")
_SAMPLE_SHA = CommitId.parse("0a1b2c3d4e5f60718293a4b5c6d7e8f901234567")
RELEASE_CANDIDATE_SAMPLES = (
    release_tag("1.4.0", _SAMPLE_SHA),
    release_tag("2.0.0-beta.1", _SAMPLE_SHA),
    release_tag("0.1.0", CommitId.parse("f" * 40)),
)
FEATURE_TAG_SAMPLES = (
    dev_image_tag(Branch.parse("feature/login"), _SAMPLE_SHA),
    dev_image_tag(Branch.parse("fix/ABC-12_rc.parser"), _SAMPLE_SHA),
    dev_image_tag(Branch.parse("main"), _SAMPLE_SHA),
)
NEVER_FOLLOW_SAMPLES = ("latest", "rc-1.4.0-0a1b2c3d", "rc-1.4.0-0A1B2C3", "rc--0a1b2c3")


def _images(documents: Iterable[Document]) -> Iterator[tuple[str, str]]:
    for document in documents:
        spec = document.get("spec") or {}
        template = spec.get("template") or {}
        pod_spec = template.get("spec") or {}
        for group in ("initContainers", "containers"):
            for container in pod_spec.get(group) or []:
                yield f"{document.get('kind')}/{name_of(document)}", str(container.get("image"))


def image_tag(image: str) -> str | None:
    """The tag of an image reference; None for a digest or no tag."""
    last = image.rsplit("/", 1)[-1]
    return last.split(":", 1)[1] if ":" in last and "@" not in last else None


def check_images(documents: Sequence[Document], *, environment: str) -> list[str]:
    """Staging and prod run digests only; dev runs release candidates."""
    problems = []
    for where, image in _images(documents):
        if is_digest_pinned(image):
            continue
        if environment in PROMOTED_ENVIRONMENTS:
            problems.append(
                problem(
                    f"{where}: image {image} is not pinned by digest: {environment} runs only "
                    "what was promoted",
                    fix=f"dagger call --source=. promote --environment={environment} "
                    "--digest=sha256:...",
                )
            )
            continue
        tag = image_tag(image)
        if tag is None or not RELEASE_CANDIDATE_TAG.fullmatch(tag):
            problems.append(
                problem(
                    f"{where}: image {image} is neither a digest nor a release-candidate tag "
                    f"matching {RELEASE_CANDIDATE_TAG.pattern}",
                    fix="let Image Updater set it, or write an rc-<version>-<sha7> tag",
                )
            )
    return problems
